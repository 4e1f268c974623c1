"""Thread limits in one style: threadpoolctl, through one cached controller.

The compiled core runs its own OpenMP threads; the linear algebra around it (small
factorisations, matrix-vector products) runs faster, and rounds the same way whatever
the machine, on one BLAS thread. Every place that limits BLAS threads goes through
:func:`blas_threads`.
"""

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads"]

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
