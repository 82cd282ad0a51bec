"""The contract between the estimators' training loop and the solvers.

Every solver is a class with the same constructor shape,
``Solver(ratings, model, params, rng)``, and one step method, :meth:`Solver.step`,
that runs one epoch (SGD) or one sweep (ALS, Gibbs) and returns the weighted
data loss. The estimator's training loop (``skmf._base``) owns everything else:
the penalty, the schedule of steps, early stopping, progress, divergence checks
and warnings. A new solver is a new module with a ``Solver`` subclass and a
parameter dataclass; it does not copy the loop.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass
class Ratings:
    """Training ratings as plain arrays, ready for the kernels.

    The ratings are grouped by user (``indptr``, CSR style), in their original
    order within each user: ALS-type half-sweeps over the users and the matrix
    of seen items use this layout as it is.
    """

    users: np.ndarray  # int32 row index of each rating
    items: np.ndarray  # int32 item index of each rating
    values: np.ndarray  # the value each solver fits (rating minus the mean, confidence)
    weights: np.ndarray  # sample weights, or an empty array for all ones
    n_users: int
    n_items: int
    indptr: np.ndarray  # int64, ratings of user u at indptr[u]:indptr[u + 1]

    @property
    def n_ratings(self):
        return self.users.shape[0]


@dataclass
class FactorModel:
    """The learned arrays, updated in place by the kernels.

    Models without biases hold empty (shape ``(0,)``) bias arrays.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray


class SolverBreakdown(FloatingPointError):
    """A kernel met a row it cannot solve (no positive definite system).

    The training loop turns it into a ``ValueError`` that names the fix for
    the estimator at hand.
    """


class Solver(ABC):
    """One solver of one fit: built once, stepped once per epoch or sweep.

    Parameters
    ----------
    ratings : Ratings
        The training data, already encoded.
    model : FactorModel
        The starting point; updated in place by :meth:`step`.
    params : dataclass
        The solver's own parameter dataclass, resolved by the estimator.
    rng : numpy.random.RandomState
        The fit's random state (from ``check_random_state``).
    """

    def __init__(self, ratings, model, params, rng):
        self.ratings = ratings
        self.model = model
        self.params = params
        self.rng = rng

    @abstractmethod
    def step(self):
        """Run one epoch or sweep; return the weighted data loss as a float.

        The data loss excludes any penalty, which the estimator adds. It must
        raise :class:`SolverBreakdown` when a kernel reports a failure, and
        return control to Python at least about once a second on any data
        size, so that Ctrl-C interrupts a fit promptly.
        """
