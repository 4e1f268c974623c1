import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import block_normals, planted

import fixntk


def sector_cells(X):
    """Every cell of the arrangement of the rows of X in d = 2, with its exact Gaussian
    mass: the cells are the sectors between consecutive boundary lines x_k^T h = 0, and
    an isotropic h falls in a sector with probability (its angle) / (2 pi)."""
    phi = np.arctan2(X[:, 1], X[:, 0])
    bounds = np.sort(
        np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi)
    )
    widths = np.diff(np.append(bounds, bounds[0] + 2 * np.pi))
    mids = bounds + widths / 2
    masks, mass = [], []
    for mid, width in zip(mids, widths):
        if width < 1e-12:
            continue
        m = X @ np.array([np.cos(mid), np.sin(mid)]) >= 0
        masks.append(m)
        mass.append(width / (2 * np.pi))
    return np.array(masks).T, np.array(mass)


def test_exact_sector_angles_d2():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    masks, mass = sector_cells(X)
    assert masks.shape[1] == 24 and np.isclose(mass.sum(), 1.0)  # 2n sectors
    nz = masks.any(axis=0)
    # the arrangement of all non-zero cells (the all-zero one adds nothing to H)
    arr = fixntk.Arrangement.from_masks(masks[:, nz])
    N = 400_000
    est = fixntk.ntk_weights(X, arr, n_samples=N, seed=1)
    exact = mass[nz]
    se = np.sqrt(exact * (1 - exact) / N)
    assert np.all(np.abs(est.eta - exact) <= 5 * se)
    np.testing.assert_allclose(est.stderr, se, rtol=0.05)
    assert est.missing_mass == 0.0
    # the zero cell (the rows here do not lie in a half-plane) is or is not there
    zero = mass[~nz].sum()
    assert abs(est.zero_mass - zero) <= 5 * np.sqrt(max(zero, 1 / N) / N)
    assert est.eta.sum() + est.missing_mass + est.zero_mass == pytest.approx(
        1, abs=1e-12
    )


def test_exact_cell_weights_give_the_closed_form_ntk():
    # H(eta~) with the exact eta~ of every cell is the closed-form NTK, to round-off.
    X = np.random.default_rng(3).standard_normal((15, 2)) * [1.0, 3.0]
    masks, mass = sector_cells(X)
    K = fixntk.mkl_kernel(X, masks, mass)
    np.testing.assert_allclose(K, fixntk.ntk_kernel(X), rtol=1e-11, atol=1e-12)
    # a wrong kernel (e.g. without the 1/(2 pi) or the angle) fails this
    assert not np.allclose(K, X @ X.T / 2)


def _rms(A):
    return float(np.sqrt(np.mean(A**2)))


def test_mkl_kernel_tends_to_ntk_kernel_with_samples():
    X, _ = planted(n=15, d=3, seed=4)
    arr = fixntk.sample_arrangement(X, 40_000, seed=0)
    K = fixntk.ntk_kernel(X)
    Ns = [500, 5000, 50_000, 500_000]
    errs = []
    for N in Ns:
        e = [
            _rms(fixntk.mkl_kernel(X, arr, fixntk.ntk_weights(X, arr, N, seed=s)) - K)
            for s in range(2)
        ]
        errs.append(np.mean(e))
    est = fixntk.ntk_weights(X, arr, Ns[-1], seed=0)
    assert est.missing_mass < 1e-3  # the gates found (almost) every cell
    slope = np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    assert -0.65 < slope < -0.35, (slope, errs)
    assert errs[-1] < 5e-3 * np.abs(K).max()


def test_mkl_kernel_tends_to_ntk_kernel_with_gates():
    X, _ = planted(n=15, d=3, seed=4)
    K = fixntk.ntk_kernel(X)
    missing, errs = [], []
    for g in (10, 100, 1000, 20_000):
        arr = fixntk.sample_arrangement(X, g, seed=1)
        est = fixntk.ntk_weights(X, arr, 200_000, seed=2)
        missing.append(est.missing_mass)
        errs.append(_rms(fixntk.mkl_kernel(X, arr, est) - K))
    assert np.all(np.diff(missing) < 0) and missing[-1] < 2e-3
    assert np.all(np.diff(errs) < 0) and errs[-1] < 0.02 * errs[0]


def test_weights_sum_to_one_minus_missing_mass():
    X, _ = planted(n=80, d=3, seed=0)
    X = np.hstack([X, np.ones((80, 1))])  # an intercept: the all-zero cell has mass
    arr = fixntk.sample_arrangement(X, 300, seed=0)
    est = fixntk.ntk_weights(X, arr, 50_000, seed=3)
    assert 0 < est.missing_mass < 1 and est.zero_mass > 0
    assert est.eta.sum() == pytest.approx(
        1 - est.missing_mass - est.zero_mass, abs=1e-12
    )
    assert est.captured_mass == pytest.approx(est.eta.sum())
    assert est.missing_stderr == pytest.approx(
        np.sqrt(est.missing_mass * (1 - est.missing_mass) / 50_000)
    )


def test_same_seed_as_the_gates_is_not_the_gates():
    # The directions have their own stream: with the gates' seed, the estimate must not
    # re-draw the gates (which would hit every known cell once by construction).
    X, _ = planted(n=60, d=10, seed=0)
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    assert arr.p == 100
    est = fixntk.ntk_weights(X, arr, 1000, seed=0)
    assert est.eta.sum() < 0.02 and est.missing_mass > 0.95


def test_duplicated_masks_share_their_cell():
    X = np.random.default_rng(0).standard_normal((10, 2))
    masks, mass = sector_cells(X)
    nz = masks.any(axis=0)
    M = masks[:, nz]
    dup = np.hstack([M, M[:, :1]])
    a = fixntk.ntk_weights(X, M, 20_000, seed=0)
    b = fixntk.ntk_weights(X, dup, 20_000, seed=0)
    np.testing.assert_array_equal(b.eta[1:-1], a.eta[1:])
    assert b.eta[0] == b.eta[-1] == a.eta[0] / 2
    np.testing.assert_allclose(fixntk.mkl_kernel(X, dup, b), fixntk.mkl_kernel(X, M, a))


def test_same_seed_same_weights_whatever_the_thread_count(tmp_path):
    script = (
        "import os, numpy as np, fixntk;"
        "X = np.random.default_rng(0).standard_normal((300, 3));"
        "arr = fixntk.sample_arrangement(X, 2000, seed=1);"
        "e = fixntk.ntk_weights(X, arr, 50_000, seed=7);"
        f"np.save(r'{tmp_path}/' + os.environ['NUMBA_NUM_THREADS'],"
        " np.append(e.eta, [e.missing_mass, e.zero_mass]))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=dict(os.environ, NUMBA_NUM_THREADS=t, OMP_NUM_THREADS=t),
        )
        for t in ("1", "2")
    ]
    assert [p.wait() for p in procs] == [0, 0]
    one, two = np.load(tmp_path / "1.npy"), np.load(tmp_path / "2.npy")
    np.testing.assert_array_equal(one, two)
    assert one[:-2].sum() > 0.05 and np.count_nonzero(one[:-2]) > 100  # not vacuous


def test_seed_matters_and_repeats():
    X, _ = planted(n=40, d=2, seed=0)
    arr = fixntk.sample_arrangement(X, 500, seed=0)
    a = fixntk.ntk_weights(X, arr, 5000, seed=1)
    b = fixntk.ntk_weights(X, arr, 5000, seed=1)
    c = fixntk.ntk_weights(X, arr, 5000, seed=2)
    np.testing.assert_array_equal(a.eta, b.eta)
    assert not np.array_equal(a.eta, c.eta)


def test_ntk_kernel_closed_form():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 4))
    X[3] = 0.0
    Z = rng.standard_normal((7, 4))
    Z[2] = 0.0
    K = fixntk.ntk_kernel(X, Z)
    # independently: the angle from atan2(|x||z| sin, x.z), then x.z (pi - angle)/(2 pi)
    G = X @ Z.T
    nx, nz = np.linalg.norm(X, axis=1), np.linalg.norm(Z, axis=1)
    sin = np.sqrt(np.maximum((nx[:, None] * nz[None, :]) ** 2 - G**2, 0))
    ref = G * (np.pi - np.arctan2(sin, G)) / (2 * np.pi)
    np.testing.assert_allclose(K, ref, rtol=1e-9, atol=1e-12)
    assert not K[3].any() and not K[:, 2].any()
    Kxx = fixntk.ntk_kernel(X)
    np.testing.assert_array_equal(Kxx, Kxx.T)
    np.testing.assert_allclose(np.diag(Kxx), nx**2 / 2, rtol=1e-15)
    assert np.linalg.eigvalsh(Kxx).min() > -1e-10
    # opposite points: angle pi, kernel 0; d = 1 works
    K1 = fixntk.ntk_kernel(np.array([[1.0], [-2.0], [3.0]]))
    np.testing.assert_allclose(K1, [[0.5, 0, 1.5], [0, 2, 0], [1.5, 0, 4.5]])


def test_mkl_kernel_matches_the_sum_of_masking_kernels():
    X, _ = planted(n=30, d=3, seed=2)
    Z, _ = planted(n=9, d=3, seed=5)
    arr = fixntk.sample_arrangement(X, 60, seed=0)
    eta = np.random.default_rng(0).random(arr.p)
    eta[::4] = 0.0
    M, Mz = arr.masks, arr.apply(Z)
    ref = sum(
        eta[i] * (M[:, i, None] * X) @ (Mz[:, i, None] * Z).T for i in range(arr.p)
    )
    np.testing.assert_allclose(fixntk.mkl_kernel(X, arr, eta, Z), ref, atol=1e-12)
    refx = sum(
        eta[i] * (M[:, i, None] * X) @ (M[:, i, None] * X).T for i in range(arr.p)
    )
    np.testing.assert_allclose(fixntk.mkl_kernel(X, arr, eta), refx, atol=1e-12)
    np.testing.assert_allclose(fixntk.mkl_kernel(X, M, eta), refx, atol=1e-12)


def test_mkl_kernel_holds_one_kernel_in_memory():
    """mkl_kernel held the Gram X X^T beside the kernel, two (n, n) matrices (n =
    20000: 6.4 GB for a 3.2 GB result). The products are now formed by blocks of rows
    into the kernel itself: the same values over several blocks (the symmetric one
    mirrored), at about one kernel of memory."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n, m = 2500, 2000
    X = rng.standard_normal((n, 4)) * np.exp(rng.standard_normal((n, 1)))
    Z = rng.standard_normal((m, 4))
    arr = fixntk.sample_arrangement(X, 40, seed=0)
    eta = rng.random(arr.p)
    eta[::3] = 0.0
    M, Mz = arr.masks.astype(float), arr.apply(Z).astype(float)
    tracemalloc.start()
    K = fixntk.mkl_kernel(X, arr, eta)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * 8 * n * n  # was 2.3 kernels
    ref = (X @ X.T) * ((M * eta) @ M.T)
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(K, K.T)
    tracemalloc.start()
    KZ = fixntk.mkl_kernel(X, arr, eta, Z)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.7 * 8 * n * m  # was 2.5
    ref = (X @ Z.T) * ((M * eta) @ Mz.T)
    np.testing.assert_allclose(KZ, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


def test_bad_inputs():
    X, _ = planted(n=20, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 30, seed=0)
    for bad in (0, -5, 2.5, "10", True):
        with pytest.raises(ValueError, match="n_samples"):
            fixntk.ntk_weights(X, arr, bad)
    for bad in (-1, 1.5, "a"):
        with pytest.raises(ValueError, match="seed"):
            fixntk.ntk_weights(X, arr, 10, seed=bad)
    with pytest.raises(ValueError, match="samples"):
        fixntk.ntk_weights(X[:10], arr)
    with pytest.raises(ValueError, match="2-dimensional"):
        fixntk.ntk_kernel(X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        fixntk.ntk_kernel(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="features"):
        fixntk.ntk_kernel(X, X[:, :2])
    with pytest.raises(ValueError, match=rf"shape \({arr.p},\)"):
        fixntk.mkl_kernel(X, arr, np.ones(arr.p + 1))
    with pytest.raises(ValueError, match="non-negative"):
        fixntk.mkl_kernel(X, arr, -np.ones(arr.p))
    with pytest.raises(ValueError, match="NaN"):
        fixntk.mkl_kernel(X, arr, np.full(arr.p, np.nan))
    with pytest.raises(ValueError, match="non-negative weights"):
        fixntk.mkl_kernel(X, arr, "ntk")
    with pytest.raises(ValueError, match="features"):
        fixntk.mkl_kernel(X, arr, np.ones(arr.p), Z=X[:, :2])
    with pytest.raises(ValueError, match="cannot be applied"):
        fixntk.mkl_kernel(X, arr.masks, np.ones(arr.p), Z=X)


def _full_mask_counts(X, masks, H):
    """Reference: every direction's full mask 1[X h >= 0], counted against the masks."""
    keys = {m.tobytes(): i for i, m in enumerate(masks.T)}
    hits = np.zeros(masks.shape[1], np.int64)
    zero = missing = 0
    for m in (X @ H.T >= 0).T:
        i = keys.get(m.tobytes())
        if i is not None:
            hits[i] += 1
        elif m.any():
            missing += 1
        else:
            zero += 1
    return hits, zero, missing


@pytest.mark.parametrize(
    "d, n_known, n", [(3, 20_000, 150), (10, 0, 150), (3, 300, 50)]
)
def test_screened_counts_equal_full_mask_counts(monkeypatch, d, n_known, n):
    # The first 64 screening rows reject almost every direction when d = 10; the counts
    # must be exactly those of the full masks of the same directions, drawn here by
    # NumPy from the documented streams. Small blocks, sub-blocks, rounds and product
    # chunks make every loop of the kernel turn more than once; n = 50 < 64 rows
    # screens on every row.
    from fixntk import _ntk

    monkeypatch.setattr(_ntk, "DIRECTION_BLOCK", 6000)
    monkeypatch.setattr(_ntk, "_SUB_BLOCK", 1000)
    monkeypatch.setattr(_ntk, "_ROUND", 1)  # blocks per thread and round
    monkeypatch.setattr(_ntk.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(_ntk, "_SCORES_PER_CHUNK", 64 * n)
    N = 20_000
    X, _ = planted(n=n, d=d - 1, seed=5)
    X = np.hstack([X, 4.0 * np.ones((n, 1))])  # an intercept: the zero mask has mass
    H = block_normals(3, _ntk._STREAM, 6000, N, d)
    if n_known:
        masks = fixntk.sample_arrangement(X, n_known, seed=0).masks
    else:  # cells of some of the very directions drawn, and of 200 others, all on
        # the intercept's side (no known cell is all negative on the screening rows)
        other = np.random.default_rng(1).standard_normal((200, d))
        known = np.vstack([H[::250], other])
        masks = X @ known[known[:, -1] > 1.0].T >= 0
    masks = np.unique(masks[:, masks.any(axis=0)], axis=1)
    hits, zero, missing = _full_mask_counts(X, masks, H)
    est = fixntk.ntk_weights(X, masks, n_samples=N, seed=3)
    np.testing.assert_array_equal(np.rint(est.eta * N).astype(np.int64), hits)
    assert round(est.zero_mass * N) == zero and round(est.missing_mass * N) == missing
    assert hits.sum() >= 10 and zero > 0 and missing > 0  # every count is exercised


def test_directions_are_numpys_draws():
    # d = 2, every cell known: the labels of the first directions, one at a time, are
    # those of NumPy's draws of the documented stream (a prefix of a larger sample)
    from fixntk import _ntk

    X = np.random.default_rng(0).standard_normal((12, 2))
    masks, _ = sector_cells(X)
    masks = masks[:, masks.any(axis=0)]
    H = block_normals(11, _ntk._STREAM, _ntk.DIRECTION_BLOCK, 9000, 2)
    for N in (1, 7, 9000):
        hits, zero, missing = _full_mask_counts(X, masks, H[:N])
        est = fixntk.ntk_weights(X, masks, n_samples=N, seed=11)
        np.testing.assert_array_equal(np.rint(est.eta * N).astype(np.int64), hits)
        assert round(est.zero_mass * N) == zero and missing == 0


@pytest.mark.parametrize("eps", [1e-9, 1e-6, 1e-3])
def test_ntk_kernel_accurate_for_nearly_parallel_rows(eps):
    """Rows at a known angle eps or pi - eps (a rotation in a plane of a random basis):
    the entry is x^T z (pi - angle) / (2 pi) to round-off. arccos of the cosine lost
    half the digits near 0 and pi (equal rows got an angle of 1.5e-8, so the kernel of
    constant rows was not constant)."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    x = 3.0 * Q[0]
    z = 2.0 * (np.cos(eps) * Q[0] + np.sin(eps) * Q[1])  # angle eps from x
    K = fixntk.ntk_kernel(np.vstack([x, -x]), z[None, :])
    near = 6.0 * np.cos(eps) * (np.pi - eps) / (2 * np.pi)
    far = -6.0 * np.cos(eps) * eps / (2 * np.pi)  # -x: the angle is pi - eps
    # to round-off of |x| |z| (the rows' own rounding moves the angle by ~1e-16)
    np.testing.assert_allclose(K[:, 0], [near, far], rtol=1e-13, atol=6e-15)
    G = fixntk.ntk_kernel(np.vstack([x, x, -x]))
    assert G[0, 1] == G[0, 0] == G[1, 1] and G[0, 2] == 0.0


@pytest.mark.parametrize("symmetric", [False, True])
def test_arc_factor_numpy_twin_equals_the_kernel(symmetric):
    """Small kernels skip the Numba kernel (its first load costs more than the work):
    the NumPy twin agrees with it to round-off, on zero rows, duplicated and opposite
    rows (the near-parallel formula), rows whose norms' product overflows, and a
    symmetric block that is wider than tall (its diagonal starts at its left)."""
    from fixntk import _kernels

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6))
    X[5] = 0.0
    X[7] = X[3]
    X[9] = -2.0 * X[3]
    X[11] = X[3] + 1e-9 * rng.standard_normal(6)
    X[13] *= 1e200
    X[14] *= 1e160
    Z = X if symmetric else rng.standard_normal((25, 6))
    if not symmetric:
        Z[0], Z[1], Z[2], Z[3] = X[3], X[9], 0.0, 1e107 * Z[3]
    rows = slice(3, 20)
    cols = slice(3, 40) if symmetric else slice(0, 25)
    nx, nz = _kernels._row_norms(X), _kernels._row_norms(Z)
    args = (nx[rows], nz[cols], symmetric, X[rows], Z[cols])
    with np.errstate(over="ignore"):
        G = X[rows] @ Z[cols].T
    twin = _kernels._arc_factor_numpy(G.copy(), *args)
    kernel = _kernels._arc_factor_call(0, G.copy(), *args)
    finite = np.isfinite(kernel)
    np.testing.assert_array_equal(np.isfinite(twin), finite)
    np.testing.assert_allclose(twin[finite], kernel[finite], rtol=1e-14, atol=0)
    assert not twin[2].any()  # the zero row (X[5])


@pytest.mark.parametrize("lam", [1e-2, "kare"])
def test_ntk_regressor_makes_one_eigendecomposition(lam, monkeypatch):
    """The ridge's eigendecomposition serves KARE too (kare_ and the lam search): a
    second n x n one took half of a 3000-row fit. kare_ stays fixntk.kare's value on
    the same kernel (unit weights, no intercept: the kernel is the NTK of [x, s])."""
    import scipy.linalg

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(80)
    calls, real, real_scipy = [], np.linalg.eigh, scipy.linalg.eigh

    def counted(a, *args, **kwargs):
        calls.append(np.shape(a))
        return real(a, *args, **kwargs)

    def refused(*args, **kwargs):  # holds the GIL: Ctrl-C would wait for it
        raise AssertionError("scipy.linalg.eigh called")

    monkeypatch.setattr(np.linalg, "eigh", counted)
    monkeypatch.setattr(scipy.linalg, "eigh", refused)
    est = fixntk.NTKRegressor(lam=lam, fit_intercept=False).fit(X, y)
    assert calls == [(80, 80)]
    monkeypatch.setattr(np.linalg, "eigh", real)
    monkeypatch.setattr(scipy.linalg, "eigh", real_scipy)
    Xt = np.hstack([X, np.full((80, 1), est.bias_scale_)])
    expected = fixntk.kare(fixntk.ntk_kernel(Xt), y, est.lam_)
    assert est.kare_ == pytest.approx(expected, rel=1e-9)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")
def test_ntk_memory_check_counts_the_fit_and_the_process_limit():
    """NTKRegressor's memory check assumed 3 n x n matrices where its fit holds
    about 10 (tracemalloc: 9.6 at 3000 rows), and read the machine's memory, not the
    process's limit (ulimit -v): a tester's 15000 rows under an 8 GB limit ended in
    NumPy's MemoryError after half a minute. Under a limit that holds 3 matrices and
    not 10, the fit is now refused at once, naming the estimators that fit."""
    code = textwrap.dedent(
        """
        import resource, numpy as np, psutil, fixntk
        n = 5000
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, 3))
        y = X[:, 0]
        room = 5 * 8 * n * n  # more than 3 n x n matrices, fewer than 10
        vms = psutil.Process().memory_info().vms
        resource.setrlimit(resource.RLIMIT_AS, (vms + room, resource.RLIM_INFINITY))
        try:
            fixntk.NTKRegressor(lam=0.01).fit(X, y)
        except MemoryError as exc:
            print("refused:", exc)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    refused = "refused: NTKRegressor (kernel ridge on the n x n NTK) does not fit in"
    assert refused + " memory: it needs 12" in proc.stdout, proc.stdout + proc.stderr
    assert "gated ReLU estimators" in proc.stdout


def test_leave_one_out_with_many_outputs_keeps_memory_to_a_kernel():
    """The leave-one-out search formed an n x (n_lams * outputs) residual matrix:
    3000 outputs on 1500 rows took 2.7 GB where the fit otherwise takes 0.7, and 8000
    outputs ran out of memory (a tester). It now works in blocks of outputs: the
    same scores, and the search's peak memory stays within a few n x n matrices."""
    import tracemalloc

    from fixntk._kare import _Spectrum

    rng = np.random.default_rng(0)
    n, c = 60, 400
    K = fixntk.ntk_kernel(rng.standard_normal((n, 3)))
    Y = rng.standard_normal((n, c))
    spectrum = _Spectrum(K, Y)
    lams = np.logspace(-3, 0, 30)
    tracemalloc.start()
    loo = spectrum.leave_one_out(lams)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * (8 * n * n + 8 * n * lams.size)  # 30 x 400 x 60 was 5.8 MB
    for j in (0, 17, 29):  # each lam alone (no blocks across lams)
        assert loo[j] == pytest.approx(spectrum.leave_one_out(lams[j]), rel=1e-12)
    # against the definition: residuals over 1 - leverage, from the kernel ridge
    lam = lams[17]
    S = K @ np.linalg.inv(K + n * lam * np.eye(n))
    R = (Y - S @ Y) / (1 - np.diag(S))[:, None]
    assert loo[17] == pytest.approx((R**2).sum(axis=1).mean(), rel=1e-8)


def test_mkl_kernel_overflow_names_the_weights():
    """Tester AE: weights of 1e307 on ordinary X overflowed and the error said
    'x^T z overflows; rescale X'."""
    X = np.random.default_rng(9).standard_normal((6, 2))
    arr = fixntk.sample_arrangement(X, n_gates=20, seed=0)
    with pytest.raises(ValueError, match=r"eta_i x\^T z overflows\); rescale X or eta"):
        fixntk.mkl_kernel(X, arr, np.full(arr.p, 1e307))
    with pytest.raises(ValueError, match=r"\(x\^T z overflows\); rescale X$"):
        fixntk.ntk_kernel(X * 1e160)


def test_ntk_kernel_peak_memory_near_its_result():
    """The kernel is computed, scaled and checked in blocks of rows: whole-kernel
    temporaries (the finiteness checks, blocks of most of K at small d) made the
    peak twice the result (n = 10000: 1568 MiB for 763 MiB; tester CB). And a kernel
    that cannot fit is refused before the work, naming its size."""
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((6000, 5))
    fixntk.ntk_kernel(X[:10])
    tracemalloc.start()
    try:
        K = fixntk.ntk_kernel(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * K.nbytes
    with pytest.raises(MemoryError, match=r"ntk_kernel's 10000000 x 10000000 kernel"):
        fixntk.ntk_kernel(np.ones((10**7, 1)))
