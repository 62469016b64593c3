"""Pixel-space geometry: 3x3 matrices, output shapes and the georeferencing rule.

One matrix rules geometry. Every geometric transform is a 3x3 matrix ``M``
that maps **output pixel coordinates to input pixel coordinates**
(``[x_in, y_in, 1] = M @ [x_out, y_out, 1]``), plus an output shape. Pixel
coordinates use the GDAL/rasterio convention: ``(0, 0)`` is the outer corner
of the top-left pixel, ``x`` grows along columns (right), ``y`` along rows
(down), pixel centres sit at ``+0.5``.

Consecutive transforms compose before any pixel is touched: if ``M1`` takes
the first transform's output to its input and ``M2`` the second's output to
*its* input (the first's output), then ``M1 @ M2`` takes the final output to
the original input: :func:`compose`.

The georeferencing rule is one line, :func:`output_transform`::

    out.transform = in.transform @ Affine(*M[:2].ravel())

because ``in.transform`` maps input pixel coordinates to the CRS and ``M``
maps output pixel coordinates to input pixel coordinates. It holds for
rotated and sheared source transforms too.
"""

from __future__ import annotations

import math
import struct

import numpy as np
from affine import Affine

__all__ = [
    "IDENTITY_TRANSFORM",
    "KERNEL_SUPPORT",
    "about_center",
    "affine_matrix",
    "axis_aligned",
    "compose",
    "crop",
    "hflip",
    "identity",
    "output_transform",
    "resize",
    "rot90",
    "rotation",
    "scaling",
    "shearing",
    "source_window",
    "strided_plan",
    "to_affine",
    "to_opencv",
    "translation",
    "transpose",
    "vflip",
]


def identity() -> np.ndarray:
    """The 3x3 identity."""
    return np.eye(3)


def translation(tx: float, ty: float) -> np.ndarray:
    """``(x, y) -> (x + tx, y + ty)``."""
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float | None = None) -> np.ndarray:
    """``(x, y) -> (sx * x, sy * y)`` about the origin."""
    sy = sx if sy is None else sy
    return np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def rotation(degrees: float) -> np.ndarray:
    """Rotation about the origin, positive = counter-clockwise **as displayed** (rows down).

    With ``y`` pointing down the screen, the matrix ``[[c, s], [-s, c]]``
    turns the +x axis towards -y (up): counter-clockwise on screen, like
    ``cv2.getRotationMatrix2D``.
    """
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def shearing(shear_x_deg: float = 0.0, shear_y_deg: float = 0.0) -> np.ndarray:
    """Shear about the origin: ``x += tan(shear_x) * y``, ``y += tan(shear_y) * x`` (degrees)."""
    return np.array(
        [[1.0, math.tan(math.radians(shear_x_deg)), 0.0], [math.tan(math.radians(shear_y_deg)), 1.0, 0.0], [0, 0, 1.0]]
    )


def about_center(forward: np.ndarray, width: float, height: float) -> np.ndarray:
    """Conjugate a forward map so it acts about the image centre ``(width / 2, height / 2)``."""
    cx, cy = width / 2.0, height / 2.0
    return translation(cx, cy) @ forward @ translation(-cx, -cy)


def affine_matrix(
    shape: tuple[int, int],
    rotate: float = 0.0,
    translate_x: float = 0.0,
    translate_y: float = 0.0,
    scale: float = 1.0,
    shear_x: float = 0.0,
    shear_y: float = 0.0,
) -> np.ndarray:
    """Output->input matrix of a rotation/scale/shear about the centre, then a shift.

    Parameters
    ----------
    shape : (rows, cols)
        Input (and output) shape.
    rotate : float
        Degrees, positive = counter-clockwise as displayed.
    translate_x, translate_y : float
        Pixels; positive x moves the content right, positive y down.
    scale : float
        > 1 enlarges the content (zoom in).
    shear_x, shear_y : float
        Degrees.

    Notes
    -----
    The forward map (input -> output) applies, about the centre: shear, then
    scale, then rotation; then the translation. The returned matrix is its
    inverse.
    """
    h, w = shape
    # Python floats throughout (a numpy float32 argument would carry the whole formula in float32)
    rotate, translate_x, translate_y = float(rotate), float(translate_x), float(translate_y)
    scale, shear_x, shear_y = float(scale), float(shear_x), float(shear_y)
    t = math.radians(rotate)
    c, s = math.cos(t), math.sin(t)
    kx, ky = math.tan(math.radians(shear_x)), math.tan(math.radians(shear_y))
    # the forward map's linear part A = rotation(rotate) @ scaling(scale) @ shearing(shear_x, shear_y), written
    # out: x_out = A (x_in - centre) + centre + shift. Plain floats: the 3x3 numpy products and inverse took
    # 12 µs, a third of a small Affine's call
    a00, a01 = scale * (c + s * ky), scale * (c * kx + s)
    a10, a11 = scale * (c * ky - s), scale * (c - s * kx)
    det = a00 * a11 - a01 * a10
    if not (det != 0.0 and math.isfinite(det) and math.isfinite(translate_x) and math.isfinite(translate_y)):
        # singular (scale 0, shears summing to 90°) or not finite: numpy's answer (or its LinAlgError)
        fwd = rotation(rotate) @ scaling(scale) @ shearing(shear_x, shear_y)
        return np.linalg.inv(translation(translate_x, translate_y) @ about_center(fwd, w, h))
    # the inverse: x_in = A^-1 (x_out - centre - shift) + centre. Written so that an identity linear part gives
    # the shift exactly (cx - (1 * cx + 0 * cy) is 0) and no negative zero (0.0 - 0.0 is 0.0 while det > 0)
    i00, i01, i10, i11 = a11 / det, (0.0 - a01) / det, (0.0 - a10) / det, a00 / det
    cx, cy = w / 2.0, h / 2.0
    tx, ty = translate_x, translate_y
    return np.array([[i00, i01, (cx - (i00 * cx + i01 * cy)) - (i00 * tx + i01 * ty)],
                     [i10, i11, (cy - (i10 * cx + i11 * cy)) - (i10 * tx + i11 * ty)],
                     [0.0, 0.0, 1.0]])


#: entries per cache of this module (cleared when full): plans and geotransforms of the shapes and flips in use
_CACHE_SIZE = 1024
_SIX_FLOATS = struct.Struct("6d")


def hflip(shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror left-right: ``x_in = cols - x_out``."""
    h, w = shape
    return np.array([[-1.0, 0.0, w], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), (h, w)


def vflip(shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror top-bottom: ``y_in = rows - y_out``."""
    h, w = shape
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, h], [0.0, 0.0, 1.0]]), (h, w)


def transpose(shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Swap rows and columns: ``x_in = y_out``, ``y_in = x_out``."""
    h, w = shape
    return np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (w, h)


def rot90(shape: tuple[int, int], k: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Rotate by ``k`` quarter turns counter-clockwise as displayed (like ``np.rot90(a, k, axes=(1, 2))``)."""
    h, w = shape
    k %= 4
    if k == 0:
        return identity(), (h, w)
    if k == 1:
        return np.array([[0.0, -1.0, w], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (w, h)
    if k == 2:
        return np.array([[-1.0, 0.0, w], [0.0, -1.0, h], [0.0, 0.0, 1.0]]), (h, w)
    return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, h], [0.0, 0.0, 1.0]]), (w, h)


def crop(row: int, col: int, height: int, width: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The window starting at ``(row, col)``, ``height`` x ``width`` pixels."""
    return translation(col, row), (height, width)


def resize(
    shape: tuple[int, int], height: int, width: int, box: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Resample ``box = (row, col, box_height, box_width)`` (default: all) onto ``height`` x ``width``."""
    r0, c0, bh, bw = box if box is not None else (0.0, 0.0, float(shape[0]), float(shape[1]))
    sx, sy = bw / width, bh / height
    if not (math.isfinite(r0) and math.isfinite(c0) and math.isfinite(sx) and math.isfinite(sy)):
        return translation(c0, r0) @ scaling(sx, sy), (height, width)  # its NaNs, as the product makes them
    # translation(c0, r0) @ scaling(sx, sy), written out (a third of the time, for every RandomResizedCrop
    # draw): the same bits, ``+ 0.0`` where the product adds zeros (a -0.0 becomes 0.0)
    return np.array([[sx + 0.0, 0.0, c0 + 0.0], [0.0, sy + 0.0, r0 + 0.0], [0.0, 0.0, 1.0]]), (height, width)


def compose(*matrices: np.ndarray) -> np.ndarray:
    """Compose output->input matrices of transforms applied first to last.

    ``compose(M1, M2)`` is ``M1 @ M2``: the final output pixel goes through
    ``M2`` to the first transform's output, then through ``M1`` to the input.
    """
    out = identity()
    for m in matrices:
        out = out @ m
    return out


def to_affine(matrix: np.ndarray) -> Affine:
    """The :class:`affine.Affine` of a 3x3 matrix."""
    m = np.asarray(matrix, dtype=float)
    return Affine(m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2])


def output_transform(transform: Affine, matrix: np.ndarray) -> Affine:
    """The georeferencing rule: ``transform @ Affine(M)``.

    Examples
    --------
    >>> from affine import Affine
    >>> t = Affine(10, 0, 500000, 0, -10, 4000000)   # 10 m, north-up
    >>> m, _ = hflip((100, 200))
    >>> tuple(output_transform(t, m))[:6]             # mirrored: x resolution -10
    (-10.0, 0.0, 502000.0, -0.0, -10.0, 4000000.0)
    """
    if type(transform) is not Affine:
        return transform @ to_affine(matrix)
    return _output_transform(transform, _rows(matrix))


#: the identity geotransform every raster wrapped from a plain array shares (GeoRaster.from_array)
IDENTITY_TRANSFORM = Affine.identity()
#: output_transform(IDENTITY_TRANSFORM, M) per bits of M's six coefficients
_FROM_IDENTITY: dict[bytes, Affine] = {}


def _output_transform(transform: Affine, rows: list[list[float]]) -> Affine:
    """:func:`output_transform` of an :class:`~affine.Affine` and a matrix's rows (:func:`_rows`)."""
    (a, b, c), (d, e, f) = rows[0], rows[1]
    if transform is IDENTITY_TRANSFORM:
        # a plain array's raster: the product below depends on the matrix alone, so it is computed once
        # per matrix (keyed on the bits of its coefficients: -0.0 and 0.0 may give different zeros)
        key = _SIX_FLOATS.pack(a, b, c, d, e, f)
        got = _FROM_IDENTITY.get(key)
        if got is None:
            got = _product(transform, a, b, c, d, e, f)
            if len(_FROM_IDENTITY) >= _CACHE_SIZE:
                _FROM_IDENTITY.clear()
            _FROM_IDENTITY[key] = got
        return got
    return _product(transform, a, b, c, d, e, f)


def _product(transform: Affine, a: float, b: float, c: float, d: float, e: float, f: float) -> Affine:
    # Affine.__matmul__ written out (the same products in the same order, so the same floats):
    # a 64x64 chip's whole flip costs about what building and multiplying two Affine objects does
    sa, sb, sc, sd, se, sf = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    return Affine(
        sa * a + sb * d, sa * b + sb * e, sa * c + sb * f + sc, sd * a + se * d, sd * b + se * e, sd * c + se * f + sf
    )


_PLANS: dict[tuple, tuple[int, int, int, int, int, int] | None] = {}


def strided_plan(
    matrix: np.ndarray, in_shape: tuple[int, int], out_shape: tuple[int, int], atol: float = 1e-9
) -> tuple[int, int, int, int, int, int] | None:
    """Integer index plan if ``matrix`` is an exact flip/rot90/transpose/crop, else ``None``.

    Returns ``(r0, ri, rj, c0, ci, cj)`` such that output pixel ``(i, j)``
    is input pixel ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)``, exactly the
    pixel nearest interpolation would copy, when the linear part is a signed
    permutation, the offsets are integers and every index lies inside the input.
    Plain Python arithmetic on the nine numbers (no numpy reductions); answers
    are cached per (matrix, shapes), except for matrices whose first row is not
    made of whole numbers (no plan, found at once).
    """
    return _plan_of_rows(_rows(matrix), in_shape, out_shape, atol)


def _plan_of_rows(
    rows: list[list[float]], in_shape: tuple[int, int], out_shape: tuple[int, int], atol: float = 1e-9
) -> tuple[int, int, int, int, int, int] | None:
    """:func:`strided_plan` of a matrix's rows (:func:`_rows`)."""
    a, b = rows[0][0], rows[0][1]
    # a rotation, shear or scale: no plan (the test _strided_plan makes first), found without the cache, which a
    # new draw would only miss and fill; NaN and infinity go on as before
    if math.isfinite(a) and math.isfinite(b) and (abs(a - round(a)) > atol or abs(b - round(b)) > atol):
        return None
    key = (*rows[0], *rows[1], *rows[2], *in_shape, *out_shape, atol)
    try:
        return _PLANS[key]
    except KeyError:
        pass
    plan = _strided_plan(rows, in_shape, out_shape, atol)
    if len(_PLANS) >= _CACHE_SIZE:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _strided_plan(
    rows: list[list[float]], in_shape: tuple[int, int], out_shape: tuple[int, int], atol: float
) -> tuple[int, int, int, int, int, int] | None:
    (a, b, c), (d, e, f), (g, hh, k) = rows
    if abs(g) > atol or abs(hh) > atol or abs(k - 1.0) > atol:
        return None
    # signed permutation: every entry within atol of -1, 0 or 1, one non-zero per row and column
    lin = (a, b, d, e)
    r = [round(v) for v in lin]
    if any(abs(v - q) > atol or abs(q) > 1 for v, q in zip(lin, r)):
        return None
    if abs(c - round(c)) > atol or abs(f - round(f)) > atol:
        return None
    a, b, d, e = r
    c, f = round(c), round(f)
    cj, ci, rj, ri = a, b, d, e
    if abs(cj) + abs(ci) != 1 or abs(rj) + abs(ri) != 1 or abs(a) + abs(d) != 1 or abs(b) + abs(e) != 1:
        return None
    # x_in = a*(j+.5) + b*(i+.5) + c = a*j + b*i + c + (a+b)/2 with a+b = +-1: the column is
    # floor(x_in) = a*j + b*i + c + (a+b-1)/2 (likewise rows)
    c0 = c + (a + b - 1) // 2
    r0 = f + (d + e - 1) // 2
    h, w = out_shape
    ih, iw = in_shape
    # each index is linear in (i, j): its extremes are at the corners
    cmin = c0 + min(0, ci * (h - 1)) + min(0, cj * (w - 1))
    cmax = c0 + max(0, ci * (h - 1)) + max(0, cj * (w - 1))
    rmin = r0 + min(0, ri * (h - 1)) + min(0, rj * (w - 1))
    rmax = r0 + max(0, ri * (h - 1)) + max(0, rj * (w - 1))
    if cmin < 0 or cmax >= iw or rmin < 0 or rmax >= ih:
        return None
    return (r0, ri, rj, c0, ci, cj)


def _rows(matrix: np.ndarray) -> list[list[float]]:
    """The three rows of a 3x3 matrix (or 2x3, completed with ``[0, 0, 1]``) as Python floats."""
    m = matrix.tolist() if isinstance(matrix, np.ndarray) else [list(map(float, r)) for r in matrix]
    if len(m) == 2:
        m = [m[0], m[1], [0.0, 0.0, 1.0]]
    return m


def axis_aligned(matrix: np.ndarray) -> tuple[float, float, float, float] | None:
    """``(sy, ty, sx, tx)`` when ``matrix`` is a pure scale + translate (no rotation or shear), else ``None``.

    Then ``x_in = sx * x_out + tx`` and ``y_in = sy * y_out + ty``: rows and
    columns resample independently (:func:`geoaug.kernels.resize.resize_separable`).
    The off-diagonal terms must be exactly 0 and the scales finite and non-zero.

    Examples
    --------
    >>> axis_aligned(resize((100, 100), 50, 25)[0])
    (2.0, 0.0, 4.0, 0.0)
    >>> axis_aligned(rotation(10)) is None
    True
    """
    return _axis_aligned_rows(_rows(matrix))


def _axis_aligned_rows(rows: list[list[float]]) -> tuple[float, float, float, float] | None:
    """:func:`axis_aligned` of a matrix's rows (:func:`_rows`)."""
    (a, b, c), (d, e, f), (g, h, k) = rows
    if b != 0.0 or d != 0.0 or g != 0.0 or h != 0.0 or k != 1.0:
        return None
    if not (a != 0.0 and e != 0.0 and math.isfinite(a) and math.isfinite(e) and math.isfinite(c)
            and math.isfinite(f)):
        return None
    return (e, f, a, c)


def to_opencv(matrix: np.ndarray) -> np.ndarray:
    """The 2x3 output->input matrix in OpenCV/scipy's centre-origin convention.

    OpenCV puts ``(0, 0)`` at the centre of the first pixel: ``x_cv = x - 0.5``.
    Use it with ``cv2.warpAffine(..., flags=... | cv2.WARP_INVERSE_MAP)``.
    """
    return (translation(-0.5, -0.5) @ np.asarray(matrix, dtype=float) @ translation(0.5, 0.5))[:2]


#: pixels a source window is widened by, per interpolation (taps beyond the source point, plus float slack)
KERNEL_SUPPORT = {"nearest": 1, "bilinear": 1, "cubic": 2}


def source_window(
    matrix: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], support: int = 1
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The input pixels an output block reads: ``((row_start, row_stop), (col_start, col_stop))``.

    The bounding box of ``matrix`` applied to the corners of the output block
    ``rows = (start, stop)`` x ``cols = (start, stop)`` (half-open, output
    pixels), widened by ``support`` pixels on every side
    (:data:`KERNEL_SUPPORT`: nearest 1, bilinear 1, cubic 2). Every input
    pixel a warp of that block touches lies inside. The window is not clipped
    to the input: clip it to the raster (and mind the fill mode) before reading.

    Parameters
    ----------
    matrix : ndarray (3, 3)
        Output pixel -> input pixel, pixel-corner origin.
    rows, cols : (int, int)
        The output block, half-open.
    support : int
        Widening in pixels.

    Returns
    -------
    ((int, int), (int, int))
        Half-open input rows and columns.

    Examples
    --------
    >>> m, _ = hflip((100, 200))                       # x_in = 200 - x_out
    >>> source_window(m, (0, 10), (0, 50), support=0)  # the last 50 columns
    ((0, 10), (150, 200))
    """
    m = np.asarray(matrix, dtype=float)
    (r0, r1), (c0, c1) = rows, cols
    corners = np.array([[c0, c1, c0, c1], [r0, r0, r1, r1], [1.0, 1.0, 1.0, 1.0]], dtype=float)
    x, y = m[:2] @ corners
    s = int(support)
    return ((math.floor(y.min()) - s, math.ceil(y.max()) + s), (math.floor(x.min()) - s, math.ceil(x.max()) + s))
