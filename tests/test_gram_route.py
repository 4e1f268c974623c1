"""fixntk.solve's working-set Gram route (fixntk._gram_ws), taken for the squared loss
where the rows far outnumber the masked columns: the same program and certificate as
the compiled descent over the rows, checked against it and against an independent
gap computed from the returned coefficients."""

import numpy as np
import pytest
from conftest import planted

import fixntk
from fixntk import _gram_ws
from fixntk._solver import _Problem


@pytest.fixture
def routes(monkeypatch):
    """Counts of the Gram route's problems made (one per solved program); the descent
    over the rows hands over after 5 epochs."""
    monkeypatch.setattr(_gram_ws, "_GRAM_MIN_EPOCHS", 5)
    made = []
    original = _gram_ws.MemoryGram.__init__

    def init(self, prob):
        made.append(prob.n)
        original(self, prob)

    monkeypatch.setattr(_gram_ws.MemoryGram, "__init__", init)
    return made


def tall_problem(c=None):
    X, y = planted(n=3000, d=3, seed=4, c=c)  # 40 groups of 3: 25 rows per column
    return X, y, fixntk.sample_arrangement(X, 40, seed=0)


def test_the_route_is_chosen_by_the_rows_per_masked_column(routes):
    X, y, arr = tall_problem()
    assert _gram_ws.gram_route_epochs(_Problem(X, y, arr)) == 5
    lam = 0.01 * fixntk.lambda_max(X, y, arr)
    fixntk.solve(X, y, arr, lam)
    assert routes == [3000]
    # 300 rows for 120 masked columns: the descent over the rows only
    small = X[:300], y[:300], fixntk.sample_arrangement(X[:300], 40)
    assert _gram_ws.gram_route_epochs(_Problem(*small)) == 0
    fixntk.solve(*small, lam)
    assert routes == [3000]


@pytest.mark.parametrize("c", [None, 3], ids=["one output", "three outputs"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("intercept", [False, True], ids=["no intercept", "intercept"])
@pytest.mark.parametrize("ratio", [0.1, 1e-3])
def test_the_route_solves_the_descents_program(
    routes, monkeypatch, c, weighted, intercept, ratio
):
    X, y, arr = tall_problem(c)
    y = y + 3.0  # an offset for the intercept to take
    s = np.random.default_rng(2).uniform(0.2, 3.0, len(y)) if weighted else None
    kw = dict(sample_weight=s, fit_intercept=intercept)
    lam = ratio * fixntk.lambda_max(X, y, arr, **kw)
    got = fixntk.solve(X, y, arr, lam, tol=1e-8, **kw)
    assert routes == [3000]
    monkeypatch.setattr(_gram_ws, "_GRAM_ORDER", 0)  # the descent over the rows
    ref = fixntk.solve(X, y, arr, lam, tol=1e-8, **kw)
    assert routes == [3000]
    assert got.converged and ref.converged
    assert abs(got.objective - ref.objective) <= got.gap + ref.gap + 1e-12 * ref.f0
    assert got.f0 == pytest.approx(ref.f0, rel=1e-12)
    # the certificate recomputed from the returned coefficients alone
    gap = fixntk.duality_gap(X, y, arr, got.coef, lam, **kw)
    assert 0 <= gap <= 1e-8 * got.f0 * (1 + 1e-6)
    assert got.objective == pytest.approx(
        fixntk.objective(X, y, arr, got.coef, lam, intercept=got.intercept, **kw),
        rel=1e-10,
    )
    np.testing.assert_allclose(
        predict(X, arr, got), predict(X, arr, ref), atol=1e-3 * np.abs(y).max()
    )


def predict(X, arr, res):
    """sum_i D_i X W_i + b by NumPy."""
    W = res.coef.reshape(arr.p, X.shape[1], -1)
    return np.einsum("np,nd,pdc->nc", arr.masks, X, W) + res.intercept


def test_a_path_builds_its_gram_once(routes):
    X, y, arr = tall_problem()
    path = fixntk.solve_path(X, y, arr, n_lams=8, eps=1e-2, fit_intercept=True)
    assert routes == [3000]
    assert all(r.converged for r in path.results)


def test_a_crawling_gram_route_hands_over_to_the_kernel_route(routes):
    """Columns at scales 1e-4 to 1e4 (tester EO): the descent on the Gram crawled
    through all of max_iter uncertified (relative gap 2e-4), where the descent over
    the rows and the kernel route certify. The Gram route gets half the epochs left,
    then the kernel route and the descent go on from its point."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12000, 4))
    y = np.maximum(X @ rng.standard_normal((4, 4)), 0).sum(1)
    y += 0.1 * rng.standard_normal(12000)
    X = X * np.array([1e-4, 1, 1e4, 1e2])
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr)
    res = fixntk.solve(X, y, arr, lam)
    assert routes == [12000]
    assert res.converged and res.n_irls > 0
    gap = fixntk.duality_gap(X, y, arr, res.coef, lam)
    assert gap <= 1e-6 * res.f0 * (1 + 1e-6)


@pytest.mark.parametrize("p", [1, 20])
def test_the_route_keeps_its_digits_on_a_column_far_from_zero(routes, monkeypatch, p):
    """A column at 1e6 with a spread of 1 and an intercept (tester EO): the centred
    Gram formed as M - u u^T cancelled and the route stalled at a relative gap of
    6e-2 (one group); from centred rows it certifies, as the descent does."""
    rng = np.random.default_rng(1)
    n, d = 12000, 4
    Z = rng.standard_normal((n, d))
    y = Z @ rng.standard_normal(d) + np.maximum(Z @ rng.standard_normal(d), 0)
    y += 0.1 * rng.standard_normal(n)
    X = Z.copy()
    X[:, 0] += 1e6
    gates = Z @ np.random.default_rng(5).standard_normal((d, p - 1)) >= 0
    masks = np.column_stack([np.ones(n, bool), gates])
    lam = 1e-5 * fixntk.lambda_max(X, y, masks, fit_intercept=True)
    monkeypatch.setattr(_gram_ws, "_GRAM_MIN_EPOCHS", 50)  # the default hand-over
    got = fixntk.solve(X, y, masks, lam, fit_intercept=True)
    assert routes == [n]
    monkeypatch.setattr(_gram_ws, "_GRAM_ORDER", 0)  # the descent over the rows
    ref = fixntk.solve(X, y, masks, lam, fit_intercept=True)
    assert got.converged and ref.converged
    assert abs(got.objective - ref.objective) <= got.gap + ref.gap + 1e-12 * ref.f0
    gap = fixntk.duality_gap(X, y, masks, got.coef, lam, fit_intercept=True)
    assert gap <= 1e-6 * got.f0 * (1 + 1e-6)


def test_a_gram_route_stopped_early_hands_over_to_the_descent(routes, monkeypatch):
    """Where the kernel route does not apply, a Gram route that stopped uncertified
    with epochs left was the solve's answer; the descent over the rows goes on from
    its point (here the route is cut to two passes)."""
    from fixntk import _solver

    monkeypatch.setattr(_solver, "_KERNEL_ROUTE_ORDER", 0)
    solve = _gram_ws.GramWorkingSet.solve

    def cut(self, lam, W, tol, max_iter, max_passes, verbose, before=0):
        return solve(self, lam, W, tol, max_iter, 2, verbose, before)

    monkeypatch.setattr(_gram_ws.GramWorkingSet, "solve", cut)
    X, y, arr = tall_problem()
    lam = 1e-3 * fixntk.lambda_max(X, y, arr)
    res = fixntk.solve(X, y, arr, lam)
    assert routes == [3000]
    assert res.converged and res.n_irls == 0
    assert fixntk.duality_gap(X, y, arr, res.coef, lam) <= 1e-6 * res.f0 * (1 + 1e-6)


def test_an_uncertified_gram_route_returns_its_best_point(monkeypatch):
    """The working-set method stopped uncertified returns the point of the smallest
    gap it certified, not its last one (tester EO: gap_history held a 20x smaller
    gap than the one returned). Here every inner solve after the first is spoiled."""
    X, y, arr = tall_problem()
    prob = _Problem(X, y, arr)
    gw = _gram_ws.MemoryGram(prob)
    descend = _gram_ws.GramWorkingSet._descend

    def spoiled(self, H, b, W, ws, lam, gap_target, budget, cap, seed):
        out = descend(self, H, b, W, ws, lam, gap_target, budget, cap, seed)
        if seed > 1:
            W[ws] *= 3.0
        return out

    monkeypatch.setattr(_gram_ws.GramWorkingSet, "_descend", spoiled)
    lam = 1e-3 * prob.lam_max()
    W0 = np.zeros((arr.p, 3, 1))
    W, primal, dual, _, outer, converged, gaps, _ = gw.solve(
        lam, W0, 1e-12, 10000, 6, 0
    )
    assert not converged and outer >= 2
    assert primal - dual == gaps.min() < gaps[-1]
    G, r2, yr, _ = gw.gradients(W)
    assert gw.certificate(W, lam, G, r2, yr)[:2] == (primal, dual)


def test_the_verbose_log_counts_epochs_on_after_the_hand_over(routes, caplog):
    """The route's log restarted its epoch count at 0 after the descent's epochs
    (tester EO); it counts on from them."""
    import logging
    import re

    X, y, arr = tall_problem()
    lam = 1e-3 * fixntk.lambda_max(X, y, arr)
    with caplog.at_level(logging.INFO, logger="fixntk"):
        res = fixntk.solve(X, y, arr, lam, verbose=1)
    counts = [
        int(m.group(1))
        for r in caplog.records
        if (m := re.search(r"outer +\d+ +passes +\d+ +epochs +(\d+)", r.getMessage()))
    ]
    assert counts and counts[0] == 5  # the descent's epochs before the hand-over
    assert counts == sorted(counts) and counts[-1] <= res.n_iter


def scripted_descent(gaps_by_call):
    """A stand-in for the compiled descent: call j returns its scripted gaps (relative
    to f0 = 1) at epochs 0 and its budget, never converged; the calls are recorded."""
    calls = []

    def descend(start, epochs, before=0):
        g = gaps_by_call[len(calls)]
        calls.append((epochs, before))
        return dict(
            coef=start,
            converged=False,
            f0=1.0,
            n_epochs=epochs,
            gap_history=np.array(g, float),
            epoch_history=np.array([0, epochs][: len(g)]),
        )

    return descend, calls


@pytest.mark.parametrize(
    "probe_gaps, goes_on",
    [
        ([1e-1, 5e-2], False),  # halves in 20 epochs: 1e-6 needs about 310 more
        ([1e-1, 1e-3], True),  # 1e-6 within 30 more epochs of its 130 left
        ([3e-2, 5e-2], True),  # rose: the working set is still growing
        ([], True),  # no certificate to judge by
    ],
)
def test_a_warm_start_probes_the_descent_before_the_gram_route(probe_gaps, goes_on):
    from fixntk import _solver

    descend, calls = scripted_descent([probe_gaps, [1e-3, 1e-4]])
    out = _solver._probed_descent(descend, np.ones(3), 150, 1e-6)
    probe = _solver._GRAM_PROBE_EPOCHS
    if not goes_on:
        assert calls == [(probe, 0)] and out["n_epochs"] == probe
        return
    assert calls == [(probe, 0), (150 - probe, probe)]
    assert out["n_epochs"] == 150
    np.testing.assert_array_equal(out["gap_history"], probe_gaps + [1e-3, 1e-4])
    marks = [0, probe][: len(probe_gaps)] + [probe, 150]
    np.testing.assert_array_equal(out["epoch_history"], marks)


def test_a_refit_from_the_search_hands_over_after_the_probe(routes, monkeypatch):
    """A warm start from the solution on 80% of the rows at the same lam (an
    estimator's refit; make_friedman1, 12000 rows, 10 features, 100 gates): the
    descent hands over after its probe of 20 epochs, not its budget of the full
    Gram's cost, and the route certifies the same optimum as the descent alone."""
    from sklearn.datasets import make_friedman1

    from fixntk import _solver

    seen = []
    probed = _solver._probed_descent

    def spy(*args):
        out = probed(*args)
        seen.append(int(out["n_epochs"]))
        return out

    monkeypatch.setattr(_solver, "_probed_descent", spy)
    monkeypatch.setattr(_gram_ws, "_GRAM_MIN_EPOCHS", 50)  # the default budget
    X, y = make_friedman1(n_samples=12000, n_features=10, noise=1.0, random_state=0)
    arr = fixntk.sample_arrangement(X, 100, seed=0)
    kw = dict(fit_intercept=True)
    lam = 1e-3 * fixntk.lambda_max(X, y, arr, **kw)
    part = fixntk.solve(X[:9600], y[:9600], arr.masks[:9600], lam, tol=1e-3, **kw)
    got = fixntk.solve(X, y, arr, lam, warm_start=part.coef, **kw)
    assert seen == [_solver._GRAM_PROBE_EPOCHS] and routes == [9600, 12000]
    monkeypatch.setattr(_gram_ws, "_GRAM_ORDER", 0)  # the descent over the rows
    ref = fixntk.solve(X, y, arr, lam, **kw)
    assert got.converged and ref.converged
    assert abs(got.objective - ref.objective) <= got.gap + ref.gap + 1e-12 * ref.f0


def far_column_problem():
    """Tester ER's draw: 30000 rows of 3 columns, column 1 at -2.8e11 with a spread
    of 1, y offset by up to 100, 5 groups (the linear group and 4 gates), lam from
    the centred columns' lambda_max (6.6e-5): the descent over the rows diverges
    (an objective of inf at epoch 50)."""
    rng = np.random.default_rng(24)
    n, d = int(rng.choice([12000, 30000, 60000])), int(rng.integers(2, 6))
    p = int(rng.choice([1, 2, 3, 5, 10]))
    off = 10.0 ** rng.uniform(8, 14)
    Z = rng.standard_normal((n, d))
    coefs = rng.standard_normal(d) * 3
    y = (  # summed in this order: the solves' paths turn on its last bits
        Z @ coefs
        + np.maximum(Z @ rng.standard_normal(d), 0)
        + 0.1 * rng.standard_normal(n)
        + rng.uniform(-100, 100)
    )
    X = Z.copy()
    k = int(rng.integers(0, d))
    X[:, k] += off * rng.choice([-1, 1])
    gates = Z @ rng.standard_normal((d, p - 1)) >= 0
    masks = np.column_stack([np.ones(n, bool), gates])
    rng.random()
    lam = 10.0 ** rng.uniform(-6, -1) * fixntk.lambda_max(
        Z, y, masks, fit_intercept=True
    )
    return X, y, masks, lam


@pytest.mark.parametrize("route", ["gram route", "descent only"])
def test_a_diverged_descent_is_neither_certified_nor_fatal_to_the_log(
    monkeypatch, caplog, route
):
    """The descent over the rows came back from inf to W = 0 with a residual of 0 and
    certified it (objective 0, gap 0; the null model's objective is 2.08), and with
    verbose=1 the Gram route's log raised on the inf objective where verbose=0
    returned (tester ER). Now: the log runs, and the gap is fixntk.duality_gap's."""
    import logging
    import warnings

    if route == "descent only":
        monkeypatch.setattr(_gram_ws, "_GRAM_ORDER", 0)
    X, y, masks, lam = far_column_problem()
    assert X.shape == (30000, 3) and masks.shape[1] == 5
    with caplog.at_level(logging.INFO, logger="fixntk"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stall's and the overflows' warnings
        res = fixntk.solve(X, y, masks, lam, fit_intercept=True, verbose=1)
    # whatever the path (its bits turn on the BLAS), the certificate is honest
    kw = dict(fit_intercept=True)
    value = fixntk.objective(X, y, masks, res.coef, lam, intercept=res.intercept, **kw)
    assert res.objective == pytest.approx(value, rel=1e-3)
    gap = fixntk.duality_gap(X, y, masks, res.coef, lam, **kw)
    np.testing.assert_allclose(res.gap, gap, rtol=0.05)
    assert any("objective" in r.getMessage() for r in caplog.records)
