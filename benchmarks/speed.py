"""Speed, memory and scaling of skmf against its peers, all measured in one run.

    python benchmarks/speed.py                       # sections 1, 2, 3, 5 and 6
    python benchmarks/speed.py --ml100k --cold-start # only these sections
    python benchmarks/speed.py --all --with-surprise-10m   # everything (~30 min)

Sections (flags; none given means all but the long ``--scale``):

1. ``--ml100k``: MovieLens 100K canonical folds, fit time and RMSE: skmf SGD
   with Surprise's SVD settings and with its defaults, skmf ALS, against
   Surprise SVD, LIBMF, Spark ALS ``local[2]`` and LensKit ALS.
2. ``--synthetic``: a 10M-rating set from ``skmf.datasets.make_ratings``:
   SGD updates/s and ALS seconds per sweep on 1 and 2 threads, against LIBMF,
   implicit, LensKit and Spark ALS (and Surprise with ``--with-surprise-10m``).
3. ``--memory``: peak RSS of 10M-rating fits, each in its own process.
4. ``--scale``: 100M ratings (480K users, 18K items), ALS K=50.
5. ``--cold-start``: a fresh process imports skmf and fits ML-100K; then
   predicts 1M (user, item) pairs given as raw ids.
6. ``--scaling``: fit time against data size, saved as a log-log plot.

Every fit runs in a fresh worker process (``_worker.py``), which reports the
peak RSS of that one fit. Peers are optional: a missing one is printed with
the command that installs it. Results go to ``benchmarks/results/``; the
synthetic data sets are cached in ``benchmarks/results/data/``. Timings are
only meaningful on a quiet machine: before each fit the script waits (up to
``--max-wait`` seconds) for the CPUs to be idle, and records how busy they were.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import PEERS  # noqa: E402
from _worker import MARKER  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = (
    Path(os.environ.get("SKMF_DATA", REPO.parent / "shared" / "data")) / "ml-100k"
)
RESULTS = HERE / "results"
CACHE = RESULTS / "data"
PLOT = REPO / "docs" / "_static" / "benchmark_scaling.png"

# The 10M set of the issue: 200K users, 50K items, make_ratings' default skew.
SYNTHETIC = dict(n_users=200_000, n_items=50_000, n_ratings=10_000_000)
# Netflix-sized.
SCALE = dict(n_users=480_000, n_items=18_000, n_ratings=100_000_000)
# Surprise's SVD defaults (lr_all, reg_all): skmf's learning_rate and alpha.
SURPRISE_SETTINGS = dict(
    learning_rate=0.005, alpha=0.02, learning_rate_schedule="constant"
)
# A fit that a peer is predicted to need longer than this is skipped (section 6).
PEER_BUDGET_S = {"surprise": 60, "default": 300}


# ----------------------------------------------------------------------------
# Machine and environment


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib():
    try:
        with open("/proc/meminfo") as meminfo:
            return round(int(meminfo.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _version(module):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def machine():
    """What the numbers were measured on."""
    import scipy
    import threadpoolctl

    import skmf

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "architecture", "prefix")}
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": _version("scikit-learn"),
        "skmf": skmf.__version__,
        "skmf_build": skmf_build(),
        "blas": blas,
        "openblas_env": {
            name: os.environ.get(name)
            for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
        },
        "peers": {
            "scikit-surprise": _version("scikit-surprise"),
            "pyspark": _version("pyspark"),
            "libmf": _version("libmf"),
            "implicit": _version("implicit"),
            "funk-svd": _version("funk-svd"),
            "lenskit": _lenskit_version(),
        },
    }


def _lenskit_version():
    python = PEERS["lenskit"].python()
    probe = subprocess.run(
        [python, "-c", "import lenskit; print(lenskit.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() or None


def skmf_build():
    """The skmf source and compiled kernels measured: commit, edits, .so digests.

    Other people rebuild the kernels while a long run goes on; comparing this
    before and after a run tells whether every number measured the same build.
    """
    import hashlib

    import skmf

    package = Path(skmf.__file__).parent

    def git(*argv):
        done = subprocess.run(
            ["git", *argv], cwd=package, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else None

    kernels = {
        so.name.split(".")[0]: hashlib.sha256(so.read_bytes()).hexdigest()[:12]
        for so in sorted(package.glob("_solvers/*.so"))
    }
    # A kernel whose .pyx is newer than its .so was edited and not rebuilt.
    stale = [
        name
        for name in kernels
        if (pyx := package / "_solvers" / f"{name}.pyx").exists()
        and pyx.stat().st_mtime
        > next(package.glob(f"_solvers/{name}.*.so")).stat().st_mtime
    ]
    changed = git("status", "--porcelain", "--", "skmf", "setup.py")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": None if changed is None else bool(changed),
        "kernels": kernels,
        "stale_kernels": stale,
    }


def cpu_busy(interval=0.5):
    """Fraction of the CPUs' time spent busy over ``interval`` seconds."""

    def sample():
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _busy_seconds():
    """CPU seconds spent busy by the whole machine since boot."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _children_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(max_wait, threshold=0.25):
    """Wait until other processes leave the CPUs idle; return the busy fraction."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        time.sleep(2)
        busy = cpu_busy()
    return busy


# ----------------------------------------------------------------------------
# Data


def _save(path, users, items, ratings):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        users=np.asarray(users, dtype=np.int32),
        items=np.asarray(items, dtype=np.int32),
        ratings=np.asarray(ratings, dtype=np.float32),
    )


def ml100k_folds(data_dir):
    """The five canonical folds as .npz files: [{"train": path, "test": path}]."""
    from skmf.datasets import load_movielens_100k_folds

    folds = []
    for k, (train, test) in enumerate(load_movielens_100k_folds(data_dir), 1):
        paths = {}
        for part, frame in (("train", train), ("test", test)):
            path = CACHE / "ml-100k" / f"u{k}.{part}.npz"
            if not path.exists():
                _save(path, frame["user"], frame["item"], frame["rating"])
            paths[part] = str(path)
        folds.append(paths)
    return folds


def synthetic(n_users, n_items, n_ratings, log):
    """make_ratings(..., random_state=0) cached as .npz; returns its path."""
    from skmf.datasets import make_ratings

    path = CACHE / f"synthetic-{n_users}x{n_items}-{n_ratings}.npz"
    if not path.exists():
        start = time.perf_counter()
        X, y = make_ratings(n_users, n_items, n_ratings, random_state=0)
        seconds = time.perf_counter() - start
        log(
            f"generated {n_ratings:,} ratings ({n_users:,} users, {n_items:,} items) "
            f"with skmf.datasets.make_ratings in {seconds:.1f} s"
        )
        _save(path, X[:, 0], X[:, 1], y)
        del X, y
    return str(path)


# ----------------------------------------------------------------------------
# Running tasks and reporting


class Bench:
    """Runs worker processes, remembers their results and the targets."""

    def __init__(self, args):
        self.args = args
        self.memo = {}
        self.targets = []
        self.sections = {}
        self.missing = {}

    def log(self, message):
        print(message, flush=True)

    def peer_missing(self, key):
        """The "missing (...)" text of an unavailable peer, printed once."""
        if key not in self.missing:
            if key in self.args.skip:
                self.missing[key] = "skipped (--skip)"
            else:
                self.missing[key] = PEERS[key].missing()
            if self.missing[key]:
                self.log(f"  {PEERS[key].label}: {self.missing[key]}")
        return self.missing[key]

    def run(self, runner, folds, kwargs, python=None, env=None, timeout=3600):
        """Run one task in a fresh worker process; memoized on its description."""
        python = python or sys.executable
        task = {"runner": runner, "folds": folds, "kwargs": kwargs}
        key = json.dumps([task, python, env], sort_keys=True)
        if key in self.memo:
            return self.memo[key]
        busy = wait_for_quiet(self.args.max_wait)
        full_env = {**os.environ, **(env or {})}
        machine0, own0 = _busy_seconds(), _children_seconds()
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [python, str(HERE / "_worker.py"), json.dumps(task)],
                capture_output=True,
                text=True,
                env=full_env,
                timeout=timeout,
                check=False,
            )
            lines = [
                line[len(MARKER) :]
                for line in done.stdout.splitlines()
                if line.startswith(MARKER)
            ]
            if lines:
                result = json.loads(lines[-1])
            else:
                tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                result = {"error": " | ".join(tail) or f"exit {done.returncode}"}
        except subprocess.TimeoutExpired:
            result = {"error": f"timed out after {timeout} s"}
        result["process_s"] = wall = time.perf_counter() - start
        result["busy_before"] = round(busy, 3)
        if machine0 is not None:
            # CPU time the machine spent on other processes during the task, as
            # a fraction of all cores: other people's work slowing this one.
            own = _children_seconds() - own0 + result.get("unwaited_children_cpu_s", 0)
            others = _busy_seconds() - machine0 - own
            result["others_cpu"] = round(max(0.0, others / (wall * os.cpu_count())), 3)
        if "error" in result:
            self.log(f"  ! {runner} failed: {result['error']}")
        self.memo[key] = result
        return result

    def target(self, section, name, value, op, goal, unit=""):
        """Record whether ``value op goal`` holds; None means not measured."""
        met = None
        if value is not None:
            met = bool(value >= goal) if op == ">=" else bool(value <= goal)
        self.targets.append(
            {
                "section": section,
                "target": name,
                "value": value,
                "op": op,
                "goal": goal,
                "unit": unit,
                "met": met,
            }
        )

    def section(self, name, rows, notes=()):
        self.sections[name] = {"rows": rows, "notes": list(notes)}


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarize(result, n_train):
    """Fit time (mean over folds), best epoch, updates/s, RMSE, peak RSS."""
    if "error" in result:
        return {"error": result["error"]}
    fits = result["fits"]
    epochs = [t for fit in fits for t in fit.get("epoch_s", [])]
    best_epoch = min(epochs) if epochs else None
    row = {
        "fit_s": _mean([fit["fit_s"] for fit in fits]),
        "epoch_s": best_epoch,
        "updates_per_s": n_train / best_epoch if best_epoch else None,
        "rmse": _mean([fit.get("rmse") for fit in fits]),
        "peak_rss_mb": result.get("peak_rss_mb"),
        "data_rss_mb": result.get("data_rss_mb"),
        "busy_before": result.get("busy_before"),
        "others_cpu": result.get("others_cpu"),
    }
    if epochs and all(len(fit.get("epoch_s", ())) == fit.get("n_iter") for fit in fits):
        # Time of the fit outside its epochs: validation, id encoding, layouts.
        row["setup_s"] = _mean([fit["fit_s"] - sum(fit["epoch_s"]) for fit in fits])
    for extra in ("build_s", "prep_s"):
        if any(extra in fit for fit in fits):
            row[extra] = _mean([fit.get(extra) for fit in fits])
    if "startup_s" in result:
        row["startup_s"] = result["startup_s"]
    return row


def _fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, spec)


COLUMNS = [
    ("model", "model", "s"),
    ("threads", "thr", "s"),
    ("fit_s", "fit s", ".3f"),
    ("setup_s", "setup s", ".3f"),
    ("epoch_s", "s/epoch", ".4f"),
    ("updates_per_s", "M upd/s", ".2f"),
    ("rmse", "RMSE", ".4f"),
    ("peak_rss_mb", "peak RSS MB", ".0f"),
    ("others_cpu", "others", ".0%"),
    ("note", "note", "s"),
]


def print_table(rows, columns=COLUMNS):
    cells = [[title for _, title, _ in columns]]
    for row in rows:
        line = []
        for key, _, spec in columns:
            value = row.get(key)
            if key == "updates_per_s" and value is not None:
                value = value / 1e6
            if key == "note" and "error" in row:
                value = f"failed: {row['error'][:70]}"
            line.append(_fmt(value, spec))
        cells.append(line)
    widths = [max(len(line[c]) for line in cells) for c in range(len(columns))]
    for n, line in enumerate(cells):
        print(
            "  ".join(
                cell.ljust(w) if c in (0, len(columns) - 1) else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def ratio(slow, fast):
    """How many times faster ``fast`` is than ``slow`` (None if unknown)."""
    if slow is None or fast is None or fast <= 0:
        return None
    return slow / fast


def print_ratios(ratios):
    for line in ratios:
        value = _fmt(line["ratio"], ".1f")
        goal = f"  (target >= {line['goal']}x)" if line.get("goal") else ""
        print(f"  {line['what']}: {value}x{goal}")
    sys.stdout.flush()


def missing_row(bench, key, model, threads="-"):
    return {"model": model, "threads": threads, "note": bench.peer_missing(key)}


# ----------------------------------------------------------------------------
# 1. MovieLens 100K


def _have_ml100k(bench):
    """Whether the ML-100K folder is there; if not, say so and skip the section."""
    if (bench.args.data / "u.data").is_file():
        return True
    print(
        f"  skipped: {bench.args.data / 'u.data'} not found (pass --data or set "
        "SKMF_DATA to the folder holding ml-100k/)"
    )
    return False


def section_ml100k(bench):
    args = bench.args
    print("\n== 1. MovieLens 100K, canonical folds u1..u5 (mean over folds) ==")
    if not _have_ml100k(bench):
        return
    folds = ml100k_folds(args.data)
    n_train = 80_000
    rows, ratios = [], []

    def skmf_row(label, params, threads):
        """One skmf configuration; threads "auto" leaves n_jobs at its default."""
        if threads != "auto":
            params = {**params, "n_jobs": threads}
        result = bench.run("skmf", folds, {"params": params, "repeats": args.repeats})
        row = {"model": label, "threads": str(threads), **summarize(result, n_train)}
        if params.get("solver") == "als":
            row["updates_per_s"] = None
        rows.append(row)
        return row

    sgd_surprise = dict(n_components=100, max_iter=20, **SURPRISE_SETTINGS)
    mine = {
        t: skmf_row("skmf SGD K=100, 20 ep, Surprise settings", sgd_surprise, t)
        for t in (1, 2)
    }
    skmf_row("skmf SGD defaults (K=100, 40 ep)", {}, "auto")
    skmf_row("skmf ALS defaults (K=100, 15 sw)", dict(solver="als"), "auto")
    als_same = {}
    for rank, iters in ((10, 10), (50, 20)):
        for cg in (None, 3):
            for t in (1, 2):
                solve = "exact" if cg is None else f"CG{cg}"
                als_same[rank, iters, cg, t] = skmf_row(
                    f"skmf ALS {solve} K={rank}, {iters} sw, alpha 0.1",
                    dict(
                        n_components=rank,
                        solver="als",
                        max_iter=iters,
                        alpha=0.1,
                        cg_steps=cg,
                    ),
                    t,
                )

    surprise = None
    if not bench.peer_missing("surprise"):
        result = bench.run(
            "surprise", folds, {"params": dict(n_factors=100, n_epochs=20)}
        )
        surprise = {
            "model": "Surprise SVD K=100, 20 ep (defaults)",
            "threads": "1",
            **summarize(result, n_train),
        }
        surprise["note"] = f"+ trainset build {_fmt(surprise.get('build_s'), '.3f')} s"
        rows.append(surprise)
    else:
        rows.append(missing_row(bench, "surprise", "Surprise SVD"))
    for t, goal in ((1, 10), (2, 15)):
        ratios.append(
            {
                "what": f"skmf SGD ({t} thread) vs Surprise SVD, fit time",
                "ratio": ratio(
                    surprise and surprise.get("fit_s"), mine[t].get("fit_s")
                ),
                "goal": goal,
            }
        )
        bench.target(
            "ml100k",
            f"SGD K=100 20 epochs, {t} thread(s), x faster than Surprise",
            ratios[-1]["ratio"],
            ">=",
            goal,
            "x",
        )
    bench.target(
        "ml100k",
        "RMSE of skmf SGD (Surprise settings) - RMSE of Surprise SVD",
        None
        if surprise is None or mine[1].get("rmse") is None
        else mine[1]["rmse"] - surprise["rmse"],
        "<=",
        0.005,
    )

    if not bench.peer_missing("libmf"):
        for t in (1, 2):
            params = {**_libmf_10m(t), "k": 100, "nr_iters": 20}
            result = bench.run("libmf", folds, {"params": params})
            row = {
                "model": "LIBMF K=100, 20 it (no biases)",
                "threads": str(t),
                **summarize(result, n_train),
            }
            rows.append(row)
            ratios.append(
                {
                    "what": f"skmf SGD vs LIBMF, time per epoch, {t} thread(s)",
                    "ratio": ratio(row.get("epoch_s"), mine[t].get("epoch_s")),
                }
            )
    else:
        rows.append(missing_row(bench, "libmf", "LIBMF"))

    if not bench.peer_missing("funk-svd"):
        result = bench.run(
            "funk-svd",
            folds,
            {"params": dict(lr=0.005, reg=0.02, n_epochs=20, n_factors=100)},
        )
        rows.append(
            {
                "model": "funk-svd K=100, 20 ep",
                "threads": "1",
                **summarize(result, n_train),
            }
        )
    else:
        rows.append(missing_row(bench, "funk-svd", "funk-svd"))

    if not bench.peer_missing("lenskit"):
        for rank, iters in ((10, 10), (50, 20)):
            result = bench.run(
                "lenskit",
                folds,
                {
                    "params": dict(
                        embedding_size=rank, epochs=iters, regularization=0.1
                    ),
                    "threads": 2,
                },
                python=PEERS["lenskit"].python(),
            )
            row = {
                "model": f"LensKit BiasedMF ALS K={rank}, {iters} ep",
                "threads": "2",
                **summarize(result, n_train),
            }
            row["updates_per_s"] = None
            rows.append(row)
            for cg in (None, 3):
                ratios.append(
                    {
                        "what": f"skmf ALS {'exact' if cg is None else 'CG3'} vs "
                        f"LensKit ALS, K={rank} {iters} sweeps, 2 threads, fit time",
                        "ratio": ratio(
                            row.get("fit_s"), als_same[rank, iters, cg, 2]["fit_s"]
                        ),
                    }
                )
    else:
        rows.append(missing_row(bench, "lenskit", "LensKit"))

    if not bench.peer_missing("spark"):
        result = bench.run(
            "spark", folds, {"configs": [[10, 10], [50, 20]], "threads": 2}
        )
        for rank, iters in ((10, 10), (50, 20)):
            if "error" in result:
                rows.append({"model": "Spark ALS", "error": result["error"]})
                break
            fits = [f for f in result["fits"] if f["rank"] == rank]
            row = {
                "model": f"Spark ALS K={rank}, {iters} it, local[2]",
                "threads": "2",
                "fit_s": _mean([f["fit_s"] for f in fits]),
                "rmse": _mean([f.get("rmse") for f in fits]),
                "peak_rss_mb": result.get("peak_rss_mb"),
                "others_cpu": result.get("others_cpu"),
                "note": f"excluded: JVM start {result['startup_s']:.1f} s, "
                f"warm-up fit {result['warmup_s']:.1f} s",
            }
            rows.append(row)
            for cg in (None, 3):
                ratios.append(
                    {
                        "what": f"skmf ALS {'exact' if cg is None else 'CG3'} vs "
                        f"Spark ALS, K={rank} {iters} sweeps, 2 threads, fit time",
                        "ratio": ratio(
                            row["fit_s"], als_same[rank, iters, cg, 2]["fit_s"]
                        ),
                    }
                )
    else:
        rows.append(missing_row(bench, "spark", "Spark ALS"))

    print_table(rows)
    print_ratios(ratios)
    bench.section("ml100k", rows, ratios)


# ----------------------------------------------------------------------------
# 2. 10M synthetic


def _synthetic_tasks(path):
    """The skmf fits of sections 2 and 3 on the 10M set: label -> kwargs."""
    folds = [{"train": path}]
    tasks = {}
    for t in (1, 2):
        tasks["sgd", t] = (
            folds,
            {"params": dict(n_components=32, max_iter=5, n_jobs=t)},
        )
        for cg in (None, 3):
            tasks["als", cg, t] = (
                folds,
                {
                    "params": dict(
                        n_components=64,
                        solver="als",
                        max_iter=3,
                        cg_steps=cg,
                        n_jobs=t,
                    )
                },
            )
    return tasks


def section_synthetic(bench):
    args = bench.args
    spec = SYNTHETIC if not args.quick else _shrink(SYNTHETIC)
    n = spec["n_ratings"]
    print(
        f"\n== 2. Synthetic {n:,} ratings ({spec['n_users']:,} users x "
        f"{spec['n_items']:,} items, make_ratings defaults, random_state=0) =="
    )
    path = synthetic(**spec, log=bench.log)
    folds = [{"train": path}]
    tasks = _synthetic_tasks(path)
    rows, ratios, skmf = [], [], {}

    for t in (1, 2):
        result = bench.run("skmf", *tasks["sgd", t])
        skmf["sgd", t] = row = {
            "model": "skmf SGD K=32 (5 epochs, best)",
            "threads": str(t),
            **summarize(result, n),
        }
        rows.append(row)
    for cg in (None, 3):
        for t in (1, 2):
            result = bench.run("skmf", *tasks["als", cg, t])
            solve = "exact (Cholesky)" if cg is None else f"CG {cg} steps"
            skmf["als", cg, t] = row = {
                "model": f"skmf ALS K=64 {solve} (3 sweeps, best)",
                "threads": str(t),
                **summarize(result, n),
            }
            row["updates_per_s"] = None
            rows.append(row)

    sgd_rate = skmf["sgd", 2].get("updates_per_s")
    bench.target(
        "synthetic",
        f"{n / 1e6:g}M: SGD K=32 updates/s, 2 threads",
        sgd_rate,
        ">=",
        20e6,
    )
    speedup = ratio(skmf["sgd", 1].get("epoch_s"), skmf["sgd", 2].get("epoch_s"))
    ratios.append({"what": "SGD 2-thread speedup", "ratio": speedup, "goal": 1.7})
    bench.target("synthetic", "SGD 2-thread / 1-thread speedup", speedup, ">=", 1.7)
    for cg in (None, 3):
        name = "exact" if cg is None else f"CG {cg}"
        sweep = skmf["als", cg, 2].get("epoch_s")
        bench.target(
            "synthetic", f"ALS K=64 {name}: s per sweep, 2 threads", sweep, "<=", 4.0
        )
        speedup = ratio(skmf["als", cg, 1].get("epoch_s"), sweep)
        ratios.append(
            {"what": f"ALS {name} 2-thread speedup", "ratio": speedup, "goal": 1.7}
        )
        bench.target(
            "synthetic", f"ALS {name} 2-thread / 1-thread speedup", speedup, ">=", 1.7
        )

    if not bench.peer_missing("libmf"):
        for t in (1, 2):
            result = bench.run("libmf", folds, {"params": _libmf_10m(t)})
            row = {
                "model": "LIBMF K=32 (no biases)",
                "threads": str(t),
                **summarize(result, n),
            }
            rows.append(row)
            ratios.append(
                {
                    "what": f"skmf SGD vs LIBMF, updates/s, {t} thread(s)",
                    "ratio": ratio(row.get("epoch_s"), skmf["sgd", t].get("epoch_s")),
                }
            )
    else:
        rows.append(missing_row(bench, "libmf", "LIBMF"))

    if not bench.peer_missing("implicit"):
        for t in (1, 2):
            result = bench.run(
                "implicit",
                folds,
                {"params": dict(factors=64, iterations=3, num_threads=t)},
                env={"OPENBLAS_NUM_THREADS": "1"},
            )
            row = {
                "model": "implicit ALS K=64 CG (implicit objective)",
                "threads": str(t),
                **summarize(result, n),
            }
            row["updates_per_s"] = None
            rows.append(row)
    else:
        rows.append(missing_row(bench, "implicit", "implicit ALS"))

    if not bench.peer_missing("lenskit"):
        result = bench.run(
            "lenskit",
            folds,
            {
                "params": dict(embedding_size=64, epochs=3, regularization=0.1),
                "threads": 2,
            },
            python=PEERS["lenskit"].python(),
        )
        row = {
            "model": "LensKit BiasedMF ALS K=64 exact",
            "threads": "2",
            **summarize(result, n),
        }
        row["updates_per_s"] = None
        rows.append(row)
        ratios.append(
            {
                "what": "skmf ALS exact vs LensKit ALS, s per sweep, 2 threads",
                "ratio": ratio(row.get("epoch_s"), skmf["als", None, 2].get("epoch_s")),
            }
        )
    else:
        rows.append(missing_row(bench, "lenskit", "LensKit"))

    if args.with_surprise_10m:
        if not bench.peer_missing("surprise"):
            result = bench.run(
                "surprise", folds, {"params": dict(n_factors=32, n_epochs=1)}
            )
            row = {
                "model": "Surprise SVD K=32 (1 epoch)",
                "threads": "1",
                **summarize(result, n),
            }
            row["note"] = f"+ trainset build {_fmt(row.get('build_s'), '.1f')} s"
            rows.append(row)
            ratios.append(
                {
                    "what": "skmf SGD (1 thread) vs Surprise SVD, time per epoch",
                    "ratio": ratio(row.get("epoch_s"), skmf["sgd", 1].get("epoch_s")),
                }
            )
        else:
            rows.append(missing_row(bench, "surprise", "Surprise SVD"))
    else:
        rows.append(
            {
                "model": "Surprise SVD K=32",
                "threads": "1",
                "note": "skipped (~100 s, 3.7 GB): add --with-surprise-10m",
            }
        )

    if not bench.peer_missing("spark"):
        result = bench.run(
            "spark",
            folds,
            {"configs": [[64, 1], [64, 3]], "threads": 2, "driver_memory": "12g"},
            timeout=2400,
        )
        if "error" in result:
            rows.append({"model": "Spark ALS", "error": result["error"]})
        else:
            spark = {f["max_iter"]: f["fit_s"] for f in result["fits"]}
            prep = result["fits"][0]["prep_s"]
            for iters in (1, 3):
                rows.append(
                    {
                        "model": f"Spark ALS K=64, maxIter={iters}, local[2]",
                        "threads": "2",
                        "fit_s": spark[iters],
                        "epoch_s": (spark[3] - spark[1]) / 2 if iters == 3 else None,
                        "peak_rss_mb": result.get("peak_rss_mb"),
                        "others_cpu": result.get("others_cpu"),
                        "note": f"excluded: JVM start {result['startup_s']:.1f} s,"
                        f" DataFrame {prep:.1f} s, warm-up {result['warmup_s']:.1f} s",
                    }
                )
            for cg in (None, 3):
                name = "exact" if cg is None else f"CG {cg}"
                fit = bench.run("skmf", *tasks["als", cg, 2])
                if "error" in fit:
                    continue
                sweeps = fit["fits"][0]["epoch_s"]
                total = fit["fits"][0]["fit_s"]
                # The fit of 1 sweep: the fit of 3 without its last two sweeps.
                fit_of = {3: total, 1: total - sum(sweeps[1:])}
                for iters in (1, 3):
                    # The issue's definition: all but the JVM start, so Spark's
                    # DataFrame preparation counts as skmf's own does.
                    value = ratio(spark[iters] + prep, fit_of[iters])
                    ratios.append(
                        {
                            "what": f"skmf ALS {name} vs Spark ALS, K=64, "
                            f"{iters} iteration(s), 2 threads, DataFrame + fit",
                            "ratio": value,
                            "goal": 20,
                        }
                    )
                    ratios.append(
                        {
                            "what": f"skmf ALS {name} vs Spark ALS, K=64, "
                            f"{iters} iteration(s), 2 threads, ALS.fit alone",
                            "ratio": ratio(spark[iters], fit_of[iters]),
                        }
                    )
                    bench.target(
                        "synthetic",
                        f"ALS {name} {iters} it: x faster than Spark local[2] "
                        "(JVM start excluded)",
                        value,
                        ">=",
                        20,
                        "x",
                    )
    else:
        rows.append(missing_row(bench, "spark", "Spark ALS"))

    print_table(rows)
    print_ratios(ratios)
    bench.section("synthetic", rows, ratios)


def _shrink(spec):
    """A 10x smaller set, for a quick check of the script itself."""
    return {key: value // 10 for key, value in spec.items()}


# ----------------------------------------------------------------------------
# 3. Memory


def section_memory(bench):
    args = bench.args
    spec = SYNTHETIC if not args.quick else _shrink(SYNTHETIC)
    n = spec["n_ratings"]
    print(f"\n== 3. Peak RSS of {n:,}-rating fits, one process per fit ==")
    path = synthetic(**spec, log=bench.log)
    folds = [{"train": path}]
    tasks = _synthetic_tasks(path)
    triplets_mb = n * 12 / 2**20
    rows = []

    def add(model, result, threads="2"):
        row = {"model": model, "threads": threads, **summarize(result, n)}
        row["updates_per_s"] = None
        rows.append(row)
        return row

    base = add("(baseline: python + skmf + the arrays)", bench.run("noop", folds, {}))
    fits = {
        "skmf SGD K=32 float32": bench.run("skmf", *tasks["sgd", 2]),
        "skmf SGD K=32 float64": bench.run(
            "skmf",
            folds,
            {"params": dict(n_components=32, max_iter=1, n_jobs=2, dtype="float64")},
        ),
        "skmf ALS K=64 exact": bench.run("skmf", *tasks["als", None, 2]),
        "skmf ALS K=64 CG 3": bench.run("skmf", *tasks["als", 3, 2]),
    }
    for model, result in fits.items():
        row = add(model, result)
        peak = row.get("peak_rss_mb")
        if peak is not None and base.get("peak_rss_mb") is not None:
            row["note"] = f"+{peak - base['peak_rss_mb']:.0f} MB over the baseline"
        bench.target(
            "memory", f"peak RSS of a {n / 1e6:g}M fit, {model}", peak, "<=", 1024, "MB"
        )
    # Peers measured in section 2, when it ran.
    for (runner, kwargs, python, env), model, threads in (
        (
            ("libmf", {"params": _libmf_10m(2)}, None, None),
            "LIBMF K=32",
            "2",
        ),
        (
            (
                "implicit",
                {"params": dict(factors=64, iterations=3, num_threads=2)},
                None,
                {"OPENBLAS_NUM_THREADS": "1"},
            ),
            "implicit ALS K=64",
            "2",
        ),
        (
            (
                "surprise",
                {"params": dict(n_factors=32, n_epochs=1)},
                None,
                None,
            ),
            "Surprise SVD K=32",
            "1",
        ),
        (
            (
                "spark",
                {"configs": [[64, 1], [64, 3]], "threads": 2, "driver_memory": "12g"},
                None,
                None,
            ),
            "Spark ALS K=64 (driver JVM + Python)",
            "2",
        ),
    ):
        task = {"runner": runner, "folds": folds, "kwargs": kwargs}
        key = json.dumps([task, python or sys.executable, env], sort_keys=True)
        if key in bench.memo:
            add(model, bench.memo[key], threads)
    print(f"  (the int32/int32/float32 triplets alone are {triplets_mb:.0f} MB)")
    print_table(rows)
    bench.section("memory", rows, [{"what": "triplets MB", "ratio": triplets_mb}])


def _libmf_10m(threads):
    """LIBMF's own defaults (its C API's, not the binding's L1 ones), K=32."""
    return dict(
        k=32,
        nr_iters=5,
        nr_threads=threads,
        lambda_p1=0.0,
        lambda_q1=0.0,
        lambda_p2=0.1,
        lambda_q2=0.1,
        eta=0.1,
    )


# ----------------------------------------------------------------------------
# 4. Scale


def section_scale(bench):
    args = bench.args
    spec = SCALE if not args.quick else _shrink(SCALE)
    n = spec["n_ratings"]
    print(
        f"\n== 4. Scale: {n:,} ratings ({spec['n_users']:,} users x "
        f"{spec['n_items']:,} items), ALS K=50, 2 threads =="
    )
    path = synthetic(**spec, log=bench.log)
    folds = [{"train": path}]
    rows = []
    for cg in (None, 3):
        result = bench.run(
            "skmf",
            folds,
            {
                "params": dict(
                    n_components=50, solver="als", max_iter=2, cg_steps=cg, n_jobs=2
                )
            },
            timeout=3600,
        )
        solve = "exact" if cg is None else f"CG {cg}"
        row = {
            "model": f"skmf ALS K=50 {solve} (2 sweeps, best)",
            "threads": "2",
            **summarize(result, n),
        }
        row["updates_per_s"] = None
        rows.append(row)
        bench.target(
            "scale",
            f"{n // 10**6}M ALS K=50 {solve}: peak RSS within 24 GiB",
            row.get("peak_rss_mb"),
            "<=",
            24 * 1024,
            "MB",
        )
    print_table(rows)
    bench.section("scale", rows)


# ----------------------------------------------------------------------------
# 5. Cold start


def section_cold_start(bench):
    args = bench.args
    print("\n== 5. Cold start: a fresh process imports skmf, fits ML-100K ==")
    if not _have_ml100k(bench):
        return
    runs = []
    for _ in range(max(3, args.repeats)):
        wait_for_quiet(args.max_wait)
        spawned = time.time()
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "_cold_start.py"),
                str(args.data),
                repr(spawned),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        total = time.time() - spawned
        try:
            run = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            print(f"  ! cold start failed: {done.stderr.strip()[-300:]}")
            bench.section("cold_start", [])
            return
        run["process_s"] = total
        runs.append(run)
    best = min(runs, key=lambda run: run["fitted_after_spawn_s"])
    predict = min(run["predict_array_s"] for run in runs)
    predict_frame = min(run["predict_frame_s"] for run in runs)
    print(
        f"  spawn -> fitted: {best['fitted_after_spawn_s']:.3f} s (import "
        f"{best['import_s']:.3f} s, read u.data {best['load_s']:.3f} s, fit "
        f"{best['fit_s']:.3f} s; best of {len(runs)}, all: "
        + ", ".join(f"{run['fitted_after_spawn_s']:.3f}" for run in runs)
        + ")"
    )
    print(
        f"  predict {best['n_predict']:,} raw-id pairs: {predict:.3f} s (ndarray), "
        f"{predict_frame:.3f} s (DataFrame), first call {best['first_predict_s']:.3f} s"
    )
    bench.target(
        "cold_start",
        "fresh process: import + fit ML-100K K=50 20 epochs",
        best["fitted_after_spawn_s"],
        "<=",
        1.0,
        "s",
    )
    bench.target("cold_start", "predict 1M raw-id pairs", predict, "<=", 0.5, "s")
    bench.section("cold_start", runs)


# ----------------------------------------------------------------------------
# 6. Scaling with the data size


SCALING_SIZES = (100_000, 1_000_000, 10_000_000)


def section_scaling(bench):
    args = bench.args
    sizes = SCALING_SIZES if not args.quick else SCALING_SIZES[:2]
    print("\n== 6. Fit time against data size (users = n/50, items = n/200) ==")
    models = {
        "skmf SGD K=32, 10 ep": ("skmf", dict(n_components=32, max_iter=10, n_jobs=2)),
        "skmf ALS K=32, 5 sw": (
            "skmf",
            dict(n_components=32, solver="als", max_iter=5, n_jobs=2),
        ),
        "skmf ALS CG3 K=32, 5 sw": (
            "skmf",
            dict(n_components=32, solver="als", max_iter=5, cg_steps=3, n_jobs=2),
        ),
        "Surprise SVD K=32, 10 ep": ("surprise", dict(n_factors=32, n_epochs=10)),
        "LIBMF K=32, 10 it": (
            "libmf",
            {**_libmf_10m(2), "nr_iters": 10},
        ),
        "LensKit ALS K=32, 5 ep": (
            "lenskit",
            dict(embedding_size=32, epochs=5, regularization=0.1),
        ),
        "Spark ALS K=32, 5 it, local[2]": ("spark", None),
    }
    times = {model: {} for model in models}
    rows = []
    for n in sizes:
        spec = dict(n_users=n // 50, n_items=n // 200, n_ratings=n)
        path = synthetic(**spec, log=bench.log)
        folds = [{"train": path}]
        for model, (runner, params) in models.items():
            if runner != "skmf" and bench.peer_missing(runner):
                continue
            done = times[model]
            if done:
                last_n = max(done)
                budget = PEER_BUDGET_S.get(runner, PEER_BUDGET_S["default"])
                if done[last_n] is None or done[last_n] * n / last_n > budget:
                    done[n] = None
                    rows.append(
                        {"model": model, "n": n, "note": f"skipped (> {budget} s)"}
                    )
                    continue
            python = PEERS["lenskit"].python() if runner == "lenskit" else None
            if runner == "spark":
                kwargs = {"configs": [[32, 5]], "threads": 2, "driver_memory": "12g"}
            elif runner == "lenskit":
                kwargs = {"params": params, "threads": 2}
            else:
                kwargs = {"params": params}
            result = bench.run(runner, folds, kwargs, python=python, timeout=2400)
            if "error" in result:
                done[n] = None
                rows.append({"model": model, "n": n, "error": result["error"]})
                continue
            fit = result["fits"][0]
            # Fit time with the library's own data preparation from arrays.
            seconds = fit["fit_s"]
            if runner in ("surprise", "spark"):
                seconds += fit.get("build_s", 0) + fit.get("prep_s", 0)
            done[n] = seconds
            rows.append(
                {
                    "model": model,
                    "n": n,
                    "fit_s": seconds,
                    "peak_rss_mb": result.get("peak_rss_mb"),
                    "others_cpu": result.get("others_cpu"),
                }
            )
    columns = [
        ("model", "model", "s"),
        ("n", "ratings", ",d"),
        ("fit_s", "fit s (incl. data prep)", ".3f"),
        ("peak_rss_mb", "peak RSS MB", ".0f"),
        ("others_cpu", "others", ".0%"),
        ("note", "note", "s"),
    ]
    print_table(rows, columns)
    bench.section("scaling", rows)
    _plot(times, args.plot)


# The plot's legend: what each line measured, spelled out.
LEGEND = {
    "skmf SGD K=32, 10 ep": "skmf SGD, K=32, 10 epochs",
    "skmf ALS K=32, 5 sw": "skmf ALS, K=32, 5 sweeps, default solve",
    "skmf ALS CG3 K=32, 5 sw": "skmf ALS, K=32, 5 sweeps, CG 3 steps",
    "Surprise SVD K=32, 10 ep": "Surprise SVD, K=32, 10 epochs",
    "LIBMF K=32, 10 it": "LIBMF, K=32, 10 iterations",
    "LensKit ALS K=32, 5 ep": "LensKit ALS, K=32, 5 epochs",
    "Spark ALS K=32, 5 it, local[2]": "Spark ALS, K=32, 5 iterations, local[2]",
}


def _times_from_rows(rows):
    """``{model: {n: seconds or None}}`` from the rows of a scaling section."""
    times = {}
    for row in rows:
        times.setdefault(row["model"], {})[int(row["n"])] = row.get("fit_s")
    return times


def _plot(times, path, cores=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  plot: matplotlib missing (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for model, points in times.items():
        points = sorted((n, t) for n, t in points.items() if t is not None)
        if not points:
            continue
        style = "-o" if model.startswith("skmf") else "--s"
        ax.plot(*zip(*points, strict=True), style, label=LEGEND.get(model, model))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of ratings")
    ax.set_ylabel("fit time, s (incl. data preparation)")
    ax.set_title(f"Fit time against data size ({cores or os.cpu_count()} cores)")
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes: inside, it hid the slowest peer's first point.
    fig.legend(loc="outside right center", fontsize=8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"  plot saved to {path}")


def replot(results, path):
    """Redraw the scaling plot from a results file instead of measuring.

    ``results`` is a ``speed-*.json`` written by this script, or any JSON file
    with the same ``sections.scaling.rows`` (such as
    ``benchmarks/results/recorded-2026-11-26.json``).
    """
    record = json.loads(Path(results).read_text())
    try:
        rows = record["sections"]["scaling"]["rows"]
    except KeyError:
        sys.exit(f"{results} has no scaling section: run with --scaling first")
    _plot(_times_from_rows(rows), path, record.get("machine", {}).get("nproc"))


# ----------------------------------------------------------------------------


SECTIONS = {
    "ml100k": section_ml100k,
    "synthetic": section_synthetic,
    "memory": section_memory,
    "scale": section_scale,
    "cold_start": section_cold_start,
    "scaling": section_scaling,
}
DEFAULT_SECTIONS = ("ml100k", "synthetic", "memory", "cold_start", "scaling")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_argument_group("sections (none given: all but --scale)")
    group.add_argument("--ml100k", action="store_true", help="1. MovieLens 100K")
    group.add_argument("--synthetic", action="store_true", help="2. 10M synthetic")
    group.add_argument("--memory", action="store_true", help="3. peak RSS")
    group.add_argument("--scale", action="store_true", help="4. 100M ratings, ALS")
    group.add_argument("--cold-start", action="store_true", help="5. cold start")
    group.add_argument("--scaling", action="store_true", help="6. size scaling plot")
    group.add_argument("--all", action="store_true", help="every section")
    parser.add_argument(
        "--with-surprise-10m",
        action="store_true",
        help="also run Surprise on the 10M set (~100 s, 3.7 GB)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--repeats", type=int, default=3, help="fits per ML-100K fold (best kept)"
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=120,
        help="seconds to wait for idle CPUs before each fit",
    )
    parser.add_argument(
        "--skip",
        type=lambda text: set(filter(None, text.split(","))),
        default=set(),
        help=f"peers not to run, comma-separated: {','.join(PEERS)}",
    )
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="JSON",
        help="only redraw the scaling plot (--plot) from a results file",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the results to FILE (they always go to "
        "benchmarks/results/speed-<timestamp>.json and speed-latest.json)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10x smaller synthetic sets (a smoke test)"
    )
    args = parser.parse_args(argv)
    chosen = [name for name in SECTIONS if getattr(args, name)]
    args.sections = list(SECTIONS) if args.all else chosen or list(DEFAULT_SECTIONS)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.replot is not None:
        replot(args.replot, args.plot)
        return
    bench = Bench(args)
    info = machine()
    build = info["skmf_build"]
    print(
        f"skmf {info['skmf']} at {build['commit']}"
        + (" + uncommitted changes" if build["uncommitted_changes"] else "")
        + f" | {info['nproc']} x {info['cpu']}, {info['ram_gib']} GiB"
        f" | Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}"
    )
    if build["stale_kernels"]:
        print(
            f"  WARNING: {', '.join(build['stale_kernels'])} edited since built: "
            "pip install -e . --no-build-isolation"
        )
    for blas in info["blas"]:
        print(f"  BLAS: {blas['prefix']} {blas['version']} ({blas['architecture']})")
    if any(info["openblas_env"][k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
        print(
            "  note: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and may slow BLAS; "
            "to measure without them: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
            "python benchmarks/speed.py"
        )
    started = datetime.datetime.now()
    for name in args.sections:
        SECTIONS[name](bench)

    build_after = skmf_build()
    if build_after != info["skmf_build"]:
        print(
            "\nWARNING: skmf's source or kernels changed during this run: "
            "the sections measured different builds. Rerun for one build."
        )
    info["skmf_build_after"] = build_after

    print("\n== Targets ==")
    for t in bench.targets:
        mark = {True: "MET", False: "NOT MET", None: "not measured"}[t["met"]]
        value = t["value"]
        if isinstance(value, float) and abs(value) >= 1e5:
            shown = f"{value / 1e6:.1f}M"
            goal = f"{t['goal'] / 1e6:.0f}M"
        else:
            shown, goal = _fmt(value, ".3f"), t["goal"]
        goal = f"{t['op']} {goal}{t['unit']}"
        print(f"  [{mark:>12s}] {t['target']}: {shown} (target {goal})")

    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": (datetime.datetime.now() - started).total_seconds(),
        "argv": sys.argv,
        "machine": info,
        "missing_peers": {k: v for k, v in bench.missing.items() if v},
        "sections": bench.sections,
        "targets": bench.targets,
    }
    stamp = started.strftime("%Y%m%d-%H%M%S")
    paths = [RESULTS / f"speed-{stamp}.json", RESULTS / "speed-latest.json"]
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        paths.append(args.json)
    for path in paths:
        path.write_text(json.dumps(record, indent=1, default=float))
    print(f"\nresults: {RESULTS / f'speed-{stamp}.json'}")


if __name__ == "__main__":
    main()
