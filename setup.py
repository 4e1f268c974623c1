"""Declares the compiled core of fixntk; metadata lives in pyproject.toml.

The default build runs on every CPU of its architecture, because pip caches a wheel
built from the sdist and reuses it on other machines (a cluster's shared home with
mixed CPUs). On x86-64 the same sources are compiled twice, into two extension
modules: ``fixntk._core_x86_64`` for the baseline instruction set and
``fixntk._core_x86_64_v3`` for x86-64-v3 (AVX2, FMA, BMI2); ``fixntk._cpu`` imports the
second where the CPU runs it. Elsewhere one module, ``fixntk._core_generic``, is built
with the compiler's defaults.

``FIXNTK_NATIVE=1`` builds one module, ``fixntk._core_native``, for this machine's CPU
(``-march=native``): such a build may die with an illegal instruction on another CPU.
"""

import os
import subprocess
import sys
import tempfile
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


def _compiler_accepts(flag):
    """True if the C++ compiler accepts `flag` (a throwaway compile)."""
    cxx = os.environ.get("CXX", "c++")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.cpp")
        with open(src, "w") as f:
            f.write("int main() { return 0; }\n")
        cmd = [cxx, flag, src, "-o", os.path.join(tmp, "t")]
        try:
            return subprocess.run(cmd, capture_output=True).returncode == 0
        except OSError:
            return False


def _builds():
    """(module suffix, instruction-set flags) of each build of the core."""
    if sys.platform == "win32":
        return [("generic", [])]
    if os.environ.get("FIXNTK_NATIVE") == "1" and _compiler_accepts("-march=native"):
        return [("native", ["-march=native"])]
    if _compiler_accepts("-march=x86-64-v3"):  # an x86-64 compiler (GCC 11+, Clang 12+)
        return [
            ("x86_64", ["-march=x86-64", "-mtune=generic"]),
            ("x86_64_v3", ["-march=x86-64-v3", "-mtune=generic"]),
        ]
    return [("generic", [])]


compile_args = ["-O3", "-ffp-contract=fast"]
link_args = []
if sys.platform != "win32" and _compiler_accepts("-fopenmp"):
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
if os.environ.get("FIXNTK_SANITIZE") == "1":
    compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    link_args += ["-fsanitize=address,undefined"]


class _BuildExt(build_ext):
    """Each build in its own temporary directory: they compile the same sources into
    object files of the same names."""

    def build_extension(self, ext):
        shared = self.build_temp
        self.build_temp = os.path.join(shared, ext.name)
        try:
            super().build_extension(ext)
        finally:
            self.build_temp = shared


ext_modules = [
    Pybind11Extension(
        f"fixntk._core_{suffix}",
        sorted(glob("csrc/*.cpp")),
        depends=sorted(glob("csrc/*.hpp")),
        include_dirs=["csrc"],
        define_macros=[("FIXNTK_MODULE", f"_core_{suffix}")],
        cxx_std=17,
        extra_compile_args=compile_args + isa,
        extra_link_args=link_args,
    )
    for suffix, isa in _builds()
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": _BuildExt})
