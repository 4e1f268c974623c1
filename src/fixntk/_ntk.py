"""NTK weights: the Gaussian measure of each cell of the arrangement, by Monte Carlo.

Directions ``h ~ N(0, I)`` are drawn in batches. A direction can only be in a known
cell if its signs on a fixed subset of 64 rows (spread over X) agree with those of a
known cell, and in more than a few dimensions almost no direction passes that test: so
the signs on the 64 rows are computed first (a 64-column product), and the full mask
``1[X h >= 0]`` only for the few directions that pass. Masks are packed and hashed by
the Numba kernel of :mod:`fixntk._gates` (parallel, one direction per ``prange``
step), then looked up in the arrangement's hash table. The counts are exactly those of
computing every full mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._arrangement import Arrangement, MaskIndex, as_arrangement
from ._gates import hash_words, n_words, pack_scores, pack_screen
from ._validation import check_int, check_X

__all__ = ["NTKWeights", "ntk_weights"]

_BATCH_SCORES = 1 << 22  # scores per batch (directions * rows), 32 MB of float64
_PREFIX = 64  # rows whose signs screen the directions (one packed word)
# The directions come from their own stream: with the same integer seed, the gates of
# sample_arrangement would otherwise be re-drawn and every known cell hit by
# construction.
_STREAM = 0x4E544B  # "NTK"


@dataclass
class NTKWeights:
    """Result of :func:`ntk_weights`.

    Attributes
    ----------
    eta : ndarray of shape (p,)
        Estimated NTK weights :math:`\\tilde\\eta_i = P[h \\in K_i]` of the
        arrangement's masks (masks given twice share their cell's mass equally).
    stderr : ndarray of shape (p,)
        Monte Carlo standard error of each weight, ``sqrt(q (1 - q) / n_samples)``.
    missing_mass : float
        Estimated mass of the cells with a non-zero mask that are not in the
        arrangement: the part of the NTK that ``mkl_kernel(X, arr, eta)`` cannot
        represent.
    missing_stderr : float
        Its standard error.
    zero_mass : float
        Estimated mass of the all-zero mask (``X h < 0`` for every row) when the
        arrangement does not hold it; its masking kernel is zero, so it does not change
        the kernel. ``eta.sum() + missing_mass + zero_mass = 1``.
    n_samples : int
    seed : int or None
    """

    eta: np.ndarray
    stderr: np.ndarray
    missing_mass: float
    missing_stderr: float
    zero_mass: float
    n_samples: int
    seed: object

    @property
    def captured_mass(self):
        """Mass of the NTK held by the arrangement's cells, ``eta.sum()``."""
        return float(self.eta.sum())


def _direction_rng(seed):
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative integer or None; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {seed}")
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(_STREAM,))
    )


def _batches(total, batch):
    done = 0
    while done < total:
        b = min(batch, total - done)
        yield b
        done += b


def _bits_at(words, rows):
    """Bits ``rows`` of packed masks ``words`` (m, nwords), packed into one word
    each."""
    rows = np.asarray(rows, np.int64)
    bits = (words[:, rows // 64] >> (rows % 64).astype(np.uint64)) & np.uint64(1)
    return (bits << np.arange(len(rows), dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


class _FullMasks:
    """Counts full masks of directions into ``counts`` (known cells, zero, missing)."""

    def __init__(self, X, index, known_hashes, counts):
        self.XT = np.ascontiguousarray(X.T)
        self.index, self.known_hashes, self.counts = index, known_hashes, counts
        self.nwords = n_words(X.shape[0])

    def count(self, H):
        if len(H) == 0:
            return
        n_cells = len(self.counts) - 2
        words, hashes, ones = pack_scores(H @ self.XT, self.nwords)
        # Only directions whose hash is known can be in a known cell; lookup confirms.
        cand = np.flatnonzero(np.isin(hashes, self.known_hashes))
        ids = self.index.lookup(words[cand], hashes[cand], add=False)
        found = ids >= 0
        self.counts[:n_cells] += np.bincount(ids[found], minlength=n_cells)
        outside = np.ones(len(H), bool)
        outside[cand[found]] = False
        self.counts[-2] += int(np.count_nonzero(outside & (ones == 0)))
        self.counts[-1] += int(np.count_nonzero(outside & (ones > 0)))


def ntk_weights(
    X: ArrayLike,
    arr: Arrangement | ArrayLike,
    n_samples: int = 10**6,
    seed: int | None = 0,
) -> NTKWeights:
    r"""Monte Carlo estimate of the NTK weights of an arrangement.

    The infinite-width NTK of the gated ReLU network is the masking-kernel mixture
    :math:`H(\tilde\eta) = \sum_i \tilde\eta_i D_i X X^T D_i` with

    .. math::

        \tilde\eta_i = P_{h \sim N(0, I_d)}\big[1[X h \ge 0] = m_i\big],

    the solid angle of the cone of mask :math:`m_i`. Each weight is estimated by the
    fraction of ``n_samples`` Gaussian directions whose mask is :math:`m_i`; the
    fraction whose mask is not in ``arr`` is reported as ``missing_mass`` (not spread
    over the known cells). The weights depend on X only, never on the targets.

    For data in more than a few dimensions the cells are tiny and a few hundred sampled
    gates cover a negligible part of the sphere: then ``missing_mass`` is close to 1 and
    the finite-width NTK of the sampled gates, ``arr.counts / arr.n_gates``, is the
    better (unbiased) estimate of the NTK kernel.

    Parameters
    ----------
    X : array-like of shape (n, d)
    arr : Arrangement or bool array of shape (n, p)
    n_samples : int
        Gaussian directions to draw (standard errors shrink like ``1/sqrt(n_samples)``).
    seed : int or None
        Seed of the directions' generator (a stream of its own: the same seed as
        :func:`sample_arrangement` does not re-draw its gates). The estimate depends
        only on the seed, not on the number of threads.

    Returns
    -------
    NTKWeights
    """
    X = check_X(X)
    n, d = X.shape
    arr = as_arrangement(arr, n)
    n_samples = check_int(n_samples, "n_samples", 1)
    nwords = n_words(n)

    index = MaskIndex(nwords)
    cell = index.lookup(arr.words, hash_words(arr.words), add=True)  # column -> cell
    n_cells = len(index)
    known_hashes = np.unique(hash_words(index.words()))

    counts = np.zeros(n_cells + 2, np.int64)  # hits of each cell, zero mask, missing
    rng = _direction_rng(seed)
    if nwords == 1:  # a mask is one word: nothing to screen
        full = _FullMasks(X, index, known_hashes, counts)
        batch = max(1, min(n_samples, _BATCH_SCORES // n))
        for b in _batches(n_samples, batch):
            full.count(rng.standard_normal((b, d)))
    else:
        rows = (np.arange(_PREFIX) * n) // _PREFIX
        prefixes = np.unique(_bits_at(index.words(), rows))
        Xp = np.ascontiguousarray(X[rows])
        # scores this close to zero may round to the other sign in the full product:
        # such directions are not screened out
        tie = 1e-12 * float(np.sqrt((Xp**2).sum(axis=1)).max())
        full = _FullMasks(X, index, known_hashes, counts)
        batch = max(1, min(n_samples, _BATCH_SCORES // _PREFIX))
        for b in _batches(n_samples, batch):
            H = rng.standard_normal((b, d))
            w, near = pack_screen(H @ Xp.T, H, tie)
            # a known cell's prefix, or all negative so far (maybe the zero mask)
            screen = np.isin(w, prefixes) | (w == 0) | near
            counts[-1] += b - int(np.count_nonzero(screen))
            cand = H[screen]
            step = max(1, _BATCH_SCORES // n)
            for i in range(0, len(cand), step):
                full.count(cand[i : i + step])
    hits, n_zero, n_missing = counts[:n_cells], counts[-2], counts[-1]

    q = hits / n_samples
    # a mask given twice: its copies split the cell's mass
    share = np.bincount(cell, minlength=n_cells)[cell]
    eta = q[cell] / share
    stderr = np.sqrt(q * (1 - q) / n_samples)[cell] / share
    missing = n_missing / n_samples
    return NTKWeights(
        eta=eta,
        stderr=stderr,
        missing_mass=missing,
        missing_stderr=float(np.sqrt(missing * (1 - missing) / n_samples)),
        zero_mass=n_zero / n_samples,
        n_samples=n_samples,
        seed=seed,
    )
