"""RMSE/MAE of skmf and installed peers on MovieLens 100K's canonical folds.

    python benchmarks/accuracy_ml100k.py [--data ../shared/data/ml-100k]

Every model is fitted on the five canonical training sets (u.data minus
u1.test .. u5.test) and scored on the matching test fold, in this one run.
Peers that are not installed are reported as missing.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

from skmf import BayesianMatrixFactorization, MatrixFactorization
from skmf.datasets import load_movielens_100k_folds

DEFAULT_DATA = (
    Path(
        os.environ.get(
            "SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "ml-100k"
)


def skmf_model(estimator=MatrixFactorization, **params):
    def fit_predict(train, test):
        mf = estimator(random_state=0, **params)
        mf.fit(train[["user", "item"]], train["rating"])
        return mf.predict(test[["user", "item"]])

    return fit_predict


def skmf_ensemble(train, test):
    """The best configuration found: the average of 5 SGD and 3 ALS fits."""
    from sklearn.ensemble import VotingRegressor

    members = [(f"sgd{s}", MatrixFactorization(random_state=s)) for s in range(5)]
    members += [
        (f"als{s}", MatrixFactorization(solver="als", random_state=s)) for s in range(3)
    ]
    model = VotingRegressor(members).fit(train[["user", "item"]], train["rating"])
    return model.predict(test[["user", "item"]])


def surprise_svd(train, test):
    from surprise import SVD, Dataset, Reader

    data = Dataset.load_from_df(
        train[["user", "item", "rating"]], Reader(rating_scale=(1, 5))
    )
    algo = SVD(random_state=0).fit(data.build_full_trainset())
    return np.array(
        [
            algo.predict(u, i).est
            for u, i in zip(test["user"], test["item"], strict=True)
        ]
    )


MODELS = {
    "skmf sgd (defaults)": skmf_model(solver="sgd"),
    "skmf als (defaults)": skmf_model(solver="als"),
    "skmf als, exact solves": skmf_model(solver="als", cg_steps=None),
    "skmf 5 sgd + 3 als, averaged": skmf_ensemble,
    "skmf bayes (defaults)": skmf_model(BayesianMatrixFactorization),
    "skmf bayes, 20 samples": skmf_model(BayesianMatrixFactorization, n_samples=20),
    "skmf bayes, 200 samples": skmf_model(BayesianMatrixFactorization, n_samples=200),
    "Surprise SVD (defaults)": surprise_svd,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    folds = load_movielens_100k_folds(args.data)

    print(f"{'model':30s} {'RMSE':>7s} {'MAE':>7s} {'fit+predict s':>14s}")
    for name, fit_predict in MODELS.items():
        rmse, mae, start = [], [], time.perf_counter()
        try:
            for train, test in folds:
                error = fit_predict(train, test) - test["rating"].to_numpy()
                rmse.append(np.sqrt(np.mean(error**2)))
                mae.append(np.mean(np.abs(error)))
        except ImportError as exc:
            print(f"{name:30s} missing ({exc.name} is not installed)")
            continue
        seconds = (time.perf_counter() - start) / len(folds)
        print(f"{name:30s} {np.mean(rmse):7.4f} {np.mean(mae):7.4f} {seconds:14.2f}")


if __name__ == "__main__":
    main()
