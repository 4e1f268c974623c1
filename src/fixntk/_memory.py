"""Resources: refuse, with the figure, a problem that cannot fit (in memory, or in half
an hour) before allocating; and how much work one call into compiled code may do."""

import contextlib
import time

import psutil

from ._validation import quiet, user_stacklevel
from ._validation import warn as _warn

__all__ = [
    "CALL_WORK",
    "available_bytes",
    "check_fits",
    "check_kernel_size",
    "format_bytes",
]

# Multiply-adds of one call into compiled code that cannot be interrupted (a BLAS
# product, a Numba kernel): about 10-50 ms on one core. Python sees Ctrl-C and runs
# signal handlers only between such calls, so long loops are cut into calls this size.
CALL_WORK = 1 << 26


# A reading of the available memory is reused for this long: a fit of a small model
# checks before each of its ~50 solves, and each reading (/proc/meminfo parsed by
# psutil) cost 0.1 ms, 4% of fitting iris.
_READING_SECONDS = 0.25
_reading = [-float("inf"), 0]  # (time.monotonic() of the reading, bytes)


def _limits_left():
    """What the process's own limits leave, in bytes (inf where none): the address
    space limit (``ulimit -v``, less the address space in use) and a Linux cgroup v2
    memory limit (a container's: memory.max less memory.current). Without them a
    fit under ``ulimit -v 8000000`` was checked against the machine's memory and
    ended in NumPy's MemoryError after half a minute."""
    left = float("inf")
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            left = soft - psutil.Process().memory_info().vms
    except (ImportError, OSError, ValueError, psutil.Error):  # not on this system
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            top = fh.read().strip()
        if top != "max":
            with open("/sys/fs/cgroup/memory.current") as fh:
                left = min(left, int(top) - int(fh.read().strip()))
    except (OSError, ValueError):  # no cgroup v2 limit here
        pass
    return max(left, 0.0)


def available_bytes():
    """Memory the operating system can give without swapping, in bytes.

    psutil's ``virtual_memory().available`` (``MemAvailable`` on Linux, free plus
    inactive pages on macOS, the available physical memory on Windows), or less where
    the process's limits leave less (``ulimit -v``, a container's cgroup limit), read
    at most every 0.25 s.
    """
    now = time.monotonic()
    if now - _reading[0] > _READING_SECONDS:
        avail = min(float(psutil.virtual_memory().available), _limits_left())
        _reading[:] = [now, int(avail)]
    return _reading[1]


def format_bytes(nbytes):
    """``nbytes`` in B, KiB, MiB, GiB or TiB, e.g. ``"11.9 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def check_fits(nbytes, what, fix="reduce the problem size"):
    """Raise MemoryError if `nbytes` exceeds the memory available (``fix``: what to
    do, in the parameters' words)."""
    avail = available_bytes()
    if nbytes > avail:
        raise MemoryError(
            f"{what} needs about {format_bytes(nbytes)} but only {format_bytes(avail)} "
            f"is available; {fix}"
        )


# Rate assumed for the O(n^3) eigendecomposition of an n x n kernel (LAPACK on one
# core, conservatively) and the longest such step run without being asked.
_KERNEL_FLOPS = 2e10
_KERNEL_SECONDS = 1800.0
# ... and the time of one eigendecomposition above which the estimators say so before
# starting (n = 5000 at that rate; NTKClassifier() on 7500 rows of ISLR's Default took
# 190 s, as estimated, without a word)
_KERNEL_WARN_SECONDS = 60.0


class KernelSizeWarning(UserWarning):
    """A fit whose n x n kernel work will take over a minute (said before the work:
    the command line prints it at once, not with the notes after the fit)."""


def check_kernel_size(n, what, alternative, n_matrices=3, warn=False, n_steps=1):
    """Refuse an n x n kernel step, before it starts, that does not fit in memory or
    would take longer than half an hour, with the figure and the alternative; with
    ``warn``, say so (a UserWarning) when the fit's ``n_steps`` eigendecompositions
    (or steps of their cost) would take over a minute.

    Parameters
    ----------
    n : int
        Order of the kernel matrix.
    what : str
        What needs it (named in the message).
    alternative : str
        What to use instead (named in the message).
    n_matrices : int, default=3
        n x n float64 matrices alive at once (kernel, eigenvectors, a product).
    warn : bool, default=False
        Warn when the fit would take over ``_KERNEL_WARN_SECONDS``.
    n_steps : float, default=1
        Steps of an eigendecomposition's cost the whole fit takes (its
        eigendecompositions, factorisations and n x n products): the NTK estimators
        about 3 (14.5 s for 3000 rows where one eigendecomposition takes 6.3 s), a
        KARE-trained kernel tens (a tester's 3000 rows: 406 s, unwarned when only one
        eigendecomposition counted).

    Warns
    -----
    UserWarning
        With ``warn``, when the fit would take over a minute.

    Raises
    ------
    MemoryError
        When ``n_matrices`` n x n matrices do not fit in the available memory, or when
        the eigendecomposition (about ``9 n^3`` flops) would take over half an hour.
    """
    nbytes = n_matrices * 8.0 * n * n
    avail = available_bytes()
    seconds = 9.0 * float(n) ** 3 / _KERNEL_FLOPS
    if nbytes > avail or seconds > _KERNEL_SECONDS:
        # the limit reached named first (a refusal for time read as one for memory
        # when the memory fitted, a tester)
        why = (
            "does not fit in memory"
            if nbytes > avail
            else f"would take over {_KERNEL_SECONDS / 60:.0f} minutes"
        )
        raise MemoryError(
            f"{what} {why}: it needs {n_matrices} matrices of {n} x {n} "
            f"({format_bytes(nbytes)}; {format_bytes(avail)} available) and about "
            f"{seconds / 60:.0f} minutes for the eigendecomposition (at an assumed "
            f"{_KERNEL_FLOPS:.0e} flop/s); use {alternative}"
        )
    total = seconds * n_steps
    if warn and total > _KERNEL_WARN_SECONDS:
        _warn(
            f"{what}: the fit takes about {n_steps:.0f} eigendecompositions' worth of "
            f"work on the {n} x {n} kernel, up to about {total / 60:.0f} minute(s) on "
            f"one core (the time grows as n^3); for a faster fit use {alternative}",
            KernelSizeWarning,
            stacklevel=user_stacklevel(),
        )


@contextlib.contextmanager
def kernel_size_warned():
    """Inside: check_kernel_size's time warning is not repeated (a caller that has
    given it for the whole fit calls steps that check again)."""
    with quiet(UserWarning, ".*eigendecompositions' worth"):
        yield
