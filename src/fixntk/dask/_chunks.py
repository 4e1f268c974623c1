"""Row chunks: Dask inputs as lists of per-chunk tasks, the work one pass does on one
chunk (run on the workers), and passes summed over a fixed tree.

Every pass is one task per row chunk, each calling the compiled core on its chunk, and
a balanced binary tree of additions over the chunks in their order, so the totals (and
the solver's path) do not depend on which worker ran what, nor on a chunk computed twice
after a worker was lost. Tasks run BLAS and the core's OpenMP on one thread: Dask runs
the chunks in parallel.
"""

import numbers

import dask
import dask.array as da
import numpy as np
import pandas as pd

from .._cpu import core as _core
from .._estimators import _pow2_column_units
from .._gram_ws import gradient_sums
from .._threads import blas_threads, one_thread

__all__ = [
    "ChunkData",
    "compute",
    "persist",
    "as_rows",
    "as_row_vector",
    "chunk_tasks",
    "tree_sum",
    "tree_reduce",
    "run",
]


# --------------------------------------------------------------------------- inputs


def _frame_to_array(A, name, lengths=True):
    """A Dask DataFrame or Series as a Dask array, with known chunk sizes (unknown
    with ``lengths=False``: nothing is computed). A frame whose columns are all
    numbers or booleans but of several dtypes (float and bool, pandas' nullable
    Float64 / Int64: missing values become NaN), or a Series of such an extension
    dtype (Int64, Float64, boolean, double[pyarrow]), is cast to float64 first, as
    pandas' own ``to_numpy`` would give objects."""
    if hasattr(A, "to_dask_array") and not isinstance(A, da.Array):
        dtypes = list(A.dtypes) if A.ndim == 2 else [A.dtype]
        numeric = all(
            pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
            for t in dtypes
        )
        plain = all(isinstance(t, np.dtype) for t in dtypes) and len(set(dtypes)) <= 1
        if dtypes and numeric and not plain:
            A = A.astype(np.float64)
        A = A.to_dask_array(lengths=True if lengths else None)
    if not isinstance(A, da.Array):
        raise TypeError(f"{name} must be a Dask array or DataFrame; got {type(A)}")
    if not isinstance(A._meta, np.ndarray):
        # scipy.sparse (or other) chunks failed on the workers with NumPy's "setting
        # an array element with a sequence" (tester DH)
        raise TypeError(
            f"{name}'s chunks are {type(A._meta).__module__}.{type(A._meta).__name__}"
            ", not NumPy arrays; fixntk needs dense data (gated ReLU masks make every "
            f"row dense): for sparse chunks use {name}.map_blocks(lambda b: "
            f"b.toarray(), dtype={name}.dtype, meta=numpy.empty((0, 0)))"
        )
    return A


def _numeric_frame(A, name):
    """Refuse a Dask DataFrame or Series with columns that are not numbers or
    booleans (categories, strings, dates), naming them, before anything is computed
    (as an array they became one column of objects: "dtype object")."""
    if isinstance(A, da.Array) or not hasattr(A, "dtypes"):
        return
    items = list(A.dtypes.items()) if A.ndim == 2 else [(A.name, A.dtype)]
    bad = [
        (column, dtype)
        for column, dtype in items
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        )
    ]
    if A.ndim == 1 and bad:
        raise ValueError(
            f"{name} is a Series of dtype {bad[0][1]}, not numbers: it must hold real "
            "numbers"
        )
    if bad:
        listed = ", ".join(f"{column!r} ({dtype})" for column, dtype in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"{name} has columns that are not numbers: {listed}{more}. fixntk needs "
            "real numbers: encode categories and strings first (one-hot or ordinal "
            "codes, e.g. dd.get_dummies after categorize()) or drop those columns"
        )


def _known_chunks(A):
    """A with its row chunk sizes known and its empty row chunks (a filtered frame's
    empty partitions) merged away."""
    if any(np.isnan(c) for c in A.chunks[0]):
        A = A.compute_chunk_sizes()
    rows = tuple(c for c in A.chunks[0] if c)
    if rows and len(rows) < len(A.chunks[0]):
        A = A.rechunk({0: rows})
    return A


def as_rows(X, name="X", lengths=True):
    """X as a 2-d float64 Dask array chunked by rows only (all columns in a chunk).

    A chunking across the columns is merged into one column chunk (a rechunk that moves
    nothing between row chunks); unknown chunk sizes are computed (``lengths``; left
    unknown otherwise, with any empty chunks: nothing is computed, for predictions).
    """
    _numeric_frame(X, name)
    X = _frame_to_array(X, name, lengths)
    if lengths:
        X = _known_chunks(X)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-dimensional (n_samples, n_features); got shape {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}; need n >= 1 and d >= 1")
    if X.dtype.kind not in "biuf":
        raise ValueError(not_real(name, X.dtype, "be an array of"))
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X.astype(np.float64)


def not_real(name, dtype, verb="hold"):
    """The error for an array whose dtype is not that of real numbers. An object
    array of numbers is refused too (its values are not read here, to check them, as
    in memory; tester BI): the message says how to convert it."""
    hint = ""
    if np.dtype(dtype).kind == "O":
        hint = (
            " (if it holds numbers, convert it first: .astype(float); text or "
            "categories need encoding)"
        )
    return f"{name} has dtype {dtype}; it must {verb} real numbers{hint}"


def as_row_vector(a, rows, name, columns=True):
    """A 1-d or (with ``columns``) 2-d array-like (NumPy or Dask) as a Dask array with
    the row chunks ``rows`` (a tuple of chunk sizes), float64."""
    if dask.is_dask_collection(a):
        _numeric_frame(a, name)
        a = _known_chunks(_frame_to_array(a, name))
    else:
        a = np.asarray(a)
    n = sum(rows)
    if a.ndim not in ((1, 2) if columns else (1,)) or a.shape[0] != n:
        shapes = f"({n},) or ({n}, c)" if columns else f"({n},)"
        each = "row" if columns else "weight"
        raise ValueError(
            f"{name} must have shape {shapes}, one {each} per row of X; got shape "
            f"{a.shape}"
        )
    if a.dtype.kind not in "biuf":
        raise ValueError(not_real(name, a.dtype))
    if isinstance(a, da.Array):
        a = a.rechunk((rows,) + ((-1,) if a.ndim == 2 else ()))
    else:
        a = da.from_array(a, chunks=(rows,) + a.shape[1:])
    return a.astype(np.float64)


def chunk_tasks(A):
    """The row chunks of a Dask array (one column chunk) as a list of Delayed."""
    parts = A.to_delayed()
    return list(parts.ravel()) if A.ndim == 1 else list(parts[:, 0])


def is_number(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


# --------------------------------------------------------------------------- trees


def _add(a, b):
    """Sum of two partial results: tuples summed entry by entry (None stays None)."""
    if a is None:
        return b
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b


def tree_reduce(parts, combine):
    """``combine`` over Delayed parts by a balanced binary tree in chunk order."""
    parts = list(parts)
    while len(parts) > 1:
        nxt = [
            dask.delayed(combine, pure=True)(parts[i], parts[i + 1])
            for i in range(0, len(parts) - 1, 2)
        ]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def tree_sum(parts):
    return tree_reduce(parts, _add)


def compute(*args, **kwargs):
    """``dask.compute`` with BLAS held at one thread by the calling thread too.

    The chunks' tasks limit BLAS to one thread themselves (:func:`one_thread`), but
    BLAS's count is the process's: the tasks on the worker threads of the threaded
    scheduler, or of an in-process cluster, ran their products on every BLAS thread
    (threadpoolctl 3.8 ignored their limits once another thread had set a count; 25
    times slower on one core, tester CP). Held by the caller for the whole
    computation, the one limit covers every task run in this process, with no set and
    restore per task nor a gap between tasks at the user's count.
    """
    with blas_threads(1):
        return dask.compute(*args, **kwargs)


def persist(*args, **kwargs):
    """``dask.persist`` with BLAS held at one thread by the calling thread too (see
    :func:`compute`)."""
    with blas_threads(1):
        return dask.persist(*args, **kwargs)


def run(total):
    """Compute one Delayed total on the active scheduler."""
    (value,) = compute(total)
    return value


# --------------------------------------------------------------------------- columns


def column_stats(X):
    """A chunk's column statistics, to be merged by :func:`merge_column_stats`:
    ``(n_k, min, max, unit, mean, m2)`` with ``mean`` and ``m2`` (the sum of squared
    deviations from the mean) of ``X / unit``, ``unit`` the power of 2 at or above
    each column's largest magnitude in the chunk (exact, and no square overflows or
    underflows, whatever the other columns' scales). Not finite when X holds NaN or
    infinity."""
    X = np.asarray(X, dtype=np.float64)
    unit = _pow2_column_units(X)
    # not finite with NaN or infinity: refused by the caller, without NumPy's
    # warnings first (a Dask y holding inf printed them before its refusal; CQ)
    with np.errstate(invalid="ignore", over="ignore"):
        Xu = X / unit
        mean = Xu.mean(axis=0)
        m2 = ((Xu - mean) ** 2).sum(axis=0)
    return X.shape[0], X.min(axis=0), X.max(axis=0), unit, mean, m2


def first_row(Y, s=None):
    """A chunk's first row of weight ``s`` > 0 (all rows count without weights), or
    None where it has none: the targets' shift."""
    if s is None:
        return np.asarray(Y)[:1]
    rows = np.flatnonzero(np.asarray(s) > 0)
    return np.asarray(Y)[rows[:1]] if rows.size else None


def row_sample(X, k):
    """At most ``k`` evenly spaced rows of a chunk (float64)."""
    X = np.asarray(X, dtype=np.float64)
    return X[:: max(1, -(-X.shape[0] // k))]


def merge_column_stats(a, b):
    """The statistics of two chunks' rows together (Chan, Golub and LeVeque's
    update of the mean and m2, in the larger of the two units)."""
    n_a, lo_a, hi_a, u_a, mean_a, m2_a = a
    n_b, lo_b, hi_b, u_b, mean_b, m2_b = b
    unit = np.maximum(u_a, u_b)
    ra, rb = u_a / unit, u_b / unit  # powers of 2: exact
    mean_a, mean_b = mean_a * ra, mean_b * rb
    n = n_a + n_b
    with np.errstate(invalid="ignore", over="ignore"):  # as column_stats
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b / n)
        m2 = m2_a * ra * ra + m2_b * rb * rb + delta * delta * (n_a * n_b / n)
    return n, np.minimum(lo_a, lo_b), np.maximum(hi_a, hi_b), unit, mean, m2


# --------------------------------------------------------------------------- chunk data


class ChunkData:
    """What a row chunk keeps on its worker: X (n_k, d) and the targets Y (n_k, c) in
    the solver's scaled space, C-contiguous float64."""

    __slots__ = ("X", "Y")

    def __init__(self, X, Y):
        self.X = X
        self.Y = Y

    def __sizeof__(self):  # Dask's memory accounting
        return object.__sizeof__(self) + self.X.nbytes + self.Y.nbytes


def raw_stats(X, Y, s, shift=0.0):
    """Checks and scales of a raw chunk: (not_finite, xmax, ymax, smax, smin, spos,
    swsum, ymean) with ``not_finite`` the names among X, y and sample_weight holding
    NaN or infinity, ``spos`` the smallest positive weight (inf: none), ``swsum =
    sum(s / smax_chunk)`` and ``ymean`` the chunk's weighted mean of Y (computed
    without overflow: each term is at most max |Y|). A chunk whose Y is all zero has
    mean 0 and still its weight ``swsum``: the mean of all rows counts it. Y is taken
    as ``Y - shift`` (:class:`fixntk.dask._solver._DaskProblem`)."""
    Y = Y.reshape(Y.shape[0], -1) - shift
    if s is None:
        s = np.ones(X.shape[0])
    not_finite = tuple(
        name
        for name, a in (("X", X), ("y", Y), ("sample_weight", s))
        if not np.isfinite(a).all()
    )
    finite = not not_finite
    # the scales of the rows that carry weight (build_data zeroes the others: a row
    # of weight 0 at 1e170 would set sx and send every other row to round-off)
    held = s > 0
    xmax = _abs_max(X[held]) if finite else np.nan
    ymax = _abs_max(Y[held]) if finite else np.nan
    smax, smin = (float(s.max()), float(s.min())) if finite else (np.nan, np.nan)
    # the lightest positive weight: the span the in-memory solver refuses
    spos = float(s[held].min()) if finite and held.any() else np.inf
    swsum, ymean = 0.0, np.zeros(Y.shape[1])
    if finite and smax > 0:
        w = s / smax
        swsum = float(w.sum())
        if ymax > 0:
            Y = np.where(held[:, None], Y, 0.0)  # no inf from rows of weight 0
            ymean = (w[:, None] * (Y / ymax)).sum(axis=0) / swsum * ymax
    return not_finite, xmax, ymax, smax, smin, spos, swsum, ymean


def _abs_max(A):
    return float(np.abs(A).max()) if A.size else 0.0


def build_data(X, Y, sx, sy, s=None, shift=0.0):
    """The chunk in the problem's units (``(Y - shift) / sy``), its rows of weight 0
    (if ``s``) zeroed."""
    Y = Y.reshape(Y.shape[0], -1) - shift
    if s is not None and not (s > 0).all():
        X, Y = np.where(s[:, None] > 0, X, 0.0), np.where(s[:, None] > 0, Y, 0.0)
    X = np.ascontiguousarray(X / sx if sx > 0 else X, dtype=np.float64)
    Y = np.ascontiguousarray(Y / sy if sy > 0 else Y, dtype=np.float64)
    return ChunkData(X, Y)


def build_weights(s, smax, keep=None):
    s = np.ascontiguousarray(s / smax, dtype=np.float64)
    return s if keep is None else s * keep


def _row_rng(seed, position):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(position,)))


def holdout_rows(n_rows, seed, position, fraction):
    """1.0 for the validation rows of a chunk (each row with probability
    ``fraction``, from the chunk's own generator), else 0.0."""
    return (_row_rng(seed, position).random(n_rows) < fraction).astype(np.float64)


def fold_rows(n_rows, seed, position, n_folds, fold):
    """1.0 for the rows of a chunk in fold ``fold`` of ``n_folds`` (each row's fold
    uniform, from the chunk's own generator), else 0.0."""
    folds = _row_rng(seed, position).integers(0, n_folds, n_rows)
    return (folds == fold).astype(np.float64)


# --------------------------------------------------------------------------- passes


def gradient_chunk(data, packed, s, score, W, active, b, ybar, with_u, level=False):
    """One chunk's share of a full gradient pass at W
    (:func:`fixntk._gram_ws.gradient_sums` on its rows)."""
    with one_thread():
        return gradient_sums(
            data.X, data.Y, packed, s, score, W, active, b, ybar, with_u, level
        )


def gram_chunk(data, packed, s, old, fresh, centre=None):
    """One chunk's share of the new rows and columns of a working set's Gram:
    ``[Z_old^T S Z_new; Z_new^T S Z_new]`` (unnormalised; S = diag(s); the rows
    centred by ``centre``, (len(old) + len(fresh), d), where given)."""
    with one_thread():
        return _core.masked_gram_extend(data.X, packed, old, fresh, s, centre)


def predict_chunk(X, packed, W, active):
    """``sum_{i in active} D_i X W_i`` on a chunk, (n_k, c)."""
    with one_thread():
        if not active.size:
            return np.zeros((X.shape[0], W.shape[2]))
        return _core.masked_predict(X, np.ascontiguousarray(packed[active]), W)
