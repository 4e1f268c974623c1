"""Memory estimates: refuse, with the figure, a problem that cannot fit before
allocating."""

import os

__all__ = ["available_bytes", "check_fits", "format_bytes"]


def available_bytes():
    """Memory the OS says is available (MemAvailable), or None if it cannot tell."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(nbytes):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def check_fits(nbytes, what):
    """Raise MemoryError if `nbytes` exceeds the memory available (when known)."""
    avail = available_bytes()
    if avail is not None and nbytes > avail:
        raise MemoryError(
            f"{what} needs about {format_bytes(nbytes)} but only {format_bytes(avail)} "
            "is available; reduce the problem size"
        )
