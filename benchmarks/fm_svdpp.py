"""SVD++ by a factorization machine: skmf's SGD and ALS against Surprise, one run.

    python benchmarks/fm_svdpp.py [--data ../shared/data/ml-100k]
        [--folds 1 2 3 4 5] [--threads 1] [--no-surprise]

On the five canonical MovieLens 100K training sets (u.data minus u1.test ..
u5.test), each model is fitted and scored on the matching test set, in this
one process and interleaved fold by fold (so that a machine shared with other
jobs slows them alike):

- skmf ``FactorizationMachine(solver="sgd")`` and ``solver="als"``, each on
  the user and item ids alone and with the items each user rated (implicit
  feedback from the training fold only, as in SVD++), with their defaults;
- Surprise's ``SVDpp`` and ``SVD`` with their defaults, when ``pip install
  scikit-surprise`` has installed them (the ``bench`` extra).

It prints the per-fold RMSE, then a table of the mean RMSE and MAE and the
mean fit time per fold, and each model's fit time as a multiple of skmf's
SGD with implicit feedback. Everything runs on one thread (OMP_NUM_THREADS=1
is set before skmf is imported) unless ``--threads``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_DATA = (
    Path(
        os.environ.get(
            "SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "ml-100k"
)


def skmf_models():
    """The skmf configurations: (name, estimator factory)."""
    from skmf import FactorizationMachine

    models = []
    for solver in ("sgd", "als"):
        for implicit in ("none", "user"):
            name = f"skmf FM {solver}, ids" + (
                " + implicit" if implicit != "none" else ""
            )
            models.append(
                (
                    name,
                    lambda s=solver, i=implicit: FactorizationMachine(
                        solver=s, implicit_feedback=i, random_state=0
                    ),
                )
            )
    return models


def run_skmf(make, train, test):
    start = time.perf_counter()
    model = make().fit(train[["user", "item"]], train["rating"])
    fit = time.perf_counter() - start
    return model.predict(test[["user", "item"]]), fit


def run_surprise(algorithm, train, test):
    import numpy as np
    from surprise import Dataset, Reader

    reader = Reader(rating_scale=(1, 5))
    data = Dataset.load_from_df(train[["user", "item", "rating"]], reader)
    start = time.perf_counter()
    trainset = data.build_full_trainset()
    model = algorithm(random_state=0).fit(trainset)
    fit = time.perf_counter() - start
    pairs = zip(test["user"], test["item"], strict=True)
    return np.array([model.predict(u, i).est for u, i in pairs]), fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-surprise", action="store_true")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if not (args.data / "u.data").exists():
        sys.exit(f"No MovieLens 100K in {args.data}: pass --data or set SKMF_DATA.")

    import numpy as np

    from skmf.datasets import load_movielens_100k_folds

    folds = load_movielens_100k_folds(args.data)
    models = [(name, make, run_skmf) for name, make in skmf_models()]
    if not args.no_surprise:
        try:
            from surprise import SVD, SVDpp
        except ImportError:
            print("Surprise is not installed (pip install scikit-surprise).")
        else:
            models += [
                ("Surprise SVDpp", SVDpp, run_surprise),
                ("Surprise SVD", SVD, run_surprise),
            ]
    results = {name: {"rmse": [], "mae": [], "fit": []} for name, _, _ in models}
    for fold in args.folds:
        train, test = folds[fold - 1]
        y = test["rating"].to_numpy(dtype=float)
        for name, make, run in models:
            predicted, fit = run(make, train, test)
            error = predicted - y
            results[name]["rmse"].append(float(np.sqrt(np.mean(error**2))))
            results[name]["mae"].append(float(np.mean(np.abs(error))))
            results[name]["fit"].append(fit)
            print(
                f"u{fold}  {name:<32} RMSE {results[name]['rmse'][-1]:.4f}  "
                f"fit {fit:6.2f} s",
                flush=True,
            )

    reference = "skmf FM sgd, ids + implicit"
    base_fit = np.mean(results[reference]["fit"])
    print()
    print(
        f"MovieLens 100K, folds {' '.join(f'u{f}' for f in args.folds)}, "
        f"{args.threads} thread(s), {time.strftime('%Y-%m-%d')}"
    )
    print()
    print("| model | RMSE | MAE | fit s / fold | fit time / skmf sgd + implicit |")
    print("|---|---|---|---|---|")
    for name, figures in results.items():
        fit = np.mean(figures["fit"])
        print(
            f"| {name} | {np.mean(figures['rmse']):.4f} | "
            f"{np.mean(figures['mae']):.4f} | {fit:.2f} | {fit / base_fit:.1f}x |"
        )
    print()
    for name, figures in results.items():
        per_fold = ", ".join(f"{r:.4f}" for r in figures["rmse"])
        print(f"{name}: {per_fold}")


if __name__ == "__main__":
    main()
