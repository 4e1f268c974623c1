import warnings

import numpy as np
import pytest
from conftest import planted

import fixntk


def gcv(K, y, lam):
    """Generalised cross-validation of kernel ridge, written out with the hat matrix
    S = K (K + n lam I)^{-1}: (1/n) ||(I - S) y||^2 / (1 - tr S / n)^2."""
    n = K.shape[0]
    S = np.linalg.solve(
        K + n * lam * np.eye(n), K
    ).T  # K symmetric: S = K (K + n lam)^-1
    R = y - S @ y
    return (R**2).sum() / n / (1 - np.trace(S) / n) ** 2


def rbf(X, gamma=0.5):
    sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    return np.exp(-gamma * sq)


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
def test_kare_equals_gcv(lam):
    X, y = planted(n=80, d=3, seed=0)
    for K in (fixntk.ntk_kernel(X), rbf(X)):
        assert fixntk.kare(K, y, lam) == pytest.approx(gcv(K, y, lam), rel=1e-9)
    # several outputs: the numerator sums over them
    _, Y = planted(n=80, d=3, seed=0, c=2)
    K = fixntk.ntk_kernel(X)
    assert fixntk.kare(K, Y, lam) == pytest.approx(
        gcv(K, Y[:, 0], lam) + gcv(K, Y[:, 1], lam), rel=1e-9
    )


def test_kare_formula_and_grid():
    X, y = planted(n=50, d=2, seed=3)
    K = fixntk.ntk_kernel(X)
    n = len(y)
    lams = np.array([1e-3, 1e-1, 10.0])
    for lam in lams:
        B = np.linalg.inv(K / n + lam * np.eye(n))
        ref = (y @ B @ B @ y / n) / (np.trace(B) / n) ** 2
        assert fixntk.kare(K, y, lam) == pytest.approx(ref, rel=1e-9)
    grid = fixntk.kare(K, y, lams)
    assert grid.shape == (3,)
    np.testing.assert_allclose(grid, [fixntk.kare(K, y, v) for v in lams], rtol=1e-12)
    assert isinstance(fixntk.kare(K, y, 0.1), float)
    # scale equivariance: KARE(sK, y, lam) = KARE(K, y, lam / s)
    assert fixntk.kare(3 * K, y, 0.3) == pytest.approx(fixntk.kare(K, y, 0.1), rel=1e-9)


def test_select_lambda_kare():
    X, y = planted(n=100, d=3, seed=1)
    K = fixntk.ntk_kernel(X)
    sel = fixntk.select_lambda_kare(K, y, n_lams=30)
    assert sel.lams.shape == sel.kare.shape == (30,)
    assert np.all(np.diff(sel.lams) < 0)
    assert sel.lam == sel.lams[sel.index] and sel.kare[sel.index] == sel.kare.min()
    assert 0 < sel.index < 29  # an interior minimum on this problem
    np.testing.assert_allclose(sel.kare, fixntk.kare(K, y, sel.lams), rtol=1e-12)
    lams = np.logspace(-4, 1, 11)
    own = fixntk.select_lambda_kare(K, y, lams=lams)
    np.testing.assert_array_equal(own.lams, lams[::-1])
    # a grid whose best value is at its end warns
    with pytest.warns(UserWarning, match="end|largest|smallest"):
        fixntk.select_lambda_kare(K, y, lams=[1e2, 1e3, 1e4])
    ev = np.linalg.eigvalsh(K / 100)
    with pytest.warns(UserWarning, match="smallest lam"):
        fixntk.select_lambda_kare(K, y, lams=[1e-1, 1e-2, 10 * ev[0]])
    # ... but not when it is the ridgeless limit (far below the spectrum), where
    # KARE is flat: the selection is then interpolation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flat = fixntk.select_lambda_kare(K, y, lams=ev[0] * np.logspace(-3, -6, 4))
    assert not [w for w in caught if "smallest lam" in str(w.message)]
    np.testing.assert_allclose(flat.kare, flat.kare[0], rtol=1e-2)


def test_kare_prefers_signal_to_noise():
    # the same kernel scores better on targets it can explain than on pure noise
    X, y = planted(n=150, d=3, seed=2, noise=0.05)
    K = fixntk.ntk_kernel(X)
    noise = np.random.default_rng(0).standard_normal(150)
    y = y / y.std()
    lam_y = fixntk.select_lambda_kare(K, y).lam
    # noise: regularise (almost) fully; the default grid extends past its top
    sel = fixntk.select_lambda_kare(K, noise)
    lam_e = sel.lam
    assert lam_e > 10 * np.trace(K) / 150**2 and sel.lams[0] > lam_e
    assert fixntk.kare(K, y, lam_y) < 0.2 * fixntk.kare(K, noise, lam_e)


def test_kare_of_the_ntk_and_the_irls_kernel():
    X, y = planted(n=120, d=3, seed=4)
    arr = fixntk.sample_arrangement(X, 40, seed=0)
    lam = 0.05 * fixntk.lambda_max(X, y, arr)
    fit = fixntk.irls(X, y, arr, lam, tol=1e-8)
    K_ntk = fixntk.mkl_kernel(X, arr, fit.eta_start)
    K_fix = fixntk.mkl_kernel(X, arr, fit.eta)
    k_ntk, k_fix = fixntk.kare(K_ntk, y, lam), fixntk.kare(K_fix, y, lam)
    assert np.isfinite(k_ntk) and np.isfinite(k_fix) and k_ntk > 0 and k_fix > 0
    # KARE is GCV of the ridge with that kernel; for the IRLS kernel, the group lasso
    # fit
    n = len(y)
    assert k_fix == pytest.approx(gcv(K_fix, y, lam), rel=1e-8)
    pred = K_fix @ np.linalg.solve(K_fix + n * lam * np.eye(n), y)
    W = fit.coef
    gl_pred = np.einsum("kp,kd,pd->k", arr.masks, X, W)
    np.testing.assert_allclose(pred, gl_pred, atol=1e-6 * np.abs(y).max())


def test_bad_inputs():
    X, y = planted(n=20, d=2, seed=0)
    K = fixntk.ntk_kernel(X)
    with pytest.raises(ValueError, match="square"):
        fixntk.kare(K[:, :5], y, 0.1)
    with pytest.raises(ValueError, match="symmetric"):
        fixntk.kare(K + np.triu(np.ones_like(K), 1), y, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        fixntk.kare(np.full_like(K, np.nan), y, 0.1)
    with pytest.raises(ValueError, match="rows"):
        fixntk.kare(K, y[:-1], 0.1)
    for bad in (0.0, -1.0, np.nan, "x", [0.1, -0.1], [[0.1]]):
        with pytest.raises(ValueError, match="lam"):
            fixntk.kare(K, y, bad)
    with pytest.raises(ValueError, match="semi-definite"):
        fixntk.kare(-K, y, 0.1)
    with pytest.raises(ValueError, match="empty"):
        fixntk.select_lambda_kare(K, y, lams=[])
    with pytest.raises(ValueError, match="n_lams"):
        fixntk.select_lambda_kare(K, y, n_lams=1)
    with pytest.raises(ValueError, match="zero"):
        fixntk.select_lambda_kare(np.zeros_like(K), y)
    # KARE is 0 at every lam: an arbitrary lam (10^13 times the mean eigenvalue,
    # past the grid grown four times) came back without a word
    for lams in (None, [1.0, 0.1, 0.01]):
        with pytest.raises(ValueError, match="y is all zero"):
            fixntk.select_lambda_kare(K, np.zeros_like(y), lams=lams)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.kare(K, y, np.float32(0.5))  # numpy scalars are fine


def test_ridgeless_limit_of_a_singular_kernel_is_set_by_its_positive_eigenvalues():
    """A kernel of rank 3 on 40 rows, y in its range: KARE falls (as lam^2) all the
    way to lam -> 0, but below the smallest positive eigenvalue the fit is the
    minimum-norm least-squares one, so a grid reaching 1e-3 of it does not warn.
    (With the zero eigenvalues counted the limit was never reached: the estimators'
    grids grew downward to lam = 1e-21.)"""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 3))
    K = Z @ Z.T
    y = Z @ [1.0, -1.0, 0.5]
    ev = np.linalg.eigvalsh(K / 40)
    low = ev[ev > 1e-10 * ev[-1]].min()
    lams = low * np.logspace(1, -5, 13)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        sel = fixntk.select_lambda_kare(K, y, lams=lams)
    assert sel.index == lams.size - 1
    fits = [np.linalg.solve(K + 40 * lam * np.eye(40), y) @ K for lam in lams[-3:]]
    np.testing.assert_allclose(fits[0], fits[-1], rtol=3e-3, atol=1e-4)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_kare_at_vanishing_lam_is_the_ridgeless_limit():
    """As lam -> 0 KARE of a positive definite kernel tends to n y^T K^-2 y /
    (tr K^-1)^2 (scaled by n as K / n): finite at any lam, also far below 1e-162 of
    the kernel's scale, where the squares of lam / (ev + lam) underflowed (NaN, then
    an error about y's scale)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.maximum(X[:, 0], 0) + 0.1 * rng.standard_normal(30)
    K = fixntk.ntk_kernel(X)
    ev, U = np.linalg.eigh(K / 30)
    assert ev.min() > 1e-6 * ev.max()  # positive definite, well resolved
    proj = (U.T @ y) ** 2
    limit = 30 * np.sum(proj / ev**2) / np.sum(1 / ev) ** 2
    for lam in (1e-12, 1e-150, 1e-170, 1e-250, 1e-300):
        assert fixntk.kare(K, y, lam) == pytest.approx(limit, rel=1e-9)
    sel = fixntk.select_lambda_kare(K, y, lams=[1e-3, 1e-170])
    assert np.isfinite(sel.kare).all()


def test_leave_one_out_equals_the_refits():
    """_Spectrum.leave_one_out (r_i / (1 - S_ii) from one eigendecomposition) against
    n kernel ridge refits, each without one row (the same ridge n lam)."""
    from fixntk._kare import _Spectrum

    rng = np.random.default_rng(3)
    n, lam = 30, 0.02
    A = rng.standard_normal((n, 8))
    K = A @ A.T + 0.1 * np.eye(n)
    Y = rng.standard_normal((n, 2))
    errors = []
    for i in range(n):
        rest = np.arange(n) != i
        a = np.linalg.solve(K[np.ix_(rest, rest)] + n * lam * np.eye(n - 1), Y[rest])
        errors.append(((K[i, rest] @ a - Y[i]) ** 2).sum())
    got = _Spectrum(K, Y).leave_one_out(lam)
    assert got == pytest.approx(np.mean(errors), rel=1e-9)


def test_kare_far_below_leave_one_out_warns():
    """KARE (GCV) replaces the leverages by their mean. On a smooth noise-free target
    whose kernel nears interpolation it fell to 2e-24 at the ridgeless end, where the
    exact leave-one-out error is 1e-6 (a tester's diamonds prices: KARE 6e-6 reported
    as the NTK's risk, held-out error 0.018), silently; it now warns. With noise the
    two agree and nothing is said."""
    rng = np.random.default_rng(0)
    n = 300
    x = np.sort(rng.uniform(0, 1, n))
    x[: n // 2] = np.round(x[: n // 2] * 20) / 20 + 1e-9 * rng.standard_normal(n // 2)
    K = fixntk.ntk_kernel(np.c_[x, x**2, np.ones(n)])
    y = np.sin(6 * x)
    with pytest.warns(UserWarning, match="below the exact leave-one-out error"):
        fixntk.select_lambda_kare(K, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.select_lambda_kare(K, y + 0.1 * rng.standard_normal(n))


def test_ntk_lam_with_unequal_weights_is_the_weighted_leave_one_out_choice():
    """NTKRegressor(lam="kare") with unequal sample weights chose interpolation
    (KARE, i.e. GCV, averages the leverages that the weights make unequal; a tester's
    diabetes with weights U(0.01, 0.5): lam 2.3e-6, test R^2 0.11 against 0.35).
    It now takes the lam of its grid with the smallest exact weighted leave-one-out
    error, checked here by refitting the weighted kernel ridge without each row."""
    rng = np.random.default_rng(2)
    n = 80
    X = rng.standard_normal((n, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] + 0.3 * rng.standard_normal(n)
    s = rng.uniform(0.01, 0.5, n)
    est = fixntk.NTKRegressor(lam="kare", fit_intercept=False, n_lams=12)
    est.fit(X, y, sample_weight=s)
    Xt = np.c_[X, np.full(n, est.bias_scale_)]
    K = fixntk.ntk_kernel(Xt)
    w = s * n / s.sum()  # the weighted program: 1/(2 sum s) sum s_k r_k^2 + lam/2 ...
    loo = []
    for lam in est.lams_:
        err = 0.0
        for i in range(n):
            rest = np.arange(n) != i
            Kr, wr = K[np.ix_(rest, rest)], w[rest]
            # min sum_k w_k (y_k - (K a)_k)^2 + n lam a^T K a over the other rows
            system = wr[:, None] * Kr + n * lam * np.eye(n - 1)
            a = np.linalg.solve(system, wr * y[rest])
            err += w[i] * (y[i] - K[i, rest] @ a) ** 2
        loo.append(err / n)
    assert est.lam_ == est.lams_[int(np.argmin(loo))]
    # lam_scores_ is the curve that chose (the weighted leave-one-out error, equal to
    # the brute force), and lam_selection_ says so; KARE's own minimum is the grid's
    # interpolating end (2.5e-8), 1e4 times lower
    assert est.lam_selection_ == "loo"
    np.testing.assert_allclose(est.lam_scores_, loo, rtol=1e-6)
    K_kare = K * np.sqrt(w)[:, None] * np.sqrt(w)[None, :]
    kare = [fixntk.kare(K_kare, np.sqrt(w) * y, lam) for lam in est.lams_]
    assert est.lam_ > 1e3 * est.lams_[int(np.argmin(kare))]


def _brute_loo(K, y, lams, w, intercept):
    """The exact (weighted) leave-one-out squared error of kernel ridge with an
    unpenalised intercept at each lam, by refitting without each row:
    ``min sum_k w_k (y_k - (K alpha)_k - b)^2 + n lam alpha^T K alpha`` over the other
    rows (``w`` sums to n), scored as ``1/n sum_i w_i (y_i - f_i)^2``."""
    n = K.shape[0]
    out = []
    for lam in lams:
        err = 0.0
        for i in range(n):
            rest = np.arange(n) != i
            Kr, wr, yr = K[np.ix_(rest, rest)], w[rest], y[rest]
            A = wr[:, None] * Kr + n * lam * np.eye(n - 1)
            if intercept:
                A = np.block([[A, wr[:, None]], [(wr @ Kr)[None, :], wr.sum()]])
                sol = np.linalg.solve(A, np.r_[wr * yr, wr @ yr])
                alpha, b = sol[:-1], sol[-1]
            else:
                alpha, b = np.linalg.solve(A, wr * yr), 0.0
            err += w[i] * (y[i] - K[i, rest] @ alpha - b) ** 2
        out.append(err / n)
    return np.array(out)


@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_ntk_lam_on_equal_rows_is_the_leave_one_out_choice(intercept, weighted):
    """Two equal rows with the same target give K a zero eigenvalue that y avoids;
    KARE's trace counts it at every lam, so KARE fell as lam^2 towards 0 at the
    grid's ridgeless end whatever the fit (5-fold iris, which has two such rows: 3
    of 5 NTKClassifier fits warned, KARE 3e-8 against a leave-one-out error of
    0.013). The estimator now takes the lam of its grid with the smallest exact
    leave-one-out error, without a warning (as it did with unequal weights), checked
    here by refitting the kernel ridge without each row. With the intercept (the
    default) that error was taken in the coordinates that profile the intercept out,
    which are not the samples (a tester: 9e-9 reported where refits give 0.099, and
    the weighted choice off the refits' on 2 of 4 seeds); select_lambda_kare still
    warns on the same kernel. Exact copies are now merged into weights first
    (test_rows_given_twice_are_one_row_of_weight_two): copies to round-off remain
    this case."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] + 0.3 * rng.standard_normal(12)
    # three rows twice, to round-off (exact copies are merged into weights)
    X, y = np.vstack([X, X[:3] * (1 + 1e-15)]), np.r_[y, y[:3]]
    n = y.size
    s = rng.uniform(0.1, 1.0, n) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fixntk.NTKRegressor(lam="kare", fit_intercept=intercept, n_lams=12)
        est.fit(X, y, sample_weight=s)
    K = fixntk.ntk_kernel(np.c_[X, np.full(n, est.bias_scale_)])
    w = np.ones(n) if s is None else s * n / s.sum()
    loo = _brute_loo(K, y, est.lams_, w, intercept)
    assert est.lam_ == est.lams_[int(np.argmin(loo))]
    # leave-one-out chose, and lam_scores_ is its curve
    assert est.lam_selection_ == "loo"
    assert est.lam_ == est.lams_[int(np.argmin(est.lam_scores_))]
    if not weighted:
        with pytest.warns(UserWarning, match="below the exact leave-one-out error"):
            fixntk.select_lambda_kare(K, y, lams=est.lams_)


def test_ntk_default_lam_is_the_leave_one_out_choice():
    """NTKRegressor's default lam ("auto", i.e. "loo") minimises the exact
    leave-one-out error, and lam_scores_ are those errors, checked by refitting the
    kernel ridge (with its intercept) without each row. On these noisy rows of
    repeated feature values KARE's minimiser lies 80 times lower, near
    interpolation (MASS birthwt, a tester: KARE's choice scored below the mean's
    R^2; KARE's curve fell where leave-one-out rose)."""
    rng = np.random.default_rng(0)
    n = 50
    X = rng.integers(0, 3, (n, 6)) + 0.01 * rng.standard_normal((n, 6))
    y = X[:, 0] + rng.standard_normal(n)
    est = fixntk.NTKRegressor(n_lams=12).fit(X, y)
    K = fixntk.ntk_kernel(np.c_[X, np.full(n, est.bias_scale_)])
    loo = _brute_loo(K, y, est.lams_, np.ones(n), True)
    np.testing.assert_allclose(est.lam_scores_, loo, rtol=1e-6)
    assert est.lam_ == est.lams_[int(np.argmin(loo))]
    by_kare = fixntk.NTKRegressor(lam="kare", n_lams=12).fit(X, y)
    assert by_kare.lam_ < est.lam_ / 50
    assert fixntk.NTKRegressor(lam="loo", n_lams=12).fit(X, y).lam_ == est.lam_


def test_a_low_rank_kernel_made_in_float32_is_a_kernel():
    """X X^T in float32 of rank 3 has eigenvalues near -1e-7 times the largest (its
    round-off): it was refused as not positive semi-definite. KARE of it is that of
    the float64 kernel to float32's precision; a clearly indefinite K is still
    refused."""
    rng = np.random.default_rng(15)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    X32 = X.astype(np.float32)
    K32 = X32 @ X32.T
    assert np.linalg.eigvalsh(K32.astype(np.float64))[0] < -1e-8 * np.abs(K32).max()
    assert fixntk.kare(K32, y, 0.1) == pytest.approx(
        fixntk.kare(X @ X.T, y, 0.1), rel=1e-4
    )
    assert fixntk.select_lambda_kare(K32, y).lam > 0
    bad = (X @ X.T).astype(np.float32) - 0.01 * np.eye(30, dtype=np.float32)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        fixntk.kare(bad, y, 0.1)
    # float16's own round-off (0.1 of the largest eigenvalue) let an indefinite K
    # through: the allowance stops at 1e-4; a DataFrame counts by its columns' type
    K = X @ X.T + np.eye(30)
    ev = np.linalg.eigvalsh(K)
    indefinite = K - (ev[0] + 0.05 * ev[-1]) * np.eye(30)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        fixntk.kare(indefinite.astype(np.float16), y, 0.1)
    import pandas as pd

    assert fixntk.kare(pd.DataFrame(K32), y, 0.1) == fixntk.kare(K32, y, 0.1)


def test_a_float32_kernel_asymmetric_by_its_round_off_is_a_kernel():
    """A float32 kernel whose entries K[i, j] and K[j, i] were summed in different
    orders (GPU libraries' tiles do) is asymmetric by float32's round-off (a few
    1e-8 of its largest entry): it was refused as not symmetric (a fixed 1e-8) while
    the eigenvalue check beside it allowed float32's precision. KARE of it is that of
    the symmetrised kernel; a float64 kernel asymmetric by as much, or a float32 one
    clearly asymmetric, is refused with the figures and the remedy."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 4)).astype(np.float32)
    y = rng.standard_normal(60)
    parts = [X[:, [j]] @ X[:, [j]].T for j in range(4)]
    fwd, bwd = sum(parts), sum(parts[::-1])
    K = np.triu(fwd) + np.tril(bwd, -1) + np.eye(60, dtype=np.float32)
    rel = np.abs(K - K.T).max() / np.abs(K).max()
    assert 1e-8 < rel < 1e-6
    sym = 0.5 * K.astype(np.float64) + 0.5 * K.T.astype(np.float64)
    assert fixntk.kare(K, y, 0.1) == pytest.approx(fixntk.kare(sym, y, 0.1), rel=1e-12)
    assert fixntk.select_lambda_kare(K, y).lam > 0
    with pytest.raises(ValueError, match=r"symmetric.*\(K \+ K\.T\) / 2"):
        fixntk.kare(K.astype(np.float64), y, 0.1)
    bad = K + np.float32(1e-3) * np.triu(np.abs(K), 1)
    with pytest.raises(ValueError, match="symmetric"):
        fixntk.kare(bad, y, 0.1)


def test_every_row_given_twice_warns_at_the_ridgeless_end():
    """Each row and target twice: K has n/2 zero eigenvalues that y avoids, KARE and
    leave-one-out (each row's copy stays) both fall to 0 as lam -> 0, and the
    selection at the grid's smallest lam (test error 0.999 there, 0.396 at the
    grid's best) was silent. The same rows once: no such warning."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    y = np.sin(X.sum(1)) + 0.5 * rng.standard_normal(40)
    K2 = fixntk.ntk_kernel(np.r_[X, X])
    with pytest.warns(UserWarning, match="40 of the 80 rows repeat"):
        sel = fixntk.select_lambda_kare(K2, np.r_[y, y])
    assert sel.index == sel.lams.size - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.select_lambda_kare(fixntk.ntk_kernel(X), y)
    # copies in another order, whose kernel rows agree to round-off only, and
    # targets that differ by 1e-12: every copy counted
    from fixntk._kare import _repeated_rows

    perm = rng.permutation(80)
    Xp, yp = np.r_[X, X][perm], np.r_[y, y][perm]
    K = np.exp(-0.3 * ((Xp[:, None, :] - Xp[None, :, :]) ** 2).sum(axis=2))
    yp = yp + 1e-12 * rng.standard_normal(80)
    assert _repeated_rows(K, yp[:, None]) == 40
    # the same points with other targets are not repeats
    assert _repeated_rows(K, yp[:, None] + np.arange(80)[:, None]) == 0


@pytest.mark.parametrize("lam", ["auto", "kare"])
def test_rows_given_twice_are_one_row_of_weight_two(lam):
    """Every row given twice made leave-one-out (and KARE) fit each left-out row by
    its copy: NTKRegressor() chose lam 4.9e-9 where the same rows with weight 2 chose
    2e-3 (test R^2 0.579 against 0.843; a tester). Copies with the same target now
    count as one row of their summed weight: the same lam and model as the weights;
    a float lam's model is the same either way."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] + rng.normal(size=100)
    Z = rng.normal(size=(50, 2))
    for k in (2, 8):  # every row k times (8: few values of X, but equally often)
        many = fixntk.NTKRegressor(lam=lam).fit(np.tile(X, (k, 1)), np.tile(y, k))
        weighted = fixntk.NTKRegressor(lam=lam).fit(X, y, sample_weight=np.full(100, k))
        assert many.lam_ == pytest.approx(weighted.lam_, rel=1e-12)
        assert many.lam_ > 1e-4
        np.testing.assert_allclose(many.predict(Z), weighted.predict(Z), atol=1e-10)
    # some rows twice (merged), the others once
    some = fixntk.NTKRegressor(lam=lam).fit(np.r_[X, X[:30]], np.r_[y, y[:30]])
    s = np.ones(100)
    s[:30] = 2.0
    same = fixntk.NTKRegressor(lam=lam).fit(X, y, sample_weight=s)
    assert some.lam_ == pytest.approx(same.lam_, rel=1e-12)
    np.testing.assert_allclose(some.predict(Z), same.predict(Z), atol=1e-10)
    for lam_given in (0.01,):  # a given lam: the model of the copies themselves
        a = fixntk.NTKRegressor(lam=lam_given).fit(np.r_[X, X], np.r_[y, y])
        b = fixntk.NTKRegressor(lam=lam_given).fit(
            X, y, sample_weight=np.full(100, 2.0)
        )
        np.testing.assert_allclose(a.predict(Z), b.predict(Z), atol=1e-10)


@pytest.mark.parametrize("signal", [0.0, 1.0])
def test_grid_extended_at_once_is_the_grid_extended_lam_by_lam(signal):
    """NTKRegressor(lam="cv") scores the most the grid could grow in one call (one
    eigendecomposition per fold) and grows the grid as _extended does lam by lam (a
    second call per extension redid every fold's eigendecomposition; tester AR)."""
    from fixntk._kare import _extended, _extended_at_once, _Spectrum

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = signal * X[:, 0] + (1.0 - signal) * rng.standard_normal(80)
    K = fixntk.ntk_kernel(np.c_[X, np.ones(80)])
    spectrum = _Spectrum(K, y[:, None])
    lams = np.trace(K) / 80**2 * np.logspace(1, -1 if signal else -6, 12)
    calls = []

    def score(grid):
        calls.append(grid.size)
        return spectrum.kare(grid)

    want = _extended(spectrum, lams)
    got = _extended_at_once(spectrum, lams, score)
    assert len(calls) == 1 and got[0].size > lams.size
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_repeated_inputs_with_other_targets_are_left_out_one_row_at_a_time():
    """Four cells of X, 100 rows each, P(y = 1) = 0.2, 0.2, 0.8, 0.8 (categorical
    features; tester AT): rows of the same X with two targets were merged per
    target, leave-one-out then left out a cell's y = 1 rows together, and fitted
    them by its y = 0 rows: the error rose as lam fell, and every lam-choosing kernel
    estimator chose the largest lam and predicted class 0 everywhere. Such rows are
    now left out one at a time: the Bayes rule, [0, 0, 1, 1], and the cells' means
    (the closed form of the least-squares fit on four cells)."""
    from fixntk._estimators import _merged_copies

    rng = np.random.default_rng(0)
    cells = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    idx = np.repeat(np.arange(4), 100)
    X = cells[idx]
    y = (rng.random(400) < np.array([0.2, 0.2, 0.8, 0.8])[idx]).astype(int)
    Y = y[:, None].astype(float)
    merged = _merged_copies(X, Y, y, None)  # 8 rows: each cell's two targets
    owner, share = merged[4]
    assert merged[0].shape == (8, 2) and owner.size == 400 and merged[3].sum() == 400
    np.testing.assert_allclose(np.bincount(owner, weights=share), 1.0)
    for est in (
        fixntk.NTKClassifier(),
        fixntk.NTKClassifier(lam="kare"),
        fixntk.KAREKernelClassifier(random_state=0),
    ):
        np.testing.assert_array_equal(est.fit(X, y).predict(cells), [0, 0, 1, 1])
    reg = fixntk.NTKRegressor().fit(X, y)
    means = np.array([y[idx == k].mean() for k in range(4)])
    np.testing.assert_allclose(reg.predict(cells), means, atol=0.05)
    assert reg.lam_ < reg.lams_[0]


def test_leave_one_copy_out_on_merged_rows_is_leave_one_out_on_all_rows():
    """Rows merged into weighted rows and left out one copy at a time (their
    leverage over their copies' count) give the exact leave-one-out error of the
    rows as given, at every lam: the rank-one update of a weight w to w - 1."""
    from fixntk._kare import _Spectrum

    rng = np.random.default_rng(1)
    cells = rng.standard_normal((5, 3))
    idx = rng.integers(0, 5, 60)
    X = cells[idx]
    y = (rng.random(60) < 0.5).astype(float)[:, None]  # two targets in most cells
    lams = np.logspace(-6, 0, 7)
    full = _Spectrum(fixntk.ntk_kernel(X), y).leave_one_out(lams)
    rows = np.hstack([X, y])
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    m = np.bincount(inverse.ravel()).astype(float)
    a = np.sqrt(m * m.size / m.sum())
    K = fixntk.ntk_kernel(X[first]) * np.outer(a, a)
    copies = (inverse.ravel(), 1.0 / m[inverse.ravel()])
    merged = _Spectrum(K, y[first] * a[:, None], copies=copies).leave_one_out(lams)
    np.testing.assert_allclose(merged, full, rtol=1e-8)
    whole = _Spectrum(K, y[first] * a[:, None]).leave_one_out(lams)
    assert not np.allclose(whole, full, rtol=1e-3)  # left out whole: another error


def _refit_loo(est, X, y, s, lams):
    """The leave-one-out error of an NTKRegressor's kernel ridge (with its
    intercept and neuron bias) by n refits, one per row as given: that row's weight
    set to 0, the objective's 1/sum(s) and lam kept; the weighted mean of squares."""
    Xt = np.hstack([X, np.full((X.shape[0], 1), est.bias_scale_)])
    K = fixntk.ntk_kernel(Xt)
    n = K.shape[0]
    S = s.sum()
    out = []
    for lam in lams:
        err = 0.0
        for j in range(n):
            sj = s.copy()
            sj[j] = 0.0
            A = np.zeros((n + 1, n + 1))
            A[:n, :n] = sj[:, None] * K + S * lam * np.eye(n)
            A[:n, n], A[n, :n] = sj, 1.0
            sol = np.linalg.solve(A, np.r_[sj * y, 0.0])
            err += s[j] * (y[j] - K[j] @ sol[:n] - sol[n]) ** 2
        out.append(err / S)
    return np.array(out)


def test_repeated_inputs_with_pure_cells_and_unequal_weights_match_brute_force():
    """Categorical cells, some of one target ("pure") and some of both, copies of
    unequal weight (tester AX): a pure cell's rows were left out whole beside mixed
    cells left out by copy (lam 0.11 where leave-one-out picks 0.0023), and a copy
    was left out as 1/m of its row's weight whatever its own (scores off by 16%).
    NTKRegressor's leave-one-out now equals n explicit refits, one per row given."""
    rng = np.random.default_rng(3)
    cells = rng.standard_normal((6, 3))
    p = np.array([0.0, 1.0, 0.3, 0.5, 0.6, 0.8])  # two pure cells
    idx = rng.integers(0, 6, 48)
    X = cells[idx]
    y = (rng.random(48) < p[idx]).astype(float)
    s = rng.choice([0.2, 1.0, 20.0], 48) * rng.uniform(0.5, 1.5, 48)  # all unequal
    est = fixntk.NTKRegressor(lam="loo").fit(X, y, sample_weight=s)
    assert est.X_fit_.shape[0] < 20  # merged, each copy left out with its own weight
    brute = _refit_loo(est, X, y, s, est.lams_)
    np.testing.assert_allclose(est.lam_scores_, brute, rtol=1e-6)
    assert est.lam_ == est.lams_[int(np.argmin(brute))]


def test_select_lambda_kare_does_not_depend_on_the_scale_of_y():
    """KARE is homogeneous of degree 2 in y, so its minimiser cannot depend on y's
    scale: taken on the curve in y's units, |y| below 1e-155 left it subnormal or 0
    and moved the choice to the grid's top (tester AY). It is taken at unit scale."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = np.sin(X[:, 0]) + 0.3 * rng.standard_normal(80)
    K = fixntk.ntk_kernel(X)
    lams = np.logspace(2, -7, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fixntk.select_lambda_kare(K, y, lams)
        for s in (1e-160, 1e-200, 1e150):
            assert fixntk.select_lambda_kare(K, y * s, lams).lam == ref.lam


def test_categorical_cells_of_one_label_each_are_learned():
    """Deterministic labels on categorical cells (tester AZ): copies merged and left
    out whole, each cell was fitted by the others alone, leave-one-out favoured the
    null model, and NTKClassifier predicted the majority class (accuracy 0.67
    against 1.0 by lam='cv'). Few distinct X, many rows each, are draws: each row is
    left out on its own, and the cells' labels are learned."""
    rng = np.random.default_rng(0)
    cells = rng.standard_normal((12, 4))
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1])
    idx = rng.integers(0, 12, 300)
    for est in (fixntk.NTKClassifier(), fixntk.KAREKernelClassifier(random_state=0)):
        est.fit(cells[idx], labels[idx])
        np.testing.assert_array_equal(est.predict(cells), labels)


@pytest.mark.parametrize("weighted", [False, True])
def test_kare_of_draws_is_that_of_the_rows_as_given(weighted):
    """Draws of repeated inputs are merged per (X, y) for the lam search; the KARE
    reported at the lam chosen was the merged rows' (1.54 on titanic, where the rows
    as given, fitted at the same lam, give 0.28: tester BC). It is the KARE of the
    rows as given: NTKRegressor(lam=lam_), which merges nothing, reports the same
    value, and so does the closed form on the n x n kernel."""
    rng = np.random.default_rng(1)
    cells = rng.standard_normal((5, 3))
    idx = rng.integers(0, 5, 120)
    X = cells[idx]
    y = (rng.random(120) < np.array([0.2, 0.4, 0.5, 0.7, 0.9])[idx]).astype(float)
    s = rng.uniform(0.5, 2.0, 120) if weighted else None
    chosen = fixntk.NTKRegressor(lam="kare").fit(X, y, sample_weight=s)
    assert chosen.X_fit_.shape[0] < 12  # merged
    fixed = fixntk.NTKRegressor(lam=chosen.lam_).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(chosen.kare_, fixed.kare_, rtol=1e-7)
    # draws are left out one at a time: leave-one-out chose, and its curve is kept
    assert chosen.lam_selection_ == "loo"
    assert chosen.lam_ == chosen.lams_[np.argmin(chosen.lam_scores_)]
    if not weighted:  # GCV on the n rows with the intercept counted, by hand
        K = fixntk.ntk_kernel(fixed.X_fit_)
        n, one = y.size, np.ones(y.size)
        # f = K a + b, min ||y - f||^2 / n + lam a^T K a: a = (K + n lam)^-1 (y - b),
        # 1^T a = 0, so b = w^T y with w = (K + n lam)^-1 1 / 1^T (K + n lam)^-1 1
        G = np.linalg.inv(K + n * fixed.lam_ * np.eye(n))
        w = G @ one / (one @ G @ one)
        S = K @ G @ (np.eye(n) - np.outer(one, w)) + np.outer(one, w)
        r = y - S @ y
        gcv = (r @ r / n) / (1.0 - np.trace(S) / n) ** 2
        assert fixed.kare_ == pytest.approx(gcv, rel=1e-6)


def test_a_grid_end_given_twice_still_warns_at_the_edge():
    """[0.01, 0.01, 0.1, 1]: argmin took the first of the tied smallest lams, and the
    minimum at the grid's edge (KARE still falling below it) went unreported; the same
    grid without the copy warned (tester BK)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    K, y = fixntk.ntk_kernel(X), X[:, 0]
    assert fixntk.kare(K, y, [1e-3])[0] < fixntk.kare(K, y, [1e-2])[0]
    for lams in ([1e-2, 1e-1, 1.0], [1e-2, 1e-2, 1e-1, 1.0], [1e-2, 1e-1, 1.0, 1.0]):
        with pytest.warns(UserWarning, match="smallest lam of the grid"):
            sel = fixntk.select_lambda_kare(K, y, lams=lams)
        assert sel.lam == 1e-2


def test_kare_estimator_refuses_dual_coefficients_beyond_double_precision():
    """Tester DQ: X at 1e-100 and y at 1e120 (each inside double precision; y / |X|^2
    is not) fitted without a word and predicted NaN; NTKRegressor refuses them."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:120], y[:120]
    X = (X - X.mean(0)) / X.std(0)
    with pytest.raises(ValueError, match="dual coefficients exceed the range"):
        fixntk.KAREKernelRegressor(random_state=0, n_gates=200).fit(
            X * 3.7e-100, y * 1.3e120
        )
    # at unit scale it fits
    est = fixntk.KAREKernelRegressor(random_state=0, n_gates=200).fit(X, y)
    assert np.isfinite(est.predict(X)).all()
