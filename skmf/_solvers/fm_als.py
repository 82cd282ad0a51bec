r"""Python driver of the coordinate-wise ALS of a factorization machine.

libFM's ALS (Rendle, 2012, "Factorization machines with libFM", sec. 4.2):
the Gibbs sweep of ``fm_gibbs`` with no noise and fixed regularization. Every
parameter in turn is set to the minimizer of the penalized objective

.. math::

    L = \sum_n w_n e_n^2 + \sum_j \lambda^w_{g(j)} w_j^2
        + \sum_j \lambda^v_{g(j)} \lVert v_j \rVert^2

over that one coordinate, given all the others: the conditional mode of
``draw_block`` with zero normals, noise precision 1, prior mean 0 and prior
precision the regularization of the parameter's group. The global bias
:math:`w_0` is not regularized. Each update minimizes L exactly in its
coordinate, so no sweep raises it, and there is no learning rate.
"""

from dataclasses import dataclass

import numpy as np

from .fm_gibbs import CoordinateSweep


@dataclass(frozen=True, eq=False)
class FMALSParams:
    r"""Parameters of an ALS fit of a factorization machine.

    Parameters
    ----------
    reg_bias : ndarray of float64, shape (n_groups,)
        The regularization :math:`\lambda^w_g` of each group's biases.
    reg_factors : ndarray of float64, shape (n_groups,)
        The regularization :math:`\lambda^v_g` of each group's factors.
    n_threads : int
        Threads of the compiled kernels.
    """

    reg_bias: np.ndarray
    reg_factors: np.ndarray
    n_threads: int


def _check_regularization(name, values, n_groups):
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 1 or values.shape[0] < n_groups:
        raise ValueError(
            f"{name} has shape {values.shape} but the blocks use {n_groups} "
            f"feature groups; give one value per group, shape ({n_groups},)."
        )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"{name} must hold finite non-negative numbers, got {values.tolist()}."
        )
    return values


def penalty(model, blocks, params):
    r"""The regularization term of the objective L for the current parameters.

    Parameters
    ----------
    model : FMParameters
    blocks : list of Block
    params : FMALSParams

    Returns
    -------
    penalty : float
        :math:`\sum_j \lambda^w_{g(j)} w_j^2 + \lambda^v_{g(j)} \lVert v_j
        \rVert^2`; the solver's ``step()`` returns the other term, the
        weighted squared error.
    """
    total = 0.0
    for block, w, v in zip(blocks, model.biases, model.factors, strict=True):
        total += float(params.reg_bias[block.groups] @ (w * w))
        total += float(params.reg_factors[block.groups] @ np.sum(v * v, axis=1))
    return total


class FMALSSolver(CoordinateSweep):
    """Runs one coordinate-wise ALS sweep at a time.

    The sweep is that of :class:`~skmf._solvers.fm_gibbs.FMGibbsSolver`: the
    global bias, every block's biases, then each factor of every block, each
    parameter set to the mode of its conditional. It draws no random numbers.

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept,
        ``weights`` the sample weights (empty: all ones).
    model : FMParameters
        The starting point; updated in place.
    params : FMALSParams
    rng : numpy.random.RandomState or numpy.random.Generator
        Unused: ALS is deterministic given its starting point.
    blocks : list of Block
        The relation blocks, in the order of ``model.biases``.
    """

    def __init__(self, ratings, model, params, rng, blocks):
        super().__init__(ratings, model, params, rng, blocks)
        n_groups = int(self.all_groups.max()) + 1 if self.all_groups.size else 0
        reg_bias = _check_regularization("reg_bias", params.reg_bias, n_groups)
        reg_factors = _check_regularization("reg_factors", params.reg_factors, n_groups)
        zeros = np.zeros(reg_bias.shape[0])
        self._bias_prior = (zeros, reg_bias)
        self._factor_prior = (
            np.zeros((self.n_components, reg_factors.shape[0])),
            np.ascontiguousarray(np.tile(reg_factors, (self.n_components, 1))),
        )

    def step(self):
        """Run one sweep; return the weighted sum of squared errors after it."""
        return self._sweep(self._bias_prior, self._factor_prior, 1.0, None)
