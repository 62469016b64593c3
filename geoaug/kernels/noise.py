"""Counter-based Gaussian noise: the same numbers for a seed whatever the threads, fast in parallel.

Element ``i`` of a noise field depends only on ``(seed, i)``: pairs of elements
``(2k, 2k + 1)`` come from one SplitMix64 hash of ``(seed, k)`` through the
Box-Muller transform. No generator state is carried between elements, so
rows are filled in parallel and a band can be made alone (``offset``).
Values are standard normal (computed in float32 with 24-bit uniforms, so truncated at
about 5.8 sigma).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from . import threads
from .borrowing import borrowing_jit
from .diskcache import lock_disk_cache

__all__ = ["SERIAL_BELOW", "gaussian_noise"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@nb.njit(cache=True, inline="always")
def _splitmix64(x):  # pragma: no cover - numba
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always", fastmath=True)
def _pair(key, pair):  # pragma: no cover - numba
    """The two normals of pair ``pair``: (r cos t, r sin t), in float32 arithmetic."""
    h = _splitmix64(key ^ (np.uint64(pair) * _GOLDEN))
    u1 = (np.float32(h >> np.uint64(40)) + np.float32(1.0)) * np.float32(1.0 / 16777216.0)
    u2 = np.float32((h >> np.uint64(8)) & np.uint64(0xFFFFFF)) * np.float32(1.0 / 16777216.0)
    r = np.sqrt(np.float32(-2.0) * np.log(u1))
    # one sine for both: the angle's quarter gives cos from sin
    t = np.float32(2.0 * np.pi) * u2
    sn = np.sin(t)
    cs = np.sqrt(max(np.float32(1.0) - sn * sn, np.float32(0.0)))
    if np.float32(0.25) < u2 < np.float32(0.75):
        cs = -cs
    return r * cs, r * sn


@nb.njit(cache=True, inline="always")
def _noise_row(key, offset, i, cols, out):  # pragma: no cover - numba
    start = offset + i * cols
    j = 0
    if start & 1:  # the row starts on the second element of a pair
        out[i, 0] = _pair(key, start >> 1)[1]
        j = 1
    while j + 1 < cols:
        c, s = _pair(key, (start + j) >> 1)
        out[i, j] = c
        out[i, j + 1] = s
        j += 2
    if j < cols:
        out[i, j] = _pair(key, (start + j) >> 1)[0]


@nb.njit(cache=True, parallel=True, nogil=True)
def _noise(seed, offset, rows, cols, out):  # pragma: no cover - numba
    key = _splitmix64(np.uint64(seed))
    for i in nb.prange(rows):
        _noise_row(key, offset, i, cols, out)


@borrowing_jit()
def _noise_ser(seed, offset, rows, cols, out):  # pragma: no cover - numba
    key = _splitmix64(np.uint64(seed))
    for i in range(rows):
        _noise_row(key, offset, i, cols, out)


#: fields smaller than this many values are made on one thread
SERIAL_BELOW = 1 << 15


def gaussian_noise(seed: int, shape: tuple[int, int], offset: int = 0, dtype: np.dtype = np.float32) -> np.ndarray:
    """Standard normal noise of ``shape`` (rows, cols): elements ``offset .. offset + rows*cols`` of stream ``seed``.

    Parameters
    ----------
    seed : int
        0 .. 2**64 - 1.
    shape : (rows, cols)
        Size of the field to make.
    offset : int
        Index of the first element in the stream (band ``b`` of a (bands, rows,
        cols) field starts at ``b * rows * cols``).
    dtype : float32 or float64
        Output dtype.

    Examples
    --------
    >>> a = gaussian_noise(7, (2, 3))
    >>> b = gaussian_noise(7, (1, 3), offset=3)
    >>> bool((a[1] == b[0]).all())
    True
    """
    out = np.empty(shape, dtype=dtype)
    kernel = _noise if out.size >= SERIAL_BELOW and threads.num_threads() > 1 else _noise_ser
    with threads.launch_lock:
        kernel(np.uint64(int(seed) % 2**64), int(offset), int(shape[0]), int(shape[1]), out)
    return out


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
