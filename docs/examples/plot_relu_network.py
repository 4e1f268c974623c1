"""
The ReLU network and its cone decomposition
===========================================

The exact convex program of a two-layer *ReLU* network (:func:`fixntk.solve_relu`) is
the gated group lasso restricted to the cones
:math:`C_i = \\{v : (2D_i - I) X v \\ge 0\\}`, on which
:math:`D_i X v = (X v)_+`. A gated solution can also be turned into a ReLU network
with the same training outputs (:func:`fixntk.gated_to_relu`): each
:math:`w_i = v_i - u_i` with :math:`v_i, u_i \\in C_i`.
"""

import matplotlib.pyplot as plt
import numpy as np

import fixntk

rng = np.random.default_rng(1)
X = np.hstack([rng.standard_normal((150, 2)), np.ones((150, 1))])
y = np.maximum(X @ [1.0, -1.0, 0.2], 0) - np.maximum(X @ [0.5, 1.0, -0.1], 0)

arr = fixntk.sample_arrangement(X, n_gates=40, seed=0)
lam = 0.02 * fixntk.lambda_max(X, y, arr)
gated = fixntk.solve(X, y, arr, lam)
relu = fixntk.solve_relu(X, y, arr, lam)
print(f"gated objective {gated.objective:.5f} (gap {gated.relative_gap:.1e})")
print(f"ReLU  objective {relu.objective:.5f} (gap {relu.relative_gap:.1e})")

dec = fixntk.gated_to_relu(X, arr, gated)
print(f"cone decomposition: max |ReLU - gated| on the training rows {dec.residual:.1e}")
penalty = np.linalg.norm(gated.coef, axis=1).sum()
print(f"ReLU weight decay {dec.penalty:.4f} >= gated {penalty:.4f}")

# %%
# The estimator predicts with the network itself.

est = fixntk.ReLURegressor(n_gates=40, lam=lam, random_state=0).fit(X[:, :2], y)
net = est.to_network()
grid = np.linspace(-2.5, 2.5, 120)
G0, G1 = np.meshgrid(grid, grid)
Z = net.forward(np.c_[G0.ravel(), G1.ravel()]).reshape(G0.shape)
fig, ax = plt.subplots(figsize=(5, 4))
cs = ax.contourf(G0, G1, Z, levels=20)
fig.colorbar(cs, ax=ax)
ax.set_title(f"ReLU network, {net.n_neurons} neurons")
fig.tight_layout()
