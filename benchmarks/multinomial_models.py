"""The multinomial Newton loop's model choice against the exact Newton model alone.

Bundled classification sets (StandardScaler, a column of ones, 100 gates, seed 0), the
multinomial loss with an intercept at 0.1, 0.01 and 0.001 lambda_max, solved to a
certified relative gap of 1e-6: seconds, epochs and Newton steps of the default loop
(per-row bound steps throughout on rows wider than 48 columns, as digits'; elsewhere
exact steps while their inner solves stay within budget, per-row bound steps where
they do not) and, with ``--exact``, of the exact model alone (no budget; slow: digits
at 1e-3 lambda_max takes minutes).

With ``--refit``, each solve instead starts where the estimators' refit starts: from
the solution on three quarters of the rows (to a relative gap of 1e-3, as the lam
search's solves) at the same lam; the default loop's model choice is then steered by
a warm start whose gap is mostly the dual's. ``--retry-cost inf`` turns off the
choice's retry of the exact model at equal cost (``_RETRY_COST``), ``--retry-gain
inf`` its retry a decade below a missed exact step (``_RETRY_GAIN``), for comparison.
``synthetic`` names ``make_classification`` with 10000 rows, 20 columns and 10
classes (10 informative columns, one cluster per class).

Run from the repository root, one thread pinned::

    taskset -c 0 python benchmarks/multinomial_models.py --exact
    taskset -c 0 python benchmarks/multinomial_models.py --datasets digits
    taskset -c 0 python benchmarks/multinomial_models.py --refit --datasets synthetic
"""

import argparse
import os
import sys
import time

import numpy as np
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

import fixntk
import fixntk._prox_newton as newton

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    DefaultsFormatter,
    comma_list,
    names,
    positive_float_or_inf,
    ratio,
    run_script,
)

# scikit-learn's bundled classification sets (load_NAME) and a synthetic 10-class one
DATASETS = ("iris", "wine", "breast_cancer", "digits", "synthetic")


def load(name):
    if name == "synthetic":
        return datasets.make_classification(
            10000,
            20,
            n_informative=10,
            n_classes=10,
            n_clusters_per_class=1,
            random_state=0,
        )
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def run(name, ratios, exact, refit):
    X, y = load(name)
    X = StandardScaler().fit_transform(X)
    X = np.hstack([X, np.ones((len(X), 1))])
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    kw = dict(loss="multinomial", fit_intercept=True)
    lmax = fixntk.lambda_max(X, y, arr, **kw)
    budget, width = newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS
    modes = [("default", budget, width)]
    if exact:
        modes.append(("exact", 10**12, np.inf))
    # the first three quarters of a shuffle: every class in it on these sets
    part = np.random.default_rng(0).permutation(len(y))[: 3 * len(y) // 4]
    for r in ratios:
        start = None
        if refit:
            start = fixntk.solve(
                X[part], y[part], arr.masks[part], r * lmax, tol=1e-3, **kw
            ).coef
        for label, b, w in modes:
            newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS = b, w
            t = time.perf_counter()
            res = fixntk.solve(X, y, arr, r * lmax, tol=1e-6, warm_start=start, **kw)
            dt = time.perf_counter() - t
            print(
                f"{name:14s} {r:7g} {label:8s} {dt:8.2f} s  epochs {res.n_iter:6d}  "
                f"newton {res.n_newton:4d}  rel gap {res.relative_gap:.1e}  "
                f"converged {res.converged}",
                flush=True,
            )
    newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS = budget, width


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "--datasets",
        type=names(DATASETS),
        default="iris,wine,digits",
        help=f"comma-separated names of {', '.join(DATASETS)}",
    )
    ap.add_argument(
        "--ratios",
        type=comma_list(ratio),
        default="0.1,0.01,0.001",
        help="comma-separated lam / lambda_max values, each in (0, 1]",
    )
    ap.add_argument("--exact", action="store_true", help="also the exact model alone")
    ap.add_argument(
        "--refit",
        action="store_true",
        help="start from the solution on three quarters of the rows, as a refit",
    )
    ap.add_argument(
        "--retry-cost",
        type=positive_float_or_inf,
        default=newton._RETRY_COST,
        help="the model choice's _RETRY_COST (inf: no retry at equal cost)",
    )
    ap.add_argument(
        "--retry-gain",
        type=positive_float_or_inf,
        default=newton._RETRY_GAIN,
        help="the model choice's _RETRY_GAIN (inf: no retry on the gap's fall)",
    )
    args = ap.parse_args(argv)
    newton._RETRY_COST = args.retry_cost
    newton._RETRY_GAIN = None if args.retry_gain == float("inf") else args.retry_gain
    ratios = args.ratios
    for name in args.datasets:
        run(name, ratios, args.exact, args.refit)


if __name__ == "__main__":
    sys.exit(run_script(main))
