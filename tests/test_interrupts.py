"""Ctrl-C and Python signal handlers in every long phase (issue 19, part 3b).

Each script builds a problem on which one phase is long (many seconds, or one
uninterrupted call of many seconds before the phase polled), prints "ready", and runs
it; the test sends SIGINT (or the script arms ``signal.alarm``) while the phase runs.
The phase must stop, raise in Python, leave no thread of ours running and leave the
process usable. The guard of ``interrupt_after_ready`` only stops a hang: it is not a
speed assertion. ``python -m pytest -s tests/test_interrupts.py`` prints the seconds
from the signal to its Python handler (when the phase let it run) and to the exit
(including the last small solve).
"""

import subprocess
import sys
import time

import pytest
from conftest import interrupt_after_ready

_USABLE = r"""
import threading
print("threads", threading.active_count(), flush=True)
Xs = np.random.default_rng(1).standard_normal((200, 4))
ys = Xs[:, 0] ** 2
small = fixntk.sample_arrangement(Xs, 20, seed=0)
res = fixntk.solve(Xs, ys, small, 0.1 * fixntk.lambda_max(Xs, ys, small))
print("usable", res.converged, flush=True)
"""

# 6000 random masks of 100000 rows in 128 dimensions
_RANDOM_MASKS = r"""
rng = np.random.default_rng(0)
n, p = 100000, 6000
X = rng.standard_normal((n, 128))
words = rng.integers(0, 2**63, size=(p, (n + 63) // 64), dtype=np.uint64)
arr = fixntk.Arrangement(words, n)
"""

_PHASES = {
    # the block Grams of order 784 and their eigendecompositions (the lazily built ones
    # of the first working sets, then prepare's), about a second each
    "solve prepare": r"""
rng = np.random.default_rng(0)
X = rng.standard_normal((4000, 784))
y = np.maximum(X @ rng.standard_normal(784), 0)
arr = fixntk.sample_arrangement(X, 220, seed=0)
lam = 1e-3 * fixntk.lambda_max(X, y, arr)
print("ready", flush=True)
run(lambda: fixntk.solve(X, y, arr, lam))
""",
    # the certificate's masked gradients X^T D_i r of 6000 groups (one compiled call of
    # about 4e10 multiply-adds)
    "certificate": _RANDOM_MASKS
    + r"""
y = rng.standard_normal(n)
print("ready", flush=True)
run(lambda: fixntk.lambda_max(X, y, arr))
""",
    # the logistic datafit's certificate: the same masked gradients
    "logistic certificate": _RANDOM_MASKS
    + r"""
y = (rng.standard_normal(n) > 0).astype(float)
print("ready", flush=True)
run(lambda: fixntk.lambda_max(X, y, arr, loss="logistic", fit_intercept=True))
""",
    # a masked prediction sum_i D_i X W_i of 6000 groups (row blocks of one dgemm each)
    "masked predict": _RANDOM_MASKS
    + r"""
from fixntk._cpu import core
W = rng.standard_normal((p, 128, 1))
print("ready", flush=True)
run(lambda: core.masked_predict(X, arr.packed, W))
""",
    # the proximal Newton loop of the logistic loss: its weighted compiled solves
    "prox newton": r"""
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 30))
y = (np.maximum(X @ rng.standard_normal((30, 20)), 0).sum(1) > 8).astype(float)
arr = fixntk.sample_arrangement(X, 1500, seed=0)
lam = 1e-5 * fixntk.lambda_max(X, y, arr, loss="logistic")
print("ready", flush=True)
run(lambda: fixntk.solve(X, y, arr, lam, loss="logistic", tol=1e-14, max_iter=10**9))
""",
    # the covariance mode's compiled solver (fixntk.dask's working sets): a Gram of
    # 400 groups of 10 (prepare's eigendecompositions, then epochs of 1.6e7)
    "covariance solve": r"""
from fixntk._cpu import core
rng = np.random.default_rng(0)
A = rng.standard_normal((6000, 4000))
H = A.T @ A / 6000
b = A.T @ rng.standard_normal((6000, 1)) / 6000
W0 = np.zeros((400, 10, 1))
print("ready", flush=True)
run(lambda: core.solve_gram(H, b, 1.0, W0, 1e-9, 0.0, max_epochs=10**9))
""",
    # the covariance mode's Gram blocks of 50 new groups of 20 over 200000 rows
    "covariance gram": r"""
from fixntk._cpu import core
rng = np.random.default_rng(0)
X = rng.standard_normal((200000, 20))
arr = fixntk.sample_arrangement(X, 60, seed=0)
fresh = np.arange(50)
print("ready", flush=True)
run(lambda: core.masked_gram_extend(X, arr.packed, fresh[:0], fresh))
""",
    # the NTK of 8000 points in 1500 dimensions (was one BLAS product of 1e11)
    "ntk_kernel": r"""
X = np.random.default_rng(0).standard_normal((8000, 1500))
print("ready", flush=True)
run(lambda: fixntk.ntk_kernel(X))
""",
    # masking kernels of 8000 points and 600 masks (was one BLAS product of 4e10)
    "mkl_kernel": r"""
rng = np.random.default_rng(0)
X = rng.standard_normal((8000, 20))
arr = fixntk.sample_arrangement(X, 600, seed=0)
print("ready", flush=True)
run(lambda: fixntk.mkl_kernel(X, arr, np.ones(arr.p)))
""",
    # gates on 8000-dimensional rows (blocks of 64 gates of 2e9 multiply-adds each, on
    # the threads of run_blocks)
    "sample_arrangement": r"""
X = np.random.default_rng(0).standard_normal((4000, 8000))
print("ready", flush=True)
run(lambda: fixntk.sample_arrangement(X, 4194, seed=0))
""",
    # the NTK weights' direction blocks (run_blocks)
    "ntk_weights": r"""
rng = np.random.default_rng(0)
X = rng.standard_normal((3000, 2000))
arr = fixntk.sample_arrangement(X, 50, seed=0)
print("ready", flush=True)
run(lambda: fixntk.ntk_weights(X, arr, n_samples=10**7, seed=0))
""",
    # the ReLU program's cone projections in 1000 dimensions with 30000 constraints
    # (their kernels compiled first, on a small problem: a fresh install compiles them
    # for about 20 s, with the signals deferred; see the test of signals_pass below)
    "relu projections": r"""
rng = np.random.default_rng(0)
X = rng.standard_normal((30000, 1000))
y = np.maximum(X @ rng.standard_normal(1000), 0)
arr = fixntk.sample_arrangement(X, 4, seed=0)
fixntk.relu_lambda_max(X[:200, :5], y[:200], fixntk.sample_arrangement(X[:200, :5], 4))
print("ready", flush=True)
run(lambda: fixntk.relu_lambda_max(X, y, arr))
""",
}

_HEAD = r"""
import signal, time, numpy as np, fixntk

def on_sigint(signum, frame):  # runs when the phase lets Python handle the signal
    print("handled", time.monotonic(), flush=True)
    raise KeyboardInterrupt

signal.signal(signal.SIGINT, on_sigint)

def run(work):
    try:
        work()
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


@pytest.mark.parametrize("phase", list(_PHASES))
def test_ctrl_c_stops_every_phase(phase):
    out, latency = interrupt_after_ready(_HEAD + _PHASES[phase] + _USABLE, guard=60)
    sent = time.monotonic() - latency  # when the signal was sent (CLOCK_MONOTONIC)
    lines = out.split()
    if "handled" in lines:
        handled = float(lines[lines.index("handled") + 1]) - sent
        print(
            f"{phase}: handler ran {handled:.2f} s after SIGINT, exit {latency:.2f} s"
        )
    assert "interrupted" in lines and "finished" not in lines, out
    assert "threads 1" in out, out  # no worker thread left running
    assert "usable True" in out, out


_ALARM_HEAD = r"""
import signal, numpy as np, fixntk

class TimeLimit(Exception):
    pass

def on_alarm(signum, frame):
    raise TimeLimit

def run(work):
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(2)
    try:
        work()
        print("finished", flush=True)
    except TimeLimit:
        print("timed out", flush=True)
"""


@pytest.mark.parametrize("phase", ["solve prepare", "sample_arrangement"])
def test_python_alarm_handler_fires_in_compiled_phases(phase):
    """A time limit by signal.alarm: its handler runs inside the compiled phase (the
    core's polls, run_blocks' wait) and its exception, not a KeyboardInterrupt nor a
    SystemError, comes out of the call."""
    script = _ALARM_HEAD + _PHASES[phase].replace('print("ready", flush=True)', "")
    out = subprocess.run(
        [sys.executable, "-c", script + _USABLE],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only
    ).stdout
    assert "timed out" in out and "finished" not in out, out
    assert "threads 1" in out, out
    assert "usable True" in out, out


_CALLBACK = r"""
import ctypes, signal
from fixntk._threads import signals_deferred

# a shell's background job (pytest ... &) starts with SIGINT ignored, which the child
# inherits: Python's own handler, as a user's shell gives it (conftest's helper does)
signal.signal(signal.SIGINT, signal.default_int_handler)

libc = ctypes.CDLL(None)
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

def compare(a, b):  # Python code in a ctypes callback, as threadpoolctl's library scan
    signal.raise_signal(signal.SIGINT)
    return 0

def sort():
    buf = (ctypes.c_int * 2)()
    libc.qsort(buf, 2, ctypes.sizeof(ctypes.c_int), CMP(compare))

def run(label, guard):
    try:
        with guard():
            sort()
        print(label, "lost", flush=True)
    except KeyboardInterrupt:
        print(label, "raised", flush=True)
"""


def test_signal_in_ctypes_callback_is_not_lost():
    """A Ctrl-C whose handler runs inside a ctypes callback is lost by Python (printed
    as ignored); ``signals_deferred`` (around the one threadpoolctl scan of the
    libraries, the only callback fixntk runs) raises it after the body instead."""
    script = _CALLBACK + (
        "import contextlib\n"
        "run('plain', contextlib.nullcontext)\n"
        "run('deferred', signals_deferred)\n"
        "kept = signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "print('handler kept', kept)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    ).stdout
    assert "plain lost" in out, out  # what the guard is for: Python drops it
    assert "deferred raised" in out, out
    assert "handler kept True" in out, out


def test_signal_during_numba_compilation_comes_out_after_it():
    """A kernel wrapped by ``signals_pass`` compiles (or loads from Numba's cache) with
    the signals deferred: the handler runs once the compilation is done, not inside it
    (where llvmlite's ctypes callback to the cache would lose its exception; the relu
    projection phase on a fresh install ran on after such a Ctrl-C), and its exception
    comes out of the call. The signal is raised from the kernel's typing, which runs
    inside the compilation."""
    import signal

    from numba import njit
    from numba.extending import overload

    from fixntk._gates import signals_pass

    typed = []

    def probe():
        pass

    @overload(probe)
    def _probe_typing():
        signal.raise_signal(signal.SIGINT)  # arrives while Numba compiles
        typed.append(True)
        return lambda: None

    @njit
    def kernel(x):
        probe()
        return x + 1.0

    call = signals_pass(kernel)
    seen = []

    def on_sigint(signum, frame):
        seen.append(len(typed))
        raise KeyboardInterrupt

    saved = signal.signal(signal.SIGINT, on_sigint)
    try:
        with pytest.raises(KeyboardInterrupt):
            call(1.0)
        assert signal.getsignal(signal.SIGINT) is on_sigint
    finally:
        signal.signal(signal.SIGINT, saved)
    assert seen == [1]  # once, after the typing that raised the signal had finished
    assert call(2.0) == 3.0  # compiled: no second signal
    assert seen == [1]


def test_interruptible_lapack_call_returns_on_a_signal():
    """An n x n eigendecomposition (NumPy's, which releases the GIL) runs in a helper
    thread: a signal's handler runs in the main thread while the call goes on, and its
    exception comes out at once (SciPy's eigh held the GIL: Ctrl-C waited 20 s at
    n = 4000 and up to 2 minutes in `fixntk compare`, a tester). The helper ends its
    call afterwards; the result is dropped. Errors of the call come out as themselves,
    and outside the main thread the call runs in the caller's thread."""
    import os
    import signal
    import threading

    from fixntk._threads import interruptible

    class Stop(Exception):
        pass

    def on_signal(signum, frame):
        raise Stop

    started, release, finished = threading.Event(), threading.Event(), []

    def long_call():  # a call that releases the GIL and would run on
        started.set()
        release.wait(60)  # a hang guard only
        finished.append(True)

    def send():
        started.wait(60)
        os.kill(os.getpid(), signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, on_signal)
    try:
        threading.Thread(target=send).start()
        with pytest.raises(Stop):
            interruptible(long_call)
        assert not finished  # out before the call ended
    finally:
        release.set()
        signal.signal(signal.SIGUSR1, old)
    with pytest.raises(ZeroDivisionError):
        interruptible(lambda: 1 / 0)
    assert interruptible(threading.current_thread) is not threading.main_thread()
    names = []
    worker = threading.Thread(
        target=lambda: names.append(interruptible(threading.current_thread).name),
        name="caller",
    )
    worker.start()
    worker.join()
    assert names == ["caller"]
