"""
The regularisation path and the choice of lam
=============================================

:func:`fixntk.solve_path` solves the group lasso along a decreasing grid of
:math:`\\lambda`, each solve warm-started from the last, from :math:`\\lambda_{\\max}`
(every group zero) down. Groups (neurons) enter one by one. An estimator with
``lam="cv"`` scores the same kind of grid by cross-validation.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

import fixntk

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X[:300])
y = (y[:300] - y[:300].mean()) / y[:300].std()

arr = fixntk.sample_arrangement(X, n_gates=40, seed=0)
path = fixntk.solve_path(X, y, arr, n_lams=15, eps=1e-2, tol=1e-5)
f0 = 0.5 * float(y @ y) / len(y)
print(f"{arr.p} groups; certified relative gaps up to {max(path.gaps) / f0:.1e}")

# %%
# Group norms against lam, and the cross-validated error of an estimator on a grid of
# the same kind (its gates include the intercept column, so the grid differs a little).

est = fixntk.GatedReLURegressor(
    n_gates=40, lam="cv", n_lams=10, eps=1e-2, cv=3, random_state=0
).fit(X, y)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
fixntk.RegularizationPathDisplay.from_path(path, ax=ax1)
fixntk.LambdaSelectionDisplay.from_estimator(est, ax=ax2)
fig.tight_layout()
print(f"lam selected by cross-validation: {est.lam_:.3g}")
print(f"active neurons at that lam: {est.n_active_neurons_}")
n_active = np.count_nonzero(path.coefs[-1].any(axis=1))
print(f"groups on the path at the smallest lam: {n_active}")
