"""``DataArray.geoaug``: augment rioxarray-style DataArrays (band, y, x) and keep them true.

>>> import geoaug.xarray  # registers the accessor
>>> # da = rioxarray.open_rasterio("tile.tif"); out = da.geoaug.augment(pipeline, seed=0)

The output's spatial coordinates, ``spatial_ref`` (CRS and GeoTransform),
band coordinate, attributes and nodata (``_FillValue`` / ``rio.nodata``)
describe the augmented pixels. North-up outputs get 1-D ``x``/``y`` pixel-centre
coordinates; rotated or sheared ones (quarter turns, transposes, rotations)
get 2-D ``xc``/``yc`` centre coordinates, as rioxarray gives for rotated files.
rioxarray is used when installed, not required.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from .errors import ParameterError
from .io import _default_nodata
from .raster import GeoRaster, valid_from_values
from .transforms.base import Transform

__all__ = ["GeoAugAccessor", "from_raster", "to_raster"]


def _transform_of(da: xr.DataArray) -> Affine:
    # GDAL's GeoTransform in spatial_ref first: rioxarray's rio.transform() drops the terms of
    # transforms with a zero diagonal (quarter turns, transposes)
    for name in ("spatial_ref", da.attrs.get("grid_mapping", "")):
        gt = da.coords[name].attrs.get("GeoTransform") if name and name in da.coords else None
        if gt:
            return Affine.from_gdal(*(float(v) for v in str(gt).split()))
    if hasattr(da, "rio"):
        try:
            return da.rio.transform()
        except Exception:
            pass
    if "x" in da.coords and "y" in da.coords and da.sizes["x"] > 1 and da.sizes["y"] > 1:
        x, y = da["x"].values, da["y"].values
        dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
        return Affine(dx, 0, float(x[0]) - dx / 2, 0, dy, float(y[0]) - dy / 2)
    return Affine.identity()


def _nodata_of(da: xr.DataArray) -> float | None:
    nd = None
    if hasattr(da, "rio"):
        try:
            nd = da.rio.nodata
        except Exception:
            nd = None
    if nd is None:
        nd = da.attrs.get("_FillValue", da.encoding.get("_FillValue"))
    return None if nd is None else float(nd)


def to_raster(da: xr.DataArray) -> GeoRaster:
    """A :class:`~geoaug.GeoRaster` from a (band, y, x) or (y, x) DataArray."""
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
    nodata = _nodata_of(da)
    data = np.asarray(da.values)
    names = da.attrs.get("long_name")
    names = tuple(names) if isinstance(names, (list, tuple)) and len(names) == data.shape[0] else ()
    return GeoRaster(data=data, mask=valid_from_values(data, nodata), transform=_transform_of(da), crs=crs,
                     nodata=nodata, band_names=names)


def from_raster(r: GeoRaster, like: xr.DataArray) -> xr.DataArray:
    """A DataArray like ``like`` (dims, band coordinate, attrs) holding ``r`` with true coordinates."""
    nodata = _default_nodata(r)
    data = r.replace(nodata=nodata).filled() if nodata is not None else r.data
    dims = like.dims if like.ndim == 3 else ("band", *like.dims)
    coords: dict[str, Any] = {}
    band_dim, ydim, xdim = dims
    if band_dim in like.coords:
        coords[band_dim] = like.coords[band_dim].values
    t = r.transform
    jj = np.arange(r.width) + 0.5
    ii = np.arange(r.height) + 0.5
    if t.b == 0 and t.d == 0:
        coords[xdim] = t.c + t.a * jj
        coords[ydim] = t.f + t.e * ii
    else:
        cols, rows = np.meshgrid(jj, ii)
        coords["xc"] = ((ydim, xdim), t.a * cols + t.b * rows + t.c)
        coords["yc"] = ((ydim, xdim), t.d * cols + t.e * rows + t.f)
    attrs = dict(like.attrs)
    if nodata is not None:
        attrs["_FillValue"] = nodata
    out = xr.DataArray(data, dims=dims, coords=coords, attrs=attrs, name=like.name)
    if like.ndim == 2:
        out = out.squeeze(band_dim, drop=True)
    if hasattr(out, "rio"):
        out = out.rio.write_transform(t)
        if r.crs is not None:
            out = out.rio.write_crs(r.crs)
        if nodata is not None:
            out = out.rio.write_nodata(nodata if not math.isnan(nodata) else np.nan, encoded=False)
    else:
        out.attrs["transform"] = tuple(t)[:6]
    return out


@xr.register_dataarray_accessor("geoaug")
class GeoAugAccessor:
    """``da.geoaug``: geoaug on a DataArray."""

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def raster(self) -> GeoRaster:
        """The DataArray as a :class:`~geoaug.GeoRaster`."""
        return to_raster(self._da)

    def augment(self, pipeline: Transform | str, seed: int | None = None,
                rng: np.random.Generator | None = None, return_record: bool = False) -> Any:
        """Apply a transform or pipeline (object or YAML/JSON path); returns a DataArray.

        Parameters
        ----------
        pipeline : Transform, Compose or path
            What to apply (a pipeline file is loaded with :func:`geoaug.load_pipeline`).
        seed : int, optional
            Seed of a new generator (ignored when ``rng`` is given).
        rng : numpy.random.Generator, optional
            The generator to draw from.
        return_record : bool
            Also return the record of what was drawn (for ``replay``).
        """
        if isinstance(pipeline, str) or hasattr(pipeline, "__fspath__"):
            from .transforms.serialize import load_pipeline

            pipeline = load_pipeline(pipeline)
        gen = rng if rng is not None else np.random.default_rng(seed)
        res = pipeline(to_raster(self._da), gen, return_params=True)
        out = from_raster(res.image, self._da)
        return (out, res.params) if return_record else out
