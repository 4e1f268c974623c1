import threading

import numpy as np
from conftest import interrupt_after_ready, planted

import fixntk

_LONG_SOLVE = r"""
import sys, numpy as np, fixntk
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 30))
y = np.maximum(X @ rng.standard_normal((30, 20)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 1500, seed=0)
lam = 1e-4 * fixntk.lambda_max(X, y, arr)
print("ready", flush=True)
try:
    fixntk.solve(X, y, arr, lam, tol=1e-14, max_iter=10**9)
    print("finished")
except KeyboardInterrupt:
    print("interrupted", flush=True)
# the process is still usable afterwards
small = fixntk.sample_arrangement(X[:200], 20, seed=0)
res = fixntk.solve(
    X[:200], y[:200], small, 0.1 * fixntk.lambda_max(X[:200], y[:200], small)
)
print("usable", res.converged, flush=True)
"""


def test_ctrl_c_interrupts_solve_and_leaves_process_usable():
    out, _ = interrupt_after_ready(_LONG_SOLVE)
    lines = out.split()
    assert "interrupted" in lines and "finished" not in lines
    assert "usable" in out and "True" in out


def test_concurrent_solves_in_threads_match_sequential():
    problems = []
    for seed in range(4):
        X, y = planted(n=600, d=5, seed=seed)
        arr = fixntk.sample_arrangement(X, 80, seed=seed)
        problems.append((X, y, arr, 0.05 * fixntk.lambda_max(X, y, arr)))
    sequential = [fixntk.solve(*p, tol=1e-9).coef for p in problems]
    results = [None] * len(problems)

    def work(i):
        results[i] = fixntk.solve(*problems[i], tol=1e-9).coef

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, results):
        np.testing.assert_array_equal(a, b)
