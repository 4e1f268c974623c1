"""The README's Python examples run as written (they are the newcomer's first
contact)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    if "fixntk.dask" in BLOCKS[index]:
        pytest.importorskip("distributed")  # the dask extra
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), {})
