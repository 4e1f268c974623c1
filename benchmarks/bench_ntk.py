"""asv benchmarks of the NTK side: ntk_weights, ntk_kernel, mkl_kernel, irls.

``NTKWeightsBaseline`` holds the two references of issue 5's target for
``ntk_weights``: the plain NumPy Monte Carlo estimate of the NTK weights and the full
product ``X @ H`` of the data with every direction. fixntk does not need all of that
product: it screens the directions on the signs of 64 rows first and forms the full
mask only for the few that could be in a known cell.
"""

import os
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import fixntk

if __name__ == "__main__" or not __package__:  # run as a script, not by asv
    raise SystemExit(
        f"{__file__} is an asv suite, not a script: run it with asv from the "
        "repository root (asv.conf.json), e.g. asv run --quick --python=same -b "
        "'^bench_ntk'; the scripts beside it (compare_peers.py, "
        "solve_time.py, ...) run directly"
    )

from .problems import planted_problem

FULL = os.environ.get("FIXNTK_BENCH_FULL") == "1"
CHUNK = 8192  # directions per block: X @ H is computed in (n, CHUNK) pieces


def ntk_weights_numpy(X, arr, n_samples, seed=0, chunk=CHUNK):
    """Plain NumPy Monte Carlo NTK weights: the share of Gaussian directions h whose
    mask 1[X h >= 0] is each of the arrangement's masks (the baseline of issue 5)."""
    n, d = X.shape
    nbytes = arr.packed.shape[1]
    index = {arr.packed[i].tobytes(): i for i in range(arr.p)}
    counts = np.zeros(arr.p)
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        S = X @ rng.standard_normal((d, b)) >= 0
        packed = np.packbits(S, axis=0, bitorder="little").T  # (b, ceil(n / 8))
        rows = np.zeros((b, nbytes), np.uint8)
        rows[:, : packed.shape[1]] = packed
        uniq, hits = np.unique(rows.view(f"V{nbytes}").ravel(), return_counts=True)
        for key, k in zip(uniq, hits):
            i = index.get(key.tobytes())
            if i is not None:
                counts[i] += k
        done += b
    return counts / n_samples


def matmul_floor(X, n_samples, seed=0, chunk=CHUNK):
    """The product X @ H with H (d, n_samples) Gaussian, in blocks of chunk columns."""
    n, d = X.shape
    H = np.random.default_rng(seed).standard_normal((d, min(chunk, n_samples)))
    done = 0
    while done < n_samples:
        b = min(chunk, n_samples - done)
        X @ H[:, :b]
        done += b


def _ntk_data(n=1000, d=20, n_gates=2000, seed=0):
    X, y, arr, lam = planted_problem(n, d, n_gates, seed=seed)
    return {"X": X, "y": y, "words": arr.words, "gates": arr.gates, "lam": lam}


def _arrangement(data):
    return fixntk.Arrangement(data["words"], data["X"].shape[0], gates=data["gates"])


N_SAMPLES = [10**4, 10**5, 10**6]


class _NTKWeightsData:
    """The n = 1000, d = 20 problem of the ntk_weights target, shared by subclasses."""

    params = N_SAMPLES
    param_names = ["n_samples"]
    timeout = 600

    def setup_cache(self):
        return _ntk_data()

    def setup(self, data, n_samples):
        self.X, self.arr = data["X"], _arrangement(data)


class NTKWeights(_NTKWeightsData):
    """fixntk.ntk_weights on n = 1000, d = 20 (issue 5: within 3x of X @ H at 1e6)."""

    def setup(self, data, n_samples):
        super().setup(data, n_samples)
        self.ntk_weights = fixntk.ntk_weights
        self.ntk_weights(
            self.X[:64], fixntk.sample_arrangement(self.X[:64], 8), n_samples=64, seed=0
        )  # compile / load the Numba kernels

    def time_ntk_weights(self, data, n_samples):
        self.ntk_weights(self.X, self.arr, n_samples=n_samples, seed=0)

    def peakmem_ntk_weights(self, data, n_samples):
        self.ntk_weights(self.X, self.arr, n_samples=n_samples, seed=0)

    def track_missing_mass(self, data, n_samples):
        return float(
            self.ntk_weights(self.X, self.arr, n_samples=n_samples, seed=0).missing_mass
        )

    track_missing_mass.unit = "probability"


class NTKWeightsCaptured(NTKWeights):
    """fixntk.ntk_weights where almost every direction lands in a known cell (n = 1000,
    d = 2, 1000 of the plane's 2n cells: missing mass 0.24), so most directions
    form their full masks: the path that d = 20 (missing mass 1.0, every direction
    rejected by the 64-row screen) never times."""

    def setup_cache(self):
        return _ntk_data(d=2, n_gates=1000)


class NTKWeightsBaseline(_NTKWeightsData):
    """The references for ntk_weights: plain NumPy, and the product X @ H alone."""

    def time_numpy_baseline(self, data, n_samples):
        ntk_weights_numpy(self.X, self.arr, n_samples)

    def time_matmul_floor(self, data, n_samples):
        matmul_floor(self.X, n_samples)


KERNEL_N = [1000, 2000, 5000] + ([10_000] if FULL else [])


class NTKKernel:
    """fixntk.ntk_kernel, the closed-form gated ReLU NTK, n x n on d = 20."""

    params = KERNEL_N
    param_names = ["n"]
    timeout = 600

    def setup(self, n):
        self.ntk_kernel = fixntk.ntk_kernel
        self.X = np.random.default_rng(0).standard_normal((n, 20))
        self.ntk_kernel(self.X[:16])

    def time_ntk_kernel(self, n):
        self.ntk_kernel(self.X)

    def peakmem_ntk_kernel(self, n):
        self.ntk_kernel(self.X)


class MKLKernel:
    """fixntk.mkl_kernel: sum_i eta_i D_i X X^T D_i, n x n on d = 20, p = 500."""

    params = KERNEL_N
    param_names = ["n"]
    timeout = 600

    def setup_cache(self):
        out = {}
        for n in KERNEL_N:
            X, _, arr, _ = planted_problem(n, 20, 500, seed=0)
            out[n] = {"X": X, "words": arr.words, "gates": arr.gates}
        return out

    def setup(self, data, n):
        self.mkl_kernel = fixntk.mkl_kernel
        self.X, self.arr = data[n]["X"], _arrangement(data[n])
        self.eta = np.random.default_rng(0).random(self.arr.p)
        small = fixntk.sample_arrangement(self.X[:16], 4)
        self.mkl_kernel(self.X[:16], small, np.ones(small.p))

    def time_mkl_kernel(self, data, n):
        self.mkl_kernel(self.X, self.arr, self.eta)

    def peakmem_mkl_kernel(self, data, n):
        self.mkl_kernel(self.X, self.arr, self.eta)


IRLS_GRID = (
    ([1000, 2000], [100, 300]) if not FULL else ([1000, 2000, 5000], [100, 300, 1000])
)


IRLS_TOL = 1e-4  # IRLS creeps at high precision: a fixed, certified target
IRLS_MAX_ITER = 500


class IRLS:
    """fixntk.irls from the NTK's weights (d = 10, lam = 0.1 lam_max) to a certified
    relative gap of 1e-4 (at most 500 reweighting steps)."""

    params = IRLS_GRID
    param_names = ["n", "p"]
    timeout = 900
    number = 1
    repeat = (1, 3, 60.0)

    def setup_cache(self):
        out = {}
        for n in IRLS_GRID[0]:
            for p in IRLS_GRID[1]:
                out[n, p] = _ntk_data(n=n, d=10, n_gates=p)
        return out

    def setup(self, data, n, p):
        self.irls = fixntk.irls
        d = data[n, p]
        self.X, self.y, self.lam, self.arr = d["X"], d["y"], d["lam"], _arrangement(d)
        X, y = self.X[:50], self.y[:50]
        small = fixntk.sample_arrangement(X, 5)
        warnings.simplefilter("ignore", ConvergenceWarning)  # track_gap reports it
        self.irls(X, y, small, 0.5 * fixntk.lambda_max(X, y, small), max_iter=2)

    def _irls(self):
        return self.irls(
            self.X, self.y, self.arr, self.lam, tol=IRLS_TOL, max_iter=IRLS_MAX_ITER
        )

    def time_irls(self, data, n, p):
        self._irls()

    def peakmem_irls(self, data, n, p):
        self._irls()

    def track_iterations(self, data, n, p):
        return self._irls().n_iter

    track_iterations.unit = "reweighting steps"

    def track_gap(self, data, n, p):
        return self._irls().relative_gap

    track_gap.unit = "relative gap"
