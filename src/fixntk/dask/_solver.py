"""The gated ReLU group lasso (squared loss) on row chunks: the working-set method of
:mod:`fixntk._gram_ws` with its passes on the workers (the residual formed and used
there, never sent) and the inner problems solved on the client from their Gram.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._gram_ws import GramWorkingSet
from .._memory import available_bytes
from .._progress import path_notice, progress, solve_notice
from .._scale import coef_out, lam_in, lam_out, value_out
from .._solver import (
    PathResult,
    SolveResult,
    _gap,
    _group_norms,
    _lam_grid,
    _secant_start,
)
from .._validation import (
    check_int,
    check_lam,
    check_positive,
    check_relative_tol,
    check_weight_bounds,
    user_stacklevel,
)
from .._validation import warn as _warn
from ..datafits import get_datafit, is_squared
from . import _chunks
from ._arrangement import as_dask_arrangement
from ._chunks import as_row_vector, as_rows, chunk_tasks, run, tree_sum

__all__ = [
    "DaskSolveResult",
    "DaskPathResult",
    "solve",
    "solve_path",
    "lambda_max",
]

# The client's Gram of the working sets (kept across outer iterations) is capped by
# default at a quarter of the client's available memory, and at least this (a fixed
# 256 MiB stopped the estimators' lam path at 94 groups of 61 columns on a machine
# with 22 GB free: a lam 6x the in-memory fit's, test R^2 0.835 against 0.909).
_GRAM_BYTES = 256 * 2**20


# where the estimators meet the cap: they take the default (their lam, not the cap)
_GRAM_HINT = (
    " (fixntk.dask.solve's max_gram_bytes; the estimators use its default, a quarter "
    "of the available memory: a larger lam or fewer gates there)"
)


def _default_gram_bytes():
    """The default cap of the client's Gram: a quarter of the available memory, at
    least _GRAM_BYTES."""
    return max(_GRAM_BYTES, available_bytes() // 4)


@dataclass(eq=False)
class DaskSolveResult(SolveResult):
    """Result of :func:`fixntk.dask.solve`: the fields of
    :class:`fixntk.SolveResult` (``n_iter`` counts the client's epochs over the
    working sets) and

    Attributes
    ----------
    n_passes : int
        Passes over the data on the workers for this solve (a gradient pass per outer
        iteration, a Gram pass when the working set gained groups; the problem's setup
        passes are counted in the first solve on it).
    n_outer : int
        Outer iterations (working sets solved).
    pass_seconds : float
        Wall time spent waiting for the passes of the outer iterations (gradients and
        Grams; the setup passes not included); the rest of the solve's time is the
        client's inner solves and bookkeeping.
    gram_seconds : float
        The part of ``pass_seconds`` spent in the Gram passes.
    n_gram_passes : int
        The Gram passes among ``n_passes``.
    """

    n_passes: int = 0
    n_outer: int = 0
    pass_seconds: float = 0.0
    gram_seconds: float = 0.0
    n_gram_passes: int = 0


class DaskPathResult(PathResult):
    """:class:`fixntk.PathResult` with ``n_passes``, the passes over the data for the
    whole path (setup included)."""

    @property
    def n_passes(self):
        return int(sum(r.n_passes for r in self.results))


def _check_loss(loss):
    if isinstance(loss, str):
        ok, name = loss == "squared", loss
    else:
        ok = is_squared(get_datafit(loss))
        name = f"{getattr(loss, '__name__', type(loss).__name__)} (a Datafit)"
    if not ok:
        raise ValueError(
            f"the Dask backend solves the squared loss only; got loss={name!r} (the "
            "Newton steps of other losses would need a new Gram of the working set at "
            "every step; a subclass of Squared that overrides its methods is another "
            "loss)"
        )


class _DaskProblem(GramWorkingSet):
    """Validated, scaled chunk data of one program, persisted on the workers, and the
    client's O(p d c) and O((k d)^2) state (:class:`fixntk._gram_ws.GramWorkingSet`,
    whose passes run here on the row chunks).

    Units as in :class:`fixntk._solver._Problem`: X / sx and Y / sy, sx and sy the
    largest magnitudes; weights over their largest value; ``S = sum(s)``.
    """

    log_name = "dask solve"
    gram_hint = _GRAM_HINT

    def __init__(
        self,
        X,
        y,
        arr,
        sample_weight=None,
        fit_intercept=False,
        max_gram_bytes=None,
        _parent=None,
        _weights=None,
        _score=None,
        check_gates=True,
    ):
        self.n_passes = 0
        self.fit_intercept = bool(fit_intercept)
        self.max_gram_bytes = (
            _default_gram_bytes()
            if max_gram_bytes is None
            else check_positive(max_gram_bytes, "max_gram_bytes")
        )
        if _parent is not None:  # the same data, other row weights (a split)
            keys = ("n", "d", "c", "p", "one_d", "sx", "sy", "shift", "data", "packed")
            for key in keys:
                setattr(self, key, getattr(_parent, key))
            self.arr, self.rows = _parent.arr, _parent.rows
            self.weights, self.score = _weights, _score
            self._setup(None)
            return
        X = as_rows(X)
        self.rows = X.chunks[0]
        Y = as_row_vector(y, self.rows, "y")
        self.one_d = Y.ndim == 1
        s = None
        if sample_weight is not None:
            if _chunks.is_number(sample_weight):
                sample_weight = np.full(X.shape[0], float(sample_weight))
            s = as_row_vector(sample_weight, self.rows, "sample_weight", False)
            if s.ndim != 1:
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},), one weight per "
                    f"row of X; got shape {s.shape}"
                )
        self.user_weights = s  # the results keep them (objective(), duality_gap())
        # (check_gates=False: an arrangement just sampled on X, an estimator's)
        self.arr = as_dask_arrangement(arr, X, check_gates)
        self.packed = self.arr.packed
        self.n, self.d = X.shape
        self.c = 1 if self.one_d else Y.shape[1]
        self.p = self.arr.p
        # with an intercept, Y - (its first row): the same program, exactly, the
        # shift added back to the intercept, as fixntk.solve does (Y scaled by max |Y|
        # first left a target offset by 1e13 a residual of round-off, and the solve
        # stalled uncertified; tester AQ). One row of y is read for it.
        self.shift = np.zeros(self.c)
        xs, ys = chunk_tasks(X), chunk_tasks(Y)
        ss = chunk_tasks(s) if s is not None else [None] * len(xs)
        if self.fit_intercept and self.n:
            # one row, not the array, and from the chunk task the passes compute
            # (Y[:1] of a rechunked y made the distributed scheduler warn of a
            # "different run_spec" for the same keys, 'failures and deadlocks'; DH);
            # a row of weight > 0 (a weight-0 row's target at 1e15 shifted every
            # other target there, and the solve stopped uncertified; tester EC)
            for k, size in enumerate(Y.chunks[0]):
                if not size:
                    continue
                first = _chunks.run(
                    dask.delayed(_chunks.first_row, pure=True)(ys[k], ss[k])
                )
                if first is not None:
                    self.shift = np.asarray(first, dtype=np.float64).reshape(-1)
                    break
        self._setup((xs, ys, ss))

    # -- setup: scales, chunk data, the first pass ---------------------------------
    def _setup(self, raw):
        if raw is not None:
            xs, ys, ss = raw
            stats = _chunks.compute(
                *[
                    dask.delayed(_chunks.raw_stats, pure=True)(x, y, s, self.shift)
                    for x, y, s in zip(xs, ys, ss)
                ]
            )
            self.n_passes += 1
            not_finite, xmax, ymax, smax, smin, spos, swsum, ymean = zip(*stats)
            if any(not_finite):
                names = [
                    name
                    for name in ("X", "y", "sample_weight")
                    if any(name in bad for bad in not_finite)
                ]
                chunks = sum(1 for bad in not_finite if bad)
                raise ValueError(
                    f"{' and '.join(names)} contain{'s' if len(names) == 1 else ''} "
                    f"NaN or infinity (in {chunks} of the row chunks)"
                )
            if min(smin) < 0:
                raise ValueError(
                    f"sample_weight must be >= 0; its minimum is {min(smin):.3g}"
                )
            smax_all = max(smax)
            if smax_all == 0:
                raise ValueError("sample_weight is all zero: no row carries weight")
            # the in-memory solver's refusal of weights past double precision's
            # resolution (they were taken here; a tester)
            check_weight_bounds(smax_all, min(spos), "sample_weight")
            self.sx, self.sy = max(xmax), max(ymax)
            # the weighted mean of Y from the chunks' means, in Y / sy units
            share = np.array(smax) / smax_all * np.array(swsum)
            ybar = (share[:, None] * np.array(ymean)).sum(axis=0)
            ybar = ybar / share.sum()  # > 0: some row carries weight
            self._ybar_raw = ybar / self.sy if self.sy > 0 else ybar
            self.data = [
                dask.delayed(_chunks.build_data, pure=True)(
                    x, y, self.sx, self.sy, s, self.shift
                )
                for x, y, s in zip(xs, ys, ss)
            ]
            self.weights = (
                None
                if ss[0] is None
                else [
                    dask.delayed(_chunks.build_weights, pure=True)(s, smax_all)
                    for s in ss
                ]
            )
            self.score = None
        elif self.fit_intercept:  # a split: the weighted mean under its weights
            self._ybar_raw = None
        self.ybar = np.zeros(self.c)
        if self.fit_intercept:
            self.ybar = self._ybar_raw if raw is not None else self._split_mean()
        weights = self.weights if self.weights is not None else [None] * len(self.data)
        score = self.score if self.score is not None else [None] * len(self.data)
        W0 = np.zeros((0, self.d, self.c))
        total = tree_sum(
            [
                dask.delayed(_chunks.gradient_chunk, pure=True)(
                    dk,
                    pk,
                    sk,
                    vk,
                    W0,
                    np.zeros(0, np.int64),
                    self.ybar,
                    self.ybar,
                    self.fit_intercept,
                    True,
                )
                for dk, pk, sk, vk in zip(self.data, self.packed, weights, score)
            ]
        )
        # the chunk data is built and kept in the same pass
        persisted = _chunks.persist(*self.data, *(self.weights or []), total)
        nd = len(self.data)
        self.data = list(persisted[:nd])
        if self.weights is not None:
            self.weights = list(persisted[nd : 2 * nd])
        G, sR, sRR, sYR, val, absXR = run(persisted[-1])
        self.n_passes += 1
        # the round-off of G's entries (sums of n products), as fixntk.lambda_max
        # counts it: entries within it are 0 in exact arithmetic
        self._roundoff = np.sqrt(self.n) * np.finfo(np.float64).eps * absXR
        self.S = float(self._weight_sum(G))
        if not self.S > 0:
            raise ValueError("the rows carry no weight (sample weights sum to 0)")
        self._start(G, sRR, val)

    def _weight_sum(self, G):
        """S = sum(s): from a pass with U it is not directly there; count it apart."""
        if self.weights is None:
            return self.n
        parts = [dask.delayed(np.sum, pure=True)(sk) for sk in self.weights]
        return run(tree_sum(parts))

    def _split_mean(self):
        """The weighted mean of Y under this problem's weights (one small pass)."""
        parts = [
            dask.delayed(_weighted_sums, pure=True)(dk, sk)
            for dk, sk in zip(self.data, self.weights)
        ]
        sy, s = run(tree_sum(parts))
        self.n_passes += 1
        return sy / s if s > 0 else np.zeros(self.c)

    def split(self, seed, fraction=None, fold=None):
        """The problem of a held-out split: the same data and masks, row weights
        times 1 - v (train) with ``v`` the validation rows, drawn on the workers from
        the seed and the chunk's position -- each row with probability ``fraction``,
        or with ``fold = (k, n_folds)`` the rows of fold k (each row's fold uniform,
        the same draws for every k). The returned problem scores
        ``(sum s v ||R||^2, sum s v)`` in its gradient passes (the last entry of its
        solves' results). Its setup costs a pass."""
        base = self.weights if self.weights is not None else [None] * len(self.data)
        if fold is None:
            val = [
                dask.delayed(_chunks.holdout_rows, pure=True)(r, seed, k, fraction)
                for k, r in enumerate(self.rows)
            ]
        else:
            val = [
                dask.delayed(_chunks.fold_rows, pure=True)(r, seed, k, fold[1], fold[0])
                for k, r in enumerate(self.rows)
            ]
        train = [
            dask.delayed(_train_weights, pure=True)(s, v) for s, v in zip(base, val)
        ]
        score = [
            dask.delayed(_score_weights, pure=True)(s, v) for s, v in zip(base, val)
        ]
        (*train,) = _chunks.persist(*train)
        (*score,) = _chunks.persist(*score)
        return _DaskProblem(
            None,
            None,
            None,
            fit_intercept=self.fit_intercept,
            max_gram_bytes=self.max_gram_bytes,
            _parent=self,
            _weights=list(train),
            _score=list(score),
        )

    # -- units -----------------------------------------------------------------------
    @property
    def degenerate(self):
        return self.sx == 0 or self.sy == 0

    def lam_in(self, lam):
        return lam_in(lam, self.sx, self.sy) if not self.degenerate else lam

    def coef_in(self, W):
        return W * (self.sx / self.sy) if not self.degenerate else W

    def coef_out(self, W):
        return coef_out(W, self.sx, self.sy) if not self.degenerate else W

    def value_out(self, v):
        return value_out(v, self.sy) if self.sy > 0 else v

    def check_coef(self, W, name="warm_start"):
        if isinstance(W, SolveResult):
            W = W.coef
        W = np.asarray(W, dtype=np.float64)
        p, d, c = self.p, self.d, self.c
        if c == 1 and W.shape == (p, d):
            W = W[:, :, None]
        if W.shape != (p, d, c):
            raise ValueError(f"{name} must have shape ({p}, {d}, {c}); got {W.shape}")
        if not np.isfinite(W).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return np.ascontiguousarray(self.coef_in(W))

    # -- passes ----------------------------------------------------------------------
    def _gradient_pass(self, Wa, active, b):
        weights = self.weights if self.weights is not None else [None] * len(self.data)
        score = self.score if self.score is not None else [None] * len(self.data)
        Wd = dask.delayed(Wa, pure=True)
        total = tree_sum(
            [
                dask.delayed(_chunks.gradient_chunk, pure=True)(
                    dk, pk, sk, vk, Wd, active, b, self.ybar, False
                )
                for dk, pk, sk, vk in zip(self.data, self.packed, weights, score)
            ]
        )
        return run(total)

    def _gram_pass(self, keep, fresh, centre):
        weights = self.weights if self.weights is not None else [None] * len(self.data)
        total = tree_sum(
            [
                dask.delayed(_chunks.gram_chunk, pure=True)(
                    dk, pk, sk, keep, fresh, centre
                )
                for dk, pk, sk in zip(self.data, self.packed, weights)
            ]
        )
        return run(total)


def _weighted_sums(data, s):
    return (s[:, None] * data.Y).sum(axis=0), float(s.sum())


def _train_weights(s, v):
    return 1.0 - v if s is None else s * (1.0 - v)


def _score_weights(s, v):
    return v if s is None else s * v


# --------------------------------------------------------------------------- public


def _options(tol, max_iter, max_passes):
    return (
        check_relative_tol(tol),
        check_int(max_iter, "max_iter", 1),
        check_int(max_passes, "max_passes", 1),
    )


def _result(prob, lam, W, fit, passes, timing):
    W_s, primal, dual, epochs, outer, converged, gaps, _ = fit
    W_out = prob.coef_out(W_s)
    b = prob.intercept(W_s) * (prob.sy if prob.sy > 0 else 1.0) + prob.shift
    f0 = 0.5 * prob.y2
    return DaskSolveResult(
        coef=W_out[:, :, 0] if prob.one_d else W_out,
        objective=float(prob.value_out(primal)),
        gap=float(prob.value_out(_gap(primal, dual, f0))),
        dual=float(prob.value_out(dual)),
        f0=float(prob.value_out(f0)),
        n_iter=int(epochs),
        converged=bool(converged),
        active_set=np.flatnonzero(_group_norms(W_s) > 0),
        lam=float(lam),
        gap_history=prob.value_out(gaps),
        intercept=float(b[0]) if prob.one_d else b,
        loss="squared",
        sample_weight=getattr(prob, "user_weights", None),
        n_passes=int(passes),
        n_outer=int(outer),
        pass_seconds=float(timing[0]),
        gram_seconds=float(timing[1]),
        n_gram_passes=int(timing[2]),
    )


# Epochs per outer iteration above which a solve that ran out of max_iter is told
# that its client descents crawled (an ill-conditioned design: _solve_problem).
_CRAWL = 2000


def _solve_problem(
    prob,
    lam,
    W0,
    tol,
    max_iter,
    max_passes,
    verbose,
    warn=True,
    setup=0,
    budgets="max_passes, max_iter or tol",
):
    """One solve; its result's ``n_passes`` counts ``setup`` passes made before it
    (the problem's statistics and first gradients), as does the warning, which
    advises raising ``budgets`` (the caller's names of them: an estimator has no
    max_passes)."""

    def counters():
        return np.array([prob.pass_seconds, prob.gram_seconds, prob.gram_passes])

    passes0, timing0 = prob.n_passes, counters()
    fit = prob.solve(prob.lam_in(lam), W0, tol, max_iter, max_passes, verbose)
    passes = prob.n_passes - passes0 + setup
    res = _result(prob, lam, W0, fit, passes, counters() - timing0)
    if warn and not res.converged:
        # neither budget reached: the gap stalled (round-off of a large offset in y
        # or in a column of X; raising the budgets was advised and changed nothing,
        # tester AQ)
        # (room for more than an outer iteration's passes, and half the epochs: the
        # budget check stops before an iteration that would exceed max_passes)
        used = res.n_passes - setup
        stalled = max_passes - used > 3 and 2 * res.n_iter < max_iter
        advice = (
            "The gap stopped falling before either budget was reached: round-off, "
            "most often of a large offset in y or in a column of X (centre them "
            "first); raise tol to accept the fit"
            if stalled
            else f"Raise {budgets}"
        )
        if not stalled and res.n_iter >= max_iter and res.n_iter > _CRAWL * res.n_outer:
            # the epochs went to a few descents on the client's Gram, which crawl on
            # an ill-conditioned design: raw columns of diamonds (carat beside x, y, z
            # in mm, depth, table near 60) spent 100000 epochs short of tol = 1e-4
            # where the advice was to raise max_iter (tester DH)
            advice = (
                f"Its {res.n_iter} epochs went to {res.n_outer} descents on the "
                "client, which crawl where the masked design is ill-conditioned: "
                "centre and scale X's columns (e.g. dask-ml's StandardScaler), or "
                + advice[0].lower()
                + advice[1:]
            )
        _warn(
            f"fixntk.dask.solve stopped before the certificate: relative duality gap "
            f"{res.relative_gap:.3e} > tol = {tol:.1e} after {res.n_passes} passes "
            f"({setup} of them set-up, on top of max_passes = {max_passes}) and "
            f"{res.n_iter} epochs (lam = {lam:.4g}). {advice}.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return res, fit


def lambda_max(X, y, arr, *, loss="squared", sample_weight=None, fit_intercept=False):
    r"""Smallest ``lam`` with ``W = 0`` optimal, on Dask: ``max_i ||X^T D_i s (y -
    b_0)|| / sum(s)`` (b_0 the weighted mean of y with an intercept, else 0), the
    value of :func:`fixntk.lambda_max`, in two passes over the data.

    Parameters
    ----------
    X, y, arr, loss, sample_weight, fit_intercept :
        As in :func:`solve`.

    Returns
    -------
    float
    """
    _check_loss(loss)
    prob = _DaskProblem(X, y, arr, sample_weight, fit_intercept)
    return _lambda_max(prob)


def _lambda_max(prob):
    if prob.degenerate:
        return 0.0
    # entries within their round-off are 0 (constant features with an intercept: y is
    # orthogonal to every group, and the computed lam_max was noise), as in memory
    B = np.where(np.abs(prob.B) * prob.S <= prob._roundoff, 0.0, prob.B)
    return lam_out(float(_group_norms(B).max()), prob.sx, prob.sy)


def solve(
    X,
    y,
    arr,
    lam,
    tol=1e-6,
    warm_start=None,
    max_iter=100_000,
    verbose=False,
    *,
    loss="squared",
    sample_weight=None,
    fit_intercept=False,
    max_passes=200,
    max_gram_bytes=None,
):
    r"""Solve the gated ReLU program (squared loss) on Dask collections.

    Minimises, as :func:`fixntk.solve` does,

    .. math::

        F(W, b) = \frac{1}{2\sum_j s_j} \sum_{j=1}^n s_j \Big\| y_j - \sum_i
        [D_i X W_i]_j - b\Big\|^2 + \lambda \sum_{i=1}^p \|W_i\|_F,

    (Dwaraknath, Ergen and Pilanci 2023, eq. (3) divided by n, with sample weights
    ``s`` and an unpenalised intercept ``b`` when ``fit_intercept``), with X, y and the
    masks staying on the workers. Each outer iteration of the working-set method
    costs one pass over the data for every block gradient and the certificate, and one
    more for the Gram rows and columns of the groups new to the working set; the
    working set's problem is solved on the client from its Gram (``H = A^T S A /
    sum(s)`` of its design A, centred with an intercept) by the compiled block
    coordinate descent with exact block updates. The client holds O(p d c) numbers and
    the working sets' Gram, O((k d)^2) for k groups. Stops when the duality gap of
    :func:`fixntk.duality_gap` is at most ``tol * f0``, as in memory.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n, d)
        Chunked by rows (a chunking across the columns is merged first).
    y : dask or NumPy array of shape (n,) or (n, c)
        Float targets; rechunked to X's row chunks.
    arr : DaskArrangement, Arrangement or bool array of shape (n, p)
        From :func:`fixntk.dask.sample_arrangement` (re-packed if its row chunks are
        not X's: from its gates when it has them).
    lam : float > 0
    tol : float in (0, 1), default=1e-6
        Relative duality gap to reach.
    warm_start : array of shape (p, d) / (p, d, c), or SolveResult, optional
    max_iter : int, default=100000
        Maximum epochs of the client's inner solves, all outer iterations together.
    verbose : int or bool, default=False
        Log the certificate and passes after each outer iteration.
    loss : {"squared"}
        Other losses are refused (ValueError).
    sample_weight : array-like of shape (n,), optional
    fit_intercept : bool, default=False
    max_passes : int, default=200
        Maximum passes over the data in this solve's iterations; the two set-up
        passes (statistics, first gradients) come on top (``n_passes`` counts them).
    max_gram_bytes : int, optional
        Size of the working sets' Gram the client may keep (default a quarter of the
        client's available memory, at least 256 MiB); a working set whose active
        groups alone need more raises MemoryError.

    Returns
    -------
    DaskSolveResult
        With ``n_passes`` (passes over the data) and ``n_outer``; a
        ``ConvergenceWarning`` when it stopped before the certificate.

    Raises
    ------
    ValueError
        For invalid inputs (NaN, shapes, negative weights, another loss).
    MemoryError
        When the active groups' Gram exceeds ``max_gram_bytes``.
    """
    _check_loss(loss)
    lam = check_lam(lam)
    tol, max_iter, max_passes = _options(tol, max_iter, max_passes)
    prob = _DaskProblem(X, y, arr, sample_weight, fit_intercept, max_gram_bytes)
    setup = prob.n_passes
    if warm_start is None:
        W0 = np.zeros((prob.p, prob.d, prob.c))
    else:
        W0 = prob.check_coef(warm_start)
    with solve_notice("fixntk.dask.solve", verbose):
        res, _ = _solve_problem(
            prob, lam, W0, tol, max_iter, max_passes, verbose, setup=setup
        )
    return res


def solve_path(
    X,
    y,
    arr,
    lams=None,
    n_lams=50,
    eps=1e-3,
    tol=1e-6,
    max_iter=100_000,
    verbose=False,
    *,
    loss="squared",
    sample_weight=None,
    fit_intercept=False,
    max_passes=200,
    max_gram_bytes=None,
):
    """:func:`fixntk.solve_path` on Dask collections: each solve of the decreasing
    grid warm-started from the last, the data and masks persisted once, and the
    working sets' Gram kept on the client along the path (it does not depend on lam).

    Parameters
    ----------
    X, y, arr, loss, sample_weight, fit_intercept, max_passes, max_gram_bytes :
        As in :func:`solve` (``max_passes`` per value of lam).
    lams, n_lams, eps, tol, max_iter, verbose :
        As in :func:`fixntk.solve_path`.

    Returns
    -------
    DaskPathResult
        ``n_passes`` sums the passes over the data of the whole path.
    """
    _check_loss(loss)
    tol, max_iter, max_passes = _options(tol, max_iter, max_passes)
    prob = _DaskProblem(X, y, arr, sample_weight, fit_intercept, max_gram_bytes)
    lams = _lam_grid(lams, n_lams, eps, lambda: _lambda_max(prob))
    return _path(prob, lams, tol, max_iter, max_passes, verbose)


def _path(prob, lams, tol, max_iter, max_passes, verbose, W=None, stop=None):
    """Solve along lams from W (scaled; zeros by default). ``stop(j, res, val)``
    returning True ends the path early (the held-out scoring)."""
    W = np.zeros((prob.p, prob.d, prob.c)) if W is None else W
    results, previous = [], None
    setup = prob.n_passes
    with path_notice("fixntk.dask.solve_path", verbose, results, len(lams)):
        for j, lam in enumerate(
            progress(lams, verbose=verbose, desc="fixntk dask path", unit="lam")
        ):
            # the secant start, as in memory: at a loose tol the last lam's point
            # itself often passed the certificate with no pass, and the path repeated
            # it (7 of 23 lams at tol 1e-3; tester EW)
            res, fit = _solve_problem(
                prob,
                float(lam),
                _secant_start(lams, j, W, previous),
                tol,
                max_iter,
                max_passes,
                bool(verbose and verbose >= 2),
                setup=setup if j == 0 else 0,
            )
            previous, W = W, fit[0]
            results.append(res)
            if stop is not None and stop(j, res, fit[-1]):
                break
    return DaskPathResult(lams[: len(results)], results)
