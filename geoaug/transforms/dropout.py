"""Dropout of rectangles: ``CoarseDropout`` (random holes) and ``GridDropout`` (a regular grid of holes).

Holes cut through every band. By default they become invalid (the mask is
False there, the values the raster's nodata, or 0 without one), which is how
a model sees missing data (a cloud mask, a swath gap) elsewhere in geoaug.
With a numeric ``fill`` the *valid* pixels of the holes take that value
(saturated to the dtype) and the mask is unchanged: a pixel that was invalid
stays invalid, none becomes valid. Label rasters are left alone unless
``label_fill`` is given: ``"nodata"`` makes the holes invalid in the label
too, a number writes that value there (an "ignore" class, for instance). The
geotransform and the shape never change.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..kernels.flip import is_all_true
from ..kernels.holes import copy_with_holes
from ..raster import GeoRaster, saturate
from .base import Transform, as_range, draw

__all__ = ["CoarseDropout", "GridDropout"]


def _check_fill(name: str, fill: Any, what: str) -> Any:
    if fill is None and what == "label_fill":
        return None
    if fill == "nodata":
        return fill
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool) and math.isfinite(fill):
        return fill
    allowed = "None, \"nodata\" or a finite number" if what == "label_fill" else "\"nodata\" or a finite number"
    raise ParameterError(f"{name}: {what} must be {allowed}, got {fill!r}")


def _int_range(name: str, value: Any, low: int) -> tuple[int, int]:
    """An int or an ``(low, high)`` pair of ints, every value >= ``low``."""
    vals = value if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise ParameterError(f"{name} must be an int or a (low, high) pair of ints, got {value!r}")
    lo, hi = int(vals[0]), int(vals[1])
    if lo < low or lo > hi:
        raise ParameterError(f"{name} must satisfy {low} <= low <= high, got {value!r}")
    return lo, hi


def _saturate(value: float, dtype: np.dtype) -> Any:
    return bool(value) if dtype.kind == "b" else saturate(value, dtype)[()]


def drop_holes(raster: GeoRaster, holes: list[list[int]], fill: Any) -> GeoRaster:
    """``raster`` with the rectangles ``[row, col, height, width]`` dropped (see the module docstring).

    Parameters
    ----------
    raster : GeoRaster
        The input (image or label raster).
    holes : list of [int, int, int, int]
        Rectangles in pixels, clipped to the raster.
    fill : "nodata" or float
        ``"nodata"``: the holes become invalid; a number: their valid pixels take it.

    Returns
    -------
    GeoRaster
    """
    if not holes:
        return raster
    # a copy, then every hole of every band written in one compiled call (kernels/holes.py)
    if fill == "nodata":
        rects = np.asarray(holes, dtype=np.int64).reshape(-1, 4)  # once for the data and the mask
        data = copy_with_holes(raster.data, rects, raster.dtype.type(raster.invalid_value))
        m = raster.mask
        planes = m if m.ndim == 3 else m[None]
        # the mask's copy is the call's second kernel: on one thread (one parallel region per call)
        mask = copy_with_holes(planes, rects, False, serial=True)
        return raster.replace(data=data, mask=mask if m.ndim == 3 else mask[0])
    v = _saturate(float(fill), raster.dtype)
    if raster.lazy_mask:
        # a float raster whose mask is its NaNs, not yet found (a plain array): the holes' NaNs stay, their other
        # pixels take ``v`` (finite), so NaN is where it was and the mask stays lazy. Only the holes are looked
        # at: the scan of the whole raster cost more than the dropout (13 x 512² float32: 1.51x the GeoRaster time)
        return raster.evolve_values(copy_with_holes(raster.data, holes, v, keep_nan=True))
    m = raster.mask
    every = is_all_true(m) or bool(m.all())
    return raster.replace(data=copy_with_holes(raster.data, holes, v, valid=None if every else m))


def _check_holes(name: str, holes: Any, height: int, width: int) -> list[list[int]]:
    out = []
    for hole in holes:
        y, x, h, w = (int(v) for v in hole)
        if h <= 0 or w <= 0 or y < 0 or x < 0 or y + h > height or x + w > width:
            raise ParameterError(f"{name}: hole {hole} does not fit a raster of {height} x {width}")
        out.append([y, x, h, w])
    return out


class _Dropout(Transform):
    abstract = True
    fill: Any = "nodata"
    label_fill: Any = None

    def holes(self, params: dict[str, Any], shape: tuple[int, int]) -> list[list[int]]:
        """The drawn rectangles ``[row, col, height, width]`` for a raster of ``shape``."""
        raise NotImplementedError

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return drop_holes(raster, self.holes(params, (raster.height, raster.width)), self.fill)

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        if self.label_fill is None:
            return label
        return drop_holes(label, self.holes(params, (label.height, label.width)), self.label_fill)


class CoarseDropout(_Dropout):
    """Drop ``num_holes`` rectangles of random size and position.

    Parameters
    ----------
    num_holes : int or (int, int)
        How many holes (>= 0), fixed or drawn uniformly (inclusive).
    hole_height, hole_width : int or (int, int)
        Hole size in pixels (>= 1), fixed or drawn uniformly (inclusive). A
        size larger than the image is an error when the transform is called
        (naming the parameter).
    fill : "nodata" or float
        ``"nodata"`` (default): the holes become invalid. A number: the valid
        pixels of the holes take that value (saturated), the mask is unchanged.
    label_fill : None, "nodata" or float
        What label rasters get in the holes: None leaves labels alone,
        ``"nodata"`` makes them invalid, a number is written there.
    p : float
        Probability of applying.

    Notes
    -----
    Holes may overlap. Their rectangles are drawn in the params
    (``{"holes": [[row, col, height, width], ...]}``).

    Examples
    --------
    >>> import numpy as np
    >>> t = CoarseDropout(num_holes=1, hole_height=2, hole_width=3)
    >>> res = t(np.ones((2, 6, 6), "uint8"), rng=0, return_params=True)
    >>> res.params["holes"], int((res.image == 0).sum())
    ([[2, 1, 2, 3]], 12)
    """

    def __init__(self, num_holes: int | tuple[int, int] = (1, 4), hole_height: int | tuple[int, int] = (8, 32),
                 hole_width: int | tuple[int, int] = (8, 32), fill: str | float = "nodata",
                 label_fill: str | float | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.num_holes, self.hole_height, self.hole_width = num_holes, hole_height, hole_width
        self._n = _int_range("CoarseDropout.num_holes", num_holes, 0)
        self._h = _int_range("CoarseDropout.hole_height", hole_height, 1)
        self._w = _int_range("CoarseDropout.hole_width", hole_width, 1)
        self.fill = _check_fill("CoarseDropout", fill, "fill")
        self.label_fill = _check_fill("CoarseDropout", label_fill, "label_fill")

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        rows, cols = raster.height, raster.width
        if self._h[1] > rows:
            raise ParameterError(f"CoarseDropout: hole_height {self.hole_height!r} is larger than the image "
                                 f"({rows} rows)")
        if self._w[1] > cols:
            raise ParameterError(f"CoarseDropout: hole_width {self.hole_width!r} is larger than the image "
                                 f"({cols} columns)")
        holes = []
        for _ in range(int(rng.integers(self._n[0], self._n[1] + 1))):
            h = int(rng.integers(self._h[0], self._h[1] + 1))
            w = int(rng.integers(self._w[0], self._w[1] + 1))
            holes.append([int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1)), h, w])
        return {"holes": holes}

    def holes(self, params: dict[str, Any], shape: tuple[int, int]) -> list[list[int]]:
        return _check_holes("CoarseDropout", params["holes"], *shape)


class GridDropout(_Dropout):
    """Drop a regular grid of square holes: one per ``unit`` x ``unit`` cell, ``ratio`` of its side.

    Parameters
    ----------
    ratio : float or (float, float)
        Hole side over cell side, in (0, 1) (fixed or drawn): 0.5 drops a
        quarter of the area.
    unit_size : int or (int, int)
        Cell side in pixels (>= 2), fixed or drawn uniformly (inclusive). A
        cell larger than the image's shorter side is an error when the
        transform is called.
    random_offset : bool
        Shift the grid by a random ``(row, col)`` offset in ``[0, unit)``
        (else the first hole sits at the top-left corner).
    fill : "nodata" or float
        As for :class:`CoarseDropout`.
    label_fill : None, "nodata" or float
        As for :class:`CoarseDropout`.
    p : float
        Probability of applying.

    Notes
    -----
    Hole side ``max(1, round(ratio * unit))`` (at most ``unit - 1``); the holes of cell ``(a, b)``
    start at ``(offset_row + a * unit, offset_col + b * unit)`` (the grid
    continues to the left of and above the offset, holes are clipped to the
    raster).

    Examples
    --------
    >>> import numpy as np
    >>> t = GridDropout(ratio=0.5, unit_size=4, random_offset=False, fill=0)
    >>> t(np.ones((1, 8, 8), "uint8"), rng=0)[0, :4]
    array([[0, 0, 1, 1, 0, 0, 1, 1],
           [0, 0, 1, 1, 0, 0, 1, 1],
           [1, 1, 1, 1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1, 1, 1, 1]], dtype=uint8)
    """

    def __init__(self, ratio: float | tuple[float, float] = 0.5, unit_size: int | tuple[int, int] = (16, 64),
                 random_offset: bool = True, fill: str | float = "nodata", label_fill: str | float | None = None,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.ratio, self.unit_size, self.random_offset = ratio, unit_size, bool(random_offset)
        self._ratio = as_range("GridDropout.ratio", ratio, low=0.0, high=1.0)
        if not (0.0 < self._ratio[0] and self._ratio[1] < 1.0):
            raise ParameterError(f"GridDropout: ratio must lie strictly between 0 and 1, got {ratio!r}")
        self._unit = _int_range("GridDropout.unit_size", unit_size, 2)
        self.fill = _check_fill("GridDropout", fill, "fill")
        self.label_fill = _check_fill("GridDropout", label_fill, "label_fill")

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        side = min(raster.height, raster.width)
        if self._unit[1] > side:
            raise ParameterError(f"GridDropout: unit_size {self.unit_size!r} is larger than the image "
                                 f"({raster.height} x {raster.width})")
        unit = int(rng.integers(self._unit[0], self._unit[1] + 1))
        ratio = draw(rng, self._ratio)
        hole = max(1, min(unit - 1, round(ratio * unit)))
        off = [int(rng.integers(0, unit)), int(rng.integers(0, unit))] if self.random_offset else [0, 0]
        return {"unit": unit, "hole": hole, "offset": off}

    def holes(self, params: dict[str, Any], shape: tuple[int, int]) -> list[list[int]]:
        unit, hole = int(params["unit"]), int(params["hole"])
        oy, ox = (int(v) for v in params["offset"])
        if not (unit >= 2 and 1 <= hole < unit and 0 <= oy < unit and 0 <= ox < unit):
            raise ParameterError(f"GridDropout: params {params} are not a grid (unit >= 2, 1 <= hole < unit, "
                                 "0 <= offset < unit)")
        rows, cols = shape

        def starts(offset: int, n: int) -> list[tuple[int, int]]:
            out = []
            for s in range(offset - unit, n, unit):
                a, b = max(s, 0), min(s + hole, n)
                if b > a:
                    out.append((a, b - a))
            return out

        return [[y, x, h, w] for y, h in starts(oy, rows) for x, w in starts(ox, cols)]
