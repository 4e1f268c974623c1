import importlib.util
from pathlib import Path

import numpy as np
import pytest


def load_benchmark(name):
    """The script ``benchmarks/<name>.py`` as a module (it puts benchmarks/ on the
    path itself where it imports problems.py)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def planted(n=300, d=5, n_teacher=4, noise=0.1, seed=0, c=None):
    """A planted ReLU-teacher regression problem (y of shape (n,) or (n, c))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, n_teacher))
    H = np.maximum(X @ U, 0)
    if c is None:
        y = H.sum(axis=1)
    else:
        y = H @ rng.standard_normal((n_teacher, c))
    y = y + noise * y.std() * rng.standard_normal(y.shape)
    return X, y


def block_normals(seed, stream, block, total, d):
    """Plain NumPy: the Gaussian draws of fixntk's blocked streams, ``total`` rows of
    ``d``, rows ``block j .. block (j + 1) - 1`` from
    ``default_rng(SeedSequence(seed, spawn_key=(stream, j)))`` (the reference for the
    gates of sample_arrangement and the directions of ntk_weights)."""
    parts = []
    for j, start in enumerate(range(0, total, block)):
        ss = np.random.SeedSequence(seed, spawn_key=(stream, j))
        parts.append(
            np.random.default_rng(ss).standard_normal((min(block, total - start), d))
        )
    return np.vstack(parts)


def dense_design(X, masks):
    """The n x (p d) design [D_1 X, ..., D_p X] (small problems only)."""
    n, d = X.shape
    p = masks.shape[1]
    return (masks[:, :, None] * X[:, None, :]).reshape(n, p * d)


def fista_group_lasso(X, y, masks, lam, n_iter=20000):
    """An independent solver: FISTA with restart on the materialised design."""
    n, d = X.shape
    p = masks.shape[1]
    A = dense_design(X, masks)
    Y = y[:, None] if y.ndim == 1 else y
    L = np.linalg.norm(A, 2) ** 2 / n
    W = np.zeros((p * d, Y.shape[1]))
    Z, t = W.copy(), 1.0

    def F(W):
        R = A @ W - Y
        return (
            0.5 * (R**2).sum() / n
            + lam * np.sqrt((W.reshape(p, d, -1) ** 2).sum(axis=(1, 2))).sum()
        )

    f_old = F(W)
    for _ in range(n_iter):
        G = A.T @ (A @ Z - Y) / n
        V = (Z - G / L).reshape(p, d, -1)
        nv = np.sqrt((V**2).sum(axis=(1, 2)))
        shrink = np.maximum(0.0, 1.0 - (lam / L) / np.maximum(nv, 1e-300))
        W_new = (V * shrink[:, None, None]).reshape(p * d, -1)
        f_new = F(W_new)
        if f_new > f_old:  # adaptive restart
            t = 1.0
            Z = W.copy()
            continue
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        Z = W_new + (t - 1) / t_new * (W_new - W)
        W, t, f_old = W_new, t_new, f_new
    W = W.reshape(p, d, -1)
    return (W[:, :, 0] if y.ndim == 1 else W), f_old


class OneMaskWithIntercept:
    """The closed form of the group lasso with one mask of every row and an
    intercept, ``min 1/(2n) ||X w + b - y||^2 + lam ||w||``: with b at its best the
    program is on the centred columns, centred in long double (a column at 1e8 keeps
    its spread's digits), and its optimum is the ridge solution
    ``w = (A + mu I)^{-1} c`` (A = Xc^T Xc / n, c = Xc^T yc / n) whose
    ``mu ||w|| = lam``, found by bisection (``mu ||w(mu)||`` increases to ``||c||``).
    An independent check of a solver's point where double-precision certificates of
    its own kind lose their digits."""

    def __init__(self, X, y, lam):
        L = np.longdouble
        XL, yL = X.astype(L), y.astype(L)
        self.Xc = np.asarray(XL - XL.mean(axis=0), dtype=float)
        self.yc = np.asarray(yL - yL.mean(), dtype=float)
        self.lam = lam
        n, d = self.Xc.shape
        A, c = self.Xc.T @ self.Xc / n, self.Xc.T @ self.yc / n
        self.w = np.zeros(d)
        if np.linalg.norm(c) > lam:
            lo, hi = 0.0, np.trace(A) + np.linalg.norm(c)
            while hi * np.linalg.norm(np.linalg.solve(A + hi * np.eye(d), c)) < lam:
                hi *= 2
            for _ in range(200):
                mu = 0.5 * (lo + hi)
                self.w = np.linalg.solve(A + mu * np.eye(d), c)
                lo, hi = (mu, hi) if mu * np.linalg.norm(self.w) < lam else (lo, mu)
        self.objective = self.value(self.w)

    def value(self, w):
        """The objective at w with its best intercept."""
        r = self.Xc @ w - self.yc
        return 0.5 * np.mean(r * r) + self.lam * np.linalg.norm(w)


@pytest.fixture
def small_problem():
    import fixntk

    X, y = planted(n=200, d=4, seed=1)
    arr = fixntk.sample_arrangement(X, 40, seed=3)
    return X, y, arr


def interrupt_after_ready(script, wait=1.5, guard=120):
    """Run `script` in a subprocess; once it prints "ready", wait `wait` seconds, send
    SIGINT and return (its stdout, seconds from the signal to its exit).

    `guard` only stops a hang; it is not a speed assertion.
    """
    import signal
    import subprocess
    import sys
    import threading
    import time

    # A shell's background job (`pytest ... &`) starts with SIGINT ignored, and the
    # child would inherit that: give it Python's own handler, as a user's shell does.
    prelude = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", prelude + script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        # give the work time to enter its long loop, then interrupt it
        threading.Event().wait(wait)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=guard)
        return out, time.monotonic() - start
    finally:
        proc.kill()


def poisson_support_newton(X, y, masks, res, lam, steps):
    """Newton's method in NumPy on the Poisson program with an intercept, restricted
    to the groups active in the SolveResult ``res`` (where the objective is smooth),
    from ``res``: returns (A, z), the support's columns D_i X and a column of ones,
    and the point (the support's coefficients, then the intercept)."""
    n, d = X.shape
    masks = np.asarray(masks, dtype=float)
    act = res.active_set
    A = np.hstack([masks[:, [i]] * X for i in act] + [np.ones((n, 1))])
    z = np.concatenate([res.coef[act].ravel(), [res.intercept]])
    for _ in range(steps):
        mu = np.exp(A @ z)
        g = A.T @ (mu - y) / n
        H = (A * mu[:, None]).T @ A / n
        for j in range(act.size):
            block = slice(j * d, (j + 1) * d)
            wj = z[block]
            nw = np.linalg.norm(wj)
            g[block] += lam * wj / nw
            H[block, block] += (lam / nw) * (np.eye(d) - np.outer(wj, wj) / nw**2)
        z = z - np.linalg.solve(H, g)
    return A, z


def first_call_waits_for(monkeypatch, module, name, record):
    """Make the first call of ``module.name`` wait (10 s at most) until a warning has
    been recorded in ``record`` (a ``catch_warnings(record=True)`` list): work that
    lasts past a long-run notice's time, whatever the machine's speed. The returned
    list gets whether it was recorded."""
    import time

    real, seen = getattr(module, name), []

    def slow(*args, **kwargs):
        if not seen:
            deadline = time.monotonic() + 10.0
            while not record and time.monotonic() < deadline:
                time.sleep(0.005)
            seen.append(bool(record))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)
    return seen
