"""OpenMP's thread budget, the compiled primitive of skmf/_threads.py."""


cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int skmf_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int skmf_max_threads(void) { return 1; }
    #endif
    """
    int skmf_max_threads() nogil


def max_threads():
    """OpenMP's thread budget here: honours OMP_NUM_THREADS and threadpoolctl.

    joblib's workers (GridSearchCV with n_jobs) lower it, so that nested
    parallelism does not oversubscribe the cores; 1 when built without OpenMP.
    """
    return skmf_max_threads()
