"""Masks whose valid pixels are one axis-aligned rectangle: a warp reads them as a smaller input.

A chip read past the edge of a scene (rasterio's ``boundless=True``), or padded to a training size, is valid
inside one rectangle and invalid around it. With ``fill="nodata"`` a tap outside that rectangle is invalid
exactly as a tap outside the input is, so the warp kernels can treat the rectangle as the input's bounds
(:func:`geoaug.kernels.runs.row_runs` with its origin) and never read the mask per pixel: the pixels of a row
whose taps lie in the rectangle are one run, found by bisection, as for an unmasked input.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["valid_window"]


@nb.njit(cache=True, nogil=True)
def _window(m8, in_h, in_w, out):  # pragma: no cover - numba
    """Write ``(x0, y0, x1, y1)`` of the valid rectangle of the flat plane ``m8`` (uint8, 0 invalid) into
    ``out`` and return True, or return False when the valid pixels are not one non-empty rectangle.

    One pass: each row's count of valid bytes (a vectorised sum), then its first and last valid byte (scans
    that stop at them). A row is one run when the count equals the run's length; every valid row must be
    the same run, and the valid rows one run of rows. The scan stops at the first row that breaks this."""
    uw = np.uint64(in_w)
    y0 = np.int64(-1)
    y1 = np.int64(-1)
    x0 = np.int64(0)
    x1 = np.int64(0)
    for y in range(in_h):
        s = np.uint64(y) * uw
        n = np.int64(0)
        for x in range(uw):
            n += np.int64(m8[s + x] != 0)
        if n == 0:
            if y0 >= 0 and y1 < 0:
                y1 = y  # the valid rows ended here
            continue
        if y1 >= 0:  # a valid row after the rectangle's last
            return False
        a = np.int64(0)
        while m8[s + np.uint64(a)] == 0:
            a += 1
        b = np.int64(in_w)
        while m8[s + np.uint64(b - 1)] == 0:
            b -= 1
        if b - a != n:  # a gap inside the row
            return False
        if y0 < 0:
            y0 = y
            x0 = a
            x1 = b
        elif a != x0 or b != x1:
            return False
    if y0 < 0:
        return False
    out[0] = x0
    out[1] = y0
    out[2] = x1
    out[3] = in_h if y1 < 0 else y1
    return True


def valid_window(plane: np.ndarray, in_h: int, in_w: int) -> np.ndarray | None:
    """The valid rectangle of one mask plane, or None when its valid pixels are not one rectangle.

    Parameters
    ----------
    plane : ndarray of bool (in_h * in_w,)
        A flat, C-contiguous mask plane (True valid).
    in_h, in_w : int
        Its rows and columns.

    Returns
    -------
    ndarray of int64 (4,) or None
        ``(x0, y0, x1, y1)``: columns ``[x0, x1)`` of rows ``[y0, y1)`` are valid and every other pixel is
        not. None when no pixel is valid, or the valid ones are not exactly one such rectangle.
    """
    out = np.empty(4, dtype=np.int64)
    return out if _window(plane.view(np.uint8), in_h, in_w, out) else None
