"""Transform base classes: sample, then apply.

A transform draws its parameters from a :class:`numpy.random.Generator`
into a small plain dict (:meth:`Transform.sample`), then applies them
deterministically (:meth:`Transform.apply`). The object holds no per-call
state, so one instance is safe in Dask tasks and DataLoader workers, and a
call is replayed from its params.

Call forms
----------
>>> import numpy as np
>>> from geoaug.transforms import HorizontalFlip
>>> flip = HorizontalFlip(p=1.0)
>>> a = np.arange(6, dtype="uint16").reshape(1, 2, 3)
>>> flip(a, rng=np.random.default_rng(0))          # plain array in, array out
array([[[2, 1, 0],
        [5, 4, 3]]], dtype=uint16)
>>> res = flip(a, rng=np.random.default_rng(0), labels=a[0], return_params=True)
>>> res.params, res.labels.tolist()                # label rasters get the same draw
({'applied': True}, [[2, 1, 0], [5, 4, 3]])
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ParameterError
from ..raster import GeoRaster

__all__ = ["MAX_MAGNITUDE", "REGISTRY", "GeometricTransform", "Result", "Transform", "as_range", "draw"]

#: name -> transform class, filled by subclassing (used by serialisation and the test suite)
REGISTRY: dict[str, type[Transform]] = {}

RasterLike = GeoRaster | np.ndarray

#: largest magnitude a transform parameter may have (angles, shifts, factors...): far beyond any
#: meaningful value, small enough that differences and products of parameters stay finite
MAX_MAGNITUDE = 1e12


@dataclass(frozen=True)
class Result:
    """What a transform call returns when labels or params are asked for."""

    image: Any
    labels: Any = None
    params: dict[str, Any] | None = None


def as_range(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> tuple[float, float]:
    """Validate a parameter that is a number (fixed) or a ``(low, high)`` tuple (uniform draw).

    Both ends must be finite (NaN and infinities are refused), lie within
    ``[low, high]`` when those are given, and have a magnitude of at most
    :data:`MAX_MAGNITUDE`, so a draw between them (``low + (high - low) * u``)
    and what is computed from it stay finite.
    """
    try:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            lo = hi = float(value)
        elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
        ):
            lo, hi = float(value[0]), float(value[1])
        else:
            raise ParameterError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    except OverflowError:  # an int too large for a float
        raise ParameterError(f"{name} must be finite, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(f"{name} must be finite (no NaN or infinity), got {value!r}")
    if lo > hi:
        raise ParameterError(f"{name}: low {lo} > high {hi}")
    if (low is not None and lo < low) or (high is not None and hi > high):
        bounds = f">= {low}" if high is None else f"<= {high}" if low is None else f"within [{low}, {high}]"
        raise ParameterError(f"{name} must lie {bounds}, got {value!r}")
    if max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
        raise ParameterError(f"{name} must lie within [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}], got {value!r}")
    return lo, hi


def draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform draw from ``bounds``; a fixed value when low == high (still consumes one draw)."""
    u = float(rng.random())
    return bounds[0] + (bounds[1] - bounds[0]) * u


class Transform:
    """Base of every transform.

    Subclasses implement :meth:`sample_params` (draw, given that the
    transform applies) and :meth:`apply_params` (the deterministic
    operation). ``p`` is the probability of applying.
    """

    kind: ClassVar[str] = "transform"
    #: base classes set this in their own body to stay out of the registry
    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False) and not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls

    def __init__(self, p: float = 1.0) -> None:
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
            raise ParameterError(f"{type(self).__name__}: p must be a number in [0, 1], got {p!r}")
        self.p = float(p)

    # -- to override ---------------------------------------------------------------
    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        """Draw the parameters of one application (JSON-serialisable values)."""
        return {}

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Apply drawn parameters to an image raster."""
        raise NotImplementedError

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Apply drawn parameters to a label raster (default: unchanged)."""
        return label

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (used by ``repr`` and serialisation)."""
        return {"p": self.p}

    # -- public API ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, raster: RasterLike) -> dict[str, Any]:
        """Draw one application's parameters: ``{"applied": bool, ...}``."""
        raster = _as_raster(raster)
        applied = bool(rng.random() < self.p)
        if not applied:
            return {"applied": False}
        return {"applied": True, **self.sample_params(rng, raster)}

    def apply(self, raster: RasterLike, params: dict[str, Any]) -> Any:
        """Apply parameters from :meth:`sample` (replay). Arrays in, arrays out."""
        r = _as_raster(raster)
        out = self.apply_params(r, params) if params.get("applied", True) else r
        return _like_input(raster, out)

    def apply_label(self, label: RasterLike, params: dict[str, Any]) -> Any:
        """Apply parameters to a label raster (nearest, no value changes)."""
        r = _as_raster(label)
        out = self.apply_label_params(r, params) if params.get("applied", True) else r
        return _like_input(label, out)

    def __call__(
        self,
        image: RasterLike,
        rng: np.random.Generator | int | None = None,
        *,
        labels: RasterLike | None = None,
        return_params: bool = False,
    ) -> Any:
        """Sample and apply. Returns the image, or a :class:`Result` when
        ``labels`` is given or ``return_params`` is True."""
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        params = self.sample(gen, image)
        out = self.apply(image, params)
        if labels is None and not return_params:
            return out
        lab = self.apply_label(labels, params) if labels is not None else None
        return Result(out, lab, params if return_params else None)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GeometricTransform(Transform):
    """A transform that is a pixel matrix plus an output shape.

    Subclasses implement :meth:`matrix`; applying warps the image with the
    transform's interpolation and label rasters with nearest, and updates the
    geotransform by the rule in :mod:`geoaug.geometry`.
    """

    kind = "geometric"
    abstract = True
    #: True for exact index maps (flips, quarter turns, transposes, integer crops): fusing them
    #: with any other geometric transform leaves that transform's interpolation in charge
    exact: ClassVar[bool] = False
    interpolation: str = "nearest"
    fill: str = "nodata"
    fill_value: float | None = None

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        """Output->input matrix and output ``(rows, cols)`` for an input of ``shape``."""
        raise NotImplementedError

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        from .functional import warp

        m, shape = self.matrix(params, (raster.height, raster.width))
        return warp(raster, m, shape, self.interpolation, self.fill, self.fill_value)

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        from .functional import label_fill, warp

        m, shape = self.matrix(params, (label.height, label.width))
        return warp(label, m, shape, "nearest", label_fill(self.fill))


def _as_raster(x: RasterLike) -> GeoRaster:
    if isinstance(x, GeoRaster):
        return x
    return GeoRaster.from_array(np.asarray(x))


def _like_input(original: RasterLike, out: GeoRaster) -> Any:
    if isinstance(original, GeoRaster):
        return out
    arr = np.asarray(original)
    return out.data[0] if arr.ndim == 2 else out.data
