"""`geoaug augment --vectors DIR` and `geoaug chip --vectors FILE`: vector labels written beside each output.

The command line is compared with the Python API (the manifest's record replayed, the layer
clipped with geoaug.vectors), and bad input gives clear errors and counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from conftest import TILES
from rasterio.warp import transform as warp_transform

import geoaug
from geoaug import vectors as vec
from geoaug.cli import main as cli

PIPE = geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Affine(rotate=(-40, 40), scale=(0.9, 1.1)),
                       geoaug.Brightness(0.05)])
NAME = "sentinel2_l2a_12band_int16"


def _layer(raster: geoaug.GeoRaster) -> vec.VectorLayer:
    """Two fields, a road, a well and a feature far outside, in WGS 84 (the raster is UTM)."""
    t = raster.transform
    geoms = [shapely.box(*(t @ (10, 10)), *(t @ (45, 40))), shapely.Polygon([t @ (60, 60), t @ (99, 70), t @ (80, 99)]),
             shapely.LineString([t @ (0, 50), t @ (100, 55)]), shapely.Point(t @ (50.5, 20.5)),
             shapely.Point(t @ (400, 400))]

    def fn(xy: np.ndarray) -> np.ndarray:
        xs, ys = warp_transform(raster.crs, "EPSG:4326", xy[:, 0].tolist(), xy[:, 1].tolist())
        return np.column_stack([xs, ys])

    return vec.VectorLayer.from_geometries(list(shapely.transform(np.array(geoms, dtype=object), fn)),
                                           {"cls": [1, 2, 3, 4, 5], "name": ["a", "b", "road", "well", "far"]},
                                           crs="EPSG:4326")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("vecdata")
    tiles, vectors = d / "tiles", d / "vectors"
    (tiles / "sub").mkdir(parents=True)
    (vectors / "sub").mkdir(parents=True)
    shutil.copy(TILES / f"{NAME}.tif", tiles / "sub" / f"{NAME}.tif")
    shutil.copy(TILES / "rotated_geotransform_uint8.tif", tiles / "no_vectors.tif")
    raster = geoaug.read(tiles / "sub" / f"{NAME}.tif")
    geoaug.write_vectors(_layer(raster), vectors / "sub" / f"{NAME}.gpkg")
    pipe = d / "pipe.json"
    pipe.write_text(json.dumps(PIPE.to_dict()))
    return {"tiles": tiles, "vectors": vectors, "pipe": pipe, "dir": d}


def _augment(data: dict[str, Path], out: Path, *extra: str) -> object:
    return CliRunner().invoke(cli, ["augment", str(data["tiles"]), str(out), "--pipeline", str(data["pipe"]),
                                    "--copies", "2", "--seed", "3", "--vectors", str(data["vectors"]), "-q", *extra])


def test_augment_writes_vectors_beside_each_output_as_the_python_api(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _augment(data, out, "--rasterize-vectors", "cls")
    assert res.exit_code == 0, res.output
    assert "vectors: 5 features read" in res.output and "outside an output" in res.output
    lines = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    mine = [ln for ln in lines if ln["input"] == f"sub/{NAME}.tif"]
    assert [ln["vector_output"] for ln in mine] == [f"sub/{NAME}_aug0.gpkg", f"sub/{NAME}_aug1.gpkg"]
    other = [ln for ln in lines if ln["input"] == "no_vectors.tif"]
    assert other and all("vector_output" not in ln and "label_output" not in ln for ln in other)
    image = geoaug.read(data["tiles"] / "sub" / f"{NAME}.tif")
    layer = geoaug.read_vectors(data["vectors"] / "sub" / f"{NAME}.gpkg")
    for ln in mine:
        written = geoaug.read(out / ln["output"])
        again = PIPE.replay(image, ln["params"])
        assert written.transform == again.transform
        got = geoaug.read_vectors(out / ln["vector_output"])
        want = vec.clip_to_output(layer, again.transform, (again.height, again.width), again.crs)
        assert got.crs == image.crs and got.attributes["name"].tolist() == want.attributes["name"].tolist()
        assert "far" not in got.attributes["name"].tolist()
        assert all(a.equals_exact(b, 1e-6) for a, b in zip(got.geometries, want.geometries))
        assert ln["vectors"]["kept"] == len(got) and ln["vectors"]["outside"] >= 1
        label = geoaug.read(out / ln["label_output"])
        expected = vec.label_raster(want, again, "cls")
        np.testing.assert_array_equal(label.mask, expected.mask)  # valid where the image is, nodata 255 elsewhere
        np.testing.assert_array_equal(label.data[0][label.mask], expected.data[0][label.mask])
        assert label.transform == written.transform and set(np.unique(label.data[0][label.mask])) <= {0, 1, 2, 3, 4}
    # a rerun resumes: nothing redone, the vector outputs are still there
    again = _augment(data, out, "--rasterize-vectors", "cls")
    assert again.exit_code == 0 and "0 written, 4 already done" in again.output


def test_augment_with_geojson_and_no_rasterising(data: dict[str, Path], tmp_path: Path) -> None:
    vectors = tmp_path / "v"
    (vectors / "sub").mkdir(parents=True)
    geoaug.write_vectors(geoaug.read_vectors(data["vectors"] / "sub" / f"{NAME}.gpkg"),
                         vectors / "sub" / f"{NAME}.geojson")
    res = CliRunner().invoke(cli, ["augment", str(data["tiles"]), str(tmp_path / "o"), "--pipeline",
                                   str(data["pipe"]), "--vectors", str(vectors), "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "sub" / f"{NAME}_aug0.geojson").is_file()
    assert not list((tmp_path / "o").rglob("*_label.tif"))


@pytest.mark.parametrize("args,match", [
    (["--rasterize-vectors", "cls", "--vectors", "MISSING"], "vectors folder does not exist"),
    (["--rasterize-vectors", "cls"], "give --vectors"),
    (["--rasterize-vectors", "cls", "--vectors", "VEC", "--labels", "VEC"], "and not --labels"),
])
def test_augment_usage_errors(data: dict[str, Path], tmp_path: Path, args: list[str], match: str) -> None:
    args = [a.replace("VEC", str(data["vectors"])).replace("MISSING", str(tmp_path / "nope")) for a in args]
    res = CliRunner().invoke(cli, ["augment", str(data["tiles"]), str(tmp_path / "o"), "--pipeline",
                                   str(data["pipe"]), *args])
    assert res.exit_code == 2 and match in res.output, res.output


def test_augment_two_vector_files_for_one_raster_is_refused(data: dict[str, Path], tmp_path: Path) -> None:
    vectors = tmp_path / "v"
    shutil.copytree(data["vectors"], vectors)
    shutil.copy(vectors / "sub" / f"{NAME}.gpkg", vectors / "sub" / f"{NAME}.geojson")
    res = CliRunner().invoke(cli, ["augment", str(data["tiles"]), str(tmp_path / "o"), "--pipeline",
                                   str(data["pipe"]), "--vectors", str(vectors)])
    assert res.exit_code == 2 and "several vector files" in res.output


def test_augment_unknown_attribute_fails_that_input_with_its_name(data: dict[str, Path], tmp_path: Path) -> None:
    res = _augment(data, tmp_path / "o", "--rasterize-vectors", "klass")
    assert res.exit_code == 1
    assert "no attribute 'klass' (fields: cls, name)" in res.output
    assert not list((tmp_path / "o" / "sub").glob("*"))  # all or nothing: the failed input left no output


def test_chip_vectors_as_the_python_api(data: dict[str, Path], tmp_path: Path) -> None:
    src = data["vectors"] / "sub" / f"{NAME}.gpkg"
    out = tmp_path / "chips"
    res = CliRunner().invoke(cli, ["chip", str(data["tiles"] / "sub" / f"{NAME}.tif"), str(out), "--size", "40",
                                   "--count", "3", "--pipeline", str(data["pipe"]), "--seed", "1",
                                   "--vectors", str(src), "--rasterize-vectors", "cls"])
    assert res.exit_code == 0, res.output
    assert "vectors: 5 features read" in res.output
    layer = geoaug.read_vectors(src)
    lines = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    total_kept = 0
    for ln in lines:
        assert ln["vector_output"].endswith(".gpkg")
        chip_img = geoaug.read(out / ln["output"])
        want = vec.clip_to_output(layer, chip_img.transform, (chip_img.height, chip_img.width), chip_img.crs)
        got = geoaug.read_vectors(out / ln["vector_output"])
        assert got.attributes["cls"].tolist() == want.attributes["cls"].tolist()
        assert all(a.equals_exact(b, 1e-6) for a, b in zip(got.geometries, want.geometries))
        label = geoaug.read(out / ln["label_output"])
        burnt = vec.rasterize(want, chip_img.transform, (40, 40), "cls")
        np.testing.assert_array_equal(label.data[0][label.mask], burnt[label.mask])
        total_kept += ln["vectors"]["kept"]
    js = CliRunner().invoke(cli, ["chip", str(data["tiles"] / "sub" / f"{NAME}.tif"), str(out), "--size", "40",
                                  "--count", "3", "--pipeline", str(data["pipe"]), "--seed", "1", "--vectors",
                                  str(src), "--rasterize-vectors", "cls", "--json"])
    assert js.exit_code == 0 and json.loads(js.output.splitlines()[-1])["skipped"] == 3
    assert total_kept > 0


@pytest.mark.parametrize("args,match", [
    (["--vectors", "NOPE.geojson"], "vector file does not exist"),
    (["--vectors", "BAD.txt"], "are .geojson, .json or .gpkg files"),
    (["--rasterize-vectors", "cls"], "give vectors"),
])
def test_chip_bad_vectors(data: dict[str, Path], tmp_path: Path, args: list[str], match: str) -> None:
    (tmp_path / "BAD.txt").write_text("x")
    args = [a.replace("NOPE", str(tmp_path / "nope")).replace("BAD", str(tmp_path / "BAD")) for a in args]
    res = CliRunner().invoke(cli, ["chip", str(data["tiles"] / "sub" / f"{NAME}.tif"), str(tmp_path / "c"),
                                   "--size", "40", "--count", "1", *args])
    assert res.exit_code == 2 and match in res.output, res.output
