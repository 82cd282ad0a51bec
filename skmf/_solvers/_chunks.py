"""Kernel calls of bounded work, so that Ctrl-C reaches Python within a second.

A compiled kernel holds on to the thread that calls it: a SIGINT only becomes
a ``KeyboardInterrupt`` once the call returns. The drivers therefore split a
long half-sweep into calls over consecutive rows, and an SGD epoch into calls
over groups of strata. The split is chosen from an estimate of the work of
each row (or stratum), never from a clock, so that it is the same on every
machine; and since rows (strata) are computed in the same order whichever the
split, it changes no bit of the model or the loss.

The estimates are in nanoseconds of one core of a 2020s x86-64 server (the
one the budget was measured on, see ``benchmarks/interrupt_latency.py``),
fitted to the kernels' measured call times at K = 10 and 100 on 5M ratings; a
machine a few times slower still returns well within a second.
"""

import numpy as np

from ._base import SolverBreakdown

# Work per call and thread, in the units of the estimates: 0.1 s, so that a
# call stays well under a second on a slower or busy machine, and long enough
# that the calls' fixed costs (starting the threads, their meeting at the end
# of each call) stay below a percent of a sweep.
CALL_BUDGET = 1e8


def bounds(costs, n_threads, budget=None):
    """Cut ``len(costs)`` consecutive tasks into calls of bounded work.

    Returns the boundaries, ``[0, ..., len(costs)]``: call ``c`` runs tasks
    ``bounds[c]:bounds[c + 1]``. A call starts wherever the running total of
    the work passes a multiple of ``budget * n_threads``, and a task costlier
    than that gets a call of its own: every call has less than twice that
    much work, or one task. A problem within the budget, such as a whole
    small data set, is one call. ``budget=None`` means :data:`CALL_BUDGET`.
    """
    if budget is None:
        budget = CALL_BUDGET
    costs = np.asarray(costs, dtype=np.float64)
    n = costs.shape[0]
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    per_call = budget * max(1, n_threads)
    # The call of each task: where its work starts, in units of per_call.
    call = (np.cumsum(costs) - costs) // per_call
    heavy = np.flatnonzero(costs > per_call)
    cuts = np.concatenate([np.flatnonzero(np.diff(call)) + 1, heavy, heavy + 1])
    cuts = np.unique(cuts[(cuts > 0) & (cuts < n)])
    return np.concatenate([[0], cuts, [n]]).astype(np.int64)


def row_costs(indptr, per_rating, per_row):
    """Work of each row of a CSR layout: ``per_rating`` times its ratings plus
    ``per_row``."""
    return np.diff(indptr) * float(per_rating) + float(per_row)


def run_rows(half_sweep, row_bounds, describe):
    """Run a half-sweep one call per range of rows; return its loss.

    ``half_sweep(row_start, row_stop, loss)`` calls a kernel of the
    convention of ``_rows.pxd`` and returns its ``(loss, failed)``. The loss
    is carried from call to call, so that it is summed in row order exactly as
    in one call. A failed row raises :class:`SolverBreakdown` with the message
    ``describe(row)``.
    """
    loss = 0.0
    for start, stop in zip(row_bounds[:-1], row_bounds[1:], strict=True):
        loss, failed = half_sweep(int(start), int(stop), loss)
        if failed >= 0:
            raise SolverBreakdown(describe(failed))
    return loss
