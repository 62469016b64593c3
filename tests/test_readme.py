"""The README's Python examples run as written (from a folder that has the fixtures)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from conftest import FIXTURES, ROOT


def test_readme_examples_run(tmp_path: Path, monkeypatch) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    os.symlink(FIXTURES, tmp_path / "fixtures")
    os.symlink(ROOT / "docs", tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert (tmp_path / "out" / "augmented.tif").exists()
    assert namespace["s2"].count == 12
    assert np.array_equal(namespace["again"].data, namespace["res"].image.data)
