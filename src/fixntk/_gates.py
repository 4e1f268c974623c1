"""Numba kernels for gates and masks: Gaussian draws, scores, packing, hashing, lookup.

Gaussian vectors (the gates of :func:`~fixntk.sample_arrangement`, the directions of
:func:`~fixntk.ntk_weights`) are drawn in blocks of a fixed size, block ``j`` from its
own NumPy generator, ``default_rng(SeedSequence(seed, spawn_key=(stream, j)))``. A
block's kernel draws its vectors (NumPy's own normal sampler, run by Numba), forms
their scores on X by BLAS and packs, hashes and looks up the masks, without the GIL;
blocks run on as many threads as Numba has (:func:`fixntk._threads.run_blocks`), each
writing its own part of the outputs. So the result depends only on the seed, never on
the number of threads, and the first ``k`` vectors are the same whatever the total.
Small inputs (:data:`NUMPY_WORK`) take NumPy twins of the packing and hashing
(:func:`pack_rows`, :func:`hash_rows`) with the same results, bit for bit, from the
same scores (the scores themselves are BLAS products, whose rounding may differ where a
score is within rounding of zero): the kernels' first load in a process (about 0.3 s)
costs more than such work.
"""

import functools
import math
import types

import numpy as np
from numba import njit, prange

from ._scale import row_units
from ._threads import signals_deferred
from ._validation import _scalar

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# Labels of directions in direction_block (cells of the arrangement are >= 0).
ZERO = -1  # the all-zero mask (not a known cell)
MISSING = -2  # a non-zero mask that is not a known cell


def n_words(n):
    """64-bit words needed to hold n mask bits."""
    return (n + 63) // 64


def seed_sequence(seed):
    """Root ``SeedSequence`` of a non-negative integer seed (None: fresh entropy)."""
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(
            f"seed must be a non-negative integer or None; got {_scalar(seed)!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {seed}")
    return np.random.SeedSequence(int(seed))


def block_rng(root, stream, j):
    """Generator of block ``j`` of ``stream``: PCG64 seeded by
    ``SeedSequence(root.entropy, spawn_key=root.spawn_key + (stream, j))``."""
    return np.random.default_rng(
        np.random.SeedSequence(
            root.entropy,
            spawn_key=(*root.spawn_key, stream, j),
            pool_size=root.pool_size,
        )
    )


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _hash_row(words):
    """Hash of one packed mask (a row of words)."""
    nwords = words.shape[0]
    h = np.uint64(nwords) * _GOLDEN
    for w in range(nwords):
        h = _mix64(h ^ (words[w] + _GOLDEN + np.uint64(w)))
    return h


def hash_rows(words):
    """NumPy twin of :func:`hash_words` (the same hashes, bit for bit), for inputs too
    small to be worth loading the Numba kernels (about 0.3 s in a fresh process)."""
    h = np.full(words.shape[0], words.shape[1], np.uint64) * _GOLDEN
    for w in range(words.shape[1]):
        z = h ^ (words[:, w] + _GOLDEN + np.uint64(w))
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        h = z ^ (z >> np.uint64(31))
    return h


def pack_rows(B, nwords):
    """NumPy twin of the kernels' packing: the rows of a boolean (b, n) matrix as
    words (b, nwords), bit k of a row at bit k % 64 of word k // 64."""
    bits = np.packbits(B, axis=1, bitorder="little")
    out = np.zeros((B.shape[0], 8 * nwords), np.uint8)
    out[:, : bits.shape[1]] = bits
    return out.view("<u8").astype(np.uint64, copy=False)


@njit(cache=True, inline="always")
def _pack_row(s, out):
    """Pack the mask 1[s[k] >= 0] of one row of scores s (n,) into out (nwords):
    bit k of the mask is bit k % 64 of word k // 64, so the little-endian byte view
    holds row k at bit k % 8 of byte k // 8. Returns (hash, whether any bit is set)."""
    n = s.shape[0]
    any_set = np.uint64(0)
    for w in range(out.shape[0]):
        word = np.uint64(0)
        k0 = w * 64
        for k in range(k0, min(n, k0 + 64)):
            word |= np.uint64(s[k] >= 0.0) << np.uint64(k - k0)
        out[w] = word
        any_set |= word
    return _hash_row(out), any_set != 0


# Work (loop iterations) below which a prange kernel runs its serial twin: starting
# Numba's threads costs more than the loop, and a scheduler time slice when the cores
# are shared (the cross-validation folds of a 400-row fit spent half their time there).
PARALLEL_WORK = 1 << 18
# Work up to which NumPy twins of the kernels run instead: the same results, without
# the kernels' first load in a process (about 0.3 s, longer than the work below this
# size: a fresh process's first fit on iris took 0.33 s, 0.07 s afterwards).
NUMPY_WORK = 1 << 22


def signals_pass(kernel):
    """Wrap a Numba kernel called from Python so that an exception raised by a signal
    handler while it ran (KeyboardInterrupt from Ctrl-C, a time limit's from
    ``signal.alarm``) comes out of the call as itself, not as the SystemError Numba
    turns it into.

    A kernel runs Python code now and then (boxing its results, Numba's unpickling of
    constants; a parallel kernel's launch): a signal that arrives then raises there,
    and Numba reports "returned a result with an exception set", with the handler's
    exception at the root of the chain of causes.

    A kernel's compilation, or its load from Numba's on-disk cache, on a call with new
    argument types runs with the signals deferred to its end (:func:`~fixntk._threads.
    signals_deferred`): llvmlite hands the compiled code to Numba's cache in a ctypes
    callback, where a handler's exception is printed as "ignored" and lost (a Ctrl-C in
    the first seconds of a fresh install's first projection was dropped, and the long
    phase after it ran on). Numba's dispatcher compiles through its
    ``_compile_for_args``, looked up on the dispatcher object at each new signature."""

    compile_for_args = getattr(kernel, "_compile_for_args", None)
    if compile_for_args is not None:

        def compile_deferred(*args, **kwargs):
            with signals_deferred():
                return compile_for_args(*args, **kwargs)

        kernel._compile_for_args = compile_deferred

    @functools.wraps(kernel)
    def call(*args):
        try:
            return kernel(*args)
        except SystemError as exc:
            root = exc
            while (
                isinstance(root, SystemError)
                and root.__cause__ is not None
                and "with an exception set" in str(root)
            ):
                root = root.__cause__
            if root is exc or isinstance(root, SystemError):
                raise
            raise root from None

    return call


def threaded(kernel):
    """``kernel`` (a ``parallel=True`` Numba dispatcher) and the same function compiled
    without threads, chosen by ``work``: ``call(work, *args)``. A signal handler's
    exception raised while the threads ran comes out as itself (:func:`signals_pass`).
    """
    py = kernel.py_func
    twin = types.FunctionType(py.__code__, py.__globals__, py.__name__ + "_serial")
    twin.__qualname__ = py.__qualname__ + "_serial"  # its own on-disk cache entry
    serial = signals_pass(njit(cache=True)(twin))
    parallel = signals_pass(kernel)

    def call(work, *args):
        return (parallel if work >= PARALLEL_WORK else serial)(*args)

    call.__doc__ = kernel.__doc__
    return call


@njit(cache=True, parallel=True)
def _pack_bool_columns(masks, nwords):
    n, p = masks.shape
    words = np.zeros((p, nwords), np.uint64)
    for i in prange(p):
        for k in range(n):
            if masks[k, i]:
                words[i, k // 64] |= np.uint64(1) << np.uint64(k % 64)
    return words


_pack_bool_columns_call = threaded(_pack_bool_columns)


def pack_bool_columns(masks, nwords):
    """Pack a boolean (n, p) mask matrix column by column into words (p, nwords)
    (up to :data:`NUMPY_WORK` entries by NumPy, the same words without loading the
    Numba kernel)."""
    if masks.size <= NUMPY_WORK:
        return pack_rows(masks.T, nwords)
    return _pack_bool_columns_call(masks.size, masks, nwords)


@njit(cache=True, parallel=True)
def _unit_rows_transposed(X):
    n, d = X.shape
    XT = np.empty((d, n))
    tile = 256
    for t in prange((n + tile - 1) // tile):
        k0 = t * tile
        k1 = min(n, k0 + tile)
        # (divided by s: 1 / s overflows for the rows of subnormal numbers)
        s = np.ones(k1 - k0)
        for k in range(k0, k1):
            top = 0.0
            for j in range(d):
                top = max(top, abs(X[k, j]))
            if top > 0.0 and top < np.inf:
                s[k - k0] = math.ldexp(1.0, min(math.frexp(top)[1], 1023))
        for j in range(d):
            for k in range(k0, k1):
                XT[j, k] = X[k, j] / s[k - k0]
    return XT


_unit_rows_transposed_call = threaded(_unit_rows_transposed)


def unit_rows_transposed(X, numba_work=True):
    """``(X / row_units(X)[:, None]).T`` as a C-contiguous (d, n) array, each row of X
    at its own unit scale (:func:`fixntk._scale.row_units`: exact powers of two), in one
    pass on ``numba.get_num_threads()`` threads (the same bits as NumPy's: a division
    by a power of two is exact or rounds the same way). By NumPy for a caller whose
    work runs without the Numba kernels (``numba_work=False``) up to
    :data:`NUMPY_WORK` entries."""
    if not numba_work and X.size <= NUMPY_WORK:
        return np.ascontiguousarray((X / row_units(X)[:, None]).T)
    return _unit_rows_transposed_call(X.size, X)


@njit(cache=True, parallel=True)
def _hash_words(words):
    B = words.shape[0]
    hashes = np.empty(B, np.uint64)
    for g in prange(B):
        hashes[g] = _hash_row(words[g])
    return hashes


_hash_words_call = threaded(_hash_words)


def hash_words(words):
    """Hashes of packed masks (rows of words), as computed when they are packed."""
    return _hash_words_call(words.size, words)


@signals_pass
@njit(cache=True, nogil=True)
def gate_block(rng, XT, chunk, G, words, hashes, nonzero, g0, g1):
    """Pack the masks ``1[X g >= 0]`` of gates ``g0 .. g1 - 1`` of one block on the rows
    of X (``XT`` is X.T, contiguous): words (b, nwords), hashes (b,), nonzero (b,)
    (False for the all-zero mask); with ``g0 == 0`` first draw all the block's gates
    G (b, d) from ``rng``. Scores are formed ``chunk`` gates at a time. A block is
    packed in one call or in several (g0 = 0 first), each a bounded piece of work."""
    b, d = G.shape
    if g0 == 0:
        G[:, :] = rng.standard_normal((b, d))
    for c0 in range(g0, g1, chunk):
        c1 = min(g1, c0 + chunk)
        S = np.dot(G[c0:c1], XT)
        for g in range(c1 - c0):
            h, nz = _pack_row(S[g], words[c0 + g])
            hashes[c0 + g] = h
            nonzero[c0 + g] = nz


@njit(cache=True, inline="always")
def _member(sorted_words, word):
    i = np.searchsorted(sorted_words, word)
    return i < sorted_words.shape[0] and sorted_words[i] == word


@njit(cache=True, inline="always")
def _lookup(cell_hashes, cell_index, cell_words, h, row):
    """Index of the known cell whose packed mask is ``row`` (hash ``h``), or -1.
    ``cell_hashes`` is sorted and ``cell_index`` maps it to rows of ``cell_words``;
    a hash only selects candidates, the words decide."""
    i = np.searchsorted(cell_hashes, h)
    while i < cell_hashes.shape[0] and cell_hashes[i] == h:
        c = cell_index[i]
        same = True
        for w in range(row.shape[0]):
            if cell_words[c, w] != row[w]:
                same = False
                break
        if same:
            return c
        i += 1
    return -1


@njit(cache=True, inline="always")
def screen(H, S, tie, prefixes, cand):
    """The directions H (b, d) that may lie in a known cell, from their scores S (b, m)
    on the screening rows: those whose sign pattern there is one of ``prefixes``
    (sorted), is all negative (maybe the zero mask) or has a score within
    ``tie * ||h||`` of zero. Writes their indices to cand; returns how many."""
    d, m = H.shape[1], S.shape[1]
    nc = 0
    for g in range(H.shape[0]):
        hn = 0.0
        for k in range(d):
            hn += H[g, k] * H[g, k]
        limit = tie * np.sqrt(hn)
        word = np.uint64(0)
        near = False
        for k in range(m):
            score = S[g, k]
            word |= np.uint64(score >= 0.0) << np.uint64(k)
            near |= abs(score) <= limit
        if word == 0 or near or _member(prefixes, word):
            cand[nc] = g
            nc += 1
    return nc


@signals_pass
@njit(cache=True, nogil=True)
def direction_block(
    rng, b, sub, XpT, tie, prefixes, XT, chunk, cell_hashes, cell_index, cell_words, out
):
    """Draw ``b`` Gaussian directions h from ``rng`` (``sub`` at a time) and label each
    with the known cell of its mask ``1[X h >= 0]``, or ZERO / MISSING, into out (b,).
    (A block's directions may be labelled by several calls on consecutive parts of
    ``out``, each a multiple of ``sub`` but the last: the generator carries on.)

    A direction can only be in a known cell if its signs on the m screening rows
    (``XpT`` is their transpose, (d, m <= 64)) form one of the known cells' patterns
    ``prefixes`` (sorted); the full mask is formed (``chunk`` directions per product)
    only for those, for the all-negative pattern (maybe the zero mask) and for the
    directions with a screening score within ``tie * ||h||`` of zero (its sign may round
    the other way in the full product). The labels are those of the full masks.
    """
    d = XpT.shape[0]
    row = np.empty(cell_words.shape[1], np.uint64)
    cand = np.empty(min(b, sub), np.int64)
    for s0 in range(0, b, sub):
        s1 = min(b, s0 + sub)
        H = rng.standard_normal((s1 - s0, d))
        nc = screen(H, np.dot(H, XpT), tie, prefixes, cand)
        out[s0:s1] = MISSING
        for c0 in range(0, nc, chunk):
            c1 = min(nc, c0 + chunk)
            Hc = np.empty((c1 - c0, d))
            for i in range(c1 - c0):
                Hc[i] = H[cand[c0 + i]]
            F = np.dot(Hc, XT)
            for i in range(c1 - c0):
                h, nz = _pack_row(F[i], row)
                cell = _lookup(cell_hashes, cell_index, cell_words, h, row)
                if cell < 0:
                    cell = MISSING if nz else ZERO
                out[s0 + cand[c0 + i]] = cell
