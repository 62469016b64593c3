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
from .diskcache import lock_disk_cache

__all__ = ["fill_run", "row_runs", "span", "span_fill", "span_mask", "valid_span"]


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
def _below(a0, step, shift, v, n):  # pragma: no cover - numba
    """How many pixels ``j < n`` have their base tap ``floor(a0 + step * j) - shift`` below ``v``.

    The base taps are monotonic along the row (either way), so these pixels are a prefix or a suffix,
    found by bisection. Each probe computes the tap as the row kernels do (``a0 + step * j`` with ``j`` an
    integer, then ``floor``), so the count agrees with the taps they read; it is compared as a float, so a
    coordinate beyond the int64 range still counts on its side.
    """
    first = np.floor(a0 + step * np.int64(0)) - shift < v
    if first == (np.floor(a0 + step * np.int64(n - 1)) - shift < v):  # the two ends agree: all or none
        return n if first else 0
    lo = np.int64(0)  # (tap at lo < v) == first, (tap at hi < v) != first
    hi = np.int64(n - 1)
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if (np.floor(a0 + step * mid) - shift < v) == first:
            lo = mid
        else:
            hi = mid
    return hi if first else n - hi


@borrowing_jit()
def row_runs(x0, dx, y0, dy, shift, out_w, K, in_w, in_h, wx, wy):  # pragma: no cover - numba
    """``(jlo, jhi, klo, khi)``: the interior run (every tap inside) and the run with a tap inside.

    Output pixel ``j``'s base tap is ``(floor(x0 + dx*j) - shift, floor(y0 + dy*j) - shift)`` and its taps
    the ``K x K`` pixels from there. "Inside" is the ``in_w x in_h`` pixels from column ``wx``, row ``wy``:
    the whole input (``wx = wy = 0``), or the valid window of a mask (:mod:`geoaug.kernels.window`). The
    base taps are monotonic along the row, so the pixels past each
    bound form a prefix or a suffix: their counts (:func:`_below`, by bisection on the line itself: the
    taps need not be stored) place both runs. Most rows need no bisection: both ends of the row lie on the
    same side of most bounds. An empty interior is ``jlo == jhi``; an empty touching run ``klo == khi``;
    with ``K = 1`` (the nearest kernel) the two runs are one. The callers pass ``shift``, ``K``, ``wx`` and
    ``wy`` typed (``np.int64``): one compiled copy for every kernel.
    """
    if out_w <= 0:
        return 0, 0, 0, 0
    incx = dx >= 0.0
    incy = dy >= 0.0
    sx = shift + wx  # floor(x) - shift < wx + v  <=>  floor(x) - (shift + wx) < v, exact for integers below 2**53
    sy = shift + wy
    ax0 = _below(x0, dx, sx, np.int64(0), out_w)  # base tap left of the input
    ax1 = out_w - _below(x0, dx, sx, in_w - K + 1, out_w)  # last tap right of it
    ay0 = _below(y0, dy, sy, np.int64(0), out_w)
    ay1 = out_w - _below(y0, dy, sy, in_h - K + 1, out_w)
    xlo, xhi = span(ax0, ax1, incx, out_w)
    ylo, yhi = span(ay0, ay1, incy, out_w)
    jlo = max(xlo, ylo)
    jhi = max(min(xhi, yhi), jlo)
    if K == 1:  # one tap: inside is the interior
        return jlo, jhi, jlo, jhi
    tx0 = _below(x0, dx, sx, 1 - K, out_w)  # every tap left of the input
    tx1 = out_w - _below(x0, dx, sx, np.int64(in_w), out_w)  # every tap right of it
    ty0 = _below(y0, dy, sy, 1 - K, out_w)
    ty1 = out_w - _below(y0, dy, sy, np.int64(in_h), out_w)
    xlo, xhi = span(tx0, tx1, incx, out_w)
    ylo, yhi = span(ty0, ty1, incy, out_w)
    klo = max(xlo, ylo)
    khi = max(min(xhi, yhi), klo)
    return jlo, jhi, klo, khi


@nb.njit(cache=True, nogil=True)
def valid_span(srow, lo, hi, nzero):  # pragma: no cover - numba
    """``(vlo, vhi, holes)``: the pixels ``[lo, hi)`` of a row from the first valid one to the last
    (``srow``: 0 invalid, anything else valid; ``nzero`` invalid among them), and how many invalid ones lie
    between. A collar leaves invalid pixels at the ends of a row only: the warp kernels fill those instead of
    computing them, and only holes take a select. ``vlo == vhi`` when none is valid."""
    if nzero == 0:
        return lo, hi, 0
    vlo = lo
    while vlo + 8 <= hi and (srow[vlo] | srow[vlo + 1] | srow[vlo + 2] | srow[vlo + 3] | srow[vlo + 4]
                             | srow[vlo + 5] | srow[vlo + 6] | srow[vlo + 7]) == 0:
        vlo += 8  # eight taps a step: a collar's invalid run is tens of taps
    while vlo < hi and srow[vlo] == 0:
        vlo += 1
    vhi = hi
    while vhi - 8 >= vlo and (srow[vhi - 1] | srow[vhi - 2] | srow[vhi - 3] | srow[vhi - 4] | srow[vhi - 5]
                              | srow[vhi - 6] | srow[vhi - 7] | srow[vhi - 8]) == 0:
        vhi -= 8
    while vhi > vlo and srow[vhi - 1] == 0:
        vhi -= 1
    return vlo, vhi, nzero - (vlo - lo) - (hi - vhi)


@nb.njit(cache=True, nogil=True, inline="always")
def span_mask(mrow, srow, lo, hi, vlo, vhi, holes):  # pragma: no cover - numba
    """Output mask pixels ``[lo, hi)`` of a row from its :func:`valid_span`: False at the invalid ends, True
    over the span, or the statuses ``srow != 0`` there when it has holes."""
    fill_run(mrow, lo, vlo, False)
    if holes:
        for j in range(np.uint64(vlo), np.uint64(vhi)):
            mrow[j] = srow[j] != 0
    else:
        fill_run(mrow, vlo, vhi, True)
    fill_run(mrow, vhi, hi, False)


@nb.njit(cache=True, nogil=True, inline="always")
def span_fill(orow, srow, lo, hi, vlo, vhi, holes, out_fill):  # pragma: no cover - numba
    """After computing only the span ``[vlo, vhi)`` of ``[lo, hi)`` (:func:`valid_span`): ``out_fill`` at the
    invalid ends and, when the span has holes, under its invalid pixels (``srow == 0``, branch-free)."""
    fill_run(orow, lo, vlo, out_fill)
    fill_run(orow, vhi, hi, out_fill)
    if holes:
        for j in range(np.uint64(vlo), np.uint64(vhi)):
            orow[j] = out_fill if srow[j] == 0 else orow[j]


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
