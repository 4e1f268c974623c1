"""fixntk.dask.ntk_weights on a LocalCluster against fixntk.ntk_weights in memory.

X (n, d) is standard normal, generated chunk by chunk on the workers
(``dask.array.random.default_rng(seed)``) and persisted there. The script samples
``--gates`` gates (``fixntk.dask.sample_arrangement``) and estimates the NTK weights of
their cells from ``--samples`` Gaussian directions with ``fixntk.dask.ntk_weights``,
reporting the wall time, the captured, missing and zero masses and the client's peak
resident memory. With ``--compare`` X is gathered on the client and the in-memory
``fixntk.ntk_weights`` runs on as many threads as there are workers: its time, and
whether the two estimates are equal (they should be, bit for bit).

    pip install ".[dask]"
    flock /tmp/bench.lock python benchmarks/dask_ntk.py --n 100000 --d 3 --compare
    flock /tmp/bench.lock python benchmarks/dask_ntk.py --n 100000 --d 20 --compare

In 3 dimensions the 64 screening rows cut the sphere coarsely: about a third of the
directions pass the screening on the client and are hashed and confirmed on the
workers (two passes over X); in 20 almost none pass. The captured mass is tiny in both
at this n (the cells are many more than the gates).
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import DefaultsFormatter, nonnegative_int, positive_int, run_script  # noqa: E402
from problems import require_dask, threads_text  # noqa: E402


def peak_rss_bytes():
    """Peak resident memory of this process (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument("--n", type=positive_int, default=100_000, help="rows")
    ap.add_argument("--d", type=positive_int, default=3, help="features")
    ap.add_argument("--gates", type=positive_int, default=500, help="gates sampled")
    ap.add_argument(
        "--samples",
        type=positive_int,
        default=10**6,
        help="Gaussian directions sampled",
    )
    ap.add_argument("--chunk", type=positive_int, default=25_000, help="rows per chunk")
    ap.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="LocalCluster processes (1 thread each)",
    )
    ap.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seed of the data, gates and directions",
    )
    ap.add_argument("--compare", action="store_true", help="also run in memory")
    args = ap.parse_args(argv)
    require_dask()

    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster, wait
    from threadpoolctl import threadpool_limits

    import fixntk
    import fixntk.dask

    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
    )
    client = Client(cluster)
    n, d = args.n, args.d
    X = da.random.default_rng(args.seed).standard_normal((n, d), chunks=(args.chunk, d))
    X = client.persist(X)
    wait(X)
    print(
        f"n = {n}, d = {d}, {len(X.chunks[0])} chunks, {args.workers} workers x 1 "
        f"thread ({threads_text(args.workers)}), {args.gates} gates, "
        f"{args.samples} directions"
    )
    with threadpool_limits(1):
        arr = fixntk.dask.sample_arrangement(X, args.gates, seed=args.seed)
        t0 = time.perf_counter()
        got = fixntk.dask.ntk_weights(X, arr, n_samples=args.samples, seed=args.seed)
        t_dask = time.perf_counter() - t0
    print(
        f"dask ntk_weights: {t_dask:.1f} s for p = {arr.p} masks; captured mass "
        f"{got.captured_mass:.4f}, missing {got.missing_mass:.4f}, zero "
        f"{got.zero_mass:.4f}; client peak memory {peak_rss_bytes() / 2**20:.0f} MiB"
    )
    if args.compare:
        Xm = dask.compute(X)[0]
        with threadpool_limits(args.workers):
            marr = fixntk.sample_arrangement(Xm, args.gates, seed=args.seed)
            t0 = time.perf_counter()
            ref = fixntk.ntk_weights(Xm, marr, n_samples=args.samples, seed=args.seed)
            t_mem = time.perf_counter() - t0
        same = np.array_equal(ref.eta, got.eta) and ref.missing_mass == got.missing_mass
        print(
            f"in memory ({threads_text(args.workers)}): {t_mem:.1f} s; equal "
            f"estimates: {same}; dask / in memory time {t_dask / t_mem:.2f}"
        )
    client.close()
    cluster.close()


if __name__ == "__main__":
    sys.exit(run_script(main))
