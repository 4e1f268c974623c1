"""fixntk on Dask: the arrangement, the NTK weights and the squared-loss solver on
row-chunked Dask collections, the rows and the masks staying on the workers.

Needs the optional extra ``pip install "fixntk[dask]"`` (``dask[distributed]``); the
core package never imports this module. Functions run on the active Dask scheduler
(a ``dask.distributed.Client`` when one is open)::

    from dask.distributed import Client, LocalCluster
    import dask.array as da
    import fixntk.dask

    if __name__ == "__main__":  # a script starting worker processes needs the guard
        cluster = LocalCluster(n_workers=2, threads_per_worker=1)
        with cluster, Client(cluster):  # both closed at the end
            X = da.random.standard_normal((10**6, 20), chunks=(10**5, 20))
            y = X[:, 0] - X[:, 1] ** 2
            arr = fixntk.dask.sample_arrangement(X, 500, seed=0)
            lam = 0.05 * fixntk.dask.lambda_max(X, y, arr)
            res = fixntk.dask.solve(X, y, arr, lam)
            print(res.objective, res.relative_gap, res.n_passes)
            eta = fixntk.dask.ntk_weights(X, arr, n_samples=10**5, seed=0).eta

Persist X first (``X = X.persist()``) when it is computed from other data: a solve
reads it about three times, an estimator's ``fit`` six or seven (its column
statistics, bias scale, arrangement, scales, chunk data, feature importances), and
``score`` four or five; a frame filtered from files, all of them each time (counted
by a tester: 11 reads of the source for a fit). Many small chunks cost Dask's
overhead on each read (12000 rows in 600 partitions fitted in 22.7 s, in 4 in 2.2 s):
``X.rechunk`` or ``repartition`` to chunks of 10^4 rows or more. Use threads (a
``LocalCluster`` as above, or Dask's default threaded scheduler), not
``dask.config.set(scheduler="processes")``: that scheduler starts a pool of
processes for each of the many small computations a solve makes (20000 rows: 197 s
against 1.7 s with threads, a tester's measurement).
"""

try:
    import dask  # noqa: F401
    import dask.array  # noqa: F401
except ImportError as err:  # pragma: no cover - the extra is missing
    raise ImportError(
        "fixntk.dask needs Dask: pip install 'fixntk[dask]' (dask[distributed])"
    ) from err

from ._arrangement import DaskArrangement, sample_arrangement
from ._ntk import ntk_weights
from ._solver import DaskPathResult, DaskSolveResult, lambda_max, solve, solve_path

__all__ = [
    "DaskArrangement",
    "DaskPathResult",
    "DaskSolveResult",
    "lambda_max",
    "ntk_weights",
    "sample_arrangement",
    "solve",
    "solve_path",
]
