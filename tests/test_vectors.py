"""Vector labels in map coordinates stay true through any draw (geoaug.vectors).

The test of rule 9: rasterising the clipped polygons on each output's grid equals warping
their rasterisation (nearest) on at least 98 % of the pixels, for random affine draws on a
real fixture GeoTIFF. Vector fixtures are built here from the rasters' bounds with pyogrio.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import ROTATED, TILES
from rasterio.warp import transform as warp_transform

import geoaug
from geoaug import vectors as vec
from geoaug.errors import ParameterError, VectorReadError, VectorWriteError
from geoaug.targets import move_points

pyogrio = pytest.importorskip("pyogrio")

S2 = TILES / "sentinel2_l2a_12band_int16.tif"
L8 = TILES / "landsat8_sr_7band_uint16_collar.tif"


def polygons_on(raster: geoaug.GeoRaster, n: int = 6, seed: int = 0, radius: tuple = (6, 15)) -> list:
    """``n`` random pentagons (``radius`` pixels from the centre to the corners) inside the raster, in its CRS."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r = rng.uniform(*radius)
        cx, cy = rng.uniform(r, raster.width - r), rng.uniform(r, raster.height - r)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 5))
        px = np.column_stack([cx + r * np.cos(ang), cy + r * np.sin(ang)])
        out.append(shapely.Polygon([raster.transform @ tuple(p) for p in px]))
    return out


def write_layer(path: Path, geoms: list, attrs: dict, crs: str | None) -> Path:
    """A vector file written with pyogrio directly (crs None: a file without a CRS, as some tools write)."""
    fields = list(attrs)
    if crs is None:
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
    pyogrio.raw.write(str(path), shapely.to_wkb(np.array(geoms, dtype=object)), [np.asarray(attrs[k]) for k in fields],
                      fields, crs=crs, geometry_type="Unknown",
                      driver="GPKG" if path.suffix == ".gpkg" else "GeoJSON")
    return path


def to_wgs84(geoms: list, crs: object) -> list:
    def fn(xy: np.ndarray) -> np.ndarray:
        xs, ys = warp_transform(crs, "EPSG:4326", xy[:, 0].tolist(), xy[:, 1].tolist())
        return np.column_stack([xs, ys])

    return list(shapely.transform(np.array(geoms, dtype=object), fn))


@pytest.fixture(scope="module")
def s2() -> geoaug.GeoRaster:
    return geoaug.read(S2)


DRAWS = geoaug.Compose([
    geoaug.HorizontalFlip(), geoaug.Rot90(),
    geoaug.Affine(rotate=(-180, 180), scale=(0.8, 1.25), translate_x=(-20, 20), translate_y=(-20, 20),
                  shear_x=(-10, 10), interpolation="nearest"),
    geoaug.RandomCrop(200, 220), geoaug.Brightness(0.05),
])


@pytest.fixture(scope="module")
def l8() -> geoaug.GeoRaster:
    return geoaug.read(L8)


@pytest.mark.parametrize("seed", range(12))
def test_rasterising_clipped_polygons_equals_warping_their_rasterisation(l8: geoaug.GeoRaster, seed: int) -> None:
    """Rule 9 on a real GeoTIFF: >= 98 % of the pixels agree, and the labelled pixels overlap by IoU >= 0.98."""
    geoms = polygons_on(l8, 5, seed, radius=(45, 90))
    layer = vec.VectorLayer.from_geometries(geoms, {"cls": np.arange(1, 6)}, crs=l8.crs)
    burnt = vec.rasterize(layer, l8.transform, (l8.height, l8.width), "cls")
    label = geoaug.GeoRaster.from_array(burnt[None]).replace(transform=l8.transform, crs=l8.crs)
    res = DRAWS(l8, rng=seed, labels=label, vectors=layer, return_record=True)
    out = res.image
    warped = res.labels
    valid = warped.mask if warped.mask.ndim == 2 else warped.mask[0]
    direct = vec.rasterize(res.vectors, out.transform, (out.height, out.width), "cls")
    agree = (direct == warped.data[0])[valid].mean()
    assert agree >= 0.98, agree
    fg = valid & ((direct > 0) | (warped.data[0] > 0))
    iou = ((direct == warped.data[0]) & fg).sum() / max(fg.sum(), 1)
    assert iou >= 0.98, iou
    # every kept feature lies inside the output's footprint (a rotated polygon for a rotated output)
    frame = vec.footprint(out.transform, (out.height, out.width))
    assert all(frame.buffer(1e-3).covers(g) for g in res.vectors.geometries)
    counts = res.target_counts["vectors"]
    assert counts["in"] == 5 and counts["kept"] + counts["outside"] == 5
    assert set(res.vectors.attributes["cls"].tolist()) <= set(range(1, 6))


def test_read_reproject_clip_keep_attributes(tmp_path: Path, s2: geoaug.GeoRaster) -> None:
    geoms = polygons_on(s2, 3, 1)
    line = shapely.LineString([s2.transform @ (5, 5), s2.transform @ (95, 60)])
    point = shapely.Point(s2.transform @ (50.5, 50.5))
    outside = shapely.Point(s2.transform @ (500, 500))
    allg = [*geoms, line, point, outside]
    attrs = {"name": ["a", "b", "c", "road", "well", "far"], "cls": np.array([1, 2, 3, 4, 5, 6], dtype="int32")}
    path = write_layer(tmp_path / "labels.gpkg", to_wgs84(allg, s2.crs), attrs, "EPSG:4326")
    layer = geoaug.read_vectors(path)
    assert layer.crs.to_epsg() == 4326 and len(layer) == 6 and layer.attributes["name"].tolist() == attrs["name"]
    crop = geoaug.CenterCrop(50, 50)
    res = crop(s2, rng=0, vectors=path)
    out = res.vectors
    assert out.crs == s2.crs
    names = out.attributes["name"].tolist()
    assert "far" not in names and "well" in names and "road" in names
    road = out.geometries[names.index("road")]
    assert road.geom_type == "LineString"
    frame = vec.footprint(res.image.transform, (50, 50))
    assert frame.buffer(1.0).covers(road) and road.length < line.length  # clipped to the window
    well = out.geometries[names.index("well")]
    np.testing.assert_allclose(well.coords[0], point.coords[0], atol=1e-3)  # reprojected back, metres
    c = res.target_counts["vectors"]
    assert c["outside"] >= 1 and c["clipped"] >= 1 and c["kept"] == len(out)


def test_pixel_coordinates_on_request(s2: geoaug.GeoRaster) -> None:
    geoms = polygons_on(s2, 2, 3)
    pipe = geoaug.Compose([geoaug.Affine(rotate=37, scale=1.1), geoaug.VerticalFlip(p=1)])
    res = pipe(s2, rng=0, vectors=vec.VectorLayer.from_geometries(geoms, crs=s2.crs), return_record=True)
    px = res.vectors.to_pixels(res.image.transform)
    assert px.crs is None
    m, _ = pipe.record_matrix(res.params, (s2.height, s2.width))
    for g_map, g_px in zip(res.vectors.geometries, px.geometries):
        a = np.asarray(g_map.exterior.coords)
        in_px = np.array([~s2.transform @ tuple(p) for p in a])
        np.testing.assert_allclose(np.asarray(g_px.exterior.coords), move_points(in_px, m), atol=1e-6)


def test_plain_arrays_take_and_give_pixel_coordinates() -> None:
    img = np.zeros((2, 40, 60), np.uint8)
    poly = shapely.box(10, 5, 20, 15)
    t = geoaug.Compose([geoaug.Rot90(k=1, p=1), geoaug.Affine(rotate=10)])
    res = t(img, rng=0, vectors=vec.VectorLayer.from_geometries([poly], {"id": [9]}), return_record=True)
    m, _ = t.record_matrix(res.params, (40, 60))
    got = res.vectors.geometries[0]
    want = shapely.Polygon(move_points(np.asarray(poly.exterior.coords), m))
    assert res.vectors.crs is None and got.symmetric_difference(want).area < 1e-9
    assert res.vectors.attributes["id"].tolist() == [9]


def test_map_vectors_on_a_raster_without_crs_are_refused() -> None:
    layer = vec.VectorLayer.from_geometries([shapely.Point(1, 1)], crs="EPSG:4326")
    with pytest.raises(ParameterError, match="raster has no CRS"):
        geoaug.HorizontalFlip(p=1)(np.zeros((1, 8, 8), np.uint8), rng=0, vectors=layer)


def test_rotated_geotransform_footprint(tmp_path: Path) -> None:
    r = geoaug.read(ROTATED)
    frame = vec.footprint(r.transform, (r.height, r.width))
    inner = shapely.Point(r.transform @ (10, 10)).buffer(5)
    layer = vec.VectorLayer.from_geometries([inner, frame.centroid.buffer(1000)], {"k": [1, 2]}, crs=r.crs)
    res = geoaug.HorizontalFlip(p=1)(r, rng=0, vectors=layer)
    assert abs(res.vectors.geometries[1].area - frame.area) / frame.area < 1e-9  # clipped to the rotated frame
    assert res.target_counts["vectors"]["clipped"] == 1


def test_no_crs_means_wgs84_and_is_counted(tmp_path: Path, s2: geoaug.GeoRaster) -> None:
    geoms = to_wgs84(polygons_on(s2, 2, 5), s2.crs)
    # a GeoJSON without a crs member is WGS 84 by RFC 7946 (GDAL says so itself)
    layer = geoaug.read_vectors(write_layer(tmp_path / "nocrs.geojson", geoms, {"v": [1, 2]}, None))
    assert layer.crs.to_epsg() == 4326
    # a GeoPackage without a spatial reference is read as WGS 84 too, and counted
    layer = geoaug.read_vectors(write_layer(tmp_path / "nocrs.gpkg", geoms, {"v": [1, 2]}, None))
    assert layer.crs.to_epsg() == 4326 and layer.counts.get("assumed_wgs84") == 1
    res = geoaug.HorizontalFlip(p=1)(s2, rng=0, vectors=layer)
    assert len(res.vectors) == 2 and res.target_counts["vectors"]["assumed_wgs84"] == 1


def test_invalid_and_null_geometries_are_repaired_or_dropped_with_counts(tmp_path: Path,
                                                                        s2: geoaug.GeoRaster) -> None:
    t = s2.transform
    bowtie = shapely.Polygon([t @ (10, 10), t @ (30, 30), t @ (30, 10), t @ (10, 30)])
    assert not bowtie.is_valid
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": '
                    '"urn:ogc:def:crs:EPSG::32601"}}, "features": ['
                    f'{{"type": "Feature", "properties": {{"c": 1}}, "geometry": {shapely.to_geojson(bowtie)}}},'
                    '{"type": "Feature", "properties": {"c": 2}, "geometry": null}]}')
    layer = geoaug.read_vectors(path)
    assert layer.counts == {"read": 2, "null": 1, "repaired": 1}
    g = layer.geometries[0]
    assert g.is_valid and g.geom_type == "MultiPolygon" and g.area == pytest.approx(bowtie.buffer(0).area + 0, rel=1)
    res = geoaug.Rot90(k=1, p=1)(s2, rng=0, vectors=layer)
    assert res.target_counts["vectors"]["repaired"] == 1 and res.target_counts["vectors"]["null"] == 1


def test_empty_file_gives_an_empty_layer(tmp_path: Path, s2: geoaug.GeoRaster) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    layer = geoaug.read_vectors(path)
    assert len(layer) == 0
    res = geoaug.HorizontalFlip(p=1)(s2, rng=0, vectors=layer)
    assert len(res.vectors) == 0
    assert vec.rasterize(res.vectors, res.image.transform, (4, 5)).sum() == 0


def test_missing_and_broken_files_raise_read_errors(tmp_path: Path) -> None:
    with pytest.raises(VectorReadError, match="does not exist"):
        geoaug.read_vectors(tmp_path / "nope.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(VectorReadError, match="bad.geojson: cannot read"):
        geoaug.read_vectors(bad)


def test_rasterize_attributes_and_errors(s2: geoaug.GeoRaster) -> None:
    geoms = polygons_on(s2, 2, 7)
    layer = vec.VectorLayer.from_geometries(geoms, {"kind": ["forest", "water"], "code": [3.0, 300.0]}, crs=s2.crs)
    shape = (s2.height, s2.width)
    with pytest.raises(ParameterError, match=r"no attribute 'klass' \(fields: kind, code\)"):
        vec.rasterize(layer, s2.transform, shape, "klass")
    with pytest.raises(ParameterError, match="give classes="):
        vec.rasterize(layer, s2.transform, shape, "kind")
    with pytest.raises(ParameterError, match="do not fit uint8"):
        vec.rasterize(layer, s2.transform, shape, "code")
    a = vec.rasterize(layer, s2.transform, shape, "kind", classes={"forest": 1, "water": 2})
    assert set(np.unique(a).tolist()) <= {0, 1, 2} and (a == 2).sum() > 0
    b = vec.rasterize(layer, s2.transform, shape, "code", dtype="int32")
    assert set(np.unique(b).tolist()) <= {0, 3, 300}


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_write_round_trip(tmp_path: Path, s2: geoaug.GeoRaster, suffix: str) -> None:
    layer = vec.VectorLayer.from_geometries(polygons_on(s2, 3, 2), {"cls": [1, 2, 3], "name": ["x", "y", "z"]},
                                            crs=s2.crs)
    p = geoaug.write_vectors(layer, tmp_path / f"out{suffix}")
    back = geoaug.read_vectors(p)
    assert back.crs == s2.crs and back.attributes["name"].tolist() == ["x", "y", "z"]
    assert all(a.equals_exact(b, 1e-6) for a, b in zip(back.geometries, layer.geometries))
    assert not list(tmp_path.glob(".*.part"))
    with pytest.raises(VectorWriteError, match="not .shp"):
        geoaug.write_vectors(layer, tmp_path / "out.shp")
    with pytest.raises(VectorWriteError, match="does not exist"):
        geoaug.write_vectors(layer, tmp_path / "missing" / "out.geojson")
