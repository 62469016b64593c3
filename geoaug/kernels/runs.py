"""Runs of an output row of an affine warp, and plain fills (the warp kernels share them).

``floor`` of an affine source coordinate is monotonic along an output row, so the pixels whose taps lie
past a bound of the input form a prefix or a suffix of the row: counting them, in one vectorised pass,
places the interior run and the run of pixels with a tap inside. Used by the bilinear/cubic row kernel
(:mod:`geoaug.kernels.warp`) and the nearest one (:mod:`geoaug.kernels.nearest`, ``K = 1``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["fill_run", "row_runs", "span"]


@nb.njit(cache=True, nogil=True, inline="always")
def fill_run(row, lo, hi, v):  # pragma: no cover - numba
    """``row[lo:hi] = v`` as a plain loop over unsigned indexes (a slice fill runs scalar, with wraparound)."""
    for j in range(np.uint64(lo), np.uint64(hi)):
        row[j] = v


@nb.njit(cache=True, nogil=True, inline="always")
def span(n_lo, n_hi, inc, n):  # pragma: no cover - numba
    """The run left by a prefix/suffix of ``n_lo`` pixels below a bound and ``n_hi`` above the other."""
    if inc:
        return n_lo, n - n_hi
    return n_hi, n - n_lo


@nb.njit(cache=True, nogil=True)
def row_runs(bxs, bys, out_w, K, in_w, in_h, incx, incy):  # pragma: no cover - numba
    """``(jlo, jhi, klo, khi)``: the interior run (every tap inside) and the run with a tap inside.

    ``bxs``/``bys`` are monotonic (non-decreasing where ``incx``/``incy``), so
    the pixels past each bound form a prefix or a suffix: their counts place
    both runs. An empty interior is ``jlo == jhi``; an empty touching run
    ``klo == khi``. The warp's row kernel passes ``K`` typed (``np.int64``, one compiled copy for bilinear
    and cubic); the nearest kernel passes the literal 1, a copy of its own that runs about 10 % faster there.
    """
    ax0 = 0
    ax1 = 0
    ay0 = 0
    ay1 = 0
    tx0 = 0
    tx1 = 0
    ty0 = 0
    ty1 = 0
    for j in range(out_w):
        bx = bxs[j]
        by = bys[j]
        ax0 += np.int64(bx < 0)
        ax1 += np.int64(bx + K > in_w)
        ay0 += np.int64(by < 0)
        ay1 += np.int64(by + K > in_h)
        tx0 += np.int64(bx + K <= 0)
        tx1 += np.int64(bx >= in_w)
        ty0 += np.int64(by + K <= 0)
        ty1 += np.int64(by >= in_h)
    xlo, xhi = span(ax0, ax1, incx, out_w)
    ylo, yhi = span(ay0, ay1, incy, out_w)
    jlo = max(xlo, ylo)
    jhi = max(min(xhi, yhi), jlo)
    xlo, xhi = span(tx0, tx1, incx, out_w)
    ylo, yhi = span(ty0, ty1, incy, out_w)
    klo = max(xlo, ylo)
    khi = max(min(xhi, yhi), klo)
    return jlo, jhi, klo, khi
