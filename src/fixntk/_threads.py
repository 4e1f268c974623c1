"""Thread limits in one style: threadpoolctl, through one cached controller; and
blocks of independent work run on Numba's threads.

The compiled core runs its own threads (csrc/row_team.hpp); the linear algebra around
it (small factorisations, matrix-vector products) runs faster, and rounds the same way
whatever the machine, on one BLAS thread. Every place that limits BLAS threads goes
through :func:`blas_threads`.
"""

import signal
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager

import numba
import scipy.linalg  # noqa: F401  (its BLAS loaded before the controller is made)
import threadpoolctl
from threadpoolctl import ThreadpoolController

from . import _cpu  # noqa: F401  (the core's OpenMP runtime, too)

__all__ = [
    "blas_threads",
    "controller",
    "interruptible",
    "one_thread",
    "run_blocks",
    "signals_deferred",
]


@contextmanager
def signals_deferred():
    """Run the body with the Python handlers of SIGINT, SIGALRM and SIGTERM deferred to
    its end.

    A handler runs wherever the main thread's Python code is when the signal arrives;
    inside a ctypes callback (threadpoolctl's scan of the loaded libraries is one) its
    exception is printed as "ignored" and lost: a Ctrl-C there would be dropped and the
    long phase around it run to its end. Here the signals that arrive are recorded and
    raised again, in order, once the body is done. Outside the main thread (where no
    handler runs) the body runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    saved = {}
    for name in ("SIGINT", "SIGALRM", "SIGTERM"):  # SIGALRM is POSIX only
        sig = getattr(signal, name, None)
        handler = None if sig is None else signal.getsignal(sig)
        if callable(handler):
            saved[sig] = handler
            signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        for sig in caught:
            signal.raise_signal(sig)


def interruptible(fn, *args):
    """``fn(*args)`` in a helper thread while the main thread waits in steps of 0.1 s.

    For one long LAPACK call that releases the GIL but cannot be cut (NumPy's
    ``eigh`` of an n x n kernel: 20 s at n = 4000, 100 s at 7500 on one core, during
    which Ctrl-C waited, a tester): Python's signal handlers run in the main thread
    between its waits, so a KeyboardInterrupt (or an alarm handler's exception) is
    raised here within 0.1 s. The helper then finishes its call in the background
    and its result is dropped. Outside the main thread (where no handler runs) ``fn``
    runs in the calling thread. An exception of ``fn`` is raised here.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    box = {}

    def run():
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # raised again in the caller
            box["err"] = exc

    helper = threading.Thread(target=run, name="fixntk-lapack", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(0.1)
    if "err" in box:
        raise box["err"]
    return box["out"]


# One controller for the process, made at import (NumPy's and SciPy's BLAS and the
# compiled core's OpenMP runtime are loaded by then: made before the core, it knew no
# OpenMP, and Dask's chunk tasks ran the core on every thread, whatever one_thread
# said), not at a first use inside a long phase: its library scan runs Python code in
# ctypes callbacks (see signals_deferred).
with signals_deferred():
    _CONTROLLER = ThreadpoolController()
_ONE_LOCK = threading.Lock()
_ONE = {"depth": 0, "limiter": None}  # the one-BLAS-thread limit, shared by all


def controller():
    """The process's one :class:`threadpoolctl.ThreadpoolController`."""
    return _CONTROLLER


@contextmanager
def _one_blas_thread():
    # BLAS thread counts are process-wide: with a limiter per caller, a solve ending in
    # one Python thread would restore the counts while a solve in another still runs
    # (its products then round by the thread count of the moment), and limiters ending
    # out of order (Dask's chunk tasks on a threaded scheduler) left the process at one
    # thread (tester CP). One limit, held from the first entry to the last exit, over
    # all threads.
    with _ONE_LOCK:
        if _ONE["depth"] == 0:
            _release_blas_control()  # this thread's limit takes effect
            _ONE["limiter"] = _CONTROLLER.limit(limits=1, user_api="blas")
        _ONE["depth"] += 1
    try:
        yield
    finally:
        with _ONE_LOCK:
            _ONE["depth"] -= 1
            if _ONE["depth"] == 0:
                _release_blas_control()  # this thread's restore takes effect
                _ONE["limiter"].restore_original_limits()
                _ONE["limiter"] = None
                _release_blas_control()  # and no fixntk thread keeps control


def _release_blas_control():
    # threadpoolctl 3.8 lets only one thread set OpenBLAS's (pthreads) count: the
    # first to set it, until a `with` limiter of its ends. The shared limit is set by
    # its first holder and restored by its last, often another thread, and kept the
    # first holder in control for good: a restore from another thread was ignored (the
    # process left at one BLAS thread), as were the limits of later callers in other
    # threads (a Dask fit's chunk products after a fit in a pool thread ran on every
    # BLAS thread; tester CQ). Control is released around each set, under _ONE_LOCK.
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    release = getattr(openblas, "clear_controlling_thread", None)
    if release is not None:  # (threadpoolctl before 3.8: every thread sets)
        release(force=True)


@contextmanager
def one_thread():
    """Context manager in which BLAS and OpenMP run one thread (a Dask chunk's task).

    BLAS's thread count is the process's: the limit shared by every holder (that of
    ``blas_threads(1)``). OpenMP's (the compiled core's helpers follow it) is each
    thread's own: a limiter of the calling thread, so that every task's thread runs
    the core on one thread, whichever other tasks run beside it.
    """
    with _one_blas_thread(), _CONTROLLER.limit(limits=1, user_api="openmp"):
        yield


def blas_threads(limits=1):
    """Context manager in which BLAS runs at most ``limits`` threads.

    The one-thread limit (the default) is shared by every thread that asks for it:
    it holds from the first entry to the last exit, so concurrent solves in several
    Python threads all run, and round, on one BLAS thread.

    Parameters
    ----------
    limits : int or None, default=1
        Largest number of BLAS threads; None leaves the thread count unchanged.

    Returns
    -------
    context manager
        Restoring the previous thread counts on (the last) exit.
    """
    if limits == 1:
        return _one_blas_thread()
    return _CONTROLLER.limit(limits=limits, user_api="blas")


def run_blocks(work, n_blocks, parts=None):
    """Call ``work(j)`` for ``j = 0, ..., n_blocks - 1`` on ``numba.get_num_threads()``
    threads (``NUMBA_NUM_THREADS``), BLAS on one thread.

    ``work`` is meant to spend its time in a ``nogil`` Numba kernel that writes block
    ``j``'s part of preallocated outputs from block ``j``'s own random stream, so the
    outputs do not depend on which thread ran which block, nor on how many there are.
    (A ``prange`` loop cannot take one NumPy ``Generator`` per block without Numba's
    deprecated reflected lists, and a tuple of them compiles once per length; a pool
    of threads over ``nogil`` kernels does the same job.) An exception in a block is
    raised here; the blocks not yet started are then cancelled.

    Ctrl-C (a Python signal handler) runs in the main thread while it waits for the
    blocks (it wakes every 0.1 s: the signal may have been delivered to a worker); its
    exception cancels the blocks not started, the blocks under way stop at their next
    part, and it is raised here once no thread is left running. With
    ``parts``, each block is ``work(j, q)`` for ``q = 0, ..., parts - 1`` in order
    (``work`` sizes its parts by :data:`~fixntk._memory.CALL_WORK`), so that a block
    stops within one part.

    Parameters
    ----------
    work : callable
        ``work(j)`` for a block index ``j`` (``work(j, q)`` with ``parts``); its return
        value is ignored.
    n_blocks : int
        Number of blocks.
    parts : int or None, default=None
        Calls per block, each resumed from where the last one stopped.
    """
    stop = threading.Event()

    def run(j):
        if parts is None:
            work(j)
            return
        for q in range(parts):
            if stop.is_set():
                return
            work(j, q)

    threads = min(numba.get_num_threads(), n_blocks)
    with blas_threads(1):
        if threads <= 1:
            for j in range(n_blocks):
                run(j)
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pending = {pool.submit(run, j) for j in range(n_blocks)}
            try:
                while pending:
                    # wake every 0.1 s: a signal delivered to a worker thread does not
                    # interrupt the main thread's wait, but its handler runs here
                    done, pending = wait(pending, 0.1, FIRST_EXCEPTION)
                    for future in done:
                        future.result()  # a block's exception
            except BaseException:
                # the blocks not started are cancelled; those under way stop at their
                # next part, and are waited for
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
