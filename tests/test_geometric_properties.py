"""Hypothesis properties of the geometric kernels and transforms (band counts 1..40, every dtype)."""

from __future__ import annotations

import math

import numpy as np
from helpers import rasters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import GeoRaster, geometry
from geoaug.kernels import index_copy, warp_affine

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a: GeoRaster, b: GeoRaster) -> None:
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.transform.almost_equals(b.transform, precision=1e-6)


@SETTINGS
@given(rasters())
def test_flip_twice_is_identity(r: GeoRaster) -> None:
    for t in (geoaug.HorizontalFlip(p=1), geoaug.VerticalFlip(p=1), geoaug.Transpose(p=1)):
        same(t(t(r)), r)


@SETTINGS
@given(rasters(), st.integers(-3, 3))
def test_rot90_four_times_is_identity(r: GeoRaster, k: int) -> None:
    t = geoaug.Rot90(k=k, p=1)
    out = r
    for _ in range(4):
        out = t(out)
    same(out, r)
    np.testing.assert_array_equal(t(r).data, np.rot90(r.data, k, axes=(1, 2)))


@SETTINGS
@given(rasters(), st.sampled_from(["nearest", "bilinear", "cubic"]))
def test_identity_affine_is_exact_copy(r: GeoRaster, interp: str) -> None:
    out = geoaug.Affine(interpolation=interp)(r)
    same(out, r)
    # the generic kernel too, not only the fast path (it writes nodata under invalid pixels)
    data, mask = warp_affine(r.data, r.mask if r.mask.ndim == 3 else r.mask[None], np.eye(3), r.shape[1:], interp)
    np.testing.assert_array_equal(mask.reshape(r.mask.shape), r.mask)
    np.testing.assert_array_equal(data[r.band_mask], r.data[r.band_mask])


@SETTINGS
@given(
    rasters(min_side=2),
    st.floats(-180, 180), st.floats(0.5, 2.0), st.floats(-20, 20), st.floats(-5, 5),
    st.sampled_from(["nearest", "bilinear", "cubic"]), st.booleans(),
)
def test_affine_keeps_dtype_and_never_invents_validity(
    r: GeoRaster, angle: float, scale: float, shear: float, shift: float, interp: str, renorm: bool
) -> None:
    m = geometry.affine_matrix(r.shape[1:], rotate=angle, scale=scale, shear_x=shear, translate_x=shift)
    out = geoaug.warp(r, m, r.shape[1:], interp, renormalize=renorm)
    assert out.dtype == r.dtype and out.shape == r.shape and out.mask.shape == r.mask.shape
    if out.dtype.kind == "f":
        assert not np.isnan(out.data[out.band_mask]).any()
    # a valid output pixel needs at least its nearest input pixel area to have valid data nearby:
    # check exactly for nearest, where the source pixel is known
    if interp == "nearest":
        h, w = r.shape[1:]
        jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        x = m[0, 0] * jj + m[0, 1] * ii + m[0, 2]
        y = m[1, 0] * jj + m[1, 1] * ii + m[1, 2]
        col, row = np.floor(x).astype(int), np.floor(y).astype(int)
        # a source point on a pixel edge is a tie: which side wins depends on float rounding
        tie = (np.abs(x - np.round(x)) < 1e-9) | (np.abs(y - np.round(y)) < 1e-9)
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h) & ~tie
        src_valid = np.zeros(r.band_mask.shape, bool)
        src_valid[:, inside] = r.band_mask[:, row[inside], col[inside]]
        np.testing.assert_array_equal(out.band_mask[:, ~tie], src_valid[:, ~tie])
        got = out.data[:, inside][src_valid[:, inside]]
        want = r.data[:, row[inside], col[inside]][src_valid[:, inside]]
        np.testing.assert_array_equal(got, want)


@SETTINGS
@given(rasters(min_side=3), st.floats(-180, 180), st.sampled_from(["bilinear", "cubic"]))
def test_invalid_pixels_never_leak_into_valid_output(r: GeoRaster, angle: float, interp: str) -> None:
    # invalid input pixels hold an extreme value; valid ones a small range: a leak would show
    data = r.data.copy()
    bm = r.band_mask
    if data.dtype.kind == "f":
        data[bm] = np.clip(np.nan_to_num(data[bm]), 0, 100)
        data[~bm] = np.nan
    else:
        data[bm] = 10
        data[~bm] = np.iinfo(data.dtype).max
    rr = r.replace(data=data)
    m = geometry.affine_matrix(r.shape[1:], rotate=angle, scale=1.1)
    out = geoaug.warp(rr, m, r.shape[1:], interp)
    vals = out.data[out.band_mask]
    if data.dtype.kind == "f":
        assert not np.isnan(vals).any()
    else:
        assert (vals == 10).all()  # interpolating only 10s gives exactly 10


@st.composite
def strided_matrices(draw, shape: tuple[int, int]):
    """Random compositions of flips, rot90s, transposes and crops, with their output shape."""
    m, cur = np.eye(3), shape
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["h", "v", "t", "r", "c"]))
        if op == "h":
            step, new = geometry.hflip(cur)
        elif op == "v":
            step, new = geometry.vflip(cur)
        elif op == "t":
            step, new = geometry.transpose(cur)
        elif op == "r":
            step, new = geometry.rot90(cur, draw(st.integers(1, 3)))
        else:
            hh = draw(st.integers(1, cur[0]))
            ww = draw(st.integers(1, cur[1]))
            step, new = geometry.crop(draw(st.integers(0, cur[0] - hh)), draw(st.integers(0, cur[1] - ww)), hh, ww)
        m, cur = geometry.compose(m, step), new
    return m, cur


@SETTINGS
@given(st.data())
def test_fast_path_equals_generic_nearest_warp(data) -> None:
    r = data.draw(rasters())
    m, out_shape = data.draw(strided_matrices(r.shape[1:]))
    plan = geometry.strided_plan(m, r.shape[1:], out_shape)
    assert plan is not None
    mask3 = r.mask if r.mask.ndim == 3 else r.mask[None]
    fast = index_copy(r.data, mask3, plan, out_shape)
    for interp in ("nearest", "bilinear", "cubic"):
        slow = warp_affine(r.data, mask3, m, out_shape, interp)
        np.testing.assert_array_equal(fast[1], slow[1])
        bm = np.broadcast_to(fast[1], fast[0].shape)
        np.testing.assert_array_equal(fast[0][bm], slow[0][bm])
    out = geoaug.warp(r, m, out_shape, "nearest")
    assert out.transform == r.transform @ geometry.to_affine(m)


_COORD = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -3.5, 1e-300, math.inf, -math.inf, math.nan]),
                   st.floats(-1e6, 1e6, allow_nan=False))
_SIZE = st.one_of(st.floats(1e-3, 1e5), st.sampled_from([math.inf, math.nan]))


@settings(max_examples=300, deadline=None)
@given(r0=_COORD, c0=_COORD, bh=_SIZE, bw=_SIZE, h=st.integers(1, 4096), w=st.integers(1, 4096))
def test_resize_matrix_is_the_product_of_its_translation_and_scaling(r0: float, c0: float, bh: float, bw: float,
                                                                     h: int, w: int) -> None:
    # geometry.resize writes translation(c0, r0) @ scaling(bw / w, bh / h) out: the same bits, signed zeros too
    # (a box that is not finite takes the product itself, with the NaNs it makes)
    with np.errstate(invalid="ignore"):  # inf * 0 in the product
        m, shape = geometry.resize((10, 10), h, w, (r0, c0, bh, bw))
        want = geometry.translation(c0, r0) @ geometry.scaling(bw / w, bh / h)
    assert shape == (h, w)
    assert m.tobytes() == want.tobytes()
