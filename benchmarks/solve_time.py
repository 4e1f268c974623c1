"""Wall time of one ``fixntk.solve`` on a planted problem, best of several runs, with a
digest of the coefficients (an A/B of two builds: same digest = bit-identical results).

Run each build alternately on a pinned core, e.g. (issue 19, part 3b: the interrupt
polls must not cost time)::

    flock /tmp/bench.lock taskset -c 0 python benchmarks/solve_time.py --problem S1
    PYTHONPATH=/path/to/other/src flock /tmp/bench.lock taskset -c 0 \\
        python benchmarks/solve_time.py --problem S1
"""

import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _args import (  # noqa: E402
    DefaultsFormatter,
    fraction,
    positive_int,
    run_script,
)
from problems import (  # noqa: E402
    LAM_RATIO,
    LOSSES,
    PROBLEMS,
    pin_threads,
    planted_problem,
)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "--problem", default="S1", choices=list(PROBLEMS), help="planted problem"
    )
    ap.add_argument("--loss", default="squared", choices=LOSSES, help="the datafit")
    ap.add_argument(
        "--tol", type=fraction, default=1e-6, help="relative duality gap to reach"
    )
    ap.add_argument(
        "--lam-ratio",
        type=fraction,
        default=LAM_RATIO,
        help="lam as a fraction of lam_max",
    )
    ap.add_argument(
        "--repeat", type=positive_int, default=5, help="solves timed, best kept"
    )
    ap.add_argument(
        "--threads", type=positive_int, default=1, help="threads of every runtime"
    )
    args = ap.parse_args(argv)
    pin_threads(args.threads, override=True)
    import fixntk

    X, y, arr, lam = planted_problem(
        **PROBLEMS[args.problem], lam_ratio=args.lam_ratio, loss=args.loss
    )
    fixntk.solve(X, y, arr, lam, loss=args.loss, tol=args.tol)  # compile, warm caches
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = fixntk.solve(X, y, arr, lam, loss=args.loss, tol=args.tol)
        best = min(best, time.perf_counter() - t0)
    digest = hashlib.sha256(res.coef.tobytes()).hexdigest()[:16]
    print(
        f"{args.problem} {args.loss} lam {args.lam_ratio:g} lam_max, tol {args.tol:g}: "
        f"best of {args.repeat} "
        f"{best:.3f} s, {res.n_iter} epochs, relative gap {res.relative_gap:.3e} "
        f"(absolute {res.gap:.3e}), coef {digest} "
        f"({os.path.dirname(fixntk.__file__)})"
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
