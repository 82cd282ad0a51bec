"""The distributed fit (skmf.dask) against the local fit and Spark MLlib ALS.

    python benchmarks/dask_als.py                   # 10M ratings, K=64, CG
    python benchmarks/dask_als.py --no-spark --ratings 1000000 --users 20000
    python benchmarks/dask_als.py --no-spark --repeat 3   # 3 interleaved pairs

One data set from ``skmf.datasets.make_ratings`` (by default 10M ratings of
50K items by 200K users), written as Parquet partitions, then three fits of
the same rank and number of sweeps, each in a fresh process so that each
reports its own peak memory:

1. ``MatrixFactorization(solver="als")`` in one process on ``--threads``
   threads (the local fit);
2. ``DaskMatrixFactorization`` on a ``LocalCluster`` of ``--workers`` worker
   processes with one thread each, reading the Parquet partitions with
   ``dd.read_parquet`` (the ratings never reach the client);
3. Spark MLlib ALS in ``local[--threads]`` (optional: ``pip install pyspark``
   and a Java 17+ runtime), with the JVM start, the DataFrame preparation and
   a warm-up fit timed apart.

Per sweep (Spark: per iteration) times are medians over the sweeps after the
first; the distributed fit's setup (reading, id tables, blocks) is reported
apart from its sweeps. The printed ratios are those of this run; the figures
are only meaningful on a quiet machine, so the load average is printed too.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _peak_rss_mb():
    """This process's own peak RSS (VmHWM: getrusage's would count the peak of
    the parent that wrote the data, which it inherits across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data(args):
    from skmf.datasets import make_ratings

    X, y = make_ratings(
        args.users, args.items, args.ratings, random_state=0, rating_scale=(1, 5)
    )
    return X[:, 0].astype(np.int64), X[:, 1].astype(np.int64), y.astype(np.float64)


def _write_parquet(args, folder):
    import pandas as pd

    users, items, y = _data(args)
    frame = pd.DataFrame({"user": users, "item": items, "rating": y})
    n = len(frame)
    step = -(-n // args.partitions)
    for p, start in enumerate(range(0, n, step)):
        frame.iloc[start : start + step].to_parquet(
            Path(folder) / f"part.{p:03d}.parquet", index=False
        )


def _timed(cls, times, cpu, cpu_seconds=time.process_time):
    """Record each step's wall time in ``times``, and in ``cpu`` the CPU
    seconds that ``cpu_seconds()`` counts (the kernels' threads included)."""
    original = cls.step

    def step(self):
        used = cpu_seconds()
        start = time.perf_counter()
        result = original(self)
        times.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - used)
        return result

    cls.step = step


def _params(args):
    return dict(
        n_components=args.k,
        cg_steps=args.cg_steps,
        max_iter=args.sweeps,
        alpha=0.1,
        random_state=0,
    )


def run_local(args, folder):
    import pandas as pd

    from skmf import MatrixFactorization
    from skmf._mf import _SOLVERS

    frame = pd.read_parquet(folder)
    times, cpu = [], []
    _timed(_SOLVERS["als"], times, cpu)
    mf = MatrixFactorization(solver="als", n_jobs=args.threads, **_params(args))
    mf.fit(frame[["user", "item"]], frame["rating"])
    return {
        "sweep_s": times,
        "sweep_cpu_s": cpu,
        "fit_s": mf.fit_time_,
        "final_loss": mf.loss_curve_[-1],
        "peak_rss_mb": _peak_rss_mb(),
    }


def _warm_up():
    import pyarrow  # noqa: F401

    import skmf.dask  # noqa: F401


def run_dask(args, folder):
    import dask.dataframe as dd
    import distributed

    from skmf import dask as skmf_dask

    times, cpu = [], []
    with (
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Fresh worker processes import skmf, pandas and pyarrow on their
        # first task: a cost of starting the cluster, not of the fit.
        client.run(_warm_up)

        client_cpu = []

        def cpu_seconds():
            # Of the workers, where the kernels run, and of this process.
            client_cpu.append(time.process_time())
            return sum(client.run(time.process_time).values()) + client_cpu[-1]

        _timed(skmf_dask._DaskALS, times, cpu, cpu_seconds)
        start = time.perf_counter()
        ddf = dd.read_parquet(folder)
        mf = skmf_dask.DaskMatrixFactorization(n_blocks=args.blocks, **_params(args))
        with distributed.get_task_stream(client) as stream:
            mf.fit(ddf[["user", "item"]], ddf["rating"])
        fit_s = time.perf_counter() - start
        workers = client.run(_peak_rss_mb)
        start = time.perf_counter()
        predicted = mf.predict(ddf[["user", "item"]]).sum().compute()
        predict_s = time.perf_counter() - start
    return {
        "sweep_s": times,
        "sweep_cpu_s": cpu,
        # Of the client alone: two readings per sweep, before and after.
        "sweep_client_cpu_s": list(np.diff(client_cpu)[::2]),
        "fit_s": fit_s,
        "setup_s": fit_s - sum(times),
        "predict_all_s": predict_s,
        "predicted_sum": float(predicted),
        "n_blocks": list(mf.n_blocks_),
        "final_loss": mf.loss_curve_[-1],
        "client_peak_rss_mb": _peak_rss_mb(),
        "worker_peak_rss_mb": sorted(workers.values()),
        "tasks": _task_summary(stream.data),
    }


def _task_summary(records):
    """Per kind of task (the function's name): how many ran, and the median
    and total seconds of computing and of fetching their inputs."""
    from dask.utils import key_split

    kinds = {}
    for record in records:
        kind = key_split(record["key"])
        entry = kinds.setdefault(kind, {"compute": [], "transfer": 0.0})
        for span in record["startstops"]:
            seconds = span["stop"] - span["start"]
            if span["action"] == "compute":
                entry["compute"].append(seconds)
            elif span["action"] == "transfer":
                entry["transfer"] += seconds
    return {
        kind: {
            "n": len(entry["compute"]),
            "median_s": round(float(np.median(entry["compute"])), 4)
            if entry["compute"]
            else 0.0,
            "compute_s": round(sum(entry["compute"]), 3),
            "transfer_s": round(entry["transfer"], 3),
        }
        for kind, entry in sorted(kinds.items())
    }


def run_spark(args, folder):
    sys.path.insert(0, str(HERE))
    from _peers import run_spark as spark

    users, items, y = _data(args)
    result = spark(
        [{"train": (users, items, y)}], [[args.k, args.sweeps]], reg=0.1, threads=2
    )
    fit = result["fits"][0]
    return {
        "fit_s": fit["fit_s"],
        "iteration_s": fit["fit_s"] / args.sweeps,
        "prep_s": fit["prep_s"],
        "jvm_start_s": result["startup_s"],
        "warmup_s": result["warmup_s"],
        "peak_rss_mb_tree": result["peak_rss_mb_tree"],
    }


RUNS = {"local": run_local, "dask": run_dask, "spark": run_spark}


def _child(args, part, folder):
    env, flags = None, []
    if part == "other":
        # The distributed fit of another skmf checkout (built in place). An
        # editable install's import hook would win over PYTHONPATH: -S leaves
        # out the .pth files, and the workers inherit both.
        site = sysconfig.get_paths()["purelib"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([args.other, site]))
        part, flags = "dask", ["-S"]
    command = [sys.executable, *flags, __file__, "--part", part, "--folder", folder]
    for name in ("ratings", "users", "items", "k", "sweeps", "cg_steps", "threads"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    command += ["--workers", str(args.workers), "--partitions", str(args.partitions)]
    if args.blocks is not None:
        command += ["--blocks", str(args.blocks)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return {"error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_after_first(times):
    return float(np.median(times[1:] if len(times) > 1 else times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--sweeps", type=int, default=6)
    parser.add_argument("--cg-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="pairs of local and Dask fits"
    )
    parser.add_argument(
        "--other",
        metavar="PATH",
        help="also fit with the skmf package found in PATH (before/after)",
    )
    parser.add_argument("--part", choices=sorted(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.part:
        print(json.dumps(RUNS[args.part](args, args.folder)))
        return

    print(
        f"{args.ratings:,} ratings, {args.users:,} users, {args.items:,} items, "
        f"K={args.k}, CG {args.cg_steps} steps, {args.sweeps} sweeps; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    results = {"date": time.strftime("%Y-%m-%d"), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="skmf-dask-bench-") as folder:
        _write_parquet(args, folder)
        # Local and distributed fits alternate, so that a change in the
        # machine's other load shows as a spread of the pairs' ratios.
        pairs = ["local", "dask"] + (["other"] if args.other else [])
        runs = {part: [] for part in pairs}
        for _ in range(args.repeat):
            for part in pairs:
                runs[part].append(_child(args, part, folder))
                print(f"  {part}: {json.dumps(runs[part][-1])}", flush=True)
        results.update({part: r[0] for part, r in runs.items()})
        if not args.no_spark:
            results["spark"] = _child(args, "spark", folder)
            print(f"  spark: {json.dumps(results['spark'])}", flush=True)
    if args.repeat > 1 and all("error" not in r for r in sum(runs.values(), [])):
        for part in pairs[1:]:
            ratios = [
                _median_after_first(d["sweep_s"]) / _median_after_first(o["sweep_s"])
                for o, d in zip(runs["local"], runs[part], strict=True)
            ]
            cpu = [
                _median_after_first(d["sweep_cpu_s"])
                / _median_after_first(o["sweep_cpu_s"])
                for o, d in zip(runs["local"], runs[part], strict=True)
            ]
            print(
                f"{part} / local per sweep, each pair: "
                f"{', '.join(f'{r:.2f}' for r in ratios)} (median "
                f"{np.median(ratios):.2f}); CPU seconds "
                f"{', '.join(f'{r:.2f}' for r in cpu)} (median {np.median(cpu):.2f})"
            )
    local, dist = results["local"], results["dask"]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if "error" in local or "error" in dist:
        print("a fit failed; no ratios")
        return
    local_sweep = _median_after_first(local["sweep_s"])
    dask_sweep = _median_after_first(dist["sweep_s"])
    print(
        f"seconds per sweep: local ({args.threads} threads) {local_sweep:.2f}, "
        f"Dask ({args.workers} workers x 1 thread) {dask_sweep:.2f}: "
        f"{dask_sweep / local_sweep:.2f}x the local time"
    )
    # The median leaves out the checkpoint sweeps (the factors to the client
    # and back); the mean counts them.
    local_mean = float(np.mean(local["sweep_s"][1:] or local["sweep_s"]))
    dask_mean = float(np.mean(dist["sweep_s"][1:] or dist["sweep_s"]))
    print(
        f"mean after the first, checkpoints included: local {local_mean:.2f}, "
        f"Dask {dask_mean:.2f}: {dask_mean / local_mean:.2f}x"
    )
    for kind, entry in dist["tasks"].items():
        if kind in ("als_block", "rows_of", "stats", "factor_root"):
            print(
                f"  {kind}: {entry['n']} tasks, median {entry['median_s']:.3f} s, "
                f"inputs fetched in {entry['transfer_s']:.2f} s in all"
            )
    local_cpu = _median_after_first(local["sweep_cpu_s"])
    dask_cpu = _median_after_first(dist["sweep_cpu_s"])
    print(
        f"CPU seconds per sweep (the machine's other load left out): local "
        f"{local_cpu:.2f}, Dask workers and client {dask_cpu:.2f} (client "
        f"{_median_after_first(dist['sweep_client_cpu_s']):.2f}): "
        f"{dask_cpu / local_cpu:.2f}x"
    )
    print(
        f"Dask setup (read Parquet, ids, blocks) and the final gather "
        f"{dist['setup_s']:.1f} s; peak RSS: "
        f"client {dist['client_peak_rss_mb']:.0f} MB, workers "
        f"{', '.join(f'{m:.0f}' for m in dist['worker_peak_rss_mb'])} MB; local "
        f"fit {local['peak_rss_mb']:.0f} MB"
    )
    print(
        f"final training loss: local {local['final_loss']:.6f}, "
        f"Dask {dist['final_loss']:.6f}"
    )
    spark = results.get("spark")
    if spark and "error" not in spark:
        print(
            f"Spark MLlib ALS local[{args.threads}]: {spark['iteration_s']:.2f} s per "
            f"iteration ({spark['iteration_s'] / dask_sweep:.1f}x the Dask sweep); "
            f"JVM start {spark['jvm_start_s']:.1f} s, DataFrame preparation "
            f"{spark['prep_s']:.1f} s and warm-up {spark['warmup_s']:.1f} s apart"
        )
    elif spark:
        print(f"Spark MLlib ALS failed: {spark['error']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
