"""Output buffers of the kernels: a caller's ``out=`` checked, or a new array. One home for the rule.

Every kernel that writes a raster (:func:`geoaug.kernels.warp.warp_affine`,
:func:`geoaug.kernels.flip.index_copy`, :func:`geoaug.kernels.resize.resize_separable`,
:func:`geoaug.kernels.remap.remap_field`, :func:`geoaug.kernels.blur.convolve_separable`) takes an
optional destination. It must be an ndarray of the output's shape and dtype, C-contiguous and
writeable, and must not share memory with what the kernel reads (its input, mask, other buffers):
the warps, the resize and the copies read input pixels after writing output pixels (a flip, a
quarter turn and a crop too), so an output over its own input would be read back half-written.
numpy's overlap test on the two arrays' bounds decides (``np.may_share_memory``, no element scan):
a buffer that only shares bounds with an input (an interleaved view of one array) is refused too.
A kernel that reads each band whole before writing it (the blur) passes ``in_place=True``: an
``out`` that is exactly its input (the same pixels, :func:`same_memory`) is
accepted there, any other overlap refused (:func:`same_memory` also tells the stores of
:mod:`geoaug.kernels.store` that they work in place).

Scratch a kernel writes before it reads (the warp's rows of taps and weights) need not be new on
every call: :func:`kept_scratch` keeps each thread's arrays of its last few layouts.
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import ParameterError

__all__ = ["SCRATCH_KEEP", "SCRATCH_KEEP_BYTES", "kept_scratch", "out_buffer", "same_memory"]

#: a thread keeps the scratch of its last :data:`SCRATCH_KEEP` layouts that take at most :data:`SCRATCH_KEEP_BYTES`
#: each (larger scratch is allocated per call: there an allocation is a small part of the kernel's time)
SCRATCH_KEEP = 8
SCRATCH_KEEP_BYTES = 1 << 20
_kept = threading.local()


def same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` are the same C-contiguous pixels (an in-place store), not merely overlapping."""
    return a is b or (a.dtype == b.dtype and a.shape == b.shape and np.may_share_memory(a, b)  # bounds: cheap
                      and a.flags.c_contiguous and b.flags.c_contiguous and a.ctypes.data == b.ctypes.data)


def out_buffer(out: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype, name: str = "out",
               inputs: tuple[np.ndarray | None, ...] = (), in_place: bool = False) -> np.ndarray:
    """``out`` checked as a kernel's destination, or a new C-ordered array when it is None.

    Parameters
    ----------
    out : ndarray or None
        The caller's buffer.
    shape : tuple of int
        The output's shape, e.g. ``(bands, rows, cols)``.
    dtype : numpy dtype
        The output's dtype.
    name : str
        The parameter's name, for the error message.
    inputs : tuple of ndarray or None
        The arrays the kernel reads (data, mask, other buffers it writes); ``out`` may not overlap any
        of them.
    in_place : bool
        Accept an ``out`` that is exactly ``inputs[0]`` (a kernel that reads each band whole before
        writing it).

    Returns
    -------
    ndarray
        ``out``, or ``np.empty(shape, dtype)``.

    Raises
    ------
    ParameterError
        A buffer of another shape or dtype, not C-contiguous, read-only, or over an input.
    """
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray) or out.shape != tuple(shape) or out.dtype != dtype:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ParameterError(f"{name} must be an ndarray of shape {tuple(shape)} and dtype {np.dtype(dtype)}, "
                             f"got {got}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ParameterError(f"{name} must be C-contiguous and writeable")
    for k, a in enumerate(inputs):
        if k == 0 and in_place and a is not None and same_memory(out, a):
            continue
        if a is not None and np.may_share_memory(out, a):
            raise ParameterError(f"{name} shares memory with the input: a kernel reads input pixels after "
                                 f"writing output pixels, so it cannot work in place; pass a separate buffer")
    return out


def kept_scratch(specs: tuple) -> list[np.ndarray]:
    """Scratch arrays of ``specs`` (``(shape, dtype)`` pairs, hashable): this thread's own, kept from its
    earlier calls with the same ``specs``, or new.

    Only for a kernel that writes every scratch element before it reads it: what a kept array holds from
    an earlier call does not matter then (``tests/test_warp_scratch.py`` fills them with garbage between
    calls). Kept per thread, so two threads running kernels at once never share one, for the last
    :data:`SCRATCH_KEEP` ``specs`` of up to :data:`SCRATCH_KEEP_BYTES`; a forked child starts from a copy
    of its parent's. Each call of a 13x64² warp allocated three or four arrays (about 2 µs).

    Parameters
    ----------
    specs : tuple of (shape, dtype)
        The arrays' shapes and numpy dtypes, in order.

    Returns
    -------
    list of ndarray
        C-ordered arrays of those shapes and dtypes, contents undefined.
    """
    kept = _kept.__dict__
    arrays = kept.get(specs)
    if arrays is not None:
        return arrays
    arrays = [np.empty(shape, dtype=dtype) for shape, dtype in specs]
    if sum(a.nbytes for a in arrays) <= SCRATCH_KEEP_BYTES:
        if len(kept) >= SCRATCH_KEEP:
            del kept[next(iter(kept))]  # the oldest specs
        kept[specs] = arrays
    return arrays
