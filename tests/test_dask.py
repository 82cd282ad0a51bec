"""Grid search over skmf on a Dask cluster, through joblib's ``dask`` backend.

As docs/scaling.md shows: a ``LocalCluster`` of two worker processes with one
thread each runs the fits of ``GridSearchCV(n_jobs=-1)``, each fit's OpenMP
kernels keep to one thread there (Dask's nanny starts every worker process
with ``OMP_NUM_THREADS=1``), and the results are those of a serial search.
"""

import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from skmf._solvers._openmp_helpers import max_threads

from skmf import MatrixFactorization
from skmf.datasets import make_ratings

distributed = pytest.importorskip(
    "distributed",
    reason="the Dask tests need the 'dask' extra: pip install 'dask[distributed]'",
)

GRID = [
    {"solver": ["als"], "n_components": [2, 5], "alpha": [0.05, 0.5]},
    {"solver": ["sgd"], "n_components": [2, 5], "learning_rate": [0.01, 0.03]},
]


@pytest.fixture(scope="module")
def client():
    # Starting worker processes also sets OMP_NUM_THREADS=1 (and more) in this
    # process's environment, which later tests' subprocesses would inherit.
    environ = dict(os.environ)
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(300, 200, 6000, random_state=0)


def _search(**params):
    model = MatrixFactorization(max_iter=5, random_state=0, **params)
    return GridSearchCV(model, GRID, scoring="neg_root_mean_squared_error", cv=3)


def test_kernels_use_one_thread_in_worker_processes(client):
    budgets = client.run(max_threads)
    assert len(budgets) == 2 and set(budgets.values()) == {1}


def test_grid_search_on_dask_equals_serial(client, ratings):
    X, y = ratings
    # SGD's blocking depends on the number of threads: the serial reference
    # uses one, as each fit does on the workers.
    serial = _search(n_jobs=1).fit(X, y)
    search = _search().set_params(n_jobs=-1)
    with (
        joblib.parallel_backend("dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        search.fit(X, y)
    assert tasks.data, "no task ran on the cluster"
    workers = set(client.scheduler_info()["workers"])
    assert {task["worker"] for task in tasks.data} <= workers
    results = search.cv_results_
    assert len(results["params"]) == 8
    for key in ["mean_test_score", *(f"split{i}_test_score" for i in range(3))]:
        np.testing.assert_array_equal(results[key], serial.cv_results_[key])
    assert search.best_params_ == serial.best_params_
    assert search.best_score_ == serial.best_score_


def test_threads_of_the_client_process_are_not_limited():
    # A cluster of threads in this process (processes=False) gets no such
    # limit: each fit would take all of OpenMP's threads, hence the advice of
    # n_jobs=1 in the documentation for such clusters.
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        budget = client.submit(max_threads, pure=False).result()
    assert budget == max_threads()


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)"
)
def test_explicit_n_jobs_is_not_capped_by_omp_num_threads():
    # The documentation's way to give each fit several threads on workers
    # started with OMP_NUM_THREADS=1: an explicit n_jobs. OpenMP keeps its
    # threads after a parallel region, so the process has one more thread.
    code = (
        "import os\n"
        "from skmf import MatrixFactorization\n"
        "from skmf.datasets import make_ratings\n"
        "X, y = make_ratings(200, 100, 2000, random_state=0)\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        "MatrixFactorization(n_jobs=2, solver='als', max_iter=1).fit(X, y)\n"
        "print(len(os.listdir('/proc/self/task')) - before)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 1
