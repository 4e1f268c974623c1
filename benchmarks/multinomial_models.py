"""The multinomial Newton loop's model choice against the exact Newton model alone.

Bundled classification sets (StandardScaler, a column of ones, 100 gates, seed 0), the
multinomial loss with an intercept at 0.1, 0.01 and 0.001 lambda_max, solved to a
certified relative gap of 1e-6: seconds, epochs and Newton steps of the default loop
(per-row bound steps throughout on rows wider than 48 columns, as digits'; elsewhere
exact steps while their inner solves stay within budget, per-row bound steps where
they do not) and, with ``--exact``, of the exact model alone (no budget; slow: digits
at 1e-3 lambda_max takes minutes).

Run from the repository root, one thread pinned::

    taskset -c 0 python benchmarks/multinomial_models.py --exact
    taskset -c 0 python benchmarks/multinomial_models.py --datasets digits
"""

import argparse
import time

import numpy as np
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

import fixntk
import fixntk._prox_newton as newton


def run(name, ratios, exact):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X = np.hstack([X, np.ones((len(X), 1))])
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    kw = dict(loss="multinomial", fit_intercept=True)
    lmax = fixntk.lambda_max(X, y, arr, **kw)
    budget, width = newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS
    modes = [("default", budget, width)]
    if exact:
        modes.append(("exact", 10**12, np.inf))
    for r in ratios:
        for label, b, w in modes:
            newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS = b, w
            t = time.perf_counter()
            res = fixntk.solve(X, y, arr, r * lmax, tol=1e-6, **kw)
            dt = time.perf_counter() - t
            print(
                f"{name:14s} {r:7g} {label:8s} {dt:8.2f} s  epochs {res.n_iter:6d}  "
                f"newton {res.n_newton:4d}  rel gap {res.relative_gap:.1e}  "
                f"converged {res.converged}",
                flush=True,
            )
    newton._EXACT_BUDGET, newton._EXACT_GRAM_EPOCHS = budget, width


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--datasets",
        default="iris,wine,digits",
        help="comma-separated scikit-learn bundled classification sets",
    )
    ap.add_argument(
        "--ratios",
        default="0.1,0.01,0.001",
        help="comma-separated lam / lambda_max values",
    )
    ap.add_argument("--exact", action="store_true", help="also the exact model alone")
    args = ap.parse_args()
    ratios = [float(r) for r in args.ratios.split(",")]
    for name in args.datasets.split(","):
        run(name, ratios, args.exact)


if __name__ == "__main__":
    main()
