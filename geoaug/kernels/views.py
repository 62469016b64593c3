"""Row views that cost no reference count: for views made per row and band inside a compiled loop.

A numba array view (``dst[b, i]``) shares its parent's memory record, so making one increments and
dropping it decrements an atomic count (two calls into numba's runtime). Numba removes such pairs
only where the control flow is simple; in the warp's row kernel they stayed, once per row and band
for every view: on a 1 x 512² bilinear warp the two calls took 21 % of the time (``perf``, symbols
``NRT_incref`` / ``NRT_decref``), more than the interpolation of some rows.

:func:`row` builds the view without a memory record: the runtime's calls return at once on it. The
view borrows the parent's memory: it must not outlive the parent, be returned, or be stored, only be
read and written while the parent is alive. Every use here is inside a kernel whose caller holds the
parent for the whole call.
"""

from __future__ import annotations

from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["row"]


@intrinsic
def row(typingctx, arr, index):  # pragma: no cover - numba typing and lowering
    """``arr[index]`` of a C-contiguous array, as a borrowed view (no memory record, see the module docstring).

    ``index`` is an integer (``arr`` 2-D or more) or a tuple of integers (one per leading axis); the
    view has the remaining axes, C-contiguous. No bounds check, like the kernels' other indexing.
    """
    if not isinstance(arr, types.Array) or arr.layout != "C":
        return None
    if isinstance(index, types.Integer):
        idx_types = (index,)
    elif isinstance(index, types.BaseTuple) and all(isinstance(t, types.Integer) for t in index.types):
        idx_types = tuple(index.types)
    else:
        return None
    k = len(idx_types)
    if k >= arr.ndim:
        return None
    ret = types.Array(arr.dtype, arr.ndim - k, "C", readonly=not arr.mutable)

    def codegen(context, builder, sig, args):
        aryty, idxty = sig.args
        ary = context.make_array(aryty)(context, builder, args[0])
        if isinstance(idxty, types.BaseTuple):
            vals = [builder.extract_value(args[1], i) for i in range(k)]
        else:
            vals = [args[1]]
        vals = [context.cast(builder, v, t, types.intp) for v, t in zip(vals, idx_types)]
        shape = cgutils.unpack_tuple(builder, ary.shape)
        strides = cgutils.unpack_tuple(builder, ary.strides)
        # element offset of the view's first item: C order, so the flat index of (index..., 0, ...)
        flat = vals[0]
        for d in range(1, k):
            flat = builder.add(builder.mul(flat, shape[d]), vals[d])
        inner = shape[k]
        for d in range(k + 1, aryty.ndim):
            inner = builder.mul(inner, shape[d])
        data = builder.gep(ary.data, [builder.mul(flat, inner)])
        out = context.make_array(sig.return_type)(context, builder)
        context.populate_array(out, data=data, shape=shape[k:], strides=strides[k:], itemsize=ary.itemsize,
                               meminfo=None, parent=None)
        return out._getvalue()

    return ret(arr, index), codegen
