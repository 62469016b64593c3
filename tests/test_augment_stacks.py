"""`geoaug augment` over scenes stored as band files: one input, one draw, one multi-band output (or per band)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _scenes import L8_C2, ben_folder, l1t_band_folder, safe_product
from click.testing import CliRunner

import geoaug
from geoaug.bandfiles import stack_groups
from geoaug.batch import augment_folder
from geoaug.cli import main as cli
from geoaug.seeding import rng_for

POLICY = {"transforms": [{"Affine": {"rotate": [-40, 40], "scale": [0.9, 1.1], "interpolation": "bilinear",
                                     "fill": "nodata"}},
                         {"HorizontalFlip": {"p": 0.5}}, {"BandGain": {"gain": [0.9, 1.1]}}]}
BEN_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def manifest(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]


def read_all(path: Path) -> tuple[np.ndarray, tuple, object]:
    with rasterio.open(path) as src:
        return src.read(), src.descriptions, src.transform


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A BigEarthNet patch (12 band files, .TIF upper case), a Landsat C2 SR folder and a lone GeoTIFF."""
    root = tmp_path / "in"
    root.mkdir()
    ben_folder(root, upper=True)
    l8 = root / "landsat" / "LC08_L2SP_008059_20191201"
    l8.mkdir(parents=True)
    for b in (2, 3, 4):
        shutil.copy(L8_C2 / f"SR_B{b}.tif", l8 / f"LC08_L2SP_008059_20191201_SR_B{b}.TIF")
    shutil.copy(L8_C2 / "SR_B2.tif", root / "lone.tif")
    return root


def test_band_files_of_a_scene_are_one_input_with_one_draw(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    s = augment_folder(tree, out, POLICY, copies=2, seed=5)
    assert (s.files, s.outputs, s.failures) == (3, 6, 0)
    lines = {(ln["input"], ln["copy"]): ln for ln in manifest(out)}
    assert sorted({i for i, _ in lines}) == ["ben_patch/S2B_MSIL2A_20170924T093019_43_47",
                                             "landsat/LC08_L2SP_008059_20191201/LC08_L2SP_008059_20191201",
                                             "lone.tif"]
    pipe = geoaug.Compose.from_dict(POLICY)
    [ben], _ = stack_groups(list((tree / "ben_patch").iterdir()))
    stacked = geoaug.read_stack(ben)
    assert stacked.band_names == BEN_BANDS and stacked.shape == (12, 120, 120)  # the 10 m grid
    for k in range(2):
        rel = "ben_patch/S2B_MSIL2A_20170924T093019_43_47"
        data, names, transform = read_all(out / f"{rel}_aug{k}.tif")
        assert names == BEN_BANDS
        # the recorded draw is the one the seed gives for the stack's name, and it made the output
        assert lines[(rel, k)]["params"] == pipe.sample(rng_for(5, rel, k), stacked)
        want = pipe.apply(stacked, lines[(rel, k)]["params"])
        np.testing.assert_array_equal(data, want.filled())
        assert transform.almost_equals(want.transform)
    data, names, _ = read_all(out / "landsat/LC08_L2SP_008059_20191201/LC08_L2SP_008059_20191201_aug0.tif")
    assert data.shape[0] == 3 and names == ("SR_B2", "SR_B3", "SR_B4")


def test_per_band_outputs_share_the_draw_of_the_stack(tree: Path, tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    augment_folder(tree / "ben_patch", whole, POLICY, seed=3)
    s = augment_folder(tree / "ben_patch", split, POLICY, seed=3, per_band=True)
    assert (s.files, s.outputs, s.failures) == (1, 1, 0)
    stacked, _, transform = read_all(whole / "S2B_MSIL2A_20170924T093019_43_47_aug0.tif")
    line = manifest(split)[0]
    assert len(line["band_outputs"]) == 12 and line["output"] == line["band_outputs"][0]
    for b, name in enumerate(BEN_BANDS):
        one = split / f"S2B_MSIL2A_20170924T093019_43_47_{name}_aug0.tif"
        assert one.name in line["band_outputs"]
        data, names, t = read_all(one)
        assert names == (name,) and t.almost_equals(transform)
        np.testing.assert_array_equal(data[0], stacked[b])
    # a rerun resumes: every band file exists, nothing is redone
    again = augment_folder(tree / "ben_patch", split, POLICY, seed=3, per_band=True)
    assert (again.outputs, again.skipped) == (0, 1)
    # a band file lost: that copy is made again, with the same pixels
    lost = split / "S2B_MSIL2A_20170924T093019_43_47_B05_aug0.tif"
    before = lost.read_bytes()
    lost.unlink()
    again = augment_folder(tree / "ben_patch", split, POLICY, seed=3, per_band=True)
    assert (again.outputs, again.skipped) == (1, 0)
    assert read_all(lost)[0].tobytes() == rasterio.MemoryFile(before).open().read().tobytes()


def test_explicit_band_order_and_a_scene_missing_a_band(tree: Path, tmp_path: Path) -> None:
    bad = tree / "landsat" / "LC08_L2SP_008059_20191201" / "LC08_L2SP_008059_20191201_SR_B4.TIF"
    bad.unlink()
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["augment", str(tree), str(out), "--pipeline", str(_policy_file(tmp_path)),
                                   "--stack", "B04,B03,B02", "-q"])
    assert res.exit_code == 1, res.output
    assert "landsat/LC08_L2SP_008059_20191201" in res.output and "B04" in res.output and "SR_B2" in res.output
    _data, names, _ = read_all(out / "ben_patch/S2B_MSIL2A_20170924T093019_43_47_aug0.tif")
    assert names == ("B04", "B03", "B02")
    assert not (out / "lone_aug0.tif").exists()  # with a band order, other files are not inputs
    failed = [ln for ln in manifest(out) if ln["status"] == "failed"]
    assert len(failed) == 1 and "no band file for B04" in failed[0]["error"]


def test_stack_none_takes_each_file_alone_and_bad_options(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    s = augment_folder(tree / "ben_patch", out, POLICY, stack=None)
    assert s.files == 12 and (out / "S2B_MSIL2A_20170924T093019_43_47_B8A_aug0.TIF").exists()
    pol = str(_policy_file(tmp_path))
    res = CliRunner().invoke(cli, ["augment", str(tree), str(tmp_path / "o2"), "--pipeline", pol, "--stack", "none",
                                   "--per-band"])
    assert res.exit_code == 2 and "--per-band" in res.output
    res = CliRunner().invoke(cli, ["augment", str(tree), str(tmp_path / "o3"), "--pipeline", pol, "--stack", ", ,"])
    assert res.exit_code == 2 and "--stack" in res.output


def test_a_stack_run_refuses_a_folder_of_another_stacking(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    augment_folder(tree / "ben_patch", out, POLICY)
    with pytest.raises(geoaug.batch.RerunMismatchError):
        augment_folder(tree / "ben_patch", out, POLICY, per_band=True)


def test_safe_jp2_and_landsat_upper_case_with_labels(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    safe_product(root)
    l1t_band_folder(root)
    # a label raster for the Landsat stack, named after it
    stack = geoaug.read_stack(sorted((root / "LC08_TEST").iterdir()))
    labels = tmp_path / "labels" / "LC08_TEST"
    labels.mkdir(parents=True)
    lab = (np.arange(stack.height * stack.width).reshape(1, stack.height, stack.width) % 5).astype("uint8")
    with rasterio.open(labels / "LC08_L1TP_020039_20150804.tif", "w", driver="GTiff", width=stack.width,
                       height=stack.height, count=1, dtype="uint8", transform=stack.transform, crs=stack.crs) as d:
        d.write(lab)
    out = tmp_path / "out"
    s = augment_folder(root, out, POLICY, patterns=("*.tif", "*.jp2"), labels_dir=tmp_path / "labels", seed=1)
    assert (s.files, s.failures) == (2, 0), s.failed_files
    safe_rel = "S2X_MSIL2A_TEST.SAFE/GRANULE/L2A_T01UBT/IMG_DATA/T01UBT_20230122T231849"
    data, names, _t = read_all(out / f"{safe_rel}_aug0.tif")
    assert names == ("B01", "B02", "B05") and data.shape[1:] == (100, 100)  # B02 at 10 m sets the grid
    landsat = {ln["input"]: ln for ln in manifest(out)}["LC08_TEST/LC08_L1TP_020039_20150804"]
    assert landsat["label_output"] == "LC08_TEST/LC08_L1TP_020039_20150804_aug0_label.tif"
    pipe = geoaug.Compose.from_dict(POLICY)
    want = pipe.apply_label(geoaug.read(labels / "LC08_L1TP_020039_20150804.tif"), landsat["params"])
    np.testing.assert_array_equal(read_all(out / landsat["label_output"])[0], want.filled())


def test_band_files_in_different_crs_fail_clearly_and_the_rest_goes_on(tree: Path, tmp_path: Path) -> None:
    b02 = tree / "ben_patch" / "S2B_MSIL2A_20170924T093019_43_47_B02.TIF"
    with rasterio.open(b02, "r+") as dst:
        dst.crs = rasterio.crs.CRS.from_epsg(4326)
    out = tmp_path / "out"
    s = augment_folder(tree, out, POLICY)
    assert (s.files, s.failures) == (3, 1)
    rel, err = s.failed_files[0]
    assert rel == "ben_patch/S2B_MSIL2A_20170924T093019_43_47" and "B02.TIF" in err and "CRS" in err
    assert not list((out / "ben_patch").glob("*.tif"))
    assert (out / "lone_aug0.tif").exists()


def _policy_file(tmp_path: Path) -> Path:
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(POLICY))
    return p


def test_stacks_on_two_dask_workers_are_byte_identical(tree: Path, tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    serial, cluster = tmp_path / "serial", tmp_path / "cluster"
    augment_folder(tree, serial, POLICY, copies=2, seed=9, per_band=True)
    s = augment_folder(tree, cluster, POLICY, copies=2, seed=9, per_band=True, workers=2)
    assert (s.outputs, s.failures) == (6, 0)
    files = sorted(p.relative_to(serial) for p in serial.rglob("*.TIF")) + sorted(
        p.relative_to(serial) for p in serial.rglob("*.tif"))
    assert len(files) == 2 * (12 + 3 + 1)
    for f in files:
        assert (serial / f).read_bytes() == (cluster / f).read_bytes(), f


def test_a_stack_takes_vector_labels_named_after_it(tree: Path, tmp_path: Path) -> None:
    import shapely

    rel = "ben_patch/S2B_MSIL2A_20170924T093019_43_47"
    [ben], _ = stack_groups(list((tree / "ben_patch").iterdir()))
    stacked = geoaug.read_stack(ben)
    x0, y0 = stacked.transform @ (30, 30)
    x1, y1 = stacked.transform @ (90, 90)
    layer = geoaug.VectorLayer.from_geometries([shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))],
                                               {"cls": [3]}, stacked.crs)
    (tmp_path / "vec" / "ben_patch").mkdir(parents=True)
    geoaug.write_vectors(layer, tmp_path / "vec" / f"{rel}.geojson")
    out = tmp_path / "out"
    s = augment_folder(tree / "ben_patch", out, POLICY, seed=2, vectors_dir=tmp_path / "vec" / "ben_patch",
                       rasterize_vectors="cls")
    assert (s.outputs, s.failures) == (1, 0), s.failed_files
    line = manifest(out)[0]
    name = "S2B_MSIL2A_20170924T093019_43_47"
    assert line["vector_output"] == f"{name}_aug0.geojson" and line["label_output"] == f"{name}_aug0_label.tif"
    # the burnt label is the box on the output's grid: its pixels lie inside the box on the ground
    lab, _, t = read_all(out / line["label_output"])
    rows, cols = np.nonzero(lab[0] == 3)
    assert len(rows) > 100
    xs, ys = t @ (cols + 0.5, rows + 0.5)
    px, py = ~stacked.transform @ (xs, ys)
    assert ((px > 29) & (px < 91) & (py > 29) & (py < 91)).all()
    assert geoaug.read_vectors(out / line["vector_output"]).attributes["cls"].tolist() == [3]
