"""The models the speed benchmark runs: skmf and its peers, behind one interface.

Every runner takes a list of folds, each a dict with a ``train`` and an optional
``test`` triple of arrays ``(users, items, ratings)`` (dense int32 indices and
float32 ratings), plus the runner's parameters, and returns a dict::

    {"fits": [{"fit_s": ..., "epoch_s": [...], "rmse": ..., ...}, ...], ...}

with one entry per fold (and per configuration for Spark). ``fit_s`` is the
wall time of the whole fit, data preparation inside the library included;
``epoch_s`` the time of each epoch or sweep when the library lets us see them.
Runners import their library lazily: this module is imported by every worker
process, including the LensKit one, which runs in its own virtual environment.

:data:`PEERS` tells how each peer is installed, so that a missing one is
reported with its install command instead of being dropped.
"""

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Peer:
    """How to find a library: its module, its install command, its interpreter."""

    label: str
    module: str
    install: str
    # Environment variable naming another Python interpreter to run it with
    # (for a peer whose dependencies clash with skmf's, e.g. LensKit's pandas<3).
    python_env: str | None = None

    def python(self):
        """Interpreter that runs this peer."""
        if self.python_env and os.environ.get(self.python_env):
            return os.environ[self.python_env]
        return sys.executable

    def missing(self):
        """None when the peer can run, else the reason, e.g. "missing (pip ...)"."""
        python = self.python()
        if python == sys.executable:
            if importlib.util.find_spec(self.module) is not None:
                return None
        else:
            probe = subprocess.run(
                [python, "-c", f"import {self.module}"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return None
        hint = f"missing ({self.install})"
        if self.python_env and python == sys.executable:
            hint = f"missing ({self.install}, or set {self.python_env})"
        return hint


PEERS = {
    "surprise": Peer("Surprise SVD", "surprise", "pip install scikit-surprise"),
    "spark": Peer(
        "Spark MLlib ALS",
        "pyspark",
        "pip install pyspark pyarrow; needs a Java 17+ runtime",
    ),
    "libmf": Peer("LIBMF", "libmf", "pip install libmf"),
    "implicit": Peer("implicit ALS", "implicit", "pip install implicit"),
    "lenskit": Peer(
        "LensKit BiasedMF (ALS)",
        "lenskit",
        "pip install lenskit in a virtualenv: it needs pandas<3",
        python_env="SKMF_BENCH_LENSKIT_PYTHON",
    ),
    "funk-svd": Peer("funk-svd", "funk_svd", "pip install funk-svd"),
}


def _status_kb(pid, field):
    """A ``kB`` field of /proc/PID/status (e.g. VmHWM, the peak RSS), or 0."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid):
    """Process ids of all the live descendants of ``pid`` (Linux /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The parent id is the 2nd field after the ")" closing the name.
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cpu_seconds(pid):
    """User + system CPU seconds of a live process (Linux /proc), or 0."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb():
    """Peak resident memory of this process plus its live descendants, in MB.

    The sum of each process's own peak (VmHWM): a JVM started by this process
    counts. Falls back to getrusage where /proc is missing.
    """
    if not os.path.exists("/proc/self/status"):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pid = os.getpid()
    kb = _status_kb(pid, "VmHWM") + sum(
        _status_kb(child, "VmHWM") for child in _descendants(pid)
    )
    return kb / 1024


def rmse(predicted, ratings):
    error = np.asarray(predicted, dtype=np.float64) - ratings
    return float(np.sqrt(np.mean(error**2)))


def _clock():
    return time.perf_counter()


# ----------------------------------------------------------------------------
# skmf


@contextlib.contextmanager
def _timed_epochs(times):
    """Record the duration of every solver epoch (one SGD pass or ALS sweep).

    Wraps the solver classes that ``MatrixFactorization`` looks up in the
    private ``skmf._mf._SOLVERS``; without it only the fit time is known.
    """
    from skmf import _mf

    solvers = getattr(_mf, "_SOLVERS", None)
    if not isinstance(solvers, dict):
        yield False
        return

    def timed(cls):
        class Timed(cls):
            def step(self):
                start = _clock()
                result = super().step()
                times.append(_clock() - start)
                return result

        return Timed

    original = dict(solvers)
    solvers.update({name: timed(cls) for name, cls in original.items()})
    try:
        yield True
    finally:
        solvers.clear()
        solvers.update(original)


def run_skmf(folds, params, repeats=1):
    """MatrixFactorization(**params); the best of ``repeats`` fits of each fold."""
    from skmf import MatrixFactorization

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        X = np.column_stack((users, items))
        best = None
        for _ in range(repeats):
            epochs = []
            model = MatrixFactorization(random_state=0, **params)
            with _timed_epochs(epochs):
                start = _clock()
                model.fit(X, ratings)
                fit_s = _clock() - start
            fit = {"fit_s": fit_s, "epoch_s": epochs, "n_iter": model.n_iter_}
            if best is None or fit_s < best["fit_s"]:
                best = fit
        if fold.get("test") is not None:
            t_users, t_items, t_ratings = fold["test"]
            best["rmse"] = rmse(
                model.predict(np.column_stack((t_users, t_items))), t_ratings
            )
        fits.append(best)
    return {"fits": fits}


# ----------------------------------------------------------------------------
# Surprise


def run_surprise(folds, params):
    """Surprise's SVD: trainset build, then SVD(**params).fit."""
    import pandas as pd
    from surprise import SVD, Dataset, Reader

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        start = _clock()
        frame = pd.DataFrame({"user": users, "item": items, "rating": ratings})
        data = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5)))
        trainset = data.build_full_trainset()
        del frame, data
        built = _clock()
        algo = SVD(random_state=0, **params).fit(trainset)
        fitted = _clock()
        fit = {
            "build_s": built - start,
            "fit_s": fitted - built,
            "epoch_s": [(fitted - built) / params.get("n_epochs", 20)],
        }
        if fold.get("test") is not None:
            t_users, t_items, t_ratings = fold["test"]
            predicted = [
                algo.predict(u, i).est
                for u, i in zip(t_users.tolist(), t_items.tolist(), strict=True)
            ]
            fit["rmse"] = rmse(predicted, t_ratings)
        fits.append(fit)
    return {"fits": fits}


# ----------------------------------------------------------------------------
# Spark MLlib


def _spark_frame(spark, users, items, ratings):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "user": users.astype(np.int32),
            "item": items.astype(np.int32),
            "rating": ratings.astype(np.float32),
        }
    )
    return spark.createDataFrame(frame)


def run_spark(folds, configs, reg=0.1, threads=2, driver_memory="8g"):
    """Spark MLlib ALS in ``local[threads]``: one JVM, every fold and config.

    ``configs`` is a list of ``[rank, max_iter]``. The JVM start, the
    DataFrame preparation (cached and counted) and a first, untimed fit of one
    iteration on at most 100K ratings, which warms up the JIT compiler, are
    timed apart from the fits.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = _clock()
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("skmf-benchmark")
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(2 * threads))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    # Without checkpoints the lineage of 20 iterations overflows the JVM's
    # stack when it is serialized; ALS checkpoints every 10 iterations.
    checkpoints = tempfile.mkdtemp(prefix="skmf-bench-spark-")
    spark.sparkContext.setCheckpointDir(checkpoints)
    spark.range(1).count()
    startup_s = _clock() - start

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        t0 = _clock()
        train = _spark_frame(spark, users, items, ratings).cache()
        train.count()
        prep_s = _clock() - t0
        test = None
        if fold.get("test") is not None:
            test = _spark_frame(spark, *fold["test"]).cache()
            test.count()
        mean = float(np.mean(ratings))
        if not fits:
            t0 = _clock()
            ALS(
                rank=configs[0][0],
                maxIter=1,
                regParam=reg,
                userCol="user",
                itemCol="item",
                ratingCol="rating",
                seed=0,
            ).fit(train.limit(100_000)).itemFactors.count()
            warmup_s = _clock() - t0
        for rank, max_iter in configs:
            als = ALS(
                rank=rank,
                maxIter=max_iter,
                regParam=reg,
                userCol="user",
                itemCol="item",
                ratingCol="rating",
                coldStartStrategy="nan",
                seed=0,
            )
            t0 = _clock()
            model = als.fit(train)
            model.userFactors.count()
            model.itemFactors.count()
            fit = {
                "rank": rank,
                "max_iter": max_iter,
                "prep_s": prep_s,
                "fit_s": _clock() - t0,
            }
            if test is not None:
                predicted = model.transform(test).toPandas()
                values = predicted["prediction"].to_numpy(np.float64)
                values = np.clip(np.where(np.isnan(values), mean, values), 1, 5)
                fit["rmse"] = rmse(values, predicted["rating"].to_numpy())
            fits.append(fit)
        train.unpersist()
    # Read the JVM's peak and CPU time before it stops: it is a child of this
    # process that is never waited for, so getrusage would not count it.
    tree_peak = peak_rss_mb()
    jvm_cpu_s = sum(_cpu_seconds(child) for child in _descendants(os.getpid()))
    spark.stop()
    shutil.rmtree(checkpoints, ignore_errors=True)
    return {
        "fits": fits,
        "startup_s": startup_s,
        "warmup_s": warmup_s,
        "peak_rss_mb_tree": tree_peak,
        "unwaited_children_cpu_s": jvm_cpu_s,
    }


# ----------------------------------------------------------------------------
# LIBMF


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level prints (the libmf binding prints on import)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_libmf(folds, params):
    """LIBMF (no biases, adaptive learning rate): time per iteration.

    Two fits, with 1 and ``nr_iters`` iterations: their difference is the time
    of ``nr_iters - 1`` iterations without the setup.
    """
    with _quiet_stdout():
        from libmf import mf

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        data = np.column_stack((users, items, ratings)).astype(np.float32)
        times = {}
        for n_iter in (1, params["nr_iters"]):
            model = mf.MF(quiet=True, **{**params, "nr_iters": n_iter})
            start = _clock()
            model.fit(data)
            times[n_iter] = _clock() - start
        n = params["nr_iters"]
        fit = {"fit_s": times[n]}
        if n > 1:
            fit["epoch_s"] = [(times[n] - times[1]) / (n - 1)]
        if fold.get("test") is not None:
            # From the factors: the binding's predict() misreads its pairs. Rows
            # LIBMF never saw are NaN; they get its global mean, model.b.
            t_users, t_items, t_ratings = fold["test"]
            p, q = model.p_factors(), model.q_factors()
            known = (t_users < p.shape[0]) & (t_items < q.shape[0])
            predicted = np.full(t_users.shape[0], model.model.b, dtype=np.float64)
            predicted[known] = np.einsum(
                "ij,ij->i", p[t_users[known]], q[t_items[known]]
            )
            predicted[np.isnan(predicted)] = model.model.b
            fit["rmse"] = rmse(np.clip(predicted, 1, 5), t_ratings)
        fits.append(fit)
    return {"fits": fits}


# ----------------------------------------------------------------------------
# implicit (implicit-feedback ALS: another objective, a reference for the kernel)


def run_implicit(folds, params):
    """implicit's ALS on the ratings as confidences: time per sweep."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        start = _clock()
        matrix = sp.csr_matrix(
            (ratings, (users, items)), shape=(users.max() + 1, items.max() + 1)
        )
        built = _clock()
        marks = [built]
        model = AlternatingLeastSquares(random_state=0, **params)
        model.fit(
            matrix,
            show_progress=False,
            callback=lambda *_, marks=marks: marks.append(_clock()),
        )
        fitted = _clock()
        fits.append(
            {
                "build_s": built - start,
                "fit_s": fitted - built,
                # The first interval also holds the factors' initialisation.
                "epoch_s": list(np.diff(marks)),
            }
        )
    return {"fits": fits}


# ----------------------------------------------------------------------------
# LensKit


def run_lenskit(folds, params, threads=2):
    """LensKit's BiasedMFScorer (ALS, biases from damped means): per-epoch times."""
    import pandas as pd
    from lenskit.als import BiasedMFScorer
    from lenskit.data import from_interactions_df
    from lenskit.parallel import initialize
    from lenskit.training import TrainingOptions

    initialize(threads=threads, backend_threads=1)
    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        start = _clock()
        frame = pd.DataFrame(
            {"user_id": users, "item_id": items, "rating": ratings.astype(np.float64)}
        )
        data = from_interactions_df(frame)
        scorer = BiasedMFScorer(**params)
        trainer = scorer.create_trainer(data, TrainingOptions(rng=0))
        prepared = _clock()
        epochs = []
        for _ in range(scorer.config.epochs):
            t0 = _clock()
            trainer.train_epoch()
            epochs.append(_clock() - t0)
        trainer.finalize()
        fit = {"prep_s": prepared - start, "fit_s": _clock() - start, "epoch_s": epochs}
        if fold.get("test") is not None:
            t_users, t_items, t_ratings = fold["test"]
            fit["rmse"] = rmse(
                np.clip(_lenskit_predict(scorer, t_users, t_items), 1, 5), t_ratings
            )
        fits.append(fit)
    return {"fits": fits}


def _lenskit_predict(scorer, users, items):
    """Global + user + item bias + dot product, unknown ids contributing 0."""
    u = scorer.users.numbers(users, missing="negative")
    i = scorer.items.numbers(items, missing="negative")
    bias = scorer.bias
    known_u, known_i = u >= 0, i >= 0
    out = np.full(u.shape[0], bias.global_bias, dtype=np.float64)
    if bias.user_biases is not None:
        out[known_u] += bias.user_biases[u[known_u]]
    if bias.item_biases is not None:
        out[known_i] += bias.item_biases[i[known_i]]
    both = known_u & known_i
    out[both] += np.einsum(
        "ij,ij->i",
        scorer.user_embeddings[u[both]],
        scorer.item_embeddings[i[both]],
    )
    return out


# ----------------------------------------------------------------------------
# funk-svd


def run_funk_svd(folds, params):
    """funk-svd's SVD (numba SGD with biases)."""
    import pandas as pd
    from funk_svd import SVD

    fits = []
    for fold in folds:
        users, items, ratings = fold["train"]
        frame = pd.DataFrame({"u_id": users, "i_id": items, "rating": ratings})
        start = _clock()
        model = SVD(shuffle=True, min_rating=1, max_rating=5, **params)
        model.fit(X=frame)
        fit = {"fit_s": _clock() - start}
        if fold.get("test") is not None:
            t_users, t_items, t_ratings = fold["test"]
            test = pd.DataFrame({"u_id": t_users, "i_id": t_items})
            fit["rmse"] = rmse(model.predict(test), t_ratings)
        fits.append(fit)
    return {"fits": fits}


def run_noop(folds):
    """Load the data and do nothing: the baseline of the memory table."""
    import skmf  # noqa: F401 (its import is part of every skmf fit's footprint)

    return {"fits": [{"fit_s": 0.0} for _ in folds]}


RUNNERS = {
    "skmf": run_skmf,
    "surprise": run_surprise,
    "spark": run_spark,
    "libmf": run_libmf,
    "implicit": run_implicit,
    "lenskit": run_lenskit,
    "funk-svd": run_funk_svd,
    "noop": run_noop,
}
