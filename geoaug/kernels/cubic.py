"""Keys' cubic convolution kernel: the one definition the warp, remap and resize kernels use.

``a = -0.75`` is OpenCV's choice (:data:`CUBIC_A`). The weight of a tap at
distance ``t`` from the sample point is a cubic in ``t`` with one branch for
``t <= 1`` and one for ``1 < t < 2`` (zero beyond). Kernels that know which
branch each of their four taps falls in (``1 + f``, ``f``, ``1 - f``,
``2 - f`` for a fraction ``f`` in [0, 1)) call :func:`keys_near` /
:func:`keys_far` directly, so their loops stay branch-free and vectorise; the
two branches agree at ``t = 1`` (both 0) and ``keys_far`` is 0 at ``t = 2``.

The polynomials are evaluated in the type of ``a`` (their constants are made
of it, :func:`_like`): float64 for the remap and resize kernels and for the
warp's tap-rule pixels; the warp's row pass passes its work precision (float32
for 8- and 16-bit and float32 data, whose weights it stores as float32 and
computes in vectors twice as wide).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from .diskcache import lock_disk_cache

__all__ = ["CUBIC_A", "keys", "keys4", "keys_far", "keys_near"]

#: Keys' parameter, as OpenCV uses it
CUBIC_A = -0.75


def _like(a, v):  # pragma: no cover - replaced by the overload in compiled code
    """``v`` as a value of ``a``'s float type."""
    raise NotImplementedError


@overload(_like)
def _like_ov(a, v):  # pragma: no cover - numba typing
    if isinstance(a, types.Float) and a.bitwidth == 32:
        return lambda a, v: np.float32(v)
    return lambda a, v: np.float64(v)


@nb.njit(cache=True, nogil=True)
def keys_near(t, a):  # pragma: no cover - numba
    """Weight at distance ``t`` in [0, 1]."""
    return ((a + _like(a, 2.0)) * t - (a + _like(a, 3.0))) * t * t + _like(a, 1.0)


@nb.njit(cache=True, nogil=True)
def keys_far(t, a):  # pragma: no cover - numba
    """Weight at distance ``t`` in [1, 2]."""
    return ((a * t - _like(a, 5.0) * a) * t + _like(a, 8.0) * a) * t - _like(a, 4.0) * a


@nb.njit(cache=True, nogil=True)
def keys(t, a):  # pragma: no cover - numba
    """Weight at any signed distance ``t`` (0 from 2 on)."""
    t = abs(t)
    if t <= 1.0:
        return keys_near(t, a)
    if t < 2.0:
        return keys_far(t, a)
    return 0.0


@nb.njit(cache=True, nogil=True)
def keys4(f, a):  # pragma: no cover - numba
    """The four tap weights of a sample at fraction ``f`` in [0, 1) past its second tap (distances 1+f, f, 1-f, 2-f).

    Branch-free (each distance's branch is known), so loops calling it vectorise.
    """
    one = _like(a, 1.0)
    return keys_far(one + f, a), keys_near(f, a), keys_near(one - f, a), keys_far(_like(a, 2.0) - f, a)


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
