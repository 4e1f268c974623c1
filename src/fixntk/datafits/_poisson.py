"""The Poisson loss (count regression, log link)."""

import math

import numpy as np
from scipy.special import xlogy

from .._validation import check_targets
from ._base import Datafit, Targets

__all__ = ["Poisson", "PredictionOverflowError"]

# counts above this are refused: the curvatures (about the counts) times X^T X
# overflow in the block Grams
_MAX_COUNT = 1e100
# ... and below this largest count its curvatures (about the counts) and their Grams'
# squares reach double precision's underflow: at 1e-165 a solve stopped at once at a
# relative gap of 0.96 and was told to raise tol (tester EX)
_MIN_COUNT = 1e-140

# exp(f) is finite up to this log (log of the largest double, 709.78)
_LOG_MAX = float(np.log(np.finfo(np.float64).max))


class PredictionOverflowError(ValueError):
    """The predicted mean ``exp(f)`` exceeds the largest double on some rows.

    Attributes
    ----------
    rows : ndarray of int
        The rows (of the X predicted on, counted from 0) whose mean overflows; on
        Dask, those of the first chunk that raised.
    """

    def __init__(self, rows, f_first, n_rows, at_least=False, partition=None):
        self.rows, self.f_first, self.n_rows = rows, f_first, n_rows
        self._at_least, self.partition = at_least, partition
        of = "" if n_rows is None else f" of {n_rows}"
        some = "at least " if at_least else ""
        where = (
            "counted from 0"
            if partition is None
            else f"counted from 0 in partition {partition} of the Dask collection, "
            "whose row offsets are not known"
        )
        super().__init__(
            f"the predicted mean exp(f) overflows double precision on {some}"
            f"{rows.size}{of} rows (the first is row {rows[0]}, {where}; f = "
            f"{f_first:.6g} > {_LOG_MAX:.2f}): their numbers lie far outside the data "
            "the model was fitted on; predict on the other rows without them"
        )

    def __reduce__(self):  # pickled from a Dask worker to the client
        args = (self.rows, self.f_first, self.n_rows, self._at_least, self.partition)
        return type(self), args

    def shifted(self, start, n_rows, partition=None):
        """The same error for a chunk's rows, counted from ``start`` (its first row)
        among ``n_rows`` (None when unknown); other chunks may hold more. Where the
        chunks' offsets are unknown (a Dask frame's partitions), ``start`` is None and
        the rows are counted within ``partition``."""
        if start is None:
            return PredictionOverflowError(
                self.rows, self.f_first, None, at_least=True, partition=partition
            )
        return PredictionOverflowError(
            self.rows + start, self.f_first, n_rows, at_least=True
        )


def _near_counts(Y, F):
    """(rows with y > 0 and |f - log y| <= 1, f - log y there): where the loss and its
    conjugate are computed relative to the count (further out their terms do not
    cancel, and y e^t could overflow for counts near the smallest doubles)."""
    pos = Y > 0
    t = F - np.log(np.where(pos, Y, 1.0))
    near = pos & (np.abs(t) <= 1.0)
    return near, np.where(near, t, 0.0)


class Poisson(Datafit):
    r"""Poisson loss with the log link: the mean is :math:`e^f`.

    .. math::

        \ell(y, f) = e^f - y f - (y - y \log y),

    half the Poisson deviance (zero at the saturated fit :math:`f = \log y`; with
    :math:`0 \log 0 = 0`), for counts or any targets :math:`y \ge 0`. The Newton
    model uses the exact curvature :math:`e^f`; the best intercept is
    :math:`\log(\sum s y / \sum s e^F)`. The conjugate of :math:`e^f - y f` is
    :math:`v \mapsto u \log u - u` at :math:`u = v + y > 0`, so the dual point
    :math:`\theta = (y - e^f)/\text{scale}` gives
    :math:`D = \frac{1}{\sum s}\sum_j s_j (y_j\log y_j - u_j \log u_j + u_j - y_j)`
    with :math:`u_j = y_j + (e^{f_j} - y_j)/\text{scale} > 0`.
    """

    name = "poisson"

    def encode(self, y, n):
        # (as the squared loss reads y: text such as '3' and other dtypes refused by
        # name; they were converted silently, tester EX)
        Y = check_targets(y, n)[0]
        if Y.shape[1] != 1:
            raise ValueError(f"the Poisson loss takes one target column; got {Y.shape}")
        if not np.isfinite(Y).all():
            raise ValueError("y contains NaN or infinity")
        if (Y < 0).any():
            raise ValueError(
                f"the Poisson loss needs targets >= 0 (counts, rates); the smallest is "
                f"{Y.min():.3g}"
            )
        if not (Y > 0).any():
            raise ValueError(
                "every target is 0: the Poisson model's mean goes to 0 (its scores "
                "to -infinity)"
            )
        return Targets(Y, np.ndim(y) == 1)

    def check_weights(self, Y, s):
        top = float(Y[s > 0, 0].max(initial=0.0))  # rows of weight 0 never enter
        if top > _MAX_COUNT:
            # the curvature exp(f) is about y: its block Grams X^T diag(exp f) X
            # overflowed (a LAPACK failure at 1e300, overflow warnings and a relative
            # gap of 1.0 without the intercept)
            raise ValueError(
                f"the largest count is {top:.3g}: above {_MAX_COUNT:.0e} the "
                "Poisson loss's curvature exp(f) (about the counts) and its Grams "
                "leave double precision; the loss is not scale-free (log-mean "
                "link), so model counts in a smaller unit (y / c fits exp(f) / c, an "
                "intercept shift of -log c)"
            )
        if 0 < top < _MIN_COUNT:
            raise ValueError(
                f"the largest count is {top:.3g}: below {_MIN_COUNT:.0e} the Poisson "
                "loss's curvature exp(f) (about the counts) and its Grams underflow "
                "double precision; the loss is not scale-free (log-mean link), so "
                "model counts in a larger unit (y * c fits exp(f) * c, an intercept "
                "shift of log c)"
            )
        if not float(s @ Y[:, 0]) > 0:
            raise ValueError(
                "every target of positive sample weight is 0: the Poisson model's "
                "mean goes to 0 (its scores to -infinity); give weight to rows with "
                "positive counts"
            )

    def value(self, Y, F, s):
        with np.errstate(over="ignore", invalid="ignore"):
            loss = np.exp(F) - Y * F - Y + xlogy(Y, Y)
            # near the counts, y (expm1(t) - t) at t = f - log y: the same value
            # without cancelling terms of y f (counts of 9e6: terms of 1.5e8 left
            # round-off of 1e-9 of the objective, and negative gaps were certified;
            # tester BM)
            near, t = _near_counts(Y, F)
            loss = np.where(near, Y * (np.expm1(t) - t), loss)
        return float((s * loss[:, 0]).sum()) / float(s.sum())

    def gradient(self, Y, F):
        with np.errstate(over="ignore"):
            return np.exp(F) - Y

    def curvature(self, Y, F):
        with np.errstate(over="ignore"):
            return np.exp(F[:, 0])

    def curvature_unit(self, Y, s):
        """The curvatures' scale: the weighted mean count (the curvature exp(f) of
        the best intercept-only model), which sets how small a curvature may be
        before it counts as flat (counts of 1e-14 had every curvature raised to a
        floor of 1e-10, and the solve stopped near the null model; tester BG)."""
        return float(s @ Y[:, 0]) / float(s.sum())

    def dual(self, Y, F, s, scale):
        with np.errstate(over="ignore", invalid="ignore"):  # inf: refused upstream
            G = (np.exp(F) - Y) / scale  # theta's values, as the block gradients see
            U = Y + G
            d = xlogy(Y, Y) - xlogy(U, U) + U - Y
            # near the counts (as in value), with v = G / y: the same value as
            # -y ((1 + v) log1p(v) - v) - G log y, without cancelling terms of u log u;
            # G log y as G (log y - c) + c G, the last summed correctly rounded (with
            # an intercept, sum s G is round-off: terms of G log y, 5e4 a row at
            # counts of 9e6, left 4e-13 of the objective)
            near = _near_counts(Y, F)[0]
            logy = np.log(np.where(near, Y, 1.0))
            c = float(np.median(logy[near])) if near.any() else 0.0
            # (0 off the near rows: G = -y there where exp(f) underflows, and
            # log1p(-1) warned of a division by zero in a correct solve; tester BP)
            v = np.where(near, G, 0.0) / np.where(near, Y, 1.0)
            stable = -Y * ((1.0 + v) * np.log1p(v) - v) - G * (logy - c)
            d = np.where(near, stable, d)
            sG = np.where(near, G, 0.0)[:, 0] * s
        total = float((s * d[:, 0]).sum()) - c * math.fsum(sG)
        return total / float(s.sum())

    def intercept(self, Y, F, s, b=None):
        # log(sum s y / sum s e^F), with e^F's largest factored out (no overflow)
        top = float(F.max())
        mean = float(s @ np.exp(F[:, 0] - top))
        return np.array([np.log(float(s @ Y[:, 0]) / mean) - top])

    def predict(self, F):
        """The mean ``exp(F)``.

        Raises
        ------
        PredictionOverflowError
            (a ValueError) where ``exp(F)`` exceeds the largest double, naming the
            rows, rather than returning inf.
        """
        F = np.asarray(F)
        over = F > _LOG_MAX
        if over.any():
            rows = np.flatnonzero(over.reshape(over.shape[0], -1).any(axis=1))
            first = F[rows[0]] if F.ndim == 1 else F[rows[0]].max()
            raise PredictionOverflowError(rows, float(first), F.shape[0])
        return np.exp(F)
