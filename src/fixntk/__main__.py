"""Command line: ``fixntk demo`` (also ``python -m fixntk demo``)."""

import argparse
import sys
import time


def _demo(args):
    import numpy as np
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.preprocessing import StandardScaler

    import fixntk

    print("fixntk demo: the gated ReLU convex program on scikit-learn's bundled data")
    print(f"{'dataset':<16}{'n':>6}{'d':>4}{'p':>6}{'lam/lmax':>10}{'objective':>14}"
          f"{'rel. gap':>11}{'active':>8}{'time (s)':>10}")
    for name, loader in (("diabetes", load_diabetes), ("breast_cancer", load_breast_cancer)):
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        y = (y - y.mean()) / y.std()
        arr = fixntk.sample_arrangement(X, args.n_gates, seed=args.seed)
        lmax = fixntk.lambda_max(X, y, arr)
        t0 = time.perf_counter()
        res = fixntk.solve(X, y, arr, args.lam_ratio * lmax, tol=1e-6)
        dt = time.perf_counter() - t0
        print(f"{name:<16}{X.shape[0]:>6}{X.shape[1]:>4}{arr.p:>6}{args.lam_ratio:>10.3g}"
              f"{res.objective:>14.6e}{res.relative_gap:>11.2e}{res.active_set.size:>8}"
              f"{dt:>10.3f}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fixntk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="solve the convex program on bundled datasets")
    demo.add_argument("--n-gates", type=int, default=200)
    demo.add_argument("--lam-ratio", type=float, default=0.05)
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
