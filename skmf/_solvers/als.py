"""Python driver of the ALS solver: the sparse layouts and the two half-sweeps."""

from dataclasses import dataclass

import numpy as np

from . import _chunks
from ._als_fast import als_half_sweep
from ._base import Solver, SolverBreakdown
from ._group_fast import group_rows


@dataclass(frozen=True)
class ALSParams:
    """Parameters of an ALS fit, resolved by the estimator."""

    alpha: float  # ridge penalty per unit of weight
    fit_biases: bool
    cg_steps: int  # conjugate-gradient steps per row; 0 solves exactly (Cholesky)
    n_threads: int


def als_row_costs(indptr, n_components, fit_biases, cg_steps):
    """Estimated work of each row of an ALS half-sweep (see ``_chunks``).

    Exact: the Gram matrix (``dim^2`` per rating, BLAS-3), the Cholesky solve
    (``dim^3 / 3``) and the loss pass. CG: two ``gemv`` passes per step, and
    the residual and loss passes.
    """
    dim = n_components + (1 if fit_biases else 0)
    if cg_steps > 0:
        return _chunks.row_costs(
            indptr, 1.4 * dim * (cg_steps + 2) + 20, 500 * (cg_steps + 1)
        )
    return _chunks.row_costs(
        indptr, 0.3 * dim * dim + 2 * dim + 20, 0.1 * dim**3 + 1000
    )


class ALSSolver(Solver):
    """Runs one sweep at a time: every user solved, then every item.

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept.
    model : FactorModel
        Updated in place; the bias arrays stay zero without ``fit_biases``.
    params : ALSParams
    rng : numpy.random.RandomState
        Unused: ALS draws nothing.
    """

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        self.by_user, self.by_item = layouts(ratings)
        k = model.user_factors.shape[1]
        self.user_bounds, self.item_bounds = (
            _chunks.bounds(
                als_row_costs(layout[0], k, params.fit_biases, params.cg_steps),
                params.n_threads,
            )
            for layout in (self.by_user, self.by_item)
        )

    def _half_sweep(self, side, rows, row_bias, cols, col_bias, compute_loss):
        p = self.params
        layout, row_bounds = (
            (self.by_user, self.user_bounds)
            if side == "user"
            else (self.by_item, self.item_bounds)
        )

        def call(start, stop, loss):
            return als_half_sweep(
                *layout, rows, row_bias, cols, col_bias, p.alpha, p.fit_biases,
                p.n_threads, p.cg_steps, compute_loss, start, stop, loss,
            )  # fmt: skip

        return _chunks.run_rows(
            call,
            row_bounds,
            lambda row: (
                f"row {row} of the {side}s has no positive definite normal equations"
            ),
        )

    def step(self):
        """Run one sweep; return the weighted sum of squared errors after it.

        The errors are those of the model after the item half-sweep, without
        the penalty.
        """
        return alternate(self._half_sweep, self.model)


def layouts(ratings):
    """The ratings by user and by item, CSR style: (indptr, indices, values, weights).

    By user as fit grouped them; by item with the users in increasing order,
    as the grouping is stable. Repeated (user, item) pairs stay separate
    ratings, as they are for SGD (scipy would sum them).
    """
    r = ratings
    by_user = (r.indptr, r.items, r.values, r.weights)
    by_item = group_rows(r.items, r.n_items, r.users, r.values, r.weights)
    return by_user, by_item


def alternate(half_sweep, model):
    """Users with the items fixed, then items with the users fixed.

    ``half_sweep(side, rows, row_bias, cols, col_bias, compute_loss)`` updates
    the rows of ``side`` ("user" or "item") in place. Returns the loss of the
    item half-sweep: only the errors after it are those of the model.
    """
    m = model
    half_sweep(
        "user",
        m.user_factors,
        m.user_bias,
        m.item_factors,
        m.item_bias,
        compute_loss=False,
    )
    return half_sweep(
        "item",
        m.item_factors,
        m.item_bias,
        m.user_factors,
        m.user_bias,
        compute_loss=True,
    )


def fold_in_row(item_factors, item_bias, codes, values, alpha, fit_biases):
    """Solve one new user's factors and bias against fixed items, exactly.

    The user half-step of ALS for one row, as fold-in needs it: the ridge
    problem of the ALS objective with the items' factors and biases fixed.

    Parameters
    ----------
    item_factors : ndarray of shape (n_items, n_components)
        The fitted item factors (C-contiguous, float32 or float64).
    item_bias : ndarray of shape (n_items,)
        The fitted item biases, same dtype.
    codes : array-like of int
        Item index of each rating, in ``[0, n_items)``; repeats are separate
        ratings.
    values : array-like of float
        Each rating minus the intercept.
    alpha : float
        The penalty per rating.
    fit_biases : bool
        Whether the user gets a bias; without, the returned bias is 0.

    Returns
    -------
    factors : ndarray of shape (n_components,)
        In the item factors' dtype; zeros for no rating.
    bias : float

    Raises
    ------
    SolverBreakdown
        When the user's normal equations are not positive definite (only
        possible with ``alpha <= 0``).
    """
    dtype = item_factors.dtype
    codes = np.asarray(codes)
    values = np.asarray(values, dtype=dtype)
    if codes.shape != values.shape or codes.ndim != 1:
        raise ValueError("codes and values must be 1-D arrays of the same length")
    n_items = item_factors.shape[0]
    if codes.size and (codes.min() < 0 or codes.max() >= n_items):
        raise ValueError(f"item codes must lie in [0, {n_items})")
    factors = np.zeros((1, item_factors.shape[1]), dtype=dtype)
    bias = np.zeros(1, dtype=dtype)
    if codes.size == 0:
        return factors[0], 0.0
    _, failed = als_half_sweep(
        np.array([0, codes.shape[0]], dtype=np.int64),
        codes.astype(np.int32),
        np.ascontiguousarray(values),
        np.empty(0, dtype=dtype),
        factors,
        bias,
        np.ascontiguousarray(item_factors),
        np.ascontiguousarray(item_bias, dtype=dtype),
        float(alpha),
        bool(fit_biases),
        1,
        0,
        False,
    )
    if failed >= 0:
        raise SolverBreakdown(
            "the new user's normal equations are not positive definite"
        )
    return factors[0], float(bias[0])
