"""Arrangements of a Dask array's rows: gates on the client, masks packed on the
workers chunk by chunk, distinct masks found from per-chunk hashes and confirmed chunk
by chunk."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from .._arrangement import (
    _CHECKED_ROWS,
    GATE_BLOCK,
    GATE_STREAM,
    Arrangement,
    all_zero_masks,
    mask_rows,
    warn_gates_mismatch,
    warn_other_columns,
)
from .._gates import block_rng, n_words, seed_sequence
from .._threads import one_thread
from .._validation import check_bool, check_int
from . import _chunks, _kernels
from ._chunks import as_rows, chunk_tasks, run, tree_reduce, tree_sum

__all__ = ["DaskArrangement", "sample_arrangement", "as_dask_arrangement"]


def draw_gates(n_gates, d, seed):
    """The gates of :func:`fixntk.sample_arrangement` (same seed, same gates): blocks of
    64 Gaussian vectors, block j from ``default_rng(SeedSequence(seed, spawn_key=(GATE,
    j)))``."""
    root = seed_sequence(seed)
    blocks = [
        block_rng(root, GATE_STREAM, j).standard_normal(
            (min(GATE_BLOCK, n_gates - j * GATE_BLOCK), d)
        )
        for j in range(-(-n_gates // GATE_BLOCK))
    ]
    return np.vstack(blocks)


# ---- tasks run on one chunk


def _patterns(X, V, position):
    """(words, h1, h2, nonzero, finite) of the vectors V on a chunk (see _kernels);
    finite: whether the chunk holds no NaN or infinity."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    finite = bool(np.isfinite(X).all())
    m = V.shape[0]
    words = np.empty((m, n_words(X.shape[0])), np.uint64)
    h1, h2 = np.empty(m, np.uint64), np.empty(m, np.uint64)
    nonzero = np.empty(m, np.bool_)
    with one_thread():
        _kernels.chunk_patterns(V, X, position, words, h1, h2, nonzero)
    return words, h1, h2, nonzero, finite


def _identity(part):
    """A chunk's share of the global identities: (h1, h2, count of non-empty, count
    of chunks with NaN or infinity)."""
    _, h1, h2, nonzero, finite = part
    return h1, h2, nonzero.astype(np.int64), int(not finite)


def _differ(part, members, reps):
    return _kernels.differ_from(part[0], members, reps)


def _select(part, rows):
    """The packed masks (bytes, the core's layout) of the kept gates."""
    return np.ascontiguousarray(part[0][rows]).view(np.uint8)


def _pack_masks(M):
    """Pack a chunk of an (n_k, p) 0/1 mask matrix (bytes per group)."""
    M = np.asarray(M)
    if M.dtype != np.bool_:
        if M.dtype.kind not in "biuf" or not np.isin(M, (0, 1)).all():
            raise ValueError("masks must be boolean, or numbers that are all 0 or 1")
        M = M.astype(bool)
    packed = np.packbits(M.T, axis=1, bitorder="little")
    out = np.zeros((M.shape[1], 8 * n_words(M.shape[0])), np.uint8)
    out[:, : packed.shape[1]] = packed
    return out


def _unpack(packed, n_rows):
    return np.unpackbits(packed, axis=1, count=n_rows, bitorder="little").T.astype(bool)


def _or(a, b):
    return a | b


# ---- the arrangement


class DaskArrangement:
    """Distinct gate masks on the rows of a Dask array, packed on the workers.

    The client holds the gates (p, d), counts and chunk sizes; the masks stay where
    their rows are, one packed (p, 8 ceil(n_k / 64)) uint8 block per row chunk (row r of
    the chunk at bit r % 8 of byte r // 8), persisted.

    Attributes
    ----------
    gates : ndarray of shape (p, d) or None
        One representative gate per mask (the zero gate for the all-ones mask of the
        linear group; None for masks given directly).
    counts : ndarray of shape (p,)
        Gates per mask.
    n_gates : int
        Gates in total: those sampled (including those with the all-zero mask,
        dropped) and the zero gate of the linear group where it was added.
    n : int
        Rows.
    rows : tuple of int
        The row chunk sizes the masks are packed by.
    """

    def __init__(self, packed, rows, p, gates=None, counts=None, n_gates=None):
        self._packed = list(packed)
        self.rows = tuple(int(r) for r in rows)
        self.n = int(sum(self.rows))
        self._p = int(p)
        self.gates = None if gates is None else np.ascontiguousarray(gates, np.float64)
        self.counts = np.ones(p, np.int64) if counts is None else np.asarray(counts)
        self.n_gates = int(self.counts.sum()) if n_gates is None else int(n_gates)

    @property
    def p(self):
        return self._p

    def __len__(self):
        return self._p

    @property
    def packed(self):
        """The per-chunk packed masks (a list of persisted Delayed)."""
        return self._packed

    @property
    def masks(self):
        """``masks[k, i] = 1[x_k^T g_i >= 0]`` as a lazy Dask boolean array (n, p),
        unpacked chunk by chunk."""
        if _on_closed_client(self._packed):
            raise ValueError(_closed(self.gates))
        blocks = [
            da.from_delayed(
                dask.delayed(_unpack, pure=True)(pk, r), shape=(r, self._p), dtype=bool
            )
            for pk, r in zip(self._packed, self.rows)
        ]
        return da.concatenate(blocks, axis=0)

    def apply(self, X_new):
        """Masks of the stored gates on new data, ``1[X_new g_i >= 0]`` (lazy for a
        Dask X_new, a NumPy array otherwise)."""
        if self.gates is None:
            raise ValueError(
                "this arrangement was built from masks, not gates: it cannot be "
                "applied to new data"
            )
        if not dask.is_dask_collection(X_new):
            masks = np.zeros((self.gates.shape[0], 1), np.uint64)  # (unused)
            return Arrangement(masks, 1, self.gates).apply(X_new)
        X_new = as_rows(X_new, "X_new")
        if X_new.shape[1] != self.gates.shape[1]:
            raise ValueError(
                f"X_new has {X_new.shape[1]} features; the gates have "
                f"{self.gates.shape[1]}"
            )
        return X_new @ self.gates.T >= 0

    def __repr__(self):
        src = "sampled gates" if self.gates is not None else "given masks"
        return (
            f"DaskArrangement(n={self.n}, p={self.p}, {len(self.rows)} row chunks, "
            f"{src}, n_gates={self.n_gates})"
        )

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_gates(cls, X, gates, counts=None, n_gates=None):
        """The masks of given gates on the rows of a Dask array X (no merging)."""
        X = as_rows(X)
        gates = np.ascontiguousarray(gates, dtype=np.float64)
        if gates.ndim != 2 or gates.shape[1] != X.shape[1]:
            raise ValueError(
                f"gates must have shape (p, {X.shape[1]}) for X with {X.shape[1]} "
                f"features; got {gates.shape}"
            )
        V = dask.delayed(gates, pure=True)
        every = np.arange(gates.shape[0])
        packed = [
            dask.delayed(_select, pure=True)(
                dask.delayed(_patterns, pure=True)(x, V, k), every
            )
            for k, x in enumerate(chunk_tasks(X))
        ]
        packed = _chunks.persist(*packed)
        return cls(packed, X.chunks[0], gates.shape[0], gates, counts, n_gates)

    @classmethod
    def from_masks(cls, masks, rows=None):
        """Masks given as an (n, p) boolean array (Dask or NumPy), packed by the row
        chunks ``rows`` (default: the array's own)."""
        if dask.is_dask_collection(masks):
            M = _chunks._known_chunks(_chunks._frame_to_array(masks, "masks"))
        else:
            M = np.asarray(masks)
        if M.ndim != 2:
            raise ValueError(f"masks must be a 2-d (n, p) array; got shape {M.shape}")
        if M.shape[1] == 0:
            raise ValueError(
                "masks has no columns (p = 0): at least one group is needed"
            )
        if rows is None:
            rows = M.chunks[0] if isinstance(M, da.Array) else (M.shape[0],)
        if sum(rows) != M.shape[0]:
            raise ValueError(
                f"masks have {M.shape[0]} rows but the row chunks (rows) add up to "
                f"{sum(rows)}: they must match"
            )
        if isinstance(M, da.Array):
            M = M.rechunk((tuple(rows), -1))
        else:
            M = da.from_array(M, chunks=(tuple(rows), -1))
        packed = [dask.delayed(_pack_masks, pure=True)(m) for m in chunk_tasks(M)]
        return cls(_chunks.persist(*packed), rows, M.shape[1])


def _closed(gates):
    """The error for an arrangement whose persisted masks went with their client."""
    return "this arrangement's masks were persisted on a Dask client that is now " + (
        "closed: fixntk.dask's functions given it pack them again from its gates "
        "(with X), or sample it again under the client in use"
        if gates is not None
        else "closed, and it was built from masks, not gates: build it again under "
        "the client in use"
    )


def _on_closed_client(packed):
    """Whether persisted chunks are futures of a distributed client that is closed
    (or futures no longer held)."""
    try:
        from distributed import futures_of
    except ImportError:  # no distributed: no client to lose
        return False
    return any(
        f.status != "finished" or getattr(f.client, "status", "running") != "running"
        for f in futures_of(packed)
    )


def _head(A, k):
    return np.asarray(A)[:k]


def _first_rows(X, m):
    """X's first ``m`` rows (NumPy), from the chunk tasks that hold them."""
    tasks, need = [], m
    for x, size in zip(chunk_tasks(X), X.chunks[0]):
        if need <= 0:
            break
        if size:
            tasks.append(dask.delayed(_head, pure=True)(x, need))
            need -= size
    return np.concatenate(_chunks.compute(*tasks), axis=0)


def _masks_not_gates(arr, X):
    """Whether ``arr``'s gates do not give its stored masks on X's first rows (up to
    _CHECKED_ROWS; warned as in memory, :func:`fixntk._arrangement.
    warn_gates_mismatch`): it was built on other data of the same shape, X before a
    scaler say. Its masks, not its gates', are then the program's, as in memory."""
    m = min(arr.n, _CHECKED_ROWS)
    if arr.gates is None or m == 0:
        return False
    if isinstance(arr, Arrangement):
        stored = mask_rows(arr, np.arange(m))  # (not all n rows unpacked)
    else:
        (stored,) = _chunks.compute(arr.masks[:m])
    return warn_gates_mismatch(arr.gates, _first_rows(X, m), np.asarray(stored))


def _repacked(arr, rows):
    """``arr``'s stored masks packed by the row chunks ``rows``, its gates and counts
    kept."""
    new = DaskArrangement.from_masks(arr.masks, rows)
    return DaskArrangement(new.packed, rows, new.p, arr.gates, arr.counts, arr.n_gates)


def as_dask_arrangement(arr, X, check=True):
    """A DaskArrangement packed by X's row chunks, from a DaskArrangement (re-packed
    if its chunks differ), an in-memory Arrangement or an (n, p) mask array. Packing
    again uses the gates on X, unless they do not give the stored masks on X's first
    rows (``check``: warned; the stored masks are packed then, the program that
    fixntk.solve solves; the gates' masks on another X were solved silently, and
    which one depended on X's chunks; tester FB)."""
    rows = X.chunks[0]
    n = X.shape[0]
    if arr is None:
        raise ValueError("arr must be an Arrangement or an (n, p) boolean mask array")
    if isinstance(arr, (DaskArrangement, Arrangement)) and arr.n != n:
        raise ValueError(
            f"the arrangement was built on {arr.n} samples but X has {n}: they must "
            "match"
        )
    gates = getattr(arr, "gates", None)
    if gates is not None and gates.shape[1] != X.shape[1]:
        # built on other columns: its masks, said as in memory
        warn_other_columns(gates.shape[1], X.shape[1])
        if isinstance(arr, DaskArrangement) and arr.rows == tuple(rows):
            return arr
        return DaskArrangement.from_masks(arr.masks, rows)
    if isinstance(arr, DaskArrangement):
        if _on_closed_client(arr.packed):
            # its masks were lost with their client (Dask's 'Missing dependency' or
            # 'lost dependencies' errors; tester DH): packed again from its gates on
            # the scheduler now in use, the same masks
            if arr.gates is None:
                raise ValueError(_closed(None))
            return DaskArrangement.from_gates(X, arr.gates, arr.counts, arr.n_gates)
        if arr.rows == tuple(rows):
            if check:
                _masks_not_gates(arr, X)
            return arr
    if isinstance(arr, (DaskArrangement, Arrangement)):
        if arr.gates is not None and not (check and _masks_not_gates(arr, X)):
            return DaskArrangement.from_gates(X, arr.gates, arr.counts, arr.n_gates)
        return _repacked(arr, rows)
    shape = getattr(arr, "shape", None)
    known = shape is not None and len(shape) == 2 and isinstance(shape[0], int)
    if known and shape[0] != n:  # (a Dask frame's unknown count: from_masks's)
        # said against X, as in memory (the rows argument it would be packed by is
        # none of the user's; tester EW)
        raise ValueError(
            f"masks have {shape[0]} rows but X has {n} samples: they must match"
        )
    return DaskArrangement.from_masks(arr, rows)


def _first_order(labels):
    """Labels renumbered in the order of their first occurrence; (ids, first)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.ravel()], first[order]


def _split_mismatched(ids, differ):
    """Gates that differ from their group's representative leave it: those of one
    group form one new group (checked again in the next round)."""
    bad = np.flatnonzero(differ)
    labels = ids.copy()
    _, new = np.unique(ids[bad], return_inverse=True)
    labels[bad] = ids.max() + 1 + new.ravel()
    return _first_order(labels)


def _identities(h1, h2):
    """Group labels from the two summed hashes (equal pairs, one label)."""
    return np.unique(np.stack([h1, h2], axis=1), axis=0, return_inverse=True)[1].ravel()


def confirm_groups(parts, keep, ids, first, select=None):
    """Confirm the groups ``ids`` of the patterns ``keep`` chunk by chunk.

    parts : per-chunk Delayed whose first entry is the chunk's packed patterns (one
    row per vector); ``keep[t]`` is in group ``ids[t]``, whose first member is
    ``first[ids[t]]``. Every member is compared with its group's first member on every
    chunk; members that differ somewhere leave their group (those of one group form a
    new group) and the check repeats. ``select(part, rows)``, when given, runs on each
    chunk in the same pass as the last check, with ``rows = keep[first]``. Returns
    (ids, first, the persisted selections)."""
    while True:
        reps = keep[first[ids]]
        rows = keep[first]
        differ = tree_reduce(
            [dask.delayed(_differ, pure=True)(pk, keep, reps) for pk in parts], _or
        )
        extra = (
            []
            if select is None
            else [dask.delayed(select, pure=True)(pk, rows) for pk in parts]
        )
        *extra, differ = _chunks.persist(*extra, differ)
        differ = run(differ)
        if not differ.any():
            return ids, first, extra
        ids, first = _split_mismatched(ids, differ)


def sample_arrangement(X, n_gates, seed=0, *, linear_group=False):
    """Sample Gaussian gates and find the distinct masks they induce on the rows of a
    Dask array, the masks staying on the workers.

    Same gates and same result as :func:`fixntk.sample_arrangement` for the same seed:
    masks numbered in the order their first gate was drawn, that gate representing
    them, counts of gates per mask, the all-zero mask dropped. The gates are drawn on
    the client; each row chunk computes its sign patterns ``1[X_k g >= 0]`` of every
    gate and two 64-bit hashes of each, keyed by the chunk's position; the keyed hashes
    add up (in a fixed tree over the chunks) to a 128-bit identity of each gate's whole
    mask. Gates with equal identities are then confirmed chunk by chunk (every gate's
    pattern compared with its group's first gate): a hash collision splits the group
    and the check repeats, so two different masks are never merged.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n, d)
        Chunked by rows (a chunking across the columns is merged).
    n_gates : int
        Number of gates to sample (>= 1).
    seed : int or None
    linear_group : bool, default=False
        Also take the zero gate, whose mask is all ones (the linear term), as
        :func:`fixntk.sample_arrangement` does: in the same passes.

    Returns
    -------
    DaskArrangement
        Three passes over X in the usual case (patterns and hashes, one check, the
        kept masks selected alongside it), one more per round of splitting.

    Raises
    ------
    ValueError
        When every gate gives the all-zero mask, or for invalid inputs.
    """
    X = as_rows(X)
    n_gates = check_int(n_gates, "n_gates", 1)
    linear_group = check_bool(linear_group, "linear_group")
    G = draw_gates(n_gates, X.shape[1], seed)
    if linear_group:
        G = np.vstack([G, np.zeros((1, G.shape[1]))])
        n_gates += 1
    V = dask.delayed(G, pure=True)
    parts = _chunks.persist(
        *[
            dask.delayed(_patterns, pure=True)(x, V, k)
            for k, x in enumerate(chunk_tasks(X))
        ]
    )
    h1, h2, nonzero, bad = run(
        tree_sum([dask.delayed(_identity, pure=True)(pk) for pk in parts])
    )
    if bad:
        raise ValueError(f"X contains NaN or infinity (in {bad} of its row chunks)")
    keep = np.flatnonzero(nonzero > 0)
    if keep.size == 0:
        raise all_zero_masks(n_gates)
    ids, first = _first_order(_identities(h1[keep], h2[keep]))
    ids, first, selected = confirm_groups(parts, keep, ids, first, _select)
    rows = keep[first]
    gates = G[rows]
    if linear_group:  # the zero gate represents the all-ones mask, as in memory
        gates[ids[-1]] = 0.0
    return DaskArrangement(
        selected,
        X.chunks[0],
        rows.size,
        gates=gates,
        counts=np.bincount(ids, minlength=rows.size),
        n_gates=n_gates,
    )
