"""Python driver of the SGD solver of a factorization machine over blocks.

The solver minimises the objective of the coordinate-wise ALS solver
(``fm_als``),

    sum_n s_n (y_n - y(x_n))^2 + sum_j (lambda^w_g(j) w_j^2 + lambda^v_g(j) |v_j|^2),

with one penalty per feature group. Each rating's step carries its share of
the penalty: a feature seen in ratings of total weight ``C_j`` is penalized by
``lambda / C_j`` per unit of weight, so that an epoch's steps add up to the
gradient of the objective above.

The compiled kernel (``_fm_sgd_fast.sgd_groups``) runs the ratings of each
block-0 row (each user) together, so that the user's row, with its whole
implicit-feedback history, is summed and stepped once per epoch rather than
once per rating (see the kernel's docstring). This module packs the blocks
into one CSR layout, draws every random number (the order of the users, the
offset each user's ratings start from), chooses the step size, cuts an epoch
into calls of bounded work and takes the global bias's step after each call.
"""

from dataclasses import dataclass

import numpy as np

from . import _chunks
from ._base import Solver
from ._fm_sgd_fast import predict_ratings, sgd_groups


@dataclass(frozen=True)
class FMSGDParams:
    """Parameters of an SGD fit of a factorization machine.

    ``reg_bias`` and ``reg_factors`` hold one penalty per feature group (the
    ``groups`` of the blocks index them).
    """

    reg_bias: np.ndarray
    reg_factors: np.ndarray
    learning_rate: float
    learning_rate_schedule: str  # "constant" or "exponential"
    decay_rate: float
    decay_steps: int  # updates per decay of the exponential schedule
    n_threads: int


def step_size(params, t):
    """The step size after ``t`` updates (the schedule of the MF solver)."""
    if params.learning_rate_schedule == "constant":
        return params.learning_rate
    return params.learning_rate * params.decay_rate ** (t // params.decay_steps)


# Estimated nanoseconds (see ``_chunks``) per multiply-add of a factor, and per
# rating and per group beyond their factors: calls of 1M ratings with implicit
# feedback at K = 10 and 32 took 0.17 to 0.27 s on a loaded machine with these.
_PER_ENTRY = 2.5
_PER_RATING = 40.0
_PER_GROUP = 100.0


class PackedBlocks:
    """The blocks' rows in one CSR layout over global feature numbers.

    Block ``b``'s feature ``j`` is global feature ``offsets[b] + j``; its row
    ``r`` is entries ``indptr[block_ptr[b] + r]:indptr[block_ptr[b] + r + 1]``.
    ``rows[b, n]`` is rating ``n``'s row of block ``b``.
    """

    def __init__(self, blocks):
        sizes = [block.n_features for block in blocks]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_features = int(self.offsets[-1])
        indptrs, indices, data, starts = [], [], [], [0]
        nnz = 0
        for block, offset in zip(blocks, self.offsets[:-1], strict=True):
            ptr, cols, vals = block.csr
            indptrs.append(ptr + nnz)
            indices.append(cols.astype(np.int64) + offset)
            data.append(vals)
            nnz += int(ptr[-1])
            starts.append(starts[-1] + ptr.shape[0])
        self.indptr = np.concatenate(indptrs).astype(np.int64)
        self.indices = np.concatenate(indices).astype(np.int32)
        self.data = np.ascontiguousarray(np.concatenate(data), dtype=np.float64)
        self.block_ptr = np.asarray(starts, dtype=np.int64)
        self.rows = np.ascontiguousarray(
            np.stack([block.rows for block in blocks]), dtype=np.int32
        )
        self.groups = np.concatenate([block.groups for block in blocks]).astype(
            np.int64
        )

    def row_nnz(self, b):
        """Non-zeros of each row of block ``b``."""
        ptr = self.indptr[self.block_ptr[b] : self.block_ptr[b + 1]]
        return np.diff(ptr)

    def predict(self, w, v, bias, n_threads):
        """Each rating's prediction (without the intercept)."""
        out = np.empty(self.rows.shape[1])
        predict_ratings(
            self.rows, self.block_ptr, self.indptr, self.indices, self.data,
            w, v, float(bias), out, n_threads,
        )  # fmt: skip
        return out


class FMSGDSolver(Solver):
    """Runs one SGD epoch at a time over the ratings, grouped by block-0 row.

    Parameters
    ----------
    ratings : Ratings
        The training ratings; ``values`` are the ratings minus the intercept
        and ``weights`` the sample weights (empty: all ones).
    model : FMParameters
        The starting point; updated in place. Its ``biases`` and ``factors``
        are replaced by views of one float64 array each, in block order.
    params : FMSGDParams
    rng : numpy.random.RandomState
        Shuffles each group's ratings when the solver is built, then draws
        each epoch's order of groups and their starting offsets.
    blocks : list of Block
        The relation blocks, in the order of ``model.biases``. The ratings
        are grouped by their row of ``blocks[0]``.

    Attributes
    ----------
    n_updates : int
        Ratings visited so far, for the step-size schedule.
    """

    def __init__(self, ratings, model, params, rng, blocks):
        super().__init__(ratings, model, params, rng)
        self.packed = packed = PackedBlocks(blocks)
        self.values = np.ascontiguousarray(ratings.values, dtype=np.float64)
        self.weights = np.ascontiguousarray(ratings.weights, dtype=np.float64)
        n_ratings = self.values.shape[0]
        n_components = model.factors[0].shape[1]
        self.w = np.ascontiguousarray(np.concatenate(model.biases), np.float64)
        self.v = np.ascontiguousarray(
            np.concatenate(model.factors).reshape(-1, n_components), np.float64
        )
        offsets = packed.offsets
        model.biases = [
            self.w[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        ]
        model.factors = [
            self.v[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        ]
        model.bias = float(model.bias)
        self.n_updates = 0

        # The groups: the ratings of each block-0 row that has any, in a
        # random order within the group, drawn once.
        first = packed.rows[0]
        n_rows = blocks[0].n_rows
        order = np.lexsort((rng.random_sample(n_ratings), first)).astype(np.int32)
        counts = np.bincount(first, minlength=n_rows)
        nonempty = np.flatnonzero(counts)
        self.group_rows = nonempty.astype(np.int32)
        self.group_ptr = np.concatenate([[0], np.cumsum(counts[nonempty])]).astype(
            np.int64
        )
        self.group_order = order

        # Each feature's share of the penalty per unit of weight: lambda / C_j,
        # C_j the weight of the ratings whose rows hold the feature.
        weight = self.weights if self.weights.size else None
        seen = np.zeros(packed.n_features)
        for b, block in enumerate(blocks):
            row_weight = np.bincount(block.rows, weight, minlength=block.n_rows)
            present = block.matrix().copy()
            present.data[:] = 1.0
            seen[offsets[b] : offsets[b + 1]] = present.T @ row_weight
        with np.errstate(divide="ignore"):
            inverse = np.where(seen > 0, 1.0 / np.maximum(seen, 1e-300), 0.0)
        groups = packed.groups
        self.reg_w = np.ascontiguousarray(params.reg_bias[groups] * inverse)
        self.reg_v = np.ascontiguousarray(params.reg_factors[groups] * inverse)

        # Estimated work of each group (see _chunks), to cut epochs into calls.
        per_rating = np.ones(n_ratings)
        for b in range(1, len(blocks)):
            per_rating += packed.row_nnz(b)[packed.rows[b]]
        rating_cost = np.bincount(
            first, per_rating * (_PER_ENTRY * 2 * n_components) + _PER_RATING,
            minlength=n_rows,
        )  # fmt: skip
        own = packed.row_nnz(0) * (_PER_ENTRY * 2 * n_components) + _PER_GROUP
        self.group_costs = (rating_cost + own)[nonempty]

    @property
    def n_groups(self):
        return self.group_rows.shape[0]

    def step(self):
        """Run one epoch; return the weighted sum of squared errors it saw.

        Each rating's error is measured just before its step; the penalty is
        not included.
        """
        p, model, rng = self.params, self.model, self.rng
        positions = rng.permutation(self.n_groups).astype(np.int64)
        sizes = np.diff(self.group_ptr)[positions]
        offsets = (rng.random_sample(self.n_groups) * sizes).astype(np.int64)
        losses = np.zeros(self.n_groups)
        errors = np.zeros(self.n_groups)
        totals = np.zeros(self.n_groups)
        calls = _chunks.bounds(self.group_costs[positions], p.n_threads)
        packed = self.packed
        done = np.concatenate([[0], np.cumsum(sizes)])
        for start, stop in zip(calls[:-1], calls[1:], strict=True):
            lr = step_size(p, self.n_updates + int(done[start]))
            sgd_groups(
                self.group_ptr, self.group_order, self.group_rows,
                positions[start:stop], offsets[start:stop], packed.rows,
                packed.block_ptr, packed.indptr, packed.indices, packed.data,
                self.values, self.weights, self.w, self.v, self.reg_w,
                self.reg_v, model.bias, lr, p.n_threads, losses[start:stop],
                errors[start:stop], totals[start:stop],
            )  # fmt: skip
            # w_0 is shared by every rating, so it moves between calls only
            # (which keeps the threads from fighting over it), by a step on
            # the call's mean error: the groups have already corrected their
            # own errors, so a full correction would count them twice.
            weight = _sum_in_order(totals[start:stop])
            if weight > 0:
                model.bias += lr * _sum_in_order(errors[start:stop]) / weight
        self.n_updates += int(done[-1])
        return _sum_in_order(losses)

    def predict(self, n_threads=1):
        """Each training rating's prediction under the current parameters."""
        return self.packed.predict(self.w, self.v, self.model.bias, n_threads)


def _sum_in_order(x):
    # math.fsum would do too; a plain cumulative sum is in index order, so it
    # does not depend on how an epoch was cut into calls.
    return float(np.cumsum(x)[-1]) if x.shape[0] else 0.0
