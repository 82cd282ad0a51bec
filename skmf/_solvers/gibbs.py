"""Python driver of the Gibbs sampler of Bayesian matrix factorization.

The compiled kernel draws every user (or item) row from its Gaussian
conditional posterior; this module draws everything else, in NumPy, from one
``numpy.random.Generator``: the standard normals the kernel turns into rows,
the Normal-Wishart hyper-parameters of each side's prior and the Gamma noise
precision. The draws therefore depend on the seed only, not on the number of
threads.
"""

from dataclasses import dataclass

import numpy as np

from . import _chunks
from ._als_fast import gibbs_half_sweep, sum_row_losses
from ._base import Solver
from .als import alternate, layouts


@dataclass
class HyperPrior:
    """Hyper-prior settings, resolved for one fit."""

    strength: float  # beta_0: prior mean of each side's rows ~ N(0, (beta_0 Lambda)^-1)
    dof: float  # nu_0: degrees of freedom of the Wishart prior on Lambda
    scale: float  # W_0 = scale * I: scale matrix of the Wishart prior
    noise_shape: float  # a_0 of the Gamma prior on the noise precision
    noise_rate: float  # b_0 of the Gamma prior on the noise precision


def sample_wishart(scale, dof, rng):
    """One draw of a Wishart(scale, dof) matrix, by the Bartlett decomposition.

    With ``scale = C C^T`` the draw is ``(C A)(C A)^T`` where ``A`` is lower
    triangular with ``A_kk = sqrt(chi2(dof - k))`` and standard normals below
    the diagonal. ``dof`` must exceed ``dim - 1``.
    """
    dim = scale.shape[0]
    chol = np.linalg.cholesky(scale)
    bartlett = np.zeros((dim, dim))
    bartlett[np.diag_indices(dim)] = np.sqrt(rng.chisquare(dof - np.arange(dim)))
    bartlett[np.tril_indices(dim, -1)] = rng.standard_normal(dim * (dim - 1) // 2)
    factor = chol @ bartlett
    return factor @ factor.T


def sample_row_prior(rows, prior, rng):
    """Draw ``(mean, precision)`` of the rows' Gaussian prior given the rows.

    The Normal-Wishart hyper-prior (mean 0, strength ``beta_0``, scale
    ``W_0``, ``nu_0`` degrees of freedom) is conjugate: with ``N`` rows of mean
    ``xbar`` and scatter ``S``, the precision is drawn from
    ``Wishart(W_N, nu_0 + N)`` with ``W_N^-1 = W_0^-1 + S + beta_0 N /
    (beta_0 + N) xbar xbar^T``, then the mean from ``N(N xbar / (beta_0 + N),
    ((beta_0 + N) precision)^-1)``.
    """
    n, dim = rows.shape
    mean = rows.mean(axis=0)
    centered = rows - mean
    shrink = prior.strength * n / (prior.strength + n)
    inverse_scale = (
        np.eye(dim) / prior.scale
        + centered.T @ centered
        + shrink * np.outer(mean, mean)
    )
    inverse_scale = (inverse_scale + inverse_scale.T) / 2
    precision = sample_wishart(np.linalg.inv(inverse_scale), prior.dof + n, rng)
    chol = np.linalg.cholesky((prior.strength + n) * precision)
    location = n * mean / (prior.strength + n)
    location += np.linalg.solve(chol.T, rng.standard_normal(dim))
    return location, precision


@dataclass(frozen=True)
class GibbsParams:
    """Parameters of a Gibbs-sampling fit, resolved by the estimator."""

    prior: HyperPrior
    initial_noise_precision: float  # beta before the first draw
    n_threads: int


class GibbsSolver(Solver):
    """Runs one sweep at a time: every user drawn, then every item, then beta.

    ``model`` holds the current sample and is updated in place. The rows of
    each side (factors and bias, ``n_components + 1`` coordinates) share a
    Gaussian prior whose mean and precision are drawn from their conditional
    just before the side's half-sweep.

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept.
    model : FactorModel
        The starting sample, with bias arrays.
    params : GibbsParams
    rng : numpy.random.RandomState
        The fit's random state. The sampler draws one seed from it, when it is
        built, for the ``numpy.random.Generator`` of all its draws (a
        ``Generator`` passed here is used as it is).

    Attributes
    ----------
    noise_precision : float
        The current draw of the noise precision beta.
    total_weight : float
        The summed weight of the ratings (their number when unweighted).
    """

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        r = ratings
        if isinstance(rng, np.random.Generator):
            self.generator = rng
        else:
            self.generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        self.noise_precision = float(params.initial_noise_precision)
        self.by_user, self.by_item = layouts(r)
        k = model.user_factors.shape[1]
        self.user_bounds, self.item_bounds = (
            _chunks.bounds(gibbs_row_costs(layout[0], k), params.n_threads)
            for layout in (self.by_user, self.by_item)
        )
        # The likelihood raised to the power s_j: a weight of 2 counts as two
        # ratings, in beta's conditional too.
        self.total_weight = (
            float(np.sum(r.weights, dtype=np.float64))
            if r.weights.size
            else float(r.n_ratings)
        )

    def _half_sweep(self, side, rows, row_bias, cols, col_bias, compute_loss):
        layout, row_bounds = (
            (self.by_user, self.user_bounds)
            if side == "user"
            else (self.by_item, self.item_bounds)
        )
        dtype = rows.dtype.type
        stacked = np.column_stack([rows, row_bias]).astype(np.float64)
        location, precision = sample_row_prior(
            stacked, self.params.prior, self.generator
        )
        noise = self.generator.standard_normal(stacked.shape).astype(dtype)
        shift = (precision @ location).astype(dtype)
        precision = precision.astype(dtype)

        row_loss = np.zeros(rows.shape[0]) if compute_loss else None

        def call(start, stop, loss):
            return gibbs_half_sweep(
                *layout, rows, row_bias, cols, col_bias, precision, shift,
                self.noise_precision, noise, True, self.params.n_threads,
                compute_loss, start, stop, loss, row_loss,
            )  # fmt: skip

        _chunks.run_rows(
            call,
            row_bounds,
            lambda row: (
                f"row {row} of the {side}s has a conditional posterior precision "
                "that is not positive definite"
            ),
        )
        # beta's draw depends on every bit of the SSE: summed as it always
        # was, whatever the split into calls.
        return sum_row_losses(row_loss) if compute_loss else 0.0

    def step(self):
        """Run one sweep; return the weighted sum of squared errors after it."""
        sse = alternate(self._half_sweep, self.model)
        # beta | rest ~ Gamma(a_0 + W / 2, rate b_0 + SSE / 2), W the total weight.
        prior = self.params.prior
        shape = prior.noise_shape + self.total_weight / 2
        rate = prior.noise_rate + sse / 2
        self.noise_precision = float(self.generator.gamma(shape, 1.0 / rate))
        return sse


def gibbs_row_costs(indptr, n_components):
    """Estimated work of each row of a Gibbs half-sweep (see ``_chunks``): the
    Gram matrix and the loss pass per rating, two triangular solves per row."""
    dim = n_components + 1
    return _chunks.row_costs(
        indptr, 0.3 * dim * dim + 2 * dim + 100, 0.2 * dim**3 + 3000
    )
