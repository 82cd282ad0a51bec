"""Tests of FactorizationMachine and its SGD and ALS solvers over relation blocks."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp

from skmf._solvers._base import Ratings
from skmf._solvers.fm_gibbs import Block, FMParameters, predict_blocks
from skmf._solvers.fm_sgd import FMSGDParams, FMSGDSolver

# ----------------------------------------------------------------------
# Plain NumPy references over the materialized feature matrix.


def _materialize(blocks):
    return sp.hstack([b.matrix()[b.rows] for b in blocks]).toarray()


def _ratings(values, weights=None):
    n = values.shape[0]
    return Ratings(
        users=np.zeros(n, np.int32),
        items=np.zeros(n, np.int32),
        values=values,
        weights=np.empty(0) if weights is None else weights,
        n_users=1,
        n_items=1,
        indptr=np.array([0, n], np.int64),
    )


def _params(blocks, n_groups, lr=0.05, reg=0.3, n_threads=1):
    return FMSGDParams(
        reg_bias=np.full(n_groups, reg),
        reg_factors=np.linspace(reg, 2 * reg, n_groups),
        learning_rate=lr,
        learning_rate_schedule="constant",
        decay_rate=1.0,
        decay_steps=1,
        n_threads=n_threads,
    )


def _start(blocks, k, seed=1):
    rng = np.random.default_rng(seed)
    return FMParameters(
        bias=0.1,
        biases=[rng.normal(scale=0.1, size=b.n_features) for b in blocks],
        factors=[rng.normal(scale=0.3, size=(b.n_features, k)) for b in blocks],
    )


def _reference_epoch(solver, blocks, model, values, weights, positions, offsets,
                     calls=None):  # fmt: skip
    """One epoch of the grouped SGD, dense and feature by feature: each
    rating's step on the features of blocks 1.., then the group's step on its
    block-0 row from the gradient and curvature summed over its ratings; w_0
    steps after each call (the groups ``calls[c]:calls[c + 1]``)."""
    if calls is None:
        calls = [0, len(positions)]
    ends = set(calls[1:])
    X = _materialize(blocks)
    w = np.concatenate(model.biases).copy()
    V = np.concatenate(model.factors).copy()
    w0 = model.bias
    n_first = blocks[0].n_features
    p = solver.params
    lr = p.learning_rate
    groups = np.concatenate([b.groups for b in blocks])
    # lambda_g / C_j, C_j the weight of the ratings holding feature j.
    seen = (X != 0).T.astype(float) @ weights
    share = np.where(seen > 0, 1 / np.where(seen > 0, seen, 1), 0)
    reg_w, reg_v = p.reg_bias[groups] * share, p.reg_factors[groups] * share
    total_loss = total_error = total_weight = 0.0
    for position, (g, offset) in enumerate(zip(positions, offsets, strict=True)):
        ratings = solver.group_order[solver.group_ptr[g] : solver.group_ptr[g + 1]]
        ratings = np.roll(ratings, -offset)
        x0 = X[ratings[0]].copy()
        x0[n_first:] = 0
        J0 = np.flatnonzero(x0)
        Q0 = x0 @ V
        lin0 = x0 @ w - 0.5 * (x0**2) @ (V**2).sum(axis=1)
        S = E = 0.0
        A = np.zeros(V.shape[1])
        visits = []
        for n in ratings:
            s = weights[n]
            x = X[n].copy()
            x[:n_first] = 0
            Q = Q0 + x @ V
            pred = w0 + lin0 + x @ w - 0.5 * (x**2) @ (V**2).sum(axis=1)
            pred += 0.5 * Q @ Q
            e = values[n] - pred
            total_loss += s * e * e
            S, E = S + s, E + s * e
            A = A + s * e * Q
            visits.append((s, Q))
            J = np.flatnonzero(x)
            # The squared slopes of every parameter the rating steps.
            H = np.sum(x[J] ** 2) + np.sum((x[J, None] * (Q - V[J] * x[J, None])) ** 2)
            for j in J:
                r = s * reg_w[j]
                w[j] += lr * (s * e * x[j] - r * w[j]) / (1 + lr * (s * H + r))
                h = x[j] * (Q - V[j] * x[j])
                r = s * reg_v[j]
                V[j] += lr * (s * e * h - r * V[j]) / (1 + lr * (s * H + r))
        # The squared slopes in the row's features, summed over the ratings
        # (with each rating's Q at its visit; block 0 has not moved since).
        H = sum(
            s * np.sum(x0[J0] ** 2 * (1 + np.sum((Q - V[J0] * x0[J0, None]) ** 2, 1)))
            for s, Q in visits
        )
        for j in J0:
            xj = x0[j]
            r = S * reg_w[j]
            w[j] += lr * (xj * E - r * w[j]) / (1 + lr * (H + r))
            vx = V[j] * xj
            grad = xj * (A - vx * E)
            r = S * reg_v[j]
            V[j] += lr * (grad - r * V[j]) / (1 + lr * (H + r))
        total_error += E
        total_weight += S
        if position + 1 in ends:
            w0 += lr * total_error / total_weight
            total_error = total_weight = 0.0
    return w0, w, V, total_loss


def _relational_blocks(seed=0, n_ratings=120, n_users=10, n_items=8, k_history=True):
    """A user block [id | attribute | history], an item block [id | genres]
    and a context block, as the estimator builds them."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings)
    items = rng.integers(0, n_items, n_ratings)
    user_rows = [sp.eye(n_users), sp.random(n_users, 2, density=0.5, random_state=1)]
    if k_history:
        seen = sp.csr_matrix((np.ones(n_ratings), (users, items)), (n_users, n_items))
        seen.data[:] = 1.0
        seen = sp.diags(1 / np.sqrt(np.maximum(seen.sum(axis=1).A1, 1))) @ seen
        user_rows.append(seen)
    user_matrix = sp.hstack(user_rows).tocsr()
    item_matrix = sp.hstack(
        [sp.eye(n_items), sp.random(n_items, 3, density=0.6, random_state=2)]
    ).tocsr()
    context = sp.random(n_ratings, 4, density=0.5, random_state=3) + sp.eye(
        n_ratings, 4
    )
    user_groups = [0] * n_users + [1, 1] + [2] * (n_items if k_history else 0)
    blocks = [
        Block(user_matrix, users, user_groups),
        Block(item_matrix, items, [3] * n_items + [4] * 3),
        Block(context, np.arange(n_ratings), [5] * 4),
    ]
    values = rng.normal(size=n_ratings)
    return blocks, values, 6


@pytest.mark.parametrize("weighted", [False, True])
def test_sgd_epoch_matches_reference(weighted):
    blocks, values, n_groups = _relational_blocks()
    weights = np.random.default_rng(5).uniform(0.2, 3, values.shape[0])
    model = _start(blocks, 3)
    ratings = _ratings(values, weights if weighted else None)
    solver = FMSGDSolver(
        ratings, copy.deepcopy(model), _params(blocks, n_groups),
        np.random.RandomState(0), blocks,
    )  # fmt: skip
    draws = copy.deepcopy(solver.rng)
    positions = draws.permutation(solver.n_groups)
    sizes = np.diff(solver.group_ptr)[positions]
    offsets = (draws.random_sample(solver.n_groups) * sizes).astype(np.int64)
    expected = _reference_epoch(
        solver, blocks, model, values,
        weights if weighted else np.ones_like(values), positions, offsets,
    )  # fmt: skip
    loss = solver.step()
    np.testing.assert_allclose(solver.model.bias, expected[0], rtol=1e-12)
    np.testing.assert_allclose(np.concatenate(solver.model.biases), expected[1],
                               rtol=1e-10, atol=1e-13)  # fmt: skip
    np.testing.assert_allclose(np.concatenate(solver.model.factors), expected[2],
                               rtol=1e-10, atol=1e-13)  # fmt: skip
    np.testing.assert_allclose(loss, expected[3], rtol=1e-12)


def test_group_step_is_the_gradient_of_its_ratings():
    """With a tiny step, the block-0 row's step is lr times the negative
    gradient of half the group's squared errors (by finite differences): the
    summed gradient of the grouped update is the gradient of SGD's loss."""
    blocks, values, n_groups = _relational_blocks(n_users=1)
    model = _start(blocks, 3)
    lr = 1e-7
    params = _params(blocks, n_groups, lr=lr, reg=0.0)
    solver = FMSGDSolver(_ratings(values), copy.deepcopy(model), params,
                         np.random.RandomState(0), blocks)  # fmt: skip
    solver.step()
    n_first = blocks[0].n_features
    moved = (solver.model.factors[0] - model.factors[0]) / lr

    def half_sse(v0):
        trial = copy.deepcopy(model)
        trial.factors[0] = v0
        return 0.5 * np.sum((values - predict_blocks(blocks, trial)) ** 2)

    step = 1e-6
    for j in np.flatnonzero(blocks[0].matrix()[0].toarray().ravel())[:6]:
        for f in range(3):
            up, down = model.factors[0].copy(), model.factors[0].copy()
            up[j, f] += step
            down[j, f] -= step
            gradient = (half_sse(up) - half_sse(down)) / (2 * step)
            np.testing.assert_allclose(moved[j, f], -gradient, rtol=1e-3, atol=1e-4)
    assert n_first > 0


def _disjoint_blocks(n_users=16, per_user=6):
    """Users that share no feature: each rates items of its own, so that the
    Hogwild updates of two threads never touch the same parameter."""
    users = np.repeat(np.arange(n_users), per_user)
    items = np.arange(n_users * per_user)
    n_items = items.shape[0]
    seen = sp.csr_matrix((np.ones(n_items), (users, items)), (n_users, n_items))
    seen = seen / np.sqrt(per_user)
    blocks = [
        Block(sp.hstack([sp.eye(n_users), seen]).tocsr(), users,
              [0] * n_users + [1] * n_items),
        Block(sp.eye(n_items).tocsr(), items, [2] * n_items),
    ]  # fmt: skip
    values = np.random.default_rng(0).normal(size=n_items)
    return blocks, values, 3


@pytest.mark.parametrize("n_threads", [1, 2])
def test_sgd_epochs_match_reference_on_threads(n_threads):
    blocks, values, n_groups = _disjoint_blocks()
    model = _start(blocks, 4)
    solver = FMSGDSolver(
        _ratings(values), copy.deepcopy(model),
        _params(blocks, n_groups, n_threads=n_threads), np.random.RandomState(3),
        blocks,
    )  # fmt: skip
    for _ in range(3):
        draws = copy.deepcopy(solver.rng)
        positions = draws.permutation(solver.n_groups)
        sizes = np.diff(solver.group_ptr)[positions]
        offsets = (draws.random_sample(solver.n_groups) * sizes).astype(np.int64)
        current = FMParameters(
            solver.model.bias,
            [w.copy() for w in solver.model.biases],
            [v.copy() for v in solver.model.factors],
        )
        w0, w, V, loss = _reference_epoch(
            solver, blocks, current, values, np.ones_like(values), positions,
            offsets,
        )  # fmt: skip
        assert solver.step() == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(np.concatenate(solver.model.factors), V,
                                   rtol=1e-10, atol=1e-13)  # fmt: skip
        np.testing.assert_allclose(solver.model.bias, w0, rtol=1e-12)


def test_sgd_epoch_cut_into_calls_matches_reference(monkeypatch):
    """With the smallest budget every group is a call of its own (Python
    regains control between them), and w_0 steps after each."""
    from skmf._solvers import _chunks

    monkeypatch.setattr(_chunks, "CALL_BUDGET", 1.0)
    blocks, values, n_groups = _relational_blocks()
    model = _start(blocks, 3)
    solver = FMSGDSolver(_ratings(values), copy.deepcopy(model),
                         _params(blocks, n_groups), np.random.RandomState(0),
                         blocks)  # fmt: skip
    draws = copy.deepcopy(solver.rng)
    positions = draws.permutation(solver.n_groups)
    sizes = np.diff(solver.group_ptr)[positions]
    offsets = (draws.random_sample(solver.n_groups) * sizes).astype(np.int64)
    calls = list(range(solver.n_groups + 1))
    assert list(_chunks.bounds(solver.group_costs[positions], 1)) == calls
    w0, w, V, loss = _reference_epoch(
        solver, blocks, model, values, np.ones_like(values), positions, offsets,
        calls,
    )  # fmt: skip
    assert solver.step() == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(solver.model.bias, w0, rtol=1e-12)
    np.testing.assert_allclose(np.concatenate(solver.model.factors), V,
                               rtol=1e-10, atol=1e-13)  # fmt: skip


def test_sgd_objective_decreases():
    blocks, _, n_groups = _relational_blocks(n_ratings=400, n_users=20)
    # Ratings from a planted factorization machine, plus noise.
    truth = _start(blocks, 3, seed=7)
    truth.factors = [2 * v for v in truth.factors]
    noise = np.random.default_rng(0).normal(scale=0.1, size=400)
    values = predict_blocks(blocks, truth) + noise
    model = _start(blocks, 3)
    params = FMSGDParams(
        reg_bias=np.full(n_groups, 0.1), reg_factors=np.full(n_groups, 0.1),
        learning_rate=0.05, learning_rate_schedule="exponential",
        decay_rate=0.9, decay_steps=400, n_threads=1,
    )  # fmt: skip
    solver = FMSGDSolver(_ratings(values), model, params, np.random.RandomState(0),
                         blocks)  # fmt: skip

    def objective():
        sse = np.sum((values - predict_blocks(blocks, model)) ** 2)
        groups = [b.groups for b in blocks]
        penalty = sum(
            params.reg_bias[g] @ w**2 + params.reg_factors[g] @ (v**2).sum(axis=1)
            for g, w, v in zip(groups, model.biases, model.factors, strict=True)
        )
        return sse + penalty

    values_seen = [objective()]
    for _ in range(25):
        solver.step()
        values_seen.append(objective())
    assert values_seen[-1] < 0.05 * values_seen[0]
    # SGD is noisy, but once its steps are small the objective settles below
    # anything it reached early on.
    assert max(values_seen[-5:]) < min(values_seen[:10])
    np.testing.assert_allclose(
        solver.predict(), predict_blocks(blocks, model), rtol=1e-12, atol=1e-12
    )
