"""Write computed band values back into a raster's dtype: round, saturate, keep NaN out, avoid nodata.

One pass per band, parallel over rows, used by the spectral transforms for
bands without invalid pixels (the common case).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from . import threads

__all__ = ["store_band"]


@nb.njit(cache=True, parallel=True, nogil=True)
def _store(new, old, valid, out, lo, hi, is_int, has_nodata, nodata, safe):  # pragma: no cover - numba
    rows, cols = new.shape
    for i in nb.prange(rows):
        for j in range(cols):
            if not valid[i, j]:
                continue  # invalid pixels keep their value
            v = new[i, j]
            if np.isnan(v):
                out[i, j] = old[i, j]
                continue
            if is_int:
                v = np.rint(v)
            if v < lo:
                v = lo
            elif v > hi:
                v = hi
            out[i, j] = v
            if has_nodata and out[i, j] == nodata:
                out[i, j] = safe


def store_band(new: np.ndarray, old: np.ndarray, valid: np.ndarray, out: np.ndarray, nodata: float | None,
               safe: float) -> None:
    """``out = new`` on valid pixels, rounded half to even (integers) and saturated to ``out``'s dtype.

    Parameters
    ----------
    new : ndarray (rows, cols), float32 or float64
        Computed values.
    old : ndarray (rows, cols)
        The previous values: kept where ``new`` is NaN.
    valid : ndarray of bool (rows, cols)
        Pixels to write; the others are left as they are in ``out``.
    out : ndarray (rows, cols)
        Destination, the raster's dtype, holding ``old`` (a copy, or ``old`` itself).
    nodata : float or None
        Values landing on it are replaced by ``safe``.
    safe : float
        The replacement (:func:`geoaug.raster.nodata_safe_value`).
    """
    dt = out.dtype
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi, is_int = float(info.min), float(info.max), True
    else:
        info = np.finfo(dt)
        lo, hi, is_int = float(info.min), float(info.max), False
    has = nodata is not None and not np.isnan(nodata)
    nd, sf = dt.type(nodata if has else 0), dt.type(safe if has else 0)
    with threads.launch_lock:
        _store(new, old, np.ascontiguousarray(valid), out, lo, hi, is_int, has, nd, sf)
