"""The gated ReLU convex program (group lasso), any datafit: solver, certificate, path.

Thin driver over the compiled core (``fixntk._cpu.core``): the squared loss (with sample
weights and an output intercept) is one call of the compiled working-set BCD; other
datafits run the proximal Newton loop of :mod:`fixntk._prox_newton` around it.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._arrangement import Arrangement, as_arrangement, distinct_masks
from ._cpu import core as _core
from ._memory import check_fits, kernel_size_warned
from ._progress import (
    _check_verbose,
    path_notice,
    progress,
    report,
    solve_notice,
    solve_status,
)
from ._scale import coef_out, lam_in, lam_out, norms, unit, value_out
from ._threads import blas_threads
from ._validation import (
    ROUNDOFF_GAP,
    check_bool,
    check_eps,
    check_grid_size,
    check_int,
    check_lam,
    check_positive,
    check_relative_tol,
    check_sample_weight,
    check_targets,
    check_X,
    quiet,
    real_float64,
    user_stacklevel,
)
from ._validation import warn as _warn
from .datafits import Targets, checked_datafit, get_datafit, is_builtin, is_squared

__all__ = [
    "SolveResult",
    "PathResult",
    "solve",
    "solve_path",
    "lambda_max",
    "objective",
    "duality_gap",
]


@dataclass(eq=False)  # arrays inside: == compared them elementwise and raised
class SolveResult:
    """Result of :func:`solve`.

    Attributes
    ----------
    coef : ndarray of shape (p, d) or (p, d, c)
        The group weights ``w_i``: (p, d) for a 1-d ``y`` with the squared loss and for
        the logistic loss, (p, d, c) for c outputs or classes.
    intercept : float or ndarray of shape (c,)
        The unpenalised output intercept ``b`` (0 when ``fit_intercept=False``).
    objective : float
        The objective at ``(coef, intercept)``.
    gap : float
        The duality gap certified there (absolute; ``gap / f0`` is the relative gap):
        ``objective - dual``, an upper bound on ``objective`` minus the optimum.
    dual : float
        The dual objective at the certificate's dual point: for the squared loss the
        rescaled residual's at ``coef``; for the other losses the best of the dual
        points of the proximal Newton steps (each a lower bound on the optimum), so
        ``gap`` can be below :func:`fixntk.duality_gap` at ``coef``, which uses the
        dual point of ``coef`` alone.
    f0 : float
        The objective of the null model (``W = 0`` with its best intercept), the scale
        of the stopping rule ``gap <= tol * f0``.
    relative_gap : float
        ``gap / f0`` (a property; 0 when ``f0`` is 0), the quantity ``tol``
        bounds.
    n_iter : int
        Epochs (passes of block coordinate descent over a working set), over all outer
        iterations and, for non-quadratic losses, all Newton steps.
    n_newton : int
        Proximal Newton steps (0 for the squared loss).
    n_irls : int
        Steps of the kernel route (:func:`fixntk.irls` warm-started from the block
        coordinate descent's group norms) taken when the descent was slow, as at small
        ``lam``; 0 when it was not used (see :func:`solve`, Notes).
    converged : bool
    active_set : ndarray of int
        Indices of the groups with ``w_i != 0``.
    lam : float
    loss : str
        The datafit's name.
    classes : ndarray or None
        Class labels in the order of the outputs (classification losses).
    gap_history : ndarray
        The certified gap at each outer iteration (each Newton step for non-quadratic
        losses); inf where an iterate's certificate exceeded double precision (a
        descent that diverged in round-off, replaced by the point returned).
    datafit : Datafit or None
        The datafit solved (the instance passed as ``loss``, or the built-in one of
        that name); None from the Dask backend, whose losses are built-in.
    sample_weight : ndarray of shape (n,), Dask array or None
        The row weights solved with, divided by the largest (only their ratios
        count; from :func:`fixntk.dask.solve`, the Dask array given), None without;
        the weights :func:`fixntk.objective` and :func:`fixntk.duality_gap` take for
        this result when they are given none.
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
    intercept: object = 0.0
    loss: str = "squared"
    classes: np.ndarray = field(default=None, repr=False)
    n_newton: int = 0
    n_irls: int = 0
    datafit: object = field(default=None, repr=False, compare=False)
    sample_weight: object = field(default=None, repr=False, compare=False)

    @property
    def relative_gap(self):
        """``gap / f0`` (0 when ``f0`` is 0)."""
        return self.gap / self.f0 if self.f0 > 0 else 0.0


class PathResult:
    """Regularisation path of :func:`solve_path`.

    Unpacks as ``lams, coefs, gaps, n_iters`` (like scikit-learn's ``enet_path``).

    Attributes
    ----------
    lams : ndarray of shape (n_lams,)
        The grid, decreasing.
    coefs : list of ndarray
        The coefficients at each value (shapes as in :class:`SolveResult`).
    gaps : ndarray of shape (n_lams,)
        The certified duality gaps.
    n_iters : ndarray of shape (n_lams,)
        Epochs spent at each value.
    intercepts : list
        The output intercept at each value.
    results : list of SolveResult
        Everything else at each value.
    """

    def __init__(self, lams, results):
        self.lams = np.asarray(lams)
        self.results = list(results)
        self.coefs = [r.coef for r in self.results]
        self.gaps = np.array([r.gap for r in self.results])
        self.n_iters = np.array([r.n_iter for r in self.results], dtype=np.int64)
        self.intercepts = [r.intercept for r in self.results]

    def __iter__(self):
        return iter((self.lams, self.coefs, self.gaps, self.n_iters))

    def __len__(self):
        return 4

    def __getitem__(self, k):
        return (self.lams, self.coefs, self.gaps, self.n_iters)[k]

    def __repr__(self):
        return f"PathResult(n_lams={self.lams.size}, loss={self.results[0].loss!r})"


# --------------------------------------------------------------------------- problem


class _Problem:
    """Validated inputs of one program, held in the solver's scaled space.

    The compiled solver and the certificates see ``X / sx`` and, for datafits whose
    optimum scales with y (the squared loss), ``Y / sy``, with sx, sy the largest
    magnitudes: the objective is equivariant (``w -> w sx / sy``, ``b -> b / sy``,
    ``lam -> lam / (sx sy)``, values ``-> values / sy^2``), so data at any scale that
    double precision holds is solved and certified without overflow or underflow in the
    squared norms.
    """

    def __init__(
        self, X, y, arr, loss="squared", sample_weight=None, fit_intercept=False
    ):
        X = check_X(X)
        n, d = X.shape
        self.datafit = checked_datafit(get_datafit(loss))
        self.targets = self.datafit.encode(y, n)
        if not isinstance(self.targets, Targets):
            user = getattr(self.datafit, "_fixntk_original", self.datafit)
            raise TypeError(
                f"the datafit {type(user).__name__}'s encode() must return "
                "fixntk.datafits.Targets (Y of shape (n, c), one_d, classes); got a "
                f"{type(self.targets).__name__}"
            )
        self.arr = as_arrangement(arr, n, X)
        self.weighted = sample_weight is not None
        self.s = check_sample_weight(sample_weight, n)
        self.user_weights = self.s if self.weighted else None  # every row's
        self.S = float(self.s.sum())
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        if self.targets.classes is not None:
            _check_class_weights(self.targets, self.s)
        self.datafit.check_weights(self.targets.Y, self.s)
        if self.weighted and (self.s == 0).any():
            X = self._drop_zero_weight_rows(X)
            n = X.shape[0]
        Y = self.targets.Y
        self.n, self.d, self.c, self.p = n, d, Y.shape[1], self.arr.p
        # the compiled solver's block steps: -1 by cost, 1 proximal (no block Grams:
        # set when only those do not fit in memory, see _check_solver_memory); its row
        # loops for X out of cache: -1 by X's size, 0 or 1 to force them (tests)
        self.block_step = -1
        self.streamed = -1
        self.sx = float(np.abs(X).max())
        # with an intercept, the squared loss solves Y - m (m: Y's weighted mean) and
        # adds m back to the intercept: the same program, exactly, where an offset
        # large next to Y's spread left its variation to the last digits of Y / sy
        # (offset 1e8: negative gaps reported as certified)
        self.shift = np.zeros(Y.shape[1])
        # a regression target equal on every row of positive weight, with an
        # intercept: the intercept fits it exactly and W = 0 at every lam (its
        # computed mean, or Poisson's log of it, left round-off that a solve and
        # lambda_max took for signal: lambda_max 1e-16, relative gaps of 1.5)
        self.null_optimal = bool(
            self.fit_intercept
            and self.targets.classes is None
            and rows_equal(Y, self.s if self.weighted else None)
        )
        self.null_design = self._constant_design(X)
        if self.fit_intercept and self.datafit.shifts_with_intercept:
            self.shift = intercept_shift(Y, self.s, self.null_optimal)
            Y = Y - self.shift
        self.sy = float(np.abs(Y).max()) if self.datafit.scales_with_y else 1.0
        self.X = X / self.sx if self.sx > 0 else X
        self.Y = Y / self.sy if self.sy > 0 else Y
        self.degenerate = self.sx == 0 or self.sy == 0
        self._grams = None  # gram_store(), made at its first use
        # the squared loss's working-set Gram (fixntk._gram_ws.MemoryGram), made at
        # its first use where the Gram route is chosen
        self.gram_ws = None
        # null_intercept() and lam_max(), computed at their first use
        self._null_intercept = self._lam_max = None
        self._col_max = None  # col_max(), at its first use
        # the proximal Newton loop's last row curvatures and their Grams, kept across
        # this problem's solves (see fixntk._prox_newton.CurvatureCache)
        self.curvature_cache = None

    def merge_equal_masks(self):
        """Solve on the distinct masks: groups whose masks are equal are one group
        (their columns are the same, so any split of one weight among them costs at
        least its norm, with equality when it all sits on one). Masks a user builds
        repeat (``X @ G >= 0`` on a few features: 7 gates, 2 distinct masks), and
        the copies made the descent's steps collinear: the multinomial loss on
        repeated masks took 10x the Newton steps or stopped uncertified (tester EX).
        Returns the :class:`_MergedMasks` that maps coefficients between the user's
        groups and these, or None where the masks are distinct. Call before any
        solve of this problem."""
        words = self.arr.words
        if self.p < 2:
            return None
        from ._gates import hash_words

        ids, first = distinct_masks(words, hash_words(words))
        if first.size == self.p:
            return None
        merged = _MergedMasks(ids, first, self.p)
        self.arr = Arrangement(words[first], self.n)
        self.p = int(first.size)
        return merged

    def _constant_design(self, X):
        """With an intercept, every masked column D_i x_j constant over the rows (X's
        rows all equal, each mask all on or all off): the intercept fits what any
        W would, so W = 0 is optimal at every lam, exactly. (Two constant columns
        one ulp apart at 1e18: the descent moved round-off, the kernel route
        diverged, and an intercept of 8e155 was certified; tester DQ.)"""
        if not self.fit_intercept or X.shape[0] < 2 or np.ptp(X, axis=0).any():
            return False
        masks = self.arr.masks
        return bool(np.all(masks.all(axis=0) | ~masks.any(axis=0)))

    def _drop_zero_weight_rows(self, X):
        """X, the targets, masks and weights without the rows of weight 0 (after the
        classes are read from every row): such rows leave the program unchanged, and
        kept, a value of 1e170 on one of them set the scale of X and sent the rest
        to round-off (a null model certified with gap 0)."""
        keep = np.flatnonzero(self.s > 0)
        self.targets = replace(
            self.targets, Y=np.ascontiguousarray(self.targets.Y[keep])
        )
        self.arr = Arrangement.from_masks(self.arr.masks[keep])
        self.s = self.s[keep]
        return np.ascontiguousarray(X[keep])

    # -- units -----------------------------------------------------------------------
    def gram_store(self):
        """The compiled solver's block Grams for this problem's rows, row weights and
        intercept, kept across its squared-loss solves (a path builds each Gram once;
        not for the proximal Newton models, whose row weights change)."""
        if self._grams is None:
            self._grams = _core.GramStore(self.n, self.d, self.p)
        return self._grams

    def lam_in(self, lam):
        if self.degenerate:
            return lam
        return lam_in(lam, self.sx, self.sy)

    def coef_in(self, W):
        return W * (self.sx / self.sy) if not self.degenerate else W

    def coef_out(self, W):
        if self.degenerate:
            return W
        return coef_out(W, self.sx, self.sy)

    def value_out(self, v):
        return value_out(v, self.sy) if self.sy > 0 else v

    def intercept_out(self, b):
        b = np.asarray(b, dtype=np.float64) * (self.sy if self.sy > 0 else 1.0)
        b = b + self.shift
        return float(b[0]) if self.targets.one_d else b

    def intercept_in(self, b):
        given, b = b, real_float64(b, "intercept")
        if b is None:
            raise TypeError(
                f"intercept must be a number or an array of numbers; got {given!r}"
            )
        if b.size not in (1, self.c) or b.ndim > 1:
            raise ValueError(
                f"intercept must be a number or have shape ({self.c},), one per "
                f"output; got shape {b.shape}"
            )
        if not np.isfinite(b).all():
            raise ValueError("intercept contains NaN or infinity")
        b = np.broadcast_to(b, (self.c,)) - self.shift
        return b / self.sy if self.sy > 0 else b

    # -- coefficients ----------------------------------------------------------------
    def col_max(self):
        """max_k |x_kj| of the scaled X (d,), computed once."""
        if self._col_max is None:
            self._col_max = np.abs(self.X).max(axis=0, initial=0.0)
        return self._col_max

    def check_coef(self, W, name="W"):
        """W as (p, d, c) in the scaled space, from the user's shape and units."""
        if isinstance(W, SolveResult):
            W = W.coef
        elif isinstance(W, PathResult):
            raise TypeError(
                f"{name} is a PathResult, one solution per lam: pass one of them, "
                "e.g. path.results[-1] (the smallest lam) or path.coefs[k]"
            )
        W = _coef3(W, self.p, self.d, self.c, name)
        W_in = self.coef_in(W)
        # a prediction |sum_ij W_ij x_kj| is at most sum_j (sum_i |W_ij|) max_k |x_kj|:
        # where its square could leave double precision, say so here (a bound by the
        # largest entry of X refused the solver's own iterates where columns are tiny
        # next to the others: features at 1e-150 beside the estimators' bias column)
        bound = float(np.abs(W_in).sum(axis=(0, 2)) @ self.col_max())
        if not bound <= 1e150:
            raise ValueError(
                f"{name} is too large for this data: entries up to "
                f"{float(np.abs(W).max()):.3g} make predictions whose squares leave "
                "double precision; rescale it, or start from zero"
            )
        return np.ascontiguousarray(W_in)

    def publish(self, W):
        return W[:, :, 0] if self.targets.one_d else W

    # -- values in the scaled space --------------------------------------------------
    def predict(self, W):
        """sum_i D_i X W_i (n, c), without the intercept."""
        return _core.masked_predict(self.X, self.arr.packed, W)

    def null_intercept(self):
        """The null model's intercept (0 without one): computed once per problem (a
        Newton solve for the logistic and multinomial losses; 0.02 s on digits, paid
        at every lam of a path before)."""
        if not self.fit_intercept:
            return np.zeros(self.c)
        if self._null_intercept is None:
            zeros = np.zeros((self.n, self.c))
            b = self.datafit.intercept(self.Y, zeros, self.s)
            self._null_intercept = np.asarray(b, dtype=float)
        return self._null_intercept.copy()

    def lam_max(self):
        """lam_max in the scaled space (:func:`lambda_max`), once per problem."""
        if self._lam_max is None:
            self._lam_max = _scaled_lam_max(self)
        return self._lam_max

    def null_value(self, b0):
        return self.datafit.value(self.Y, np.broadcast_to(b0, (self.n, self.c)), self.s)

    def block_gradients(self, Fb):
        """(s * l'(F) (n, c), the unnormalised block gradients X^T D_i (s * l'(F))
        (p, d, c)) at the predictions Fb."""
        G = self.datafit.gradient(self.Y, Fb)
        if self.weighted:
            G = G * self.s[:, None]
        G = np.ascontiguousarray(G)
        return G, _core.masked_gradients(self.X, self.arr.packed, G)

    def block_gradient_norms(self, Fb):
        """||X^T D_i (s * l'(F)) / sum(s)|| for every group i."""
        grads = self.block_gradients(Fb)[1]
        return norms(grads) / self.S  # no overflow of the squares

    def certificate(self, W, b, lam):
        """(primal, dual) at (W, b) with b the optimal intercept (or 0)."""
        F = self.predict(W) + b
        primal = self.datafit.value(self.Y, F, self.s) + lam * _penalty(W)
        if not np.isfinite(primal):  # the loss overflowed: no certificate (callers
            return primal, np.nan  # name it), nor NumPy's warnings on the gradients
        return primal, self.dual_bound(F, b, lam)

    def dual_bound(self, F, b, lam, sG=None, gnorms=None):
        """A lower bound on the optimum: the dual value at the dual point of the
        predictions ``F`` (n, c, the intercept ``b`` included), scaled into the dual
        feasible set, less :meth:`intercept_slack`. ``sG`` (``s * l'(F)``) and
        ``gnorms`` (:meth:`block_gradient_norms` at ``F``), where the caller has them.

        With an intercept, where the slack is not negligible (a large intercept
        cancelling columns far from 0: the round-off of predictions made of terms of
        1e6 left ``sum_k s_k l'(F_k)`` at 5e-9, and times b that bounded nothing),
        the dual point is taken at ``F + delta``, ``delta`` the best intercept on top
        of F: computed at the predictions' own magnitude, it meets the intercept's
        constraint to round-off, whatever b's. Any dual feasible point bounds the
        optimum; the primal value stays that of (W, b)."""
        df, Y, s = self.datafit, self.Y, self.s
        if sG is None:
            sG = df.gradient(Y, F)
            if self.weighted:
                sG = sG * s[:, None]
        if gnorms is None:
            gnorms = self.block_gradient_norms(F)
        scale = max(1.0, float(gnorms.max()) / lam)
        dual = df.dual(Y, F, s, scale)
        slack = self.intercept_slack(sG, b, scale)
        if slack > _BALANCE * abs(dual):
            # only the balanced point: the slack at b is no bound where b* - b
            # times the imbalance exceeds it, and the better of the two (a tester's
            # weighted logistic fit with a column offset by 1e8) was a dual value
            # 3e-4 above the optimum, certified with a negative gap
            Fd = F + df.intercept(Y, F, s)
            sG, grads = self.block_gradients(Fd)
            scale = max(1.0, float((norms(grads) / self.S).max()) / lam)
            dual = df.dual(Y, Fd, s, scale)
            slack = self.intercept_slack(sG, b, scale)
        return dual - slack

    def intercept_slack(self, sG, b, scale):
        """What the dual value must give up for the intercept's dual constraint
        (``sum_k s_k theta_k = 0``, theta = l'(F) / scale) held only to round-off.
        For any theta whose block gradients are feasible, weak duality gives
        ``F(W*, b*) >= D(theta) - b* . sum_k s_k theta_k / sum(s)``: the last term is
        nothing in exact arithmetic, but b* times the rounding of the sum was a dual
        value above the objective where b is large next to the residual (a column of X
        offset by 1e8, whose neurons' offsets the intercept cancels: Poisson certified
        a gap of -1.5e-5 at an objective 2e-6 above the optimum). Taken at the
        current b (b* within the solve's accuracy of it), with absolute values; the
        sum of ``sG`` (n, c: ``s_k l'(F_k)``) correctly rounded (math.fsum), plus the
        rounding of its terms."""
        if not self.fit_intercept:
            return 0.0
        sG = np.asarray(sG, dtype=np.float64).reshape(sG.shape[0], -1)
        total = np.array([math.fsum(col) for col in sG.T])
        if self.weighted:
            total = np.abs(total) + _EPS * np.abs(sG).sum(axis=0)
        return float(np.abs(b) @ np.abs(total)) / (self.S * scale)


# the dual point is rebalanced (_Problem.dual_bound) where the intercept's slack is
# above this share of the dual value
_BALANCE = 1e-12
_EPS = float(np.finfo(np.float64).eps)


@dataclass
class _MergedMasks:
    """The user's p groups against the distinct masks a problem solves
    (:meth:`_Problem.merge_equal_masks`): ``ids[i]`` the distinct mask of group i,
    ``first[j]`` the first group with mask j (which takes its weight)."""

    ids: np.ndarray
    first: np.ndarray
    p: int

    def reduce(self, W):
        """(p, d, c) user coefficients -> (distinct masks, d, c): each group's weight
        summed into its mask's (the same predictions; a start, not the optimum)."""
        out = np.zeros((self.first.size,) + W.shape[1:])
        np.add.at(out, self.ids, W)
        return out

    def expand(self, res):
        """A SolveResult on the distinct masks as one on the user's groups: each
        mask's weight on its first group, 0 on the others (the same objective and
        predictions; the certificate holds, the copies' dual constraints being the
        same)."""
        coef = np.zeros((self.p,) + res.coef.shape[1:])
        coef[self.first] = res.coef
        return replace(res, coef=coef, active_set=self.first[res.active_set])


def _check_class_weights(targets, s):
    """Every class must carry weight: a class with total weight 0 sends its score (and
    the intercept) to -infinity."""
    Y = targets.Y
    if Y.shape[1] == 1:  # logistic: +-1 in one column
        totals = np.array([s[Y[:, 0] < 0].sum(), s[Y[:, 0] > 0].sum()])
    else:
        totals = s @ Y
    check_class_totals(totals, targets.classes)


def weightless_classes(totals, classes):
    """ "class 'a' has" / "classes 'a', 'b' have" for the ``classes`` (labels, in the
    order of ``totals``) whose total sample weight is 0; "" when there are none."""
    empty = np.flatnonzero(np.asarray(totals) <= 0)
    if not empty.size:
        return ""
    names = ", ".join(repr(v) for v in np.asarray(classes)[empty].tolist())
    return f"classes {names} have" if empty.size > 1 else f"class {names} has"


def check_class_totals(totals, classes, hint=""):
    """Raise ValueError naming the ``classes`` (labels, in the order of ``totals``)
    whose total sample weight is 0 (``hint``: more words, appended)."""
    which = weightless_classes(totals, classes)
    if which:
        raise ValueError(
            f"{which} total sample weight 0 (no rows, or only rows of weight 0): drop "
            f"the class or give its rows weight{hint}"
        )


def _penalty(W):
    """sum_i ||W_i||_F without overflow in the squares."""
    scale = float(np.abs(W).max()) if W.size else 0.0
    if scale == 0:
        return 0.0
    return scale * float(np.sqrt(((W / scale) ** 2).sum(axis=(1, 2))).sum())


def _group_norms(W):
    scale = float(np.abs(W).max()) if W.size else 0.0
    if scale == 0:
        return np.zeros(W.shape[0])
    return scale * np.sqrt(((W / scale) ** 2).sum(axis=(1, 2)))


# --------------------------------------------------------------------------- the core


# Tuned with shuffled sweeps on the planted problems of benchmarks/problems.py (S1-S3
# and a grid of n, p, d and lam), by time to a certified 1e-6 gap: inner solves to 0.3 x
# the outer gap beat 0.1, 0.2, 0.6 and 0.8; Anderson depth 12 beat 0 and 5.
_WS_START, _INNER_RATIO, _ANDERSON_K = 10, 0.3, 12


def _solver_bytes(n, d, c, p, weighted=False, grams=None):
    """Peak working memory of the compiled solver, in bytes (upper estimate); with
    its block Grams (exact block steps) when ``grams``, by default where the solver
    takes them (``_core.prox_block_steps``)."""
    coef = 3 * p * d * c * 8  # start, result, all block gradients
    residual = 5 * n * c * 8  # residual, centred copy, extrapolation, predictions
    padded_x = n * (-(-d // 4) * 4) * 8  # rows padded for the kernels
    weighted_rows = (n * d + n * c + n) * 8 if weighted else 0  # a X, a Y, a
    history = (_ANDERSON_K + 1) * (n * c + p * d * c) * 8  # Anderson: K + 1 iterates
    # block Grams (none with the proximal steps of wide rows) and row lists
    if grams is None:
        grams = not _core.prox_block_steps(n, d)
    caches = (p * 2 * d * d * 8 if grams else 0) + 4 * n * min(p, 4096)
    # the Newton polish and the working set's Gram: over at most 4096 unknowns, and
    # never more than the program has (a fixed 4096 counted 288 MiB for 100 rows of 5
    # features, and refused iris where 200 MiB were free; tester DO), built from
    # chunks of 1024 rows
    m = min(4096, p * d * c)
    gram = 2 * m * m * 8 + min(n, 1024) * m * 8
    return coef + residual + padded_x + weighted_rows + history + caches + gram


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


def weighted_least_squares(
    X,
    packed,
    Z,
    lam,
    W0,
    *,
    weights=None,
    output_weights=None,
    row_shift=False,
    weight_sum=0.0,
    intercept=False,
    tol=1e-6,
    gap_target=0.0,
    max_iter=100_000,
    verbose=False,
    gram_store=None,
    block_step=-1,
    streamed=-1,
    value_scale=1.0,
):
    """One call of the compiled solver on validated arrays (the only one in fixntk).

    Minimises ``1/(2N) sum_k w_k ||Z_k - sum_i [D_i X W_i]_k - b||^2 + lam sum ||W_i||``
    with ``N = weight_sum`` (``sum(w)`` when 0; n without weights) and ``b`` profiled
    out when ``intercept``; with ``output_weights`` (n, c) a weight per row and output,
    ``1/(2N) sum_kl w_kl (Z_kl - ...)^2`` (``N = weight_sum``, n when 0), and with
    ``row_shift`` a free shift per row shared by the outputs. Stops at
    ``gap <= gap_target`` when it is > 0, else at ``gap <= tol * F(0)``. ``Z`` is
    rescaled by its largest magnitude inside (the certificate's squares cannot
    overflow); X must already be scaled. ``block_step``: 1 takes proximal gradient
    block steps (no block Grams), 0 exact ones, -1 (default) chooses by their cost
    (``_core.prox_block_steps``); ``streamed``: the row loops for X out of cache
    (one read of X per gap check, a block step's update done in the next one's
    gradient sweep): -1 (default) beyond 32 MiB, 1 always, 0 never. Returns the
    compiled solver's dict in Z's units;
    ``verbose`` logs the objective and gap in them times ``value_scale`` (the caller's
    units: ``sy^2`` of a problem solved at unit scale).
    """
    sz = float(np.abs(Z).max())
    if sz == 0:
        sz = 1.0
    # one BLAS thread: the Newton polish's products and factorisations then round the
    # same way whatever the thread count (the core's threaded kernels already do)
    with blas_threads(1):
        out = _core.solve_group_lasso(
            X,
            packed,
            Z / sz,
            W0 / sz,
            lam / sz,
            tol,
            max_iter,
            _WS_START,
            _INNER_RATIO,
            _progress_printer(verbose, sz * sz * value_scale),
            anderson_k=_ANDERSON_K,
            sample_weight=weights,
            intercept=intercept,
            gap_target=gap_target / (sz * sz),
            weight_sum=weight_sum,
            output_weight=output_weights,
            row_shift=row_shift,
            gram_store=gram_store,
            block_step=block_step,
            streamed=streamed,
        )
    out["coef"] = out["coef"] * sz
    out["intercept"] = out["intercept"] * sz
    # a Newton model's working response near 1e160 (curvatures at their floor at a
    # tiny lam) has values past double precision in Z's units: inf, as the callers
    # take it, without NumPy's overflow warnings reaching the user (tester EX)
    with np.errstate(over="ignore"):
        for key in ("primal", "dual", "f0"):
            out[key] = out[key] * sz * sz
        out["gap_history"] = np.asarray(out["gap_history"]) * sz * sz
    return out


def _check_solver_memory(prob):
    """Refuse a solve that does not fit in memory (MemoryError), or, where only its
    block Grams (p d x d matrices, 1 GB at p = 200, d = 784) do not fit, have it take
    proximal gradient block steps, which need none (``prob.block_step = 1``)."""
    sizes = (prob.n, prob.d, prob.c, prob.p, prob.weighted)
    try:
        check_fits(_solver_bytes(*sizes), "fixntk.solve")
    except MemoryError:
        check_fits(_solver_bytes(*sizes, grams=False), "fixntk.solve")
        prob.block_step = 1


def _solve_problem(prob, lam, W0, tol, max_iter, verbose, warn=True):
    """Solve a validated program from W0 (p, d, c, scaled space); a SolveResult in the
    user's units; a ConvergenceWarning where it stops early, unless ``warn`` is False
    (a str: the function it names, "fixntk.solve" for True). On one BLAS thread
    throughout: the products around the compiled solver (certificates, the proximal
    Newton loop) then round the same way whatever the thread count. Solves run at
    once in several Python threads give the same bits for the squared loss; for the
    other losses they were measured to differ from sequential ones by round-off
    (5e-15 in the coefficients, the same objective, gap and iteration counts), not
    yet traced."""
    with blas_threads(1):
        return _solve_problem_1(prob, lam, W0, tol, max_iter, verbose, warn)


def _solve_problem_1(prob, lam, W0, tol, max_iter, verbose, warn):
    _check_solver_memory(prob)
    lam_s = prob.lam_in(lam)
    if prob.degenerate or prob.null_optimal or prob.null_design:
        # X or y is zero, or y constant with an intercept, or every masked column
        # constant with one (null_design): W = 0 is optimal, with a zero gap
        b = prob.null_intercept()
        f0 = prob.null_value(b)
        W = np.zeros((prob.p, prob.d, prob.c))
        return _result(prob, W, b, f0, f0, f0, 0, 0, True, lam, np.array([0.0]))
    if np.any(W0) and lam_s >= prob.lam_max() * (1.0 - 1e-12):
        # W = 0 is optimal (lam_max given back in the user's units comes back within
        # its rounding): a warm start reached it only to round-off (groups of norm
        # 1e-17 left active, a neuron in the estimators' networks). Asked of warm
        # starts only: lam_max costs a pass, once per problem.
        W0 = np.zeros_like(W0)
    stop = "max_iter"
    if is_squared(prob.datafit):
        fit = _least_squares(prob, lam_s, W0, tol, max_iter, verbose)
        if not fit["converged"] and fit["n_epochs"] < max_iter:
            stop = "stalled"  # the compiled descent's stall rules ended it
    else:
        from ._prox_newton import prox_newton

        out = prox_newton(prob, lam_s, W0, tol, max_iter, verbose)
        fit = dict(
            W=out.coef,
            b=out.intercept,
            primal=out.primal,
            dual=out.dual,
            f0=out.f0,
            n_epochs=out.n_epochs,
            n_newton=out.n_newton,
            converged=out.converged,
            gaps=out.gap_history,
            n_irls=out.n_irls,
        )
        stop = out.stop
    if not fit["converged"] and not fit["primal"] <= fit["f0"]:
        # a descent from any start is monotone in exact arithmetic: ending above the
        # null model means its iterates diverged in round-off (X + 1e8 with spread 1:
        # R^2 -1e293 was returned with "raise max_iter", or an overflow error); the
        # null model is better
        fit, stop = _null_fit(prob, lam_s, tol, fit), "diverged"
    res = _result(prob, lam=lam, **fit)
    if warn and not res.converged:
        far = _far_columns(prob.X) if stop != "diverged" else ""
        # slow, not stalled: the same columns slow the descent (a tester's logistic
        # and multinomial solves on columns of scales 1 to 1e4 ran 30-45 s on 200 rows)
        slow = (
            f" X's columns make the masked design ill-conditioned ({far}): centre and "
            "scale them (e.g. sklearn's StandardScaler) for a faster solve."
            if far
            else ""
        )
        tiny = ""
        if stop == "stalled" and not far and lam_s < _TINY_LAM * prob.lam_max():
            # the dual point is the residual over lam: its round-off, divided by a lam
            # of 1e-16 lam_max, is the gap's floor, at a fit optimal to 10 digits
            # (a tester: 5.6e-4 there, "the descent stalled")
            tiny = (
                f" at lam = {lam_s / prob.lam_max():.1e} lam_max, where the "
                "certificate's dual point (the residual divided by lam) carries "
                "round-off divided by lam: the gap cannot fall further, whatever the "
                "fit (at such a lam, the least-squares fit). Raise tol, or lam."
            )
        advice = {
            "diverged": (
                "The descent ended above the null model's objective (its iterates "
                "diverged in round-off: the masked design is too ill-conditioned in "
                "double precision, e.g. columns of X far from zero next to their "
                "spread), so the null model W = 0 is returned: standardise X (e.g. "
                "sklearn's StandardScaler)."
            ),
            "stalled": (
                f"The gap stopped falling with {max_iter - res.n_iter} of max_iter's "
                "epochs left (by under 0.1% over 20 certificates): the descent "
                "stalled"
                + (
                    # slow convergence or round-off: the columns alone do not tell
                    # (scales 1e-2 to 1e2, lam 1e-5 lam_max: a relative gap of 7e-2
                    # at 0.2% above an optimum that cvxpy reaches, told as round-off;
                    # tester ET)
                    f" on an ill-conditioned masked design ({far}), where its "
                    "steps shrink and round-off grows. Centring and scaling X's "
                    "columns (e.g. sklearn's StandardScaler) conditions it (the "
                    "penalty then weighs the scaled columns); or raise tol to accept "
                    "this fit (its gap bounds its suboptimality)."
                    if far
                    else tiny
                    or ". Raise tol to accept this fit (its gap bounds its "
                    "suboptimality)."
                )
            ),
            "max_iter": (
                "The gap is at round-off's level (about 1e-14 of the null model's "
                "objective or below): raise tol."
                if res.relative_gap < ROUNDOFF_GAP
                else "Raise max_iter or tol." + slow
            ),
            "newton": (
                f"The proximal Newton loop reached its {res.n_newton} outer steps "
                "(the cap; max_iter counts epochs): raise tol, or use a larger lam, "
                "where the steps converge faster." + slow
            ),
            "no_descent": (
                "The line search found no descent (round-off in the proximal Newton "
                f"steps{': ' + far if far else ''}): raise tol to accept this fit "
                "(its gap bounds its suboptimality)"
                + (", or centre and scale X's columns." if far else ".")
                if res.relative_gap < 1e-8
                else _far_counts(prob)
                or "The Newton steps no longer change the objective in double "
                f"precision, with this gap left (round-off{': ' + far if far else ''})"
                ": raise tol"
                + (
                    (" or centre and scale X's columns." if far else ".")
                    if is_builtin(prob.datafit)
                    else ". (For a datafit of your own: check that its gradient, "
                    "curvature and dual describe its value; a loss with linear "
                    "parts, such as Huber's, certifies more slowly than its "
                    "objective converges.)"
                )
            ),
        }[stop]
        _warn(
            f"{warn if isinstance(warn, str) else 'fixntk.solve'} stopped before the "
            f"certificate: relative duality gap "
            f"{res.relative_gap:.3e} > tol = {tol:.1e} after {res.n_iter} epochs "
            f"(lam = {lam:.4g}, loss = {prob.datafit.name!r}). {advice}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return res


# Counts above which a stalled Poisson solve without an intercept is told why
# (_far_counts): up to 1e30 its steps were measured to reach the optimum.
_FAR_COUNT = 1e30


def _far_counts(prob):
    """The advice of a Poisson solve without an intercept whose Newton steps stopped
    far from the optimum on counts far above 1 (scores from 0, a mean of 1: from
    counts of 1e50, relative gaps of 0.6 were blamed on round-off; tester DG), or
    ""."""
    top = float(prob.Y.max()) * prob.sy
    if prob.datafit.name != "poisson" or prob.fit_intercept or not top > _FAR_COUNT:
        return ""
    return (
        "The Newton steps no longer lower the objective, with this gap left: "
        "without an intercept the Poisson scores start at 0 (a mean of 1), far below "
        f"counts up to {top:.3g}, and the steps from there stall. Use "
        "fit_intercept=True."
    )


def spread_scales(sd, span, ratio):
    """The standard deviations ``sd`` of the columns that vary (range ``span`` > 0)
    when they, and their ranges, differ by more than ``ratio``; else None."""
    varies = (sd > 0) & (span > 0)
    span, sd = span[varies], sd[varies]
    if sd.size < 2 or sd.max() <= ratio * sd.min():
        return None
    if span.max() <= ratio * span.min():
        return None
    return sd


def _far_columns(X, ratio=1e3):
    """For a warning: what in X's columns ill-conditions the masked design, or "":
    "column j of X has a mean 1e+08 times its standard deviation" for the column
    farthest from 0 beyond ``ratio`` of its spread (constant columns, a bias, are not
    judged), else "the standard deviations of X's columns differ by a factor of 1e+04"
    beyond ``ratio`` (a tester's columns on scales 1 to 1e4 stalled solve at a
    relative gap of 3e-3 and irls at 1e-1, told as round-off alone)."""
    # constant columns by their range: NumPy's standard deviation of a column of ones
    # divided by the largest entry is its mean's round-off (5.6e-17), and a bias column
    # was named as 3.8e14 standard deviations from 0 (tester BM)
    X = X / unit(X)  # exact: a column at 1e200 squares past the range
    span = np.ptp(X, axis=0)
    sd = np.where(span > 0, X.std(axis=0), 0.0)
    far = np.where(sd > 0, np.abs(X.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    j = int(np.argmax(far)) if far.size else 0
    if far.size and far[j] > ratio:
        return f"column {j} of X has a mean {far[j]:.2g} times its standard deviation"
    spread = spread_scales(sd, span, ratio)
    if spread is None:
        return ""
    factor = spread.max() / spread.min()
    return f"the standard deviations of X's columns differ by a factor of {factor:.2g}"


def _null_fit(prob, lam_s, tol, fit):
    """``_result``'s arguments at W = 0 (its best intercept), certified at lam_s (the
    scaled lam), counting the epochs and steps of ``fit`` (a run that ended above
    it)."""
    b = prob.null_intercept()
    W = np.zeros((prob.p, prob.d, prob.c))
    primal, dual = prob.certificate(W, b, lam_s)
    f0 = prob.null_value(b)
    return dict(
        fit,
        W=W,
        b=b,
        primal=primal,
        dual=dual,
        f0=f0,
        converged=primal - dual <= tol * f0,
        gaps=np.array([primal - dual]),  # the diverged run's history overflows
    )


# The kernel route for slow least-squares solves (small lam). Block coordinate
# descent converges linearly at a rate set by the masked design's conditioning: at
# lam = 1e-3 lam_max on well-spread data it certifies 1e-6 in a few hundred epochs, but
# on correlated or duplicated columns, and as lam -> 0 where the program tends to
# interpolation with every group active, it can need 10^4 - 10^6 epochs. The
# multiple-kernel form of the same program (fixntk.irls: kernel ridge in the order
# min(n, p d) with projected Newton steps on the kernel weights) converges in a few
# steps there, certified by the same duality gap. solve runs the descent for about
# the cost of the kernel route first (so a fast descent is never replaced) and then
# switches: at most about twice the cost of the better route.
_KERNEL_ROUTE_ORDER = 5000  # largest kernel order min(n, p d) the route may take
_KERNEL_ROUTE_STEPS = 6  # steps budgeted (measured: 5-10 cold, 1-3 warm-started)
_KERNEL_ROUTE_SPEED = 4.0  # BLAS-3 flops per flop of a descent epoch (measured ~3.5)
_KERNEL_ROUTE_MIN_EPOCHS = 500  # the descent always gets at least this many epochs


def _kernel_route_epochs(prob):
    """Epochs of descent that cost about as much as the kernel route, or 0 when the
    route does not apply (a kernel too large for its time); from the sizes alone.

    One epoch over k active groups costs about ``k n d / 2`` multiply-adds. The route
    takes the form :func:`fixntk.irls` does: for ``n <= p d`` (dual) each step forms the
    n x n kernel (``n^2 p``, the masks' Gram under the Hadamard product) and factors it
    (``n^3 / 3``); otherwise (primal) the masked Gram of order ``p d`` is formed once
    (``n (p d)^2 / 2``) and each step factors it (``(p d)^3 / 3``). BLAS-3 runs these at
    several times the descent's rate. (Counting the Gram at every primal step
    overstated the route 3x at n = 3333, p d = 816, and the descent ran 1423 epochs,
    not 500, before it.)
    """
    n, d, p = prob.n, prob.d, prob.p
    m = min(n, p * d)
    if m > _KERNEL_ROUTE_ORDER:
        return 0
    if n <= p * d:
        route = _KERNEL_ROUTE_STEPS * (n * n * p + n**3 / 3.0)
    else:
        route = 0.5 * n * (p * d) ** 2 + _KERNEL_ROUTE_STEPS * (p * d) ** 3 / 3.0
    epoch = 0.5 * n * d * p
    return max(_KERNEL_ROUTE_MIN_EPOCHS, int(route / _KERNEL_ROUTE_SPEED / epoch))


def kernel_route(X, arr, Y, lam, W, weights, intercept, tol, verbose):
    """The kernel route (:func:`fixntk.irls`, at most 50 steps) on the weighted least
    squares ``1/(2 sum w) sum_k w_k ||Y_k - sum_i [D_i X W_i]_k - b||^2 + lam sum_i
    ||W_i||`` (``w``: ``weights``, or ones), started from the group norms of W (p, d,
    c); the :class:`IRLSResult`, or None where the route cannot run (its memory, a
    singular or non-finite system: it is an accelerator, the descent goes on)."""
    from ._irls import irls

    say = report(verbose, level=1)
    eta = _group_norms(W)
    if not np.any(eta):
        eta = None
    try:
        # memory is asked for only when the route is taken: a few m x m matrices and
        # the masks' n x p products
        n, d = X.shape
        m = min(n, arr.p * d)
        check_fits(8 * (6 * m * m + n * arr.p), "the kernel route")
        # NumPy's over/underflow warnings are the route's own business: a point that
        # is not finite is refused below, and the descent goes on (a row 1e200 times
        # the others at an absolute lam gave a thousand warnings)
        # the arrangement and a tol below round-off are said by the solve already
        # (solve_path said it twice; a tol below round-off was warned about twice)
        with (
            np.errstate(all="ignore"),
            quiet(ConvergenceWarning),
            quiet(UserWarning, "the arrangement's"),
            quiet(UserWarning, ".*unit round-off"),
            # nor is irls's own long-run warning, which advised fixntk.solve from
            # inside it (the command line's fit at 1e5 rows; tester DJ): a long
            # solve says so itself (LongRunNotice)
            kernel_size_warned(),
        ):
            kr = irls(
                X,
                Y,
                arr,
                lam,
                eta0="counts" if eta is None else eta,
                tol=tol,
                max_iter=50,
                scale=eta is None,
                verbose=max(int(verbose) - 1, 0),
                sample_weight=weights,
                fit_intercept=intercept,
            )
        if not np.isfinite(kr.coef).all():
            raise ArithmeticError("its point is not finite")
    except (MemoryError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        if say is not None:
            say(f"solve: kernel route unavailable ({exc}); the descent goes on")
        return None
    return kr


# A certified gap this many times the null model's objective on the way: the
# descent's iterates left the data's scale (see _recertified)
_DIVERGED_GAP = 1e3


# ... or predictions bounded by this many times the largest |y|: the residual is the
# difference of far larger numbers
_FAR_PREDICTIONS = 1e3


def _went_far(prob, out):
    """Whether the compiled descent's residual, updated in place, may carry the
    cancellation of far-off iterates: its gap history left the null model's scale
    (or double precision) on the way, or the predictions of its point are bounded
    only by far more than y's magnitude (``sum_j (sum_i |W_ij|) max_k |x_kj|``,
    no pass over the rows)."""
    gaps = np.asarray(out["gap_history"], dtype=np.float64)
    if gaps.size and not np.all(gaps <= _DIVERGED_GAP * out["f0"]):
        return True
    if out["converged"] and not np.any(out["coef"]):
        # W = 0 certified: its certificate from the rows costs a pass (the descent
        # went far between two certificates on a column at 2.8e11 with a spread of
        # 1 and came back to W = 0 with a residual of 0: objective 0, gap 0, where
        # the null model's objective is 2.08; tester ER)
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        bound = float(np.abs(out["coef"]).sum(axis=(0, 2)) @ prob.col_max())
        top = float(np.abs(prob.Y).max(initial=0.0))
        return not bound <= _FAR_PREDICTIONS * top


def _recertified(prob, W, lam, tol, f0):
    """The intercept, certificate and convergence of W from the rows (two passes).
    The compiled descent updates its residual in place: where its iterates went far
    off and came back (coefficients of 1e144 on two columns one ulp apart, from the
    kernel route or its own round-off), what cancellation left of the residual
    certified W = 0 at an objective of 0, with an intercept of 8e155 (tester DQ)."""
    with np.errstate(all="ignore"):  # a point far off: its values overflow (said)
        b = _intercept_at(prob, prob.predict(W), None)
        primal, dual = prob.certificate(W, b, lam)
    return dict(
        b=b,
        primal=primal,
        dual=dual,
        converged=bool(_gap(primal, dual, f0) <= tol * f0),
    )


def _least_squares(prob, lam, W0, tol, max_iter, verbose):
    """The squared loss in the scaled space: the compiled descent, then, if it was slow,
    the kernel route from its group norms (see ``_kernel_route_epochs``). Returns the
    keyword arguments of ``_result`` but ``lam``."""
    from ._gram_ws import gram_route_epochs

    weights = prob.s if prob.weighted else None

    def descend(start, epochs, before=0):
        """The compiled descent from ``start`` for ``epochs``, ``before`` run so far."""
        out = weighted_least_squares(
            prob.X,
            prob.arr.packed,
            prob.Y,
            lam,
            start,
            weights=weights,
            intercept=prob.fit_intercept,
            tol=tol,
            max_iter=epochs,
            verbose=verbose,
            gram_store=prob.gram_store(),
            block_step=prob.block_step,
            streamed=prob.streamed,
            value_scale=prob.value_out(1.0),  # the log in the caller's units
        )
        gap = out["primal"] - out["dual"]
        solve_status(before + out["n_epochs"], gap, out["f0"], tol)
        return out

    gram = gram_route_epochs(prob)
    kernel = _kernel_route_epochs(prob)

    def gram_route(fit=None):
        """The Gram route, for half the epochs left where the kernel route can
        follow it (columns at scales 1e-4 to 1e4: the descent on the Gram crawled
        through all of max_iter, where the kernel route certifies; tester EO)."""
        done = 0 if fit is None else fit["n_epochs"]
        cap = done + (max_iter - done) // 2 if kernel else max_iter
        return _gram_least_squares(prob, lam, W0, tol, max(cap, done + 1), verbose, fit)

    def after_gram_route(fit):
        """The kernel route (where it applies) and the descent after a Gram route
        that stopped uncertified with epochs left (it is an accelerator: one that
        stalled was returned as the solve's answer, at a relative gap of 6e-2 where
        the descent certifies; tester EO); the Gram route's point where the descent
        then diverged (ended above the null model, which would be returned: an
        ill-conditioned design, 150 rows at 1e8 with a spread of 1)."""
        if fit["converged"] or fit["n_epochs"] >= max_iter:
            return fit
        out = _kernel_route_then_descent(
            prob, lam, fit, tol, max_iter, verbose, descend, route=bool(kernel)
        )
        if not out["converged"] and not out["primal"] <= out["f0"]:
            return fit if fit["primal"] <= fit["f0"] else out
        return out

    if gram and prob.gram_ws is not None:
        # the Gram of an earlier solve on this problem (a path) is at hand: the
        # route costs a pass per outer iteration, and the Gram of new groups only
        return after_gram_route(gram_route())
    budget = gram or kernel
    first = min(max_iter, budget) if budget else max_iter
    if gram and first > _GRAM_PROBE_EPOCHS and np.any(W0):
        out = _probed_descent(descend, W0, first, tol)
        first = out["n_epochs"]  # where it handed over
    else:
        out = descend(W0, first)
    fit = dict(
        W=out["coef"],
        b=out["intercept"],
        primal=out["primal"],
        dual=out["dual"],
        f0=out["f0"],
        n_epochs=out["n_epochs"],
        n_newton=0,
        converged=out["converged"],
        gaps=out["gap_history"],
    )
    if _went_far(prob, out):
        fit.update(_recertified(prob, out["coef"], lam, tol, out["f0"]))
    if fit["converged"] or first >= max_iter:
        return fit
    if lam >= prob.lam_max() * (1.0 - 1e-12):
        # W = 0 is optimal by lambda_max's rule (which takes block gradients within
        # their round-off for 0), and the descent may be moving round-off: the null
        # model with its own certificate, where that certifies it (a certificate of
        # 0 by that rule alone certified W = 0 on a column at 1e15 with a real
        # spread of 8 ulps, whose optimum is half the null model's; tester DT).
        # Asked only here: lambda_max costs a pass, which a fast descent does not
        # need.
        null = _null_fit(prob, lam, tol, fit)
        if null["converged"]:
            return dict(null, gaps=np.append(out["gap_history"], null["gaps"]))
    say = report(verbose, level=1)
    if say is not None:
        rel = (out["primal"] - out["dual"]) / out["f0"]
        say(
            f"solve: descent slow (relative gap {rel:.2e} after {out['n_epochs']} "
            "epochs): "
            + (
                "the working-set Gram route from its point"
                if gram
                else "the kernel route (irls) from its group norms"
            )
        )
    if gram:
        return after_gram_route(gram_route(fit))
    return _kernel_route_then_descent(prob, lam, fit, tol, max_iter, verbose, descend)


# A warm-started descent ahead of the Gram route runs this many epochs, then the rest
# of its budget only where the gap's rate over them reaches tol within it (see
# _probed_descent).
_GRAM_PROBE_EPOCHS = 20


def _probed_descent(descend, W0, epochs, tol):
    """The descent from a warm start W0 (a refit from the lam search's point, a user's
    start) ahead of the Gram route: ``_GRAM_PROBE_EPOCHS`` epochs, then the rest of
    its budget of ``epochs`` where the gap rose or, falling at its rate over the
    probe (geometric), would reach ``tol`` within them; else it hands over at once. The
    budget is the cost of the Gram of all the groups, which a warm start does not
    need to recoup: its working set is known. (GatedReLURegressor's refit on
    make_friedman1, 75000 rows of 10 features, 284 groups, from a relative gap of 7e-2:
    the descent's 130 epochs of budget brought it to 4e-3 and the whole solve took
    42 s; handing over after 20, 23.6 s, to a smaller gap.) Returns the descent's dict,
    its epochs and histories counted over both parts."""
    out = descend(W0, _GRAM_PROBE_EPOCHS)
    if out["converged"]:
        return out
    gaps, marks = np.asarray(out["gap_history"]), np.asarray(out["epoch_history"])
    left = epochs - int(out["n_epochs"])
    # a gap that did not fall (or fewer than two certificates): the descent's working
    # set is still growing, its budget goes on (from 0.3 of the lam of the start, the
    # gap rose from 3.5e-2 to 5.3e-2 over the probe, and the route from there took
    # 72 s against 45 s)
    if gaps.size >= 2 and marks.size == gaps.size:
        span = float(marks[-1] - marks[0])
        g0, g1, target = float(gaps[0]), float(gaps[-1]), tol * out["f0"]
        if span > 0 and 0 < g1 < g0 and target > 0:
            needed = np.log(g1 / target) * span / np.log(g0 / g1)
            if needed > left:
                return out
    more = descend(out["coef"], left, before=int(out["n_epochs"]))
    return dict(
        more,
        n_epochs=int(out["n_epochs"]) + int(more["n_epochs"]),
        gap_history=np.concatenate([gaps, more["gap_history"]]),
        epoch_history=np.concatenate(
            [marks, np.asarray(more["epoch_history"]) + int(out["n_epochs"])]
        ),
    )


def _kernel_route_then_descent(
    prob, lam, fit, tol, max_iter, verbose, descend, route=True
):
    """The kernel route from ``fit``'s point (the dict of ``_result``'s arguments, not
    certified; without ``route``, none), then, if it did not certify, the descent
    (``descend(start, epochs, before)``) from the better point for the epochs left;
    the point of the smallest gap is returned."""
    weights = prob.s if prob.weighted else None
    n_epochs, n_irls, routed = fit["n_epochs"], 0, False
    # the descent's point with its certificate (from the rows where it went far:
    # the compiled one, a gap of 0 at an intercept of 4e154, was returned as the
    # best point of an uncertified solve; tester DT)
    W, primal, dual, gaps = fit["W"], fit["primal"], fit["dual"], fit["gaps"]
    points = [(primal, dual, W, fit["b"])]  # certified points so far
    kr = None
    if route:
        kr = kernel_route(
            prob.X, prob.arr, prob.Y, lam, W, weights, prob.fit_intercept, tol, verbose
        )
    if kr is not None:
        n_irls, routed = kr.n_iter, True
        W = np.ascontiguousarray(np.reshape(kr.coef, (prob.p, prob.d, prob.c)))
        b = _intercept_at(prob, prob.predict(W), None)
        primal, dual = prob.certificate(W, b, lam)
        gaps = np.append(gaps, primal - dual)
        points.append((primal, dual, W, b))
    if routed and primal - dual <= tol * fit["f0"]:
        return dict(
            fit,
            W=W,
            b=b,
            primal=primal,
            dual=dual,
            converged=True,
            gaps=gaps,
            n_irls=n_irls,
        )
    # not certified: the descent goes on from the better point for the epochs left
    start = W if primal < fit["primal"] else fit["W"]
    more = descend(start, max_iter - n_epochs, before=n_epochs)
    # Uncertified, the point of the smallest gap is returned, with its own
    # certificate: the descent's gap need not fall as its objective does, and a
    # tester's 40 rows (at 1e-5 lam_max, the route's point at a relative gap of
    # 2.0e-5) ended at the resumed descent's last one, 7.6e-4. A descent that ended
    # above the null model's objective diverged in round-off (the null model is
    # returned then).
    W, f0 = more["coef"], more["f0"]
    # certified again from the rows (_recertified): the resumed descent may start
    # from a route's point far off
    again = _recertified(prob, W, lam, tol, f0)
    b, primal, dual, converged = (
        again[k] for k in ("b", "primal", "dual", "converged")
    )
    if not converged and primal <= f0:
        for point in points:
            if np.isfinite(point[1]) and point[0] - point[1] < primal - dual:
                primal, dual, W, b = point
    return dict(
        W=W,
        b=b,
        primal=primal,
        dual=dual,
        f0=f0,
        n_epochs=n_epochs + more["n_epochs"],
        n_newton=0,
        converged=converged,
        gaps=np.concatenate([gaps, more["gap_history"]]),
        n_irls=n_irls,
    )


def _gram_least_squares(prob, lam, W0, tol, max_iter, verbose, fit=None):
    """The squared loss by the working-set method on the Gram of the working sets
    (:mod:`fixntk._gram_ws`) from W0, or from the descent's ``fit`` (the dict of
    ``_result``'s arguments) for the epochs left: the same program, certificate and
    stopping rule, each certificate from a pass that forms the residual anew. The
    Gram is kept on the problem for its later solves (a path). Uncertified, the point
    of the smaller gap is returned."""
    from ._gram_ws import MemoryGram

    if prob.gram_ws is None:
        prob.gram_ws = MemoryGram(prob)
    gw = prob.gram_ws
    done = 0 if fit is None else fit["n_epochs"]
    left = max_iter - done
    start = W0
    if fit is not None:
        # from the descent's point, or from W = 0 where it ended above the null
        # model (it diverged: an objective of inf; tester ER)
        start = fit["W"] if fit["primal"] <= fit["f0"] else np.zeros_like(fit["W"])
    W, primal, dual, epochs, _, converged, gaps, _ = gw.solve(
        lam, start, tol, left, left, verbose, before=done
    )
    solved = dict(
        W=W,
        b=gw.intercept(W),
        primal=primal,
        dual=dual,
        f0=0.5 * gw.y2,
        n_newton=0,
        converged=converged,
    )
    if not converged or primal < dual:
        # the certificate from the rows, as the descent's and fixntk.duality_gap's:
        # the route's sums round apart from them on a column at 1e15 with a spread
        # of 1, and it reported a relative gap of 0.31 where duality_gap gives 0.47;
        # and where its dual is above its objective (-2.8e-14 at an objective of 0.10
        # on a column at 1e8), the rows' certificate is the one reported
        solved.update(_recertified(prob, W, lam, tol, solved["f0"]))
    if fit is None:
        return dict(solved, n_epochs=epochs, gaps=gaps)
    if not converged and not primal - dual < fit["primal"] - fit["dual"]:
        solved = {}
    return dict(
        fit,
        **solved,
        n_epochs=done + epochs,
        gaps=np.concatenate([fit["gaps"], gaps]),
    )


_ROUNDOFF = 1e-12  # relative size of the rounding in a primal or dual value


def _gap(primal, dual, f0=0.0):
    """primal - dual, and 0 where it is negative only by their rounding: primal and
    dual then agree to their last bits. Each is a sum of n rounded terms of the size
    of the null model's objective ``f0`` or less, so their rounding is measured
    against the largest of the three (a logistic fit near separation, an objective of
    1e-6, reported -1.3e-18; a path of 60000 rows -1.0e-13 of its objective; tester
    ET); a larger negative gap is kept (it would say that the certificate itself is
    wrong)."""
    gap = primal - dual
    if gap < 0 and -gap <= _ROUNDOFF * max(abs(primal), abs(dual), abs(f0)):
        return 0.0
    return gap


def _certified_gap(prob, primal, dual, f0=0.0):
    """:func:`_gap`, refused where a user's datafit gives a dual value above the
    objective beyond round-off (its dual is then no lower bound, and a negative gap
    was reported as converged)."""
    gap = _gap(primal, dual, f0)
    if gap < 0 and not is_builtin(prob.datafit):
        raise ValueError(
            f"the datafit {prob.datafit.name!r} gives a dual value above the "
            f"objective ({prob.value_out(dual):.6g} > {prob.value_out(primal):.6g}): "
            "its dual is not the conjugate of its value, or its gradient (from "
            "which the dual point is built) is not the derivative of its value; no "
            "certificate can be given"
        )
    return gap


# A stall below this lam / lam_max is told as the certificate's round-off floor.
_TINY_LAM = 1e-12


def _history_out(prob, gaps):
    """The gap history in the caller's units, inf where an iterate's certificate left
    double precision: a record of the run, not its result (a descent that diverged in
    round-off on a column at 1.7e18 and was then replaced by a certified point made
    GatedReLURegressor's lam search fail with an overflow error; tester DQ)."""
    gaps = np.asarray(gaps, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        out = gaps * (prob.sy * prob.sy if prob.sy > 0 else 1.0)
    out[~np.isfinite(out)] = np.inf
    return out


def _result(
    prob, W, b, primal, dual, f0, n_epochs, n_newton, converged, lam, gaps, n_irls=0
):
    W = prob.coef_out(W)
    gap = _certified_gap(prob, primal, dual, f0)
    return SolveResult(
        coef=prob.publish(W),
        objective=float(prob.value_out(primal)),
        gap=float(prob.value_out(gap)),
        dual=float(prob.value_out(dual)),
        f0=float(prob.value_out(f0)),
        n_iter=int(n_epochs),
        converged=bool(converged),
        active_set=np.flatnonzero(_group_norms(W) > 0),
        lam=float(lam),
        gap_history=_history_out(prob, gaps),
        intercept=prob.intercept_out(b),
        loss=prob.datafit.name,
        datafit=getattr(prob.datafit, "_fixntk_original", prob.datafit),
        classes=prob.targets.classes,
        n_newton=int(n_newton),
        n_irls=int(n_irls),
        sample_weight=prob.user_weights,
    )


# --------------------------------------------------------------------------- public API


def lambda_max(X, y, arr, *, loss="squared", sample_weight=None, fit_intercept=False):
    r"""Smallest ``lam`` for which ``W = 0`` minimises the gated ReLU program.

    .. math::

        \lambda_{\max} = \max_i \Big\| X^T D_i \big(s \circ \ell'(y, b_0)\big) \Big\|_F
        \Big/ \sum_j s_j,

    the largest block gradient of the datafit at the null model (``W = 0`` with its
    best intercept ``b_0``, or 0 without one). For the squared loss without weights or
    intercept this is :math:`\max_i \|X^T D_i y\| / n` (Dwaraknath et al. 2023, the
    group-lasso form of their eq. (3) in our scaling).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
        Targets as :func:`solve` takes them for ``loss``.
    arr : Arrangement or bool array of shape (n, p)
    loss : str or Datafit, default="squared"
        "squared", "logistic", "multinomial", "poisson", or a
        ``fixntk.datafits.Datafit``.
    sample_weight : array-like of shape (n,), optional
        Non-negative weights (normalised by their sum).
    fit_intercept : bool, default=False
        Whether the program has an unpenalised output intercept.

    Returns
    -------
    float
        In the units of ``lam`` (scales as ``|X| |y|`` for the squared loss, as
        ``|X|`` for the classification losses, as ``|X| |y|`` for Poisson counts,
        which are refused above 1e100). Any other magnitude of X and y is handled; a
        value beyond double precision raises ValueError. (A Poisson solve without an
        intercept was measured to reach the optimum for counts up to about 1e30;
        above, it may stop early, with a ConvergenceWarning that says so.)

    Raises
    ------
    ValueError
        For invalid inputs (shapes, NaN, labels a loss cannot take, negative weights).
    """
    prob = _Problem(X, y, arr, loss, sample_weight, fit_intercept)
    return _lambda_max(prob)


def intercept_shift(Y, s, constant):
    """What a squared-loss program with an intercept subtracts from Y (n, c) before
    scaling it, and adds back to the intercept: Y's weighted mean (weights ``s``),
    or, for a ``constant`` target (:func:`rows_equal`), the value itself, not its
    computed mean. The same program, exactly; scaled by max |Y| first, an offset
    large next to Y's spread left its variation to Y's last digits (offset 1e8 in
    solve, 1e11 in irls: negative gaps reported as certified)."""
    if constant:
        return Y[np.flatnonzero(s > 0)[0]].copy()
    return (s @ Y) / float(s.sum())


def rows_equal(Y, sample_weight=None):
    """Whether every row of Y (n, ...) of positive weight is the same (a constant
    target): with an intercept, the null model fits it exactly."""
    Y = np.asarray(Y)
    Y = Y.reshape(Y.shape[0], -1)
    if sample_weight is not None:
        Y = Y[np.asarray(sample_weight) > 0]
    return bool(Y.shape[0] > 0 and (Y == Y[0]).all())


def _lambda_max(prob):
    return lam_out(prob.lam_max(), prob.sx, prob.sy)


def _scaled_lam_max(prob):
    if prob.degenerate or prob.null_optimal or prob.null_design:
        return 0.0
    b0 = prob.null_intercept()
    G, grads = prob.block_gradients(np.broadcast_to(b0, (prob.n, prob.c)))
    # Entries within their round-off (sums of n products: sqrt(n) eps times the sum of
    # absolute values) are 0 in exact arithmetic: with constant features and an
    # intercept, y is orthogonal to every group and the computed lam_max was noise,
    # about 0.1 of this level.
    level = np.sqrt(prob.n) * np.finfo(np.float64).eps * (np.abs(prob.X).T @ np.abs(G))
    grads[np.abs(grads) <= level] = 0.0
    return float(norms(grads).max()) / prob.S  # no overflow of the squares


def objective(
    X,
    y,
    arr,
    W,
    lam,
    *,
    loss=None,
    sample_weight=None,
    fit_intercept=None,
    intercept=None,
):
    r"""The objective of the gated ReLU program at ``W`` (and an output intercept).

    .. math::

        F(W, b) = \frac{1}{\sum_j s_j} \sum_{j=1}^n s_j\, \ell\big(y_j,
        [\textstyle\sum_i D_i X W_i]_j + b\big) + \lambda \sum_{i=1}^p \|W_i\|_F,

    with :math:`D_i = \mathrm{diag}(m_i)` the i-th mask of ``arr`` and :math:`\ell` the
    datafit of ``loss`` (squared: :math:`\frac12\|y - f\|^2`, the paper's program with
    ``s = 1``, ``b = 0``).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    arr : Arrangement or bool array of shape (n, p)
    W : array-like of shape (p, d) or (p, d, c), or SolveResult
        A :class:`SolveResult` brings its intercept (unless ``intercept`` is given),
        its loss (``loss``, if given, must be the same) and its sample weights
        (unless ``sample_weight`` is given).
    lam : float >= 0
    loss : str or Datafit, optional
        "squared" (the default), "logistic", "multinomial", "poisson", or a
        ``fixntk.datafits.Datafit``.
    sample_weight : array-like of shape (n,), optional
    fit_intercept : bool, optional
        With ``intercept=None``, the objective at the best intercept for ``W``.
        Default False, or for a :class:`SolveResult` with an intercept True (given
        False there with ``intercept=None``, a ValueError, as in
        :func:`duality_gap`).
    intercept : float or array-like of shape (c,), optional
        The intercept ``b`` to evaluate at (overrides ``fit_intercept``).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, labels
        the loss cannot take, negative sample weights, or an objective beyond
        the range of double precision.
    """
    given = intercept
    loss, intercept, with_b = _result_terms(W, loss, intercept)
    if fit_intercept is None:
        fit_intercept = with_b
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    if with_b and given is None and not fit_intercept:
        # the value with the result's intercept was returned, silently (tester CY)
        raise ValueError(
            "W is a SolveResult with an intercept, and fit_intercept=False was given: "
            "its objective is the program's with an intercept; drop fit_intercept, "
            "or pass W.coef for the program without one"
        )
    sample_weight = _result_weights(W, X, sample_weight)
    prob = _Problem(X, y, arr, loss, sample_weight, fit_intercept)
    lam = check_positive(lam, "lam", allow_zero=True)
    W = prob.check_coef(W)
    F = prob.predict(W)
    b = _intercept_at(prob, F, intercept)
    penalty = _penalty_term(prob, lam, W)
    value = prob.datafit.value(prob.Y, F + b, prob.s) + penalty
    return float(prob.value_out(value))


def _penalty_term(prob, lam, W):
    """``lam sum_i ||W_i||`` in the problem's scaled space, for :func:`objective` and
    :func:`duality_gap`: a ValueError naming the penalty where it (in the caller's
    units) leaves double precision, which the total's check blamed on y ('rescale y',
    |y| up to 6) or on the predictions (tester DG)."""
    with np.errstate(over="ignore", invalid="ignore"):
        term = prob.lam_in(lam) * _penalty(W)
        caller = term * prob.sy * prob.sy if prob.sy > 0 else term
    if not np.isfinite(caller):
        raise ValueError(
            f"the penalty lam * sum_i ||W_i|| (lam = {lam:.3g}) exceeds the range of "
            "double precision at these coefficients; use a smaller lam or W"
        )
    return term


def _result_terms(W, loss, intercept):
    """(loss, intercept, whether W brings an intercept) for :func:`objective` and
    :func:`duality_gap`: a SolveResult's own where the caller gave none (its objective
    was taken at its intercept, which these functions left out: 0.428 against the
    result's 0.173), the caller's otherwise; a loss other than the result's is an
    error."""
    if not isinstance(W, SolveResult):
        return ("squared" if loss is None else loss), intercept, False
    own = W.datafit
    if own is None:
        try:
            own = get_datafit(W.loss)
        except ValueError:  # a result that keeps only its datafit's name
            raise ValueError(
                f"W is a SolveResult of the datafit {W.loss!r}: pass that datafit as "
                "loss=..."
            ) from None
    if loss is None:
        loss = own
    elif type(get_datafit(loss)) is not type(own):
        # by class, not name: a user's subclass of Squared keeps the name "squared"
        raise ValueError(
            f"W is a SolveResult of the datafit {type(own).__name__} "
            f"({W.loss!r}), and loss={loss!r} was given: the objective and gap are "
            "the program's at its own datafit; drop loss, or pass W.coef"
        )
    with_b = bool(np.any(np.asarray(W.intercept) != 0))
    return loss, (W.intercept if intercept is None else intercept), with_b


def _result_weights(W, X, sample_weight):
    """The row weights of :func:`objective` and :func:`duality_gap`: the caller's,
    or a weighted SolveResult's own (the program it solved; without them its gap was
    that of the unweighted program at its coefficients, 3.9e-2 for a solve certified
    at 2.3e-11, without a word; tester BP; a Dask result's too, tester BS). A weighted
    result on other rows than its own needs the caller's weights."""
    own = getattr(W, "sample_weight", None) if isinstance(W, SolveResult) else None
    if sample_weight is not None or own is None:
        return sample_weight
    if np.ndim(X) != 2:  # X's own error comes first (a reviewer)
        return None
    if hasattr(own, "compute"):  # a Dask result's: n numbers, computed here
        own = np.asarray(own.compute(), dtype=np.float64)
    n = np.shape(X)[0]
    if n != own.shape[0]:
        raise ValueError(
            f"W is a SolveResult solved with sample weights on {own.shape[0]} rows, "
            f"and X has {n}: pass sample_weight for these rows (np.ones(n) for the "
            "unweighted program)"
        )
    return own


def _intercept_at(prob, F, intercept):
    """The intercept given (in the user's units), or the best for the predictions F
    (n, c), or 0 without one. The best is sought from the null model's intercept less
    F's weighted mean: from 0, Newton's steps never reached it for predictions 2e7
    from 0 (a column offset by 1e8, whose neurons' offsets the intercept cancels), and
    duality_gap gave 9.2e6 for a solve certified at 3.9e-6 (a reviewer)."""
    if intercept is not None:
        return prob.intercept_in(intercept)
    if prob.fit_intercept:
        # ... and from the null model's own intercept, the better of the two taken:
        # from the first, where F is large and unbalanced, a Newton step can land
        # where the curvatures underflow to 0 and stop there (an intercept 870 off,
        # and duality_gap 13.8 for a solve certified at 2e-11; tester EY)
        null = prob.null_intercept()
        fits = [
            np.asarray(prob.datafit.intercept(prob.Y, F, prob.s, start), dtype=float)
            for start in (null - (prob.s @ F) / prob.S, null)
        ]
        with np.errstate(all="ignore"):
            values = [prob.datafit.value(prob.Y, F + b, prob.s) for b in fits]
        values = [v if np.isfinite(v) else np.inf for v in values]
        return fits[int(np.argmin(values))]
    return np.zeros(prob.c)


def duality_gap(
    X, y, arr, W, lam, *, loss=None, sample_weight=None, fit_intercept=None
):
    r"""Duality gap of ``W``: ``F(W, b) - D(theta) >= 0``, zero exactly at an optimum.

    The dual point is the datafit's gradient at ``W`` rescaled into the dual feasible
    set, :math:`\theta = -\ell'(F) / \max(1, \max_i \|X^T D_i (s \circ \ell'(F))\|
    / (\lambda \sum s))`, and :math:`D(\theta) = -\frac{1}{\sum s}\sum_j s_j
    \ell^*(-\theta_j)` with :math:`\ell^*` the Fenchel conjugate (squared:
    :math:`(\|y\|^2 - \|y - \theta\|^2)/2` per row; logistic and multinomial: the
    entropy of the rescaled probabilities). With ``fit_intercept`` the gap is that of
    the program with an intercept, at the best intercept for ``W``.

    Parameters
    ----------
    X, y, arr, W, lam, loss, sample_weight, fit_intercept :
        As in :func:`objective`, except that ``lam`` must be > 0 (the dual point is
        the residual rescaled by 1 / lam). ``fit_intercept`` defaults to False, or
        for a :class:`SolveResult` as ``W`` to whether it has an intercept; such a
        result also brings its loss and sample weights.

    Returns
    -------
    float
        In the units of the objective.

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, labels
        the loss cannot take, negative sample weights, ``lam <= 0``, or a gap beyond
        the range of double precision.
    """
    loss, _, with_b = _result_terms(W, loss, None)
    if fit_intercept is None:
        fit_intercept = with_b
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    if with_b and not fit_intercept:
        # it certified the program with an intercept, silently: 4e-11 where the
        # program asked for has a gap of 10 at these coefficients (tester BG)
        raise ValueError(
            "W is a SolveResult with an intercept, and fit_intercept=False was given: "
            "its gap is the program's with an intercept; drop fit_intercept, or pass "
            "W.coef for the program without one"
        )
    sample_weight = _result_weights(W, X, sample_weight)
    prob = _Problem(X, y, arr, loss, sample_weight, fit_intercept)
    lam = check_lam(lam)
    W = prob.check_coef(W)
    b = _intercept_at(prob, prob.predict(W), None)
    _penalty_term(prob, lam, W)
    primal, dual = prob.certificate(W, b, prob.lam_in(lam))
    f0 = prob.null_value(prob.null_intercept())
    return float(prob.value_out(_certified_gap(prob, primal, dual, f0)))


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
):
    r"""Solve the gated ReLU convex program (a group lasso over masked copies of X).

    Minimises

    .. math::

        F(W, b) = \frac{1}{\sum_j s_j} \sum_{j=1}^n s_j\, \ell\big(y_j,
        [\textstyle\sum_i D_i X W_i]_j + b\big) + \lambda \sum_{i=1}^p \|W_i\|_F,

    with :math:`D_i = \mathrm{diag}(m_i)` the masks of ``arr``, sample weights ``s``
    (ones by default) and an unpenalised output intercept ``b`` when
    ``fit_intercept``. With the squared loss :math:`\ell = \frac12\|y - f\|^2`, unit
    weights and no intercept this is the paper's program (Dwaraknath, Ergen and
    Pilanci 2023, eq. (3), divided by n: ``lam = lam_paper / n``), solved by working-set
    block coordinate descent with exact block updates in one compiled call; where the
    rows far outnumber the masked columns (``n >= 10 p d``) and that descent is slow,
    the working sets' problems are solved from their Gram instead
    (:mod:`fixntk._gram_ws`, the method of :func:`fixntk.dask.solve`). Other losses
    run a proximal Newton (IRLS) loop whose weighted least-squares steps are that same
    solver, warm started, with a backtracking line search. Every solve stops when the
    duality gap (:func:`duality_gap`) is at most ``tol * f0``, ``f0`` the objective of
    the null model.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like
        Squared loss: shape (n,) or (n, c) of floats (with c outputs ``w_i`` is a
        (d, c) matrix with its Frobenius norm). Logistic: n labels of two classes,
        mapped to -1/+1 in sorted order. Multinomial: n labels of c classes (sorted),
        or a one-hot (n, c) array.
    arr : Arrangement or bool array of shape (n, p)
        The gates' masks (from :func:`sample_arrangement`, or built by the user).
        Groups with equal masks are solved as one: the result puts its weight on
        the first of them and 0 on the others (the same objective; any split
        among equal masks costs at least as much penalty).
    lam : float > 0
        Regularisation strength (``lam >= lambda_max(...)`` gives ``W = 0``).
    tol : float in (0, 1), default=1e-6
        Relative duality gap to reach: stop when ``gap <= tol * F(0)``, F(0) the
        objective at W = 0. The objective is then within ``tol * F(0)`` of the
        optimum; where the optimum is far below F(0) (lam far below lam_max, a fit
        near interpolation), that can be a large fraction of the optimum itself:
        compare ``gap`` with ``objective``, and lower ``tol`` if the fraction
        matters.
    warm_start : array of shape (p, d) / (p, d, c), or SolveResult, optional
        Starting point.
    max_iter : int, default=100000
        Maximum number of epochs (passes over a working set), over all outer steps.
        The non-quadratic losses also stop after 500 proximal Newton steps (each
        ConvergenceWarning names the limit that stopped the solve).
    verbose : int or bool, default=False
        Log the certificate after each outer iteration (INFO on the ``fixntk``
        logger, on standard error when logging is not configured).
    loss : str or Datafit, default="squared"
        "squared", "logistic", "multinomial", "poisson", or a
        ``fixntk.datafits.Datafit``.
        The datafit (:mod:`fixntk.datafits`).
    sample_weight : array-like of shape (n,), optional
        Non-negative weights, normalised by their sum (integer weights equal duplicated
        rows). Rows of weight 0 are left out once the classes are read from y: their
        values, however large, do not enter the solve or the certificate. Positive
        weights may span a ratio of at most 1e14 (ValueError beyond).
    fit_intercept : bool, default=False
        Fit an unpenalised output intercept ``b`` (scikit-learn's meaning; distinct
        from neuron biases, which come from a column of ones in X).

    Returns
    -------
    SolveResult
        With ``converged=False`` and a ``ConvergenceWarning`` if ``max_iter`` ran out;
        the result then holds the last iterate and the gap it certifies.

    Raises
    ------
    ValueError
        For invalid inputs, with a message naming the argument.
    MemoryError
        When the solver's working memory exceeds what is available (before allocating).

    Notes
    -----
    **Small lam.** Block coordinate descent converges linearly, at a rate set by the
    conditioning of the masked design: on correlated or duplicated columns, and as
    ``lam -> 0`` (the program tends to interpolation with every group active), it can
    need 10^4 - 10^6 epochs. For the squared loss, when the program's multiple-kernel
    form has a kernel of order ``min(n, p d) <= 5000``, the descent first runs for about
    the cost of a few steps of :func:`irls` (at least 500 epochs; the budget comes from
    the sizes alone, so the result is deterministic) and, if it has not certified
    ``tol`` by then, :func:`irls` continues from its group norms (kernel ridge with
    projected Newton steps on the kernel weights, which converges in a few steps
    there). Its point is certified by the same duality gap; ``n_irls`` counts its
    steps. If it does not certify, or cannot run, the descent resumes from the better
    point for the epochs left (and an uncertified solve returns the point of the
    smallest gap it reached). A fast descent is never replaced, and a slow one costs
    at most about twice the better route. Measured (``python benchmarks/small_lam.py``,
    one thread): on a Toeplitz design with duplicated columns and rows (n = 500,
    d = 13, p = 200) at 1e-6 ``lambda_max`` the descent alone stalled after 23895
    epochs (5.3 s) at a relative gap of 3.4e-5, while 500 epochs and 10 steps of the
    route certify 1e-6 in 0.3 s; on S1 (n = 5000, d = 20, p = 500) at 1e-4
    ``lambda_max``, 107 s alone, 60 s with the route.

    The logistic loss's proximal Newton steps solve the same weighted least squares
    (exact row curvatures as weights), and take the same route once their inner
    descents have missed their targets for about its cost (then after 25 epochs of
    descent at each step): on two nearly collinear directions spread over ten columns
    (n = 300, p = 53, tests/test_small_lam.py) at 1e-3 ``lambda_max``, 20000 epochs
    left the gap at 2.5e-2 without it; with it 1000 epochs and 5 kernel ridge solves
    certify 1e-6 in 0.2 s. (The multinomial loss's per-row bound steps were measured
    not to gain from it: its exact steps weigh each output apart.)
    """
    prob = _Problem(X, y, arr, loss, sample_weight, fit_intercept)
    lam = check_lam(lam)
    tol = check_relative_tol(tol)
    max_iter = check_int(max_iter, "max_iter", 1)
    verbose = _check_verbose(verbose)
    if warm_start is None:
        W0 = np.zeros((prob.p, prob.d, prob.c))
    else:
        W0 = prob.check_coef(warm_start, "warm_start")
    merged = prob.merge_equal_masks()
    if merged is not None:
        W0 = merged.reduce(W0)
    with solve_notice("solve", verbose):
        res = _solve_problem(prob, lam, W0, tol, max_iter, verbose)
    return res if merged is None else merged.expand(res)


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
):
    """Solve along a decreasing grid of ``lam``, each solve warm-started from the last.

    The default grid is ``n_lams`` values log-spaced from ``lambda_max`` down to
    ``eps * lambda_max``. The objective at each ``lam`` is that of :func:`solve` (same
    ``loss``, ``sample_weight``, ``fit_intercept``).

    Parameters
    ----------
    X, y, arr :
        As in :func:`solve`.
    lams : array-like of floats > 0, optional
        The grid (sorted decreasing); default from ``n_lams`` and ``eps``.
    n_lams : int from 1 to 100000, default=50
    eps : float in (0, 1), default=1e-3
    tol, max_iter, loss, sample_weight, fit_intercept :
        As in :func:`solve`, for every value.
    verbose : int, default=False
        1: a progress bar over the grid (a line every 30 s off a terminal); 2: also log
        each solve's certificates.

    Returns
    -------
    PathResult
        Unpacks as ``(lams, coefs, gaps, n_iters)``: the grid (decreasing), the
        coefficients at each value, the certified duality gaps and the epochs spent;
        ``intercepts`` and ``results`` hold the rest.

    Raises
    ------
    ValueError
        For invalid inputs, or when ``lambda_max`` is 0 (y orthogonal to every group)
        and no grid is given.
    """
    prob = _Problem(X, y, arr, loss, sample_weight, fit_intercept)
    tol = check_relative_tol(tol)
    max_iter = check_int(max_iter, "max_iter", 1)
    verbose = _check_verbose(verbose)
    lams = _lam_grid(lams, n_lams, eps, lambda: _lambda_max(prob))
    merged = prob.merge_equal_masks()
    W = np.zeros((prob.p, prob.d, prob.c))
    results, previous = [], None
    with path_notice("solve_path", verbose, results, len(lams)):
        for j, lam in enumerate(
            progress(lams, verbose=verbose, desc="fixntk path", unit="lam")
        ):
            res = _solve_problem(
                prob,
                float(lam),
                _secant_start(lams, j, W, previous),
                tol,
                max_iter,
                bool(verbose and verbose >= 2),
                warn="fixntk.solve_path",
            )
            previous, W = W, prob.check_coef(res.coef)
            results.append(res if merged is None else merged.expand(res))
    return PathResult(lams, results)


def _secant_start(lams, j, W, previous):
    """The warm start at ``lams[j]`` from the solutions at the two values before: the
    secant through them, ``W + (lams[j] - lams[j-1]) / (lams[j-1] - lams[j-2]) (W -
    previous)``, on the groups nonzero in W (a group that just left stays at 0); W
    itself at the first two values (``j < 2``, ``previous`` None). On S1's 50-point
    path it saves about a sixth of the epochs."""
    if j < 2 or previous is None or not lams[j - 1] < lams[j - 2]:
        return W
    step = (lams[j] - lams[j - 1]) / (lams[j - 1] - lams[j - 2])
    live = np.abs(W).reshape(W.shape[0], -1).sum(axis=1) > 0
    start = W.copy()
    start[live] += step * (W[live] - previous[live])
    return start


def _lam_grid(lams, n_lams, eps, lambda_max):
    """The decreasing grid of a path: ``lams`` validated and sorted, or (when None)
    ``n_lams`` values log-spaced from ``lambda_max()`` (a callable, called only then)
    down to ``eps`` times it."""
    if lams is None:
        n_lams = check_grid_size(n_lams)
        eps = check_eps(eps)
        lmax = lambda_max()
        if lmax == 0:
            raise ValueError(
                "lambda_max is 0 (y is zero or orthogonal to every group, or with "
                "fit_intercept constant, which the intercept alone fits): W = 0 for "
                "every lam > 0 and there is no default grid; pass lams explicitly"
            )
        return lmax * np.logspace(0, np.log10(eps), n_lams)
    want = "lams must be a 1-d array of floats > 0"
    # (sets and dict views have no order; iterators are read once)
    one_pass = np.iterable(lams) and not hasattr(lams, "__getitem__")
    if isinstance(lams, (str, bytes)) or one_pass:
        # (a generator was refused as 'lam must be a real number', tester DX)
        raise TypeError(
            f"{want} (a list, tuple or array; sets have no order and iterators are "
            f"read once: pass sorted(...) or list(...)); got {type(lams).__name__}"
        )
    try:
        if np.ndim(lams) > 1:
            raise ValueError(f"got shape {np.shape(lams)}")
        given = np.asarray([check_lam(v) for v in np.ravel(lams)])
    except ValueError as exc:
        raise ValueError(f"{want}: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{want}: {exc}") from None
    if given.size == 0:
        raise ValueError("lams is empty")
    lams = np.sort(given)[::-1]
    if not np.array_equal(lams, given):
        _warn(
            "lams is not in decreasing order: the path is solved from the largest lam "
            "down (each solve warm-starts the next), and the results follow that "
            "order; pair them with the returned lams, not the grid as given",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return lams


# --------------------------------------------------------------------------- helpers
# kept for the modules that work on the unweighted squared program (irls, the ReLU
# program)


def _prepare(X, y, arr):
    X = check_X(X)
    Y, was_1d = check_targets(y, X.shape[0])
    arr = as_arrangement(arr, X.shape[0], X)
    return X, Y, was_1d, arr


def _coef3(W, p, d, c, name="W"):
    given, W = W, real_float64(W, name)
    if W is None:
        raise TypeError(
            f"{name} must be an array of numbers (or a SolveResult); got a "
            f"{type(given).__name__} that is not one"
        )
    if c == 1 and W.shape == (p, d):
        W = W[:, :, None]
    if W.shape != (p, d, c):
        want = f"({p}, {d}) or ({p}, {d}, 1)" if c == 1 else f"({p}, {d}, {c})"
        raise ValueError(
            f"{name} must have shape {want} (groups, features, outputs); "
            f"got {np.shape(W)}"
        )
    if not np.isfinite(W).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return np.ascontiguousarray(W)


def _primal_dual(X, Y, arr, W, lam):
    """(primal, dual) of the unweighted squared program without intercept."""
    n = X.shape[0]
    R = Y - _core.masked_predict(X, arr.packed, W)
    G = _core.masked_gradients(X, arr.packed, R)
    gmax = np.sqrt((G**2).sum(axis=(1, 2))).max() / n
    primal = 0.5 * (R**2).sum() / n + lam * np.sqrt((W**2).sum(axis=(1, 2))).sum()
    theta = R / max(1.0, gmax / lam)
    dual = 0.5 * ((Y**2).sum() - ((Y - theta) ** 2).sum()) / n
    return primal, dual
