"""Python driver of the coordinate-wise sweep of a factorization machine.

The features of the ratings are held in relation blocks (:class:`Block`): a
sparse matrix with one row per user, per item or per rating, and the index of
each rating's row. The compiled kernel (``_fm_fast.draw_block``) sets one
block's biases or one factor of its factors, coordinate by coordinate, each
from the Gaussian conditional of its parameter. :class:`CoordinateSweep`
runs one sweep over every block; the Gibbs sampler (:class:`FMGibbsSolver`)
and the ALS solver (``fm_als.FMALSSolver``) differ only in what they give
it: drawn priors, noise precision and standard normals, or the fixed
regularization and no noise, which gives each conditional's mode.

The Gibbs sampler draws everything but the parameters in NumPy, from one
``numpy.random.Generator``: the standard normals the kernel turns into
parameters, the Normal-Gamma hyper-parameters of each group's prior, the
global bias and the noise precision. The draws therefore depend on the seed
only, not on the number of threads.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._base import Solver
from ._fm_fast import (
    add_block_to_ratings,
    block_sums,
    draw_block,
    scaled_square_sums,
    scaled_weights,
    set_block_parts,
)

# A sweep runs its kernels on params.n_threads threads only from this many
# ratings on. Each factor of each block is a few passes of well under a
# millisecond on MovieLens 100K, and starting a parallel region for each costs
# more than it saves: on a loaded 2-core machine a 100K-rating sweep took 12
# times as long on 2 threads as on 1. From 1M ratings a pass is several
# milliseconds. The results do not depend on the number of threads.
MIN_RATINGS_PER_PARALLEL_SWEEP = 1_000_000


class Block:
    """One relation block: a sparse matrix of block rows, and each rating's row.

    Parameters
    ----------
    matrix : scipy.sparse matrix of shape (n_rows, n_features)
        The features of each block row (a user, an item, or a rating).
    rows : ndarray of int32, shape (n_ratings,)
        The block row of each rating.
    groups : ndarray of int32, shape (n_features,)
        The prior group of each feature (an index into the model's groups).
    """

    def __init__(self, matrix, rows, groups):
        # A copy, since sorting the indices works in place.
        csr = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        csr.sort_indices()
        csc = csr.tocsc()
        csc.sort_indices()
        self.n_rows, self.n_features = csr.shape
        self.rows = np.ascontiguousarray(rows, dtype=np.int32)
        if self.rows.ndim != 1:
            raise ValueError(
                f"rows must be one block row per rating (1-D), got shape "
                f"{self.rows.shape}."
            )
        # The kernels index with these rows: one out of range is an error
        # here, not a crash there.
        if self.rows.size and (self.rows.min() < 0 or self.rows.max() >= self.n_rows):
            raise ValueError(
                f"rows must be block rows in [0, {self.n_rows}), got values from "
                f"{self.rows.min()} to {self.rows.max()}."
            )
        # A block with one row per rating, in rating order (the context).
        self.identity = bool(
            self.n_rows == self.rows.shape[0]
            and np.array_equal(self.rows, np.arange(self.n_rows))
        )
        self.groups = np.ascontiguousarray(groups, dtype=np.int32)
        if self.groups.shape != (self.n_features,) or (
            self.groups.size and self.groups.min() < 0
        ):
            raise ValueError(
                f"groups must be one non-negative group index per feature, shape "
                f"({self.n_features},), got shape {self.groups.shape}."
            )
        self.csr = (
            csr.indptr.astype(np.int64),
            csr.indices.astype(np.int32),
            csr.data,
        )
        self.csc = (
            csc.indptr.astype(np.int64),
            csc.indices.astype(np.int32),
            csc.data,
        )
        # The ratings of each block row, in rating order (a stable sort).
        order = np.argsort(self.rows, kind="stable").astype(np.int32)
        counts = np.bincount(self.rows, minlength=self.n_rows)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.order = order
        # The rows of each rating for the kernels' passes in rating order, or
        # None where block-row order is rating order already (an identity
        # block; the users when the ratings are grouped by user), which is
        # then the faster way to visit them.
        self.scatter_rows = (
            None if np.array_equal(order, np.arange(order.shape[0])) else self.rows
        )

        self._matrix = sp.csr_matrix(
            self.csr[::-1], shape=(self.n_rows, self.n_features), copy=False
        )
        self._sums = np.empty(self.n_rows)

    def matrix(self):
        return self._matrix

    def add_sums(self, theta, q, n_threads):
        """``q[n] += (B theta)[rows[n]]``: the block's part of each rating."""
        block_sums(*self.csr, theta, self._sums, n_threads)
        add_block_to_ratings(self.rows, self._sums, q, n_threads)

    def row_sums(self, theta, n_threads):
        """``B theta``, one sum per block row (a scratch array of the block's)."""
        return block_sums(*self.csr, theta, self._sums, n_threads)


@dataclass(frozen=True)
class FMPrior:
    """Hyper-prior settings, resolved for one fit (those of libFM and myFM)."""

    shape: float  # alpha_0 of the Gamma priors of every precision
    rate: float  # beta_0 of the Gamma priors of every precision
    strength: float  # gamma_0: the group means ~ N(0, 1 / (gamma_0 lambda))


@dataclass(frozen=True)
class FMGibbsParams:
    """Parameters of a Gibbs-sampling fit of a factorization machine."""

    prior: FMPrior
    n_groups: int
    initial_noise_precision: float
    n_threads: int
    # Which ratings' rows scale the noise precision: "shared" (one precision
    # for every rating), "user", "item" or "both"; and the strength nu of the
    # Gamma(nu / 2, nu / 2) prior of each row's scale, in ratings.
    noise: str = "shared"
    noise_strength: float = 100.0


@dataclass
class FMParameters:
    """The parameters of a factorization machine over blocks, updated in place.

    ``biases[k]`` and ``factors[k]`` belong to block ``k``.
    """

    bias: float
    biases: list
    factors: list


def _part(matrix, w, v):
    """``(linear, q)`` of the rows of ``matrix`` (see :func:`block_parts`)."""
    squares = matrix.multiply(matrix)
    linear = matrix @ w - 0.5 * (squares @ (v * v)).sum(axis=1)
    return np.asarray(linear).ravel(), matrix @ v


def block_parts(blocks, params):
    """Each block's part of the ratings: ``(linear, q)`` per block.

    ``linear`` is ``B w - (B∘B)(V∘V) 1 / 2`` per block row and ``q`` is
    ``B V`` (n_rows x K): a rating's prediction is ``w_0 + sum linear +
    |sum q|^2 / 2`` over its blocks' rows.
    """
    return [
        _part(block.matrix(), w, v)
        for block, w, v in zip(blocks, params.biases, params.factors, strict=True)
    ]


# Ratings predicted at once by predict_blocks: its scratch is n_components
# numbers per rating and block, so whole 10M-rating sets would take gigabytes.
_PREDICT_CHUNK = 65536


def predict_blocks(blocks, params):
    """The factorization machine's prediction of every rating (NumPy)."""
    weights = list(zip(params.biases, params.factors, strict=True))
    # An identity (context) block has a row per rating: its part is computed
    # chunk by chunk, never for all the ratings at once.
    parts = [
        None if block.identity else _part(block.matrix(), w, v)
        for block, (w, v) in zip(blocks, weights, strict=True)
    ]
    n = blocks[0].rows.shape[0]
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _PREDICT_CHUNK):
        stop = min(start + _PREDICT_CHUNK, n)
        total = np.full(stop - start, params.bias, dtype=np.float64)
        total_q = 0.0
        for block, part, (w, v) in zip(blocks, parts, weights, strict=True):
            if part is None:
                linear, q = _part(block.matrix()[start:stop], w, v)
            else:
                rows = block.rows[start:stop]
                linear, q = part[0][rows], part[1][rows]
            total += linear
            total_q = total_q + q
        out[start:stop] = total + 0.5 * np.sum(total_q * total_q, axis=1)
    return out


def group_members(groups, n_groups):
    """The (n_groups, n_features) 0/1 matrix that sums parameters by group."""
    return sp.csr_matrix(
        (np.ones(groups.shape[0]), (groups, np.arange(groups.shape[0]))),
        shape=(n_groups, groups.shape[0]),
    )


def draw_group_priors(count, total, squares, prior, rng, mean):
    """Draw each group's prior ``(mean, precision)`` given its parameters.

    ``count`` (n_groups, 1) is each group's number of parameters, ``total``
    and ``squares`` (n_groups, width) their sums and sums of squares (one
    prior per group and per column, :class:`GroupSums`), ``mean`` the
    groups' current mean. Normal-Gamma conjugacy, in libFM's order and
    parametrization: with ``n`` members, ``lambda ~ Gamma((alpha_0 + n + 1)
    / 2, (beta_0 + sum (theta - mu)^2 + gamma_0 mu^2) / 2)`` given the
    current ``mu``, then ``mu ~ N(sum theta / (n + gamma_0), 1 / ((n +
    gamma_0) lambda))`` given the new ``lambda``.
    """
    n_groups, width = total.shape
    spread = squares - 2 * mean * total + count * mean**2
    spread += prior.strength * mean**2
    shape = (prior.shape + count + 1) / 2
    rate = (prior.rate + np.maximum(spread, 0)) / 2
    precision = rng.gamma(shape, 1.0 / rate)
    strength = count + prior.strength
    mean = total / strength + rng.standard_normal((n_groups, width)) / np.sqrt(
        strength * precision
    )
    return mean, precision


# Features summed at once by GroupSums: its scratch is a square of each
# factor, which for a whole block would be the size of the block's factors.
_GROUP_SUM_ROWS = 65536


class GroupSums:
    """Sums by prior group of the blocks' parameters, block by block and in
    bounded runs of features, never over a concatenated copy of them all.

    Parameters
    ----------
    groups : list of ndarray of int32
        The group of each feature of each block.
    n_groups : int
    """

    def __init__(self, groups, n_groups):
        self.n_groups = n_groups
        self.count = np.bincount(
            np.concatenate(groups) if groups else np.zeros(0, np.int32),
            minlength=n_groups,
        ).astype(np.float64)[:, None]
        self.runs = [
            [
                (start, group_members(g[start : start + _GROUP_SUM_ROWS], n_groups))
                for start in range(0, g.shape[0], _GROUP_SUM_ROWS)
            ]
            for g in groups
        ]

    def __call__(self, arrays):
        """``(total, squares)`` by group of ``arrays`` (one per block, each
        (n_features,) or (n_features, width)); a sparse product per run
        (np.add.at is 10x slower)."""
        width = 1 if arrays[0].ndim == 1 else arrays[0].shape[1]
        total = np.zeros((self.n_groups, width))
        squares = np.zeros((self.n_groups, width))
        for values, runs in zip(arrays, self.runs, strict=True):
            values = values.reshape(values.shape[0], width)
            for start, members in runs:
                part = values[start : start + members.shape[1]]
                total += members @ part
                squares += members @ (part * part)
        return total, squares


def _normal_segments(normals):
    """``take(n)``: the next ``n`` standard normals of ``normals`` (an array,
    read in order, or a Generator, drawn; the same stream either way), or
    zeros when it is None."""
    if normals is None:
        return np.zeros
    if isinstance(normals, np.random.Generator):
        return normals.standard_normal
    position = 0

    def take(n):
        nonlocal position
        position += n
        return normals[position - n : position]

    return take


class CoordinateSweep(Solver):
    """The coordinate-wise sweep over relation blocks that ALS and Gibbs share.

    One sweep sets the global bias, then every block's biases, then each
    factor ``f`` of every block, one parameter after the other, each from the
    Gaussian conditional of its coordinate given all the others (the kernel
    ``draw_block``). A subclass supplies, per sweep, the priors (Gibbs: the
    drawn group hyper-parameters; ALS: mean 0 and the fixed regularization),
    the noise precision and the standard normals (ALS: none, which gives each
    conditional's mode).

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept,
        ``weights`` the sample weights (empty: all ones).
    model : FMParameters
        The starting point; updated in place. Its factor arrays are replaced
        by Fortran-ordered copies, so that each factor's column is one
        contiguous array the kernel updates in place.
    params : dataclass
        The solver's parameters; ``params.n_threads`` is the kernels' thread
        count, used from :data:`MIN_RATINGS_PER_PARALLEL_SWEEP` ratings on
        (below, one thread is faster).
    rng : numpy.random.RandomState or numpy.random.Generator
    blocks : list of Block
        The relation blocks, in the order of ``model.biases``.
    """

    def __init__(self, ratings, model, params, rng, blocks):
        super().__init__(ratings, model, params, rng)
        if len(blocks) != len(model.biases) or len(blocks) != len(model.factors):
            raise ValueError(
                f"There are {len(blocks)} blocks but {len(model.biases)} bias and "
                f"{len(model.factors)} factor arrays; give one of each per block."
            )
        self.blocks = blocks
        self.target = np.ascontiguousarray(ratings.values, dtype=np.float64)
        # Empty means all ones, as in Ratings; the kernel reads it that way.
        self.weights = np.ascontiguousarray(ratings.weights, dtype=np.float64)
        if self.weights.size not in (0, self.target.shape[0]):
            raise ValueError(
                f"There are {self.weights.size} sample weights for "
                f"{self.target.shape[0]} ratings; give one weight per rating."
            )
        self.total_weight = (
            float(self.weights.sum()) if self.weights.size else float(len(self.target))
        )
        self._column_major()
        self._refresh_row_parts()
        self.residuals = self.target - predict_blocks(blocks, model)
        self.q = np.empty(self.target.shape[0])
        groups = [block.groups for block in blocks]
        self.all_groups = np.concatenate(groups) if groups else np.zeros(0, np.int32)
        self.n_components = model.factors[0].shape[1] if model.factors else 0
        self.n_threads = (
            int(params.n_threads)
            if self.target.shape[0] >= MIN_RATINGS_PER_PARALLEL_SWEEP
            else 1
        )
        # Standard normals of one sweep: w_0, every block's biases, then
        # every block's features once per factor.
        self.n_normals = 1 + (1 + self.n_components) * self.all_groups.shape[0]

    def _column_major(self):
        # Column f of a Fortran-ordered factor array is contiguous: the kernel
        # updates it in place, with no copy in and out per factor. The loop
        # may have put back C-ordered copies (e.g. the best step's).
        factors = self.model.factors
        for k, v in enumerate(factors):
            if not v.flags.f_contiguous:
                factors[k] = np.asfortranarray(v, dtype=np.float64)

    def _refresh_row_parts(self):
        # B V of every relation block, (n_rows, K) in Fortran order. The
        # kernel keeps column f up to date as it draws factor f, so it is
        # computed here once per fit instead of once per factor and block.
        # An identity block's part is computed per rating in the pass that
        # sums the parts (n_ratings x K would not fit at scale).
        self._row_parts = [
            None if block.identity else np.asfortranarray(block.matrix() @ v)
            for block, v in zip(self.blocks, self.model.factors, strict=True)
        ]
        self._parts_of = list(self.model.factors)

    def block_row_sums(self, k):
        """``B V`` of block ``k`` for the current factors, (n_rows, K)."""
        q = self._row_parts[k]
        if q is None or self._parts_of[k] is not self.model.factors[k]:
            return self.blocks[k].matrix() @ self.model.factors[k]
        return q

    def weighted_sse(self):
        """The weighted sum of squared residuals of the current parameters."""
        e = self.residuals
        return float(e @ (self.weights * e)) if self.weights.size else float(e @ e)

    def _sweep(self, bias_prior, factor_prior, noise_precision, normals):
        """Set every parameter once, in the order of libFM's sweep.

        Parameters
        ----------
        bias_prior : tuple of ndarray of shape (n_groups,)
            The mean and precision of each group's prior of the biases.
        factor_prior : tuple of ndarray of shape (n_components, n_groups)
            The mean and precision of each group's prior, row ``f`` for factor
            ``f`` (C order: each row is contiguous).
        noise_precision : float
        normals : ndarray of shape (n_normals,), numpy.random.Generator or None
            The sweep's standard normals (w_0 first, then the blocks' biases,
            then each factor's features block by block), or the generator
            that draws them in that order, one segment at a time (the whole
            sweep's would be 33 numbers per feature at rank 32, 130 MB for
            500K features); None sets every parameter to its conditional mode.
        """
        model, e, weights = self.model, self.residuals, self.weights
        n_threads = self.n_threads
        self._column_major()
        if any(v is not w for v, w in zip(model.factors, self._parts_of, strict=True)):
            # The factor arrays were replaced between steps.
            self._refresh_row_parts()
        take = _normal_segments(normals)
        n_features = self.all_groups.shape[0]
        alpha = noise_precision

        # w_0 has a flat prior (libFM's MCMC: gamma_0 -> 0; ALS: unregularized).
        n = self.total_weight
        old = model.bias
        weighted_e = e @ weights if weights.size else e.sum()
        new = (weighted_e + n * old) / n + take(1)[0] / np.sqrt(alpha * n)
        e -= new - old
        model.bias = float(new)

        normals, at = take(n_features), 0
        for block, w in zip(self.blocks, model.biases, strict=True):
            draw_block(
                block.indptr, block.order, *block.csr, *block.csc, block.groups,
                w, True, bias_prior[0], bias_prior[1], alpha,
                normals[at : at + block.n_features], self.q, e, n_threads,
                block.identity, weights, block.scatter_rows,
            )  # fmt: skip
            at += block.n_features

        # Each relation block's row sums B v_f serve twice: for every
        # rating's q, in one pass over the ratings for all blocks, and for the
        # block's draws, which update them.
        part_rows = [None if b.identity else b.rows for b in self.blocks]
        for f in range(self.n_components):
            columns = [v[:, f] for v in model.factors]
            sums = [None if Q is None else Q[:, f] for Q in self._row_parts]
            parts = [
                (*block.csr, column) if row_sums is None else row_sums
                for block, column, row_sums in zip(
                    self.blocks, columns, sums, strict=True
                )
            ]
            set_block_parts(part_rows, parts, self.q, n_threads)
            normals, at = take(n_features), 0
            for block, column, row_sums in zip(self.blocks, columns, sums, strict=True):
                draw_block(
                    block.indptr, block.order, *block.csr, *block.csc,
                    block.groups, column, False, factor_prior[0][f],
                    factor_prior[1][f], alpha,
                    normals[at : at + block.n_features], self.q, e, n_threads,
                    block.identity, weights, block.scatter_rows, row_sums,
                )  # fmt: skip
                at += block.n_features
        return self.weighted_sse()


def sample_noise_scales(spread, count, strength, noise_precision, rng):
    """Draw each row's scale of the noise precision given its residuals.

    Rating ``n`` of row ``r`` has precision ``noise_precision * scale[r] *
    o_n``, where ``o_n`` is the product of its other factors (the sample
    weight, the other side's scale); ``count[r]`` is the sum of the row's
    sample weights (a weight ``w`` counts as ``w`` ratings) and
    ``spread[r]`` the sum of ``o_n e_n^2`` over its residuals ``e_n``. With
    the prior ``scale ~ Gamma(nu / 2, nu / 2)`` (mean 1; ``nu`` is
    ``strength``) the conditional is ``Gamma((nu + count) / 2, (nu +
    noise_precision spread) / 2)``, rate parametrization: the robust Bayesian
    matrix factorization of Lakshminarayanan, Bouchard and Archambeau
    (2011), with a scale per user and per item.
    """
    shape = (strength + count) / 2
    rate = (strength + noise_precision * spread) / 2
    # Never 0, which the next draw divides by (a tiny shape can underflow).
    return np.maximum(rng.gamma(shape, 1.0 / rate), np.finfo(np.float64).tiny)


# The sides whose rows scale the noise precision, by FMGibbsParams.noise.
_NOISE_SIDES = {
    "shared": (),
    "user": ("user",),
    "item": ("item",),
    "both": ("user", "item"),
}


class FMGibbsSolver(CoordinateSweep):
    """Runs one sweep at a time: the groups' priors, the global bias, every
    block's biases, each factor of every block, then the noise precision and,
    with ``params.noise`` other than "shared", each user's and each item's
    scale of it (:func:`sample_noise_scales`).

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept.
        A sample weight ``w`` counts as ``w`` copies of its rating.
    model : FMParameters
        The starting sample; updated in place.
    params : FMGibbsParams
    rng : numpy.random.RandomState or numpy.random.Generator
    blocks : list of Block
        The relation blocks, in the order of ``model.biases``.

    Attributes
    ----------
    noise_precision : float
        The current draw of the noise precision.
    noise_scales : dict
        The current scale of the noise precision of each user and each item
        (``"user"``, ``"item"``; ndarray of shape (n_users,) and (n_items,)),
        those that ``params.noise`` draws.
    """

    def __init__(self, ratings, model, params, rng, blocks):
        super().__init__(ratings, model, params, rng, blocks)
        if isinstance(rng, np.random.Generator):
            self.generator = rng
        else:
            self.generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        self.noise_precision = float(params.initial_noise_precision)
        # The groups' prior means, kept from sweep to sweep (the Gibbs state);
        # they start at the hyper-prior's mean, 0.
        self.prior_means = (
            np.zeros((params.n_groups, 1)),
            np.zeros((params.n_groups, self.n_components)),
        )
        self._group_sums = GroupSums(
            [block.groups for block in self.blocks], params.n_groups
        )
        # The sample weights alone: the scales multiply them into
        # self.weights, which the sweep reads, before each sweep.
        self.sample_weights = self.weights
        self.n_copies = self.total_weight
        self.noise_scales, self._scale_rows = {}, {}
        for side in _NOISE_SIDES[params.noise]:
            rows = np.ascontiguousarray(
                ratings.users if side == "user" else ratings.items, dtype=np.int32
            )
            n_rows = ratings.n_users if side == "user" else ratings.n_items
            self._scale_rows[side] = rows
            self.noise_scales[side] = np.ones(n_rows)
        if self.noise_scales:
            # Each row's count of ratings, which the scales' draws need.
            self._scale_counts = {
                side: np.bincount(
                    rows, self.sample_weights if self.sample_weights.size else None,
                    minlength=self.noise_scales[side].shape[0],
                ).astype(np.float64)
                for side, rows in self._scale_rows.items()
            }  # fmt: skip
            self.weights = (
                self.sample_weights.copy()
                if self.sample_weights.size
                else np.ones(self.target.shape[0])
            )
            self._spread = {s: np.empty_like(v) for s, v in self.noise_scales.items()}

    def _draw_priors(self):
        model, gen = self.model, self.generator
        prior, count = self.params.prior, self._group_sums.count
        bias_prior = draw_group_priors(
            count, *self._group_sums(model.biases), prior, gen, self.prior_means[0]
        )
        factor_prior = draw_group_priors(
            count, *self._group_sums(model.factors), prior, gen, self.prior_means[1]
        )
        self.prior_means = (bias_prior[0], factor_prior[0])
        return bias_prior, factor_prior

    def step(self):
        """Run one sweep; return the weighted sum of squared errors after it."""
        gen = self.generator
        (bias_mean, bias_precision), (mean, precision) = self._draw_priors()
        sse = self._sweep(
            (np.ascontiguousarray(bias_mean[:, 0]),
             np.ascontiguousarray(bias_precision[:, 0])),
            (np.ascontiguousarray(mean.T), np.ascontiguousarray(precision.T)),
            self.noise_precision, gen,
        )  # fmt: skip
        # alpha | rest ~ Gamma((alpha_0 + N) / 2, rate (beta_0 + SSE) / 2), in
        # libFM's parametrization, as for the group precisions; a weight w
        # counts as w copies of its rating in N and in the SSE.
        prior = self.params.prior
        shape = (prior.shape + self.n_copies) / 2
        rate = (prior.rate + sse) / 2
        self.noise_precision = float(gen.gamma(shape, 1.0 / rate))
        if not self.noise_scales:
            return sse
        self._draw_noise_scales()
        e, w = self.residuals, self.sample_weights
        return float(e @ (w * e)) if w.size else float(e @ e)

    def _draw_noise_scales(self):
        # In turn, each side's scales given the other's; the product of both
        # (times the sample weights) becomes the next sweep's weights.
        rows, scales = self._scale_rows, self.noise_scales
        none = np.zeros(0, np.int32), np.zeros(0)
        for side in scales:
            other = [(rows[s], scales[s]) for s in scales if s != side]
            spread = self._spread[side]
            scaled_square_sums(
                rows[side], self.residuals, self.sample_weights,
                *(other[0] if other else none), spread,
            )  # fmt: skip
            scales[side] = sample_noise_scales(
                spread, self._scale_counts[side], self.params.noise_strength,
                self.noise_precision, self.generator,
            )  # fmt: skip
        first, *second = [(rows[s], scales[s]) for s in scales]
        scaled_weights(
            self.sample_weights, *first, *(second[0] if second else none),
            self.weights, self.n_threads,
        )  # fmt: skip
        self.total_weight = float(self.weights.sum())
