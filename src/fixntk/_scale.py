"""Units: data at any scale double precision holds, computed on at unit scale.

Every program of fixntk is equivariant under a joint scaling of its data. For the group
lasso of the gated ReLU network (and the ReLU program, IRLS, the MKL objective),
with X -> X / sx and y -> y / sy:

    W -> W sx / sy,   eta -> eta sx / sy,   lam -> lam / (sx sy),   F -> F / sy^2;

for kernel ridge and KARE on a kernel built from X (scaling as sx^2), lam (in kernel
units) -> lam / sx^2, and KARE -> KARE / sy^2. The entry points divide their data by
powers of two near its largest magnitude (exact divisions), compute where squares of
norms, Grams and traces neither overflow nor underflow, and map the results back; a
result that itself cannot be represented is refused with a clear error.
"""

import numpy as np

__all__ = ["unit", "Units", "norms", "lam_in", "lam_out", "coef_out", "value_out"]


def pow2_units(top):
    """Elementwise, the power of two ``s`` with ``top / s`` in [0.5, 1) (exact
    divisors), capped at 2^1023 (``top / s`` in [1, 2) from there: 2^1024 overflows,
    and magnitudes of 8.99e307 and beyond crashed ``unit`` and sent ``row_units`` to
    infinity, a row of them to zeros and every mask on it to True; tester CK); 1.0
    where ``top`` is 0 or not finite."""
    top = np.asarray(top, dtype=np.float64)
    ok = (top > 0) & np.isfinite(top)
    _, exponent = np.frexp(np.where(ok, top, 1.0))
    return np.where(ok, np.ldexp(1.0, np.minimum(exponent, 1023)), 1.0)


def unit(A):
    """A power of two ``s`` with ``max|A| / s`` in [0.5, 1) (in [1, 2) at 2^1023 and
    beyond: :func:`pow2_units`), or 1.0 when A is all zero (or empty): ``A / s`` is
    exact and of unit scale."""
    top = float(np.abs(A).max()) if np.size(A) else 0.0
    return float(pow2_units(top))


def row_units(A):
    """Per row of A (n, d): a power of two ``s_k`` with ``max_j |A_kj| / s_k`` in
    [0.5, 1) (:func:`pow2_units`), or 1.0 for a zero row. ``A / s[:, None]`` is exact
    and every non-zero row is of unit scale, however far apart the rows' scales are (a
    global ``unit(A)`` sends a row 1e-310 times the largest to exactly 0)."""
    top = np.abs(A).max(axis=1) if A.shape[1] else np.zeros(A.shape[0])
    return pow2_units(top)


class Units:
    """The scales ``sx = unit(X)``, ``sy = unit(Y)`` of a problem, and the maps between
    its units and the unit-scale problem on ``X / sx``, ``Y / sy``."""

    def __init__(self, X, Y=None):
        self.sx = unit(X)
        self.sy = 1.0 if Y is None else unit(Y)

    def lam(self, lam):
        """Group-lasso ``lam`` in the unit problem (:func:`lam_in`)."""
        return lam_in(lam, self.sx, self.sy)

    def lam_out(self, lam):
        """A group-lasso ``lam`` (e.g. lambda_max) back from the unit problem
        (:func:`lam_out`)."""
        return lam_out(lam, self.sx, self.sy)

    def coef_in(self, W):
        """Coefficients (or kernel weights eta) into the unit problem."""
        return np.asarray(W) * (self.sx / self.sy)

    def coef_out(self, W):
        """Coefficients (or kernel weights eta) back from the unit problem
        (:func:`coef_out`)."""
        return coef_out(W, self.sx, self.sy)

    def kernel_coef_out(self, A):
        """Dual coefficients of a kernel model (``f = K(., X) A``, K scaling as sx^2,
        f as sy) back from the unit problem; a clear error if they exceed double
        precision."""
        with np.errstate(over="ignore", under="ignore"):
            out = np.asarray(A) * (self.sy / self.sx) / self.sx
        if not np.isfinite(out).all():
            raise ValueError(
                "the kernel model's dual coefficients exceed the range of double "
                f"precision (|X| up to {self.sx:.3g}, |y| up to {self.sy:.3g}); "
                "rescale X or y"
            )
        if _underflows(A, self.sy, (self.sx, self.sx)):
            raise ValueError(
                "the kernel model's dual coefficients fall below the range of double "
                f"precision (|X| up to {self.sx:.3g}, |y| up to {self.sy:.3g}); "
                "rescale X or y"
            )
        return out

    def value_out(self, value):
        """An objective, gap or squared error (units of y^2) back from the unit
        problem (:func:`value_out`)."""
        return value_out(value, self.sy)

    def kernel_lam_in(self, lam):
        """A kernel ridge ``lam`` (kernel units, as |X|^2) into the unit problem; a
        clear error if it leaves the range of double precision there."""
        with np.errstate(over="ignore", under="ignore"):
            out = lam / self.sx / self.sx
        if not np.all(np.isfinite(out) & ((out > 0) | (np.asarray(lam) == 0))):
            raise ValueError(
                f"lam = {lam!r} in kernel units (scaling as |X|^2) leaves the range of "
                f"double precision at unit scale (|X| up to {self.sx:.3g}); rescale X"
            )
        return out

    def kernel_lam_out(self, lam):
        """A kernel ridge ``lam`` (kernel units, as |X|^2) back from the unit problem;
        a clear error if it leaves the range of double precision."""
        with np.errstate(over="ignore", under="ignore"):
            out = lam * self.sx * self.sx
        if not np.all(np.isfinite(out) & ((out > 0) | (np.asarray(lam) == 0))):
            raise ValueError(
                "lam in kernel units (scaling as |X|^2) leaves the range of double "
                f"precision (|X| up to {self.sx:.3g}); rescale X"
            )
        return out


def lam_in(lam, sx, sy):
    """A group-lasso ``lam`` in the problem on ``X / sx``, ``y / sy``: ``lam / (sx
    sy)``, divided in turn (the product sx sy may underflow); a clear error if it
    leaves the range of double precision."""
    with np.errstate(over="ignore", under="ignore"):
        out = lam / sx / sy
    if not (np.isfinite(out) and (out > 0 or lam == 0)):
        raise ValueError(
            f"lam = {lam:.3g} leaves the range of double precision at unit scale "
            f"(|X| up to {sx:.3g}, |y| up to {sy:.3g}); rescale X or y"
        )
    return out


def lam_out(lam, sx, sy):
    """A group-lasso ``lam`` of the problem on ``X / sx``, ``y / sy`` back in the
    caller's units, ``lam sx sy``; a clear error if it leaves double precision."""
    with np.errstate(over="ignore", under="ignore"):
        out = lam * sx * sy
    if not (np.isfinite(out) and (out >= np.finfo(np.float64).tiny or lam == 0)):
        raise ValueError(
            f"lam ({lam:.3g} x {sx:.3g} x {sy:.3g}) leaves the range of double "
            "precision; rescale X or y"
        )
    return out


def _underflows(W, up, down):
    """Whether the largest entry of ``W`` times ``up`` over ``down`` (positive
    scales; each factor of ``down`` one entry) falls below the normal range of
    double precision (to a subnormal with fewer digits, or to 0), ``W`` itself and
    the scales not zero."""
    W = np.asarray(W)
    big = float(np.abs(W).max()) if W.size else 0.0
    scales = np.array([up, *down], dtype=np.float64)
    if not (0.0 < big < np.inf and np.all(scales > 0) and np.isfinite(scales).all()):
        return False
    exponent = np.log2(big) + np.log2(up) - np.log2(scales[1:]).sum()
    return exponent < np.log2(np.finfo(np.float64).tiny)


def coef_out(W, sx, sy):
    """Coefficients (or kernel weights eta) of the problem on ``X / sx``, ``y / sy``
    back in the caller's units, ``W sy / sx``; a clear error if they leave double
    precision: above its range, or all below its normal range (they would come back
    0 or with a few digits, X at 1e170 and y at 1e-170 certified an all-zero model;
    tester EK)."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.asarray(W) * (sy / sx)
    if not np.isfinite(out).all():
        raise ValueError(
            "the solution's coefficients exceed the range of double precision "
            f"(|X| up to {sx:.3g}, |y| up to {sy:.3g}); rescale X or y"
        )
    if _underflows(W, sy, (sx,)):
        raise ValueError(
            "the solution's coefficients fall below the range of double precision "
            f"(|X| up to {sx:.3g}, |y| up to {sy:.3g}); rescale X or y"
        )
    return out


def value_out(value, sy):
    """An objective, gap or squared error of the problem on ``y / sy`` (units of y^2)
    back in the caller's units; a clear error if it exceeds double precision."""
    if not np.all(np.isfinite(value)):
        # not y's scale: the loss itself left double precision at these predictions
        # (exp of large scores, Poisson or logistic), which rescaling y cannot help
        raise ValueError(
            "the objective exceeds the range of double precision at these "
            "predictions (the loss of scores this large overflows); use smaller "
            "coefficients W or rescale X"
        )
    with np.errstate(over="ignore"):
        out = value * sy * sy
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "the objective (in units of y^2) exceeds the range of double "
            f"precision (|y| up to {sy:.3g}); rescale y"
        )
    return out


def norms(W):
    """Euclidean norms of the rows of W (2-d or more: over all but the first axis),
    with no overflow or underflow of the squares."""
    W = np.asarray(W, dtype=np.float64)
    flat = W.reshape(W.shape[0], int(np.prod(W.shape[1:])))  # p = 0 too
    top = np.abs(flat).max(axis=1) if flat.size else np.zeros(W.shape[0])
    safe = np.where(top > 0, top, 1.0)
    return top * np.sqrt(((flat / safe[:, None]) ** 2).sum(axis=1))
