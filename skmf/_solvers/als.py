"""Python driver of the ALS solver: the sparse layouts and the two half-sweeps."""

import numpy as np

from ._als_fast import als_half_sweep
from ._group_fast import group_by


def _compressed(rows, n_rows, cols, values, weights):
    """Group ratings by row: CSR (indptr, indices, values, weights).

    Built here rather than by scipy.sparse so that repeated (user, item) pairs
    stay separate ratings instead of being summed, and in linear time.
    """
    indptr, order = group_by(rows, n_rows)
    return (
        indptr,
        np.ascontiguousarray(cols[order]),
        np.ascontiguousarray(values[order]),
        np.ascontiguousarray(weights[order]) if weights.size else weights,
    )


class ALSSolver:
    """Runs one sweep at a time: every user solved exactly, then every item."""

    def __init__(self, ratings, model, params, rng):
        r = ratings
        self.model = model
        self.params = params
        self.by_user = _compressed(r.users, r.n_users, r.items, r.values, r.weights)
        self.by_item = _compressed(r.items, r.n_items, r.users, r.values, r.weights)

    def _half_sweep(self, compressed, rows, row_bias, cols, col_bias, compute_loss):
        p = self.params
        loss = als_half_sweep(
            *compressed, rows, row_bias, cols, col_bias,
            p.alpha, p.fit_biases, p.n_threads, p.cg_steps, compute_loss,
        )  # fmt: skip
        if loss < 0:
            raise FloatingPointError(
                f"row {int(-1 - loss)} has no positive definite normal equations"
            )
        return loss

    def epoch(self):
        """Run one sweep; return the weighted sum of squared errors after it."""
        m = self.model
        # Only the errors after the item half-sweep are those of the model.
        self._half_sweep(
            self.by_user,
            m.user_factors,
            m.user_bias,
            m.item_factors,
            m.item_bias,
            compute_loss=False,
        )
        return self._half_sweep(
            self.by_item,
            m.item_factors,
            m.item_bias,
            m.user_factors,
            m.user_bias,
            compute_loss=True,
        )
