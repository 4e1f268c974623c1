"""scikit-learn estimators for two-layer ReLU networks trained by their convex program.

``ReLURegressor`` / ``ReLUClassifier`` solve the cone-constrained group lasso
(:func:`fixntk.solve_relu`) on sampled gates' masks and predict with the ReLU network it
defines, ``f(x) = sum_i (x^T v_i)_+ - (x^T u_i)_+``: predictions on new data come from
the network itself (:meth:`to_network`), not from the gates.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._arrangement import sample_arrangement
from ._estimators import (
    _SCORING_TOL,
    _check_cv,
    _copy_groups,
    _fit_notice,
    _fitted_bias,
    _folds,
    _grow_bar,
    _mean_intercept,
    _MultiOutputRegressor,
    _no_lam_to_select,
    _noticed,
    _OneHotClassifier,
    _PathStop,
    _pick_lam,
    _refuse_dask,
    _scaled_rows,
    _score_unit,
    _scoring_grid,
    _seed,
    _set_bias_scale,
    _VersionedPickle,
    _warn_null_fit,
    _warn_unjudged_classes,
    _with_bias,
)
from ._progress import _check_verbose, heartbeat, progress
from ._relu import relu_lambda_max, solve_relu
from ._scale import norms
from ._solver import rows_equal
from ._validation import (
    check_bool,
    check_eps,
    check_int,
    check_lam,
    check_n_lams,
    check_network_input,
    check_relative_tol,
    quiet,
    validate_frame,
)

__all__ = ["ReLUNetwork", "ReLURegressor", "ReLUClassifier"]

# The epoch cap of the lam search's scoring solves. Near interpolation (more unknowns
# than rows) the ReLU program's block steps converge slowly and its Newton polish
# cannot run: on make_classification(600, 20) a fold's solves at the grid's two
# smallest lams ran 2000 epochs each to gap 2e-3, 58 s of a 77 s fit. With 500 the fit
# took 33 s and 1200 rows 90 s against 159 s, the same lam_ and test accuracy on those
# and on breast cancer, wine, diabetes and make_regression; the refit at lam_ runs to
# ``tol``.
_RELU_SCORING_EPOCHS = 500
# Decades the lam search's grid extends past ``eps`` while the validation loss still
# falls (the gated estimators' three would reach the program's slowest solves).
_RELU_EXTENSION = 1.0


# --------------------------------------------------------------------------- network


@dataclass
class ReLUNetwork:
    r"""A two-layer ReLU network, the model the ReLU convex program trains.

    .. math::

        f(x) = \sum_{j=1}^k (\tilde x^T w_j)_+ \, a_j + b,
        \qquad \tilde x = [x, s] \text{ if neuron\_bias else } x,

    with weight decay :math:`\frac12 \sum_j (\|w_j\|^2 + \|a_j\|^2)`, equal at this
    point to the convex penalty :math:`\sum_i \|v_i\| + \|u_i\|` (neuron ``v_i`` has
    ``w_j = v_i / sqrt(||v_i||)``, ``a_j = +sqrt(||v_i||)``; neuron ``u_i`` the same
    with a negative sign).

    Attributes
    ----------
    first_layer : ndarray of shape (k, d)
        The neurons' input weights :math:`w_j` (one row per neuron; d counts the
        intercept column when ``neuron_bias``).
    second_layer : ndarray of shape (k,) or (k, c)
        The output weights :math:`a_j`; with c outputs each neuron feeds one output (one
        nonzero per row).
    neuron_bias : bool
        Whether a constant (``bias_scale``) is appended to the inputs.
    classes : ndarray of shape (c,) or None
        The class labels of a classifier's network (one output per class), None for
        a regressor's.
    output_bias : float or ndarray of shape (c,), default=0.0
        The unpenalised output intercept :math:`b`.
    bias_scale : float, default=1.0
        The constant of the bias column (the estimator's ``bias_scale_``).
    feature_names_in : ndarray of shape (d_in,) or None, default=None
        The estimator's ``feature_names_in_`` (None where it was fitted on an array):
        a data frame given to :meth:`forward` must have these columns, in this order.

    Raises
    ------
    ValueError
        From :meth:`forward` and :meth:`predict`, for X with NaN or infinite
        entries, not 2-D, with a width other than the inputs', or a data frame whose
        columns are not ``feature_names_in``.
    """

    first_layer: np.ndarray
    second_layer: np.ndarray
    neuron_bias: bool
    classes: np.ndarray | None = None
    output_bias: float | np.ndarray = 0.0
    bias_scale: float = 1.0
    feature_names_in: np.ndarray | None = None

    @property
    def n_neurons(self):
        return self.first_layer.shape[0]

    @property
    def n_features_in(self):
        """The width of the inputs x (the bias column not counted)."""
        bias = check_bool(self.neuron_bias, "neuron_bias")
        return self.first_layer.shape[1] - int(bias)

    @property
    def signs(self):
        """The sign of each neuron's output weight (+1 for a v neuron, -1 for a u)."""
        a = self.second_layer
        return np.sign(a if a.ndim == 1 else a.sum(axis=1))

    def weight_decay(self):
        """``(||first layer||^2 + ||second layer||^2) / 2``."""
        return 0.5 * float((self.first_layer**2).sum() + (self.second_layer**2).sum())

    def forward(self, X):
        """The network's outputs on X of shape (m, d_in): (m,) or (m, c)."""
        X = check_network_input(X, self.n_features_in, self.feature_names_in)
        Xt = _with_bias(X, self.neuron_bias, self.bias_scale)
        F = np.maximum(Xt @ self.first_layer.T, 0.0) @ self.second_layer
        return F + self.output_bias

    __call__ = forward

    def predict(self, X):
        """Predictions as the estimator makes them: the outputs of a regressor, the
        class of the largest output for a classifier."""
        F = self.forward(X)
        return F if self.classes is None else self.classes[np.argmax(F, axis=1)]


def _network(v, u, neuron_bias, one_d, output_bias=0.0, bias_scale=1.0):
    """The ReLU network of the convex weights v, u of shape (p, d, c)."""
    first, second = [], []
    c = v.shape[2]
    for W, sign in ((v, 1.0), (u, -1.0)):
        for k in range(c):
            row_norms = norms(W[:, :, k])  # no over/underflow at any scale of W
            act = np.flatnonzero(row_norms > 0)
            scale = np.sqrt(row_norms[act])
            first.append(W[act, :, k] / scale[:, None])
            a = np.zeros((act.size, c))
            a[:, k] = sign * scale
            second.append(a)
    first = np.vstack(first)
    second = np.vstack(second)
    return ReLUNetwork(
        first_layer=first,
        second_layer=second[:, 0] if one_d else second,
        neuron_bias=bool(neuron_bias),
        output_bias=output_bias,
        bias_scale=bias_scale,
    )


class _ReLUBase(_VersionedPickle, BaseEstimator):
    """Fit, lam selection and the network shared by the ReLU estimators."""

    def __init__(
        self,
        n_gates=100,
        lam="cv",
        *,
        neuron_bias=True,
        fit_intercept=True,
        n_lams=10,
        eps=1e-2,
        cv=5,
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_gates = n_gates
        self.lam = lam
        self.neuron_bias = neuron_bias
        self.fit_intercept = fit_intercept
        self.n_lams = n_lams
        self.eps = eps
        self.cv = cv
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        n_gates = check_int(self.n_gates, "n_gates", 1)
        if isinstance(self.lam, str):
            if self.lam not in ("cv", "auto"):
                raise ValueError(
                    f"lam must be a float > 0, 'cv' or 'auto' (the same); got "
                    f"{self.lam!r}"
                )
            lam = "cv"
        else:
            lam = check_lam(self.lam)
        # the grid's parameters and cv whatever lam is, as the gated and NTK
        # estimators do (cv="foo" passed with a float lam, and a search over
        # lam=[0.1, "cv"] failed only at its "cv" candidates; tester EV)
        _check_cv(self.cv)
        check_n_lams(self.n_lams, lam)
        check_eps(self.eps)
        check_relative_tol(self.tol)
        check_int(self.max_iter, "max_iter", 1)
        check_bool(self.warm_start, "warm_start")
        return n_gates, lam

    def _masks(self, Xt, n_gates, seed, n_outputs):
        """(gates, masks, warm start or None): new gates, or the previous fit's."""
        if self.warm_start and hasattr(self, "gates_"):
            if (
                self.gates_.shape[1] == Xt.shape[1]
                and getattr(self, "n_gates_", None) == n_gates
                and self._n_outputs_fit == n_outputs
            ):
                return self.gates_, Xt @ self.gates_.T >= 0, (self._v3, self._u3)
        arr = sample_arrangement(Xt, n_gates, seed=seed)
        return arr.gates, arr.masks, None

    def _select_lam(self, Xt, Y, masks, seed, labels, sample_weight=None):
        """lam by cross-validation: (lam, lams reached, mean validation MSEs).

        The folds' warm-started paths run side by side on the grid (extended a
        decade past ``eps`` while the validation error falls, not three as the
        gated estimators' are: the ReLU program's solves near interpolation are
        slow; a warning says when the smallest lam wins) and stop together on their mean
        validation error (:class:`fixntk._estimators._PathStop`: a decade past
        lam_max with no gain over the null model, half a decade without a better
        score, or a clear rise), each scoring solve to the looser scoring tolerance
        and epoch cap; the refit at the chosen lam then runs to ``tol``. (A full grid
        to ``tol`` on every fold took 85 s on 50 rows of noise, most of it at lams far
        below the best.) The errors are scored in a power of 2 of Y's units, so that
        targets near 1e-200 do not square to 0 (every lam tied, and the null model
        won)."""
        # a long pass before the lam bar exists (50000 rows of 100 features, 3
        # classes: 77 s silent at verbose=1; tester DL): a line every 30 s
        with heartbeat("lambda_max of the ReLU program", self.verbose):
            lmax = relu_lambda_max(Xt, Y, masks)
        if lmax == 0:
            return _no_lam_to_select(self), None, None
        lams, patience, first = _scoring_grid(
            lmax, self.n_lams, self.eps, extend=_RELU_EXTENSION
        )
        opts = dict(
            tol=max(self.tol, _SCORING_TOL),
            max_iter=min(self.max_iter, _RELU_SCORING_EPOCHS),
        )
        groups = _copy_groups(Xt, Y) if isinstance(self.cv, numbers.Integral) else None
        folds = _folds(Xt.shape[0], self.cv, seed, labels, groups)
        _warn_unjudged_classes(self, folds, labels, sample_weight, self.lam)
        scores = np.full((len(folds), lams.size), np.inf)
        starts = [None] * len(folds)
        unit = _score_unit("squared", Y)  # errors near 1e-200 squared: not 0
        stop = _PathStop(patience, first)
        bar = progress(
            total=len(folds) * self.n_lams,
            verbose=self.verbose,
            desc="fixntk lam (cv)",
            unit="lam",
        )
        with (
            bar,
            _fit_notice(self).search(lmax, self.n_lams, extends=_RELU_EXTENSION) as at,
            # a scoring solve stopped by the epoch cap still scores its lam
            quiet(ConvergenceWarning),
        ):
            for j, lam in enumerate(lams):
                at[:] = j, lam
                _grow_bar(bar, j, self.n_lams, len(folds), lams.size)
                null = True
                for k, (train, val) in enumerate(folds):
                    res = solve_relu(
                        Xt[train],
                        Y[train],
                        masks[train],
                        lam,
                        warm_start=starts[k],
                        **opts,
                    )
                    starts[k] = res
                    null = null and not (np.any(res.v) or np.any(res.u))
                    net = _network(res.v, res.u, False, False)
                    err = (net.forward(Xt[val]) - Y[val]) / unit
                    scores[k, j] = float(np.mean(err**2))
                    bar.update()
                if stop(j, float(np.mean(scores[:, j])), null=null, folds=scores[:, j]):
                    bar.update(bar.total - bar.n)
                    break
        # (named as the user wrote it: 'auto' was reported as lam='cv', tester AJ)
        # a smaller eps is slow here: breast_cancer's ReLUClassifier at eps=1e-3 took
        # 31 s against 8 s and its refit stopped uncertified (tester CI)
        lam, lams, mean = _pick_lam(
            lams,
            scores,
            lmax,
            self.lam,
            edge_note=(
                ". For the ReLU program smaller lams are much slower and may not "
                "certify (below about 1e-3 lam_max: 'Cost at small lam' in "
                "fixntk.solve_relu's docstring); "
                "GatedReLU* estimators reach them fast"
            ),
        )
        return lam, lams, mean * unit**2

    def _fit_targets(self, X, Y, labels=None, sample_weight=None):
        """Fit on validated X (n, d) and float targets Y (n, c).

        Sample weights scale the rows of X and Y by ``a_k = sqrt(s_k n / sum(s))``
        once the masks are drawn: the weighted program is the plain one on the scaled
        rows, and positive scales leave every cone constraint's sign unchanged."""
        with _noticed(self, X=X):
            return self._fit_targets_noticed(X, Y, labels, sample_weight)

    def _fit_targets_noticed(self, X, Y, labels, sample_weight):
        n_gates, lam = self._check_params()
        seed = _seed(self.random_state)
        Xt = _set_bias_scale(self, X, sample_weight)
        gates, masks, start = self._masks(Xt, n_gates, seed, Y.shape[1])
        # the output intercept: the targets' (weighted) mean, unpenalised; the
        # network fits the centred targets (without it an offset of y had to be
        # carried by penalised neurons: diabetes + 1000, test R^2 -6)
        constant = self.fit_intercept and rows_equal(Y, sample_weight)
        # Two columns of a constant sum (two classes' one-hot labels), centred, are
        # each other's negatives: the second column's program is the first's with v
        # and u swapped (each column is its own program). One is solved, the other
        # mirrored from it: two classes were solved twice, in the lam search and the
        # refit alike (tester BQ).
        mirrored = self.fit_intercept and Y.shape[1] == 2 and np.ptp(Y.sum(axis=1)) == 0
        b, Y = _mean_intercept(Y, sample_weight, self.fit_intercept)
        Xt, Y = _scaled_rows(Xt, Y, sample_weight)
        if mirrored:
            Y = Y[:, 1:]
            if start is not None:
                start = tuple(a[:, :, 1:] for a in start)
        self.lams_ = self.lam_scores_ = None
        if lam == "cv" and constant:  # the centred Y is round-off: nothing to select
            lam = _no_lam_to_select(self)
        elif lam == "cv":
            lam, self.lams_, self.lam_scores_ = self._select_lam(
                Xt, Y, masks, seed, labels, sample_weight
            )
        with _fit_notice(self).final(lam):
            res = solve_relu(
                Xt,
                Y,
                masks,
                lam,
                tol=self.tol,
                max_iter=self.max_iter,
                warm_start=start,
                verbose=_check_verbose(self.verbose) >= 2,
            )
        v, u, copies = res.v, res.u, 1.0
        if mirrored:  # the first column: the second's with v and u swapped
            v, u, copies = np.concatenate([u, v], 2), np.concatenate([v, u], 2), 2.0
        self.n_gates_ = n_gates
        self._n_outputs_fit = v.shape[2]
        self._v3, self._u3 = v, u  # (p, d, c)
        self.gates_ = gates
        self.lam_ = float(lam)
        # the program of every column: the mirrored one's gap and objective are its
        # twin's
        self.dual_gap_ = copies * float(res.gap)
        self.relative_gap_ = float(res.relative_gap)
        self.constraint_violation_ = float(res.violation)
        self.objective_ = copies * float(res.objective)
        self.n_iter_ = int(res.n_iter)
        self._b = b
        # the forward pass predict uses, all outputs as columns: private (as a fitted
        # attribute it looked public, and was not to_network()'s network: no class
        # labels, no feature names, a column for a 1-d target; tester CR)
        self._forward_net = _network(
            v, u, _fitted_bias(self), False, b, self.bias_scale_
        )
        self.n_active_neurons_ = int(self._forward_net.n_neurons)
        if not isinstance(self.lam, str) and not self.n_active_neurons_:
            _warn_null_fit(self, lam, relu_lambda_max(Xt, Y, masks))
        return self

    def __setstate__(self, state):
        # pickled by a 0.2 build from before the forward network went private
        if "network_" in state and "_forward_net" not in state:
            state = dict(state)
            state["_forward_net"] = state.pop("network_")
        super().__setstate__(state)

    def _publish(self, one_d):
        self.v_ = self._v3[:, :, 0] if one_d else self._v3
        self.u_ = self._u3[:, :, 0] if one_d else self._u3
        self.intercept_ = float(self._b[0]) if one_d else self._b.copy()

    def _raw_predict(self, X):
        check_is_fitted(self, "n_active_neurons_")
        _refuse_dask(self, X)  # (it gathered X, then score failed on 'chunks')
        X = validate_frame(self, X, reset=False, dtype=np.float64)
        return self._forward_net.forward(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class ReLURegressor(_MultiOutputRegressor, _ReLUBase):
    r"""Two-layer ReLU network trained exactly, by its convex program.

    Minimises

    .. math::

        \min_{v, u}\; \frac{1}{2\sum_j s_j} \sum_{j=1}^n s_j \Big(
        \sum_{i=1}^p [D_i X (v_i - u_i)]_j + b - y_j \Big)^2
        + \lambda \sum_{i=1}^p (\|v_i\|_2 + \|u_i\|_2)
        \quad\text{s.t.}\quad (2D_i - I) X v_i \ge 0,\ (2D_i - I) X u_i \ge 0,

    over the masks :math:`D_i = \mathrm{diag}(1[X g_i \ge 0])` of ``n_gates`` Gaussian
    gates (duplicates merged), with :math:`X` extended by a constant column when
    ``neuron_bias``, ``s`` the ``sample_weight`` (ones by default) and ``b`` the
    weighted mean of y with ``fit_intercept`` (0 without). This is exactly the
    two-layer ReLU network :math:`f(x) = \sum_i (x^T v_i)_+ - (x^T u_i)_+` trained
    with weight decay
    :math:`\frac{\lambda}{2}\sum(\|w_j\|^2 + a_j^2)` among the networks whose neurons'
    activation patterns on the training data are among the masks (Pilanci and Ergen,
    2020): more gates, closer to the unrestricted network.

    Parameters
    ----------
    n_gates : int, default=100
        Gaussian gates sampled (the number p of distinct masks is at most this).
    lam : float > 0, "cv" or "auto", default="cv"
        Regularisation strength, or "cv" ("auto" is the same, so that a search over
        the gated and ReLU estimators can share the value): chosen on a grid of
        ``n_lams`` values log-spaced from the ReLU program's ``lam_max``
        (:func:`relu_lambda_max`) down to ``eps * lam_max`` by ``cv``-fold
        cross-validation of the squared error (the folds' paths stop together once
        their mean validation error stops falling, as in the gated estimators; each
        scoring solve to ``max(tol, 1e-3)`` and at most 500 epochs, scored where
        it stands if it stops there, the refit at the chosen lam to ``tol``). (The
        default was 1e-3, in the units of y: on standardised wine, diabetes and
        breast_cancer "cv" gives test scores 1.0, 0.36, 0.958 in 8-17 s, where 1e-3
        nearly interpolated and took up to 258 s.)
    neuron_bias : bool, default=True
        Append a constant column to X before the gates are sampled (the neurons act on
        ``[x, s]``, ``s`` = ``bias_scale_``, the median of the training X's column
        root mean squares; the intercept is part of each neuron and is penalised).
    fit_intercept : bool, default=True
        An unpenalised output intercept ``b``: the targets' (weighted) mean, the
        network then trained on the centred targets (so predictions move with an
        offset of y).
    n_lams : int from 2 to 100000, default=10
        Grid size for ``lam="cv"``.
    eps : float in (0, 1), default=1e-2
        Smallest grid value as a fraction of ``lam_max``; while the validation
        error still falls there, the search goes on a decade further (at the grid's
        spacing). Without that decade the search ended at ``eps`` on most real data,
        warned about on every fit (tester ED; test scores, default settings: MASS's
        Boston R^2 0.769 -> 0.787 in 25 -> 40 s, ISLR's Credit 0.974 -> 0.984 in 3 ->
        35 s, breast cancer accuracy 0.944 -> 0.972 in 9 -> 48 s; wine's 0.978
        unchanged in 10 -> 55 s): the ReLU program's solves at small lam are the
        slow ones, so a larger ``eps`` (or a float ``lam``) is the way to a faster,
        coarser fit.
    cv : int >= 2, scikit-learn splitter or iterable of splits, default=5
        Folds for ``lam="cv"`` (an int: shuffled; stratified for the classifier when
        possible; splitters and splits as for :class:`~fixntk.GatedReLURegressor`).
    tol : float in (0, 1), default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective at zero (and
        the constraint violation at most ``tol * max|y|``).
    max_iter : int, default=10000
        Maximum epochs per solve.
    warm_start : bool, default=False
        Reuse the previous fit's gates and weights as the starting point (when the
        number of features, gates and outputs is unchanged).
    random_state : int, RandomState instance or None, default=None
        Seeds the gates (and the folds of ``lam="cv"``).
    verbose : int, default=0
        1: progress bars over the folds and the lam path of ``lam="cv"`` (on a
        terminal); 2: also log the final solve's certificates (the ``fixntk`` logger).

    Attributes
    ----------
    gates_ : ndarray of shape (p, n_features + neuron_bias)
        One gate per distinct mask (used for training only: predictions come from the
        network).
    bias_scale_ : float
        The value of the constant column of ``neuron_bias``: the median of the
        training X's column root mean squares (rows weighted by ``sample_weight``;
        1 without ``neuron_bias``).
    v_, u_ : ndarray of shape (p, n_features + neuron_bias[, n_outputs])
        The convex program's weights (zero rows for unused masks).
    lam_ : float
        The regularisation strength used.
    lams_, lam_scores_ : ndarray of shape (n_reached,) or None
        The grid's values that the paths reached (at most ``n_lams``) and their
        cross-validated mean squared errors (``lam="cv"``).
    n_gates_ : int
        The number of gates sampled (``n_gates``).
    dual_gap_ : float
        The duality gap certified at the solution (absolute).
    relative_gap_ : float
        ``dual_gap_`` over the objective at zero (the stopping rule's measure).
    constraint_violation_ : float
        The largest cone-constraint violation at the solution (0 up to rounding).
    objective_ : float
        The convex objective at the solution, equal to the ReLU network's training
        objective with weight decay.
    n_iter_ : int
        Epochs of the final solve.
    n_active_neurons_ : int
        Neurons of :meth:`to_network` (nonzero v_i and u_i, over the outputs).
    intercept_ : float or ndarray of shape (n_outputs,)
        The output intercept (0 without ``fit_intercept``).
    n_features_in_ : int
    """

    def to_network(self):
        """The trained two-layer ReLU network (its outputs are :meth:`predict`'s).

        Returns
        -------
        ReLUNetwork
        """
        check_is_fitted(self, "n_active_neurons_")
        net = _network(
            self._v3,
            self._u3,
            _fitted_bias(self),
            self._y_1d,
            self.intercept_,
            getattr(self, "bias_scale_", 1.0),
        )
        net.feature_names_in = getattr(self, "feature_names_in_", None)
        return net


class ReLUClassifier(_OneHotClassifier, _ReLUBase):
    r"""Two-layer ReLU network classifier trained exactly, by its convex program.

    One output per class, squared loss on one-hot labels :math:`Y \in \{0, 1\}^{n
    \times c}` (one-vs-rest); each class has its own neurons. Minimises, for each
    column of ``Y``,

    .. math::

        \min_{v, u}\; \frac{1}{2\sum_j s_j} \sum_{j=1}^n s_j \Big(
        \sum_{i=1}^p [D_i X (v_i - u_i)]_j + b - y_j \Big)^2
        + \lambda \sum_{i=1}^p (\|v_i\|_2 + \|u_i\|_2)
        \quad\text{s.t.}\quad (2D_i - I) X v_i \ge 0,\ (2D_i - I) X u_i \ge 0,

    with the masks, gates and network of :class:`ReLURegressor`.

    Parameters
    ----------
    n_gates, lam, neuron_bias, fit_intercept, n_lams, eps, cv, tol :
        As in :class:`ReLURegressor` (``lam="cv"`` scores the squared error of the
        one-hot outputs; the folds are stratified when every class allows it; the
        intercept: the classes' frequencies).
    max_iter, warm_start, random_state, verbose :
        As in :class:`ReLURegressor`.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` (as in
        :class:`GatedReLUClassifier`; "balanced": ``n / (n_classes n_c)``, the rows
        counted by their weights).

    Attributes
    ----------
    n_gates_, gates_, v_, u_, lam_, lams_, lam_scores_ :
        As in :class:`ReLURegressor` (``v_`` and ``u_`` with one last axis per class).
    dual_gap_, relative_gap_, constraint_violation_ :
        As in :class:`ReLURegressor`.
    objective_, n_iter_, n_active_neurons_, bias_scale_ :
        As in :class:`ReLURegressor`.
    intercept_ : ndarray of shape (n_classes,)
        As in :class:`ReLURegressor`.
    n_features_in_ : int
    classes_ : ndarray of shape (n_classes,)
    """

    def __init__(
        self,
        n_gates=100,
        lam="cv",
        *,
        neuron_bias=True,
        fit_intercept=True,
        n_lams=10,
        eps=1e-2,
        cv=5,
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        class_weight=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_gates,
            lam,
            neuron_bias=neuron_bias,
            fit_intercept=fit_intercept,
            n_lams=n_lams,
            eps=eps,
            cv=cv,
            tol=tol,
            max_iter=max_iter,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def to_network(self):
        """The trained ReLU network, one output per class (a neuron feeds one class).

        Returns
        -------
        ReLUNetwork
        """
        check_is_fitted(self, "n_active_neurons_")
        net = _network(
            self._v3,
            self._u3,
            _fitted_bias(self),
            False,
            self.intercept_,
            getattr(self, "bias_scale_", 1.0),
        )
        net.classes = self.classes_
        net.feature_names_in = getattr(self, "feature_names_in_", None)
        return net
