"""geoaug.sampling: windows of real scenes, context-aware chips, band-file scenes, STAC, labels, loaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from _scenes import (
    L8_L1T,
    ben_folder,
    clear_scene,
    collar_scene,
    l1t_band_folder,
    safe_product,
    vrt_mosaic,
    write_tif,
)
from affine import Affine

import geoaug
from geoaug import geometry, sampling
from geoaug.errors import ParameterError, RasterNotFoundError, StackMismatchError
from geoaug.transforms.functional import warp


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("scenes")
    collar = collar_scene(d)
    mos = d / "mosaic"
    mos.mkdir()
    return {"collar": collar, "clear": clear_scene(d), "vrt": vrt_mosaic(collar, mos), "dir": d}


ROT = geoaug.Compose([geoaug.Affine(rotate=(-45, 45), scale=(0.8, 1.25), shear_x=(-10, 10))])


def test_unaugmented_chip_is_the_scene_window_byte_for_byte(scenes: dict[str, Path]) -> None:
    full = geoaug.read(scenes["collar"])
    chips = list(geoaug.sample(scenes["collar"], (48, 64), count=4, seed=3))
    grid = list(geoaug.sample(scenes["collar"], 128, stride=96))
    assert len(chips) == 4 and len(grid) == 25  # 0, 96, 192, 288, 384 (flush with the edge) per axis
    for c in chips + grid:
        r, col, h, w = c.window
        assert np.array_equal(c.image.data, full.data[:, r:r + h, col:col + w])
        assert np.array_equal(c.image.mask, full.mask[r:r + h, col:col + w])
        assert c.image.transform == full.transform @ Affine.translation(col, r)
        assert c.image.crs == full.crs and c.image.nodata == full.nodata
    assert grid[-1].window == (384, 384, 128, 128)


@pytest.mark.parametrize("pipe", [
    ROT,
    geoaug.Compose([geoaug.Affine(rotate=(-30, 30), interpolation="cubic"), geoaug.Brightness(0.05)]),
    geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Rot90(), geoaug.Affine(rotate=(-20, 20),
                                                                            interpolation="nearest")]),
    geoaug.Compose([geoaug.Affine(rotate=(-30, 30), translate_x=(-40, 40), fill="reflect")]),
    geoaug.Compose([geoaug.RandomResizedCrop(32, 32, scale=(0.3, 1.0)), geoaug.Rot90()]),
], ids=["affine", "cubic+brightness", "flips+nearest", "reflect", "resized-crop"])
def test_chip_equals_the_draw_applied_to_the_whole_scene_in_memory(scenes: dict[str, Path],
                                                                   pipe: geoaug.Compose) -> None:
    """Windowed reads with context give exactly what warping the whole scene read in memory gives."""
    full = geoaug.read(scenes["collar"])
    for sampler in (dict(count=6), dict(stride=200)):  # grid chips touch the scene's edges
        for c in geoaug.sample(scenes["collar"], 64, pipeline=pipe, seed=1, **sampler):
            steps = sampling.flatten(pipe, c.params)
            first_geo = next(i for i, (t, _) in enumerate(steps) if isinstance(t, sampling.GeometricTransform))
            shift = sampling._Window((c.window[1], c.window[0]), (64, 64), "nodata")
            ref = sampling.run([*steps[:first_geo], (shift, {"applied": True}), *steps[first_geo:]], full,
                               label=False)
            assert np.array_equal(ref.data, c.image.data), c.window
            assert np.array_equal(ref.mask, c.image.mask)
            assert c.image.transform == full.transform @ geometry.to_affine(c.matrix)
            assert ref.transform.almost_equals(c.image.transform, precision=1e-6)


def test_rotated_chips_inside_the_footprint_have_no_fill(scenes: dict[str, Path]) -> None:
    scene = sampling.Scene.from_file(scenes["clear"])
    pipe = geoaug.Compose([geoaug.Affine(rotate=45, scale=1.0)])
    win = (200, 250, 96, 96)
    c = sampling.make_chip(scene, win, pipe, np.random.default_rng(0))
    assert c.image.mask.all()  # every pixel from the scene
    naive = pipe(geoaug.read(scenes["clear"], window=((200, 296), (250, 346))), rng=np.random.default_rng(0))
    assert not naive.mask.all()  # what a chip-only read gives: fill in the corners
    assert np.array_equal(c.image.mask.shape, naive.mask.shape)
    # a chip at the scene's corner: fill only beyond the footprint
    corner = sampling.make_chip(scene, (0, 0, 96, 96), pipe, np.random.default_rng(0))
    assert not corner.image.mask.all()
    rows, cols = np.nonzero(~corner.image.mask)
    x, y = corner.image.transform @ (cols + 0.5, rows + 0.5)
    px, py = ~scene.transform @ (x, y)
    assert ((px < 0.5) | (py < 0.5)).all()  # invalid pixels lie (within half a pixel) outside the scene


def test_every_chip_geotransform_points_at_the_scene_pixels_it_holds(scenes: dict[str, Path]) -> None:
    full = geoaug.read(scenes["clear"])
    pipe = geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Affine(rotate=(-60, 60), scale=(0.7, 1.4),
                                                                  interpolation="nearest")])
    for c in geoaug.sample(scenes["clear"], 40, count=5, pipeline=pipe, seed=7):
        rows, cols = np.nonzero(c.image.pixel_mask)
        x, y = c.image.transform @ (cols + 0.5, rows + 0.5)
        px, py = ~full.transform @ (x, y)
        # nearest copies the pixel whose area holds the output centre
        src = full.data[:, np.floor(py).astype(int), np.floor(px).astype(int)]
        assert np.array_equal(src, c.image.data[:, rows, cols])


def test_vrt_mosaic_of_tiles_gives_the_same_chips_as_the_whole_scene(scenes: dict[str, Path]) -> None:
    a = list(geoaug.sample(scenes["collar"], 96, count=5, pipeline=ROT, seed=2))
    # the same scene name, so the same seeds
    vrt = sampling.Scene.from_file(scenes["vrt"], name="landsat_c2_sr.tif")
    b = list(geoaug.sample(vrt, 96, count=5, pipeline=ROT, seed=2))
    assert [c.window for c in a] != [] and [c.params for c in a] == [c.params for c in b]
    for x, y in zip(a, b):
        assert x.window == y.window
        assert np.array_equal(x.image.data, y.image.data) and np.array_equal(x.image.mask, y.image.mask)
        assert x.image.transform == y.image.transform


def test_min_valid_and_a_bounded_number_of_tries(scenes: dict[str, Path], tmp_path: Path) -> None:
    full = geoaug.read(scenes["collar"])
    for c in geoaug.sample(scenes["collar"], 64, count=8, min_valid=0.95, seed=0):
        r, col, h, w = c.window
        assert full.mask[r:r + h, col:col + w].mean() >= 0.95
    grid = list(geoaug.sample(scenes["collar"], 64, stride=64, min_valid=0.99))
    assert 0 < len(grid) < 64
    # a scene that is nodata everywhere: reported after max_tries, never a hang
    with rasterio.open(scenes["collar"]) as src:
        t, crs = src.transform, src.crs
    empty = write_tif(tmp_path / "empty.tif", np.zeros((1, 128, 128), "uint16"), t, crs, nodata=0)
    with pytest.raises(sampling.NoValidChipError, match=r"empty\.tif.*5 tries"):
        list(geoaug.sample(empty, 32, count=1, min_valid=0.5, max_tries=5))


def test_bad_input_errors_name_the_file_and_the_run_goes_on(scenes: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"landsat_c2_sr\.tif: chip 600 x 600 is larger than the scene"):
        list(geoaug.sample(scenes["collar"], 600, count=1))
    with pytest.raises(RasterNotFoundError, match="nope.tif"):
        list(geoaug.sample([scenes["clear"], tmp_path / "nope.tif"], 32, count=1))
    with pytest.raises(ParameterError, match="count"):
        list(geoaug.sample(scenes["clear"], 32, count=2, stride=4))
    with pytest.warns(sampling.SceneWarning, match="nope.tif"):
        got = list(geoaug.sample([scenes["clear"], tmp_path / "nope.tif"], 32, count=2, on_error="skip"))
    assert len(got) == 2
    with pytest.warns(sampling.SceneWarning, match="larger than the scene"):
        got = list(geoaug.sample([scenes["collar"], scenes["clear"]], 560, count=1, on_error="skip"))
    assert [c.scene for c in got] == ["landsat_l1t.tif"]
    with pytest.raises(ParameterError, match="wrap"):
        list(geoaug.sample(scenes["clear"], 32, count=1, pipeline=geoaug.Compose([geoaug.Affine(10, fill="wrap")])))


def test_scenes_in_different_crs_each_keep_their_own(scenes: dict[str, Path], tmp_path: Path) -> None:
    """Chips never mix scenes: each chip is in its scene's CRS, with a transform that points at its pixels."""
    chips = list(geoaug.sample([scenes["collar"], scenes["clear"]], 32, count=1, seed=0))
    assert chips[0].image.crs.to_epsg() == 32618 and chips[1].image.crs.to_epsg() == 32616
    # or refused clearly, naming the file, while the first CRS's scenes go on
    with pytest.raises(StackMismatchError, match=r"landsat_l1t\.tif: CRS .* differs .* \(same_crs\)"):
        sampling.find_scenes([scenes["collar"], scenes["clear"]], same_crs=True)
    with pytest.warns(sampling.SceneWarning, match="landsat_l1t.tif"):
        kept = list(geoaug.sample([scenes["collar"], scenes["clear"]], 32, count=1, same_crs=True, on_error="skip"))
    assert [c.scene for c in kept] == ["landsat_c2_sr.tif"]
    # band files of one scene in different CRSs are refused, naming the file
    d = tmp_path / "mixed"
    d.mkdir()
    with rasterio.open(L8_L1T / "l8_B2_30m.tif") as src:
        data, t = src.read(), src.transform
    write_tif(d / "X_B02.tif", data, t, "EPSG:32616")
    write_tif(d / "X_B03.tif", data, t, "EPSG:32617")
    with pytest.raises(StackMismatchError, match=r"X_B03\.tif: CRS"):
        sampling.find_scenes(d)
    errors: list[tuple[str, str]] = []
    found = sampling.find_scenes([d, scenes["clear"]], errors=errors)
    assert [s.name for s in found] == ["landsat_l1t.tif"] and "X_B03.tif" in errors[0][1]


def test_band_file_folders_are_one_scene(tmp_path: Path) -> None:
    ben = ben_folder(tmp_path, upper=True)  # .TIF: patterns are case-insensitive
    (scene,) = sampling.find_scenes(ben)
    assert scene.count == 12 and scene.band_names[7:9] == ("B08", "B8A")
    assert (scene.height, scene.width) == (120, 120)  # the 10 m grid
    stacked = geoaug.read_stack(scene.paths)
    w = scene.read((10, 20, 50, 60))
    assert np.array_equal(w.data, stacked.data[:, 10:60, 20:80])
    assert np.array_equal(w.mask, stacked.mask[..., 10:60, 20:80])
    # an explicit band order
    (rgbn,) = sampling.find_scenes(ben, stack=["B04", "B03", "B02", "B08"])
    assert rgbn.band_names == ("B04", "B03", "B02", "B08")
    assert np.array_equal(rgbn.read((0, 0, 120, 120)).data, stacked.data[[3, 2, 1, 7]])
    with pytest.raises(ParameterError, match="no band file for B13"):
        sampling.find_scenes(ben, stack=["B04", "B13"])
    # Landsat-like upper-case names; one draw for all bands
    (l8,) = sampling.find_scenes(l1t_band_folder(tmp_path))
    assert l8.band_names == ("B2", "B3", "B4", "B5")
    (c,) = geoaug.sample(l8, 64, count=1, pipeline=ROT, seed=0)
    assert c.image.shape == (4, 64, 64) and c.image.band_names == ("B2", "B3", "B4", "B5")


def test_sentinel2_safe_jpeg2000_at_10_20_60_m(tmp_path: Path) -> None:
    safe = safe_product(tmp_path)
    (scene,) = sampling.find_scenes(safe)
    assert scene.band_names == ("B01", "B02", "B05")
    assert [Path(p).parent.name for p in scene.paths] == ["R60m", "R10m", "R20m"]  # each band at its finest
    assert (scene.height, scene.width) == (100, 100) and scene.transform.a == 1098.0
    stacked = geoaug.read_stack(scene.paths)
    w = scene.read((30, 40, 32, 32))
    assert np.array_equal(w.data, stacked.data[:, 30:62, 40:72])
    with rasterio.open(safe.parent / scene.paths[1]) as src:
        assert src.driver == "JP2OpenJPEG"
        assert np.array_equal(w.data[1], src.read(1)[30:62, 40:72])


def _stac_item(folder: Path, name: str, files: dict[str, tuple[str, str]]) -> Path:
    import pystac

    with rasterio.open(next(iter(files.values()))[0]) as src:
        bbox = list(rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    import datetime as dt

    item = pystac.Item(id=name, geometry=None, bbox=bbox, datetime=dt.datetime(2015, 8, 4, tzinfo=dt.UTC),
                       properties={})
    for key, (path, common) in files.items():
        item.add_asset(key, pystac.Asset(href=str(path), media_type=pystac.MediaType.GEOTIFF,
                                         extra_fields={"eo:bands": [{"name": key, "common_name": common}]}))
    p = folder / f"{name}.json"
    item.set_self_href(str(p))
    item.save_object(include_self_link=False, dest_href=str(p))
    return p


def test_local_stac_items_and_collections(tmp_path: Path) -> None:
    import pystac

    files = {f"B{b}": (str(L8_L1T / f"l8_B{b}_30m.tif"), c) for b, c in
             ((5, "nir"), (2, "blue"), (4, "red"), (3, "green"))}
    good = _stac_item(tmp_path, "good", files)
    (scene,) = sampling.find_scenes(good)
    assert scene.band_names == ("blue", "green", "red", "nir")  # spectral order of the common names
    assert [Path(p).name for p in scene.paths] == [f"l8_B{b}_30m.tif" for b in (2, 3, 4, 5)]
    (rgb,) = sampling.find_scenes(good, bands=["red", "green", "blue"])
    assert rgb.band_names == ("red", "green", "blue")
    ref = geoaug.read(L8_L1T / "l8_B4_30m.tif", window=((5, 37), (7, 39)))
    assert np.array_equal(rgb.read((5, 7, 32, 32)).data[0], ref.data[0])
    bad_files = dict(files)
    bad_files["B2"] = (str(tmp_path / "gone_B2.tif"), "blue")
    bad = _stac_item(tmp_path, "bad", bad_files)
    with pytest.raises(RasterNotFoundError, match=r"bad\.json: asset 'B2' \(blue\): file .*gone_B2\.tif is missing"):
        sampling.find_scenes(bad)
    coll = pystac.Collection(id="c", description="test", extent=pystac.Extent(
        pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])))
    coll.add_items([pystac.Item.from_file(str(good)), pystac.Item.from_file(str(bad))])
    coll.normalize_hrefs(str(tmp_path / "coll"))
    coll.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    errors: list[tuple[str, str]] = []
    found = sampling.find_scenes(tmp_path / "coll" / "collection.json", errors=errors)
    assert [s.name for s in found] == ["good"] and "gone_B2.tif is missing" in errors[0][1]
    with pytest.warns(sampling.SceneWarning, match="gone_B2"):
        chips = list(geoaug.sample(tmp_path / "coll" / "collection.json", 32, count=2, on_error="skip"))
    assert len(chips) == 2 and chips[0].image.count == 4


def test_labels_in_another_crs_and_resolution_are_reprojected_onto_each_chip(scenes: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    full = geoaug.read(scenes["clear"])
    classes = (full.data[3] > np.percentile(full.data[3], 60)).astype("uint8") + 1  # NIR-bright = 2
    same = write_tif(tmp_path / "same.tif", classes[None], full.transform, full.crs, nodata=0)
    # the same classes at 60 m in geographic coordinates
    dst_t, w, h = rasterio.warp.calculate_default_transform(full.crs, "EPSG:4326", full.width, full.height,
                                                            *full.bounds, resolution=0.0006)
    geo = np.zeros((h, w), "uint8")
    rasterio.warp.reproject(classes, geo, src_transform=full.transform, src_crs=full.crs, dst_transform=dst_t,
                            dst_crs="EPSG:4326", resampling=rasterio.enums.Resampling.nearest, dst_nodata=0)
    other = write_tif(tmp_path / "geo.tif", geo[None], dst_t, "EPSG:4326", nodata=0)
    pipe = geoaug.Compose([geoaug.Affine(rotate=(-40, 40), interpolation="nearest")])
    exact = list(geoaug.sample(scenes["clear"], 64, count=4, pipeline=pipe, labels=same, seed=5))
    moved = list(geoaug.sample(scenes["clear"], 64, count=4, pipeline=pipe, labels=other, seed=5))
    for e, m in zip(exact, moved):
        assert e.label.transform == e.image.transform == m.label.transform
        # same grid: the draw replayed on the label (nearest) equals warping the whole label raster
        ref = warp(geoaug.read(same), e.matrix, (64, 64), "nearest")
        assert np.array_equal(e.label.data, ref.data) and np.array_equal(e.label.mask, ref.mask)
        both = e.label.mask & m.label.mask
        assert both.mean() > 0.9
        assert (e.label.data[0][both] == m.label.data[0][both]).mean() > 0.85


def test_vector_labels_are_rasterised_onto_the_chip_grid(scenes: dict[str, Path], tmp_path: Path) -> None:
    full = geoaug.read(scenes["clear"])
    # a field polygon in lon/lat around the scene's centre pixel block 280..330 x 290..340
    x0, y0 = full.transform @ (290, 280)
    x1, y1 = full.transform @ (340, 330)
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    lon, lat = rasterio.warp.transform(full.crs, "EPSG:4326", *zip(*ring))
    gj = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"cls": 7},
         "geometry": {"type": "Polygon", "coordinates": [list(zip(lon, lat))]}}]}
    p = tmp_path / "fields.geojson"
    p.write_text(json.dumps(gj))
    scene = sampling.Scene.from_file(scenes["clear"])
    pipe = geoaug.Compose([geoaug.Affine(rotate=30)])
    c = sampling.make_chip(scene, (270, 280, 64, 64), pipe, np.random.default_rng(0),
                           labels=sampling.LabelSource(p, field="cls"))
    lab = c.label.data[0]
    assert set(np.unique(lab)) == {0, 7}
    rows, cols = np.nonzero(lab == 7)
    x, y = c.image.transform @ (cols + 0.5, rows + 0.5)
    px, py = ~full.transform @ (x, y)
    assert ((px > 289) & (px < 341) & (py > 279) & (py < 331)).all()
    # the rasterised label equals warping the label's rasterisation on the scene grid (rule 9), up to the edge
    from rasterio.features import rasterize

    on_scene = rasterize([(rasterio.warp.transform_geom("EPSG:4326", full.crs, gj["features"][0]["geometry"]), 7)],
                         out_shape=(full.height, full.width), transform=full.transform, dtype="uint16")
    ref = warp(geoaug.GeoRaster.from_array(on_scene[None]), c.matrix, (64, 64), "nearest").data[0]
    assert (ref == lab).mean() > 0.97
    # the same field as a GeoPackage in the scene's own CRS gives the same label chip
    layer = geoaug.VectorLayer.from_geometries([gj["features"][0]["geometry"]], {"cls": [7]}, "EPSG:4326")
    from geoaug.vectors import reproject, write_vectors

    gpkg = write_vectors(reproject(layer, full.crs), tmp_path / "fields.gpkg")
    c2 = sampling.make_chip(scene, (270, 280, 64, 64), pipe, np.random.default_rng(0),
                            labels=sampling.LabelSource(gpkg, field="cls"))
    assert (c2.label.data[0] == lab).mean() > 0.995
    with pytest.raises(ParameterError, match="'klass'.*cls"):
        sampling.LabelSource(gpkg, field="klass").on_grid(c.image.transform, (4, 4), full.crs)
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(geoaug.VectorReadError, match="broken.gpkg"):
        sampling.LabelSource(broken).on_grid(c.image.transform, (4, 4), full.crs)


def test_class_balancing_draws_rare_classes(scenes: dict[str, Path], tmp_path: Path) -> None:
    full = geoaug.read(scenes["clear"])
    lab = np.ones((full.height, full.width), "uint8")
    lab[500:520, 40:60] = 2  # a rare class: 0.1 % of the scene
    p = write_tif(tmp_path / "rare.tif", lab[None], full.transform, full.crs, nodata=0)
    plain = list(geoaug.sample(scenes["clear"], 32, count=40, labels=p, seed=0))
    bal = list(geoaug.sample(scenes["clear"], 32, count=40, labels=p, balance=True, seed=0))
    hits = [sum((c.label.data[0] == 2).any() for c in cs) for cs in (plain, bal)]
    assert hits[0] <= 3 and hits[1] >= 12
    with pytest.raises(ParameterError, match="balance"):
        list(geoaug.sample(scenes["clear"], 32, count=2, balance=True))


def test_reproducible_and_order_free(scenes: dict[str, Path]) -> None:
    a = list(geoaug.sample(scenes["collar"], 48, count=3, pipeline=ROT, copies=2, seed=11))
    b = list(geoaug.sample([scenes["clear"], scenes["collar"]], 48, count=3, pipeline=ROT, copies=2, seed=11))
    b = [c for c in b if c.scene == "landsat_c2_sr.tif"]
    assert [(c.index, c.copy) for c in a] == [(i, k) for i in range(3) for k in range(2)]
    for x, y in zip(a, b):
        assert x.window == y.window and x.params == y.params and np.array_equal(x.image.data, y.image.data)
    assert a[0].params != a[1].params and a[0].window == a[1].window
    rec = a[0].record()
    assert json.loads(json.dumps(rec)) == rec


def test_windowed_reads_only(scenes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read is a window no larger than the chip plus its context, never the whole scene."""
    seen: list[tuple[int, int]] = []
    real = sampling.read

    def spy(path: str, *args: object, window: object = None, **kw: object) -> geoaug.GeoRaster:
        assert window is not None, "a whole-scene read"
        r = real(path, *args, window=window, **kw)
        seen.append((r.height, r.width))
        return r

    monkeypatch.setattr(sampling, "read", spy)
    list(geoaug.sample(scenes["clear"], 64, count=5, pipeline=ROT, min_valid=0.5, seed=0))
    assert seen and max(max(s) for s in seen) <= int(64 * 1.25 * 1.6) + 6


# ---------------------------------------------------------------------------- torch loaders


def test_scene_dataset_same_samples_with_0_or_2_workers(scenes: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from geoaug.loaders.scenes_torch import IterableSceneDataset, SceneDataset

    ds = SceneDataset([scenes["collar"], scenes["vrt"]], 48, length=6, pipeline=ROT, seed=4, min_valid=0.5)
    assert len(ds) == 6
    serial = [ds[i] for i in range(6)]
    loaded = list(DataLoader(ds, batch_size=3, num_workers=2))
    images = torch.cat([b["image"] for b in loaded])
    assert torch.equal(images, torch.stack([s["image"] for s in serial]))
    assert [s for b in loaded for s in b["scene"]] == [s["scene"] for s in serial]
    for s in serial:
        c = ds.chip(s["index"])
        assert tuple(s["transform"].tolist()) == tuple(c.image.transform)[:6]
        assert s["mask"].float().mean() >= 0.4
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["image"], serial[0]["image"])
    it = IterableSceneDataset(scenes["clear"], 32, stride=200, seed=0)
    got = sorted(int(i) for b in DataLoader(it, batch_size=2, num_workers=2) for i in b["index"])
    assert got == list(range(len(it)))
    grid = SceneDataset(scenes["clear"], 32, stride=200, labels=None)
    assert len(grid) == len(it) == 16
    assert grid[0]["window"].tolist() == [0, 0, 32, 32]


def test_docs_scenes_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import run_markdown_python

    ns = run_markdown_python("docs/scenes.md", tmp_path, monkeypatch, min_blocks=5)
    assert ns["summary"].outputs == 6 and (tmp_path / "chips" / "manifest.jsonl").exists()


def test_keras_flow_from_scenes(scenes: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("keras")
    import keras  # noqa: F401  (makes the iterator a PyDataset)

    from geoaug.keras import ImageDataGenerator
    from geoaug.loaders.scenes_keras import flow_from_scenes

    full = geoaug.read(scenes["clear"])
    lab = write_tif(tmp_path / "lab.tif", ((full.data[3] > 20000) + 1).astype("uint8")[None], full.transform,
                    full.crs, nodata=0)
    gen = ImageDataGenerator(horizontal_flip=True)
    it = flow_from_scenes(gen, scenes["clear"], 48, length=6, pipeline=ROT, labels=lab, batch_size=4, seed=3)
    assert len(it) == 2 and type(it).__mro__[1].__name__ == "SceneIterator"
    x, y = it[0]
    assert x.shape == (4, 48, 48, 4) and y.shape == (4, 48, 48) and y.dtype == np.int64
    x2, y2 = it[0]
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert set(np.unique(y)) <= {-1, 1, 2}
    grid = flow_from_scenes(gen, scenes["clear"], 200, stride=200, batch_size=3, shuffle=False, seed=0)
    assert len(grid) == 6 and grid[0].shape == (3, 200, 200, 4)  # 16 windows (4 x 4, the last flush)


def test_xarray_dataarray_scene_is_read_window_by_window(scenes: dict[str, Path]) -> None:
    rioxarray = pytest.importorskip("rioxarray")
    pytest.importorskip("dask")
    from geoaug.loaders.scenes_xarray import sample as xr_sample

    da = rioxarray.open_rasterio(scenes["collar"], chunks={"x": 128, "y": 128})
    chips = list(xr_sample(da, 64, count=3, pipeline=ROT, seed=2, min_valid=0.5, name="landsat_c2_sr.tif"))
    ref = list(geoaug.sample(scenes["collar"], 64, count=3, pipeline=ROT, seed=2, min_valid=0.5))
    assert len(chips) == 3
    for c, r in zip(chips, ref):
        assert c.attrs["geoaug_window"] == list(r.window)
        valid = r.image.pixel_mask
        assert np.array_equal(c.values[:, valid], r.image.data[:, valid])
        assert c.rio.transform().almost_equals(r.image.transform, precision=1e-6)
