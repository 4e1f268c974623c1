"""The working-set method on the Gram of the working sets (squared loss).

Per outer iteration: one pass over the rows computes every block gradient at the
current point and the certificate's sums (the residual formed from scratch); the
working set is chosen from them; a second pass computes the Gram rows and columns of
the groups new to it (the Gram depends on the groups only, so it is kept across outer
iterations and along a path); the working set's problem is then solved from its Gram
by the compiled covariance mode (``solve_gram``: block steps, and Newton steps on the
support once it settles), whose epochs cost ``O((k d)^2 c)`` for k groups whatever
the number of rows. The certificate and the stopping rule are those of
:func:`fixntk.solve`.

Two backends supply the passes: :mod:`fixntk.dask` (row chunks on the workers) and
:func:`fixntk.solve` itself where the rows far outnumber the masked columns
(:func:`gram_route_chosen`): there the descent over the rows spends ``n d`` per group
and epoch where this spends ``k d``.
"""

from __future__ import annotations

import time

import numpy as np

from ._cpu import core as _core
from ._memory import available_bytes, format_bytes
from ._progress import report, solve_status
from ._solver import (
    _ANDERSON_K,
    _KERNEL_ROUTE_MIN_EPOCHS,
    _KERNEL_ROUTE_ORDER,
    _KERNEL_ROUTE_SPEED,
    _KERNEL_ROUTE_STEPS,
    _WS_START,
    _group_norms,
    _penalty,
)
from ._threads import blas_threads

# The inner problems are solved to this fraction of the outer gap: an epoch on the
# Gram costs O((k d)^2) and no pass over the rows, so inner solves are made tighter
# than the in-memory descent's 0.3 to spend fewer passes.
_INNER_RATIO = 0.05
_MAX_STALLS = 20
# New groups a working set may take, per active group (see _working_set).
_NEW_GROUPS = 0.5
# The route of a slow descent on the Gram (_gram_route): at most this many reweighted
# ridge steps of order k d. (Columns scaled 1 to 100 at 1e-4 lam_max: the descent
# spent all 100000 epochs at a relative gap of 0.38, the objective 36x the in-memory
# solve's, which took the kernel route there; the route from the descent's point
# certifies 1e-6 in about 40 steps, 0.05 s at k d = 300.)
_ROUTE_STEPS = 60


def gradient_sums(X, Y, packed, s, score, W, active, b, ybar, with_u, level=False):
    """A full gradient pass at W over the rows (X, Y), or one chunk's share of it.

    With the residual ``R = Y - sum_{i in active} D_i X W_i - b``, returns ``(G, sR,
    sRR, sYR, val)``: the unnormalised block gradients ``G_i = X^T D_i (s R)`` for
    every group (p, d, c) -- with ``with_u`` also the column ``X^T D_i s`` as output c
    (U, the intercept's centring) --, ``sum s R`` (c), ``sum s ||R||^2``, ``sum s (Y -
    ybar) . R`` and, with score weights, ``(sum v ||R||^2, sum v)``. With ``level``
    (the first pass, at the null model) ``val`` is followed by ``|X|^T |s R|`` (d, c),
    the scale of G's round-off (:func:`fixntk.lambda_max`). ``s`` None: unit weights.
    """
    n, c = Y.shape
    R = Y - b
    if active.size:
        sub = np.ascontiguousarray(packed[active])
        R -= _core.masked_predict(X, sub, W)
    sR = R if s is None else R * s[:, None]
    cols = sR
    if with_u:
        ones = np.ones((n, 1)) if s is None else s[:, None]
        cols = np.hstack([sR, ones])
    G = _core.masked_gradients(X, packed, np.ascontiguousarray(cols))
    stats = (
        sR.sum(axis=0),
        float((sR * R).sum()),
        float((sR * (Y - ybar)).sum()),
    )
    val = None
    if score is not None:
        val = np.array([float((score[:, None] * R * R).sum()), float(score.sum())])
    if level:
        return (G, *stats, val, np.abs(X).T @ np.abs(sR))
    return (G, *stats, val)


class GramWorkingSet:
    """The working-set method's state: the program's O(p d c) sums and the Gram of
    the working sets seen so far (O((k d)^2)), in the solver's scaled space (X / sx,
    Y / sy), normalised by ``S = sum(s)`` (the in-memory solver's 1/n):

    - ``ybar`` (c,): the weighted mean of Y with an intercept, else 0;
    - ``U`` (p, d): ``X^T D_i s / S`` with an intercept (the centring of the design);
    - ``B`` (p, d, c): ``X^T D_i s (Y - ybar) / S``, the block gradients at W = 0;
    - ``y2``: ``sum s ||Y - ybar||^2 / S`` (``f0 = y2 / 2``).

    A backend sets ``n, d, c, p, S, fit_intercept, ybar, max_gram_bytes``, calls
    :meth:`_start` with its first pass and supplies the passes: ``_gradient_pass(Wa,
    active, b)`` (the unnormalised sums of :func:`gradient_sums` at the active groups'
    coefficients Wa) and ``_gram_pass(keep, fresh, centre)`` (the unnormalised Gram
    columns ``[Z_keep^T S Z_fresh; Z_fresh^T S Z_fresh]`` of the rows centred by
    ``centre``, the groups' rows of U, or not at all where it is None).
    """

    log_name = "solve"  # the verbose log's prefix
    gram_hint = ""  # where a MemoryError's advice goes on

    def _start(self, G, sRR, val):
        """The sums of the first pass (at W = 0, with U as output c when there is an
        intercept), normalised by S."""
        self.n_passes = getattr(self, "n_passes", 0)
        self.pass_seconds = self.gram_seconds = 0.0
        self.gram_passes = 0
        if self.fit_intercept:
            self.U = G[:, :, -1] / self.S
            G = G[:, :, :-1]
        else:
            self.U = None
        self.B = G / self.S
        self.y2 = max(sRR / self.S, 0.0)
        self._last = (np.zeros((self.p, self.d, self.c)), self.B, self.y2, self.y2, val)
        # the Gram of the working sets seen so far (normalised, centred)
        self._gram_groups = np.zeros(0, np.int64)
        self._H = np.zeros((0, 0))

    def _logged(self, v):
        """v in the caller's units for the log, which never raises (an overflowed
        value is logged as it is: verbose=1 raised where verbose=0 returned; tester
        ER)."""
        if not np.isfinite(v):
            return v
        try:
            return self.value_out(v)
        except (ValueError, OverflowError):
            return v

    def intercept(self, W):
        """The best intercept for W (c,): ``ybar - sum_i U_i^T W_i`` (0 without)."""
        if not self.fit_intercept:
            return np.zeros(self.c)
        return self.ybar - np.einsum("pd,pdc->c", self.U, W)

    # -- passes ----------------------------------------------------------------------
    def gradients(self, W):
        """(G, r2, yr, val) at W: the block gradients ``X^T D_i s Rc / S`` (p, d, c) at
        the centred residual Rc, ``sum s ||Rc||^2 / S``, ``sum s (Y - ybar).Rc / S`` and
        the validation sums; one pass (none when W is the last point asked)."""
        if np.array_equal(W, self._last[0]):
            return self._last[1:]
        active = np.flatnonzero(_group_norms(W) > 0)
        b = self.intercept(W)
        t0 = time.perf_counter()
        G, sR, sRR, sYR, val = self._gradient_pass(
            np.ascontiguousarray(W[active]), active, b
        )
        self.pass_seconds += time.perf_counter() - t0
        self.n_passes += 1
        G = G / self.S
        r2 = sRR / self.S
        if self.fit_intercept:  # round-off left in the residual's mean
            rbar = sR / self.S
            G = G - self.U[:, :, None] * rbar[None, None, :]
            r2 -= float(rbar @ rbar)
        self._last = (W.copy(), G, max(r2, 0.0), sYR / self.S, val)
        return self._last[1:]

    def gram(self, ws):
        """(H, b) of the working set ws (sorted group indices): H (k d, k d) the
        normalised, centred Gram, b (k d, c); a pass when ws holds new groups."""
        d = self.d
        known = {int(g): t for t, g in enumerate(self._gram_groups)}
        fresh = np.array([g for g in ws if int(g) not in known], np.int64)
        if fresh.size:
            keep = self._gram_groups
            m_all = (keep.size + fresh.size) * d
            if 8 * m_all * m_all > self.max_gram_bytes:  # drop groups not in ws
                keep = np.array([g for g in keep if g in set(ws.tolist())], np.int64)
                m_all = (keep.size + fresh.size) * d
            if 16 * m_all * m_all > 2 * self.max_gram_bytes:
                raise MemoryError(
                    f"the working set's Gram ({m_all} x {m_all}, "
                    f"{format_bytes(8 * m_all * m_all)}) exceeds max_gram_bytes = "
                    f"{format_bytes(self.max_gram_bytes)}: raise max_gram_bytes or lam"
                    + self.gram_hint
                )
            pos = np.concatenate(
                [np.arange(known[int(g)] * d, (known[int(g)] + 1) * d) for g in keep]
                + [np.zeros(0, np.int64)]
            )
            H_old = self._H[np.ix_(pos, pos)]
            groups = np.concatenate([keep, fresh])
            # with an intercept, the rows centred in the pass (not M - u u^T after
            # it, which cancels on a column far from 0 for its spread; tester EO)
            centre = None
            if self.fit_intercept:
                centre = np.ascontiguousarray(self.U[groups])
            t0 = time.perf_counter()
            M = self._gram_pass(keep, fresh, centre) / self.S
            self.pass_seconds += time.perf_counter() - t0
            self.gram_seconds += time.perf_counter() - t0
            self.n_passes += 1
            self.gram_passes += 1
            m_old = keep.size * d
            H = np.empty((m_all, m_all))
            H[:m_old, :m_old] = H_old
            H[:, m_old:] = M
            H[m_old:, :m_old] = M[:m_old].T
            self._H, self._gram_groups = H, groups
            known = {int(g): t for t, g in enumerate(groups)}
        pos = np.concatenate(
            [np.arange(known[int(g)] * d, (known[int(g)] + 1) * d) for g in ws]
        )
        H = np.ascontiguousarray(self._H[np.ix_(pos, pos)])
        b = np.ascontiguousarray(self.B[ws].reshape(-1, self.c))
        return H, b

    # -- the working-set method ------------------------------------------------------
    def certificate(self, W, lam, G, r2, yr):
        gnorm = _group_norms(G)
        primal = 0.5 * r2 + lam * _penalty(W)
        scale = max(1.0, float(gnorm.max()) / lam) if gnorm.size else 1.0
        dual = yr / scale - 0.5 * r2 / (scale * scale)
        return primal, dual, gnorm

    def solve(self, lam, W, tol, max_iter, max_passes, verbose, before=0):
        """Minimise from W (p, d, c, scaled space) at lam (scaled); returns
        (W, primal, dual, epochs, outer, converged, gaps, val): uncertified, the
        point of the smallest gap certified on the way. ``before``: the epochs a
        solve that hands over to this one ran first (its log and progress count
        on from them)."""
        target = tol * 0.5 * self.y2
        say = report(verbose, level=1)
        W = W.copy()
        passes0 = self.n_passes
        gaps, epochs, outer, converged = [], 0, 0, False
        best_gap, stalls, best = np.inf, 0, None
        while True:
            G, r2, yr, val = self.gradients(W)
            primal, dual, gnorm = self.certificate(W, lam, G, r2, yr)
            gap = primal - dual
            gaps.append(gap)
            if best is None or gap < best[0]:  # the point returned uncertified
                best = (gap, W.copy(), primal, dual, val)
            solve_status(before + epochs, gap, 0.5 * self.y2, tol)
            if say is not None:
                say(
                    f"{self.log_name}: outer {outer:3d}  passes {self.n_passes:4d}  "
                    f"epochs {before + epochs:6d}  "
                    f"objective {self._logged(primal):.8e}  "
                    f"gap {self._logged(gap):.3e}"
                )
            if gap <= target:
                converged = True
                break
            if epochs >= max_iter:
                break
            if gap < best_gap * (1 - 1e-3):
                best_gap, stalls = gap, 0
            elif (stalls := stalls + 1) >= _MAX_STALLS:
                break
            ws = self._working_set(W, gnorm, lam)
            if ws.size == 0:
                break
            # an outer iteration costs a Gram pass (when ws has groups the client does
            # not hold) and the gradient pass that certifies it: none is started that
            # would take the solve past max_passes
            gram_pass = bool(np.setdiff1d(ws, self._gram_groups).size)
            if self.n_passes - passes0 + gram_pass + 1 > max_passes:
                break
            outer += 1
            H, b = self.gram(ws)
            inner_target = max(_INNER_RATIO * gap, 0.5 * target)
            # the descent for about the route's cost, then the route (as in memory),
            # then the descent again from the better point if the target is not met:
            # the same outer iteration, no extra pass
            cap = _route_epochs(ws.size * self.d, self.c)
            out = self._descend(
                H, b, W, ws, lam, inner_target, max_iter - epochs, cap, outer
            )
            epochs += int(out["n_epochs"])
            if cap and not out["converged"] and int(out["n_epochs"]) >= cap:
                if say is not None:
                    say(
                        f"{self.log_name}: descent slow ({out['n_epochs']} epochs); "
                        "the reweighted ridge route on the working set's Gram"
                    )
                routed = _gram_route(H, b, self.y2, W[ws], lam, inner_target)
                if routed is not None and routed[1] < float(out["gap"]):
                    W[ws] = routed[0]
                if (routed is None or routed[1] > inner_target) and epochs < max_iter:
                    out = self._descend(
                        H, b, W, ws, lam, inner_target, max_iter - epochs, 0, outer
                    )
                    epochs += int(out["n_epochs"])
        if not converged:  # the point of the smallest gap certified (tester EO)
            _, W, primal, dual, val = best
        return W, primal, dual, epochs, outer, converged, np.array(gaps), val

    def _descend(self, H, b, W, ws, lam, gap_target, budget, cap, seed):
        """The compiled covariance-mode descent on the working set ws from W[ws],
        to gap_target or ``min(budget, cap)`` epochs (cap 0: none); W[ws] updated,
        the solver's dict returned."""
        budget = max(budget, 1)
        with blas_threads(1):
            out = _core.solve_gram(
                H,
                b,
                self.y2,
                np.ascontiguousarray(W[ws]),
                lam,
                gap_target,
                max_epochs=min(budget, cap) if cap else budget,
                anderson_k=_ANDERSON_K,
                seed=seed,
            )
        W[ws] = out["coef"]
        return out

    def _working_set(self, W, gnorm, lam):
        """Every active group; every violator of the optimality condition
        (``||G_i|| > lam`` at ``w_i = 0``) whose Gram the client already holds (they
        cost no pass); and the worst new violators, at most ``max(ws_start,
        _NEW_GROUPS * active)`` of them. A new group costs the Gram pass about
        ``k d / p`` gradient passes (its ``k d`` Gram entries per row against ``p d``
        for every gradient), so the working set grows only as the active set does,
        not by doubling as in memory. Capped so that its Gram fits max_gram_bytes."""
        norms = _group_norms(W)
        active = np.flatnonzero(norms > 0)
        cap = int(np.sqrt(self.max_gram_bytes / 8.0)) // self.d
        viol = np.flatnonzero((gnorm > lam) & (norms == 0))
        # the active groups, and room for one that must enter (without it the solve
        # would stall uncertified)
        need = active.size + (viol.size > 0)
        if need > cap:
            m = need * self.d
            enter = f" and one of the {viol.size} that must enter" if viol.size else ""
            raise MemoryError(
                f"the working set's Gram for the {active.size} active groups{enter} "
                f"({m} x {m}, {format_bytes(8 * m * m)}) exceeds max_gram_bytes = "
                f"{format_bytes(self.max_gram_bytes)} (at most {cap} groups of "
                f"{self.d} columns): raise max_gram_bytes or lam" + self.gram_hint
            )
        viol = viol[np.argsort(-gnorm[viol], kind="stable")]
        held = np.isin(viol, self._gram_groups)
        budget = max(_WS_START, int(_NEW_GROUPS * active.size))
        rest = np.concatenate([viol[held], viol[~held][:budget]])
        rest = rest[np.argsort(-gnorm[rest], kind="stable")][: cap - active.size]
        return np.sort(np.concatenate([active, rest]))


def _route_epochs(m, c):
    """Client epochs (each about m^2 c multiply-adds on the working set's Gram of
    order m) that cost about what the route's budgeted steps do (m^3 / 3 each, at
    BLAS-3's speed), as fixntk.solve's descent before its kernel route; 0 where the
    Gram is too large for the route."""
    if m > _KERNEL_ROUTE_ORDER:
        return 0
    route = _KERNEL_ROUTE_STEPS * m / (3.0 * _KERNEL_ROUTE_SPEED * c)
    return max(_KERNEL_ROUTE_MIN_EPOCHS, int(route))


def _gram_gap(H, b, y2, w, lam, d):
    """The duality gap of the working set's program (gram_solver.hpp's formulas) at
    w (m, c): ``||R||^2 = y2 - <b, w> + <w, g>``, ``<Y, R> = y2 - <b, w>``,
    ``g = H w - b``, theta = R / max(1, max_t ||g_t|| / lam)."""
    g = H @ w - b
    scale = max(1.0, float(_group_norms(g.reshape(-1, d, w.shape[1])).max()) / lam)
    bw = float((b * w).sum())
    r2 = y2 - bw + float((w * g).sum())
    primal = 0.5 * r2 + lam * _penalty(w.reshape(-1, d, w.shape[1]))
    return primal - ((y2 - bw) / scale - r2 / (2.0 * scale * scale))


def _gram_route(H, b, y2, W, lam, gap_target):
    """The working set's group lasso ``1/2 <w, H w> - <b, w> + y2/2 + lam sum_t
    ||w_t||`` by reweighted ridge from W (k, d, c): with eta_t = ||w_t|| (each at
    least 1e-3 of the largest, so that any group can grow), w = E (H E + lam I)^-1 b
    for E = diag(eta) on each group's d rows (the minimiser of the variational
    bound ``||w_t|| <= ||w_t||^2 / (2 eta_t) + eta_t / 2``), then eta from w; the
    kernel route of fixntk.irls in the Gram's form. Returns (W, gap) of the best
    step, at most _ROUTE_STEPS of them, stopping at ``gap_target``; None where no
    step was finite (it is an accelerator: the descent goes on)."""
    k, d, c = W.shape
    m = k * d
    eta = _group_norms(W)
    eta = np.maximum(eta, 1e-3 * eta.max()) if eta.any() else np.ones(k)
    best = None
    with np.errstate(all="ignore"):
        for _ in range(_ROUTE_STEPS):
            e = np.repeat(eta, d)
            A = H * e[None, :]
            A.flat[:: m + 1] += lam  # H E + lam I
            try:
                v = np.linalg.solve(A, b)
            except np.linalg.LinAlgError:
                break
            w = e[:, None] * v
            if not np.isfinite(w).all():
                break
            gap = _gram_gap(H, b, y2, w, lam, d)
            if best is None or gap < best[1]:
                best = (w.reshape(k, d, c), gap)
            if gap <= gap_target:
                break
            eta = _group_norms(w.reshape(k, d, c))
    return best


# --------------------------------------------------------------------------- in memory

# fixntk.solve may take the working-set Gram route (the squared loss) where the rows
# are at least this many times the masked columns p d, and p d is at most _GRAM_ORDER
# (see gram_route_epochs).
_GRAM_ROWS_PER_COLUMN = 10
_GRAM_ORDER = 4096
# The Gram of all p groups costs about one descent epoch per this many masked columns
# (measured, one thread: 31 at n = 50000, p d = 2000; 24 at n = 80000, p d = 4000).
_GRAM_COLUMNS_PER_EPOCH = 24.0
_GRAM_MIN_EPOCHS = 50


def gram_route_epochs(prob):
    """The epochs of the compiled descent over the rows after which
    :func:`fixntk.solve` goes on by the working-set method on the Gram, for the
    squared loss on ``prob`` (a validated :class:`fixntk._solver._Problem`); 0 where
    it does not.

    An epoch of the descent over k groups costs about ``2 n d k`` multiply-adds (a
    block gradient and a residual update per group); on the Gram, ``2 (k d)^2``: a
    ``n / (k d)`` share. The Gram itself costs ``n (k d)^2 / 2`` once, at BLAS-3's
    rate: about ``p d / 24`` descent epochs for all p groups. So where the rows far
    outnumber the masked columns (``n >= 10 p d``, ``p d <= 4096``) the descent runs
    for that many epochs (at least 50) and, if it has not certified, the Gram route
    goes on from its point: a solve costs at most about twice the better of the two
    (make_friedman1, d = 10, 200 gates, n = 50000: the descent alone 10.2 s at 0.01
    lam_max and 34.8 s at 1e-3; the Gram route alone 3.2 s and 5.6 s; with d = 20,
    n = 80000 the descent certified in 95 epochs, 9.8 s, the Gram route alone 15.5 s).
    The full Gram of order ``p d`` must fit in a quarter of the available memory.
    """
    m = prob.p * prob.d
    if m > _GRAM_ORDER or prob.n < _GRAM_ROWS_PER_COLUMN * m:
        return 0
    if 3 * 8 * m * m > available_bytes() // 4:
        return 0
    return max(_GRAM_MIN_EPOCHS, int(m / _GRAM_COLUMNS_PER_EPOCH))


class MemoryGram(GramWorkingSet):
    """:class:`GramWorkingSet` on a validated in-memory problem (a
    :class:`fixntk._solver._Problem` of the squared loss, in its scaled space): the
    passes are single calls of the compiled core over every row. Kept on the problem,
    so that the Gram serves all the solves on it (a path)."""

    def __init__(self, prob):
        self.X, self.Y, self.packed = prob.X, prob.Y, prob.arr.packed
        self.s = prob.s if prob.weighted else None
        self.n, self.d, self.c, self.p = prob.n, prob.d, prob.c, prob.p
        self.fit_intercept = prob.fit_intercept
        self.value_out = prob.value_out  # the verbose log's units
        self.S = float(prob.s.sum())
        m = self.p * self.d
        self.max_gram_bytes = 2 * 8 * m * m  # the full Gram, never capped
        self.ybar = np.zeros(self.c)
        if self.fit_intercept:
            w = prob.s[:, None]
            self.ybar = (w * self.Y).sum(axis=0) / self.S
        self.n_passes = 0
        G, _, sRR, _, val = gradient_sums(
            self.X,
            self.Y,
            self.packed,
            self.s,
            None,
            np.zeros((0, self.d, self.c)),
            np.zeros(0, np.int64),
            self.ybar,
            self.ybar,
            self.fit_intercept,
        )
        self.n_passes += 1
        self._start(G, sRR, val)

    def _gradient_pass(self, Wa, active, b):
        return gradient_sums(
            self.X, self.Y, self.packed, self.s, None, Wa, active, b, self.ybar, False
        )

    def _gram_pass(self, keep, fresh, centre):
        return _core.masked_gram_extend(
            self.X, self.packed, keep, fresh, self.s, centre
        )
