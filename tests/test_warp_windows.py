"""Masks whose valid pixels are one rectangle: the warp reads them as the input's bounds (kernels/window.py).

The window path must give the bytes the per-pixel mask path gives (``warp._WINDOWS`` off), for every
interpolation, dtype, with and without ``renormalize``, the serial and the parallel entry, windows of every size
down to one pixel and touching each edge, rotations and sub-pixel shifts (source coordinates on whole pixels:
taps of weight 0 across the window's edge); masks that are not one rectangle, and other fill modes, keep the
per-pixel path.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import TILES

from geoaug import geometry
from geoaug.kernels import warp as warp_module
from geoaug.kernels.warp import warp_affine
from geoaug.kernels.window import valid_window


def _data(rng: np.random.Generator, bands: int, h: int, w: int, dtype: str) -> np.ndarray:
    if dtype.startswith("float"):
        return (rng.standard_normal((bands, h, w)) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, (bands, h, w), dtype=dtype)


def _window_mask(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((1, h, w), dtype=bool)
    mask[0, y0:y1, x0:x1] = True
    return mask


def _both(monkeypatch: pytest.MonkeyPatch, *args: object, **kw: object) -> tuple:
    """The warp through the window path (checked taken) and through the per-pixel mask path."""
    found: list[object] = []
    real = warp_module.valid_window
    monkeypatch.setattr(warp_module, "valid_window", lambda *a: found.append(real(*a)) or found[-1])
    got = warp_affine(*args, **kw)
    monkeypatch.setattr(warp_module, "valid_window", real)
    if np.asarray(args[1]).all():  # the window is the whole input: no mask to read, none looked for
        assert not found
    else:
        assert len(found) == 1 and found[0] is not None  # the window path ran
    monkeypatch.setattr(warp_module, "_WINDOWS", False)
    want = warp_affine(*args, **kw)
    monkeypatch.setattr(warp_module, "_WINDOWS", True)
    return got, want


def _same(got: tuple, want: tuple) -> None:
    assert got[0].dtype == want[0].dtype
    assert got[0].tobytes() == want[0].tobytes()
    if len(got) == 3:
        assert got[2] == want[2]
        if got[1] is None or want[1] is None:
            assert got[1] is None and want[1] is None
            return
    np.testing.assert_array_equal(got[1], want[1])


def test_valid_window_finds_exactly_one_rectangle() -> None:
    rng = np.random.default_rng(0)
    for _ in range(3000):
        h, w = (int(v) for v in rng.integers(1, 12, 2))
        kind = rng.integers(0, 4)
        mask = np.zeros((h, w), dtype=bool)
        if kind:  # a rectangle, maybe with a pixel flipped inside or outside it
            y0, y1 = sorted(int(v) for v in rng.integers(0, h + 1, 2))
            x0, x1 = sorted(int(v) for v in rng.integers(0, w + 1, 2))
            mask[y0:y1, x0:x1] = True
            if kind == 2:
                mask[rng.integers(0, h), rng.integers(0, w)] ^= True
        else:
            mask = rng.random((h, w)) < rng.random()
        got = valid_window(mask.reshape(-1), h, w)
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            assert got is None
            continue
        bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        is_rect = mask[by0:by1, bx0:bx1].all()
        if is_rect:
            assert got is not None and tuple(got) == (bx0, by0, bx1, by1)
        else:
            assert got is None


def test_valid_window_reads_truthy_bytes_as_valid() -> None:
    raw = np.zeros((4, 5), dtype=np.uint8)
    raw[1:3, 2:4] = 255  # a bool array viewed from bytes other than 0/1
    assert tuple(valid_window(raw.view(bool).reshape(-1), 4, 5)) == (2, 1, 4, 3)


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
def test_window_path_gives_the_mask_paths_bytes(monkeypatch: pytest.MonkeyPatch, interp: str, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{interp} {dtype}".encode()))
    for k in range(60):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        bands = int(rng.choice([1, 3, 5]))
        src = _data(rng, bands, h, w, dtype)
        x0, x1 = sorted(int(v) for v in rng.integers(0, w + 1, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h + 1, 2))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        x1, y1 = min(x1, w), min(y1, h)
        x0, y0 = min(x0, x1 - 1), min(y0, y1 - 1)
        mask = _window_mask(h, w, x0, y0, x1, y1)
        assert tuple(valid_window(mask.reshape(-1), h, w)) == (x0, y0, x1, y1)
        oh, ow = (int(v) for v in rng.integers(1, 45, 2))
        if k % 3:  # a rotation and zoom
            m = geometry.affine_matrix((h, w), rotate=float(rng.uniform(-180, 180)),
                                       scale=float(rng.uniform(0.5, 2)), translate_x=float(rng.uniform(-3, 3)),
                                       translate_y=float(rng.uniform(-3, 3)))
        else:  # a shift by whole and half pixels: source coordinates on pixel centres, taps of weight 0
            m = np.array([[1.0, 0.0, float(rng.integers(-4, 5)) / 2], [0.0, 1.0, float(rng.integers(-4, 5)) / 2],
                          [0.0, 0.0, 1.0]])
        renorm = bool(rng.integers(0, 2)) and interp != "nearest"
        skip = bool(rng.integers(0, 2))
        got, want = _both(monkeypatch, src, mask, m, (oh, ow), interp, fill="nodata", out_fill=7,
                          renormalize=renorm, return_all_valid=skip)
        _same(got, want)


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
def test_window_path_parallel_entry(monkeypatch: pytest.MonkeyPatch, interp: str) -> None:
    monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    calls: list[str] = []
    if interp == "nearest":
        real_nearest = warp_module.nearest.nearest_parallel
        monkeypatch.setattr(warp_module.nearest, "nearest_parallel",
                            lambda *a: calls.append("nearest") or real_nearest(*a))
    else:
        code = warp_module.INTERPOLATIONS[interp]
        serial, real_entry = warp_module._ENTRIES[code]
        monkeypatch.setitem(warp_module._ENTRIES, code, (serial, lambda *a: calls.append(interp) or real_entry(*a)))
    rng = np.random.default_rng(3)
    src = _data(rng, 6, 50, 61, "uint16")
    mask = _window_mask(50, 61, 5, 6, 55, 44)
    m = geometry.affine_matrix((50, 61), rotate=17, scale=1.1)
    got, want = _both(monkeypatch, src, mask, m, (48, 57), interp, fill="nodata", return_all_valid=True,
                      renormalize=interp == "cubic")
    _same(got, want)
    assert calls == [interp, interp]  # both paths through the parallel entry


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
def test_collar_of_a_512_raster_and_the_identity(monkeypatch: pytest.MonkeyPatch, interp: str) -> None:
    """The benchmark's collar (a tenth of each side) through a rotation, and the identity: a pixel is valid
    exactly inside the window, with the input's value."""
    rng = np.random.default_rng(4)
    src = _data(rng, 2, 512, 512, "uint16")
    mask = _window_mask(512, 512, 51, 51, 461, 461)
    m = geometry.affine_matrix((512, 512), rotate=17)
    got, want = _both(monkeypatch, src, mask, m, (512, 512), interp, fill="nodata")
    _same(got, want)
    data, dmask = warp_affine(src, mask, np.eye(3), (512, 512), interp, fill="nodata", out_fill=9)
    np.testing.assert_array_equal(dmask, mask)
    assert (data[:, mask[0]] == src[:, mask[0]]).all() and (data[:, ~mask[0]] == 9).all()


def test_other_masks_and_fills_keep_the_per_pixel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window is read as the bounds only with fill="nodata" and one mask plane: other fills see the invalid
    pixels inside the input (constant fill makes outside taps valid, not the collar's), and so do masks with a
    hole or per-band planes."""
    seen: list[object] = []
    real = warp_module.valid_window

    def spy(*a: object) -> object:
        seen.append(a)
        return real(*a)

    monkeypatch.setattr(warp_module, "valid_window", spy)
    rng = np.random.default_rng(5)
    src = _data(rng, 3, 30, 30, "float32")
    mask = _window_mask(30, 30, 3, 4, 25, 27)
    m = geometry.affine_matrix((30, 30), rotate=30)
    for fill in ("constant", "edge", "reflect", "mirror", "wrap"):
        warp_affine(src, mask, m, (30, 30), "bilinear", fill=fill, fill_value=5.0)
    assert not seen
    warp_affine(src, np.repeat(mask, 3, axis=0), m, (30, 30), "bilinear", fill="nodata")
    assert not seen
    holed = mask.copy()
    holed[0, 10, 10] = False
    warp_affine(src, holed, m, (30, 30), "bilinear", fill="nodata")
    assert len(seen) == 1  # looked, and found no window
    # constant fill differs from nodata at the collar: the window must not have been used there
    _, dmask = warp_affine(src, mask, np.eye(3), (30, 30), "bilinear", fill="constant", fill_value=5.0)
    np.testing.assert_array_equal(dmask, mask)


@pytest.mark.parametrize("interp", ["bilinear", "cubic"])
@pytest.mark.parametrize("renorm", [False, True])
@pytest.mark.parametrize("fill_value", [np.nan, np.inf, -5.0])
@pytest.mark.parametrize("fill", ["nodata", "edge"])
def test_unused_fill_value_never_reaches_a_pixel(interp: str, renorm: bool, fill_value: float, fill: str) -> None:
    """Only fill="constant" uses the fill value: under nodata or edge fill a NaN or infinite one never reaches
    a valid pixel (the pixels at the edge, whose outside taps have weight 0 or are renormalized away or mapped
    inside, took 0 * NaN), with a mask whose valid pixels are a rectangle too."""
    src = np.arange(120, dtype=np.float32).reshape(1, 10, 12)
    rect = _window_mask(10, 12, 1, 2, 11, 9)
    for m, mask in ((np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), None),
                    (geometry.affine_matrix((10, 12), rotate=25), None),
                    (np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), rect)):
        want = warp_affine(src, mask, m, (10, 12), interp, fill=fill, renormalize=renorm)
        got = warp_affine(src, mask, m, (10, 12), interp, fill=fill, fill_value=fill_value, renormalize=renorm)
        assert got[0].tobytes() == want[0].tobytes()
        np.testing.assert_array_equal(got[1], want[1])
        assert not np.isnan(got[0][got[1]]).any()


def test_a_boundless_read_of_a_real_tile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A chip read past a real tile's edge (rasterio, ``boundless=True``) and written with a nodata tag reads back
    with a rectangle of valid pixels; ``Affine`` on it takes the window path and gives the per-pixel path's
    data, mask and geotransform."""
    import rasterio
    from rasterio.windows import Window

    import geoaug

    tile = TILES / "bigearthnet_s2_12band_uint16.tif"
    out = tmp_path / "chip.tif"
    with rasterio.open(tile) as src:  # a 128² chip from 20 columns left of and 16 rows above the 120² tile
        win = Window(-20, -16, 128, 128)
        data = src.read(window=win, boundless=True, fill_value=65535)
        profile = {**src.profile, "width": 128, "height": 128, "nodata": 65535,
                   "transform": src.window_transform(win)}
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    chip = geoaug.read(out)
    assert tuple(valid_window(np.ascontiguousarray(chip.mask).reshape(-1), 128, 128)) == (20, 16, 128, 128)
    real = warp_module.valid_window
    found: list[object] = []
    monkeypatch.setattr(warp_module, "valid_window", lambda *a: found.append(real(*a)) or found[-1])
    for interp in ("nearest", "bilinear", "cubic"):
        t = geoaug.Affine(rotate=23, scale=1.1, interpolation=interp)
        found.clear()
        got = t(chip, rng=0)
        monkeypatch.setattr(warp_module, "_WINDOWS", False)
        want = t(chip, rng=0)
        monkeypatch.setattr(warp_module, "_WINDOWS", True)
        assert found and found[0] is not None
        assert got.data.tobytes() == want.data.tobytes()
        np.testing.assert_array_equal(got.mask, want.mask)
        assert got.transform == want.transform and got.crs == want.crs
        assert got.mask.any() and not got.mask.all()
