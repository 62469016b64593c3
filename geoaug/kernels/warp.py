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

from . import threads

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
def _store(orow, j, acc, is_int, lo, hi):  # pragma: no cover - numba
    if is_int:
        r = np.rint(acc)
        if r < lo:
            r = lo
        elif r > hi:
            r = hi
        orow[j] = r
    else:
        orow[j] = acc


@nb.njit(cache=True, parallel=True, nogil=True)
def _warp(src, mask, all_valid, m, out_h, out_w, interp, mode, fill_value, out_fill, renorm, wproto, lo, hi,
          is_int, a):  # pragma: no cover - numba
    nbands, in_h, in_w = src.shape
    nm = mask.shape[0]
    K = 1 if interp == 0 else (2 if interp == 1 else 4)
    before = 1 if interp == 2 else 0  # taps before the base index
    after = K - 1 - before  # taps after it
    half = 0.0 if interp == 0 else 0.5  # nearest: pixel containing the point; else centre-based
    dst = np.empty((nbands, out_h, out_w), dtype=src.dtype)
    dmask = np.empty((nm, out_h, out_w), dtype=np.bool_)
    for i in nb.prange(out_h):
        # per output pixel: base tap (x0, y0) and weights, or generic taps near the border
        bx = np.empty(out_w, dtype=np.int64)
        by = np.empty(out_w, dtype=np.int64)
        wx = np.empty((out_w, K), dtype=wproto.dtype)
        wy = np.empty((out_w, K), dtype=wproto.dtype)
        gx = np.empty((out_w, K), dtype=np.int64)
        gy = np.empty((out_w, K), dtype=np.int64)
        inner = np.empty(out_w, dtype=np.bool_)
        status = np.empty(out_w, dtype=np.uint8)  # 0 invalid, 1 fast interior, 2 generic
        norm = np.empty(out_w, dtype=wproto.dtype)
        yc = i + 0.5
        x = m[0] * 0.5 + m[1] * yc + m[2] - half
        y = m[3] * 0.5 + m[4] * yc + m[5] - half
        for j in range(out_w):
            xs = x + m[0] * j
            ys = y + m[3] * j
            if not (np.isfinite(xs) and np.isfinite(ys)):
                inner[j] = False
                gx[j, :] = -1
                gy[j, :] = -1
                wx[j, :] = 0.0
                wy[j, :] = 0.0
                continue
            x0 = int(np.floor(xs))
            y0 = int(np.floor(ys))
            fx = xs - x0
            fy = ys - y0
            bx[j] = x0
            by[j] = y0
            if interp == 0:
                wx[j, 0] = 1.0
                wy[j, 0] = 1.0
            elif interp == 1:
                wx[j, 0] = 1.0 - fx
                wx[j, 1] = fx
                wy[j, 0] = 1.0 - fy
                wy[j, 1] = fy
            else:
                for t in range(4):
                    wx[j, t] = _cubic(fx - (t - 1), a)
                    wy[j, t] = _cubic(fy - (t - 1), a)
            inner[j] = x0 - before >= 0 and x0 + after < in_w and y0 - before >= 0 and y0 + after < in_h
            if not inner[j]:
                for t in range(K):
                    gx[j, t] = _map_index(x0 - before + t, in_w, mode)
                    gy[j, t] = _map_index(y0 - before + t, in_h, mode)
        for pm in range(nm):
            mk = mask[pm]
            for j in range(out_w):
                if inner[j] and all_valid:
                    status[j] = 1
                    dmask[pm, i, j] = True
                    continue
                good = True
                every = True  # every tap (whatever its weight) valid and inside
                wsum = 0.0
                for ty in range(K):
                    wyv = wy[j, ty]
                    yy = by[j] - before + ty if inner[j] else gy[j, ty]
                    for tx in range(K):
                        w = wyv * wx[j, tx]
                        xx = bx[j] - before + tx if inner[j] else gx[j, tx]
                        if yy < 0 or xx < 0:
                            every = False
                            if w != 0.0:
                                if mode == _CONSTANT:
                                    wsum += w
                                else:
                                    good = False
                        elif mk[yy, xx]:
                            wsum += w
                        else:
                            every = False
                            if w != 0.0:
                                good = False
                if renorm:
                    good = abs(wsum) > 1e-6
                    norm[j] = 1.0 / wsum if good else 1.0
                dmask[pm, i, j] = good
                if not good:
                    status[j] = 0
                elif inner[j] and every:
                    status[j] = 1
                else:
                    status[j] = 2
            b0 = 0 if nm == 1 else pm
            b1 = nbands if nm == 1 else pm + 1
            if interp == 1 and b1 - b0 > 1:
                # bilinear, several bands: coordinates and weights loaded once per pixel
                for j in range(out_w):
                    if status[j] != 1:
                        continue
                    x0 = bx[j]
                    y0 = by[j]
                    fx = wx[j, 1]
                    fy = wy[j, 1]
                    for b in range(b0, b1):
                        p00 = wproto[0] + src[b, y0, x0]
                        p01 = wproto[0] + src[b, y0, x0 + 1]
                        p10 = wproto[0] + src[b, y0 + 1, x0]
                        p11 = wproto[0] + src[b, y0 + 1, x0 + 1]
                        top = p00 + fx * (p01 - p00)
                        bot = p10 + fx * (p11 - p10)
                        _store(dst[b, i], j, top + fy * (bot - top), is_int, lo, hi)
            for b in range(b0, b1):
                plane = src[b]
                orow = dst[b, i]
                for j in range(out_w):
                    st = status[j]
                    if st == 1 and interp == 1 and b1 - b0 > 1:
                        continue
                    if st == 1:
                        x0 = bx[j]
                        y0 = by[j]
                        if interp == 0:
                            orow[j] = plane[y0, x0]
                            continue
                        if interp == 1:
                            fx = wx[j, 1]
                            fy = wy[j, 1]
                            p00 = wproto[0] + plane[y0, x0]
                            p01 = wproto[0] + plane[y0, x0 + 1]
                            p10 = wproto[0] + plane[y0 + 1, x0]
                            p11 = wproto[0] + plane[y0 + 1, x0 + 1]
                            top = p00 + fx * (p01 - p00)
                            bot = p10 + fx * (p11 - p10)
                            acc = top + fy * (bot - top)
                        else:
                            acc = wproto[0]
                            for ty in range(4):
                                row = plane[y0 - 1 + ty]
                                racc = (wx[j, 0] * row[x0 - 1] + wx[j, 1] * row[x0]
                                        + wx[j, 2] * row[x0 + 1] + wx[j, 3] * row[x0 + 2])
                                acc += wy[j, ty] * racc
                        _store(orow, j, acc, is_int, lo, hi)
                    elif st == 0:
                        orow[j] = out_fill
                    else:
                        acc = wproto[0]
                        for ty in range(K):
                            wyv = wy[j, ty]
                            yy = by[j] - before + ty if inner[j] else gy[j, ty]
                            for tx in range(K):
                                w = wyv * wx[j, tx]
                                if w == 0.0:
                                    continue
                                xx = bx[j] - before + tx if inner[j] else gx[j, tx]
                                if yy < 0 or xx < 0:
                                    acc += w * fill_value
                                elif mk[yy, xx]:
                                    acc += w * plane[yy, xx]
                        if renorm:
                            acc *= norm[j]
                        _store(orow, j, acc, is_int, lo, hi)
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
        Output size in pixels.
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling kernel (cubic: Keys, a = -0.75).
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
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    src = np.ascontiguousarray(src)
    with threads.launch_lock:
        return _warp(
            src, mask, bool(mask.all()), m, int(out_shape[0]), int(out_shape[1]),
            INTERPOLATIONS[interpolation], FILL_MODES[fill], float(fill_value), dt.type(out_fill),
            bool(renormalize), np.zeros(1, dtype=work), lo, hi, is_int, CUBIC_A,
        )
