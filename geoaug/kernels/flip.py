"""Exact strided copies: flips, rot90, transpose, integer crops and their compositions.

All of them are one index map: output pixel ``(i, j)`` copies input pixel
``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)`` with coefficients in {-1, 0, 1}. No
interpolation, no arithmetic on values: the result is exactly what the generic
warp with nearest interpolation gives for the same matrix.

How each case is copied
-----------------------
* unit column stride (crops, vertical flips): one ``memcpy`` per output row
  (LLVM's ``memcpy`` intrinsic; one for a unit's rows where they are adjacent in
  the source), with the other maps' parallel units. numpy's copy of the row
  slices did it before, on one thread: at 2 threads a vertical flip of 12x256² to
  200x256² now takes 0.34-0.71 of that time, at one thread 0.82-1.04 (1x512²:
  1.03-1.07; ``scripts/bench_trees.py --threads N``). A source or mask that is not
  C-contiguous still goes through numpy's copy of the slices (the kernel would
  need a contiguous copy of all of it first). LLVM did not vectorise the element
  loop this replaces: 6-10x slower than ``np.copy``;
* mirrored rows (horizontal flips, rot180): a numba loop that LLVM
  vectorises (flat unsigned indexes, no wraparound checks);
* transposing maps (rot90, rot270, transpose, anti-transpose: ``rj != 0``): register
  blocks. Output row ``i`` is source column ``c0 + ci*i``, so a B x B block loads B
  source rows (B contiguous pixels each) as B vectors, transposes them in registers
  with log2(B) rounds of unpacks (LLVM ``shufflevector``) and stores B vectors along
  output rows. The rounds unpack inside each 16-byte lane first, then whole lanes
  (:func:`_transpose_rounds`): on x86 ``vpunpckl*`` / ``vpunpckh*`` and a last
  ``vinserti128`` / ``vperm2i128`` round for 2-byte pixels, where interleaves of
  whole vectors took ``vpermt2w`` in every round (rot90 of 12x256² and 4x512² uint16
  at 0.92-0.96 of that time; no clear change at 1x512² and 200x256²). B is 16 for
  1-, 2- and 4-byte pixels and 8 for 8-byte ones (:data:`_BLOCK`); signed row steps
  cover the mirrored orientations. Blocks are walked in tiles of 64 output columns
  by strips of whole blocks (64 to 127 output rows, or all of them; the parallel
  units): the source lines a tile reads are reused from L1/L2 by its next blocks,
  and each output line is written whole (rows a power of two bytes apart fall into
  the same few cache sets: a 1,024-pixel-wide quarter turn takes about twice the
  time of a 1,000-pixel one, relative to a copy; see docs/transforms.md). A block
  that would cross the far edge of a strip or a tile is moved back to end on it
  (it rewrites a few pixels with the same values): no edge loops. Rasters
  narrower or shorter than one block take a scalar loop. A raster too large to
  stay in cache whose planes are small goes a whole plane per unit, each first
  read ahead, source rows and output, one item per cache line
  (:data:`TOUCH_BYTES`).

Measured with ``scripts/bench_copies.py`` (one thread, best of 31, interleaved with
``cv2.rotate`` per band into preallocated outputs): rot90 of 13x120² uint16 went from
3.2x OpenCV's time to 0.65x, of 1x512² int16 from 13x ``np.copy`` of the same bytes to
about 2.4x; 200x256² (memory-bound) was at about 0.9x OpenCV, 2.1x ``np.copy`` then, and
1.07-1.27x, 2.8-3.8x in ``scripts/bench.py``'s later runs; each plane read ahead
(:data:`TOUCH_BYTES`), 0.38-0.68x and 1.27-1.63x.

Data and mask planes are copied in one kernel call (one parallel region); a
mask that is a broadcast of True (every pixel valid) is not copied at all.
Small copies run on one thread: below :data:`SERIAL_BELOW` bytes (twice that for
the row maps, :data:`ROW_SERIAL_FACTOR`) threads cost more than they save.
"""

from __future__ import annotations

import functools
from typing import Any

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import indirect, threads
from .borrowing import borrowing_jit
from .buffers import out_buffer
from .cache import LINE_BYTES
from .diskcache import lock_disk_cache
from .indirect import call_address

__all__ = ["ROW_SERIAL_FACTOR", "SERIAL_BELOW", "TOUCH_BYTES", "TOUCH_PLANE_BYTES", "index_copy"]

_TILE = 64  # output columns per tile of the transposing maps
_STRIP = 64  # output rows per unit of the transposing maps (at least a register block side)
#: copies smaller than this many bytes (data + mask) run on one thread. When it bounded every map, a 512 kB hflip
#: at 2 threads took 0.91 of its 1-thread time and rot90 0.71, a 128 kB one 1.23 and 1.05 (one process). Row maps
#: have twice the bound: see :data:`ROW_SERIAL_FACTOR`
SERIAL_BELOW = 1 << 19
#: row maps (flips, rot180, crops: ``rj == 0``) run on one thread below this many times :data:`SERIAL_BELOW`.
#: They move a byte about twice as fast as a quarter turn, so a second thread has half the time to pay for
#: itself. In five of nine processes on this shared 2-core machine it did not: hflip and vflip at 2 threads took
#: 1.10-1.54 of their 1-thread time at 512 kB, 1.10-1.19 at 768 kB and 0.67-1.05 at 1 MB; in the other four
#: 0.79-0.85, 0.72-0.82 and 0.68-0.75. Rot90 of 512 kB took 0.65-0.72 (three processes). Interleaved in one
#: process, ``index_copy`` into a preallocated output, best of 41. Through the transforms
#: (``scripts/bench_row_threads.py``, two runs of six processes) flips below 1 MB took 0.89-1.03 of the 1-thread
#: time with this factor and 0.79-1.59 with a factor of 1
ROW_SERIAL_FACTOR = 2
#: a transposing map (rot90, transpose) of a source of more than this many bytes per thread whose planes, source
#: and output together, take at most :data:`TOUCH_PLANE_BYTES` (with two bands per thread at least) is copied a
#: whole plane per unit, and each unit first reads one item per cache line of the plane's source rows and of its
#: output plane, in address order: the blocks then load and store in the core's cache, where from memory their
#: sixteen rows' lines (and the output lines' reads for ownership) waited in turn. Rot90 of 200x256² uint16:
#: 0.44-0.50 of the time at one thread, 0.50-0.57 at two; float32 0.46-0.49 and 0.48-0.71; 26x512² uint16 at
#: one thread 0.68-0.69 (``scripts/bench_trees.py``, two runs each). Below the bound the source is mostly in
#: cache and the reads cost (1.5-4 MB: 1.1-1.65x the time, ``scripts/bench_touch.py``); between 6.5 and 13 MB at
#: two threads they read 0.64-1.35x, in cache or not by process; a plane past a core's cache gains little
#: (1024² float32 0.9-1.0, 4096² 1.03-1.19).
TOUCH_BYTES = 8 << 20
#: the most bytes a plane's source and output may take together for the copy to read them ahead (see
#: :data:`TOUCH_BYTES`): about two of this machine's 2 MB per-core caches
TOUCH_PLANE_BYTES = 4 << 20


# Flat, unsigned indexes throughout: numba then drops its negative-index wraparound and bounds
# bookkeeping, and LLVM vectorises the mirrored row loop (about 10x faster than 3-D indexing).
#
# The two kinds of unit (_row_unit, _tile_unit, with _touch_plane) are compiled functions of their own, not
# inlined by numba (inline="always"): each is compiled once per item type, and the copy kernel of every data
# item size links the same uint8 variants for the mask planes. Inlined, numba copied and typed both units twice
# into every kernel (once for the data, once for the mask): the first flips and quarter turns of uint16, uint8,
# float32 and float64 rasters with a mask took 12.0-14.0 s, now 5.8-7.2 s (``scripts/bench_cold.py --case
# copies``, fresh cache, two runs of three). The kernel calls them (LLVM does not inline functions this large):
# one call per unit, a block of rows, a strip or a plane, not per pixel.


@borrowing_jit()
def _row_unit(s, d, k, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj):  # pragma: no cover - numba
    # unit k: plane k // nchunk, a block of consecutive output rows
    plane = k // nchunk
    q = k - plane * nchunk
    i0 = out_h * q // nchunk
    i1 = out_h * (q + 1) // nchunk
    so = (plane * in_h + r0) * in_w + c0  # source offset of output row 0
    step = ri * in_w + ci
    do = plane * out_h * out_w
    if cj == 1:  # row copies: memcpy (the element loop did not vectorise: 6-10x slower than np.copy)
        if step == out_w:  # the rows are adjacent in the source: one copy
            _copy_items(d, do + i0 * out_w, s, so + i0 * step, (i1 - i0) * out_w)
        else:
            for i in range(i0, i1):
                _copy_items(d, do + i * out_w, s, so + i * step, out_w)
    else:
        for i in range(i0, i1):
            uso = np.uint64(so + i * step)
            udo = np.uint64(do + i * out_w)
            for j in range(out_w):
                uj = np.uint64(j)
                d[udo + uj] = s[uso - uj]


@intrinsic
def _copy_items(typingctx, d, do, s, so, n):  # pragma: no cover - compile time
    """Copy ``n`` items of ``s`` from flat index ``so`` to ``d`` from ``do`` (LLVM ``memcpy``; the ranges
    must not overlap). Indexes are not checked: the caller keeps them in range."""
    if not (isinstance(s, types.Array) and isinstance(d, types.Array) and s.dtype == d.dtype
            and s.layout == "C" and d.layout == "C" and d.mutable
            and all(isinstance(x, types.Integer) for x in (do, so, n))):
        return None
    sig = types.void(d, do, s, so, n)

    def codegen(context, builder, signature, args):
        dst = context.make_array(signature.args[0])(context, builder, args[0])
        src = context.make_array(signature.args[2])(context, builder, args[2])
        do_, so_, n_ = (context.cast(builder, args[k], signature.args[k], types.int64) for k in (1, 3, 4))
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        cgutils.raw_memcpy(builder, builder.gep(dst.data, [do_], inbounds=True),
                           builder.gep(src.data, [so_], inbounds=True), n_, itemsize)
        return context.get_dummy_value()

    return sig, codegen


# Register blocks for the transposing maps: B rows of B contiguous source pixels are loaded as B
# vectors, transposed with log2(B) rounds of unpacks (LLVM shufflevector; see _transpose_rounds) and
# stored as B vectors along output rows. Side per item size:
# bool masks and uint8 use 16x16 blocks of 128-bit vectors, 2-byte data 16x16 of 256-bit vectors,
# 4-byte data 16x16 and 8-byte data 8x8 of 512-bit vectors (split by LLVM where the target has none).
_BLOCK = {1: 16, 2: 16, 4: 16, 8: 8}


def _unpack_masks(side: int, lane: int, g: int) -> tuple[list[int], list[int]]:
    """Indexes into ``a ++ b`` of the low and high unpacks of ``a`` and ``b`` (``side`` items each) inside
    every group of ``lane`` items, ``g`` items at a time (x86 ``punpckl*`` / ``punpckh*`` for one 16-byte lane)."""
    lo: list[int] = []
    hi: list[int] = []
    for base in range(0, side, lane):
        for half, out in ((0, lo), (lane // 2, hi)):
            for blk in range(lane // (2 * g)):
                start = base + half + blk * g
                out += [start + i for i in range(g)] + [side + start + i for i in range(g)]
    return lo, hi


def _transpose_rounds(side: int, lane: int) -> list[tuple[int, tuple[list[int], list[int]]]]:
    """The rounds of a ``side`` x ``side`` register transpose: ``(stride, (lo, hi))`` pairs vector ``k`` with
    ``k + stride`` (``k // stride`` even) into ``lo`` and ``hi``. Unpacks inside each ``lane`` items first
    (granularity 1, 2, 4... items), then of whole lanes (granularity 1, 2... lanes)."""
    rounds = []
    stride = 1
    g = 1
    while g < min(lane, side):
        rounds.append((stride, _unpack_masks(side, min(lane, side), g)))
        g *= 2
        stride *= 2
    while g < side:  # whole lanes: an unpack of ``g``-item groups across the vector
        rounds.append((stride, _unpack_masks(side, side, g)))
        g *= 2
        stride *= 2
    return rounds


def _run_rounds(rows: list, side: int, lane: int, shuffle) -> list:
    """``rows`` after the rounds of :func:`_transpose_rounds`, ``shuffle(a, b, mask)`` making each new vector:
    one loop for the labels (:func:`_transpose_labels`) and the emitted code (:func:`_transpose_network`)."""
    for stride, (lo, hi) in _transpose_rounds(side, lane):
        new = list(rows)
        for k in range(side):
            if (k // stride) % 2 == 0:
                new[k] = shuffle(rows[k], rows[k + stride], lo)
                new[k + stride] = shuffle(rows[k], rows[k + stride], hi)
        rows = new
    return rows


def _transpose_labels(side: int, lane: int) -> list[int]:
    """Which source column each vector holds after :func:`_transpose_rounds`, found by running the rounds on
    labels ``(row, column)``; raises unless every vector holds one column, rows in order, and the columns are
    a permutation (the network is a transpose)."""
    rows = [[(r, c) for c in range(side)] for r in range(side)]
    rows = _run_rounds(rows, side, lane, lambda a, b, m: [(a + b)[i] for i in m])
    cols = [v[0][1] for v in rows]
    if (any([r for r, _ in v] != list(range(side)) or len({c for _, c in v}) != 1 for v in rows)
            or sorted(cols) != list(range(side))):
        raise RuntimeError(f"the {side} x {side} register network (lanes of {lane}) is not a transpose")
    return cols


def _transpose_network(builder, rows, side: int, lane: int):
    """Emit the shuffles of :func:`_transpose_rounds` on ``rows``; the vectors and the source column (the
    output row of the block) each one holds."""
    i32 = ir.IntType(32)

    def shuffle(a, b, m):
        return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, side), m))

    return _run_rounds(rows, side, lane, shuffle), _transpose_labels(side, lane)


@intrinsic
def _block_side(typingctx, s):  # pragma: no cover - compile time
    """The register block side for the item size of ``s`` (a compile-time constant)."""
    side = _BLOCK[s.dtype.bitwidth // 8]

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, side)

    return types.intp(s), codegen


@intrinsic
def _transpose_block(typingctx, s, so, sstep, d, do, dstep):  # pragma: no cover - compile time
    """Copy one B x B block transposed: source row ``k`` (``B`` pixels from flat index ``so + k*sstep``)
    becomes output column ``k`` of rows ``do + m*dstep`` (m < B). Steps are signed (mirrored maps);
    indexes are not checked: the caller keeps them in range."""
    if not (isinstance(s, types.Array) and isinstance(d, types.Array) and s.dtype == d.dtype
            and isinstance(s.dtype, types.Integer)):
        return None
    itemsize = s.dtype.bitwidth // 8
    side = _BLOCK[itemsize]
    sig = types.void(s, so, sstep, d, do, dstep)

    def codegen(context, builder, signature, args):
        src = context.make_array(signature.args[0])(context, builder, args[0])
        dst = context.make_array(signature.args[3])(context, builder, args[3])
        so_, sstep_, do_, dstep_ = (context.cast(builder, args[n], signature.args[n], types.int64)
                                    for n in (1, 2, 4, 5))
        i64 = ir.IntType(64)
        vec = ir.VectorType(ir.IntType(8 * itemsize), side)
        rows = []
        for k in range(side):
            at = builder.add(so_, builder.mul(sstep_, ir.Constant(i64, k)))
            ptr = builder.bitcast(builder.gep(src.data, [at], inbounds=True), vec.as_pointer())
            rows.append(builder.load(ptr, align=1))
        rows, cols = _transpose_network(builder, rows, side, 16 // itemsize)
        for v, m in zip(rows, cols):
            at = builder.add(do_, builder.mul(dstep_, ir.Constant(i64, m)))
            ptr = builder.bitcast(builder.gep(dst.data, [at], inbounds=True), vec.as_pointer())
            builder.store(v, ptr, align=1)
        return context.get_dummy_value()

    return sig, codegen


@borrowing_jit()
def _touch_plane(s, d, sp, dp, out_h, out_w, in_w, r0, rj, line):  # pragma: no cover - numba
    # one item per cache line (``line`` items) of the source rows the plane's output reads (whole rows, in
    # address order) and of its output plane, before any block is copied (see TOUCH_BYTES); the sum goes to the
    # plane's first output pixel, which the copy then writes, so the loads are not dropped
    ra = r0 if rj > 0 else r0 + rj * (out_w - 1)
    acc = s[np.uint64(sp)] - s[np.uint64(sp)]
    for t in range(sp + ra * in_w, sp + (ra + out_w) * in_w, line):
        acc += s[np.uint64(t)]
    for t in range(dp, dp + out_h * out_w, line):
        acc += d[np.uint64(t)]
    d[np.uint64(dp)] = acc


@borrowing_jit()
def _tile_unit(s, d, k, nbi, out_h, out_w, in_h, in_w, r0, rj, c0, ci, touch):  # pragma: no cover - numba
    # unit k: plane k // nbi, a strip of consecutive output rows made of whole register blocks; the
    # last strip also takes the rows left over (its last block overlaps the one before, in the strip)
    plane = k // nbi
    q = k - plane * nbi
    sp = plane * in_h * in_w
    dp = plane * out_h * out_w
    if touch:  # the unit is the whole plane (nbi == 1): its source rows and its output in cache first
        _touch_plane(s, d, sp, dp, out_h, out_w, in_w, r0, rj, touch)
    side = _block_side(s)
    if out_h < side or out_w < side:  # thinner than a block: pixel by pixel
        for i in range(out_h * q // nbi, out_h * (q + 1) // nbi):
            col = sp + c0 + ci * i
            do = dp + i * out_w
            for j in range(out_w):
                d[np.uint64(do + j)] = s[np.uint64(col + (r0 + rj * j) * in_w)]
        return
    nblk = out_h // side  # >= nbi: index_copy makes strips of at least _STRIP >= side rows
    i0 = side * (nblk * q // nbi)
    i1 = side * (nblk * (q + 1) // nbi) if q < nbi - 1 else out_h
    sstep = rj * in_w
    dstep = ci * out_w
    # tiles of _TILE output columns: the source lines a tile reads are reused by its next blocks; a
    # block that would cross the strip's or the tile's far edge is moved back to end on it (it rewrites
    # a few pixels of its neighbour with the same values: no edge loops)
    for jt in range(0, out_w, _TILE):
        je = min(jt + _TILE, out_w)
        for ib in range(i0, i1, side):
            i = min(ib, i1 - side)
            # output rows i .. i + side - 1 are source columns c0 + ci*i ...; the block loads from the lowest
            cs = c0 + ci * i if ci > 0 else c0 - (i + side - 1)
            do_row = dp + (i if ci > 0 else i + side - 1) * out_w
            for jb in range(jt, je, side):
                j = min(jb, je - side)
                _transpose_block(s, sp + (r0 + rj * j) * in_w + cs, sstep, d, do_row + j, dstep)


@nb.njit(cache=True, inline="always")
def _unit(k, p, s, d, ms, md):  # pragma: no cover - numba
    # units [0, nd) copy data, the rest copy mask planes; arrays are flat C-order views; p: see above _copy_par
    nd, nchunk, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj, touch = (p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                                                           p[8], p[9], p[10], p[11], p[12], p[13])
    if rj == 0:
        if k < nd:
            _row_unit(s, d, k, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj)
        else:
            _row_unit(ms, md, k - nd, nchunk, out_h, out_w, in_h, in_w, r0, ri, c0, ci, cj)
    else:
        per = nchunk
        if k < nd:  # touch: items of the data per cache line, or 0; mask planes have one-byte items
            _tile_unit(s, d, k, per, out_h, out_w, in_h, in_w, r0, rj, c0, ci, touch)
        else:
            _tile_unit(ms, md, k - nd, per, out_h, out_w, in_h, in_w, r0, rj, c0, ci, LINE_BYTES if touch else 0)


# The kernels take their fourteen integers in one read-only int64 array made once per launch (_launch: nunits,
# nd, nchunk, out_h, out_w, in_h, in_w, r0, ri, rj, c0, ci, cj, touch; _unit reads them): numba's dispatcher checks the
# type of every argument on every call, and seventeen arguments cost 0.62 µs a call against 0.34 µs for five.
@borrowing_jit()
def _copy_ser(p, s, d, ms, md, unit):  # pragma: no cover - numba
    """Every unit when ``unit`` < 0 (one thread), else unit ``unit`` alone (a call from :func:`_copy_par`). One
    argument more costs the dispatcher 0.04 µs, two (a unit range) 0.06-0.23 µs."""
    k0 = unit if unit >= 0 else 0
    k1 = unit + 1 if unit >= 0 else p[0]
    for k in range(k0, k1):  # one call site: _unit is inlined, and each site compiles all of it again
        _unit(k, p, s, d, ms, md)


# The parallel entry calls the serial kernel, one unit per call, through its address (kernels/indirect.py): with
# _unit inlined into the parfor it compiled every copy path a second time, 5.9-7.4 s for the first parallel copy
# of a dtype (fresh cache, after the serial kernel's 3.0-3.3 s), now 0.3-0.5 s. At 2 threads the copies take
# 0.99-1.04 of the linked entry's time (scripts/bench_threads.py --only indirect, two runs)
@nb.njit(cache=True, parallel=True, nogil=True)
def _copy_par(addr, p, s, d, ms, md):  # pragma: no cover - numba
    for c in nb.prange(p[0]):
        k = np.int64(c)  # the serial kernel's signature (the index is unsigned in the gufunc)
        call_address(_copy_ser, addr, (p, s, d, ms, md, k))


_NO_MASK = np.empty(0, dtype=np.uint8)
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@functools.lru_cache(maxsize=256)
def true_mask(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only broadcast of True of ``shape`` (cached: building one costs more than a small flip)."""
    return np.broadcast_to(np.True_, shape)


def is_all_true(mask: np.ndarray) -> bool:
    """True for a mask that is a broadcast of one True value (every stride 0): no scan needed."""
    return mask.size > 0 and not any(mask.strides) and bool(mask.flat[0])


def index_copy(
    src: np.ndarray,
    mask: np.ndarray | None,
    plan: tuple[int, int, int, int, int, int],
    out_shape: tuple[int, int],
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``src`` and ``mask`` through an integer index map.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        Any supported dtype.
    mask : ndarray of bool (planes, rows, cols) or None
        ``planes`` is 1 or ``bands``. ``None`` or a broadcast of True means
        every pixel is valid: the mask is not copied and the returned mask is
        a read-only broadcast of True.
    plan : (r0, ri, rj, c0, ci, cj)
        Output ``(i, j)`` reads input ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)``;
        every index must be in range (see :func:`geoaug.geometry.strided_plan`).
    out_shape : (rows, cols)
        Output size in pixels.
    out : ndarray (bands, rows, cols), optional
        Destination (C-contiguous, ``src``'s dtype); allocated when not given.
        It may not share memory with ``src`` or ``mask``: the copy is not done
        in place (:func:`geoaug.kernels.buffers.out_buffer`).

    Returns
    -------
    (ndarray, ndarray)
        The copied data ``(bands, out_rows, out_cols)`` and mask ``(planes, out_rows, out_cols)``.
    """
    r0, ri, rj, c0, _, cj = plan
    h, w = int(out_shape[0]), int(out_shape[1])
    nbands = src.shape[0]
    shape = (nbands, h, w)
    dst = out_buffer(out, shape, src.dtype, "out", (src, mask))
    skip_mask = mask is None or is_all_true(mask)
    if skip_mask:
        nm = 0
        dmask = true_mask((1, h, w))
    else:
        nm = mask.shape[0]
        dmask = np.empty((nm, h, w), dtype=np.bool_)
    if rj == 0 and cj == 1 and (not src.flags.c_contiguous or (nm and not mask.flags.c_contiguous)):
        # unit column stride from a strided source or mask: row slices, numpy's copy (the kernel would need a
        # contiguous copy of all of it first, for a crop too)
        stop = r0 + ri * h
        rows = slice(r0, stop if stop >= 0 else None, ri)
        np.copyto(dst, src[:, rows, c0 : c0 + w])
        if nm:
            np.copyto(dmask, mask[:, rows, c0 : c0 + w])
        return dst, dmask
    src = np.ascontiguousarray(src)
    if nm:
        msrc = np.ascontiguousarray(mask).ravel().view(np.uint8)
        mdst = dmask.ravel().view(np.uint8)
    else:
        msrc = mdst = _NO_MASK
    nbytes = src.itemsize * nbands * h * w + nm * h * w
    n = threads.num_threads() if nbytes >= _serial_below(rj) else 1
    # the launch is a function of the shapes, the mask planes and n alone (n > 1 only from _serial_below): cached
    key = (src.shape, src.itemsize, plan if type(plan) is tuple else tuple(map(int, plan)), h, w, nm, n)
    launch = _LAUNCHES.get(key)
    if launch is None:
        if len(_LAUNCHES) >= 256:
            _LAUNCHES.clear()
        launch = _LAUNCHES[key] = _launch(src.shape, src.itemsize, plan, h, w, nm, n)
    kernel, kind, params = launch
    s = src.ravel()
    d = dst.ravel()
    if s.dtype.type is not kind:  # values move as the unsigned type of their size
        s = s.view(kind)
        d = d.view(kind)
    if kernel is _copy_ser:  # one thread: no parallel region, nothing for the launch lock to keep apart
        _copy_ser(params, s, d, msrc, mdst, -1)
    else:
        addr = copy_address(params, s, d, msrc, mdst)
        with threads.launch_lock:
            kernel(addr, params, s, d, msrc, mdst)
    return dst, dmask


def copy_address(params: np.ndarray, s: np.ndarray, d: np.ndarray, ms: np.ndarray, md: np.ndarray) -> int:
    """The address :func:`_copy_par` calls: :func:`_copy_ser` compiled for these arrays' types (the serial
    call's own overload), looked up once per item type and flags."""
    return indirect.address(_copy_ser, (s.dtype, s.flags.num, d.flags.num, ms.flags.num, md.flags.num),
                            lambda: (params, s, d, ms, md, -1))


def _serial_below(rj: int) -> int:
    """Bytes (data and mask) below which a copy runs on one thread: :data:`SERIAL_BELOW`, times
    :data:`ROW_SERIAL_FACTOR` for the row maps (``rj == 0``). Read at each call (tests lower it)."""
    return SERIAL_BELOW if rj else ROW_SERIAL_FACTOR * SERIAL_BELOW


#: (source shape, item size, plan, output rows, cols, mask planes, thread count) -> :func:`_launch`
_LAUNCHES: dict[tuple, tuple] = {}


def _launch(src_shape: tuple[int, ...], itemsize: int, plan: tuple[int, ...], h: int, w: int, nm: int,
            nthreads: int) -> tuple[Any, Any, np.ndarray]:
    """The kernel, the unsigned type the values move as, and the kernel's integers (a read-only int64 array).

    ``nthreads`` is the thread count when the copy (data and ``nm`` mask
    planes) is at least :func:`_serial_below` bytes, else 1.
    """
    r0, ri, rj, c0, ci, cj = plan
    nbands = src_shape[0]
    parallel = nthreads > 1 and itemsize * nbands * h * w + nm * h * w >= _serial_below(rj)
    if rj == 0:  # blocks of rows: one per plane on one thread, about 4 per thread and plane in parallel
        per = min(h, 4 * nthreads) if parallel else 1
    else:  # strips of about _STRIP output rows, at least one register block each
        per = max(1, h // _STRIP)
    in_plane = src_shape[1] * src_shape[2]
    touch = (rj != 0 and itemsize * nbands * in_plane > TOUCH_BYTES * nthreads
             and itemsize * (in_plane + h * w) <= TOUCH_PLANE_BYTES and nbands >= 2 * nthreads)
    if touch:  # whole planes, each read ahead (see TOUCH_BYTES)
        per = 1
    nd = nbands * per
    # copies move bits: every dtype goes through the unsigned type of its size (4 compiled variants at most)
    params = np.array([nd + nm * per, nd, per, h, w, src_shape[1], src_shape[2], r0, ri, rj, c0, ci, cj,
                       LINE_BYTES // itemsize if touch else 0], dtype=np.int64)
    params.flags.writeable = False  # shared by every call of this launch
    return (_copy_par if parallel else _copy_ser), _BITS[itemsize], params


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
