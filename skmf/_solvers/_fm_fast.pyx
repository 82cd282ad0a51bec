"""Gibbs draws of a factorization machine's parameters, one block at a time.

The features of a rating are the concatenation of one row of each *block*: the
user block (a row per user), the item block (a row per item) and the context
block (a row per rating). A rating's row of block ``B`` is ``b(n)``; the
ratings of block row ``b`` are ``order[indptr[b]:indptr[b + 1]]``. The block's
features are given column-wise (CSC: the block rows holding feature ``j`` and
their values) and row-wise (CSR), both over block rows, never over ratings:
this is the relational computation of Rendle (2013), which makes a sweep
cost ``O(n_ratings + nnz(block))`` per factor instead of ``O(nnz(X))``.

For one factor ``f`` let ``q_n`` be the rating's sum ``sum_j v_jf x_nj`` and
``Q_b`` the block row's part of it, so ``q_n = Q_b + R_n``. The prediction is
linear in ``v_jf`` with slope ``h_n = x_bj (G + R_n)``, ``G = Q_b - v_jf
x_bj``, so the sufficient statistics of ``v_jf``'s Gaussian conditional over
the ratings of ``b`` need only the block row sums ``c_b`` (count), ``S1_b =
sum R_n``, ``S2_b = sum R_n^2``, ``E0_b = sum e_n`` and ``E1_b = sum e_n R_n``
(``e_n`` the residuals):

    sum h_n^2 = x^2 (c G^2 + 2 G S1 + S2),   sum e_n h_n = x (G E0 + E1).

A call computes them once (in parallel over block rows, or in one pass over
the ratings in rating order), draws the block's features one after the other
(a Gibbs sampler must, since features share rows), keeping ``Q``, ``E0`` and
``E1`` up to date, and finally updates the ratings' residuals and ``q`` (in
parallel). The biases ``w_j`` are drawn the same way with ``h_n = x_bj``.
The caller may pass ``Q`` and get it back updated, so that it is kept from
sweep to sweep rather than recomputed for every factor; ``set_block_parts``
builds every rating's ``q`` from the blocks' ``Q`` in one call.

A rating of sample weight ``w_n`` counts ``w_n`` times in every sum above
(``c_b = sum w_n``, ``S1_b = sum w_n R_n`` and so on), exactly as ``w_n``
copies of it would.

Every random number (one standard normal per feature) is drawn by the Python
driver and passed in, so the draws do not depend on the number of threads.
A call is ``O(n_ratings + nnz(block))``: about 0.1 s for 10M ratings, so the
driver regains control (and sees Ctrl-C) several times per sweep.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc


cdef extern from "stdlib.h" nogil:
    int posix_memalign(void** pointer, size_t alignment, size_t size)

from cython.parallel cimport prange

import numpy as np

cimport numpy as cnp

cnp.import_array()


# The sums of one block row, side by side: a feature's draw touches all of
# them for each of its rows, so one cache line per row rather than seven.
cdef struct RowSums:
    double q  # the block row's part Q_b of its ratings' sums
    double q0  # Q_b before the call's draws
    double count  # c_b, the row's number of ratings
    double s1  # sum R_n
    double s2  # sum R_n^2
    double e0  # sum e_n
    double e1  # sum e_n R_n
    double dd  # the change of sum_j v_jf^2 x_bj^2


cdef void _block_sums(
    const cnp.int64_t[::1] row_ptr,
    const cnp.int32_t[::1] row_cols,
    const double[::1] row_vals,
    const double[::1] theta,
    double[::1] out,
    int n_threads,
) noexcept nogil:
    """out[b] = sum_j theta_j x_bj over the block's rows."""
    cdef Py_ssize_t b, t
    cdef double total
    for b in prange(out.shape[0], num_threads=n_threads, schedule="static"):
        total = 0.0
        for t in range(row_ptr[b], row_ptr[b + 1]):
            total = total + theta[row_cols[t]] * row_vals[t]
        out[b] = total


def block_sums(
    const cnp.int64_t[::1] row_ptr,
    const cnp.int32_t[::1] row_cols,
    const double[::1] row_vals,
    const double[::1] theta,
    double[::1] out,
    int n_threads,
):
    """``out = B @ theta`` for a block ``B`` in CSR form (for the tests too)."""
    with nogil:
        _block_sums(row_ptr, row_cols, row_vals, theta, out, n_threads)
    return np.asarray(out)


def add_block_to_ratings(
    const cnp.int32_t[::1] rows,
    const double[::1] per_row,
    double[::1] q,
    int n_threads,
):
    """``q[n] += per_row[rows[n]]``: a block's part of every rating's sum."""
    cdef Py_ssize_t n
    with nogil:
        for n in prange(q.shape[0], num_threads=n_threads, schedule="static"):
            q[n] = q[n] + per_row[rows[n]]


def scaled_square_sums(
    const cnp.int32_t[::1] rows,
    const double[::1] residuals,
    const double[::1] sample_weights,
    const cnp.int32_t[::1] other_rows,
    const double[::1] other_scale,
    double[::1] out,
):
    """``out[r] = sum sample_weights[n] * other_scale[other_rows[n]] *
    residuals[n]^2`` over the ratings ``n`` of row ``r`` (``rows[n] == r``);
    empty ``sample_weights`` or ``other_rows`` leave out their factor.

    One thread: the rows of the ratings collide.
    """
    cdef Py_ssize_t n
    cdef bint weighted = sample_weights.shape[0] > 0
    cdef bint other = other_rows.shape[0] > 0
    cdef double w
    with nogil:
        out[:] = 0.0
        for n in range(rows.shape[0]):
            w = residuals[n] * residuals[n]
            if other:
                w = w * other_scale[other_rows[n]]
            if weighted:
                w = w * sample_weights[n]
            out[rows[n]] += w


def scaled_weights(
    const double[::1] sample_weights,
    const cnp.int32_t[::1] rows_a,
    const double[::1] scale_a,
    const cnp.int32_t[::1] rows_b,
    const double[::1] scale_b,
    double[::1] out,
    int n_threads,
):
    """``out[n] = sample_weights[n] * scale_a[rows_a[n]] * scale_b[rows_b[n]]``;
    empty ``sample_weights`` or ``rows_b`` leave out their factor."""
    cdef Py_ssize_t n
    cdef bint weighted = sample_weights.shape[0] > 0
    cdef bint two = rows_b.shape[0] > 0
    cdef double w
    with nogil:
        for n in prange(out.shape[0], num_threads=n_threads, schedule="static"):
            w = scale_a[rows_a[n]]
            if two:
                w = w * scale_b[rows_b[n]]
            if weighted:
                w = w * sample_weights[n]
            out[n] = w


cdef void _add_part(
    const cnp.int32_t* rows,
    const double* part,
    const cnp.int64_t* own_ptr,
    const cnp.int32_t* own_cols,
    const double* own_vals,
    double* q,
    Py_ssize_t n_ratings,
    bint first,
    int n_threads,
) noexcept nogil:
    """``q[n] (+)= part[rows[n]]``, or an identity block's own row sum."""
    cdef Py_ssize_t n, t
    cdef double own, start
    if rows != NULL:
        for n in prange(n_ratings, num_threads=n_threads, schedule="static"):
            start = 0.0 if first else q[n]
            q[n] = start + part[rows[n]]
    else:
        for n in prange(n_ratings, num_threads=n_threads, schedule="static"):
            own = 0.0
            for t in range(own_ptr[n], own_ptr[n + 1]):
                own = own + part[own_cols[t]] * own_vals[t]
            start = 0.0 if first else q[n]
            q[n] = start + own


def set_block_parts(list rows, list parts, double[::1] q, int n_threads):
    """``q[n] = sum_k parts[k][rows[k][n]]``: every block's part of each rating.

    One pass over the ratings for all the blocks, adding the parts in block
    order from zero (as successive calls of :func:`add_block_to_ratings` on a
    zeroed ``q`` would). ``rows[k]`` is None for an identity block, whose
    part of rating ``n`` is computed in the same pass from ``parts[k]``, the
    tuple ``(row_ptr, row_cols, row_vals, theta)`` of its CSR form and its
    parameters (as :func:`block_sums` would, without storing the sums).
    """
    cdef Py_ssize_t n_blocks = len(rows), k
    cdef Py_ssize_t n_ratings = q.shape[0]
    cdef const cnp.int32_t[::1] these_rows
    cdef const double[::1] these_parts
    cdef const cnp.int64_t[::1] csr_ptr
    cdef const cnp.int32_t[::1] csr_cols
    cdef const double[::1] csr_vals
    if len(parts) != n_blocks:
        raise ValueError(
            f"{len(rows)} row arrays but {len(parts)} parts; give one of each per "
            "block."
        )
    cdef const cnp.int32_t** row_ptrs = <const cnp.int32_t**> malloc(
        max(n_blocks, 1) * sizeof(void*)
    )
    cdef const double** part_ptrs = <const double**> malloc(
        max(n_blocks, 1) * sizeof(void*)
    )
    # An identity block's CSR form: pointers, columns, values.
    cdef const cnp.int64_t** own_ptrs = <const cnp.int64_t**> malloc(
        max(n_blocks, 1) * sizeof(void*)
    )
    cdef const cnp.int32_t** own_cols = <const cnp.int32_t**> malloc(
        max(n_blocks, 1) * sizeof(void*)
    )
    cdef const double** own_vals = <const double**> malloc(
        max(n_blocks, 1) * sizeof(void*)
    )
    try:
        if (
            row_ptrs == NULL or part_ptrs == NULL or own_ptrs == NULL
            or own_cols == NULL or own_vals == NULL
        ):
            raise MemoryError("no memory for the factorization machine's blocks")
        for k in range(n_blocks):
            # The lists keep the arrays alive while the pointers are used.
            if rows[k] is None:
                csr_ptr, csr_cols, csr_vals, these_parts = parts[k]
                if csr_ptr.shape[0] != n_ratings + 1:
                    raise ValueError(
                        f"The identity block {k} has {csr_ptr.shape[0] - 1} rows "
                        f"but there are {n_ratings} ratings."
                    )
                if csr_cols.shape[0] != csr_vals.shape[0] or (
                    csr_ptr[n_ratings] > csr_cols.shape[0]
                ):
                    raise ValueError(
                        f"The identity block {k}'s CSR arrays do not match."
                    )
                row_ptrs[k] = NULL
                own_ptrs[k] = &csr_ptr[0]
                own_cols[k] = &csr_cols[0] if csr_cols.shape[0] else NULL
                own_vals[k] = &csr_vals[0] if csr_vals.shape[0] else NULL
                part_ptrs[k] = &these_parts[0] if these_parts.shape[0] else NULL
            else:
                these_parts = parts[k]
                part_ptrs[k] = &these_parts[0] if these_parts.shape[0] else NULL
                these_rows = rows[k]
                if these_rows.shape[0] != n_ratings:
                    raise ValueError(
                        f"Block {k} has rows for {these_rows.shape[0]} ratings but "
                        f"there are {n_ratings}."
                    )
                row_ptrs[k] = &these_rows[0] if n_ratings else NULL
                own_ptrs[k] = NULL
                own_cols[k] = NULL
                own_vals[k] = NULL
        with nogil:
            # One tight loop per block (the pointer-array indirection inside
            # a loop over all blocks costs more than the extra passes); the
            # parts are added in block order, from zero, for every rating.
            if n_blocks == 0:
                for k in range(n_ratings):
                    q[k] = 0.0
            for k in range(n_blocks):
                _add_part(
                    row_ptrs[k], part_ptrs[k], own_ptrs[k], own_cols[k],
                    own_vals[k], &q[0] if n_ratings else NULL, n_ratings,
                    k == 0, n_threads,
                )  # fmt: skip
    finally:
        free(row_ptrs)
        free(part_ptrs)
        free(own_ptrs)
        free(own_cols)
        free(own_vals)
    return np.asarray(q)


def draw_block(
    const cnp.int64_t[::1] indptr,
    const cnp.int32_t[::1] order,
    const cnp.int64_t[::1] row_ptr,
    const cnp.int32_t[::1] row_cols,
    const double[::1] row_vals,
    const cnp.int64_t[::1] col_ptr,
    const cnp.int32_t[::1] col_rows,
    const double[::1] col_vals,
    const cnp.int32_t[::1] groups,
    double[::1] theta,
    bint linear,
    const double[::1] prior_mean,
    const double[::1] prior_precision,
    double noise_precision,
    const double[::1] noise,
    double[::1] q,
    double[::1] e,
    int n_threads,
    bint identity=False,
    const double[::1] weights=None,
    const cnp.int32_t[::1] rows=None,
    double[::1] row_sums=None,
):
    """Draw every parameter of one block for one factor (or the biases).

    Parameters
    ----------
    indptr, order : ndarray of int64, int32
        The ratings of block row ``b``: ``order[indptr[b]:indptr[b + 1]]``.
    row_ptr, row_cols, row_vals : ndarray
        The block in CSR form (block rows x features).
    col_ptr, col_rows, col_vals : ndarray
        The same block in CSC form.
    groups : ndarray of int32
        The prior group of each feature.
    theta : ndarray of float64
        The block's parameters being drawn: column ``f`` of its factors, or
        its biases when ``linear``; updated in place.
    linear : bool
        Draw the biases (slope ``x_bj``) rather than a factor.
    prior_mean, prior_precision : ndarray of float64
        The Gaussian prior of each group, for this factor. With zero noise,
        unit noise precision, mean 0 and precision ``lambda_g``, the draw is
        the conditional mode: the coordinate-wise ALS update that minimizes
        ``sum w_n e_n^2 + lambda_g theta_j^2`` (a parameter with neither data
        nor penalty is left as it is).
    noise_precision : float
        The current draw of the noise precision ``alpha``.
    noise : ndarray of float64
        One standard normal per feature.
    q : ndarray of float64
        Each rating's ``sum_j v_jf x_nj`` for this factor (unused when
        ``linear``); updated in place.
    e : ndarray of float64
        Each rating's residual, target minus prediction; updated in place.
    n_threads : int
    identity : bool, default=False
        Block row ``b`` is rating ``b`` (a context block): the per-row sums
        are skipped and each feature's ratings are updated directly, as in
        libFM, in two passes over the block's non-zeros.
    weights : ndarray of float64, shape (n_ratings,), default=None
        Each rating's sample weight; None or an empty array means all ones.
    rows : ndarray of int32, shape (n_ratings,), default=None
        The block row of each rating (``Block.rows``). With it, the passes
        over the ratings go in rating order (reading the ratings' arrays
        sequentially) rather than block row by block row; the sums come out
        bit for bit the same, since each row's ratings are added in rating
        order either way.
    row_sums : ndarray of float64, shape (n_rows,), default=None
        ``B @ theta`` (as computed by :func:`block_sums`), when the caller
        has it already; only used for a factor. It is updated in place to
        ``B @ theta`` of the new ``theta`` (as the draws' running sums, so
        equal to a recomputation up to rounding), which lets a caller keep
        it from sweep to sweep instead of recomputing it.

    Returns
    -------
    changed : float
        The sum of the squared changes of the parameters (for diagnostics).
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1
    cdef Py_ssize_t n_features = col_ptr.shape[0] - 1
    cdef Py_ssize_t b, t, n, j
    cdef double x, g, hh, eh, lam, num, old, new, delta, r, dq, dp, changed = 0.0
    cdef double c, s1, s2, e0, e1, wn
    cdef Py_ssize_t n_ratings = e.shape[0]
    cdef bint weighted = weights is not None and weights.shape[0] > 0
    cdef bint by_rating = rows is not None and not identity
    cdef bint have_sums = row_sums is not None and not linear
    if weighted and weights.shape[0] != n_ratings:
        raise ValueError(
            f"weights has {weights.shape[0]} entries but there are {n_ratings} "
            "ratings; pass one weight per rating, or an empty array for all ones."
        )
    if by_rating and rows.shape[0] != n_ratings:
        raise ValueError(
            f"rows has {rows.shape[0]} entries but there are {n_ratings} ratings; "
            "pass the block row of each rating (Block.rows)."
        )
    if have_sums and row_sums.shape[0] != n_rows:
        raise ValueError(
            f"row_sums has {row_sums.shape[0]} entries but the block has {n_rows} "
            "rows; pass B @ theta, one sum per block row."
        )
    if identity:
        return _draw_identity(
            col_ptr, col_rows, col_vals, groups, theta, linear, prior_mean,
            prior_precision, noise_precision, noise, q, e, weights, weighted,
        )
    # One cache line per row (the struct is 64 bytes): the draws reach the
    # rows in random order, and a row split over two lines costs two misses.
    cdef void* memory = NULL
    if posix_memalign(&memory, 64, max(n_rows, 1) * sizeof(RowSums)) != 0:
        raise MemoryError("no memory for the factorization machine's block sums")
    cdef RowSums* rs = <RowSums*> memory
    cdef RowSums* row
    try:
        with nogil:
            # The block rows' sums and the ratings' sufficient statistics.
            if by_rating and n_threads <= 1:
                # One thread: scatter the ratings, read in order, into their
                # rows' sums (a small table) instead of gathering each row's
                # ratings from all over the ratings' arrays.
                _rating_order_sums(
                    row_ptr, row_cols, row_vals, theta, row_sums, have_sums,
                    linear, rows, weights, weighted, q, e, rs, n_rows,
                )  # fmt: skip
            for b in prange(
                0 if by_rating and n_threads <= 1 else n_rows,
                num_threads=n_threads, schedule="static",
            ):  # fmt: skip
                if have_sums:
                    g = row_sums[b]
                else:
                    g = 0.0
                    for t in range(row_ptr[b], row_ptr[b + 1]):
                        g = g + theta[row_cols[t]] * row_vals[t]
                c = 0.0
                s1 = 0.0
                s2 = 0.0
                e0 = 0.0
                e1 = 0.0
                for t in range(indptr[b], indptr[b + 1]):
                    n = order[t]
                    wn = weights[n] if weighted else 1.0
                    c = c + wn
                    e0 = e0 + wn * e[n]
                    if not linear:
                        r = q[n] - g
                        s1 = s1 + wn * r
                        s2 = s2 + wn * r * r
                        e1 = e1 + wn * e[n] * r
                rs[b].q = g
                rs[b].q0 = g
                rs[b].count = c
                rs[b].s1 = s1
                rs[b].s2 = s2
                rs[b].e0 = e0
                rs[b].e1 = e1
                rs[b].dd = 0.0

            # The draws, one feature after the other.
            for j in range(n_features):
                old = theta[j]
                # The data's sums first, scaled by alpha once per feature.
                hh = 0.0
                eh = 0.0
                if linear:
                    for t in range(col_ptr[j], col_ptr[j + 1]):
                        row = &rs[col_rows[t]]
                        x = col_vals[t]
                        hh = hh + x * x * row.count
                        eh = eh + x * row.e0
                else:
                    for t in range(col_ptr[j], col_ptr[j + 1]):
                        row = &rs[col_rows[t]]
                        x = col_vals[t]
                        g = row.q - old * x
                        hh = hh + x * x * (
                            row.count * g * g + 2.0 * g * row.s1 + row.s2
                        )
                        eh = eh + x * (g * row.e0 + row.e1)
                lam = prior_precision[groups[j]] + noise_precision * hh
                num = (
                    prior_precision[groups[j]] * prior_mean[groups[j]]
                    + noise_precision * (eh + old * hh)
                )
                if lam > 0.0:
                    new = num / lam + noise[j] / sqrt(lam)
                else:
                    # No data and no penalty (ALS without regularization):
                    # the objective does not depend on the parameter.
                    new = old
                delta = new - old
                changed = changed + delta * delta
                theta[j] = new
                if linear:
                    for t in range(col_ptr[j], col_ptr[j + 1]):
                        row = &rs[col_rows[t]]
                        x = col_vals[t]
                        row.e0 = row.e0 - delta * x * row.count
                        row.q = row.q + delta * x
                else:
                    for t in range(col_ptr[j], col_ptr[j + 1]):
                        row = &rs[col_rows[t]]
                        x = col_vals[t]
                        g = row.q - old * x
                        row.e0 = row.e0 - delta * x * (row.count * g + row.s1)
                        row.e1 = row.e1 - delta * x * (g * row.s1 + row.s2)
                        row.dd = row.dd + (new * new - old * old) * x * x
                        row.q = row.q + delta * x

            # The ratings' residuals and sums, from the block rows' changes.
            if by_rating:
                for b in prange(n_rows, num_threads=n_threads, schedule="static"):
                    if have_sums:
                        row_sums[b] = rs[b].q
                    # The row's statistics are spent: s1 and s2 now hold the
                    # changes of its part of q and of the prediction.
                    rs[b].s1 = rs[b].q - rs[b].q0
                    if linear:
                        rs[b].s2 = rs[b].s1
                    else:
                        rs[b].s2 = 0.5 * (
                            rs[b].q * rs[b].q - rs[b].q0 * rs[b].q0
                        ) - 0.5 * rs[b].dd
                for n in prange(n_ratings, num_threads=n_threads, schedule="static"):
                    row = &rs[rows[n]]
                    if linear:
                        e[n] = e[n] - row.s2
                    else:
                        r = q[n] - row.q0
                        e[n] = e[n] - row.s2 - row.s1 * r
                        q[n] = q[n] + row.s1
            for b in prange(
                0 if by_rating else n_rows, num_threads=n_threads, schedule="static"
            ):
                if have_sums:
                    row_sums[b] = rs[b].q
                dq = rs[b].q - rs[b].q0
                if linear:
                    dp = dq
                else:
                    dp = 0.5 * (rs[b].q * rs[b].q - rs[b].q0 * rs[b].q0)
                    dp = dp - 0.5 * rs[b].dd
                for t in range(indptr[b], indptr[b + 1]):
                    n = order[t]
                    if linear:
                        e[n] = e[n] - dp
                    else:
                        r = q[n] - rs[b].q0
                        e[n] = e[n] - dp - dq * r
                        q[n] = q[n] + dq
    finally:
        free(rs)
    return changed


cdef void _rating_order_sums(
    const cnp.int64_t[::1] row_ptr,
    const cnp.int32_t[::1] row_cols,
    const double[::1] row_vals,
    const double[::1] theta,
    const double[::1] row_sums,
    bint have_sums,
    bint linear,
    const cnp.int32_t[::1] rows,
    const double[::1] weights,
    bint weighted,
    const double[::1] q,
    const double[::1] e,
    RowSums* rs,
    Py_ssize_t n_rows,
) noexcept nogil:
    """The rows' sums of ``draw_block``, one pass over the ratings in order."""
    cdef Py_ssize_t b, t, n
    cdef double g, wn, r
    cdef RowSums* row
    for b in range(n_rows):
        if have_sums:
            g = row_sums[b]
        else:
            g = 0.0
            for t in range(row_ptr[b], row_ptr[b + 1]):
                g = g + theta[row_cols[t]] * row_vals[t]
        rs[b].q = g
        rs[b].q0 = g
        rs[b].count = 0.0
        rs[b].s1 = 0.0
        rs[b].s2 = 0.0
        rs[b].e0 = 0.0
        rs[b].e1 = 0.0
        rs[b].dd = 0.0
    for n in range(rows.shape[0]):
        row = &rs[rows[n]]
        wn = weights[n] if weighted else 1.0
        row.count = row.count + wn
        row.e0 = row.e0 + wn * e[n]
        if not linear:
            r = q[n] - row.q0
            row.s1 = row.s1 + wn * r
            row.s2 = row.s2 + wn * r * r
            row.e1 = row.e1 + wn * e[n] * r


cdef double _draw_identity(
    const cnp.int64_t[::1] col_ptr,
    const cnp.int32_t[::1] col_rows,
    const double[::1] col_vals,
    const cnp.int32_t[::1] groups,
    double[::1] theta,
    bint linear,
    const double[::1] prior_mean,
    const double[::1] prior_precision,
    double noise_precision,
    const double[::1] noise,
    double[::1] q,
    double[::1] e,
    const double[::1] weights,
    bint weighted,
) noexcept nogil:
    """``draw_block`` for a block whose row ``b`` is rating ``b``."""
    cdef Py_ssize_t j, t, n
    cdef double x, h, hh, eh, lam, old, new, delta, wn, changed = 0.0
    for j in range(col_ptr.shape[0] - 1):
        old = theta[j]
        hh = 0.0
        eh = 0.0
        for t in range(col_ptr[j], col_ptr[j + 1]):
            n = col_rows[t]
            x = col_vals[t]
            h = x if linear else x * (q[n] - old * x)
            wn = weights[n] if weighted else 1.0
            hh = hh + wn * h * h
            eh = eh + wn * e[n] * h
        lam = prior_precision[groups[j]] + noise_precision * hh
        if lam > 0.0:
            new = (
                prior_precision[groups[j]] * prior_mean[groups[j]]
                + noise_precision * (eh + old * hh)
            ) / lam + noise[j] / sqrt(lam)
        else:
            new = old
        delta = new - old
        changed = changed + delta * delta
        theta[j] = new
        for t in range(col_ptr[j], col_ptr[j + 1]):
            n = col_rows[t]
            x = col_vals[t]
            h = x if linear else x * (q[n] - old * x)
            e[n] = e[n] - delta * h
            if not linear:
                q[n] = q[n] + delta * x
    return changed
