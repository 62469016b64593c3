"""Spectral (radiometric) transforms over any number of bands.

Rules shared by all of them:

* only valid pixels change; invalid pixels keep their value and stay invalid;
  the mask and the geotransform are untouched;
* arithmetic is done in float32 (float64 for float64 and int32 data);
  integer results are rounded half to even and **saturated** to the dtype's
  range, never wrapped (uint16 65535 + delta stays 65535); float results are
  clipped to the dtype's finite range;
* NaN is never created inside valid pixels (a NaN result keeps the input value);
* a valid pixel never ends on the nodata value: it is moved to
  :func:`geoaug.raster.nodata_safe_value`;
* the dtype is kept, except by ``Normalize``, ``PercentileStretch`` and
  ``ToFloat``, which return float32 by design.

"Full scale" is ``value_range = (low, high)``: by default the dtype's range
for integers and ``(0, 1)`` for floats; pass e.g. ``(0, 10000)`` for
Sentinel-2 L2A reflectance. Each parameter is a number (fixed) or a
``(low, high)`` tuple (uniform draw); ``per_band=True`` draws one value per
band.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bandstats import BandStats, band_moments, load_stats
from ..errors import ParameterError
from ..kernels.dtypes import work_dtype
from ..kernels.moments import band_sums
from ..kernels.noise import gaussian_noise
from ..kernels.store import store_affine, store_band, store_bands
from ..raster import GeoRaster, all_valid_mask, is_all_valid_mask, nodata_safe_value
from .base import MAX_MAGNITUDE, Transform, as_range, draw

__all__ = [
    "BandDropout",
    "BandGain",
    "Brightness",
    "ChannelShift",
    "Contrast",
    "Gamma",
    "GaussianNoise",
    "Normalize",
    "PCAJitter",
    "PercentileStretch",
    "SpectralTransform",
    "ToFloat",
    "full_scale",
]


def full_scale(dtype: np.dtype, value_range: tuple[float, float] | None) -> tuple[float, float]:
    """``value_range``, or the dtype's range for integers and (0, 1) for floats."""
    if value_range is not None:
        return float(value_range[0]), float(value_range[1])
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return float(info.min), float(info.max)
    return 0.0, 1.0


#: values of scratch (float) per store call for transforms computed band by band: bounds memory on big tiles
_CHUNK_VALUES = 1 << 23


#: smallest full-scale span (``value_range``) and ``Normalize`` std: dividing by less makes values
#: no float32 holds
MIN_SCALE = 1e-12


def _check_value_range(name: str, value_range: Any) -> tuple[float, float] | None:
    if value_range is None:
        return None
    lo, hi = as_range(f"{name}.value_range", tuple(value_range) if isinstance(value_range, list) else value_range)
    if not hi - lo >= MIN_SCALE:
        raise ParameterError(f"{name}.value_range must have high > low (by at least {MIN_SCALE:g}), "
                             f"got {value_range!r}")
    return lo, hi


def _per_band(params: dict[str, Any], key: str, n: int) -> np.ndarray:
    """A drawn parameter (one value or one per band) as ``n`` floats."""
    return _as_bands(params[key], n)


def _as_bands(value: Any, n: int) -> np.ndarray:
    """One value or one per band as ``n`` float64 values (to read, not to write).

    ``np.broadcast_to`` costs about 3 us a call, so the two common cases skip
    it: a value per band is that array, one value is filled; any other shape
    goes through it (and fails as it does).
    """
    v = np.asarray(value, dtype=float)
    if v.shape == (n,):
        return v
    if v.ndim == 0:
        return np.full(n, v)
    return np.broadcast_to(v, (n,))


def band_means(r: GeoRaster) -> np.ndarray:
    """Mean of each band over its valid pixels (NaN for a band with none), float64.

    One compiled pass over the bands (:func:`geoaug.kernels.moments.band_sums`): numpy's
    ``valid_values(i).astype(np.float64).mean()`` per band copied each band twice (3.4 ms for
    13 x 512² uint16). 8- and 16-bit bands give numpy's means bit for bit (int32 while the sum of the
    absolute values stays below 2**53); float bands agree to about 1e-16 of the mean absolute value.
    """
    mask = r.mask
    valid = None if is_all_valid_mask(mask) else mask.reshape(mask.shape[0] if mask.ndim == 3 else 1, -1)
    n, sums = band_sums(r.data.reshape(r.count, -1), valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, sums / np.maximum(n, 1), np.nan)


def finish_band(r: GeoRaster, out: np.ndarray, b: int, new: np.ndarray) -> None:
    """Write band ``b``'s computed values into the valid pixels of ``out`` following the shared rules.

    ``out[b]`` must hold the band's current values (a copy of the data, or
    the data itself); one numba pass rounds, saturates, keeps NaN out and
    moves values off nodata (:func:`geoaug.kernels.store.store_band`).
    """
    nd = r.nodata
    safe = nodata_safe_value(nd, r.dtype) if nd is not None and not math.isnan(nd) else 0.0
    store_band(np.ascontiguousarray(new), r.data[b], r.band_mask[b], out[b], nd, safe)


def finish_float32_band(r: GeoRaster, out: np.ndarray, b: int, new: np.ndarray) -> None:
    """float32 outputs: valid pixels of band ``b`` get ``new``; invalid ones keep their (cast) value."""
    valid = r.band_mask[b]
    big = float(np.finfo(np.float32).max)
    v = np.clip(new[valid], -big, big).astype(np.float32)  # saturate: a huge input never becomes inf
    v[np.isnan(v)] = 0.0
    nd = r.nodata
    if nd is not None and not math.isnan(nd):
        clash = v == np.float32(nd)
        if clash.any():
            v[clash] = nodata_safe_value(nd, np.dtype(np.float32))
    out[b][valid] = v


def _shift(raster: GeoRaster, offsets: Any) -> tuple:
    """``(x - 0) * 1 + c_b``: exactly ``x + c_b`` in the work dtype."""
    w = work_dtype(raster.dtype)
    n = raster.count
    return np.zeros(n, w), np.ones(n, w), np.asarray(offsets).astype(w), False


class SpectralTransform(Transform):
    """A transform that changes values, never geometry; label rasters pass unchanged.

    Subclasses implement :meth:`band` (the new values of one band, in the
    work dtype) and optionally :meth:`prepare` (per-call values shared by the
    bands). Bands are processed one at a time, so the extra memory is about
    one band, not a float copy of the whole raster.
    """

    abstract = True
    #: output dtype; None keeps the input's
    out_dtype: Any = None

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        """Per-call context for :meth:`band` (band means, a noise generator...)."""
        return None

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        """New values of band ``b`` given its values ``x`` (work dtype)."""
        raise NotImplementedError

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return self._apply(raster, params, inplace=False)

    def apply_inplace(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Like :meth:`apply_params` but may overwrite ``raster.data`` (pipelines use it on
        intermediates they own, so a step costs one band of memory instead of a raster copy)."""
        return self._apply(raster, params, inplace=True)

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        """``(a, s, c, divide)`` when the new values are ``(x - a_b) * s_b + c_b`` (``/ s_b`` with ``divide``).

        Per-band float arrays in the work dtype, the operations in exactly
        that order; ``None`` (the default) when the transform is not of that
        form. When given, the whole raster is done by one kernel call with no
        temporary arrays (:func:`geoaug.kernels.store.store_affine`);
        otherwise :meth:`band` computes each band and one kernel call stores
        them (:func:`geoaug.kernels.store.store_bands`).
        """
        return None

    def _apply(self, raster: GeoRaster, params: dict[str, Any], inplace: bool) -> GeoRaster:
        ctx = self.prepare(raster, params)
        nd = raster.nodata
        finite_nd = nd is not None and not math.isnan(nd)
        to_float = self.out_dtype is not None
        out_dt = np.dtype(self.out_dtype) if to_float else raster.dtype
        data = raster.data
        if not to_float and inplace and data.flags.writeable and data.flags.c_contiguous:
            out = data
        else:
            out = np.empty(data.shape, dtype=out_dt)
        safe = nodata_safe_value(nd, out_dt) if finite_nd else 0.0
        lin = self.linear(raster, params, ctx)
        if lin is not None:
            a, s, c, divide = lin
            # a float raster whose mask is still its NaNs (GeoRaster.lazy_mask): every pixel is stored as valid;
            # with clip=True a NaN result keeps the old value, so NaN stays exactly where it was
            lazy = raster.lazy_mask and out_dt.kind == "f"
            store_affine(data, a, s, c, all_valid_mask(data.shape[1:]) if lazy else raster.mask, out, nd, safe,
                         divide=divide, nan_zero=to_float, clip=True)  # floats saturate to the dtype's finite range
            if lazy:
                return raster.evolve_values(out)
            return raster.evolve(out, raster.mask)  # new pixels, the same everything else (no re-validation)
        w = np.float64 if to_float else work_dtype(raster.dtype)
        count, rows, cols = data.shape
        step = max(1, _CHUNK_VALUES // max(1, rows * cols))  # bands per store call: bounded scratch memory
        new = np.empty((min(step, count), rows, cols), dtype=w)
        for b0 in range(0, count, step):
            b1 = min(count, b0 + step)
            for b in range(b0, b1):
                new[b - b0] = self.band(data[b].astype(w), b, params, ctx)
            mask = raster.mask[b0:b1] if raster.mask.ndim == 3 else raster.mask
            store_bands(new[: b1 - b0], data[b0:b1], mask, out[b0:b1], nd, safe, nan_zero=to_float,
                        clip=True)  # floats saturate to the output dtype's finite range too
        return raster.evolve(out, raster.mask)

    def _draw(self, rng: np.random.Generator, bounds: tuple[float, float], per_band: bool, n: int) -> Any:
        if per_band:
            return [draw(rng, bounds) for _ in range(n)]
        return draw(rng, bounds)


class Brightness(SpectralTransform):
    """Add ``delta`` x full scale: ``x + delta * (high - low)``.

    Parameters
    ----------
    delta : float or (float, float)
        Share of full scale, e.g. ``(-0.1, 0.1)``.
    per_band : bool
        One draw per band instead of one for all.
    value_range : (float, float), optional
        What full scale means (default: dtype range for integers, (0, 1) for floats).
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> Brightness(0.1, value_range=(0, 10000))(np.array([[[100, 9500]]], dtype="uint16"))
    array([[[ 1100, 10500]]], dtype=uint16)
    """

    def __init__(self, delta: float | tuple[float, float] = (-0.1, 0.1), per_band: bool = False,
                 value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.delta, self.per_band = delta, bool(per_band)
        self._delta = as_range("Brightness.delta", delta)
        self.value_range = _check_value_range("Brightness", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"delta": self._draw(rng, self._delta, self.per_band, raster.count)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        lo, hi = full_scale(raster.dtype, self.value_range)
        return _per_band(params, "delta", raster.count) * (hi - lo)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return x + x.dtype.type(ctx[b])

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        return _shift(raster, ctx)


class Contrast(SpectralTransform):
    """Scale each band about its mean over valid pixels: ``mean + factor * (x - mean)``.

    Parameters
    ----------
    factor : float or (float, float)
        1 = unchanged, < 1 flatter, > 1 stronger; must be >= 0.
    per_band : bool
    p : float
    """

    def __init__(self, factor: float | tuple[float, float] = (0.8, 1.2), per_band: bool = False,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.factor, self.per_band = factor, bool(per_band)
        self._factor = as_range("Contrast.factor", factor, low=0.0)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"factor": self._draw(rng, self._factor, self.per_band, raster.count)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        return np.nan_to_num(band_means(raster)), _per_band(params, "factor", raster.count)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        mean, f = x.dtype.type(ctx[0][b]), x.dtype.type(ctx[1][b])
        return mean + f * (x - mean)

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        w = work_dtype(raster.dtype)
        mean = np.asarray(ctx[0]).astype(w)
        return mean, np.asarray(ctx[1]).astype(w), mean, False  # (x - mean) * f + mean


class Gamma(SpectralTransform):
    """Gamma on values normalised to ``value_range``: ``low + span * ((x - low) / span) ** gamma``.

    Values below ``low`` are taken as ``low`` before the power (no NaN).

    Parameters
    ----------
    gamma : float or (float, float)
        > 0; < 1 brightens, > 1 darkens.
    per_band : bool
    value_range : (float, float), optional
    p : float
    """

    def __init__(self, gamma: float | tuple[float, float] = (0.8, 1.25), per_band: bool = False,
                 value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.gamma, self.per_band = gamma, bool(per_band)
        self._gamma = as_range("Gamma.gamma", gamma, low=1e-6)
        self.value_range = _check_value_range("Gamma", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"gamma": self._draw(rng, self._gamma, self.per_band, raster.count)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        lo, hi = full_scale(raster.dtype, self.value_range)
        return lo, hi, _per_band(params, "gamma", raster.count)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        t = x.dtype.type
        lo, hi, g = t(ctx[0]), t(ctx[1]), t(ctx[2][b])
        return lo + np.power(np.maximum((x - lo) / (hi - lo), 0), g) * (hi - lo)


class BandGain(SpectralTransform):
    """Multiply each band by its own draw: ``x * gain_b``.

    Parameters
    ----------
    gain : float or (float, float)
        Factor, >= 0; one draw per band.
    p : float
    """

    def __init__(self, gain: float | tuple[float, float] = (0.9, 1.1), p: float = 1.0) -> None:
        super().__init__(p)
        self.gain = gain
        self._gain = as_range("BandGain.gain", gain, low=0.0)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"gain": self._draw(rng, self._gain, True, raster.count)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        return _per_band(params, "gain", raster.count)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return x * x.dtype.type(ctx[b])

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        w = work_dtype(raster.dtype)
        n = raster.count
        return np.zeros(n, w), np.asarray(ctx).astype(w), np.full(n, -0.0, w), False  # (x - 0) * g + (-0)


class ChannelShift(SpectralTransform):
    """Keras' ``channel_shift_range`` over N bands: add ``shift`` (data units), clip to the image's range.

    As in Keras, the result is clipped to the minimum and maximum of the
    image's valid pixels (all bands together). Keras'
    ``channel_shift_range=r`` is ``ChannelShift(shift=(-r, r))``.

    Parameters
    ----------
    shift : float or (float, float)
        In pixel-value units.
    per_band : bool
        One draw per band (Keras draws one for all).
    p : float
    """

    def __init__(self, shift: float | tuple[float, float] = (-0.05, 0.05), per_band: bool = False,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.shift, self.per_band = shift, bool(per_band)
        self._shift = as_range("ChannelShift.shift", shift)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"shift": self._draw(rng, self._shift, self.per_band, raster.count)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        data = raster.data
        if data.size and is_all_valid_mask(raster.mask):  # every pixel valid: two vectorised passes, no copies
            # the loop's range, up to the sign of a zero extreme (the loop kept the first band's zero)
            lo, hi = float(data.min()), float(data.max())
            if lo == lo and hi == hi:  # a NaN marked valid takes the loop below, which skips it as before
                return lo, hi, _per_band(params, "shift", raster.count)
        lo, hi = np.inf, -np.inf
        for i in range(raster.count):
            v = raster.valid_values(i)
            if v.size:
                lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        return lo, hi, _per_band(params, "shift", raster.count)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        lo, hi, shift = ctx
        if lo > hi:  # no valid pixel at all
            return x
        return np.clip(x + x.dtype.type(shift[b]), lo, hi)


class GaussianNoise(SpectralTransform):
    """Additive Gaussian noise, standard deviation ``std`` x full scale, independent per pixel and band.

    The noise comes from a seed drawn in :meth:`sample` (kept in the params)
    through :func:`geoaug.kernels.noise.gaussian_noise`, a counter-based
    generator: a replay gives the same noise, on any number of threads.

    Parameters
    ----------
    std : float or (float, float)
        Share of full scale, >= 0.
    per_band : bool
        One std draw per band.
    value_range : (float, float), optional
    p : float
    """

    def __init__(self, std: float | tuple[float, float] = (0.0, 0.02), per_band: bool = False,
                 value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.std, self.per_band = std, bool(per_band)
        self._std = as_range("GaussianNoise.std", std, low=0.0)
        self.value_range = _check_value_range("GaussianNoise", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"std": self._draw(rng, self._std, self.per_band, raster.count),
                "seed": int(rng.integers(0, 2**63 - 1))}

    def noise_scale(self, raster: GeoRaster, params: dict[str, Any]) -> tuple[int, np.ndarray]:
        """The noise field's seed and each band's standard deviation in data units."""
        lo, hi = full_scale(raster.dtype, self.value_range)
        return int(params["seed"]), _per_band(params, "std", raster.count) * (hi - lo)

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        seed, sigma = self.noise_scale(raster, params)
        count, rows, cols = raster.shape
        field = None
        if count * rows * cols <= _CHUNK_VALUES:
            # the whole (bands, rows, cols) field in one kernel call (one parallel region at most)
            field = gaussian_noise(seed, (count * rows, cols), dtype=work_dtype(raster.dtype))
            field = field.reshape(count, rows, cols)
        return seed, sigma, field

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        seed, sigma, field = ctx
        # element (b, i, j) of one counter-based noise field: the same numbers for any band subset or thread count
        if field is not None:
            noise = field[b]
        else:
            noise = gaussian_noise(seed, x.shape, offset=b * x.size, dtype=x.dtype)
        noise *= x.dtype.type(sigma[b])
        noise += x
        return noise


class BandDropout(SpectralTransform):
    """Drop 1..``max_bands`` whole bands.

    Parameters
    ----------
    max_bands : int
        At most this many bands dropped (at least one band is always kept).
    fill : {"nodata", "zero", "mean"}
        ``"nodata"``: the dropped bands become invalid. The raster's mask
        becomes per band, ``(bands, rows, cols)``, False on the dropped bands
        (their values become the nodata value, or 0 without one).
        ``"zero"``: valid pixels of the dropped bands become 0 (moved off
        nodata if 0 is the nodata value). ``"mean"``: they become the band's
        mean over its valid pixels.
    p : float
    """

    def __init__(self, max_bands: int = 1, fill: str = "nodata", p: float = 1.0) -> None:
        super().__init__(p)
        if not isinstance(max_bands, numbers.Integral) or isinstance(max_bands, bool) or max_bands < 1:
            raise ParameterError(f"BandDropout: max_bands must be an int >= 1, got {max_bands!r}")
        if fill not in ("nodata", "zero", "mean"):
            raise ParameterError(f"BandDropout: fill must be 'nodata', 'zero' or 'mean', got {fill!r}")
        self.max_bands, self.fill = int(max_bands), fill

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        most = min(self.max_bands, raster.count - 1)
        if most < 1:
            return {"bands": []}
        k = int(rng.integers(1, most + 1))
        return {"bands": sorted(int(b) for b in rng.choice(raster.count, size=k, replace=False))}

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        drop = self._bands(raster, params)
        if not drop:
            return raster
        if self.fill != "nodata":
            return super().apply_params(raster, params)
        return self._drop(raster, drop, inplace=False)

    def apply_inplace(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        drop = self._bands(raster, params)
        if not drop or self.fill != "nodata":
            return super().apply_inplace(raster, params) if drop else raster
        return self._drop(raster, drop, inplace=True)

    @staticmethod
    def _bands(raster: GeoRaster, params: dict[str, Any]) -> list[int]:
        drop = [int(b) for b in params["bands"]]
        if drop and (max(drop) >= raster.count or min(drop) < 0):
            raise ParameterError(f"BandDropout: bands {drop} out of range for {raster.count} bands")
        return drop

    def _drop(self, raster: GeoRaster, drop: list[int], inplace: bool) -> GeoRaster:
        mask = np.array(raster.band_mask)
        mask[drop] = False
        data = raster.data if inplace and raster.data.flags.writeable else raster.data.copy()
        data[drop] = raster.dtype.type(raster.invalid_value)
        return raster.replace(data=data, mask=mask)

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        drop = [int(b) for b in params["bands"]]
        values = np.zeros(len(drop)) if self.fill == "zero" else np.nan_to_num(band_means(raster)[drop])
        return dict(zip(drop, values))

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return np.full_like(x, ctx[b]) if b in ctx else x


def _pca(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, negative ones from rounding set to 0) and eigenvectors (columns) of ``cov``."""
    if cov.shape == (1, 1):  # one band: its variance and the vector 1, what eigh returns, without its LAPACK call
        vals = np.maximum(cov[0], 0.0)
        return vals, np.ones((1, 1), dtype=vals.dtype)
    vals, vecs = np.linalg.eigh(cov)
    return np.maximum(vals, 0.0), vecs


class PCAJitter(SpectralTransform):
    """AlexNet's "fancy PCA" colour jitter over N bands.

    With ``v_i, lambda_i`` the eigenvectors and eigenvalues of the band
    covariance of values normalised to full scale (``(x - low) / (high -
    low)``), every valid pixel gets ``(sum_i alpha_i * lambda_i * v_i) *
    (high - low)`` added, ``alpha_i ~ N(0, std)`` drawn once per call. The
    covariance comes from this image's pixels valid in every band, or from
    dataset statistics (``stats``: a :class:`~geoaug.BandStats` or its JSON
    file, as written by ``geoaug stats``).

    Parameters
    ----------
    std : float
        Standard deviation of the alphas (AlexNet: 0.1).
    stats : BandStats or path, optional
    value_range : (float, float), optional
    p : float
    """

    def __init__(self, std: float = 0.1, stats: BandStats | dict | str | os.PathLike[str] | None = None,
                 value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        if not isinstance(std, numbers.Real) or isinstance(std, bool) or not 0 <= std <= MAX_MAGNITUDE:
            raise ParameterError(f"PCAJitter: std must be a finite number >= 0, got {std!r}")
        self.std = float(std)
        if isinstance(stats, dict):
            stats = BandStats.from_dict(stats, source="PCAJitter.stats")
        self.stats = stats if stats is None or isinstance(stats, BandStats) else os.fspath(stats)
        self._stats = None if stats is None else load_stats(stats)
        if self._stats is not None and self._stats.covariance is None:
            raise ParameterError(f"PCAJitter: statistics {stats} have no covariance")
        if self._stats is not None and not np.isfinite(np.asarray(self._stats.covariance, dtype=float)).all():
            raise ParameterError(f"PCAJitter: statistics {stats} have a covariance that is not finite")
        self.value_range = _check_value_range("PCAJitter", value_range)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"alpha": [float(a) for a in rng.normal(0.0, self.std, raster.count)]}

    def eigen(self, raster: GeoRaster) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors (columns) of the normalised band covariance."""
        lo, hi = full_scale(raster.dtype, self.value_range)
        span = hi - lo
        if self._stats is not None:
            if self._stats.bands != raster.count:
                raise ParameterError(f"PCAJitter: statistics have {self._stats.bands} bands, raster {raster.count}")
            cov = np.asarray(self._stats.covariance) / span**2
        else:  # the covariance of (x - lo) / span is the covariance of x over span²
            n, _, m2 = band_moments(raster.data, raster.pixel_mask)
            if n < 2:
                return np.zeros(raster.count), np.eye(raster.count)
            cov = m2 / n / span**2
        return _pca(np.atleast_2d(cov))

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        alpha = np.asarray(params["alpha"], dtype=np.float64)
        if alpha.shape != (raster.count,):
            raise ParameterError(f"PCAJitter: {alpha.size} alphas for {raster.count} bands")
        lo, hi = full_scale(raster.dtype, self.value_range)
        vals, vecs = self.eigen(raster)
        return vecs @ (alpha * vals) * (hi - lo)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return x + x.dtype.type(ctx[b])

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        return _shift(raster, ctx)


def _per_band_values(name: str, value: Any) -> float | list[float]:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        out: float | list[float] = as_range(name, value)[0]
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) > 0 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        out = [as_range(f"{name}[{i}]", v)[0] for i, v in enumerate(value)]
    else:
        raise ParameterError(f"{name} must be a number or a list of numbers (one per band), got {value!r}")
    return out


class Normalize(SpectralTransform):
    """``(x - mean_b) / std_b`` per band, to float32.

    Parameters
    ----------
    mean, std : float or sequence of float, optional
        One value for all bands or one per band (data units).
    stats : BandStats or path, optional
        Take ``mean`` and ``std`` from dataset statistics (``geoaug stats``).
    p : float
    """

    out_dtype = np.float32

    def __init__(self, mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 stats: BandStats | dict | str | os.PathLike[str] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(stats, dict):
            stats = BandStats.from_dict(stats, source="Normalize.stats")
        self.stats = stats if stats is None or isinstance(stats, BandStats) else os.fspath(stats)
        if stats is not None:
            st = load_stats(stats)
            mean = [float(v) for v in st.mean] if mean is None else mean
            std = [float(v) for v in st.std] if std is None else std
        if mean is None or std is None:
            raise ParameterError("Normalize: give mean and std, or stats")
        self.mean = _per_band_values("Normalize.mean", mean)
        self.std = _per_band_values("Normalize.std", std)
        if np.any(np.asarray(self.std) < MIN_SCALE):
            raise ParameterError(f"Normalize.std must be >= {MIN_SCALE:g}, got {std!r}")

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        """``(a, s, c)`` per band in the work dtype (float32; float64 for int32/float64 data), with
        ``(x - a) / s + c`` = ``(x - mean) / std``: ``a`` is the mean rounded to the work dtype and ``c``
        what the rounding lost, ``(a - mean) / std``. float32 arithmetic (as fast as the plain numpy
        expression) then stays within a few float32 ulps of the float64 result even where ``x`` is
        close to a mean that float32 cannot hold (a large mean, a small std)."""
        memo = self.__dict__.get("_memo")
        if memo is None or not (_unchanged(memo[0], self.mean) and _unchanged(memo[1], self.std)):
            memo = self.__dict__["_memo"] = (_copied(self.mean), _copied(self.std), tuple(np.ravel(self.mean)),
                                             tuple(np.ravel(self.std)), {})
        per = memo[4]  # (count, dtype) -> coefficients: the tuples above hashed once, not per call
        key = (raster.count, raster.dtype)
        got = per.get(key)
        if got is None:
            if len(per) >= 16:
                per.clear()
            got = per[key] = _normalize_coefficients(memo[2], memo[3], raster.count, np.dtype(work_dtype(raster.dtype)))
        return got

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        t = x.dtype.type
        return (x - t(ctx[0][b])) / t(ctx[1][b]) + t(ctx[2][b])  # in x's dtype: the work dtype of linear()

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        return ctx[0], ctx[1], ctx[2], True  # (x - a) / s + c, stored as float32


def _copied(v: Any) -> Any:
    """A copy of a list or array (what a later in-place edit of it is compared with), a number itself."""
    if isinstance(v, np.ndarray):
        return v.copy()
    return list(v) if isinstance(v, list) else v


def _unchanged(copied: Any, v: Any) -> bool:
    """Whether ``v`` (Normalize's mean or std now) still equals the copy :func:`_copied` made of it."""
    if isinstance(v, np.ndarray) or isinstance(copied, np.ndarray):
        return isinstance(v, np.ndarray) and isinstance(copied, np.ndarray) and np.array_equal(copied, v)
    return type(copied) is type(v) and copied == v


@functools.lru_cache(maxsize=64)
def _normalize_coefficients(mean: tuple, std: tuple, count: int, w: np.dtype) -> tuple:
    """Normalize's ``(a, s, c)`` (see :meth:`Normalize.prepare`), read-only; cached, a transform applies the same
    ones to every raster of its band count and work dtype."""
    mean_b = _as_bands(mean, count)
    std_b = _as_bands(std, count)
    a = mean_b.astype(w)
    c = ((a.astype(np.float64) - mean_b) / std_b).astype(w)
    c[c == 0] = -0.0  # x + (-0.0) is x, -0.0 included
    out = (a, std_b.astype(w), c)
    for v in out:
        v.flags.writeable = False
    return out


class PercentileStretch(SpectralTransform):
    """Per band, map the ``low``..``high`` percentiles of the valid pixels to 0..1 (clipped), to float32.

    Parameters
    ----------
    low, high : float or (float, float)
        Percentiles, 0..100.
    p : float
    """

    out_dtype = np.float32

    def __init__(self, low: float | tuple[float, float] = 2, high: float | tuple[float, float] = 98,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.low, self.high = low, high
        self._low = as_range("PercentileStretch.low", low, low=0, high=100)
        self._high = as_range("PercentileStretch.high", high, low=0, high=100)
        if self._low[1] >= self._high[0]:
            raise ParameterError(f"PercentileStretch: low {low!r} must lie below high {high!r}")

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        return {"low": draw(rng, self._low), "high": draw(rng, self._high)}

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        lo = np.zeros(raster.count)
        hi = np.ones(raster.count)
        for i in range(raster.count):
            v = raster.valid_values(i)
            if v.size:
                lo[i], hi[i] = np.percentile(v, [float(params["low"]), float(params["high"])])
        return lo, np.where(hi > lo, hi - lo, 1.0)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return np.clip((x - ctx[0][b]) / ctx[1][b], 0.0, 1.0)


class ToFloat(SpectralTransform):
    """``(x - low) / (high - low)`` to float32 (no clipping).

    Parameters
    ----------
    value_range : (float, float), optional
        Default: the dtype's range for integers, (0, 1) for floats.
    p : float
    """

    out_dtype = np.float32

    def __init__(self, value_range: tuple[float, float] | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.value_range = _check_value_range("ToFloat", value_range)

    def prepare(self, raster: GeoRaster, params: dict[str, Any]) -> Any:
        return full_scale(raster.dtype, self.value_range)

    def band(self, x: np.ndarray, b: int, params: dict[str, Any], ctx: Any) -> np.ndarray:
        return (x - x.dtype.type(ctx[0])) / x.dtype.type(float(ctx[1]) - float(ctx[0]))  # as linear() says

    def linear(self, raster: GeoRaster, params: dict[str, Any], ctx: Any) -> tuple | None:
        # (x - low) / (high - low) in the work dtype (float32, float64 for int32/float64 data); stored as float32
        n, w = raster.count, work_dtype(raster.dtype)
        return (np.full(n, float(ctx[0]), dtype=w), np.full(n, float(ctx[1]) - float(ctx[0]), dtype=w),
                np.full(n, -0.0, dtype=w), True)
