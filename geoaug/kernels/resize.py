"""Separable resampling for axis-aligned matrices (scale + translate, any signs): Resize and friends.

When the output->input matrix has no rotation or shear, output column ``j``
reads input columns that depend on ``j`` only, and output row ``i`` input rows
that depend on ``i`` only. So the 2-D resampling is two 1-D passes with taps
computed once per output column and once per output row (and cached per axis:
a transform applied again to rasters of the same size reuses them).

How the passes run
------------------
* Three orders, the cheapest one per call (counting a horizontal tap, a
  gather, as :data:`_GATHER_COST` vertical taps, which run over contiguous
  rows and vectorise; a tap in lanes as one vertical tap):

  - *rows first*: the horizontal pass of every input row a strip of output
    rows needs, each once, into a float scratch of those rows (strips sized
    to stay in cache), then the vertical pass over contiguous output rows with
    the rounding store fused in.
  - *columns first*: per block of four output rows, the vertical pass over the
    input columns the output reads (a weighted sum of 2-4 contiguous input
    rows), then the horizontal pass of the block, then the rounding store.
    Only output rows are gathered.
  - *lanes* (columns first, eight output rows at a time; when every
    horizontal tap lies inside the input): the vertical pass of the eight rows
    into an interleaved block (value ``r`` of column ``x`` at ``8 x + r``),
    so that a horizontal tap is one vector load of eight rows; the outputs
    are transposed back, rounded and stored in registers
    (:mod:`geoaug.kernels.vec8`). Same operations in the same order as
    columns first: the same bits. Usually the cheapest, shrinking or
    enlarging (1 x 512² -> 384² uint16, one thread: 61 µs against 89 µs row
    at a time and 105 µs rows first). An input of more than
    :data:`TOUCH_BYTES` per worker is first read one item per cache line,
    each block's input rows in address order: the vertical pass's eleven or
    so short row streams then find their lines in cache instead of waiting
    for each in turn.

* The horizontal pass runs four rows at once, so each column's taps and
  weights are loaded once for four rows. Two real neighbouring taps (bilinear
  or a two-pixel area inside the raster) take the branch-free form
  ``p + f * (q - p)``: one fused multiply-add per value (the kernels allow
  contraction, ``fastmath={"contract"}``, nothing else). Taps outside the
  raster (``constant`` at the border) take a per-tap branch; with ``nodata``
  the outputs whose taps reach outside are invalid and borrow a valid
  output's taps (:func:`_taps`). A
  masked float raster with a column that lands on one pixel takes the
  general form: the branch-free one reads that column's neighbour with
  weight 0, and NaN under an invalid neighbour would make the output NaN.
* The data passes index flat arrays with unsigned offsets (no row views, no
  wraparound tests); scratch is allocated outside the kernel, one per worker.
* One parallel region per call: workers take contiguous shares of (band or
  mask plane) x strip-of-rows units; below :data:`SERIAL_BELOW` output values
  the serial twin runs. An all-valid input (``mask=None``) never reads a mask.
* Taps are built once per axis and cached; offsets a whole number of pixels
  apart share one build, moved (a RandomResizedCrop's crop moves from call
  to call: :func:`_axis_taps`). So do whole plans: a crop whose every tap
  lies inside the input is planned as if moved towards the input's corner,
  and the kernel reads it from its own origin (:func:`_plan`): a crop of one
  size plans a few times (per column remainder modulo eight, and along the
  edges), not once per position. At 13 x 64² uint16 a plan took 12 µs of a
  70 µs RandomResizedCrop call.

Accuracy: integers within 1 DN of the same rules computed in float64 (they
are computed in float32 and rounded, so a value within float32 rounding of a
half may round the other way); float32 within 1e-5 of the data's magnitude;
masks exact. ``tests/test_resize_kernel.py`` holds the float64 reference.

Conventions (the same as :mod:`geoaug.kernels.warp`)
----------------------------------------------------
* Pixel-corner origin: output pixel ``o`` of an axis has its centre at
  ``s * (o + 0.5) + t`` in input pixel coordinates.
* ``nearest``: the input pixel containing that point. ``bilinear`` and
  ``cubic`` (Keys, ``a = -0.75``) interpolate between input pixel centres.
* ``area`` (used for an axis that shrinks, ``|s| > 1``, when asked for): the
  mean of the input pixels weighted by how much of each lies inside the output
  pixel's footprint ``[s*o + t, s*(o + 1) + t]``: a box average for integer
  factors, OpenCV's ``INTER_AREA``.
* Validity: an output pixel is valid only if every tap with non-zero weight is
  valid (taps with zero weight are dropped when the taps are built). Taps
  outside the input follow the fill mode: ``nodata`` makes the output pixel
  invalid, ``constant`` reads ``fill_value``, the others map back inside.
  When the input mask is all valid the mask is never read.
* Integers are computed in float32 (int32 in float64), rounded half to even
  and saturated; float32 in float32; float64 in float64.
"""

from __future__ import annotations

import functools
import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from . import indirect, threads
from .borders import NODATA as _NODATA
from .borders import map_index
from .borrowing import borrowing_jit
from .buffers import out_buffer
from .cache import LINE_BYTES
from .cubic import keys
from .diskcache import lock_disk_cache
from .dtypes import limits, work_dtype
from .flip import true_mask
from .indirect import call_address
from .nans import has_nan
from .nearest import BITS, nearest_fill_bits
from .runs import fill_run, valid_span
from .vec8 import dot8, lerp8, lerp8x8, store8x8, transpose8, vert8

__all__ = ["AREA", "CUBIC", "LINEAR", "NEAREST", "resize_separable"]

#: filter codes of :func:`resize_separable`
NEAREST, LINEAR, CUBIC, AREA = 0, 1, 2, 3
#: the only fast-math licence: a * b + c may be one fused multiply-add (more exact, not less)
_CONTRACT = {"contract"}
# Compile time and reference counts: every helper is a function of its own, left to LLVM to inline, and
# compiled without numba's runtime (kernels/borrowing.py). Numba-inlined (inline="always"), the per-row
# helpers carried atomic reference counts of their array arguments into the row loops (26 % of a 13 x 64²
# Resize); numba-inlining the per-strip passes too once made one dtype's kernel take 26 s to compile
# instead of 12 s. There is one worker per pass order (_make_work), so a call compiles only the pass it
# runs. The worker is called straight from Python on one thread, and through its address
# (kernels/indirect.py) from its parallel entry: a compiled level in between would compile it again.
#: below this many output values (bands x rows x cols) the kernel runs on one thread (at 2 threads a
#: 1x256² Resize to 192², 36,864 output values, took 0.84 of its 1-thread time; 1x512², 0.79)
SERIAL_BELOW = 1 << 16
#: input bytes per worker above which the lanes order first reads one item per cache line of each block's input
#: rows, in address order. The vertical pass reads eight output rows' taps at once, about eleven input rows 16
#: bytes at a time: from memory, each of those short streams waits for its lines in turn; read in order first,
#: they stream. An input still in cache from the call before pays for the reads instead. ``geoaug.Resize`` to
#: 0.75 of the side, read / not read, two runs of ``scripts/bench_touch.py`` at each thread count: at one thread
#: 1.07-1.25 for 1.5-4 MB (12x256² and 4x512², uint16 and float32), 0.85-1.05 for 6.2-6.5 MB (50x256² and
#: 13x512² uint16: in cache or not by process), 0.81-0.88 for 13x512² float32 (13 MB), 0.62-0.64 for 100x256²
#: uint16, 0.58-0.61 for 200x256² uint16 and int16, 0.84-0.99 for 200x256² float32 (50 MB). At two threads
#: 1.05-1.20 up to 6.5 MB, 0.93-0.95 for 13x512² float32, 0.68-0.87 for 100x256² uint16, 0.58-0.71 for
#: 200x256² uint16 and int16, 0.89-0.93 for float32. Each worker streams its share of the bands through its own
#: core's caches, so the bound is per worker: with the bound on the whole input, a 13x512² float32
#: RandomResizedCrop at two threads read 0.82-1.52 of its time (``scripts/bench_trees.py``, four runs)
TOUCH_BYTES = 8 << 20


def work_value(v, z):  # pragma: no cover - typing stub, replaced by the overload
    raise NotImplementedError


@overload(work_value, inline="always")
def _ol_work_value(v, z):  # pragma: no cover - numba
    # convert a pixel to the work dtype (float32 / float64) without a float64 detour
    if z == types.float32:
        return lambda v, z: np.float32(v)
    return lambda v, z: np.float64(v)


@nb.njit(cache=True, nogil=True)
def _taps(n_out, s, t, n_in, kind, mode, a, kmax, idx, w, cnt, ok, inside, cnt_max):  # pragma: no cover - numba
    """Fill the taps of one axis: ``idx``/``w`` (n_out, kmax), ``cnt`` taps used, ``ok`` False = invalid.

    Unused slots up to ``kmax`` repeat the first tap with weight 0, so the data pass may run a fixed
    number of taps; ``inside[0]`` tells whether every tap is a real pixel (no outside/constant tap).
    With ``mode`` nodata an output with a tap outside is invalid (``ok`` False) and takes the taps of
    the first valid output (the last, past the first): its value is the nodata fill whatever the passes
    compute there.
    """
    tk = np.empty(kmax + 4, dtype=np.int64)
    tw = np.empty(kmax + 4, dtype=np.float64)
    inside[0] = True
    most = 0
    # the offset as a whole number of pixels and the rest: the taps are computed at offset rest + _BASE and
    # moved by whole - _BASE pixels, so two offsets a whole number of pixels apart get the same weights
    # (:func:`_axis_taps` moves cached taps instead of building them again)
    whole = np.floor(t) if np.isfinite(t) else 0.0
    t = (t - whole) + _BASE
    shift = np.int64(whole) - _BASE
    for o in range(n_out):
        x = s * (o + 0.5) + t
        n = 0
        ok[o] = True
        if not np.isfinite(x):
            cnt[o] = 0
            ok[o] = False
            continue
        if kind == NEAREST:
            tk[0] = int(np.floor(x))
            tw[0] = 1.0
            n = 1
        elif kind == LINEAR:
            xf = x - 0.5
            x0 = np.floor(xf)
            f = xf - x0
            tk[0] = int(x0)
            tw[0] = 1.0 - f
            tk[1] = int(x0) + 1
            tw[1] = f
            n = 2
        elif kind == CUBIC:
            xf = x - 0.5
            x0 = np.floor(xf)
            f = xf - x0
            for q in range(4):
                tk[q] = int(x0) - 1 + q
                tw[q] = keys(f - (q - 1), a)
            n = 4
        else:
            p0 = s * o + t
            p1 = s * (o + 1) + t
            lo = min(p0, p1)
            hi = max(p0, p1)
            span = hi - lo
            k0 = int(np.floor(lo))
            k1 = int(np.ceil(hi))
            for k in range(k0, k1):
                ov = min(hi, k + 1.0) - max(lo, float(k))
                if ov > 1e-9 * span and n < kmax + 4:
                    tk[n] = k
                    tw[n] = ov / span
                    n += 1
        m = 0
        for q in range(n):
            if tw[q] == 0.0:
                continue
            k = map_index(tk[q] + shift, n_in, mode)
            if k < 0 and mode == _NODATA:
                ok[o] = False
            idx[o, m] = k
            w[o, m] = tw[q]
            m += 1
            if k < 0:
                inside[0] = False
        cnt[o] = m
        most = max(most, m)
        if m == 0:
            inside[0] = False
    if mode == _NODATA and not inside[0]:
        # an output with a tap outside (or none) is invalid: the caller stores the nodata fill there after the
        # passes, whatever they computed. It takes the taps of the first valid output (those before it) or of
        # the last (the others), all inside, so the axis keeps the branch-free passes (a RandomResizedCrop
        # touching an edge took 5x the time of one inside)
        first = -1
        last = -1
        for o in range(n_out):
            if ok[o] and cnt[o] > 0:
                if first < 0:
                    first = o
                last = o
        if first >= 0:
            most = 0
            inside[0] = True
            for o in range(n_out):
                if not ok[o]:
                    src = first if o < first else last
                    for q in range(cnt[src]):
                        idx[o, q] = idx[src, q]
                        w[o, q] = w[src, q]
                    for q in range(cnt[src], kmax + 4):  # its own taps past those: cleared, as a build leaves them
                        idx[o, q] = 0
                        w[o, q] = 0.0
                    cnt[o] = cnt[src]
                most = max(most, cnt[o])
                if cnt[o] == 0:  # a valid output without taps (every weight 0): the general pass, as before
                    inside[0] = False
    for o in range(n_out):  # pad every output up to the largest tap count with zero-weight repeats
        for q in range(cnt[o], most):
            idx[o, q] = idx[o, 0] if cnt[o] > 0 else -1
            w[o, q] = 0.0
    inside[1] = most > 0 and inside[0]
    cnt_max[0] = most
    lo = n_in
    hi = -1
    for o in range(n_out):
        for q in range(cnt[o]):
            if idx[o, q] >= 0:
                lo = min(lo, idx[o, q])
                hi = max(hi, idx[o, q])
    cnt_max[1] = lo
    cnt_max[2] = hi


@borrowing_jit()
def _row_span(iy, ny, i0, i1, n):  # pragma: no cover - numba
    # the input rows (first, last) that output rows i0..i1 read: the strip the horizontal pass fills
    yl = n
    yh = -1
    for i in range(i0, i1):
        for q in range(ny[i]):
            y = iy[i, q]
            if y >= 0:
                yl = min(yl, y)
                yh = max(yh, y)
    return yl, yh


@borrowing_jit()
def _max_span(iy, ny, h, nstrips, n):  # pragma: no cover - numba
    # the most input rows one strip of output rows reads (scratch rows of the row-first order and masks)
    most = 1
    for strip in range(nstrips):
        yl, yh = _row_span(iy, ny, h * strip // nstrips, h * (strip + 1) // nstrips, n)
        most = max(most, yh - yl + 1)
    return most


# The data passes work on flat 1-D arrays with unsigned offsets: no row views (each costs atomic
# reference counts that numba cannot always prune) and no wraparound tests on the indexes.


@borrowing_jit(fastmath=_CONTRACT)
def _h1(a, ao, b, bo, out_w, ix, ixu, wx, nx, kx, x0, fx, fill, z):  # pragma: no cover - numba
    # horizontal pass of the row at ``a[ao:]`` (source or work dtype) into ``b[bo : bo + out_w]`` (work dtype)
    one = np.uint64(1)
    if kx == 2:  # two neighbouring taps per column (bilinear inside): p + f (q - p), no branch
        for j in range(out_w):
            ju = np.uint64(j)
            k = ao + x0[ju]
            p = work_value(a[k], z)
            b[bo + ju] = p + fx[ju] * (work_value(a[k + one], z) - p)
    elif kx > 0:  # a fixed number of real taps
        for j in range(out_w):
            acc = z
            for q in range(kx):
                acc += wx[j, q] * work_value(a[ao + ixu[j, q]], z)
            b[bo + np.uint64(j)] = acc
    else:  # some taps outside the input: they read ``fill``
        for j in range(out_w):
            acc = z
            for q in range(nx[j]):
                k = ix[j, q]
                if k >= 0:
                    acc += wx[j, q] * work_value(a[ao + np.uint64(k)], z)
                else:
                    acc += wx[j, q] * fill
            b[bo + np.uint64(j)] = acc


@borrowing_jit(fastmath=_CONTRACT)
def _h4(a, ao, astr, b, bo, bstr, out_w, ixu, wx, kx, x0, fx, z):  # pragma: no cover - numba
    # four rows at once (``astr``/``bstr`` apart): each column's taps and weights are loaded once for the four
    a1 = ao + astr
    a2 = a1 + astr
    a3 = a2 + astr
    b1 = bo + bstr
    b2 = b1 + bstr
    b3 = b2 + bstr
    one = np.uint64(1)
    if kx == 2:  # p + f (q - p): one fused multiply-add per value
        for j in range(out_w):
            ju = np.uint64(j)
            k = x0[ju]
            f = fx[ju]
            p = work_value(a[ao + k], z)
            b[bo + ju] = p + f * (work_value(a[ao + k + one], z) - p)
            p = work_value(a[a1 + k], z)
            b[b1 + ju] = p + f * (work_value(a[a1 + k + one], z) - p)
            p = work_value(a[a2 + k], z)
            b[b2 + ju] = p + f * (work_value(a[a2 + k + one], z) - p)
            p = work_value(a[a3 + k], z)
            b[b3 + ju] = p + f * (work_value(a[a3 + k + one], z) - p)
    else:
        for j in range(out_w):
            s0 = z
            s1 = z
            s2 = z
            s3 = z
            for q in range(kx):
                k = ixu[j, q]
                wv = wx[j, q]
                s0 += wv * work_value(a[ao + k], z)
                s1 += wv * work_value(a[a1 + k], z)
                s2 += wv * work_value(a[a2 + k], z)
                s3 += wv * work_value(a[a3 + k], z)
            ju = np.uint64(j)
            b[bo + ju] = s0
            b[b1 + ju] = s1
            b[b2 + ju] = s2
            b[b3 + ju] = s3


@borrowing_jit(fastmath=_CONTRACT)
def _hrows(a, ao, astr, n, b, bo, bstr, out_w, ix, ixu, wx, nx, kx, x0, fx, fill, z):  # pragma: no cover - numba
    # horizontal pass of ``n`` rows from ``a[ao:]`` into rows from ``b[bo:]``, four at a time when every tap is real
    ng = n // 4 if kx > 0 else 0
    for g in range(ng):
        gu = np.uint64(4 * g)
        _h4(a, ao + gu * astr, astr, b, bo + gu * bstr, bstr, out_w, ixu, wx, kx, x0, fx, z)
    for r in range(4 * ng, n):
        ru = np.uint64(r)
        _h1(a, ao + ru * astr, b, bo + ru * bstr, out_w, ix, ixu, wx, nx, kx, x0, fx, fill, z)


@borrowing_jit()
def _store_row(acc, ao, out, oo, out_w, is_int, lo, hi):  # pragma: no cover - numba
    if is_int:
        for j in range(out_w):
            ju = np.uint64(j)
            out[oo + ju] = max(lo, min(hi, np.rint(acc[ao + ju])))
    else:
        for j in range(out_w):
            ju = np.uint64(j)
            out[oo + ju] = acc[ao + ju]


@borrowing_jit(fastmath=_CONTRACT)
def _rows_first(sf, b, in_h, in_w, i0, i1, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, tmp, acc, df, out_w, fill,
                is_int, lo, hi, out_h, xw):  # pragma: no cover - numba
    # horizontal pass of the input rows output rows i0..i1 read (each once), then the vertical pass. ``xw``: the
    # input columns from the first pixel of ``sf``'s rows to their end (see _make_work)
    z = lo - lo
    uw = np.uint64(out_w)
    uin = np.uint64(in_w)
    plane = np.uint64(b) * np.uint64(in_h) * uin
    oplane = np.uint64(b) * np.uint64(out_h) * uw
    zero = np.uint64(0)
    yl, yh = _row_span(iy, ny, i0, i1, in_h)
    nrows = yh - yl + 1
    if yh >= yl and is_int and kx > 0:
        # integer rows are converted four at a time into the scratch after ``acc`` (one vectorised pass), so
        # the gathers read floats: two conversions per output value fewer
        ng = nrows // 4
        for g in range(ng):
            so = plane + np.uint64(yl + 4 * g) * uin
            # the four rows as one run, up to the last row's end (``sf`` may start inside a row: _make_work)
            for x in range(3 * in_w + xw):
                xu = np.uint64(x)
                acc[uw + xu] = work_value(sf[so + xu], z)
            _h4(acc, uw, uin, tmp, np.uint64(4 * g) * uw, uw, out_w, ixu, wx, kx, x0, fx, z)
        rest = 4 * ng
        if rest < nrows:
            _hrows(sf, plane + np.uint64(yl + rest) * uin, uin, nrows - rest, tmp, np.uint64(rest) * uw, uw, out_w,
                   ix, ixu, wx, nx, kx, x0, fx, fill, z)
    elif yh >= yl:
        _hrows(sf, plane + np.uint64(yl) * uin, uin, nrows, tmp, zero, uw, out_w, ix, ixu, wx, nx, kx, x0, fx,
               fill, z)
    for i in range(i0, i1):
        oo = oplane + np.uint64(i) * uw
        if ny[i] == 2 and iy[i, 0] >= 0 and iy[i, 1] >= 0:
            # two rows (bilinear): one fused pass, weights and store together
            t0 = np.uint64(iy[i, 0] - yl) * uw
            t1 = np.uint64(iy[i, 1] - yl) * uw
            w0 = wy[i, 0]
            w1 = wy[i, 1]
            if is_int:
                for j in range(out_w):
                    ju = np.uint64(j)
                    df[oo + ju] = max(lo, min(hi, np.rint(w0 * tmp[t0 + ju] + w1 * tmp[t1 + ju])))
            else:
                for j in range(out_w):
                    ju = np.uint64(j)
                    df[oo + ju] = w0 * tmp[t0 + ju] + w1 * tmp[t1 + ju]
            continue
        for j in range(out_w):
            acc[j] = z
        for q in range(ny[i]):
            y = iy[i, q]
            wv = wy[i, q]
            if y >= 0:
                t = np.uint64(y - yl) * uw
                for j in range(out_w):
                    acc[j] += wv * tmp[t + np.uint64(j)]
            else:
                c = wv * fill
                for j in range(out_w):
                    acc[j] += c
        _store_row(acc, zero, df, oo, out_w, is_int, lo, hi)


@borrowing_jit(fastmath=_CONTRACT)
def _vrow(sf, plane, uin, i, iy, wy, ny, xl, ncol, vr, vo, fill, z):  # pragma: no cover - numba
    # vertical pass of output row i over the ``ncol`` input columns from ``xl`` into ``vr[vo : vo + ncol]``
    if ny[i] == 2 and iy[i, 0] >= 0 and iy[i, 1] >= 0:
        s0 = plane + np.uint64(iy[i, 0]) * uin + xl
        s1 = plane + np.uint64(iy[i, 1]) * uin + xl
        w0 = wy[i, 0]
        w1 = wy[i, 1]
        for x in range(ncol):
            xu = np.uint64(x)
            vr[vo + xu] = w0 * work_value(sf[s0 + xu], z) + w1 * work_value(sf[s1 + xu], z)
        return
    for x in range(ncol):
        vr[vo + np.uint64(x)] = z
    for q in range(ny[i]):
        y = iy[i, q]
        wv = wy[i, q]
        if y >= 0:
            s = plane + np.uint64(y) * uin + xl
            for x in range(ncol):
                xu = np.uint64(x)
                vr[vo + xu] += wv * work_value(sf[s + xu], z)
        else:
            c0 = wv * fill
            for x in range(ncol):
                vr[vo + np.uint64(x)] += c0


@borrowing_jit(fastmath=_CONTRACT)
def _cols_first(sf, b, in_h, in_w, i0, i1, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol, vr, hr, df, out_w,
                fill, is_int, lo, hi, out_h):  # pragma: no cover - numba
    # per block of up to four output rows: the vertical pass over the ``ncol`` input columns from ``xl`` the
    # output reads (contiguous), then the horizontal pass of the block, then the rounding store
    z = lo - lo
    uw = np.uint64(out_w)
    uin = np.uint64(in_w)
    plane = np.uint64(b) * np.uint64(in_h) * uin
    oplane = np.uint64(b) * np.uint64(out_h) * uw
    zero = np.uint64(0)
    for ib in range(i0, i1, 4):
        n = min(4, i1 - ib)
        for r in range(n):
            _vrow(sf, plane, uin, ib + r, iy, wy, ny, xl, ncol, vr, np.uint64(r) * uin + xl, fill, z)
        if n == 4 and kx > 0:  # (called here, not through _hrows' loop: LLVM keeps this loop tight)
            _h4(vr, zero, uin, hr, zero, uw, out_w, ixu, wx, kx, x0, fx, z)
        else:
            _hrows(vr, zero, uin, n, hr, zero, uw, out_w, ix, ixu, wx, nx, kx, x0, fx, fill, z)
        for r in range(n):
            _store_row(hr, np.uint64(r) * uw, df, oplane + np.uint64(ib + r) * uw, out_w, is_int, lo, hi)


@borrowing_jit()
def _touch_rows(sf, plane, uin, iy, ny, ib, n, xs, xe, step, sink):  # pragma: no cover - numba
    # one item per cache line of the input rows that output rows [ib, ib + n) read, columns [xs, xe), in address
    # order (the rows are adjacent: one run from the first row's column xs to the last row's column xe); their sum
    # goes to ``sink[0]``, scratch the caller writes before it reads it, so the loads are not dropped
    ya = np.int64(-1)
    yb = np.int64(-1)
    for i in range(ib, ib + n):
        for k in range(ny[i]):
            y = iy[i, k]
            if y >= 0:
                ya = y if ya < 0 else min(ya, y)
                yb = max(yb, y)
    if ya < 0:
        return
    acc = sf[plane] - sf[plane]
    for k in range(plane + np.uint64(ya) * uin + xs, plane + np.uint64(yb) * uin + xe, step):
        acc += sf[k]
    sink[0] = acc


@borrowing_jit(fastmath=_CONTRACT)
def _cols_lanes(sf, b, in_h, in_w, i0, i1, iy, wy, ny, ixu, wx, kx, x0, fx, xl, ncol, vt, sc, df, out_w, fill,
                is_int, lo, hi, out_h, xw, touch):  # pragma: no cover - numba
    # columns first, eight output rows at a time in eight lanes of the work dtype (kernels/vec8.py): the
    # vertical pass of the eight rows into ``sc``'s interleaved block (value r of input column x at 8 x + r;
    # vert8 where every row reads two input rows, else row by row into ``vt``, rows ``cp`` apart, and
    # transposed), then per eight output columns their taps as vector loads, transposed back into rows,
    # rounded and stored (lerp8x8; other tap counts through dot8 into the block after the lanes, then
    # store8x8); the last columns of a row not a multiple of eight through the scalar store. A short last
    # block repeats its last row: every lane holds a computed value. ``xw``: the input columns from the first
    # pixel of ``sf``'s rows to their end (``in_w`` less the column the taps count from: see _make_work).
    # ``touch`` (items per cache line, or 0): first read one item per cache line of the block's input rows, in
    # address order (see :data:`TOUCH_BYTES`), their sum left in ``vt[0]``: row 0, column 0 of the row-by-row
    # scratch, which transpose8 reads only from column ``xv`` on, after _vrow has written it.
    z = lo - lo
    uw = np.uint64(out_w)
    uin = np.uint64(in_w)
    eight = np.uint64(8)
    cp = (uin + np.uint64(7)) // eight * eight
    wp = (uw + np.uint64(7)) // eight * eight
    hb = eight * cp  # the horizontal pass's interleaved block in sc, then the last columns' rows
    rb = hb + eight * wp
    plane = np.uint64(b) * np.uint64(in_h) * uin
    oplane = np.uint64(b) * np.uint64(out_h) * uw
    # one column more than the taps read when it exists: a two-tap column on one pixel reads its neighbour
    # with weight 0, which must be a computed value
    nv = min(ncol + 1, xw - xl)
    xs = xl // eight * eight
    xe = (xl + np.uint64(nv) + np.uint64(7)) // eight * eight
    for ib in range(i0, i1, 8):
        n = min(8, i1 - ib)
        if touch:
            _touch_rows(sf, plane, uin, iy, ny, ib, n, xs, min(xe, np.uint64(xw)), touch, vt)
        two = True  # every row of the block a weighted sum of two input rows
        for i in range(ib, ib + n):
            two = two and ny[i] == 2 and iy[i, 0] >= 0 and iy[i, 1] >= 0
        xv = xs
        if two:  # the vertical pass straight into lanes, eight columns at a time inside the input
            xv = xs + (min(xe, np.uint64(xw)) - xs) // eight * eight
            vert8(sf, plane, uin, iy, wy, ib, n, xs, xv, sc, eight * xs)
        if xv < xe:  # the rest: row by row, then transposed
            for r in range(8):
                _vrow(sf, plane, uin, ib + min(r, n - 1), iy, wy, ny, xv, np.int64(xl) + nv - np.int64(xv), vt,
                      np.uint64(r) * cp + xv, fill, z)
            for x in range(xv, xe, eight):
                transpose8(vt, x, cp, sc, eight * x, eight)
        oo = oplane + np.uint64(ib) * uw
        full = uw // eight * eight
        if kx == 2:  # eight columns at once from the lanes to the output rows, rounded and stored
            for j in range(np.uint64(0), full, eight):
                lerp8x8(sc, x0, fx, j, df, oo + j, uw, n, lo, hi)
            for j in range(full, uw):
                lerp8(sc, eight * np.uint64(x0[j]), fx[j], sc, hb + eight * j)
        else:  # each column's taps into the block after the lanes, then eight columns at a time to the rows
            for j in range(out_w):
                dot8(sc, ixu, wx, j, kx, sc, hb + eight * np.uint64(j))
            for j in range(np.uint64(0), full, eight):
                store8x8(sc, hb + eight * j, df, oo + j, uw, n, lo, hi)
        if full < uw:  # the last columns: transposed into rows, then the scalar store
            transpose8(sc, hb + eight * full, eight, sc, rb, eight)
            for r in range(n):
                _store_row(sc, rb + eight * np.uint64(r), df, oo + np.uint64(r) * uw + full, out_w - np.int64(full),
                           is_int, lo, hi)


@borrowing_jit(fastmath=_CONTRACT)
def _mask_rows(mask, p, i0, i1, iy, ny, ix, nx, okx, oky, tm, dmask, my, mx, xa, xb):  # pragma: no cover - numba
    # the taps count from input row ``my``, column ``mx`` (see _make_work). ``xa``/``xb``: each output column's first
    # and last real horizontal tap (see _tap_bounds)
    out_w = dmask.shape[2]
    in_w = mask.shape[2]
    yl, yh = _row_span(iy, ny, i0, i1, mask.shape[1])
    mk = mask[p]
    for y in range(yl, yh + 1):
        mrow = mk[y + my]
        trow = tm[y - yl]
        # the row's valid pixels as one run [a, b) (a collar, a chip padded at an edge: no holes in the span
        # valid_span finds): an output column's taps are all valid when they lie in it, two compares instead of a
        # byte read per tap. Else tap by tap
        m8 = mrow.view(np.uint8)
        nzero = np.int64(0)
        for x in range(in_w):
            nzero += np.int64(m8[x] == 0)
        a, b, holes = valid_span(m8, np.int64(0), np.int64(in_w), nzero)
        if holes == 0:
            ka = a - mx
            kb = b - mx
            for j in range(out_w):
                trow[j] = okx[j] and xa[j] >= ka and xb[j] < kb
            continue
        for j in range(out_w):
            v = okx[j]
            for q in range(nx[j]):
                k = ix[j, q]
                if k >= 0 and not mrow[k + mx]:
                    v = False
            trow[j] = v
    for i in range(i0, i1):
        orow = dmask[p, i]
        for j in range(out_w):
            orow[j] = oky[i] and okx[j]
        if not oky[i]:
            continue
        for q in range(ny[i]):
            y = iy[i, q]
            if y >= 0:
                trow = tm[y - yl]
                for j in range(out_w):
                    orow[j] = orow[j] and trow[j]


def _make_work(ORDER: int):
    """The worker of one pass order (:data:`ROWS`, :data:`COLUMNS`, :data:`LANES`): ``ORDER`` is a closure
    constant, so numba prunes the other orders' branches before typing, and a dtype's first call compiles the
    one pass it runs (a worker of all three compiled 5.5-8 s per dtype, each pass 0.5-1.8 s of it)."""

    def work(wk, nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol, okx, oky,
             sa, sb, tm, dst, dmask, fill, is_int, lo, hi, nan_seen, my, mx, xa, xb, touch):  # pragma: no cover
        # worker ``wk`` of ``nworkers``: a contiguous share of the (band or mask plane) x strip units, its own scratch.
        # ``nan_seen`` of one slot per worker (else of none): each strip just written is scanned for NaN while it is
        # in cache, and the worker stops at the first (its caller then resamples again with the mask).
        # The taps count from input row ``my``, column ``mx``: tap (y, x) reads pixel (y + my, x + mx) (a plan made
        # for one crop serves that crop moved by whole pixels: _plan)
        nbands, in_h, in_w = src.shape
        xw = in_w - mx
        out_h, out_w = dst.shape[1], dst.shape[2]
        # flat views, once per worker; the source's from the pixel the taps count from (tap (y, x) of plane b is
        # then sf[(b * in_h + y) * in_w + x], as without a move)
        sf = src.reshape(src.size)[np.uint64(my * in_w + mx):]
        df = dst.reshape(dst.size)
        saf = sa[wk].reshape(sa.shape[1] * sa.shape[2])
        sbf = sb[wk].reshape(sb.shape[1] * sb.shape[2])
        check = nan_seen.size > wk
        for c in range(nunits * wk // nworkers, nunits * (wk + 1) // nworkers):
            unit = c // nstrips
            strip = c - unit * nstrips
            i0 = out_h * strip // nstrips
            i1 = out_h * (strip + 1) // nstrips
            if unit >= nbands:
                _mask_rows(mask, unit - nbands, i0, i1, iy, ny, ix, nx, okx, oky, tm[wk], dmask, my, mx, xa, xb)
                continue
            # looking for NaN, the columns-first orders write (and scan) _NAN_ROWS rows at a time, which are then in
            # L1. The rows-first order scans its whole strip (a shorter strip would compute the input rows two strips
            # share twice); its strips bound the input rows they read, so an enlarging strip can be a whole plane
            r0 = i0
            while r0 < i1:
                r1 = min(i1, r0 + _NAN_ROWS) if check and ORDER != ROWS else i1
                if ORDER == LANES:
                    _cols_lanes(sf, unit, in_h, in_w, r0, r1, iy, wy, ny, ixu, wx, kx, x0, fx, xl, ncol, saf, sbf, df,
                                out_w, fill, is_int, lo, hi, out_h, xw, touch)
                elif ORDER == COLUMNS:
                    _cols_first(sf, unit, in_h, in_w, r0, r1, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol, saf,
                                sbf, df, out_w, fill, is_int, lo, hi, out_h)
                else:
                    _rows_first(sf, unit, in_h, in_w, r0, r1, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, saf, sbf, df,
                                out_w, fill, is_int, lo, hi, out_h, xw)
                start = (np.uint64(unit) * np.uint64(out_h) + np.uint64(r0)) * np.uint64(out_w)
                if check and has_nan(df, start, start + np.uint64((r1 - r0) * out_w)):
                    nan_seen[wk] = True
                    return
                r0 = r1

    return work


@borrowing_jit()
def _fill_invalid(d, m, fill):  # pragma: no cover - numba
    """``d[b, j] = fill`` where ``m[b or 0, j]`` is 0: ``d`` (bands, pixels) and ``m`` (planes, pixels) flat, planes 1
    or bands. A select per value, which LLVM vectorises: a copy under a broadcast mask took 570 µs for a 13 x 512²
    uint16 output with a 10 % collar, this 130 µs."""
    shared = m.shape[0] == 1
    for b in range(d.shape[0]):
        mr = m[0 if shared else b]
        dr = d[b]
        for j in range(np.uint64(d.shape[1])):
            dr[j] = dr[j] if mr[j] != 0 else fill


@borrowing_jit()
def _fill_ring(d, m, ya, yb, xa, xb, fill, write_mask):  # pragma: no cover - numba
    """``fill`` outside rows ``[ya, yb)`` x columns ``[xa, xb)`` of every band of ``d`` (bands, rows, cols), and,
    with ``write_mask``, the mask ``m`` (1, rows, cols): True inside, False outside. The outputs of a scale and
    translate whose taps reach past an edge (``nodata`` fill) are rows and columns at the edges: a few stores per
    row, where numpy indexed both axes with booleans and built the mask as their outer product (what that cost:
    docs/benchmarks.md, "Resize past a nodata edge")."""
    h = d.shape[1]
    w = d.shape[2]
    for b in range(d.shape[0]):
        for i in range(h):
            row = d[b, i]
            if i < ya or i >= yb:
                fill_run(row, 0, w, fill)
            else:
                fill_run(row, 0, xa, fill)
                fill_run(row, xb, w, fill)
    if write_mask:
        for i in range(h):
            mrow = m[0, i]
            if i < ya or i >= yb:
                fill_run(mrow, 0, w, False)
            else:
                fill_run(mrow, 0, xa, False)
                fill_run(mrow, xa, xb, True)
                fill_run(mrow, xb, w, False)


# Each order's worker through its address (kernels/indirect.py): linked in, it would be compiled again here. One
# entry per order, written out: call_address types its call with the worker it names (and so compiles it), and a
# factory's closure would hold a dispatcher, which numba's cache key cannot hash stably. np.int64(wk): the index
# is unsigned in the gufunc, and the worker's first argument is int64
@nb.njit(cache=True, parallel=True, nogil=True)
def _resize_par_rows(addr, nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol,
                     okx, oky, sa, sb, tm, dst, dmask, fill, is_int, lo, hi, nan_seen, my, mx, xa, xb,
                     touch):  # pragma: no cover
    for wk in nb.prange(nworkers):
        call_address(_work_rows, addr, (np.int64(wk), nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx,
                                        nx, kx, x0, fx, xl, ncol, okx, oky, sa, sb, tm, dst, dmask, fill, is_int, lo,
                                        hi, nan_seen, my, mx, xa, xb, touch))


@nb.njit(cache=True, parallel=True, nogil=True)
def _resize_par_columns(addr, nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol,
                        okx, oky, sa, sb, tm, dst, dmask, fill, is_int, lo, hi, nan_seen, my, mx, xa, xb,
                        touch):  # pragma: no cover
    for wk in nb.prange(nworkers):
        call_address(_work_columns, addr, (np.int64(wk), nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx,
                                           nx, kx, x0, fx, xl, ncol, okx, oky, sa, sb, tm, dst, dmask, fill, is_int,
                                           lo, hi, nan_seen, my, mx, xa, xb, touch))


@nb.njit(cache=True, parallel=True, nogil=True)
def _resize_par_lanes(addr, nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx, nx, kx, x0, fx, xl, ncol,
                      okx, oky, sa, sb, tm, dst, dmask, fill, is_int, lo, hi, nan_seen, my, mx, xa, xb,
                      touch):  # pragma: no cover
    for wk in nb.prange(nworkers):
        call_address(_work_lanes, addr, (np.int64(wk), nworkers, nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx,
                                         nx, kx, x0, fx, xl, ncol, okx, oky, sa, sb, tm, dst, dmask, fill, is_int, lo,
                                         hi, nan_seen, my, mx, xa, xb, touch))


@borrowing_jit()
def _pairs(idx, w, n_in, k, f):  # pragma: no cover - numba
    """Two-tap columns as ``(k, f)``: the value is ``p + f * (q - p)``, ``p, q`` = pixels ``k, k + 1``.

    A column whose two taps are one pixel (zero weight on the repeat, or both mapped to one edge pixel)
    gets ``f = 0``, the last pixel reads as the right tap of the pair before it. False when two taps are
    not neighbours (a wrap across the raster) or the axis has one pixel.
    """
    if n_in < 2:
        return False
    for o in range(idx.shape[0]):
        k0 = idx[o, 0]
        k1 = idx[o, 1]
        if k1 == k0:
            if k0 >= n_in - 1:
                k[o] = n_in - 2
                f[o] = 1.0
            else:
                k[o] = k0
                f[o] = 0.0
        elif k1 == k0 + 1:
            k[o] = k0
            f[o] = w[o, 1]
        else:
            return False
    return True


#: taps are computed this many pixels away from the offset's whole part (:func:`_taps`): far enough that the
#: taps of an increasing axis (``s > 0``) built at offset ``rest`` lie at or right of pixel 0
_BASE = 4
#: a length no axis reaches: the taps of :func:`_axis_taps`'s cached base never meet its end
_NO_EDGE = 1 << 40


def _axis_taps(n_out: int, s: float, t: float, n_in: int, kind: int, mode: int, work: type) -> tuple:
    """The taps of one axis, read-only; cached up to :data:`_CACHE_TAPS` slots (a transform applied again to
    rasters of the same size reuses them), built each time beyond.

    The taps of offsets a whole number of pixels apart are the same taps moved: for an increasing axis
    (``s > 0``) whose every tap lies inside the input, they come from one cached build at the offset's
    fractional part, moved. A RandomResizedCrop, whose crop moves by whole pixels from call to call, builds
    its taps once per crop size."""
    if not _cacheable(n_out, s, kind):
        return _build_taps(n_out, s, t, n_in, kind, mode, work)
    movable = _movable(n_out, s, t, n_in, kind, mode, work)
    if movable is None:  # an edge or an outside tap, a decreasing axis: built for the offset
        return _cached_taps(n_out, s, t, n_in, kind, mode, work)
    base, move = movable
    if move == 0:  # the build itself (a crop moved to it: _origin)
        return base
    idx, w, cnt, ok, most, kfix, lo, hi, every, k2, f2, _, one = base
    # (the slots past the most taps any output uses, which no pass reads, move too: a build leaves them 0)
    idx = idx + move
    if kfix == 2:  # the two-tap pass's left taps, all inside (a build of other taps leaves them 0)
        k2 = (k2.view(np.int32) + np.int32(move)).view(np.uint32)
    for a in (idx, k2):
        a.flags.writeable = False
    return (idx, w, cnt, ok, most, kfix, lo + move, hi + move, every, k2, f2, idx.view(np.uint64), one)


#: the largest axis (output pixels x tap slots) whose taps are cached: 64 entries hold at most ~35 MB
_CACHE_TAPS = 1 << 15


def _build_taps(n_out: int, s: float, t: float, n_in: int, kind: int, mode: int, work: type) -> tuple:
    kmax = _kmax(kind, s)
    idx = np.zeros((n_out, kmax + 4), dtype=np.int64)
    w = np.zeros((n_out, kmax + 4), dtype=work)
    cnt = np.zeros(n_out, dtype=np.int64)
    ok = np.empty(n_out, dtype=np.bool_)
    inside = np.empty(2, dtype=np.bool_)
    most = np.zeros(3, dtype=np.int64)
    _taps(n_out, float(s), float(t), n_in, kind, mode, -0.75, kmax, idx, w, cnt, ok, inside, most)
    kfix = int(most[0]) if inside[1] else 0
    k2 = np.zeros(n_out, dtype=np.uint32)
    f2 = np.zeros(n_out, dtype=work)
    if kfix == 2 and not (kind in (LINEAR, AREA) and _pairs(idx, w, n_in, k2, f2)):
        kfix = 0  # the two-tap pass needs weights 1 - f, f on neighbouring pixels; else the general pass
    lo, hi = int(most[1]), int(most[2])
    if kfix == 2 and n_out:
        # the two-tap pass reads pixels k and k + 1 of every column, also where the column's taps are one
        # pixel (the pair before the last pixel, or the pixel after a single one): the columns the vertical
        # pass computes must cover them
        lo, hi = min(lo, int(k2.min())), max(hi, int(k2.max()) + 1)
    for a in (idx, w, cnt, ok, k2, f2):
        a.flags.writeable = False
    # a column of the two-tap pass on one pixel (see _make_plan); moving the taps keeps it, so it is found once
    one = kfix == 2 and bool((idx[:, 0] == idx[:, 1]).any())
    # (taps, weights, counts, validity, most taps used, fixed tap count for the branch-free pass or 0,
    #  first and last pixel read, every output valid, the two-tap pass's left taps and fractions, unsigned taps,
    #  a one-pixel column)
    return (idx, w, cnt, ok, int(most[0]), kfix, lo, hi, bool(ok.all()), k2, f2, idx.view(np.uint64), one)


_cached_taps = functools.lru_cache(maxsize=64)(_build_taps)


#: pass orders: rows first; columns first, one output row at a time; columns first in eight lanes
ROWS, COLUMNS, LANES = 0, 1, 2
#: ``"rows"``, ``"columns"`` or ``"lanes"`` forces the pass order (tests; ``"lanes"`` is ``"columns"`` when a
#: horizontal tap lies outside the input); ``None`` picks the cheaper one
_ORDER: str | None = None
#: relative cost of one horizontal tap (a gather) against one vertical tap (a contiguous run)
_GATHER_COST = 5


def _jit_work(order: int, name: str):
    """The worker of one pass order as its own compiled function (its own cache file, a readable name)."""
    work = _make_work(order)
    work.__name__ = work.__qualname__ = name
    return borrowing_jit(fastmath=_CONTRACT)(work)


_work_rows = _jit_work(ROWS, "_work_rows")
_work_columns = _jit_work(COLUMNS, "_work_columns")
_work_lanes = _jit_work(LANES, "_work_lanes")
#: pass order -> (worker, its parallel entry)
_WORKERS = {ROWS: (_work_rows, _resize_par_rows), COLUMNS: (_work_columns, _resize_par_columns),
            LANES: (_work_lanes, _resize_par_lanes)}


#: a stand-in for the mask arrays when there is no mask (never read)
_NO_MASK = np.empty((1, 1, 1), dtype=np.bool_)
#: output rows the columns-first orders write, then scan for NaN, at a time (``return_nan``): a multiple of the
#: eight rows of the lanes order
_NAN_ROWS = 32
#: ``nan_seen`` of a call that does not look for NaN (no slot for any worker)
_NO_NAN = np.zeros(0, dtype=np.bool_)
#: :func:`_tap_bounds` of a call without a mask (never read)
_NO_TAPS = np.zeros(0, dtype=np.int64)
_NO_TAPS.flags.writeable = False  # read-only, as a plan's bounds: one compiled worker with or without a mask
#: beyond every tap index: the bounds of an output column without a real tap (it reads no pixel)
_NO_TAP = 1 << 62


def _tap_bounds(ix: np.ndarray, nx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each output column's first and last real horizontal tap (``ix[j, q] >= 0``, ``q < nx[j]``): the mask pass
    tests a row whose valid pixels are one run with two compares per column (:func:`_mask_rows`). A column
    without a real tap gets ``(_NO_TAP, -_NO_TAP)``: inside every run."""
    real = (np.arange(ix.shape[1])[None, :] < nx[:, None]) & (ix >= 0)
    xa = np.where(real, ix, _NO_TAP).min(axis=1, initial=_NO_TAP)  # int64, as the taps
    xb = np.where(real, ix, -_NO_TAP).max(axis=1, initial=-_NO_TAP)
    xa.flags.writeable = xb.flags.writeable = False  # kept in a cached plan
    return xa, xb


def _plan(nb_: int, in_h: int, in_w: int, h: int, w: int, sy: float, sx: float, ty: float, tx: float, ky_kind: int,
          kx_kind: int, mode: int, dt: np.dtype, nm: int, nthreads: int, order: str | None) -> tuple[tuple, int, int]:
    """``(plan, my, mx)``: :func:`_make_plan` and the input row and column its taps count from.

    Cached (64 plans) when both axes' taps are small enough to cache (:data:`_CACHE_TAPS`): a plan holds its
    taps. A crop moved by whole pixels is the same resampling read from another origin: along an axis whose
    every tap lies inside the input (:func:`_origin`), the plan is made for the crop moved towards the input's
    corner and the kernel reads from ``(my, mx)``; an axis whose taps reach past an edge keeps its offset. A
    RandomResizedCrop of one size, whose crop moves from call to call, then plans a few times (its positions
    along the edges once each) and each call finds a plan. The plan decides from sizes alone (pass order,
    strips), so the moved crop's plan decides as the crop's own would; the taps and weights are the crop's,
    moved: each output pixel reads the same pixels with the same weights.
    """
    if not (_cacheable(h, sy, ky_kind) and _cacheable(w, sx, kx_kind)):
        return _make_plan(nb_, in_h, in_w, h, w, sy, sx, ty, tx, ky_kind, kx_kind, mode, dt, nm, nthreads, order), 0, 0
    if ty < 1.0 and tx < 1.0:  # at the corner already (a Resize): nothing to move
        return _cached_plan(nb_, in_h, in_w, h, w, sy, sx, ty, tx, ky_kind, kx_kind, mode, dt, nm, nthreads,
                            order), 0, 0
    work = work_dtype(dt)
    my, ty0 = _origin(h, sy, ty, in_h, ky_kind, mode, work, 1)
    # columns by multiples of eight: the lanes order's vertical pass runs in blocks of eight columns from a
    # multiple of eight, and the crop's own plan reads its columns from the same blocks (a crop moved to column
    # 0 could end a block short of the input's last column, and take that block row by row)
    mx, tx0 = _origin(w, sx, tx, in_w, kx_kind, mode, work, 8)
    if my < 0 and mx < 0:  # no axis moves (taps outside or mapped by the fill mode): the plan of this crop
        return _cached_plan(nb_, in_h, in_w, h, w, sy, sx, ty, tx, ky_kind, kx_kind, mode, dt, nm, nthreads,
                            order), 0, 0
    # an axis that cannot move keeps its offset (a crop along an edge: the few positions there each plan once)
    if my < 0:
        my, ty0 = 0, ty
    if mx < 0:
        mx, tx0 = 0, tx
    return _moved_plan(nb_, in_h, in_w, h, w, sy, sx, ty0, tx0, ky_kind, kx_kind, mode, dt, nm, nthreads,
                       order), my, mx


def _movable(n_out: int, s: float, t: float, n_in: int, kind: int, mode: int, work: type) -> tuple | None:
    """``(base, move)``: the cached build the taps of offset ``t`` are moved from (at the fraction of ``t``,
    ``_BASE`` pixels in, on an input without edges: every tap at or right of pixel 0) and the whole pixels
    ``move`` that place it at ``t``, when every moved tap lies inside the input; else None (a decreasing axis,
    a fraction that rounds up to a whole pixel, a tap past an edge or mapped by the fill mode).

    Inside the input (``lo``, ``hi`` cover the two-tap pass's reads) no fill mode maps a tap, and the two-tap
    pairs never meet the last pixel's special case: the moved taps are the taps a build at ``t`` gives.
    """
    if not (s > 0 and math.isfinite(t)):
        return None
    whole = math.floor(t)
    local = (t - whole) + _BASE  # the offset _taps computes the taps at (see there)
    if local >= _BASE + 1:
        return None
    base = _cached_taps(n_out, s, local, _NO_EDGE, kind, mode, work)
    kfix, lo, hi, every = base[5], base[6], base[7], base[8]
    move = whole - _BASE
    if not (every and kfix > 0 and lo + move >= 0 and hi + move <= n_in - 1):
        return None
    return base, move


def _origin(n_out: int, s: float, t: float, n_in: int, kind: int, mode: int, work: type,
            step: int) -> tuple[int, float]:
    """``(m, t - m)``: the whole pixels ``m`` (a multiple of ``step``) the taps of one axis can move towards
    pixel 0, at most the first pixel they read, and the offset that moves them there; ``(-1, t)`` when they
    cannot move (a decreasing axis, a tap outside the input or mapped inside by the fill mode, a fraction that
    rounds up to a whole pixel: :func:`_axis_taps` builds those for the offset). Where it can, ``t - m`` is the
    offset of the cached build :func:`_axis_taps` moves (``_BASE`` pixels in, on an input without edges), whose
    taps it then returns as they are.

    ``t - m`` keeps the fraction of ``t`` bit for bit (``m`` is a whole number at most ``t``, so ``t - m`` lies
    in ``[0, t]``), so the moved taps have the same weights.
    """
    movable = _movable(n_out, s, t, n_in, kind, mode, work)
    if movable is None:
        return -1, t
    base, move = movable
    if move >= 0 and move % step == 0:  # onto the cached build itself (its taps at or right of 0): no moved copy
        return move, t - move
    # else as far as the first tap read, and no further than the whole part of t: then t - m lies in [0, t],
    # whose fraction is exact (a larger magnitude could round it)
    c = min(base[6] + move, move + _BASE)
    if c < 0:
        return -1, t
    m = c - c % step
    return m, t - m


def _kmax(kind: int, s: float) -> int:
    # the most taps an output reads: 1, 2 or 4, and for the area filter the pixels its footprint can touch
    return _TAPS.get(kind) or math.ceil(abs(s)) + 2


_TAPS = {NEAREST: 1, LINEAR: 2, CUBIC: 4}


def _cacheable(n_out: int, s: float, kind: int) -> bool:
    return n_out * (_kmax(kind, s) + 4) <= _CACHE_TAPS


def _make_plan(nb_: int, in_h: int, in_w: int, h: int, w: int, sy: float, sx: float, ty: float, tx: float,
               ky_kind: int, kx_kind: int, mode: int, dt: np.dtype, nm: int, nthreads: int, order: str | None) -> tuple:
    """Everything a call decides from its sizes and parameters alone: taps, pass order, strips, workers (cached
    by :func:`_plan`: a Resize applied to rasters of one size plans once; a RandomResizedCrop of one size plans
    a few times, its crop moved towards the corner)."""
    work = work_dtype(dt)
    lo, hi, is_int = limits(dt, work)
    iy, wy, ny, oky, ky, _, _, _, yok, _, _, _, _ = _axis_taps(h, sy, ty, in_h, ky_kind, mode, work)
    ix, wx, nx, okx, kx, kfix, xlo, xhi, xok, x0, fx, ixu, one_x = _axis_taps(w, sx, tx, in_w, kx_kind, mode, work)
    one_pixel = one_x and dt.kind == "f"
    if one_pixel and mode == _NODATA and not xok:
        # float data, outputs with taps outside (nodata: they borrow a valid output's taps, see _taps) and a
        # column on one pixel: the general pass, as before the borrowing. The two-tap form at a one-pixel
        # column reads a neighbour with weight 0 (0 * inf is NaN) or, at the last pixel, computes p + (q - p),
        # which loses q when p is far larger; a plain float array would also take the masked call at once
        # (``one_pixel``). Integers are exact in the two-tap form, and keep it
        kfix = 0
        one_pixel = False
    if one_pixel and nm:
        # the two-tap form p + f * (q - p) reads a one-pixel column's neighbour with weight 0 (or 1 - 1; a
        # column whose two taps the fill mode maps to one edge pixel is one too): a NaN or an infinity under an
        # invalid neighbour would reach the valid output (0 * NaN is NaN). A masked float raster with such a
        # column takes the general pass, whose padding repeats the column's own pixel (``one_pixel``: the
        # masked call of these taps takes another pass, whose last column's bits may differ)
        kfix = 0
    units = nb_ + nm
    fit_rows = max(4, (1 << 17) // (w * np.dtype(work).itemsize) - ky)
    cache_strips = -(-h // max(1, int(fit_rows / abs(sy))))  # strips whose row-first scratch stays in cache
    # the cheaper order: rows first reads each needed input row once horizontally (gathers), columns first
    # runs the vertical pass over input columns and gathers only output rows. The input rows a strip of rows
    # first reads: estimated here, counted (_max_span) when the order or a mask needs the scratch sized. The
    # order is chosen from the bands' strips alone, never the mask planes': the two orders round differently,
    # and a call with a mask must compute each value as the call without it does (a plain float array is
    # resampled without its mask first, and must give the masked call's bits: functional.warp)
    band_strips = min(h, max(-(-4 * nthreads // nb_) if nthreads > 1 else 1, cache_strips))
    kxe, kye = max(kx, 1), max(ky, 1)
    span = min(in_h, math.ceil(-(-h // max(band_strips, 1)) * abs(sy)) + kye + 1)
    cost_rows = band_strips * span * w * kxe * _GATHER_COST + h * w * kye
    ncols = max(xhi - xlo + 1, 0)
    if kfix > 0:  # every horizontal tap real: columns first in eight lanes (a tap costs a vertical one, plus
        # one transpose of the vertical pass's values and one of the outputs)
        cost_cols = h * ncols * (kye + 1) + h * w * (kxe + 1)
        best = LANES
    else:
        cost_cols = h * ncols * kye + h * w * kxe * _GATHER_COST
        best = COLUMNS
    if order is None:
        order_code = best if cost_cols < cost_rows else ROWS
    else:
        order_code = {"rows": ROWS, "columns": COLUMNS, "lanes": best}[order]
    # strips of output rows: enough units (bands and mask planes) for the threads, and (row-first order) scratch
    # rows that stay in cache
    par_strips = -(-4 * nthreads // units) if nthreads > 1 else 1
    nstrips = min(h, max(par_strips, cache_strips))
    if order_code != ROWS:
        nstrips = min(h, par_strips)
    if order_code == ROWS or nm:
        span = _max_span(iy, ny, h, nstrips, in_h)
    nunits = units * nstrips
    nworkers = max(1, min(nthreads, nunits))
    xl = max(xlo, 0)
    ncol = max(xhi + 1 - xl, 0)
    xa, xb = _tap_bounds(ix, nx) if nm else (_NO_TAPS, _NO_TAPS)  # read by the mask pass only
    ry, rx = _valid_run(oky), _valid_run(okx)
    ring = None if ry is None or rx is None else (*ry, *rx)
    return (work, lo, hi, is_int, iy, wy, ny, oky, ix, ixu, wx, nx, okx, kfix, x0, fx, np.uint64(xl), ncol,
            yok and xok, nstrips, span, order_code, nunits, nworkers, one_pixel, xa, xb, ring)


def _valid_run(ok: np.ndarray) -> tuple[int, int] | None:
    """``(a, b)`` when the outputs of an axis with every tap inside (``ok``) are the run ``[a, b)`` (the others at
    its ends: a monotonic axis whose taps reach past an edge), else None."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return 0, 0
    a, b = int(idx[0]), int(idx[-1]) + 1
    return (a, b) if b - a == idx.size else None


#: plans read from the input's corner (a Resize, a crop whose taps reach past an edge on both axes or a
#: decreasing axis): a crop's own position, each draw of a RandomResizedCrop there its own plan
_cached_plan = functools.lru_cache(maxsize=64)(_make_plan)
#: plans of crops moved towards the input's corner (:func:`_plan`): a few per crop size, whatever its position
_moved_plan = functools.lru_cache(maxsize=64)(_make_plan)


def resize_separable(
    src: np.ndarray,
    mask: np.ndarray | None,
    scale: tuple[float, float],
    offset: tuple[float, float],
    out_shape: tuple[int, int],
    kind: tuple[int, int] = (LINEAR, LINEAR),
    mode: int = _NODATA,
    fill_value: float = 0.0,
    out_fill: float = 0.0,
    out: np.ndarray | None = None,
    return_nan: bool = False,
    need_mask: bool = True,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, bool]:
    """Resample ``(bands, rows, cols)`` through ``x_in = sx * x_out + tx``, ``y_in = sy * y_out + ty``.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols) or None
        ``planes`` is 1 (shared by all bands) or ``bands``; ``None`` means all
        valid (the mask is then never read).
    scale : (sy, sx)
        Input pixels per output pixel along rows and columns (non-zero; negative mirrors).
    offset : (ty, tx)
        Input coordinate of the output's outer corner, pixel-corner origin.
    out_shape : (rows, cols)
        Output size in pixels.
    kind : (int, int)
        Filter along rows and columns: :data:`NEAREST`, :data:`LINEAR`,
        :data:`CUBIC` or :data:`AREA`.
    mode : int
        Fill mode code, as :data:`geoaug.kernels.warp.FILL_MODES`.
    fill_value : float
        Value of the outside for ``fill="constant"``.
    out_fill : float
        Value stored under invalid output pixels.
    out : ndarray (bands, rows, cols), optional
        Destination of ``src``'s dtype, C-contiguous; allocated when not given.
        It may not share memory with ``src`` or ``mask``.
    return_nan : bool
        Also return whether the call needs the mask of ``src``'s NaNs, for a
        float ``src`` without a mask (for other calls: False). Each strip of
        output rows is scanned while it is still in cache, and the first NaN
        stops the call; a call whose taps the masked resampling would run
        through another pass (a one-pixel column, see ``_make_plan``) stops
        before it starts. The data is then incomplete, and the caller
        resamples again with the mask. Otherwise the output is, bit for bit,
        the masked resampling's (no output pixel read a NaN). A plain float
        array whose resampling reads no NaN thus never has its input scanned
        (``functional.warp``).
    need_mask : bool
        False when the caller keeps the data only (a plain array's resampling): where the output mask
        would be built for this call alone (no input mask, outputs with a tap past an edge under
        ``nodata``), it is not, and None stands in its place. The data is the same.

    Returns
    -------
    (ndarray, ndarray) or (ndarray, ndarray, bool)
        The data ``(bands, out_rows, out_cols)`` and the mask ``(planes,
        out_rows, out_cols)``; when every output pixel is valid the mask is a
        read-only broadcast of True. With ``return_nan``, then whether the
        call stopped because it needs the mask.
    """
    nb_, in_h, in_w = src.shape
    h, w = int(out_shape[0]), int(out_shape[1])
    dt = src.dtype
    dst = out_buffer(out, (nb_, h, w), dt, "out", (src, mask))
    src = np.ascontiguousarray(src)
    nm = 0 if mask is None else mask.shape[0]
    if mask is not None and (mask.shape[1:] != src.shape[1:] or nm not in (1, nb_)):
        from ..errors import ParameterError

        raise ParameterError(f"mask must be (1 or {nb_}, {in_h}, {in_w}), got {mask.shape}")
    nthreads = threads.num_threads() if nb_ * h * w >= SERIAL_BELOW else 1
    plan, my, mx = _plan(nb_, in_h, in_w, h, w, float(scale[0]), float(scale[1]), float(offset[0]),
                         float(offset[1]), kind[0], kind[1], mode, dt, nm, nthreads, _ORDER)
    (work, lo, hi, is_int, iy, wy, ny, oky, ix, ixu, wx, nx, okx, kfix, x0, fx, xl, ncol, all_ok, nstrips, span,
     order, nunits, nworkers, one_pixel, xa, xb, ring) = plan
    looking = return_nan and not nm and dt.kind == "f"
    if looking and one_pixel:
        # with a mask these taps take another pass (see _make_plan): resampled as all valid, the output would
        # not be the masked call's bit for bit. Nothing done; the caller resamples with the mask
        return dst, _NO_MASK, True
    if order == LANES:  # eight rows of the vertical pass; their interleaved block, the outputs', the outputs'
        cp, wp = -(-in_w // 8) * 8, -(-w // 8) * 8
        sa = np.empty((nworkers, 8, cp), dtype=work)
        sb = np.empty((nworkers, 8, cp + 2 * wp), dtype=work)
    elif order == COLUMNS:
        sa = np.empty((nworkers, 4, in_w), dtype=work)
        sb = np.empty((nworkers, 4, w), dtype=work)
    else:
        sa = np.empty((nworkers, span, w), dtype=work)
        sb = np.empty((nworkers, 1, w + 4 * in_w), dtype=work)  # a row of sums, four converted input rows
    if mask is not None:
        mask = np.ascontiguousarray(mask, dtype=np.bool_)
        tm = np.empty((nworkers, span, w), dtype=np.bool_)
        dmask = np.empty((nm, h, w), dtype=np.bool_)
    else:
        tm = _NO_MASK
        dmask = _NO_MASK
        mask = tm
    nan_seen = np.zeros(nworkers, dtype=np.bool_) if looking else _NO_NAN
    args = (nunits, nstrips, src, mask, iy, wy, ny, ix, ixu, wx, nx, kfix, x0, fx, xl, ncol,
            okx, oky, sa, sb, tm, dst, dmask, work(fill_value), is_int, lo, hi, nan_seen, my, mx, xa, xb,
            np.uint64(LINE_BYTES // dt.itemsize if src.nbytes > TOUCH_BYTES * nworkers else 0))
    work, parallel = _WORKERS[order]
    with threads.launch_lock:
        if nworkers > 1:
            addr = indirect.address(work, (dt, src.flags.num, mask.flags.num, dst.flags.num), lambda: (0, 1, *args))
            parallel(addr, nworkers, *args)
        else:  # the worker itself, straight from Python (no compiled level in between to compile it again)
            work(0, 1, *args)
    if looking and 1 in nan_seen.tobytes():  # a bytes search: .any() costs more here
        return dst, dmask, True  # stopped at the first NaN: the caller resamples again with the mask
    if nm:
        if not dmask.all():  # out_fill under the invalid pixels, as bits (one compiled copy per pixel width)
            bits = BITS[dt.itemsize]
            _fill_invalid(dst.reshape(nb_, h * w).view(bits), dmask.reshape(nm, h * w).view(np.uint8),
                          bits.type(nearest_fill_bits(out_fill, dt, np.float64)))
        res = dst, dmask
    elif all_ok:
        res = dst, true_mask((1, h, w))
    elif ring is not None:  # the outputs with a tap outside (nodata): the rows and columns at the edges (a ring)
        valid = np.empty((1, h, w), dtype=np.bool_) if need_mask else _NO_MASK
        bits = BITS[dt.itemsize]
        _fill_ring(dst.view(bits), valid, *ring, bits.type(nearest_fill_bits(out_fill, dt, np.float64)), need_mask)
        res = dst, (valid if need_mask else None)
    else:  # (not a ring: whole rows and columns all the same) filled as such
        valid = (oky[:, None] & okx[None, :])[None]
        fill = dt.type(out_fill)
        dst[:, ~oky] = fill
        dst[:, :, ~okx] = fill
        res = dst, valid
    return (*res, False) if return_nan else res


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
