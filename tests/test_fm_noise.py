"""Per-user and per-item noise levels of the Bayesian factorization machine.

The kernels that sum the residuals by row and rebuild the ratings' weights
against NumPy, the scales' draws against their Gamma conditional, the
solver's weights against the scales, sample weights as repeated ratings, and
what the model learns from ratings whose noise differs from user to user.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from skmf._solvers._fm_fast import scaled_square_sums, scaled_weights

from skmf import BayesianFactorizationMachine
from skmf._solvers._base import Ratings
from skmf._solvers.fm_gibbs import (
    Block,
    FMGibbsParams,
    FMGibbsSolver,
    FMParameters,
    FMPrior,
    sample_noise_scales,
)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("other", [False, True])
def test_scaled_square_sums_match_numpy(weighted, other):
    rng = np.random.default_rng(0)
    n, n_rows = 500, 17
    rows = rng.integers(0, n_rows, n).astype(np.int32)
    residuals = rng.standard_normal(n)
    other_rows = rng.integers(0, 11, n).astype(np.int32)
    other_scale = rng.uniform(0.5, 2.0, 11)
    sample_weights = rng.uniform(0.0, 3.0, n) if weighted else np.zeros(0)
    factor = other_scale[other_rows] if other else np.ones(n)
    factor = factor * (sample_weights if weighted else 1.0)
    if not other:
        other_rows, other_scale = np.zeros(0, np.int32), np.zeros(0)
    out = np.full(n_rows, np.nan)
    scaled_square_sums(rows, residuals, sample_weights, other_rows, other_scale, out)
    expected = np.bincount(rows, factor * residuals**2, minlength=n_rows)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("two", [False, True])
def test_scaled_weights_match_numpy(n_threads, weighted, two):
    rng = np.random.default_rng(1)
    n = 1000
    rows_a = rng.integers(0, 30, n).astype(np.int32)
    rows_b = rng.integers(0, 40, n).astype(np.int32)
    a, b = rng.uniform(0.5, 2.0, 30), rng.uniform(0.5, 2.0, 40)
    sample_weights = rng.uniform(0.0, 3.0, n) if weighted else np.zeros(0)
    expected = a[rows_a] * (b[rows_b] if two else 1.0)
    expected = expected * (sample_weights if weighted else 1.0)
    if not two:
        rows_b, b = np.zeros(0, np.int32), np.zeros(0)
    out = np.full(n, np.nan)
    scaled_weights(sample_weights, rows_a, a, rows_b, b, out, n_threads)
    np.testing.assert_allclose(out, expected, rtol=1e-15)


def test_scale_draws_follow_their_gamma_conditional():
    """Mean (nu + n) / (nu + tau S) and variance mean / ((nu + n) / 2)."""
    n_rows, strength, tau = 200_000, 10.0, 2.0
    count = np.full(n_rows, 30.0)
    spread = np.full(n_rows, 4.0)
    draws = sample_noise_scales(spread, count, strength, tau, np.random.default_rng(0))
    shape, rate = (strength + 30) / 2, (strength + tau * 4.0) / 2
    np.testing.assert_allclose(draws.mean(), shape / rate, rtol=5e-3)
    np.testing.assert_allclose(draws.var(), shape / rate**2, rtol=2e-2)


def _ratings(users, items, values, weights):
    return Ratings(
        users=users, items=items, values=values, weights=weights, n_users=12,
        n_items=9,
        indptr=np.concatenate([[0], np.cumsum(np.bincount(users, minlength=12))]),
    )  # fmt: skip


def _blocks(ratings):
    return [
        Block(sp.identity(12, format="csr"), ratings.users, np.zeros(12, np.int32)),
        Block(sp.identity(9, format="csr"), ratings.items, np.ones(9, np.int32)),
    ]


def _problem(weighted=False, seed=0):
    """Ratings of 12 users and 9 items on an id block each."""
    rng = np.random.default_rng(seed)
    n = 80
    users = rng.integers(0, 12, n).astype(np.int32)
    users[:12] = np.arange(12)
    items = rng.integers(0, 9, n).astype(np.int32)
    items[:9] = np.arange(9)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    values = rng.standard_normal(n)
    weights = rng.uniform(0.5, 2.0, n) if weighted else np.zeros(0)
    ratings = _ratings(users, items, values, weights)
    return ratings, _blocks(ratings)


def _start(k=3, seed=0):
    rng = np.random.default_rng(seed)
    return FMParameters(
        0.0,
        [np.zeros(12), np.zeros(9)],
        [0.1 * rng.standard_normal((12, k)), 0.1 * rng.standard_normal((9, k))],
    )


def _params(noise, strength=5.0):
    return FMGibbsParams(
        prior=FMPrior(1.0, 1.0, 1.0), n_groups=2, initial_noise_precision=1.0,
        n_threads=1, noise=noise, noise_strength=strength,
    )  # fmt: skip


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("noise", ["user", "item", "both"])
def test_the_sweep_weights_are_the_scales_times_the_sample_weights(noise, weighted):
    ratings, blocks = _problem(weighted)
    solver = FMGibbsSolver(
        ratings, _start(), _params(noise), np.random.default_rng(0), blocks
    )
    for _ in range(4):
        solver.step()
    sides = {"user": {"user"}, "item": {"item"}, "both": {"user", "item"}}
    assert set(solver.noise_scales) == sides[noise]
    expected = ratings.weights.copy() if weighted else np.ones(ratings.n_ratings)
    for side, codes in (("user", ratings.users), ("item", ratings.items)):
        if side in solver.noise_scales:
            scales = solver.noise_scales[side]
            assert np.all(scales > 0) and not np.allclose(scales, 1.0)
            expected = expected * scales[codes]
    np.testing.assert_allclose(solver.weights, expected, rtol=1e-14)
    np.testing.assert_allclose(solver.total_weight, expected.sum(), rtol=1e-14)
    # The sample weights themselves are left as they were.
    np.testing.assert_array_equal(solver.sample_weights, ratings.weights)


def test_shared_noise_draws_no_scales_and_keeps_the_sample_weights():
    ratings, blocks = _problem(weighted=True)
    solver = FMGibbsSolver(
        ratings, _start(), _params("shared"), np.random.default_rng(0), blocks
    )
    solver.step()
    assert solver.noise_scales == {}
    assert solver.weights is solver.sample_weights


def test_the_returned_loss_is_the_sample_weighted_sse():
    """The loop's training RMSE must not be weighted by the noise scales."""
    ratings, blocks = _problem(weighted=True)
    solver = FMGibbsSolver(
        ratings, _start(), _params("both"), np.random.default_rng(0), blocks
    )
    for _ in range(3):
        sse = solver.step()
    e = solver.residuals
    np.testing.assert_allclose(sse, e @ (ratings.weights * e), rtol=1e-12)


def test_a_weight_of_two_draws_the_scales_of_a_repeated_rating():
    ratings, blocks = _problem()
    twice = np.arange(ratings.n_ratings) % 4 == 0
    weighted = _ratings(
        ratings.users, ratings.items, ratings.values, np.where(twice, 2.0, 1.0)
    )
    rows = np.arange(ratings.n_ratings)
    rows = np.sort(np.concatenate([rows, rows[twice]]))
    repeated = _ratings(
        ratings.users[rows], ratings.items[rows], ratings.values[rows], np.zeros(0)
    )
    results = []
    for data in (weighted, repeated):
        solver = FMGibbsSolver(
            data, _start(), _params("both"), np.random.default_rng(5), _blocks(data)
        )
        for _ in range(3):
            solver.step()
        results.append(solver)
    for side in ("user", "item"):
        np.testing.assert_allclose(
            results[0].noise_scales[side], results[1].noise_scales[side], rtol=1e-9
        )
    np.testing.assert_allclose(
        results[0].noise_precision, results[1].noise_precision, rtol=1e-9
    )


def _heteroscedastic(seed=0):
    """Rank-2 ratings: every second user's noise is 2.0, the others' 0.3."""
    rng = np.random.default_rng(seed)
    n_users, n_items, per = 300, 120, 30
    U, V = rng.standard_normal((n_users, 2)), rng.standard_normal((n_items, 2))
    noisy = np.arange(n_users) % 2 == 1
    users = np.repeat(np.arange(n_users), per)
    items = np.concatenate(
        [rng.choice(n_items, per, replace=False) for _ in range(n_users)]
    )
    truth = 3 + (U[users] * V[items]).sum(axis=1)
    y = truth + np.where(noisy[users], 2.0, 0.3) * rng.standard_normal(len(truth))
    held_out = rng.random(len(y)) < 0.2
    return pd.DataFrame({"user": users, "item": items}), y, truth, held_out, noisy


def test_noisy_users_weigh_less_and_the_others_are_predicted_better():
    X, y, truth, held_out, noisy = _heteroscedastic()
    errors = {}
    for noise in ("shared", "both"):
        fm = BayesianFactorizationMachine(
            n_components=2, n_samples=40, burn_in=20, noise=noise, random_state=0
        ).fit(X[~held_out], y[~held_out])
        clean = ~noisy[X["user"].to_numpy()[held_out]]
        error = fm.predict(X[held_out])[clean] - truth[held_out][clean]
        errors[noise] = np.sqrt(np.mean(error**2))
        scales = fm.user_noise_scale_
        assert scales.shape == (300,) and fm.item_noise_scale_.shape == (120,)
        if noise == "shared":
            np.testing.assert_array_equal(scales, 1.0)
            np.testing.assert_array_equal(fm.item_noise_scale_, 1.0)
        else:
            assert scales[noisy[fm.users_]].max() < scales[~noisy[fm.users_]].min()
    assert errors["both"] < 0.9 * errors["shared"]


def test_a_bad_noise_option_is_a_clear_error():
    X, y, *_ = _heteroscedastic()
    with pytest.raises(ValueError, match="'noise' parameter"):
        BayesianFactorizationMachine(noise="users").fit(X, y)
    with pytest.raises(ValueError, match="'noise_strength' parameter"):
        BayesianFactorizationMachine(noise_strength=0).fit(X, y)
