"""The gated ReLU estimators on Dask collections: ``fit`` through the solver of
:func:`fixntk.dask.solve` (squared loss; lam given, or chosen on warm-started paths
scored on held-out rows drawn on the workers), predictions mapped over the row
chunks. Called by :class:`fixntk.GatedReLURegressor` and
:class:`fixntk.GatedReLUClassifier` when they are given a Dask collection."""

from __future__ import annotations

import numbers

import dask
import dask.array as da
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets

from .. import _estimators as _est
from .._estimators import _seed, gates_for_rows
from .._progress import _check_verbose, heartbeat, progress
from .._solver import _secant_start
from .._validation import check_weight_values, quiet, user_stacklevel
from .._validation import warn as _warn
from ..datafits._poisson import PredictionOverflowError
from . import _chunks
from ._arrangement import sample_arrangement
from ._chunks import (
    _frame_to_array,
    _known_chunks,
    as_row_vector,
    as_rows,
    chunk_tasks,
    run,
    tree_reduce,
)
from ._solver import _DaskProblem, _lambda_max, _solve_problem

_MAX_PASSES = 200  # per solve, the default of fixntk.dask.solve
# what a stopped solve's warning advises raising: the estimators' own parameters (it
# named max_passes, which they do not take; a tester)
_ESTIMATOR_BUDGETS = (
    f"max_iter or tol (the estimators pass over X at most {_MAX_PASSES} times per "
    "solve; fixntk.dask.solve takes max_passes)"
)

__all__ = ["fit_regressor", "fit_classifier", "map_rows", "r2_score_rows"]


def _check(est):
    """The estimator's parameters that the Dask backend supports; returns (n_gates,
    lam) with lam a number or "cv" / "holdout"."""
    name = type(est).__name__
    if est.solver != "bcd":
        raise ValueError(
            f"{name} on Dask collections solves with solver='bcd' only; got "
            f"solver={est.solver!r} (IRLS needs n x n kernel solves)"
        )
    if est.warm_start:
        raise ValueError(f"{name} on Dask collections does not take warm_start=True")
    n_gates, lam = est._check_params("squared")
    if lam == "kare":
        raise ValueError(
            f"{name} on Dask collections cannot take lam='kare': KARE needs an n x n "
            "kernel per lam; use lam='holdout', 'cv' or 'auto' (held-out rows chosen "
            "on the workers) or a float lam"
        )
    if lam in ("cv", "auto") and not isinstance(est.cv, numbers.Integral):
        raise ValueError(
            f"{name} on Dask collections takes an int cv (each row's fold drawn on "
            f"the workers); got cv={est.cv!r}, whose splits would need the row "
            "indices on the client. Use an int cv or lam='holdout'"
        )
    return n_gates, lam


def _splits(est, prob, mode, seed):
    """The held-out problems of a lam mode ("auto": "cv" up to _AUTO_CV_ROWS rows, as
    in memory, "holdout" above) and the mode used."""
    if mode == "auto":
        mode = "cv" if prob.n <= _est._AUTO_CV_ROWS else "holdout"
    splits = (
        [dict(fold=(k, est.cv)) for k in range(est.cv)]
        if mode == "cv"
        else [dict(fraction=est.validation_fraction)]
    )
    parts = []
    for split in splits:
        try:
            part = prob.split(seed, **split)
            empty = not part._last[4][1] > 0
        except ValueError:  # the training rows carry no weight
            empty = True
        if empty:
            raise ValueError(
                f"lam={mode!r}: a held-out split leaves no rows (or no weight) to fit "
                f"or to validate on ({prob.n} samples); use a float lam, fewer folds "
                "or another validation_fraction"
            )
        parts.append(part)
    return mode, parts


def _select_lam(est, prob, mode, seed):
    """Pick lam as :meth:`_GatedReLUBase._select_lam` does, on held-out rows drawn on
    the workers; returns (lam, grid, scores, mode used, passes over the data, the
    splits' mean coefficients at lam or None)."""
    lmax = _lambda_max(prob)
    if lmax == 0:
        return None, None, None, mode, 0, None
    lams, patience, first = _est._scoring_grid(lmax, est.n_lams, est.eps)
    mode, parts = _splits(est, prob, mode, seed)
    scores = np.full((len(parts), lams.size), np.inf)
    tol = max(est.tol, _est._SCORING_TOL)
    # the splits' paths run side by side and stop together, on the mean held-out loss
    # (as in memory: _GatedReLUBase._select_lam)
    W = [np.zeros((part.p, part.d, part.c)) for part in parts]  # scaled units
    W_prev = [None] * len(parts)
    stop, coefs = _est._PathStop(patience, first), {}
    bar = progress(
        total=len(parts) * est.n_lams,
        verbose=est.verbose,
        desc=f"fixntk dask lam ({mode})",
        unit="lam",
    )
    with bar, quiet(ConvergenceWarning):
        for j, lam in enumerate(lams):
            _est._grow_bar(bar, j, est.n_lams, len(parts), lams.size)
            null = True
            for k, part in enumerate(parts):
                try:
                    # the secant start, as in memory: from the last lam's point
                    # itself, a solve at the scoring tol often certified with no
                    # pass, the score repeated, and the path stopped at 4e-3
                    # lam_max where in memory chose 1e-4 (test MSE +56%; tester EW)
                    start = _secant_start(lams, j, W[k], W_prev[k])
                    res, fit = _solve_problem(
                        part, float(lam), start, tol, est.max_iter, _MAX_PASSES, False
                    )
                except MemoryError as exc:
                    if j == 0:
                        raise
                    # wide rows at small lam: the client's working-set Gram is full
                    _warn(
                        f"lam={mode!r}: the path stopped at lam = {lam:.3g} "
                        f"({lam / lmax:.2g} lam_max), where {exc}; lam is chosen "
                        "among the larger values",
                        UserWarning,
                        stacklevel=user_stacklevel(),
                    )
                    scores[:, j] = np.inf
                    break
                W_prev[k], W[k], val = W[k], fit[0], fit[-1]
                # the squared loss's value on the held-out rows, as datafit.value, in
                # the problem's scaled units (those of the user can underflow: y near
                # 1e-160); published in the user's below
                scores[k, j] = 0.5 * val[0] / val[1]
                coefs.setdefault(j, []).append(res.coef)
                null = null and not np.any(res.coef)
                bar.update()
            if not np.isfinite(scores[:, j]).any():  # the Gram budget ran out
                break
            if stop(j, float(np.mean(scores[:, j])), null=null, folds=scores[:, j]):
                bar.update(bar.total - bar.n)
                break
    lam, lams, mean = _est._pick_lam(lams, scores, lmax, mode)
    start = _est._mean_coef_at(coefs, lams, lam)
    mean = prob.value_out(mean)  # the splits share the problem's units
    return lam, lams, mean, mode, sum(part.n_passes for part in parts), start


def _with_bias(X, neuron_bias, scale):
    """[X, scale] (the in-memory estimators' bias column, bias_scale_) when
    neuron_bias."""
    if not neuron_bias:
        return X
    col = da.full((X.shape[0], 1), scale, chunks=(X.chunks[0], 1), dtype=X.dtype)
    return da.concatenate([X, col], axis=1)


def _bias_scale(X, sample_weight, rms):
    """The in-memory fits' bias column value (:func:`fixntk._estimators._bias_scale`):
    ``rms``, the median of the columns' root mean squares, or with sample weights
    that of their weighted mean squares (one more pass over X). Weights that are not
    valid (the problem refuses them next) give ``rms``."""
    if sample_weight is None or _chunks.is_number(sample_weight):
        return rms
    X = as_rows(X)
    s = as_row_vector(sample_weight, X.chunks[0], "sample_weight", False)
    # in units of rms: no overflow; divided by the total here, where it is checked
    # (a total of 0 printed NumPy's 'invalid value' warning from the workers before
    # the refusal of all-zero weights; tester DH)
    ms, total = run([((X / rms) ** 2).T @ s, s.sum()])
    if not (np.isfinite(ms).all() and total > 0):
        return rms
    return _est._median_rms(ms / total, rms)


def _targets(y, rows, name="y"):
    y = _known_chunks(_frame_to_array(y, name)) if hasattr(y, "dask") else y
    if not isinstance(y, da.Array):
        y = np.asarray(y)
        if y.shape[0] != sum(rows):
            raise ValueError(
                f"{name} has {y.shape[0]} rows but X has {sum(rows)} samples: they "
                "must match"
            )
        y = da.from_array(y, chunks=(rows,) + y.shape[1:])
    if y.shape[0] != sum(rows):
        raise ValueError(
            f"{name} has {y.shape[0]} rows but X has {sum(rows)} samples: they must "
            "match"
        )
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1- or 2-dimensional (n_samples,) or (n_samples, "
            f"n_outputs); got shape {y.shape}"
        )
    return y.rechunk((rows,) + ((-1,) if y.ndim == 2 else ()))


def _require_dask_X(X):
    """A Dask X where a Dask y (or sample weights) sent the fit here: a clear error for
    the mix (as_rows would say only that X must be a Dask collection)."""
    if not dask.is_dask_collection(X):
        # (the pipeline's case: make_pipeline(StandardScaler(), estimator) on Dask
        # collections; tester EW)
        raise TypeError(
            f"y (or sample_weight) is a Dask collection but X is a {type(X).__name__}: "
            "pass X as a Dask array or DataFrame too (dask.array.from_array(X, "
            "chunks=...)), or compute() y (and sample_weight) to work in memory. In "
            "a pipeline, a step before this estimator may have computed a Dask X "
            "into memory (scikit-learn's StandardScaler does; dask-ml's keeps it a "
            "Dask array)"
        )


def _record_feature_names(est, X):
    """A Dask DataFrame's column names as ``feature_names_in_``, recorded as
    scikit-learn records a pandas frame's (when all are strings), so that predict on
    a frame checks them; none for an array."""
    columns = getattr(X, "columns", None)
    named = columns is not None and all(isinstance(c, str) for c in columns)
    if named and len(columns):
        est.feature_names_in_ = np.asarray(list(columns), dtype=object)
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def _check_feature_scales(est, X, y=None, sample_weight=None):
    """The in-memory fits' warnings on X's columns (values far out, offsets, scales:
    :func:`fixntk._estimators._check_columns`), from the columns' ranges and standard
    deviations summed on the workers and the medians of evenly spaced rows gathered
    from every chunk (at most 100000, and 1e7 values), in one pass over X; the
    farthest rows are not named (that would take another pass). Returns the
    in-memory fits' bias column value (``bias_scale_``, the median of the columns'
    root mean squares). NaN or infinity in X, and in a Dask ``y`` or ``sample_weight``
    (their values, or a negative weight), are refused from the same pass, before the
    arrangement's passes (they were refused three and four passes over X later; a
    tester, CP)."""
    tasks = chunk_tasks(X)
    parts = [dask.delayed(_chunks.column_stats, pure=True)(x) for x in tasks]
    rows = max(1, min(100_000, 10_000_000 // max(1, X.shape[1])) // len(tasks))
    sample = [dask.delayed(_chunks.row_sample, pure=True)(x, rows) for x in tasks]
    checks = {}
    if y is not None and dask.is_dask_collection(y) and y.dtype.kind in "biuf":
        checks["y"] = da.isfinite(y).all()  # other dtypes: refused as such next
    if sample_weight is not None and dask.is_dask_collection(sample_weight):
        w = as_row_vector(sample_weight, X.chunks[0], "sample_weight", False)
        checks["sample_weight"] = da.isfinite(w).all()
        checks["least weight"] = w.min()
    stats, sample, checks = _chunks.compute(
        tree_reduce(parts, _chunks.merge_column_stats), sample, checks
    )
    if not checks.get("y", True):
        raise ValueError("y contains NaN or infinity")
    if not checks.get("sample_weight", True):
        raise ValueError("sample_weight contains NaN or infinity")
    if checks.get("least weight", 0.0) < 0:
        raise ValueError(
            f"sample_weight must be >= 0; its minimum is {checks['least weight']:.3g}"
        )
    n, lo, hi, unit, mean, m2 = stats
    bad = np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))
    if bad.size:
        raise ValueError(
            f"X contains NaN or infinity (in column(s) {_est._column_names(est, bad)})"
        )
    sample = np.vstack(sample)
    notice = getattr(est, "_fit_notice", None)
    if notice is not None:
        # the rows the long-fit notice's scale hint reads (copied: the rest is freed
        # after this pass), as in memory (a Dask fit's notice never gave it; tester CC)
        notice.X = _est._scale_hint_rows(sample).copy()
    sd, span = np.sqrt(m2 / n), hi - lo
    far, ratio, _, mad = _est._outlying_columns(sample / unit, sd)
    judged = _est._judged_for_offset(mad, lo, hi)
    if n >= 20 and far.size:
        _est._warn_outlying_values(est, far, ratio)
        span[far] = 0.0  # not also compared in scale, as in memory
        judged[far] = False
    _est._warn_offsets(est, mean, sd, judged, n)
    with np.errstate(over="ignore"):
        rms = np.sqrt(m2 / n + mean * mean) * unit
    _est._warn_constant_offsets(est, lo, hi == lo, rms, n)
    _est._warn_feature_scales(est, sd * unit, span)
    return _est._median_rms(m2 / n + mean * mean, unit)


def _class_totals(prob, one_d):
    """The classes' shares of the total sample weight, from the set-up pass's weighted
    mean of the one-hot targets (labels -1 / +1 for two classes): no pass of its own."""
    ybar = prob._ybar_raw * prob.sy + prob.shift
    if one_d:
        return np.array([(1.0 - ybar[0]) / 2.0, (1.0 + ybar[0]) / 2.0])
    return ybar


def _fit(est, X, y, sample_weight, one_d, classes=False):
    """Warn on X's scales as in memory, sample gates, choose lam when asked, solve on
    all rows, set the fitted attributes; a fit past a minute says so once at
    verbose=0, as in memory (the long-fit notice)."""
    with _est._noticed(
        est,
        lambda elapsed: (
            f"the fit on Dask collections has run {elapsed:.0f} s; it goes on"
        ),
    ):
        return _fit_noticed(est, X, y, sample_weight, one_d, classes)


# row chunks below this many rows are named in the long-fit notice (the module's
# advice: chunks of 10^4 rows or more)
_CHUNK_ROWS = 10_000


def _small_chunks_hint(X):
    """For the long-fit notice: a sentence on X's row chunks where there are several
    and most hold fewer than _CHUNK_ROWS rows, else ''. Each of a fit's passes costs
    Dask's overhead per chunk: 50000 rows in 500 chunks of 100 fitted in 134 s on a
    LocalCluster, in 10 chunks in 9.8 s, and the notice advised fewer gates or rows
    (tester EW)."""
    sizes = X.chunks[0]
    if len(sizes) < 2 or np.median(sizes) >= _CHUNK_ROWS:
        return ""
    return (
        f" X has {len(sizes)} row chunks of about {int(np.median(sizes))} rows, and "
        "each pass over them costs Dask's overhead per chunk: X.rechunk({0: "
        f"{_CHUNK_ROWS}}}) (a DataFrame: X.repartition(npartitions=...)) before the "
        "fit makes them fewer and the fit faster."
    )


def _positive_rows(X, y, sample_weight):
    """X, y and sample_weight without the rows of weight 0, as the in-memory fits
    leave them out before anything counts them (kept on Dask, they changed
    n_gates='auto', lam='auto''s choice between cv and holdout, the gates and the
    warnings on X's columns: another model than in memory; tester DH). One pass over
    the weights, none over X (the rows kept per chunk come from the weights). Weights
    that are not valid are left to the checks that refuse them."""
    if sample_weight is None or _chunks.is_number(sample_weight):
        return X, y, sample_weight
    w = as_row_vector(sample_weight, X.chunks[0], "sample_weight", False)
    kept, valid = _chunks.compute(
        w.map_blocks(lambda b: np.array([np.count_nonzero(b > 0)]), dtype=np.intp),
        da.isfinite(w).all() & (w.min() >= 0),
    )
    if not valid or kept.sum() in (0, w.shape[0]):
        return X, y, sample_weight
    rows = tuple(int(k) for k in kept)
    keep = w > 0
    full = [i for i, k in enumerate(rows) if k]  # chunks left empty are dropped

    def chosen(a):
        a = a.rechunk({0: X.chunks[0]})
        a = da.map_blocks(
            lambda b, m: b[m.ravel()],
            a,
            keep if a.ndim == 1 else keep[:, None],
            chunks=(rows,) + a.chunks[1:],
            dtype=a.dtype,
        )
        return (
            da.concatenate([a.blocks[i] for i in full]) if len(full) < len(rows) else a
        )

    y = y if isinstance(y, da.Array) else da.from_array(y, chunks=(X.chunks[0],))
    return chosen(X), chosen(y), chosen(w)


def _fit_noticed(est, X, y, sample_weight, one_d, classes):
    n_gates, lam = _check(est)
    X, y, sample_weight = _positive_rows(X, y, sample_weight)
    # a record every 30 s of the passes no bar counts (verbose=1 said nothing in a
    # 74 s fit off a terminal, where the in-memory fit logs its solve; tester AQ)
    with heartbeat("column statistics, gates and first pass", est.verbose):
        rms = _check_feature_scales(est, X, y, sample_weight)
        est._neuron_bias_fit = bool(est.neuron_bias)
        est.bias_scale_ = _bias_scale(X, sample_weight, rms) if est.neuron_bias else 1.0
        seed = _seed(est.random_state)
        Xt = as_rows(_with_bias(as_rows(X), est.neuron_bias, est.bias_scale_))
        # the squared loss on the working sets' Gram: the gates of the in-memory fit
        # (tester EP: 36000 rows of 10 features took 272 gates in memory, 250 here)
        n_gates = gates_for_rows(
            n_gates,
            Xt.shape[0],
            Xt.shape[1] - bool(est.neuron_bias),
            1 if y.ndim == 1 else y.shape[1],
            gram=True,
        )
        notice = getattr(est, "_fit_notice", None)
        if notice is not None:
            notice.advice += _small_chunks_hint(Xt)
        arr = sample_arrangement(
            Xt, n_gates, seed=seed, linear_group=bool(est.linear_group)
        )
        est._linear_group_fit = bool(est.linear_group)
        prob = _DaskProblem(
            Xt, y, arr, sample_weight, est.fit_intercept, check_gates=False
        )
    # one row (of weight > 0) with an intercept: refused as in memory (a Dask fit
    # predicted its target everywhere; tester EW)
    if not classes:
        _est._check_rows_for_intercept(est, prob.n, sample_weight is not None)
    if classes and sample_weight is not None:
        # a class whose rows all have weight 0 is warned about, as in memory (it was
        # fitted without a word; tester BI); shares at round-off's level (the
        # means' 1e-16, not a class of weight 1e-13: BJ) count as 0
        totals = _class_totals(prob, one_d)
        est._weightless_classes(np.where(totals > 1e-14, totals, 0.0))
    W0 = np.zeros((prob.p, prob.d, prob.c))
    est.lams_ = est.lam_scores_ = est.objective_history_ = None
    est.lam_selection_ = None
    split_passes = 0
    if isinstance(lam, str):
        lam, est.lams_, est.lam_scores_, est.lam_selection_, split_passes, start = (
            _select_lam(est, prob, lam, seed)
        )
        if lam is None:  # W = 0 for every lam: any value gives the null model
            lam = _est._no_lam_to_select(est)
        elif start is not None:
            # the splits' solutions at lam (most of the rows): the refit on all rows
            # starts from their mean, as in memory, without a path's passes
            W0 = prob.check_coef(start)
    with heartbeat(f"solve at lam {lam:.4g}", est.verbose):
        res, _ = _solve_problem(
            prob,
            lam,
            W0,
            est.tol,
            est.max_iter,
            _MAX_PASSES,
            _check_verbose(est.verbose) >= 2,
            budgets=_ESTIMATOR_BUDGETS,
        )
    est.n_features_in_ = int(Xt.shape[1] - bool(est.neuron_bias))
    est._store_solution(res, arr, lam, n_gates, Xt, "squared", prob.user_weights)
    est.n_iter_ = int(res.n_iter)
    est.n_passes_ = int(prob.n_passes + split_passes)
    est._publish(one_d)
    return est


def _early_check(a, name, weights=False):
    """An in-memory y or sample_weight beside a Dask X checked before any pass over X
    (a NaN in y was refused after three passes, a negative weight after four)."""
    if a is None or dask.is_dask_collection(a) or _chunks.is_number(a):
        return
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        return
    if weights:
        check_weight_values(a)
    elif not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity")


def fit_regressor(est, X, y, sample_weight=None):
    """:meth:`fixntk.GatedReLURegressor.fit` on Dask collections (squared loss)."""
    loss = est.loss if est.loss is not None else "squared"
    if loss != "squared":
        raise ValueError(
            f"GatedReLURegressor on Dask collections solves loss='squared' only; got "
            f"loss={loss!r}"
        )
    _require_dask_X(X)
    _early_check(y, "y")
    _early_check(sample_weight, "sample_weight", weights=True)
    _record_feature_names(est, X)
    X = as_rows(X)
    _chunks._numeric_frame(y, "y")
    y = _targets(y, X.chunks[0])
    est._y_1d = y.ndim == 1
    _check_target_scales(est, y, sample_weight, X.chunks[0])
    return _fit(est, X, y, sample_weight, est._y_1d)


def _check_target_scales(est, y, sample_weight, rows):
    """The in-memory fit's warning on outputs far apart in scale, from their
    standard deviations and ranges over the rows of positive weight, summed on the
    workers as X's are (:func:`_chunks.column_stats`, one pass over y; it was not
    given on Dask: tester BY)."""
    if y.ndim != 2 or y.shape[1] < 2:
        return
    y = y.rechunk({1: -1})
    if sample_weight is not None and not _chunks.is_number(sample_weight):
        s = as_row_vector(sample_weight, rows, "sample_weight", False)
        y = _known_chunks(y[s > 0])
    if not y.shape[0]:  # no row of positive weight: refused by the fit next
        return
    parts = [dask.delayed(_chunks.column_stats, pure=True)(p) for p in chunk_tasks(y)]
    n, lo, hi, unit, _, m2 = run(tree_reduce(parts, _chunks.merge_column_stats))
    _est._warn_target_scales(est, np.sqrt(m2 / n) * unit, hi - lo)


def _one_hot_chunk(labels, classes):
    enc = np.searchsorted(classes, labels)
    if classes.size == 2:
        return 2.0 * enc - 1.0
    out = np.zeros((labels.shape[0], classes.size))
    out[np.arange(labels.shape[0]), enc] = 1.0
    return out


def fit_classifier(est, X, y, sample_weight=None):
    """:meth:`fixntk.GatedReLUClassifier.fit` on Dask collections: the squared loss on
    one-hot labels (labels +-1 for two classes), the paper's setting."""
    if est.loss != "squared":
        raise ValueError(
            "GatedReLUClassifier on Dask collections solves loss='squared' only (the "
            "paper's setting: one-hot labels); got loss="
            f"{est.loss!r}. The log losses' Newton steps would need a new Gram of the "
            "working set at every step"
        )
    if est.class_weight is not None:
        raise ValueError(
            "GatedReLUClassifier on Dask collections does not take class_weight; pass "
            "per-row weights as sample_weight"
        )
    _require_dask_X(X)
    _early_check(sample_weight, "sample_weight", weights=True)
    _record_feature_names(est, X)
    X = as_rows(X)
    y = _targets(y, X.chunks[0])
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, as scikit-learn takes it
        _warn(
            "A column-vector y was passed when a 1d array was expected; its one "
            "column is used",
            DataConversionWarning,
            stacklevel=user_stacklevel(),
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional class labels; got shape {y.shape}")
    if y.dtype.kind == "f":
        # continuous labels refused from one pass over y, before their distinct
        # values, O(n) of them, are gathered on the client (8e6 rows: 463 MiB to say
        # 'continuous'; tester CP)
        (fractional,) = _chunks.compute(da.any(da.isfinite(y) & (y != da.floor(y))))
        if fractional:
            check_classification_targets(np.array([0.5, 1.0]))  # in memory's error
    try:
        (classes,) = _chunks.compute(da.unique(y))  # O(classes) on the client
        classes = np.unique(classes)
    except TypeError as exc:  # e.g. None among strings
        raise ValueError(
            f"the labels in y cannot be ordered ({exc}); missing labels (None) "
            "among the others?"
        ) from None
    if classes.dtype == object:
        # labels of a nullable Int64 or categorical Series reach here as objects (a
        # Dask Series' to_dask_array): numbers among them are numbers, as in memory
        numeric = pd.Series(classes).infer_objects()
        if pd.api.types.is_numeric_dtype(numeric.dtype):
            classes = numeric.to_numpy()
    if classes.dtype.kind in "fc" and not np.isfinite(classes).all():
        # np.unique would make NaN a class of its own (in memory: the same error)
        raise ValueError("Input y contains NaN or infinity (missing labels?)")
    # continuous labels (every distinct float a class of its own) are refused as in
    # memory; the distinct values decide the type of target as all of y would
    check_classification_targets(classes)
    if classes.size < 2:
        raise ValueError(
            f"GatedReLUClassifier needs at least 2 classes in y; got {classes.size}"
        )
    est.classes_ = classes
    k = classes.size
    if k == 2:
        Y = y.map_blocks(_one_hot_chunk, classes, dtype=np.float64)
    else:
        Y = y.map_blocks(
            _one_hot_chunk,
            classes,
            dtype=np.float64,
            chunks=(y.chunks[0], (k,)),
            new_axis=1,
        )
    return _fit(est, X, Y, sample_weight, k == 2, classes=True)


def map_rows(method, X):
    """``method`` (a NumPy prediction method of a fitted estimator) over the row
    chunks of a Dask X, lazily: a Dask array of its outputs, row-chunked as X.

    A Dask DataFrame's columns must be the names the estimator was fitted with, in
    order (as scikit-learn checks a pandas frame's: reordered columns gave wrong
    predictions); its chunks then reach ``method`` as frames with those names."""
    names = getattr(method.__self__, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if columns is not None and names is not None:
        if list(columns) != list(names):
            raise ValueError(
                "The feature names should match those that were passed during fit, "
                f"in the same order: fitted with {list(names)}, got {list(columns)}"
            )
        fit_method = method

        def method(block):
            return fit_method(pd.DataFrame(block, columns=names))

    elif names is not None:  # a Dask array: scikit-learn's warning once, not per chunk
        _warn(
            "X does not have valid feature names, but "
            f"{type(method.__self__).__name__} was fitted with feature names",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        bare_method = method

        def method(block):
            # named as fitted: scikit-learn's warning is not raised per chunk (its
            # filter, swapped in by catch_warnings on the worker threads, was not
            # theirs alone; tester CR)
            if block.shape[1] == len(names):  # else scikit-learn's own error
                block = pd.DataFrame(block, columns=names)
            return bare_method(block)

    elif columns is not None and hasattr(method.__self__, "n_features_in_"):
        # a frame for an estimator fitted on an array: scikit-learn's warning, once
        # (a pandas frame had it, a Dask one not; tester FB)
        _warn(
            "X has feature names, but "
            f"{type(method.__self__).__name__} was fitted without feature names",
            UserWarning,
            stacklevel=user_stacklevel(),
        )

    # lazily: a frame's partition lengths are not computed (nor are they needed)
    X = as_rows(X, lengths=False)
    total = X.shape[0] if np.isfinite(X.shape[0]) else None
    chunk_method = method
    probe = np.asarray(chunk_method(np.zeros((1, X.shape[1]))))

    def method(block, block_info=None):
        if block.shape[0] == 0:  # a filtered frame's empty partition
            return np.empty((0,) + probe.shape[1:], dtype=probe.dtype)
        try:
            return chunk_method(block)
        except PredictionOverflowError as exc:  # rows of X, not of the chunk
            if block_info is None:
                raise
            start = block_info[0]["array-location"][0][0]
            if total is None or not np.isfinite(start):
                part = block_info[0]["chunk-location"][0]
                raise exc.shifted(None, None, part) from None
            raise exc.shifted(start, total) from None

    if probe.ndim == 1:
        return X.map_blocks(method, drop_axis=1, dtype=probe.dtype)
    return X.map_blocks(
        method, dtype=probe.dtype, chunks=(X.chunks[0], (probe.shape[1],))
    )


def _score_weights(sample_weight, rows):
    """The rows' weights of a Dask score (ones when None), chunked as ``rows``,
    checked (finite, >= 0, not all 0: R^2 of weights all 0 was 1.0; tester DU) and
    divided by the largest (weights of 1e307 overflowed the sums), as in memory."""
    if sample_weight is None:
        return da.ones(sum(rows), chunks=(rows,))
    w = as_row_vector(sample_weight, rows, "sample_weight", columns=False)
    wmin, wmax = _chunks.compute(da.min(w), da.max(w)) if sum(rows) else (0.0, 1.0)
    _check_score_weights(wmin)
    if not np.isfinite(wmax):
        raise ValueError("sample_weight must be finite and >= 0")
    if not wmax > 0:
        raise ValueError("the rows' sample_weight sums to 0: no score to compute")
    return w / wmax


def _check_score_weights(wmin):
    """Refuse weights whose smallest (computed) is negative or NaN."""
    if not float(wmin) >= 0:  # NaN too
        raise ValueError("sample_weight must be finite and >= 0")


def accuracy_rows(est, X, y, sample_weight=None):
    """:meth:`fixntk.GatedReLUClassifier.score` on Dask collections: the (weighted)
    fraction of rows whose lazy ``predict(X)`` equals y, summed on the workers
    (scikit-learn's ``accuracy_score`` gathered y and the predictions to the client:
    O(n) memory there)."""
    pred = _known_chunks(est.predict(X))  # lengths known: y is lined up with them
    rows = pred.chunks[0]
    Y = _targets(y, rows)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional class labels; got shape {Y.shape}")
    w = _score_weights(sample_weight, rows)
    right, total, wmin = _chunks.compute(
        (w * (pred == Y)).sum(), w.sum(), da.min(w) if sum(rows) else 0.0
    )
    _check_score_weights(wmin)
    if not float(total) > 0:
        raise ValueError("the rows' sample_weight sums to 0: no accuracy to compute")
    return float(right) / float(total)


def r2_score_rows(est, X, y, sample_weight=None):
    """:meth:`fixntk.GatedReLURegressor.score` on Dask collections: R^2 of the lazy
    ``predict(X)`` against y (outputs averaged uniformly), summed on the workers on
    each column of y and of the predictions divided by the power of 2 at or above
    that column of y's largest magnitude, as in memory (scikit-learn's ``r2_score``
    gathered both to the client, and for targets near 1e-160 its squares
    underflowed: 1.0 for any model)."""
    pred = _known_chunks(est.predict(X))  # lengths known: y is lined up with them
    rows = pred.chunks[0]
    Y = _targets(y, rows)
    if Y.dtype.kind not in "biuf":
        raise ValueError(_chunks.not_real("y", Y.dtype))
    Y = Y.astype(np.float64)
    Y = Y if Y.ndim == 2 else Y[:, None]
    P = pred if pred.ndim == 2 else pred[:, None]
    if Y.shape[1] != P.shape[1]:
        raise ValueError(
            f"y has {Y.shape[1]} output(s) but the model predicts {P.shape[1]}: they "
            "must match"
        )
    w = _score_weights(sample_weight, rows)
    top, wmin = _chunks.compute(da.max(da.fabs(Y), axis=0), da.min(w))
    if not np.isfinite(top).all():
        raise ValueError("Input y contains NaN or infinity")
    _check_score_weights(wmin)
    unit = _est._pow2_column_units(np.asarray(top)[None, :])  # one per column
    Yu, Pu, wc = Y / unit, P / unit, w[:, None]
    ybar = (wc * Yu).sum(axis=0) / w.sum()
    res, tot = _chunks.compute(
        (wc * (Yu - Pu) ** 2).sum(axis=0), (wc * (Yu - ybar) ** 2).sum(axis=0)
    )
    # scikit-learn's conventions for a constant y (force_finite): 1 for a perfect
    # fit, else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tot > 0, 1.0 - res / tot, np.where(res == 0, 1.0, 0.0))
    return float(np.mean(r2))
