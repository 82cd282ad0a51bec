"""Implicit-feedback ALS of skmf and of the implicit library on HetRec Last.fm.

    python benchmarks/implicit_lastfm.py [--data ../shared/data/lastfm-2k] [--repeat 3]

Protocol: weights log1p(plays), a random 20% of the (user, artist) pairs held
out (``numpy.random.default_rng(0).random(n) < 0.2`` over the file's rows),
the users' training artists excluded from their top 10. Both libraries fit
the same training pairs with 64 factors, regularization 0.05, confidence
scale (implicit's ``alpha``) 2.0 and 15 iterations, in this one run, and both
are scored by the same code, ``skmf.metrics``. The fit time is the best of
``--repeat`` fits, the libraries taking turns. Peers that are not installed
are reported as missing.

skmf's confidence is Hu et al.'s ``1 + a * y``; the implicit library's is
``a * r``. skmf is fitted twice: on y = r (its own model) and on
y = r - 1 / a, which gives exactly implicit's confidences (the same
objective), the row compared with implicit.
"""

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from skmf import ImplicitMatrixFactorization
from skmf.metrics import ranking_metrics

DEFAULT_DATA = (
    Path(
        os.environ.get(
            "SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "lastfm-2k"
)
FACTORS, REGULARIZATION, CONFIDENCE_SCALE, ITERATIONS = 64, 0.05, 2.0, 15


def split(path):
    plays = pd.read_csv(path / "user_artists.dat", sep="\t")
    test = np.random.default_rng(0).random(len(plays)) < 0.2
    return plays[~test], plays[test]


def best_times(fits, repeat):
    """The last model of each fit and its shortest time, in seconds.

    The fits take turns, so that a burst of load on a shared machine slows
    them alike.
    """
    models, times = {}, {name: [] for name in fits}
    for _ in range(repeat):
        for name, fit in fits.items():
            start = time.perf_counter()
            models[name] = fit()
            times[name].append(time.perf_counter() - start)
    return {name: (models[name], min(times[name])) for name in fits}


def fit_skmf(train, shift=0.0):
    """skmf's ALS on y = log1p(plays) - shift."""
    model = ImplicitMatrixFactorization(
        n_components=FACTORS,
        alpha=REGULARIZATION,
        confidence_scale=CONFIDENCE_SCALE,
        max_iter=ITERATIONS,
        random_state=0,
    )
    return model.fit(train[["userID", "artistID"]], np.log1p(train["weight"]) - shift)


def with_factors(model, user_factors, item_factors):
    """A copy of a fitted skmf model scoring by other factors (same id order)."""
    other = copy.deepcopy(model)
    other.user_factors_ = np.ascontiguousarray(user_factors)
    other.item_factors_ = np.ascontiguousarray(item_factors)
    return other


def popularity(model):
    """Rank items by their number of training users, for every user."""
    ones = np.ones((model.users_.shape[0], 1))
    return with_factors(model, ones, model.item_popularity_[:, None].astype(float))


def fit_implicit(train, skmf_model):
    """A function fitting implicit's ALS on the same pairs, in skmf's id order."""
    from implicit.als import AlternatingLeastSquares

    users = skmf_model._user_index.get_indexer(train["userID"])
    items = skmf_model._item_index.get_indexer(train["artistID"])
    shape = (skmf_model.users_.shape[0], skmf_model.items_.shape[0])
    matrix = sp.csr_matrix(
        (np.log1p(train["weight"].to_numpy()).astype(np.float32), (users, items)),
        shape=shape,
    )

    def fit():
        model = AlternatingLeastSquares(
            factors=FACTORS,
            regularization=REGULARIZATION,
            alpha=CONFIDENCE_SCALE,
            iterations=ITERATIONS,
            random_state=0,
        )
        model.fit(matrix, show_progress=False)
        return model

    return fit


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    train, test = split(args.data)
    held_out = test[["userID", "artistID"]]
    print(f"Last.fm: {len(train)} training pairs, {len(test)} held out")

    skmf_model = fit_skmf(train)  # the ids' order, for the peer's matrix
    fits = {
        "skmf": lambda: fit_skmf(train),
        "skmf a*r": lambda: fit_skmf(train, shift=1 / CONFIDENCE_SCALE),
    }
    try:
        fits["implicit"] = fit_implicit(train, skmf_model)
    except ImportError as exc:
        print(f"implicit ALS: missing ({exc.name} is not installed)")
    results = best_times(fits, args.repeat)
    skmf_model, skmf_seconds = results["skmf"]
    same_model, same_seconds = results["skmf a*r"]
    rows = {
        "popularity": (ranking_metrics(popularity(skmf_model), held_out), None),
        "skmf, confidence 1 + a*r": (
            ranking_metrics(skmf_model, held_out),
            skmf_seconds,
        ),
        "skmf, confidence a*r (implicit's)": (
            ranking_metrics(same_model, held_out),
            same_seconds,
        ),
    }
    peer = None
    if "implicit" in results:
        peer, peer_seconds = results["implicit"]
        as_skmf = with_factors(skmf_model, peer.user_factors, peer.item_factors)
        rows["implicit AlternatingLeastSquares"] = (
            ranking_metrics(as_skmf, held_out),
            peer_seconds,
        )

    print(f"{'model':34s} {'p@10':>7s} {'NDCG@10':>8s} {'MAP@10':>7s} {'fit s':>6s}")
    for name, (metrics, seconds) in rows.items():
        fit_time = "" if seconds is None else f"{seconds:6.2f}"
        print(
            f"{name:34s} {metrics['precision']:7.4f} {metrics['ndcg']:8.4f} "
            f"{metrics['map']:7.4f} {fit_time:>6s}"
        )
    if peer is not None:
        ours, _ = rows["skmf, confidence a*r (implicit's)"]
        theirs, _ = rows["implicit AlternatingLeastSquares"]
        ratios = {
            name: ours[name] / theirs[name] for name in ("precision", "ndcg", "map")
        }
        print(
            f"{'skmf / implicit':34s} {ratios['precision']:7.3f} {ratios['ndcg']:8.3f} "
            f"{ratios['map']:7.3f} {same_seconds / peer_seconds:6.2f}"
        )


if __name__ == "__main__":
    main()
