"""Kernel ridge systems that stay right as the regularisation goes to zero.

Every kernel ridge solve of fixntk, :math:`(K + \\mu I)\\, a = y` with :math:`K`
symmetric positive semi-definite (a kernel matrix on the training points, or the
masked Gram matrix of the primal form), goes through :class:`PSDRidge`. A
well-conditioned system is solved with a Cholesky factor (LAPACK ``potrf``; its
reciprocal condition number estimated by ``pocon``). Otherwise :math:`K` is
diagonalised, :math:`K = U \\operatorname{diag}(\\mathrm{ev})\\, U^T` (LAPACK through
``numpy.linalg.eigh``, in a helper thread that Ctrl-C does not wait for), and the
eigenvalues below the round-off level of the matrix, :math:`n\\,\\epsilon \\max_j
|\\mathrm{ev}_j|` (the cutoff of ``scipy.linalg.pinvh``), count as exact zeros.

Then, as :math:`\\mu \\to 0`, the fitted values :math:`K a` tend to the least-squares
fit (the projection of y on the range of K that double precision resolves) and the
coefficients that predict new points, :meth:`PSDRidge.coef`, to the minimum-norm
least-squares solution :math:`K^+ y`: round-off in the unresolved directions is never
amplified by :math:`1/\\mu` (with the plain Cholesky solve, NTK kernel ridge on a
rank-2 kernel missed the exact answer by 0.64 max|y| at ``lam = 1e-14``).
"""

import ctypes
import functools

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from ._threads import interruptible

__all__ = ["PSDRidge", "psd_eigh", "resolved_spectrum"]

# Cholesky is kept while the estimated reciprocal condition number of K + mu I is at
# least this: its answers then lie within about eps / _RCOND (2e-9, relative) of the
# exact ridge's (measured: 7e-11 for mkl_objective at rcond 6e-8 on a rank-12 kernel of
# order 60, against 1.5e-12 for the eigendecomposition). The eigendecomposition, several
# times slower, is then spent only where it is needed: no system of IRLS, kare_mkl or
# the KARE-kernel estimators on the test problems (lam down to 1e-3 lam_max) needed it.
_RCOND = 1e-7


def resolved_spectrum(ev):
    """Eigenvalues of a PSD matrix with those below its round-off level set to zero.

    The level is ``n * eps * max|ev|`` (``scipy.linalg.pinvh``'s default cutoff):
    eigenvalues below it, negative ones included, are not determined by the matrix's
    entries in double precision.
    """
    ev = np.asarray(ev, dtype=np.float64)
    if ev.size == 0:
        return ev
    cut = ev.size * np.finfo(np.float64).eps * float(np.abs(ev).max())
    return np.where(ev > cut, ev, 0.0)


@functools.cache
def _lapack_triangular(name):
    """SciPy's LAPACK routine ``name`` (dpotrf, dpotri: ``(uplo, n, a, lda,
    info)``) as a ctypes function, which releases the GIL while it runs (SciPy's own
    wrappers hold it, and Ctrl-C waited for a whole n x n factorisation)."""
    from scipy.linalg import cython_lapack

    from ._cpu import capsule_address

    i = ctypes.POINTER(ctypes.c_int)
    kind = ctypes.CFUNCTYPE(None, ctypes.c_char_p, i, ctypes.c_void_p, i, i)
    return kind(capsule_address(cython_lapack, name))


def _triangular_in_place(name, A):
    """LAPACK ``name`` on the lower triangle of the square Fortran-ordered float64
    array A, in place, in a helper thread that Ctrl-C does not wait for
    (:func:`fixntk._threads.interruptible`); returns LAPACK's ``info``."""
    assert A.flags.f_contiguous and A.dtype == np.float64
    fn = _lapack_triangular(name)
    n, info = ctypes.c_int(A.shape[0]), ctypes.c_int(0)

    def call():
        fn(b"L", ctypes.byref(n), A.ctypes.data, ctypes.byref(n), ctypes.byref(info))
        return info.value

    return interruptible(call)


def psd_eigh(K):
    """``(ev, U)`` of a symmetric PSD matrix K, ev from :func:`resolved_spectrum`.

    NumPy's ``eigh`` (LAPACK's divide and conquer), which releases the GIL, run by
    :func:`fixntk._threads.interruptible`: Ctrl-C is not held up by an n x n kernel's
    decomposition (SciPy's ``eigh`` holds the GIL for the whole call)."""
    ev, U = interruptible(np.linalg.eigh, K)
    return resolved_spectrum(ev), U


class PSDRidge:
    """The ridge system :math:`(K + \\mu I)\\, a = y` of a symmetric PSD matrix K.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric positive semi-definite (not modified).
    mu : float > 0
        The ridge, ``n * lam`` for kernel ridge with the ``1/(2n)`` loss.
    eig : pair (ev, U), optional
        An eigendecomposition of K already at hand (from :func:`psd_eigh`); then no
        factorisation is made.
    rcond : float, optional
        The Cholesky factor is kept while the estimated reciprocal condition number of
        ``K + mu I`` is at least this (default 1e-7): its answers lie within
        about ``eps / rcond`` (relative) of the exact ridge's. A caller whose answers
        are certified independently (the reweighting's duality gap) may take a lower
        bound.

    Attributes
    ----------
    method : {"cholesky", "eigh"}
        How the system is solved.
    """

    def __init__(self, K, mu, eig=None, rcond=_RCOND):
        self.mu = float(mu)
        self._chol = None
        if eig is None:
            C = np.array(K, dtype=np.float64, order="F")
            C[np.diag_indices_from(C)] += self.mu
            anorm = float(np.abs(C).sum(axis=0).max())
            # the factor in C's lower triangle (its upper one is never read)
            info = _triangular_in_place("dpotrf", C)
            if info == 0:
                estimate, info = lapack.dpocon(C, anorm, uplo="L")
                if info == 0 and estimate >= rcond:
                    self._chol = C
            if self._chol is None:
                eig = psd_eigh(K)
        if self._chol is None:
            self.ev, self.U = eig
            self._range = self.ev > 0
        self.method = "cholesky" if self._chol is not None else "eigh"

    def solve(self, Y):
        """:math:`(K + \\mu I)^{-1} Y`, eigenvalues below the round-off level taken as
        zero (so its part outside the range of K is that of Y divided by mu)."""
        if self._chol is not None:
            return linalg.cho_solve((self._chol, True), Y, check_finite=False)
        return self.U @ (self._weights(self.U.T @ Y, self.ev + self.mu))

    def coef(self, Y):
        """The dual coefficients that predict: the part of :meth:`solve` in the range of
        K, so that ``k(x, X) @ coef`` does not amplify round-off by 1/mu. Equal to
        :meth:`solve` in exact arithmetic wherever it multiplies K, and in the
        Cholesky case."""
        if self._chol is not None:
            return self.solve(Y)
        U = self.U[:, self._range]
        return U @ self._weights(U.T @ Y, self.ev[self._range] + self.mu)

    def quad(self, Y):
        """``trace(Y^T (K + mu I)^{-1} Y)``, non-negative."""
        if self._chol is not None:
            return float((Y * self.solve(Y)).sum())
        UtY = self.U.T @ Y
        return float(self._weights(UtY**2, self.ev + self.mu).sum())

    def inverse(self):
        """:math:`(K + \\mu I)^{-1}` as a full symmetric matrix."""
        if self._chol is not None:
            Cinv = np.array(self._chol, order="F")
            info = _triangular_in_place("dpotri", Cinv)
            if info != 0:  # pragma: no cover - potrf succeeded
                raise linalg.LinAlgError(f"LAPACK dpotri failed (info = {info})")
            return np.tril(Cinv) + np.tril(Cinv, -1).T
        return (self.U / (self.ev + self.mu)) @ self.U.T

    @staticmethod
    def _weights(B, den):
        return B / (den[:, None] if B.ndim == 2 else den)
