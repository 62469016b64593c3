"""Lazy masks: a plain float array's validity (its NaNs) is found only by the operations that need it.

Whatever the path, the values and the mask must be those of an eagerly wrapped raster.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import geoaug
from geoaug import geometry
from geoaug.raster import GeoRaster

EXACT = [geoaug.HorizontalFlip(p=1), geoaug.VerticalFlip(p=1), geoaug.Rot90(p=1), geoaug.Transpose(p=1),
         geoaug.RandomCrop(20, 17), geoaug.CenterCrop(9, 30)]
LINEAR = [geoaug.Normalize(mean=[1, 2, 3], std=[2, 0.5, 4]), geoaug.Brightness((-0.2, 0.2)),
          geoaug.BandGain((0.5, 2.0)), geoaug.ToFloat(value_range=(-3, 3))]
# holes of a number: only the holes are looked at (their NaNs stay), the mask stays lazy
FILLS = [geoaug.GridDropout(ratio=0.5, unit_size=(6, 10), fill=1.5),
         geoaug.CoarseDropout(num_holes=(3, 5), hole_height=(4, 12), hole_width=(4, 12), fill=-2.0)]
SCANNING = [geoaug.Contrast((0.5, 1.5)), geoaug.GaussianBlur(sigma=(0.5, 1.0))]
# the general warp: warped as all valid, each output row tested for NaN; the input is scanned (and warped again
# with its mask) only when a NaN came out
WARPING = [geoaug.Affine(rotate=(-30, 30)), geoaug.Affine(rotate=(-30, 30), interpolation="nearest"),
           geoaug.Affine(rotate=(-30, 30), shear_x=(-10, 10), interpolation="cubic", fill="reflect"),
           geoaug.Affine(rotate=(10, 30), scale=(0.7, 1.3), fill="constant", fill_value=2.5),
           geoaug.Affine(rotate=(-30, -10), interpolation="nearest", fill="wrap")]
# the displacement fields: likewise, remapped as all valid with each output row tested
REMAPPING = [geoaug.GridDistortion(num_steps=4, distort_limit=(-0.3, 0.3)),
             geoaug.GridDistortion(num_steps=3, distort_limit=(-0.3, 0.3), interpolation="nearest", fill="reflect"),
             geoaug.ElasticTransform(alpha=(20.0, 40.0), sigma=8.0, interpolation="cubic")]
# axis-aligned resampling: resampled as all valid, each output strip scanned for NaN; the input is scanned (and
# resampled again with its mask) only when a NaN came out
# (Resize(20, 45) has a column on a pixel centre: with its nodata edges, the general pass; Resize(20, 44) has
# none: the two-tap pass, its invalid edge outputs borrowing valid ones' taps)
RESAMPLING = [geoaug.Resize(20, 45), geoaug.Resize(20, 44), geoaug.Resize(62, 74, interpolation="nearest"),
              geoaug.Resize(13, 17, interpolation="cubic"), geoaug.Resize(11, 9, antialias=True),
              geoaug.RandomResizedCrop(25, 25), geoaug.Affine(scale=(0.6, 1.7), rotate=0, fill="reflect")]


def _array(dtype: str = "float32", nan: bool = True) -> np.ndarray:
    rng = np.random.default_rng(4)
    a = rng.normal(0, 2, (3, 31, 37)).astype(dtype)
    if nan:
        a[:, 4:9, 6:12] = np.nan
        a[1, 20:, :5] = np.nan  # one band only
    return a


def test_wrapping_defers_the_scan_and_the_mask_is_the_eager_one() -> None:
    a = _array()
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    assert lazy.lazy_mask
    np.testing.assert_array_equal(lazy.mask, GeoRaster.from_array(a).mask)
    assert not lazy.lazy_mask  # found once, kept
    for kwargs in ({"nodata": -9999.0}, {"mask": np.ones(a.shape[1:], bool)}):
        assert not GeoRaster.from_array(a, lazy_mask=True, **kwargs).lazy_mask
    assert not GeoRaster.from_array(np.nan_to_num(a).astype("int16"), lazy_mask=True).lazy_mask
    assert not GeoRaster.from_array(a).lazy_mask


# (without NaN too for the resampling steps, which then never scan)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("t, nan", [(t, True) for t in EXACT + LINEAR + FILLS + SCANNING + RESAMPLING + WARPING
                                     + REMAPPING] + [(t, False) for t in RESAMPLING + WARPING + REMAPPING],
                         ids=lambda x: type(x).__name__ if x not in (True, False) else ("nan" if x else "no-nan"))
def test_plain_arrays_give_what_rasters_give(t: geoaug.Transform, nan: bool, dtype: str) -> None:
    a = _array(dtype, nan)
    for seed in range(3):
        got = t(a, rng=seed)
        want = t(GeoRaster.from_array(a), rng=seed)
        assert got.dtype == want.data.dtype
        np.testing.assert_array_equal(got.view(np.uint8), want.data.view(np.uint8))  # bits: NaN where it was


@pytest.mark.parametrize("t", EXACT + LINEAR + FILLS, ids=lambda t: type(t).__name__)
def test_exact_linear_and_fill_steps_keep_the_mask_lazy_and_right(t: geoaug.Transform) -> None:
    a = _array()
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    eager = GeoRaster.from_array(a)
    params = t.sample(np.random.default_rng(1), lazy)
    out = t.apply(lazy, params)
    ref = t.apply(eager, params)
    assert out.lazy_mask and lazy.lazy_mask  # no scan of the input, none of the output
    assert out.transform == ref.transform
    shape = out.data.shape  # (rows, cols) when every band agrees, else per band: compare per band
    np.testing.assert_array_equal(np.broadcast_to(out.mask, shape), np.broadcast_to(ref.mask, shape))
    np.testing.assert_array_equal(out.data.view(np.uint8), ref.data.view(np.uint8))


def test_a_pipeline_on_a_plain_array_equals_the_raster_path_and_its_record() -> None:
    a = _array()
    pipe = geoaug.Compose([*EXACT[:4], *LINEAR, WARPING[0]])
    for seed in range(4):
        got = pipe(a, rng=seed, return_params=True)
        want = pipe(GeoRaster.from_array(a), rng=seed, return_params=True)
        np.testing.assert_array_equal(got.image.view(np.uint8), want.image.data.view(np.uint8))
        assert got.params == want.params


def test_a_lazy_raster_pickles_lazy_and_finds_its_mask_after() -> None:
    a = _array()
    back = pickle.loads(pickle.dumps(GeoRaster.from_array(a, lazy_mask=True)))
    assert back.lazy_mask
    np.testing.assert_array_equal(back.mask, GeoRaster.from_array(a).mask)
    with pytest.raises(AttributeError):
        _ = back.no_such_field


def test_evolve_values_on_a_known_mask_finds_the_new_one() -> None:
    eager = GeoRaster.from_array(_array(nan=False))
    new = _array()
    out = eager.evolve_values(new)
    assert not out.lazy_mask
    np.testing.assert_array_equal(out.mask, GeoRaster.from_array(new).mask)


# (not the enlarging Affine with fill="reflect" of RESAMPLING: its one-pixel edge columns always take the masked
# call, test_one_pixel_columns_keep_the_eager_bits_when_a_nan_lies_unread). With the NaNs of _array every
# resampling draw reads one; a warp's or a field's may not
@pytest.mark.parametrize("t, always_read",
                         [(t, True) for t in RESAMPLING[:-1]] + [(t, False) for t in WARPING + REMAPPING],
                         ids=lambda x: type(x).__name__ if x not in (True, False) else ("always" if x else "maybe"))
def test_resampling_scans_the_input_only_when_a_nan_came_out(t: geoaug.Transform, always_read: bool) -> None:
    for nan in (False, True):
        a = _array(nan=nan)
        for seed in range(3):
            lazy = GeoRaster.from_array(a, lazy_mask=True)
            params = t.sample(np.random.default_rng(seed), lazy)
            out = t.apply(lazy, params)
            ref = t.apply(GeoRaster.from_array(a), params)
            # without NaN the input's mask is never found
            assert (lazy.lazy_mask is not nan) if always_read else (lazy.lazy_mask or nan)
            assert out.transform == ref.transform
            shape = out.data.shape
            np.testing.assert_array_equal(np.broadcast_to(out.mask, shape), np.broadcast_to(ref.mask, shape))
            np.testing.assert_array_equal(out.data.view(np.uint8), ref.data.view(np.uint8))


def test_a_nan_the_output_never_reads_leaves_the_input_unscanned() -> None:
    from geoaug.transforms.functional import warp

    a = _array(nan=False)
    a[:, -1, -1] = np.nan  # the last pixel; a 2x zoom of the top-left quarter never reads it
    m = np.diag([0.5, 0.5, 1.0])  # output pixel -> input pixel
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    out = warp(lazy, m, (31, 37))
    assert lazy.lazy_mask and not np.isnan(out.data).any()
    ref = warp(GeoRaster.from_array(a), m, (31, 37))
    np.testing.assert_array_equal(out.data, ref.data)
    np.testing.assert_array_equal(np.broadcast_to(out.mask, (31, 37)), np.broadcast_to(ref.mask, (31, 37)))


@pytest.mark.parametrize("fill", ["edge", "reflect"])
def test_one_pixel_columns_keep_the_eager_bits_when_a_nan_lies_unread(fill: str) -> None:
    # the right half, enlarged 2x: its last columns lie right of the last pixel centre, where the fill mode maps
    # both taps to one pixel. With a mask (a NaN in the first column, never read) those columns take another
    # pass than without one; the lazy call must give the masked call's bits, not the unmasked ones
    from geoaug.transforms.functional import warp

    a = np.random.default_rng(8).random((3, 31, 37)).astype(np.float32) * 1000
    a[:, :, 0] = np.nan
    m = np.array([[0.5, 0.0, 18.5], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0]])  # output pixel -> input pixel
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    out = warp(lazy, m, (62, 37), fill=fill)
    ref = warp(GeoRaster.from_array(a), m, (62, 37), fill=fill)
    assert not np.isnan(out.data).any() and not lazy.lazy_mask  # the input was scanned
    np.testing.assert_array_equal(out.data.view(np.uint32), ref.data.view(np.uint32))


def test_parallel_resampling_keeps_the_eager_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # at 2 threads the pass order once depended on whether a mask was given: a 20² crop enlarged to 256² ran in
    # lanes without the mask and rows first with it, and the lazy call (no NaN read) gave other bits
    from geoaug.kernels import resize
    from geoaug.transforms.functional import warp

    monkeypatch.setattr(resize, "SERIAL_BELOW", 0)
    monkeypatch.setattr(resize.threads, "num_threads", lambda: 2)
    a = np.random.default_rng(9).random((1, 64, 64)).astype(np.float32) * 1000
    a[0, 63, 63] = np.nan  # never read by the crop
    m = np.array([[20 / 256, 0.0, 10.0], [0.0, 20 / 256, 10.0], [0.0, 0.0, 1.0]])
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    out = warp(lazy, m, (256, 256))
    ref = warp(GeoRaster.from_array(a), m, (256, 256))
    assert lazy.lazy_mask
    np.testing.assert_array_equal(out.data.view(np.uint32), ref.data.view(np.uint32))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "cubic"])
def test_a_nan_the_warp_never_reads_leaves_the_input_unscanned(interpolation: str) -> None:
    from geoaug.transforms.functional import warp

    a = _array(nan=False)
    a[:, 0, 0] = np.nan  # a corner the rotation leaves outside the output (nodata fill)
    m = geometry.affine_matrix(a.shape[1:], rotate=30)
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    out = warp(lazy, m, a.shape[1:], interpolation)
    assert lazy.lazy_mask and not np.isnan(out.data).any()
    ref = warp(GeoRaster.from_array(a), m, a.shape[1:], interpolation)
    np.testing.assert_array_equal(out.data.view(np.uint8), ref.data.view(np.uint8))
    np.testing.assert_array_equal(np.broadcast_to(out.mask, a.shape), np.broadcast_to(ref.mask, a.shape))


@pytest.mark.parametrize("interpolation", ["bilinear", "cubic"])
def test_a_nan_read_at_weight_zero_takes_the_masked_warp(interpolation: str) -> None:
    # a shear by two whole pixels per row puts every tap on a pixel centre: the taps past it weigh 0. The output
    # rows stop one short of the input's, so its last row is read at weight 0 only. The masked warp computes
    # such a pixel from its other taps (valid); the all-valid one multiplies the NaN by 0, sees a NaN and warps
    # again with the mask: the masked call's bits either way
    from geoaug.transforms.functional import warp

    a = _array(nan=False)
    a[:, -1, 25] = np.nan  # read by output row 29 (the last), column 6, at weight 0
    m = np.array([[1.0, 2.0, -40.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # output pixel -> input pixel
    lazy = GeoRaster.from_array(a, lazy_mask=True)
    out = warp(lazy, m, (a.shape[1] - 1, a.shape[2]), interpolation)
    assert not lazy.lazy_mask  # scanned
    ref = warp(GeoRaster.from_array(a), m, (a.shape[1] - 1, a.shape[2]), interpolation)
    np.testing.assert_array_equal(out.data.view(np.uint8), ref.data.view(np.uint8))
    shape = out.data.shape
    np.testing.assert_array_equal(np.broadcast_to(out.mask, shape), np.broadcast_to(ref.mask, shape))
    assert not np.isnan(out.data).any() and out.mask.any()
