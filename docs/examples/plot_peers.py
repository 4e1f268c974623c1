"""
fixntk against a peer solver
============================

Every solver is judged by the same certificate: fixntk's duality gap, in fixntk's
scaling. skglm's ``GroupLasso`` solves the same group lasso on the materialised
:math:`n \\times pd` design :math:`[D_1 X, \\dots, D_p X]`, which fixntk never forms.
skglm is optional: without it this example says so and shows fixntk alone. The full
comparison (skglm, celer, adelie, scnn) is ``benchmarks/compare_peers.py``.
"""

import time

import numpy as np

import fixntk

rng = np.random.default_rng(0)
n, d = 500, 5
X = rng.standard_normal((n, d))
y = np.maximum(X @ rng.standard_normal((d, 3)), 0).sum(axis=1)
arr = fixntk.sample_arrangement(X, n_gates=60, seed=0)
lam = 0.1 * fixntk.lambda_max(X, y, arr)
f0 = 0.5 * float(y @ y) / n

# Each solver runs once untimed first: skglm compiles its Numba kernels on its first
# call (seconds), which is not solve time (timed cold, it looked 3700x slower than
# fixntk instead of about 7x).
rows = []
fixntk.solve(X, y, arr, lam, tol=1e-8)
t0 = time.perf_counter()
res = fixntk.solve(X, y, arr, lam, tol=1e-8)
rows.append(("fixntk", time.perf_counter() - t0, res.coef))

try:
    from skglm import GroupLasso
except ImportError:
    print("skglm is not installed (pip install skglm): fixntk alone below")
else:
    masks = arr.masks
    design = (masks[:, :, None] * X[:, None, :]).reshape(n, -1)

    def fit_peer():
        return GroupLasso(
            groups=d, alpha=lam, tol=1e-10, max_iter=1000, fit_intercept=False
        ).fit(design, y)

    fit_peer()
    t0 = time.perf_counter()
    peer = fit_peer()
    rows.append(("skglm", time.perf_counter() - t0, peer.coef_.reshape(arr.p, d)))

print(f"{'solver':<8}{'seconds':>9}{'objective':>14}{'certified gap / F(0)':>22}")
for name, seconds, W in rows:
    obj = fixntk.objective(X, y, arr, W, lam)
    gap = fixntk.duality_gap(X, y, arr, W, lam) / f0
    print(f"{name:<8}{seconds:>9.3f}{obj:>14.8f}{gap:>22.1e}")
