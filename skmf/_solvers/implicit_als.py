"""Python driver of implicit-feedback ALS: layouts, Gram matrices and the loss."""

from dataclasses import dataclass

import numpy as np

from ._base import Solver, SolverBreakdown
from ._group_fast import group_rows
from ._implicit_fast import implicit_half_sweep


@dataclass(frozen=True)
class ImplicitALSParams:
    reg: float
    cg_steps: int  # 0: exact Cholesky solves
    n_threads: int


def regularized_gram(factors, reg):
    """``Y^T Y + reg I``, in the factors' dtype."""
    gram = factors.T @ factors
    gram[np.diag_indices_from(gram)] += reg
    return np.ascontiguousarray(gram)


def solve_rows(csr, rows, cols, gram, cg_steps, n_threads, with_loss=False):
    """Solve every row of ``rows`` in place against the fixed ``cols``.

    ``gram`` is ``regularized_gram(cols, reg)``. Returns what the observed
    cells add to the objective when ``with_loss``, see ``implicit_half_sweep``.
    """
    loss, failed = implicit_half_sweep(
        *csr, rows, cols, gram, cg_steps, with_loss, n_threads
    )
    if failed >= 0:
        raise SolverBreakdown(f"row {failed} has no positive definite normal equations")
    return loss


class ImplicitALSSolver(Solver):
    """Runs one sweep at a time: every user solved, then every item.

    ``ratings.values`` hold the confidences of the observed pairs, grouped by
    user with repeated pairs summed; ``cg_steps == 0`` solves each row exactly
    by Cholesky.
    """

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        r = ratings
        self.by_user = (r.indptr, r.items, r.values)
        indptr, users, values, _ = group_rows(
            r.items, r.n_items, r.users, r.values, r.weights
        )
        self.by_item = (indptr, users, values)
        # Y^T Y + reg I of the current item factors, shared by the objective
        # and the next user half-sweep.
        self._item_gram = None

    def step(self):
        """Run one sweep; return the data term of the objective after it.

        The data term is ``sum c (p - x.y)^2`` over every cell. Every cell
        pays ``(x.y)^2``: with the users' penalty that is ``trace(X (Y^T Y +
        reg I) X^T)``; the item half-sweep returns what the observed cells pay
        beyond it, so only they are visited. The penalty is the estimator's.
        """
        p = self.params
        users, items = self.model.user_factors, self.model.item_factors
        if self._item_gram is None:
            self._item_gram = regularized_gram(items, p.reg)
        solve_rows(self.by_user, users, items, self._item_gram, p.cg_steps, p.n_threads)
        user_gram = regularized_gram(users, p.reg)
        observed = solve_rows(
            self.by_item, items, users, user_gram, p.cg_steps, p.n_threads, True
        )
        self._item_gram = regularized_gram(items, p.reg)
        every = np.einsum("ij,ij->", users @ self._item_gram, users, dtype=np.float64)
        user_penalty = p.reg * np.sum(users.astype(np.float64) ** 2)
        return float(every - user_penalty + observed)


def fold_in_row(item_factors, codes, confidences, reg):
    """Factors of a new user from the confidences of their items: one exact solve."""
    factors = np.zeros((1, item_factors.shape[1]), item_factors.dtype)
    csr = (
        np.array([0, codes.shape[0]], dtype=np.int64),
        codes.astype(np.int32),
        confidences.astype(item_factors.dtype),
    )
    solve_rows(csr, factors, item_factors, regularized_gram(item_factors, reg), 0, 1)
    return factors[0]
