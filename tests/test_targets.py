"""Boxes, keypoints and oriented boxes follow the same draw as the pixels (geoaug.targets).

albumentations is the oracle wherever both libraries define the result: the same
transform parameters must give the same boxes and keypoints.
"""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine as GeoAffine
from conftest import TILES
from hypothesis import given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import geometry
from geoaug.errors import ParameterError
from geoaug.targets import move_bboxes, move_keypoints, move_oriented_bboxes, move_points

A = pytest.importorskip("albumentations")

H, W = 60, 80
IMG = np.zeros((3, H, W), np.uint8)
BOXES = np.array([[10.0, 5.0, 30.0, 25.0], [50.0, 30.0, 79.0, 59.0], [0.0, 0.0, 80.0, 60.0], [33.5, 12.25, 41.0, 50.0]])
# keypoints x, y, angle (degrees), scale: pixel-centre coordinates as albumentations uses them
KPS = np.array([[10.0, 5.0, 30.0, 1.0], [50.0, 30.0, 100.0, 2.0], [70.0, 55.0, 250.0, 0.5], [40.0, 29.0, 0.0, 1.0]])


def albu(transform: object, bboxes: np.ndarray = BOXES, keypoints: np.ndarray = KPS, shape: tuple = (H, W),
         bbox_format: str = "pascal_voc", **bbox_kw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """albumentations' boxes (with their indexes) and keypoints (x, y, angle, scale, index)."""
    pipe = A.Compose([transform], bbox_params=A.BboxParams(format=bbox_format, label_fields=["idx"], **bbox_kw),
                     keypoint_params=A.KeypointParams(format="xyas", label_fields=["kidx"], angle_in_degrees=True))
    out = pipe(image=np.zeros((*shape, 3), np.uint8), bboxes=bboxes, idx=list(range(len(bboxes))),
               keypoints=keypoints, kidx=list(range(len(keypoints))))
    return np.asarray(out["bboxes"], float).reshape(-1, 4), np.asarray(out["idx"], int), \
        np.column_stack([np.asarray(out["keypoints"], float).reshape(-1, 4), out["kidx"]])


def ours(t: geoaug.transforms.Transform, bboxes: np.ndarray = BOXES, keypoints: np.ndarray = KPS,
         image: np.ndarray = IMG, bbox_format: str = "pascal_voc", **kw: float) -> geoaug.transforms.Result:
    return t(image, rng=0, bboxes=bboxes, bbox_format=bbox_format, bbox_labels={"idx": list(range(len(bboxes)))},
             keypoints=keypoints, keypoint_format="xyas", keypoint_origin="center",
             keypoint_labels={"kidx": list(range(len(keypoints)))}, **kw)


def same_keypoints(res: geoaug.transforms.Result, kp_ref: np.ndarray, angles: np.ndarray | None = None) -> None:
    assert res.keypoint_labels["kidx"] == kp_ref[:, 4].astype(int).tolist()
    np.testing.assert_allclose(res.keypoints[:, :2], kp_ref[:, :2], atol=1e-3)
    # angles compared on the circle (on the rows ``angles`` selects), scales as numbers
    d = (res.keypoints[:, 2] - kp_ref[:, 2] + 180) % 360 - 180
    np.testing.assert_allclose(d if angles is None else d[angles], 0, atol=1e-3)
    np.testing.assert_allclose(res.keypoints[:, 3], kp_ref[:, 3], rtol=1e-5)


@pytest.mark.parametrize("ours_t,albu_t", [
    (geoaug.HorizontalFlip(p=1), A.HorizontalFlip(p=1)),
    (geoaug.VerticalFlip(p=1), A.VerticalFlip(p=1)),
    (geoaug.Transpose(p=1), A.Transpose(p=1)),
    (geoaug.CenterCrop(40, 50), A.CenterCrop(40, 50)),
], ids=["hflip", "vflip", "transpose", "centercrop"])
def test_same_boxes_and_keypoints_as_albumentations(ours_t: object, albu_t: object) -> None:
    boxes, idx, kps = albu(albu_t)
    res = ours(ours_t)
    assert res.bbox_labels["idx"] == idx.tolist()
    np.testing.assert_allclose(res.bboxes, boxes, atol=1e-4)
    if isinstance(ours_t, geoaug.Transpose):
        # albumentations 2.0.8 maps an angle a > 180 to 270 - a under a transpose, the opposite of the direction
        # the content takes (a reflection in the diagonal sends every angle a to 90 - a): compare a <= 180 only
        same_keypoints(res, kps, angles=KPS[:, 2] <= 180)
        np.testing.assert_allclose(res.keypoints[:, 2], (90 - KPS[:, 2]) % 360, atol=1e-9)
    else:
        same_keypoints(res, kps)


@pytest.mark.parametrize("size", [(30, 40), (30, 120), (90, 100)])
def test_resize_as_albumentations(size: tuple[int, int]) -> None:
    """albumentations' Resize scales keypoints as x * sx: corner-origin coordinates (unlike its flips)."""
    boxes, _, kps = albu(A.Resize(*size))
    res = geoaug.Resize(*size)(IMG, rng=0, bboxes=BOXES, keypoints=KPS, keypoint_format="xyas",
                               keypoint_labels={"kidx": list(range(4))})
    np.testing.assert_allclose(res.bboxes, boxes, atol=1e-4)
    # albumentations keeps angles under any resize; geoaug turns them with the content, which only a
    # uniform resize leaves unturned: angles are compared there
    same_keypoints(res, kps, angles=None if size[0] / H == size[1] / W else np.zeros(len(kps), bool))


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_rot90_as_albumentations(factor: int) -> None:
    rc = A.ReplayCompose([A.RandomRotate90(p=1)])
    for seed in range(50):  # find albumentations' draw of this factor, then compare the same quarter turns
        rc.set_random_seed(seed)
        if rc(image=np.zeros((H, W, 3), np.uint8))["replay"]["transforms"][0]["params"]["factor"] == factor:
            break
    else:  # pragma: no cover
        pytest.fail("no draw of that factor")
    pipe = A.Compose([A.RandomRotate90(p=1)], seed=seed,
                     bbox_params=A.BboxParams(format="pascal_voc", label_fields=["idx"]),
                     keypoint_params=A.KeypointParams(format="xyas", label_fields=["kidx"], angle_in_degrees=True))
    out = pipe(image=np.zeros((H, W, 3), np.uint8), bboxes=BOXES, idx=list(range(4)), keypoints=KPS,
               kidx=list(range(4)))
    assert out["image"].shape[:2] == ((W, H) if factor % 2 else (H, W))
    res = ours(geoaug.Rot90(k=factor, p=1))
    assert res.image.shape[1:] == out["image"].shape[:2]
    np.testing.assert_allclose(res.bboxes, np.asarray(out["bboxes"], float).reshape(-1, 4), atol=1e-4)
    same_keypoints(res, np.column_stack([np.asarray(out["keypoints"], float), out["kidx"]]))


@pytest.mark.parametrize("rotate,scale,tx,ty", [(30.0, 1.0, 0, 0), (-17.0, 1.3, 5, -3), (90.0, 0.8, 0, 4),
                                                 (0.0, 1.5, -7, 2)])
def test_affine_as_albumentations(rotate: float, scale: float, tx: int, ty: int) -> None:
    """Rotation, uniform scale and shift about the centre: both libraries express it the same way."""
    albu_t = A.Affine(rotate=(rotate, rotate), scale=(scale, scale), translate_px={"x": (tx, tx), "y": (ty, ty)},
                      p=1)
    boxes, idx, kps = albu(albu_t)
    res = ours(geoaug.Affine(rotate=rotate, scale=scale, translate_x=tx, translate_y=ty))
    assert res.bbox_labels["idx"] == idx.tolist()
    np.testing.assert_allclose(res.bboxes, boxes, atol=1e-3)
    # positions and scales as albumentations; angles: albumentations 2.0.8 adds the rotation to a keypoint's
    # angle, while the content turns the other way in its own y-down convention (a bar pointing right turns to
    # point up under rotate=90: angle 270, where it reports 90); geoaug turns the angle with the content
    same_keypoints(res, kps, angles=np.zeros(len(kps), bool))
    np.testing.assert_allclose((res.keypoints[:, 2] - (KPS[res.keypoint_labels["kidx"], 2] - rotate) + 180) % 360,
                               180, atol=1e-6)


def test_crop_and_filters_as_albumentations() -> None:
    """A window that cuts boxes: clipping, min_area and min_visibility drop the same boxes."""
    boxes = np.array([[5, 5, 25, 25], [28, 10, 48, 20], [0, 0, 10, 10], [35, 33, 55, 55], [60, 40, 70, 50]], float)
    t = geoaug.RandomCrop(30, 40)
    rec = t.sample(np.random.default_rng(3), IMG)
    r0, c0 = rec["row"], rec["col"]
    for kw in ({}, {"min_area": 60.0}, {"min_visibility": 0.5}, {"min_area": 30.0, "min_visibility": 0.3}):
        ref, idx, kps = albu(A.Crop(c0, r0, c0 + 40, r0 + 30), bboxes=boxes, **kw)
        res = t(IMG, rng=np.random.default_rng(3), bboxes=boxes, bbox_labels={"idx": list(range(5))},
                keypoints=KPS, keypoint_format="xyas", keypoint_origin="center",
                keypoint_labels={"kidx": list(range(4))}, **kw)
        assert res.bbox_labels["idx"] == idx.tolist(), kw
        np.testing.assert_allclose(res.bboxes, ref, atol=1e-4)
        same_keypoints(res, kps)
        counts = res.target_counts["bboxes"]
        assert counts == {"in": 5, "kept": len(idx), "dropped": 5 - len(idx)}


@pytest.mark.parametrize("fmt", ["pascal_voc", "coco", "yolo", "albumentations"])
def test_every_bbox_format_as_albumentations(fmt: str) -> None:
    voc = BOXES[:2]
    conv = {"pascal_voc": voc, "coco": np.column_stack([voc[:, :2], voc[:, 2:] - voc[:, :2]]),
            "yolo": np.column_stack([(voc[:, 0] + voc[:, 2]) / 2 / W, (voc[:, 1] + voc[:, 3]) / 2 / H,
                                     (voc[:, 2] - voc[:, 0]) / W, (voc[:, 3] - voc[:, 1]) / H]),
            "albumentations": voc / [W, H, W, H]}[fmt]
    ref, _, _ = albu(A.Resize(30, 120), bboxes=conv, bbox_format=fmt)
    res = ours(geoaug.Resize(30, 120), bboxes=conv, bbox_format=fmt)
    np.testing.assert_allclose(res.bboxes, ref, atol=1e-6)


def test_extra_columns_and_label_fields_are_kept() -> None:
    boxes = [[10, 10, 20, 20, 7, 1], [70, 50, 80, 60, 8, 2]]
    res = geoaug.CenterCrop(20, 20)(IMG, rng=0, bboxes=boxes, bbox_labels={"name": ["a", "b"]})
    assert res.bboxes.shape == (0, 6) or res.bboxes[:, 4:].tolist() in ([[7, 1]], [[8, 2]])
    res = geoaug.HorizontalFlip(p=1)(IMG, rng=0, bboxes=boxes, bbox_labels={"name": ["a", "b"]})
    assert res.bboxes[:, 4:].tolist() == [[7, 1], [8, 2]] and res.bbox_labels == {"name": ["a", "b"]}


def test_polygon_gives_a_tighter_box_under_rotation() -> None:
    """A box of rotated content is the box of its moved corners, or of its moved polygon when given."""
    diamond = [[40, 20], [50, 30], [40, 40], [30, 30]]  # inside the box 30..50 x 20..40
    t = geoaug.Affine(rotate=45)
    loose = t(IMG, rng=0, bboxes=[[30, 20, 50, 40]]).bboxes[0]
    tight = t(IMG, rng=0, bboxes=[[30, 20, 50, 40]], bbox_polygons=[diamond]).bboxes[0]
    m, _ = t.record_matrix(t.sample(np.random.default_rng(0), IMG), (H, W))
    p = move_points(diamond, m)
    np.testing.assert_allclose(tight[:4], [*p.min(axis=0), *p.max(axis=0)], atol=1e-9)
    assert (tight[2] - tight[0]) < (loose[2] - loose[0]) - 5  # the diamond turned by 45 degrees is a square


def test_oriented_boxes_move_exactly() -> None:
    t = geoaug.Compose([geoaug.Affine(rotate=30, scale=0.9), geoaug.HorizontalFlip(p=1)])
    ob = np.array([[20, 20, 40, 20, 40, 30, 20, 30, 5], [0, 0, 2, 0, 2, 2, 0, 2, 6], [500, 500, 510, 500, 510, 510,
                                                                                       500, 510, 7]], float)
    res = t(IMG, rng=0, oriented_bboxes=ob, return_record=True)
    m, shape = t.record_matrix(res.params, (H, W))
    kept = res.oriented_bboxes
    assert kept[:, 8].tolist()[0] == 5 and 7 not in kept[:, 8].tolist()
    np.testing.assert_allclose(kept[0, :8], move_points(ob[0, :8].reshape(4, 2), m).ravel())
    # a rotation keeps a rectangle a rectangle: sides stay perpendicular, lengths scaled by 1 / 0.9
    c = kept[0, :8].reshape(4, 2)
    e1, e2 = c[1] - c[0], c[2] - c[1]
    assert abs(e1 @ e2) < 1e-9
    np.testing.assert_allclose(np.hypot(*e1), 20 * 0.9)  # scale < 1 shrinks the content
    assert res.target_counts["oriented_bboxes"]["dropped"] >= 1
    _, k = move_oriented_bboxes(ob, np.eye(3), shape, min_visibility=0.5)
    assert k.tolist() == [0, 1]


def test_spectral_transforms_leave_targets_as_they_are() -> None:
    res = geoaug.Brightness(0.1)(IMG, rng=0, bboxes=BOXES, keypoints=KPS[:, :2])
    np.testing.assert_array_equal(res.bboxes, BOXES)
    np.testing.assert_array_equal(res.keypoints, KPS[:, :2])


def test_a_draw_that_did_not_apply_leaves_targets() -> None:
    res = geoaug.Compose([geoaug.HorizontalFlip(p=0), geoaug.Rot90(p=0)])(IMG, rng=0, bboxes=BOXES, return_record=True)
    np.testing.assert_array_equal(res.bboxes, BOXES)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 70), st.floats(0, 50), st.floats(1, 10), st.floats(1, 10)), min_size=1,
                max_size=6), st.sampled_from(["h", "v", "t"]))
def test_flipping_twice_gives_the_boxes_back(raw: list, kind: str) -> None:
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in raw])
    t = {"h": geoaug.HorizontalFlip(p=1), "v": geoaug.VerticalFlip(p=1), "t": geoaug.Transpose(p=1)}[kind]
    once = t(IMG, rng=0, bboxes=boxes)
    twice = t(once.image, rng=0, bboxes=once.bboxes)
    np.testing.assert_allclose(twice.bboxes, boxes, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(-180, 180), st.floats(0.5, 2.0), st.floats(-20, 20), st.floats(-20, 20), st.floats(-30, 30),
       st.booleans(), st.integers(0, 3), st.floats(0, 79.9), st.floats(0, 59.9))
def test_a_point_keeps_its_map_coordinate(rotate: float, scale: float, tx: float, ty: float, shear: float,
                                          flip: bool, k: int, x: float, y: float) -> None:
    """Through any draw, a keypoint that stays inside lies where it lay on the ground: (T @ M) q == T p."""
    t_in = GeoAffine(10.0, 1.5, 500_000.0, 2.0, -10.0, 4_000_000.0)
    raster = geoaug.GeoRaster.from_array(IMG).replace(transform=t_in, crs="EPSG:32633")
    pipe = geoaug.Compose([geoaug.Affine(rotate=rotate, scale=scale, translate_x=tx, translate_y=ty, shear_x=shear),
                           geoaug.HorizontalFlip(p=float(flip)), geoaug.Rot90(k=k, p=1), geoaug.Brightness(0.05)])
    res = pipe(raster, rng=1, keypoints=[[x, y]], remove_invisible=False)
    ground_before = np.array(t_in @ (x, y))
    ground_after = np.array(res.image.transform @ tuple(res.keypoints[0]))
    np.testing.assert_allclose(ground_after, ground_before, rtol=0, atol=1e-6)


def test_keypoints_outside_are_counted_or_kept() -> None:
    t = geoaug.CenterCrop(10, 10)
    res = t(IMG, rng=0, keypoints=[[40, 30], [0, 0]], keypoint_labels={"id": [1, 2]})
    assert res.keypoint_labels == {"id": [1]} and res.target_counts["keypoints"] == {"in": 2, "kept": 1, "dropped": 1}
    res = t(IMG, rng=0, keypoints=[[40, 30], [0, 0]], remove_invisible=False)
    assert len(res.keypoints) == 2


@pytest.mark.parametrize("kwargs,match", [
    ({"bboxes": [[10, 10, 5, 20]]}, "x_max < x_min"),
    ({"bboxes": [[10, 10, 20]]}, r"shape \(N, >= 4\)"),
    ({"bboxes": [[np.nan, 1, 2, 3]]}, "NaN"),
    ({"bboxes": [[1, 1, 2, 3]], "bbox_format": "xyxy"}, "bbox_format must be one of"),
    ({"bboxes": [[1, 1, 2, 3]], "bbox_labels": {"c": [1, 2]}}, r"bbox_labels\['c'\] has 2 values for 1"),
    ({"bboxes": [[1, 1, 2, 3]], "min_visibility": 2}, "min_visibility"),
    ({"keypoints": [[1, 2]], "keypoint_format": "xya"}, r"shape \(N, >= 3\)"),
    ({"keypoints": [[1, 2]], "keypoint_format": "uv"}, "keypoint_format must be one of"),
    ({"keypoint_labels": {"a": [1]}}, "without keypoints"),
    ({"bboxes": [[1, 1, 2, 3]], "bbox_polygons": [[[0, 0]], [[1, 1]]]}, "2 bbox polygons for 1 bboxes"),
])
def test_bad_targets_are_refused_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        geoaug.HorizontalFlip(p=1)(IMG, rng=0, **kwargs)


def test_targets_refuse_batches() -> None:
    with pytest.raises(ParameterError, match="not a batch"):
        geoaug.HorizontalFlip(p=1)(np.zeros((2, 3, 8, 8), np.uint8), rng=0, bboxes=[[0, 0, 1, 1]])


def test_record_matrix_is_the_matrix_of_the_pixels() -> None:
    """One matrix rules geometry: the record's total matrix is what moved the geotransform."""
    raster = geoaug.read(TILES / "sentinel2_l2a_12band_int16.tif")
    pipe = geoaug.Compose([geoaug.Rot90(p=1), geoaug.Affine(rotate=(-30, 30), scale=(0.8, 1.2)),
                           geoaug.RandomCrop(60, 70), geoaug.Brightness(0.1)])
    res = pipe(raster, rng=4, return_record=True)
    m, shape = pipe.record_matrix(res.params, (raster.height, raster.width))
    assert shape == (res.image.height, res.image.width)
    np.testing.assert_allclose(tuple(res.image.transform), tuple(geometry.output_transform(raster.transform, m)))


def test_move_functions_directly() -> None:
    m, shape = geometry.hflip((10, 20))
    b, k = move_bboxes([[0, 0, 5, 5]], m, (10, 20), shape, bbox_format="coco")
    assert b.tolist() == [[15.0, 0.0, 5.0, 5.0]] and k.tolist() == [0]
    p, k = move_keypoints([[1.0, 2.0]], m, shape, keypoint_format="yx")
    assert p.tolist() == [[1.0, 18.0]]


@pytest.mark.parametrize("name", sorted(geoaug.transforms.REGISTRY))
def test_every_transform_moves_targets_with_its_pixels(name: str) -> None:
    """Every registered transform: a keypoint keeps its ground position ((T @ M) q == T p), a box holds the
    moved corners; transforms that move no pixel leave targets exactly as they are."""
    from geoaug.transforms.examples import example

    raster = geoaug.read(TILES / "sentinel2_l2a_12band_int16.tif")
    t = example(name, raster.count)
    pts = np.array([[20.25, 30.5], [70.0, 45.75], [50.0, 50.0]])
    for seed in range(3):
        res = t(raster, rng=seed, keypoints=pts, remove_invisible=False, bboxes=[[40, 40, 60, 60]],
                return_params=True)
        ground = np.array([res.image.transform @ tuple(q) for q in res.keypoints])
        np.testing.assert_allclose(ground, [raster.transform @ tuple(p) for p in pts], atol=1e-6)
        m, shape = t.record_matrix(res.params, (raster.height, raster.width))
        assert shape == (res.image.height, res.image.width)
        want, _ = move_bboxes([[40, 40, 60, 60]], m, (raster.height, raster.width), shape)
        np.testing.assert_array_equal(res.bboxes, want)
        if np.allclose(m, np.eye(3)) and shape == (raster.height, raster.width):
            np.testing.assert_array_equal(res.keypoints, pts)
            np.testing.assert_array_equal(res.bboxes, [[40, 40, 60, 60]])
