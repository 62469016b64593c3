"""Geometric transforms on real tiles: georeferencing truth, conventions, labels, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import BY_DTYPE, FIXTURES, ROTATED, TILES
from helpers import smooth_image

import geoaug
from geoaug import GeoRaster, geometry
from geoaug.transforms import REGISTRY, GeometricTransform

ALL_GEOMETRIC = {
    "HorizontalFlip": lambda: geoaug.HorizontalFlip(p=1),
    "VerticalFlip": lambda: geoaug.VerticalFlip(p=1),
    "Rot90": lambda: geoaug.Rot90(p=1),
    "Transpose": lambda: geoaug.Transpose(p=1),
    "Affine": lambda: geoaug.Affine(rotate=(-30, 30), scale=(0.9, 1.2), shear_x=(-5, 5), translate_x=(-3, 3)),
    "RandomCrop": lambda: geoaug.RandomCrop(48, 40),
    "CenterCrop": lambda: geoaug.CenterCrop(48, 40),
    "RandomResizedCrop": lambda: geoaug.RandomResizedCrop(40, 40, interpolation="cubic"),
    "Resize": lambda: geoaug.Resize(30, 50),
}


def test_every_geometric_transform_is_covered() -> None:
    geometric = {n for n, c in REGISTRY.items() if issubclass(c, GeometricTransform)}
    assert geometric == set(ALL_GEOMETRIC)


def check_georeferencing(src: GeoRaster, out: GeoRaster, m: np.ndarray, n: int = 300) -> None:
    """out.transform maps each sampled output pixel centre to the map point whose input pixel
    (through ~src.transform) is the one nearest interpolation copied."""
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(out.pixel_mask)
    assert rows.size > 0
    pick = rng.choice(rows.size, size=min(n, rows.size), replace=False)
    inv = ~src.transform
    for i, j in zip(rows[pick], cols[pick]):
        x, y = out.transform @ (j + 0.5, i + 0.5)
        c, r = inv @ (x, y)
        ci, ri = int(np.floor(c)), int(np.floor(r))
        np.testing.assert_array_equal(out.data[:, i, j], src.data[:, ri, ci])
        # and the matrix agrees with the map round trip
        mx, my = (m @ [j + 0.5, i + 0.5, 1])[:2]
        assert abs(mx - c) < 1e-6 and abs(my - r) < 1e-6


@pytest.mark.parametrize("path", [BY_DTYPE["uint16"], ROTATED], ids=["landsat_sr", "rotated_geotransform"])
def test_output_transform_says_where_each_pixel_is(path) -> None:
    src = geoaug.read(path)
    t = geoaug.Affine(rotate=37, scale=1.25, shear_x=9, shear_y=-4, translate_x=2.5, interpolation="nearest")
    params = t.sample(np.random.default_rng(1), src)
    out = t.apply(src, params)
    m, _ = t.matrix(params, (src.height, src.width))
    assert out.transform == src.transform @ geometry.to_affine(m)
    check_georeferencing(src, out, m)
    for flip in (geoaug.HorizontalFlip(p=1), geoaug.Rot90(k=1, p=1), geoaug.Transpose(p=1)):
        fm, _ = flip.matrix({}, (src.height, src.width)) if not isinstance(flip, geoaug.Rot90) else flip.matrix(
            {"k": 1}, (src.height, src.width))
        check_georeferencing(src, flip(src), fm)


def test_flip_gives_mirrored_geotransform_and_same_footprint() -> None:
    src = geoaug.read(BY_DTYPE["uint16"])
    out = geoaug.HorizontalFlip(p=1)(src)
    assert out.transform.a == -src.transform.a
    np.testing.assert_allclose(out.bounds, src.bounds)
    rot = geoaug.Rot90(k=1, p=1)(src)
    np.testing.assert_allclose(rot.bounds, src.bounds)


def test_conventions_rotate_translate_scale() -> None:
    a = smooth_image(3, 40, 40, "float32")
    r = GeoRaster.from_array(a)
    # positive rotate = counter-clockwise as displayed, like np.rot90
    out = geoaug.Affine(rotate=90, interpolation="nearest")(r)
    np.testing.assert_array_equal(out.data, np.rot90(a, 1, axes=(1, 2)))
    # positive translate_x moves content right, translate_y down
    out = geoaug.Affine(translate_x=3, translate_y=2, interpolation="nearest")(r)
    np.testing.assert_array_equal(out.data[:, 2:, 3:], a[:, :-2, :-3])
    assert not out.mask[:2].any() and not out.mask[:, :3].any()
    # scale > 1 enlarges content: the pixel 5 px right of centre appears 10 px right of it
    out = geoaug.Affine(scale=2, interpolation="nearest")(r)
    np.testing.assert_array_equal(out.data[:, 20, 30], a[:, 20, 25])


def test_p_zero_is_identity_and_params_are_json() -> None:
    src = geoaug.read(BY_DTYPE["uint16"])
    for name, make in ALL_GEOMETRIC.items():
        t = make()
        params = t.sample(np.random.default_rng(5), src)
        back = json.loads(json.dumps(params))
        a, b = t.apply(src, params), t.apply(src, back)
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
        t.p = 0.0
        same = t(src, rng=np.random.default_rng(5))
        assert same is src or np.array_equal(same.data, src.data)


@pytest.mark.parametrize("bands,dtype", [(200, "float32"), (13, "uint16")])
def test_many_bands_through_every_transform(bands: int, dtype: str) -> None:
    data = smooth_image(bands, 64, 56, dtype, seed=bands)
    mask = np.ones((64, 56), bool)
    mask[:5, :7] = False
    r = GeoRaster.from_array(data, mask=mask)
    for name, make in ALL_GEOMETRIC.items():
        out = make()(r, rng=np.random.default_rng(0))
        assert out.count == bands and out.dtype == r.dtype, name
        if dtype == "float32":
            assert not np.isnan(out.data[out.band_mask]).any()


def test_labels_get_the_same_draw_with_nearest() -> None:
    img = geoaug.read(TILES / "sentinel2_l2a_12band_int16.tif")
    lab = geoaug.read(FIXTURES / "labels" / "sentinel2_l2a_12band_int16.tif")
    t = geoaug.Affine(rotate=(-40, 40), scale=(0.8, 1.3), interpolation="cubic")
    res = t(img, rng=np.random.default_rng(3), labels=lab, return_params=True)
    assert res.image.transform == res.labels.transform
    assert set(np.unique(res.labels.data[res.labels.band_mask])) <= set(np.unique(lab.data[lab.band_mask]))
    m, _ = t.matrix(res.params, (img.height, img.width))
    check_georeferencing(lab, res.labels, m)
    # an array label with a plain array image
    arr = res.image.data
    out = geoaug.HorizontalFlip(p=1)(arr, labels=arr[0])
    np.testing.assert_array_equal(out.labels, arr[0, :, ::-1])


def test_plain_arrays_in_and_out() -> None:
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.testing.assert_array_equal(geoaug.VerticalFlip(p=1)(a), a[::-1])
    assert geoaug.Resize(6, 8)(a).shape == (6, 8)


def test_crops_and_resize_geometry() -> None:
    src = geoaug.read(BY_DTYPE["uint8"])
    c = geoaug.CenterCrop(100, 60)(src)
    np.testing.assert_array_equal(c.data, src.data[:, 78:178, 98:158])
    x, y = c.transform @ (0, 0)
    assert (x, y) == src.transform @ (98, 78)
    rc = geoaug.RandomCrop(32, 32)
    p = rc.sample(np.random.default_rng(0), src)
    np.testing.assert_array_equal(rc.apply(src, p).data, src.data[:, p["row"]:p["row"] + 32, p["col"]:p["col"] + 32])
    small = geoaug.Resize(128, 64)(src)
    assert small.shape == (3, 128, 64)
    assert small.res == pytest.approx((src.res[0] * 4, src.res[1] * 2))
    np.testing.assert_allclose(small.bounds, src.bounds)
    rrc = geoaug.RandomResizedCrop(50, 50, scale=(0.2, 0.5))
    p = rrc.sample(np.random.default_rng(1), src)
    out = rrc.apply(src, p)
    assert out.shape == (3, 50, 50)
    left, top = src.transform @ (p["col"], p["row"])
    assert out.transform @ (0, 0) == pytest.approx((left, top))
    right, bottom = src.transform @ (p["col"] + p["crop_width"], p["row"] + p["crop_height"])
    assert out.transform @ (50, 50) == pytest.approx((right, bottom))


def test_bad_parameters() -> None:
    with pytest.raises(geoaug.ParameterError, match="p must be"):
        geoaug.HorizontalFlip(p=1.5)
    with pytest.raises(geoaug.ParameterError, match="low 10.0 > high 5.0"):
        geoaug.Affine(rotate=(10, 5))
    with pytest.raises(geoaug.ParameterError, match="interpolation"):
        geoaug.Affine(interpolation="lanczos")
    with pytest.raises(geoaug.ParameterError, match="fill"):
        geoaug.Affine(fill="smear")
    with pytest.raises(geoaug.ParameterError, match="scale"):
        geoaug.Affine(scale=0)
    with pytest.raises(geoaug.ParameterError, match="larger than the raster"):
        geoaug.RandomCrop(500, 10)(geoaug.read(ROTATED))
    with pytest.raises(geoaug.ParameterError, match="k must be"):
        geoaug.Rot90(k=1.5)
