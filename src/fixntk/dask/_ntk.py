"""NTK weights of an arrangement on a Dask array's rows: the directions of
:func:`fixntk.ntk_weights` drawn and screened on the client, their sign patterns
hashed chunk by chunk on the workers, the summed hashes matched against the
arrangement's cells on the client and every match confirmed chunk by chunk."""

from __future__ import annotations

import dask
import numpy as np

from .._gates import MISSING, ZERO, block_rng, n_words, seed_sequence
from .._ntk import (
    _STREAM,
    _SUB_BLOCK,
    DIRECTION_BLOCK,
    _bits_at,
    screening_rows,
    screening_tie,
    weights_from_counts,
)
from .._threads import one_thread
from .._validation import check_int
from . import _chunks, _kernels
from ._arrangement import (
    _first_order,
    _identities,
    _identity,
    _patterns,
    as_dask_arrangement,
    confirm_groups,
)
from ._chunks import as_rows, chunk_tasks, run, tree_reduce, tree_sum

__all__ = ["ntk_weights"]

_BATCH_BYTES = 1 << 22  # candidate directions sent to the workers at a time (4 MiB)
_WORD_BYTES = 1 << 24  # packed patterns a chunk forms at a time (16 MiB)
_KEEP_BYTES = 1 << 28  # a batch's patterns the workers may keep, all chunks (256 MiB)


def _keys(h1, h2):
    """The identities matched on the client (the summed hashes; a seam for tests)."""
    return h1, h2


# ---- tasks run on one chunk


def _cells_part(packed, position):
    """A chunk's packed masks as (words, h1, h2, nonzero, finite), the layout of the
    arrangement's chunk parts."""
    words = np.ascontiguousarray(packed).view(np.uint64)
    m = words.shape[0]
    h1, h2 = np.empty(m, np.uint64), np.empty(m, np.uint64)
    nonzero = np.empty(m, np.bool_)
    _kernels.keyed_hashes(words, position, h1, h2, nonzero)
    return words, h1, h2, nonzero, True


def _screening_part(X, cells, local, shift):
    """A chunk's share of the screening: its screening rows of X, the cells' bits
    there (at bits ``shift ..`` of one word per mask) and whether X is finite."""
    bits = _bits_at(cells[0], local) << np.uint64(shift)
    return np.asarray(X)[local], bits, int(not np.isfinite(X).all())


def _join(a, b):
    return np.vstack([a[0], b[0]]), a[1] | b[1], a[2] + b[2]


def _direction_step(n_rows):
    return int(max(1, min(512, _WORD_BYTES // (8 * n_words(n_rows)))))


def _patterns_by_step(X, H, position):
    """(t0, t1, words) of the directions H's chunk patterns, a bounded block at a
    time, with their keyed hashes and nonzero flags written to h1, h2, nonzero."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    m = H.shape[0]
    h1, h2 = np.empty(m, np.uint64), np.empty(m, np.uint64)
    nonzero = np.empty(m, np.bool_)
    step = _direction_step(X.shape[0])
    words = np.empty((min(step, m), n_words(X.shape[0])), np.uint64)
    for t0 in range(0, m, step):
        t1 = min(m, t0 + step)
        w = words[: t1 - t0]
        _kernels.chunk_patterns(
            np.ascontiguousarray(H[t0:t1]),
            X,
            position,
            w,
            h1[t0:t1],
            h2[t0:t1],
            nonzero[t0:t1],
        )
        yield t0, t1, w
    yield None, None, (h1, h2, nonzero)


def _direction_hashes(X, H, position):
    """The keyed hashes of the directions' chunk patterns and their nonzero flags."""
    with one_thread():
        for t0, _, w in _patterns_by_step(X, H, position):
            if t0 is None:
                h1, h2, nonzero = w
    return h1, h2, nonzero.astype(np.int64)


def _matches(X, H, position, packed, cells):
    """Whether each direction's chunk pattern equals that of its candidate mask
    (a column of the arrangement, ``cells[t]``)."""
    cell_words = np.ascontiguousarray(packed).view(np.uint64)
    out = np.empty(H.shape[0], np.bool_)
    with one_thread():
        for t0, t1, w in _patterns_by_step(X, H, position):
            if t0 is not None:
                out[t0:t1] = _kernels.match_cells(w, cell_words, cells[t0:t1])
    return out


def _direction_part(X, H, position):
    """The directions' chunk patterns, kept on the worker: (words, h1, h2,
    nonzero), as the arrangement's gates get them."""
    return _patterns(X, H, position)[:4]


def _part_hashes(part):
    _, h1, h2, nonzero = part
    return h1, h2, nonzero.astype(np.int64)


def _kept_matches(part, todo, packed, cells):
    """:func:`_matches` from the kept patterns of the directions ``todo``."""
    cell_words = np.ascontiguousarray(packed).view(np.uint64)
    return _kernels.match_cells(np.ascontiguousarray(part[0][todo]), cell_words, cells)


def _and(a, b):
    return a & b


# ---- the client


class _Cells:
    """The arrangement's distinct masks (cells) on the workers and what the client
    needs to label directions: each cell's summed-hash identity, its representative
    column, the screening rows and prefixes."""

    def __init__(self, X, arr):
        self.xs = chunk_tasks(X)
        self.words = sum(n_words(r) for r in X.chunks[0])  # per direction
        self.packed = arr.packed
        parts = _chunks.persist(
            *[
                dask.delayed(_cells_part, pure=True)(pk, k)
                for k, pk in enumerate(self.packed)
            ]
        )
        rows = screening_rows(X.shape[0])
        bounds = np.cumsum((0,) + tuple(X.chunks[0]))
        screening = []
        for k, (x, part) in enumerate(zip(self.xs, parts)):
            lo, hi = np.searchsorted(rows, bounds[k : k + 2])
            screening.append(
                dask.delayed(_screening_part, pure=True)(
                    x, part, rows[lo:hi] - bounds[k], lo
                )
            )
        ident = tree_sum([dask.delayed(_identity, pure=True)(pk) for pk in parts])
        (h1, h2, _, _), (Xp, bits, bad) = _chunks.compute(
            ident, tree_reduce(screening, _join)
        )
        if bad:
            raise ValueError(f"X contains NaN or infinity (in {bad} of its row chunks)")
        p = arr.p
        ids, first = _first_order(_identities(*_keys(h1, h2)))
        ids, first, _ = confirm_groups(parts, np.arange(p), ids, first)
        self.cell, self.first = ids, first  # column -> cell, cell -> a column
        self.n_cells = first.size
        k1, k2 = _keys(h1[first], h2[first])
        self.keys = np.stack([k1, k2], axis=1)
        self.XpT = np.ascontiguousarray(Xp.T)
        self.tie = screening_tie(Xp)
        self.prefixes = np.unique(bits)

    def label(self, H):
        """Labels (a cell, ZERO or MISSING) of the directions H (m, d): one pass for
        their hashes, one to confirm the matches, one more per round of collisions.
        When the directions' patterns, all chunks together, fit ``_KEEP_BYTES`` they
        stay on the workers from the first pass and the confirmations read them (no
        pass over X); otherwise each confirmation forms them again."""
        Hd = dask.delayed(H, pure=True)
        keep = H.shape[0] * 8 * self.words <= _KEEP_BYTES
        if keep:
            kept = _chunks.persist(
                *[
                    dask.delayed(_direction_part, pure=True)(x, Hd, k)
                    for k, x in enumerate(self.xs)
                ]
            )
            parts = [dask.delayed(_part_hashes, pure=True)(pk) for pk in kept]
        else:
            parts = [
                dask.delayed(_direction_hashes, pure=True)(x, Hd, k)
                for k, x in enumerate(self.xs)
            ]
        h1, h2, nonzero = run(tree_sum(parts))
        k1, k2 = _keys(h1, h2)
        keys = np.vstack([self.keys, np.stack([k1, k2], axis=1)])
        ident = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        of_cell, of_dir = ident[: self.n_cells], ident[self.n_cells :]
        order = np.argsort(of_cell, kind="stable")  # cells grouped by identity
        try_at = np.searchsorted(of_cell[order], of_dir, side="left")
        end = np.searchsorted(of_cell[order], of_dir, side="right")
        labels = np.where(nonzero > 0, MISSING, ZERO).astype(np.int64)
        todo = np.flatnonzero(try_at < end)
        while todo.size:
            cells = order[try_at[todo]]
            cols = self.first[cells]
            if keep:
                checks = [
                    dask.delayed(_kept_matches, pure=True)(part, todo, pk, cols)
                    for part, pk in zip(kept, self.packed)
                ]
            else:
                Ht = dask.delayed(np.ascontiguousarray(H[todo]), pure=True)
                checks = [
                    dask.delayed(_matches, pure=True)(x, Ht, k, pk, cols)
                    for k, (x, pk) in enumerate(zip(self.xs, self.packed))
                ]
            same = run(tree_reduce(checks, _and))
            labels[todo[same]] = cells[same]
            todo = todo[~same]
            try_at[todo] += 1
            todo = todo[try_at[todo] < end[todo]]
        return labels


def _directions(root, n_samples, d):
    """The directions of :func:`fixntk.ntk_weights`, block by block (the same
    generators: block j from ``block_rng(root, _STREAM, j)``)."""
    for j in range(-(-n_samples // DIRECTION_BLOCK)):
        b = min(DIRECTION_BLOCK, n_samples - j * DIRECTION_BLOCK)
        yield block_rng(root, _STREAM, j).standard_normal((b, d))


def ntk_weights(X, arr, n_samples=10**6, seed=0):
    r"""Monte Carlo estimate of the NTK weights of an arrangement, on Dask: the value
    of :func:`fixntk.ntk_weights` (same seed, same directions, same result) with X and
    the masks staying on the workers.

    .. math::

        \tilde\eta_i = P_{h \sim N(0, I_d)}\big[1[X h \ge 0] = m_i\big],

    estimated by the fraction of ``n_samples`` Gaussian directions whose mask is
    :math:`m_i`. The directions are drawn on the client from the streams of
    :func:`fixntk.ntk_weights` and screened there by their signs on at most 64 rows
    spread over X (the only rows the client sees); the full masks of the directions
    that pass are never formed: each row chunk hashes its part of them (two 64-bit
    hashes keyed by the chunk's position, as :func:`sample_arrangement` does), the
    hashes add up over the chunks in a fixed tree to a 128-bit identity of each
    direction's mask, and identities equal to one of the arrangement's cells (found
    the same way) are confirmed chunk by chunk against the cell's mask
    (``_kernels.match_cells``): a collision sends the direction on to the next cell
    with that identity, or out of the arrangement, so no direction is counted in a
    cell it is not in.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n, d)
        Chunked by rows (a chunking across the columns is merged).
    arr : DaskArrangement, Arrangement or bool array of shape (n, p)
        Re-packed by X's row chunks when its own differ.
    n_samples : int, default=10**6
        Gaussian directions to draw.
    seed : int or None, default=0
        Seed of the directions (the streams of :func:`fixntk.ntk_weights`).

    Returns
    -------
    NTKWeights
        As :func:`fixntk.ntk_weights`. Passes: one over X and the packed masks (the
        cells' hashes, the screening rows), one over the packed masks (the cells
        confirmed distinct), then for each batch of screened directions (4 MiB of
        them: usually all, in more than a few dimensions) one over X for their
        hashes and one to confirm the matches -- over the patterns kept on the
        workers when they fit 256 MiB (all chunks), else over X again --, and one more
        per round of hash collisions.

    Raises
    ------
    ValueError
        For NaN or infinity in X, shapes that do not match, ``n_samples < 1``.
    """
    X = as_rows(X)
    n_samples = check_int(n_samples, "n_samples", 1)
    root = seed_sequence(seed)
    arr = as_dask_arrangement(arr, X)
    cells = _Cells(X, arr)
    d = X.shape[1]
    batch = max(DIRECTION_BLOCK, _BATCH_BYTES // (8 * d))
    counts = np.zeros(cells.n_cells + 2, np.int64)
    pending, n_pending = [], 0
    blocks = _directions(root, n_samples, d)
    for j, H in enumerate(blocks, start=1):
        keep = _kernels.screen_block(
            H, _SUB_BLOCK, cells.XpT, cells.tie, cells.prefixes
        )
        counts[MISSING + 2] += H.shape[0] - keep.size
        pending.append(H[keep])
        n_pending += keep.size
        last = j * DIRECTION_BLOCK >= n_samples
        if n_pending and (n_pending >= batch or last):
            labels = cells.label(np.vstack(pending))
            counts += np.bincount(labels + 2, minlength=cells.n_cells + 2)
            pending, n_pending = [], 0
    return weights_from_counts(counts, cells.cell, n_samples, seed)
