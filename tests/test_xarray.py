"""The xarray way in: Dask-backed DataArrays stay lazy and equal the in-memory result, 1-D coordinates
for axis-aligned grids, the Dataset accessor (one draw for image and label variables), rioxarray round trips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from conftest import BY_DTYPE, FIXTURES, ROOT, TILES
from helpers import smooth_image

import geoaug
from geoaug import geometry
from geoaug.errors import ParameterError

dask = pytest.importorskip("dask")
rioxarray = pytest.importorskip("rioxarray")
import dask.array as dsa  # noqa: E402
import xarray as xr  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

import geoaug.xarray  # noqa: E402

S2 = TILES / "sentinel2_l2a_12band_int16.tif"
S2_LABELS = FIXTURES / "labels" / "sentinel2_l2a_12band_int16.tif"


class _CountComputes(Callback):
    """Counts every task dask runs while active."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks = 0

    def _pretask(self, key, dsk, state) -> None:
        self.tasks += 1


def _same(a: xr.DataArray, b: xr.DataArray) -> None:
    """Byte-identical pixels and identical georeferencing/metadata."""
    av, bv = np.asarray(a.values), np.asarray(b.values)
    assert av.dtype == bv.dtype and av.shape == bv.shape
    assert av.tobytes() == bv.tobytes()
    assert a.dims == b.dims
    assert a.geoaug.raster().transform == b.geoaug.raster().transform
    assert a.rio.crs == b.rio.crs
    assert (a.rio.nodata is None) == (b.rio.nodata is None)
    if a.rio.nodata is not None:
        assert a.rio.nodata == b.rio.nodata or (np.isnan(a.rio.nodata) and np.isnan(b.rio.nodata))
    for name in a.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values)


EXACT = {
    "hflip": lambda: geoaug.HorizontalFlip(p=1),
    "vflip": lambda: geoaug.VerticalFlip(p=1),
    "rot90": lambda: geoaug.Rot90(k=1, p=1),
    "rot270": lambda: geoaug.Rot90(k=3, p=1),
    "transpose": lambda: geoaug.Transpose(p=1),
    "crop": lambda: geoaug.RandomCrop(45, 70),
    "flip+rot+crop": lambda: geoaug.Compose([geoaug.VerticalFlip(p=1), geoaug.Rot90(k=1, p=1),
                                             geoaug.CenterCrop(60, 50)]),
}
WARPS = {
    "rotate-bilinear": lambda: geoaug.Affine(rotate=30, scale=1.1),
    "rotate-cubic": lambda: geoaug.Affine(rotate=-17, translate_x=5, interpolation="cubic"),
    "nearest-reflect": lambda: geoaug.Affine(rotate=40, interpolation="nearest", fill="reflect"),
    "edge-fill": lambda: geoaug.Affine(rotate=12, scale=0.7, fill="edge"),
    "wrap-fill": lambda: geoaug.Affine(translate_x=33, translate_y=-20, rotate=5, fill="wrap"),
    "constant-fill": lambda: geoaug.Affine(rotate=60, scale=0.6, fill="constant", fill_value=7),
    "resized-crop": lambda: geoaug.RandomResizedCrop(80, 90),
    "pipeline": lambda: geoaug.Compose([
        geoaug.RandomCrop(64, 64), geoaug.HorizontalFlip(), geoaug.Rot90(), geoaug.Affine(rotate=(-20, 20)),
        geoaug.GaussianNoise(0.01), geoaug.Brightness(0.05), geoaug.BandGain(), geoaug.Contrast(),
        geoaug.BandDropout(2)]),
}
FLOAT32_WORK = ["uint8", "uint16", "int16", "float32"]  # dtypes the kernels compute in float32


# ------------------------------------------------------------------------------------------ laziness
def _boom() -> np.ndarray:
    raise AssertionError("the source pixels were computed")


def _lazy_fixture(path: Path, chunks: tuple[int, int]) -> xr.DataArray:
    """A fixture's DataArray (coords, spatial_ref, nodata) whose pixels are a graph that raises if computed."""
    da = rioxarray.open_rasterio(path)
    boom = dsa.from_delayed(dask.delayed(_boom)(), da.shape, da.dtype).rechunk((da.shape[0], *chunks))
    return da.copy(data=boom)


@pytest.mark.parametrize("make", [*EXACT.values(), *WARPS.values()], ids=[*EXACT, *WARPS])
def test_dask_input_is_not_computed(make) -> None:
    da = _lazy_fixture(S2, (40, 40))
    with _CountComputes() as counter:
        out, record = da.geoaug.augment(make(), seed=3, return_record=True)
    assert counter.tasks == 0
    assert isinstance(out.data, dsa.Array)
    assert record == make().sample(np.random.default_rng(3), geoaug.read(S2))  # drawn once, up front
    with pytest.raises(AssertionError, match="source pixels were computed"):
        out.compute()


def test_chunks_read_only_their_source_windows() -> None:
    """A crop reads only the chunks under it; one output chunk of a warp reads its window, not the scene."""
    seen: list[tuple[int, ...]] = []

    def note(x: np.ndarray, block_info=None) -> np.ndarray:
        seen.append(tuple(block_info[0]["chunk-location"]))
        return x

    a = smooth_image(3, 300, 300, "uint16")
    src = dsa.from_array(a, chunks=(3, 100, 100)).map_blocks(note, dtype=a.dtype)
    da = xr.DataArray(src, dims=("band", "y", "x"))
    with dask.config.set(scheduler="synchronous"):
        crop = da.geoaug.augment(geoaug.RandomCrop(50, 50), seed=0)
        np.testing.assert_array_equal(crop.values, geoaug.RandomCrop(50, 50)(a, rng=0))
        assert 1 <= len(set(seen)) <= 4  # a 50x50 window overlaps at most 2x2 of the 3x3 chunks
        seen.clear()
        warped = da.geoaug.augment(geoaug.Affine(rotate=10), seed=0)
        corner = warped.data[:, :100, :100].compute()  # one output chunk
        assert 1 <= len(set(seen)) <= 4
    np.testing.assert_array_equal(corner, geoaug.Affine(rotate=10)(a, rng=0)[:, :100, :100])


# ------------------------------------------------------------------------------------------ lazy == eager
@pytest.mark.parametrize("dtype", sorted(BY_DTYPE))
@pytest.mark.parametrize("make", list(EXACT.values()), ids=list(EXACT))
def test_lazy_equals_eager_exact_transforms(dtype: str, make) -> None:
    da = rioxarray.open_rasterio(BY_DTYPE[dtype])
    _same(da.chunk({"x": 37, "y": 41}).geoaug.augment(make(), seed=1), da.geoaug.augment(make(), seed=1))


@pytest.mark.parametrize("dtype", FLOAT32_WORK)
@pytest.mark.parametrize("make", list(WARPS.values()), ids=list(WARPS))
def test_lazy_equals_eager_warps(dtype: str, make) -> None:
    da = rioxarray.open_rasterio(BY_DTYPE[dtype])
    for seed in (0, 1):
        lazy = da.chunk({"x": 96, "y": 80}).geoaug.augment(make(), seed=seed)  # 3x4 chunks, uneven
        assert isinstance(lazy.data, dsa.Array)
        _same(lazy, da.geoaug.augment(make(), seed=seed))


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_lazy_equals_eager_13_bands_3x3_chunks(dtype: str) -> None:
    t = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4200000.0)
    data = smooth_image(13, 300, 300, dtype, seed=4)
    da = xr.DataArray(data, dims=("band", "y", "x"),
                      coords={"band": np.arange(1, 14), "x": t.c + 10 * (np.arange(300) + 0.5),
                              "y": t.f - 10 * (np.arange(300) + 0.5)}).rio.write_crs("EPSG:32633")
    pipe = geoaug.Compose([geoaug.Affine(rotate=(20, 40), scale=(0.9, 1.2), interpolation="bilinear"),
                           geoaug.GaussianNoise(0.02)])
    lazy = da.chunk({"band": 13, "y": 100, "x": 100}).geoaug.augment(pipe, seed=7)
    assert lazy.data.numblocks == (1, 3, 3)
    _same(lazy, da.geoaug.augment(pipe, seed=7))
    ref = pipe(geoaug.GeoRaster.from_array(data, transform=t), rng=7)
    if dtype == "float32":  # invalid pixels (outside the rotated footprint) are NaN without a nodata value
        ref = ref.replace(nodata=np.nan)
    np.testing.assert_array_equal(lazy.values, ref.filled())


@pytest.mark.parametrize("make", [WARPS["rotate-bilinear"], WARPS["rotate-cubic"]], ids=["bilinear", "cubic"])
def test_float64_warps_match_to_the_last_bits(make) -> None:
    """float64 kernels: each chunk's translated matrix rounds its source coordinates differently."""
    da = rioxarray.open_rasterio(BY_DTYPE["float64"])
    lazy = da.chunk({"x": 37, "y": 41}).geoaug.augment(make(), seed=0).values
    eager = da.geoaug.augment(make(), seed=0).values
    np.testing.assert_array_equal(np.isnan(lazy), np.isnan(eager))
    np.testing.assert_allclose(lazy, eager, rtol=1e-12, atol=0)


def test_replay_is_byte_identical_lazily() -> None:
    da = rioxarray.open_rasterio(BY_DTYPE["uint16"])
    pipe = WARPS["pipeline"]()
    out, record = da.geoaug.augment(pipe, seed=9, return_record=True)
    again = da.chunk({"x": 64, "y": 64}).geoaug.replay(pipe, record)
    _same(again, out)


# ------------------------------------------------------------------------------------------ coordinates
AXIS_ALIGNED = {
    "hflip": lambda: geoaug.HorizontalFlip(p=1),
    "vflip": lambda: geoaug.VerticalFlip(p=1),
    "rot90": lambda: geoaug.Rot90(k=1, p=1),
    "rot180": lambda: geoaug.Rot90(k=2, p=1),
    "transpose": lambda: geoaug.Transpose(p=1),
    "crop": lambda: geoaug.CenterCrop(100, 80),
    "scale": lambda: geoaug.Affine(scale=1.25),
    "shift": lambda: geoaug.Affine(translate_x=7.5, translate_y=-3),
    "resize": lambda: geoaug.Resize(64, 96),
}


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("make", list(AXIS_ALIGNED.values()), ids=list(AXIS_ALIGNED))
def test_axis_aligned_outputs_keep_1d_coordinates(make, lazy: bool) -> None:
    da = rioxarray.open_rasterio(BY_DTYPE["uint16"])
    if lazy:
        da = da.chunk({"x": 100, "y": 100})
    out = da.geoaug.augment(make(), seed=0)
    ref = make()(geoaug.read(BY_DTYPE["uint16"]), rng=0)
    t = ref.transform
    assert "xc" not in out.coords and "yc" not in out.coords
    assert out.x.dims == ("x",) and out.y.dims == ("y",)
    swapped = abs(t.a) < 1e-12
    assert out.dims == (("band", "x", "y") if swapped else ("band", "y", "x"))
    rows, cols = out.shape[1:]
    assert (rows, cols) == (ref.height, ref.width)
    ii, jj = np.arange(rows) + 0.5, np.arange(cols) + 0.5
    if swapped:  # rows run along x, columns along y
        np.testing.assert_allclose(out.x.values, [(t @ (0.5, i))[0] for i in ii], rtol=0, atol=1e-6)
        np.testing.assert_allclose(out.y.values, [(t @ (j, 0.5))[1] for j in jj], rtol=0, atol=1e-6)
    else:
        np.testing.assert_allclose(out.x.values, [(t @ (j, 0.5))[0] for j in jj], rtol=0, atol=1e-6)
        np.testing.assert_allclose(out.y.values, [(t @ (0.5, i))[1] for i in ii], rtol=0, atol=1e-6)
    assert out.geoaug.raster().transform.almost_equals(t)
    np.testing.assert_array_equal(out.values, ref.filled() if ref.nodata is not None else ref.data)


def test_rotated_outputs_get_2d_coordinates() -> None:
    da = rioxarray.open_rasterio(BY_DTYPE["uint16"]).chunk({"x": 100, "y": 100})
    out = da.geoaug.augment(geoaug.Affine(rotate=30), seed=0)
    t = out.geoaug.raster().transform
    assert out.xc.dims == out.yc.dims == ("y", "x")
    assert (float(out.xc[3, 5]), float(out.yc[3, 5])) == pytest.approx(t @ (5.5, 3.5))


def test_quarter_turn_north_up_view_and_file(tmp_path: Path) -> None:
    """A quarter turn's rows run along x: transposing gives the north-up view, which rioxarray writes."""
    path = BY_DTYPE["uint16"]
    ref = geoaug.Rot90(k=1, p=1)(geoaug.read(path))
    out = rioxarray.open_rasterio(path).chunk({"x": 64, "y": 64}).geoaug.augment(geoaug.Rot90(k=1, p=1))
    north_up = out.transpose("band", "y", "x")
    t = ref.transform
    expected = Affine(t.b, t.a, t.c, t.e, t.d, t.f)  # columns and rows swapped
    assert north_up.geoaug.raster().transform.almost_equals(expected)
    north_up.rio.to_raster(tmp_path / "north_up.tif")
    back = geoaug.read(tmp_path / "north_up.tif")
    assert back.transform.almost_equals(expected)
    np.testing.assert_array_equal(back.data, ref.data.transpose(0, 2, 1))
    # and the turned view augments again with its true geotransform
    again = out.geoaug.augment(geoaug.HorizontalFlip(p=1))
    assert again.geoaug.raster().transform.almost_equals(geoaug.HorizontalFlip(p=1)(ref).transform)


# ------------------------------------------------------------------------------------------ rioxarray round trip
@pytest.mark.parametrize("make", [lambda: geoaug.HorizontalFlip(p=1), lambda: geoaug.CenterCrop(100, 80),
                                  lambda: geoaug.Affine(rotate=30, scale=1.1)], ids=["flip", "crop", "rotation"])
def test_lazy_rioxarray_round_trip(make, tmp_path: Path) -> None:
    path = BY_DTYPE["uint16"]
    da = rioxarray.open_rasterio(path, chunks={"x": 50, "y": 50})
    assert isinstance(da.data, dsa.Array)
    out = da.geoaug.augment(make(), seed=0)
    assert isinstance(out.data, dsa.Array)
    ref = make()(geoaug.read(path), rng=0)
    assert out.rio.crs == da.rio.crs and out.rio.nodata == da.rio.nodata
    assert out.attrs["long_name"] == da.attrs["long_name"]
    out.rio.to_raster(tmp_path / "out.tif")
    back = geoaug.read(tmp_path / "out.tif")
    assert back.transform.almost_equals(ref.transform)
    np.testing.assert_array_equal(back.mask, ref.mask)
    np.testing.assert_array_equal(back.data[back.band_mask], ref.data[ref.band_mask])


# ------------------------------------------------------------------------------------------ Dataset
def _dataset(chunks: dict | None = None) -> xr.Dataset:
    img = rioxarray.open_rasterio(S2, chunks=chunks)
    lab = rioxarray.open_rasterio(S2_LABELS, chunks=chunks).squeeze("band", drop=True)
    ds = xr.Dataset({"image": img, "classes": lab})
    ds["wavelength"] = ("band", np.linspace(443, 2190, img.sizes["band"]))
    ds.attrs["title"] = "a Sentinel-2 tile and its classes"
    return ds


PIPE_DS = geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Affine(rotate=(15, 35), interpolation="bilinear"),
                          geoaug.Brightness(0.05, value_range=(0, 10000))])


@pytest.mark.parametrize("chunks", [None, {"x": 40, "y": 30}], ids=["numpy", "dask"])
def test_dataset_one_draw_for_image_and_labels(chunks) -> None:
    ds = _dataset(chunks)
    assert ds.geoaug.label_names() == ["classes"]  # integer 2-D variable: a label by default
    out, record = ds.geoaug.augment(PIPE_DS, seed=2, return_record=True)
    if chunks:
        assert isinstance(out["image"].data, dsa.Array) and isinstance(out["classes"].data, dsa.Array)
    res = PIPE_DS.replay(geoaug.read(S2), record)
    lab = PIPE_DS.replay_label(geoaug.read(S2_LABELS), record)
    np.testing.assert_array_equal(out["image"].values, res.filled())
    lab_ref = lab.filled() if lab.nodata is not None else lab.data
    np.testing.assert_array_equal(out["classes"].values, lab_ref[0])
    classes = {*np.unique(ds["classes"].values).tolist(), lab.nodata}
    assert set(np.unique(out["classes"].values).tolist()) <= classes  # nearest: no new classes
    assert out["image"].geoaug.raster().transform.almost_equals(res.transform)
    assert out["classes"].geoaug.raster().transform.almost_equals(lab.transform)
    assert out.rio.crs == ds.rio.crs
    np.testing.assert_array_equal(out["wavelength"].values, ds["wavelength"].values)  # not on the grid: kept
    assert out.attrs["title"] == ds.attrs["title"]
    assert list(out.data_vars) == list(ds.data_vars)


def test_dataset_lazy_equals_eager() -> None:
    eager = _dataset().geoaug.augment(PIPE_DS, seed=5)
    lazy = _dataset({"x": 33, "y": 33}).geoaug.augment(PIPE_DS, seed=5)
    for name in ("image", "classes"):
        _same(lazy[name], eager[name])


def test_dataset_explicit_labels_and_errors() -> None:
    ds = _dataset()
    # as an image, the class raster is interpolated (bilinear) like the reflectances
    as_image = ds.geoaug.augment(geoaug.Affine(rotate=30), seed=0, labels=[])
    as_label = ds.geoaug.augment(geoaug.Affine(rotate=30), seed=0, labels=["classes"])
    assert not np.array_equal(as_image["classes"].values, as_label["classes"].values)
    with pytest.raises(ParameterError, match="'nope' is not a variable"):
        ds.geoaug.augment(geoaug.HorizontalFlip(p=1), labels=["nope"])
    with pytest.raises(ParameterError, match="band count"):
        two = ds.assign(rgb=ds["image"].isel(band=[3, 2, 1]).rename(band="rgb_band"))
        two.geoaug.augment(geoaug.Brightness(0.1), seed=0)
    with pytest.raises(ParameterError, match="no variable on the"):
        xr.Dataset({"w": ("band", [1.0, 2.0])}).geoaug.augment(geoaug.HorizontalFlip(p=1))


# ------------------------------------------------------------------------------------------ source windows
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "cubic"])
def test_source_window_holds_every_tap(interpolation: str) -> None:
    """Every input pixel a warp of the block touches lies inside ``source_window``."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = geometry.affine_matrix((200, 300), rotate=rng.uniform(-180, 180), scale=rng.uniform(0.5, 2),
                                   shear_x=rng.uniform(-20, 20), translate_x=rng.uniform(-30, 30))
        r0, c0 = (int(v) for v in rng.integers(0, 150, 2))
        rows, cols = (r0, r0 + int(rng.integers(1, 50))), (c0, c0 + int(rng.integers(1, 50)))
        (wr0, wr1), (wc0, wc1) = geometry.source_window(m, rows, cols, geometry.KERNEL_SUPPORT[interpolation])
        jj, ii = np.meshgrid(np.arange(*cols) + 0.5, np.arange(*rows) + 0.5)
        x = m[0, 0] * jj + m[0, 1] * ii + m[0, 2]
        y = m[1, 0] * jj + m[1, 1] * ii + m[1, 2]
        if interpolation == "nearest":
            lo_x, hi_x, lo_y, hi_y = np.floor(x), np.floor(x), np.floor(y), np.floor(y)
        else:
            before, after = (0, 1) if interpolation == "bilinear" else (1, 2)
            lo_x, hi_x = np.floor(x - 0.5) - before, np.floor(x - 0.5) + after
            lo_y, hi_y = np.floor(y - 0.5) - before, np.floor(y - 0.5) + after
        assert wc0 <= lo_x.min() and hi_x.max() < wc1
        assert wr0 <= lo_y.min() and hi_y.max() < wr1


def test_source_window_of_a_flip_is_the_mirrored_block() -> None:
    m, _ = geometry.hflip((100, 200))
    assert geometry.source_window(m, (10, 20), (0, 50), support=0) == ((10, 20), (150, 200))
    assert geometry.source_window(m, (10, 20), (0, 50), support=2) == ((8, 22), (148, 202))


def test_bad_arguments_are_parameter_errors() -> None:
    da = rioxarray.open_rasterio(BY_DTYPE["uint8"]).chunk({"x": 64, "y": 64})
    with pytest.raises(ParameterError, match="a pipeline is a transform"):
        da.geoaug.augment(42)
    with pytest.raises(ParameterError, match="rng must be a numpy.random.Generator"):
        da.geoaug.augment(geoaug.HorizontalFlip(), rng=3)
    with pytest.raises(ParameterError, match="dims"):
        xr.DataArray(np.zeros((2, 2, 4, 4), "uint8"), dims=("t", "band", "y", "x")).geoaug.augment(
            geoaug.HorizontalFlip())


# ------------------------------------------------------------------------------------------ docs
def test_training_md_xarray_section_runs(tmp_path: Path, monkeypatch) -> None:
    import os

    text = (ROOT / "docs" / "training.md").read_text()
    section = text[text.index("## xarray"):]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 2
    for name in ("fixtures", "docs"):
        os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/training.md", "exec"), namespace)


def test_nodata_decided_without_pixels() -> None:
    """Integer rasters without nodata: a dropped band needs one (the dtype's max), as in memory."""
    da = rioxarray.open_rasterio(TILES / "bigearthnet_s2_12band_uint16.tif")
    assert da.rio.nodata is None
    pipe = geoaug.Compose([geoaug.BandDropout(3, fill="nodata"), geoaug.Affine(rotate=20)])
    lazy = da.chunk({"x": 50, "y": 50}).geoaug.augment(pipe, seed=0)
    _same(lazy, da.geoaug.augment(pipe, seed=0))
    assert lazy.rio.nodata == 65535
    plain = da.chunk({"x": 50, "y": 50}).geoaug.augment(geoaug.Affine(rotate=20), seed=0)
    assert plain.rio.nodata is None  # no band dropped: like in memory, no nodata value
    # float without nodata: NaN is declared up front (in memory only when a pixel is invalid)
    f = xr.DataArray(smooth_image(2, 40, 40, "float32"), dims=("band", "y", "x"))
    flipped = f.chunk({"x": 20, "y": 20}).geoaug.augment(geoaug.HorizontalFlip(p=1))
    assert np.isnan(flipped.rio.nodata) and f.geoaug.augment(geoaug.HorizontalFlip(p=1)).rio.nodata is None
    np.testing.assert_array_equal(flipped.values, f.values[:, :, ::-1])
