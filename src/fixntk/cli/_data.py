"""Reading the user's CSV with pandas, and the preprocessing the saved model carries.

A table is read with its delimiter detected (``csv.Sniffer`` on the first 64 KiB, or
``--sep``), an optional ``--index-col``, an unnamed leading column (pandas'
"Unnamed: 0", a saved row index) dropped with a message, ``--drop`` columns removed.
Numeric and boolean columns are features as they are; text columns are one-hot encoded
inside the saved pipeline (so ``fixntk predict`` takes raw CSVs), or refused when they
look like identifiers or free text.
"""

import csv
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_ROWS = 10
MAX_CLASSES = 20  # integer targets with at most this many values are class labels
MAX_CATEGORIES = 50  # text columns with more distinct values are refused
_SNIFF_BYTES = 1 << 16


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


@dataclass
class Table:
    """A CSV read for fixntk: features (a DataFrame) and what was done to the file."""

    name: str
    frame: pd.DataFrame  # every column but the ones dropped
    messages: list = field(default_factory=list)  # what was dropped, and why


@dataclass
class Dataset:
    """Features, target and task of one dataset."""

    name: str
    X: object  # ndarray, or DataFrame for CSV data
    y: np.ndarray
    task: str  # "classification" or "regression"
    numeric: list = field(default_factory=list)  # feature columns used as numbers
    text: list = field(default_factory=list)  # feature columns one-hot encoded
    messages: list = field(default_factory=list)

    @property
    def n_features(self):
        return self.X.shape[1]


def _line(position):
    """The file's line number of data row `position` (the header is line 1)."""
    return int(position) + 2


def _sniff(path, sep):
    if sep is not None:
        return sep.replace("\\t", "\t")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(_SNIFF_BYTES)
    lines = sample.splitlines()
    if len(lines) > 1 and len(sample) == _SNIFF_BYTES:
        sample = "\n".join(lines[:-1])  # drop a line cut short by the sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(path, sep=None, index_col=None, drop=(), decimal="."):
    """Read `path` into a Table; every problem is a UserError naming the option."""
    if not os.path.exists(path):
        raise UserError(f"file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a CSV file")
    delimiter = _sniff(path, sep)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            decimal=decimal,
            skipinitialspace=True,
            skip_blank_lines=True,
            encoding="utf-8-sig",
        )
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
        raise UserError(
            f"cannot read {path} as CSV with delimiter {delimiter!r}: {first} "
            "(--sep sets the delimiter)"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    messages = []
    if frame.shape[1] == 1 and sep is None:
        raise UserError(
            f"{path} reads as a single column {frame.columns[0]!r} with delimiter "
            f"{delimiter!r}; pass the delimiter with --sep (e.g. --sep ';')"
        )
    if index_col is not None:
        col = _resolve(frame, index_col, "--index-col")
        frame = frame.drop(columns=[col])
        messages.append(f"column {col!r} read as the row index (--index-col)")
    elif frame.columns[0].startswith("Unnamed: 0") or frame.columns[0] == "":
        frame = frame.drop(columns=[frame.columns[0]])
        messages.append(
            "the first column has no name (a saved row index) and was dropped; "
            "--index-col 0 says so explicitly, or give it a name in the header to use "
            "it as a feature"
        )
    for name in drop:
        col = _resolve(frame, name, "--drop")
        frame = frame.drop(columns=[col])
    if drop:
        messages.append(f"dropped {', '.join(map(repr, drop))} (--drop)")
    base = os.path.splitext(os.path.basename(path))[0]
    return Table(base, frame, messages)


def _resolve(frame, name, option):
    """The column called `name` (or at integer position `name`)."""
    if name in frame.columns:
        return name
    if str(name).lstrip("-").isdigit():
        k = int(name)
        if 0 <= k < frame.shape[1]:
            return frame.columns[k]
    raise UserError(f"{option}: no column {name!r}; columns: {_shown(frame.columns)}")


def _shown(columns, limit=12):
    cols = [str(c) for c in columns]
    return ", ".join(cols[:limit]) + (", ..." if len(cols) > limit else "")


def _numbers(series):
    """The column as float64 (booleans as 0/1), or None when some entry is text."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(np.float64)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(np.float64)
    values = pd.to_numeric(series, errors="coerce")
    if values.notna().sum() == series.notna().sum():
        return values.astype(np.float64)
    return None


def _looks_like_row_ids(values):
    """Distinct integers in increasing order over 20 rows or more (1, 2, 3, ... or
    record numbers): an identifier, which a model would learn row order from."""
    v = values.to_numpy(dtype=float)
    if v.size < 20 or not np.all(v == np.round(v)):
        return False
    return bool(np.all(np.diff(v) > 0))


def _labels(y_raw, y_num, target, path):
    """Class labels as the file has them: text, booleans (True/False) or integers
    (0.0/1.0 came back from predict as labels and column names before); numbers
    that are not integers are refused (scikit-learn's 'continuous' error, after the
    model was set up)."""
    if y_num is None:
        return y_raw.to_numpy(dtype=object).astype(str)
    if pd.api.types.is_bool_dtype(y_raw):
        return y_raw.to_numpy(dtype=bool)
    values = y_num.to_numpy()
    if not np.all(values == np.round(values)):
        bad = values[values != np.round(values)][0]
        raise UserError(
            f"{path}: target {target!r} holds numbers that are not integers (e.g. "
            f"{bad:g}); classification needs labels (integers or text): use --task "
            "regression"
        )
    return values.astype(np.int64) if np.abs(values).max() < 2.0**53 else values


def _decimal_comma(series):
    """Whether a text column reads as numbers once decimal commas are points (a CSV
    written with ``decimal=','``)."""
    text = series.dropna().astype(str).str.strip()
    if text.empty or not text.str.contains(",", regex=False).any():
        return False
    values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    return bool(values.notna().all())


# Above this magnitude a column's squares (its standardisation) leave double precision.
_MAX_MAGNITUDE = 1e150


def feature_columns(frame, path, drop_hint=True):
    """(numeric columns, text columns) of a feature frame; refuses missing values,
    columns mixing numbers and text, and text columns with too many values."""
    numeric, text = [], []
    for col in frame.columns:
        series = frame[col]
        missing = series.isna().to_numpy()
        if missing.any():
            k = int(np.flatnonzero(missing)[0])
            raise UserError(
                f"{path}: column {col!r} has {int(missing.sum())} missing value(s) "
                f"(first at line {_line(k)}); fill them, or leave the column out with "
                f"--drop {col!r}"
            )
        values = _numbers(series)
        if values is not None:
            if not np.isfinite(values.to_numpy()).all():
                k = int(np.flatnonzero(~np.isfinite(values.to_numpy()))[0])
                raise UserError(
                    f"{path}, line {_line(k)}: column {col!r} has the non-finite "
                    f"value {series.iloc[k]!r}; every number must be finite "
                    f"(--drop {col!r} leaves the column out)"
                )
            top = float(np.abs(values.to_numpy()).max(initial=0.0))
            if top > _MAX_MAGNITUDE:
                raise UserError(
                    f"{path}: column {col!r} has values up to {top:.3g}; standardising "
                    "it squares them beyond double precision (about 1e308): rescale "
                    f"the column, or leave it out with --drop {col!r}"
                )
            numeric.append(col)
            continue
        if _decimal_comma(series):
            raise UserError(
                f"{path}: column {col!r} holds numbers written with a decimal comma "
                f"(e.g. {series.dropna().astype(str).iloc[0]!r}); pass --decimal ','"
            )
        parsed = pd.to_numeric(series, errors="coerce")
        if parsed.notna().any():  # numbers with a few words among them: a data error
            k = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise UserError(
                f"{path}, line {_line(k)}: column {col!r} has the non-numeric value "
                f"{series.iloc[k]!r} among numbers; fix the value, or leave the "
                f"column out with --drop {col!r}"
            )
        n_values = series.nunique()
        if n_values > MAX_CATEGORIES:
            raise UserError(
                f"{path}: column {col!r} holds text with {n_values} distinct values "
                f"(an identifier or free text, more than {MAX_CATEGORIES} categories "
                f"to one-hot encode); leave it out with --drop {col!r}"
            )
        text.append(col)
    return numeric, text


def dataset_from_table(table, target, task, path):
    """Split a Table into features and target; infer the task."""
    frame = table.frame
    if target not in frame.columns:
        hint = ""
        if frame.shape[1] == 1 or any(";" in c or "\t" in c for c in frame.columns):
            hint = " (is the delimiter right? --sep sets it)"
        raise UserError(
            f"column {target!r} not found in {path}; columns: "
            f"{_shown(frame.columns)}{hint}"
        )
    if len(frame) < MIN_ROWS:
        raise UserError(
            f"{path} has {len(frame)} data row{'s' if len(frame) != 1 else ''}; at "
            f"least {MIN_ROWS} are needed"
        )
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise UserError(f"{path} has no feature columns besides {target!r}")
    numeric, text = feature_columns(X, path)
    y_raw = frame[target]
    if y_raw.isna().any():
        k = int(np.flatnonzero(y_raw.isna().to_numpy())[0])
        raise UserError(
            f"{path}: the target column {target!r} has missing values (first at line "
            f"{_line(k)})"
        )
    y_num = _numbers(y_raw)
    if task == "auto":
        if y_num is None:
            task = "classification"
        else:
            values = y_num.to_numpy()
            integral = np.all(values == np.round(values))
            small = np.unique(values).size <= MAX_CLASSES
            task = "classification" if integral and small else "regression"
    if task == "regression":
        if y_num is None and _decimal_comma(y_raw):
            raise UserError(
                f"{path}: target {target!r} holds numbers written with a decimal "
                "comma; pass --decimal ','"
            )
        if y_num is None:
            bad = y_raw[pd.to_numeric(y_raw, errors="coerce").isna()].iloc[0]
            raise UserError(
                f"{path}: target {target!r} has the non-numeric value {bad!r}; "
                "regression needs numbers (use --task classification for labels)"
            )
        y = y_num.to_numpy()
    else:
        y = _labels(y_raw, y_num, target, path)
        if np.unique(y).size < 2:
            raise UserError(f"{path}: target {target!r} has a single class")
    X = X.copy()
    for col in numeric:
        X[col] = _numbers(X[col])
    for col in text:
        X[col] = X[col].astype(str)
    messages = list(table.messages)
    for col in numeric:
        if _looks_like_row_ids(X[col]):
            messages.append(
                f"column {col!r} looks like a row identifier (distinct integers in "
                f"increasing order) and is used as a feature; --drop {col!r} leaves "
                "it out"
            )
    for col in text:
        messages.append(
            f"text column {col!r} one-hot encoded ({X[col].nunique()} values; "
            f"--drop {col!r} leaves it out)"
        )
    return Dataset(table.name, X, y, task, numeric, text, messages)


def load_bundled(name):
    """One of scikit-learn's bundled classification datasets, as a DataFrame."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X = bunch.data.astype(np.float64)
    return Dataset(
        name, X, np.asarray(bunch.target), "classification", list(X.columns), []
    )


def preprocessor(data):
    """The pipeline's first step: numeric columns standardised, text columns one-hot
    encoded (unknown values at prediction encode as all zeros)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = [("numeric", StandardScaler(), list(data.numeric))]
    if data.text:
        parts.append(
            (
                "text",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(data.text),
            )
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def prediction_frame(table, model, path):
    """The model's feature columns of a table (any order, extra columns allowed):
    (features DataFrame, ignored column names)."""
    wanted = [str(c) for c in getattr(model, "feature_names_in_", [])]
    if not wanted:
        raise UserError(
            "the model does not record its feature names (not saved by fixntk fit); "
            "it cannot select columns from a CSV"
        )
    frame = table.frame
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} lacks the model's feature column(s) {_shown(missing)}; columns: "
            f"{_shown(frame.columns)}"
        )
    ignored = [c for c in frame.columns if c not in wanted]
    X = frame[wanted].copy()
    numeric, text = _model_columns(model, wanted)
    for col in numeric:
        values = _numbers(X[col])
        if values is None or X[col].isna().any():
            bad = X[col][pd.to_numeric(X[col], errors="coerce").isna()]
            k = int(np.flatnonzero(X.index == bad.index[0])[0])
            value = X[col].iloc[k]
            what = "a missing value" if pd.isna(value) else f"the text {str(value)!r}"
            raise UserError(
                f"{path}, line {_line(k)}: column {col!r} has {what}; the model "
                "needs a number there"
            )
        X[col] = values
    for col in text:
        X[col] = X[col].astype(str)
    return X, ignored


def _model_columns(model, wanted):
    """(numeric, text) feature columns of a fitted fixntk pipeline."""
    prep = model[0] if hasattr(model, "steps") else None
    text = []
    if prep is not None and hasattr(prep, "transformers_"):
        for name, _, cols in prep.transformers_:
            if name == "text":
                text = [str(c) for c in cols]
    return [c for c in wanted if c not in text], text
