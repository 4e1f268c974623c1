"""Datafits (losses) of the gated ReLU program: one module per loss.

``loss=`` in :func:`fixntk.solve` and the estimators accepts a name or an instance.
"""

from ._base import Datafit, Targets
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
    "get_datafit",
    "is_squared",
]

_BY_NAME = {cls.name: cls for cls in (Squared, Logistic, Multinomial, Poisson)}


def get_datafit(loss):
    """The datafit for ``loss``: a name in ``available()`` or a :class:`Datafit`."""
    if isinstance(loss, Datafit):
        return loss
    if isinstance(loss, type) and issubclass(loss, Datafit):
        return loss()
    if isinstance(loss, str) and loss in _BY_NAME:
        return _BY_NAME[loss]()
    names = ", ".join(repr(k) for k in _BY_NAME)
    raise ValueError(f"loss must be one of {names} or a fixntk Datafit; got {loss!r}")
