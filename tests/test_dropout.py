"""CoarseDropout and GridDropout: holes invalid or filled, labels optionally dropped, real GeoTIFFs, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BY_DTYPE, TILES
from helpers import count_launches
from hypothesis import given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import GeoRaster
from geoaug.errors import ParameterError
from geoaug.transforms.compose import Compose

S2 = TILES / "bigearthnet_s2_12band_uint16.tif"
LABELS = TILES.parent / "labels" / "sentinel2_l2a_12band_int16.tif"
S2_L2A = TILES / "sentinel2_l2a_12band_int16.tif"


def hole_mask(holes: list[list[int]], shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, bool)
    for y, x, h, w in holes:
        m[y:y + h, x:x + w] = True
    return m


def test_coarse_dropout_holes_become_invalid_and_nothing_else_changes() -> None:
    r = geoaug.read(S2_L2A)  # int16, per-band mask, nodata
    t = geoaug.CoarseDropout(num_holes=(2, 4), hole_height=(5, 20), hole_width=(3, 9))
    res = t(r, rng=7, return_params=True)
    holes = res.params["holes"]
    assert 2 <= len(holes) <= 4
    for y, x, h, w in holes:
        assert 5 <= h <= 20 and 3 <= w <= 9 and y + h <= r.height and x + w <= r.width
    hm = hole_mask(holes, (r.height, r.width))
    out = res.image
    assert not out.band_mask[:, hm].any()
    assert (out.data[:, hm] == r.nodata).all()
    assert np.array_equal(out.band_mask[:, ~hm], r.band_mask[:, ~hm])
    assert np.array_equal(out.data[:, ~hm], r.data[:, ~hm])
    assert out.transform == r.transform and out.dtype == r.dtype


@pytest.mark.parametrize("path", sorted(BY_DTYPE.values()), ids=sorted(BY_DTYPE))
def test_numeric_fill_writes_valid_pixels_only(path) -> None:
    r = geoaug.read(path)
    res = geoaug.GridDropout(ratio=0.5, unit_size=10, fill=7)(r, rng=1, return_params=True)
    out = res.image
    hm = hole_mask(geoaug.GridDropout(ratio=0.5, unit_size=10).holes(res.params, (r.height, r.width)),
                   (r.height, r.width))
    v = r.band_mask
    assert np.array_equal(out.mask, r.mask)  # nothing invented: invalid stays invalid
    assert (out.data[v & hm[None]] == 7).all()
    assert np.array_equal(out.data[~(v & hm[None])], r.data[~(v & hm[None])], equal_nan=True)


@pytest.mark.parametrize("dtype,fill,expect", [("uint8", -5, 0), ("uint8", 300.7, 255), ("uint16", 1e9, 65535),
                                               ("int16", -1e9, -32768), ("float32", 1e300, 3.4028235e38),
                                               ("int32", 2.5, 2)])
def test_fill_saturates_to_the_dtype(dtype: str, fill: float, expect: float) -> None:
    x = np.ones((3, 8, 8), dtype)
    out = geoaug.CoarseDropout(num_holes=1, hole_height=8, hole_width=8, fill=fill)(x, rng=0)
    assert out.dtype == np.dtype(dtype) and (out == np.dtype(dtype).type(expect)).all()


@pytest.mark.parametrize("label_fill", [None, "nodata", 255])
def test_labels_dropped_with_the_holes_on_request(label_fill) -> None:
    r, lab = geoaug.read(S2_L2A), geoaug.read(LABELS)
    t = geoaug.CoarseDropout(num_holes=3, hole_height=10, hole_width=10, label_fill=label_fill)
    res = t(r, rng=3, labels=lab, return_params=True)
    hm = hole_mask(res.params["holes"], (r.height, r.width))
    out = res.labels
    if label_fill is None:
        assert np.array_equal(out.data, lab.data) and np.array_equal(out.mask, lab.mask)
    elif label_fill == "nodata":
        assert not out.band_mask[:, hm].any()
        assert np.array_equal(out.data[:, ~hm], lab.data[:, ~hm])
    else:
        assert (out.data[:, hm & lab.pixel_mask] == 255).all()
        assert np.array_equal(out.mask, lab.mask)


def test_label_fill_on_plain_arrays_and_dict_samples() -> None:
    x = np.ones((4, 32, 32), np.float32)
    y = np.zeros((32, 32), np.int64)
    out = geoaug.GridDropout(ratio=0.5, unit_size=8, random_offset=False, fill=0.0, label_fill=-1)(
        image=x, mask=y, rng=0)
    assert out["mask"].dtype == np.int64 and (out["mask"] == -1).sum() == 16 * 16
    assert np.array_equal(out["mask"] == -1, out["image"][0] == 0)


def test_grid_dropout_pattern() -> None:
    t = geoaug.GridDropout(ratio=0.25, unit_size=8, random_offset=True)
    res = t(np.ones((2, 40, 48), np.uint16), rng=4, return_params=True)
    p = res.params
    assert p["unit"] == 8 and p["hole"] == 2 and all(0 <= o < 8 for o in p["offset"])
    rows = ((np.arange(40) - p["offset"][0]) % 8) < 2
    cols = ((np.arange(48) - p["offset"][1]) % 8) < 2
    dropped = rows[:, None] & cols[None, :]
    assert np.array_equal(res.image[0] == 0, dropped)  # no nodata on a plain array: invalid holes hold 0


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(1, 60), st.integers(1, 60), st.floats(0.05, 0.95), st.integers(0, 2**31))
def test_grid_holes_are_clipped_squares_one_per_cell(unit: int, h: int, w: int, ratio: float, seed: int) -> None:
    if unit > min(h, w):
        with pytest.raises(ParameterError, match="unit_size"):
            geoaug.GridDropout(ratio=ratio, unit_size=unit)(np.zeros((1, h, w), np.uint8), rng=seed)
        return
    t = geoaug.GridDropout(ratio=ratio, unit_size=unit)
    r = GeoRaster.from_array(np.zeros((1, h, w), np.uint8))
    p = t.sample(np.random.default_rng(seed), r)
    holes = t.holes(p, (h, w))
    hm = hole_mask(holes, (h, w))
    ref = (((np.arange(h) - p["offset"][0]) % unit) < p["hole"])[:, None] & \
          (((np.arange(w) - p["offset"][1]) % unit) < p["hole"])[None, :]
    assert np.array_equal(hm, ref)
    assert sum(hh * ww for _, _, hh, ww in holes) == hm.sum()  # holes never overlap


def test_written_and_read_back_holes_are_nodata(tmp_path) -> None:
    r = geoaug.read(S2)
    pipe = Compose([geoaug.HorizontalFlip(p=1.0), geoaug.CoarseDropout(num_holes=2, hole_height=16, hole_width=16)])
    res = pipe(r, rng=0, return_record=True)
    geoaug.write(res.image, tmp_path / "drop.tif")
    back = geoaug.read(tmp_path / "drop.tif")
    assert np.array_equal(back.pixel_mask, res.image.pixel_mask) and not back.pixel_mask.all()
    assert back.transform == res.image.transform
    assert np.array_equal(pipe.replay(r, res.params).data, res.image.data)
    again = Compose.from_dict(pipe.to_dict())
    assert np.array_equal(again(r, rng=0).mask, res.image.mask)


def test_albumentations_coarse_dropout_same_holes_same_pixels() -> None:
    """With the same rectangles and a numeric fill, the pixels equal albumentations' CoarseDropout."""
    a = pytest.importorskip("albumentations")
    r = geoaug.read(S2)
    t = geoaug.CoarseDropout(num_holes=3, hole_height=(10, 30), hole_width=(10, 30), fill=0)
    res = t(r, rng=2, return_params=True)
    holes = res.params["holes"]
    x = np.ascontiguousarray(r.data.transpose(1, 2, 0))
    albu_holes = np.array([[x0, y0, x0 + w, y0 + h] for y0, x0, h, w in holes])
    ref = a.augmentations.dropout.functional.cutout(x, albu_holes, 0, np.random.default_rng(0))
    assert np.array_equal(res.image.data, ref.transpose(2, 0, 1))


@pytest.mark.parametrize("make,match", [
    (lambda: geoaug.CoarseDropout(num_holes=-1), "num_holes"),
    (lambda: geoaug.CoarseDropout(hole_height=0), "hole_height"),
    (lambda: geoaug.CoarseDropout(hole_width=(8, 4)), "hole_width"),
    (lambda: geoaug.CoarseDropout(hole_width=2.5), "hole_width"),
    (lambda: geoaug.CoarseDropout(fill="mean"), "fill"),
    (lambda: geoaug.CoarseDropout(fill=float("nan")), "fill"),
    (lambda: geoaug.CoarseDropout(label_fill="x"), "label_fill"),
    (lambda: geoaug.GridDropout(ratio=0.0), "ratio"),
    (lambda: geoaug.GridDropout(ratio=1.0), "ratio"),
    (lambda: geoaug.GridDropout(unit_size=1), "unit_size"),
    (lambda: geoaug.GridDropout(fill=None), "fill"),
])
def test_bad_parameters_fail_at_construction(make, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make()


def test_holes_larger_than_the_image_are_refused_naming_the_parameter() -> None:
    x = np.zeros((2, 20, 30), np.uint8)
    with pytest.raises(ParameterError, match="hole_height"):
        geoaug.CoarseDropout(hole_height=21, hole_width=5)(x, rng=0)
    with pytest.raises(ParameterError, match="hole_width"):
        geoaug.CoarseDropout(hole_height=5, hole_width=(5, 31))(x, rng=0)
    with pytest.raises(ParameterError, match="unit_size"):
        geoaug.GridDropout(unit_size=21)(x, rng=0)


def _holes_by_slices(a: np.ndarray, holes: list, v, valid: np.ndarray | None, keep_nan: bool) -> np.ndarray:
    """What drop_holes did before the one-pass copy: a copy, then each hole written through numpy slices."""
    out = a.copy()
    for y, x, h, w in holes:
        region = out[:, y:y + h, x:x + w]
        keep = np.ones(region.shape, bool)
        if keep_nan:
            keep &= ~np.isnan(region)
        if valid is not None:
            vm = valid if valid.ndim == 3 else valid[None]
            keep &= np.broadcast_to(vm[:, y:y + h, x:x + w], region.shape)
        region[keep] = v
    return out


@pytest.mark.parametrize("dtype", ["bool", "uint8", "uint16", "int16", "float32", "float64"])
@pytest.mark.parametrize("valid", ["none", "plane", "per band"])
@pytest.mark.parametrize("threads", ["serial", "parallel"])
def test_copy_with_holes_is_the_copy_then_each_hole_written(monkeypatch: pytest.MonkeyPatch, dtype: str,
                                                            valid: str, threads: str) -> None:
    """Overlapping holes, holes on the edges, rows without a hole, on one thread and through the parallel entry:
    the bits of a copy written hole by hole through numpy slices, the input unchanged."""
    from geoaug.kernels import holes as holes_kernel

    if threads == "parallel":
        monkeypatch.setattr(holes_kernel, "SERIAL_BELOW", 0)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 20, 33)) > 0 if dtype == "bool" else (rng.normal(size=(3, 20, 33)) * 100).astype(dtype)
    floats = dtype.startswith("float")
    if floats:
        a[1, 2:7, 3:9] = np.nan
    before = a.copy()
    holes = [[0, 0, 4, 5], [3, 4, 10, 21], [19, 32, 1, 1], [2, 2, 5, 5], [0, 28, 20, 5]]
    vm = {"none": None, "plane": rng.random((20, 33)) > 0.3, "per band": rng.random((3, 20, 33)) > 0.3}[valid]
    v = np.dtype(dtype).type(1 if dtype == "bool" else (7 if dtype.startswith("u") else -3))
    for keep_nan in ([False, True] if floats else [False]):
        got = holes_kernel.copy_with_holes(a, holes, v, valid=vm, keep_nan=keep_nan)
        want = _holes_by_slices(a, holes, v, vm, keep_nan)
        assert got.dtype == a.dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
        np.testing.assert_array_equal(a.view(np.uint8), before.view(np.uint8))
    strided = np.ascontiguousarray(np.repeat(a, 2, axis=2))[:, :, ::2]  # not C-contiguous
    np.testing.assert_array_equal(holes_kernel.copy_with_holes(strided, holes, v).view(np.uint8),
                                  _holes_by_slices(a, holes, v, None, False).view(np.uint8))


def test_copy_with_holes_refuses_holes_that_do_not_fit_and_masks_of_another_shape() -> None:
    from geoaug.kernels.holes import copy_with_holes

    a = np.zeros((2, 20, 33), np.float32)
    for bad in ([0, 0, 21, 1], [0, 30, 1, 4], [-1, 0, 2, 2], [0, 0, -1, 3]):
        with pytest.raises(ValueError, match="fit a raster of 20 x 33"):
            copy_with_holes(a, [[0, 0, 4, 5], bad], 0.0)
    with pytest.raises(ValueError, match="valid must be"):
        copy_with_holes(a, [[0, 0, 4, 5]], 0.0, valid=np.ones((3, 20, 33), bool))
    assert copy_with_holes(a, [], 1.0).tobytes() == a.tobytes()


def test_holes_are_shared_among_threads_by_the_values_they_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel entry runs for holes of at least ``SERIAL_BELOW`` values (hole pixels x bands), whatever the
    raster's size: four 64² holes in a 2 MB raster go on one thread (a parallel region cost more than it shared)."""
    from geoaug.kernels import holes as holes_kernel

    launches = count_launches(monkeypatch, holes_kernel, "_fill_par")  # its chunks of bands
    monkeypatch.setattr(holes_kernel.threads, "num_threads", lambda: 2)
    big = np.zeros((4, 512, 512), np.uint16)
    rects = [[0, 0, 64, 64], [100, 200, 64, 64], [448, 448, 64, 64], [300, 7, 64, 64]]
    small = holes_kernel.copy_with_holes(big, rects, 7)
    assert launches == []
    monkeypatch.setattr(holes_kernel, "SERIAL_BELOW", 4 * 4 * 64 * 64)  # exactly these holes' values
    shared = holes_kernel.copy_with_holes(big, rects, 7)
    assert launches == [4]
    want = _holes_by_slices(big, rects, np.uint16(7), None, False)
    np.testing.assert_array_equal(small, want)
    np.testing.assert_array_equal(shared, want)
