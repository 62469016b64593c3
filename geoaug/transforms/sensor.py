"""Sensor-aware transforms: what a multispectral sensor and the atmosphere actually vary.

* :class:`Haze`: additive path radiance that falls with wavelength;
* :class:`CloudShadow`: procedural clouds and their displaced shadows, the
  same footprint in every band, optionally reported in the mask or a label class;
* :class:`Illumination`: a smooth, low-order spatial gain field;
* :class:`SpectralIndex`: NDVI, NDWI, NDBI, NBR... appended as new named float bands.

They follow the spectral rules of :mod:`geoaug.transforms.spectral`: only
valid pixels change, integers are rounded and saturated, floats stay floats,
NaN is never created in a valid pixel, a valid pixel never lands on the nodata
value, and the geotransform is untouched. Band names and wavelengths come from
:mod:`geoaug.sensors`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import sensors
from ..errors import ParameterError
from ..kernels.dtypes import work_dtype
from ..raster import GeoRaster, collapse_mask, nodata_safe_value
from .base import Transform, as_range, draw
from .spectral import SpectralTransform, _check_value_range, full_scale

__all__ = ["INDICES", "CloudShadow", "Haze", "Illumination", "SpectralIndex"]


def _check_sensor(name: str, sensor: Any) -> str | None:
    if sensor is not None and (not isinstance(sensor, str) or sensor not in sensors.SENSORS):
        raise ParameterError(f"{name}.sensor must be one of {sorted(sensors.SENSORS)} or None, got {sensor!r}")
    return sensor


def _iterable(v: Any) -> list[Any]:
    try:
        return list(v)
    except TypeError:
        return [None]


#: largest wavelength (nm) Haze accepts: 1 mm, far beyond any optical or thermal band
MAX_WAVELENGTH = 1e6


def _positive(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= MAX_WAVELENGTH


# ---------------------------------------------------------------------------------------------- Haze
class Haze(SpectralTransform):
    """Haze: additive path radiance that decreases with wavelength.

    Every valid pixel of band ``b`` gets
    ``amount * (high - low) * (wavelength_b / reference) ** -exponent`` added:
    the haze is ``amount`` of full scale at the ``reference`` wavelength and
    fades towards the infrared, steeply for small particles (Rayleigh
    scattering: ``exponent`` ~ 4) and slowly for aerosols (~ 0.5 to 2, the
    Angstrom exponent). The same over the whole image.

    Parameters
    ----------
    amount : float or (float, float)
        Haze at the reference wavelength, as a share of full scale, >= 0
        (e.g. 0.05 = 500 reflectance units of 0..10000).
    exponent : float or (float, float)
        The wavelength exponent ``k`` in ``lambda ** -k``, >= 0 (0: the same
        haze in every band).
    wavelengths : sequence of float or mapping of str to float, optional
        Centre wavelength of each band in nanometres: a list, one per band,
        or a mapping from band name to wavelength (names not in it are looked
        up). By default every band's wavelength comes from its name
        (Sentinel-2 ``B01``...``B12``/``B8A``, Landsat 8/9 ``B1``...``B11``/
        ``SR_B1``...``SR_B7``, STAC common names; :mod:`geoaug.sensors`); a
        band whose wavelength is unknown is an error naming it.
    sensor : {"sentinel2", "landsat"}, optional
        Which sensor's table band names belong to (detected by default).
    reference : float
        The wavelength (nm) at which the haze is ``amount``; default 490 (blue).
    value_range : (float, float), optional
        What full scale means (default: the dtype's range for integers, (0, 1) for floats).
    p : float
        Probability of applying.

    Examples
    --------
    >>> import numpy as np
    >>> from geoaug import GeoRaster
    >>> r = GeoRaster.from_array(np.full((3, 1, 2), 1000, "uint16"), band_names=["B02", "B04", "B08"])
    >>> Haze(amount=0.05, exponent=2.0, value_range=(0, 10000))(r, rng=0).data[:, 0, 0].tolist()
    [1500, 1271, 1169]
    """

    def __init__(self, amount: float | tuple[float, float] = (0.01, 0.08),
                 exponent: float | tuple[float, float] = (0.5, 2.0),
                 wavelengths: Sequence[float] | Mapping[str, float] | None = None, sensor: str | None = None,
                 reference: float = 490.0, value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self._amount = as_range("Haze.amount", amount, low=0.0, high=1e6)
        self._exponent = as_range("Haze.exponent", exponent, low=0.0, high=16.0)
        if wavelengths is not None:
            values = list(wavelengths.values()) if isinstance(wavelengths, Mapping) else wavelengths
            if isinstance(values, (str, bytes)) or not all(_positive(v) for v in _iterable(values)):
                raise ParameterError(f"Haze.wavelengths must be wavelengths in nm within (0, {MAX_WAVELENGTH:g}] "
                                     f"(a list, one per band, or a mapping band name -> nm), got {wavelengths!r}")
        if not _positive(reference):
            raise ParameterError(f"Haze.reference must be a wavelength in nm within (0, {MAX_WAVELENGTH:g}], "
                                 f"got {reference!r}")
        self.wavelengths = wavelengths
        self.sensor = _check_sensor("Haze", sensor)
        self.reference = float(reference)
        self.value_range = _check_value_range("Haze", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"amount": draw(rng, self._amount), "exponent": draw(rng, self._exponent)}

    def band_wavelengths(self, raster: GeoRaster) -> np.ndarray:
        """The centre wavelength (nm) of each band of ``raster``.

        Parameters
        ----------
        raster : GeoRaster
            The image (its band names are read unless ``wavelengths`` is a list).

        Returns
        -------
        ndarray of float64
        """
        wl = self.wavelengths
        if wl is not None and not isinstance(wl, Mapping):
            if len(wl) != raster.count:
                raise ParameterError(f"Haze.wavelengths has {len(wl)} values for an image of {raster.count} bands")
            return np.asarray(wl, dtype=float)
        try:
            return np.asarray(sensors.band_wavelengths(raster.band_names, self.sensor, wl), dtype=float)
        except ParameterError as e:
            raise ParameterError(f"Haze: {e}") from None

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        lo, hi = full_scale(raster.dtype, self.value_range)
        ratio = self.band_wavelengths(raster) / self.reference
        with np.errstate(over="ignore"):  # extreme ratios saturate (the store clips to the dtype's range)
            offsets = float(params["amount"]) * (hi - lo) * ratio ** -float(params["exponent"])
        return np.nan_to_num(offsets, nan=0.0, posinf=np.finfo(np.float64).max)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return x + x.dtype.type(ctx[b])

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        w = work_dtype(raster.dtype)
        n = raster.count
        return np.zeros(n, w), np.ones(n, w), np.asarray(ctx).astype(w), False


# ------------------------------------------------------------------------------------- Illumination
def _terms(order: int) -> list[tuple[int, int]]:
    """Exponents ``(i, j)`` of the monomials ``u**i * v**j`` with ``1 <= i + j <= order``."""
    return [(i, d - i) for d in range(1, order + 1) for i in range(d + 1)]


def gain_field(coefficients: Sequence[float], order: int, strength: float, shape: tuple[int, int],
               dtype: Any = np.float64) -> np.ndarray:
    """The gain ``1 + strength * f(u, v)`` of :class:`Illumination` on a grid of ``shape``.

    ``f`` is the polynomial with ``coefficients`` over the terms of
    :func:`_terms` (``order``), in coordinates ``u, v`` in ``[-1, 1]`` from
    the left/top edge to the right/bottom edge of the image (pixel centres),
    divided by the sum of the coefficients' magnitudes, so ``|f| <= 1`` and
    the gain lies within ``[1 - strength, 1 + strength]``.
    """
    h, w = shape
    u = (np.arange(w, dtype=np.float64) + 0.5) / w * 2 - 1
    v = (np.arange(h, dtype=np.float64) + 0.5) / h * 2 - 1
    c = np.asarray(coefficients, dtype=np.float64)
    norm = np.abs(c).sum()
    f = np.zeros((h, w))
    if norm > 0:
        for ck, (i, j) in zip(c, _terms(order)):
            f += (ck / norm) * (v[:, None] ** j) * (u[None, :] ** i)
    return (1.0 + strength * f).astype(dtype)


class Illumination(SpectralTransform):
    """A smooth spatial gain field: uneven illumination, vignetting, a slope facing the sun.

    Every valid pixel is multiplied by ``1 + strength * f(u, v)``, the same
    factor in every band, where ``f`` is a random polynomial of degree
    ``order`` in the image's normalised coordinates (``u, v`` from -1 at the
    left/top edge to 1 at the right/bottom edge) scaled so that ``|f| <= 1``:
    the gain stays within ``[1 - strength, 1 + strength]``. Order 1 is a
    linear ramp; 2 adds curvature (a bright or dark centre, a saddle).
    The gain multiplies the values themselves (0 stays 0).

    Parameters
    ----------
    strength : float or (float, float)
        Largest relative change, within [0, 1] (0.2 = at most +-20 %).
    order : int
        Degree of the polynomial, 1 to 6.
    p : float
        Probability of applying.

    Examples
    --------
    >>> import numpy as np
    >>> out = Illumination(strength=0.2, order=1)(np.full((2, 4, 4), 1000.0, "float32"), rng=0)
    >>> bool(800 <= out.min() and out.max() <= 1200 and (out[0] == out[1]).all())
    True
    """

    def __init__(self, strength: float | tuple[float, float] = (0.05, 0.2), order: int = 2, p: float = 1.0) -> None:
        super().__init__(p)
        self._strength = as_range("Illumination.strength", strength, low=0.0, high=1.0)
        if not isinstance(order, numbers.Integral) or isinstance(order, bool) or not 1 <= order <= 6:
            raise ParameterError(f"Illumination.order must be an int from 1 to 6, got {order!r}")
        self.order = int(order)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        strength = draw(rng, self._strength)
        coefficients = [float(c) for c in rng.normal(0.0, 1.0, len(_terms(self.order)))]
        return {"strength": strength, "coefficients": coefficients}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        if len(params["coefficients"]) != len(_terms(self.order)):
            raise ParameterError(f"Illumination: {len(params['coefficients'])} coefficients in the params for "
                                 f"order {self.order} (needs {len(_terms(self.order))})")
        return gain_field(params["coefficients"], self.order, float(params["strength"]),
                          (raster.height, raster.width), work_dtype(raster.dtype))

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return x * ctx


# -------------------------------------------------------------------------------------- CloudShadow
#: octaves of the cloud noise (each half the cell size and half the weight of the previous one)
_OCTAVES = 5
REPORTS = (None, "mask", "label")


def _value_noise(rng: np.random.Generator, rows: np.ndarray, cols: np.ndarray, cell: float) -> np.ndarray:
    """Fractal value noise in [0, 1] at pixel centres ``rows`` x ``cols`` (smoothstep-interpolated grids)."""
    out = np.zeros((rows.size, cols.size))
    amp, total = 1.0, 0.0
    for _ in range(_OCTAVES):
        c = max(cell, 1.0)
        y = (rows + 0.5) / c
        x = (cols + 0.5) / c
        y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
        gy0, gx0 = int(y0.min()), int(x0.min())
        grid = rng.random((int(y0.max()) - gy0 + 2, int(x0.max()) - gx0 + 2))
        fy, fx = y - y0, x - x0
        sy, sx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
        iy, ix = y0 - gy0, x0 - gx0
        top = grid[iy][:, ix] * (1 - sx) + grid[iy][:, ix + 1] * sx
        bottom = grid[iy + 1][:, ix] * (1 - sx) + grid[iy + 1][:, ix + 1] * sx
        out += amp * (top * (1 - sy)[:, None] + bottom * sy[:, None])
        total += amp
        amp *= 0.5
        cell /= 2.0
    return out / total


def cloud_fields(params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity and shadow strength, both in ``[0, 1]``, on a grid of ``shape`` (float64).

    Deterministic from :class:`CloudShadow`'s params: the noise comes from
    ``params["seed"]``; the cloud covers ``coverage`` of the image (its
    opacity ramps from 0 to 1 over ``softness`` of the noise's range); the
    shadow is the cloud's opacity moved by ``params["offset"]`` (rows, cols)
    (clouds just outside the image cast shadows into it).
    """
    h, w = shape
    dy, dx = (round(float(v)) for v in params["offset"])
    dy, dx = max(-h, min(h, dy)), max(-w, min(w, dx))  # a shadow farther than the image comes from outside it
    rng = np.random.default_rng(int(params["seed"]))
    rows = np.arange(min(0, -dy), h + max(0, -dy))
    cols = np.arange(min(0, -dx), w + max(0, -dx))
    noise = _value_noise(rng, rows.astype(np.float64), cols.astype(np.float64), float(params["size"]))
    r0, c0 = -rows[0], -cols[0]
    inside = noise[r0:r0 + h, c0:c0 + w]
    coverage = float(params["coverage"])
    if coverage <= 0:
        zero = np.zeros((h, w))
        return zero, zero.copy()
    threshold = float(np.quantile(inside, 1.0 - coverage)) if coverage < 1 else -np.inf
    soft = max(float(params["softness"]), 1e-6)
    opacity_all = np.clip((noise - threshold) / soft, 0.0, 1.0) if coverage < 1 else np.ones_like(noise)
    cloud = opacity_all[r0:r0 + h, c0:c0 + w]
    shadow = opacity_all[r0 - dy:r0 - dy + h, c0 - dx:c0 - dx + w]
    return np.ascontiguousarray(cloud), np.ascontiguousarray(shadow)


class CloudShadow(SpectralTransform):
    """Procedural clouds and their shadows, the same footprint in every band.

    A cloud field is thresholded fractal value noise drawn from the rng
    (``coverage`` of the image, soft edges); its shadow is the same field
    moved by a drawn vector (``shadow_offset`` pixels in a random
    direction). Under a cloud of opacity ``a`` a pixel becomes
    ``x * (1 - a) + a * cloud_value`` with ``cloud_value = low + brightness *
    (high - low)`` (clouds are bright and spectrally flat); under a shadow of
    strength ``s`` it becomes ``low + (x - low) * (1 - s * (1 - shadow))``
    (``shadow`` is the share of the signal that remains). Clouds cover
    shadows. Only valid pixels change.

    Parameters
    ----------
    coverage : float or (float, float)
        Share of the image under cloud, within [0, 1].
    size : float or (float, float)
        Size of the largest cloud features in pixels (the noise's coarsest
        cell), >= 1; finer detail is added at halves of it.
    softness : float
        Width of a cloud's edge as a share of the noise range (0.01 = hard
        edges, 0.3 = thin, wispy clouds), within (0, 1].
    brightness : float or (float, float)
        A thick cloud's value as a share of full scale, within [0, 1].
    shadow : float or (float, float)
        Share of the signal left in a full shadow, within [0, 1] (0 = black).
    shadow_offset : float or (float, float)
        Distance from a cloud to its shadow in pixels, >= 0 (the direction,
        the sun's azimuth, is drawn uniformly).
    report : {None, "mask", "label"}
        ``"mask"``: pixels under a cloud or a shadow (opacity or strength
        >= 0.5) become invalid (set to the nodata value, or 0 without one),
        as a cloud mask would flag them. ``"label"``: label rasters get
        ``cloud_class`` there (and ``shadow_class`` under shadows, when given).
        None: neither is reported.
    cloud_class, shadow_class : int, optional
        Label classes for ``report="label"`` (``cloud_class`` is then required).
    value_range : (float, float), optional
        What full scale means (default: the dtype's range for integers, (0, 1) for floats).
    p : float
        Probability of applying.

    Examples
    --------
    >>> import numpy as np
    >>> t = CloudShadow(coverage=0.3, brightness=0.8, shadow=0.5, value_range=(0, 10000))
    >>> out = t(np.full((4, 64, 64), 1000, "uint16"), rng=0)
    >>> bool(out.max() > 5000 and out.min() < 1000 and (out[0] == out[3]).all())
    True
    """

    def __init__(self, coverage: float | tuple[float, float] = (0.1, 0.4), size: float | tuple[float, float] = (16, 64),
                 softness: float = 0.1, brightness: float | tuple[float, float] = (0.5, 0.9),
                 shadow: float | tuple[float, float] = (0.3, 0.6), shadow_offset: float | tuple[float, float] = (4, 16),
                 report: str | None = None, cloud_class: int | None = None, shadow_class: int | None = None,
                 value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self._coverage = as_range("CloudShadow.coverage", coverage, low=0.0, high=1.0)
        self._size = as_range("CloudShadow.size", size, low=1.0, high=1e6)
        if not isinstance(softness, numbers.Real) or isinstance(softness, bool) or not 0 < softness <= 1:
            raise ParameterError(f"CloudShadow.softness must be a number in (0, 1], got {softness!r}")
        self.softness = float(softness)
        self._brightness = as_range("CloudShadow.brightness", brightness, low=0.0, high=1.0)
        self._shadow = as_range("CloudShadow.shadow", shadow, low=0.0, high=1.0)
        self._offset = as_range("CloudShadow.shadow_offset", shadow_offset, low=0.0, high=1e5)
        if report not in REPORTS:
            raise ParameterError(f"CloudShadow.report must be None, \"mask\" or \"label\", got {report!r}")
        for key, v in (("cloud_class", cloud_class), ("shadow_class", shadow_class)):
            if v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool)):
                raise ParameterError(f"CloudShadow.{key} must be an int, got {v!r}")
        if report == "label" and cloud_class is None:
            raise ParameterError("CloudShadow: report=\"label\" needs cloud_class (the label class of clouds)")
        self.report = report
        self.cloud_class = None if cloud_class is None else int(cloud_class)
        self.shadow_class = None if shadow_class is None else int(shadow_class)
        self.value_range = _check_value_range("CloudShadow", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        dist = draw(rng, self._offset)
        angle = float(rng.uniform(0.0, 2 * math.pi))
        return {"coverage": draw(rng, self._coverage), "size": draw(rng, self._size), "softness": self.softness,
                "brightness": draw(rng, self._brightness), "shadow": draw(rng, self._shadow),
                "offset": [round(dist * math.sin(angle), 3), round(dist * math.cos(angle), 3)],
                "seed": int(rng.integers(0, 2**63 - 1))}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        cloud, shadow = cloud_fields(params, (raster.height, raster.width))
        lo, hi = full_scale(raster.dtype, self.value_range)
        w = work_dtype(raster.dtype)
        keep = (1.0 - shadow * (1.0 - float(params["shadow"]))).astype(w)
        value = lo + float(params["brightness"]) * (hi - lo)
        return cloud.astype(w), (cloud * value).astype(w), keep, w(lo)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        cloud, bright, keep, lo = ctx
        return (lo + (x - lo) * keep) * (1 - cloud) + bright

    def flagged(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Pixels reported as cloud and as shadow (not cloud): opacity / strength >= 0.5.

        Parameters
        ----------
        params : dict
            A draw of this transform.
        shape : (int, int)
            The grid.

        Returns
        -------
        (ndarray of bool, ndarray of bool)
        """
        cloud, shadow = cloud_fields(params, shape)
        c = cloud >= 0.5
        return c, (shadow >= 0.5) & ~c

    def _apply(self, raster: GeoRaster, params: dict[str, Any], inplace: bool) -> GeoRaster:
        out = super()._apply(raster, params, inplace)
        if self.report != "mask":
            return out
        c, s = self.flagged(params, (raster.height, raster.width))
        gone = c | s
        if not gone.any():
            return out
        mask = out.mask & ~gone if out.mask.ndim == 2 else out.mask & ~gone[None]
        data = out.data if out.data is not raster.data or inplace else out.data.copy()
        data[:, gone] = raster.dtype.type(raster.invalid_value)
        return out.replace(data=data, mask=mask)

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        if self.report != "label":
            return label
        c, s = self.flagged(params, (label.height, label.width))
        data = label.data.copy()
        classes = [(c, self.cloud_class)] + ([(s, self.shadow_class)] if self.shadow_class is not None else [])
        mask = np.array(label.mask)
        for where, cls in classes:
            if label.dtype.kind in "iu" and not np.iinfo(label.dtype).min <= cls <= np.iinfo(label.dtype).max:
                raise ParameterError(f"CloudShadow: class {cls} does not fit the label dtype {label.dtype}")
            data[:, where] = cls
            if mask.ndim == 2:
                mask[where] = True
            else:
                mask[:, where] = True
        return label.replace(data=data, mask=mask)


# ------------------------------------------------------------------------------------ SpectralIndex
#: index name -> (a, b) spectral roles of the normalised difference (a - b) / (a + b)
INDICES: dict[str, tuple[str, str]] = {
    "NDVI": ("nir", "red"),        # vegetation (Rouse et al. 1974)
    "NDWI": ("green", "nir"),      # open water (McFeeters 1996)
    "MNDWI": ("green", "swir16"),  # open water, built-up suppressed (Xu 2006)
    "NDBI": ("swir16", "nir"),     # built-up (Zha et al. 2003)
    "NBR": ("nir", "swir22"),      # burn severity (Key & Benson 2006)
    "NDMI": ("nir", "swir16"),     # vegetation moisture (Gao 1996's NDWI)
    "NDSI": ("green", "swir16"),   # snow (Hall et al. 1995)
    "NDRE": ("nir", "rededge"),    # red edge (Sentinel-2 B08 and B05)
}


def index_dtype(dtype: Any) -> np.dtype:
    """The output dtype of :class:`SpectralIndex`: float64 for float64 and int32 input, float32 otherwise."""
    return np.dtype(np.float64 if np.dtype(dtype) in (np.float64, np.int32) else np.float32)


class SpectralIndex(Transform):
    """Append spectral indices (NDVI, NDWI, NDBI, NBR...) as new named float bands.

    Each index is a normalised difference ``(a - b) / (a + b)`` of two bands
    found by their spectral role (:data:`INDICES`): ``NDVI`` = (nir - red) /
    (nir + red), ``NDWI`` = (green - nir) / (green + nir), ``MNDWI`` (green,
    swir16), ``NDBI`` (swir16, nir), ``NBR`` (nir, swir22), ``NDMI`` (nir,
    swir16), ``NDSI`` (green, swir16), ``NDRE`` (nir, rededge). Bands are
    found by name (Sentinel-2: red ``B04``, nir ``B08``, swir16 ``B11``...;
    Landsat 8/9: red ``B4``/``SR_B4``, nir ``B5``...; or bands named by their
    STAC common name; :mod:`geoaug.sensors`), or as given in ``bands``.

    The output has the input's bands followed by one band per index, named
    after it (``"NDVI"``). Its dtype is float: **float32** for uint8, uint16,
    int16 and float32 input, **float64** for int32 and float64 input (the
    input bands are converted exactly; their values do not change). An index
    pixel is invalid where either of its bands is invalid or ``a + b`` is 0;
    invalid index pixels hold the nodata value (NaN without one). Labels and
    the geotransform are unchanged. In a pipeline, the steps after it draw for
    the output's band count and dtype (per-band draws cover the index bands too).

    Parameters
    ----------
    indices : str or sequence of str
        Index names from :data:`INDICES`, case-insensitive.
    bands : mapping of str to (str or int), optional
        Role -> band for roles that names do not reveal: a band name, or a
        1-based band number (``{"nir": "B8A", "red": 4}``).
    sensor : {"sentinel2", "landsat"}, optional
        Which sensor's names the bands carry (detected by default).
    offset : float
        Added to the stored values before computing (e.g. -1000 for
        Sentinel-2 L2A of processing baseline 04.00 and later, whose
        ``BOA_ADD_OFFSET`` is -1000). A scale factor cancels out and needs nothing.
    p : float
        Probability of applying (keep 1 for training: a call that does not
        apply returns the input's bands only, so samples would differ in band count).

    Examples
    --------
    >>> import numpy as np
    >>> from geoaug import GeoRaster
    >>> r = GeoRaster.from_array(np.array([[[1000]], [[3000]]], "uint16"), band_names=["B04", "B08"])
    >>> out = SpectralIndex("NDVI")(r, rng=0)
    >>> out.band_names, out.dtype.name, out.data[:, 0, 0].tolist()
    (('B04', 'B08', 'NDVI'), 'float32', [1000.0, 3000.0, 0.5])
    """

    def __init__(self, indices: str | Sequence[str] = ("NDVI",), bands: Mapping[str, str | int] | None = None,
                 sensor: str | None = None, offset: float = 0.0, p: float = 1.0) -> None:
        super().__init__(p)
        names = [indices] if isinstance(indices, str) else indices
        if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
            raise ParameterError(f"SpectralIndex.indices must be an index name or a list of them, got {indices!r}")
        unknown = [n for n in names if n.upper() not in INDICES]
        if unknown:
            raise ParameterError(f"SpectralIndex: unknown index {unknown[0]!r} (known: {', '.join(INDICES)})")
        self._indices = [n.upper() for n in names]
        if len(set(self._indices)) != len(self._indices):
            raise ParameterError(f"SpectralIndex.indices names an index twice: {indices!r}")
        if bands is not None:
            if not isinstance(bands, Mapping):
                raise ParameterError(f"SpectralIndex.bands must be a mapping role -> band name or number, "
                                     f"got {bands!r}")
            roles = sorted({r for pair in INDICES.values() for r in pair})
            for role, v in bands.items():
                if role not in roles:
                    raise ParameterError(f"SpectralIndex.bands: unknown role {role!r} (roles: {', '.join(roles)})")
                ok_int = isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                if not (ok_int or (isinstance(v, str) and v)):
                    raise ParameterError(f"SpectralIndex.bands[{role!r}] must be a band name or a 1-based band "
                                         f"number, got {v!r}")
        self.indices = indices if isinstance(indices, str) else list(indices)
        self.bands = None if bands is None else dict(bands)
        self.sensor = _check_sensor("SpectralIndex", sensor)
        if not isinstance(offset, numbers.Real) or isinstance(offset, bool) or not math.isfinite(offset):
            raise ParameterError(f"SpectralIndex.offset must be a finite number, got {offset!r}")
        self.offset = float(offset)

    def proxy_after(self, raster: GeoRaster) -> GeoRaster:
        """A pixel-less raster of the output's band count and dtype (pipelines draw later steps on it).

        Parameters
        ----------
        raster : GeoRaster
            The input (or its proxy).

        Returns
        -------
        GeoRaster
        """
        return GeoRaster.proxy(raster.count + len(self._indices), raster.height, raster.width,
                               index_dtype(raster.dtype))

    def band_indexes(self, names: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Index name -> 0-based ``(a, b)`` band indexes among ``names``.

        Parameters
        ----------
        names : sequence of str
            The image's band names.

        Returns
        -------
        dict of str to (int, int)

        Raises
        ------
        ParameterError
            A band that is needed and cannot be found (the message names the index and the role).
        """
        found = sensors.band_roles(names, self.sensor)
        lower = [n.lower() for n in names]
        for role, v in (self.bands or {}).items():
            if isinstance(v, str):
                if v.lower() not in lower:
                    raise ParameterError(f"SpectralIndex.bands[{role!r}] = {v!r} is not a band of the image "
                                         f"(bands: {', '.join(names)})")
                found[role] = lower.index(v.lower())
            else:
                if v > len(names):
                    raise ParameterError(f"SpectralIndex.bands[{role!r}] = {v} is beyond the image's "
                                         f"{len(names)} bands")
                found[role] = int(v) - 1
        out = {}
        for idx in self._indices:
            pair = []
            for role in INDICES[idx]:
                if role not in found:
                    raise ParameterError(f"SpectralIndex: {idx} needs a {role!r} band and none of the bands "
                                         f"({', '.join(names)}) is known as one: name it in bands={{'{role}': ...}}")
                pair.append(found[role])
            out[idx] = (pair[0], pair[1])
        return out

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        pairs = self.band_indexes(raster.band_names)
        dt = index_dtype(raster.dtype)
        n, k = raster.count, len(pairs)
        data = np.empty((n + k, raster.height, raster.width), dt)
        data[:n] = raster.data
        bmask = raster.band_mask
        nd = raster.nodata
        fill = dt.type(np.nan if nd is None else nd)
        safe = nodata_safe_value(nd, dt) if nd is not None and not math.isnan(nd) else None
        masks = []
        for j, (ia, ib) in enumerate(pairs.values()):
            a = raster.data[ia].astype(np.float64) + self.offset
            b = raster.data[ib].astype(np.float64) + self.offset
            total = a + b
            valid = bmask[ia] & bmask[ib] & (total != 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(valid, (a - b) / np.where(valid, total, 1.0), 0.0)
            valid &= np.isfinite(v)
            v = v.astype(dt)
            if safe is not None:
                v[valid & (v == fill)] = safe
            v[~valid] = fill
            data[n + j] = v
            masks.append(valid)
        full = np.concatenate([np.array(bmask), np.stack(masks)])
        mask = collapse_mask(full)
        profile = dict(raster.profile)
        for key, extra in (("scales", 1.0), ("offsets", 0.0)):
            if profile.get(key) and len(profile[key]) == n:
                profile[key] = [*profile[key], *([extra] * k)]
        return raster.replace(data=data, mask=mask, band_names=(*raster.band_names, *pairs),
                              band_tags=(*raster.band_tags, *({} for _ in range(k))), profile=profile,
                              colorinterp=(*raster.colorinterp, *(["undefined"] * k)) if raster.colorinterp else ())
