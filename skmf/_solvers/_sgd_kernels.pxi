# The SGD kernel, compiled twice: by _sgd_fast.pyx for any CPU and by
# _sgd_fast_avx2.pyx with AVX2 and FMA (setup.py gives the flags; sgd.py picks
# the module at import). Only the compiler flags differ.
#
# Each update is a gradient step on one rating's term of the objective, with
# ``e = r - b_u - b_i - w_u . h_i`` (the global mean is already subtracted from
# r) and ``P = |w_u|^2 + |h_i|^2 + b_u^2 + b_i^2``: ``s * (e^2 + alpha * P) / 2``
# for the squared error, ``s * (|e| + alpha * P / 2)`` for the absolute error.
# With an L1 strength ``l1 > 0`` each update is followed by the proximal step of
# ``s * l1 * |theta|_1 / 2`` (soft thresholding by ``lr * s * l1 / 2``), which
# sets small parameters exactly to zero, as a subgradient step would not.
#
# The ratings arrive grouped into blocks of a grid over (user group, item
# group), as in LIBMF. A call visits a list of blocks; the threads take them in
# list order, and a block starts only when every earlier block of its row (user
# group) and of its column (item group) is done. Blocks running at the same
# time then share no user and no item, and each block sees the parameters it
# would see in a sequential pass: the result is that of visiting the list in
# order on one thread, whatever the number of threads (no barrier: one thread
# may start the next stratum's blocks while the other finishes this one's).

from libc.math cimport fabs
from libc.stdlib cimport calloc, free

from cython.parallel cimport parallel

from cython cimport floating

cimport numpy as cnp

cnp.import_array()

cdef extern from *:
    """
    /* Task counter and done flags shared by the threads of sgd_blocks. */
    #if defined(__GNUC__) || defined(__clang__)
    static inline Py_ssize_t skmf_next_task(Py_ssize_t *counter) {
        return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    }
    static inline int skmf_is_done(const int *flag) {
        return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
    }
    static inline void skmf_set_done(int *flag) {
        __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
    }
    #elif defined(_MSC_VER)
    #include <intrin.h>
    static inline Py_ssize_t skmf_next_task(Py_ssize_t *counter) {
    #if defined(_WIN64)
        return (Py_ssize_t)_InterlockedExchangeAdd64((__int64 volatile *)counter, 1);
    #else
        return (Py_ssize_t)_InterlockedExchangeAdd((long volatile *)counter, 1);
    #endif
    }
    static inline int skmf_is_done(const int *flag) {
        return (int)_InterlockedOr((long volatile *)flag, 0);
    }
    static inline void skmf_set_done(int *flag) {
        _InterlockedExchange((long volatile *)flag, 1);
    }
    #else
    /* Any other OpenMP compiler: correct, if slower. */
    static inline Py_ssize_t skmf_next_task(Py_ssize_t *counter) {
        Py_ssize_t task;
        #pragma omp critical(skmf_sgd)
        task = (*counter)++;
        return task;
    }
    static inline int skmf_is_done(const int *flag) {
        int done;
        #pragma omp critical(skmf_sgd)
        done = *flag;
        return done;
    }
    static inline void skmf_set_done(int *flag) {
        #pragma omp critical(skmf_sgd)
        *flag = 1;
    }
    #endif

    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define skmf_spin_pause() __builtin_ia32_pause()
    #elif defined(__GNUC__) && defined(__aarch64__)
    #define skmf_spin_pause() __asm__ __volatile__("yield")
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #define skmf_spin_pause() _mm_pause()
    #else
    #define skmf_spin_pause() ((void)0)
    #endif

    /* After spinning a while, give the core to another thread: the one being
       waited for may be descheduled when other processes share the cores. */
    #if defined(__unix__) || defined(__APPLE__)
    #include <sched.h>
    #define skmf_yield() ((void)sched_yield())
    #else
    #define skmf_yield() skmf_spin_pause()
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #define skmf_prefetch(p) __builtin_prefetch((p), 1, 3)
    #else
    #define skmf_prefetch(p) ((void)(p))
    #endif
    """
    Py_ssize_t skmf_next_task(Py_ssize_t *counter) noexcept nogil
    int skmf_is_done(const int *flag) noexcept nogil
    void skmf_set_done(int *flag) noexcept nogil
    void skmf_spin_pause() noexcept nogil
    void skmf_yield() noexcept nogil
    void skmf_prefetch(const void *p) noexcept nogil


# Busy-wait iterations (about 0.5 ms) before a thread waiting for a block
# starts yielding its core: a block rarely waits longer unless the thread it
# waits for was descheduled.
cdef enum:
    SPINS = 20000

# Loss codes; the Python driver passes them as plain ints.
cdef enum:
    SQUARED_ERROR = 0
    ABSOLUTE_ERROR = 1


cdef inline void _prefetch_row(const void* row, Py_ssize_t n_bytes) noexcept nogil:
    """Prefetch a factor row, one 64-byte cache line at a time."""
    cdef Py_ssize_t b
    for b in range((n_bytes + 63) // 64):
        skmf_prefetch(<const char*> row + 64 * b)


cdef inline floating _shrink(floating x, floating t) noexcept nogil:
    """Soft thresholding: ``sign(x) * max(|x| - t, 0)``."""
    if x > t:
        return x - t
    if x < -t:
        return x + t
    return 0


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
    floating l1,
    int loss,
    bint fit_biases,
) noexcept nogil:
    """Visit ratings first..stop-1 then start..first-1; return their loss."""
    cdef Py_ssize_t n_components = user_factors.shape[1]
    cdef Py_ssize_t row_bytes = n_components * sizeof(floating)
    cdef Py_ssize_t t, idx, nxt, k
    cdef int u, i
    cdef bint weighted = weights.shape[0] > 0
    cdef floating err, grad, s, lr_s, wu, hi, dot, threshold
    cdef floating* w
    cdef floating* h
    cdef double total = 0.0

    idx = first if first < stop else first - (stop - start)
    for t in range(stop - start):
        # The next rating's rows travel towards the cache during this update.
        nxt = idx + 1
        if nxt >= stop:
            nxt = start
        _prefetch_row(&user_factors[users[nxt], 0], row_bytes)
        _prefetch_row(&item_factors[items[nxt], 0], row_bytes)

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
        if l1 > 0:
            threshold = lr_s * l1 / 2
            if fit_biases:
                user_bias[u] = _shrink(user_bias[u], threshold)
                item_bias[i] = _shrink(item_bias[i], threshold)
            for k in range(n_components):
                w[k] = _shrink(w[k], threshold)
                h[k] = _shrink(h[k], threshold)
        idx = nxt
    return total


cdef void _run_tasks(
    const int[::1] users,
    const int[::1] items,
    const floating[::1] ratings,
    const floating[::1] weights,
    const cnp.int64_t[::1] block_ptr,
    const cnp.int64_t[::1] blocks,
    const cnp.int64_t[::1] offsets,
    const double[::1] steps,
    floating[:, ::1] user_factors,
    floating[:, ::1] item_factors,
    floating[::1] user_bias,
    floating[::1] item_bias,
    floating reg,
    floating l1,
    int loss,
    bint fit_biases,
    const Py_ssize_t* after,
    Py_ssize_t* next_task,
    int* done,
    double[::1] losses,
) noexcept nogil:
    """One thread's share: take the next block of the list, wait for the blocks
    it must follow (``after``: two per block, -1 for none), run it, mark it."""
    cdef Py_ssize_t j, dep, b, start, stop
    cdef int d, spins
    while True:
        j = skmf_next_task(next_task)
        if j >= blocks.shape[0]:
            return
        for d in range(2):
            dep = after[2 * j + d]
            if dep >= 0:
                spins = 0
                while not skmf_is_done(&done[dep]):
                    spins = spins + 1
                    if spins < SPINS:
                        skmf_spin_pause()
                    else:
                        skmf_yield()
        b = blocks[j]
        start = block_ptr[b]
        stop = block_ptr[b + 1]
        if stop > start:
            losses[j] = _sgd_block(
                users, items, ratings, weights, start, stop, start + offsets[j],
                user_factors, item_factors, user_bias, item_bias,
                <floating> steps[j], reg, l1, loss, fit_biases,
            )
        skmf_set_done(&done[j])


def sgd_blocks(
    const int[::1] users,
    const int[::1] items,
    const floating[::1] ratings,
    const floating[::1] weights,
    const cnp.int64_t[::1] block_ptr,
    Py_ssize_t n_item_groups,
    const cnp.int64_t[::1] blocks,
    const cnp.int64_t[::1] offsets,
    const double[::1] steps,
    floating[:, ::1] user_factors,
    floating[:, ::1] item_factors,
    floating[::1] user_bias,
    floating[::1] item_bias,
    double alpha,
    int loss,
    bint fit_biases,
    int n_threads,
    double[::1] losses,
    double l1_alpha=0.0,
):
    """Update the factors in place over the ratings of ``blocks``, in order.

    Block ``b`` holds ratings ``block_ptr[b]:block_ptr[b + 1]``, of user group
    ``b // n_item_groups`` and item group ``b % n_item_groups``. The ``j``-th
    block of the list is visited from ``block_ptr[b] + offsets[j]`` to its end,
    then from its beginning, with step size ``steps[j]``. ``weights`` may be
    empty (all ones). ``alpha`` is the L2 strength and ``l1_alpha`` the L1
    one (0: none). ``losses[j]`` receives the weighted sum of the loss of the
    ratings of the ``j``-th block, each measured before its update (0 for an
    empty block). The result equals a sequential pass over the list.
    """
    cdef Py_ssize_t n_tasks = blocks.shape[0]
    cdef Py_ssize_t j, row, col, next_task = 0
    cdef floating reg = <floating> alpha
    cdef floating l1 = <floating> l1_alpha
    cdef Py_ssize_t* after
    cdef Py_ssize_t* last
    cdef int* done
    cdef Py_ssize_t n_groups
    if (
        offsets.shape[0] != n_tasks
        or steps.shape[0] != n_tasks
        or losses.shape[0] != n_tasks
    ):
        raise ValueError("blocks, offsets, steps and losses differ in length")
    if n_tasks == 0:
        return
    if n_item_groups < 1:
        raise ValueError("n_item_groups must be positive")
    n_groups = (block_ptr.shape[0] - 1 + n_item_groups - 1) // n_item_groups
    losses[:] = 0

    # after[2j], after[2j + 1]: the last earlier block of j's row and column.
    after = <Py_ssize_t*> calloc(2 * n_tasks, sizeof(Py_ssize_t))
    last = <Py_ssize_t*> calloc(n_groups + n_item_groups, sizeof(Py_ssize_t))
    done = <int*> calloc(n_tasks, sizeof(int))
    try:
        if after == NULL or last == NULL or done == NULL:
            raise MemoryError()
        for j in range(n_groups + n_item_groups):
            last[j] = -1
        for j in range(n_tasks):
            if blocks[j] < 0 or blocks[j] >= block_ptr.shape[0] - 1:
                raise IndexError(f"block {blocks[j]} out of range")
            row = blocks[j] // n_item_groups
            col = n_groups + blocks[j] % n_item_groups
            after[2 * j] = last[row]
            after[2 * j + 1] = last[col]
            last[row] = j
            last[col] = j

        with nogil, parallel(num_threads=n_threads):
            _run_tasks(
                users, items, ratings, weights, block_ptr, blocks, offsets, steps,
                user_factors, item_factors, user_bias, item_bias, reg, l1, loss,
                fit_biases, after, &next_task, done, losses,
            )
    finally:
        free(after)
        free(last)
        free(done)
