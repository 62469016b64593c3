"""The eight-lane operations of the resize's lane order (geoaug.kernels.vec8) against numpy.

Each intrinsic is compiled into a small kernel here and checked value for value against the numpy
expression its docstring gives, with the rounding the scalar kernels use: one fused multiply-add
where they contract (numpy has none, so the float32 oracles compute in float64 and round once,
which is what a fused multiply-add of float32 operands gives), integer stores rounded half to
even and saturated. Offsets and strides that are not multiples of eight, short blocks (fewer than
eight rows stored) and every store dtype are covered.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from geoaug.kernels.vec8 import dot8, lerp8, lerp8x8, store8x8, transpose8, vert8

U = np.uint64


@numba.njit(cache=True)
def _transpose(a, ao, astr, b, bo, bstr):  # pragma: no cover - numba
    transpose8(a, U(ao), U(astr), b, U(bo), U(bstr))


@numba.njit(cache=True)
def _lerp(a, ka, f, b, kb):  # pragma: no cover - numba
    lerp8(a, U(ka), f, b, U(kb))


@numba.njit(cache=True)
def _dot(a, idx, w, j, k, b, kb):  # pragma: no cover - numba
    dot8(a, idx, w, j, k, b, U(kb))


@numba.njit(cache=True)
def _store(a, ao, b, bo, bstr, n, lo, hi):  # pragma: no cover - numba
    store8x8(a, U(ao), b, U(bo), U(bstr), n, lo, hi)


@numba.njit(cache=True)
def _lerp_store(a, x0, fx, j, b, bo, bstr, n, lo, hi):  # pragma: no cover - numba
    lerp8x8(a, x0, fx, U(j), b, U(bo), U(bstr), n, lo, hi)


@numba.njit(cache=True)
def _vert(src, plane, width, iy, wy, ib, n, xs, xe, b, bo):  # pragma: no cover - numba
    vert8(src, U(plane), U(width), iy, wy, ib, n, U(xs), U(xe), b, U(bo))


def _fma32(a, b, c):
    """float32 fused multiply-add: the float64 product and sum of float32 operands, rounded once."""
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose8_moves_every_value_and_nothing_else(dtype) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=200).astype(dtype)
    b = np.full(300, -7.0, dtype=dtype)
    _transpose(a, 3, 13, b, 5, 11)
    expected = np.full(300, -7.0, dtype=dtype)
    for r in range(8):
        for c in range(8):
            expected[5 + c * 11 + r] = a[3 + r * 13 + c]
    np.testing.assert_array_equal(b, expected)


def test_lerp8_is_one_fused_multiply_add_per_lane() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(1000.0, 300.0, 64).astype(np.float32)
    b = np.zeros(40, dtype=np.float32)
    f = np.float32(0.3137)
    _lerp(a, 9, f, b, 17)
    p, q = a[9:17], a[17:25]
    np.testing.assert_array_equal(b[17:25], _fma32(f, q - p, p))
    assert not b[:17].any() and not b[25:].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot8_sums_the_taps_in_order_from_zero(dtype) -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(100.0, 30.0, 8 * 20).astype(dtype)
    idx = rng.integers(0, 19, (6, 7)).astype(np.uint64)
    w = rng.normal(0.0, 1.0, (6, 7)).astype(dtype)
    b = np.zeros(64, dtype=dtype)
    _dot(a, idx, w, 4, 5, b, 8)
    acc = np.zeros(8, dtype=dtype)
    for q in range(5):
        v = a[8 * int(idx[4, q]):][:8]
        acc = _fma32(w[4, q], v, acc) if dtype == np.float32 else w[4, q] * v + acc
    np.testing.assert_allclose(b[8:16], acc, rtol=0, atol=0 if dtype == np.float32 else 1e-12)
    assert not b[:8].any() and not b[16:].any()


def _rounded(v: np.ndarray, dtype) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return v.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32])
@pytest.mark.parametrize("n", [8, 5, 1])
def test_store8x8_rounds_half_to_even_saturates_and_stores_n_rows(dtype, n: int) -> None:
    work = np.float64 if dtype == np.int32 else np.float32
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 40000.0, 80).astype(work)
    a[[1, 2, 3, 10]] = [2.5, 3.5, -2.5, 1e12]  # halves go to even; out of range saturates
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = work(info.min), work(info.max)
    else:
        lo = hi = work(0)
    b = np.full(8 * 30, 7, dtype=dtype)
    _store(a, 4, b, 6, 30, n, lo, hi)
    expected = np.full(8 * 30, 7, dtype=dtype)
    for r in range(n):
        expected[6 + 30 * r:][:8] = _rounded(a[4 + r + 8 * np.arange(8)], dtype)
    np.testing.assert_array_equal(b, expected)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_lerp8x8_equals_lerp8_then_store8x8(dtype) -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(3000.0, 900.0, 8 * 40).astype(np.float32)
    x0 = rng.integers(0, 38, 20).astype(np.uint32)
    fx = rng.random(20).astype(np.float32)
    lo, hi = (np.float32(0), np.float32(65535)) if dtype == np.uint16 else (np.float32(0), np.float32(0))
    b = np.zeros(6 * 25, dtype=dtype)
    _lerp_store(a, x0, fx, 9, b, 3, 25, 6, lo, hi)
    block = np.zeros(64, dtype=np.float32)
    for c in range(8):
        _lerp(a, 8 * int(x0[9 + c]), fx[9 + c], block, 8 * c)
    expected = np.zeros(6 * 25, dtype=dtype)
    _store(block, 0, expected, 3, 25, 6, lo, hi)
    np.testing.assert_array_equal(b, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.int32, np.float64])
@pytest.mark.parametrize("n", [8, 3])
def test_vert8_weighs_two_rows_per_lane_and_repeats_the_last_row(dtype, n: int) -> None:
    work = np.float64 if dtype in (np.int32, np.float64) else np.float32
    rng = np.random.default_rng(5)
    bands, h, w = 2, 12, 37
    src = rng.integers(-100 if np.dtype(dtype).kind != "u" else 0, 250, (bands, h, w)).astype(dtype)
    iy = rng.integers(0, h, (20, 6)).astype(np.int64)
    wy = rng.random((20, 6)).astype(work)
    ib, plane, xs, xe = 4, h * w, 3, 35  # band 1, columns 3 .. 34
    b = np.zeros(8 * 40, dtype=work)
    _vert(src.ravel(), plane, w, iy, wy, ib, n, xs, xe, b, 8)
    for r in range(8):
        i = ib + min(r, n - 1)
        v0 = src[1, iy[i, 0], xs:xe].astype(work)
        v1 = src[1, iy[i, 1], xs:xe].astype(work)
        want = _fma32(wy[i, 0], v0, wy[i, 1] * v1) if work == np.float32 else wy[i, 0] * v0 + wy[i, 1] * v1
        got = b[8 + r::8][: xe - xs]
        np.testing.assert_allclose(got, want, rtol=0, atol=0 if work == np.float32 else 1e-9)
    assert not b[:8].any() and not b[8 + 8 * (xe - xs):].any()
