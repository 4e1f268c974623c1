"""KARE: the Kernel Alignment Risk Estimator of kernel ridge regression (= GCV).

One eigendecomposition of the kernel serves every value of the regularisation, so a
whole grid of lam costs one ``eigh`` and O(n) per value.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._memory import check_kernel_size
from ._ridge import resolved_spectrum
from ._scale import unit, value_out
from ._threads import interruptible
from ._validation import (
    _as_float_array,
    check_grid_size,
    check_positive,
    check_targets,
    user_stacklevel,
)
from ._validation import warn as _warn

__all__ = ["kare", "select_lambda_kare", "KareSelection"]


class KareSelection(NamedTuple):
    """Result of :func:`select_lambda_kare`: the best ``lam`` and the whole curve."""

    lam: float
    lams: np.ndarray
    kare: np.ndarray
    index: int


def _kernel_tol(K):
    """The round-off allowed in the caller's K, relative to its largest entry or
    eigenvalue: 1e-8, or its own precision's (100 eps, at most 1e-4). Both the
    smallest eigenvalue's distance below 0 (a low-rank kernel made in float32 has
    eigenvalues near -1e-7 times the largest, and was refused) and K's asymmetry (a
    float32 empirical NTK whose tiles sum K[i, j] and K[j, i] in different orders,
    as GPU libraries do: 7e-8, refused as not symmetric; tester CE)."""
    dtype = getattr(K, "dtype", None)
    if dtype is None and hasattr(K, "dtypes"):  # a DataFrame: its columns' types
        try:
            dtype = np.result_type(*K.dtypes)
        except TypeError:
            dtype = None
    if dtype is not None and np.issubdtype(dtype, np.floating):
        # at most 1e-4: float16's own (0.1) let an indefinite K through
        return min(max(1e-8, 100.0 * float(np.finfo(dtype).eps)), 1e-4)
    return 1e-8


# n x n matrices that kare and select_lambda_kare hold beside K (its symmetrised
# copy, the eigenvectors, eigh's workspace and products): 5.7 measured at 3000 rows
# (tester DI)
_KARE_MATRICES = 6


def _check_size(K, name):
    """The n x n refusal and the long-run warning of the estimators for a public
    function on a kernel K: kare on a 12000-row K failed after 7-16 s with NumPy's
    MemoryError from inside eigh, and a 13-minute eigendecomposition began
    unannounced (tester DI)."""
    if np.ndim(K) == 2 and np.shape(K)[0] == np.shape(K)[1] and np.shape(K)[0]:
        check_kernel_size(
            np.shape(K)[0],
            f"{name} (an eigendecomposition of the n x n kernel K)",
            "a kernel on fewer rows (a subsample of them)",
            n_matrices=_KARE_MATRICES,
            warn=True,
        )


def _check_kernel(K, y):
    tol = _kernel_tol(K)
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
    asymmetry = float(np.abs(K - K.T).max())
    if asymmetry > tol * scale:
        raise ValueError(
            "K must be symmetric (a kernel Gram matrix on the training set); "
            f"max |K - K.T| is {asymmetry / scale:.2g} of max |K|, above the "
            f"round-off allowed for its dtype ({tol:.2g}). If that is round-off of "
            "how K was computed, pass (K + K.T) / 2"
        )
    Y, _ = check_targets(y, K.shape[0], against="K")
    return 0.5 * K + 0.5 * K.T, Y


class _Spectrum:
    """KARE of a kernel K and targets Y at any lam, from one eigendecomposition.

    Holds the eigenvalues of ``K / (n t)`` (``t = unit(K)``, so they are of unit scale
    whatever the scale of K), those below the round-off level counted as zeros
    (:func:`fixntk._ridge.resolved_spectrum`: as lam -> 0, KARE then tends to that of
    the least-squares fit instead of following round-off), and the squared projections
    of ``Y / sy`` on the eigenvectors.
    """

    def __init__(self, K, Y, eig=None, rows=None, psd_tol=1e-8, copies=None):
        """``eig``: ``(ev, U)`` of K already at hand (:func:`fixntk._ridge.psd_eigh`,
        the kernel ridge's own: an n x n eigendecomposition is not made twice).
        ``rows``: where K is a kernel ridge in other coordinates than its samples'
        (a profiled intercept, :class:`fixntk._estimators._WeightedRidge`), the pair
        ``(to_samples, base)``: the orthonormal map of an (n, k) matrix in those
        coordinates to the samples' (n_samples, k), ``base`` (n_samples,) the
        leverage of what the intercept fits; :meth:`leave_one_out` then leaves out
        samples (the eigenvectors mapped once). ``copies``: where each sample is the
        merged copies of a row and :meth:`leave_one_out` leaves out one copy at a
        time, ``(owner, share)``: per copy, its sample's index and its share of that
        sample's weight; None: samples left out whole."""
        n = K.shape[0]
        self.rows, self._U_samples, self._U2 = rows, None, None
        self.copies = copies
        self.t, self.sy = unit(K), unit(Y)
        if eig is None:
            ev, U = interruptible(np.linalg.eigh, K / self.t / n)
        else:
            ev, U = eig[0] / self.t / n, eig[1]
        if ev[0] < -psd_tol * max(abs(ev[-1]), 1e-300):
            raise ValueError(
                "K is not positive semi-definite (smallest eigenvalue of K/n "
                f"{ev[0] * self.t:.3g}, largest {ev[-1] * self.t:.3g}); "
                "KARE needs a kernel matrix"
            )
        self.ev = resolved_spectrum(ev)
        self.U, self.UtY = U, U.T @ (Y / self.sy)
        self.proj = (self.UtY**2).sum(axis=1)

    def mean(self):
        """The mean eigenvalue of K / n."""
        return float(self.ev.mean()) * self.t

    def kare(self, lams):
        """KARE at each lam of the 1-d array ``lams`` (kernel units), in units of
        y^2 (:meth:`kare_unit` times sy^2)."""
        return value_out(self.kare_unit(lams), self.sy)

    def kare_unit(self, lams):
        r"""KARE at each lam of the 1-d array ``lams`` (kernel units) for Y / sy,
        of unit scale: minimisers are taken on it (in y's units, |y| below 1e-155
        left KARE subnormal or 0, and the minimiser moved to the grid's top; a
        tester).

        With :math:`q_j = (\mathrm{ev}_{\min} + \lambda) / (\mathrm{ev}_j +
        \lambda) \in (0, 1]`,
        :math:`\mathrm{KARE} = n \sum_j \mathrm{proj}_j\, q_j^2 / (\sum_j q_j)^2`
        (the definition multiplied through by :math:`(\mathrm{ev}_{\min} +
        \lambda)^2`): no power of an eigenvalue or of lam is formed, and the largest
        q is 1, so the squares neither overflow nor underflow at any lam (with
        :math:`\lambda / (\mathrm{ev}_j + \lambda)` they underflowed below
        lam = 1e-162 times the kernel's scale).
        """
        lams = np.asarray(lams, dtype=np.float64)[:, None] / self.t
        low = float(self.ev.min()) if self.ev.size else 0.0
        q = (low + lams) / (self.ev[None, :] + lams)  # (n_lams, n), largest 1
        n = self.ev.size
        fit = (self.proj[None, :] * q**2).sum(axis=1)
        if self.copies is None:
            return n * fit / q.sum(axis=1) ** 2
        # Draws merged per (X, y) (copies): KARE of the rows as given, each copy a
        # row. The training error is the merged rows' (weighted by their copies);
        # GCV's denominator 1 - tr(S) / N counts N copies, not m merged rows (m
        # there gave 1.54 where the rows as given, fitted at the same lam, give
        # 0.28: titanic, tester BC). With u = lam / (low + lam) and I - S = u q:
        # KARE = (u^2 fit / m) N^2 / (N - m + u sum q)^2, returned times n / m as
        # the merged rows' KARE is (the caller's GCV factor m / n, with n = m - 1
        # where the intercept is profiled out of K).
        m = n if self.rows is None else self.rows[1].size
        copies = self.copies[0].size
        u = lams[:, 0] / (low + lams[:, 0])
        z = copies * u / (copies - m + u * q.sum(axis=1))
        return n * fit * z**2 / m**2

    def leave_one_out(self, lams):
        r"""The exact leave-one-out squared error of kernel ridge at each lam (a float
        for a float), :math:`\frac1n \sum_i \|r_i\|^2 / (1 - S_{ii})^2` with
        :math:`r = (I - S) y` and :math:`S = K (K + n\lambda I)^{-1}` (summed over the
        outputs, in units of y^2; infinite where a leverage :math:`S_{ii}` is 1).
        KARE is this with every :math:`S_{ii}` replaced by their mean. One product
        with the eigenvectors for the whole grid (their squares formed once)."""
        scalar = np.ndim(lams) == 0
        lams = np.atleast_1d(np.asarray(lams, dtype=np.float64)) / self.t
        keep = lams[None, :] / (self.ev[:, None] + lams[None, :])  # (n, L): I - S
        n, c = self.UtY.shape
        if self.rows is None:
            U, base = self.U, 0.0
        else:  # in the samples' coordinates (the intercept's direction fitted)
            if self._U_samples is None:
                self._U_samples = self.rows[0](self.U)
            U, base = self._U_samples, self.rows[1][:, None]
        if self._U2 is None:  # squared once: the grid's extension asks lam by lam
            self._U2 = U**2
        leverage = base + self._U2 @ (1.0 - keep)  # (n_samples, L): S_ii at each lam
        # the residuals of the outputs in blocks of at most n lam-output pairs, so
        # that no more than an n x n matrix is formed (3000 outputs took 2.7 GB
        # where the fit took 0.7, and 8000 ran out of memory; a tester)
        r2 = np.zeros((U.shape[0], lams.size))
        step = max(1, n // lams.size)
        for j in range(0, c, step):
            part = keep[:, :, None] * self.UtY[:, None, j : j + step]
            R = U @ part.reshape(n, -1)
            r2 += (R.reshape(U.shape[0], lams.size, -1) ** 2).sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.copies is None:
                loo = (r2 / (1.0 - leverage) ** 2).mean(axis=0)
            else:
                # a copy of share f of its row's weight left out: the residual over
                # 1 - f S_ii (the rank-one update of the weight w to (1 - f) w), its
                # square counted with weight f w: sum_f f / (1 - f S_ii)^2 per row
                owner, share = self.copies
                lev = leverage[owner]  # (n_copies, L)
                per = share[:, None] / (1.0 - share[:, None] * lev) ** 2
                total = np.zeros_like(leverage)
                np.add.at(total, owner, per)
                loo = (r2 * total).mean(axis=0)
        finite = np.isfinite(loo)  # a leverage of 1 (round-off at tiny lam): inf
        out = np.full(lams.size, np.inf)
        out[finite] = value_out(loo[finite], self.sy)  # (which refuses inf)
        return float(out[0]) if scalar else out


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

    When K is singular (duplicated rows with equal labels, a low-rank mixture
    fitted to y) and y avoids its null directions, KARE tends to 0 as
    :math:`\lambda \to 0` (GCV averages the leverages, which are then far from
    equal): a selection at the smallest lam warns where KARE there is far below the
    exact leave-one-out error (not where leave-one-out is as small: a low-rank kernel
    whose range holds y does generalise).

    KARE assumes the kernel was chosen without looking at y. Scoring a kernel fitted
    to y (the IRLS kernel, or weights optimised against KARE itself) makes it
    optimistic; compare such scores on held-out data.

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric positive semi-definite kernel matrix on the training points (e.g.
        :func:`ntk_kernel` or :func:`mkl_kernel`).
    y : array-like of shape (n,) or (n, c)
    lam : float > 0 or 1-d array-like of floats > 0
        A grid is evaluated from one eigendecomposition.

    Returns
    -------
    float, or ndarray of the shape of ``lam``

    Raises
    ------
    ValueError
        When K is not square, symmetric and positive semi-definite, y does not
        have K's rows, ``lam`` is not positive, or KARE leaves the range of
        double precision.
    """
    tol = _kernel_tol(K)
    _check_size(K, "kare")
    K, Y = _check_kernel(K, y)
    arr, lams = _check_lams(lam, "lam")
    values = _Spectrum(K, Y, psd_tol=tol).kare(lams)
    return float(values[0]) if arr.ndim == 0 else values


_RIDGELESS = 1e-3  # lam below this fraction of the smallest eigenvalue of K/n: flat
_EXTEND = 1e3  # the default grid grows by this factor at a reached edge ...
_MAX_EXTEND = 4  # ... at most this many times


def _ridgeless(spectrum, lam):
    """True when lam is so far below the spectrum of K/n that the fit cannot change
    below it (relative change below about 2 * _RIDGELESS): the ridgeless limit. The
    spectrum's zeros do not count (nothing is fitted along them at any lam), so the
    limit is set by the smallest positive eigenvalue: below it a singular kernel's
    fit is its minimum-norm least-squares fit. (Its KARE may still fall, as lam^2,
    where y has nothing outside the kernel's range; a smaller lam fits the same.)"""
    positive = spectrum.ev[spectrum.ev > 0]
    return positive.size == 0 or lam / spectrum.t <= _RIDGELESS * float(positive[0])


def _above_spectrum(spectrum, lam):
    """True when lam is so far above the spectrum of K/n (1 / _RIDGELESS times its
    largest eigenvalue) that KARE is the null model's to within about 0.1%."""
    return lam / spectrum.t * _RIDGELESS >= float(spectrum.ev[-1])


def _grid_edge(spectrum, lams, best):
    """None, or "largest" / "smallest": the grid end that holds the minimiser when
    a wider grid could hold a smaller KARE (neither the ridgeless end nor a largest
    lam above the spectrum counts). By value: a grid's end value given twice holds
    the minimiser at either copy (argmin took the first of [0.01, 0.01, ...]'s tied
    ends, and no warning came; tester BK)."""
    if np.unique(lams).size <= 2 or lams[best] not in (lams[0], lams[-1]):
        return None
    if lams[best] == lams[0]:
        return None if _above_spectrum(spectrum, lams[0]) else "largest"
    return None if _ridgeless(spectrum, lams[-1]) else "smallest"


def _extended(spectrum, lams, score=None):
    """The grid (decreasing) with values added at its own spacing past the end that
    holds the minimiser of ``score`` (KARE's curve by default; a function of a grid
    of lams) while a wider grid could improve on it (:func:`_grid_edge`: not past
    the top of the spectrum, where KARE is the null model's, nor below the ridgeless
    limit): at most 60 more values, each scored once. Returns the grid and its
    scores."""
    units = score is None  # KARE: compared at unit scale, returned in y's units
    score = spectrum.kare_unit if units else score
    values = np.asarray(score(lams), dtype=np.float64)
    if lams.size < 3:
        return lams, values
    step = lams[0] / lams[1]
    for _ in range(60):
        edge = _grid_edge(spectrum, lams, int(np.argmin(values)))
        if edge is None:
            break
        new = lams[0] * step if edge == "largest" else lams[-1] / step
        value = np.asarray(score(np.array([new])), dtype=np.float64)
        if edge == "largest":
            lams, values = np.r_[new, lams], np.r_[value, values]
        else:
            lams, values = np.r_[lams, new], np.r_[values, value]
    return lams, value_out(values, spectrum.sy) if units else values


def _extension(spectrum, lams, edge, limit=60):
    """Up to ``limit`` lams at the grid's own spacing past its ``edge`` ("largest" or
    "smallest", from :func:`_grid_edge`), up to the first one above the spectrum or at
    the ridgeless limit: the values :func:`_extended` would try one at a time, for a
    score that is cheaper to evaluate on many lams at once (cross-validation, one
    eigendecomposition per fold). Decreasing, as the grid."""
    step = lams[0] / lams[1]
    more, lam = [], lams[0] if edge == "largest" else lams[-1]
    for _ in range(limit):
        lam = lam * step if edge == "largest" else lam / step
        more.append(lam)
        if (_above_spectrum if edge == "largest" else _ridgeless)(spectrum, lam):
            break
    return np.sort(np.array(more))[::-1]


def _extended_at_once(spectrum, lams, score):
    """:func:`_extended`'s grid and scores for a ``score`` far cheaper on many lams at
    once than lam by lam (cross-validation: one eigendecomposition per fold, then a
    product per lam). The most :func:`_extended` could add past either end
    (:func:`_extension`) is scored in one call, and the grid then grows from ``lams``
    as :func:`_extended`'s would (a second call per extension redid every fold's
    eigendecomposition: 2.5 times the fit on noise; a tester)."""
    lams = np.asarray(lams, dtype=np.float64)
    if lams.size < 3:
        return lams, np.asarray(score(lams), dtype=np.float64)
    top = _extension(spectrum, lams, "largest")
    every = np.r_[top, lams, _extension(spectrum, lams, "smallest")]
    values = np.asarray(score(every), dtype=np.float64)
    lo, hi = top.size, top.size + lams.size  # the grid: every[lo:hi]
    while True:
        edge = _grid_edge(spectrum, every[lo:hi], int(np.argmin(values[lo:hi])))
        if edge == "largest" and lo > 0:
            lo -= 1
        elif edge == "smallest" and hi < every.size:
            hi += 1
        else:
            return every[lo:hi], values[lo:hi]


def _select_extended(K, y, lams, leave_one_out=False, eig=None, rows=None, copies=None):
    """lam on the grid ``lams`` extended past a reached end (:func:`_extended`; the
    estimators' grids), with one eigendecomposition (``eig`` of K when given):
    KARE's minimiser (:func:`select_lambda_kare`), or with ``leave_one_out`` the
    exact leave-one-out error's, on a grid extended as that error asks. KARE falls
    back to leave-one-out, without a word, where its own minimiser lies ``_LOO_GAP``
    times or more below the exact leave-one-out error there
    (:func:`select_lambda_kare` warns of it instead): KARE is then not an estimate of
    the risk (GCV's failure on a null direction of K that y avoids: duplicated rows
    with equal targets, as in iris, where KARE fell as lam^2 to 3e-8 at the grid's
    end and the leave-one-out error stayed at 0.013). ``rows``: see
    :class:`_Spectrum` (leave-one-out leaves out samples), and ``copies``.

    Returns the :class:`KareSelection` (KARE's curve on the grid, whichever chose)
    and the leave-one-out errors on the grid where they chose lam, else None."""
    K, Y = _check_kernel(K, y)
    spectrum = _Spectrum(K, Y, eig=eig, rows=rows, copies=copies)
    lams = np.sort(np.asarray(lams, dtype=np.float64))[::-1]
    if leave_one_out:
        lams, loo = _extended(spectrum, lams, spectrum.leave_one_out)
    else:
        lams = _extended(spectrum, lams)[0]
        sel = _select_on(spectrum, lams, warn_loo=False)
        if sel.kare[sel.index] * _LOO_GAP >= spectrum.leave_one_out(lams[sel.index]):
            return sel, None
        loo = spectrum.leave_one_out(lams)
    best = int(np.argmin(np.where(np.isfinite(loo), loo, np.inf)))
    return KareSelection(float(lams[best]), lams, spectrum.kare(lams), best), loo


def _edge_message(spectrum, lam, edge, absolute=True):
    """Where on the spectrum of K/n the selected lam at a grid's ``edge`` lies (with
    ``absolute``, also its value: not where the caller's lam is in other units)."""
    ev = spectrum.ev  # of K / (n t): the ratios below do not depend on t
    mean = max(float(ev.mean()), np.finfo(float).tiny)
    value = f"{lam:.3g}, " if absolute else ""
    return (
        f"the smallest KARE is at the {edge} lam of the grid ({value}"
        f"{lam / spectrum.t / mean:.3g} times the mean eigenvalue of K/n, whose "
        f"smallest is {ev[0] / mean:.3g} times it)"
    )


def _lam_grid_ntk(ev, n, n_lams, eps):
    """lam from 10 times the mean eigenvalue of K/n down to eps times it (the default
    grid of :func:`select_lambda_kare` for eps = 1e-6)."""
    mean = max(float(ev.mean()) / n, np.finfo(float).tiny)
    return mean * np.logspace(1, np.log10(eps), n_lams)


def select_lambda_kare(
    K: ArrayLike, y: ArrayLike, lams: ArrayLike | None = None, n_lams: int = 50
) -> KareSelection:
    r"""Choose the kernel ridge regularisation by minimising KARE over a grid.

    .. math::

        \mathrm{KARE}(K, y, \lambda)
        = \frac{\frac1n\, y^T (K/n + \lambda I)^{-2} y}
               {\big[\frac1n \operatorname{tr} (K/n + \lambda I)^{-1}\big]^2},

    the score of :func:`kare` (Kelly et al. 2025; exactly generalised cross-validation),
    evaluated at every ``lam`` of the grid from one eigendecomposition of ``K``; ``lam``
    is on the group lasso's scale. A minimum at an end of the grid that a wider grid
    could improve on warns, and so does one where KARE is far below the exact
    leave-one-out error, or, with repeated rows, one at the smallest lam (see
    :func:`kare`).

    Parameters
    ----------
    K : array-like of shape (n, n)
    y : array-like of shape (n,) or (n, c)
    lams : array-like of floats > 0, optional
        The grid (sorted decreasing in the result). Default: ``n_lams`` values
        log-spaced from 10 to 1e-6 times the mean eigenvalue of ``K / n``, shifted
        by factors of 1000 (at most 4 times) while the minimiser is at an end of it.
        A given grid of three or more values warns when the minimiser is at an end
        a wider grid could improve on; one of one or two values never does (its
        minimiser is always at an end).
    n_lams : int from 2 to 100000, default=50

    Returns
    -------
    KareSelection
        ``(lam, lams, kare, index)``: the minimiser, the grid, KARE on the grid and the
        index of the minimiser. A ``UserWarning`` says when it is at an end of the grid
        that a wider grid could improve on. The smallest lam is not such an end when
        it is at most 1e-3 times the smallest eigenvalue of ``K / n``: below it KARE
        cannot change (the ridgeless limit, kernel interpolation).

    Raises
    ------
    ValueError
        When K is not square, symmetric and positive semi-definite, or is zero
        (without ``lams``), y does not have K's rows or is all zero (KARE is 0 at
        every lam), a lam is not positive, or ``n_lams < 2``.

    Notes
    -----
    **Why KARE picks the smallest lam on the bundled classification sets.** It is a
    property of the NTK on these data, not of the scaling or of multi-output KARE.
    The closed-form NTK is strictly positive definite there: its diagonal,
    :math:`\|x\|^2 / 2`, exceeds what the off-diagonal angles give, so the
    smallest eigenvalue of ``K / n`` is 1-5% of the mean (standardised inputs with
    the intercept column, 75/25 split of iris, wine, breast_cancer, digits:
    0.0097, 0.049, 0.020, 0.030). That floor acts as a built-in ridge: for lam
    below about 1e-3 times the mean, KARE, the exact leave-one-out error and the
    test error all stop changing (KARE within 0.1%), and KARE's minimum lies in
    that flat part. Measured (KARE / leave-one-out squared error / test squared
    error, one-hot targets, at lam = 1e-1, 1e-2 and 1e-6 times the mean eigenvalue):
    iris 0.090/0.098/0.053, 0.074/0.099/0.046, 0.064/0.101/0.047; wine
    0.077/0.087/0.064, 0.074/0.084/0.063, 0.075/0.084/0.062; breast_cancer
    0.070/0.071/0.083, 0.064/0.068/0.078, 0.064/0.068/0.078; digits
    0.069/0.081/0.091, 0.059/0.074/0.085, 0.057/0.073/0.084. The smallest lam is
    then the ridgeless limit, which the test error confirms; the selection warns
    only when the grid stops above it. A kernel fitted to y with (near) null
    directions that y avoids is different: there KARE (and leave-one-out) tend to
    0 as lam -> 0 because y lies in the span of the kernel's features, not
    because the kernel generalises (see :func:`kare_mkl`).
    """
    tol = _kernel_tol(K)
    _check_size(K, "select_lambda_kare")
    K, Y = _check_kernel(K, y)
    if not Y.any():
        # KARE is 0 at every lam: the grid's largest end was "reached" and grown past
        # the spectrum (10^13 times its mean), an arbitrary lam returned silently
        raise ValueError(
            "y is all zero: KARE is 0 at every lam, there is no regularisation to "
            "choose (every lam fits y = 0 exactly); pass a non-zero y"
        )
    spectrum = _Spectrum(K, Y, psd_tol=tol)
    if lams is None:
        n_lams = check_grid_size(n_lams, 2)
        top = spectrum.mean()
        if top <= 0:
            raise ValueError("K is zero: there is no regularisation to choose")
        lams = top * np.logspace(1, -6, n_lams)
        for _ in range(_MAX_EXTEND):  # a reached edge: extend the grid past it
            # (none past the top of the spectrum, where KARE is the null model's, nor
            # below the ridgeless limit: _grid_edge)
            edge = _grid_edge(spectrum, lams, int(np.argmin(spectrum.kare_unit(lams))))
            if edge is None:
                break
            lams = lams * (_EXTEND if edge == "largest" else 1 / _EXTEND)
    else:
        _, lams = _check_lams(lams, "lams")
        lams = np.sort(lams)[::-1]
    return _select_on(spectrum, lams, repeats=_repeated_rows(K, Y))


# KARE at the selected lam this many times below the exact leave-one-out error there
# warns: GCV replaces the leverages by their mean, which misleads where they are far
# from equal. A kernel near interpolation whose leading directions carry y (ggplot2's
# diamonds, 1500 training rows, price on the NTK: KARE fell as lam^2 to 6e-6 at the
# ridgeless end of its grid, where the held-out error was 0.018; KARE's interior
# minimum, 0.016 at 1.9e-4, held out 0.017). On the bundled sets KARE is within 2x of
# leave-one-out (iris 0.064 against 0.101 at 1e-6 times the mean eigenvalue), except
# on the splits that keep both of iris's two equal rows (same class): there KARE fell
# to 3e-8 against 0.013 (a zero eigenvalue of K that y avoids counts in KARE's trace
# at every lam). The estimators' selection (_select_extended) then minimises the
# exact leave-one-out error instead of warning: 5-fold iris, 3 warnings of 5 fits
# before, accuracy 0.960 -> 0.967.
_LOO_GAP = 10.0


def _select_on(spectrum, lams, warn_loo=True, repeats=0):
    """KARE's minimiser on the grid lams (decreasing), warning at a reached edge and
    (``warn_loo``) where KARE there is far below the exact leave-one-out error, or
    (``repeats``, the number of repeated rows) the minimiser is the smallest lam."""
    unit_curve = spectrum.kare_unit(lams)  # minimised at unit scale, formed once
    best = int(np.argmin(unit_curve))
    curve = value_out(unit_curve, spectrum.sy)
    edge = _grid_edge(spectrum, lams, best)
    if edge is not None:
        _warn(
            _edge_message(spectrum, lams[best], edge) + "; widen the grid",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    loo = spectrum.leave_one_out(lams[best]) if warn_loo else 0.0
    if not curve[best] * _LOO_GAP >= loo:
        _warn(
            "KARE at the selected lam is "
            f"{'far' if not np.isfinite(loo) else f'{loo / curve[best]:.3g} times'} "
            "below the exact leave-one-out error there: the kernel's "
            "leverages are far from equal (KARE, i.e. GCV, averages them), as near "
            "interpolation where y lies along the kernel's leading directions. KARE "
            "then underestimates the risk, and its minimiser may be too small a lam: "
            "compare with cross-validation (lam='cv').",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    elif repeats and best == lams.size - 1:
        # every row given twice: leave-one-out keeps each row's copy and falls to 0
        # with KARE, so the check above is silent (lam 1.5e-8 chosen, test error
        # 0.999 there against 0.396 at the grid's best)
        _warn(
            f"KARE is smallest at the smallest lam of the grid, and {repeats} of the "
            f"{spectrum.ev.size} rows repeat another row (the same kernel row and "
            "target): each copy is a zero eigenvalue of K that y avoids, where KARE "
            "falls to 0 as lam -> 0 whether or not the kernel generalises, and so "
            "does leave-one-out (each row's copy stays). Choose lam on held-out rows "
            "that are not copies of training rows, or drop the copies.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return KareSelection(float(lams[best]), lams, curve, best)


def _repeated_rows(K, Y, block=512):
    """How many rows repeat an earlier one: the same point to the kernel (squared
    kernel distance ``K_ii + K_jj - 2 K_ij`` within 1e-10 of the largest diagonal
    entry) with the same targets (within 1e-8 of the largest). Not exact equality:
    copies of a row in another order had kernel rows equal to round-off only (130 of
    200 copies counted). Blocks of rows, so that no n x n copy is made."""
    n = K.shape[0]
    diag = np.diag(K)
    tiny = np.finfo(float).tiny
    k_tol = 1e-10 * max(float(np.abs(diag).max()), tiny)
    y_tol = 1e-8 * max(float(np.abs(Y).max()), tiny)
    repeats = 0
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        dist = diag[rows, None] + diag[None, :] - 2.0 * K[rows]
        close = dist <= k_tol
        close &= np.arange(n)[None, :] < rows[:, None]  # earlier rows only
        for k in np.flatnonzero(close.any(axis=1)):
            earlier = np.flatnonzero(close[k])
            gaps = np.abs(Y[earlier] - Y[rows[k]]).max(axis=1)
            repeats += bool((gaps <= y_tol).any())
    return int(repeats)
