"""Kernel ridge at vanishing lam: every kernel ridge solve of fixntk tends to the
least-squares limit (issue 19, part 2).

The kernels here have an exact low-dimensional feature map Psi (K = Psi Psi^T, rank
much smaller than n), so the exact ridge is a small well-conditioned primal problem,
solved in the tests as an augmented least-squares problem (QR, no normal equations):
predictions ``Psi(z) (Psi^T Psi + n lam I)^{-1} Psi^T y``, the quadratic form
``y^T (K + n lam I)^{-1} y = y^T r / (n lam)`` with r the ridge residual, and KARE
``n ||r||^2 / (n - tr S)^2`` with S the ridge's hat matrix. In the kernel form the
same quantities need the n x n system, singular up to n lam, where a plain Cholesky
solve amplifies round-off by 1 / (n lam): 0.64 max|y| off at lam = 1e-14 on the
example of the issue, and a LinAlgError at 1e-16 for the masking kernels.
"""

import warnings

import numpy as np
import pytest
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

import fixntk

LAMS = (1e-12, 1e-14, 1e-16)
# the NTK of x alone (no column of ones) and no output intercept: plain kernel ridge
NO_ONES = dict(neuron_bias=False, fit_intercept=False)


def ridge_by_features(Psi, y, mu, Psi_eval=None):
    """Exact ridge through the feature map: (predictions at Psi_eval, residual on the
    training points, trace of the hat matrix). y of shape (n,) or (n, c)."""
    m = Psi.shape[1]
    A = np.vstack([Psi, np.sqrt(mu) * np.eye(m)])
    Y = y if y.ndim == 2 else y[:, None]
    W = linalg.lstsq(A, np.vstack([Y, np.zeros((m, Y.shape[1]))]))[0]
    Psi_eval = Psi if Psi_eval is None else Psi_eval
    pred = Psi_eval @ W
    # tr S = sum_j s_j^2 / (s_j^2 + mu) over the singular values of Psi
    sv = linalg.svdvals(Psi)
    trace = float((sv**2 / (sv**2 + mu)).sum())
    resid = Y - Psi @ W
    if y.ndim == 1:
        pred, resid = pred[:, 0], resid[:, 0]
    return pred, resid, trace


# ------------------------------------------------------------ the NTK: issue's example


def _issue_example():
    x = np.linspace(-10 * np.pi, 10 * np.pi, 100)
    y = np.sin(x) + np.sin(2 * x)
    return x[:, None], y


def _ntk_features(X):
    """Without the column of ones the 1-d NTK x z (pi - angle) / (2 pi) is x z / 2 for
    x, z of one sign and 0 otherwise: rank 2, features (x_+, x_-) / sqrt(2)."""
    x = X[:, 0]
    return np.stack([np.maximum(x, 0), np.minimum(x, 0)], axis=1) / np.sqrt(2)


def test_ntk_features_are_the_kernel():
    X, _ = _issue_example()
    Psi = _ntk_features(X)
    K = fixntk.ntk_kernel(X)
    np.testing.assert_allclose(K, Psi @ Psi.T, rtol=0, atol=1e-13 * np.abs(K).max())


@pytest.mark.parametrize("lam", LAMS)
def test_ntk_regressor_tends_to_least_squares(lam):
    X, y = _issue_example()
    n = y.size
    Z = np.linspace(-12 * np.pi, 12 * np.pi, 37)[:, None]  # new points too
    exact, _, _ = ridge_by_features(
        _ntk_features(X), y, n * lam, np.vstack([_ntk_features(X), _ntk_features(Z)])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reaching the limit needs no warning
        est = fixntk.NTKRegressor(lam=lam, **NO_ONES).fit(X, y)
    pred = np.concatenate([est.predict(X), est.predict(Z)])
    assert np.abs(pred - exact).max() <= 1e-10 * np.abs(y).max()
    # the MKL objective of the NTK weights: lam/2 (y^T (K + n lam I)^{-1} y + 1)
    _, r, _ = ridge_by_features(_ntk_features(X), y, n * lam)
    objective = 0.5 * lam * (float(y @ r) / (n * lam) + 1.0)
    assert est.objective_ == pytest.approx(objective, rel=1e-10)


@pytest.mark.parametrize("lam", LAMS)
def test_ntk_weighted_with_intercept_tends_to_least_squares(lam):
    """Sample weights and an output intercept (the reflected, weighted coordinates of
    the NTK estimators): the exact answer is weighted ridge on the two features with
    an unpenalised intercept, min 1/(2n) ||a (y - Psi w - b)||^2 + lam/2 ||w||^2 with
    a_k = sqrt(s_k n / sum s)."""
    X, y = _issue_example()
    n = y.size
    s = np.random.default_rng(3).uniform(0.5, 2.0, n)
    a = np.sqrt(s * n / s.sum())
    Psi = _ntk_features(X)
    design = np.vstack(
        [
            np.column_stack([a[:, None] * Psi, a]),
            np.column_stack([np.sqrt(n * lam) * np.eye(2), np.zeros(2)]),
        ]
    )
    wb = linalg.lstsq(design, np.concatenate([a * y, np.zeros(2)]))[0]
    Z = np.linspace(-12 * np.pi, 12 * np.pi, 37)[:, None]
    exact = np.column_stack([np.vstack([Psi, _ntk_features(Z)]), np.ones(n + 37)]) @ wb
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fixntk.NTKRegressor(lam=lam, neuron_bias=False).fit(X, y, sample_weight=s)
    pred = np.concatenate([est.predict(X), est.predict(Z)])
    assert np.abs(pred - exact).max() <= 1e-10 * np.abs(y).max()


@pytest.mark.parametrize("lam", LAMS)
def test_ntk_classifier_tends_to_least_squares(lam):
    X, y = _issue_example()
    labels = np.where(y > 0.3, "a", np.where(y < -0.3, "b", "c"))
    Y = (labels[:, None] == np.array(["a", "b", "c"])).astype(float)
    exact, _, _ = ridge_by_features(_ntk_features(X), Y, y.size * lam)
    est = fixntk.NTKClassifier(lam=lam, **NO_ONES).fit(X, labels)
    np.testing.assert_allclose(est.decision_function(X), exact, rtol=0, atol=1e-10)


def test_ntk_lam_selection_reaches_the_limit():
    """lam by KARE and by cross-validation on grids reaching 1e-16 x the mean
    eigenvalue: the curves are those of the least-squares limit, not of round-off."""
    X, y = _issue_example()
    n = y.size
    fitted = {}
    for mode in ("kare", "cv"):
        est = fixntk.NTKRegressor(
            lam=mode, eps=1e-16, n_lams=12, cv=4, random_state=0, **NO_ONES
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the grid's end
            fitted[mode] = est.fit(X, y)
        exact, _, _ = ridge_by_features(_ntk_features(X), y, n * est.lam_)
        assert np.abs(est.predict(X) - exact).max() <= 1e-10 * np.abs(y).max()
    # KARE's tail is flat at the limit n ||r_LS||^2 / (n - 2)^2 (two features)
    _, r, _ = ridge_by_features(_ntk_features(X), y, 0.0)
    limit = n * float(r @ r) / (n - 2) ** 2
    np.testing.assert_allclose(fitted["kare"].lam_scores_[-4:], limit, rtol=1e-9)


@pytest.mark.parametrize("lam", (1e-2,) + LAMS)
def test_kare_and_its_selection_tend_to_least_squares(lam):
    X, y = _issue_example()
    n = y.size
    K = fixntk.ntk_kernel(X)
    _, r, trace = ridge_by_features(_ntk_features(X), y, n * lam)
    exact = n * float(r @ r) / (n - trace) ** 2
    assert fixntk.kare(K, y, lam) == pytest.approx(exact, rel=1e-9)
    sel = fixntk.select_lambda_kare(K, y, lams=[1.0, lam])
    assert sel.kare[-1] == pytest.approx(exact, rel=1e-9)


# ----------------------------------------------------- masking kernels: MKL, IRLS, KARE


@pytest.fixture(scope="module")
def masking():
    """n = 60 points in 2-d, 6 masks: H(eta) has rank 12 and feature map
    [sqrt(eta_i) D_i X]_i."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    arr = fixntk.sample_arrangement(X, 6, seed=1)
    assert arr.p * X.shape[1] < X.shape[0]
    return X, y, arr


def _mkl_features(X, masks, eta):
    Psi = masks[:, :, None] * X[:, None, :] * np.sqrt(eta)[None, :, None]
    return Psi.reshape(X.shape[0], -1)


@pytest.mark.parametrize("lam", (1e-2, 1e-8) + LAMS)
def test_mkl_objective_tends_to_least_squares(masking, lam):
    X, y, arr = masking
    n = y.size
    eta = np.random.default_rng(2).uniform(0.5, 2.0, arr.p)
    _, r, _ = ridge_by_features(_mkl_features(X, arr.masks, eta), y, n * lam)
    exact = 0.5 * lam * (float(y @ r) / (n * lam) + eta.sum())
    assert fixntk.mkl_objective(X, y, arr, eta, lam) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("method", ["auto", "dual", "primal"])
@pytest.mark.parametrize("lam_ratio", [1e-10, 1e-14])
def test_irls_at_tiny_lam(masking, method, lam_ratio):
    """IRLS's kernel ridge solves stay exact at tiny lam (a plain Cholesky factor of
    the dual system failed here): the objective is the least-squares residual up to
    lam times the penalty of the least-squares fit, and the run is certified by the
    duality gap of fixntk.solve (independent of the ridge). At 1e-14 lam_max the dual
    form's weights are not accurate enough for that certificate (it needs the residual
    orthogonal to every group to 1e-14): IRLS then warns that it stopped before it."""
    X, y, arr = masking
    n = y.size
    lam = lam_ratio * fixntk.lambda_max(X, y, arr)
    design = _mkl_features(X, arr.masks, np.ones(arr.p))
    w_ls = linalg.lstsq(design, y)[0]
    r_ls = y - design @ w_ls
    low = 0.5 * float(r_ls @ r_ls) / n
    high = low + lam * np.linalg.norm(w_ls.reshape(arr.p, -1), axis=1).sum()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fixntk.irls(X, y, arr, lam, eta0="counts", method=method, max_iter=30)
    assert low - 1e-12 * res.f0 <= res.objective <= high + 1e-12 * res.f0
    if method == "dual" and lam_ratio < 1e-12:
        assert not res.converged
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    else:
        assert res.converged and res.gap <= 1e-6 * res.f0
        assert res.method == ("primal" if method == "auto" else method)


def test_kare_kernel_regressor_tends_to_least_squares(masking):
    """Fixed tiny lam: kare_mkl runs (its gradient's C^{-1} exists), its KARE is the
    exact one of the kernel it returns, and the estimator's predictions, on the
    training points and new ones, are the exact ridge with that kernel."""
    X, y, _ = masking
    n = y.size
    Z = np.random.default_rng(5).standard_normal((25, 2))
    for lam in LAMS:
        est = fixntk.KAREKernelRegressor(
            n_gates=6,
            lam=lam,
            neuron_bias=False,
            eta0="counts",  # the masking kernels alone: the feature map below
            validation_fraction=None,
            max_iter=3,
            fit_intercept=False,  # the ridge on y itself
            random_state=1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a run cut at max_iter says so
            est.fit(X, y)
        masks, masks_z = X @ est.gates_.T >= 0, Z @ est.gates_.T >= 0
        Psi = _mkl_features(X, masks, est.eta_)
        Psi_z = _mkl_features(Z, masks_z, est.eta_)
        exact, r, trace = ridge_by_features(
            Psi, y, n * est.lam_, np.vstack([Psi, Psi_z])
        )
        pred = np.concatenate([est.predict(X), est.predict(Z)])
        assert np.abs(pred - exact).max() <= 1e-9 * np.abs(y).max()
        assert est.kare_ == pytest.approx(n * float(r @ r) / (n - trace) ** 2, rel=1e-9)


def test_ridge_factorisations_release_the_gil_and_match_scipy(monkeypatch):
    """PSDRidge's Cholesky factor, its inverse and its eigendecomposition run where
    Ctrl-C does not wait for them (fixntk._threads.interruptible, over LAPACK calls
    that release the GIL: SciPy's wrappers held it for whole n x n factorisations,
    up to 2 minutes in a tester's `fixntk compare`), and give what SciPy's give."""
    from fixntk import _ridge

    calls = []
    real = _ridge.interruptible

    def record(fn, *args):
        calls.append(getattr(fn, "__name__", fn))
        return real(fn, *args)

    monkeypatch.setattr(_ridge, "interruptible", record)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 40))
    K = A @ A.T
    ridge = _ridge.PSDRidge(K, 0.5)
    assert ridge.method == "cholesky" and calls == ["call"]
    C = K + 0.5 * np.eye(60)
    L = linalg.cholesky(C, lower=True)
    np.testing.assert_array_equal(np.tril(ridge._chol), L)
    np.testing.assert_allclose(ridge.inverse(), linalg.inv(C), rtol=1e-10, atol=1e-14)
    assert calls == ["call", "call"]
    Y = rng.standard_normal((60, 2))
    np.testing.assert_allclose(ridge.solve(Y), linalg.solve(C, Y), rtol=1e-10)
    singular = _ridge.PSDRidge(K, 1e-14)  # rank 40: the eigendecomposition
    assert singular.method == "eigh" and calls[-1] == "eigh"
    ev = linalg.eigh(K, eigvals_only=True)
    np.testing.assert_allclose(
        singular.ev, np.where(ev > 1e-9 * ev[-1], ev, 0.0), atol=1e-10 * ev[-1]
    )
