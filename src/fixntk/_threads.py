"""Thread limits in one style: threadpoolctl, through one cached controller; and
blocks of independent work run on Numba's threads.

The compiled core runs its own OpenMP threads; the linear algebra around it (small
factorisations, matrix-vector products) runs faster, and rounds the same way whatever
the machine, on one BLAS thread. Every place that limits BLAS threads goes through
:func:`blas_threads`.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads", "run_blocks"]

_CONTROLLER = []  # made at the first use, after NumPy's and SciPy's BLAS are loaded


def blas_threads(limits=1):
    """Context manager in which BLAS runs at most ``limits`` threads.

    Parameters
    ----------
    limits : int or None, default=1
        Largest number of BLAS threads; None leaves the thread count unchanged.

    Returns
    -------
    context manager
        threadpoolctl's limiter, restoring the previous thread counts on exit.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=limits, user_api="blas")


def run_blocks(work, n_blocks):
    """Call ``work(j)`` for ``j = 0, ..., n_blocks - 1`` on ``numba.get_num_threads()``
    threads (``NUMBA_NUM_THREADS``), BLAS on one thread.

    ``work`` is meant to spend its time in a ``nogil`` Numba kernel that writes block
    ``j``'s part of preallocated outputs from block ``j``'s own random stream, so the
    outputs do not depend on which thread ran which block, nor on how many there are.
    (A ``prange`` loop cannot take one NumPy ``Generator`` per block without Numba's
    deprecated reflected lists, and a tuple of them compiles once per length; a pool
    of threads over ``nogil`` kernels does the same job.) An exception in a block is
    raised here; the blocks not yet started are then cancelled.

    Parameters
    ----------
    work : callable
        ``work(j)`` for a block index ``j``; its return value is ignored.
    n_blocks : int
        Number of blocks.
    """
    threads = min(numba.get_num_threads(), n_blocks)
    with blas_threads(1):
        if threads <= 1:
            for j in range(n_blocks):
                work(j)
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(work, range(n_blocks)):
                pass
