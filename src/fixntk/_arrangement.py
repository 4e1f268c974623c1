"""Hyperplane arrangements: Gaussian gates, their masks, duplicates merged by hash."""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from ._gates import (
    NUMPY_WORK,
    block_rng,
    gate_block,
    hash_rows,
    n_words,
    pack_bool_columns,
    pack_rows,
    seed_sequence,
    unit_rows_transposed,
)
from ._memory import CALL_WORK, check_fits
from ._scale import row_units
from ._threads import blas_threads, run_blocks
from ._validation import _as_array, check_bool, check_int, check_X, user_stacklevel
from ._validation import warn as _warn

__all__ = ["Arrangement", "sample_arrangement", "as_arrangement"]

GATE_BLOCK = 64  # gates per generator (fixed: the gates depend on it)
GATE_STREAM = 0x47415445  # "GATE": the spawn key of the gates' generators
_SCORES_PER_CHUNK = 1 << 18  # scores (gates x rows) per product, 2 MiB per thread


def distinct_masks(words, hashes):
    """Merge equal packed masks.

    Parameters
    ----------
    words : ndarray of shape (m, nwords), uint64
        Packed masks, one per row.
    hashes : ndarray of shape (m,), uint64
        Their hashes (:func:`fixntk._gates.hash_words`).

    Returns
    -------
    ids : ndarray of shape (m,), int64
        The distinct mask of each row, numbered in the order of first occurrence.
    first : ndarray of shape (p,), int64
        The row where each distinct mask first occurs.

    Hashes group the rows and the words confirm every group: a 64-bit hash collision
    (two different masks, one hash) is detected and the rows are then merged by their
    words alone, so it can never merge two different masks.
    """
    if len(hashes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # only the rows merged into an earlier one need their words compared
    merged = np.flatnonzero(first[inverse] != np.arange(len(hashes)))
    if not np.array_equal(words[merged], words[first[inverse[merged]]]):
        _, first, inverse = np.unique(
            words, axis=0, return_index=True, return_inverse=True
        )
        inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse], first[order]


class Arrangement:
    """A set of distinct gate masks on the rows of X (cells of a hyperplane
    arrangement).

    Attributes
    ----------
    gates : ndarray of shape (p, d) or None
        One representative gate per mask (the first one sampled; the zero gate for the
        all-ones mask where :func:`sample_arrangement` added the linear group); None
        for masks that were given directly.
    masks : ndarray of shape (n, p), bool
        ``masks[k, i] = 1[x_k^T g_i >= 0]``; unpacked on access from the packed store.
    counts : ndarray of shape (p,)
        How many sampled gates produced each mask.
    n_gates : int
        Gates in total: those sampled (including those with the all-zero mask, which
        is dropped) and the zero gate of the linear group where it was added (so one
        more than the estimators' ``n_gates_`` with ``linear_group=True``).
    feature_names_in_ : ndarray of shape (d,) or None
        The column names of the data frame :func:`sample_arrangement` was given
        (strings), or None: :meth:`apply` refuses a frame whose columns differ.
    """

    feature_names_in_ = None

    def __init__(self, words, n, gates=None, counts=None, n_gates=None):
        given = np.asarray(words)
        if given.dtype.kind not in "ui":
            raise ValueError(
                f"packed masks must be unsigned 64-bit words (Arrangement.words); got "
                f"dtype {given.dtype}: Arrangement.from_masks takes boolean masks"
            )
        words = np.ascontiguousarray(given, dtype=np.uint64)
        if words.ndim != 2 or words.shape[1] != n_words(n):
            raise ValueError("packed masks must have shape (p, ceil(n / 64))")
        if n % 64 and words.size:
            # bits past row n in the last word are padding: set ones (~words, a
            # complement of every mask) made the compiled solver read rows past X's
            # end (LAPACK failures, run-to-run differences) and ntk_weights 0
            # (tester EF); they are cleared, on a copy
            keep = np.uint64((1 << (n % 64)) - 1)
            if np.any(words[:, -1] & ~keep):
                words = words.copy()
                words[:, -1] &= keep
        self._words = words
        self.n = int(n)
        self.gates = None if gates is None else np.ascontiguousarray(gates, np.float64)
        p = words.shape[0]
        shape = None if self.gates is None else self.gates.shape
        if shape is not None and (len(shape) != 2 or shape[0] != p):
            raise ValueError(
                f"gates must have shape (p, d) with p = {p} masks; got {shape}"
            )
        self.counts = np.ones(p, np.int64) if counts is None else np.asarray(counts)
        if self.counts.shape != (p,):
            raise ValueError(
                f"counts must have shape ({p},), one per mask; got {self.counts.shape}"
            )
        self.n_gates = int(self.counts.sum()) if n_gates is None else int(n_gates)

    @classmethod
    def from_masks(cls, masks, n=None):
        """Arrangement from a boolean (n, p) mask matrix the user built."""
        arr = _as_array(masks, "masks")
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
        names = self.feature_names_in_
        columns = getattr(X_new, "columns", None)
        if names is not None and columns is not None and list(columns) != list(names):
            # (reordered columns gave other masks, silently; tester FA)
            raise ValueError(
                "X_new's columns must be those the gates were sampled on, in the same "
                f"order: sampled on {list(names)}, got {list(columns)}"
            )
        X_new = check_X(X_new, "X_new")
        if X_new.shape[1] != self.gates.shape[1]:
            raise ValueError(
                f"X_new has {X_new.shape[1]} features; "
                f"the gates have {self.gates.shape[1]}"
            )
        # each row at its own unit scale (exact): signs survive any range of scales
        return (X_new / row_units(X_new)[:, None]) @ self.gates.T >= 0

    def __repr__(self):
        src = "sampled gates" if self.gates is not None else "given masks"
        return f"Arrangement(n={self.n}, p={self.p}, {src}, n_gates={self.n_gates})"


def sample_arrangement(
    X: ArrayLike, n_gates: int, seed: int | None = 0, *, linear_group: bool = False
) -> Arrangement:
    """Sample Gaussian gates and return the distinct masks they induce on the rows of X.

    Gates ``g ~ N(0, I_d)`` give masks ``m(g) = 1[X g >= 0]``. Masks are packed into
    bits, hashed and merged, in parallel (Numba, blocks of gates on as many threads as
    Numba has; up to 2^22 scores, NumPy in one product, with the same result); the
    all-zero mask is dropped. Masks are numbered in the order their
    first gate was drawn, and that gate represents them.

    The gates are drawn in blocks of 64: gates ``64 j .. 64 j + 63`` are
    ``default_rng(SeedSequence(seed, spawn_key=(0x47415445, j))).standard_normal(
    (64, d))`` (the last block shorter). The result depends only on ``seed``, not on
    the number of threads, and the first gates of a larger sample are those of a
    smaller one. (The gates of a seed changed once, when the draws moved into the
    parallel kernels: they used to be one stream of ``default_rng(seed)``.) A mask
    is the sign pattern of the products ``X g``: a row within rounding of a gate's
    hyperplane (a score of order ``1e-16 |x| |g|``, which only data built on the gate
    give) takes the sign that the product's rounding gives, and that can depend on
    how the products were blocked (the number of gates, NumPy or Numba) and differ
    in :meth:`Arrangement.apply`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    n_gates : int
        Number of gates to sample (>= 1). The number p of distinct masks is at most
        this.
    seed : int or None
        Seed of the gates' generators (None: fresh entropy).
    linear_group : bool, default=False
        Also take the zero gate, after the sampled ones: its mask ``1[x^T 0 >= 0]``
        is all ones on every row, the group ``D = I`` whose neuron is the linear
        term ``X w`` (a cell of every arrangement, which Gaussian gates almost never
        find once d is more than a few). When a sampled gate gave the all-ones mask
        already, the zero gate counts as one more gate of that mask and represents
        it (on new rows a sampled gate's half-space would turn the linear neuron
        off). ``n_gates`` of the result counts it too.

    Returns
    -------
    Arrangement

    Raises
    ------
    ValueError
        For invalid inputs: shapes that do not match, NaN or infinity, or
        ``n_gates < 1``.
    MemoryError
        When the gates and masks do not fit in the available memory.
    """
    names = _string_columns(X)
    X = check_X(X)
    n_gates = check_int(n_gates, "n_gates", 1)
    linear_group = check_bool(linear_group, "linear_group")
    root = seed_sequence(seed)
    n, d = X.shape
    nwords = n_words(n)
    chunk = max(1, _SCORES_PER_CHUNK // n)
    # gates, their packed masks and hashes, and each thread's chunk of scores
    check_fits(
        n_gates * (d * 8 + nwords * 8 + 9) + numba.get_num_threads() * chunk * n * 8,
        f"sampling {n_gates} gates (their masks of {n} rows)",
        "sample fewer gates (n_gates)",
    )
    # each row at its own unit scale (exact): the masks are signs, and no row, however
    # small next to the others, under- or overflows in the products
    by_numpy = n_gates * n <= NUMPY_WORK and n_gates * n * d <= CALL_WORK
    XT = unit_rows_transposed(X, numba_work=not by_numpy)
    if by_numpy:
        G, words, hashes, nonzero = _gates_numpy(root, XT, n_gates)
    else:
        G, words, hashes, nonzero = _gates_numba(root, XT, n_gates, chunk)
    if linear_group:
        ones = pack_rows(np.ones((1, n), np.bool_), nwords)
        G = np.vstack([G, np.zeros((1, d))])
        words = np.vstack([words, ones])
        hashes = np.append(hashes, hash_rows(ones))
        nonzero = np.append(nonzero, n > 0)
        n_gates += 1
    keep = np.flatnonzero(nonzero)
    if len(keep) == 0:
        # (a row's score 0 counts as on, so X of zeros gives the all-ones mask: the
        # message blamed X, tester DX)
        raise all_zero_masks(n_gates)
    ids, first = distinct_masks(words[keep], hashes[keep])
    rows = keep[first]
    gates = G[rows]
    if linear_group:
        # the all-ones mask's gate is the zero gate, also where a sampled gate gave
        # that mask first: a sampled gate's half-space turned the linear neuron off
        # on new rows beyond it (tester CV)
        gates[ids[-1]] = 0.0
    arr = Arrangement(
        words[rows],
        n,
        gates=gates,
        counts=np.bincount(ids, minlength=len(first)),
        n_gates=n_gates,
    )
    arr.feature_names_in_ = names
    return arr


def _string_columns(X):
    """A data frame's column names when all are strings (scikit-learn's
    ``feature_names_in_`` rule), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(list(columns), dtype=object)


def _gates_numpy(root, XT, n_gates):
    """Gates, packed masks, hashes and non-zero flags of :func:`sample_arrangement`
    by NumPy: the same draws, one product and the same packing and hashes as
    :func:`_gates_numba` (which the tests check bit for bit)."""
    d, n = XT.shape
    G = np.empty((n_gates, d))
    for j in range(-(-n_gates // GATE_BLOCK)):
        s = slice(j * GATE_BLOCK, min(n_gates, (j + 1) * GATE_BLOCK))
        G[s] = block_rng(root, GATE_STREAM, j).standard_normal((s.stop - s.start, d))
    with blas_threads(1):
        words = pack_rows(G @ XT >= 0.0, n_words(n))
    return G, words, hash_rows(words), words.any(axis=1)


def _gates_numba(root, XT, n_gates, chunk):
    """:func:`_gates_numpy` by the Numba kernels, blocks of gates on Numba's threads."""
    d, n = XT.shape
    nwords = n_words(n)
    G = np.empty((n_gates, d))
    words = np.empty((n_gates, nwords), np.uint64)
    hashes = np.empty(n_gates, np.uint64)
    nonzero = np.empty(n_gates, np.bool_)

    # a block's gates in calls of about CALL_WORK multiply-adds, so that Ctrl-C stops
    # the threads within one call (the gates are the same draws whatever the calls)
    part = max(1, min(GATE_BLOCK, CALL_WORK // (n * d)))

    def block(j, q):
        s = slice(j * GATE_BLOCK, min(n_gates, (j + 1) * GATE_BLOCK))
        b, g0 = s.stop - s.start, q * part
        if g0 < b:  # the generator draws the block's gates in the first call only
            rng = block_rng(root, GATE_STREAM, j)
            gate_block(
                rng,
                XT,
                chunk,
                G[s],
                words[s],
                hashes[s],
                nonzero[s],
                g0,
                min(b, g0 + part),
            )

    run_blocks(block, -(-n_gates // GATE_BLOCK), parts=-(-GATE_BLOCK // part))
    return G, words, hashes, nonzero


_CHECKED_ROWS = 64


def _check_gates_match(arr, X):
    """Warn when an arrangement's stored gates do not give its masks on X (checked on
    _CHECKED_ROWS evenly spaced rows): it was built on other data of the same shape
    (before a scaler, say). The program is then the group lasso over the stored
    masks, and a network with those gates on this X is another model."""
    n = arr.n
    rows = np.unique(np.linspace(0, n - 1, min(n, _CHECKED_ROWS)).astype(np.int64))
    warn_gates_mismatch(arr.gates, X[rows], mask_rows(arr, rows))


def mask_rows(arr, rows):
    """The masks (len(rows), p) of an Arrangement on the given rows, from its packed
    words (``arr.masks`` unpacks all n rows)."""
    rows = np.asarray(rows, np.int64)
    words = arr.words[:, rows // 64]
    return ((words >> (rows % 64).astype(np.uint64)) & np.uint64(1)).T.astype(bool)


def warn_gates_mismatch(gates, X_rows, stored):
    """Warn (and return True) when ``gates`` do not give the ``stored`` masks (m, p)
    on the rows ``X_rows`` (m, d) of X (also fixntk.dask's check, on X's first
    rows)."""
    masks = (X_rows / row_units(X_rows)[:, None]) @ gates.T >= 0
    differ = int(np.count_nonzero((masks != stored).any(axis=1)))
    if differ:
        _warn(
            f"the arrangement's masks are not its gates' on this X ({differ} of "
            f"{len(X_rows)} rows checked differ): it was built on other data, such as "
            "X before scaling. The program solved is the group lasso over the stored "
            "masks; a network with arr.gates on this X is another model. Build the "
            "arrangement on the X you pass.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return bool(differ)


def as_arrangement(arr, n, X=None):
    """Accept an Arrangement or an (n, p) boolean mask array; check it matches n
    rows (and, given X, that stored gates give its masks on X: a warning if not)."""
    if isinstance(arr, Arrangement):
        if arr.n != n:
            raise ValueError(
                f"the arrangement was built on {arr.n} samples but X has {n}: "
                "they must match"
            )
        if X is not None and arr.gates is not None:
            if X.shape[1] == arr.gates.shape[1]:
                _check_gates_match(arr, X)
            else:
                warn_other_columns(arr.gates.shape[1], X.shape[1])
        return arr
    if arr is None:
        raise ValueError("arr must be an Arrangement or an (n, p) boolean mask array")
    if type(arr).__name__ == "DaskArrangement":  # not imported: Dask is optional
        raise ValueError(
            "arr is a fixntk.dask arrangement (its masks are a Dask array): use it "
            "with the fixntk.dask functions, or pass arr.masks.compute() (the (n, p) "
            "masks in memory) here"
        )
    return Arrangement.from_masks(arr, n=n)


def warn_other_columns(gate_features, features):
    """The warning for an arrangement whose gates have ``gate_features`` features
    given with an X of ``features`` columns: its stored masks are solved (in memory
    and on Dask, where it was a ValueError on 'gates', an argument the user never
    passed, or silence; tester EW)."""
    _warn(
        f"the arrangement's gates have {gate_features} features but X has "
        f"{features}: it was built on other columns (X with a bias column appended, "
        "or one column fewer, say). The program solved is the group lasso over the "
        "stored masks, and arr.gates cannot be applied to rows of this X. Build the "
        "arrangement on the X you pass.",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


def all_zero_masks(n_gates):
    """The error of an arrangement whose ``n_gates`` sampled gates all gave the
    all-zero mask (in memory and on Dask: the Dask one blamed an X of zeros, which
    gives the all-ones mask; tester EJ)."""
    return ValueError(
        f"every sampled gate gave the all-zero mask (each of the {n_gates} "
        "gate(s) put every row on its negative side); no groups to build: sample "
        "more gates, or add the linear group (linear_group=True)"
    )
