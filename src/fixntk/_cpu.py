"""The build of the compiled core that this CPU runs: fixntk's one join point to C++.

``setup.py`` compiles the C++ core once per instruction set. On x86-64 there are two
builds, for the baseline instruction set and for x86-64-v3 (AVX2, FMA); the second is
imported where the CPU supports it (the baseline build asks the CPU), the first
everywhere else. ``FIXNTK_NATIVE=1`` at build time makes a single build for the
building machine's CPU, used as it is. Every build gives the same results on every
run on one machine; the x86-64-v3 build rounds differently in the last bits (FMA
contracts ``a * b + c`` into one rounding).

Setting the environment variable ``FIXNTK_CPU=x86-64`` before the import forces the
baseline build (to compare the two, or to rule the fast paths out).

Attributes
----------
core : module
    The compiled module (``masked_predict``, ``masked_gradients``,
    ``solve_group_lasso``, ...).
build : str
    Which build it is: ``"x86-64-v3"``, ``"x86-64"``, ``"native"`` or ``"generic"``.
"""

import importlib
import importlib.util
import os

__all__ = ["core", "build"]


def _present(suffix):
    return importlib.util.find_spec(f"{__package__}._core_{suffix}") is not None


def _load():
    if _present("native"):
        return importlib.import_module(f"{__package__}._core_native"), "native"
    if not _present("x86_64"):
        return importlib.import_module(f"{__package__}._core_generic"), "generic"
    base = importlib.import_module(f"{__package__}._core_x86_64")
    forced = os.environ.get("FIXNTK_CPU", "")
    if forced not in ("", "x86-64", "x86-64-v3"):
        raise ImportError(f"FIXNTK_CPU must be 'x86-64' or 'x86-64-v3'; got {forced!r}")
    if forced != "x86-64" and _present("x86_64_v3") and base.cpu_supports_x86_64_v3():
        return importlib.import_module(f"{__package__}._core_x86_64_v3"), "x86-64-v3"
    if forced == "x86-64-v3":
        raise ImportError("FIXNTK_CPU=x86-64-v3, but this CPU cannot run that build")
    return base, "x86-64"


def capsule_address(module, name):
    """The address of the function ``name`` of a Cython module's C API
    (``scipy.linalg.cython_blas`` / ``cython_lapack``: SciPy's BLAS and LAPACK)."""
    import ctypes

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = module.__pyx_capi__[name]
    return get_ptr(capsule, get_name(capsule))


def _register_blas(core):
    """Hand SciPy's BLAS/LAPACK (through its Cython capsules) to the compiled core,
    once, when it loads: every caller of ``core`` finds them set (with the package's
    names loaded on first use, a script that reached ``core`` before the solver's
    module got 'BLAS/LAPACK not registered')."""
    from scipy.linalg import cython_blas, cython_lapack

    core.set_blas(
        capsule_address(cython_blas, "dgemm"),
        capsule_address(cython_blas, "dsyrk"),
        capsule_address(cython_lapack, "dpotrf"),
        capsule_address(cython_lapack, "dpotrs"),
        capsule_address(cython_lapack, "dsyevd"),
    )


core, build = _load()
_register_blas(core)
