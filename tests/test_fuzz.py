"""Fuzzing the compiled boundary: every call returns a finite, certified result or raises a
Python exception; never a crash, a hang or a NaN.

CI runs a small profile; FIXNTK_FUZZ_EXAMPLES=5000 runs a long one.
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import fixntk
from fixntk import _core

EXAMPLES = int(os.environ.get("FIXNTK_FUZZ_EXAMPLES", "40"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def arrays(draw, max_n=40, max_d=6):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    kind = draw(st.sampled_from(["normal", "ints", "dupes", "const", "tiny", "huge", "zero"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "normal":
        X = rng.standard_normal((n, d))
    elif kind == "ints":
        X = rng.integers(-3, 4, (n, d)).astype(float)
    elif kind == "dupes":
        X = np.repeat(rng.standard_normal((1, d)), n, axis=0)
    elif kind == "const":
        X = np.ones((n, d))
    elif kind == "tiny":
        X = 1e-150 * rng.standard_normal((n, d))
    elif kind == "huge":
        X = 1e100 * rng.standard_normal((n, d))
    else:
        X = np.zeros((n, d))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    if dtype is np.float32:
        X = np.clip(X, -1e30, 1e30)
    X = X.astype(dtype) if dtype is not np.int64 else np.round(np.clip(X, -1e6, 1e6)).astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        big = np.zeros((n, 2 * d), dtype=X.dtype)
        big[:, ::2] = X
        X = big[:, ::2]
    y_kind = draw(st.sampled_from(["normal", "zero", "2d"]))
    if y_kind == "normal":
        y = rng.standard_normal(n)
    elif y_kind == "zero":
        y = np.zeros(n)
    else:
        y = rng.standard_normal((n, draw(st.integers(1, 3))))
    return X, y


@fuzz
@given(data=arrays(), n_gates=st.integers(1, 30), lam_frac=st.floats(1e-4, 2.0),
       seed=st.integers(0, 1000))
def test_solve_boundary(data, n_gates, lam_frac, seed):
    X, y = data
    try:
        arr = fixntk.sample_arrangement(X, n_gates, seed=seed)
    except ValueError as exc:  # all gates gave the all-zero mask (X = 0)
        assert "all-zero" in str(exc)
        return
    assert arr.p >= 1 and arr.masks.shape == (X.shape[0], arr.p)
    lmax = fixntk.lambda_max(X, y, arr)
    assert np.isfinite(lmax) and lmax >= 0
    lam = lam_frac * lmax if lmax > 0 else 1.0
    if not (np.isfinite(lam) and lam > 0):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            res = fixntk.solve(X, y, arr, lam, tol=1e-6, max_iter=2000)
        except ValueError:
            return
    assert np.isfinite(res.coef).all()
    assert np.isfinite(res.objective) and np.isfinite(res.gap)
    assert res.gap >= -1e-9 * max(res.f0, 1e-300) - 1e-300
    if res.converged:
        assert res.gap <= 1e-6 * res.f0 * (1 + 1e-9) + 1e-300


@fuzz
@given(n=st.integers(1, 70), p=st.integers(1, 12), d=st.integers(1, 5), c=st.integers(1, 3),
       seed=st.integers(0, 1000))
def test_core_products_boundary(n, p, d, c, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    masks = rng.random((n, p)) < 0.5
    arr = fixntk.Arrangement.from_masks(masks)
    W = rng.standard_normal((p, d, c))
    R = rng.standard_normal((n, c))
    A = (masks[:, :, None] * X[:, None, :]).reshape(n, p * d)
    np.testing.assert_allclose(_core.masked_predict(X, arr.packed, W), A @ W.reshape(-1, c),
                               atol=1e-10)
    np.testing.assert_allclose(_core.masked_gradients(X, arr.packed, R).reshape(-1, c),
                               A.T @ R, atol=1e-10)


@pytest.mark.parametrize("bad", [
    lambda X, a: (X, a.packed[:, :0], np.zeros((a.p, X.shape[1], 1))),
    lambda X, a: (X, a.packed, np.zeros((a.p + 1, X.shape[1], 1))),
    lambda X, a: (X[:, 0].copy(), a.packed, np.zeros((a.p, 1, 1))),
])
def test_core_rejects_inconsistent_shapes(bad):
    X = np.random.default_rng(0).standard_normal((30, 3))
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    with pytest.raises(ValueError):
        _core.masked_predict(*bad(X, arr))
