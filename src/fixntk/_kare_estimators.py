"""scikit-learn estimators: kernel ridge with masking-kernel weights trained by KARE.

``KAREKernelRegressor`` / ``KAREKernelClassifier`` sample gates as the gated ReLU
estimators do, learn the weights of :math:`H(\\eta) = \\sum_i \\eta_i D_i X X^T D_i` by
:func:`kare_mkl` (from the NTK's weights, with held-out early stopping by default) and
predict by kernel ridge with that kernel; new points get their masks from the gates.
"""

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._arrangement import Arrangement, sample_arrangement
from ._estimators import _one_hot, _seed, _with_intercept
from ._kare_mkl import kare_mkl
from ._kernels import mkl_kernel
from ._validation import check_int

__all__ = ["KAREKernelRegressor", "KAREKernelClassifier"]


class _KAREKernelBase(BaseEstimator):
    def __init__(
        self,
        n_gates=100,
        lam="kare",
        *,
        fit_intercept=True,
        eta0="ntk",
        validation_fraction=0.2,
        patience=5,
        penalty=0.0,
        n_free_weights=None,
        max_iter=100,
        tol=1e-6,
        random_state=None,
    ):
        self.n_gates = n_gates
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.eta0 = eta0
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.penalty = penalty
        self.n_free_weights = n_free_weights
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _fit_targets(self, X, Y):
        n_gates = check_int(self.n_gates, "n_gates", 1)
        seed = _seed(self.random_state)
        Xt = _with_intercept(X, self.fit_intercept)
        arr = sample_arrangement(Xt, n_gates, seed=seed)
        res = kare_mkl(
            Xt,
            Y,
            arr,
            lam=self.lam,
            eta0=self.eta0,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            penalty=self.penalty,
            n_free_weights=self.n_free_weights,
            max_iter=self.max_iter,
            tol=self.tol,
            seed=seed,
        )
        n = Xt.shape[0]
        C = mkl_kernel(Xt, arr, res.eta)
        C[np.diag_indices_from(C)] += n * res.lam
        self.dual_coef_ = linalg.cho_solve(
            linalg.cho_factor(C, lower=True, check_finite=False), Y, check_finite=False
        )
        self.X_fit_ = Xt
        self.gates_ = arr.gates
        self.eta_ = res.eta
        self.lam_ = res.lam
        self.kare_ = res.kare
        self.kare_start_ = res.kare_start
        self.kare_history_ = res.kare_history
        self.validation_history_ = res.validation_history
        self.best_iter_ = res.best_iter
        self.n_iter_ = res.n_iter
        self.stop_reason_ = res.stop_reason
        return self

    def _raw_predict(self, X):
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        arr = Arrangement.from_masks(self.X_fit_ @ self.gates_.T >= 0)
        arr.gates = self.gates_
        Z = _with_intercept(X, self.fit_intercept)
        return mkl_kernel(self.X_fit_, arr, self.eta_, Z=Z).T @ self.dual_coef_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_OBJECTIVE = r"""
    .. math::

        \min_{\eta \ge 0,\ \lambda > 0}\ \mathrm{KARE}\big(H(\eta), y, \lambda\big),
        \qquad H(\eta) = \sum_{i=1}^p \eta_i D_i X X^T D_i,

    over the masks :math:`D_i = \mathrm{diag}(1[X g_i \ge 0])` of ``n_gates`` Gaussian
    gates (X extended by a column of ones when ``fit_intercept``), starting from the
    NTK's weights (:func:`kare_mkl`), then kernel ridge
    :math:`\hat f(x) = H(\eta)(x, X)\, a`, :math:`a = (H(\eta) + n\lambda I)^{-1} y`.
    By default KARE is minimised on 80% of the rows and the iterate with the smallest
    error on the other 20% is kept (KARE assumes a label-blind kernel; minimised over
    p weights it overfits, see :func:`kare_mkl`)."""

_PARAMS = """
    Parameters
    ----------
    n_gates : int, default=100
        Gaussian gates sampled (the number p of distinct masks is at most this).
    lam : "kare" or float > 0, default="kare"
        "kare": optimised jointly with the weights; a float is held fixed.
    fit_intercept : bool, default=True
    eta0 : {"ntk", "mc", "counts"} or array-like, default="ntk"
        Starting weights (see :func:`irls`).
    validation_fraction : float in (0, 1) or None, default=0.2
        Held-out share for early stopping (None: plain KARE minimisation, which
        overfits when p is not small compared with n).
    patience : int, default=5
        Iterations without held-out improvement before stopping.
    penalty : float >= 0, default=0.0
        Pull toward the NTK's log-weights (variance of the log-ratio).
    n_free_weights : int or None, default=None
        Tie the weights: k-means clusters of the masks share one multiplier.
    max_iter : int, default=100
        L-BFGS-B iterations.
    tol : float > 0, default=1e-6
    random_state : int, RandomState instance or None, default=None
        Seeds the gates, the held-out split and the k-means.

    Attributes
    ----------
    gates_ : ndarray of shape (p, n_features + fit_intercept)
    eta_ : ndarray of shape (p,)
        The learned kernel weights.
    lam_ : float
    kare_ : float
        KARE of the learned kernel on the training data (optimistic: the weights were
        chosen with y).
    kare_start_ : float
        KARE of the starting (NTK) kernel at its KARE-selected lam.
    kare_history_, validation_history_ : ndarray
        KARE on the fitting rows and held-out mean squared error per iteration.
    best_iter_, n_iter_ : int
    stop_reason_ : str
    X_fit_ : ndarray of shape (n_samples, n_features + fit_intercept)
    dual_coef_ : ndarray of shape (n_samples, n_outputs)
    n_features_in_ : int
"""


class KAREKernelRegressor(RegressorMixin, _KAREKernelBase):
    def fit(self, X, y):
        """Learn the kernel weights by KARE, then fit kernel ridge.

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
        self._y_1d = y.ndim == 1
        return self._fit_targets(X, y[:, None] if y.ndim == 1 else y)

    def predict(self, X):
        """Kernel ridge predictions with the learned kernel."""
        F = self._raw_predict(X)
        return F[:, 0] if self._y_1d else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


KAREKernelRegressor.__doc__ = (
    """Kernel ridge with masking-kernel weights trained to minimise KARE.

    Solves
    """
    + _OBJECTIVE
    + "\n"
    + _PARAMS
)


class KAREKernelClassifier(ClassifierMixin, _KAREKernelBase):
    def fit(self, X, y):
        """KARE-trained kernel ridge on one-hot labels.

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
                "KAREKernelClassifier needs at least 2 classes in y; got 1 class: "
                f"{self.classes_[0]!r}"
            )
        return self._fit_targets(X, _one_hot(y_enc, self.classes_.size))

    def decision_function(self, X):
        """Kernel ridge outputs: (n_samples,) for two classes (positive means
        ``classes_[1]``), else (n_samples, n_classes)."""
        F = self._raw_predict(X)
        return F[:, 1] - F[:, 0] if self.classes_.size == 2 else F

    def predict(self, X):
        """The class with the largest output."""
        F = self._raw_predict(X)
        return self.classes_[np.argmax(F, axis=1)]


KAREKernelClassifier.__doc__ = (
    """Kernel ridge classifier (one-hot squared loss) with KARE-trained weights.

    KARE sums over the c one-hot outputs. Solves
    """
    + _OBJECTIVE
    + "\n"
    + _PARAMS
    + "    classes_ : ndarray of shape (n_classes,)\n"
)
