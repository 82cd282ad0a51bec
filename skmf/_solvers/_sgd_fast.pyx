"""SGD over blocks of ratings of a biased matrix factorization.

Each update is a gradient step on one rating's term of the objective, with
``e = r - b_u - b_i - w_u . h_i`` (the global mean is already subtracted from r)
and ``P = |w_u|^2 + |h_i|^2 + b_u^2 + b_i^2``: ``s * (e^2 + alpha * P) / 2`` for
the squared error, ``s * (|e| + alpha * P / 2)`` for the absolute error.

The ratings arrive grouped into blocks of a grid over (user group, item group),
as in LIBMF. The blocks of one call must share no user and no item: then they
are updated in parallel without locks, and the result does not depend on the
number of threads nor on which thread ran which block. Python chooses the
blocks, their starting offsets and the step size of every call.
"""

from libc.math cimport fabs

from cython.parallel cimport prange

from cython cimport floating

cimport numpy as cnp

cnp.import_array()

# Loss codes; the Python driver passes them as plain ints.
cdef enum:
    SQUARED_ERROR = 0
    ABSOLUTE_ERROR = 1


cdef double _sgd_block(
    const int[::1] users,
    const int[::1] items,
    const floating[::1] ratings,
    const floating[::1] weights,
    Py_ssize_t start,
    Py_ssize_t stop,
    Py_ssize_t first,
    floating[:, ::1] user_factors,
    floating[:, ::1] item_factors,
    floating[::1] user_bias,
    floating[::1] item_bias,
    floating lr,
    floating reg,
    int loss,
    bint fit_biases,
) noexcept nogil:
    """Visit ratings first..stop-1 then start..first-1; return their loss."""
    cdef Py_ssize_t n_components = user_factors.shape[1]
    cdef Py_ssize_t t, idx, k
    cdef int u, i
    cdef bint weighted = weights.shape[0] > 0
    cdef floating err, grad, s, lr_s, wu, hi, dot
    cdef floating* w
    cdef floating* h
    cdef double total = 0.0

    for t in range(stop - start):
        idx = first + t
        if idx >= stop:
            idx = idx - (stop - start)
        u = users[idx]
        i = items[idx]
        s = weights[idx] if weighted else 1
        # Raw row pointers: plain loops over k that the compiler vectorizes.
        w = &user_factors[u, 0]
        h = &item_factors[i, 0]

        dot = 0
        for k in range(n_components):
            dot = dot + w[k] * h[k]
        err = ratings[idx] - user_bias[u] - item_bias[i] - dot

        if loss == ABSOLUTE_ERROR:
            total += s * fabs(err)
            grad = 1 if err > 0 else (-1 if err < 0 else 0)
        else:
            total += s * err * err
            grad = err

        lr_s = lr * s
        if fit_biases:
            user_bias[u] += lr_s * (grad - reg * user_bias[u])
            item_bias[i] += lr_s * (grad - reg * item_bias[i])
        for k in range(n_components):
            wu = w[k]
            hi = h[k]
            w[k] = wu + lr_s * (grad * hi - reg * wu)
            h[k] = hi + lr_s * (grad * wu - reg * hi)
    return total


def sgd_blocks(
    const int[::1] users,
    const int[::1] items,
    const floating[::1] ratings,
    const floating[::1] weights,
    const cnp.int64_t[::1] block_ptr,
    const cnp.int64_t[::1] blocks,
    const cnp.int64_t[::1] offsets,
    floating[:, ::1] user_factors,
    floating[:, ::1] item_factors,
    floating[::1] user_bias,
    floating[::1] item_bias,
    double learning_rate,
    double alpha,
    int loss,
    bint fit_biases,
    int n_threads,
):
    """Update the factors in place over the ratings of ``blocks``.

    Block ``b`` holds ratings ``block_ptr[b]:block_ptr[b + 1]``; it is visited
    from ``block_ptr[b] + offsets[j]`` (``j`` its position in ``blocks``) to its
    end, then from its beginning. ``weights`` may be empty (all ones). Returns
    the weighted sum of the loss of each rating, measured before its update.
    """
    cdef Py_ssize_t j, b, start, stop
    cdef floating lr = <floating> learning_rate
    cdef floating reg = <floating> alpha
    cdef double total = 0.0

    for j in prange(blocks.shape[0], nogil=True, schedule="dynamic", chunksize=1,
                    num_threads=n_threads):
        b = blocks[j]
        start = block_ptr[b]
        stop = block_ptr[b + 1]
        if stop > start:
            total += _sgd_block(
                users, items, ratings, weights, start, stop, start + offsets[j],
                user_factors, item_factors, user_bias, item_bias,
                lr, reg, loss, fit_biases,
            )
    return total
