"""``fixntk demo`` and ``fixntk compare``: the NTK against the fixed NTK and the
KARE-trained kernel on one split of each dataset, as a table and a figure."""

import os
from dataclasses import dataclass, field

import numpy as np

from .. import _memory
from ._data import UserError
from ._models import (
    MODELS,
    Outcome,
    copies_note,
    final,
    fit_model,
    make_model,
    outcome,
    split,
)


@dataclass
class Comparison:
    """The three models on one dataset."""

    dataset: object
    n_train: int
    ntk: Outcome
    fixed: Outcome
    history: np.ndarray  # IRLS objective from the NTK's weights to the optimum
    kare: Outcome = None  # the kernel with weights trained by KARE
    notes: list = field(default_factory=list)  # models left out, and why

    @property
    def outcomes(self):
        return [o for o in (self.ntk, self.fixed, self.kare) if o is not None]


def compare_on(data, args, bar):
    """NTK kernel ridge against the fixed NTK and the KARE-trained kernel on a split
    of one dataset (``args.holdout`` held out); `bar` advances once per model."""
    X_train, X_test, y_train, y_test, _, _ = split(data, args.holdout, args.seed)
    skipped = _kernels_too_large(len(y_train))
    out, notes = {"KARE kernel": None}, []
    copies = copies_note(X_train, y_train, X_test, y_test)
    if copies is not None:
        notes.append(copies)
    for name in MODELS:
        if name in skipped:
            notes.append(f"{name} left out: {skipped[name]}")
            bar.update()
            continue
        bar.set_description(f"{data.name}: {name}")
        est = make_model(name, args, data.task, verbose=args.verbose)
        if name == "fixed NTK":
            est.set_params(solver="irls")
        # the model's own notes (warnings of its fit), apart from the comparison's
        pipe, seconds, fit_notes = fit_model(name, est, data, X_train, y_train)
        out[name] = outcome(
            name, pipe, seconds, fit_notes, data, X_train, y_train, X_test, y_test
        )
        bar.update()
    history = final(out["fixed NTK"].estimator).objective_history_
    return Comparison(
        data,
        len(y_train),
        out["NTK"],
        out["fixed NTK"],
        np.asarray(history),
        out["KARE kernel"],
        notes,
    )


def _kernels_too_large(n):
    """{model: why} for the kernel models left out on ``n`` training rows: the
    KARE-trained kernel when its n x n kernels do not fit (in memory, or in half an
    hour); the NTK, which the comparison is about, is a UserError then."""
    from .._estimators import _NTK_MATRICES
    from .._kare_mkl import _KARE_MATRICES

    try:
        _memory.check_kernel_size(
            n,
            "fixntk compare (the NTK: kernel ridge on an n x n kernel)",
            "`fixntk fit` (the gated ReLU model alone, which never forms an n x n "
            "matrix), or compare on a sample of the rows",
            n_matrices=_NTK_MATRICES,
        )
    except MemoryError as exc:
        raise UserError(f"{n} training rows: {exc}") from None
    try:
        _memory.check_kernel_size(
            n,
            "the KARE-trained kernel",
            "a larger --holdout (fewer training rows) to include it",
            n_matrices=_KARE_MATRICES,
        )
    except MemoryError as exc:
        return {"KARE kernel": str(exc)}
    return {}


def _score_name(task):
    return "accuracy" if task == "classification" else "R^2"


def _kare_cell(value):
    """KARE in the table's 8 characters: 4 decimals, or 2 digits and an exponent
    below 1e-3 (0.0000 hid an NTK's 6.6e-06 next to the fixed NTK's 0.4587)."""
    if np.isfinite(value) and 0 < abs(value) < 1e-3:
        return f"{value:>8.1e}"
    return f"{value:>8.4f}"


def _width(r):
    """The table's d: the models' input columns, text columns one-hot encoded (the
    file's were counted: MASS Cars93's 22 feature columns, 65 after encoding;
    tester EU)."""
    if getattr(r.fixed, "estimator", None) is None:
        return r.dataset.n_features
    return getattr(final(r.fixed.estimator), "n_features_in_", r.dataset.n_features)


def comparison_table(results):
    """The comparison as a fixed-width text table."""
    models = ("NTK", "fixed", "KARE-k")
    # as wide as the longest name (a long file name pushed every value to the right
    # of its heading; a tester)
    w = max([13] + [len(r.dataset.name) for r in results]) + 1
    head = (
        f"{'dataset':<{w}}{'n_train':>8} {'d':>5}  {'score':<9}"
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
            f"{r.dataset.name:<{w}}{r.n_train:>8} {_width(r):>5}  "
            f"{_score_name(r.dataset.task):<9}"
            + "".join(f"{o.score:>7.3f}" for o in outs)
            + "      "
            + "".join(_kare_cell(o.kare) for o in outs)
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
    ax2.set_title("Held-out score")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=7)
    fig.tight_layout()
    if not os.path.splitext(path)[1]:  # matplotlib appends its default format's
        path = f"{path}.{matplotlib.rcParams['savefig.format']}"  # extension: say so
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _at_least(score, other):
    """Whether ``score`` matches or beats ``other`` as the table shows them (to 3
    decimals): 0.961 against 0.961 was counted a loss by a difference in the 16th
    digit."""
    return round(float(score), 3) >= round(float(other), 3)


def report(results, args, elapsed, out):
    """The table, the summary lines, the notes and the figure of a comparison."""
    print(comparison_table(results), file=out)
    wins = sum(_at_least(r.fixed.score, r.ntk.score) for r in results)
    print(
        f"\nfixed NTK matches or beats the NTK on {wins} of {len(results)} "
        f"dataset{'s' if len(results) != 1 else ''} "
        f"(test {_score_name(results[0].dataset.task)}).",
        file=out,
    )
    with_kare = [r for r in results if r.kare is not None]
    if with_kare:
        wins = sum(_at_least(r.kare.score, r.ntk.score) for r in with_kare)
        kept = sum(
            getattr(final(r.kare.estimator), "best_iter_", None) == 0 for r in with_kare
        )
        print(
            f"KARE-trained kernel matches or beats the NTK on {wins} of "
            f"{len(with_kare)}"
            + (
                f" ({kept} of them kept the NTK's kernel: no weights it tried beat "
                "it on held-out rows; its intercept is the targets' mean, the ridge "
                "fitted to the centred targets, where the NTK model fits its "
                "intercept with the kernel"
                + (
                    ", so their scores can differ at the same lam)."
                    if isinstance(args.lam, float)
                    else ", and its lam is the one leave-one-out selects on its own "
                    "grid, so their scores can differ)."
                )
                if kept
                else "."
            ),
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
        "kernel (KARE-k: the NTK plus masking kernels weighted to minimise KARE "
        "from the NTK itself, kept only when they beat the NTK on held-out rows), "
        "whose kernels saw the labels.",
        file=out,
    )
    for r in results:
        for note in r.notes:
            print(f"note ({r.dataset.name}): {note}", file=out)
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
                "(pip install 'fixntk[plot]', or --figure '' to ask for none)",
                file=out,
            )
    print(
        "time: wall time of each model's fit (demo: after one untimed fit of each "
        "model, which compiles a fresh install's kernels); total time of the whole "
        "command "
        f"{elapsed():.1f}s",
        file=out,
    )
