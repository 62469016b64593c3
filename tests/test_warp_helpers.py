"""The warp row kernels' helpers against brute force: tap codes, row runs and valid spans."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geoaug.kernels.runs import row_runs, valid_span
from geoaug.kernels.warp import _tap_codes


def _codes_reference(plane: np.ndarray, K: int) -> np.ndarray:
    """Per base pixel whose K x K taps lie inside: 2 all valid, 1 mixed, 0 none."""
    win = np.lib.stride_tricks.sliding_window_view(plane, (K, K))
    return win.all(axis=(2, 3)).astype(np.uint8) + win.any(axis=(2, 3)).astype(np.uint8)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 4]), st.integers(1, 40), st.integers(1, 40), st.integers(1, 3), st.floats(0.0, 1.0),
       st.integers(0, 2**31))
def test_tap_codes_match_a_sliding_window(K: int, h: int, w: int, planes: int, p_valid: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((planes, h * w)) < p_valid
    ec = np.full((planes, h * w), 7, dtype=np.uint8)
    _tap_codes(mask, ec, K, w)
    if h < K or w < K:
        return  # no base pixel has its taps inside: nothing is read
    for p in range(planes):
        got = ec[p].reshape(h, w)[: h - K + 1, : w - K + 1]
        np.testing.assert_array_equal(got, _codes_reference(mask[p].reshape(h, w), K))


def _runs_reference(bx, by, n, K, in_w, in_h, incx, incy):
    def span(lo, hi, inc):
        return (lo, n - hi) if inc else (hi, n - lo)

    cnt = lambda m: int(np.count_nonzero(m))  # noqa: E731
    xlo, xhi = span(cnt(bx < 0), cnt(bx + K > in_w), incx)
    ylo, yhi = span(cnt(by < 0), cnt(by + K > in_h), incy)
    jlo = max(xlo, ylo)
    jhi = max(min(xhi, yhi), jlo)
    xlo, xhi = span(cnt(bx + K <= 0), cnt(bx >= in_w), incx)
    ylo, yhi = span(cnt(by + K <= 0), cnt(by >= in_h), incy)
    klo = max(xlo, ylo)
    return jlo, jhi, klo, max(min(xhi, yhi), klo)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 600), st.sampled_from([1, 2, 4]), st.integers(0, 1), st.integers(1, 70), st.integers(1, 70),
       st.floats(-90, 120), st.floats(-90, 120), st.floats(-3, 3), st.floats(-3, 3))
def test_row_runs_by_bisection_match_counting(n: int, K: int, shift: int, in_w: int, in_h: int, x0: float,
                                               y0: float, mx: float, my: float) -> None:
    """The runs of a row (floor of an affine coordinate: monotonic), found by bisection on the line itself,
    equal the counts of a full pass over the stored base taps (shifted one pixel left for cubic)."""
    j = np.arange(n)
    bx = np.floor(x0 + mx * j).astype(np.int64) - shift
    by = np.floor(y0 + my * j).astype(np.int64) - shift
    got = row_runs(x0, mx, y0, my, np.int64(shift), n, np.int64(K), in_w, in_h, np.int64(0), np.int64(0))
    assert tuple(got) == _runs_reference(bx, by, n, K, in_w, in_h, mx >= 0.0, my >= 0.0)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 600), st.integers(1, 70), st.integers(1, 70), st.floats(-90, 120), st.floats(-90, 120),
       st.floats(-3, 3), st.floats(-3, 3))
def test_one_tap_runs_are_the_pixels_inside(n: int, in_w: int, in_h: int, x0: float, y0: float, mx: float,
                                            my: float) -> None:
    """The nearest kernel's run (one tap, no shift): exactly the pixels whose tap lies inside, and the
    touching run is the same."""
    j = np.arange(n)
    bx = np.floor(x0 + mx * j).astype(np.int64)
    by = np.floor(y0 + my * j).astype(np.int64)
    jlo, jhi, klo, khi = row_runs(x0, mx, y0, my, np.int64(0), n, np.int64(1), in_w, in_h, np.int64(0), np.int64(0))
    assert (klo, khi) == (jlo, jhi)
    inside = (bx >= 0) & (bx < in_w) & (by >= 0) & (by < in_h)
    assert inside[jlo:jhi].all() and not inside[:jlo].any() and not inside[jhi:].any()


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300), st.sampled_from([1, 2, 4]), st.integers(0, 1), st.integers(0, 30), st.integers(0, 30),
       st.integers(1, 40), st.integers(1, 40), st.floats(-60, 90), st.floats(-60, 90), st.floats(-3, 3),
       st.floats(-3, 3))
def test_row_runs_of_a_window_are_those_of_its_pixels(n: int, K: int, shift: int, wx: int, wy: int, ww: int,
                                                      wh: int, x0: float, y0: float, mx: float, my: float) -> None:
    """With a window origin (a mask's valid rectangle, kernels/window.py) the runs are those of the taps
    counted against the window's bounds, the taps still in the input's coordinates."""
    j = np.arange(n)
    bx = np.floor(x0 + mx * j).astype(np.int64) - shift - wx
    by = np.floor(y0 + my * j).astype(np.int64) - shift - wy
    got = row_runs(x0, mx, y0, my, np.int64(shift), n, np.int64(K), ww, wh, np.int64(wx), np.int64(wy))
    assert tuple(got) == _runs_reference(bx, by, n, K, ww, wh, mx >= 0.0, my >= 0.0)


def test_runs_of_coordinates_beyond_int64() -> None:
    """A row whose far end lies past the int64 range keeps it on its side: the taps are compared as floats (as
    int64 they wrap to the most negative value, which would put them left of the input and break the order)."""
    n = 100
    # pixel 0's taps (x 9..12, y 4..7) lie inside a 40 x 40 input; pixel 1 on are 1e18 px and more to the right
    got = row_runs(10.0, 1e18, 5.0, 0.0, np.int64(1), n, np.int64(4), 40, 40, np.int64(0), np.int64(0))
    assert tuple(got) == (0, 1, 0, 1)
    # the nearest kernel's run (one tap, no shift): pixel 0's tap (10, 5) inside, the others past the right edge
    got = row_runs(10.0, 1e18, 5.0, 0.0, np.int64(0), n, np.int64(1), 40, 40, np.int64(0), np.int64(0))
    assert tuple(got) == (0, 1, 0, 1)


def test_valid_span_matches_brute_force() -> None:
    rng = np.random.default_rng(6)
    for _ in range(2000):
        n = int(rng.integers(0, 40))
        row = (rng.random(n) < rng.random()).astype(np.uint8)
        if n and rng.random() < 0.5:  # a collar: invalid runs at both ends of every length
            row[: rng.integers(0, n + 1)] = 0
            row[n - rng.integers(0, n + 1):] = 0
        lo = int(rng.integers(0, n + 1))
        hi = int(rng.integers(lo, n + 1))
        seg = row[lo:hi]
        nzero = int((seg == 0).sum())
        vlo, vhi, holes = valid_span(row, lo, hi, nzero)
        ones = np.flatnonzero(seg)
        want = (lo + ones[0], lo + ones[-1] + 1) if ones.size else None
        if want is None:
            assert vlo == vhi and holes == 0
        else:
            assert (vlo, vhi) == want and holes == int((row[vlo:vhi] == 0).sum())
