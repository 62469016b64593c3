"""Pixel-space targets moved by a draw: bounding boxes, keypoints and oriented boxes.

A draw's matrix ``M`` maps output pixel coordinates to input pixel
coordinates (:mod:`geoaug.geometry`), so a target at input pixel ``p`` lies
at output pixel ``inverse(M) @ p``. Every function here takes the *total*
matrix of a draw (several geometric steps composed into one, see
:meth:`geoaug.transforms.Transform.record_matrix`), the input shape and the
output shape: one matrix rules the pixels and the targets alike.

The semantics follow albumentations' so its users feel at home:

* **bboxes** in the formats ``pascal_voc`` (``x_min, y_min, x_max, y_max``
  in pixels), ``coco`` (``x_min, y_min, width, height`` in pixels), ``yolo``
  (``x_center, y_center, width, height`` normalised by the image size) and
  ``albumentations`` (``pascal_voc`` normalised); columns after the fourth
  (class ids...) are carried unchanged. A moved box is the axis-aligned box
  of its four moved corners (albumentations' ``"largest_box"``), or of its
  moved polygon when one is given (tighter under rotation), clipped to the
  output image. A box is dropped when nothing of it is left, when its clipped
  area in pixels is below ``min_area`` or when the share of its moved area
  that stays inside the image is below ``min_visibility``.
* **keypoints** in the formats ``xy``, ``yx``, ``xya``, ``xys``, ``xyas`` and
  ``xysa`` (angle ``a`` in degrees, scale ``s``): positions move by
  ``inverse(M)``, an angle is the direction of its moved unit vector (x right,
  y down, in ``[0, 360)``), a scale is multiplied by the largest stretch of
  the matrix. Keypoints that leave the image are removed unless
  ``remove_invisible=False``. geoaug's pixel coordinates put ``(0, 0)`` on the
  outer corner of the top-left pixel; albumentations' keypoints put it on the
  centre of that pixel: ``keypoint_origin="center"`` takes and returns those.
* **oriented boxes** as ``(N, 8)`` corner lists ``x1, y1, ... x4, y4`` (DOTA
  style; more columns are carried): the four corners move exactly (a
  rotation keeps a rotated rectangle a rectangle; a shear makes it the
  parallelogram the content became); not clipped, dropped by the same
  ``min_area`` / ``min_visibility`` rules on their visible part.

Each function returns the moved targets and the indexes of the kept ones,
so label fields (one value per target) are filtered alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = [
    "BBOX_FORMATS",
    "KEYPOINT_FORMATS",
    "KEYPOINT_ORIGINS",
    "as_table",
    "check_label_fields",
    "move_bboxes",
    "move_keypoints",
    "move_oriented_bboxes",
    "move_points",
]

BBOX_FORMATS = ("pascal_voc", "coco", "yolo", "albumentations")
KEYPOINT_FORMATS = ("xy", "yx", "xya", "xys", "xyas", "xysa")
KEYPOINT_ORIGINS = ("corner", "center")

_EPS = 1e-7


def move_points(points: Any, matrix: np.ndarray) -> np.ndarray:
    """Input pixel coordinates -> output pixel coordinates of a draw: ``inverse(M)`` applied.

    Parameters
    ----------
    points : array-like (N, 2)
        ``x, y`` pixel coordinates (pixel-corner origin) on the input grid.
    matrix : ndarray (3, 3)
        Output pixel -> input pixel.

    Returns
    -------
    ndarray (N, 2)
        The same points on the output grid.

    Examples
    --------
    >>> import numpy as np
    >>> from geoaug import geometry
    >>> m, _ = geometry.hflip((10, 20))
    >>> move_points([[0.0, 0.0], [5.0, 2.0]], m).tolist()
    [[20.0, 0.0], [15.0, 2.0]]
    """
    p = np.asarray(points, dtype=float).reshape(-1, 2)
    inv = np.linalg.inv(np.asarray(matrix, dtype=float))
    return p @ inv[:2, :2].T + inv[:2, 2]


def as_table(name: str, values: Any, min_cols: int) -> np.ndarray:
    """A target list as a float64 ``(N, k)`` table, ``k >= min_cols``, its coordinates finite.

    Parameters
    ----------
    name : str
        The argument's name, for messages.
    values : array-like or None
        ``(N, k)`` rows (one row may be given flat); None for none.
    min_cols : int
        The columns the format needs (4 for boxes, 8 for oriented boxes...).

    Returns
    -------
    ndarray (N, k)

    Raises
    ------
    ParameterError
        Not numbers, too few columns, or a NaN/infinite coordinate (the row is named).
    """
    if values is None:
        return np.zeros((0, min_cols))
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a list of rows of numbers (N, >= {min_cols}); extra values such "
                             f"as class names go in a label field") from None
    if arr.size == 0:
        return np.zeros((0, max(min_cols, arr.shape[-1] if arr.ndim == 2 else 0)))
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] < min_cols:
        raise ParameterError(f"{name} must have shape (N, >= {min_cols}), got {arr.shape}")
    if not np.isfinite(arr[:, :min_cols]).all():
        bad = int(np.flatnonzero(~np.isfinite(arr[:, :min_cols]).all(axis=1))[0])
        raise ParameterError(f"{name}[{bad}] has a NaN or infinite coordinate: {arr[bad].tolist()}")
    return arr


def check_label_fields(name: str, fields: Mapping[str, Sequence[Any]] | None, n: int) -> dict[str, list[Any]]:
    """Label fields as lists of ``n`` values (one per target), or a :class:`ParameterError` naming the field.

    Parameters
    ----------
    name : str
        What the fields label (``"bbox_labels"``...), for messages.
    fields : mapping of str to sequence, or None
        ``{"class": [...], ...}``.
    n : int
        The number of targets.

    Returns
    -------
    dict of str to list
    """
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise ParameterError(f"{name} must be a dict of label field name -> one value per target, "
                             f"got {type(fields).__name__}")
    out = {}
    for key, vals in fields.items():
        if isinstance(vals, (str, bytes)) or not hasattr(vals, "__len__"):
            raise ParameterError(f"{name}[{key!r}] must be a sequence of {n} values, got {vals!r}")
        vals = list(vals)
        if len(vals) != n:
            raise ParameterError(f"{name}[{key!r}] has {len(vals)} values for {n} targets")
        out[str(key)] = vals
    return out


def _check_format(fmt: str) -> str:
    if fmt not in BBOX_FORMATS:
        raise ParameterError(f"bbox_format must be one of {', '.join(BBOX_FORMATS)}, got {fmt!r}")
    return fmt


def _to_voc(b: np.ndarray, fmt: str, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if fmt == "pascal_voc":
        return b.copy()
    if fmt == "coco":
        return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])
    if fmt == "yolo":
        return np.column_stack([(b[:, 0] - b[:, 2] / 2) * w, (b[:, 1] - b[:, 3] / 2) * h,
                                (b[:, 0] + b[:, 2] / 2) * w, (b[:, 1] + b[:, 3] / 2) * h])
    return b * np.array([w, h, w, h], dtype=float)


def _from_voc(b: np.ndarray, fmt: str, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if fmt == "pascal_voc":
        return b
    if fmt == "coco":
        return np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])
    if fmt == "yolo":
        return np.column_stack([(b[:, 0] + b[:, 2]) / 2 / w, (b[:, 1] + b[:, 3]) / 2 / h,
                                (b[:, 2] - b[:, 0]) / w, (b[:, 3] - b[:, 1]) / h])
    return b / np.array([w, h, w, h], dtype=float)


def _check_filters(min_area: float, min_visibility: float) -> None:
    if not isinstance(min_area, (int, float)) or isinstance(min_area, bool) or not min_area >= 0 \
            or not math.isfinite(min_area):
        raise ParameterError(f"min_area must be a finite number >= 0 (pixels), got {min_area!r}")
    if not isinstance(min_visibility, (int, float)) or isinstance(min_visibility, bool) \
            or not 0 <= min_visibility <= 1:
        raise ParameterError(f"min_visibility must be a number in [0, 1], got {min_visibility!r}")


def move_bboxes(
    bboxes: Any,
    matrix: np.ndarray,
    in_shape: tuple[int, int],
    out_shape: tuple[int, int],
    *,
    bbox_format: str = "pascal_voc",
    min_area: float = 0.0,
    min_visibility: float = 0.0,
    polygons: Sequence[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned boxes on the output grid of a draw, clipped and filtered.

    Parameters
    ----------
    bboxes : array-like (N, >= 4)
        Boxes in ``bbox_format`` on the input grid; further columns are kept.
    matrix : ndarray (3, 3)
        The draw's total matrix, output pixel -> input pixel.
    in_shape, out_shape : (rows, cols)
        Input and output image sizes (normalised formats use them).
    bbox_format : {"pascal_voc", "coco", "yolo", "albumentations"}
        Format of the input and of the output.
    min_area : float
        Least clipped area, in output pixels, of a kept box.
    min_visibility : float
        Least share of a box's moved area that lies inside the output.
    polygons : sequence of array-like (K, 2), optional
        One outline per box (input pixel coordinates): the moved box is the
        box of its moved outline instead of its moved corners.

    Returns
    -------
    boxes : ndarray (M, k)
        The kept boxes, in ``bbox_format``, extra columns kept. A box of no
        area, or with nothing left inside the output, is dropped.
    kept : ndarray of int (M,)
        Their indexes in the input.

    Raises
    ------
    ParameterError
        An unknown format, a box with ``x_max < x_min`` or ``y_max < y_min``,
        NaN coordinates, bad filters, a polygon count that differs from the box count.

    Examples
    --------
    >>> from geoaug import geometry
    >>> m, shape = geometry.hflip((100, 200))
    >>> boxes, kept = move_bboxes([[10, 20, 30, 60, 7]], m, (100, 200), shape)
    >>> boxes.tolist(), kept.tolist()
    ([[170.0, 20.0, 190.0, 60.0, 7.0]], [0])
    """
    _check_format(bbox_format)
    _check_filters(min_area, min_visibility)
    arr = as_table("bboxes", bboxes, 4)
    n = arr.shape[0]
    if n == 0:
        return arr, np.zeros(0, dtype=int)
    voc = _to_voc(arr[:, :4], bbox_format, in_shape)
    bad = np.flatnonzero((voc[:, 2] < voc[:, 0]) | (voc[:, 3] < voc[:, 1]))
    if bad.size:
        i = int(bad[0])
        raise ParameterError(f"bboxes[{i}] = {arr[i, :4].tolist()} ({bbox_format}) has x_max < x_min or "
                             f"y_max < y_min")
    if polygons is None:
        x0, y0, x1, y1 = voc.T
        corners = np.stack([np.column_stack(c) for c in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], axis=1)
        moved = move_points(corners.reshape(-1, 2), matrix).reshape(n, 4, 2)
        lo, hi = moved.min(axis=1), moved.max(axis=1)
    else:
        if len(polygons) != n:
            raise ParameterError(f"{len(polygons)} bbox polygons for {n} bboxes: give one outline per box")
        lo, hi = np.empty((n, 2)), np.empty((n, 2))
        for i, poly in enumerate(polygons):
            p = as_table(f"bbox_polygons[{i}]", poly, 2)[:, :2]
            if p.shape[0] == 0:
                raise ParameterError(f"bbox_polygons[{i}] is empty")
            mp = move_points(p, matrix)
            lo[i], hi[i] = mp.min(axis=0), mp.max(axis=0)
    oh, ow = out_shape
    area = (hi[:, 0] - lo[:, 0]) * (hi[:, 1] - lo[:, 1])
    clo = np.clip(lo, 0.0, [ow, oh])
    chi = np.clip(hi, 0.0, [ow, oh])
    carea = (chi[:, 0] - clo[:, 0]) * (chi[:, 1] - clo[:, 1])
    # as albumentations: a box of no area, or with nothing left inside the image, is dropped
    visibility = carea / np.maximum(area, _EPS)
    keep = (area > _EPS) & (carea > _EPS) & (carea >= min_area - _EPS) & (visibility >= min_visibility - _EPS)
    kept = np.flatnonzero(keep)
    voc_out = np.column_stack([clo, chi])[kept]
    out = np.column_stack([_from_voc(voc_out, bbox_format, out_shape), arr[kept, 4:]])
    return out, kept


def _linear_stretch(matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """The linear part of ``inverse(M)`` and its largest singular value (how much lengths grow at most)."""
    inv = np.linalg.inv(np.asarray(matrix, dtype=float))
    lin = inv[:2, :2]
    return lin, float(np.linalg.svd(lin, compute_uv=False).max())


def move_keypoints(
    keypoints: Any,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    *,
    keypoint_format: str = "xy",
    keypoint_origin: str = "corner",
    remove_invisible: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints on the output grid of a draw.

    Parameters
    ----------
    keypoints : array-like (N, >= len(keypoint_format))
        Points in ``keypoint_format``; further columns are kept.
    matrix : ndarray (3, 3)
        The draw's total matrix, output pixel -> input pixel.
    out_shape : (rows, cols)
        The output size (visibility: ``0 <= x < cols``, ``0 <= y < rows``).
    keypoint_format : {"xy", "yx", "xya", "xys", "xyas", "xysa"}
        ``a``: angle in degrees, x right and y down; ``s``: scale.
    keypoint_origin : {"corner", "center"}
        Where ``(0, 0)`` is: the outer corner of the top-left pixel (geoaug,
        GDAL) or its centre (albumentations, OpenCV).
    remove_invisible : bool
        Drop keypoints that leave the output image.

    Returns
    -------
    keypoints : ndarray (M, k)
        The kept keypoints in ``keypoint_format``, angles in ``[0, 360)``.
    kept : ndarray of int (M,)
        Their indexes in the input.

    Examples
    --------
    >>> from geoaug import geometry
    >>> m, shape = geometry.vflip((10, 10))
    >>> pts, kept = move_keypoints([[2.5, 1.5, 30.0]], m, shape, keypoint_format="xya")
    >>> pts.round(6).tolist()
    [[2.5, 8.5, 330.0]]
    """
    if keypoint_format not in KEYPOINT_FORMATS:
        raise ParameterError(f"keypoint_format must be one of {', '.join(KEYPOINT_FORMATS)}, got {keypoint_format!r}")
    if keypoint_origin not in KEYPOINT_ORIGINS:
        raise ParameterError(f"keypoint_origin must be \"corner\" or \"center\", got {keypoint_origin!r}")
    k = len(keypoint_format)
    arr = as_table("keypoints", keypoints, k)
    if arr.shape[0] == 0:
        return arr, np.zeros(0, dtype=int)
    col = {c: i for i, c in enumerate(keypoint_format)}
    out = arr.copy()
    shift = 0.5 if keypoint_origin == "center" else 0.0
    xy = np.column_stack([arr[:, col["x"]], arr[:, col["y"]]]) + shift
    moved = move_points(xy, matrix)
    out[:, col["x"]], out[:, col["y"]] = moved[:, 0] - shift, moved[:, 1] - shift
    lin, stretch = _linear_stretch(matrix)
    if "a" in col:
        a = np.radians(arr[:, col["a"]])
        v = np.column_stack([np.cos(a), np.sin(a)]) @ lin.T
        out[:, col["a"]] = np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0
    if "s" in col:
        out[:, col["s"]] = arr[:, col["s"]] * stretch
    if not remove_invisible:
        return out, np.arange(arr.shape[0])
    oh, ow = out_shape
    x, y = moved[:, 0], moved[:, 1]
    kept = np.flatnonzero((x >= 0) & (x < ow) & (y >= 0) & (y < oh))
    return out[kept], kept


def move_oriented_bboxes(
    boxes: Any,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    *,
    min_area: float = 0.0,
    min_visibility: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Oriented boxes (four corners each) on the output grid of a draw.

    Parameters
    ----------
    boxes : array-like (N, >= 8)
        ``x1, y1, x2, y2, x3, y3, x4, y4`` in input pixel coordinates; further
        columns are kept.
    matrix : ndarray (3, 3)
        The draw's total matrix, output pixel -> input pixel.
    out_shape : (rows, cols)
        The output size.
    min_area, min_visibility : float
        As for :func:`move_bboxes`, measured on the part of the moved
        quadrilateral inside the image.

    Returns
    -------
    boxes : ndarray (M, k)
        The kept boxes, corners moved exactly (not clipped: a clipped
        quadrilateral is no longer one; see the visibility filters).
    kept : ndarray of int (M,)

    Examples
    --------
    >>> from geoaug import geometry
    >>> m, shape = geometry.rot90((10, 10), 1)
    >>> b, kept = move_oriented_bboxes([[1, 1, 3, 1, 3, 2, 1, 2]], m, shape)
    >>> b.tolist()
    [[1.0, 9.0, 1.0, 7.0, 2.0, 7.0, 2.0, 9.0]]
    """
    import shapely

    _check_filters(min_area, min_visibility)
    arr = as_table("oriented_bboxes", boxes, 8)
    n = arr.shape[0]
    if n == 0:
        return arr, np.zeros(0, dtype=int)
    moved = move_points(arr[:, :8].reshape(-1, 2), matrix).reshape(n, 4, 2)
    polys = shapely.polygons(np.concatenate([moved, moved[:, :1]], axis=1))
    oh, ow = out_shape
    frame = shapely.box(0, 0, ow, oh)
    area = shapely.area(polys)
    visible = shapely.area(shapely.intersection(polys, frame))
    keep = (visible > _EPS) & (visible >= min_area - _EPS) & (visible / np.maximum(area, _EPS) >= min_visibility - _EPS)
    kept = np.flatnonzero(keep)
    out = arr.copy()
    out[:, :8] = moved.reshape(n, 8)
    return out[kept], kept
