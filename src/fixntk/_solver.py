"""The gated ReLU convex program (group lasso): solver, certificate, path.

Thin driver over the compiled core ``fixntk._core``.
"""

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _core
from ._arrangement import as_arrangement
from ._memory import check_fits
from ._progress import progress, report
from ._threads import blas_threads
from ._validation import (
    check_int,
    check_lam,
    check_positive,
    check_targets,
    check_X,
)


def _register_blas():
    """Hand SciPy's BLAS/LAPACK (through its Cython capsules) to the compiled solver."""
    import ctypes

    from scipy.linalg import cython_blas, cython_lapack

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]

    def address(module, name):
        capsule = module.__pyx_capi__[name]
        return get_ptr(capsule, get_name(capsule))

    _core.set_blas(
        address(cython_blas, "dgemm"),
        address(cython_blas, "dsyrk"),
        address(cython_lapack, "dpotrf"),
        address(cython_lapack, "dpotrs"),
    )


_register_blas()

__all__ = [
    "SolveResult",
    "PathResult",
    "solve",
    "solve_path",
    "lambda_max",
    "objective",
    "duality_gap",
]

_OBJECTIVE = r"""
    .. math::

        F(W) = \frac{1}{2n} \Big\| \sum_{i=1}^p D_i X w_i - y \Big\|_2^2
               + \lambda \sum_{i=1}^p \|w_i\|_2,

    with :math:`D_i = \mathrm{diag}(m_i)` the i-th mask of ``arr``."""


@dataclass
class SolveResult:
    """Result of :func:`solve`.

    Attributes
    ----------
    coef : ndarray of shape (p, d) or (p, d, c)
        The group weights ``w_i``.
    objective : float
        ``F(coef)``.
    gap : float
        The duality gap certified at ``coef`` (absolute; ``gap / f0`` is the relative
        gap).
    dual : float
        The dual objective at the certificate's dual point.
    f0 : float
        ``F(0) = ||y||^2 / (2n)``, the scale of the stopping rule ``gap <= tol * f0``.
    n_iter : int
        Passes over the working set (epochs), all outer iterations together.
    converged : bool
    active_set : ndarray of int
        Indices of the groups with ``w_i != 0``.
    lam : float
    gap_history : ndarray
        The certified gap at each outer iteration.
    """

    coef: np.ndarray
    objective: float
    gap: float
    dual: float
    f0: float
    n_iter: int
    converged: bool
    active_set: np.ndarray
    lam: float
    gap_history: np.ndarray = field(repr=False)

    @property
    def relative_gap(self):
        return self.gap / self.f0 if self.f0 > 0 else 0.0


class PathResult(NamedTuple):
    """Regularisation path: unpacks as ``lams, coefs, gaps, n_iters``."""

    lams: np.ndarray
    coefs: list
    gaps: np.ndarray
    n_iters: np.ndarray


def _prepare(X, y, arr):
    X = check_X(X)
    Y, was_1d = check_targets(y, X.shape[0])
    arr = as_arrangement(arr, X.shape[0])
    return X, Y, was_1d, arr


def _coef3(W, p, d, c, name="W"):
    W = np.asarray(W, dtype=np.float64)
    if c == 1 and W.shape == (p, d):
        W = W[:, :, None]
    if W.shape != (p, d, c):
        want = f"({p}, {d})" + (f" or ({p}, {d}, 1)" if c == 1 else f" with c = {c}")
        raise ValueError(f"{name} must have shape {want}; got {np.shape(W)}")
    if not np.isfinite(W).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return np.ascontiguousarray(W)


def _primal_dual(X, Y, arr, W, lam):
    n = X.shape[0]
    R = Y - _core.masked_predict(X, arr.packed, W)
    G = _core.masked_gradients(X, arr.packed, R)
    gmax = np.sqrt((G**2).sum(axis=(1, 2))).max() / n
    primal = 0.5 * (R**2).sum() / n + lam * np.sqrt((W**2).sum(axis=(1, 2))).sum()
    theta = R / max(1.0, gmax / lam)
    dual = 0.5 * ((Y**2).sum() - ((Y - theta) ** 2).sum()) / n
    return primal, dual


def lambda_max(X, y, arr):
    r"""Smallest ``lam`` for which ``W = 0`` minimises the group lasso.

    .. math:: \lambda_{\max} = \max_i \|X^T D_i y\|_2 / n.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)

    Returns
    -------
    float
    """
    X, Y, _, arr = _prepare(X, y, arr)
    G = _core.masked_gradients(X, arr.packed, Y)
    return float(np.sqrt((G**2).sum(axis=(1, 2))).max() / X.shape[0])


def objective(X, y, arr, W, lam):
    """The primal objective F(W) of the gated ReLU group lasso."""
    X, Y, _, arr = _prepare(X, y, arr)
    lam = check_positive(lam, "lam", allow_zero=True)
    W = _coef3(W, arr.p, X.shape[1], Y.shape[1])
    n = X.shape[0]
    R = Y - _core.masked_predict(X, arr.packed, W)
    return float(0.5 * (R**2).sum() / n + lam * np.sqrt((W**2).sum(axis=(1, 2))).sum())


objective.__doc__ += _OBJECTIVE


def duality_gap(X, y, arr, W, lam):
    r"""Duality gap of ``W``: ``F(W) - D(theta) >= 0``, zero exactly at an optimum.

    The dual point is the rescaled residual
    :math:`\theta = R / \max(1, \max_i \|X^T D_i R\| / (n\lambda))`, with dual objective
    :math:`D(\theta) = (\|y\|^2 - \|y - \theta\|^2) / (2n)`.
    """
    X, Y, _, arr = _prepare(X, y, arr)
    lam = check_lam(lam)
    W = _coef3(W, arr.p, X.shape[1], Y.shape[1])
    primal, dual = _primal_dual(X, Y, arr, W, lam)
    return float(primal - dual)


def _progress_printer(verbose, scale=1.0):
    """The certificate per outer iteration, logged on the ``fixntk`` logger (see
    ``_progress.report``); `scale` maps the solver's objective back."""
    say = report(verbose, level=1)
    if say is None:
        return None

    def certificate(outer, epochs, primal, gap):
        say(
            f"solve: outer {outer:4d}  epochs {epochs:6d}  "
            f"objective {primal * scale:.8e}  gap {gap * scale:.3e}"
        )

    return certificate


# Tuned with shuffled sweeps on the planted problems of benchmarks/problems.py (S1-S3
# and a grid of n, p, d and lam), by time to a certified 1e-6 gap: inner solves to 0.3 x
# the outer gap beat 0.1, 0.2, 0.6 and 0.8; Anderson depth 12 beat 0 and 5.
_WS_START, _INNER_RATIO, _ANDERSON_K = 10, 0.3, 12


def _solver_bytes(n, d, c, p):
    """Peak working memory of the compiled solver, in bytes (upper estimate)."""
    coef = 3 * p * d * c * 8  # start, result, all block gradients
    residual = 4 * n * c * 8  # residual, its extrapolation and prediction buffers
    padded_x = n * (-(-d // 4) * 4) * 8  # rows padded for the kernels
    history = (_ANDERSON_K + 1) * (n * c + p * d * c) * 8  # Anderson: K + 1 iterates
    caches = p * (2 * d * d * 8) + 4 * n * min(p, 4096)  # block Grams and row lists
    gram = 2 * 4096**2 * 8 + 1024 * 4096 * 8  # the Newton polish, capped
    return coef + residual + padded_x + history + caches + gram


def _solve_checked(X, Y, was_1d, arr, lam, tol, W0, max_iter, verbose, warn=True):
    """Solve with validated inputs; W0 of shape (p, d, c).

    The compiled solver sees X / sx and Y / sy with sx, sy their largest magnitudes:
    F is equivariant (w -> w sx / sy, lam -> lam / (sx sy), F -> F / sy^2), so data at
    any scale that double precision can hold is solved without overflow in the squared
    norms.
    """
    n, d = X.shape
    check_fits(_solver_bytes(n, d, Y.shape[1], arr.p), "fixntk.solve")
    sx, sy = float(np.abs(X).max()), float(np.abs(Y).max())
    if sx == 0 or sy == 0:  # W = 0 is optimal, with a zero gap
        f0 = 0.5 * float((Y**2).sum()) / n
        W = np.zeros_like(W0)
        return _result(W, was_1d, f0, f0, f0, 0, True, lam, np.array([0.0]))
    # one BLAS thread: the Newton polish's products and factorisations then round the
    # same way whatever the thread count (the OpenMP kernels already do)
    with blas_threads(1):
        out = _core.solve_group_lasso(
            X / sx,
            arr.packed,
            Y / sy,
            W0 * (sx / sy),
            lam / (sx * sy),
            tol,
            max_iter,
            _WS_START,
            _INNER_RATIO,
            _progress_printer(verbose, sy * sy),
            anderson_k=_ANDERSON_K,
        )
    with np.errstate(over="ignore"):
        W = out["coef"] * (sy / sx)
    if not np.isfinite(W).all():
        raise ValueError(
            "the solution's coefficients exceed the range of double precision "
            f"(|X| up to {sx:.3g}, |y| up to {sy:.3g}); rescale X or y"
        )
    s2 = sy * sy
    res = _result(
        W,
        was_1d,
        out["primal"] * s2,
        out["dual"] * s2,
        out["f0"] * s2,
        out["n_epochs"],
        out["converged"],
        lam,
        np.asarray(out["gap_history"]) * s2,
    )
    if warn and not res.converged:
        warnings.warn(
            f"fixntk.solve stopped before the certificate: relative duality gap "
            f"{res.relative_gap:.3e} > tol = {tol:.1e} after {res.n_iter} epochs "
            f"(lam = {lam:.4g}). Raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return res


def _result(W, was_1d, primal, dual, f0, n_epochs, converged, lam, gap_history):
    # norms of W / max|W| never overflow
    scale = float(np.abs(W).max()) if W.size else 0.0
    norms = (
        np.zeros(W.shape[0])
        if scale == 0
        else np.sqrt(((W / scale) ** 2).sum(axis=(1, 2)))
    )
    return SolveResult(
        coef=W[:, :, 0] if was_1d else W,
        objective=float(primal),
        gap=float(primal - dual),
        dual=float(dual),
        f0=float(f0),
        n_iter=int(n_epochs),
        converged=bool(converged),
        active_set=np.flatnonzero(norms > 0),
        lam=lam,
        gap_history=gap_history,
    )


def solve(X, y, arr, lam, tol=1e-6, warm_start=None, max_iter=100_000, verbose=False):
    """Solve the gated ReLU convex program (group lasso over masked copies of X).

    Minimises, by working-set block coordinate descent with exact block updates,
    """
    X, Y, was_1d, arr = _prepare(X, y, arr)
    lam = check_lam(lam)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", 1)
    p, d, c = arr.p, X.shape[1], Y.shape[1]
    if warm_start is None:
        W0 = np.zeros((p, d, c))
    else:
        if isinstance(warm_start, SolveResult):
            warm_start = warm_start.coef
        W0 = _coef3(warm_start, p, d, c, "warm_start")
    return _solve_checked(X, Y, was_1d, arr, lam, tol, W0, max_iter, verbose)


solve.__doc__ += (
    _OBJECTIVE
    + """

    and stops when the duality gap is at most ``tol * F(0)``.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
        With c outputs, ``w_i`` is a (d, c) matrix and its norm is the Frobenius norm.
    arr : Arrangement or bool array of shape (n, p)
        The gates' masks (from :func:`sample_arrangement`, or built by the user).
    lam : float > 0
        Regularisation strength (``lam >= lambda_max(X, y, arr)`` gives ``W = 0``).
    tol : float > 0
        Relative duality gap to reach.
    warm_start : array of shape (p, d) / (p, d, c), or SolveResult, optional
        Starting point.
    max_iter : int
        Maximum number of epochs (passes over the working set).
    verbose : int or bool
        Log the certificate after each outer iteration (INFO on the ``fixntk``
        logger, on standard error when logging is not configured).

    Returns
    -------
    SolveResult
        With ``converged=False`` and a ``ConvergenceWarning`` if ``max_iter`` ran out;
        the result then holds the last iterate and the gap it certifies.
    """
)


def solve_path(
    X, y, arr, lams=None, n_lams=50, eps=1e-3, tol=1e-6, max_iter=100_000, verbose=False
):
    """Solve along a decreasing grid of ``lam``, each solve warm-started from the last.

    The default grid is ``n_lams`` values log-spaced from ``lambda_max`` down to
    ``eps * lambda_max``. The objective at each ``lam`` is that of :func:`solve`.

    ``verbose=1`` draws a progress bar over the grid (on a terminal), ``verbose=2``
    also logs each solve's certificates.

    Returns
    -------
    PathResult
        ``(lams, coefs, gaps, n_iters)``: the grid (decreasing), the coefficients at
        each value, the certified duality gaps and the epochs spent.
    """
    X, Y, was_1d, arr = _prepare(X, y, arr)
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", 1)
    if lams is None:
        n_lams = check_int(n_lams, "n_lams", 1)
        eps = check_positive(eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1; got {eps}")
        G = _core.masked_gradients(X, arr.packed, Y)
        lmax = np.sqrt((G**2).sum(axis=(1, 2))).max() / X.shape[0]
        if lmax == 0:
            raise ValueError(
                "lambda_max is 0 (y is zero or orthogonal to every group): W = 0 for "
                "every lam > 0 and there is no default grid; pass lams explicitly"
            )
        lams = lmax * np.logspace(0, np.log10(eps), n_lams)
    else:
        lams = np.sort(np.asarray([check_lam(v) for v in np.ravel(lams)]))[::-1]
        if lams.size == 0:
            raise ValueError("lams is empty")
    p, d, c = arr.p, X.shape[1], Y.shape[1]
    W = np.zeros((p, d, c))
    coefs, gaps, n_iters = [], [], []
    bar = progress(lams, verbose=verbose, desc="fixntk path", unit="lam")
    for lam in bar:
        res = _solve_checked(
            X, Y, was_1d, arr, float(lam), tol, W, max_iter, verbose and verbose >= 2
        )
        W = res.coef if not was_1d else res.coef[:, :, None]
        coefs.append(res.coef)
        gaps.append(res.gap)
        n_iters.append(res.n_iter)
    return PathResult(np.asarray(lams), coefs, np.asarray(gaps), np.asarray(n_iters))
