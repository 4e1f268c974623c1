"""Progress bars and messages: tqdm bars on a terminal, and the ``fixntk`` logger.

Long work reports through :func:`progress` when ``verbose >= 1``: a tqdm bar on
standard error when it is a terminal; elsewhere (a pipe, a log file, a notebook) a
plain line with the bar's count, rate and time left every 30 seconds, from the first
30 seconds on (short work prints nothing).
Everything else the library says goes to ``logging.getLogger("fixntk")``:

- ``verbose=0``: nothing.
- ``verbose=1``: progress bars (regularisation paths, cross-validation folds, IRLS
  steps, ``kare_mkl`` iterations), and a line every 30 seconds from work with no
  steps to count (:func:`heartbeat`: an estimator's final solve).
- ``verbose=2``: also one INFO record per step (the certificate of each solve, each
  IRLS step). Functions whose loop runs in compiled code or has no known length
  (``solve``, ``solve_relu``) log their certificates from ``verbose=1``.

When logging is not configured (no handler on the ``fixntk`` logger or its ancestors),
:func:`report` adds one that writes ``[fixntk] ...`` lines to standard error, through
tqdm so that they do not break a bar.

Configure ``logging.getLogger("fixntk")`` like any logger to send the records elsewhere.
"""

import contextlib
import logging
import numbers
import sys
import threading
import time

import numpy as np
from tqdm import tqdm

__all__ = ["heartbeat", "logger", "progress", "report"]

logger = logging.getLogger("fixntk")


class _TqdmStderrHandler(logging.Handler):
    """Writes records to the current ``sys.stderr`` through ``tqdm.write`` (bars are
    redrawn below the line)."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging's own policy
            self.handleError(record)


# Off a terminal: seconds between progress lines (and before the first)
_LOG_EVERY = 30.0


class _Lines:
    """A stream for a tqdm bar off a terminal: a redraw becomes one line (tqdm starts
    redraws with a carriage return, which a log file or a pipe keeps), at most one
    every ``_LOG_EVERY`` seconds and none in the first (``set_description`` redraws
    at once, whatever tqdm's intervals); the bar's clearing at the end writes
    nothing."""

    def __init__(self, stream):
        self.stream = stream
        self.last = time.monotonic()

    def write(self, text):
        line = text.replace("\r", "").strip()
        now = time.monotonic()
        if line and now - self.last >= _LOG_EVERY:
            self.last = now
            self.stream.write(line + "\n")

    def flush(self):
        self.stream.flush()


_HANDLER = _TqdmStderrHandler()
_HANDLER.setFormatter(logging.Formatter("[fixntk] %(message)s"))


def progress(iterable=None, *, verbose=0, total=None, desc=None, unit="it"):
    """A tqdm progress bar over ``iterable``, or a silent pass-through.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; None for a bar updated by hand (``bar.update(k)``).
    verbose : int, default=0
        The bar is drawn for ``verbose >= 1``: on a terminal as a bar, elsewhere as a
        line every ``_LOG_EVERY`` seconds once that long has passed.
    total : int, optional
        Expected number of steps (default ``len(iterable)`` when it has one).
    desc : str, optional
        Label in front of the bar.
    unit : str, default="it"
        Name of one step.

    Returns
    -------
    tqdm.tqdm
        Iterable and context manager; disabled bars cost a few attribute look-ups per
        step.
    """
    wanted = bool(_check_verbose(verbose)) and verbose >= 1
    stderr = sys.stderr
    if wanted and not getattr(stderr, "isatty", lambda: False)():
        # a 3-minute fit piped to a file said nothing between its first and last
        # lines: the bar's state as a line, now and then
        style = dict(
            file=_Lines(stderr),
            ascii=True,
            ncols=100,
            mininterval=_LOG_EVERY,
            maxinterval=_LOG_EVERY,
            delay=_LOG_EVERY,
        )
    else:
        style = dict(file=stderr, dynamic_ncols=True, disable=None if wanted else True)
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, **style)


def _check_verbose(verbose):
    """``verbose`` itself, an int or bool (None: 0); a TypeError naming it otherwise
    (verbose='yes' failed with numpy's comparison of a str and an int)."""
    if verbose is None:
        return 0
    if isinstance(verbose, (numbers.Real, np.bool_)):  # ints, bools; floats compare
        return verbose
    raise TypeError(f"verbose must be an int >= 0 or a bool; got {verbose!r}")


def report(verbose, level=2):
    """A function that logs one INFO record per call when ``verbose >= level``, or
    None.

    Parameters
    ----------
    verbose : int
        The caller's verbosity.
    level : int, default=2
        The smallest verbosity at which the records are made.

    Returns
    -------
    callable or None
        ``say(message)`` logging ``message`` at INFO on the ``fixntk`` logger (its level
        set to INFO if it was not set, and a standard-error handler added if no handler
        is configured), or None below ``level``.
    """
    if not _check_verbose(verbose) or verbose < level:
        return None
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.hasHandlers():
        logger.addHandler(_HANDLER)
    return logger.info


@contextlib.contextmanager
def heartbeat(desc, verbose=0, every=None):
    """A ``[fixntk] desc: N s`` record every ``every`` seconds (default 30) while the
    block runs, for ``verbose >= 1``: for one long call into compiled code, whose
    epochs no bar can count (an estimator's refit ran three silent minutes after its
    lam search's bar had reached 100%). Nothing for work shorter than ``every``."""
    say = report(verbose, level=1)
    if say is None:
        yield
        return
    every = _LOG_EVERY if every is None else every
    done, start = threading.Event(), time.monotonic()

    def beat():
        while not done.wait(every):
            say(f"{desc}: {time.monotonic() - start:.0f} s")

    thread = threading.Thread(target=beat, name="fixntk-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
