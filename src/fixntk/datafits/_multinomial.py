"""The multinomial (softmax cross-entropy) loss, c classes."""

import numpy as np
from scipy.special import entr

from .._validation import user_stacklevel
from .._validation import warn as _warn
from ._base import Datafit, Targets, log1m, newton_intercept, xlogy_safe
from ._logistic import _labels

__all__ = ["Multinomial"]

# labels of more classes than half the rows (of at least this many) are warned about
_ID_ROWS = 20


def _warn_identifier_labels(c, n, sizes):
    """Warn that y's c classes on n rows look like row identifiers or a continuous
    target: 189 classes for 189 rows (a row-name column taken as the label) ran a
    1069 s multinomial solve with no word (7 classes: 1 s; tester FA)."""
    _warn(
        f"y has {c} classes for {n} rows ({int(np.sum(sizes == 1))} of them a single "
        "row): is y a row identifier or a continuous target? The multinomial loss "
        f"fits c = {c} outputs per neuron, and its time grows steeply with c.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


# Row-wise softmax helpers in plain NumPy: scipy.special's (array API dispatch) cost
# about 100 us per call, which the intercept's Newton iterations and the outer loop's
# line searches pay thousands of times on small data (iris: half the fit).
def _shifted_exp(F):
    """``(m, E, z)`` for F (n, c): the row maxima m (n, 1; 0 where not finite, so no
    inf - inf), ``E = exp(F - m)`` and its row sums z (n, 1)."""
    m = F.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    E = np.exp(F - m)
    return m, E, E.sum(axis=1, keepdims=True)


def _log_normaliser(F):
    """``log sum_k exp(F_jk)`` for every row j of F (n, c), without overflow."""
    m, _, z = _shifted_exp(F)
    return (m + np.log(z))[:, 0]


def _softmax(F):
    _, E, z = _shifted_exp(F)
    return E / z


def _mean_loss(Y, F, s, lse):
    """``sum_j s_j (lse_j - <y_j, F_j>) / sum(s)``, lse the log normalisers of F."""
    return float((s * (lse - (Y * F).sum(axis=1))).sum()) / float(s.sum())


def _top_eigenvalue(P, n_iter=60):
    """Largest eigenvalue of ``diag(p) - p p^T`` for every row p of P (n, c).

    It is the root in ``[p_(2), p_(1)]`` (the two largest entries, by interlacing) of
    the secular equation ``1 = sum_k p_k^2 / (p_k - t)``; found by bisection on every
    row at once (60 halvings: to the last bit of double precision).
    """
    Ps = np.sort(P, axis=1)
    lo, hi = Ps[:, -2].copy(), Ps[:, -1].copy()
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = 1.0 - (P * P / (P - mid[:, None])).sum(axis=1)
        # f falls from +inf (just above p_(2)) to -inf (just below p_(1)); a mid that
        # hits an entry exactly (f not finite) moves the upper end, keeping hi >= root
        below = f > 0
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return hi


class Multinomial(Datafit):
    r"""Multinomial (softmax cross-entropy) loss over c classes.

    .. math::

        \ell(y, f) = \log \sum_{k=1}^c e^{f_k} - f_{y},

    with ``y`` given as labels (c distinct values, sorted) or as a one-hot ``(n, c)``
    array; each group :math:`W_i` is a ``(d, c)`` block with Frobenius norm. The Newton
    model starts with the exact Hessian :math:`\mathrm{diag}(p) - p p^T`
    (:math:`p = \mathrm{softmax}(f)`; :meth:`output_curvature` with a free shift per
    row) and, once its inner solves turn ill-conditioned, uses its largest eigenvalue
    times the identity (:meth:`curvature`), a per-row upper bound exact when the
    probabilities are uniform, shrunk while the line search accepts full steps (see
    :mod:`fixntk._prox_newton`). The conjugate is the
    negative entropy on the simplex: the dual point :math:`\theta_j = (y_j - p_j) /
    \text{scale}` gives :math:`D = \frac{1}{\sum s}\sum_j s_j H(q_j)` with
    :math:`q_j = y_j + (p_j - y_j)/\text{scale}` in the simplex and :math:`H` the
    entropy (nats).
    """

    name = "multinomial"

    def encode(self, y, n):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            if y.shape[0] != n:
                raise ValueError(
                    f"y has {y.shape[0]} rows but X has {n}: they must match"
                )
            one_hot = y.dtype.kind in "biuf" and np.isin(y, (0, 1)).all()
            if not (one_hot and (y.sum(axis=1) == 1).all()):
                raise ValueError(
                    "a 2-d y for the multinomial loss must be one-hot: entries 0 or 1, "
                    "exactly one 1 per row"
                )
            return Targets(
                np.ascontiguousarray(y, dtype=np.float64), False, np.arange(y.shape[1])
            )
        classes, enc = _labels(y, n)
        if classes.size < 2:
            raise ValueError(
                "the multinomial loss needs at least 2 classes in y; got "
                f"{classes.size}"
            )
        if n >= _ID_ROWS and classes.size > n // 2:
            _warn_identifier_labels(classes.size, n, np.bincount(enc.ravel()))
        Y = np.zeros((n, classes.size))
        Y[np.arange(n), enc.ravel()] = 1.0
        return Targets(Y, False, classes)

    def value(self, Y, F, s):
        return _mean_loss(Y, F, s, _log_normaliser(F))

    def gradient(self, Y, F):
        return _softmax(F) - Y

    curvature_is_bound = True

    def curvature(self, Y, F):
        return _top_eigenvalue(_softmax(F))

    #: The Newton model's weights per row and class (:meth:`output_curvature`) go with
    #: a free shift per row: for the Hessian ``diag(p) - p p^T`` (``sum p = 1``),
    #: ``delta^T H delta = min_a sum_k p_k (delta_k - a)^2``, so the weighted least
    #: squares with those weights and a free row shift is the exact Newton model.
    row_shift = True

    def output_curvature(self, Y, F):
        """Per row and class, ``p_jk`` (with :attr:`row_shift`: the exact Hessian);
        shape (n, c)."""
        return _softmax(F)

    def intercept_hessian(self, Y, F, s):
        return self.intercept_derivatives(Y, F, s)[1]

    def value_at(self, Y, F, s):
        """The value and the probabilities ``softmax(F)``, from one exponential."""
        m, E, z = _shifted_exp(F)
        return _mean_loss(Y, F, s, (m + np.log(z))[:, 0]), E / z

    def intercept_derivatives(self, Y, F, s, state=None):
        P = _softmax(F) if state is None else state
        S = float(s.sum())
        sP = (P.T @ s) / S
        g = sP - (Y.T @ s) / S
        return g, np.diag(sP) - (P.T * s) @ P / S

    def dual(self, Y, F, s, scale):
        # Y is one-hot: the other classes' rescaled probabilities are kept as they are,
        # and the label's, 1 less their sum, through its log1p (1 - p_y in double
        # lost the digits of a near-certain row's entropy; tester EX)
        other = np.where(Y == 1, 0.0, _softmax(F) / scale)
        rest = other.sum(axis=1)
        rows = entr(other).sum(axis=1) - xlogy_safe(1.0 - rest, log1m(rest))
        return float((s * rows).sum()) / float(s.sum())

    def intercept(self, Y, F, s, b=None):
        """The best intercept; the softmax ignores a common shift, so it is reported
        with mean 0 over the classes."""
        b = newton_intercept(self, Y, F, s, b)
        return b - b.mean()

    def predict(self, F):
        """Class probabilities ``softmax(F)``, shape (m, c)."""
        return _softmax(F)
