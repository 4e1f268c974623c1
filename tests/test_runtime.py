import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import interrupt_after_ready, planted

import fixntk
from fixntk import _cpu

_LONG_SOLVE = r"""
import sys, numpy as np, fixntk
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 30))
y = np.maximum(X @ rng.standard_normal((30, 20)), 0).sum(1)
arr = fixntk.sample_arrangement(X, 1500, seed=0)
lam = 1e-4 * fixntk.lambda_max(X, y, arr)
print("ready", flush=True)
try:
    fixntk.solve(X, y, arr, lam, tol=1e-14, max_iter=10**9)
    print("finished")
except KeyboardInterrupt:
    print("interrupted", flush=True)
# the process is still usable afterwards
small = fixntk.sample_arrangement(X[:200], 20, seed=0)
res = fixntk.solve(
    X[:200], y[:200], small, 0.1 * fixntk.lambda_max(X[:200], y[:200], small)
)
print("usable", res.converged, flush=True)
"""


def test_ctrl_c_interrupts_solve_and_leaves_process_usable():
    out, _ = interrupt_after_ready(_LONG_SOLVE)
    lines = out.split()
    assert "interrupted" in lines and "finished" not in lines
    assert "usable" in out and "True" in out


def test_concurrent_solves_in_threads_match_sequential():
    problems = []
    # the last two: groups of ~3000 rows, whose block steps share the core's threads
    for seed, (n, d) in enumerate([(600, 5)] * 4 + [(6000, 30)] * 2):
        X, y = planted(n=n, d=d, seed=seed)
        arr = fixntk.sample_arrangement(X, 80 if n == 600 else 30, seed=seed)
        problems.append((X, y, arr, 0.05 * fixntk.lambda_max(X, y, arr)))
    sequential = [fixntk.solve(*p, tol=1e-9) for p in problems]
    results = [None] * len(problems)

    def work(i):
        results[i] = fixntk.solve(*problems[i], tol=1e-9).coef

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(problems))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    routed = [r.n_irls > 0 for r in sequential]
    assert any(routed) and not all(routed)  # both kinds of solve are checked
    for a, b in zip(sequential, results):
        if a.n_irls == 0:  # the compiled descent: bit for bit
            np.testing.assert_array_equal(a.coef, b)
        else:
            # the kernel route's n x n products and eigendecompositions: in a Python
            # thread other than the main one, this OpenBLAS (scipy-openblas 0.3.x,
            # threadpoolctl 3.8) runs them on its default thread count whatever
            # threadpoolctl's limit says, so they round differently
            scale = np.abs(a.coef).max()
            np.testing.assert_allclose(b, a.coef, rtol=0, atol=1e-11 * scale)


# --------------------------------------------------------------------------- builds

# Every path of the compiled solver: plain, sample weights with an intercept (row
# factors, centred block Grams), the multinomial's output weights and row shifts with an
# intercept (one Gram per output), several outputs; plus the dsyevd binding.
_SOLVE_S = r"""
import sys, numpy as np, fixntk
from fixntk import _cpu
from conftest import planted
X, y = planted(n=400, d=6, seed=4)
arr = fixntk.sample_arrangement(X, 60, seed=1)
w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
cases = [
    dict(),
    dict(sample_weight=w, fit_intercept=True),
    dict(loss="multinomial", fit_intercept=True),
]
objectives, coefs = [], []
for kw in cases:
    target = labels if kw.get("loss") == "multinomial" else y
    lam = 0.02 * fixntk.lambda_max(X, target, arr, **kw)
    res = fixntk.solve(X, target, arr, lam, tol=1e-10, **kw)
    assert res.converged, kw
    objectives.append(res.objective)
    coefs.append(res.coef.ravel())
Y = np.column_stack([y, np.sin(y)])
res = fixntk.solve(X, Y, arr, 0.02 * fixntk.lambda_max(X, Y, arr), tol=1e-10)
objectives.append(res.objective)
coefs.append(res.coef.ravel())
s, U = _cpu.core.sym_eig(X.T @ X)
coefs.append(s)
print(_cpu.build, *objectives)
np.save(sys.argv[1], np.concatenate(coefs))
"""


def _solve_in(build, out):
    env = dict(os.environ, FIXNTK_CPU=build)
    line = subprocess.run(
        [sys.executable, "-c", _SOLVE_S, str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(__file__),
        env=env,
    ).stdout.split()
    return line[0], np.array(line[1:], dtype=float), np.load(out)


@pytest.mark.skipif(
    _cpu.build not in ("x86-64", "x86-64-v3"), reason="x86-64 builds only"
)
def test_x86_64_builds_dispatch_and_agree(tmp_path):
    """The default build on x86-64 holds a baseline module and an x86-64-v3 module;
    the CPU's features choose, FIXNTK_CPU=x86-64 forces the baseline, and both builds
    solve every kind of problem to the same certified optimum (each the same on every
    run)."""
    assert _cpu.core.cpu_supports_x86_64_v3() == (_cpu.build == "x86-64-v3")
    base = _solve_in("x86-64", tmp_path / "a.npy")
    again = _solve_in("x86-64", tmp_path / "b.npy")
    assert base[0] == "x86-64"
    np.testing.assert_array_equal(base[2], again[2])  # deterministic per build
    if _cpu.core.cpu_supports_x86_64_v3():
        fast = _solve_in("x86-64-v3", tmp_path / "c.npy")
        assert fast[0] == "x86-64-v3"
        np.testing.assert_allclose(fast[1], base[1], rtol=1e-9)
        np.testing.assert_allclose(fast[2], base[2], atol=1e-6 * np.abs(base[2]).max())


def test_import_loads_the_public_names_on_first_use():
    """``import fixntk`` (and so ``fixntk --version``) loads no scikit-learn, SciPy,
    Numba or compiled core: 2.3 s before; the names load when first used."""
    script = (
        "import sys, fixntk\n"
        "heavy = ('sklearn', 'scipy', 'numba', 'fixntk._cpu')\n"
        "assert not [m for m in heavy if m in sys.modules], sorted(sys.modules)\n"
        "assert 'solve' in dir(fixntk) and callable(fixntk.solve)\n"
        "assert 'sklearn' in sys.modules and 'fixntk._cpu' in sys.modules\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="no attribute 'solver'"):
        fixntk.solver  # noqa: B018


def test_forcing_an_unknown_build_is_refused():
    script = "import fixntk; fixntk.solve"
    env = dict(os.environ, FIXNTK_CPU="pentium")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    if _cpu.build in ("x86-64", "x86-64-v3"):
        assert out.returncode != 0 and "FIXNTK_CPU must be" in out.stderr
    else:  # one build only: nothing to choose
        assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
@pytest.mark.skipif(_cpu.build not in ("x86-64", "x86-64-v3"), reason="x86-64 only")
def test_baseline_build_has_no_avx_instructions():
    """The baseline module runs on every x86-64 CPU: no VEX or EVEX (AVX and later)
    instruction in it. The x86-64-v3 module has them (the check can see them)."""
    import fixntk._core_x86_64 as base

    def mnemonics(path):
        out = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return {
            line.split("\t")[1].split()[0]
            for line in out.splitlines()
            if line.count("\t") >= 1 and line.split("\t")[1].strip()
        }

    assert not {m for m in mnemonics(base.__file__) if m.startswith("v")}
    if _cpu.build == "x86-64-v3":
        assert any(m.startswith("vfmadd") for m in mnemonics(_cpu.core.__file__))
