"""Python driver of implicit-feedback ALS: layouts, Gram matrices and the loss."""

import numpy as np

from ._implicit_fast import implicit_half_sweep


def kernel_csr(matrix, dtype):
    """A CSR matrix as the kernel's (indptr, indices, confidence) arrays."""
    return (
        matrix.indptr.astype(np.int64),
        matrix.indices.astype(np.int32),
        matrix.data.astype(dtype),
    )


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
        raise FloatingPointError(
            f"row {failed} has no positive definite normal equations"
        )
    return loss


class ImplicitALSSolver:
    """Runs one sweep at a time: every user solved, then every item.

    ``confidence`` is the users x items CSR matrix of the observed pairs'
    confidences; ``cg_steps == 0`` solves each row exactly by Cholesky.
    """

    def __init__(
        self, confidence, user_factors, item_factors, reg, cg_steps, n_threads
    ):
        dtype = user_factors.dtype
        self.by_user = kernel_csr(confidence, dtype)
        self.by_item = kernel_csr(confidence.T.tocsr(), dtype)
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.reg = reg
        self.cg_steps = cg_steps
        self.n_threads = n_threads
        # Y^T Y + reg I of the current item factors, shared by the objective
        # and the next user half-sweep.
        self._item_gram = None

    def epoch(self):
        """Run one sweep; return the objective after it.

        The objective is ``sum c (p - x.y)^2`` over every cell plus the
        penalty. Every cell pays ``(x.y)^2``: with the users' penalty that is
        ``trace(X (Y^T Y + reg I) X^T)``; the item half-sweep returns what the
        observed cells pay beyond it, so only they are visited.
        """
        users, items = self.user_factors, self.item_factors
        if self._item_gram is None:
            self._item_gram = regularized_gram(items, self.reg)
        solve_rows(
            self.by_user, users, items, self._item_gram, self.cg_steps, self.n_threads
        )
        user_gram = regularized_gram(users, self.reg)
        observed = solve_rows(
            self.by_item, items, users, user_gram, self.cg_steps, self.n_threads, True
        )
        self._item_gram = regularized_gram(items, self.reg)
        every = np.einsum("ij,ij->", users @ self._item_gram, users, dtype=np.float64)
        item_penalty = self.reg * np.sum(items.astype(np.float64) ** 2)
        return float(every + observed + item_penalty)
