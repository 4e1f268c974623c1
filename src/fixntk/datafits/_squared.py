"""The squared loss (least squares), the paper's datafit."""

import numpy as np

from .._validation import check_targets
from ._base import Datafit, Targets, weighted_mean

__all__ = ["Squared"]


class Squared(Datafit):
    r"""Squared loss, summed over the outputs.

    .. math::

        \ell(y, f) = \tfrac12 \|y - f\|^2, \qquad
        L(f) = \frac{1}{2 \sum_j s_j} \sum_j s_j \|y_j - f_j\|^2,

    which with unit weights and no intercept is the paper's
    :math:`\frac{1}{2n}\|\sum_i D_i X W_i - Y\|_F^2` (Dwaraknath et al. 2023, eq. (3),
    divided by n). The compiled solver minimises it directly (no outer loop). Its
    conjugate gives the dual :math:`D(\theta) = \frac{1}{\sum s}\sum_j s_j (y_j^T
    \theta_j - \frac12\|\theta_j\|^2)` at the rescaled residual
    :math:`\theta = (Y - F) / \text{scale}`.
    """

    name = "squared"
    quadratic = True
    scales_with_y = True

    def encode(self, y, n):
        Y, was_1d = check_targets(y, n)
        return Targets(Y, was_1d)

    def value(self, Y, F, s):
        R = Y - F
        return 0.5 * float((s[:, None] * R * R).sum()) / float(s.sum())

    def gradient(self, Y, F):
        return F - Y

    def curvature(self, Y, F):
        return np.ones(Y.shape[0])

    def dual(self, Y, F, s, scale):
        T = (Y - F) / scale
        return float((s[:, None] * (Y * T - 0.5 * T * T)).sum()) / float(s.sum())

    def intercept(self, Y, F, s, b=None):
        return weighted_mean(Y - F, s)
