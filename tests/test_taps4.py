"""The cubic per-pixel vector sums (geoaug.kernels.taps4: the warp's ``cubic4``, the remap's ``cubic4_rows``)
against numpy.

Each reads four values from each of four rows of one plane and weighs them with a pixel's eight weights.
One-hot weights pick single taps, so they check every tap's place (plane, offset, row stride) and that
integers convert exactly; random weights check the sum against float64 within the work precision, and
``cubic4_rows`` bit for bit against the remap's loop order, each operation rounded in the work dtype.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from geoaug.kernels.dtypes import work_dtype
from geoaug.kernels.taps4 import cubic4, cubic4_rows

DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]


@numba.njit(cache=False)  # an edit of taps4.py must reach it (numba's cache checks this file only)
def _sum(src, b, o, in_w, w, j):  # pragma: no cover - numba
    return cubic4(src, b, np.uint64(o), np.uint64(in_w), w, np.uint64(j))


@numba.njit(cache=False)
def _sum_rows(src, b, o, in_w, w, j):  # pragma: no cover - numba
    return cubic4_rows(src, b, np.uint64(o), np.uint64(in_w), w, np.uint64(j))


SUMS = {"cubic4": _sum, "cubic4_rows": _sum_rows}


def _case(seed: int, dtype: str, bands: int, h: int, in_w: int) -> tuple:
    """``(rng, src, work dtype)``: a generator, random ``(bands, h * in_w)`` planes of ``dtype`` drawn from it (the
    whole range of an integer dtype), and the work dtype its weights take."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        src = rng.normal(0, 1000, (bands, h * in_w)).astype(dt)
    else:
        info = np.iinfo(dt)
        src = rng.integers(info.min, info.max, (bands, h * in_w), endpoint=True).astype(dt)
    return rng, src, np.dtype(work_dtype(dt))


@pytest.mark.parametrize("name", sorted(SUMS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_hot_weights_pick_each_tap_exactly(dtype: str, name: str) -> None:
    in_w = 11
    _, src, wt = _case(3, dtype, 3, 9, in_w)
    for b, y, x in ((0, 0, 0), (2, 5, 7), (1, 3, 2)):
        o = y * in_w + x
        for ty in range(4):
            for tx in range(4):
                w = np.zeros(8 * 3, dtype=wt)
                j = 1  # the pixel's weights at w[8:16]
                w[8 + tx] = 1
                w[8 + 4 + ty] = 1
                got = SUMS[name](src, b, o, in_w, w, j)
                assert got == wt.type(src[b, o + ty * in_w + tx]), (b, y, x, ty, tx)


@pytest.mark.parametrize("name", sorted(SUMS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_weighted_sum_matches_float64(dtype: str, name: str) -> None:
    bands, h, in_w = 2, 8, 13
    rng, src, wt = _case(5, dtype, bands, h, in_w)
    eps = np.finfo(wt).eps
    for _ in range(200):
        b = int(rng.integers(bands))
        y, x = int(rng.integers(h - 3)), int(rng.integers(in_w - 3))
        j = int(rng.integers(4))
        w = rng.uniform(-0.7, 1.2, 8 * 4).astype(wt)
        o = y * in_w + x
        taps = src[b].reshape(h, in_w)[y:y + 4, x:x + 4].astype(np.float64)
        wx, wy = w[8 * j:8 * j + 4].astype(np.float64), w[8 * j + 4:8 * j + 8].astype(np.float64)
        terms = wy[:, None] * taps * wx[None, :]
        got = SUMS[name](src, b, o, in_w, w, j)
        assert float(wt.type(got)) == got  # a value of the work dtype
        assert abs(float(got) - terms.sum()) <= 8 * eps * np.abs(terms).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_sum_in_the_remap_loops_order(dtype: str) -> None:
    """``cubic4_rows`` gives the bits of the scalar loop it replaced in the remap: each tap row
    ``((wx0 p0 + wx1 p1) + wx2 p2) + wx3 p3``, then ``(((0 + wy0 r0) + wy1 r1) + wy2 r2) + wy3 r3``, every
    operation rounded in the work dtype (numpy scalars of that dtype do the same)."""
    bands, h, in_w = 2, 9, 12
    rng, src, wt = _case(7, dtype, bands, h, in_w)
    for _ in range(300):
        b = int(rng.integers(bands))
        y, x = int(rng.integers(h - 3)), int(rng.integers(in_w - 3))
        j = int(rng.integers(4))
        w = rng.uniform(-0.7, 1.2, 8 * 4).astype(wt)
        if rng.random() < 0.2:  # zero weights, so that -0.0 products turn up
            w[rng.integers(0, w.size, 6)] = 0
        o = y * in_w + x
        taps = src[b].reshape(h, in_w)[y:y + 4, x:x + 4].astype(wt)
        wx, wy = w[8 * j:8 * j + 4], w[8 * j + 4:8 * j + 8]
        acc = wt.type(0)
        for ty in range(4):
            r = wx[0] * taps[ty, 0] + wx[1] * taps[ty, 1]
            r = r + wx[2] * taps[ty, 2]
            r = r + wx[3] * taps[ty, 3]
            acc = acc + wy[ty] * r
        got = _sum_rows(src, b, o, in_w, w, j)
        assert np.array([got], dtype=wt).tobytes() == np.array([acc], dtype=wt).tobytes(), (b, y, x, j)
