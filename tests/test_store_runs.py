"""store_affine: the flat path, the masked path and the pixel-by-pixel path follow one rule, in place too."""

from __future__ import annotations

import numpy as np
import pytest

from geoaug.kernels import store
from geoaug.kernels.store import same_memory, store_affine, store_bands


def _reference(x, a, s, c, valid, out_dtype, nodata, safe, divide, nan_zero, clip):
    """The rule, in numpy float64 per pixel: valid pixels get the result (NaN: x, or 0 with nan_zero), rounded and
    saturated for integers, clipped for floats with clip, moved off nodata; invalid pixels keep x."""
    out_dtype = np.dtype(out_dtype)
    work = a.dtype.type
    res = np.empty(x.shape, dtype=out_dtype)
    for b in range(x.shape[0]):
        xv = x[b].astype(work)
        with np.errstate(all="ignore"):
            v = (xv - a[b]) / s[b] + c[b] if divide else (xv - a[b]) * s[b] + c[b]
        nan = np.isnan(v)
        if out_dtype.kind in "iu":
            info = np.iinfo(out_dtype)
            v = np.clip(np.rint(v), info.min, info.max)
        elif clip:
            info = np.finfo(out_dtype)
            v = np.clip(v, max(info.min, np.finfo(work).min), min(info.max, np.finfo(work).max))
        # every pixel valid and no nodata (the flat path): a rounded or clipped NaN result keeps x, as a float
        # raster whose mask is still its NaNs needs; otherwise nan_zero makes it 0
        flat = valid is None and nodata is None
        v = np.where(nan, 0 if nan_zero and not (flat and (out_dtype.kind in "iu" or clip)) else xv, v)
        with np.errstate(all="ignore"):
            stored = v.astype(out_dtype)
        if nodata is not None:
            stored = np.where(~nan & (stored == out_dtype.type(nodata)), out_dtype.type(safe), stored)
        vb = np.ones(x.shape[1:], bool) if valid is None else (valid[b] if valid.ndim == 3 and valid.shape[0] > 1
                                                              else valid.reshape(x.shape[1:]))
        with np.errstate(all="ignore"):
            res[b] = np.where(vb, stored, x[b].astype(out_dtype))
    return res


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
@pytest.mark.parametrize("mask", ["none", "all", "collar", "speckle", "per_band"])
@pytest.mark.parametrize("nan_zero", [False, True])
@pytest.mark.parametrize("divide", [False, True])
@pytest.mark.parametrize("nodata", [None, 3.0])
def test_every_path_follows_the_rule(dtype: str, mask: str, nan_zero: bool, divide: bool, nodata) -> None:
    rng = np.random.default_rng(4)
    shape = (3, 9, 70)
    if dtype == "float32":
        x = rng.normal(20, 10, shape).astype(dtype)
        x[rng.random(shape) < 0.1] = np.nan
    else:
        x = rng.integers(0, 60, shape).astype(dtype)
    a = rng.normal(5, 2, 3).astype(np.float32)
    s = np.array([1.0, 0.5, 3.0], np.float32)
    c = rng.normal(0, 3, 3).astype(np.float32)
    valid = {"none": None, "all": np.ones(shape[1:], bool), "speckle": rng.random(shape[1:]) > 0.4,
             "per_band": rng.random(shape) > 0.3}.get(mask)
    if mask == "collar":
        valid = np.zeros(shape[1:], bool)
        valid[2:7, 8:60] = True  # rows of one valid run, and rows with none
    out = np.zeros(shape, dtype)
    store_affine(x, a, s, c, valid, out, nodata, 40.0, divide=divide, nan_zero=nan_zero)
    ref = _reference(x, a, s, c, valid, dtype, nodata, 40.0, divide, nan_zero, True)
    np.testing.assert_array_equal(out, ref)
    # in place (x is out: the kernels' one-array entries), and through another view of the same memory
    for same in (lambda y: y, lambda y: y.reshape(-1).reshape(shape)):
        y = x.copy()
        store_affine(y, a, s, c, valid, same(y), nodata, 40.0, divide=divide, nan_zero=nan_zero)
        np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
@pytest.mark.parametrize("mask", ["none", "plane", "per_band"])
@pytest.mark.parametrize("nodata", [None, 0.0])
def test_store_bands_in_place_equals_into_a_new_array(dtype: str, mask: str, nodata) -> None:
    rng = np.random.default_rng(1)
    shape = (4, 11, 37)
    old = rng.integers(0, 600, shape).astype(dtype)
    new = old.astype(np.float32) * 1.7 - 300
    new[1, 3, 4] = np.nan
    valid = {"none": None, "plane": rng.random(shape[1:]) > 0.2, "per_band": rng.random(shape) > 0.2}[mask]
    apart = np.empty_like(old)
    store_bands(new, old, valid, apart, nodata, 1.0)
    inplace = old.copy()
    store_bands(new, inplace[:], valid, inplace, nodata, 1.0)  # another view object of the same pixels
    np.testing.assert_array_equal(inplace, apart)


def test_same_memory_means_the_same_pixels_not_an_overlap() -> None:
    a = np.zeros((3, 4, 5), np.uint16)
    assert same_memory(a, a) and same_memory(a, a[:]) and same_memory(a.reshape(-1), a.reshape(-1))
    assert not same_memory(a, a.copy())
    assert not same_memory(a[1:], a[:-1])  # overlapping, shifted
    assert not same_memory(a.view(np.int16), a)  # another dtype
    assert not same_memory(a[:, :, ::-1], a)  # not C-contiguous


@pytest.mark.parametrize("mask", ["none", "collar"])
def test_parallel_in_place_entries_equal_into_a_new_array(mask: str) -> None:
    # above SERIAL_BELOW values: the parallel entries (on one thread too, when numba has only one)
    rng = np.random.default_rng(2)
    shape = (2, 300, 500)
    x = rng.integers(0, 60000, shape).astype(np.uint16)
    valid = None
    if mask == "collar":
        valid = np.zeros(shape[1:], bool)
        valid[20:-20, 30:-30] = True
    a = np.array([100.0, 5.0], np.float32)
    s = np.array([1.5, 0.5], np.float32)
    c = np.array([7.0, -3.0], np.float32)
    apart = np.empty_like(x)
    store_affine(x, a, s, c, valid, apart, None, 0.0)
    y = x.copy()
    store_affine(y, a, s, c, valid, y, None, 0.0)
    np.testing.assert_array_equal(y, apart)
    new = x.astype(np.float32) * 0.9 + 11
    apart2 = np.empty_like(x)
    store_bands(new, x, valid, apart2, None, 0.0)
    z = x.copy()
    store_bands(new, z, valid, z, None, 0.0)
    np.testing.assert_array_equal(z, apart2)


@pytest.mark.parametrize("kind", ["bands", "masked", "affine"])
@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_parallel_stores_equal_serial(monkeypatch: pytest.MonkeyPatch, kind: str, in_place: bool,
                                      masked: bool) -> None:
    # the three store loops (store_bands; store_affine's branch-free loop, taken by integers; its per-pixel
    # loop, taken by floats with a nodata value), into a new array and in place: each parallel entry runs its
    # serial twin on shares of the units, and must call the very overload the serial path compiled
    rng = np.random.default_rng(11)
    dt = np.float32 if kind == "affine" else np.uint16
    x = rng.integers(0, 3000, (3, 21, 37)).astype(dt)
    if kind == "affine":
        x[0, 1, :5] = np.nan
    valid = rng.random((3, 21, 37)) > 0.2 if masked else None
    a, s, c = np.linspace(10, 30, 3, dtype=np.float32), np.linspace(0.5, 2, 3, dtype=np.float32), \
        np.full(3, 7.0, np.float32)
    nodata = None if kind == "bands" else 37.0

    def run() -> np.ndarray:
        out = x.copy() if in_place else np.full_like(x, 5)
        if kind == "bands":
            store.store_bands(x.astype(np.float32) * 1.7 - 40, x, valid, out, nodata, 0)
        else:
            store.store_affine(out if in_place else x, a, s, c, valid, out, nodata, 38.0)
        return out

    kernels = [store._store_ser, store._store_ser_ip, store._masked_ser, store._masked_ser_ip, store._affine_ser,
               store._affine_ser_ip]
    serial = run()
    before = [set(k.overloads) for k in kernels]
    monkeypatch.setattr(store, "SERIAL_BELOW", 0)
    monkeypatch.setattr(store.threads, "num_threads", lambda: 2)
    parallel = run()
    np.testing.assert_array_equal(serial, parallel)
    assert [set(k.overloads) for k in kernels] == before  # no second overload of a serial twin


def test_production_thresholds_parallel_equals_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # the suite runs with higher thresholds (conftest.SUITE_THRESHOLDS); here the kernels' own values, at 2
    # threads: the README pipeline on 13 x 64² uint16 takes the parallel warp and stores, and gives what one
    # thread gives, byte for byte
    import numba
    from conftest import PRODUCTION_THRESHOLDS

    import geoaug
    from geoaug import kernels

    assert len(PRODUCTION_THRESHOLDS) == 6 and kernels.warp.PARALLEL_MIN_WORK > PRODUCTION_THRESHOLDS[
        ("warp", "PARALLEL_MIN_WORK")] and 13 * 64 * 64 * 4 >= PRODUCTION_THRESHOLDS[("warp", "PARALLEL_MIN_WORK")]
    for (name, attr), value in PRODUCTION_THRESHOLDS.items():
        monkeypatch.setattr(getattr(kernels, name), attr, value)
    rng = np.random.default_rng(5)
    x = rng.integers(0, 10000, (13, 64, 64)).astype(np.uint16)
    pipe = geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Rot90(), geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
                           geoaug.Brightness((-0.01, 0.01), value_range=(0, 10000)),
                           geoaug.PCAJitter(std=0.1, value_range=(0, 10000))])
    before = numba.get_num_threads()
    try:
        outs = {}
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            outs[n] = [pipe(x, rng=seed).tobytes() for seed in range(4)]
    finally:
        numba.set_num_threads(before)
    assert len(outs) == 1 or outs[1] == outs[2]
