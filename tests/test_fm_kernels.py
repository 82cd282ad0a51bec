"""The factorization machine's coordinate-wise kernel and its two solvers.

``draw_block`` against plain NumPy references over the materialized sparse
design (one column of X per feature of every block): the Gibbs draw with given
standard normals is a deterministic function, and the ALS update is the same
draw with zero noise. Also sample weights, identity (context) blocks against
relation blocks, and threads.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from skmf._solvers._fm_fast import (
    add_block_to_ratings,
    block_sums,
    draw_block,
    set_block_parts,
)

from skmf._solvers import fm_gibbs
from skmf._solvers._base import Ratings
from skmf._solvers.fm_als import FMALSParams, FMALSSolver, penalty
from skmf._solvers.fm_gibbs import (
    Block,
    FMGibbsParams,
    FMGibbsSolver,
    FMParameters,
    FMPrior,
    predict_blocks,
)

from .reference import fm_predict, materialize

# ----------------------------------------------------------------------
# Plain NumPy references over the materialized design.


def reference_draws(X, y, weights, w0, w, V, features, groups, f, linear, prior,
                    alpha, noise):  # fmt: skip
    """Coordinate-wise draws of the features ``features`` (columns of X), one
    after the other, each from the full weighted residuals recomputed before it
    (libFM's rule, materialized). ``noise`` of zeros gives the ALS update."""
    w, V = w.copy(), V.copy()
    mean, precision = prior
    for local, j in enumerate(features):
        g = groups[local]
        e = y - fm_predict(X, w0, w, V)
        x = X[:, j].toarray().ravel()
        if linear:
            h, old = x, w[j]
        else:
            h, old = x * (X @ V[:, f] - V[j, f] * x), V[j, f]
        hh = h @ (weights * h)
        lam = precision[g] + alpha * hh
        new = (precision[g] * mean[g] + alpha * (e @ (weights * h) + old * hh)) / lam
        new += noise[local] / np.sqrt(lam)
        if linear:
            w[j] = new
        else:
            V[j, f] = new
    return w, V


def random_design(seed=0, n_ratings=150, n_users=12, n_items=9, n_context=4):
    """Users, items and the three feature matrices of a small random FM."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings)
    items = rng.integers(0, n_items, n_ratings)

    def matrix(n, p, s):
        # Rows share features (as genres do), and every row has one.
        return (sp.random(n, p, density=0.4, random_state=s) + sp.eye(n, p)).tocsr()

    return (
        rng,
        users,
        items,
        [matrix(n_users, 6, seed), matrix(n_items, 5, seed + 1),
         matrix(n_ratings, n_context, seed + 2)],
    )  # fmt: skip


def make_blocks(users, items, matrices):
    user, item, context = matrices
    return [
        Block(user, users, [0, 0, 0, 1, 1, 1]),
        Block(item, items, [2] * item.shape[1]),
        Block(context, np.arange(context.shape[0]), [3] * context.shape[1]),
    ]


def random_parameters(rng, blocks, k=3):
    return FMParameters(
        float(rng.normal()),
        [rng.normal(size=b.n_features) for b in blocks],
        [rng.normal(size=(b.n_features, k)) for b in blocks],
    )


def call_draw(block, theta, linear, prior, alpha, noise, q, e, n_threads,
              weights):  # fmt: skip
    return draw_block(
        block.indptr, block.order, *block.csr, *block.csc, block.groups, theta,
        linear, *prior, alpha, noise, q, e, n_threads, block.identity, weights,
    )  # fmt: skip


# ----------------------------------------------------------------------
# draw_block against the references.


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_draw_block_matches_reference(solver, k, linear, weighted, n_threads):
    """Relation blocks (k = 0, 1) and the identity block (k = 2) give the
    materialized draws, with and without weights, and leave the residuals and
    sums of the new parameters."""
    rng, users, items, matrices = random_design()
    blocks = make_blocks(users, items, matrices)
    assert blocks[2].identity and not blocks[0].identity
    model = random_parameters(rng, blocks)
    X = materialize(blocks)
    y = rng.normal(size=X.shape[0])
    weights = rng.uniform(0.2, 3.0, size=X.shape[0]) if weighted else np.ones(0)
    ref_weights = weights if weighted else np.ones(X.shape[0])
    w_all, V_all = np.concatenate(model.biases), np.concatenate(model.factors)
    f = 1
    block = blocks[k]
    offset = sum(b.n_features for b in blocks[:k])
    if solver == "gibbs":
        prior, alpha = (rng.normal(size=4), rng.uniform(1, 3, size=4)), 1.7
        noise = rng.normal(size=block.n_features)
    else:
        prior, alpha = (np.zeros(4), rng.uniform(0.1, 3, size=4)), 1.0
        noise = np.zeros(block.n_features)

    ref_w, ref_V = reference_draws(
        X, y, ref_weights, model.bias, w_all, V_all,
        range(offset, offset + block.n_features), block.groups, f, linear, prior,
        alpha, noise,
    )  # fmt: skip
    e = y - fm_predict(X, model.bias, w_all, V_all)
    q = np.asarray(X @ V_all[:, f]).ravel()
    theta = (model.biases[k] if linear else model.factors[k][:, f]).copy()
    call_draw(block, theta, linear, prior, alpha, noise, q, e, n_threads, weights)
    expected = ref_w if linear else ref_V[:, f]
    np.testing.assert_allclose(theta, expected[offset : offset + len(theta)])
    np.testing.assert_allclose(
        e, y - fm_predict(X, model.bias, ref_w, ref_V), atol=1e-10
    )
    if not linear:
        np.testing.assert_allclose(q, X @ ref_V[:, f], atol=1e-10)


def test_weights_of_the_wrong_length_are_a_clear_error():
    rng, users, items, matrices = random_design()
    block = make_blocks(users, items, matrices)[0]
    n = len(users)
    with pytest.raises(ValueError, match="one weight per rating"):
        call_draw(
            block, np.zeros(block.n_features), True, (np.zeros(2), np.ones(2)), 1.0,
            np.zeros(block.n_features), np.zeros(n), np.zeros(n), 1, np.ones(n - 1),
        )  # fmt: skip


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("linear", [True, False])
def test_weight_two_equals_a_duplicated_rating_in_the_kernel(k, linear):
    """The ALS update (zero noise) with a weight of 2 on a rating equals the
    update with that rating given twice."""
    rng, users, items, matrices = random_design(seed=5)
    twice = 17
    blocks = make_blocks(users, items, matrices)
    duplicated = [*matrices[:2], sp.vstack([matrices[2], matrices[2][twice]]).tocsr()]
    blocks_dup = make_blocks(
        np.append(users, users[twice]), np.append(items, items[twice]), duplicated
    )
    model = random_parameters(rng, blocks)
    y = rng.normal(size=len(users))
    weights = np.ones(len(users))
    weights[twice] = 2.0
    prior = (np.zeros(4), np.full(4, 0.5))
    noise = np.zeros(blocks[k].n_features)
    thetas = []
    for these, target, w in (
        (blocks, y, weights),
        (blocks_dup, np.append(y, y[twice]), np.ones(0)),
    ):
        X = materialize(these)
        w_all, V_all = np.concatenate(model.biases), np.concatenate(model.factors)
        e = target - fm_predict(X, model.bias, w_all, V_all)
        q = np.asarray(X @ V_all[:, 0]).ravel()
        theta = (model.biases[k] if linear else model.factors[k][:, 0]).copy()
        call_draw(these[k], theta, linear, prior, 1.0, noise, q, e, 1, w)
        thetas.append(theta)
    np.testing.assert_allclose(thetas[0], thetas[1], rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------
# The solvers.


def make_ratings(users, items, values, weights=None):
    # The FM solvers read only the values and weights (the blocks hold the
    # layout), so the ratings need not be grouped by user here.
    counts = np.bincount(users)
    return Ratings(
        users=np.asarray(users, np.int32),
        items=np.asarray(items, np.int32),
        values=np.asarray(values, np.float64),
        weights=np.ones(0) if weights is None else np.asarray(weights, np.float64),
        n_users=int(users.max()) + 1,
        n_items=int(items.max()) + 1,
        indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


def gibbs_params(n_groups=4, n_threads=1):
    return FMGibbsParams(
        prior=FMPrior(shape=1.0, rate=1.0, strength=1.0),
        n_groups=n_groups,
        initial_noise_precision=1.0,
        n_threads=n_threads,
    )


def duplicated_problem(seed=5, twice=17):
    """One problem twice: rating ``twice`` of weight 2, or given two times."""
    rng, users, items, matrices = random_design(seed=seed)
    y = rng.normal(size=len(users))
    weights = np.ones(len(users))
    weights[twice] = 2.0
    dup_matrices = [
        *matrices[:2], sp.vstack([matrices[2], matrices[2][twice]]).tocsr()
    ]  # fmt: skip
    dup_users, dup_items = (
        np.append(users, users[twice]),
        np.append(items, items[twice]),
    )
    weighted = (
        make_ratings(users, items, y, weights),
        make_blocks(users, items, matrices),
    )
    duplicated = (
        make_ratings(dup_users, dup_items, np.append(y, y[twice])),
        make_blocks(dup_users, dup_items, dup_matrices),
    )
    start = random_parameters(rng, weighted[1])
    return weighted, duplicated, start


def copy_parameters(model):
    return FMParameters(
        model.bias, [w.copy() for w in model.biases], [v.copy() for v in model.factors]
    )


def assert_same_parameters(a, b, **tolerance):
    np.testing.assert_allclose(a.bias, b.bias, **tolerance)
    for x, y in zip(a.biases + a.factors, b.biases + b.factors, strict=True):
        np.testing.assert_allclose(x, y, **tolerance)


def test_gibbs_weight_two_equals_a_duplicated_rating():
    """The sampler with the same seed draws the same chain for a weight of 2
    as for the rating given twice: weighted statistics, SSE and N."""
    weighted, duplicated, start = duplicated_problem()
    results = []
    for ratings, blocks in (weighted, duplicated):
        model = copy_parameters(start)
        solver = FMGibbsSolver(
            ratings, model, gibbs_params(), np.random.default_rng(3), blocks
        )
        sse = [solver.step() for _ in range(3)]
        results.append((model, sse, solver.noise_precision))
    assert_same_parameters(results[0][0], results[1][0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-9)


def als_params(n_groups=4, n_threads=1, seed=0):
    rng = np.random.default_rng(seed)
    return FMALSParams(
        reg_bias=rng.uniform(0.1, 2.0, n_groups),
        reg_factors=rng.uniform(0.1, 2.0, n_groups),
        n_threads=n_threads,
    )


def objective(solver):
    return solver.weighted_sse() + penalty(solver.model, solver.blocks, solver.params)


def test_als_weight_two_equals_a_duplicated_rating():
    weighted, duplicated, start = duplicated_problem()
    models, losses = [], []
    for ratings, blocks in (weighted, duplicated):
        model = copy_parameters(start)
        solver = FMALSSolver(ratings, model, als_params(), None, blocks)
        losses.append([solver.step() for _ in range(4)])
        models.append(model)
    assert_same_parameters(models[0], models[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_als_sweeps_never_raise_the_penalized_objective(weighted):
    rng, users, items, matrices = random_design(seed=11, n_ratings=300)
    y = rng.normal(size=len(users)) * 2
    weights = rng.uniform(0.1, 4.0, len(users)) if weighted else None
    blocks = make_blocks(users, items, matrices)
    solver = FMALSSolver(
        make_ratings(users, items, y, weights),
        random_parameters(rng, blocks, k=4),
        als_params(),
        None,
        blocks,
    )
    values = [objective(solver)]
    for _ in range(15):
        sse = solver.step()
        # The returned data loss is the weighted SSE of the new parameters.
        X = materialize(blocks)
        model = solver.model
        e = y - fm_predict(
            X, model.bias, np.concatenate(model.biases), np.concatenate(model.factors)
        )
        w = np.ones(len(y)) if weights is None else weights
        np.testing.assert_allclose(sse, e @ (w * e), rtol=1e-10)
        values.append(objective(solver))
    values = np.array(values)
    # Exact coordinate minimization: each sweep may only lower L (up to the
    # rounding of L itself).
    assert np.all(np.diff(values) <= 1e-12 * values[:-1]), values
    assert values[-1] < 0.9 * values[0]


def test_als_without_regularization_leaves_an_unrated_feature_alone():
    """A feature no rating has, with zero regularization, has no minimizer
    of its own: it keeps its value instead of becoming 0 / 0."""
    rng, users, items, matrices = random_design(seed=2)
    user = sp.hstack([matrices[0], sp.csr_matrix((matrices[0].shape[0], 1))])
    blocks = [
        Block(user.tocsr(), users, [0, 0, 0, 1, 1, 1, 1]),
        *make_blocks(users, items, matrices)[1:],
    ]
    model = random_parameters(rng, blocks)
    before = model.factors[0][-1].copy(), model.biases[0][-1]
    params = FMALSParams(np.zeros(4), np.zeros(4), 1)
    solver = FMALSSolver(
        make_ratings(users, items, rng.normal(size=len(users))),
        model,
        params,
        None,
        blocks,
    )
    for _ in range(3):
        assert np.isfinite(solver.step())
    np.testing.assert_array_equal(model.factors[0][-1], before[0])
    assert model.biases[0][-1] == before[1]
    assert all(np.all(np.isfinite(v)) for v in model.factors + model.biases)


@pytest.mark.parametrize(
    "params, message",
    [
        (FMALSParams(np.ones(2), np.ones(4), 1), "reg_bias has shape"),
        (FMALSParams(np.ones(4), np.ones((4, 2)), 1), "reg_factors has shape"),
        (FMALSParams(np.ones(4), -np.ones(4), 1), "non-negative"),
        (FMALSParams(np.full(4, np.nan), np.ones(4), 1), "finite"),
    ],
)
def test_als_bad_regularization_is_a_clear_error(params, message):
    rng, users, items, matrices = random_design()
    blocks = make_blocks(users, items, matrices)
    with pytest.raises(ValueError, match=message):
        FMALSSolver(
            make_ratings(users, items, np.zeros(len(users))),
            random_parameters(rng, blocks),
            params,
            None,
            blocks,
        )


def reference_sweep(X, y, weights, model, groups, bias_prior, factor_prior, alpha,
                    normals):  # fmt: skip
    """One whole sweep over the materialized design, in the solvers' order."""
    w = np.concatenate(model.biases)
    V = np.concatenate(model.factors)
    n, k = len(w), V.shape[1]
    e = y - fm_predict(X, model.bias, w, V)
    W = weights.sum()
    w0 = model.bias + (e @ weights) / W + normals[0] / np.sqrt(alpha * W)
    w, V = reference_draws(
        X, y, weights, w0, w, V, range(n), groups, 0, True, bias_prior, alpha,
        normals[1 : 1 + n],
    )  # fmt: skip
    for f in range(k):
        at = 1 + n * (f + 1)
        w, V = reference_draws(
            X, y, weights, w0, w, V, range(n), groups, f, False,
            (factor_prior[0][f], factor_prior[1][f]), alpha, normals[at : at + n],
        )  # fmt: skip
    return w0, w, V


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_whole_sweep_matches_reference(solver, weighted, n_threads, monkeypatch):
    """The shared sweep with given priors and normals (Gibbs) or with the
    fixed regularization and no normals (ALS) against the materialized one."""
    # Threads even on these few ratings.
    monkeypatch.setattr(fm_gibbs, "MIN_RATINGS_PER_PARALLEL_SWEEP", 0)
    rng, users, items, matrices = random_design(seed=7)
    blocks = make_blocks(users, items, matrices)
    y = rng.normal(size=len(users))
    weights = rng.uniform(0.2, 3.0, len(users)) if weighted else None
    model = random_parameters(rng, blocks)
    start = copy_parameters(model)
    ratings = make_ratings(users, items, y, weights)
    groups = np.concatenate([b.groups for b in blocks])
    k = model.factors[0].shape[1]
    if solver == "als":
        params = als_params(n_threads=n_threads)
        sweeper = FMALSSolver(ratings, model, params, None, blocks)
        sweeper.step()
        bias_prior = (np.zeros(4), params.reg_bias)
        factor_prior = (np.zeros((k, 4)), np.tile(params.reg_factors, (k, 1)))
        alpha, normals = 1.0, np.zeros(sweeper.n_normals)
    else:
        sweeper = FMGibbsSolver(
            ratings, model, gibbs_params(n_threads=n_threads), rng, blocks
        )
        bias_prior = (rng.normal(size=4), rng.uniform(1, 3, 4))
        factor_prior = (rng.normal(size=(k, 4)), rng.uniform(1, 3, (k, 4)))
        alpha, normals = 1.3, rng.normal(size=sweeper.n_normals)
        sweeper._sweep(bias_prior, factor_prior, alpha, normals)
    ref_w0, ref_w, ref_V = reference_sweep(
        materialize(blocks), y,
        np.ones(len(y)) if weights is None else weights, start, groups,
        bias_prior, factor_prior, alpha, normals,
    )  # fmt: skip
    np.testing.assert_allclose(model.bias, ref_w0, rtol=1e-12)
    np.testing.assert_allclose(np.concatenate(model.biases), ref_w, atol=1e-10)
    np.testing.assert_allclose(np.concatenate(model.factors), ref_V, atol=1e-10)


def test_a_sweep_drawing_its_normals_equals_one_given_them_all():
    """A Gibbs sweep draws its normals segment by segment from the generator
    (never the whole sweep's at once); they are the stream it would be given
    as one array, in the same order."""
    rng, users, items, matrices = random_design(seed=7)
    blocks = make_blocks(users, items, matrices)
    ratings = make_ratings(users, items, rng.normal(size=len(users)))
    k = 3  # random_parameters' rank
    bias_prior = (rng.normal(size=4), rng.uniform(1, 3, 4))
    factor_prior = (rng.normal(size=(k, 4)), rng.uniform(1, 3, (k, 4)))
    start = random_parameters(rng, blocks)
    models = []
    for given in (True, False):
        model = copy_parameters(start)
        sweeper = FMGibbsSolver(
            ratings, model, gibbs_params(), np.random.default_rng(0), blocks
        )
        gen = np.random.default_rng(11)
        normals = gen.standard_normal(sweeper.n_normals) if given else gen
        sweeper._sweep(bias_prior, factor_prior, 1.3, normals)
        models.append(model)
    assert_same_parameters(*models, rtol=0, atol=0)


@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_relation_blocks_equal_one_materialized_context_block(solver):
    """The same model as user, item and context blocks, or as one identity
    block holding the materialized design: the same sweeps, up to rounding
    (the features are visited in the same order)."""
    rng, users, items, matrices = random_design(seed=9, n_ratings=200)
    blocks = make_blocks(users, items, matrices)
    X = materialize(blocks)
    groups = np.concatenate([b.groups for b in blocks])
    flat = [Block(X, np.arange(X.shape[0]), groups)]
    assert flat[0].identity
    y = rng.normal(size=len(users))
    weights = rng.uniform(0.5, 2.0, len(users))
    ratings = make_ratings(users, items, y, weights)
    start = random_parameters(rng, blocks)
    models = []
    for these, model in (
        (blocks, copy_parameters(start)),
        (flat, FMParameters(start.bias, [np.concatenate(start.biases)],
                            [np.concatenate(start.factors)])),
    ):  # fmt: skip
        if solver == "als":
            sweeper = FMALSSolver(ratings, model, als_params(), None, these)
        else:
            sweeper = FMGibbsSolver(
                ratings, model, gibbs_params(), np.random.default_rng(4), these
            )
        for _ in range(3):
            sweeper.step()
        models.append(model)
    np.testing.assert_allclose(models[0].bias, models[1].bias, rtol=1e-9)
    np.testing.assert_allclose(
        np.concatenate(models[0].biases), models[1].biases[0], rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        np.concatenate(models[0].factors), models[1].factors[0], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_one_and_two_threads_give_identical_sweeps(solver, monkeypatch):
    monkeypatch.setattr(fm_gibbs, "MIN_RATINGS_PER_PARALLEL_SWEEP", 0)
    rng, users, items, matrices = random_design(seed=13, n_ratings=400)
    blocks = make_blocks(users, items, matrices)
    ratings = make_ratings(
        users, items, rng.normal(size=len(users)), rng.uniform(0.5, 2, len(users))
    )
    start = random_parameters(rng, blocks)
    results = []
    for n_threads in (1, 2):
        model = copy_parameters(start)
        if solver == "als":
            sweeper = FMALSSolver(
                ratings, model, als_params(n_threads=n_threads), None, blocks
            )
        else:
            sweeper = FMGibbsSolver(
                ratings, model, gibbs_params(n_threads=n_threads),
                np.random.default_rng(1), blocks,
            )  # fmt: skip
        assert sweeper.n_threads == n_threads
        losses = [sweeper.step() for _ in range(3)]
        results.append((model, losses))
    assert results[0][1] == results[1][1]
    assert_same_parameters(results[0][0], results[1][0], rtol=0, atol=0)


@pytest.mark.parametrize(
    "rows, groups, message",
    [
        ([0, 3], [0, 0], r"rows must be block rows in \[0, 3\)"),
        ([0, -1], [0, 0], r"rows must be block rows in \[0, 3\)"),
        ([[0, 1]], [0, 0], "1-D"),
        ([0, 1], [0], "one non-negative group index per feature"),
        ([0, 1], [0, -2], "one non-negative group index per feature"),
    ],
)
def test_bad_block_is_a_clear_error(rows, groups, message):
    with pytest.raises(ValueError, match=message):
        Block(sp.eye(3, 2, format="csr"), np.array(rows), groups)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize("k", [0, 1])
def test_rating_order_and_given_row_sums_change_no_bit(k, linear, weighted,
                                                       n_threads):  # fmt: skip
    """The passes in rating order (``rows``) and the row sums given by the
    caller give bit for bit the draws of the block-row passes, and the row
    sums come back as B @ theta of the new parameters."""
    rng, users, items, matrices = random_design(seed=21, n_ratings=300)
    blocks = make_blocks(users, items, matrices)
    block = blocks[k]
    X = materialize(blocks)
    model = random_parameters(rng, blocks)
    w_all, V_all = np.concatenate(model.biases), np.concatenate(model.factors)
    y = rng.normal(size=X.shape[0])
    weights = rng.uniform(0.2, 3.0, size=X.shape[0]) if weighted else np.ones(0)
    prior = (rng.normal(size=4), rng.uniform(1, 3, size=4))
    noise = rng.normal(size=block.n_features)
    results = []
    for rows, given in ((None, False), (block.rows, False), (block.rows, True),
                        (None, True)):  # fmt: skip
        e = y - fm_predict(X, model.bias, w_all, V_all)
        q = np.asarray(X @ V_all[:, 2]).ravel()
        theta = (model.biases[k] if linear else model.factors[k][:, 2]).copy()
        sums = block.matrix() @ theta if given else None
        draw_block(
            block.indptr, block.order, *block.csr, *block.csc, block.groups,
            theta, linear, *prior, 1.3, noise, q, e, n_threads, False, weights,
            rows, sums,
        )  # fmt: skip
        results.append((theta, e, q))
        if given and not linear:
            np.testing.assert_allclose(sums, block.matrix() @ theta, atol=1e-12)
    for theta, e, q in results[1:]:
        np.testing.assert_array_equal(theta, results[0][0])
        np.testing.assert_array_equal(e, results[0][1])
        np.testing.assert_array_equal(q, results[0][2])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_set_block_parts_equals_the_blocks_added_one_by_one(n_threads):
    rng, users, items, matrices = random_design(seed=4)
    blocks = make_blocks(users, items, matrices)
    thetas = [rng.normal(size=b.n_features) for b in blocks]
    expected = np.zeros(len(users))
    for block, theta in zip(blocks, thetas, strict=True):
        sums = block_sums(*block.csr, theta, np.empty(block.n_rows), 1)
        add_block_to_ratings(block.rows, sums, expected, 1)
    q = np.full(len(users), np.nan)
    set_block_parts(
        [None if b.identity else b.rows for b in blocks],
        [(*b.csr, t) if b.identity else b.matrix() @ t
         for b, t in zip(blocks, thetas, strict=True)],
        q, n_threads,
    )  # fmt: skip
    np.testing.assert_array_equal(q, expected)
    set_block_parts([], [], q, n_threads)
    np.testing.assert_array_equal(q, 0.0)


def test_set_block_parts_bad_lengths_are_clear_errors():
    rng, users, items, matrices = random_design(seed=4)
    user, _, context = make_blocks(users, items, matrices)
    q = np.zeros(len(users))
    with pytest.raises(ValueError, match="rows for"):
        set_block_parts([user.rows[:-1]], [np.zeros(user.n_rows)], q, 1)
    with pytest.raises(ValueError, match="identity block 0 has"):
        set_block_parts([None], [(*user.csr, np.zeros(user.n_features))], q, 1)
    with pytest.raises(ValueError, match="one of each per block"):
        set_block_parts([None, None], [(*context.csr, np.zeros(4))], q, 1)


def test_draw_block_bad_rows_and_row_sums_are_clear_errors():
    rng, users, items, matrices = random_design()
    block = make_blocks(users, items, matrices)[0]
    n = len(users)

    def call(rows, sums):
        draw_block(
            block.indptr, block.order, *block.csr, *block.csc, block.groups,
            np.zeros(block.n_features), False, np.zeros(2), np.ones(2), 1.0,
            np.zeros(block.n_features), np.zeros(n), np.zeros(n), 1, False, None,
            rows, sums,
        )  # fmt: skip

    with pytest.raises(ValueError, match="block row of each rating"):
        call(block.rows[:-1], None)
    with pytest.raises(ValueError, match="one sum per block row"):
        call(None, np.zeros(block.n_rows + 1))


@pytest.mark.parametrize("solver", ["gibbs", "als"])
def test_factor_arrays_replaced_between_sweeps_are_picked_up(solver):
    """The solver keeps B V from sweep to sweep; factor arrays put back by the
    caller between steps (C-ordered copies, or other values) are used."""
    rng, users, items, matrices = random_design(seed=8)
    blocks = make_blocks(users, items, matrices)
    ratings = make_ratings(users, items, rng.normal(size=len(users)))
    start = random_parameters(rng, blocks)
    other = random_parameters(rng, blocks)

    def make(model):
        if solver == "als":
            return FMALSSolver(ratings, model, als_params(), None, blocks)
        return FMGibbsSolver(
            ratings, model, gibbs_params(), np.random.default_rng(2), blocks
        )

    replaced, fresh = copy_parameters(start), copy_parameters(other)
    a = make(replaced)
    a.step()
    # Put other's factors back, C-ordered, and restart a fresh solver there.
    replaced.factors[:] = [np.ascontiguousarray(v) for v in other.factors]
    replaced.biases[:] = [w.copy() for w in other.biases]
    replaced.bias = other.bias
    a.residuals = a.target - predict_blocks(blocks, replaced)
    b = make(fresh)
    if solver == "gibbs":
        a.generator = np.random.default_rng(5)
        b.generator = np.random.default_rng(5)
        b.noise_precision = a.noise_precision
        b.prior_means = a.prior_means
    a.step()
    b.step()
    assert_same_parameters(replaced, fresh, rtol=1e-10, atol=1e-12)


def test_small_fits_sweep_on_one_thread():
    """Below MIN_RATINGS_PER_PARALLEL_SWEEP ratings a parallel region costs
    more than it saves, so the sweep runs its kernels on one thread."""
    rng, users, items, matrices = random_design()
    blocks = make_blocks(users, items, matrices)
    assert len(users) < fm_gibbs.MIN_RATINGS_PER_PARALLEL_SWEEP
    sweeper = FMGibbsSolver(
        make_ratings(users, items, rng.normal(size=len(users))),
        random_parameters(rng, blocks),
        gibbs_params(n_threads=2),
        rng,
        blocks,
    )
    assert sweeper.n_threads == 1


@pytest.mark.parametrize("width", [None, 3])
def test_group_sums_over_blocks_and_runs_match_numpy(width, monkeypatch):
    """Sums by group block by block, in runs of 3 features: those of the
    concatenated parameters."""
    monkeypatch.setattr(fm_gibbs, "_GROUP_SUM_ROWS", 3)
    rng = np.random.default_rng(0)
    groups = [rng.integers(0, 2, 7).astype(np.int32), np.full(5, 2, np.int32)]
    shape = (lambda n: (n,)) if width is None else (lambda n: (n, width))
    arrays = [rng.normal(size=shape(len(g))) for g in groups]
    sums = fm_gibbs.GroupSums(groups, 4)
    total, squares = sums(arrays)
    values = np.concatenate(arrays).reshape(12, -1)
    flat = np.concatenate(groups)
    expected = np.zeros((4, values.shape[1]))
    np.add.at(expected, flat, values)
    np.testing.assert_allclose(total, expected, atol=1e-14)
    expected = np.zeros((4, values.shape[1]))
    np.add.at(expected, flat, values**2)
    np.testing.assert_allclose(squares, expected, atol=1e-14)
    np.testing.assert_array_equal(sums.count[:, 0], [*np.bincount(flat), 0])


def test_group_prior_draws_concentrate_on_the_groups_values():
    """A group of 20000 parameters from N(0.5, 1/4): its drawn mean and
    precision are those of its values, to their posterior spread."""
    rng = np.random.default_rng(1)
    values = 0.5 + rng.normal(size=(20000, 1)) / 2
    sums = fm_gibbs.GroupSums([np.zeros(20000, np.int32)], 1)
    prior = FMPrior(shape=1.0, rate=1.0, strength=1.0)
    mean, precision = fm_gibbs.draw_group_priors(
        sums.count, *sums([values]), prior, rng, np.full((1, 1), 0.5)
    )
    np.testing.assert_allclose(precision, 1 / values.var(), rtol=0.05)
    np.testing.assert_allclose(mean, values.mean(), atol=0.02)
