"""The exact convex program of a two-layer ReLU network with weight decay.

Pilanci and Ergen (2020): the ReLU network ``f(x) = sum_i (x^T v_i)_+ - (x^T u_i)_+``
trained with weight decay is, over the masks ``D_i`` of an arrangement, the group lasso
of the gated ReLU network restricted to the cones
``C_i = {v : (2 D_i - I) X v >= 0}`` (on which ``D_i X v = (X v)_+``):

    min 1/(2n) ||sum_i D_i X (v_i - u_i) - y||^2 + lam sum_i (||v_i|| + ||u_i||)
    s.t. v_i, u_i in C_i.

The solver is block coordinate descent whose block steps are exact proximal steps of
``lam ||.|| + indicator(C_i)``: the group soft-threshold of the Euclidean projection
onto the polyhedral cone ``C_i`` (a small dual active-set QP in d variables,
warm-started from the block's previous face). Every iterate is feasible, and the duality
gap is certified with the dual point of the cone-constrained problem (the residual
rescaled by the largest ``||P_{C_i}(+-X^T D_i r)||``). A Newton step on the identified
support (active blocks, tight constraints) finishes the solve. The projections
(Goldfarb-Idnani, QR-updated faces) and the block steps are compiled with Numba, and a
long projection runs as several calls, each resumed from the face the last one reached,
so that Ctrl-C is seen between them.

IRLS (the paper's Algorithm 1) and this program: the variational identity
``lam ||w|| = min_{eta > 0} ||w||^2 / (2 eta) + lam^2 eta / 2`` holds for every block,
so a reweighting of the ReLU program is well defined, but each reweighted step is then a
cone-constrained weighted ridge regression (a QP as hard as the program itself), not the
kernel ridge solve that makes :func:`fixntk.irls` cheap, and it has no masking-kernel
(MKL) reading. fixntk therefore offers no ``irls`` for this program: :func:`fixntk.irls`
solves the gated ReLU problem (the MKL), :func:`gated_to_relu` turns that solution into
a ReLU network with the same training predictions, and :func:`solve_relu` solves the
ReLU program itself, with its own certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from ._arrangement import Arrangement, as_arrangement
from ._cpu import core as _core
from ._gates import signals_pass
from ._memory import CALL_WORK
from ._progress import _check_verbose, report, solve_notice, solve_status
from ._scale import Units, unit
from ._solver import _coef3, _prepare
from ._threads import blas_threads
from ._validation import (
    check_int,
    check_lam,
    check_positive,
    check_relative_tol,
    check_sample_weight,
    check_X,
    user_stacklevel,
)
from ._validation import warn as _warn
from .datafits import get_datafit, is_squared

__all__ = [
    "ReLUSolveResult",
    "solve_relu",
    "relu_lambda_max",
    "relu_objective",
    "relu_duality_gap",
    "constraint_violation",
    "ConeDecomposition",
    "gated_to_relu",
]


# --------------------------------------------------------------------------- projection


class _Infeasible(Exception):
    pass


class _Face:
    """Active rows (int64 array) of a polyhedral projection with the QR factors of their
    normals: ``N^T = Q R`` for ``N = signs[rows] * X[rows]`` (kept to warm-start)."""

    __slots__ = ("rows", "Q", "R")

    def __init__(self, rows, Q, R):
        self.rows, self.Q, self.R = rows, Q, R


_NO_ROWS = np.zeros(0, dtype=np.int64)
_NO_B = np.zeros(0)
# The support's Newton polish forms and factors a dense system in as many unknowns as
# its blocks' free directions (up to d per block): above this many, BCD finishes
# alone (make_regression(100, 500) with 10 gates: 10^4 unknowns, a solve of minutes
# per polish, and a fit that did not end in 13 minutes). The gated solver's own
# Newton polish has the same cap. Nor above the rows n: the restricted least squares
# then has a null space of dimension (unknowns - n), where only the penalty's
# curvature (lam / ||z_b|| across each block) holds Newton's system, and its steps
# crawled with line searches (30-60 steps of a 1000-unknown system per polish): 50
# rows of 100 features, 20 gates, lam 0.1, 29.3 s -> 2.2 s (BCD alone to tol); rows
# of 30 and 70 features 2.4 -> 1.7 s and 10.8 -> 3.7 s; narrow rows (n >= unknowns)
# unchanged. Up to _POLISH_SMALL unknowns the polish runs whatever the rows (a step
# costs at most 6e6 flops): it makes small wide problems exact where BCD alone would
# stop at the gap asked (scikit-learn's sample-weight check, 15 rows of 30 features
# weighted against repeated, needs predictions equal to 1e-7).
_POLISH_MAX_UNKNOWNS = 4096
_POLISH_SMALL = 256


def _polish_cap(n):
    """The most unknowns the support's Newton polish takes on n rows."""
    return min(_POLISH_MAX_UNKNOWNS, max(n, _POLISH_SMALL))


@njit(cache=True)
def _back_substitute(R, m, rhs):
    """Solve ``R[:m, :m] x = rhs`` (R upper triangular)."""
    x = np.empty(m)
    for i in range(m - 1, -1, -1):
        acc = rhs[i]
        for j in range(i + 1, m):
            acc -= R[i, j] * x[j]
        x[i] = acc / R[i, i]
    return x


@njit(cache=True)
def _forward_substitute_t(R, m, rhs):
    """Solve ``R[:m, :m]^T x = rhs`` (R upper triangular)."""
    x = np.empty(m)
    for i in range(m):
        acc = rhs[i]
        for j in range(i):
            acc -= R[j, i] * x[j]
        x[i] = acc / R[i, i]
    return x


@njit(cache=True)
def _dot(x, y):
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * y[i]
    return acc


@njit(cache=True)
def _qt_dot(Q, m, x):
    """``Q[:, :m].T @ x``."""
    out = np.zeros(m)
    for i in range(Q.shape[0]):
        for j in range(m):
            out[j] += Q[i, j] * x[i]
    return out


@njit(cache=True)
def _q_dot(Q, m, w):
    """``Q[:, :m] @ w``."""
    out = np.zeros(Q.shape[0])
    for i in range(Q.shape[0]):
        for j in range(m):
            out[i] += Q[i, j] * w[j]
    return out


@njit(cache=True)
def _refactor(X, signs, rows, m, Q, R):
    """``Q[:, :m] R[:m, :m] = N^T`` for the normals of ``rows[:m]`` (after a drop)."""
    R[:m, :m] = 0.0
    for j in range(m):  # Gram-Schmidt, orthogonalising twice
        a = signs[rows[j]] * X[rows[j]]
        for _ in range(2):
            for i in range(j):
                h = _dot(Q[:, i], a)
                R[i, j] += h
                a -= h * Q[:, i]
        R[j, j] = np.sqrt(_dot(a, a))
        Q[:, j] = a / R[j, j]


@njit(cache=True)
def _gi_project(c, X, signs, b, has_b, rows0, Q0, R0, xnorm, stop2, max_iter):
    """The Goldfarb-Idnani iteration of :func:`_project_polyhedron` (compiled).

    Returns (v, rows, Q, R, u, status): status 0 exact, 1 stopped below ``sqrt(stop2)``
    (``stop2 < 0``: never), 2 infeasible, 3 out of iterations."""
    n, d = X.shape
    # at most min(n, d) normals are active (independent ones, of distinct rows): a
    # (d, d) factorisation zeroed per call cost more than the projection on wide rows
    # (2 ms of each block step at d = 1000 on 50 rows)
    kcap = min(n, d)
    Q, R = np.zeros((d, kcap)), np.zeros((kcap, kcap))
    rows, u = np.empty(kcap, np.int64), np.zeros(kcap)
    scale = np.sqrt(_dot(c, c))
    if has_b:
        for i in range(n):
            scale = max(scale, abs(b[i]))
    epsf = 1e-12 * max(scale, 1e-300)
    m = rows0.size
    if m > kcap:
        m = 0
    elif m > 0:
        dg = np.abs(np.diag(R0))
        if dg.min() > 1e-10 * dg.max():
            rows[:m] = rows0
            Q[:, :m] = Q0
            R[:m, :m] = R0
        else:
            m = 0
    v = c.copy()
    # Warm start: the projection onto the face {a_j^T v = b_j, j in F}, dropping the
    # constraint with the most negative multiplier until the start is dual feasible.
    while m > 0:
        qc = _qt_dot(Q, m, c)
        if has_b:
            rhs = _forward_substitute_t(R, m, b[rows[:m]]) - qc
        else:
            rhs = -qc
        w = _back_substitute(R, m, rhs)
        j = int(np.argmin(w))
        if w[j] >= 0:
            u[:m] = w
            rw = np.zeros(m)
            for i in range(m):
                for q in range(i, m):
                    rw[i] += R[i, q] * w[q]
            v = c + _q_dot(Q, m, rw)
            break
        rows[j : m - 1] = rows[j + 1 : m].copy()
        m -= 1
        _refactor(X, signs, rows, m, Q, R)
    status = 3
    for _ in range(max_iter):
        if stop2 >= 0 and _dot(v, v) <= stop2:
            status = 1
            break
        k, worst = -1, 0.0
        Xv = np.dot(X, v)  # BLAS gemv: the O(n d) part of an iteration
        for i in range(n):
            val = signs[i] * Xv[i] + epsf * xnorm[i]
            if has_b:
                val -= b[i]
            if val < worst:
                k, worst = i, val
        if k < 0:
            status = 0
            break
        a = signs[k] * X[k]
        bk = b[k] if has_b else 0.0
        u_new = 0.0
        while True:
            if m > 0:
                qa = _qt_dot(Q, m, a)
                z = a - _q_dot(Q, m, qa)
                z -= _q_dot(Q, m, _qt_dot(Q, m, z))  # re-orthogonalise
                r = _back_substitute(R, m, qa)
            else:
                qa, z, r = np.zeros(0), a.copy(), np.zeros(0)
            zz = _dot(z, z)
            t1 = (
                (bk - _dot(a, v)) / zz
                if m < kcap and zz > 1e-20 * _dot(a, a)
                else np.inf
            )
            thr = 1e-12 * max(1.0, np.abs(r).max() if m > 0 else 0.0)
            j, t2 = -1, np.inf
            for q in range(m):
                if r[q] > thr and u[q] / r[q] < t2:
                    j, t2 = q, u[q] / r[q]
            t = min(t1, t2)
            if not np.isfinite(t):
                status = 2
                break
            if np.isfinite(t1):
                v = v + t * z
            u[:m] -= t * r
            u_new += t
            if t1 <= t2:  # the constraint joins the face
                nz = np.sqrt(zz)
                R[:m, m] = qa
                R[m, :m] = 0.0
                R[m, m] = nz
                Q[:, m] = z / nz
                rows[m], u[m] = k, u_new
                m += 1
                break
            rows[j : m - 1] = rows[j + 1 : m].copy()
            u[j : m - 1] = u[j + 1 : m].copy()
            m -= 1
            _refactor(X, signs, rows, m, Q, R)
        if status == 2:  # the set is empty
            break
    return v, rows[:m].copy(), Q[:, :m].copy(), R[:m, :m].copy(), u[:m].copy(), status


def _face_arrays(face, d):
    """(rows, Q, R) of a _Face for the compiled kernels (empty without a face)."""
    if face is None or not face.rows.size:
        return _NO_ROWS, np.zeros((d, 0)), np.zeros((0, 0))
    return face.rows, face.Q, face.R


def _iterations_per_call(X):
    """Goldfarb-Idnani iterations (about n d multiply-adds each) per compiled call, so
    that Ctrl-C and signal handlers are seen between calls (see CALL_WORK)."""
    return max(1, CALL_WORK // X.size)


@njit(cache=True)
def _block_step(
    X, mask, signs, r, old, sign, L, lam, rows0, Q0, R0, xnorm, max_iter, last
):
    """One proximal step of block coordinate descent on a block ``w`` (v_i: sign = +1,
    u_i: sign = -1), updating the residual r in place.

    ``z = w + sign X^T D_i r / (n L)``,
    ``new = (1 - lam / (L ||P_C(z)||))_+ P_C(z)`` (the prox of
    ``(lam / L) ||.|| + indicator(C_i)``: the group soft-threshold of the cone
    projection; the projection stops as soon as it certifies ``||P_C(z)|| <= lam / L``).
    Returns (new, projected, rows, Q, R, unfinished) with the projection's face when
    projected. Unless ``last``, a projection that runs out of its ``max_iter``
    iterations returns ``unfinished`` with its face and r untouched: called again from
    that face, the step resumes where it stopped."""
    n, d = X.shape
    g = np.dot(X.T, mask * r)
    z = old + (sign / (n * L)) * g
    new = np.zeros(d)
    projected = False
    rows, Q, R = rows0, Q0, R0
    if np.sqrt(_dot(z, z)) * L > lam:
        thr = lam / L
        pz, rows, Q, R, _, status = _gi_project(
            z, X, signs, np.zeros(0), False, rows0, Q0, R0, xnorm, thr * thr, max_iter
        )
        if status == 3 and not last:
            return old, True, rows, Q, R, True
        projected = True
        npz = np.sqrt(_dot(pz, pz))
        if npz * L > lam:
            new = (1.0 - lam / (L * npz)) * pz
    delta = new - old
    if np.abs(delta).max() > 0.0:
        Xd = np.dot(X, delta)
        for k in range(n):
            if mask[k] != 0.0:
                r[k] -= sign * Xd[k]
    return new, projected, rows, Q, R, False


# the compiled steps as called from Python: a signal's exception comes out as itself
_gi_project_call = signals_pass(_gi_project)
_block_step_call = signals_pass(_block_step)


def _project_polyhedron(
    c, X, signs, b=None, face=None, xnorm=None, stop_below=None, max_iter=None
):
    """Euclidean projection of c onto {v : signs * (X v) >= b} (b = None: the cone C_i).

    Goldfarb-Idnani dual active-set method for ``min 1/2 ||v - c||^2`` (identity
    Hessian; the active normals kept in a QR factorisation), warm-started from the
    ``face`` (a _Face) of a previous projection. Every iterate is ``v = c + N^T u`` with
    ``u >= 0`` (N the active normals), so for b = None ``||v|| >= ||P_C(c)||`` all
    along:
    with ``stop_below``, the method returns as soon as ``||v|| <= stop_below``, a
    certified bound that is all the caller needs. Returns ``(v, face, u, exact)``;
    raises _Infeasible when the set is empty. Compiled with Numba (:func:`_gi_project`).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    d = X.shape[1]
    if xnorm is None:
        xnorm = np.sqrt(np.einsum("ij,ij->i", X, X))
    if max_iter is None:
        max_iter = 50 * d + 200
    rows, Q, R = _face_arrays(face, d)
    has_b = b is not None
    b = np.ascontiguousarray(b, dtype=np.float64) if has_b else _NO_B
    stop2 = -1.0 if stop_below is None else float(stop_below) ** 2
    c = np.ascontiguousarray(c, dtype=np.float64)
    signs = np.ascontiguousarray(signs, dtype=np.float64)
    # in calls of CALL_WORK, each resumed from the face the last one reached
    left, per_call = int(max_iter), _iterations_per_call(X)
    while True:
        step = min(per_call, left)
        left -= step
        v, rows, Q, R, u, status = _gi_project_call(
            c, X, signs, b, has_b, rows, Q, R, xnorm, stop2, step
        )
        if status != 3 or left <= 0:
            break
    if status == 2:
        raise _Infeasible
    return v, _Face(rows, Q, R), u, status == 0


# -------------------------------------------------------------------------- the program


class _Problem:
    """One output column of the cone-constrained program, with its per-block state.

    Blocks are indexed by (s, i): s = 0 for v_i (sign +1), s = 1 for u_i (sign -1).
    """

    def __init__(self, X, y, arr, lam):
        self.X, self.y, self.lam = X, y, lam
        self.n, self.d = X.shape
        self.packed = arr.packed
        masks = arr.masks
        self.MT = np.ascontiguousarray(masks.T, dtype=np.float64)  # (p, n) 0/1
        self.ST = 2.0 * self.MT - 1.0  # (p, n) constraint signs of the cones
        self.p = self.MT.shape[0]
        self.xnorm = np.sqrt(np.einsum("ij,ij->i", X, X))
        self._L = np.full(self.p, np.nan)
        self.faces = {}  # (s, i) -> tight rows of the block's last projection
        self.dual_faces = {}  # (s, i) -> tight rows of the certificate's projection

    def lipschitz(self, i):
        if np.isnan(self._L[i]):
            Xm = self.X * self.MT[i][:, None]
            # the top eigenvalue of Xm^T Xm is that of Xm Xm^T: the smaller of the two
            G = Xm.T @ Xm if self.d <= self.n else Xm @ Xm.T
            top = linalg.eigvalsh(
                G, subset_by_index=[G.shape[0] - 1, G.shape[0] - 1], check_finite=False
            )
            self._L[i] = max(float(top[0]) / self.n, 1e-300)
        return self._L[i]

    def project(self, i, c, face, stop_below=None):
        v, F, _, _ = _project_polyhedron(
            c, self.X, self.ST[i], face=face, xnorm=self.xnorm, stop_below=stop_below
        )
        return v, F

    def predict(self, V):
        W = (V[0] - V[1])[:, :, None]
        return _core.masked_predict(self.X, self.packed, np.ascontiguousarray(W))[:, 0]

    def gradients(self, r):
        """X^T D_i r for every group, (p, d)."""
        return _core.masked_gradients(self.X, self.packed, r[:, None])[:, :, 0]

    def _face(self, key):
        face = self.dual_faces.get(key)
        return self.faces.get(key) if face is None else face

    def ratio(self, s, i, g, floor=None):
        """||P_{C_i}(+-g)|| / (n lam): the dual constraint of block (s, i) at
        X^T D_i r = g.

        With ``floor``, an upper bound at most ``floor`` may be returned instead when
        the value is below it (the projection then stops early)."""
        key = (s, i)
        scale = self.n * self.lam
        stop = None if floor is None else floor * scale
        pg, face = self.project(
            i, g if s == 0 else -g, self._face(key), stop_below=stop
        )
        self.dual_faces[key] = face
        return float(np.linalg.norm(pg)) / scale

    def face_bounds(self, G, keys):
        """Upper bounds on the ratios of the blocks ``keys``, all at once.

        For each block, ``||g + N^T u|| >= ||P_C(g)||`` for any ``u >= 0`` on the rows N
        of its last face: u is the face's least-squares multiplier, clipped at 0 (exact
        when the face is still the right one). Batched over the blocks."""
        d = self.d
        faces = [self._face(key) for key in keys]
        # the faces' factors padded to the largest face (at most min(n, d) rows), not
        # to d: a (d, d) solve per block cost 0.03 s at d = 1000 on 50 rows
        k_max = max([1] + [f.rows.size for f in faces if f is not None])
        bounds = []
        # blocks per batch: Ctrl-C between batches
        step = max(1, CALL_WORK // (k_max**3 + d * k_max))
        for start in range(0, len(keys), step):
            part = keys[start : start + step]
            B = len(part)
            Q = np.zeros((B, d, k_max))
            R = np.broadcast_to(np.eye(k_max), (B, k_max, k_max)).copy()
            g = np.empty((B, d))
            for b, (s, i) in enumerate(part):
                g[b] = G[i] if s == 0 else -G[i]
                face = faces[start + b]
                if face is not None and face.rows.size:
                    k = face.rows.size
                    Q[b, :, :k] = face.Q
                    R[b, :k, :k] = face.R
            qg = np.einsum("bdk,bd->bk", Q, g)
            u = np.maximum(np.linalg.solve(R, -qg[:, :, None])[:, :, 0], 0.0)
            v = g + np.einsum("bdk,bk->bd", Q, np.einsum("bkl,bl->bk", R, u))
            bound = np.sqrt(np.einsum("bd,bd->b", v, v))
            bounds.append(np.minimum(bound, np.sqrt(np.einsum("bd,bd->b", g, g))))
        return np.concatenate(bounds) / (self.n * self.lam)

    def ratios(self, r, blocks=None, need=0):
        """Dual constraint values of the blocks at residual r, exact where they matter.

        ``ratio(s, i) = ||P_{C_i}(+-X^T D_i r)|| / (n lam)``. Cheap upper bounds
        (:meth:`face_bounds`) order the blocks; they are then projected exactly, by
        decreasing bound, until the bound falls below max(1, the largest value, the
        ``need``-th largest value); a projection stops early once it certifies a value
        below that threshold. Over all blocks, or only over ``blocks`` (a restricted
        problem). Returns (rho, {(s, i): ratio, or a bound below the threshold}) with
        rho >= max(1, every ratio): ``r / rho`` is dual feasible.
        """
        G = self.gradients(r)
        if blocks is None:
            keys = [(s, i) for i in range(self.p) for s in (0, 1)]
        else:
            keys = list(blocks)
        if not keys:
            return 1.0, {}
        ub = self.face_bounds(G, keys)
        order = np.argsort(-ub, kind="stable")
        exact, top, tau = {}, [], 0.0
        for b in order.tolist():
            kth = top[need - 1] if need and len(top) >= need else 0.0
            floor = max(1.0, tau, kth)
            if ub[b] <= floor:
                break
            s, i = keys[b]
            val = self.ratio(s, i, G[i], floor=floor)
            exact[(s, i)] = val
            tau = max(tau, val)
            if need:
                top.append(val)
                top.sort(reverse=True)
                del top[need:]
        return max(1.0, tau), exact

    def primal(self, V, r):
        norms = np.sqrt(np.einsum("sij,sij->si", V, V))
        return 0.5 * float(r @ r) / self.n + self.lam * float(norms.sum())

    def dual(self, r, rho):
        theta = r / rho
        y = self.y
        return 0.5 * (float(y @ y) - float((y - theta) @ (y - theta))) / self.n

    def violation(self, V):
        """max over blocks and samples of ((2 D_i - I) X v_i)_-."""
        act = np.flatnonzero(np.abs(V).sum(axis=(0, 2)) > 0)
        if act.size == 0:
            return 0.0
        worst = 0.0
        for s in (0, 1):
            Z = (self.X @ V[s, act].T) * self.ST[act].T
            worst = max(worst, float(np.maximum(-Z, 0.0).max()))
        return worst

    def extrapolate(self, V, r, blocks, rows, iterates):
        """Anderson extrapolation of the last BCD epochs on the working set; returns the
        extrapolated (V, r) when it is feasible and lowers the objective, else None."""
        Xs = np.stack([x.ravel() for x in iterates])
        U = np.diff(Xs, axis=0)
        M = U @ U.T
        M[np.diag_indices_from(M)] += 1e-12 * max(float(np.trace(M)), 1e-300)
        try:
            c = np.linalg.solve(M, np.ones(M.shape[0]))
        except np.linalg.LinAlgError:
            return None
        if not np.isfinite(c).all() or c.sum() == 0:
            return None
        c /= c.sum()
        W = V.copy()
        W[rows] = (c @ Xs[1:]).reshape(iterates[0].shape)
        for (_s, i), w in zip(blocks, W[rows]):
            if w.any():
                slack = self.ST[i] * (self.X @ w)
                if slack.min() < -1e-13 * float(np.linalg.norm(w)) * self.xnorm.max():
                    return None
        r_new = self.y - self.predict(W)
        if self.primal(W, r_new) >= self.primal(V, r):
            return None
        return W, r_new

    def support(self, V, blocks):
        """The nonzero blocks among ``blocks`` with their faces (tight rows),
        hashable."""
        out = []
        for s, i in blocks:
            if V[s, i].any():
                face = self.faces.get((s, i))
                out.append(
                    (
                        (s, i),
                        tuple(sorted(face.rows.tolist())) if face is not None else (),
                    )
                )
        return tuple(out)

    def _newton(self, A, cuts, z, max_newton=50):
        """Newton's method with backtracking for 1/(2n)||A z - y||^2 + lam sum ||z_b||
        (all z_b != 0). Returns (z, None), or (z, j) when zero is optimal for block j
        given the others (it must leave the support).

        The Hessian is damped (Levenberg-Marquardt, ``H + mu I``) where the line
        search had to shorten the step: on collinear columns (one-hot encoded
        features beside the bias) ``A^T A`` is singular and the norms' curvature
        ``lam / ||z_b||`` small, so the undamped step runs far along directions where
        the quadratic model is wrong and was accepted only at t ~ 1e-10 after 35
        halvings, for 50 steps (stat2data's Titanic one-hot: 23600 steps, 780000
        objective evaluations, 19 s of a 20 s fit)."""
        n, lam, y = self.n, self.lam, self.y
        AtA = A.T @ A / n
        Aty = A.T @ y / n
        spans = list(zip(cuts[:-1], cuts[1:]))

        starts = np.asarray(cuts[:-1])
        # the blocks as masks over the unknowns: every step's per-block work is then
        # one product (a Python loop over the blocks cost more than the solve)
        block = np.repeat(np.arange(len(spans)), np.diff(cuts))
        same = block[:, None] == block[None, :]
        AtA_blocks = np.where(same, AtA, 0.0)
        # the penalty's curvature lives on the diagonal blocks only: its entries are
        # written there (the dense m x m expression cost a fifth of a polish)
        ii, jj = np.nonzero(same)
        eye_ij = (ii == jj).astype(np.float64)

        def phi(z):
            res = A @ z - y
            return 0.5 * float(res @ res) / n + lam * float(
                np.sqrt(np.add.reduceat(z * z, starts)).sum()
            )

        z = np.array(z, dtype=np.float64)
        f = phi(z)
        # damping, in units of the mean diagonal of A^T A: none while full steps pass
        mu, unit = 0.0, max(float(np.trace(AtA)) / max(AtA.shape[0], 1), 1e-300)
        for _ in range(max_newton):
            grad = AtA @ z - Aty
            # a block for which zero is optimal given the others leaves the support
            q = grad - AtA_blocks @ z
            leave = np.flatnonzero(np.add.reduceat(q * q, starts) <= lam * lam)
            if leave.size:
                return z, int(leave[0])
            # a block at exactly zero where zero is not optimal (its start on a
            # basis orthogonal to it): the penalty has no Hessian there, so first a
            # proximal step off zero, with the block's trace as its curvature (a
            # descent step); Newton's steps then start from a point where all blocks
            # are nonzero (it divided by their zero norm)
            nb = np.sqrt(np.add.reduceat(z * z, starts))
            off = [spans[j] for j in np.flatnonzero(nb == 0)]
            for a, b in off:
                q = grad[a:b]
                curv = max(float(np.trace(AtA[a:b, a:b])), 1e-300)
                z[a:b] = -(1.0 - lam / float(np.linalg.norm(q))) * q / curv
            if off:
                f = phi(z)
                continue
            nbv = nb[block]
            grad += lam * z / nbv
            zn = z / nbv
            H = AtA.copy()
            H[ii, jj] += (lam / nbv[ii]) * (eye_ij - zn[ii] * zn[jj])
            H[np.diag_indices_from(H)] += 1e-13 * max(float(np.trace(H)), 1e-300)
            H[np.diag_indices_from(H)] += mu * unit
            try:
                step = -linalg.solve(H, grad, assume_a="pos", check_finite=False)
            except (linalg.LinAlgError, ValueError):
                return z, None
            dec = -float(grad @ step)
            if dec <= 1e-16 * max(f, 1e-300):
                break
            t = 1.0
            while t > 1e-12:
                f_new = phi(z + t * step)
                if f_new <= f - 1e-4 * t * dec:
                    break
                t *= 0.5
            else:
                break
            z, f = z + t * step, f_new
            # a step cut below a quarter: the model is trusted too far, damp it;
            # a full step: undamp (Newton's own quadratic convergence near the end)
            if t < 0.25:
                mu = max(10.0 * mu, 1e-6)
            elif t == 1.0:
                mu = 0.0 if mu <= 1e-6 else 0.1 * mu
        return z, None

    def _face_basis(self, cache, s, i, rows):
        """(B, A_b) of block (s, i) with tight rows ``rows`` (sorted tuple): B an
        orthonormal basis of the null space of X[rows] (d x k), A_b = +-D_i X B its
        columns in the restricted problem; ``cache`` keeps each block's latest (its
        memory is that of the restricted problem's matrix)."""
        kept = cache.get((s, i))
        if kept is not None and kept[0] == rows:
            return kept[1]
        X = self.X
        if rows:
            # Vt is d x d either way; the full U (len(rows) squared) only where the
            # rows are fewer than d: with thousands of tight rows (one-hot data) it
            # was 41% of a ReLUClassifier fit
            _, sv, Vt = np.linalg.svd(X[list(rows)], full_matrices=len(rows) < self.d)
            rank = int((sv > 1e-10 * sv[0]).sum())
            B = Vt[rank:].T
        else:
            B = np.eye(self.d)
        sign = 1.0 if s == 0 else -1.0
        out = (B, sign * self.MT[i][:, None] * (X @ B))
        cache[(s, i)] = (rows, out)
        return out

    def polish(self, V, r, blocks, max_changes=None):
        """A primal active-set method on the identified support; returns the improved
        (V, r), or None.

        Each block keeps a set T_b of tight rows; on ``v_b = B_b z_b`` (B_b an
        orthonormal basis of the null space of X[T_b]) the restricted problem is smooth
        and unconstrained, ``1/(2n) ||A z - y||^2 + lam sum ||z_b||`` (A small: faces of
        narrow cones have few free directions), solved by Newton's method. Its solution
        is then taken back to the cones (the largest feasible fraction of the move; a
        blocking row joins its T_b), and rows whose multiplier is negative leave T_b,
        until neither happens. Accepted only if the objective decreased.
        """
        X, n, lam, y = self.X, self.n, self.lam, self.y
        if max_changes is None:
            max_changes = 4 * len(blocks) + 20
        W = V.copy()
        blocks = list(blocks)
        tight = {}
        for s, i in blocks:
            v = W[s, i]
            slack = self.ST[i] * (X @ v)
            tight[(s, i)] = set(
                np.flatnonzero(
                    slack <= 1e-9 * self.xnorm * float(np.linalg.norm(v))
                ).tolist()
            )
        f_start = self.primal(V, r)
        seen = set()
        # a block's basis and columns depend on its tight rows alone: one face
        # changes per step, and recomputing every block's SVD and X @ B at each was
        # 30% of a polish (ReLUClassifier, 900 rows, 90 blocks)
        faces = {}
        for _ in range(max_changes):
            if not blocks:
                return None
            state = tuple((k, tuple(sorted(tight[k]))) for k in blocks)
            if state in seen:  # cycling between faces: leave it to BCD
                break
            seen.add(state)
            # each block keeps at least d - |T_b| free directions: past the cap, no
            # SVD (full d x d factors on wide rows: 0.024 s each at d = 1000)
            if sum(max(self.d - len(tight[k]), 0) for k in blocks) > _polish_cap(n):
                return None
            bases, cols = [], []
            for s, i in blocks:
                B, col = self._face_basis(faces, s, i, tuple(sorted(tight[(s, i)])))
                if B.shape[1] == 0:
                    return None
                bases.append(B)
                cols.append(col)
            unknowns = sum(B.shape[1] for B in bases)
            if unknowns > _polish_cap(n):
                return None  # a dense Newton system this wide: leave it to BCD
            A = np.hstack(cols)
            cuts = np.cumsum([0] + [B.shape[1] for B in bases])
            z0 = np.concatenate([B.T @ W[s, i] for B, (s, i) in zip(bases, blocks)])
            z, drop = self._newton(A, cuts, z0)
            if drop is not None:
                s, i = blocks.pop(drop)
                W[s, i] = 0.0
                continue
            # back to the cones: the largest feasible fraction of the move
            t_max, block_row = 1.0, None
            moves = []
            for b, (B, (s, i), lo, hi) in enumerate(
                zip(bases, blocks, cuts[:-1], cuts[1:])
            ):
                delta = B @ z[lo:hi] - W[s, i]
                moves.append(delta)
                g0 = self.ST[i] * (X @ W[s, i])
                g1 = self.ST[i] * (X @ delta)
                neg = g1 < -1e-13 * self.xnorm * float(np.linalg.norm(delta))
                neg[sorted(tight[(s, i)])] = False  # held at zero by the basis
                if neg.any():
                    ratio = np.where(
                        neg, np.maximum(g0, 0.0) / np.where(neg, -g1, 1.0), np.inf
                    )
                    k = int(np.argmin(ratio))
                    if ratio[k] < t_max:
                        t_max, block_row = float(ratio[k]), (b, k)
            for (s, i), delta in zip(blocks, moves):
                W[s, i] = W[s, i] + t_max * delta
            if block_row is not None:
                b, k = block_row
                tight[blocks[b]].add(k)
                continue
            # optimal on the support: release rows with negative multipliers
            res = y - self.predict(W)
            released = False
            for s, i in blocks:
                rows = sorted(tight[(s, i)])
                v = W[s, i]
                if not rows or not np.any(v):  # a block at zero: no multipliers
                    continue
                sign = 1.0 if s == 0 else -1.0
                grad = -sign * (
                    X.T @ (self.MT[i] * res)
                ) / n + lam * v / np.linalg.norm(v)
                N = self.ST[i][rows, None] * X[rows]
                mu, *_ = np.linalg.lstsq(N.T, grad, rcond=None)
                if mu.min() < -1e-9 * max(float(np.abs(mu).max()), lam):
                    tight[(s, i)].discard(rows[int(np.argmin(mu))])
                    released = True
            if not released:
                break
        r_new = y - self.predict(W)
        if self.primal(W, r_new) >= f_start:
            return None
        return W, r_new

    def bcd_epoch(self, V, r, blocks):
        """One pass of exact proximal block steps (:func:`_block_step`) over
        ``blocks``."""
        X, d, lam = self.X, self.d, self.lam
        per_call = _iterations_per_call(X)
        for s, i in blocks:
            old = V[s, i]
            face = self.faces.get((s, i))
            if face is None:  # entering the working set: the certificate's face
                face = self.dual_faces.get((s, i))
            rows, Q, R = _face_arrays(face, d)
            left = 50 * d + 200  # projection iterations, over calls of CALL_WORK
            unfinished = True
            while unfinished:
                step = min(per_call, left)
                left -= step
                new, projected, rows, Q, R, unfinished = _block_step_call(
                    X,
                    self.MT[i],
                    self.ST[i],
                    r,
                    old,
                    1.0 if s == 0 else -1.0,
                    self.lipschitz(i),
                    lam,
                    rows,
                    Q,
                    R,
                    self.xnorm,
                    step,
                    left <= 0,
                )
            if projected:
                self.faces[(s, i)] = _Face(rows, Q, R)
            V[s, i] = new


# --------------------------------------------------------------------------- solver


@dataclass(eq=False)  # arrays inside: == compared them elementwise and raised
class ReLUSolveResult:
    """Result of :func:`solve_relu`.

    Attributes
    ----------
    v, u : ndarray of shape (p, d) or (p, d, c)
        The weights of the positive and negative neurons: ``f(x) = sum_i (x^T v_i)_+ -
        (x^T u_i)_+`` (per output column with c outputs).
    objective : float
        The objective at ``(v, u)`` (summed over output columns).
    gap : float
        The certified duality gap (absolute; summed over output columns). The dual point
        is the residual rescaled by the largest ``||P_{C_i}(+-X^T D_i r)|| / (n lam)``
        (``P_{C_i}`` the projection onto the cone of mask i).
    dual : float
        The dual objective at that point.
    f0 : float
        The objective at zero, ``||y||^2 / (2n)``: the run stops when
        ``gap <= tol * f0``.
    violation : float
        ``max_i max(||((2 D_i - I) X v_i)_-||_inf, ||((2 D_i - I) X u_i)_-||_inf)``: how
        far the weights are from the cones (0 up to rounding: every iterate is
        feasible).
    n_iter : int
        Epochs of block coordinate descent (all outputs together).
    converged : bool
        Whether ``gap <= tol * f0`` and ``violation <= feas_tol`` were both reached.
    lam : float
    gap_history : ndarray
        The certified gap after each working-set pass (the first output column).
    """

    v: np.ndarray
    u: np.ndarray
    objective: float
    gap: float
    dual: float
    f0: float
    violation: float
    n_iter: int
    converged: bool
    lam: float
    gap_history: np.ndarray = field(repr=False)

    @property
    def relative_gap(self):
        return self.gap / self.f0 if self.f0 > 0 else 0.0

    @property
    def active_set(self):
        """Groups with v_i != 0 or u_i != 0."""
        norms = np.abs(self.v).reshape(self.v.shape[0], -1).sum(1) + np.abs(
            self.u
        ).reshape(self.u.shape[0], -1).sum(1)
        return np.flatnonzero(norms > 0)


@dataclass
class _ColumnResult:
    V: np.ndarray  # (2, p, d)
    primal: float
    dual: float
    gap: float
    f0: float
    violation: float
    n_iter: int
    converged: bool
    history: list


def _feasible_start(prob, V):
    """Project each nonzero block of a warm start onto its cone."""
    V = np.array(V, dtype=np.float64)
    for s in (0, 1):
        for i in np.flatnonzero(np.abs(V[s]).sum(axis=1) > 0).tolist():
            V[s, i], face = prob.project(i, V[s, i], None)
            prob.faces[(s, i)] = face
    return V


def _solve_column(
    prob,
    V,
    tol,
    feas_tol,
    max_iter,
    verbose,
    units=None,
    ws_start=10,
    inner_ratio=0.3,
    check_every=5,
    anderson_k=5,
):
    """Working-set BCD with exact cone-projection prox steps, certified by the gap."""
    y, n = prob.y, prob.n
    f0 = 0.5 * float(y @ y) / n
    r = y - prob.predict(V) if V.any() else y.copy()
    epochs, history = 0, []
    ws, tried = [], set()
    say = report(verbose, level=1)
    while True:
        active = [
            (s, i)
            for s in (0, 1)
            for i in np.flatnonzero(np.abs(V[s]).sum(axis=1) > 0).tolist()
        ]
        target = max(ws_start, 2 * len(active))
        rho, ratios = prob.ratios(r, need=target)
        primal = prob.primal(V, r)
        dual = prob.dual(r, rho)
        gap = max(primal - dual, 0.0)
        viol = prob.violation(V)
        history.append(gap)
        solve_status(epochs, gap, f0, tol)
        if say is not None:  # in the caller's units (``units``: the problem's scaling)
            y2, y1 = (1.0, 1.0) if units is None else (units.value_out(1.0), units.sy)
            say(
                f"solve_relu: epochs {epochs:6d}  blocks {len(active):5d}  "
                f"objective {primal * y2:.8e}  gap {gap * y2:.3e}  "
                f"violation {viol * y1:.1e}"
            )
        converged = gap <= tol * f0 and viol <= feas_tol
        if converged or epochs >= max_iter or f0 == 0:
            return _ColumnResult(
                V, primal, dual, gap, f0, viol, epochs, converged or f0 == 0, history
            )

        in_ws = set(active)
        violators = sorted(
            (k for k, val in ratios.items() if val > 1 and k not in in_ws),
            key=lambda k: -ratios[k],
        )
        ws = active + violators[: max(target - len(active), 1)]
        last = None
        rows = np.array([s for s, _ in ws]), np.array([i for _, i in ws])
        history_ws = [V[rows].copy()]
        for inner in range(1, max_iter - epochs + 1):
            prob.bcd_epoch(V, r, ws)
            epochs += 1
            history_ws.append(V[rows].copy())
            if len(history_ws) > anderson_k + 1:
                history_ws.pop(0)
            if inner % anderson_k == 0 and len(history_ws) == anderson_k + 1:
                out = prob.extrapolate(V, r, ws, rows, history_ws)
                if out is not None:
                    V, r = out
                    history_ws = [V[rows].copy()]
            if inner % check_every == 0 or epochs >= max_iter:
                # a support (blocks and faces) stable over check_every epochs: finish it
                # by Newton's method, once per support
                support = prob.support(V, ws)
                if support == last and support and support not in tried:
                    tried.add(support)
                    out = prob.polish(V, r, [k for k, _ in support])
                    if out is not None:
                        V, r = out
                last = support
                rho_ws, _ = prob.ratios(r, blocks=ws)
                if prob.primal(V, r) - prob.dual(r, rho_ws) <= inner_ratio * gap:
                    break
            if epochs >= max_iter:
                break


def _violation(X, masks, W):
    """max_i ||((2 D_i - I) X w_i)_-||_inf over the groups and output columns of W."""
    p, d, c = W.shape
    active = np.flatnonzero(np.abs(W).reshape(p, -1).sum(axis=1) > 0)
    worst = 0.0
    step = max(1, (1 << 22) // max(X.shape[0] * c, 1))
    for start in range(0, active.size, step):
        idx = active[start : start + step]
        S = np.where(masks[:, idx], 1.0, -1.0)[:, :, None]
        Z = (X @ W[idx].transpose(1, 0, 2).reshape(d, -1)).reshape(-1, idx.size, c)
        worst = max(worst, float(np.maximum(-(S * Z), 0.0).max()))
    return worst


def constraint_violation(
    X: ArrayLike,
    arr: Arrangement | ArrayLike,
    v: ArrayLike,
    u: ArrayLike | None = None,
) -> float:
    r"""How far ReLU weights are from their cones.

    .. math:: \max_i \max\big(\|((2D_i - I) X v_i)_-\|_\infty,\;
              \|((2D_i - I) X u_i)_-\|_\infty\big),

    zero exactly when :math:`D_i X v_i = (X v_i)_+` and :math:`D_i X u_i = (X u_i)_+` on
    every training sample.

    Parameters
    ----------
    X : array-like of shape (n, d)
    arr : Arrangement or bool array of shape (n, p)
    v, u : array-like of shape (p, d) or (p, d, c); u optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity.
    """
    X = check_X(X)
    arr = as_arrangement(arr, X.shape[0], X)
    v = np.asarray(v, dtype=np.float64)
    c = v.shape[2] if v.ndim == 3 else 1
    blocks = [_coef3(v, arr.p, X.shape[1], c, "v")]
    if u is not None:
        blocks.append(_coef3(u, arr.p, X.shape[1], c, "u"))
    # at unit scale (fixntk._scale): the violation scales as X v
    sx, sv = unit(X), max(unit(W) for W in blocks)
    X = X / sx
    worst = max(_violation(X, arr.masks, W / sv) for W in blocks)
    return worst * sx * sv


def _weighted(X, Y, sample_weight):
    r"""X and Y with their rows scaled by :math:`a_k = \sqrt{s_k n / \sum s}`: the
    weighted program as the plain one (a positive scale keeps each cone constraint's
    sign; rows of weight 0 drop out, constraints included)."""
    if sample_weight is None:
        return X, Y
    s = check_sample_weight(sample_weight, X.shape[0])
    a = np.sqrt(s * X.shape[0] / s.sum())[:, None]
    return X * a, Y * a


def relu_lambda_max(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
) -> float:
    r"""Smallest ``lam`` for which ``v = u = 0`` solves the ReLU convex program.

    .. math:: \lambda_{\max} = \max_i \max\big(\|P_{C_i}(X^T D_i y)\|,
              \|P_{C_i}(-X^T D_i y)\|\big) / n,

    with :math:`P_{C_i}` the projection onto the cone of mask i; at most the gated
    :func:`lambda_max` (the maximum over the columns of y with c outputs).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    sample_weight : array-like of shape (n,), optional
        Row weights, as in :func:`solve_relu` (the weighted program's lam_max).

    Returns
    -------
    float
        In the units of ``X`` times ``y``.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity.
    """
    X, Y, _, arr = _prepare(X, y, arr)
    X, Y = _weighted(X, Y, sample_weight)
    units = Units(X, Y)  # at unit scale (fixntk._scale); lam_max scales as sx sy
    X, Y = X / units.sx, Y / units.sy
    best = 0.0
    with blas_threads(1):
        for k in range(Y.shape[1]):
            prob = _Problem(X, np.ascontiguousarray(Y[:, k]), arr, 1.0)
            G = prob.gradients(prob.y)
            # entries within their round-off are 0 (as the gated lambda_max's): y
            # centred by an intercept, with constant features, left 2e-18 and a
            # lam search over noise
            level = _core.masked_gradients(
                np.abs(X), arr.packed, np.abs(prob.y)[:, None]
            )[:, :, 0]
            G[np.abs(G) <= np.sqrt(prob.n) * np.finfo(np.float64).eps * level] = 0.0
            norms = np.sqrt(np.einsum("ij,ij->i", G, G))
            for i in np.argsort(-norms).tolist():
                if norms[i] <= best * prob.n:
                    break
                for s in (0, 1):
                    # a projection certified below the current best stops early
                    best = max(best, prob.ratio(s, i, G[i], floor=best))
    return float(units.lam_out(best))


def relu_objective(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    v: ArrayLike,
    u: ArrayLike,
    lam: float,
    *,
    sample_weight: ArrayLike | None = None,
) -> float:
    r"""The objective of the ReLU convex program at (v, u) (constraints not checked: see
    :func:`constraint_violation`):

    .. math::

        \min_{v, u}\; \frac{1}{2n} \Big\| \sum_{i=1}^p D_i X (v_i - u_i) - y \Big\|_2^2
        + \lambda \sum_{i=1}^p \big(\|v_i\|_2 + \|u_i\|_2\big)
        \quad \text{s.t.} \quad (2D_i - I) X v_i \ge 0,\; (2D_i - I) X u_i \ge 0,

    with :math:`D_i = \mathrm{diag}(m_i)` the i-th mask of ``arr``. On the constraints
    :math:`D_i X v_i = (X v_i)_+`: this is the two-layer ReLU network
    :math:`f(x) = \sum_i (x^T v_i)_+ - (x^T u_i)_+` with weight decay (Pilanci and
    Ergen, 2020), exactly when the masks include those of its neurons. With c outputs
    each column of y is its own program (its own v, u: a network per output).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    v, u : array-like of shape (p, d) or (p, d, c)
    lam : float >= 0
    sample_weight : array-like of shape (n,), optional
        Row weights, as in :func:`solve_relu`: the data term
        :math:`\frac{1}{2\sum s}\sum_k s_k (\cdot)^2`.

    Returns
    -------
    float
        Summed over the output columns of y, in the units of y squared.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, or an
        objective beyond the range of double precision.
    """
    X, Y, _, arr = _prepare(X, y, arr)
    X, Y = _weighted(X, Y, sample_weight)
    lam = check_positive(lam, "lam", allow_zero=True)
    p, d, c = arr.p, X.shape[1], Y.shape[1]
    units = Units(X, Y)  # at unit scale (fixntk._scale)
    X, Y, lam = X / units.sx, Y / units.sy, units.lam(lam)
    V = units.coef_in(_coef3(v, p, d, c, "v"))
    U = units.coef_in(_coef3(u, p, d, c, "u"))
    R = Y - _core.masked_predict(X, arr.packed, np.ascontiguousarray(V - U))
    pen = np.sqrt((V**2).sum(axis=1)).sum() + np.sqrt((U**2).sum(axis=1)).sum()
    return float(units.value_out(0.5 * (R**2).sum() / X.shape[0] + lam * pen))


def relu_duality_gap(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    v: ArrayLike,
    u: ArrayLike,
    lam: float,
    *,
    sample_weight: ArrayLike | None = None,
) -> tuple[float, float]:
    r"""The certified duality gap of any ``(v, u)``, and the dual objective behind it.

    The dual point is the residual :math:`r = y - \sum_i D_i X (v_i - u_i)` rescaled,
    :math:`\theta = r / \max(1, \max_i \|P_{C_i}(\pm X^T D_i r)\| / (n\lambda))`
    (feasible for the dual of the cone program), with dual objective
    :math:`(\|y\|^2 - \|y - \theta\|^2) / (2n)`, a lower bound on the optimum. The gap
    ``relu_objective - dual`` bounds the suboptimality of ``(v, u)`` only when the
    constraints hold (see :func:`constraint_violation`): for infeasible weights it may
    even be negative. Summed over the output columns of y. ``sample_weight`` (row
    weights, optional) certifies the weighted program of :func:`solve_relu`.

    Returns
    -------
    (gap, dual) : pair of floats

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, or ``lam
        <= 0``.
    """
    X, Y, _, arr = _prepare(X, y, arr)
    X, Y = _weighted(X, Y, sample_weight)
    lam = check_lam(lam)
    p, d, c = arr.p, X.shape[1], Y.shape[1]
    V = np.stack([_coef3(v, p, d, c, "v"), _coef3(u, p, d, c, "u")])
    units = Units(X, Y)  # at unit scale (fixntk._scale)
    X, Y, lam, V = X / units.sx, Y / units.sy, units.lam(lam), units.coef_in(V)
    gap = dual = 0.0
    with blas_threads(1):
        for k in range(c):
            prob = _Problem(X, np.ascontiguousarray(Y[:, k]), arr, lam)
            Vk = np.ascontiguousarray(V[..., k])
            r = prob.y - prob.predict(Vk)
            rho, _ = prob.ratios(r)
            dk = prob.dual(r, rho)
            gap += prob.primal(Vk, r) - dk
            dual += dk
    return float(units.value_out(gap)), float(units.value_out(dual))


def solve_relu(
    X: ArrayLike,
    y: ArrayLike,
    arr: Arrangement | ArrayLike,
    lam: float,
    tol: float = 1e-6,
    feas_tol: float | None = None,
    warm_start: ReLUSolveResult | tuple | None = None,
    max_iter: int = 10_000,
    verbose: int = False,
    *,
    loss: str = "squared",
    sample_weight: ArrayLike | None = None,
) -> ReLUSolveResult:
    r"""Solve the exact convex program of a two-layer ReLU network with weight decay.

    Minimises

    .. math::

        \min_{v, u}\; \frac{1}{2n} \Big\| \sum_{i=1}^p D_i X (v_i - u_i) - y \Big\|_2^2
        + \lambda \sum_{i=1}^p \big(\|v_i\|_2 + \|u_i\|_2\big)
        \quad \text{s.t.} \quad (2D_i - I) X v_i \ge 0,\; (2D_i - I) X u_i \ge 0,

    with :math:`D_i = \mathrm{diag}(m_i)` the i-th mask of ``arr``. On the constraints
    :math:`D_i X v_i = (X v_i)_+`: this is the two-layer ReLU network
    :math:`f(x) = \sum_i (x^T v_i)_+ - (x^T u_i)_+` with weight decay (Pilanci and
    Ergen, 2020), exactly when the masks include those of its neurons. With c outputs
    each column of y is its own program (its own v, u: a network per output).

    Algorithm: block coordinate descent over a working set of blocks (the v_i and u_i),
    each step an exact proximal step of ``lam ||.|| + indicator(C_i)``: the group
    soft-threshold of the Euclidean projection onto the polyhedral cone
    ``C_i = {w : (2 D_i - I) X w >= 0}`` (a dual active-set QP in d variables,
    warm-started from the block's previous face). Every iterate is feasible. The run
    stops when the duality gap is at most ``tol * F(0)`` and the constraint violation at
    most ``feas_tol``. The dual point is the residual ``r`` rescaled by
    ``max(1, max_i ||P_{C_i}(+-X^T D_i r)|| / (n lam))``
    (:func:`fixntk._relu.relu_duality_gap` recomputes it for any weights).

    **Cost on wide rows.** Each projection is a QP in d variables with up to n
    constraints, so an epoch grows fast with d: one epoch at n = 20, p = 50 took
    0.7 s at d = 250 and 10 s at d = 1000 (a tester's measurement), where
    :func:`fixntk.solve` certifies the gated program in 0.07-0.2 s. For d in the
    hundreds or more, solve the gated program and turn it into a ReLU network with
    :func:`gated_to_relu` (same training predictions).

    **Cost at small lam.** Near interpolation (lam below about 1e-3 ``lambda_max``
    on small problems) the block steps crawl: on 40 x 3 rows with 39 masks at 1e-6
    ``relu_lambda_max`` 10000 epochs (20 s) stopped at a relative gap of 2.8e-5 with
    an objective 66% above the optimum (a tester's cvxpy measurement), where 1e-4
    certified in 1.2 s; on three other 40 x 3 problems (25 masks) 1e-4 and 3e-4 ran
    out of 10000 epochs, 1.1-4.3 times the optimum, and 1e-3 certified in 990
    epochs (tester CI). The relative gap is taken against ``F(0)``, far above the
    optimum there: at such a lam compare ``gap`` with ``objective`` too. The gated
    program solved and turned with :func:`gated_to_relu` gives a ReLU network with
    the gated model's training predictions, feasible for this program but not its
    optimum: its objective here was 1.8-2.3 times this program's optimum.

    The paper's IRLS (Algorithm 1, :func:`fixntk.irls`) is not offered for this
    program: reweighting it would make every step a cone-constrained QP, not a kernel
    ridge solve. ``irls`` solves the gated ReLU problem, and :func:`gated_to_relu` turns
    its solution into a ReLU network with the same training predictions.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
        With c outputs, each column is solved as its own program.
    arr : Arrangement or bool array of shape (n, p)
        The masks (from :func:`sample_arrangement`, or built by the user). The program
        is exactly the ReLU network's training problem when they include the activation
        patterns of the network's neurons (all of them for the global optimum).
    lam : float > 0
        Regularisation strength (same scaling as :func:`solve`: the ReLU network's
        weight decay ``(lam / 2) sum (||first layer||^2 + second layer^2)``).
    tol : float in (0, 1)
        Relative duality gap to reach.
    feas_tol : float > 0, optional
        Constraint violation to reach; default ``tol * max|y|`` (the pre-activations
        ``x^T v_i`` are in the units of y).
    warm_start : ReLUSolveResult or pair (v, u), optional
        Starting point (projected onto the cones first).
    max_iter : int
        Maximum number of epochs (per output column).
    verbose : int or bool
        Log the certificate after each working-set pass (INFO on the ``fixntk``
        logger, on standard error when logging is not configured).
    loss : "squared" or fixntk.datafits.Squared, default="squared"
        The datafit (only the squared loss has a ReLU program here).
    sample_weight : array-like of shape (n,), optional
        Row weights ``s``: the data term becomes
        :math:`\frac{1}{2\sum s}\sum_k s_k (\cdot)^2`, solved as the plain program on
        the rows of X and y scaled by :math:`a_k = \sqrt{s_k n / \sum s}` (a positive
        scale leaves each cone constraint's sign unchanged; rows of weight 0 drop out,
        constraints included).

    Returns
    -------
    ReLUSolveResult
        With ``converged=False`` and a ``ConvergenceWarning`` if ``max_iter`` ran out.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, ``lam <=
        0``, or a warm start of the wrong shape.
    """
    datafit = get_datafit(loss)
    if not is_squared(datafit):
        # for a string, what to do instead (tester CI: the note on subclasses read
        # as if it were about loss='logistic')
        instead = (
            " (a subclass of Squared that overrides its methods is another loss)"
            if not isinstance(loss, str)
            else f". For loss={datafit.name!r}, solve the gated program, "
            f"fixntk.solve(X, y, arr, lam, loss={datafit.name!r}), and turn it into a "
            "ReLU network with fixntk.gated_to_relu (the same training predictions; "
            "not this program's optimum)"
        )
        raise ValueError(
            f"solve_relu solves the squared loss only; got loss={datafit.name!r}"
            + instead
        )
    X, Y, was_1d, arr = _prepare(X, y, arr)
    X, Y = _weighted(X, Y, sample_weight)
    lam = check_lam(lam, lam_max="fixntk.relu_lambda_max(X, y, arr)")
    tol = check_relative_tol(tol)
    max_iter = check_int(max_iter, "max_iter", 1)
    verbose = _check_verbose(verbose)
    p, d, c = arr.p, X.shape[1], Y.shape[1]
    if feas_tol is None:
        feas_tol = tol * max(float(np.abs(Y).max()), np.finfo(float).tiny)
    else:
        feas_tol = check_positive(feas_tol, "feas_tol")
    # solved at unit scale (fixntk._scale); constraint values X v are in units of y
    units = Units(X, Y)
    X, Y, lam_u = X / units.sx, Y / units.sy, units.lam(lam)
    feas_u = feas_tol / units.sy
    if warm_start is None:
        V0 = np.zeros((2, p, d, c))
    else:
        if isinstance(warm_start, ReLUSolveResult):
            warm_start = (warm_start.v, warm_start.u)
        if not isinstance(warm_start, (tuple, list)) or len(warm_start) != 2:
            raise ValueError("warm_start must be a ReLUSolveResult or a pair (v, u)")
        V0 = np.stack(
            [
                _coef3(warm_start[0], p, d, c, "warm_start v"),
                _coef3(warm_start[1], p, d, c, "warm_start u"),
            ]
        )
    V0 = units.coef_in(V0)
    cols = []
    # The hot loops are small (n x d) matrix-vector products: BLAS threads only contend.
    with blas_threads(1), solve_notice("solve_relu", verbose):
        for k in range(c):
            prob = _Problem(X, np.ascontiguousarray(Y[:, k]), arr, lam_u)
            V = V0[..., k].copy()
            if V.any():
                V = _feasible_start(prob, V)
            cols.append(
                _solve_column(prob, V, tol, feas_u, max_iter, verbose, units=units)
            )
    V = units.coef_out(np.stack([col.V for col in cols], axis=-1))  # (2, p, d, c)
    res = ReLUSolveResult(
        v=V[0, :, :, 0] if was_1d else V[0],
        u=V[1, :, :, 0] if was_1d else V[1],
        objective=float(units.value_out(sum(col.primal for col in cols))),
        gap=float(units.value_out(sum(col.gap for col in cols))),
        dual=float(units.value_out(sum(col.dual for col in cols))),
        f0=float(units.value_out(sum(col.f0 for col in cols))),
        violation=float(max(col.violation for col in cols)) * units.sy,
        n_iter=int(sum(col.n_iter for col in cols)),
        converged=all(col.converged for col in cols),
        lam=lam,
        gap_history=units.value_out(np.asarray(cols[0].history)),
    )
    if not res.converged:
        _warn(
            f"fixntk.solve_relu stopped before the certificate: relative duality gap "
            f"{res.relative_gap:.3e} (tol = {tol:.1e}), constraint violation "
            f"{res.violation:.1e} (feas_tol = {feas_tol:.1e}) "
            f"after {res.n_iter} epochs "
            f"(lam = {lam:.4g}). Raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return res


# ------------------------------------------------------------------------ gated -> ReLU


@dataclass(eq=False)  # arrays inside: == compared them elementwise and raised
class ConeDecomposition:
    """Result of :func:`gated_to_relu`: ReLU weights reproducing a gated ReLU model.

    Attributes
    ----------
    v, u : ndarray of shape (p, d) or (p, d, c)
        ``w_i = v_i - u_i`` on the training data, with ``v_i, u_i`` in the cone ``C_i``.
    residual : float
        ``max_k |f_ReLU(x_k) - f_gated(x_k)|`` over the training samples, the ReLU
        network ``f_ReLU(x) = sum_i (x^T v_i)_+ - (x^T u_i)_+ + b`` evaluated by itself
        (0 up to rounding when every group decomposed exactly).
    violation : float
        The largest cone-constraint violation (see :func:`constraint_violation`).
    infeasible : ndarray of int
        Groups (rows of ``coef``) with no exact decomposition (their cone has an empty
        interior, e.g. masks that no gate realises); they get the decomposition of
        smallest constraint violation instead.
    penalty : float
        ``sum_i ||v_i|| + ||u_i||``, the ReLU network's weight decay (at least the gated
        penalty ``sum_i ||w_i||``).
    intercept : float or ndarray of shape (c,)
        The output intercept ``b`` of both networks: a SolveResult's own (0 for an
        array of coefficients).
    """

    v: np.ndarray
    u: np.ndarray
    residual: float
    violation: float
    infeasible: np.ndarray
    penalty: float
    intercept: float | np.ndarray = 0.0

    @property
    def exact(self):
        return self.infeasible.size == 0


def _decompose_lp(X, signs, mask, w):
    """Least-violation decomposition by LP: min t s.t. signs * X v >= -t,
    signs * X u >= -t, X_D (v - u) = X_D w (only the masked rows must match)."""
    from scipy.optimize import linprog

    n, d = X.shape
    G = signs[:, None] * X
    XD = X[mask]
    # variables: v (d), u (d), t
    cost = np.zeros(2 * d + 1)
    cost[-1] = 1.0
    ones = np.ones((n, 1))
    zeros = np.zeros((n, d))
    A_ub = np.vstack([np.hstack([-G, zeros, -ones]), np.hstack([zeros, -G, -ones])])
    A_eq = np.hstack([XD, -XD, np.zeros((XD.shape[0], 1))])
    bounds = [(None, None)] * (2 * d) + [(0, None)]
    out = linprog(
        cost,
        A_ub=A_ub,
        b_ub=np.zeros(2 * n),
        A_eq=A_eq,
        b_eq=XD @ w,
        bounds=bounds,
        method="highs",
    )
    if out.status != 0:
        return np.maximum(w, 0) * 0 + w, np.zeros(d)  # pragma: no cover - LP failure
    return out.x[:d], out.x[d : 2 * d]


def _decompose_group(X, signs, mask, w, xnorm):
    """(v, u, exact): v - u = w with v, u in the cone {signs * X z >= 0}, of least
    ||v||^2 + ||u||^2 (v = P(w / 2) onto {signs * X v >= (signs * X w)_+})."""
    s = signs * (X @ w)
    tol = 1e-12 * float(np.linalg.norm(w)) * xnorm
    if (s >= -tol).all():  # w in the cone: one positive neuron, penalty ||w||
        return w.copy(), np.zeros_like(w), True
    if (s <= tol).all():
        return np.zeros_like(w), -w, True
    try:
        v, _, _, _ = _project_polyhedron(
            0.5 * w, X, signs, b=np.maximum(s, 0.0), xnorm=xnorm
        )
        return v, v - w, True
    except _Infeasible:
        v, u = _decompose_lp(X, signs, mask, w)
        return v, u, False


def gated_to_relu(
    X: ArrayLike, arr: Arrangement | ArrayLike, coef: ArrayLike
) -> ConeDecomposition:
    r"""Cone decomposition: a ReLU network with the gated ReLU model's training outputs.

    For each group with :math:`w_i \ne 0`, find :math:`v_i, u_i` in the cone
    :math:`C_i = \{z : (2D_i - I) X z \ge 0\}` with :math:`v_i - u_i = w_i`, so that

    .. math:: D_i X w_i = (X v_i)_+ - (X u_i)_+

    on the training data, choosing the decomposition of least
    :math:`\|v_i\|^2 + \|u_i\|^2`: :math:`v_i` is the projection of :math:`w_i / 2` onto
    :math:`\{z : (2D_i - I) X z \ge ((2D_i - I) X w_i)_+\}` (a QP in d variables, solved
    exactly by a dual active-set method); :math:`u_i = 0` when :math:`w_i \in C_i`. The
    set is nonempty whenever the cone has an interior point (a gate strictly inside, as
    for sampled gates). Otherwise the group gets, by linear programming, the
    decomposition of least constraint violation matching :math:`D_i X w_i`, and is
    reported in ``infeasible``.

    The ReLU network :math:`\sum_i (x^T v_i)_+ - (x^T u_i)_+ + b` then reproduces the
    gated network's predictions on the training samples, ``b`` being the intercept of a
    SolveResult given as ``coef`` (0 for an array); not elsewhere: the gated network's
    gates are not the ReLU's own activations off the data. Its weight decay
    :math:`\sum_i \|v_i\| + \|u_i\|` is at least the gated one, :math:`\sum_i \|w_i\|`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    arr : Arrangement or bool array of shape (n, p)
    coef : array-like of shape (p, d) or (p, d, c), or a SolveResult
        Gated ReLU group weights, e.g. ``fixntk.solve(X, y, arr, lam).coef``.

    Returns
    -------
    ConeDecomposition

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, or
        coefficients whose number of groups or features differs from ``arr`` and
        ``X``.
    """
    X = check_X(X)
    arr = as_arrangement(arr, X.shape[0], X)
    intercept = 0.0
    if hasattr(coef, "coef") and not isinstance(coef, np.ndarray):
        # a SolveResult: its intercept is the ReLU network's too (it was left out, a
        # network off by the whole intercept, with a residual of 1e-15; tester BG)
        intercept = getattr(coef, "intercept", 0.0)
        coef = coef.coef
    coef = np.asarray(coef, dtype=np.float64)
    was_2d = coef.ndim == 2
    c = 1 if was_2d else (coef.shape[2] if coef.ndim == 3 else 0)
    if coef.ndim not in (2, 3):
        raise ValueError(f"coef must have shape (p, d) or (p, d, c); got {coef.shape}")
    W = _coef3(coef, arr.p, X.shape[1], c, "coef")
    # at unit scale (fixntk._scale): v, u scale as coef, the outputs as X coef
    sx, sw = unit(X), unit(W)
    X, W = X / sx, W / sw
    masks = arr.masks
    xnorm = np.sqrt(np.einsum("ij,ij->i", X, X))
    V, U = np.zeros_like(W), np.zeros_like(W)
    bad = set()
    with blas_threads(1):
        for i in np.flatnonzero(np.abs(W).reshape(arr.p, -1).sum(axis=1) > 0).tolist():
            signs = np.where(masks[:, i], 1.0, -1.0)
            for k in range(c):
                w = W[i, :, k]
                if not w.any():
                    continue
                V[i, :, k], U[i, :, k], ok = _decompose_group(
                    X, signs, masks[:, i], w, xnorm
                )
                if not ok:
                    bad.add(i)
    gated = _core.masked_predict(X, arr.packed, np.ascontiguousarray(W))
    relu = np.einsum(
        "nkc->nc", np.maximum(np.einsum("nd,kdc->nkc", X, V), 0.0)
    ) - np.einsum("nkc->nc", np.maximum(np.einsum("nd,kdc->nkc", X, U), 0.0))
    penalty = float(
        np.sqrt((V**2).sum(axis=1)).sum() + np.sqrt((U**2).sum(axis=1)).sum()
    )
    V, U = V * sw, U * sw
    residual = float(np.abs(relu - gated).max()) * sx * sw
    if bad:
        # said, not only recorded: a user reading v and u got a network that did not
        # reproduce the gated one (by 0.25 for y of standard deviation 1; tester CI)
        groups = sorted(bad)
        shown = ", ".join(map(str, groups[:10])) + (", ..." if len(groups) > 10 else "")
        # the all-ones mask (the linear group of linear_group=True) has a cone with an
        # interior point only where a column is positive on every row (tester DA: the
        # message blamed hand-built masks for the library's own linear group)
        ones = [i for i in groups if masks[:, i].all()]
        linear = (
            f"; group {ones[0]} is the all-ones mask (the linear group): its cone "
            "{v : X v >= 0} has an interior point only if some combination of the "
            "columns is positive on every row, such as a constant column (the "
            "estimators' neuron_bias=True adds one)"
            if ones
            else ""
        )
        _warn(
            f"gated_to_relu: {len(groups)} group(s) ({shown}) have cones without an "
            "interior point (masks that no gate gives strictly, e.g. built by hand"
            f"{linear}): they get the decomposition of least constraint violation, "
            "and the ReLU network differs from the gated one on the training rows by "
            f"up to {residual:.3g} (the result's residual, violation and infeasible)",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return ConeDecomposition(
        v=V[:, :, 0] if was_2d else V,
        u=U[:, :, 0] if was_2d else U,
        residual=residual,
        violation=max(_violation(X, masks, V), _violation(X, masks, U)) * sx,
        infeasible=np.array(sorted(bad), dtype=np.int64),
        penalty=penalty * sw,
        intercept=intercept,
    )
