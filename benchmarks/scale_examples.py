"""Issue 19, part 1: the scale examples, at s = 1, 1e100 and 1e-150.

X (60 x 4, planted ReLU teacher) and y scaled together by s. Each line prints a value
divided by its law (s^2 for lambda_max, gaps and path lams; s for predictions), so a
scale-equivariant fixntk prints the same numbers on each line as at s = 1, or a clear
error. Run: ``python benchmarks/scale_examples.py``.
"""

import argparse
import os
import sys
import warnings

import numpy as np

import fixntk

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._args import run_script  # noqa: E402


def planted(n=60, d=4, seed=7):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    H = np.maximum(X @ rng.standard_normal((d, 4)), 0)
    y = H.sum(axis=1)
    return X, y + 0.1 * y.std() * rng.standard_normal(n)


def show(name, f):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = f()
        extra = ""
        if caught:
            extra = f"  [{len(caught)} warning(s): {str(caught[0].message)[:70]}]"
        print(f"  {name:34s} {out}{extra}")
    except Exception as exc:  # noqa: BLE001 - the point is to print it
        print(f"  {name:34s} {type(exc).__name__}: {str(exc)[:90]}")


def at_scale(s, X0, y0, arr, lam1, W1, Z):
    X, y = X0 * s, y0 * s
    print(f"s = {s:g} (values / law)")
    show("lambda_max / s^2", lambda: fixntk.lambda_max(X, y, arr) / s / s)
    show(
        "duality_gap(0.9 W*) / s^2",
        lambda: fixntk.duality_gap(X, y, arr, W1, lam1 * s * s) / s / s,
    )

    def path():
        p = fixntk.solve_path(X, y, arr, n_lams=5)
        return f"lams {p.lams[[0, -1]] / s / s}  gaps {p.gaps[[0, -1]] / s / s}"

    def fitted(est):
        return f"lam_ {est.lam_ / s / s:.6g}  predict[:2] {est.predict(Z * s)[:2] / s}"

    def gated(lam):
        est = fixntk.GatedReLURegressor(
            n_gates=20, lam=lam, neuron_bias=False, fit_intercept=False, random_state=3
        )
        return fitted(est.fit(X, y))

    def ntk():
        est = fixntk.NTKRegressor(lam="kare", neuron_bias=False, fit_intercept=False)
        return fitted(est.fit(X, y))

    show("solve_path", path)
    show("GatedReLURegressor(lam='kare')", lambda: gated("kare"))
    show("GatedReLURegressor(lam='auto')", lambda: gated("auto"))
    show("NTKRegressor(lam='kare')", ntk)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.parse_args(argv)  # no options: --help only
    X0, y0 = planted()
    arr = fixntk.sample_arrangement(X0, 20, seed=3)
    lam1 = 0.05 * fixntk.lambda_max(X0, y0, arr)
    W1 = fixntk.solve(X0, y0, arr, lam1, tol=1e-10).coef * 0.9  # not the optimum
    Z = np.random.default_rng(8).standard_normal((5, 4))
    for s in (1.0, 1e100, 1e-150):
        at_scale(s, X0, y0, arr, lam1, W1, Z)


if __name__ == "__main__":
    sys.exit(run_script(main))
