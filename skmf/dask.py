"""Matrix factorization fitted on a Dask cluster, on the local models' kernels.

The ratings never come to the client. They are read partition by partition on
the workers, their ids are counted per partition and the counts reduced into
the sorted id tables; then each partition is read again and cut by blocks of
consecutive user rows, the user blocks are built from the pieces and the item
blocks cut from the user blocks (blocked ALS, after Spark MLlib's
``ALS.scala``). Each block records the rows of the other side that its ratings
name, with its columns renumbered into them (the out-blocks), is built once by
a task and stays on a worker as a Dask future.

Training is the local models' own: a private subclass of
:class:`~skmf.MatrixFactorization` (or :class:`~skmf.ImplicitMatrixFactorization`)
replaces only the hooks that touch the data (``_encode_ratings``,
``_make_solver``, ``_training_loss`` and ``_loss_bound``), so the one training
loop of ``skmf._base`` runs unchanged. Its solver is a
:class:`~skmf._solvers._base.Solver` whose ``step()`` submits one task per block
and half-sweep; each task runs the same compiled half-sweep kernel as a local
fit on its block of rows, with the fixed side's factors that the block names.
The factors stay on the workers: a sweep brings to the client only each
block's share of the loss. Every ``checkpoint_interval`` sweeps (and at the
end) the client gathers them, and the next sweep starts from tasks that hold
that copy, so that Dask, which recomputes lost results from their tasks, never
has to go further back. Nothing is scattered: scattered data is lost with its
worker.

Rows are independent and each row sees its ratings in the order a local fit
does, so a distributed fit equals the local one with the same seed.
"""

import math
import time
import warnings
from dataclasses import dataclass, replace
from numbers import Integral

try:
    import dask
    import distributed
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "skmf.dask needs Dask's distributed scheduler, which skmf installs with "
        "its 'dask' extra: pip install 'skmf[dask]'."
    ) from exc

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import Interval, StrOptions, _fit_context
from ._implicit import ImplicitMatrixFactorization, _check_counts
from ._mf import MatrixFactorization
from ._recommend import seen_matrix
from ._solvers import _chunks
from ._solvers._als_fast import als_half_sweep
from ._solvers._base import Solver
from ._solvers._group_fast import group_rows
from ._solvers._implicit_fast import implicit_half_sweep
from ._solvers.als import ALSParams, als_row_costs
from ._solvers.implicit_als import ImplicitALSParams, implicit_row_costs
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import Pairs, _check_ids, _column_values, check_ratings

__all__ = ["DaskImplicitMatrixFactorization", "DaskMatrixFactorization"]

# Ratings per block below which the default n_blocks uses fewer blocks than
# the cluster has threads: a task of fewer ratings runs for well under 100 ms,
# where Dask's per-task cost (about 1 ms) and the transfers start to show.
_MIN_BLOCK_RATINGS = 100_000
# Ratings per partition when an in-memory table is cut into partitions.
_PARTITION_RATINGS = 1_000_000
# The column that carries y beside X's two columns on the way to the workers.
_Y_COLUMN = "__skmf_y_"
# Futures merged by one task of a tree reduction.
_FAN_IN = 8


# ----------------------------------------------------------------------
# Tasks: module-level functions, so that workers import them by name.


def _read_partition(X, partition, implicit):
    """One partition's ids and values as arrays, checked as a local fit does.

    The values are its third column, if any.
    """
    y = None
    if X.shape[1] == 3:
        X, y = X.iloc[:, :2], X.iloc[:, 2]
    try:
        if X.shape[1] != 2:
            raise ValueError(
                f"X must have exactly two columns, the user id and the item id; "
                f"got {X.shape[1]}."
            )
        pairs = Pairs(*(_column_values(X.iloc[:, j]) for j in range(2)))
        _check_ids(pairs)
        if y is None:
            values = np.ones(len(pairs))
        else:
            if len(y) != len(pairs):
                raise ValueError(
                    f"X and y have {len(pairs)} and {len(y)} rows: take both from "
                    "one DataFrame, e.g. ddf[['user', 'item']] and ddf['rating']."
                )
            values = np.asarray(check_ratings(y), dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    "y has a NaN or infinite value; every rating must be a finite "
                    "number. Drop or fill those rows first."
                )
            if implicit:
                _check_counts(values)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"In partition {partition} of the input: {exc}") from None
    return pairs.users, pairs.items, values


def _id_counts(ids):
    """The distinct ids of one array and how often each occurs (unsorted)."""
    dtype = object if ids.dtype == object else None
    counts = pd.Series(ids, dtype=dtype).value_counts(sort=False, dropna=False)
    return counts


def _partition_summary(part):
    users, items, y = part
    return (
        _id_counts(users),
        _id_counts(items),
        y.shape[0],
        math.fsum(y),
        float(y.min()) if y.size else math.inf,
        float(y.max()) if y.size else -math.inf,
    )


def _merge_summaries(*parts):
    def merge(series):
        return pd.concat(series).groupby(level=0, sort=False).sum()

    try:
        return (
            merge([p[0] for p in parts]),
            merge([p[1] for p in parts]),
            sum(p[2] for p in parts),
            math.fsum(p[3] for p in parts),
            min(p[4] for p in parts),
            max(p[5] for p in parts),
        )
    except TypeError as exc:
        raise _mixed_ids_error(exc) from None


def _mixed_ids_error(exc):
    return TypeError(
        "The ids in one column of X must be mutually comparable (all numbers or "
        f"all strings); got a mix ({exc}). Convert the column to one type, e.g. "
        "X.astype(str)."
    )


def _sorted_ids(counts):
    """The sorted distinct ids (as a local fit sorts them) and their counts."""
    values = counts.index.to_numpy()
    if values.dtype != object and counts.index.dtype == object:
        values = values.astype(object)
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as exc:
        raise _mixed_ids_error(exc) from None
    ids = np.asarray(uniques)
    n = np.zeros(ids.shape[0], dtype=np.int64)
    n[codes] = counts.to_numpy()
    return ids, n


def _ids_of(summary, column):
    """``(ids, counts)`` of the users (column 0) or the items (1)."""
    return _sorted_ids(summary[column])


def _totals(summary):
    return summary[2:]


def _piece(pieces, block):
    return pieces[block]


def _encode_split(
    part, user_table, item_table, user_bounds, intercept, dtype, implicit
):
    """A partition's ratings as codes and values, cut by block of users.

    Returns one ``(indptr, items, values)`` per user block, its rows grouped
    by user in the order of the input: 8 bytes a rating, where the raw
    partition took 24 or more. The item blocks are cut from the user blocks
    later, so that no second copy of the ratings waits beside the first.
    """
    users, items, y = part
    user_codes = pd.Index(user_table[0]).get_indexer(users).astype(np.int32)
    item_codes = pd.Index(item_table[0]).get_indexer(items).astype(np.int32)
    del users, items, part
    # A local fit fits ``y - mean`` in the model's dtype; implicit feedback
    # sums the counts of repeated pairs first, in float64.
    values = y if implicit else (y - intercept).astype(dtype)
    indptr, item_codes, values, _ = group_rows(
        user_codes, len(user_table[0]), item_codes, values, np.empty(0, values.dtype)
    )
    pieces = []
    for start, stop in zip(user_bounds[:-1], user_bounds[1:], strict=True):
        first, last = indptr[start], indptr[stop]
        pieces.append(
            (
                indptr[start : stop + 1] - first,
                item_codes[first:last].copy(),
                values[first:last].copy(),
            )
        )
    return pieces


def _merge_rows(n_rows, pieces, dtype):
    """Pieces of the same rows, CSR style, merged row by row in their order."""
    counts = np.zeros(n_rows, dtype=np.int64)
    for piece in pieces:
        counts += np.diff(piece[0])
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    cols = np.empty(indptr[-1], dtype=np.int32)
    values = np.empty(indptr[-1], dtype=dtype)
    fill = indptr[:-1].copy()
    for piece_indptr, piece_cols, piece_values in pieces:
        n = np.diff(piece_indptr)
        # Each rating goes after those of the earlier pieces in its row.
        dest = np.repeat(fill - piece_indptr[:-1], n)
        dest += np.arange(piece_cols.shape[0])
        cols[dest] = piece_cols
        values[dest] = piece_values
        fill += n
    return indptr, cols, values


def _compact(csr, col_bounds):
    """The block with its columns renumbered into the sorted set it uses.

    Returns ``(csr, need)``: ``need`` holds the fixed side's rows that the
    block's ratings name, so that a half-sweep sends the block only those
    (Spark MLlib's out-blocks). Of a fixed block whose rows it names at
    least half of, it takes them all: the fixed block then comes whole, and
    no task picks the rows out of it every half-sweep.
    """
    used = np.zeros(col_bounds[-1], dtype=bool)
    used[csr[1]] = True
    for start, stop in zip(col_bounds[:-1], col_bounds[1:], strict=True):
        if 2 * np.count_nonzero(used[start:stop]) >= stop - start:
            used[start:stop] = True
    need = np.flatnonzero(used).astype(np.int32)
    position = np.cumsum(used, dtype=np.int32)
    position -= 1
    return (csr[0], position[csr[1]], *csr[2:]), need


def _build_user_block(n_rows, col_bounds, dtype, confidence, *pieces):
    """One block of users, CSR style, for the kernel, from every partition's piece.

    The rows' ratings are in the order of a local fit's layout: by user in
    the order of the input (implicit feedback: repeated pairs summed, items
    in increasing order).
    """
    value_dtype = np.float64 if confidence is not None else dtype
    indptr, cols, values = _merge_rows(n_rows, pieces, value_dtype)
    if confidence is None:
        return _compact((indptr, cols, values, np.empty(0, dtype)), col_bounds)
    counts = sp.csr_matrix((values, cols, indptr), shape=(n_rows, col_bounds[-1]))
    del indptr, cols, values
    counts.sum_duplicates()
    counts.eliminate_zeros()
    conf = confidence.in_dtype(counts.data, dtype)
    csr = (counts.indptr.astype(np.int64), counts.indices.astype(np.int32), conf)
    return _compact(csr, col_bounds)


def _cut_items(block, user_start, item_start, item_stop):
    """The ratings of one user block with items in ``item_start:item_stop``,
    grouped by item with the users in increasing order."""
    csr, need = block
    indptr, cols, values = csr[0], csr[1], csr[2]
    lo, hi = np.searchsorted(need, [item_start, item_stop])
    keep = (cols >= lo) & (cols < hi)
    rows = np.repeat(np.arange(indptr.shape[0] - 1, dtype=np.int32), np.diff(indptr))
    users = rows[keep]
    del rows
    users += np.int32(user_start)
    items = need[cols[keep]] - np.int32(item_start)
    indptr, users, values, _ = group_rows(
        items, item_stop - item_start, users, values[keep], np.empty(0, values.dtype)
    )
    return indptr, users, values


def _build_item_block(n_rows, col_bounds, dtype, implicit, *pieces):
    """One block of items from its cuts of every user block, in user order.

    A stable grouping of the by-user layout, as a local fit's item layout.
    """
    indptr, cols, values = _merge_rows(n_rows, pieces, dtype)
    csr = (
        (indptr, cols, values)
        if implicit
        else (indptr, cols, values, np.empty(0, dtype))
    )
    return _compact(csr, col_bounds)


def _block_stats(block, fixed_bounds):
    """Ratings per row, the sum and sum of squares of the values, and how
    many rows of each fixed-side block the block's ratings name."""
    csr, need = block
    values = csr[2].astype(np.float64)
    return (
        np.diff(csr[0]),
        float(values.sum()),
        float(values @ values),
        np.diff(np.searchsorted(need, fixed_bounds)),
    )


def _take(block, start, stop):
    """Positions, within the fixed block of rows ``start:stop``, of the rows
    that the block's ratings name."""
    need = block[1]
    lo, hi = np.searchsorted(need, [start, stop])
    return need[lo:hi] - np.int32(start)


def _seen_part(block):
    csr, need = block
    return csr[0], need[csr[1]]


def _factor_root(factors, bias):
    """A block of factors from the client's copy: where recomputation stops."""
    return factors, bias, None


def _rows_of(result, take):
    """The rows ``take`` of a block of factors (on the worker that holds it)."""
    rows, bias = result[0], result[1]
    return rows[take], bias[take] if bias.size else bias


def _fixed_side(parts):
    """The fixed side's factors that a block needs, in the order of its columns.

    ``parts`` holds, for each fixed block that the block's ratings name, the
    block's factors whole or only the rows it needs (by :func:`_rows_of`).
    """
    # A fresh array: the inputs are results held by the worker.
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
    )


def _stats(result):
    return result[2]


def _describe(side, start):
    return lambda row: (
        f"row {start + row} of the {side}s has no positive definite normal equations"
    )


def _als_block(block, own, fixed, params, side, start, compute_loss):
    """One ALS half-sweep over one block of rows, by the local kernel.

    Returns the new rows and biases, with the rows' losses (if asked) and
    their part of the penalty: what the client needs of a sweep.
    """
    (indptr, cols, values, weights), _ = block
    # The inputs are results held by the worker (and by the client's futures):
    # they must not change, so that a recomputation sees them as they were.
    rows, row_bias = own[0].copy(), own[1].copy()
    col_factors, col_bias = _fixed_side(fixed)
    p = replace(params, n_threads=effective_n_threads(params.n_threads))
    row_loss = np.zeros(rows.shape[0]) if compute_loss else None
    bounds = _chunks.bounds(
        als_row_costs(indptr, rows.shape[1], p.fit_biases, p.cg_steps), p.n_threads
    )

    def call(first, last, loss):
        return als_half_sweep(
            indptr, cols, values, weights, rows, row_bias, col_factors, col_bias,
            p.alpha, p.fit_biases, p.n_threads, p.cg_steps, compute_loss,
            first, last, loss, row_loss,
        )  # fmt: skip

    with single_threaded_blas():
        _chunks.run_rows(call, bounds, _describe(side, start))
    # The local model's penalty, row by row: ratings times squared norms.
    squares = np.einsum("ij,ij->i", rows, rows)
    if row_bias.size:
        squares = squares + row_bias.astype(np.float64) ** 2
    penalty = float(np.diff(indptr) @ squares)
    return rows, row_bias, (row_loss, penalty)


def _implicit_block(block, own, fixed, gram, params, side, start, compute_loss):
    """One implicit-ALS half-sweep over one block of rows, by the local kernel."""
    (indptr, cols, values), _ = block
    rows = own[0].copy()
    col_factors, _ = _fixed_side(fixed)
    n_threads = effective_n_threads(params.n_threads)
    row_loss = np.zeros(rows.shape[0]) if compute_loss else None
    bounds = _chunks.bounds(
        implicit_row_costs(indptr, rows.shape[1], params.cg_steps), n_threads
    )

    def call(first, last, loss):
        return implicit_half_sweep(
            indptr, cols, values, rows, col_factors, gram[1], params.cg_steps,
            compute_loss, n_threads, first, last, loss, row_loss,
        )  # fmt: skip

    with single_threaded_blas():
        _chunks.run_rows(call, bounds, _describe(side, start))
    penalty = float(np.sum(rows.astype(np.float64) ** 2))
    return rows, own[1], (row_loss, penalty)


def _gram(reg, *results):
    """``Y^T Y`` of a side's factors as the local solver has it, and with
    ``reg`` added to its diagonal (as the kernel takes it).

    One product over the whole side, as the local solver computes it: a sum
    of the blocks' products rounds differently in float32, and conjugate
    gradient magnifies that into differences of the factors well past
    float32 rounding.
    """
    # A fresh, aligned array: numpy multiplies unaligned arrays (a result may
    # sit unaligned in the message it came in) by its own loop, which rounds
    # differently from BLAS.
    rows = np.concatenate([r[0] for r in results])
    gram = rows.T @ rows
    regularized = np.array(gram, order="C")
    regularized[np.diag_indices_from(regularized)] += reg
    return gram, regularized


def _gram_loss(user_gram, item_gram):
    """What every cell pays, ``sum(U G U^T)``, by the Gram matrices
    (``trace(U^T U G)``), without the factors."""
    return float(np.einsum("ij,ij->", user_gram[0], item_gram[0], dtype=np.float64))


def _predict_partition(X, model):
    if len(X) == 0:
        return pd.Series(np.empty(0), index=X.index, dtype=np.float64)
    return pd.Series(model.predict(X), index=X.index, dtype=np.float64)


# ----------------------------------------------------------------------
# The client's side: the data as blocks, and the solver.


@dataclass
class _BlockedRatings:
    """The training ratings as blocks on the workers, and what the client knows.

    Takes the place of ``Ratings`` in the training loop; the arrays stay on
    the workers as futures of the block tasks.
    """

    client: object
    user_blocks: list  # futures of ((indptr, items, values[, weights]), need)
    item_blocks: list
    user_bounds: np.ndarray  # block b holds rows bounds[b]:bounds[b + 1]
    item_bounds: np.ndarray
    # For each block and each fixed-side block: a future of the positions of
    # the rows that the block needs from it, or None for all or none of them
    # (``user_needs[b][c]`` says how many).
    user_takes: list
    item_takes: list
    user_needs: list
    item_needs: list
    n_users: int
    n_items: int
    n_ratings: int  # pairs the solver fits (implicit: repeats summed)
    per_user: np.ndarray  # ratings per user row
    per_item: np.ndarray
    value_sum: float  # of the fitted values, float64
    value_squares: float

    def __len__(self):
        return self.n_ratings


def _tree_reduce(client, func, futures):
    while len(futures) > 1:
        futures = [
            client.submit(func, *futures[i : i + _FAN_IN])
            for i in range(0, len(futures), _FAN_IN)
        ]
    return futures[0]


def _cost_bounds(counts, n_blocks, row_costs):
    """Cut the rows into ``n_blocks`` ranges of about equal estimated work."""
    n = counts.shape[0]
    n_blocks = max(1, min(n_blocks, n))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total = np.cumsum(row_costs(indptr))
    targets = total[-1] * np.arange(1, n_blocks) / n_blocks
    cuts = np.searchsorted(total, targets, side="right")
    # Every block keeps at least one row.
    cuts = np.maximum(cuts, np.arange(1, n_blocks))
    cuts = np.minimum(cuts, n - n_blocks + np.arange(1, n_blocks))
    cuts = np.maximum.accumulate(cuts)
    return np.unique(np.concatenate([[0], cuts, [n]])).astype(np.int64)


class _DaskHalfSweeps(Solver):
    """The half-sweeps of a fit as Dask tasks, one per block of rows.

    The factors stay on the workers, as the futures of each block's last
    task; a sweep brings to the client only each block's share of the loss.
    Every ``checkpoint_interval`` sweeps (and at the end) the client gathers
    the factors into ``self.model`` and roots them again in tasks that hold
    that copy, so that Dask, which recomputes lost results from their tasks,
    never goes further back. The futures of the previous sweep are kept until
    the next one is done.
    """

    def __init__(self, ratings, model, params, rng, *, checkpoint_interval):
        super().__init__(ratings, model, params, rng)
        self.client = ratings.client
        self.checkpoint_interval = checkpoint_interval
        self.n_sweeps = 0
        self.users = self.items = None  # futures of each block's factors
        self.penalty = None  # of the last sweep, before multiplying by alpha

    def _root(self):
        """The current factors as tasks that hold a copy of them."""
        m, r = self.model, self.ratings
        with warnings.catch_warnings():
            # The copy is the point: the scheduler keeps it to recompute from.
            warnings.filterwarnings("ignore", message=".*[Ll]arge.*")
            return tuple(
                [
                    self.client.submit(
                        _factor_root,
                        factors[a:b].copy(),
                        bias[a:b].copy() if bias.size else bias,
                        pure=False,
                    )
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                ]
                for factors, bias, bounds in (
                    (m.user_factors, m.user_bias, r.user_bounds),
                    (m.item_factors, m.item_bias, r.item_bounds),
                )
            )

    def _pull(self):
        """The factors of the workers into the client's model, in place."""
        m, r = self.model, self.ratings
        for futures, factors, bias, bounds in (
            (self.users, m.user_factors, m.user_bias, r.user_bounds),
            (self.items, m.item_factors, m.item_bias, r.item_bounds),
        ):
            for b, (rows, row_bias, _) in enumerate(self.client.gather(futures)):
                factors[bounds[b] : bounds[b + 1]] = rows
                if bias.size:
                    bias[bounds[b] : bounds[b + 1]] = row_bias

    def _fixed(self, fixed, takes, needs):
        """For each block, what it needs of the fixed side's factors: whole
        fixed blocks, and the rows it needs of the others, taken by a small
        task where they are."""
        per_block = []
        for block_takes, block_needs in zip(takes, needs, strict=True):
            parts = []
            for c, (take, n) in enumerate(zip(block_takes, block_needs, strict=True)):
                if n == 0:
                    continue
                if take is None:
                    parts.append(fixed[c])
                else:
                    taken = self.client.submit(_rows_of, fixed[c], take, pure=False)
                    self._submitted.append(taken)
                    parts.append(taken)
            per_block.append(parts)
        return per_block

    def _submit(self, func, blocks, own, fixed, bounds, side, compute_loss, *extra):
        futures = [
            self.client.submit(
                func,
                block,
                own[b],
                fixed[b],
                *extra,
                self.params,
                side,
                int(bounds[b]),
                compute_loss,
                pure=False,
            )
            for b, block in enumerate(blocks)
        ]
        self._submitted += futures
        return futures

    def _half_sweep(self, func, side, own, fixed, compute_loss, *extra):
        r = self.ratings
        if side == "user":
            blocks, bounds, takes, needs = (
                r.user_blocks, r.user_bounds, r.user_takes, r.user_needs
            )  # fmt: skip
        else:
            blocks, bounds, takes, needs = (
                r.item_blocks, r.item_bounds, r.item_takes, r.item_needs
            )  # fmt: skip
        parts = self._fixed(fixed, takes, needs)
        return self._submit(
            func, blocks, own, parts, bounds, side, compute_loss, *extra
        )

    def _collect(self, futures):
        """The small results of a sweep: waits for the sweep to end."""
        return self.client.gather(futures)

    def _stats(self, users, items):
        stats = [self.client.submit(_stats, f) for f in users + items]
        self._submitted += stats
        return stats

    @staticmethod
    def _sum_in_order(row_loss):
        # The kernels sum the rows' losses one by one in row order, carried
        # from call to call; so does a cumulative sum over all the blocks.
        return float(np.cumsum(row_loss)[-1]) if row_loss.size else 0.0

    def _losses(self, stats):
        """The data loss of the item rows and the penalty of both sides."""
        row_loss = [s[0] for s in stats if s[0] is not None]
        row_loss = np.concatenate(row_loss) if row_loss else np.empty(0)
        self.penalty = math.fsum(s[1] for s in stats)
        return self._sum_in_order(row_loss)

    def step(self):
        held = self.users, self.items
        self._submitted = []
        try:
            if self.users is None or self.n_sweeps % self.checkpoint_interval == 0:
                if self.users is not None:
                    self._pull()
                self.users, self.items = self._root()
            users, items, loss = self._sweep()
        except BaseException:
            # A kernel's failure, Ctrl-C or a lost cluster: nothing of this
            # sweep is wanted any more.
            self.client.cancel(self._submitted)
            self.users, self.items = held
            raise
        self.users, self.items = users, items
        self.n_sweeps += 1
        return loss

    def finish(self):
        """Bring the last sweep's factors to the client's model."""
        if self.users is not None:
            self._pull()


class _DaskALS(_DaskHalfSweeps):
    """Explicit ALS (exact or CG): ``als_half_sweep`` on blocks of rows."""

    def _sweep(self):
        users = self._half_sweep(_als_block, "user", self.users, self.items, False)
        items = self._half_sweep(_als_block, "item", self.items, users, True)
        stats = self._collect(self._stats(users, items))
        return users, items, self._losses(stats)


class _DaskImplicitALS(_DaskHalfSweeps):
    """Implicit ALS: ``implicit_half_sweep`` on blocks of rows.

    The Gram matrices ``Y^T Y`` are the one reduction of each half-sweep,
    by one task over the side's blocks (see :func:`_gram`); the loss of the
    cells left out comes from the two Gram matrices.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._item_gram = None

    def _gram(self, results):
        gram = self.client.submit(_gram, self.params.reg, *results, pure=False)
        self._submitted.append(gram)
        return gram

    def _sweep(self):
        if self._item_gram is None:
            self._item_gram = self._gram(self.items)
        users = self._half_sweep(
            _implicit_block, "user", self.users, self.items, False, self._item_gram
        )
        user_gram = self._gram(users)
        items = self._half_sweep(
            _implicit_block, "item", self.items, users, True, user_gram
        )
        item_gram = self._gram(items)
        every = self.client.submit(_gram_loss, user_gram, item_gram)
        self._submitted.append(every)
        *stats, every = self._collect(self._stats(users, items) + [every])
        self._item_gram = item_gram
        return users, items, float(every + self._losses(stats))


# ----------------------------------------------------------------------
# The local models, trained on blocks: only the hooks that touch the data.


class _BlockedTraining:
    """Hooks shared by the two trainers; the loop is the local model's."""

    _checkpoint_interval = 1

    def _encode_ratings(self, pairs, y, sample_weight):
        # The Dask estimator has already encoded the ids and built the blocks
        # (``pairs`` is the _BlockedRatings); the fitted attributes describing
        # them were set there too.
        return pairs

    def _train(self, solver, model, ratings, stopping=None):
        # The loop's training loss takes the penalty from the solver, which
        # has it from the workers: the factors are not on the client.
        self._blocked_solver = solver
        try:
            model = super()._train(solver, model, ratings, stopping)
            solver.finish()
            return model
        finally:
            del self._blocked_solver


class _BlockedMF(_BlockedTraining, MatrixFactorization):
    def _make_solver(self, ratings, model, rng):
        params = ALSParams(
            alpha=float(self.alpha),
            fit_biases=bool(self.fit_biases),
            cg_steps=0 if self.cg_steps is None else self.cg_steps,
            n_threads=self.n_jobs,  # resolved on each worker
        )
        # What a local fit keeps; the workers resolve n_jobs themselves.
        self._solver_params = replace(
            params, n_threads=effective_n_threads(self.n_jobs)
        )
        self._n_per_user, self._n_per_item = ratings.per_user, ratings.per_item
        self._total_weight = float(ratings.n_ratings)
        return _DaskALS(
            ratings, model, params, rng, checkpoint_interval=self._checkpoint_interval
        )

    def _training_loss(self, data_loss, model):
        # MatrixFactorization's, with the penalty summed on the workers.
        penalty = self._blocked_solver.penalty
        return (data_loss + self.alpha * penalty) / self._total_weight

    def _loss_bound(self, ratings):
        return 1e4 * (ratings.value_squares / ratings.n_ratings + 1)


class _BlockedImplicitMF(_BlockedTraining, ImplicitMatrixFactorization):
    def _make_solver(self, ratings, model, rng):
        params = ImplicitALSParams(
            reg=float(self.alpha), cg_steps=self._cg_steps, n_threads=self.n_jobs
        )
        self._solver_params = replace(
            params, n_threads=effective_n_threads(self.n_jobs)
        )
        self._n_cells = ratings.n_users * ratings.n_items
        return _DaskImplicitALS(
            ratings, model, params, rng, checkpoint_interval=self._checkpoint_interval
        )

    def _training_loss(self, data_loss, model):
        # ImplicitMatrixFactorization's, with the penalty summed on the workers.
        penalty = self._blocked_solver.penalty
        return (data_loss + self.alpha * penalty) / self._n_cells

    def _loss_bound(self, ratings):
        return 1e4 * (ratings.value_sum / (ratings.n_users * ratings.n_items) + 1)


# ----------------------------------------------------------------------
# The public estimators.


def _resolve_client(client):
    if client is not None:
        return client
    try:
        return distributed.default_client()
    except ValueError:
        raise ValueError(
            "The distributed fit needs a Dask client: start one first, e.g. "
            "client = distributed.Client() for a local cluster or "
            "Client('scheduler-address:8786'), or set model.client."
        ) from None


def _worker_threads(client):
    """Threads of each worker, from the scheduler (the client's own copy of
    the scheduler's state may not list workers that started after it)."""
    threads = client.nthreads()
    if not threads:
        try:
            client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            raise ValueError(
                "The Dask cluster has no worker: start some (e.g. dask worker "
                "tcp://scheduler:8786) or scale the cluster, then fit again."
            ) from None
        threads = client.nthreads()
    return threads


def _is_dask_collection(obj):
    return dask.is_dask_collection(obj)


class _DaskFactorModel(BaseEstimator):
    """What the two Dask estimators share: client, blocks, predict, to_local."""

    _local_class = None  # the plain skmf model that to_local() returns
    _trainer_class = None
    _implicit = False
    # Parameters of the Dask estimator that the local model does not have.
    _own_params = ("n_blocks", "checkpoint_interval")

    _dask_constraints: dict = {
        "n_blocks": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint_interval": [Interval(Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------------------------
    # The client: resolved at fit, never a parameter, never pickled.

    @property
    def client(self):
        """The Dask client of the next fit; None means the current one."""
        return self.__dict__.get("_client")

    @client.setter
    def client(self, value):
        self.__dict__["_client"] = value

    def __getstate__(self):
        if "_user_blocks" in self.__dict__:
            # A pickle must not depend on the cluster: it keeps the seen pairs
            # (as a local model does) and no future.
            try:
                self._gather_seen()
            except Exception:  # the cluster is gone: to_local() will say so
                pass
        state = super().__getstate__()
        for key in ("_client", "_user_blocks", "_blocks_client"):
            state.pop(key, None)
        return state

    # ------------------------------------------------------------------
    # Fit.

    def _local_params(self):
        return {
            k: v for k, v in self.get_params(deep=False).items()
            if k not in self._own_params
        }  # fmt: skip

    def _fit(self, X, y):
        start = time.perf_counter()
        client = _resolve_client(self.client)
        trainer = self._trainer_class(**self._local_params())
        trainer._validate_params()
        trainer._checkpoint_interval = self.checkpoint_interval
        parts = self._partitions(trainer, X, y)
        data = self._blocks(client, trainer, parts)
        del parts
        for name in ("_seen", "_user_blocks", "_blocks_client"):
            self.__dict__.pop(name, None)
        rng = check_random_state(self.random_state)
        trainer._fit_pairs(data, None, None, rng)
        # As for a local fit, from the input to the fitted model: reading and
        # cutting the data into blocks included.
        trainer.fit_time_ = time.perf_counter() - start
        self._trainer = trainer
        for name, value in vars(trainer).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(self, name, value)
        self.n_blocks_ = (len(data.user_blocks), len(data.item_blocks))
        # The user blocks hold the training pairs that to_local() gathers;
        # the item blocks are freed with ``data``.
        self._user_blocks, self._blocks_client = data.user_blocks, client
        return self

    def _partitions(self, trainer, X, y):
        """The input as (X, y) partitions of delayed pandas objects."""
        import dask.dataframe as dd

        if not _is_dask_collection(X):
            # An in-memory table: checked here as a local fit checks it, then
            # cut into partitions by tasks (the partitions' data goes with the
            # tasks, so a lost partition is recomputed, as scattered data is
            # not).
            if self._implicit and y is None:
                pairs, _ = trainer._validate_pairs(X, reset=True)
                y = np.ones(len(pairs))
            else:
                pairs, y = trainer._validate_pairs(X, y, reset=True)
            frame = pd.DataFrame({"user": pairs.users, "item": pairs.items, "y": y})
            n_parts = max(1, math.ceil(len(frame) / _PARTITION_RATINGS))
            return dd.from_pandas(frame, npartitions=n_parts, sort=False).to_delayed()
        else:
            if not isinstance(X, dd.DataFrame):
                raise TypeError(
                    "X must be a Dask DataFrame with two columns, the user id and "
                    f"the item id (or an in-memory table); got {type(X).__name__}."
                )
            if len(X.columns) != 2:
                raise ValueError(
                    "X must have exactly two columns, the user id and the item "
                    f"id; got {len(X.columns)}. Select them, e.g. "
                    "ddf[['user', 'item']]."
                )
            validate_data(trainer, X._meta, skip_check_array=True, reset=True)
            if y is not None:
                if not isinstance(y, dd.Series):
                    raise TypeError(
                        "With a Dask DataFrame X, y must be a Dask Series of the "
                        f"same partitions (e.g. ddf['rating']); got "
                        f"{type(y).__name__}."
                    )
                if y.npartitions != X.npartitions:
                    raise ValueError(
                        f"X and y have {X.npartitions} and {y.npartitions} "
                        "partitions: take both from one DataFrame, e.g. "
                        "ddf[['user', 'item']] and ddf['rating']."
                    )
            elif not self._implicit:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the "
                    "target y is None."
                )
        if y is not None:
            # One frame, so that the graph optimizer cuts X and y alike (it
            # may fuse small partitions) and a file is read once for both.
            names = [str(c) for c in X.columns]
            try:
                X = X.assign(**{_Y_COLUMN + "".join(names): y})
            except (ValueError, NotImplementedError) as exc:
                raise ValueError(
                    f"X and y are not aligned ({exc}): take both from one "
                    "DataFrame, e.g. ddf[['user', 'item']] and ddf['rating']."
                ) from None
        return X.to_delayed()

    def _blocks(self, client, trainer, parts):
        """Ids and blocks, computed on the workers; sets the id attributes."""
        implicit = self._implicit
        read = [
            dask.delayed(_read_partition, pure=True)(part, i, implicit)
            for i, part in enumerate(parts)
        ]
        # First pass: the ids. Each partition is read, counted and let go:
        # no raw partition waits in memory for the others.
        summary = _tree_reduce(
            client,
            _merge_summaries,
            client.compute([dask.delayed(_partition_summary)(r) for r in read]),
        )
        users = client.submit(_ids_of, summary, 0)
        items = client.submit(_ids_of, summary, 1)
        (user_ids, per_user), (item_ids, per_item), totals = client.gather(
            [users, items, client.submit(_totals, summary)]
        )
        del summary
        n, total, low, high = totals
        if n == 0:
            raise ValueError(
                "Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 "
                "is required."
            )
        trainer._check_params(n)
        dtype = trainer._dtype
        trainer.users_, trainer.items_ = user_ids, item_ids
        trainer._id_index("users_")
        trainer._id_index("items_")
        intercept = total / n
        if not implicit:
            _check_spread(intercept, low, high, np.dtype(dtype))
            trainer.intercept_ = intercept
            trainer.rating_range_ = (low, high)
        k = trainer.n_components
        if implicit:

            def costs(indptr):
                return implicit_row_costs(indptr, k, trainer._cg_steps)

        else:
            cg = 0 if trainer.cg_steps is None else trainer.cg_steps

            def costs(indptr):
                return als_row_costs(indptr, k, trainer.fit_biases, cg)

        threads = _worker_threads(client)
        n_blocks = self.n_blocks
        if n_blocks is None:
            n_blocks = max(1, min(sum(threads.values()), n // _MIN_BLOCK_RATINGS))
        user_bounds, item_bounds = (
            _cost_bounds(counts, n_blocks, costs) for counts in (per_user, per_item)
        )
        # Second pass: each partition is read again and leaves only its codes
        # and values, cut by user block, in one task.
        encoded = client.compute(
            [
                dask.delayed(_encode_split)(
                    r, users, items, user_bounds, intercept, dtype, implicit
                )
                for r in read
            ]
        )
        del users, items
        confidence = trainer._confidence if implicit else None
        workers = sorted(threads)

        def spread(b):
            # Blocks spread over the workers; any other worker may take a
            # block over if its own one is lost.
            return dict(workers=[workers[b % len(workers)]], allow_other_workers=True)

        n_items = len(item_ids)
        user_blocks = [
            client.submit(
                _build_user_block,
                int(b1 - b0),
                item_bounds,
                dtype,
                confidence,
                *[client.submit(_piece, e, b) for e in encoded],
                **spread(b),
            )
            for b, (b0, b1) in enumerate(
                zip(user_bounds[:-1], user_bounds[1:], strict=True)
            )
        ]
        # A piece is freed on its worker as soon as its block is built.
        del encoded
        # The item blocks are cut from the user blocks: their ratings are
        # then already grouped by user, in increasing order, as a local fit's
        # item layout wants them.
        item_blocks = [
            client.submit(
                _build_item_block,
                int(c1 - c0),
                user_bounds,
                dtype,
                implicit,
                *[
                    client.submit(_cut_items, block, int(b0), int(c0), int(c1))
                    for block, b0 in zip(user_blocks, user_bounds[:-1], strict=True)
                ],
                **spread(c),
            )
            for c, (c0, c1) in enumerate(
                zip(item_bounds[:-1], item_bounds[1:], strict=True)
            )
        ]
        user_stats, item_stats = (
            client.gather([client.submit(_block_stats, b, fixed) for b in side_blocks])
            for side_blocks, fixed in (
                (user_blocks, item_bounds),
                (item_blocks, user_bounds),
            )
        )
        per_row = [
            np.concatenate([s[0] for s in stats]) for stats in (user_stats, item_stats)
        ]
        value_sum = math.fsum(s[1] for s in user_stats)
        squares = math.fsum(s[2] for s in user_stats)
        n_fitted = int(per_row[0].sum())
        if implicit:
            if n_fitted == 0:
                raise ValueError(
                    "y has no positive value: with every count 0 no pair is "
                    "observed and there is nothing to learn."
                )
        trainer.item_popularity_ = per_row[1]

        def takes(blocks, stats, fixed_bounds):
            # A future only where the block needs some but not all rows.
            return [
                [
                    client.submit(_take, block, int(c0), int(c1))
                    if 0 < m < c1 - c0
                    else None
                    for m, c0, c1 in zip(
                        s[3], fixed_bounds[:-1], fixed_bounds[1:], strict=True
                    )
                ]
                for block, s in zip(blocks, stats, strict=True)
            ]

        return _BlockedRatings(
            client=client,
            user_blocks=user_blocks,
            item_blocks=item_blocks,
            user_bounds=user_bounds,
            item_bounds=item_bounds,
            user_takes=takes(user_blocks, user_stats, item_bounds),
            item_takes=takes(item_blocks, item_stats, user_bounds),
            user_needs=[s[3] for s in user_stats],
            item_needs=[s[3] for s in item_stats],
            n_users=len(user_ids),
            n_items=n_items,
            n_ratings=n_fitted,
            per_user=per_row[0],
            per_item=per_row[1],
            value_sum=value_sum,
            value_squares=squares,
        )

    # ------------------------------------------------------------------
    # After fit.

    def _gather_seen(self):
        """The training pairs as a users x items CSR matrix, from the blocks."""
        if "_seen" in self.__dict__:
            return self._seen
        blocks = self.__dict__.get("_user_blocks")
        if blocks is None:
            raise ValueError(
                "The training pairs of this model are no longer on a cluster (it "
                "was unpickled, or its client closed before they were gathered). "
                "Fit it again, or pickle the result of to_local()."
            )
        client = self._blocks_client
        parts = client.gather([client.submit(_seen_part, b) for b in blocks])
        offsets = np.cumsum([0] + [p[0][-1] for p in parts[:-1]])
        indptr = np.concatenate(
            [[0]] + [p[0][1:] + o for p, o in zip(parts, offsets, strict=True)]
        ).astype(np.int64)
        items = np.concatenate([p[1] for p in parts])
        self._seen = seen_matrix(indptr, items, len(self.items_))
        # Gathered once: the blocks are no longer needed on the workers.
        del self._user_blocks, self._blocks_client
        return self._seen

    def _local_model(self, with_seen):
        check_is_fitted(self)
        local = self._local_class(**self._local_params())
        state = {
            k: v
            for k, v in vars(self._trainer).items()
            if k not in ("_checkpoint_interval",)
        }
        local.__dict__.update(state)
        if with_seen:
            local._seen = self._gather_seen()
        return local

    def to_local(self):
        """The fitted model as a plain, local skmf model.

        It predicts, recommends, folds in, pickles and saves with
        :func:`skmf.save_model` like a model fitted locally, and needs no
        cluster. It shares the fitted arrays with this estimator. The first
        call gathers the training pairs (one int32 per rating), which
        recommending needs to leave out the items a user already has.

        Returns
        -------
        model : MatrixFactorization or ImplicitMatrixFactorization
        """
        return self._local_model(with_seen=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _check_spread(mean, low, high, dtype):
    limit = math.sqrt(np.finfo(dtype).max) / 1e6
    largest = max(high - mean, mean - low)
    if largest > limit:
        raise ValueError(
            f"y spreads {largest:.3g} around its mean, too far for "
            f"{dtype.name} arithmetic (at most {limit:.3g}). Divide the "
            "ratings by a common factor"
            + (" or use dtype='float64'." if dtype == np.float32 else ".")
        )


def _constraints(local, names):
    return {name: local._parameter_constraints[name] for name in names}


class DaskMatrixFactorization(RegressorMixin, _DaskFactorModel):
    r"""Biased matrix factorization by ALS, fitted on a Dask cluster.

    The model, the objective and the meaning of every parameter shared with
    :class:`~skmf.MatrixFactorization` are those of
    ``MatrixFactorization(solver="als")``: with the same seed the two fits
    agree to float rounding. The ratings stay on the workers, cut into blocks
    of users and of items; each half-sweep runs one task per block, which
    solves the block's rows with the local model's compiled kernel. The client
    holds the factors and the id tables, never the ratings.

    The Dask client is resolved at fit: the one set as ``model.client``, else
    the current one (:func:`distributed.default_client`). It is not a
    parameter and is not pickled.

    Parameters
    ----------
    n_components : int, default=100
        Length K of the user and item factor vectors.

    solver : {"als"}, default="als"
        Alternating least squares, exact or by conjugate gradient (see
        ``cg_steps``); the only solver whose half-sweeps split into blocks of
        independent rows.

    alpha : float, default=0.1
        Penalty per rating, as in :class:`~skmf.MatrixFactorization`; must be
        positive.

    fit_biases : bool, default=True
        Learn a bias per user and per item.

    cg_steps : int or None, default=3
        Conjugate-gradient steps per row and half-sweep; None solves every
        row exactly, by Cholesky.

    max_iter : int or None, default=None
        Number of sweeps; None means 15.

    tol : float or None, default=None
        Stop once the training loss has failed to improve by ``tol`` for
        ``n_iter_no_change`` sweeps; None runs ``max_iter`` sweeps.

    n_iter_no_change : int, default=5
        Sweeps without improvement before stopping, when ``tol`` is set.

    init_std : float, default=0.1
        Standard deviation of the initial factors.

    clip : bool, default=True
        Clip predictions to the range of the training ratings.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the factors and of the computation.

    n_jobs : int or None, default=None
        Threads of each task's kernel on its worker. None uses the worker's
        OpenMP budget: one thread on workers started by a nanny (Dask sets
        ``OMP_NUM_THREADS=1`` there), so run one worker thread per core.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors. Pass an int for reproducible fits.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    n_blocks : int or None, default=None
        Blocks of users, and of items, that the ratings are cut into: one task
        per block and half-sweep. None uses the number of worker threads, with
        at most one block per 100,000 ratings, so that each task is long
        enough for Dask's per-task cost not to show. The result does not
        depend on it.

    checkpoint_interval : int, default=5
        Every that many sweeps the factors are copied from the client into
        new tasks, so that recovering from a lost worker never recomputes
        more than that many sweeps.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Factor vector of each user, in the order of ``users_``.

    item_factors_ : ndarray of shape (n_items, n_components)
        Factor vector of each item, in the order of ``items_``.

    user_bias_ : ndarray of shape (n_users,)
        Bias of each user.

    item_bias_ : ndarray of shape (n_items,)
        Bias of each item.

    intercept_ : float
        The mean of the training ratings.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    rating_range_ : tuple of float
        Smallest and largest training rating.

    item_popularity_ : ndarray of shape (n_items,)
        Number of training ratings of each item.

    n_iter_ : int
        Number of sweeps run.

    loss_curve_ : list of float
        Training objective after each sweep, as in
        :class:`~skmf.MatrixFactorization`.

    fit_time_ : float
        Seconds the last fit took, reading and cutting the data included.

    n_blocks_ : tuple of int
        The numbers of user blocks and of item blocks of the fit.

    See Also
    --------
    skmf.MatrixFactorization : The same model fitted in one process.

    Examples
    --------
    >>> import dask.dataframe as dd  # doctest: +SKIP
    >>> from distributed import Client  # doctest: +SKIP
    >>> client = Client()  # doctest: +SKIP
    >>> ddf = dd.read_parquet("ratings/")  # doctest: +SKIP
    >>> mf = DaskMatrixFactorization(n_components=64, random_state=0)  # doctest: +SKIP
    >>> mf.fit(ddf[["user", "item"]], ddf["rating"])  # doctest: +SKIP
    >>> mf.predict(ddf[["user", "item"]])  # a Dask Series  # doctest: +SKIP
    >>> local = mf.to_local()  # a MatrixFactorization  # doctest: +SKIP
    """

    _local_class = MatrixFactorization
    _trainer_class = _BlockedMF

    _parameter_constraints: dict = {
        **_constraints(
            MatrixFactorization,
            [
                "n_components",
                "alpha",
                "fit_biases",
                "cg_steps",
                "max_iter",
                "tol",
                "n_iter_no_change",
                "init_std",
                "clip",
                "dtype",
                "n_jobs",
                "random_state",
                "verbose",
            ],
        ),  # fmt: skip
        "solver": [StrOptions({"als"})],
        **_DaskFactorModel._dask_constraints,
    }

    def __init__(
        self,
        n_components=100,
        *,
        solver="als",
        alpha=0.1,
        fit_biases=True,
        cg_steps=3,
        max_iter=None,
        tol=None,
        n_iter_no_change=5,
        init_std=0.1,
        clip=True,
        dtype="float32",
        n_jobs=None,
        random_state=None,
        verbose=0,
        n_blocks=None,
        checkpoint_interval=5,
    ):
        self.n_components = n_components
        self.solver = solver
        self.alpha = alpha
        self.fit_biases = fit_biases
        self.cg_steps = cg_steps
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.init_std = init_std
        self.clip = clip
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.n_blocks = n_blocks
        self.checkpoint_interval = checkpoint_interval

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the factors and biases from rated (user, item) pairs.

        Parameters
        ----------
        X : dask DataFrame or array-like of shape (n_ratings, 2)
            User id and item id of each rating. An in-memory table (pandas
            DataFrame, array, list of pairs) is checked as a local fit checks
            it, then cut into partitions by tasks.

        y : dask Series or array-like of shape (n_ratings,)
            The ratings: a Dask Series with X's partitions (e.g.
            ``ddf["rating"]`` with ``ddf[["user", "item"]]``) for a Dask X.

        sample_weight : None
            Not supported by the distributed fit; must be None.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if sample_weight is not None:
            raise ValueError(
                "DaskMatrixFactorization does not take sample_weight yet; fit "
                "MatrixFactorization(solver='als') locally for weighted ratings."
            )
        return self._fit(X, y)

    def predict(self, X):
        """Predict the values of (user, item) pairs.

        Parameters
        ----------
        X : dask DataFrame or array-like of shape (n_pairs, 2)
            User id and item id of each pair. A Dask DataFrame is predicted
            partition by partition on the cluster.

        Returns
        -------
        y : dask Series or ndarray of shape (n_pairs,)
            A Dask Series (float64, with X's index) for a Dask DataFrame, an
            array otherwise; unknown users and items are handled as by the
            local model.
        """
        model = self._local_model(with_seen=False)
        if not _is_dask_collection(X):
            return model.predict(X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge.*")
            shared = dask.delayed(model, pure=True)
            return X.map_partitions(
                _predict_partition, shared, meta=pd.Series(dtype=np.float64)
            )


class DaskImplicitMatrixFactorization(_DaskFactorModel):
    r"""Implicit-feedback matrix factorization by weighted ALS, on a Dask cluster.

    The model and the meaning of every parameter shared with
    :class:`~skmf.ImplicitMatrixFactorization` are the local model's: with the
    same seed the two fits agree to float rounding. The observed pairs stay on
    the workers in blocks of users and of items; each half-sweep runs one task
    per block with the local compiled kernel, and the Gram matrix
    :math:`Y^\top Y` of the fixed side, the one reduction a half-sweep needs,
    is computed by one task over that side's blocks, as the local model
    computes it.

    The client is resolved at fit, as for :class:`DaskMatrixFactorization`.

    Parameters
    ----------
    n_components : int, default=100
        Length of the user and item factor vectors.

    alpha : float, default=0.01
        Regularization strength, as in
        :class:`~skmf.ImplicitMatrixFactorization`.

    confidence : {"linear", "log"}, default="linear"
        How ``y`` becomes confidence.

    confidence_scale : float, default=1.0
        The extra confidence per unit of ``y``.

    epsilon : float, default=1.0
        Of the log scaling. Only used when ``confidence="log"``.

    cg_steps : int or None, default=3
        Conjugate-gradient steps per row and half-sweep; None solves every
        row exactly.

    max_iter : int, default=15
        Number of sweeps.

    init_std : float, default=0.01
        Standard deviation of the initial factors.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the factors and of the computation.

    n_jobs : int or None, default=None
        Threads of each task's kernel, as in :class:`DaskMatrixFactorization`.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    n_blocks : int or None, default=None
        Blocks of users, and of items, as in :class:`DaskMatrixFactorization`.

    checkpoint_interval : int, default=5
        Sweeps between copies of the factors into new tasks, as in
        :class:`DaskMatrixFactorization`.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Factor vector of each user, in the order of ``users_``.

    item_factors_ : ndarray of shape (n_items, n_components)
        Factor vector of each item, in the order of ``items_``.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    item_popularity_ : ndarray of shape (n_items,)
        Number of training users of each item.

    n_iter_ : int
        Number of sweeps run.

    loss_curve_ : list of float
        The objective after each sweep, divided by the number of cells.

    fit_time_ : float
        Seconds the last fit took, reading and cutting the data included.

    n_blocks_ : tuple of int
        The numbers of user blocks and of item blocks of the fit.

    See Also
    --------
    skmf.ImplicitMatrixFactorization : The same model fitted in one process.
    """

    _local_class = ImplicitMatrixFactorization
    _trainer_class = _BlockedImplicitMF
    _implicit = True

    _parameter_constraints: dict = {
        **_constraints(
            ImplicitMatrixFactorization,
            [
                "n_components",
                "alpha",
                "confidence",
                "confidence_scale",
                "epsilon",
                "cg_steps",
                "max_iter",
                "init_std",
                "dtype",
                "n_jobs",
                "random_state",
                "verbose",
            ],
        ),  # fmt: skip
        **_DaskFactorModel._dask_constraints,
    }

    def __init__(
        self,
        n_components=100,
        *,
        alpha=0.01,
        confidence="linear",
        confidence_scale=1.0,
        epsilon=1.0,
        cg_steps=3,
        max_iter=15,
        init_std=0.01,
        dtype="float32",
        n_jobs=None,
        random_state=None,
        verbose=0,
        n_blocks=None,
        checkpoint_interval=5,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.confidence = confidence
        self.confidence_scale = confidence_scale
        self.epsilon = epsilon
        self.cg_steps = cg_steps
        self.max_iter = max_iter
        self.init_std = init_std
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.n_blocks = n_blocks
        self.checkpoint_interval = checkpoint_interval

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn user and item factors from (user, item) interactions.

        Parameters
        ----------
        X : dask DataFrame or array-like of shape (n_pairs, 2)
            User id and item id of each interaction, as in
            :meth:`DaskMatrixFactorization.fit`.

        y : dask Series, array-like of shape (n_pairs,) or None, default=None
            Non-negative count of each pair; repeated pairs add up. None
            means 1 for every pair.

        Returns
        -------
        self : DaskImplicitMatrixFactorization
            The fitted estimator.
        """
        return self._fit(X, y)

    def score(self, X, y=None):
        """NDCG@10 of the recommendations against held-out pairs.

        As :meth:`skmf.ImplicitMatrixFactorization.score`, by the local model
        (a Dask ``X`` is computed first: held-out pairs are few).

        Parameters
        ----------
        X : dask DataFrame or array-like of shape (n_pairs, 2)
            Held-out (user, item) pairs.

        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        if _is_dask_collection(X):
            X = X.compute()
        return self.to_local().score(X)
