"""The gated ReLU estimators on Dask collections: ``fit`` through
:func:`fixntk.dask.solve` (squared loss, a given lam), predictions mapped over the row
chunks. Called by :class:`fixntk.GatedReLURegressor` and
:class:`fixntk.GatedReLUClassifier` when they are given a Dask collection."""

from __future__ import annotations

import dask.array as da
import numpy as np

from .._estimators import _group_norms, _seed
from ._arrangement import sample_arrangement
from ._chunks import _frame_to_array, _known_chunks, as_rows
from ._solver import solve

__all__ = ["fit_regressor", "fit_classifier", "map_rows"]


def _check(est):
    """The estimator's parameters that the Dask backend supports; returns (n_gates,
    lam)."""
    name = type(est).__name__
    if isinstance(est.lam, str) or est.lam is None:
        raise ValueError(
            f"{name} on Dask collections needs a given lam (a number, e.g. a fraction "
            "of fixntk.dask.lambda_max); lam selection on Dask "
            f"(lam={est.lam!r}) is not implemented"
        )
    if est.solver != "bcd":
        raise ValueError(
            f"{name} on Dask collections solves with solver='bcd' only; got "
            f"solver={est.solver!r} (IRLS needs n x n kernel solves)"
        )
    if est.warm_start:
        raise ValueError(f"{name} on Dask collections does not take warm_start=True")
    n_gates, lam = est._check_params("squared")
    return n_gates, lam


def _with_bias(X, neuron_bias):
    if not neuron_bias:
        return X
    ones = da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1), dtype=X.dtype)
    return da.concatenate([X, ones], axis=1)


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
    return y.rechunk((rows,) + ((-1,) if y.ndim == 2 else ()))


def _fit(est, X, y, sample_weight, one_d):
    """Sample gates, solve at the given lam, set the fitted attributes."""
    n_gates, lam = _check(est)
    Xt = as_rows(_with_bias(as_rows(X), est.neuron_bias))
    arr = sample_arrangement(Xt, n_gates, seed=_seed(est.random_state))
    res = solve(
        Xt,
        y,
        arr,
        lam,
        tol=est.tol,
        max_iter=est.max_iter,
        verbose=est.verbose >= 2,
        sample_weight=sample_weight,
        fit_intercept=est.fit_intercept,
    )
    W = np.asarray(res.coef).reshape(arr.p, Xt.shape[1], -1)
    est.n_features_in_ = int(Xt.shape[1] - bool(est.neuron_bias))
    est._n_gates_fit = n_gates
    est._n_outputs_fit = W.shape[2]
    est.loss_ = "squared"
    est.gates_ = arr.gates
    est.coef_ = W
    est.intercept_ = res.intercept
    est.lam_ = float(lam)
    est.lams_ = est.lam_scores_ = est.objective_history_ = est.lam_selection_ = None
    est.eta_ = _group_norms(W)
    est.n_active_neurons_ = int(np.count_nonzero(est.eta_))
    est.dual_gap_ = float(res.gap)
    est.objective_ = float(res.objective)
    est.n_iter_ = int(res.n_iter)
    est.n_passes_ = int(res.n_passes)
    est._publish(one_d)
    return est


def fit_regressor(est, X, y, sample_weight=None):
    """:meth:`fixntk.GatedReLURegressor.fit` on Dask collections (squared loss)."""
    loss = est.loss if est.loss is not None else "squared"
    if loss != "squared":
        raise ValueError(
            f"GatedReLURegressor on Dask collections solves loss='squared' only; got "
            f"loss={loss!r}"
        )
    X = as_rows(X)
    y = _targets(y, X.chunks[0])
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1- or 2-dimensional; got shape {y.shape}")
    est._y_1d = y.ndim == 1
    return _fit(est, X, y, sample_weight, est._y_1d)


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
    X = as_rows(X)
    y = _targets(y, X.chunks[0])
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional class labels; got shape {y.shape}")
    classes = np.unique(da.unique(y).compute())  # O(classes) on the client
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
    return _fit(est, X, Y, sample_weight, k == 2)


def map_rows(method, X):
    """``method`` (a NumPy prediction method of a fitted estimator) over the row
    chunks of a Dask X, lazily: a Dask array of its outputs, row-chunked as X."""
    X = as_rows(X)
    probe = np.asarray(method(np.zeros((1, X.shape[1]))))
    if probe.ndim == 1:
        return X.map_blocks(method, drop_axis=1, dtype=probe.dtype)
    return X.map_blocks(
        method, dtype=probe.dtype, chunks=(X.chunks[0], (probe.shape[1],))
    )
