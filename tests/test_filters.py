"""GaussianBlur, Sharpen and Downscale: OpenCV / scipy / albumentations oracles, nodata, dtypes, bad parameters."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import BY_DTYPE, TILES
from helpers import DTYPES, rasters
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import convolve1d

import geoaug
from geoaug import GeoRaster
from geoaug.errors import ParameterError
from geoaug.kernels.blur import convolve_separable, gaussian_taps
from geoaug.transforms.compose import Compose

S2 = TILES / "bigearthnet_s2_12band_uint16.tif"  # 12 bands, 10 m, all valid
COLLAR = TILES / "landsat8_sr_7band_uint16_collar.tif"  # 7 bands, an invalid collar


def hwc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(1, 2, 0))


def normalised_oracle(data: np.ndarray, valid: np.ndarray, taps: np.ndarray, mode: str) -> np.ndarray:
    """float64 normalised convolution with scipy: sum(w m x) / sum(w m)."""
    x = np.where(valid, data, 0).astype(np.float64)
    m = np.broadcast_to(valid, data.shape).astype(np.float64)
    num = convolve1d(convolve1d(x, taps, axis=2, mode=mode), taps, axis=1, mode=mode)
    den = convolve1d(convolve1d(m, taps, axis=2, mode=mode), taps, axis=1, mode=mode)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 only under the mask, never compared
        return num / den


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.3])
def test_gaussian_blur_matches_opencv_on_a_sentinel2_tile(sigma: float) -> None:
    r = geoaug.read(S2)
    out = geoaug.GaussianBlur(sigma=sigma).apply(r, {"sigma": sigma})
    k = len(gaussian_taps(sigma))
    ref = cv2.GaussianBlur(hwc(r.data).astype(np.float32), (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)
    assert out.dtype == np.uint16 and out.transform == r.transform and out.crs == r.crs
    assert np.abs(out.data.astype(np.float64) - np.rint(hwc_back(ref))).max() <= 1


def hwc_back(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 0, 1)


def test_gaussian_blur_float32_matches_opencv() -> None:
    r = geoaug.read(S2)
    x = (r.data / 10000.0).astype(np.float32)
    out = geoaug.GaussianBlur(sigma=1.4)(x, rng=0)  # drawn from a fixed sigma
    k = len(gaussian_taps(1.4))
    ref = hwc_back(cv2.GaussianBlur(hwc(x), (k, k), 1.4, borderType=cv2.BORDER_REFLECT_101))
    np.testing.assert_allclose(out, ref, atol=2e-6)


@pytest.mark.parametrize("fill,mode", [("mirror", "mirror"), ("reflect", "reflect"), ("edge", "nearest"),
                                       ("wrap", "wrap"), ("nodata", "constant")])
def test_masked_blur_is_the_normalised_convolution(fill: str, mode: str) -> None:
    """Masked pixels contribute nothing; the outside follows the fill; invalid pixels keep value and validity."""
    r = geoaug.read(COLLAR)
    assert not r.mask.all()
    out = geoaug.GaussianBlur(sigma=1.2, fill=fill)(r, rng=0)
    ref = normalised_oracle(r.data, r.mask, gaussian_taps(1.2), mode)
    v = r.band_mask
    assert np.array_equal(out.mask, r.mask)
    assert np.array_equal(out.data[~v], r.data[~v])
    assert np.abs(out.data[v].astype(np.float64) - ref[v]).max() <= 1.0  # float32 work vs float64, rounded


def test_values_under_the_mask_are_never_read() -> None:
    """Garbage (NaN, huge values) under invalid pixels changes nothing in the valid output."""
    r = geoaug.read(BY_DTYPE["float32"])
    a = geoaug.GaussianBlur(sigma=1.5)(r, rng=0)
    data = r.data.copy()
    data[~r.band_mask] = 3e38
    b = geoaug.GaussianBlur(sigma=1.5)(r.replace(data=data), rng=0)
    v = r.band_mask
    assert np.isnan(r.data[~v]).all() and not np.isnan(a.data[v]).any()
    assert np.array_equal(a.data[v], b.data[v])


def test_per_band_masks_are_used_per_band() -> None:
    r = geoaug.read(TILES / "landsat7_rgb_uint8_collar.tif")
    assert r.mask.ndim == 3
    out = geoaug.Sharpen(alpha=0.7, sigma=1.0, fill="nodata")(r, rng=0)
    blur = normalised_oracle(r.data, r.mask, gaussian_taps(1.0), "constant")
    ref = np.clip(np.rint(1.7 * r.data - 0.7 * blur), 0, 255)
    v = r.band_mask
    assert np.array_equal(out.mask, r.mask)
    assert np.abs(out.data[v].astype(np.float64) - ref[v]).max() <= 1.0


@pytest.mark.parametrize("path", sorted(BY_DTYPE.values()), ids=sorted(BY_DTYPE))
@pytest.mark.parametrize("name", ["GaussianBlur", "Sharpen", "Downscale"])
def test_every_dtype_kept_and_mask_untouched(path, name: str) -> None:
    r = geoaug.read(path)
    t = {"GaussianBlur": geoaug.GaussianBlur(2.0), "Sharpen": geoaug.Sharpen(1.0, 1.0),
         "Downscale": geoaug.Downscale(factor=3.0)}[name]
    out = t(r, rng=1)
    assert out.dtype == r.dtype and out.shape == r.shape and out.transform == r.transform
    assert np.array_equal(out.mask, r.mask)
    v = r.band_mask
    assert np.array_equal(out.data[~v], r.data[~v], equal_nan=True)
    if r.dtype.kind == "f":
        assert np.isfinite(out.data[v]).all()


def test_sharpen_saturates_integers() -> None:
    x = np.zeros((2, 9, 9), np.uint8)
    x[:, :, 5:] = 250
    out = geoaug.Sharpen(alpha=2.0, sigma=1.0)(x, rng=0)
    assert out[:, :, 5].min() == 255 and out[:, :, 4].max() == 0  # overshoot clipped, never wrapped
    f = np.full((1, 5, 5), 3e38, np.float32)
    f[0, 2, 2] = -3e38
    assert np.isfinite(geoaug.Sharpen(alpha=5.0, sigma=1.0)(f, rng=0)).all()


def test_sharpen_matches_albumentations_gaussian_method() -> None:
    a = pytest.importorskip("albumentations")
    r = geoaug.read(S2)
    x = (r.data[:3] / 20000.0).astype(np.float32)  # well inside [0, 1]: no clipping on either side
    alpha, sigma = 0.4, 1.0
    k = len(gaussian_taps(sigma))
    ref = a.Sharpen(alpha=(alpha, alpha), method="gaussian", kernel_size=k, sigma=sigma, p=1.0)(image=hwc(x))["image"]
    out = geoaug.Sharpen(alpha=alpha, sigma=sigma)(x, rng=0)
    np.testing.assert_allclose(out, hwc_back(ref), atol=1e-5)


def test_constant_blur_identity_and_sharpen_alpha_zero() -> None:
    r = geoaug.read(COLLAR)
    assert np.array_equal(geoaug.Sharpen(alpha=0.0, sigma=2.0)(r, rng=0).data, r.data)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DTYPES), st.integers(1, 30), st.integers(1, 17), st.integers(1, 17), st.floats(0.3, 4.0),
       st.sampled_from(["nodata", "edge", "reflect", "mirror", "wrap"]), st.integers(0, 2**31))
def test_blur_of_a_constant_is_that_constant(dtype: str, bands: int, h: int, w: int, sigma: float, fill: str,
                                             seed: int) -> None:
    """Renormalised weights: any mask, any border, any band count, a constant stays exactly constant."""
    rng = np.random.default_rng(seed)
    data = np.full((bands, h, w), 77, dtype=dtype)
    mask = rng.random((h, w)) > 0.4
    data[:, ~mask] = 3
    out = convolve_separable(data, mask[None], gaussian_taps(sigma), fill)
    assert (out[:, ~mask] == 3).all()
    if data.dtype.kind == "f":  # float sums of renormalised weights: the constant to the float's precision
        np.testing.assert_allclose(out[:, mask], 77, rtol=1e-6)
    else:
        assert (out[:, mask] == 77).all()


def test_downscale_area_average_and_back() -> None:
    """factor 2, nearest on the way back: each 2x2 block becomes its mean (numpy oracle)."""
    r = geoaug.read(S2)
    x = r.data.astype(np.float32)
    out = geoaug.Downscale(factor=2.0, interpolation="nearest")(x, rng=0)
    means = x.reshape(12, 60, 2, 60, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(out, means.repeat(2, axis=1).repeat(2, axis=2), rtol=1e-6)


@pytest.mark.parametrize("scale", [0.5, 0.25])
def test_downscale_matches_albumentations(scale: float) -> None:
    a = pytest.importorskip("albumentations")
    r = geoaug.read(S2)
    x = np.clip(r.data / 20, 0, 255).astype(np.uint8)  # albumentations' Downscale works in uint8
    ref = a.Downscale(scale_range=(scale, scale), p=1.0,
                      interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR})(image=hwc(x))
    out = geoaug.Downscale(factor=1 / scale, interpolation="bilinear")(x, rng=0)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - hwc_back(ref["image"])).max() <= 1  # OpenCV's fixed-point uint8 resize


def test_downscale_masked_uses_valid_pixels_only() -> None:
    r = geoaug.read(COLLAR)
    data = r.data.copy()
    data[~r.band_mask] = 65535  # would dominate any average it entered
    out = geoaug.Downscale(factor=4.0)(r.replace(data=data), rng=0)
    v = r.band_mask
    assert np.array_equal(out.mask, r.mask) and (out.data[~v] == 65535).all()
    for b in range(r.count):  # bilinear and area are convex: each band stays within its valid range
        vals = r.data[b][r.mask]
        assert vals.min() <= out.data[b][r.mask].min() and out.data[b][r.mask].max() <= vals.max()


def test_downscale_gsd_in_metres() -> None:
    r = geoaug.read(S2)  # 10 m pixels, projected CRS
    by_gsd = geoaug.Downscale(gsd=30.0)(r, rng=3, return_params=True)
    assert by_gsd.params["gsd"] == 30.0 and geoaug.Downscale.factors(r, by_gsd.params) == pytest.approx((3.0, 3.0))
    assert np.array_equal(by_gsd.image.data, geoaug.Downscale(factor=3.0)(r, rng=3).data)
    with pytest.raises(ParameterError, match="gsd"):
        geoaug.Downscale(gsd=30.0)(r.data, rng=0)  # a plain array has no pixel size in metres
    with pytest.raises(ParameterError, match="finer"):
        geoaug.Downscale(gsd=5.0)(r, rng=0)
    with pytest.raises(ParameterError, match="gsd"):
        geoaug.Downscale(gsd=30.0)(geoaug.read(BY_DTYPE["float32"]), rng=0)  # geographic CRS: degrees
    # in a pipeline the pixel size is the raster's at that step: after halving the size, 20 m pixels
    pipe = Compose([geoaug.Resize(60, 60), geoaug.Downscale(gsd=40.0, interpolation="nearest")])
    out = pipe(r, rng=0)
    half = geoaug.Resize(60, 60)(r, rng=0)
    assert np.array_equal(out.data, geoaug.Downscale(factor=2.0, interpolation="nearest")(half, rng=0).data)


def test_replay_and_round_trip_through_a_pipeline_file(tmp_path) -> None:
    r = geoaug.read(COLLAR)
    pipe = Compose([geoaug.GaussianBlur((0.5, 2.0), fill="nodata"), geoaug.Sharpen((0.1, 0.9), (0.5, 1.5)),
                    geoaug.Downscale(factor=(1.5, 3.0), interpolation="cubic")])
    res = pipe(r, rng=5, return_record=True)
    assert np.array_equal(pipe.replay(r, res.params).data, res.image.data)
    again = Compose.from_dict(pipe.to_dict())
    assert np.array_equal(again(r, rng=5).data, res.image.data)
    geoaug.write(res.image, tmp_path / "out.tif")
    back = geoaug.read(tmp_path / "out.tif")
    assert back.transform == r.transform and np.array_equal(back.pixel_mask, r.pixel_mask)


@pytest.mark.parametrize("make,match", [
    (lambda: geoaug.GaussianBlur(sigma=-1.0), "sigma"),
    (lambda: geoaug.GaussianBlur(sigma=0), "sigma"),
    (lambda: geoaug.GaussianBlur(sigma=(0.5, float("nan"))), "sigma"),
    (lambda: geoaug.GaussianBlur(fill="constant"), "fill"),
    (lambda: geoaug.Sharpen(alpha=-0.5), "alpha"),
    (lambda: geoaug.Sharpen(sigma=(-1, 1)), "sigma"),
    (lambda: geoaug.Downscale(factor=0.5), "factor"),
    (lambda: geoaug.Downscale(factor=2, gsd=20), "not both"),
    (lambda: geoaug.Downscale(gsd=-10), "gsd"),
    (lambda: geoaug.Downscale(interpolation="area"), "interpolation"),
])
def test_bad_parameters_fail_at_construction(make, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make()


def test_every_band_count_shares_one_draw() -> None:
    x = np.random.default_rng(0).integers(0, 4000, (200, 16, 16)).astype(np.int16)
    out = geoaug.GaussianBlur(1.0)(GeoRaster.from_array(x), rng=0)
    for b in (0, 99, 199):
        one = geoaug.GaussianBlur(1.0)(GeoRaster.from_array(x[b:b + 1]), rng=0)
        assert np.array_equal(out.data[b], one.data[0])


@settings(max_examples=40, deadline=None)
@given(rasters(min_side=1, max_side=20), st.sampled_from(["blur", "downscale_bilinear", "downscale_nearest"]),
       st.floats(0.3, 3.0), st.sampled_from(["nodata", "edge", "reflect", "mirror", "wrap"]))
def test_convex_filters_stay_within_each_bands_valid_range(r: GeoRaster, kind: str, amount: float,
                                                           fill: str) -> None:
    """Positive weights over valid pixels only: every output lies within its band's valid input range."""
    if kind == "blur":
        t = geoaug.GaussianBlur(sigma=amount, fill=fill)
    else:
        t = geoaug.Downscale(factor=1.0 + amount, interpolation=kind.split("_")[1])
    out = t(r, rng=0)
    assert out.dtype == r.dtype and np.array_equal(out.mask, r.mask)
    v = r.band_mask
    assert np.array_equal(out.data[~v], r.data[~v], equal_nan=True)
    for b in range(r.count):
        vals = r.data[b][v[b]].astype(np.float64)
        if vals.size:
            got = out.data[b][v[b]].astype(np.float64)
            span = 1e-5 * max(1.0, np.abs(vals).max())  # float32 sums round
            assert vals.min() - span <= got.min() and got.max() <= vals.max() + span
