"""The L1 and elastic-net penalties of MatrixFactorization's SGD solver."""

import numpy as np
import pytest

from skmf import MatrixFactorization
from skmf._mf import _penalty
from skmf._solvers._base import FactorModel
from skmf._solvers.sgd import LOSS_CODES, select_kernel

from . import reference
from .conftest import low_rank_ratings


def sgd(**params):
    params = {"n_components": 4, "max_iter": 10, "random_state": 0, **params}
    return MatrixFactorization(**params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error"])
@pytest.mark.parametrize("fit_biases", [False, True])
def test_kernel_l1_step_matches_reference(dtype, loss, fit_biases):
    rng = np.random.default_rng(0)
    n_users, n_items, k, n = 9, 7, 3, 120
    users = rng.integers(n_users, size=n).astype(np.int32)
    items = rng.integers(n_items, size=n).astype(np.int32)
    values = rng.normal(size=n).astype(dtype)
    weights = rng.uniform(0.5, 2, size=n).astype(dtype)
    W = (rng.normal(size=(n_users, k)) * 0.3).astype(dtype)
    H = (rng.normal(size=(n_items, k)) * 0.3).astype(dtype)
    bu = (rng.normal(size=n_users) * 0.1).astype(dtype)
    bi = (rng.normal(size=n_items) * 0.1).astype(dtype)
    expected = reference.sgd_pass(
        users, items, values, weights, np.arange(n), W, H, bu, bi,
        0.05, 0.02, loss, fit_biases, l1=0.4,
    )  # fmt: skip
    got = [a.copy() for a in (W, H, bu, bi)]
    losses = np.zeros(1)
    select_kernel().sgd_blocks(
        users, items, values, weights, np.array([0, n], np.int64), 1,
        np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, 0.05), *got,
        0.02, LOSS_CODES[loss], fit_biases, 1, losses, 0.4,
    )  # fmt: skip
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for array, want in zip(got, expected[:4], strict=True):
        np.testing.assert_allclose(array, want, atol=tol)
    np.testing.assert_allclose(losses[0], expected[4], rtol=tol)
    # Soft thresholding leaves exact zeros, which a subgradient step would not.
    assert np.any(got[0] == 0) and np.any(got[1] == 0)


def test_l2_is_the_default_and_elasticnet_spans_l2_to_l1():
    X, y = low_rank_ratings()
    default = sgd().fit(X, y)
    for same in (sgd(penalty="l2"), sgd(penalty="elasticnet", l1_ratio=0.0)):
        np.testing.assert_array_equal(
            same.fit(X, y).user_factors_, default.user_factors_
        )
    l1 = sgd(penalty="l1", alpha=0.05).fit(X, y)
    full = sgd(penalty="elasticnet", l1_ratio=1.0, alpha=0.05).fit(X, y)
    np.testing.assert_array_equal(l1.user_factors_, full.user_factors_)
    assert not np.array_equal(l1.user_factors_, default.user_factors_)


def test_l1_gives_sparse_factors_that_grow_sparser_with_alpha():
    X, y = low_rank_ratings(n_users=100, n_items=80, rank=2)
    shares = []
    for alpha in (0.0, 0.02, 0.1, 0.5):
        model = sgd(penalty="l1", alpha=alpha, n_components=8).fit(X, y)
        shares.append(np.mean(model.item_factors_ == 0))
        assert np.all(np.isfinite(model.predict(X)))
    assert shares[0] == 0
    assert shares[1] < shares[2] < shares[3]
    assert shares[3] > 0.5
    # Plain L2 never sets a factor exactly to zero.
    assert not np.any(sgd(alpha=0.5, n_components=8).fit(X, y).item_factors_ == 0)


def test_elasticnet_ratio_moves_the_result():
    X, y = low_rank_ratings()
    a = sgd(penalty="elasticnet", alpha=0.1, l1_ratio=0.2).fit(X, y)
    b = sgd(penalty="elasticnet", alpha=0.1, l1_ratio=0.8).fit(X, y)
    assert np.mean(b.user_factors_ == 0) > np.mean(a.user_factors_ == 0)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_penalty_term_of_the_objective(l1_ratio):
    rng = np.random.default_rng(1)
    model = FactorModel(
        rng.normal(size=(5, 3)), rng.normal(size=(4, 3)),
        rng.normal(size=5), rng.normal(size=4),
    )  # fmt: skip
    n_u, n_i = rng.integers(1, 5, size=5), rng.integers(1, 5, size=4)
    expected = 0.0
    for rows, bias, counts in (
        (model.user_factors, model.user_bias, n_u),
        (model.item_factors, model.item_bias, n_i),
    ):
        l2 = (rows**2).sum(axis=1) + bias**2
        l1 = np.abs(rows).sum(axis=1) + np.abs(bias)
        expected += counts @ ((1 - l1_ratio) * l2 + l1_ratio * l1)
    assert _penalty(model, n_u, n_i, l1_ratio) == pytest.approx(expected)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_als_refuses_an_l1_penalty(penalty):
    X, y = low_rank_ratings()
    with pytest.raises(ValueError, match="solver='als' .* penalty=.*solver='sgd'"):
        MatrixFactorization(solver="als", penalty=penalty).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"penalty": "l3"}, "penalty"),
        ({"penalty": "elasticnet", "l1_ratio": 1.5}, "l1_ratio"),
        ({"penalty": "elasticnet", "l1_ratio": -0.1}, "l1_ratio"),
    ],
)
def test_bad_penalty_parameters(params, match):
    X, y = low_rank_ratings()
    with pytest.raises(ValueError, match=match):
        sgd(**params).fit(X, y)
