"""Spectral transforms against plain numpy references on valid pixels, for every dtype."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import BY_DTYPE, TILES
from helpers import DTYPES

import geoaug
from geoaug import GeoRaster
from geoaug.cli import main as cli
from geoaug.kernels.noise import gaussian_noise
from geoaug.raster import nodata_safe_value
from geoaug.transforms import REGISTRY, SpectralTransform


def real_raster(dtype: str) -> GeoRaster:
    """A real fixture of that dtype (int32: the uint16 Landsat tile widened), cropped small."""
    src = BY_DTYPE.get(dtype, BY_DTYPE["uint16"])
    win = {"uint8": ((80, 176), (80, 176)), "int16": None}.get(dtype, ((60, 156), (60, 156)))
    r = geoaug.read(src, window=win)
    assert 0.2 < r.valid_fraction < 1.0 or dtype == "int16"
    if dtype == "int32":
        r = r.replace(data=r.data.astype(np.int32) - 20000)
    return r


def expected(r: GeoRaster, new: np.ndarray) -> np.ndarray:
    """The shared rules written out independently: round, saturate, move off nodata, valid only."""
    out = r.data.copy()
    bm = r.band_mask
    v = new[bm]
    if r.dtype.kind in "iu":
        info = np.iinfo(r.dtype)
        v = np.clip(np.rint(v), info.min, info.max)
    v = v.astype(r.dtype)
    if r.nodata is not None and not math.isnan(r.nodata):
        v[v == r.nodata] = nodata_safe_value(r.nodata, r.dtype)
    out[bm] = v
    return out


def span(r: GeoRaster) -> tuple[float, float]:
    if r.dtype.kind in "iu":
        i = np.iinfo(r.dtype)
        return float(i.min), float(i.max)
    return 0.0, 1.0


def close(got: np.ndarray, want: np.ndarray, r: GeoRaster) -> None:
    assert got.dtype == want.dtype
    bm = r.band_mask
    np.testing.assert_array_equal(got[~bm], r.data[~bm])  # invalid pixels untouched
    if r.dtype.kind in "iu":
        assert np.abs(got[bm].astype(np.int64) - want[bm].astype(np.int64)).max(initial=0) <= 1
    else:
        np.testing.assert_allclose(got[bm], want[bm], rtol=2e-6, atol=1e-6 * max(1.0, np.abs(want[bm]).max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_each_op_matches_numpy(dtype: str) -> None:
    r = real_raster(dtype)
    x = r.data.astype(np.float64)
    lo, hi = span(r)
    rng = np.random.default_rng(0)
    bm = r.band_mask
    means = np.array([x[i][bm[i]].mean() for i in range(r.count)])[:, None, None]

    close(geoaug.Brightness(0.05)(r, rng).data, expected(r, x + 0.05 * (hi - lo)), r)
    close(geoaug.Brightness(-0.5)(r, rng).data, expected(r, x - 0.5 * (hi - lo)), r)  # saturates
    close(geoaug.Contrast(1.3)(r, rng).data, expected(r, means + 1.3 * (x - means)), r)
    close(geoaug.Gamma(0.7)(r, rng).data, expected(r, lo + (np.maximum(x - lo, 0) / (hi - lo)) ** 0.7 * (hi - lo)), r)
    close(geoaug.BandGain(1.2)(r, rng).data, expected(r, x * 1.2), r)
    valid = x[bm]
    shift = 0.03 * (valid.max() - valid.min())
    close(geoaug.ChannelShift(shift)(r, rng).data, expected(r, np.clip(x + shift, valid.min(), valid.max())), r)
    t = geoaug.GaussianNoise(0.01)
    p = t.sample(np.random.default_rng(1), r)
    work = np.float64 if dtype in ("float64", "int32") else np.float32
    noise = np.stack([gaussian_noise(p["seed"], r.shape[1:], offset=b * r.height * r.width, dtype=work)
                      for b in range(r.count)])
    close(t.apply(r, p).data, expected(r, x + noise * 0.01 * (hi - lo)), r)
    # float32 outputs
    m = [float(v) for v in means.ravel()]
    s = [float(x[i][bm[i]].std()) + 1 for i in range(r.count)]
    out = geoaug.Normalize(m, s)(r, rng)
    assert out.dtype == np.float32
    ref = (x - np.array(m)[:, None, None]) / np.array(s)[:, None, None]
    np.testing.assert_allclose(out.data[bm], ref[bm], rtol=1e-5, atol=1e-5)
    out = geoaug.PercentileStretch(2, 98)(r, rng)
    for i in range(r.count):
        a, b = np.percentile(x[i][bm[i]], [2, 98])
        want = np.clip((x[i] - a) / (b - a), 0, 1)[bm[i]]
        got = out.data[i][bm[i]]
        ok = (want != 0) | (r.nodata != 0) if r.nodata is not None else np.ones_like(want, bool)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-6)
    out = geoaug.ToFloat()(r, rng)
    np.testing.assert_allclose(out.data[bm], ((x - lo) / (hi - lo))[bm], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_band_dropout_fills(dtype: str) -> None:
    r = real_raster(dtype)
    rng = np.random.default_rng(3)
    if r.count == 1:
        assert geoaug.BandDropout()(r, rng).data is not None  # nothing to drop, unchanged
        r = r.replace(data=np.concatenate([r.data, r.data]), band_names=("a", "b"), band_tags=({}, {}))
    t = geoaug.BandDropout(max_bands=1, fill="nodata")
    p = t.sample(rng, r)
    out = t.apply(r, p)
    (b,) = p["bands"]
    assert out.mask.shape == r.shape and not out.mask[b].any()
    keep = [i for i in range(r.count) if i != b]
    np.testing.assert_array_equal(out.mask[keep], r.band_mask[keep])
    np.testing.assert_array_equal(out.data[keep], r.data[keep])
    z = geoaug.BandDropout(fill="zero").apply(r, p)
    want = r.data.astype(np.float64)
    want[b] = 0
    close(z.data, expected(r, want), r)
    mean = geoaug.BandDropout(fill="mean").apply(r, p)
    want[b] = r.data[b][r.band_mask[b]].astype(np.float64).mean()
    close(mean.data, expected(r, want), r)


def test_saturation_not_wraparound() -> None:
    r = GeoRaster.from_array(np.array([[[65535, 65000, 0, 10]]], dtype=np.uint16), nodata=0)
    assert r.mask.tolist() == [[True, True, False, True]]
    out = geoaug.Brightness(0.01)(r)
    assert out.data.tolist() == [[[65535, 65535, 0, 665]]]
    out = geoaug.Brightness(-0.5)(r)
    # clipped to 0 = nodata: moved to 1, still valid; the invalid pixel stays 0
    # 65535 - 32767.5 and 65000 - 32767.5 round half to even
    assert out.data.tolist() == [[[32768, 32232, 0, 1]]] and out.mask.tolist() == r.mask.tolist()
    i8 = GeoRaster.from_array(np.array([[[250, 5]]], dtype=np.uint8))
    assert geoaug.BandGain(2.0)(i8).data.tolist() == [[[255, 10]]]


def _pca_reference(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """AlexNet: eigen-decompose the covariance of the pixels (bands, n), add sum_i alpha_i lambda_i v_i."""
    cov = np.cov(x, bias=True)
    lam, vecs = np.linalg.eigh(cov)
    return vecs @ (alpha * lam)


def test_pca_jitter_alexnet_formula_on_3_bands() -> None:
    r = geoaug.read(BY_DTYPE["uint8"], window=((120, 220), (120, 220)))
    t = geoaug.PCAJitter(std=0.1)
    p = t.sample(np.random.default_rng(7), r)
    out = t.apply(r, p)
    delta = _pca_reference(r.data[:, r.pixel_mask] / 255.0, np.array(p["alpha"])) * 255
    close(out.data, expected(r, r.data + delta[:, None, None]), r)
    same = geoaug.PCAJitter(std=0.0)(r, np.random.default_rng(1))
    np.testing.assert_array_equal(same.data, r.data)


def test_pca_jitter_13_bands_stays_in_eigen_span() -> None:
    rng = np.random.default_rng(0)
    sources = rng.random((3, 40 * 40))
    mixing = rng.random((13, 3))
    data = (mixing @ sources).reshape(13, 40, 40) / 3
    r = GeoRaster.from_array(data)
    t = geoaug.PCAJitter(std=0.5)
    p = t.sample(rng, r)
    out = t.apply(r, p)
    delta = (out.data - r.data)[:, 0, 0]
    np.testing.assert_allclose(out.data - r.data, np.broadcast_to(delta[:, None, None], r.shape), atol=1e-12)
    lam, vecs = t.eigen(r)
    top = vecs[:, -3:]
    residual = delta - top @ (top.T @ delta)
    assert np.linalg.norm(delta) > 1e-4
    assert np.linalg.norm(residual) < 1e-9 * np.linalg.norm(delta) + 1e-12
    assert lam[:-3].max() < 1e-12


def test_pca_jitter_and_normalize_accept_a_stats_file(tmp_path) -> None:
    path = TILES / "landsat8_sr_7band_uint16_collar.tif"
    out = tmp_path / "stats.json"
    res = CliRunner().invoke(cli, ["stats", str(path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    st = geoaug.load_stats(out)
    r = geoaug.read(path)
    p = {"applied": True, "alpha": [0.1, -0.2, 0.05, 0.0, 0.3, -0.1, 0.2]}
    a = geoaug.PCAJitter(stats=out).apply(r, p)
    b = geoaug.PCAJitter().apply(r, p)  # the same pixels: the same covariance
    assert np.abs(a.data.astype(int) - b.data.astype(int)).max() <= 1
    n = geoaug.Normalize(stats=str(out))(r)
    v = n.data[:, r.pixel_mask]
    np.testing.assert_allclose(v.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(v.std(axis=1), 1, atol=1e-4)
    assert st.band_names[0] == "SR_B1"


def test_streaming_stats_equal_numpy(tmp_path) -> None:
    base = geoaug.read(TILES / "landsat8_sr_7band_uint16_collar.tif")
    second = geoaug.Brightness(0.02)(geoaug.HorizontalFlip(p=1)(base))
    third = geoaug.RandomCrop(100, 120)(base, np.random.default_rng(0))
    files = [geoaug.write(x, tmp_path / f"t{i}.tif") for i, x in enumerate((base, second, third))]
    st = geoaug.stats(files, percentiles=(2, 50, 98))
    rs = [geoaug.read(f) for f in files]
    per_band = [np.concatenate([x.data[i][x.band_mask[i]] for x in rs]).astype(np.float64) for i in range(7)]
    for i, v in enumerate(per_band):
        assert st.count[i] == v.size
        assert st.mean[i] == pytest.approx(v.mean(), rel=1e-12)
        assert st.std[i] == pytest.approx(v.std(), rel=1e-10)
        assert (st.min[i], st.max[i]) == (v.min(), v.max())
        for q in (2, 50, 98):
            assert st.percentiles[q][i] == pytest.approx(np.percentile(v, q), abs=1e-9)
    px = np.concatenate([x.data[:, x.pixel_mask] for x in rs], axis=1).astype(np.float64)
    np.testing.assert_allclose(st.covariance, np.cov(px, bias=True), rtol=1e-9)
    # JSON round trip
    back = geoaug.BandStats.from_dict(json.loads(json.dumps(st.to_dict())))
    np.testing.assert_array_equal(back.covariance, st.covariance)


def test_float_stats_percentiles_are_close(tmp_path) -> None:
    f = BY_DTYPE["float32"]
    st = geoaug.stats([f], percentiles=(2, 98))
    r = geoaug.read(f)
    v = r.data[0][r.mask].astype(np.float64)
    step = (v.max() - v.min()) / 65536
    for q in (2, 98):
        assert abs(st.percentiles[q][0] - np.percentile(v, q)) <= 2 * step
    assert st.mean[0] == pytest.approx(v.mean())


def test_bad_spectral_parameters(tmp_path) -> None:
    with pytest.raises(geoaug.ParameterError, match="Gamma.gamma"):
        geoaug.Gamma(0)
    with pytest.raises(geoaug.ParameterError, match="low 0.3 > high 0.1"):
        geoaug.Brightness((0.3, 0.1))
    with pytest.raises(geoaug.ParameterError, match="fill"):
        geoaug.BandDropout(fill="noise")
    with pytest.raises(geoaug.ParameterError, match="mean and std"):
        geoaug.Normalize()
    with pytest.raises(geoaug.ParameterError, match="missing.json"):
        geoaug.PCAJitter(stats=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(geoaug.ParameterError, match="bad.json"):
        geoaug.Normalize(stats=bad)


def test_every_spectral_transform_is_covered() -> None:
    spectral = {n for n, c in REGISTRY.items() if issubclass(c, SpectralTransform)}
    assert spectral == {"Brightness", "Contrast", "Gamma", "BandGain", "ChannelShift", "GaussianNoise",
                        "BandDropout", "PCAJitter", "Normalize", "PercentileStretch", "ToFloat",
                        "Haze", "Illumination", "CloudShadow"}  # the sensor-aware ones: tests/test_sensor.py


def test_noise_kernel_is_standard_normal_and_order_free() -> None:
    from scipy import stats as sps

    a = gaussian_noise(11, (600, 501))
    assert abs(a.mean()) < 0.01 and abs(a.std() - 1) < 0.01
    assert sps.kstest(a.ravel()[::3], "norm").pvalue > 0.001
    assert abs(np.corrcoef(a.ravel()[:-1], a.ravel()[1:])[0, 1]) < 0.01  # neighbours (pair members) independent
    rows = np.concatenate([gaussian_noise(11, (1, 501), offset=i * 501) for i in range(600)])
    np.testing.assert_array_equal(rows, a)  # any split of the stream gives the same numbers
    assert not np.array_equal(a, gaussian_noise(12, (600, 501)))


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32", "int32", "float64"])
@pytest.mark.parametrize(("mean", "std"), [(10000.123456, 0.37), (9999.987, 3.3e-3), (1234.5678, 512.25), (0.0, 1.0)])
def test_normalize_is_within_one_float32_ulp_of_float64(dtype: str, mean: float, std: float) -> None:
    # float32 arithmetic with the mean split in two: no cancellation where x is near a mean float32 cannot hold
    # (the plain float32 expression is off by ~4e5 ulps in the second case)
    x = (10000 + np.arange(-300, 300).reshape(1, 20, 30)).astype(dtype)
    out = geoaug.Normalize(mean, std)(x)
    assert out.dtype == np.float32
    ref = ((x.astype(np.float64) - mean) / std).astype(np.float32)
    ulps = np.abs(out.astype(np.float64) - ref) / np.spacing(np.abs(ref))
    assert ulps.max() <= 1.0


def test_normalize_follows_mean_and_std_changed_after_a_call() -> None:
    """Normalize keeps its coefficients between calls; a mean or std changed afterwards (reassigned, or a list
    edited in place) is what the next call uses, for every band count and dtype it has seen."""
    x = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) * 100
    t = geoaug.Normalize(mean=[100.0, 200.0], std=[10.0, 20.0])
    first = t(x)
    np.testing.assert_allclose(first[1], (x[1] - 200.0) / 20.0, rtol=1e-6)
    t.mean[1] = 500.0  # in place
    np.testing.assert_allclose(t(x)[1], (x[1] - 500.0) / 20.0, rtol=1e-6)
    t.std = 4.0  # reassigned, one value for every band
    np.testing.assert_allclose(t(x)[0], (x[0] - 100.0) / 4.0, rtol=1e-6)
    np.testing.assert_allclose(t(x.astype(np.float32))[1], (x[1] - 500.0) / 4.0, rtol=1e-6)
    t.mean = np.array([50.0, 60.0])  # arrays too, reassigned and then edited in place
    np.testing.assert_allclose(t(x)[1], (x[1] - 60.0) / 4.0, rtol=1e-6)
    t.mean[1] = 70.0
    np.testing.assert_allclose(t(x)[1], (x[1] - 70.0) / 4.0, rtol=1e-6)
    t.mean = [50.0, 80.0]
    np.testing.assert_allclose(t(x)[1], (x[1] - 80.0) / 4.0, rtol=1e-6)
    t3 = geoaug.Normalize(mean=7.0, std=2.0)
    for bands in (1, 3, 13):
        y = np.full((bands, 2, 2), 11, dtype=np.int16)
        assert t3(y).shape == (bands, 2, 2) and np.all(t3(y) == 2.0)


def test_pca_jitter_of_one_band_is_what_eigh_gives() -> None:
    # one band skips LAPACK: its eigenvalue is the variance, its eigenvector 1, bit for bit eigh's answer
    from geoaug.transforms.spectral import _pca

    for c in (0.3, 1e-300, 0.0, -1e-18, 12345.678, np.nextafter(1.0, 2.0)):
        cov = np.array([[c]])
        vals, vecs = _pca(cov)
        ref_vals, ref_vecs = np.linalg.eigh(cov)
        assert vals.tobytes() == np.clip(ref_vals, 0, None).tobytes()
        assert vecs.tobytes() == ref_vecs.tobytes()
    r = GeoRaster.from_array(np.random.default_rng(3).random((1, 30, 30)).astype(np.float32))
    t = geoaug.PCAJitter(std=0.5)
    p = t.sample(np.random.default_rng(4), r)
    delta = float(t.prepare(r, p)[0])
    var = float(np.var(r.data.astype(np.float64)))
    assert delta == pytest.approx(p["alpha"][0] * var, rel=1e-9)
