"""Print pip constraints pinning every declared floor of pyproject.toml.

Each run-time dependency (``[project].dependencies``) and each build requirement
(``[build-system].requires``) written ``name>=floor`` becomes ``name==floor``, so
``pip install -c`` of the output installs exactly the oldest versions the project
claims to support. A run-time dependency without a floor is an error (a claim that
cannot be tested); a build requirement without one (``wheel``) claims nothing and is
left free. ``--check`` instead verifies that the installed versions are the floors.
Run by ``.ci/run``; needs Python 3.11+ (tomllib).
"""

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import tomllib

_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*$")


def floors(pyproject):
    meta = tomllib.loads(Path(pyproject).read_text())
    build, run = meta["build-system"]["requires"], meta["project"]["dependencies"]
    pins = []
    for spec in build + run:
        match = _FLOOR.match(spec)
        if match is not None:
            pins.append(f"{match.group(1)}=={match.group(3)}")
        elif spec in run or any(op in spec for op in "<>=!~"):
            sys.exit(f"{pyproject}: {spec!r} has no single '>=' floor to test")
    return pins


def _release(text):
    """'1.23.0' -> (1, 23): the numeric release with trailing zeros dropped."""
    parts = [int(p) for p in re.match(r"[0-9]+(\.[0-9]+)*", text).group(0).split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check(pins):
    """Exit non-zero unless every pinned package is installed at its floor."""
    wrong = []
    for pin in pins:
        name, floor = pin.split("==")
        try:
            have = version(name)
        except PackageNotFoundError:
            have = "not installed"
        if have == "not installed" or _release(have) != _release(floor):
            wrong.append(f"{name} {have} (floor {floor})")
        else:
            print(f"{name} {have}")
    if wrong:
        sys.exit("not at the declared floor: " + "; ".join(wrong))


if __name__ == "__main__":
    pins = floors(Path(__file__).resolve().parent.parent / "pyproject.toml")
    if sys.argv[1:] == ["--check"]:
        check(pins)
    else:
        print("\n".join(pins))
