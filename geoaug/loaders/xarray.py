"""``DataArray.geoaug`` and ``Dataset.geoaug``: augment rioxarray-style rasters and keep them true.

>>> import geoaug.xarray  # registers the accessors
>>> # da = rioxarray.open_rasterio("tile.tif"); out = da.geoaug.augment(pipeline, seed=0)

The output's spatial coordinates, ``spatial_ref`` (CRS and GeoTransform),
band coordinate, attributes and nodata (``_FillValue`` / ``rio.nodata``)
describe the augmented pixels.

Coordinates: an output grid whose axes lie along the CRS axes keeps 1-D
``x``/``y`` pixel-centre coordinates: flips, crops, scale/shift-only warps
(dims ``(band, y, x)``), and quarter turns and transposes of a north-up
input, whose rows run along ``x``: dims ``(band, x, y)``, so that
``out.transpose("band", "y", "x")`` is the north-up view. Genuinely rotated
or sheared grids get 2-D ``xc``/``yc`` centre coordinates, as rioxarray
gives for rotated files.

Dask: a Dask-backed input gives a Dask-backed output and nothing is
computed until asked. The record is drawn once up front; flips, quarter
turns and integer crops are Dask slicing (chunk by chunk); warps map each
output chunk to the source window it needs (:func:`geoaug.geometry.source_window`)
and warp it with the chunk's translated matrix; per-pixel spectral steps run
chunk by chunk; steps that need statistics of the whole image (``Contrast``,
``ChannelShift``, ``PercentileStretch``, ``PCAJitter`` without ``stats``,
``BandDropout(fill="mean")``, transforms of your own) run as one task on
the whole image: lazy, but that task holds the whole image.

rioxarray is used when installed, not required.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from .. import geometry
from ..errors import ParameterError
from ..raster import GeoRaster, collapse_mask, valid_from_values
from ..transforms.base import GeometricTransform, Transform
from ..transforms.compose import flatten, fusable
from ..transforms.functional import label_fill, warp
from ..transforms.serialize import as_pipeline
from ..transforms.spectral import BandDropout, BandGain, Brightness, Gamma, GaussianNoise, Normalize, ToFloat

__all__ = ["GeoAugAccessor", "GeoAugDatasetAccessor", "from_raster", "to_raster"]

#: spectral steps whose output pixel depends only on that pixel (all bands) and the params: run per chunk
_PER_PIXEL = (Brightness, Gamma, BandGain, Normalize, ToFloat)


# ------------------------------------------------------------------------------------------ dims and transforms
def _xy_names(obj: xr.DataArray | xr.Dataset) -> tuple[str, str]:
    """Names of the x and y dimensions (rioxarray's when installed, else ``x``/``y``)."""
    if hasattr(obj, "rio"):
        try:
            return obj.rio.x_dim, obj.rio.y_dim
        except Exception:
            pass
    return "x", "y"


def _transform_from_coords(da: xr.DataArray) -> Affine | None:
    """The transform implied by 1-D pixel-centre coordinates of the last two dims (either order)."""
    xdim, ydim = _xy_names(da)
    rdim, cdim = da.dims[-2], da.dims[-1]
    if {rdim, cdim} != {xdim, ydim} or any(d not in da.coords or da.coords[d].ndim != 1 for d in (rdim, cdim)):
        return None
    if da.sizes[rdim] < 2 or da.sizes[cdim] < 2:
        return None
    x, y = np.asarray(da[xdim].values, dtype=float), np.asarray(da[ydim].values, dtype=float)
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    if cdim == xdim:
        return Affine(dx, 0, float(x[0]) - dx / 2, 0, dy, float(y[0]) - dy / 2)
    return Affine(0, dx, float(x[0]) - dx / 2, dy, 0, float(y[0]) - dy / 2)


def transform_of(da: xr.DataArray) -> Affine:
    # GDAL's GeoTransform in spatial_ref first: rioxarray's rio.transform() drops the terms of
    # transforms with a zero diagonal (quarter turns, transposes). It must agree with 1-D
    # coordinates, else (a transposed view of an earlier output) the coordinates are the truth.
    from_coords = _transform_from_coords(da)
    for name in ("spatial_ref", da.attrs.get("grid_mapping", "")):
        gt = da.coords[name].attrs.get("GeoTransform") if name and name in da.coords else None
        if gt:
            t = Affine.from_gdal(*(float(v) for v in str(gt).split()))
            if from_coords is None or t.almost_equals(from_coords, precision=1e-6 * max(abs(v) for v in t[:6])):
                return t
            return from_coords
    if from_coords is not None:
        return from_coords
    if hasattr(da, "rio"):
        try:
            return da.rio.transform()
        except Exception:
            pass
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


def _crs_of(da: xr.DataArray) -> Any:
    if hasattr(da, "rio"):
        try:
            return da.rio.crs
        except Exception:
            return None
    return None


def _as_3d(da: xr.DataArray, what: str = "DataArray") -> xr.DataArray:
    if da.ndim == 2:
        return da.expand_dims("band")
    if da.ndim != 3:
        raise ParameterError(f"expected a {what} (band, y, x) or (y, x), got dims {da.dims}")
    return da


def to_raster(da: xr.DataArray) -> GeoRaster:
    """A :class:`~geoaug.GeoRaster` from a (band, y, x) or (y, x) DataArray (a Dask array is computed).

    Parameters
    ----------
    da : xarray.DataArray
        Pixels with their ``spatial_ref`` / coordinates, CRS and nodata.

    Returns
    -------
    GeoRaster
    """
    da = _as_3d(da)
    nodata = _nodata_of(da)
    data = np.asarray(da.values)
    names = da.attrs.get("long_name")
    names = tuple(names) if isinstance(names, (list, tuple)) and len(names) == data.shape[0] else ()
    return GeoRaster(data=data, mask=valid_from_values(data, nodata), transform=transform_of(da),
                     crs=_crs_of(da), nodata=nodata, band_names=names)


def _axis_aligned(t: Affine) -> str:
    """``"north"`` (rows along y), ``"swapped"`` (rows along x) or ``"rotated"``."""
    scale = max(abs(v) for v in (t.a, t.b, t.d, t.e)) or 1.0
    tol = 1e-12 * scale
    if abs(t.b) <= tol and abs(t.d) <= tol:
        return "north"
    if abs(t.a) <= tol and abs(t.e) <= tol:
        return "swapped"
    return "rotated"


def _wrap(data: Any, t: Affine, crs: Any, nodata: float | None, like: xr.DataArray) -> xr.DataArray:
    """A DataArray like ``like`` (dims, band coordinate, attrs) holding ``data`` (numpy or Dask) on grid ``t``."""
    dims = like.dims if like.ndim == 3 else ("band", *like.dims)
    band_dim, ydim, xdim = dims
    coords: dict[str, Any] = {}
    if band_dim in like.coords:
        coords[band_dim] = like.coords[band_dim].values
    xname, yname = _xy_names(like)
    if {ydim, xdim} != {xname, yname}:
        xname, yname = xdim, ydim
    h, w = data.shape[1], data.shape[2]
    jj = np.arange(w) + 0.5
    ii = np.arange(h) + 0.5
    kind = _axis_aligned(t)
    if kind == "north":
        dims = (band_dim, yname, xname)
        coords[xname] = t.c + t.a * jj
        coords[yname] = t.f + t.e * ii
    elif kind == "swapped":
        dims = (band_dim, xname, yname)  # rows run along x: 1-D x on the row dim
        coords[xname] = t.c + t.b * ii
        coords[yname] = t.f + t.d * jj
    else:
        dims = (band_dim, yname, xname)
        if _is_dask(data):  # 2-D coordinates of a big scene: lazy too, chunked like the pixels
            import dask.array as dsa

            rows = (dsa.arange(h, chunks=data.chunks[1]) + 0.5)[:, None]
            cols = (dsa.arange(w, chunks=data.chunks[2]) + 0.5)[None, :]
        else:
            cols, rows = np.meshgrid(jj, ii)
        coords["xc"] = ((yname, xname), t.a * cols + t.b * rows + t.c)
        coords["yc"] = ((yname, xname), t.d * cols + t.e * rows + t.f)
    attrs = dict(like.attrs)
    attrs.pop("_FillValue", None)
    if nodata is not None:
        attrs["_FillValue"] = nodata
    out = xr.DataArray(data, dims=dims, coords=coords, attrs=attrs, name=like.name)
    if like.ndim == 2:
        out = out.squeeze(band_dim, drop=True)
    if hasattr(out, "rio"):
        out = out.rio.write_transform(t)
        if crs is not None:
            out = out.rio.write_crs(crs)
        if nodata is not None:
            out = out.rio.write_nodata(nodata if not math.isnan(nodata) else np.nan, encoded=False)
    else:
        out.attrs["transform"] = tuple(t)[:6]
    return out


def from_raster(r: GeoRaster, like: xr.DataArray) -> xr.DataArray:
    """A DataArray like ``like`` (dims, band coordinate, attrs) holding ``r`` with true coordinates.

    Parameters
    ----------
    r : GeoRaster
        The pixels, mask and georeferencing to hold.
    like : xarray.DataArray
        Where dims, the band coordinate, name and attributes come from.

    Returns
    -------
    xarray.DataArray
    """
    nodata = r.write_nodata()
    data = r.replace(nodata=nodata).filled() if nodata is not None else r.data
    like3 = _as_3d(like)
    if r.count != like3.shape[0]:  # a step appended bands (SpectralIndex): extend the band coordinate, name them
        like3 = _with_bands(like3, r.band_names)
        return _wrap(data, r.transform, r.crs, nodata, like3)
    return _wrap(data, r.transform, r.crs, nodata, like)


def _with_bands(like: xr.DataArray, names: tuple[str, ...]) -> xr.DataArray:
    """A stand-in for ``like`` with ``len(names)`` bands: the band coordinate continued, ``long_name`` = names."""
    band_dim = like.dims[0]
    n, old = len(names), like.shape[0]
    stub = xr.DataArray(np.broadcast_to(np.zeros((), like.dtype), (n, *like.shape[1:])), dims=like.dims,
                        coords={k: v for k, v in like.coords.items() if band_dim not in v.dims}, attrs=dict(like.attrs),
                        name=like.name)
    if band_dim in like.coords:
        values = like.coords[band_dim].values
        if values.dtype.kind in "iu" and n > old:
            values = np.concatenate([values, values.max(initial=0) + np.arange(1, n - old + 1)])
        else:
            values = np.asarray(names, dtype=object)
        stub = stub.assign_coords({band_dim: values})
    stub.attrs["long_name"] = tuple(names)
    return stub


# ------------------------------------------------------------------------------------------ the draw
def _load(pipeline: Transform | str) -> Transform:
    return as_pipeline(pipeline)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


# ------------------------------------------------------------------------------------------ lazy (Dask) path
@dataclass(frozen=True)
class _Lazy:
    """A raster whose pixels are Dask arrays: data (bands, H, W), per-band validity (bands, H, W)."""

    data: Any
    mask: Any
    transform: Affine
    nodata: float | None
    dropped: bool = False  # a BandDropout(fill="nodata") invalidated whole bands


def _valid_block(x: np.ndarray, nodata: float | None) -> np.ndarray:
    return np.broadcast_to(valid_from_values(x, nodata), x.shape).copy()


def _lazy_from(da: xr.DataArray) -> _Lazy:
    import dask.array as dsa

    da = _as_3d(da)
    data = dsa.asarray(da.data)
    data = data.rechunk({0: -1})  # every chunk holds all bands (per-pixel steps see the whole spectrum)
    nodata = _nodata_of(da)
    mask = data.map_blocks(_valid_block, nodata, dtype=bool)
    return _Lazy(data, mask, transform_of(da), nodata)


def _blocks(lz: _Lazy, func: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: np.dtype) -> _Lazy:
    """Apply ``func(data, mask, row0, col0) -> (data, mask)`` to every chunk (same chunks out)."""
    import dask
    import dask.array as dsa

    dd, mm = lz.data.to_delayed(), lz.mask.to_delayed()
    rows, cols = lz.data.chunks[1], lz.data.chunks[2]
    r_off, c_off = np.cumsum((0, *rows)), np.cumsum((0, *cols))
    bands = lz.data.shape[0]
    fn = dask.delayed(func, nout=2, pure=False)
    data_rows, mask_rows = [], []
    for i, h in enumerate(rows):
        drow, mrow = [], []
        for j, w in enumerate(cols):
            task = fn(dd[0, i, j], mm[0, i, j], int(r_off[i]), int(c_off[j]))
            drow.append(dsa.from_delayed(task[0], (bands, h, w), dtype=dtype))
            mrow.append(dsa.from_delayed(task[1], (bands, h, w), dtype=bool))
        data_rows.append(drow)
        mask_rows.append(mrow)
    return replace(lz, data=dsa.block([data_rows]), mask=dsa.block([mask_rows]))


def _raster(data: np.ndarray, mask: np.ndarray, nodata: float | None) -> GeoRaster:
    # one shared plane when every band agrees (the kernels' multi-band loops; same values as per band)
    return GeoRaster(data=data, mask=mask[0] if mask.shape[0] == 1 else collapse_mask(mask), nodata=nodata)


def _out(r: GeoRaster) -> tuple[np.ndarray, np.ndarray]:
    return r.data, np.broadcast_to(r.mask, r.data.shape).copy()


def _axis_slice(start: int, step: int, n: int) -> slice:
    if step == 1:
        return slice(start, start + n)
    stop = start - n
    return slice(start, stop if stop >= 0 else None, -1)


def _index_lazy(a: Any, plan: tuple[int, int, int, int, int, int], shape: tuple[int, int]) -> Any:
    """Output (i, j) = input (r0 + ri*i + rj*j, c0 + ci*i + cj*j): Dask slicing, chunk by chunk."""
    r0, ri, rj, c0, ci, cj = plan
    h, w = shape
    if rj == 0:
        return a[:, _axis_slice(r0, ri, h), _axis_slice(c0, cj, w)]
    return a.transpose(0, 2, 1)[:, _axis_slice(c0, ci, h), _axis_slice(r0, rj, w)]


def _clip(lo: int, hi: int, n: int, fill: str) -> tuple[int, int]:
    """Clip a source window to ``[0, n)``; ``wrap``/``reflect``/``mirror`` beyond the edge need the whole axis."""
    if lo >= 0 and hi <= n:
        return lo, hi
    if fill in ("reflect", "mirror", "wrap"):
        return 0, n
    lo2, hi2 = max(lo, 0), min(hi, n)
    if lo2 >= hi2:  # wholly outside: one edge pixel keeps every tap outside (or clamped to that edge)
        return (0, 1) if hi <= 0 else (n - 1, n)
    return lo2, hi2


def _warp_lazy(lz: _Lazy, m: np.ndarray, shape: tuple[int, int], interpolation: str, fill: str,
               fill_value: float | None, antialias: bool = False) -> _Lazy:
    import dask
    import dask.array as dsa

    bands, in_h, in_w = lz.data.shape
    t = geometry.output_transform(lz.transform, m)
    plan = geometry.strided_plan(m, (in_h, in_w), shape)
    if plan is not None:
        return replace(lz, data=_index_lazy(lz.data, plan, shape), mask=_index_lazy(lz.mask, plan, shape),
                       transform=t)
    ch, cw = max(lz.data.chunks[1]), max(lz.data.chunks[2])
    out_rows = [(s, min(s + ch, shape[0])) for s in range(0, shape[0], ch)]
    out_cols = [(s, min(s + cw, shape[1])) for s in range(0, shape[1], cw)]
    support = geometry.KERNEL_SUPPORT[interpolation]
    if antialias:  # an area filter when shrinking reads the output pixel's whole footprint
        support += int(np.ceil(max(np.abs(m[:2, :2]).sum(axis=1))))
    nodata = lz.nodata

    def block(data: np.ndarray, mask: np.ndarray, mb: np.ndarray, bshape: tuple[int, int]) -> tuple:
        r = warp(_raster(data, mask, nodata), mb, bshape, interpolation, fill, fill_value, antialias=antialias)
        return _out(r)

    fn = dask.delayed(block, nout=2, pure=False)
    data_rows, mask_rows = [], []
    for o_r in out_rows:
        drow, mrow = [], []
        for o_c in out_cols:
            (r0, r1), (c0, c1) = geometry.source_window(m, o_r, o_c, support)
            r0, r1 = _clip(r0, r1, in_h, fill)
            c0, c1 = _clip(c0, c1, in_w, fill)
            mb = geometry.translation(-c0, -r0) @ m @ geometry.translation(o_c[0], o_r[0])
            bshape = (o_r[1] - o_r[0], o_c[1] - o_c[0])
            task = fn(lz.data[:, r0:r1, c0:c1], lz.mask[:, r0:r1, c0:c1], mb, bshape)
            drow.append(dsa.from_delayed(task[0], (bands, *bshape), dtype=lz.data.dtype))
            mrow.append(dsa.from_delayed(task[1], (bands, *bshape), dtype=bool))
        data_rows.append(drow)
        mask_rows.append(mrow)
    return replace(lz, data=dsa.block([data_rows]), mask=dsa.block([mask_rows]), transform=t)


def _noise_block(t: GaussianNoise, params: dict[str, Any], lz: _Lazy) -> Callable[..., tuple]:
    """GaussianNoise per chunk: element (b, i, j) of the same counter-based field as the whole image."""
    from ..kernels.dtypes import work_dtype
    from ..kernels.noise import gaussian_noise
    from ..transforms.spectral import finish_band

    _, height, width = lz.data.shape
    nodata = lz.nodata

    def block(data: np.ndarray, mask: np.ndarray, row0: int, col0: int) -> tuple:
        r = _raster(data, mask, nodata)
        seed, sigma = t.noise_scale(r, params)
        work = work_dtype(r.dtype)
        out = r.data.copy()
        for b in range(r.count):
            x = r.data[b].astype(work)
            first = b * height * width + row0 * width + col0  # stream index of the chunk's first pixel
            if x.shape[1] == width:  # whole rows: one stretch of the stream
                noise = gaussian_noise(seed, x.shape, offset=first, dtype=work)
            else:
                noise = np.empty_like(x)
                for i in range(x.shape[0]):
                    noise[i] = gaussian_noise(seed, (1, x.shape[1]), offset=first + i * width, dtype=work)[0]
            noise *= work(sigma[b])
            noise += x
            finish_band(r, out, b, noise)
        return _out(r.replace(data=out))

    return block


def _whole(lz: _Lazy, func: Callable[[GeoRaster], GeoRaster], dtype: np.dtype) -> _Lazy:
    """Run ``func`` on the whole image as one task (steps that need whole-image statistics)."""
    chunks = lz.data.chunks
    one = replace(lz, data=lz.data.rechunk({1: -1, 2: -1}), mask=lz.mask.rechunk({1: -1, 2: -1}))
    nodata = lz.nodata

    def block(data: np.ndarray, mask: np.ndarray, row0: int, col0: int) -> tuple:
        out = func(_raster(data, mask, nodata))
        if out.dtype != dtype or out.data.shape != data.shape:
            raise ParameterError(f"a step changed the raster to {out.dtype} {out.data.shape} from {data.dtype} "
                                 f"{data.shape}: Dask-backed inputs need steps that keep both (or declare "
                                 "out_dtype); compute the DataArray first")
        return _out(out)

    res = _blocks(one, block, dtype)
    return replace(res, data=res.data.rechunk(chunks), mask=res.mask.rechunk(chunks))


def _step_lazy(lz: _Lazy, t: Transform, params: dict[str, Any], label: bool) -> _Lazy:
    """One non-geometric step on a lazy raster."""
    if label:
        if type(t).apply_label_params is Transform.apply_label_params:
            return lz  # label rasters pass spectral steps unchanged
        return _whole(lz, lambda r: t.apply_label_params(r, params), lz.data.dtype)
    out_dtype = np.dtype(getattr(t, "out_dtype", None) or lz.data.dtype)
    if isinstance(t, BandDropout) and t.fill != "mean":
        dropped = lz.dropped or (t.fill == "nodata" and bool(params.get("bands")))
        nodata = lz.nodata
        return replace(_blocks(lz, lambda d, mk, r0, c0: _out(t.apply_params(_raster(d, mk, nodata), params)),
                               out_dtype), dropped=dropped)
    if isinstance(t, _PER_PIXEL):
        nodata = lz.nodata
        return _blocks(lz, lambda d, mk, r0, c0: _out(t.apply_params(_raster(d, mk, nodata), params)), out_dtype)
    if type(t) is GaussianNoise:
        return _blocks(lz, _noise_block(t, params, lz), out_dtype)
    return _whole(lz, lambda r: t.apply_params(r, params), out_dtype)


def _run_lazy(steps: list[tuple[Transform, dict[str, Any]]], lz: _Lazy, label: bool) -> _Lazy:
    """Like :func:`geoaug.transforms.compose.run` on Dask arrays: fused geometric groups, then steps."""
    group: list[tuple[GeometricTransform, dict]] = []

    def flush(z: _Lazy) -> _Lazy:
        if not group:
            return z
        m, shape = np.eye(3), (z.data.shape[1], z.data.shape[2])
        for g, p in group:
            mi, shape = g.matrix(p, shape)
            m = m @ mi
        lead = next((g for g, _ in group if not g.exact), group[0][0])
        group.clear()
        if label:
            return _warp_lazy(z, m, shape, "nearest", label_fill(lead.fill), None)
        return _warp_lazy(z, m, shape, lead.interpolation, lead.fill, lead.fill_value,
                          getattr(lead, "antialias", False))

    for t, p in steps:
        if isinstance(t, GeometricTransform):
            if group and not fusable(group, t):
                lz = flush(lz)
            group.append((t, p))
            continue
        lz = _step_lazy(flush(lz), t, p, label)
    return flush(lz)


def _fill_block(data: np.ndarray, mask: np.ndarray, nodata: float | None) -> np.ndarray:
    return _raster(data, mask, nodata).filled()


def _finish_lazy(lz: _Lazy, like: xr.DataArray) -> xr.DataArray:
    """The lazy raster as a Dask-backed DataArray: nodata chosen without computing (see module docs)."""
    dt = lz.data.dtype
    nodata = lz.nodata
    if nodata is None:
        if dt.kind == "f":
            nodata = math.nan
        elif lz.dropped:
            info = np.iinfo(dt)
            nodata = float(info.max if dt.kind == "u" else info.min)
    data = lz.data if nodata is None else lz.data.map_blocks(_fill_block, lz.mask, nodata, dtype=dt)
    return _wrap(data, lz.transform, _crs_of(like), nodata, like)


def _augment_lazy(da: xr.DataArray, pipeline: Transform, record: dict[str, Any], label: bool) -> xr.DataArray:
    lz = _run_lazy(flatten(pipeline, record), _lazy_from(da), label)
    return _finish_lazy(lz, da)


def _augment_eager(da: xr.DataArray, pipeline: Transform, record: dict[str, Any], label: bool) -> xr.DataArray:
    r = to_raster(da)
    out = pipeline.apply_label(r, record) if label else pipeline.apply(r, record)
    return from_raster(out, da)


def _augment_one(da: xr.DataArray, pipeline: Transform, record: dict[str, Any], label: bool) -> xr.DataArray:
    if _is_dask(da.data):
        return _augment_lazy(da, pipeline, record, label)
    return _augment_eager(da, pipeline, record, label)


def _sample(pipeline: Transform, gen: np.random.Generator, da: xr.DataArray) -> dict[str, Any]:
    da = _as_3d(da)
    return pipeline.sample(gen, GeoRaster.proxy(da.shape[0], da.shape[1], da.shape[2], da.dtype))


def _generator(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng must be a numpy.random.Generator, got {rng!r}")
    return rng if rng is not None else np.random.default_rng(seed)


# ------------------------------------------------------------------------------------------ accessors
@xr.register_dataarray_accessor("geoaug")
class GeoAugAccessor:
    """``da.geoaug``: geoaug on a DataArray (band, y, x) or (y, x)."""

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def raster(self) -> GeoRaster:
        """The DataArray as a :class:`~geoaug.GeoRaster` (a Dask-backed one is computed).

        Returns
        -------
        GeoRaster
        """
        return to_raster(self._da)

    def sample(self, size: int | tuple[int, int] = 256, count: int | None = None, stride: int | None = None,
               **kwargs: Any) -> Any:
        """Chips of this DataArray scene, read window by window (see :func:`geoaug.scenes_xarray.sample`).

        Parameters
        ----------
        size : int or (int, int)
            Chip size in pixels.
        count : int, optional
            Random chips (else a grid of ``stride``).
        stride : int, optional
            Grid step.
        **kwargs
            ``overlap``, ``pipeline``, ``copies``, ``seed``, ``min_valid``, ``max_tries``, ``name``.

        Returns
        -------
        iterator of xarray.DataArray
        """
        from .scenes_xarray import sample

        return sample(self._da, size, count, stride, **kwargs)

    def augment(self, pipeline: Transform | str, seed: int | None = None,
                rng: np.random.Generator | None = None, return_record: bool = False,
                label: bool = False) -> Any:
        """Apply a transform or pipeline (object or YAML/JSON path); returns a DataArray.

        A Dask-backed DataArray gives a Dask-backed result, computed only when
        asked, equal to the result for the same pixels in memory.

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
        label : bool
            The DataArray is a label raster: geometry only, nearest.

        Returns
        -------
        xarray.DataArray or (xarray.DataArray, dict)
        """
        pipe = _load(pipeline)
        gen = _generator(seed, rng)
        if not _is_dask(self._da.data) and not label:
            res = pipe(to_raster(self._da), gen, return_params=True)
            out = from_raster(res.image, self._da)
            return (out, res.params) if return_record else out
        record = _sample(pipe, gen, self._da)
        out = _augment_one(self._da, pipe, record, label)
        return (out, record) if return_record else out

    def replay(self, pipeline: Transform | str, record: dict[str, Any], label: bool = False) -> xr.DataArray:
        """Apply a record from an earlier :meth:`augment` (byte-identical on the same grid).

        Parameters
        ----------
        pipeline : Transform, Compose or path
            The pipeline that drew ``record``.
        record : dict
            What :meth:`augment` returned with ``return_record=True``.
        label : bool
            Geometry only, nearest (a label raster).

        Returns
        -------
        xarray.DataArray
        """
        return _augment_one(self._da, _load(pipeline), record, label)


@xr.register_dataset_accessor("geoaug")
class GeoAugDatasetAccessor:
    """``ds.geoaug``: one draw for every variable on the Dataset's (y, x) grid.

    Variables with both spatial dims move together: image-like ones with the
    transforms' interpolation and spectral steps, label ones with nearest and
    geometry only. Variables without the spatial dims are kept unchanged.
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def _spatial(self) -> list[str]:
        xdim, ydim = _xy_names(self._ds)
        names = [str(n) for n, v in self._ds.data_vars.items() if xdim in v.dims and ydim in v.dims]
        if not names:
            raise ParameterError(f"Dataset has no variable on the ({ydim}, {xdim}) grid")
        return names

    def label_names(self, labels: Sequence[str] | None = None) -> list[str]:
        """Which spatial variables are label rasters.

        Parameters
        ----------
        labels : list of str, optional
            Explicit names. Default: integer-dtype variables without a band
            dimension (2-D on the grid); float variables and multi-band ones
            are images. Pass ``labels=[]`` for none (e.g. one 2-D integer
            variable per spectral band).

        Returns
        -------
        list of str
        """
        spatial = self._spatial()
        if labels is None:
            return [n for n in spatial if self._ds[n].dtype.kind in "iub" and self._ds[n].ndim == 2]
        if isinstance(labels, str) or not all(isinstance(n, str) for n in labels):
            raise ParameterError(f"labels must be a list of variable names, got {labels!r}")
        for n in labels:
            if n not in spatial:
                raise ParameterError(f"labels: {n!r} is not a variable on the Dataset's grid (those are {spatial})")
        return list(labels)

    def augment(self, pipeline: Transform | str, seed: int | None = None,
                rng: np.random.Generator | None = None, labels: Sequence[str] | None = None,
                return_record: bool = False) -> Any:
        """Apply one draw of a transform or pipeline to every variable on the grid; returns a Dataset.

        Parameters
        ----------
        pipeline : Transform, Compose or path
            What to apply.
        seed : int, optional
            Seed of a new generator (ignored when ``rng`` is given).
        rng : numpy.random.Generator, optional
            The generator to draw from.
        labels : list of str, optional
            Label variables (nearest, geometry only); see :meth:`label_names`.
        return_record : bool
            Also return the record of what was drawn.

        Returns
        -------
        xarray.Dataset or (xarray.Dataset, dict)
        """
        pipe = _load(pipeline)
        gen = _generator(seed, rng)
        spatial = self._spatial()
        label_set = set(self.label_names(labels))
        images = [n for n in spatial if n not in label_set]
        for n in spatial:
            if self._ds[n].ndim not in (2, 3):
                raise ParameterError(f"variable {n!r}: expected dims (band, y, x) or (y, x), got {self._ds[n].dims}")
        ref = self._ds[images[0]] if images else self._ds[spatial[0]]
        record = _sample(pipe, gen, ref)
        ref_bands = _as_3d(ref).shape[0]
        spectral = any(not isinstance(t, GeometricTransform) for t, _ in flatten(pipe, record))
        for n in images if spectral else []:
            if _as_3d(self._ds[n]).shape[0] != ref_bands:
                raise ParameterError(f"image variables need one band count for one draw of spectral steps: "
                                     f"{images[0]!r} has {ref_bands} bands, {n!r} {_as_3d(self._ds[n]).shape[0]}; "
                                     f"augment them separately or list label variables in labels=")
        out = self._apply(pipe, record, label_set)
        return (out, record) if return_record else out

    def replay(self, pipeline: Transform | str, record: dict[str, Any],
               labels: Sequence[str] | None = None) -> xr.Dataset:
        """Apply a record from an earlier :meth:`augment` to every variable on the grid.

        Parameters
        ----------
        pipeline : Transform, Compose or path
            The pipeline that drew ``record``.
        record : dict
            What :meth:`augment` returned with ``return_record=True``.
        labels : list of str, optional
            Label variables; see :meth:`label_names`.

        Returns
        -------
        xarray.Dataset
        """
        return self._apply(_load(pipeline), record, set(self.label_names(labels)))

    def _apply(self, pipe: Transform, record: dict[str, Any], label_set: set[str]) -> xr.Dataset:
        ds = self._ds
        spatial = self._spatial()
        xdim, ydim = _xy_names(ds)
        new = {n: _augment_one(ds[n], pipe, record, n in label_set) for n in spatial}
        grid_coords = [str(c) for c, v in ds.coords.items() if xdim in v.dims or ydim in v.dims]
        drop = [*spatial, *grid_coords, *(["spatial_ref"] if "spatial_ref" in ds.coords else [])]
        out = ds.drop_vars(drop).assign(new)
        out = out[[str(n) for n in ds.data_vars]]
        out.attrs = dict(ds.attrs)
        return out
