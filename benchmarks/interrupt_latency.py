"""How long a fit takes to stop after Ctrl-C, for every estimator and solver.

    python benchmarks/interrupt_latency.py                  # 5M ratings, all cases
    python benchmarks/interrupt_latency.py --only "MF als exact" --delays 4
    python benchmarks/interrupt_latency.py --n-ratings 500000   # a quick look

For each case a child process loads the ratings (``skmf.datasets.make_ratings``,
generated once and cached in ``benchmarks/results/data/``), says when it
starts ``fit`` and then fits with far more iterations than it can finish. The
parent sends it SIGINT a few seconds later (once per ``--delays`` entry, so
that the signal lands at different points of a sweep) and measures:

- *to KeyboardInterrupt*: from the signal to the child's ``except
  KeyboardInterrupt`` (both read ``time.monotonic``, one clock for the whole
  machine on Linux);
- *to exit*: from the signal to the child's exit, as ``waitpid`` sees it.

A compiled kernel only returns control to Python between calls, so these are
about the longest kernel call of the fit. The skmf imported is the one on
``sys.path`` (set ``PYTHONPATH`` to measure another checkout). Results are
printed as a table and saved as JSON in ``benchmarks/results/``.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CACHE = RESULTS / "data"

# Fits far longer than any measurement: the signal always comes mid-fit.
LONG = 100_000
CASES = {
    "MF sgd": ("MatrixFactorization", dict(solver="sgd", max_iter=LONG)),
    "MF als exact": (
        "MatrixFactorization",
        dict(solver="als", cg_steps=None, max_iter=LONG),
    ),
    "MF als cg": ("MatrixFactorization", dict(solver="als", cg_steps=3, max_iter=LONG)),
    # Burn-in sweeps only: posterior samples would be stored.
    "Bayesian gibbs": (
        "BayesianMatrixFactorization",
        dict(burn_in=LONG, n_samples=1),
    ),
    "implicit cg": ("ImplicitMatrixFactorization", dict(solver="cg", max_iter=LONG)),
    "implicit cholesky": (
        "ImplicitMatrixFactorization",
        dict(solver="cholesky", max_iter=LONG),
    ),
}


def _data(n_ratings):
    """Path of the cached ratings, generating them on first use."""
    n_users, n_items = max(100, n_ratings // 50), max(50, n_ratings // 250)
    path = CACHE / f"interrupt-{n_ratings}-{n_users}x{n_items}.npz"
    if not path.exists():
        from skmf.datasets import make_ratings

        X, y = make_ratings(n_users, n_items, n_ratings, random_state=0)[:2]
        CACHE.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part.npz")
        np.savez(part, X=X, y=y)
        part.replace(path)
    return path


def child(case, data):
    """Fit one case until interrupted; report the times on stdout."""
    import skmf

    with np.load(data) as arrays:
        X, y = arrays["X"], arrays["y"]
    name, params = CASES[case]
    model = getattr(skmf, name)(random_state=0, **params)
    print(f"FIT {time.monotonic():.6f}", flush=True)
    try:
        model.fit(X, y)
    except KeyboardInterrupt:
        print(f"INTERRUPTED {time.monotonic():.6f}", flush=True)
        raise
    print("FINISHED", flush=True)


def measure(case, data, delay, timeout):
    """One fit interrupted ``delay`` s after it starts: the two latencies."""
    # The child's traceback of the interrupt goes to a file, not the table.
    errors = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", case, "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("FIT "):
        process.wait()
        errors.seek(0)
        raise RuntimeError(f"{case}: the child did not start fitting:\n{errors.read()}")
    time.sleep(delay)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return {"to_interrupt_s": None, "to_exit_s": None, "note": "killed"}
    exited = time.monotonic()
    caught = None
    for rest in process.stdout:
        if rest.startswith("INTERRUPTED "):
            caught = float(rest.split()[1])
        elif rest.startswith("FINISHED"):
            return {"to_interrupt_s": None, "to_exit_s": None, "note": "finished"}
    return {
        "to_interrupt_s": None if caught is None else caught - sent,
        "to_exit_s": exited - sent,
        "returncode": process.returncode,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-ratings", type=int, default=5_000_000)
    parser.add_argument(
        "--delays",
        type=float,
        nargs="+",
        default=[3.0, 4.5, 6.0],
        help="seconds from the start of fit to SIGINT, one fit each",
    )
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), default=None)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return

    import skmf

    data = _data(args.n_ratings)
    when = datetime.datetime.now().isoformat(timespec="seconds")
    print(
        f"skmf {skmf.__version__} at {Path(skmf.__file__).parent} | "
        f"{os.cpu_count()} CPUs | Python {platform.python_version()} | {when}"
    )
    print(f"{args.n_ratings:,} ratings ({data.name}); SIGINT after {args.delays} s\n")
    header = f"{'case':<20} {'to KeyboardInterrupt, s':>32} {'to exit, s':>26}  max"
    print(header)
    print("-" * len(header))
    results = {}
    for case in args.only or CASES:
        runs = [measure(case, data, d, args.timeout) for d in args.delays]
        results[case] = runs

        def column(key, runs=runs):
            return " ".join(
                "   -  " if r[key] is None else f"{r[key]:6.2f}" for r in runs
            )

        exits = [r["to_exit_s"] for r in runs if r["to_exit_s"] is not None]
        notes = ", ".join(r["note"] for r in runs if "note" in r)
        print(
            f"{case:<20} {column('to_interrupt_s'):>32} {column('to_exit_s'):>26}"
            f"  {max(exits, default=float('nan')):.2f} {notes}",
            flush=True,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"interrupt-{when.replace(':', '')}.json"
    out.write_text(
        json.dumps(
            {
                "when": when,
                "skmf": str(Path(skmf.__file__).parent),
                "n_ratings": args.n_ratings,
                "delays": args.delays,
                "results": results,
            },
            indent=1,
        )
    )
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
