"""The one home of skmf's thread rules.

How many threads a kernel call gets, when a fit is too small to gain from a
second thread, and how BLAS is kept from starting threads of its own inside
the kernels' threads. The compiled primitive (OpenMP's budget) lives in
``_solvers/_openmp_helpers.pyx``; every rule built on it lives here.
"""

import functools
import threading

from joblib import cpu_count
from threadpoolctl import ThreadpoolController

from ._solvers._openmp_helpers import max_threads

# Below this much work per kernel call (see each model's ``_parallel_work``), a
# fit with n_jobs=None runs on one thread. Its kernel calls take milliseconds:
# two threads meeting at their barriers gain little on an idle machine, and
# when another process holds the other core each meeting can wait a whole
# scheduler slice. Measured on MovieLens 100K: SGD at K=100 takes 0.11 s per
# fit on one thread and 0.2-0.6 s on two with the other core busy; the
# Bayesian model 0.9 s on one and 0.7-3 s on two.
MIN_PARALLEL_WORK = 5e7


def thread_budget():
    """Threads a kernel may use when ``n_jobs=None``.

    OpenMP's budget (which honours ``OMP_NUM_THREADS``, threadpoolctl limits
    and joblib's workers) capped by the CPUs this process may really use:
    OpenMP counts the machine's cores, not a container's CPU quota or the
    process's affinity mask, which joblib's ``cpu_count`` reads.
    """
    return max(1, min(max_threads(), cpu_count()))


def effective_n_threads(n_jobs):
    """Threads for the kernels, following joblib's meaning of ``n_jobs``."""
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or n >= 1.")
    budget = thread_budget()
    if n_jobs is None:
        return budget
    if n_jobs < 0:
        return max(1, budget + 1 + n_jobs)
    return int(n_jobs)


def fit_n_threads(n_jobs, work):
    """Threads for a fit; with ``n_jobs=None`` a small one runs on one thread.

    ``work`` estimates the arithmetic of one kernel call, in the units of
    :data:`MIN_PARALLEL_WORK`.
    """
    if n_jobs is None and work < MIN_PARALLEL_WORK:
        return 1
    return effective_n_threads(n_jobs)


@functools.cache
def _controller():
    # Finding the loaded BLAS and OpenMP libraries scans every shared library
    # of the process: 2.8 ms per call once scikit-learn and pandas are loaded,
    # 7 % of a MovieLens 100K fit. The kernels call scipy's BLAS, loaded with
    # them, so the libraries found at the first fit are the ones that matter.
    return ThreadpoolController()


class _SingleThreadedBLAS:
    """Process-wide BLAS limit of one thread, shared by overlapping fits.

    threadpoolctl's limit is process-wide: two fits in two Python threads
    that each set it and restore "their" original would restore out of order,
    and the second to leave would put back the first one's limit of 1 for
    good. The limit is therefore counted: the first fit in sets it, the last
    one out restores what was there before any of them.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limiter = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._limiter = _controller().limit(limits=1, user_api="blas")
            self._users += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_SINGLE_THREADED_BLAS = _SingleThreadedBLAS()


def single_threaded_blas():
    """Context manager limiting BLAS to one thread while kernels run.

    The ALS-type kernels call BLAS/LAPACK from their own OpenMP threads: a
    BLAS that started threads of its own inside them would oversubscribe the
    cores. Safe to enter from several Python threads at once.
    """
    return _SINGLE_THREADED_BLAS
