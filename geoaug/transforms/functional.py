"""Deterministic raster operations that the transforms apply (no randomness here)."""

from __future__ import annotations

import math

import numpy as np

from .. import geometry
from ..errors import ParameterError
from ..kernels import FILL_MODES, INTERPOLATIONS, index_copy, warp_affine
from ..raster import GeoRaster

__all__ = ["check_fill", "check_interpolation", "warp"]


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


def warp(
    raster: GeoRaster,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float | None = None,
    renormalize: bool = False,
) -> GeoRaster:
    """Resample ``raster`` through an output->input pixel matrix.

    Exact flips, quarter turns, transposes and integer crops (and their
    compositions) take the strided fast path; everything else goes through
    the numba warp kernel. The output transform is
    ``raster.transform @ Affine(matrix)`` (:func:`geoaug.geometry.output_transform`).

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

    Returns
    -------
    GeoRaster
    """
    check_interpolation(interpolation)
    check_fill(fill)
    h, w = int(out_shape[0]), int(out_shape[1])
    if h <= 0 or w <= 0:
        raise ParameterError(f"output shape must be positive, got {(h, w)}")
    mask3 = raster.mask if raster.mask.ndim == 3 else raster.mask[None]
    plan = geometry.strided_plan(matrix, (raster.height, raster.width), (h, w))
    if plan is not None:
        data, mask = index_copy(raster.data, mask3, plan, (h, w))
    else:
        nd = raster.nodata
        out_fill = 0.0 if nd is None or (math.isnan(nd) and raster.dtype.kind != "f") else nd
        data, mask = warp_affine(
            raster.data, mask3, matrix, (h, w), interpolation=interpolation, fill=fill,
            fill_value=0.0 if fill_value is None else float(fill_value), out_fill=out_fill,
            renormalize=renormalize,
        )
    if raster.mask.ndim == 2:
        mask = mask[0]
    return raster.warped(data, mask, matrix)
