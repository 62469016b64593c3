"""geoaug chip / run_chips: chips written from whole scenes, manifest, resume, workers, CLI, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _scenes import ben_folder, clear_scene, collar_scene, write_tif
from click.testing import CliRunner

import geoaug
from geoaug import sampling
from geoaug.chips import run_chips
from geoaug.cli_chip import chip

ROOT = Path(__file__).resolve().parents[1]
PIPE = ROOT / "docs" / "examples" / "generic.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("chipdata")
    scenes = d / "scenes"
    scenes.mkdir()
    collar = collar_scene(scenes)
    ben_folder(scenes)
    full = geoaug.read(collar)
    classes = np.where(full.mask, (full.data[2] > np.median(full.data[2][full.mask])) + 1, 0).astype("uint8")
    labels = write_tif(d / "labels.tif", classes[None], full.transform, full.crs, nodata=0)
    return {"scenes": scenes, "collar": collar, "labels": labels, "dir": d}


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.tif"))}


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_chips_manifest_and_equality_with_the_python_api(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    pipe = geoaug.load_pipeline(PIPE)
    s = run_chips(data["scenes"], out, pipe, size=48, count=3, copies=2, seed=5, min_valid=0.6)
    assert (s.files, s.outputs, s.failures) == (2, 12, 0)
    lines = _manifest(out)
    assert len(lines) == 12 and {ln["status"] for ln in lines} == {"ok"}
    names = sorted({ln["scene"] for ln in lines})
    assert names == ["ben_patch/S2B_MSIL2A_20170924T093019_43_47", "landsat_c2_sr.tif"]
    api = {(c.scene, c.index, c.copy): c for c in
           geoaug.sample(data["scenes"], 48, count=3, copies=2, pipeline=pipe, seed=5, min_valid=0.6)}
    for ln in lines:
        c = api[(ln["scene"], ln["index"], ln["copy"])]
        assert ln["window"] == list(c.window) and ln["params"] == c.params
        assert np.allclose(ln["matrix"], c.matrix)
        r = geoaug.read(out / ln["output"])
        assert np.array_equal(r.data, c.image.data) and np.array_equal(r.pixel_mask, c.image.pixel_mask)
        assert r.transform.almost_equals(c.image.transform, precision=1e-9) and r.crs == c.image.crs
        assert r.valid_fraction >= 0.0 and ln["source"]
    ben = geoaug.read(out / "ben_patch/S2B_MSIL2A_20170924T093019_43_47/chip00000_aug0.tif")
    assert ben.count == 12 and ben.band_names[:3] == ("B01", "B02", "B03")  # one multi-band GeoTIFF, named bands


def test_resume_and_byte_identical_reruns(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    kw = dict(pipeline=geoaug.load_pipeline(PIPE), size=40, count=2, copies=2, seed=1, labels=data["labels"])
    run_chips(data["collar"], out, **kw)
    first, lines = _digests(out), _manifest(out)
    assert len(first) == 8  # 4 chips + 4 label chips
    again = run_chips(data["collar"], out, **kw)
    assert (again.outputs, again.skipped) == (0, 4)
    skipped = _manifest(out)
    strip = ("status", "valid", "pixels")
    assert [{k: v for k, v in a.items() if k not in strip} for a in lines] == \
           [{k: v for k, v in b.items() if k not in strip} for b in skipped]
    victim = out / lines[1]["output"]
    victim.unlink()
    (out / f".{victim.name}.0123456789ab.part").write_bytes(b"half")  # an interrupted write
    redo = run_chips(data["collar"], out, **kw)
    assert (redo.outputs, redo.skipped) == (1, 3)
    assert _digests(out) == first and not list(out.rglob("*.part"))


def test_two_dask_workers_write_the_same_bytes(data: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    kw = dict(pipeline=geoaug.load_pipeline(PIPE), size=32, count=6, seed=9)
    serial = run_chips(data["collar"], tmp_path / "serial", **kw)
    par = run_chips(data["collar"], tmp_path / "par", workers=2, **kw)  # one scene: blocks of windows
    assert serial.outputs == par.outputs == 6
    assert _digests(tmp_path / "serial") == _digests(tmp_path / "par")
    assert _manifest(tmp_path / "serial") == _manifest(tmp_path / "par")


def test_cli_matches_the_python_api(data: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(chip, [str(data["collar"]), str(tmp_path / "cli"), "--size", "40", "--count", "3",
                                    "--pipeline", str(PIPE), "--copies", "2", "--seed", "3", "--min-valid", "0.5",
                                    "--labels", str(data["labels"]), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["outputs"] == 6 and summary["failures"] == 0
    run_chips(data["collar"], tmp_path / "api", geoaug.load_pipeline(PIPE), size=40, count=3, copies=2, seed=3,
              min_valid=0.5, labels=data["labels"])
    assert _digests(tmp_path / "cli") == _digests(tmp_path / "api")
    grid = CliRunner().invoke(chip, [str(data["collar"]), str(tmp_path / "grid"), "--size", "128", "--stride", "128"])
    assert grid.exit_code == 0, grid.output
    assert len(_digests(tmp_path / "grid")) == 16
    both = CliRunner().invoke(chip, [str(data["collar"]), str(tmp_path / "x"), "--count", "2", "--stride", "3"])
    assert both.exit_code == 2 and "not both" in both.output


def test_per_band_files_get_the_same_draw(data: dict[str, Path], tmp_path: Path) -> None:
    ben = data["scenes"] / "ben_patch"
    run_chips(ben, tmp_path / "pb", geoaug.load_pipeline(PIPE), size=32, count=1, seed=0, per_band=True,
              stack=["B04", "B03", "B02"])
    (line,) = _manifest(tmp_path / "pb")
    assert [Path(p).name for p in line["band_outputs"]] == [f"chip00000_aug0_{b}.tif" for b in ("B04", "B03", "B02")]
    (c,) = geoaug.sample(ben, 32, count=1, seed=0, pipeline=geoaug.load_pipeline(PIPE), stack=["B04", "B03", "B02"])
    for b, rel in enumerate(line["band_outputs"]):
        r = geoaug.read(tmp_path / "pb" / rel)
        assert r.count == 1 and np.array_equal(r.data[0], c.image.data[b])
        assert r.transform.almost_equals(c.image.transform, precision=1e-9)


def test_bad_scenes_are_reported_and_the_rest_goes_on(data: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    good = clear_scene(d)
    with rasterio.open(good) as src:
        t, crs = src.transform, src.crs
    write_tif(d / "tiny.tif", np.ones((1, 20, 20), "uint16"), t, crs)  # smaller than a chip
    write_tif(d / "empty.tif", np.zeros((1, 80, 80), "uint16"), t, crs, nodata=0)  # no valid chip
    (d / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    res = CliRunner().invoke(chip, [str(d), str(tmp_path / "out"), "--size", "32", "--count", "2",
                                    "--min-valid", "0.5", "--max-tries", "4", "--seed", "0"])
    assert res.exit_code == 1
    for name in ("tiny.tif: chip 32 x 32 is larger", "empty.tif: no", "broken.tif"):
        assert name in res.output, res.output
    lines = _manifest(tmp_path / "out")
    ok = [ln for ln in lines if ln["status"] == "ok"]
    assert len(ok) == 2 and {ln["scene"] for ln in ok} == {"landsat_l1t.tif"}
    failed = [ln for ln in lines if ln["status"] == "failed"]
    assert {ln["scene"] for ln in failed} >= {"empty.tif"} and all("error" in ln for ln in failed)
    assert "4 tries" in next(ln for ln in failed if ln["scene"] == "empty.tif")["error"]


def test_scene_names_and_chip_names() -> None:
    from geoaug.chips import chip_names, scene_folder

    s = sampling.Scene.from_file(ROOT / "fixtures" / "tiles" / "landsat8_sr_7band_uint16_collar.tif")
    assert scene_folder(s) == "landsat8_sr_7band_uint16_collar"
    assert chip_names(s, 3, 1)["output"] == "landsat8_sr_7band_uint16_collar/chip00003_aug1.tif"


def test_same_crs_refuses_other_crs_scenes_and_goes_on(data: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    clear_scene(d)  # EPSG:32616, sorted first
    res = CliRunner().invoke(chip, [str(d / "landsat_l1t.tif"), str(data["collar"]), str(tmp_path / "out"),
                                    "--size", "32", "--count", "1", "--same-crs"])
    assert res.exit_code == 1 and "landsat_c2_sr.tif: CRS" in res.output
    ok = [ln for ln in _manifest(tmp_path / "out") if ln["status"] == "ok"]
    assert [ln["scene"] for ln in ok] == ["landsat_l1t.tif"]
