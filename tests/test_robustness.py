"""Odd but valid input, extreme values and concurrency: never a silent wrong answer.

One test per class of failure, each over more cases than the one that was
reported: ids that a common float64 array would merge, values that overflow
the model's dtype, weights that underflow it, empty histories, overlapping
fits in threads and ids of the wrong type.
"""

import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_val_score
from threadpoolctl import threadpool_info

from skmf import (
    BayesianMatrixFactorization,
    ImplicitMatrixFactorization,
    MatrixFactorization,
)

from .conftest import low_rank_ratings

BIG = 2**53  # above it, float64 cannot tell n from n + 1


def estimators():
    return [
        MatrixFactorization(n_components=2, max_iter=3, random_state=0),
        MatrixFactorization(n_components=2, solver="als", max_iter=3, random_state=0),
        BayesianMatrixFactorization(
            n_components=2, n_samples=3, burn_in=2, random_state=0
        ),
        ImplicitMatrixFactorization(n_components=2, max_iter=3, random_state=0),
    ]


def ids_of(estimator):
    return f"{type(estimator).__name__}-{getattr(estimator, 'solver', None)}"


ESTIMATORS = pytest.mark.parametrize("estimator", estimators(), ids=ids_of)


def big_id_frames():
    """Thirty distinct users, consecutive integers above 2**53, in many dtypes."""
    users = np.arange(BIG, BIG + 30, dtype=np.int64)
    items = np.arange(30) % 7
    frames = {
        "Int64": pd.DataFrame({"user": pd.array(users, dtype="Int64"), "item": items}),
        "int64 next to float64": pd.DataFrame(
            {"user": users, "item": items.astype(np.float64)}
        ),
        "UInt64 above 2**63": pd.DataFrame(
            {
                "user": pd.array(users.astype(np.uint64) + np.uint64(2**63), "UInt64"),
                "item": items,
            }
        ),
        "categorical": pd.DataFrame(
            {"user": pd.Categorical(users), "item": items.astype(np.float64)}
        ),
    }
    pytest.importorskip("pyarrow")
    frames["int64[pyarrow]"] = pd.DataFrame(
        {"user": pd.array(users, dtype="int64[pyarrow]"), "item": items}
    )
    return frames


@ESTIMATORS
@pytest.mark.parametrize("kind", list(big_id_frames()))
def test_big_integer_ids_are_never_merged(estimator, kind):
    X = big_id_frames()[kind]
    y = np.linspace(1, 5, len(X))
    estimator.fit(X, y)
    assert len(estimator.users_) == 30
    expected = sorted(X["user"].tolist())
    assert [int(u) for u in estimator.users_] == [int(u) for u in expected]
    # Ids come back as integers, not as floats that merely look like them.
    assert estimator.users_.dtype.kind in "iuO"
    assert all(isinstance(u, (int, np.integer)) for u in estimator.users_)
    # And predicting or recommending with the same frame finds every user.
    ids, _ = estimator.recommend(X["user"].to_numpy(dtype=object), n=1)
    assert ids.shape == (30, 1)


def test_missing_nullable_id_is_an_error():
    X = pd.DataFrame({"user": pd.array([1, None, 3], dtype="Int64"), "item": [1, 2, 3]})
    for estimator in estimators():
        with pytest.raises(ValueError, match="missing id .* row 1"):
            estimator.fit(X, [1.0, 2.0, 3.0])


EXTREMES = {
    "counts x 1e10, float32 CG": dict(scale=1e10),
    "ratings of 1e30": dict(scale=1e30),
    "alpha 1e30": dict(params={"alpha": 1e30}),
    "confidence_scale 1e30": dict(params={"confidence_scale": 1e30}),
    "exact solves, counts to 1e9": dict(
        counts=True, params={"cg_steps": None, "alpha": 1e-6, "n_components": 20}
    ),
}


@pytest.mark.parametrize("case", list(EXTREMES))
def test_implicit_model_is_finite_or_an_error(case):
    """Overflowing confidences or runaway iterates: a ValueError, never NaN."""
    spec = EXTREMES[case]
    X, y = low_rank_ratings(n_users=200, n_items=100, density=0.1)
    y = np.abs(y)
    if spec.get("counts"):
        y = 10 ** np.random.default_rng(0).uniform(0, 9, len(y))
    y = y * spec.get("scale", 1.0)
    model = ImplicitMatrixFactorization(
        **{
            "n_components": 8,
            "max_iter": 5,
            "random_state": 0,
            **spec.get("params", {}),
        }
    )
    try:
        model.fit(X, y)
    except ValueError as error:
        message = str(error)
        assert "float64" in message or "confidence" in message, message
    else:
        assert np.all(np.isfinite(model.user_factors_))
        assert np.all(np.isfinite(model.item_factors_))
        assert np.all(np.isfinite(model.loss_curve_))


def test_implicit_breakdown_is_an_error_naming_the_fix():
    """The implicit counterpart of the explicit ALS breakdown message."""
    X, y = low_rank_ratings(n_users=200, n_items=100, density=0.1)
    y = 10 ** np.random.default_rng(0).uniform(0, 9, len(y))
    exact = dict(cg_steps=None, alpha=1e-6, n_components=20, max_iter=3)
    with pytest.raises(ValueError, match=r"diverged at sweep \d+: .*float64"):
        ImplicitMatrixFactorization(**exact).fit(X, y)


@pytest.mark.parametrize(
    "estimator", estimators()[:3], ids=ids_of
)  # the explicit models
@pytest.mark.parametrize("scale", [1e30, 1e300])
def test_explicit_model_is_finite_or_an_error(estimator, scale):
    X, y = low_rank_ratings(n_users=40, n_items=30)
    try:
        estimator.fit(X, y * scale)
    except ValueError as error:
        assert "dtype='float64'" in str(error) or "common factor" in str(error)
    else:
        assert np.all(np.isfinite(estimator.predict(X)))


@pytest.mark.parametrize("estimator", estimators()[:3], ids=ids_of)
@pytest.mark.parametrize(
    "weights",
    [
        pytest.param(lambda n: np.full(n, 1e-300), id="all 1e-300"),
        pytest.param(lambda n: np.r_[np.full(n - 1, 1.0), 1e-300], id="one 1e-300"),
        pytest.param(lambda n: np.r_[np.full(n - 1, 1.0), 1e300], id="one 1e300"),
    ],
)
def test_weights_the_dtype_cannot_hold_are_an_error(estimator, weights):
    X, y = low_rank_ratings(n_users=30, n_items=20)
    estimator.set_params(dtype="float32")
    with pytest.raises(ValueError, match="sample_weight .* float32"):
        estimator.fit(X, y, sample_weight=weights(len(y)))


@pytest.mark.parametrize("zero_side", ["training", "validation"])
def test_early_stopping_with_a_zero_weight_side_is_an_error(zero_side):
    X, y = low_rank_ratings(n_users=30, n_items=20)
    n_valid = int(np.ceil(0.1 * len(y)))
    valid = np.random.RandomState(0).permutation(len(y))[:n_valid]
    weights = np.zeros(len(y))
    if zero_side == "training":
        weights[valid] = 1.0
    else:
        weights[:] = 1.0
        weights[valid] = 0.0
    mf = MatrixFactorization(
        n_components=2, early_stopping=True, max_iter=3, random_state=0
    )
    with pytest.raises(ValueError, match=f"{zero_side} part has only zero"):
        mf.fit(X, y, sample_weight=weights)


@pytest.mark.filterwarnings("ignore:The items given are strings")
@pytest.mark.parametrize("estimator", [estimators()[1], estimators()[3]], ids=ids_of)
@pytest.mark.parametrize(
    "history",
    [((), ()), ((), None), (("nowhere",), (4.0,)), (("nowhere", "never"), None)],
    ids=["empty pair", "empty items", "one unknown", "two unknown"],
)
def test_a_history_with_no_known_item_is_an_unknown_user(estimator, history):
    X, y = low_rank_ratings(n_users=30, n_items=20)
    estimator.fit(X, np.abs(y))
    items, ratings = history
    factors, bias = estimator.fold_in(list(items), ratings)
    assert not np.any(factors) and bias == 0.0
    # Ranked like a user the model has never seen: the popular (or best-liked)
    # items, not an arbitrary order of zero scores.
    ids, scores = estimator.recommend_for_ratings(list(items), ratings, n=5)
    unknown_ids, unknown_scores = estimator.recommend(-1, n=5)
    np.testing.assert_array_equal(ids, unknown_ids)
    np.testing.assert_allclose(scores, unknown_scores)


def test_overlapping_fits_in_threads_restore_the_blas_limits():
    before = [(info["internal_api"], info["num_threads"]) for info in threadpool_info()]
    X, y = low_rank_ratings(n_users=300, n_items=200, density=0.3)
    errors = []

    def fit(delay):
        try:
            for _ in range(3):
                MatrixFactorization(
                    n_components=8, solver="als", max_iter=3 + delay, random_state=0
                ).fit(X, y)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(d,)) for d in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    after = [(info["internal_api"], info["num_threads"]) for info in threadpool_info()]
    assert after == before


@pytest.mark.parametrize("estimator", estimators(), ids=ids_of)
def test_ids_of_the_wrong_type_warn(estimator):
    """ "1" is not 1: a query of the other kind than the fitted ids warns."""
    X, y = low_rank_ratings(n_users=30, n_items=20)
    estimator.fit(X, np.abs(y))
    with pytest.warns(UserWarning, match="users given are strings .* number ids"):
        estimator.recommend("1", n=2)
    if hasattr(estimator, "predict"):
        with pytest.warns(UserWarning, match="users given are strings"):
            estimator.predict([["1", "2"], ["3", "4"]])
    if hasattr(estimator, "fold_in"):
        with pytest.warns(UserWarning, match="items given are strings"):
            estimator.fold_in(["1", "2"], [4.0, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator.recommend(1, n=2)
        estimator.recommend(10**6, n=2)  # unknown, but of the fitted kind
    estimator.fit(X.astype(str), np.abs(y))
    with pytest.warns(UserWarning, match="users given are numbers .* string ids"):
        estimator.recommend(1, n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator.recommend("1", n=2)
        estimator.recommend("nobody", n=2)


def test_cross_validation_holding_out_whole_users_warns():
    """Unshuffled KFold on ratings sorted by user measures unknown users."""
    X, y = low_rank_ratings(n_users=60, n_items=40)
    order = np.argsort(X[:, 0], kind="stable")
    X, y = X[order], y[order]
    mf = MatrixFactorization(n_components=2, max_iter=3, random_state=0)
    with pytest.warns(UserWarning, match="KFold.*shuffle=True"):
        cross_val_score(mf, X, y, cv=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cross_val_score(mf, X, y, cv=KFold(5, shuffle=True, random_state=0))


def test_hasattr_tells_what_a_model_can_do():
    X, y = low_rank_ratings(n_users=30, n_items=20)
    for estimator in estimators():
        estimator.fit(X, np.abs(y))
        folds_in = not isinstance(estimator, BayesianMatrixFactorization)
        for name in ("fold_in", "recommend_for_ratings", "predict_for_ratings"):
            assert hasattr(estimator, name) == folds_in, (estimator, name)
        explicit = not isinstance(estimator, ImplicitMatrixFactorization)
        assert hasattr(estimator, "predict") == explicit
        assert hasattr(estimator, "recommend") and hasattr(estimator, "similar_items")


@pytest.mark.parametrize("estimator", estimators(), ids=ids_of)
def test_a_fitted_model_serves_many_threads_at_once(estimator):
    """predict, recommend and similar_items read only the fitted state."""
    X, y = low_rank_ratings(n_users=200, n_items=100, density=0.3)
    estimator.fit(X, np.abs(y))
    users = np.unique(X[:, 0])

    def answers():
        out = [estimator.recommend(users, n=5)[0], estimator.similar_items(3, n=4)[0]]
        if hasattr(estimator, "predict"):
            out.append(estimator.predict(X))
        return out

    expected = answers()
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(answers())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results:
        for got, want in zip(result, expected, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("estimator", estimators(), ids=ids_of)
@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_an_interrupted_refit_leaves_the_model_unfitted(estimator, error, monkeypatch):
    """Never the ids of one fit with the factors of another."""
    from sklearn.exceptions import NotFittedError

    from skmf._solvers._base import Solver

    X, y = low_rank_ratings(n_users=30, n_items=20)
    estimator.fit(X, np.abs(y))
    calls = []

    def interrupted(solver_class):
        step = solver_class.step

        def wrapper(self):
            calls.append(1)
            if len(calls) == 2:
                raise error()
            return step(self)

        return wrapper

    for cls in Solver.__subclasses__():
        monkeypatch.setattr(cls, "step", interrupted(cls))
    with pytest.raises(error):
        estimator.fit(X[:-40] + 1000, np.abs(y[:-40]))
    with pytest.raises(NotFittedError):
        estimator.recommend(X[0, 0])
    assert not [name for name in vars(estimator) if name.endswith("_")]
