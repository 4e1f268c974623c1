"""scikit-learn estimators: kernel ridge with masking-kernel weights trained by KARE.

``KAREKernelRegressor`` / ``KAREKernelClassifier`` sample gates as the gated ReLU
estimators do, learn the weights of :math:`H(\\eta) = \\sum_i \\eta_i D_i X X^T D_i` by
:func:`kare_mkl` (from the closed-form NTK, with a held-out guard by default) and
predict by kernel ridge with that kernel; new points get their masks from the gates.
"""

import contextlib

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._arrangement import Arrangement, sample_arrangement
from ._estimators import (
    _check_lam_param,
    _check_rows_for_intercept,
    _inputs,
    _mean_intercept,
    _merged_copies,
    _MultiOutputRegressor,
    _noticed,
    _OneHotClassifier,
    _refuse_dask,
    _scaled_rows,
    _seed,
    _set_bias_scale,
    _Targets,
    _VersionedPickle,
    _weighted_rows,
)
from ._irls import _NoCellMass
from ._kare_mkl import (
    _KARE_ALTERNATIVE,
    _KARE_MATRICES,
    _KARE_STEPS,
    kare_mkl,
    learned_kernel,
)
from ._kernels import kernel_predict
from ._memory import check_kernel_size, kernel_size_warned
from ._ridge import PSDRidge
from ._validation import check_int, user_stacklevel, validate_frame
from ._validation import warn as _warn

__all__ = ["KAREKernelRegressor", "KAREKernelClassifier"]


# What makes a KARE kernel's fit faster: each of its steps costs n^2 per distinct mask
# besides the n x n kernel's n^3 (n_gates=300000 on 200 rows ran 205 s, and its notice
# named the rows alone; tester EV)
_KARE_FIT_FASTER = (
    "fewer gates (n_gates: each step costs n^2 per distinct mask), fewer rows (an n "
    "x n kernel and its eigendecomposition, n^3), a smaller max_iter, or the gated "
    "estimators (GatedReLURegressor, GatedReLUClassifier), whose time grows as n,"
)


class _KAREKernelBase(_Targets, _VersionedPickle, BaseEstimator):
    def __init__(
        self,
        n_gates=4000,
        lam="kare",
        *,
        neuron_bias=True,
        fit_intercept=True,
        eta0="ntk",
        validation_fraction=0.2,
        patience=5,
        penalty=0.0,
        n_free_weights="auto",
        max_iter=100,
        tol=1e-6,
        random_state=None,
        verbose=0,
    ):
        self.n_gates = n_gates
        self.lam = lam
        self.neuron_bias = neuron_bias
        self.fit_intercept = fit_intercept
        self.eta0 = eta0
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.penalty = penalty
        self.n_free_weights = n_free_weights
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _fit_targets(self, X, Y, labels=None, sample_weight=None):
        with _noticed(self, X=X, faster=_KARE_FIT_FASTER):
            return self._fit_kernel(X, Y, labels, sample_weight)

    def _fit_kernel(self, X, Y, labels=None, sample_weight=None):
        X, Y, labels, sample_weight = _weighted_rows(X, Y, labels, sample_weight)
        # copies of a row (with its target) as one row of their weight: KARE, the
        # held-out split and the final lam's leave-one-out count them apart, and
        # every row given twice chose interpolation (lam 9.7e-9, test R^2 -2.1
        # against 0.71 for NTKRegressor on the same rows; 300 rows given ten times
        # took 175 s; a tester)
        merged = _merged_copies(X, Y, labels, sample_weight)
        if merged[4] is None:
            # not in a design of repeated inputs (draws, not copies): KARE and the
            # held-out split then count every row (merged, a cell's rows of one
            # target were held out and fitted by the other's alone; tester AT)
            X, Y, labels, sample_weight = merged[:4]
        _check_rows_for_intercept(self, X.shape[0], sample_weight is not None)
        n_gates = check_int(self.n_gates, "n_gates", 1)
        # the estimator's own modes named (kare_mkl's message left 'auto' out)
        _check_lam_param(self.lam, ("kare", "auto"), kernel=True)
        seed = _seed(self.random_state)
        Xt = _set_bias_scale(self, X, sample_weight)
        check_kernel_size(
            Xt.shape[0],
            f"{type(self).__name__} (KARE and kernel ridge on n x n kernels)",
            _KARE_ALTERNATIVE,
            n_matrices=_KARE_MATRICES,
            warn=True,
            n_steps=_KARE_STEPS,
        )
        arr = sample_arrangement(Xt, n_gates, seed=seed)
        # the intercept: the targets' (weighted) mean, so that the model does not
        # depend on an offset of y (without it, test R^2 on diabetes + 1000 was 0.07)
        self.intercept_, Y = _mean_intercept(Y, sample_weight, self.fit_intercept)
        # Sample weights: rows of X and Y scaled by a_k = sqrt(s_k n / sum(s)) after
        # the masks are drawn; masking kernels and the NTK are homogeneous in each
        # argument, so kernel ridge and KARE on the scaled rows are the weighted ones.
        same_rows = Xt.shape[0] > 1 and not np.ptp(Xt, axis=0).any()
        Xt, Y = _scaled_rows(Xt, Y, sample_weight)
        self.X_fit_ = Xt
        self.gates_ = arr.gates
        if not Y.any():  # constant targets: the intercept (or 0) fits them exactly
            self._null_fit(arr.p, Xt.shape[0], Y.shape[1])
            return self
        null = None  # why every kernel of the search is the intercept's
        if not Xt.any():
            # all-zero features without the neuron bias: every kernel of the search
            # (the NTK and the masking kernels) is 0 on them, as for NTKRegressor
            null = (
                "X is all zero (with neuron_bias=False), so is every kernel: the "
                "model predicts the intercept, the weighted mean of y (0 without "
                "fit_intercept)"
            )
        elif same_rows and self.fit_intercept:
            # as NTKRegressor: every kernel is constant over the rows (it warned of a
            # near-singular kernel and a grid edge instead)
            null = (
                "every training row is the same (constant or all-zero features), and "
                "so is every kernel's value between two of them: the model predicts "
                "the intercept, the weighted mean of y"
            )
        if null is not None:
            _warn(
                f"{type(self).__name__}: {null}",
                UserWarning,
                stacklevel=user_stacklevel(),  # the user's fit
            )
            self._null_fit(arr.p, Xt.shape[0], Y.shape[1])
            return self
        with kernel_size_warned(), _no_cell_mass(Xt.shape[1], arr.p):
            res = kare_mkl(
                Xt,
                Y,
                arr,
                # "auto" is the default, "kare": the kernel is trained by KARE, and
                # its lam with it (NTKRegressor's "auto" is leave-one-out)
                lam="kare"
                if isinstance(self.lam, str) and self.lam == "auto"
                else self.lam,
                eta0=self.eta0,
                validation_fraction=self.validation_fraction,
                patience=self.patience,
                penalty=self.penalty,
                n_free_weights=self.n_free_weights,
                max_iter=self.max_iter,
                tol=self.tol,
                seed=seed,
                verbose=self.verbose,
            )
        ridge = PSDRidge(res.kernel(Xt, arr), Xt.shape[0] * res.lam)
        with np.errstate(over="ignore", invalid="ignore"):
            self.dual_coef_ = ridge.coef(Y)
        if not np.isfinite(self.dual_coef_).all():
            # as NTKRegressor's: y / |X|^2 leaves double precision (X at 1e-100, y at
            # 1e120 were fitted without a word and predicted NaN; tester DQ)
            raise ValueError(
                "the kernel model's dual coefficients exceed the range of double "
                f"precision (|X| up to {float(np.abs(X).max()):.3g}, |y| up to "
                f"{float(np.abs(Y).max()):.3g}); rescale X or y"
            )
        self.eta_ = res.eta
        self.ntk_weight_ = res.ntk_weight
        self.lam_ = res.lam
        self.kare_ = res.kare
        self.kare_start_ = res.kare_start
        self.kare_history_ = res.kare_history
        self.validation_history_ = res.validation_history
        self.best_iter_ = res.best_iter
        self.validation_gain_bound_ = res.validation_gain_bound
        self.n_iter_ = res.n_iter + 1  # kernels evaluated, the start included
        self.stop_reason_ = res.stop_reason
        return self

    def _null_fit(self, p, n, c):
        """The fitted attributes for targets the intercept fits exactly (KARE is 0
        for every kernel): the NTK's kernel, no dual coefficients."""
        self.dual_coef_ = np.zeros((n, c))
        self.eta_ = np.zeros(p)
        self.ntk_weight_ = 1.0
        # any lam gives the same model: the user's, where one was given
        self.lam_ = 1.0 if isinstance(self.lam, str) else float(self.lam)
        self.kare_ = self.kare_start_ = 0.0
        self.kare_history_ = np.zeros(1)
        self.validation_history_ = self.validation_gain_bound_ = None
        self.best_iter_ = self.n_iter_ = 0
        self.stop_reason_ = "converged"

    def _raw_predict(self, X):
        check_is_fitted(self, "dual_coef_")
        _refuse_dask(self, X)  # (it gathered X, then score failed on 'chunks')
        X = validate_frame(self, X, reset=False, dtype=np.float64)
        arr = Arrangement.from_masks(self.X_fit_ @ self.gates_.T >= 0)
        arr.gates = self.gates_

        def kernel(Z):
            return learned_kernel(self.X_fit_, arr, self.eta_, self.ntk_weight_, Z).T

        Z = _inputs(self, X)
        n_fit = self.X_fit_.shape[0]
        F = kernel_predict(kernel, Z, n_fit, self.dual_coef_, type(self).__name__)
        return F + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class KAREKernelRegressor(_MultiOutputRegressor, _KAREKernelBase):
    r"""Kernel ridge with masking-kernel weights trained to minimise KARE.

    Solves

    .. math::

        \min_{\eta \ge 0,\ \lambda > 0}\ \mathrm{KARE}\big(K(\eta), y, \lambda\big),
        \qquad K(\eta) = K_{\mathrm{NTK}} + \sum_{i=1}^p \eta_i D_i X X^T D_i,

    over the masks :math:`D_i = \mathrm{diag}(1[X g_i \ge 0])` of ``n_gates`` Gaussian
    gates (X extended by a constant column, ``bias_scale_``, when ``neuron_bias``),
    starting from the closed-form NTK (:math:`\eta = 0`; :func:`kare_mkl`), then
    kernel ridge
    :math:`\hat f(x) = K(\eta)(x, X)\, a`, :math:`a = (K(\eta) + n\lambda I)^{-1} y`,
    reported with the NTK's trace (``ntk_weight_`` times the NTK plus the masking
    kernels). By default KARE is minimised on 80% of the rows and an iterate is kept
    only if it beats the NTK on the other 20% beyond noise (and those are at least 20
    rows: with fewer, a warning); otherwise the fit *is*
    NTK kernel ridge with lam selected by exact leave-one-out, as
    :class:`~fixntk.NTKRegressor` selects it, but on the targets less their mean:
    NTKRegressor fits its intercept inside the ridge (its leverage enters the
    leave-one-out), so the two choose lams a little apart and predict a little
    apart (the data of ``docs/examples/plot_kare_training.py``: lam 7.0e-5 against
    5.8e-5, predictions up to 0.09 apart for a y of standard deviation 2.2; with
    ``fit_intercept=False`` they agree to round-off). The guard is a test on
    the held-out rows, not a promise: on noisy targets and few of them it can let
    through a kernel that loses on new data (200 rows of a planted teacher with
    noise as large as the signal, 40 held out: 2 of 16 seeds lost 5% and 22% to
    the NTK; none lost over 3% at 0.3 times that noise or on 400 rows, 8 seeds
    each; tester CE); a larger ``validation_fraction`` judges on more rows
    (``fit_intercept``; KARE assumes a label-blind kernel; minimised over p weights
    it overfits, see :func:`kare_mkl`).

    Parameters
    ----------
    n_gates : int, default=4000
        Gaussian gates sampled (the number p of distinct masks is at most this).
        The NTK is always in the search space, so more gates add candidate kernels
        (masks closer to the directions that matter) and cannot lose more than the
        held-out guard lets through; each L-BFGS-B step costs O(n^2 p) time and the
        masks n p bytes. Measured (``benchmarks/kare_vs_ntk.py``: 40 planted ReLU
        teachers and 5 diabetes splits, test error below 0.95 times the NTK's,
        every weight free): 0 problems with 100 gates, 8 with 1000, 15 with 4000
        (at 2x the time of 1000; a fit of 1000 rows of make_friedman1 took 7 s on
        one core, and a fit's time grows with its KARE iterations); with 4000 gates
        and the default ``n_free_weights="auto"``, 23. How to choose: 4000 up to a
        few thousand rows; with more rows, fewer gates keep the cost O(n^2 p) in
        hand.
    lam : "kare", "auto" or float > 0, default="kare"
        "kare" (or "auto"): optimised jointly with the weights on the fitting rows,
        then re-selected on all the rows by exact leave-one-out (``lam_``). A float
        is held fixed: with the default ``eta0="ntk"`` it is the ridge of the NTK at
        weight 1 (the start is ``NTKRegressor(lam=lam)``'s kernel ridge, in the same
        units); with a masks-only ``eta0`` it only fixes the weights' scale
        (:func:`kare_mkl`).
    neuron_bias : bool, default=True
    fit_intercept : bool, default=True
        Fit the output intercept as the (sample-weighted) mean of the targets, and
        the kernel to the centred targets: predictions then move with an offset
        of y. (NTKRegressor fits its intercept jointly with the kernel ridge; the
        two agree at iterate 0 only with ``fit_intercept=False`` in both.)
    eta0 : {"ntk", "mc", "counts"} or array-like, default="ntk"
        "ntk": start at the closed-form NTK, which is part of the search space.
        Otherwise the masking kernels alone from these weights (see
        :func:`kare_mkl`); "mc" (their Monte Carlo NTK weights) works in low
        dimension only: beyond a few features the sampled cells hold almost none of
        the Gaussian mass, and it is refused where no direction fell in them. An
        array holds one weight per distinct mask, whose number p is known only once
        the gates are sampled on the rows fitted (it differs between the folds of a
        cross-validation): for cross-validation or pipelines, give one of the
        strings.
    validation_fraction : float in (0, 1) or None, default=0.2
        Held-out share for early stopping (None: plain KARE minimisation, which
        overfits when p is not small compared with n).
    patience : int, default=5
        Iterations without held-out improvement before stopping.
    penalty : float >= 0, default=0.0
        Pull toward the start (see :func:`kare_mkl`).
    n_free_weights : int, None or "auto", default="auto"
        Tie the weights: k-means clusters of the masks share one multiplier; None
        leaves every weight free; "auto" fits both free weights and 100 tied ones
        and keeps the one whose held-out gain on the NTK is surest (twice the time;
        :func:`kare_mkl`).
    max_iter : int, default=100
        L-BFGS-B iterations.
    tol : float > 0, default=1e-6
    random_state : int, RandomState instance or None, default=None
        Seeds the gates, the held-out split and the k-means.
    verbose : int, default=0
        1: a progress bar over the iterations of :func:`kare_mkl` (a line every 30 s off
        a terminal); 2: also log KARE at each iteration (the ``fixntk`` logger).

    Attributes
    ----------
    gates_ : ndarray of shape (p, n_features + neuron_bias)
    bias_scale_ : float
        The value of the constant column of ``neuron_bias``: the median of the
        training X's column root mean squares (rows weighted by ``sample_weight``;
        1 without ``neuron_bias``).
    eta_ : ndarray of shape (p,)
        The learned weights of the masking kernels (0 where not used).
    ntk_weight_ : float
        The weight of the closed-form NTK in the learned kernel (1 with
        ``eta_ = 0`` when the NTK itself was kept; 0 when ``eta0`` is not "ntk").
    lam_ : float
        The kernel ridge lam of the learned kernel: with ``lam="auto"`` or "kare",
        selected on all the rows by exact leave-one-out after the weights are
        trained, on the targets less their mean (:class:`~fixntk.NTKRegressor`
        fits its intercept inside the ridge: a kernel that kept the NTK can get
        another lam than NTKRegressor's, see above).
    kare_ : float
        KARE of the learned kernel on the training data (optimistic: the weights were
        chosen with y).
    kare_start_ : float
        KARE of the starting (NTK) kernel at its lam, selected as ``lam_`` is
        (leave-one-out on the targets less their mean).
    kare_history_, validation_history_ : ndarray
        KARE on the fitting rows (at each iterate's own lam, so that the entry
        at ``best_iter_`` differs slightly from ``kare_``, taken at ``lam_``
        re-selected on the grid) and held-out mean squared error per iteration.
    best_iter_ : int
        The iterate kept (0: the NTK itself).
    validation_gain_bound_ : float or None
        Its held-out gain on the NTK beyond noise (the mean per-row gain in squared
        error less 2 standard errors; 0 for the NTK itself; None without a held-out
        split): :attr:`fixntk.KareMKLResult.validation_gain_bound`.
    n_iter_ : int
        Kernels evaluated: the start and the ``n_iter_ - 1`` L-BFGS-B iterations
        (1 when the NTK already satisfies the optimality conditions on the bound
        ``eta = 0``, where no weight's gradient is negative).
    stop_reason_ : str
    X_fit_ : ndarray of shape (n_samples, n_features + neuron_bias)
        The training rows the kernel's second argument takes at prediction: with
        ``sample_weight``, row k scaled by ``sqrt(s_k n / sum(s))`` (see Notes; the
        weights are in the rows, not in ``dual_coef_``).
    dual_coef_ : ndarray of shape (n_samples, n_outputs)
    intercept_ : float or ndarray of shape (n_outputs,)
        The targets' weighted mean (0 without ``fit_intercept``). Constant targets,
        and with a warning all-zero X under ``neuron_bias=False`` (every kernel is
        0), are fitted by it alone (``dual_coef_`` = 0, ``ntk_weight_`` = 1,
        ``lam_`` = 1, KARE 0).
    n_features_in_ : int

    Notes
    -----
    ``fit(X, y, sample_weight=s)`` scales row k by ``sqrt(s_k n / sum(s))`` after the
    masks are drawn: at a fixed kernel and lam this is the weighted kernel ridge
    exactly. KARE and the held-out split count the n rows, not ``sum(s)`` repeated
    ones (KARE's degrees-of-freedom term is in n). A row given more than once with
    the same target is therefore taken as one row of its copies' summed weight
    (``X_fit_`` holds it once): copies counted apart let KARE, the held-out split
    and leave-one-out fit each row by its twin. Integer weights and repeated rows
    then give the same fit. Where X takes few values (4 or more rows each on
    average, not all equally often), or a quarter or more of the rows whose X
    repeats share it with another target, no row is merged: the rows are draws of
    repeated inputs (categorical features), and merged, the held-out rows of an X
    were fitted by its other target alone, or by the other X alone.
    """


@contextlib.contextmanager
def _no_cell_mass(d, p):
    """eta0="mc" without a direction in a sampled cell, in the estimators' words
    (the error of kare_mkl advised "more n_samples", which they do not take:
    tester EM, on wine, diabetes and breast_cancer)."""
    try:
        yield
    except _NoCellMass:
        raise ValueError(
            f"eta0='mc' found no Gaussian direction in any of the {p} cells sampled "
            f"on {d} columns (with the bias column): beyond a few features the "
            "sampled cells hold almost none of the Gaussian mass, and the Monte "
            "Carlo NTK weights are all zero; use eta0='ntk' (the default, the "
            "closed-form NTK) or 'counts' (the finite-width NTK of the sampled gates)"
        ) from None


class KAREKernelClassifier(_OneHotClassifier, _KAREKernelBase):
    r"""Kernel ridge classifier (one-hot squared loss) with KARE-trained weights.

    KARE sums over the c outputs of the one-hot (0/1) labels; the program, the
    held-out guard against the NTK and the prediction are those of
    :class:`KAREKernelRegressor`, and ``predict`` returns the class of the largest
    output.

    Parameters
    ----------
    n_gates, lam, neuron_bias, fit_intercept, eta0, validation_fraction :
        As in :class:`KAREKernelRegressor` (the intercept: the classes' frequencies).
    patience, penalty :
        As in :class:`KAREKernelRegressor`.
    n_free_weights, max_iter, tol, random_state, verbose :
        As in :class:`KAREKernelRegressor`.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` (as in
        :class:`GatedReLUClassifier`).

    Attributes
    ----------
    gates_, eta_, ntk_weight_, lam_, kare_, kare_start_, kare_history_ :
        As in :class:`KAREKernelRegressor`.
    validation_history_, validation_gain_bound_, best_iter_, n_iter_ :
        As in :class:`KAREKernelRegressor`.
    stop_reason_, X_fit_, dual_coef_, bias_scale_ :
        As in :class:`KAREKernelRegressor`.
    intercept_ : ndarray of shape (n_classes,)
        As in :class:`KAREKernelRegressor`.
    n_features_in_ : int
    classes_ : ndarray of shape (n_classes,)
    """

    def __init__(
        self,
        n_gates=4000,
        lam="kare",
        *,
        neuron_bias=True,
        fit_intercept=True,
        eta0="ntk",
        validation_fraction=0.2,
        patience=5,
        penalty=0.0,
        n_free_weights="auto",
        max_iter=100,
        tol=1e-6,
        class_weight=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_gates,
            lam,
            neuron_bias=neuron_bias,
            fit_intercept=fit_intercept,
            eta0=eta0,
            validation_fraction=validation_fraction,
            patience=patience,
            penalty=penalty,
            n_free_weights=n_free_weights,
            max_iter=max_iter,
            tol=tol,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight
