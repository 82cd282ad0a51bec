"""One implicit-feedback ALS half-sweep (Hu, Koren & Volinsky 2008).

Called twice per sweep, once for the users and once with the roles swapped.
Every (row, column) cell has a preference ``p`` (1 for the observed pairs, 0
for all others) and a confidence ``c`` (given for the observed pairs, 1 for all
others). With the columns' factors ``Y`` fixed, row ``x`` minimises

    sum_j c_j (p_j - x . y_j)^2 + reg |x|^2

whose normal equations are ``(Y^T C Y + reg I) x = Y^T C p``. Since ``C - I`` is
zero outside the row's observed columns, ``Y^T C Y = Y^T Y + sum_obs (c_j - 1)
y_j y_j^T``: ``gram = Y^T Y + reg I`` is computed once per half-sweep by the
caller and the dense matrix of cells is never formed.

Each row is solved either exactly (Cholesky, ``cg_steps == 0``) or by
``cg_steps`` steps of conjugate gradient started from the row's current
factors, which never forms the row's matrix at all.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from cython.parallel cimport parallel, prange
from scipy.linalg.cython_blas cimport (
    daxpy, ddot, dgemv, dsyrk, saxpy, sdot, sgemv, ssyrk,
)
from scipy.linalg.cython_lapack cimport dposv, sposv

from cython cimport floating

cimport numpy as cnp

cnp.import_array()

# Observed columns gathered per syrk call of the exact solve.
cdef enum:
    BLOCK = 128


cdef floating _dot(int n, const floating* x, const floating* y) noexcept nogil:
    cdef int inc = 1
    if floating is float:
        return sdot(&n, <float*> x, &inc, <float*> y, &inc)
    else:
        return ddot(&n, <double*> x, &inc, <double*> y, &inc)


cdef void _axpy(int n, floating a, const floating* x, floating* y) noexcept nogil:
    """y += a x."""
    cdef int inc = 1
    if floating is float:
        saxpy(&n, &a, <float*> x, &inc, y, &inc)
    else:
        daxpy(&n, &a, <double*> x, &inc, y, &inc)


cdef void _symv(int n, floating a, const floating* matrix, const floating* x,
                floating* y) noexcept nogil:
    """y = a matrix x for a symmetric n x n matrix (stored in full)."""
    cdef char trans = b"N"
    cdef int inc = 1
    cdef floating zero = 0
    # gemv on the full matrix is faster than symv on one triangle in OpenBLAS.
    if floating is float:
        sgemv(&trans, &n, &n, &a, <float*> matrix, &n, <float*> x, &inc, &zero, y,
              &inc)
    else:
        dgemv(&trans, &n, &n, &a, <double*> matrix, &n, <double*> x, &inc, &zero, y,
              &inc)


cdef int _solve_exact(int n, const floating* gram, const floating* cols,
                      const int* indices, const floating* confidence, int count,
                      floating* matrix, floating* block, floating* x) noexcept nogil:
    """x = (gram + sum (c_j - 1) y_j y_j^T)^-1 sum c_j y_j; LAPACK's info."""
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef int nrhs = 1
    cdef int info = 0
    cdef floating one = 1
    cdef floating root
    cdef int m, p, k
    cdef const floating* y
    memcpy(matrix, gram, n * n * sizeof(floating))
    memset(x, 0, n * sizeof(floating))
    p = 0
    while p < count:
        m = 0
        while m < BLOCK and p < count:
            y = cols + <Py_ssize_t> indices[p] * n
            root = sqrt(confidence[p] - 1)
            for k in range(n):
                block[m * n + k] = root * y[k]
            _axpy(n, confidence[p], y, x)
            m = m + 1
            p = p + 1
        if floating is float:
            ssyrk(&uplo, &trans, &n, &m, &one, block, &n, &one, matrix, &n)
        else:
            dsyrk(&uplo, &trans, &n, &m, &one, block, &n, &one, matrix, &n)
    if floating is float:
        sposv(&uplo, &n, &nrhs, matrix, &n, x, &n, &info)
    else:
        dposv(&uplo, &n, &nrhs, matrix, &n, x, &n, &info)
    return info


cdef void _solve_cg(int n, const floating* gram, const floating* cols,
                    const int* indices, const floating* confidence, int count,
                    int steps, floating* r, floating* d, floating* ad,
                    floating* x) noexcept nogil:
    """``steps`` conjugate-gradient steps on the row's system, from x."""
    cdef int p, step
    cdef floating c, a, rs_old, rs_new
    cdef const floating* y
    # r = b - A x, with b = sum c_j y_j and A x = gram x + sum (c_j - 1)(y_j.x) y_j
    _symv(n, -1, gram, x, r)
    for p in range(count):
        y = cols + <Py_ssize_t> indices[p] * n
        c = confidence[p]
        _axpy(n, c - (c - 1) * _dot(n, y, x), y, r)
    memcpy(d, r, n * sizeof(floating))
    rs_old = _dot(n, r, r)
    for step in range(steps):
        if rs_old < 1e-20:
            break
        _symv(n, 1, gram, d, ad)
        for p in range(count):
            y = cols + <Py_ssize_t> indices[p] * n
            _axpy(n, (confidence[p] - 1) * _dot(n, y, d), y, ad)
        a = rs_old / _dot(n, d, ad)
        _axpy(n, a, d, x)
        _axpy(n, -a, ad, r)
        rs_new = _dot(n, r, r)
        a = rs_new / rs_old
        for p in range(n):
            d[p] = r[p] + a * d[p]
        rs_old = rs_new


cdef double _observed_loss(int n, const floating* cols, const int* indices,
                           const floating* confidence, int count,
                           const floating* x) noexcept nogil:
    """``sum c_j (1 - s_j)^2 - s_j^2`` over the row's observed cells."""
    cdef double s, total = 0.0
    cdef int p
    for p in range(count):
        s = _dot(n, cols + <Py_ssize_t> indices[p] * n, x)
        total += confidence[p] * (1 - s) * (1 - s) - s * s
    return total


def implicit_half_sweep(
    const cnp.int64_t[::1] indptr,
    const int[::1] indices,
    const floating[::1] confidence,
    floating[:, ::1] row_factors,
    const floating[:, ::1] col_factors,
    const floating[:, ::1] gram,
    int cg_steps,
    bint with_loss,
    int n_threads,
):
    """Solve every row's factors in place; return ``(loss, failed)``.

    ``indptr``/``indices``/``confidence`` are the CSR rows of observed pairs
    (every confidence at least 1), ``gram`` is ``Y^T Y + reg I`` for the fixed
    ``col_factors`` ``Y``. ``cg_steps == 0`` solves exactly by Cholesky; a row
    whose system is not positive definite (ruled out by ``reg > 0``) is left as
    it was and ``failed`` is its index (-1 when none failed).

    ``loss`` is ``sum c (1 - s)^2 - s^2`` over the observed cells with the new
    rows, ``s = x . y``: what the observed cells add to the objective beyond
    the ``s^2`` that every cell pays (which the caller sums through ``Y^T Y``).
    It is computed while each row's columns are still in cache, and only
    ``with_loss`` (0.0 otherwise).
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef int n = <int> row_factors.shape[1]
    cdef Py_ssize_t row, start
    cdef int count, info
    cdef floating* work
    cdef double loss = 0.0
    cdef Py_ssize_t[1] failed
    failed[0] = -1
    if n_rows == 0:
        return 0.0, -1

    with nogil, parallel(num_threads=n_threads):
        # Exact: matrix (n*n), block (BLOCK*n), x (n). CG: three vectors of n.
        work = <floating*> malloc((n * n + BLOCK * n + n) * sizeof(floating))
        for row in prange(n_rows, schedule="guided"):
            start = indptr[row]
            count = <int> (indptr[row + 1] - start)
            if cg_steps == 0:
                info = _solve_exact(
                    n, &gram[0, 0], &col_factors[0, 0], &indices[start],
                    &confidence[start], count, work, work + n * n,
                    work + n * n + BLOCK * n,
                )
                if info != 0:
                    failed[0] = row
                    continue
                memcpy(&row_factors[row, 0], work + n * n + BLOCK * n,
                       n * sizeof(floating))
            else:
                _solve_cg(
                    n, &gram[0, 0], &col_factors[0, 0], &indices[start],
                    &confidence[start], count, cg_steps, work, work + n,
                    work + 2 * n, &row_factors[row, 0],
                )
            if with_loss:
                loss += _observed_loss(
                    n, &col_factors[0, 0], &indices[start], &confidence[start],
                    count, &row_factors[row, 0],
                )
        free(work)
    return loss, failed[0]
