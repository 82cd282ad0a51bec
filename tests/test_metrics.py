"""Ranking metrics, scorers and the per-user splitter.

The metrics are checked against values computed by hand on a model whose
factors are set by hand, and against a plain per-user loop on a fitted one.
"""

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.model_selection import GridSearchCV, cross_val_score

from skmf import ImplicitMatrixFactorization, MatrixFactorization
from skmf.metrics import (
    hit_rate_at_k,
    make_ranking_scorer,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from skmf.model_selection import PerUserHoldout

from .conftest import low_rank_ratings
from .test_implicit import two_groups


@pytest.fixture
def hand_model():
    """Every user ranks items 0 > 1 > ... > 5; popularity: item 1 first.

    Training pairs: A saw 0, B saw 5, C saw 1..4, D saw 1.
    """
    X = [["A", 0], ["B", 5], ["C", 1], ["C", 2], ["C", 3], ["C", 4], ["D", 1]]
    model = ImplicitMatrixFactorization(n_components=1, max_iter=1).fit(X)
    model.user_factors_ = np.ones((4, 1), dtype=np.float32)
    model.item_factors_ = np.arange(6, 0, -1, dtype=np.float32)[:, None]
    return model


# A ranks 1, 2, 3 (item 2 at rank 2, of 2 held out); B ranks 0, 1, 2 (item 1
# at rank 2, of 1 held out).
HELD_OUT = [["A", 2], ["A", 5], ["B", 1]]
GAIN = 1 / math.log2(3)
EXPECTED = {
    "precision": 2 / 3,
    "recall": (1 / 2 + 1) / 2,
    "map": ((1 / 2) / 2 + (1 / 2) / 1) / 2,
    "ndcg": (GAIN / (1 + GAIN) + GAIN / 1) / 2,
    "hit_rate": 1.0,
}
FUNCTIONS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": map_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
}


def test_hand_computed_values(hand_model):
    assert ranking_metrics(hand_model, HELD_OUT, k=3) == pytest.approx(EXPECTED)
    for name, function in FUNCTIONS.items():
        assert function(hand_model, HELD_OUT, k=3) == pytest.approx(EXPECTED[name])


def test_seen_items_can_count(hand_model):
    # A now ranks 0, 1, 2: item 2 at rank 3.
    metrics = ranking_metrics(hand_model, HELD_OUT, k=3, exclude_seen=False)
    assert metrics["map"] == pytest.approx(((1 / 3) / 2 + (1 / 2) / 1) / 2)


def test_repeats_unknown_items_and_unknown_users(hand_model):
    held_out = HELD_OUT + [["A", 2], ["A", "never seen"], ["Z", 1]]
    metrics = ranking_metrics(hand_model, held_out, k=3)
    # A: 3 distinct held-out items, 1 hit at rank 2; B as before; Z is unknown
    # and shown the most popular item, 1, first: a hit at rank 1.
    assert metrics["precision"] == pytest.approx(3 / (3 + 1 + 1))
    assert metrics["recall"] == pytest.approx((1 / 3 + 1 + 1) / 3)
    assert metrics["map"] == pytest.approx(((1 / 2) / 3 + (1 / 2) + 1) / 3)
    ideal_a = 1 + GAIN + 1 / math.log2(4)
    assert metrics["ndcg"] == pytest.approx((GAIN / ideal_a + GAIN + 1) / 3)


def test_k_longer_than_the_catalogue(hand_model):
    # Lists stop at the 5 unseen items; precision's denominator is min(k, n).
    metrics = ranking_metrics(hand_model, HELD_OUT, k=50)
    assert metrics["recall"] == 1.0
    assert metrics["precision"] == 1.0


def plain_metrics(model, X, k):
    """The definitions, one user at a time."""
    per_user = {name: [] for name in EXPECTED}
    hits_total = reachable = 0
    for user in pd.unique(X[:, 0]):
        relevant = set(X[X[:, 0] == user, 1])
        recs = list(model.recommend(user, n=k)[0])
        hits = [item in relevant for item in recs]
        m = min(k, len(relevant))
        hits_total += sum(hits)
        reachable += m
        per_user["recall"].append(sum(hits) / len(relevant))
        per_user["map"].append(
            sum(np.mean(hits[: r + 1]) for r in range(len(hits)) if hits[r]) / m
        )
        dcg = sum(1 / math.log2(r + 2) for r in range(len(hits)) if hits[r])
        per_user["ndcg"].append(dcg / sum(1 / math.log2(r + 2) for r in range(m)))
        per_user["hit_rate"].append(any(hits))
    result = {name: float(np.mean(v)) for name, v in per_user.items() if v}
    return {"precision": hits_total / reachable, **result}


@pytest.mark.parametrize("k", [1, 3, 10])
def test_vectorized_metrics_equal_a_plain_loop(k):
    X, y = two_groups(seed=3)
    test = np.random.default_rng(1).random(len(X)) < 0.3
    model = ImplicitMatrixFactorization(n_components=2, random_state=0)
    model.fit(X[~test], y[~test])
    assert ranking_metrics(model, X[test], k=k) == pytest.approx(
        plain_metrics(model, X[test], k)
    )


def test_metric_errors(hand_model):
    with pytest.raises(ValueError, match="two columns"):
        precision_at_k(hand_model, [["A", 1, 2]])
    with pytest.raises(ValueError, match="'k' parameter"):
        precision_at_k(hand_model, HELD_OUT, k=0)
    with pytest.raises(ValueError, match="'metric' parameter"):
        make_ranking_scorer("accuracy")


# --- scorers and model selection ----------------------------------------------------


def test_scorer_equals_the_metric(hand_model):
    scorer = make_ranking_scorer("map", k=3)
    assert scorer(hand_model, HELD_OUT) == map_at_k(hand_model, HELD_OUT, k=3)
    assert repr(scorer) == "make_ranking_scorer('map', k=3, exclude_seen=True)"


def test_grid_search_on_implicit_data():
    X, y = two_groups()
    scores = []
    for seed in range(3):
        grid = GridSearchCV(
            ImplicitMatrixFactorization(n_components=2, random_state=seed),
            {"alpha": [0.01, 100.0]},
            scoring={"ndcg": make_ranking_scorer(k=5), "p": precision_at_k},
            refit="ndcg",
            cv=PerUserHoldout(n_splits=3, random_state=0),
        ).fit(X, y)
        ndcg = grid.cv_results_["mean_test_ndcg"]
        assert grid.best_params_ == {"alpha": [0.01, 100.0][np.argmax(ndcg)]}
        assert grid.best_score_ == max(ndcg) > 0.5
        scores.append(ndcg)
    # Heavy regularization shrinks the factors towards what the initial noise
    # decides: worse rankings, on average over the seeds of that noise.
    light, heavy = np.mean(scores, axis=0)
    assert light > heavy + 0.1
    # Without scoring=, the estimator's own score (NDCG@10) is used.
    default = cross_val_score(
        ImplicitMatrixFactorization(n_components=2, random_state=0),
        X,
        y,
        cv=PerUserHoldout(n_splits=2, random_state=0),
    )
    assert np.all(default > 0.5)


def test_ranking_scorers_on_explicit_ratings():
    X, y = low_rank_ratings(n_users=40, n_items=30, density=0.4)
    scores = cross_val_score(
        MatrixFactorization(n_components=3, solver="als", random_state=0),
        X,
        y,
        cv=PerUserHoldout(n_splits=2, random_state=0),
        scoring=make_ranking_scorer("hit_rate", k=10),
    )
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


# --- PerUserHoldout -------------------------------------------------------------------


def test_holdout_keeps_every_test_user_in_training():
    X, _ = low_rank_ratings(n_users=50, n_items=30, density=0.2)
    X = np.vstack([X, [[1000, 0]]])  # a user with a single pair
    cv = PerUserHoldout(n_splits=3, test_size=0.25, random_state=0)
    assert cv.get_n_splits() == 3
    counts = pd.Series(X[:, 0]).value_counts()
    splits = list(cv.split(X))
    for train, test in splits:
        assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(X)))
        tested = pd.Series(X[test, 0]).value_counts()
        assert set(tested.index) <= set(X[train, 0])
        assert 1000 not in tested.index
        expected = np.minimum(np.maximum(np.round(0.25 * counts), 1), counts - 1)
        assert_array_equal(tested.sort_index(), expected[expected > 0].sort_index())
    assert not np.array_equal(splits[0][1], splits[1][1])
    again = list(cv.split(pd.DataFrame(X, columns=["user", "item"])))
    for (_, test), (_, test_again) in zip(splits, again, strict=True):
        assert_array_equal(test, test_again)


@pytest.mark.parametrize(
    "params, match",
    [({"n_splits": 0}, "n_splits"), ({"test_size": 1.0}, "test_size")],
)
def test_holdout_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        PerUserHoldout(**params)
