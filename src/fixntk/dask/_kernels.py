"""Numba kernels run on one row chunk: sign patterns of many vectors, two hashes each,
and the chunk-wise comparisons that confirm (or split) what the hashes grouped.

A chunk's pattern of a vector ``g`` is ``1[X_k g >= 0]`` over the chunk's rows, packed
as :func:`fixntk._gates._pack_row` packs a whole mask (bit ``r`` of the chunk at bit
``r % 64`` of word ``r // 64``). Two independent 64-bit hashes of it are keyed by the
chunk's position and summed over the chunks (wrapping, so any tree of partial sums gives
the same total): equal masks give equal sums, different masks different sums but for
a chance of about 2^-128, and the caller checks every group chunk by chunk anyway.
The kernels are serial (``nogil``): Dask runs the chunks in parallel.
"""

import numpy as np
from numba import njit

from .._gates import _hash_row, _mix64, screen

_SEED2 = np.uint64(0xD1B54A32D192ED03)  # the second hash's seed
_SEED2_WORD = np.uint64(0x8CB92BA72F3D8DD7)
_CHUNK_KEY = np.uint64(0x632BE59BD9B4E019)  # keys of the chunk positions
_VECTORS = 512  # vectors per product
_SCORES = 1 << 17  # scores per product (1 MiB: packed while in cache)


@njit(cache=True, inline="always")
def _hash_row2(words):
    """A second hash of a packed pattern, independent of ``_hash_row`` (other seeds)."""
    nwords = words.shape[0]
    h = np.uint64(nwords) * _SEED2
    for w in range(nwords):
        h = _mix64(h ^ ((words[w] ^ _SEED2_WORD) + np.uint64(w)))
    return h


@njit(cache=True, nogil=True)
def chunk_patterns(V, X, position, words, h1, h2, nonzero):
    """Patterns of the vectors V (m, d) on the chunk's rows X (n_k, d).

    Writes words (m, ceil(n_k / 64)), the keyed hashes h1, h2 (m,) of this chunk at
    ``position`` (summed over the chunks by the caller) and nonzero (m,), whether any
    bit is set. Scores are formed by BLAS, ``_VECTORS`` vectors by a multiple of 64
    rows at a time (about ``_SCORES`` of them, so that they are still in cache when
    they are packed), and packed 64 rows to a word.
    """
    m = V.shape[0]
    n = X.shape[0]
    for g0 in range(0, m, _VECTORS):
        g1 = min(m, g0 + _VECTORS)
        Vb = np.ascontiguousarray(V[g0:g1])
        step = max(64, (_SCORES // (g1 - g0)) // 64 * 64)
        for r0 in range(0, n, step):
            r1 = min(n, r0 + step)
            S = np.dot(Vb, np.ascontiguousarray(X[r0:r1].T))
            for g in range(g1 - g0):
                for k0 in range(0, r1 - r0, 64):
                    word = np.uint64(0)
                    for k in range(k0, min(r1 - r0, k0 + 64)):
                        word |= np.uint64(S[g, k] >= 0.0) << np.uint64(k - k0)
                    words[g0 + g, (r0 + k0) // 64] = word
    keyed_hashes(words, position, h1, h2, nonzero)


@njit(cache=True, nogil=True)
def keyed_hashes(words, position, h1, h2, nonzero):
    """The two hashes of each chunk pattern words[g] (m, nwords) keyed by the chunk's
    position, into h1, h2 (m,), and nonzero (m,): whether any bit is set."""
    key1 = _mix64(np.uint64(position) * _CHUNK_KEY + np.uint64(1))
    key2 = _mix64(np.uint64(position) * _CHUNK_KEY + np.uint64(2))
    for g in range(words.shape[0]):
        h1[g] = _mix64(_hash_row(words[g]) ^ key1)
        h2[g] = _mix64(_hash_row2(words[g]) ^ key2)
        any_set = np.uint64(0)
        for w in range(words.shape[1]):
            any_set |= words[g, w]
        nonzero[g] = any_set != 0


@njit(cache=True, nogil=True)
def differ_from(words, members, reps):
    """For each pair (members[t], reps[t]): whether their chunk patterns differ."""
    out = np.zeros(members.shape[0], np.bool_)
    for t in range(members.shape[0]):
        a, b = members[t], reps[t]
        for w in range(words.shape[1]):
            if words[a, w] != words[b, w]:
                out[t] = True
                break
    return out


@njit(cache=True, nogil=True)
def match_cells(words, cells, candidates):
    """For each (direction t, cell candidates[t] >= 0): whether the direction's chunk
    pattern words[t] equals the cell's, cells[candidates[t]]; False where no cell."""
    out = np.zeros(words.shape[0], np.bool_)
    for t in range(words.shape[0]):
        c = candidates[t]
        if c < 0:
            continue
        same = True
        for w in range(words.shape[1]):
            if words[t, w] != cells[c, w]:
                same = False
                break
        out[t] = same
    return out


@njit(cache=True, nogil=True)
def screen_block(H, sub, XpT, tie, prefixes):
    """Indices of the directions H (b, d) that may lie in a known cell, screened ``sub``
    at a time as :func:`fixntk._gates.direction_block` screens them (``XpT`` the
    screening rows' transpose, ``prefixes`` the known cells' sorted patterns there)."""
    b = H.shape[0]
    out = np.empty(b, np.int64)
    cand = np.empty(min(b, sub), np.int64)
    total = 0
    for s0 in range(0, b, sub):
        s1 = min(b, s0 + sub)
        Hs = np.ascontiguousarray(H[s0:s1])
        nc = screen(Hs, np.dot(Hs, XpT), tie, prefixes, cand)
        for i in range(nc):
            out[total + i] = s0 + cand[i]
        total += nc
    return out[:total]
