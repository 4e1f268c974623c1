"""The models the command line fits, their pipelines, and the notes they raise.

Every warning a fit raises becomes a note that names the command-line option acting on
it (:func:`hint`).
"""

import contextlib
import re
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._data import _TARGET, MIN_ROWS, UserError, _line, _rows_table, preprocessor

MODELS = ("NTK", "fixed NTK", "KARE kernel")


@dataclass
class Outcome:
    """One model fitted on one dataset."""

    model: str
    score: float  # on the held-out rows, or nan without a held-out part
    lam: float
    seconds: float  # wall time of the fit
    objective: float = float("nan")
    active: int = -1
    kare: float = float("nan")  # KARE of the model's kernel at its lam (training data)
    estimator: object = None
    notes: list = field(default_factory=list)  # warnings, each with its option


def _classes(cls):
    from .. import _estimators as E
    from .. import _kare_estimators as K

    table = {
        "NTK": (E.NTKClassifier, E.NTKRegressor),
        "fixed NTK": (E.GatedReLUClassifier, E.GatedReLURegressor),
        "KARE kernel": (K.KAREKernelClassifier, K.KAREKernelRegressor),
    }
    return {name: pair[0 if cls else 1] for name, pair in table.items()}


def cls_irls(args, task):
    """The classifier of demo / compare: the squared loss, as in the paper."""
    return task == "classification" and args.solver == "irls"


def make_model(name, args, task, verbose):
    """The estimator `name` (one of MODELS) with the options of `args`."""
    est = _classes(task == "classification")[name]
    common = dict(random_state=args.seed, verbose=verbose)
    if name == "NTK":
        kw = dict(n_lams=30, eps=args.ntk_eps, cv=args.cv)
        # 'auto' and 'holdout' are the gated ReLU model's (--help): the NTK keeps its
        # own
        if args.lam is not None and args.lam not in ("auto", "holdout"):
            kw["lam"] = args.lam
        return est(**kw, **common)
    if name == "fixed NTK":
        kw = dict(
            n_gates=args.n_gates,
            solver=args.solver,
            # demo and compare (IRLS from the NTK) keep the paper's squared loss; fit
            # uses the estimator's default (the log loss: probabilities for predict),
            # or for regression its --loss
            **({"loss": "squared"} if cls_irls(args, task) else {}),
            **({"loss": "poisson"} if _poisson(args, task) else {}),
            # demo and compare fix the NTK on the sampled cells alone, those the
            # KARE-trained kernel weighs too (the paper's construction); fit adds
            # the linear group, as the estimator does by default
            linear_group=args.solver != "irls",
            n_lams=args.n_lams,
            eps=args.eps,
            cv=args.cv,
            tol=args.tol,
            max_iter=args.max_iter,
        )
        if args.lam is not None and args.lam != "loo":  # 'loo' is the NTK's
            kw["lam"] = args.lam
        return est(**kw, **common)
    # a number holds its ridge fixed (it was ignored, the header saying 'lam: 0.01'
    # for every model; tester DI); 'kare' is its default
    kw = {"lam": args.lam} if isinstance(args.lam, float) else {}
    return est(n_gates=args.n_gates, max_iter=args.kare_max_iter, **kw, **common)


def _poisson(args, task):
    """fit's regression with --loss poisson (demo and compare have no --loss)."""
    return task == "regression" and getattr(args, "loss", "squared") == "poisson"


def scales_target(data, estimator):
    """Whether the pipeline of `estimator` fits the standardised target:
    squared-loss regression (the Poisson loss needs the counts themselves)."""
    return data.task == "regression" and getattr(estimator, "loss", None) != "poisson"


def pipeline(estimator, data):
    """Preprocessing (scaling, one-hot encoding) and the estimator; squared-loss
    regressors fit standardised targets."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if scales_target(data, estimator):
        estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
    return Pipeline([("prepare", preprocessor(data)), ("model", estimator)])


def final(pipe):
    """The fixntk estimator at the end of a pipeline."""
    est = pipe[-1]
    return est.regressor_ if hasattr(est, "regressor_") else est


# Which option acts on a warning: (model, words in the message) -> options.
_HINTS = (
    ("fixed NTK", "at or above lambda_max", "--lam (a smaller value, or auto)"),
    ("fixed NTK", "certified duality gap", "--tol or --lam"),
    ("fixed NTK", "smallest lam", "--eps (smallest lam / lam_max)"),
    ("fixed NTK", "largest lam of the grid", "--eps and --n-lams (the grid)"),
    ("NTK", "smallest KARE is at", "--ntk-eps (the NTK's grid)"),
    ("fixed NTK", "max_iter", "--max-iter or --tol"),
    ("fixed NTK", "stopped before", "--max-iter or --tol"),
    ("KARE kernel", "held-out part has", "a smaller --holdout, or more rows"),
    ("KARE kernel", "max_iter", "--kare-max-iter"),
    ("KARE kernel", "line search", "--kare-max-iter or --n-gates"),
    ("NTK", "eigendecompositions' worth", "fewer rows, or fixntk fit: no n x n kernel"),
    (
        "KARE kernel",
        "eigendecompositions' worth",
        "--kare-max-iter, fewer rows, or fixntk fit: no n x n kernel",
    ),
)
_FALLBACK = {
    "NTK": "--lam, --cv or --ntk-eps",
    "fixed NTK": "--lam, --eps, --n-lams, --max-iter or --tol",
    "KARE kernel": "--n-gates or --kare-max-iter",
}


# Library words in a message -> the command line's (its options for parameters).
_OPTION_WORDS = (
    (re.compile(r"\blam=(['\"])cv\1 selected"), "cross-validation selected"),
    (re.compile(r"\blam=(['\"])holdout\1 selected"), "the held-out split selected"),
    (re.compile(r"\bfixntk\.\w+ stopped before"), "the solver stopped before"),
    (re.compile(r"\bRaise max_iter or tol\b"), "Raise --max-iter or --tol"),
    (re.compile(r"\ba smaller eps\b"), "a smaller --eps"),
    (re.compile(r"\blam=(['\"])(\w+)\1"), r"--lam \2"),
    (re.compile(r"\ba float lam\b"), "a number for --lam"),
    (re.compile(r"\bfewer folds \(cv\)|\ba smaller cv\b"), "fewer folds (--cv)"),
    (re.compile(r"\bother splits \(cv\)"), "other splits (--cv)"),
    (re.compile(r"\bwith cv=(\d+) folds"), r"with --cv \1 folds"),
    (re.compile(r"\(n_gates\)"), "(--n-gates)"),
    (
        re.compile(r"\bLower tol \(e\.g\. tol=([^)\s]+)\) or raise lam\b"),
        r"Lower --tol (e.g. --tol \1) or raise --lam",
    ),
    # kare_mkl's guard: the command line has no validation_fraction (the KARE
    # kernel holds out a fifth of its training rows) nor eta0 (it starts at the
    # NTK); its hint (_HINTS) names what acts on it: more rows, a smaller --holdout
    # (the advice was given twice, once in the library's words; tester EU)
    (
        re.compile(
            r": validation_fraction=None trains on every row without the guard, and "
            r"lost to the NTK on 7 of 9 splits of small real sets \([^)]*\)"
        ),
        "",
    ),
    (re.compile(r"\(validation_fraction=0\.2 of (\d+)\)"), r"(a fifth of its \1)"),
    (re.compile(r" \(for eta0='ntk', the NTK: NTK kernel ridge\)"), " (the NTK)"),
)


def in_option_words(message):
    """A library error in the command line's words (its options for parameters)."""
    for pattern, words in _OPTION_WORDS:
        message = pattern.sub(words, message)
    return message


def hint(model, message):
    """The options that act on a warning `message` raised by `model`."""
    for name, words, options in _HINTS:
        if name == model and words in message:
            return options
    return _FALLBACK[model]


def fit_model(name, estimator, data, X, y, sample_weight=None):
    """Fit the pipeline of `estimator` on (X, y), rows weighted by ``sample_weight``
    if given; returns (pipeline, seconds, notes).

    ``seconds`` is the wall time of the fit alone."""
    pipe = pipeline(estimator, data)
    t0 = time.perf_counter()
    with noted_warnings(name) as caught:
        if sample_weight is None:
            pipe.fit(X, y)
        else:
            _fit_weighted(pipe, X, y, sample_weight)
    seconds = time.perf_counter() - t0
    caught = [_rows_as_lines(m, X, pipe) for m in caught]
    return pipe, seconds, _notes(name, caught)


def _notes(name, messages):
    """The notes of warning ``messages`` (each once), in the options' words."""
    return [f"{in_option_words(m)} [{hint(name, m)}]" for m in dict.fromkeys(messages)]


@contextlib.contextmanager
def noted_warnings(name):
    """Catch the warnings of the model ``name``'s work: yields the list their
    messages are appended to (notes for later); a KernelSizeWarning is said at once
    on stderr as a note (the wait is ahead), never in Python's warning format (the
    compare command's KARE column printed one so; tester EH)."""
    from .._memory import KernelSizeWarning

    caught = []

    def keep(message, category, *args, **kwargs):
        if issubclass(category, KernelSizeWarning):  # said now: the wait is ahead
            said = in_option_words(str(message))
            print(f"  note: {said} [{hint(name, str(message))}]", file=sys.stderr)
        else:
            caught.append(str(message))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = keep
        yield caught


# Row weights summing past this are brought to a mean of 1 for the fit (_fit_weighted)
_SCALED_TOTAL = 2.0**30


def _fit_weighted(pipe, X, y, sample_weight):
    """``pipe.fit`` with the rows weighted: scikit-learn's metadata routing takes
    ``sample_weight`` to the model and to the standardisation of the numeric
    columns, and the target is standardised with the weighted mean and deviation
    (those of the rows repeated, as the lam of --lam is on that scale; the medians
    of --impute count each distinct row once)."""
    import sklearn
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    # only their ratios matter, and StandardScaler takes a column of a year for a
    # constant under a total weight of 1e13 (tester EA): large totals in a mean of 1
    # (not all: the model's lam search reads whole-number weights as the counts of
    # its units, and counts / mean as other units, and another lam; tester EB)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.sum() > _SCALED_TOTAL:
        sample_weight = sample_weight / np.mean(sample_weight)
    model = pipe[-1]  # fixntk's, or a TransformedTargetRegressor of it
    if isinstance(model, TransformedTargetRegressor):
        # (it fits its transformer on y alone: one fitted with the weights instead)
        column = np.reshape(np.asarray(y, dtype=np.float64), (-1, 1))
        target = StandardScaler().fit(column, sample_weight=sample_weight)
        model.set_params(
            transformer=FunctionTransformer(
                target.transform, target.inverse_transform, check_inverse=False
            )
        )
        model = model.regressor
    with sklearn.config_context(enable_metadata_routing=True):
        for step in _steps(pipe):
            # (fixntk's model; the target's scaler of a TransformedTargetRegressor
            # is given no weights by it, asked or not)
            if isinstance(step, StandardScaler) or step is model:
                step.set_fit_request(sample_weight=True)
        pipe.fit(X, y, sample_weight=sample_weight)


def _steps(estimator):
    """Every estimator nested in a pipeline (steps, column transformers' parts)."""
    yield estimator
    for name, value in estimator.get_params(deep=False).items():
        if hasattr(value, "get_params") and not isinstance(value, type):
            yield from _steps(value)
        elif name in ("steps", "transformers") and isinstance(value, list):
            for part in value:
                if hasattr(part[1], "get_params"):
                    yield from _steps(part[1])


# scoring work after a fit (the KARE column) taking this long is said in a note
_SAID_SECONDS = 1.0
_ROW_POSITIONS = re.compile(r"rows \(positions ([0-9, ]+)\)")
_COLUMN_POSITIONS = re.compile(r"column\(s\) ([0-9, ]+)(, \.\.\.)? of X")


def _rows_as_lines(message, X, pipe=None):
    """A warning's rows of X and columns (positions in the rows fitted and in the
    prepared features, which a user of the command line never sees) as the file's
    lines and the features' names."""

    def lines(match):
        shown = ", ".join(str(_line(X, int(k))) for k in match.group(1).split(", "))
        return f"rows (line {shown} of the file)"

    def columns(match):
        try:
            names = pipe[:-1].get_feature_names_out()
        except (AttributeError, TypeError, ValueError):
            return match.group(0)
        shown = ", ".join(
            repr(str(names[int(k)]).split("__", 1)[-1])
            for k in match.group(1).split(", ")
        )
        return f"feature(s) {shown}{match.group(2) or ''}"

    message = _COLUMN_POSITIONS.sub(columns, message)
    return _ROW_POSITIONS.sub(lines, message)


def split(data, fraction, seed):
    """A stratified (when possible) seeded split: X_train, X_test, y_train, y_test,
    and the two parts' row weights (``data.weight``; None without)."""
    from sklearn.model_selection import train_test_split

    w = data.weight
    if splits_counts(data):
        return _split_counts(data, fraction, seed)
    n = len(data.y)
    n_test = int(np.ceil(fraction * n))
    if n - n_test < MIN_ROWS or n_test < 2:
        raise UserError(
            f"--holdout {fraction:g} leaves {n - n_test} of the {n} rows to fit on and "
            f"holds out {n_test}: at least {MIN_ROWS} to fit on and 2 held out are "
            "needed (a score of one row is no score)"
        )
    stratify = data.y if data.task == "classification" else None
    # the weights split with their rows (the same draws as without them)
    parts = [data.X, data.y] + [w] * (w is not None)
    try:
        parts = train_test_split(
            *parts, test_size=fraction, random_state=seed, stratify=stratify
        )
    except ValueError:  # a class too small to stratify
        parts = train_test_split(*parts, test_size=fraction, random_state=seed)
    return (*parts, None, None) if w is None else tuple(parts)


def splits_counts(data):
    """Whether split() holds out a share of each row's count rather than whole rows:
    weights that are counts (whole numbers), or the weights of a table (every row
    distinct, and most rows' features shared with another target: a contingency
    table given as proportions or counts times a factor, whose cells held out whole
    gave Titanic's Freq / sum(Freq) a held-out accuracy of 0.03; tester EB)."""
    return _counts(data) is not None


def _counts(data):
    """The weights as counts for split(): themselves where whole numbers; a table's
    (:func:`splits_counts`) in units of the smallest, rounded; else None."""
    w = data.weight
    if w is None:
        return None
    if np.all(w == np.round(w)):
        return w
    rows = _rows_table(data.X, data.y)
    cells = rows.drop(columns=[_TARGET])
    shared = cells.duplicated(keep=False).to_numpy()  # another target, as distinct
    if rows.duplicated().any() or 2 * shared.sum() < w.size:
        return None
    return np.maximum(np.round(w / w.min()), 1.0)


# Counts up to this total are split as the file of rows written out would be
_UNITS_SPLIT = 10**6


def _split_counts(data, fraction, seed):
    """split() of rows whose weights are counts (frequency weights: a contingency
    table's cells): the share ``fraction`` of the units held out, each row's count
    split between the parts, as ``train_test_split`` splits the file of each row
    written out count times (the same units, stratified by class where it can); a
    row then lies in both parts with its share of the count. (Holding out whole
    cells held out a table's every 'No' cell with its 'Yes' cell kept: a held-out
    accuracy of 0 on Titanic; tester EA.) Above _UNITS_SPLIT units, each row's
    held-out count is the share ``fraction`` of its count, rounded up or down at
    random (unbiased; the units' own law is that close at such counts, and
    NumPy's hypergeometric draw refused 1e9 units)."""
    from sklearn.model_selection import train_test_split

    counts = _counts(data)
    w = counts
    total = float(w.sum())
    n_test = np.ceil(fraction * total)
    if total - n_test < MIN_ROWS or n_test < 2:
        raise UserError(
            f"--holdout {fraction:g} leaves {total - n_test:g} of the {total:g} "
            f"counted rows (--sample-weight) to fit on and holds out {n_test:g}: at "
            f"least {MIN_ROWS} to fit on and 2 held out are needed"
        )
    if total <= _UNITS_SPLIT:
        w = w.astype(np.int64)
        owner = np.repeat(np.arange(w.size), w)
        classes = data.y[owner] if data.task == "classification" else None
        try:
            _, test = train_test_split(
                owner, test_size=fraction, random_state=seed, stratify=classes
            )
        except ValueError:  # a class too small to stratify
            _, test = train_test_split(owner, test_size=fraction, random_state=seed)
        w_test = np.bincount(test, minlength=w.size)
    else:
        draw = np.random.default_rng(seed).random(w.size)
        w_test = np.floor(fraction * w + draw)
    w_train = w - w_test
    fit, held = w_train > 0, w_test > 0
    unit = data.weight / counts  # 1, or a table's unit: the parts in the user's
    w_train, w_test = w_train * unit, w_test * unit

    def rows(A, keep):
        return A.iloc[keep] if hasattr(A, "iloc") else A[keep]

    return (
        rows(data.X, fit),
        rows(data.X, held),
        data.y[fit],
        data.y[held],
        w_train[fit].astype(np.float64),
        w_test[held].astype(np.float64),
    )


def copies_note(X_train, y_train, X_test, y_test):
    """A note when held-out rows repeat training rows (features and target alike):
    their score is that of rows the model was fitted on (a file of three copies of
    each row scored 1.0 held out), or None. Only where some column, over the
    distinct training rows, takes a value per row or nearly (at least half as many
    values as rows): without one, equal rows are expected by chance."""
    table = _rows_table

    def rows(X, y):
        return table(X, y).itertuples(index=False)

    # rows repeat by chance where every column takes few values (two categorical
    # features: 328 of 328 titanic passengers 'repeated' training rows): copies are
    # told apart by a column that, over the distinct rows, nearly always differs
    if not _has_identifying_column(table(X_train, y_train)):
        return None
    seen = set(map(tuple, rows(X_train, y_train)))
    k = sum(tuple(r) in seen for r in rows(X_test, y_test))
    if k == 0:
        return None
    return (
        f"{k} of the {len(y_test)} held-out rows repeat training rows (features and "
        "target alike): if the data hold copies of one record, the held-out score "
        "counts rows the model was fitted on and is optimistic; remove the copies "
        "for a fair score"
    )


def _features_frame(X):
    """The feature rows in one canonical form for hashing: numeric columns as
    float64, the others as text (fit's frame and predict's read alike)."""
    import pandas as pd

    frame = pd.DataFrame(X).reset_index(drop=True)
    return pd.DataFrame(
        {
            str(c): (
                frame[c].astype(np.float64)
                if pd.api.types.is_numeric_dtype(frame[c])
                else frame[c].astype(str)
            )
            for c in frame.columns
        }
    )


def _has_identifying_column(frame):
    """Whether the rows tell themselves apart: some column, over the distinct rows,
    takes a value per row or nearly (at least half as many values as rows), or the
    rows are distinct as wholes (95% of them or more: iris's 149 of 150, whose
    columns take 22 to 43 values each, and a score over its training file after
    --holdout went unremarked, 0.987 against 0.947 held out; a tester). Otherwise
    equal rows are expected by chance (two categorical features)."""
    distinct = frame.drop_duplicates()
    if len(distinct) >= 0.95 * len(frame):
        return True
    return bool((distinct.nunique() >= 0.5 * len(distinct)).any())


def training_row_hashes(X):
    """Sorted distinct 64-bit hashes of the training rows' features, which predict
    looks up to tell rows the model was fitted on from new ones; None when the rows
    could repeat by chance (:func:`_has_identifying_column`)."""
    import pandas as pd

    frame = _features_frame(X)
    if not _has_identifying_column(frame):
        return None
    return np.unique(pd.util.hash_pandas_object(frame, index=False).to_numpy())


def seen_rows(X, hashes):
    """Boolean (n,): which rows of X have the features of a training row."""
    import pandas as pd

    frame = _features_frame(X)
    h = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return np.isin(h, hashes)


def kare_of(pipe, data, X_train, y_train):
    """KARE on the training rows of the fitted model's kernel at its lam, in the
    space it was fitted in (prepared X, one-hot or standardised y)."""
    from .._arrangement import Arrangement
    from .._estimators import _inputs, _one_hot
    from .._kare import kare
    from .._kernels import mkl_kernel

    model = final(pipe)
    if hasattr(model, "kare_"):
        return float(model.kare_)
    if getattr(model, "loss_", "squared") != "squared":
        return float("nan")  # KARE scores kernel ridge: the squared loss only
    Xt = _inputs(model, pipe[:-1].transform(X_train))
    if data.task == "classification":
        classes, y_enc = np.unique(y_train, return_inverse=True)
        y_enc = y_enc.ravel()
        # the targets the model fitted: +-1 for two classes, one-hot for more
        Y = (
            (2.0 * y_enc - 1.0)[:, None]
            if classes.size == 2
            else _one_hot(y_enc, classes.size)
        )
    else:
        Y = pipe[-1].transformer_.transform(np.reshape(y_train, (-1, 1)))
    arr = Arrangement.from_masks(Xt @ model.gates_.T >= 0)
    K = mkl_kernel(Xt, arr, model.eta_)
    return float(kare(K, Y - np.ravel(model.intercept_), model.lam_))


def outcome(name, pipe, seconds, notes, data, X_train, y_train, X_test, y_test):
    """The Outcome of a fitted pipeline, scored on (X_test, y_test)."""
    model = final(pipe)
    t0 = time.perf_counter()
    with noted_warnings(name) as caught:
        value = kare_of(pipe, data, X_train, y_train)
    extra = time.perf_counter() - t0
    notes = [*notes, *_notes(name, caught)]
    if extra >= _SAID_SECONDS:
        # the fixed NTK's kernel (n x n, eigendecomposed) took 16 s after a fit
        # whose time column read less, unexplained (a tester's 10000 rows)
        notes = [
            *notes,
            f"the KARE column's value took {extra:.1f} s more to compute (its "
            "kernel's eigendecomposition), not in the time column (the fit's)",
        ]
    return Outcome(
        model=name,
        score=float(pipe.score(X_test, y_test)),
        lam=float(model.lam_),
        seconds=seconds,
        objective=float(getattr(model, "objective_", float("nan"))),
        active=int(getattr(model, "n_active_neurons_", -1)),
        kare=value,
        estimator=pipe,
        notes=notes,
    )
