"""One ALS half-sweep: solve every row's factors exactly with the others fixed.

Called twice per sweep, once for the users (rows = users, columns = items) and
once with the roles swapped. For row ``x`` with ratings ``t_j`` (global mean
already subtracted) against fixed columns ``y_j`` with biases ``c_j``, weights
``s_j`` and regularization ``alpha``, it minimises

    sum_j s_j * ((t_j - c_j - b - x . y_j)^2 + alpha * (|x|^2 + b^2))

over ``x`` (and the row bias ``b`` when biases are fitted).

Two ways to solve a row's normal equations ``A [x, b] = rhs``:

- exactly, by Cholesky (LAPACK ``posv``). Building ``A`` costs ``K^2`` per
  rating; it is accumulated block by block with BLAS-3 ``syrk`` on gathered
  rows rather than one rank-1 update per rating;
- approximately, by a few conjugate-gradient steps warm-started from the
  row's current value (Takacs et al., 2011). ``A`` is never formed: each step
  applies it as ``G (G^T p)`` with two BLAS-2 ``gemv`` in ``4 K`` per rating,
  so at large K a sweep costs a fraction of the exact one, and over sweeps the
  rows converge to the same fixed point.

Both work on ``G``, the row's column features ``sqrt(s_j) [y_j, 1]`` gathered
into a contiguous buffer (the weights' square roots make ``G G^T`` the weighted
Gram matrix). A row of up to BLOCK ratings is gathered once and reused by every
pass over it; a longer row is gathered BLOCK ratings at a time, on every pass.

``gibbs_half_sweep`` is the Gibbs-sampling counterpart used by
:class:`~skmf.BayesianMatrixFactorization`: the same Gram matrix, a Gaussian
prior in place of the ridge penalty, and a draw from the row's conditional
posterior in place of its mode.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from cython.parallel cimport parallel, prange
from scipy.linalg.cython_blas cimport dgemv, dsyrk, sgemv, ssyrk
from scipy.linalg.cython_lapack cimport dposv, dtrtrs, sposv, strtrs

from cython cimport floating

import numpy as np

cimport numpy as cnp

cnp.import_array()

# Ratings gathered at once: large enough that most rows fit whole (and BLAS
# works on long panels), small enough that each thread's buffer stays in cache
# (dim * BLOCK floats: 520 KB at K = 64 in float32).
cdef enum:
    BLOCK = 2048


# BLAS "trans" arguments.
cdef char TRANSPOSE = b"T"
cdef char NO_TRANSPOSE = b"N"


cdef inline void _gemv(char trans, int n, int m, floating* a, floating* x,
                       floating beta, floating* y) noexcept nogil:
    """y = a x + beta y ('N') or y = a^T x + beta y ('T'), a column-major n x m."""
    cdef int inc = 1
    cdef floating one = 1
    if floating is float:
        sgemv(&trans, &n, &m, &one, a, &n, x, &inc, &beta, y, &inc)
    else:
        dgemv(&trans, &n, &m, &one, a, &n, x, &inc, &beta, y, &inc)


cdef inline void _syrk(int n, int m, floating* a, floating* c) noexcept nogil:
    """c += a a^T (upper triangle), a column-major n x m."""
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef floating one = 1
    if floating is float:
        ssyrk(&uplo, &trans, &n, &m, &one, a, &n, &one, c, &n)
    else:
        dsyrk(&uplo, &trans, &n, &m, &one, a, &n, &one, c, &n)


cdef int _posv(int n, floating* gram, floating* rhs) noexcept nogil:
    cdef char uplo = b"U"
    cdef int nrhs = 1
    cdef int info = 0
    if floating is float:
        sposv(&uplo, &n, &nrhs, gram, &n, rhs, &n, &info)
    else:
        dposv(&uplo, &n, &nrhs, gram, &n, rhs, &n, &info)
    return info


cdef int _trtrs(int n, floating* upper, floating* b) noexcept nogil:
    """b = U^{-1} b for the upper triangle U of a column-major n x n matrix."""
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef char diag = b"N"
    cdef int nrhs = 1
    cdef int info = 0
    if floating is float:
        strtrs(&uplo, &trans, &diag, &n, &nrhs, upper, &n, b, &n, &info)
    else:
        dtrtrs(&uplo, &trans, &diag, &n, &nrhs, upper, &n, b, &n, &info)
    return info


cdef struct Columns:
    # The fixed side of a half-sweep and the row layout of the ratings.
    int n_components
    int dim
    bint fit_biases


cdef int _gather(
    Py_ssize_t start,
    Py_ssize_t stop,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    Columns c,
    floating* block,
    floating* target,
) noexcept nogil:
    """Fill block with sqrt(s) [y_j, 1] and target with sqrt(s) (r - c_j)."""
    cdef Py_ssize_t p
    cdef int m = 0, j, k
    cdef floating root_s
    cdef floating* column
    for p in range(start, stop):
        j = indices[p]
        root_s = sqrt(weights[p]) if weights.shape[0] > 0 else 1
        column = block + m * c.dim
        for k in range(c.n_components):
            column[k] = root_s * col_factors[j, k]
        if c.fit_biases:
            column[c.n_components] = root_s
        target[m] = root_s * (ratings[p] - col_bias[j])
        m = m + 1
    return m


cdef floating _pass(
    Py_ssize_t start,
    Py_ssize_t stop,
    bint cached,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    Columns c,
    floating* block,
    floating* target,
    floating* q,
    floating* v,
    int mode,
    floating* out,
) noexcept nogil:
    """One pass over a row's ratings with q = G^T v.

    mode 0: out += G (t - q); mode 1: out += G q; mode 2: return |t - q|^2.
    ``cached``: the block already holds the whole row.
    """
    cdef Py_ssize_t p = start
    cdef int m, a
    cdef floating e, sse = 0
    while p < stop:
        if cached:
            m = <int> (stop - start)
        else:
            m = _gather(p, min(p + BLOCK, stop), indices, ratings, weights,
                        col_factors, col_bias, c, block, target)
        _gemv(TRANSPOSE, c.dim, m, block, v, 0, q)
        if mode == 0:
            for a in range(m):
                q[a] = target[a] - q[a]
            _gemv(NO_TRANSPOSE, c.dim, m, block, q, 1, out)
        elif mode == 1:
            _gemv(NO_TRANSPOSE, c.dim, m, block, q, 1, out)
        else:
            for a in range(m):
                e = target[a] - q[a]
                sse = sse + e * e
        p = p + m
    return sse


cdef void _normal_equations(
    Py_ssize_t start,
    Py_ssize_t stop,
    bint cached,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    Columns c,
    floating* block,
    floating* target,
    floating* gram,
    floating* rhs,
) noexcept nogil:
    """gram = G G^T (upper triangle) and rhs = G t over a row's ratings.

    ``cached``: the block already holds the whole row.
    """
    cdef Py_ssize_t p = start
    cdef int m
    memset(gram, 0, c.dim * c.dim * sizeof(floating))
    memset(rhs, 0, c.dim * sizeof(floating))
    while p < stop:
        if cached:
            m = <int> (stop - start)
        else:
            m = _gather(p, min(p + BLOCK, stop), indices, ratings, weights,
                        col_factors, col_bias, c, block, target)
        _syrk(c.dim, m, block, gram)
        _gemv(NO_TRANSPOSE, c.dim, m, block, target, 1, rhs)
        p = p + m


def als_half_sweep(
    const cnp.int64_t[::1] indptr,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    floating[:, ::1] row_factors,
    floating[::1] row_bias,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    double alpha,
    bint fit_biases,
    int n_threads,
    int cg_steps=0,
    bint compute_loss=True,
):
    """Solve every row in place; return the weighted sum of squared errors.

    ``cg_steps=0`` solves exactly (Cholesky); a positive value runs that many
    conjugate-gradient steps from the current rows instead. The errors are
    those of the updated rows, so after the second half-sweep of a sweep they
    are the training errors of the whole model; with ``compute_loss=False``
    they are not computed and 0 is returned. ``weights`` may be empty (all
    ones). Returns -1 - row if a row's system is not positive definite (which
    ``alpha > 0`` rules out).
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef Columns c
    c.n_components = <int> row_factors.shape[1]
    # With biases each column feature gets a constant 1 appended and the row
    # solves for [x, b] jointly.
    c.dim = c.n_components + (1 if fit_biases else 0)
    c.fit_biases = fit_biases
    cdef int dim = c.dim
    cdef bint weighted = weights.shape[0] > 0
    cdef floating* gram
    cdef floating* x
    cdef floating* r
    cdef floating* d
    cdef floating* ad
    cdef floating* block
    cdef floating* target
    cdef floating* q
    cdef Py_ssize_t row, p, start, stop, k
    cdef int a, step, info
    cdef bint cached
    cdef floating total_weight, reg, rs, rs_new, curvature, length
    cdef double loss = 0.0
    # A failed row is written through this one-element array because a plain
    # variable assigned inside prange would be thread-private.
    cdef Py_ssize_t[1] failed
    failed[0] = -1

    with nogil, parallel(num_threads=n_threads):
        gram = <floating*> malloc(dim * dim * sizeof(floating))
        x = <floating*> malloc(4 * dim * sizeof(floating))
        r = x + dim
        d = x + 2 * dim
        ad = x + 3 * dim
        block = <floating*> malloc(dim * BLOCK * sizeof(floating))
        target = <floating*> malloc(BLOCK * sizeof(floating))
        q = <floating*> malloc(BLOCK * sizeof(floating))

        for row in prange(n_rows, schedule="dynamic", chunksize=16):
            start = indptr[row]
            stop = indptr[row + 1]
            total_weight = 0
            for p in range(start, stop):
                total_weight = total_weight + (weights[p] if weighted else 1)
            if total_weight <= 0:
                # No weighted rating: the regularized optimum is zero.
                for k in range(c.n_components):
                    row_factors[row, k] = 0
                if fit_biases:
                    row_bias[row] = 0
                continue
            reg = <floating> (alpha * total_weight)
            cached = stop - start <= BLOCK
            if cached:
                _gather(start, stop, indices, ratings, weights, col_factors,
                        col_bias, c, block, target)

            if cg_steps > 0:
                for k in range(c.n_components):
                    x[k] = row_factors[row, k]
                if fit_biases:
                    x[c.n_components] = row_bias[row]
                # r = rhs - A x = G (t - G^T x) - reg x
                memset(r, 0, dim * sizeof(floating))
                _pass(start, stop, cached, indices, ratings, weights, col_factors,
                      col_bias, c, block, target, q, x, 0, r)
                rs = 0
                for a in range(dim):
                    r[a] = r[a] - reg * x[a]
                    d[a] = r[a]
                    rs = rs + r[a] * r[a]
                for step in range(cg_steps):
                    if rs <= 0:
                        break
                    # ad = A d = G G^T d + reg d
                    memset(ad, 0, dim * sizeof(floating))
                    _pass(start, stop, cached, indices, ratings, weights,
                          col_factors, col_bias, c, block, target, q, d, 1, ad)
                    curvature = 0
                    for a in range(dim):
                        ad[a] = ad[a] + reg * d[a]
                        curvature = curvature + d[a] * ad[a]
                    if curvature <= 0:
                        break
                    length = rs / curvature
                    rs_new = 0
                    for a in range(dim):
                        x[a] = x[a] + length * d[a]
                        r[a] = r[a] - length * ad[a]
                        rs_new = rs_new + r[a] * r[a]
                    for a in range(dim):
                        d[a] = r[a] + (rs_new / rs) * d[a]
                    rs = rs_new
            else:
                _normal_equations(start, stop, cached, indices, ratings, weights,
                                  col_factors, col_bias, c, block, target, gram, x)
                for a in range(dim):
                    gram[a * dim + a] += reg
                info = _posv(dim, gram, x)
                if info != 0:
                    failed[0] = row
                    continue

            for k in range(c.n_components):
                row_factors[row, k] = x[k]
            if fit_biases:
                row_bias[row] = x[c.n_components]
            if compute_loss:
                loss += _pass(start, stop, cached, indices, ratings, weights,
                              col_factors, col_bias, c, block, target, q, x, 2, NULL)

        free(gram)
        free(x)
        free(block)
        free(target)
        free(q)

    if failed[0] >= 0:
        return -1.0 - failed[0]
    return loss


def gibbs_half_sweep(
    const cnp.int64_t[::1] indptr,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    floating[:, ::1] row_factors,
    floating[::1] row_bias,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    const floating[:, ::1] prior_precision,
    const floating[::1] prior_shift,
    double noise_precision,
    const floating[:, ::1] noise,
    bint fit_biases,
    int n_threads,
    bint compute_loss=True,
):
    """Draw every row in place from its conditional posterior; return the SSE.

    Row ``x`` (``[x, b]`` with biases, ``dim`` coordinates) has the Gaussian
    prior ``N(m, Lambda^{-1})`` and the likelihood ``t_j ~ N(c_j + b + x . y_j,
    1 / (beta s_j))``, so its conditional posterior is ``N(A^{-1} rhs, A^{-1})``
    with

        A   = Lambda + beta G G^T,    rhs = beta G t + Lambda m,

    ``G`` the gathered column features ``sqrt(s_j) [y_j, 1]`` and ``t`` the
    targets ``sqrt(s_j) (t_j - c_j)``. With ``A = U^T U`` (Cholesky, ``posv``)
    the draw is ``A^{-1} rhs + U^{-1} z``, ``z`` the row's line of ``noise``
    (standard normal, drawn by the caller so that the result depends neither on
    the thread count nor on a generator inside compiled code); ``noise`` of
    zeros gives the posterior mean. A row without ratings is drawn from the
    prior. ``prior_precision`` is ``Lambda`` (dim x dim, symmetric positive
    definite), ``prior_shift`` is ``Lambda m``, ``noise_precision`` is ``beta``.

    Returns the weighted sum of squared errors of the updated rows (summed in
    row order, so that it does not depend on the thread count either), 0 with
    ``compute_loss=False``, or -1 - row if a row's ``A`` is not positive
    definite.
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef Columns c
    c.n_components = <int> row_factors.shape[1]
    c.dim = c.n_components + (1 if fit_biases else 0)
    c.fit_biases = fit_biases
    cdef int dim = c.dim
    if prior_precision.shape[0] != dim or prior_precision.shape[1] != dim:
        raise ValueError(f"prior_precision must be {dim} x {dim}")
    if prior_shift.shape[0] != dim:
        raise ValueError(f"prior_shift must have {dim} entries")
    if noise.shape[0] != n_rows or noise.shape[1] != dim:
        raise ValueError(f"noise must be {n_rows} x {dim}")
    cdef floating beta = <floating> noise_precision
    cdef floating* gram
    cdef floating* x
    cdef floating* e
    cdef floating* block
    cdef floating* target
    cdef floating* q
    cdef Py_ssize_t row, start, stop, k
    cdef int a, b, info
    cdef bint cached
    cdef double loss = 0.0
    row_sse_array = np.zeros(n_rows if compute_loss else 0, dtype=np.float64)
    cdef double[::1] row_sse = row_sse_array
    cdef Py_ssize_t[1] failed
    failed[0] = -1

    with nogil, parallel(num_threads=n_threads):
        gram = <floating*> malloc(dim * dim * sizeof(floating))
        x = <floating*> malloc(2 * dim * sizeof(floating))
        e = x + dim
        block = <floating*> malloc(dim * BLOCK * sizeof(floating))
        target = <floating*> malloc(BLOCK * sizeof(floating))
        q = <floating*> malloc(BLOCK * sizeof(floating))

        for row in prange(n_rows, schedule="dynamic", chunksize=16):
            start = indptr[row]
            stop = indptr[row + 1]
            cached = stop - start <= BLOCK
            if cached:
                _gather(start, stop, indices, ratings, weights, col_factors,
                        col_bias, c, block, target)
            _normal_equations(start, stop, cached, indices, ratings, weights,
                              col_factors, col_bias, c, block, target, gram, x)
            # A = Lambda + beta G G^T (upper triangle), rhs = beta G t + Lambda m.
            for b in range(dim):
                for a in range(b + 1):
                    gram[b * dim + a] = (beta * gram[b * dim + a]
                                         + prior_precision[a, b])
            for a in range(dim):
                x[a] = beta * x[a] + prior_shift[a]
                e[a] = noise[row, a]
            info = _posv(dim, gram, x)
            if info == 0:
                info = _trtrs(dim, gram, e)
            if info != 0:
                failed[0] = row
                continue
            for a in range(dim):
                x[a] = x[a] + e[a]
            for k in range(c.n_components):
                row_factors[row, k] = x[k]
            if fit_biases:
                row_bias[row] = x[c.n_components]
            if compute_loss:
                row_sse[row] = _pass(start, stop, cached, indices, ratings,
                                     weights, col_factors, col_bias, c, block,
                                     target, q, x, 2, NULL)

        free(gram)
        free(x)
        free(block)
        free(target)
        free(q)

    if failed[0] >= 0:
        return -1.0 - failed[0]
    with nogil:
        for row in range(row_sse.shape[0]):
            loss += row_sse[row]
    return loss
