"""fixntk's gated ReLU estimators against scikit-learn's models: fit time, test score.

Defaults against defaults: ``GatedReLUClassifier()`` / ``GatedReLURegressor()`` with
fixntk's defaults, and scikit-learn's ``MLPClassifier`` / ``MLPRegressor``, ``SVC`` /
``SVR`` and ``HistGradientBoostingClassifier`` / ``...Regressor`` with theirs (only
``random_state=0`` set where a model takes one, which fixes its draws and changes no
algorithm). Every model is ``make_pipeline(StandardScaler(), model)``.

Data: ``make_classification`` and ``make_regression`` (``noise=10``) (n in {20000,
100000} by default, d in {20, 100}; seed 0) and scikit-learn's bundled datasets
(iris, wine, breast_cancer, digits: classification; diabetes: regression), each
split 75/25
(stratified for classification, ``random_state=0``). The score is ``model.score`` on
the test part: accuracy, or R^2. For fixntk the certificate of the final fit is shown
too: its relative duality gap (``relative_gap_``, the gap over the null model's
objective: the quantity ``tol`` bounds, with the tol beside it), and the lam it
chose.

Each fit runs in its own process (a crash, a ``MemoryError`` or ``--timeout`` is
reported in the table and the rest goes on); thread counts are each library's defaults
unless ``--threads`` pins them through the environment. Timings on a shared machine
are noisy: for the table of record, run on a quiet machine.

Run from the repository root::

    python benchmarks/compare_sklearn.py --quick            # small sizes, minutes
    python benchmarks/compare_sklearn.py                    # the full table
    python benchmarks/compare_sklearn.py --n 20000 --models fixntk,mlp --json out.json
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    RawDefaultsFormatter,
    comma_list,
    names,
    nonnegative_int,
    output_file,
    positive_float,
    positive_int,
    positive_ints,
    run_script,
)
from problems import THREAD_VARS  # noqa: E402

MODELS = ("fixntk", "mlp", "svm", "hgb")
BUNDLED = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
}
SYNTHETIC_N = (20_000, 100_000)
SYNTHETIC_D = (20, 100)
QUICK_N = (2_000,)
QUICK_BUNDLED = ("iris", "breast_cancer", "diabetes")


def datasets(ns, ds, bundled):
    """(name, task, spec) of every problem; spec rebuilds the data in a worker."""
    out = []
    for task in ("classification", "regression"):
        for n in ns:
            for d in ds:
                out.append((f"{task[:5]} n={n} d={d}", task, ["synthetic", n, d]))
    for name in bundled:
        out.append((name, BUNDLED[name], ["bundled", name]))
    return out


def load(task, spec):
    """X, y for a problem spec (see `datasets`)."""
    import sklearn.datasets as skd

    if spec[0] == "synthetic":
        _, n, d = spec
        if task == "classification":
            # scikit-learn's defaults (2 informative and 2 redundant features, 2
            # clusters per class) where d >= 4; fewer of each below (--d 1-3 failed)
            informative = min(2, d)
            return skd.make_classification(
                n_samples=n,
                n_features=d,
                n_informative=informative,
                n_redundant=min(2, d - informative),
                n_clusters_per_class=min(2, informative),
                random_state=0,
            )
        return skd.make_regression(
            n_samples=n, n_features=d, noise=10.0, random_state=0
        )
    return getattr(skd, f"load_{spec[1]}")(return_X_y=True)


def make_model(name, task):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = task == "classification"
    if name == "fixntk":
        import fixntk

        model = (
            fixntk.GatedReLUClassifier(random_state=0)
            if clf
            else fixntk.GatedReLURegressor(random_state=0)
        )
    elif name == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        model = (MLPClassifier if clf else MLPRegressor)(random_state=0)
    elif name == "svm":
        from sklearn.svm import SVC, SVR

        model = SVC() if clf else SVR()
    elif name == "hgb":
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        model = (
            HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor
        )(random_state=0)
    else:
        raise ValueError(f"unknown model {name!r}; choose from {MODELS}")
    return make_pipeline(StandardScaler(), model)


def worker(model_name, task, spec):
    """Fit one model on one problem; print one JSON line."""
    import warnings

    import numpy as np
    from sklearn.model_selection import train_test_split

    warnings.simplefilter("ignore")
    X, y = load(task, spec)
    strat = y if task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=strat
    )
    model = make_model(model_name, task)
    t = time.perf_counter()
    model.fit(X_tr, y_tr)
    fit_time = time.perf_counter() - t
    # the worker's peak resident set (ru_maxrss is in KiB on Linux): data included
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rec = {
        "fit_time": fit_time,
        "peak_mib": peak,
        "score": float(model.score(X_te, y_te)),
        "n_train": int(X_tr.shape[0]),
        "d": int(X_tr.shape[1]),
    }
    est = model[-1]
    if model_name == "fixntk":
        rec.update(
            lam=est.lam_,
            relative_gap=est.relative_gap_,
            tol=est.tol,
            active_neurons=est.n_active_neurons_,
        )
    elif getattr(est, "n_iter_", None) is not None:  # SVC: one per pair of classes
        rec["n_iter"] = int(np.max(est.n_iter_))
    print(json.dumps(rec), flush=True)


def run_worker(model, task, spec, args):
    env = dict(os.environ)
    if args.threads:
        for var in THREAD_VARS:
            env[var] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", model]
    cmd += ["--task", task, "--spec", json.dumps(spec)]
    t = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout:g} s (its process's start too)"}
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": (lines[-1] if lines else f"exit {out.returncode}")[:120]}
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["process_time"] = time.perf_counter() - t
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=RawDefaultsFormatter,
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"synthetic n = {QUICK_N[0]} only and {', '.join(QUICK_BUNDLED)}",
    )
    ap.add_argument(
        "--n",
        type=comma_list(nonnegative_int),
        help="comma-separated sample sizes of the synthetic problems "
        f"(default {','.join(map(str, SYNTHETIC_N))}; 0: none)",
    )
    ap.add_argument(
        "--d",
        type=positive_ints,
        default=",".join(map(str, SYNTHETIC_D)),
        help="comma-separated feature counts of the synthetic problems",
    )
    ap.add_argument(
        "--datasets",
        type=names((*BUNDLED, "none")),
        help="comma-separated bundled datasets (default all: "
        f"{','.join(BUNDLED)}; 'none' for none)",
    )
    ap.add_argument(
        "--models",
        type=names(MODELS),
        default=",".join(MODELS),
        help=f"comma-separated subset of {','.join(MODELS)}",
    )
    ap.add_argument(
        "--threads",
        type=positive_int,
        help="pin every library to this many threads (default: their own defaults)",
    )
    ap.add_argument(
        "--timeout",
        type=positive_float,
        default=3600.0,
        help="seconds per fit's worker process, its start (imports, the data: "
        "seconds) included (default 3600)",
    )
    ap.add_argument(
        "--json", type=output_file, help="also write every record to this JSON file"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        worker(args.worker, args.task, json.loads(args.spec))
        return 0

    models = args.models
    if args.n is not None:
        ns = [v for v in args.n if v > 0]
    else:
        ns = list(QUICK_N if args.quick else SYNTHETIC_N)
    ds = args.d
    if args.datasets is not None:
        bundled = [b for b in args.datasets if b != "none"]
    else:
        bundled = list(QUICK_BUNDLED if args.quick else BUNDLED)
    if not ns and not bundled:
        ap.error("nothing to run: --n 0 (no synthetic problem) and --datasets none")

    print(
        "defaults against defaults, StandardScaler in front of every model; "
        "score: accuracy (classification) or R^2 (regression) on a 25% test split"
    )
    print(
        f"{'problem':24s} {'n_train':>8s} {'d':>4s} {'model':7s} "
        f"{'fit [s]':>9s} {'score':>7s} {'peak MiB':>8s}  notes"
    )
    records = []
    for name, task, spec in datasets(ns, ds, bundled):
        for model in models:
            rec = run_worker(model, task, spec, args)
            rec.update(problem=name, task=task, model=model)
            records.append(rec)
            if "error" in rec:
                print(f"{name:24s} {'':>8s} {'':>4s} {model:7s} failed: {rec['error']}")
                continue
            notes = ""
            if model == "fixntk":
                notes = (
                    f"lam {rec['lam']:.3g}, relative gap "
                    f"{rec['relative_gap']:.1e} (tol {rec['tol']:.0e}), "
                    f"{rec['active_neurons']} active neurons"
                )
            print(
                f"{name:24s} {rec['n_train']:8d} {rec['d']:4d} {model:7s} "
                f"{rec['fit_time']:9.2f} {rec['score']:7.4f} "
                f"{rec['peak_mib']:8.0f}  {notes}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "records": records}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
