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
  applies it in ``2 K`` per rating, so at large K a sweep costs a fraction of
  the exact one, and over sweeps the rows converge to the same fixed point.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from cython.parallel cimport parallel, prange
from scipy.linalg.cython_blas cimport dgemv, dsyrk, sgemv, ssyrk
from scipy.linalg.cython_lapack cimport dposv, sposv

from cython cimport floating

cimport numpy as cnp

cnp.import_array()

# Ratings gathered per syrk call: large enough for BLAS-3 efficiency, small enough
# to keep each thread's buffer in cache whatever a row's number of ratings.
cdef enum:
    BLOCK = 128


cdef void _syrk_gemv(int n, int m, floating* block, floating* rhs_block,
                     floating* gram, floating* rhs) noexcept nogil:
    """gram += block block^T and rhs += block rhs_block (column-major n x m)."""
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef int inc = 1
    cdef floating one = 1
    if floating is float:
        ssyrk(&uplo, &trans, &n, &m, &one, block, &n, &one, gram, &n)
        sgemv(&trans, &n, &m, &one, block, &n, rhs_block, &inc, &one, rhs, &inc)
    else:
        dsyrk(&uplo, &trans, &n, &m, &one, block, &n, &one, gram, &n)
        dgemv(&trans, &n, &m, &one, block, &n, rhs_block, &inc, &one, rhs, &inc)


cdef int _posv(int n, floating* gram, floating* rhs) noexcept nogil:
    cdef char uplo = b"U"
    cdef int nrhs = 1
    cdef int info = 0
    if floating is float:
        sposv(&uplo, &n, &nrhs, gram, &n, rhs, &n, &info)
    else:
        dposv(&uplo, &n, &nrhs, gram, &n, rhs, &n, &info)
    return info


cdef inline floating _dot_feature(const floating* y, const floating* v, int n_components,
                                  bint fit_biases) noexcept nogil:
    """Dot product of column feature [y, 1] (or [y]) with v."""
    cdef floating d = 0
    cdef int k
    for k in range(n_components):
        d = d + y[k] * v[k]
    if fit_biases:
        d = d + v[n_components]
    return d


cdef inline void _add_feature(floating c, const floating* y, floating* out,
                              int n_components, bint fit_biases) noexcept nogil:
    """out += c * [y, 1] (or c * [y])."""
    cdef int k
    for k in range(n_components):
        out[k] += c * y[k]
    if fit_biases:
        out[n_components] += c


cdef void _cg_row(
    Py_ssize_t start,
    Py_ssize_t stop,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    floating reg,
    int n_components,
    bint fit_biases,
    int cg_steps,
    floating* x,
    floating* r,
    floating* direction,
    floating* a_dir,
) noexcept nogil:
    """Improve x in place by cg_steps conjugate-gradient steps on A x = rhs.

    ``reg`` is alpha times the row's total weight. A is applied from the
    ratings, never formed.
    """
    cdef int dim = n_components + (1 if fit_biases else 0)
    cdef bint weighted = weights.shape[0] > 0
    cdef Py_ssize_t p
    cdef int j, a, step
    cdef floating s, e, rs, rs_new, curvature, length

    # r = rhs - A x, from the residuals of the current x.
    memset(r, 0, dim * sizeof(floating))
    for p in range(start, stop):
        j = indices[p]
        s = weights[p] if weighted else 1
        e = ratings[p] - col_bias[j] - _dot_feature(
            &col_factors[j, 0], x, n_components, fit_biases)
        _add_feature(s * e, &col_factors[j, 0], r, n_components, fit_biases)
    rs = 0
    for a in range(dim):
        r[a] -= reg * x[a]
        direction[a] = r[a]
        rs = rs + r[a] * r[a]

    for step in range(cg_steps):
        if rs <= 0:
            break
        memset(a_dir, 0, dim * sizeof(floating))
        for p in range(start, stop):
            j = indices[p]
            s = weights[p] if weighted else 1
            _add_feature(
                s * _dot_feature(&col_factors[j, 0], direction, n_components, fit_biases),
                &col_factors[j, 0], a_dir, n_components, fit_biases)
        curvature = 0
        for a in range(dim):
            a_dir[a] += reg * direction[a]
            curvature = curvature + direction[a] * a_dir[a]
        if curvature <= 0:
            break
        length = rs / curvature
        rs_new = 0
        for a in range(dim):
            x[a] += length * direction[a]
            r[a] -= length * a_dir[a]
            rs_new = rs_new + r[a] * r[a]
        for a in range(dim):
            direction[a] = r[a] + (rs_new / rs) * direction[a]
        rs = rs_new


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
    cdef int n_components = <int> row_factors.shape[1]
    # With biases each column feature gets a constant 1 appended and the row
    # solves for [x, b] jointly.
    cdef int dim = n_components + (1 if fit_biases else 0)
    cdef bint weighted = weights.shape[0] > 0
    cdef floating* gram
    cdef floating* rhs
    cdef floating* block
    cdef floating* rhs_block
    cdef floating* cg_work
    cdef Py_ssize_t row, p, start, stop, k, a
    cdef int m, j, info
    cdef floating s, root_s, err, total_weight
    cdef double loss = 0.0
    # A failed row is written through this one-element array because a plain
    # variable assigned inside prange would be thread-private.
    cdef Py_ssize_t[1] failed
    failed[0] = -1

    with nogil, parallel(num_threads=n_threads):
        gram = <floating*> malloc(dim * dim * sizeof(floating))
        rhs = <floating*> malloc(dim * sizeof(floating))
        block = <floating*> malloc(dim * BLOCK * sizeof(floating))
        rhs_block = <floating*> malloc(BLOCK * sizeof(floating))
        cg_work = <floating*> malloc(3 * dim * sizeof(floating))

        for row in prange(n_rows, schedule="dynamic", chunksize=16):
            start = indptr[row]
            stop = indptr[row + 1]
            total_weight = 0
            for p in range(start, stop):
                total_weight = total_weight + (weights[p] if weighted else 1)
            if total_weight <= 0:
                # No weighted rating: the regularized optimum is zero.
                for k in range(n_components):
                    row_factors[row, k] = 0
                if fit_biases:
                    row_bias[row] = 0
                continue

            if cg_steps > 0:
                for k in range(n_components):
                    rhs[k] = row_factors[row, k]
                if fit_biases:
                    rhs[n_components] = row_bias[row]
                _cg_row(
                    start, stop, indices, ratings, weights, col_factors, col_bias,
                    <floating> (alpha * total_weight), n_components, fit_biases,
                    cg_steps, rhs, cg_work, cg_work + dim, cg_work + 2 * dim,
                )
            else:
                memset(gram, 0, dim * dim * sizeof(floating))
                memset(rhs, 0, dim * sizeof(floating))
                p = start
                while p < stop:
                    m = 0
                    while m < BLOCK and p < stop:
                        j = indices[p]
                        root_s = sqrt(weights[p]) if weighted else 1
                        for k in range(n_components):
                            block[m * dim + k] = root_s * col_factors[j, k]
                        if fit_biases:
                            block[m * dim + n_components] = root_s
                        rhs_block[m] = root_s * (ratings[p] - col_bias[j])
                        m = m + 1
                        p = p + 1
                    _syrk_gemv(dim, m, block, rhs_block, gram, rhs)
                for a in range(dim):
                    gram[a * dim + a] += alpha * total_weight
                info = _posv(dim, gram, rhs)
                if info != 0:
                    failed[0] = row
                    continue

            for k in range(n_components):
                row_factors[row, k] = rhs[k]
            if fit_biases:
                row_bias[row] = rhs[n_components]

            if compute_loss:
                for p in range(start, stop):
                    j = indices[p]
                    s = weights[p] if weighted else 1
                    err = ratings[p] - col_bias[j] - _dot_feature(
                        &col_factors[j, 0], rhs, n_components, fit_biases)
                    loss += s * err * err

        free(gram)
        free(rhs)
        free(block)
        free(rhs_block)
        free(cg_work)

    if failed[0] >= 0:
        return -1.0 - failed[0]
    return loss
