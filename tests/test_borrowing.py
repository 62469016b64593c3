"""Kernels compiled with borrowing_jit hold no reference counts, and refuse to allocate."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest
from numba.core.errors import TypingError

from geoaug.kernels import resize, warp
from geoaug.kernels.borrowing import borrowing_jit


def _fresh(dispatcher, nrt: bool):
    """The dispatcher's function compiled anew (cached code cannot be inspected), with or without the runtime."""
    opts = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("cache", "_nrt", "nopython")}
    return nb.njit(_nrt=nrt, **opts)(dispatcher.py_func)


def _count_calls(dispatcher, nrt: bool, *args) -> int:
    fn = _fresh(dispatcher, nrt)
    fn(*args)
    ir = "".join(fn.inspect_llvm().values())
    return ir.count("call void @NRT_incref") + ir.count("call void @NRT_decref")


def _tap_args() -> tuple:
    return np.zeros((8, 64), dtype=np.int64), 3, 1, 2, True, 40, 40, False


def _h4_args() -> tuple:
    a = np.zeros(64 * 64, np.float32)
    b = np.zeros(64 * 64, np.float32)
    return (a, np.uint64(0), np.uint64(64), b, np.uint64(0), np.uint64(48), 48, np.zeros((48, 6), np.uint64),
            np.zeros((48, 6), np.float32), 2, np.zeros(48, np.uint32), np.zeros(48, np.float32), np.float32(0))


@pytest.mark.parametrize("kernel, args", [(warp._tap, _tap_args), (resize._h4, _h4_args)],
                         ids=["warp._tap", "resize._h4"])
def test_borrowing_kernels_make_no_reference_counts(kernel, args) -> None:
    assert kernel.targetoptions.get("_nrt") is False
    # the same function compiled with the runtime counts its array arguments: the check sees counts when present
    assert _count_calls(kernel, True, *args()) > 0
    assert _count_calls(kernel, False, *args()) == 0


def test_borrowing_kernel_reads_and_writes_the_callers_arrays() -> None:
    @borrowing_jit()
    def scale_rows(a, out, k):  # pragma: no cover - numba
        for i in range(a.shape[0]):
            row = a[i]  # a view of an argument: allowed
            for j in range(row.shape[0]):
                out[i, j] = row[j] * k

    a = np.arange(12.0).reshape(3, 4)
    out = np.zeros_like(a)
    scale_rows(a, out, 2.0)
    np.testing.assert_array_equal(out, a * 2)


def test_borrowing_kernel_cannot_allocate() -> None:
    @borrowing_jit()
    def allocates(n):  # pragma: no cover - numba
        return np.empty(n)

    with pytest.raises(TypingError):
        allocates(3)
