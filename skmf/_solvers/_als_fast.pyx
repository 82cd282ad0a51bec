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
Gram matrix). A row of up to ``BLOCK_SIZE`` ratings is gathered once and
reused by every pass over it; a longer row is gathered ``BLOCK_SIZE`` ratings
at a time, on every pass.

``gibbs_half_sweep`` is the Gibbs-sampling counterpart used by
:class:`~skmf.BayesianMatrixFactorization`: the same Gram matrix, a Gaussian
prior in place of the ridge penalty, and a draw from the row's conditional
posterior in place of its mode.

Both kernels follow the row-range convention of ``_rows.pxd``: a call solves
rows ``row_start:row_stop`` and returns ``(loss, failed)``.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from cython.parallel cimport parallel, prange

from cython cimport floating

from ._linalg cimport gemv, posv, syrk, trtrs
from ._rows cimport FAILED, NO_MEMORY, finish, row_range

import numpy as np

cimport numpy as cnp

cnp.import_array()

# Ratings gathered at once: large enough that most rows fit whole (and BLAS
# works on long panels), small enough that each thread's buffer stays in cache
# (dim * BLOCK floats: 520 KB at K = 64 in float32).
cdef enum:
    BLOCK = 2048

# The block size, for the tests of rows longer than a block.
BLOCK_SIZE = BLOCK

# What _pass computes with q = G^T v over a row's ratings.
cdef enum:
    RESIDUAL = 0  # out += G (t - q)
    PRODUCT = 1  # out += G q
    SSE = 2  # return |t - q|^2


cdef struct Problem:
    # One half-sweep: the rows' ratings, grouped by row, and the fixed columns.
    # A struct cannot hold a fused type, so the float arrays are kept as void
    # pointers; each helper is compiled for one ``floating`` and casts them
    # back to it.
    const cnp.int64_t* indptr
    const int* indices
    const void* ratings
    const void* weights  # NULL: every weight is 1
    const void* col_factors  # n_cols x n_components, C order
    const void* col_bias  # NULL: no column biases
    int n_components
    int dim  # n_components, plus 1 for the row bias
    bint fit_biases


cdef struct Row:
    # The ratings of one row, indptr[row]:indptr[row + 1].
    Py_ssize_t start
    Py_ssize_t stop
    bint cached  # the gather buffer holds all of them


cdef Problem _problem(
    const cnp.int64_t[::1] indptr,
    const int[::1] indices,
    const floating[::1] ratings,
    const floating[::1] weights,
    Py_ssize_t n_rows,
    Py_ssize_t n_components,
    const floating[:, ::1] col_factors,
    const floating[::1] col_bias,
    bint fit_biases,
) except *:
    """The arrays' pointers, after checking that their shapes agree."""
    cdef Problem p
    if indptr.shape[0] != n_rows + 1:
        raise ValueError(f"indptr must have {n_rows + 1} entries, one per row + 1")
    if indices.shape[0] != ratings.shape[0] or (
        weights.shape[0] not in (0, ratings.shape[0])
    ):
        raise ValueError("indices, ratings and weights differ in length")
    if col_factors.shape[1] != n_components:
        raise ValueError("row and column factors differ in n_components")
    if col_bias.shape[0] not in (0, col_factors.shape[0]):
        raise ValueError("col_bias must have one entry per column, or none")
    p.indptr = &indptr[0]
    p.indices = &indices[0] if indices.shape[0] else NULL
    p.ratings = &ratings[0] if ratings.shape[0] else NULL
    p.weights = &weights[0] if weights.shape[0] else NULL
    p.col_factors = &col_factors[0, 0] if col_factors.shape[0] else NULL
    p.col_bias = &col_bias[0] if col_bias.shape[0] else NULL
    p.n_components = <int> n_components
    # With biases each column feature gets a constant 1 appended and the row
    # solves for [x, b] jointly.
    p.dim = p.n_components + (1 if fit_biases else 0)
    p.fit_biases = fit_biases
    return p


cdef inline Row _row(const Problem* p, Py_ssize_t row) noexcept nogil:
    cdef Row r
    r.start = p.indptr[row]
    r.stop = p.indptr[row + 1]
    r.cached = r.stop - r.start <= BLOCK
    return r


cdef int _gather(const Problem* p, Py_ssize_t start, Py_ssize_t stop,
                 floating* block) noexcept nogil:
    """Fill block with sqrt(s) [y_j, 1] and its targets with sqrt(s) (r - c_j).

    ``block`` is the thread's gather buffer: dim x BLOCK features, then the
    BLOCK targets, then BLOCK floats of room for ``_pass``.
    """
    cdef const floating* ratings = <const floating*> p.ratings
    cdef const floating* weights = <const floating*> p.weights
    cdef const floating* col_factors = <const floating*> p.col_factors
    cdef const floating* col_bias = <const floating*> p.col_bias
    cdef floating* target = block + p.dim * BLOCK
    cdef Py_ssize_t t, j
    cdef int m = 0, k
    cdef floating root_s
    cdef floating* column
    for t in range(start, stop):
        j = p.indices[t]
        root_s = sqrt(weights[t]) if weights != NULL else 1
        column = block + m * p.dim
        for k in range(p.n_components):
            column[k] = root_s * col_factors[j * p.n_components + k]
        if p.fit_biases:
            column[p.n_components] = root_s
        if col_bias != NULL:
            target[m] = root_s * (ratings[t] - col_bias[j])
        else:
            target[m] = root_s * ratings[t]
        m = m + 1
    return m


cdef floating _pass(const Problem* p, Row row, floating* block, floating* v,
                    int mode, floating* out) noexcept nogil:
    """One pass over a row's ratings with q = G^T v; see the modes above."""
    cdef floating* target = block + p.dim * BLOCK
    cdef floating* q = target + BLOCK
    cdef Py_ssize_t t = row.start
    cdef int m, a
    cdef floating e, sse = 0
    while t < row.stop:
        if row.cached:
            m = <int> (row.stop - row.start)
        else:
            m = _gather(p, t, min(t + BLOCK, row.stop), block)
        gemv(True, p.dim, m, <floating> 1, block, v, 0, q)
        if mode == RESIDUAL:
            for a in range(m):
                q[a] = target[a] - q[a]
            gemv(False, p.dim, m, <floating> 1, block, q, 1, out)
        elif mode == PRODUCT:
            gemv(False, p.dim, m, <floating> 1, block, q, 1, out)
        else:
            for a in range(m):
                e = target[a] - q[a]
                sse = sse + e * e
        t = t + m
    return sse


cdef void _normal_equations(const Problem* p, Row row, floating* block,
                            floating* gram, floating* rhs) noexcept nogil:
    """gram = G G^T (upper triangle) and rhs = G t over a row's ratings."""
    cdef floating* target = block + p.dim * BLOCK
    cdef Py_ssize_t t = row.start
    cdef int m
    memset(gram, 0, <Py_ssize_t> p.dim * p.dim * sizeof(floating))
    memset(rhs, 0, p.dim * sizeof(floating))
    while t < row.stop:
        if row.cached:
            m = <int> (row.stop - row.start)
        else:
            m = _gather(p, t, min(t + BLOCK, row.stop), block)
        syrk(p.dim, m, block, gram)
        gemv(False, p.dim, m, <floating> 1, block, target, 1, rhs)
        t = t + m


cdef void _conjugate_gradient(const Problem* p, Row row, floating* block,
                              floating reg, int steps, floating* x) noexcept nogil:
    """``steps`` CG steps on (G G^T + reg I) x = G t, from x, in place.

    ``x`` is followed by three vectors of scratch (r, d, ad), dim each.
    """
    cdef int dim = p.dim
    cdef floating* r = x + dim
    cdef floating* d = x + 2 * dim
    cdef floating* ad = x + 3 * dim
    cdef floating rs, rs_new, curvature, length
    cdef int a, step
    # r = rhs - A x = G (t - G^T x) - reg x
    memset(r, 0, dim * sizeof(floating))
    _pass(p, row, block, x, RESIDUAL, r)
    rs = 0
    for a in range(dim):
        r[a] = r[a] - reg * x[a]
        d[a] = r[a]
        rs = rs + r[a] * r[a]
    for step in range(steps):
        # Stop on an exact solution or a direction of no curvature, where the
        # next step would divide by zero; nothing else. A threshold on |r|^2
        # would depend on the scale of the ratings (1e-20 is reached at once
        # by ratings of 1e-9, never by float32 ones), and the steps are few.
        if rs <= 0:
            break
        # ad = A d = G G^T d + reg d
        memset(ad, 0, dim * sizeof(floating))
        _pass(p, row, block, d, PRODUCT, ad)
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


cdef inline Py_ssize_t _scratch_size(int dim) noexcept nogil:
    """Floats of one thread's memory: gram (dim^2), x and three CG vectors
    (4 dim), then the gather buffer (dim x BLOCK features, BLOCK targets,
    BLOCK products)."""
    cdef Py_ssize_t d = dim  # dim * dim overflows an int beyond K = 46,340
    return d * d + 4 * d + (d + 2) * BLOCK


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
    Py_ssize_t row_start=0,
    Py_ssize_t row_stop=-1,
    double loss=0.0,
    row_loss=None,
):
    """Solve rows ``row_start:row_stop`` in place; return ``(loss, failed)``.

    ``cg_steps=0`` solves exactly (Cholesky); a positive value runs that many
    conjugate-gradient steps from the current rows instead. ``loss`` comes
    back plus the weighted sum of squared errors of the updated rows, so after
    the second half-sweep of a sweep it is the training error of the whole
    model; with ``compute_loss=False`` it comes back unchanged. ``weights``
    may be empty (all ones), ``col_bias`` too (no column biases). ``failed``
    is the first row whose system is not positive definite (which
    ``alpha > 0`` rules out), -1 if none. ``row_loss`` (None, or one float64
    per row) receives each row's error; see ``_rows.pxd``.
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef Problem p = _problem(indptr, indices, ratings, weights, n_rows,
                              row_factors.shape[1], col_factors, col_bias,
                              fit_biases)
    if fit_biases and row_bias.shape[0] != n_rows:
        raise ValueError("row_bias must have one entry per row")
    row_start, row_stop = row_range(n_rows, row_start, row_stop)
    status_array = np.zeros(row_stop - row_start, dtype=np.int8)
    if row_loss is not None and (not compute_loss or len(row_loss) != n_rows):
        raise ValueError(f"row_loss needs compute_loss and {n_rows} entries")
    cdef signed char[::1] status = status_array
    cdef double[::1] losses = np.zeros(row_stop - row_start if compute_loss else 0)
    cdef int dim = p.dim
    cdef floating* work
    cdef floating* gram
    cdef floating* x
    cdef floating* block
    cdef Py_ssize_t row, t, k
    cdef int a
    cdef Row r
    cdef floating total_weight, reg

    with nogil, parallel(num_threads=n_threads):
        work = <floating*> malloc(_scratch_size(dim) * sizeof(floating))
        gram = work
        x = work + <Py_ssize_t> dim * dim
        block = x + 4 * dim

        for row in prange(row_start, row_stop, schedule="dynamic", chunksize=16):
            if work == NULL:
                status[row - row_start] = NO_MEMORY
                continue
            r = _row(&p, row)
            total_weight = 0
            for t in range(r.start, r.stop):
                total_weight = total_weight + (
                    (<const floating*> p.weights)[t] if p.weights != NULL else 1
                )
            if total_weight <= 0:
                # No weighted rating: the regularized optimum is zero.
                for k in range(p.n_components):
                    row_factors[row, k] = 0
                if fit_biases:
                    row_bias[row] = 0
                continue
            reg = <floating> (alpha * total_weight)
            if r.cached:
                _gather(&p, r.start, r.stop, block)

            if cg_steps > 0:
                for k in range(p.n_components):
                    x[k] = row_factors[row, k]
                if fit_biases:
                    x[p.n_components] = row_bias[row]
                _conjugate_gradient(&p, r, block, reg, cg_steps, x)
            else:
                _normal_equations(&p, r, block, gram, x)
                for a in range(dim):
                    gram[a * dim + a] += reg
                if posv(dim, gram, x) != 0:
                    status[row - row_start] = FAILED
                    continue

            for k in range(p.n_components):
                row_factors[row, k] = x[k]
            if fit_biases:
                row_bias[row] = x[p.n_components]
            if compute_loss:
                losses[row - row_start] = _pass(&p, r, block, x, SSE, NULL)

        free(work)

    return finish(status, losses, loss, row_start, row_loss)


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
    Py_ssize_t row_start=0,
    Py_ssize_t row_stop=-1,
    double loss=0.0,
    row_loss=None,
):
    """Draw rows ``row_start:row_stop`` in place from their conditional
    posterior; return ``(loss, failed)``.

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

    ``loss`` comes back plus the weighted sum of squared errors of the updated
    rows (unchanged with ``compute_loss=False``); ``failed`` is the first row
    whose ``A`` is not positive definite, -1 if none. ``row_loss`` (None, or
    one float64 per row) receives each row's error, for
    :func:`sum_row_losses`; see ``_rows.pxd``.
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef Problem p = _problem(indptr, indices, ratings, weights, n_rows,
                              row_factors.shape[1], col_factors, col_bias,
                              fit_biases)
    cdef int dim = p.dim
    if fit_biases and row_bias.shape[0] != n_rows:
        raise ValueError("row_bias must have one entry per row")
    if prior_precision.shape[0] != dim or prior_precision.shape[1] != dim:
        raise ValueError(f"prior_precision must be {dim} x {dim}")
    if prior_shift.shape[0] != dim:
        raise ValueError(f"prior_shift must have {dim} entries")
    if noise.shape[0] != n_rows or noise.shape[1] != dim:
        raise ValueError(f"noise must be {n_rows} x {dim}")
    row_start, row_stop = row_range(n_rows, row_start, row_stop)
    status_array = np.zeros(row_stop - row_start, dtype=np.int8)
    if row_loss is not None and (not compute_loss or len(row_loss) != n_rows):
        raise ValueError(f"row_loss needs compute_loss and {n_rows} entries")
    cdef signed char[::1] status = status_array
    cdef double[::1] losses = np.zeros(row_stop - row_start if compute_loss else 0)
    cdef floating beta = <floating> noise_precision
    cdef floating* work
    cdef floating* gram
    cdef floating* x
    cdef floating* e
    cdef floating* block
    cdef Py_ssize_t row, k
    cdef int a, b, info
    cdef Row r

    with nogil, parallel(num_threads=n_threads):
        work = <floating*> malloc(_scratch_size(dim) * sizeof(floating))
        gram = work
        x = work + <Py_ssize_t> dim * dim
        e = x + dim
        block = x + 4 * dim

        for row in prange(row_start, row_stop, schedule="dynamic", chunksize=16):
            if work == NULL:
                status[row - row_start] = NO_MEMORY
                continue
            r = _row(&p, row)
            if r.cached:
                _gather(&p, r.start, r.stop, block)
            _normal_equations(&p, r, block, gram, x)
            # A = Lambda + beta G G^T (upper triangle), rhs = beta G t + Lambda m.
            for b in range(dim):
                for a in range(b + 1):
                    gram[b * dim + a] = (beta * gram[b * dim + a]
                                         + prior_precision[a, b])
            for a in range(dim):
                x[a] = beta * x[a] + prior_shift[a]
                e[a] = noise[row, a]
            info = posv(dim, gram, x)
            if info == 0:
                info = trtrs(dim, gram, e)
            if info != 0:
                status[row - row_start] = FAILED
                continue
            for a in range(dim):
                x[a] = x[a] + e[a]
            for k in range(p.n_components):
                row_factors[row, k] = x[k]
            if fit_biases:
                row_bias[row] = x[p.n_components]
            if compute_loss:
                losses[row - row_start] = _pass(&p, r, block, x, SSE, NULL)

        free(work)

    return finish(status, losses, loss, row_start, row_loss)


def sum_row_losses(const double[::1] row_loss):
    """The sum of a Gibbs half-sweep's row errors, as the sampler takes it.

    Summed by the loop that ``gibbs_half_sweep`` used when it ran a whole
    half-sweep in one call (which this module's flags let the compiler
    vectorize), so that a sampler driven in chunks draws the noise precision,
    and therefore every later sample, exactly as before.
    """
    cdef double loss = 0.0
    cdef Py_ssize_t row
    with nogil:
        for row in range(row_loss.shape[0]):
            loss += row_loss[row]
    return loss
