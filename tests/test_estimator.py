"""Behaviour of MatrixFactorization on (user, item) input.

Several tests here are the counterparts of scikit-learn estimator checks that
cannot run on two id columns (see tests/test_common.py).
"""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import mean_squared_error

from skmf import MatrixFactorization

from .conftest import low_rank_ratings

SOLVERS = ["sgd", "als"]


def small(solver="als", **params):
    defaults = dict(n_components=3, solver=solver, max_iter=10, random_state=0)
    return MatrixFactorization(**{**defaults, **params})


def rmse(a, b):
    return float(np.sqrt(mean_squared_error(a, b)))


# --- counterparts of scikit-learn's checks ----------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_and_score_take_y(ratings, solver):
    X, y = ratings
    mf = small(solver).fit(X, y)
    score = mf.score(X, y)
    assert 0.5 < score <= 1.0
    with pytest.raises(TypeError):
        mf.score(X)


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_does_not_change_parameters(ratings, solver):
    X, y = ratings
    mf = small(solver)
    before = mf.get_params()
    public_before = {k for k in vars(mf) if not k.endswith("_")}
    mf.fit(X, y)
    assert mf.get_params() == before
    public_after = {
        k for k in vars(mf) if not k.startswith("_") and not k.endswith("_")
    }
    assert public_after == public_before


@pytest.mark.parametrize("solver", SOLVERS)
def test_predict_does_not_change_state(ratings, solver):
    X, y = ratings
    mf = small(solver).fit(X, y)
    state = pickle.dumps(mf.__dict__)
    mf.predict(X)
    mf.score(X, y)
    assert pickle.dumps(mf.__dict__) == state


def test_n_features_in_and_column_count_at_predict(ratings):
    X, y = ratings
    mf = small().fit(X, y)
    assert mf.n_features_in_ == 2
    with pytest.raises(ValueError, match="2 features"):
        mf.predict(np.column_stack([X, X[:, 0]]))


@pytest.mark.parametrize("solver", SOLVERS)
def test_negative_ids_and_ratings(ratings, solver):
    X, y = ratings
    # Only the ids' sorted order matters: negative ids in reversed order give
    # the same model as non-negative ids in that order.
    negative = small(solver).fit(-X - 5, y)
    reversed_ids = small(solver).fit(X.max(axis=0) - X, y)
    np.testing.assert_allclose(
        negative.predict(-X - 5), reversed_ids.predict(X.max(axis=0) - X), atol=1e-6
    )
    # Ratings are centred on their mean, so shifting them shifts predictions.
    shifted = small(solver).fit(X, y - 10)
    assert shifted.intercept_ < 0
    np.testing.assert_allclose(
        shifted.predict(X) + 10, small(solver).fit(X, y).predict(X), atol=1e-5
    )


@pytest.mark.parametrize(
    "id_dtype", [np.int8, np.int32, np.int64, np.uint64, np.float32, np.float64]
)
@pytest.mark.parametrize("y_dtype", [np.int64, np.float32, np.float64])
def test_id_and_rating_dtypes(id_dtype, y_dtype):
    X, y = low_rank_ratings(n_users=30, n_items=20)
    y = np.round(y)
    expected = small().fit(X, y).predict(X)
    got = small().fit(X.astype(id_dtype), y.astype(y_dtype)).predict(X.astype(id_dtype))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sample_weight_list(ratings):
    X, y = ratings
    weights = np.linspace(0.5, 2, len(y))
    from_array = small().fit(X, y, sample_weight=weights).predict(X)
    from_list = small().fit(X, y, sample_weight=weights.tolist()).predict(X)
    np.testing.assert_array_equal(from_list, from_array)


@pytest.mark.parametrize("solver", SOLVERS)
def test_all_zero_sample_weights_error(ratings, solver):
    X, y = ratings
    with pytest.raises(ValueError, match="(?i)weights.*non-zero"):
        small(solver).fit(X, y, sample_weight=np.zeros(len(y)))


def test_als_weight_two_equals_duplicated_rating(ratings):
    X, y = ratings
    weights = np.ones(len(y))
    weights[::3] = 2
    weighted = small(dtype="float64").fit(X, y, sample_weight=weights)
    duplicated = small(dtype="float64").fit(
        np.vstack([X, X[::3]]), np.concatenate([y, y[::3]])
    )
    np.testing.assert_allclose(weighted.predict(X), duplicated.predict(X), atol=1e-8)
    np.testing.assert_allclose(
        weighted.user_factors_, duplicated.user_factors_, atol=1e-8
    )


def test_als_zero_weight_equals_removed_rating(ratings):
    X, y = ratings
    weights = np.ones(len(y))
    weights[::4] = 0
    keep = weights > 0
    weighted = small(dtype="float64", clip=False).fit(X, y, sample_weight=weights)
    removed = small(dtype="float64", clip=False).fit(X[keep], y[keep])
    # Ids rated only with weight zero still get a row (all zeros): compare on
    # the pairs both models know.
    np.testing.assert_allclose(
        weighted.predict(X[keep]), removed.predict(X[keep]), atol=1e-8
    )


def test_sgd_sample_weight_changes_the_fit(ratings):
    X, y = ratings
    weights = np.where(np.arange(len(y)) % 2 == 0, 3.0, 0.2)
    plain = small("sgd").fit(X, y).predict(X)
    weighted = small("sgd").fit(X, y, sample_weight=weights).predict(X)
    assert not np.allclose(plain, weighted)
    # A weighted fit follows the heavily weighted ratings more closely.
    heavy = weights == 3.0
    assert rmse(y[heavy], weighted[heavy]) < rmse(y[heavy], plain[heavy])


@pytest.mark.parametrize("solver", SOLVERS)
def test_object_and_string_ids(ratings, solver):
    X, y = ratings
    # Zero-padded strings sort like the ints they name, so the factor rows, the
    # seeded initial factors and hence the whole fit are the same.
    strings = np.char.add("id", np.char.zfill(X.astype(str), 4)).astype(object)
    expected = small(solver).fit(X, y).predict(X)
    as_object = small(solver).fit(strings, y)
    np.testing.assert_array_equal(as_object.predict(strings), expected)
    np.testing.assert_array_equal(
        small(solver).fit(strings.astype(str), y).predict(strings), expected
    )
    assert as_object.users_.tolist() == sorted(set(strings[:, 0]))


def test_mixed_type_ids():
    X = np.array([[1, "a"], [2, "b"], [1, "b"], ["x", "a"]], dtype=object)
    mf = small(n_components=1).fit(X, [1.0, 2.0, 3.0, 4.0])
    assert mf.users_.tolist() == [1, 2, "x"]
    assert mf.items_.tolist() == ["a", "b"]
    # "1" is not 1: an id keeps its type.
    assert mf.predict([["1", "a"]]) == mf.predict([["nobody", "a"]])


def test_huge_integer_ids(ratings):
    X, y = ratings
    big = X.astype(np.int64) * (2**40) + 2**62
    got = small().fit(big, y).predict(big)
    np.testing.assert_allclose(got, small().fit(X, y).predict(X), rtol=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_pipeline_consistency(ratings, solver):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = ratings
    pipe = make_pipeline(FunctionTransformer(), small(solver)).fit(X, y)
    np.testing.assert_array_equal(pipe.predict(X), small(solver).fit(X, y).predict(X))
    assert pipe.score(X, y) == small(solver).fit(X, y).score(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_pickle_round_trip(ratings, solver):
    X, y = ratings
    mf = small(solver).fit(X, y)
    unknown = np.array([[X[0, 0], 10_000], [10_000, X[0, 1]], [10_000, 10_001]])
    pairs = np.vstack([X, unknown])
    restored = pickle.loads(pickle.dumps(mf))
    np.testing.assert_array_equal(restored.predict(pairs), mf.predict(pairs))
    assert restored.get_params() == mf.get_params()


def test_f_contiguous_input(ratings):
    X, y = ratings
    fortran = np.asfortranarray(X)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(
        small().fit(fortran, y).predict(fortran), small().fit(X, y).predict(X)
    )


@pytest.mark.parametrize("solver", SOLVERS)
def test_learns_low_rank_ratings(solver):
    X, y = low_rank_ratings(n_users=200, n_items=100, density=0.3, noise=0.1)
    train, test = slice(0, 5000), slice(5000, None)
    mf = MatrixFactorization(n_components=3, solver=solver, alpha=0.01, random_state=0)
    mf.fit(X[train], y[train])
    baseline = rmse(y[test], np.full(len(y[test]), y[train].mean()))
    assert rmse(y[test], mf.predict(X[test])) < 0.3 * baseline
    assert mf.score(X[test], y[test]) > 0.9


def test_list_and_dataframe_input_agree(ratings):
    X, y = ratings
    expected = small().fit(X, y).predict(X)
    from_lists = small().fit(X.tolist(), y.tolist()).predict(X.tolist())
    frame = pd.DataFrame(X, columns=["user", "item"])
    mf = small().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(from_lists, expected)
    np.testing.assert_array_equal(mf.predict(frame), expected)
    assert mf.feature_names_in_.tolist() == ["user", "item"]


def test_dataframe_with_mixed_column_types():
    frame = pd.DataFrame({"user": [1, 1, 2, 3], "item": ["up", "jaws", "up", "heat"]})
    mf = small(n_components=2).fit(frame, [5, 1, 4, 2])
    assert mf.items_.tolist() == ["heat", "jaws", "up"]
    assert mf.predict(frame).shape == (4,)


def test_no_decision_function(ratings):
    mf = small().fit(*ratings)
    for method in ("decision_function", "predict_proba", "transform"):
        assert not hasattr(mf, method)


def test_column_vector_y(ratings):
    X, y = ratings
    with pytest.warns(DataConversionWarning):
        mf = small().fit(X, y[:, None])
    np.testing.assert_array_equal(mf.predict(X), small().fit(X, y).predict(X))


@pytest.mark.parametrize("solver", SOLVERS)
def test_integer_ratings(ratings, solver):
    X, y = ratings
    y = np.clip(np.round(y), 1, 5)
    as_int = small(solver).fit(X, y.astype(np.int64)).predict(X)
    as_float = small(solver).fit(X, y).predict(X)
    np.testing.assert_array_equal(as_int, as_float)


@pytest.mark.parametrize("solver", SOLVERS)
def test_n_iter(ratings, solver):
    mf = small(solver, max_iter=7).fit(*ratings)
    assert mf.n_iter_ == 7
    assert len(mf.loss_curve_) == 7
    default = MatrixFactorization(n_components=2, solver=solver, random_state=0)
    assert default.fit(*ratings).n_iter_ == {"sgd": 40, "als": 15}[solver]


@pytest.mark.parametrize("solver", SOLVERS)
def test_predict_sample_order_invariance(ratings, solver):
    X, y = ratings
    mf = small(solver).fit(X, y)
    perm = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_array_equal(mf.predict(X[perm]), mf.predict(X)[perm])


@pytest.mark.parametrize("solver", SOLVERS)
def test_predict_subset_invariance(ratings, solver):
    X, y = ratings
    mf = small(solver).fit(X, y)
    full = mf.predict(X)
    parts = np.concatenate([mf.predict(part) for part in np.array_split(X, 7)])
    np.testing.assert_array_equal(parts, full)


@pytest.mark.parametrize("solver", SOLVERS)
def test_fit_one_rating(solver):
    mf = small(solver).fit([[7, 9]], [4.0])
    assert mf.predict([[7, 9]]) == pytest.approx(4.0, abs=1e-6)
    assert mf.predict([[8, 9]]) == pytest.approx(4.0, abs=1e-6)
    assert mf.user_factors_.shape == (1, 3)


def test_predict_1d_rejected(ratings):
    mf = small().fit(*ratings)
    with pytest.raises(ValueError, match="Expected 2D array"):
        mf.predict(np.array([1, 2]))


# --- recommender semantics ---------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_unknown_ids_fall_back_to_known_biases(ratings, solver):
    X, y = ratings
    mf = small(solver, clip=False).fit(X, y)
    u, i = X[0]
    ui = mf.users_.tolist().index(u)
    ii = mf.items_.tolist().index(i)
    pred = mf.predict([[u, -1], [-1, i], [-1, -2], [u, i]])
    assert pred[0] == pytest.approx(mf.intercept_ + mf.user_bias_[ui], rel=1e-6)
    assert pred[1] == pytest.approx(mf.intercept_ + mf.item_bias_[ii], rel=1e-6)
    assert pred[2] == pytest.approx(mf.intercept_)
    dot = mf.user_factors_[ui] @ mf.item_factors_[ii]
    full = mf.intercept_ + mf.user_bias_[ui] + mf.item_bias_[ii] + dot
    assert pred[3] == pytest.approx(full, rel=1e-5)


def test_fitted_attributes(ratings):
    X, y = ratings
    mf = small(n_components=4).fit(X, y)
    n_users, n_items = len(np.unique(X[:, 0])), len(np.unique(X[:, 1]))
    assert mf.user_factors_.shape == (n_users, 4)
    assert mf.item_factors_.shape == (n_items, 4)
    assert mf.user_bias_.shape == (n_users,)
    assert mf.item_bias_.shape == (n_items,)
    np.testing.assert_array_equal(mf.users_, np.unique(X[:, 0]))
    np.testing.assert_array_equal(mf.items_, np.unique(X[:, 1]))
    assert mf.intercept_ == pytest.approx(y.mean())
    assert mf.rating_range_ == (y.min(), y.max())
    assert mf.user_factors_.dtype == np.float32


@pytest.mark.parametrize("solver", SOLVERS)
def test_clip_to_training_range(ratings, solver):
    X, y = ratings
    y = np.clip(np.round(y), 1, 5)
    far = np.vstack([X, X])
    # Weak regularization and enough epochs that the raw model overshoots.
    clipped = small(solver, alpha=1e-3, max_iter=50, clip=True).fit(X, y).predict(far)
    raw = small(solver, alpha=1e-3, max_iter=50, clip=False).fit(X, y).predict(far)
    assert clipped.min() >= 1 and clipped.max() <= 5
    assert raw.min() < 1 or raw.max() > 5
    np.testing.assert_allclose(clipped, np.clip(raw, 1, 5))


@pytest.mark.parametrize("solver", SOLVERS)
def test_random_state_reproducible(ratings, solver):
    X, y = ratings
    a = small(solver, random_state=3).fit(X, y).predict(X)
    b = small(solver, random_state=3).fit(X, y).predict(X)
    c = small(solver, random_state=4).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_als_fit_is_independent_of_row_order(ratings):
    X, y = ratings
    perm = np.random.default_rng(5).permutation(len(y))
    a = small(dtype="float64").fit(X, y).predict(X)
    b = small(dtype="float64").fit(X[perm], y[perm]).predict(X)
    np.testing.assert_allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.float64])
def test_dtype(ratings, dtype):
    mf = small(dtype=dtype).fit(*ratings)
    assert mf.item_factors_.dtype == np.dtype(dtype)
    assert mf.user_bias_.dtype == np.dtype(dtype)


def test_float32_and_float64_agree(ratings):
    X, y = ratings
    single = small(dtype="float32").fit(X, y).predict(X)
    double = small(dtype="float64").fit(X, y).predict(X)
    np.testing.assert_allclose(single, double, atol=1e-3)


def test_solvers_agree():
    """SGD and ALS minimise the same objective, so they find similar models."""
    X, y = low_rank_ratings(n_users=100, n_items=80, density=0.4, rank=2, noise=0.1)
    common = dict(
        n_components=2, alpha=0.01, random_state=0, dtype="float64", clip=False
    )
    als = MatrixFactorization(solver="als", max_iter=200, **common).fit(X, y)
    sgd = MatrixFactorization(
        solver="sgd", max_iter=150, learning_rate=0.02, decay_rate=0.97, **common
    ).fit(X, y)
    np.testing.assert_allclose(sgd.predict(X), als.predict(X), atol=0.05)
    # Both reach the same minimum of the objective (to within 1%).
    assert objective(sgd, X, y) == pytest.approx(objective(als, X, y), rel=0.01)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_components", 5),
        ("alpha", 0.5),
        ("fit_biases", False),
        ("max_iter", 3),
        ("init_std", 0.3),
        ("random_state", 1),
    ],
)
# clip changes the result only where the model overshoots the rating range:
# test_clip_to_training_range makes it overshoot and checks both settings.
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_parameter_changes_the_result(ratings, solver, param, value):
    X, y = ratings
    y = np.clip(y, 1, 5)
    probe = np.vstack([X, [[X[0, 0], X[1, 1]]]])
    params = {"alpha": 0.05, param: value}
    base = small(solver, alpha=0.05).fit(X, y).predict(probe)
    changed = small(solver, **params).fit(X, y).predict(probe)
    assert not np.allclose(base, changed, atol=1e-6)


@pytest.mark.parametrize(
    "param, value",
    [
        ("learning_rate", 0.05),
        ("learning_rate_schedule", "constant"),
        ("decay_rate", 0.5),
        ("decay_steps", 100),
        ("loss", "absolute_error"),
    ],
)
def test_every_sgd_parameter_changes_the_result(ratings, param, value):
    X, y = ratings
    base = small("sgd").fit(X, y).predict(X)
    changed = small("sgd", **{param: value}).fit(X, y).predict(X)
    assert not np.allclose(base, changed, atol=1e-6)


@pytest.mark.parametrize("param", ["learning_rate", "decay_rate", "loss"])
def test_als_ignores_sgd_only_parameters(ratings, param):
    value = {"learning_rate": 0.5, "decay_rate": 0.5, "loss": "squared_error"}[param]
    X, y = ratings
    np.testing.assert_array_equal(
        small("als").fit(X, y).predict(X),
        small("als", **{param: value}).fit(X, y).predict(X),
    )


def test_fit_biases_false_keeps_biases_zero(ratings):
    for solver in SOLVERS:
        mf = small(solver, fit_biases=False).fit(*ratings)
        assert not mf.user_bias_.any() and not mf.item_bias_.any()


def test_absolute_error_loss_resists_outliers():
    X, y = low_rank_ratings(n_users=80, n_items=60, density=0.5, rank=2, noise=0.05)
    corrupted = y.copy()
    outliers = np.arange(0, len(y), 10)
    corrupted[outliers] += 20
    common = dict(n_components=2, solver="sgd", clip=False, random_state=0, max_iter=60)
    l2 = MatrixFactorization(**common).fit(X, corrupted)
    l1 = MatrixFactorization(loss="absolute_error", **common).fit(X, corrupted)
    clean = np.setdiff1d(np.arange(len(y)), outliers)
    assert rmse(y[clean], l1.predict(X[clean])) < 0.5 * rmse(
        y[clean], l2.predict(X[clean])
    )


# --- the training loop -------------------------------------------------------


def test_loss_curve_decreases_for_als(ratings):
    mf = small("als", max_iter=10, dtype="float64").fit(*ratings)
    curve = np.array(mf.loss_curve_)
    # ALS never increases its objective.
    assert np.all(np.diff(curve) <= 1e-9)


def objective(mf, X, y):
    """The documented objective per rating, computed from the fitted model."""
    error = mf.predict(X) - y
    users = np.searchsorted(mf.users_, X[:, 0])
    items = np.searchsorted(mf.items_, X[:, 1])
    penalty = (
        np.sum(mf.user_factors_[users].astype(np.float64) ** 2, axis=1)
        + np.sum(mf.item_factors_[items].astype(np.float64) ** 2, axis=1)
        + mf.user_bias_[users] ** 2
        + mf.item_bias_[items] ** 2
    )
    return np.mean(error**2 + mf.alpha * penalty)


def test_loss_curve_matches_the_objective(ratings):
    X, y = ratings
    mf = small("als", dtype="float64", clip=False).fit(X, y)
    assert mf.loss_curve_[-1] == pytest.approx(objective(mf, X, y), rel=1e-9)


@pytest.mark.parametrize("solver", SOLVERS)
def test_early_stopping_keeps_the_best_epoch(solver):
    X, y = low_rank_ratings(n_users=100, n_items=80, density=0.3, rank=2, noise=0.5)
    mf = MatrixFactorization(
        n_components=20,
        solver=solver,
        # SGD with little regularization overfits after a while; ALS converges.
        alpha={"sgd": 0.001, "als": 0.05}[solver],
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        learning_rate_schedule="constant",
        random_state=0,
    ).fit(X, y)
    scores = mf.validation_scores_
    assert mf.n_iter_ < 200
    assert len(scores) == mf.n_iter_
    assert all(s < 0 for s in scores)
    # The kept model is the best epoch's: predicting the held-out ratings again
    # gives its score, not the last epoch's.
    assert mf.best_validation_score_ == max(scores)
    if solver == "sgd":
        assert max(scores) > scores[-1]
    # Stopped once 3 epochs in a row failed to improve by 1e-4 (the tol used
    # when tol is None): replay the rule on the recorded scores.
    best, quiet, stop = -np.inf, 0, None
    for epoch, score in enumerate(scores, start=1):
        quiet = 0 if score > best + 1e-4 else quiet + 1
        best = max(best, score)
        if quiet == 3:
            stop = epoch
            break
    assert stop == mf.n_iter_


def test_early_stopping_keeps_a_best_epoch_that_is_not_the_last():
    """The kept factors are the best epoch's, recomputed from the held-out data."""
    X, y = low_rank_ratings(n_users=100, n_items=80, density=0.3, rank=2, noise=0.5)
    mf = MatrixFactorization(
        n_components=20,
        alpha=0.001,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        learning_rate_schedule="constant",
        clip=False,
        random_state=0,
    ).fit(X, y)
    scores = mf.validation_scores_
    best = int(np.argmax(scores))
    # The premise: SGD overfits, so the best epoch is not the last one.
    assert best < len(scores) - 1
    assert scores[best] > scores[-1] + 1e-3
    rng = np.random.RandomState(0)
    n_valid = int(np.ceil(0.1 * len(y)))
    valid = np.sort(rng.permutation(len(y))[:n_valid])
    kept = -rmse(y[valid], mf.predict(X[valid]))
    assert kept == pytest.approx(scores[best], rel=1e-9)
    assert kept == pytest.approx(mf.best_validation_score_, rel=1e-9)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_validation_score_is_recomputable(ratings):
    X, y = ratings
    mf = small("als", early_stopping=True, validation_fraction=0.2, max_iter=4).fit(
        X, y
    )
    # The kept model scores best_validation_score_ on the held-out ratings:
    # rebuild the split the same way the estimator draws it.
    rng = np.random.RandomState(0)
    n_valid = int(np.ceil(0.2 * len(y)))
    valid = np.sort(rng.permutation(len(y))[:n_valid])
    score = -rmse(y[valid], mf.predict(X[valid]))
    assert score == pytest.approx(mf.best_validation_score_, rel=1e-9)


def test_tol_stops_on_training_loss(ratings):
    mf = small("als", tol=1e-2, n_iter_no_change=2, max_iter=100).fit(*ratings)
    assert mf.n_iter_ < 100
    assert mf.validation_scores_ is None


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning_at_max_iter(ratings, solver):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        small(solver, tol=0.0, max_iter=2).fit(*ratings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        small(solver, max_iter=2).fit(*ratings)  # no stopping rule: no warning


def test_sgd_divergence_is_an_error_naming_the_fix(ratings):
    X, y = ratings
    mf = small("sgd", learning_rate=5.0, learning_rate_schedule="constant")
    with pytest.raises(ValueError, match=re.escape("Lower learning_rate (now 5.0)")):
        mf.fit(X, y * 100)


def test_als_breakdown_is_an_error_naming_the_fix():
    """Play counts up to a million break float32 Cholesky: say what to do."""
    X, y = low_rank_ratings(n_users=200, n_items=100, density=0.1)
    y = 10 ** np.random.default_rng(0).uniform(0, 6, len(y))
    exact = dict(solver="als", max_iter=3, cg_steps=None)
    with pytest.raises(ValueError, match=r"ALS diverged at sweep 1: row \d+ .*float64"):
        MatrixFactorization(**exact).fit(X, y)
    fitted = MatrixFactorization(**exact, dtype="float64").fit(X, y)
    assert np.all(np.isfinite(fitted.predict(X)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_verbose_prints_progress(ratings, capsys):
    # The validation score is printed as the RMSE the summaries show, and ALS
    # counts sweeps, as the documentation does.
    small("als", max_iter=3, verbose=1, early_stopping=True).fit(*ratings)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert re.match(
        r"Sweep 1/3: loss \d+\.\d+, validation RMSE \d+\.\d+, .* s, ETA .* s",
        lines[0],
    )
    small("sgd", max_iter=2, verbose=1).fit(*ratings)
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.match(r"Epoch 1/2: loss \d+\.\d+, .* s, ETA .* s", lines[0])


def test_silent_by_default(ratings, capsys):
    small("sgd").fit(*ratings)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("n_jobs", [1, 2, -1, None])
def test_n_jobs_gives_identical_results(ratings, n_jobs):
    X, y = ratings
    reference = small("als", n_jobs=1).fit(X, y).predict(X)
    np.testing.assert_array_equal(
        small("als", n_jobs=n_jobs).fit(X, y).predict(X), reference
    )


def test_small_sgd_fits_use_one_thread_unless_asked(ratings):
    """Parallel SGD meets at a barrier per stratum: not worth it on small data."""
    X, y = ratings
    assert small("sgd").fit(X, y)._solver_params.n_threads == 1
    assert small("sgd", n_jobs=2).fit(X, y)._solver_params.n_threads == 2
    assert small("als", n_jobs=2).fit(X, y)._solver_params.n_threads == 2


def test_clone_is_unfitted(ratings):
    mf = small().fit(*ratings)
    copy = clone(mf)
    assert copy.get_params() == mf.get_params()
    assert not hasattr(copy, "user_factors_")
