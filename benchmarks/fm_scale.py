"""Memory and time of factorization machines on 10M synthetic ratings.

    python benchmarks/fm_scale.py [--ratings 10000000] [--users 200000]
        [--items 50000] [--rank 32] [--sweeps 5] [--json PATH]

The data are ``make_ratings`` ratings (made once and written to a temporary
file, which each fit's process reads) with two attribute columns (a user
attribute with 20 categories, and an item attribute of one or two of 30
"genres", "|"-separated) and implicit feedback (each user's rated items from
the training ratings). Each estimator is fitted in its own process, which
reports the peak resident memory of the whole process (data included), the
memory the data alone took before the fit, and the seconds per sweep (or
epoch) of the fit. The Bayesian model keeps ``--samples`` samples of its
parameters, the part of its memory that grows with the sampling, in float32
(``gibbs``; ``--only gibbs-float64`` keeps them in float64).
"""

import argparse
import contextlib
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    # The kept samples in float32 (the sampler computes in float64): each is
    # every feature's factors, 77 MB in float64 at the default size.
    "gibbs": ("BayesianFactorizationMachine", {"dtype": "float32"}),
    "gibbs-float64": ("BayesianFactorizationMachine", {}),
    "als": ("FactorizationMachine", {"solver": "als"}),
    "sgd": ("FactorizationMachine", {"solver": "sgd"}),
}


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(path, n_ratings, n_users, n_items, seed=0):
    """Write the ratings and the attributes of every user and item to ``path``.

    Made once, in the parent process: generating 10M ratings takes more
    memory than a fit, and must not count in the fits' peaks.
    """
    import numpy as np

    from skmf.datasets import make_ratings

    X, y = make_ratings(n_users, n_items, n_ratings, random_state=seed)
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        users=X[:, 0],
        items=X[:, 1],
        ratings=y,
        segment=rng.integers(0, 20, n_users),
        genre=rng.integers(0, 30, (n_items, 2)),
        two=rng.random(n_items) < 0.5,
    )


def ratings_frame(path):
    import numpy as np
    import pandas as pd

    with np.load(path) as data:
        users, items, y = data["users"], data["items"], data["ratings"]
        segment, genre, two = data["segment"], data["genre"], data["two"]
    names = np.array(
        [f"g{a}|g{b}" if t else f"g{a}" for (a, b), t in zip(genre, two, strict=True)]
    )
    frame = pd.DataFrame({"user": users, "item": items})
    frame["segment"] = pd.Categorical.from_codes(segment[users], np.arange(20))
    genres, codes = np.unique(names, return_inverse=True)
    frame["genres"] = pd.Categorical.from_codes(codes[items], genres)
    return frame, y


def run_one(args):
    import skmf

    frame, y = ratings_frame(args.data)
    data_mb = peak_mb()
    name, params = CONFIGS[args.config]
    cls = getattr(skmf, name, None)
    if cls is None:
        return {"config": args.config, "skipped": f"skmf has no {name}"}
    sweeps = {"max_iter": args.sweeps}
    if name == "BayesianFactorizationMachine":
        sweeps = {
            "burn_in": max(args.sweeps - args.samples, 0),
            "n_samples": args.samples,
        }
    model = cls(
        n_components=args.rank,
        user_features=["segment"],
        item_features=["genres"],
        implicit_feedback="user",
        random_state=0,
        n_jobs=args.jobs,
        **sweeps,
        **params,
    )
    # The progress lines give the time since the first sweep began: the
    # seconds per sweep without the set-up (encoding, blocks).
    progress = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(progress):
        model.set_params(verbose=1).fit(frame, y)
    wall = time.perf_counter() - start
    last = progress.getvalue().strip().splitlines()[-1]
    loop_s = float(re.search(r", ([0-9.]+) s, ETA", last).group(1))
    return {
        "config": args.config,
        "n_ratings": len(y),
        "rank": args.rank,
        "sweeps": model.n_iter_,
        "fit_s": wall,
        "s_per_sweep": loop_s / model.n_iter_,
        "setup_s": wall - loop_s,
        "data_mb": data_mb,
        "peak_mb": peak_mb(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--config", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=CONFIGS, action="append")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.config:
        print(json.dumps(run_one(args)))
        return
    folder = tempfile.TemporaryDirectory()
    data = Path(folder.name) / "ratings.npz"
    make_data(data, args.ratings, args.users, args.items)
    results = []
    passed = ["--data", str(data)]
    for option in ("ratings", "users", "items", "rank", "sweeps", "samples", "jobs"):
        passed += [f"--{option}", str(getattr(args, option))]
    for config in args.only or CONFIGS:
        command = [sys.executable, __file__, *passed, "--config", config]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            results.append({"config": config, "failed": out.returncode})
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{args.ratings:,} ratings, {args.users:,} users x {args.items:,} items, "
        f"rank {args.rank}, implicit feedback + 2 attribute columns, "
        f"n_jobs={args.jobs}"
    )
    print(
        f"{'model':<16}{'s/sweep':>9}{'set-up s':>9}{'fit s':>8}{'data MB':>9}"
        f"{'peak MB':>9}"
    )
    for r in results:
        if "peak_mb" not in r:
            print(f"{r['config']:<16} {r.get('skipped') or 'failed'}")
            continue
        print(
            f"{r['config']:<16}{r['s_per_sweep']:>9.2f}{r['setup_s']:>9.1f}"
            f"{r['fit_s']:>8.1f}"
            f"{r['data_mb']:>9.0f}{r['peak_mb']:>9.0f}"
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
