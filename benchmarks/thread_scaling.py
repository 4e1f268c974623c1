"""Speed-up of the parallel kernels from 1 to 2 (or more) threads.

``sample_arrangement`` and ``ntk_weights`` on Gaussian data (the planted problems' X:
d = 20, and the shapes of S2 and S3, ``sample_arrangement`` drawing their p gates and
``ntk_weights`` its default 10^6 directions), and ``solve`` on the planted problems S1,
S2 and S3 (to a certified relative gap of 1e-6). The ``size`` column counts gates drawn
for ``sample_arrangement``, sampled directions for ``ntk_weights`` and groups p for
``solve``; the timings are the best seconds per call, each call timed in a fresh
process whose thread count is pinned through the environment (``NUMBA_NUM_THREADS``,
``OMP_NUM_THREADS``; BLAS on one thread) and, where ``taskset`` exists, by CPU
affinity: t threads run on the first t cores this process may use
(``os.sched_getaffinity``; under ``taskset -c 2,3``, ``-c 2`` against ``-c 2,3``), and
thread counts above the number of those cores are refused. The processes of the thread
counts alternate, ``--repeat`` rounds, and the best time of each is kept (the machine
may be shared). Results are bit-identical for every thread count; the script checks
that too.

Run from the repository root::

    python benchmarks/thread_scaling.py --quick           # small sizes, seconds
    python benchmarks/thread_scaling.py                   # n = 1000 .. 20000
    python benchmarks/thread_scaling.py --threads 1,2,4 --repeat 5 --json t.json
"""

import argparse
import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    RawDefaultsFormatter,
    names,
    output_file,
    positive_int,
    positive_ints,
    run_script,
)
from problems import PROBLEMS, THREAD_VARS  # noqa: E402

D = 20
SOLVED = ("S1", "S2", "S3")  # the planted problems of the "solve" job
# rows (n, size, d) of each job
ROWS = (1000, 5000, 20000)
SHAPES = [PROBLEMS[k] for k in ("S2", "S3")]
FULL = {
    "sample_arrangement": [(n, g, D) for n in ROWS for g in (1000, 10000)]
    + [(P["n"], P["p"], P["d"]) for P in SHAPES],
    "ntk_weights": [(n, s, D) for n in ROWS for s in (10**5, 10**6)]
    + [(P["n"], 10**6, P["d"]) for P in SHAPES],
    "solve": [(PROBLEMS[k]["n"], PROBLEMS[k]["p"], PROBLEMS[k]["d"]) for k in SOLVED],
}
QUICK = {
    "sample_arrangement": [(1000, 1000, D), (5000, 2000, D)],
    "ntk_weights": [(1000, 10**5, D)],
    "solve": [(PROBLEMS["S1"]["n"], PROBLEMS["S1"]["p"], PROBLEMS["S1"]["d"])],
}


def solved_problem(n, p):
    """The name of the planted problem of the "solve" job with n rows and p groups."""
    return next(k for k in SOLVED if (PROBLEMS[k]["n"], PROBLEMS[k]["p"]) == (n, p))


NTK_GATES = 2000  # gates of the arrangement whose NTK weights are estimated


def worker(job, n, size, d, reps):
    """Time `reps` calls in this process; print one JSON line."""
    if job not in FULL:
        raise ValueError(f"unknown job {job!r}; the jobs: {', '.join(FULL)}")
    import numpy as np
    from problems import planted_data

    import fixntk

    if job == "solve":
        from problems import planted_problem

        X, y, arr, lam = planted_problem(**PROBLEMS[solved_problem(n, size)])
        small = fixntk.sample_arrangement(X[:500], 10, seed=0)
        fixntk.solve(X[:500], y[:500], small, lam)  # load the kernels

        def call():
            res = fixntk.solve(X, y, arr, lam, tol=1e-6)
            if not res.converged:
                raise RuntimeError("the solve did not reach its tolerance")
            return (res.coef,)

    else:
        X, _ = planted_data(n, d, seed=0)
    if job == "sample_arrangement":
        fixntk.sample_arrangement(X[:100], 100, seed=1)  # load the kernels

        def call():
            arr = fixntk.sample_arrangement(X, size, seed=1)
            return arr.words, arr.gates, arr.counts

    elif job == "ntk_weights":
        arr = fixntk.sample_arrangement(X, NTK_GATES, seed=1)
        fixntk.ntk_weights(X[:100], arr.masks[:100], 1000, seed=0)

        def call():
            est = fixntk.ntk_weights(X, arr, n_samples=size, seed=2)
            return est.eta, np.array([est.missing_mass, est.zero_mass])

    times = []
    for _ in range(reps):
        # the garbage of the imports and the last call collected before the clock
        # starts (as pyperf does): a full collection due in a fresh process (about
        # 0.1 s with scikit-learn and Numba loaded) fell inside the first calls and
        # was timed as the kernel's (sample_arrangement, 10^4 gates on 1000 rows: 2
        # threads 0.126 s against 0.020 s)
        gc.collect()
        t = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - t)
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in out))
    print(json.dumps({"times": times, "digest": digest.hexdigest()[:16]}), flush=True)


def allowed_cores():
    """The cores this process may run on, in increasing order (None: unknown)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def worker_cores(allowed, threads):
    """The cores of a worker with ``threads`` threads: the first ``threads`` of the
    ``allowed`` ones (so the runs stay inside the caller's affinity or cpuset)."""
    allowed = sorted(allowed)
    if threads < 1:
        raise ValueError(f"thread counts must be >= 1, not {threads}")
    if threads > len(allowed):
        raise ValueError(
            f"{threads} threads need {threads} cores, but this process may use only "
            f"{len(allowed)} (cores {','.join(map(str, allowed))})"
        )
    return allowed[:threads]


def run_worker(job, n, size, d, threads, reps, cores=None):
    """One worker process; ``cores``: the cores to pin it to with taskset (None:
    by the environment only)."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    env["NUMBA_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", job]
    cmd += ["--n", str(n), "--size", str(size), "--d", str(d), "--reps", str(reps)]
    if cores is not None:
        cmd = ["taskset", "-c", ",".join(map(str, cores))] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-15:])
        raise SystemExit(
            f"thread_scaling: the {job} worker (n={n}, size={size}, {threads} "
            f"threads) failed with exit code {out.returncode}:\n  {' '.join(cmd)}\n"
            f"{tail}"
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=RawDefaultsFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument(
        "--threads",
        type=positive_ints,
        default="1,2",
        help="comma-separated thread counts (default 1,2)",
    )
    ap.add_argument("--repeat", type=positive_int, default=3, help="alternating rounds")
    ap.add_argument(
        "--reps", type=positive_int, default=2, help="calls timed per process"
    )
    ap.add_argument(
        "--jobs",
        type=names(FULL),
        default="sample_arrangement,ntk_weights,solve",
        help=f"comma-separated jobs to time ({', '.join(FULL)})",
    )
    ap.add_argument("--no-taskset", action="store_true", help="pin by environment only")
    ap.add_argument(
        "--json", type=output_file, help="also write the results to this JSON file"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--d", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.n, args.size, args.d, args.reps)
        return 0

    threads = args.threads
    allowed = allowed_cores()
    pins = {t: None for t in threads}
    if allowed is not None:  # refused even with --no-taskset: a meaningless speed-up
        try:
            pins = {t: worker_cores(allowed, t) for t in threads}
        except ValueError as exc:
            ap.error(f"--threads {','.join(map(str, threads))}: {exc}")
    if args.no_taskset or not shutil.which("taskset"):
        pins = {t: None for t in threads}
    use_taskset = pins[threads[0]] is not None
    grid = QUICK if args.quick else FULL
    jobs = args.jobs
    unit = {"sample_arrangement": "gates", "ntk_weights": "samples", "solve": "groups"}
    print(
        f"best of {args.repeat} alternating processes x {args.reps} calls; "
        "pinned by "
        + (
            f"taskset (cores {','.join(map(str, pins[max(threads)]))}) and "
            if use_taskset
            else ""
        )
        + "environment"
    )
    head = "".join(f"{f'{t} thr [s]':>12s}" for t in threads)
    ratios = "".join(f"{f'x {t}':>8s}" for t in threads[1:])
    print("size: gates (sample_arrangement), directions (ntk_weights), groups (solve)")
    print(f"{'job':20s} {'n':>7s} {'d':>4s} {'size':>9s}{head}{ratios}  same result")
    results = []
    for job in jobs:
        for n, size, d in grid[job]:
            best = {t: float("inf") for t in threads}
            digests = set()
            for _ in range(args.repeat):
                for t in threads:
                    rec = run_worker(job, n, size, d, t, args.reps, pins[t])
                    best[t] = min(best[t], min(rec["times"]))
                    digests.add(rec["digest"])
            speedups = {t: best[threads[0]] / best[t] for t in threads[1:]}
            row = "".join(f"{best[t]:12.3f}" for t in threads)
            row += "".join(f"{speedups[t]:8.2f}" for t in threads[1:])
            same = "yes" if len(digests) == 1 else "NO"
            print(f"{job:20s} {n:7d} {d:4d} {size:9d}{row}  {same}", flush=True)
            results.append(
                dict(
                    job=job,
                    n=n,
                    d=d,
                    size=size,
                    size_unit=unit[job],
                    best=best,
                    speedup=speedups,
                    identical=len(digests) == 1,
                )
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": threads, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
