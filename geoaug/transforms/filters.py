"""Blur and resolution: ``GaussianBlur``, ``Sharpen``, ``Downscale``, over any band count.

Rules shared by the three:

* nodata-aware: invalid pixels contribute nothing (normalised convolution:
  the weights of the valid neighbours are renormalised) and keep their value;
  the mask, the geotransform and the shape are unchanged (a pixel is valid
  exactly when it was);
* integers are rounded half to even and saturated, floats clipped to their
  finite range; the dtype is kept;
* label rasters pass unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..kernels import resize as _resize
from ..kernels.blur import convolve_separable, gaussian_taps
from ..kernels.borders import EDGE
from ..kernels.flip import is_all_true
from ..kernels.store import store_bands
from ..raster import GeoRaster
from .base import Transform, as_range, draw
from .functional import check_interpolation

__all__ = ["BLUR_FILLS", "Downscale", "GaussianBlur", "Sharpen"]

#: what lies outside the raster for a blur: ``nodata`` contributes nothing, the others map inside
BLUR_FILLS = ("nodata", "edge", "reflect", "mirror", "wrap")
#: largest sigma in pixels (a kernel of 2 * ceil(3 * sigma) + 1 taps)
MAX_SIGMA = 1000.0


def _check_blur_fill(name: str, fill: Any) -> str:
    if fill not in BLUR_FILLS:
        raise ParameterError(f"{name}: fill must be one of {', '.join(BLUR_FILLS)}, got {fill!r}")
    return fill


def _mask3(raster: GeoRaster) -> np.ndarray | None:
    m = raster.mask
    if is_all_true(m):
        return None
    return m if m.ndim == 3 else m[None]


class GaussianBlur(Transform):
    """Gaussian blur of every band, nodata-aware.

    Parameters
    ----------
    sigma : float or (float, float)
        Standard deviation of the Gaussian in pixels (> 0), fixed or drawn
        uniformly. The kernel has ``2 * ceil(3 * sigma) + 1`` taps per axis
        (at least 3), applied separably.
    fill : {"mirror", "reflect", "edge", "wrap", "nodata"}
        The outside of the raster: ``mirror`` (``dcb|abcd``, OpenCV's default
        ``BORDER_REFLECT_101``) and the others map the taps back inside;
        ``nodata`` treats it as invalid (it contributes nothing).
    p : float
        Probability of applying.

    Notes
    -----
    Normalised convolution: an output value is ``sum(w * x) / sum(w)`` over
    the *valid* pixels of its window, so no value under the mask is read; a
    pixel is valid in the output exactly when it was valid in the input.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 5, 5), dtype="uint16")
    >>> x[:, 2, 2] = 1000
    >>> GaussianBlur(sigma=1.0)(x, rng=0)[0, 2, 1:4]
    array([ 98, 159,  98], dtype=uint16)
    """

    def __init__(self, sigma: float | tuple[float, float] = (0.5, 1.5), fill: str = "mirror", p: float = 1.0) -> None:
        super().__init__(p)
        self.sigma = sigma
        self._sigma = as_range("GaussianBlur.sigma", sigma, low=0.0, high=MAX_SIGMA)
        if self._sigma[0] <= 0:
            raise ParameterError(f"GaussianBlur: sigma must be > 0, got {sigma!r}")
        self.fill = _check_blur_fill("GaussianBlur", fill)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"sigma": draw(rng, self._sigma)}

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        taps = gaussian_taps(float(params["sigma"]))
        return raster.replace(data=convolve_separable(raster.data, _mask3(raster), taps, self.fill))


class Sharpen(Transform):
    """Unsharp masking: ``x + alpha * (x - blur(x))``, with a Gaussian blur of ``sigma`` pixels.

    Parameters
    ----------
    alpha : float or (float, float)
        Strength (>= 0): 0 leaves the image unchanged, 1 doubles the detail.
    sigma : float or (float, float)
        Standard deviation of the Gaussian in pixels (> 0); the kernel has
        ``2 * ceil(3 * sigma) + 1`` taps per axis.
    fill : {"mirror", "reflect", "edge", "wrap", "nodata"}
        The outside of the raster, as for :class:`GaussianBlur`.
    p : float
        Probability of applying.

    Notes
    -----
    The blur is the nodata-aware one of :class:`GaussianBlur` (only valid
    pixels enter it); invalid pixels keep their value and stay invalid.
    Integers saturate (a bright edge of a uint16 image stops at 65535).
    albumentations' ``Sharpen(method="gaussian")`` computes the same formula.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1, 5, 5), dtype="float32")
    >>> x[:, 2, 2] = 1.0
    >>> float(Sharpen(alpha=1.0, sigma=1.0)(x, rng=0)[0, 2, 2]) > 1.8
    True
    """

    def __init__(self, alpha: float | tuple[float, float] = (0.2, 0.5), sigma: float | tuple[float, float] = 1.0,
                 fill: str = "mirror", p: float = 1.0) -> None:
        super().__init__(p)
        self.alpha, self.sigma = alpha, sigma
        self._alpha = as_range("Sharpen.alpha", alpha, low=0.0, high=1e6)
        self._sigma = as_range("Sharpen.sigma", sigma, low=0.0, high=MAX_SIGMA)
        if self._sigma[0] <= 0:
            raise ParameterError(f"Sharpen: sigma must be > 0, got {sigma!r}")
        self.fill = _check_blur_fill("Sharpen", fill)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"alpha": draw(rng, self._alpha), "sigma": draw(rng, self._sigma)}

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        a = float(params["alpha"])
        taps = gaussian_taps(float(params["sigma"]))
        data = convolve_separable(raster.data, _mask3(raster), taps, self.fill, amount=a)
        return raster.replace(data=data)


def _metres_per_unit(crs: Any) -> float | None:
    """Metres per CRS unit of a projected CRS, None when unknown or geographic."""
    if crs is None or not getattr(crs, "is_projected", False):
        return None
    try:
        factor = crs.linear_units_factor[1]
    except Exception:  # a CRS without linear units
        return None
    return float(factor) if factor and math.isfinite(factor) else None


class Downscale(Transform):
    """Simulate a coarser sensor: average down to a coarser pixel, then resample back to the input grid.

    Exactly one of ``factor`` and ``gsd`` says how coarse (neither: ``factor=(2, 4)``).

    Parameters
    ----------
    factor : float or (float, float), optional
        Coarse pixel size over the raster's pixel size (>= 1), fixed or drawn:
        2 turns 10 m pixels into 20 m ones. Works for plain arrays.
    gsd : float or (float, float), optional
        Target ground sampling distance in metres (fixed or drawn), e.g. 30
        to make a 10 m Sentinel-2 chip look like Landsat. Needs a raster with
        a projected CRS (the pixel size is read from its transform, converted
        to metres) when the draw is applied, so the pixel size is the one the
        raster has at that point of a pipeline; plain arrays and geographic
        CRSs are refused. A gsd finer than the raster's pixel is refused.
    interpolation : {"nearest", "bilinear", "cubic"}
        How the coarse image is resampled back to the input grid.
    p : float
        Probability of applying.

    Notes
    -----
    The coarse grid has ``round(rows / f)`` x ``round(cols / f)`` pixels
    (at least 1), each the area average of the input pixels it covers (a
    detector integrating over its footprint; OpenCV's ``INTER_AREA``). With a
    mask, the averages are taken over valid pixels only (a coarse pixel with
    none is empty and the way back renormalises over the non-empty ones), and
    only valid pixels change: the mask, shape and geotransform are kept.
    Outside the image the way back extends the edge.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4)
    >>> Downscale(factor=2, interpolation="nearest")(x, rng=0)[0]
    array([[ 2.5,  2.5,  4.5,  4.5],
           [ 2.5,  2.5,  4.5,  4.5],
           [10.5, 10.5, 12.5, 12.5],
           [10.5, 10.5, 12.5, 12.5]], dtype=float32)
    """

    def __init__(self, factor: float | tuple[float, float] | None = None,
                 gsd: float | tuple[float, float] | None = None, interpolation: str = "bilinear",
                 p: float = 1.0) -> None:
        super().__init__(p)
        if factor is not None and gsd is not None:
            raise ParameterError("Downscale: give factor or gsd, not both")
        self.factor, self.gsd = factor, gsd
        self._factor = as_range("Downscale.factor", (2.0, 4.0) if factor is None and gsd is None else factor,
                                low=1.0, high=1e6) if gsd is None else None
        self._gsd = None
        if gsd is not None:
            self._gsd = as_range("Downscale.gsd", gsd, low=0.0, high=1e9)
            if self._gsd[0] <= 0:
                raise ParameterError(f"Downscale: gsd must be > 0 metres, got {gsd!r}")
        self.interpolation = check_interpolation(interpolation)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        if self._factor is not None:
            f = draw(rng, self._factor)
            return {"factor_y": f, "factor_x": f}
        return {"gsd": draw(rng, self._gsd)}

    @staticmethod
    def factors(raster: GeoRaster, params: dict[str, Any]) -> tuple[float, float]:
        """``(factor_y, factor_x)`` of a draw: given, or the drawn gsd over the raster's pixel size in metres."""
        if "gsd" not in params:
            return float(params["factor_y"]), float(params["factor_x"])
        g = float(params["gsd"])
        per_unit = _metres_per_unit(raster.crs)
        if per_unit is None:
            what = "a raster without a CRS (a plain array)" if raster.crs is None else f"CRS {raster.crs}"
            raise ParameterError(f"Downscale: gsd in metres needs a raster with a projected CRS; got {what}. "
                                 "Use factor= (a ratio) instead")
        rx, ry = (v * per_unit for v in raster.res)
        if not (rx > 0 and ry > 0):
            raise ParameterError(f"Downscale: the raster's transform has no pixel size ({raster.transform})")
        if g < min(rx, ry) * (1 - 1e-9):
            raise ParameterError(f"Downscale: gsd {g:g} m is finer than the raster's pixel size "
                                 f"({rx:g} x {ry:g} m)")
        return max(1.0, g / ry), max(1.0, g / rx)

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        fy, fx = self.factors(raster, params)
        if not (fy >= 1.0 and fx >= 1.0 and math.isfinite(fy) and math.isfinite(fx)):
            raise ParameterError(f"Downscale: factors must be finite and >= 1, got {fy}, {fx}")
        h, w = raster.height, raster.width
        ch, cw = max(1, round(h / fy)), max(1, round(w / fx))
        if (ch, cw) == (h, w):
            return raster
        kind = {"nearest": _resize.NEAREST, "bilinear": _resize.LINEAR, "cubic": _resize.CUBIC}[self.interpolation]
        down_k = (_resize.AREA if h > ch else _resize.LINEAR, _resize.AREA if w > cw else _resize.LINEAR)
        down = ((h / ch, w / cw), (0.0, 0.0), (ch, cw))
        up = ((ch / h, cw / w), (0.0, 0.0), (h, w))
        mask3 = _mask3(raster)
        if mask3 is None:
            coarse, _ = _resize.resize_separable(raster.data, None, *down, kind=down_k, mode=EDGE)
            data, _ = _resize.resize_separable(coarse, None, *up, kind=(kind, kind), mode=EDGE)
            return raster.replace(data=data)
        return raster.replace(data=_downscale_masked(raster, mask3, down, up, down_k, kind))


def _downscale_masked(raster: GeoRaster, mask3: np.ndarray, down: tuple, up: tuple, down_k: tuple,
                      kind: int) -> np.ndarray:
    """Normalised down-and-up: averages over valid pixels, renormalised over non-empty coarse pixels."""
    data = raster.data
    work = np.float64 if data.dtype in (np.float64, np.int32) else np.float32
    # the data in the work dtype, 0 under the mask (no value there enters a sum): a copy, then zeros where
    # invalid, in half the time of np.where with the broadcast mask (13x120² float32: 81 against 162 µs)
    x = data.astype(work)
    np.copyto(x, 0, where=~mask3)
    num, _ = _resize.resize_separable(x, None, *down, kind=down_k, mode=EDGE)
    den, _ = _resize.resize_separable(mask3.astype(work), None, *down, kind=down_k, mode=EDGE)
    full = den > 1e-6
    coarse = np.divide(num, den, out=np.zeros_like(num), where=full)
    num2, _ = _resize.resize_separable(coarse, None, *up, kind=(kind, kind), mode=EDGE)
    den2, _ = _resize.resize_separable(full.astype(work), None, *up, kind=(kind, kind), mode=EDGE)
    ok = mask3 & (den2 > 1e-6)  # a valid pixel always lies in a non-empty coarse pixel: its weight is > 0
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 only where ok is False (not stored)
        np.divide(num2, den2, out=num2)
    out = np.empty_like(data)
    store_bands(num2, data, ok, out, None, 0.0)  # rounds and saturates valid pixels, keeps the others
    return out
