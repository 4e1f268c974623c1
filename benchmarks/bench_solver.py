"""asv benchmarks of the group-lasso solver: time, peak memory and the gap reached.

The planted problem of issue 5 (``problems.planted_problem``) over n, p, d and
lam = lam_ratio * lam_max, solved to a certified relative duality gap of 1e-6; the wide
problems of issue 16 (n = 20000, p = 200, d = 64, 256, 784; ``WideSolve``, minutes at
d = 784), the path problem of issue 16 (S1, 50 lams down to 1e-2 and 1e-3 lam_max,
every point to 1e-6; ``Path``) and the blocks' eigendecomposition (``SymEig``).

The default grid of ``Solve`` (n in {2000, 5000}, p in {250, 500}, d = 20, lam = 0.1
lam_max) solves in seconds per point; ``FIXNTK_BENCH_FULL=1`` selects the full grid of
issue 5 (n in {5e3, 2e4, 1e5}, p in {500, 1000, 2000}, d in {20, 50}, lam in {0.1, 0.01}
lam_max), which takes hours. ``WideSolve`` and ``Path`` run in every asv run,
``--quick`` or not: W784 takes about 100 s per solve, and its time_, peakmem_ and
track_ benchmarks each solve again. Skip them with ``-b '^(?!.*(WideSolve|Path))'``::

    asv run --quick --python=same -b '^(?!.*(WideSolve|Path))'  # a check, saves nothing
    asv run --python=same --set-commit-hash $(git rev-parse HEAD)   # records results

(asv saves results for ``--python=same`` only with ``--set-commit-hash``; ``--quick``
times each benchmark once, too few samples to record.)
"""

import os

import numpy as np

import fixntk

if __name__ == "__main__" or not __package__:  # run as a script, not by asv
    raise SystemExit(
        f"{__file__} is an asv suite, not a script: run it with asv from the "
        "repository root (asv.conf.json), e.g. asv run --quick --python=same -b "
        "'^bench_solver'; the scripts beside it (compare_peers.py, "
        "solve_time.py, ...) run directly"
    )

from .problems import (
    LAM_RATIO,
    PATH_EPS,
    PATH_LAMS,
    PATH_PROBLEM,
    PROBLEMS,
    TALL,
    TALL_LAM_RATIOS,
    WIDE,
    exact_arrangement,
    planted_data,
)

FULL = os.environ.get("FIXNTK_BENCH_FULL") == "1"
TOL = 1e-6

if FULL:
    GRID = {
        "n": [5_000, 20_000, 100_000],
        "p": [500, 1000, 2000],
        "d": [20, 50],
        "lam_ratio": [0.1, 0.01],
    }
else:
    # lam = 0.01 lam_max costs 10-30x more epochs: left to the full grid.
    GRID = {"n": [2_000, 5_000], "p": [250, 500], "d": [20], "lam_ratio": [0.1]}


def _key(n, d, p):
    return f"n{n}_d{d}_p{p}"


def write_problems(grid, seed=0):
    """Write each (n, d, p) problem of the grid to ./<key>.npz; return {key: lam_max}.

    Run by setup_cache: files in its working directory stay there for the benchmarks,
    and each benchmark process then loads only its own problem (so peakmem_* counts
    that problem's data, not the whole grid's).
    """
    lam_max = {}
    for n in grid["n"]:
        for d in grid["d"]:
            X, y = planted_data(n, d, seed=seed)
            for p in grid["p"]:
                arr = exact_arrangement(X, p, seed=seed + 1)
                key = _key(n, d, p)
                np.savez(f"{key}.npz", X=X, y=y, words=arr.words, gates=arr.gates)
                lam_max[key] = fixntk.lambda_max(X, y, arr)
    return lam_max


def _compiled_core():
    """The compiled core: ``fixntk._cpu.core`` (the build this CPU runs), or
    ``fixntk._core`` in commits before the portable builds (asv runs old commits)."""
    try:
        from fixntk._cpu import core
    except ImportError:
        from fixntk import _core as core
    return core


def load_problem(key):
    data = np.load(f"{key}.npz")
    X, y = data["X"], data["y"]
    arr = fixntk.Arrangement(data["words"], X.shape[0], gates=data["gates"])
    return X, y, arr


def warm_up_solver():
    """One tiny solve: loads the extension and starts the OpenMP thread pool."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 4))
    y = rng.standard_normal(100)
    arr = fixntk.sample_arrangement(X, 10, seed=0)
    fixntk.solve(X, y, arr, 0.5 * fixntk.lambda_max(X, y, arr))


class _GridProblems:
    """The problems of the grid, written once by setup_cache and shared by the
    subclasses (asv keys a setup_cache by where it is defined)."""

    timeout = 3600 if FULL else 600

    def setup_cache(self):
        return write_problems(GRID)


class _SolveTimings:
    """time_, peakmem_ and track_ benchmarks of one solve of (self.X, self.y,
    self.arr, self.lam) to TOL; subclasses set them in setup."""

    def _solve(self):
        return fixntk.solve(self.X, self.y, self.arr, self.lam, tol=TOL, max_iter=10**7)

    def time_solve(self, *args):
        self._solve()

    def peakmem_solve(self, *args):
        self._solve()

    def track_gap(self, *args):
        return self._solve().relative_gap

    track_gap.unit = "relative gap"

    def track_epochs(self, *args):
        return self._solve().n_iter

    track_epochs.unit = "epochs"


class Solve(_SolveTimings, _GridProblems):
    """fixntk.solve to a certified relative duality gap of 1e-6."""

    params = (GRID["n"], GRID["p"], GRID["d"], GRID["lam_ratio"])
    param_names = ["n", "p", "d", "lam_ratio"]
    # A solve takes seconds: one call per sample, a few samples.
    number = 1
    repeat = (1, 3, 60.0)
    rounds = 1

    def setup(self, lam_max, n, p, d, lam_ratio):
        key = _key(n, d, p)
        self.X, self.y, self.arr = load_problem(key)
        self.lam = lam_ratio * lam_max[key]
        warm_up_solver()


class MaskedGradient(_GridProblems):
    """The floor of issue 5: one full masked gradient X^T (M * R), two ways.

    ``time_blas``: one float64 BLAS product X.T @ (M * R) on the dense 0/1 mask matrix;
    ``time_core``: fixntk's compiled masked gradient on packed masks (all groups).
    """

    params = (GRID["n"], GRID["p"], GRID["d"])
    param_names = ["n", "p", "d"]

    def setup(self, lam_max, n, p, d):
        self.X, y, self.arr = load_problem(_key(n, d, p))
        self.R = np.ascontiguousarray(y[:, None])
        self.MR = self.arr.masks.astype(np.float64) * self.R

    def time_blas(self, *args):
        self.X.T @ self.MR

    def time_core(self, *args):
        _compiled_core().masked_gradients(self.X, self.arr.packed, self.R)


class MaskedGradientWide:
    """The certificate's masked gradients X^T D_i R of every group on rows wider than
    the padded kernels (3000 x 785, 100 groups), for one output and for ten (a
    ten-class multinomial's): the gathered row loops of the wide block steps
    (``gradient_rows``, ``gradient_tile`` in ``csrc/masked_ops.hpp``)."""

    params = [1, 10]
    param_names = ["outputs"]

    def setup(self, c):
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((3000, 785))
        self.R = rng.standard_normal((3000, c))
        self.arr = fixntk.sample_arrangement(self.X, 100, seed=0)

    def time_core(self, c):
        _compiled_core().masked_gradients(self.X, self.arr.packed, self.R)


def _write_named(names, seed=0):
    """Write the named problems (problems.PROBLEMS) to ./<name>.npz; {name: lam_max}."""
    lam_max = {}
    for name in names:
        size = PROBLEMS[name]
        X, y = planted_data(size["n"], size["d"], seed=seed)
        arr = exact_arrangement(X, size["p"], seed=seed + 1)
        np.savez(f"{name}.npz", X=X, y=y, words=arr.words, gates=arr.gates)
        lam_max[name] = fixntk.lambda_max(X, y, arr)
    return lam_max


class WideSolve(_SolveTimings):
    """fixntk.solve on the wide problems (n = 20000, p = 200, lam = 0.1 lam_max) to a
    certified relative gap of 1e-6: d = 64, 256, 784 (issue 16: within 60 full masked
    gradient passes at d = 784, time growing no faster than n d p); and N784, d = 784
    on 2000 rows, where the solver takes proximal block steps."""

    params = list(WIDE)
    param_names = ["problem"]
    timeout = 3600
    number = 1
    repeat = (1, 2, 600.0)
    rounds = 1

    def setup_cache(self):
        return _write_named(WIDE)

    def setup(self, lam_max, name):
        self.X, self.y, self.arr = load_problem(name)
        self.lam = LAM_RATIO * lam_max[name]
        warm_up_solver()


class TallSolve(WideSolve):
    """fixntk.solve on T200k (200000 rows, d = 10, p = 200: 100 rows per masked
    column) at 0.1, 0.01 and 0.001 lam_max to a certified relative gap of 1e-6: the
    descent over the rows hands over to the working-set Gram route
    (fixntk._gram_ws)."""

    params = list(TALL_LAM_RATIOS)
    param_names = ["lam_ratio"]

    def setup_cache(self):
        return _write_named(TALL)

    def setup(self, lam_max, ratio):
        self.X, self.y, self.arr = load_problem(TALL[0])
        self.lam = ratio * lam_max[TALL[0]]
        warm_up_solver()


class Path:
    """fixntk.solve_path on S1: 50 lams from lam_max down to eps * lam_max, every
    point to a certified relative gap of 1e-6 (issue 16: the path to 1e-2 lam_max
    within 10 single S1 solves; ``track_single_solves`` is that ratio)."""

    params = list(PATH_EPS)
    param_names = ["eps"]
    timeout = 1800
    number = 1
    repeat = (1, 3, 300.0)
    rounds = 1

    def setup_cache(self):
        return _write_named([PATH_PROBLEM])

    def setup(self, lam_max, eps):
        self.X, self.y, self.arr = load_problem(PATH_PROBLEM)
        lmax = lam_max[PATH_PROBLEM]
        self.lam = LAM_RATIO * lmax
        self.lams = lmax * np.logspace(0, np.log10(eps), PATH_LAMS)
        warm_up_solver()

    def _path(self):
        return fixntk.solve_path(
            self.X, self.y, self.arr, lams=self.lams, tol=TOL, max_iter=10**7
        )

    def time_path(self, *args):
        self._path()

    def track_points_at_tol(self, *args):
        path = self._path()
        f0 = 0.5 * float(self.y @ self.y) / self.y.size
        return int(np.count_nonzero(path.gaps <= TOL * f0))

    track_points_at_tol.unit = "points"

    def track_single_solves(self, *args):
        import time

        t = time.perf_counter()
        fixntk.solve(self.X, self.y, self.arr, self.lam, tol=TOL, max_iter=10**7)
        single = time.perf_counter() - t
        t = time.perf_counter()
        self._path()
        return (time.perf_counter() - t) / single

    track_single_solves.unit = "single solves"


class SymEig:
    """The eigendecomposition of one block Gram X^T D_i X / n (LAPACK dsyevd through
    SciPy), as the solver does it once per group of its working set."""

    params = [64, 256, 784]
    param_names = ["d"]

    def setup(self, d):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((4 * d, d))
        self.A = X.T @ X / X.shape[0]
        _compiled_core().sym_eig(self.A[:4, :4])

    def time_sym_eig(self, d):
        _compiled_core().sym_eig(self.A)
