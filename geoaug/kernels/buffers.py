"""Output buffers of the kernels: a caller's ``out=`` checked, or a new array. One home for the rule.

Every kernel that writes a raster (:func:`geoaug.kernels.warp.warp_affine`,
:func:`geoaug.kernels.flip.index_copy`, :func:`geoaug.kernels.resize.resize_separable`,
:func:`geoaug.kernels.remap.remap_field`, :func:`geoaug.kernels.blur.blur_separable`) takes an
optional destination. It must be an ndarray of the output's shape and dtype, C-contiguous and
writeable, and must not share memory with the input: a kernel reads input pixels after it has
written output pixels (a flip, a quarter turn and a crop too), so an output over its own input
would be read back half-written. numpy's overlap test on the two arrays' bounds decides
(``np.may_share_memory``, no element scan): a buffer that only shares bounds with the input (an
interleaved view of one array) is refused too.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["out_buffer"]


def out_buffer(out: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype, name: str = "out",
               inputs: tuple[np.ndarray | None, ...] = ()) -> np.ndarray:
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
        The arrays the kernel reads (data, mask); ``out`` may not overlap any of them.

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
    for a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ParameterError(f"{name} shares memory with the input: a kernel reads input pixels after "
                                 f"writing output pixels, so it cannot work in place; pass a separate buffer")
    return out
