"""Small lam (issue 19, part 3): where block coordinate descent is slow (correlated and
duplicated columns, lam -> 0 with every group active), ``solve`` switches to the
kernel route (``irls`` from the descent's group norms) and still certifies ``tol``.

Independent routes: the public ``duality_gap`` at the returned point, cvxpy on a
problem small enough for its interior point, and the descent alone run much longer.
"""

import warnings

import numpy as np
import pytest
from conftest import load_benchmark
from sklearn.exceptions import ConvergenceWarning

import fixntk

_PROBLEMS = load_benchmark("problems")  # imports nothing heavy, pins nothing


def _toeplitz_problem(n=160, d=6, rho=0.9, n_gates=60, seed=0):
    """Correlated columns (Toeplitz covariance) with three columns and a quarter of the
    rows duplicated: the masked design is singular and badly conditioned (the
    generator of benchmarks/problems.py, at test sizes)."""
    return _PROBLEMS.toeplitz_problem(n=n, d=d, rho=rho, n_gates=n_gates, seed=seed)


def _certified(X, y, arr, res, lam, tol, **kw):
    assert res.converged
    gap = fixntk.duality_gap(X, y, arr, res.coef, lam, **kw)
    assert -1e-12 * res.f0 <= gap <= tol * res.f0
    # the two agree to round-off: the coefficients' round trip through the caller's
    # units moves primal and dual by a few 1e-12 of f0 at lam 1e-4 lam_max
    assert res.gap == pytest.approx(gap, rel=1e-6, abs=4e-12 * res.f0)


@pytest.mark.parametrize("ratio", [1e-3, 1e-6])
def test_small_lam_certifies_through_the_kernel_route(ratio):
    X, y, arr = _toeplitz_problem()
    lam = ratio * fixntk.lambda_max(X, y, arr)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = fixntk.solve(X, y, arr, lam)
    assert res.n_irls > 0  # the descent alone was slow here: the route was taken
    _certified(X, y, arr, res, lam, 1e-6)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("c", [1, 3])
def test_kernel_route_agrees_with_the_long_descent(fit_intercept, weighted, c):
    X, y, arr = _toeplitz_problem(n=80, d=4, n_gates=30)
    rng = np.random.default_rng(3)
    if c > 1:
        y = np.column_stack(
            [y] + [y + rng.standard_normal(len(y)) for _ in range(c - 1)]
        )
    w = rng.integers(1, 4, len(X)).astype(float) if weighted else None
    kw = dict(sample_weight=w, fit_intercept=fit_intercept)
    lam = 1e-4 * fixntk.lambda_max(X, y, arr, **kw)
    res = fixntk.solve(X, y, arr, lam, tol=1e-8, **kw)
    assert res.n_irls > 0
    _certified(X, y, arr, res, lam, 1e-8, **kw)
    # the descent alone (max_iter within its first budget: no route), much longer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = fixntk.solve(X, y, arr, lam, tol=1e-8, max_iter=400, **kw)
        for _ in range(200):
            if ref.converged:
                break
            ref = fixntk.solve(
                X, y, arr, lam, tol=1e-8, max_iter=400, warm_start=ref, **kw
            )
    assert ref.n_irls == 0
    # both are certified to 1e-8 F(0): their objectives agree within the two gaps
    assert abs(res.objective - ref.objective) <= res.gap + ref.gap + 1e-12 * res.f0


def test_kernel_route_agrees_with_cvxpy():
    cp = pytest.importorskip("cvxpy")
    X, y, arr = _toeplitz_problem(n=40, d=3, n_gates=12)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr, fit_intercept=True)
    res = fixntk.solve(X, y, arr, lam, tol=1e-9, fit_intercept=True)
    assert res.n_irls > 0
    M = arr.masks
    W = [cp.Variable(X.shape[1]) for _ in range(arr.p)]
    b = cp.Variable()
    F = sum(cp.multiply(M[:, i], X @ W[i]) for i in range(arr.p)) + b
    obj = cp.sum_squares(y - F) / (2 * len(y)) + lam * sum(cp.norm(v) for v in W)
    value = cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    assert abs(res.objective - value) <= 1e-6 * res.f0


def test_max_iter_within_the_first_budget_keeps_the_descent_and_warns():
    X, y, arr = _toeplitz_problem()
    lam = 1e-6 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(ConvergenceWarning, match="Raise max_iter"):
        res = fixntk.solve(X, y, arr, lam, max_iter=50)
    assert not res.converged and res.n_irls == 0 and res.n_iter == 50


def test_path_to_small_lam_certifies_every_point():
    X, y, arr = _toeplitz_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        path = fixntk.solve_path(X, y, arr, n_lams=8, eps=1e-5)
    for res in path.results:
        assert res.converged and res.gap <= 1e-6 * res.f0
    assert any(res.n_irls > 0 for res in path.results)


def test_descent_goes_on_where_the_kernel_route_cannot_run(monkeypatch):
    import fixntk._irls

    def refuse(*args, **kwargs):
        raise MemoryError("no room for the kernel")

    monkeypatch.setattr(fixntk._irls, "irls", refuse)
    X, y, arr = _toeplitz_problem(n=80, d=4, n_gates=30)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr)
    res = fixntk.solve(X, y, arr, lam)
    assert res.n_irls == 0 and res.n_iter > 500  # past the first budget
    _certified(X, y, arr, res, lam, 1e-6)


def test_newton_certifies_against_the_best_dual_of_its_steps(monkeypatch):
    """Three classes with weights and an intercept at tol 1e-9: the proximal Newton
    loop ran into its step cap (500 steps) until the model choice retried the exact
    model at equal cost; it then certified in 72 steps, and in 30-50 since the
    iterates are centred over the classes (the count moves with the libraries'
    rounding: the last steps stall near 2e-9). A cap three steps short of the
    uncapped solve's stands in for the old one: the capped solve takes the same
    steps, so its gap history is the uncapped one's up to the cap. Its gap is taken
    against the best dual point of its steps (the last step's alone certified 4.4e-7
    after an earlier one's 8e-9): it never grows, and is at most the public
    duality_gap at the returned point (up to round-off: the two sum differently)."""
    rng = np.random.default_rng(18)
    X = rng.standard_normal((30, 3))
    rng.standard_normal((3, 3))
    rng.standard_normal((30, 3))
    arr = fixntk.sample_arrangement(X, 15, seed=0)
    kw = dict(
        loss="multinomial", sample_weight=rng.uniform(0.3, 2, 30), fit_intercept=True
    )
    labels = rng.integers(0, 3, 30)
    lam = 0.01 * fixntk.lambda_max(X, labels, arr, **kw)
    full = fixntk.solve(X, labels, arr, lam, tol=1e-9, **kw)
    assert full.converged and full.n_newton >= 13
    cap = full.n_newton - 3
    monkeypatch.setattr(fixntk._prox_newton, "_MAX_NEWTON", cap)
    with pytest.warns(ConvergenceWarning, match="outer steps"):
        res = fixntk.solve(X, labels, arr, lam, tol=1e-9, **kw)
    assert not res.converged and res.n_newton == cap
    np.testing.assert_array_equal(res.gap_history, full.gap_history[: cap + 1])
    # never grows but by the primal's round-off (a few ulps where the steps stall)
    assert np.all(np.diff(res.gap_history) <= 1e-14 * res.f0)
    assert res.gap == res.gap_history[-1] and res.relative_gap < 1e-6
    public = fixntk.duality_gap(X, labels, arr, res.coef, lam, **kw)
    assert res.gap <= public + 3e-14 * res.f0
    assert res.objective == pytest.approx(
        fixntk.objective(X, labels, arr, res.coef, lam, **kw), rel=1e-12
    )


def _logistic_crawl(seed=1, n=300, d=10, n_gates=60):
    """Two nearly collinear directions spread over d columns, labels from their
    product with noise: at 1e-3 lam_max the logistic Newton steps' inner descents
    crawl (20000 epochs left the gap at 2.5e-2 without the kernel route)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    X = np.column_stack(
        [z[:, 0] + 0.01 * j * z[:, 1] + 1e-3 * rng.standard_normal(n) for j in range(d)]
    )
    X = np.c_[(X - X.mean(0)) / X.std(0), np.ones(n)]
    y = np.where(z[:, 0] * z[:, 1] + 0.7 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return X, y, fixntk.sample_arrangement(X, n_gates, seed=0)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_newton_steps_take_the_kernel_route(fit_intercept, monkeypatch):
    X, y, arr = _logistic_crawl()
    kw = dict(loss="logistic", fit_intercept=fit_intercept)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = fixntk.solve(X, y, arr, lam, tol=1e-6, max_iter=20000, **kw)
    assert res.n_irls > 0 and res.n_iter < 5000
    _certified(X, y, arr, res, lam, 1e-6, **kw)
    # the Newton steps' descents alone: uncertified in the same epochs, and never
    # below the certified optimum's lower bound
    monkeypatch.setattr(fixntk._prox_newton, "_kernel_route_epochs", lambda prob: 0)
    with pytest.warns(ConvergenceWarning):
        ref = fixntk.solve(X, y, arr, lam, tol=1e-6, max_iter=res.n_iter, **kw)
    assert ref.n_irls == 0 and ref.relative_gap > 1e-4
    assert ref.objective >= res.objective - res.gap


def test_logistic_kernel_route_agrees_with_cvxpy():
    cp = pytest.importorskip("cvxpy")
    X, y, arr = _logistic_crawl(n=120, d=4, n_gates=16)
    kw = dict(loss="logistic", fit_intercept=True)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr, **kw)
    res = fixntk.solve(X, y, arr, lam, tol=1e-8, max_iter=20000, **kw)
    assert res.converged and res.n_irls > 0
    M = arr.masks
    W = [cp.Variable(X.shape[1]) for _ in range(arr.p)]
    b = cp.Variable()
    F = sum(cp.multiply(M[:, i], X @ W[i]) for i in range(arr.p)) + b
    obj = cp.sum(cp.logistic(-cp.multiply(y, F))) / len(y) + lam * sum(
        cp.norm(v) for v in W
    )
    value = cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    assert abs(res.objective - value) <= 1e-6 * res.f0


def test_kernel_route_refactors_when_its_loose_factors_stall():
    """The route's ridge solves keep a Cholesky factor down to rcond 1e-12 (fast where
    an eigendecomposition per solve was taken); on a Toeplitz design with duplicated
    columns and rows at 1e-8 lam_max such factors left it without an accepted step
    after one (the descent then ran out of epochs: relative gap 1.9e-5). It goes on at
    PSDRidge's own floor and certifies."""
    rng = np.random.default_rng(0)
    n, d = 500, 13
    t = np.arange(d)
    C = 0.9 ** np.abs(t[:, None] - t[None, :])
    X = rng.standard_normal((n, d)) @ np.linalg.cholesky(C).T
    X = np.c_[X, X[:, :3], np.ones(n)]
    X = np.r_[X, X[:50]]
    y = np.maximum(X @ rng.standard_normal(X.shape[1]), 0)
    y = y + 0.1 * rng.standard_normal(X.shape[0])
    arr = fixntk.sample_arrangement(X, 50, seed=0)
    lam = 1e-8 * fixntk.lambda_max(X, y, arr, fit_intercept=True)
    res = fixntk.solve(X, y, arr, lam, tol=1e-8, fit_intercept=True, max_iter=3000)
    assert res.converged and res.n_irls > 1, (res.relative_gap, res.n_irls)
    gap = fixntk.duality_gap(X, y, arr, res.coef, lam, fit_intercept=True)
    assert gap <= 1e-8 * res.f0  # the certificate recomputed from the coefficients


def test_a_stall_at_a_tiny_lam_is_told_as_the_certificates_floor():
    """At 1e-16 lam_max the fit is the least-squares one to 10 digits, and the gap
    stops at 5.6e-4 of the null model's: the dual point, the residual over lam,
    carries round-off over lam. The warning said 'the descent stalled' (tester BP);
    it now names the floor. The fit is checked against lstsq on the masked design."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((200, 5))
    y = np.maximum(X @ rng.standard_normal((5, 2)), 0).sum(1)
    y += 0.1 * rng.standard_normal(200)
    arr = fixntk.sample_arrangement(X, n_gates=30, seed=0)
    lam = 1e-16 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(ConvergenceWarning, match="certificate's dual point"):
        res = fixntk.solve(X, y, arr, lam)
    assert not res.converged
    A = np.hstack([arr.masks[:, [i]] * X for i in range(arr.p)])
    best = 0.5 * np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.objective - res.gap <= best <= res.objective


def test_solve_keeps_the_best_certificate_of_its_routes():
    """A tester's 40 weighted rows (four nearly equal columns and a bias) at 1e-5
    lam_max: the kernel route reached a relative gap of 2.0e-5, and the descent that
    resumed from its point ended at 7.6e-4, which solve returned. Uncertified, solve
    now returns the point of the smallest gap of its history, with its own
    certificate (the public duality_gap at it), an upper bound on the suboptimality
    against cvxpy's optimum."""
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(11)
    n = 30
    Z = rng.standard_normal((n, 1))
    cols = [Z + 1e-3 * rng.standard_normal((n, 1)) for _ in range(4)]
    X = np.hstack([*cols, np.ones((n, 1))])
    X = np.vstack([X, X[:10]])
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(len(X))
    sw = rng.integers(0, 4, len(X)).astype(float)
    arr = fixntk.sample_arrangement(X, 40, seed=0)
    lam = 1e-5 * fixntk.lambda_max(X, y, arr, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fixntk.solve(X, y, arr, lam, sample_weight=sw)
    assert res.n_irls > 0  # the route ran
    assert res.gap <= res.gap_history.min() * (1 + 1e-6)
    public = fixntk.duality_gap(X, y, arr, res.coef, lam, sample_weight=sw)
    assert res.gap == pytest.approx(public, rel=1e-6)
    assert res.objective == pytest.approx(
        fixntk.objective(X, y, arr, res.coef, lam, sample_weight=sw), rel=1e-10
    )
    M = arr.masks
    W = cp.Variable((arr.p, X.shape[1]))
    f = sum(cp.multiply(M[:, i], X @ W[i]) for i in range(arr.p))
    loss = cp.sum(cp.multiply(sw, cp.square(f - y))) / (2 * sw.sum())
    best = cp.Problem(cp.Minimize(loss + lam * cp.sum(cp.norm(W, axis=1)))).solve(
        solver=cp.CLARABEL
    )
    assert res.dual <= best + 1e-9 * res.f0
    assert res.objective - best <= res.gap + 1e-9 * res.f0


def _ulp_columns(n=150, seed=0):
    """Two constant columns one ulp apart at 1e18 and y far from 0: lambda_max is 0
    (every centred column is round-off), so W = 0 with the mean as intercept is the
    optimum at every lam; the descent and the kernel route move round-off."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n) * 50 + 150
    c = 1e18
    X = np.column_stack([np.full(n, c), np.full(n, np.nextafter(c, np.inf))])
    return X, y, np.ones((n, 1), bool)


@pytest.mark.parametrize("lam", [1.0, 1e-10])
def test_round_off_columns_give_the_null_model_certified(lam):
    """Tester DQ: an intercept of 8e155 was certified with objective 0 (the descent's
    residual, updated in place, lost to cancellation after the kernel route
    diverged), and at lam = 1e-10 a 0.81 gap was warned about as a stall. The
    closed form: W = 0, b = mean(y), objective var(y) / 2."""
    X, y, arr = _ulp_columns()
    assert fixntk.lambda_max(X, y, arr, fit_intercept=True) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fixntk.solve(X, y, arr, lam, fit_intercept=True)
    assert res.converged and not np.any(res.coef)
    np.testing.assert_allclose(res.intercept, y.mean(), rtol=1e-12)
    np.testing.assert_allclose(res.objective, 0.5 * y.var(), rtol=1e-12)
    # the public objective at the returned point agrees
    F = fixntk.objective(
        X, y, arr, res.coef, lam, fit_intercept=True, intercept=res.intercept
    )
    np.testing.assert_allclose(F, res.objective, rtol=1e-12)


def test_a_descent_that_went_far_off_is_certified_from_the_rows():
    """A timestamp-like column (1.7e18 plus up to 1e3) beside two standard columns:
    descents on the estimator's program diverge in round-off and come back. Every
    solve of the lam search reports an objective equal to the public objective at
    its point (before, W = 0 was reported converged at objective 0 against 0.31),
    and the fit ends (before: an overflow error from the gap history)."""
    import fixntk._estimators as E

    rng = np.random.default_rng(0)
    n = 200
    z = rng.standard_normal((n, 2))
    y = np.maximum(z[:, 0], 0) + 0.5 * z[:, 1] + 0.1 * rng.standard_normal(n)
    X = np.column_stack([z, 1.7e18 + 1e3 * rng.random(n)])
    seen = []
    solve = E._solve_problem

    def checked(prob, lam, *args, **kw):
        res = solve(prob, lam, *args, **kw)
        if res.converged:
            seen.append((res.objective, res.f0, bool(np.any(res.coef))))
        return res

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        E._solve_problem = checked
        try:
            est = fixntk.GatedReLURegressor(random_state=0).fit(X, y)
        finally:
            E._solve_problem = solve
    assert np.isfinite(est.predict(X)).all()
    for objective, f0, nonzero in seen:
        if not nonzero:  # W = 0: the null model's objective, exactly
            np.testing.assert_allclose(objective, f0, rtol=1e-9)


@pytest.mark.parametrize("seed", [1, 3])
def test_an_uncertified_solve_reports_its_own_point(seed):
    """Tester DT: beside real columns, two constant columns one ulp apart made the
    descent diverge and come back; the uncertified solve returned, as its best
    point, the descent's own certificate (objective 0, gap 0) at an intercept of
    4e154. Whatever the solve ends with, its objective is the public objective at
    its point, and an uncertified gap is not 0."""
    rng = np.random.default_rng(seed)
    n = 120
    z = rng.standard_normal((n, 2))
    y = np.maximum(z @ [1.0, -1.0], 0) + 0.1 * rng.standard_normal(n)
    c = np.full(n, 1e18)
    X = np.column_stack([c, np.nextafter(c, 2e18), z, np.full(n, 5e17)])
    masks = np.ones((n, 1), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fixntk.solve(X, y, masks, 0.47, fit_intercept=True)
    F = fixntk.objective(
        X, y, masks, res.coef, 0.47, fit_intercept=True, intercept=res.intercept
    )
    np.testing.assert_allclose(res.objective, F, rtol=1e-9)
    assert res.converged or res.gap > 0


def test_lambda_max_of_zero_by_round_off_certifies_nothing_alone():
    """Tester DT: a column at 1e15 with a spread of 1 (8 ulps) and y linear in it:
    lambda_max's round-off rule gives 0, and the solve certified W = 0 (gap 0) at
    0.3 times the exact lam_max, where the exact optimum (rationals) is half the
    null model's. A null model is returned as certified only on its own
    certificate; the gap reported is the public duality gap's."""
    from fractions import Fraction

    rng = np.random.default_rng(0)
    n = 200
    z = rng.standard_normal(n)
    x = 1e15 + z
    y = 2 * (x - 1e15) + 0.1 * rng.standard_normal(n)
    X, M = x[:, None], np.ones((n, 1), bool)
    xf, yf = [Fraction(v) for v in x], [Fraction(v) for v in y]
    xb, yb = sum(xf) / n, sum(yf) / n
    g = float(sum((a - xb) * (b - yb) for a, b in zip(xf, yf)) / n)  # exact lam_max
    assert fixntk.lambda_max(X, y, M, fit_intercept=True) == 0  # round-off's rule
    lam = 0.3 * abs(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fixntk.solve(X, y, M, lam, fit_intercept=True)
    gap = fixntk.duality_gap(X, y, M, res.coef, lam, fit_intercept=True)
    # not certified, with an honest gap (the two computations of it round apart on
    # such a column: 1% with the oldest NumPy's BLAS)
    assert not res.converged and gap > 0.1 * res.f0
    np.testing.assert_allclose(res.gap, gap, rtol=0.05)


def test_continuous_rows_given_several_times_stay_copies():
    """Tester DT: continuous rows each given 3-7 times (a bad join) were taken as
    draws of repeated inputs once 4 rows per value sufficed (they had to be 8), and
    split across folds; 4 suffices only where every column is discrete."""
    from fixntk._estimators import _copy_groups

    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(150)
    times = rng.integers(3, 8, 150)
    rows = np.repeat(np.arange(150), times)
    assert _copy_groups(X[rows], y[rows]) is not None  # copies, kept together
