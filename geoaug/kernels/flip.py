"""Exact strided copies: flips, rot90, transpose, integer crops and their compositions.

All of them are one kernel, :func:`index_copy`: output pixel ``(i, j)`` copies
input pixel ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)`` with coefficients in
{-1, 0, 1}. No interpolation, no arithmetic on values: the result is exactly
what the generic warp with nearest interpolation gives for the same matrix.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from . import threads

__all__ = ["index_copy"]


@nb.njit(cache=True, inline="always")
def _copy_row(a, o, row, col, rj, cj, out_w):  # pragma: no cover - numba
    # unsigned indexes: numba then drops its negative-index wraparound and LLVM vectorises the loop
    if cj == 1:
        o[:] = a[row, col : col + out_w]
    else:
        srow = a[row]
        last = np.uint64(col)
        for j in range(out_w):
            uj = np.uint64(j)
            o[uj] = srow[last - uj]


_TILE = 64


@nb.njit(cache=True, parallel=True, nogil=True)
def _index_copy_planes(src, r0, ri, rj, c0, ci, cj, out_h, out_w):  # pragma: no cover - numba
    nplanes = src.shape[0]
    dst = np.empty((nplanes, out_h, out_w), dtype=src.dtype)
    if rj == 0:
        for k in nb.prange(nplanes * out_h):
            plane = k // out_h
            i = k - plane * out_h
            _copy_row(src[plane], dst[plane, i], r0 + ri * i, c0 + ci * i, rj, cj, out_w)
        return dst
    # transposing maps (rot90, transpose): copy in square tiles so reads stay in cache
    nbi = (out_h + _TILE - 1) // _TILE
    for k in nb.prange(nplanes * nbi):
        plane = k // nbi
        ib = (k - plane * nbi) * _TILE
        a = src[plane]
        o = dst[plane]
        ie = min(ib + _TILE, out_h)
        for jb in range(0, out_w, _TILE):
            je = min(jb + _TILE, out_w)
            for i in range(ib, ie):
                col = np.uint64(c0 + ci * i)
                orow = o[i]
                for j in range(jb, je):
                    orow[np.uint64(j)] = a[np.uint64(r0 + rj * j), col]
    return dst


def index_copy(
    src: np.ndarray,
    mask: np.ndarray,
    plan: tuple[int, int, int, int, int, int],
    out_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``src`` and ``mask`` through an integer index map.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        Any supported dtype.
    mask : ndarray of bool (planes, rows, cols)
        ``planes`` is 1 or ``bands``.
    plan : (r0, ri, rj, c0, ci, cj)
        Output ``(i, j)`` reads input ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)``;
        every index must be in range (see :func:`geoaug.geometry.strided_plan`).
    out_shape : (rows, cols)
        Output size in pixels.

    Returns
    -------
    (ndarray, ndarray)
        The copied data ``(bands, out_rows, out_cols)`` and mask.
    """
    r0, ri, rj, c0, ci, cj = (int(v) for v in plan)
    h, w = int(out_shape[0]), int(out_shape[1])
    with threads.launch_lock:
        dst = _index_copy_planes(src, r0, ri, rj, c0, ci, cj, h, w)
        dmask = _index_copy_planes(mask.view(np.uint8), r0, ri, rj, c0, ci, cj, h, w).view(np.bool_)
    return dst, dmask
