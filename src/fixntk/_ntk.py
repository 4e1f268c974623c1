"""NTK weights: the Gaussian measure of each cell of the arrangement, by Monte Carlo.

Directions ``h ~ N(0, I)`` are drawn in blocks, each block from its own generator and
labelled by a Numba kernel without the GIL (:func:`fixntk._gates.direction_block`;
blocks run on as many threads as Numba has). A direction can only be in a known cell if
its signs on a fixed subset of 64 rows (spread over X) agree with those of a known
cell, and in more than a few dimensions almost no direction passes that test: so the
signs on the 64 rows are computed first (a 64-column product), and the full mask
``1[X h >= 0]`` only for the few directions that pass, then hashed and looked up among
the known cells. The counts are exactly those of computing every full mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike

from ._arrangement import Arrangement, as_arrangement, distinct_masks
from ._gates import (
    MISSING,
    ZERO,
    block_rng,
    direction_block,
    hash_words,
    seed_sequence,
    unit_rows_transposed,
)
from ._memory import CALL_WORK
from ._threads import run_blocks
from ._validation import check_int, check_X

__all__ = ["NTKWeights", "ntk_weights"]

DIRECTION_BLOCK = 8192  # directions per generator (fixed: the estimate depends on it)
_SUB_BLOCK = 1024  # directions drawn and screened at a time inside a block
_SCORES_PER_CHUNK = 1 << 18  # full-mask scores (directions x rows) per product
_ROUND = 16  # blocks per thread labelled before their counts are added up
_PREFIX = 64  # rows whose signs screen the directions (one packed word)
# The directions come from their own stream: with the same integer seed, the gates of
# sample_arrangement would otherwise be re-drawn and every known cell hit by
# construction.
_STREAM = 0x4E544B  # "NTK"


@dataclass(eq=False)  # arrays inside: == compared them elementwise and raised
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


def _bits_at(words, rows):
    """Bits ``rows`` of packed masks ``words`` (m, nwords), packed into one word
    each."""
    rows = np.asarray(rows, np.int64)
    bits = (words[:, rows // 64] >> (rows % 64).astype(np.uint64)) & np.uint64(1)
    return (bits << np.arange(len(rows), dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


def screening_rows(n):
    """The (at most 64) rows, spread over X, whose signs screen the directions."""
    m = min(_PREFIX, n)
    return (np.arange(m) * n) // m


def screening_tie(Xp):
    """Screening scores within ``tie * ||h||`` of zero may round to the other sign in
    the full product: such directions are not screened out. (Row norms at unit
    scale: the squares of X's entries may leave double precision.)"""
    m = float(np.abs(Xp).max()) if Xp.size else 0.0
    if not m > 0:
        return 0.0
    return 1e-12 * m * float(np.sqrt(((Xp / m) ** 2).sum(axis=1)).max())


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
        Seed of the directions' generators (a stream of its own: the same seed as
        :func:`sample_arrangement` does not re-draw its gates). Directions
        ``8192 j .. 8192 j + 8191`` are ``default_rng(SeedSequence(seed,
        spawn_key=(0x4E544B, j))).standard_normal((8192, d))`` (the last block
        shorter), so the estimate depends only on the seed and ``n_samples``, not on
        the number of threads. (The estimate of a seed changed once, when the draws
        moved into the parallel kernels: they used to be one stream.)

    Returns
    -------
    NTKWeights

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, or
        ``n_samples < 1``.
    """
    X = check_X(X)
    n, d = X.shape
    arr = as_arrangement(arr, n, X)
    n_samples = check_int(n_samples, "n_samples", 1)
    root = seed_sequence(seed)
    # masks depend on signs only: every row at its own unit scale (exact), so that
    # norms below neither over- nor underflow and no row, however small next to
    # the others, becomes 0 (a global scale 1e-350 times a row's turned its signs
    # into 1[0 >= 0])
    XT = unit_rows_transposed(X)

    hashes = hash_words(arr.words)
    cell, first = distinct_masks(arr.words, hashes)  # column -> cell
    # (no copy when every mask is distinct, the usual case)
    cell_words = arr.words if len(first) == len(cell) else arr.words[first]
    n_cells = len(first)
    cell_hashes = hashes[first]
    by_hash = np.argsort(cell_hashes, kind="stable")
    rows = screening_rows(n)
    prefixes = np.unique(_bits_at(cell_words, rows))
    XpT = np.ascontiguousarray(XT[:, rows])
    tie = screening_tie(XpT.T)
    chunk = max(1, _SCORES_PER_CHUNK // n)
    tables = (cell_hashes[by_hash], by_hash, cell_words)
    # a block's directions in calls of whole sub-blocks, about CALL_WORK multiply-adds
    # of screening each, so that Ctrl-C stops the threads within one call (the same
    # draws: each block's generator carries on from call to call)
    part = _SUB_BLOCK * max(
        1, min(DIRECTION_BLOCK // _SUB_BLOCK, CALL_WORK // (_SUB_BLOCK * d * len(rows)))
    )

    def label_blocks(r0, r1):
        """Labels (a cell, ZERO or MISSING) of the directions of blocks r0 .. r1 - 1."""
        start = r0 * DIRECTION_BLOCK
        labels = np.empty(min(n_samples, r1 * DIRECTION_BLOCK) - start, np.int64)
        rngs = {}

        def block(i, q):
            s0 = (r0 + i) * DIRECTION_BLOCK
            s1 = min(n_samples, s0 + DIRECTION_BLOCK)
            p0 = s0 + q * part
            if p0 >= s1:
                return
            if q == 0:
                rngs[i] = block_rng(root, _STREAM, r0 + i)
            p1 = min(s1, p0 + part)
            out = labels[p0 - start : p1 - start]
            direction_block(
                rngs[i],
                p1 - p0,
                _SUB_BLOCK,
                XpT,
                tie,
                prefixes,
                XT,
                chunk,
                *tables,
                out,
            )
            if p1 == s1:
                del rngs[i]

        run_blocks(block, r1 - r0, parts=-(-DIRECTION_BLOCK // part))
        return labels

    # counts[label + 2]: MISSING, ZERO, then the hits of each cell
    counts = np.zeros(n_cells + 2, np.int64)
    n_blocks = -(-n_samples // DIRECTION_BLOCK)
    per_round = _ROUND * numba.get_num_threads()  # labels: 1 MiB per thread
    for r0 in range(0, n_blocks, per_round):
        labels = label_blocks(r0, min(n_blocks, r0 + per_round))
        counts += np.bincount(labels + 2, minlength=n_cells + 2)
    return weights_from_counts(counts, cell, n_samples, seed)


def weights_from_counts(counts, cell, n_samples, seed):
    """The NTKWeights of the label counts ``counts[label + 2]`` (MISSING, ZERO, then
    the hits of each distinct cell) of ``n_samples`` directions; ``cell`` (p,) maps
    each mask of the arrangement to its cell."""
    n_cells = counts.size - 2
    n_missing, n_zero, hits = counts[MISSING + 2], counts[ZERO + 2], counts[2:]
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
