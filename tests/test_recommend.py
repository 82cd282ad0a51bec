"""recommend, similar_items/users and fold-in, on both estimators.

Known answers come from brute force over the fitted factors, from factors set
by hand, or from the reference ALS half-step of ``reference.py``.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from skmf import ImplicitMatrixFactorization, MatrixFactorization, _recommend

from . import reference
from .conftest import low_rank_ratings

KINDS = ["explicit", "implicit"]


def fit(kind, X, y, **params):
    if kind == "explicit":
        model = MatrixFactorization(n_components=3, solver="als", random_state=0)
        return model.set_params(**params).fit(X, y)
    model = ImplicitMatrixFactorization(n_components=3, random_state=0)
    return model.set_params(**params).fit(X, y - y.min() + 1)


@pytest.fixture(scope="module")
def data():
    return low_rank_ratings(n_users=30, n_items=20, density=0.3)


@pytest.fixture(scope="module", params=KINDS)
def model(request, data):
    return fit(request.param, *data)


def all_scores(model):
    """Brute-force score of every (user, item): what recommend must rank by."""
    scores = model.user_factors_.astype(float) @ model.item_factors_.T.astype(float)
    if isinstance(model, MatrixFactorization):
        # The taste in units of the rating range, tilting the log popularity.
        low, high = model.rating_range_
        scores = np.log1p(model.item_popularity_) + scores / (high - low)
    return scores


def seen_items(data, user):
    X, _ = data
    return set(X[X[:, 0] == user, 1])


# --- recommend -------------------------------------------------------------------


def test_recommend_is_the_top_of_the_full_ranking(model, data):
    ids, scores = model.recommend(model.users_, n=5, exclude_seen=False)
    expected = np.sort(all_scores(model), axis=1)[:, ::-1][:, :5]
    assert ids.shape == scores.shape == (30, 5)
    assert_allclose(scores, expected, rtol=1e-6)
    assert_allclose(
        np.take_along_axis(all_scores(model), np.searchsorted(model.items_, ids), 1),
        scores,
        rtol=1e-6,
    )


def test_explicit_scores_ignore_the_biases(data):
    X, y = data
    model = fit("explicit", X, y)
    ids, scores = model.recommend(4, n=3)
    model.item_bias_ = model.item_bias_ + np.arange(model.items_.shape[0])
    model.user_bias_ = model.user_bias_ + 10
    moved_ids, moved_scores = model.recommend(4, n=3)
    assert_array_equal(moved_ids, ids)
    assert_allclose(moved_scores, scores)


def test_seen_items_are_excluded(model, data):
    ids, scores = model.recommend(model.users_, n=20)
    for user, row, row_scores in zip(model.users_, ids, scores, strict=True):
        seen = seen_items(data, user)
        ranked = row[np.isfinite(row_scores)]
        assert not seen & set(ranked)
        # Every unseen item is ranked, and the excluded ones pad the end.
        assert set(ranked) == set(range(20)) - seen
        assert np.all(np.isneginf(row_scores[len(ranked) :]))


def test_seen_items_can_be_kept(model, data):
    ids, _ = model.recommend(0, n=20, exclude_seen=False)
    assert set(ids) == set(range(20))


def test_candidates_restrict_the_ranking(model):
    candidates = [3, 7, 11, 15, 19, 7]
    full, full_scores = model.recommend(2, n=20, exclude_seen=False)
    ids, scores = model.recommend(2, n=10, exclude_seen=False, items=candidates)
    assert ids.shape == (5,)  # n lowered to the 5 distinct candidates
    keep = np.isin(full, candidates)
    assert_array_equal(ids, full[keep])
    # float32 matrix products of other shapes may round the last bit apart.
    assert_allclose(scores, full_scores[keep], rtol=1e-6)


def test_candidates_and_seen_items_together(model, data):
    seen = seen_items(data, 1)
    candidates = np.arange(10)
    ids, scores = model.recommend(1, n=10, items=candidates)
    ranked = ids[np.isfinite(scores)]
    assert set(ranked) == set(candidates) - seen


def test_unknown_candidate_is_an_error(model):
    with pytest.raises(ValueError, match="not seen during fit.*99"):
        model.recommend(0, items=[1, 99])


def test_one_user_gives_1d_arrays(model):
    ids, scores = model.recommend(3, n=4)
    batch_ids, batch_scores = model.recommend([3], n=4)
    assert ids.shape == scores.shape == (4,)
    assert_array_equal(batch_ids[0], ids)
    assert_array_equal(batch_scores[0], scores)


def test_blocks_give_the_same_answer(model, monkeypatch):
    expected = model.recommend(model.users_, n=4)
    monkeypatch.setattr(_recommend, "_BLOCK_SCORES", 45)  # two users per block
    for a, b in zip(model.recommend(model.users_, n=4), expected, strict=True):
        assert_array_equal(a, b)


def test_unknown_users_get_the_popularity_ranking(data):
    model = fit("explicit", *data)
    ids, scores = model.recommend(["nobody", 0], n=20)
    counts = model.item_popularity_[np.searchsorted(model.items_, ids[0])]
    assert np.all(np.diff(counts) <= 0)
    assert_allclose(scores[0], np.log1p(counts))
    # Unknown users have seen nothing; a known user in the batch is unaffected.
    assert_array_equal(ids[1], model.recommend(0, n=20)[0])


# --- similar items and users -------------------------------------------------------


def hand_set(model, item_factors):
    """The model with its item factors replaced (for known neighbours)."""
    model.item_factors_ = np.asarray(item_factors, dtype=model.item_factors_.dtype)
    return model


@pytest.mark.parametrize("kind", KINDS)
def test_identical_factors_are_the_top_similar_item(kind, data):
    model = fit(kind, *data)
    factors = model.item_factors_.copy()
    factors[12] = 3 * factors[5]  # same direction, other length
    hand_set(model, factors)
    ids, scores = model.similar_items([5, 12], n=3)
    assert ids[0, 0] == 12 and ids[1, 0] == 5
    assert_allclose(scores[:, 0], 1.0, rtol=1e-6)
    assert np.all(scores[:, 1:] < 1 - 1e-6)


def test_similar_items_are_cosine_neighbours(model):
    ids, scores = model.similar_items(model.items_, n=19)
    unit = model.item_factors_ / np.linalg.norm(model.item_factors_, axis=1)[:, None]
    cosine = unit @ unit.T
    for item in range(20):
        assert item not in ids[item]  # never its own neighbour
        assert_allclose(scores[item], np.sort(np.delete(cosine[item], item))[::-1],
                        rtol=1e-5, atol=1e-6)  # fmt: skip


def test_similar_users(model):
    ids, scores = model.similar_users(7, n=29)
    unit = model.user_factors_ / np.linalg.norm(model.user_factors_, axis=1)[:, None]
    assert 7 not in ids
    assert_allclose(scores, (unit[ids] @ unit[7]), rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_factors_have_zero_similarity(kind, data):
    model = fit(kind, *data)
    factors = model.item_factors_.copy()
    factors[0] = 0
    hand_set(model, factors)
    ids, scores = model.similar_items(0, n=19)
    assert_array_equal(scores, 0.0)
    assert 0 not in ids


def test_similar_to_an_unknown_id_is_an_error(model):
    with pytest.raises(ValueError, match="items has 1 id.*not seen during fit"):
        model.similar_items([1, 1000])
    with pytest.raises(ValueError, match="users has 1 id"):
        model.similar_users("nobody")


# --- fold-in -----------------------------------------------------------------------


def test_explicit_fold_in_reproduces_a_users_factors(data):
    X, y = data
    model = fit("explicit", X, y, max_iter=60, dtype="float64")
    scale = np.abs(model.user_factors_).max()
    for user in range(30):
        mine = X[:, 0] == user
        factors, bias = model.fold_in(X[mine, 1], y[mine])
        # One more user half-step after 60 sweeps: the change left is small.
        assert_allclose(factors, model.user_factors_[user], atol=2e-3 * scale)
        assert_allclose(bias, model.user_bias_[user], atol=2e-3 * scale)


def test_explicit_fold_in_is_one_exact_half_step(data):
    X, y = data
    model = fit("explicit", X, y, alpha=0.3, dtype="float64")
    items_before = model.item_factors_.copy()
    rated, ratings = np.array([2, 5, 9, 2]), np.array([4.0, 1.0, 3.5, 5.0])
    factors, bias = model.fold_in(rated, ratings)
    expected, expected_bias, _ = reference.als_half_sweep(
        [0] * 4, rated, ratings - model.intercept_, None, 1, [0.0],
        model.item_factors_, model.item_bias_, 0.3, True,
    )  # fmt: skip
    assert_allclose(factors, expected[0], rtol=1e-9)
    assert_allclose(bias, expected_bias[0], rtol=1e-9)
    assert_array_equal(model.item_factors_, items_before)


def test_fold_in_ignores_unknown_items(model):
    known = model.fold_in([1, 4], [5.0, 2.0])
    with_unknown = model.fold_in([1, "new", 4], [5.0, 3.0, 2.0])
    assert_array_equal(known[0], with_unknown[0])
    assert known[1] == with_unknown[1]
    factors, bias = model.fold_in(["new"], [4.0])
    assert not factors.any() and bias == 0.0


def test_recommend_for_ratings_of_a_fitted_user(data):
    X, y = data
    model = fit("explicit", X, y, max_iter=60, dtype="float64")
    mine = X[:, 0] == 6
    ids, scores = model.recommend_for_ratings(X[mine, 1], y[mine], n=5)
    expected_ids, expected_scores = model.recommend(6, n=5)
    assert_array_equal(ids, expected_ids)
    assert_allclose(scores, expected_scores, atol=1e-3)
    # Seen means the ratings given, and candidates restrict as in recommend.
    ids, scores = model.recommend_for_ratings([0, 1], [5, 5], n=20, items=[0, 1, 2])
    assert ids[0] == 2 and np.isneginf(scores[1:]).all()


def test_predict_for_ratings_of_a_fitted_user(data):
    X, y = data
    model = fit("explicit", X, y, max_iter=60, dtype="float64")
    mine = X[:, 0] == 3
    items = [0, 5, 19, "unknown item"]
    predicted = model.predict_for_ratings(X[mine, 1], y[mine], items)
    expected = model.predict(np.array([[3, i] for i in items], dtype=object))
    assert_allclose(predicted, expected, rtol=1e-3)


def test_implicit_predict_for_ratings_scores_items(data):
    X, y = data
    model = fit("implicit", X, y)
    factors, _ = model.fold_in([1, 2], [3.0, 1.0])
    scores = model.predict_for_ratings([1, 2], [3.0, 1.0], [4, 1, "unknown"])
    assert_allclose(scores[:2], model.item_factors_[[4, 1]] @ factors, rtol=1e-6)
    assert scores[2] == 0.0


def test_fold_in_needs_regularization(data):
    X, y = data
    model = MatrixFactorization(n_components=3, alpha=0.0, max_iter=2, random_state=0)
    model.fit(X, y)
    with pytest.raises(ValueError, match="alpha > 0"):
        model.fold_in([1], [4.0])


# --- input errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, error, match",
    [(0, ValueError, "at least 1"), (2.5, TypeError, "int"), (True, TypeError, "int")],
)
def test_bad_n(model, n, error, match):
    for method in (model.recommend, model.similar_items, model.similar_users):
        with pytest.raises(error, match=match):
            method(0, n=n)


def test_users_must_be_1d(model):
    with pytest.raises(ValueError, match="1-D array of ids"):
        model.recommend([[0, 1]])


def test_ratings_must_match_the_items(model):
    with pytest.raises(ValueError, match="one value per rated item"):
        model.fold_in([1, 2, 3], [4.0, 5.0])


@pytest.mark.parametrize("kind", KINDS)
def test_unfitted(kind):
    model = (
        MatrixFactorization() if kind == "explicit" else ImplicitMatrixFactorization()
    )
    for call in (
        lambda: model.recommend(0),
        lambda: model.similar_items(0),
        lambda: model.fold_in([0], [1.0]),
    ):
        with pytest.raises(NotFittedError):
            call()
