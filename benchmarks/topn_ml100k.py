"""Top-N accuracy (P@10, NDCG@10) of every skmf model on MovieLens 100K's folds.

    python benchmarks/topn_ml100k.py [--data ../shared/data/ml-100k]
        [--candidates] [--json benchmarks/results/topn_ml100k.json]

Every model is fitted on the five canonical training sets (u.data minus
u1.test .. u5.test, ``skmf.datasets.load_movielens_100k_folds``) and each
training user's top 10 (training items excluded) is scored by
``skmf.metrics`` against the matching test fold, two ways: every test pair
relevant ("all"), and only test ratings of 4 or 5 ("liked"). The popularity
ranking (items by number of training ratings) is scored by the same code.
``ImplicitMatrixFactorization`` is fitted on the same training pairs with
``y=None``: which items a user rated, not how.

A row named after a model is its ``recommend`` (the default ranking); the
rows "model: rule" rank by a rule computed here from the model's fitted
attributes, outside skmf. The former default, the predicted rating, is always
scored; ``--candidates`` adds every rule that was tried for the explicit
models' ``recommend``, to show why the default is what it is, and PureSVD
(Cremonesi et al., 2010) as a reference.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import log_ndtr
from sklearn.base import BaseEstimator

from skmf import (
    BayesianMatrixFactorization,
    ImplicitMatrixFactorization,
    MatrixFactorization,
)
from skmf.datasets import load_movielens_100k_folds
from skmf.metrics import ranking_metrics

DEFAULT_DATA = (
    Path(
        os.environ.get(
            "SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "ml-100k"
)
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "topn_ml100k.json"
K = 10


class Ranking(BaseEstimator):
    """A recommender from a dense users x items score matrix (public API only).

    Has what ``skmf.metrics`` reads: ``users_``, ``items_`` and
    ``recommend(users, n, exclude_seen=...)``.
    """

    def __init__(self, users, items, scores, seen):
        self.users_, self.items_ = users, items
        self._scores, self._seen = scores, seen
        self._user_codes = {user: code for code, user in enumerate(users)}

    def fit(self, X=None, y=None):
        # Built fitted; check_is_fitted wants an estimator, with a fit method.
        return self

    def __sklearn_is_fitted__(self):
        return True

    def recommend(self, users, n=10, *, exclude_seen=True):
        codes = np.array([self._user_codes[user] for user in users])
        scores = self._scores[codes].astype(np.float64, copy=True)
        if exclude_seen:
            scores[self._seen[codes].toarray()] = -np.inf
        cols = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        return self.items_[cols], np.take_along_axis(scores, cols, axis=1)


def seen_matrix(model, train):
    users = model._user_index.get_indexer(train["user"])
    items = model._item_index.get_indexer(train["item"])
    return sp.csr_matrix(
        (np.ones(users.shape[0], dtype=bool), (users, items)),
        shape=(model.users_.shape[0], model.items_.shape[0]),
    )


def popularity(train):
    """Items by number of training ratings, the same for every user."""
    user_codes, users = pd.factorize(train["user"], sort=True)
    item_codes, items = pd.factorize(train["item"], sort=True)
    seen = sp.csr_matrix(
        (np.ones(user_codes.shape[0], dtype=bool), (user_codes, item_codes)),
        shape=(users.shape[0], items.shape[0]),
    )
    counts = np.bincount(item_codes, minlength=items.shape[0]).astype(np.float64)
    scores = np.broadcast_to(counts, seen.shape)
    return Ranking(np.asarray(users), np.asarray(items), scores, seen)


# Ranking rules tried for the explicit models, from their fitted attributes:
# r̂ = μ + b_u + b_i + w_u·h_i before clipping, n_i = item_popularity_, and
# span = max - min of the training ratings (4 stars here).


def predicted_rating(model):
    """The former default of recommend: the predicted rating."""
    return (
        model.intercept_
        + model.user_bias_[:, None]
        + model.item_bias_[None, :]
        + model.user_factors_.astype(np.float64) @ model.item_factors_.T
    )


predicted_rating.__name__ = "predicted rating r̂ (the former default)"


def span(model):
    low, high = model.rating_range_
    return high - low


def factor_term(model):
    return model.user_factors_.astype(np.float64) @ model.item_factors_.T


factor_term.__name__ = "factor term w_u·h_i"


def rating_plus_log_popularity(beta):
    """r̂ + beta·log(1 + n_i): beta stars per factor e of popularity."""

    def score(model):
        return predicted_rating(model) + beta * np.log1p(model.item_popularity_)

    score.__name__ = f"r̂ + {beta:g}·log(1+n_i)"
    return score


def log_popularity_plus_rating(weight):
    """log(1 + n_i) + weight·(r̂ - μ)/span: popularity tilted by the rating."""

    def score(model):
        tilt = (predicted_rating(model) - model.intercept_) / span(model)
        return np.log1p(model.item_popularity_) + weight * tilt

    score.__name__ = f"log(1+n_i) + {weight:g}·(r̂-μ)/span"
    return score


def log_popularity_plus_taste(weight):
    """log(1 + n_i) + weight·w_u·h_i/span: popularity tilted by the taste.

    ``weight=1`` is what ``recommend`` ranks by.
    """

    def score(model):
        taste = factor_term(model) / span(model)
        return np.log1p(model.item_popularity_) + weight * taste

    score.__name__ = f"log(1+n_i) + {weight:g}·w_u·h_i/span" + (
        " (the default)" if weight == 1 else ""
    )
    return score


def log_popularity_times_liking(threshold, spread):
    """log n_i + log P(rating >= threshold | r̂): rated and liked."""

    def score(model):
        liked = log_ndtr((predicted_rating(model) - threshold) / spread)
        return np.log(model.item_popularity_) + liked

    score.__name__ = f"log n_i + log Φ((r̂-{threshold:g})/{spread:g})"
    return score


def pure_svd(n_components):
    """Cremonesi et al.'s PureSVD: SVD of the ratings with zeros, r_u V Vᵀ."""

    def score(model, train):
        from scipy.sparse.linalg import svds

        users = model._user_index.get_indexer(train["user"])
        items = model._item_index.get_indexer(train["item"])
        ratings = sp.csr_matrix(
            (train["rating"].to_numpy(np.float64), (users, items)),
            shape=(model.users_.shape[0], model.items_.shape[0]),
        )
        _, _, vt = svds(ratings, k=n_components, random_state=0)
        return np.asarray(ratings @ vt.T @ vt)

    score.__name__ = f"PureSVD, {n_components} factors (a model of its own)"
    score.needs_train = True
    return score


CANDIDATES = [
    factor_term,
    rating_plus_log_popularity(1.0),
    rating_plus_log_popularity(4.0),
    log_popularity_plus_rating(0.5),
    log_popularity_times_liking(3.5, 1.0),
    log_popularity_plus_taste(0.5),
    log_popularity_plus_taste(1.0),
    log_popularity_plus_taste(2.0),
    log_popularity_plus_taste(4.0),
    pure_svd(50),
]


def explicit(estimator, **params):
    def fit(train):
        model = estimator(random_state=0, **params)
        return model.fit(train[["user", "item"]], train["rating"])

    return fit


def implicit(train):
    model = ImplicitMatrixFactorization(random_state=0)
    return model.fit(train[["user", "item"]])


MODELS = {
    "MatrixFactorization sgd": explicit(MatrixFactorization, solver="sgd"),
    "MatrixFactorization als": explicit(MatrixFactorization, solver="als"),
    "BayesianMatrixFactorization": explicit(BayesianMatrixFactorization),
    "ImplicitMatrixFactorization (y=None)": implicit,
}
EXPLICIT = [name for name in MODELS if not name.startswith("Implicit")]


def score_both(recommender, test):
    """P@10 and NDCG@10 with all test pairs, and with ratings >= 4, relevant."""
    liked = test[test["rating"] >= 4]
    out = {}
    for relevance, pairs in (("all", test), ("liked", liked)):
        metrics = ranking_metrics(recommender, pairs[["user", "item"]], k=K)
        out[relevance] = {"precision": metrics["precision"], "ndcg": metrics["ndcg"]}
    return out


def run(folds, candidates):
    """{row name: [per-fold {relevance: {metric: value}}]} and fit seconds."""
    rows, seconds = {}, {}
    for k, (train, test) in enumerate(folds, 1):
        rows.setdefault("popularity", []).append(score_both(popularity(train), test))
        for name, fit in MODELS.items():
            start = time.perf_counter()
            model = fit(train)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            rows.setdefault(name, []).append(score_both(model, test))
            if name in EXPLICIT:
                seen = seen_matrix(model, train)
                rules = [predicted_rating] + (CANDIDATES if candidates else [])
                for rule in rules:
                    if getattr(rule, "needs_train", False):
                        if name != EXPLICIT[0]:
                            continue
                        row, scores = rule.__name__, rule(model, train)
                    else:
                        row, scores = f"{name}: {rule.__name__}", rule(model)
                    ranking = Ranking(model.users_, model.items_, scores, seen)
                    rows.setdefault(row, []).append(score_both(ranking, test))
        print(f"fold {k} done", file=sys.stderr)
    return rows, seconds


def summarise(rows):
    table = {}
    for name, per_fold in rows.items():
        table[name] = {
            relevance: {
                metric: {
                    "folds": [fold[relevance][metric] for fold in per_fold],
                    "mean": float(
                        np.mean([fold[relevance][metric] for fold in per_fold])
                    ),
                }
                for metric in ("precision", "ndcg")
            }
            for relevance in ("all", "liked")
        }
    return table


def print_table(table):
    width = max(len(name) for name in table)
    print(
        f"{'ranking':{width}s}  {'P@10 all':>9s} {'NDCG all':>9s}"
        f"  {'P@10 ≥4':>9s} {'NDCG ≥4':>9s}"
    )
    for name, row in table.items():
        print(
            f"{name:{width}s}  {row['all']['precision']['mean']:9.4f} "
            f"{row['all']['ndcg']['mean']:9.4f}  "
            f"{row['liked']['precision']['mean']:9.4f} "
            f"{row['liked']['ndcg']['mean']:9.4f}"
        )
    print("\nper fold, P@10 (all test pairs relevant):")
    for name, row in table.items():
        folds = " ".join(f"{v:.4f}" for v in row["all"]["precision"]["folds"])
        print(f"{name:{width}s}  {folds}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument(
        "--candidates",
        action="store_true",
        help="also score the ranking rules tried for the explicit models",
    )
    args = parser.parse_args()
    if not (args.data / "u.data").is_file():
        print(
            f"skipped: MovieLens 100K not found in {args.data} (pass --data with "
            "the ml-100k folder of the GroupLens archive, or set SKMF_DATA to the "
            "folder holding ml-100k).",
            file=sys.stderr,
        )
        return
    folds = load_movielens_100k_folds(args.data)
    rows, seconds = run(folds, args.candidates)
    table = summarise(rows)
    print_table(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/topn_ml100k.py"
        + (" --candidates" if args.candidates else ""),
        "k": K,
        "relevance": {
            "all": "every test pair of the fold is relevant",
            "liked": "only test ratings >= 4 are relevant",
        },
        "fit_seconds_mean": {name: float(np.mean(s)) for name, s in seconds.items()},
        "rows": table,
    }
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
