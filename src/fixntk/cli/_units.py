"""The command line's per-column units (imported with scikit-learn, when a pipeline is
built or loaded)."""

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from .._scale import pow2_units


class ColumnUnits(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divides each column by the power of 2 at or above its largest magnitude on the
    training rows (``units_``; 1 for a column of zeros): exact, so a standardisation
    after it is that of X, and no column is so small that StandardScaler takes its
    standard deviation for 0 (below 10 machine epsilons, scikit-learn's rule)."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        top = np.abs(X).max(axis=0, initial=0.0)
        ok = (top > 0) & np.isfinite(top)
        # a column of zeros keeps the unit 2 it was given (saved pipelines)
        self.units_ = pow2_units(np.where(ok, top, 1.0))
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64) / self.units_
