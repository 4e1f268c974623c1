"""Progress bars (tqdm, on a terminal only) and the fixntk logger."""

import contextlib
import io
import logging
import warnings

import numpy as np
import pytest
from conftest import first_call_waits_for, planted

import fixntk
from fixntk import _progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_bars_only_with_verbose_and_on_a_terminal(monkeypatch):
    for stream, verbose, drawn in [
        (io.StringIO(), 1, False),  # not a terminal
        (Tty(), 0, False),  # not asked for
        (Tty(), 1, True),
    ]:
        monkeypatch.setattr("sys.stderr", stream)
        assert list(_progress.progress(range(3), verbose=verbose, desc="work")) == [
            0,
            1,
            2,
        ]
        text = stream.getvalue()
        assert ("work:" in text and "0/3" in text) is drawn
        assert text.endswith("\r") is drawn  # the bar is cleared when done


def test_off_a_terminal_long_work_prints_lines(monkeypatch):
    """Off a terminal (a pipe, a log file) a bar asked for prints its state as plain
    lines every _LOG_EVERY seconds, none for short work (a 3-minute fit piped to a
    file said nothing until it ended)."""
    import time

    for every, lines in [(30.0, False), (0.0, True)]:
        stream = io.StringIO()
        monkeypatch.setattr("sys.stderr", stream)
        monkeypatch.setattr(_progress, "_LOG_EVERY", every)
        for _ in _progress.progress(range(3), verbose=1, desc="work"):
            time.sleep(0.01)
        text = stream.getvalue()
        assert "\r" not in text
        assert ("work:" in text and "/3" in text) is lines, text
        assert all(line.startswith("work:") for line in text.splitlines())
    # a redraw asked for at once (set_description) waits out the first interval
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setattr(_progress, "_LOG_EVERY", 30.0)
    with _progress.progress(total=3, verbose=1, desc="a") as bar:
        bar.set_description("b")
        bar.update(3)
    assert stream.getvalue() == ""


def test_solve_path_draws_one_bar_over_the_grid(monkeypatch):
    X, y = planted(n=80, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    fixntk.solve_path(X, y, arr, n_lams=4, eps=0.1, verbose=1)
    text = tty.getvalue()
    assert "fixntk path:" in text and "0/4 lams" in text
    # no rate nor time left: each lam costs more than the last, and the first
    # lams' rate read 'ETA 00:05' in a fit that ran past 5 minutes (tester EH)
    assert "smaller lams cost more" in text
    assert "lam/s" not in text and "<" not in text


def test_lam_kare_draws_a_bar_over_its_kernels(monkeypatch):
    """lam='kare' scores each lam with an n x n eigendecomposition, most of the
    fit's time, and verbose=1 drew no bar there (tester DL: 2600 rows, silent)."""
    X, y = planted(n=80, d=3, seed=0)
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    est = fixntk.GatedReLURegressor(lam="kare", n_lams=4, n_gates=10, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the grid's edge, if reached
        est.set_params(random_state=0).fit(X, y)
    text = tty.getvalue()
    assert "fixntk lam (kare):" in text and "/4" in text, text


def test_reports_go_to_the_fixntk_logger(caplog):
    X, y = planted(n=80, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    with caplog.at_level(logging.INFO, logger="fixntk"):
        fixntk.solve(X, y, arr, lam, verbose=True)
        fixntk.irls(X, y, arr, lam, verbose=2, max_iter=3)
    records = [r for r in caplog.records if r.name == "fixntk"]
    assert any(r.getMessage().startswith("solve: outer") for r in records)
    assert any(r.getMessage().startswith("irls: step") for r in records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fixntk"):
        fixntk.solve(X, y, arr, lam)  # verbose=0: nothing
    assert not [r for r in caplog.records if r.name == "fixntk"]


def test_unconfigured_logging_still_shows_verbose_reports(monkeypatch, capsys):
    logger = logging.getLogger("fixntk")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logger, "propagate", False)  # no root handler (pytest's)
    say = _progress.report(2)
    say("hello")
    assert "[fixntk] hello" in capsys.readouterr().err
    assert _progress.report(1) is None  # below the level: no records


@pytest.mark.parametrize(
    "est",
    [
        fixntk.GatedReLURegressor(n_gates=10, lam="cv", n_lams=3, cv=2, verbose=1),
        fixntk.NTKRegressor(lam="cv", cv=2, verbose=1),
        fixntk.ReLURegressor(n_gates=10, lam="cv", n_lams=2, cv=2, verbose=1),
        fixntk.KAREKernelRegressor(n_gates=10, max_iter=3, verbose=1),
    ],
    ids=lambda e: type(e).__name__,
)
def test_estimators_take_verbose(est, monkeypatch):
    X, y = planted(n=60, d=2, seed=0)
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    est.set_params(random_state=0).fit(X, y)
    assert "fixntk" in tty.getvalue()
    assert np.isfinite(est.predict(X)).all()


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_solve_logs_its_certificate_in_the_callers_units(caplog, scale):
    """The last logged objective and gap are the result's (they were in the solver's
    internal unit scale: off by a factor that depends on y, the same at any scale)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = np.maximum(X[:, 0], 0) - X[:, 1]
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr) * scale**2
    with caplog.at_level(logging.INFO, logger="fixntk"):
        res = fixntk.solve(scale * X, scale * y, arr, lam, verbose=True, tol=1e-8)
    last = [r.getMessage() for r in caplog.records if "objective" in r.getMessage()][-1]
    logged = float(last.split("objective")[1].split()[0])
    assert logged == pytest.approx(res.objective, rel=1e-7)


def test_heartbeat_reports_long_work_only_with_verbose(caplog):
    """One long call into compiled code (an estimator's refit) gives a line every
    ``every`` seconds at verbose >= 1, nothing at 0. The block waits for the first
    record itself, so the test does not depend on timing."""
    import threading

    seen = threading.Event()

    class Flag(logging.Handler):
        def emit(self, record):
            seen.set()

    flag = Flag()
    _progress.logger.addHandler(flag)
    try:
        with caplog.at_level(logging.INFO, logger="fixntk"):
            with _progress.heartbeat("quiet work", verbose=0, every=0.001):
                assert not seen.wait(0.05)
            with _progress.heartbeat("long work", verbose=1, every=0.001):
                assert seen.wait(10.0)
    finally:
        _progress.logger.removeHandler(flag)
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(m.startswith("long work: ") for m in lines)


def test_estimator_refit_beats_while_it_solves(monkeypatch, caplog):
    """GatedReLURegressor's final solve (after its lam search) says it is running:
    a default fit on 54,000 rows was silent for three minutes after the search's bar."""
    import threading

    import fixntk._estimators as est_mod

    seen, real = threading.Event(), est_mod.solve

    class Flag(logging.Handler):
        def emit(self, record):
            if "refit on all training rows at lam" in record.getMessage():
                seen.set()

    def slow_solve(*args, **kwargs):
        assert seen.wait(10.0)  # a beat arrives while the refit runs
        return real(*args, **kwargs)

    monkeypatch.setattr(_progress, "_LOG_EVERY", 0.001)
    monkeypatch.setattr(est_mod, "solve", slow_solve)
    flag = Flag()
    _progress.logger.addHandler(flag)
    try:
        X, y = planted(n=200, d=3, seed=0)
        with caplog.at_level(logging.INFO, logger="fixntk"):
            fixntk.GatedReLURegressor(n_gates=10, random_state=0, verbose=1).fit(X, y)
    finally:
        _progress.logger.removeHandler(flag)
    assert seen.is_set()


def test_off_a_terminal_lines_keep_time_through_long_steps(monkeypatch):
    """A bar whose step outlasts the interval still gives its line on time (tqdm
    redraws on updates only: a lam search's lines came 38-41 s apart at 30 s)."""
    import time

    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setattr(_progress, "_LOG_EVERY", 0.2)
    with _progress.progress(total=2, verbose=1, desc="slow") as bar:
        time.sleep(1.5)  # one step, no update: redrawn by the bar's thread
        assert "slow:" in stream.getvalue() and "0/2" in stream.getvalue()
        bar.update(2)


def test_a_scope_shares_one_clock_between_bars_and_heartbeats(monkeypatch, caplog):
    """Inside one fit (a scope) the interval runs across its bar and its refit's
    heartbeat: a 0.6 s bar and a 0.9 s refit, each shorter than the 1 s interval,
    give one line a second into the fit (they each had a clock, and a 40 s fit made
    of a 25 s search and a 15 s refit printed nothing). Outside a scope nothing."""
    import time

    monkeypatch.setattr(_progress, "_LOG_EVERY", 1.0)
    for scoped, lines in [(False, 0), (True, 1)]:
        stream = io.StringIO()
        monkeypatch.setattr("sys.stderr", stream)
        caplog.clear()
        scope = _progress.progress_scope() if scoped else contextlib.nullcontext()
        with caplog.at_level(logging.INFO, logger="fixntk"), scope:
            with _progress.progress(total=3, verbose=1, desc="search") as bar:
                time.sleep(0.6)
                bar.update(3)
            with _progress.heartbeat("refit", verbose=1):
                time.sleep(0.9)
        beats = [r for r in caplog.records if r.getMessage().startswith("refit")]
        assert stream.getvalue() == ""
        assert len(beats) == lines


def test_lam_search_bar_counts_the_grid_extension(monkeypatch):
    """Where the validation loss still falls at the grid's end, the search runs on
    past it: the bar's total grows with it (it stood at 100% while those ran)."""
    import re

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0)
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    est = fixntk.GatedReLURegressor(verbose=1, random_state=0).fit(X, y)
    assert est.lam_selection_ == "cv" and len(est.lams_) > est.n_lams  # extended
    totals = {int(b) for _, b in re.findall(r"(\d+)/(\d+)", tty.getvalue())}
    assert max(totals) > est.cv * est.n_lams


@pytest.mark.parametrize("func", ["solve", "solve_path", "solve_relu"])
def test_long_functions_say_so_once_at_the_users_line(monkeypatch, func):
    """solve, solve_path and solve_relu past LONG_RUN_SECONDS warn once at verbose=0,
    from a helper thread during the compiled work, naming the user's call (solve_path's
    defaults ran 477 s on 5x10^4 rows without a word, a tester); nothing at
    verbose=1, where bars and logs say it."""
    import warnings

    import fixntk._relu as relu_mod
    import fixntk._solver as solver_mod

    X, y = planted(n=60, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 8, seed=0)
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    call = {
        "solve": lambda v: fixntk.solve(X, y, arr, lam, verbose=v),
        "solve_path": lambda v: fixntk.solve_path(X, y, arr, n_lams=3, verbose=v),
        "solve_relu": lambda v: fixntk.solve_relu(X, y, arr, lam, verbose=v),
    }[func]
    module, inner = {
        "solve_relu": (relu_mod, "_solve_column"),
    }.get(func, (solver_mod, "_solve_problem"))
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.02)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first_call_waits_for(monkeypatch, module, inner, record)
        call(0)
    said = [w for w in record if "goes on" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in record]
    assert str(said[0].message).startswith(f"{func}: the ")
    line = call.__code__.co_firstlineno  # the user's call: the lambda's line
    assert (said[0].filename, said[0].lineno) == (__file__, line)
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call(1)
    assert not [w for w in record if "goes on" in str(w.message)]


def test_a_fit_says_so_once_not_again_from_its_solves(monkeypatch):
    """An estimator's fit calls fixntk.solve: only the fit's notice is given."""
    import warnings

    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    X, y = planted(n=80, d=3, seed=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fixntk.GatedReLURegressor(n_gates=8, lam=0.01, random_state=0).fit(X, y)
    said = [str(w.message) for w in record if "goes on" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("GatedReLURegressor: the fit")


def test_a_notice_never_stops_the_work(monkeypatch, caplog):
    """Under a filter that makes warnings errors (pytest -W error) the long-run notice
    goes to the fixntk logger: a fit past a minute had raised its UserWarning."""
    import warnings

    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    X, y = planted(n=80, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 8, seed=0)
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="fixntk"):
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        est = fixntk.GatedReLURegressor(n_gates=8, n_lams=4, random_state=0)
        est.fit(X, y)
        fixntk.solve(X, y, arr, 0.01)
    said = [r.getMessage() for r in caplog.records if "goes on" in r.getMessage()]
    assert len(said) == 2
    assert said[0].startswith("GatedReLURegressor: the fit has run")
    assert said[1].startswith("solve: the solve has run")


@pytest.mark.parametrize("kind", ["interactive", "exec"])
def test_warn_at_the_users_line_of_code_without_a_source_loader(kind):
    """A notice said at code whose ``__main__`` cannot give its source (python -c,
    standard input and the interactive interpreter: BuiltinImporter raised ImportError
    in the notice's thread, and the notice was lost; tester CB), and at exec'd code
    without ``__name__`` (dropped silently): the warning is shown at that line."""
    import importlib.machinery

    from fixntk._validation import warn_at

    g = {} if kind == "exec" else {"__name__": "__main__"}
    if kind == "interactive":
        g["__loader__"] = importlib.machinery.BuiltinImporter
    exec(compile("import sys\nframe = sys._getframe()\n", "<stdin>", "exec"), g)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warn_at("the fit has run 61 s", UserWarning, g["frame"])
    assert [(str(w.message), w.filename, w.lineno) for w in record] == [
        ("the fit has run 61 s", "<stdin>", 2)
    ]


def test_the_stand_in_log_handler_yields_to_the_applications(capsys):
    """A first verbose call with logging unconfigured adds fixntk's stderr handler;
    once the application configured logging, every record was printed twice, by it
    and by the application's handler (tester CL). The stand-in now writes only while
    no other handler receives the records."""
    logger = logging.getLogger("fixntk")
    saved = logger.handlers[:], logger.propagate
    app = io.StringIO()
    try:
        logger.handlers, logger.propagate = [], False
        say = _progress.report(2)
        assert logger.handlers == [_progress._HANDLER]
        say("first record")
        assert "[fixntk] first record" in capsys.readouterr().err
        quiet = logging.StreamHandler(io.StringIO())
        quiet.setLevel(logging.WARNING)  # a handler that drops INFO records
        logger.addHandler(quiet)
        logger.addHandler(logging.NullHandler())
        say("kept record")  # no handler writes it: the stand-in still does
        assert "[fixntk] kept record" in capsys.readouterr().err
        logger.addHandler(logging.StreamHandler(app))  # the application's
        say("second record")
        assert "second record" not in capsys.readouterr().err
        assert "second record" in app.getvalue()
    finally:
        logger.handlers, logger.propagate = saved


@pytest.mark.parametrize("which", ["ntk", "relu"])
def test_long_phases_before_a_bar_beat(monkeypatch, which):
    """verbose=1 gives a line every 30 s during the NTK's eigendecomposition (6000
    rows: 96 s silent) and the ReLU estimators' lambda_max pass (50000 rows: 77 s
    silent before the lam bar; tester DL). Each phase waits here for its beat."""
    import threading

    import fixntk._estimators as est_mod
    import fixntk._relu_estimators as relu_mod

    seen = threading.Event()
    word = "eigendecomposition" if which == "ntk" else "lambda_max of the ReLU"

    class Flag(logging.Handler):
        def emit(self, record):
            if word in record.getMessage():
                seen.set()

    module, name = (est_mod, "psd_eigh")
    if which == "relu":
        module, name = relu_mod, "relu_lambda_max"
    real = getattr(module, name)

    def slow(*args, **kwargs):
        assert seen.wait(10.0)  # a beat arrives while the phase runs
        return real(*args, **kwargs)

    monkeypatch.setattr(_progress, "_LOG_EVERY", 0.001)
    monkeypatch.setattr(module, name, slow)
    flag = Flag()
    _progress.logger.addHandler(flag)
    try:
        X, y = planted(n=60, d=3, seed=0)
        if which == "ntk":
            fixntk.NTKRegressor(lam=0.1, verbose=1).fit(X, y)
        else:
            est = fixntk.ReLURegressor(n_gates=5, n_lams=3, random_state=0, verbose=1)
            est.fit(X, y)
    finally:
        _progress.logger.removeHandler(flag)
    assert seen.is_set()


def test_long_work_says_where_it_is_again_later(monkeypatch):
    """Past the first notice, work still going says where it is again after
    REPEAT_SECONDS, then 3 times as long after that (a default fit on 10^5 rows said
    so at 60 s, then nothing for 9 minutes; tester DZ); the advice only the first
    time."""
    import time
    import warnings

    import fixntk._solver as solver_mod

    X, y = planted(n=60, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 8, seed=0)
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    real = solver_mod._solve_problem

    def slow(*args, **kwargs):  # until three notices are out (10 s at most)
        deadline = time.monotonic() + 10.0
        while len(record) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        return real(*args, **kwargs)

    monkeypatch.setattr(solver_mod, "_solve_problem", slow)
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    monkeypatch.setattr(_progress, "REPEAT_SECONDS", 0.05)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        t0 = time.monotonic()
        fixntk.solve(X, y, arr, lam)
        took = time.monotonic() - t0
    said = [str(w.message) for w in record if "goes on" in str(w.message)]
    assert len(said) == 3, said
    assert "verbose=1" in said[0] and not any("verbose=1" in m for m in said[1:])
    # at 0, then 0.05 s later, then 0.15 s after that
    seconds = [float(m.split("has run ")[1].split(" s")[0]) for m in said]
    assert seconds == sorted(seconds) and took >= 0.2


def test_a_long_kernel_prediction_says_how_far_it_is(monkeypatch):
    """The kernel estimators' predict past LONG_RUN_SECONDS says so, in the
    estimator's name, with the rows done (a million new rows against 2400 training
    rows ran minutes without a word; tester DZ); inside a fit it stays silent."""
    import warnings

    X, y = planted(n=60, d=3, seed=0)
    est = fixntk.NTKRegressor(lam=0.1).fit(X, y)
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.predict(np.tile(X, (3, 1)))
    said = [str(w.message) for w in record if "goes on" in str(w.message)]
    assert len(said) == 1, said
    assert said[0].startswith("NTKRegressor: predict has run") and "of 180" in said[0]
    assert record[0].filename == __file__


@pytest.mark.parametrize("loss", ["squared", "logistic", "relu"])
def test_a_long_solve_says_where_it_is(monkeypatch, loss):
    """A long solve's notice gives its last certificate: epochs (and Newton steps),
    the relative gap and tol (an overnight logistic solve said only "has run 360 s;
    it goes on", and its user could not tell whether to wait; tester EK). Read here
    after the solve from the notice's own text: its last certificate is the
    result's."""
    seen = []
    real = _progress.LongRunNotice.during

    def during(self, where):
        seen.append(where)
        return real(self, where)

    monkeypatch.setattr(_progress.LongRunNotice, "during", during)
    X, y = planted(n=80, d=3, seed=1)
    arr = fixntk.sample_arrangement(X, 12, seed=0)
    if loss == "logistic":
        y = (y > np.median(y)).astype(int)
    solve = fixntk.solve_relu if loss == "relu" else fixntk.solve
    kw = {} if loss == "relu" else {"loss": loss}
    lam = 0.05 * fixntk.lambda_max(X, y, arr, **kw)
    res = solve(X, y, arr, lam, tol=1e-8, **kw)
    (where,) = seen
    text = where(61.0)
    assert text.startswith("the solve has run 61 s (") and text.endswith("; it goes on")
    assert f"{res.n_iter} epochs; relative gap " in text and "tol 1.0e-08" in text
    gap = float(text.split("relative gap ")[1].split(" ")[0])
    assert gap <= 1e-8 and gap == pytest.approx(res.relative_gap, rel=0.06, abs=1e-14)
    assert ("Newton steps" in text) is (loss == "logistic")
    # before the first certificate (inside the compiled descent), it says so
    with _progress.solve_notice("solve", 0):
        pass
    assert seen[-1](61.0) == "the solve has run 61 s (no certificate yet); it goes on"


@pytest.mark.parametrize("name", ["NTKRegressor", "KAREKernelClassifier"])
def test_a_long_kernel_fit_says_so(monkeypatch, name):
    """A kernel estimator's fit past LONG_RUN_SECONDS says so once at verbose=0, at
    the user's line, with what makes it faster (NTKRegressor() on 9000 rows ran
    121 s and KAREKernelRegressor() on 3000 rows 143 s without a word; tester EM);
    the KARE kernel's names its gates first; nothing at verbose=1."""
    monkeypatch.setattr(_progress, "LONG_RUN_SECONDS", 0.0)
    X, y = planted(n=60, d=3, seed=0)
    if name.endswith("Classifier"):
        y = (y > np.median(y)).astype(int)
    for verbose in (0, 1):
        est = getattr(fixntk, name)(verbose=verbose)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with contextlib.redirect_stderr(io.StringIO()):
                est.fit(X, y)
        said = [str(w.message) for w in record if "the fit has run" in str(w.message)]
        assert len(said) == (1 - verbose), said
        if verbose == 0:
            assert said[0].startswith(f"{name}: the fit has run 0 s; it goes on.")
            if name.startswith("NTK"):
                assert "fewer rows (its time grows as n^3" in said[0]
            else:  # its steps cost n^2 per mask: n_gates=300000 on 200 rows, 205 s,
                # was told to use fewer rows (tester EV)
                assert "fewer gates (n_gates: each step costs n^2" in said[0]
            assert all(
                w.filename == __file__ for w in record if "fit has" in str(w.message)
            )
        assert not hasattr(est, "_fit_notice")
