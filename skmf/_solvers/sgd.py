"""Python driver of the SGD solver: blocking, visiting order and step sizes.

The compiled kernel comes in two builds of the same code: ``_sgd_fast`` for
any CPU and ``_sgd_fast_avx2`` for x86-64 CPUs with AVX2 and FMA (about 1.8x
faster). :func:`select_kernel` picks one for each solver; setting the
environment variable ``SKMF_DISABLE_SIMD=1`` forces the baseline build.
"""

import math
import os
from dataclasses import dataclass

import numpy as np

from . import _chunks, _sgd_fast
from ._base import Solver
from ._group_fast import group_by

LOSS_CODES = {"squared_error": 0, "absolute_error": 1}


@dataclass(frozen=True)
class SGDParams:
    """Parameters of an SGD fit, resolved by the estimator."""

    alpha: float
    fit_biases: bool
    loss: str  # a key of LOSS_CODES
    learning_rate: float
    learning_rate_schedule: str  # "constant" or "exponential"
    decay_rate: float
    decay_steps: int  # updates per decay of the exponential schedule
    n_threads: int
    # Share of alpha that is an L1 penalty (the elastic net's mixing); the
    # rest is L2.
    l1_ratio: float = 0.0


def select_kernel(disable_simd=None):
    """The module of the fastest build of the SGD kernel that this CPU runs.

    Parameters
    ----------
    disable_simd : bool, default=None
        True forces the baseline build. None reads the environment variable
        ``SKMF_DISABLE_SIMD`` (set and not "0": baseline).

    Returns
    -------
    module
        ``_sgd_fast_avx2`` where the CPU has AVX2 and FMA and the compiler
        built it, else ``_sgd_fast``; both have the same ``sgd_blocks``.
    """
    if disable_simd is None:
        disable_simd = os.environ.get("SKMF_DISABLE_SIMD", "0").strip() not in (
            "",
            "0",
        )
    if not disable_simd and _sgd_fast.cpu_has_avx2_fma():
        try:
            from . import _sgd_fast_avx2
        except ImportError:  # built by a compiler without -mavx2
            pass
        else:
            return _sgd_fast_avx2
    return _sgd_fast


# Bytes in a cache line: rows of different groups must not share one.
CACHE_LINE = 64


def aligned_empty(shape, dtype):
    """An uninitialized C-contiguous array that starts on a cache line."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffer = np.empty(nbytes + CACHE_LINE, np.uint8)
    start = -buffer.ctypes.data % CACHE_LINE
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def _aligned(array):
    """``array``, or a copy of it, starting on a cache line."""
    if array.ctypes.data % CACHE_LINE == 0:
        return array
    out = aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


def rows_per_run(factors):
    """Fewest consecutive rows whose factors and biases fill whole cache lines.

    Users (items) are dealt into groups by runs of this many rows, so that two
    threads never write to the same cache line: with ``n_components=100`` in
    float32 a row is 400 bytes and the biases 4, so runs of 16 rows.
    """
    itemsize = factors.dtype.itemsize
    row = factors.shape[1] * itemsize
    return math.lcm(
        CACHE_LINE // math.gcd(row, CACHE_LINE),
        CACHE_LINE // math.gcd(itemsize, CACHE_LINE),
    )


def deal(rng, n_rows, run, n_groups):
    """A group for each row: runs of ``run`` rows dealt at random."""
    n_runs = -(-n_rows // run)
    return np.repeat(rng.permutation(n_runs) % n_groups, run)[:n_rows]


def n_blocks(n_threads):
    """Side of the grid of blocks.

    Several blocks per thread keep every thread busy when blocks are of
    unequal size. It depends on the thread count only beyond 4 threads, so
    fits with 1 to 4 threads give identical models.
    """
    return max(8, 2 * n_threads)


def step_size(params, t):
    """The step size after ``t`` updates."""
    if params.learning_rate_schedule == "constant":
        return params.learning_rate
    return params.learning_rate * params.decay_rate ** (t // params.decay_steps)


def stratum_costs(sizes, n_components):
    """Estimated work of each stratum of an epoch (see ``_chunks``)."""
    return sizes.sum(axis=1) * (1.0 * n_components + 10.0)


class SGDSolver(Solver):
    """Runs one epoch at a time of parallel SGD over a grid of rating blocks.

    Users and items are dealt at random into ``B`` groups each, splitting the
    ratings into a B x B grid of blocks (LIBMF's scheme). An epoch is B strata,
    taken in a random order; a stratum is B blocks that share no user and no
    item (a "diagonal" of the grid). Lock-free SGD over shared rows instead
    fights over cache lines: it was measured slower on two threads than on one.

    Each kernel call runs the blocks of a group of consecutive strata, in
    stratum order; a thread takes the next block as soon as the earlier
    blocks of its row and column are done, with no barrier between the strata
    of a call. The result is that of visiting the blocks one after the other,
    so it depends neither on the number of threads nor on how the strata are
    grouped into calls (see ``_chunks``: by estimated work, so that every call
    returns within a fraction of a second).

    The ratings are grouped by block once, in a random order within each
    block; each epoch starts every block at a random offset and wraps around.
    The step size is constant, or decays exponentially in a staircase,
    ``learning_rate * decay_rate ** (t // decay_steps)`` after ``t`` updates,
    evaluated at the start of each stratum.

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept.
    model : FactorModel
        Updated in place. Its arrays are replaced by copies that start on a
        cache line if they do not already.
    params : SGDParams
    rng : numpy.random.RandomState or numpy.random.Generator
        Deals the groups and shuffles the blocks when the solver is built,
        then draws each epoch's order of strata and offsets.

    Attributes
    ----------
    kernel : module
        The build of the kernel in use, from :func:`select_kernel`; a test
        may replace it.
    n_updates : int
        Ratings visited so far, for the step-size schedule.
    """

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        self.kernel = select_kernel()
        self.n_updates = 0
        self.n_blocks = B = n_blocks(params.n_threads)

        # Rows of different groups, updated at the same time by different
        # threads, must not share cache lines: the arrays start on a line, and
        # rows are dealt by runs that fill whole lines.
        for name in ("user_factors", "item_factors", "user_bias", "item_bias"):
            setattr(model, name, _aligned(getattr(model, name)))
        run = rows_per_run(model.user_factors)
        user_group = deal(rng, ratings.n_users, run, B)
        item_group = deal(rng, ratings.n_items, run, B)
        block = user_group[ratings.users].astype(np.int64) * B
        block += item_group[ratings.items]
        self.block_ptr, order = group_by(block, B * B)
        del block
        # A random order within each block, as a global shuffle before the
        # grouping would give, but five times faster at 10M ratings: the
        # grouping reads the ratings in order, and each permutation is only
        # as long as its block.
        for start, stop in zip(self.block_ptr[:-1], self.block_ptr[1:], strict=True):
            order[start:stop] = order[start:stop][rng.permutation(stop - start)]
        self.users = ratings.users[order]
        self.items = ratings.items[order]
        self.values = ratings.values[order]
        self.weights = (
            ratings.weights[order] if ratings.weights.size else ratings.weights
        )

    def strata(self):
        """Blocks of each stratum of one epoch, in a random order: (B, B)."""
        B = self.n_blocks
        rows = np.arange(B, dtype=np.int64)
        shifts = self.rng.permutation(B).astype(np.int64)
        return rows * B + (rows + shifts[:, None]) % B

    def step(self):
        """Run one pass; return the weighted sum of the data loss it saw.

        Each rating's loss is measured just before its update; the penalty is
        not included.
        """
        m, p = self.model, self.params
        strata = self.strata()
        sizes = np.diff(self.block_ptr)[strata]
        offsets = (self.rng.random(strata.shape) * sizes).astype(np.int64)
        # The step size at the start of each stratum, for each of its blocks.
        starts = self.n_updates + np.cumsum(sizes.sum(axis=1)) - sizes.sum(axis=1)
        steps = np.repeat(
            [step_size(p, int(t)) for t in starts], strata.shape[1]
        ).astype(np.float64)
        blocks, offsets = strata.ravel(), offsets.ravel()
        losses = np.zeros(strata.size)
        B = self.n_blocks
        groups = _chunks.bounds(
            stratum_costs(sizes, m.user_factors.shape[1]), p.n_threads
        )
        for first, last in zip(groups[:-1] * B, groups[1:] * B, strict=True):
            self.kernel.sgd_blocks(
                self.users, self.items, self.values, self.weights,
                self.block_ptr, B, blocks[first:last], offsets[first:last],
                steps[first:last], m.user_factors, m.item_factors, m.user_bias,
                m.item_bias, p.alpha * (1 - p.l1_ratio), LOSS_CODES[p.loss],
                p.fit_biases, p.n_threads, losses[first:last],
                p.alpha * p.l1_ratio,
            )  # fmt: skip
        self.n_updates += int(sizes.sum())
        # Summed in a fixed order: the loss curve is the same for any n_threads.
        return float(losses.sum())
