"""Distortions: ``ElasticTransform``, ``GridDistortion`` (displacement fields), ``BandMisregistration``.

What happens to the georeferencing
----------------------------------
None of them changes the geotransform, the CRS or the shape: the output grid
is the input grid. They move *content* locally, so after them a pixel's
position on the ground is true only to within the displacement: at most
:meth:`max_displacement` pixels (per axis) of the draw, which the record
holds. That is the point of the augmentation (a scene that is not perfectly
orthorectified, detectors that are not perfectly co-registered); use a
geometric transform when the map position must stay exact.

Displacement fields (``ElasticTransform``, ``GridDistortion``) are drawn at
coarse resolution (a few nodes) and upsampled bilinearly inside the remap
kernel (:func:`geoaug.kernels.remap.remap_field`), so the displacement of any
pixel is bounded by the largest node displacement. The image is resampled
with the transform's interpolation, label rasters with nearest; the mask
follows the warp's rule (a pixel is valid only if every input pixel it draws
from is valid), so nodata never leaks and nothing under the mask is read.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..kernels import resize as _resize
from ..kernels.borders import FILL_MODES
from ..kernels.flip import is_all_true
from ..kernels.remap import remap_field
from ..raster import GeoRaster, all_valid_mask
from .base import Transform, as_range, draw
from .functional import check_fill, check_interpolation, label_fill

__all__ = ["BandMisregistration", "ElasticTransform", "GridDistortion"]

#: most field nodes per axis (bounds the record's size)
MAX_NODES = 257


def _check_fill_value(name: str, fill_value: Any) -> Any:
    if fill_value is not None and (not isinstance(fill_value, numbers.Real) or isinstance(fill_value, bool)
                                   or not math.isfinite(fill_value)):
        raise ParameterError(f"{name}: fill_value must be a finite number, got {fill_value!r}")
    return fill_value


class _FieldTransform(Transform):
    """A transform that resamples through a coarse displacement field ``(2, gh, gw)`` (dx, dy in pixels)."""

    abstract = True
    interpolation: str = "bilinear"
    fill: str = "nodata"
    fill_value: float | None = None

    def field(self, params: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        """The drawn displacement field ``(2, gh, gw)`` (see :mod:`geoaug.kernels.remap`)."""
        raise NotImplementedError

    def max_displacement(self, params: dict[str, Any], shape: tuple[int, int]) -> float:
        """Largest displacement along either axis, in pixels, of the draw ``params`` on a raster of ``shape``."""
        if not params.get("applied", True):
            return 0.0
        return float(np.abs(self.field(params, shape)).max())

    def _remap(self, raster: GeoRaster, params: dict[str, Any], interpolation: str, fill: str) -> GeoRaster:
        f = self.field(params, (raster.height, raster.width))
        fv = 0.0 if self.fill_value is None else float(self.fill_value)
        nan = True
        if raster.lazy_mask:
            # a float array whose NaNs are not found yet: remapped as all valid, the output rows tested for NaN while
            # in cache (kernels/nans.py). No NaN came out: this is the result (as remapped with the mask), of one
            # plane. Else the input is scanned and remapped again with its mask
            data, mask, nan = remap_field(raster.data, None, f, interpolation, fill, fv, raster.invalid_value,
                                          return_nan=True)
            layout = mask.shape[1:]
        if nan:
            m = raster.mask
            mask3 = None if is_all_true(m) else (m if m.ndim == 3 else m[None])
            data, mask = remap_field(raster.data, mask3, f, interpolation, fill, fv, raster.invalid_value)
            layout = m.shape
        if mask.all():
            mask = all_valid_mask(layout)
        elif len(layout) == 2:
            mask = mask[0]
        return raster.replace(data=data, mask=mask)

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return self._remap(raster, params, self.interpolation, self.fill)

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return self._remap(label, params, "nearest", label_fill(self.fill))


def _node_count(name: str, size: int, spacing: float) -> int:
    n = math.ceil(size / spacing) + 1
    if n > MAX_NODES:
        raise ParameterError(f"{name}: sigma {spacing:g} px gives {n} field nodes along an axis of {size} px "
                             f"(at most {MAX_NODES}); use a larger sigma")
    return max(2, n)


class ElasticTransform(_FieldTransform):
    """Elastic deformation: a smooth random displacement field, drawn coarse and upsampled.

    Parameters
    ----------
    alpha : float or (float, float)
        Largest displacement in pixels (>= 0), fixed or drawn per call.
        Every node of the field gets an independent displacement uniform in
        ``[-alpha, alpha]`` along each axis; bilinear upsampling keeps every
        pixel's displacement within that bound.
    sigma : float
        Smoothness: the spacing of the field's nodes in pixels (>= 2). The
        field has ``ceil(rows / sigma) + 1`` x ``ceil(cols / sigma) + 1``
        nodes (at most 257 per axis).
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling of the image (labels: nearest).
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What comes in from outside the input (as for :class:`geoaug.Affine`).
    fill_value : float, optional
        Value for ``fill="constant"`` (default 0).
    p : float
        Probability of applying.

    Notes
    -----
    The geotransform is kept; local positions are perturbed by at most the
    field's largest node displacement (:meth:`max_displacement`). The record
    holds the field (``{"field": [dx_nodes, dy_nodes]}``, pixels).
    Unlike albumentations' ``ElasticTransform``, ``alpha`` is the bound of the
    displacement in pixels (there it scales a Gaussian-smoothed noise field)
    and ``sigma`` the node spacing (there the Gaussian's width).

    Examples
    --------
    >>> import numpy as np
    >>> t = ElasticTransform(alpha=3.0, sigma=16)
    >>> res = t(np.zeros((13, 64, 64), "uint16"), rng=0, return_params=True)
    >>> res.image.shape, t.max_displacement(res.params, (64, 64)) <= 3.0
    ((13, 64, 64), True)
    """

    def __init__(self, alpha: float | tuple[float, float] = 4.0, sigma: float = 32.0, interpolation: str = "bilinear",
                 fill: str = "nodata", fill_value: float | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.alpha = alpha
        self._alpha = as_range("ElasticTransform.alpha", alpha, low=0.0, high=1e6)
        if not isinstance(sigma, numbers.Real) or isinstance(sigma, bool) or not (2.0 <= float(sigma) <= 1e6):
            raise ParameterError(f"ElasticTransform: sigma must be a number in [2, 1e6] (pixels), got {sigma!r}")
        self.sigma = sigma
        self.interpolation = check_interpolation(interpolation)
        self.fill = check_fill(fill)
        self.fill_value = _check_fill_value("ElasticTransform", fill_value)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        gh = _node_count("ElasticTransform", raster.height, float(self.sigma))
        gw = _node_count("ElasticTransform", raster.width, float(self.sigma))
        a = draw(rng, self._alpha)
        return {"field": (rng.uniform(-1.0, 1.0, (2, gh, gw)) * a).tolist()}

    def field(self, params: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        """The drawn field ``(2, gh, gw)``."""
        return _as_field("ElasticTransform", params["field"])


def _as_field(name: str, value: Any) -> np.ndarray:
    f = np.asarray(value, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] != 2 or f.shape[1] < 2 or f.shape[2] < 2 or not np.isfinite(f).all():
        raise ParameterError(f"{name}: the field must be finite, (2, gh, gw) with gh, gw >= 2; got {f.shape}")
    return f


class GridDistortion(_FieldTransform):
    """Grid distortion: the image cut into ``num_steps`` x ``num_steps`` cells, each cell stretched or squeezed.

    Parameters
    ----------
    num_steps : int
        Cells per axis (>= 1).
    distort_limit : float or (float, float)
        Each column of cells gets a width ``(1 + u) * cols / num_steps`` and
        each row of cells a height ``(1 + v) * rows / num_steps`` with ``u``,
        ``v`` drawn uniformly in this range (a number ``d`` means ``(-d,
        d)``), within (-1, 1). The widths (heights) are then scaled to sum to
        the image's: the image's edges stay in place (albumentations'
        ``normalized=True``).
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling of the image (labels: nearest).
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What comes in from outside the input (only reached with cubic taps at
        the edges).
    fill_value : float, optional
        Value for ``fill="constant"`` (default 0).
    p : float
        Probability of applying.

    Notes
    -----
    The mapping is piecewise linear along each axis (x moves with x only, y
    with y only): a ``(2, num_steps + 1, num_steps + 1)`` field upsampled
    bilinearly reproduces it exactly. The geotransform is kept; positions move
    by at most :meth:`max_displacement` pixels.

    Examples
    --------
    >>> import numpy as np
    >>> t = GridDistortion(num_steps=4, distort_limit=0.3)
    >>> res = t(np.zeros((4, 40, 40), "float32"), rng=0, return_params=True)
    >>> len(res.params["steps_x"]), res.image.shape
    (4, (4, 40, 40))
    """

    def __init__(self, num_steps: int = 5, distort_limit: float | tuple[float, float] = (-0.3, 0.3),
                 interpolation: str = "bilinear", fill: str = "nodata", fill_value: float | None = None,
                 p: float = 1.0) -> None:
        super().__init__(p)
        if not isinstance(num_steps, numbers.Integral) or isinstance(num_steps, bool) or not 1 <= num_steps <= 256:
            raise ParameterError(f"GridDistortion: num_steps must be an int in [1, 256], got {num_steps!r}")
        self.num_steps, self.distort_limit = int(num_steps), distort_limit
        lim = (-abs(distort_limit), abs(distort_limit)) if isinstance(distort_limit, numbers.Real) \
            and not isinstance(distort_limit, bool) else distort_limit
        self._limit = as_range("GridDistortion.distort_limit", lim, low=-0.99, high=0.99)
        self.interpolation = check_interpolation(interpolation)
        self.fill = check_fill(fill)
        self.fill_value = _check_fill_value("GridDistortion", fill_value)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        n = self.num_steps
        return {"steps_x": [1.0 + draw(rng, self._limit) for _ in range(n)],
                "steps_y": [1.0 + draw(rng, self._limit) for _ in range(n)]}

    def field(self, params: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        """The drawn field ``(2, num_steps + 1, num_steps + 1)``."""
        sx = np.asarray(params["steps_x"], dtype=np.float64)
        sy = np.asarray(params["steps_y"], dtype=np.float64)
        if sx.ndim != 1 or sx.shape != sy.shape or sx.size < 1 or not (sx > 0).all() or not (sy > 0).all():
            raise ParameterError("GridDistortion: steps_x and steps_y must be equally many positive numbers")
        rows, cols = shape
        n = sx.size

        def disp(steps: np.ndarray, size: int) -> np.ndarray:
            src = np.concatenate([[0.0], np.cumsum(steps)]) / steps.sum() * size
            return src - np.arange(n + 1) * size / n

        dx, dy = disp(sx, cols), disp(sy, rows)
        return np.stack([np.broadcast_to(dx[None, :], (n + 1, n + 1)), np.broadcast_to(dy[:, None], (n + 1, n + 1))])


class BandMisregistration(Transform):
    """Co-registration error between detectors: an independent sub-pixel shift of every band.

    Parameters
    ----------
    max_shift : float
        Largest shift in pixels (>= 0): each band's shift ``(dy, dx)`` is
        drawn uniformly in the disc of that radius. Positive ``dx`` moves the
        band's content right, positive ``dy`` down.
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling of each band.
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What comes in from outside the band (as for :class:`geoaug.Affine`).
    fill_value : float, optional
        Value for ``fill="constant"`` (default 0).
    p : float
        Probability of applying.

    Notes
    -----
    The mask follows each band: it becomes per band ``(bands, rows, cols)``
    when the bands' validity differs (a band is valid where the input pixels
    it draws from were valid in that band). The geotransform is kept: the
    bands are off their true position by at most ``max_shift`` pixels, which
    is what the augmentation simulates. Label rasters are unchanged (the
    ground did not move; the detectors did). The record holds the shifts,
    ``{"shifts": [[dy, dx], ...]}`` (one per band).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 8, 8), "float32")
    >>> res = BandMisregistration(max_shift=0.5)(x, rng=0, return_params=True)
    >>> len(res.params["shifts"]), max(abs(v) for s in res.params["shifts"] for v in s) <= 0.5
    (3, True)
    """

    def __init__(self, max_shift: float = 0.5, interpolation: str = "bilinear", fill: str = "nodata",
                 fill_value: float | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        if not isinstance(max_shift, numbers.Real) or isinstance(max_shift, bool) or not (
                0.0 <= float(max_shift) <= 1e6):
            raise ParameterError(f"BandMisregistration: max_shift must be a number in [0, 1e6] pixels, "
                                 f"got {max_shift!r}")
        self.max_shift = max_shift
        self.interpolation = check_interpolation(interpolation)
        self.fill = check_fill(fill)
        self.fill_value = _check_fill_value("BandMisregistration", fill_value)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        shifts = []
        for _ in range(raster.count):
            r = float(self.max_shift) * math.sqrt(float(rng.random()))
            a = 2.0 * math.pi * float(rng.random())
            shifts.append([r * math.sin(a), r * math.cos(a)])
        return {"shifts": shifts}

    def max_displacement(self, params: dict[str, Any], shape: tuple[int, int]) -> float:
        """Largest shift along either axis, in pixels, of the draw ``params``."""
        if not params.get("applied", True) or not params["shifts"]:
            return 0.0
        return float(np.abs(np.asarray(params["shifts"], dtype=np.float64)).max())

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        shifts = np.asarray(params["shifts"], dtype=np.float64)
        if shifts.shape != (raster.count, 2) or not np.isfinite(shifts).all():
            raise ParameterError(f"BandMisregistration: shifts must be ({raster.count}, 2) finite numbers, "
                                 f"got shape {shifts.shape}")
        kind = {"nearest": _resize.NEAREST, "bilinear": _resize.LINEAR, "cubic": _resize.CUBIC}[self.interpolation]
        m = raster.mask
        trivial = is_all_true(m)
        h, w = raster.height, raster.width
        data = np.empty(raster.shape, dtype=raster.dtype)
        masks = []
        fv = 0.0 if self.fill_value is None else float(self.fill_value)
        src = np.ascontiguousarray(raster.data)
        for b in range(raster.count):
            plane = None if trivial else (m[b] if m.ndim == 3 else m)[None]
            dy, dx = shifts[b]
            _, mb = _resize.resize_separable(src[b:b + 1], plane, (1.0, 1.0), (-dy, -dx), (h, w), kind=(kind, kind),
                                             mode=FILL_MODES[self.fill], fill_value=fv, out_fill=raster.invalid_value,
                                             out=data[b:b + 1])
            masks.append(mb[0])
        mask = np.stack(masks)
        if mask.all():
            return raster.replace(data=data, mask=all_valid_mask(m.shape))
        return raster.replace(data=data, mask=mask).collapse_mask()
