"""Small lam (issue 19, part 3): ``fixntk.solve`` at 1e-3 ... 1e-6 lambda_max, with the
kernel route (the default) and with block coordinate descent alone.

Problems: the planted benchmark problems of ``problems.py`` (S1 by default) and a
Toeplitz design with duplicated columns and rows (n = 500, d = 13, p <= 200), the
issue's kind of example. For each (problem, ratio, route): time, epochs, kernel-route
steps, relative gap, converged. ``route on``: ``fixntk.solve`` as it ships, which may
leave block coordinate descent for the kernel route at small lam; ``route off``: block
coordinate descent alone (the kernel route disabled). ``irls``: the steps taken on the
kernel route (``fixntk.irls`` warm-started from the descent's group norms: ``n_irls``
of the result; 0 when the route was not taken).

``--loss logistic``: the labels' signs (the planted problems' ``planted_labels``; the
Toeplitz targets above or below their median) and the logistic loss, whose proximal
Newton steps take the same route once their inner descents have missed for about its
cost.

    taskset -c 0 python benchmarks/small_lam.py --problems T,S1 --ratios 1e-3,1e-4
    taskset -c 0 python benchmarks/small_lam.py --loss logistic --ratios 1e-2,1e-3
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._args import (  # noqa: E402
    DefaultsFormatter,
    comma_list,
    names,
    positive_int,
    ratio,
    run_script,
)
from benchmarks.problems import (  # noqa: E402
    PROBLEMS,
    pin_threads,
    planted_problem,
    toeplitz_problem,
)


def run(X, y, arr, lam, route, max_iter, loss):
    import fixntk
    from fixntk import _solver

    saved = _solver._KERNEL_ROUTE_ORDER
    if not route:
        _solver._KERNEL_ROUTE_ORDER = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            res = fixntk.solve(X, y, arr, lam, max_iter=max_iter, loss=loss)
            return time.perf_counter() - t, res
    finally:
        _solver._KERNEL_ROUTE_ORDER = saved


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "--problems",
        type=names(("T", *PROBLEMS)),
        default="T,S1",
        help=f"comma-separated: T and/or names in problems.py ({', '.join(PROBLEMS)})",
    )
    ap.add_argument(
        "--ratios",
        type=comma_list(ratio),
        default="1e-3,1e-4,1e-6",
        help="comma-separated lam / lambda_max values, each in (0, 1]",
    )
    ap.add_argument(
        "--max-iter", type=positive_int, default=100_000, help="epoch cap of each solve"
    )
    ap.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="threads of every runtime (default 1)",
    )
    ap.add_argument("--no-descent-only", action="store_true", help="skip route off")
    ap.add_argument(
        "--loss", default="squared", choices=("squared", "logistic"), help="datafit"
    )
    args = ap.parse_args(argv)
    pin_threads(args.threads, override=True)
    import fixntk

    print(
        f"{'problem':8s} {'ratio':>7s} {'route':>5s} {'time s':>8s} {'epochs':>7s} "
        f"{'irls':>4s} {'rel gap':>9s} conv"
    )
    print("  (route: the kernel route on / off (descent alone); irls: its steps)")
    for name in args.problems:
        if name == "T":
            X, y, arr = toeplitz_problem()
            if args.loss == "logistic":
                y = np.where(y > np.median(y), 1.0, -1.0)
        else:
            X, y, arr, _ = planted_problem(**PROBLEMS[name], loss=args.loss)
        lmax = fixntk.lambda_max(X, y, arr, loss=args.loss)
        for lam_ratio in args.ratios:
            for route in (True, False)[: 1 if args.no_descent_only else 2]:
                dt, r = run(
                    X, y, arr, lam_ratio * lmax, route, args.max_iter, args.loss
                )
                print(
                    f"{name:8s} {lam_ratio:7.0e} {'on' if route else 'off':>5s} "
                    f"{dt:8.2f} "
                    f"{r.n_iter:7d} {r.n_irls:4d} {r.relative_gap:9.2e} {r.converged}",
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(run_script(main))
