"""Parallel entries call their row kernel through its address (geoaug/kernels/indirect.py).

Each parallel entry must give what the serial path gives, byte for byte, whatever the flags of the arrays
passed through (read-only inputs, a user's ``out=``), and must call the very overload whose address the
Python side looked up: if the two resolved different types, the row kernel would gain a second overload.
"""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from geoaug.kernels import blur, flip, indirect, remap, resize, warp
from geoaug.kernels.remap import remap_field
from geoaug.kernels.warp import warp_affine

M = np.array([[0.93, -0.36, 14.0], [0.36, 0.93, -9.0], [0.0, 0.0, 1.0]])  # about 21 degrees, shifted


def _force_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warp, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(remap, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(resize, "SERIAL_BELOW", 0)
    monkeypatch.setattr(blur, "SERIAL_BELOW", 0)
    monkeypatch.setattr(flip, "SERIAL_BELOW", 0)
    monkeypatch.setattr(warp.threads, "num_threads", lambda: 2)


def _read_only(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = a.copy()
    a.flags.writeable = False
    return a


def _row_kernel(interpolation: str):
    return {"nearest": warp.nearest.nearest_rows, "bilinear": warp._rows_bilinear,
            "cubic": warp._rows_cubic}[interpolation]


# read-only inputs type the row kernel apart (a compile of its own): checked with one interpolation, to keep
# the suite's compile time down
@pytest.mark.parametrize(("interpolation", "read_only"),
                         [("nearest", False), ("bilinear", False), ("cubic", False), ("bilinear", True)])
@pytest.mark.parametrize("masked", [False, True])
def test_parallel_warp_equals_serial_and_uses_the_looked_up_overload(monkeypatch: pytest.MonkeyPatch,
                                                                     interpolation: str, read_only: bool,
                                                                     masked: bool) -> None:
    rng = np.random.default_rng(3)
    src = rng.integers(-3000, 9000, (5, 40, 57)).astype(np.int16)
    mask = rng.random((1, 40, 57)) > 0.1 if masked else None
    m = M
    if read_only:
        src, mask, m = _read_only(src), _read_only(mask), _read_only(M)
    kw = dict(fill="reflect", out_fill=-7.0, return_all_valid=True)
    serial = warp_affine(src, mask, m, (44, 50), interpolation, **kw)
    kernel = _row_kernel(interpolation)
    before = set(kernel.overloads)
    _force_parallel(monkeypatch)
    out = np.full((5, 44, 50), 1, np.int16)
    parallel = warp_affine(src, mask, m, (44, 50), interpolation, out=out, **kw)
    assert parallel[0] is out
    np.testing.assert_array_equal(serial[0], parallel[0])
    assert serial[2] == parallel[2]
    if serial[1] is not None:
        np.testing.assert_array_equal(serial[1], parallel[1])
    # the serial call compiled (or found) the row kernel for these types; the parallel one added nothing
    assert set(kernel.overloads) == before


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("masked", [False, True])
def test_parallel_remap_equals_serial(monkeypatch: pytest.MonkeyPatch, interpolation: str, masked: bool) -> None:
    rng = np.random.default_rng(4)
    src = rng.random((3, 37, 45)).astype(np.float32) * 100
    mask = rng.random((3, 37, 45)) > 0.05 if masked else None
    field = rng.normal(0.0, 3.0, (2, 4, 5))
    serial = remap_field(src, mask, field, interpolation, "nodata", out_fill=-1.0)
    rows = getattr(remap, f"_rows_{interpolation}")
    before = set(rows.overloads)
    _force_parallel(monkeypatch)
    parallel = remap_field(src, mask, field, interpolation, "nodata", out_fill=-1.0)
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])
    assert set(rows.overloads) == before


@pytest.mark.parametrize("order", ["rows", "columns", "lanes"])
@pytest.mark.parametrize("masked", [False, True])
def test_parallel_resize_equals_serial(monkeypatch: pytest.MonkeyPatch, order: str, masked: bool) -> None:
    rng = np.random.default_rng(8)
    src = rng.integers(0, 60000, (3, 50, 61)).astype(np.uint16)
    mask = rng.random((1, 50, 61)) > 0.05 if masked else None
    monkeypatch.setattr(resize, "_ORDER", order)
    args = (src, mask, (50 / 37, 61 / 80), (0.0, 0.0), (37, 80), (resize.CUBIC, resize.LINEAR))
    serial = resize.resize_separable(*args)
    worker = getattr(resize, f"_work_{order}")
    before = set(worker.overloads)
    _force_parallel(monkeypatch)
    parallel = resize.resize_separable(*args)
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])
    assert set(worker.overloads) == before


@pytest.mark.parametrize("masked", [False, True])
def test_parallel_blur_equals_serial(monkeypatch: pytest.MonkeyPatch, masked: bool) -> None:
    rng = np.random.default_rng(9)
    src = rng.integers(0, 60000, (5, 40, 47)).astype(np.uint16)
    mask = rng.random((1, 40, 47)) > 0.05 if masked else None
    args = (src, mask, blur.gaussian_taps(1.2), "reflect", 0.5)  # Sharpen's path: the blur and the blend
    serial = blur.convolve_separable(*args)
    before = set(blur._chunk.overloads)
    _force_parallel(monkeypatch)
    parallel = blur.convolve_separable(*args)
    np.testing.assert_array_equal(serial, parallel)
    assert set(blur._chunk.overloads) == before


@pytest.mark.parametrize("plan", [(0, 0, 1, 56, -1, 0), (39, -1, 0, 0, 0, 1), (0, 1, 0, 56, 0, -1)],
                         ids=["rot90", "vflip", "hflip"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("read_only", [False, True])
def test_parallel_copy_equals_serial(monkeypatch: pytest.MonkeyPatch, plan: tuple, masked: bool,
                                     read_only: bool) -> None:
    rng = np.random.default_rng(10)
    src = rng.integers(-3000, 9000, (5, 40, 57)).astype(np.int16)
    mask = rng.random((5, 40, 57)) > 0.1 if masked else None
    if read_only:
        src, mask = _read_only(src), _read_only(mask)
    out_shape = (57, 40) if plan[2] else (40, 57)
    monkeypatch.setattr(flip, "_LAUNCHES", {})
    serial = flip.index_copy(src, mask, plan, out_shape)
    before = set(flip._copy_ser.overloads)
    _force_parallel(monkeypatch)
    out = np.full((5, *out_shape), 7, np.int16)
    parallel = flip.index_copy(src, mask, plan, out_shape, out=out)
    assert parallel[0] is out
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])
    assert set(flip._copy_ser.overloads) == before  # the address is the serial path's overload


def test_address_is_looked_up_once_per_key() -> None:
    src = np.zeros((1, 4, 4), np.uint16)
    cf = np.zeros((2, 2, 4))  # the field's rows at every output column (remap_field makes them)
    mask, dst, dmask = np.ones((1, 4, 4), bool), src.copy(), np.ones((1, 4, 4), bool)
    iscr, fscr, st = np.zeros((remap._NI, 4), np.int64), np.zeros((5, 4), np.float32), np.zeros(4, np.uint8)
    tscr = np.zeros((2, 4), np.uint32)  # the bilinear gather's rows: uint16 taps two to a word
    args = (src, mask, True, cf, dst, dmask, 0, 4, 0, 0.0, np.uint16(0), -0.75, iscr, fscr, tscr, st,
            remap._NOT_LOOKING)
    key = ("test_address_is_looked_up_once_per_key",)
    try:
        addr = indirect.address(remap._rows_bilinear, key, lambda: args)
        cres = remap._rows_bilinear.overloads[tuple(remap.nb.typeof(v) for v in args)]
        assert addr == cres.library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name) != 0
        hit = indirect.address(remap._rows_bilinear, key, lambda: pytest.fail("a hit must not build the sample"))
        assert hit == addr
    finally:
        indirect._ADDRESSES.pop((remap._rows_bilinear, key), None)


def _child(q: mp.Queue) -> None:
    from geoaug.kernels import threads

    warp.PARALLEL_MIN_WORK = 0
    threads.num_threads = lambda: 2
    rng = np.random.default_rng(6)
    src = rng.integers(0, 60000, (4, 33, 41)).astype(np.uint16)
    q.put(warp_affine(src, None, M, (30, 36), "bilinear")[0].tobytes())


def test_forked_child_calls_the_inherited_address(monkeypatch: pytest.MonkeyPatch) -> None:
    # the parent has looked the address up (and run the parallel entry); a forked child uses it as is
    _force_parallel(monkeypatch)
    rng = np.random.default_rng(6)
    src = rng.integers(0, 60000, (4, 33, 41)).astype(np.uint16)
    here = warp_affine(src, None, M, (30, 36), "bilinear")[0].tobytes()
    assert any(k[0] is warp._rows_bilinear for k in indirect._ADDRESSES)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    got = q.get(timeout=120)
    p.join(timeout=60)
    assert p.exitcode == 0 and got == here
