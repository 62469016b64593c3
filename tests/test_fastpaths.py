"""Fast paths: the separable resize, strided copies, all-band stores, all-valid masks, out= buffers.

Oracles
-------
* resize vs ``cv2.resize`` (INTER_LINEAR enlarging, INTER_AREA shrinking by integer factors) and vs
  the general warp kernel (bilinear/cubic, masks identical);
* flips, quarter turns, transposes and crops vs numpy slicing, exactly;
* spectral stores vs the per-band numpy recipe they replace, byte for byte;
* results do not depend on the thread count or on the serial/parallel choice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numba
import numpy as np
import pytest
from conftest import BY_DTYPE, TILES

import geoaug
from geoaug import geometry
from geoaug.errors import ParameterError
from geoaug.kernels import flip, noise, resize, store
from geoaug.kernels.warp import warp_affine
from geoaug.raster import all_valid_mask, is_all_valid_mask, nodata_safe_value
from geoaug.transforms import functional

ROOT = Path(__file__).resolve().parents[1]
S2 = TILES / "bigearthnet_s2_12band_uint16.tif"  # 12 bands, every pixel valid
COLLAR = BY_DTYPE["uint16"]  # 7 bands with a nodata collar


def _cv_per_band(src: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    return np.stack([cv2.resize(b, (size[1], size[0]), interpolation=interp) for b in src])


# ----------------------------------------------------------------------------- separable resize
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
@pytest.mark.parametrize("size", [(240, 240), (200, 150), (121, 333)])
def test_resize_bilinear_enlarging_matches_opencv(dtype: str, size: tuple[int, int]) -> None:
    src = geoaug.read(S2).data[:4]
    if dtype == "uint8":
        src = (src // 64).astype("uint8")
    src = src.astype(dtype)
    m, shape = geometry.resize(src.shape[1:], *size)
    # OpenCV replicates the edge: the same as fill="edge"
    out = functional.warp(geoaug.GeoRaster.from_array(src), m, shape, "bilinear", fill="edge")
    ref = _cv_per_band(src, size, cv2.INTER_LINEAR)
    assert out.data.dtype == src.dtype
    assert is_all_valid_mask(out.mask)
    diff = np.abs(out.data.astype(np.float64) - ref.astype(np.float64))
    tol = 1 if src.dtype.kind in "iu" else 1e-3 * float(np.abs(ref).max())
    assert diff.max() <= tol


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_resize_area_shrinking_matches_opencv_inter_area(factor: int, dtype: str) -> None:
    src = geoaug.read(S2).data.astype(dtype)  # 120 x 120: divisible by 2, 3, 4
    size = (120 // factor, 120 // factor)
    out = geoaug.Resize(*size)(geoaug.GeoRaster.from_array(src), rng=0)
    ref = _cv_per_band(src, size, cv2.INTER_AREA)
    # a box mean over factor x factor pixels; integers: we round half to even, OpenCV half up
    box = src.astype(np.float64).reshape(src.shape[0], size[0], factor, size[1], factor).mean(axis=(2, 4))
    if dtype == "uint16":
        assert np.abs(out.data.astype(np.int64) - ref).max() <= 1
        np.testing.assert_array_equal(out.data, np.rint(box).astype(dtype))
    else:
        np.testing.assert_allclose(out.data, ref, rtol=1e-5)
        np.testing.assert_allclose(out.data, box, rtol=1e-5)


def test_resize_area_non_integer_factor_close_to_opencv() -> None:
    src = geoaug.read(S2).data
    out = geoaug.Resize(50, 70)(src, rng=0)
    ref = _cv_per_band(src, (50, 70), cv2.INTER_AREA)
    assert np.abs(out.astype(np.int64) - ref).max() <= 1


def test_resize_without_antialias_is_bilinear_like_the_warp() -> None:
    src = geoaug.read(S2)
    out = geoaug.Resize(50, 70, antialias=False)(src, rng=0)
    m, shape = geometry.resize((120, 120), 50, 70)
    ref, ref_mask = warp_affine(src.data, np.ones((1, 120, 120), bool), m, shape, "bilinear")
    np.testing.assert_array_equal(np.broadcast_to(out.mask, ref_mask[0].shape), ref_mask[0])
    assert np.abs(out.data.astype(np.int64) - ref)[:, ref_mask[0]].max() <= 1


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("fill", ["nodata", "constant", "edge", "reflect", "mirror", "wrap"])
def test_separable_agrees_with_general_warp_on_masked_data(interpolation: str, fill: str) -> None:
    r = geoaug.read(COLLAR)  # nodata collar: the mask matters
    mask3 = r.mask[None]
    # enlarging with a shift and a mirror: taps reach outside and into the collar
    m = np.array([[-0.61, 0.0, 200.3], [0.0, 0.55, 7.2], [0.0, 0.0, 1.0]])
    out = functional.warp(r, m, (300, 280), interpolation, fill, fill_value=123.0)
    ref, ref_mask = warp_affine(r.data, mask3, m, (300, 280), interpolation, fill, fill_value=123.0,
                                out_fill=r.nodata)
    np.testing.assert_array_equal(out.mask, ref_mask[0])
    valid = ref_mask[0]
    assert np.abs(out.data.astype(np.int64) - ref)[:, valid].max() <= 1
    # invalid pixels hold the nodata value, as the warp writes them
    np.testing.assert_array_equal(out.data[:, ~valid], ref[:, ~valid])


def test_resize_transform_follows_the_georeferencing_rule() -> None:
    r = geoaug.read(COLLAR)
    out = geoaug.Resize(100, 64)(r, rng=0)
    m, _ = geometry.resize((r.height, r.width), 100, 64)
    assert out.transform == r.transform @ geometry.to_affine(m)
    # an output pixel centre maps to the ground point of the source point it was drawn from
    i, j = 37, 21
    src_xy = m @ np.array([j + 0.5, i + 0.5, 1.0])
    assert np.allclose(out.transform @ (j + 0.5, i + 0.5), r.transform @ tuple(src_xy[:2]))


def test_per_band_masks_follow_the_tap_rule() -> None:
    r = geoaug.read(BY_DTYPE["uint8"])  # per-band mask (3, rows, cols)
    assert r.mask.ndim == 3
    out = geoaug.Resize(90, 110, interpolation="cubic", antialias=False)(r, rng=0)
    m, shape = geometry.resize((r.height, r.width), 90, 110)
    ref, ref_mask = warp_affine(r.data, r.mask, m, shape, "cubic")
    np.testing.assert_array_equal(out.mask, ref_mask)
    assert np.abs(out.data.astype(np.int64) - ref)[ref_mask].max() <= 1


def test_random_resized_crop_and_fused_pipeline_take_the_separable_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = resize.resize_separable
    monkeypatch.setattr(resize, "resize_separable", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = geoaug.read(S2)
    pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.RandomResizedCrop(64, 64, scale=(0.3, 0.6)),
                           geoaug.VerticalFlip(p=1)])
    res = pipe(r, rng=3, return_record=True)
    assert calls == [1]  # one resampling for the fused flip + crop + resize + flip
    # the same record through the general warp (a tiny rotation defeats the separable detection)
    steps = geoaug.transforms.compose.flatten(pipe, res.params)
    m, shape = np.eye(3), (r.height, r.width)
    for t, p in steps:
        mi, shape = t.matrix(p, shape)
        m = m @ mi
    assert geometry.axis_aligned(m) is not None
    # antialias off: bilinear, comparable with the warp
    pipe2 = geoaug.Compose([geoaug.HorizontalFlip(p=1),
                            geoaug.RandomResizedCrop(64, 64, scale=(0.3, 0.6), antialias=False),
                            geoaug.VerticalFlip(p=1)])
    out2 = pipe2.replay(r, res.params)
    ref, ref_mask = warp_affine(r.data, np.ones((1, 120, 120), bool), m, shape, "bilinear")
    np.testing.assert_array_equal(np.broadcast_to(out2.mask, shape), ref_mask[0])
    assert np.abs(out2.data.astype(np.int64) - ref)[:, ref_mask[0]].max() <= 1
    assert res.image.transform == r.transform @ geometry.to_affine(m)


def test_resize_out_buffer_and_errors() -> None:
    r = geoaug.read(S2)
    m, shape = geometry.resize((120, 120), 80, 90)
    buf = np.empty((12, 80, 90), dtype=np.uint16)
    out = functional.warp(r, m, shape, antialias=True, out=buf)
    assert out.data is buf
    np.testing.assert_array_equal(buf, functional.warp(r, m, shape, antialias=True).data)
    with pytest.raises(ParameterError, match="out must be"):
        functional.warp(r, m, shape, out=np.empty((12, 80, 91), np.uint16))
    with pytest.raises(ParameterError, match="out must be"):
        functional.warp(r, m, shape, out=np.empty((12, 80, 90), np.float32))
    with pytest.raises(ParameterError, match="antialias"):
        geoaug.Resize(10, 10, antialias="yes")


def test_axis_aligned_detection() -> None:
    assert geometry.axis_aligned(geometry.resize((10, 10), 5, 20)[0]) == (2.0, 0.0, 0.5, 0.0)
    assert geometry.axis_aligned(geometry.rotation(1)) is None
    assert geometry.axis_aligned(geometry.shearing(3)) is None
    assert geometry.axis_aligned(np.array([[0.0, 0, 1], [0, 1, 0], [0, 0, 1]])) is None  # degenerate


# ----------------------------------------------------------------------------- strided copies
FLIPS = {
    "hflip": (geometry.hflip, lambda a: a[..., ::-1]),
    "vflip": (geometry.vflip, lambda a: a[..., ::-1, :]),
    "transpose": (geometry.transpose, lambda a: np.swapaxes(a, -1, -2)),
    "rot90": (lambda s: geometry.rot90(s, 1), lambda a: np.rot90(a, 1, axes=(-2, -1))),
    "rot180": (lambda s: geometry.rot90(s, 2), lambda a: np.rot90(a, 2, axes=(-2, -1))),
    "rot270": (lambda s: geometry.rot90(s, 3), lambda a: np.rot90(a, 3, axes=(-2, -1))),
}


@pytest.mark.parametrize("name", sorted(FLIPS))
def test_flips_equal_numpy_exactly(name: str, dtype_file: Path) -> None:
    r = geoaug.read(dtype_file)
    build, ref = FLIPS[name]
    m, shape = build((r.height, r.width))
    out = functional.warp(r, m, shape, "bilinear")
    np.testing.assert_array_equal(out.data, ref(r.data))
    np.testing.assert_array_equal(out.mask, ref(r.mask))
    assert out.data.dtype == r.dtype
    assert out.data.flags.c_contiguous


@pytest.mark.parametrize("box", [(0, 0, 40, 50), (13, 7, 31, 90), (255, 0, 1, 256), (3, 255, 200, 1)])
def test_crops_are_exact_slices(box: tuple[int, int, int, int]) -> None:
    r = geoaug.read(COLLAR)
    row, col, h, w = box
    m, shape = geometry.crop(row, col, h, w)
    out = functional.warp(r, m, shape)
    np.testing.assert_array_equal(out.data, r.data[:, row:row + h, col:col + w])
    np.testing.assert_array_equal(out.mask, r.mask[row:row + h, col:col + w])
    assert not np.shares_memory(out.data, r.data)  # a copy: pipelines modify their intermediates in place
    # a crop of a mirrored raster (unit stride, reversed rows)
    vm, _ = geometry.vflip((r.height, r.width))
    out2 = functional.warp(r, vm @ m, shape)
    np.testing.assert_array_equal(out2.data, r.data[:, ::-1][:, row:row + h, col:col + w])


def test_all_valid_mask_is_not_copied_and_results_are_identical() -> None:
    data = geoaug.read(S2).data
    full = geoaug.GeoRaster(data=data, mask=np.ones(data.shape[1:], bool))
    bare = geoaug.GeoRaster.from_array(data)
    assert is_all_valid_mask(bare.mask) and not is_all_valid_mask(full.mask)
    for build, _ in FLIPS.values():
        m, shape = build((120, 120))
        a, b = functional.warp(full, m, shape), functional.warp(bare, m, shape)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.mask, b.mask)
        assert is_all_valid_mask(b.mask) and b.mask.shape == (shape[0], shape[1])
    m, shape = geometry.resize((120, 120), 77, 55)
    a, b = functional.warp(full, m, shape, fill="edge"), functional.warp(bare, m, shape, fill="edge")
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert is_all_valid_mask(b.mask)
    # a pipeline of spectral steps on an all-valid raster keeps its cheap mask
    pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Brightness(0.01), geoaug.GaussianNoise(0.01)])
    np.testing.assert_array_equal(pipe(full, rng=1).data, pipe(bare, rng=1).data)


def test_from_array_masks() -> None:
    a = np.arange(24, dtype="uint16").reshape(2, 3, 4)
    assert is_all_valid_mask(geoaug.GeoRaster.from_array(a).mask)
    r = geoaug.GeoRaster.from_array(a, nodata=5)
    assert r.mask.shape == (2, 3, 4) and not r.mask[0, 1, 1] and r.mask.sum() == 23  # 5 is only in band 0
    f = a.astype("float32")
    f[0, 0, 0] = np.nan
    assert geoaug.GeoRaster.from_array(f).mask.shape == (2, 3, 4)  # per band: only band 0 has the NaN
    assert is_all_valid_mask(geoaug.GeoRaster.from_array(a.astype("float32")).mask)
    assert all_valid_mask((3, 4)) is all_valid_mask((3, 4))
    with pytest.raises(ParameterError):
        geoaug.GeoRaster.from_array(np.zeros((0, 3, 4), "uint16"))


def test_index_copy_out_buffer() -> None:
    src = geoaug.read(COLLAR)
    m, shape = geometry.rot90((256, 256), 1)
    plan = geometry.strided_plan(m, (256, 256), shape)
    buf = np.empty(src.data.shape, src.dtype)
    data, _ = flip.index_copy(src.data, src.mask[None], plan, shape, out=buf)
    assert data is buf
    np.testing.assert_array_equal(buf, np.rot90(src.data, 1, axes=(1, 2)))
    with pytest.raises(ParameterError, match="out must be"):
        flip.index_copy(src.data, None, plan, shape, out=np.empty((7, 256, 255), src.dtype))


def test_strided_plan_exact_and_cached() -> None:
    m, shape = geometry.rot90((64, 48), 1)
    assert geometry.strided_plan(m, (64, 48), shape) == geometry.strided_plan(m.copy(), (64, 48), shape)
    assert geometry.strided_plan(m + 1e-12, (64, 48), shape) is not None  # within atol
    assert geometry.strided_plan(m + 1e-6, (64, 48), shape) is None
    assert geometry.strided_plan(geometry.scaling(2.0), (64, 48), (10, 10)) is None
    assert geometry.strided_plan(geometry.translation(1, 0), (64, 48), (64, 48)) is None  # out of range


# ----------------------------------------------------------------------------- threads and serial twins
def test_results_do_not_depend_on_threads_or_serial_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    r = geoaug.read(COLLAR)
    pipe = geoaug.Compose([geoaug.Rot90(k=1, p=1), geoaug.Resize(200, 180), geoaug.HorizontalFlip(p=1),
                           geoaug.Brightness(0.02, value_range=(0, 10000)), geoaug.Gamma(),
                           geoaug.GaussianNoise(0.01)])
    base = pipe(r, rng=7)
    bare = geoaug.GeoRaster.from_array(geoaug.read(S2).data)  # all valid, no nodata: the flat store loops
    spectral = geoaug.Compose([geoaug.Brightness(0.02), geoaug.Contrast(), geoaug.Normalize(1000.0, 300.0)])
    base2 = spectral(bare, rng=3)
    before = numba.get_num_threads()
    try:
        for mod in (flip, resize, store, noise):
            monkeypatch.setattr(mod, "SERIAL_BELOW", 0)
        for n in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n)
            out = pipe(r, rng=7)
            np.testing.assert_array_equal(out.data, base.data)
            np.testing.assert_array_equal(out.mask, base.mask)
            assert spectral(bare, rng=3).data.tobytes() == base2.data.tobytes()
    finally:
        numba.set_num_threads(before)


# ----------------------------------------------------------------------------- spectral stores
def _old_store(raster: geoaug.GeoRaster, t: geoaug.transforms.spectral.SpectralTransform,
               params: dict) -> np.ndarray:
    """The per-band numpy recipe the one-call stores replace."""
    ctx = t.prepare(raster, params)
    nd = raster.nodata
    finite = nd is not None and not np.isnan(nd)
    bm = raster.band_mask
    if t.out_dtype is not None:
        out = raster.data.astype(np.float32)
        lin = t.linear(raster, params, ctx)  # its dtype is the arithmetic's (PercentileStretch: float64)
        wf = np.float64 if lin is None else lin[0].dtype
        for b in range(raster.count):
            v = t.band(raster.data[b].astype(wf), b, params, ctx)[bm[b]].astype(np.float32)
            v[np.isnan(v)] = 0
            if finite:
                v[v == np.float32(nd)] = nodata_safe_value(nd, np.dtype(np.float32))
            out[b][bm[b]] = v
        return out
    dt = raster.dtype
    w = np.float64 if dt in (np.float64, np.int32) else np.float32
    out = raster.data.copy()
    info = np.iinfo(dt) if dt.kind in "iu" else np.finfo(dt)
    for b in range(raster.count):
        x = raster.data[b].astype(w)
        v = t.band(x, b, params, ctx)
        keep = np.isnan(v)
        if dt.kind in "iu":
            v = np.rint(v)
        v = np.clip(v, info.min, info.max)
        new = np.where(keep, raster.data[b], v).astype(dt)
        if finite:
            new[(new == dt.type(nd)) & ~keep] = dt.type(nodata_safe_value(nd, dt))
        out[b][bm[b]] = new[bm[b]]
    return out


SPECTRAL = {
    "Brightness": lambda: geoaug.Brightness((-0.2, 0.2), per_band=True),
    "BandGain": lambda: geoaug.BandGain((0.5, 1.5)),
    "Contrast": lambda: geoaug.Contrast((0.5, 1.5), per_band=True),
    "PCAJitter": lambda: geoaug.PCAJitter(0.5),
    "Gamma": lambda: geoaug.Gamma((0.5, 2.0)),
    "ChannelShift": lambda: geoaug.ChannelShift((-300, 300)),
    "GaussianNoise": lambda: geoaug.GaussianNoise(0.05),
    "Normalize": lambda: geoaug.Normalize(1000.0, 250.0),
    "ToFloat": lambda: geoaug.ToFloat(),
    "PercentileStretch": lambda: geoaug.PercentileStretch(),
}


@pytest.mark.parametrize("name", sorted(SPECTRAL))
def test_spectral_store_is_byte_identical_to_the_per_band_recipe(name: str, dtype_file: Path) -> None:
    r = geoaug.read(dtype_file)
    t = SPECTRAL[name]()
    for seed in range(2):
        params = t.sample(np.random.default_rng(seed), r)
        out = t.apply(r, params)
        ref = _old_store(r, t, params)
        assert out.data.dtype == ref.dtype
        assert out.data.tobytes() == ref.tobytes()


def test_store_bands_equals_per_band_store() -> None:
    rng = np.random.default_rng(0)
    old = rng.integers(0, 65535, (5, 33, 40)).astype(np.uint16)
    new = (old.astype(np.float32) * 1.7 - 4000).astype(np.float32)
    new[1, 3, 4] = np.nan
    valid = rng.random((5, 33, 40)) > 0.1
    together = old.copy()
    store.store_bands(new, old, valid, together, nodata=0.0, safe=1.0)
    apart = old.copy()
    for b in range(5):
        store.store_band(new[b], old[b], valid[b], apart[b], 0.0, 1.0)
    np.testing.assert_array_equal(together, apart)
    assert together[1, 3, 4] == old[1, 3, 4]
    assert (together[valid] != 0).all()
    np.testing.assert_array_equal(together[~valid], old[~valid])


# ----------------------------------------------------------------------------- cold-start message
def test_cold_cache_is_detected_and_announced(tmp_path: Path) -> None:
    code = (
        "from geoaug import cli\n"
        "print(cli.kernel_cache_cold())\n"
        "cli.announce_compile()\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
    assert run.stderr.count("compiling") == 1
    # a warm cache: every kernel module has index files where numba looks for them
    find = (
        "import importlib\n"
        "for n in ('flip', 'noise', 'resize', 'store', 'warp'):\n"
        "    m = importlib.import_module('geoaug.kernels.' + n)\n"
        "    print(n, next(v._cache._cache_path for v in vars(m).values() if hasattr(v, '_cache')))\n"
    )
    run = subprocess.run([sys.executable, "-c", find], env=env, capture_output=True, text=True, check=True)
    for line in run.stdout.splitlines():
        name, folder = line.split(" ", 1)
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}._kernel-1.py311.nbi").write_bytes(b"")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
    assert run.stderr == ""


@pytest.mark.parametrize("name", sorted(SPECTRAL))
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "float32", "float64"])
def test_spectral_store_on_all_valid_rasters_is_byte_identical(name: str, dtype: str) -> None:
    data = geoaug.read(S2).data[:5]
    if dtype == "uint8":
        data = data // 64
    r = geoaug.GeoRaster.from_array(data.astype(dtype))  # broadcast all-valid mask, no nodata: flat loops
    assert is_all_valid_mask(r.mask)
    t = SPECTRAL[name]()
    params = t.sample(np.random.default_rng(4), r)
    out = t.apply(r, params)
    ref = _old_store(r, t, params)
    assert out.data.dtype == ref.dtype
    assert out.data.tobytes() == ref.tobytes()
