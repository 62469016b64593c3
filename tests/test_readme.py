"""The README's Python examples run as written (from a folder that has the fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import run_markdown_python


def test_readme_examples_run(tmp_path: Path, monkeypatch) -> None:
    ns = run_markdown_python("README.md", tmp_path, monkeypatch, min_blocks=2)
    assert (tmp_path / "out" / "augmented.tif").exists()
    assert ns["s2"].count == 12
    assert np.array_equal(ns["again"].data, ns["res"].image.data)
