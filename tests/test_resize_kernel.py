"""The separable resize kernel (geoaug.kernels.resize.resize_separable) against two oracles.

Oracles
-------
* a float64 numpy reference of the same rules, written here from the module's docstring: the taps of
  nearest / bilinear / cubic (Keys, a = -0.75) / area per axis as dense matrices, every fill mode, the
  tap rule for validity and masks; integers within 1 DN, float32 within 1e-5 of the data's magnitude,
  masks identical, invalid pixels holding ``out_fill``;
* ``cv2.resize`` where OpenCV defines the same result (edge fill: INTER_LINEAR, INTER_CUBIC,
  INTER_NEAREST_EXACT, INTER_AREA for integer shrink factors), within 1 DN.

Both pass orders (rows first, columns first), the serial and the parallel path (2 numba threads,
``SERIAL_BELOW`` forced low) give the same result.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np
import pytest
from conftest import BY_DTYPE

import geoaug
from geoaug.errors import ParameterError
from geoaug.kernels import resize
from geoaug.kernels.borders import FILL_MODES

NEAREST, LINEAR, CUBIC, AREA = resize.NEAREST, resize.LINEAR, resize.CUBIC, resize.AREA
COLLAR = BY_DTYPE["uint16"]  # a real Landsat 8 tile: 7 bands with a nodata collar
A = -0.75


# ----------------------------------------------------------------------------- the float64 reference
def _keys(t: float) -> float:
    t = abs(t)
    if t <= 1.0:
        return (A + 2.0) * t**3 - (A + 3.0) * t**2 + 1.0
    if t < 2.0:
        return A * t**3 - 5.0 * A * t**2 + 8.0 * A * t - 4.0 * A
    return 0.0


def _map(k: int, n: int, mode: str) -> int:
    if 0 <= k < n:
        return k
    if mode == "edge":
        return min(max(k, 0), n - 1)
    if mode == "reflect":  # dcba|abcd|dcba
        k %= 2 * n
        return k if k < n else 2 * n - 1 - k
    if mode == "mirror":  # dcb|abcd|cba
        if n == 1:
            return 0
        k %= 2 * n - 2
        return k if k < n else 2 * n - 2 - k
    if mode == "wrap":
        return k % n
    return -1  # nodata, constant: outside


def _axis(n_out: int, s: float, t: float, n_in: int, kind: int, mode: str):
    """Dense weights (n_out, n_in), tap indicator, weight of outside taps, validity: the rules in float64."""
    m = np.zeros((n_out, n_in))
    used = np.zeros((n_out, n_in), dtype=bool)
    outside = np.zeros(n_out)
    ok = np.ones(n_out, dtype=bool)
    for o in range(n_out):
        x = s * (o + 0.5) + t
        if kind == NEAREST:
            taps = [(math.floor(x), 1.0)]
        elif kind == LINEAR:
            x0 = math.floor(x - 0.5)
            f = x - 0.5 - x0
            taps = [(x0, 1.0 - f), (x0 + 1, f)]
        elif kind == CUBIC:
            x0 = math.floor(x - 0.5)
            f = x - 0.5 - x0
            taps = [(x0 - 1 + q, _keys(f - (q - 1))) for q in range(4)]
        else:
            lo, hi = sorted((s * o + t, s * (o + 1) + t))
            span = hi - lo
            taps = []
            for k in range(math.floor(lo), math.ceil(hi)):
                ov = min(hi, k + 1.0) - max(lo, float(k))
                if ov > 1e-9 * span:
                    taps.append((k, ov / span))
        for k, wt in taps:
            if wt == 0.0:
                continue
            j = _map(k, n_in, mode)
            if j < 0:
                outside[o] += wt
                if mode == "nodata":
                    ok[o] = False
            else:
                m[o, j] += wt
                used[o, j] = True
    return m, used, outside, ok


def reference(src, mask, scale, offset, out_shape, kind, mode, fill_value, out_fill):
    """(data, mask) of the same resampling in float64, rounded half to even and saturated for integers."""
    my, uy, cy, oky = _axis(out_shape[0], scale[0], offset[0], src.shape[1], kind[0], mode)
    mx, ux, cx, okx = _axis(out_shape[1], scale[1], offset[1], src.shape[2], kind[1], mode)
    x = src.astype(np.float64)
    # my @ x @ mx.T per band, as two products (a three-operand einsum without optimize loops over every
    # (o, y, x, p) at once: about 4 s per call at 7x80x90 -> 110x100)
    val = np.einsum("oy,byx,px->bop", my, x, mx, optimize=True)
    val += fill_value * (cy[:, None] * (mx.sum(1) + cx)[None, :] + my.sum(1)[:, None] * cx[None, :])
    valid = (oky[:, None] & okx[None, :])[None]
    if mask is not None:
        bad = np.einsum("oy,byx,px->bop", uy.astype(float), (~mask).astype(float), ux.astype(float),
                        optimize=True) > 0
        valid = valid & ~bad
    if src.dtype.kind in "iu":
        info = np.iinfo(src.dtype)
        val = np.clip(np.rint(val), info.min, info.max)
    valid = np.broadcast_to(valid, (valid.shape[0], *out_shape))
    val = np.where(np.broadcast_to(valid, val.shape), val, out_fill)
    return val, valid


def _check(src, mask, scale, offset, out_shape, kind, mode, fill_value=7.0, out_fill=3.0):
    data, dmask = resize.resize_separable(src, mask, scale, offset, out_shape, kind=kind, mode=FILL_MODES[mode],
                                          fill_value=fill_value, out_fill=out_fill)
    ref, rvalid = reference(src, mask, scale, offset, out_shape, kind, mode, fill_value, out_fill)
    assert data.dtype == src.dtype and data.shape == (src.shape[0], *out_shape)
    np.testing.assert_array_equal(np.broadcast_to(dmask, rvalid.shape), rvalid)
    diff = np.abs(data.astype(np.float64) - ref)
    if src.dtype.kind in "iu":
        assert diff.max(initial=0.0) <= 1.0
    else:
        assert diff.max(initial=0.0) <= 1e-5 * max(1.0, float(np.abs(src).max()))
    return data, dmask


def _data(rng, bands, h, w, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.normal(1000.0, 400.0, (bands, h, w)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -20000), min(info.max, 20000), (bands, h, w), endpoint=True).astype(dtype)


@pytest.fixture(params=["rows", "columns", "lanes"])
def order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each pass order, forced."""
    monkeypatch.setattr(resize, "_ORDER", request.param)
    return request.param


# ----------------------------------------------------------------------------- against the reference
@pytest.mark.parametrize("kind", [NEAREST, LINEAR, CUBIC, AREA])
@pytest.mark.parametrize("mode", sorted(FILL_MODES))
def test_every_filter_and_fill_mode_matches_the_float64_reference(kind: int, mode: str, order: str) -> None:
    rng = np.random.default_rng(kind * 10 + len(mode))
    src = _data(rng, 4, 23, 31, "uint16")
    for out_shape, off in (((17, 22), (0.0, 0.0)), ((40, 45), (-1.3, 0.7)), ((23, 31), (2.5, -3.25))):
        scale = (23 / out_shape[0] * 1.1, 31 / out_shape[1] * 0.9)
        _check(src, None, scale, off, out_shape, (kind, kind), mode)


# each pass order is a compiled worker of its own, per dtype (resize._make_work): the lanes order, which most calls
# take, with every dtype; rows and columns first with one dtype of each kind of arithmetic (integers computed in
# float32, integers in float64, floats), to keep the suite's compile time down
_ORDER_DTYPES = [(o, d) for o in ("rows", "columns") for d in ("uint8", "int32", "float32")] + [
    ("lanes", d) for d in ("uint8", "uint16", "int16", "int32", "float32", "float64")]


@pytest.mark.parametrize(("forced", "dtype"), _ORDER_DTYPES)
@pytest.mark.parametrize("bands", [1, 4, 13])
def test_dtypes_and_band_counts_up_and_down(forced: str, dtype: str, bands: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resize, "_ORDER", forced)
    rng = np.random.default_rng(bands)
    src = _data(rng, bands, 37, 29, dtype)
    for out_shape in ((28, 22), (55, 61), (9, 40)):  # shrink, enlarge, one of each
        scale = (37 / out_shape[0], 29 / out_shape[1])
        for kind in ((LINEAR, LINEAR), (CUBIC, NEAREST), (AREA, LINEAR)):
            _check(src, None, scale, (0.0, 0.0), out_shape, kind, "edge")
            _check(src, None, scale, (0.0, 0.0), out_shape, kind, "nodata")


def test_mirrored_axes_and_a_one_pixel_input(order: str) -> None:
    rng = np.random.default_rng(5)
    src = _data(rng, 4, 20, 24, "int16")
    _check(src, None, (-20 / 15, -24 / 30), (20.0, 24.0), (15, 30), (LINEAR, LINEAR), "edge")
    _check(src, None, (-20 / 15, 24 / 30), (20.0, 0.0), (15, 30), (CUBIC, AREA), "reflect")
    one = _data(rng, 3, 1, 1, "float32")
    for mode in ("edge", "nodata", "constant", "wrap"):
        _check(one, None, (1 / 5, 1 / 4), (0.0, 0.0), (5, 4), (LINEAR, LINEAR), mode)
    col = _data(rng, 2, 9, 1, "uint16")
    _check(col, None, (9 / 7, 1 / 3), (0.0, 0.0), (7, 3), (LINEAR, LINEAR), "edge")


@pytest.mark.parametrize("mode", sorted(FILL_MODES))
def test_collar_mask_of_a_real_tile(mode: str, order: str) -> None:
    r = geoaug.read(COLLAR)
    src = np.ascontiguousarray(r.data[:, :80, :90])
    mask = np.ascontiguousarray(np.broadcast_to(r.mask, r.data.shape)[:1, :80, :90])
    assert not mask.all() and mask.any()  # the collar is in the window
    for out_shape in ((60, 70), (110, 100)):
        scale = (80 / out_shape[0], 90 / out_shape[1])
        for kind in ((LINEAR, LINEAR), (CUBIC, CUBIC), (NEAREST, NEAREST), (AREA, AREA)):
            _, dmask = _check(src, mask, scale, (0.0, 0.0), out_shape, kind, mode, out_fill=0.0)
            assert dmask.shape == (1, *out_shape)


def test_per_band_masks(order: str) -> None:
    rng = np.random.default_rng(3)
    src = _data(rng, 13, 30, 34, "float32")
    mask = rng.random(src.shape) > 0.05
    for kind in ((LINEAR, LINEAR), (CUBIC, AREA)):
        _, dmask = _check(src, mask, (30 / 21, 34 / 50), (0.0, 0.0), (21, 50), kind, "nodata", out_fill=-1.0)
        assert dmask.shape == (src.shape[0], 21, 50)
        assert not dmask.all()


@pytest.mark.parametrize("mode", sorted(FILL_MODES))
def test_masks_whose_rows_are_one_valid_run(mode: str, order: str) -> None:
    # the mask pass tests a row whose valid pixels are one run (a collar, a chip padded at an edge) by each
    # output column's first and last tap; other rows tap by tap. Rows all valid, all invalid, one run at each
    # edge or inside, two runs; crops inside (moved plans), at the edges and past them, shrunk and enlarged
    rng = np.random.default_rng(31)
    h, w = 40, 52
    mask = np.ones((1, h, w), dtype=bool)
    for y in range(h):
        kind = y % 10  # 0 and 6-9: all valid
        if kind == 1:
            mask[0, y] = False
        elif kind == 2:
            mask[0, y, : rng.integers(1, w)] = False
        elif kind == 3:
            mask[0, y, rng.integers(1, w):] = False
        elif kind == 4:
            a = int(rng.integers(0, w // 2))
            mask[0, y, :a] = False
            mask[0, y, a + int(rng.integers(1, w // 2)):] = False
        elif kind == 5:  # two runs
            mask[0, y, w // 3 : w // 3 + 3] = False
    per_band = np.concatenate([mask, np.roll(mask, 5, axis=1), mask[:, ::-1]])  # a mask per band
    valid = invalid = 0
    # the last case lies mostly past the input: output columns without a tap inside (constant fill)
    for out, off, sc in (((30, 37), (0.0, 0.0), 1.0), ((30, 37), (3.0, 8.0), 0.6), ((60, 70), (-1.5, 2.25), 0.8),
                         ((25, 30), (5.0, 17.0), 0.5), ((40, 52), (0.5, -0.5), 1.0), ((20, 26), (-30.0, -45.0), 1.5)):
        scale = (h / out[0] * sc, w / out[1] * sc)
        for kind, dtype, m in (((LINEAR, LINEAR), "uint16", mask), ((CUBIC, AREA), "float32", mask),
                               ((NEAREST, LINEAR), "int16", per_band), ((LINEAR, CUBIC), "float64", per_band)):
            src = _data(np.random.default_rng(32), 3, h, w, dtype)
            _, dmask = _check(src, m, scale, off, out, kind, mode, out_fill=0.0)
            valid += int(dmask.sum())
            invalid += int((~dmask).sum())
    assert valid > 5000 and invalid > 5000


def test_a_mask_of_another_plane_count_is_refused() -> None:
    src = np.zeros((3, 8, 9), dtype=np.uint16)
    for shape in ((2, 8, 9), (1, 8, 8)):
        with pytest.raises(ParameterError, match="mask must be"):
            resize.resize_separable(src, np.ones(shape, dtype=bool), (1.0, 1.0), (0.0, 0.0), (8, 9))


def test_an_all_valid_result_is_the_free_broadcast_mask() -> None:
    src = np.arange(2 * 40 * 40, dtype=np.uint16).reshape(2, 40, 40)
    _, dmask = resize.resize_separable(src, None, (40 / 30, 40 / 30), (0.0, 0.0), (30, 30))
    assert dmask.shape == (1, 30, 30) and not any(dmask.strides) and bool(dmask.all())


# ----------------------------------------------------------------------------- against OpenCV
def _cv(src: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    return np.stack([cv2.resize(b, (size[1], size[0]), interpolation=interp) for b in src])


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
@pytest.mark.parametrize("kind,interp", [(LINEAR, cv2.INTER_LINEAR), (CUBIC, cv2.INTER_CUBIC),
                                         (NEAREST, cv2.INTER_NEAREST_EXACT)])
def test_matches_cv2_resize_with_edge_fill(dtype: str, kind: int, interp: int, order: str) -> None:
    rng = np.random.default_rng(11)
    src = _data(rng, 4, 64, 72, dtype)
    # OpenCV's nearest (fixed point) picks another pixel where a centre falls near a pixel edge: integer factors
    shapes = ((32, 36), (128, 144)) if kind == NEAREST else ((48, 54), (96, 100), (64, 36))
    for out_shape in shapes:
        data, _ = resize.resize_separable(src, None, (64 / out_shape[0], 72 / out_shape[1]), (0.0, 0.0), out_shape,
                                          kind=(kind, kind), mode=FILL_MODES["edge"])
        ref = _cv(src, out_shape, interp).astype(np.float64)
        diff = np.abs(data.astype(np.float64) - ref)
        if np.dtype(dtype).kind == "f":
            assert diff.max() <= 1e-3 * float(np.abs(ref).max())
        else:
            assert diff.max() <= 1.0


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("bands", [1, 4, 13])
def test_area_matches_cv2_inter_area_for_integer_factors(factor: int, bands: int, order: str) -> None:
    rng = np.random.default_rng(factor)
    src = _data(rng, bands, 24 * factor, 20 * factor, "uint16")
    data, _ = resize.resize_separable(src, None, (factor, factor), (0.0, 0.0), (24, 20), kind=(AREA, AREA),
                                      mode=FILL_MODES["edge"])
    diff = np.abs(data.astype(np.int64) - _cv(src, (24, 20), cv2.INTER_AREA).astype(np.int64))
    assert diff.max() <= 1


# ----------------------------------------------------------------------------- threads, orders, out=
def test_parallel_path_and_both_orders_give_the_serial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    cases = [
        (_data(rng, 13, 50, 60, "uint16"), None, (50 / 37, 60 / 45), (37, 45), (LINEAR, LINEAR), "nodata"),
        (_data(rng, 4, 50, 60, "uint16"), rng.random((4, 50, 60)) > 0.02, (50 / 80, 60 / 70), (80, 70),
         (CUBIC, CUBIC), "reflect"),
        (_data(rng, 1, 90, 70, "uint16"), rng.random((1, 90, 70)) > 0.02, (3.0, 2.0), (30, 35), (AREA, AREA),
         "edge"),
    ]  # one dtype: the parallel kernel compiles once per dtype (every dtype is checked serially above)
    before = numba.get_num_threads()
    try:
        for src, mask, scale, shape, kind, mode in cases:
            numba.set_num_threads(1)
            monkeypatch.setattr(resize, "_ORDER", None)
            base, bmask = resize.resize_separable(src, mask, scale, (0.0, 0.0), shape, kind=kind,
                                                  mode=FILL_MODES[mode])
            monkeypatch.setattr(resize, "SERIAL_BELOW", 0)
            numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
            for forced in ("rows", "columns", "lanes"):
                monkeypatch.setattr(resize, "_ORDER", forced)
                data, dmask = resize.resize_separable(src, mask, scale, (0.0, 0.0), shape, kind=kind,
                                                      mode=FILL_MODES[mode])
                np.testing.assert_array_equal(np.broadcast_to(dmask, bmask.shape), bmask)
                tol = 1 if src.dtype.kind in "iu" else 1e-5 * float(np.abs(src).max())
                assert np.abs(data.astype(np.float64) - base.astype(np.float64)).max() <= tol
            monkeypatch.undo()  # SERIAL_BELOW and _ORDER as the module has them
    finally:
        numba.set_num_threads(before)


def test_out_buffer_is_filled_and_checked() -> None:
    rng = np.random.default_rng(2)
    src = _data(rng, 4, 40, 40, "uint16")
    out = np.empty((4, 30, 30), dtype=np.uint16)
    data, _ = resize.resize_separable(src, None, (4 / 3, 4 / 3), (0.0, 0.0), (30, 30), out=out)
    assert data is out
    np.testing.assert_array_equal(out, resize.resize_separable(src, None, (4 / 3, 4 / 3), (0.0, 0.0), (30, 30))[0])
    for bad in (np.empty((4, 30, 30), np.float32), np.empty((4, 30, 31), np.uint16),
                np.empty((4, 30, 60), np.uint16)[:, :, ::2]):
        with pytest.raises(ParameterError, match="out must be"):
            resize.resize_separable(src, None, (4 / 3, 4 / 3), (0.0, 0.0), (30, 30), out=bad)


@pytest.mark.parametrize("kind", [resize.LINEAR, resize.AREA])
# (scale, offset) of the columns: 1.1x zoom about the centre (column 1 lands on a pixel centre), half-pixel
# steps, a 1.1x zoom without a shift
@pytest.mark.parametrize(("sx", "tx"), [(1.1 ** -1, 0.13636363636363646), (0.5, 0.25), (1.1 ** -1, 0.0)])
def test_non_finite_values_under_invalid_pixels_never_reach_valid_outputs(kind: int, sx: float, tx: float) -> None:
    # columns landing on a pixel centre take one pixel; the two-tap form would read its neighbour with
    # weight 0, and 0 * NaN is NaN: an invalid neighbour holding NaN or inf must not show in a valid output
    rng = np.random.default_rng(4)
    src = rng.uniform(0, 100, (2, 9, 11)).astype(np.float32)
    mask = rng.random((1, 9, 11)) > 0.3
    mask[0, :, 1], mask[0, ::2, 2] = True, False  # column 1 valid, its right neighbour invalid every other row
    src[:, ~mask[0]] = np.nan
    src[1, ~mask[0]] = np.inf
    zeros = np.where(mask, src, np.float32(0))
    out_shape = (12, int(11 / sx) - 2)  # every column tap inside the input (the two-tap form needs that)
    args = ((0.75, sx), (0.0, tx), out_shape)
    data, dmask = resize.resize_separable(src, mask, *args, kind=(resize.LINEAR, kind))
    ref, ref_mask = resize.resize_separable(zeros, mask, *args, kind=(resize.LINEAR, kind))
    valid = np.broadcast_to(dmask, data.shape)
    assert valid.any() and np.isfinite(data[valid]).all()
    np.testing.assert_array_equal(dmask, ref_mask)
    np.testing.assert_allclose(data[valid], ref[valid], rtol=1e-6)  # the invalid values are never read


# ----------------------------------------------------------------------------- the lane order, bit for bit
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize(("shape", "out", "kind", "mode"), [
    ((61, 53), (37, 45), (LINEAR, LINEAR), "reflect"),  # shrink; rows and columns not multiples of 8
    ((40, 44), (101, 99), (LINEAR, LINEAR), "edge"),  # enlarge
    ((50, 60), (80, 70), (CUBIC, CUBIC), "reflect"),  # four taps per axis
    ((90, 70), (30, 35), (AREA, AREA), "edge"),  # three input pixels per output pixel
    ((33, 47), (21, 29), (LINEAR, CUBIC), "nodata"),  # rows with one tap at the edge
    ((17, 9), (3, 5), (LINEAR, LINEAR), "edge"),  # one short block, one short column chunk
])
def test_the_lane_order_gives_the_bits_of_the_row_order(dtype: str, shape, out, kind, mode: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # the eight-lane columns-first pass (kernels/vec8.py) computes what the row-at-a-time columns-first
    # pass computes, in the same order of operations: the outputs are identical, not just close
    rng = np.random.default_rng(11)
    src = _data(rng, 3, *shape, dtype)
    mask = rng.random((1, *shape)) > 0.03
    for m in (None, mask):
        got = {}
        for forced in ("columns", "lanes"):
            monkeypatch.setattr(resize, "_ORDER", forced)
            got[forced] = resize.resize_separable(src, m, (shape[0] / out[0], shape[1] / out[1]), (0.0, 0.0), out,
                                                  kind=kind, mode=FILL_MODES[mode])
        np.testing.assert_array_equal(got["lanes"][0], got["columns"][0])
        np.testing.assert_array_equal(got["lanes"][1], got["columns"][1])


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
def test_reading_the_input_rows_ahead_changes_no_bit(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # above TOUCH_BYTES the lane order first reads one item per cache line of each block's input rows; that read
    # ends in a scratch slot the block overwrites before reading it. Forced on for every size, each case must
    # give the bits it gives with the read off: taps mapped inside, taps outside (nodata: rows with a tap of -1),
    # a crop whose plan is moved (taps counted from another pixel), a mask, two workers
    rng = np.random.default_rng(12)
    src = _data(rng, 5, 61, 77, dtype)
    mask = rng.random((1, 61, 77)) > 0.03
    cases = [((37, 45), (61 / 37, 77 / 45), (0.0, 0.0), (LINEAR, LINEAR), "reflect"),
             ((101, 99), (61 / 101, 77 / 99), (-0.4, -0.3), (LINEAR, LINEAR), "nodata"),
             ((30, 35), (1.5, 1.5), (3.0, 5.0), (AREA, AREA), "edge"),  # inside the input: a moved plan
             ((21, 29), (61 / 21, 77 / 29), (0.0, 0.0), (LINEAR, CUBIC), "nodata")]
    monkeypatch.setattr(resize, "_ORDER", "lanes")
    for threads_ in (1, 2):
        monkeypatch.setattr(resize, "SERIAL_BELOW", 1 if threads_ == 2 else 1 << 62)
        for out, scale, off, kind, mode in cases:
            for m in (None, mask):
                got = []
                for touch_bytes in (1 << 62, 0):
                    monkeypatch.setattr(resize, "TOUCH_BYTES", touch_bytes)
                    got.append(resize.resize_separable(src, m, scale, off, out, kind=kind, mode=FILL_MODES[mode]))
                np.testing.assert_array_equal(got[1][0], got[0][0])
                np.testing.assert_array_equal(got[1][1], got[0][1])


def test_the_lane_order_is_taken_when_every_horizontal_tap_is_inside() -> None:
    # the plan's choice: lanes for a shrink and an enlarge with taps inside; never with a tap outside
    # (constant fill at an enlarged edge) or where rows first is cheaper. With nodata fill the edge outputs
    # whose taps reach outside are invalid and take their valid neighbours' taps: lanes too
    def order(shape, out, mode):
        return resize._plan(13, *shape, *out, shape[0] / out[0], shape[1] / out[1], 0.0, 0.0, LINEAR, LINEAR,
                            FILL_MODES[mode], np.dtype(np.uint16), 0, 1, None)[0][21]

    assert order((512, 512), (384, 384), "reflect") == resize.LANES
    assert order((362, 362), (512, 512), "edge") == resize.LANES
    assert order((362, 362), (512, 512), "nodata") == resize.LANES
    assert order((362, 362), (512, 512), "constant") != resize.LANES


@pytest.mark.parametrize("order", [resize.COLUMNS])
def test_each_order_compiles_only_its_own_pass(order: int) -> None:
    # one worker per pass order, the order a closure constant: numba prunes the other passes before typing, so a
    # dtype's first call compiles the one pass it runs. A fresh worker (not cached) of the production factory,
    # compiled for a call's types: its linked code defines its own pass and none of the other two. One order (the
    # quickest to compile): the three workers come from one factory
    import numba as nb

    passes = {resize.ROWS: "_rows_first", resize.COLUMNS: "_cols_first", resize.LANES: "_cols_lanes"}
    forced = {resize.ROWS: "rows", resize.COLUMNS: "columns", resize.LANES: "lanes"}[order]
    worker = getattr(resize, f"_work_{forced}")
    captured = {}

    def capture(*args):
        captured["args"] = args
        return worker(*args)

    src = np.arange(3 * 20 * 24, dtype=np.uint16).reshape(3, 20, 24)
    saved, saved_order = resize._WORKERS[order], resize._ORDER
    resize._WORKERS[order] = (capture, saved[1])
    resize._ORDER = forced
    try:
        resize.resize_separable(src, None, (20 / 15, 24 / 16), (0.0, 0.0), (15, 16))
    finally:
        resize._WORKERS[order], resize._ORDER = saved, saved_order
    fresh = nb.njit(_nrt=False, fastmath={"contract"}, cache=False)(resize._make_work(order))
    sig = tuple(nb.typeof(a) for a in captured["args"])
    fresh.compile(sig)
    llvm = fresh.inspect_llvm(sig)
    defined = {name for name in passes.values() if name in llvm}
    assert defined == {passes[order]}


def _passes(src, mask, scale, offset, out_shape, kind, mode) -> tuple:
    """The fixed horizontal tap count and the pass order a call plans."""
    plan = resize._plan(src.shape[0], *src.shape[1:], *out_shape, *scale, *offset, *kind, FILL_MODES[mode],
                        src.dtype, 0 if mask is None else mask.shape[0], 1, resize._ORDER)[0]
    return plan[13], plan[21]


@pytest.mark.parametrize(("forced", "dtype"), [("rows", "float32"), ("columns", "float32")] + [
    ("lanes", d) for d in ("uint16", "int16", "float32", "float64")])
def test_nodata_edges_change_only_the_invalid_outputs(forced: str, dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resize, "_ORDER", forced)
    # an output whose taps reach past the input (nodata fill) is invalid and holds out_fill; it borrows a valid
    # neighbour's taps so the axis keeps the branch-free passes. The result is the float64 reference's (_check),
    # and where the edge fill plans the same passes, every valid output is the edge-fill result's bits (the
    # same taps), with or without a mask, shrunk or enlarged
    rng = np.random.default_rng(21)
    src = _data(rng, 5, 33, 41, dtype)
    mask = rng.random((1, 33, 41)) > 0.02
    cases = [((45, 60), (-0.4, 0.3)), ((20, 25), (0.0, 0.0)), ((40, 50), (2.6, -1.7)), ((33, 41), (0.5, 0.5))]
    invalid = same = 0
    for out, off in cases:
        scale = (33 / out[0] * 0.9, 41 / out[1] * 0.95)
        for kind in ((LINEAR, LINEAR), (CUBIC, LINEAR), (LINEAR, AREA), (NEAREST, CUBIC)):
            for m in (None, mask):
                data, dmask = _check(src, m, scale, off, out, kind, "nodata", out_fill=7.0)
                edge, emask = resize.resize_separable(src, m, scale, off, out, kind=kind, mode=FILL_MODES["edge"],
                                                      out_fill=7.0)
                valid = np.broadcast_to(dmask, data.shape)
                invalid += int((~valid).sum())
                assert (data[~valid] == data.dtype.type(7.0)).all()
                # valid there: valid with edge fill too (the same taps, and none outside)
                assert not (valid & ~np.broadcast_to(emask, data.shape)).any()
                planned = [_passes(src, m, scale, off, out, kind, mode) for mode in ("nodata", "edge")]
                if planned[0] == planned[1]:
                    same += 1
                    np.testing.assert_array_equal(data[valid], edge[valid])
    assert invalid > 1000  # the enlarged and shifted cases reach past every edge
    assert same >= 24


@pytest.mark.parametrize("dtype", ["uint16", "float32", "float64"])
def test_the_ring_of_nodata_edges_is_filled_in_one_pass(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs with a tap past an edge (nodata, no input mask) are whole rows and columns at the edges: one compiled
    pass fills them and writes the mask. It gives what boolean indexing of both axes gave (the fallback, taken here
    by a plan without its ring), and without the mask (``need_mask=False``, a plain array's call) the same data."""
    rng = np.random.default_rng(4)
    src = _data(rng, 3, 29, 37, dtype)
    cases = [((45, 60), (-0.4, 0.3)), ((40, 50), (2.6, -1.7)), ((20, 25), (0.0, 0.0)), ((64, 64), (0.0, 0.0)),
             ((12, 70), (-9.0, 0.0))]  # the last: every output row past the top edge, no valid output
    rings = 0
    for out, off in cases:
        scale = (29 / out[0], 37 / out[1] * 0.9)
        for kind in ((LINEAR, LINEAR), (CUBIC, NEAREST)):
            args = (src, None, scale, off, out)
            kw = dict(kind=kind, mode=FILL_MODES["nodata"], out_fill=7.0)
            plan = resize._plan(3, 29, 37, *out, *scale, *off, *kind, FILL_MODES["nodata"], src.dtype, 0, 1, None)[0]
            data, mask = resize.resize_separable(*args, **kw)
            alone, none = resize.resize_separable(*args, need_mask=False, **kw)
            assert plan[18] or none is None
            np.testing.assert_array_equal(alone, data)
            if plan[18]:  # every tap inside: the free broadcast mask, nothing filled
                continue
            rings += 1
            ya, yb, xa, xb = plan[-1]
            want = np.zeros(out, dtype=bool)
            want[ya:yb, xa:xb] = True
            np.testing.assert_array_equal(mask[0], want)
            assert (data[:, ~want] == data.dtype.type(7.0)).all()
            with monkeypatch.context() as mp:  # the plan without its ring: numpy's boolean indexing of both axes
                mp.setattr(resize, "_valid_run", lambda ok: None)
                resize._cached_plan.cache_clear()
                old_data, old_mask = resize.resize_separable(*args, **kw)
            resize._cached_plan.cache_clear()
            np.testing.assert_array_equal(old_data, data)
            np.testing.assert_array_equal(np.broadcast_to(old_mask, mask.shape), mask)
    assert rings >= 6


def test_a_float_column_on_one_pixel_past_nodata_edges_takes_the_general_pass() -> None:
    # 10 columns enlarged 2x with the last quarter pixel outside: output columns land on pixel centres. The
    # two-tap form would compute the last one as p + (q - p), which loses q under a far larger p, and read a
    # weight-0 neighbour (0 * inf is NaN). Float data there keeps the general pass; integers, exact in the
    # two-tap form, keep it
    args = ((1.0, 0.5), (0.0, 0.25), (4, 20))
    src = np.ones((1, 4, 10), np.float32)
    src[:, :, 8] = 1e8
    data, mask = resize.resize_separable(src, None, *args, mode=FILL_MODES["nodata"])
    assert bool(np.broadcast_to(mask, (1, 4, 20))[0, 0, 18]) and data[0, 0, 18] == 1.0
    src[:, :, 8] = 1.0
    src[:, :, 6] = np.inf
    data, _ = resize.resize_separable(src, None, *args, mode=FILL_MODES["nodata"])
    assert data[0, 0, 10] == 1.0
    for dtype, kfix in (("float32", 0), ("float64", 0), ("uint16", 2), ("int16", 2)):
        plan = resize._plan(1, 4, 10, 4, 20, *args[0], *args[1], LINEAR, LINEAR, FILL_MODES["nodata"],
                            np.dtype(dtype), 0, 1, None)[0]
        assert plan[13] == kfix and not plan[24], dtype


def test_taps_moved_by_whole_pixels_equal_taps_built_at_the_offset() -> None:
    # _axis_taps serves offsets a whole number of pixels apart from one cached build, moved: what every pass
    # reads of them (the taps each output uses, weights, counts, validity, the two-tap pass's left taps and
    # fractions, the first and last tap) must be what a build at the offset itself gives, edges included
    rng = np.random.default_rng(12)
    for _ in range(600):
        n_in, n_out = int(rng.integers(5, 400)), int(rng.integers(1, 300))
        s = float(rng.uniform(0.2, 3.0)) * (1 if rng.random() < 0.9 else -1)
        t = float(rng.integers(-5, n_in)) + (0.0 if rng.random() < 0.5 else float(rng.random()))
        kind, mode = int(rng.integers(0, 4)), int(rng.integers(0, 6))
        got = resize._axis_taps(n_out, s, t, n_in, kind, mode, np.float32)
        want = resize._build_taps(n_out, s, t, n_in, kind, mode, np.float32)
        most = want[4]
        np.testing.assert_array_equal(got[0][:, :most], want[0][:, :most])
        np.testing.assert_array_equal(got[11][:, :most], want[11][:, :most])
        for g, w in zip(got[1:11], want[1:11], strict=True):
            np.testing.assert_array_equal(g, w)


def test_a_moving_crop_builds_its_taps_once() -> None:
    # a RandomResizedCrop's crop moves by whole pixels: the second position reuses the first one's build
    resize._cached_taps.cache_clear()
    resize._axis_taps(512, 362 / 512, 17.0, 512, LINEAR, FILL_MODES["nodata"], np.float32)
    before = resize._cached_taps.cache_info()
    resize._axis_taps(512, 362 / 512, 101.0, 512, LINEAR, FILL_MODES["nodata"], np.float32)
    after = resize._cached_taps.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


def _crop_plan(ty: float, tx: float, side: int = 64, crop: int = 45, mode: str = "nodata") -> tuple:
    return resize._plan(13, side, side, side, side, crop / side, crop / side, ty, tx, LINEAR, LINEAR,
                        FILL_MODES[mode], np.dtype(np.uint16), 0, 1, None)


def test_a_crop_moved_by_whole_pixels_finds_one_plan() -> None:
    # a RandomResizedCrop of one size moves from call to call: a position with every tap inside finds a plan
    # made for the crop moved towards the input's corner (columns by multiples of eight), and the kernel reads
    # from (my, mx): 324 positions, a few plans
    resize._moved_plan.cache_clear()
    plans, moved = set(), 0
    for ty in range(1, 19):
        for tx in range(1, 19):
            plan, my, mx = _crop_plan(float(ty), float(tx))
            assert my >= 0 and mx >= 0 and mx % 8 == 0
            moved += (my, mx) != (0, 0)
            plans.add(id(plan))
    assert moved > 300
    assert len(plans) <= 18 and resize._moved_plan.cache_info().misses <= 18


def test_an_axis_with_a_tap_outside_keeps_its_offset() -> None:
    # a tap above or left of the input, or past its bottom or right edge, cannot move along that axis: it keeps
    # its offset (read from 0) while the other axis moves; with both axes at an edge, the crop's own plan
    plan_a, my, mx = _crop_plan(-1.0, 9.0)
    assert my == 0 and mx == 8
    plan_b, my, mx = _crop_plan(-1.0, 17.0)  # further along the same edge: the same plan, read from further on
    assert my == 0 and mx == 16 and plan_b is plan_a
    assert _crop_plan(9.0, -1.0)[1:] == (5, 0)
    assert _crop_plan(9.0, 20.0)[1:] == (5, 0)
    assert _crop_plan(20.0, 9.0)[1:] == (0, 8)
    assert _crop_plan(-1.0, 20.0)[1:] == (0, 0)
    assert _crop_plan(9.0, 9.0, mode="reflect")[1:] == (5, 8)  # inside, a fill mode maps nothing


def test_a_moved_offset_keeps_its_fraction_bit_for_bit() -> None:
    # the offset a plan is moved to must hold the fraction of t exactly: moved further than the whole part of t
    # (a large shrink, whose first tap lies far right of the offset), t - m could round, and the weights with it
    rng = np.random.default_rng(41)
    moved = 0
    for _ in range(3000):
        s, t = float(rng.uniform(0.2, 25.0)), float(rng.integers(0, 40)) + float(rng.random())
        step = (1, 8)[int(rng.integers(0, 2))]
        m, t0 = resize._origin(64, s, t, 4000, int(rng.integers(0, 4)), FILL_MODES["nodata"], np.float64, step)
        if m < 0:
            continue
        moved += m > 0
        assert m <= math.floor(t) and m % step == 0
        assert t0 - math.floor(t0) == t - math.floor(t)
    assert moved > 1000


@pytest.mark.parametrize("threads_", [1, 2])
def test_a_moved_plan_gives_the_bits_of_the_crops_own_plan(threads_: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # every pass order, masks shared and per band, integers and floats, enlarged and shrunk crops, and fractional
    # offsets: resampled through the moved plan and through the crop's own plan (moving disabled), bit for bit
    rng = np.random.default_rng(31)
    moved = 0
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(threads_, numba.config.NUMBA_NUM_THREADS))
        if threads_ > 1:
            monkeypatch.setattr(resize, "SERIAL_BELOW", 0)
        for trial in range(60):
            # at 2 threads one dtype: the parallel entry compiles once per dtype (every dtype is checked serially)
            dt = "uint16" if threads_ > 1 else ("uint16", "float32", "int16", "float64", "int32")[trial % 5]
            nb = (1, 3, 13)[trial % 3]
            h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
            src = _data(rng, nb, h, w, dt)
            mask = None if trial % 4 == 0 else rng.random((1 if trial % 2 else nb, h, w)) > 0.05
            ch, cw = int(rng.integers(4, h + 1)), int(rng.integers(4, w + 1))
            out = (int(rng.integers(4, 80)), int(rng.integers(4, 80)))
            if trial % 6 == 0:  # a large shrink: the first tap lies far right of the offset's whole part
                out = (max(2, ch // 15), max(2, cw // 12))
            off = (float(rng.integers(0, h - ch + 1)), float(rng.integers(0, w - cw + 1)))
            if trial % 3 == 0:  # fractions that float64 does not hold exactly
                off = (off[0] + float(rng.random()), off[1] + float(rng.random()))
            kind = (CUBIC, AREA, LINEAR, NEAREST)[trial % 4], (LINEAR, CUBIC, AREA, LINEAR, NEAREST)[trial % 5]
            mode = FILL_MODES[("nodata", "reflect", "constant", "edge", "wrap")[trial % 5]]
            scale = (ch / out[0], cw / out[1])
            for order in (None, "rows", "columns", "lanes"):
                monkeypatch.setattr(resize, "_ORDER", order)
                got = resize.resize_separable(src, mask, scale, off, out, kind=kind, mode=mode, fill_value=3.0)
                moved += resize._plan(nb, h, w, *out, *scale, *off, *kind, mode, src.dtype,
                                      0 if mask is None else mask.shape[0], 1, order)[1:] != (0, 0)
                with monkeypatch.context() as own:  # every crop its own plan
                    own.setattr(resize, "_origin", lambda *a: (-1, a[2]))
                    want = resize.resize_separable(src, mask, scale, off, out, kind=kind, mode=mode, fill_value=3.0)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
    finally:
        numba.set_num_threads(before)
    assert moved > 50  # the moved path was taken



def _poisoned_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel's scratch from np.empty holds NaN (floats) or 0x5A bytes: a read of a value no pass wrote shows
    real = np.empty

    def empty(shape, dtype=float, **kw):
        a = real(shape, dtype=dtype, **kw)
        if np.dtype(dtype).kind == "f":
            a.fill(np.nan)
        else:
            a.view(np.uint8).fill(0x5A)
        return a

    monkeypatch.setattr(resize.np, "empty", empty)


@pytest.mark.parametrize("forced", ["rows", "columns", "lanes"])
def test_columns_past_the_right_edge_read_computed_pixels_only(forced: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # every column past the right edge with fill="edge": both taps map to the last pixel, which the two-tap pass
    # reads as the pair (second-to-last, last) with weight 1 on the last. The second-to-last column must be one
    # the vertical pass computed (it was not, in the column orders, when no tap is on it)
    _poisoned_empty(monkeypatch)
    monkeypatch.setattr(resize, "_ORDER", forced)
    rng = np.random.default_rng(13)
    src = rng.integers(0, 60000, (1, 64, 9)).astype(np.uint16)
    data, _ = resize.resize_separable(src, None, (2.0, 1.0), (0.0, 20.3), (32, 16), kind=(LINEAR, LINEAR),
                                      mode=FILL_MODES["edge"])
    want = reference(src, None, (2.0, 1.0), (0.0, 20.3), (32, 16), (LINEAR, LINEAR), "edge", 0.0, 0.0)[0]
    assert np.abs(data.astype(np.int64) - want.astype(np.int64)).max() <= 1


@pytest.mark.parametrize("forced", ["rows", "columns", "lanes"])
def test_a_masked_float_column_mapped_onto_the_edge_never_reads_an_invalid_neighbour(
        forced: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # fill="edge" maps both taps of the last output columns onto the last pixel; the two-tap form would read the
    # pixel before it with weight 0: a NaN there (invalid) must not reach those valid outputs
    monkeypatch.setattr(resize, "_ORDER", forced)
    src = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8)
    mask = np.ones((1, 6, 8), dtype=bool)
    mask[0, :, 6] = False
    src[:, :, 6] = np.nan
    data, dmask = resize.resize_separable(src, mask, (1.0, 0.5), (0.0, 0.0), (6, 16), kind=(LINEAR, LINEAR),
                                          mode=FILL_MODES["edge"])
    valid = np.broadcast_to(dmask, data.shape)
    assert valid[:, :, -1].all() and np.isfinite(data[valid]).all()
    np.testing.assert_array_equal(data[:, :, -1], src[:, :, 7])


def test_a_nan_reaching_an_integer_store_saturates_as_the_scalar_store_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # a NaN fill value reaches the integer store through a constant-fill tap: every order stores what numba's
    # max(lo, min(hi, nan)) gives, the dtype's maximum
    src = np.random.default_rng(14).integers(0, 60000, (1, 16, 16)).astype(np.uint16)
    got = {}
    for forced in ("rows", "columns", "lanes"):
        monkeypatch.setattr(resize, "_ORDER", forced)
        got[forced] = resize.resize_separable(src, None, (0.5, 2.0), (0.0, 0.0), (32, 8), kind=(LINEAR, LINEAR),
                                              mode=FILL_MODES["constant"], fill_value=float("nan"))[0]
    assert (got["lanes"][0, 0] == 65535).all()
    np.testing.assert_array_equal(got["lanes"], got["rows"])
    np.testing.assert_array_equal(got["lanes"], got["columns"])


def test_an_empty_output_is_empty() -> None:
    src = np.zeros((2, 10, 10), dtype=np.uint16)
    data, _ = resize.resize_separable(src, None, (1.0, 1.0), (0.0, 0.0), (0, 10))
    assert data.shape == (2, 0, 10)


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint16"])
def test_return_nan_tells_whether_a_nan_came_out(dtype: str, order: str) -> None:
    # a plain float array is resampled as all valid first (functional.warp): the kernel reports a NaN that came
    # out, found in the strip where it did (here only the last output rows read the NaN row), and stops there
    rng = np.random.default_rng(3)
    src = _data(rng, 3, 120, 50, dtype)
    kw = dict(kind=(LINEAR, LINEAR), mode=FILL_MODES["nodata"], out_fill=3.0)
    clean, cmask, nan = resize.resize_separable(src, None, (120 / 100, 50 / 70), (0.0, 0.0), (100, 70),
                                                return_nan=True, **kw)
    want, wmask = resize.resize_separable(src, None, (120 / 100, 50 / 70), (0.0, 0.0), (100, 70), **kw)
    assert nan is False
    np.testing.assert_array_equal(clean, want)
    np.testing.assert_array_equal(cmask, wmask)
    if dtype == "uint16":
        return
    src[1, -1, 20] = np.nan  # read by the last output rows only (of band 1)
    assert resize.resize_separable(src, None, (120 / 100, 50 / 70), (0.0, 0.0), (100, 70), return_nan=True,
                                   **kw)[2] is True
    # a mask given: the masked resampling, nothing reported
    valid = ~np.isnan(src)
    out = resize.resize_separable(src, valid, (120 / 100, 50 / 70), (0.0, 0.0), (100, 70), return_nan=True, **kw)
    assert out[2] is False and not np.isnan(out[0]).any()


def test_return_nan_with_parallel_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # each worker scans its own strips into its own slot: a NaN that only one worker's rows read is reported
    rng = np.random.default_rng(4)
    src = _data(rng, 2, 90, 64, "float32")
    monkeypatch.setattr(resize, "SERIAL_BELOW", 0)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        for row, want in ((None, False), (0, True), (-1, True)):
            x = src.copy()
            if row is not None:
                x[1, row, 10] = np.nan
            out = resize.resize_separable(x, None, (90 / 60, 1.0), (0.0, 0.0), (60, 64), kind=(LINEAR, LINEAR),
                                          return_nan=True)
            assert out[2] is want, row
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("threads_", [1, 2, 4])
def test_a_mask_never_changes_the_pass_order(threads_: int) -> None:
    # the two orders round differently: a call with a mask must compute each value as the call without it,
    # so that a plain float array resampled without its mask first gives the masked call's bits
    # (functional.warp). A 20² crop of a 64² band enlarged to 256² at 2 threads chose lanes without a mask and
    # rows first with one
    dt = np.dtype(np.float32)
    for bands, side, crop, out, off in [(1, 64, 20, 256, 10.0), (1, 64, 20, 256, 5.5), (13, 64, 45, 64, 3.0),
                                        (4, 512, 362, 512, 75.0), (13, 120, 90, 60, 0.0)]:
        s = crop / out
        orders = {resize._make_plan(bands, side, side, out, out, s, s, off, off, LINEAR, LINEAR,
                                    FILL_MODES["reflect"], dt, nm, threads_, None)[21] for nm in (0, 1, bands)}
        assert len(orders) == 1, (bands, side, crop, out, off, orders)
