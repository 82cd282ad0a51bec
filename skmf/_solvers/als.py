"""Python driver of the ALS solver: the sparse layouts and the two half-sweeps."""

from ._als_fast import als_half_sweep
from ._group_fast import group_rows


class ALSSolver:
    """Runs one sweep at a time: every user solved exactly, then every item."""

    def __init__(self, ratings, model, params, rng):
        r = ratings
        self.model = model
        self.params = params
        # CSR by user as fit made it, and by item (users in increasing order,
        # as the sort is stable). Repeated (user, item) pairs stay separate
        # ratings, as they are for SGD (scipy would sum them).
        self.by_user = (r.indptr, r.items, r.values, r.weights)
        self.by_item = group_rows(r.items, r.n_items, r.users, r.values, r.weights)

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
