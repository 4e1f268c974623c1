"""Fixing the NTK: reweighted kernel ridge from the NTK to the optimal MKL kernel.

The group lasso is a multiple kernel learning problem over masking kernels; for fixed
weights eta its inner problem is kernel ridge regression with H(eta). This module solves
that ridge (in the dual with the n x n kernel, or in the primal with the (p d) x (p d)
masked Gram matrix, both through :class:`fixntk._ridge.PSDRidge`: a Cholesky factor,
or an eigendecomposition when it would not be accurate) and iterates the reweighting
``eta_i <- sqrt(||w_i||^2 + eps^2)`` (the paper's Algorithm 1) from the NTK's weights.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg, optimize
from sklearn.exceptions import ConvergenceWarning

from ._arrangement import Arrangement, as_arrangement
from ._cpu import core as _core
from ._kernels import check_eta, masking_kernel, ntk_kernel
from ._memory import check_kernel_size
from ._ntk import ntk_weights
from ._progress import _check_verbose, progress, report
from ._ridge import _RCOND, PSDRidge, psd_eigh
from ._scale import Units, norms
from ._solver import _far_columns, _prepare, intercept_shift, rows_equal
from ._threads import blas_threads
from ._validation import (
    check_bool,
    check_int,
    check_lam,
    check_positive,
    check_relative_tol,
    check_sample_weight,
    check_targets,
    check_X,
    quiet,
    user_stacklevel,
)
from ._validation import warn as _warn

__all__ = ["IRLSResult", "irls", "mkl_objective"]

# design entries materialised per chunk of rows for the primal Gram matrix
_GRAM_ROWS_ENTRIES = 1 << 22
_STEP_EPS = 0.1  # smoothing eps is kept at _STEP_EPS * gap / (lam p): below the gap
# The reweighting's kernel ridge solves keep their Cholesky factor down to this
# estimated reciprocal condition number (PSDRidge's own floor is 1e-7): its points are
# certified by the duality gap of W, computed by masked products, not by the factor.
# At n = 3333, d = 3, 272 groups and lam = 2.2e-6 (rcond 1e-10 - 1e-8, the eigh
# fallback at each solve) solve's kernel route took 75 s, and 17 s at this floor (6 s
# with the Gram's Hessian), to the same objective (12 digits) and a certified relative
# gap of 5e-11. Where such a factor
# is too inexact for the steps (no step accepted: a Toeplitz design with duplicated
# columns at 1e-8 lam_max stalled after one step), the loop goes on at PSDRidge's floor.
_STEP_RCOND = 1e-12
_MIN_CAPTURED = 0.5  # "ntk" uses the cell weights only if they hold this much mass
_ROUNDOFF = 1e-13  # relative increase of F accepted as round-off in a step
# a stall with a relative gap below this is told as round-off; above, as the kernel
# ridge solves' inexactness (an ill-conditioned kernel)
_STALL_ROUNDOFF = 1e-8
# ... and the loop ends as stalled when over this many accepted steps the gap has
# fallen by less than _STALL_GAIN (relative) and the objective by at most _STALL_MOVE
# (relative): steps accepted at round-off's level (F within _ROUNDOFF of the last)
# that change nothing. The primal form's Newton steps sat at a relative gap of
# 6.08e-10 for 2990 steps of a tol = 1e-10 solve, which then said "max_iter ran out"
# (the dual form certified 1.8e-15 in 14; tester DN); method='auto' now goes on in
# the dual form. Not fewer steps: solve's kernel route (50 steps) at 1e-16 lam_max
# stopped at 20 at a point from which the descent crawled 100000 epochs, against
# 8415 from its 50th.
_STALL_STEPS = 50
_STALL_GAIN = 0.01
_STALL_MOVE = 1e-12
_MAX_NEWTON = 2000  # largest free set for a Newton step (a dense Hessian of that order)
_SMALL_FACTOR = 2000  # factorisations up to this order run on one BLAS thread
# matrices of the system's order alive at once (the kernel or Gram, its factor or
# eigenvectors, a product)
_IRLS_MATRICES = 4
# What a kernel ridge system too large is to be replaced by, where the caller has its
# own word for it (the estimators: solver='bcd'); None: fixntk.solve
_ALTERNATIVE = contextvars.ContextVar("fixntk_irls_alternative", default=None)


@dataclass(eq=False)  # arrays inside: == compared them elementwise and raised
class IRLSResult:
    r"""Result of :func:`irls`.

    Attributes
    ----------
    coef : ndarray of shape (p, d) or (p, d, c)
        The group weights ``w_i`` of the last kernel ridge solve.
    eta : ndarray of shape (p,)
        Kernel weights at ``coef``, ``eta_i = ||w_i||`` (the fixed point of the update):
        ``mkl_kernel(X, arr, eta)`` is the fixed (label-aware) kernel.
    objective : float
        ``F(coef)``, the group-lasso objective (equal to ``history[-1]``).
    gap : float
        Duality gap certified at ``coef`` (the certificate of :func:`solve`).
    f0 : float
        ``F(0)``; the run stops when ``gap <= tol * f0``.
    n_iter : int
        Steps taken, reweighting or Newton (``len(history) - 1``).
    converged : bool
    history : ndarray
        ``F(W_k)`` for k = 0 (the best-scaled starting weights: the NTK's objective with
        ``eta0="ntk"``), 1, ..., n_iter. Never increases (beyond round-off).
    mkl_history : ndarray
        ``G(eta_k)``, the MKL objective of the kernel used at step k (an upper bound on
        ``history[k]``).
    gap_history : ndarray
        The certified gap at each step.
    scale : float
        The factor ``s`` of the starting weights ``eta_start = s * eta0``, minimising
        ``G(s * eta0)``.
    eta_start : ndarray of shape (p,)
        ``s * eta0``.
    eta0_kind : str
        Where ``eta0`` came from: ``"ntk_weights"`` (Monte Carlo cell weights),
        ``"counts"`` (finite-width NTK of the sampled gates) or ``"given"``.
    method : str
        ``"dual"`` or ``"primal"``: the form of the last kernel ridge solve (with
        ``method="auto"``, a dual-form run that stops short of ``tol`` where
        :math:`pd` is at most ``max(n, 2000)`` ends with a primal-form solve at its
        weights, counted as a step, and the primal form's own steps from there while
        steps are left; a primal-form run that stalls goes on in the dual form where
        n is at most 2000).
    n_newton : int
        How many of the steps were projected Newton steps (see ``newton_tol``).
    lam : float
    intercept : float or ndarray of shape (c,)
        The output intercept (0 without ``fit_intercept``).
    ntk_eta : float
        With ``ntk_group=True``: the weight of the NTK group at the end,
        :math:`\|f_0\|_{\mathcal H}` (0 without the group).
    ntk_coef : ndarray of shape (n,) or (n, c), or None
        With ``ntk_group=True``: :math:`b` with :math:`f_0(z) = K_{\mathrm{NTK}}(z,
        X)\, b` (``ntk_kernel(Z, X) @ ntk_coef``); the model's output is
        ``sum_i D_i(Z) Z w_i + f_0(Z)``.
    """

    coef: np.ndarray
    eta: np.ndarray
    objective: float
    gap: float
    f0: float
    n_iter: int
    converged: bool
    history: np.ndarray = field(repr=False)
    mkl_history: np.ndarray = field(repr=False)
    gap_history: np.ndarray = field(repr=False)
    scale: float = 1.0
    eta_start: np.ndarray = field(default=None, repr=False)
    eta0_kind: str = "given"
    method: str = "dual"
    n_newton: int = 0
    lam: float = 0.0
    intercept: object = 0.0
    ntk_eta: float = 0.0
    ntk_coef: np.ndarray = field(default=None, repr=False)

    @property
    def relative_gap(self):
        return self.gap / self.f0 if self.f0 > 0 else 0.0


class _Ridge:
    """One kernel ridge solve at weights eta (a state of the iteration)."""

    __slots__ = ("eta", "W", "grads", "g", "quad", "factor", "KA")

    def __init__(self, eta, W, grads, quad, factor, KA=None, g_ntk=None):
        self.eta = eta  # (p,), or (p + 1,) with the NTK group's weight last
        self.W = W  # w_i = eta_i X^T D_i a, shape (p, d, c)
        self.grads = grads  # X^T D_i a, shape (p, d, c)
        self.g = _group_norms(grads)  # ||X^T D_i a||: dG/deta_i = lam (1 - g_i^2) / 2
        if KA is not None:  # the NTK group: ||Phi^T a|| = sqrt(tr a^T K a)
            self.g = np.append(self.g, g_ntk)
        self.quad = quad  # tr Y^T (H(eta) + n lam I)^{-1} Y
        self.factor = factor
        self.KA = KA  # K_NTK a, shape (n, c): f_0(X) = eta_ntk K_NTK a

    def mkl_value(self, lam):
        return 0.5 * lam * (self.quad + self.eta.sum())


class _KernelRidge:
    """Kernel ridge with H(eta) at fixed data, its MKL objective and derivatives.

    ``dual`` solves with the n x n matrix C = H(eta) + n lam I; ``primal`` with
    B = S G S + n lam I, G the masked Gram matrix [X^T D_i D_j X] of size p d and
    S = diag(sqrt(eta_i)) per group (the substitution w_i = sqrt(eta_i) v_i), applying
    C^{-1} through the Woodbury identity. Both are :class:`fixntk._ridge.PSDRidge`
    systems, so they stay accurate when H(eta) is singular and lam tiny.
    """

    def __init__(self, X, Y, arr, lam, method, centre=None, K_ntk=None):
        n, d = X.shape
        # centre: the vector a whose multiples an unpenalised intercept adds (the row
        # factors of weighted data, ones otherwise); kernels, Grams and targets are then
        # taken in the orthogonal complement of a (the intercept profiled out).
        self.centre = centre
        Y = self.project(Y)
        self.X, self.Y, self.arr = X, Y, arr
        self.p, self.d, self.c = arr.p, d, Y.shape[1]
        self.lam = lam
        self.mu = n * lam
        self.rcond = _STEP_RCOND  # see _STEP_RCOND; _RCOND: PSDRidge's own floor
        self.yy = float((Y**2).sum())
        self.K_ntk = K_ntk  # the NTK group (dual only): eta has p + 1 entries
        forced = method != "auto"
        if not forced:
            method = "dual" if n <= arr.p * d or K_ntk is not None else "primal"
        # the system's order, refused at once where it cannot fit or take under half
        # an hour (a forced method='primal' at p d = 1e6 asked NumPy for 7.3 TiB; a
        # forced 'dual' at n = 300000 failed after 39 s)
        size = n if method == "dual" else arr.p * d
        # the way out named where it applies: not method='auto' when auto chose this
        # system, and the estimators' own parameter in their fits (tester CO)
        other = _ALTERNATIVE.get() or (
            "fixntk.solve (block coordinate descent, no such system)"
            + (
                ", or method='auto', which takes the smaller of n and p d"
                if forced and _fits(min(n, arr.p * d))
                else ""
            )
        )
        check_kernel_size(
            size,
            f"irls (method={method!r}: a {size} x {size} kernel ridge system, "
            f"{'n' if method == 'dual' else 'p d'} = {size})",
            other,
            n_matrices=_IRLS_MATRICES,
            # said before a long fit, as the estimators do (10^4 rows: 260 s and
            # 4.2 GB without a word, a tester; its factorisations cost about one
            # eigendecomposition's worth); the primal system's masked Gram, about
            # 2 n (p d)^2 flops against the eigendecomposition's 9 (p d)^3, counted
            # too (60000 rows, p d = 4000: 45 s for the Gram, 88 s in all, unwarned;
            # tester DD)
            warn=True,
            n_steps=1 if method == "dual" else 1 + 2.0 * n / (9.0 * size),
        )
        self.method = method
        self.masks = arr.masks
        # the system's products on the factorisations' BLAS threads (_blas_limit): on
        # the caller's threads, X X^T summed in another order, and irls on diabetes
        # (n = 442) moved by 5e-12 from 1 to 2 BLAS threads (tester DO)
        with blas_threads(1 if size <= _SMALL_FACTOR else None):
            if method == "dual":
                self.XXt = X @ X.T
            else:
                self.gram = _masked_gram(X, self.masks)
                self.b = _core.masked_gradients(X, arr.packed, Y).reshape(
                    self.p * d, self.c
                )
                if centre is not None:  # A^T P A = A^T A - z z^T / ||a||^2
                    z = _core.masked_gradients(X, arr.packed, centre[:, None]).ravel()
                    self.gram -= np.outer(z, z) / float(centre @ centre)

    def project(self, A):
        """P A over the rows of A (n, k), P = I - a a^T / ||a||^2 (A itself without
        centring)."""
        if self.centre is None:
            return A
        a = self.centre
        return A - np.outer(a, (a @ A) / float(a @ a))

    def kernel(self, eta):
        """P H(eta) P (dual), H(eta) plus eta_ntk K_NTK with the NTK group."""
        H = masking_kernel(self.XXt, self.masks, eta[: self.p])
        if self.K_ntk is not None:
            H += eta[self.p] * self.K_ntk
        if self.centre is not None:
            H = self.project(self.project(H).T)
        return H

    @property
    def size(self):
        """Order of the matrix factored at each solve."""
        return self.XXt.shape[0] if self.method == "dual" else self.gram.shape[0]

    def exact_factors(self):
        """Switch to PSDRidge's own accuracy floor; False if already there."""
        if self.rcond == _RCOND:
            return False
        self.rcond = _RCOND
        return True

    def _scaling(self, eta):
        return np.repeat(np.sqrt(eta), self.d)

    def solve(self, eta):
        p, d, c = self.p, self.d, self.c
        if self.method == "dual":
            ridge = PSDRidge(self.kernel(eta), self.mu, rcond=self.rcond)
            A = np.ascontiguousarray(ridge.solve(self.Y))
            grads = inner = _core.masked_gradients(self.X, self.arr.packed, A)
            A_in = A
            if ridge.method == "eigh":
                # w_i from the part of a in the range of H (round-off outside it is
                # not amplified by 1 / (n lam)); X^T D_i a of a group left out of H
                # (eta_i = 0) from all of a: there the part outside counts
                A_in = np.ascontiguousarray(ridge.coef(self.Y))
                inner = _core.masked_gradients(self.X, self.arr.packed, A_in)
                grads = np.where(eta[:p, None, None] > 0, inner, grads)
            KA = g_ntk = None
            if self.K_ntk is not None:
                A_ntk = A_in if eta[p] > 0 else A
                KA = self.K_ntk @ A_ntk
                g_ntk = np.sqrt(max(float((A_ntk * KA).sum()), 0.0))
            return _Ridge(
                eta,
                eta[:p, None, None] * inner,
                grads,
                ridge.quad(self.Y),
                ridge,
                KA,
                g_ntk,
            )
        s = self._scaling(eta)
        ridge = PSDRidge(self.gram * np.outer(s, s), self.mu, rcond=self.rcond)
        rhs = s[:, None] * self.b
        V = ridge.coef(rhs)  # rhs lies in the range of S G S
        Wf = s[:, None] * V
        # X^T D_i a with a = (y - sum_j D_j X w_j) / (n lam), from the Gram matrix.
        grads = (self.b - self.gram @ Wf) / self.mu
        return _Ridge(
            eta,
            Wf.reshape(p, d, c),
            grads.reshape(p, d, c),
            (self.yy - float((rhs * V).sum())) / self.mu,
            (ridge, s),
        )

    def hessian(self, st, free):
        """Hessian of the MKL objective G over the groups ``free``:
        ``lam <K_i a, (H + n lam I)^{-1} K_j a>`` with ``K_i a = D_i X (X^T D_i a)``
        (and ``K_NTK a`` for the NTK group, index p, last in ``free``)."""
        f, c = free.size, self.c
        masked = free[free < self.p]
        if self.method == "dual":
            n = self.X.shape[0]
            U = np.einsum("kd,fdc->kfc", self.X, st.grads[masked])
            U *= self.masks[:, masked, None]
            if masked.size < f:
                U = np.concatenate([U, st.KA[:, None, :]], axis=1)
            U2 = self.project(U.reshape(n, f * c))
            CU = st.factor.solve(U2).reshape(n, f, c)
            return self.lam * _cross(U2.reshape(n, f, c), CU)
        # primal (no NTK group): with A = [D_1 X ... D_p X] and u_i = P D_i X g_i,
        # A^T u_i = G[:, i] g_i and u_i^T u_j = g_i^T G_ij g_j from the (centred) Gram
        # matrix G = A^T P A: no pass over the n rows (they cost n p d f, the Gram
        # p d^2 f; 130 of 160 s at n = 3333, p = 818, d = 3)
        ridge, s = st.factor
        p, d = self.p, self.d
        g = st.grads[masked]  # (f, d, c)
        cols = self.gram.reshape(p * d, p, d)[:, masked, :]  # G[:, i] of each free i
        AtU = np.matmul(cols.transpose(1, 0, 2), g)  # (f, p d, c)
        UtU = np.einsum("fac,gfac->fg", g, AtU.reshape(f, p, d, c)[:, masked])
        SAtU = s[:, None] * AtU.transpose(1, 0, 2).reshape(p * d, f * c)
        BinvSAtU = ridge.coef(SAtU)
        inner = UtU - _cross(SAtU.reshape(-1, f, c), BinvSAtU.reshape(-1, f, c))
        return (self.lam / self.mu) * inner

    def spectrum(self, eta):
        """Eigenvalues ev_j of H(eta) (or of S G S) and weights a_j such that
        ``y^T (s H + mu)^{-1} y = yy/mu - sum_j a_j s / (mu (s ev_j + mu))``."""
        if self.method == "dual":
            ev, U = psd_eigh(self.kernel(eta))
            a = ev * ((U.T @ self.Y) ** 2).sum(axis=1)
        else:
            s = self._scaling(eta)
            ev, V = psd_eigh(self.gram * np.outer(s, s))
            a = ((V.T @ (s[:, None] * self.b)) ** 2).sum(axis=1)
        return ev, a

    def norms(self, st):
        """The group norms: ||w_i||, and ||f_0||_H = eta_ntk ||Phi^T a|| last."""
        norms = _group_norms(st.W)
        if self.K_ntk is None:
            return norms
        return np.append(norms, st.eta[self.p] * st.g[self.p])

    def certify(self, st):
        """(primal, dual) objectives at the state: the certificate of :func:`solve`,
        with the NTK group's dual constraint ``sqrt(tr R^T K_NTK R) <= n lam``."""
        X, Y, arr, lam = self.X, self.Y, self.arr, self.lam
        if self.K_ntk is None:
            return _certificate(self, st.W, lam)
        n = X.shape[0]
        eta_ntk = st.eta[self.p]
        R = Y - _core.masked_predict(X, arr.packed, st.W) - eta_ntk * st.KA
        G = _core.masked_gradients(X, arr.packed, np.ascontiguousarray(R))
        g_max = max(
            float(np.sqrt((G**2).sum(axis=(1, 2))).max()),
            float(np.sqrt(max((R * (self.K_ntk @ R)).sum(), 0.0))),
        )
        penalty = _group_norms(st.W).sum() + eta_ntk * st.g[self.p]
        primal = 0.5 * float((R**2).sum()) / n + lam * penalty
        theta = R / max(1.0, g_max / (n * lam))
        dual = 0.5 * float((Y**2).sum() - ((Y - theta) ** 2).sum()) / n
        return primal, dual


def _cross(A, B):
    """``sum_{k, c} A[k, f, c] B[k, g, c]`` of shape (f, g), one BLAS product per output
    c (``np.einsum`` without ``optimize`` loops over k, f, g and c in C)."""
    return sum(A[:, :, k].T @ B[:, :, k] for k in range(A.shape[2]))


def _masked_gram(X, masks):
    """[X^T D_i D_j X]_{ij} of shape (p d, p d), accumulated over chunks of rows."""
    n, d = X.shape
    p = masks.shape[1]
    G = np.zeros((p * d, p * d))
    step = max(1, _GRAM_ROWS_ENTRIES // (p * d))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        A = (masks[rows, :, None] * X[rows, None, :]).reshape(-1, p * d)
        G += A.T @ A
    return G


def _best_scale(ev, a, total, mu):
    """argmin_{s >= 0} of G(s eta0) (convex in s) from the spectrum of H(eta0).

    G(s eta0) / (lam/2) = yy/mu - sum_j a_j s / (mu (s ev_j + mu)) + s * total, whose
    derivative total - sum_j a_j / (s ev_j + mu)^2 increases with s.
    """

    root = np.sqrt(a)

    def slope(s):
        # squared after the division: no overflow; s * ev beyond the range (the
        # bracket growing towards 1e308 on columns 1e4 apart at 1e-8 lam_max) is
        # inf, and q 0 as it should be (NumPy's overflow warnings leaked: tester BY)
        # ... and q's square beyond it is inf too, the slope -inf (a lam 1e-300 of
        # X's units: 247 overflow warnings leaked from one irls call; tester CK)
        with np.errstate(over="ignore"):
            q = root / (s * ev + mu)
            return total - float((q * q).sum())

    if slope(0.0) >= 0:
        return 0.0
    top = float(ev.max())
    if not top > 0:  # H(eta0) = 0 (constant or zero features): nothing to scale
        return 0.0
    # mu / top underflows to 0 where lam is ~1e-300 of lambda_max (X 1e300 times
    # larger than lam's units), and 4 x 0 never brackets the root (tester CK)
    hi = max(mu / top, np.finfo(float).tiny)
    while slope(hi) < 0:
        if hi > np.finfo(float).max / 8.0:
            # still falling at the largest scale double precision holds: the round-off
            # of a kernel that is zero in exact arithmetic
            return 0.0
        hi *= 4.0
    return float(optimize.brentq(slope, 0.0, hi, xtol=1e-300, rtol=1e-13))


def _group_norms(W):
    # squares that cannot overflow: the dual's block gradients X^T D_i a at a lam
    # 1e-300 of X's units overflowed to inf (tester CK)
    return norms(W)


class _NoCellMass(ValueError):
    """No Gaussian direction of ``eta0="mc"`` fell in a sampled cell: the Monte Carlo
    NTK weights are all zero (callers that take no ``n_samples`` say so in their
    words)."""


def _starting_weights(X, arr, eta0, n_samples, seed):
    if isinstance(eta0, str):
        if eta0 not in ("ntk", "mc", "counts"):
            raise ValueError(
                "eta0 must be 'ntk', 'mc', 'counts', NTKWeights or an array of "
                f"{arr.p} non-negative weights; got {eta0!r}"
            )
        if eta0 in ("ntk", "mc"):
            # irls has checked arr against X (as_arrangement): said once
            with quiet(UserWarning, "the arrangement's (gates|masks)"):
                est = ntk_weights(X, arr, n_samples=n_samples, seed=seed)
            if eta0 == "mc" or est.captured_mass >= _MIN_CAPTURED:
                if est.captured_mass == 0:
                    raise _NoCellMass(
                        f"none of {n_samples} Gaussian directions fell in a cell of "
                        f"the arrangement (missing_mass = {est.missing_mass:.4f}): "
                        "the Monte Carlo NTK weights are all zero. Use "
                        "eta0='counts' (the finite-width NTK of the sampled gates) "
                        "or more n_samples."
                    )
                return est.eta, "ntk_weights"
        return arr.counts / arr.n_gates, "counts"
    eta = check_eta(eta0, arr.p, "eta0")
    if not eta.any():
        raise ValueError("eta0 is all zero: the starting kernel must not vanish")
    return eta, "given"


def mkl_objective(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    eta: ArrayLike,
    lam: float,
) -> float:
    r"""The MKL objective G(eta) of kernel weights eta: the best group-lasso value with
    the penalty lam sum_i (||w_i||^2 / eta_i + eta_i) / 2 in place of lam sum_i ||w_i||.

    .. math::

        \min_W F(W) = \min_{\eta \ge 0} G(\eta), \qquad
        G(\eta) = \frac{\lambda}{2}\Big[ y^T \big(H(\eta) + n\lambda I\big)^{-1} y
                  + \sum_{i=1}^p \eta_i \Big],

    with :math:`H(\eta) = \sum_i \eta_i D_i X X^T D_i` (:func:`mkl_kernel`) and
    :math:`F(W) = \frac{1}{2n}\|\sum_i D_i X w_i - y\|^2 + \lambda \sum_i \|w_i\|`.
    For fixed :math:`\eta` the minimiser is kernel ridge regression,
    :math:`a = (H(\eta) + n\lambda I)^{-1} y`, :math:`w_i = \eta_i X^T D_i a`, and at
    the optimum :math:`\eta_i = \|w_i\|`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    eta : array-like of shape (p,) or NTKWeights
    lam : float > 0

    Returns
    -------
    float
        ``G(eta) >= min_W F(W)``, with equality at ``eta_i = ||w_i*||``.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, negative
        weights or ``lam <= 0``.
    MemoryError
        When the n x n kernel and its factorisation do not fit in memory, or would
        take over half an hour (before any of it is formed; a UserWarning when over
        a minute).
    """
    X, Y, _, arr = _prepare(X, y, arr)
    lam = check_lam(lam)
    eta = check_eta(eta, arr.p)
    # refused or announced before the n x n kernel is formed, as irls's dual form
    # (20000 rows: NumPy's bare allocation error after 2-10 s; tester DL)
    check_kernel_size(
        X.shape[0],
        f"mkl_objective (an n x n masked kernel and its factorisation, n = "
        f"{X.shape[0]})",
        "fixntk.solve's objective at its solution (an upper bound on G's minimum "
        "over eta) or a subsample of the rows",
        n_matrices=_IRLS_MATRICES,
        warn=True,
    )
    units = Units(X, Y)  # G is computed at unit scale (fixntk._scale)
    X, Y, lam, eta = X / units.sx, Y / units.sy, units.lam(lam), units.coef_in(eta)
    ridge = PSDRidge(masking_kernel(X @ X.T, arr.masks, eta), X.shape[0] * lam)
    return float(units.value_out(0.5 * lam * (ridge.quad(Y) + eta.sum())))


class _Newton:
    """Projected, Levenberg-Marquardt damped Newton steps on G(eta) over eta >= 0.

    Groups with small eta whose gradient pushes them to zero are held at eta_i = 0
    (Bertsekas' projected Newton); the others solve (H + mu diag(H)) d = -grad. Nearby
    cells have almost collinear masking kernels, so H is often singular: the damping mu
    (Marquardt's scaling) shrinks after an accepted step and grows after a refused one.
    """

    def __init__(self, ridge, max_free):
        self.ridge, self.max_free = ridge, max_free
        self.mu = 1e-3

    def step(self, st, accept, tries=6):
        """A step accepted by ``accept(candidate)`` (and by Armijo on G), or None."""
        lam = self.ridge.lam
        with np.errstate(over="ignore"):  # g far beyond 1: no Newton step from here
            eta, grad = st.eta, 0.5 * lam * (1.0 - st.g**2)
        if not np.isfinite(grad).all():
            return None
        # the IRLS step eta_i g_i measures how far eta is from a fixed point
        bound_tol = min(1e-3 * eta.max(), float(np.abs(eta * st.g - eta).max()))
        free = np.flatnonzero((grad < 0) | (eta > bound_tol))
        if free.size == 0 or free.size > self.max_free:
            return None
        Hf = self.ridge.hessian(st, free)
        diag = np.maximum(np.diag(Hf).copy(), 1e-300)
        g_old = st.mkl_value(lam)
        for _ in range(tries):
            damped = Hf + np.diag(self.mu * diag)
            try:
                d = -linalg.cho_solve(
                    linalg.cho_factor(damped, check_finite=False),
                    grad[free],
                    check_finite=False,
                )
            except linalg.LinAlgError:
                self.mu *= 10.0
                continue
            new = np.zeros_like(eta)
            new[free] = np.maximum(0.0, eta[free] + d)
            if new.any():
                cand = self.ridge.solve(new)
                armijo = cand.mkl_value(lam) <= g_old + 1e-4 * float(grad @ (new - eta))
                if armijo:
                    verdict = accept(cand)
                    if verdict is not None:
                        self.mu = max(self.mu / 10.0, 1e-12)
                        return verdict
            self.mu *= 10.0
        return None


def irls(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    lam: float,
    eta0: str | ArrayLike = "ntk",
    tol: float = 1e-6,
    max_iter: int = 1000,
    method: str = "auto",
    newton_tol: float | None = 1e-2,
    n_samples: int = 10**5,
    seed: int | None = 0,
    scale: bool = True,
    verbose: int = False,
    sample_weight: ArrayLike | None = None,
    fit_intercept: bool = False,
    ntk_group: bool = False,
) -> IRLSResult:
    r"""Fix the NTK: reweighted kernel ridge from the NTK to the optimal MKL kernel.

    Solves the gated ReLU group lasso through its multiple-kernel form

    .. math::

        \min_W F(W) = \min_{\eta \ge 0} G(\eta), \qquad
        G(\eta) = \frac{\lambda}{2}\Big[ y^T \big(H(\eta) + n\lambda I\big)^{-1} y
                  + \sum_{i=1}^p \eta_i \Big],

    with :math:`H(\eta) = \sum_i \eta_i D_i X X^T D_i` (:func:`mkl_kernel`) and
    :math:`F(W) = \frac{1}{2n}\|\sum_i D_i X w_i - y\|^2 + \lambda \sum_i \|w_i\|`.
    For fixed :math:`\eta` the minimiser is kernel ridge regression,
    :math:`a = (H(\eta) + n\lambda I)^{-1} y`, :math:`w_i = \eta_i X^T D_i a`, and at
    the optimum :math:`\eta_i = \|w_i\|`.

    Starting from :math:`\eta = s\,\eta^{(0)}` with the NTK's weights
    :math:`\eta^{(0)}` and :math:`s = \arg\min_{s \ge 0} G(s\,\eta^{(0)})` (an exact 1-d
    search on the spectrum of :math:`H(\eta^{(0)})`), it alternates kernel ridge with
    :math:`H(\eta)` and :math:`\eta_i \leftarrow \sqrt{\|w_i\|^2 + \epsilon^2}`, with
    :math:`\epsilon` shrinking geometrically and with the duality gap. A step that would
    raise :math:`F` is replaced by the plain step :math:`\eta_i \leftarrow \|w_i\|`,
    which cannot (it minimises a majoriser of :math:`F`), so ``history`` never increases
    (beyond round-off, 1e-13 relative). It stops when the duality gap of
    :func:`solve`'s certificate is at most ``tol * F(0)``.

    The reweighting converges linearly, often slowly (masking kernels of nearby cells
    are almost collinear), while the certificate needs :math:`\|X^T D_i a\| \to 1` on
    the support to high accuracy. Once the relative gap is below ``newton_tol``, steps
    are projected Newton steps on :math:`G(\eta)` over :math:`\eta \ge 0` (Hessian
    :math:`\lambda \langle K_i a, (H + n\lambda I)^{-1} K_j a\rangle` over the groups
    not held at zero, Levenberg-Marquardt damped since it is often singular), accepted
    only if they decrease :math:`G` (Armijo) and :math:`F`; otherwise the reweighting
    step is taken. ``newton_tol=None`` runs the paper's iteration alone.

    **The NTK as one more group** (``ntk_group=True``). The search space gains the
    closed-form NTK, :math:`\eta_0 K_{\mathrm{NTK}} + H(\eta)`, and the start is
    the NTK itself (:math:`\eta = 0`, :math:`\eta_0 = s`). In the group-lasso view
    this is one more group whose feature map :math:`\phi` is the NTK's
    (:math:`\phi(x)^T\phi(z) = k(x, z)`, :func:`ntk_kernel`): the program is

    .. math::

        \min_{W,\ f_0 \in \mathcal H}\ \frac{1}{2n}\Big\|\sum_i D_i X w_i
        + f_0(X) - y\Big\|^2 + \lambda \Big(\sum_i \|w_i\|
        + \|f_0\|_{\mathcal H}\Big),

    with :math:`\mathcal H` the NTK's RKHS and the penalty its norm (not squared:
    by :math:`\|f\| = \min_{\eta_0}(\|f\|^2/\eta_0 + \eta_0)/2` it becomes the
    ridge term :math:`\eta_0 K_{\mathrm{NTK}}` of the MKL form, and at the optimum
    :math:`\eta_0 = \|f_0\|_{\mathcal H}`). The fitted
    :math:`f_0 = \eta_0 K_{\mathrm{NTK}}(\cdot, X)\, a`, so
    :math:`\|f_0\|_{\mathcal H} = \eta_0 \sqrt{a^T K_{\mathrm{NTK}} a}`. The
    certificate stays valid: the dual point :math:`\theta` (the residual, rescaled)
    must also satisfy the new group's constraint
    :math:`\sqrt{\theta^T K_{\mathrm{NTK}} \theta} \le n\lambda`, and the primal
    value includes :math:`\lambda \|f_0\|_{\mathcal H}`. Predictions on new
    points add :math:`f_0(z) = K_{\mathrm{NTK}}(z, X)\,` ``ntk_coef``. Kernel ridge
    is then in the dual (n x n) form only.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    lam : float > 0
    eta0 : {"ntk", "mc", "counts"}, NTKWeights or array-like of shape (p,)
        Starting weights (rescaled by the 1-d search when ``scale``).
        ``"mc"``: the Monte Carlo NTK weights :func:`ntk_weights` (``n_samples``,
        ``seed``) of the arrangement's cells. ``"counts"``:
        ``arr.counts / arr.n_gates``, the NTK of the finite-width network with the
        sampled gates (an unbiased estimate of :func:`ntk_kernel`; uniform for masks
        given directly; the zero gate of the linear group, ``linear_group=True``,
        counts as one gate: its all-ones mask, of Gaussian measure 0, starts at the
        weight of one gate rather than 0, which measured faster where the targets
        are linear). ``"ntk"`` (default):
        ``"mc"`` when the cells hold at least half of the Gaussian mass (low dimension,
        many gates), otherwise ``"counts"`` (in higher dimension a few hundred sampled
        cells hold almost none of it); ``eta0_kind`` of the result says which.
    tol : float in (0, 1)
        Relative duality gap to reach.
    max_iter : int >= 0
        Maximum number of steps (kernel ridge solves accepted).
    method : {"auto", "dual", "primal"}
        Kernel ridge in the dual (an n x n system, when ``n <= p d``) or the primal (a
        (p d) x (p d) system), each by a Cholesky factor or, when that would not be
        accurate (small lam, singular kernel), an eigendecomposition whose round-off
        eigenvalues count as zeros (the least-squares limit). The dual form's
        coefficients :math:`w_i = \eta_i X^T D_i a` can hold its certificate far
        above the optimum its weights reach (with ``fit_intercept``, relative gaps
        near 1e-5 where the primal form's solve at the same weights gives 1e-10):
        ``"auto"`` then tries that primal-form solve after steps 16, 32, 64, ...,
        and goes on in the primal form where the dual form stops short, when
        :math:`pd \le \max(n, 2000)` (see ``IRLSResult.method``; 80 problems of 60
        rows with an intercept at 1e-4 and 1e-5 lam_max: the dual form alone left 34
        uncertified, "auto" none). A primal-form run whose steps stall (50 steps
        that move the gap by under 1% and the objective by under 1e-12) goes on in
        the dual form, when :math:`n \le 2000`.
    newton_tol : float >= 0 or None
        Relative duality gap below which projected Newton steps are tried (at most
        2000 free groups); None for pure reweighting.
    n_samples, seed :
        Passed to :func:`ntk_weights` for ``eta0="ntk"`` or ``"mc"``.
    scale : bool
        Choose ``s`` by the 1-d search (otherwise ``s = 1``).
    verbose : int, default=False
        1: a progress bar over the steps (a line every 30 s off a terminal); 2: also log
        the objective and the gap of each step (INFO on the ``fixntk`` logger).
    sample_weight : array-like of shape (n,), optional
        Row weights ``s`` (normalised by their sum): the data term becomes
        :math:`\frac{1}{2\sum s}\sum_k s_k \|\cdot\|^2`, i.e. the rows of X and y
        scaled by :math:`a_k = \sqrt{s_k n / \sum s}`. Rows of weight 0 are left out.
    fit_intercept : bool, default=False
        An unpenalised output intercept, profiled out: kernels and targets are taken
        in the orthogonal complement of ``a``, :math:`P H(\eta) P` and :math:`P y`
        (``intercept`` of the result).
    ntk_group : bool, default=False
        Add the closed-form NTK as one more group and start from it (above);
        ``eta0`` must then be left at "ntk", ``method`` may not be "primal", and
        ``sample_weight`` and ``fit_intercept`` are not supported with it yet.

    Returns
    -------
    IRLSResult
        With ``converged=False`` and a ``ConvergenceWarning`` giving the gap reached
        when it stops early.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, a lam that
        is not positive, an unknown ``eta0`` or ``method``, or options that
        ``ntk_group=True`` does not support.
    """
    X = check_X(X)
    X_user = X  # (named in a warning)
    n = X.shape[0]
    Y, was_1d = check_targets(y, n)
    arr = as_arrangement(arr, n, X)
    s_w = None if sample_weight is None else check_sample_weight(sample_weight, n)
    if s_w is not None and (s_w == 0).any():
        # rows of weight 0 leave the program unchanged, and kept, a value of 1e200 on
        # one of them set the units and sent the rest to round-off: a null model
        # certified with gap 0 (tester BG), as the descent's problem found earlier
        keep = np.flatnonzero(s_w > 0)
        X = X_user = np.ascontiguousarray(X[keep])
        Y, s_w, n = Y[keep], s_w[keep], keep.size
        arr = Arrangement.from_masks(arr.masks[keep])
    lam = check_lam(lam)
    tol = check_relative_tol(tol)
    max_iter = check_int(max_iter, "max_iter", 0)
    verbose = _check_verbose(verbose)
    n_samples = check_int(n_samples, "n_samples", 1)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    scale = check_bool(scale, "scale")
    ntk_group = check_bool(ntk_group, "ntk_group")
    if not isinstance(method, str) or method not in ("auto", "dual", "primal"):
        raise ValueError(f"method must be 'auto', 'dual' or 'primal'; got {method!r}")
    if newton_tol is not None:
        newton_tol = check_positive(newton_tol, "newton_tol", allow_zero=True)
    shift = np.zeros(Y.shape[1])
    if fit_intercept:  # Y less its mean, added back to the intercept (as solve does)
        s_all = np.ones(n) if s_w is None else s_w
        shift = intercept_shift(Y, s_all, rows_equal(Y, s_w))
        # not a mean at Y's round-off (Y centred already: solve's kernel route), whose
        # subtraction only perturbs Y's small entries: at 1e-8 lam_max on a Toeplitz
        # design the route's 50 steps then missed a certificate they had reached
        if np.abs(shift).max() > 1e-12 * np.abs(Y).max():
            Y = Y - shift
        else:
            shift = np.zeros(Y.shape[1])
    # computed at unit scale (fixntk._scale): eta and W in its units, F in units of y^2
    units = Units(X, Y)
    X, Y, lam_u = X / units.sx, Y / units.sy, units.lam(lam)

    K_ntk = None
    if ntk_group:
        if not (isinstance(eta0, str) and eta0 == "ntk"):
            raise ValueError(
                "ntk_group=True starts from the closed-form NTK: leave eta0='ntk'"
            )
        if method == "primal":
            raise ValueError(
                "ntk_group=True needs the dual kernel ridge: method='dual' or "
                "'auto', not 'primal'"
            )
        if s_w is not None or fit_intercept:
            raise ValueError(
                "ntk_group=True does not support sample_weight or fit_intercept yet"
            )
        K_ntk = ntk_kernel(X)
        eta0, kind = np.zeros(arr.p + 1), "ntk_kernel"
        eta0[-1] = 1.0
    else:
        eta0, kind = _starting_weights(X, arr, eta0, n_samples, seed)
    # weighted rows: the plain program on (a X, a Y), a_k = sqrt(s_k n / sum(s))
    a = np.ones(n) if s_w is None else np.sqrt(s_w * n / s_w.sum())
    if s_w is not None:
        X, Y = X * a[:, None], Y * a[:, None]
    ridge = _KernelRidge(
        X, Y, arr, lam_u, method, centre=a if fit_intercept else None, K_ntk=K_ntk
    )
    f0 = 0.5 * ridge.yy / n
    pd_ = arr.p * X.shape[1]
    small = pd_ <= max(n, _SMALL_FACTOR)
    polish = None
    if method == "auto" and ridge.method == "dual" and K_ntk is None and small:
        polish = _Polish(X, Y, arr, lam_u, ridge, tol * f0)
    # The loop alternates small factorisations with the core's threaded kernels:
    # threaded BLAS on matrices this small only adds contention.
    with blas_threads(_blas_limit(ridge)), _finite_systems(X_user, lam):
        res = _irls_loop(
            X,
            Y,
            arr,
            lam_u,
            ridge,
            units.coef_in(eta0),
            scale,
            tol,
            # with the primal form to finish, half the steps are kept for it: a dual
            # form that crawls without stalling used them all (NumPy 1.23 with the
            # x86-64-v3 build: 1000 steps, relative gap 2.8e-5, where the primal
            # continuation certifies)
            max_iter if polish is None else max_iter - max_iter // 2,
            newton_tol,
            verbose,
            units.sy * units.sy,
            polish,
        )
    st, history, mkl_history, gaps, n_newton, stalled, s, eta_start = res

    def go_on(other):
        """The other form's steps from the last point, with the steps left; taken
        where they end finite and no worse."""
        nonlocal ridge, st, stalled, n_newton
        left = max_iter - (len(history) - 1)
        if gaps[-1] <= tol * f0 or left <= 0:
            return
        # NumPy's over/underflow warnings are its own business at extreme scales
        # (squares of norms near 1e154): a point that is not finite is not taken
        with (
            blas_threads(_blas_limit(other)),
            _finite_systems(X_user, lam),
            np.errstate(over="ignore", under="ignore", invalid="ignore"),
        ):
            more = _irls_loop(
                X,
                Y,
                arr,
                lam_u,
                other,
                st.eta,
                False,
                tol,
                left,
                newton_tol,
                verbose,
                units.sy * units.sy,
            )
        finite = np.isfinite(more[1][-1]) and np.isfinite(more[3][-1])
        if finite and more[1][-1] <= history[-1] + _ROUNDOFF * abs(history[-1]):
            ridge, st, stalled = other, more[0], more[5]
            history.extend(more[1][1:])
            mkl_history.extend(more[2][1:])
            gaps.extend(more[3][1:])
            n_newton += more[4]

    if polish is not None and gaps[-1] > tol * f0 and st.eta.any():
        polished = polish.at(st, history[-1])
        if polished is not None and polished[3] < gaps[-1]:
            # the last step's weights solved in the primal form: the same step (it
            # was counted as one more, and n_iter passed max_iter; tester CO)
            ridge, st, F, gap = polished
            history[-1] = F
            mkl_history[-1] = st.mkl_value(lam_u)
            gaps[-1] = gap
        # still short: the primal form's own steps from there, with the steps left
        # (80 problems of 60 rows, intercept, 1e-4 and 1e-5 lam_max: the polish
        # alone left 5 uncertified, the primal form from the start none)
        go_on(polish.primal)
    elif (
        method == "auto"
        and ridge.method == "primal"
        and stalled
        and K_ntk is None
        and n <= _SMALL_FACTOR
        and gaps[-1] > tol * f0
    ):
        # the primal form's steps stalled (accepted at round-off's level without a
        # change): the dual form's from there (150 rows, p d = 60, tol = 1e-10: a
        # relative gap stuck at 6.1e-10 for 2990 steps, where the dual form
        # certifies 1.8e-15 in 14; tester DN)
        go_on(
            _KernelRidge(X, Y, arr, lam_u, "dual", centre=a if fit_intercept else None)
        )
    W = st.W
    null = not ntk_group and history[-1] > f0
    if null:
        # a point worse than W = 0 (the null model): kernel ridge on a near-singular
        # kernel at a tiny lam started at 1e7 times its objective and no step
        # decreased it (tester AV); W = 0 is returned, with its certificate
        W = np.zeros_like(W)
        primal, dual = _certificate(ridge, W, lam_u)
        history, gaps = [*history[:-1], primal], [*gaps[:-1], primal - dual]
    gap = gaps[-1]
    converged = gap <= tol * f0
    if not converged:
        far = _far_columns(X_user) if stalled else ""
        advice = ""
        if not stalled:
            why = f"max_iter = {max_iter} steps ran out"
        elif gap <= _STALL_ROUNDOFF * f0:
            why = "no step decreased the objective (round-off level)"
        else:
            # a gap far above round-off: the steps' kernel ridge solves are what
            # round-off limits (a tester's columns on scales 1 to 1e4 stopped at
            # relative gaps of 1e-1, told as "round-off level")
            why = (
                "no step decreased the objective: its kernel ridge solves are too "
                "inexact in double precision at this lam (an ill-conditioned kernel"
                + (f": {far})" if far else ")")
            )
            advice = (
                " Centre and scale X's columns (e.g. sklearn's StandardScaler), or "
                "raise lam or tol."
                if far
                else " fixntk.solve's descent may do better; or raise lam or tol."
            )
        if (
            stalled
            and ridge.method == "primal"
            and K_ntk is None
            and n <= max(pd_, _SMALL_FACTOR)
        ):
            # the primal form's steps can stall where the dual form's certify: 150
            # rows, p d = 60, a relative gap stuck at 6.1e-10 against 1.8e-15 in 14
            # dual steps (tester DN)
            advice += (
                f" method='dual' (a {n} x {n} system here, against the primal "
                f"form's {pd_} x {pd_}) may certify where the primal form does not."
            )
        if stalled and ridge.method == "dual" and K_ntk is None and small:
            # the dual form's weights can reach the optimum's value (to 1e-15) with a
            # certificate stuck 100 times above the primal form's from the same
            # start: with the intercept profiled out, 60 rows and p d = 108, a
            # relative gap of 1.2e-5 against 1.2e-7 in 10 steps (tester CD)
            advice += (
                f" method='primal' (a {pd_} x {pd_} system here, against the dual "
                f"form's {n} x {n}) may certify where the dual form does not."
            )
        if null:  # not round-off: the reweighted ridge's own point was the trouble
            why = (
                "its point was worse than the null model's (the reweighted kernel "
                "ridge, ill-conditioned here, found no better one), so W = 0 is "
                "returned: fixntk.solve's descent (which takes this route when it "
                "helps) may do better"
            )
            advice = ""
        _warn(
            f"fixntk.irls stopped before the certificate: {why}; relative duality gap "
            f"{gap / f0:.3e} > tol = {tol:.1e} after {len(history) - 1} "
            f"step{'' if len(history) == 2 else 's'} "
            f"(lam = {lam:.4g}).{advice}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    b = np.zeros(Y.shape[1])
    if fit_intercept:
        b = a @ (Y - _core.masked_predict(X, arr.packed, W)) / float(a @ a)
    ntk_eta, ntk_coef = 0.0, None
    if ntk_group:
        A = st.factor.coef(ridge.Y)
        ntk_eta = float(units.coef_out(ridge.norms(st)[-1]))
        ntk_coef = units.kernel_coef_out(st.eta[-1] * (A[:, 0] if was_1d else A))
        eta_start = eta_start[:-1]
    b = b * units.sy + shift  # the intercept is in units of y
    return IRLSResult(
        coef=units.coef_out(W[:, :, 0] if was_1d else W),
        intercept=float(b[0]) if was_1d else b,
        eta=units.coef_out(_group_norms(W)),
        objective=float(units.value_out(history[-1])),
        gap=float(units.value_out(gap)),
        f0=float(units.value_out(f0)),
        n_iter=len(history) - 1,
        converged=bool(converged),
        history=units.value_out(np.asarray(history)),
        mkl_history=units.value_out(np.asarray(mkl_history)),
        gap_history=units.value_out(np.asarray(gaps)),
        scale=float(s),
        eta_start=units.coef_out(eta_start),
        eta0_kind=kind,
        method=ridge.method,
        n_newton=n_newton,
        lam=lam,
        ntk_eta=ntk_eta,
        ntk_coef=ntk_coef,
    )


def _blas_limit(ridge):
    """BLAS threads for a kernel ridge's factorisations: one up to _SMALL_FACTOR
    (threads on matrices that small only contend with the core's), else the
    caller's limit (None)."""
    return 1 if ridge.size <= _SMALL_FACTOR else None


@contextlib.contextmanager
def _finite_systems(X, lam):
    """A clear ValueError for a kernel ridge system that LAPACK cannot decompose (its
    entries overflowed): one column of X 1e200 times the others raised a bare
    LinAlgError ("Eigenvalues did not converge") from inside irls (a reviewer)."""
    try:
        yield
    except np.linalg.LinAlgError as exc:
        far = _far_columns(X) or "X's columns on scales far apart, or far from lam's"
        raise ValueError(
            f"irls: its kernel ridge system at lam = {lam:.4g} cannot be solved in "
            f"double precision ({far}; LAPACK: {exc}). Centre and scale X's columns "
            "(e.g. sklearn's StandardScaler), or raise lam"
        ) from exc


class _Polish:
    """The primal-form kernel ridge at the dual form's weights: ``at(st, F)`` gives
    (ridge, state, objective, gap), or None when its point is worse than ``F``;
    called as ``polish(st, F)`` by the loop, whether that point meets the gap
    ``target`` (the loop then stops).

    The dual form's weights can reach the optimum's value (to 1e-15) with its
    certificate stuck far above: with the intercept profiled out (60 rows, p d = 102,
    tester CD's problems) a relative gap of 1.3e-5 where it stalled after 16 steps,
    and 9.3e-6 after 1000 on two outputs, where the primal form's one solve at those
    same weights certifies (2e-11 on the two outputs): its coefficients come from a
    (p d) x (p d) system, not from ``w_i = eta_i X^T D_i a``."""

    def __init__(self, X, Y, arr, lam, dual, target):
        self.args, self.centre, self.target = (X, Y, arr, lam), dual.centre, target
        self.primal, self.last = None, (None, None)

    def at(self, st, F):
        if self.last[0] is st:
            return self.last[1]
        if self.primal is None:  # its (p d) x (p d) Gram, formed once
            self.primal = _KernelRidge(*self.args, "primal", centre=self.centre)
        with blas_threads(_blas_limit(self.primal)):
            st_p = self.primal.solve(st.eta)
            F_p, dual_p = self.primal.certify(st_p)
        out = None
        if F_p <= F + _ROUNDOFF * abs(F):
            out = (self.primal, st_p, F_p, F_p - dual_p)
        self.last = (st, out)
        return out

    def __call__(self, st, F):
        out = self.at(st, F)
        return out is not None and out[3] <= self.target


def _fits(size):
    """Whether a kernel ridge system of this order passes check_kernel_size (memory
    and time): method='auto' is advised only where its own system would (it was
    where both were refused; tester CQ)."""
    try:
        check_kernel_size(size, "", "", n_matrices=_IRLS_MATRICES)
    except MemoryError:
        return False
    return True


def _certificate(ridge, W, lam):
    """(primal, dual) of the program at W, the intercept (if any) at its best: the
    certificate of :func:`fixntk.solve` on the ridge's (weighted, centred) data."""
    X, packed, n = ridge.X, ridge.arr.packed, ridge.X.shape[0]
    # projected twice: the dual point must satisfy a^T theta = 0 (the intercept's
    # constraint), and one projection leaves a^T R at the rounding of the
    # predictions, not of R (see intercept_slack in fixntk._solver)
    R = ridge.project(ridge.Y - ridge.project(_core.masked_predict(X, packed, W)))
    G = _core.masked_gradients(X, packed, np.ascontiguousarray(R))
    gmax = np.sqrt((G**2).sum(axis=(1, 2))).max() / n
    primal = 0.5 * (R**2).sum() / n + lam * _group_norms(W).sum()
    theta = R / max(1.0, gmax / lam)
    dual = 0.5 * (ridge.yy - ((ridge.Y - theta) ** 2).sum()) / n
    return primal, dual


def _irls_loop(
    X,
    Y,
    arr,
    lam,
    ridge,
    eta0,
    scale,
    tol,
    max_iter,
    newton_tol,
    verbose,
    y2=1.0,
    polish=None,
):
    """The iteration on the unit-scale problem; ``y2`` maps its objectives back to
    the caller's units for the log. ``polish(st, F)`` (:class:`_Polish`), tried after
    steps 16, 32, 64, ..., ends the loop when it returns True."""
    p = arr.p
    f0 = 0.5 * ridge.yy / X.shape[0]
    s = _best_scale(*ridge.spectrum(eta0), eta0.sum(), ridge.mu) if scale else 1.0
    eta_start = s * eta0
    st = ridge.solve(eta_start)
    F, dual = ridge.certify(st)
    history, mkl_history, gaps = [F], [st.mkl_value(lam)], [F - dual]
    eps = _STEP_EPS * gaps[0] / (lam * p)
    newton = _Newton(ridge, _MAX_NEWTON)
    n_newton, stalled = 0, False

    def accept(cand):
        F_new, dual_new = ridge.certify(cand)
        if F_new <= F + _ROUNDOFF * abs(F):
            return cand, F_new, dual_new
        return None

    say = report(verbose)
    bar = progress(verbose=verbose, total=max_iter, desc="fixntk irls", unit="step")
    for it in range(max_iter):
        bar.set_postfix_str(
            f"gap {gaps[-1] / f0 if f0 > 0 else 0.0:.1e}", refresh=False
        )
        if gaps[-1] <= tol * f0:
            break
        verdict, kind = None, "newton"
        if newton_tol is not None and gaps[-1] <= newton_tol * f0:
            verdict = newton.step(st, accept)
        if verdict is None:
            norms = ridge.norms(st)
            # eps > 0 lets groups with eta_i = 0 come back; it shrinks geometrically and
            # stays below the gap, so the smoothing bias lam p eps never stalls.
            eps = min(0.5 * eps, _STEP_EPS * gaps[-1] / (lam * p))
            # The smoothed step can raise F by up to lam p eps / 2; the plain
            # reweighting eta_i = ||w_i|| majorises F and cannot (up to round-off).
            for step_kind, eta in (
                ("smoothed", np.sqrt(norms**2 + eps**2)),
                ("plain", norms),
            ):
                if eta.any():
                    verdict = accept(ridge.solve(eta))
                    if verdict is not None:
                        kind = step_kind
                        break
        if verdict is None and ridge.exact_factors():
            # no step at the loose factors (see _STEP_RCOND): the state again, and its
            # steps from here on, at PSDRidge's floor
            verdict, kind = accept(ridge.solve(st.eta)), "refactored"
            if verdict is None:
                continue
        if verdict is None:
            stalled = True
            break
        st, F, dual = verdict
        n_newton += kind == "newton"
        history.append(F)
        mkl_history.append(st.mkl_value(lam))
        gaps.append(F - dual)
        bar.update()
        if say is not None:
            say(
                f"irls: step {it + 1:5d} {kind:>8}  objective {F * y2:.10e}  "
                f"gap {gaps[-1] * y2:.3e}"
            )
        if polish is not None and it >= 15 and not it & (it + 1) and polish(st, F):
            break
        if (
            len(gaps) > _STALL_STEPS
            and gaps[-1] >= (1.0 - _STALL_GAIN) * gaps[-1 - _STALL_STEPS]
            and history[-1 - _STALL_STEPS] - F <= _STALL_MOVE * abs(F)
        ):
            stalled = True
            break
    bar.close()
    return st, history, mkl_history, gaps, n_newton, stalled, s, eta_start
