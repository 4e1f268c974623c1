"""Plot displays in scikit-learn's ``Display`` style.

Each display is built from results (``from_path``, ``from_result``, ``from_weights``)
or from a fitted estimator (``from_estimator``), stores the numbers it draws, and draws
them with ``plot(ax=None)``. matplotlib is imported only inside ``plot``: install it
with ``pip install "fixntk[plot]"``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CellWeightsDisplay",
    "IRLSObjectiveDisplay",
    "LambdaSelectionDisplay",
    "RegularizationPathDisplay",
]


def _axes(ax):
    """(figure, axes): `ax` and its figure, or a new figure with one axes."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'plotting needs matplotlib: pip install "fixntk[plot]"'
        ) from exc
    if ax is None:
        # laid out to fit its labels: the default cut a log axis' label at the left
        # edge of a saved figure (wide tick labels such as 6 x 10^-1, a tester)
        fig, ax = plt.subplots(layout="constrained")
    return ax.figure, ax


def _unwrap(estimator):
    """(a pipeline's earlier steps or None, a TransformedTargetRegressor or None, the
    fitted estimator inside them): a pipeline ending in the estimator or in a
    TransformedTargetRegressor of it, or a TransformedTargetRegressor of either (the
    usual way to scale both X and y; it was taken for the estimator, and the
    displays said "Pipeline has no eta_"; tester DS)."""
    target = None
    if hasattr(estimator, "regressor_"):
        target, estimator = estimator, estimator.regressor_
    steps = estimator[:-1] if hasattr(estimator, "steps") else None
    last = estimator[-1] if steps is not None else estimator
    if hasattr(last, "regressor_"):
        target, last = last, last.regressor_
    return steps, target, last


def _fitted(estimator, attribute, what, which):
    """The fitted estimator inside ``estimator`` when it has ``attribute``; else a
    ValueError that says which fits have it (``which``)."""
    from sklearn.utils.validation import check_is_fitted

    est = _unwrap(estimator)[2]
    check_is_fitted(est)
    if getattr(est, attribute, None) is None:
        raise ValueError(
            f"{type(est).__name__} has no {attribute} to plot {what}: {which}"
        )
    return est


def _last_step_inputs(estimator, X, y=None):
    """(X, y) as the fitted gated estimator inside ``estimator`` saw them: through a
    pipeline's earlier steps, and y through a TransformedTargetRegressor's
    transform (the raw inputs gave another problem's path, with no error). Dask
    collections are refused: the displays compute in memory, and gathered X onto the
    client (280 MiB for an X of 23 MiB, without a word; tester BS)."""
    from ._estimators import _is_dask

    if _is_dask(X, y):
        raise TypeError(
            "the displays compute in memory (the path's solves, the cells' weights) "
            "and do not take Dask collections, which they would gather onto the "
            "client: pass a NumPy sample of the rows, e.g. X[:100_000].compute()"
        )
    steps, target, _ = _unwrap(estimator)
    if steps is not None and len(steps):
        X = steps.transform(X)
    if y is not None and target is not None:
        Y = np.asarray(y, dtype=float)
        one_d = Y.ndim == 1
        Y = target.transformer_.transform(Y.reshape(Y.shape[0], -1))
        y = Y.ravel() if one_d else Y
    return X, y


def _gated_inputs(est, X):
    """X as the estimator's gates see it: with the bias column of ``neuron_bias``;
    checked against the fitted estimator as ``predict`` checks it (width, names)."""
    from ._estimators import _inputs
    from ._validation import validate_frame

    X = validate_frame(est, X, reset=False, dtype=np.float64)
    return _inputs(est, X)


def _group_norms(coefs):
    """(n_lams, p) group norms of a list of coefficient arrays (p, d) or (p, d, c)."""
    from ._scale import norms  # no over/underflow of the squares at any scale

    return np.array([norms(W) for W in coefs])


# The path of a fit with a given lam: down to 1e-3 lam_max, or to that lam, at most
# down to 1e-10 lam_max
_PATH_EPS, _PATH_EPS_MIN = 1e-3, 1e-10
_LAM_MAX_KEYS = ("loss", "fit_intercept", "sample_weight")


class RegularizationPathDisplay:
    """Group norms :math:`\\|w_i\\|` against :math:`\\lambda` along a path.

    Parameters
    ----------
    lams : ndarray of shape (n_lams,)
        The grid (decreasing, as :func:`fixntk.solve_path` returns it).
    norms : ndarray of shape (n_lams, p)
        ``norms[j, i]`` is :math:`\\|w_i\\|` at ``lams[j]``.
    lam : float, optional
        A selected value, drawn as a vertical line.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One line per group that is non-zero somewhere on the path.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, lams, norms, lam=None):
        self.lams = np.asarray(lams, dtype=float)
        self.norms = np.asarray(norms, dtype=float)
        self.lam = lam

    @classmethod
    def from_path(cls, path, *, lam=None, ax=None):
        """From :func:`fixntk.solve_path`'s result ``(lams, coefs, gaps, n_iters)``.

        Parameters
        ----------
        path : PathResult or tuple
        lam : float, optional
            A value of lam to mark.
        ax : matplotlib Axes, optional

        Returns
        -------
        RegularizationPathDisplay
        """
        lams, coefs = path[0], path[1]
        return cls(lams, _group_norms(coefs), lam=lam).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, sample_weight=None, ax=None):
        """Recompute the path of a fitted gated ReLU estimator on its own gates.

        The path runs over the estimator's grid ``lams_`` (or 20 values down to
        ``1e-3 lam_max`` for a given ``lam``, or to that ``lam`` where it is smaller,
        at least ``1e-10 lam_max``) on ``X`` as the estimator saw it (with
        its constant column when ``neuron_bias``), with its loss and output intercept
        (targets coded as the estimator codes them); the estimator's ``lam_`` is
        marked.

        Parameters
        ----------
        estimator : GatedReLURegressor or GatedReLUClassifier, fitted
            Or a pipeline ending in one (``X`` then goes through its earlier steps),
            or a TransformedTargetRegressor of one (``y`` through its transform).
        X : array-like of shape (n_samples, n_features)
            The inputs the estimator (or pipeline) was fitted on.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            The weights of the fit (a path without them is another problem's); a
            classifier's ``class_weight`` multiplies them as in its fit.
        ax : matplotlib Axes, optional

        Returns
        -------
        RegularizationPathDisplay

        Raises
        ------
        TypeError
            If the estimator is not a gated ReLU estimator (the NTK, KARE-kernel and
            ReLU estimators have no group lasso path).
        ValueError
            If ``y`` holds labels that a classifier was not fitted on.
        """
        from ._arrangement import Arrangement
        from ._estimators import _fit_weights, _GatedReLUBase
        from ._solver import lambda_max, solve_path
        from ._validation import listed

        est = _unwrap(estimator)[2]
        if not isinstance(est, _GatedReLUBase):
            # a KARE-kernel or ReLU estimator has gates too, but its model is not the
            # group lasso: a path on its gates would be another model's
            raise TypeError(
                "RegularizationPathDisplay.from_estimator draws the group lasso path "
                "of a GatedReLURegressor or GatedReLUClassifier; got "
                f"{type(est).__name__}. LambdaSelectionDisplay draws the score "
                "against lam of any estimator that chose lam on a grid"
            )
        est = _fitted(estimator, "gates_", "a path", "it has no gates")
        X, y = _last_step_inputs(estimator, X, y)
        X = _gated_inputs(est, X)
        Y = np.asarray(y)
        loss = getattr(est, "loss_", "squared")
        if hasattr(est, "classes_"):
            # labels the fit never saw (0/1 codes for a model fitted on words) drew
            # the zero path, or another encoding's, with no message (tester BH)
            # (by set membership: NumPy before 2 compared codes with words elementwise
            # and warned)
            known = set(est.classes_.tolist())
            seen = np.unique(Y.ravel()).tolist()
            unseen = np.array([v for v in seen if v not in known])
            if unseen.size:
                raise ValueError(
                    "y holds labels the estimator was not fitted on: "
                    f"{listed(repr(v) for v in unseen.tolist())}; pass the labels "
                    "it was fitted with (its classes_: "
                    f"{listed(repr(v) for v in est.classes_.tolist())})"
                )
        if hasattr(est, "classes_") and loss == "squared":
            Y = (Y.reshape(-1, 1) == est.classes_.reshape(1, -1)).astype(float)
            if est.classes_.size == 2:  # one output, labels -1 / +1
                Y = Y[:, 1] - Y[:, 0]
        arr = Arrangement.from_masks(X @ est.gates_.T >= 0)
        lams = getattr(est, "lams_", None)
        # the row weights of the fit: the user's times a classifier's class_weight
        # (without them the path was another problem's, with no error)
        sample_weight = _fit_weights(est, np.asarray(y), sample_weight, X.shape[0])
        kw = dict(
            tol=est.tol,
            max_iter=est.max_iter,
            loss=loss,
            fit_intercept=bool(getattr(est, "fit_intercept", False)),
            sample_weight=sample_weight,
        )
        if lams is None:
            # down to a given lam below the default end: the path drew nothing of
            # the fit at lam=1e-6 (tester DS)
            top = lambda_max(X, Y, arr, **{k: kw[k] for k in _LAM_MAX_KEYS})
            eps = _PATH_EPS
            if top > 0 and est.lam_ < eps * top:
                eps = max(est.lam_ / top, _PATH_EPS_MIN)
            path = solve_path(X, Y, arr, n_lams=20, eps=eps, **kw)
        else:
            path = solve_path(X, Y, arr, lams=lams, **kw)
        return cls.from_path(path, lam=est.lam_, ax=ax)

    def plot(self, ax=None):
        """Draw the path (log lam axis, decreasing to the right).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when None.

        Returns
        -------
        self
        """
        fig, ax = _axes(ax)
        used = np.flatnonzero(self.norms.max(axis=0) > 0)
        # a path of one lam has points, not lines: marked (it drew empty axes)
        marker = "o" if self.lams.size == 1 else None
        self.lines_ = [
            ax.plot(self.lams, self.norms[:, i], lw=1, marker=marker)[0]
            for i in used.tolist()
        ]
        if self.lam is not None:
            ax.axvline(
                self.lam, color="k", ls="--", lw=1, label=f"lam = {self.lam:.3g}"
            )
            ax.legend()
        ax.set_xscale("log")
        # set, not toggled: a second path on the same axes turned lam back to
        # increasing (tester DS)
        ax.xaxis.set_inverted(True)
        ax.set_xlabel("lam")
        ax.set_ylabel("group norm ||w_i||")
        ax.set_title(f"Regularisation path ({used.size} groups enter)")
        self.ax_, self.figure_ = ax, fig
        return self


# What the gated estimators' scoring paths report (their datafit's value).
_LOSS_NAMES = {
    "squared": "half mean squared error",
    "logistic": "log loss",
    "multinomial": "log loss",
    "poisson": "Poisson half deviance",
}


def _score_name(est):
    """The label of an estimator's lam scores: KARE, or the validation loss and how
    it was held out (``lam_selection_`` where the estimator records it: "auto" runs
    "cv" or "holdout")."""
    how = getattr(est, "lam_selection_", None) or (
        est.lam if isinstance(est.lam, str) else "score"
    )
    if how == "auto" and not hasattr(est, "lam_selection_"):
        # the ReLU estimators' "auto" cross-validates (it was the axis label; DS)
        how = "cv"
    if how == "kare":
        return "KARE"
    if how == "loo":  # the NTK estimators' default
        return "leave-one-out mean squared error"
    loss = getattr(est, "loss_", None)  # the gated estimators'; else kernel ridge's
    what = _LOSS_NAMES.get(loss, "mean squared error")
    where = {"cv": "cross-validated", "holdout": "held-out"}.get(how)
    return f"{where} {what}" if where else str(how)


class LambdaSelectionDisplay:
    """The score of each lam on the selection grid (KARE or cross-validated error).

    Parameters
    ----------
    lams : ndarray of shape (n_lams,)
    scores : ndarray of shape (n_lams,)
    lam : float, optional
        The selected value (marked).
    score_name : str, default="score"
        Label of the vertical axis.

    Attributes
    ----------
    line_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, lams, scores, lam=None, score_name="score"):
        self.lams = np.asarray(lams, dtype=float)
        self.scores = np.asarray(scores, dtype=float)
        self.lam = lam
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """From a fitted estimator with ``lams_`` and ``lam_scores_`` (``lam`` selected
        by "loo", "kare", "cv" or "holdout"; leave-one-out errors that are
        infinite, a leverage of 1 at the ridgeless end, are not drawn).

        Parameters
        ----------
        estimator : fitted fixntk estimator (or a pipeline ending in one)
        ax : matplotlib Axes, optional

        Returns
        -------
        LambdaSelectionDisplay
        """
        est = _fitted(
            estimator,
            "lam_scores_",
            "the lam selection",
            "it is set when lam is chosen on a grid (lam='auto', 'cv', 'holdout' "
            "or 'kare' of the gated ReLU, NTK and ReLU estimators, 'loo' of the "
            "NTK); this fit's lam "
            "was given, or optimised jointly with the kernel weights (the "
            "KARE-trained kernels: their KARE per iterate is kare_history_), or "
            "no lam was scored (lambda_max 0: y is fitted by the intercept, W = 0 at "
            "every lam)",
        )
        return cls(
            est.lams_, est.lam_scores_, lam=est.lam_, score_name=_score_name(est)
        ).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curve on log-log axes with the selected lam marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        self
        """
        fig, ax = _axes(ax)
        finite = np.isfinite(self.scores)
        (self.line_,) = ax.plot(
            self.lams[finite], self.scores[finite], marker="o", ms=3
        )
        if self.lam is not None:
            ax.axvline(
                self.lam, color="k", ls="--", lw=1, label=f"lam = {self.lam:.3g}"
            )
            ax.legend()
        ax.set_xscale("log")
        if np.all(self.scores[finite] > 0):
            ax.set_yscale("log")
        ax.set_xlabel("lam")
        ax.set_ylabel(self.score_name)
        ax.set_title("Selection of lam")
        self.ax_, self.figure_ = ax, fig
        return self


# What step 0 of irls is, by IRLSResult.eta0_kind
_IRLS_STARTS = {
    "ntk_weights": "the NTK's kernel weights",
    "counts": "the NTK's kernel weights (finite width)",
    "ntk_kernel": "the NTK",
    "given": "the given kernel weights",
}


def _irls_start(kind):
    """What step 0 of irls is, in words, from ``IRLSResult.eta0_kind``."""
    return _IRLS_STARTS.get(kind, "the given kernel weights")


class IRLSObjectiveDisplay:
    """The training objective along IRLS, from the NTK's weights to the optimum.

    Parameters
    ----------
    history : ndarray of shape (n_steps + 1,)
        :math:`F(W_k)`; ``history[0]`` is the objective at the (best-scaled)
        starting weights: the NTK's by default (``irls``'s ``eta0``).
    optimum : float, optional
        The certified optimum (drawn as a horizontal line).
    start : str, default="the NTK's kernel weights"
        What step 0 is, for the axis label (:meth:`from_result` reads it from
        ``IRLSResult.eta0_kind``).

    Attributes
    ----------
    line_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, history, optimum=None, start="the NTK's kernel weights"):
        self.history = np.asarray(history, dtype=float)
        self.optimum = optimum
        self.start = start

    @classmethod
    def from_result(cls, result, *, ax=None):
        """From :func:`fixntk.irls`'s :class:`~fixntk.IRLSResult`.

        Parameters
        ----------
        result : IRLSResult
        ax : matplotlib Axes, optional

        Returns
        -------
        IRLSObjectiveDisplay
        """
        start = _irls_start(getattr(result, "eta0_kind", "given"))
        return cls(result.history, optimum=result.objective, start=start).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """From a gated ReLU estimator fitted with ``solver="irls"``
        (``objective_history_``); the optimum is its ``objective_``.

        Parameters
        ----------
        estimator : fitted GatedReLURegressor or GatedReLUClassifier
        ax : matplotlib Axes, optional

        Returns
        -------
        IRLSObjectiveDisplay
        """
        est = _fitted(
            estimator,
            "objective_history_",
            "the IRLS objective",
            "it is set by GatedReLURegressor and GatedReLUClassifier fitted with "
            "solver='irls'",
        )
        # the start irls took (eta0="ntk" falls back to the finite-width weights;
        # the plot named the NTK's whatever the start; tester DT)
        start = _irls_start(getattr(est, "_irls_start", "ntk_weights"))
        return cls(est.objective_history_, optimum=est.objective_, start=start).plot(
            ax=ax
        )

    def plot(self, ax=None):
        """Draw F(W_k) against the step k (symmetric-log step axis).

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        self
        """
        fig, ax = _axes(ax)
        steps = np.arange(self.history.size)
        (self.line_,) = ax.plot(steps, self.history, marker=".", ms=3, label="IRLS")
        if self.optimum is not None:
            ax.axhline(self.optimum, color="k", ls="--", lw=1, label="optimum")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel(f"IRLS step (0 = {self.start})")
        ax.set_ylabel("training objective F(W)")
        # from another start it is IRLS, not the NTK fixed (tester DS)
        ntk = self.start.startswith("the NTK")
        ax.set_title("Fixing the NTK" if ntk else "IRLS")
        ax.legend()
        self.ax_, self.figure_ = ax, fig
        return self


class CellWeightsDisplay:
    """Kernel weights of the cells: the NTK's :math:`\\tilde\\eta_i` against the fixed
    :math:`\\eta_i = \\|w_i\\|`.

    Parameters
    ----------
    ntk_eta : ndarray of shape (p,)
        The NTK's weights (:func:`fixntk.ntk_weights`).
    eta : ndarray of shape (p,)
        The fixed weights (``eta_`` of a gated ReLU estimator, ``IRLSResult.eta``), or
        a learned kernel's weights on the same cells.
    name : str, default="fixed"
        What ``eta`` is, for the axis label and the title ("learned" for a
        KARE-trained kernel).
    ntk_label : str, optional
        The x axis's label (default "NTK weight (share of the Gaussian mass)");
        :meth:`from_estimator` names the uniform finite-width weights when it falls
        back to them.
    zeros : str, default="set to zero"
        What a cell of ``eta`` 0 is, for the title: :meth:`from_estimator` of a
        KARE-trained kernel that kept an NTK part says "below the Monte Carlo
        resolution" (every cell keeps its NTK probability there, and a weight of 0
        is the estimate's, not the kernel's).

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        The cells with both weights positive (log-log axes).
    n_dropped_ : int
        Cells with a zero weight ``eta`` (inactive neurons of a fixed NTK), listed in
        the title.
    n_unplotted_ : int
        Cells with a positive fixed weight and an NTK weight of 0 (off the log axes:
        the linear group's all-ones cell without a neuron bias), listed in the title
        with their share of the weight.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, ntk_eta, eta, name="fixed", ntk_label=None, zeros="set to zero"):
        self.ntk_eta = np.asarray(ntk_eta, dtype=float)
        self.eta = np.asarray(eta, dtype=float)
        self.name = name
        self.zeros = zeros
        self.ntk_label = (
            "NTK weight (share of the Gaussian mass)"
            if ntk_label is None
            else ntk_label
        )
        if self.ntk_eta.shape != self.eta.shape:
            raise ValueError(
                f"ntk_eta and eta must have the same shape; got {self.ntk_eta.shape} "
                f"and {self.eta.shape}"
            )

    @classmethod
    def from_weights(cls, ntk_eta, eta, *, ax=None):
        """From the two weight vectors.

        Parameters
        ----------
        ntk_eta : array-like of shape (p,) or NTKWeights
        eta : array-like of shape (p,)
        ax : matplotlib Axes, optional

        Returns
        -------
        CellWeightsDisplay
        """
        ntk_eta = getattr(ntk_eta, "eta", ntk_eta)
        return cls(ntk_eta, eta).plot(ax=ax)

    @classmethod
    def from_estimator(
        cls, estimator, X, *, sample_weight=None, n_samples=10**5, seed=0, ax=None
    ):
        """From a fitted gated ReLU estimator: its ``eta_`` against the NTK weights of
        its cells on ``X``.

        For a KARE-trained kernel (``KAREKernelRegressor``, ``KAREKernelClassifier``:
        ``ntk_weight_`` times the NTK plus the masking kernels weighted by ``eta_``)
        the learned weight of a sampled cell is ``eta_ + ntk_weight_ * eta~`` with
        ``eta~`` the cell's Gaussian probability: the gated ReLU NTK is every cell's
        masking kernel weighted by its probability, ``H(eta~)`` over all cells
        (Dwaraknath, Ergen and Pilanci 2023). A kernel that kept the NTK
        (``eta_ = 0``) lies on the diagonal.

        The NTK weights are the Monte Carlo cell probabilities
        (:func:`fixntk.ntk_weights`) when the cells hold at least half of the Gaussian
        mass, else (in higher dimension, where a few hundred sampled cells hold almost
        none of it) the finite-width NTK of the gates, 1/p per cell: the rule of
        :func:`fixntk.irls` with ``eta0="ntk"`` (its gates' share of the gates,
        ``counts / n_gates``) where no two gates share a mask, as on the distinct
        gates an estimator keeps.

        Parameters
        ----------
        estimator : fitted GatedReLURegressor or GatedReLUClassifier
            Or a pipeline ending in one (``X`` then goes through its earlier steps).
        X : array-like of shape (n_samples, n_features)
            The inputs the estimator (or pipeline) was fitted on.
        sample_weight : array-like of shape (n_samples,), optional
            The weights of the fit: its rows of weight 0 are left out, as the fit
            left them out (their cells are another arrangement's).
        n_samples : int, default=100000
            Gaussian directions for the NTK weights.
        seed : int, default=0
        ax : matplotlib Axes, optional

        Returns
        -------
        CellWeightsDisplay
        """
        from ._arrangement import Arrangement
        from ._ntk import ntk_weights
        from ._validation import check_sample_weight

        est = _fitted(
            estimator,
            "eta_",
            "cell weights",
            "kernel weights over gated cells are set by the gated ReLU and "
            "KARE-kernel estimators",
        )
        X, _ = _last_step_inputs(estimator, X)
        X = _gated_inputs(est, X)
        if sample_weight is not None:
            # the fit's rows (the cells of every row moved the NTK shares drawn by
            # up to 0.25; tester DS)
            s = check_sample_weight(sample_weight, X.shape[0])
            X = X[s > 0]
        arr = Arrangement.from_masks(X @ est.gates_.T >= 0)
        ntk = ntk_weights(X, arr, n_samples=n_samples, seed=seed)
        eta = ntk.eta
        ntk_weight = float(getattr(est, "ntk_weight_", 0.0))
        if ntk_weight > 0:  # a KARE-trained kernel: its NTK part on these cells
            # a cell the Gaussian draws missed has an estimate of 0, not a learned
            # weight of 0 (a kernel that kept the NTK was told it had set 3999 of
            # 4000 cells to zero; tester DS)
            zeros = f"below the Monte Carlo resolution (1/{n_samples})"
            return cls(eta, est.eta_ + ntk_weight * eta, "learned", zeros=zeros).plot(
                ax=ax
            )
        if ntk.captured_mass < 0.5:  # the rule of irls(eta0="ntk")
            # (it was labelled as the Gaussian mass: a vertical line at 1/p)
            label = (
                # two lines: one ran off the gallery example's figure (tester DS)
                f"NTK weight (finite-width: 1/p per mask;\nthe cells hold "
                f"{ntk.captured_mass:.0%} of the Gaussian mass)"
            )
            return cls(np.full(arr.p, 1.0 / arr.p), est.eta_, ntk_label=label).plot(
                ax=ax
            )
        return cls(eta, est.eta_).plot(ax=ax)

    def plot(self, ax=None):
        """Scatter the fixed weights against the NTK's (both normalised to sum 1).

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        self
        """
        fig, ax = _axes(ax)
        a = self.ntk_eta / max(self.ntk_eta.sum(), np.finfo(float).tiny)
        b = self.eta / max(self.eta.sum(), np.finfo(float).tiny)
        both = (a > 0) & (b > 0)
        self.n_dropped_ = int(np.count_nonzero(b == 0))
        # active cells the NTK gives no weight (the linear group's all-ones cell
        # without a neuron bias: the origin's gates alone; tester CV): off the log
        # axes, so counted in the title with their share of the weight
        unplotted = (a == 0) & (b > 0)
        self.n_unplotted_ = int(np.count_nonzero(unplotted))
        self.scatter_ = ax.scatter(a[both], b[both], s=10, alpha=0.7)
        if both.any():
            lo = min(a[both].min(), b[both].min())
            hi = max(a[both].max(), b[both].max())
            ax.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--", label="equal")
            ax.legend()
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(self.ntk_label)
        what = "||w_i||" if self.name == "fixed" else "eta_i"
        ax.set_ylabel(f"{self.name} weight {what} (share)")
        off = ""
        if self.n_unplotted_:
            off = (
                f"; {self.n_unplotted_} of NTK weight 0 not shown, "
                f"{b[unplotted].sum():.0%} of the {self.name} weight"
            )
        ax.set_title(
            f"Cell weights, NTK vs {self.name} ({self.n_dropped_} cells "
            f"{self.zeros}{off})"
        )
        self.ax_, self.figure_ = ax, fig
        return self
