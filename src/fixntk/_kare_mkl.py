"""Kernel weights that minimise KARE: training the masking-kernel mixture to generalise.

The NTK is one point of the MKL search space ``H(eta) = sum_i eta_i D_i X X^T D_i``,
IRLS finds the training-optimal point; this module finds the point with the smallest
Kernel Alignment Risk Estimator (an estimate of the test error of kernel ridge), by
L-BFGS-B on log-weights with the exact gradient from one Cholesky factor per step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg, optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._arrangement import Arrangement, as_arrangement
from ._irls import _starting_weights
from ._kare import _kare_curve, _spectrum
from ._kernels import masking_kernel
from ._progress import progress, report
from ._validation import check_int, check_lam, check_positive, check_targets, check_X

__all__ = ["KareMKLResult", "kare_mkl"]

_BOUND = 10.0  # log-weights and log-lam move at most this far from their start
_REL_LAM = (np.log(1e-8), np.log(1e3))  # lam / mean eigenvalue of H(eta) / n
_FLOOR = 1e-6  # starting weights below this fraction of the largest are raised to it


@dataclass
class KareMKLResult:
    """Result of :func:`kare_mkl`.

    Attributes
    ----------
    eta : ndarray of shape (p,)
        The learned kernel weights (all > 0). With ``lam="kare"`` they are normalised
        to the sum of ``eta_start`` (KARE only sees the ratio eta / lam).
    lam : float
        The kernel ridge regularisation that goes with ``eta``: ``lam="kare"``
        re-selects it by KARE on all the rows at the learned weights.
    kare : float
        ``KARE(H(eta), y, lam)`` on all the data. Optimistic: eta was chosen with y.
    kare_start : float
        The same at the starting weights (the NTK's with ``eta0="ntk"``) and their
        KARE-selected ``lam`` (``lam_start``): the baseline to beat.
    kare_history : ndarray
        KARE on the fitting part at iterate 0 (the start), 1, ..., n_iter. Never
        increases (each L-BFGS-B step satisfies the Wolfe conditions), up to the
        penalty: it is ``objective_history`` that decreases.
    objective_history : ndarray
        The minimised objective ``log KARE + penalty`` at each iterate.
    validation_history : ndarray or None
        Mean squared error of kernel ridge on the held-out part at each iterate
        (``None`` when ``validation_fraction`` is None).
    best_iter : int
        The iterate returned: the one with the smallest held-out error (0 means the
        starting kernel was not improved), else the last.
    n_iter : int
        L-BFGS-B iterations run.
    converged : bool
        L-BFGS-B met its tolerance; False when stopped early (see ``stop_reason``).
    stop_reason : str
        ``"converged"``, ``"early_stopping"`` (held-out error did not improve for
        ``patience`` iterations: the intended stop of the safe default, no warning),
        ``"max_iter"`` or ``"line_search"`` (these two raise a ConvergenceWarning).
    eta_start : ndarray of shape (p,)
    lam_start : float
    eta0_kind : str
        ``"ntk_weights"``, ``"counts"`` or ``"given"`` (see :func:`irls`).
    tied : ndarray of shape (p,) of int or None
        Cluster of each group when ``n_free_weights`` ties the weights.
    """

    eta: np.ndarray
    lam: float
    kare: float
    kare_start: float
    kare_history: np.ndarray = field(repr=False)
    objective_history: np.ndarray = field(repr=False)
    validation_history: np.ndarray = field(repr=False)
    best_iter: int
    n_iter: int
    converged: bool
    stop_reason: str
    eta_start: np.ndarray = field(repr=False)
    lam_start: float
    eta0_kind: str
    tied: np.ndarray = field(default=None, repr=False)


class _LogKare:
    """log KARE of H(eta) on fixed data, with its exact gradient (one Cholesky)."""

    def __init__(self, X, Y, masks):
        self.n = X.shape[0]
        self.XXt = X @ X.T
        self.masks = masks
        self.M = masks.astype(np.float64)
        self.Y = Y

    def kernel(self, eta):
        return masking_kernel(self.XXt, self.masks, eta)

    def __call__(self, eta, lam):
        """(log KARE, gradient over eta, derivative over log lam, a = C^{-1} Y)."""
        n = self.n
        C = self.kernel(eta)
        C[np.diag_indices_from(C)] += n * lam
        L, info = linalg.lapack.dpotrf(C, lower=1, clean=0)
        if info == 0:
            Cinv, info = linalg.lapack.dpotri(L, lower=1)
        if info != 0:
            raise linalg.LinAlgError(
                "H(eta) + n lam I is not numerically positive definite "
                f"(lam = {lam:.3g}): use a larger lam"
            )
        Cinv = np.tril(Cinv) + np.tril(Cinv, -1).T
        A = Cinv @ self.Y
        E = Cinv @ A
        aa, tr = float((A * A).sum()), float(np.trace(Cinv))
        C2 = Cinv @ Cinv
        P = (2.0 / tr) * C2
        AE = (A @ E.T) / aa
        P -= AE + AE.T
        P *= self.XXt
        g_eta = np.einsum("ki,ki->i", P @ self.M, self.M)
        g_loglam = (
            lam
            * n
            * (2.0 * float((Cinv * Cinv).sum()) / tr - 2.0 * float((A * E).sum()) / aa)
        )
        return np.log(n * aa) - 2.0 * np.log(tr), g_eta, g_loglam, A


def _best_lam(K, Y, also=None):
    """argmin_lam KARE(K, Y, lam): a log-grid (holding ``also``) refined by a bounded
    1-d search."""
    ev, proj = _spectrum(K, Y)
    top = max(float(ev.mean()), np.finfo(float).tiny)
    lams = top * np.logspace(3, -8, 89)
    if also is not None:
        lams = np.sort(np.append(lams, also))[::-1]
    curve = _kare_curve(ev, proj, lams)
    j = int(np.argmin(curve))
    lo, hi = np.log(lams[min(j + 1, lams.size - 1)]), np.log(lams[max(j - 1, 0)])
    res = optimize.minimize_scalar(
        lambda t: float(_kare_curve(ev, proj, np.array([np.exp(t)]))[0]),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-6},
    )
    lam = float(np.exp(res.x)) if res.fun <= curve[j] else float(lams[j])
    return lam, float(min(res.fun, curve[j]))


def _tie(masks, k, seed):
    """Cluster labels of the groups: k-means on their masks (label-blind)."""
    from sklearn.cluster import KMeans

    p = masks.shape[1]
    if k >= p:
        return None
    labels = (
        KMeans(n_clusters=k, n_init=3, random_state=seed)
        .fit(masks.T.astype(np.float64))
        .labels_
    )
    return np.unique(labels, return_inverse=True)[1].ravel()


def _split(n, fraction, seed):
    """(fit rows, held-out rows), sorted, of scikit-learn's seeded random split."""
    n_val = max(1, int(round(fraction * n)))
    if n - n_val < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves fewer than 2 samples to fit; "
            f"n_samples = {n}: use more data or validation_fraction=None"
        )
    fit, val = train_test_split(np.arange(n), test_size=n_val, random_state=seed)
    return np.sort(fit), np.sort(val)


def kare_mkl(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    lam: str | float = "kare",
    eta0: str | ArrayLike = "ntk",
    *,
    validation_fraction: float | None = 0.2,
    patience: int = 5,
    penalty: float = 0.0,
    n_free_weights: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    n_samples: int = 10**5,
    seed: int | None = 0,
    verbose: int = 0,
) -> KareMKLResult:
    r"""Kernel weights minimising the Kernel Alignment Risk Estimator.

    Minimises, over the masking-kernel weights :math:`\eta \ge 0` (and over
    :math:`\lambda` when ``lam="kare"``),

    .. math::

        \mathrm{KARE}(\eta, \lambda)
        = \frac{n\,\|a\|^2}{\big(\operatorname{tr} C^{-1}\big)^2}, \qquad
        C = H(\eta) + n\lambda I, \quad a = C^{-1} y, \quad
        H(\eta) = \sum_{i=1}^p \eta_i K_i, \quad K_i = D_i X X^T D_i,

    which is :func:`kare` of :math:`H(\eta)` (``(1/n) y^T (H/n + \lambda I)^{-2} y``
    over ``[(1/n) tr (H/n + \lambda I)^{-1}]^2``, multiplied through by n): GCV of
    kernel ridge with the kernel :math:`H(\eta)` (with c outputs
    :math:`\|a\|^2 = \|C^{-1}Y\|_F^2`).

    **Gradient.** With :math:`E = C^{-1} a`, :math:`\partial C/\partial\eta_i = K_i`
    and :math:`\partial C / \partial \lambda = n I`,

    .. math::

        \frac{\partial \log\mathrm{KARE}}{\partial \eta_i}
        = -\frac{2\,\langle E, K_i a\rangle}{\|a\|^2}
          + \frac{2 \operatorname{tr}(C^{-2} K_i)}{\operatorname{tr} C^{-1}}
        = m_i^T \big[(X X^T) \circ P\big]\, m_i, \qquad
        P = \frac{2\, C^{-2}}{\operatorname{tr} C^{-1}}
          - \frac{a E^T + E a^T}{\|a\|^2},

    since :math:`u^T K_i v = m_i^T ((XX^T) \circ u v^T) m_i` for the 0/1 mask
    :math:`m_i` (``H = (X X^T) \circ (M \operatorname{diag}(\eta) M^T)``). All p
    partial derivatives therefore cost one product :math:`((XX^T) \circ P) M`,
    :math:`O(n^2 p)`, after one Cholesky factor of C gives :math:`C^{-1}` (LAPACK
    ``potri``), :math:`a`, :math:`E` and :math:`C^{-2}`. Likewise
    :math:`\partial \log\mathrm{KARE} / \partial \log\lambda
    = n\lambda\,[2 \|C^{-1}\|_F^2 / \operatorname{tr} C^{-1} - 2\langle a, E\rangle /
    \|a\|^2]`.

    **Parametrisation and gauge.** L-BFGS-B runs on :math:`\theta`,
    :math:`\log\eta_i = \log\eta^{(0)}_i + \theta_{g(i)}` (so :math:`\eta > 0`; g is
    the identity or the tying below) and, for ``lam="kare"``, on
    :math:`\ell = \log(\lambda / t(\eta))`, :math:`t(\eta) = \operatorname{tr}
    H(\eta) / n^2` the mean eigenvalue of :math:`H/n` (so
    :math:`\partial/\partial\eta_i` gains :math:`\partial_{\log\lambda}
    \log\mathrm{KARE}\cdot \operatorname{tr}K_i / (n^2 t)`), with
    :math:`10^{-8} \le \lambda / t \le 10^3`, which keeps C well conditioned.
    KARE is invariant under :math:`(\eta, \lambda) \to (s\eta, s\lambda)`, i.e.
    under scaling :math:`\eta` at fixed :math:`\ell`: the gradient is orthogonal to
    that direction, so the iterates stay on the plane of the start and the flat
    direction is never explored (this fixes the gauge). The start is the NTK weights
    with the :math:`\lambda` that minimises their KARE; the result is reported with
    :math:`\sum\eta = \sum \eta^{(0)}` and :math:`\lambda` re-selected by KARE on all
    the rows (one parameter). For a float ``lam`` (held fixed) the starting
    weights are first rescaled to the best scale,
    :math:`s = \lambda / \lambda^*(\eta^{(0)})`.

    **Overfitting, and the defence.** KARE estimates the test error of a kernel
    chosen *without* the labels. Minimising it over p weights uses the labels, and
    with p comparable to n it fits the noise: the optimised KARE keeps falling while
    the test error rises. Three defences, combinable:

    - ``validation_fraction`` (default 0.2, the safe default): KARE is minimised on
      the other 80% of the rows only, and after each iteration kernel ridge with the
      current :math:`(\eta, \lambda)` predicts the held-out rows. The iterate with the
      smallest held-out mean squared error is returned (iterate 0, the NTK, when
      none beats it) and the run stops after ``patience`` iterations without
      improvement. The held-out rows are never seen by KARE.
    - ``penalty`` :math:`\rho`: adds :math:`\frac{\rho}{2}\operatorname{Var}_i(
      \log\eta_i - \log\eta^{(0)}_i)` to :math:`\log\mathrm{KARE}` (a scale-invariant
      pull toward the NTK's log-weights).
    - ``n_free_weights`` k: groups are clustered by k-means on their masks (nearby
      cells, similar kernels; label-blind) and each cluster shares one multiplier of
      the NTK weights, so only k (+1) parameters are fitted.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    lam : "kare" or float > 0, default="kare"
        "kare": optimise :math:`\log\lambda` jointly. A float is held fixed.
    eta0 : {"ntk", "mc", "counts"}, NTKWeights or array-like of shape (p,)
        Starting weights, as in :func:`irls` (``"ntk"``: Monte Carlo NTK weights when
        the cells hold half of the Gaussian mass, else the sampled-gate counts).
        Zero weights are raised to 1e-6 times the largest (log-weights need > 0).
    validation_fraction : float in (0, 1) or None, default=0.2
        Held-out share for early stopping; None minimises KARE on all the rows.
    patience : int >= 1, default=5
    penalty : float >= 0, default=0.0
    n_free_weights : int >= 1 or None, default=None
        Number of shared weight multipliers; None leaves every weight free.
    max_iter : int >= 1, default=100
        L-BFGS-B iterations.
    tol : float > 0, default=1e-6
        L-BFGS-B ``ftol`` (relative decrease of log KARE) and ``gtol`` / 10.
    n_samples, seed :
        For the NTK weights (:func:`ntk_weights`); ``seed`` also draws the held-out
        rows and seeds the k-means.
    verbose : int, default=0
        1: a progress bar over the iterations (on a terminal); 2: also log KARE at
        each iteration (INFO on the ``fixntk`` logger).

    Returns
    -------
    KareMKLResult
        A ``ConvergenceWarning`` is raised when L-BFGS-B stops on ``max_iter`` or a
        failed line search (not on early stopping, the intended stop).
    """
    X = check_X(X)
    n = X.shape[0]
    Y, _ = check_targets(y, n)
    if not Y.any():
        raise ValueError("y is all zero: KARE is zero for every kernel")
    arr = as_arrangement(arr, n)
    fixed_lam = None if isinstance(lam, str) and lam == "kare" else lam
    if fixed_lam is not None:
        if isinstance(fixed_lam, str):
            raise ValueError(f"lam must be 'kare' or a float > 0; got {lam!r}")
        fixed_lam = check_lam(fixed_lam)
    if validation_fraction is not None:
        validation_fraction = check_positive(validation_fraction, "validation_fraction")
        if validation_fraction >= 1:
            raise ValueError(
                "validation_fraction must be in (0, 1) or None; "
                f"got {validation_fraction}"
            )
    patience = check_int(patience, "patience", 1)
    penalty = check_positive(penalty, "penalty", allow_zero=True)
    if n_free_weights is not None:
        n_free_weights = check_int(n_free_weights, "n_free_weights", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    tol = check_positive(tol, "tol")
    n_samples = check_int(n_samples, "n_samples", 1)

    eta0, kind = _starting_weights(X, arr, eta0, n_samples, seed)
    eta0 = np.maximum(eta0, _FLOOR * eta0.max())
    masks = arr.masks
    tied = None if n_free_weights is None else _tie(masks, n_free_weights, seed)
    labels = np.arange(arr.p) if tied is None else tied
    k = int(labels.max()) + 1
    share = np.bincount(labels, minlength=k) / arr.p

    if validation_fraction is None:
        fit, val = np.arange(n), None
    else:
        fit, val = _split(n, validation_fraction, seed)
    f = _LogKare(X[fit], Y[fit], masks[fit])
    lam_fit, _ = _best_lam(f.kernel(eta0), Y[fit])
    if fixed_lam is not None:  # KARE(s H, lam) = KARE(H, lam / s): the best scale
        eta0 = eta0 * (fixed_lam / lam_fit)
        lam_fit = fixed_lam
    log_eta0 = np.log(eta0)
    if val is not None:
        XvXf = X[val] @ X[fit].T
        masks_v, masks_f = masks[val], masks[fit]

    # tr K_i / n^2: lam = exp(x[k]) * tau @ eta is relative to the mean eigenvalue of
    # H(eta) / n, so its bounds keep C well conditioned wherever eta goes
    tau = np.einsum("ki,k->i", f.M, np.einsum("kd,kd->k", X[fit], X[fit])) / f.n**2

    def unpack(x):
        eta = np.exp(log_eta0 + x[labels])
        if fixed_lam is not None:
            return eta, fixed_lam
        return eta, float(np.exp(x[k]) * (tau @ eta))

    def objective(x):
        eta, lam_ = unpack(x)
        value, g_eta, g_loglam, A = f(eta, lam_)
        theta = x[:k]
        dev = theta - share @ theta
        grad = np.zeros_like(x)
        if fixed_lam is None:
            g_eta = g_eta + g_loglam * tau / (tau @ eta)
        grad[:k] = np.bincount(labels, weights=eta * g_eta, minlength=k)
        grad[:k] += penalty * share * dev
        if fixed_lam is None:
            grad[k] = g_loglam
        cache.update(x=x.copy(), A=A, log_kare=value)
        return value + 0.5 * penalty * float(share @ dev**2), grad

    cache = {}
    kare_hist, obj_hist, val_hist = [], [], []
    state = {"best": 0, "best_err": np.inf, "x_best": None, "early": False}

    def record(x, fun=None):
        if fun is None or not np.array_equal(cache.get("x"), x):
            fun, _ = objective(x)
        kare_hist.append(float(np.exp(cache["log_kare"])))
        obj_hist.append(float(fun))
        it = len(obj_hist) - 1
        if it:
            bar.update()
        bar.set_postfix_str(f"KARE {kare_hist[-1]:.4g}", refresh=False)
        if say is not None:
            say(f"kare_mkl: iteration {it:4d}  KARE {kare_hist[-1]:.6e}")
        if val is None:
            state["best"], state["x_best"] = it, x.copy()
            return
        eta, _ = unpack(x)
        pred = masking_kernel(XvXf, masks_v, eta, masks_f) @ cache["A"]
        err = float(((pred - Y[val]) ** 2).mean())
        val_hist.append(err)
        if err < state["best_err"]:
            state.update(best=it, best_err=err, x_best=x.copy())
        elif it - state["best"] >= patience:
            state["early"] = True
            raise StopIteration

    x0 = np.zeros(k + (fixed_lam is None))
    bounds = [(-_BOUND, _BOUND)] * k
    if fixed_lam is None:
        bounds.append(_REL_LAM)
        x0[k] = np.clip(np.log(lam_fit / (tau @ eta0)), *_REL_LAM)
    say = report(verbose)
    bar = progress(verbose=verbose, total=max_iter, desc="fixntk kare_mkl")
    try:
        record(x0)
        res = optimize.minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=lambda intermediate_result: record(
                intermediate_result.x, intermediate_result.fun
            ),
            options={"maxiter": max_iter, "ftol": tol, "gtol": 10 * tol},
        )
    finally:
        bar.close()
    n_iter = len(obj_hist) - 1
    if state["early"]:
        reason = "early_stopping"
    elif res.success:
        reason = "converged"
    elif n_iter >= max_iter:
        reason = "max_iter"
    else:
        reason = "line_search"
    if reason in ("max_iter", "line_search"):
        why = (
            f"max_iter = {max_iter} iterations ran out"
            if reason == "max_iter"
            else f"the line search failed ({res.message})"
        )
        warnings.warn(
            f"fixntk.kare_mkl stopped before convergence: {why}; log KARE "
            f"{obj_hist[0]:.6g} -> {obj_hist[-1]:.6g} after {n_iter} iterations.",
            ConvergenceWarning,
            stacklevel=2,
        )

    eta, lam_out = unpack(state["x_best"])
    K_full = masking_kernel(X @ X.T, masks, eta)
    K_start = masking_kernel(X @ X.T, masks, eta0)
    if fixed_lam is None:
        # one parameter: re-selected by KARE on all the rows (the grid also holds the
        # chosen iterate's lam, relative to the mean eigenvalue of H(eta) / n)
        scale = eta0.sum() / eta.sum()
        eta, K_full = eta * scale, K_full * scale
        rel = float(np.exp(state["x_best"][k]) * np.trace(K_full) / n**2)
        lam_out, kare_out = _best_lam(K_full, Y, also=rel)
        lam_start, kare_start = _best_lam(K_start, Y)
    else:
        lam_start = fixed_lam
        kare_out = float(_kare_curve(*_spectrum(K_full, Y), np.array([lam_out]))[0])
        kare_start = float(_kare_curve(*_spectrum(K_start, Y), np.array([lam_out]))[0])
    return KareMKLResult(
        eta=eta,
        lam=float(lam_out),
        kare=float(kare_out),
        kare_start=float(kare_start),
        kare_history=np.asarray(kare_hist),
        objective_history=np.asarray(obj_hist),
        validation_history=None if val is None else np.asarray(val_hist),
        best_iter=int(state["best"]),
        n_iter=n_iter,
        converged=reason == "converged",
        stop_reason=reason,
        eta_start=eta0,
        lam_start=float(lam_start),
        eta0_kind=kind,
        tied=tied,
    )
