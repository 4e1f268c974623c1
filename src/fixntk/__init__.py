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

from . import datafits  # noqa: E402
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

__version__ = "0.1.0"

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
