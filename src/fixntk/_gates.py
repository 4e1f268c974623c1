"""Numba kernels for gates and masks: packing, hashing, deduplication.

Every kernel works on one gate (one row of the score matrix) at a time inside
``prange``, so its result does not depend on the number of threads.
"""

import numpy as np
from numba import njit, prange

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def n_words(n):
    """64-bit words needed to hold n mask bits."""
    return (n + 63) // 64


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, parallel=True)
def pack_scores(S, nwords):
    """Pack the masks 1[S[g, k] >= 0] of scores S (B, n) into words (B, nwords).

    Bit k of the mask is bit (k % 64) of word k // 64, so the little-endian byte view
    holds row k at bit (k % 8) of byte k // 8. Returns (words, hashes, popcounts).
    """
    B, n = S.shape
    words = np.zeros((B, nwords), np.uint64)
    hashes = np.empty(B, np.uint64)
    ones = np.empty(B, np.int64)
    for g in prange(B):
        h = np.uint64(nwords) * _GOLDEN
        cnt = 0
        for w in range(nwords):
            word = np.uint64(0)
            k0 = w * 64
            k1 = min(n, k0 + 64)
            for k in range(k0, k1):
                if S[g, k] >= 0.0:
                    word |= np.uint64(1) << np.uint64(k - k0)
                    cnt += 1
            words[g, w] = word
            h = _mix64(h ^ (word + _GOLDEN + np.uint64(w)))
        hashes[g] = h
        ones[g] = cnt
    return words, hashes, ones


@njit(cache=True, parallel=True)
def pack_bool_columns(masks, nwords):
    """Pack a boolean (n, p) mask matrix column by column into words (p, nwords)."""
    n, p = masks.shape
    words = np.zeros((p, nwords), np.uint64)
    for i in prange(p):
        for k in range(n):
            if masks[k, i]:
                words[i, k // 64] |= np.uint64(1) << np.uint64(k % 64)
    return words


@njit(cache=True, parallel=True)
def hash_words(words):
    """Hashes of packed masks (rows of words), as computed by pack_scores."""
    B, nwords = words.shape
    hashes = np.empty(B, np.uint64)
    for g in prange(B):
        h = np.uint64(nwords) * _GOLDEN
        for w in range(nwords):
            h = _mix64(h ^ (words[g, w] + _GOLDEN + np.uint64(w)))
        hashes[g] = h
    return hashes


@njit(cache=True, parallel=True)
def pack_screen(S, H, tie):
    """Pack the signs of scores S (B, m <= 64) into one word per direction, and flag the
    directions with a score within ``tie * ||H[g]||`` of zero (its sign may round
    differently in another product). Returns (words, flags)."""
    B, m = S.shape
    words = np.empty(B, np.uint64)
    near = np.empty(B, np.bool_)
    for g in prange(B):
        hn = 0.0
        for k in range(H.shape[1]):
            hn += H[g, k] * H[g, k]
        limit = tie * np.sqrt(hn)
        word = np.uint64(0)
        flag = False
        for k in range(m):
            s = S[g, k]
            if s >= 0.0:
                word |= np.uint64(1) << np.uint64(k)
            if abs(s) <= limit:
                flag = True
        words[g] = word
        near[g] = flag
    return words, near
