"""Python driver of the SGD solver: blocking, visiting order and step sizes."""

import numpy as np

from ._group_fast import group_by
from ._sgd_fast import sgd_blocks

LOSS_CODES = {"squared_error": 0, "absolute_error": 1}


def n_blocks(n_threads):
    """Side of the grid of blocks.

    Several blocks per thread let the dynamic schedule even out blocks of
    unequal size. It depends on the thread count only beyond 4 threads, so
    fits with 1 to 4 threads give identical models.
    """
    return max(8, 2 * n_threads)


def step_size(params, t):
    """The step size after ``t`` updates."""
    if params.learning_rate_schedule == "constant":
        return params.learning_rate
    return params.learning_rate * params.decay_rate ** (t // params.decay_steps)


class SGDSolver:
    """Runs one epoch at a time of parallel SGD over a grid of rating blocks.

    Users and items are dealt at random into ``B`` groups each, splitting the
    ratings into a B x B grid of blocks (LIBMF's scheme). An epoch is B strata,
    taken in a random order; a stratum is B blocks that share no user and no
    item (a "diagonal" of the grid), updated in parallel. Lock-free SGD over
    shared rows instead fights over cache lines: it was measured slower on two
    threads than on one.

    The ratings are shuffled once, then grouped by block; each epoch starts
    every block at a random offset and wraps around. The step size is constant,
    or decays exponentially in a staircase, ``learning_rate * decay_rate **
    (t // decay_steps)`` after ``t`` updates, evaluated at the start of each
    stratum.
    """

    def __init__(self, ratings, model, params, rng):
        self.model = model
        self.params = params
        self.rng = rng
        self.n_updates = 0
        self.n_blocks = B = n_blocks(params.n_threads)

        user_group = rng.permutation(ratings.n_users) % B
        item_group = rng.permutation(ratings.n_items) % B
        shuffled = rng.permutation(ratings.n_ratings)
        block = user_group[ratings.users[shuffled]].astype(np.int64) * B
        block += item_group[ratings.items[shuffled]]
        self.block_ptr, order = group_by(block, B * B)
        order = shuffled[order]
        del shuffled, block
        self.users = ratings.users[order]
        self.items = ratings.items[order]
        self.values = ratings.values[order]
        self.weights = (
            ratings.weights[order] if ratings.weights.size else ratings.weights
        )

    def strata(self):
        """Block indices of each stratum of one epoch, in a random order."""
        B = self.n_blocks
        rows = np.arange(B, dtype=np.int64)
        for shift in self.rng.permutation(B):
            yield rows * B + (rows + shift) % B

    def epoch(self):
        """Run one pass; return the weighted sum of the data loss it saw."""
        m, p = self.model, self.params
        sizes = np.diff(self.block_ptr)
        total = 0.0
        for blocks in self.strata():
            offsets = (self.rng.random(blocks.size) * sizes[blocks]).astype(np.int64)
            total += sgd_blocks(
                self.users, self.items, self.values, self.weights,
                self.block_ptr, blocks, offsets,
                m.user_factors, m.item_factors, m.user_bias, m.item_bias,
                step_size(p, self.n_updates), p.alpha, LOSS_CODES[p.loss],
                p.fit_biases, p.n_threads,
            )  # fmt: skip
            self.n_updates += int(sizes[blocks].sum())
        return total
