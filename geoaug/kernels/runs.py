"""Runs of an output row of an affine warp, and plain fills (the warp kernels share them).

``floor`` of an affine source coordinate is monotonic along an output row, so the pixels whose taps lie
past a bound of the input form a prefix or a suffix of the row: their counts (each found by bisection)
place the interior run and the run of pixels with a tap inside. Used by the bilinear/cubic row kernel
(:mod:`geoaug.kernels.warp`) and the nearest one (:mod:`geoaug.kernels.nearest`, ``K = 1``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .borrowing import borrowing_jit

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


@borrowing_jit()
def _below(a, v, n):  # pragma: no cover - numba
    """How many of ``a[:n]`` (monotonic, either way) are below ``v``: a prefix or a suffix, found by bisection."""
    first = a[0] < v
    if first == (a[n - 1] < v):  # the two ends agree: all or none
        return n if first else 0
    lo = 0  # (a[lo] < v) == first, (a[hi] < v) != first
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if (a[mid] < v) == first:
            lo = mid
        else:
            hi = mid
    return hi if first else n - hi


@borrowing_jit()
def row_runs(bxs, bys, out_w, K, in_w, in_h, incx, incy):  # pragma: no cover - numba
    """``(jlo, jhi, klo, khi)``: the interior run (every tap inside) and the run with a tap inside.

    ``bxs``/``bys`` are monotonic (non-decreasing where ``incx``/``incy``), so
    the pixels past each bound form a prefix or a suffix: their counts place
    both runs. Each count is found by bisection, and without one when both
    ends of the row lie on the same side of the bound (most rows and bounds):
    a pass counting all eight over a 512-pixel row took about 290 cycles. An
    empty interior is ``jlo == jhi``; an empty touching run ``klo == khi``.
    The warp's row kernel passes ``K`` typed (``np.int64``, one compiled copy
    for bilinear and cubic); the nearest kernel passes the literal 1.
    """
    if out_w <= 0:
        return 0, 0, 0, 0
    ax0 = _below(bxs, 0, out_w)  # base tap left of the input
    ax1 = out_w - _below(bxs, in_w - K + 1, out_w)  # last tap right of it
    ay0 = _below(bys, 0, out_w)
    ay1 = out_w - _below(bys, in_h - K + 1, out_w)
    tx0 = _below(bxs, 1 - K, out_w)  # every tap left of the input
    tx1 = out_w - _below(bxs, in_w, out_w)  # every tap right of it
    ty0 = _below(bys, 1 - K, out_w)
    ty1 = out_w - _below(bys, in_h, out_w)
    xlo, xhi = span(ax0, ax1, incx, out_w)
    ylo, yhi = span(ay0, ay1, incy, out_w)
    jlo = max(xlo, ylo)
    jhi = max(min(xhi, yhi), jlo)
    xlo, xhi = span(tx0, tx1, incx, out_w)
    ylo, yhi = span(ty0, ty1, incy, out_w)
    klo = max(xlo, ylo)
    khi = max(min(xhi, yhi), klo)
    return jlo, jhi, klo, khi
