"""One cubic output pixel as four row vectors: the 4 x 4 taps of the cubic warp's and remap's interiors, as LLVM IR.

A cubic interior pixel reads four neighbouring input pixels on each of four input rows. Each such row
of taps is contiguous, so it is one unaligned vector load of four values; the pixel is then

    c = ((wy0 * row0 + wy1 * row1) + wy2 * row2) + wy3 * row3     (four lanes: the columns, weighed down)
    value = (wx0 * c0 + wx2 * c2) + (wx1 * c1 + wx3 * c3)

four loads, five multiplies, three adds and a short horizontal sum, with the weights of the pixel (shared
by every band of a pass, computed once per output row) read as two vectors. The kernel it replaced
gathered the 16 taps into scratch rows (one 64-bit word per tap row for 2-byte data, two for float32) and
weighed them in vectorised passes over those rows: the gather's scalar loads and stores cost more than
the arithmetic, 1.0 ms for one 512² float32 band against 0.44 ms now (``docs/benchmarks.md``, "The cubic
warp's interior").

The remap (:mod:`geoaug.kernels.remap`) sums its cubic taps in another order, row by row
(:func:`cubic4_rows`): the same loads, the four rows' products transposed in registers so that the row sums
are one vector. It gives the bits of the remap's scalar loop it replaced.

Conventions: ``src`` is a C-contiguous ``(bands, pixels)`` array of a raster dtype (8- to 32-bit integers,
float32, float64), read at element ``(b, o)``, ``(b, o + in_w)``, ... (four values from each); the caller
keeps every read inside the plane (the interior run: every tap inside the input). ``w`` is a 1-D array of
the work dtype (float32, or float64 for int32 and float64 data) holding each pixel's eight weights in a
row: ``w[8 j : 8 j + 4]`` the columns' (x), ``w[8 j + 4 : 8 j + 8]`` the rows' (y). Integer taps are
converted exactly (every 8- and 16-bit value is a float32, every int32 a float64). Every product and sum is
rounded on its own (no fused multiply-add, as in the warp's scalar code, which numba does not contract), so
the result does not depend on whether the CPU has FMA. Numba caches a compiled kernel under the file that
defines it, not the files of the intrinsics it inlines: after changing this module in a checkout, clear
``geoaug/kernels/__pycache__``.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["PIXEL_WEIGHTS", "cubic4", "cubic4_rows"]

#: weights per pixel in ``w``, side by side: the four columns' (x), then the four rows' (y). The kernels that
#: fill ``w`` (the warp's and the remap's row passes) and allocate it take the layout from here
PIXEL_WEIGHTS = 8
_I32 = ir.IntType(32)


def _lanes(builder, v, mask):  # pragma: no cover - numba lowering
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), mask))


def _signature(src, b, o, in_w, w, j):
    """The signature of an intrinsic of this module for these argument types, or None where they do not fit."""
    if not (isinstance(src, types.Array) and src.ndim == 2 and src.layout == "C"
            and isinstance(w, types.Array) and w.ndim == 1 and w.layout == "C"
            and w.dtype in (types.float32, types.float64)
            and isinstance(src.dtype, (types.Integer, types.Float))
            and (src.dtype.bitwidth <= 16 or w.dtype == types.float64 or src.dtype == types.float32)
            and o == types.uint64 and in_w == types.uint64 and j == types.uint64
            and isinstance(b, types.Integer)):
        return None
    return w.dtype(src, b, o, in_w, w, j)


def _load(context, builder, signature, args) -> tuple[list, Any, Any]:  # pragma: no cover - numba lowering
    """The four tap rows as vectors of the weights' type, and the pixel's x and y weights as two vectors."""
    tsrc, tb, _, _, tw, _ = signature.args
    src_, b_, o_, in_w_, w_, j_ = args
    elem = context.get_value_type(tsrc.dtype)
    ftype = context.get_value_type(tw.dtype)
    velem, vf = ir.VectorType(elem, 4), ir.VectorType(ftype, 4)
    arr = context.make_array(tsrc)(context, builder, src_)
    b64 = context.cast(builder, b_, tb, types.int64)
    row = builder.mul(b64, builder.extract_value(arr.strides, 0))  # bytes to plane b
    base = builder.gep(builder.bitcast(arr.data, ir.IntType(8).as_pointer()), [row], inbounds=True)
    p = builder.gep(builder.bitcast(base, elem.as_pointer()), [o_], inbounds=True)
    isize = context.get_abi_sizeof(elem)
    rows = []
    for ty in range(4):
        q = builder.gep(p, [builder.mul(in_w_, ir.Constant(in_w_.type, ty))], inbounds=True) if ty else p
        v = builder.load(builder.bitcast(q, velem.as_pointer()), align=isize)
        if isinstance(tsrc.dtype, types.Float):
            v = v if tsrc.dtype == tw.dtype else builder.fpext(v, vf)
        elif tsrc.dtype.signed:
            v = builder.sitofp(v, vf)
        else:
            v = builder.uitofp(v, vf)
        rows.append(v)
    wdata = context.make_array(tw)(context, builder, w_).data
    wp = builder.gep(wdata, [builder.mul(j_, ir.Constant(j_.type, PIXEL_WEIGHTS))], inbounds=True)
    fsize = context.get_abi_sizeof(ftype)
    wx = builder.load(builder.bitcast(wp, vf.as_pointer()), align=fsize)
    wy = builder.load(builder.bitcast(builder.gep(wp, [ir.Constant(j_.type, 4)], inbounds=True),
                                      vf.as_pointer()), align=fsize)
    return rows, wx, wy


def _lane(builder, v, k: int):  # pragma: no cover - numba lowering
    return builder.extract_element(v, ir.Constant(_I32, k))


@intrinsic
def cubic4(typingctx, src, b, o, in_w, w, j):  # pragma: no cover - numba typing and lowering
    """The cubic sum of the 4 x 4 taps whose top-left is element ``(b, o)`` of ``src`` (rows ``in_w`` apart),
    with pixel ``j``'s eight weights in ``w`` (see the module docstring), in ``w``'s dtype: the columns weighed
    down first, ``(wx0 * c0 + wx2 * c2) + (wx1 * c1 + wx3 * c3)`` (the warp's order).

    ``o``, ``in_w`` and ``j`` are uint64; ``b`` any integer.
    """
    sig = _signature(src, b, o, in_w, w, j)
    if sig is None:
        return None

    def codegen(context, builder, signature, args):
        rows, wx, wy = _load(context, builder, signature, args)
        c = builder.fmul(rows[0], _lanes(builder, wy, [0] * 4))
        for ty in range(1, 4):
            c = builder.fadd(c, builder.fmul(rows[ty], _lanes(builder, wy, [ty] * 4)))
        d = builder.fmul(c, wx)
        h = builder.fadd(d, _lanes(builder, d, [2, 3, 2, 3]))  # (d0 + d2, d1 + d3, ...)
        return builder.fadd(_lane(builder, h, 0), _lane(builder, h, 1))

    return sig, codegen


@intrinsic
def cubic4_rows(typingctx, src, b, o, in_w, w, j):  # pragma: no cover - numba typing and lowering
    """:func:`cubic4`'s taps and weights summed row by row, in the remap's order: each tap row ``t`` as
    ``r_t = ((wx0 * p0 + wx1 * p1) + wx2 * p2) + wx3 * p3``, then ``(((0 + wy0 * r0) + wy1 * r1) + wy2 * r2)
    + wy3 * r3``, every operation rounded on its own: the bits of the scalar loop it replaces.

    The four rows' products are transposed in registers (two rounds of shuffles), so that the four row sums
    are one vector of three adds.
    """
    sig = _signature(src, b, o, in_w, w, j)
    if sig is None:
        return None

    def codegen(context, builder, signature, args):
        rows, wx, wy = _load(context, builder, signature, args)
        d = [builder.fmul(wx, r) for r in rows]  # d[t][k] = wx_k * p_tk

        def mix(u, v, mask):
            return builder.shuffle_vector(u, v, ir.Constant(ir.VectorType(_I32, 4), mask))
        lo01, hi01 = mix(d[0], d[1], [0, 4, 1, 5]), mix(d[0], d[1], [2, 6, 3, 7])
        lo23, hi23 = mix(d[2], d[3], [0, 4, 1, 5]), mix(d[2], d[3], [2, 6, 3, 7])
        e = [mix(lo01, lo23, [0, 1, 4, 5]), mix(lo01, lo23, [2, 3, 6, 7]),
             mix(hi01, hi23, [0, 1, 4, 5]), mix(hi01, hi23, [2, 3, 6, 7])]  # e[k][t] = d[t][k]
        r = builder.fadd(builder.fadd(builder.fadd(e[0], e[1]), e[2]), e[3])  # r[t], summed in the loop's order
        v = builder.fmul(wy, r)
        acc = builder.fadd(ir.Constant(v.type.element, 0.0), _lane(builder, v, 0))  # 0 + (-0) is +0, as the loop's
        for t in range(1, 4):
            acc = builder.fadd(acc, _lane(builder, v, t))
        return acc

    return sig, codegen
