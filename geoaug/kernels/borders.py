"""Fill modes: what lies outside a raster, as kernel codes and one index rule (warp and resize share it)."""

from __future__ import annotations

import numba as nb

from .diskcache import lock_disk_cache

__all__ = ["CONSTANT", "EDGE", "FILL_MODES", "MIRROR", "NODATA", "REFLECT", "WRAP", "map_index"]

#: fill mode name -> kernel code. reflect: ``dcba|abcd|dcba`` (scipy "reflect",
#: OpenCV BORDER_REFLECT); mirror: ``dcb|abcd|cba`` (scipy "mirror", OpenCV BORDER_REFLECT_101).
FILL_MODES = {"nodata": 0, "constant": 1, "edge": 2, "reflect": 3, "mirror": 4, "wrap": 5}
NODATA, CONSTANT, EDGE, REFLECT, MIRROR, WRAP = 0, 1, 2, 3, 4, 5


@nb.njit(cache=True)
def map_index(k, n, mode):  # pragma: no cover - numba
    """Index ``k`` of an axis of length ``n`` mapped inside by ``mode``; -1 when it stays outside."""
    if k >= 0 and k < n:
        return k
    if mode == EDGE:
        return 0 if k < 0 else n - 1
    if mode == REFLECT:
        p = 2 * n
        k = k % p
        return k if k < n else p - 1 - k
    if mode == MIRROR:
        if n == 1:
            return 0
        p = 2 * n - 2
        k = k % p
        return k if k < n else p - k
    if mode == WRAP:
        return k % n
    return -1


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
