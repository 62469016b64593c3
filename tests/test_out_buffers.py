"""Every raster kernel's ``out=``: a separate buffer is written and returned, one over the input is refused.

A kernel reads input pixels after writing output pixels (a flip, a quarter turn and a crop too), so an
output over its own input is read back half-written: a vertical flip into its own array gave rows of
the flipped half twice. :func:`geoaug.kernels.buffers.out_buffer` refuses such a buffer by name
(``np.may_share_memory``), for the data and for a warp's ``out_mask``; slots of one batch array that do
not overlap stay allowed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from geoaug import geometry
from geoaug.errors import ParameterError
from geoaug.kernels import index_copy, warp_affine
from geoaug.kernels.blur import convolve_separable
from geoaug.kernels.remap import remap_field
from geoaug.kernels.resize import resize_separable

SHAPE = (3, 16, 16)


def _plan(name: str) -> tuple:
    m, shape = {"hflip": geometry.hflip, "vflip": geometry.vflip,
                "rot90": lambda s: geometry.rot90(s, 1)}[name](SHAPE[1:])
    return geometry.strided_plan(m, SHAPE[1:], shape), shape


def _kernels() -> dict[str, Callable[..., np.ndarray]]:
    """name -> call(src, mask, out) returning the data written (each keeps the output shape of the input)."""
    field = np.zeros((2, 3, 3))
    calls: dict[str, Callable[..., np.ndarray]] = {
        "warp bilinear": lambda s, m, o: warp_affine(s, m, np.eye(3), SHAPE[1:], "bilinear", out=o)[0],
        "warp nearest": lambda s, m, o: warp_affine(s, m, np.eye(3), SHAPE[1:], "nearest", out=o)[0],
        "resize": lambda s, m, o: resize_separable(s, m, (1.0, 1.0), (0.0, 0.0), SHAPE[1:], out=o)[0],
        "remap": lambda s, m, o: remap_field(s, m, field, out=o)[0],
        "blur": lambda s, m, o: convolve_separable(s, m, np.array([0.25, 0.5, 0.25]), out=o),
    }
    for name in ("hflip", "vflip", "rot90"):
        plan, shape = _plan(name)
        calls[name] = lambda s, m, o, plan=plan, shape=shape: index_copy(s, m, plan, shape, out=o)[0]
    return calls


KERNELS = _kernels()


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_a_buffer_over_the_input_is_refused(name: str, masked: bool) -> None:
    rng = np.random.default_rng(0)
    src = rng.integers(0, 1000, SHAPE).astype(np.uint16)
    mask = (rng.random((1, *SHAPE[1:])) < 0.9) if masked else None
    before = src.copy()
    if name != "blur":  # the blur reads each band whole before writing it: in place is allowed (below)
        with pytest.raises(ParameterError, match="out shares memory with the input"):
            KERNELS[name](src, mask, src)
    # a view of the input shifted by one row, with the output's shape and dtype, C-contiguous: refused by all
    big = np.zeros((2, *SHAPE), np.uint16)
    big[0] = src
    with pytest.raises(ParameterError, match="shares memory"):
        KERNELS[name](big[0], mask, big.reshape(-1)[SHAPE[2]:SHAPE[2] + src.size].reshape(SHAPE))
    np.testing.assert_array_equal(src, before)  # nothing written
    np.testing.assert_array_equal(big[0], before)


@pytest.mark.parametrize("amount", [None, 0.7])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_the_blur_in_place_equals_the_blur_into_a_new_array(dtype: str, masked: bool, amount: float | None) -> None:
    rng = np.random.default_rng(2)
    src = (rng.random(SHAPE) * 1000).astype(dtype)
    mask = (rng.random((1, *SHAPE[1:])) < 0.8) if masked else None
    taps = np.array([0.25, 0.5, 0.25])
    want = convolve_separable(src, mask, taps, amount=amount)
    got = convolve_separable(src, mask, taps, amount=amount, out=src)
    assert np.shares_memory(got, src)
    np.testing.assert_array_equal(src, want)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_separate_slots_of_one_batch_array_are_written(name: str) -> None:
    rng = np.random.default_rng(1)
    batch = np.zeros((2, *SHAPE), np.uint16)
    batch[0] = rng.integers(0, 1000, SHAPE)
    want = KERNELS[name](batch[0], None, None)
    got = KERNELS[name](batch[0], None, batch[1])
    assert np.shares_memory(got, batch[1])
    np.testing.assert_array_equal(batch[1], want)


def test_a_warp_mask_buffer_over_the_input_mask_is_refused() -> None:
    src = np.ones(SHAPE, np.uint16)
    mask = np.ones((1, *SHAPE[1:]), bool)
    with pytest.raises(ParameterError, match="out_mask shares memory"):
        warp_affine(src, mask, np.eye(3), SHAPE[1:], "bilinear", out_mask=mask)


def test_a_warp_mask_buffer_over_the_data_buffer_is_refused() -> None:
    src = np.ones(SHAPE, np.uint8)
    mask = np.ones((1, *SHAPE[1:]), bool)
    buf = np.zeros(SHAPE, np.uint8)
    with pytest.raises(ParameterError, match="out_mask shares memory"):
        warp_affine(src, mask, np.eye(3), SHAPE[1:], "bilinear", out=buf, out_mask=buf[:1].view(bool))


def test_a_copy_buffer_over_the_input_mask_is_refused() -> None:
    src = np.ones(SHAPE, np.uint8)
    buf = np.ones(SHAPE, np.uint8)
    mask = buf[:1].view(bool)
    plan, shape = _plan("vflip")
    with pytest.raises(ParameterError, match="out shares memory"):
        index_copy(src, mask, plan, shape, out=buf)
