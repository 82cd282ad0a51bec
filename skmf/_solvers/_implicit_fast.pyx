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
factors, which never forms the row's matrix at all. The kernel follows the
row-range convention of ``_rows.pxd``.
"""

from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from cython.parallel cimport parallel, prange

from cython cimport floating

from ._linalg cimport axpy, dot, gemv, posv, syrk
from ._rows cimport FAILED, NO_MEMORY, finish, row_range

import numpy as np

cimport numpy as cnp

cnp.import_array()

# Observed columns gathered per syrk call of the exact solve.
cdef enum:
    BLOCK = 128

# The block size, for the tests of rows longer than a block.
BLOCK_SIZE = BLOCK


cdef struct Columns:
    # The fixed side of a half-sweep.
    const void* factors  # Y: n_cols x n, C order (floating)
    const void* gram  # Y^T Y + reg I: n x n (floating)
    int n


cdef struct Observed:
    # One row's observed cells: their columns and confidences.
    const int* indices
    const void* confidence  # floating
    int count


cdef inline Observed _observed(const cnp.int64_t[::1] indptr,
                              const int[::1] indices,
                              const floating[::1] confidence,
                              Py_ssize_t row) noexcept nogil:
    cdef Observed obs
    cdef Py_ssize_t start = indptr[row]
    obs.indices = &indices[start]
    obs.confidence = &confidence[start]
    obs.count = <int> (indptr[row + 1] - start)
    return obs


cdef int _solve_exact(const Columns* cols, Observed row, floating* work,
                      floating* x) noexcept nogil:
    """x = (gram + sum (c_j - 1) y_j y_j^T)^-1 sum c_j y_j; LAPACK's info.

    ``work`` holds n * n + BLOCK * n floats.
    """
    cdef int n = cols.n
    cdef const floating* factors = <const floating*> cols.factors
    cdef const floating* confidence = <const floating*> row.confidence
    cdef floating* matrix = work
    cdef floating* block = work + <Py_ssize_t> n * n
    cdef floating root
    cdef int m, t, k
    cdef const floating* y
    memcpy(matrix, cols.gram, <Py_ssize_t> n * n * sizeof(floating))
    memset(x, 0, n * sizeof(floating))
    t = 0
    while t < row.count:
        m = 0
        while m < BLOCK and t < row.count:
            y = factors + <Py_ssize_t> row.indices[t] * n
            root = sqrt(confidence[t] - 1)
            for k in range(n):
                block[m * n + k] = root * y[k]
            axpy(n, confidence[t], y, x)
            m = m + 1
            t = t + 1
        syrk(n, m, block, matrix)
    return posv(n, matrix, x)


cdef void _apply(const Columns* cols, Observed row, const floating* v,
                 floating* out) noexcept nogil:
    """out = (gram + sum (c_j - 1) y_j y_j^T) v."""
    cdef int n = cols.n
    cdef const floating* factors = <const floating*> cols.factors
    cdef const floating* confidence = <const floating*> row.confidence
    cdef const floating* y
    cdef int t
    # gemv on the full matrix is faster than symv on one triangle in OpenBLAS.
    gemv(False, n, n, <floating> 1, <const floating*> cols.gram, v, 0, out)
    for t in range(row.count):
        y = factors + <Py_ssize_t> row.indices[t] * n
        axpy(n, (confidence[t] - 1) * dot(n, y, v), y, out)


cdef void _solve_cg(const Columns* cols, Observed row, int steps, floating* work,
                    floating* x) noexcept nogil:
    """``steps`` conjugate-gradient steps on the row's system, from x.

    ``work`` holds three vectors of n floats.
    """
    cdef int n = cols.n
    cdef const floating* factors = <const floating*> cols.factors
    cdef const floating* confidence = <const floating*> row.confidence
    cdef floating* r = work
    cdef floating* d = work + n
    cdef floating* ad = work + 2 * n
    cdef int t, step
    cdef floating c, rs, rs_new, curvature, length
    cdef const floating* y
    # r = b - A x, with b = sum c_j y_j and A x = gram x + sum (c_j - 1)(y_j.x) y_j
    gemv(False, n, n, <floating> -1, <const floating*> cols.gram, x, 0, r)
    for t in range(row.count):
        y = factors + <Py_ssize_t> row.indices[t] * n
        c = confidence[t]
        axpy(n, c - (c - 1) * dot(n, y, x), y, r)
    memcpy(d, r, n * sizeof(floating))
    rs = dot(n, r, r)
    for step in range(steps):
        # The stopping test of the explicit ALS kernel, for the same reasons:
        # stop on an exact solution or a direction of no curvature (the step
        # length would divide by zero), not on a threshold that depends on the
        # scale of the confidences.
        if rs <= 0:
            break
        _apply(cols, row, d, ad)
        curvature = dot(n, d, ad)
        if curvature <= 0:
            break
        length = rs / curvature
        axpy(n, length, d, x)
        axpy(n, -length, ad, r)
        rs_new = dot(n, r, r)
        length = rs_new / rs
        for t in range(n):
            d[t] = r[t] + length * d[t]
        rs = rs_new


cdef double _observed_loss(const Columns* cols, Observed row,
                           const floating* x) noexcept nogil:
    """``sum c_j (1 - s_j)^2 - s_j^2`` over the row's observed cells."""
    cdef int n = cols.n
    cdef const floating* factors = <const floating*> cols.factors
    cdef const floating* confidence = <const floating*> row.confidence
    cdef double s, total = 0.0
    cdef int t
    for t in range(row.count):
        s = dot(n, factors + <Py_ssize_t> row.indices[t] * n, x)
        total += confidence[t] * (1 - s) * (1 - s) - s * s
    return total


def implicit_half_sweep(
    const cnp.int64_t[::1] indptr,
    const int[::1] indices,
    const floating[::1] confidence,
    floating[:, ::1] row_factors,
    const floating[:, ::1] col_factors,
    const floating[:, ::1] gram,
    int cg_steps,
    bint compute_loss,
    int n_threads,
    Py_ssize_t row_start=0,
    Py_ssize_t row_stop=-1,
    double loss=0.0,
    row_loss=None,
):
    """Solve rows ``row_start:row_stop`` in place; return ``(loss, failed)``.

    ``indptr``/``indices``/``confidence`` are the CSR rows of observed pairs
    (every confidence at least 1), ``gram`` is ``Y^T Y + reg I`` for the fixed
    ``col_factors`` ``Y``. ``cg_steps == 0`` solves exactly by Cholesky; a row
    whose system is not positive definite (ruled out by ``reg > 0``) is left as
    it was and ``failed`` is the first such row (-1 when none failed); see
    ``_rows.pxd``.

    ``loss`` comes back plus ``sum c (1 - s)^2 - s^2`` over the observed cells
    with the new rows, ``s = x . y``: what the observed cells add to the
    objective beyond the ``s^2`` that every cell pays (which the caller sums
    through ``Y^T Y``). It is computed while each row's columns are still in
    cache, and only with ``compute_loss``. ``row_loss`` (None, or one float64
    per row) receives each row's part.
    """
    cdef Py_ssize_t n_rows = row_factors.shape[0]
    cdef int n = <int> row_factors.shape[1]
    if indptr.shape[0] != n_rows + 1:
        raise ValueError(f"indptr must have {n_rows + 1} entries, one per row + 1")
    if indices.shape[0] != confidence.shape[0]:
        raise ValueError("indices and confidence differ in length")
    if col_factors.shape[1] != n or gram.shape[0] != n or gram.shape[1] != n:
        raise ValueError(f"col_factors must have {n} columns and gram be {n} x {n}")
    row_start, row_stop = row_range(n_rows, row_start, row_stop)
    status_array = np.zeros(row_stop - row_start, dtype=np.int8)
    if row_loss is not None and (not compute_loss or len(row_loss) != n_rows):
        raise ValueError(f"row_loss needs compute_loss and {n_rows} entries")
    cdef signed char[::1] status = status_array
    cdef double[::1] losses = np.zeros(row_stop - row_start if compute_loss else 0)
    if row_stop == row_start:
        return loss, -1
    cdef Columns cols
    cols.factors = &col_factors[0, 0] if col_factors.shape[0] else NULL
    cols.gram = &gram[0, 0] if n else NULL
    cols.n = n
    cdef Observed obs
    cdef Py_ssize_t row
    cdef floating* work
    cdef floating* x
    cdef floating* x_exact

    with nogil, parallel(num_threads=n_threads):
        # Exact: matrix (n*n), block (BLOCK*n), x (n). CG: three vectors of n.
        work = <floating*> malloc(
            (<Py_ssize_t> n * n + BLOCK * n + n) * sizeof(floating)
        )
        for row in prange(row_start, row_stop, schedule="guided"):
            if work == NULL:
                status[row - row_start] = NO_MEMORY
                continue
            # Assigned whole, not field by field: Cython makes a variable
            # private to each thread only when the variable is assigned.
            obs = _observed(indptr, indices, confidence, row)
            x = &row_factors[row, 0]
            if cg_steps == 0:
                x_exact = work + <Py_ssize_t> n * n + BLOCK * n
                if _solve_exact(&cols, obs, work, x_exact) != 0:
                    status[row - row_start] = FAILED
                    continue
                memcpy(x, x_exact, n * sizeof(floating))
            else:
                _solve_cg(&cols, obs, cg_steps, work, x)
            if compute_loss:
                losses[row - row_start] = _observed_loss(&cols, obs, x)
        free(work)

    return finish(status, losses, loss, row_start, row_loss)
