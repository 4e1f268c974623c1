import warnings

import numpy as np
import pytest
from conftest import planted
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from test_ntk import sector_cells

import fixntk
from fixntk._cpu import core as _core


def diabetes():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X, (y - y.mean()) / y.std()


def assert_monotone(history):
    h = np.asarray(history)
    assert np.all(np.diff(h) <= 1e-13 * np.abs(h[:-1])), np.diff(h).max()


def kernel_ridge(X, y, arr, eta, lam):
    """Kernel ridge with H(eta) written out: a = (H + n lam I)^{-1} y,
    w_i = eta_i X^T D_i a (the inner problem of the MKL view)."""
    n = len(y)
    M = arr.masks
    H = fixntk.mkl_kernel(X, arr, eta)  # checked against the sum of K_i in test_ntk
    a = linalg.solve(H + n * lam * np.eye(n), y, assume_a="pos")
    return eta[:, None] * ((M * a[:, None]).T @ X), a


@pytest.mark.parametrize("frac", [0.3, 0.05])
def test_irls_reaches_the_certified_optimum_planted(small_problem, frac):
    X, y, arr = small_problem
    lam = frac * fixntk.lambda_max(X, y, arr)
    ref = fixntk.solve(X, y, arr, lam, tol=1e-10)
    fit = fixntk.irls(X, y, arr, lam, tol=1e-8)
    assert fit.converged and fit.gap <= 1e-8 * fit.f0
    # the same certificate as solve, recomputed from scratch at the returned point
    assert fixntk.duality_gap(X, y, arr, fit.coef, lam) <= 1.01e-8 * fit.f0
    assert fit.objective == pytest.approx(
        fixntk.objective(X, y, arr, fit.coef, lam), rel=1e-12
    )
    assert abs(fit.objective - ref.objective) <= 1e-6 * ref.objective
    assert_monotone(fit.history)
    assert fit.history[0] > fit.history[-1] * (1 + 1e-3)  # the NTK start is not optimal
    assert np.all(fit.history >= ref.objective - 1e-8 * fit.f0)
    assert len(fit.history) == fit.n_iter + 1 == len(fit.gap_history)
    # the support of the optimum, with exact zeros elsewhere
    np.testing.assert_array_equal(fit.eta > 0, np.linalg.norm(ref.coef, axis=1) > 0)
    np.testing.assert_allclose(fit.eta, np.linalg.norm(fit.coef, axis=1))


def test_irls_reaches_the_optimum_on_diabetes():
    X, y = diabetes()
    arr = fixntk.sample_arrangement(X, 200, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    ref = fixntk.solve(X, y, arr, lam, tol=1e-10)
    fit = fixntk.irls(X, y, arr, lam, tol=1e-7)
    # 11 dimensions: 200 cells hold none of the Gaussian mass, so "ntk" is the
    # finite-width NTK of the sampled gates
    assert fit.eta0_kind == "counts" and fit.method == "dual"
    np.testing.assert_allclose(fit.eta_start, fit.scale * arr.counts / arr.n_gates)
    assert fit.converged
    assert abs(fit.objective - ref.objective) <= 1e-6 * ref.objective
    assert_monotone(fit.history)
    assert fit.history[0] > 1.02 * ref.objective  # the NTK's objective, then fixed


def test_pure_reweighting_is_monotone_and_converges(small_problem):
    X, y, arr = small_problem
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    ref = fixntk.solve(X, y, arr, lam, tol=1e-10)
    with pytest.warns(ConvergenceWarning, match=r"relative duality gap \d"):
        fit = fixntk.irls(
            X, y, arr, lam, eta0="counts", newton_tol=None, max_iter=300, tol=1e-10
        )
    assert not fit.converged and fit.n_newton == 0 and fit.n_iter == 300
    assert_monotone(fit.history)
    rel = (fit.history - ref.objective) / ref.objective
    assert rel[0] > 0.05 and rel[10] < rel[1] < rel[0] and rel[-1] < 1e-3
    assert fit.gap_history[-1] < fit.gap_history[0] / 100
    # G(eta_k) bounds F(W_k) from above at every step
    assert np.all(fit.mkl_history >= fit.history * (1 - 1e-12))


def test_dual_and_primal_ridge_agree():
    X, y = planted(n=120, d=3, seed=5)
    arr = fixntk.sample_arrangement(X, 25, seed=1)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fixntk.irls(X, y, arr, lam, eta0="counts", method="dual", max_iter=5)
        b = fixntk.irls(X, y, arr, lam, eta0="counts", method="primal", max_iter=5)
    assert a.method == "dual" and b.method == "primal"
    assert a.scale == pytest.approx(b.scale, rel=1e-8)
    np.testing.assert_allclose(a.history, b.history, rtol=1e-9)
    np.testing.assert_allclose(a.mkl_history, b.mkl_history, rtol=1e-9)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-6, atol=1e-9)
    full_a = fixntk.irls(X, y, arr, lam, method="dual", tol=1e-9)
    full_b = fixntk.irls(X, y, arr, lam, method="primal", tol=1e-9)
    assert full_a.converged and full_b.converged
    assert full_a.objective == pytest.approx(full_b.objective, rel=1e-9)


def test_first_step_is_kernel_ridge_with_the_scaled_ntk(small_problem):
    X, y, arr = small_problem
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(ConvergenceWarning):
        fit = fixntk.irls(X, y, arr, lam, eta0="counts", max_iter=0)
    W, _ = kernel_ridge(X, y, arr, fit.eta_start, lam)
    np.testing.assert_allclose(fit.coef, W, rtol=1e-8, atol=1e-12)
    assert fit.history[0] == pytest.approx(
        fixntk.objective(X, y, arr, W, lam), rel=1e-10
    )
    assert fit.mkl_history[0] == pytest.approx(
        fixntk.mkl_objective(X, y, arr, fit.eta_start, lam), rel=1e-10
    )


def test_ntk_objective_never_below_the_optimum_and_best_scale():
    X, y = planted(n=100, d=2, seed=3)
    masks, mass = sector_cells(X)
    keep = masks.any(axis=0)
    arr = fixntk.Arrangement.from_masks(masks[:, keep])  # the full arrangement
    eta_ntk = mass[keep]
    for frac in (0.3, 0.01):
        lam = frac * fixntk.lambda_max(X, y, arr)
        opt = fixntk.solve(X, y, arr, lam, tol=1e-10).objective
        scales = np.logspace(-3, 3, 13)
        G = [fixntk.mkl_objective(X, y, arr, s * eta_ntk, lam) for s in scales]
        F = []
        for s in scales:
            W, _ = kernel_ridge(X, y, arr, s * eta_ntk, lam)
            F.append(fixntk.objective(X, y, arr, W, lam))
        assert min(F) >= opt * (1 - 1e-9) and min(G) >= opt * (1 - 1e-9)
        assert np.all(np.array(G) >= np.array(F) * (1 - 1e-12))  # G(eta) >= F(W(eta))
        # the 1-d search finds the best scale of the exact NTK weights
        with pytest.warns(ConvergenceWarning):
            fit = fixntk.irls(X, y, arr, lam, eta0=eta_ntk, max_iter=0)
        assert fit.mkl_history[0] <= min(G) * (1 + 1e-12)
        g_best = fixntk.mkl_objective(X, y, arr, fit.eta_start, lam)
        for t in (0.9, 1.1):
            assert g_best <= fixntk.mkl_objective(X, y, arr, t * fit.eta_start, lam)
        assert fit.history[0] > opt * (1 + 1e-4)


def test_mkl_identity_at_the_solution():
    X, y = planted(n=150, d=3, seed=7)
    arr = fixntk.sample_arrangement(X, 40, seed=2)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    ref = fixntk.solve(X, y, arr, lam, tol=1e-12)
    eta_star = np.linalg.norm(ref.coef, axis=1)
    n = len(y)
    H = fixntk.mkl_kernel(X, arr, eta_star)
    G = 0.5 * lam * (y @ np.linalg.solve(H + n * lam * np.eye(n), y) + eta_star.sum())
    assert G == pytest.approx(ref.objective, rel=1e-9)
    assert fixntk.mkl_objective(X, y, arr, eta_star, lam) == pytest.approx(G, rel=1e-12)
    # kernel ridge with H(eta*) gives back the group-lasso solution
    W, a = kernel_ridge(X, y, arr, eta_star, lam)
    np.testing.assert_allclose(W, ref.coef, atol=1e-6 * np.abs(ref.coef).max())
    # and the residual is n lam a
    R = y - _core.masked_predict(X, arr.packed, ref.coef[:, :, None])[:, 0]
    np.testing.assert_allclose(R, n * lam * a, atol=1e-6 * np.abs(R).max())
    # the IRLS kernel weights are these weights
    fit = fixntk.irls(X, y, arr, lam, tol=1e-10)
    np.testing.assert_allclose(fit.eta, eta_star, atol=1e-6 * eta_star.max())


def test_mc_start_and_revival_of_zero_weights():
    X, y = planted(n=60, d=2, seed=1)
    arr = fixntk.sample_arrangement(X, 5000, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    # solve stalls at a relative gap of 1.7e-7 here (IRLS certifies a lower objective)
    ref = fixntk.solve(X, y, arr, lam, tol=1e-6)
    fit = fixntk.irls(X, y, arr, lam, eta0="ntk", n_samples=20_000, seed=1, tol=1e-9)
    assert fit.eta0_kind == "ntk_weights"  # d = 2: the cells hold all the mass
    assert fit.converged and fit.objective <= ref.objective
    assert ref.objective - fit.objective <= 1e-6 * ref.f0
    # one non-zero weight on a group the optimum does not use: the others come back
    unused = np.flatnonzero(np.linalg.norm(ref.coef, axis=1) == 0)[0]
    eta0 = np.zeros(arr.p)
    eta0[unused] = 1.0
    fit2 = fixntk.irls(X, y, arr, lam, eta0=eta0, tol=1e-9)
    assert fit2.converged and fit2.objective == pytest.approx(fit.objective, rel=1e-8)
    assert fit2.eta[unused] == 0.0
    assert_monotone(fit2.history)


def test_multi_output():
    X, Y = planted(n=100, d=3, seed=2, c=2)
    arr = fixntk.sample_arrangement(X, 30, seed=3)
    lam = 0.1 * fixntk.lambda_max(X, Y, arr)
    ref = fixntk.solve(X, Y, arr, lam, tol=1e-10)
    for method in ("dual", "primal"):
        fit = fixntk.irls(X, Y, arr, lam, method=method, tol=1e-8)
        assert fit.coef.shape == (arr.p, 3, 2) and fit.converged
        assert fit.objective == pytest.approx(ref.objective, rel=1e-6)
        assert_monotone(fit.history)


def test_at_lambda_max_the_answer_is_zero(small_problem):
    X, y, arr = small_problem
    lam = 1.01 * fixntk.lambda_max(X, y, arr)
    fit = fixntk.irls(X, y, arr, lam)
    assert fit.converged and not np.any(fit.coef) and fit.scale == 0.0


def test_convergence_warning_reports_the_gap(small_problem):
    X, y, arr = small_problem
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(
        ConvergenceWarning, match=r"relative duality gap [0-9.e+-]+ > tol"
    ):
        fit = fixntk.irls(X, y, arr, lam, max_iter=2)
    assert not fit.converged and fit.n_iter == 2


def test_bad_inputs(small_problem):
    X, y, arr = small_problem
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    with pytest.raises(ValueError, match="lam"):
        fixntk.irls(X, y, arr, 0.0)
    with pytest.raises(ValueError, match="lam"):
        fixntk.irls(X, y, arr, -1.0)
    with pytest.raises(ValueError, match="eta0 must be"):
        fixntk.irls(X, y, arr, lam, eta0="bogus")
    with pytest.raises(ValueError, match=rf"shape \({arr.p},\)"):
        fixntk.irls(X, y, arr, lam, eta0=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        fixntk.irls(X, y, arr, lam, eta0=-np.ones(arr.p))
    with pytest.raises(ValueError, match="all zero"):
        fixntk.irls(X, y, arr, lam, eta0=np.zeros(arr.p))
    with pytest.raises(ValueError, match="method"):
        fixntk.irls(X, y, arr, lam, method="cg")
    with pytest.raises(ValueError, match="tol"):
        fixntk.irls(X, y, arr, lam, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        fixntk.irls(X, y, arr, lam, max_iter=-1)
    with pytest.raises(ValueError, match="newton_tol"):
        fixntk.irls(X, y, arr, lam, newton_tol=-1.0)
    with pytest.raises(ValueError, match="rows"):
        fixntk.irls(X, y[:-1], arr, lam)
    with pytest.raises(ValueError, match="NaN"):
        fixntk.irls(X, np.full_like(y, np.nan), arr, lam)
    with pytest.raises(ValueError, match="samples"):
        fixntk.irls(X[:-1], y[:-1], arr, lam)
    with pytest.raises(ValueError, match="all zero"):
        # 11 dimensions, 30 cells, "mc" insists on the cell weights: none was hit
        Xd, yd = diabetes()
        fixntk.irls(
            Xd,
            yd,
            fixntk.sample_arrangement(Xd, 30, seed=0),
            1.0,
            eta0="mc",
            n_samples=1000,
        )
    with pytest.raises(ValueError, match="lam"):
        fixntk.mkl_objective(X, y, arr, np.ones(arr.p), 0.0)


# --------------------------------------------------------------------------- NTK group


def _fista_groups(A, y, groups, lam, n_iter=30000):
    """An independent solver of min 1/(2n)||A w - y||^2 + lam sum_g ||w_g||: FISTA
    with restart on the dense design A, groups given as column index arrays."""
    n = A.shape[0]
    L = np.linalg.norm(A, 2) ** 2 / n
    w = np.zeros(A.shape[1])
    z, t = w.copy(), 1.0

    def F(w):
        return 0.5 * ((A @ w - y) ** 2).sum() / n + lam * sum(
            np.linalg.norm(w[g]) for g in groups
        )

    f_old = F(w)
    for _ in range(n_iter):
        v = z - A.T @ (A @ z - y) / (n * L)
        for g in groups:
            nv = np.linalg.norm(v[g])
            v[g] *= max(0.0, 1.0 - lam / L / max(nv, 1e-300))
        f_new = F(v)
        if f_new > f_old:
            t, z = 1.0, w.copy()
            continue
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = v + (t - 1) / t_new * (v - w)
        w, t, f_old = v, t_new, f_new
    return w, f_old


def test_ntk_group_reaches_the_certified_optimum_of_the_larger_program():
    # few gates: the masks alone fit poorly, so the NTK group is active at the optimum
    X, y = planted(n=60, d=3, seed=2)
    arr = fixntk.sample_arrangement(X, 4, seed=0)
    lam = 0.02 * fixntk.lambda_max(X, y, arr)
    fit = fixntk.irls(X, y, arr, lam, ntk_group=True, tol=1e-9)
    assert fit.converged and fit.relative_gap <= 1e-9
    assert fit.ntk_eta > 0 and fit.eta0_kind == "ntk_kernel"
    assert_monotone(fit.history)
    # the group-lasso view: the NTK group is a group with the NTK's feature map,
    # Phi Phi^T = K_NTK (here Phi from its eigendecomposition), penalised by its norm
    n, d = X.shape
    ev, U = np.linalg.eigh(fixntk.ntk_kernel(X))
    Phi = U * np.sqrt(np.maximum(ev, 0.0))
    design = np.hstack([arr.masks[:, i, None] * X for i in range(arr.p)] + [Phi])
    groups = [np.arange(i * d, (i + 1) * d) for i in range(arr.p)]
    groups.append(np.arange(arr.p * d, arr.p * d + n))
    _, f_ref = _fista_groups(design, y, groups, lam)
    assert fit.objective == pytest.approx(f_ref, rel=1e-6)
    assert fit.objective - fit.gap <= f_ref * (1 + 1e-9)  # the certificate holds
    # the objective written out from the result: masks, f_0 = K_NTK b, ||f_0||_H
    f0 = fixntk.ntk_kernel(X) @ fit.ntk_coef
    R = y - np.einsum("kp,kd,pd->k", arr.masks, X, fit.coef) - f0
    norm_f0 = np.sqrt(fit.ntk_coef @ f0)
    assert norm_f0 == pytest.approx(fit.ntk_eta, rel=1e-8)
    F = 0.5 * (R**2).sum() / n + lam * (
        np.linalg.norm(fit.coef, axis=1).sum() + norm_f0
    )
    assert F == pytest.approx(fit.objective, rel=1e-10)
    # the larger program can only do better than the masks alone
    assert fit.objective <= fixntk.irls(X, y, arr, lam, tol=1e-9).objective * (1 + 1e-9)


def test_ntk_group_starts_at_the_closed_form_ntk():
    X, y = planted(n=80, d=3, seed=3)
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        fit = fixntk.irls(X, y, arr, lam, ntk_group=True, max_iter=3, tol=1e-14)
    assert not fit.eta_start.any()
    # step 0: kernel ridge with s K_NTK, s the best scale
    n, s = len(y), fit.scale
    K = fixntk.ntk_kernel(X)
    a = linalg.solve(s * K + n * lam * np.eye(n), y, assume_a="pos")
    assert fit.mkl_history[0] == pytest.approx(0.5 * lam * (y @ a + s), rel=1e-10)
    # G(t K_NTK) is smallest at t = s
    for t in (0.8 * s, 1.25 * s):
        b = linalg.solve(t * K + n * lam * np.eye(n), y, assume_a="pos")
        assert 0.5 * lam * (y @ b + t) >= fit.mkl_history[0]
    assert_monotone(fit.history)


def test_ntk_group_bad_inputs(small_problem):
    X, y, arr = small_problem
    with pytest.raises(ValueError, match="eta0"):
        fixntk.irls(X, y, arr, 0.1, eta0="counts", ntk_group=True)
    with pytest.raises(ValueError, match="primal"):
        fixntk.irls(X, y, arr, 0.1, method="primal", ntk_group=True)
    with pytest.raises(ValueError, match="sample_weight"):
        fixntk.irls(X, y, arr, 0.1, ntk_group=True, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="fit_intercept"):
        fixntk.irls(X, y, arr, 0.1, ntk_group=True, fit_intercept=True)


def test_a_forced_method_whose_system_cannot_fit_is_refused_at_once():
    """method='primal' at p d = 1e6 asked NumPy for 7.3 TiB (its MemoryError, after
    the work before it); now the library's own, naming the system and fixntk.solve."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 100)), rng.standard_normal(50)
    arr = fixntk.sample_arrangement(X, 10000, seed=0)
    assert arr.p * X.shape[1] >= 10**6
    with pytest.raises(MemoryError, match="method='primal'.*fixntk.solve"):
        fixntk.irls(X, y, arr, 0.1, method="primal")


@pytest.mark.parametrize("centre", [False, True])
def test_mkl_hessian_from_the_gram_matches_the_kernel_route(centre):
    """The Newton step's Hessian ``lam <K_i a, (H + n lam I)^{-1} K_j a>`` of the primal
    route (from the masked Gram matrix, no pass over the rows) equals the dual route's
    (the n x n kernel ridge system, written differently), two outputs, with and
    without the intercept's projection, on a subset of free groups."""
    from fixntk._irls import _KernelRidge

    rng = np.random.default_rng(3)
    n, d = 40, 3
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, 2))
    arr = fixntk.sample_arrangement(X, 12, seed=0)
    a = rng.uniform(0.5, 1.5, n) if centre else None
    eta = rng.uniform(0.1, 1.0, arr.p)
    eta[1] = 0.0
    free = np.array([0, 2, 3, arr.p - 1])
    hess = {}
    for method in ("primal", "dual"):
        ridge = _KernelRidge(X, Y, arr, 0.05, method, centre=a)
        hess[method] = ridge.hessian(ridge.solve(eta), free)
    assert hess["primal"].shape == (free.size, free.size)
    np.testing.assert_allclose(hess["primal"], hess["dual"], rtol=1e-9, atol=1e-12)
    # symmetric to round-off relative to its largest entry (an elementwise rtol fails on
    # the small off-diagonal entries under another BLAS's summation order)
    scale = np.abs(hess["primal"]).max()
    np.testing.assert_allclose(
        hess["primal"], hess["primal"].T, rtol=0, atol=1e-13 * scale
    )


def test_a_target_offset_is_solved_as_without_it():
    """y offset by 1e10-1e11 with an intercept (tester AS): irls scaled y by max |y|
    before centring it, its variation was left to y's last digits, and it reported a
    negative gap as certified (-2.7e-5 at 1e11) for a W whose gap on the same
    program written without the offset is 8.4e-6. Now y less its mean is solved and
    the mean added back to the intercept, as fixntk.solve does."""
    rng = np.random.default_rng(27)
    X = rng.standard_normal((200, 2))
    masks = fixntk.sample_arrangement(X, 20, seed=0).masks
    base = np.abs(X[:, 0])
    lam = 1e-3 * fixntk.lambda_max(X, base, masks, fit_intercept=True)
    for off in (1e10, 1e11):
        y = base + off
        yc = y - off  # exact: the same program, its intercept shifted by off
        ref = fixntk.irls(X, yc, masks, lam, fit_intercept=True, tol=1e-9)
        r = fixntk.irls(X, y, masks, lam, fit_intercept=True, tol=1e-9)
        assert r.converged and r.gap >= 0
        gap = fixntk.duality_gap(X, yc, masks, r.coef, lam, fit_intercept=True)
        assert gap <= 1e-9 * r.f0
        assert r.intercept - off == pytest.approx(ref.intercept, abs=1e-4)
        np.testing.assert_allclose(r.coef, ref.coef, atol=1e-4)


def test_a_point_worse_than_the_null_model_is_not_returned():
    """An intercept, columns offset by 3 with condition number 1e4, lam = 1e-6
    lam_max (tester AV): the reweighted ridge started at 1e7 times the null model's
    objective, no step decreased it, and that point was returned, its warning
    blaming round-off. A point worse than W = 0 is now replaced by W = 0, with its
    own certificate, and the warning says so (in the dual form, as chosen here;
    method='auto' ends with a primal-form solve at the dual form's weights, which
    finds a point below the null model's)."""
    r = np.random.default_rng(110)
    n, d = int(r.choice([100, 300])), int(r.choice([3, 10]))
    cond = float(r.choice([1e2, 1e4]))
    U, _, Vt = np.linalg.svd(r.standard_normal((d, d)))
    X = r.standard_normal((n, d)) @ (U * np.logspace(0, -np.log10(cond), d)) @ Vt
    X = X + float(r.choice([0, 3]))
    y = np.tanh(X @ r.standard_normal(d)) + 0.1 * r.standard_normal(n)
    arr = fixntk.sample_arrangement(X, int(r.choice([30, 200])), seed=0)
    icpt, sw = bool(r.integers(2)), r.uniform(0.1, 3, n) if r.integers(2) else None
    lam = fixntk.lambda_max(X, y, arr, fit_intercept=icpt, sample_weight=sw)
    lam *= float(r.choice([1e-5, 1e-6]))
    with pytest.warns(ConvergenceWarning, match="W = 0 is returned") as caught:
        res = fixntk.irls(
            X, y, arr, lam, fit_intercept=icpt, sample_weight=sw, method="dual"
        )
    assert res.objective <= res.f0 and not res.coef.any()
    with pytest.warns(ConvergenceWarning, match="relative duality gap"):
        auto = fixntk.irls(X, y, arr, lam, fit_intercept=icpt, sample_weight=sw)
    assert auto.method == "primal" and auto.objective < 0.5 * res.f0
    assert auto.gap < 0.2 * res.gap
    (message,) = [str(w.message) for w in caught if "W = 0" in str(w.message)]
    assert "round-off" not in message and "ill-conditioned" in message  # (AX, AZ)
    gap = fixntk.duality_gap(
        X, y, arr, res.coef, lam, fit_intercept=icpt, sample_weight=sw
    )
    assert res.gap == pytest.approx(gap, rel=1e-9)


def test_rows_of_weight_0_leave_irls_unchanged():
    """A row of weight 0 drops out, as in solve: holding y = 1e200 (or X = 1e200), it
    set the units and sent the other rows to round-off, and irls certified the null
    model, or an objective of 0, with gap 0 (tester BG)."""
    rng = np.random.default_rng(30)
    n, d = 40, 3
    X = rng.standard_normal((n, d))
    masks = fixntk.sample_arrangement(X, 20, seed=0).masks
    y = rng.standard_normal(n)
    s = np.ones(n)
    s[0] = 0.0
    lam = 0.05 * fixntk.lambda_max(X[1:], y[1:], masks[1:])
    ref = fixntk.irls(X[1:], y[1:], masks[1:], lam, tol=1e-10)
    for Xb, yb in ((X, np.r_[1e200, y[1:]]), (np.r_[[[1e200] * d], X[1:]], y)):
        res = fixntk.irls(Xb, yb, masks, lam, tol=1e-10, sample_weight=s)
        assert res.converged
        assert res.objective == pytest.approx(ref.objective, rel=1e-8)
        np.testing.assert_allclose(res.coef, ref.coef, atol=1e-6)
        # the certificate of the program as given (every row, weight 0 on the first)
        value = fixntk.objective(Xb, yb, masks, res.coef, lam, sample_weight=s)
        assert value == pytest.approx(ref.objective, rel=1e-8)


def test_a_stall_far_above_round_off_names_the_columns_scales():
    """Columns on scales 1 to 1e4 with an intercept at 1e-5 lam_max (tester BW):
    irls stopped after a step or none at a relative gap of 1e-1, and its warning said
    "round-off level". It now says the kernel ridge solves are too inexact, names the
    columns' spread of scales and advises standardising them; at a gap of round-off's
    order (below 1e-8) it keeps saying round-off. (method='auto' goes on in the
    primal form here, p d = 600, and certifies: 6.8e-7 in 61 steps.)"""
    from fixntk._solver import _far_columns

    rng = np.random.default_rng(2)
    n = 200
    X = rng.standard_normal((n, 6)) * np.logspace(0, 4, 6)
    y = np.sin(X[:, 0]) + X[:, 5] / 1e4 + 0.1 * rng.standard_normal(n) + 3
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    lam = 1e-5 * fixntk.lambda_max(X, y, arr, fit_intercept=True)
    with pytest.warns(ConvergenceWarning, match="fixntk.irls stopped") as caught:
        res = fixntk.irls(X, y, arr, lam, fit_intercept=True, method="dual")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = fixntk.irls(X, y, arr, lam, fit_intercept=True)
    assert auto.converged and auto.objective < res.objective
    (message,) = [str(w.message) for w in caught if "irls stopped" in str(w.message)]
    assert res.gap > 1e-8 * res.f0
    assert "round-off level" not in message and "too inexact" in message
    assert "standard deviations of X's columns differ by a factor of 9.4e+03" in message
    assert "StandardScaler" in message
    # the hint: a column far from 0 first, else the spread, else nothing
    assert _far_columns(X).startswith("the standard deviations of X's columns")
    assert _far_columns(X + [0, 0, 1e9, 0, 0, 0]).startswith("column 2 of X has")
    assert _far_columns(X / np.logspace(0, 4, 6)) == ""
    assert _far_columns(np.c_[X[:, :1], np.ones(n)]) == ""  # a bias is not judged


def test_a_primal_run_that_stalls_ends_and_auto_goes_on_in_the_dual_form():
    """150 weighted rows, p d = 60, tol = 1e-10 (tester DN): the primal form's Newton
    steps, accepted at round-off's level, sat at a relative gap of 6.08e-10 for all
    their 1000 (or 3000) steps, and the warning said max_iter ran out. They now end
    as a stall, said as round-off with the dual form advised; method='auto' goes on
    in the dual form from there and certifies (as the dual form does alone)."""
    rng = np.random.default_rng(2)
    n = 150
    X = rng.standard_normal((n, 4))
    arr = fixntk.sample_arrangement(X, n_gates=15, seed=0)
    y = np.maximum(X[:, 0], 0) + 0.1 * rng.standard_normal((n, 4))[:, 0]
    s = rng.integers(0, 4, size=n).astype(float)
    lam = 0.01 * fixntk.lambda_max(X, y, arr, sample_weight=s)
    kw = dict(tol=1e-10, sample_weight=s)
    # where the primal form stalls (its floor is round-off's, which depends on the
    # BLAS and LAPACK builds: NumPy 1.23's certifies here), it ends early and says so
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        primal = fixntk.irls(X, y, arr, lam, method="primal", **kw)
    if not primal.converged:
        said = [str(w.message) for w in caught if "irls stopped" in str(w.message)]
        assert primal.n_iter < 200
        assert said and "round-off level" in said[0] and "method='dual'" in said[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = fixntk.irls(X, y, arr, lam, **kw)
        dual = fixntk.irls(X, y, arr, lam, method="dual", **kw)
    assert auto.converged and dual.converged and auto.n_iter < 200
    assert auto.objective == pytest.approx(dual.objective, rel=1e-9)
    assert auto.objective - auto.gap <= dual.objective


def test_auto_tries_the_primal_form_along_a_slow_dual_run():
    """Two outputs, an intercept, 60 rows, p d = 102 (tester CD): the dual form ran
    its 1000 steps to a relative gap of 9.3e-6; method='auto' tries the primal form's
    solve at the dual form's weights after steps 16, 32, 64, ... and stops at the
    first that certifies."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 3))
    X[:, -1] = 1
    arr = fixntk.sample_arrangement(X, n_gates=40, seed=7)
    z = np.maximum(X @ rng.standard_normal(3), 0) - 0.5
    y = np.c_[z + 0.3 * rng.standard_normal(60), -z + 0.3 * rng.standard_normal(60)]
    lam = 1e-4 * fixntk.lambda_max(X, y, arr, fit_intercept=True)
    # (the dual form stalls or runs out of steps: which, the NumPy/SciPy release
    # decides; NumPy 1.23 stalls at step 13)
    with pytest.warns(ConvergenceWarning, match="stopped before the certificate"):
        dual = fixntk.irls(
            X, y, arr, lam, fit_intercept=True, method="dual", max_iter=200
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = fixntk.irls(X, y, arr, lam, fit_intercept=True)
    assert auto.converged and auto.gap <= 1e-6 * auto.f0 and auto.method == "primal"
    assert auto.n_iter <= 65
    ref = fixntk.solve(X, y, arr, lam, fit_intercept=True, tol=1e-10)
    assert abs(auto.objective - ref.objective) <= auto.gap + ref.gap
    assert auto.objective <= dual.objective


def _intercept_problem(seed, fraction):
    """Tester CD's irls problems: 60 rows (a column of ones), 40 gates, a ReLU target
    with noise, lam a fraction of lambda_max with the intercept."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3))
    X[:, -1] = 1
    arr = fixntk.sample_arrangement(X, n_gates=40, seed=seed)
    y = np.maximum(X @ rng.standard_normal(3), 0) - 0.5 + 0.3 * rng.standard_normal(60)
    return X, y, arr, fraction * fixntk.lambda_max(X, y, arr, fit_intercept=True)


def test_auto_goes_on_in_the_primal_form_where_one_solve_is_not_enough():
    """60 rows, an intercept, 1e-5 lam_max (seed 8 of a sweep of 80): the forced dual
    form stops at a relative gap of 1e-4, and the primal form's one solve at its
    weights did not certify either; method='auto' goes on with the primal form's own
    steps (in the sweep: 5 uncertified -> 0, as the primal form from the start)."""
    X, y, arr, lam = _intercept_problem(8, 1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        auto = fixntk.irls(X, y, arr, lam, fit_intercept=True)
    assert auto.converged and auto.method == "primal" and auto.gap <= 1e-6 * auto.f0
    assert np.all(np.diff(auto.history) <= 1e-13 * auto.history[0])
    ref = fixntk.solve(X, y, arr, lam, fit_intercept=True, tol=1e-10)
    assert abs(auto.objective - ref.objective) <= auto.gap + ref.gap


def test_the_scale_search_keeps_overflow_to_itself():
    """_best_scale's bracket grows towards 1e308 where a zero eigenvalue keeps its
    slope negative; s * ev then overflows to inf (q = 0, as it should be), and NumPy's
    RuntimeWarnings leaked out of irls (tester BY: eight of them on columns 1e4 apart
    at 1e-8 lam_max, and an error under simplefilter('error'))."""
    import warnings

    from fixntk._irls import _best_scale

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _best_scale(np.array([0.0, 1e10]), np.array([1.0, 1.0]), 0.5, 1.0) == 0


def test_irls_returns_where_lam_is_1e_300_of_lambda_max():
    """X 1e300 times lam's units: the scale search's bracket mu / top underflowed to
    0 and grew by 4 x 0 forever, even at max_iter=1 (tester CK); it now starts at the
    smallest normal number and the call returns, with a warning."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(30)
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fixntk.irls(X * 1e300, y, arr, 0.05, max_iter=1, n_samples=2000)
    assert res.n_iter <= 1 and np.isfinite(res.objective)
    assert res.objective <= res.f0


def test_a_system_lapack_cannot_decompose_is_a_clear_error():
    """One column of X 1e200 times the others: the kernel ridge system overflowed and
    irls raised a bare LinAlgError from LAPACK (a reviewer; it hung before the scale
    search's bracket was mended). A ValueError says what to do."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(80)
    X[:, 1] *= 1e200
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="cannot be solved in double precision"):
            fixntk.irls(X, y, arr, 0.01, max_iter=1)


def test_a_dual_form_that_stops_short_names_the_primal_form():
    """With the intercept profiled out, the dual form's weights reached the optimum's
    value (to 1e-15) with a certificate stuck far above tol (tester CD: 1.2e-5 where
    the primal form certified 1.2e-7 in 10 steps), and the warning said only "raise
    lam or tol". A forced method='dual' names method='primal' with the two systems'
    orders, and that form certifies; method='auto' ends such a run with one
    primal-form solve at the dual form's weights, which certifies."""
    X, y, arr, lam = _intercept_problem(7, 1e-4)
    # a stall names method='primal'; running out of steps does not (NumPy 1.23's
    # dual form runs its 1000 steps here, today's stalls after 16)
    with pytest.warns(ConvergenceWarning, match="stopped before the certificate") as w:
        dual = fixntk.irls(X, y, arr, lam, fit_intercept=True, method="dual")
    message = str(w[0].message)
    assert ("method='primal' (a 102 x 102" in message) == ("ran out" not in message)
    assert dual.method == "dual" and not dual.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        primal = fixntk.irls(X, y, arr, lam, fit_intercept=True, method="primal")
        auto = fixntk.irls(X, y, arr, lam, fit_intercept=True)
    assert primal.converged and primal.gap <= 1e-6 * primal.f0
    assert abs(primal.objective - dual.objective) <= dual.gap
    # the dual form's steps, then the primal solve at their weights
    assert auto.method == "primal" and auto.converged and auto.gap <= 1e-6 * auto.f0
    assert auto.n_iter <= dual.n_iter + 1
    assert np.all(np.diff(auto.history) <= 1e-13 * auto.history[0])
    ref = fixntk.solve(X, y, arr, lam, fit_intercept=True, tol=1e-10)
    assert abs(auto.objective - ref.objective) <= auto.gap + ref.gap
    np.testing.assert_allclose(auto.intercept, ref.intercept, rtol=1e-4)
    # steps that ran out are not a stall: no such advice (tester CH)
    with pytest.warns(ConvergenceWarning, match="max_iter = 3 steps") as caught:
        fixntk.irls(X, y, arr, lam, fit_intercept=True, max_iter=3, method="dual")
    assert "method='primal'" not in str(caught[0].message)


@pytest.mark.parametrize("max_iter", [1, 2, 5])
def test_auto_takes_at_most_max_iter_steps(max_iter):
    # method='auto' on the dual form finishes with its last weights solved in the
    # primal form: the same step, not one more (n_iter was max_iter + 1, and the
    # warning said 'max_iter = 5 steps ran out ... after 6 steps'; tester CO)
    from sklearn.datasets import make_regression

    X, y = make_regression(800, 20, n_informative=10, noise=5, random_state=0)
    y = y + 0.01 * y**2
    X = np.c_[X, np.ones(len(X))]
    arr = fixntk.sample_arrangement(X, 50, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    with pytest.warns(ConvergenceWarning, match=f"max_iter = {max_iter} step") as w:
        fit = fixntk.irls(X, y, arr, lam, max_iter=max_iter)
    assert fit.n_iter == len(fit.history) - 1 <= max_iter
    assert f"after {fit.n_iter} step" in str(w[0].message)
    assert fit.gap == pytest.approx(
        fixntk.duality_gap(X, y, arr, fit.coef, lam), rel=1e-6
    )


def test_the_primal_systems_masked_gram_counts_in_the_time_notice():
    """The primal system's masked Gram (about 2 n (p d)^2 flops) counts in the time
    said before the fit: 60000 rows at p d = 4000 spent 45 s on it and 88 s in all
    without a word, where the (p d)^3 eigendecomposition alone stays under a minute
    (tester DD). The warning is raised as an error here: nothing is built."""
    from fixntk._memory import KernelSizeWarning

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60000, 20))
    arr = fixntk.sample_arrangement(X, 200, seed=0)
    assert arr.p * 20 <= 4000
    with warnings.catch_warnings():
        warnings.simplefilter("error", KernelSizeWarning)
        with pytest.raises(KernelSizeWarning, match=r"about \d+ eigendecompositions"):
            fixntk.irls(X, X[:, 0], arr, 1e-3, method="primal")


def test_a_long_kernel_ridge_names_the_way_out_that_applies(monkeypatch):
    # The time notice before a large kernel ridge system names what avoids it: not
    # method='auto' where auto chose the system, and through an estimator its own
    # parameter, solver='bcd' (it said "use fixntk.solve ..., or method='auto'" to an
    # estimator's user whose irls already ran on auto; tester CO).
    from fixntk import _memory
    from fixntk._memory import KernelSizeWarning

    monkeypatch.setattr(_memory, "_KERNEL_WARN_SECONDS", 0.0)
    X, y = planted(n=120, d=3, seed=2)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    lam = 0.1 * fixntk.lambda_max(X, y, arr)
    said = {}
    for method in ("auto", "dual"):
        with pytest.warns(KernelSizeWarning) as w:
            fixntk.irls(X, y, arr, lam, method=method, max_iter=2)
        said[method] = str(w[0].message)
    assert "use fixntk.solve" in said["auto"] and "method='auto'" not in said["auto"]
    assert "or method='auto', which takes" in said["dual"]
    est = fixntk.GatedReLURegressor(solver="irls", lam=0.01, n_gates=10, max_iter=2)
    with pytest.warns(KernelSizeWarning) as w:
        est.fit(X, y)
    text = [str(m.message) for m in w if issubclass(m.category, KernelSizeWarning)]
    assert "use solver='bcd'" in text[0] and "fixntk.solve" not in text[0]
    # a forced method refused where auto's own system would be refused too: no
    # method='auto' in the advice (tester CQ)
    monkeypatch.setattr(_memory, "_KERNEL_SECONDS", 0.0)
    with pytest.raises(MemoryError) as err:
        fixntk.irls(X, y, arr, lam, method="dual")
    assert "use fixntk.solve" in str(err.value)
    assert "method='auto'" not in str(err.value)


def test_mkl_objective_checks_its_kernel_size_first(monkeypatch):
    """mkl_objective forms an n x n masked kernel and factors it: refused before any
    of it when it does not fit (20000 rows: NumPy's bare allocation error after
    2-10 s; tester DL), as irls's dual form is."""
    from fixntk import _memory

    X, y = planted(n=120, d=3, seed=2)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    eta = np.ones(arr.p)
    value = fixntk.mkl_objective(X, y, arr, eta, 0.1)
    monkeypatch.setattr(_memory, "available_bytes", lambda: 120 * 120 * 8)
    with pytest.raises(MemoryError, match="mkl_objective .*n = 120"):
        fixntk.mkl_objective(X, y, arr, eta, 0.1)
    monkeypatch.undo()
    assert fixntk.mkl_objective(X, y, arr, eta, 0.1) == value
