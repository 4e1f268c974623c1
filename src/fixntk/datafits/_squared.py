"""The squared loss (least squares), the paper's datafit."""

import numpy as np

from .._validation import check_targets
from ._base import Datafit, Targets, weighted_mean

__all__ = ["Squared", "is_squared"]


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
    scales_with_y = True
    shifts_with_intercept = True

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


def is_squared(datafit):
    """Whether ``datafit`` is the squared loss itself: a :class:`Squared` whose
    methods are Squared's own.

    The compiled least-squares solver (and the Dask backend) solve that loss in one
    call, certified by their own gap, which is the squared loss's. A subclass that
    overrides a method (another quadratic loss, a scaled one) would have been solved
    and certified as the plain squared loss, a wrong answer with a false certificate:
    it goes through the proximal Newton loop and its own :meth:`Datafit.dual`.
    """
    methods = [m for m in vars(Datafit) if callable(getattr(Datafit, m))]
    return isinstance(datafit, Squared) and all(
        getattr(type(datafit), m) is getattr(Squared, m)
        for m in methods
        if not m.startswith("__")
    )
