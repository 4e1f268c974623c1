"""The logistic loss (binary classification)."""

import numpy as np
from scipy.special import expit

from ._base import Datafit, Targets, binary_entropy, newton_intercept

__all__ = ["Logistic"]


def _labels(y, n):
    """(classes, the code of each of the n labels) of y, a 1-d array of labels (a
    column vector is accepted), checked once and sorted once."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"y must be a 1-d array of class labels for a classification loss; got "
            f"shape {y.shape}"
        )
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n}: they must match")
    if y.dtype == object:
        import pandas as pd

        # None, NaN, NaT or pd.NA (a pandas object column's missing cell): np.unique
        # made NaN a class and, unable to order it, split another class in two
        # ([0.0 1.0 2.0 nan 2.0]; tester DM)
        missing = np.flatnonzero(pd.isna(y))
        if missing.size:
            raise ValueError(
                f"y contains {missing.size} missing label(s) (None or NaN; the first "
                f"in row {missing[0]}): drop those rows or give them a label"
            )
    numbers = y
    if y.dtype == object and all(isinstance(v, (float, np.floating)) for v in y):
        numbers = y.astype(float)  # floats in an object array: checked as such
    if numbers.dtype.kind == "f" and not np.isfinite(numbers).all():
        raise ValueError("y contains NaN or infinity")
    if numbers.dtype.kind == "f" and (numbers != np.round(numbers)).any():
        # scikit-learn's 'continuous' target: each distinct value became a class
        # (60 classes for 60 rows), silently
        example = numbers[numbers != np.round(numbers)][0]
        raise ValueError(
            f"y holds non-integer numbers (e.g. {example:g}): a classification loss "
            "takes class labels (integers or text); for a numeric target use "
            "loss='squared', or loss='poisson' for counts"
        )
    try:
        classes, enc = np.unique(y, return_inverse=True)
    except TypeError:  # numpy's bare "'<' not supported between ..."
        kinds = sorted({type(v).__name__ for v in y})
        raise TypeError(
            f"y mixes labels of types {', '.join(kinds)}, which cannot be "
            "ordered: give labels of one type (e.g. y.astype(str))"
        ) from None
    return classes, enc.ravel()


class Logistic(Datafit):
    r"""Logistic loss for two classes, labels mapped to :math:`y \in \{-1, +1\}`.

    .. math::

        \ell(y, f) = \log\big(1 + e^{-y f}\big),

    with ``y`` given as two distinct values: the smaller (in sorted order) becomes -1,
    the larger +1, so :math:`\sigma(f)` is the probability of the second class. The
    Newton model uses the exact curvature :math:`\sigma(f)(1 - \sigma(f))`. Its
    conjugate at :math:`-y q`, :math:`q \in [0, 1]`, is minus the binary entropy, so the
    dual point :math:`\theta_j = y_j \sigma(-y_j f_j) / \text{scale}` (scale >= 1
    keeps :math:`q_j = \sigma(-y_j f_j)/\text{scale}` in [0, 1]) gives
    :math:`D = \frac{1}{\sum s}\sum_j s_j H(q_j)`, :math:`H(q) = -q\log q -
    (1-q)\log(1-q)` (nats).
    """

    name = "logistic"

    def encode(self, y, n):
        classes, enc = _labels(y, n)
        if classes.size != 2:
            more = (
                " (use loss='multinomial'; a label found only on rows of weight 0 "
                "counts as a class too: drop those rows)"
                if classes.size > 2
                else ""
            )
            raise ValueError(
                f"the logistic loss needs exactly 2 classes in y; got {classes.size}"
                f"{more}"
            )
        Y = np.where(enc.ravel() == 1, 1.0, -1.0)[:, None]
        return Targets(np.ascontiguousarray(Y), True, classes)

    def value(self, Y, F, s):
        return float((s * np.logaddexp(0.0, -Y * F)[:, 0]).sum()) / float(s.sum())

    def gradient(self, Y, F):
        return -Y * expit(-Y * F)

    def curvature(self, Y, F):
        return (expit(F) * expit(-F))[:, 0]

    def dual(self, Y, F, s, scale):
        # the rescaled probability of the other label and its complement, each as a
        # sum of positive terms (no cancellation near certainty)
        wrong = expit(-Y * F)[:, 0]
        q = wrong / scale
        r = expit(Y * F)[:, 0] + wrong * (1.0 - 1.0 / scale)
        return float((s * binary_entropy(q, r)).sum()) / float(s.sum())

    def intercept(self, Y, F, s, b=None):
        return newton_intercept(self, Y, F, s, b)

    def predict(self, F):
        """Probability of the second class, ``sigma(F)``, shape (m,)."""
        return expit(F[:, 0])
