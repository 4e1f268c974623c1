"""fixntk.dask on a LocalCluster: the arrangement and the solve of a planted problem
whose rows are generated chunk by chunk on the workers (never on the client).

X (n, d) is standard normal from ``dask.array.random.default_rng(seed)`` (each chunk
drawn by the worker that holds it), y a planted ReLU teacher with 5 neurons plus 10 %
noise, both persisted on the workers. The script samples ``--gates`` gates
(``fixntk.dask.sample_arrangement``), takes ``lam = --lam-ratio * lambda_max`` and
solves to relative duality gap ``--tol`` with ``fixntk.dask.solve``. It reports the
passes over the data, wall times, the client's peak resident memory and each worker's
(``ru_maxrss`` of each process; the workers are processes). With ``--compare`` the
same X is also gathered on the client and solved in memory by ``fixntk.solve``
(n = 10^6: 160 MB) and solved with as many threads as there are workers, for the
time ratio and the objectives within the two gaps.

    pip install ".[dask]"
    flock /tmp/bench.lock python benchmarks/dask_solve.py --n 1000000 --compare
    flock /tmp/bench.lock python benchmarks/dask_solve.py --n 20000000   # 3.2 GB of X

Each worker runs one thread (BLAS and the compiled core on one thread inside a chunk's
task); the client's inner solves use one BLAS thread.
"""

import argparse
import os
import resource
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    DefaultsFormatter,
    fraction,
    nonnegative_int,
    positive_int,
    ratio,
    run_script,
)
from problems import require_dask, threads_text  # noqa: E402


def peak_rss_bytes():
    """Peak resident memory of this process (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def planted(X, U, noise, seed, block_info=None):
    """A chunk's targets: the sum of 5 ReLU neurons plus Gaussian noise (from the
    chunk's own generator, seeded by the seed and the chunk's position)."""
    h = np.maximum(X @ U, 0.0).sum(axis=1)
    position = block_info[0]["chunk-location"][0] if block_info else 0
    rng = np.random.default_rng([seed, 1 + position])
    return h + noise * rng.standard_normal(h.shape)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument("--n", type=positive_int, default=1_000_000, help="rows")
    ap.add_argument("--d", type=positive_int, default=20, help="features")
    ap.add_argument("--gates", type=positive_int, default=500, help="gates sampled")
    ap.add_argument(
        "--chunk", type=positive_int, default=250_000, help="rows per chunk"
    )
    ap.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="LocalCluster processes (1 thread each)",
    )
    ap.add_argument(
        "--tol", type=fraction, default=1e-6, help="relative duality gap to reach"
    )
    ap.add_argument(
        "--lam-ratio",
        type=ratio,
        default=0.05,
        help="lam as a fraction of lam_max, in (0, 1]",
    )
    ap.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seed of the data, teacher and gates",
    )
    ap.add_argument("--compare", action="store_true", help="also solve in memory")
    args = ap.parse_args(argv)
    require_dask()

    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster, wait
    from threadpoolctl import threadpool_limits

    import fixntk
    import fixntk.dask

    dask.config.set({"distributed.worker.memory.terminate": False})
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        memory_limit=None,
    )
    client = Client(cluster)
    n, d = args.n, args.d
    rng = np.random.default_rng(args.seed)
    U = rng.standard_normal((d, 5)) / np.sqrt(d)
    t0 = time.perf_counter()
    X = da.random.default_rng(args.seed).standard_normal((n, d), chunks=(args.chunk, d))
    y = X.map_blocks(planted, U, 0.1, args.seed, drop_axis=1, dtype=np.float64)
    X, y = client.persist([X, y])
    wait([X, y])
    t_data = time.perf_counter() - t0
    print(
        f"n = {n}, d = {d}, {len(X.chunks[0])} chunks of <= {args.chunk} rows, "
        f"{args.workers} workers x 1 thread ({threads_text(args.workers)}); "
        f"X {X.nbytes / 2**30:.2f} GiB generated on the workers in {t_data:.1f} s"
    )

    with threadpool_limits(1):
        t0 = time.perf_counter()
        arr = fixntk.dask.sample_arrangement(X, args.gates, seed=args.seed)
        t_arr = time.perf_counter() - t0
        print(f"arrangement: p = {arr.p} masks from {args.gates} gates, {t_arr:.1f} s")
        t0 = time.perf_counter()
        lmax = fixntk.dask.lambda_max(X, y, arr)
        t_lmax = time.perf_counter() - t0
        lam = args.lam_ratio * lmax
        print(f"lambda_max = {lmax:.6g} ({t_lmax:.1f} s); lam = {lam:.6g}")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            res = fixntk.dask.solve(X, y, arr, lam, tol=args.tol)
        t_solve = time.perf_counter() - t0
    workers = client.run(peak_rss_bytes)
    n_grad = res.n_passes - 2 - res.n_gram_passes
    t_grad = res.pass_seconds - res.gram_seconds
    print(
        f"dask solve: {t_solve:.1f} s, {res.n_passes} passes over the data (2 setup, "
        f"{n_grad} gradient, {res.n_gram_passes} Gram; {res.n_outer} outer "
        f"iterations, {res.n_iter} client epochs); gradient passes {t_grad:.1f} s "
        f"({t_grad / max(n_grad, 1) / n * 1e9:.0f} ns per row per pass), Gram passes "
        f"{res.gram_seconds:.1f} s, client {t_solve - res.pass_seconds:.1f} s; "
        f"objective {res.objective:.10e}, relative gap {res.relative_gap:.2e}, "
        f"converged {res.converged}, {res.active_set.size} active groups"
    )
    print(f"client peak memory: {peak_rss_bytes() / 2**20:.0f} MiB")
    for addr, rss in sorted(workers.items()):
        print(f"worker {addr} peak memory: {rss / 2**20:.0f} MiB")

    if args.compare:
        Xm, ym = dask.compute(X, y)
        with threadpool_limits(args.workers):  # as many cores as the workers have
            marr = fixntk.sample_arrangement(Xm, args.gates, seed=args.seed)
            same = marr.p == arr.p and np.array_equal(marr.gates, arr.gates)
            t0 = time.perf_counter()
            ref = fixntk.solve(Xm, ym, marr, lam, tol=args.tol)
            t_mem = time.perf_counter() - t0
        diff = abs(ref.objective - res.objective)
        print(
            f"in memory ({threads_text(args.workers)}): {t_mem:.1f} s, objective "
            f"{ref.objective:.10e}, "
            f"relative gap {ref.relative_gap:.2e}; same arrangement: {same}; "
            f"|difference| {diff:.2e} <= gaps {ref.gap + res.gap:.2e}: "
            f"{diff <= ref.gap + res.gap}; dask / in memory time {t_solve / t_mem:.2f}"
        )
    client.close()
    cluster.close()


if __name__ == "__main__":
    sys.exit(run_script(main))
