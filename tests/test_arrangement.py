import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import block_normals, planted

import fixntk
from fixntk import _arrangement


def test_masks_match_gates_and_are_distinct():
    X, _ = planted(n=150, d=3, seed=0)
    arr = fixntk.sample_arrangement(X, 300, seed=1)
    M = arr.masks
    assert M.shape == (150, arr.p) and M.dtype == bool
    # representative gates reproduce their masks
    np.testing.assert_array_equal(X @ arr.gates.T >= 0, M)
    np.testing.assert_array_equal(arr.apply(X), M)
    # distinct, none all-zero
    assert len({m.tobytes() for m in M.T}) == arr.p
    assert M.any(axis=0).all()
    # counts: every sampled gate lands in one cell (all-zero masks are dropped)
    assert arr.counts.sum() <= 300 and arr.counts.min() >= 1


def test_linear_group_adds_the_all_ones_mask_with_the_zero_gate():
    X, _ = planted(n=150, d=6, seed=0)
    base = fixntk.sample_arrangement(X, 80, seed=3)
    arr = fixntk.sample_arrangement(X, 80, seed=3, linear_group=True)
    assert not base.masks.all(axis=0).any()  # the sampled gates miss that cell
    assert arr.p == base.p + 1 and arr.n_gates == 81
    np.testing.assert_array_equal(arr.masks[:, :-1], base.masks)
    np.testing.assert_array_equal(arr.gates[:-1], base.gates)
    np.testing.assert_array_equal(arr.counts, np.append(base.counts, 1))
    assert arr.masks[:, -1].all() and not arr.gates[-1].any()
    # on other rows the zero gate keeps its neuron on everywhere
    assert arr.apply(-3.0 * X)[:, -1].all()


def test_linear_group_merges_with_a_sampled_all_ones_mask():
    # rows in the positive quadrant: every gate in it gives the all-ones mask, so the
    # zero gate adds one more gate to that mask, not a group
    X = np.abs(planted(n=60, d=2, seed=1)[0]) + 0.1
    base = fixntk.sample_arrangement(X, 100, seed=0)
    arr = fixntk.sample_arrangement(X, 100, seed=0, linear_group=True)
    ones = np.flatnonzero(base.masks.all(axis=0))
    assert ones.size == 1 and arr.p == base.p and arr.n_gates == 101
    np.testing.assert_array_equal(arr.masks, base.masks)
    expected = base.counts.copy()
    expected[ones] += 1
    np.testing.assert_array_equal(arr.counts, expected)
    # the zero gate represents that mask: a sampled gate's half-space turned the
    # linear neuron off on new rows beyond it (tester CV)
    others = np.arange(arr.p) != ones[0]
    np.testing.assert_array_equal(arr.gates[others], base.gates[others])
    assert not arr.gates[ones[0]].any() and base.gates[ones[0]].any()
    assert arr.apply(-X)[:, ones[0]].all()


@pytest.mark.parametrize("bad", ["yes", 2, None])
def test_linear_group_must_be_a_bool(bad):
    with pytest.raises((TypeError, ValueError), match="linear_group"):
        fixntk.sample_arrangement(np.eye(3), 5, linear_group=bad)


def test_counts_match_bruteforce():
    X, _ = planted(n=60, d=2, seed=0)
    arr = fixntk.sample_arrangement(X, 500, seed=7)
    # the same gates drawn by NumPy (8 blocks of 64, the last one shorter)
    G = block_normals(7, _arrangement.GATE_STREAM, _arrangement.GATE_BLOCK, 500, 2)
    S = (X @ G.T >= 0).T
    keys = {}
    for row in S:
        if row.any():
            keys[row.tobytes()] = keys.get(row.tobytes(), 0) + 1
    got = {m.tobytes(): c for m, c in zip(arr.masks.T, arr.counts)}
    assert got == keys
    # the first-seen order and the first gate as representative
    first = []
    for row in S:
        if row.any() and row.tobytes() not in first:
            first.append(row.tobytes())
    assert [m.tobytes() for m in arr.masks.T] == first
    # the representative of each mask is its first gate, bit for bit
    firsts = [next(g for g, row in zip(G, S) if row.tobytes() == m) for m in first]
    np.testing.assert_array_equal(arr.gates, np.array(firsts))


def test_first_gates_of_a_larger_sample_and_many_row_words():
    # n = 1000 rows (16 words, several score chunks per block) and two sample sizes
    X, _ = planted(n=1000, d=4, seed=3)
    small = fixntk.sample_arrangement(X, 150, seed=2)
    large = fixntk.sample_arrangement(X, 700, seed=2)
    G = block_normals(2, _arrangement.GATE_STREAM, _arrangement.GATE_BLOCK, 700, 4)
    M = X @ G.T >= 0
    uniq, first = np.unique(M, axis=1, return_index=True)
    np.testing.assert_array_equal(large.masks, M[:, np.sort(first)])
    np.testing.assert_array_equal(large.masks[:, : small.p], small.masks)
    np.testing.assert_array_equal(large.gates[: small.p], small.gates)


def test_distinct_masks_survives_a_hash_collision():
    words = np.array([[1, 2], [3, 4], [1, 2], [3, 5], [3, 4]], np.uint64)
    ids, first = _arrangement.distinct_masks(words, np.full(5, 7, np.uint64))
    np.testing.assert_array_equal(ids, [0, 1, 0, 2, 1])
    np.testing.assert_array_equal(first, [0, 1, 3])
    ids, first = _arrangement.distinct_masks(words, np.arange(5, dtype=np.uint64) % 2)
    np.testing.assert_array_equal(ids, [0, 1, 0, 2, 1])


def test_same_seed_same_arrangement_and_seed_matters():
    X, _ = planted(n=100, d=4, seed=0)
    a = fixntk.sample_arrangement(X, 200, seed=5)
    b = fixntk.sample_arrangement(X, 200, seed=5)
    c = fixntk.sample_arrangement(X, 200, seed=6)
    np.testing.assert_array_equal(a.words, b.words)
    np.testing.assert_array_equal(a.gates, b.gates)
    assert not np.array_equal(a.gates[:5], c.gates[:5])


def test_packed_layout_is_what_core_reads():
    X, _ = planted(n=130, d=3, seed=2)  # n not a multiple of 8 or 64
    arr = fixntk.sample_arrangement(X, 50, seed=0)
    bits = np.unpackbits(arr.packed, axis=1, bitorder="little")
    np.testing.assert_array_equal(bits[:, :130].T.astype(bool), arr.masks)
    assert not bits[:, 130:].any()


def test_from_masks_roundtrip_and_errors():
    rng = np.random.default_rng(0)
    M = rng.random((70, 9)) < 0.5
    arr = fixntk.Arrangement.from_masks(M)
    np.testing.assert_array_equal(arr.masks, M)
    with pytest.raises(ValueError, match="cannot be applied"):
        arr.apply(rng.standard_normal((3, 2)))
    with pytest.raises(ValueError, match="0 or 1"):
        fixntk.Arrangement.from_masks(M * 2.0 + 0.5)
    with pytest.raises(ValueError, match="2-d"):
        fixntk.Arrangement.from_masks(M[:, 0])


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_n_gates(bad):
    X, _ = planted(n=20, d=2)
    with pytest.raises(ValueError, match="n_gates"):
        fixntk.sample_arrangement(X, bad)


@pytest.mark.parametrize(
    "n, d, n_gates, rounded",
    [(1, 1, 5, False), (63, 1, 64, True), (130, 3, 129, False), (700, 17, 300, True)],
)
def test_numpy_route_equals_the_kernels_bit_for_bit(n, d, n_gates, rounded):
    """Small inputs skip the Numba kernels (their first load costs more than the work):
    the NumPy twins give the same gates, words, hashes and packing, bit for bit
    (rounded data: exact zero scores, which count as set)."""
    from fixntk import _gates

    X = np.random.default_rng(n + d).standard_normal((n, d)) * 3.0
    if rounded:
        X = np.round(X)
    XT = np.ascontiguousarray(X.T)
    root = _gates.seed_sequence(4)
    chunk = 16  # several products per block
    for a, b in zip(
        _arrangement._gates_numpy(root, XT, n_gates),
        _arrangement._gates_numba(root, XT, n_gates, chunk),
    ):
        np.testing.assert_array_equal(a, b)
    words = _arrangement._gates_numpy(root, XT, n_gates)[1]
    np.testing.assert_array_equal(_gates.hash_rows(words), _gates.hash_words(words))
    M = X @ np.random.default_rng(1).standard_normal((d, 37)) >= 0
    nwords = _gates.n_words(n)
    np.testing.assert_array_equal(
        _gates.pack_bool_columns(M, nwords),
        _gates._pack_bool_columns_call(0, M, nwords),
    )
    # the route taken by sample_arrangement is the NumPy one here
    assert n_gates * n <= _gates.NUMPY_WORK


def test_thread_count_does_not_change_result(tmp_path):
    # 3000 gates on 2000 rows: the Numba kernels (above NUMPY_WORK scores)
    script = (
        "import numpy as np, fixntk;"
        "X = np.random.default_rng(0).standard_normal((2000, 6));"
        "a = fixntk.sample_arrangement(X, 3000, seed=11);"
        f"np.save(r'{tmp_path}/' + "
        "__import__('os').environ['NUMBA_NUM_THREADS'], a.words)"
    )
    for t in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=t, OMP_NUM_THREADS=t)
        subprocess.run([sys.executable, "-c", script], check=True, env=env)
    np.testing.assert_array_equal(
        np.load(tmp_path / "1.npy"), np.load(tmp_path / "2.npy")
    )


def test_an_arrangement_used_on_other_data_is_warned_about():
    """Gates sampled on X, then a solve on standardised X: the stored masks are not
    the gates' on the new X (the program is another model's, with no word). Warned,
    by solve and ntk_weights; the same X, or given masks, solve quietly."""
    import warnings

    rng = np.random.default_rng(0)
    X = 3.0 * rng.standard_normal((500, 5)) + 2.0
    arr = fixntk.sample_arrangement(X, 50, seed=0)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixntk.solve(X, X[:, 0], arr, 0.1)
        fixntk.solve(Xs, X[:, 0], arr.masks, 0.1)
    with pytest.warns(UserWarning, match="not its gates' on this X"):
        fixntk.solve(Xs, X[:, 0], arr, 0.1)
    with pytest.warns(UserWarning, match="built on other data"):
        fixntk.ntk_weights(Xs, arr, n_samples=1000)
    # gates of another width (built on X with a bias column, then used without it):
    # the same warning kind; it was skipped, with no word at all
    wide = fixntk.sample_arrangement(np.c_[X, np.ones(500)], 50, seed=0)
    for call in (
        lambda: fixntk.solve(X, X[:, 0], wide, 0.1),
        lambda: fixntk.lambda_max(X, X[:, 0], wide),
        lambda: fixntk.solve(X[:, :4], X[:, 0], arr, 0.1),
    ):
        with pytest.warns(UserWarning, match=r"gates have \d features but X has \d"):
            call()


@pytest.mark.parametrize("kind", ["width", "data"])
def test_irls_warns_once_about_an_arrangement_built_on_other_data(kind):
    """irls checked the arrangement against X, then its NTK start (ntk_weights) did
    again: the same warning twice under simplefilter("always")."""
    import warnings

    rng = np.random.default_rng(0)
    X = 3.0 * rng.standard_normal((200, 3)) + 2.0
    if kind == "width":
        arr, Xs = fixntk.sample_arrangement(np.c_[X, np.ones(200)], 20, seed=0), X
    else:
        arr, Xs = fixntk.sample_arrangement(X, 20, seed=0), (X - 2.0) / 3.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fixntk.irls(Xs, X[:, 0], arr, lam=0.01)
    said = [w for w in caught if "the arrangement's" in str(w.message)]
    assert len(said) == 1, [str(w.message)[:80] for w in caught]


def test_apply_refuses_a_frame_with_other_columns():
    """Gates sampled on a data frame, applied to its columns in another order: 44% of
    the mask entries differed, silently (tester FA). The column names are kept and a
    frame whose columns differ is refused; an array or the same columns pass."""
    import pandas as pd

    X, _ = planted(n=200, d=5, seed=2)
    df = pd.DataFrame(X, columns=list("abcde"))
    arr = fixntk.sample_arrangement(df, 40, seed=0)
    assert list(arr.feature_names_in_) == list("abcde")
    np.testing.assert_array_equal(arr.apply(df), arr.masks)
    np.testing.assert_array_equal(arr.apply(X), arr.masks)
    with pytest.raises(ValueError, match="in the same order: sampled on"):
        arr.apply(df[list("edcba")])
    assert fixntk.sample_arrangement(X, 40, seed=0).feature_names_in_ is None


def test_too_many_gates_name_n_gates():
    """n_gates beyond memory: the error named the internal function and said 'reduce
    the problem size' (the command line's user never saw which option; tester AO)."""
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(MemoryError, match=r"sample fewer gates \(n_gates\)$"):
        fixntk.sample_arrangement(X, n_gates=10**13, seed=0)
    from fixntk.cli._models import in_option_words

    assert in_option_words("sample fewer gates (n_gates)").endswith("(--n-gates)")


def test_packed_words_padding_bits_are_cleared_and_shapes_checked():
    """Arrangement(~arr.words, n), the natural complement of every mask, set the
    padding bits past row n: solve read rows past X's end (LAPACK failures, gaps that
    changed from run to run) and ntk_weights returned zeros (tester EF). The padding
    is cleared (on a copy); gates and counts of the wrong shape, and words that are
    not integers, are refused."""
    rng = np.random.default_rng(0)
    n = 70
    X = rng.standard_normal((n, 3))
    y = X[:, 0] - np.maximum(X[:, 1], 0)
    arr = fixntk.sample_arrangement(X, 10, seed=0, linear_group=False)
    words = ~arr.words
    comp = fixntk.Arrangement(words, n)
    want = fixntk.Arrangement.from_masks(~arr.masks)
    np.testing.assert_array_equal(comp.words, want.words)
    assert np.all(words[:, -1] >> np.uint64(n % 64))  # the caller's words unchanged
    a = fixntk.solve(X, y, comp, 0.05)
    b = fixntk.solve(X, y, want, 0.05)
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(
        fixntk.ntk_weights(X, comp, seed=0).eta,
        fixntk.ntk_weights(X, want, seed=0).eta,
    )
    with pytest.raises(ValueError, match=r"gates must have shape \(p, d\) with p = 10"):
        fixntk.Arrangement(arr.words, n, gates=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"counts must have shape \(10,\)"):
        fixntk.Arrangement(arr.words, n, counts=np.ones(3))
    with pytest.raises(ValueError, match="unsigned 64-bit words"):
        fixntk.Arrangement(arr.words.astype(float), n)
