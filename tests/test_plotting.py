"""The plot displays draw the numbers they are given (Agg backend, no window)."""

import matplotlib
import numpy as np
import pytest
from conftest import planted
from sklearn.base import clone
from sklearn.datasets import load_diabetes

import fixntk

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    X, y = planted(n=120, d=3, seed=2)
    est = fixntk.GatedReLURegressor(
        n_gates=30, lam="cv", n_lams=6, eps=1e-3, cv=3, solver="irls", random_state=0
    ).fit(X, y)
    return X, y, est


def test_regularization_path_from_solve_path():
    X, y = planted(n=100, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    path = fixntk.solve_path(X, y, arr, n_lams=8, eps=1e-2)
    fig, ax = plt.subplots()
    disp = fixntk.RegularizationPathDisplay.from_path(path, lam=path.lams[3], ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    norms = np.array([np.linalg.norm(W, axis=1) for W in path.coefs])
    used = np.flatnonzero(norms.max(axis=0) > 0)
    assert len(disp.lines_) == used.size > 0
    for line, i in zip(disp.lines_, used):
        np.testing.assert_array_equal(line.get_xdata(), path.lams)
        np.testing.assert_allclose(line.get_ydata(), norms[:, i])
    assert norms[0].max() == 0  # nothing is active at lam_max
    assert ax.get_xscale() == "log"


def test_regularization_path_from_estimator():
    X, y = planted(n=120, d=3, seed=2)
    est = fixntk.GatedReLURegressor(
        n_gates=30, lam="cv", n_lams=6, eps=1e-3, cv=3, random_state=0
    ).fit(X, y)
    disp = fixntk.RegularizationPathDisplay.from_estimator(est, X, y)
    np.testing.assert_allclose(disp.lams, est.lams_)
    # the same program along the path: at lam_ its objective is the estimator's,
    # both certified to tol = 1e-4 of the null model's objective
    j = int(np.flatnonzero(est.lams_ == est.lam_)[0])
    assert np.count_nonzero(disp.norms[j]) > 0
    Xt = np.hstack([X, np.full((len(X), 1), est.bias_scale_)])
    arr = fixntk.Arrangement.from_masks(Xt @ est.gates_.T >= 0)
    W = fixntk.solve(Xt, y, arr, est.lam_, tol=1e-4, fit_intercept=True)
    assert abs(W.objective - est.objective_) <= 2e-4 * W.f0


def test_regularization_path_refuses_labels_the_classifier_never_saw():
    """0/1 codes for a classifier fitted on words drew the zero path (squared loss) or
    another encoding's (log loss), with no message (tester BH)."""
    X, y = planted(n=120, d=3, seed=2)
    codes = (y > np.median(y)).astype(int)
    words = np.array(["high", "low"])[codes]
    for loss in ("squared", "log_loss"):
        est = fixntk.GatedReLUClassifier(
            n_gates=20, lam=0.01, loss=loss, random_state=0
        ).fit(X, words)
        fixntk.RegularizationPathDisplay.from_estimator(est, X, words)
        with pytest.raises(ValueError, match="not fitted on: 0, 1; .* 'high', 'low'"):
            fixntk.RegularizationPathDisplay.from_estimator(est, X, codes)


def test_lambda_selection_curve(fitted):
    _, _, est = fitted
    disp = fixntk.LambdaSelectionDisplay.from_estimator(est)
    np.testing.assert_array_equal(disp.line_.get_xdata(), est.lams_)
    np.testing.assert_array_equal(disp.line_.get_ydata(), est.lam_scores_)
    # the gated paths score the datafit's value: half the squared error here
    assert disp.ax_.get_ylabel() == "cross-validated half mean squared error"
    s = est.lam_scores_
    assert est.lam_ == est.lams_[np.flatnonzero(s <= s.min() + 1e-3 * abs(s.min()))[0]]


def test_irls_objective(fitted):
    _, _, est = fitted
    disp = fixntk.IRLSObjectiveDisplay.from_estimator(est)
    h = est.objective_history_
    np.testing.assert_array_equal(disp.line_.get_ydata(), h)
    np.testing.assert_array_equal(disp.line_.get_xdata(), np.arange(h.size))
    assert h[0] > h[-1]  # from the NTK's weights down
    assert disp.optimum == est.objective_
    X, y = planted(n=80, d=3, seed=1)
    arr = fixntk.sample_arrangement(X, 15, seed=0)
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    res = fixntk.irls(X, y, arr, lam)
    disp = fixntk.IRLSObjectiveDisplay.from_result(res)
    np.testing.assert_array_equal(disp.line_.get_ydata(), res.history)


def test_cell_weights(fitted):
    X, _, est = fitted
    disp = fixntk.CellWeightsDisplay.from_estimator(est, X, n_samples=20000)
    a = disp.ntk_eta / disp.ntk_eta.sum()
    b = est.eta_ / est.eta_.sum()
    both = (a > 0) & (b > 0)
    np.testing.assert_allclose(disp.scatter_.get_offsets(), np.c_[a[both], b[both]])
    assert disp.n_dropped_ == np.count_nonzero(est.eta_ == 0)
    # an active cell the NTK gives no weight (the linear group without a neuron
    # bias) is off the log axes: counted in the title, not dropped silently
    # (tester CV)
    disp = fixntk.CellWeightsDisplay([0.5, 0.5, 0.0, 0.0], [0.2, 0.0, 0.6, 0.0]).plot()
    assert disp.n_dropped_ == 2 and disp.n_unplotted_ == 1
    assert len(disp.scatter_.get_offsets()) == 1
    assert (
        "1 of NTK weight 0 not shown, 75% of the fixed weight" in disp.ax_.get_title()
    )
    with pytest.raises(ValueError, match="same shape"):
        fixntk.CellWeightsDisplay(np.ones(3), np.ones(4))
    # X checked as predict checks it (it was a raw matmul error)
    with pytest.raises(ValueError, match="X has 2 features, but"):
        fixntk.CellWeightsDisplay.from_estimator(est, X[:, :2])


def test_cell_weights_name_the_uniform_fallback():
    """In 30 dimensions 40 sampled cells hold almost none of the Gaussian mass and the
    NTK weights fall back to 1/p per mask: the axis says so (it read 'share of the
    Gaussian mass' under a vertical line at 1/p)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 30))
    y = X[:, 0] + np.maximum(X[:, 1], 0)
    est = fixntk.GatedReLURegressor(n_gates=40, lam=0.01, random_state=0).fit(X, y)
    disp = fixntk.CellWeightsDisplay.from_estimator(est, X, n_samples=20000)
    np.testing.assert_allclose(disp.ntk_eta, 1.0 / est.gates_.shape[0])
    assert disp.ax_.get_xlabel().startswith("NTK weight (finite-width: 1/p per mask")
    # ... within the figure in the gallery's layout: two panels of a 10 x 4 figure
    # (one line of it ran off the right edge; tester DS)
    fig, (_, ax) = plt.subplots(1, 2, figsize=(10, 4))
    fixntk.CellWeightsDisplay.from_estimator(est, X, n_samples=20000, ax=ax)
    fig.tight_layout()
    fig.canvas.draw()
    assert ax.xaxis.label.get_window_extent().x1 <= fig.bbox.width


def test_cell_weights_of_a_kare_kernel_count_its_ntk_part():
    """A KARE-trained kernel is ntk_weight_ times the NTK plus sum_i eta_i K_i: on a
    sampled cell its weight is eta_i + ntk_weight_ eta~_i. Drawn from eta_ alone, a
    kernel that kept the NTK (eta_ = 0) gave an empty plot titled 'every cell set
    to zero'; it now lies on the diagonal."""
    X, y = planted(n=40, d=2, seed=0)  # few rows and features: cells with mass
    kare = fixntk.KAREKernelRegressor(n_gates=20, random_state=0).fit(X, y)
    kept = clone(kare).fit(X, y)
    kept.eta_, kept.ntk_weight_ = np.zeros_like(kare.eta_), 1.0
    disp = fixntk.CellWeightsDisplay.from_estimator(kept, X, n_samples=20000)
    # only the cells the Monte Carlo directions never reached have weight 0
    assert disp.name == "learned"
    assert disp.n_dropped_ == np.count_nonzero(disp.ntk_eta == 0) < len(disp.eta) // 4
    xy = disp.scatter_.get_offsets()
    assert len(xy) == np.count_nonzero(disp.ntk_eta)
    np.testing.assert_allclose(xy[:, 1], xy[:, 0], rtol=1e-12)
    assert "learned" in disp.ax_.get_ylabel()
    # a learned kernel: eta_ plus its NTK part, cell by cell
    disp = fixntk.CellWeightsDisplay.from_estimator(kare, X, n_samples=20000)
    np.testing.assert_allclose(disp.eta, kare.eta_ + kare.ntk_weight_ * disp.ntk_eta)
    plt.close("all")


def test_missing_attribute_is_a_clear_error():
    X, y = planted(n=60, d=2, seed=0)
    est = fixntk.GatedReLURegressor(n_gates=10, lam=0.1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="no objective_history_.*solver='irls'"):
        fixntk.IRLSObjectiveDisplay.from_estimator(est)
    with pytest.raises(ValueError, match="lam_scores_.*lam is chosen on a grid"):
        fixntk.LambdaSelectionDisplay.from_estimator(est)


@pytest.mark.parametrize("lam", ["auto", "holdout"])
def test_lambda_selection_label_names_the_loss_and_the_split(lam):
    """The label follows lam_selection_ ("auto" runs "cv" or "holdout") and the loss:
    it read "auto" for the default, and "mean squared error" for log-loss scores."""
    X, y = planted(n=120, d=3, seed=2)
    est = fixntk.GatedReLUClassifier(n_gates=10, lam=lam, random_state=0)
    est.fit(X, y > np.median(y))
    disp = fixntk.LambdaSelectionDisplay.from_estimator(est)
    where = "cross-validated" if est.lam_selection_ == "cv" else "held-out"
    assert disp.ax_.get_ylabel() == f"{where} log loss"
    ntk = fixntk.NTKRegressor(lam="cv").fit(X, y)
    label = fixntk.LambdaSelectionDisplay.from_estimator(ntk).ax_.get_ylabel()
    assert label == "cross-validated mean squared error"
    # the NTK's default, leave-one-out (its label read "auto")
    ntk = fixntk.NTKRegressor().fit(X, y)
    assert ntk.lam_selection_ == "loo"
    label = fixntk.LambdaSelectionDisplay.from_estimator(ntk).ax_.get_ylabel()
    assert label == "leave-one-out mean squared error"
    assert fixntk.NTKRegressor(lam=0.1).fit(X, y).lam_selection_ is None


def test_path_and_cells_of_wrapped_or_weighted_fits():
    """A pipeline's earlier steps, a TransformedTargetRegressor's transform of y and
    the fit's sample weights reach the recomputed path (the raw inputs gave another
    problem's path, with no error): at lam_ its group norms are the estimator's."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = planted(n=150, d=3, seed=4)
    Xs = X * np.array([1.0, 10.0, 0.1]) + 5.0
    kw = dict(n_gates=20, lam="cv", n_lams=6, eps=1e-2, cv=3, tol=1e-9)
    kw["random_state"] = 0

    def norms_at_lam(disp, est):
        j = int(np.argmin(np.abs(disp.lams - est.lam_)))
        assert disp.lams[j] == pytest.approx(est.lam_, rel=1e-12)
        return disp.norms[j]

    pipe = make_pipeline(StandardScaler(), fixntk.GatedReLURegressor(**kw)).fit(Xs, y)
    disp = fixntk.RegularizationPathDisplay.from_estimator(pipe, Xs, y)
    want = np.linalg.norm(pipe[-1].group_coef_, axis=1)
    np.testing.assert_allclose(norms_at_lam(disp, pipe[-1]), want, atol=1e-5)
    cells = fixntk.CellWeightsDisplay.from_estimator(pipe, Xs, n_samples=2000)
    last = fixntk.CellWeightsDisplay.from_estimator(
        pipe[-1], pipe[:-1].transform(Xs), n_samples=2000
    )
    np.testing.assert_array_equal(cells.ntk_eta, last.ntk_eta)

    ttr = TransformedTargetRegressor(
        fixntk.GatedReLURegressor(**kw), func=np.exp, inverse_func=np.log
    ).fit(X, y)
    disp = fixntk.RegularizationPathDisplay.from_estimator(ttr, X, y)
    want = np.linalg.norm(ttr.regressor_.group_coef_, axis=1)
    np.testing.assert_allclose(norms_at_lam(disp, ttr.regressor_), want, atol=1e-5)

    w = np.where(X[:, 0] > 0, 5.0, 0.1)
    est = fixntk.GatedReLURegressor(**kw).fit(X, y, sample_weight=w)
    disp = fixntk.RegularizationPathDisplay.from_estimator(est, X, y, sample_weight=w)
    want = np.linalg.norm(est.group_coef_, axis=1)
    np.testing.assert_allclose(norms_at_lam(disp, est), want, atol=1e-5)


@pytest.mark.parametrize("class_weight", ["balanced", {"a": 5.0, "b": 1.0}])
def test_path_of_a_class_weighted_classifier(class_weight):
    """A classifier's class_weight weights the recomputed path's rows as it weighted
    the fit's (it was left out: the path was another problem's, with no error, 0.07
    off in a group norm of 0.64 at lam_)."""
    X, _ = planted(n=60, d=3, seed=0)
    labels = np.where(X[:, 0] > 0.8, "a", "b")
    clf = fixntk.GatedReLUClassifier(
        n_gates=10,
        n_lams=6,
        loss="squared",
        class_weight=class_weight,
        tol=1e-9,
        random_state=0,
    ).fit(X, labels)
    disp = fixntk.RegularizationPathDisplay.from_estimator(clf, X, labels)
    j = int(np.argmin(np.abs(disp.lams - clf.lam_)))
    assert disp.lams[j] == pytest.approx(clf.lam_, rel=1e-12)
    want = np.linalg.norm(clf.group_coef_, axis=1)
    np.testing.assert_allclose(disp.norms[j], want, atol=1e-6)


def test_displays_name_the_estimators_they_draw(tmp_path):
    """A display given an estimator it does not draw says which ones it draws: the
    path refuses the KARE-kernel estimator (it has gates, but its model is not the
    group lasso: the path drawn was another model's) and the NTK; the cell weights
    name the estimators that have them."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:120], y[:120]
    kare = fixntk.KAREKernelRegressor(n_gates=20, random_state=0).fit(X, y)
    ntk = fixntk.NTKRegressor().fit(X, y)
    for est in (kare, ntk):
        with pytest.raises(TypeError, match="GatedReLURegressor or GatedReLUClassif"):
            fixntk.RegularizationPathDisplay.from_estimator(est, X, y)
    with pytest.raises(ValueError, match="KARE-kernel estimators"):
        fixntk.CellWeightsDisplay.from_estimator(ntk, X)
    plt.close("all")


def test_kare_cells_missed_by_the_draws_are_not_said_set_to_zero():
    """Tester DS: a KARE kernel that kept the NTK was titled '3999 cells set to zero'
    (the cells the Gaussian draws missed); every cell keeps its NTK probability."""
    X, y = planted(n=40, d=2, seed=0)
    kept = fixntk.KAREKernelRegressor(n_gates=20, random_state=0).fit(X, y)
    kept.eta_, kept.ntk_weight_ = np.zeros_like(kept.eta_), 1.0
    disp = fixntk.CellWeightsDisplay.from_estimator(kept, X, n_samples=200)
    assert disp.n_dropped_ > 0  # 200 draws miss some of the 20 cells
    title = disp.ax_.get_title()
    assert "set to zero" not in title and "Monte Carlo resolution (1/200)" in title
    # a fixed NTK's zero weights are inactive neurons, said as before
    est = fixntk.GatedReLURegressor(n_gates=20, lam=0.05, random_state=0).fit(X, y)
    disp = fixntk.CellWeightsDisplay.from_estimator(est, X, n_samples=2000)
    assert f"{disp.n_dropped_} cells set to zero" in disp.ax_.get_title()


def test_path_axis_stays_decreasing_and_one_lam_is_marked():
    """Tester DS: plot() toggled the x axis (a second path on the same axes turned
    lam back to increasing); a path of one lam drew nothing."""
    X, y = planted(n=100, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    path = fixntk.solve_path(X, y, arr, n_lams=5, eps=1e-2)
    disp = fixntk.RegularizationPathDisplay.from_path(path)
    fixntk.RegularizationPathDisplay.from_path(path, ax=disp.ax_)
    assert disp.ax_.xaxis_inverted()
    one = fixntk.solve_path(X, y, arr, lams=[path.lams[-1]])
    disp = fixntk.RegularizationPathDisplay.from_path(one)
    assert disp.lines_ and all(line.get_marker() == "o" for line in disp.lines_)


def test_irls_plot_names_its_start():
    """Tester DS: from given weights, step 0 was labelled the NTK's."""
    X, y = planted(n=60, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 15, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    given = fixntk.irls(X, y, arr, lam, eta0=np.linspace(1.0, 2.0, arr.p))
    disp = fixntk.IRLSObjectiveDisplay.from_result(given)
    assert "given" in disp.ax_.get_xlabel() and disp.ax_.get_title() == "IRLS"
    ntk = fixntk.irls(X, y, arr, lam)
    disp = fixntk.IRLSObjectiveDisplay.from_result(ntk)
    assert "NTK" in disp.ax_.get_xlabel() and disp.ax_.get_title() == "Fixing the NTK"


def test_relu_auto_selection_is_labelled_as_cross_validation():
    """Tester DS: ReLURegressor(lam='auto') (cross-validation) had the label 'auto'."""
    X, y = planted(n=60, d=2, seed=0)
    est = fixntk.ReLURegressor(n_gates=10, lam="auto", n_lams=4, random_state=0)
    est.fit(X, y)
    disp = fixntk.LambdaSelectionDisplay.from_estimator(est)
    assert disp.score_name.startswith("cross-validated")


def test_results_compare_without_raising():
    """Tester DS: == on a result (arrays inside) raised 'truth value ... ambiguous'."""
    X, y = planted(n=40, d=2, seed=0)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    res = fixntk.solve(X, y, arr, 0.1 * fixntk.lambda_max(X, y, arr))
    assert res == res and not (res != res)
    assert (res == fixntk.solve(X, y, arr, 0.2)) is False


def test_displays_reach_inside_a_target_transform_of_a_pipeline():
    """Tester DS: TransformedTargetRegressor(Pipeline(scaler, gated)) was taken for
    the estimator ('Pipeline has no eta_'); its path is the inner fit's problem."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = planted(n=120, d=3, seed=1)
    inner = fixntk.GatedReLURegressor(n_gates=20, lam="cv", n_lams=5, random_state=0)
    est = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), inner), transformer=StandardScaler()
    ).fit(X, y)
    fitted = est.regressor_[-1]
    disp = fixntk.LambdaSelectionDisplay.from_estimator(est)
    np.testing.assert_array_equal(disp.lams, fitted.lams_)
    cells = fixntk.CellWeightsDisplay.from_estimator(est, X, n_samples=2000)
    np.testing.assert_array_equal(cells.eta, fitted.eta_)
    path = fixntk.RegularizationPathDisplay.from_estimator(est, X, y)
    k = int(np.argmin(np.abs(path.lams - fitted.lam_)))
    np.testing.assert_allclose(path.norms[k], fitted.eta_, atol=1e-2)


def test_path_of_a_given_small_lam_reaches_it():
    """Tester DS: with lam=1e-6 the path stopped at 1e-3 lam_max, decades above the
    fit it claims to show."""
    X, y = planted(n=80, d=2, seed=0)
    est = fixntk.GatedReLURegressor(n_gates=10, lam=1e-6, random_state=0).fit(X, y)
    disp = fixntk.RegularizationPathDisplay.from_estimator(est, X, y)
    np.testing.assert_allclose(disp.lams[-1], 1e-6, rtol=1e-9)


def test_cell_weights_leave_out_rows_of_weight_zero():
    """Tester DS: the cells were built on every row, those of weight 0 included (the
    fit leaves them out): the weights of the weighted rows alone are drawn."""
    X, y = planted(n=120, d=2, seed=3)
    s = np.ones(120)
    s[::3] = 0.0
    est = fixntk.GatedReLURegressor(n_gates=15, lam=0.01, random_state=0)
    est.fit(X, y, sample_weight=s)
    weighted = fixntk.CellWeightsDisplay.from_estimator(
        est, X, sample_weight=s, n_samples=5000
    )
    alone = fixntk.CellWeightsDisplay.from_estimator(est, X[s > 0], n_samples=5000)
    np.testing.assert_array_equal(weighted.ntk_eta, alone.ntk_eta)


def test_irls_plot_of_an_estimator_names_the_start_its_irls_took():
    """Tester DT: from_estimator named the NTK's Monte Carlo weights as step 0 where
    the estimator's irls(eta0='ntk') fell back to the finite-width counts (20 cells
    of 5 columns hold under half the Gaussian mass); from_result named them."""
    import fixntk._estimators as est_module

    seen = []
    irls = est_module.irls

    def spy(*args, **kw):
        seen.append(irls(*args, **kw))
        return seen[-1]

    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 4))
    y = np.maximum(X[:, 0], 0) + 0.1 * rng.standard_normal(150)
    est_module.irls = spy
    try:
        est = fixntk.GatedReLURegressor(
            n_gates=20, lam=0.01, solver="irls", random_state=0
        ).fit(X, y)
    finally:
        est_module.irls = irls
    assert seen[-1].eta0_kind == "counts"
    a = fixntk.IRLSObjectiveDisplay.from_estimator(est).ax_.get_xlabel()
    b = fixntk.IRLSObjectiveDisplay.from_result(seen[-1]).ax_.get_xlabel()
    assert a == b and "finite width" in a
