"""The warp's launch: its layout worked out once per size, each thread's kept scratch, and the rows marked valid.

``warp_affine`` keeps the scratch arrays of its last few layouts per thread (``kept_scratch``) and works out the
band groups, units and scratch shapes once per size, dtype and thread count (``_launch``). What a kept array
holds from an earlier warp must never reach a result: every test here fills the kept scratch with garbage
between two calls and asks for the same bytes.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from geoaug import geometry
from geoaug.kernels import buffers as B
from geoaug.kernels import warp as W

FILLS = ("nodata", "constant", "reflect", "wrap")


#: garbage for kept scratch: all ones (NaN in floats, -1 in signed integers, the largest unsigned value) and
#: 0x7F bytes (about 3.4e38 in float32: a sum started from it is never close)
POISONS = (0xFF, 0x7F)


def _poison_kept(byte: int) -> int:
    """Fill every scratch array this thread keeps with ``byte``; how many arrays there were."""
    n = 0
    for arrays in B._kept.__dict__.values():
        for a in arrays:
            a.view(np.uint8).fill(byte)
            n += 1
    return n


def _mask(kind: str, shape: tuple[int, int], bands: int, rng: np.random.Generator) -> np.ndarray | None:
    h, w = shape
    if kind == "none":
        return None
    if kind == "collar":  # one rectangle of valid pixels (the window path)
        m = np.zeros((1, h, w), bool)
        m[:, 2:-3, 1:-2] = True
        return m
    if kind == "holes":  # scattered invalid pixels (the tap-code path)
        return rng.random((1, h, w)) > 0.1
    return rng.random((bands, h, w)) > 0.1  # one plane per band


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
@pytest.mark.parametrize("mask_kind", ["none", "collar", "holes", "per_band"])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_kept_scratch_never_reaches_a_result(interp: str, mask_kind: str, dtype: str) -> None:
    rng = np.random.default_rng(7)
    bands, shape = 5, (23, 31)
    src = (rng.random((bands, *shape)) * 1000).astype(dtype)
    mask = _mask(mask_kind, shape, bands, rng)
    for fill in FILLS:
        m = geometry.affine_matrix(shape, rotate=23, scale=0.9, translate_x=1.5)
        kw = dict(fill=fill, fill_value=7.0, out_fill=3.0)
        B._kept.__dict__.clear()  # new scratch: what np.empty gives
        first = W.warp_affine(src, mask, m, (19, 27), interp, **kw)
        for byte in POISONS:
            assert _poison_kept(byte) > 0  # the layout was kept: the next call reads garbage-filled scratch
            again = W.warp_affine(src, mask, m, (19, 27), interp, **kw)
            for a, b in zip(first, again):
                np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_scratch_is_kept_per_layout_and_per_thread() -> None:
    B._kept.__dict__.clear()
    specs = W._launch(1, np.dtype(np.uint16), 3, 16, 16, 16, 16, 1)[-1]
    mine = B.kept_scratch(specs)
    assert B.kept_scratch(specs) is mine  # kept: the same arrays on the next call of this layout
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(B.kept_scratch(specs)))
    t.start()
    t.join()
    assert theirs[0] is not mine  # another thread never shares them
    assert not any(np.shares_memory(a, b) for a in mine for b in theirs[0])


def test_kept_layouts_are_bounded() -> None:
    B._kept.__dict__.clear()
    layouts = [W._launch(1, np.dtype(np.uint16), 1, 8, 8 + k, 8, 8 + k, 1)[-1] for k in range(B.SCRATCH_KEEP + 3)]
    for specs in layouts:
        B.kept_scratch(specs)
    kept = B._kept.__dict__
    assert len(kept) == B.SCRATCH_KEEP
    assert list(kept) == layouts[-B.SCRATCH_KEEP:]  # the oldest went first
    big = W._launch(2, np.dtype(np.float64), 1, 8, 4096, 600, 4096, 1)[-1]  # scratch of more than the bound
    arrays = B.kept_scratch(big)
    assert sum(a.nbytes for a in arrays) > B.SCRATCH_KEEP_BYTES
    assert big not in B._kept.__dict__ and B.kept_scratch(big) is not arrays


def test_threads_warping_at_once_give_the_serial_results() -> None:
    rng = np.random.default_rng(3)
    srcs = [(rng.random((4, 40, 40)) * 5000).astype(np.uint16) for _ in range(8)]
    mats = [geometry.affine_matrix((40, 40), rotate=float(r)) for r in rng.uniform(-40, 40, 8)]
    expected = [W.warp_affine(s, None, m, (40, 40), "bilinear") for s, m in zip(srcs, mats)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(k: int) -> None:
        try:
            barrier.wait()
            for _ in range(25):
                for s, m, e in zip(srcs, mats, expected):
                    got = W.warp_affine(s, None, m, (40, 40), "bilinear")
                    np.testing.assert_array_equal(got[0], e[0])
                    np.testing.assert_array_equal(got[1], e[1])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


@pytest.mark.parametrize("planes", [1, 3])
def test_marked_rows_are_the_flagged_ones(planes: int) -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        rows = int(rng.integers(1, 12))
        ok = (rng.random((planes, rows)) < rng.random()).astype(np.uint8)
        if rng.random() < 0.5 and planes == 1:  # one run of flagged rows, as an affine map's valid output gives
            a, b = sorted(rng.integers(0, rows + 1, 2))
            ok[:] = 0
            ok[0, a:b] = 1
        dmask = rng.random((planes, rows, 5)) < 0.5
        expected = dmask.copy()
        expected[ok.view(bool)] = True
        W._mark_rows(dmask, ok, ok.tobytes())
        np.testing.assert_array_equal(dmask, expected)


def test_a_rotation_marks_its_valid_rows() -> None:
    """A rotated output's rows wholly inside the input are not written by the kernel; they come out valid."""
    src = np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64)
    m = geometry.affine_matrix((64, 64), rotate=17)
    data, mask, every = W.warp_affine(src, None, m, (64, 64), "bilinear", return_all_valid=True)
    assert not every
    ref_data, ref_mask = W.warp_affine(src, None, m, (64, 64), "bilinear")
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(data, ref_data)
    assert mask[0].all(axis=1).any() and not mask.all()

