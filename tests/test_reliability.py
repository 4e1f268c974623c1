"""Reliability: no leaks, bit-identical results whatever the thread count, Ctrl-C in
long runs, and a clear error (or a finite answer) for every bad input at every entry.

``python tests/test_reliability.py OUT.md`` writes the table of bad inputs tried and
what each entry point did with them.
"""

import dataclasses
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import interrupt_after_ready, planted

import fixntk

# --------------------------------------------------------------------------- leaks

# Run in a fresh process: in a long-lived one (the whole suite) memory freed by earlier
# tests stays resident and would absorb a leak unseen. 1000 calls with at most 20 MB of
# growth is 20 KB per call: a leak of the smallest buffer the compiled solver copies per
# call (X / max|X|, 1000 x 4 doubles = 32 KB) gives 32 MB and fails; the same run with
# a deliberate 100 KB leak per call must exceed the bound (it shows the measure works).
_LEAK_BOUND = 20 << 20
_LEAK_RUN = r"""
import os, sys, numpy as np, fixntk
from conftest import planted

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

X, y = planted(n=1000, d=4, seed=0)
arr = fixntk.sample_arrangement(X, 30, seed=0)
lam = 0.1 * fixntk.lambda_max(X, y, arr)
Xs, ys = X[:120], y[:120]
small = fixntk.sample_arrangement(Xs, 15, seed=0)
lam_s = 0.05 * fixntk.lambda_max(Xs, ys, small)
leak_kb, kept = int(sys.argv[1]), []

def one(k):
    assert fixntk.solve(X, y, arr, lam, tol=1e-6).converged
    if k % 10 == 0:  # a tenth of the calls also run IRLS and the NTK weights
        fixntk.irls(Xs, ys, small, lam_s, eta0="counts", tol=1e-4, max_iter=50)
        fixntk.ntk_weights(Xs, small, 2000, seed=k)
    if leak_kb:
        kept.append(np.ones(leak_kb * 128))  # touched, so resident

for k in range(50):  # warm-up: compiled code, caches, allocator pools
    one(k)
before = rss()
for k in range(1000):
    one(k)
print(rss() - before)
"""


def _rss_growth(leak_kb):
    out = subprocess.run(
        [sys.executable, "-c", _LEAK_RUN, str(leak_kb)],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(__file__),
    ).stdout
    return int(out.split()[-1])


def test_repeated_calls_keep_resident_memory_flat():
    assert _rss_growth(0) < _LEAK_BOUND
    assert _rss_growth(100) > _LEAK_BOUND  # a 100 KB per call leak would be caught


# --------------------------------------------------------------------------- threads

_DIGESTS = r"""
import hashlib, sys, numpy as np, fixntk
def h(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
rng = np.random.default_rng(0)
X = rng.standard_normal((300, 3))
y = np.maximum(X @ rng.standard_normal((3, 3)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 3000, seed=5)
eta = fixntk.ntk_weights(X, arr, 50_000, seed=9).eta
lam = 0.01 * fixntk.lambda_max(X, y, arr)
print("masks", h(arr.masks), "gates", h(arr.gates), "counts", h(arr.counts))
print("eta", h(eta), "nnz", np.count_nonzero(eta))
np.savez(sys.argv[1], ntk=fixntk.ntk_kernel(X), mkl=fixntk.mkl_kernel(X, arr, eta))
res = fixntk.solve(X, y, arr, lam, tol=1e-8)
print("solve", h(res.coef), "active", res.active_set.size, res.converged)
small = fixntk.sample_arrangement(X[:150], 40, seed=1)
fit = fixntk.irls(X[:150], y[:150], small, 0.05, eta0="counts", tol=1e-6)
print("irls", h(fit.coef), fit.converged)
# groups of ~3000 rows: the block steps' row loops run in chunks shared by the threads
X2 = rng.standard_normal((6000, 30))
Y2 = np.maximum(X2 @ rng.standard_normal((30, 3)), 0)
arr2 = fixntk.sample_arrangement(X2, 30, seed=2)
for Y in (Y2[:, 0], Y2):
    big = fixntk.solve(X2, Y, arr2, 0.05 * fixntk.lambda_max(X2, Y, arr2), tol=1e-8)
    print("wide", h(big.coef), "active", big.active_set.size, big.converged)
"""


def test_same_seed_bit_identical_with_one_or_two_threads(tmp_path):
    """Arrangement (masks, gates, counts), NTK weights, solve and irls: bit-identical.

    test_arrangement / test_ntk check the packed words and eta alone; this covers the
    rest of the pipeline, which also runs OpenMP (compiled core) and BLAS. The two
    kernels are BLAS products, whose summation order a threaded BLAS may change: they
    must agree to round-off."""
    outs, kernels = [], []
    for t in ("1", "2"):
        env = dict(
            os.environ, NUMBA_NUM_THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t
        )
        path = tmp_path / f"kernels{t}.npz"
        outs.append(
            subprocess.run(
                [sys.executable, "-c", _DIGESTS, str(path)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        kernels.append(np.load(path))
    assert outs[0] == outs[1]
    for name in ("ntk", "mkl"):
        np.testing.assert_allclose(
            kernels[0][name],
            kernels[1][name],
            rtol=1e-12,
            atol=1e-14 * np.abs(kernels[0][name]).max(),
        )
    words = outs[0].split()
    assert words[words.index("active") + 1] != "0" and "True" in words  # not vacuous
    wide = [line.split() for line in outs[0].splitlines() if line.startswith("wide")]
    assert len(wide) == 2 and all(w[-1] == "True" and w[-2] != "0" for w in wide)
    assert int(words[words.index("nnz") + 1]) > 10


_FORKED = r"""
import os, numpy as np, fixntk
rng = np.random.default_rng(0)
X = rng.standard_normal((6000, 30))
y = np.maximum(X @ rng.standard_normal((30, 3)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 30, seed=1)
lam = 0.05 * fixntk.lambda_max(X, y, arr)
first = fixntk.solve(X, y, arr, lam, tol=1e-8)
pid = os.fork()
if pid == 0:
    again = fixntk.solve(X, y, arr, lam, tol=1e-8)
    os._exit(0 if np.array_equal(first.coef, again.coef) else 3)
print("child", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), first.converged)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_solve_in_a_forked_child_after_a_threaded_solve():
    """multiprocessing's "fork" start method after a fit: the child's solve must run
    (libgomp's thread pool hangs in a forked child; the core's threads are its own) and
    give the parent's coefficients."""
    env = dict(os.environ, OMP_NUM_THREADS="2", NUMBA_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, "-c", _FORKED],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert out.split() == ["child", "0", "True"]


# --------------------------------------------------------------------------- Ctrl-C

_AFTER = r"""
small = fixntk.sample_arrangement(X[:200], 20, seed=0)
lm = fixntk.lambda_max(X[:200], y[:200], small)
print("usable", fixntk.solve(X[:200], y[:200], small, 0.1 * lm).converged, flush=True)
"""

_LONG_IRLS = (
    r"""
import warnings, numpy as np, fixntk
rng = np.random.default_rng(0)
X = rng.standard_normal((1500, 10))
y = np.maximum(X @ rng.standard_normal((10, 20)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 400, seed=0)
lam = 1e-4 * fixntk.lambda_max(X, y, arr)
print("ready", flush=True)
try:
    fixntk.irls(X, y, arr, lam, eta0="counts", tol=1e-15, max_iter=10**7,
                newton_tol=None, method="dual")
    print("finished")
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    + _AFTER
)

_LONG_PATH = (
    r"""
import numpy as np, fixntk
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 30))
y = np.maximum(X @ rng.standard_normal((30, 20)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 1500, seed=0)
print("ready", flush=True)
try:
    fixntk.solve_path(X, y, arr, n_lams=200, eps=1e-6, tol=1e-14, max_iter=10**9)
    print("finished")
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    + _AFTER
)


@pytest.mark.parametrize("script", [_LONG_IRLS, _LONG_PATH], ids=["irls", "solve_path"])
def test_ctrl_c_interrupts_and_leaves_process_usable(script):
    # irls: wait past the first (uninterruptible, about 2.5 s) eigh of the 1-d scale
    # search, so that the signal lands in the reweighting loop
    out, _ = interrupt_after_ready(script, wait=4.0)
    lines = out.split()
    assert "interrupted" in lines and "finished" not in lines
    assert "usable" in lines and lines[lines.index("usable") + 1] == "True"


# --------------------------------------------------------------------------- bad input


@dataclasses.dataclass
class Case:
    """Inputs of one call: X (the kernel K for kare), y, masks, lam, tol, n_gates.

    ``tx`` transforms the main array (X or K) just before the call; ``lam_given`` says
    whether the entries with a grid (solve_path, select_lambda_kare) get ``[lam]``."""

    X: object
    y: object
    masks: object
    lam: object = 0.05
    tol: object = 1e-6
    n_gates: object = 20
    tx: object = None
    ytx: object = None
    lam_given: bool = False


def _base(n=30, d=3, seed=0, X=None):
    if X is None:
        X, y = planted(n=n, d=d, n_teacher=3, seed=seed)
    else:
        y = planted(n=X.shape[0], d=X.shape[1], seed=seed)[1]
    return Case(X, y, fixntk.sample_arrangement(X, 20, seed=0).masks)


def _set(**kw):
    return lambda c: dataclasses.replace(c, **kw)


def _tx(f):
    return lambda c: dataclasses.replace(c, tx=f)


def _poke(value):
    def f(A):
        A = np.array(A, dtype=type(value) if isinstance(value, complex) else None)
        A = A.astype(object) if isinstance(value, str) else A
        A.flat[0] = value
        return A

    return f


def _ones_column(c):
    X = c.X.copy()
    X[:, 1] = 1.0
    return _base(X=X)


def _sparse(A):
    import scipy.sparse as sp

    return sp.csr_matrix(A)


def _frame(A):
    import pandas as pd

    return pd.DataFrame(A)


_EMPTY = "(?i)empty|0 sample|0 feature|square|n >= 1"
_CASES = {  # name: (what it changes, how, keyword an error must contain or None)
    "NaN in X": ("X", _tx(_poke(np.nan)), "NaN"),
    "inf in X": ("X", _tx(_poke(np.inf)), "(?i)inf"),
    "1-D X": ("X", _tx(lambda A: A[:, 0]), "(?i)2-dim|2D|square|dim"),
    "3-D X": ("X", _tx(lambda A: A[:, :, None]), "(?i)2-dim|dim 3|square|dim"),
    "n = 0": ("X", _tx(lambda A: A[:0]), _EMPTY),
    "d = 0": ("X", _tx(lambda A: A[:, :0]), _EMPTY),
    "string X": (
        "X",
        _tx(lambda A: np.char.add(A.astype(str), "x")),
        "(?i)dtype|real|string",
    ),
    "object X (a str)": ("X", _tx(_poke("a")), "(?i)object|non-numeric|string"),
    "complex X": ("X", _tx(lambda A: A + 1j), "(?i)complex"),
    "NaN in y": ("y", _set(ytx=_poke(np.nan)), "NaN"),
    "inf in y": ("y", _set(ytx=_poke(np.inf)), "(?i)inf"),
    "complex y": ("y", _set(ytx=lambda y: y + 1j), "(?i)complex"),
    "len(y) != n": ("y", _set(ytx=lambda y: y[:-1]), "(?i)match|inconsistent"),
    "masks with n-1 rows": (
        "masks",
        lambda c: _set(masks=c.masks[:-1])(c),
        "(?i)must match",
    ),
    "masks with p = 0": ("masks", lambda c: _set(masks=c.masks[:, :0])(c), "p = 0"),
    "lam < 0": ("lam", _set(lam=-1.0, lam_given=True), "(?i)lam.*> 0"),
    "lam NaN": ("lam", _set(lam=np.nan, lam_given=True), "(?i)lam.*finite"),
    "lam 'foo'": ("lam", _set(lam="foo", lam_given=True), "(?i)lam"),
    "tol = 0": ("tol", _set(tol=0.0), "(?i)tol.*> 0"),
    "tol < 0": ("tol", _set(tol=-1e-3), "(?i)tol.*> 0"),
    "tol >= 1": ("tol", _set(tol=5.0), "(?i)tol.*< 1"),
    "n_gates = 0": ("n_gates", _set(n_gates=0), "(?i)n_gates.*>= 1"),
    # accepted
    "float32": ("X", _tx(lambda A: A.astype(np.float32)), None),
    "Fortran order": ("X", _tx(np.asfortranarray), None),
    "non-contiguous": ("X", _tx(lambda A: np.repeat(A, 2, axis=1)[:, ::2]), None),
    "nested lists": (
        "X",
        lambda c: dataclasses.replace(
            c, tx=lambda A: A.tolist(), ytx=lambda y: y.tolist()
        ),
        None,
    ),
    "pandas DataFrame": ("X", _tx(_frame), None),
    "scipy.sparse": ("X", _tx(_sparse), "(?i)sparse"),  # handled or a TypeError
    "n < d": ("X", lambda c: _base(n=8, d=20), None),
    "d = 1": ("X", lambda c: _base(d=1), None),
    "duplicate rows": ("X", lambda c: _base(X=np.repeat(c.X[:15], 2, axis=0)), None),
    "constant column": ("X", _ones_column, None),
    "y all zero": ("y", _set(ytx=np.zeros_like), None),
    "lam = 0": ("lam", _set(lam=0.0, lam_given=True), "(?i)lam = 0|lams? must be > 0"),
}
# Accepted inputs that an entry refuses on purpose, with the keyword of its message.
_REFUSALS = {
    "scipy.sparse": "(?i)sparse",  # masks make every row dense
    "lam = 0": "(?i)lam = 0|lams? must be > 0",  # no certificate at lam = 0
    ("y all zero", "solve_path"): "lambda_max is 0",  # the default grid is empty
    ("y all zero", "GatedReLUClassifier.fit"): "2 classes",
    ("y all zero", "NTKClassifier.fit"): "2 classes",
    ("y all zero", "ReLUClassifier.fit"): "2 classes",
    # KARE is 0 at every lam: no lam to choose
    ("y all zero", "select_lambda_kare"): "y is all zero",
}


def _kernel(X):
    return fixntk.ntk_kernel(X)


def _main(c, kernel=False):
    A = _kernel(c.X) if kernel else c.X
    return c.tx(A) if c.tx else A


def _y(c):
    return c.ytx(c.y) if c.ytx else c.y


def _grid(c):
    return [c.lam] if c.lam_given else None


def _coef_for(c, A):
    p = np.shape(c.masks)[-1] if np.ndim(c.masks) == 2 else 1
    d = np.shape(A)[-1] if np.ndim(A) >= 1 else 1
    return np.random.default_rng(0).standard_normal((p, d))


def _labels(y):
    y = np.asarray(y)
    if y.dtype.kind != "f":
        return y
    return np.where(np.isfinite(y), (y > np.median(y[np.isfinite(y)])) * 1.0, y)


def _estimator(name, c):
    from fixntk import (
        GatedReLUClassifier,
        GatedReLURegressor,
        NTKClassifier,
        NTKRegressor,
        ReLUClassifier,
        ReLURegressor,
    )

    cls = dict(
        GatedReLURegressor=GatedReLURegressor,
        GatedReLUClassifier=GatedReLUClassifier,
        NTKRegressor=NTKRegressor,
        NTKClassifier=NTKClassifier,
        ReLURegressor=ReLURegressor,
        ReLUClassifier=ReLUClassifier,
    )[name]
    if name.startswith("NTK"):
        return cls(lam=c.lam)
    return cls(n_gates=c.n_gates, lam=c.lam, tol=c.tol, random_state=0)


def _fit(name, c):
    y = _y(c)
    return _estimator(name, c).fit(_main(c), _labels(y) if "Classifier" in name else y)


def _predict(name, c):
    clean = dataclasses.replace(c, tx=None, ytx=None)
    return _fit(name, clean).predict(_main(c))


_ENTRIES = {  # name: (inputs it reads, call)
    "solve": (
        "X y masks lam tol",
        lambda c: fixntk.solve(_main(c), _y(c), c.masks, c.lam, tol=c.tol),
    ),
    "solve_path": (
        "X y masks lam tol",
        lambda c: fixntk.solve_path(
            _main(c), _y(c), c.masks, lams=_grid(c), n_lams=3, tol=c.tol
        ),
    ),
    "lambda_max": ("X y masks", lambda c: fixntk.lambda_max(_main(c), _y(c), c.masks)),
    "sample_arrangement": (
        "X n_gates",
        lambda c: fixntk.sample_arrangement(_main(c), c.n_gates, seed=0),
    ),
    "ntk_weights": (
        "X masks",
        lambda c: fixntk.ntk_weights(_main(c), c.masks, 2000, seed=0),
    ),
    "ntk_kernel": ("X", lambda c: fixntk.ntk_kernel(_main(c))),
    "mkl_kernel": (
        "X masks",
        lambda c: fixntk.mkl_kernel(_main(c), c.masks, np.ones(np.shape(c.masks)[-1])),
    ),
    "kare": ("X y lam", lambda c: fixntk.kare(_main(c, True), _y(c), c.lam)),
    "select_lambda_kare": (
        "X y lam",
        lambda c: fixntk.select_lambda_kare(
            _main(c, True), _y(c), lams=_grid(c), n_lams=5
        ),
    ),
    "irls": (
        "X y masks lam tol",
        lambda c: fixntk.irls(
            _main(c), _y(c), c.masks, c.lam, tol=c.tol, n_samples=2000, max_iter=100
        ),
    ),
    "solve_relu": (
        "X y masks lam tol",
        lambda c: fixntk.solve_relu(_main(c), _y(c), c.masks, c.lam, tol=c.tol),
    ),
    "gated_to_relu": (
        "X masks",
        lambda c: fixntk.gated_to_relu(_main(c), c.masks, _coef_for(c, _main(c))),
    ),
}
for _name in (
    "GatedReLURegressor",
    "GatedReLUClassifier",
    "ReLURegressor",
    "ReLUClassifier",
    "NTKRegressor",
    "NTKClassifier",
):
    _gated = "NTK" not in _name
    _ENTRIES[f"{_name}.fit"] = (
        "X y lam" + " tol n_gates" * _gated,
        lambda c, _n=_name: _fit(_n, c).predict(c.X),
    )
    _ENTRIES[f"{_name}.predict"] = ("X", lambda c, _n=_name: _predict(_n, c))


def _finite(out):
    """True when every number in a result (arrays, dataclasses, tuples) is finite."""
    if isinstance(out, fixntk.Arrangement):
        return _finite((out.masks, out.gates, out.counts))
    if dataclasses.is_dataclass(out):
        return _finite([getattr(out, f.name) for f in dataclasses.fields(out)])
    if isinstance(out, (tuple, list)):
        return all(_finite(v) for v in out)
    if isinstance(out, (np.ndarray, float, int, np.number)):
        a = np.asarray(out)
        return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())
    return True  # strings, None, seeds


def _run(case_name, entry_name):
    """("ok", None), ("raised", exception) or ("n/a", None): one case at one entry."""
    what, make, _ = _CASES[case_name]
    reads, call = _ENTRIES[entry_name]
    if what not in reads.split():
        return "n/a", None
    case = make(_base())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning / grid-end warnings
        try:
            out = call(case)
        except Exception as exc:  # noqa: BLE001 - recorded and judged by the caller
            return "raised", exc
    assert _finite(out), f"{entry_name} returned a non-finite result for {case_name}"
    return "ok", None


@pytest.mark.parametrize(
    "case, entry",
    [
        (case, entry)
        for case in _CASES
        for entry in _ENTRIES
        if _CASES[case][0] in _ENTRIES[entry][0].split()  # the entry reads that input
    ],
)
def test_bad_inputs_get_a_clear_error_and_good_ones_an_answer(case, entry):
    _, _, keyword = _CASES[case]
    status, exc = _run(case, entry)
    refusal = _REFUSALS.get((case, entry), _REFUSALS.get(case))
    if keyword is not None and keyword != refusal:  # a bad input: must be refused
        assert status == "raised", f"{entry} accepted {case!r}"
        assert isinstance(exc, (ValueError, TypeError)), repr(exc)
        with pytest.raises(type(exc), match=keyword):
            raise exc
    elif status == "raised":  # accepted input: an answer, or a documented refusal
        assert refusal is not None, f"{entry} refused {case!r}: {exc!r}"
        assert isinstance(exc, (ValueError, TypeError)), repr(exc)
        with pytest.raises(type(exc), match=refusal):
            raise exc


# --------------------------------------------------------------------------- pickles


def test_pickle_from_an_incompatible_version_is_refused(monkeypatch):
    X, y = planted(n=60, d=3, seed=0)
    ests = [
        fixntk.GatedReLURegressor(n_gates=10, lam=0.01, random_state=0),
        fixntk.NTKRegressor(lam=0.01),
        fixntk.ReLURegressor(n_gates=10, lam=0.01, random_state=0),
        fixntk.KAREKernelRegressor(n_gates=10, max_iter=3, random_state=0),
    ]
    for est in ests:
        est.fit(X, y)
        state = est.__getstate__()
        assert state["_fixntk_version"] == fixntk.__version__
        same = pickle.loads(pickle.dumps(est))  # same version: loads
        np.testing.assert_array_equal(same.predict(X), est.predict(X))
        major = int(fixntk.__version__.split(".")[0])
        future = f"{major + 1}.0.0"
        monkeypatch.setattr(
            type(est),
            "__getstate__",
            lambda self, s=state, v=future: dict(s, _fixntk_version=v),
        )
        blob = pickle.dumps(est)
        monkeypatch.undo()
        with pytest.raises(
            ValueError,
            match=rf"fixntk {major + 1}\.0\.0.*"
            rf"fixntk {fixntk.__version__}.*incompatible",
        ):
            pickle.loads(blob)
        old = {k: v for k, v in state.items() if k != "_fixntk_version"}
        fresh = type(est).__new__(type(est))
        with pytest.raises(ValueError, match="unknown version"):
            fresh.__setstate__(old)


# --------------------------------------------------------------------------- table


def write_table(path):
    entries = list(_ENTRIES)
    lines = [
        "| input | " + " | ".join(entries) + " |",
        "|---" * (len(entries) + 1) + "|",
    ]
    for case in _CASES:
        cells = []
        for entry in entries:
            status, exc = _run(case, entry)
            if status == "raised":
                msg = str(exc).splitlines()[0].replace("|", "/")
                cells.append(f"{type(exc).__name__}: {msg[:90]}")
            else:
                cells.append({"ok": "finite result", "n/a": "-"}[status])
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_table(sys.argv[1])


def test_ntk_kernel_keeps_the_angle_at_extreme_scales():
    """k(s x, z / s) = k(x, z): row norms and their product must not overflow to inf
    (which silently made every angle 90 degrees) while x^T z is representable."""
    rng = np.random.default_rng(0)
    X, Z = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    for s in (1e160, 1e-160):
        np.testing.assert_allclose(
            fixntk.ntk_kernel(s * X, Z / s), fixntk.ntk_kernel(X, Z), rtol=1e-12
        )
    with pytest.raises(ValueError, match="double precision"):
        fixntk.ntk_kernel(1e160 * X)  # the Gram matrix itself overflows


class _ProcessWideBlas:
    """A stand-in for threadpoolctl's controller: BLAS's one process-wide thread count,
    a limiter restoring the count it found (whatever the BLAS build does with a count
    set outside the main thread); OpenMP's counts, each thread's own, untouched."""

    def __init__(self):
        self.blas = 3

    def limit(self, limits, user_api=None):
        owner, saved = self, self.blas

        class Limiter:
            def restore_original_limits(self):
                if user_api == "blas":
                    owner.blas = saved

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.restore_original_limits()

        if user_api == "blas":
            self.blas = limits
        return Limiter()


@pytest.mark.parametrize("first", ["chunk", "blas"])
@pytest.mark.parametrize("second", ["chunk", "blas"])
@pytest.mark.parametrize("leaves_first", ["first", "second"])
def test_one_blas_thread_limits_left_in_any_order_restore_the_count_of_before(
    monkeypatch, first, second, leaves_first
):
    # Dask's chunk tasks on a threaded scheduler, and solves in several Python threads,
    # limit the process-wide BLAS to one thread and leave in any order: the count
    # stays at one while any holds its limit, and the last to leave restores the count
    # of before the first came (with a limiter per chunk task, the first leaving first
    # restored it under the second, which then left the process at one thread for
    # good: tester CP).
    pytest.importorskip("dask")
    from fixntk import _threads
    from fixntk.dask._chunks import one_thread

    fake = _ProcessWideBlas()
    monkeypatch.setattr(_threads, "_CONTROLLER", fake)
    made = {"chunk": one_thread, "blas": lambda: _threads.blas_threads(1)}
    a, b = made[first](), made[second]()
    out, last = (a, b) if leaves_first == "first" else (b, a)
    entered = []
    try:
        for cm in (a, b):
            cm.__enter__()
            entered.append(cm)
        assert fake.blas == 1
        entered.remove(out)
        out.__exit__(None, None, None)
        assert fake.blas == 1
        entered.remove(last)
        last.__exit__(None, None, None)
        assert fake.blas == 3
    finally:  # a failure leaves no limit held for the next test
        for cm in entered:
            cm.__exit__(None, None, None)


def _thread_counts(api):
    """The thread counts of the libraries of ``api`` that fixntk's controller knows (for
    OpenMP: the compiled core's runtime, not another package's bundled copy), as the
    calling thread sees them."""
    from threadpoolctl import threadpool_info

    from fixntk._threads import controller

    ours = {lib.filepath for lib in controller().lib_controllers if lib.user_api == api}
    return {i["num_threads"] for i in threadpool_info() if i["filepath"] in ours}


def test_every_chunk_task_runs_the_core_on_one_thread_beside_the_others():
    # The core's helper threads follow OpenMP's thread count, each thread's own: two
    # chunk tasks held at once in two threads each run the core's row loops alone. The
    # limit once reached no OpenMP at all (the controller was made before the core
    # loaded its runtime), and one limit shared by all, as BLAS's is, would set only
    # the first task's thread.
    import threading

    pytest.importorskip("dask")
    from threadpoolctl import threadpool_limits

    from fixntk._cpu import core
    from fixntk.dask._chunks import one_thread

    first_in, second_done = threading.Event(), threading.Event()
    seen = {}

    def task(name, entered, leave):
        # each thread asks for 4 OpenMP threads first (a 1-CPU runner's default of 1
        # would pass without any limit; tester CQ)
        with threadpool_limits(limits=4, user_api="openmp"), one_thread():
            seen[name] = (_thread_counts("openmp"), core.team_helpers(64))
            if entered is not None:
                entered.set()
            if leave is not None:
                leave.wait(30)

    a = threading.Thread(target=task, args=("a", first_in, second_done))
    a.start()
    first_in.wait(30)
    b = threading.Thread(target=task, args=("b", None, None))
    b.start()
    b.join(30)
    second_done.set()
    a.join(30)
    assert seen == {"a": ({1}, 0), "b": ({1}, 0)}


def test_chunk_tasks_on_worker_threads_run_blas_on_one_thread():
    # threadpoolctl 3.8 lets the first thread that sets OpenBLAS's count keep control:
    # once the user's main thread had sized BLAS, the limits the chunk tasks set on
    # Dask's worker threads were ignored, and their products ran on every BLAS thread
    # (tester CP: a Dask solve 25 times slower on one core). The computing thread
    # holds the limit for them.
    dask = pytest.importorskip("dask")
    from threadpoolctl import threadpool_limits

    from fixntk.dask import _chunks

    if not _thread_counts("blas"):
        pytest.skip("no BLAS thread pool that threadpoolctl can see")

    def task():
        with _chunks.one_thread():
            return _thread_counts("blas")

    with threadpool_limits(limits=2, user_api="blas"):
        with dask.config.set(scheduler="threads", num_workers=2):
            seen = _chunks.run(dask.delayed(task, pure=False)())
        assert _thread_counts("blas") == {2}
    assert seen == {1}


def test_a_fit_silencing_its_scoring_warnings_leaves_other_threads_theirs(monkeypatch):
    # Tester CR: fits run in several threads at once (joblib's threading backend)
    # silenced their scoring solves' ConvergenceWarnings with warnings.catch_warnings,
    # which swaps the process's filters: another thread's warning issued meanwhile
    # was lost, and the 'ignore' could stay for the rest of the process. Here one fit
    # is held inside its lam search while another thread's solve stops early.
    import threading

    from sklearn.exceptions import ConvergenceWarning

    from fixntk import _relu_estimators

    inside, done = threading.Event(), threading.Event()
    grow = _relu_estimators._grow_bar

    def held(*args, **kwargs):
        if not inside.is_set():
            inside.set()
            done.wait(60)
        return grow(*args, **kwargs)

    monkeypatch.setattr(_relu_estimators, "_grow_bar", held)
    X, y = planted(n=120, d=3, seed=4)
    arr = fixntk.sample_arrangement(X, 20, seed=0)
    lam = 1e-4 * fixntk.lambda_max(X, y, arr)
    shown = []
    monkeypatch.setattr(warnings, "showwarning", lambda m, c, *a, **k: shown.append(c))
    filters = list(warnings.filters)
    monkeypatch.setattr(warnings, "filters", [("always", None, Warning, None, 0)])
    warnings._filters_mutated()
    errors = []

    def search():
        try:
            kw = dict(n_lams=3, n_gates=10, max_iter=200, random_state=0)
            fixntk.ReLURegressor(lam="cv", **kw).fit(X, y)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            inside.set()

    a = threading.Thread(target=search)
    a.start()
    inside.wait(60)
    try:
        res = fixntk.solve(X, y, arr, lam, max_iter=1)
    finally:
        done.set()
        a.join(60)
    after = list(warnings.filters)
    monkeypatch.setattr(warnings, "filters", filters)
    warnings._filters_mutated()
    assert not errors and not res.converged
    assert ConvergenceWarning in shown
    assert after == [("always", None, Warning, None, 0)]


def test_the_shared_blas_limit_restores_from_any_thread_and_keeps_no_control():
    # threadpoolctl 3.8 lets one thread set OpenBLAS's (pthreads) count: the first to
    # set it. The shared limit, set by its first holder and restored by its last (in
    # another thread), kept the first in control: the restore was ignored and the
    # process stayed at one BLAS thread, and other threads' limits were ignored after
    # fixntk had run (tester CQ). Real threads and the real controller here.
    import threading

    from threadpoolctl import threadpool_limits

    from fixntk._threads import blas_threads

    if not _thread_counts("blas"):
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    with threadpool_limits(limits=3, user_api="blas"):
        events = {k: threading.Event() for k in ("a_in", "b_in", "a_out", "a_end")}
        seen = []

        def first():
            with blas_threads(1):
                events["a_in"].set()
                events["b_in"].wait(30)
            events["a_out"].set()
            events["a_end"].wait(30)  # alive after leaving, as a pool's thread is

        def second():
            events["a_in"].wait(30)
            with blas_threads(1):
                events["b_in"].set()
                events["a_out"].wait(30)
                seen.append(_thread_counts("blas"))

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        threads[1].join(30)
        try:
            assert seen == [{1}]  # the second still held it after the first left
            assert _thread_counts("blas") == {3}  # restored by the last to leave
            with blas_threads(1):  # fixntk on this thread, then another's own limit
                pass
            other = []

            def own_limit():
                with threadpool_limits(limits=1, user_api="blas"):
                    other.append(_thread_counts("blas"))

            helper = threading.Thread(target=own_limit)
            helper.start()
            helper.join(30)
            assert other == [{1}]
        finally:
            events["a_end"].set()
            threads[0].join(30)


def test_gated_predictions_and_irls_keep_their_bits_on_more_blas_threads():
    """The README promises the same bits for the gated estimators and for irls below
    2000 x 2000 whatever the BLAS thread count (tester DO): a gated regressor's
    predict moved 6 of 5000 rows by 1.1e-16 from 1 to 2-4 BLAS threads (its forward
    products), irls on diabetes by 5e-12 (X X^T before the one-thread scope)."""
    from sklearn.datasets import load_diabetes
    from threadpoolctl import threadpool_limits

    if not _thread_counts("blas"):
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 8))
    y = np.maximum(X[:, :3], 0).sum(1) + 0.1 * rng.standard_normal(5000)
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    arr = fixntk.sample_arrangement(Xd, 100, seed=0)
    with threadpool_limits(limits=1, user_api="blas"):
        est = fixntk.GatedReLURegressor(n_gates=100, lam=1e-3, random_state=0)
        one = est.fit(X, y).predict(X)
        ref = fixntk.irls(Xd, yd, arr, 0.05).coef
    for threads in (2, 4):
        with threadpool_limits(limits=threads, user_api="blas"):
            assert np.array_equal(est.predict(X), one)
            assert np.array_equal(fixntk.irls(Xd, yd, arr, 0.05).coef, ref)
