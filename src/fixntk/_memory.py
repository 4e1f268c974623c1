"""Memory estimates: refuse, with the figure, a problem that cannot fit before
allocating."""

import psutil

__all__ = ["available_bytes", "check_fits", "format_bytes"]


def available_bytes():
    """Memory the operating system can give without swapping, in bytes.

    psutil's ``virtual_memory().available`` (``MemAvailable`` on Linux, free plus
    inactive pages on macOS, the available physical memory on Windows).
    """
    return int(psutil.virtual_memory().available)


def format_bytes(nbytes):
    """``nbytes`` in B, KiB, MiB, GiB or TiB, e.g. ``"11.9 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def check_fits(nbytes, what):
    """Raise MemoryError if `nbytes` exceeds the memory available."""
    avail = available_bytes()
    if nbytes > avail:
        raise MemoryError(
            f"{what} needs about {format_bytes(nbytes)} but only {format_bytes(avail)} "
            "is available; reduce the problem size"
        )
