"""Neighbouring taps read as one word: fewer loads and stores in the bilinear warp's gather.

An interior output pixel of a bilinear warp reads two neighbouring input pixels
on each of two rows. For 2-byte data (uint16, int16) the two taps of a row are
one 32-bit word; for float32 one 64-bit word. Reading them as one unaligned
load and storing that word into the gather scratch halves the scalar loads and
stores of the gather, which is what a per-band OpenCV call cannot share; the
interpolation pass then takes the lanes apart in vector registers. (The cubic
warp read its four taps of a row as one or two such words until it loaded each
tap row as a vector and weighed it in registers: :mod:`geoaug.kernels.taps4`.)

x86 and ARM are little-endian: lane 0 of a word is the tap at the lower
address (the left one). Only the kernels that know every tap of the word lies
inside the input (the interior run) use these loads.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

__all__ = ["lane", "load_u32", "load_u64", "packed_dtype"]


def packed_dtype(dtype: np.dtype) -> np.dtype | None:
    """The word type that holds two consecutive pixels of ``dtype`` (a bilinear tap row), or None when not packed.

    2-byte integers: uint32; float32: uint64.
    """
    return _PACKED.get(np.dtype(dtype))  # a lookup: every bilinear warp call asks


_PACKED = {np.dtype(np.uint16): np.dtype(np.uint32), np.dtype(np.int16): np.dtype(np.uint32),
           np.dtype(np.float32): np.dtype(np.uint64)}


def _loader(bits: int):
    word = types.uint32 if bits == 32 else types.uint64

    def load(typingctx, arr, b, o):
        sig = word(arr, b, o)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], args[2]], wraparound=False)
            return builder.load(builder.bitcast(ptr, ir.IntType(bits).as_pointer()), align=1)

        return sig, codegen

    return load


#: ``load_u32(arr, b, o)``: the 4 bytes at ``arr[b, o]`` (unaligned), as uint32
load_u32 = intrinsic(_loader(32))
#: ``load_u64(arr, b, o)``: the 8 bytes at ``arr[b, o]`` (unaligned), as uint64
load_u64 = intrinsic(_loader(64))


@intrinsic
def _f32_from_bits(typingctx, v):
    sig = types.float32(v)

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())

    return sig, codegen


def lane(v, k, src):  # pragma: no cover - replaced by the overload in compiled code
    """Pixel ``k`` (0 = lowest address) of word ``v``, as a value of ``src``'s dtype."""
    raise NotImplementedError


@overload(lane)
def _lane_ov(v, k, src):  # pragma: no cover - numba typing
    dt = src.dtype
    if dt == types.uint16:
        return lambda v, k, src: np.uint16(v >> (np.uint64(16) * np.uint64(k)))
    if dt == types.int16:
        return lambda v, k, src: np.int16(np.uint16(v >> (np.uint64(16) * np.uint64(k))))
    if dt == types.float32:
        return lambda v, k, src: _f32_from_bits(v >> (np.uint64(32) * np.uint64(k)))
    return None
