"""Whether a span of values just written holds a NaN: one test for float rows and for unsigned views of their bits.

Kernels that resample a float raster whose NaN pixels were not looked for (a plain float array: NaN is
nodata, :meth:`geoaug.GeoRaster.from_array` with ``lazy_mask``) compute it as all valid and test each
output span while it is still in cache; finding none, the result is the one a call with the NaN pixels
masked gives (no valid output pixel read one), and the input was never scanned. Finding one, the caller
resamples again with the mask (``return_nan`` of :func:`geoaug.kernels.resize.resize_separable`,
:func:`geoaug.kernels.warp.warp_affine` and :func:`geoaug.kernels.remap.remap_field`).

``has_nan(row, lo, hi)`` takes a 1-D float row, or an unsigned integer row holding float bits (the nearest
warp sees float32 as uint32 and float64 as uint64: a NaN is an exponent of all ones with a non-zero
fraction); other integer rows hold no NaN. It is an or-reduction without an early exit, which LLVM
vectorises. ``bands_have_nan`` applies it to whole output rows of several bands; ``test_written_rows`` is
when the warp and remap row kernels do so (every :data:`SCAN_VALUES` values of a band, and at the last
row); for integer outputs both compile to no test.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import overload

from .borrowing import borrowing_jit
from .diskcache import lock_disk_cache

__all__ = ["SCAN_VALUES", "bands_have_nan", "has_nan", "is_nan", "test_written_rows"]

#: values of a band a warp kernel writes between two tests (whole output rows, at least one): the rows of a band
#: group are still in cache, and the test's fixed cost (a loop's set-up and tails) is spread over many values
SCAN_VALUES = 2048

_ABS32 = np.uint32(0x7FFF_FFFF)
_INF32 = np.uint32(0x7F80_0000)
_ABS64 = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
_INF64 = np.uint64(0x7FF0_0000_0000_0000)


def is_nan(v):  # pragma: no cover - replaced by the overload in compiled code
    """Whether ``v`` (a float, or an unsigned integer holding a float's bits) is a NaN."""
    raise NotImplementedError


@overload(is_nan, inline="always")
def _is_nan_ov(v):  # pragma: no cover - numba typing
    if isinstance(v, types.Float):
        return lambda v: v != v
    if v == types.uint32:
        return lambda v: (v & _ABS32) > _INF32
    if v == types.uint64:
        return lambda v: (v & _ABS64) > _INF64
    if isinstance(v, types.Integer):
        return lambda v: False
    return None


@borrowing_jit()
def has_nan(row, lo, hi):  # pragma: no cover - numba
    """Whether ``row[lo:hi]`` holds a NaN (see the module docstring for the row types). Compiled on its own and
    called (LLVM inlines it), as the kernels' other row helpers: numba's inlining would retype it in every caller."""
    bad = False
    for j in range(np.uint64(lo), np.uint64(hi)):
        bad |= is_nan(row[j])
    return bad


def bands_have_nan(dst, b0, b1, r0, r1):  # pragma: no cover - replaced by the overload in compiled code
    """Whether rows ``[r0, r1)`` of a band ``b`` in ``[b0, b1)`` of ``dst`` (C-contiguous ``(bands, rows, cols)``)
    hold a NaN: one range per band, the rows being contiguous.

    For values of a type that holds no NaN (uint8, uint16 and signed integers) it is False without a look, and
    compiles to that alone (a flat view made in the kernel itself compiled numba's reshape for every dtype).
    Called, not inlined by numba (LLVM inlines it): numba's inlining of it cost the uint8 nearest kernel's
    compile 0.15-0.65 s, its call 0.1-0.3 s (the kernel's own compile took 2.3-2.5 s before the tests).
    """
    raise NotImplementedError


@overload(bands_have_nan)
def _bands_have_nan_ov(dst, b0, b1, r0, r1):  # pragma: no cover - numba typing
    dt = dst.dtype
    if isinstance(dt, types.Float) or dt == types.uint32 or dt == types.uint64:
        def scan(dst, b0, b1, r0, r1):
            flat = dst.reshape(dst.size)
            w = dst.shape[2]
            plane = dst.shape[1] * w
            for b in range(b0, b1):
                if has_nan(flat, b * plane + r0 * w, b * plane + r1 * w):
                    return True
            return False

        return scan
    return lambda dst, b0, b1, r0, r1: False


def test_written_rows(dst, b0, b1, sc, i, end, seen):  # pragma: no cover - replaced by the overload in compiled code
    """After a row kernel wrote output row ``i`` of bands ``[b0, b1)`` (rows ``[sc, i]`` not yet tested): test
    them for NaN (:func:`bands_have_nan`) once they hold :data:`SCAN_VALUES` values of a band or ``i`` is the
    last row before ``end``, while they are still in cache.

    Returns the first row not yet tested (``sc``, or ``i + 1`` after a test), or -1 when a NaN was found, having
    set ``seen[0]`` (the kernel stops there; its caller resamples with the mask). The one rule the nearest, the
    bilinear and cubic, and the remap row kernels share; for integer outputs it compiles to no test.
    """
    raise NotImplementedError


@overload(test_written_rows)
def _test_written_rows_ov(dst, b0, b1, sc, i, end, seen):  # pragma: no cover - numba typing
    dt = dst.dtype
    if isinstance(dt, types.Float) or dt == types.uint32 or dt == types.uint64:
        def test(dst, b0, b1, sc, i, end, seen):
            if (i + 1 - sc) * dst.shape[2] < SCAN_VALUES and i + 1 != end:
                return sc
            if bands_have_nan(dst, b0, b1, sc, i + 1):
                seen[0] = True
                return -1
            return i + 1

        return test
    return lambda dst, b0, b1, sc, i, end, seen: i + 1


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
