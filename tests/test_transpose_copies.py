"""The transposing strided copies (rot90, rot270, transpose, anti-transpose, with crops) are exact.

Oracle: numpy (``np.rot90``, ``.transpose``, slicing) on every plan
:func:`geoaug.geometry.strided_plan` makes for the four transposing orientations times crops, on
odd, even and non-square sizes (smaller than, equal to and larger than a register block), for the
data dtypes and the bool mask, 1, 3 and 13 bands, without a mask, with one mask plane and with one
per band; on one thread (the serial kernel) and on two (the parallel kernel, forced by lowering
:data:`geoaug.kernels.flip.SERIAL_BELOW`). Floats are compared bit for bit: copies move bits.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
import numpy as np
import pytest
from conftest import BY_DTYPE, ROOT

import geoaug
from geoaug import geometry
from geoaug.kernels import flip

SIZES = [(1, 1), (1, 37), (40, 1), (7, 9), (16, 16), (17, 33), (63, 65), (64, 64), (130, 67), (33, 200)]
BANDS = [1, 3, 13]
DTYPES = ["uint8", "uint16", "int16", "float32", "float64"]


def _orientations(shape: tuple[int, int]) -> dict[str, tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]]:
    """Matrix (output -> input) and numpy reference of each transposing orientation of ``shape``."""
    return {
        "rot90": (geometry.rot90(shape, 1)[0], lambda a: np.rot90(a, 1, axes=(1, 2))),
        "rot270": (geometry.rot90(shape, 3)[0], lambda a: np.rot90(a, 3, axes=(1, 2))),
        "transpose": (geometry.transpose(shape)[0], lambda a: a.transpose(0, 2, 1)),
        # rot180, then transpose: output (i, j) is input (H-1-j, W-1-i)
        "anti-transpose": (geometry.rot90(shape, 2)[0] @ geometry.transpose(shape)[0],
                           lambda a: a[:, ::-1, ::-1].transpose(0, 2, 1)),
    }


def _crops(th: int, tw: int) -> Iterator[tuple[int, int, int, int]]:
    """(top, left, rows, cols) windows of a (th, tw) output frame: whole, inner, corner, one row, one column."""
    yield 0, 0, th, tw
    top, left = th // 5, tw // 7
    yield top, left, max(1, th - top - th // 3), max(1, tw - left - 2)
    yield th - min(th, 17), tw - min(tw, 19), min(th, 17), min(tw, 19)
    yield th // 2, 0, 1, tw
    yield 0, tw - 1, th, 1


def _plans(h: int, w: int) -> Iterator[tuple[str, tuple[int, ...], tuple[int, int], Callable, tuple]]:
    """Every transposing plan of an (h, w) input: orientation x crop, with its numpy reference."""
    for name, (m, ref) in _orientations((h, w)).items():
        for top, left, rows, cols in _crops(w, h):
            # crop of the oriented image: output (x, y) is oriented pixel (x + left, y + top)
            plan = geometry.strided_plan(m @ geometry.translation(left, top), (h, w), (rows, cols))
            assert plan is not None and plan[2] != 0, (name, h, w)  # rj != 0: the transposing kernel
            yield name, plan, (rows, cols), ref, (slice(None), slice(top, top + rows), slice(left, left + cols))


def _data(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random bits of ``dtype`` (floats include NaN payloads, infinities and -0.0)."""
    dt = np.dtype(dtype)
    bits = rng.integers(0, 256, (*shape, dt.itemsize), dtype=np.uint8)
    return bits.view(dt).reshape(shape)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}") if a.dtype != np.bool_ else a


def _masks(rng: np.random.Generator, nb_: int, h: int, w: int) -> dict[str, np.ndarray | None]:
    """No mask, one shared plane, one plane per band: random halves valid."""
    return {"none": None, "one plane": rng.random((1, h, w)) < 0.5, "per band": rng.random((nb_, h, w)) < 0.5}


def _check_copies(a: np.ndarray, masks: dict[str, np.ndarray | None], plans: Iterator[tuple]) -> None:
    """``index_copy`` of ``a`` through every plan with every mask: numpy's bits, and the mask's copy where given."""
    nb_, h, w = a.shape
    for name, plan, out_shape, ref, window in plans:
        want = ref(a)[window]
        for kind, mask in masks.items():
            data, dmask = flip.index_copy(a, mask, plan, out_shape)
            where = f"{name} {h}x{w} {nb_} bands plan={plan} out={out_shape} mask={kind}"
            np.testing.assert_array_equal(_bits(data), _bits(want), err_msg=where)
            if mask is not None:
                np.testing.assert_array_equal(dmask, ref(mask)[window], err_msg=where)


@pytest.fixture(params=["serial", "parallel"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    before = numba.get_num_threads()
    if request.param == "parallel":
        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip("numba has one thread here")
        monkeypatch.setattr(flip, "SERIAL_BELOW", 0)
        numba.set_num_threads(2)
    else:
        numba.set_num_threads(1)
    try:
        yield request.param
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_transposing_plan_matches_numpy(dtype: str, mode: str) -> None:
    rng = np.random.default_rng(DTYPES.index(dtype))
    checked = 0
    for h, w in SIZES:
        for nb_ in BANDS:
            a = _data(rng, dtype, (nb_, h, w))
            masks = _masks(rng, nb_, h, w)
            for name, plan, out_shape, ref, window in _plans(h, w):
                want = ref(a)[window]
                for kind, mask in masks.items():
                    data, dmask = flip.index_copy(a, mask, plan, out_shape)
                    where = f"{name} {h}x{w} {nb_} bands plan={plan} out={out_shape} mask={kind}"
                    assert data.shape == want.shape and data.dtype == a.dtype, where
                    np.testing.assert_array_equal(_bits(data), _bits(want), err_msg=where)
                    if mask is None:
                        assert dmask.shape == (1, *out_shape) and dmask.all(), where
                    else:
                        np.testing.assert_array_equal(dmask, ref(mask)[window], err_msg=where)
                    checked += 1
    assert checked == len(SIZES) * len(BANDS) * 4 * 5 * 3


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_out_buffer_and_strided_inputs(dtype: str, mode: str) -> None:
    """A given ``out=`` is filled and returned; non-contiguous inputs (views) copy the same."""
    rng = np.random.default_rng(5)
    big = _data(rng, dtype, (5, 140, 90))
    a = big[::2, 3:133, 1:68]  # a view: 3 bands of 130x67, strided
    mask = rng.random((5, 140, 90))[::2, 3:133, 1:68] < 0.7
    for name, plan, out_shape, ref, window in [*_plans(130, 67), *_row_plans(130, 67)]:
        out = np.full((3, *out_shape), 7, dtype=dtype)
        data, dmask = flip.index_copy(a, mask, plan, out_shape, out=out)
        assert data is out, name
        np.testing.assert_array_equal(_bits(data), _bits(ref(np.ascontiguousarray(a))[window]), err_msg=name)
        np.testing.assert_array_equal(dmask, ref(mask)[window], err_msg=name)


def test_bool_mask_values_stay_bool(mode: str) -> None:
    """Mask planes move as bytes: the copy holds exactly True and False (no other byte values)."""
    mask = np.random.default_rng(2).random((3, 63, 65)) < 0.5
    for name, plan, out_shape, ref, window in _plans(63, 65):
        _, dmask = flip.index_copy(np.zeros((3, 63, 65), np.uint8), mask, plan, out_shape)
        assert set(np.unique(dmask.view(np.uint8)).tolist()) <= {0, 1}, name
        np.testing.assert_array_equal(dmask, ref(mask)[window], err_msg=name)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "float32"])
def test_quarter_turns_and_transpose_of_geotiffs(dtype: str, mode: str) -> None:
    """Through the transforms, on the fixture GeoTIFFs with their nodata collars: numpy's answer, mask kept."""
    r = geoaug.read(BY_DTYPE[dtype])
    assert not r.mask.all()  # the collar: a real mask goes through the kernel
    cases = [(geoaug.Rot90(k=1, p=1), lambda a: np.rot90(a, 1, axes=(-2, -1))),
             (geoaug.Rot90(k=3, p=1), lambda a: np.rot90(a, 3, axes=(-2, -1))),
             (geoaug.Transpose(p=1), lambda a: np.swapaxes(a, -2, -1))]
    for t, ref in cases:
        out = t(r, rng=0)
        np.testing.assert_array_equal(_bits(out.data), _bits(ref(r.data)), err_msg=repr(t))
        np.testing.assert_array_equal(out.mask, ref(r.mask), err_msg=repr(t))


@pytest.mark.parametrize("dtype", ["uint16", "float32", "float64"])
def test_unaligned_buffers(dtype: str) -> None:
    """Source and destination that start one byte into their buffers (not item-aligned) copy the same."""
    dt = np.dtype(dtype)
    shape = (2, 70, 45)
    n = int(np.prod(shape))
    rng = np.random.default_rng(9)
    buf = bytearray(rng.integers(0, 256, n * dt.itemsize + 1, dtype=np.uint8).tobytes())
    a = np.frombuffer(buf, dtype=dt, count=n, offset=1).reshape(shape)
    assert not a.flags.aligned
    for name, plan, out_shape, ref, window in _plans(70, 45):
        obuf = bytearray(2 * out_shape[0] * out_shape[1] * dt.itemsize + 1)
        out = np.frombuffer(obuf, dtype=dt, count=2 * out_shape[0] * out_shape[1], offset=1).reshape(2, *out_shape)
        data, _ = flip.index_copy(a, None, plan, out_shape, out=out)
        np.testing.assert_array_equal(_bits(data), _bits(ref(a)[window]), err_msg=name)


def _row_plans(h: int, w: int) -> Iterator[tuple[str, tuple[int, ...], tuple[int, int], Callable, tuple]]:
    """Every row-preserving plan (identity, flips, rot180) of an (h, w) input times crops: the row kernel."""
    orientations = {
        "identity": (np.eye(3), lambda a: a),
        "hflip": (geometry.hflip((h, w))[0], lambda a: a[:, :, ::-1]),
        "vflip": (geometry.vflip((h, w))[0], lambda a: a[:, ::-1, :]),
        "rot180": (geometry.rot90((h, w), 2)[0], lambda a: a[:, ::-1, ::-1]),
    }
    for name, (m, ref) in orientations.items():
        for top, left, rows, cols in _crops(h, w):
            plan = geometry.strided_plan(m @ geometry.translation(left, top), (h, w), (rows, cols))
            assert plan is not None and plan[2] == 0, (name, h, w)
            yield name, plan, (rows, cols), ref, (slice(None), slice(top, top + rows), slice(left, left + cols))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_row_plan_matches_numpy(dtype: str, mode: str) -> None:
    """Crops, vertical flips (row views), horizontal flips and rot180 (mirrored rows): numpy's answer."""
    rng = np.random.default_rng(10 + DTYPES.index(dtype))
    for h, w in SIZES:
        for nb_ in BANDS:
            a = _data(rng, dtype, (nb_, h, w))
            _check_copies(a, _masks(rng, nb_, h, w), _row_plans(h, w))


def test_every_register_network_is_a_transpose_and_a_wrong_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shuffle network of each block side and lane width (the labels run through the rounds the code
    emits) gives every output row once; a network that is not a transpose stops the compile by name."""
    for itemsize, side in flip._BLOCK.items():
        cols = flip._transpose_labels(side, 16 // itemsize)
        assert sorted(cols) == list(range(side)), itemsize
    rounds = flip._transpose_rounds

    def one_round_short(side: int, lane: int) -> list:
        return rounds(side, lane)[:-1]

    monkeypatch.setattr(flip, "_transpose_rounds", one_round_short)
    with pytest.raises(RuntimeError, match="not a transpose"):
        flip._transpose_labels(16, 8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reading_each_plane_ahead_changes_no_bit(dtype: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above TOUCH_BYTES a transposing copy takes whole planes and first reads each plane's source rows and its
    output (the sum lands in the output's first pixel, which the copy then writes). Forced on for every size:
    numpy's answer for every orientation and crop, with and without masks; too few bands for the threads keep
    the strips and read nothing ahead."""
    monkeypatch.setattr(flip, "TOUCH_BYTES", 0)
    monkeypatch.setattr(flip, "_LAUNCHES", {})
    nthreads = numba.get_num_threads()
    rng = np.random.default_rng(40 + DTYPES.index(dtype))
    read_ahead = 0
    for h, w in [(1, 37), (7, 9), (17, 33), (64, 64), (130, 67), (33, 200)]:  # 200 output rows: two strips
        for nb_ in (1, 4, 13):
            a = _data(rng, dtype, (nb_, h, w))
            _check_copies(a, _masks(rng, nb_, h, w), _plans(h, w))
            for name, plan, out_shape, _, _ in _plans(h, w):
                launch = flip._launch(a.shape, a.itemsize, plan, *out_shape, 0, nthreads)[2]
                assert bool(launch[13]) == (nb_ >= 2 * nthreads), (name, nb_)
                read_ahead += bool(launch[13])
    assert read_ahead > 0


def test_which_copies_read_their_planes_ahead() -> None:
    """The bound: transposing maps of more than TOUCH_BYTES per thread whose source and output planes take at
    most TOUCH_PLANE_BYTES, two bands per thread at least; never the row maps (flips, crops)."""
    def touch(shape: tuple[int, int, int], itemsize: int, plan: Callable, nthreads: int = 1) -> int:
        h, w = shape[1:]
        m, out = plan((h, w))
        return int(flip._launch(shape, itemsize, geometry.strided_plan(m, (h, w), out), *out, 0, nthreads)[2][13])

    def rot90(s: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        return geometry.rot90(s, 1)

    assert touch((200, 256, 256), 2, rot90) == 32  # 25 MB: one uint16 in 32 per 64-byte line
    assert touch((200, 256, 256), 4, geometry.transpose, 2) == 16
    assert touch((100, 256, 256), 2, rot90) == 32  # 12.5 MB: above 8 MB on one thread...
    assert touch((100, 256, 256), 2, rot90, 2) == 0  # ...not above 8 MB per thread on two
    assert touch((13, 512, 512), 2, rot90) == 0  # 6.5 MB: in cache anyway
    assert touch((2, 4096, 4096), 2, rot90) == 0  # planes past a core's cache
    assert touch((200, 256, 256), 2, geometry.hflip) == 0  # row maps copy rows in order
    assert touch((200, 256, 256), 2, geometry.vflip) == 0


def test_copy_units_compile_once_per_item_type_and_share_the_mask_units(tmp_path: Path) -> None:
    # the row and tile units are compiled functions of their own: a copy of a second item size compiles its own
    # data units and links the uint8 units the first one compiled for its mask planes (inlined by numba, every
    # copy kernel typed both units again for data and mask, and the units' dispatchers stayed empty)
    rng = np.random.default_rng(5)
    mask = {"one plane": rng.random((1, 24, 24)) < 0.5}
    for dt in ("uint16", "float32"):
        _check_copies(_data(rng, dt, (2, 24, 24)), mask, itertools.chain(_row_plans(24, 24), _plans(24, 24)))
    # what compiles, counted in a fresh process with an empty cache (kernels loaded from a cache compile no unit)
    child = (
        "import numpy as np\n"
        "from geoaug.kernels import flip\n"
        "m = np.random.default_rng(0).random((1, 24, 24)) < 0.5\n"
        "for dt in ('uint16', 'float32'):\n"
        "    a = np.zeros((2, 24, 24), dt)\n"
        "    for plan in ((0, 1, 0, 23, 0, -1), (0, 0, 1, 0, 1, 0)):\n"
        "        flip.index_copy(a, m, plan, (24, 24))\n"
        "    print(*(sorted(str(s[0].dtype) for s in f.signatures) for f in (flip._row_unit, flip._tile_unit)),"
        " sep=';')\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", child], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    first, second = run.stdout.strip().splitlines()
    # uint16 data units and the uint8 mask units; the float32 copies add their uint32 data units only
    assert first == "['uint16', 'uint8'];['uint16', 'uint8']", first
    assert second == "['uint16', 'uint32', 'uint8'];['uint16', 'uint32', 'uint8']", second
