"""Does the NTK as one more group help the fixed NTK? Test error of the gated ReLU
group lasso solved by ``irls`` with and without ``ntk_group=True``.

Planted ReLU teachers (n = 300, d in {5, 20}, 3 and 10 neurons, seeds 0-2, 10%
training noise, noise-free test targets on 2000 points) and diabetes (75/25 splits,
seeds 0-2, standardised). 100 Gaussian gates (seed 0) on [x, 1]; for each variant
``lam`` is chosen among ``lam_max * {0.3, 0.1, 0.03, 0.01, 0.003}`` by 3-fold
cross-validation on the training part (same folds and gates for both), then refit on
the whole training part (relative duality gap 1e-4). Prints the test MSE of both and
of ``NTKRegressor()``, and the NTK group's weight at the chosen lam.

    python -m benchmarks.ntk_group          # from the repository root
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

import fixntk

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._args import run_script  # noqa: E402
from benchmarks.kare_vs_ntk import diabetes, teacher  # noqa: E402, F401

FRACTIONS = (0.3, 0.1, 0.03, 0.01, 0.003)


def _predict(fit, X_fit, Z, gates):
    W = fit.coef if fit.coef.ndim == 3 else fit.coef[:, :, None]
    out = np.einsum("mk,mkc->mc", Z @ gates.T >= 0, np.einsum("md,kdc->mkc", Z, W))
    if fit.ntk_coef is not None:
        b = fit.ntk_coef if fit.ntk_coef.ndim == 2 else fit.ntk_coef[:, None]
        out += fixntk.ntk_kernel(Z, X_fit) @ b
    return out[:, 0]


def _fit(X, y, gates, lam, ntk_group):
    arr = fixntk.Arrangement.from_masks(X @ gates.T >= 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fixntk.irls(X, y, arr, lam, tol=1e-4, ntk_group=ntk_group)


def fixed_ntk(X, y, Z, ntk_group, seed=0):
    """Test predictions of the CV-selected fit, its lam fraction and NTK weight."""
    X, Z = (np.hstack([A, np.ones((A.shape[0], 1))]) for A in (X, Z))
    arr = fixntk.sample_arrangement(X, 100, seed=seed)
    gates = arr.gates
    lmax = fixntk.lambda_max(X, y, arr)
    scores = np.zeros(len(FRACTIONS))
    for tr, va in KFold(3, shuffle=True, random_state=seed).split(X):
        for j, frac in enumerate(FRACTIONS):
            fit = _fit(X[tr], y[tr], gates, frac * lmax, ntk_group)
            scores[j] += ((_predict(fit, X[tr], X[va], gates) - y[va]) ** 2).sum()
    frac = FRACTIONS[int(np.argmin(scores))]
    fit = _fit(X, y, gates, frac * lmax, ntk_group)
    return _predict(fit, X, Z, gates), frac, fit.ntk_eta


def problems():
    for d in (5, 20):
        for k in (3, 10):
            for seed in range(3):
                yield f"planted d={d} k={k} seed={seed}", teacher(300, d, k, seed)
    for seed in range(3):
        yield f"diabetes seed={seed}", diabetes(seed)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.parse_args(argv)  # no options: --help only
    t0 = time.perf_counter()
    print(
        f"{'problem':<26}{'NTK':>9}{'fixed':>9}{'fixed+NTK':>11}{'ratio':>7}"
        f"{'lam/lmax':>10}{'eta_NTK':>9}"
    )
    ratios = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (X, y, Z, f) in problems():
            ntk = fixntk.NTKRegressor().fit(X, y)
            e_ntk = float(((ntk.predict(Z) - f) ** 2).mean())
            p0, _, _ = fixed_ntk(X, y, Z, False)
            p1, frac, w = fixed_ntk(X, y, Z, True)
            e0, e1 = (float(((p - f) ** 2).mean()) for p in (p0, p1))
            ratios.append(e1 / e0)
            print(
                f"{name:<26}{e_ntk:>9.4g}{e0:>9.4g}{e1:>11.4g}{e1 / e0:>7.3f}"
                f"{frac:>10g}{w:>9.3g}",
                flush=True,
            )
    r = np.array(ratios)
    print(
        f"\nfixed+NTK / fixed test MSE: median {np.median(r):.3f}, "
        f"better on {int((r < 1).sum())} of {r.size}; {time.perf_counter() - t0:.0f}s"
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
