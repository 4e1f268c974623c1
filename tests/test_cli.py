import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from fixntk._cli import Progress


def run_cli(*args, cwd=None):
    """Run ``python -m fixntk ARGS`` in a subprocess (stderr is a pipe, not a tty)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "fixntk", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def write_csv(path, header, rows):
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for row in rows:
            fh.write(",".join(str(v) for v in row) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def classification_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 80
    X = rng.standard_normal((n, 3))
    label = np.where(X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3, "yes", "no")
    rows = [
        [f"{a:.5f}", f"{b:.5f}", f"{c:.5f}", lab] for (a, b, c), lab in zip(X, label)
    ]
    return write_csv(
        tmp_path_factory.mktemp("csv") / "small.csv", ["x1", "x2", "x3", "label"], rows
    )


@pytest.fixture(scope="module")
def regression_csv(tmp_path_factory):
    rng = np.random.default_rng(1)
    n = 60
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ [1.0, -2.0], 0) + 0.1 * rng.standard_normal(n) + 10
    rows = [[f"{a:.5f}", f"{b:.5f}", f"{t:.5f}"] for (a, b), t in zip(X, y)]
    return write_csv(
        tmp_path_factory.mktemp("csv") / "reg.csv", ["a", "b", "price"], rows
    )


def assert_clean_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fixntk ")
    for text in fragments:
        assert text in proc.stderr


def test_fit_on_a_csv_and_save_the_model(classification_csv, tmp_path):
    model = tmp_path / "model.pkl"
    proc = run_cli(
        "fit",
        classification_csv,
        "--target",
        "label",
        "--n-gates",
        "20",
        "--output",
        str(model),
    )
    assert proc.returncode == 0, proc.stderr
    assert "classification" in proc.stdout
    assert "active neurons" in proc.stdout
    assert "test accuracy" in proc.stdout
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    with open(model, "rb") as fh:
        pipe = pickle.load(fh)
    assert set(pipe.predict(np.zeros((2, 3)))) <= {"yes", "no"}


def test_compare_on_a_csv(regression_csv):
    proc = run_cli("compare", regression_csv, "--target", "price", "--n-gates", "20")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "regression" in out and "R^2" in out
    assert "NTK" in out and "fixed" in out and "objective NTK -> fixed" in out
    assert proc.stderr == ""


def test_demo_on_one_dataset_writes_the_figure(tmp_path):
    fig = tmp_path / "demo.png"
    proc = run_cli(
        "demo",
        "--datasets",
        "iris",
        "--n-gates",
        "20",
        "--n-lams",
        "5",
        "--figure",
        str(fig),
    )
    assert proc.returncode == 0, proc.stderr
    assert "iris" in proc.stdout and "accuracy" in proc.stdout
    assert "matches or beats the NTK on" in proc.stdout
    assert "KARE-trained kernel matches or beats the NTK on" in proc.stdout
    head, _, row = proc.stdout.splitlines()[1:4]
    assert "KARE-k" in head and "KARE" in head
    # three test scores and three KARE values, all finite and positive
    values = [float(v) for v in row.split()[4:10]]
    assert all(0 < v < np.inf for v in values)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "figure skipped: matplotlib is not installed" in proc.stdout
        assert not fig.exists()
    else:
        assert f"figure written to {fig}" in proc.stdout
        assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_file(tmp_path):
    assert_clean_error(
        run_cli("fit", str(tmp_path / "nope.csv"), "--target", "y"), "file not found"
    )


def test_missing_column(classification_csv):
    assert_clean_error(
        run_cli("compare", classification_csv, "--target", "price"),
        "column 'price' not found",
        "x1, x2, x3, label",
    )


def test_non_numeric_feature(tmp_path):
    rows = [[i, "red" if i == 4 else i * 0.5, i % 2] for i in range(20)]
    path = write_csv(tmp_path / "bad.csv", ["x", "colour", "y"], rows)
    assert_clean_error(
        run_cli("fit", path, "--target", "y"), "line 6", "column 'colour'", "'red'"
    )


def test_too_few_rows(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", ["x", "y"], [[i, i % 2] for i in range(5)])
    assert_clean_error(
        run_cli("compare", path, "--target", "y"), "5 data rows", "at least 10"
    )


def test_in_process_errors_and_thin_entry_point(tmp_path, capsys):
    from fixntk.__main__ import main

    assert main(["demo", "--datasets", "mnist"]) == 2
    assert "unknown dataset(s) mnist" in capsys.readouterr().err
    rows = [[i, "a" if i % 2 else "b"] for i in range(20)]
    path = write_csv(tmp_path / "labels.csv", ["x", "y"], rows)
    assert main(["fit", path, "--target", "y", "--task", "regression"]) == 2
    err = capsys.readouterr().err
    assert "non-numeric value" in err and "--task classification" in err


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    p = Progress(2, stream=quiet)
    p.step("iris: NTK")
    p.advance()
    p.close()
    assert quiet.getvalue() == ""

    tty = Tty()
    p = Progress(2, stream=tty)
    p.step("iris: NTK")
    p.advance()
    p.step("iris: fixed NTK")
    p.close()
    text = tty.getvalue()
    assert "[" in text and "1/2" in text and "iris: fixed NTK" in text


def test_compare_scores_the_three_kernels_by_kare():
    from types import SimpleNamespace

    from fixntk import kare, mkl_kernel, sample_arrangement
    from fixntk._cli import Dataset, _split, compare_on

    rng = np.random.default_rng(3)
    X = rng.standard_normal((90, 3))
    y = np.where(X[:, 0] * X[:, 1] > 0, "a", "b")
    data = Dataset("xor", X, y, "classification")
    args = SimpleNamespace(
        lam="kare", cv=3, seed=0, n_gates=20, n_lams=5, eps=1e-2, tol=1e-4
    )
    res = compare_on(data, args, Progress(3, enabled=False))
    assert [o.model for o in res.outcomes] == ["NTK", "fixed NTK", "KARE kernel"]
    for o in res.outcomes:
        assert np.isfinite(o.kare) and o.kare > 0 and 0 <= o.score <= 1
    ntk, fixed, kare_k = (o.estimator[-1] for o in res.outcomes)
    assert res.ntk.kare == ntk.kare_ and res.kare.kare == kare_k.kare_
    # the fixed NTK's KARE: its kernel H(eta), eta_i = ||w_i||, on the scaled
    # training part with the intercept column, one-hot labels, at its lam
    X_train, _, y_train, _ = _split(data, args.seed)
    Xt = res.fixed.estimator[0].transform(X_train)
    Xt = np.hstack([Xt, np.ones((Xt.shape[0], 1))])
    Y = (y_train[:, None] == np.array(["a", "b"])[None, :]).astype(float)
    arr = sample_arrangement(Xt, 20, seed=0)
    np.testing.assert_array_equal(arr.gates, fixed.gates_)
    ref = kare(mkl_kernel(Xt, arr, fixed.eta_), Y, fixed.lam_)
    assert res.fixed.kare == pytest.approx(ref, rel=1e-10)
    # the KARE kernel is learned on the same gates
    np.testing.assert_array_equal(kare_k.gates_, fixed.gates_)
