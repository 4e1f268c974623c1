"""Declares the compiled extension fixntk._core; metadata lives in pyproject.toml."""

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


compile_args = ["-O3", "-ffp-contract=fast"]
link_args = []
if sys.platform != "win32":
    # FIXNTK_PORTABLE=1 builds for any CPU of the architecture (for wheels).
    if os.environ.get("FIXNTK_PORTABLE") != "1" and _compiler_accepts("-march=native"):
        compile_args.append("-march=native")
    if _compiler_accepts("-fopenmp"):
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
if os.environ.get("FIXNTK_SANITIZE") == "1":
    compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    link_args += ["-fsanitize=address,undefined"]

ext_modules = [
    Pybind11Extension(
        "fixntk._core",
        sorted(glob("csrc/*.cpp")),
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
