"""Scale equivariance of every public entry (issue 19, part 1).

X and y scaled together by s give the answer at s = 1, rescaled: one row of ``ENTRIES``
per entry point, holding what it computes from ``(X s, y s)`` and the power of s by
which each output scales (None: unchanged exactly, e.g. masks and labels). Laws, with
the objective in units of y^2:

- group lasso (squared loss), ReLU program, IRLS, MKL objective: coefficients and
  kernel weights eta unchanged, ``lam`` (an input) as s^2, objectives, gaps and
  ``lambda_max`` as s^2, predictions, output intercepts and constraint values ``X v``
  as s (with sample weights too: they do not scale);
- the logistic, multinomial and Poisson losses: their targets do not scale, so X alone
  is scaled: ``lam`` and ``lambda_max`` as s, coefficients as 1/s, objectives, gaps
  and intercepts unchanged;
- kernels as s^2 at fixed eta; kernel ridge and KARE with ``lam`` in kernel units
  (scaling as s^2): dual coefficients as 1/s, predictions as s, KARE (a squared error)
  as s^2;
- classifiers (labels do not scale): decision values unchanged, with kernel ridge's
  ``lam`` scaling as s^2 and the group-lasso ``lam`` of the classifiers as s;
- arrangements and NTK weights (signs only): unchanged exactly.

Most estimators are fitted with ``neuron_bias=False``; the entries marked
``neuron_bias=True`` check that the bias column (``bias_scale_``: the median of X's
column root mean squares) scales with X, which makes those models equivariant too
(with a column of ones the model itself changed with s). The output intercept
(``fit_intercept``) does scale, as y, and is in the table.

Each row is checked against s = 1 for s from 1e-150 to 1e150 (the entries compute at
unit scale inside; see fixntk._scale and fixntk._solver._Problem), and at 1e-200 and
1e200, where s^2 leaves double precision, for a clear refusal instead of a silent
wrong answer.
"""

import warnings
from functools import cache

import numpy as np
import pytest
from conftest import planted

import fixntk

SCALES = (1e-150, 1e-100, 1e-30, 1e30, 1e100, 1e150)
TOL = 1e-10  # solver tolerance used below (relative duality gap)


@cache
def data():
    X, y = planted(n=60, d=4, seed=7)
    Z = np.random.default_rng(8).standard_normal((15, 4))
    arr = fixntk.sample_arrangement(X, 20, seed=3)
    eta = np.random.default_rng(9).uniform(0.2, 1.0, arr.p)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    lam = 0.05 * fixntk.lambda_max(X, y, arr)  # group-lasso units
    lam_k = 1e-3  # kernel-ridge units (1e-3 x the typical eigenvalue of K/n)
    return X, y, Z, arr, eta, labels, lam, lam_k


# most entries leave out ``neuron_bias`` (the entries with it check its column's
# scale) and the output intercept (equivariant too, in the units of y)
NO_BIAS = {"neuron_bias": False, "fit_intercept": False}


def _quiet(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning, grid-end warnings
        return f()


# ---------------------------------------------------------------------- the entries
# Each takes s and returns {output: value}; LAWS gives each output's power of s.


def _ntk_kernel(s):
    X, _, Z, *_ = data()
    return {"K": fixntk.ntk_kernel(X * s), "KZ": fixntk.ntk_kernel(X * s, Z * s)}


def _mkl_kernel(s):
    X, _, Z, arr, eta, *_ = data()
    return {
        "K": fixntk.mkl_kernel(X * s, arr, eta),
        "KZ": fixntk.mkl_kernel(X * s, arr, eta, Z * s),
    }


def _sample_arrangement(s):
    X, *_ = data()
    arr = fixntk.sample_arrangement(X * s, 20, seed=3)
    return {"masks": arr.masks, "gates": arr.gates, "counts": arr.counts}


def _apply(s):
    X, _, Z, arr, *_ = data()
    return {"masks": arr.apply(Z * s)}


def _ntk_weights(s):
    X, _, _, arr, *_ = data()
    w = fixntk.ntk_weights(X * s, arr, n_samples=4000, seed=1)
    return {"eta": w.eta, "missing": w.missing_mass}


def _kare(s):
    X, y, *_, lam_k = data()
    with np.errstate(over="ignore"):  # s^2 K may overflow: then kare refuses it
        K = fixntk.ntk_kernel(X) * s * s
    return {
        "kare": fixntk.kare(K, y * s, lam_k * s * s),
        "curve": fixntk.kare(K, y * s, np.array([1e-6, 1e-2, 1.0]) * s * s),
    }


def _select_lambda_kare(s):
    X, y, *_ = data()
    sel = fixntk.select_lambda_kare(fixntk.ntk_kernel(X * s), y * s)
    return {"lam": sel.lam, "lams": sel.lams, "kare": sel.kare, "index": sel.index}


def _irls(s):
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(
        lambda: fixntk.irls(X * s, y * s, arr, lam * s * s, eta0="counts", tol=TOL)
    )
    return {
        "objective": res.objective,
        "coef": res.coef,
        "eta": res.eta,
        "gap": res.gap,
        "converged": res.converged,
    }


def _mkl_objective(s):
    X, y, _, arr, eta, _, lam, _ = data()
    return {"G": fixntk.mkl_objective(X * s, y * s, arr, eta, lam * s * s)}


def _kare_mkl(s):
    X, y, _, arr, *_ = data()
    res = _quiet(lambda: fixntk.kare_mkl(X * s, y * s, arr, max_iter=4))
    return {
        "eta": res.eta,
        "lam": res.lam,
        "kare": res.kare,
        "kare_start": res.kare_start,
        "validation": res.validation_history,
    }


def _ntk_regressor(s):
    X, y, Z, *_, lam_k = data()
    est = fixntk.NTKRegressor(lam=lam_k * s * s, **NO_BIAS).fit(X * s, y * s)
    return {
        "predict": est.predict(Z * s),
        "dual_coef": est.dual_coef_,
        "objective": est.objective_,
        "kare": est.kare_,
    }


def _ntk_regressor_kare(s):
    X, y, Z, *_ = data()
    est = _quiet(lambda: fixntk.NTKRegressor(**NO_BIAS).fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "lam": est.lam_, "kare": est.kare_}


def _ntk_classifier(s):
    X, _, Z, *_, labels, _, lam_k = data()
    est = fixntk.NTKClassifier(lam=lam_k * s * s, **NO_BIAS).fit(X * s, labels)
    return {"decision": est.decision_function(Z * s), "predict": est.predict(Z * s)}


def _kare_kernel_regressor(s):
    X, y, Z, *_ = data()
    est = fixntk.KAREKernelRegressor(
        n_gates=20, neuron_bias=False, max_iter=4, random_state=3
    )
    _quiet(lambda: est.fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "lam": est.lam_, "eta": est.eta_}


def _kare_kernel_classifier(s):
    X, _, Z, *_, labels, _, _ = data()
    est = fixntk.KAREKernelClassifier(
        n_gates=20, neuron_bias=False, max_iter=4, random_state=3
    )
    _quiet(lambda: est.fit(X * s, labels))
    return {"decision": est.decision_function(Z * s), "lam": est.lam_}


def _kare_kernel_regressor_bias(s):
    """neuron_bias=True, sample weights: the bias column at the weighted root mean
    square of X's entries scales with X."""
    X, y, Z, *_ = data()
    est = fixntk.KAREKernelRegressor(n_gates=20, max_iter=4, random_state=3)
    _quiet(lambda: est.fit(X * s, y * s, sample_weight=weights()))
    return {"predict": est.predict(Z * s), "lam": est.lam_, "eta": est.eta_}


def _kare_kernel_regressor_lam(s):
    X, y, Z, *_, lam_k = data()
    est = fixntk.KAREKernelRegressor(
        n_gates=20, lam=lam_k * s * s, neuron_bias=False, max_iter=4, random_state=3
    )
    _quiet(lambda: est.fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "eta": est.eta_}


def _solve_relu(s):
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(lambda: fixntk.solve_relu(X * s, y * s, arr, lam * s * s, tol=TOL))
    return {
        "objective": res.objective,
        "v": res.v,
        "u": res.u,
        "gap": res.gap,
        "violation": res.violation,
        "converged": res.converged,
    }


@cache
def _relu_point():
    """A feasible (v, u) at s = 1 off the optimum (0.9 times the ReLU program's
    solution: in the cones still, with a duality gap well above round-off)."""
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(lambda: fixntk.solve_relu(X, y, arr, lam, tol=1e-6))
    return 0.9 * res.v, 0.9 * res.u


def _relu_functions(s):
    X, y, _, arr, _, _, lam, _ = data()
    v, u = _relu_point()
    gap, dual = fixntk.relu_duality_gap(X * s, y * s, arr, v, u, lam * s * s)
    return {
        "lambda_max": fixntk.relu_lambda_max(X * s, y * s, arr),
        "objective": fixntk.relu_objective(X * s, y * s, arr, v, u, lam * s * s),
        "gap": gap,
        "dual": dual,
        "violation": fixntk.constraint_violation(X * s, arr, v, u),
    }


@cache
def _gated_point():
    X, y, _, arr, _, _, lam, _ = data()
    return fixntk.solve(X, y, arr, lam, tol=1e-8).coef


def _gated_to_relu(s):
    X, _, _, arr, *_ = data()
    dec = fixntk.gated_to_relu(X * s, arr, _gated_point())
    return {
        "v": dec.v,
        "u": dec.u,
        "residual": dec.residual,
        "violation": dec.violation,
        "penalty": dec.penalty,
        "infeasible": dec.infeasible,
    }


def _relu_regressor(s):
    X, y, Z, *_, lam, _ = data()
    est = fixntk.ReLURegressor(
        n_gates=20, lam=lam * s * s, neuron_bias=False, tol=TOL, random_state=3
    )
    _quiet(lambda: est.fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "v": est.v_, "objective": est.objective_}


def _relu_classifier(s):
    X, _, Z, *_, labels, lam, _ = data()
    # labels do not scale: the group-lasso lam scales as s (w as 1/s), not s^2
    est = fixntk.ReLUClassifier(
        n_gates=20, lam=lam * s, neuron_bias=False, tol=TOL, random_state=3
    )
    _quiet(lambda: est.fit(X * s, labels))
    return {"decision": est.decision_function(Z * s), "predict": est.predict(Z * s)}


# ------------------------------------------------------- the gated ReLU program
# The squared loss scales with y (X and y by s); the logistic, multinomial and Poisson
# losses do not (labels and counts stay): for them X alone is scaled, and lam, like
# lambda_max, scales as s, W as 1/s, objectives and the intercept not at all.


@cache
def weights():
    return np.random.default_rng(11).integers(0, 4, 60).astype(float)


@cache
def targets(loss):
    """(y, lam at s = 1, a point W off the optimum, solve's keyword arguments)."""
    X, y, _, arr, *_ = data()
    kw = {"loss": loss}
    if loss == "squared+":  # sample weights and an output intercept
        kw = {"sample_weight": weights(), "fit_intercept": True}
    elif loss == "logistic":
        y = (y > np.median(y)).astype(int)
        kw["fit_intercept"] = True
    elif loss == "multinomial":
        y = data()[5]
        kw["sample_weight"] = weights()
    elif loss == "poisson":
        y = np.random.default_rng(12).poisson(np.exp(0.3 * X[:, 0]))
        kw["fit_intercept"] = True
    lam = 0.05 * fixntk.lambda_max(X, y, arr, **kw)
    W = 0.9 * fixntk.solve(X, y, arr, lam, tol=1e-8, **kw).coef
    return y, lam, W, kw


def _program(loss):
    """s -> the program's functions on (X s, y s) (squared) or (X s, y)."""

    def entry(s):
        X, _, _, arr, *_ = data()
        y, lam, W, kw = targets(loss)
        sy, sl, sw = (s, s * s, 1.0) if loss.startswith("squared") else (1, s, 1 / s)
        Xs, ys = X * s, y * sy
        res = _quiet(lambda: fixntk.solve(Xs, ys, arr, lam * sl, tol=TOL, **kw))
        path = _quiet(
            lambda: fixntk.solve_path(Xs, ys, arr, n_lams=4, eps=0.05, tol=TOL, **kw)
        )
        return {
            "lambda_max": fixntk.lambda_max(Xs, ys, arr, **kw),
            "objective": fixntk.objective(Xs, ys, arr, W * sw, lam * sl, **kw),
            "duality_gap": fixntk.duality_gap(Xs, ys, arr, W * sw, lam * sl, **kw),
            "solve.objective": res.objective,
            "solve.coef": res.coef,
            "solve.intercept": res.intercept,
            "solve.gap": res.gap,
            "solve.converged": res.converged,
            "path.lams": path.lams,
            "path.coef": path.coefs[-1],
            "path.gaps": path.gaps,
        }

    return entry


def _program_laws(loss):
    """Powers of s: the squared loss as y^2 (lam, values) and y (intercept); the
    others with X alone (lam as s, W as 1/s, values and intercept unchanged)."""
    sq = loss.startswith("squared")
    gap = "gap" if sq else "gap0"
    return {
        "lambda_max": 2 if sq else 1,
        "objective": 2 if sq else 0,
        "duality_gap": 2 if sq else 0,
        "solve.objective": 2 if sq else 0,
        "solve.coef": 0 if sq else -1,
        "solve.intercept": 1 if sq else 0,
        "solve.gap": gap,
        "solve.converged": None,
        "path.lams": 2 if sq else 1,
        "path.coef": 0 if sq else -1,
        "path.gaps": gap,
    }


def _irls_weighted(s):
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(
        lambda: fixntk.irls(
            X * s,
            y * s,
            arr,
            lam * s * s,
            eta0="counts",
            tol=TOL,
            sample_weight=weights(),
            fit_intercept=True,
        )
    )
    return {"objective": res.objective, "coef": res.coef, "intercept": res.intercept}


def _irls_ntk_group(s):
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(
        lambda: fixntk.irls(X * s, y * s, arr, lam * s * s, tol=TOL, ntk_group=True)
    )
    return {"objective": res.objective, "coef": res.coef, "ntk_eta": res.ntk_eta}


def _solve_relu_weighted(s):
    X, y, _, arr, _, _, lam, _ = data()
    res = _quiet(
        lambda: fixntk.solve_relu(
            X * s, y * s, arr, lam * s * s, tol=TOL, sample_weight=weights()
        )
    )
    return {"objective": res.objective, "v": res.v, "gap": res.gap}


def _gated_regressor(lam, **kw):
    def entry(s):
        X, y, Z, *_ = data()
        est = fixntk.GatedReLURegressor(
            n_gates=20,
            lam=lam * s * s if isinstance(lam, float) else lam,
            tol=TOL,
            random_state=3,
            **{**NO_BIAS, **kw},
        )
        _quiet(lambda: est.fit(X * s, y * s, sample_weight=weights() if kw else None))
        net = est.to_network()
        return {
            "predict": est.predict(Z * s),
            "lam": est.lam_,
            "coef": est.group_coef_,
            "intercept": est.intercept_,
            "network": net.predict(Z * s),
        }

    return entry


def _gated_classifier(lam, **kw):
    def entry(s):
        X, _, Z, *_, labels, _, _ = data()
        est = fixntk.GatedReLUClassifier(
            n_gates=20,
            lam=lam * s if isinstance(lam, float) else lam,
            tol=TOL,
            random_state=3,
            **{**NO_BIAS, **kw},
        )
        _quiet(lambda: est.fit(X * s, labels))
        return {
            "decision": est.decision_function(Z * s),
            "proba": est.predict_proba(Z * s),
            "lam": est.lam_,
        }

    return entry


def _ntk_regressor_weighted(s):
    X, y, Z, *_ = data()
    est = fixntk.NTKRegressor(neuron_bias=False, fit_intercept=True)
    _quiet(lambda: est.fit(X * s, y * s, sample_weight=weights()))
    return {"predict": est.predict(Z * s), "lam": est.lam_, "kare": est.kare_}


def _ntk_regressor_bias(s):
    X, y, Z, *_ = data()
    est = fixntk.NTKRegressor(fit_intercept=True)  # neuron_bias=True
    _quiet(lambda: est.fit(X * s, y * s, sample_weight=weights()))
    return {"predict": est.predict(Z * s), "lam": est.lam_, "kare": est.kare_}


def _relu_regressor_bias(s):
    X, y, Z, *_ = data()
    est = fixntk.ReLURegressor(n_gates=20, lam="cv", cv=3, n_lams=4, random_state=3)
    _quiet(lambda: est.fit(X * s, y * s, sample_weight=weights()))
    net = est.to_network()
    return {"predict": est.predict(Z * s), "lam": est.lam_, "network": net(Z * s)}


def _ntk_regressor_cv(s):
    X, y, Z, *_ = data()
    est = fixntk.NTKRegressor(lam="cv", cv=3, random_state=0, **NO_BIAS)
    _quiet(lambda: est.fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "lam": est.lam_}


def _relu_regressor_cv(s):
    X, y, Z, *_ = data()
    est = fixntk.ReLURegressor(
        n_gates=20, lam="cv", cv=3, n_lams=4, neuron_bias=False, random_state=3
    )
    _quiet(lambda: est.fit(X * s, y * s))
    return {"predict": est.predict(Z * s), "lam": est.lam_}


def _ntk_classifier_kare(s):
    X, _, Z, *_, labels, _, _ = data()
    est = fixntk.NTKClassifier(lam="kare", **NO_BIAS)
    _quiet(lambda: est.fit(X * s, labels))
    return {"decision": est.decision_function(Z * s), "lam": est.lam_}


def _path_display(s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, _, arr, *_ = data()
    path = _quiet(lambda: fixntk.solve_path(X * s, y * s, arr, n_lams=4, tol=TOL))
    disp = fixntk.RegularizationPathDisplay.from_path(path)
    plt.close("all")
    return {"lams": disp.lams, "norms": disp.norms}


def _dask_program(s):
    """fixntk.dask (synchronous scheduler, 3 row chunks) on the squared program with
    sample weights and an intercept."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import fixntk.dask

    X, y, _, _, _, _, lam, _ = data()
    kw = {"sample_weight": da.from_array(weights(), chunks=25), "fit_intercept": True}
    with dask.config.set(scheduler="synchronous"):
        Xd, yd = da.from_array(X * s, chunks=(25, 4)), da.from_array(y * s, chunks=25)
        arr = fixntk.dask.sample_arrangement(Xd, 20, seed=3)
        res = _quiet(lambda: fixntk.dask.solve(Xd, yd, arr, lam * s * s, tol=TOL, **kw))
        path = _quiet(
            lambda: fixntk.dask.solve_path(
                Xd, yd, arr, n_lams=3, eps=0.1, tol=TOL, **kw
            )
        )
        return {
            "lambda_max": fixntk.dask.lambda_max(Xd, yd, arr, **kw),
            "objective": res.objective,
            "coef": res.coef,
            "intercept": res.intercept,
            "gap": res.gap,
            "path.lams": path.lams,
            "path.gaps": path.gaps,
        }


def _dask_ntk_weights_and_estimator(s):
    """fixntk.dask.ntk_weights and GatedReLURegressor on Dask with lam chosen on
    held-out rows (synchronous scheduler, 3 row chunks)."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import fixntk.dask

    X, y, Z, arr, *_ = data()
    with dask.config.set(scheduler="synchronous"):
        Xd, yd = da.from_array(X * s, chunks=(25, 4)), da.from_array(y * s, chunks=25)
        w = fixntk.dask.ntk_weights(Xd, arr, n_samples=4000, seed=1)
        est = fixntk.GatedReLURegressor(
            n_gates=20, lam="holdout", tol=TOL, random_state=3, **NO_BIAS
        )
        _quiet(lambda: est.fit(Xd, yd))
        return {
            "eta": w.eta,
            "missing": w.missing_mass,
            "predict": est.predict(da.from_array(Z * s, chunks=(8, 4))).compute(),
            "lam": est.lam_,
            "coef": est.group_coef_,
        }


_GATED = {"predict": 1, "lam": 2, "coef": 0, "intercept": 1, "network": 1}
_GATED_CLS = {"decision": 0, "proba": 0, "lam": 1}


# entry: (function, {output: power of s, or None for exact equality})
ENTRIES = {
    "ntk_kernel": (_ntk_kernel, {"K": 2, "KZ": 2}),
    "mkl_kernel": (_mkl_kernel, {"K": 2, "KZ": 2}),
    "sample_arrangement": (
        _sample_arrangement,
        {"masks": None, "gates": None, "counts": None},
    ),
    "Arrangement.apply": (_apply, {"masks": None}),
    "ntk_weights": (_ntk_weights, {"eta": None, "missing": None}),
    "fixntk.dask.ntk_weights, GatedReLURegressor on Dask (lam='holdout')": (
        _dask_ntk_weights_and_estimator,
        {"eta": None, "missing": None, "predict": 1, "lam": 2, "coef": 0},
    ),
    "kare": (_kare, {"kare": 2, "curve": 2}),
    "select_lambda_kare": (
        _select_lambda_kare,
        {"lam": 2, "lams": 2, "kare": 2, "index": None},
    ),
    "irls": (
        _irls,
        {"objective": 2, "coef": 0, "eta": 0, "gap": "gap", "converged": None},
    ),
    "mkl_objective": (_mkl_objective, {"G": 2}),
    "kare_mkl": (
        _kare_mkl,
        {"eta": 0, "lam": 2, "kare": 2, "kare_start": 2, "validation": 2},
    ),
    "NTKRegressor": (
        _ntk_regressor,
        {"predict": 1, "dual_coef": -1, "objective": 2, "kare": 2},
    ),
    "NTKRegressor(lam='kare')": (
        _ntk_regressor_kare,
        {"predict": 1, "lam": 2, "kare": 2},
    ),
    "NTKClassifier": (_ntk_classifier, {"decision": 0, "predict": None}),
    "KAREKernelRegressor": (_kare_kernel_regressor, {"predict": 1, "lam": 2, "eta": 0}),
    "KAREKernelClassifier": (_kare_kernel_classifier, {"decision": 0, "lam": 2}),
    "KAREKernelRegressor(lam=float)": (
        _kare_kernel_regressor_lam,
        {"predict": 1, "eta": 0},
    ),
    "solve_relu": (
        _solve_relu,
        {
            "objective": 2,
            "v": 0,
            "u": 0,
            "gap": "gap",
            "violation": "violation",
            "converged": None,
        },
    ),
    "relu_lambda_max, relu_objective, relu_duality_gap, constraint_violation": (
        _relu_functions,
        {
            "lambda_max": 2,
            "objective": 2,
            "gap": 2,  # the gap of a fixed point, not at round-off
            "dual": 2,
            "violation": "violation",
        },
    ),
    "gated_to_relu": (
        _gated_to_relu,
        {
            "v": 0,
            "u": 0,
            "residual": "violation",
            "violation": "violation",
            "penalty": 0,
            "infeasible": None,
        },
    ),
    "ReLURegressor": (_relu_regressor, {"predict": 1, "v": 0, "objective": 2}),
    "ReLUClassifier": (_relu_classifier, {"decision": 0, "predict": None}),
    **{
        f"lambda_max, objective, duality_gap, solve, solve_path ({loss})": (
            _program(loss),
            _program_laws(loss),
        )
        for loss in ("squared", "squared+", "logistic", "multinomial", "poisson")
    },
    "irls(sample_weight, fit_intercept)": (
        _irls_weighted,
        {"objective": 2, "coef": 0, "intercept": 1},
    ),
    "irls(ntk_group=True)": (
        _irls_ntk_group,
        {"objective": 2, "coef": 0, "ntk_eta": 0},
    ),
    "solve_relu(sample_weight)": (
        _solve_relu_weighted,
        {"objective": 2, "v": 0, "gap": "gap"},
    ),
    "GatedReLURegressor": (_gated_regressor(0.05), _GATED),
    "GatedReLURegressor(lam='auto', sample_weight, fit_intercept)": (
        _gated_regressor("auto", fit_intercept=True),
        _GATED,
    ),
    "GatedReLURegressor(lam='kare')": (_gated_regressor("kare"), _GATED),
    "GatedReLUClassifier": (_gated_classifier(0.02), _GATED_CLS),
    "GatedReLUClassifier(lam='auto', fit_intercept)": (
        _gated_classifier("auto", fit_intercept=True),
        _GATED_CLS,
    ),
    "NTKRegressor(sample_weight, fit_intercept)": (
        _ntk_regressor_weighted,
        {"predict": 1, "lam": 2, "kare": 2},
    ),
    "NTKRegressor(lam='cv')": (_ntk_regressor_cv, {"predict": 1, "lam": 2}),
    "NTKRegressor(neuron_bias=True, sample_weight, fit_intercept)": (
        _ntk_regressor_bias,
        {"predict": 1, "lam": 2, "kare": 2},
    ),
    "GatedReLURegressor(neuron_bias=True, lam='auto', sample_weight, fit_intercept)": (
        _gated_regressor("auto", fit_intercept=True, neuron_bias=True),
        _GATED,
    ),
    "GatedReLUClassifier(neuron_bias=True, lam='auto', fit_intercept)": (
        _gated_classifier("auto", fit_intercept=True, neuron_bias=True),
        _GATED_CLS,
    ),
    "KAREKernelRegressor(neuron_bias=True, sample_weight)": (
        _kare_kernel_regressor_bias,
        {"predict": 1, "lam": 2, "eta": 0},
    ),
    "ReLURegressor(neuron_bias=True, lam='cv', sample_weight)": (
        _relu_regressor_bias,
        {"predict": 1, "lam": 2, "network": 1},
    ),
    "NTKClassifier(lam='kare')": (_ntk_classifier_kare, {"decision": 0, "lam": 2}),
    "GatedReLURegressor(lam='holdout')": (_gated_regressor("holdout"), _GATED),
    "ReLURegressor(lam='cv')": (_relu_regressor_cv, {"predict": 1, "lam": 2}),
    "RegularizationPathDisplay.from_path": (_path_display, {"lams": 2, "norms": 0}),
    "fixntk.dask: lambda_max, solve, solve_path (sample_weight, fit_intercept)": (
        _dask_program,
        {
            "lambda_max": 2,
            "objective": 2,
            "coef": 0,
            "intercept": 1,
            "gap": "gap",
            "path.lams": 2,
            "path.gaps": "gap",
        },
    ),
}

# Outputs at round-off level (a converged solver's duality gap, a constraint
# violation, a reconstruction residual) have no digits to compare: at every s they must
# stay at that level, on the scale of what they are a round-off of: a gap against
# F(0) = ||y||^2 / (2n) (s^2), a violation or residual against max|y| (s).
_ROUNDOFF = {
    "gap": (2, lambda y: 10 * TOL * 0.5 * float(y @ y) / y.size),
    "violation": (1, lambda y: 1e-9 * float(np.abs(y).max())),
    # classification and Poisson losses: the objective does not scale (F(0) ~ 1)
    "gap0": (0, lambda y: 10 * TOL),
}


@cache
def reference(name):
    return ENTRIES[name][0](1.0)


def _unscale(value, power, s):
    """value / s**power, dividing one power at a time (s**2 itself stays in range
    where s**power * value may not)."""
    out = np.asarray(value, dtype=np.float64)
    for _ in range(abs(power)):
        out = out / s if power > 0 else out * s
    return out


def _close(name, key, got, want, power, s):
    where = f"{name}: {key} at s = {s:g}"
    if power is None:
        np.testing.assert_array_equal(got, want, err_msg=where)
        return
    if isinstance(power, str):
        power, level = _ROUNDOFF[power]
        floor = level(data()[1])
        assert np.abs(_unscale(got, power, s)).max() <= floor, where
        assert np.abs(want).max() <= floor, f"{name}: {key} at s = 1"
        return
    scaled, want = _unscale(got, power, s), np.asarray(want, dtype=np.float64)
    assert np.isfinite(scaled).all(), f"{where} is not finite"
    err = np.abs(scaled - want).max() if want.size else 0.0
    size = np.abs(want).max() if want.size else 0.0
    assert err <= 1e-6 * size, (
        f"{where} differs from s = 1 by {err:.3g} (of {size:.3g})"
    )


@pytest.mark.parametrize("s", SCALES, ids=lambda s: f"s={s:g}")
@pytest.mark.parametrize("name", list(ENTRIES))
def test_scale_equivariance(name, s):
    func, laws = ENTRIES[name]
    want = reference(name)
    got = func(s)
    assert set(got) == set(laws), f"{name}: the table lists {sorted(laws)}"
    for key, power in laws.items():
        _close(name, key, got[key], want[key], power, s)


@pytest.mark.parametrize("s", (1e-200, 1e200), ids=lambda s: f"s={s:g}")
@pytest.mark.parametrize("name", list(ENTRIES))
def test_beyond_double_precision_right_or_refused(name, s):
    """Where s^2 leaves double precision (kernels, lam, objectives), an entry either
    still gives the rescaled answer or refuses with a ValueError that says why; never a
    silent zero kernel, infinity or NaN."""
    func, laws = ENTRIES[name]
    try:
        got = func(s)
    except ValueError as exc:
        # the result out of range, or an input (s^2 lam, s^2 K) already out of it
        reasons = ("double precision", "lam", "infinity")
        assert any(r in str(exc) for r in reasons), str(exc)
        return
    want = reference(name)
    for key, power in laws.items():
        _close(name, key, got[key], want[key], power, s)


def test_rows_at_scales_far_apart():
    """Rows 1e350 apart in scale (each representable): the kernels are bilinear in
    each row's scale and the masks depend on signs only, so the results equal those
    of the rows brought to one scale, rescaled back. A global scale sent the small
    row to 0: its masks became all ones (NTK weights missing 39% of their mass) and
    its kernel entries 0."""
    rng = np.random.default_rng(0)
    U = rng.standard_normal((6, 2))
    r = np.array([1e150, 1e-200, 1.0, 1.0, 1.0, 1.0])
    X = U * r[:, None]
    arr = fixntk.sample_arrangement(X, 200, seed=0)
    ref_arr = fixntk.sample_arrangement(U, 200, seed=0)
    np.testing.assert_array_equal(arr.masks, ref_arr.masks)
    np.testing.assert_array_equal(arr.apply(X), arr.masks)
    w, ref = (fixntk.ntk_weights(A, arr, n_samples=20_000) for A in (X, U))
    np.testing.assert_array_equal(w.eta, ref.eta)
    assert w.missing_mass == ref.missing_mass == 0.0
    eta = np.linspace(0.5, 1.5, arr.p)
    for got, at_one_scale, cols in (
        (fixntk.ntk_kernel(X), fixntk.ntk_kernel(U), r),
        (fixntk.ntk_kernel(X, X[:3]), fixntk.ntk_kernel(U, U[:3]), r[:3]),
        (fixntk.mkl_kernel(X, arr, eta), fixntk.mkl_kernel(U, arr, eta), r),
        (
            fixntk.mkl_kernel(X, arr, eta, Z=X[:3]),
            fixntk.mkl_kernel(U, arr, eta, Z=U[:3]),
            r[:3],
        ),
    ):
        with np.errstate(under="ignore"):
            want = at_one_scale * r[:, None] * cols[None, :]
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    assert fixntk.ntk_kernel(X)[0, 1] != 0.0


def test_magnitudes_at_2_to_the_1023_and_beyond():
    """Finite values of 8.99e307 (2^1023) and more: the unit 2^1024 overflowed, a
    bare OverflowError from kare and NTKRegressor, and row_units' infinity sent such a
    row to zeros and every mask on it to True (25 of 45 wrong, silently; tester CK).
    The units stop at 2^1023; the row's masks are its own."""
    from fixntk._scale import row_units, unit

    assert unit(np.array([1e308])) == 2.0**1023
    assert np.isfinite(row_units(np.array([[1e308, -1.0], [3.0, 0.0]]))).all()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    arr = fixntk.sample_arrangement(X, 45, seed=0)
    row = np.array([[1e308, -1.0, 0.0]])
    np.testing.assert_array_equal(arr.apply(row), row @ arr.gates.T >= 0)
    y = rng.standard_normal(30)
    assert np.isfinite(fixntk.kare(np.eye(30) * 1e308, y, 0.1))
    big = y.copy()
    big[0] = 1e308
    with pytest.raises(ValueError, match="rescale y"):
        fixntk.NTKRegressor().fit(rng.standard_normal((30, 2)), big)


def test_unit_rows_transposed_kernels_match_numpy_bit_for_bit():
    """The parallel kernel that brings each row to its unit scale and transposes X
    (sample_arrangement and ntk_weights above NUMPY_WORK entries) gives NumPy's
    ``(X / row_units(X)[:, None]).T`` to the bit: rows of zeros, of 1e308 (unit
    2^1023), of subnormals (a unit whose inverse overflows), rows 1e600 apart, and a
    Fortran-ordered X, on the serial and the threaded kernel."""
    from fixntk._gates import _unit_rows_transposed_call
    from fixntk._scale import row_units

    rng = np.random.default_rng(0)
    tiny = np.full((2, 7), 5e-324)
    tiny[1, ::2] = -3e-320
    cases = [
        rng.standard_normal((3000, 20)) * np.exp(rng.uniform(-690, 690, (3000, 1))),
        np.vstack(
            [
                np.zeros((5, 7)),
                np.full((2, 7), -1e308),
                tiny,
                rng.standard_normal((1000, 7)),
            ]
        ),
        np.asfortranarray(rng.standard_normal((500, 3))),
    ]
    for X in cases:
        want = np.ascontiguousarray((X / row_units(X)[:, None]).T)
        for work in (0, 1 << 40):  # the serial kernel, then the threaded one
            got = _unit_rows_transposed_call(work, X)
            assert got.flags.c_contiguous and got.shape == want.shape
            np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def test_no_numpy_overflow_warnings_leak_at_extreme_scales():
    """Columns at 1e200 and 1e-200: the scale warning said "a factor of inf" beside
    NumPy's overflow warning, and irls at a lam 1e-300 of X's units leaked 251
    overflow warnings from its scale search and group norms (tester CK)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(30)
    Xm = X * np.array([1e200, 1e-200, 1.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        fixntk.GatedReLURegressor(n_gates=20, n_lams=5, random_state=0).fit(Xm, y)
        arr = fixntk.sample_arrangement(X, 20, seed=0)
        fixntk.irls(X * 1e150, y * 1e150, arr, 0.05, max_iter=20, n_samples=2000)
    assert any("a factor of 1e400" in str(w.message) for w in caught)


def test_an_overflowing_penalty_is_named_as_such():
    """objective and duality_gap where lam sum_i ||W_i|| overflows: the errors said
    'rescale y' (|y| up to 6) or blamed the predictions' loss (tester DG)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    arr = fixntk.sample_arrangement(X, n_gates=6, seed=0)
    y = rng.standard_normal(40)
    for W, lam in [(np.ones((arr.p, 3)), 1e308), (np.full((arr.p, 3), 1e10), 1e300)]:
        for fn in (fixntk.objective, fixntk.duality_gap):
            with pytest.raises(ValueError, match=r"the penalty lam \* sum_i"):
                fn(X, y, arr, W, lam)
    assert np.isfinite(fixntk.objective(X, y, arr, np.ones((arr.p, 3)), 1e300))


def test_coefficients_below_double_precision_are_refused():
    """X at 1e170 and y at 1e-170 (each inside double precision) have coefficients
    near 1e-340: they came back as zeros (or subnormals with 3 digits), certified,
    without a word (tester EK). Refused by name, as coefficients beyond the range
    are; at 1e150 (coefficients near 1e-300, still normal) the solve is the unit
    one's to round-off. Kernel models' dual coefficients (y / |X|^2) the same."""
    rng = np.random.default_rng(15)
    X = rng.standard_normal((60, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(60)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    base = fixntk.solve(X, y, arr, 0.05 * fixntk.lambda_max(X, y, arr), tol=1e-10)
    for s in (1e160, 1e170, 1e300):
        lam = 0.05 * fixntk.lambda_max(X * s, y / s, arr)
        with pytest.raises(ValueError, match="coefficients fall below the range"):
            fixntk.solve(X * s, y / s, arr, lam, tol=1e-10)
    s = 1e150
    res = fixntk.solve(X * s, y / s, arr, 0.05 * fixntk.lambda_max(X * s, y / s, arr))
    np.testing.assert_allclose(res.coef * s * s, base.coef, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="dual coefficients fall below the range"):
        fixntk.NTKRegressor(lam=0.1).fit(X * 1e120, y * 1e-100)
    est = fixntk.NTKRegressor(lam=0.1).fit(X * 1e100, y * 1e-100)
    assert np.abs(est.dual_coef_).max() > 0
