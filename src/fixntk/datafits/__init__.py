"""Datafits (losses) of the gated ReLU program: one module per loss.

``loss=`` in :func:`fixntk.solve` and the estimators accepts a name or an instance.
"""

import copy

import numpy as np

from ._base import REQUIRED, Datafit, Targets, newton_intercept
from ._logistic import Logistic
from ._multinomial import Multinomial
from ._poisson import Poisson, PredictionOverflowError
from ._squared import Squared, is_squared

__all__ = [
    "Datafit",
    "Logistic",
    "Multinomial",
    "Poisson",
    "PredictionOverflowError",
    "Squared",
    "Targets",
    "checked_datafit",
    "get_datafit",
    "is_builtin",
    "is_squared",
    "newton_intercept",
]

_BY_NAME = {cls.name: cls for cls in (Squared, Logistic, Multinomial, Poisson)}


def get_datafit(loss):
    """The datafit for ``loss``: one of the names "squared", "logistic",
    "multinomial" and "poisson", a :class:`Datafit` instance, or a subclass of it
    (instantiated without arguments)."""
    if isinstance(loss, Datafit):
        return loss
    if isinstance(loss, type) and issubclass(loss, Datafit):
        return loss()
    if isinstance(loss, str) and loss in _BY_NAME:
        return _BY_NAME[loss]()
    names = ", ".join(repr(k) for k in _BY_NAME)
    raise ValueError(f"loss must be one of {names} or a fixntk Datafit; got {loss!r}")


def _finite(datafit, what, value):
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"the datafit {datafit.name!r} ({type(datafit).__name__}) returned a "
            f"non-finite {what} at these predictions: a Datafit's gradient, curvature "
            "and dual value must be finite wherever its value is (a NaN gradient was "
            "certified as converged with gap 0)"
        )
    return value


def _checking(cls):
    """A subclass of a user's datafit class whose gradient, curvature and dual are
    checked for NaN and infinity."""

    class Checked(cls):
        def gradient(self, Y, F):
            return _finite(self, "gradient", super().gradient(Y, F))

        def curvature(self, Y, F):
            return _finite(self, "curvature", super().curvature(Y, F))

        def dual(self, Y, F, s, scale):
            return _finite(self, "dual value", super().dual(Y, F, s, scale))

        def __reduce__(self):
            # the class is made per call and cannot be found by name: pickled as
            # the user's datafit, checked again when loaded
            return checked_datafit, (self._fixntk_original,)

    Checked.__name__ = Checked.__qualname__ = cls.__name__
    return Checked


def is_builtin(datafit):
    """Whether ``datafit`` is one of fixntk's own (not a user's subclass)."""
    return type(datafit) in _BY_NAME.values()


def checked_datafit(datafit):
    """``datafit`` itself when it is one of fixntk's; a user's as a copy whose
    gradient, curvature and dual value raise a ValueError on NaN or infinity (the
    solver relies on them for its certificate)."""
    if (
        is_builtin(datafit)
        or is_squared(datafit)  # a subclass that overrides nothing: Squared's own
        or hasattr(datafit, "_fixntk_original")
    ):
        return datafit
    missing = [
        m
        for m in REQUIRED
        if getattr(type(datafit), m, None) in (None, getattr(Datafit, m))
    ]
    if missing:
        raise TypeError(
            f"the datafit {type(datafit).__name__} does not implement "
            f"{', '.join(missing)}: a Datafit subclass implements "
            f"{', '.join(REQUIRED)} (and intercept, for fit_intercept=True)"
        )
    checked = copy.copy(datafit)
    checked.__class__ = _checking(type(datafit))
    checked._fixntk_original = datafit
    return checked
