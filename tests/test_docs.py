"""Pictures and tutorials stay alive: the preview command, the figure script, the tutorial's code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, TILES
from helpers import run_markdown_python

from geoaug.cli import main as cli

pytest.importorskip("matplotlib")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.parametrize("tile,bands", [("bigearthnet_s2_12band_uint16.tif", "B04,B03,B02"),
                                        ("landsat7_b1_float64_nan.tif", "1"),
                                        ("landsat8_sr_7band_uint16_collar.tif", "4,3,2")])
def test_preview_writes_a_grid(tmp_path: Path, tile: str, bands: str) -> None:
    out = tmp_path / "grid.png"
    res = CliRunner().invoke(cli, ["preview", str(TILES / tile), "--pipeline",
                                   str(ROOT / "docs/examples/generic.yaml"), "-n", "5", "--bands", bands,
                                   "--seed", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    w, h = _png_size(out)
    assert w > 500 and h > 300


def test_preview_bad_bands_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["preview", str(TILES / "float32_nan.tif"), "--pipeline",
                                   str(ROOT / "docs/examples/generic.yaml"), "--bands", "4,3,2",
                                   "-o", str(tmp_path / "g.png")])
    assert res.exit_code == 2 and "band 4 out of range 1..1" in res.output


def test_docs_figure_script_runs(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/make_docs_images.py"), "--out", str(tmp_path),
                           "--only", "readme_strip"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    w, h = _png_size(tmp_path / "readme_strip.png")
    assert w > 600
    # the committed picture is what the script makes (same size)
    assert _png_size(ROOT / "docs/images/readme_strip.png") == (w, h)


def test_every_transform_has_a_documented_picture() -> None:
    from geoaug.transforms import REGISTRY

    doc = (ROOT / "docs/transforms.md").read_text()
    for name in REGISTRY:
        if name in ("Compose", "OneOf", "SomeOf"):
            continue
        assert f"images/transforms/{name}.png" in doc, name
        assert (ROOT / "docs/images/transforms" / f"{name}.png").exists(), name


def test_tutorial_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_markdown_python("docs/tutorial.md", tmp_path, monkeypatch, min_blocks=4)
    assert (tmp_path / "out" / "tutorial" / "manifest.jsonl").exists()
