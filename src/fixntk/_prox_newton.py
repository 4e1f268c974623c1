"""Proximal Newton (IRLS) for non-quadratic datafits around the compiled BCD solver.

Each outer step replaces the datafit by its second-order model at the current
predictions ``F`` (plus intercept),

.. math::

    L(f') \\approx L(F) + \\frac{1}{\\sum s} \\sum_j s_j
    \\Big(\\ell'(F_j)^T (f'_j - F_j)
    + \\frac{h_j}{2} \\|f'_j - F_j\\|^2\\Big)
    = \\frac{1}{2\\sum s} \\sum_j s_j h_j \\|z_j - f'_j\\|^2 + \\text{const},

with the working response :math:`z_j = F_j - \\ell'(F_j) / h_j` and the curvature
``h_j`` of :meth:`Datafit.curvature` (exact for the logistic loss, an upper bound for
the multinomial): a weighted least-squares group lasso, solved by the compiled
solver (:func:`fixntk._solver.weighted_least_squares`) warm started from the current
point, to a gap below a fraction of the current outer gap. A backtracking (Armijo)
line search on the true objective along the step keeps every outer step a descent
step (Lee, Sun and Saunders 2014, proximal Newton; Tseng and Yun 2009 for the
decrease condition). The loop stops on the datafit's certified duality gap,
:meth:`_Problem.certificate`.

Two Newton models for the multinomial loss (c classes). The exact one weights each
row and class by its probability, with a free shift per row (the Hessian
``diag(p) - p p^T``): few outer steps, but each inner solve carries c Grams per group,
and where the probabilities spread over many orders of magnitude (nearly separable
classes, small lam) the inner solves take thousands of epochs: 22065 epochs and 486 s
for digits at 1e-3 lam_max. The per-row model weights row j by ``kappa_j h_j`` with
``h_j`` the Hessian's largest eigenvalue (:meth:`Datafit.curvature`): one Gram per
group and well-conditioned inner solves, but linear convergence over many outer steps
(the bound overstates the curvature along most directions). Where the exact model's
Grams per step cost more than ``_EXACT_GRAM_EPOCHS`` of its epochs (rows wider than
48: digits) the per-row model comes first, and one exact step on probation follows
once the per-row steps have cost as much as it would (``_WIDE_PROBE_EPOCHS``): kept
where it meets its target, else the per-row model finishes the solve. Elsewhere the
loop starts with the
exact model and moves to the per-row one when an exact inner solve misses its target
within ``_EXACT_BUDGET`` epochs, and back when the per-row steps gain fewer decades of
gap per multiply-add than the last exact one did, or once they have cost as much as
the last exact step (its rate may have been measured where it says little: see
``_RETRY_COST``), or (once a solve) when they have cut the gap ``_RETRY_GAIN`` times
below where the first exact step that missed its budget left it (:class:`_ModelChoice`;
``benchmarks/multinomial_models.py``). On
the per-row model ``kappa`` (1 at first) halves after a full step, down to
``_KAPPA_MIN``, and grows back (up to 1) when the line search has to backtrack: a
Levenberg-Marquardt-style trust in the bound. A step whose line search finds no
descent at all (a model too flat: curvatures near 0 on nearly separable rows) is
taken again with the curvatures raised by a multiple of their mean, tenfold per
failure (``_DAMP_START``, Levenberg-Marquardt proper); only a damping past
``_DAMP_MAX`` times the gradient's largest entry (at least 1) ends the solve as
round-off.

Where the steps stall (the gap falling less than twofold over two steps) and the
support of W is small (at most ``_POLISH_UNKNOWNS`` unknowns), Newton's method on the
support with the datafit's exact Hessian (:func:`_support_newton`) is tried once the
steps since the last try have cost about what it costs: near an optimum whose support
it has, it converges quadratically, where the steps above crawl along the flat
directions of nearly separable classes (a certificate lagging at 1e-5 after 100000
epochs, the point within 1e-7 of the optimum: a tester's 100 rows, 3 classes, at
1e-3 lam_max).
"""

from dataclasses import dataclass
from functools import partial

import numpy as np

from ._cpu import core as _core
from ._progress import report, solve_status
from ._solver import (
    _kernel_route_epochs,
    _penalty,
    kernel_route,
    weighted_least_squares,
)

__all__ = ["prox_newton"]

# Outer steps solve the weighted least-squares model to this fraction of the current
# outer gap (an inexact proximal Newton method; the forcing term of Eisenstat and
# Walker's inexact Newton): _INNER_RATIO where the row curvatures are exact (logistic,
# Poisson) and for the multinomial's per-row model while the exact one has no rate
# (rows wider than the exact model's limit), _BOUND_RATIO while the multinomial chooses
# between its two models. 0.5 against 0.1, one thread: logistic at 0.01 lam_max 185
# -> 120 epochs (tol 1e-4) and 300 -> 220 (1e-8); digits (d = 64, ten classes) at
# 0.1, 0.01 and 0.001 lam_max, tol 1e-4 and 1e-7, six solves 59.9 s -> 38.0 s, and
# five classes at d = 60, 14.5 s -> 13.7 s, all certified. A model solved to a tenth
# of the gap spends most of its epochs on a step that the line search and the next
# curvatures then change. Where the exact model runs first, 0.5 misled the choice
# between the models: three nearly separable classes at 1e-2 lam_max stayed on
# 5-epoch per-row steps and ran out of Newton steps at a relative gap of 3e-6, where
# 0.1 goes back to the exact model and certifies 1e-7 in 19 steps
# (tests/test_datafits.py), and 0.5 on the per-row steps alone took 47 steps against
# 13 on another.
_INNER_RATIO = 0.5
# An inner solve whose model met its target before any epoch is run again to a fraction
# of the model's own gap, down to this fraction of the outer target (see prox_newton).
_RETARGET_FLOOR = 1e-3
_BOUND_RATIO = 0.1
# Curvatures below this are raised to it: rows whose loss is flat (confident,
# correctly or not) would otherwise get working responses of order 1 / h. Times the
# datafit's ``curvature_unit`` where that is below 1 (the Poisson loss's mean count).
_CURVATURE_FLOOR = 1e-10
_MAX_NEWTON = 500
# Epochs of one Newton step's inner solve, at most (inexact Newton: the line search
# keeps the step a descent). Nearly separable classes give row curvatures p (1 - p)
# spread over many orders of magnitude, an ill-conditioned model on which the inner
# solve took 7000-35000 epochs per step and used up max_iter in a few steps (a
# logistic solve at 1e-5 lam_max converged on 1 of 12 small problems; a million epochs
# did not help). Capped at 300, the next step's fresh curvature makes the progress:
# 11 of 12, in a fifth of the time. The same cap on the exact multinomial model's
# budget (which doubled without bound): two classes 21 of 36 against 15 of 36, three
# classes at 1e-3 lam_max 9 of 12 against 1 of 12 (still 0 of 12 at 1e-4 and 1e-5).
_INNER_EPOCHS = 300
_ARMIJO = 1e-4
# The loop stops as "no_descent" (round-off) when over this many Newton steps the
# objective has moved by less than _STALL_MOVE (relative) and the certified gap has
# fallen by less than 1%: a Poisson solve asked for tol = 1e-12 sat at a relative gap
# of 5e-12 with every line search accepting its unit step (the values equal to the
# last digit), and ran on for its 500 steps (13000 epochs) without a change.
_STALL_STEPS = 10
_STALL_MOVE = 1e-12
# Wide rows (the per-row model first): the epochs an exact step is taken to cost when
# the per-row steps decide whether one exact step on probation would pay (a ski-rental
# rule: it comes once the per-row run has cost as much as that). One that meets its
# target keeps the exact model (and the rules below); one that misses returns to the
# per-row model for the rest of the solve. GatedReLUClassifier() on openintro's
# loans_full_schema (7500 x 128, 7 classes, d = 129; grade, lam 0.04 lam_max): the
# refit's per-row steps cut the gap by 1-5% each (68 Newton steps); the exact model
# takes 5 steps at 0.06 lam_max (112 -> 27 s to 1e-3; the default fit 392 -> 120 s).
# Digits' default fit (nearly separable at its lam) 4.9 -> 5.1 s; make_classification
# (4000, 100, 3) 21.9 -> 21.7 s, (5000, 60, 10) 43.7 -> 40.2 s, the same lams.
_WIDE_PROBE_EPOCHS = 25
# Outer iterates combined by Anderson extrapolation (the multinomial's steps are
# majorisation-minimisation steps, which converge linearly).
_ANDERSON_DEPTH = 5
# Epochs an exact multinomial inner solve (per-output weights) may take before the
# loop moves to the per-row model (see the module docstring).
_EXACT_BUDGET = 100
# A Newton step's fixed cost in multiply-adds (certificate, predictions and line
# search in Python: about a millisecond), for _ModelChoice's rates.
_STEP_OVERHEAD = 2e6
# A step on reused row curvatures (CurvatureCache) that cuts the certified gap by less
# than this factor sends the next step to fresh curvatures.
_STALE_GAIN = 0.25
# The smallest scaling of a bounding curvature (Datafit.curvature_is_bound).
_KAPPA_MIN = 0.25
# A line search that finds no descent in its 40 halvings, far from round-off, comes
# from a model too flat for the loss: nearly separable classes give curvatures near 0
# (the floor above), and the inner solve then moves the scores by up to 1e22 (a
# multinomial with an intercept on 8 rows at 1e-4 lam_max stopped at a relative gap of
# 5e-2 and blamed round-off). Such a step is taken again with every curvature raised
# by ``damping`` times their mean (Levenberg-Marquardt), damping from _DAMP_START up
# tenfold per failure; a unit step accepted lowers it tenfold, back to 0. Only past
# _DAMP_MAX (a gradient step of length 1e-12, relative to the gradient's largest
# entry where that is above 1: Poisson counts) is the failure round-off's.
_DAMP_START = 1e-3
_DAMP_MAX = 1e12
# The exact multinomial model comes first only while its c Grams per group per Newton
# step (c n d^2 / 4 multiply-adds) cost at most this many of its epochs (2 n d c): that
# is, for d up to 48. Above, the per-row model (one Gram per group) comes first (see
# _WIDE_PROBE_EPOCHS for the exact step it may hand over to). The
# exact model saves Newton steps at the price of c Grams and eigendecompositions per
# group per step, and its block steps stream c eigenbases of d x d. Measured with
# GatedReLUClassifier() (seconds, exact model first -> per-row throughout): digits
# (d = 65, 10 classes) 8.4-11.3 -> 3.9-5.0; make_classification (n, d, classes) =
# (4000, 100, 3) 27.4 -> 12.9; at d = 41 mixed, (6000, 40, 3) 11.1 -> 9.7 and
# (5000, 40, 10) 11.5 -> 13.9; at d <= 21 the exact model first is faster: (10000, 20,
# 10) 17.8 against 33.3, (3000, 20, 5) 3.1 against 4.0, iris and wine 25%.
_EXACT_GRAM_EPOCHS = 6.0
# A run of per-row steps that has cost this many times the last exact step goes back
# to the exact model (with twice the budget) even when its rate is the higher: the
# exact model's one rate may come from a phase that says little of the next, and a
# Newton model gains more per step as the gap falls where a bound's gains stay linear.
# Retrying at equal cost (a ski-rental rule) spends at most as much on exact steps
# that do not pay as on the per-row run. The refit of GatedReLUClassifier() on
# diamonds' cut (30000 rows, 24 columns, 5 classes; warm-started from the scoring path,
# the gap mostly the dual's): its first exact step ran out of its 100 epochs, and the
# per-row steps then cut the gap by 2% a step; 205 Newton steps, 1335 epochs, 182 s ->
# 11 steps, 1155 epochs, 149 s, the same objective to 1e-6. make_classification (7500
# training rows, 20 columns, 10 classes) 107 -> 88 s; bundled sets within noise.
# benchmarks/multinomial_models.py --refit (10000 rows, 10 classes, 1e-3 lam_max, to
# 1e-6): 500 Newton steps, uncertified at 5.7e-6, 171 s -> 86 steps, certified, 125 s.
_RETRY_COST = 1.0
# ... and, once a solve, it goes back as soon as its steps have cut the certified gap
# this many times below where the first exact step that missed its budget left it
# (None: the rules above only). That miss is mostly a step taken far from the optimum,
# where the exact model trusts tiny probabilities (working responses of order 1 / p on
# confidently wrong rows: a warm start on new rows, the refit's); a decade lower the
# exact model converges in one step where the per-row steps cut the gap by 2-5% each
# (make_classification, 10 classes, the refit: 40 Newton steps, 33.7 s -> 9, 27.0 s).
# Measured slower on one problem: wine at 1e-3 lam_max (nearly separable classes), where
# the retry misses and the rates then keep exact steps that miss at 300 epochs: 1290 ->
# 3750 epochs to 1e-6 (0.4 -> 0.6 s; benchmarks/multinomial_models.py).
_RETRY_GAIN = 10.0
# The kernel route's relative gap (tol) never below this: round-off's level in its
# kernel ridge solves.
_ROUTE_TOL_MIN = 1e-12
# Epochs of descent before the kernel route once it has run in a solve.
_ROUTE_DESCENT = 25
# The multinomial iterates centred over the classes after each step (1; 0 turns it off
# for comparison). The loss is the same for every row's scores shifted by one constant,
# so W_i minus its mean over the classes (an orthogonal projection: a smaller penalty)
# is a descent step for free, and the optimum is centred; the exact model's inner
# solves (a free shift per row) that stop inexact leave a part along the shift that
# only the penalty pulls back, slowly. benchmarks/multinomial_models.py (iris, wine at
# 0.1 - 1e-3 lambda_max, to 1e-6): fresh solves 7430 -> 5225 epochs (wine at 1e-3
# 3750 -> 1980), refits 4870 -> 4915 (iris at 1e-3 1540 -> 2060, wine 1925 -> 1445);
# world_bank_pop's 4-class refit (792 rows) at its 10000-epoch cap: relative gap
# 5.4e-3 -> 1.1e-3. (Measured before the exact model's block steps were centred as
# well, csrc/bcd_solver.hpp's kCentreBlocks, which gained most of the rest.)
_CENTER = 1.0
# Newton's method on the support (_support_newton): at most this many unknowns (the
# support's groups times d c, plus the intercepts; a dense Hessian of 18 MB and a
# Cholesky factor of 1e9 multiply-adds), on at most _POLISH_ENTRIES entries of the
# support's columns of the data (n k d: 160 MB), in at most _POLISH_STEPS steps. Tried
# where the gap fell less than twofold over the last two Newton steps, once the epochs
# since the last try, each priced as a pass over every group (n p d c / 2
# multiply-adds), have cost as much as _POLISH_STEPS_PRICED steps of it (n m^2 + m^3 /
# 3 each, m unknowns), twice that after a try that did not lower the objective (a
# ski-rental rule). The tester's problem above (100 x 4, 60 masks, 3 classes, tol
# 1e-6): at 1e-3 lam_max 100000 epochs uncertified (relative gap 1.3e-5) -> 11860
# epochs and 0.5 s, certified; at 1e-4 lam_max 96600 epochs -> 13800; at 1e-2 lam_max
# no try (1530 epochs, as before). benchmarks/multinomial_models.py: iris at 1e-3
# lam_max 1210 -> 490 epochs (fresh) and 1080 -> 710 (refit); its other solves, the
# bundled sets' default fits and benchmarks/small_lam.py's logistic solves unchanged.
# A reviewer's 90 random solves (old code against new): 4-10x fewer epochs on several
# multinomial ones (3000 rows: 46.8 -> 19.6 s), one slower past 1.5x (Poisson, 100
# rows, 1e-4 lam_max: 0.09 -> 0.15 s, the certificate lagging at the polished point);
# at most 22 tries in 100000 epochs, 0.1 s of 2.8 s. A working set's epoch costs less
# than its price here, so tries come sooner than their cost alone would say; priced by
# twice the support instead, iris at 1e-3 lam_max lost its gain (490 -> 1210 epochs).
_POLISH_UNKNOWNS = 1500
_POLISH_ENTRIES = 2 * 10**7
_POLISH_STEPS = 12
_POLISH_STEPS_PRICED = 5.0
# ... and before a stop for round-off, priced as this many steps against every epoch
# of the solve (its full steps at round-off take two or three)
_LAST_POLISH_STEPS = 2.0


@dataclass
class NewtonFit:
    coef: np.ndarray
    intercept: np.ndarray
    primal: float
    dual: float
    f0: float
    n_epochs: int
    n_newton: int
    converged: bool
    gap_history: np.ndarray
    # why an unconverged fit stopped: "max_iter" (epochs), "newton" (_MAX_NEWTON
    # outer steps) or "no_descent" (the line search found none: round-off)
    stop: str = "converged"
    n_irls: int = 0  # kernel ridge solves of the kernel route


def prox_newton(prob, lam, W, tol, max_iter, verbose):
    """Minimise the program of ``prob`` (its scaled space) from W (p, d, c)."""
    df, Y, s = prob.datafit, prob.Y, prob.s
    b0 = prob.null_intercept()
    f0 = prob.null_value(b0)
    target = tol * f0
    F = prob.predict(W)
    b = df.intercept(Y, F, s, b0) if prob.fit_intercept else np.zeros(prob.c)
    if np.any(W) and not df.value(Y, F + b, s) + lam * _penalty(W) <= f0:
        # A warm start worse than the null model (a previous fit to other labels, say:
        # confidently wrong rows have curvatures near 0, and the Newton steps from
        # there took 20000-50000 epochs against 125 from zero) starts from zero.
        W = np.zeros_like(W)
        F = prob.predict(W)
        b = np.array(b0, dtype=float)
    say = report(verbose, level=1)
    gaps, step_gaps, epochs, converged, stop = [], [], 0, False, "converged"
    primals = []
    n_irls = 0  # kernel ridge solves of the kernel route (_route_inner)
    # Exact row curvatures (logistic, Poisson) make each Newton step's model the
    # squared loss's program with row weights, which the kernel route solves where
    # min(n, p d) is small enough (route_epochs > 0: the epochs of descent it costs);
    # crawled: the epochs of the inner descents that missed their targets so far.
    # (The multinomial's per-row bound model was measured not to gain from it: on
    # world_bank_pop's 4 classes at 1.4e-3 lam_max the loop then took its 500 Newton
    # steps of 5 epochs each and stopped at a relative gap of 2.5e-2.)
    route_epochs = 0 if df.curvature_is_bound else _kernel_route_epochs(prob)
    floor = _CURVATURE_FLOOR
    if hasattr(df, "curvature_unit"):
        floor *= min(1.0, df.curvature_unit(Y, s))
    crawled = 0
    history = [(W, F, b)]
    polish_epochs, polish_wait = 0, 1.0  # _support_newton's last try, its price
    primal = np.nan
    dual = -np.inf  # the best lower bound so far (every step's dual point bounds F*)
    choice = _ModelChoice(
        prob.c > 1 and hasattr(df, "output_curvature"), *prob.X.shape, prob.c
    )
    kappa = 1.0  # the scaling of a bounding curvature, adapted by the line search
    # Exact row curvatures (logistic, Poisson) are reused, with their block Grams, from
    # the last step that computed them, in this solve or the problem's previous one.
    reuse = not df.curvature_is_bound
    stale = False  # the last step ran on reused curvatures
    damping = 0.0  # Levenberg-Marquardt's, after a failed line search (_DAMP_START)
    retry = False  # this step retries the last one, damped

    def restart(last=False):
        """Newton's method on the support from the loop's (W, b); where it gives a
        lower objective, the loop restarts from there (its point certified at the
        loop's top) and True is returned. ``last``: the try before a stop for
        round-off (:func:`_last_polish`)."""
        nonlocal W, F, b, history, polish_epochs
        if last and not _last_polish(prob, W, polish_epochs, epochs):
            return False
        polish_epochs = epochs
        polished = _support_newton(prob, lam, W, b, primal, roundoff=last)
        if polished is None:
            return False
        W, b = polished
        F = prob.predict(W)
        if prob.fit_intercept:
            b = df.intercept(Y, F, s, b)
        history = [(W, F, b)]
        return True

    for step in range(_MAX_NEWTON + 1):
        Fb = F + b
        G = df.gradient(Y, Fb)
        gnorms = prob.block_gradient_norms(Fb)
        pen = _penalty(W)
        primal = df.value(Y, Fb, s) + lam * pen
        sG = G * s[:, None] if prob.weighted else G
        step_dual = prob.dual_bound(Fb, b, lam, sG, gnorms)
        step_gap = primal - step_dual
        # The primal decreases from step to step (line search, guarded extrapolation)
        # but the dual at each step's residual need not rise: the certificate takes
        # the best dual seen (each is a lower bound on the optimum; a cap stopping a
        # 1e-9 target on three classes certified 4.4e-7 with the last one, 8e-9 with
        # the best). The steps themselves are steered by their own gap, as before.
        dual = max(dual, step_dual)
        gap = primal - dual
        if stale and step_gap > _STALE_GAIN * step_gaps[-1]:
            prob.curvature_cache = None  # a weak step: fresh curvatures next
        gaps.append(gap)
        step_gaps.append(step_gap)
        choice.observe(step_gap)
        solve_status(epochs, gap, f0, tol, newton=step)
        if say is not None:
            say(
                f"solve ({df.name}): newton {step:3d}  epochs {epochs:6d}  "
                f"objective {prob.value_out(primal):.8e}  "
                f"gap {prob.value_out(gap):.3e}"
            )
        if gap <= target:
            converged = True
            break
        if step < _MAX_NEWTON and _polish_due(
            prob, W, step_gaps, epochs - polish_epochs, polish_wait
        ):  # (not on the last step: its point would go uncertified)
            if restart():
                continue
            polish_wait *= 2.0
        if epochs >= max_iter or step == _MAX_NEWTON:
            stop = "max_iter" if epochs >= max_iter else "newton"
            break
        if not retry:  # a damped retry of a step is not a step that stalled
            primals.append(primal)
        retry = False
        if _stalled(primals, gaps):
            if restart(last=True):
                continue
            stop = "no_descent"
            break
        per_output = choice.exact
        if per_output:  # a curvature per row and output
            h = _damped(np.maximum(df.output_curvature(Y, Fb), floor), damping)
            Z = Fb - G / h
            weights = dict(
                output_weights=np.ascontiguousarray(s[:, None] * h),
                row_shift=getattr(df, "row_shift", False),
            )
        else:
            cache = prob.curvature_cache if reuse and not damping else None
            stale = cache is not None
            if stale:
                h = cache.h
            else:
                h = np.maximum(kappa * df.curvature(Y, Fb), floor)
                h = _damped(h, damping)
                if reuse and not damping:
                    cache = prob.curvature_cache = CurvatureCache(prob, h)
            Z = Fb - G / h[:, None]
            weights = dict(
                weights=s * h, gram_store=None if cache is None else cache.store
            )
        budget = choice.budget if per_output else _INNER_EPOCHS
        bound = df.curvature_is_bound and not per_output
        # the per-row model throughout: the exact one never ran (no choice to mislead)
        loose = not df.curvature_is_bound or (bound and choice.rate[True] is None)
        ratio = _INNER_RATIO if loose else _BOUND_RATIO
        gap_target = max(ratio * step_gap, 0.25 * target)
        inner_cap = min(_INNER_EPOCHS, max_iter - epochs, budget)
        if route_epochs and crawled >= route_epochs:
            inner_cap = min(inner_cap, _ROUTE_DESCENT)
        inner = partial(
            weighted_least_squares,
            prob.X,
            prob.arr.packed,
            np.ascontiguousarray(Z),
            lam,
            W,
            **weights,
            weight_sum=prob.S,
            intercept=prob.fit_intercept,
            block_step=prob.block_step,
            streamed=prob.streamed,
            max_iter=inner_cap,
        )
        out = inner(gap_target=gap_target)
        model_gap = out["primal"] - out["dual"]
        if out["n_epochs"] == 0 and model_gap > _RETARGET_FLOOR * target:
            # The model's own gap at W met the target before any epoch: the model does
            # not see part of the loss's gap, and no step would ever be taken. A Huber
            # datafit's rows in its linear part carry a Fenchel-Young slack that grows
            # with their residuals, which the quadratic model lacks: a tester's solves
            # never left W = 0 (model gap 0.046 against a target of 0.47) and stopped
            # as "round-off" at relative gaps up to 0.89. The step goes to a fraction
            # of the model's own gap instead.
            out = inner(gap_target=max(ratio * model_gap, _RETARGET_FLOOR * target))
        choice.pending = (
            per_output,
            int(out["n_epochs"]),
            bool(out["converged"]),
            int(np.count_nonzero(np.abs(out["coef"]).sum(axis=(1, 2)))),
        )
        epochs += int(out["n_epochs"])
        W_new = out["coef"]
        F_new = prob.predict(W_new)
        b_new = out["intercept"] if prob.fit_intercept else b
        if route_epochs and not out["converged"] and out["n_epochs"] >= inner_cap:
            # The descent missed its target within its epochs: once such misses have
            # cost about what the kernel route costs (as the squared loss's descent,
            # _solver._least_squares), every miss takes the route, after a shorter
            # descent.
            crawled += int(out["n_epochs"])
            routed = None
            if crawled >= route_epochs:
                routed = _route_inner(
                    prob, Z, s * h, lam, (out, F_new, b_new), gap_target, verbose
                )
            if routed is not None:
                W_new, F_new, b_routed, steps = routed
                b_new = b_routed if prob.fit_intercept else b
                n_irls += steps
        # Armijo on F(W + t dW) with the decrease bound of the quadratic model's
        # linear part plus the change of the penalty (convex along the segment).
        slope = float((s[:, None] * G * (F_new + b_new - Fb)).sum()) / prob.S
        slope += lam * (_penalty(W_new) - pen)
        t, accepted = 1.0, False
        for _ in range(40):
            W_t = W + t * (W_new - W)
            F_t = F + t * (F_new - F)
            b_t = b + t * (b_new - b)
            # a step whose values are not finite (an inner model on columns 1e150
            # times smaller than the bias column) is backtracked, not warned about
            # at every halving
            with np.errstate(invalid="ignore", over="ignore"):
                value = df.value(Y, F_t + b_t, s) + lam * _penalty(W_t)
            if value <= primal + _ARMIJO * t * min(slope, 0.0):
                accepted = True
                break
            t *= 0.5
        if not accepted and stale:  # reused curvatures gave no descent: fresh ones
            prob.curvature_cache = None
            continue
        if not accepted and damping < _DAMP_MAX * max(1.0, float(np.abs(G).max())):
            # a model too flat: damp it (to a step of 1e-12 of the gradient, whose
            # size is the counts' for the Poisson loss: counts of 1e18 without an
            # intercept, curvatures exp(0) = 1, stopped at W = 0 as round-off with a
            # relative gap of 0.9, its retries counted as stalled steps; tester DG)
            damping = max(10.0 * damping, _DAMP_START)
            retry = True
            continue
        if not accepted:  # round-off has the last word: no descent left
            if restart(last=True):
                continue
            stop = "no_descent"
            break
        if t == 1.0:
            damping = 0.0 if damping <= _DAMP_START else 0.1 * damping
        if bound:
            kappa = (
                max(0.5 * kappa, _KAPPA_MIN) if t == 1.0 else min(2.0 * kappa / t, 1.0)
            )
        # predictions exactly those of W (a combination would carry round-off into
        # the certificate)
        W, b, fresh = W_t, b_t, t == 1.0
        if _CENTER and getattr(df, "row_shift", False):
            # centred over the classes (_CENTER) where the mean is more than round-off
            mean = W.mean(axis=2, keepdims=True)
            if np.abs(mean).max() > 1e-12 * np.abs(W).max():
                W, fresh = W - mean, False
            b = b - b.mean()
        F = F_new if fresh else prob.predict(W)
        if prob.fit_intercept:
            b = df.intercept(Y, F, s, b)
        history.append((W, F, b))
        del history[: -(_ANDERSON_DEPTH + 1)]
        if len(history) >= 3:
            W, F, b = _extrapolate(prob, lam, history, value)
    return NewtonFit(
        coef=W,
        intercept=b,
        primal=float(primal),
        dual=float(dual),
        f0=float(f0),
        n_epochs=epochs,
        n_newton=len(gaps) - 1,
        converged=converged,
        gap_history=np.asarray(gaps),
        stop=stop,
        n_irls=n_irls,
    )


def _support_unknowns(prob, W):
    """(active groups, unknowns) of Newton's method on the support of W."""
    active = np.flatnonzero(np.abs(W).sum(axis=(1, 2)) > 0)
    m = active.size * prob.d * prob.c
    return active, m + (prob.c if prob.fit_intercept else 0)


def _polish_unknowns(prob, W):
    """The unknowns of :func:`_support_newton` on W's support, or 0 where it is not
    tried: a bounding curvature (no exact Hessian), an empty support, or one past
    ``_POLISH_UNKNOWNS`` or ``_POLISH_ENTRIES``."""
    df = prob.datafit
    if df.curvature_is_bound and not getattr(df, "row_shift", False):
        return 0
    active, m = _support_unknowns(prob, W)
    if not active.size or m > _POLISH_UNKNOWNS:
        return 0
    return m if prob.n * active.size * prob.d <= _POLISH_ENTRIES else 0


def _polish_due(prob, W, step_gaps, epochs_since, wait):
    """Whether :func:`_support_newton` is tried now (see ``_POLISH_UNKNOWNS``)."""
    if len(step_gaps) < 3 or step_gaps[-1] <= 0.5 * step_gaps[-3]:
        return False
    m = _polish_unknowns(prob, W)
    return m > 0 and _epochs_cost(prob, epochs_since) >= wait * _polish_cost(
        prob, m, _POLISH_STEPS_PRICED
    )


def _polish_cost(prob, m, steps):
    """Multiply-adds of ``steps`` steps of :func:`_support_newton` on ``m`` unknowns
    (a Hessian and its Cholesky factor)."""
    return steps * (prob.n * m * m + m**3 / 3.0)


def _epochs_cost(prob, epochs):
    """Multiply-adds of ``epochs`` epochs, each priced as a pass over every group."""
    return epochs * 0.5 * prob.n * prob.p * prob.d * prob.c


def _last_polish(prob, W, polish_epochs, epochs):
    """Whether :func:`_support_newton` is tried before the loop stops for round-off
    ("no_descent"): where the support is within its limits and the descent has run
    since the last try, whatever the price. The descent's round-off is not Newton's:
    a Poisson solve (300 rows, counts about 150, a bias column) stopped at a relative
    gap of 1.01e-8 against tol 1e-8, and 20 plain Newton steps on its support
    reached 1e-14 (tester BM). Priced as _LAST_POLISH_STEPS of its steps against the
    solve's epochs so far (it then costs the solve at most about twice its time)."""
    if polish_epochs == epochs and epochs > 0:
        return False
    m = _polish_unknowns(prob, W)
    return m > 0 and _epochs_cost(prob, epochs) >= _polish_cost(
        prob, m, _LAST_POLISH_STEPS
    )


def _support_newton(prob, lam, W, b, value, roundoff=False):
    r"""Newton's method on the support of W (the groups with :math:`W_i \ne 0`),
    where the objective is smooth:

    .. math::

        \nabla = \Phi^T (s \circ \ell'(F)) / S + \lambda W_i / \|W_i\|, \quad
        \nabla^2 = \Phi^T \mathrm{diag}(s / S)\, \ell''(F)\, \Phi
        + \lambda\, \mathrm{blockdiag}\big((I - u_i u_i^T) / \|W_i\|\big),

    :math:`\Phi` the support's columns :math:`D_i X`, :math:`u_i = W_i / \|W_i\|`,
    :math:`\ell''` the datafit's exact Hessian per row (``curvature``, or for the
    multinomial ``diag(p) - p p^T`` from ``output_curvature``), the intercept's rows and
    columns with it. Steps take an Armijo backtracking line search; the method stops at
    a step that fails, at three short steps in a row, where a group heads to zero (the
    descent's business), or at a Newton decrement at round-off; before it stops at a
    short or failed step or a vanishing group, the point with the groups heading to
    zero set to zero, if lower, goes on with the smaller support. Returns (W, b) with a
    lower objective than ``value``, or None. With ``roundoff`` (the try before a stop
    for round-off, :func:`_last_polish`), also a point whose value equals the start's
    to round-off (1e-13) with a tenth of its gradient or less: full steps are taken
    while the gradient falls, whatever the value's last digits say."""
    df, Y, s = prob.datafit, prob.Y, prob.s
    row_shift = getattr(df, "row_shift", False)
    active, mm = _support_unknowns(prob, W)
    n, d, c, k = prob.n, prob.d, prob.c, active.size
    m = k * d * c
    # the support's masks only (all of them are n x p bytes)
    packed = prob.arr.packed[active]
    masks = np.unpackbits(packed, axis=1, count=n, bitorder="little").T.astype(bool)
    Phi = (masks[:, :, None] * prob.X[:, None, :]).reshape(n, k * d)
    w = W[active].reshape(k * d, c)
    b = np.array(b, dtype=float).reshape(c)
    ws = s / prob.S
    eye = np.eye(d * c)

    def objective(w, b):
        with np.errstate(all="ignore"):
            F = Phi @ w + b
            return (
                df.value(Y, F, s) + lam * np.sqrt((w.reshape(k, -1) ** 2).sum(1)).sum()
            )

    start = value = objective(w, b)
    # at round-off (``roundoff``) a full step is taken where its value is within the
    # rounding of the start's, and the point of the smallest gradient is kept
    level = start + 1e-13 * abs(start) if roundoff else -np.inf
    best, first_gn = None, None
    short = 0
    for _ in range(_POLISH_STEPS):
        F = Phi @ w + b
        G = df.gradient(Y, F)
        blocks = w.reshape(k, d * c)
        norms_ = np.sqrt((blocks**2).sum(axis=1))
        grad = Phi.T @ (ws[:, None] * G) + lam * (blocks / norms_[:, None]).reshape(
            k * d, c
        )
        H = np.zeros((mm, mm))
        if row_shift:
            P = df.output_curvature(Y, F)
        else:
            P = np.broadcast_to(df.curvature(Y, F).reshape(n, 1), (n, c))
        for a in range(c):
            for e in range(c) if row_shift else (a,):
                r = ws * (
                    (P[:, a] if a == e else 0.0)
                    - (P[:, a] * P[:, e] if row_shift else 0.0)
                )
                H[a:m:c, e:m:c] = Phi.T @ (r[:, None] * Phi)
                if prob.fit_intercept:
                    H[m + a, e:m:c] = H[e:m:c, m + a] = r @ Phi
                    H[m + a, m + e] = r.sum()
        for t in range(k):
            u = blocks[t] / norms_[t]
            at = slice(t * d * c, (t + 1) * d * c)
            H[at, at] += (lam / norms_[t]) * (eye - np.outer(u, u))
        g = grad.ravel()
        if prob.fit_intercept:
            g = np.concatenate([g, ws @ G])
        if roundoff:
            gn = float(np.linalg.norm(g))
            first_gn = gn if first_gn is None else first_gn
            if best is not None and not gn < best[2]:
                break  # the gradient no longer falls: round-off's floor
            best = (w, b, gn, value)
        # a multinomial's common shift of the intercepts is a null direction
        H[np.diag_indices(mm)] += 1e-12 * max(np.trace(H) / mm, 1e-300)
        try:
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        slope = float(g @ step)
        if not (np.isfinite(slope) and slope < 0):
            break
        dw = step[:m].reshape(k * d, c)
        db = step[m:] if prob.fit_intercept else 0.0
        t, trial = 1.0, None
        for _ in range(30):
            trial = objective(w + t * dw, b + t * db)
            if trial <= value + _ARMIJO * t * slope or (t == 1.0 and trial <= level):
                break
            t *= 0.5
        else:
            t = 0.0  # no descent along the step
        w_t = w + t * dw
        b_t = b + t * db
        blocks_t = w_t.reshape(k, d * c)
        # groups heading to zero: the program is not smooth there, and Newton's step
        # shrinks to nothing before one (the full step takes it through zero) or
        # drops it below a thousandth of its norm
        full = blocks + dw.reshape(k, d * c)
        heading = (np.sqrt((full**2).sum(axis=1)) < 1e-3 * norms_) | (
            (blocks * full).sum(axis=1) <= 0.0
        )
        vanishing = np.sqrt((blocks_t**2).sum(axis=1)) < 1e-3 * norms_
        if t < 1.0 or vanishing.any():
            drop = heading | vanishing
            if drop.any() and not drop.all():
                # that point with those groups at zero, if it is lower, goes on to
                # Newton's method on the smaller support: the descent that would
                # zero them can crawl where their masks nearly repeat another
                # group's (a multinomial's group of norm 4e-5 beside a near twin:
                # steps of t = 1e-6 to 2e-9, 9000 epochs at an objective 8e-7 above
                # the optimum, the certificate stuck at a relative gap of 3e-4 and
                # the stop blamed on round-off; tester CD)
                zeroed = blocks_t.copy()
                zeroed[drop] = 0.0
                zeroed = zeroed.reshape(k * d, c)
                dropped = objective(zeroed, b_t)
                if dropped < min(value, trial if t > 0 else value):
                    W_z = np.zeros_like(W)
                    W_z[active] = zeroed.reshape(k, d, c)
                    further = _support_newton(prob, lam, W_z, b_t, dropped, roundoff)
                    return (W_z, b_t) if further is None else further
        if t == 0.0 or vanishing.any():
            break  # no descent, or a group heading to zero (the descent's business)
        w, b, value = w_t, b_t, trial
        short = short + 1 if t < 1.0 else 0
        if short >= 3 or -slope <= 1e-15 * abs(value):
            break
    if not value < start:
        if best is None or not best[2] <= 0.1 * first_gn or not best[3] <= level:
            return None
        w, b = best[:2]  # a tenth of the gradient, the same value to round-off
    W_new = np.zeros_like(W)
    W_new[active] = w.reshape(k, d, c)
    return W_new, b


def _damped(h, damping):
    """The curvatures h raised by ``damping`` times their mean (Levenberg-Marquardt;
    see _DAMP_START)."""
    return h + damping * float(h.mean()) if damping else h


def _stalled(primals, gaps):
    """Whether the last _STALL_STEPS Newton steps left the objective unchanged to
    _STALL_MOVE (relative) and the certified gap within 1%: round-off's floor."""
    if len(primals) <= _STALL_STEPS:
        return False
    then, now = primals[-1 - _STALL_STEPS], primals[-1]
    moved = abs(then - now) > _STALL_MOVE * max(abs(then), abs(now))
    return not moved and gaps[-1] > 0.99 * gaps[-1 - _STALL_STEPS]


def _route_inner(prob, Z, w, lam, descent, gap_target, verbose):
    """The kernel route (:func:`fixntk._solver.kernel_route`) on a Newton step's
    row-weighted model ``1/(2 S) sum_k w_k ||Z_k - sum_i [D_i X W_i]_k - b||^2 + lam
    sum_i ||W_i||`` (S the row weights' sum, ``prob.S``) from the descent's point
    ``descent`` = (its solver dict, its predictions F, its intercept b); called where
    the route applies (``_kernel_route_epochs`` > 0: the order min(n, p d) of its
    systems at most _KERNEL_ROUTE_ORDER). (W, F, b, kernel ridge solves) of its point
    if it is the better of the two in that model, else None.

    The descent's rate is the masked design's conditioning: at small lam, with every
    group active and p d near or above n (the program near interpolation), it crawls
    in these models as for the squared loss. tidyr's world_bank_pop (792 rows, 60
    masks of 19 nearly collinear columns), its first two classes against the others,
    at 1e-3 lam_max: 10000 epochs left the gap at 2e-3 without the route; with it
    1260 epochs certify 1e-4."""
    # irls normalises the rows' weights by their sum; the model, by prob.S
    out, F_d, b_d = descent
    kr = kernel_route(
        prob.X,
        prob.arr,
        Z,
        lam * prob.S / float(w.sum()),
        out["coef"],
        w,
        prob.fit_intercept,
        max(gap_target / out["f0"], _ROUTE_TOL_MIN),
        verbose,
    )
    if kr is None:
        return None
    W = np.ascontiguousarray(np.reshape(kr.coef, out["coef"].shape))
    F = prob.predict(W)
    b = b_d
    if prob.fit_intercept:
        b = np.asarray(kr.intercept, dtype=float).reshape(-1)

    def value(W_, F_, b_):
        R = Z - F_ - b_
        return 0.5 * float((w[:, None] * R * R).sum()) / prob.S + lam * _penalty(W_)

    if not value(W, F, b) < value(out["coef"], F_d, b_d):
        return None
    return W, F, b, int(kr.n_iter)


class CurvatureCache:
    """Row curvatures ``h`` (n,) of a proximal Newton model and the compiled solver's
    block Grams of the rows weighted by ``s h`` (a GramStore), kept on the problem
    (``_Problem.curvature_cache``) for its later steps and solves.

    A step on reused curvatures is a proximal Newton step with a stale Hessian: the
    gradient, and so the fixed point, are exact, and any positive curvatures give a
    descent direction, which the line search checks. It saves the Grams'
    rebuild (``n d^2 / 4`` multiply-adds per active group, about ``d / 4`` epochs) at
    every step and from one lam of a path to the next, where the curvatures move
    little. A stale step that cuts the gap by less than ``_STALE_GAIN``, or that the
    line search cannot accept, drops the cache. ``GatedReLUClassifier()`` on
    ``make_classification`` (two classes, 15000 training rows, one thread, three runs
    each): d = 100, 8.9-9.2 s -> 6.5-6.9 s; d = 20, 2.1-2.2 s -> 1.8-2.1 s.
    """

    def __init__(self, prob, h):
        self.h = h
        self.store = _core.GramStore(prob.n, prob.d, prob.p)


class _ModelChoice:
    """Which Newton model the next multinomial step uses: the exact one (per-output
    weights with a row shift) or the per-row bound (see the module docstring).

    Each model's rate is the decades of certified gap (its running minimum) gained per
    multiply-add, estimated from the sizes and epoch counts only (so a solve repeats
    exactly): an epoch of the per-row model's inner solve costs ``n d c`` per active
    group, an exact one twice that (c per-output products); a step adds its Grams
    rebuilt at the new weights (``n d^2 / 4`` per active group, times c for the exact
    model) and ``_STEP_OVERHEAD`` for the certificate and the line search in Python.
    The exact model runs first (if its Grams per group cost at most
    ``_EXACT_GRAM_EPOCHS`` of its epochs; else the per-row model, with one exact step
    on probation once three or more per-row steps have cost as much as an exact step
    of ``_WIDE_PROBE_EPOCHS`` epochs, kept if it meets its target, else never again
    in the solve), each inner solve within ``budget`` epochs; one that misses its target
    moves the loop to the per-row model unless that model was measured slower. After
    three per-row steps whose rate falls below the last exact step's, or whose cost
    reaches ``_RETRY_COST`` times the last exact step's, or (once a solve) after the
    per-row step that leaves the gap ``_RETRY_GAIN`` times below where the first exact
    step that missed its budget left it, the loop goes back with twice the budget (up to
    ``_INNER_EPOCHS``).
    """

    def __init__(self, available, n, d, c):
        self.budget = _EXACT_BUDGET
        self.epoch_cost = {True: 2.0 * n * d * c, False: 1.0 * n * d * c}
        self.gram_cost = {True: c * n * d * d / 4.0, False: n * d * d / 4.0}
        self.exact = available and (
            self.gram_cost[True] <= _EXACT_GRAM_EPOCHS * self.epoch_cost[True]
        )
        # wide rows: the per-row model first, and one exact step on probation once its
        # run has cost as much as an exact step would (_WIDE_PROBE_EPOCHS)
        self.probe = available and not self.exact
        self.rate = {True: None, False: None}
        self.run = [0.0, 0.0, 0]  # decades, cost and steps of the current per-row run
        self.exact_cost = 0.0  # the cost of the last exact step
        # the gap the first exact step that missed its budget left (None once used)
        self.missed_at = None
        self.retried = False  # the retry on the gap's fall was taken (once a solve)
        self.probation = False  # the exact step pending is that retry
        self.best = None
        # (exact, epochs, converged, active groups) of the step just taken
        self.pending = None

    def observe(self, gap):
        """Account for the step just taken, given the certificate after it."""
        gap = max(gap, np.finfo(float).tiny)
        if self.pending is None:
            self.best = gap
            return
        exact, n_epochs, converged, n_active = self.pending
        self.pending = None
        new_best = min(self.best, gap)
        decades = float(np.log10(self.best / new_best))
        groups = max(n_active, 1)
        cost = (
            groups * (n_epochs * self.epoch_cost[exact] + self.gram_cost[exact])
            + _STEP_OVERHEAD
        )
        self.best = new_best
        if exact:
            self.rate[True] = decades / cost
            self.exact_cost = cost
            probation, self.probation = self.probation, False
            if converged:
                self.missed_at = None
                return
            if not self.retried:
                self.missed_at = new_best
            # the retry on the gap's fall missed too: the exact models are
            # ill-conditioned here, not just far from the optimum, and its one rate says
            # little: back to the per-row steps and the rules above (on wide rows, to
            # the per-row steps for the rest of the solve)
            if probation:
                self.exact, self.run = False, [0.0, 0.0, 0]
                if self.probe is None:  # the wide rows' probe
                    self.rate[True], self.missed_at, self.retried = None, None, True
                return
            if self.rate[False] is None or self.rate[False] > self.rate[True]:
                self.exact, self.run = False, [0.0, 0.0, 0]
            else:
                self.budget *= 2
            return
        self.run = [self.run[0] + decades, self.run[1] + cost, self.run[2] + 1]
        if (
            _RETRY_GAIN is not None
            and self.missed_at is not None
            and new_best * _RETRY_GAIN <= self.missed_at
        ):
            self.exact, self.missed_at, self.retried = True, None, True
            self.probation = True
            self.budget = min(2 * self.budget, _INNER_EPOCHS)
            return
        if self.run[2] >= 3:
            self.rate[False] = self.run[0] / self.run[1]
            if self.probe and self.rate[True] is None:
                probe = (
                    groups
                    * (
                        _WIDE_PROBE_EPOCHS * self.epoch_cost[True]
                        + self.gram_cost[True]
                    )
                    + _STEP_OVERHEAD
                )
                if self.run[1] >= probe:
                    self.exact, self.probation, self.probe = True, True, None
                return
            if self.rate[True] is None:
                return
            stale = self.run[1] >= _RETRY_COST * self.exact_cost
            if self.rate[False] < self.rate[True] or stale:
                self.exact = True
                self.budget = min(2 * self.budget, _INNER_EPOCHS)


def _extrapolate(prob, lam, history, value):
    """Anderson extrapolation of the outer iterates (W, F, b), kept only if it lowers
    the objective below ``value`` (the last iterate's). F is affine in (W, b), so the
    combination of the stored predictions is the extrapolated point's: no extra pass
    over the data.
    """
    W, F, b = history[-1]
    diffs = [
        np.concatenate([(h1[0] - h0[0]).ravel(), (h1[2] - h0[2]).ravel()])
        for h0, h1 in zip(history[:-1], history[1:])
    ]
    D = np.array(diffs)
    K = D.shape[0]
    A = D @ D.T
    tr = float(np.trace(A))
    if not tr > 0:
        return W, F, b
    try:
        z = np.linalg.solve(A + 1e-10 * tr * np.eye(K), np.ones(K))
    except np.linalg.LinAlgError:
        return W, F, b
    if not (np.isfinite(z).all() and abs(z.sum()) > 0):
        return W, F, b
    z /= z.sum()
    W_a = sum(za * h[0] for za, h in zip(z, history[1:]))
    F_a = sum(za * h[1] for za, h in zip(z, history[1:]))
    b_a = sum(za * h[2] for za, h in zip(z, history[1:]))
    if prob.fit_intercept:
        b_a = prob.datafit.intercept(prob.Y, F_a, prob.s, b_a)
    value_a = prob.datafit.value(prob.Y, F_a + b_a, prob.s) + lam * _penalty(W_a)
    if value_a < value:
        F_a = prob.predict(W_a)
        if prob.fit_intercept:
            b_a = prob.datafit.intercept(prob.Y, F_a, prob.s, b_a)
        history[-1] = (W_a, F_a, b_a)
        return W_a, F_a, b_a
    return W, F, b
