"""The compiled covariance mode: a working set's Gram built from packed masks, and
the group lasso solved from that Gram alone, against dense NumPy and the in-memory
solver."""

import numpy as np
import pytest
from conftest import dense_design, planted

import fixntk
from fixntk._cpu import core as _core


@pytest.mark.parametrize("weighted", [False, True])
def test_masked_gram_extend_matches_dense(weighted):
    # n = 1100 crosses the 512-row blocks and leaves a partial word
    X, _ = planted(n=1100, d=5, seed=3)
    arr = fixntk.sample_arrangement(X, 40, seed=0)
    A = dense_design(X, arr.masks)  # (n, p d)
    w = np.random.default_rng(1).uniform(0, 2, 1100) if weighted else None
    Aw = A if w is None else A * np.sqrt(w)[:, None]
    old, fresh = np.array([3, 0, 7]), np.array([5, 1])
    out = _core.masked_gram_extend(X, arr.packed, old, fresh, w)

    def cols(groups):
        return np.concatenate([np.arange(5 * g, 5 * g + 5) for g in groups])

    ref = Aw[:, cols(np.r_[old, fresh])].T @ Aw[:, cols(fresh)]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-10)
    only_new = _core.masked_gram_extend(X, arr.packed, np.zeros(0), fresh, w)
    np.testing.assert_allclose(only_new, ref[15:], rtol=1e-12, atol=1e-10)
    with pytest.raises(ValueError, match="out of range"):
        _core.masked_gram_extend(X, arr.packed, old, np.array([arr.p]), w)
    # centred rows: z = m_i x - u_i for every row (masked out or not)
    u = np.random.default_rng(4).standard_normal((5, 5))
    centred = _core.masked_gram_extend(X, arr.packed, old, fresh, w, u)
    Ac = A[:, cols(np.r_[old, fresh])] - u.reshape(1, -1)
    Ac = Ac if w is None else Ac * np.sqrt(w)[:, None]
    np.testing.assert_allclose(centred, Ac.T @ Ac[:, 15:], rtol=1e-12, atol=1e-10)
    with pytest.raises(ValueError, match="centre must have shape"):
        _core.masked_gram_extend(X, arr.packed, old, fresh, w, u[:4])


def test_centred_gram_keeps_its_digits_on_a_column_far_from_zero():
    """A column at 1e8 with a spread of 1: the centred Gram formed from centred rows
    agrees with the exact one (the spread's own Gram), where
    M - S u u^T, formed after the sums, loses every digit (tester EO)."""
    rng = np.random.default_rng(0)
    n = 5000
    Z = rng.standard_normal((n, 1))
    X = np.ascontiguousarray(Z + 1e8)
    ones = fixntk.Arrangement.from_masks(np.ones((n, 1), bool)).packed
    u = X.mean(axis=0, keepdims=True)
    none = np.zeros(0, np.int64)
    centred = _core.masked_gram_extend(X, ones, none, np.array([0]), None, u)
    exact = ((Z - Z.mean()) ** 2).sum()
    assert abs(centred[0, 0] - exact) <= 1e-8 * exact
    plain = _core.masked_gram_extend(X, ones, none, np.array([0]))
    late = plain[0, 0] - n * u[0, 0] ** 2
    assert abs(late - exact) > 1e-3 * exact  # what the centring avoids


def test_masked_gram_extend_in_row_parts_gives_the_same_bits_on_any_threads():
    """40000 rows: parts of 8192 rows and more, summed apart on the core's threads and
    added in order, the same bits whatever the thread count, and the dense Gram."""
    from threadpoolctl import threadpool_limits

    X, _ = planted(n=40000, d=4, seed=5)
    arr = fixntk.sample_arrangement(X, 30, seed=0)
    w = np.random.default_rng(2).uniform(0, 2, 40000)
    old, fresh = np.arange(10), np.arange(10, 30)
    outs = []
    for threads in (1, 2, 3):
        with threadpool_limits(limits=threads, user_api="openmp"):
            outs.append(_core.masked_gram_extend(X, arr.packed, old, fresh, w))
    assert all(np.array_equal(outs[0], out) for out in outs[1:])
    A = dense_design(X, arr.masks) * np.sqrt(w)[:, None]
    np.testing.assert_allclose(outs[0], A.T @ A[:, 40:], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("c", [1, 3])
def test_solve_gram_matches_in_memory_solve(c):
    X, y = planted(n=400, d=4, seed=5)
    Y = y[:, None] if c == 1 else np.column_stack([y, np.sin(y), X[:, 0]])
    arr = fixntk.sample_arrangement(X, 60, seed=2)
    n, p, d = 400, arr.p, 4
    lam = 0.05 * fixntk.lambda_max(X, Y, arr)
    ref = fixntk.solve(X, Y if c > 1 else y, arr, lam, tol=1e-13)
    A = dense_design(X, arr.masks)
    H = A.T @ A / n
    b = A.T @ Y / n
    y2 = float((Y**2).sum() / n)
    out = _core.solve_gram(H, b, y2, np.zeros((p, d, c)), lam, 1e-14 * 0.5 * y2)
    assert out["converged"]
    W = out["coef"]
    # its own certificate agrees with the dense objective
    R = Y - A @ W.reshape(-1, c)
    primal = 0.5 * (R**2).sum() / n + lam * np.sqrt((W**2).sum(axis=(1, 2))).sum()
    assert out["primal"] == pytest.approx(primal, rel=1e-10)
    assert out["gap"] >= -1e-15
    assert out["primal"] == pytest.approx(ref.objective, rel=1e-10)
    scale = np.abs(ref.coef).max()
    np.testing.assert_allclose(
        W.reshape(ref.coef.shape), ref.coef, rtol=1e-6, atol=1e-6 * scale
    )
    # a warm start at the answer stops at once
    again = _core.solve_gram(H, b, y2, W, lam, 1e-10 * 0.5 * y2)
    assert again["converged"] and again["n_epochs"] == 0


def test_solve_gram_refuses_bad_shapes():
    H = np.eye(6)
    with pytest.raises(ValueError, match="H must be"):
        _core.solve_gram(H, np.zeros((6, 1)), 1.0, np.zeros((3, 3, 1)), 0.1, 1e-8)
    with pytest.raises(ValueError, match="b must have shape"):
        _core.solve_gram(H, np.zeros((5, 1)), 1.0, np.zeros((2, 3, 1)), 0.1, 1e-8)
    with pytest.raises(ValueError, match="lam must be positive"):
        _core.solve_gram(H, np.zeros((6, 1)), 1.0, np.zeros((2, 3, 1)), 0.0, 1e-8)
    H[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _core.solve_gram(H, np.zeros((6, 1)), 1.0, np.zeros((2, 3, 1)), 0.1, 1e-8)


def test_solve_gram_newton_polish_on_correlated_columns():
    # columns correlated at 0.99 couple the blocks: block steps alone crawl (here more
    # than 5000 epochs short of the target: 37480 to reach it), Newton steps on the
    # settled supports finish in 3115
    rng = np.random.default_rng(0)
    n, d = 2000, 8
    C = 0.99 ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    X = rng.standard_normal((n, d)) @ np.linalg.cholesky(C).T
    y = np.maximum(X @ rng.standard_normal((d, 5)), 0.0) @ rng.choice([-1.0, 1.0], 5)
    y += 0.1 * rng.standard_normal(n)
    arr = fixntk.sample_arrangement(X, 60, seed=1)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr)
    A = dense_design(X, arr.masks)
    H, b, y2 = A.T @ A / n, A.T @ y[:, None] / n, float(y @ y / n)
    W0, target = np.zeros((arr.p, d, 1)), 1e-6 * 0.5 * y2
    slow = _core.solve_gram(H, b, y2, W0, lam, target, max_epochs=5000, newton=False)
    assert not slow["converged"]
    out = _core.solve_gram(H, b, y2, W0, lam, target, max_epochs=5000)
    assert out["converged"] and out["gap"] <= target
    # the in-memory solver (rows, its own certificate) agrees within both gaps
    ref = fixntk.solve(X, y, arr, lam, tol=1e-8)
    assert abs(out["primal"] - ref.objective) <= out["gap"] + ref.gap + 1e-12
