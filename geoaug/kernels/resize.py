"""Separable resampling for axis-aligned matrices (scale + translate, any signs): Resize and friends.

When the output->input matrix has no rotation or shear, output column ``j``
reads input columns that depend on ``j`` only, and output row ``i`` input rows
that depend on ``i`` only. So the 2-D resampling is two 1-D passes with taps
computed once per output column and once per output row: a horizontal pass
into a small float scratch (only the input rows the output needs), then a
vertical pass whose inner loop runs over a contiguous output row.

Conventions (the same as :mod:`geoaug.kernels.warp`)
----------------------------------------------------
* Pixel-corner origin: output pixel ``o`` of an axis has its centre at
  ``s * (o + 0.5) + t`` in input pixel coordinates.
* ``nearest``: the input pixel containing that point. ``bilinear`` and
  ``cubic`` (Keys, ``a = -0.75``) interpolate between input pixel centres.
* ``area`` (used for an axis that shrinks, ``|s| > 1``, when asked for): the
  mean of the input pixels weighted by how much of each lies inside the output
  pixel's footprint ``[s*o + t, s*(o + 1) + t]``: a box average for integer
  factors, OpenCV's ``INTER_AREA``.
* Validity: an output pixel is valid only if every tap with non-zero weight is
  valid (taps with zero weight are dropped when the taps are built). Taps
  outside the input follow the fill mode: ``nodata`` makes the output pixel
  invalid, ``constant`` reads ``fill_value``, the others map back inside.
  When the input mask is all valid the mask is never read.
* Integers are computed in float32 (int32 in float64), rounded half to even
  and saturated; float32 in float32; float64 in float64.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from . import threads
from .borders import MIRROR as _MIRROR
from .borders import NODATA as _NODATA
from .borders import REFLECT as _REFLECT
from .borders import WRAP as _WRAP
from .borders import map_index
from .cubic import keys
from .flip import true_mask

__all__ = ["AREA", "CUBIC", "LINEAR", "NEAREST", "resize_separable"]

#: filter codes of :func:`resize_separable`
NEAREST, LINEAR, CUBIC, AREA = 0, 1, 2, 3
#: below this many output values (bands x rows x cols) the kernel runs on one thread
SERIAL_BELOW = 1 << 18


def work_value(v, z):  # pragma: no cover - typing stub, replaced by the overload
    raise NotImplementedError


@overload(work_value, inline="always")
def _ol_work_value(v, z):  # pragma: no cover - numba
    # convert a pixel to the work dtype (float32 / float64) without a float64 detour
    if z == types.float32:
        return lambda v, z: np.float32(v)
    return lambda v, z: np.float64(v)


@nb.njit(cache=True, nogil=True)
def _taps(n_out, s, t, n_in, kind, mode, a, kmax, idx, w, cnt, ok, inside, cnt_max):  # pragma: no cover - numba
    """Fill the taps of one axis: ``idx``/``w`` (n_out, kmax), ``cnt`` taps used, ``ok`` False = invalid.

    Unused slots up to ``kmax`` repeat the first tap with weight 0, so the data pass may run a fixed
    number of taps; ``inside[0]`` tells whether every tap is a real pixel (no outside/constant tap).
    """
    tk = np.empty(kmax + 4, dtype=np.int64)
    tw = np.empty(kmax + 4, dtype=np.float64)
    inside[0] = True
    most = 0
    for o in range(n_out):
        x = s * (o + 0.5) + t
        n = 0
        ok[o] = True
        if not np.isfinite(x):
            cnt[o] = 0
            ok[o] = False
            continue
        if kind == NEAREST:
            tk[0] = int(np.floor(x))
            tw[0] = 1.0
            n = 1
        elif kind == LINEAR:
            xf = x - 0.5
            x0 = np.floor(xf)
            f = xf - x0
            tk[0] = int(x0)
            tw[0] = 1.0 - f
            tk[1] = int(x0) + 1
            tw[1] = f
            n = 2
        elif kind == CUBIC:
            xf = x - 0.5
            x0 = np.floor(xf)
            f = xf - x0
            for q in range(4):
                tk[q] = int(x0) - 1 + q
                tw[q] = keys(f - (q - 1), a)
            n = 4
        else:
            p0 = s * o + t
            p1 = s * (o + 1) + t
            lo = min(p0, p1)
            hi = max(p0, p1)
            span = hi - lo
            k0 = int(np.floor(lo))
            k1 = int(np.ceil(hi))
            for k in range(k0, k1):
                ov = min(hi, k + 1.0) - max(lo, float(k))
                if ov > 1e-9 * span and n < kmax + 4:
                    tk[n] = k
                    tw[n] = ov / span
                    n += 1
        m = 0
        for q in range(n):
            if tw[q] == 0.0:
                continue
            k = map_index(tk[q], n_in, mode)
            if k < 0 and mode == _NODATA:
                ok[o] = False
            idx[o, m] = k
            w[o, m] = tw[q]
            m += 1
            if k < 0:
                inside[0] = False
        cnt[o] = m
        most = max(most, m)
        if m == 0:
            inside[0] = False
    for o in range(n_out):  # pad every output up to the largest tap count with zero-weight repeats
        for q in range(cnt[o], most):
            idx[o, q] = idx[o, 0] if cnt[o] > 0 else -1
            w[o, q] = 0.0
    inside[1] = most > 0 and inside[0]
    cnt_max[0] = most


@nb.njit(cache=True, inline="always")
def _row_span(iy, ny, i0, i1, n):  # pragma: no cover - numba
    # the input rows (first, last) that output rows i0..i1 read: the strip the horizontal pass fills
    yl = n
    yh = -1
    for i in range(i0, i1):
        for q in range(ny[i]):
            y = iy[i, q]
            if y >= 0:
                yl = min(yl, y)
                yh = max(yh, y)
    return yl, yh


@nb.njit(cache=True, inline="always")
def _data_rows(src, b, i0, i1, iy, wy, ny, ix, wx, nx, kx, tmp, dst, fill, is_int, lo, hi):  # pragma: no cover
    out_w = dst.shape[2]
    z = lo - lo
    yl, yh = _row_span(iy, ny, i0, i1, src.shape[1])
    plane = src[b]
    # horizontal pass: the input rows these output rows need
    for y in range(yl, yh + 1):
        srow = plane[y]
        trow = tmp[y - yl]
        if kx == 2:  # every column has two real taps (bilinear inside): no branches, fixed count
            for j in range(out_w):
                trow[j] = (wx[j, 0] * work_value(srow[ix[j, 0]], z)
                           + wx[j, 1] * work_value(srow[ix[j, 1]], z))
        elif kx > 0:  # a fixed number of real taps
            for j in range(out_w):
                acc = z
                for q in range(kx):
                    acc += wx[j, q] * work_value(srow[ix[j, q]], z)
                trow[j] = acc
        else:
            for j in range(out_w):
                acc = z
                for q in range(nx[j]):
                    k = ix[j, q]
                    if k >= 0:
                        acc += wx[j, q] * work_value(srow[k], z)
                    else:
                        acc += wx[j, q] * fill
                trow[j] = acc
    # vertical pass: contiguous runs over the output row
    acc_row = tmp[tmp.shape[0] - 1]
    for i in range(i0, i1):
        orow = dst[b, i]
        if ny[i] == 2 and iy[i, 0] >= 0 and iy[i, 1] >= 0:
            # two rows (bilinear): one fused pass, weights and store together
            t0 = tmp[iy[i, 0] - yl]
            t1 = tmp[iy[i, 1] - yl]
            w0 = wy[i, 0]
            w1 = wy[i, 1]
            if is_int:
                for j in range(out_w):
                    orow[j] = max(lo, min(hi, np.rint(w0 * t0[j] + w1 * t1[j])))
            else:
                for j in range(out_w):
                    orow[j] = w0 * t0[j] + w1 * t1[j]
            continue
        for j in range(out_w):
            acc_row[j] = z
        for q in range(ny[i]):
            y = iy[i, q]
            wv = wy[i, q]
            if y >= 0:
                trow = tmp[y - yl]
                for j in range(out_w):
                    acc_row[j] += wv * trow[j]
            else:
                for j in range(out_w):
                    acc_row[j] += wv * fill
        if is_int:
            for j in range(out_w):
                r = np.rint(acc_row[j])
                r = max(lo, min(hi, r))
                orow[j] = r
        else:
            for j in range(out_w):
                orow[j] = acc_row[j]


@nb.njit(cache=True, inline="always")
def _mask_rows(mask, p, i0, i1, iy, ny, ix, nx, okx, oky, tm, dmask):  # pragma: no cover - numba
    out_w = dmask.shape[2]
    yl, yh = _row_span(iy, ny, i0, i1, mask.shape[1])
    mk = mask[p]
    for y in range(yl, yh + 1):
        mrow = mk[y]
        trow = tm[y - yl]
        for j in range(out_w):
            v = okx[j]
            for q in range(nx[j]):
                k = ix[j, q]
                if k >= 0 and not mrow[k]:
                    v = False
            trow[j] = v
    for i in range(i0, i1):
        orow = dmask[p, i]
        for j in range(out_w):
            orow[j] = oky[i] and okx[j]
        if not oky[i]:
            continue
        for q in range(ny[i]):
            y = iy[i, q]
            if y >= 0:
                trow = tm[y - yl]
                for j in range(out_w):
                    orow[j] = orow[j] and trow[j]


@nb.njit(cache=True, inline="always")
def _chunk(c, nstrips, nbands, src, mask, iy, wy, ny, ix, wx, nx, kx, okx, oky, tmp, tm, dst, dmask, fill,
           is_int, lo, hi):  # pragma: no cover - numba
    unit = c // nstrips
    strip = c - unit * nstrips
    out_h = dst.shape[1]
    i0 = out_h * strip // nstrips
    i1 = out_h * (strip + 1) // nstrips
    if unit < nbands:
        _data_rows(src, unit, i0, i1, iy, wy, ny, ix, wx, nx, kx, tmp[c], dst, fill, is_int, lo, hi)
    else:
        _mask_rows(mask, unit - nbands, i0, i1, iy, ny, ix, nx, okx, oky, tm[c - nbands * nstrips], dmask)


@nb.njit(cache=True, parallel=True, nogil=True)
def _resize_par(nchunks, nstrips, src, mask, iy, wy, ny, ix, wx, nx, kx, okx, oky, tmp, tm, dst, dmask, fill,
                is_int, lo, hi):  # pragma: no cover - numba
    for c in nb.prange(nchunks):
        _chunk(c, nstrips, src.shape[0], src, mask, iy, wy, ny, ix, wx, nx, kx, okx, oky, tmp, tm, dst, dmask,
               fill, is_int, lo, hi)


@nb.njit(cache=True, nogil=True)
def _resize_ser(nchunks, nstrips, src, mask, iy, wy, ny, ix, wx, nx, kx, okx, oky, tmp, tm, dst, dmask, fill,
                is_int, lo, hi):  # pragma: no cover - numba
    for c in range(nchunks):
        _chunk(c, nstrips, src.shape[0], src, mask, iy, wy, ny, ix, wx, nx, kx, okx, oky, tmp, tm, dst, dmask,
               fill, is_int, lo, hi)


def _axis_taps(n_out: int, s: float, t: float, n_in: int, kind: int, mode: int, work: type) -> tuple:
    kmax = {NEAREST: 1, LINEAR: 2, CUBIC: 4}.get(kind, math.ceil(abs(s)) + 2)
    idx = np.zeros((n_out, kmax + 4), dtype=np.int64)
    w = np.zeros((n_out, kmax + 4), dtype=work)
    cnt = np.zeros(n_out, dtype=np.int64)
    ok = np.empty(n_out, dtype=np.bool_)
    inside = np.empty(2, dtype=np.bool_)
    most = np.zeros(1, dtype=np.int64)
    _taps(n_out, float(s), float(t), n_in, kind, mode, -0.75, kmax, idx, w, cnt, ok, inside, most)
    # (taps, weights, counts, validity, slots, fixed tap count for the branch-free pass or 0)
    return idx, w, cnt, ok, kmax, int(most[0]) if inside[1] else 0


def resize_separable(
    src: np.ndarray,
    mask: np.ndarray | None,
    scale: tuple[float, float],
    offset: tuple[float, float],
    out_shape: tuple[int, int],
    kind: tuple[int, int] = (LINEAR, LINEAR),
    mode: int = _NODATA,
    fill_value: float = 0.0,
    out_fill: float = 0.0,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(bands, rows, cols)`` through ``x_in = sx * x_out + tx``, ``y_in = sy * y_out + ty``.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols) or None
        ``planes`` is 1 (shared by all bands) or ``bands``; ``None`` means all
        valid (the mask is then never read).
    scale : (sy, sx)
        Input pixels per output pixel along rows and columns (non-zero; negative mirrors).
    offset : (ty, tx)
        Input coordinate of the output's outer corner, pixel-corner origin.
    out_shape : (rows, cols)
        Output size in pixels.
    kind : (int, int)
        Filter along rows and columns: :data:`NEAREST`, :data:`LINEAR`,
        :data:`CUBIC` or :data:`AREA`.
    mode : int
        Fill mode code, as :data:`geoaug.kernels.warp.FILL_MODES`.
    fill_value : float
        Value of the outside for ``fill="constant"``.
    out_fill : float
        Value stored under invalid output pixels.
    out : ndarray (bands, rows, cols), optional
        Destination of ``src``'s dtype, C-contiguous; allocated when not given.

    Returns
    -------
    (ndarray, ndarray)
        The data ``(bands, out_rows, out_cols)`` and the mask ``(planes,
        out_rows, out_cols)``; when every output pixel is valid the mask is a
        read-only broadcast of True.
    """
    nb_, in_h, in_w = src.shape
    h, w = int(out_shape[0]), int(out_shape[1])
    dt = src.dtype
    work = np.float64 if dt in (np.float64, np.int32) else np.float32
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi, is_int = work(info.min), work(info.max), True
    else:
        lo, hi, is_int = work(0), work(0), False
    if out is None:
        dst = np.empty((nb_, h, w), dtype=dt)
    else:
        if out.shape != (nb_, h, w) or out.dtype != dt or not out.flags.c_contiguous or not out.flags.writeable:
            from ..errors import ParameterError

            raise ParameterError(
                f"out must be a writeable C-contiguous {dt.name} array of shape {(nb_, h, w)}, "
                f"got {out.dtype.name} {out.shape}"
            )
        dst = out
    src = np.ascontiguousarray(src)
    iy, wy, ny, oky, ky, _ = _axis_taps(h, scale[0], offset[0], in_h, kind[0], mode, work)
    ix, wx, nx, okx, _, kfix = _axis_taps(w, scale[1], offset[1], in_w, kind[1], mode, work)
    all_ok = bool(oky.all()) and bool(okx.all())
    nm = 0 if mask is None else mask.shape[0]
    units = nb_ + nm
    total = nb_ * h * w
    nthreads = nb.get_num_threads() if total >= SERIAL_BELOW else 1
    parallel = nthreads > 1
    nstrips = max(1, min(h, -(-2 * nthreads // units))) if parallel else 1
    rows_per = -(-h // nstrips)
    if mode in (_REFLECT, _MIRROR, _WRAP):
        maxrows = in_h
    else:
        maxrows = min(in_h, math.ceil((rows_per - 1) * abs(scale[0])) + 2 * ky + 8)
    tmp = np.empty((nb_ * nstrips, maxrows + 1, w), dtype=work)
    if mask is not None:
        mask = np.ascontiguousarray(mask, dtype=np.bool_)
        tm = np.empty((nm * nstrips, maxrows, w), dtype=np.bool_)
        dmask = np.empty((nm, h, w), dtype=np.bool_)
    else:
        tm = np.empty((1, 1, 1), dtype=np.bool_)
        dmask = np.empty((1, 1, 1), dtype=np.bool_)
        mask = tm
    kernel = _resize_par if parallel else _resize_ser
    with threads.launch_lock:
        kernel(units * nstrips, nstrips, src, mask, iy, wy, ny, ix, wx, nx, kfix, okx, oky, tmp, tm, dst, dmask,
               work(fill_value), is_int, lo, hi)
    if nm:
        invalid = ~dmask
        if invalid.any():
            np.copyto(dst, dt.type(out_fill), where=np.broadcast_to(invalid, dst.shape))
        return dst, dmask
    if all_ok:
        return dst, true_mask((1, h, w))
    valid = (oky[:, None] & okx[None, :])[None]
    np.copyto(dst, dt.type(out_fill), where=np.broadcast_to(~valid, dst.shape))
    return dst, valid
