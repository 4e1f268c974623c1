"""S1 with the build of the compiled core that this process imports (fixntk._cpu).

Prints the build, the best wall time of ``--repeat`` solves of S1
(``planted_problem(5000, 20, 500)``, ``fixntk.solve(..., tol=1e-6)``, one thread) and
the epochs. To compare builds, run it once per build, alternating, and compare the
best times (on a shared machine only the best of several runs means anything):

    python benchmarks/isa_builds.py                    # the default build (x86-64-v3)
    FIXNTK_CPU=x86-64 python benchmarks/isa_builds.py  # the baseline build
    PYTHONPATH=/path/to/native/src python benchmarks/isa_builds.py
        # a FIXNTK_NATIVE=1 build made in place in another clone

Instruction counts do not depend on the load (a problem built before counting starts,
only the solver counted):

    valgrind --tool=callgrind --toggle-collect='*GroupLassoBCD*run*' \\
        python benchmarks/isa_builds.py --repeat 1
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._args import DefaultsFormatter, positive_int, run_script  # noqa: E402
from benchmarks.problems import PROBLEMS, pin_threads, planted_problem  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=5,
        help="solves timed, best kept (default 5)",
    )
    parser.add_argument(
        "--problem",
        default="S1",
        choices=sorted(PROBLEMS),
        help="planted problem of problems.py (default S1)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="threads of every runtime (default 1)",
    )
    args = parser.parse_args(argv)
    pin_threads(args.threads, override=True)

    import fixntk
    from fixntk import _cpu

    X, y, arr, lam = planted_problem(**PROBLEMS[args.problem])
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        res = fixntk.solve(X, y, arr, lam, tol=1e-6)
        times.append(time.perf_counter() - start)
    print(
        f"{args.problem} build {_cpu.build:10s} best {min(times):.3f} s of "
        f"{args.repeat} (all: {' '.join(f'{t:.3f}' for t in times)})  epochs "
        f"{res.n_iter}  objective {res.objective:.12e}  converged {res.converged}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
