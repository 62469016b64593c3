"""The affine warp kernel: any band count, nodata-aware, nearest / bilinear / cubic.

Conventions
-----------
* ``m`` holds the first two rows of the 3x3 matrix that maps **output** pixel
  coordinates to **input** pixel coordinates, pixel-corner origin (GDAL/rasterio):
  the centre of output pixel ``(i, j)`` is ``(j + 0.5, i + 0.5)``.
* nearest copies the input pixel that contains the source point
  (``floor(x), floor(y)``); bilinear and cubic interpolate between input pixel
  centres. Cubic is the Keys convolution kernel with ``a = -0.75`` (OpenCV's
  ``INTER_CUBIC``, so OpenCV/albumentations outputs can be matched).
* The source coordinate is computed once per output pixel; the band loop is
  inside, reusing indexes and weights.
* Validity: an output pixel is valid only if every input tap with non-zero
  weight is valid; with ``renormalize`` it is valid when any tap is, and the
  value is the weighted mean over the valid taps. Taps outside the input
  follow the fill mode: ``nodata`` makes them invalid; ``constant`` gives them
  the value ``fill_value`` (valid); ``edge``/``reflect``/``mirror``/``wrap``
  map them back inside.
* Integers are computed in float32 (int32 in float64), rounded half to even
  and saturated to the dtype's range; float32 in float32; float64 in float64.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["CUBIC_A", "FILL_MODES", "INTERPOLATIONS", "warp_affine"]

#: interpolation name -> kernel code
INTERPOLATIONS = {"nearest": 0, "bilinear": 1, "cubic": 2}
#: fill mode name -> kernel code. reflect: ``dcba|abcd|dcba`` (scipy "reflect",
#: OpenCV BORDER_REFLECT); mirror: ``dcb|abcd|cba`` (scipy "mirror", OpenCV BORDER_REFLECT_101).
FILL_MODES = {"nodata": 0, "constant": 1, "edge": 2, "reflect": 3, "mirror": 4, "wrap": 5}
#: the cubic convolution parameter (OpenCV's value)
CUBIC_A = -0.75

_NODATA, _CONSTANT, _EDGE, _REFLECT, _MIRROR, _WRAP = 0, 1, 2, 3, 4, 5


@nb.njit(cache=True, inline="always")
def _map_index(k, n, mode):  # pragma: no cover - numba
    if k >= 0 and k < n:
        return k
    if mode == _EDGE:
        return 0 if k < 0 else n - 1
    if mode == _REFLECT:
        p = 2 * n
        k = k % p
        return k if k < n else p - 1 - k
    if mode == _MIRROR:
        if n == 1:
            return 0
        p = 2 * n - 2
        k = k % p
        return k if k < n else p - k
    if mode == _WRAP:
        return k % n
    return -1


@nb.njit(cache=True, inline="always")
def _cubic(t, a):  # pragma: no cover - numba
    t = abs(t)
    if t <= 1.0:
        return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    if t < 2.0:
        return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
    return 0.0


@nb.njit(cache=True, inline="always")
def _taps(c, n, interp, mode, idx, w, a):  # pragma: no cover - numba
    """Fill ``idx``/``w`` with the K taps of source coordinate ``c`` (corner origin)."""
    if interp == 0:
        k = int(np.floor(c))
        idx[0] = _map_index(k, n, mode)
        w[0] = 1.0
        return
    s = c - 0.5
    k0 = int(np.floor(s))
    f = s - k0
    if interp == 1:
        idx[0] = _map_index(k0, n, mode)
        idx[1] = _map_index(k0 + 1, n, mode)
        w[0] = 1.0 - f
        w[1] = f
        return
    for t in range(4):
        idx[t] = _map_index(k0 - 1 + t, n, mode)
        w[t] = _cubic(f - (t - 1), a)


@nb.njit(cache=True, parallel=True, nogil=True)
def _warp(src, mask, m, out_h, out_w, interp, mode, fill_value, out_fill, renorm, wproto, lo, hi, is_int, a):
    # pragma: no cover - numba
    nbands, in_h, in_w = src.shape
    nm = mask.shape[0]
    K = 1 if interp == 0 else (2 if interp == 1 else 4)
    dst = np.empty((nbands, out_h, out_w), dtype=src.dtype)
    dmask = np.empty((nm, out_h, out_w), dtype=np.bool_)
    for i in nb.prange(out_h):
        xi = np.empty((out_w, K), dtype=np.int64)
        yi = np.empty((out_w, K), dtype=np.int64)
        wx = np.empty((out_w, K), dtype=wproto.dtype)
        wy = np.empty((out_w, K), dtype=wproto.dtype)
        norm = np.empty(out_w, dtype=wproto.dtype)
        ok = np.empty(out_w, dtype=np.bool_)
        yc = i + 0.5
        for j in range(out_w):
            xc = j + 0.5
            x = m[0] * xc + m[1] * yc + m[2]
            y = m[3] * xc + m[4] * yc + m[5]
            _taps(x, in_w, interp, mode, xi[j], wx[j], a)
            _taps(y, in_h, interp, mode, yi[j], wy[j], a)
        for pm in range(nm):
            mk = mask[pm]
            # validity and normalisation of every output pixel of this row
            for j in range(out_w):
                good = True
                wsum = 0.0
                for ty in range(K):
                    wyv = wy[j, ty]
                    if wyv == 0.0:
                        continue
                    yy = yi[j, ty]
                    for tx in range(K):
                        wxv = wx[j, tx]
                        if wxv == 0.0:
                            continue
                        xx = xi[j, tx]
                        if yy < 0 or xx < 0:
                            if mode == _CONSTANT:
                                wsum += wyv * wxv
                            else:
                                good = False
                        elif mk[yy, xx]:
                            wsum += wyv * wxv
                        else:
                            good = False
                if renorm:
                    good = abs(wsum) > 1e-6
                    norm[j] = 1.0 / wsum if good else 1.0
                else:
                    norm[j] = 1.0
                ok[j] = good
                dmask[pm, i, j] = good
            b0 = 0 if nm == 1 else pm
            b1 = nbands if nm == 1 else pm + 1
            for b in range(b0, b1):
                plane = src[b]
                orow = dst[b, i]
                for j in range(out_w):
                    if not ok[j]:
                        orow[j] = out_fill
                        continue
                    acc = wproto[0]
                    for ty in range(K):
                        wyv = wy[j, ty]
                        if wyv == 0.0:
                            continue
                        yy = yi[j, ty]
                        for tx in range(K):
                            wxv = wx[j, tx]
                            if wxv == 0.0:
                                continue
                            xx = xi[j, tx]
                            if yy < 0 or xx < 0:
                                acc += wyv * wxv * fill_value
                            elif mk[yy, xx]:
                                acc += wyv * wxv * plane[yy, xx]
                    if renorm:
                        acc *= norm[j]
                    if is_int:
                        r = np.rint(acc)
                        if r < lo:
                            r = lo
                        elif r > hi:
                            r = hi
                        orow[j] = r
                    else:
                        orow[j] = acc
    return dst, dmask


def warp_affine(
    src: np.ndarray,
    mask: np.ndarray,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float = 0.0,
    out_fill: float = 0.0,
    renormalize: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``(bands, rows, cols)`` through an output->input affine matrix.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols)
        ``planes`` is 1 (shared by all bands) or ``bands``.
    matrix : ndarray (3, 3) or (2, 3)
        Output pixel coordinates -> input pixel coordinates, pixel-corner origin.
    out_shape : (rows, cols)
    interpolation : {"nearest", "bilinear", "cubic"}
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What lies outside the input (see module docstring).
    fill_value : float
        The outside value for ``fill="constant"``.
    out_fill : float
        The value stored under invalid output pixels (the raster's nodata).
    renormalize : bool
        Average over valid taps instead of invalidating the output pixel.

    Returns
    -------
    (ndarray, ndarray)
        Data ``(bands, out_rows, out_cols)`` of ``src.dtype`` and mask
        ``(planes, out_rows, out_cols)``.
    """
    dt = src.dtype
    work = np.float64 if dt in (np.float64, np.int32) else np.float32
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi, is_int = float(info.min), float(info.max), True
    else:
        lo, hi, is_int = 0.0, 0.0, False
    m = np.ascontiguousarray(np.asarray(matrix, dtype=np.float64)[:2].ravel())
    return _warp(
        src, mask.astype(np.bool_, copy=False), m, int(out_shape[0]), int(out_shape[1]),
        INTERPOLATIONS[interpolation], FILL_MODES[fill], float(fill_value), dt.type(out_fill),
        bool(renormalize), np.zeros(1, dtype=work), lo, hi, is_int, CUBIC_A,
    )
