"""Georeferencing that is not a geotransform: ground control points and RPCs, moved by a draw.

A raster georeferenced by GCPs (scanned maps, VRTs over raw images) or by
rational polynomial coefficients (satellite-geometry images) has no
geotransform: its pixel grid is tied to the ground by points or by a sensor
model. A draw's matrix ``M`` maps output pixel coordinates to input pixel
coordinates (pixel-corner origin, :mod:`geoaug.geometry`), so:

* a GCP at input pixel ``(col, row)`` sits at output pixel
  ``inverse(M) @ (col, row)``; its ground coordinates don't change. Any
  affine draw keeps GCPs exact.
* an RPC model maps the ground to a normalised ``(line, sample)``; an
  axis-aligned draw (flips, quarter turns, transposes, crops, scaling,
  translation) changes only the offsets and scales (and swaps line and sample
  for transposing maps), which keeps the model exact. A rotation or shear
  cannot be expressed in an RPC model: :func:`move_rpcs` refuses it.

RPC line/sample coordinates put the centre of the first pixel at 0 (GDAL's
RPC transformer adds 0.5 to reach its pixel-corner convention); the
conversion is done here and tested against GDAL's transformer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["RPC_CENTRE", "move_gcps", "move_rpcs"]

#: RPC line/sample of the centre of the first pixel, in pixel-corner coordinates
RPC_CENTRE = 0.5


def move_gcps(gcps: tuple[Any, ...], matrix: np.ndarray) -> tuple[Any, ...]:
    """Ground control points on the output grid of a draw.

    Parameters
    ----------
    gcps : tuple of rasterio.control.GroundControlPoint
        ``col``/``row`` in input pixel coordinates (pixel-corner origin).
    matrix : ndarray (3, 3)
        Output pixel -> input pixel.

    Returns
    -------
    tuple of GroundControlPoint
        Same ground coordinates, ids and info; ``col``/``row`` on the output grid.
    """
    from rasterio.control import GroundControlPoint

    inv = np.linalg.inv(np.asarray(matrix, dtype=float))
    out = []
    for g in gcps:
        c, r, _ = inv @ np.array([g.col, g.row, 1.0])
        out.append(GroundControlPoint(row=float(r), col=float(c), x=g.x, y=g.y, z=g.z, id=g.id, info=g.info))
    return tuple(out)


def move_rpcs(rpcs: Any, matrix: np.ndarray) -> Any:
    """An RPC model for the output grid of an axis-aligned draw.

    Parameters
    ----------
    rpcs : rasterio.rpc.RPC
        The input's model.
    matrix : ndarray (3, 3)
        Output pixel -> input pixel; its linear part must be diagonal or
        anti-diagonal (flips, quarter turns, transposes, crops, scaling).

    Returns
    -------
    rasterio.rpc.RPC

    Raises
    ------
    ParameterError
        For rotations and shears, which an RPC model cannot express.
    """
    from rasterio.rpc import RPC

    m = np.asarray(matrix, dtype=float)
    a, b, c = m[0]
    d, e, f = m[1]
    d0 = RPC_CENTRE
    swap = abs(a) < 1e-12 and abs(e) < 1e-12 and abs(b) > 1e-12 and abs(d) > 1e-12
    if not swap and not (abs(b) < 1e-12 and abs(d) < 1e-12 and abs(a) > 1e-12 and abs(e) > 1e-12):
        raise ParameterError(
            "an RPC-georeferenced raster can only be flipped, turned by quarter turns, cropped, scaled or "
            "shifted (an RPC model cannot express a rotation or shear); orthorectify it first "
            "(gdalwarp -rpc) or leave rotations out of the pipeline"
        )
    d_ = rpcs.to_dict()
    # input corner coordinate x_in = (sample_in + d0); output x_out relates through the matrix
    if not swap:
        # x_in = a * x_out + c  ->  sample_out = (sample_in + d0 - c) / a - d0
        samp_scale, samp_off = d_["samp_scale"] / a, (d_["samp_off"] + d0 - c) / a - d0
        line_scale, line_off = d_["line_scale"] / e, (d_["line_off"] + d0 - f) / e - d0
        num_s, den_s = d_["samp_num_coeff"], d_["samp_den_coeff"]
        num_l, den_l = d_["line_num_coeff"], d_["line_den_coeff"]
    else:
        # x_in = b * y_out + c: the output line comes from the input sample; y_in = d * x_out + f
        line_scale, line_off = d_["samp_scale"] / b, (d_["samp_off"] + d0 - c) / b - d0
        samp_scale, samp_off = d_["line_scale"] / d, (d_["line_off"] + d0 - f) / d - d0
        num_l, den_l = d_["samp_num_coeff"], d_["samp_den_coeff"]
        num_s, den_s = d_["line_num_coeff"], d_["line_den_coeff"]
    return RPC(
        height_off=d_["height_off"], height_scale=d_["height_scale"],
        lat_off=d_["lat_off"], lat_scale=d_["lat_scale"],
        long_off=d_["long_off"], long_scale=d_["long_scale"],
        line_off=line_off, line_scale=line_scale, samp_off=samp_off, samp_scale=samp_scale,
        line_num_coeff=list(num_l), line_den_coeff=list(den_l),
        samp_num_coeff=list(num_s), samp_den_coeff=list(den_s),
        err_bias=d_.get("err_bias"), err_rand=d_.get("err_rand"),
    )
