"""BLAS on one thread while the compiled kernels call it from their own threads."""

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller():
    # Finding the loaded BLAS and OpenMP libraries scans every shared library
    # of the process: 2.8 ms per call once scikit-learn and pandas are loaded,
    # 7 % of a MovieLens 100K fit. The kernels call scipy's BLAS, loaded with
    # them, so the libraries found at the first fit are the ones that matter.
    return ThreadpoolController()


def single_threaded_blas():
    """Context manager limiting the BLAS libraries to one thread.

    The ALS-type kernels call BLAS/LAPACK from their own OpenMP threads: a
    BLAS that started threads of its own inside them would oversubscribe the
    cores.
    """
    return _controller().limit(limits=1, user_api="blas")
