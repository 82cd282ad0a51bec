"""The distributed fit (skmf.dask) on a two-worker LocalCluster.

Every fit here is compared with the local model fitted with the same seed:
the distributed fit runs the same kernels on blocks of rows, so the factors
and the training loss must agree to float32 rounding whatever the number of
blocks, and survive a worker killed in the middle of the fit.
"""

import os
import pickle
import signal
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmf import (
    ImplicitMatrixFactorization,
    MatrixFactorization,
    load_model,
    save_model,
)
from skmf.datasets import make_ratings

distributed = pytest.importorskip(
    "distributed",
    reason="the Dask tests need the 'dask' extra: pip install 'dask[distributed]'",
)
dd = pytest.importorskip("dask.dataframe")

from dask.utils import key_split  # noqa: E402

from skmf.dask import (  # noqa: E402
    DaskImplicitMatrixFactorization,
    DaskMatrixFactorization,
)

# float32 factors after a few sweeps: the distributed fit differs from the
# local one only where its mean of the ratings (summed per partition) rounds
# differently in the last bit.
RTOL, ATOL = 1e-4, 1e-5
SWEEPS = 4


def _cluster():
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )


@pytest.fixture(scope="module")
def client():
    # Starting worker processes sets OMP_NUM_THREADS=1 (and more) in this
    # process's environment, which later tests' subprocesses would inherit.
    environ = dict(os.environ)
    try:
        with _cluster() as cluster, distributed.Client(cluster) as client:
            yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def ratings():
    X, y = make_ratings(300, 200, 6000, random_state=0)
    # String user ids: the id tables are built on the workers and must sort
    # as a local fit sorts them.
    frame = pd.DataFrame({"user": [f"u{u}" for u in X[:, 0]], "item": X[:, 1]})
    return frame, y


def _ddf(frame, y, npartitions=3):
    both = frame.assign(rating=y)
    ddf = dd.from_pandas(both, npartitions=npartitions, sort=False)
    return ddf[["user", "item"]], ddf["rating"]


def _assert_same_fit(dist, local):
    np.testing.assert_array_equal(dist.users_, local.users_)
    np.testing.assert_array_equal(dist.items_, local.items_)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        if hasattr(local, name):
            np.testing.assert_allclose(
                getattr(dist, name), getattr(local, name), rtol=RTOL, atol=ATOL
            )
    np.testing.assert_allclose(dist.loss_curve_, local.loss_curve_, rtol=1e-6)
    assert dist.n_iter_ == local.n_iter_


def _rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


@pytest.mark.parametrize("cg_steps", [None, 3], ids=["exact", "cg"])
@pytest.mark.parametrize("n_blocks", [1, 2, 7])
def test_distributed_als_equals_local_fit(client, ratings, cg_steps, n_blocks):
    frame, y = ratings
    params = dict(n_components=6, cg_steps=cg_steps, max_iter=SWEEPS, random_state=0)
    local = MatrixFactorization(solver="als", **params).fit(frame, y)
    dist = DaskMatrixFactorization(n_blocks=n_blocks, **params)
    dist.fit(*_ddf(frame, y))
    assert dist.n_blocks_ == (n_blocks, n_blocks)
    _assert_same_fit(dist, local)
    assert dist.intercept_ == pytest.approx(local.intercept_, rel=1e-12)
    assert dist.rating_range_ == local.rating_range_
    np.testing.assert_array_equal(dist.item_popularity_, local.item_popularity_)
    assert _rmse(dist, frame, y) == pytest.approx(_rmse(local, frame, y), rel=1e-6)


def test_blocks_get_only_the_rows_they_name(client):
    # Three ratings a user: an item block names about a third of each user
    # block's rows, and gets only those, picked out where they are (Spark
    # MLlib's out-blocks); it must still solve its rows as the local fit does.
    X, y = make_ratings(2000, 300, 6000, random_state=2)
    frame = pd.DataFrame({"user": X[:, 0], "item": X[:, 1]})
    params = dict(n_components=5, cg_steps=3, max_iter=SWEEPS, random_state=0)
    local = MatrixFactorization(solver="als", **params).fit(frame, y)
    dist = DaskMatrixFactorization(n_blocks=7, **params)
    with distributed.get_task_stream(client) as stream:
        dist.fit(*_ddf(frame, y))
    _assert_same_fit(dist, local)
    picked = [t for t in stream.data if key_split(t["key"]) == "rows_of"]
    # Most of the 7 x 7 pairs of item block and user block, every sweep.
    assert len(picked) > 7 * 7 * SWEEPS // 2


@pytest.mark.parametrize("cg_steps", [None, 3], ids=["exact", "cg"])
@pytest.mark.parametrize("n_blocks", [1, 2, 7])
def test_distributed_implicit_als_equals_local_fit(client, ratings, cg_steps, n_blocks):
    frame, y = ratings
    # Repeated pairs must add up across partitions, as they do locally.
    frame = pd.concat([frame, frame.iloc[:500]], ignore_index=True)
    counts = np.concatenate([y, y[:500]])
    params = dict(
        n_components=6, cg_steps=cg_steps, max_iter=SWEEPS, random_state=0, alpha=0.1
    )
    local = ImplicitMatrixFactorization(**params).fit(frame, counts)
    dist = DaskImplicitMatrixFactorization(n_blocks=n_blocks, **params)
    dist.fit(*_ddf(frame, counts, npartitions=4))
    _assert_same_fit(dist, local)
    np.testing.assert_array_equal(dist.item_popularity_, local.item_popularity_)
    assert dist.score(frame.iloc[:300]) == pytest.approx(
        local.score(frame.iloc[:300]), abs=1e-9
    )


def test_in_memory_input_is_fitted_like_a_local_one(client, ratings):
    frame, y = ratings
    params = dict(n_components=4, max_iter=3, random_state=1)
    local = MatrixFactorization(solver="als", **params).fit(frame, y)
    dist = DaskMatrixFactorization(n_blocks=2, **params).fit(frame, y)
    _assert_same_fit(dist, local)
    # A plain array works too, as for the local model.
    dist_array = DaskMatrixFactorization(n_blocks=2, **params)
    dist_array.fit(frame.to_numpy(), y)
    assert dist_array.n_features_in_ == 2


def test_parquet_input(client, ratings, tmp_path):
    frame, y = ratings
    frame.assign(rating=y).to_parquet(tmp_path / "part.0.parquet")
    frame.iloc[:1000].assign(rating=y[:1000]).to_parquet(tmp_path / "part.1.parquet")
    ddf = dd.read_parquet(tmp_path)
    both = pd.concat(
        [frame.assign(rating=y), frame.iloc[:1000].assign(rating=y[:1000])]
    )
    params = dict(n_components=4, max_iter=3, random_state=0)
    local = MatrixFactorization(solver="als", **params)
    local.fit(both[["user", "item"]], both["rating"])
    dist = DaskMatrixFactorization(n_blocks=2, **params)
    dist.fit(ddf[["user", "item"]], ddf["rating"])
    _assert_same_fit(dist, local)


def test_predict_is_dask_in_dask_out(client, ratings):
    frame, y = ratings
    X, y_dask = _ddf(frame, y)
    dist = DaskMatrixFactorization(n_components=4, max_iter=2, random_state=0)
    dist.fit(X, y_dask)
    unknown = pd.DataFrame({"user": ["nobody", "u1"], "item": [0, 10**9]})
    pairs = dd.concat([X, dd.from_pandas(unknown, npartitions=1)])
    predicted = dist.predict(pairs)
    assert isinstance(predicted, dd.Series)
    local = dist.to_local()
    expected = local.predict(pd.concat([frame, unknown]))
    np.testing.assert_array_equal(predicted.compute().to_numpy(), expected)
    # In-memory input gives an array, as the local model does.
    np.testing.assert_array_equal(dist.predict(frame), local.predict(frame))


def test_to_local_is_a_plain_fitted_model(client, ratings, tmp_path):
    frame, y = ratings
    dist = DaskMatrixFactorization(n_components=4, max_iter=2, random_state=0)
    dist.fit(*_ddf(frame, y))
    local = dist.to_local()
    assert type(local) is MatrixFactorization
    assert (
        local.get_params()
        == MatrixFactorization(
            n_components=4, max_iter=2, random_state=0, solver="als"
        ).get_params()
    )
    reference = MatrixFactorization(
        n_components=4, solver="als", max_iter=2, random_state=0
    ).fit(frame, y)
    # Recommending leaves out the training pairs, which came from the blocks.
    ids, _ = local.recommend(["u0", "u5"], n=5)
    expected, _ = reference.recommend(["u0", "u5"], n=5)
    np.testing.assert_array_equal(ids, expected)
    assert (local._seen != reference._seen).nnz == 0
    restored = pickle.loads(pickle.dumps(local))
    np.testing.assert_array_equal(restored.predict(frame), local.predict(frame))
    save_model(local, tmp_path / "model.skmf")
    loaded = load_model(tmp_path / "model.skmf")
    np.testing.assert_array_equal(loaded.predict(frame), local.predict(frame))

    implicit = DaskImplicitMatrixFactorization(n_components=4, max_iter=2)
    implicit.fit(*_ddf(frame, y))
    assert type(implicit.to_local()) is ImplicitMatrixFactorization
    assert not hasattr(implicit, "predict")


def test_client_is_no_parameter_and_is_not_pickled(client, ratings):
    frame, y = ratings
    dist = DaskMatrixFactorization(n_components=3, max_iter=2, random_state=0)
    dist.client = client
    assert "client" not in dist.get_params()
    assert clone(dist).client is None
    dist.fit(*_ddf(frame, y))
    restored = pickle.loads(pickle.dumps(dist))
    assert restored.client is None
    assert "_user_blocks" not in vars(restored)
    # The pickle kept what to_local needs, without the cluster.
    np.testing.assert_array_equal(
        restored.to_local().recommend(["u3"], n=4)[0],
        dist.to_local().recommend(["u3"], n=4)[0],
    )


def test_grid_search_one_candidate_at_a_time(client, ratings):
    frame, y = ratings
    grid = {"alpha": [0.05, 0.5]}
    params = dict(n_components=3, max_iter=2, random_state=0)
    search = GridSearchCV(DaskMatrixFactorization(n_blocks=2, **params), grid, cv=2)
    search.fit(frame, y)
    local = GridSearchCV(MatrixFactorization(solver="als", **params), grid, cv=2)
    local.fit(frame, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        rtol=1e-5,
    )
    assert search.best_params_ == local.best_params_


def test_bad_input_is_named(client, ratings):
    frame, y = ratings
    bad = y.astype(float).copy()
    bad[4000] = np.nan
    with pytest.raises(ValueError, match="In partition 2 .*NaN or infinite"):
        DaskMatrixFactorization(max_iter=1).fit(*_ddf(frame, bad))
    missing = frame.astype({"user": object}).copy()
    missing.loc[10, "user"] = None
    with pytest.raises(ValueError, match="missing id"):
        DaskMatrixFactorization(max_iter=1).fit(*_ddf(missing, y))
    X, y_dask = _ddf(frame, y)
    with pytest.raises(ValueError, match="partitions"):
        DaskMatrixFactorization(max_iter=1).fit(X, y_dask.repartition(npartitions=2))
    with pytest.raises(TypeError, match="Dask Series"):
        DaskMatrixFactorization(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="two columns"):
        DaskMatrixFactorization(max_iter=1).fit(X.assign(extra=1), y_dask)
    with pytest.raises(ValueError, match="sample_weight"):
        DaskMatrixFactorization(max_iter=1).fit(frame, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="alpha > 0"):
        DaskMatrixFactorization(alpha=0, max_iter=1).fit(frame, y)
    negative = -np.abs(y.astype(float))
    with pytest.raises(ValueError, match="non-negative"):
        DaskImplicitMatrixFactorization(max_iter=1).fit(*_ddf(frame, negative))


def test_fit_without_a_client_says_how_to_start_one(ratings):
    frame, y = ratings
    code = (
        "import numpy as np\n"
        "from skmf.dask import DaskMatrixFactorization\n"
        "DaskMatrixFactorization(max_iter=1).fit([[0, 1], [1, 0]], [1.0, 2.0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "needs a Dask client" in result.stderr


def test_import_skmf_does_not_import_dask_and_skmf_dask_names_the_extra():
    code = (
        "import sys\n"
        "import skmf\n"
        "assert 'dask' not in sys.modules and 'distributed' not in sys.modules\n"
        "sys.modules['distributed'] = None\n"
        "try:\n"
        "    import skmf.dask\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'skmf[dask]'" in result.stdout


def _fit_killing_workers(client, X, y, kill_at, kill_all=False, **params):
    """Fit, SIGKILLing nanny-managed workers as each sweep of kill_at runs.

    The kill comes once the sweep's tasks are submitted, while they run: one
    worker, or with ``kill_all`` every worker at once.
    """
    from skmf import dask as skmf_dask

    original = skmf_dask._DaskHalfSweeps._collect
    killed = []

    def collect(solver, futures):
        sweep = solver.n_sweeps + 1
        if sweep in kill_at and sweep not in killed:
            killed.append(sweep)
            # The workers killed before are back.
            client.wait_for_workers(2, timeout=60)
            pids = sorted(client.run(os.getpid).values())
            for pid in pids if kill_all else pids[:1]:
                os.kill(pid, signal.SIGKILL)
        return original(solver, futures)

    model = DaskMatrixFactorization(**params)
    outcome = {}

    def run():
        try:
            outcome["model"] = model.fit(X, y)
        except BaseException as exc:  # reported by the test thread
            outcome["error"] = exc

    skmf_dask._DaskHalfSweeps._collect = collect
    try:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        # A bound, not a timing: the undisturbed fit takes about a second.
        thread.join(timeout=120)
    finally:
        skmf_dask._DaskHalfSweeps._collect = original
    assert not thread.is_alive(), "the fit did not recover from the killed workers"
    if "error" in outcome:
        raise outcome["error"]
    assert killed == sorted(kill_at)
    return outcome["model"]


@pytest.fixture
def kill_cluster():
    environ = dict(os.environ)
    try:
        with _cluster() as cluster, distributed.Client(cluster) as client:
            yield client
            client.wait_for_workers(2, timeout=60)
    finally:
        os.environ.clear()
        os.environ.update(environ)


KILL_PARAMS = dict(
    n_components=8, max_iter=7, random_state=0, n_blocks=4, checkpoint_interval=3
)


def _assert_same_factors(model, reference):
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name))
    assert model.loss_curve_ == reference.loss_curve_


def test_fit_survives_killed_workers(kill_cluster):
    X, y = make_ratings(400, 300, 20000, random_state=1)
    reference = DaskMatrixFactorization(**KILL_PARAMS).fit(X, y)
    # The factors live on the workers between checkpoints: a lost worker's
    # blocks are recomputed from the other's results, back to the factors
    # rooted at the last checkpoint (sweeps 1, 4 and 7 start from one).
    model = _fit_killing_workers(kill_cluster, X, y, kill_at=[2, 6], **KILL_PARAMS)
    _assert_same_factors(model, reference)


def test_fit_survives_losing_every_worker_from_its_checkpoint(kill_cluster):
    X, y = make_ratings(400, 300, 20000, random_state=1)
    reference = DaskMatrixFactorization(**KILL_PARAMS).fit(X, y)
    # Every worker killed during sweep 6: no result of the fit survives, so
    # everything is recomputed from the factors rooted at the checkpoint of
    # sweep 4 (held by the scheduler) and from the input: two sweeps again.
    model = _fit_killing_workers(
        kill_cluster, X, y, kill_at=[6], kill_all=True, **KILL_PARAMS
    )
    _assert_same_factors(model, reference)


def test_interrupted_fit_cancels_its_tasks(client, ratings, monkeypatch):
    from skmf import dask as skmf_dask

    frame, y = ratings
    original = skmf_dask._DaskHalfSweeps._collect
    interrupted = []

    def collect(solver, futures):
        if solver.n_sweeps == 1:
            interrupted.extend(solver._submitted)
            raise KeyboardInterrupt
        return original(solver, futures)

    monkeypatch.setattr(skmf_dask._DaskHalfSweeps, "_collect", collect)
    model = DaskMatrixFactorization(n_components=3, max_iter=3, n_blocks=2)
    with pytest.raises(KeyboardInterrupt):
        model.fit(frame, y)
    # The second sweep's tasks are cancelled: four half-sweeps (two blocks a
    # side) and the small tasks that take their losses.
    blocks = [f for f in interrupted if f.key.startswith("_als_block")]
    assert len(blocks) == 4
    assert all(future.cancelled() for future in interrupted)
    monkeypatch.undo()
    assert (
        DaskMatrixFactorization(n_components=3, max_iter=1).fit(frame, y).n_iter_ == 1
    )
