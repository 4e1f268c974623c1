"""KARE: the Kernel Alignment Risk Estimator of kernel ridge regression (= GCV).

One eigendecomposition of the kernel serves every value of the regularisation, so a
whole grid of lam costs one ``eigh`` and O(n) per value.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from ._validation import _as_float_array, check_int, check_positive, check_targets

__all__ = ["kare", "select_lambda_kare", "KareSelection"]


class KareSelection(NamedTuple):
    """Result of :func:`select_lambda_kare`: the best ``lam`` and the whole curve."""

    lam: float
    lams: np.ndarray
    kare: np.ndarray
    index: int


def _check_kernel(K, y):
    K = _as_float_array(K, "K")
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(
            f"K must be a square (n, n) kernel matrix; got shape {K.shape}"
        )
    if K.shape[0] == 0:
        raise ValueError("K is empty")
    K = np.asarray(K, dtype=np.float64)
    if not np.isfinite(K).all():
        raise ValueError("K contains NaN or infinity")
    scale = float(np.abs(K).max())
    if np.abs(K - K.T).max() > 1e-8 * max(scale, 1e-300):
        raise ValueError(
            "K must be symmetric (a kernel Gram matrix on the training set)"
        )
    Y, _ = check_targets(y, K.shape[0])
    return 0.5 * (K + K.T), Y


def _spectrum(K, Y):
    """Eigenvalues of K / n and the squared projections of Y on its eigenvectors."""
    n = K.shape[0]
    ev, U = linalg.eigh(K / n, check_finite=False)
    if ev[0] < -1e-8 * max(abs(ev[-1]), 1e-300):
        raise ValueError(
            "K is not positive semi-definite (smallest eigenvalue of K/n "
            f"{ev[0]:.3g}); "
            "KARE needs a kernel matrix"
        )
    return np.maximum(ev, 0.0), ((U.T @ Y) ** 2).sum(axis=1)


def _kare_curve(ev, proj, lams):
    n = ev.size
    inv = 1.0 / (ev[None, :] + lams[:, None])  # (n_lams, n)
    num = (proj[None, :] * inv**2).sum(axis=1) / n
    den = (inv.sum(axis=1) / n) ** 2
    return num / den


def _check_lams(lam, name):
    try:
        arr = np.asarray(lam, dtype=np.float64) if not isinstance(lam, str) else None
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim > 1:
        raise ValueError(f"{name} must be a positive number or a 1-d array of them")
    flat = np.atleast_1d(arr)
    if flat.size == 0:
        raise ValueError(f"{name} is empty")
    for v in flat:
        check_positive(float(v), name)
    return arr, flat


def kare(K: ArrayLike, y: ArrayLike, lam: float | ArrayLike) -> float | np.ndarray:
    r"""Kernel Alignment Risk Estimator of kernel ridge regression with kernel ``K``.

    .. math::

        \mathrm{KARE}(K, y, \lambda)
        = \frac{\frac1n\, y^T (K/n + \lambda I)^{-2} y}
               {\big[\frac1n \operatorname{tr} (K/n + \lambda I)^{-1}\big]^2},

    the training error of kernel ridge regression
    :math:`\hat y = K (K + n\lambda I)^{-1} y` divided by
    :math:`(1 - \operatorname{tr} S / n)^2`, :math:`S = K (K + n\lambda I)^{-1}`: it is
    exactly generalised cross-validation (GCV). This is the kernel ridge of the MKL view
    of fixntk, :math:`\min_f \frac{1}{2n}\|f(X) - y\|^2 + \frac{\lambda}{2}\|f\|_K^2`,
    so ``lam`` is on the same scale as the group lasso's. With c outputs the numerator
    sums over them.

    KARE assumes the kernel was chosen without looking at y. Scoring a kernel fitted
    to y (the IRLS kernel, or weights optimised against KARE itself) makes it
    optimistic; compare such scores on held-out data.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric positive semi-definite kernel matrix on the training points (e.g.
        :func:`ntk_kernel` or :func:`mkl_kernel`).
    y : array-like of shape (n,) or (n, c)
    lam : float > 0 or array-like of floats > 0
        A grid is evaluated from one eigendecomposition.

    Returns
    -------
    float, or ndarray of the shape of ``lam``
    """
    K, Y = _check_kernel(K, y)
    arr, lams = _check_lams(lam, "lam")
    values = _kare_curve(*_spectrum(K, Y), lams)
    return float(values[0]) if arr.ndim == 0 else values


def select_lambda_kare(
    K: ArrayLike, y: ArrayLike, lams: ArrayLike | None = None, n_lams: int = 50
) -> KareSelection:
    r"""Choose the kernel ridge regularisation by minimising KARE over a grid.

    .. math::

        \mathrm{KARE}(K, y, \lambda)
        = \frac{\frac1n\, y^T (K/n + \lambda I)^{-2} y}
               {\big[\frac1n \operatorname{tr} (K/n + \lambda I)^{-1}\big]^2},

    the training error of kernel ridge regression
    :math:`\hat y = K (K + n\lambda I)^{-1} y` divided by
    :math:`(1 - \operatorname{tr} S / n)^2`, :math:`S = K (K + n\lambda I)^{-1}`: it is
    exactly generalised cross-validation (GCV). This is the kernel ridge of the MKL view
    of fixntk, :math:`\min_f \frac{1}{2n}\|f(X) - y\|^2 + \frac{\lambda}{2}\|f\|_K^2`,
    so ``lam`` is on the same scale as the group lasso's. With c outputs the numerator
    sums over them.

    KARE assumes the kernel was chosen without looking at y. Scoring a kernel fitted
    to y (the IRLS kernel, or weights optimised against KARE itself) makes it
    optimistic; compare such scores on held-out data.

    Parameters
    ----------
    K : array-like of shape (n, n)
    y : array-like of shape (n,) or (n, c)
    lams : array-like of floats > 0, optional
        The grid (sorted decreasing in the result). Default: ``n_lams`` values
        log-spaced from 10 to 1e-6 times the mean eigenvalue of ``K / n``.
    n_lams : int >= 2

    Returns
    -------
    KareSelection
        ``(lam, lams, kare, index)``: the minimiser, the grid, KARE on the grid and the
        index of the minimiser. A ``UserWarning`` says when it is at an end of the grid.
    """
    K, Y = _check_kernel(K, y)
    ev, proj = _spectrum(K, Y)
    if lams is None:
        n_lams = check_int(n_lams, "n_lams", 2)
        top = float(ev.mean())
        if top <= 0:
            raise ValueError("K is zero: there is no regularisation to choose")
        lams = top * np.logspace(1, -6, n_lams)
    else:
        _, lams = _check_lams(lams, "lams")
        lams = np.sort(lams)[::-1]
    curve = _kare_curve(ev, proj, lams)
    best = int(np.argmin(curve))
    if lams.size > 2 and best in (0, lams.size - 1):
        warnings.warn(
            f"the smallest KARE is at the {'largest' if best == 0 else 'smallest'} "
            "lam of "
            f"the grid ({lams[best]:.3g}); widen the grid",
            UserWarning,
            stacklevel=2,
        )
    return KareSelection(float(lams[best]), lams, curve, best)
