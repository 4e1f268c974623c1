"""Every public parameter refuses a value of the wrong kind by name, at fit or call:
never a crash deep in NumPy or scikit-learn, and never a nonsense value read by its
truth value ("False" turning warm starting on). Tester BB's fuzzing (15 bad values
for every parameter of every estimator and function) found the ones below."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

import fixntk
from fixntk import (
    GatedReLUClassifier,
    GatedReLURegressor,
    KAREKernelClassifier,
    KAREKernelRegressor,
    NTKClassifier,
    NTKRegressor,
    ReLUClassifier,
    ReLURegressor,
)

REGRESSORS = (GatedReLURegressor, ReLURegressor, NTKRegressor, KAREKernelRegressor)
CLASSIFIERS = (GatedReLUClassifier, ReLUClassifier, NTKClassifier, KAREKernelClassifier)
SMALL = {
    GatedReLURegressor: dict(n_gates=8, n_lams=3),
    GatedReLUClassifier: dict(n_gates=8, n_lams=3),
    ReLURegressor: dict(n_gates=8, n_lams=3),
    ReLUClassifier: dict(n_gates=8, n_lams=3),
    NTKRegressor: dict(),
    NTKClassifier: dict(),
    KAREKernelRegressor: dict(n_gates=8, max_iter=2),
    KAREKernelClassifier: dict(n_gates=8, max_iter=2),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.standard_normal(40)
    return X, y, (y > np.median(y)).astype(int)


def _fit(cls, data, **params):
    X, y, labels = data
    est = cls(**{**SMALL[cls], **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, labels if cls in CLASSIFIERS else y)


def _has(cls, name):
    return name in cls().get_params()


CASES = [
    ("warm_start", "False"),
    ("warm_start", -1),
    ("warm_start", np.array([1, 2])),
    ("linear_group", "False"),
    ("linear_group", None),
    ("verbose", -1),
    ("verbose", 1.5),
    ("verbose", float("nan")),
    ("verbose", "loud"),
    ("random_state", -1),
    ("random_state", "x"),
    ("cv", "x"),
    ("cv", -1),
    ("cv", []),
    ("cv", np.array([1, 2])),
    ("loss", np.array([1, 2])),
    ("solver", np.array([1, 2])),
    ("tol", 1.5),
    ("class_weight", []),
    ("class_weight", "x"),
]


@pytest.mark.parametrize(
    "cls,name,value",
    [
        (cls, name, value)
        for cls in REGRESSORS + CLASSIFIERS
        for name, value in CASES
        if _has(cls, name)  # each estimator's own parameters
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else repr(v),
)
def test_a_bad_parameter_is_refused_by_name(cls, name, value, data):
    with pytest.raises((ValueError, TypeError), match=name):
        _fit(cls, data, **{name: value})


@pytest.mark.parametrize(
    "cls",
    [c for c in REGRESSORS + CLASSIFIERS if _has(c, "cv")],
    ids=lambda c: c.__name__,
)
def test_a_bad_cv_is_refused_with_a_float_lam_too(cls, data):
    """The ReLU estimators took cv="foo" with a float lam (a search over
    lam=[0.1, "cv"] then failed at its "cv" candidates only); the gated and NTK
    estimators refused it (tester EV)."""
    for value in ("foo", -3):
        with pytest.raises((ValueError, TypeError), match="cv"):
            _fit(cls, data, lam=0.1, cv=value)


@pytest.mark.parametrize("cls", [KAREKernelRegressor, KAREKernelClassifier])
def test_a_number_for_eta0_is_told_it_needs_one_weight_per_mask(cls, data):
    """eta0=0.5 was told 'eta0 must have shape (98,)...; got shape ()', with 98 a
    count of masks the user never saw (tester EV)."""
    with pytest.raises(ValueError, match="eta0 must be an array of .* not one number"):
        _fit(cls, data, eta0=0.5)


@pytest.mark.parametrize("cls", REGRESSORS + CLASSIFIERS, ids=lambda c: c.__name__)
def test_verbose_none_and_bools_are_quiet_or_loud(cls, data):
    """verbose=None is 0 (it crashed the gated and ReLU fits: None >= 2); 1.0 is 1
    (it was refused once verbose was checked; tester BD)."""
    for value in (None, False, True, 0, 2, 1.0, np.int64(1)):
        _fit(cls, data, verbose=value)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_class_weights_all_zero_are_refused_in_the_users_words(cls, data):
    with pytest.raises(ValueError, match="class_weight"):
        _fit(cls, data, class_weight={0: 0, 1: 0})


def test_irls_and_duality_gap_flags_must_be_bools():
    """fit_intercept='False' fitted an intercept (3.13) in irls; duality_gap took
    0 (None is its default now: a SolveResult's own, else False)."""
    X, y = load_iris(return_X_y=True)
    X, y = X[:40], X[:40, 0]
    arr = fixntk.sample_arrangement(X, 5, seed=0)
    for flag in ("fit_intercept", "scale", "ntk_group"):
        with pytest.raises(ValueError, match=flag):
            fixntk.irls(X, y, arr, 0.1, **{flag: "False"})
    W = np.zeros((arr.p, X.shape[1]))
    with pytest.raises(ValueError, match="fit_intercept"):
        fixntk.duality_gap(X, y, arr, W, 0.1, fit_intercept=0)
    with pytest.raises(ValueError, match="method"):
        fixntk.irls(X, y, arr, 0.1, method=np.array([1, 2]))


def test_kare_mkl_refuses_a_tol_of_one_and_names_its_seed():
    """tol=1.5 took no step and reported convergence; a bad seed was named as
    train_test_split's random_state, and seed=True was taken."""
    X, y = load_iris(return_X_y=True)
    X, y = X[:60], X[:60, 0]
    arr = fixntk.sample_arrangement(X, 5, seed=0)
    with pytest.raises(ValueError, match="tol"):
        fixntk.kare_mkl(X, y, arr, tol=1.5)
    for seed in ("x", -1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            fixntk.kare_mkl(X, y, arr, seed=seed)


def test_a_float_lam_above_lambda_max_warns_that_the_model_is_constant(data):
    X, y, _ = data
    for cls in (GatedReLURegressor, ReLURegressor):
        with pytest.warns(UserWarning, match="lambda_max"):
            est = cls(lam=1e3, n_gates=8).fit(X, y)
        assert np.ptp(est.predict(X)) == 0.0


@pytest.mark.parametrize("verbose", [-1, 1.5, float("nan"), "loud"])
def test_the_solvers_refuse_a_bad_verbose_by_name(verbose):
    """verbose=-1, 1.5 or NaN ran anyway (NaN printed the full log, 1.5 nothing)."""
    X, y = load_iris(return_X_y=True)
    X, y = X[:40], X[:40, 0]
    arr = fixntk.sample_arrangement(X, 5, seed=0)
    calls = [
        lambda: fixntk.solve(X, y, arr, 0.1, verbose=verbose),
        lambda: fixntk.solve_path(X, y, arr, n_lams=3, verbose=verbose),
        lambda: fixntk.irls(X, y, arr, 0.1, verbose=verbose),
        lambda: fixntk.kare_mkl(X, y, arr, verbose=verbose),
        lambda: fixntk.solve_relu(X, y, arr, 0.1, verbose=verbose),
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError), match="verbose"):
            call()
