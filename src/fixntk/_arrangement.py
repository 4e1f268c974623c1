"""Hyperplane arrangements: Gaussian gates, their masks, duplicates merged by hash."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._gates import n_words, pack_bool_columns, pack_scores
from ._memory import check_fits
from ._validation import check_int, check_X

__all__ = ["Arrangement", "sample_arrangement", "as_arrangement"]

_BATCH_CELLS = 1 << 24  # scores computed per batch (n * gates), 128 MB of float64


class MaskIndex:
    """Lookup table from packed masks (rows of uint64 words) to their index.

    Hashes select candidates, and every hit is confirmed by comparing the words, so a
    hash collision can never merge two different masks.
    """

    def __init__(self, nwords):
        self.nwords = nwords
        self._by_hash = {}
        self._rows = []

    def __len__(self):
        return len(self._rows)

    def words(self):
        if not self._rows:
            return np.zeros((0, self.nwords), np.uint64)
        return np.vstack(self._rows)

    def lookup(self, words, hashes, add):
        """Index of each row of `words`; unknown rows are added (add=True) or get -1."""
        out = np.full(len(hashes), -1, np.int64)
        uniq, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        by_group = np.argsort(inverse, kind="stable")
        starts = np.concatenate(
            ([0], np.cumsum(np.bincount(inverse, minlength=len(uniq))))
        )
        # New masks get indices in the order they first occur.
        for u in np.argsort(first, kind="stable").tolist():
            h, f = int(uniq[u]), int(first[u])
            idx = self._find_or_add(h, words[f], add)
            members = by_group[starts[u] : starts[u + 1]]
            same = np.all(words[members] == words[f], axis=1)
            out[members[same]] = idx
            for j in members[~same].tolist():  # a true 64-bit hash collision
                out[j] = self._find_or_add(h, words[j], add)
        return out

    def _find_or_add(self, h, row, add):
        bucket = self._by_hash.get(h)
        if bucket is not None:
            for idx in bucket:
                if np.array_equal(self._rows[idx][0], row):
                    return idx
        if not add:
            return -1
        idx = len(self._rows)
        self._rows.append(row[None, :].copy())
        self._by_hash.setdefault(h, []).append(idx)
        return idx


class Arrangement:
    """A set of distinct gate masks on the rows of X (cells of a hyperplane
    arrangement).

    Attributes
    ----------
    gates : ndarray of shape (p, d) or None
        One representative gate per mask (the first one sampled); None for masks that
        were given directly.
    masks : ndarray of shape (n, p), bool
        ``masks[k, i] = 1[x_k^T g_i >= 0]``; unpacked on access from the packed store.
    counts : ndarray of shape (p,)
        How many sampled gates produced each mask.
    n_gates : int
        Gates sampled in total (including those with the all-zero mask, which is
        dropped).
    """

    def __init__(self, words, n, gates=None, counts=None, n_gates=None):
        words = np.ascontiguousarray(words, dtype=np.uint64)
        if words.ndim != 2 or words.shape[1] != n_words(n):
            raise ValueError("packed masks must have shape (p, ceil(n / 64))")
        self._words = words
        self.n = int(n)
        self.gates = None if gates is None else np.ascontiguousarray(gates, np.float64)
        p = words.shape[0]
        self.counts = np.ones(p, np.int64) if counts is None else np.asarray(counts)
        self.n_gates = int(self.counts.sum()) if n_gates is None else int(n_gates)

    @classmethod
    def from_masks(cls, masks, n=None):
        """Arrangement from a boolean (n, p) mask matrix the user built."""
        arr = np.asarray(masks)
        if arr.ndim != 2:
            raise ValueError(f"masks must be a 2-d (n, p) array; got shape {arr.shape}")
        if arr.dtype != np.bool_:
            if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
                raise ValueError(
                    "masks must be boolean, or numbers that are all 0 or 1"
                )
            arr = arr.astype(bool)
        if n is not None and arr.shape[0] != n:
            raise ValueError(
                f"masks have {arr.shape[0]} rows but X has {n} samples: they must match"
            )
        if arr.shape[1] == 0:
            raise ValueError(
                "masks has no columns (p = 0): at least one group is needed"
            )
        words = pack_bool_columns(np.ascontiguousarray(arr), n_words(arr.shape[0]))
        return cls(words, arr.shape[0])

    @property
    def p(self):
        return self._words.shape[0]

    def __len__(self):
        return self.p

    @property
    def words(self):
        """Packed masks, shape (p, ceil(n / 64)), uint64."""
        return self._words

    @property
    def packed(self):
        """Packed masks as bytes, shape (p, 8 * ceil(n / 64)), row k at bit k % 8 of
        byte k // 8 (the layout the compiled core reads)."""
        return self._words.view(np.uint8)

    @property
    def masks(self):
        bits = np.unpackbits(self.packed, axis=1, count=self.n, bitorder="little")
        return bits.T.astype(bool)

    def apply(self, X_new):
        """Masks of the stored gates on new data: ``1[X_new g_i >= 0]``, shape
        (m, p)."""
        if self.gates is None:
            raise ValueError(
                "this arrangement was built from masks, not gates: it cannot be "
                "applied to new data"
            )
        X_new = check_X(X_new, "X_new")
        if X_new.shape[1] != self.gates.shape[1]:
            raise ValueError(
                f"X_new has {X_new.shape[1]} features; "
                f"the gates have {self.gates.shape[1]}"
            )
        return X_new @ self.gates.T >= 0

    def __repr__(self):
        src = "sampled gates" if self.gates is not None else "given masks"
        return f"Arrangement(n={self.n}, p={self.p}, {src}, n_gates={self.n_gates})"


def sample_arrangement(X: ArrayLike, n_gates: int, seed: int | None = 0) -> Arrangement:
    """Sample Gaussian gates and return the distinct masks they induce on the rows of X.

    Gates ``g ~ N(0, I_d)`` give masks ``m(g) = 1[X g >= 0]``. Masks are packed into
    bits, hashed in parallel (Numba) and merged; the all-zero mask is dropped. The
    result depends only on ``seed``, not on the number of threads.

    Parameters
    ----------
    X : array-like of shape (n, d)
    n_gates : int
        Number of gates to sample (>= 1). The number p of distinct masks is at most
        this.
    seed : int or None
        Seed of the NumPy generator that draws the gates.

    Returns
    -------
    Arrangement
    """
    X = check_X(X)
    n_gates = check_int(n_gates, "n_gates", 1)
    n, d = X.shape
    nwords = n_words(n)
    # gates drawn, their packed masks, and one batch of scores
    check_fits(
        n_gates * (d * 8 + nwords * 8 + 16) + 2 * _BATCH_CELLS * 8, "sample_arrangement"
    )
    rng = np.random.default_rng(seed)
    index = MaskIndex(nwords)
    counts, reps = [], []
    batch = max(1, min(n_gates, _BATCH_CELLS // max(n, 1)))
    done = 0
    while done < n_gates:
        b = min(batch, n_gates - done)
        G = rng.standard_normal((b, d))
        words, hashes, ones = pack_scores(G @ X.T, nwords)
        keep = np.flatnonzero(ones > 0)
        before = len(index)
        ids = index.lookup(words[keep], hashes[keep], add=True)
        counts.extend([0] * (len(index) - before))
        for j, i in zip(keep.tolist(), ids.tolist()):
            if i == len(reps):
                reps.append(G[j])
            counts[i] += 1
        done += b
    if len(index) == 0:
        raise ValueError(
            "every sampled gate gave the all-zero mask (X may be all zeros with no "
            "positive scores); no groups to build"
        )
    return Arrangement(
        index.words(),
        n,
        gates=np.array(reps),
        counts=np.array(counts, np.int64),
        n_gates=n_gates,
    )


def as_arrangement(arr, n):
    """Accept an Arrangement or an (n, p) boolean mask array; check it matches n
    rows."""
    if isinstance(arr, Arrangement):
        if arr.n != n:
            raise ValueError(
                f"the arrangement was built on {arr.n} samples but X has {n}: "
                "they must match"
            )
        return arr
    if arr is None:
        raise ValueError("arr must be an Arrangement or an (n, p) boolean mask array")
    return Arrangement.from_masks(arr, n=n)
