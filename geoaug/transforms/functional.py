"""Deterministic raster operations that the transforms apply (no randomness here)."""

from __future__ import annotations

import numpy as np

from .. import geometry
from ..errors import ParameterError
from ..kernels import FILL_MODES, INTERPOLATIONS, index_copy, warp_affine
from ..kernels import resize as _resize
from ..kernels.flip import is_all_true
from ..raster import GeoRaster, all_valid_mask

__all__ = ["check_fill", "check_interpolation", "copy", "warp", "warp_array"]


def check_interpolation(name: str) -> str:
    """Validate an interpolation name."""
    if name not in INTERPOLATIONS:
        raise ParameterError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {name!r}")
    return name


def check_fill(name: str) -> str:
    """Validate a fill mode name."""
    if name not in FILL_MODES:
        raise ParameterError(f"fill must be one of {sorted(FILL_MODES)}, got {name!r}")
    return name


def label_fill(fill: str) -> str:
    """Fill mode for label rasters: reflected/wrapped content keeps its labels; anything else is invalid."""
    return fill if fill in ("edge", "reflect", "mirror", "wrap") else "nodata"


_KIND = {"nearest": _resize.NEAREST, "bilinear": _resize.LINEAR, "cubic": _resize.CUBIC}


def warp(
    raster: GeoRaster,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float | None = None,
    renormalize: bool = False,
    antialias: bool = False,
    out: np.ndarray | None = None,
) -> GeoRaster:
    """Resample ``raster`` through an output->input pixel matrix.

    Three paths, chosen from the matrix alone:

    * exact flips, quarter turns, transposes and integer crops (and their
      compositions) are strided copies (:func:`geoaug.kernels.flip.index_copy`);
    * a pure scale + translate (no rotation or shear,
      :func:`geoaug.geometry.axis_aligned`) is resampled separably
      (:func:`geoaug.kernels.resize.resize_separable`), with the same taps,
      validity and fill rules as the warp;
    * everything else goes through the numba warp kernel.

    The output transform is ``raster.transform @ Affine(matrix)``
    (:func:`geoaug.geometry.output_transform`).

    Parameters
    ----------
    raster : GeoRaster
        The input.
    matrix : ndarray (3, 3)
        Output pixel -> input pixel, pixel-corner origin.
    out_shape : (rows, cols)
        Output size in pixels.
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling kernel for the data (masks follow the tap rule).
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        Outside the input: ``nodata`` = invalid; ``constant`` = valid pixels of
        ``fill_value``; the others map back inside.
    fill_value : float, optional
        Value for ``fill="constant"`` (default 0).
    renormalize : bool
        Weighted mean over the valid taps instead of invalidating.
    antialias : bool
        For a pure scale + translate with ``bilinear`` or ``cubic``: an axis
        that shrinks (more than one input pixel per output pixel) takes the
        area average over each output pixel's footprint instead
        (OpenCV's ``INTER_AREA``). Ignored for other matrices.
    out : ndarray (bands, rows, cols), optional
        Destination for the data (C-contiguous, the raster's dtype), e.g. a
        reused batch buffer; allocated when not given. It may not share
        memory with the raster's data or mask (no warp works in place:
        :func:`geoaug.kernels.buffers.out_buffer`).

    Returns
    -------
    GeoRaster
    """
    if interpolation not in INTERPOLATIONS:
        check_interpolation(interpolation)
    if fill not in FILL_MODES:
        check_fill(fill)
    h, w = int(out_shape[0]), int(out_shape[1])
    if h <= 0 or w <= 0:
        raise ParameterError(f"output shape must be positive, got {(h, w)}")
    rows = geometry._rows(matrix)  # the nine numbers once, for the plan and the axis-aligned test
    shape = raster.data.shape
    plan = geometry._plan_of_rows(rows, (shape[1], shape[2]), (h, w))
    if plan is not None:
        return copy(raster, plan, matrix, (h, w), out=out)
    aa = None if renormalize else geometry._axis_aligned_rows(rows)
    fv = 0.0 if fill_value is None else float(fill_value)
    if raster.lazy_mask and not renormalize:
        # a float array whose NaNs are not found yet: resampled as all valid, the output tested for NaN while in
        # cache. No NaN came out: no valid output pixel read one, and this is the result (as resampled with the
        # mask). Else the input is scanned and resampled again with its mask (what every call did before)
        res = _unmasked(raster.data, matrix, aa, (h, w), interpolation, fill, fv, raster.invalid_value, antialias, out)
        if res is not None:
            return raster.warped(res[0], all_valid_mask((h, w)) if res[1] is None else res[1], matrix)
    rmask = raster.mask
    if aa is not None:
        scale, offset, kw = _resize_args(aa, interpolation, fill, fv, raster.invalid_value, antialias, out)
        data, mask = _resize.resize_separable(raster.data, _kernel_mask(rmask), scale, offset, (h, w), **kw)
    else:
        data, mask, every = warp_affine(raster.data, _kernel_mask(rmask), matrix, (h, w), interpolation, fill, fv,
                                        raster.invalid_value, renormalize, out=out, return_all_valid=True)
        if every:  # no output pixel invalid: the free all-valid mask, none was built
            return raster.warped(data, all_valid_mask((h, w) if rmask.ndim == 2 else (raster.count, h, w)), matrix)
    return raster.warped(data, _raster_mask(mask, rmask, raster.count), matrix)


def warp_array(
    data: np.ndarray,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float | None = None,
    antialias: bool = False,
) -> np.ndarray | None:
    """:func:`warp` of a plain ``(bands, H, W)`` array, without a GeoRaster: the data it gives.

    What ``warp(GeoRaster.from_array(data, lazy_mask=True), matrix, out_shape, interpolation, fill,
    fill_value, antialias=antialias).data`` gives, bit for bit (the same three paths, each kernel called
    as :func:`warp` calls it): invalid output pixels hold 0, as a plain array's raster has no nodata
    (:meth:`GeoRaster.invalid_value`), and float NaN pixels are nodata. ``None`` when a float array's NaN
    pixel was read by an output pixel: its mask is needed, and the caller takes :func:`warp`'s masked path
    (nothing of the work is kept).

    Parameters
    ----------
    data : ndarray (bands, rows, cols)
        A supported dtype, C-contiguous or not.
    matrix : ndarray (3, 3)
        Output pixel -> input pixel, pixel-corner origin.
    out_shape : (rows, cols)
        Output size in pixels.
    interpolation, fill, fill_value, antialias
        As for :func:`warp` (no renormalising: what the transforms' plain warps ask for).

    Returns
    -------
    ndarray (bands, rows, cols) or None
    """
    h, w = int(out_shape[0]), int(out_shape[1])
    rows = geometry._rows(matrix)
    plan = geometry._plan_of_rows(rows, (data.shape[1], data.shape[2]), (h, w))
    if plan is not None:  # an exact copy moves NaN with the values: no mask to find
        return index_copy(data, None, plan, (h, w))[0]
    res = _unmasked(data, matrix, geometry._axis_aligned_rows(rows), (h, w), interpolation, fill,
                    0.0 if fill_value is None else float(fill_value), 0.0, antialias, None, need_mask=False)
    return None if res is None else res[0]


def _resize_args(aa: tuple[float, float, float, float], interpolation: str, fill: str, fill_value: float,
                 out_fill: float, antialias: bool, out: np.ndarray | None) -> tuple:
    """``(scale, offset, keywords)`` of the separable resize for an axis-aligned matrix's ``(sy, ty, sx, tx)``:
    with ``antialias`` an axis that shrinks takes the area filter."""
    sy, ty, sx, tx = aa
    kind = _KIND[interpolation]
    ky = _resize.AREA if antialias and kind != _resize.NEAREST and abs(sy) > 1.0 else kind
    kx = _resize.AREA if antialias and kind != _resize.NEAREST and abs(sx) > 1.0 else kind
    return (sy, sx), (ty, tx), dict(kind=(ky, kx), mode=FILL_MODES[fill], fill_value=fill_value, out_fill=out_fill,
                                    out=out)


def _unmasked(data: np.ndarray, matrix: np.ndarray, aa: tuple[float, float, float, float] | None,
              out_shape: tuple[int, int], interpolation: str, fill: str, fill_value: float, out_fill: float,
              antialias: bool, out: np.ndarray | None, need_mask: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Resample ``data`` as all valid, float NaN pixels not looked for (no renormalising): the separable
    resize for an axis-aligned matrix (``aa``), else the warp kernel.

    Returns ``(data, mask)``, the mask ``(rows, cols)`` or None when every output pixel is valid; or None
    when an output pixel read a NaN pixel (its kernel tests the rows it writes; the caller resamples with
    the mask). With ``need_mask`` False (the caller keeps the data alone) the separable resize may skip
    building a mask: the mask returned is then meaningless.
    """
    if aa is not None:
        scale, offset, kw = _resize_args(aa, interpolation, fill, fill_value, out_fill, antialias, out)
        res, mask, nan = _resize.resize_separable(data, None, scale, offset, out_shape, return_nan=True,
                                                  need_mask=need_mask, **kw)
        return None if nan else (res, None if mask is None else mask[0])
    res, mask, every, nan = warp_affine(data, None, matrix, out_shape, interpolation, fill, fill_value, out_fill,
                                        out=out, return_all_valid=True, return_nan=True)
    if nan:
        return None
    return res, None if every else mask[0]


def copy(
    raster: GeoRaster,
    plan: tuple[int, int, int, int, int, int],
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    out: np.ndarray | None = None,
) -> GeoRaster:
    """The exact strided copy :func:`warp` makes of ``raster`` when ``matrix`` has a strided plan.

    Parameters
    ----------
    raster : GeoRaster
        The input.
    plan : (r0, ri, rj, c0, ci, cj)
        :func:`geoaug.geometry.strided_plan` of ``matrix`` for the raster's and
        the output's shapes (not checked here).
    matrix : ndarray (3, 3)
        Output pixel -> input pixel, pixel-corner origin: it moves the
        georeferencing (:meth:`GeoRaster.warped`).
    out_shape : (rows, cols)
        Output size in pixels.
    out : ndarray (bands, rows, cols), optional
        Destination for the data, as for :func:`warp`.

    Returns
    -------
    GeoRaster
    """
    h, w = int(out_shape[0]), int(out_shape[1])
    if raster.lazy_mask and not raster.gcps and raster.rpcs is None:
        # an exact copy moves NaN with the values: no mask to find (GCPs/RPCs move through warped, below)
        data, _ = index_copy(raster.data, None, plan, (h, w), out=out)
        return raster.evolve_values(data, geometry.output_transform(raster.transform, matrix))
    rmask = raster.mask
    data, mask = index_copy(raster.data, _kernel_mask(rmask), plan, (h, w), out=out)
    return raster.warped(data, _raster_mask(mask, rmask, raster.count), matrix)


def _kernel_mask(rmask: np.ndarray) -> np.ndarray | None:
    """A raster's mask as the kernels take it: None when all valid, else ``(planes, rows, cols)``."""
    if is_all_true(rmask):
        return None
    return rmask if rmask.ndim == 3 else rmask[None]


def _raster_mask(mask: np.ndarray, rmask: np.ndarray, count: int) -> np.ndarray:
    """A kernel's ``(planes, rows, cols)`` output mask in the layout of the input's mask ``rmask``."""
    if rmask.ndim == 2:
        return mask[0]
    if mask.shape[0] == 1 and count > 1:
        return np.broadcast_to(mask, (count, *mask.shape[1:]))
    return mask
