"""The blur's parallel units: runs of rows that start and end inside bands give the serial call's bits.

A unit that begins or ends inside a band passes horizontally only the input rows its own output rows read
(every fill mode maps the rows outside the band: ``wrap`` reads rows at the far edge). The serial call passes
each band whole. These tests force the parallel entry with more units than threads, so that every kind of
cut (mid-band, at a band's first and last rows, a unit inside one band, a unit over several) is met.
"""

from __future__ import annotations

import numpy as np
import pytest

from geoaug.kernels import blur
from geoaug.kernels.cache import LINE_BYTES

MODES = ["nodata", "edge", "reflect", "mirror", "wrap"]


def _serial(monkeypatch: pytest.MonkeyPatch, *args, **kw) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(blur, "SERIAL_BELOW", 1 << 62)
        return blur.convolve_separable(*args, **kw)


def _parallel(monkeypatch: pytest.MonkeyPatch, nthreads: int, *args, **kw) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(blur, "SERIAL_BELOW", 0)
        m.setattr(blur.threads, "num_threads", lambda: nthreads)
        return blur.convolve_separable(*args, **kw)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(1, 37, 23), (3, 29, 40), (2, 5, 9), (1, 2, 31)], ids=str)
@pytest.mark.parametrize("nthreads", [2, 3, 7])
def test_runs_of_rows_give_the_serial_bits(monkeypatch: pytest.MonkeyPatch, mode: str, shape: tuple,
                                           nthreads: int) -> None:
    rng = np.random.default_rng(sum(shape) + nthreads)
    src = rng.integers(0, 60000, shape).astype(np.uint16)
    taps = blur.gaussian_taps(1.3)  # radius 4: rows mapped from past both edges of a 5-row band too
    want = _serial(monkeypatch, src, None, taps, mode)
    got = _parallel(monkeypatch, nthreads, src, None, taps, mode)
    np.testing.assert_array_equal(got, want)
    # the units were runs of rows (fewer bands than units), not whole bands
    assert shape[0] < blur.UNITS_PER_THREAD * nthreads


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("planes", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "int16", "float64"])
def test_masked_sharpen_in_runs_gives_the_serial_bits(monkeypatch: pytest.MonkeyPatch, mode: str, planes: int,
                                                      dtype: str) -> None:
    """Masks shared and per band, the unsharp blend (it reads the output row's own input row), float and integer
    stores: the normalised convolution's weights are the whole raster's, read per unit."""
    rng = np.random.default_rng(planes)
    src = (rng.standard_normal((3, 33, 21)) * 900).astype(dtype)
    mask = rng.random((planes, 33, 21)) > 0.15
    taps = blur.gaussian_taps(0.9)
    want = _serial(monkeypatch, src, mask, taps, mode, amount=0.6)
    got = _parallel(monkeypatch, 5, src, mask, taps, mode, amount=0.6)
    np.testing.assert_array_equal(got, want)


def test_whole_bands_when_there_are_enough_and_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough bands for every unit: whole bands. In place (the output over its input) whole bands too, whatever
    their number: a run of rows would read input rows another unit had already overwritten."""
    rng = np.random.default_rng(3)
    taps = blur.gaussian_taps(2.0)
    many = rng.integers(0, 255, (9, 40, 17)).astype(np.uint8)
    np.testing.assert_array_equal(_parallel(monkeypatch, 2, many, None, taps, "reflect"),
                                  _serial(monkeypatch, many, None, taps, "reflect"))
    few = rng.integers(0, 60000, (2, 64, 50)).astype(np.uint16)
    want = _serial(monkeypatch, few, None, taps, "mirror", amount=1.5)
    inplace = few.copy()
    got = _parallel(monkeypatch, 3, inplace, None, taps, "mirror", amount=1.5, out=inplace)
    assert got is inplace
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("wd", [1, 7, 16, 120, 131])
@pytest.mark.parametrize("work", [np.float32, np.float64])
def test_each_threads_scratch_rows_are_a_cache_line_apart(wd: int, work: type) -> None:
    """Two threads' padded rows and rows of sums, written for every output pixel, never share a cache line:
    side by side they did, and a 13x120² GaussianBlur ran slower on two threads than on one."""
    h, r = 30, 4
    specs = blur._scratch(2, h, wd, r, np.dtype(work))
    item = np.dtype(work).itemsize
    used = {0: wd + 2 * r, 1: None, 2: wd}  # items of a row each thread writes (the block of rows: below)
    for k, (shape, dt) in enumerate(specs):
        row = int(np.prod(shape[1:])) * np.dtype(dt).itemsize  # one thread's bytes
        if k == 1:  # the horizontal pass's rows: h rows of wd, then at least a line to the next thread's
            written = h * wd * item
        elif k == 3:  # the rows-read flags: a byte per row
            written = h
        else:
            written = used[k] * item
        assert row - written >= LINE_BYTES, (k, shape)
