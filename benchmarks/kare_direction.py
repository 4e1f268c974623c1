"""KARE and the test error along KARE's first descent direction from the NTK.

Small steps lower both; farther on KARE keeps falling while the test error turns up
(with 1000 gates: t = 0.3 is the best test MSE, 0.0581 against the NTK's 0.0682, and
at t = 3 KARE is lower still, 0.0692 against 0.0870, with a test MSE of 0.0671): a
descent that follows KARE alone overshoots, which is why :func:`fixntk.kare_mkl`
guards its iterates with held-out rows.

On a planted ReLU teacher (n = 500, d = 5, 3 neurons, 10% training noise, noise-free
test targets on 2000 points; X extended by a column of ones), start at the
closed-form NTK and add the sampled masking kernels along the negative KARE
gradient at the NTK (the direction :func:`fixntk.kare_mkl`'s first step takes,
normalised to the NTK's trace times t), re-selecting lam by KARE at each point.
Prints KARE and test MSE against t for 100 and 1000 gates (``--gates``).

    python -m benchmarks.kare_direction          # from the repository root
    python -m benchmarks.kare_direction --gates 100
"""

import argparse
import os
import sys

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits

import fixntk
from fixntk._kare_mkl import _best_lam, _LogKare
from fixntk._kernels import masking_kernel

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._args import RawDefaultsFormatter, positive_ints, run_script  # noqa: E402
from benchmarks.kare_vs_ntk import teacher  # noqa: E402


def along_direction(n_gates, steps=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)):
    """(t, KARE, test MSE) at each step t, or None where KARE's gradient at the NTK
    is >= 0 on every sampled mask (no descent direction)."""
    X, y, Z, f = teacher(500, 5, 3, 0)
    X, Z = (np.hstack([A, np.ones((A.shape[0], 1))]) for A in (X, Z))
    n = X.shape[0]
    arr = fixntk.sample_arrangement(X, n_gates, seed=0)
    K_ntk, K_ntk_z = fixntk.ntk_kernel(X), fixntk.ntk_kernel(X, Z)
    XXt, XZt, masks_z = X @ X.T, X @ Z.T, arr.apply(Z)
    lam0, _ = _best_lam(K_ntk, y[:, None])
    _, g_eta, _, _ = _LogKare(X, y[:, None], arr.masks, K_ntk)(np.zeros(arr.p), lam0)
    trace_i = arr.masks.T.astype(float) @ (X**2).sum(axis=1)
    direction = np.maximum(-g_eta, 0.0) / trace_i  # the projected steepest descent
    if not direction.any():  # KARE rises along every sampled mask (1-2 gates)
        return None
    direction *= np.trace(K_ntk) / (direction @ trace_i)  # trace of the NTK
    rows = []
    for t in steps:
        eta = t * direction
        K = K_ntk + masking_kernel(XXt, arr.masks, eta)
        lam, value = _best_lam(K, y[:, None])
        a = linalg.solve(K + n * lam * np.eye(n), y, assume_a="pos")
        pred = (K_ntk_z + masking_kernel(XZt, arr.masks, eta, masks_z)).T @ a
        rows.append((t, value, float(((pred - f) ** 2).mean())))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=RawDefaultsFormatter
    )
    ap.add_argument(
        "--gates",
        type=positive_ints,
        default="100,1000",
        help="comma-separated gate counts",
    )
    args = ap.parse_args(argv)
    gates = args.gates
    with threadpool_limits(limits=1, user_api="blas"):
        for n_gates in gates:
            rows = along_direction(n_gates)
            if rows is None:  # (its NaN weights printed the NTK's values for every t)
                print(
                    f"{n_gates} gates: no descent direction (KARE's gradient at the "
                    "NTK is >= 0 on every sampled mask); more gates sample more"
                )
                continue
            print(f"{n_gates} gates:   t     KARE   test MSE")
            for t, value, mse in rows:
                print(f"{'':>12}{t:>6g}{value:>9.4f}{mse:>11.4f}", flush=True)


if __name__ == "__main__":
    sys.exit(run_script(main))
