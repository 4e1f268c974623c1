"""Where the gated ReLU estimators spend a fit: cProfile of ``fit`` end to end.

``GatedReLURegressor`` on ``make_regression`` and ``GatedReLUClassifier`` on
``make_classification`` (d = 20, seed 0; ``--task reg``, ``clf`` or ``both``, the
default), with the estimators' defaults (``lam="auto"``) or ``--lam`` (a float or one of
their lam modes: auto, cv, holdout, kare; ``kare`` fits the classifier with the squared
loss, as KARE scores kernel ridge), behind a StandardScaler, for each n of ``--n``.
Prints the fit time, the functions with the largest own time and a breakdown by part of
the library (the compiled solver, KARE's kernels and linear algebra, the arrangement,
the rest), and optionally writes the ``.prof`` files (``--save DIR``; view with
``snakeviz`` or ``python -m pstats``).

Run from the repository root::

    python benchmarks/profile_estimators.py --n 1000,3000,10000
    python benchmarks/profile_estimators.py --n 1000 --task reg --lam auto
    python benchmarks/profile_estimators.py --lam cv --n 1000,10000,100000 --task clf
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    DefaultsFormatter,
    output_dir,
    positive_int,
    positive_ints,
    run_script,
)

TASKS = {"reg": ("reg",), "clf": ("clf",), "both": ("reg", "clf")}

# Parts of a fit, by the name of the function that owns the time (own time, summed).
PARTS = {
    "compiled solver (_core.solve_group_lasso)": ("solve_group_lasso",),
    "masked products (_core.masked_*)": ("masked_predict", "masked_gradients"),
    "dense eigendecompositions (KARE)": ("syev", "heev"),
    "dense products (kernels: numpy matmul / dot)": ("matmul", "method dot", "einsum"),
    "arrangement and masks (Numba kernels, packing)": (
        "gate_block",
        "hash_words",
        "pack_bool_columns",
        "unpackbits",
        "distinct_masks",
        "direction_block",
    ),
}


def part_of(func_name):
    for part, names in PARTS.items():
        if any(name in func_name for name in names):
            return part
    return "other"


def lam_arg(modes):
    """The --lam type: a positive float or one of the estimators' lam ``modes``."""

    def parse(text):
        if text in modes:
            return text
        try:
            lam = float(text)
        except ValueError:
            lam = None
        if lam is None or not lam > 0 or lam == float("inf"):
            raise argparse.ArgumentTypeError(
                f"{text!r} is neither a positive number nor one of the lam modes "
                f"{', '.join(modes)}"
            )
        return lam

    return parse


def profile_fit(task, lam, n, d=20, top=12, save=None):
    import numpy as np
    import sklearn.datasets as skd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import fixntk

    if task == "reg":
        X, y = skd.make_regression(
            n_samples=n, n_features=d, noise=10.0, random_state=0
        )
        est = fixntk.GatedReLURegressor(random_state=0, **({"lam": lam} if lam else {}))
    elif task == "clf":
        X, y = skd.make_classification(n_samples=n, n_features=d, random_state=0)
        # KARE scores kernel ridge: the classifier takes it with the squared loss
        kw = {"lam": lam} if lam else {}
        if lam == "kare":
            kw["loss"] = "squared"
        est = fixntk.GatedReLUClassifier(random_state=0, **kw)
    else:
        raise ValueError(f"task must be 'reg' or 'clf', not {task!r}")
    model = make_pipeline(StandardScaler(), est)
    # compile / load the kernels outside the profile
    make_pipeline(StandardScaler(), type(est)(n_gates=5, lam=0.1)).fit(X[:50], y[:50])
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    model.fit(X, y)
    prof.disable()
    total = time.perf_counter() - t
    stats = pstats.Stats(prof)
    by_part = {}
    rows = []
    for (file, line, func), (_, ncalls, tottime, _, _) in stats.stats.items():
        name = f"{os.path.basename(file)}:{line}({func})" if line else func
        by_part[part_of(func)] = by_part.get(part_of(func), 0.0) + tottime
        rows.append((tottime, ncalls, name))
    rows.sort(reverse=True)
    label = f"{type(est).__name__}(lam={lam or 'default'!s}) n={n} d={d}"
    print(
        f"\n== {label}: fit {total:.2f} s, lam_ {est.lam_:.3g}, "
        f"{est.n_active_neurons_} active neurons, {est.n_iter_} epochs at lam_"
    )
    for part, secs in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"   {secs:9.2f} s  {100 * secs / total:5.1f}%  {part}")
    print("   largest own times:")
    for tottime, ncalls, name in rows[:top]:
        print(f"   {tottime:9.2f} s  {ncalls:8d} calls  {name}")
    if save:
        os.makedirs(save, exist_ok=True)
        stats.dump_stats(os.path.join(save, f"{task}_{lam or 'default'}_{n}.prof"))
    del np
    return total, by_part


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    ap.add_argument(
        "--n",
        type=positive_ints,
        default="1000,3000,10000",
        help="comma-separated sizes",
    )
    from fixntk._estimators import _GATED_LAM_MODES

    ap.add_argument(
        "--task",
        choices=sorted(TASKS),
        default="both",
        help="regressor (reg), classifier (clf) or both (default)",
    )
    ap.add_argument(
        "--lam",
        type=lam_arg(_GATED_LAM_MODES),
        help=f"lam of the estimators: a positive float or one of "
        f"{', '.join(_GATED_LAM_MODES)} (default: theirs, auto)",
    )
    ap.add_argument(
        "--top", type=positive_int, default=12, help="functions listed per fit"
    )
    ap.add_argument(
        "--save",
        type=output_dir,
        help="directory for the .prof files (made if missing)",
    )
    args = ap.parse_args(argv)
    for task in TASKS[args.task]:
        for n in args.n:
            profile_fit(task, args.lam, n, top=args.top, save=args.save)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
