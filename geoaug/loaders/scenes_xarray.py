"""xarray: chips of a (lazy, Dask-backed) DataArray scene, window by window.

:func:`sample` is what ``da.geoaug.sample(...)`` does: only the windows the
chips need are computed (``da.isel``), so a scene opened with
``rioxarray.open_rasterio(path, chunks=...)`` is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from ..errors import ParameterError
from ..raster import GeoRaster
from ..sampling import Scene, make_sampler, scene_chips
from ..transforms.serialize import as_pipeline
from .xarray import from_raster, to_raster, transform_of

__all__ = ["DataArrayScene", "sample"]


@dataclass(frozen=True, eq=False)
class DataArrayScene(Scene):
    """A scene held by a ``(band, y, x)`` DataArray (numpy or Dask), read through ``isel`` windows."""

    data_array: Any = None

    @classmethod
    def from_dataarray(cls, da: xr.DataArray, name: str | None = None) -> DataArrayScene:
        """The scene of ``da`` (its header only; no pixel is computed).

        Parameters
        ----------
        da : xarray.DataArray
            ``(band, y, x)`` or ``(y, x)``, georeferenced as :mod:`geoaug.xarray` reads it.
        name : str, optional
            Stable name (seeds); default ``da.name`` or ``"dataarray"``.

        Returns
        -------
        DataArrayScene
        """
        if da.ndim == 2:
            da = da.expand_dims("band")
        if da.ndim != 3:
            raise ParameterError(f"expected a DataArray (band, y, x), got dims {da.dims}")
        crs = None
        if hasattr(da, "rio"):
            try:
                crs = da.rio.crs
            except Exception:
                crs = None
        names = da.attrs.get("long_name")
        count = int(da.shape[0])
        names = tuple(names) if isinstance(names, (list, tuple)) and len(names) == count else tuple(
            f"band_{i}" for i in range(1, count + 1))
        return cls(paths=(str(name or da.name or "dataarray"),), name=str(name or da.name or "dataarray"),
                   height=int(da.shape[1]), width=int(da.shape[2]), count=count, dtype=str(da.dtype),
                   transform=transform_of(da), crs=crs, band_names=names, data_array=da)

    def read(self, window: tuple[int, int, int, int]) -> GeoRaster:
        """Compute the window ``(row, col, height, width)`` only."""
        row, col, h, w = (int(v) for v in window)
        if row < 0 or col < 0 or h <= 0 or w <= 0 or row + h > self.height or col + w > self.width:
            raise ParameterError(f"{self.name}: window {window} lies outside the scene ({self.height} x {self.width})")
        da = self.data_array
        ydim, xdim = da.dims[1], da.dims[2]
        r = to_raster(da.isel({ydim: slice(row, row + h), xdim: slice(col, col + w)}))
        return r.replace(transform=self.transform @ Affine.translation(col, row), band_names=self.band_names)


def sample(
    da: xr.DataArray,
    size: int | tuple[int, int] = 256,
    count: int | None = None,
    stride: int | None = None,
    *,
    overlap: int = 0,
    pipeline: Any = None,
    copies: int = 1,
    seed: int = 0,
    min_valid: float = 0.0,
    max_tries: int = 100,
    name: str | None = None,
) -> Iterator[xr.DataArray]:
    """Chips of a DataArray scene as DataArrays with true coordinates (``da.geoaug.sample``).

    Parameters
    ----------
    da : xarray.DataArray
        The scene, ``(band, y, x)``; Dask-backed arrays are computed window by window.
    size : int or (int, int)
        Chip size in pixels.
    count : int, optional
        Random chips (else a grid of ``stride``/``overlap``).
    stride, overlap : int, optional
        Grid step / overlap.
    pipeline : Transform, dict or path, optional
        The augmentation (context-aware geometry, see :mod:`geoaug.sampling`).
    copies : int
        Draws per window.
    seed : int
        Base seed (the same chips as :func:`geoaug.sample` on the file under the same ``name``).
    min_valid : float
        Least valid fraction of a window.
    max_tries : int
        Windows tried per random chip.
    name : str, optional
        The scene's name in the seeds.

    Yields
    ------
    xarray.DataArray
        Each chip, with ``attrs`` ``geoaug_window`` (row, col, height, width), ``geoaug_index``,
        ``geoaug_copy`` and ``geoaug_matrix`` (chip pixel -> scene pixel, 9 floats).
    """
    scene = DataArrayScene.from_dataarray(da, name)
    sampler = make_sampler(size, count, stride, overlap, min_valid, max_tries=max_tries)
    for chip in scene_chips(scene, sampler, None if pipeline is None else as_pipeline(pipeline), seed, None, copies):
        out = from_raster(chip.image, da)
        out.attrs.update(geoaug_window=list(chip.window), geoaug_index=chip.index, geoaug_copy=chip.copy,
                         geoaug_matrix=[float(v) for v in np.asarray(chip.matrix).ravel()])
        yield out
