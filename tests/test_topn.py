"""Top-N quality of the explicit models' ``recommend``.

Ranking by predicted rating puts items with a few high ratings first; the
explicit models rank by a popularity prior tilted by the user's taste (see
the recommending hooks of ``skmf/_explicit.py``). These tests hold the
ranking to what it is for: against the popularity ranking on MovieLens 100K,
and on synthetic data where the right answer is known.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator

from skmf import BayesianMatrixFactorization, MatrixFactorization
from skmf.metrics import ndcg_at_k, precision_at_k

EXPLICIT = {
    "sgd": lambda: MatrixFactorization(solver="sgd", random_state=0),
    "als": lambda: MatrixFactorization(solver="als", random_state=0),
    "bayes": lambda: BayesianMatrixFactorization(random_state=0),
}


class Popularity(BaseEstimator):
    """Items by number of training ratings, for every user (the baseline)."""

    def fit(self, X, y=None):
        X = np.asarray(X)
        self.users_, users = np.unique(X[:, 0], return_inverse=True)
        self.items_, items = np.unique(X[:, 1], return_inverse=True)
        self.seen_ = sp.csr_matrix(
            (np.ones(users.shape[0], dtype=bool), (users, items)),
            shape=(self.users_.shape[0], self.items_.shape[0]),
        )
        self.counts_ = np.bincount(items, minlength=self.items_.shape[0])
        return self

    def recommend(self, users, n=10, *, exclude_seen=True):
        codes = np.searchsorted(self.users_, users)
        assert np.array_equal(self.users_[codes], users), "a user not in training"
        scores = np.tile(self.counts_.astype(np.float64), (codes.shape[0], 1))
        if exclude_seen:
            scores[self.seen_[codes].toarray()] = -np.inf
        cols = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        return self.items_[cols], np.take_along_axis(scores, cols, axis=1)


# --- MovieLens 100K ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fold_1(ml100k_folds):
    train, test = ml100k_folds[0]
    return train[["user", "item"]].to_numpy(), train["rating"].to_numpy(), test


@pytest.fixture(scope="module")
def popularity_fold_1(fold_1):
    X, _, test = fold_1
    pairs = test[["user", "item"]].to_numpy()
    liked = test.loc[test["rating"] >= 4, ["user", "item"]].to_numpy()
    baseline = Popularity().fit(X)
    return {
        "precision": precision_at_k(baseline, pairs),
        "ndcg": ndcg_at_k(baseline, pairs),
        "liked precision": precision_at_k(baseline, liked),
    }


@pytest.mark.parametrize("name", EXPLICIT)
def test_top_10_is_at_least_as_good_as_popularity(name, fold_1, popularity_fold_1):
    X, y, test = fold_1
    model = EXPLICIT[name]().fit(X, y)
    pairs = test[["user", "item"]].to_numpy()
    liked = test.loc[test["rating"] >= 4, ["user", "item"]].to_numpy()
    # Every test pair relevant: which items the user rates next.
    assert precision_at_k(model, pairs) >= popularity_fold_1["precision"]
    assert ndcg_at_k(model, pairs) > popularity_fold_1["ndcg"]
    # Only ratings of 4 and 5 relevant: the user's taste has to show.
    assert precision_at_k(model, liked) > popularity_fold_1["liked precision"]


# --- synthetic data ----------------------------------------------------------------


def taste_and_popularity(n_users=200, n_items=60, n_obscure=10, seed=0):
    """Ratings where popularity and two opposite tastes both matter.

    Users of group 0 like items of group 0 (even item codes) and dislike those
    of group 1, and vice versa. Item ``i`` is rated by a share of the users
    falling with ``i`` (popular items first). ``n_obscure`` more items, codes
    ``n_items ..``, have one 5-star rating each: what a ranking by predicted
    rating puts first.
    """
    rng = np.random.default_rng(seed)
    user_group = np.arange(n_users) % 2
    item_group = np.arange(n_items) % 2
    reach = np.linspace(0.6, 0.05, n_items)
    rated = rng.random((n_users, n_items)) < reach
    users, items = np.nonzero(rated)
    same = user_group[users] == item_group[items]
    ratings = np.where(same, 4.5, 1.5) + rng.normal(scale=0.5, size=users.shape[0])
    obscure = np.arange(n_items, n_items + n_obscure)
    raters = rng.choice(n_users, size=n_obscure, replace=False)
    X = np.column_stack([np.r_[users, raters], np.r_[items, obscure]])
    y = np.clip(np.round(np.r_[ratings, np.full(n_obscure, 5.0)]), 1, 5)
    return X, y, user_group, item_group, obscure


@pytest.fixture(scope="module")
def synthetic():
    return taste_and_popularity()


@pytest.mark.parametrize("name", EXPLICIT)
def test_items_rated_once_do_not_fill_the_top(name, synthetic):
    X, y, _, _, obscure = synthetic
    model = EXPLICIT[name]().set_params(n_components=4).fit(X, y)
    ids, _ = model.recommend(model.users_, n=10)
    # 10 obscure items among 70: at most a few may reach anyone's top 10.
    assert np.isin(ids, obscure).mean() < 0.02


@pytest.mark.parametrize("name", EXPLICIT)
def test_top_n_follows_the_users_taste(name, synthetic):
    X, y, user_group, item_group, _ = synthetic
    model = EXPLICIT[name]().set_params(n_components=4).fit(X, y)
    ids, scores = model.recommend(model.users_, n=10)
    n_items = item_group.shape[0]
    group = np.where(ids < n_items, item_group[np.minimum(ids, n_items - 1)], -1)
    # Popularity alone would give every user both groups about equally.
    share = (group == user_group[model.users_][:, np.newaxis]).mean()
    assert share > 0.75
    assert np.all(np.isfinite(scores))


def test_scores_are_log_popularity_plus_taste(synthetic):
    X, y, *_ = synthetic
    model = MatrixFactorization(n_components=4, solver="als", random_state=0)
    model.fit(X, y)
    ids, scores = model.recommend(model.users_, n=5, exclude_seen=False)
    taste = model.user_factors_.astype(float) @ model.item_factors_.T.astype(float)
    span = model.rating_range_[1] - model.rating_range_[0]
    expected = np.log1p(model.item_popularity_) + taste / span
    assert_allclose(scores, np.sort(expected, axis=1)[:, ::-1][:, :5], rtol=1e-6)
    codes = np.searchsorted(model.items_, ids)
    assert_allclose(np.take_along_axis(expected, codes, 1), scores, rtol=1e-6)


@pytest.mark.parametrize("name", EXPLICIT)
def test_unknown_user_gets_the_popularity_ranking(name, synthetic):
    X, y, *_ = synthetic
    model = EXPLICIT[name]().set_params(n_components=4).fit(X, y)
    ids, scores = model.recommend(-1, n=20)
    counts = model.item_popularity_[np.searchsorted(model.items_, ids)]
    assert np.all(np.diff(counts) <= 0)
    assert_allclose(scores, np.log1p(counts))
    most = np.sort(model.item_popularity_)[::-1][:20]
    assert_array_equal(np.sort(counts)[::-1], most)


def test_folded_in_user_is_ranked_like_a_fitted_one(synthetic):
    X, y, *_ = synthetic
    model = MatrixFactorization(n_components=4, solver="als", random_state=0)
    model.fit(X, y)
    user = model.users_[3]
    mine = X[:, 0] == user
    fitted, _ = model.recommend(user, n=10)
    folded, _ = model.recommend_for_ratings(X[mine, 1], y[mine], n=10)
    # The fold-in is one more ALS half-step: the same user, nearly the same list.
    assert len(set(fitted) & set(folded)) >= 8
    # No known item: the popularity ranking, as for an unknown user.
    nothing, _ = model.recommend_for_ratings([10**6], [5.0], n=10)
    assert_array_equal(nothing, model.recommend(-1, n=10)[0])


@pytest.mark.parametrize("name", EXPLICIT)
def test_constant_ratings_rank_by_popularity(name):
    # One rating value: a zero rating range, and nothing to learn a taste from.
    X, y, *_ = taste_and_popularity(n_users=40, n_items=12, n_obscure=0)
    model = EXPLICIT[name]().set_params(n_components=2)
    model.fit(X, np.full(y.shape[0], 3.0))
    ids, scores = model.recommend(model.users_, n=12, exclude_seen=False)
    assert not np.isnan(scores).any()
    counts = model.item_popularity_[np.searchsorted(model.items_, ids)]
    assert np.all(np.diff(counts, axis=1) <= 0)
