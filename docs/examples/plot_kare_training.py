"""
Training the kernel with KARE
=============================

The Kernel Alignment Risk Estimator scores a kernel's generalisation from training data
alone. :func:`fixntk.kare_mkl` minimises it over the masking-kernel weights, starting
from the NTK's; since KARE assumes a label-blind kernel, minimising it over many
weights overfits, so by default 20% of the rows are held out and the iterate whose
held-out gain on the NTK is surest (the mean per-row gain less two standard errors) is
kept, the NTK itself when no gain is beyond noise.
"""

import matplotlib.pyplot as plt
import numpy as np

import fixntk

rng = np.random.default_rng(0)
X = rng.standard_normal((400, 4))
y = np.maximum(X @ rng.standard_normal((4, 3)), 0).sum(axis=1)
y += 0.1 * y.std() * rng.standard_normal(400)
X_train, X_test, y_train, y_test = X[:250], X[250:], y[:250], y[250:]

model = fixntk.KAREKernelRegressor(n_gates=60, random_state=0).fit(X_train, y_train)
ntk = fixntk.NTKRegressor(lam="kare").fit(X_train, y_train)
print(f"NTK           test R^2 {ntk.score(X_test, y_test):.3f}")
print(f"KARE-trained  test R^2 {model.score(X_test, y_test):.3f}")
print(f"stopped: {model.stop_reason_}, best iteration {model.best_iter_}")

# %%
# KARE on the fitting rows keeps falling; the held-out error decides which iterate is
# kept: the NTK's own weights (iteration 0) when no later iterate does better on the
# held-out rows.

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(model.kare_history_, marker=".", label="KARE (fitting rows)")
ax.plot(model.validation_history_, marker=".", label="held-out mean squared error")
ax.axvline(model.best_iter_, color="k", ls="--", lw=1, label="kept")
ax.set_xlabel("L-BFGS iteration (0 = the NTK's weights)")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
