"""SGD epochs of a factorization machine over relation blocks.

A rating's features are one row of each block (``rows[b, n]`` is rating
``n``'s row of block ``b``), packed for all blocks into one CSR layout whose
column indices are global feature numbers (see ``fm_sgd.py``). The
prediction is

    y(x) = w_0 + sum_j w_j x_j + 1/2 sum_f [(sum_j v_jf x_j)^2 - sum_j v_jf^2 x_j^2].

The ratings arrive grouped by their row of block 0 (the user block): a *group*
is the ratings of one block-0 row. The features of that row are the same for
all of them, and a user's implicit feedback makes the row as long as the
user's history; updating every history item after every rating is what makes
SVD++ by SGD slow. So the block-0 row's sums are computed once per group, the
gradient of its features is accumulated over the group's ratings, and applied
once at the end of the group: O(K nnz(row)) per user and epoch instead of per
rating. The features of the other blocks (item id and attributes, context)
are updated after every rating, as plain SGD does. A group of one rating (a
block 0 with one row per rating) is plain SGD.

Every step on a parameter ``theta`` with gradient ``g`` (of half the squared
errors of the ratings it saw, of weight ``S``) is damped,

    theta += lr (g - S r theta) / (1 + lr (H + S r)),

with ``r`` the feature's penalty per unit of weight and ``H`` the sum, over
those ratings and over *every* parameter stepped with it, of the squared
slopes of the prediction (the trace of the Gauss-Newton matrix): plain SGD
when ``lr H`` is small, and never more than the step that zeroes the
errors when it is not. Without it a heavy user's group (hundreds of ratings
summed into one step) or a long row of correlated features overshoots and
diverges. The global bias ``w_0`` steps once per call, by ``lr`` times the
call's mean error (it needs no penalty: the ratings are centred already, and
the users' and items' biases take the larger share).

Groups run in parallel (OpenMP, dynamic schedule) without locks: two users'
groups may update the same item at the same time (Hogwild, as in Niu et al.,
2011), so a run on several threads is not bit-reproducible unless the
groups share no feature. The per-group losses and error sums are written by
position and summed in order by the driver.
"""

from cython.parallel cimport prange, threadid

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef inline double _row_part(
    const cnp.int64_t[::1] indptr,
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    Py_ssize_t start,
    Py_ssize_t stop,
    const double[::1] w,
    const double[:, ::1] v,
    double* q,
    Py_ssize_t k,
) noexcept nogil:
    """q = sum_j v_j x_j over entries start..stop; return the row's linear part
    ``sum_j w_j x_j - 1/2 sum_j x_j^2 |v_j|^2``."""
    cdef Py_ssize_t t, f
    cdef Py_ssize_t j
    cdef double x, linear = 0.0, square
    for f in range(k):
        q[f] = 0.0
    for t in range(start, stop):
        j = indices[t]
        x = data[t]
        square = 0.0
        for f in range(k):
            q[f] += v[j, f] * x
            square += v[j, f] * v[j, f]
        linear += w[j] * x - 0.5 * x * x * square
    return linear


cdef inline double _row_curvature(
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    Py_ssize_t start,
    Py_ssize_t stop,
    const double[:, ::1] v,
    const double* total_q,
    Py_ssize_t k,
) noexcept nogil:
    """The squared slopes of one rating's prediction in the features of a
    block row, summed: ``sum_j x_j^2 (1 + sum_f (Q_f - v_jf x_j)^2)``."""
    cdef Py_ssize_t t, f, j
    cdef double x, h, total = 0.0, slopes
    for t in range(start, stop):
        j = indices[t]
        x = data[t]
        slopes = 1.0
        for f in range(k):
            h = total_q[f] - v[j, f] * x
            slopes = slopes + h * h
        total = total + x * x * slopes
    return total


cdef inline void _step_row(
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    Py_ssize_t start,
    Py_ssize_t stop,
    double[::1] w,
    double[:, ::1] v,
    const double[::1] reg_w,
    const double[::1] reg_v,
    const double* total_q,
    double s,
    double e,
    double curvature,
    double lr,
    Py_ssize_t k,
) noexcept nogil:
    """One rating's damped step on the features of one block row (weight s,
    error e, the rating's total sums ``total_q`` before the step, and the sum
    of squared slopes of every parameter the rating steps)."""
    cdef Py_ssize_t t, f, j
    cdef double x, h, r
    for t in range(start, stop):
        j = indices[t]
        x = data[t]
        r = s * reg_w[j]
        w[j] += lr * (s * e * x - r * w[j]) / (1.0 + lr * (s * curvature + r))
        r = s * reg_v[j]
        for f in range(k):
            h = x * (total_q[f] - v[j, f] * x)
            v[j, f] += lr * (s * e * h - r * v[j, f]) / (
                1.0 + lr * (s * curvature + r)
            )


cdef inline double _group_curvature(
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    Py_ssize_t start,
    Py_ssize_t stop,
    const double[:, ::1] v,
    double S,
    const double* sq,
    const double* sqq,
    Py_ssize_t k,
) noexcept nogil:
    """The trace of the group's Gauss-Newton matrix in the features of its
    block-0 row: ``sum_j x_j^2 (S + sum_f (B_f - 2 v_jf x_j C_f + (v_jf
    x_j)^2 S))``, the sum over its ratings of the squared slopes."""
    cdef Py_ssize_t t, f, j
    cdef double x, vx, total = 0.0, slopes
    for t in range(start, stop):
        j = indices[t]
        x = data[t]
        slopes = S
        for f in range(k):
            vx = v[j, f] * x
            slopes = slopes + sqq[f] - 2.0 * vx * sq[f] + vx * vx * S
        total = total + x * x * slopes
    # A sum of squares: only rounding makes it negative.
    return total if total > 0.0 else 0.0


cdef inline void _step_group_row(
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    Py_ssize_t start,
    Py_ssize_t stop,
    double[::1] w,
    double[:, ::1] v,
    const double[::1] reg_w,
    const double[::1] reg_v,
    double S,
    double E,
    const double* eq,
    double curvature,
    double lr,
    Py_ssize_t k,
) noexcept nogil:
    """The accumulated damped step on the features of a group's block-0 row.

    With ``E = sum s e``, ``A_f = sum s e Q_f`` and ``S = sum s`` over the
    group's ratings, feature j's factor f has gradient ``x (A_f - v x E)``.
    """
    cdef Py_ssize_t t, f, j
    cdef double x, vx, g, r
    for t in range(start, stop):
        j = indices[t]
        x = data[t]
        r = S * reg_w[j]
        w[j] += lr * (x * E - r * w[j]) / (1.0 + lr * (curvature + r))
        r = S * reg_v[j]
        for f in range(k):
            vx = v[j, f] * x
            g = x * (eq[f] - vx * E)
            v[j, f] += lr * (g - r * v[j, f]) / (1.0 + lr * (curvature + r))


def sgd_groups(
    const cnp.int64_t[::1] group_ptr,
    const cnp.int32_t[::1] group_order,
    const cnp.int32_t[::1] group_rows,
    const cnp.int64_t[::1] positions,
    const cnp.int64_t[::1] offsets,
    const cnp.int32_t[:, ::1] rows,
    const cnp.int64_t[::1] block_ptr,
    const cnp.int64_t[::1] indptr,
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    const double[::1] values,
    const double[::1] weights,
    double[::1] w,
    double[:, ::1] v,
    const double[::1] reg_w,
    const double[::1] reg_v,
    double bias,
    double lr,
    int n_threads,
    double[::1] losses,
    double[::1] errors,
    double[::1] group_weights,
):
    """Run the groups ``positions`` (in that order) of one epoch; update w, v.

    Group ``g`` holds ratings ``group_order[group_ptr[g]:group_ptr[g + 1]]``,
    all of block-0 row ``group_rows[g]``, visited from ``offsets[p]`` to the
    end, then from the start (for the ``p``-th position). ``rows[b, n]`` is
    rating ``n``'s row of block ``b``; block ``b``'s row ``r`` is entries
    ``indptr[block_ptr[b] + r]:indptr[block_ptr[b] + r + 1]`` of ``indices``
    (global feature numbers) and ``data``. ``weights`` may be empty (all
    ones). ``bias`` is ``w_0``, fixed during the call. ``losses[p]``,
    ``errors[p]`` and ``group_weights[p]`` receive the ``p``-th group's sum of
    ``s e^2`` (each error measured before its rating's step), of ``s e`` and
    of ``s``.
    """
    cdef Py_ssize_t n_positions = positions.shape[0]
    cdef Py_ssize_t n_blocks = rows.shape[0]
    cdef Py_ssize_t k = v.shape[1]
    cdef Py_ssize_t p, g, t, m, f, b, n, first, start, stop, row, base
    cdef bint weighted = weights.shape[0] > 0
    cdef double s, e, linear, prediction, pairwise, curvature
    cdef double* scratch
    cdef double* q0
    cdef double* q
    cdef double* qb
    cdef double* eq
    cdef double* sq
    cdef double* sqq
    # Scalars assigned in the loop are private to each thread (Cython's rule
    # for prange).
    cdef double total_weight, total_error, total_loss

    if (
        offsets.shape[0] != n_positions
        or losses.shape[0] != n_positions
        or errors.shape[0] != n_positions
        or group_weights.shape[0] != n_positions
    ):
        raise ValueError("positions, offsets, losses and errors differ in length")
    if v.shape[0] != w.shape[0] or reg_w.shape[0] != w.shape[0]:
        raise ValueError("w, v and the penalties differ in length")
    if reg_v.shape[0] != w.shape[0]:
        raise ValueError("w, v and the penalties differ in length")
    if block_ptr.shape[0] != n_blocks + 1:
        raise ValueError("block_ptr must have one entry per block, plus one")
    if n_positions == 0:
        return

    # Each thread's scratch row: q0, block 0's sums; q, a rating's total; the
    # group's sums eq, sq and sqq; then the other blocks' sums side by side.
    n_threads = max(1, n_threads)
    scratch_rows = np.zeros((n_threads, (5 + n_blocks) * k + 1))
    cdef double[:, ::1] scratch_view = scratch_rows
    with nogil:
        for p in prange(
            n_positions, num_threads=n_threads, schedule="dynamic"
        ):
            scratch = &scratch_view[threadid(), 0]
            q0 = scratch
            q = scratch + k
            eq = scratch + 2 * k
            sq = scratch + 3 * k
            sqq = scratch + 4 * k
            qb = scratch + 5 * k
            g = positions[p]
            start = group_ptr[g]
            stop = group_ptr[g + 1]
            row = group_rows[g]
            base = indptr[block_ptr[0] + row]
            total_weight = 0.0
            total_error = 0.0
            total_loss = 0.0
            for f in range(k):
                eq[f] = 0.0
                sq[f] = 0.0
                sqq[f] = 0.0
            linear = _row_part(
                indptr, indices, data, base, indptr[block_ptr[0] + row + 1],
                w, v, q0, k,
            )
            first = start + offsets[p]
            for m in range(stop - start):
                t = first + m
                if t >= stop:
                    t = t - (stop - start)
                n = group_order[t]
                s = weights[n] if weighted else 1.0
                prediction = bias + linear
                for f in range(k):
                    q[f] = q0[f]
                for b in range(1, n_blocks):
                    prediction = prediction + _row_part(
                        indptr, indices, data,
                        indptr[block_ptr[b] + rows[b, n]],
                        indptr[block_ptr[b] + rows[b, n] + 1],
                        w, v, qb + b * k, k,
                    )
                    for f in range(k):
                        q[f] += qb[b * k + f]
                pairwise = 0.0
                for f in range(k):
                    pairwise = pairwise + q[f] * q[f]
                e = values[n] - prediction - 0.5 * pairwise
                total_weight = total_weight + s
                total_error = total_error + s * e
                total_loss = total_loss + s * e * e
                for f in range(k):
                    eq[f] += s * e * q[f]
                    sq[f] += s * q[f]
                    sqq[f] += s * q[f] * q[f]
                curvature = 0.0
                for b in range(1, n_blocks):
                    curvature = curvature + _row_curvature(
                        indices, data,
                        indptr[block_ptr[b] + rows[b, n]],
                        indptr[block_ptr[b] + rows[b, n] + 1],
                        v, q, k,
                    )
                for b in range(1, n_blocks):
                    _step_row(
                        indices, data,
                        indptr[block_ptr[b] + rows[b, n]],
                        indptr[block_ptr[b] + rows[b, n] + 1],
                        w, v, reg_w, reg_v, q, s, e, curvature, lr, k,
                    )
            curvature = _group_curvature(
                indices, data, base, indptr[block_ptr[0] + row + 1],
                v, total_weight, sq, sqq, k,
            )
            _step_group_row(
                indices, data, base, indptr[block_ptr[0] + row + 1],
                w, v, reg_w, reg_v, total_weight, total_error, eq, curvature, lr, k,
            )
            losses[p] = total_loss
            errors[p] = total_error
            group_weights[p] = total_weight


def predict_ratings(
    const cnp.int32_t[:, ::1] rows,
    const cnp.int64_t[::1] block_ptr,
    const cnp.int64_t[::1] indptr,
    const cnp.int32_t[::1] indices,
    const double[::1] data,
    const double[::1] w,
    const double[:, ::1] v,
    double bias,
    double[::1] out,
    int n_threads,
):
    """out[n] = the prediction of rating n (without the intercept)."""
    cdef Py_ssize_t n_ratings = rows.shape[1]
    cdef Py_ssize_t n_blocks = rows.shape[0]
    cdef Py_ssize_t k = v.shape[1]
    cdef Py_ssize_t n, b, f
    cdef double prediction, pairwise
    cdef double* q
    cdef double* qb
    if out.shape[0] != n_ratings:
        raise ValueError("out must have one entry per rating")
    n_threads = max(1, n_threads)
    scratch_rows = np.zeros((n_threads, 2 * k + 1))
    cdef double[:, ::1] scratch_view = scratch_rows
    with nogil:
        for n in prange(n_ratings, num_threads=n_threads, schedule="static"):
            q = &scratch_view[threadid(), 0]
            qb = q + k
            prediction = bias
            for f in range(k):
                q[f] = 0.0
            for b in range(n_blocks):
                prediction = prediction + _row_part(
                    indptr, indices, data,
                    indptr[block_ptr[b] + rows[b, n]],
                    indptr[block_ptr[b] + rows[b, n] + 1],
                    w, v, qb, k,
                )
                for f in range(k):
                    q[f] += qb[f]
            pairwise = 0.0
            for f in range(k):
                pairwise = pairwise + q[f] * q[f]
            out[n] = prediction + 0.5 * pairwise
