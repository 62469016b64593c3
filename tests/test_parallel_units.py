"""The parallel warp's units: band groups over chunks of output rows give what one thread gives, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from geoaug.kernels import warp as warp_module
from geoaug.kernels.warp import parallel_units, warp_affine


def _rotation(deg: float, h: int, w: int, shift: float = 0.0) -> np.ndarray:
    th = np.deg2rad(deg)
    c, s = np.cos(th), np.sin(th)
    cx, cy = w / 2, h / 2
    return np.array([[c, -s, cx - c * cx + s * cy + shift], [s, c, cy - s * cx - c * cy - shift], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize(("nbands", "out_h", "group", "nthreads"),
                         [(13, 512, 4, 2), (200, 256, 8, 2), (12, 256, 8, 2), (1, 512, 4, 2), (4, 7, 2, 4),
                          (3, 1, 1, 2), (13, 64, 32, 1), (5, 300, 2, 8)])
def test_units_cover_every_band_and_row_once(nbands: int, out_h: int, group: int, nthreads: int) -> None:
    g, nrc, nunits = parallel_units(nbands, out_h, group, nthreads)
    assert 1 <= g <= max(group, 1) and nunits == nrc * -(-nbands // g)
    if nthreads == 1:
        assert (nrc, nunits) == (1, 1)
    seen = np.zeros((nbands, out_h), dtype=np.int64)
    for u in range(nunits):  # the parallel entries' arithmetic, unit by unit
        gi, rc = divmod(u, nrc)
        ga = gi * g
        seen[ga:min(ga + g, nbands), rc * out_h // nrc:(rc + 1) * out_h // nrc] += 1
    assert (seen == 1).all()


def test_many_bands_are_cut_into_band_groups_not_short_row_chunks() -> None:
    # 200 bands 256 wide: 25 groups of 8 bands, each over every row (short row chunks re-read the input)
    assert parallel_units(200, 256, 8, 2) == (8, 1, 25)
    # one band: the rows are cut instead, about 4 units per thread
    assert parallel_units(1, 512, 4, 2) == (1, 8, 8)
    # 12 bands in groups of at most 8: two even groups of 6, not 8 + 4
    assert parallel_units(12, 256, 8, 2)[0] == 6


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("planes", [0, 1, 7])
@pytest.mark.parametrize("fill", ["nodata", "constant", "reflect"])
def test_parallel_units_equal_one_thread(monkeypatch: pytest.MonkeyPatch, interpolation: str, planes: int,
                                         fill: str) -> None:
    rng = np.random.default_rng(5)
    src = rng.integers(0, 60000, (7, 45, 61)).astype(np.uint16)
    mask = None if planes == 0 else rng.random((planes, 45, 61)) > 0.2
    m = _rotation(23.0, 45, 61, shift=6.0)
    kw = dict(fill=fill, fill_value=11.0, out_fill=5.0, return_all_valid=True)
    monkeypatch.setattr(warp_module, "_GROUP_COLUMNS", 2 * 70)  # 70 wide: groups of 2 bands, 4 groups
    monkeypatch.setattr(warp_module, "_GROUP_COLUMNS_CUBIC", 2 * 70)
    monkeypatch.setattr(warp_module, "_GROUP_AREA_CUBIC_NARROW", 2 * 70 * 70)  # uint16 cubic: by width squared
    code = warp_module.INTERPOLATIONS[interpolation]
    assert warp_module._band_group(70, code, src.itemsize) == 2
    serial = warp_affine(src, mask, m, (52, 70), interpolation, **kw)
    monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    assert parallel_units(7, 52, warp_module._band_group(70, code, 2), 2)[2] > 4  # several groups and row chunks
    parallel = warp_affine(src, mask, m, (52, 70), interpolation, **kw)
    np.testing.assert_array_equal(serial[0], parallel[0])
    assert serial[2] == parallel[2]
    if serial[1] is not None:
        np.testing.assert_array_equal(serial[1], parallel[1])


def test_nearest_counts_its_work_per_pixel_not_per_band(monkeypatch: pytest.MonkeyPatch) -> None:
    # the production threshold (the suite runs with higher ones), 2 threads: a 13 x 64² nearest warp runs on one
    # thread (its parallel launch measured 1.14-1.34x slower), 13 x 120² and 1 x 256² take the parallel entry,
    # and a bilinear 13 x 64² warp (four taps a band) still does
    from conftest import PRODUCTION_THRESHOLDS

    monkeypatch.setattr(warp_module, "PARALLEL_MIN_WORK", PRODUCTION_THRESHOLDS[("warp", "PARALLEL_MIN_WORK")])
    monkeypatch.setattr(warp_module.threads, "num_threads", lambda: 2)
    calls: list[str] = []
    real_nearest, real_bilinear = warp_module.nearest.nearest_parallel, warp_module._ENTRIES[1]

    def counting(name: str, fn: object) -> object:  # a test double: counts the calls of ``fn``
        def run(*args: object) -> object:
            calls.append(name)
            return fn(*args)
        return run

    monkeypatch.setattr(warp_module.nearest, "nearest_parallel", counting("nearest", real_nearest))
    monkeypatch.setitem(warp_module._ENTRIES, 1, (real_bilinear[0], counting("bilinear", real_bilinear[1])))
    for (bands, side), interpolation, parallel in [((13, 64), "nearest", False), ((4, 128), "nearest", False),
                                                   ((13, 120), "nearest", True), ((1, 256), "nearest", True),
                                                   ((13, 64), "bilinear", True)]:
        calls.clear()
        src = np.zeros((bands, side, side), np.uint16)
        warp_affine(src, None, _rotation(17.0, side, side), (side, side), interpolation)
        assert calls == ([interpolation] if parallel else []), (bands, side, interpolation)


def test_band_groups_of_each_interpolation() -> None:
    """Nearest and bilinear take about _GROUP_COLUMNS output columns of bands per pass whatever the dtype; cubic
    _GROUP_COLUMNS_CUBIC of 4- and 8-byte data and _GROUP_AREA_CUBIC_NARROW of the width squared of narrower data."""
    w = warp_module
    for out_w in (64, 120, 256, 512, 5000):
        for itemsize in (1, 2, 4, 8):
            for code in (0, 1):
                assert w._band_group(out_w, code, itemsize) == max(1, w._GROUP_COLUMNS // out_w)
            cubic = w._band_group(out_w, 2, itemsize)
            assert cubic == (min(max(1, w._GROUP_AREA_CUBIC_NARROW // out_w ** 2), w._GROUP_MAX_CUBIC_NARROW)
                             if itemsize <= 2 else max(1, w._GROUP_COLUMNS_CUBIC // out_w))
    assert w._band_group(512, 2, 2, 13) == 3 and w._band_group(512, 2, 4, 13) == 6
    # narrow data at 256 wide: 12 bands in one pass, 200 in passes of at most 8
    assert w._band_group(256, 2, 2, 12) == 12 and w._band_group(256, 2, 2, 200) == 8
    # cubic rasters of up to _ONE_PASS_BANDS bands: one pass; more: the rules above; nearest and bilinear ignore it
    for nbands in range(1, w._ONE_PASS_BANDS + 1):
        assert w._band_group(512, 2, 2, nbands) == nbands and w._band_group(5000, 2, 4, nbands) == nbands
        assert w._band_group(5000, 1, 2, nbands) == 1 and w._band_group(5000, 0, 2, nbands) == 1
    assert w._band_group(512, 2, 2, w._ONE_PASS_BANDS + 1) == 3
    assert w._GROUP_COLUMNS != w._GROUP_COLUMNS_CUBIC


def test_bilinear_passes_of_a_large_input_fit_one_cores_l2() -> None:
    """A bilinear input of more than _BIG_INPUT bytes with small planes takes at most _PASS_PLANE_BYTES of planes
    per pass; smaller inputs, larger planes, nearest and cubic keep their rules."""
    w = warp_module
    plane = 256 * 256
    assert w._band_group(256, 1, 4, 200, plane) == 4  # 2 MB of float32 planes a pass by columns: 1 MB
    assert w._band_group(256, 1, 4, 50, plane) == 4
    assert w._band_group(256, 1, 2, 200, plane) == 8  # uint16: 8 planes are 1 MB already
    assert w._band_group(256, 1, 4, 12, plane) == 8  # 3 MB in all: stays in cache, the column rule
    assert w._band_group(512, 1, 4, 13, 512 * 512) == 4  # 1 MB planes: fewer than four fit
    assert w._band_group(256, 0, 4, 200, plane) == 8 and w._band_group(256, 2, 4, 200, plane) == 12


@pytest.mark.parametrize("planes", [0, 1])
def test_bilinear_large_input_rule_keeps_the_bits(monkeypatch: pytest.MonkeyPatch, planes: int) -> None:
    """Passes of fewer bands compute every band as before: the same output, bit for bit."""
    rng = np.random.default_rng(8)
    src = (rng.random((9, 40, 48)) * 1000).astype(np.float32)
    mask = None if planes == 0 else rng.random((1, 40, 48)) > 0.1
    m = _rotation(19.0, 40, 48, shift=3.0)
    monkeypatch.setattr(warp_module, "_GROUP_COLUMNS", 8 * 48)  # the columns give 8 bands a pass (2 of 5)
    warp_module._launch.cache_clear()
    try:
        before = warp_affine(src, mask, m, (40, 48), "bilinear", return_all_valid=True)
        pb = 40 * 48 * 4
        monkeypatch.setattr(warp_module, "_BIG_INPUT", pb)  # 9 planes are "large" ...
        monkeypatch.setattr(warp_module, "_PASS_PLANE_BYTES", 4 * pb)  # ... and take 4 a pass (3 of 3)
        warp_module._launch.cache_clear()
        assert warp_module._band_group(48, 1, 4, 9, 40 * 48) == 4
        after = warp_affine(src, mask, m, (40, 48), "bilinear", return_all_valid=True)
    finally:
        warp_module._launch.cache_clear()
    np.testing.assert_array_equal(before[0], after[0])
    assert before[2] == after[2]
    if before[1] is not None:
        np.testing.assert_array_equal(before[1], after[1])
