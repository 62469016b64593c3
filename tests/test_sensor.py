"""Sensor-aware transforms (Haze, CloudShadow, Illumination, SpectralIndex) on real fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BY_DTYPE, TILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import GeoRaster, ParameterError, sensors
from geoaug.transforms import CloudShadow, Compose, Haze, Illumination, SpectralIndex
from geoaug.transforms.sensor import cloud_fields

BEN = TILES / "bigearthnet_s2_12band_uint16.tif"          # B01..B09, B11, B12, B8A; uint16, no nodata
S2 = TILES / "sentinel2_l2a_12band_int16.tif"             # B01_20m...; int16, nodata -32768 collar
LANDSAT = TILES / "landsat8_sr_7band_uint16_collar.tif"   # SR_B1..SR_B7; uint16, nodata 0 collar


def unchanged_where_invalid(src: GeoRaster, out: GeoRaster) -> None:
    bad = ~src.band_mask
    assert np.array_equal(out.band_mask, src.band_mask)
    assert np.array_equal(out.data[bad], src.data[bad])


# ----------------------------------------------------------------------------------- sensors table
def test_wavelengths_from_sentinel2_and_landsat_names() -> None:
    s2 = geoaug.read(S2)
    wl = sensors.band_wavelengths(s2.band_names)
    assert wl[s2.band_names.index("B8A_20m")] == 865.0 and wl[s2.band_names.index("B12_20m")] == 2190.0
    assert sensors.band_wavelengths(geoaug.read(LANDSAT).band_names) == (443.0, 482.0, 561.0, 655.0, 865.0,
                                                                          1609.0, 2201.0)
    assert sensors.band_wavelengths(["B10"], sensor="landsat") == (10895.0,)
    assert sensors.band_wavelengths(["red", "nir", "custom"], given={"custom": 1234}) == (665.0, 842.0, 1234.0)
    with pytest.raises(ParameterError, match="B10"):
        sensors.band_wavelengths(["B10", "B11"])  # both sensors have them: ambiguous
    with pytest.raises(ParameterError, match="band_1"):
        sensors.band_wavelengths(["band_1"])


# ---------------------------------------------------------------------------------------------- Haze
def test_haze_adds_path_radiance_falling_with_wavelength_from_band_names() -> None:
    r = geoaug.read(BEN)
    res = Haze(amount=(0.03, 0.06), exponent=(1.0, 2.0), value_range=(0, 10000))(r, rng=3, return_params=True)
    a, k = res.params["amount"], res.params["exponent"]
    wl = np.array(sensors.band_wavelengths(r.band_names))
    want = a * 10000 * (wl / 490.0) ** -k
    delta = res.image.data.astype(float) - r.data.astype(float)
    for b in range(r.count):  # the same offset everywhere in a band (up to rounding)
        assert np.abs(delta[b] - want[b]).max() <= 0.5 + 1e-6
    order = np.argsort(wl)
    assert (np.diff(want[order]) < 0).all() and delta[0].mean() > delta[10].mean()  # B01 hazier than B12


def test_haze_keeps_nodata_and_saturates() -> None:
    s2 = geoaug.read(S2)
    assert not s2.pixel_mask.all()
    out = Haze(amount=0.05, value_range=(0, 10000))(s2, rng=0)
    unchanged_where_invalid(s2, out)
    assert out.dtype == s2.dtype
    u8 = geoaug.read(BY_DTYPE["uint8"])
    out8 = Haze(amount=5.0, exponent=0.0, wavelengths=[490, 560, 665])(u8, rng=0)
    assert (out8.data[u8.band_mask] == 255).all()  # saturates, never wraps
    unchanged_where_invalid(u8, out8)
    f = geoaug.read(BY_DTYPE["float32"])
    outf = Haze(amount=0.1, exponent=0.0, wavelengths={"band_1": 665.0})(f, rng=0)
    assert outf.dtype == np.float32 and not np.isnan(outf.data[f.band_mask]).any()


def test_haze_bad_parameters_are_clear_errors() -> None:
    with pytest.raises(ParameterError, match="amount"):
        Haze(amount=-0.1)
    with pytest.raises(ParameterError, match="wavelengths"):
        Haze(wavelengths=[490, 0, 665])
    with pytest.raises(ParameterError, match="wavelengths"):
        Haze(wavelengths="B02")
    with pytest.raises(ParameterError, match="sensor"):
        Haze(sensor="modis")
    with pytest.raises(ParameterError, match="band_1"):  # plain arrays have no band names to read
        Haze()(np.ones((2, 4, 4), "uint16"), rng=0)
    with pytest.raises(ParameterError, match="3 values for an image of 2 bands"):
        Haze(wavelengths=[490, 560, 665])(np.ones((2, 4, 4), "uint16"), rng=0)


# -------------------------------------------------------------------------------------- Illumination
def test_illumination_is_one_smooth_gain_for_all_bands() -> None:
    r = geoaug.read(LANDSAT)
    res = Illumination(strength=0.3, order=1)(r, rng=5, return_params=True)
    out = res.image
    unchanged_where_invalid(r, out)
    m = r.pixel_mask & (r.data.min(axis=0) > 2000)  # big values: rounding is a small relative error
    ratio = out.data.astype(float) / np.maximum(r.data, 1)
    assert np.abs(ratio[0][m] - ratio[6][m]).max() < 1e-3  # one field for every band
    assert 0.7 - 1e-3 <= ratio[0][m].min() and ratio[0][m].max() <= 1.3 + 1e-3
    # order 1: a plane in the pixel coordinates (least-squares fit leaves only rounding)
    rows, cols = np.nonzero(m)
    design = np.stack([np.ones(rows.size), rows, cols], axis=1)
    coef, *_ = np.linalg.lstsq(design, ratio[0][m], rcond=None)
    assert np.abs(design @ coef - ratio[0][m]).max() < 1e-3
    assert t_replay(Illumination(strength=0.3, order=1), r, res.params) == out.data.tobytes()


def t_replay(t, r, params) -> bytes:
    return t.apply(r, params).data.tobytes()


def test_illumination_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="strength"):
        Illumination(strength=1.5)
    with pytest.raises(ParameterError, match="order"):
        Illumination(order=0)


# --------------------------------------------------------------------------------------- CloudShadow
def test_clouds_brighten_shadows_darken_consistently_across_bands() -> None:
    r = geoaug.read(BEN)
    t = CloudShadow(coverage=0.3, brightness=0.8, shadow=0.4, shadow_offset=8, value_range=(0, 10000))
    res = t(r, rng=1, return_params=True)
    p = res.params
    cloud, shadow = cloud_fields(p, (r.height, r.width))
    assert abs((cloud > 0).mean() - p["coverage"]) < 0.01  # coverage is the share under (some) cloud
    full = cloud == 1.0
    assert full.any() and (res.image.data[:, full] == 8000).all()  # thick cloud: the cloud value in every band
    clear = (cloud == 0) & (shadow == 0)
    assert np.array_equal(res.image.data[:, clear], r.data[:, clear])
    dark = (shadow == 1.0) & (cloud == 0)
    assert dark.any()
    assert np.abs(res.image.data[:, dark].astype(float) - 0.4 * r.data[:, dark]).max() <= 0.5 + 1e-6
    # the shadow is the cloud field moved by the drawn offset
    dy, dx = (round(v) for v in p["offset"])
    assert abs(np.hypot(*p["offset"]) - 8) < 1e-2
    h, w = r.height, r.width
    ys, xs = slice(max(0, dy), min(h, h + dy)), slice(max(0, dx), min(w, w + dx))
    yc, xc = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
    assert np.array_equal(shadow[ys, xs], cloud[yc, xc])
    assert t.apply(r, p).data.tobytes() == res.image.data.tobytes()


def test_cloudshadow_keeps_nodata_and_reports_in_mask_or_labels() -> None:
    s2 = geoaug.read(S2)
    labels = geoaug.read(TILES.parent / "labels" / "sentinel2_l2a_12band_int16.tif")
    plain = CloudShadow(coverage=0.4, value_range=(0, 10000))(s2, rng=2)
    unchanged_where_invalid(s2, plain)

    masked = CloudShadow(coverage=0.4, report="mask", value_range=(0, 10000))
    res = masked(s2, rng=2, return_params=True)
    c, s = masked.flagged(res.params, (s2.height, s2.width))
    gone = c | s
    assert gone.any()
    assert not res.image.pixel_mask[gone].any()
    assert np.array_equal(res.image.pixel_mask, s2.pixel_mask & ~gone)  # nothing else invalidated or revived
    assert (res.image.data[:, gone] == -32768).all()

    lab = CloudShadow(coverage=0.4, report="label", cloud_class=9, shadow_class=8, value_range=(0, 10000))
    res = lab(s2, rng=2, labels=labels, return_params=True)
    c, s = lab.flagged(res.params, (s2.height, s2.width))
    assert (res.labels.data[0][c] == 9).all() and (res.labels.data[0][s] == 8).all()
    rest = ~(c | s)
    assert np.array_equal(res.labels.data[0][rest], labels.data[0][rest])
    assert np.array_equal(res.image.data, plain.data)  # the same draw: the image is the same as without report


def test_cloudshadow_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="coverage"):
        CloudShadow(coverage=1.5)
    with pytest.raises(ParameterError, match="cloud_class"):
        CloudShadow(report="label")
    with pytest.raises(ParameterError, match="report"):
        CloudShadow(report="clouds")
    with pytest.raises(ParameterError, match="size"):
        CloudShadow(size=0.5)
    with pytest.raises(ParameterError, match="label dtype"):
        CloudShadow(coverage=0.5, report="label", cloud_class=300)(
            np.ones((2, 32, 32), "uint16"), rng=0, labels=np.zeros((32, 32), "uint8"))


# ------------------------------------------------------------------------------------- SpectralIndex
def test_ndvi_ndwi_appended_with_names_from_sentinel2_bands() -> None:
    s2 = geoaug.read(S2)
    out = SpectralIndex(["NDVI", "NDWI", "NBR"])(s2, rng=0)
    n = s2.count
    assert out.band_names == (*s2.band_names, "NDVI", "NDWI", "NBR")
    assert out.dtype == np.float32 and np.array_equal(out.data[:n], s2.data.astype(np.float32))
    names = list(s2.band_names)
    red, nir = s2.data[names.index("B04_10m")].astype(float), s2.data[names.index("B08_10m")].astype(float)
    green, swir22 = s2.data[names.index("B03_10m")].astype(float), s2.data[names.index("B12_20m")].astype(float)
    m, bm = out.band_mask, s2.band_mask
    ir, inir, ig, isw = (names.index(k) for k in ("B04_10m", "B08_10m", "B03_10m", "B12_20m"))
    for j, (a, b, ia, ib) in enumerate([(nir, red, inir, ir), (green, nir, ig, inir), (nir, swir22, inir, isw)]):
        valid = bm[ia] & bm[ib] & (a + b != 0)
        assert np.array_equal(m[n + j], valid)
        np.testing.assert_allclose(out.data[n + j][valid], ((a - b) / (a + b))[valid], rtol=1e-6, atol=1e-7)
        assert (out.data[n + j][~valid] == -32768).all()  # invalid index pixels hold the nodata value


def test_index_from_landsat_names_numbers_and_offset(tmp_path) -> None:
    ls = geoaug.read(LANDSAT)
    out = SpectralIndex("NDVI")(ls, rng=0)
    red, nir = ls.data[3].astype(float), ls.data[4].astype(float)  # SR_B4, SR_B5
    v = ls.pixel_mask & (red + nir > 0)
    ndvi = (nir - red)[v] / (nir + red)[v]
    # a valid 0 is moved off the nodata value 0 (to float32's smallest normal number), as every transform does
    assert (out.data[7][v][ndvi == 0] == np.finfo(np.float32).tiny).all()
    np.testing.assert_allclose(out.data[7][v], ndvi, rtol=1e-6, atol=1e-37)
    assert not out.band_mask[7][~ls.pixel_mask].any()  # masked where an input band is masked
    by_number = SpectralIndex("ndvi", bands={"red": 4, "nir": "SR_B5"})(ls, rng=0)
    assert np.array_equal(by_number.data, out.data)
    shifted = SpectralIndex("NDVI", offset=-1000)(ls, rng=0)
    w = v & (red + nir - 2000 != 0)
    np.testing.assert_allclose(shifted.data[7][w], (nir - red)[w] / (nir + red - 2000)[w], rtol=1e-5, atol=1e-37)
    # written and read back: the index band keeps its name (nodata 0 moved off for valid zeros)
    path = tmp_path / "ndvi.tif"
    geoaug.write(out, path)
    back = geoaug.read(path)
    assert back.band_names[-1] == "NDVI" and back.dtype == np.float32
    assert np.array_equal(back.band_mask[7], out.band_mask[7])


def test_index_errors_name_the_problem() -> None:
    with pytest.raises(ParameterError, match="unknown index 'NDXI'"):
        SpectralIndex("NDXI")
    with pytest.raises(ParameterError, match="unknown role"):
        SpectralIndex("NDVI", bands={"infrared": 1})
    with pytest.raises(ParameterError, match="'nir'"):
        SpectralIndex("NDVI")(np.ones((3, 4, 4), "uint16"), rng=0)
    with pytest.raises(ParameterError, match="not a band of the image"):
        SpectralIndex("NDVI", bands={"nir": "B99", "red": 1})(np.ones((3, 4, 4), "uint16"), rng=0)
    with pytest.raises(ParameterError, match="beyond"):
        SpectralIndex("NDVI", bands={"nir": 9, "red": 1})(np.ones((3, 4, 4), "uint16"), rng=0)


def test_pipeline_with_index_last_round_trips() -> None:
    r = geoaug.read(BEN)
    pipe = Compose([Haze(value_range=(0, 10000)), CloudShadow(value_range=(0, 10000)), Illumination(),
                    SpectralIndex(["NDVI", "NDBI"])])
    res = pipe(r, rng=4, return_record=True)
    again = Compose.from_dict(pipe.to_dict())
    assert again.replay(r, res.params).data.tobytes() == res.image.data.tobytes()
    assert res.image.band_names[-2:] == ("NDVI", "NDBI") and res.image.count == 14
    # steps after it draw for 14 float32 bands (pipelines sample on pixel-less proxies)
    after = Compose([SpectralIndex("NDVI"), geoaug.Brightness(0.1, per_band=True), geoaug.PCAJitter(0.1),
                     geoaug.Rot90()])
    res = after(r, rng=1, return_record=True)
    assert res.image.count == 13 and res.image.dtype == np.float32
    assert len(res.params["steps"][1]["delta"]) == 13
    assert Compose.from_dict(after.to_dict()).replay(r, res.params).data.tobytes() == res.image.data.tobytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(["uint8", "uint16", "int16", "int32", "float32", "float64"]),
       bands=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_sensor_transforms_never_touch_invalid_pixels(dtype: str, bands: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 200, (bands, 24, 20)).astype(dtype)
    mask = rng.random((24, 20)) > 0.2
    r = GeoRaster(data=data, mask=mask, band_names=[f"b{i}" for i in range(bands)])
    for t in (Haze(amount=(0, 2), wavelengths=[500.0 + 100 * i for i in range(bands)]), Illumination(strength=0.9),
              CloudShadow(coverage=(0, 1), size=(1, 30))):
        out = t(r, rng=seed)
        unchanged_where_invalid(r, out)
        assert out.dtype == r.dtype
        if out.dtype.kind == "f":
            assert np.isfinite(out.data[out.band_mask]).all()
    out = SpectralIndex("NDVI", bands={"nir": 1, "red": bands})(r, rng=seed)
    v = out.data[bands][out.band_mask[bands]]
    assert ((-1 - 1e-6 <= v) & (v <= 1 + 1e-6)).all()  # non-negative inputs: within [-1, 1]
    assert not out.band_mask[bands][~mask].any()


def test_xarray_accessor_keeps_names_and_appends_index_bands() -> None:
    rioxarray = pytest.importorskip("rioxarray")
    import geoaug.xarray  # registers the accessor

    da = rioxarray.open_rasterio(BEN)
    out = da.geoaug.augment(Compose([Haze(value_range=(0, 10000)), SpectralIndex(["NDVI", "NBR"])]), seed=0)
    assert out.shape == (14, 120, 120) and out.dtype == np.float32
    assert list(out.coords["band"].values) == list(range(1, 15)) and out.attrs["long_name"][-2:] == ("NDVI", "NBR")
    assert out.rio.transform() == da.rio.transform()
    r = geoaug.read(BEN)
    want = Compose([Haze(value_range=(0, 10000)), SpectralIndex(["NDVI", "NBR"])])(r, rng=0)
    assert out.attrs["long_name"] == want.band_names
    lazy = rioxarray.open_rasterio(BEN, chunks=(12, 60, 60))
    with pytest.raises(ParameterError, match="compute"):  # Dask-backed arrays keep the band count
        lazy.geoaug.augment(SpectralIndex("NDVI", bands={"nir": 8, "red": 4}), seed=0).compute()
