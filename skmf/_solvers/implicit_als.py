"""Python driver of implicit-feedback ALS: layouts, Gram matrices and the loss."""

from dataclasses import dataclass

import numpy as np

from . import _chunks
from ._base import Solver, SolverBreakdown
from ._group_fast import group_rows
from ._implicit_fast import implicit_half_sweep


@dataclass(frozen=True)
class ImplicitALSParams:
    """Parameters of an implicit-feedback ALS fit, resolved by the estimator."""

    reg: float  # the penalty reg * (|X|^2 + |Y|^2)
    cg_steps: int  # conjugate-gradient steps per row; 0 solves exactly (Cholesky)
    n_threads: int


def regularized_gram(factors, reg):
    """``Y^T Y + reg I``, in the factors' dtype."""
    gram = np.array(factors.T @ factors, order="C")
    gram[np.diag_indices_from(gram)] += reg
    return gram


def implicit_row_costs(indptr, n_components, cg_steps):
    """Estimated work of each row of a half-sweep (see ``_chunks``).

    Exact: ``K^2`` per observed cell (BLAS-3) and the Cholesky solve; CG: two
    dot products and two axpy per cell and step, and a ``K^2`` product.
    """
    k = n_components
    if cg_steps > 0:
        return _chunks.row_costs(
            indptr, 1.2 * k * (cg_steps + 2), 1.2 * k * k * (cg_steps + 1)
        )
    return _chunks.row_costs(indptr, 0.25 * k * k + 3 * k, 0.1 * k**3 + 1.5 * k * k)


class ImplicitALSSolver(Solver):
    """Runs one sweep at a time: every user solved, then every item.

    Parameters
    ----------
    ratings : Ratings
        The observed pairs grouped by user, with duplicates already summed;
        ``values`` are their confidences (at least 1), ``weights`` is empty.
    model : FactorModel
        Updated in place; its bias arrays are empty.
    params : ImplicitALSParams
    rng : numpy.random.RandomState
        Unused: the solver draws nothing.
    """

    def __init__(self, ratings, model, params, rng):
        super().__init__(ratings, model, params, rng)
        r = ratings
        dtype = model.user_factors.dtype
        values = r.values.astype(dtype, copy=False)
        self.by_user = (r.indptr, r.items, values)
        self.by_item = group_rows(
            r.items, r.n_items, r.users, values, np.empty(0, dtype)
        )[:3]
        k = model.user_factors.shape[1]
        self.user_bounds, self.item_bounds = (
            _chunks.bounds(
                implicit_row_costs(layout[0], k, params.cg_steps), params.n_threads
            )
            for layout in (self.by_user, self.by_item)
        )
        # Y^T Y of the current item factors, shared by the loss and the next
        # user half-sweep.
        self._item_gram = None

    def _half_sweep(self, side, rows, cols, gram, compute_loss):
        p = self.params
        layout, row_bounds = (
            (self.by_user, self.user_bounds)
            if side == "user"
            else (self.by_item, self.item_bounds)
        )
        regularized = np.array(gram, order="C")
        regularized[np.diag_indices_from(regularized)] += p.reg

        def call(start, stop, loss):
            return implicit_half_sweep(
                *layout, rows, cols, regularized, p.cg_steps, compute_loss,
                p.n_threads, start, stop, loss,
            )  # fmt: skip

        return _chunks.run_rows(
            call,
            row_bounds,
            lambda row: (
                f"row {row} of the {side}s has no positive definite normal equations"
            ),
        )

    def step(self):
        """Run one sweep; return the data term of the objective after it.

        That is ``sum c (p - x.y)^2`` over every (user, item) cell, without
        the penalty ``reg * (|X|^2 + |Y|^2)``, which the estimator adds. Every
        cell pays ``(x.y)^2``, which sums to ``trace(X Y^T Y X^T)``; the item
        half-sweep returns what the observed cells pay beyond it, so only they
        are visited.
        """
        users, items = self.model.user_factors, self.model.item_factors
        if self._item_gram is None:
            self._item_gram = items.T @ items
        self._half_sweep("user", users, items, self._item_gram, False)
        observed = self._half_sweep("item", items, users, users.T @ users, True)
        self._item_gram = items.T @ items
        every = np.einsum("ij,ij->", users @ self._item_gram, users, dtype=np.float64)
        return float(every + observed)


def fold_in_row(item_factors, codes, confidences, reg):
    """Solve one new user's factors against fixed items, exactly.

    The user half-step of implicit ALS for one row: every item is a cell of
    preference 0 and confidence 1, except the given ones.

    Parameters
    ----------
    item_factors : ndarray of shape (n_items, n_components)
        The fitted item factors (C-contiguous, float32 or float64).
    codes : array-like of int
        The user's observed items, distinct, in ``[0, n_items)``.
    confidences : array-like of float
        The confidence of each (at least 1), computed from the user's summed
        counts.
    reg : float
        The penalty.

    Returns
    -------
    factors : ndarray of shape (n_components,)
        In the item factors' dtype; zeros for no observed item.

    Raises
    ------
    SolverBreakdown
        When the user's normal equations are not positive definite (only
        possible with ``reg <= 0``).
    """
    dtype = item_factors.dtype
    codes = np.asarray(codes)
    confidences = np.asarray(confidences, dtype=dtype)
    if codes.shape != confidences.shape or codes.ndim != 1:
        raise ValueError("codes and confidences must be 1-D arrays of the same length")
    n_items, k = item_factors.shape
    factors = np.zeros((1, k), dtype=dtype)
    if codes.size == 0:
        return factors[0]
    if codes.min() < 0 or codes.max() >= n_items:
        raise ValueError(f"item codes must lie in [0, {n_items})")
    if np.unique(codes).size != codes.size:
        raise ValueError(
            "codes repeat an item: sum the user's counts per item before "
            "computing the confidences"
        )
    if not np.all(confidences >= 1):
        raise ValueError("confidences must be at least 1 (and not NaN)")
    item_factors = np.ascontiguousarray(item_factors)
    _, failed = implicit_half_sweep(
        np.array([0, codes.shape[0]], dtype=np.int64),
        codes.astype(np.int32),
        np.ascontiguousarray(confidences),
        factors,
        item_factors,
        regularized_gram(item_factors, reg),
        0,
        False,
        1,
    )
    if failed >= 0:
        raise SolverBreakdown(
            "the new user's normal equations are not positive definite"
        )
    return factors[0]
