"""Kernels of the MKL view: the closed-form gated ReLU NTK and masking-kernel mixtures.

The NTK's angular factor is a Numba kernel (one row per ``prange`` step, so the result
does not depend on the number of threads); the mixtures are BLAS products of masks.
Both run in blocks of rows small enough that Ctrl-C is seen between them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from ._arrangement import Arrangement, as_arrangement
from ._gates import NUMPY_WORK, threaded
from ._memory import CALL_WORK, check_fits
from ._scale import row_units
from ._validation import check_X, real_float64

__all__ = [
    "ntk_kernel",
    "mkl_kernel",
    "check_eta",
    "masking_kernel",
    "kernel_predict",
]

_BLOCK_ENTRIES = 1 << 23  # mask entries converted to float64 per block (64 MB)
# Entries of one block of a prediction's (new rows x training rows) kernel (32 MB)
_PREDICT_ENTRIES = 1 << 22


# Above this |cos|, the angle comes from the unit rows' difference and sum instead of
# arccos, which loses half the digits there (cos = 1 - 1e-16 for two equal rows gives
# an angle of 1.5e-8, not 0).
_NEAR_PARALLEL = 0.9999


@njit(cache=True, parallel=True)
def _arc_factor_kernel(G, nx, nz, symmetric, X, Z):
    """G[k, j] <- G[k, j] (pi - angle(x_k, z_j)) / (2 pi), in place; G = X Z^T."""
    m, q = G.shape
    for k in prange(m):
        for j in range(q):
            if nx[k] == 0.0 or nz[j] == 0.0:
                G[k, j] = 0.0  # a zero row: x^T z = 0 and the angle is irrelevant
            elif symmetric and k == j:
                G[k, j] *= 0.5
            else:
                a, b = nx[k], nz[j]
                denom = a * b
                if 0.0 < denom < np.inf:
                    cos = G[k, j] / denom
                else:  # a * b over/underflows where x^T z may not; order kept symmetric
                    cos = G[k, j] / max(a, b) / min(a, b)
                cos = min(1.0, max(-1.0, cos))
                if abs(cos) > _NEAR_PARALLEL:
                    # 2 atan2(|u - v|, |u + v|) for the unit rows u, v: accurate at 0
                    # and pi
                    dif = 0.0
                    tot = 0.0
                    for col in range(X.shape[1]):
                        u = X[k, col] / a
                        v = Z[j, col] / b
                        dif += (u - v) * (u - v)
                        tot += (u + v) * (u + v)
                    angle = 2.0 * np.arctan2(np.sqrt(dif), np.sqrt(tot))
                else:
                    angle = np.arccos(cos)
                G[k, j] *= (np.pi - angle) / (2.0 * np.pi)
    return G


_arc_factor_call = threaded(_arc_factor_kernel)


def _arc_factor_numpy(G, nx, nz, symmetric, X, Z):
    """NumPy twin of :func:`_arc_factor_kernel` (the same formulas, equal up to the
    last bit of arccos and of the near-parallel pairs' sums)."""
    a, b = nx[:, None], nz[None, :]
    with np.errstate(all="ignore"):
        denom = a * b
        cos = G / denom
        spill = ~((denom > 0.0) & (denom < np.inf))
        if spill.any():  # a * b over/underflows where x^T z may not
            cos[spill] = (G / np.maximum(a, b) / np.minimum(a, b))[spill]
    np.clip(cos, -1.0, 1.0, out=cos)
    angle = np.arccos(cos)
    k, j = np.nonzero(np.abs(cos) > _NEAR_PARALLEL)
    if k.size:  # 2 atan2(|u - v|, |u + v|) for the unit rows u, v, column by column
        dif = np.zeros(k.size)
        tot = np.zeros(k.size)
        for col in range(X.shape[1]):
            u = X[k, col] / nx[k]
            v = Z[j, col] / nz[j]
            dif += (u - v) * (u - v)
            tot += (u + v) * (u + v)
        angle[k, j] = 2.0 * np.arctan2(np.sqrt(dif), np.sqrt(tot))
    diagonal = np.diagonal(G).copy() * 0.5 if symmetric else None
    G *= (np.pi - angle) / (2.0 * np.pi)
    if symmetric:
        np.fill_diagonal(G, diagonal)  # a square block's first columns
    G[nx == 0.0, :] = 0.0  # a zero row: x^T z = 0 and the angle is irrelevant
    G[:, nz == 0.0] = 0.0
    return G


def _apply_arc_factor(G, nx, nz, symmetric, X, Z):
    """G[k, j] <- G[k, j] (pi - angle(x_k, z_j)) / (2 pi), in place; G = X Z^T (up
    to a quarter of :data:`~fixntk._gates.NUMPY_WORK` entries by NumPy: no first load
    of the kernel, and the twin's temporaries, a few arrays of G's size, stay near
    8 MiB each)."""
    if G.size <= NUMPY_WORK // 4:
        return _arc_factor_numpy(G, nx, nz, symmetric, X, Z)
    return _arc_factor_call(16 * G.size, G, nx, nz, symmetric, X, Z)  # arccos: ~16


def _row_norms(X):
    """||x_k|| with no overflow or underflow of the squares (rows scaled first)."""
    m = np.abs(X).max(axis=1)
    safe = np.where(m > 0, m, 1.0)
    return m * np.sqrt(np.einsum("ij,ij->i", X / safe[:, None], X / safe[:, None]))


# entries of a kernel's block of rows computed (_gram) or scaled and checked
# (_finite_kernel) at once
_KERNEL_BLOCK = 1 << 20


def _gram(X, Z=None, factor=None, out=None):
    """``X Z^T`` (Z = None: ``X X^T``, exactly symmetric) by blocks of rows of about
    :data:`~fixntk._memory.CALL_WORK` multiply-adds, so that Ctrl-C is seen between
    them, each block then passed through ``factor(B, rows, cols, symmetric)`` (rows
    and cols: the slices of X and Z it holds; symmetric: its diagonal starts at its
    left). ``out``: the (m, q) array to write into; a factor may read its entries
    of the block's rows and columns, which are not yet written (with Z = None, a
    block writes its rows from its diagonal on and mirrors them into its columns
    below it, which later blocks do not read)."""
    symmetric = Z is None
    Z = X if symmetric else Z
    m, q = X.shape[0], Z.shape[0]
    K = np.empty((m, q)) if out is None else out
    # ... and of at most _KERNEL_BLOCK entries: a block of a few columns' rows (d
    # small) held most of K, its temporaries doubling the peak (tester CB)
    rows = max(1, min(CALL_WORK // max(q * (X.shape[1] + 1), 1), _KERNEL_BLOCK // q))
    for r0 in range(0, m, rows):
        r1 = min(m, r0 + rows)
        # symmetric: rows r0:r1 against columns r0: only, mirrored; the square block on
        # the diagonal is made symmetric from its upper triangle
        c0 = r0 if symmetric else 0
        B = X[r0:r1] @ Z[c0:].T
        if factor is not None:
            B = factor(B, slice(r0, r1), slice(c0, q), symmetric)
        if not symmetric:
            K[r0:r1] = B
            continue
        w = r1 - r0
        B[:, :w] = np.triu(B[:, :w]) + np.triu(B[:, :w], 1).T
        K[r0:r1, r0:] = B
        K[r0:, r0:r1] = B.T
    return K


def _arc_kernel(X, Z=None):
    """``(X Z^T) * (pi - angle) / (2 pi)`` (Z = None: X with itself, exactly symmetric),
    by blocks of rows (:func:`_gram`)."""
    nx = _row_norms(X)
    nz = nx if Z is None else _row_norms(Z)
    Zr = X if Z is None else Z
    return _gram(
        X, Z, lambda B, r, c, sym: _apply_arc_factor(B, nx[r], nz[c], sym, X[r], Zr[c])
    )


def _finite_kernel(K, sx, sz, weighted=False):
    """``K_kl sx_k sz_l`` for K computed on the rows of X and Z divided by their own
    scales sx (n,) and sz (m,) (:func:`fixntk._scale.row_units`; the kernels are
    bilinear in the scales of their arguments' rows), or a clear error where its
    entries leave double precision (|x| |z| above about 1e308, or the largest below
    about 1e-308); ``weighted``: K weights its products by eta (mkl_kernel), which
    the error names."""
    product, fix = ("eta_i x^T z", "X or eta") if weighted else ("x^T z", "X")
    # in blocks of rows: the reductions' temporaries over the whole of K doubled the
    # kernel's peak memory (n = 10000: 1568 MiB for a 763 MiB kernel; tester CB)
    top = top_out = 0.0
    step = max(1, _KERNEL_BLOCK // max(K.shape[1], 1))
    for r in range(0, K.shape[0], step):
        B = K[r : r + step]
        if not B.size:
            continue
        top = max(top, float(np.abs(B).max()))
        with np.errstate(over="ignore", under="ignore"):
            B *= sx[r : r + step, None]
            B *= sz[None, :]
        if not np.isfinite(B).all():
            raise ValueError(
                "kernel entries exceed the range of double precision "
                f"({product} overflows); rescale {fix}"
            )
        top_out = max(top_out, float(np.abs(B).max()))
    if top > 0 and top_out < np.finfo(np.float64).tiny:
        raise ValueError(
            "kernel entries fall below the range of double precision "
            f"({product} underflows); rescale {fix}"
        )
    return K


def ntk_kernel(X: ArrayLike, Z: ArrayLike | None = None) -> np.ndarray:
    r"""The infinite-width NTK of the gated ReLU network, in closed form.

    .. math::

        k(x, z) = x^T z \, \frac{\pi - \angle(x, z)}{2\pi}
                = \mathbb{E}_{h \sim N(0, I)}\big[1[x^T h \ge 0]\, 1[z^T h \ge 0]\big]\,
                  x^T z,

    i.e. :math:`H(\tilde\eta)` of :func:`mkl_kernel` over the full arrangement with the
    NTK weights :math:`\tilde\eta_i = P[h \in K_i]`. Rows equal to zero give zero rows
    and columns.

    Parameters
    ----------
    X : array-like of shape (n, d)
    Z : array-like of shape (m, d), optional
        Defaults to ``X`` (the training Gram matrix, exactly symmetric).

    Returns
    -------
    K : ndarray of shape (n, m)

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, X and Z
        with different numbers of features, or kernel entries beyond the range
        of double precision.
    MemoryError
        Before the work, when the (n, m) result does not fit in the memory
        available.
    """
    X = check_X(X)
    sx = row_units(X)
    if Z is None:
        _check_kernel_fits(X.shape[0], X.shape[0], 1, "ntk_kernel")
        return _finite_kernel(_arc_kernel(X / sx[:, None]), sx, sx)
    Z = _check_Z(Z, X.shape[1])
    _check_kernel_fits(X.shape[0], Z.shape[0], 1, "ntk_kernel")
    sz = row_units(Z)
    return _finite_kernel(_arc_kernel(X / sx[:, None], Z / sz[:, None]), sx, sz)


def _check_kernel_fits(n, m, n_matrices, what):
    """A MemoryError naming the kernel's size before an (n, m) kernel that does not
    fit (NumPy's bare 'Unable to allocate 74.5 GiB' at 10^5 rows, from inside the
    computation; tester CB)."""
    check_fits(
        n_matrices * 8.0 * n * m,
        f"{what}'s {n} x {m} kernel"
        + (f" ({n_matrices} such matrices at once)" if n_matrices > 1 else ""),
        "the kernel of n rows holds n^2 entries: use fewer rows, or the gated "
        "estimators (GatedReLURegressor, GatedReLUClassifier), linear in n",
    )


def check_eta(eta, p, name="eta"):
    """Kernel weights: a finite, non-negative vector of length p (or NTKWeights)."""
    if hasattr(eta, "eta") and hasattr(eta, "missing_mass"):  # an NTKWeights result
        eta = eta.eta
    if isinstance(eta, str):
        raise ValueError(
            f"{name} must be an array of {p} non-negative weights; got {eta!r}"
        )
    arr = real_float64(eta, name)
    if arr is None:
        raise ValueError(f"{name} must be an array of real numbers")
    if arr.ndim == 0:  # (said as a shape () only, with p a count the user never saw)
        raise ValueError(
            f"{name} must be an array of {p} non-negative weights, one per distinct "
            f"mask of the arrangement, not one number; got {eta!r}"
        )
    if arr.ndim != 1 or arr.shape[0] != p:
        raise ValueError(
            f"{name} must have shape ({p},), one weight per mask; got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative; its minimum is {arr.min():.3g}")
    return arr


def _check_Z(Z, d):
    Z = check_X(Z, "Z")
    if Z.shape[1] != d:
        raise ValueError(f"Z has {Z.shape[1]} features but X has {d}: they must match")
    return Z


def masking_kernel(XZt, masks, eta, masks_z=None):
    """``XZt * (M diag(eta) M_z^T)`` for precomputed ``XZt = X Z^T`` and bool masks.

    Only groups with ``eta_i > 0`` are read, in blocks, so memory stays bounded and
    sparse weights (as IRLS produces) cost less. ``XZt`` is not modified.
    """
    S = _mask_mixture(masks, eta, masks_z)
    S *= XZt
    return S


def _mask_mixture(masks, eta, masks_z=None):
    """``M diag(eta) M_z^T`` (n, m) for bool masks M (n, p) and M_z (m, p), reading
    only the groups with ``eta_i > 0``, in blocks (:func:`masking_kernel`)."""
    if masks_z is None:
        masks_z = masks
    active = np.flatnonzero(eta > 0)
    n, m = masks.shape[0], masks_z.shape[0]
    S = np.zeros((n, m))
    step = max(1, _BLOCK_ENTRIES // max(n, m, 1))
    for start in range(0, active.size, step):
        cols = active[start : start + step]
        left = masks[:, cols] * eta[cols]
        right = masks_z[:, cols].T.astype(np.float64)
        # row blocks of about CALL_WORK multiply-adds: Ctrl-C is seen between them
        rows = max(1, CALL_WORK // (cols.size * m))
        for r0 in range(0, n, rows):
            S[r0 : r0 + rows] += left[r0 : r0 + rows] @ right
    return S


def _masked_products(X, Z, S):
    """``(X Z^T) * S`` written over S (Z = None: X with itself, S symmetric), the
    products formed by blocks of rows (:func:`_gram`), so that only one (n, m)
    matrix is held."""

    def times_mixture(B, rows, cols, symmetric):
        B *= S[rows, cols]
        return B

    return _gram(X, Z, times_mixture, out=S)


def mkl_kernel(
    X: ArrayLike,
    arr: Arrangement | ArrayLike,
    eta: ArrayLike,
    Z: ArrayLike | None = None,
) -> np.ndarray:
    r"""The multiple-kernel mixture of masking kernels :math:`H(\eta)`.

    .. math::

        H(\eta) = \sum_{i=1}^p \eta_i D_i X Z^T D'_i
                = (X Z^T) \circ (M \,\mathrm{diag}(\eta)\, M'^T),

    with :math:`M` the (n, p) mask matrix of ``arr`` and :math:`M'` the masks of the
    same gates on ``Z`` (``M' = M`` when ``Z`` is None). It is computed as a Hadamard
    product, never as a sum of p dense matrices. With :math:`\eta = \tilde\eta` (the
    NTK weights, :func:`ntk_weights`) it tends to :func:`ntk_kernel`; with
    :math:`\eta_i = \|w_i\|` at the group-lasso solution it is the optimal
    (label-aware) MKL kernel.

    Parameters
    ----------
    X : array-like of shape (n, d)
    arr : Arrangement or bool array of shape (n, p)
    eta : array-like of shape (p,) or NTKWeights
        Non-negative kernel weights.
    Z : array-like of shape (m, d), optional
        Second argument of the kernel. Needs an arrangement with gates (its masks on Z
        are ``arr.apply(Z)``).

    Returns
    -------
    K : ndarray of shape (n, n) or (n, m)

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, negative
        weights, a Z for an arrangement without gates, or kernel entries beyond
        the range of double precision.
    MemoryError
        Before the work, when the (n, n) or (n, m) result does not fit in the
        memory available (the products :math:`X Z^T` are formed by blocks of rows
        into it: one such matrix is held).
    """
    X = check_X(X)
    arr = as_arrangement(arr, X.shape[0], X)
    eta = check_eta(eta, arr.p)
    sx = row_units(X)
    X = X / sx[:, None]
    if Z is None:
        _check_kernel_fits(X.shape[0], X.shape[0], 1, "mkl_kernel")
        K = _masked_products(X, None, _mask_mixture(arr.masks, eta))
        return _finite_kernel(K, sx, sx, weighted=True)
    Z = _check_Z(Z, X.shape[1])
    _check_kernel_fits(X.shape[0], Z.shape[0], 1, "mkl_kernel")
    sz = row_units(Z)
    S = _mask_mixture(arr.masks, eta, arr.apply(Z))
    K = _masked_products(X, Z / sz[:, None], S)
    return _finite_kernel(K, sx, sz, weighted=True)


def kernel_predict(kernel, Z, n_fit, coef, name=None):
    """``kernel(Z) @ coef`` for new rows Z, in blocks of rows: the (m, n_fit) kernel of
    a prediction is never formed whole (a million new rows against 5000 training rows
    would be 40 GB).

    Parameters
    ----------
    kernel : callable
        ``kernel(Z_block)`` returns the (rows, n_fit) kernel between a block of Z's
        rows and the training rows.
    Z : ndarray of shape (m, d)
    n_fit : int
        Number of training rows.
    coef : ndarray of shape (n_fit,) or (n_fit, c)
        Dual coefficients.
    name : str, optional
        The estimator predicting: past a minute, a notice in its name says how
        many rows are done (:class:`fixntk._progress.LongRunNotice`; a million new
        rows against 2400 training rows ran minutes without a word, tester DZ).

    Returns
    -------
    ndarray of shape (m,) or (m, c)
    """
    from ._progress import LongRunNotice

    m = Z.shape[0]
    rows = max(1, _PREDICT_ENTRIES // max(int(n_fit), 1))
    out = np.empty((m,) + coef.shape[1:])
    done = [0]
    notice = LongRunNotice(
        name or "kernel_predict",
        0,
        f"its time grows with the {n_fit} training rows times the new rows; the "
        "gated estimators predict in time that grows with their active neurons",
    )
    with notice.during(
        lambda elapsed: (
            f"predict has run {elapsed:.0f} s and reached row {done[0]} of {m}; it "
            "goes on"
        )
    ):
        for start in range(0, m, rows):
            out[start : start + rows] = kernel(Z[start : start + rows]) @ coef
            done[0] = min(start + rows, m)
    return out
