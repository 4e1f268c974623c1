"""The interface every datafit (loss) implements.

A datafit is the data term of the gated ReLU program with sample weights ``s`` and an
optional unpenalised output intercept ``b``,

.. math::

    L(f) = \\frac{1}{\\sum_j s_j} \\sum_{j=1}^n s_j\\, \\ell(y_j, f_j),
    \\qquad f = \\sum_i D_i X W_i + b,

and everything the solvers need from it: its value, its gradient and a per-row
curvature in the predictions (for the proximal Newton / IRLS outer loop), the intercept
of the null model, and the Fenchel conjugate that turns a dual point into a duality gap.
Targets are encoded once by :meth:`Datafit.encode` into a float array ``Y`` of shape
``(n, c)``; predictions ``F`` have the same shape.

Adding a loss means one module with a subclass of :class:`Datafit` and its tests (see
:mod:`fixntk.datafits._poisson` for a complete example).
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Datafit", "Targets", "newton_intercept"]


@dataclass
class Targets:
    """Targets encoded for a datafit.

    Attributes
    ----------
    Y : ndarray of shape (n, c)
        The encoded targets (float64, C-contiguous).
    one_d : bool
        Whether coefficients are reported without the output axis: shape ``(p, d)``
        rather than ``(p, d, c)`` (c = 1 targets given as a vector, and the logistic
        loss).
    classes : ndarray or None
        The class labels, in the order of the encoding (classification losses).
    """

    Y: np.ndarray
    one_d: bool
    classes: np.ndarray = field(default=None)


def _missing(datafit, method):
    return NotImplementedError(
        f"the datafit {type(datafit).__name__} does not implement {method}(), which "
        "fixntk's solvers call (see fixntk.datafits.Datafit)"
    )


REQUIRED = ("encode", "value", "gradient", "curvature", "dual")


class Datafit:
    """Base class of the datafits; see the module docstring for the objective.

    Subclasses set ``name`` and implement every method below. Weighted sums are
    normalised by ``sum(s)``: integer weights equal duplicated rows.

    Every datafit of the user's is solved by the proximal Newton loop around the
    compiled solver and certified by its own :meth:`dual` (for a loss quadratic in
    the predictions, one Newton step is exact). Only :class:`Squared` itself, with
    its own methods (:func:`is_squared`), is handed to the compiled least-squares
    solver in one call; a subclass that overrides any of them is the user's loss.
    """

    #: The name accepted by ``loss=`` in :func:`fixntk.solve`.
    name = "base"
    #: True when scaling y by t scales the optimal predictions by t (the squared loss):
    #: the solvers then rescale y internally, so any magnitude is solved without
    #: overflow.
    scales_with_y = False
    #: True when adding a constant m to y, with an unpenalised intercept, adds m to the
    #: optimal intercept and changes nothing else (the squared loss): the solvers then
    #: subtract y's weighted mean first, so an offset far above y's spread (timestamps,
    #: money in cents) is not solved to the rounding of the offset's digits.
    shifts_with_intercept = False
    #: True when :meth:`curvature` is an isotropic upper bound of a Hessian that is
    #: not isotropic (the multinomial): the Newton loop may then shrink it, trusting
    #: its line search, because the bound overstates the curvature along most steps.
    curvature_is_bound = False

    def encode(self, y, n):
        """Validate targets and encode them as :class:`Targets` (raise ValueError)."""
        raise _missing(self, "encode")

    def check_weights(self, Y, s):
        """Refuse (ValueError) targets that the sample weights ``s`` leave degenerate;
        by default nothing to check."""

    def value(self, Y, F, s):
        """``sum_j s_j l(y_j, F_j) / sum(s)``: a float."""
        raise _missing(self, "value")

    def gradient(self, Y, F):
        """The derivative ``dl/df`` at every row, shape (n, c) (not weighted)."""
        raise _missing(self, "gradient")

    def curvature(self, Y, F):
        """Per-row weights ``h_j`` of shape (n,) such that ``h_j I`` is the (upper
        bound of the) Hessian of ``l(y_j, .)`` at ``F_j`` used by the Newton model.
        Rows where the loss is linear may give 0 (raised to 1e-10) or a bound with
        ``curvature_is_bound = True``: a Huber loss, either way, is solved to the
        certificate (``tests/test_datafits.py``, ``_huber``), though its gap falls
        more slowly than its objective near the optimum (its conjugate's domain is
        bounded)."""
        raise _missing(self, "curvature")

    def dual(self, Y, F, s, scale):
        """The dual objective at the dual point ``theta_j = -l'(F_j) / scale``:
        ``-sum_j s_j l*(-theta_j ...) / sum(s)``, where ``scale >= 1`` makes it dual
        feasible (``max_i ||X^T D_i (s * theta)|| / sum(s) <= lam``)."""
        raise _missing(self, "dual")

    def intercept(self, Y, F, s, b=None):
        """The unpenalised intercept minimising ``value(Y, F + b, s)``, shape (c,),
        given the predictions ``F`` without it (``b``: a starting point). A datafit
        of your own whose value is convex in b, with :meth:`gradient` and
        :meth:`curvature`, can return ``fixntk.datafits.newton_intercept(self, Y,
        F, s, b)``."""
        raise _missing(self, "intercept")

    def intercept_hessian(self, Y, F, s):
        """The Hessian of ``value(Y, F + b, s)`` in ``b``, shape (c, c); by default
        the weighted mean of :meth:`curvature` times the identity."""
        h = float((s * self.curvature(Y, F)).sum()) / float(s.sum())
        return h * np.eye(Y.shape[1])

    def value_at(self, Y, F, s):
        """``(value(Y, F, s), state)``: ``state`` is whatever
        :meth:`intercept_derivatives` can reuse at the same ``F`` (None by default;
        the multinomial's probabilities, one exponential for both)."""
        return self.value(Y, F, s), None

    def intercept_derivatives(self, Y, F, s, state=None):
        """The gradient (c,) and Hessian (c, c) of ``value(Y, F + b, s)`` in ``b`` at
        ``b = 0``; ``state`` from :meth:`value_at` at the same ``F``, or None."""
        g = (s[:, None] * self.gradient(Y, F)).sum(axis=0) / float(s.sum())
        return g, self.intercept_hessian(Y, F, s)

    def predict(self, F):
        """The model's prediction of the target's mean from the scores ``F`` (the
        identity for the squared loss, probabilities for classification)."""
        return F

    def __repr__(self):
        return f"{type(self).__name__}()"


def weighted_mean(A, s):
    """``sum_j s_j A_j / sum(s)`` over the rows of A (n, c), without overflow."""
    return (s[:, None] * A).sum(axis=0) / s.sum()


def newton_intercept(datafit, Y, F, s, b=None):
    """argmin_b ``datafit.value(Y, F + b, s)`` by Newton's method with backtracking
    (the value is convex in b), to a Newton step of ``1e-12 (1 + max |b|)``, or to
    round-off: a step below ``1e-8 (1 + max |b|)`` from a gradient that the last step
    did not halve (Newton's would square it) ends the iteration. 12800 rows of 50
    classes hold the gradient at 1e-14, where the loop ran its 100 steps and their
    line searches (0.3 s a call, twice per lam in a fit). The rules are on the step,
    in b's units, not on the gradient, whose scale is the curvature's: a class with
    2e-15 of the weight has a gradient of that size at b = 0's distance from its
    log-odds, and an absolute 1e-15 stopped 0.18 short of them (its probability 20%
    off, the null model's objective above the optimum; tester EX).

    The multinomial Hessian is singular along the all-ones direction (the softmax
    ignores a common shift of the scores): where ``H 1 = 0`` (to round-off) the step
    keeps the intercept of the class of largest curvature and solves for the others
    (their equations imply its). Adding ``1 1^T`` to H instead swamped the curvature
    of a class with 2e-15 of the weight, and its intercept stopped 0.12 short (its
    probability 13% off; tester EX).
    """
    c = Y.shape[1]
    b = np.zeros(c) if b is None else np.array(b, dtype=np.float64).reshape(c)
    f_old, state = datafit.value_at(Y, F + b, s)
    last = np.inf
    for _ in range(100):
        g, H = datafit.intercept_derivatives(Y, F + b, s, state)
        top = float(np.abs(g).max())
        if top == 0.0:
            break
        try:
            step = -_intercept_step(H, g)
        except np.linalg.LinAlgError:
            step = -g
        size = float(np.abs(step).max())
        unit = 1.0 + float(np.abs(b).max())
        if not size > 1e-12 * unit or (size < 1e-8 * unit and top > 0.5 * last):
            break
        last = top
        slope = float(g @ step)
        if not slope < 0:
            step, slope = -g, -float(g @ g)
        t = 1.0
        for _ in range(60):
            f_new, state_new = datafit.value_at(Y, F + b + t * step, s)
            if f_new <= f_old + 1e-4 * t * slope:
                break
            # at round-off level the value cannot show a decrease: take the step if it
            # shrinks the gradient
            if f_new <= f_old + 1e-13 * abs(f_old):
                g_new = datafit.intercept_derivatives(
                    Y, F + b + t * step, s, state_new
                )[0]
                if np.abs(g_new).max() < np.abs(g).max():
                    break
            t *= 0.5
        else:
            break
        b = b + t * step
        f_old, state = f_new, state_new
    return b


def _intercept_step(H, g):
    """``H^+ g`` for the intercept's Newton step (see :func:`newton_intercept`)."""
    H = np.atleast_2d(H)
    c = H.shape[0]
    if c == 1:
        if not H[0, 0] != 0:
            raise np.linalg.LinAlgError("zero curvature")
        return np.asarray(g, dtype=np.float64).reshape(1) / H[0, 0]
    if not np.abs(H.sum(axis=1)).max() <= 1e-10 * np.abs(H).max():
        return np.linalg.solve(H, g)
    k = int(H.diagonal().argmax())
    keep = [j for j in range(c) if j != k]
    step = np.zeros(c)
    step[keep] = np.linalg.solve(H[keep][:, keep], g[keep])
    return step


def binary_entropy(q, r):
    """``-q log q - r log r`` for the two probabilities ``q + r = 1`` of a row, both
    given (each computed without cancellation): the log of the larger one is taken
    as ``log1p`` of the smaller, whose digits it keeps. With ``log(1 - q)`` a row
    of a class 2e-15 of the weight had 6% of its entropy in round-off, and the dual
    value rose above the objective (negative gaps certified; tester EX)."""
    small = q <= r
    with np.errstate(divide="ignore"):  # log(0) where a probability is 0: unused
        lq = np.where(small, np.log(q), np.log1p(-r))
        lr = np.where(small, np.log1p(-q), np.log(r))
    return -(xlogy_safe(q, lq) + xlogy_safe(r, lr))


def xlogy_safe(x, logy):
    """``x * logy`` with 0 where x is 0 (logy may then be -inf)."""
    return np.where(x == 0, 0.0, x * np.where(x == 0, 0.0, logy))


def log1m(x):
    """``log(1 - x)`` for x in [0, 1], -inf at 1 without NumPy's warning."""
    with np.errstate(divide="ignore"):
        return np.log1p(-x)
