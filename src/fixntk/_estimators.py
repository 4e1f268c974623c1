"""scikit-learn estimators: the gated ReLU convex program and NTK kernel ridge.

``GatedReLURegressor`` / ``GatedReLUClassifier`` solve the group lasso of the gated ReLU
network (the "fixed NTK": the optimal, label-aware masking-kernel mixture);
``NTKRegressor`` / ``NTKClassifier`` are kernel ridge with the closed-form gated ReLU
NTK (the label-blind kernel). Both read ``lam`` the same way (kernel ridge
``(K + n lam I)^{-1} y``), so a ``lam`` selected by KARE or cross-validation means the
same thing for the two.
"""

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._arrangement import Arrangement, sample_arrangement
from ._irls import irls
from ._kare import kare, select_lambda_kare
from ._kernels import mkl_kernel, ntk_kernel
from ._progress import progress
from ._solver import lambda_max, objective, solve, solve_path
from ._validation import check_int, check_lam, check_positive

__all__ = [
    "GatedReLUNetwork",
    "GatedReLURegressor",
    "GatedReLUClassifier",
    "NTKRegressor",
    "NTKClassifier",
]

_LAM_MODES = ("kare", "cv")


# --------------------------------------------------------------------------- helpers


def _with_intercept(X, fit_intercept):
    """[X, 1] when fit_intercept: the gates and the weights then act on [x, 1]."""
    if not fit_intercept:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _seed(random_state):
    """An integer seed from random_state (an int is used as it is)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _check_lam_param(lam):
    if isinstance(lam, str):
        if lam not in _LAM_MODES:
            raise ValueError(f"lam must be a float > 0, 'kare' or 'cv'; got {lam!r}")
        return lam
    return check_lam(lam)


def _check_cv(cv):
    return check_int(cv, "cv", 2)


def _folds(n, cv, seed, labels=None):
    """Shuffled folds; stratified by labels when every class can fill every fold."""
    if n < cv:
        raise ValueError(
            f"lam='cv' with cv={cv} folds needs at least {cv} samples; "
            f"got n_samples={n}"
        )
    if labels is not None and np.bincount(labels).min() >= cv:
        return list(
            StratifiedKFold(cv, shuffle=True, random_state=seed).split(
                np.zeros(n), labels
            )
        )
    return list(KFold(cv, shuffle=True, random_state=seed).split(np.zeros(n)))


def _group_norms(W):
    """||w_i|| (Frobenius over (d,) or (d, c)) for coef of shape (p, d) or (p, d, c)."""
    return np.sqrt((W.reshape(W.shape[0], -1) ** 2).sum(axis=1))


def _gated_forward(X, W, gates=None, masks=None):
    """sum_i 1[X g_i >= 0] X w_i over the groups with w_i != 0, from the gates or from
    given masks (m, p); shape (m,) for coef (p, d), else (m, c)."""
    W3 = W if W.ndim == 3 else W[:, :, None]
    active = np.flatnonzero(_group_norms(W3) > 0)
    m, d = X.shape
    c = W3.shape[2]
    out = np.zeros((m, c))
    step = max(1, (1 << 22) // max(m * c, 1))  # bound the (m, k, c) temporary
    for start in range(0, active.size, step):
        idx = active[start : start + step]
        D = X @ gates[idx].T >= 0 if masks is None else masks[:, idx]
        Z = (X @ W3[idx].transpose(1, 0, 2).reshape(d, -1)).reshape(m, idx.size, c)
        out += np.einsum("mk,mkc->mc", D, Z)
    return out[:, 0] if W.ndim == 2 else out


def _drop_zero_groups(X, Y, masks, W, lam):
    """W with w_i set to 0 where ||X^T D_i R|| / n <= lam at W (the condition for
    w_i = 0 to be optimal); Y of shape (n, c), W of shape (p, d, c)."""
    R = Y - _gated_forward(X, W, masks=masks)
    G = np.einsum("ni,nd,nc->idc", masks, X, R, optimize=True) / X.shape[0]
    W = W.copy()
    W[_group_norms(G) <= lam] = 0.0
    return W


def _one_hot(y_encoded, n_classes):
    Y = np.zeros((y_encoded.size, n_classes))
    Y[np.arange(y_encoded.size), y_encoded] = 1.0
    return Y


class _Targets:
    """``_publish(one_d)`` runs after ``_fit_targets`` in the fit methods below; a
    base whose public coefficients depend on whether y was 1-d defines its own, the
    others inherit this one."""

    def _publish(self, one_d):
        pass


class _OneHotClassifier(ClassifierMixin):
    """fit / decision_function / predict of the classifiers: one-vs-rest squared loss
    on one-hot labels, through the base's ``_fit_targets`` and ``_raw_predict``."""

    def fit(self, X, y):
        """Fit on one-hot labels (one output per class, squared loss).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{self.classes_[0]!r}"
            )
        self._fit_targets(X, _one_hot(y_enc, self.classes_.size), labels=y_enc)
        self._publish(False)
        return self

    def decision_function(self, X):
        """Model outputs: shape (n_samples,) for two classes (positive means
        ``classes_[1]``), else (n_samples, n_classes), one score per class."""
        F = self._raw_predict(X)
        return F[:, 1] - F[:, 0] if self.classes_.size == 2 else F

    def predict(self, X):
        """The class with the largest output."""
        F = self._raw_predict(X)
        return self.classes_[np.argmax(F, axis=1)]


class _MultiOutputRegressor(RegressorMixin):
    """fit / predict of the regressors (one or several outputs) through the base's
    ``_fit_targets`` (on a 2-d Y) and ``_raw_predict``."""

    def fit(self, X, y):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        X, y = validate_data(
            self, X, y, dtype=np.float64, y_numeric=True, multi_output=True
        )
        y = np.asarray(y, dtype=np.float64)
        self._fit_targets(X, y[:, None] if y.ndim == 1 else y)
        self._y_1d = y.ndim == 1
        self._publish(self._y_1d)
        return self

    def predict(self, X):
        """The model's outputs; shape (n_samples,) or (n_samples, n_outputs)."""
        F = self._raw_predict(X)
        return F[:, 0] if self._y_1d else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


_GATED_OBJECTIVE = r"""
    .. math::

        \min_{w_1, \dots, w_p}\;
        \frac{1}{2n} \Big\| \sum_{i=1}^p D_i X w_i - y \Big\|_2^2
        + \lambda \sum_{i=1}^p \|w_i\|_2,
        \qquad D_i = \mathrm{diag}\big(1[X g_i \ge 0]\big),

    over ``n_gates`` Gaussian gates :math:`g_i \sim N(0, I)` (duplicate masks merged),
    with :math:`X` extended by a column of ones when ``fit_intercept``. This is the
    two-layer gated ReLU network :math:`f(x) = \sum_i 1[x^T g_i \ge 0]\, x^T w_i` with
    weight decay, and equivalently multiple kernel learning over the masking kernels
    :math:`D_i X X^T D_i`: the optimum is kernel ridge with
    :math:`H(\eta) = \sum_i \eta_i D_i X X^T D_i` at the label-aware weights
    :math:`\eta_i = \|w_i\|` (the NTK "fixed")."""

_NTK_OBJECTIVE = r"""
    .. math::

        \min_{f \in \mathcal{H}_K}\; \frac{1}{2n} \sum_{k=1}^n (f(x_k) - y_k)^2
        + \frac{\lambda}{2} \|f\|_{\mathcal{H}_K}^2,
        \qquad K(x, z) = x^T z\, \frac{\pi - \angle(x, z)}{2\pi},

    the kernel ridge regression :math:`\hat f(x) = K(x, X) a`,
    :math:`a = (K(X, X) + n\lambda I)^{-1} y`, with the closed-form NTK of the gated
    ReLU network (inputs extended by a column of ones when ``fit_intercept``). The NTK
    is the masking-kernel mixture :math:`H(\tilde\eta)` with the label-blind weights
    :math:`\tilde\eta_i = P_{h \sim N(0, I)}[1[X h \ge 0] = m_i]`; the same ``lam`` in
    :class:`GatedReLURegressor` optimises those weights instead."""

_LAM_DOC = """lam : float > 0, "kare" or "cv", default="kare"
        Regularisation strength. "kare" picks it on a grid of ``n_lams`` values
        log-spaced from ``lam_max`` down to ``eps * lam_max`` by the Kernel Alignment
        Risk Estimator of the fitted kernel (no held-out data); "cv" by ``cv``-fold
        cross-validation of the squared error on the training data."""

_KARE_CAVEAT = """
        For this model the kernel :math:`H(\\eta)`, :math:`\\eta_i = \\|w_i\\|`, was
        fitted to y, and KARE (which assumes a label-blind kernel) is then optimistic:
        it tends to favour small ``lam``. "cv" does not have this bias."""


def _major_minor(version):
    return tuple(str(version).split(".")[:2])


class _VersionedPickle:
    """Pickles carry the fixntk version; loading one saved by another major.minor
    release fails with a clear error (fitted attributes may mean something else there).
    Cooperates with ``BaseEstimator.__getstate__`` / ``__setstate__`` through super().
    """

    def __getstate__(self):
        from . import __version__

        return dict(super().__getstate__(), _fixntk_version=__version__)

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        saved = state.pop("_fixntk_version", None)
        if saved is None or _major_minor(saved) != _major_minor(__version__):
            raise ValueError(
                f"this {type(self).__name__} was pickled by fixntk "
                f"{saved or 'of an unknown version'} and cannot be loaded by fixntk "
                f"{__version__}: the versions are incompatible (major.minor differ). "
                "Refit it with this version."
            )
        super().__setstate__(state)


# --------------------------------------------------------------------------- network


@dataclass
class GatedReLUNetwork:
    r"""A two-layer gated ReLU network (the non-convex model the convex program solves).

    .. math::

        f(x) = \sum_{i=1}^k \alpha_i \, 1[\tilde x^T g_i \ge 0]\, \tilde x^T u_i,
        \qquad \tilde x = [x, 1] \text{ if fit\_intercept else } x,

    with weight decay :math:`\frac12 \sum_i (\|u_i\|^2 + \alpha_i^2)`, equal at this
    point to the group-lasso penalty :math:`\sum_i \|w_i\|` (``u_i = w_i /
    \sqrt{\|w_i\|}``, ``alpha_i = \sqrt{\|w_i\|}``).

    Attributes
    ----------
    gates : ndarray of shape (k, d)
        The fixed gates :math:`g_i` of the k neurons.
    first_layer : ndarray of shape (k, d) or (k, d, c)
        The trained first-layer weights :math:`u_i` (a (d, c) block per neuron for c
        outputs: the neuron's c output channels share its gate and its scale).
    second_layer : ndarray of shape (k,)
        The second-layer weights :math:`\alpha_i > 0`.
    fit_intercept : bool
        Whether a constant 1 is appended to the inputs.
    """

    gates: np.ndarray
    first_layer: np.ndarray
    second_layer: np.ndarray
    fit_intercept: bool

    @property
    def n_neurons(self):
        return self.gates.shape[0]

    def weight_decay(self):
        """``(||u||^2 + ||alpha||^2) / 2`` summed over the neurons."""
        return 0.5 * float((self.first_layer**2).sum() + (self.second_layer**2).sum())

    def forward(self, X):
        """The network's outputs on X of shape (m, d_in): (m,) or (m, c)."""
        Xt = _with_intercept(np.asarray(X, dtype=np.float64), self.fit_intercept)
        scale = self.second_layer.reshape((-1,) + (1,) * (self.first_layer.ndim - 1))
        return _gated_forward(Xt, self.first_layer * scale, gates=self.gates)


# --------------------------------------------------------------------------- gated ReLU


class _GatedReLUBase(_VersionedPickle, BaseEstimator):
    """Fit, lam selection and fitted attributes shared by the gated ReLU estimators."""

    def __init__(
        self,
        n_gates=100,
        lam="kare",
        *,
        solver="bcd",
        fit_intercept=True,
        n_lams=20,
        eps=1e-3,
        cv=5,
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_gates = n_gates
        self.lam = lam
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.n_lams = n_lams
        self.eps = eps
        self.cv = cv
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # -- parameters ------------------------------------------------------------------
    def _check_params(self):
        n_gates = check_int(self.n_gates, "n_gates", 1)
        lam = _check_lam_param(self.lam)
        if self.solver not in ("bcd", "irls"):
            raise ValueError(f"solver must be 'bcd' or 'irls'; got {self.solver!r}")
        check_int(self.n_lams, "n_lams", 1)
        eps = check_positive(self.eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1; got {eps}")
        if lam == "cv":
            _check_cv(self.cv)
        check_positive(self.tol, "tol")
        check_int(self.max_iter, "max_iter", 1)
        return n_gates, lam

    # -- gates -----------------------------------------------------------------------
    def _arrangement(self, Xt, n_gates, seed, n_outputs):
        """(arrangement, starting coef or None): new gates, or with warm_start the
        previous fit's gates and coefficients."""
        if self.warm_start and hasattr(self, "gates_"):
            same = (
                self.gates_.shape[1] == Xt.shape[1]
                and self._n_gates_fit == n_gates
                and self._n_outputs_fit == n_outputs
            )
            if same:
                arr = Arrangement.from_masks(Xt @ self.gates_.T >= 0)
                arr.gates = self.gates_
                return arr, self.coef_
        return sample_arrangement(Xt, n_gates, seed=seed), None

    # -- lam selection over a warm-started path --------------------------------------
    def _select_lam(self, Xt, Y, arr, mode, seed, labels):
        """Pick lam on the grid; returns (lam, grid, scores, path result at lam on the
        full data as (coef, gap, n_iter))."""
        p, d, c = arr.p, Xt.shape[1], Y.shape[1]
        lmax = lambda_max(Xt, Y, arr)
        if lmax == 0:  # Y is orthogonal to every group: W = 0 for every lam
            return 1.0, None, None, (np.zeros((p, d, c)), 0.0, 0)
        lams = lmax * np.logspace(0, np.log10(self.eps), self.n_lams)
        opts = dict(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose)
        if mode == "kare":
            path = solve_path(Xt, Y, arr, lams=lams, **opts)
            scores = np.array(
                [
                    kare(mkl_kernel(Xt, arr, _group_norms(W)), Y, lam)
                    for lam, W in zip(path.lams, path.coefs)
                ]
            )
            best = int(np.argmin(scores))
        else:
            scores = np.zeros(lams.size)
            masks = arr.masks
            folds = _folds(Xt.shape[0], self.cv, seed, labels)
            for train, val in progress(folds, verbose=self.verbose, desc="fixntk cv"):
                fold = solve_path(Xt[train], Y[train], masks[train], lams=lams, **opts)
                for j, W in enumerate(fold.coefs):
                    R = _gated_forward(Xt[val], W, masks=masks[val]) - Y[val]
                    scores[j] += (R**2).sum() / Y.size
            best = int(np.argmin(scores))
            path = solve_path(Xt, Y, arr, lams=lams[: best + 1], **opts)
        if best == lams.size - 1 and lams.size > 2:
            warnings.warn(
                f"lam={mode!r} selected the smallest lam of the grid "
                f"({lams[best]:.3g} = eps * lam_max with eps = {self.eps:g}); a "
                "smaller eps may find a better one",
                UserWarning,
                stacklevel=4,
            )
        at = (path.coefs[best], float(path.gaps[best]), int(path.n_iters[best]))
        return float(lams[best]), lams, scores, at

    # -- fit -------------------------------------------------------------------------
    def _fit_targets(self, X, Y, labels=None):
        """Fit on validated X (n, d) and float targets Y (n, c); sets the attributes."""
        n_gates, lam = self._check_params()
        seed = _seed(self.random_state)
        Xt = _with_intercept(X, self.fit_intercept)
        arr, W0 = self._arrangement(Xt, n_gates, seed, Y.shape[1])
        opts = dict(tol=self.tol, max_iter=self.max_iter)

        self.lams_ = self.lam_scores_ = self.objective_history_ = None
        at = None
        if isinstance(lam, str):
            lam, self.lams_, self.lam_scores_, at = self._select_lam(
                Xt, Y, arr, lam, seed, labels
            )
        if self.solver == "irls":
            fit = irls(
                Xt, Y, arr, lam, eta0="ntk", seed=seed, verbose=self.verbose, **opts
            )
            self.objective_history_ = fit.history
            # Reweighting leaves every group slightly non-zero: zero those that satisfy
            # the optimality condition of w_i = 0, and let BCD certify the gap from
            # there (it brings back any group that was still needed).
            W = _drop_zero_groups(Xt, Y, arr.masks, fit.coef, lam)
            res = solve(Xt, Y, arr, lam, warm_start=W, **opts)
            W, gap, n_iter = np.asarray(res.coef), res.gap, fit.n_iter + 1
        elif at is not None:
            W, gap, n_iter = at
        else:
            res = solve(Xt, Y, arr, lam, warm_start=W0, **opts)
            W, gap, n_iter = np.asarray(res.coef), res.gap, res.n_iter
        W = W.reshape(arr.p, Xt.shape[1], Y.shape[1])
        self._n_gates_fit = n_gates
        self._n_outputs_fit = Y.shape[1]
        self.gates_ = arr.gates
        self.coef_ = W
        self.lam_ = float(lam)
        self.eta_ = _group_norms(W)
        self.n_active_neurons_ = int(np.count_nonzero(self.eta_))
        self.dual_gap_ = float(gap)
        self.objective_ = objective(Xt, Y, arr, W, lam)
        self.n_iter_ = int(n_iter)
        return self

    def _publish(self, one_d):
        if one_d:
            self.coef_ = self.coef_[:, :, 0]

    def _raw_predict(self, X):
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = _with_intercept(X, self.fit_intercept)
        return _gated_forward(Xt, self.coef_, gates=self.gates_)

    def to_network(self):
        """The equivalent two-layer gated ReLU network, one neuron per active group.

        Each group with :math:`w_i \\ne 0` becomes a neuron with gate :math:`g_i`,
        first-layer weights :math:`u_i = w_i / \\sqrt{\\|w_i\\|}` and second-layer
        weight :math:`\\alpha_i = \\sqrt{\\|w_i\\|}`; its outputs equal the estimator's
        (raw) predictions and its weight decay
        :math:`\\frac12\\sum_i(\\|u_i\\|^2+\\alpha_i^2)` equals the group-lasso
        penalty :math:`\\sum_i \\|w_i\\|`.

        Returns
        -------
        GatedReLUNetwork
        """
        check_is_fitted(self, "coef_")
        active = np.flatnonzero(self.eta_ > 0)
        alpha = np.sqrt(self.eta_[active])
        scale = alpha.reshape((-1,) + (1,) * (self.coef_.ndim - 1))
        return GatedReLUNetwork(
            gates=self.gates_[active].copy(),
            first_layer=self.coef_[active] / scale,
            second_layer=alpha,
            fit_intercept=bool(self.fit_intercept),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_GATED_PARAMS = f"""
    Parameters
    ----------
    n_gates : int, default=100
        Gaussian gates sampled (the number p of distinct masks is at most this).
    {_LAM_DOC}{_KARE_CAVEAT}
    solver : {{"bcd", "irls"}}, default="bcd"
        "bcd": block coordinate descent (compiled, certified by the duality gap).
        "irls": the paper's Algorithm 1, reweighted kernel ridge started from the NTK's
        weights; ``objective_history_`` then holds the objective from the NTK's value
        down to the optimum, and a BCD pass from its point sets the inactive groups
        exactly to zero. A selected ``lam`` is always chosen on a BCD path.
    fit_intercept : bool, default=True
        Append a constant column to X before the gates are sampled (gates and weights
        act on ``[x, 1]``; the intercept is part of each group and is penalised).
    n_lams : int, default=20
        Grid size for ``lam="kare"`` / ``"cv"``.
    eps : float in (0, 1), default=1e-3
        Smallest grid value as a fraction of ``lam_max``.
    cv : int >= 2, default=5
        Folds for ``lam="cv"`` (shuffled; stratified for the classifier when possible).
    tol : float > 0, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective at zero.
    max_iter : int, default=10000
        Maximum epochs (BCD) or reweighting steps (IRLS) per solve.
    warm_start : bool, default=False
        Reuse the previous fit's gates, and for a float ``lam`` its coefficients as the
        starting point (when the number of features, gates and outputs is unchanged).
    random_state : int, RandomState instance or None, default=None
        Seeds the gates (and the folds of ``lam="cv"``).
    verbose : int, default=0
        1: progress bars over the lam path, the folds and IRLS steps (on a
        terminal); 2: also log each solve's certificates (the ``fixntk`` logger).

    Attributes
    ----------
    gates_ : ndarray of shape (p, n_features + fit_intercept)
        One gate per distinct mask; predictions on new data use these gates.
    coef_ : ndarray of shape (p, n_features + fit_intercept[, n_outputs])
        The group weights :math:`w_i` (zero for inactive groups).
    eta_ : ndarray of shape (p,)
        The fixed kernel weights :math:`\\eta_i = \\|w_i\\|`.
    lam_ : float
        The regularisation strength used (selected for "kare" / "cv").
    lams_, lam_scores_ : ndarray of shape (n_lams,) or None
        The grid and its KARE scores or cross-validated mean squared errors.
    dual_gap_ : float
        The duality gap certified at ``coef_`` (absolute).
    objective_ : float
        The objective at ``coef_``.
    n_iter_ : int
        Epochs of the BCD solve at ``lam_`` (on the path when ``lam`` is selected),
        or, for solver="irls", kernel ridge solves (the first at the NTK's weights,
        then one per reweighting step).
    n_active_neurons_ : int
        Groups with :math:`w_i \\ne 0`: the neurons of :meth:`to_network`.
    objective_history_ : ndarray or None
        IRLS objective per step, from the NTK's weights to the optimum (solver="irls").
    n_features_in_ : int
"""


class GatedReLURegressor(_MultiOutputRegressor, _GatedReLUBase):
    def predict(self, X):
        """``sum_i 1[x^T g_i >= 0] x^T w_i`` with the stored gates.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return self._raw_predict(X)


GatedReLURegressor.__doc__ = (
    """Two-layer gated ReLU network trained exactly, by its convex program.

    Minimises the group lasso
    """
    + _GATED_OBJECTIVE
    + "\n"
    + _GATED_PARAMS
)


class GatedReLUClassifier(_OneHotClassifier, _GatedReLUBase):
    pass


GatedReLUClassifier.__doc__ = (
    """Gated ReLU network classifier trained exactly, by its convex program.

    One output per class, squared loss on one-hot labels :math:`Y \\in \\{0, 1\\}^{n
    \\times c}` (one-vs-rest, as in the paper); the group norms are Frobenius norms of
    the (d, c) blocks :math:`w_i`. Minimises
    """
    + _GATED_OBJECTIVE.replace("- y", "- Y")
    .replace("_2^2", "_F^2")
    .replace(r"\|w_i\|_2", r"\|w_i\|_F")
    + "\n\n    ``decision_function`` gives the outputs; ``predict_proba`` is not"
    "\n    offered (the squared loss does not estimate probabilities).\n"
    + _GATED_PARAMS
    + "    classes_ : ndarray of shape (n_classes,)\n"
)


# --------------------------------------------------------------------------- NTK


def _lam_grid_ntk(ev, n, n_lams, eps):
    """lam from 10 times the mean eigenvalue of K/n down to eps times it (the default
    grid of :func:`select_lambda_kare` for eps = 1e-6)."""
    mean = max(float(ev.mean()) / n, np.finfo(float).tiny)
    return mean * np.logspace(1, np.log10(eps), n_lams)


class _NTKBase(_Targets, _VersionedPickle, BaseEstimator):
    def __init__(
        self,
        lam="kare",
        *,
        fit_intercept=True,
        n_lams=30,
        eps=1e-6,
        cv=5,
        random_state=None,
        verbose=0,
    ):
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.n_lams = n_lams
        self.eps = eps
        self.cv = cv
        self.random_state = random_state
        self.verbose = verbose

    def _fit_targets(self, X, Y, labels=None):
        lam = _check_lam_param(self.lam)
        check_int(self.n_lams, "n_lams", 1)
        eps = check_positive(self.eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1; got {eps}")
        if lam == "cv":
            _check_cv(self.cv)
        Xt = _with_intercept(X, self.fit_intercept)
        n = Xt.shape[0]
        K = ntk_kernel(Xt)
        ev, U = linalg.eigh(K, check_finite=False)
        ev = np.maximum(ev, 0.0)
        UtY = U.T @ Y

        self.lams_ = self.lam_scores_ = None
        if isinstance(lam, str):
            lams = _lam_grid_ntk(ev, n, self.n_lams, eps)
            if lam == "kare":
                sel = select_lambda_kare(K, Y, lams=lams)
                lam, scores = float(sel.lam), np.asarray(sel.kare)
                self.kare_ = float(sel.kare[sel.index])
            else:
                scores = _ntk_cv_scores(
                    Xt, Y, lams, self.cv, _seed(self.random_state), labels, self.verbose
                )
                lam = float(lams[int(np.argmin(scores))])
            self.lams_, self.lam_scores_ = lams, scores
        A = U @ (UtY / (ev + n * lam)[:, None])
        self.X_fit_ = Xt
        self.dual_coef_ = A
        self.lam_ = float(lam)
        if not isinstance(self.lam, str) or self.lam == "cv":
            self.kare_ = float(kare(K, Y, lam))
        # MKL objective of the NTK's weights (they sum to 1): an upper bound on the
        # gated ReLU objective at the same lam.
        self.objective_ = float(0.5 * lam * ((Y * A).sum() + 1.0))
        return self

    def _raw_predict(self, X):
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = _with_intercept(X, self.fit_intercept)
        return ntk_kernel(Xt, self.X_fit_) @ self.dual_coef_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _ntk_cv_scores(Xt, Y, lams, cv, seed, labels, verbose=0):
    """Cross-validated mean squared error of NTK kernel ridge for every lam."""
    scores = np.zeros(lams.size)
    folds = _folds(Xt.shape[0], cv, seed, labels)
    for train, val in progress(folds, verbose=verbose, desc="fixntk cv"):
        ev, U = linalg.eigh(ntk_kernel(Xt[train]), check_finite=False)
        ev = np.maximum(ev, 0.0)
        Kv = ntk_kernel(Xt[val], Xt[train]) @ U
        UtY = U.T @ Y[train]
        for j, lam in enumerate(lams):
            R = Kv @ (UtY / (ev + train.size * lam)[:, None]) - Y[val]
            scores[j] += (R**2).sum() / Y.size
    return scores


_NTK_LAM_DOC = _LAM_DOC.replace(
    "from ``lam_max`` down to ``eps * lam_max``",
    "from 10 down to ``eps`` times the mean eigenvalue of K/n",
)

_NTK_PARAMS = f"""
    Parameters
    ----------
    {_NTK_LAM_DOC}
    fit_intercept : bool, default=True
        Append a constant column to X (the kernel acts on ``[x, 1]``).
    n_lams : int, default=30
        Grid size for ``lam="kare"`` / ``"cv"``.
    eps : float in (0, 1), default=1e-6
        Smallest grid value as a fraction of the mean eigenvalue of K/n.
    cv : int >= 2, default=5
        Folds for ``lam="cv"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of ``lam="cv"`` (the fit is otherwise deterministic).
    verbose : int, default=0
        1: a progress bar over the folds of ``lam="cv"`` (on a terminal).

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_samples, n_features + fit_intercept)
        Training inputs (the kernel's second argument at prediction).
    dual_coef_ : ndarray of shape (n_samples, n_outputs)
        :math:`a = (K + n\\lambda I)^{{-1}} y`.
    lam_ : float
    lams_, lam_scores_ : ndarray of shape (n_lams,) or None
        The grid and its KARE scores or cross-validated mean squared errors.
    kare_ : float
        KARE of the NTK at ``lam_``.
    objective_ : float
        The MKL objective of the NTK weights at ``lam_``,
        :math:`\\frac{{\\lambda}}{{2}}[y^T (K + n\\lambda I)^{{-1}} y + 1]`, an upper
        bound on the gated ReLU objective at the same ``lam``.
    n_features_in_ : int
"""


class NTKRegressor(_MultiOutputRegressor, _NTKBase):
    pass


NTKRegressor.__doc__ = (
    """Kernel ridge regression with the closed-form gated ReLU NTK.

    Solves
    """
    + _NTK_OBJECTIVE
    + "\n"
    + _NTK_PARAMS
)


class NTKClassifier(_OneHotClassifier, _NTKBase):
    pass


NTKClassifier.__doc__ = (
    """Kernel ridge classifier with the closed-form gated ReLU NTK.

    One output per class, squared loss on one-hot labels (one-vs-rest, as in the
    paper); ``predict_proba`` is not offered. Solves, for each column of ``Y``,
    """
    + _NTK_OBJECTIVE
    + "\n"
    + _NTK_PARAMS
    + "    classes_ : ndarray of shape (n_classes,)\n"
)
