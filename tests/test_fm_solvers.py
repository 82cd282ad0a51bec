"""Tests of FactorizationMachine and its SGD and ALS solvers over relation blocks."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from skmf import FactorizationMachine
from skmf._solvers._base import Ratings
from skmf._solvers.fm_gibbs import Block, FMParameters, predict_blocks
from skmf._solvers.fm_sgd import FMSGDParams, FMSGDSolver

from .reference import materialize
from .test_fm import _table

# ----------------------------------------------------------------------
# Plain NumPy references over the materialized feature matrix.


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
    X = materialize(blocks).toarray()
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
            J = np.flatnonzero(x)
            # The squared slopes of every parameter the rating steps.
            H = np.sum(x[J] ** 2) + np.sum((x[J, None] * (Q - V[J] * x[J, None])) ** 2)
            for j in J:
                r = s * reg_w[j]
                w[j] += lr * (s * e * x[j] - r * w[j]) / (1 + lr * (s * H + r))
                h = x[j] * (Q - V[j] * x[j])
                r = s * reg_v[j]
                V[j] += lr * (s * e * h - r * V[j]) / (1 + lr * (s * H + r))
            # The group sums what the step left of the error.
            e = e / (1 + lr * s * H)
            S, E = S + s, E + s * e
            A = A + s * e * Q
            visits.append((s, Q))
        # The squared slopes in the row's features, summed over the ratings
        # (with each rating's Q at its visit; block 0 has not moved since).
        H = sum(
            s * np.sum(x0[J0] ** 2 * (1 + np.sum((Q - V[J0] * x0[J0, None]) ** 2, 1)))
            for s, Q in visits
        )
        for j in J0:
            xj = x0[j]
            # A feature shared with other groups takes a damped share.
            share = np.sqrt(seen[j] / S) if seen[j] > S else 1.0
            r = S * reg_w[j]
            w[j] += lr * (xj * E - r * w[j]) / (1 + lr * share * (H + r))
            vx = V[j] * xj
            grad = xj * (A - vx * E)
            r = S * reg_v[j]
            V[j] += lr * (grad - r * V[j]) / (1 + lr * share * (H + r))
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


def _reference_als_sweep(blocks, model, values, weights, reg_bias, reg_factors):
    """libFM's coordinate-wise ALS sweep over the materialized X: w_0, every
    feature's bias, then factor by factor every feature's factor, each set
    to the exact minimizer of the weighted objective given all the others."""
    X = materialize(blocks).toarray()
    w = np.concatenate(model.biases).copy()
    V = np.concatenate(model.factors).copy()
    groups = np.concatenate([b.groups for b in blocks])
    w0 = model.bias

    def residuals():
        q = X @ V
        pairwise = 0.5 * (np.sum(q * q, 1) - (X * X) @ np.sum(V * V, 1))
        return values - (w0 + X @ w + pairwise)

    e = residuals()
    w0 = w0 + (weights @ e) / weights.sum()
    for j in range(w.shape[0]):
        e = residuals()
        h = X[:, j]
        lam = reg_bias[groups[j]] + weights @ (h * h)
        w[j] = (weights @ (e * h) + w[j] * (weights @ (h * h))) / lam
    for f in range(V.shape[1]):
        for j in range(w.shape[0]):
            e = residuals()
            x = X[:, j]
            h = x * (X @ V[:, f] - V[j, f] * x)
            lam = reg_factors[groups[j]] + weights @ (h * h)
            V[j, f] = (weights @ (e * h) + V[j, f] * (weights @ (h * h))) / lam
    return w0, w, V, float(weights @ residuals() ** 2)


@pytest.mark.parametrize("weighted", [False, True])
def test_als_sweep_matches_reference(weighted):
    from skmf._solvers.fm_als import FMALSParams, FMALSSolver

    blocks, values, n_groups = _relational_blocks(n_ratings=60)
    weights = np.random.default_rng(5).uniform(0.2, 3, values.shape[0])
    model = _start(blocks, 2)
    reg_bias, reg_factors = np.full(n_groups, 0.5), np.linspace(0.5, 2, n_groups)
    params = FMALSParams(reg_bias=reg_bias, reg_factors=reg_factors, n_threads=1)
    solver = FMALSSolver(
        _ratings(values, weights if weighted else None), copy.deepcopy(model),
        params, np.random.RandomState(0), blocks,
    )  # fmt: skip
    w0, w, V, sse = _reference_als_sweep(
        blocks, model, values, weights if weighted else np.ones_like(values),
        reg_bias, reg_factors,
    )  # fmt: skip
    assert solver.step() == pytest.approx(sse, rel=1e-10)
    assert solver.model.bias == pytest.approx(w0, rel=1e-10)
    np.testing.assert_allclose(np.concatenate(solver.model.biases), w, rtol=1e-9,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(np.concatenate(solver.model.factors), V, rtol=1e-9,
                               atol=1e-12)  # fmt: skip


def test_als_objective_never_rises():
    """Every ALS update minimizes the objective in its coordinate exactly."""
    X, y = _table()
    fm = FactorizationMachine(
        n_components=3, solver="als", implicit_feedback="both",
        item_features=["genre"], user_features=["group"], max_iter=12,
        random_state=0,
    ).fit(X.drop(columns="hour"), y)  # fmt: skip
    assert np.all(np.diff(fm.loss_curve_) <= 1e-12)
    assert fm.loss_curve_[-1] < 0.5 * fm.loss_curve_[0]


# ----------------------------------------------------------------------
# The estimator.


SOLVERS = ["sgd", "als"]


def _model(solver="sgd", **params):
    defaults = dict(
        n_components=3, solver=solver, alpha=1.0, learning_rate=0.03, max_iter=20,
        n_jobs=1, random_state=0,
    )  # fmt: skip
    return FactorizationMachine(**{**defaults, **params})


@pytest.mark.parametrize("solver", SOLVERS)
def test_ids_only_learns_and_is_finite(solver):
    X, y = _table()
    fm = _model(solver).fit(X[["user", "item"]], y)
    pred = fm.predict(X[["user", "item"]])
    assert np.all(np.isfinite(pred))
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.6 * np.std(y)
    assert fm.groups_ == ["user id", "item id"]
    assert fm.n_iter_ == 20 and len(fm.loss_curve_) == 20
    # The objective of the last steps is below that of the first.
    assert fm.loss_curve_[-1] < fm.loss_curve_[0]


@pytest.mark.parametrize("solver", SOLVERS)
def test_known_pairs_predict_like_the_recommender_factors(solver):
    """user_factors_ / item_factors_ / biases reproduce predict on known pairs,
    so recommend and similar_items rank by the model's scores."""
    X, y = _table()
    Xp = X.drop(columns="hour")
    fm = _model(solver, implicit_feedback="both", user_features=["group"],
                item_features=["genre"]).fit(Xp, y)  # fmt: skip
    users = fm._user_index.get_indexer(Xp["user"]).astype(np.int32)
    items = fm._item_index.get_indexer(Xp["item"]).astype(np.int32)
    via_factors = fm._predict_indices(fm._fitted_model(), users, items)
    np.testing.assert_allclose(fm.predict(Xp), via_factors, atol=1e-8)
    assert fm.user_factors_.shape == (40, 3)
    assert len(fm.recommend(X["user"].iloc[0], n=3)[0]) == 3
    assert len(fm.similar_items(X["item"].iloc[0], n=2)[0]) == 2


def _low_rank(n_users=60, n_items=40, n_ratings=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"user": rng.integers(0, n_users, n_ratings),
         "item": rng.integers(0, n_items, n_ratings)}
    ).drop_duplicates(ignore_index=True)  # fmt: skip
    U, V = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    y = 3 + np.sum(U[X["user"]] * V[X["item"]], axis=1)
    return X, y + rng.normal(scale=0.3, size=len(X))


@pytest.mark.parametrize("implicit", ["none", "user", "both"])
def test_fold_in_of_a_fitted_user_at_convergence_gives_its_factors(implicit):
    """At ALS's fixed point a user's id features are the minimiser of the
    objective with everything else fixed: fold-in of the user's own ratings
    (history included) must give back the user's fitted vector and bias."""
    X, y = _low_rank(n_users=30, n_items=20, n_ratings=500)
    fm = _model("als", implicit_feedback=implicit, max_iter=20000, tol=1e-13)
    fm.fit(X, y)
    assert fm.n_iter_ < 20000
    for user in (0, 7, 19):
        rows = (X["user"] == user).to_numpy()
        factors, bias = fm.fold_in(X["item"][rows], y[rows])
        k = fm._user_index.get_loc(user)
        np.testing.assert_allclose(factors, fm.user_factors_[k], atol=1e-5)
        assert bias == pytest.approx(fm.user_bias_[k], abs=1e-5)
        # The folded user predicts its items as the fitted user does.
        items = X["item"][rows].to_numpy()
        np.testing.assert_allclose(
            fm.predict_for_ratings(items, y[rows], items),
            fm.predict(X[rows]),
            atol=1e-4,
        )


@pytest.mark.parametrize("solver", SOLVERS)
def test_fold_in_predicts_new_users_better_than_the_fallback(solver):
    X, y = _low_rank()
    new = X["user"] >= 50
    fm = _model(solver, implicit_feedback="both", max_iter=60)
    fm.fit(X[~new], y[~new])
    folded, fallback, truth = [], [], []
    for user in range(50, 60):
        rows = np.flatnonzero((X["user"] == user).to_numpy())
        given, asked = rows[: len(rows) // 2], rows[len(rows) // 2 :]
        folded.append(
            fm.predict_for_ratings(X["item"][given], y[given], X["item"][asked])
        )
        fallback.append(fm.predict(X.iloc[asked]))
        truth.append(y[asked])
    folded, fallback, truth = map(np.concatenate, (folded, fallback, truth))
    rmse = lambda p: np.sqrt(np.mean((p - truth) ** 2))  # noqa: E731
    assert rmse(folded) < 0.8 * rmse(fallback)
    ids, scores = fm.recommend_for_ratings(X["item"][:3], y[:3], n=5)
    assert len(ids) == 5 and np.all(np.diff(scores) <= 0)
    # No item the model knows: the user is scored like an unknown one.
    factors, bias = fm.fold_in([999], [5.0])
    assert not factors.any() and bias == 0.0


def test_fold_in_without_a_penalty_refuses_an_underdetermined_user():
    X, y = _low_rank()
    fm = _model("sgd", alpha=0.0, alpha_bias=0.0, implicit_feedback="user")
    fm.fit(X, y)
    # K + 1 = 4 unknowns: up to 3 ratings leave the solution undetermined
    # (with 2, a plain solve returns noise instead of failing).
    for n in (1, 2, 3):
        with pytest.raises(ValueError, match="Refit with alpha > 0"):
            fm.fold_in(X["item"][:n], y[:n])
    factors, bias = fm.fold_in(X["item"][:40], y[:40])
    assert np.all(np.isfinite(factors)) and np.isfinite(bias)


@pytest.mark.parametrize("solver", SOLVERS)
def test_cold_start_items_are_predicted_from_their_attributes(solver):
    X, y = _table()
    fm = _model(solver, item_features=["genre"]).fit(X[["user", "item", "genre"]], y)
    new = pd.DataFrame(
        {"user": [0, 0, 0, 999], "item": [999] * 4,
         "genre": ["Action", "Comedy", "Drama", "Action"]}
    )  # fmt: skip
    action, comedy, drama, both_new = fm.predict(new)
    assert np.all(np.isfinite([action, comedy, drama, both_new]))
    # The genre effects were +1, -1 and 0.
    assert action > drama + 0.5 > comedy + 1.0
    assert both_new > drama


@pytest.mark.parametrize("solver", SOLVERS)
def test_histories_come_from_training_pairs_only(solver):
    X, y = _table()
    train, test = X.iloc[:500], X.iloc[500:]
    fm = _model(solver, implicit_feedback="both", context_features=["hour"],
                user_features=["group"], item_features=["genre"])  # fmt: skip
    fm.fit(train, y[:500])
    assert fm._history["user"].nnz == len(train)
    together = fm.predict(test)
    alone = np.concatenate([fm.predict(test.iloc[[i]]) for i in range(len(test))])
    np.testing.assert_allclose(together, alone, atol=1e-10)
    again = clone(fm).fit(train, y[:500])
    np.testing.assert_array_equal(again.predict(test), together)


def test_every_feature_kind_changes_the_model():
    X, y = _table()
    base = _model(context_features=["hour"], user_features=["group"],
                  item_features=["genre"])  # fmt: skip
    plain = clone(base).fit(X, y).predict(X)
    for change in (
        {"implicit_feedback": "user"},
        {"implicit_feedback": "item"},
        {"alpha": 3.0},
        {"alpha_bias": 5.0},
        {"learning_rate": 0.01},
        {"n_components": 4},
    ):
        other = clone(base).set_params(**change).fit(X, y).predict(X)
        assert not np.allclose(plain, other), change


def test_sgd_threads_give_a_model_as_good():
    """Two threads update shared items without locks: not bit-reproducible,
    but the same model up to the order of the updates."""
    X, y = _table(n_ratings=3000, n_users=200, n_items=60)
    params = dict(implicit_feedback="user", item_features=["genre"])
    cols = ["user", "item", "genre"]
    one = _model(n_jobs=1, **params).fit(X[cols], y)
    two = _model(n_jobs=2, **params).fit(X[cols], y)
    rmse = [np.sqrt(np.mean((m.predict(X[cols]) - y) ** 2)) for m in (one, two)]
    assert abs(rmse[0] - rmse[1]) < 0.02
    assert rmse[1] < 0.5 * np.std(y)


def test_clone_pickle_and_grid_search_over_feature_groups():
    X, y = _table()
    X = X[["user", "item", "genre"]]
    fm = _model(item_features=["genre"]).fit(X, y)
    restored = pickle.loads(pickle.dumps(fm))
    np.testing.assert_array_equal(restored.predict(X), fm.predict(X))
    grid = GridSearchCV(
        _model(item_features=["genre"]),
        {"implicit_feedback": ["none", "user"], "n_components": [2, 3]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"implicit_feedback", "n_components"}
    # Whether a column is a feature: a grid over the roles of the columns.
    grid = GridSearchCV(
        _model(),
        {"item_features": [["genre"]], "context_features": [[]]},
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert grid.best_params_["item_features"] == ["genre"]


# ----------------------------------------------------------------------
# Sample weights and early stopping.


def test_als_weight_two_is_a_duplicated_rating():
    X, y = _table()
    X = X[["user", "item", "genre"]]
    weights = np.ones(len(y))
    weights[::7] = 2.0
    twice = np.flatnonzero(weights == 2)
    order = np.argsort(np.concatenate([np.arange(len(y)), twice]), kind="stable")
    X_dup = pd.concat([X, X.iloc[twice]], ignore_index=True).iloc[order]
    y_dup = np.concatenate([y, y[twice]])[order]
    params = dict(item_features=["genre"], implicit_feedback="both")
    weighted = _model("als", **params).fit(X, y, sample_weight=weights)
    duplicated = _model("als", **params).fit(X_dup, y_dup)
    assert weighted.intercept_ == pytest.approx(duplicated.intercept_)
    np.testing.assert_allclose(weighted.predict(X), duplicated.predict(X),
                               rtol=1e-8, atol=1e-8)  # fmt: skip
    np.testing.assert_allclose(weighted.loss_curve_, duplicated.loss_curve_,
                               rtol=1e-8)  # fmt: skip


@pytest.mark.parametrize("solver", SOLVERS)
def test_sample_weight_pulls_the_fit_towards_heavy_ratings(solver):
    X, y = _table()
    X = X[["user", "item"]]
    y = y.copy()
    y[:40] = 5.0  # ratings the rest of the data does not explain
    heavy = np.ones(len(y))
    heavy[:40] = 20.0
    plain = _model(solver).fit(X, y)
    weighted = _model(solver).fit(X, y, sample_weight=heavy)
    assert weighted.intercept_ == pytest.approx(np.average(y, weights=heavy))
    error = [np.abs(m.predict(X)[:40] - 5.0).mean() for m in (plain, weighted)]
    assert error[1] < 0.7 * error[0]
    # Zero weights are rows that do not count, and all zeros is an error.
    with pytest.raises(ValueError, match="non-zero"):
        _model(solver).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="(?i)negative"):
        _model(solver).fit(X, y, sample_weight=-heavy)


def test_early_stopping_keeps_the_best_step_and_leaves_the_holdout_out():
    X, y = _table()
    cols = ["user", "item", "genre"]
    fm = _model(
        item_features=["genre"], implicit_feedback="user", early_stopping=True,
        max_iter=60, n_iter_no_change=3, learning_rate=0.1,
    ).fit(X[cols], y)  # fmt: skip
    assert fm.n_iter_ < 60
    assert len(fm.validation_scores_) == fm.n_iter_
    assert fm.best_validation_score_ == max(fm.validation_scores_)
    # The held-out tenth is not in the histories.
    assert fm._history["user"].nnz == len(y) - int(np.ceil(0.1 * len(y)))


def test_tol_stops_and_max_iter_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _table()
    fm = _model(tol=1e-12, n_iter_no_change=50, max_iter=5)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        fm.fit(X[["user", "item"]], y)
    stopped = _model(tol=10.0, n_iter_no_change=2, max_iter=50).fit(
        X[["user", "item"]], y
    )
    # The first step improves on nothing; then two that do not improve by tol.
    assert stopped.n_iter_ == 3


def test_sgd_shared_features_do_not_random_walk():
    """A user attribute and an item attribute beside the users' histories:
    each user's group used to pull the shared attribute all the way to its own
    ratings, and the training loss rose from the third epoch on."""
    from skmf.datasets import make_ratings

    X, y = make_ratings(n_users=4000, n_items=1000, n_ratings=200_000,
                        random_state=0)  # fmt: skip
    X = pd.DataFrame(np.asarray(X), columns=["user", "item"])
    X["age"] = pd.Categorical(X["user"].to_numpy() % 7)
    X["genre"] = pd.Categorical(X["item"].to_numpy() % 13)
    fm = FactorizationMachine(
        n_components=32, solver="sgd", learning_rate=0.02, max_iter=6,
        implicit_feedback="user", user_features=["age"],
        item_features=["genre"], n_jobs=1, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert np.all(np.diff(fm.loss_curve_) < 0), fm.loss_curve_


# ----------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize(
    "params, columns, message",
    [
        ({"item_features": ["genres"]}, ["user", "item", "genre"], "not a column"),
        ({}, ["user", "item", "genre"], "has no role"),
        (
            {"item_features": ["genre"], "user_features": ["genre"]},
            ["user", "item", "genre"],
            "both",
        ),
        ({"item_features": ["item"]}, ["user", "item"], "id column"),
    ],
)
def test_bad_column_roles_are_clear_errors(params, columns, message):
    X, y = _table()
    with pytest.raises(ValueError, match=message):
        _model(**params).fit(X[columns], y)


def test_missing_attribute_and_mismatched_columns_are_clear_errors():
    X, y = _table()
    X = X[["user", "item", "genre", "group"]].copy()
    params = dict(item_features=["genre"], user_features=["group"])
    bad = X.copy()
    bad.loc[3, "genre"] = np.nan
    with pytest.raises(ValueError, match="'genre' of X has a missing value"):
        _model(**params).fit(bad, y)
    fm = _model(**params).fit(X, y)
    with pytest.raises(ValueError, match="missing value"):
        fm.predict(bad)
    with pytest.raises(ValueError, match="feature names|features"):
        fm.predict(X[["user", "item", "group", "genre"]])
    with pytest.raises(ValueError):
        fm.predict(X[["user", "item"]])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"solver": "newton"}, "solver"),
        ({"alpha": -1.0}, "alpha"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"implicit_feedback": "yes"}, "implicit_feedback"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message):
    X, y = _table()
    with pytest.raises(ValueError, match=message):
        _model(**params).fit(X[["user", "item"]], y)


def test_als_needs_a_penalty():
    X, y = _table()
    with pytest.raises(ValueError, match="alpha > 0"):
        _model("als", alpha=0.0).fit(X[["user", "item"]], y)


def test_a_huge_learning_rate_stays_finite():
    """Every SGD step is damped by its curvature, so no step size makes the
    iterates run away: the fit stays finite instead of diverging."""
    X, y = _table()
    fm = _model(learning_rate=1e6, init_std=3.0, implicit_feedback="user").fit(
        X[["user", "item"]], y
    )
    assert np.all(np.isfinite(fm.loss_curve_))
    assert np.all(np.isfinite(fm.predict(X[["user", "item"]])))


# ----------------------------------------------------------------------
# Real data.


@pytest.mark.parametrize("solver", SOLVERS)
def test_movielens_fold_with_implicit_feedback(ml100k_folds, solver):
    """On a real fold, the items each user rated improve on the ids alone."""
    train, test = ml100k_folds[0]
    scores = {}
    for implicit in ("none", "user"):
        fm = FactorizationMachine(
            solver=solver, implicit_feedback=implicit, random_state=0
        ).fit(train[["user", "item"]], train["rating"])
        error = fm.predict(test[["user", "item"]]) - test["rating"]
        scores[implicit] = float(np.sqrt(np.mean(error**2)))
    assert scores["user"] < scores["none"] - 0.005
    assert scores["user"] < 0.93
