"""fixntk: exact convex programs for gated ReLU networks, the NTK and its fix.

A two-layer gated ReLU network trained with weight decay is the group lasso

    min_W 1/(2n) || sum_i D_i X w_i - y ||^2 + lam sum_i ||w_i||,

a multiple kernel learning problem over masking kernels D_i X X^T D_i; the NTK is one
label-blind choice of kernel weights, and iterative reweighting fixes it.
"""

import os as _os

# OpenMP threads (Numba's kernels, on its "omp" threading layer) sleep between parallel
# regions instead of spinning (libgomp reads this when it loads): a spinning thread
# takes the core that the serial work between regions needs whenever other processes
# run. The compiled core has its own threads (csrc/row_team.hpp), which spin for at
# most 50 us after a job. Set OMP_WAIT_POLICY before importing fixntk to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402

# The public names load on first use (PEP 562): ``fixntk --version`` and ``--help``,
# and a script that needs one function, do not pay for scikit-learn, SciPy and Numba
# at import (2.3 s of the CLI's start). ``from fixntk import *``, ``dir(fixntk)`` and
# pickles are unchanged.
_SUBMODULE = {  # public name -> the module that defines it (imported on first use)
    "Arrangement": "._arrangement",
    "CellWeightsDisplay": "._plotting",
    "ConeDecomposition": "._relu",
    "constraint_violation": "._relu",
    "duality_gap": "._solver",
    "gated_to_relu": "._relu",
    "GatedReLUClassifier": "._estimators",
    "GatedReLUNetwork": "._estimators",
    "GatedReLURegressor": "._estimators",
    "irls": "._irls",
    "IRLSObjectiveDisplay": "._plotting",
    "IRLSResult": "._irls",
    "kare": "._kare",
    "kare_mkl": "._kare_mkl",
    "KAREKernelClassifier": "._kare_estimators",
    "KAREKernelRegressor": "._kare_estimators",
    "KareMKLResult": "._kare_mkl",
    "KareSelection": "._kare",
    "lambda_max": "._solver",
    "LambdaSelectionDisplay": "._plotting",
    "mkl_kernel": "._kernels",
    "mkl_objective": "._irls",
    "ntk_kernel": "._kernels",
    "ntk_weights": "._ntk",
    "NTKClassifier": "._estimators",
    "NTKRegressor": "._estimators",
    "NTKWeights": "._ntk",
    "objective": "._solver",
    "PathResult": "._solver",
    "RegularizationPathDisplay": "._plotting",
    "relu_duality_gap": "._relu",
    "relu_lambda_max": "._relu",
    "relu_objective": "._relu",
    "ReLUClassifier": "._relu_estimators",
    "ReLUNetwork": "._relu_estimators",
    "ReLURegressor": "._relu_estimators",
    "ReLUSolveResult": "._relu",
    "sample_arrangement": "._arrangement",
    "select_lambda_kare": "._kare",
    "solve": "._solver",
    "solve_path": "._solver",
    "solve_relu": "._relu",
    "SolveResult": "._solver",
}

if _TYPE_CHECKING:  # the same names for type checkers and IDEs
    from . import datafits
    from ._arrangement import Arrangement, sample_arrangement
    from ._estimators import (
        GatedReLUClassifier,
        GatedReLUNetwork,
        GatedReLURegressor,
        NTKClassifier,
        NTKRegressor,
    )
    from ._irls import IRLSResult, irls, mkl_objective
    from ._kare import KareSelection, kare, select_lambda_kare
    from ._kare_estimators import KAREKernelClassifier, KAREKernelRegressor
    from ._kare_mkl import KareMKLResult, kare_mkl
    from ._kernels import mkl_kernel, ntk_kernel
    from ._ntk import NTKWeights, ntk_weights
    from ._plotting import (
        CellWeightsDisplay,
        IRLSObjectiveDisplay,
        LambdaSelectionDisplay,
        RegularizationPathDisplay,
    )
    from ._relu import (
        ConeDecomposition,
        ReLUSolveResult,
        constraint_violation,
        gated_to_relu,
        relu_duality_gap,
        relu_lambda_max,
        relu_objective,
        solve_relu,
    )
    from ._relu_estimators import ReLUClassifier, ReLUNetwork, ReLURegressor
    from ._solver import (
        PathResult,
        SolveResult,
        duality_gap,
        lambda_max,
        objective,
        solve,
        solve_path,
    )


def __getattr__(name):
    if name == "datafits":
        from . import datafits

        return datafits
    module = _SUBMODULE.get(name)
    if module is None:
        raise AttributeError(f"module 'fixntk' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


__version__ = "0.2.0"

__all__ = [
    "Arrangement",
    "CellWeightsDisplay",
    "ConeDecomposition",
    "GatedReLUClassifier",
    "GatedReLUNetwork",
    "GatedReLURegressor",
    "IRLSObjectiveDisplay",
    "IRLSResult",
    "KAREKernelClassifier",
    "KAREKernelRegressor",
    "KareMKLResult",
    "KareSelection",
    "LambdaSelectionDisplay",
    "NTKClassifier",
    "NTKRegressor",
    "NTKWeights",
    "PathResult",
    "ReLUClassifier",
    "ReLUNetwork",
    "ReLURegressor",
    "ReLUSolveResult",
    "RegularizationPathDisplay",
    "SolveResult",
    "constraint_violation",
    "datafits",
    "duality_gap",
    "gated_to_relu",
    "irls",
    "kare",
    "kare_mkl",
    "lambda_max",
    "mkl_kernel",
    "mkl_objective",
    "ntk_kernel",
    "ntk_weights",
    "objective",
    "relu_duality_gap",
    "relu_lambda_max",
    "relu_objective",
    "sample_arrangement",
    "select_lambda_kare",
    "solve",
    "solve_path",
    "solve_relu",
]
