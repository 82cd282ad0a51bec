"""Score (user, item) index pairs; -1 marks an id the model has not seen."""

from cython.parallel cimport prange

from cython cimport floating


def predict_pairs(
    const int[::1] users,
    const int[::1] items,
    const floating[:, ::1] user_factors,
    const floating[:, ::1] item_factors,
    const floating[::1] user_bias,
    const floating[::1] item_bias,
    double intercept,
    double[::1] out,
    int n_threads,
):
    """Write ``intercept + b_u + b_i + w_u . h_i`` into ``out``.

    An unknown user or item contributes neither its bias nor the dot product,
    so the prediction falls back to the global mean plus the known bias.
    """
    cdef Py_ssize_t n = users.shape[0]
    cdef Py_ssize_t n_components = user_factors.shape[1]
    cdef Py_ssize_t t, k
    cdef int u, i
    cdef double value
    for t in prange(n, nogil=True, schedule="static", num_threads=n_threads):
        u = users[t]
        i = items[t]
        value = intercept
        if u >= 0:
            value = value + user_bias[u]
        if i >= 0:
            value = value + item_bias[i]
        if u >= 0 and i >= 0:
            for k in range(n_components):
                value = value + user_factors[u, k] * item_factors[i, k]
        out[t] = value
