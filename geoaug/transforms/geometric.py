"""Geometric transforms. Each is a 3x3 output->input pixel matrix plus an output shape.

Units and conventions: angles in degrees, positive rotate = counter-clockwise
as displayed (rows down); translations in pixels, positive x = content moves
right, positive y = content moves down; scale > 1 enlarges the content;
everything about the image centre. Label rasters passed with an image get the
same draw and are always resampled with nearest.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import geometry
from ..errors import ParameterError
from ..raster import GeoRaster
from .base import RASTERLESS_DRAWS, WARP_APPLIES, GeometricTransform, as_range, draw, draws
from .functional import check_fill, check_interpolation, warp

__all__ = [
    "Affine",
    "CenterCrop",
    "HorizontalFlip",
    "RandomCrop",
    "RandomResizedCrop",
    "Resize",
    "Rot90",
    "Transpose",
    "VerticalFlip",
    "check_output_size",
]


#: (matrix builder, rows, cols, int arguments) -> (matrix, output shape, strided-copy plan or None) of the
#: transforms whose matrix depends on the input's shape and their constructor's integers alone (flips,
#: transposes, Rot90's k, Resize's size): a call copies a cached matrix instead of building it (and a
#: pipeline builds each one twice, to draw the next step on the right shape and to apply)
_SHAPE_MATRICES: dict[tuple, tuple[np.ndarray, tuple[int, int], Any]] = {}


def _shape_entry(shape: tuple[int, int], build: Any, *args: int) -> tuple[np.ndarray, tuple[int, int], Any] | None:
    """The cached ``(matrix, output shape, plan)`` of ``build(shape, *args)``; None for non-int arguments."""
    h, w = shape
    if type(h) is not int or type(w) is not int or any(type(v) is not int for v in args):
        return None
    key = (build, h, w, *args)
    got = _SHAPE_MATRICES.get(key)
    if got is None:
        m, out = build((h, w), *args)
        m.flags.writeable = False  # shared by every call of this shape (callers of _shape_matrix get copies)
        got = (m, out, geometry.strided_plan(m, (h, w), out))
        if len(_SHAPE_MATRICES) >= 1024:
            _SHAPE_MATRICES.clear()
        _SHAPE_MATRICES[key] = got
    return got


def _shape_matrix(build: Any, shape: tuple[int, int], *args: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``build(shape, *args)``, cached when the shape and ``args`` are ints (other types: built as given)."""
    got = _shape_entry(shape, build, *args)
    if got is None:
        return build(shape, *args)
    return got[0].copy(), got[1]  # a copy: callers may change their matrix


class _ShapeCopy(GeometricTransform):
    """An exact transform whose matrix is ``build(shape, *args)`` of its parameters (flips, transposes,
    quarter turns): matrix, output shape and strided-copy plan cached per shape."""

    exact = True

    def _shape_args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """``(build, *int arguments)`` of a draw."""
        raise NotImplementedError

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        build, *args = self._shape_args(params)
        return _shape_matrix(build, shape, *args)

    def _cached_copy(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[Any, tuple[int, int], Any] | None:
        if not params.get("applied", True) or type(self).matrix is not _ShapeCopy.matrix:
            return None  # a draw not applied, or a subclass's own matrix(): the plan of what matrix() says
        got = _shape_entry(shape, *self._shape_args(params))
        return None if got is None or got[2] is None else (got[2], got[1], got[0])


class _Mirror(_ShapeCopy):
    """A fixed exact mirror (flip or transpose): no parameters besides ``p``."""

    _build: Any = None

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p)

    def _shape_args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return (type(self)._build,)


class HorizontalFlip(_Mirror):
    """Mirror left-right (columns reversed). Exact; the geotransform becomes mirrored.

    Parameters
    ----------
    p : float
        Probability of flipping.
    """

    _build = staticmethod(geometry.hflip)


class VerticalFlip(_Mirror):
    """Mirror top-bottom (rows reversed). Exact; the geotransform becomes mirrored.

    Parameters
    ----------
    p : float
        Probability of flipping.
    """

    _build = staticmethod(geometry.vflip)


class Transpose(_Mirror):
    """Swap rows and columns (mirror about the main diagonal). Exact.

    Parameters
    ----------
    p : float
        Probability of transposing.
    """

    _build = staticmethod(geometry.transpose)


#: largest number of quarter turns Rot90 takes (only k mod 4 matters)
MAX_TURNS = 1000

#: largest output a sizing transform (Resize, RandomResizedCrop) may make: rows x cols x bands x
#: bytes per value. The same bound as :data:`geoaug.io.MAX_READ_BYTES` (8 GiB).
MAX_OUTPUT_BYTES = 8 * 1024**3


def _check_turns(v: int, k: Any) -> None:
    if not -MAX_TURNS <= v <= MAX_TURNS:
        raise ParameterError(f"Rot90: k must lie within [-{MAX_TURNS}, {MAX_TURNS}] quarter turns, got {k!r}")


def check_output_size(name: str, height: int, width: int, bands: int = 1, dtype: Any = "uint8") -> None:
    """Refuse an output of ``height x width x bands`` values of ``dtype`` above :data:`MAX_OUTPUT_BYTES`.

    Called before anything is allocated: at construction (one band of bytes)
    and when a draw is sampled or applied (the raster's bands and dtype).

    Raises
    ------
    ParameterError
        The output would exceed :data:`MAX_OUTPUT_BYTES`.
    """
    nbytes = int(height) * int(width) * int(bands) * np.dtype(dtype).itemsize
    if nbytes > MAX_OUTPUT_BYTES:
        raise ParameterError(
            f"{name}: output {height} x {width} x {bands} bands of {np.dtype(dtype).name} is "
            f"{nbytes / 1024**3:.3g} GiB, above the {MAX_OUTPUT_BYTES / 1024**3:g} GiB limit per raster"
        )


class Rot90(_ShapeCopy):
    """Quarter turns counter-clockwise as displayed, like ``np.rot90(a, k, axes=(1, 2))``. Exact.

    Parameters
    ----------
    k : int or (int, int)
        Number of quarter turns: fixed, or drawn uniformly from the inclusive
        range ``(low, high)``. Default ``(1, 3)``: 90, 180 or 270 degrees.
    p : float
        Probability of rotating.
    """

    def __init__(self, k: int | tuple[int, int] = (1, 3), p: float = 0.5) -> None:
        super().__init__(p)
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            _check_turns(int(k), k)
            self.k: int | tuple[int, int] = int(k)
            self._k = (int(k), int(k))
        elif (
            isinstance(k, (tuple, list)) and len(k) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in k)
        ):
            if k[0] > k[1]:
                raise ParameterError(f"Rot90: k low {k[0]} > high {k[1]}")
            for v in k:
                _check_turns(int(v), k)
            self.k = (int(k[0]), int(k[1]))
            self._k = self.k
        else:
            raise ParameterError(f"Rot90: k must be an int or an (int, int) range, got {k!r}")

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"k": int(rng.integers(self._k[0], self._k[1] + 1))}

    def _shape_args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return (geometry.rot90, int(params["k"]))


RASTERLESS_DRAWS.add(Rot90.sample_params)  # its draw is k alone


class Affine(GeometricTransform):
    """Rotation, shift, scale and shear about the image centre in one resampling.

    Every geometric parameter is a number (fixed) or a ``(low, high)`` tuple
    (uniform draw). The output has the input's shape.

    Parameters
    ----------
    rotate : float or (float, float)
        Degrees, positive = counter-clockwise as displayed.
    translate_x, translate_y : float or (float, float)
        Pixels; positive x moves the content right, positive y down.
    scale : float or (float, float)
        > 1 enlarges the content (zoom in); must be > 0.
    shear_x, shear_y : float or (float, float)
        Degrees, in (-90, 90).
    interpolation : {"nearest", "bilinear", "cubic"}
        Cubic is Keys' kernel with a = -0.75 (OpenCV's).
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What comes in from outside the input: ``nodata`` marks it invalid
        (written as the raster's nodata); ``constant`` makes it valid pixels
        of ``fill_value``; the others mirror, repeat or extend the image.
    fill_value : float, optional
        Value for ``fill="constant"`` (default 0).
    p : float
        Probability of applying.

    Notes
    -----
    Forward (input -> output) map, about the centre: shear, then scale, then
    rotation, then translation (:func:`geoaug.geometry.affine_matrix`).
    """

    def __init__(
        self,
        rotate: float | tuple[float, float] = 0,
        translate_x: float | tuple[float, float] = 0,
        translate_y: float | tuple[float, float] = 0,
        scale: float | tuple[float, float] = 1,
        shear_x: float | tuple[float, float] = 0,
        shear_y: float | tuple[float, float] = 0,
        interpolation: str = "bilinear",
        fill: str = "nodata",
        fill_value: float | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.rotate, self.translate_x, self.translate_y = rotate, translate_x, translate_y
        self.scale, self.shear_x, self.shear_y = scale, shear_x, shear_y
        self._ranges = {
            "rotate": as_range("Affine.rotate", rotate),
            "translate_x": as_range("Affine.translate_x", translate_x),
            "translate_y": as_range("Affine.translate_y", translate_y),
            "scale": as_range("Affine.scale", scale, low=1e-6),
            "shear_x": as_range("Affine.shear_x", shear_x, low=-89.9, high=89.9),
            "shear_y": as_range("Affine.shear_y", shear_y, low=-89.9, high=89.9),
        }
        self.interpolation = check_interpolation(interpolation)
        self.fill = check_fill(fill)
        if fill_value is not None and (not isinstance(fill_value, numbers.Real) or isinstance(fill_value, bool)
                                       or not math.isfinite(fill_value)):
            raise ParameterError(f"Affine: fill_value must be a finite number, got {fill_value!r}")
        self.fill_value = fill_value

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return dict(zip(self._ranges, draws(rng, self._ranges.values())))

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        # affine_matrix takes the six numbers as floats (recorded params may be numpy scalars)
        return geometry.affine_matrix(shape, params["rotate"], params["translate_x"], params["translate_y"],
                                      params["scale"], params["shear_x"], params["shear_y"]), shape

    def output_shape(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[int, int]:
        if type(self).matrix is not Affine.matrix:  # a subclass's own matrix() says what its output is
            return super().output_shape(params, shape)
        return shape  # the input's grid, whatever the draw


RASTERLESS_DRAWS.add(Affine.sample_params)  # six uniforms, whatever the raster


def _check_size(name: str, height: Any, width: Any) -> tuple[int, int]:
    for label, v in (("height", height), ("width", width)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
            raise ParameterError(f"{name}: {label} must be a positive int, got {v!r}")
    check_output_size(name, int(height), int(width))
    return int(height), int(width)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _fits(name: str, height: int, width: int, shape: tuple[int, int]) -> None:
    if height > shape[0] or width > shape[1]:
        raise ParameterError(f"{name}: crop {height} x {width} is larger than the raster {shape[0]} x {shape[1]}")


class RandomCrop(GeometricTransform):
    """A ``height`` x ``width`` window at a uniformly drawn integer position. Exact.

    Parameters
    ----------
    height, width : int
        Output size in pixels; must not exceed the input.
    p : float
        Probability of cropping (when not applied, the input is returned whole).
    """

    exact = True

    def __init__(self, height: int, width: int, p: float = 1.0) -> None:
        super().__init__(p)
        self.height, self.width = _check_size("RandomCrop", height, width)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        _fits("RandomCrop", self.height, self.width, (raster.height, raster.width))
        row = int(rng.integers(0, raster.height - self.height + 1))
        col = int(rng.integers(0, raster.width - self.width + 1))
        return {"row": row, "col": col}

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        _fits("RandomCrop", self.height, self.width, shape)
        return geometry.crop(int(params["row"]), int(params["col"]), self.height, self.width)


class CenterCrop(GeometricTransform):
    """The central ``height`` x ``width`` window (top-left offset rounded down). Exact.

    Parameters
    ----------
    height, width : int
        Output size in pixels; must not exceed the input.
    p : float
        Probability of cropping.
    """

    exact = True

    def __init__(self, height: int, width: int, p: float = 1.0) -> None:
        super().__init__(p)
        self.height, self.width = _check_size("CenterCrop", height, width)

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        _fits("CenterCrop", self.height, self.width, shape)
        return geometry.crop((shape[0] - self.height) // 2, (shape[1] - self.width) // 2, self.height, self.width)


class RandomResizedCrop(GeometricTransform):
    """Crop a random area and aspect ratio, resample it to ``height`` x ``width``.

    The torchvision/albumentations recipe: up to 10 tries to draw an area
    share from ``scale`` and a width/height ratio log-uniformly from
    ``ratio`` that fits the input; else the largest central crop with a
    ratio inside ``ratio``.

    Parameters
    ----------
    height, width : int
        Output size in pixels.
    scale : (float, float)
        Share of the input area to crop, in (0, 1].
    ratio : (float, float)
        Width / height of the crop.
    interpolation : {"nearest", "bilinear", "cubic"}
    antialias : bool
        When the crop is larger than the output along an axis, average the
        input pixels under each output pixel (area filter, OpenCV's
        ``INTER_AREA``) instead of interpolating (which skips pixels and
        aliases). Default True. Not used with ``nearest``.
    p : float

    Notes
    -----
    The crop box is resampled separably (rows and columns independently,
    :func:`geoaug.kernels.resize.resize_separable`); the output transform is
    ``transform @ Affine(M)`` as for every geometric transform.
    """

    def __init__(
        self,
        height: int,
        width: int,
        scale: tuple[float, float] = (0.5, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
        antialias: bool = True,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.antialias = _check_bool("RandomResizedCrop.antialias", antialias)
        self.height, self.width = _check_size("RandomResizedCrop", height, width)
        self.scale = as_range("RandomResizedCrop.scale", scale, low=1e-6, high=1.0)
        self.ratio = as_range("RandomResizedCrop.ratio", ratio, low=1e-6)
        self.interpolation = check_interpolation(interpolation)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        check_output_size("RandomResizedCrop", self.height, self.width, raster.count, raster.dtype)
        h, w = raster.height, raster.width
        area = h * w
        log_r = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * draw(rng, self.scale)
            ar = math.exp(draw(rng, log_r))
            cw = round(math.sqrt(target * ar))
            ch = round(math.sqrt(target / ar))
            if 0 < cw <= w and 0 < ch <= h:
                row = int(rng.integers(0, h - ch + 1))
                col = int(rng.integers(0, w - cw + 1))
                return {"row": row, "col": col, "crop_height": ch, "crop_width": cw}
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, round(w / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            ch, cw = h, round(h * self.ratio[1])
        else:
            cw, ch = w, h
        return {"row": (h - ch) // 2, "col": (w - cw) // 2, "crop_height": ch, "crop_width": cw}

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        box = (float(params["row"]), float(params["col"]), float(params["crop_height"]), float(params["crop_width"]))
        return geometry.resize(shape, self.height, self.width, box)

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        check_output_size("RandomResizedCrop", self.height, self.width, raster.count, raster.dtype)
        m, shape = self.matrix(params, (raster.height, raster.width))
        return warp(raster, m, shape, self.interpolation, self.fill, self.fill_value, antialias=self.antialias)


WARP_APPLIES[RandomResizedCrop.apply_params] = True  # the size check (the draw's too), then a warp with antialias


class Resize(GeometricTransform):
    """Resample the whole raster to ``height`` x ``width`` (pixel size changes accordingly).

    Parameters
    ----------
    height, width : int
        Output size in pixels.
    interpolation : {"nearest", "bilinear", "cubic"}
        Used when enlarging (and along any axis when ``antialias`` is False).
    antialias : bool
        When shrinking along an axis, average the input pixels under each
        output pixel, weighted by the share of each inside the output pixel's
        footprint (area filter, OpenCV's ``INTER_AREA``; a plain box mean for
        integer factors) instead of interpolating between a few of them.
        Default True. Not used with ``nearest``.
    p : float

    Notes
    -----
    Rows and columns are resampled separably with taps computed once
    (:func:`geoaug.kernels.resize.resize_separable`). Output pixel centres
    map through the matrix to the input as for every geometric transform, so
    ``bilinear`` enlarging equals ``cv2.resize(..., INTER_LINEAR)`` inside the
    raster; at the border the default ``fill="nodata"`` marks output pixels
    that would need a pixel outside the input as invalid.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", antialias: bool = True,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.height, self.width = _check_size("Resize", height, width)
        self.interpolation = check_interpolation(interpolation)
        self.antialias = _check_bool("Resize.antialias", antialias)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        check_output_size("Resize", self.height, self.width, raster.count, raster.dtype)
        return {}

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        return _shape_matrix(geometry.resize, shape, self.height, self.width)

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        check_output_size("Resize", self.height, self.width, raster.count, raster.dtype)
        m, shape = self.matrix(params, (raster.height, raster.width))
        return warp(raster, m, shape, self.interpolation, self.fill, self.fill_value, antialias=self.antialias)


WARP_APPLIES[Resize.apply_params] = True  # the size check (the draw's too), then a warp with antialias
