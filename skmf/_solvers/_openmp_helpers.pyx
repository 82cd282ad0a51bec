"""What OpenMP offers this process: the one compiled home of thread rules.

The Python rules that choose a kernel's thread count (``n_jobs``, cgroup
quotas, small fits) start from ``max_threads()``; no other module asks OpenMP.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SKMF_OPENMP_ENABLED 1
    static int skmf_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define SKMF_OPENMP_ENABLED 0
    static int skmf_omp_max_threads(void) { return 1; }
    #endif
    """
    const bint SKMF_OPENMP_ENABLED
    int skmf_omp_max_threads() noexcept nogil


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP.

    Returns
    -------
    enabled : bool
        False where the compiler had no OpenMP: every kernel then runs on one
        thread, whatever ``n_jobs`` says.
    """
    return bool(SKMF_OPENMP_ENABLED)


def max_threads():
    """OpenMP's thread budget for a parallel region started now.

    It honours ``OMP_NUM_THREADS`` and threadpoolctl's OpenMP limit, and is
    lowered inside joblib's workers (``GridSearchCV(n_jobs=...)``), so that
    nested parallelism does not oversubscribe the cores.

    Returns
    -------
    n_threads : int
        ``omp_get_max_threads()``; 1 when built without OpenMP.
    """
    return skmf_omp_max_threads()
