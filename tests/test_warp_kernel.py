"""The warp kernel against a plain-numpy float64 implementation of the same rules.

The reference below computes every output pixel in float64 with numpy (no numba): the
same coordinates, taps, weights, fill modes, validity rule and renormalisation as the
kernel documents. The kernel computes small integers and float32 in float32, so it may
differ by 1 DN (integers, a rounding tie moved) or 1e-5 of the data's magnitude (float32);
int32 and float64 are computed in float64 (1 DN / 1e-9 relative). Masks must be equal.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BY_DTYPE
from helpers import DTYPES

import geoaug
from geoaug import geometry
from geoaug.errors import ParameterError, UnsupportedDtypeError
from geoaug.kernels import warp_affine
from geoaug.kernels.warp import CUBIC_A

FILLS = ("nodata", "constant", "edge", "reflect", "mirror", "wrap")
INTERPS = ("nearest", "bilinear", "cubic")


def _map(k: np.ndarray, n: int, fill: str) -> np.ndarray:
    """Tap index -> index inside ``[0, n)``, or -1 (outside, for nodata/constant)."""
    inside = (k >= 0) & (k < n)
    if fill == "edge":
        out = np.clip(k, 0, n - 1)
    elif fill == "reflect":
        r = np.mod(k, 2 * n)
        out = np.where(r < n, r, 2 * n - 1 - r)
    elif fill == "mirror":
        if n == 1:
            out = np.zeros_like(k)
        else:
            r = np.mod(k, 2 * n - 2)
            out = np.where(r < n, r, 2 * n - 2 - r)
    elif fill == "wrap":
        out = np.mod(k, n)
    else:
        out = np.full_like(k, -1)
    return np.where(inside, k, out)


def _cubic(t: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    t = np.abs(t)
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


def reference_warp(src: np.ndarray, mask: np.ndarray, m: np.ndarray, out_shape: tuple[int, int], interp: str,
                   fill: str, fill_value: float = 0.0, out_fill: float = 0.0,
                   renormalize: bool = False, cond: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """float64 numpy warp with the kernel's documented rules.

    ``cond``, if given (planes, rows, cols), receives each pixel's condition number
    ``sum |w| / |sum w|`` over the valid taps: how much renormalising amplifies rounding.
    """
    nb, ih, iw = src.shape
    oh, ow = out_shape
    ii, jj = np.mgrid[0:oh, 0:ow].astype(np.float64)
    half = 0.0 if interp == "nearest" else 0.5
    xs = m[0, 0] * (jj + 0.5) + m[0, 1] * (ii + 0.5) + m[0, 2] - half
    ys = m[1, 0] * (jj + 0.5) + m[1, 1] * (ii + 0.5) + m[1, 2] - half
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = xs - x0, ys - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    if interp == "nearest":
        offs, wx, wy = [0], [np.ones_like(fx)], [np.ones_like(fy)]
    elif interp == "bilinear":
        offs, wx, wy = [0, 1], [1.0 - fx, fx], [1.0 - fy, fy]
    else:
        offs = [-1, 0, 1, 2]
        wx = [_cubic(fx - t) for t in offs]
        wy = [_cubic(fy - t) for t in offs]
    data = src.astype(np.float64)
    nm = mask.shape[0]
    out = np.zeros((nb, oh, ow))
    valid = np.zeros((nm, oh, ow), bool)
    for p in range(nm):
        mk = mask[p]
        bands = range(nb) if nm == 1 else [p]
        acc = np.zeros((nb, oh, ow))
        wsum = np.zeros((oh, ow))
        wabs = np.zeros((oh, ow))
        good = np.ones((oh, ow), bool)
        for ty, oy in enumerate(offs):
            yy = _map(y0 + oy, ih, fill)
            for tx, ox in enumerate(offs):
                xx = _map(x0 + ox, iw, fill)
                w = wy[ty] * wx[tx]
                outside = (yy < 0) | (xx < 0)
                tap_valid = np.where(outside, fill == "constant", mk[yy.clip(0), xx.clip(0)])
                wsum += np.where(tap_valid, w, 0.0)
                wabs += np.where(tap_valid, np.abs(w), 0.0)
                good &= tap_valid | (w == 0.0)
                use = tap_valid & (w != 0.0)
                for b in bands:
                    v = np.where(outside, fill_value, data[b][yy.clip(0), xx.clip(0)])
                    acc[b] += np.where(use, w * np.where(use, v, 0.0), 0.0)
        if cond is not None:
            cond[p] = np.where(np.abs(wsum) > 1e-6, wabs / np.maximum(np.abs(wsum), 1e-6), 1.0)
        if renormalize:
            good = np.abs(wsum) > 1e-6
            for b in bands:
                acc[b] = np.where(good, acc[b] / np.where(good, wsum, 1.0), 0.0)
        valid[p] = good
        for b in bands:
            out[b] = np.where(good, acc[b], out_fill)
    if src.dtype.kind in "iu":
        info = np.iinfo(src.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(src.dtype), valid


def _random_matrix(rng: np.random.Generator, in_shape: tuple[int, int], out_shape: tuple[int, int]) -> np.ndarray:
    """Random rotation/scale/shear/shift centred on the input, sometimes far off or axis-aligned."""
    ih, iw = in_shape
    oh, ow = out_shape
    ang = rng.uniform(-np.pi, np.pi) if rng.random() < 0.8 else rng.integers(0, 4) * np.pi / 2
    sx, sy = rng.uniform(0.4, 2.5, 2) if rng.random() < 0.8 else (1.0, 1.0)
    sh = rng.uniform(-0.4, 0.4)
    lin = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) @ np.array([[sx, sh], [0, sy]])
    c_in = np.array([iw / 2, ih / 2]) + rng.normal(0, max(ih, iw) / 3, 2)
    if rng.random() < 0.2:
        c_in += rng.choice([-1, 1], 2) * max(ih, iw) * 1.5  # mostly outside the input
    c_out = np.array([ow / 2, oh / 2])
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = c_in - lin @ c_out
    return m


def _data(rng: np.random.Generator, bands: int, h: int, w: int, dtype: str) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.normal(500, 300, (bands, h, w)).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, (bands, h, w), endpoint=True, dtype=dt)


def _assert_close(out: np.ndarray, ref: np.ndarray, src: np.ndarray, cond: np.ndarray | None = None) -> None:
    """1 DN (integers) or 1e-5 of the data's magnitude (float32; 1e-9 float64).

    ``cond`` (renormalised pixels' ``sum |w| / |sum w|``) widens the bound where renormalising
    over nearly cancelling cubic weights amplifies the float32 rounding of the weights.
    """
    amp = 1.0 if cond is None else np.broadcast_to(cond if cond.shape[0] == out.shape[0] else cond[:1], out.shape)
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    if src.dtype.kind in "iu":
        bits = 2.0**-23 if np.dtype(src.dtype).itemsize < 4 else 2.0**-52
        tol = 1.0 + 16 * bits * np.abs(ref.astype(np.float64)) * (amp - 1.0)
        assert (diff <= tol).all(), diff.max()
    else:
        scale = max(1.0, float(np.abs(src[np.isfinite(src)]).max(initial=0.0)))
        rel = 1e-5 if src.dtype == np.float32 else 1e-9
        tol = rel * amp * (scale + np.abs(ref.astype(np.float64)))
        bad = ~(diff <= tol) & ~(np.isnan(out) & np.isnan(ref))
        assert not bad.any(), (diff[bad].max(), out[bad][:5], ref[bad][:5])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("interp", INTERPS)
def test_matches_float64_reference(dtype: str, interp: str, seed: int) -> None:
    rng = np.random.default_rng([seed, DTYPES.index(dtype), INTERPS.index(interp)])
    for k in range(18):
        ih, iw = rng.integers(1, 23, 2)
        oh, ow = rng.integers(1, 23, 2)
        bands = int(rng.choice([1, 2, 4, 13]))
        src = _data(rng, bands, ih, iw, dtype)
        kind = k % 3  # all valid / a collar and holes in a shared mask / per-band masks
        if kind == 0:
            mask = np.ones((1, ih, iw), bool)
        elif kind == 1:
            mask = rng.random((1, ih, iw)) > 0.15
            mask[:, :2] = False
        else:
            mask = rng.random((bands, ih, iw)) > 0.3
        if dtype.startswith("float"):
            src[np.broadcast_to(~mask, src.shape)] = np.nan  # NaN under invalid pixels must never leak
        fill = FILLS[k % len(FILLS)]
        renorm = bool(rng.random() < 0.25)
        m = _random_matrix(rng, (ih, iw), (oh, ow))
        info = np.iinfo(dtype) if dtype[0] in "ui" else None
        fill_value = float(rng.integers(0, 100))
        out_fill = float(info.max if info is not None else -9999.0)
        out, valid = warp_affine(src, mask, m, (oh, ow), interp, fill, fill_value, out_fill, renorm)
        cond = np.ones((mask.shape[0], oh, ow))
        ref, rvalid = reference_warp(src, mask, m, (oh, ow), interp, fill, fill_value, out_fill, renorm, cond)
        assert out.dtype == src.dtype and out.shape == (bands, oh, ow)
        np.testing.assert_array_equal(valid, rvalid, err_msg=f"{fill} renorm={renorm} case {k}")
        _assert_close(out, ref, src, cond if renorm else None)


@pytest.mark.parametrize("bands", [1, 4, 13, 200])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_band_counts_and_nodata_paths_agree(bands: int, dtype: str) -> None:
    """All-valid input with mask=None, with an all-True mask, and per band: same pixels; reference agrees."""
    rng = np.random.default_rng(bands)
    h, w = 40, 56
    src = _data(rng, bands, h, w, dtype)
    m = geometry.affine_matrix((h, w), rotate=29, scale=1.2, translate_x=3.3)
    for interp in INTERPS:
        a, ma = warp_affine(src, None, m, (h, w), interp)
        b, mb = warp_affine(src, np.ones((1, h, w), bool), m, (h, w), interp)
        c, mc = warp_affine(src, np.ones((bands, h, w), bool), m, (h, w), interp)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(ma, mb)
        np.testing.assert_array_equal(np.broadcast_to(ma, mc.shape), mc)
        assert 0.5 < ma.mean() < 1.0
        # a collar: the nodata path gives the all-valid values wherever the output stays valid
        mask = np.ones((1, h, w), bool)
        mask[:, :, :5] = False
        d, md = warp_affine(src, mask, m, (h, w), interp)
        assert md.sum() < ma.sum()
        np.testing.assert_array_equal(d[:, md[0]], a[:, md[0]])
        if bands <= 13:
            ref, rvalid = reference_warp(src, mask, m, (h, w), interp, "nodata")
            np.testing.assert_array_equal(md, rvalid)
            _assert_close(d, ref, src)


def test_out_buffers_are_filled_and_returned() -> None:
    rng = np.random.default_rng(5)
    src = _data(rng, 13, 30, 30, "int16")
    mask = rng.random((13, 30, 30)) > 0.1
    m = geometry.affine_matrix((30, 30), rotate=10)
    want, want_mask = warp_affine(src, mask, m, (25, 35), "cubic", out_fill=-1)
    out = np.full((13, 25, 35), 77, np.int16)
    out_mask = np.zeros((13, 25, 35), bool)
    got, got_mask = warp_affine(src, mask, m, (25, 35), "cubic", out_fill=-1, out=out, out_mask=out_mask)
    assert got is out and got_mask is out_mask
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(out_mask, want_mask)
    # reused: a second call into the same buffers overwrites every pixel
    out2, _ = warp_affine(src[:, ::-1].copy(), mask, m, (25, 35), "cubic", out_fill=-1, out=out, out_mask=out_mask)
    want2, _ = warp_affine(src[:, ::-1].copy(), mask, m, (25, 35), "cubic", out_fill=-1)
    np.testing.assert_array_equal(out2, want2)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_matrix_of_any_memory_layout_gives_the_same_warp_and_no_new_compile(monkeypatch: pytest.MonkeyPatch,
                                                                            interp: str, parallel: bool) -> None:
    from geoaug.kernels import nearest
    from geoaug.kernels import warp as warp_module

    if parallel:  # the parallel entry, whose row kernel's address is looked up per matrix layout flags
        monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
        monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    rng = np.random.default_rng(8)
    src = _data(rng, 3, 30, 30, "uint16")
    m = geometry.affine_matrix((30, 30), rotate=21, scale=1.1)
    want, want_mask = warp_affine(src, None, m, (28, 31), interp)
    kernel = nearest.nearest_rows if interp == "nearest" else warp_module._rows_bilinear
    before = set(kernel.signatures)
    spread = np.zeros(24)
    spread[::2][:9] = m.ravel()
    layouts = {
        "C": m, "F": np.asfortranarray(m), "2x3": m[:2].copy(), "nested list": m.tolist(),
        # a uniformly strided view: its first two rows reshape to a strided 1-D view, not a copy
        "strided": spread[::2][:6].reshape(2, 3),
        "negative strides": m[::-1, ::-1].copy()[::-1, ::-1],
    }
    for name, mm in layouts.items():
        got, got_mask = warp_affine(src, None, mm, (28, 31), interp)
        assert got.tobytes() == want.tobytes(), name
        np.testing.assert_array_equal(got_mask, want_mask)
    assert set(kernel.signatures) == before  # every layout reached the kernel as the C-ordered six numbers


def test_matrix_check_accepts_huge_coefficients_whose_corners_fit() -> None:
    # the six numbers are finite and each corner lies inside, though their plain sum would overflow
    src = np.arange(4, dtype=np.uint16).reshape(1, 2, 2)
    m = np.array([[0.0, 1.5e308, -0.75e308], [0.0, 1.5e308, -0.75e308], [0.0, 0.0, 1.0]])
    out, mask = warp_affine(src, None, m, (1, 1), "nearest")  # the one pixel's centre maps to (0, 0)
    assert out.tolist() == [[[0]]] and mask.all()
    with pytest.raises(ParameterError, match="finite"):
        warp_affine(src, None, np.array([[1.0, 0.0, np.inf], [0.0, 1.0, -np.inf]]), (1, 1), "nearest")


def test_return_all_valid_flag() -> None:
    rng = np.random.default_rng(6)
    src = _data(rng, 3, 40, 40, "uint16")
    inside = geometry.affine_matrix((40, 40), rotate=3, scale=1.3)  # zoomed in: output footprint well inside the input
    data, mask, all_valid = warp_affine(src, None, inside, (40, 40), "bilinear", return_all_valid=True)
    assert all_valid and mask is None
    np.testing.assert_array_equal(data, warp_affine(src, None, inside, (40, 40), "bilinear")[0])
    # edge fill: every output pixel valid even when the footprint leaves the input
    rotated = geometry.affine_matrix((40, 40), rotate=40)
    _, mask, all_valid = warp_affine(src, None, rotated, (40, 40), "cubic", "edge", return_all_valid=True)
    assert all_valid and mask is None
    # nodata fill: the corners are invalid, the full mask comes back
    data, mask, all_valid = warp_affine(src, np.ones((1, 40, 40), bool), rotated, (40, 40), "cubic",
                                        return_all_valid=True)
    want, want_mask = warp_affine(src, np.ones((1, 40, 40), bool), rotated, (40, 40), "cubic")
    assert not all_valid
    np.testing.assert_array_equal(mask, want_mask)
    np.testing.assert_array_equal(data, want)


def test_real_collar_tile_nodata_path_matches_reference() -> None:
    r = geoaug.read(BY_DTYPE["uint16"])
    mask = r.mask[None] if r.mask.ndim == 2 else r.mask
    assert not mask.all()
    m = geometry.affine_matrix((r.height, r.width), rotate=-21, scale=1.15, translate_y=4.5)
    shape = (r.height // 2, r.width // 2)
    crop = geometry.compose(geometry.translation(r.width / 4, r.height / 4), m)  # a chip across the collar
    for interp in INTERPS:
        out, valid = warp_affine(r.data, mask, crop, shape, interp, out_fill=0)
        assert 0.5 < valid.mean() < 1.0  # the chip crosses the collar
        ref, rvalid = reference_warp(r.data, mask, crop, shape, interp, "nodata")
        np.testing.assert_array_equal(valid, rvalid)
        _assert_close(out, ref, r.data)


def test_bad_arguments_raise_parameter_errors() -> None:
    src = np.zeros((2, 8, 8), np.uint16)
    mask = np.ones((1, 8, 8), bool)
    eye = np.eye(3)
    with pytest.raises(ParameterError, match="interpolation"):
        warp_affine(src, mask, eye, (8, 8), "lanczos")
    with pytest.raises(ParameterError, match="fill"):
        warp_affine(src, mask, eye, (8, 8), "nearest", fill="zeros")
    with pytest.raises(ParameterError, match="mask"):
        warp_affine(src, np.ones((3, 8, 8), bool), eye, (8, 8))
    with pytest.raises(ParameterError, match="mask"):
        warp_affine(src, np.ones((1, 8, 8), np.uint8), eye, (8, 8))
    with pytest.raises(ParameterError, match="finite"):
        warp_affine(src, mask, np.full((3, 3), np.nan), (8, 8))
    with pytest.raises(ParameterError, match="matrix"):
        warp_affine(src, mask, np.eye(2), (8, 8))
    with pytest.raises(ParameterError, match="out_shape"):
        warp_affine(src, mask, eye, (0, 8))
    with pytest.raises(ParameterError, match="out_fill"):
        warp_affine(src, mask, eye, (8, 8), out_fill=-1)
    with pytest.raises(ParameterError, match="out must"):
        warp_affine(src, mask, eye, (8, 8), out=np.zeros((2, 8, 8), np.int16))
    with pytest.raises(ParameterError, match="out_mask"):
        warp_affine(src, mask, eye, (8, 8), out_mask=np.zeros((2, 8, 8), bool))
    with pytest.raises(ParameterError, match="C-contiguous"):
        warp_affine(src, mask, eye, (8, 8), out=np.zeros((2, 8, 16), np.uint16)[:, :, ::2])
    with pytest.raises(ParameterError, match="src"):
        warp_affine(np.zeros((2, 0, 8), np.uint16), mask, eye, (8, 8))
    with pytest.raises(UnsupportedDtypeError):
        warp_affine(src.astype(np.int8), mask, eye, (8, 8))


@pytest.mark.parametrize("columns", [1, 40])
@pytest.mark.parametrize("per_band", [False, True])
def test_band_groups_match_one_pass(monkeypatch: pytest.MonkeyPatch, columns: int, per_band: bool) -> None:
    """Bands split into groups (one pass over the rows per group) give what one pass over all bands gives."""
    from geoaug.kernels import warp as W

    rng = np.random.default_rng(11)
    bands, h, w = 7, 30, 20
    src = _data(rng, bands, h, w, "uint16")
    mask = rng.random((bands if per_band else 1, h, w)) > 0.2
    m = geometry.affine_matrix((h, w), rotate=23, scale=1.1)
    for interp in ("nearest", "bilinear", "cubic"):
        for skip in (False, True):
            one = warp_affine(src, mask, m, (h, w), interp, return_all_valid=skip)
            # groups of 1 (columns=1) or 2 bands (uint16 cubic: by the width squared); the other interpolations'
            # constants left at 0 (groups of 1)
            if interp == "cubic":
                monkeypatch.setattr(W, "_GROUP_AREA_CUBIC_NARROW", columns * w)
            else:
                monkeypatch.setattr(W, "_GROUP_COLUMNS", columns)
            monkeypatch.setattr(W, "_GROUP_COLUMNS" if interp == "cubic" else "_GROUP_AREA_CUBIC_NARROW", 0)
            monkeypatch.setattr(W, "_GROUP_COLUMNS_CUBIC", 0)
            assert W._band_group(w, W.INTERPOLATIONS[interp], src.itemsize) == max(1, columns // w)
            grouped = warp_affine(src, mask, m, (h, w), interp, return_all_valid=skip)
            monkeypatch.undo()
            for a, b in zip(one, grouped):
                np.testing.assert_array_equal(a, b)
            ref, rvalid = reference_warp(src, mask, m, (h, w), interp, "nodata")
            np.testing.assert_array_equal(grouped[1], rvalid)
            _assert_close(grouped[0], ref, src)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("interp", INTERPS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint16"])
def test_return_nan_reports_a_nan_that_came_out(monkeypatch: pytest.MonkeyPatch, dtype: str, interp: str,
                                                parallel: bool) -> None:
    # a plain float array is warped as all valid first (functional.warp): each row kernel tests the rows it wrote
    # and reports a NaN in its own slot; without one the result is the call's without return_nan, bit for bit
    from geoaug.kernels import warp as warp_module

    if parallel:  # units of band groups by row chunks, one slot each
        monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
        monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    rng = np.random.default_rng(12)
    src = _data(rng, 5, 40, 36, dtype)
    m = geometry.affine_matrix((40, 36), rotate=23, scale=0.9)
    for fill in ("nodata", "constant", "reflect"):
        kw = dict(interpolation=interp, fill=fill, fill_value=7.0, out_fill=3.0, return_all_valid=True)
        got = warp_affine(src, None, m, (38, 41), return_nan=True, **kw)
        want = warp_affine(src, None, m, (38, 41), **kw)
        assert got[3] is False and got[2] is want[2]
        assert got[0].tobytes() == want[0].tobytes()
        if want[1] is not None:
            np.testing.assert_array_equal(got[1], want[1])
    if dtype == "uint16":
        return
    centre = geometry.affine_matrix((40, 36), rotate=23)
    for row, col in ((0, 18), (20, 18), (39, 18), (0, 0)):  # read by the first, middle or last output rows (one
        # unit's), or (the corner, with nodata fill) by none
        x = src.copy()
        x[4, row, col] = np.nan
        for fill in ("nodata", "edge"):
            nan = warp_affine(x, None, centre, (40, 36), interp, fill, return_nan=True)[2]
            # read at a non-zero weight exactly when the masked warp invalidates an output pixel more
            masked = warp_affine(x, ~np.isnan(x), centre, (40, 36), interp, fill)[1]
            clean = warp_affine(src, None, centre, (40, 36), interp, fill)[1]
            assert nan is bool((masked[4] != clean[0]).any()), (row, col, fill)
            if (row, col) == (20, 18):  # the centre: read whatever the fill
                assert nan
            if (row, col, fill) == (0, 0, "nodata"):  # the corner: outside the rotated output, never read
                assert not nan
    # a mask given: nothing looked for, the masked warp
    x = src.copy()
    x[1, 20, 18] = np.nan
    data, mask, nan = warp_affine(x, ~np.isnan(x), centre, (40, 36), interp, return_nan=True)
    assert nan is False and not np.isnan(data).any() and not mask[1].all()


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("interp", INTERPS)
def test_return_nan_tests_every_row(monkeypatch: pytest.MonkeyPatch, interp: str, parallel: bool) -> None:
    # the kernels test the rows they wrote every SCAN_VALUES values of a band (here every 32 rows of 64): a NaN
    # in any row, the first and last of each stretch included, is found, in the band it is in
    from geoaug.kernels import warp as warp_module
    from geoaug.kernels.nans import SCAN_VALUES

    if parallel:
        monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
        monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    h, w = 150, 64  # output rows; input rows 4 apiece: the taps of each output row (cubic: 4 rows) are its own
    assert SCAN_VALUES // w < h // 3
    src = _data(np.random.default_rng(13), 3, 4 * h, w, "float32")
    m = np.array([[1.0, 1e-9, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 1.0]])  # not a strided copy, not axis-aligned
    for row in range(h):
        x = src.copy()
        x[row % 3, 4 * row + 2, (5 * row) % w] = np.nan  # read by output row ``row`` only, at a non-zero weight
        assert warp_affine(x, None, m, (h, w), interp, "edge", return_nan=True)[2] is True, row
    assert warp_affine(src, None, m, (h, w), interp, "edge", return_nan=True)[2] is False
