"""Fuzzing the compiled boundary: every call returns a finite, certified result or
raises a Python exception; never a crash, a hang or a NaN.

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
from fixntk._cpu import core as _core

EXAMPLES = int(os.environ.get("FIXNTK_FUZZ_EXAMPLES", "40"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def arrays(draw, max_n=40, max_d=6):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    kind = draw(
        st.sampled_from(["normal", "ints", "dupes", "const", "tiny", "huge", "zero"])
    )
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
    X = (
        X.astype(dtype)
        if dtype is not np.int64
        else np.round(np.clip(X, -1e6, 1e6)).astype(dtype)
    )
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
@given(
    data=arrays(),
    n_gates=st.integers(1, 30),
    lam_frac=st.floats(1e-4, 2.0),
    seed=st.integers(0, 1000),
)
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
@given(
    n=st.integers(1, 70),
    p=st.integers(1, 12),
    d=st.integers(1, 5),
    c=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_core_products_boundary(n, p, d, c, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    masks = rng.random((n, p)) < 0.5
    arr = fixntk.Arrangement.from_masks(masks)
    W = rng.standard_normal((p, d, c))
    R = rng.standard_normal((n, c))
    A = (masks[:, :, None] * X[:, None, :]).reshape(n, p * d)
    np.testing.assert_allclose(
        _core.masked_predict(X, arr.packed, W), A @ W.reshape(-1, c), atol=1e-10
    )
    np.testing.assert_allclose(
        _core.masked_gradients(X, arr.packed, R).reshape(-1, c), A.T @ R, atol=1e-10
    )


@pytest.mark.parametrize(
    "bad",
    [
        lambda X, a: (X, a.packed[:, :0], np.zeros((a.p, X.shape[1], 1))),
        lambda X, a: (X, a.packed, np.zeros((a.p + 1, X.shape[1], 1))),
        lambda X, a: (X[:, 0].copy(), a.packed, np.zeros((a.p, 1, 1))),
    ],
)
def test_core_rejects_inconsistent_shapes(bad):
    X = np.random.default_rng(0).standard_normal((30, 3))
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    with pytest.raises(ValueError):
        _core.masked_predict(*bad(X, arr))


# --------------------------------------------------------------------------- raw inputs

_KINDS = ["normal", "ints", "zero", "tiny", "huge", "nan", "inf", "subnormal"]
_DTYPES = ["float64", "float32", "int64", "bool", "complex", "object", "object-str"]
_CLEAN = {"normal", "ints", "zero", "tiny", "subnormal"}


@st.composite
def raw_arrays(draw, max_n=25, max_d=5):
    """Any array a user might pass as X: shapes with 0 and 1, 1-D and 3-D, every
    dtype, C / Fortran / strided / reversed layouts, NaN, inf, huge and tiny values.
    Returns (X, clean): clean when it is a valid real 2-D input of moderate size."""
    n, d = draw(st.integers(0, max_n)), draw(st.integers(0, max_d))
    ndim = draw(st.sampled_from([2, 2, 2, 2, 1, 3]))
    kind, dtype = draw(st.sampled_from(_KINDS)), draw(st.sampled_from(_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    if kind == "ints":
        X = np.round(3 * X)
    elif kind == "zero":
        X[:] = 0.0
    elif kind == "tiny":
        X *= 1e-150
    elif kind == "subnormal":
        X *= 1e-310
    elif kind == "huge":
        X *= draw(st.sampled_from([1e100, 1e154, 1e200, 1e300]))
    elif kind in ("nan", "inf") and X.size:
        X.flat[draw(st.integers(0, X.size - 1))] = np.nan if kind == "nan" else -np.inf
    if dtype == "float32":
        with np.errstate(over="ignore"):
            X = X.astype(np.float32)
    elif dtype == "int64":
        X = np.nan_to_num(np.clip(X, -1e6, 1e6)).astype(np.int64)
    elif dtype == "bool":
        X = X > 0
    elif dtype == "complex":
        X = X + 1j
    elif dtype.startswith("object"):
        X = X.astype(object)
        if dtype == "object-str" and X.size:
            X.flat[0] = "x"
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "reversed":
        X = X[::-1, ::-1]
    if ndim == 1:
        X = X.ravel()
    elif ndim == 3:
        X = X[:, :, None]
    clean = (
        ndim == 2
        and n >= 1
        and d >= 1
        and dtype not in ("complex", "object-str")
        and (kind in _CLEAN or dtype in ("int64", "bool"))
    )
    return X, clean


def _finite_or_refused(call, clean, allowed=()):
    """call() returns finite numbers or raises ValueError / TypeError / MemoryError;
    on a clean input only the refusals whose message contains one of `allowed`."""
    try:
        out = call()
    except (ValueError, TypeError, MemoryError) as exc:
        assert not clean or any(a in str(exc) for a in allowed), repr(exc)
        return None
    if isinstance(out, np.ndarray):
        assert np.isfinite(out).all()
    return out


@fuzz
@given(data=raw_arrays(), n_gates=st.integers(1, 50), seed=st.integers(0, 1000))
def test_sample_arrangement_boundary(data, n_gates, seed):
    X, clean = data
    arr = _finite_or_refused(
        lambda: fixntk.sample_arrangement(X, n_gates, seed=seed),
        clean,
        allowed=("all-zero",),
    )
    if arr is not None:
        assert 1 <= arr.p <= n_gates and arr.masks.shape == (np.shape(X)[0], arr.p)
        assert arr.masks.any(axis=0).all() and arr.counts.sum() <= n_gates
        assert np.isfinite(arr.gates).all()


@st.composite
def masks_for(draw, n):
    """(n, p) masks, sometimes of the wrong length, with p = 0, or not boolean."""
    p = draw(st.integers(0, 6))
    rows = n + draw(st.sampled_from([0, 0, 0, -1, 1]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    M = rng.random((max(rows, 0), p)) < 0.5
    kind = draw(st.sampled_from(["bool", "bool", "int", "float-2"]))
    return M if kind == "bool" else M.astype(int) if kind == "int" else 2.0 * M


@fuzz
@given(
    data=raw_arrays(),
    st_data=st.data(),
    n_samples=st.integers(1, 400),
    seed=st.integers(0, 1000),
)
def test_ntk_weights_boundary(data, st_data, n_samples, seed):
    X, clean = data
    n = np.shape(X)[0] if np.ndim(X) else 0
    M = st_data.draw(masks_for(n))
    ok = M.dtype == bool and M.shape[0] == n and M.shape[1] >= 1
    w = _finite_or_refused(
        lambda: fixntk.ntk_weights(X, M, n_samples, seed=seed), clean and ok
    )
    if w is not None:
        assert w.eta.shape == (M.shape[1],) and (w.eta >= 0).all()
        total = w.eta.sum() + w.missing_mass + w.zero_mass
        assert np.isfinite(total) and total <= 1 + 1e-9


@fuzz
@given(data=raw_arrays(), z=raw_arrays(), use_z=st.booleans())
def test_ntk_kernel_boundary(data, z, use_z):
    (X, clean), (Z, z_clean) = data, z
    same_d = np.ndim(Z) == np.ndim(X) == 2 and np.shape(Z)[1] == np.shape(X)[1]
    if use_z:
        K = _finite_or_refused(
            lambda: fixntk.ntk_kernel(X, Z),
            clean and z_clean and same_d,
            allowed=("double",),
        )
    else:
        K = _finite_or_refused(lambda: fixntk.ntk_kernel(X), clean, allowed=("double",))
    if K is not None:
        assert K.shape == (np.shape(X)[0], np.shape(Z if use_z else X)[0])


@fuzz
@given(
    data=raw_arrays(),
    st_data=st.data(),
    eta_kind=st.sampled_from(["ok", "ok", "zero", "neg", "nan", "short", "str"]),
)
def test_mkl_kernel_boundary(data, st_data, eta_kind):
    X, clean = data
    n = np.shape(X)[0] if np.ndim(X) else 0
    M = st_data.draw(masks_for(n))
    p = M.shape[1]
    eta = np.abs(np.random.default_rng(p).standard_normal(p))
    eta = {
        "ok": eta,
        "zero": 0 * eta,
        "neg": -eta - 1,
        "nan": eta + np.nan,
        "short": eta[:-1],
        "str": "ntk",
    }[eta_kind]
    ok = (
        M.dtype == bool
        and M.shape[0] == n
        and p >= 1
        and (eta_kind in ("ok", "zero") or (eta_kind in ("neg", "nan") and p == 0))
    )
    K = _finite_or_refused(
        lambda: fixntk.mkl_kernel(X, M, eta), clean and ok, allowed=("double",)
    )
    if K is not None:
        assert K.shape == (n, n)
        np.testing.assert_array_equal(K, K.T)
