"""The ``fixntk`` command line: the NTK against the fixed NTK and the KARE-trained
kernel on real data.

``fixntk demo`` runs the comparison on scikit-learn's bundled classification datasets;
``fixntk fit`` and ``fixntk compare`` do the same on a CSV file. Errors in the user's
input are reported as one line on stderr with exit status 2, never as a traceback.
"""

import argparse
import csv
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

MIN_ROWS = 10
DEMO_DATASETS = ("iris", "wine", "breast_cancer", "digits")
_MAX_CLASSES = 20  # integer targets with at most this many values are class labels


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


# --------------------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total, enabled=None, stream=None, width=24):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = enabled
        self.total = max(int(total), 1)
        self.done = 0
        self.width = width
        self.t0 = time.perf_counter()

    def step(self, label):
        """Show that the next step, `label`, is running."""
        if not self.enabled:
            return
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.t0
        self.stream.write(
            f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s {label:<34}"
        )
        self.stream.flush()

    def advance(self):
        self.done += 1

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 52) + "\r")
            self.stream.flush()


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    feature_names: list = field(default_factory=list)


def _parse_float(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path, target, task="auto"):
    """Read a CSV with a header row; every column but `target` must be numeric."""
    if not os.path.exists(path):
        raise UserError(f"file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read {path} as CSV: {exc}") from None
    if not rows:
        raise UserError(f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if target not in header:
        shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
        raise UserError(f"column {target!r} not found in {path}; columns: {shown}")
    for k, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UserError(
                f"{path}, line {k}: {len(row)} fields but the header has {len(header)}"
            )
    if len(body) < MIN_ROWS:
        raise UserError(
            f"{path} has {len(body)} data row{'s' if len(body) != 1 else ''}; at least "
            f"{MIN_ROWS} are needed "
            "(a 75/25 split and cross-validation on the training part)"
        )
    j_target = header.index(target)
    features = [j for j in range(len(header)) if j != j_target]
    if not features:
        raise UserError(f"{path} has no feature columns besides {target!r}")
    X = np.empty((len(body), len(features)))
    for k, row in enumerate(body):
        for col, j in enumerate(features):
            value = _parse_float(row[j].strip())
            if value is None:
                raise UserError(
                    f"{path}, line {k + 2}: column {header[j]!r} has the non-numeric "
                    "or "
                    f"missing value {row[j]!r}; every feature must be a finite number"
                )
            X[k, col] = value
    y_text = [row[j_target].strip() for row in body]
    if any(v == "" for v in y_text):
        raise UserError(f"{path}: the target column {target!r} has missing values")
    y_num = [_parse_float(v) for v in y_text]
    numeric = all(v is not None for v in y_num)
    if task == "auto":
        if not numeric:
            task = "classification"
        else:
            values = np.asarray(y_num)
            integral = np.all(values == np.round(values))
            task = (
                "classification"
                if integral and np.unique(values).size <= _MAX_CLASSES
                else "regression"
            )
    if task == "regression":
        if not numeric:
            bad = next(v for v, f in zip(y_text, y_num) if f is None)
            raise UserError(
                f"{path}: target {target!r} has the non-numeric value {bad!r}; "
                "regression needs numbers (use --task classification for labels)"
            )
        y = np.asarray(y_num, dtype=np.float64)
    else:
        y = np.asarray(y_num) if numeric else np.asarray(y_text)
        if np.unique(y).size < 2:
            raise UserError(f"{path}: target {target!r} has a single class")
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(name, X, y, task, [header[j] for j in features])


def load_bundled(name):
    """One of scikit-learn's bundled classification datasets."""
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return Dataset(name, np.asarray(X, dtype=np.float64), y, "classification")


# --------------------------------------------------------------------------- models


@dataclass
class Outcome:
    """One model on one split."""

    model: str
    score: float
    lam: float
    seconds: float
    objective: float = float("nan")
    active: int = -1
    kare: float = float("nan")  # KARE of the model's kernel at its lam (training data)
    estimator: object = None
    notes: list = field(default_factory=list)  # warnings raised by the fit


@dataclass
class Comparison:
    dataset: Dataset
    n_train: int
    ntk: Outcome
    fixed: Outcome
    history: np.ndarray  # IRLS objective from the NTK's weights to the optimum
    kare: Outcome = None  # the kernel with weights trained by KARE

    @property
    def outcomes(self):
        return [o for o in (self.ntk, self.fixed, self.kare) if o is not None]


@contextmanager
def _single_threaded_blas():
    """One BLAS thread: the linear algebra here is on small matrices, where a second
    BLAS thread competing with the compiled core (OpenMP) on 2 cores costs more than
    it gives."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _split(data, seed):
    from sklearn.model_selection import train_test_split

    stratify = data.y if data.task == "classification" else None
    try:
        return train_test_split(
            data.X, data.y, test_size=0.25, random_state=seed, stratify=stratify
        )
    except ValueError:  # a class too small to stratify
        return train_test_split(data.X, data.y, test_size=0.25, random_state=seed)


def _pipeline(estimator, task):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
    return make_pipeline(StandardScaler(), estimator)


def _final(pipe):
    est = pipe[-1]
    return est.regressor_ if hasattr(est, "regressor_") else est


def _make_models(args, task):
    from . import _estimators as E
    from . import _kare_estimators as K

    cls = task == "classification"
    ntk = (E.NTKClassifier if cls else E.NTKRegressor)(
        lam=args.lam, cv=args.cv, random_state=args.seed
    )
    fixed = (E.GatedReLUClassifier if cls else E.GatedReLURegressor)(
        n_gates=args.n_gates,
        lam=args.lam,
        solver="irls",
        n_lams=args.n_lams,
        eps=args.eps,
        cv=args.cv,
        tol=args.tol,
        random_state=args.seed,
    )
    kare = (K.KAREKernelClassifier if cls else K.KAREKernelRegressor)(
        n_gates=args.n_gates, random_state=args.seed
    )
    return ntk, fixed, kare


def _kare_of(pipe, task, X_train, y_train):
    """KARE on the training data of the fitted model's kernel at its lam, in the
    space the model was fitted in (scaled X, one-hot or standardised y)."""
    from ._arrangement import Arrangement
    from ._estimators import _one_hot, _with_intercept
    from ._kare import kare
    from ._kernels import mkl_kernel

    model = _final(pipe)
    if hasattr(model, "kare_"):
        return float(model.kare_)
    Xt = _with_intercept(pipe[:-1].transform(X_train), model.fit_intercept)
    if task == "classification":
        classes, y_enc = np.unique(y_train, return_inverse=True)
        Y = _one_hot(y_enc.ravel(), classes.size)
    else:
        Y = pipe[-1].transformer_.transform(np.reshape(y_train, (-1, 1)))
    arr = Arrangement.from_masks(Xt @ model.gates_.T >= 0)
    return float(kare(mkl_kernel(Xt, arr, model.eta_), Y, model.lam_))


def _fit_one(name, estimator, task, X_train, y_train, X_test, y_test):
    pipe = _pipeline(estimator, task)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    model = _final(pipe)
    return Outcome(
        model=name,
        score=float(pipe.score(X_test, y_test)),
        lam=float(model.lam_),
        seconds=seconds,
        objective=float(getattr(model, "objective_", float("nan"))),
        active=int(getattr(model, "n_active_neurons_", -1)),
        kare=_kare_of(pipe, task, X_train, y_train),
        estimator=pipe,
        notes=list(dict.fromkeys(str(w.message) for w in caught)),
    )


def compare_on(data, args, progress):
    """NTK kernel ridge against the fixed NTK and the KARE-trained kernel on a 75/25
    split of one dataset."""
    X_train, X_test, y_train, y_test = _split(data, args.seed)
    ntk, fixed, kare = _make_models(args, data.task)
    progress.step(f"{data.name}: NTK")
    out_ntk = _fit_one("NTK", ntk, data.task, X_train, y_train, X_test, y_test)
    progress.advance()
    progress.step(f"{data.name}: fixed NTK")
    out_fixed = _fit_one(
        "fixed NTK", fixed, data.task, X_train, y_train, X_test, y_test
    )
    progress.advance()
    progress.step(f"{data.name}: KARE kernel")
    out_kare = _fit_one(
        "KARE kernel", kare, data.task, X_train, y_train, X_test, y_test
    )
    progress.advance()
    history = _final(out_fixed.estimator).objective_history_
    return Comparison(
        data, len(y_train), out_ntk, out_fixed, np.asarray(history), out_kare
    )


# --------------------------------------------------------------------------- output


def _score_name(task):
    return "accuracy" if task == "classification" else "R^2"


def comparison_table(results):
    """The comparison as a fixed-width text table."""
    models = ("NTK", "fixed", "KARE-k")
    head = (
        f"{'dataset':<14}{'n_train':>8}{'d':>4}  {'score':<9}"
        + "".join(f"{m:>7}" for m in models)
        + "  KARE"
        + "".join(f"{m:>8}" for m in models)
        + f"  {'objective NTK -> fixed':>24}{'active':>7}{'lam (fixed)':>12}"
        + "  time"
        + "".join(f"{m:>7}" for m in models)
    )
    lines = [head, "-" * len(head)]
    for r in results:
        h = r.history
        outs = r.outcomes + [Outcome("", float("nan"), float("nan"), float("nan"))] * (
            3 - len(r.outcomes)
        )
        lines.append(
            f"{r.dataset.name:<14}{r.n_train:>8}{r.dataset.X.shape[1]:>4}  "
            f"{_score_name(r.dataset.task):<9}"
            + "".join(f"{o.score:>7.3f}" for o in outs)
            + "      "
            + "".join(f"{o.kare:>8.4f}" for o in outs)
            + f"  {h[0]:>11.4e} -> {r.fixed.objective:.4e}"
            f"{r.fixed.active:>7d}{r.fixed.lam:>12.3g}      "
            + "".join(f"{o.seconds:>6.1f}s" for o in outs)
        )
    return "\n".join(lines)


def write_figure(results, path):
    """IRLS objective curves and NTK vs fixed NTK scores; returns the path or None
    when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in results:
        h = r.history
        ax1.plot(np.arange(h.size), h / h[0], marker=".", ms=3, label=r.dataset.name)
    ax1.set_xscale("symlog", linthresh=1)
    ax1.set_xlabel("IRLS iteration (0 = the NTK's kernel weights)")
    ax1.set_ylabel("training objective / objective of the NTK")
    ax1.set_title("Fixing the NTK: objective down to the optimum")
    ax1.grid(alpha=0.3)
    ax1.legend()
    names = [r.dataset.name for r in results]
    pos = np.arange(len(results))
    labels = (
        "NTK (kernel ridge)",
        "fixed NTK (gated ReLU group lasso)",
        "KARE-trained kernel",
    )
    scores = []
    for k, label in enumerate(labels):
        vals = [r.outcomes[k].score if k < len(r.outcomes) else np.nan for r in results]
        ax2.bar(pos + 0.27 * (k - 1), vals, 0.27, label=label)
        scores += [v for v in vals if np.isfinite(v)]
    ax2.set_ylim(max(0.0, min(scores) - 0.1), 1.0 if max(scores) <= 1 else None)
    ax2.set_xticks(pos, names)
    ax2.set_ylabel(
        "test " + " / ".join(sorted({_score_name(r.dataset.task) for r in results}))
    )
    ax2.set_title("Test score, 75/25 split")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _report(results, args, t_start, out):
    print(comparison_table(results), file=out)
    wins = sum(r.fixed.score >= r.ntk.score for r in results)
    print(
        f"\nfixed NTK matches or beats the NTK on {wins} of {len(results)} "
        f"dataset{'s' if len(results) != 1 else ''} "
        f"(test {_score_name(results[0].dataset.task)}).",
        file=out,
    )
    with_kare = [r for r in results if r.kare is not None]
    if with_kare:
        wins = sum(r.kare.score >= r.ntk.score for r in with_kare)
        print(
            f"KARE-trained kernel matches or beats the NTK on {wins} of "
            f"{len(with_kare)}.",
            file=out,
        )
    print(
        "objective: the gated ReLU training objective at the fixed NTK's lam, at the "
        "NTK's kernel weights (IRLS start) and at the optimum.",
        file=out,
    )
    print(
        "KARE: the kernel alignment risk estimate (GCV) of each model's kernel at its "
        "lam on the training part; optimistic for the fixed NTK and the KARE-trained "
        "kernel (KARE-k: weights minimising KARE from the NTK's, held-out early "
        "stopping), whose kernels saw the labels.",
        file=out,
    )
    for r in results:
        for o in r.outcomes:
            for note in o.notes:
                print(f"note ({r.dataset.name}, {o.model}): {note}", file=out)
    if args.figure:
        written = write_figure(results, args.figure)
        if written:
            print(f"figure written to {written}", file=out)
        else:
            print(
                "figure skipped: matplotlib is not installed "
                "(pip install 'fixntk[plot]')",
                file=out,
            )
    print(f"total time {time.perf_counter() - t_start:.1f}s", file=out)


# --------------------------------------------------------------------------- commands


def cmd_demo(args, out):
    t_start = time.perf_counter()
    names = args.datasets
    unknown = [n for n in names if n not in DEMO_DATASETS]
    if unknown:
        raise UserError(
            f"unknown dataset(s) {', '.join(unknown)}; choose from "
            f"{', '.join(DEMO_DATASETS)}"
        )
    print(
        "fixntk demo: the NTK (kernel ridge, closed-form gated ReLU NTK) against the "
        f"fixed NTK (gated ReLU group lasso, {args.n_gates} gates, IRLS from the NTK) "
        "and the KARE-trained kernel (same gates), "
        f"lam by {args.lam.upper() if args.lam == 'kare' else args.lam}, "
        "75/25 split",
        file=out,
    )
    progress = Progress(3 * len(names))
    results = []
    with _single_threaded_blas():
        for name in names:
            results.append(compare_on(load_bundled(name), args, progress))
    progress.close()
    _report(results, args, t_start, out)
    return 0


def cmd_compare(args, out):
    t_start = time.perf_counter()
    data = read_csv(args.data, args.target, args.task)
    progress = Progress(3)
    with _single_threaded_blas():
        result = compare_on(data, args, progress)
    progress.close()
    print(
        f"{data.name}: {data.X.shape[0]} rows, {data.X.shape[1]} features, {data.task}",
        file=out,
    )
    _report([result], args, t_start, out)
    return 0


def cmd_fit(args, out):
    data = read_csv(args.data, args.target, args.task)
    X_train, X_test, y_train, y_test = _split(data, args.seed)
    _, fixed, _ = _make_models(args, data.task)
    fixed.set_params(solver="bcd")
    progress = Progress(1)
    progress.step(f"{data.name}: fixed NTK")
    with _single_threaded_blas():
        res = _fit_one("fixed NTK", fixed, data.task, X_train, y_train, X_test, y_test)
    progress.close()
    model = _final(res.estimator)
    print(
        f"{data.name}: {data.X.shape[0]} rows, {data.X.shape[1]} features, "
        f"{data.task}; gated ReLU group lasso with {args.n_gates} gates",
        file=out,
    )
    print(f"lam ({args.lam})        {res.lam:.4g}", file=out)
    print(f"active neurons   {res.active} of {model.coef_.shape[0]} groups", file=out)
    print(
        f"objective        {res.objective:.6e} (certified gap {model.dual_gap_:.2e})",
        file=out,
    )
    print(f"test {_score_name(data.task):<11} {res.score:.4f} (25% held out)", file=out)
    print(f"time             {res.seconds:.1f}s", file=out)
    for note in res.notes:
        print(f"note: {note}", file=out)
    if args.output:
        import pickle

        with open(args.output, "wb") as fh:
            pickle.dump(res.estimator, fh)
        print(
            f"model (scikit-learn pipeline, trained on 75%) saved to {args.output}",
            file=out,
        )
    return 0


# --------------------------------------------------------------------------- parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1); got {value}")
    return value


def _add_model_options(p, n_gates):
    p.add_argument(
        "--n-gates",
        type=_positive_int,
        default=n_gates,
        help=f"Gaussian gates sampled for the gated ReLU model (default {n_gates})",
    )
    p.add_argument(
        "--lam",
        choices=("kare", "cv"),
        default="kare",
        help="how lam is selected, for both models (default kare)",
    )
    p.add_argument(
        "--n-lams",
        type=_positive_int,
        default=10,
        help="lam grid size for the gated ReLU path (default 10)",
    )
    p.add_argument(
        "--eps",
        type=_fraction,
        default=1e-2,
        help="smallest lam on the path as a fraction of lam_max (default 1e-2)",
    )
    p.add_argument(
        "--cv", type=_positive_int, default=3, help="folds for --lam cv (default 3)"
    )
    p.add_argument(
        "--tol",
        type=_fraction,
        default=1e-4,
        help="relative duality gap to reach (default 1e-4)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="split, gates and folds (default 0)"
    )


def _add_csv_options(p):
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--target", required=True, help="name of the target column")
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: labels that are text, or integers with at most "
        f"{_MAX_CLASSES} values, are classes (default auto)",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fixntk",
        description="Fixing the NTK: the gated ReLU NTK against the optimal "
        "(fixed) kernel of the gated ReLU convex program.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="NTK vs fixed NTK vs KARE-trained kernel on scikit-learn's bundled data",
        description="NTK vs fixed NTK vs KARE-trained kernel on iris, wine, "
        "breast_cancer and digits (75/25 split).",
    )
    _add_model_options(demo, n_gates=100)
    demo.add_argument(
        "--datasets",
        type=lambda s: [t.strip() for t in s.split(",")],
        default=list(DEMO_DATASETS),
        help="comma-separated subset of " + ",".join(DEMO_DATASETS),
    )
    demo.add_argument(
        "--figure",
        default="fixntk_demo.png",
        help="PNG to write (default fixntk_demo.png; '' for none)",
    )
    demo.set_defaults(run=cmd_demo)

    compare = sub.add_parser(
        "compare", help="NTK vs fixed NTK vs KARE-trained kernel on a CSV file"
    )
    _add_csv_options(compare)
    _add_model_options(compare, n_gates=100)
    compare.add_argument("--figure", default="", help="PNG to write (default: none)")
    compare.set_defaults(run=cmd_compare)

    fit = sub.add_parser(
        "fit", help="fit the gated ReLU model (fixed NTK) on a CSV file"
    )
    _add_csv_options(fit)
    _add_model_options(fit, n_gates=100)
    fit.add_argument(
        "--output", default="", help="save the fitted scikit-learn pipeline with pickle"
    )
    fit.set_defaults(run=cmd_fit)
    return parser


def main(argv=None, out=None):
    """Run the command line; returns the exit status."""
    out = sys.stdout if out is None else out
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, out)
    except UserError as exc:
        print(f"fixntk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, MemoryError) as exc:  # the library's checks on this data
        print(
            f"fixntk {args.command}: error: cannot fit this data: {exc}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"fixntk {args.command}: interrupted", file=sys.stderr)
        return 130
