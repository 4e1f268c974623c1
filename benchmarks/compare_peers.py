"""Compare fixntk's group-lasso solver with its peers, judged by fixntk's certificate.

Each problem of issue 5 (a planted ReLU teacher, lam = 0.1 lam_max) is solved by

- fixntk   ``fixntk.solve`` (packed masks, never the n x (p d) design);
- skglm    ``skglm.GroupLasso`` on the materialised design ``[D_1 X, ..., D_p X]``;
- celer    ``celer.GroupLasso`` on the same design;
- adelie   ``adelie.grpnet`` on ``adelie.matrix.convex_relu(X, masks, gated=True)``;
- scnn     ``scnn`` (pip package ``pyscnn``) R-FISTA on our gates, unitize off.

All of them use the objective ``1/(2n) ||sum_i D_i X w_i - y||^2 + lam sum_i ||w_i||``
with the same ``lam`` (group weights 1), so no conversion of lam is needed; each worker
checks this by scoring the solution with fixntk's objective next to the peer's own
objective (the ``scale`` column: their objective mapped to ours, minus ours, relative).

Each peer runs at a ladder of its own tolerances, from scratch each time, in its own
process; every result is judged by ``fixntk.duality_gap`` (relative to ``F(0)``). The
table gives, per solver, the time of the first run whose certified relative gap reached
``--target`` (or, if none did, the best gap and its time), its ratio to fixntk, the
same time counted in "floors" (one full masked gradient ``X^T (M * R)`` as one BLAS
product), and the peak resident memory of that run.

The wide problems of issue 16 (``W64``, ``W256``, ``W784``: n = 20000, p = 200,
d = 64, 256, 784; ``N784``: 2000 rows of width 784, where fixntk takes proximal block
steps) run the same way. ``--path EPS`` solves the path problem instead:
50 lams log-spaced from lam_max down to EPS * lam_max on the chosen problem (issue 16:
S1 with EPS = 1e-2 and 1e-3), each solver warm-starting along the grid (skglm and celer
by ``warm_start``, adelie by its own path, fixntk by ``solve_path``; scnn has no path
and is skipped), every point judged by fixntk's gap; a run counts when every point
reached the target. The table adds the path's time in single solves (fixntk at the
problem's own lam = 0.1 lam_max, timed in the same worker).

``--loss logistic`` and ``--loss multinomial`` (issue 15) solve the classification
programs ``1/n sum_j l(y_j, f_j) + lam sum_i ||W_i||_F`` (no intercept) on the same
rows, labelled from the planted teacher's output by ``problems.planted_labels`` (its
sign; its ``N_CLASSES`` = 10 quantile bins), lam = 0.1 lam_max of that loss. The peers:

- fixntk   ``fixntk.solve(..., loss=...)`` (proximal Newton around the same solver);
- skglm    ``LogisticGroup`` + ``WeightedGroupL2`` (unit weights) +
  ``GroupProxNewton`` on the materialised design (logistic only: skglm has no group
  multinomial datafit); its objective is ours;
- adelie   ``grpnet`` with ``glm.binomial`` (labels 0/1; its objective is ours) or
  ``glm.multinomial`` (one-hot) on the ``convex_relu`` matrix, ``irls_tol`` tied to
  ``tol`` on its ladder. adelie's multinomial loss is ours divided by the number of
  classes K, so it runs at ``lmda = lam / K`` and its objective times K is ours.

celer and scnn have no group logistic solver and are skipped. Every result is judged
by ``fixntk.duality_gap(..., loss=...)`` relative to ``F(0)`` (log 2, log K). The floor
of a K-class problem is K masked gradients (one per column of the (n, K) gradient).
``--path`` runs with ``--loss`` too (fixntk and adelie; the skglm adapter has none).

Run from the repository root::

    python benchmarks/compare_peers.py --quick            # a tiny problem, seconds
    python benchmarks/compare_peers.py --problem S1       # S1 (also S2, S3; repeatable)
    python benchmarks/compare_peers.py --problem S1 --threads 2 --json s1.json
    python benchmarks/compare_peers.py --problem W64 --problem W256 --problem W784
    python benchmarks/compare_peers.py --problem S1 --path 1e-2 --path 1e-3
    python benchmarks/compare_peers.py --problem S1 --loss logistic
    python benchmarks/compare_peers.py --problem S1 --loss multinomial

Peers are optional (``pip install skglm celer``; adelie needs numpy<2, so in a separate
virtualenv, as the README says; scnn: ``pip install --no-deps pyscnn`` beside ``torch
cvxpy opt_einsum linalg-backends``); a peer that is not
installed is skipped with a line that says so. Timings on a shared machine are noisy:
quote ratios from one run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _args import (  # noqa: E402
    RawDefaultsFormatter,
    fraction,
    names,
    nonnegative_int,
    output_file,
    positive_float,
    positive_int,
    run_script,
)
from problems import (  # noqa: E402
    LAM_RATIO,
    LOSSES,
    N_CLASSES,
    PATH_LAMS,
    PROBLEMS,
    SCNN_INSTALL,
    pin_threads,
)

SOLVERS = ("fixntk", "skglm", "celer", "adelie", "scnn")

# Each solver's own tolerance parameter, loose to tight. The ladder stops at the first
# run that reaches the target gap.
LADDERS = {
    "fixntk": None,  # fixntk's tol is our relative gap: it runs at the target itself
    "skglm": [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12],
    "celer": [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12],
    "adelie": [1e-6, 1e-8, 1e-10, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16],
    "scnn": [1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14],
}
INSTALL_HINT = {
    "skglm": "pip install skglm",
    "celer": "pip install celer",
    # adelie needs numpy<2: in a numpy-2 environment pip would downgrade numpy
    # (tester DK), so the hint is the README's separate virtualenv
    "adelie": (
        'python -m venv peers && peers/bin/pip install ".[bench,peers]" (a '
        "separate virtualenv, as adelie needs numpy<2; README, Benchmarks)"
    ),
    "scnn": SCNN_INSTALL,
}
DESIGN_SOLVERS = ("skglm", "celer")


# ----------------------------------------------------------------------------------
# Memory


def _status_mib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset the kernel's peak-RSS counter (VmHWM); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib():
    """Peak resident memory of this process in MiB (since the last reset, if any)."""
    hwm = _status_mib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def available_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def design_gib(n, d, p):
    return n * p * d * 8 / 2**30


# ----------------------------------------------------------------------------------
# Solver adapters (run inside a worker process). Each returns the coefficients as a
# (p, d) array in our group order, and the peer's own objective mapped to our scaling.


class Problem:
    def __init__(self, path):
        import numpy as np

        import fixntk

        data = np.load(path)
        self.X = np.ascontiguousarray(data["X"])
        self.y = np.ascontiguousarray(data["y"])
        self.lam = float(data["lam"])
        self.lams = data["lams"] if "lams" in data else None  # the path's grid
        self.loss = str(data["loss"]) if "loss" in data else "squared"
        self.n, self.d = self.X.shape
        self.arr = fixntk.Arrangement(data["words"], self.n, gates=data["gates"])
        self.p = self.arr.p
        # outputs: one, or one per class (the multinomial's labels are 0..c-1)
        self.c = int(self.y.max()) + 1 if self.loss == "multinomial" else 1
        zeros = np.zeros((self.p, self.d, self.c))
        self.f0 = fixntk.objective(self.X, self.y, self.arr, zeros, 0.0, loss=self.loss)
        self.threads = int(os.environ.get("OMP_NUM_THREADS", "1"))

    def penalty(self, W):
        import numpy as np

        return self.lam * float(np.sqrt((W.reshape(self.p, -1) ** 2).sum(axis=1)).sum())

    def coef(self, flat):
        """A peer's flat coefficients (groups, then features, then classes) as W."""
        shape = (self.p, self.d) if self.c == 1 else (self.p, self.d, self.c)
        return flat.reshape(shape)


class FixntkSolver:
    name = "fixntk"

    def __init__(self, prob):
        import fixntk

        self.fixntk = fixntk
        self.prob = prob

    def warmup(self):
        import numpy as np

        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 5))
        y = _tiny_targets(rng, 200, self.prob.loss)
        arr = self.fixntk.sample_arrangement(X, 20, seed=0)
        loss = self.prob.loss
        lam = 0.1 * self.fixntk.lambda_max(X, y, arr, loss=loss)
        self.fixntk.solve(X, y, arr, lam, loss=loss)

    def run(self, tol):
        pr = self.prob
        res = self.fixntk.solve(
            pr.X, pr.y, pr.arr, pr.lam, tol=tol, max_iter=10**7, loss=pr.loss
        )
        return (
            res.coef,
            res.objective,
            {"n_iter": res.n_iter, "own_rel_gap": res.relative_gap},
        )

    def run_path(self, tol):
        import numpy as np

        pr = self.prob
        path = self.fixntk.solve_path(
            pr.X, pr.y, pr.arr, lams=pr.lams, tol=tol, max_iter=10**7, loss=pr.loss
        )
        return list(path.coefs), {"n_iter": int(np.sum(path.n_iters))}


class _DesignSolver:
    """skglm / celer: the estimator on the materialised n x (p d) design."""

    def __init__(self, prob):
        import numpy as np

        pr = prob
        self.prob = prob
        t = time.perf_counter()
        A = np.empty((pr.n, pr.p * pr.d), order="F")
        masks = pr.arr.masks
        for i in range(pr.p):  # column block i is D_i X
            A[:, i * pr.d : (i + 1) * pr.d] = masks[:, i : i + 1] * pr.X
        self.A = A
        self.setup_time = time.perf_counter() - t

    def _estimator(self, tol):
        raise NotImplementedError

    def warmup(self):
        import numpy as np

        rng = np.random.default_rng(0)
        A = np.asfortranarray(rng.standard_normal((100, 4 * self.prob.d)))
        y = rng.standard_normal(100)
        self._estimator(1e-3, alpha=0.1, small=True).fit(A, y)

    def run(self, tol):
        import numpy as np

        pr = self.prob
        est = self._estimator(tol).fit(self.A, pr.y)
        W = np.asarray(est.coef_, dtype=np.float64).reshape(pr.p, pr.d)
        R = pr.y - self.A @ est.coef_
        theirs = 0.5 * float(R @ R) / pr.n + pr.penalty(W)
        return W, theirs, {"n_iter": int(np.max(est.n_iter_))}


class _GroupLassoPeer(_DesignSolver):
    """skglm and celer: both minimise 1/(2n)||y - Aw||^2 + alpha sum_g ||w_g|| with
    unit group weights (celer stops on gap <= tol ||y||^2 / n)."""

    extra = {}

    def __init__(self, prob):
        import importlib

        self.cls = importlib.import_module(self.name).GroupLasso
        super().__init__(prob)

    def _estimator(self, tol, alpha=None, small=False):
        pr = self.prob
        return self.cls(
            groups=pr.d,
            alpha=pr.lam if alpha is None else alpha,
            fit_intercept=False,
            tol=tol,
            max_iter=10 if small else 10_000,
            max_epochs=100_000,
            **self.extra,
        )

    def run_path(self, tol):
        import numpy as np

        pr = self.prob
        est = self._estimator(tol)
        est.warm_start = True
        coefs, n_iter = [], 0
        for lam in pr.lams:
            est.alpha = float(lam)
            est.fit(self.A, pr.y)
            # a copy: with warm_start, celer refits into the same coef_ buffer, so a
            # view would make every stored point the last one
            coefs.append(np.array(est.coef_, dtype=np.float64).reshape(pr.p, pr.d))
            n_iter += int(np.max(est.n_iter_))
        return coefs, {"n_iter": n_iter}


class SkglmSolver(_GroupLassoPeer):
    name = "skglm"
    extra = {"weights": None}


class CelerSolver(_GroupLassoPeer):
    name = "celer"
    extra = {"verbose": 0}


class AdelieSolver:
    name = "adelie"

    def __init__(self, prob):
        import adelie
        import numpy as np

        self.ad = adelie
        self.prob = prob
        t = time.perf_counter()
        # adelie's convex_relu keeps references: keep F-ordered arrays alive here.
        self.Xf = np.asfortranarray(prob.X)
        self.Mf = np.asfortranarray(prob.arr.masks)
        self.setup_time = time.perf_counter() - t
        # adelie's multinomial loss is ours divided by the number of classes K (its
        # glm.multinomial docstring): it runs at lmda = lam / K, and K times its
        # objective is ours. Its binomial and Gaussian losses are ours (K = 1).
        self.K = prob.c if prob.loss == "multinomial" else 1

    def _glm(self, y):
        """adelie's GLM for our loss, with its default observation weights 1/n."""
        import numpy as np

        ad = self.ad
        if self.prob.loss == "logistic":  # labels 0/1: -y eta + log(1 + e^eta)
            return ad.glm.binomial((y > 0).astype(np.float64))
        if self.prob.loss == "multinomial":  # one-hot rows
            Y = np.zeros((y.shape[0], int(y.max()) + 1))
            Y[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
            return ad.glm.multinomial(Y)
        # Gaussian: loss 1/(2n)||y - A b||^2.
        return ad.glm.gaussian(y)

    def _fit(self, X, M, y, lams, tol):
        import numpy as np

        ad = self.ad
        p, d = M.shape[1], X.shape[1]
        A = ad.matrix.convex_relu(X, M, gated=True, n_threads=self.prob.threads)
        # the GLM losses stop their IRLS loop on irls_tol: tightened with tol
        irls = {} if self.prob.loss == "squared" else {"irls_tol": tol}
        return ad.grpnet(
            A,
            self._glm(y),
            groups=np.arange(0, p * d, d),  # multinomial: each group a d x K block
            alpha=1.0,
            penalty=np.ones(p),
            lmda_path=np.atleast_1d(np.asarray(lams, dtype=np.float64)) / self.K,
            intercept=False,
            tol=tol,
            **irls,
            max_iters=10**8,
            early_exit=False,
            adev_tol=1.0,
            ddev_tol=0.0,
            progress_bar=False,
            n_threads=self.prob.threads,
        )

    def warmup(self):
        import numpy as np

        rng = np.random.default_rng(0)
        X = np.asfortranarray(rng.standard_normal((100, 3)))
        M = np.asfortranarray(rng.random((100, 4)) < 0.5)
        self._fit(X, M, _tiny_targets(rng, 100, self.prob.loss), 0.05, 1e-6)

    def run(self, tol):
        import numpy as np

        pr = self.prob
        state = self._fit(self.Xf, self.Mf, pr.y, pr.lam, tol)
        W = pr.coef(np.asarray(state.betas[-1].todense()).ravel())
        dev = float(state.devs[-1])
        if pr.loss == "squared":
            # adelie reports the deviance explained: loss = (1 - dev) * ||y||^2 / (2n).
            loss = (1.0 - dev) * pr.f0
        else:  # the deviance explained between its null (W = 0) and saturated losses
            null, full = float(state.loss_null), float(state.loss_full)
            loss = self.K * (null - dev * (null - full))
        # K lmda sum ||W_i|| = lam sum ||W_i||
        theirs = loss + pr.penalty(W)
        if not np.isclose(float(state.lmdas[-1]) * self.K, pr.lam, rtol=1e-12):
            raise RuntimeError(
                f"adelie solved lmda = {state.lmdas[-1]}, not {pr.lam / self.K}"
            )
        return W, theirs, {}

    def run_path(self, tol):
        import numpy as np

        pr = self.prob
        state = self._fit(self.Xf, self.Mf, pr.y, pr.lams, tol)
        coefs = [pr.coef(np.zeros(pr.p * pr.d * pr.c))] * len(pr.lams)  # not reached
        for lmda, beta in zip(state.lmdas, state.betas):
            lam = float(lmda) * self.K
            k = int(np.argmin(np.abs(pr.lams - lam)))
            if np.isclose(pr.lams[k], lam, rtol=1e-12):
                coefs[k] = pr.coef(np.asarray(beta.todense()).ravel())
        return coefs, {"n_lams_returned": len(state.lmdas)}


class ScnnSolver:
    name = "scnn"

    def __init__(self, prob):
        import numpy as np
        from scnn.metrics import Metrics
        from scnn.models import ConvexGatedReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import RFISTA

        self.api = (ConvexGatedReLU, RFISTA, NeuronGL1, Metrics, optimize_model)
        self.prob = prob
        self.G = np.ascontiguousarray(prob.arr.gates.T)  # (d, p) gate vectors
        packed = np.packbits(prob.arr.masks, axis=0)
        self.group_of = {packed[:, i].tobytes(): i for i in range(prob.p)}

    def _fit(self, X, y, G, lam, tol):
        ConvexGatedReLU, RFISTA, NeuronGL1, Metrics, optimize_model = self.api
        model = ConvexGatedReLU(G, c=1)
        solver = RFISTA(model, max_iters=10**7, tol=tol)
        metrics = Metrics(
            metric_freq=10**9, objective=True, grad_norm=False, time=False
        )
        # scnn's objective, 1/(2 n c) ||pred - y||^2 + lam sum_i ||w_i||, is ours (c=1).
        return optimize_model(
            model,
            solver,
            metrics,
            X,
            y,
            regularizer=NeuronGL1(lam),
            return_convex=True,
            unitize_data=False,
            dtype="float64",
            verbose=False,
        )

    def warmup(self):
        import numpy as np

        rng = np.random.default_rng(0)
        X = rng.standard_normal((100, 3))
        self._fit(X, rng.standard_normal(100), rng.standard_normal((3, 5)), 0.05, 1e-4)

    def run(self, tol):
        import numpy as np

        pr = self.prob
        model, metrics = self._fit(pr.X, pr.y, self.G, pr.lam, tol)
        Wc = np.asarray(model.parameters[0])  # (c, p', d) in scnn's own gate order
        # scnn sorts and deduplicates the masks 1[X g > 0]: map its groups to ours.
        masks = pr.X @ np.asarray(model.G) > 0
        packed = np.packbits(masks, axis=0)
        W = np.zeros((pr.p, pr.d))
        for j in range(packed.shape[1]):
            i = self.group_of.get(packed[:, j].tobytes())
            if i is None:
                raise RuntimeError("scnn made a mask that is not in the arrangement")
            W[i] = Wc[0, j]
        objectives = np.asarray(metrics.objective)  # one entry per iteration
        return W, float(objectives[-1]), {"n_iter": len(objectives) - 1}

    run_path = None  # scnn has no path solver (and no warm start)


class SkglmLogisticSolver(_DesignSolver):
    """skglm's group logistic regression on the materialised design: ``LogisticGroup``
    (labels -1/+1, mean over the rows) + ``WeightedGroupL2`` (unit weights) +
    ``GroupProxNewton``; its objective is ours with the same lam. ``tol`` bounds its
    stopping criterion, the largest distance of a group's gradient to the penalty's
    subdifferential."""

    name = "skglm"

    def __init__(self, prob):
        from skglm.datafits import LogisticGroup
        from skglm.penalties import WeightedGroupL2
        from skglm.solvers import GroupProxNewton
        from skglm.utils.data import grp_converter

        self.api = (LogisticGroup, WeightedGroupL2, GroupProxNewton, grp_converter)
        super().__init__(prob)

    def _solve(self, A, y, lam, tol, max_iter=10**5):
        import numpy as np

        LogisticGroup, WeightedGroupL2, GroupProxNewton, grp_converter = self.api
        d = self.prob.d
        grp_indices, grp_ptr = grp_converter(d, A.shape[1])
        datafit = LogisticGroup(grp_ptr, grp_indices)
        penalty = WeightedGroupL2(lam, np.ones(A.shape[1] // d), grp_ptr, grp_indices)
        solver = GroupProxNewton(tol=tol, max_iter=max_iter, fit_intercept=False)
        return solver.solve(A, y, datafit, penalty)

    def warmup(self):
        import numpy as np

        rng = np.random.default_rng(0)
        A = np.asfortranarray(rng.standard_normal((100, 4 * self.prob.d)))
        self._solve(A, _tiny_targets(rng, 100, "logistic"), 0.01, 1e-3, max_iter=3)

    def run(self, tol):
        pr = self.prob
        w, objectives, crit = self._solve(self.A, pr.y, pr.lam, tol)
        # one objective per outer iteration (none when W = 0 passed its test at once)
        theirs = float(objectives[-1]) if len(objectives) else pr.f0
        return pr.coef(w), theirs, {"n_iter": len(objectives), "own_crit": float(crit)}

    run_path = None  # not in issue 15's comparison


def _tiny_targets(rng, n, loss):
    """Targets of n rows for a warm-up solve with ``loss`` (every class present)."""
    import numpy as np

    if loss == "logistic":
        return np.where(np.arange(n) % 2 == 0, -1.0, 1.0)
    if loss == "multinomial":
        return np.arange(n) % 3
    return rng.standard_normal(n)


ADAPTERS = {
    "fixntk": FixntkSolver,
    "skglm": SkglmSolver,
    "celer": CelerSolver,
    "adelie": AdelieSolver,
    "scnn": ScnnSolver,
}
# The classification losses (--loss): the peers with a gated ReLU / group-lasso
# solver for them. celer and scnn have none; skglm has no group multinomial datafit.
LOSS_ADAPTERS = {
    "logistic": {
        "fixntk": FixntkSolver,
        "skglm": SkglmLogisticSolver,
        "adelie": AdelieSolver,
    },
    "multinomial": {"fixntk": FixntkSolver, "adelie": AdelieSolver},
}


def worker(solver, data_path, tols, target, budget):
    """Run one solver's ladder; print one JSON line per run (the parent reads them)."""

    def emit(**kw):
        print(json.dumps(kw), flush=True)

    warnings.simplefilter("ignore")
    prob = Problem(data_path)
    import fixntk

    adapters = ADAPTERS if prob.loss == "squared" else LOSS_ADAPTERS[prob.loss]
    if solver not in adapters:
        emit(skip=f"{solver} has no group-lasso solver for the {prob.loss} loss")
        return
    try:
        adapter = adapters[solver](prob)
    except ImportError as exc:
        emit(skip=f"not installed ({exc}); install with: {INSTALL_HINT[solver]}")
        return
    if prob.lams is not None and getattr(adapter, "run_path", None) is None:
        emit(skip="no path solver")
        return
    adapter.warmup()
    emit(setup_time=getattr(adapter, "setup_time", 0.0), base_rss=peak_rss_mib())
    if prob.lams is not None:
        path_worker(adapter, prob, tols, target, budget, emit)
        return
    t_start = time.perf_counter()
    for tol in tols:
        rss_before = _status_mib("VmRSS")
        reset_peak_rss()
        t = time.perf_counter()
        W, theirs, info = adapter.run(tol)
        elapsed = time.perf_counter() - t
        peak = peak_rss_mib()
        ours = fixntk.objective(prob.X, prob.y, prob.arr, W, prob.lam, loss=prob.loss)
        gap = fixntk.duality_gap(prob.X, prob.y, prob.arr, W, prob.lam, loss=prob.loss)
        emit(
            tol=tol,
            time=elapsed,
            rel_gap=gap / prob.f0,
            objective=ours,
            scale=(theirs - ours) / abs(ours),
            peak_rss=peak,
            rss_before=rss_before,
            active=int((abs(W.reshape(prob.p, -1)).sum(axis=1) > 0).sum()),
            **info,
        )
        if gap / prob.f0 <= target:
            break
        spent = time.perf_counter() - t_start
        if spent + 2.0 * elapsed > budget:
            emit(stopped=f"next tolerance would pass the budget of {budget:.0f} s")
            break


def path_worker(adapter, prob, tols, target, budget, emit):
    """The path ladder: each run solves the whole grid; every point is judged."""
    import fixntk

    if adapter.name == "fixntk":  # the yardstick: one solve at the problem's own lam
        t = time.perf_counter()
        adapter.run(target)
        emit(single_time=time.perf_counter() - t)
    t_start = time.perf_counter()
    for tol in tols:
        rss_before = _status_mib("VmRSS")
        reset_peak_rss()
        t = time.perf_counter()
        coefs, info = adapter.run_path(tol)
        elapsed = time.perf_counter() - t
        peak = peak_rss_mib()
        gaps = [
            fixntk.duality_gap(prob.X, prob.y, prob.arr, W, lam, loss=prob.loss)
            / prob.f0
            for W, lam in zip(coefs, prob.lams)
        ]
        emit(
            tol=tol,
            time=elapsed,
            rel_gap=max(gaps),
            at_target=sum(g <= target for g in gaps),
            points=len(gaps),
            scale=0.0,
            peak_rss=peak,
            rss_before=rss_before,
            **info,
        )
        if max(gaps) <= target:
            break
        spent = time.perf_counter() - t_start
        if spent + 2.0 * elapsed > budget:
            emit(stopped=f"next tolerance would pass the budget of {budget:.0f} s")
            break


# ----------------------------------------------------------------------------------
# Parent: build the problem, time the floor, run the workers, print the table.


def build_problem(name, seed, tmpdir, path_eps=None, loss="squared"):
    import numpy as np
    from problems import planted_problem

    size = PROBLEMS[name]
    t = time.perf_counter()
    X, y, arr, lam = planted_problem(
        size["n"], size["d"], size["p"], seed=seed, loss=loss
    )
    extra = {}
    if path_eps is not None:
        lam_max = lam / LAM_RATIO
        extra["lams"] = lam_max * np.logspace(0, np.log10(path_eps), PATH_LAMS)
    path = os.path.join(tmpdir, f"{name}-{loss}.npz")
    np.savez(
        path, X=X, y=y, words=arr.words, gates=arr.gates, lam=lam, loss=loss, **extra
    )
    prob = Problem(path)
    info = dict(
        path_eps=path_eps,
        name=name,
        loss=loss,
        n=X.shape[0],
        d=X.shape[1],
        p=arr.p,
        c=prob.c,
        lam=lam,
        lam_max=lam / LAM_RATIO,
        f0=prob.f0,
        build_time=time.perf_counter() - t,
    )
    if loss != "squared":  # rows per class, in the order of the outputs
        info["class_counts"] = np.unique(y, return_counts=True)[1].tolist()
    # the residual at W = 0 for the squared loss, the datafit's gradient for the others
    R = y if loss == "squared" else _null_gradient(y, loss, prob.c)
    info["floor"], info["core_gradient"] = measure_floor(X, R, arr)
    return path, info


def _null_gradient(y, loss, c):
    """The datafit's gradient in the predictions at W = 0, shape (n, c)."""
    import numpy as np

    if loss == "logistic":  # -y sigma(-y f) at f = 0
        return -0.5 * y[:, None]
    Y = np.zeros((y.shape[0], c))
    Y[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
    return 1.0 / c - Y  # softmax(0) - Y


def measure_floor(X, R, arr, repeat=5):
    """Best-of-`repeat` time of X^T (M * R) as one float64 BLAS product (per column
    of R (n,) or (n, c): c equal products, timed once and counted c times), and of
    fixntk's own masked gradient (all groups, all columns) on packed masks."""
    import numpy as np

    from fixntk._cpu import core as _core

    R = np.ascontiguousarray(R.reshape(R.shape[0], -1))
    MR = arr.masks.astype(np.float64)
    MR *= R[:, :1]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        X.T @ MR
        best = min(best, time.perf_counter() - t)
    best *= R.shape[1]
    del MR
    core = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        _core.masked_gradients(X, arr.packed, R)
        core = min(core, time.perf_counter() - t)
    return best, core


def run_solver(solver, data_path, info, args):
    """Run a worker; return its records (stopping it when the budget runs out)."""
    n, d, p = info["n"], info["d"], info["p"]
    if solver in DESIGN_SOLVERS:
        need = design_gib(n, d, p)
        limit = min(args.max_design_gib, 0.5 * available_gib())
        if need > limit:
            return {
                "skip": f"the n x (p d) design needs {need:.1f} GiB > limit "
                f"{limit:.1f} GiB (--max-design-gib)"
            }
    if LADDERS[solver] is None:
        tols = [args.target]
    else:  # keep at least the tightest tolerance
        ladder = LADDERS[solver]
        tols = ladder[min(args.skip_loose, len(ladder) - 1) :]
    out = {"runs": [], "notes": []}
    for _ in range(args.repeat if solver == "fixntk" else 1):
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            solver,
            "--data",
            data_path,
            "--target",
            repr(args.target),
            "--budget",
            repr(args.budget),
            "--tols",
            ",".join(map(repr, tols)),
        ]
        # stderr goes to a file: a pipe nobody reads could fill up and block the worker
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=os.environ.copy(),
            )
            deadline = time.monotonic() + args.budget + 120.0
            records = _read_records(proc, deadline, solver, info["name"], args, err)
        for rec in records:
            if "skip" in rec:
                return rec
            if "stopped" in rec:
                out["notes"].append(rec["stopped"])
            elif "setup_time" in rec:
                out.update(setup_time=rec["setup_time"], base_rss=rec["base_rss"])
            elif "single_time" in rec:
                out["single_time"] = rec["single_time"]
            elif "error" in rec:
                out["notes"].append(rec["error"])
            elif "tol" in rec:
                out["runs"].append(rec)
    return out


def _read_records(proc, deadline, solver, problem, args, err):
    import selectors

    records = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    killed = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            proc.kill()
            killed = True
            break
        if not sel.select(timeout=min(remaining, 5.0)):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        records.append(rec)
        if "tol" in rec:
            print(
                f"  [{problem}] {solver:7s} own tol {rec['tol']:.0e}: "
                f"{rec['time']:9.3f} s  rel gap {rec['rel_gap']:.2e}  "
                f"peak {rec['peak_rss']:7.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
    proc.wait()
    if proc.returncode not in (0, None) and not killed:
        err.seek(0)
        lines = err.read().strip().splitlines()
        tail = lines[-1] if lines else f"exit {proc.returncode}"
        records.append({"error": f"worker failed: {tail}"})
    if killed:
        records.append({"stopped": f"killed at the budget of {args.budget:.0f} s"})
    return records


def summarise(solver, out, target):
    """The row of the table: the first run at the target, or the best run."""
    runs = out.get("runs", [])
    if not runs:
        return None
    hit = [r for r in runs if r["rel_gap"] <= target]
    if hit:
        best = min(hit, key=lambda r: r["time"])
        return dict(best, reached=True)
    # a path: the run with most points at the target, then the smallest worst gap
    best = min(runs, key=lambda r: (-r.get("at_target", 0), r["rel_gap"]))
    return dict(best, reached=False, longest=max(r["time"] for r in runs))


def print_table(info, results, target, threads):
    print()
    loss = info.get("loss", "squared")
    print(
        f"== {info['name']}: n = {info['n']}, d = {info['d']}, p = {info['p']}, "
        + ("" if loss == "squared" else f"loss = {loss}, c = {info['c']}, ")
        + f"lam = {LAM_RATIO:g} lam_max = {info['lam']:.6g}, F(0) = {info['f0']:.6g}, "
        f"threads = {threads}"
    )
    if "class_counts" in info:
        counts = info["class_counts"]
        print(
            f"   rows per class: {counts}"
            if len(counts) <= 2
            else f"   rows per class: {min(counts)} to {max(counts)}"
        )
    path_eps = info.get("path_eps")
    single = (results.get("fixntk") or {}).get("single_time")
    if path_eps is not None:
        print(
            f"   path: {PATH_LAMS} lams from lam_max down to {path_eps:g} lam_max, "
            f"warm-started, every point to {target:.0e}; rel gap: the worst point's"
            + (
                f"; one fixntk solve at the problem's lam: {single:.3f} s"
                if single
                else ""
            )
        )
    c = info.get("c", 1)
    print(
        "   floor: one masked gradient X^T (M * R) as one BLAS product"
        + (f", one per column of R (n x {c}), in all" if c > 1 else "")
        + f": {info['floor'] * 1e3:.2f} ms   (fixntk._cpu.core.masked_gradients: "
        f"{info['core_gradient'] * 1e3:.2f} ms)"
    )
    head = (
        f"   {'solver':8s} {'own tol':>8s} {'time [s]':>10s} {'rel gap':>9s} "
        f"{'x fixntk':>9s} {'floors':>8s} {'peak MiB':>9s} {'+solve':>7s} "
        f"{'scale':>9s}  notes"
    )
    print(head)
    ref = results.get("fixntk")
    ref_row = summarise("fixntk", ref, target) if ref and "skip" not in ref else None
    ref_time = ref_row["time"] if ref_row and ref_row["reached"] else None
    for solver, out in results.items():
        if "skip" in out:
            print(f"   {solver:8s} skipped: {out['skip']}")
            continue
        row = summarise(solver, out, target)
        notes = list(out.get("notes", []))
        if row is None:
            print(f"   {solver:8s} no result: {'; '.join(notes) or 'unknown'}")
            continue
        t = row["time"]
        if not row["reached"]:
            notes.insert(
                0,
                f"target {target:.0e} not reached (longest run {row['longest']:.2f} s)",
            )
        ratio = "-"
        if ref_time and row["reached"]:
            ratio = f"{t / ref_time:.1f}"
        elif ref_time:  # reaching the target takes longer than its longest run
            ratio = f">{row['longest'] / ref_time:.1f}"
        if "points" in row:
            notes.insert(0, f"{row['at_target']}/{row['points']} points at target")
            if single:
                notes.insert(1, f"{t / single:.1f} single solves")
        if out.get("setup_time", 0) > 0.05:
            notes.append(f"design/matrix built in {out['setup_time']:.2f} s, not timed")
        print(
            f"   {solver:8s} {row['tol']:8.0e} {t:10.3f} {row['rel_gap']:9.2e} "
            f"{ratio:>9s} {t / info['floor']:8.0f} {row['peak_rss']:9.0f} "
            f"{_solve_mib(row):>7s} "
            f"{row['scale']:9.1e}  {'; '.join(notes)}"
        )
    print(
        "   time: wall time of the solve call (the run that first reached the "
        "target, else the best gap's run); rel gap: fixntk.duality_gap / F(0) of it;"
    )
    print(
        "   floors: time / floor; peak MiB: peak RSS of the worker during that run "
        "(data, design and imports included); +solve: that peak minus the RSS just"
    )
    print(
        "   before the solve call; scale: (their objective - ours) / ours, their "
        "objective as they report it, mapped to our scaling."
    )


def _solve_mib(row):
    if row.get("rss_before") is None:
        return "-"
    return f"{row['peak_rss'] - row['rss_before']:.0f}"


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=RawDefaultsFormatter,
    )
    ap.add_argument(
        "--problem",
        action="append",
        choices=[k for k in PROBLEMS],
        help="S1, S2, S3, W64, W256, W784, N784 or T200k (repeatable; default S1)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a tiny problem (n=1000, d=10, p=100) to test the script",
    )
    ap.add_argument(
        "--solvers",
        type=names(SOLVERS),
        default=",".join(SOLVERS),
        help=f"comma-separated subset of {','.join(SOLVERS)}",
    )
    ap.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="threads for every solver and BLAS (pinned through the "
        "environment; default 1, steadier on a shared machine)",
    )
    ap.add_argument(
        "--target",
        type=fraction,
        default=1e-6,
        help="certified relative duality gap to reach (default 1e-6)",
    )
    ap.add_argument(
        "--budget",
        type=positive_float,
        default=None,
        help="seconds per solver and problem before its ladder is cut (default 900; "
        "60 with --quick)",
    )
    ap.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        help="runs of fixntk (the best is kept); peers run once",
    )
    ap.add_argument(
        "--skip-loose",
        type=nonnegative_int,
        default=0,
        help="drop the K loosest tolerances of each peer's ladder (saves "
        "time on big problems)",
    )
    ap.add_argument(
        "--max-design-gib",
        type=positive_float,
        default=4.0,
        help="largest n x (p d) design built for skglm/celer (GiB)",
    )
    ap.add_argument(
        "--path",
        type=fraction,
        action="append",
        metavar="EPS",
        help=f"solve the path of {PATH_LAMS} lams from lam_max down to EPS * lam_max "
        "instead of the single lam (repeatable; issue 16: 1e-2 and 1e-3 on S1)",
    )
    ap.add_argument(
        "--loss",
        choices=LOSSES,
        default="squared",
        help="the datafit (issue 15): logistic labels the rows by the sign of the "
        f"teacher's output, multinomial by its {N_CLASSES} quantile bins",
    )
    ap.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seed of the planted problem (default 0)",
    )
    ap.add_argument(
        "--json", type=output_file, help="also write all runs to this JSON file"
    )
    # Internal: one solver's ladder in a worker process.
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--tols", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        tols = [float(t) for t in args.tols.split(",")]
        # An exception ends the worker with its traceback on stderr; the parent
        # quotes the last line of it next to the table.
        worker(args.worker, args.data, tols, args.target, args.budget)
        return 0

    if args.quick and args.problem:
        ap.error("--quick runs its own tiny problem: drop --problem, or --quick")
    threads = pin_threads(args.threads, override=True)
    solvers = list(dict.fromkeys(args.solvers))
    if "fixntk" in solvers:  # the reference runs first
        solvers.remove("fixntk")
        solvers.insert(0, "fixntk")
    if args.budget is None:  # a peer's tolerance ladder could take 900 s on --quick
        args.budget = 60.0 if args.quick else 900.0
    problems = ["quick"] if args.quick else (args.problem or ["S1"])

    report = []
    with tempfile.TemporaryDirectory(prefix="fixntk-peers-") as tmp:
        for name, path_eps in [(p, e) for p in problems for e in args.path or [None]]:
            print(f"building {name} ...", file=sys.stderr, flush=True)
            path, info = build_problem(name, args.seed, tmp, path_eps, args.loss)
            results = {}
            for solver in solvers:
                results[solver] = run_solver(solver, path, info, args)
            print_table(info, results, args.target, threads)
            report.append({"problem": info, "results": results})
            os.remove(path)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"target": args.target, "threads": threads, "problems": report},
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
