"""band_moments: numpy.cov's answer over the pixels valid in every band, without its copies."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import count_launches

from geoaug.bandstats import band_moments
from geoaug.kernels import moments as moments_kernel


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 7, 9), (2, 8, 9), (3, 9, 8), (4, 64, 70), (6, 12, 11), (7, 10, 13),
                                   (13, 33, 31), (40, 9, 11)])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_cov_of_the_valid_pixels(monkeypatch: pytest.MonkeyPatch, dtype: str, shape: tuple,
                                               masked: bool) -> None:
    monkeypatch.setattr(moments_kernel, "CHUNK", 97)  # several chunks, the last one short
    rng = np.random.default_rng(3)
    a = (rng.normal(100, 30, shape) if dtype[0] == "f" else rng.integers(0, 250, shape)).astype(dtype)
    valid = rng.random(shape[1:]) > 0.3 if masked else None
    if masked and dtype[0] == "f":
        a[:, ~valid] = np.nan  # never read: invalid values do not reach the sums
    n, mean, m2 = band_moments(a, valid)
    x = a.reshape(shape[0], -1)[:, valid.reshape(-1)] if masked else a.reshape(shape[0], -1)
    x = x.astype(np.float64)
    assert n == x.shape[1]
    np.testing.assert_allclose(mean, x.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(m2 / n, np.atleast_2d(np.cov(x, bias=True)), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("masked", [False, True])
def test_many_bands_take_short_chunks_and_still_match_numpy_cov(masked: bool) -> None:
    """The second pass's scratch rows fit a core's cache: with 200 bands a chunk is a few hundred pixels, so
    a 30 x 31 raster takes several chunks, each through the 4 x 4 tiles of band pairs and the last short."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 10000, (203, 30, 31)).astype(np.uint16)  # 50 whole tiles and 3 bands past them
    rows = -(-203 // moments_kernel._TILE) * moments_kernel._TILE
    assert moments_kernel.SCRATCH_BYTES // (8 * rows) < 30 * 31  # more than one chunk
    valid = rng.random((30, 31)) > 0.25 if masked else None
    n, mean, m2 = band_moments(a, valid)
    x = (a.reshape(203, -1)[:, valid.reshape(-1)] if masked else a.reshape(203, -1)).astype(np.float64)
    assert n == x.shape[1]
    np.testing.assert_allclose(mean, x.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(m2 / n, np.cov(x, bias=True), rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(m2, m2.T)


def test_an_all_true_mask_and_none_agree_and_no_valid_pixel_gives_nan_means() -> None:
    a = np.arange(2 * 5 * 6, dtype=np.uint16).reshape(2, 5, 6)
    full = band_moments(a, np.ones((5, 6), bool))
    none = band_moments(a)
    bcast = band_moments(a, np.broadcast_to(np.True_, (5, 6)))
    for other in (none, bcast):
        assert full[0] == other[0] == 30
        np.testing.assert_array_equal(full[1], other[1])
        np.testing.assert_array_equal(full[2], other[2])
    n, mean, m2 = band_moments(a, np.zeros((5, 6), bool))
    assert n == 0 and np.isnan(mean).all() and not m2.any()


def test_pca_jitter_covariance_is_unchanged_by_scaling_first() -> None:
    # PCAJitter: cov((x - lo) / span) = cov(x) / span², as band_moments gives it
    import geoaug

    rng = np.random.default_rng(1)
    a = rng.integers(0, 10000, (5, 40, 40)).astype(np.uint16)
    mask = rng.random((1, 40, 40)) > 0.2
    r = geoaug.GeoRaster.from_array(a, mask=mask[0])
    t = geoaug.PCAJitter(std=0.1, value_range=(0, 10000))
    vals, vecs = t.eigen(r)
    x = (a[:, mask[0]].astype(np.float64) - 0) / 10000
    ref_vals, ref_vecs = np.linalg.eigh(np.cov(x, bias=True))
    np.testing.assert_allclose(vals, np.clip(ref_vals, 0, None), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(np.abs(vecs.T @ ref_vecs), np.eye(5), atol=1e-6)  # same axes (up to sign)


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
@pytest.mark.parametrize("mask", ["none", "broadcast", "collar"])
def test_one_band_two_passes_match_numpy_var(dtype: str, mask: str) -> None:
    """One band takes the two-pass kernel (kernels/moments.py): numpy's float64 mean and variance, a mask
    given as a broadcast of True counting as no mask."""
    rng = np.random.default_rng(5)
    a = (rng.normal(9000, 700, (1, 300, 257))).astype(dtype)  # a large mean over a small spread
    valid = {"none": None, "broadcast": np.broadcast_to(np.True_, a.shape[1:]),
             "collar": np.pad(np.ones((260, 217), bool), 20)}[mask]
    if mask == "collar" and dtype == "float32":
        a[0, ~valid] = np.nan
    n, mean, m2 = band_moments(a, valid)
    x = a[0][valid].astype(np.float64) if mask == "collar" else a[0].astype(np.float64).ravel()
    assert n == x.size and mean.shape == (1,) and m2.shape == (1, 1)
    np.testing.assert_allclose(mean[0], x.mean(), rtol=1e-13)
    np.testing.assert_allclose(m2[0, 0] / n, x.var(), rtol=1e-11)


@pytest.mark.parametrize("bands", [1, 4])
def test_a_full_mask_gives_the_bits_of_no_mask_on_float_data(bands: int) -> None:
    """A mask with every pixel valid takes the loops without a mask: the same sums, bit for bit (float32 data
    whose float64 sums depend on their order, so a differently vectorised loop would show)."""
    a = np.random.default_rng(bands).normal(1000.0, 300.0, (bands, 512, 512)).astype(np.float32)
    full = band_moments(a, np.ones((512, 512), bool))
    none = band_moments(a)
    assert full[0] == none[0] == 512 * 512
    np.testing.assert_array_equal(full[1], none[1])
    np.testing.assert_array_equal(full[2], none[2])


@pytest.mark.parametrize("valid", [None, "full", "broadcast"])
def test_an_empty_raster_has_no_moments(valid) -> None:
    a = np.zeros((3, 0, 5), np.uint16)
    v = None if valid is None else (np.ones((0, 5), bool) if valid == "full" else np.broadcast_to(np.True_, (0, 5)))
    n, mean, m2 = band_moments(a, v)
    assert n == 0 and np.isnan(mean).all() and mean.shape == (3,) and not m2.any() and m2.shape == (3, 3)


def _numpy_means(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """What band_means computed before: each band's valid values copied to float64, numpy's mean."""
    out = np.full(data.shape[0], np.nan)
    for b in range(data.shape[0]):
        m = np.ones(data.shape[1:], bool) if mask is None else (mask if mask.ndim == 2 else mask[b])
        v = data[b][m]
        if v.size:
            out[b] = v.astype(np.float64).mean()
    return out


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("mask", ["none", "shared", "per band", "empty band", "all invalid"])
def test_band_means_match_numpy(dtype: str, mask: str) -> None:
    """One compiled pass (kernels.moments.band_sums) gives numpy's per-band means: the same bits for integer
    bands (exact float64 sums at these sizes), within 1e-14 for float bands (their means are far from 0);
    NaN under invalid pixels never counts."""
    import geoaug
    from geoaug.transforms.spectral import band_means

    rng = np.random.default_rng(5)
    data = (rng.random((4, 37, 53)) * 30000 - (10000 if dtype[0] in "if" else 0)).astype(dtype)
    m = {"none": None, "shared": rng.random((37, 53)) < 0.6, "per band": rng.random((4, 37, 53)) < 0.5,
         "all invalid": np.zeros((37, 53), bool)}.get(mask)
    if mask == "empty band":
        m = rng.random((4, 37, 53)) < 0.5
        m[2] = False
    if dtype.startswith("float") and m is not None:
        data[~np.broadcast_to(m, data.shape)] = np.nan  # NaN under invalid pixels must not reach a sum
    r = geoaug.GeoRaster.from_array(data, mask=m) if m is not None else geoaug.GeoRaster.from_array(data)
    got, want = band_means(r), _numpy_means(data, m)
    if dtype[0] in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-14)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = None if m is None else (m.reshape(1, -1) if m.ndim == 2 else m.reshape(4, -1))
    n, _ = moments_kernel.band_sums(data.reshape(4, -1), valid)
    counts = [data[0].size] * 4 if m is None else [int((m if m.ndim == 2 else m[b]).sum()) for b in range(4)]
    assert n.tolist() == counts


def test_channel_shift_on_an_all_valid_raster_takes_the_global_extremes() -> None:
    """ChannelShift's range: with every pixel valid, the data's own min and max (two passes, no copies); a NaN
    marked valid falls back to the band loop, which skips it as before."""
    import geoaug
    from geoaug.raster import all_valid_mask, is_all_valid_mask

    rng = np.random.default_rng(6)
    data = rng.integers(100, 9000, (3, 20, 30)).astype(np.uint16)
    t = geoaug.ChannelShift(250.0)
    r = geoaug.GeoRaster.from_array(data)
    lo, hi, _ = t.prepare(r, t.sample_params(rng, r))
    assert (lo, hi) == (float(data.min()), float(data.max()))
    f = data.astype(np.float32)
    f[1, 2, 3] = np.nan
    rf = geoaug.GeoRaster.from_array(f, mask=all_valid_mask((20, 30)))  # a NaN marked valid
    assert is_all_valid_mask(rf.mask)
    lo, hi, _ = t.prepare(rf, t.sample_params(rng, rf))
    others = data[[0, 2]]  # the band loop skips the band whose extremes are NaN
    assert (lo, hi) == (float(others.min()), float(others.max()))


def test_band_sums_count_truthy_mask_bytes_and_refuse_other_shapes() -> None:
    """A bool mask whose bytes are 0/255 (a rasterio mask viewed as bool) counts its 255s as one each, as
    numpy's boolean indexing does; a mask of another plane count or length is refused by name."""
    from geoaug.errors import ParameterError

    x = np.array([[10.0, 20.0, 30.0]])
    n, sums = moments_kernel.band_sums(x, np.array([[255, 0, 1]], np.uint8).view(bool))
    assert n.tolist() == [2] and sums.tolist() == [40.0]
    with pytest.raises(ParameterError, match="valid must be"):
        moments_kernel.band_sums(np.ones((2, 12)), np.ones((3, 12), bool))
    with pytest.raises(ParameterError, match="valid must be"):
        moments_kernel.band_sums(np.ones((2, 12)), np.ones((1, 11), bool))
    with pytest.raises(ParameterError, match="valid must be"):
        moments_kernel.band_sums(np.ones((2, 12)), np.ones(12, bool))


def test_band_means_of_views_empty_rasters_and_nan_at_valid_pixels() -> None:
    import geoaug
    from geoaug.transforms.spectral import band_means

    rng = np.random.default_rng(7)
    big = rng.integers(0, 5000, (3, 40, 50)).astype(np.uint16)
    view = big[:, 5:30:2, ::3]  # not C-contiguous
    np.testing.assert_array_equal(band_means(geoaug.GeoRaster.from_array(view)), _numpy_means(view, None))
    empty = geoaug.GeoRaster.from_array(np.zeros((2, 0, 5), np.uint16))
    assert np.isnan(band_means(empty)).all()
    f = rng.random((2, 6, 7)).astype(np.float32)
    f[1, 2, 2] = np.nan
    r = geoaug.GeoRaster.from_array(f, mask=np.ones((6, 7), bool))  # the NaN marked valid
    got = band_means(r)
    assert np.isnan(got[1]) and got[0] == _numpy_means(f, np.ones((6, 7), bool))[0]


@pytest.mark.parametrize("bands", [2, 5, 13])
@pytest.mark.parametrize("masked", [False, True])
def test_groups_give_the_same_bits_at_any_thread_count(monkeypatch: pytest.MonkeyPatch, bands: int,
                                                       masked: bool) -> None:
    """The second pass sums each group of ``GROUP_CHUNKS`` chunks on its own and adds the groups in order: on one
    thread, two, and five (more units than the machine's threads: they wait for one) the bits are the same, and
    numpy's cov."""
    monkeypatch.setattr(moments_kernel, "CHUNK", 97)  # groups of 776 pixels: 12 of them, the last one short
    rng = np.random.default_rng(bands)
    a = rng.integers(0, 60000, (bands, 90, 101)).astype(np.uint16)
    valid = rng.random((90, 101)) > 0.2 if masked else None
    launches = count_launches(monkeypatch, moments_kernel, "_cross_par")  # its groups
    got = []
    for n in (1, 2, 5):
        monkeypatch.setattr(moments_kernel.threads, "num_threads", lambda n=n: n)
        got.append(band_moments(a, valid))
    assert launches == [12, 12]  # the parallel entry at 2 and 5 threads, not at 1
    for n, mean, m2 in got[1:]:
        assert n == got[0][0]
        np.testing.assert_array_equal(mean, got[0][1])
        np.testing.assert_array_equal(m2, got[0][2])
    x = a.reshape(bands, -1)[:, valid.reshape(-1)] if masked else a.reshape(bands, -1)
    np.testing.assert_allclose(got[0][2] / got[0][0], np.cov(x.astype(np.float64), bias=True), rtol=1e-10)


def test_groups_from_threads_at_once_give_the_serial_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two Python threads take the parallel entry at the same time (each launch in its own thread's scratch rows,
    numba's thread ids within each region): every call gives the one-thread bits."""
    import concurrent.futures as cf

    monkeypatch.setattr(moments_kernel, "CHUNK", 97)  # 12 groups: the parallel entry
    rng = np.random.default_rng(7)
    rasters = [rng.integers(0, 60000, (13, 90, 101)).astype(np.uint16) for _ in range(4)]
    valid = rng.random((90, 101)) > 0.2
    monkeypatch.setattr(moments_kernel.threads, "num_threads", lambda: 1)
    serial = [band_moments(a, valid) for a in rasters]
    launches = count_launches(monkeypatch, moments_kernel, "_cross_par")
    monkeypatch.setattr(moments_kernel.threads, "num_threads", lambda: 2)
    with cf.ThreadPoolExecutor(2) as ex:
        got = list(ex.map(lambda i: band_moments(rasters[i % 4], valid), range(32)))
    assert len(launches) == 32
    for i, (n, mean, m2) in enumerate(got):
        assert n == serial[i % 4][0]
        np.testing.assert_array_equal(mean, serial[i % 4][1])
        np.testing.assert_array_equal(m2, serial[i % 4][2])
