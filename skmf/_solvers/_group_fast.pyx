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
    indptr_array = _count(keys, n_groups)
    order_array = np.empty(n, dtype=np.int64)
    cdef cnp.int64_t[::1] order = order_array
    # The first n_groups offsets: where each group's next position goes.
    cdef cnp.int64_t[::1] fill = indptr_array[:n_groups].copy()
    with nogil:
        for t in range(n):
            g = keys[t]
            order[fill[g]] = t
            fill[g] += 1
    return indptr_array, order_array


ctypedef fused value_t:
    float
    double


def group_rows(
    const int[::1] rows,
    Py_ssize_t n_rows,
    const int[::1] cols,
    const value_t[::1] values,
    const value_t[::1] weights,
):
    """Return ratings grouped by row, CSR style: ``(indptr, cols, values, weights)``.

    Row ``r``'s ratings are ``indptr[r]:indptr[r + 1]``, in their original
    order. ``weights`` may be empty (all ones) and stays so. Each rating is
    written straight to its place (one sequential read, no ``order`` array):
    on 10M ratings that is 3x faster than ``group_by`` followed by gathers,
    whose reads land at random places.
    """
    cdef Py_ssize_t n = rows.shape[0]
    cdef bint weighted = weights.shape[0] > 0
    cdef Py_ssize_t t, pos
    indptr_array = _count(rows, n_rows)
    cols_array, values_array, weights_array = _outputs(n, values, weighted)
    cdef cnp.int64_t[::1] fill = indptr_array[:n_rows].copy()
    cdef int[::1] out_cols = cols_array
    cdef value_t[::1] out_values = values_array
    cdef value_t[::1] out_weights = weights_array
    with nogil:
        for t in range(n):
            pos = fill[rows[t]]
            fill[rows[t]] += 1
            out_cols[pos] = cols[t]
            out_values[pos] = values[t]
            if weighted:
                out_weights[pos] = weights[t]
    return indptr_array, cols_array, values_array, weights_array


cdef _count(const key_t[::1] keys, Py_ssize_t n_groups):
    """indptr of a grouping by ``keys`` (each in ``[0, n_groups)``)."""
    indptr_array = np.zeros(n_groups + 1, dtype=np.int64)
    cdef cnp.int64_t[::1] indptr = indptr_array
    cdef Py_ssize_t t, g
    with nogil:
        for t in range(keys.shape[0]):
            indptr[keys[t] + 1] += 1
        for g in range(n_groups):
            indptr[g + 1] += indptr[g]
    return indptr_array


cdef _outputs(Py_ssize_t n, values, bint weighted):
    """Empty index, value and weight arrays for ``n`` grouped ratings."""
    dtype = np.asarray(values).dtype
    return (
        np.empty(n, dtype=np.int32),
        np.empty(n, dtype=dtype),
        np.empty(n if weighted else 0, dtype=dtype),
    )
