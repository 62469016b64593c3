"""Eight lanes at once: the vector operations of the separable resize's lane order, as LLVM IR.

Numba's compiler vectorises loops, not straight-line code (its SLP vectoriser is off), and on AMD
cores LLVM does not emit gathers. A horizontal resampling pass is a gather per output pixel, so it
ran one value at a time (1.5 cycles per output value at 1 x 512², 57 % of a Resize). With eight
output rows interleaved (value ``r`` of input column ``x`` at ``8 * x + r``) the taps of an output
column are runs of eight floats: one vector load per tap computes the column for eight rows.

* :func:`vert8`: the vertical pass of eight output rows (two input rows each) straight into that
  layout, eight columns at a time (loads, converts, weighs, transposes in registers).
* :func:`transpose8`: eight rows into the layout (the vertical passes done row by row).
* :func:`lerp8x8`: eight output columns of two neighbouring taps, ``p + f * (q - p)``, transposed
  back into rows, rounded and stored; :func:`lerp8`: one column into a scratch block.
* :func:`dot8`: one output column of any number of taps into a scratch block; :func:`store8x8`:
  eight such columns transposed, rounded and stored.

Conventions
-----------
* Arrays are 1-D and C-contiguous unless said otherwise; offsets into arrays are unsigned (uint64)
  element counts, row and column numbers and counts (``ib``, ``n``, ``j``, ``k``) signed integers;
  nothing is bounds-checked: the caller sizes its scratch and keeps every read inside its arrays.
  Loads and stores are unaligned.
* The lanes are float32, or float64 for the kernels whose work dtype it is. The code is plain
  LLVM vector IR (``<8 x float>``, ``shufflevector``, ``llvm.fmuladd``, ``llvm.rint``): every
  x86-64 and ARM target compiles it (in 128-bit pieces without AVX).
* The rounding is the scalar kernels', bit for bit: ``p + f * (q - p)`` and ``acc + w * v`` are
  each one fused multiply-add, ``w0 * v0 + w1 * v1`` is ``fma(w0, v0, w1 * v1)`` (how LLVM
  contracts the scalar code), sums run from 0 in the order of the taps, and integer stores are
  numba's ``max(lo, min(hi, rint(v)))`` (half to even; a NaN stores ``hi``) for the raster dtypes
  (8- to 32-bit integers). ``tests/test_vec8.py`` holds each against numpy.
* Numba caches a compiled kernel under the file that defines it, not the files of the intrinsics
  it inlines: after changing this module in a checkout, clear ``geoaug/kernels/__pycache__``.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["dot8", "lerp8", "lerp8x8", "store8x8", "transpose8", "vert8"]

_MASK = ir.VectorType(ir.IntType(32), 8)


def _vec(aryty) -> ir.VectorType:
    return ir.VectorType(ir.FloatType() if aryty.dtype == types.float32 else ir.DoubleType(), 8)


def _ptr(context, builder, aryty, ary, offset):  # pragma: no cover - numba lowering
    # <8 x float>* (or double) at element ``offset`` of a 1-D array
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [offset], inbounds=True), _vec(aryty).as_pointer())


def _shuffle(builder, x, y, mask):  # pragma: no cover - numba lowering
    return builder.shuffle_vector(x, y, ir.Constant(_MASK, mask))


def _splat(builder, s, vec):  # pragma: no cover - numba lowering
    v = builder.insert_element(ir.Constant(vec, ir.Undefined), s, ir.Constant(ir.IntType(32), 0))
    return _shuffle(builder, v, v, [0] * 8)


def _fmuladd(builder, x, y, z):  # pragma: no cover - numba lowering
    vec = x.type
    name = "llvm.fmuladd.v8f32" if isinstance(vec.element, ir.FloatType) else "llvm.fmuladd.v8f64"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]), name)
    return builder.call(fn, [x, y, z])


def _lerp(context, builder, aryty, ary, k, f):  # pragma: no cover - numba lowering
    # p + f * (q - p), p the eight values at element k of ary, q the eight after them
    p = builder.load(_ptr(context, builder, aryty, ary, k), align=1)
    q = builder.load(_ptr(context, builder, aryty, ary, builder.add(k, ir.Constant(k.type, 8))), align=1)
    return _fmuladd(builder, _splat(builder, f, p.type), builder.fsub(q, p), p)


def _transpose(builder, rows):  # pragma: no cover - numba lowering
    # eight vectors of eight, transposed: result c holds element c of every row
    # pairs of rows interleaved: t[2i] = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5] (i = 0: rows 0, 1)
    t = []
    for i in range(0, 8, 2):
        t.append(_shuffle(builder, rows[i], rows[i + 1], [0, 8, 1, 9, 4, 12, 5, 13]))
        t.append(_shuffle(builder, rows[i], rows[i + 1], [2, 10, 3, 11, 6, 14, 7, 15]))
    # four rows of one column per 128-bit half: u0 = column 0 rows 0-3 | column 4 rows 0-3
    lo, hi = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
    u = [_shuffle(builder, t[0], t[2], lo), _shuffle(builder, t[0], t[2], hi),
         _shuffle(builder, t[1], t[3], lo), _shuffle(builder, t[1], t[3], hi),
         _shuffle(builder, t[4], t[6], lo), _shuffle(builder, t[4], t[6], hi),
         _shuffle(builder, t[5], t[7], lo), _shuffle(builder, t[5], t[7], hi)]
    # the halves joined: column c, rows 0-7
    first, second = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
    return ([_shuffle(builder, u[c], u[c + 4], first) for c in range(4)]
            + [_shuffle(builder, u[c], u[c + 4], second) for c in range(4)])


def _check(a, b, *scalars) -> bool:
    # two 1-D arrays of one float dtype, and scalars of that dtype
    return (isinstance(a, types.Array) and isinstance(b, types.Array) and a.ndim == 1 and b.ndim == 1
            and a.dtype == b.dtype and a.dtype in (types.float32, types.float64)
            and all(s == a.dtype for s in scalars))


@intrinsic
def transpose8(typingctx, a, ao, astr, b, bo, bstr):  # pragma: no cover - numba typing and lowering
    """``b[bo + c * bstr + r] = a[ao + r * astr + c]`` for ``r, c`` in 0..7."""
    if not _check(a, b):
        return None
    sig = types.void(a, ao, astr, b, bo, bstr)

    def codegen(context, builder, signature, args):
        ta, _, _, tb, _, _ = signature.args
        a_, ao_, as_, b_, bo_, bs_ = args
        starts = [builder.add(ao_, builder.mul(as_, ir.Constant(as_.type, r))) for r in range(8)]
        rows = [builder.load(_ptr(context, builder, ta, a_, start),
                             align=1) for start in starts]
        cols = _transpose(builder, rows)
        for c in range(8):
            off = builder.add(bo_, builder.mul(bs_, ir.Constant(bs_.type, c)))
            builder.store(cols[c], _ptr(context, builder, tb, b_, off), align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lerp8(typingctx, a, ka, f, b, kb):  # pragma: no cover - numba typing and lowering
    """``b[kb : kb + 8] = p + f * (q - p)`` with ``p = a[ka : ka + 8]``, ``q = a[ka + 8 : ka + 16]``."""
    if not _check(a, b, f):
        return None
    sig = types.void(a, ka, f, b, kb)

    def codegen(context, builder, signature, args):
        ta, _, _, tb, _ = signature.args
        a_, ka_, f_, b_, kb_ = args
        builder.store(_lerp(context, builder, ta, a_, ka_, f_), _ptr(context, builder, tb, b_, kb_), align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dot8(typingctx, a, idx, w, j, k, b, kb):  # pragma: no cover - numba typing and lowering
    """``b[kb : kb + 8] = sum over q < k of w[j, q] * a[8 * idx[j, q] : 8 * idx[j, q] + 8]``.

    ``idx`` (uint64) and ``w`` are C-contiguous 2-D arrays of taps and weights; the sum runs in
    registers, in the order of ``q``, from 0 (as the scalar kernels' sums).
    """
    if not (_check(a, b) and isinstance(idx, types.Array) and idx.ndim == 2 and idx.dtype == types.uint64
            and idx.layout == "C" and isinstance(w, types.Array) and w.ndim == 2 and w.dtype == a.dtype
            and w.layout == "C"):
        return None
    sig = types.void(a, idx, w, j, k, b, kb)

    def codegen(context, builder, signature, args):
        ta, tidx, tw, _, _, tb, _ = signature.args
        a_, idx_, w_, j_, k_, b_, kb_ = args
        vec = _vec(ta)
        i64 = ir.IntType(64)
        j64 = builder.sext(j_, i64) if j_.type.width < 64 else j_
        k64 = builder.sext(k_, i64) if k_.type.width < 64 else k_
        iarr = context.make_array(tidx)(context, builder, idx_)
        warr = context.make_array(tw)(context, builder, w_)
        irow = builder.gep(iarr.data, [builder.mul(j64, builder.extract_value(iarr.shape, 1))], inbounds=True)
        wrow = builder.gep(warr.data, [builder.mul(j64, builder.extract_value(warr.shape, 1))], inbounds=True)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vec, [0.0] * 8))
        with cgutils.for_range(builder, k64) as loop:
            q = loop.index
            tap = builder.load(builder.gep(irow, [q], inbounds=True))
            wv = builder.load(builder.gep(wrow, [q], inbounds=True))
            v = builder.load(_ptr(context, builder, ta, a_, builder.mul(tap, ir.Constant(i64, 8))), align=1)
            builder.store(_fmuladd(builder, _splat(builder, wv, vec), v, builder.load(acc)), acc)
        builder.store(builder.load(acc), _ptr(context, builder, tb, b_, kb_), align=1)
        return context.get_dummy_value()

    return sig, codegen


def _rint(builder, v):  # pragma: no cover - numba lowering
    name = "llvm.rint.v8f32" if isinstance(v.type.element, ir.FloatType) else "llvm.rint.v8f64"
    return builder.call(cgutils.get_or_insert_function(builder.module, ir.FunctionType(v.type, [v.type]), name), [v])


def _store_rows(context, builder, tb, b_, bo_, bs_, n_, lo_, hi_, rows):  # pragma: no cover - numba lowering
    # rows[r] (eight values) to b[bo + r * bstr :] for r < n, in b's dtype: integers rounded half to even and
    # saturated to [lo, hi] as the scalar stores do (max(lo, min(hi, rint(v)))), floats as they are
    vec = rows[0].type
    out = context.make_array(tb)(context, builder, b_).data
    if isinstance(tb.dtype, types.Integer):
        ity = context.get_value_type(tb.dtype)
        lov, hiv = _splat(builder, lo_, vec), _splat(builder, hi_, vec)
        wide = ir.VectorType(ir.IntType(32), 8)  # every value of the dtypes _store_checks admits
        rows = [_rint(builder, r) for r in rows]
        # numba's min(hi, r) and max(lo, m), NaN included (a NaN becomes hi): r if r < hi else hi, then
        # m if m > lo else lo
        rows = [builder.select(builder.fcmp_ordered("<", r, hiv), r, hiv) for r in rows]
        rows = [builder.select(builder.fcmp_ordered(">", r, lov), r, lov) for r in rows]
        rows = [builder.fptosi(r, wide) for r in rows]
        if ity.width < wide.element.width:
            rows = [builder.trunc(r, ir.VectorType(ity, 8)) for r in rows]
    else:
        ity = vec.element
    for r in range(8):
        with builder.if_then(builder.icmp_signed(">", n_, ir.Constant(n_.type, r)), likely=True):
            off = builder.add(bo_, builder.mul(bs_, ir.Constant(bs_.type, r)))
            p = builder.bitcast(builder.gep(out, [off], inbounds=True), ir.VectorType(ity, 8).as_pointer())
            builder.store(rows[r], p, align=1)


def _store_checks(a, b, lo, hi) -> bool:
    # a float32/float64 1-D source, a 1-D numeric destination (a float one of the source's dtype)
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.dtype in (types.float32, types.float64)
            and isinstance(b, types.Array) and b.ndim == 1 and lo == a.dtype and hi == a.dtype):
        return False
    if isinstance(b.dtype, types.Float):
        return b.dtype == a.dtype
    # the raster dtypes: integers whose every value converts through int32
    return isinstance(b.dtype, types.Integer) and (b.dtype.bitwidth < 32 or b.dtype == types.int32)


@intrinsic
def store8x8(typingctx, a, ao, b, bo, bstr, n, lo, hi):  # pragma: no cover - numba typing and lowering
    """Eight interleaved columns out as rows: ``b[bo + r * bstr + c] = a[ao + 8 * c + r]``, ``c`` < 8, ``r`` < ``n``.

    ``b`` may be any numeric dtype: an integer ``b`` gets the values rounded half to even and saturated
    to ``[lo, hi]`` (``max(lo, min(hi, rint(v)))``, as the scalar stores), a float ``b`` of ``a``'s dtype
    the values themselves.
    """
    if not _store_checks(a, b, lo, hi):
        return None
    sig = types.void(a, ao, b, bo, bstr, n, lo, hi)

    def codegen(context, builder, signature, args):
        ta, _, tb, _, _, _, _, _ = signature.args
        a_, ao_, b_, bo_, bs_, n_, lo_, hi_ = args
        cols = [builder.load(_ptr(context, builder, ta, a_, builder.add(ao_, ir.Constant(ao_.type, 8 * c))), align=1)
                for c in range(8)]
        _store_rows(context, builder, tb, b_, bo_, bs_, n_, lo_, hi_, _transpose(builder, cols))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def vert8(typingctx, src, plane, width, iy, wy, ib, n, xs, xe, b, bo):  # pragma: no cover - numba typing and lowering
    """Two-row vertical pass of eight output rows, interleaved (``xe - xs`` a multiple of 8).

    Output row ``i = ib + min(r, n - 1)`` (lane ``r`` < 8; a short block repeats its last row) reads input
    rows ``iy[i, 0]`` and ``iy[i, 1]`` of the plane at ``src[plane:]`` (rows ``width`` apart) with weights
    ``wy[i, 0]``, ``wy[i, 1]``. For ``x`` in ``xs, xs + 8, ... < xe`` and ``c`` < 8::

        b[bo + 8 * (x - xs + c) + r] = wy[i, 0] * v0 + wy[i, 1] * v1,  v0 = src[plane + iy[i, 0] * width + x + c]

    ``src`` is the flat raster (any integer or float dtype, converted to ``b``'s float dtype); ``iy`` (int64)
    and ``wy`` (``b``'s dtype) are C-contiguous 2-D; every tap must lie inside. ``w1 * v1`` is rounded, then
    ``w0 * v0`` added to it in one fused multiply-add: how LLVM contracts the scalar kernels' ``w0 * v0 + w1 * v1``
    (the lanes give the bits of the row-at-a-time pass).
    """
    if not (isinstance(src, types.Array) and src.ndim == 1 and isinstance(src.dtype, (types.Integer, types.Float))
            and isinstance(b, types.Array) and b.ndim == 1 and b.dtype in (types.float32, types.float64)
            and isinstance(iy, types.Array) and iy.ndim == 2 and iy.dtype == types.int64 and iy.layout == "C"
            and isinstance(wy, types.Array) and wy.ndim == 2 and wy.dtype == b.dtype and wy.layout == "C"):
        return None
    if isinstance(src.dtype, types.Float) and src.dtype != b.dtype:
        return None
    sig = types.void(src, plane, width, iy, wy, ib, n, xs, xe, b, bo)

    def codegen(context, builder, signature, args):
        tsrc, _, _, tiy, twy, _, _, _, _, tb, _ = signature.args
        src_, plane_, width_, iy_, wy_, ib_, n_, xs_, xe_, b_, bo_ = args
        vec = _vec(tb)
        i64 = ir.IntType(64)
        svec = ir.VectorType(context.get_value_type(tsrc.dtype), 8)
        data = context.make_array(tsrc)(context, builder, src_).data
        iyarr = context.make_array(tiy)(context, builder, iy_)
        wyarr = context.make_array(twy)(context, builder, wy_)
        iyk = builder.extract_value(iyarr.shape, 1)
        wyk = builder.extract_value(wyarr.shape, 1)
        last = builder.sub(n_, ir.Constant(n_.type, 1))
        o0, o1, a0, a1 = [], [], [], []
        for r in range(8):
            rr = ir.Constant(n_.type, r)
            i = builder.add(ib_, builder.select(builder.icmp_signed("<", rr, last), rr, last))
            for q, (offs, weights) in enumerate(((o0, a0), (o1, a1))):
                y = builder.load(builder.gep(iyarr.data, [builder.add(builder.mul(i, iyk), ir.Constant(i64, q))],
                                             inbounds=True))
                offs.append(builder.add(plane_, builder.mul(y, width_)))
                wv = builder.load(builder.gep(wyarr.data, [builder.add(builder.mul(i, wyk), ir.Constant(i64, q))],
                                              inbounds=True))
                weights.append(_splat(builder, wv, vec))

        def load_row(off):
            v = builder.load(builder.bitcast(builder.gep(data, [off], inbounds=True), svec.as_pointer()), align=1)
            if isinstance(tsrc.dtype, types.Float):
                return v
            return builder.sitofp(v, vec) if tsrc.dtype.signed else builder.uitofp(v, vec)

        count = builder.udiv(builder.sub(xe_, xs_), ir.Constant(i64, 8))
        with cgutils.for_range(builder, count) as loop:
            step = builder.mul(loop.index, ir.Constant(i64, 8))
            x = builder.add(xs_, step)
            rows = [_fmuladd(builder, a0[r], load_row(builder.add(o0[r], x)),
                             builder.fmul(a1[r], load_row(builder.add(o1[r], x)))) for r in range(8)]
            cols = _transpose(builder, rows)
            base = builder.add(bo_, builder.mul(step, ir.Constant(i64, 8)))
            for c in range(8):
                builder.store(cols[c], _ptr(context, builder, tb, b_, builder.add(base, ir.Constant(i64, 8 * c))),
                              align=1)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def lerp8x8(typingctx, a, x0, fx, j, b, bo, bstr, n, lo, hi):  # pragma: no cover - numba typing and lowering
    """:func:`lerp8` of eight output columns ``j .. j + 7``, stored as :func:`store8x8` stores them.

    Column ``j + c`` is ``p + fx[j + c] * (q - p)``, ``p = a[8 * x0[j + c] :][:8]``, ``q`` the eight after
    ``p``; ``x0`` (uint32) and ``fx`` (``a``'s dtype) are 1-D. The eight columns go to ``b[bo + r * bstr + c]``
    for ``r`` < ``n`` without passing through memory.
    """
    if not (_store_checks(a, b, lo, hi) and isinstance(x0, types.Array) and x0.ndim == 1
            and x0.dtype == types.uint32 and isinstance(fx, types.Array) and fx.ndim == 1 and fx.dtype == a.dtype):
        return None
    sig = types.void(a, x0, fx, j, b, bo, bstr, n, lo, hi)

    def codegen(context, builder, signature, args):
        ta, tx0, tfx, _, tb, _, _, _, _, _ = signature.args
        a_, x0_, fx_, j_, b_, bo_, bs_, n_, lo_, hi_ = args
        i64 = ir.IntType(64)
        x0d = context.make_array(tx0)(context, builder, x0_).data
        fxd = context.make_array(tfx)(context, builder, fx_).data
        cols = []
        for c in range(8):
            jc = builder.add(j_, ir.Constant(j_.type, c))
            k = builder.zext(builder.load(builder.gep(x0d, [jc], inbounds=True)), i64)
            f = builder.load(builder.gep(fxd, [jc], inbounds=True))
            cols.append(_lerp(context, builder, ta, a_, builder.mul(k, ir.Constant(i64, 8)), f))
        _store_rows(context, builder, tb, b_, bo_, bs_, n_, lo_, hi_, _transpose(builder, cols))
        return context.get_dummy_value()

    return sig, codegen
