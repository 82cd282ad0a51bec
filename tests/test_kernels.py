"""The compiled kernels and their Python drivers agree with ``reference.py``.

The references are plain float64 loops written from the mathematics; the
kernels run in the model's dtype, so float64 results must agree to about 1e-10
and float32 results to about 1e-4, relative to the size of the values compared.
Beside the reference, a few properties are checked directly: the ALS solution
zeroes the gradient of its objective, repeated ratings act like one averaged
rating of summed weight, blocks of SGD that share no user or item give the same
model whatever the number of threads, and the grouping kernel is a stable sort.

The SGD kernel has two builds of the same code (baseline and AVX2 + FMA, chosen
at run time); every SGD test runs against each build that this machine can run.
"""

import dataclasses
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from skmf._solvers._als_fast import BLOCK_SIZE as ALS_BLOCK
from skmf._solvers._als_fast import als_half_sweep, gibbs_half_sweep
from skmf._solvers._group_fast import group_by, group_rows
from skmf._solvers._implicit_fast import BLOCK_SIZE as IMPLICIT_BLOCK
from skmf._solvers._implicit_fast import implicit_half_sweep
from skmf._solvers._predict_fast import predict_pairs
from skmf._solvers._sgd_fast import cpu_has_avx2_fma

from skmf._solvers import _chunks, _sgd_fast, als, gibbs, implicit_als
from skmf._solvers._base import FactorModel, Ratings, Solver, SolverBreakdown
from skmf._solvers.als import ALSParams, ALSSolver
from skmf._solvers.sgd import CACHE_LINE, SGDParams, SGDSolver, select_kernel, step_size

from . import reference

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
# The loss codes of the SGD kernel's interface.
LOSS_CODES = {"squared_error": 0, "absolute_error": 1}


def _sgd_builds():
    """The builds of the SGD kernel module that this machine runs."""
    builds = [pytest.param(_sgd_fast, id="baseline")]
    if cpu_has_avx2_fma():
        try:
            from skmf._solvers import _sgd_fast_avx2
        except ImportError:
            pass  # the compiler had no AVX2 flags
        else:
            builds.append(pytest.param(_sgd_fast_avx2, id="avx2"))
    return builds


@pytest.fixture(params=_sgd_builds())
def sgd_build(request):
    """One build of the SGD kernel module; solvers run it as ``solver.kernel``."""
    return request.param


@pytest.fixture
def sgd_blocks(sgd_build):
    """The kernel function of one build."""
    return sgd_build.sgd_blocks


def assert_close(actual, expected, dtype):
    """Agreement to the dtype's tolerance, relative to the largest expected value.

    Scaling by the largest value rather than elementwise keeps entries that are
    near zero (after cancellation) from demanding more than the dtype can give.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    scale = np.max(np.abs(expected), initial=0.0)
    assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def make_ratings(rng, n_users, n_items, n_ratings, dtype, weighted):
    """Random (user, item, rating, weight) lists; pairs may repeat."""
    users = rng.integers(n_users, size=n_ratings).astype(np.int32)
    items = rng.integers(n_items, size=n_ratings).astype(np.int32)
    values = rng.normal(0.0, 1.0, n_ratings).astype(dtype)
    if weighted:
        weights = rng.uniform(0.2, 2.0, n_ratings).astype(dtype)
    else:
        weights = np.empty(0, dtype)
    return users, items, values, weights


def make_factors(rng, n_rows, n_components, dtype):
    """Random factors and biases, C-contiguous, in the kernel's dtype."""
    factors = rng.normal(0.0, 0.5, (n_rows, n_components)).astype(dtype)
    bias = rng.normal(0.0, 0.3, n_rows).astype(dtype)
    return factors, bias


def to_csr(rows, cols, ratings, weights, n_rows):
    """Group coordinate lists by row for the ALS kernel, keeping repeats apart."""
    order = np.argsort(rows, kind="stable")
    indptr = np.searchsorted(rows[order], np.arange(n_rows + 1)).astype(np.int64)
    return (
        indptr,
        np.ascontiguousarray(cols[order], dtype=np.int32),
        np.ascontiguousarray(ratings[order]),
        np.ascontiguousarray(weights[order]) if weights.size else weights,
    )


# --------------------------------------------------------------------------- SGD


def run_blocks(
    sgd_blocks,
    data,
    block_ptr,
    n_item_groups,
    blocks,
    offsets,
    steps,
    alpha=0.1,
    loss="squared_error",
    fit_biases=True,
    n_threads=1,
):
    """Call the kernel on copies of the parameters; return them and the losses."""
    users, items, values, weights, W, H, bu, bi = data
    W, H, bu, bi = W.copy(), H.copy(), bu.copy(), bi.copy()
    blocks = np.asarray(blocks, np.int64)
    losses = np.full(blocks.size, np.nan)
    sgd_blocks(
        users, items, values, weights, block_ptr, n_item_groups, blocks,
        np.asarray(offsets, np.int64),
        np.broadcast_to(np.asarray(steps, np.float64), blocks.shape).copy(),
        W, H, bu, bi, alpha, LOSS_CODES[loss], fit_biases, n_threads, losses,
    )  # fmt: skip
    return W, H, bu, bi, losses


def run_sgd_kernel(sgd_blocks, data, order, lr, alpha, loss, fit_biases):
    """Visit the ratings in ``order`` with the block kernel, as one block.

    Works on copies of the parameters; returns them and the loss.
    """
    users, items, values, weights = data[:4]
    order = np.asarray(order, dtype=np.int64)
    ordered = (
        users[order], items[order], values[order],
        weights[order] if weights.size else weights, *data[4:],
    )  # fmt: skip
    *params, losses = run_blocks(
        sgd_blocks, ordered, np.array([0, order.size], np.int64), 1, [0], [0], lr,
        alpha, loss, fit_biases,
    )  # fmt: skip
    return *params, losses.sum()


def sgd_problem(rng, dtype, weighted, n_ratings=150):
    n_users, n_items, n_components = 11, 8, 4
    users, items, values, weights = make_ratings(
        rng, n_users, n_items, n_ratings, dtype, weighted
    )
    W, bu = make_factors(rng, n_users, n_components, dtype)
    H, bi = make_factors(rng, n_items, n_components, dtype)
    return users, items, values, weights, W, H, bu, bi


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error"])
@pytest.mark.parametrize("visit", ["permutation", "slice", "repeats"])
def test_sgd_kernel_matches_reference(
    sgd_blocks, dtype, weighted, fit_biases, loss, visit
):
    rng = np.random.default_rng(0)
    data = sgd_problem(rng, dtype, weighted)
    n = data[2].shape[0]
    order = rng.permutation(n).astype(np.int64)
    if visit == "slice":
        # A part of the ratings only.
        order = order[37:111]
    elif visit == "repeats":
        order = rng.integers(n, size=2 * n).astype(np.int64)
    lr, alpha = 0.05, 0.1

    *got, got_total = run_sgd_kernel(
        sgd_blocks, data, order, lr, alpha, loss, fit_biases
    )
    *expected, expected_total = reference.sgd_pass(
        *data[:4], order, *data[4:], lr, alpha, loss, fit_biases
    )

    for got_array, expected_array in zip(got, expected, strict=True):
        assert got_array.dtype == dtype
        assert_close(got_array, expected_array, dtype)
    assert_close(got_total, expected_total, dtype)
    assert expected_total > 0
    # The pass did something, and the biases moved only if they are fitted.
    assert not np.allclose(got[0], data[4])
    assert not np.allclose(got[1], data[5])
    if fit_biases:
        assert not np.allclose(got[2], data[6])
    else:
        assert_array_equal(got[2], data[6])
        assert_array_equal(got[3], data[7])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sgd_kernel_split_order_equals_one_pass(sgd_blocks, dtype, weighted):
    """Two calls on consecutive slices of the order are one call on all of it."""
    rng = np.random.default_rng(1)
    data = sgd_problem(rng, dtype, weighted)
    order = rng.permutation(data[2].shape[0]).astype(np.int64)
    args = (0.05, 0.1, "squared_error", True)

    *whole, whole_total = run_sgd_kernel(sgd_blocks, data, order, *args)
    *first, first_total = run_sgd_kernel(sgd_blocks, data, order[:60], *args)
    data_after_first = (*data[:4], *first)
    *second, second_total = run_sgd_kernel(
        sgd_blocks, data_after_first, order[60:], *args
    )

    for a, b in zip(whole, second, strict=True):
        assert_array_equal(a, b)
    assert_allclose(first_total + second_total, whole_total, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_kernel_empty_order_changes_nothing(sgd_blocks, dtype):
    rng = np.random.default_rng(2)
    data = sgd_problem(rng, dtype, weighted=False)
    *got, total = run_sgd_kernel(
        sgd_blocks, data, np.empty(0, np.int64), 0.05, 0.1, "squared_error", True
    )
    assert total == 0.0
    for got_array, before in zip(got, data[4:], strict=True):
        assert_array_equal(got_array, before)
    # An empty list of blocks.
    empty_grid = np.array([0, 0], np.int64)
    *got, losses = run_blocks(sgd_blocks, data, empty_grid, 1, [], [], 0.05)
    assert losses.size == 0
    for got_array, before in zip(got, data[4:], strict=True):
        assert_array_equal(got_array, before)


def grid_problem(rng, dtype, n_groups=3, n_ratings=400):
    """Ratings grouped by block of a n_groups x n_groups grid, as SGDSolver does.

    Block ``b`` holds the ratings of users ``b // n_groups`` and items ``b %
    n_groups`` (mod n_groups). Returns the data and ``block_ptr``.
    """
    users, items, values, weights, W, H, bu, bi = sgd_problem(
        rng, dtype, True, n_ratings
    )
    block = (users % n_groups) * n_groups + items % n_groups
    order = np.argsort(block, kind="stable")
    block_ptr = np.searchsorted(block[order], np.arange(n_groups**2 + 1))
    data = (users[order], items[order], values[order], weights[order], W, H, bu, bi)
    return data, block_ptr.astype(np.int64)


def reference_blocks(data, block_ptr, blocks, offsets, steps):
    """reference.sgd_pass over the blocks one after the other; per-block losses."""
    state, losses = data[4:], []
    for b, o, lr in zip(blocks, offsets, steps, strict=True):
        order = np.roll(np.arange(block_ptr[b], block_ptr[b + 1]), -o)
        *state, part = reference.sgd_pass(
            *data[:4], order, *state, lr, 0.1, "squared_error", True
        )
        losses.append(part)
    return state, np.array(losses)


def random_strata(rng, n_groups, n_strata):
    """Strata of blocks sharing no row or column, as SGDSolver.strata makes."""
    rows = np.arange(n_groups)
    shifts = rng.integers(n_groups, size=n_strata)
    return (rows * n_groups + (rows + shifts[:, None]) % n_groups).ravel()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2, 4])
@pytest.mark.parametrize("listing", ["strata", "any"])
def test_sgd_blocks_equal_a_sequential_pass(sgd_blocks, dtype, n_threads, listing):
    """Any list of blocks, run on threads, equals visiting the blocks one after
    the other, each from its offset with its step size. With "any", the list
    repeats blocks and neighbours share rows and columns: the kernel has to
    make blocks wait for the earlier blocks of their row and column."""
    rng = np.random.default_rng(3)
    data, block_ptr = grid_problem(rng, dtype)
    sizes = np.diff(block_ptr)
    assert np.all(sizes > 10)
    if listing == "strata":
        blocks = random_strata(rng, 3, 4)
    else:
        blocks = rng.integers(9, size=20)
    offsets = (rng.random(blocks.size) * sizes[blocks]).astype(np.int64)
    offsets[:2] = [0, sizes[blocks[1]] - 1]
    steps = rng.uniform(0.02, 0.08, blocks.size)

    *got, losses = run_blocks(
        sgd_blocks, data, block_ptr, 3, blocks, offsets, steps, n_threads=n_threads
    )
    expected, expected_losses = reference_blocks(
        data, block_ptr, blocks, offsets, steps
    )
    for got_array, expected_array in zip(got, expected, strict=True):
        assert_close(got_array, expected_array, dtype)
    assert_close(losses, expected_losses, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_blocks_threads_give_identical_results(sgd_blocks, dtype):
    """Bit for bit, for the factors and for the loss of every block."""
    rng = np.random.default_rng(5)
    data, block_ptr = grid_problem(rng, dtype, n_groups=4, n_ratings=3000)
    blocks = np.concatenate([random_strata(rng, 4, 8), rng.integers(16, size=40)])
    sizes = np.diff(block_ptr)[blocks]
    offsets = (rng.random(blocks.size) * sizes).astype(np.int64)
    runs = [
        run_blocks(
            sgd_blocks, data, block_ptr, 4, blocks, offsets, 0.03, n_threads=n_threads
        )
        for n_threads in (1, 2, 3, 4)
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_blocks_skip_blocks_not_listed(sgd_blocks, dtype):
    rng = np.random.default_rng(4)
    data, block_ptr = grid_problem(rng, dtype)
    W, H, bu, bi, losses = run_blocks(
        sgd_blocks, data, block_ptr, 3, [4], [0], 0.05, n_threads=2
    )
    assert losses[0] > 0
    part = slice(block_ptr[4], block_ptr[5])
    for updated, before, rows in ((W, data[4], data[0]), (H, data[5], data[1])):
        touched = np.unique(rows[part])
        untouched = np.setdiff1d(np.arange(before.shape[0]), touched)
        assert_array_equal(updated[untouched], before[untouched])
        assert not np.allclose(updated[touched], before[touched])


def test_sgd_blocks_rejects_bad_lists(sgd_blocks):
    rng = np.random.default_rng(4)
    data, block_ptr = grid_problem(rng, np.float64)
    with pytest.raises(IndexError, match="block 9"):
        run_blocks(sgd_blocks, data, block_ptr, 3, [0, 9], [0, 0], 0.05)
    with pytest.raises(ValueError, match="differ in length"):
        run_blocks(sgd_blocks, data, block_ptr, 3, [0, 1], [0], 0.05)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_absolute_loss_at_zero_error_only_shrinks(sgd_blocks, dtype):
    """sign(0) = 0: a rating predicted exactly only applies the regularization."""
    # b_u + b_i = 0.75 and w . h = 0 exactly, so e = 0 exactly in any dtype.
    data = (
        np.array([0], np.int32),
        np.array([0], np.int32),
        np.array([0.75], dtype),
        np.empty(0, dtype),
        np.array([[1.0, 0.0]], dtype),
        np.array([[0.0, 2.0]], dtype),
        np.array([0.5], dtype),
        np.array([0.25], dtype),
    )
    lr, alpha = 0.1, 0.2
    W, H, bu, bi, total = run_sgd_kernel(
        sgd_blocks, data, np.array([0], np.int64), lr, alpha, "absolute_error", True
    )
    shrink = 1 - lr * alpha  # each parameter is multiplied by 0.98
    assert total == 0.0
    assert_close(W, [[shrink, 0.0]], dtype)
    assert_close(H, [[0.0, 2.0 * shrink]], dtype)
    assert_close(bu, [0.5 * shrink], dtype)
    assert_close(bi, [0.25 * shrink], dtype)
    *expected, expected_total = reference.sgd_pass(
        *data[:4], [0], *data[4:], lr, alpha, "absolute_error", True
    )
    assert expected_total == 0.0
    for got_array, expected_array in zip((W, H, bu, bi), expected, strict=True):
        assert_close(got_array, expected_array, dtype)


# --------------------------------------------------------------------------- ALS


def run_als_kernel(csr, row_factors, row_bias, col_factors, col_bias, alpha,
                   fit_biases, n_threads):  # fmt: skip
    """Call als_half_sweep on copies of the row parameters."""
    X, b = row_factors.copy(), row_bias.copy()
    sse, failed = als_half_sweep(
        *csr, X, b, col_factors, col_bias, alpha, fit_biases, n_threads
    )
    assert failed == -1
    return X, b, sse


def als_problem(rng, dtype, weighted, n_rows=12, n_cols=9, n_ratings=80, k=3):
    rows, cols, values, weights = make_ratings(
        rng, n_rows, n_cols, n_ratings, dtype, weighted
    )
    X, b = make_factors(rng, n_rows, k, dtype)
    Y, c = make_factors(rng, n_cols, k, dtype)
    return rows, cols, values, weights, X, b, Y, c


def check_als_against_reference(problem, alpha, fit_biases, n_threads, dtype):
    """Run kernel and reference on one problem; assert they agree; return both."""
    rows, cols, values, weights, X0, b0, Y, c = problem
    n_rows = X0.shape[0]
    csr = to_csr(rows, cols, values, weights, n_rows)
    X, b, sse = run_als_kernel(csr, X0, b0, Y, c, alpha, fit_biases, n_threads)
    X_ref, b_ref, sse_ref = reference.als_half_sweep(
        rows, cols, values, weights, n_rows, b0, Y, c, alpha, fit_biases
    )
    assert X.dtype == dtype and b.dtype == dtype
    assert sse >= 0
    assert_close(X, X_ref, dtype)
    assert_close(b, b_ref, dtype)
    assert_close(sse, sse_ref, dtype)
    if not fit_biases:
        assert_array_equal(b, b0)
    return (X, b, sse), (X_ref, b_ref, sse_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_als_half_sweep_matches_reference(dtype, weighted, fit_biases, n_threads):
    rng = np.random.default_rng(3)
    problem = als_problem(rng, dtype, weighted)
    check_als_against_reference(problem, 0.1, fit_biases, n_threads, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_half_sweep_threads_give_identical_rows(dtype, weighted, fit_biases):
    """Rows are independent, so the thread count cannot change a single bit,
    and the loss is summed in row order after the parallel loop."""
    rng = np.random.default_rng(4)
    # Enough rows for many chunks of 16, so that both threads take some.
    problem = als_problem(rng, dtype, weighted, n_rows=300, n_ratings=2000)
    rows, cols, values, weights, X0, b0, Y, c = problem
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X1, b1, sse1 = run_als_kernel(csr, X0, b0, Y, c, 0.1, fit_biases, 1)
    X2, b2, sse2 = run_als_kernel(csr, X0, b0, Y, c, 0.1, fit_biases, 2)
    assert_array_equal(X1, X2)
    assert_array_equal(b1, b2)
    assert sse1 == sse2


def long_row_problem(rng, dtype, n_long, n_rows=5, n_cols=40, k=3):
    """Short random rows, and row 2 with n_long ratings, most of them in the
    middle of the CSR arrays."""
    rows, cols, values, weights = make_ratings(rng, n_rows, n_cols, 30, dtype, True)
    n_heavy = n_long - np.count_nonzero(rows == 2)
    rows = np.concatenate([rows, np.full(n_heavy, 2, np.int32)])
    cols = np.concatenate([cols, rng.integers(n_cols, size=n_heavy).astype(np.int32)])
    values = np.concatenate([values, rng.normal(0, 1, n_heavy).astype(dtype)])
    weights = np.concatenate([weights, rng.uniform(0.2, 2, n_heavy).astype(dtype)])
    X0, b0 = make_factors(rng, n_rows, k, dtype)
    Y, c = make_factors(rng, n_cols, k, dtype)
    assert np.bincount(rows)[2] == n_long
    return rows, cols, values, weights, X0, b0, Y, c


def test_als_block_size_is_the_kernels():
    """The long-row tests below straddle the block the kernel really uses."""
    assert ALS_BLOCK == 2048
    assert IMPLICIT_BLOCK == 128


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("cg_steps", [0, 2], ids=["exact", "cg2"])
@pytest.mark.parametrize(
    "n_long",
    [ALS_BLOCK - 1, ALS_BLOCK, ALS_BLOCK + 1, 2 * ALS_BLOCK + 300],
    ids=["fits", "fills", "one-more", "three-blocks"],
)
def test_als_half_sweep_rows_longer_than_a_block(dtype, fit_biases, cg_steps, n_long):
    """A row with more ratings than the kernel's block is gathered block by
    block, on every pass: by the exact solve's Gram matrix and by each CG
    step's two products. Row 2 has n_long ratings: within the block, just
    filling it, one beyond and over three blocks."""
    rng = np.random.default_rng(5)
    problem = long_row_problem(rng, dtype, n_long)
    if cg_steps == 0:
        check_als_against_reference(problem, 0.05, fit_biases, 2, dtype)
        return
    rows, cols, values, weights, X0, b0, Y, c = problem
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X, b = X0.copy(), b0.copy()
    sse, failed = als_half_sweep(
        *csr, X, b, Y, c, 0.05, fit_biases, 2, cg_steps
    )  # fmt: skip
    X_ref, b_ref, sse_ref = reference.als_cg_half_sweep(
        rows, cols, values, weights, X0, b0, Y, c, 0.05, fit_biases, cg_steps
    )
    assert failed == -1
    assert_close(X, X_ref, dtype)
    assert_close(b, b_ref, dtype)
    assert_close(sse, sse_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("cg_steps", [1, 3])
def test_als_cg_matches_reference(dtype, fit_biases, cg_steps):
    """CG steps from the current rows, as textbook CG on the dense system."""
    rng = np.random.default_rng(16)
    rows, cols, values, weights, X0, b0, Y, c = als_problem(rng, dtype, True, k=4)
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X, b = X0.copy(), b0.copy()
    sse, failed = als_half_sweep(*csr, X, b, Y, c, 0.1, fit_biases, 2, cg_steps)
    X_ref, b_ref, sse_ref = reference.als_cg_half_sweep(
        rows, cols, values, weights, X0, b0, Y, c, 0.1, fit_biases, cg_steps
    )
    assert failed == -1
    assert_close(X, X_ref, dtype)
    assert_close(b, b_ref, dtype)
    assert_close(sse, sse_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_half_sweep_zero_weights(dtype, fit_biases):
    """Rows of zero total weight become 0; zero-weight ratings are ignored."""
    rng = np.random.default_rng(6)
    problem = list(als_problem(rng, dtype, weighted=True, n_rows=6, n_ratings=60))
    rows, weights = problem[0], problem[3]
    rows[rows == 4] = 0  # row 4 has no ratings at all
    weights[rows == 1] = 0  # row 1 has ratings, all of weight zero
    some_of_row_3 = np.flatnonzero(rows == 3)[::2]
    weights[some_of_row_3] = 0  # row 3 has some ratings of weight zero
    assert np.count_nonzero(rows == 3) > some_of_row_3.size > 0
    assert np.count_nonzero(rows == 1) > 0

    (X, b, sse), _ = check_als_against_reference(problem, 0.1, fit_biases, 2, dtype)
    for empty in (1, 4):
        assert_array_equal(X[empty], 0)
        assert b[empty] == (0 if fit_biases else problem[5][empty])

    # Row 3 is solved as if its zero-weight ratings were not there.
    keep = weights > 0
    dropped = [a[keep] for a in problem[:4]] + problem[4:]
    (X_dropped, b_dropped, sse_dropped), _ = check_als_against_reference(
        dropped, 0.1, fit_biases, 1, dtype
    )
    assert_close(X[3], X_dropped[3], dtype)
    assert_close(b[3], b_dropped[3], dtype)
    assert_close(sse, sse_dropped, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_half_sweep_repeated_pairs_are_separate_ratings(dtype, fit_biases):
    """Ratings t1, t2 of one (row, col) pair weigh like one rating of their mean.

    sum_m s_m (t_m - p)**2 differs from (sum_m s_m) (mean_s(t) - p)**2 by a
    constant, and the penalty scales with the same total weight, so both give
    the same solution (but not the same loss). Summing the repeats into one
    rating, as scipy.sparse would, gives another solution.
    """
    rng = np.random.default_rng(7)
    # Few columns, so that many (row, col) pairs repeat.
    problem = als_problem(rng, dtype, weighted=False, n_rows=5, n_cols=4, n_ratings=60)
    rows, cols, values, _, X0, b0, Y, c = problem
    pairs, group = np.unique(np.c_[rows, cols], axis=0, return_inverse=True)
    group = group.ravel()
    counts = np.bincount(group)
    assert counts.max() >= 3

    X, b, _ = check_als_against_reference(problem, 0.1, fit_biases, 2, dtype)[0]

    mean = np.bincount(group, values.astype(np.float64)) / counts
    merged = (
        pairs[:, 0].astype(np.int32),
        pairs[:, 1].astype(np.int32),
        mean.astype(dtype),
        counts.astype(dtype),
        X0, b0, Y, c,
    )  # fmt: skip
    X_merged, b_merged, _ = check_als_against_reference(
        merged, 0.1, fit_biases, 2, dtype
    )[0]
    assert_close(X, X_merged, dtype)
    assert_close(b, b_merged, dtype)

    summed = (
        *merged[:2],
        (mean * counts).astype(dtype),
        np.empty(0, dtype),
        *merged[4:],
    )
    X_summed, _, _ = check_als_against_reference(summed, 0.1, fit_biases, 2, dtype)[0]
    assert not np.allclose(X, X_summed, rtol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_half_sweep_zeroes_the_gradient(dtype, weighted, fit_biases):
    """The kernel's rows are stationary points of their objective.

    Checked from the objective's gradient alone, without the reference solve.
    """
    rng = np.random.default_rng(8)
    rows, cols, values, weights, X0, b0, Y, c = als_problem(rng, dtype, weighted)
    alpha = 0.1
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X, b, _ = run_als_kernel(csr, X0, b0, Y, c, alpha, fit_biases, 2)

    grad = reference.als_row_gradient(
        rows, cols, values, weights, X, b, Y, c, alpha, fit_biases
    )
    # The gradient's terms are about 2 * S * |y| in size; the float32 solution is
    # only known to its unit roundoff times the normal matrix' size.
    grad_scale = 2 * np.bincount(rows, weights if weighted else None).max()
    assert_allclose(grad, 0, atol=grad_scale * RTOL[dtype])
    # Not vacuous: the initial rows were far from stationary.
    grad0 = reference.als_row_gradient(
        rows, cols, values, weights, X0, b0, Y, c, alpha, fit_biases
    )
    assert np.abs(grad0).max() > 100 * grad_scale * RTOL[np.float32]


# ------------------------------------------------ one failure protocol, chunks


def singular_problem(n_rows, failing_rows):
    """Rows of one rating each, against a column of zero factors for the
    ``failing_rows``: without a penalty their systems are singular."""
    indptr = np.arange(n_rows + 1, dtype=np.int64)
    indices = np.ones(n_rows, dtype=np.int32)
    indices[list(failing_rows)] = 0
    col_factors = np.array([[0.0], [1.0]])
    return indptr, indices, np.ones(n_rows), col_factors


def run_failing_kernel(kind, n_rows, failing_rows, n_threads, row_start=0, row_stop=-1):
    """Run one half-sweep kernel on ``singular_problem``; its (loss, failed)."""
    indptr, indices, ratings, Y = singular_problem(n_rows, failing_rows)
    X = np.ones((n_rows, 1))
    range_args = (row_start, row_stop)
    if kind == "als":
        return als_half_sweep(
            indptr, indices, ratings, np.empty(0), X, np.zeros(n_rows), Y,
            np.zeros(2), 0.0, False, n_threads, 0, True, *range_args,
        )  # fmt: skip
    if kind == "gibbs":
        # A zero prior and beta = 1: A = G G^T, singular where y = 0.
        return gibbs_half_sweep(
            indptr, indices, ratings, np.empty(0), X, np.zeros(n_rows), Y,
            np.zeros(2), np.zeros((1, 1)), np.zeros(1), 1.0,
            np.zeros((n_rows, 1)), False, n_threads, True, *range_args,
        )  # fmt: skip
    # Implicit: a zero gram, and a confidence of 1 adds (1 - 1) y y^T = 0.
    confidence = np.where(np.isin(np.arange(n_rows), failing_rows), 1.0, 2.0)
    gram = np.zeros((1, 1))
    return implicit_half_sweep(
        indptr, np.zeros(n_rows, np.int32), confidence, X, np.ones((1, 1)), gram,
        0, True, n_threads, *range_args,
    )  # fmt: skip


KERNELS = ["als", "gibbs", "implicit"]


@pytest.mark.parametrize("kind", KERNELS)
@pytest.mark.parametrize("failing_rows", [[0], [3], [5], [4, 1]])
def test_half_sweeps_report_the_first_failed_row(kind, failing_rows):
    """Every half-sweep returns (loss, failed): the first row whose system is
    not positive definite, the same however many threads."""
    for n_threads in (1, 2):
        loss, failed = run_failing_kernel(kind, 6, failing_rows, n_threads)
        assert failed == min(failing_rows)
        assert np.isfinite(loss)
    loss, failed = run_failing_kernel(kind, 6, [], 2)
    assert failed == -1


@pytest.mark.parametrize("kind", KERNELS)
def test_half_sweeps_report_the_first_failed_row_with_threads(kind):
    n_rows = 20000  # many chunks of the schedule, so that both threads take part
    for _ in range(3):
        _, failed = run_failing_kernel(kind, n_rows, [n_rows - 1, 7, 12000], 2)
        assert failed == 7


@pytest.mark.parametrize("kind", KERNELS)
def test_half_sweeps_solve_only_their_rows(kind):
    """A call solves rows row_start:row_stop and reports row numbers of the
    whole half-sweep."""
    n_rows = 10
    _, failed = run_failing_kernel(kind, n_rows, [2, 7], 2, 3, 8)
    assert failed == 7
    _, failed = run_failing_kernel(kind, n_rows, [2, 7], 2, 3, 7)
    assert failed == -1
    _, failed = run_failing_kernel(kind, n_rows, [2], 1, 4, 4)
    assert failed == -1
    with pytest.raises(ValueError, match="rows 4:11 are not a range of the 10"):
        run_failing_kernel(kind, n_rows, [], 1, 4, 11)
    with pytest.raises(ValueError, match="rows 5:4"):
        run_failing_kernel(kind, n_rows, [], 1, 5, 4)


def test_als_half_sweep_leaves_rows_outside_its_range():
    rng = np.random.default_rng(30)
    rows, cols, values, weights, X0, b0, Y, c = als_problem(rng, np.float64, True)
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X, b = X0.copy(), b0.copy()
    als_half_sweep(*csr, X, b, Y, c, 0.1, True, 2, 0, True, 3, 8)
    whole, whole_bias, _ = run_als_kernel(csr, X0, b0, Y, c, 0.1, True, 1)
    assert_array_equal(X[3:8], whole[3:8])
    assert_array_equal(b[3:8], whole_bias[3:8])
    assert_array_equal(np.delete(X, np.s_[3:8], 0), np.delete(X0, np.s_[3:8], 0))


def test_kernel_scratch_that_cannot_be_allocated_is_a_memory_error():
    """A thread whose scratch malloc fails raises MemoryError, never writes
    through NULL. K = 100,000 asks each thread for K^2 doubles (80 GB)."""
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            refuses = f.read().strip() in ("0", "2")
    except OSError:
        refuses = False
    if not refuses:
        pytest.skip("only where the kernel refuses allocations larger than memory")
    k = 100_000
    X, Y = np.zeros((1, k)), np.zeros((1, k))
    with pytest.raises(MemoryError, match="scratch memory"):
        als_half_sweep(
            np.array([0, 1], np.int64), np.zeros(1, np.int32), np.ones(1),
            np.empty(0), X, np.zeros(1), Y, np.zeros(1), 0.1, False, 2,
        )  # fmt: skip


@pytest.mark.parametrize("kind", ["als", "als-cg", "gibbs", "implicit", "implicit-cg"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunked_half_sweeps_equal_one_call(kind, n_threads):
    """Rows split into calls, with the loss carried from call to call, give
    the same rows and the same loss as one call, bit for bit."""
    rng = np.random.default_rng(31)
    n_rows, k = 300, 4
    rows, cols, values, weights, X0, b0, Y, c = als_problem(
        rng, np.float32, True, n_rows=n_rows, n_cols=40, n_ratings=3000, k=k
    )
    csr = to_csr(rows, cols, values, weights, n_rows)
    precision = np.eye(k + 1, dtype=np.float32) * 3
    shift = np.full(k + 1, 0.1, np.float32)
    noise = rng.standard_normal((n_rows, k + 1)).astype(np.float32)
    conf_csr = (csr[0], csr[1], 1 + np.abs(csr[2]) * 3)
    gram = implicit_als.regularized_gram(Y, 0.1)

    def run(cuts):
        X, b, loss = X0.copy(), b0.copy(), 0.0
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            if kind.startswith("als"):
                steps = 3 if kind == "als-cg" else 0
                loss, failed = als_half_sweep(
                    *csr, X, b, Y, c, 0.1, True, n_threads, steps, True, start,
                    stop, loss,
                )  # fmt: skip
            elif kind == "gibbs":
                loss, failed = gibbs_half_sweep(
                    *csr, X, b, Y, c, precision, shift, 1.3, noise, True,
                    n_threads, True, start, stop, loss,
                )  # fmt: skip
            else:
                steps = 3 if kind == "implicit-cg" else 0
                loss, failed = implicit_half_sweep(
                    *conf_csr, X, Y, gram, steps, True, n_threads, start, stop, loss
                )
            assert failed == -1
        return X, b, loss

    X1, b1, loss1 = run([0, n_rows])
    X2, b2, loss2 = run([0, 1, 17, 17, 150, 299, n_rows])
    assert_array_equal(X1, X2)
    assert_array_equal(b1, b2)
    assert loss1 == loss2
    # The loss is added in row order: the sum of the rows' losses, one by one.
    row_loss = np.zeros(n_rows)
    X3 = X0.copy()
    if kind.startswith("implicit"):
        steps = 3 if kind == "implicit-cg" else 0
        implicit_half_sweep(
            *conf_csr, X3, Y, gram, steps, True, n_threads, 0, -1, 0.0, row_loss
        )
    elif kind == "gibbs":
        gibbs_half_sweep(
            *csr, X3, b0.copy(), Y, c, precision, shift, 1.3, noise, True,
            n_threads, True, 0, -1, 0.0, row_loss,
        )  # fmt: skip
    else:
        als_half_sweep(
            *csr, X3, b0.copy(), Y, c, 0.1, True, n_threads,
            3 if kind == "als-cg" else 0, True, 0, -1, 0.0, row_loss,
        )  # fmt: skip
    assert_array_equal(X3, X1)
    in_order = 0.0
    for value in row_loss:
        in_order += value
    assert loss1 == in_order


def test_chunk_bounds_cut_by_estimated_work():
    costs = np.array([5.0, 5.0, 5.0, 30.0, 1.0, 1.0, 1.0, 12.0])
    bounds = _chunks.bounds(costs, n_threads=1, budget=10)
    assert bounds[0] == 0 and bounds[-1] == costs.size
    assert np.all(np.diff(bounds) > 0)
    # Every call has less than two budgets of work, or one task; the tasks
    # costlier than a budget run alone.
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        assert stop - start == 1 or costs[start:stop].sum() < 20
    assert {3, 4, 7, 8} <= set(bounds)
    # The budget is per thread; everything within it is one call.
    assert_array_equal(_chunks.bounds(costs, n_threads=1, budget=1000), [0, 8])
    assert len(_chunks.bounds(costs, 2, 10)) < len(bounds)
    assert_array_equal(_chunks.bounds(np.empty(0), 1, 10), [0])
    # Deterministic: the same costs, the same cuts.
    assert_array_equal(_chunks.bounds(costs, 1, 10), bounds)


def test_chunk_bounds_keep_long_sweeps_to_bounded_calls():
    """At the default budget, a 10M-rating half-sweep at K = 100 becomes many
    calls, a MovieLens-100K one a single call."""
    indptr = np.r_[0, np.cumsum(np.full(200_000, 50))]
    costs = als.als_row_costs(indptr, 100, True, 0)
    bounds = _chunks.bounds(costs, 2)
    assert len(bounds) > 10
    per_call = np.add.reduceat(costs, bounds[:-1])
    assert per_call.max() <= 2 * _chunks.CALL_BUDGET * 1.01
    small = np.r_[0, np.cumsum(np.full(943, 106))]
    assert len(_chunks.bounds(als.als_row_costs(small, 10, True, 0), 2)) == 2


# ----------------------------------------------------------------------- predict


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_predict_pairs_matches_reference(dtype, n_threads):
    rng = np.random.default_rng(9)
    n_users, n_items, n = 7, 5, 200
    W, bu = make_factors(rng, n_users, 4, dtype)
    H, bi = make_factors(rng, n_items, 4, dtype)
    users = rng.integers(-1, n_users, size=n).astype(np.int32)
    items = rng.integers(-1, n_items, size=n).astype(np.int32)
    intercept = 3.25
    out = np.full(n, np.nan)

    predict_pairs(users, items, W, H, bu, bi, intercept, out, n_threads)

    expected = reference.predict_pairs(users, items, W, H, bu, bi, intercept)
    assert_close(out, expected, dtype)
    # The fallbacks, straight from their definition.
    only_item = (users < 0) & (items >= 0)
    only_user = (users >= 0) & (items < 0)
    neither = (users < 0) & (items < 0)
    assert only_item.any() and only_user.any() and neither.any()
    assert_array_equal(out[only_item], intercept + bi[items[only_item]].astype(float))
    assert_array_equal(out[only_user], intercept + bu[users[only_user]].astype(float))
    assert_array_equal(out[neither], intercept)


def test_predict_pairs_empty():
    out = np.empty(0)
    W, H = np.ones((2, 3)), np.ones((2, 3))
    empty = np.empty(0, np.int32)
    predict_pairs(empty, empty, W, H, np.ones(2), np.ones(2), 1.0, out, 2)
    assert out.shape == (0,)


# ----------------------------------------------------------------------- drivers


def sgd_params(schedule, learning_rate=0.05, decay_rate=0.8, decay_steps=17, **kw):
    return SGDParams(
        alpha=0.1,
        fit_biases=True,
        loss="squared_error",
        learning_rate=learning_rate,
        learning_rate_schedule=schedule,
        decay_rate=decay_rate,
        decay_steps=decay_steps,
        n_threads=kw.pop("n_threads", 1),
        **kw,
    )


def test_sgd_step_size_staircase():
    params = sgd_params("exponential", 0.1, 0.5, 3)
    # 0.1 * 0.5 ** floor(t / 3)
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
    assert_allclose([step_size(params, t) for t in range(10)], expected, rtol=1e-15)

    constant = sgd_params("constant", 0.1, 0.5, 3)
    assert [step_size(constant, t) for t in (0, 3, 1000)] == [0.1, 0.1, 0.1]


def as_ratings(users, items, values, weights, n_users, n_items):
    """Coordinate lists as the Ratings the estimators give a solver."""
    indptr, by_user_items, by_user_values, by_user_weights = group_rows(
        users, n_users, items, values, weights
    )
    return Ratings(
        users=np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr)),
        items=by_user_items, values=by_user_values, weights=by_user_weights,
        n_users=n_users, n_items=n_items, indptr=indptr,
    )  # fmt: skip


def as_model(W, H, bu, bi):
    return FactorModel(W.copy(), H.copy(), bu.copy(), bi.copy())


def sgd_solver(dtype, schedule="exponential", n_threads=1, seed=10, n_ratings=300,
               kernel=None):  # fmt: skip
    rng = np.random.default_rng(seed)
    users, items, values, weights, W, H, bu, bi = sgd_problem(
        rng, dtype, True, n_ratings
    )
    ratings = as_ratings(users, items, values, weights, W.shape[0], H.shape[0])
    model = as_model(W, H, bu, bi)
    params = sgd_params(schedule, n_threads=n_threads)
    solver = SGDSolver(ratings, model, params, np.random.default_rng(seed))
    if kernel is not None:
        solver.kernel = kernel
    return solver, ratings, model, (W, H, bu, bi)


def test_solvers_share_the_contract():
    assert all(
        issubclass(cls, Solver)
        for cls in (
            SGDSolver,
            ALSSolver,
            gibbs.GibbsSolver,
            implicit_als.ImplicitALSSolver,
        )
    )
    assert issubclass(SolverBreakdown, FloatingPointError)
    for params in (
        SGDParams,
        ALSParams,
        gibbs.GibbsParams,
        implicit_als.ImplicitALSParams,
    ):
        assert dataclasses.is_dataclass(params)
    assert [f.name for f in dataclasses.fields(SGDParams)] == [
        "alpha", "fit_biases", "loss", "learning_rate", "learning_rate_schedule",
        "decay_rate", "decay_steps", "n_threads", "l1_ratio",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(ALSParams)] == [
        "alpha", "fit_biases", "cg_steps", "n_threads",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(gibbs.GibbsParams)] == [
        "prior", "initial_noise_precision", "n_threads",
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(implicit_als.ImplicitALSParams)] == [
        "reg", "cg_steps", "n_threads",
    ]  # fmt: skip


def test_sgd_solver_groups_ratings_into_a_grid_of_blocks():
    solver, ratings, _, _ = sgd_solver(np.float64)
    B = solver.n_blocks
    assert B == 8
    assert solver.block_ptr[0] == 0 and solver.block_ptr[-1] == ratings.n_ratings
    # The same ratings, reordered.
    before = sorted(zip(ratings.users, ratings.items, ratings.values, strict=True))
    after = sorted(zip(solver.users, solver.items, solver.values, strict=True))
    assert before == after
    # Every block's ratings come from one user group and one item group, and no
    # user (item) group appears in two block rows (columns).
    user_group, item_group = {}, {}
    for b in range(B * B):
        part = slice(solver.block_ptr[b], solver.block_ptr[b + 1])
        for u in solver.users[part]:
            assert user_group.setdefault(u, b // B) == b // B
        for i in solver.items[part]:
            assert item_group.setdefault(i, b % B) == b % B


def test_sgd_solver_strata_cover_the_grid_once_without_conflicts():
    solver, *_ = sgd_solver(np.float64)
    B = solver.n_blocks
    strata = list(solver.strata())
    assert len(strata) == B
    blocks = np.concatenate(strata)
    assert sorted(blocks) == list(range(B * B))
    for stratum in strata:
        assert len(set(stratum // B)) == B  # no two blocks share a user group
        assert len(set(stratum % B)) == B  # nor an item group


class RecordingKernel:
    """A kernel module stand-in that records each call of ``sgd_blocks``."""

    def __init__(self, build):
        self.build = build
        self.calls = []

    def sgd_blocks(self, *args):
        self.calls.append((args[5], args[6].copy(), args[7].copy(), args[8].copy()))
        return self.build.sgd_blocks(*args)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("schedule", ["exponential", "constant"])
@pytest.mark.parametrize("budget", [None, 1.0], ids=["one-call", "call-per-stratum"])
def test_sgd_solver_epochs_match_reference(sgd_build, dtype, schedule, budget,
                                           monkeypatch):  # fmt: skip
    """Three epochs equal the reference visiting the same blocks one by one,
    stratum after stratum, with the step size of the staircase at the start of
    each stratum; in one kernel call per epoch, or (with a tiny budget of
    work per call) one per stratum."""
    if budget is not None:
        monkeypatch.setattr(_chunks, "CALL_BUDGET", budget)
    recorder = RecordingKernel(sgd_build)
    solver, _, model, state = sgd_solver(dtype, schedule, kernel=recorder)
    B = solver.n_blocks
    data = (solver.users, solver.items, solver.values, solver.weights)
    sizes = np.diff(solver.block_ptr)
    t = 0
    for _ in range(3):
        recorder.calls.clear()
        total = solver.step()
        assert all(call[0] == B for call in recorder.calls)
        if budget is None:
            assert len(recorder.calls) == 1
        else:
            # A call per stratum with ratings (an empty one joins another).
            assert len(recorder.calls) > 1
            for call in recorder.calls:
                per_stratum = sizes[call[1]].reshape(-1, B).sum(axis=1)
                assert np.count_nonzero(per_stratum) <= 1
        # Each call runs whole strata; together they cover the grid once.
        blocks, offsets, steps = (
            np.concatenate([call[i] for call in recorder.calls]) for i in (1, 2, 3)
        )
        assert all(call[1].size % B == 0 for call in recorder.calls)
        assert sorted(blocks) == list(range(B * B))
        expected_total = 0.0
        for stratum in range(B):
            part = slice(stratum * B, (stratum + 1) * B)
            assert len(set(blocks[part] // B)) == len(set(blocks[part] % B)) == B
            expected_lr = 0.05 if schedule == "constant" else 0.05 * 0.8 ** (t // 17)
            assert_allclose(steps[part], expected_lr, rtol=1e-15)
            assert np.all(
                (offsets[part] >= 0)
                & ((offsets[part] < sizes[blocks[part]]) | (sizes[blocks[part]] == 0))
            )
            order = np.concatenate(
                [
                    np.roll(np.arange(solver.block_ptr[b], solver.block_ptr[b + 1]), -o)
                    for b, o in zip(blocks[part], offsets[part], strict=True)
                ]
            )
            *state, loss = reference.sgd_pass(
                *data, order, *state, expected_lr, 0.1, "squared_error", True
            )
            expected_total += loss
            t += order.size
        assert_close(total, expected_total, dtype)
        got = (model.user_factors, model.item_factors, model.user_bias, model.item_bias)
        for got_array, expected_array in zip(got, state, strict=True):
            assert got_array.dtype == dtype
            assert_close(got_array, expected_array, dtype)
    assert solver.n_updates == t == 3 * solver.values.size


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sgd_solver_in_groups_of_strata_equals_one_call(sgd_build, dtype, n_threads,
                                                        monkeypatch):  # fmt: skip
    """Cutting epochs into calls of a few strata changes no bit."""
    models, losses = [], []
    for budget in (_chunks.CALL_BUDGET, 2000.0):
        monkeypatch.setattr(_chunks, "CALL_BUDGET", budget)
        solver, _, model, _ = sgd_solver(
            dtype, n_threads=n_threads, n_ratings=3000, kernel=sgd_build
        )
        losses.append([solver.step() for _ in range(3)])
        models.append(model)
    for name in ("user_factors", "item_factors", "user_bias", "item_bias"):
        assert_array_equal(getattr(models[0], name), getattr(models[1], name))
    assert losses[0] == losses[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_components", [1, 4, 100])
def test_sgd_solver_groups_share_no_cache_line(dtype, n_components):
    """Rows of different groups, updated at the same time by two threads, never
    share a cache line, in the factors nor in the biases."""
    rng = np.random.default_rng(6)
    n_users, n_items = 300, 170
    users, items, values, weights = make_ratings(
        rng, n_users, n_items, 3000, dtype, False
    )
    ratings = SimpleNamespace(
        users=users, items=items, values=values, weights=weights,
        n_ratings=values.size, n_users=n_users, n_items=n_items,
    )  # fmt: skip
    W, bu = make_factors(rng, n_users, n_components, dtype)
    H, bi = make_factors(rng, n_items, n_components, dtype)
    model = SimpleNamespace(user_factors=W, item_factors=H, user_bias=bu, item_bias=bi)
    params = sgd_params("constant", 0.05, 1.0, 1, n_threads=2)
    solver = SGDSolver(ratings, model, params, rng)
    B = solver.n_blocks
    block = np.repeat(np.arange(B * B), np.diff(solver.block_ptr))
    for rows, group, arrays in (
        (solver.users, block // B, (model.user_factors, model.user_bias)),
        (solver.items, block % B, (model.item_factors, model.item_bias)),
    ):
        group_of = {}
        for r, g in zip(rows, group, strict=True):
            assert group_of.setdefault(r, g) == g
        initial = (W, bu) if rows is solver.users else (H, bi)
        for array, before in zip(arrays, initial, strict=True):
            assert array.ctypes.data % CACHE_LINE == 0
            assert_array_equal(array, before)
            row_bytes = array.strides[0]
            owner = {}
            for r, g in group_of.items():
                first = r * row_bytes // CACHE_LINE
                last = ((r + 1) * row_bytes - 1) // CACHE_LINE
                for line in range(first, last + 1):
                    assert owner.setdefault(line, g) == g


def test_select_kernel_picks_the_build():
    """The fastest build this machine runs, unless SIMD is disabled; chosen by
    a function, per solver, not at import."""
    builds = [build.values[0] for build in _sgd_builds()]
    assert select_kernel(disable_simd=True) is _sgd_fast
    assert select_kernel(disable_simd=False) is builds[-1]
    solver, *_ = sgd_solver(np.float64)
    assert solver.kernel is select_kernel()


@pytest.mark.parametrize("disable", ["1", "0", ""])
def test_sgd_kernel_build_follows_the_environment(disable):
    """SKMF_DISABLE_SIMD=1 forces the baseline build; otherwise the AVX2 build
    runs wherever the CPU has AVX2 and FMA and the compiler built it."""
    code = (
        "import numpy as np; from skmf._solvers import sgd; "
        "print(sgd.select_kernel().__name__)"
    )
    env = {**os.environ, "SKMF_DISABLE_SIMD": disable}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    module = done.stdout.strip()
    builds = [build.id for build in _sgd_builds()]
    expected = "baseline" if disable == "1" else builds[-1]
    assert module == f"skmf._solvers._sgd_fast{'_avx2' if expected == 'avx2' else ''}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_builds_agree(dtype):
    """The baseline and AVX2 builds give the same model within rounding."""
    builds = _sgd_builds()
    if len(builds) < 2:
        pytest.skip("this machine runs the baseline build only")
    rng = np.random.default_rng(7)
    data, block_ptr = grid_problem(rng, dtype, n_groups=4, n_ratings=3000)
    blocks = random_strata(rng, 4, 16)
    offsets = (rng.random(blocks.size) * np.diff(block_ptr)[blocks]).astype(np.int64)
    baseline, avx2 = (
        run_blocks(
            build.values[0].sgd_blocks,
            data,
            block_ptr,
            4,
            blocks,
            offsets,
            0.03,
            n_threads=2,
        )  # fmt: skip
        for build in builds
    )
    for a, b in zip(baseline, avx2, strict=True):
        assert_close(b, a, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_solver_threads_give_identical_models(sgd_build, dtype):
    models, losses = [], []
    for n_threads in (1, 2, 4):
        solver, _, model, _ = sgd_solver(
            dtype, n_threads=n_threads, n_ratings=2000, kernel=sgd_build
        )
        losses.append([solver.step() for _ in range(3)])
        models.append(model)
    for other in models[1:]:
        assert_array_equal(other.user_factors, models[0].user_factors)
        assert_array_equal(other.item_factors, models[0].item_factors)
        assert_array_equal(other.user_bias, models[0].user_bias)
        assert_array_equal(other.item_bias, models[0].item_bias)
    # The loss too, so that early stopping decides the same.
    assert losses[0] == losses[1] == losses[2]


def als_solver_problem(rng, dtype, weighted, n_users=15, n_items=11, n_ratings=120):
    users, items, values, weights = make_ratings(
        rng, n_users, n_items, n_ratings, dtype, weighted
    )
    W, _ = make_factors(rng, n_users, 3, dtype)
    H, _ = make_factors(rng, n_items, 3, dtype)
    # Zero biases, as fit starts: without fit_biases they stay zero.
    bu, bi = np.zeros(n_users, dtype), np.zeros(n_items, dtype)
    ratings = as_ratings(users, items, values, weights, n_users, n_items)
    return (users, items, values, weights), ratings, (W, H, bu, bi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_solver_step_is_two_reference_half_sweeps(dtype, weighted, fit_biases):
    rng = np.random.default_rng(11)
    (users, items, values, weights), ratings, (W, H, bu, bi) = als_solver_problem(
        rng, dtype, weighted
    )
    n_users, n_items = W.shape[0], H.shape[0]
    model = as_model(W, H, bu, bi)
    params = ALSParams(alpha=0.1, fit_biases=fit_biases, cg_steps=0, n_threads=2)
    solver = ALSSolver(ratings, model, params, None)

    for _ in range(2):
        W, bu, _ = reference.als_half_sweep(
            users, items, values, weights, n_users, bu, H, bi, 0.1, fit_biases
        )
        H, bi, expected_loss = reference.als_half_sweep(
            items, users, values, weights, n_items, bi, W, bu, 0.1, fit_biases
        )
        loss = solver.step()
        assert_close(model.user_factors, W, dtype)
        assert_close(model.item_factors, H, dtype)
        assert_close(model.user_bias, bu, dtype)
        assert_close(model.item_bias, bi, dtype)
        assert_close(loss, expected_loss, dtype)
        # After the item half-sweep, its loss is the whole model's training loss.
        sse = reference.weighted_sse(users, items, values, weights, W, H, bu, bi)
        assert_close(loss, sse, dtype)


@pytest.mark.parametrize("solver_name", ["als", "als-cg", "gibbs", "implicit",
                                         "implicit-cg"])  # fmt: skip
def test_solvers_in_chunks_equal_one_call(solver_name, monkeypatch):
    """A solver whose half-sweeps are cut into calls of a few rows gives the
    same model and loss curve, bit for bit, as one call per half-sweep."""
    results = []
    for budget in (_chunks.CALL_BUDGET, 1.0):
        monkeypatch.setattr(_chunks, "CALL_BUDGET", budget)
        rng = np.random.default_rng(12)
        _, ratings, arrays = als_solver_problem(
            rng, np.float32, True, n_users=60, n_items=40, n_ratings=900
        )
        model = as_model(*arrays)
        seed = np.random.RandomState(0)
        if solver_name.startswith("als"):
            steps = 2 if solver_name == "als-cg" else 0
            solver = ALSSolver(ratings, model, ALSParams(0.1, True, steps, 2), seed)
        elif solver_name == "gibbs":
            prior = gibbs.HyperPrior(2.0, 4.0, 1.0, 1.0, 1.0)
            solver = gibbs.GibbsSolver(
                ratings, model, gibbs.GibbsParams(prior, 2.0, 2), seed
            )
        else:
            ratings, model = implicit_ratings(ratings, model)
            steps = 2 if solver_name == "implicit-cg" else 0
            solver = implicit_als.ImplicitALSSolver(
                ratings, model, implicit_als.ImplicitALSParams(0.1, steps, 2), seed
            )
        n_calls = len(solver.user_bounds) - 1 + len(solver.item_bounds) - 1
        assert n_calls == (2 if budget > 1 else 100)
        losses = [solver.step() for _ in range(3)]
        results.append((model, losses))
    (first, first_losses), (second, second_losses) = results
    for name in ("user_factors", "item_factors", "user_bias", "item_bias"):
        assert_array_equal(getattr(first, name), getattr(second, name))
    assert first_losses == second_losses


def implicit_ratings(ratings, model):
    """Distinct observed pairs grouped by user with confidences >= 1, and a
    model without biases, as the implicit estimator gives them."""
    pairs = np.unique(np.c_[ratings.users, ratings.items], axis=0)
    users, items = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
    dtype = model.user_factors.dtype
    confidence = (1 + np.arange(users.size) % 7).astype(dtype)
    implicit = as_ratings(
        users, items, confidence, np.empty(0, dtype), ratings.n_users, ratings.n_items
    )
    no_bias = np.empty(0, dtype)
    return implicit, FactorModel(
        model.user_factors, model.item_factors, no_bias, no_bias
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cg_steps", [0, 3])
def test_implicit_solver_step_returns_the_data_term(dtype, cg_steps):
    """step() returns sum c (p - x.y)^2 over every cell, without the penalty:
    adding reg (|X|^2 + |Y|^2) gives the reference objective."""
    rng = np.random.default_rng(3)
    n_users, n_items, k, reg = 7, 9, 4, 0.2
    cells = rng.random((n_users, n_items)) < 0.4
    users, items = np.nonzero(cells)
    confidence = (1 + rng.uniform(0, 5, users.size)).astype(dtype)
    ratings = as_ratings(
        users.astype(np.int32), items.astype(np.int32), confidence,
        np.empty(0, dtype), n_users, n_items,
    )  # fmt: skip
    no_bias = np.empty(0, dtype)
    model = FactorModel(
        rng.normal(0, 0.5, (n_users, k)).astype(dtype),
        rng.normal(0, 0.5, (n_items, k)).astype(dtype),
        no_bias,
        no_bias,
    )
    solver = implicit_als.ImplicitALSSolver(
        ratings, model, implicit_als.ImplicitALSParams(reg, cg_steps, 2),
        np.random.RandomState(0),
    )  # fmt: skip
    for _ in range(2):
        data = solver.step()
        penalty = reg * (
            np.sum(model.user_factors.astype(float) ** 2)
            + np.sum(model.item_factors.astype(float) ** 2)
        )
        expected = reference.implicit_loss(
            users, items, confidence, model.user_factors, model.item_factors, reg
        )
        assert_allclose(data + penalty, expected, rtol=10 * RTOL[dtype])


def test_implicit_half_sweep_threads_give_identical_rows_and_loss():
    """Enough rows that both threads take some: every row's cells must be its
    own (a shared per-row record would mix two threads' rows)."""
    rng = np.random.default_rng(40)
    n_rows, n_cols, k = 3000, 60, 8
    cells = rng.random((n_rows, n_cols)) < 0.2
    rows, cols = np.nonzero(cells)
    indptr = np.searchsorted(rows, np.arange(n_rows + 1)).astype(np.int64)
    confidence = 1 + rng.uniform(0, 5, rows.size)
    Y = rng.normal(0, 0.5, (n_cols, k))
    X0 = rng.normal(0, 0.5, (n_rows, k))
    gram = implicit_als.regularized_gram(Y, 0.1)
    for steps in (0, 3):
        results = []
        for n_threads in (1, 2):
            X = X0.copy()
            loss, failed = implicit_half_sweep(
                indptr, cols.astype(np.int32), confidence, X, Y, gram, steps, True,
                n_threads,
            )  # fmt: skip
            assert failed == -1
            results.append((X, loss))
        assert_array_equal(results[0][0], results[1][0])
        assert results[0][1] == results[1][1]


def test_implicit_cg_has_no_absolute_stopping_threshold():
    """Tiny factors (1e-11) make the squared residual about 1e-22 from the
    start; CG must still solve the row, not stop on a fixed 1e-20."""
    rng = np.random.default_rng(41)
    n_cols, k = 12, 3
    cols = np.array([0, 3, 4, 9], np.int32)
    confidence = np.array([2.0, 5.0, 3.0, 8.0])
    Y = rng.normal(size=(n_cols, k)) * 1e-11
    gram = implicit_als.regularized_gram(Y, 1e-22)
    indptr = np.array([0, cols.size], np.int64)
    exact = np.zeros((1, k))
    implicit_half_sweep(indptr, cols, confidence, exact, Y, gram, 0, False, 1)
    solved = np.zeros((1, k))
    implicit_half_sweep(indptr, cols, confidence, solved, Y, gram, 2 * k, False, 1)
    assert np.abs(exact).max() > 1e9
    assert_allclose(solved, exact, rtol=1e-6)


def test_implicit_cg_stops_on_a_solved_row():
    """A row already at its solution (zero residual) stays there, no NaN."""
    Y = np.eye(3)
    gram = implicit_als.regularized_gram(Y, 0.5)
    X = np.zeros((1, 3))
    implicit_half_sweep(
        np.array([0, 0], np.int64), np.empty(0, np.int32), np.empty(0), X, Y, gram,
        5, False, 1,
    )  # fmt: skip
    assert_array_equal(X, 0)


@pytest.mark.parametrize("kind", ["als", "gibbs", "implicit"])
def test_solvers_raise_a_breakdown_naming_the_row(kind):
    """Every driver turns a kernel's failed row into SolverBreakdown, naming
    the row and the side."""
    # Grouped by user: user 0 rated item 0, user 1 items 0 and 1.
    ratings = Ratings(
        users=np.array([0, 1, 1], np.int32), items=np.array([0, 0, 1], np.int32),
        values=np.ones(3), weights=np.empty(0), n_users=2, n_items=2,
        indptr=np.array([0, 1, 3]),
    )  # fmt: skip
    # Item 0's factors are 0: user 0 has no solution without a penalty.
    model = FactorModel(
        np.ones((2, 1)), np.array([[0.0], [1.0]]), np.zeros(2), np.zeros(2)
    )
    rng = np.random.RandomState(0)
    if kind == "als":
        solver = ALSSolver(ratings, model, ALSParams(0.0, False, 0, 1), rng)
        match = "row 0 of the users has no positive definite normal equations"
    elif kind == "gibbs":
        # A (nonsensical) noise precision of -1e6 makes A = Lambda - 1e6 G G^T
        # negative in the bias coordinate of every rated row.
        prior = gibbs.HyperPrior(2.0, 2.0, 1.0, 1.0, 1.0)
        params = gibbs.GibbsParams(prior, -1e6, 1)
        solver = gibbs.GibbsSolver(ratings, model, params, rng)
        match = "row 0 of the users has a conditional posterior precision"
    else:
        # Every item factor 0 and no penalty: Y^T C Y + 0 I = 0.
        model = FactorModel(
            model.user_factors, np.zeros((2, 1)), np.empty(0), np.empty(0)
        )
        ratings.values = np.array([1.0, 1.0, 2.0])
        solver = implicit_als.ImplicitALSSolver(
            ratings, model, implicit_als.ImplicitALSParams(0.0, 0, 1), rng
        )
        match = "row 0 of the users has no positive definite normal equations"
    with pytest.raises(SolverBreakdown, match=match):
        solver.step()


def test_gibbs_solver_draws_its_generator_from_the_random_state():
    """One seed from the fit's RandomState, when built: the same fit twice gives
    the same samples, another seed other samples."""
    rng = np.random.default_rng(13)
    _, ratings, arrays = als_solver_problem(rng, np.float64, False)
    prior = gibbs.HyperPrior(2.0, 4.0, 1.0, 1.0, 1.0)
    samples = []
    for seed in (0, 0, 1):
        state = np.random.RandomState(seed)
        model = as_model(*arrays)
        solver = gibbs.GibbsSolver(
            ratings, model, gibbs.GibbsParams(prior, 2.0, 1), state
        )
        sse = solver.step()
        assert sse > 0 and solver.noise_precision != 2.0
        assert solver.total_weight == ratings.n_ratings
        samples.append(model.user_factors.copy())
    assert_array_equal(samples[0], samples[1])
    assert not np.array_equal(samples[0], samples[2])


# ----------------------------------------------------------------------- fold-in


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_fold_in_row_is_one_reference_row(dtype, fit_biases):
    rng = np.random.default_rng(50)
    H, bi = make_factors(rng, 9, 3, dtype)
    codes = np.array([1, 4, 4, 7, 0])
    values = rng.normal(size=codes.size).astype(dtype)
    factors, bias = als.fold_in_row(H, bi, codes, values, 0.1, fit_biases)
    X_ref, b_ref, _ = reference.als_half_sweep(
        np.zeros(codes.size, int), codes, values, None, 1, np.zeros(1), H, bi, 0.1,
        fit_biases,
    )  # fmt: skip
    assert factors.shape == (3,) and factors.dtype == dtype
    assert isinstance(bias, float)
    assert_close(factors, X_ref[0], dtype)
    assert_close(bias, b_ref[0] if fit_biases else 0.0, dtype)


def test_als_fold_in_row_edge_cases():
    H, bi = np.array([[0.0], [1.0]]), np.zeros(2)
    factors, bias = als.fold_in_row(H, bi, [], [], 0.1, True)
    assert_array_equal(factors, [0.0]) and bias == 0.0
    with pytest.raises(SolverBreakdown, match="new user"):
        als.fold_in_row(H, bi, [0], [1.0], 0.0, False)
    with pytest.raises(ValueError, match=r"item codes must lie in \[0, 2\)"):
        als.fold_in_row(H, bi, [2], [1.0], 0.1, True)
    with pytest.raises(ValueError, match="same length"):
        als.fold_in_row(H, bi, [0, 1], [1.0], 0.1, True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_implicit_fold_in_row_is_one_exact_reference_row(dtype):
    rng = np.random.default_rng(51)
    Y = rng.normal(0, 0.5, (12, 4)).astype(dtype)
    codes = np.array([3, 7, 0])
    confidence = np.array([11.0, 3.0, 5.0])
    factors = implicit_als.fold_in_row(Y, codes, confidence, 0.3)
    expected = reference.implicit_half_sweep(
        [0, 0, 0], codes, confidence, np.zeros((1, 4)), Y, 0.3, 0
    )
    assert factors.shape == (4,) and factors.dtype == dtype
    assert_allclose(factors, expected[0], rtol=RTOL[dtype], atol=RTOL[dtype])


def test_implicit_fold_in_row_edge_cases():
    Y = np.eye(2)
    assert_array_equal(implicit_als.fold_in_row(Y, [], [], 0.1), [0.0, 0.0])
    with pytest.raises(ValueError, match="repeat an item"):
        implicit_als.fold_in_row(Y, [1, 1], [2.0, 3.0], 0.1)
    with pytest.raises(ValueError, match="at least 1"):
        implicit_als.fold_in_row(Y, [1], [0.5], 0.1)
    with pytest.raises(ValueError, match=r"item codes must lie in \[0, 2\)"):
        implicit_als.fold_in_row(Y, [-1], [2.0], 0.1)
    with pytest.raises(SolverBreakdown, match="new user"):
        implicit_als.fold_in_row(np.zeros((2, 2)), [1], [1.0], 0.0)


# ---------------------------------------------------------------- ALS CG, loss


def row_objective(csr, rows, row_bias, cols, col_bias, alpha, fit_biases):
    """Sum over rows of the objective each half-sweep minimises, in float64."""
    indptr, indices, ratings, weights = csr
    total = 0.0
    for r in range(indptr.size - 1):
        part = slice(indptr[r], indptr[r + 1])
        j = indices[part]
        s = weights[part] if weights.size else np.ones(j.size)
        b = row_bias[r] if fit_biases else 0.0
        e = ratings[part] - col_bias[j] - b - cols[j] @ rows[r].astype(np.float64)
        penalty = rows[r].astype(np.float64) @ rows[r] + b * b
        total += np.sum(s * (e * e + alpha * penalty))
    return total


def csr_problem(rng, dtype, weighted, k=3):
    rows, cols, values, weights, X, b, Y, c = als_problem(rng, dtype, weighted, k=k)
    return to_csr(rows, cols, values, weights, X.shape[0]), X, b, Y, c


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_cg_with_enough_steps_is_exact(weighted, fit_biases):
    """Conjugate gradients solve a d x d system in d steps (in exact arithmetic)."""
    rng = np.random.default_rng(13)
    csr, W, bu, H, bi = csr_problem(rng, np.float64, weighted)
    exact_W, exact_bu, _ = run_als_kernel(csr, W, bu, H, bi, 0.1, fit_biases, 1)
    cg_W, cg_bu = W.copy(), bu.copy()
    als_half_sweep(*csr, cg_W, cg_bu, H, bi, 0.1, fit_biases, 2, 10)
    assert_allclose(cg_W, exact_W, atol=1e-9)
    assert_allclose(cg_bu, exact_bu, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_als_cg_steps_lower_the_objective_towards_the_optimum(dtype, fit_biases):
    rng = np.random.default_rng(14)
    csr, W, bu, H, bi = csr_problem(rng, dtype, True, k=4)
    args = (H, bi, 0.1, fit_biases)
    objectives = [row_objective(csr, W, bu, *args)]
    for steps in (1, 2, 3):
        rows, bias = W.copy(), bu.copy()
        als_half_sweep(*csr, rows, bias, *args, 1, steps)
        objectives.append(row_objective(csr, rows, bias, *args))
    rows, bias, _ = run_als_kernel(csr, W, bu, *args, 1)
    optimum = row_objective(csr, rows, bias, *args)
    assert all(a > b for a, b in zip(objectives, objectives[1:], strict=False))
    assert objectives[-1] >= optimum * (1 - 1e-6)


def test_als_half_sweep_without_loss_returns_zero():
    rng = np.random.default_rng(15)
    csr, W, bu, H, bi = csr_problem(rng, np.float64, False)
    loss, failed = als_half_sweep(*csr, W, bu, H, bi, 0.1, True, 1, 0, False)
    assert loss == 0.0 and failed == -1
    assert np.any(W != 0)
    # The loss passed in comes back unchanged.
    loss, _ = als_half_sweep(*csr, W, bu, H, bi, 0.1, True, 1, 0, False, 0, -1, 2.5)
    assert loss == 2.5


# ------------------------------------------------------------------ Gibbs


def gibbs_problem(rng, dtype, weighted, n_rows=14, n_ratings=80, k=3, fit_biases=True):
    """An ALS problem whose last two rows have no ratings, with a random prior."""
    rows, cols, values, weights, X0, b0, Y, c = als_problem(
        rng, dtype, weighted, n_rows=n_rows - 2, n_ratings=n_ratings, k=k
    )
    X0 = np.vstack([X0, np.ones((2, k), dtype)])
    b0 = np.append(b0, np.ones(2, dtype))
    dim = k + (1 if fit_biases else 0)
    root = rng.normal(size=(dim, dim))
    precision = (root @ root.T + dim * np.eye(dim)).astype(dtype)
    shift = rng.normal(size=dim).astype(dtype)
    noise = rng.standard_normal((n_rows, dim)).astype(dtype)
    return (rows, cols, values, weights, X0, b0, Y, c), precision, shift, noise


def run_gibbs_kernel(csr, X0, b0, Y, c, precision, shift, beta, noise, fit_biases,
                     n_threads):  # fmt: skip
    X, b = X0.copy(), b0.copy()
    sse, failed = gibbs_half_sweep(
        *csr, X, b, Y, c, precision, shift, beta, noise, fit_biases, n_threads
    )
    return X, b, sse if failed == -1 else -1.0 - failed


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_gibbs_half_sweep_matches_reference(dtype, weighted, fit_biases, n_threads):
    rng = np.random.default_rng(21)
    problem, precision, shift, noise = gibbs_problem(
        rng, dtype, weighted, fit_biases=fit_biases
    )
    rows, cols, values, weights, X0, b0, Y, c = problem
    n_rows = X0.shape[0]
    csr = to_csr(rows, cols, values, weights, n_rows)
    X, b, sse = run_gibbs_kernel(
        csr, X0, b0, Y, c, precision, shift, 1.7, noise, fit_biases, n_threads
    )
    X_ref, b_ref, sse_ref = reference.gibbs_half_sweep(
        rows, cols, values, weights, n_rows, b0, Y, c, precision, shift, 1.7,
        noise, fit_biases,
    )  # fmt: skip
    assert X.dtype == dtype and b.dtype == dtype
    assert_close(X, X_ref, dtype)
    assert_close(b, b_ref, dtype)
    assert_close(sse, sse_ref, dtype)
    if not fit_biases:
        assert_array_equal(b, b0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_half_sweep_rows_longer_than_a_block(dtype):
    rng = np.random.default_rng(22)
    problem, precision, shift, noise = gibbs_problem(
        rng, dtype, True, n_rows=5, n_ratings=7000
    )
    rows, cols, values, weights, X0, b0, Y, c = problem
    assert np.bincount(rows).max() > ALS_BLOCK
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    X, b, sse = run_gibbs_kernel(
        csr, X0, b0, Y, c, precision, shift, 0.5, noise, True, 2
    )
    X_ref, b_ref, sse_ref = reference.gibbs_half_sweep(
        rows, cols, values, weights, X0.shape[0], b0, Y, c, precision, shift, 0.5,
        noise, True,
    )  # fmt: skip
    assert_close(X, X_ref, dtype)
    assert_close(b, b_ref, dtype)
    assert_close(sse, sse_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_half_sweep_threads_give_identical_rows_and_loss(dtype):
    """The loss is summed in row order after the parallel loop: bit for bit."""
    rng = np.random.default_rng(23)
    problem, precision, shift, noise = gibbs_problem(
        rng, dtype, True, n_rows=300, n_ratings=2000
    )
    rows, cols, values, weights, X0, b0, Y, c = problem
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    args = (csr, X0, b0, Y, c, precision, shift, 1.3, noise, True)
    X1, b1, sse1 = run_gibbs_kernel(*args, 1)
    X2, b2, sse2 = run_gibbs_kernel(*args, 2)
    assert_array_equal(X1, X2)
    assert_array_equal(b1, b2)
    assert sse1 == sse2


@pytest.mark.parametrize("fit_biases", [False, True], ids=["nobias", "bias"])
def test_gibbs_half_sweep_without_noise_is_the_als_solve(fit_biases):
    """z = 0, m = 0 and Lambda = beta alpha S I give ALS's weighted-lambda solve.

    The Gibbs mean solves (Lambda / beta + G G^T) x = G t, ALS solves
    (alpha S_r I + G G^T) x = G t with S_r the row's total weight: the same
    system when every row has the same total weight S, here 6 ratings each.
    """
    rng = np.random.default_rng(24)
    n_rows, n_cols, k, per_row, alpha, beta = 10, 8, 3, 6, 0.1, 2.5
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), per_row)
    cols = rng.integers(n_cols, size=rows.shape[0]).astype(np.int32)
    values = rng.normal(size=rows.shape[0])
    weights = np.empty(0)
    X0, b0 = make_factors(rng, n_rows, k, np.float64)
    Y, c = make_factors(rng, n_cols, k, np.float64)
    csr = to_csr(rows, cols, values, weights, n_rows)
    dim = k + (1 if fit_biases else 0)
    precision = beta * alpha * per_row * np.eye(dim)
    X, b, sse = run_gibbs_kernel(
        csr, X0, b0, Y, c, precision, np.zeros(dim), beta, np.zeros((n_rows, dim)),
        fit_biases, 1,
    )  # fmt: skip
    X_als, b_als, sse_als = run_als_kernel(csr, X0, b0, Y, c, alpha, fit_biases, 1)
    assert_allclose(X, X_als, rtol=1e-12, atol=1e-12)
    assert_allclose(b, b_als, rtol=1e-12, atol=1e-12)
    assert_allclose(sse, sse_als, rtol=1e-12)


def test_gibbs_half_sweep_draws_have_the_posterior_moments():
    """Many copies of one row, each with its own z: mean A^-1 rhs, covariance A^-1."""
    rng = np.random.default_rng(25)
    n_copies, n_cols, k, beta = 20000, 6, 2, 1.5
    row_cols = np.array([0, 1, 3, 3, 5], dtype=np.int32)
    row_values = rng.normal(size=row_cols.shape[0])
    indptr = np.arange(n_copies + 1, dtype=np.int64) * row_cols.shape[0]
    cols = np.tile(row_cols, n_copies)
    values = np.tile(row_values, n_copies)
    Y, c = make_factors(rng, n_cols, k, np.float64)
    precision = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.0], [0.1, 0.0, 0.5]])
    shift = np.array([0.2, -0.1, 0.4])
    X, b = np.zeros((n_copies, k)), np.zeros(n_copies)
    noise = rng.standard_normal((n_copies, k + 1))
    gibbs_half_sweep(
        indptr, cols, values, np.empty(0), X, b, Y, c, precision, shift, beta,
        noise, True, 2, False,
    )  # fmt: skip
    features = np.column_stack([Y[row_cols], np.ones(row_cols.shape[0])])
    A = precision + beta * features.T @ features
    mean = np.linalg.solve(A, beta * features.T @ (row_values - c[row_cols]) + shift)
    draws = np.column_stack([X, b])
    # Standard errors: sqrt(var / n) for the mean, about sqrt(2 / n) var for
    # the covariance; 5 of them.
    scale = np.sqrt(np.diag(np.linalg.inv(A)))
    assert_allclose(draws.mean(axis=0), mean, atol=5 * scale.max() / np.sqrt(n_copies))
    assert_allclose(np.cov(draws.T), np.linalg.inv(A), atol=0.05 * scale.max() ** 2)


def test_gibbs_half_sweep_reports_a_prior_that_is_not_positive_definite():
    rng = np.random.default_rng(26)
    problem, precision, shift, noise = gibbs_problem(rng, np.float64, False)
    rows, cols, values, weights, X0, b0, Y, c = problem
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    # With a zero prior, A = G G^T is singular for a row with fewer distinct
    # columns than its 4 coordinates: at least rows 12 and 13, which have no
    # ratings. The first of them is reported.
    distinct = [np.unique(cols[rows == r]).size for r in range(X0.shape[0])]
    first = int(np.flatnonzero(np.array(distinct) < 4)[0])
    X, b, sse = run_gibbs_kernel(
        csr, X0, b0, Y, c, np.zeros_like(precision), shift, 1.0, noise, True, 2
    )
    assert sse == -1.0 - first


def test_gibbs_half_sweep_checks_shapes():
    rng = np.random.default_rng(27)
    problem, precision, shift, noise = gibbs_problem(rng, np.float64, False)
    rows, cols, values, weights, X0, b0, Y, c = problem
    csr = to_csr(rows, cols, values, weights, X0.shape[0])
    args = (csr, X0, b0, Y, c, precision, shift, 1.0, noise, True, 1)
    with pytest.raises(ValueError, match="prior_precision must be 4 x 4"):
        run_gibbs_kernel(*args[:5], np.eye(3), *args[6:])
    with pytest.raises(ValueError, match="prior_shift must have 4"):
        run_gibbs_kernel(*args[:6], shift[:3], *args[7:])
    with pytest.raises(ValueError, match="noise must be 14 x 4"):
        run_gibbs_kernel(*args[:8], noise[1:], *args[9:])


# ------------------------------------------------------- group_by, group_rows


@pytest.mark.parametrize("key_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n_groups", [1, 7, 1000])
def test_group_by_is_a_stable_sort(key_dtype, n_groups):
    keys = np.random.default_rng(12).integers(n_groups, size=5000).astype(key_dtype)
    indptr, order = group_by(keys, n_groups)
    assert_array_equal(order, np.argsort(keys, kind="stable"))
    assert_array_equal(np.diff(indptr), np.bincount(keys, minlength=n_groups))
    assert indptr[0] == 0 and indptr.dtype == order.dtype == np.int64


def test_group_by_empty_groups_and_input():
    indptr, order = group_by(np.array([3, 3, 0], np.int32), 5)
    assert_array_equal(indptr, [0, 1, 1, 1, 3, 3])
    assert_array_equal(order, [2, 0, 1])
    indptr, order = group_by(np.empty(0, np.int32), 2)
    assert_array_equal(indptr, [0, 0, 0])
    assert order.size == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_group_rows_is_a_stable_sort(dtype, weighted):
    rng = np.random.default_rng(13)
    n_users, n_items = 40, 30
    users, items, values, weights = make_ratings(
        rng, n_users, n_items, 500, dtype, weighted
    )
    users[users == 3] = 4  # a user with no rating

    indptr, cols, vals, wts = group_rows(users, n_users, items, values, weights)
    order = np.argsort(users, kind="stable")
    counts = np.bincount(users, minlength=n_users)
    assert_array_equal(indptr, np.r_[0, np.cumsum(counts)])
    assert_array_equal(cols, items[order])
    assert_array_equal(vals, values[order])
    assert_array_equal(wts, weights[order] if weighted else weights)
    assert indptr.dtype == np.int64 and cols.dtype == np.int32 and vals.dtype == dtype


def test_group_rows_of_no_ratings():
    empty = np.empty(0, np.float32)
    no_ids = np.empty(0, np.int32)
    indptr, cols, vals, wts = group_rows(no_ids, 2, no_ids, empty, empty)
    assert_array_equal(indptr, [0, 0, 0])
    assert cols.size == vals.size == wts.size == 0
