"""Dropout holes: a copy of a raster with its rectangles filled (``CoarseDropout``, ``GridDropout``).

:func:`copy_with_holes` copies ``(bands, rows, cols)`` data (numpy's copy: one ``memcpy``, whose large copies
skip the cache) and then, in one compiled pass, writes the value into the rows of every hole of every band.
A hole pixel takes the value only where it is kept:

* ``keep_nan``: not where the pixel is NaN (a float raster whose mask is its NaNs: NaN stays where it
  was, so the mask can stay unfound);
* ``valid``: only where the mask says valid (a pixel that was invalid keeps its value).

Before, each hole was written by numpy through a strided slice of every band (with a mask, a boolean index
of it): with many bands and many holes those slices' short rows cost more than the copy (docs/benchmarks.md,
"Dropout holes in one compiled pass"). Copying strip by strip and writing each strip's holes while it was in
cache was tried: with few holes on a raster larger than the cache it was slower than numpy's single copy.

One kernel call per raster: one parallel region when the holes hold at least :data:`SERIAL_BELOW` values (hole
pixels x bands), none below. The copy before it is numpy's, on one thread, whatever the size.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from . import threads
from .borrowing import borrowing_jit
from .diskcache import lock_disk_cache

__all__ = ["SERIAL_BELOW", "copy_with_holes"]

#: holes of fewer values (hole pixels x bands, overlaps counted twice) are written on one thread. The bound was 1 MB
#: of raster: 4 holes of 64² in 4x512² uint16 (65,536 values) took 1.11x their one-thread time at two threads,
#: 13x512² 1.04x, 200x256² (819,200 values) 1.04x, where a parallel region cost more than the writes it shared.
#: At 1.6-3.3 million values (GridDropout of 100x256², 26x512², 200x256²) two threads took 0.92-0.94 of the time
SERIAL_BELOW = 1 << 20


@borrowing_jit()
def _first_misfit(holes, height, width):  # pragma: no cover - numba
    # the index of the first hole that does not fit the raster, else -1
    for k in range(holes.shape[0]):
        y, x, h, w = holes[k, 0], holes[k, 1], holes[k, 2], holes[k, 3]
        if y < 0 or x < 0 or h < 0 or w < 0 or y + h > height or x + w > width:
            return k
    return -1


@borrowing_jit()
def _fill_bands(b0, b1, dst, height, width, nplanes, valid, holes, v, keep_nan):  # pragma: no cover - numba
    # bands [b0, b1): the rows of every hole get v where kept (a select: the loop vectorises). Flat, unsigned
    # indexes
    for b in range(b0, b1):
        plane = b if nplanes > 1 else 0
        for k in range(holes.shape[0]):
            y, x, h, w = holes[k, 0], holes[k, 1], holes[k, 2], holes[k, 3]
            for i in range(y, y + h):
                rb = np.uint64((b * height + i) * width)
                vb = np.uint64((plane * height + i) * width)
                for j in range(np.uint64(x), np.uint64(x + w)):
                    c = dst[rb + j]
                    ok = (not keep_nan or c == c) and (nplanes == 0 or valid[vb + j])
                    dst[rb + j] = v if ok else c


@nb.njit(cache=True, parallel=True, nogil=True)
def _fill_par(nbands, nchunks, dst, height, width, nplanes, valid, holes, v, keep_nan):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the bands (the index is unsigned in the gufunc)
        _fill_bands(k * nbands // nchunks, (k + 1) * nbands // nchunks, dst, height, width, nplanes, valid, holes, v,
                    keep_nan)


_NO_VALID = np.ones(1, dtype=np.bool_)


def copy_with_holes(src: np.ndarray, holes: list[list[int]] | np.ndarray, value: float, *,
                    valid: np.ndarray | None = None, keep_nan: bool = False, serial: bool = False) -> np.ndarray:
    """A copy of ``src`` whose hole pixels take ``value`` where kept; ``src`` is not changed.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        Any dtype numba compiles (bool included), any layout.
    holes : list of [row, col, height, width] or ndarray (n, 4)
        Rectangles in pixels, inside the raster; they may overlap.
    value : scalar
        Representable in ``src``'s dtype (the caller saturates it).
    valid : ndarray of bool (rows, cols) or (1 or bands, rows, cols), optional
        Only pixels valid here take ``value``; None: every pixel.
    keep_nan : bool
        NaN pixels keep their value (float data).
    serial : bool
        Run on one thread whatever the size (a second call of one transform: one parallel region per call).

    Returns
    -------
    ndarray
        A new C-contiguous array of ``src``'s shape and dtype.

    Raises
    ------
    ValueError
        A hole that does not fit the raster, or a mask of another shape.
    """
    if src.ndim != 3:
        raise ValueError(f"copy_with_holes: src must be (bands, rows, cols), got shape {src.shape}")
    nbands, height, width = src.shape
    rects = np.asarray(holes, dtype=np.int64).reshape(-1, 4)
    bad = _first_misfit(rects, height, width)
    if bad >= 0:
        raise ValueError(f"hole {rects[bad].tolist()} does not fit a raster of {height} x {width}")
    if valid is None:
        nplanes, vflat = 0, _NO_VALID
    else:
        v3 = valid if valid.ndim == 3 else valid[None]
        if v3.shape[1:] != (height, width) or v3.shape[0] not in (1, nbands):
            raise ValueError(f"copy_with_holes: valid must be (rows, cols) or (1 or {nbands}, rows, cols) for "
                             f"{src.shape}, got {valid.shape}")
        nplanes, vflat = v3.shape[0], np.ascontiguousarray(v3, dtype=np.bool_).reshape(-1)
    dst = np.array(src, order="C")  # a copy, C-ordered whatever src's layout
    d = dst.reshape(-1)
    fill = src.dtype.type(value)
    keep = bool(keep_nan) and src.dtype.kind == "f"
    # the hole values written (a hole inside the raster: h, w >= 0), counted only when threads may take them
    nthreads = (1 if serial or nbands < 2 or int(rects[:, 2] @ rects[:, 3]) * nbands < SERIAL_BELOW
                else threads.num_threads())
    if nthreads == 1:
        _fill_bands(0, nbands, d, height, width, nplanes, vflat, rects, fill, keep)
    else:
        with threads.launch_lock:
            _fill_par(nbands, min(nbands, 4 * nthreads), d, height, width, nplanes, vflat, rects, fill, keep)
    return dst


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
