# The calling convention shared by the half-sweep kernels (ALS, Gibbs and
# implicit ALS), so that one Python helper (``_chunks.run_rows``) drives all
# of them.
#
# A kernel call solves rows ``row_start:row_stop`` of a half-sweep: the driver
# splits a long half-sweep into calls of bounded work so that Python regains
# control (and sees Ctrl-C) between them. Rows are independent, so the split
# changes no bit of the result. Each row gets a status and a loss of its own,
# written only by the thread that solves it; ``finish`` then reads them in row
# order, so that the reported row and the summed loss depend neither on the
# number of threads nor on how the half-sweep was split.
#
# Every kernel returns ``(loss, failed)``: ``loss`` is the ``loss`` passed in
# plus the rows' losses, added one by one in row order (so that a driver that
# carries it from call to call gets the sum of one call), and ``failed`` is the
# first row whose system could not be solved, or -1. A thread that cannot
# allocate its scratch memory solves nothing and the call raises MemoryError.
# A kernel also takes ``row_loss``: None, or one float64 per row of the whole
# half-sweep, to receive each row's loss.

cdef enum:
    SOLVED = 0
    FAILED = 1  # the row's system is not positive definite
    NO_MEMORY = 2  # the thread solving the row had no scratch memory


cdef inline (Py_ssize_t, Py_ssize_t) row_range(
    Py_ssize_t n_rows, Py_ssize_t row_start, Py_ssize_t row_stop
) except *:
    """The rows of one call; ``row_stop=-1`` means up to the last row."""
    if row_stop < 0:
        row_stop = n_rows
    if not 0 <= row_start <= row_stop <= n_rows:
        raise ValueError(
            f"rows {row_start}:{row_stop} are not a range of the {n_rows} rows"
        )
    return row_start, row_stop


cdef extern from *:
    """
    /* The sum of n doubles from start, added one by one in their order. The
       volatile total keeps a compiler allowed to reassociate (the ALS kernel
       is built with -fassociative-math) from vectorizing the sum, which would
       make it depend on where a split into calls falls. */
    static double skmf_sum_in_order(const double *x, Py_ssize_t n, double start) {
        volatile double total = start;
        Py_ssize_t i;
        for (i = 0; i < n; i++) total = total + x[i];
        return total;
    }
    """
    double skmf_sum_in_order(const double* x, Py_ssize_t n, double start) noexcept nogil


cdef inline tuple finish(
    const signed char[::1] status,
    const double[::1] row_loss,
    double loss,
    Py_ssize_t row_start,
    object losses_out,
):
    """``(loss, failed)`` from the rows' statuses and losses, in row order.

    ``losses_out``, None or an array of one float64 per row of the
    half-sweep, receives the rows' losses at their rows.
    """
    cdef Py_ssize_t t, failed = -1
    cdef bint no_memory = False
    with nogil:
        for t in range(status.shape[0]):
            if status[t] == NO_MEMORY:
                no_memory = True
            elif status[t] == FAILED and failed < 0:
                failed = row_start + t
        if row_loss.shape[0]:
            loss = skmf_sum_in_order(&row_loss[0], row_loss.shape[0], loss)
    if no_memory:
        raise MemoryError(
            "a kernel thread could not allocate its scratch memory; free memory "
            "or use fewer threads (n_jobs)"
        )
    if losses_out is not None:
        losses_out[row_start:row_start + row_loss.shape[0]] = row_loss
    return loss, failed
