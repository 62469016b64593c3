"""The warp kernel against independent implementations: scipy.ndimage, OpenCV and GDAL.

Tolerances
----------
* scipy ``affine_transform`` (order 0 and 1) computes in float64 like geoaug does for
  float64 input: bilinear agrees to 1e-9; nearest agrees except at exact ties (< 0.5 %).
* OpenCV quantises source coordinates to 1/32 pixel (INTER_BITS = 5) and uses fixed-point
  weights for integer images, so values agree within (max gradient / 32 + 1) on smooth data.
* GDAL's bilinear through ``rasterio.warp.reproject`` agrees within 1 DN on 99 % of interior
  pixels of a real Landsat tile (rounding of its own).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import rasterio.warp
from conftest import BY_DTYPE
from helpers import interior, smooth_image
from rasterio.enums import Resampling
from scipy import ndimage

import geoaug
from geoaug import geometry
from geoaug.kernels import warp_affine

SHAPE = (96, 120)
MATRICES = {
    "rotate17": geometry.affine_matrix(SHAPE, rotate=17),
    "rot_scale_shear": geometry.affine_matrix(SHAPE, rotate=-33, scale=1.3, shear_x=8, translate_x=4.5),
    "zoom_out": geometry.affine_matrix(SHAPE, scale=0.8, translate_y=-3.25),
}


def _scipy(src: np.ndarray, m: np.ndarray, order: int) -> np.ndarray:
    mc = geometry.to_opencv(m)  # centre-origin (x, y)
    lin = np.array([[mc[1, 1], mc[1, 0]], [mc[0, 1], mc[0, 0]]])  # (row, col) order
    off = np.array([mc[1, 2], mc[0, 2]])
    return np.stack(
        [ndimage.affine_transform(b, lin, off, output_shape=SHAPE, order=order, mode="constant", cval=np.nan)
         for b in src.astype(np.float64)]
    )


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_bilinear_matches_scipy(name: str) -> None:
    m = MATRICES[name]
    src = smooth_image(5, *SHAPE, "float64", seed=1)
    mask = np.ones((1, *SHAPE), bool)
    out, valid = warp_affine(src, mask, m, SHAPE, "bilinear")
    ref = _scipy(src, m, 1)
    inside = interior(valid[0], 2)
    assert inside.sum() > 0.3 * inside.size
    np.testing.assert_allclose(out[:, inside], ref[:, inside], rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(MATRICES))
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_nearest_matches_scipy(name: str, dtype: str) -> None:
    m = MATRICES[name]
    src = np.random.default_rng(2).integers(0, 60000, (3, *SHAPE)).astype(dtype)
    out, valid = warp_affine(src, np.ones((1, *SHAPE), bool), m, SHAPE, "nearest")
    ref = _scipy(src, m, 0)
    inside = interior(valid[0], 2)
    mismatch = (out[:, inside] != ref[:, inside]).mean()
    assert mismatch < 0.005


@pytest.mark.parametrize("interp,flag", [("nearest", cv2.INTER_NEAREST), ("bilinear", cv2.INTER_LINEAR),
                                         ("cubic", cv2.INTER_CUBIC)])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32"])
@pytest.mark.parametrize("name", sorted(MATRICES))
def test_matches_opencv(interp: str, flag: int, dtype: str, name: str) -> None:
    m = MATRICES[name]
    src = smooth_image(4, *SHAPE, dtype, seed=3)
    out, valid = warp_affine(src, np.ones((1, *SHAPE), bool), m, SHAPE, interp)
    mc = geometry.to_opencv(m)
    ref = np.stack([
        cv2.warpAffine(b, mc, SHAPE[::-1], flags=flag | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        for b in src
    ])
    inside = interior(valid[0], 3)
    diff = np.abs(out[:, inside].astype(np.float64) - ref[:, inside].astype(np.float64))
    if interp == "nearest":
        assert (diff > 0).mean() < 0.01  # ties and 1/32-pixel coordinate rounding only
        return
    grad = max(np.abs(np.diff(src.astype(np.float64), axis=a)).max() for a in (1, 2))
    tol = grad / 32 * (1.5 if interp == "cubic" else 1.0) + 1
    assert diff.max() <= tol, (diff.max(), tol)
    assert diff.mean() <= tol / 4


def test_rotation_matches_gdal_reproject_on_real_tile() -> None:
    r = geoaug.read(BY_DTYPE["uint16"])
    m = geometry.affine_matrix((r.height, r.width), rotate=23)
    out = geoaug.warp(r, m, (r.height, r.width), "bilinear")
    assert out.transform == r.transform @ geometry.to_affine(m)
    ref = np.zeros_like(out.data)
    rasterio.warp.reproject(
        r.data, ref, src_transform=r.transform, src_crs=r.crs, dst_transform=out.transform, dst_crs=r.crs,
        resampling=Resampling.bilinear, src_nodata=0, dst_nodata=0,
    )
    both = interior(out.mask, 3) & (ref != 0).all(axis=0)
    assert both.sum() > 10000
    diff = np.abs(out.data[:, both].astype(int) - ref[:, both].astype(int))
    assert (diff <= 1).mean() > 0.99, np.percentile(diff, [50, 99, 100])
    assert diff.max() <= 3


def test_fill_modes_match_opencv_borders() -> None:
    src = smooth_image(2, *SHAPE, "float32", seed=4)
    m = geometry.affine_matrix(SHAPE, rotate=30, scale=0.7)
    mc = geometry.to_opencv(m)
    for fill, border in [("edge", cv2.BORDER_REPLICATE), ("reflect", cv2.BORDER_REFLECT),
                         ("mirror", cv2.BORDER_REFLECT_101), ("wrap", cv2.BORDER_WRAP),
                         ("constant", cv2.BORDER_CONSTANT)]:
        out, valid = warp_affine(src, np.ones((1, *SHAPE), bool), m, SHAPE, "nearest", fill=fill, fill_value=7.0)
        assert valid.all()
        ref = np.stack([cv2.warpAffine(b, mc, SHAPE[::-1], flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                       borderMode=border, borderValue=7.0) for b in src])
        assert (out != ref).mean() < 0.01, fill
