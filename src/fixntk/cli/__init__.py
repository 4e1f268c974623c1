"""The ``fixntk`` command line.

``fixntk demo`` compares the NTK, the fixed NTK and the KARE-trained kernel on
scikit-learn's bundled classification datasets; ``fixntk compare`` does the same on a
CSV file; ``fixntk fit`` fits the gated ReLU model (the fixed NTK) on a CSV file and
saves it; ``fixntk predict`` applies a saved model to a CSV file. Errors in the user's
input are reported as one line on stderr with exit status 2, never as a traceback.
"""

import argparse
import os
import pickle
import re
import sys
import time
import warnings

import numpy as np

from .._progress import progress, progress_scope
from .._threads import blas_threads
from ._compare import compare_on, report
from ._data import (
    _LINES,
    FORMAT_CARRIED,
    KEPT_WORDS,
    LABELS_ADVICE,
    MAX_CATEGORIES,
    MAX_CLASSES,
    UserError,
    _as_written_numbers,
    _line,
    _row_weights,
    _shown,
    column_name,
    dataset_from_table,
    load_bundled,
    prediction_frame,
    read_table,
    shown,
    written,
)
from ._models import (
    copies_note,
    final,
    fit_model,
    in_option_words,
    make_model,
    scales_target,
    seen_rows,
    split,
    splits_counts,
    training_row_hashes,
)

__all__ = ["main", "build_parser", "UserError"]

DEMO_DATASETS = ("iris", "wine", "breast_cancer", "digits")


def _labels_as_written(table, labels):
    """Row labels read as numbers (an identifier '000802' became 802, and the
    predictions no longer joined their rows by it; tester DJ) as the file writes
    them, where the file can be read again."""
    text = None if labels.dtype == object else written(table, labels)
    return labels if text is None else text.rename(labels.name)


def _no_neuron_note(model, tol):
    """Why a fit has no active neuron, or '' when it has some. A certified fit is
    the intercept alone because no neuron pays for its penalty; an uncertified one
    (a lam so small the solver's steps underflow) is the unimproved zero start,
    which said nothing about the data."""
    if model.n_active_neurons_ > 0:
        return ""
    if model.relative_gap_ > tol:
        return (
            ": the solver stopped before certifying a model (relative gap "
            f"{model.relative_gap_:.1e} above --tol {tol:g}); this is its zero start, "
            "not the data's answer: try a larger --lam"
        )
    return (
        ": the model is constant (the intercept alone: at this lam no neuron "
        "pays for its penalty)"
    )


def _score_name(task):
    return "accuracy" if task == "classification" else "R^2"


def _elapsed():
    """Wall time since this process started (start-up and imports included). On
    Linux from the kernel's clocks since boot (/proc/uptime, and the process's start
    in /proc/self/stat), to 0.01 s: psutil's create_time adds the boot time, which
    Linux gives in whole seconds, and the total read up to a second long (tester
    EH: 0.95 s for a process of 0.11 s)."""
    try:
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        with open("/proc/self/stat") as fh:  # the name, in parentheses, may hold spaces
            fields = fh.read().rsplit(")", 1)[1].split()
        return max(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return time.time() - psutil.Process().create_time()


def _read(args):
    # --index-col and --drop naming the target or the weights (by name or position)
    # are refused by read_table; --categorical naming a column they take, here (it
    # was then 'not found in the file'; tester EY)
    for col in getattr(args, "categorical", []):
        for option, taken in (("--drop", args.drop), ("--index-col", [args.index_col])):
            if col in taken:
                raise UserError(
                    f"--categorical and {option} both name column {col!r}: a column "
                    "left out of the features cannot be one-hot encoded; give one "
                    "of them"
                )
    table = read_table(
        args.data,
        sep=args.sep,
        index_col=args.index_col,
        drop=args.drop,
        decimal=args.decimal,
        thousands=args.thousands,
        target=args.target,
        weight=getattr(args, "sample_weight", None),
    )
    return dataset_from_table(
        table,
        args.target,
        args.task,
        shown(args.data),
        keep_ids=args.keep_ids,
        impute=args.impute,
        max_categories=args.max_categories,
        weight=getattr(args, "sample_weight", None),
        categorical=args.categorical,
        # its task is regression because of --loss poisson: labels need both changed
        # (the plain advice was then refused as a contradiction; tester CN)
        labels_advice=(
            "--loss poisson fits counts; for class labels drop it and use --task "
            "classification"
            if getattr(args, "loss", None) == "poisson"
            else LABELS_ADVICE
        ),
    )


def _describe(data, out):
    kinds = f"{len(data.numeric)} numeric"
    n_text = len(data.text) - len(data.categorical)
    if n_text:
        kinds += f", {n_text} text"
    if data.categorical:
        kinds += f", {len(data.categorical)} categorical"
    print(
        f"{data.name}: {data.X.shape[0]} rows, {data.n_features} "
        f"feature{'' if data.n_features == 1 else 's'} ({kinds}), "
        f"{data.task}",
        file=out,
    )
    for message in data.messages:
        print(f"  {message}", file=out)


# --------------------------------------------------------------------------- commands


def cmd_demo(args, out):
    args.datasets = list(dict.fromkeys(args.datasets))  # each once, in the given order
    if not args.datasets:
        raise UserError(
            f"--datasets names no dataset; choose from {', '.join(DEMO_DATASETS)}"
        )
    unknown = [n for n in args.datasets if n not in DEMO_DATASETS]
    if unknown:
        raise UserError(
            f"unknown dataset(s) {', '.join(unknown)}; choose from "
            f"{', '.join(DEMO_DATASETS)} (--datasets)"
        )
    lam = "each model's default" if args.lam is None else args.lam
    print(
        "fixntk demo: the NTK (kernel ridge, closed-form gated ReLU NTK) against the "
        f"fixed NTK (gated ReLU group lasso, {_gates(args.n_gates)}, IRLS from the "
        "NTK) "
        f"and the KARE-trained kernel (same gates), all with the squared loss on "
        f"one-hot labels (the paper's setting), lam: {lam}, "
        f"{args.holdout:.0%} of the rows held out",
        file=out,
    )
    results = []
    with (
        blas_threads(1),
        progress(
            verbose=args.progress, total=3 * len(args.datasets), unit="model"
        ) as bar,
    ):
        _warm_up(args)
        for name in args.datasets:
            results.append(compare_on(load_bundled(name), args, bar))
    report(results, args, args.elapsed, out)
    return 0


def _warm_up(args):
    """The three models fitted once on a third of iris, untimed: on a fresh install
    the first fit compiles the Numba kernels (cached afterwards), and the table said
    5.2 s for iris's fixed NTK against 0.3 s on every later run (a tester's)."""
    import dataclasses
    import warnings

    iris = load_bundled("iris")
    small = dataclasses.replace(iris, X=iris.X.iloc[::3], y=iris.y[::3])
    with warnings.catch_warnings(), progress(verbose=0, total=3) as quiet:
        warnings.simplefilter("ignore")
        compare_on(small, args, quiet)


def cmd_compare(args, out):
    data = _read(args)
    _describe(data, out)
    with blas_threads(1), progress(verbose=args.progress, total=3, unit="model") as bar:
        result = compare_on(data, args, bar)
    report([result], args, args.elapsed, out)
    return 0


def cmd_fit(args, out):
    if args.loss == "poisson":
        if args.task == "classification":
            raise UserError(
                "--loss poisson models counts (a regression target); --task "
                "classification asks for classes: drop one of the two"
            )
        # counts with few distinct values would otherwise be read as classes
        args.task = "regression"
        if args.lam == "kare":
            raise UserError(
                "--lam kare scores kernel ridge (the squared loss); with --loss "
                "poisson use --lam auto, cv or holdout, or a number"
            )
    if args.lam == "loo":
        raise UserError(
            "--lam loo (exact leave-one-out) selects the NTK's lam in demo and "
            "compare; fit trains the gated ReLU model: use --lam auto, cv, holdout, "
            "a number, or kare (regression targets only)"
        )
    data = _read(args)
    if args.loss == "poisson":
        _check_counts(data.y, args.target)
        # said, as the other rules for the task are (integers with few values read
        # as classes went to regression without a word, tester AL)
        data.messages.insert(
            0, f"target {args.target!r}: counts (--loss poisson), so regression"
        )
    if args.lam == "kare" and data.task == "classification":
        # fit's classifier has the log loss; KARE scores kernel ridge (squared loss)
        raise UserError(
            f"--lam kare is for regression targets; {args.target!r} is a "
            "classification target: use --lam auto, cv or holdout, or a number"
        )
    _describe(data, out)
    # the estimator's progress bar over its lam search by default (drawn only on a
    # terminal; -q turns it off): a minute's fit showed nothing without -v
    verbose = max(args.verbose, args.progress)
    est = make_model("fixed NTK", args, data.task, verbose=verbose)
    X, y, w = data.X, data.y, data.weight
    if args.holdout:
        X, X_test, y, y_test, w, w_test = split(data, args.holdout, args.seed)
        _check_training_part(data, args, y, y_test)
        # (counts split between the parts put each cell in both, by design)
        copies = None if splits_counts(data) else copies_note(X, y, X_test, y_test)
    # the number sampled is printed after the fit ("auto": the estimators' rule)
    auto = args.n_gates == "auto"
    gates = "gates by --n-gates auto" if auto else _gates(args.n_gates)
    print(f"model: gated ReLU group lasso, {gates}", file=out)
    with blas_threads(1):
        pipe, seconds, notes = fit_model("fixed NTK", est, data, X, y, w)
    if args.output:  # saved before the report: a reader that stops early (| head)
        pipe.fixntk_target_ = args.target  # closed the pipe, and the model was lost
        # the rows' labels predict writes beside its predictions: --index-col, or
        # an identifier column left out (R's rownames, names)
        # (by name: --index-col 0 was kept as '0', and predict wrote no labels)
        pipe.fixntk_row_labels_ = [data.index_name] * (data.index_name is not None)
        pipe.fixntk_row_labels_ += data.ids
        # predict tells the rows the model was fitted on from new ones (a score over
        # the training file after --holdout counted them: 0.77 against 0.61 held out)
        pipe.fixntk_training_rows_ = training_row_hashes(X)
        # where they cannot be told apart, the file itself (a score over the
        # training file after --holdout said nothing of its fitted rows; CN): its
        # bytes' digest (a name matched other files of that name; CQ)
        pipe.fixntk_training_file_ = (shown(args.data), data.digest)
        # and the part of it held out, if any (predict's note on that file told a
        # model fitted with --holdout to use --holdout; tester CU)
        pipe.fixntk_holdout_ = args.holdout
        # and how its numbers were written, for predict's files (tester CZ)
        pipe.fixntk_number_format_ = (args.decimal, args.thousands)
        # and the versions that saved it, which predict compares with its own
        pipe.fixntk_version_ = _versions()
        # and the words it read as values (--not-missing), which predict reads so
        pipe.fixntk_not_missing_ = tuple(args.not_missing or ())
        # and the column of row weights, which predict's score reads (not a feature)
        pipe.fixntk_sample_weight_ = data.weight_name
        with open(args.output, "wb") as fh:
            pickle.dump(pipe, fh)
    model = final(pipe)
    chosen = "given" if isinstance(model.lam, (int, float)) else f"by {model.lam}"
    # a squared-loss regression pipeline fits the standardised target
    # (TransformedTargetRegressor); the Poisson loss the counts themselves
    scaled = ", standardised target" if scales_target(data, model) else ""
    print(f"lam              {model.lam_:.4g} ({chosen}{scaled})", file=out)
    groups = model.group_coef_.shape[0]
    # the zero gate of linear_group: the all-ones mask, not one of the sampled
    linear = bool((~model.gates_.any(axis=1)).any())
    merged = (
        f" (distinct masks of {_gates(model.n_gates_)} sampled"
        if groups - linear < model.n_gates_
        else f" ({_gates(model.n_gates_)} sampled"
    ) + (", and the linear group)" if linear else ")")
    print(
        f"active neurons   {model.n_active_neurons_} of {groups} groups{merged}"
        + _no_neuron_note(model, args.tol),
        file=out,
    )
    print(
        f"objective        {model.objective_:.6e} (certified gap "
        f"{model.dual_gap_:.2e}, relative {model.relative_gap_:.1e}; --tol "
        f"{args.tol:g}{scaled})",
        file=out,
    )
    what = _score_name(data.task)
    # one prediction serves the score and the baseline's note (pipe.score and the
    # note each predicted the scored rows)
    X_s, y_s, w_s = (X_test, y_test, w_test) if args.holdout else (X, y, w)
    pred = pipe.predict(X_s)
    # (rows of weight 0 were left out by dataset_from_table: w_s > 0)
    weighted = "" if w_s is None else f", weighted by {data.weight_name!r}"
    score = _score(data.task, y_s, pred, w_s)
    if data.task == "regression" and np.ptp(np.asarray(y_s, dtype=float)) == 0:
        # R^2 divides by the scored targets' variance: 0 here (scikit-learn then
        # returns 0.0, which was printed as a score)
        where = "held-out" if args.holdout else "training"
        print(
            f"{where} {what:<7} none: the {len(y_s)} scored values of "
            f"{args.target!r} are all equal (R^2 compares with their variance, 0); "
            "mean absolute error "
            f"{np.mean(np.abs(np.asarray(y_s, dtype=float) - pred)):.4g}",
            file=out,
        )
    elif args.holdout:
        held = f"{len(y_test)} rows held out"
        if w_test is not None:  # counts: a share of each row's (split_counts)
            held = f"weight {w_test.sum():.6g} held out in {len(y_test)} rows"
        print(
            f"held-out {what:<7} {score:.4f} ({held}, --holdout {args.holdout:g}"
            f"{weighted})",
            file=out,
        )
    else:
        print(
            f"training {what:<7} {score:.4f} (on the rows it was fitted to{weighted}; "
            "--holdout 0.25 reports a held-out score)",
            file=out,
        )
    if data.task == "classification":
        print(_majority_line(y, y_s, pred, w, w_s), file=out)
    elif args.holdout and np.ptp(np.asarray(y_s, dtype=float)) > 0:
        print(_mean_line(y, y_s, pred, args.loss == "poisson", w, w_s), file=out)
    print(f"fit time         {seconds:.1f}s", file=out)
    if args.holdout and copies is not None:
        notes = [copies, *notes]
    if data.task == "regression":
        where = "held-out" if args.holdout else "training"
        extra = [
            _far_predictions_note(y, pred, where),
            _one_row_note(X_s, y_s, pred, where),
        ]
        notes = [n for n in extra if n is not None] + notes
    for note in notes:
        print(f"note: {note}", file=out)
    if args.output:
        rows = f"{len(y)} rows" + (
            f" (the other {len(y_test)} held out)" if args.holdout else " (all)"
        )
        if w is not None and args.holdout:
            rows = (
                f"{len(y)} rows of weight {w.sum():.6g} (weight {w_test.sum():.6g} "
                f"held out in {len(y_test)} rows)"
            )
        print(
            f"model (scikit-learn pipeline, trained on {rows}) saved to {args.output}",
            file=out,
        )
    else:
        print("model not saved (--output FILE saves it for fixntk predict)", file=out)
    print(f"total time       {args.elapsed():.1f}s (the whole command)", file=out)
    return 0


def _check_training_part(data, args, y_train, y_test):
    """Refuse a --holdout split whose training part cannot be fitted: a class whose
    rows all fell in the held-out part (the estimator's 'needs at least 2 classes',
    in its own names), or, for --loss poisson, no count > 0 left to fit."""
    how = f"--holdout {args.holdout:g} --seed {args.seed}"
    fix = "drop --holdout (fit on every row), or try another --seed"
    if data.task == "classification":
        lost = sorted(set(map(str, y_test)) - set(map(str, y_train)))
        if lost:
            raise UserError(
                f"{how} puts every row of class(es) {', '.join(map(repr, lost))} in "
                f"the held-out part (too few rows to share): the model cannot learn "
                f"a class it never sees; {fix}, or add rows of that class"
            )
    elif args.loss == "poisson" and not (np.asarray(y_train, dtype=float) > 0).any():
        k = int((np.asarray(y_test, dtype=float) > 0).sum())
        raise UserError(
            f"{how} leaves no count > 0 in the training part (the {k} nonzero "
            f"count(s) of {args.target!r} fell in the held-out part): the Poisson "
            f"model would be the rate 0; {fix}"
        )


def _far_predictions_note(y_train, pred, where):
    """A note when predictions leave the training targets' range by more than ten
    times its width (the Poisson loss's log link extrapolates exponentially: a
    tester's held-out row predicted 282.7 doctor visits where training counts reach
    17, R^2 -2.2, without a word), or None."""
    y_train = np.asarray(y_train, dtype=float)
    lo, hi = float(y_train.min()), float(y_train.max())
    span = hi - lo
    far = (pred > hi + 10 * span) | (pred < lo - 10 * span)
    if span <= 0 or not far.any():
        return None
    worst = float(pred[far][np.argmax(np.abs(pred[far] - (lo + hi) / 2))])
    return (
        f"{int(far.sum())} {where} prediction(s) lie more than ten times the "
        f"training targets' range ({lo:.4g} to {hi:.4g}) outside it (e.g. "
        f"{worst:.4g}): the model extrapolates there (with --loss poisson, "
        "exponentially); a larger --lam, or the squared loss, is tamer"
    )


_NEGLIGIBLE_ERROR = 0.01


def _one_row_note(X_s, y_s, pred, where):
    """A note when one scored row makes up most of the squared error (a tester's
    Poisson fit: one held-out prediction of 282.7 visits, 4 observed, took R^2 from
    about 0 to -2.2), or None. Not where the errors together are below 1% of the
    target's variation (R^2 above 0.99): one row's share of a rounding-sized error
    says nothing about the score."""
    y_s = np.asarray(y_s, dtype=float)
    err = (y_s - pred) ** 2
    total = float(err.sum())
    if err.size < 20 or not total > 0:
        return None
    if total <= _NEGLIGIBLE_ERROR * float(((y_s - y_s.mean()) ** 2).sum()):
        return None
    k = int(np.argmax(err))
    share = float(err[k]) / total
    if share <= 0.5:
        return None
    index = getattr(X_s, "index", None)
    line = ""
    if index is not None and index.name == _LINES:
        line = f" (line {int(index[k])})"
    return (
        f"one {where} row{line} makes up {share:.0%} of the squared error: predicted "
        f"{pred[k]:.4g}, observed {float(y_s[k]):.4g}; the score is that "
        "row's more than the model's"
    )


def _check_counts(y, target):
    """The Poisson loss's target: numbers >= 0 (counts, or rates of them)."""
    y = np.asarray(y, dtype=float)
    if (y < 0).any():
        k = int((y < 0).sum())
        raise UserError(
            f"--loss poisson models counts >= 0; {k} value(s) of {target!r} are "
            f"negative (e.g. {y[y < 0][0]:g}): use the default --loss squared"
        )
    if not (y > 0).any():
        raise UserError(
            f"--loss poisson: every value of {target!r} is 0, so the model is the "
            "rate 0 (its log is -inf): nothing to fit"
        )


def _score(task, truth, pred, weight=None):
    """pipe.score's value from its predictions: accuracy, or R^2 (rows weighted by
    ``weight`` if given)."""
    from sklearn.metrics import accuracy_score, r2_score

    score = accuracy_score if task == "classification" else r2_score
    return score(truth, pred, sample_weight=weight)


def _mean_line(y_train, y_scored, pred, poisson=False, w_train=None, w_scored=None):
    """The held-out R^2 of always answering the training rows' mean, beside the
    model's (it is at most 0; a model below it predicts new rows worse than that
    constant, which a negative R^2 left to the reader, a tester's), and for counts
    the mean Poisson deviance of both (R^2 alone judged a Poisson fit); rows
    weighted by ``w_train`` and ``w_scored`` if given."""
    from sklearn.metrics import mean_poisson_deviance, r2_score

    truth = np.asarray(y_scored, dtype=float)
    mean = float(np.average(np.asarray(y_train, dtype=float), weights=w_train))
    constant = np.full(truth.shape, mean)
    base = r2_score(truth, constant, sample_weight=w_scored)
    # (-1e-6 printed as -0.0000: a sign of nothing; tester EE)
    line = (
        f"baseline         {round(base, 4) + 0.0:.4f} (R^2 of always answering the "
        f"training mean, {mean:.4g})"
    )
    if r2_score(truth, pred, sample_weight=w_scored) < base:
        line += "; the model predicts the held-out rows worse than that constant"
    if poisson and mean > 0 and np.all(np.asarray(pred) > 0):
        line += (
            f"\ndeviance         "
            f"{mean_poisson_deviance(truth, pred, sample_weight=w_scored):.4g} "
            "(mean Poisson deviance held out; the training mean's "
            f"{mean_poisson_deviance(truth, constant, sample_weight=w_scored):.4g})"
        )
    return line


def _majority_line(y_train, y_scored, pred, w_train=None, w_scored=None):
    """The accuracy of always answering the training rows' most frequent class on the
    scored rows, beside the model's (an accuracy of 0.748 read as a result where 75%
    of the rows are one class), and whether the model itself answers one class (its
    predictions ``pred`` of those rows); rows weighted by ``w_train`` and
    ``w_scored`` if given."""
    labels, at = np.unique(np.asarray(y_train), return_inverse=True)
    counts = np.bincount(at.ravel(), weights=w_train, minlength=labels.size)
    top = labels[np.argmax(counts)]
    rate = float(np.average(np.asarray(y_scored) == top, weights=w_scored))
    line = f"baseline         {rate:.4f} (accuracy of always answering {str(top)!r}"
    line += ", the most frequent class in training)"
    answers = np.unique(pred)
    if answers.size == 1:
        line += (
            f"; the model answers {str(answers[0])!r} for every scored row: it has "
            "found nothing that tells the classes apart at this lam"
        )
    return line


def _load_model(path):
    import os

    if not os.path.exists(path):
        raise UserError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"{path} is a directory, not a model file")
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        # a model saved by another scikit-learn: one line, not a multi-line warning
        # per estimator of the pipeline (five; tester EH)
        with open(path, "rb") as fh, warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", InconsistentVersionWarning)
            model = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001 (garbage raises ValueError, KeyError...)
        hint = ""
        with open(path, "rb") as fh:
            head = fh.read(512)
        if head[:1] == b"\x80" and isinstance(exc, (AttributeError, ImportError)):
            # a pickle (as fit writes them) of a class or module of another
            # version ("Can't get attribute 'X' on <module ...>"; tester EH); a
            # text file passed as the model can fail so too (pickle's opcode 'c')
            raise UserError(
                f"cannot load {path}: it was saved by another version of fixntk or "
                f"scikit-learn ({exc}); this is fixntk {_versions()}: fit the model "
                "again with this version"
            ) from None
        if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            hint = (
                " (it is a text file, not a model saved by fixntk fit --output; the "
                "model file comes first: fixntk predict MODEL DATA)"
            )
        elif (
            len(head) >= 2
            and head[0] == 0x80
            and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL
            and isinstance(exc, (pickle.UnpicklingError, EOFError))
        ):
            # a pickle's opening bytes, cut short (an interrupted copy or download):
            # 'not a pickle' sent the user looking for another file (tester EE)
            exc = (
                "the file starts as a saved model but is cut short or damaged (a "
                "copy or download that did not finish?); save the model again with "
                "fixntk fit --output"
            )
        elif isinstance(exc, pickle.UnpicklingError) or not head:
            # pickle's own words on other bytes ('A load persistent id instruction
            # was encountered') say nothing to a user
            exc = "it is not a model saved by fixntk fit --output (not a pickle)"
        raise UserError(f"cannot load {path} as a saved model: {exc}{hint}") from None
    if not hasattr(model, "predict"):
        raise UserError(
            f"{path} holds a Python object of type {type(model).__name__!r}, not a "
            "model saved by fixntk fit --output"
        )
    skew = InconsistentVersionWarning
    other = [w.message for w in said if issubclass(w.category, skew)]
    saved = getattr(model, "fixntk_version_", None)
    if other or (saved is not None and saved != _versions()):
        old = saved or f"scikit-learn {other[0].original_sklearn_version}"
        print(
            f"note: {path} was saved by {'fixntk ' if saved else ''}{old}; this is "
            f"fixntk {_versions()}: its predictions may differ (fit it again with "
            "this version to be sure)",
            file=sys.stderr,
        )
    for w in said:  # the others as they were
        if not issubclass(w.category, skew):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def _versions():
    """'X (scikit-learn Y)': this fixntk's version and its scikit-learn's."""
    import sklearn

    from .. import __version__

    return f"{__version__} (scikit-learn {sklearn.__version__})"


def _truth(model, table, target):
    """The target column of the data given to predict, as the model's classes read:
    as the file writes it where the classes are text and the column reads as
    numbers (codes such as '007', kept as text by fit: read as 7, every row
    counted wrong)."""
    import pandas as pd
    from sklearn.base import is_classifier

    truth = table.frame[target]
    classes = np.asarray(getattr(model, "classes_", []))
    if (
        is_classifier(model)
        and classes.dtype.kind in "OUS"
        and pd.api.types.is_numeric_dtype(truth)
    ):
        text = written(table, truth)
        if text is not None:
            return text
    if not is_classifier(model) and not pd.api.types.is_numeric_dtype(truth):
        # numbers in the file's format, the words left as written (a column of
        # decimal commas with one word was read by pandas' rules: every number
        # dropped from the score, the word's row scored alone; tester EI)
        parsed = _as_written_numbers(truth, table.decimal, table.thousands)
        return parsed.astype(object).where(parsed.notna() | truth.isna(), truth)
    return truth


def _seen_rows_lines(model, X, truth, pred, target, digest=None, weight=None):
    """When some scored rows have the features of rows the model was fitted on (fit
    --output stores their hashes): a line saying so, and the score on the others.
    Where no column told the training rows apart (no hashes), the training file
    itself (the same bytes: ``digest``) is said to hold them."""
    import pandas as pd
    from sklearn.base import is_classifier

    hashes = getattr(model, "fixntk_training_rows_", None)
    if hashes is None:
        trained = getattr(model, "fixntk_training_file_", None)
        # (a pair: the file as shown, and its digest)
        if not isinstance(trained, tuple) or len(trained) != 2 or digest != trained[1]:
            return []
        holdout = getattr(model, "fixntk_holdout_", None)
        advice = (
            f"fit --holdout {holdout:g} held out {holdout:.0%} of them, which no "
            "column here tells apart: quote fit's held-out score"
            if holdout
            else "fit --holdout reports the score on held-out rows"
        )
        return [
            f"this file is the one the model was fitted on ({trained[0]}, the same "
            "bytes): the score above counts the rows it was fitted on and is "
            f"optimistic ({advice})"
        ]
    known = truth.notna().to_numpy()
    if not is_classifier(model):  # a word in a regression target is not scored
        known = np.isfinite(pd.to_numeric(truth, errors="coerce").to_numpy(float))
    if weight is not None:  # rows of weight 0 are not scored
        known = known & (np.asarray(weight) > 0)
    seen = seen_rows(X, hashes) & known
    k, m = int(seen.sum()), int(known.sum())
    if k == 0:
        return []
    lines = [
        f"{k} of the {m} scored rows have the features of rows the model was fitted "
        "on: the score above counts them and is optimistic"
    ]
    other = known & ~seen
    if m - k >= 2:
        part = None if weight is None else weight[other]
        rest = _score_lines(model, truth[other], pred[other], target, part)[-1]
        lines.append(f"on the other {m - k} rows: {rest}")
    return lines


def _score_lines(model, truth, pred, target, weight=None):
    """Lines scoring the predictions ``pred`` against the file's target column
    ``truth`` (rows without a value left out, each case said in words), rows
    weighted by ``weight`` (an array) if given."""
    import pandas as pd
    from sklearn.base import is_classifier

    if weight is not None:
        weight = np.asarray(weight, dtype=float)
        truth, pred, weight = truth[weight > 0], pred[weight > 0], weight[weight > 0]
    by = "" if weight is None else " (weighted)"
    known = truth.notna().to_numpy()
    lines = []
    if not known.any():
        return [f"no score: the column {target!r} has no values (new data)"]
    if not known.all():
        lines.append(
            f"{int((~known).sum())} row(s) without a value in {target!r} are left out "
            "of the score below"
        )
    truth, pred = truth[known], pred[known]
    weight = None if weight is None else weight[known]
    if is_classifier(model):
        if pred.dtype.kind in "iufb":  # numeric labels: compared as numbers
            values = pd.to_numeric(truth, errors="coerce").to_numpy(dtype=float)
            same = values == pred.astype(float)
        else:
            values = truth.astype(str).to_numpy()
            same = values == pred.astype(str)
        classes = np.asarray(model.classes_)
        known = (
            np.isin(values, classes.astype(float))
            if pred.dtype.kind in "iufb"
            else np.isin(values, classes.astype(str))
        )
        if not known.all():
            unseen = pd.unique(truth[~known].astype(str))

            # a label that differs from a class in case or spaces alone (tester DC:
            # 'Setosa' against 'setosa', said as unseen with no hint)
            def key(label):
                return " ".join(str(label).split()).casefold()

            folded = {key(c): str(c) for c in classes}
            near = [f"{u!r} -> {folded[key(u)]!r}" for u in unseen if key(u) in folded]
            meant = f"; did you mean {_shown(near, 3)}?" if near else ""
            lines.append(
                f"{int((~known).sum())} of the {known.size} labels in {target!r} are "
                f"not classes the model was fitted on ({_shown(unseen, 5)}; its "
                f"classes: {_shown(classes, 8)}{meant}): they count as "
                "wrong"
            )
        accuracy = np.average(same, weights=weight)
        return lines + [f"accuracy{by} against the column {target!r}: {accuracy:.4f}"]
    values = pd.to_numeric(truth, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(values)
    if not ok.any():
        return lines + [
            f"no R^2: the column {target!r} does not read as numbers (e.g. "
            f"{str(truth.iloc[0])!r}; --decimal and --thousands set the format)"
        ]
    if not ok.all():
        lines.append(
            f"{int((~ok).sum())} row(s) whose {target!r} does not read as a number "
            f"(e.g. {str(truth[~ok].iloc[0])!r}) are left out of the score below"
        )
    values, pred = values[ok], pred[ok]
    weight = np.ones(values.size) if weight is None else weight[ok]
    mae = float(np.average(np.abs(values - pred), weights=weight))
    total = float(weight @ (values - np.average(values, weights=weight)) ** 2)
    if values.size < 2 or total == 0:
        why = (
            "one known value"
            if values.size < 2
            else f"the {values.size} known values are all equal"
        )
        return lines + [
            f"no R^2 ({why}); mean absolute error{by} against the column {target!r}: "
            f"{mae:.6g}"
        ]
    with np.errstate(over="ignore"):
        r2 = 1.0 - float(weight @ (values - pred) ** 2) / total
    shown_r2 = f"{r2:.4f}" if r2 > -1e6 else f"{r2:.4g}"
    return lines + [f"R^2{by} against the column {target!r}: {shown_r2}"]


def _score_weights(table, name, path, info):
    """The rows' weights in the column ``name`` of the file predict scores (the
    model's fit --sample-weight column), or None: where the model has none, the file
    lacks the column, or its values are not weights (said on ``info``, and the
    score then counts each row once)."""
    if name is None:
        return None
    if name not in table.frame.columns:
        print(
            f"the model was fitted with --sample-weight {name!r}, which this file "
            "lacks: the score counts each row once",
            file=info,
        )
        return None
    try:  # fit's rules and words (its line, its value)
        w = _row_weights(table.frame[name], name, path, table.decimal)
    except UserError as exc:
        print(f"{exc}: the score counts each row once", file=info)
        return None
    print(f"the score weighs the rows by column {name!r} (--sample-weight)", file=info)
    return w


def _blank_name(name):
    """Whether a column name is a blank header's (pandas names it 'Unnamed: k')."""
    return name == "" or re.fullmatch(r"Unnamed: \d+", str(name)) is not None


def cmd_predict(args, out):
    import pandas as pd

    model = _load_model(args.model)
    # the numbers as fit read them unless given (2.500 read as 2.5 beside a model
    # fitted with --thousands . --decimal ,: predictions 1000 times off, silently;
    # tester CZ)
    decimal, thousands = args.decimal, args.thousands
    fitted = getattr(model, "fixntk_number_format_", None)
    if decimal is None and thousands is None and isinstance(fitted, tuple):
        decimal, thousands = fitted
    carried = (decimal, thousands) != (args.decimal, args.thousands)
    token = FORMAT_CARRIED.set(carried)
    kept = getattr(model, "fixntk_not_missing_", ())
    if args.not_missing is None and kept:
        KEPT_WORDS.set(tuple(kept))
    try:
        table = read_table(
            args.data,
            sep=args.sep,
            index_col=args.index_col,
            decimal=decimal,
            thousands=thousands,
        )
        if carried:
            given = [f"--decimal {decimal!r}"] * (decimal is not None)
            given += [f"--thousands {thousands!r}"] * (thousands is not None)
            table.messages.insert(
                0, f"numbers read as fit read them: {' '.join(given)}"
            )
        if args.not_missing is None and kept:
            words = " ".join(f"--not-missing {w!r}" for w in kept)
            table.messages.insert(0, f"cells read as fit read them: {words}")
        X, ignored, notes = prediction_frame(table, model, shown(args.data))
    finally:
        FORMAT_CARRIED.reset(token)
    info = out if args.output else sys.stderr  # stdout carries the CSV otherwise
    for message in table.messages + notes:
        print(f"  {message}", file=info)
    weight_name = getattr(model, "fixntk_sample_weight_", None)
    if weight_name in ignored:  # not a feature: the score's weights
        ignored = [c for c in ignored if c != weight_name]
    if ignored:
        print(
            "ignored column(s) the model was not fitted on: "
            f"{', '.join(map(repr, ignored))}",
            file=info,
        )
    with blas_threads(1):
        from ..datafits._poisson import PredictionOverflowError

        try:
            with np.errstate(over="ignore", invalid="ignore"):
                pred = model.predict(X)
            bad = np.flatnonzero(~np.isfinite(pred)) if pred.dtype.kind == "f" else []
        except PredictionOverflowError as exc:  # a Poisson mean past the largest double
            bad = exc.rows
        if len(bad):
            k = int(bad[0])
            more = f" (and {len(bad) - 1} more row(s))" if len(bad) > 1 else ""
            raise UserError(
                f"{shown(args.data)}, line {_line(X, k)}{more}: the prediction "
                "overflows double precision: the row's numbers lie far outside the "
                "data the model was fitted on"
            )
        result = pd.DataFrame({"prediction": pred})
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(X)
            for k, label in enumerate(model.classes_):
                result[f"proba_{label}"] = proba[:, k]
    labels = None
    if table.index is not None:  # --index-col: the rows' labels lead the output
        labels = table.index
    else:  # the column fit took as the rows' labels, when this file has it
        names = getattr(model, "fixntk_row_labels_", [])
        name = next((c for c in names if c in table.frame.columns), None)
        if name is not None:
            labels = table.frame[name]
        elif table.saved_index is not None and any(map(_blank_name, names)):
            # fit --index-col 0 on a file whose first column has no name (pandas'
            # to_csv): here that column was dropped as a saved index, and predict
            # wrote no labels (a reviewer)
            labels, name = table.saved_index, None
        if labels is not None:
            which = "the first (unnamed) column" if name is None else f"column {name!r}"
            print(
                f"rows labelled by {which}, as in fit (--index-col names another)",
                file=info,
            )
    if labels is not None:
        labels = _labels_as_written(table, labels)
        name = str(labels.name)
        if _blank_name(name):
            name = (
                ""  # the file's header leaves it blank (pandas' name, not the file's)
            )
        while name in result.columns:  # a label column called "prediction"
            name = f"index_{name}"
        result.insert(0, name, labels.to_numpy())
    if args.output:
        result.to_csv(args.output, index=False)
        print(
            f"{len(result)} prediction{'' if len(result) == 1 else 's'} written to "
            f"{args.output} "
            f"(columns: {', '.join(result.columns)})",
            file=info,
        )
    else:
        result.to_csv(out, index=False)
    # the score after the predictions are out: a target column left empty (new data
    # in the training file's layout) or a single row cannot lose them
    target = getattr(model, "fixntk_target_", None)
    if target is not None and target in table.frame.columns:
        truth = _truth(model, table, target)
        weight = _score_weights(table, weight_name, shown(args.data), info)
        for line in _score_lines(model, truth, pred, target, weight):
            print(line, file=info)
        for line in _seen_rows_lines(
            model, X, truth, pred, target, table.digest, weight
        ):
            print(line, file=info)
    print(f"total time {args.elapsed():.1f}s (the whole command)", file=info)
    return 0


# --------------------------------------------------------------------------- parser


def _int_at_least(text, low, why=""):
    """An option's integer value, at least ``low`` (``why`` says what it counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}{why}; got {value}")
    return value


def _positive_int(text):
    return _int_at_least(text, 1)


def _delimiter(text):
    """--sep: one character (or \\t for a tab), or a regular expression of several;
    an empty one reached pandas ('only single character unicode strings ...')."""
    if text == "":
        raise argparse.ArgumentTypeError("must not be empty (e.g. ';' or '\\t')")
    return text


def _mark(text):
    """--decimal / --thousands: one character (pandas' messages spoke of 'length-1
    decimal markers' beside a hint about --sep)."""
    if len(text) != 1 or text.isdigit() or text in "+-":
        raise argparse.ArgumentTypeError(
            f"must be one character that is not a digit or a sign, e.g. ',' or '.'; "
            f"got {text!r}"
        )
    return text


def _folds(text):
    return _int_at_least(text, 2, " (folds)")


def _grid_size(text):
    return _int_at_least(text, 2, " (a grid to choose lam on; --lam FLOAT fixes it)")


def _seed(text):
    seed = _int_at_least(text, 0)
    if seed > 2**32 - 1:  # NumPy's and scikit-learn's seeds
        raise argparse.ArgumentTypeError(f"{text!r} is above 2**32 - 1 = {2**32 - 1}")
    return seed


def _gates(n):
    """'1 gate', '100 gates'."""
    return f"{n} gate{'' if n == 1 else 's'}"


def _n_gates(text):
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or 'auto')") from None


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1); got {value}")
    return value


def _lam(text):
    if text in ("kare", "cv", "auto", "holdout", "loo"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'auto', 'cv', 'holdout', 'kare', 'loo' or a number > 0"
        ) from None
    if not (value > 0 and np.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number > 0; got {text}")
    return value


class _OneColumn(argparse.Action):
    """An option naming the one column of a role (the target, the row labels): a
    second, different name is refused. argparse keeps the last, and the first column
    was then read as a feature: ``--target y1 --target y2`` fitted y2 on y1 and
    scored R^2 0.9999 (tester DN)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = getattr(namespace, self.dest, None)  # None until given (the default)
        if seen is not None and seen != values:
            parser.error(
                f"{option_string} was given twice ({seen!r} and {values!r}): it names "
                "one column, and the other would be read as a feature"
            )
        setattr(namespace, self.dest, values)


def _add_model_options(p, n_gates, fit_command=False):
    g = p.add_argument_group("model")
    auto = n_gates == "auto"
    g.add_argument(
        "--n-gates",
        # 'auto' is the gated estimators' own rule: demo and compare hand the count to
        # the KARE-trained kernel too, which takes an integer
        type=_n_gates if auto else _positive_int,
        default=n_gates,
        help="Gaussian gates sampled for the gated ReLU model"
        + (
            ", an integer or 'auto' (default 'auto': a tenth of the training rows "
            "up to 300, or on small data up to 1000, as many as 6e6 / (rows x "
            "features x classes or outputs); at least 100 and at most 9e7 / (rows x "
            "features), or for the squared loss up to min(300, 4096 / (features + "
            "1) - 1) where 0.8 x rows are at least 10 times the masked columns)"
            if auto
            else f" (default {n_gates})"
        ),
    )
    g.add_argument(
        "--lam",
        type=_lam,
        default=None,
        help=(
            # fit has no NTK: 'loo' is not offered there (it was; tester CW)
            "regularisation: a number > 0, or 'auto' / 'cv' / 'holdout' / 'kare' to "
            "select it on a grid (default 'auto'; 'kare' to regression targets only)"
            if fit_command
            else "regularisation: a number > 0 (every model), or 'auto' / 'cv' / "
            "'holdout' / 'kare' / 'loo' to select it on a grid (default: each "
            "model's own default; 'auto' and 'holdout' apply to the gated ReLU model "
            "only, 'loo' (exact leave-one-out) to the NTK only; the KARE-trained "
            "kernel selects its own unless given a number)"
        ),
    )
    g.add_argument(
        "--n-lams",
        type=_grid_size,
        default=10,
        help="lam grid size of the gated ReLU path, from lam_max down to --eps "
        "(default 10); the search goes on past --eps while the validation loss still "
        "falls, by about three decades (whole steps of the grid)",
    )
    g.add_argument(
        "--eps",
        type=_fraction,
        default=1e-2,
        help="end of the gated ReLU grid as a fraction of lam_max (default 1e-2; "
        "the search extends it while the validation loss still falls)",
    )
    g.add_argument(
        "--cv", type=_folds, default=3, help="folds for --lam cv, >= 2 (default 3)"
    )
    g.add_argument(
        "--tol",
        type=_fraction,
        default=1e-4,
        help="relative duality gap to reach (default 1e-4)",
    )
    g.add_argument(
        "--max-iter",
        type=_positive_int,
        default=10_000,
        help="epochs per solve"
        + ("" if fit_command else " (IRLS steps for the fixed NTK)")
        + " (default 10000)",
    )
    g.add_argument(
        "--seed", type=_seed, default=0, help="split, gates and folds (default 0)"
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="progress bars inside each fit (-v), and the solvers' certificates (-vv)",
    )
    g.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (off a terminal: no progress lines)",
    )


def _add_comparison_options(p):
    g = p.add_argument_group("comparison")
    g.add_argument(
        "--holdout",
        type=_fraction,
        default=0.25,
        help="share of the rows held out for the test score (default 0.25)",
    )
    g.add_argument(
        "--ntk-eps",
        type=_fraction,
        default=1e-6,
        help="smallest lam of the NTK's grid, as a fraction of the mean eigenvalue of "
        "K/n (of the centred kernel, with the intercept; default 1e-6)",
    )
    g.add_argument(
        "--kare-max-iter",
        type=_positive_int,
        default=100,
        help="L-BFGS iterations of the KARE-trained kernel (default 100)",
    )


def _kept_word(text):
    """--not-missing's word: one of the words read as missing (an empty cell is
    missing always)."""
    from ._data import GAP_WORDS, MISSING_TEXT

    word = text.strip()
    if not word:
        raise argparse.ArgumentTypeError("an empty cell is missing always")
    if word.casefold() in {w.casefold() for w in MISSING_TEXT}:
        return word
    gap = word.casefold() in GAP_WORDS
    among = " (among numbers only, where it stays a gap)" if gap else ""
    raise argparse.ArgumentTypeError(
        f"{text!r} is not read as missing in a text column{among}; the words that "
        f"are: {', '.join(w for w in MISSING_TEXT if w)}"
    )


def _add_read_options(p):
    g = p.add_argument_group("reading the CSV")
    g.add_argument(
        "--sep",
        type=_delimiter,
        default=None,
        help="column delimiter, e.g. ';' or '\\t' (default: detected from the file)",
    )
    g.add_argument(
        "--decimal",
        type=_mark,
        default=None,
        help="decimal mark of the numbers (default '.')",
    )
    g.add_argument(
        "--thousands",
        type=_mark,
        default=None,
        help="thousands separator inside numbers, e.g. ',' for 1,234.5 or '.' "
        "(with --decimal ',') for 1.234,5 (default: none)",
    )
    g.add_argument(
        "--not-missing",
        action="append",
        type=_kept_word,
        default=None,
        metavar="WORD",
        help="a word that is a value here, not a missing value (repeatable; e.g. NA "
        "for North America or Namibia); by default NA, N/A, NULL, nan, ?, #N/A and "
        "an empty cell, among others, are missing (predict reads as fit did unless "
        "given)",
    )
    g.add_argument(
        "--index-col",
        action=_OneColumn,
        type=column_name,
        default=None,
        help="a column (name or 0-based position) holding row labels, not a feature; "
        "an unnamed first column is dropped as one without this option",
    )


def _add_csv_options(p):
    p.add_argument("data", help="CSV file with a header row (- reads standard input)")
    p.add_argument(
        "--target",
        required=True,
        action=_OneColumn,
        type=column_name,
        help="name of the target column",
    )
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: labels that are text, or integers with at most "
        f"{MAX_CLASSES} values that repeat (most values in one row each are "
        "amounts), are classes (default auto)",
    )
    _add_read_options(p)
    p.add_argument(
        "--drop",
        action="append",
        type=column_name,
        default=[],
        metavar="COL",
        help="leave column COL out of the features (repeatable); text columns are "
        "otherwise one-hot encoded",
    )
    p.add_argument(
        "--categorical",
        action="append",
        type=column_name,
        default=[],
        metavar="COL",
        help="one-hot encode column COL as categories, its values as the file "
        "writes them, even where they are numbers (repeatable; e.g. codes such as "
        "region 1-4, or cylinders 3-8 beside 'rotary'); numeric columns are "
        "otherwise standardised",
    )
    p.add_argument(
        "--keep-ids",
        action="store_true",
        help="use columns that look like row identifiers (increasing integers from "
        "0 or 1, distinct integers in a column named rownames, index, id, "
        "patient_id, PatientID..., a different text in every row) as features; by "
        "default they are left out",
    )
    p.add_argument(
        "--max-categories",
        type=lambda text: _int_at_least(text, 2),
        default=MAX_CATEGORIES,
        metavar="N",
        help="one-hot encode text columns of up to N distinct values; columns with "
        f"more are refused (default {MAX_CATEGORIES})",
    )
    p.add_argument(
        "--impute",
        action="store_true",
        help="fill missing feature values (numbers: the column's median; text: its "
        "most frequent value, both from the training rows, at prediction too) and "
        "leave out rows whose target is missing; by default missing values are "
        "refused",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fixntk",
        description="Fixing the NTK: the gated ReLU NTK against the optimal "
        "(fixed) kernel of the gated ReLU convex program.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"fixntk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="NTK vs fixed NTK vs KARE-trained kernel on scikit-learn's bundled data",
        description="NTK vs fixed NTK vs KARE-trained kernel on iris, wine, "
        "breast_cancer and digits (a held-out split of each).",
    )
    _add_model_options(demo, n_gates=100)
    _add_comparison_options(demo)
    demo.add_argument(
        "--datasets",
        type=lambda s: [t.strip() for t in s.split(",") if t.strip()],
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
        "compare",
        help="NTK vs fixed NTK vs KARE-trained kernel on a CSV file",
        description="NTK vs fixed NTK vs KARE-trained kernel on a CSV file, as demo "
        "does on the bundled datasets (a held-out split; each kernel costs n^2 "
        "memory: files of a few thousand rows).",
    )
    _add_csv_options(compare)
    _add_model_options(compare, n_gates=100)
    _add_comparison_options(compare)
    compare.add_argument("--figure", default="", help="PNG to write (default: none)")
    compare.set_defaults(run=cmd_compare)

    fit = sub.add_parser(
        "fit",
        help="fit the gated ReLU model (fixed NTK) on a CSV file and save it",
        description="Fit the gated ReLU group lasso on every row of a CSV file "
        "(--holdout F fits on the rest and reports a held-out score).",
    )
    _add_csv_options(fit)
    _add_model_options(fit, n_gates="auto", fit_command=True)
    fit.add_argument(
        "--holdout",
        type=_fraction,
        default=None,
        help="hold out this share of the rows and report the score on them "
        "(default: fit on all rows)",
    )
    fit.add_argument(
        "--loss",
        choices=("squared", "poisson"),
        default="squared",
        help="regression datafit: squared (least squares on the standardised "
        "target), or poisson (counts >= 0 with the log link: predictions are the "
        "mean count exp(f(x)), > 0 but for rows so far outside the data that it "
        "rounds to 0; the target is fitted as it is) "
        "(default squared; classification always uses the log loss)",
    )
    fit.add_argument(
        "--sample-weight",
        action=_OneColumn,
        type=column_name,
        default=None,
        metavar="COL",
        help="column COL of row weights (numbers >= 0, frequency weights: a row of "
        "weight 2 counts as two rows, of weight 0 not at all), left out of the "
        "features; the fit, the search for lam and the scores weigh the rows by "
        "it, and so does predict's score on a file with that column; with "
        "--holdout, whole-number weights are counts, split between the parts",
    )
    fit.add_argument(
        "--output",
        default="",
        help="save the fitted scikit-learn pipeline (pickle) for fixntk predict",
    )
    fit.set_defaults(run=cmd_fit, solver="bcd")

    predict = sub.add_parser(
        "predict",
        help="predict with a model saved by fixntk fit",
        description="Predictions (and class probabilities where the model has them) "
        "of a saved model on a CSV file; columns the model was not fitted on, such "
        "as the target, are ignored.",
    )
    predict.add_argument("model", help="model file written by fixntk fit --output")
    predict.add_argument(
        "data", help="CSV file with a header row (- reads standard input)"
    )
    _add_read_options(predict)
    predict.add_argument(
        "--output",
        default="",
        help=(
            "CSV file to write (default, or -: standard output); an existing file "
            "is replaced only if it holds earlier predictions"
        ),
    )
    predict.add_argument(
        "-q", "--quiet", action="store_true", help="accepted (predict draws no bar)"
    )
    predict.set_defaults(run=cmd_predict)
    for p in (demo, compare):
        p.set_defaults(solver="irls")
    for command in sub.choices.values():  # its usage for an unknown option
        command.set_defaults(command_parser=command)
    return parser


def _check_writable(path, option):
    """A UserError, before any work, when the file ``path`` of ``option`` cannot be
    written: its folder missing or not writable, or the path a folder."""
    import os

    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"{option} {path} is a folder; give a file name")
    if not os.path.isdir(folder):
        # the nearest part of the path that exists: a file there is no folder (it
        # was said not to exist; a tester)
        part = folder
        while not os.path.exists(part) and os.path.dirname(part) != part:
            part = os.path.dirname(part)
        if os.path.exists(part) and not os.path.isdir(part):
            raise UserError(f"{option} {path}: {part} is a file, not a folder")
        raise UserError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise UserError(f"{option} {path}: no permission to write there")


def _check_figure_format(path):
    """A UserError, before any work, when the --figure file's extension is not a
    format matplotlib writes (it failed after every fit, as "cannot fit this data").
    No check without matplotlib: the figure is then skipped with a note."""
    ext = os.path.splitext(path)[1].lower().lstrip(".") if path else ""
    if not ext:
        return
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        raise UserError(
            f"--figure {path}: matplotlib writes no '.{ext}' files; use one of "
            f"{', '.join('.' + f for f in sorted(formats))} (e.g. .png)"
        )


def _check_not_an_input(path, option, inputs):
    """A UserError, before any work, when ``path`` of ``option`` is one of the files
    the command reads (``inputs``: (what, path) pairs): writing it would replace the
    user's data or model (fit --output DATA.csv overwrote the CSV with a pickle)."""
    if not path or not os.path.exists(path):
        return
    for what, source in inputs:
        if source and os.path.exists(source) and os.path.samefile(path, source):
            raise UserError(
                f"{option} {path} is the {what} this command reads; writing there "
                "would replace it: give another file name"
            )


# file name extensions of other formats than CSV text: what they name
_NOT_CSV = {
    ".tsv": "tab-separated text",
    ".tab": "tab-separated text",
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "an OpenDocument spreadsheet",
    ".parquet": "Parquet",
    ".feather": "Feather",
    ".json": "JSON",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
}


def _check_not_other_data(path, command):
    """A UserError, before any work, when --output names an existing file of the other
    kind: fit's a file that is not a saved model (its first byte is not a pickle's;
    fit --output b2.csv replaced another CSV with a pickle), predict's a saved model
    (predict --output m.pkl replaced a model with the CSV of predictions; a
    tester) or any file but its own earlier predictions; and predict's name of
    another format (.xlsx)."""
    if not path:
        return
    if os.path.isfile(path):
        _check_existing_output(path, command)
    ext = os.path.splitext(path)[1].lower()
    if command == "fit" and ext in (".csv", ".tsv", ".txt", ".xlsx", ".xls"):
        # fit --output model.csv wrote a pickle under a data file's name (EI)
        raise UserError(
            f"--output {path}: fit writes the model, a pickle, not {ext} data; name "
            "the file .pkl (predict's --output writes the CSV of predictions)"
        )
    if command == "predict" and ext in _NOT_CSV:
        # predict --output preds.xlsx wrote CSV text under an Excel name (tester EH)
        raise UserError(
            f"--output {path}: predict writes comma-separated text, not "
            f"{_NOT_CSV[ext]}; name the file .csv (spreadsheet programs open it)"
        )


def _check_existing_output(path, command):
    """The refusals of :func:`_check_not_other_data` for a file that exists."""
    with open(path, "rb") as fh:
        head = fh.read(1)
    model = head == b"\x80"
    if command == "fit" and head and not model:
        raise UserError(
            f"--output {path} exists and is not a saved model (fit writes a model "
            "there, replacing the file); give another name, or delete it first"
        )
    if command == "predict" and model:
        raise UserError(
            f"--output {path} is a saved model (predict writes its CSV there, "
            "replacing the model); give another name, or delete it first"
        )
    if command == "predict" and head and not _written_by_predict(path):
        # predict --output train.csv replaced the training data, and any other
        # CSV, unasked, where fit refuses (tester EH)
        raise UserError(
            f"--output {path} exists and is not predictions written by fixntk "
            "predict (its header has no 'prediction' column): predict would replace "
            "it; give another name, or delete it first"
        )


def _written_by_predict(path):
    """Whether the file's header names a 'prediction' column, as predict's CSV does
    (after the rows' labels, if any), read by pandas (compressed as pandas writes
    a name ending in .gz, any line endings); False where it cannot be read so
    (a CR-only file ended in csv.Error; predict's own .csv.gz was refused; tester
    EI)."""
    import pandas as pd

    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except Exception:  # noqa: BLE001 (not a CSV of ours, whatever pandas says)
        return False
    return "prediction" in [str(c).strip() for c in header.columns]


class _ClosedReaderGuard:
    """stdout for a command whose reader may stop early (``| head``): the first
    write to a closed pipe sends the rest to /dev/null and the command runs on, so
    that fit still saves its --output (the notes printed before the fit filled
    head's two lines, and the model was lost; a tester); main then returns 141, as a
    command ended by SIGPIPE."""

    def __init__(self, stream):
        self._stream, self.closed_reader = stream, False

    def write(self, text):
        if self.closed_reader:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._close()
            return len(text)

    def flush(self):
        if not self.closed_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self):
        self.closed_reader = True
        try:  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv=None, out=None):
    """Run the command line; returns the exit status."""
    out = _ClosedReaderGuard(sys.stdout) if out is None else out
    start = time.perf_counter()
    parser = build_parser()
    for item in sys.argv[1:] if argv is None else argv:
        # argparse hands '--x=--' an empty list: tracebacks in the options' checks
        # (--drop=--, --sep=--), or '.' taken silently (--decimal=--; tester EI)
        if re.fullmatch(r"--[A-Za-z][\w-]*=--", str(item)):
            parser.error(f"{item}: '--' cannot be an option's value")
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said with the command's usage (the top level's named no option)
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # the command's total: from the process start when run as the command, else
    # from this call
    args.elapsed = _elapsed if argv is None else lambda: time.perf_counter() - start
    args.progress = 0 if getattr(args, "quiet", False) else 1
    if getattr(args, "quiet", False):
        args.verbose = 0
    try:
        if getattr(args, "output", "") == "-":  # a file named '-' was written
            if args.command != "predict":
                raise UserError(
                    "--output - (standard output) is for predict's CSV; the "
                    f"{args.command} command writes a file: give its name"
                )
            args.output = ""
        inputs = [
            ("model file", getattr(args, "model", "")),
            ("CSV file", getattr(args, "data", "")),
        ]
        for option in ("output", "figure"):
            _check_writable(getattr(args, option, ""), f"--{option}")
            _check_not_an_input(getattr(args, option, ""), f"--{option}", inputs)
        _check_figure_format(getattr(args, "figure", ""))
        if args.command in ("fit", "predict"):
            _check_not_other_data(args.output, args.command)
        kept = KEPT_WORDS.set(tuple(getattr(args, "not_missing", None) or ()))
        try:
            with progress_scope():  # one clock for the command's progress lines
                status = args.run(args, out)
        finally:
            KEPT_WORDS.reset(kept)
        return 141 if getattr(out, "closed_reader", False) else status
    except UserError as exc:
        print(f"fixntk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, MemoryError) as exc:  # the library's checks on this data
        # (predict's errors were 'cannot fit this data' too; tester EE)
        doing = "predict on" if args.command == "predict" else "fit"
        print(
            f"fixntk {args.command}: error: cannot {doing} this data: "
            f"{in_option_words(str(exc))}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"fixntk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        try:  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141  # as a command ended by SIGPIPE
    except OSError as exc:  # a file the command writes (checked first, but may change)
        what = exc
        if exc.filename is not None and exc.strerror:
            what = f"{exc.filename}: {exc.strerror}"  # (not "[Errno 2] ...")
        print(f"fixntk {args.command}: error: {what}", file=sys.stderr)
        return 2
