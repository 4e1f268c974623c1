"""How many gates: test score and fit time of the gated ReLU estimators against
``n_gates``, beside the NTK, on real classification data and planted regressions.

Classification (75/25 stratified splits, seeds given by ``--seeds``, standardised X):
scikit-learn's bundled iris, wine, breast_cancer, digits, and three real datasets
shipped offline inside PyPI packages: statsmodels' ``anes96`` (1996 US election
survey, vote), ``fair`` (affairs > 0, 1000 rows drawn with seed 0) and palmerpenguins'
``penguins`` (species; rows with missing values dropped, island and sex one-hot).
Regression: planted ReLU teachers (n = 500, d in {5, 20}, 3 neurons, noise-free
test targets). For each ``n_gates`` (and each ``lam`` mode given) it fits
``GatedReLUClassifier`` / ``GatedReLURegressor`` with every other parameter at its
default and ``random_state=0``, and ``NTKClassifier()`` / ``NTKRegressor()``.

    pip install statsmodels palmerpenguins   # the extra datasets (optional)
    python benchmarks/n_gates.py [--gates 100,300,1000] [--lam kare,cv] [--seeds 0]

Prints one row per dataset (and split seed), one column per model (score, fit seconds),
then a row of the means over datasets.
One BLAS thread (the machine is shared).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import fixntk
from fixntk._estimators import _GATED_LAM_MODES

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    DefaultsFormatter,
    comma_list,
    names,
    nonnegative_int,
    positive_ints,
    run_script,
)


def _bundled(name):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _anes96():
    import statsmodels.api as sm

    d = sm.datasets.anes96.load_pandas().data
    return d.drop(columns=["vote"]).to_numpy(float), d["vote"].to_numpy()


def _fair():
    import statsmodels.api as sm

    d = sm.datasets.fair.load_pandas().data  # sorted by affairs: a random 1000
    d = d.iloc[np.random.default_rng(0).permutation(len(d))[:1000]]
    return d.drop(columns=["affairs"]).to_numpy(float), (d["affairs"] > 0).to_numpy()


def _penguins():
    import palmerpenguins
    import pandas as pd

    d = palmerpenguins.load_penguins().dropna()
    X = pd.get_dummies(d.drop(columns=["species"]), columns=["island", "sex"])
    return X.to_numpy(float), d["species"].to_numpy()


CLASSIFICATION = {
    "iris": lambda: _bundled("iris"),
    "wine": lambda: _bundled("wine"),
    "breast_cancer": lambda: _bundled("breast_cancer"),
    "digits": lambda: _bundled("digits"),
    "anes96": _anes96,
    "fair1000": _fair,
    "penguins": _penguins,
}


def classification_sets(names):
    for name in names:
        try:
            X, y = CLASSIFICATION[name]()
        except ImportError as exc:
            print(f"skipped {name}: {exc}")
            continue
        yield name, np.asarray(X, float), np.asarray(y)


def planted_sets():
    for d in (5, 20):
        rng = np.random.default_rng(d)
        X = rng.standard_normal((2500, d))
        f = np.maximum(X @ rng.standard_normal((d, 3)), 0).sum(axis=1)
        y = f + 0.1 * f.std() * rng.standard_normal(2500)
        yield f"planted d={d}", X[:500], y[:500], X[500:], f[500:]


def _model(name, classification):
    """``"NTK"`` or ``"gated <n_gates> <lam>"``: the estimator with its defaults."""
    if name == "NTK":
        return fixntk.NTKClassifier() if classification else fixntk.NTKRegressor()
    _, g, mode = name.split()
    if not classification:
        return fixntk.GatedReLURegressor(n_gates=int(g), lam=mode, random_state=0)
    # KARE scores kernel ridge: the classifier's squared loss (the paper's setting)
    loss = {"loss": "squared"} if mode == "kare" else {}
    return fixntk.GatedReLUClassifier(n_gates=int(g), lam=mode, random_state=0, **loss)


def _timed(model, X, y):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    parser.add_argument(
        "--gates",
        type=positive_ints,
        default="100,300,1000",
        help="comma-separated n_gates values",
    )
    parser.add_argument(
        "--lam",
        type=names(_GATED_LAM_MODES),
        default="auto",
        help=f"comma-separated lam modes of {', '.join(_GATED_LAM_MODES)} ('kare' "
        "fits the classifier with loss='squared', which KARE scores)",
    )
    parser.add_argument(
        "--seeds",
        type=comma_list(nonnegative_int),
        default="0",
        help="comma-separated split seeds",
    )
    parser.add_argument(
        "--datasets",
        type=names(CLASSIFICATION),
        default=",".join(CLASSIFICATION),
        help=f"comma-separated classification sets ({', '.join(CLASSIFICATION)})",
    )
    parser.add_argument(
        "--no-planted", action="store_true", help="skip the planted regressions"
    )
    args = parser.parse_args(argv)
    gates = args.gates
    modes = args.lam
    seeds = args.seeds
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    models = ["NTK"] + [f"gated {g} {m}" for g in gates for m in modes]
    scores = {m: [] for m in models}
    times = {m: [] for m in models}
    t_start = time.perf_counter()
    print(f"{'dataset':<16}{'seed':>5}  " + "".join(f"{m:>22}" for m in models))
    with threadpool_limits(limits=1, user_api="blas"):
        for name, X, y in classification_sets(args.datasets):
            for seed in seeds:
                Xa, Xb, ya, yb = train_test_split(
                    X, y, test_size=0.25, random_state=seed, stratify=y
                )
                sc = StandardScaler().fit(Xa)
                Xa, Xb = sc.transform(Xa), sc.transform(Xb)
                row = []
                for m in models:
                    est = _model(m, True)
                    sec = _timed(est, Xa, ya)
                    acc = est.score(Xb, yb)
                    scores[m].append(acc)
                    times[m].append(sec)
                    row.append(f"{acc:>14.3f} {sec:>6.1f}s")
                print(f"{name:<16}{seed:>5}  " + "".join(row), flush=True)
        n_cls = len(scores["NTK"])
        if n_cls:
            print(
                f"{'mean accuracy':<23}"
                + "".join(
                    f"{np.mean(scores[m]):>14.3f} {np.mean(times[m]):>6.1f}s"
                    for m in models
                )
            )
        elif args.no_planted:
            parser.error(
                "every dataset chosen was skipped (their packages are not installed) "
                "and --no-planted leaves nothing to run"
            )
        else:
            print("no classification set ran (their packages are not installed)")
        if not args.no_planted:
            for name, X, y, Xt, ft in planted_sets():
                row = []
                for m in models:
                    est = _model(m, False)
                    sec = _timed(est, X, y)
                    mse = float(((est.predict(Xt) - ft) ** 2).mean())
                    row.append(f"{mse:>14.4g} {sec:>6.1f}s")
                print(f"{name + ' mse':<23}" + "".join(row), flush=True)
    print(f"{n_cls} classification splits; total {time.perf_counter() - t_start:.1f}s")


if __name__ == "__main__":
    sys.exit(run_script(main))
