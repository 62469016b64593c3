"""One cubic output pixel as four row vectors: the 4 x 4 taps of the cubic warp's interior, as LLVM IR.

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

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["cubic4"]

_I32 = ir.IntType(32)


def _lanes(builder, v, mask):  # pragma: no cover - numba lowering
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), mask))


@intrinsic
def cubic4(typingctx, src, b, o, in_w, w, j):  # pragma: no cover - numba typing and lowering
    """The cubic sum of the 4 x 4 taps whose top-left is element ``(b, o)`` of ``src`` (rows ``in_w`` apart),
    with pixel ``j``'s eight weights in ``w`` (see the module docstring), in ``w``'s dtype.

    ``o``, ``in_w`` and ``j`` are uint64; ``b`` any integer.
    """
    if not (isinstance(src, types.Array) and src.ndim == 2 and src.layout == "C"
            and isinstance(w, types.Array) and w.ndim == 1 and w.layout == "C"
            and w.dtype in (types.float32, types.float64)
            and isinstance(src.dtype, (types.Integer, types.Float))
            and (src.dtype.bitwidth <= 16 or w.dtype == types.float64 or src.dtype == types.float32)
            and o == types.uint64 and in_w == types.uint64 and j == types.uint64
            and isinstance(b, types.Integer)):
        return None
    sig = w.dtype(src, b, o, in_w, w, j)

    def codegen(context, builder, signature, args):
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
        wp = builder.gep(wdata, [builder.mul(j_, ir.Constant(j_.type, 8))], inbounds=True)
        fsize = context.get_abi_sizeof(ftype)
        wx = builder.load(builder.bitcast(wp, vf.as_pointer()), align=fsize)
        wy = builder.load(builder.bitcast(builder.gep(wp, [ir.Constant(j_.type, 4)], inbounds=True),
                                          vf.as_pointer()), align=fsize)
        c = builder.fmul(rows[0], _lanes(builder, wy, [0] * 4))
        for ty in range(1, 4):
            c = builder.fadd(c, builder.fmul(rows[ty], _lanes(builder, wy, [ty] * 4)))
        d = builder.fmul(c, wx)
        h = builder.fadd(d, _lanes(builder, d, [2, 3, 2, 3]))  # (d0 + d2, d1 + d3, ...)
        return builder.fadd(builder.extract_element(h, ir.Constant(_I32, 0)),
                            builder.extract_element(h, ir.Constant(_I32, 1)))

    return sig, codegen
