"""Grouping of ratings by row in linear time (a stable counting sort)."""

import numpy as np

cimport numpy as cnp

cnp.import_array()

ctypedef fused key_t:
    int
    cnp.int64_t


def group_by(const key_t[::1] keys, Py_ssize_t n_groups):
    """Return ``(indptr, order)``: ``order[indptr[g]:indptr[g + 1]]`` lists, in
    their original order, the positions whose key is ``g``.

    Replaces a stable argsort (n log n, about 1.4 s for 10M ratings) by two
    linear passes; keys must lie in ``[0, n_groups)``.
    """
    cdef Py_ssize_t n = keys.shape[0]
    cdef Py_ssize_t t, g
    indptr_array = np.zeros(n_groups + 1, dtype=np.int64)
    order_array = np.empty(n, dtype=np.int64)
    cdef cnp.int64_t[::1] indptr = indptr_array
    cdef cnp.int64_t[::1] order = order_array
    cdef cnp.int64_t[::1] fill

    with nogil:
        for t in range(n):
            indptr[keys[t] + 1] += 1
        for g in range(n_groups):
            indptr[g + 1] += indptr[g]
    fill = indptr_array[:-1].copy()
    with nogil:
        for t in range(n):
            g = keys[t]
            order[fill[g]] = t
            fill[g] += 1
    return indptr_array, order_array
