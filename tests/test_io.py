"""GeoTIFF I/O on the real fixtures: lossless round trips, stacks, masks, atomic writes."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from conftest import BEN_STACK, BY_DTYPE, ROTATED, TILES, UNTAGGED
from rasterio.enums import Resampling

import geoaug
from geoaug import GeoRaster


def assert_same_raster(a: GeoRaster, b: GeoRaster) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.data[a.band_mask], b.data[b.band_mask])
    assert a.crs == b.crs
    assert a.transform == b.transform
    assert (a.nodata is None) == (b.nodata is None)
    if a.nodata is not None:
        assert a.nodata == b.nodata or (math.isnan(a.nodata) and math.isnan(b.nodata))
    assert a.band_names == b.band_names
    assert a.tags == b.tags
    assert a.band_tags == b.band_tags


def test_roundtrip_is_lossless(dtype_file: Path, tmp_path: Path) -> None:
    a = geoaug.read(dtype_file)
    assert a.dtype.name in BY_DTYPE and BY_DTYPE[a.dtype.name] == dtype_file
    out = geoaug.write(a, tmp_path / "copy.tif")
    b = geoaug.read(out)
    assert_same_raster(a, b)
    assert b.profile.get("compress") == a.profile.get("compress")
    assert b.profile.get("tiled") == a.profile.get("tiled")
    # and once more: a second generation is identical to the first
    geoaug.write(b, tmp_path / "copy2.tif")
    assert_same_raster(b, geoaug.read(tmp_path / "copy2.tif"))


def test_fixtures_have_what_the_tests_need() -> None:
    sr = geoaug.read(BY_DTYPE["uint16"])
    assert sr.count == 7 and sr.nodata == 0 and 0.2 < 1 - sr.valid_fraction < 0.5
    f32 = geoaug.read(BY_DTYPE["float32"])
    assert math.isnan(f32.nodata) and not f32.mask.all()
    f64 = geoaug.read(BY_DTYPE["float64"])
    assert f64.nodata == 32768 and np.isnan(f64.data[0][~f64.mask]).all()
    assert not np.isnan(f64.data[0][f64.mask]).any()
    rot = geoaug.read(ROTATED)
    assert rot.transform.b != 0 and rot.transform.d != 0
    ben = geoaug.read(TILES / "bigearthnet_s2_12band_uint16.tif")
    assert ben.count == 12 and ben.band_names[:3] == ("B01", "B02", "B03")
    files = [p for p in TILES.parent.rglob("*") if p.is_file()]
    scenes = TILES.parent / "scenes"
    assert sum(p.stat().st_size for p in files if scenes not in p.parents) < 5e6
    assert sum(p.stat().st_size for p in files if scenes in p.parents) < 4e6  # whole band files for scene tests


def test_names_tags_and_band_tags_survive(tmp_path: Path) -> None:
    r = geoaug.read(BY_DTYPE["uint8"])
    r = r.replace(
        band_names=("red", "green", "blue"),
        tags={**r.tags, "SENSOR": "ETM+"},
        band_tags=({"WAVELENGTH": "660"}, {"WAVELENGTH": "560"}, {}),
    )
    back = geoaug.read(geoaug.write(r, tmp_path / "t.tif"))
    assert back.band_names == ("red", "green", "blue")
    assert back.tags["SENSOR"] == "ETM+"
    assert back.band_tags[0] == {"WAVELENGTH": "660"} and back.band_tags[2] == {}
    assert geoaug.read(tmp_path / "t.tif", bands=["blue", 1]).band_names == ("blue", "red")


def test_valid_pixel_equal_to_nodata_is_moved_off_it(tmp_path: Path) -> None:
    data = np.array([[[0, 5], [7, 0]]], dtype=np.uint16)
    mask = np.array([[True, True], [True, False]])
    r = GeoRaster.from_array(data, mask=mask, nodata=0)
    back = geoaug.read(geoaug.write(r, tmp_path / "n.tif"))
    np.testing.assert_array_equal(back.mask, mask)
    assert back.data[0, 0, 0] == 1  # documented: nodata + 1
    f32 = np.array([[[-9999.0, 2.0]]], dtype=np.float32)
    f = GeoRaster.from_array(f32, mask=np.array([[True, True]]), nodata=-9999)
    fb = geoaug.read(geoaug.write(f, tmp_path / "f.tif"))
    assert fb.mask.all()
    assert fb.data[0, 0, 0] == np.float32(geoaug.raster.nodata_safe_value(-9999, np.dtype("float32"))) > -9999


def test_from_array_defaults() -> None:
    a = np.ones((2, 3, 4), dtype=np.float32)
    a[1, 0, 0] = np.nan
    r = GeoRaster.from_array(a)
    assert r.transform == Affine.identity() and r.crs is None
    assert r.mask.shape == (2, 3, 4) and not r.mask[1, 0, 0] and r.mask[0, 0, 0]
    assert GeoRaster.from_array(np.zeros((5, 6), dtype=np.uint8)).shape == (1, 5, 6)


def test_nodata_override_for_untagged_collar() -> None:
    plain = geoaug.read(UNTAGGED)
    assert plain.nodata is None and plain.mask.all()
    r = geoaug.read(UNTAGGED, nodata=0)
    assert r.nodata == 0
    np.testing.assert_array_equal(r.mask, plain.data[0] != 0)
    assert 0.2 < 1 - r.valid_fraction < 0.6


def test_window_and_bands() -> None:
    full = geoaug.read(BY_DTYPE["uint16"])
    part = geoaug.read(BY_DTYPE["uint16"], bands=[3, 1], window=((10, 50), (20, 80)))
    np.testing.assert_array_equal(part.data, full.data[[2, 0], 10:50, 20:80])
    assert part.transform == full.transform @ Affine.translation(20, 10)
    assert part.band_names == ("SR_B3", "SR_B1")


@pytest.mark.parametrize("per_band", [False, True])
def test_masks_without_nodata_are_stored(tmp_path: Path, per_band: bool) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 65535, (3, 32, 32), dtype=np.uint16)
    mask = rng.random((3, 32, 32) if per_band else (32, 32)) > 0.3
    r = GeoRaster.from_array(data, mask=mask)
    back = geoaug.read(geoaug.write(r, tmp_path / "m.tif"))
    np.testing.assert_array_equal(back.mask, mask)
    assert (back.nodata is None) != per_band
    np.testing.assert_array_equal(back.data[back.band_mask], data[r.band_mask].clip(None, 65534))


def test_read_stack_bigearthnet_matches_gdal() -> None:
    files = sorted(BEN_STACK.glob("*.tif"))
    s = geoaug.read_stack(files)
    assert s.count == 12 and s.shape == (12, 120, 120)
    assert s.res == (10.0, 10.0)
    assert s.band_names == ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B11", "B12", "B8A")
    for i, f in enumerate(files):
        with rasterio.open(f) as src:
            ref = np.zeros((120, 120), dtype=np.uint16)
            rasterio.warp.reproject(
                src.read(1), ref, src_transform=src.transform, src_crs=src.crs,
                dst_transform=s.transform, dst_crs=s.crs, resampling=Resampling.bilinear,
            )
        diff = np.abs(s.data[i].astype(int) - ref.astype(int))
        assert diff.max() <= 1, (f.name, diff.max())
    coarse = geoaug.read_stack(files, resolution=20)
    assert coarse.shape == (12, 60, 60)


def test_read_stack_respects_nodata(tmp_path: Path) -> None:
    full = geoaug.read(BY_DTYPE["uint16"])
    paths = []
    for i in range(2):
        r = full.replace(data=full.data[i : i + 1], band_names=(full.band_names[i],), band_tags=({},))
        paths.append(geoaug.write(r, tmp_path / f"scene_{full.band_names[i]}.tif"))
    s = geoaug.read_stack(paths)
    assert s.band_names == ("SR_B1", "SR_B2")  # the band tokens, as geoaug.sample names them
    np.testing.assert_array_equal(s.mask, full.mask)


# ----------------------------------------------------------------------------- errors


def test_missing_file() -> None:
    with pytest.raises(geoaug.RasterNotFoundError, match="nope.tif"):
        geoaug.read("nope.tif")


def test_not_a_raster(tmp_path: Path) -> None:
    p = tmp_path / "notes.tif"
    p.write_text("this is not a GeoTIFF\n")
    with pytest.raises(geoaug.RasterReadError, match="notes.tif"):
        geoaug.read(p)


def test_truncated(tmp_path: Path) -> None:
    p = tmp_path / "cut.tif"
    p.write_bytes(BY_DTYPE["uint16"].read_bytes()[:5000])
    with pytest.raises(geoaug.RasterReadError, match="cut.tif"):
        geoaug.read(p)


def test_zero_bands(tmp_path: Path) -> None:
    from scipy.io import netcdf_file

    p = tmp_path / "two_vars.nc"  # GDAL opens a 2-variable netCDF as a container with 0 bands
    with netcdf_file(p, "w") as nc:
        nc.createDimension("y", 4)
        nc.createDimension("x", 5)
        for name in ("a", "b"):
            nc.createVariable(name, "f4", ("y", "x"))[:] = np.ones((4, 5))
    with pytest.raises(geoaug.RasterReadError, match=r"two_vars\.nc: raster has zero bands.*subdatasets"):
        geoaug.read(p)


def test_unsupported_dtype(tmp_path: Path) -> None:
    p = tmp_path / "complex.tif"
    with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=1, dtype="complex64") as dst:
        dst.write(np.ones((1, 4, 4), dtype=np.complex64))
    with pytest.raises(geoaug.UnsupportedDtypeError, match=r"complex\.tif.*complex64"):
        geoaug.read(p)
    with pytest.raises(geoaug.UnsupportedDtypeError):
        GeoRaster.from_array(np.ones((1, 2, 2), dtype=np.complex64))


def test_stack_crs_and_footprint_mismatch(tmp_path: Path) -> None:
    files = sorted(BEN_STACK.glob("*.tif"))[:3]
    r = geoaug.read(files[1])
    other_crs = geoaug.write(r.replace(crs=rasterio.CRS.from_epsg(32636)), tmp_path / "other_crs_B02.tif")
    with pytest.raises(geoaug.StackMismatchError, match="other_crs_B02.tif"):
        geoaug.read_stack([files[0], other_crs])
    shifted = geoaug.write(r.replace(transform=r.transform @ Affine.translation(40, 0)), tmp_path / "shifted_B02.tif")
    with pytest.raises(geoaug.StackMismatchError, match="shifted_B02.tif"):
        geoaug.read_stack([files[0], shifted])


def test_write_to_missing_folder(tmp_path: Path) -> None:
    r = geoaug.read(ROTATED)
    with pytest.raises(geoaug.RasterWriteError, match="does not exist"):
        geoaug.write(r, tmp_path / "no" / "such" / "out.tif")


def test_write_to_read_only_folder(tmp_path: Path) -> None:
    r = geoaug.read(ROTATED)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        folder = ro
        if os.access(ro, os.W_OK):  # root ignores permission bits: use a read-only file system
            folder = Path("/sys")
        with pytest.raises(geoaug.RasterWriteError, match="out.tif"):
            geoaug.write(r, folder / "out.tif")
    finally:
        ro.chmod(0o755)


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import geoaug.io as gio

    r = geoaug.read(BY_DTYPE["uint16"])
    dest = tmp_path / "out.tif"

    def broken(dst, data):  # writes one band, then the disk "fills up"
        dst.write(data.rows(0, data.shape[1])[0], 1)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gio, "_write_pixels", broken)
    with pytest.raises(geoaug.RasterWriteError, match=r"out\.tif.*No space left"):
        geoaug.write(r, dest)
    assert list(tmp_path.iterdir()) == []

    shutil.copyfile(BY_DTYPE["uint8"], dest)
    before = dest.read_bytes()
    with pytest.raises(geoaug.RasterWriteError):
        geoaug.write(r, dest)
    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]


def test_inputs_are_opened_read_only(tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    shutil.copyfile(BY_DTYPE["uint8"], src)
    src.chmod(0o444)
    before = src.read_bytes()
    r = geoaug.read(src)
    geoaug.write(r, tmp_path / "out.tif")
    assert src.read_bytes() == before


def test_validity_equals_gdal_masks(dtype_file: Path) -> None:
    r = geoaug.read(dtype_file)
    with rasterio.open(dtype_file) as src:
        gdal = src.read_masks() > 0
        if src.dtypes[0].startswith("float"):
            gdal &= ~np.isnan(src.read())
    np.testing.assert_array_equal(r.band_mask, gdal)


# ----------------------------------------------------------------------------- windows from kept-open files


def test_windowed_reads_see_a_rewritten_file_and_threads_read_their_own(tmp_path: Path) -> None:
    """Files stay open between windows (per process and thread), yet a rewritten file is read afresh."""
    from concurrent.futures import ThreadPoolExecutor

    from geoaug import io

    src = geoaug.read(BY_DTYPE["uint16"])
    path = tmp_path / "scene.tif"
    geoaug.write(src, path)
    whole = geoaug.read(path).data  # a whole read never keeps the file open
    win = ((3, 40), (5, 50))
    np.testing.assert_array_equal(geoaug.read(path, window=win).data, whole[:, 3:40, 5:50])
    assert str(path) in io._open_files.files
    geoaug.write(src.replace(data=src.data[:, ::-1].copy(), mask=src.mask[..., ::-1, :].copy()), path)
    flipped = geoaug.read(path).data  # replaced atomically: another file
    assert not np.array_equal(flipped, whole)
    np.testing.assert_array_equal(geoaug.read(path, window=win).data, flipped[:, 3:40, 5:50])
    with rasterio.open(path, "r+") as dst:  # changed in place
        dst.write(np.full_like(whole, 7))
    assert (geoaug.read(path, window=win).data == 7).all()
    # four threads, many windows: each thread its own handle, every window right
    geoaug.write(src, path)
    wins = [((r, r + 20), (c, c + 30)) for r in range(0, 60, 7) for c in range(0, 60, 11)]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda w: geoaug.read(path, window=w).data, wins * 4))
    for w, g in zip(wins * 4, got):
        np.testing.assert_array_equal(g, whole[:, w[0][0]:w[0][1], w[1][0]:w[1][1]])
    io.close_files()
    assert not io._open_files.files
