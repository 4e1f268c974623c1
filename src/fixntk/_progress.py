"""Progress bars and messages: tqdm bars on a terminal, and the ``fixntk`` logger.

Long work reports through :func:`progress` when ``verbose >= 1``: a tqdm bar on
standard error when it is a terminal; elsewhere (a pipe, a log file, a notebook) a
plain line with the bar's count, rate and time left every 30 seconds, from the first
30 seconds on (short work prints nothing). The 30 seconds run across the bars and
heartbeats of one estimator's ``fit`` or one command (:func:`progress_scope`).
Everything else the library says goes to ``logging.getLogger("fixntk")``:

- ``verbose=0``: nothing, but one UserWarning from work still running after a minute
  (:class:`LongRunNotice`: an estimator's fit, ``solve``, ``solve_path``,
  ``solve_relu``, and ``fixntk.dask``'s fits, ``solve`` and ``solve_path``).
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
import contextvars
import functools
import logging
import math
import numbers
import sys
import threading
import time
import weakref

import numpy as np
from tqdm import tqdm

from ._validation import user_frame, warn_at

__all__ = ["heartbeat", "logger", "progress", "progress_scope", "report", "scoped"]

logger = logging.getLogger("fixntk")


class _TqdmStderrHandler(logging.Handler):
    """Writes records to the current ``sys.stderr`` through ``tqdm.write`` (bars are
    redrawn below the line)."""

    def emit(self, record):
        # stands in only while the application has configured no handler of its
        # own: added by a first verbose fit, it printed every record a second time
        # once logging.basicConfig ran (tester CL)
        if _handled_elsewhere(record.levelno):
            return
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging's own policy
            self.handleError(record)


def _handled_elsewhere(level=logging.INFO):
    """Whether a record of ``level`` from the ``fixntk`` logger reaches a handler
    other than :data:`_HANDLER` (its own, or an ancestor's through propagation) that
    writes it: a NullHandler or a handler set above ``level`` does not (a root file
    handler at WARNING silenced verbose=1; a reviewer)."""

    def writes(handler):
        return (
            handler is not _HANDLER
            and not isinstance(handler, logging.NullHandler)
            and handler.level <= level
        )

    node = logger
    while True:
        if any(writes(h) for h in node.handlers):
            return True
        if not node.propagate or node.parent is None:
            return False
        node = node.parent


# Off a terminal: seconds between progress lines (and before the first)
_LOG_EVERY = 30.0


class _Clock:
    """When the last progress line of one piece of work was written (its start before
    the first): shared by the bars and heartbeats of an estimator's fit or a command
    (:func:`progress_scope`), so that lines come every ``_LOG_EVERY`` seconds across
    them. Each bar and heartbeat had its own clock, and a fit made of a 25 s lam
    search and a 15 s refit printed nothing; one made of two under a minute each was
    silent for a minute."""

    def __init__(self):
        self.last = time.monotonic()

    def due(self, every=None):
        """Whether a line is due now (``every`` seconds, default ``_LOG_EVERY``, since
        the last); if so, counts it as written."""
        now = time.monotonic()
        if now - self.last < (_LOG_EVERY if every is None else every):
            return False
        self.last = now
        return True


_SCOPE = contextvars.ContextVar("fixntk_progress_scope", default=None)


@contextlib.contextmanager
def progress_scope():
    """One clock for the progress lines of the work inside the block (an estimator's
    fit, a command); nested scopes share the outermost one's."""
    if _SCOPE.get() is not None:
        yield
        return
    token = _SCOPE.set(_Clock())
    try:
        yield
    finally:
        _SCOPE.reset(token)


def scoped(method):
    """``method`` run inside a :func:`progress_scope` (the estimators' ``fit``). A fit
    that raises (an error, Ctrl-C, a warning turned into an error) leaves its
    estimator unfitted: attributes are set along the way (``bias_scale_`` first, the
    coefficients last), and a refit stopped between them predicted with the old
    coefficients on the new scale (1e2 times the old predictions), or a fresh fit
    stopped after its coefficients answered ``predict`` (tester CL)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        est = args[0] if args else None
        if hasattr(est, "verbose"):  # an estimator's, checked first
            _check_verbose(est.verbose)
        with progress_scope():
            try:
                return method(*args, **kwargs)
            except BaseException:
                if hasattr(est, "get_params"):
                    _unfit(est)
                raise

    return wrapper


def _unfit(estimator):
    """Remove the fitted attributes of ``estimator`` (scikit-learn's: public names
    ending in ``_``; private ones are left, scikit-learn's own among them)."""
    fitted = [n for n in vars(estimator) if n.endswith("_") and not n.startswith("_")]
    for name in fitted:
        delattr(estimator, name)


def _clock():
    """The clock of the current scope, or a new one (work outside any scope)."""
    clock = _SCOPE.get()
    return _Clock() if clock is None else clock


class _Lines:
    """A stream for a tqdm bar off a terminal: a redraw becomes one line (tqdm starts
    redraws with a carriage return, which a log file or a pipe keeps), at most one
    every ``_LOG_EVERY`` seconds and none in the first of its scope's clock
    (``set_description`` redraws at once, whatever tqdm's intervals); the bar's
    clearing at the end writes nothing."""

    def __init__(self, stream, clock):
        self.stream, self.clock = stream, clock

    def write(self, text):
        line = text.replace("\r", "").strip()
        if line and self.clock.due():
            self.stream.write(line + "\n")

    def flush(self):
        self.stream.flush()


class _Bar(tqdm):
    """A tqdm bar that, drawn on a terminal, counts its closing as its scope's last
    progress output (a heartbeat after it waits a full interval); off a terminal
    (:meth:`tick`), redrawn every second by a thread, so that its lines come on
    time through steps that take minutes (tqdm redraws on updates only; its monitor
    thread adjusts ``miniters`` and draws nothing: lines came 38-41 s apart)."""

    _fixntk_clock = _fixntk_done = None

    def tick(self):
        """Redraw every second until closed (the lines filter by the clock)."""
        done = self._fixntk_done = threading.Event()
        ref = weakref.ref(self)  # a bar never closed is not kept alive

        def redraw():
            while not done.wait(1.0):
                bar = ref()
                if bar is None or bar.disable:
                    return
                bar.refresh()
                del bar

        threading.Thread(target=redraw, name="fixntk-progress", daemon=True).start()

    def close(self):
        if self._fixntk_done is not None:
            self._fixntk_done.set()
        if self._fixntk_clock is not None and not self.disable:
            self._fixntk_clock.last = time.monotonic()
        super().close()


_HANDLER = _TqdmStderrHandler()
_HANDLER.setFormatter(logging.Formatter("[fixntk] %(message)s"))


# the bar of a path over lams: no rate nor time left (see progress)
_PATH_FORMAT = (
    "{l_bar}{bar}| {n_fmt}/{total_fmt} lams [{elapsed}; smaller lams cost more]"
)


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
        Name of one step; "lam" (a path's steps, each costlier than the last) shows
        no rate nor time left.

    Returns
    -------
    tqdm.tqdm
        Iterable and context manager; disabled bars cost a few attribute look-ups per
        step.
    """
    wanted = bool(_check_verbose(verbose)) and verbose >= 1
    stderr = sys.stderr
    clock = _clock()
    if wanted and not getattr(stderr, "isatty", lambda: False)():
        # a 3-minute fit piped to a file said nothing between its first and last
        # lines: the bar's state as a line, now and then (when the scope's clock says;
        # tqdm redraws often enough for that, and the lines filter)
        style = dict(
            file=_Lines(stderr, clock),
            ascii=True,
            ncols=100,
            mininterval=1.0,
        )
        terminal = None
    else:
        style = dict(file=stderr, dynamic_ncols=True, disable=None if wanted else True)
        terminal = clock
    if unit == "lam":
        # along a path each lam costs more than the last (the smaller the lam, the
        # more active groups and epochs): a rate and time left from the first lams
        # read 'ETA 00:05' at 11 of 24 lams of a fit that ran past 5 minutes
        # (tester EH), so the bar says the time spent and the cost ahead in words
        style["bar_format"] = _PATH_FORMAT
    bar = _Bar(iterable, total=total, desc=desc, unit=unit, leave=False, **style)
    bar._fixntk_clock = terminal
    if wanted and terminal is None:
        bar.tick()
    return bar


def _check_verbose(verbose):
    """``verbose`` itself, an int or bool (None: 0); a TypeError naming it otherwise
    (verbose='yes' failed with numpy's comparison of a str and an int)."""
    if verbose is None:
        return 0
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, float) and verbose.is_integer():
        verbose = int(verbose)  # 1.0 (it was taken before verbose was checked)
    if isinstance(verbose, numbers.Integral):
        if verbose < 0:
            raise ValueError(f"verbose must be an int >= 0 or a bool; got {verbose!r}")
        return int(verbose)
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
    if not _handled_elsewhere() and _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
    return logger.info


@contextlib.contextmanager
def beside(target, name, done):
    """Run ``target()`` in a daemon thread ``name`` while the block runs; on its end,
    set the event ``done`` (which ``target`` waits on) and join the thread."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# Work still under way after this many seconds says so once at verbose=0 (a tester's
# GatedReLURegressor() on 40000 rows of diamonds ran 107-210 s, ReLURegressor() on
# 10^4 rows 150 s and solve_path's defaults on 5x10^4 rows 477 s, without a word)
LONG_RUN_SECONDS = 60.0
# and again where it is REPEAT_SECONDS after that, 3 times as long after the second...
# (5 minutes, 15, 45): a default fit on 10^5 rows said where it was at 60 s, then
# nothing for 9 minutes (tester DZ)
REPEAT_SECONDS = 300.0
_NOTICE = contextvars.ContextVar("fixntk_long_run_notice", default=None)


class LongRunNotice:
    """Long work's word at ``verbose=0``: a UserWarning, once the work has run past
    LONG_RUN_SECONDS (and again REPEAT_SECONDS later, 3 times as long after that...),
    says where it is (``where(elapsed)`` of :meth:`during`) and (``advice``) what
    makes such work faster; at ``verbose >= 1`` a bar or log lines say it instead.
    Said at the user's line, from a helper thread that waits beside the work."""

    def __init__(self, name, verbose, advice):
        self.name, self.advice = name, advice
        # inside work with a notice of its own (an estimator's fit calls fixntk.solve)
        # the outer one speaks
        silent = _check_verbose(verbose) > 0 or _NOTICE.get() is not None
        self._next = math.inf if silent else None  # None: LONG_RUN_SECONDS, read late
        self.start = time.monotonic()
        self._times = 0  # notices said
        self._lock = threading.Lock()

    @property
    def said(self):
        """Whether the notice has nothing more to say (silent, or said for good)."""
        return self._next == math.inf

    def _due_at(self):
        """Seconds from the start at which the next notice is due."""
        return LONG_RUN_SECONDS if self._next is None else self._next

    def _due(self):
        """The seconds run if a notice is due now (and counts it as said)."""
        with self._lock:
            elapsed = time.monotonic() - self.start
            if elapsed < self._due_at():
                return None
            self._times += 1
            self._next = elapsed + REPEAT_SECONDS * 3.0 ** (self._times - 1)
            return elapsed

    def advice_text(self):
        """What makes such work faster (said after where it is)."""
        return self.advice

    def _say(self, where, elapsed, frame, lineno=None):
        # the advice once; later notices say where the work is
        advice = self.advice_text() if self._times <= 1 else ""
        message = f"{self.name}: {where(elapsed)}. {advice}".rstrip()
        try:
            warn_at(message, UserWarning, frame, lineno)
        except UserWarning:
            # a filter that makes warnings errors (pytest -W error): a notice never
            # stops the work, and goes to the fixntk logger instead
            logger.warning(message)

    @contextlib.contextmanager
    def active(self):
        """The block as this notice's work: notices made inside it stay silent."""
        token = _NOTICE.set(self)
        try:
            yield
        finally:
            _NOTICE.reset(token)

    @contextlib.contextmanager
    def during(self, where):
        """Around one long call (:meth:`active`): the notice (``where(elapsed)``)
        when it falls due before the call returns, from a helper thread."""
        with self.active(), self._beside(where):
            yield

    @contextlib.contextmanager
    def _beside(self, where):
        if self.said:
            yield
            return
        frame = user_frame()
        lineno = frame.f_lineno  # the user's call (the thread sees the frame later)
        elapsed = self._due()
        if elapsed is not None:  # due already
            self._say(where, elapsed, frame, lineno)
        done = threading.Event()

        def wait():
            while True:
                with self._lock:
                    left = self._due_at() - (time.monotonic() - self.start)
                if done.wait(max(left, 0.0)):
                    return
                elapsed = self._due()
                if elapsed is not None:
                    self._say(where, elapsed, frame, lineno)

        with beside(wait, "fixntk-notice", done):
            yield


def path_notice(name, verbose, solved, total):
    """The long-run notice around a path of ``total`` lams of function ``name``
    (``solve_path``), ``solved`` the list its results go to:
    :meth:`LongRunNotice.during`."""
    notice = LongRunNotice(
        name,
        verbose,
        "verbose=1 draws a bar over the grid; fewer lams (n_lams), a larger eps or "
        "a larger tol make a path faster",
    )
    return notice.during(
        lambda elapsed: (
            f"the path has run {elapsed:.0f} s and solved {len(solved)} of {total} "
            "lams; it goes on"
        )
    )


# Where the solve inside a solve_notice is: its last certificate, set by the solver's
# Python loops (solve_status); a notice said only "has run 360 s; it goes on" on an
# overnight logistic solve, which left its user to guess whether to wait (tester EK)
_SOLVE_STATUS = contextvars.ContextVar("fixntk_solve_status", default=None)


class _SolveStatus:
    """The last certificate of the solve under way: epochs, Newton steps, the gap
    relative to the null model's objective (what ``tol`` bounds), and ``tol``."""

    def __init__(self):
        self.epochs, self.newton, self.gap, self.tol = 0, 0, None, None

    def text(self):
        if self.gap is None:
            return " (no certificate yet)"
        newton = f"{self.newton} Newton steps, " if self.newton else ""
        return (
            f" ({newton}{self.epochs} epochs; relative gap {self.gap:.1e} at its last "
            f"certificate, tol {self.tol:.1e})"
        )


def solve_status(epochs, gap, f0, tol, newton=0):
    """Record the certificate of a solve's step (``gap`` and the null objective
    ``f0`` in one unit) for the long-run notice of :func:`solve_notice`, if any."""
    status = _SOLVE_STATUS.get()
    if status is not None:
        status.epochs, status.newton, status.tol = int(epochs), int(newton), tol
        status.gap = float(gap / f0) if f0 > 0 else float(gap)


@contextlib.contextmanager
def solve_notice(name, verbose):
    """The long-run notice around one solve of function ``name`` (``solve``,
    ``solve_relu``): :meth:`LongRunNotice.during`, saying where the solve is (its
    last certificate, :func:`solve_status`)."""
    notice = LongRunNotice(
        name,
        verbose,
        "verbose=1 logs its certificates; a larger tol or lam, or fewer masks, make "
        "it faster (max_iter caps its epochs)",
    )
    status = _SolveStatus()
    token = _SOLVE_STATUS.set(status)
    try:
        with notice.during(
            lambda elapsed: (
                f"the solve has run {elapsed:.0f} s{status.text()}; it goes on"
            )
        ):
            yield
    finally:
        _SOLVE_STATUS.reset(token)


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
    clock = _clock()  # the thread does not inherit the scope: passed on
    done, start = threading.Event(), time.monotonic()

    def beat():
        # a line once ``every`` seconds have passed since the scope's last one
        while not done.wait(min(max(every / 10, 1e-3), 1.0)):
            if clock.due(every):
                say(f"{desc}: {time.monotonic() - start:.0f} s")

    with beside(beat, "fixntk-heartbeat", done):
        yield
