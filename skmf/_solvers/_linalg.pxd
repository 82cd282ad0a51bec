# BLAS and LAPACK for the compiled kernels, in float32 or float64.
#
# One typed wrapper per routine, after scikit-learn's utils/_cython_blas.pxd:
# ``floating`` picks the s- or d- routine at compile time, and the wrappers
# take plain ints and scalars instead of the Fortran interface's pointers.
# Every matrix is column-major (C-contiguous row-major arrays are passed as
# their transposes) and every vector has unit stride. The wrappers are inline
# and call scipy's BLAS/LAPACK through its Cython bindings, so this file needs
# no module of its own: ``from ._linalg cimport gemv, syrk`` is enough.

from scipy.linalg.cython_blas cimport (
    daxpy, ddot, dgemv, dsyrk, saxpy, sdot, sgemv, ssyrk,
)
from scipy.linalg.cython_lapack cimport dposv, dtrtrs, sposv, strtrs

from cython cimport floating


cdef inline floating dot(int n, const floating* x, const floating* y) noexcept nogil:
    """x . y."""
    cdef int inc = 1
    if floating is float:
        return sdot(&n, <float*> x, &inc, <float*> y, &inc)
    else:
        return ddot(&n, <double*> x, &inc, <double*> y, &inc)


cdef inline void axpy(int n, floating a, const floating* x,
                      floating* y) noexcept nogil:
    """y += a x."""
    cdef int inc = 1
    if floating is float:
        saxpy(&n, &a, <float*> x, &inc, y, &inc)
    else:
        daxpy(&n, &a, <double*> x, &inc, y, &inc)


cdef inline void gemv(bint transpose, int m, int n, floating alpha,
                      const floating* a, const floating* x, floating beta,
                      floating* y) noexcept nogil:
    """y = alpha a x + beta y, or alpha a^T x + beta y with ``transpose``.

    ``a`` is m x n, column-major, with leading dimension m.
    """
    cdef char trans = b"T" if transpose else b"N"
    cdef int inc = 1
    if floating is float:
        sgemv(&trans, &m, &n, &alpha, <float*> a, &m, <float*> x, &inc, &beta, y,
              &inc)
    else:
        dgemv(&trans, &m, &n, &alpha, <double*> a, &m, <double*> x, &inc, &beta, y,
              &inc)


cdef inline void syrk(int n, int k, const floating* a, floating* c) noexcept nogil:
    """c += a a^T on the upper triangle; a is n x k, c n x n, column-major."""
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef floating one = 1
    if floating is float:
        ssyrk(&uplo, &trans, &n, &k, &one, <float*> a, &n, &one, c, &n)
    else:
        dsyrk(&uplo, &trans, &n, &k, &one, <double*> a, &n, &one, c, &n)


cdef inline int posv(int n, floating* a, floating* b) noexcept nogil:
    """Solve a x = b in place (x into b, the Cholesky factor U into a's upper
    triangle); a is n x n symmetric, read from its upper triangle.

    Returns LAPACK's info: 0, or k > 0 when a is not positive definite.
    """
    cdef char uplo = b"U"
    cdef int nrhs = 1
    cdef int info = 0
    if floating is float:
        sposv(&uplo, &n, &nrhs, a, &n, b, &n, &info)
    else:
        dposv(&uplo, &n, &nrhs, a, &n, b, &n, &info)
    return info


cdef inline int trtrs(int n, const floating* upper, floating* b) noexcept nogil:
    """b = U^-1 b in place for the upper triangle U of an n x n matrix.

    Returns LAPACK's info: 0, or k > 0 when U is singular.
    """
    cdef char uplo = b"U"
    cdef char trans = b"N"
    cdef char diag = b"N"
    cdef int nrhs = 1
    cdef int info = 0
    if floating is float:
        strtrs(&uplo, &trans, &diag, &n, &nrhs, <float*> upper, &n, b, &n, &info)
    else:
        dtrtrs(&uplo, &trans, &diag, &n, &nrhs, <double*> upper, &n, b, &n, &info)
    return info
