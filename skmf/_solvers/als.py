"""Python driver of the ALS solver: the sparse layouts and the two half-sweeps."""

from dataclasses import dataclass

import numpy as np

from ._als_fast import als_half_sweep
from ._base import Solver, SolverBreakdown
from ._group_fast import group_rows


@dataclass(frozen=True)
class ALSParams:
    alpha: float
    fit_biases: bool
    cg_steps: int  # 0: exact Cholesky solves
    n_threads: int


class ALSSolver(Solver):
    """Runs one sweep at a time: every user solved exactly, then every item."""

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        self.by_user, self.by_item = layouts(ratings)

    def _half_sweep(self, compressed, rows, row_bias, cols, col_bias, compute_loss):
        p = self.params
        loss = als_half_sweep(
            *compressed, rows, row_bias, cols, col_bias,
            p.alpha, p.fit_biases, p.n_threads, p.cg_steps, compute_loss,
        )  # fmt: skip
        if loss < 0:
            raise SolverBreakdown(
                f"row {int(-1 - loss)} has no positive definite normal equations"
            )
        return loss

    def step(self):
        """Run one sweep; return the weighted sum of squared errors after it."""
        return alternate(self._half_sweep, self.by_user, self.by_item, self.model)


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


def alternate(half_sweep, by_user, by_item, model):
    """Users with the items fixed, then items with the users fixed.

    ``half_sweep(compressed, rows, row_bias, cols, col_bias, compute_loss)``
    updates the rows in place. Returns the loss of the item half-sweep: only
    the errors after it are those of the model.
    """
    m = model
    half_sweep(
        by_user,
        m.user_factors,
        m.user_bias,
        m.item_factors,
        m.item_bias,
        compute_loss=False,
    )
    return half_sweep(
        by_item,
        m.item_factors,
        m.item_bias,
        m.user_factors,
        m.user_bias,
        compute_loss=True,
    )


def fold_in_row(item_factors, item_bias, codes, values, alpha, fit_biases):
    """Factors and bias of a new user: one exact solve against the items."""
    dtype = item_factors.dtype
    factors = np.zeros((1, item_factors.shape[1]), dtype=dtype)
    bias = np.zeros(1, dtype=dtype)
    result = als_half_sweep(
        np.array([0, codes.shape[0]], dtype=np.int64), codes, values,
        np.empty(0, dtype=dtype), factors, bias, item_factors, item_bias,
        alpha, fit_biases, 1,
    )  # fmt: skip
    if result < 0:
        raise SolverBreakdown(
            "fold_in needs alpha > 0: without regularization the user's "
            "least-squares problem has no unique solution."
        )
    return factors[0], float(bias[0])
