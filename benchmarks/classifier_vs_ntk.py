"""The gated ReLU classifier's defaults against NTK kernel ridge on bundled datasets.

``GatedReLUClassifier(random_state=0)`` and ``NTKClassifier()``, each behind a
StandardScaler, on stratified 75/25 splits (``random_state`` = 0, 1, ...): mean test
accuracy, total fit time and the number of splits where the gated model is at least
as accurate (issue 18's second criterion).

Run from the repository root::

    python benchmarks/classifier_vs_ntk.py --datasets iris,wine,breast_cancer --splits 5
    python benchmarks/classifier_vs_ntk.py --datasets digits --splits 2
"""

import argparse
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fixntk


def compare(name, n_splits):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    acc = {"NTK": [], "gated": []}
    seconds = {"NTK": 0.0, "gated": 0.0}
    for seed in range(n_splits):
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        models = (
            ("NTK", fixntk.NTKClassifier()),
            ("gated", fixntk.GatedReLUClassifier(random_state=0)),
        )
        for key, est in models:
            model = make_pipeline(StandardScaler(), est)
            t = time.perf_counter()
            model.fit(X_tr, y_tr)
            seconds[key] += time.perf_counter() - t
            acc[key].append(model.score(X_te, y_te))
    wins = sum(g >= n for g, n in zip(acc["gated"], acc["NTK"]))
    print(
        f"{name:14s} NTK {np.mean(acc['NTK']):.4f} ({seconds['NTK']:.1f} s)  "
        f"gated defaults {np.mean(acc['gated']):.4f} ({seconds['gated']:.1f} s)  "
        f"splits gated >= NTK {wins}/{n_splits}",
        flush=True,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="iris,wine,breast_cancer,digits")
    ap.add_argument("--splits", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    for name in args.datasets.split(","):
        compare(name.strip(), args.splits)


if __name__ == "__main__":
    main()
