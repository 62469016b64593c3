"""Exact strided copies: flips, rot90, transpose, integer crops and their compositions.

All of them are one index map: output pixel ``(i, j)`` copies input pixel
``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)`` with coefficients in {-1, 0, 1}. No
interpolation, no arithmetic on values: the result is exactly what the generic
warp with nearest interpolation gives for the same matrix.

How each case is copied
-----------------------
* unit column stride (crops, vertical flips): numpy slice copies, whole rows
  at memcpy speed;
* mirrored rows (horizontal flips, rot180): a numba loop that LLVM
  vectorises (flat unsigned indexes, no wraparound checks);
* transposing maps (rot90, rot270, transpose): square tiles so reads stay in cache.

Data and mask planes are copied in one kernel call (one parallel region); a
mask that is a broadcast of True (every pixel valid) is not copied at all.
Small copies run on one thread: below :data:`SERIAL_BELOW` bytes threads cost
more than they save.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np

from . import threads

__all__ = ["SERIAL_BELOW", "index_copy"]

_TILE = 64
#: copies smaller than this many bytes (data + mask) run on one thread
SERIAL_BELOW = 1 << 21


# Flat, unsigned indexes throughout: numba then drops its negative-index wraparound and bounds
# bookkeeping, and LLVM vectorises the mirrored row loop (about 10x faster than 3-D indexing).


@nb.njit(cache=True, inline="always")
def _row_unit(s, d, k, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj):  # pragma: no cover - numba
    # unit k: plane k // nchunk, a block of consecutive output rows
    plane = k // nchunk
    q = k - plane * nchunk
    i0 = out_h * q // nchunk
    i1 = out_h * (q + 1) // nchunk
    so = (plane * in_h + r0) * in_w + c0  # source offset of output row 0
    step = ri * in_w + ci
    do = plane * out_h * out_w
    if cj == 1:
        for i in range(i0, i1):
            uso = np.uint64(so + i * step)
            udo = np.uint64(do + i * out_w)
            for j in range(out_w):
                uj = np.uint64(j)
                d[udo + uj] = s[uso + uj]
    else:
        for i in range(i0, i1):
            uso = np.uint64(so + i * step)
            udo = np.uint64(do + i * out_w)
            for j in range(out_w):
                uj = np.uint64(j)
                d[udo + uj] = s[uso - uj]


@nb.njit(cache=True, inline="always")
def _tile_unit(s, d, k, nbi, out_h, out_w, in_h, in_w, r0, rj, c0, ci):  # pragma: no cover - numba
    plane = k // nbi
    ib = (k - plane * nbi) * _TILE
    sp = plane * in_h * in_w
    dp = plane * out_h * out_w
    ie = min(ib + _TILE, out_h)
    for jb in range(0, out_w, _TILE):
        je = min(jb + _TILE, out_w)
        for i in range(ib, ie):
            col = sp + c0 + ci * i
            do = dp + i * out_w
            for j in range(jb, je):
                d[np.uint64(do + j)] = s[np.uint64(col + (r0 + rj * j) * in_w)]


@nb.njit(cache=True, inline="always")
def _unit(k, nd, nchunk, s, d, ms, md, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj):  # pragma: no cover - numba
    # units [0, nd) copy data, the rest copy mask planes; arrays are flat C-order views
    if rj == 0:
        if k < nd:
            _row_unit(s, d, k, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj)
        else:
            _row_unit(ms, md, k - nd, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj)
    else:
        per = nchunk
        if k < nd:
            _tile_unit(s, d, k, per, out_h, out_w, in_h, in_w, r0, rj, c0, ci)
        else:
            _tile_unit(ms, md, k - nd, per, out_h, out_w, in_h, in_w, r0, rj, c0, ci)


@nb.njit(cache=True, parallel=True, nogil=True)
def _copy_par(nunits, nd, nchunk, s, d, ms, md, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj):  # pragma: no cover
    for k in nb.prange(nunits):
        _unit(k, nd, nchunk, s, d, ms, md, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj)


@nb.njit(cache=True, nogil=True)
def _copy_ser(nunits, nd, nchunk, s, d, ms, md, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj):  # pragma: no cover
    for k in range(nunits):
        _unit(k, nd, nchunk, s, d, ms, md, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj)


_NO_MASK = np.empty(0, dtype=np.uint8)
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@functools.lru_cache(maxsize=256)
def true_mask(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only broadcast of True of ``shape`` (cached: building one costs more than a small flip)."""
    return np.broadcast_to(np.True_, shape)


def is_all_true(mask: np.ndarray) -> bool:
    """True for a mask that is a broadcast of one True value (every stride 0): no scan needed."""
    return mask.size > 0 and not any(mask.strides) and bool(mask.flat[0])


def _check_out(out: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous or not out.flags.writeable:
        from ..errors import ParameterError

        raise ParameterError(
            f"out must be a writeable C-contiguous {dtype.name} array of shape {shape}, "
            f"got {out.dtype.name} {out.shape}"
        )
    return out


def index_copy(
    src: np.ndarray,
    mask: np.ndarray | None,
    plan: tuple[int, int, int, int, int, int],
    out_shape: tuple[int, int],
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``src`` and ``mask`` through an integer index map.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        Any supported dtype.
    mask : ndarray of bool (planes, rows, cols) or None
        ``planes`` is 1 or ``bands``. ``None`` or a broadcast of True means
        every pixel is valid: the mask is not copied and the returned mask is
        a read-only broadcast of True.
    plan : (r0, ri, rj, c0, ci, cj)
        Output ``(i, j)`` reads input ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)``;
        every index must be in range (see :func:`geoaug.geometry.strided_plan`).
    out_shape : (rows, cols)
        Output size in pixels.
    out : ndarray (bands, rows, cols), optional
        Destination (C-contiguous, ``src``'s dtype); allocated when not given.

    Returns
    -------
    (ndarray, ndarray)
        The copied data ``(bands, out_rows, out_cols)`` and mask ``(planes, out_rows, out_cols)``.
    """
    r0, ri, rj, c0, ci, cj = plan
    h, w = int(out_shape[0]), int(out_shape[1])
    nbands = src.shape[0]
    shape = (nbands, h, w)
    dst = np.empty(shape, dtype=src.dtype) if out is None else _check_out(out, shape, src.dtype)
    skip_mask = mask is None or is_all_true(mask)
    if skip_mask:
        nm = 0
        dmask = true_mask((1, h, w))
    else:
        nm = mask.shape[0]
        dmask = np.empty((nm, h, w), dtype=np.bool_)
    if rj == 0 and cj == 1:
        # unit column stride: row slices, numpy's memcpy
        stop = r0 + ri * h
        rows = slice(r0, stop if stop >= 0 else None, ri)
        np.copyto(dst, src[:, rows, c0 : c0 + w])
        if nm:
            np.copyto(dmask, mask[:, rows, c0 : c0 + w])
        return dst, dmask
    src = np.ascontiguousarray(src)
    if nm:
        msrc = np.ascontiguousarray(mask).view(np.uint8).reshape(-1)
        mdst = dmask.view(np.uint8).reshape(-1)
    else:
        msrc = mdst = _NO_MASK
    nbytes = src.itemsize * nbands * h * w + nm * h * w
    parallel = nbytes >= SERIAL_BELOW and nb.get_num_threads() > 1
    if rj == 0:  # blocks of rows: one per plane on one thread, about 4 per thread and plane in parallel
        per = min(h, 4 * nb.get_num_threads()) if parallel else 1
    else:  # tiles of _TILE output rows
        per = (h + _TILE - 1) // _TILE
    nd = nbands * per
    nunits = nd + nm * per
    kernel = _copy_par if parallel else _copy_ser
    with threads.launch_lock:
        # copies move bits: every dtype goes through the unsigned type of its size (4 compiled variants at most)
        kind = _BITS[src.itemsize]
        kernel(nunits, nd, per, src.view(kind).reshape(-1), dst.view(kind).reshape(-1), msrc, mdst, h, w,
               src.shape[1], src.shape[2],
               int(r0), int(ri), int(rj), int(c0), int(ci), int(cj))
    return dst, dmask
