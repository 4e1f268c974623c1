"""Input validation shared by every public entry point: clear errors at the boundary."""

import contextlib
import contextvars
import numbers
import os
import re
import sys
import warnings

import numpy as np

__all__ = [
    "check_X",
    "check_targets",
    "check_lam",
    "check_positive",
    "check_int",
    "check_sample_weight",
]


def _reject_unsupported(a, name):
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        sp = None
    if sp is not None and sp.issparse(a):
        raise TypeError(
            f"{name} is a scipy.sparse matrix; fixntk needs dense data here "
            f"(its masks, kernels and solvers read every entry). Use {name}.toarray()."
        )
    dask = sys.modules.get("dask")  # never imported here: without it, none is one
    if dask is not None and dask.is_dask_collection(a):
        raise TypeError(
            f"{name} is a Dask collection: fixntk's in-memory functions would gather "
            "it onto this machine. Use fixntk.dask (solve, solve_path, lambda_max, "
            "sample_arrangement, ntk_weights; the estimators take Dask input "
            f"directly), or pass {name}.compute() if it fits in memory."
        )


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel():
    """The ``stacklevel`` that makes a ``warnings.warn`` in the caller of this
    function name the first frame outside fixntk and scikit-learn: the user's call
    (also through a Pipeline or a meta-estimator) at whatever depth inside fixntk the
    warning is raised. Fixed levels named fixntk's own lines wherever a public
    function or an estimator's fit reached it through more frames (the gated
    estimators' fit wraps their mixin's, the estimators call fixntk.solve)."""
    # scikit-learn's frames are skipped too: a fit inside a Pipeline named
    # sklearn/pipeline.py, and Python's default filter then showed the warning once
    # per process, at that line (a tester)
    # and contextlib's: a warning raised where a fixntk context manager is entered
    # named contextlib.py
    inside = (_PACKAGE_DIR, os.path.abspath(contextlib.__file__))
    inside += _module_paths("sklearn")
    # and where the user's call lies beyond joblib's (a grid search or
    # cross_val_score with n_jobs=1), the user's call: they named joblib/parallel.py
    # (tester CX); in a worker thread or process no frame is the user's, and the
    # first outside fixntk and scikit-learn is named as before
    tasks = inside + _module_paths(
        "joblib", "concurrent.futures", "threading", "multiprocessing"
    )
    frame, level, first = sys._getframe(1), 1, None
    while True:
        path = os.path.abspath(frame.f_code.co_filename)
        if first is None and not path.startswith(inside):
            first = level
        if not path.startswith(tasks):  # the user's
            return level
        if frame.f_back is None:  # none is: the first outside (or the last)
            return level if first is None else first
        frame, level = frame.f_back, level + 1


def _module_paths(*names):
    """The files of the modules ``names`` already imported (a package: its folder),
    as prefixes of their frames' file names."""
    paths = ()
    for name in names:
        module = sys.modules.get(name)
        where = getattr(module, "__file__", None)
        if where:
            where = os.path.abspath(where)
            if os.path.basename(where) == "__init__.py":
                where = os.path.dirname(where) + os.sep
            paths += (where,)
    return paths


def user_frame():
    """The frame that :func:`user_stacklevel` names, from the caller of this
    function: the user's call. A helper thread warns at its line with
    :func:`warn_at` (a thread has no frame of the user's to name)."""
    frame = sys._getframe(0)  # stacklevel 1: this function's frame
    for _ in range(user_stacklevel() - 1):
        frame = frame.f_back
    return frame


# fixntk's warnings silenced where it asks for it (a scoring solve's ConvergenceWarning,
# a message said once already), per thread and task: (category, compiled pattern)
_QUIET = contextvars.ContextVar("fixntk_quiet", default=())


@contextlib.contextmanager
def quiet(category=Warning, message=""):
    """Inside, fixntk's own warnings (those issued through :func:`warn`) of
    ``category`` whose text matches the regular expression ``message`` at its start
    (case-insensitive, as ``warnings.filterwarnings``) are not issued, in this thread
    or task only. ``warnings.catch_warnings`` swaps the process's filters: fits run in
    several threads at once (joblib's threading backend) lost each other's warnings,
    and one left its 'ignore' in place for the rest of the process (tester CR)."""
    token = _QUIET.set(_QUIET.get() + ((category, re.compile(message, re.I)),))
    try:
        yield
    finally:
        _QUIET.reset(token)


def warn(message, category=UserWarning, stacklevel=1):
    """``warnings.warn(message, category, stacklevel)`` from the caller's frame, unless
    :func:`quiet` silences it here."""
    text = str(message)
    for cat, pattern in _QUIET.get():
        if issubclass(category, cat) and pattern.match(text):
            return
    warnings.warn(message, category, stacklevel=stacklevel + 1)


def warn_at(message, category, frame, lineno=None):
    """``warnings.warn(message, category)`` attributed to ``frame`` at ``lineno``
    (default: its current line), as ``warnings.warn`` with a stacklevel naming that
    frame would be (the same filters, once-per-location registry and module)."""
    g = frame.f_globals
    where = dict(registry=g.setdefault("__warningregistry__", {}))
    if g.get("__name__") is not None:
        # (module=None is not "no module": exec'd code without __name__ lost the
        # warning silently; without it the module is named from the file, as warn does)
        where["module"] = g["__name__"]
    line = frame.f_lineno if lineno is None else lineno
    filename = frame.f_code.co_filename
    try:
        warnings.warn_explicit(
            message, category, filename, line, module_globals=g, **where
        )
    except ImportError:
        # a loader that cannot give the source: '__main__' of python -c, of standard
        # input and of the interactive interpreter (BuiltinImporter raised from the
        # notice's thread, and the notice was lost; tester CB). Its line is shown
        # from the file, as warnings.warn shows it there.
        warnings.warn_explicit(message, category, filename, line, **where)


def _pandas_na():
    """pandas.NA, or a sentinel no value is when pandas is not installed."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the plot/test extras
        return object()
    return pd.NA


def _as_array(a, name):
    """``a`` as a NumPy array: a pandas object through ``to_numpy``; sparse matrices
    refused with the advice to densify."""
    _reject_unsupported(a, name)
    if hasattr(a, "to_numpy") and not isinstance(a, np.ndarray):
        a = a.to_numpy()
    try:
        return np.asarray(a)
    except ValueError as exc:  # nested lists of unequal lengths (NumPy's words alone)
        raise ValueError(
            f"{name} must be a rectangular array (every row of the same length): {exc}"
        ) from None


def _as_float_array(a, name):
    arr = _as_array(a, name)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            na = _pandas_na()
            if any(v is None or v is na for v in arr.ravel()):
                raise ValueError(
                    f"{name} contains missing values (None or pandas.NA); impute "
                    "or drop them first (e.g. sklearn.impute.SimpleImputer)"
                ) from exc
            raise ValueError(
                f"{name} has dtype object with non-numeric entries; "
                "it must be an array of real numbers"
            ) from exc
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} is complex; only real-valued data is supported")
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} has dtype {arr.dtype}; it must be an array of real numbers"
        )
    return arr


def real_float64(a, name):
    """``a`` as a float64 array, or None where NumPy cannot convert it (the caller
    then refuses it in its own words). Complex numbers are refused: converted, their
    imaginary parts were dropped with only NumPy's ComplexWarning, and a duality gap
    certified ``W + 100j`` (tester DX)."""
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError):  # ragged nested lists
        return None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} is complex; only real-valued numbers are supported")
    try:
        return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError):  # text, or complex numbers in an object array
        return None


def listed(items, limit=5):
    """Items (strings) joined for a message: the first ``limit``, and how many more."""
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _is_date(column):
    """Whether a data frame's column holds dates or durations (NumPy's kinds M, m; a
    dtype without a kind, a polars frame's, is not one)."""
    return getattr(getattr(column, "dtype", None), "kind", None) in ("m", "M")


def _converts(column):
    """Whether a data frame's column converts to float64 (as NumPy converts it); dates
    and durations do not (NumPy converts them alone, but refuses them beside floats
    with a DTypePromotionError that names no column; tester BH)."""
    if _is_date(column):
        return False
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def validate_frame(estimator, X, *args, **kwargs):
    """scikit-learn's ``validate_data(estimator, X, *args, **kwargs)``; where it fails
    on a data frame with columns that do not convert to numbers (text, categories of
    text), the error names those columns and says how to encode them (NumPy's message
    named only the first string it met: "could not convert string to float: 'x'")."""
    from sklearn.utils.validation import validate_data

    if "scipy.sparse" in sys.modules and sys.modules["scipy.sparse"].issparse(X):
        # (scikit-learn's message said to call .toarray(), which a Pipeline's step
        # cannot; the sparse matrix mostly comes from a OneHotEncoder; tester BN)
        name = type(estimator).__name__
        raise TypeError(
            f"X is a scipy.sparse matrix, and {name} needs dense data (its masks or "
            "kernels read every entry of a row). In a Pipeline, make "
            "the encoder's output dense: OneHotEncoder(sparse_output=False), or "
            "ColumnTransformer(..., sparse_threshold=0); else pass X.toarray()."
        )
    pd = sys.modules.get("pandas")
    dtypes = getattr(X, "dtypes", None) if pd is not None else None
    if (
        isinstance(X, pd.DataFrame if pd is not None else ())
        and len(dtypes)
        and all(isinstance(t, pd.SparseDtype) for t in dtypes)
    ):
        # scikit-learn turns it into a scipy.sparse matrix and said to call
        # .toarray(), which a data frame has not (pd.get_dummies(..., sparse=True);
        # tester DP)
        name = type(estimator).__name__
        raise TypeError(
            f"X is a pandas DataFrame of sparse columns, and {name} needs dense data "
            "(its masks or kernels read every entry of a row): pass "
            "X.sparse.to_dense(), or make it dense where it is built (e.g. "
            "pd.get_dummies(..., sparse=False))."
        )
    try:
        out = validate_data(estimator, X, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        # a data frame's columns that do not convert (numeric categories or strings
        # of numbers do, and another fault, a NaN, a length or the columns' order,
        # was blamed on them; a tester)
        columns = getattr(X, "columns", None) if hasattr(X, "dtypes") else None
        bad = [] if columns is None else [c for c in columns if not _converts(X[c])]
        if not bad:
            raise
        dates = [c for c in bad if _is_date(X[c])]
        when = ""
        if dates:
            when = (
                f" Dates and durations ({listed(repr(str(c)) for c in dates)}) become "
                "numbers as, e.g., days since a start date, or a year and a month "
                "column."
            )
        shown = listed(repr(str(c)) for c in bad)
        raise ValueError(
            f"X has {len(bad)} column(s) that are not numeric: {shown}. Encode "
            "them first, e.g. with sklearn.preprocessing.OneHotEncoder in a "
            "sklearn.compose.ColumnTransformer (the command line `fixntk fit` "
            f"one-hot encodes text columns itself), or drop them.{when}"
        ) from exc
    if kwargs.get("reset", True):
        _warn_coded_columns(estimator, X)
    return out


# pandas.api.types.infer_dtype's names for columns of numbers alone
_NUMBERS = frozenset(
    {"integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"}
)


def _warn_coded_columns(estimator, X):
    """Warn at fit about a data frame's text or category columns that read as numbers
    ('1', '2', '3'; zip codes): they are fitted as quantities, where the same codes
    in letters are refused as not numeric (tester BH: zip codes as text fitted with
    R^2 0.145, Ridge 0.924 on one-hot codes)."""
    if not type(X).__module__.startswith("pandas"):
        return  # (a polars frame's dtypes are not pandas')
    dtypes = X.dtypes
    from pandas.api.types import infer_dtype, is_string_dtype

    def text(column, t):
        if str(t) == "category":
            return True
        if not is_string_dtype(t):
            return False
        # an object column of numbers (after .where(..., None), from JSON) is no
        # text: its floats were called 'codes' (tester EG; pandas 3 counts object
        # as a string dtype)
        if not (isinstance(t, np.dtype) and t.kind == "O"):
            return True  # a string dtype proper
        return infer_dtype(X[column], skipna=True) not in _NUMBERS

    coded = [c for c, t in zip(X.columns, dtypes) if text(c, t)]
    if not coded:
        return
    shown = listed(repr(str(c)) for c in coded)
    warn(
        f"{type(estimator).__name__}: X's text or category column(s) {shown} "
        "read as numbers and are fitted as quantities; if they are codes (labels, "
        "zip codes), one-hot encode them first (sklearn.preprocessing.OneHotEncoder)",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def check_X(X, name="X"):
    """Return X as a C-contiguous float64 (n, d) array, or raise a clear error."""
    arr = _as_float_array(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-dimensional (n_samples, n_features); "
            f"got shape {arr.shape}"
        )
    n, d = arr.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}; need n >= 1 and d >= 1")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def check_network_input(X, n_features, feature_names=None, name="network"):
    """X for a network's forward pass, checked as the estimator it came from checks
    its input: a finite 2-D float64 array with ``n_features`` columns; a data frame's
    columns must be ``feature_names`` in their order (where the estimator was fitted on
    a data frame), since the network takes its inputs by position."""
    columns = getattr(X, "columns", None) if hasattr(X, "dtypes") else None
    # names are checked where they are all strings, as scikit-learn checks them (a
    # frame of integer column names, pd.DataFrame(X), is taken by position)
    named = columns is not None and all(isinstance(c, str) for c in columns)
    if feature_names is not None and named:
        given = list(columns)
        if given != [str(c) for c in feature_names]:
            missing = [str(c) for c in feature_names if str(c) not in given]
            extra = [c for c in given if c not in set(map(str, feature_names))]
            parts = [f"missing {missing[:5]}"] * bool(missing)
            parts += [f"unseen {extra[:5]}"] * bool(extra)
            why = ", ".join(parts) or "the same names in another order"
            raise ValueError(
                f"X's columns must be those the {name} was fitted on, in that order "
                f"(the {name} takes its inputs by position): {why}"
            )
    arr = _as_float_array(X, "X")
    if arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] == n_features:
        return np.zeros((0, n_features))  # an empty batch: no outputs
    arr = check_X(arr)  # (converted once: the frame's values above)
    if arr.shape[1] != n_features:
        raise ValueError(
            f"X has {arr.shape[1]} features, but this {name} expects {n_features}"
        )
    return arr


def check_targets(y, n, name="y", against="X"):
    """Return (Y as float64 (n, c) C-array, was_1d) for y of shape (n,) or (n, c);
    ``against`` names what gives n (X, or K for a kernel)."""
    arr = _as_float_array(y, name)
    if arr.ndim == 1:
        was_1d = True
        arr = arr[:, None]
    elif arr.ndim == 2:
        was_1d = False
    else:
        raise ValueError(f"{name} must have shape (n,) or (n, c); got {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but {against} has {n}: they must match"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr, was_1d


def _scalar(value):
    """A NumPy scalar or 0-d array as the Python number it holds; else unchanged."""
    if isinstance(value, np.generic) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return value.item()
    return value


def check_positive(value, name, allow_zero=False):
    """A finite real number > 0 (or >= 0 with allow_zero)."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return value


def check_relative_tol(value, name="tol"):
    """A relative duality gap to reach: a finite real number in (0, 1).

    The gap is measured against the objective of the null model (W = 0 with its best
    intercept), so a tolerance of 1 or more is met where a solve starts: the fit would
    stop at the null model, its predictions the intercept alone.
    """
    value = check_positive(value, name)
    if value >= 1:
        raise ValueError(
            f"{name} is a relative duality gap (the gap over the null model's "
            f"objective) and must be < 1; got {value:g}: the null model (every "
            "weight 0) already meets it, so the fit would stop there (1e-4 to 1e-8 "
            "are usual)"
        )
    if value < _TOL_FLOOR:
        warn(
            f"{name} = {value:.3g} is below double precision's unit round-off "
            f"({_TOL_FLOOR:.1e}): the duality gap cannot be resolved that finely (its "
            "primal and dual objectives are each rounded at about that level of the "
            "null model's objective), so a converged solve certifies only that the gap "
            f"is zero to round-off; from about {ROUNDOFF_GAP:.0e} up a tol is "
            "certified as stated",
            UserWarning,
            # the user's line, wherever fixntk checks it (a fixed level named fixntk's
            # own lines from the estimators: shown once per process; tester CS)
            stacklevel=user_stacklevel(),
        )
    return value


# below this a relative duality gap is not resolved (see check_relative_tol)
_TOL_FLOOR = float(np.finfo(np.float64).eps)
# The smallest relative gap certified as stated: below it the gap is round-off's (a
# solve that stops there is told to raise tol, not max_iter).
ROUNDOFF_GAP = 1e-14


def check_lam(lam, kernel=False, lam_max=None):
    """The regularisation strength: a finite real number > 0.

    lam = 0 is refused: the unregularised problem has no certificate of optimality in
    this scaling (the dual point is undefined) and is usually ill-posed when p*d > n;
    for kernel ridge (``kernel=True``) it is interpolation, ill-posed wherever the
    kernel matrix is singular. ``lam_max``: the call that gives the program's
    lambda_max, named in the refusal of 0 (the ReLU program's, which has no intercept).
    """
    lam = _scalar(lam)
    if isinstance(lam, numbers.Real) and not isinstance(lam, bool) and lam == 0:
        if kernel:
            raise ValueError(
                "lam = 0 is not supported: kernel ridge without a ridge interpolates "
                "and is ill-posed where the kernel matrix is singular; use a small "
                "positive lam (kernel units: a fraction of the mean eigenvalue of "
                "K/n, e.g. 1e-6 of it), or lam='kare' to choose it"
            )
        example = (
            "1e-6 * fixntk.lambda_max(X, y, arr). (Where lambda_max itself is 0 (a "
            "constant target, after the intercept; masks with no row on; y orthogonal "
            "to every group), W = 0 at every lam: any lam > 0 gives that null model, "
            "a fraction of lambda_max none.)"
            if lam_max is None
            else f"1e-3 * {lam_max}"
        )
        raise ValueError(
            "lam = 0 is not supported: the unregularised problem is ill-posed when "
            "p*d > n and has no duality-gap certificate; use a small positive lam, "
            f"e.g. {example}"
        )
    return check_positive(lam, "lam")


def check_int(value, name, minimum=1):
    """An integer >= minimum."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return value


def check_bool(value, name):
    """A bool (Python's or NumPy's): a parameter such as ``fit_intercept``, where a
    string or None would otherwise be read by its truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {_scalar(value)!r}")
    return bool(value)


# The most values a default lam grid may hold: far past any use (a path's solves are
# warm-started a few thousandths of a decade apart), and its arrays stay small; 10^9
# asked for tens of GB and the machine killed the process with no message.
MAX_N_LAMS = 100_000


def check_grid_size(n_lams, minimum=1):
    """``n_lams``, the size of a default lam grid: an integer from ``minimum`` to
    :data:`MAX_N_LAMS`."""
    n_lams = check_int(n_lams, "n_lams", minimum)
    if n_lams > MAX_N_LAMS:
        raise ValueError(
            f"n_lams must be <= {MAX_N_LAMS}; got {n_lams} (a grid that fine gives "
            "nothing a grid of 20-100 values does not; pass lams explicitly for "
            "values of your own)"
        )
    return n_lams


def check_n_lams(n_lams, lam):
    """``n_lams`` of an estimator: at least 2 when ``lam`` is chosen on the grid (a
    string mode), whose single value would be its top, where every neuron is zero."""
    if not isinstance(lam, str):
        return check_grid_size(n_lams)
    n_lams = check_grid_size(n_lams)
    if n_lams < 2:
        raise ValueError(
            f"n_lams must be >= 2 to choose lam={lam!r} on a grid; got {n_lams} (a "
            "grid of one value is its top, the null model's lam_max for the gated "
            "and ReLU estimators); pass a float lam to fit at one value"
        )
    return n_lams


def check_eps(eps):
    """``eps`` of an estimator's lam grid (its end, as a share of lam_max): in (0, 1),
    checked whatever ``lam`` is, as every parameter is."""
    eps = check_positive(eps, "eps")
    if eps >= 1:
        raise ValueError(f"eps must be < 1; got {eps}")
    return eps


def check_weight_values(s):
    """Refuse sample weights (an array of numbers) with NaN, infinity or a negative
    entry."""
    if not np.isfinite(s).all():
        raise ValueError("sample_weight contains NaN or infinity")
    if s.size and s.min() < 0:
        raise ValueError(f"sample_weight must be >= 0; its minimum is {s.min():.3g}")


def check_sample_weight(sample_weight, n):
    """Sample weights as a float64 (n,) array: finite, >= 0, with a positive sum.

    ``None`` gives ones. Weights are used normalised by their sum, so only their ratios
    matter (integer weights equal duplicated rows); positive weights spanning more
    than ``_WEIGHT_SPAN`` are refused.
    """
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n, float(sample_weight))
    s = _as_float_array(sample_weight, "sample_weight")
    if s.ndim != 1 or s.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per row of X; got "
            f"shape {s.shape}"
        )
    s = np.ascontiguousarray(s, dtype=np.float64)
    check_weight_values(s)
    top = float(s.max())
    if top == 0:
        raise ValueError("sample_weight is all zero: no row carries weight")
    check_weight_span(s, "sample_weight")
    return s / top  # ratios only; the largest weight is 1 (no overflow in the sum)


def check_weight_span(s, name):
    """Refuse positive weights ``s`` (with a positive maximum) spanning more than
    ``_WEIGHT_SPAN``; ``name`` says what they are in the message."""
    check_weight_bounds(float(s.max()), float(s[s > 0].min()), name)


def check_weight_bounds(top, low, name):
    """Refuse positive weights whose largest is ``top`` and smallest ``low`` when
    they span more than ``_WEIGHT_SPAN`` (:func:`check_weight_span`; the Dask
    solver's, from its chunks' bounds)."""
    if low < top / _WEIGHT_SPAN:
        # one weight of 1e15 beside ones: the light rows fell below the heavy one's
        # rounding, a scoring solve diverged (objective 1e276) and the error blamed
        # the predictions' size
        # (the ratio itself can pass double precision: 1 beside 5e-324)
        span = f"{top / low:.3g}" if top / low < np.inf else "more than 1e308"
        raise ValueError(
            f"{name} spans {span} (largest / smallest positive "
            f"weight: {top:.3g} / {low:.3g}); double precision resolves a span of "
            f"at most {_WEIGHT_SPAN:.0e}: "
            "the lightest rows count as nothing beside the heaviest; give them "
            "weight 0 (left out), or bring the weights closer"
        )


# positive weights may span at most this ratio (a row of relative weight 1e-15 sits
# within a few units of rounding of the heaviest row's terms)
_WEIGHT_SPAN = 1e14
