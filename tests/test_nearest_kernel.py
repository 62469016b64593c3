"""The nearest-neighbour warp (geoaug/kernels/nearest.py): what it adds to the warp's float64 reference.

test_warp_kernel.py checks nearest against the float64 reference for every fill mode, mask
and dtype. Here: values move bit for bit (NaN payloads, -0.0), dtypes of one width share
one compiled kernel and give the same bits, the two fill values follow the store rule of
the other interpolations, and the parallel kernel equals the serial one.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoaug.kernels import nearest, warp_affine
from geoaug.kernels import warp as warp_module

DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")
FILLS = ("nodata", "constant", "edge", "reflect", "mirror", "wrap")


def _rotation(deg: float, h: int, w: int, shift: float = 0.0) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    cx, cy = w / 2 + shift, h / 2 - shift
    return np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0.0, 0.0, 1.0]])


def _floor_taps(m: np.ndarray, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ii, jj = np.mgrid[0:out_shape[0], 0:out_shape[1]].astype(np.float64)
    xs = m[0, 0] * (jj + 0.5) + m[0, 1] * (ii + 0.5) + m[0, 2]
    ys = m[1, 0] * (jj + 0.5) + m[1, 1] * (ii + 0.5) + m[1, 2]
    return np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_move_bit_for_bit(dtype: str) -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(0, 1, (3, 23, 17)).astype(dtype)
    bits = src.view(nearest.BITS[src.dtype.itemsize])
    bits[0, :5, :5] = bits[0, :5, :5] | np.array(0x7F800001 if dtype == "float32" else 0x7FF0000000000BAD,
                                                 dtype=bits.dtype)  # NaNs with payloads
    src[1, 3:9, 2:8] = -0.0
    m = _rotation(23.0, 23, 17)
    out, mask = warp_affine(src, None, m, (23, 17), "nearest", fill="edge")
    yy, xx = _floor_taps(m, (23, 17))
    want = src[:, np.clip(yy, 0, 22), np.clip(xx, 0, 16)]
    assert mask.all()
    np.testing.assert_array_equal(out.view(bits.dtype), want.view(bits.dtype))  # bits, not values


@pytest.mark.parametrize("scale", [1.0, -1.0, 1 / 3, -0.75, 2.0])
@pytest.mark.parametrize("nudge", [0.0, -1e-12, 1e-12, -5e-324, 5e-324])
@pytest.mark.parametrize("window", [False, True])
def test_coordinates_at_the_window_s_first_pixel_take_their_floor(scale: float, nudge: float, window: bool) -> None:
    # the interior's offsets truncate their coordinates, which row_runs found at or past the window's first pixel
    # (>= 0). Coordinates on and just either side of 0 (and of the window's first row and column): the taps
    # and the validity are the float64 floor's
    rng = np.random.default_rng(5)
    src = rng.integers(1, 60000, (2, 12, 14)).astype(np.uint16)
    mask = None
    if window:  # a valid rectangle from (3, 2): with nodata fill the kernel takes it as the input's bounds
        mask = np.zeros((1, 12, 14), dtype=bool)
        mask[0, 2:, 3:] = True
    x0, y0 = (3.0, 2.0) if window else (0.0, 0.0)
    out_shape = (9, 11)
    # output pixel centre j + 0.5 lands on x0 + nudge + scale * (j - 4): an exact x0 (+ nudge) at j = 4
    m = np.array([[scale, 0.0, x0 + nudge - 4.5 * scale], [0.0, abs(scale), y0 + nudge - 3.5 * abs(scale)],
                  [0.0, 0.0, 1.0]])
    out, omask = warp_affine(src, mask, m, out_shape, "nearest", fill="nodata", out_fill=0)
    # in the kernel's order of operations (a row's start, then + step * j): at exact ties the rounding matters
    ii, jj = np.mgrid[0:out_shape[0], 0:out_shape[1]].astype(np.float64)
    xx = np.floor((m[0, 0] * 0.5 + m[0, 1] * (ii + 0.5) + m[0, 2]) + m[0, 0] * jj).astype(np.int64)
    yy = np.floor((m[1, 0] * 0.5 + m[1, 1] * (ii + 0.5) + m[1, 2]) + m[1, 0] * jj).astype(np.int64)
    inside = (xx >= x0) & (xx < 14) & (yy >= y0) & (yy < 12)
    np.testing.assert_array_equal(omask[0], inside)
    want = np.where(inside, src[:, np.clip(yy, 0, 11), np.clip(xx, 0, 13)], 0)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(("signed", "unsigned"), [("int16", "uint16"), ("int32", "float32"), ("float64", "uint64")])
def test_dtypes_of_one_width_give_the_same_bits(signed: str, unsigned: str) -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 255, (4, 31, 29, np.dtype(signed).itemsize), dtype=np.uint8)
    a = raw.view(signed)[..., 0]
    mask = rng.random((1, 31, 29)) > 0.1
    m = _rotation(-37.0, 31, 29, shift=4.0)
    if unsigned == "uint64":  # not a raster dtype: compare with the kernel's own view of float64
        b_out = None
    else:
        b = a.view(unsigned)
        b_out, b_mask = warp_affine(b, mask, m, (30, 33), "nearest", fill="reflect")
    a_out, a_mask = warp_affine(a, mask, m, (30, 33), "nearest", fill="reflect")
    if b_out is not None:
        np.testing.assert_array_equal(a_out.view(np.uint8), b_out.view(np.uint8))
        np.testing.assert_array_equal(a_mask, b_mask)
    for sig in nearest.nearest_rows.signatures:  # one compiled kernel per width: unsigned views only
        assert sig[0].dtype.name in ("uint8", "uint16", "uint32", "uint64"), sig


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [0.0, 2.5, -3.5, 7.6, 70000.0, -1e40, 1e40, 3.4e38])
def test_fill_values_follow_the_store_rule_of_the_other_interpolations(dtype: str, value: float) -> None:
    # an output entirely outside the input: constant fill everywhere, stored by the kernel's rule
    src = np.ones((2, 8, 8), dtype=dtype)
    m = np.array([[1.0, 0.0, 100.0], [0.0, 1.0, 100.0], [0.0, 0.0, 1.0]])
    with np.errstate(over="ignore"):
        near, _ = warp_affine(src, None, m, (4, 5), "nearest", fill="constant", fill_value=value)
        bil, _ = warp_affine(src, None, m, (4, 5), "bilinear", fill="constant", fill_value=value)
    np.testing.assert_array_equal(near.view(np.uint8), bil.view(np.uint8))
    dt = np.dtype(dtype)
    assert nearest.nearest_fill_bits(value, dt, warp_module._work_dtype(dt)) == \
        int(near.reshape(-1)[:1].view(nearest.BITS[dt.itemsize])[0])


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("planes", [0, 1, 5])
def test_parallel_equals_serial(monkeypatch: pytest.MonkeyPatch, fill: str, planes: int) -> None:
    rng = np.random.default_rng(2)
    src = rng.integers(0, 60000, (5, 40, 37)).astype(np.uint16)
    mask = None if planes == 0 else rng.random((planes, 40, 37)) > 0.15
    m = _rotation(71.0, 40, 37, shift=9.0)
    kw = dict(fill=fill, fill_value=7.0, out_fill=3.0, return_all_valid=True)
    serial = warp_affine(src, mask, m, (45, 41), "nearest", **kw)
    monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    parallel = warp_affine(src, mask, m, (45, 41), "nearest", **kw)
    np.testing.assert_array_equal(serial[0], parallel[0])
    assert serial[2] == parallel[2]
    if serial[1] is not None:
        np.testing.assert_array_equal(serial[1], parallel[1])


@pytest.mark.parametrize("planes", [0, 1, 9])
@pytest.mark.parametrize("fill", ["nodata", "constant", "reflect"])
def test_blocks_band_passes_and_wide_offsets_change_nothing(monkeypatch: pytest.MonkeyPatch, planes: int,
                                                            fill: str) -> None:
    """9 bands in two groups (5 and 4: four bands per offset read, then one) over taps stored for the whole
    plane or for blocks of 5 rows (several per call, the last shorter), one group in blocks of 3 rows, with
    int64 tap offsets, one band per pass and one row per block: the bits of one group (passes of 4, 4 and 1)
    over the whole plane's uint32 offsets."""
    rng = np.random.default_rng(3)
    src = rng.integers(0, 60000, (9, 33, 29)).astype(np.uint16)
    mask = None if planes == 0 else rng.random((planes, 33, 29)) > 0.2
    m = _rotation(-29.0, 33, 29, shift=5.0)
    kw = dict(fill=fill, fill_value=7.0, out_fill=3.0, return_all_valid=True)
    want = warp_affine(src, mask, m, (37, 31), "nearest", **kw)
    # one group (31 columns: all 9 bands; taps read once) in blocks of 3 rows: 13 blocks, the last of 1
    monkeypatch.setattr(nearest, "ONCE_PIXELS", 31 * 3)
    variants = [warp_affine(src, mask, m, (37, 31), "nearest", **kw)]
    # groups of 5 and 4, whole-plane taps
    monkeypatch.setattr(warp_module, "_band_group", lambda *args: 5)
    variants.append(warp_affine(src, mask, m, (37, 31), "nearest", **kw))
    monkeypatch.setattr(nearest, "BLOCK_PIXELS", 31 * 5)  # blocks of 5 rows: 8 blocks, the last of 2
    variants.append(warp_affine(src, mask, m, (37, 31), "nearest", **kw))
    monkeypatch.setattr(nearest, "offset_dtype", lambda in_h, in_w: np.dtype(np.int64))
    variants.append(warp_affine(src, mask, m, (37, 31), "nearest", **kw))
    monkeypatch.setattr(nearest, "bands_per_pass", lambda *a: 1)  # one band per pass, one row per block
    variants.append(warp_affine(src, mask, m, (37, 31), "nearest", **kw))
    for got in variants:
        np.testing.assert_array_equal(got[0], want[0])
        assert got[2] == want[2]
        if want[1] is not None:
            np.testing.assert_array_equal(got[1], want[1])


def test_offset_type_follows_the_band_size() -> None:
    assert nearest.offset_dtype(65535, 65537) == np.uint32
    assert nearest.offset_dtype(65536, 65536) == np.int64


def test_taps_are_stored_for_a_unit_s_rows_unless_one_band_per_pass() -> None:
    assert nearest.block_rows(512, 512, 1, 4) == min(512, nearest.BLOCK_PIXELS // 512)
    assert nearest.block_rows(3, 10_000_000, 1, 4) == 1
    assert nearest.block_rows(100, 10, 8, 4) == 13  # one unit's rows at most
    assert nearest.block_rows(256, 256, 1, 1) == 1  # one band per pass
    # taps read by one band group only: blocks of about ONCE_PIXELS
    assert nearest.block_rows(512, 512, 1, 4, reused=False) == nearest.ONCE_PIXELS // 512
    assert nearest.block_rows(40, 64, 1, 4, reused=False) == 40
    assert nearest.block_rows(512, 100_000, 2, 4, reused=False) == 1
    assert nearest.bands_per_pass(13, 512 * 512, 512 * 512, 2) == 4
    assert nearest.bands_per_pass(200, 256 * 256, 256 * 256, 2) == 4  # past PASS_BYTES, a plane in one block
    assert nearest.bands_per_pass(13, 1024 * 1024, 1024 * 1024, 4) == 1  # past both
    assert nearest.bands_per_pass(2, 1024 * 1024, 1024 * 1024, 2) == 4  # a large plane within PASS_BYTES


@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("planes", [1, 3])
def test_collars_fill_the_row_ends_without_a_gather(holes: bool, planes: int) -> None:
    """A collar (invalid input pixels on all four sides) leaves invalid taps at the ends of each row, which
    are filled rather than gathered; holes inside take the select. numpy's answer, values and mask."""
    rng = np.random.default_rng(4)
    src = rng.integers(0, 60000, (3, 41, 37)).astype(np.uint16)
    mask = np.zeros((planes, 41, 37), bool)
    mask[:, 4:-5, 3:-6] = True
    if holes:
        mask[:, 20, 10:25] = False
        mask[-1, 8:30, 18] = False
    m = _rotation(17.0, 41, 37, shift=2.0)
    out, valid = warp_affine(src, mask, m, (43, 39), "nearest", fill="nodata", out_fill=9.0)
    yy, xx = _floor_taps(m, (43, 39))
    inside = (yy >= 0) & (yy < 41) & (xx >= 0) & (xx < 37)
    y, x = np.clip(yy, 0, 40), np.clip(xx, 0, 36)
    want_valid = inside[None] & mask[:, y, x]
    want = np.where(np.broadcast_to(want_valid, out.shape), src[:, y, x], 9)
    np.testing.assert_array_equal(valid, want_valid)
    np.testing.assert_array_equal(out, want)
    assert not want_valid[:, 20].all() and want_valid.any()


def test_steep_warps_gather_in_tiles() -> None:
    """Rows within a few cache lines of input columns (near a quarter turn) and crossing more input rows than
    a tile is wide gather in tiles; others, and short rows, row by row."""
    steep = _rotation(88.0, 512, 512)[:2].ravel()
    assert nearest.tile_columns(steep, 512, 2) == nearest.TILE_COLUMNS
    assert nearest.tile_columns(_rotation(-92.0, 512, 512)[:2].ravel(), 512, 4) == nearest.TILE_COLUMNS
    assert nearest.tile_columns(steep, 100, 2) == 0  # crosses fewer input rows than a tile's width
    assert nearest.tile_columns(steep, 1024, 8) == 0  # 1024 * 0.035 * 8 bytes: past STEEP_SPAN_BYTES
    assert nearest.tile_columns(_rotation(83.0, 512, 512)[:2].ravel(), 512, 2) == nearest.TILE_COLUMNS  # 125 bytes
    assert nearest.tile_columns(_rotation(83.0, 512, 512)[:2].ravel(), 512, 4) == 0  # 250 bytes
    for deg in (0.0, 17.0, 45.0, 75.0):
        assert nearest.tile_columns(_rotation(deg, 512, 512)[:2].ravel(), 512, 2) == 0


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
@pytest.mark.parametrize("planes", [0, 1, 9])
@pytest.mark.parametrize("fill", ["nodata", "constant", "reflect"])
@pytest.mark.parametrize("threads", [1, 2])
def test_tiles_give_the_bits_of_whole_rows(monkeypatch: pytest.MonkeyPatch, dtype: str, planes: int, fill: str,
                                           threads: int) -> None:
    """A steep warp (9 bands: passes of 4, 4 and 1; 75 rows in strips of STRIP_ROWS, the last shorter; tiles of 7
    columns, the last shorter) with a collar and holes in a shared mask or a mask per band (which goes row by row),
    and a plain float array tested for NaN as it is written: the bits and mask of the row-by-row gather, at one
    and two threads. With NaN pixels (fill "nodata") both see one (the rest is left unfinished, and the caller
    warps again with the mask)."""
    rng = np.random.default_rng(6)
    src = rng.integers(0, 60000, (9, 70, 66)).astype(dtype)
    mask = None
    if planes:
        mask = np.zeros((planes, 70, 66), bool)
        mask[:, 5:-4, 3:-6] = True
        mask[:, 30, 10:40] = False
        mask[-1, 8:50, 20] = False
    nan = planes == 0 and dtype == "float32" and fill == "nodata"
    if nan:
        src[2, 40:44, 30:33] = np.nan
    m = _rotation(91.0, 70, 66, shift=3.0) @ np.diag([1.05, 0.97, 1.0])
    kw = dict(fill=fill, fill_value=7.0, out_fill=3.0, return_all_valid=True, return_nan=True)
    monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0 if threads == 2 else warp_module.PARALLEL_MIN_WORK)
    monkeypatch.setattr(warp_module.threads, "num_threads", lambda: threads)
    monkeypatch.setattr(nearest, "tile_columns", lambda *a: 0)
    want = warp_affine(src, mask, m, (75, 69), "nearest", **kw)
    monkeypatch.setattr(nearest, "tile_columns", lambda *a: 7)
    got = warp_affine(src, mask, m, (75, 69), "nearest", **kw)
    assert got[3] == want[3] == nan
    if nan:
        return
    np.testing.assert_array_equal(got[0].view(nearest.BITS[src.itemsize]), want[0].view(nearest.BITS[src.itemsize]))
    assert got[2] == want[2]
    if want[1] is not None:
        np.testing.assert_array_equal(got[1], want[1])
