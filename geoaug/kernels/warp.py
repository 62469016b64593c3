"""The affine warp kernel: any band count, nodata-aware, nearest / bilinear / cubic.

Conventions
-----------
* ``m`` holds the first two rows of the 3x3 matrix that maps **output** pixel
  coordinates to **input** pixel coordinates, pixel-corner origin (GDAL/rasterio):
  the centre of output pixel ``(i, j)`` is ``(j + 0.5, i + 0.5)``. The third row
  is not read (the map is affine).
* nearest copies the input pixel that contains the source point
  (``floor(x), floor(y)``), in its own kernel (:mod:`geoaug.kernels.nearest`,
  compiled per pixel width: a copy needs no arithmetic in the dtype, and the
  same runs, fill and validity rules); bilinear and cubic interpolate between input pixel
  centres. Cubic is the Keys convolution kernel with ``a = -0.75`` (OpenCV's
  ``INTER_CUBIC``, so OpenCV/albumentations outputs can be matched).
* The source coordinate (float64), its flat base offset and the weights the
  interior reads (work dtype, below) are computed **once per output pixel** for
  a whole output row, in one vectorised pass, into small per-chunk scratch rows
  allocated outside the kernel, and shared by every band of a band group. The
  base tap itself (and, for bilinear, the weights ``1 - f``) are stored only for
  the few pixels that go through the tap rule (near the border, or with valid
  and invalid taps), computed there by the same expression: at 1 x 512² the
  stores of the row pass had cost about a tenth of a bilinear warp. Cubic
  weights: the row pass computes the interior's in the work precision and
  stores them eight per pixel side by side; the tap-rule pixels compute theirs
  in float64 (renormalising divides by a sum of some of them, which can nearly
  cancel). The cubic row pass is two loops, each vectorised at its own width:
  the coordinates in float64 (4 lanes), then the weights in the work precision
  (8 lanes of float32); as one loop LLVM ran the coordinates one pixel at a
  time and the weights 4 lanes wide, and a 1 x 512² cubic warp took 1.28x the
  time. Then the band loop
  runs outside and the pixel loop inside. Bilinear, per band: the taps of the
  row's interior run are gathered into scratch (plain loads, unsigned indexes:
  no negative-index wraparound code; neighbouring taps of one row read as one
  word where the dtype allows, :mod:`geoaug.kernels.packed`), and a second,
  branch-free pass over those contiguous rows interpolates, rounds and stores;
  the compiler vectorises it. Cubic, per band and pixel: each of its four tap
  rows is one vector load, weighed with the pixel's eight weights (stored side
  by side by the row pass) in vector registers (:mod:`geoaug.kernels.taps4`);
  integer rows are then rounded and stored in one vectorised pass. No array
  view is made per band and row (each costs two atomic reference-count
  updates, which dominated short rows).
* Band groups: a rotated output row reads a slanted run of input rows in every
  band; so that this footprint stays in cache, wide outputs take the bands in
  groups (about 2,048 output columns of bands per pass over the rows for
  bilinear and nearest, and for a bilinear input of more than 8 MB at most
  1 MB of input planes, where four fit; for cubic 3,072 columns of 4- and 8-byte data, and
  3 x 512² of the width squared for narrower data (at most 8 bands a pass
  when they take several), up to 4 bands in one pass:
  :func:`_band_group`; the coordinates recomputed per group).
* Interior and border: in an output row, the pixels whose taps all lie inside
  the input form one contiguous run (the matrix is affine, so ``floor`` of the
  source coordinate is monotonic along the row), placed by counting the
  pixels past each bound (each cuts a prefix or a suffix off the row, so a
  bisection on the line itself finds it, each probe computing the tap as the
  row pass does: :func:`geoaug.kernels.runs.row_runs`). That run
  takes the fast path. With ``nodata`` and ``constant`` fill, the pixels none of
  whose taps touch the input ("far", again runs at both ends) all take one
  value (``out_fill``, invalid, or ``fill_value``) without looking at a tap.
  The rest ("near": some taps outside, or every pixel outside the interior for
  the other fill modes) map their taps through the fill mode once per row into
  a table of flat offsets; per mask plane the table's weights are zeroed for
  taps outside or invalid, and every band then sums over the table.
* Validity: an output pixel is valid only if every input tap with non-zero
  weight is valid; with ``renormalize`` it is valid when the valid taps' weights
  do not sum to zero (``|sum| > 1e-6``, summed per pixel in float64), and the
  value is the weighted mean over the valid taps. Taps outside the input follow
  the fill mode: ``nodata`` makes them invalid; ``constant`` gives them the
  value ``fill_value`` (valid); ``edge``/``reflect``/``mirror``/``wrap`` map
  them back inside.
* All-valid input (``mask`` is None or all True) never reads a mask: the
  interior run is computed straight. Otherwise each mask plane is first turned
  into tap codes (two separable AND/OR passes: per base pixel, whether its K x K
  taps are all valid, none, or mixed), so one pass per output row and plane
  reads one byte per interior pixel and sorts it into all valid, none valid
  (invalid) and mixed (the weights decide, listed branch-free); the interior run
  is still computed branch-free for every band, then the invalid pixels get
  ``out_fill`` in one vectorised select and the mixed ones a sum over their
  valid non-zero-weight taps.
* A mask whose valid pixels are one rectangle, with ``fill="nodata"``: a tap outside the rectangle is
  invalid exactly as one outside the input is, so the input is passed as all valid with the rectangle as
  the bounds the runs are placed against (``win``; :mod:`geoaug.kernels.window` finds it in one pass that
  stops at the first row ruling it out). The taps keep the input's coordinates. A pixel with taps on both
  sides of the rectangle's edge is a near pixel there and a mixed one on the tap-code path; both sum in the
  work precision, so the two paths give the same bits (tests/test_warp_windows.py).
* Work dtype: uint8, uint16, int16 and float32 are computed in float32, never
  float64, in every per-band sum over taps, within 1 DN, resp. 1e-5 of the
  data's magnitude, of a float64 computation (``tests/test_warp_kernel.py``
  checks it against a numpy float64 implementation); only the per-pixel weights
  of the tap-rule pixels and their renormalising sums are float64. int32 and
  float64 are computed in float64 (float32 cannot hold int32 values). Integers
  are rounded half to even and saturated to the dtype's range.
* Memory and threads: outputs are allocated with numpy outside the kernels (or
  given by the caller with ``out=`` / ``out_mask=``, reusable across calls);
  nothing is allocated inside the parallel loop. The scratch rows are each
  thread's own, kept from its earlier warps of the same layout
  (:func:`geoaug.kernels.buffers.kept_scratch`), and the layout itself (band
  groups, units, scratch shapes) is worked out once per size, dtype and thread
  count (:func:`_launch`). At most one parallel region
  per call, over units of one band group by one chunk of output rows
  (:func:`parallel_units`), and only above :data:`PARALLEL_MIN_WORK`
  (bands x output pixels x taps; nearest: (bands + 4) x output pixels /
  :data:`NEAREST_WORK`) when numba has more than one thread; smaller
  warps run the row kernel itself on the calling thread. Every launch holds
  ``threads.launch_lock``.
* Compilation: the row kernel is built once per interpolation with the code as
  a closure constant (:func:`_make_rows`), so numba prunes the other two before
  typing and a first call compiles only what it runs. The serial path calls it
  straight from Python: numba links every callee's code into each caller and
  optimises it there again, so each compiled level in between would cost the
  kernel's whole compile again (about 1.2 s per dtype for bilinear). The
  parallel entries call it through its address (:mod:`geoaug.kernels.indirect`),
  for the same reason (it cost the README pipeline's first call 2.3 s). Helpers
  are called with typed arguments, not literals, where a literal would compile
  a second copy of them. The per-pixel tap helpers are not numba-inlined
  (``inline="always"`` copied their array arguments, whose reference counts
  stayed in the loops, and the interior kernels compiled on their own did not
  vectorise); each is compiled on its own and LLVM inlines it. The row kernels
  and their helpers hold no reference counts at all
  (:mod:`geoaug.kernels.borrowing`), so their row and plane views cost nothing.
"""

from __future__ import annotations

import functools
import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from ..errors import ParameterError, UnsupportedDtypeError
from . import indirect, nearest, threads
from .borders import CONSTANT as _CONSTANT
from .borders import FILL_MODES
from .borders import NODATA as _NODATA
from .borders import map_index as _map_index
from .borrowing import borrowing_jit
from .buffers import kept_scratch, out_buffer
from .cubic import CUBIC_A, keys4
from .diskcache import lock_disk_cache
from .dtypes import work_dtype as _work_dtype
from .indirect import call_address
from .nans import test_written_rows
from .packed import lane, load_u32, load_u64, packed_dtype
from .runs import fill_run as _fill
from .runs import row_runs as _runs
from .runs import span_fill, span_mask, valid_span
from .taps4 import PIXEL_WEIGHTS, cubic4
from .window import valid_window

__all__ = ["CUBIC_A", "FILL_MODES", "INTERPOLATIONS", "PARALLEL_MIN_WORK", "parallel_units", "warp_affine"]

#: interpolation name -> kernel code
INTERPOLATIONS = {"nearest": 0, "bilinear": 1, "cubic": 2}
#: below this much work (bands x output pixels x taps; nearest: :data:`NEAREST_WORK`) a warp runs on one
#: thread: a parallel launch costs more. With the TBB layer a launch costs a few µs: at 2 threads a 1x128²
#: bilinear warp (work 65,536) took 0.60 of its 1-thread time; at 16,384 it was 0.8-0.9
PARALLEL_MIN_WORK = 1 << 15
#: the nearest warp's work per output pixel is ``(bands + 4) / NEAREST_WORK``: its coordinates are computed once
#: and serve four bands per pass, so more bands add less than a band's worth each. Counted as bands x pixels,
#: 13x64² (53,248) took the parallel entry and ran 1.14-1.34x slower at 2 threads than at 1, 4x128² 1.06-1.17x,
#: 13x90² 1.02-1.15x, while 1x256² (65,536) ran 0.92-1.04x, 2x256² 0.84-0.96x and 13x120² 0.89-0.91x
#: (``python scripts/bench_threads.py --only thresholds``, and the same transform timed at 2 threads with the
#: parallel entry and without, 31 calls each, a busy 0.3 ms between calls). Counted this way the first three
#: run on one thread and the others in parallel
NEAREST_WORK = 6

_TAPS = (1, 2, 4)
_DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")
_BIG = 1e15  # source coordinates beyond +-_BIG are refused (they would not fit the integer taps)
# rows of the int64 scratch: 0 flat offset of the first tap, 1 x base tap, 2 y base tap, 3 fix-up list,
# then K mapped x taps and K mapped y taps, then the K*K flat taps (border pixels); float scratch: K x weights,
# K y weights, 1/sum, (cubic) a row of interior sums, the K*K tap weights of the current plane and the
# outside weight (border pixels); tscr: bilinear's gathered taps, or each pixel's eight cubic weights in a row
_I_OFF, _I_BX, _I_BY, _I_BAD, _I_G = 0, 1, 2, 3, 4
#: elements added to every scratch row (see warp_affine): rows of a power-of-two size alias (two cache lines of
#: 8-byte words, one of 4-byte ones)
_ROW_PAD = 16




def _as_work(x, src):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


@overload(_as_work)
def _as_work_ov(x, src):  # pragma: no cover - numba typing
    dt = src.dtype
    if dt == types.float64 or dt == types.int32:
        return lambda x, src: np.float64(x)
    return lambda x, src: np.float32(x)


def _put(orow, j, acc):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


def _int_bounds(dt, acc):  # pragma: no cover - numba typing
    """The saturation bounds of integer dtype ``dt`` in the accumulator's float type, or None for a float dtype."""
    if not isinstance(dt, types.Integer):
        return None
    info = np.iinfo(np.dtype(str(dt)))
    if isinstance(acc, types.Float) and acc.bitwidth == 32:
        return np.float32(info.min), np.float32(info.max)
    return np.float64(info.min), np.float64(info.max)


def saturating_int_store(dt, acc):  # pragma: no cover - numba typing
    """The store of an integer output row (rounded half to even, saturated), or None for a float row.

    Shared by every kernel's store overload (warp, remap, blur), typed on the
    row's dtype and the accumulator's (float32 bounds for a float32 accumulator).
    """
    bounds = _int_bounds(dt, acc)
    if bounds is None:
        return None
    lo, hi = bounds

    def put_int(orow, j, acc):
        orow[j] = min(max(np.rint(acc), lo), hi)

    return put_int


@overload(_put)
def _put_ov(orow, j, acc):  # pragma: no cover - numba typing
    put_int = saturating_int_store(orow.dtype, acc)
    if put_int is not None:
        return put_int

    def put_float(orow, j, acc):
        orow[j] = acc

    return put_float


def _bl_gather(src, b, off, t0, t1, t2, t3, jlo, jhi, in_w):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_bl_gather)
def _bl_gather_ov(src, b, off, t0, t1, t2, t3, jlo, jhi, in_w):  # pragma: no cover - numba typing
    """Gather a bilinear interior run's taps: one word per tap row when packed, else four plain loads."""
    if t0.dtype == src.dtype:
        def plain(src, b, off, t0, t1, t2, t3, jlo, jhi, in_w):
            u1 = np.uint64(1)
            uw = np.uint64(in_w)
            for j in range(np.uint64(jlo), np.uint64(jhi)):
                o = np.uint64(off[j])
                t0[j] = src[b, o]
                t1[j] = src[b, o + u1]
                t2[j] = src[b, o + uw]
                t3[j] = src[b, o + uw + u1]

        return plain
    load = load_u32 if t0.dtype == types.uint32 else load_u64

    def packed(src, b, off, t0, t1, t2, t3, jlo, jhi, in_w):
        uw = np.uint64(in_w)
        for j in range(np.uint64(jlo), np.uint64(jhi)):
            o = np.uint64(off[j])
            t0[j] = load(src, b, o)
            t1[j] = load(src, b, o + uw)

    return packed


def gather_rows(dt: np.dtype) -> tuple[int, np.dtype]:
    """``(rows, dtype)`` of the scratch :func:`_bl_gather` fills for a raster of ``dt``: one row per tap of
    ``dt``, or one per tap row of the word two neighbouring pixels fit (:func:`geoaug.kernels.packed.packed_dtype`).
    The warp and the remap allocate theirs from it."""
    packed = packed_dtype(dt)
    return (4, np.dtype(dt)) if packed is None else (2, np.dtype(packed))


def _bl_taps(t0, t1, t2, t3, j, src):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_bl_taps)
def _bl_taps_ov(t0, t1, t2, t3, j, src):  # pragma: no cover - numba typing
    """The four gathered taps of pixel ``j`` (top-left, top-right, bottom-left, bottom-right), work dtype."""
    if t0.dtype == src.dtype:
        return lambda t0, t1, t2, t3, j, src: (_as_work(t0[j], src), _as_work(t1[j], src), _as_work(t2[j], src),
                                               _as_work(t3[j], src))

    def packed(t0, t1, t2, t3, j, src):
        a = t0[j]
        c = t1[j]
        return (_as_work(lane(a, 0, src), src), _as_work(lane(a, 1, src), src), _as_work(lane(c, 0, src), src),
                _as_work(lane(c, 1, src), src))

    return packed


def _cu_run(src, b, orow, off, wa, acc, jlo, jhi, in_w):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_cu_run)
def _cu_run_ov(src, b, orow, off, wa, acc, jlo, jhi, in_w):  # pragma: no cover - numba typing
    """Cubic over the interior run ``[jlo, jhi)`` of output row ``orow`` from band ``b`` (:func:`cubic4` per
    pixel): stored as it is summed for a float row of the work dtype; for an integer row summed into ``acc``
    first and then rounded and saturated in one vectorised pass."""
    if orow.dtype == wa.dtype:
        def direct(src, b, orow, off, wa, acc, jlo, jhi, in_w):
            uw = np.uint64(in_w)
            for j in range(np.uint64(jlo), np.uint64(jhi)):
                orow[j] = cubic4(src, b, np.uint64(off[j]), uw, wa, j)

        return direct

    def rounded(src, b, orow, off, wa, acc, jlo, jhi, in_w):
        uw = np.uint64(in_w)
        for j in range(np.uint64(jlo), np.uint64(jhi)):
            acc[j] = cubic4(src, b, np.uint64(off[j]), uw, wa, j)
        for j in range(np.uint64(jlo), np.uint64(jhi)):
            _put(orow, j, acc[j])

    return rounded


@borrowing_jit()
def _interior_bilinear(src, b, dst, i, off, t00, t01, t10, t11, fx, fy, jlo, jhi, in_w):  # pragma: no cover
    """Bilinear over the interior run: gather the taps (scalar loads), then interpolate (vectorised).

    The scratch rows are views made once per chunk, not per band; with packed
    scratch (:mod:`geoaug.kernels.packed`) ``t00``/``t01`` hold one word per tap row.
    """
    _bl_gather(src, b, off, t00, t01, t10, t11, jlo, jhi, in_w)
    orow = dst[b, i]
    for j in range(np.uint64(jlo), np.uint64(jhi)):
        p00, p01, p10, p11 = _bl_taps(t00, t01, t10, t11, j, src)
        top = p00 + fx[j] * (p01 - p00)
        bot = p10 + fx[j] * (p11 - p10)
        _put(orow, j, top + fy[j] * (bot - top))


@borrowing_jit()
def _interior_cubic(src, b, dst, i, off, wa, acc, jlo, jhi, in_w):  # pragma: no cover - numba
    """Cubic over the interior run: each pixel's 16 taps as four row vectors, weighed with its eight weights
    ``wa[8 j : 8 j + 8]`` (:mod:`geoaug.kernels.taps4`); ``acc`` is a scratch row of the work dtype."""
    _cu_run(src, b, dst[b, i], off, wa, acc, jlo, jhi, in_w)


@borrowing_jit()
def _tap(iscr, j, t, K, inner, in_w, in_h, y):  # pragma: no cover - numba
    """Index of tap ``t`` of pixel ``j`` along x (``y`` False) or y, -1 when outside (nodata/constant)."""
    if inner:
        return iscr[_I_BY if y else _I_BX, j] + t
    return iscr[_I_G + (K if y else 0) + t, j]


@borrowing_jit()
def _pixel(iscr, fscr, j, xr, m0, yr, m3, shift, bilinear):  # pragma: no cover - numba
    """Store pixel ``j``'s base taps (``iscr`` rows ``_I_BX``/``_I_BY``) and, for bilinear, its four weights
    (``fscr`` rows 0-3), computed exactly as the row pass computes them, for the pixels that go through the tap
    rule (near the border, or with valid and invalid taps); the row pass stores only what the interior reads.
    (Cubic weights of these pixels: :func:`_cubic_weights`.)"""
    xs = xr + m0 * j
    ys = yr + m3 * j
    fxs = np.floor(xs)
    fys = np.floor(ys)
    iscr[_I_BX, j] = np.int64(fxs) - shift
    iscr[_I_BY, j] = np.int64(fys) - shift
    if bilinear:
        fx = xs - fxs
        fy = ys - fys
        fscr[0, j] = 1.0 - fx
        fscr[1, j] = fx
        fscr[2, j] = 1.0 - fy
        fscr[3, j] = fy


@borrowing_jit()
def _cubic_weights(fscr, j, xr, m0, yr, m3, a):  # pragma: no cover - numba
    """Pixel ``j``'s eight cubic weights, one per row of ``fscr`` (rows 0-3 x, 4-7 y), for a pixel that goes
    through the tap rule. Evaluated in float64 and stored in the work dtype (as the row pass stored them before it
    computed the interior's in the work precision):
    renormalising over some of the taps divides by their sum, which can nearly cancel, and float32 polynomials
    were 41 DN off an int16 reference there. Called from the cubic row kernel only (a bilinear one compiles no
    cubic polynomial)."""
    xs = xr + m0 * j
    ys = yr + m3 * j
    fscr[0, j], fscr[1, j], fscr[2, j], fscr[3, j] = keys4(xs - np.floor(xs), a)
    fscr[4, j], fscr[5, j], fscr[6, j], fscr[7, j] = keys4(ys - np.floor(ys), a)


@borrowing_jit()
def _status(mk, all_valid, iscr, fscr, j, K, inner, in_w, in_h, mode, renorm):  # pragma: no cover - numba
    """0 invalid, 2 valid (generic sum); stores 1/sum of the valid weights for renormalize."""
    good = True
    wsum = 0.0  # float64: a per-pixel sum (not per band), and renormalised cubic weights can nearly cancel
    for ty in range(K):
        yy = _tap(iscr, j, ty, K, inner, in_w, in_h, True)
        wyv = fscr[K + ty, j]
        for tx in range(K):
            xx = _tap(iscr, j, tx, K, inner, in_w, in_h, False)
            w = np.float64(wyv) * np.float64(fscr[tx, j])
            if yy < 0 or xx < 0:
                if mode == _CONSTANT:
                    wsum += w
                elif w != 0.0:
                    good = False
            elif all_valid or mk[yy * in_w + xx]:
                wsum += w
            elif w != 0.0:
                good = False
            if not (good or renorm):  # invalid, and no sum to keep: the other taps change nothing
                return 0
    if renorm:
        good = abs(wsum) > 1e-6
        fscr[2 * K, j] = 1.0 / wsum if good else 1.0
    return 2 if good else 0


@borrowing_jit()
def _generic(plane, orow, mk, all_valid, iscr, fscr, j, K, inner, in_w, in_h, mode, fill_value,
             renorm):  # pragma: no cover - numba
    """One band of one valid pixel through the tap rule (fill mode, mask, renormalize), summed in the work
    precision as the interior and the near pixels are (a pixel next to a mask's valid rectangle is a near pixel
    on the window path and one of these on the tap-code path: the same bits either way)."""
    acc = _as_work(0.0, plane)
    for ty in range(K):
        yy = _tap(iscr, j, ty, K, inner, in_w, in_h, True)
        wyv = fscr[K + ty, j]
        for tx in range(K):
            w = wyv * fscr[tx, j]
            if w == 0.0:
                continue
            xx = _tap(iscr, j, tx, K, inner, in_w, in_h, False)
            if yy < 0 or xx < 0:
                if mode == _CONSTANT:
                    acc += w * _as_work(fill_value, plane)
            elif all_valid or mk[yy * in_w + xx]:
                acc += w * _as_work(plane[yy * in_w + xx], plane)
    if renorm:
        acc *= fscr[2 * K, j]
    _put(orow, j, acc)


@nb.njit(cache=True, nogil=True)
def _tap_codes(mask, ec, K, in_w):  # pragma: no cover - numba
    """For every base pixel ``k`` of each mask plane, the code of its K x K taps: 2 all valid, 0 none, 1 mixed.

    Two separable passes (a K-wide AND/OR along each row into bit 0 / bit 1 of
    a ring of K row buffers, then along columns into ``ec``), so the interior
    status of an output pixel is one byte read instead of K*K. Codes of base
    pixels whose taps pass the right or bottom edge are not written and never
    read. The column pass reads the ring and writes ``ec``, never the array it
    reads: run in place (``ec`` from ``ec`` a row further down) LLVM could not
    prove the loop free of overlap and ran it scalar, 125 µs at 512² against
    2.5 µs vectorised.
    """
    in_h = mask.shape[1] // in_w if in_w > 0 else 0
    nx = in_w - K + 1  # base pixels per row whose taps stay inside
    if nx <= 0 or in_h < K:
        return
    ring = np.empty(K * in_w, dtype=np.uint8)  # K row buffers, flat: row r at r * in_w
    u1 = np.uint64(1)
    u2 = np.uint64(2)
    u3 = np.uint64(3)
    uw = np.uint64(in_w)
    unx = np.uint64(nx)
    one = np.uint8(1)
    for p in range(mask.shape[0]):
        m8 = mask[p].view(np.uint8)
        e = ec[p]
        for y in range(in_h):
            h = np.uint64(y % K) * uw
            s = np.uint64(y) * uw
            # the whole row but on the last one (its taps past the edge read the next row's first pixels): a
            # loop of in_w has no scalar remainder when in_w is a multiple of the vector width, in_w - K + 1 has
            lx = uw if y < in_h - 1 else unx
            if K == 2:
                for x in range(lx):
                    x0 = m8[s + x]
                    x1 = m8[s + x + u1]
                    ring[h + x] = (x0 & x1) | ((x0 | x1) << one)
            else:
                for x in range(lx):
                    x0 = m8[s + x]
                    x1 = m8[s + x + u1]
                    x2 = m8[s + x + u2]
                    x3 = m8[s + x + u3]
                    ring[h + x] = (x0 & x1 & x2 & x3) | ((x0 | x1 | x2 | x3) << one)
            if y < K - 1:
                continue
            y0 = y - K + 1  # the base row whose K tap rows are now in the ring
            d = np.uint64(y0) * uw
            a = np.uint64(y0 % K) * uw
            b = np.uint64((y0 + 1) % K) * uw
            if K == 2:
                for x in range(uw):
                    v0 = ring[a + x]
                    v1 = ring[b + x]
                    e[d + x] = ((v0 & v1) & one) + (((v0 | v1) >> one) & one)
            else:
                c = np.uint64((y0 + 2) % K) * uw
                f = np.uint64((y0 + 3) % K) * uw
                for x in range(uw):
                    v0 = ring[a + x]
                    v1 = ring[b + x]
                    v2 = ring[c + x]
                    v3 = ring[f + x]
                    e[d + x] = ((v0 & v1 & v2 & v3) & one) + (((v0 | v1 | v2 | v3) >> one) & one)


def _make_rows(INTERP: int):
    """``_rows`` for one interpolation code: ``INTERP`` is a closure constant, so numba prunes the
    branches of the other two before typing and a call compiles only the code it runs."""

    def rows(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, r0, r1, ga, gb, mode, fill_value, out_fill,
             renorm, a, skip_valid_rows, row_ok, iscr, fscr, tscr, st, ec, group, seen):  # pragma: no cover - numba
        """Output rows ``[r0, r1)``; ``iscr``/``fscr``/``tscr``/``st`` are this chunk's scratch (``tscr``: the
        bilinear gather's rows, or for cubic one flat row of each pixel's eight weights).

        ``ec`` holds the tap codes of :func:`_tap_codes` (masked input, bilinear and cubic), made by the caller
        (they allocate, and the row kernel is compiled without numba's runtime: kernels/borrowing.py).

        ``src`` is ``(bands, in_h * in_w)`` and ``mask`` ``(planes, in_h * in_w)`` (flat planes). ``win``
        (int64 ``x0, y0, x1, y1``) holds the pixels that count as inside: the whole input, or with
        ``fill="nodata"`` the valid rectangle of a mask (:mod:`geoaug.kernels.window`; the input is then passed
        as all valid). The runs and the near pixels' taps are placed against it; offsets index the whole input.

        ``seen`` (bool, 1-D): empty, or one slot this call sets when an output row it wrote holds a NaN (tested
        every :data:`~geoaug.kernels.nans.SCAN_VALUES` values of a band: :mod:`geoaug.kernels.nans`), stopping there
        (the caller then warps again with the NaN pixels masked).
        """
        nm = dmask.shape[0]
        out_w = dst.shape[2]
        look = seen.shape[0] > 0
        # the row and plane views below cost nothing: this kernel keeps no reference counts (kernels/borrowing.py)
        K = 2 if INTERP == 1 else 4
        KK = K * K
        t0 = _I_G + 2 * K  # iscr rows of the near pixels' K*K flat tap offsets
        e0 = fscr.shape[0] - KK - 1  # fscr rows of their K*K weights for the current plane, then the outside weight
        far_fill = mode == _NODATA or mode == _CONSTANT
        far_st = 3 if mode == _CONSTANT else 0
        zero = _as_work(0.0, src)
        off = iscr[_I_OFF]
        if INTERP == 1:  # tscr: the gathered taps, one row per tap (or per tap row, packed)
            t00, t01, t10, t11 = tscr[0], tscr[min(1, tscr.shape[0] - 1)], tscr[min(2, tscr.shape[0] - 1)], tscr[-1]
            fx1 = fscr[1]
            fy1 = fscr[3]
        else:  # tscr: each pixel's eight cubic weights in a row (kernels/taps4.py); fscr: a row of sums
            wa = tscr
            sums = fscr[2 * K + 1]
            aw = _as_work(a, src)  # Keys' parameter in the work precision
        bxs = iscr[_I_BX]
        bys = iscr[_I_BY]
        bad = iscr[_I_BAD]
        # which taps _status/_generic read (interior base + offset, or the near pixels' mapped ones): typed bool,
        # not as literals, so each helper compiles once
        inner = np.bool_(True)
        near = np.bool_(False)
        bilinear = np.bool_(INTERP == 1)
        shift = np.int64(0 if INTERP == 1 else 1)  # base tap: floor of the coordinate, one pixel left for cubic
        wx = win[0]
        wy = win[1]
        ww = win[2] - wx
        wh = win[3] - wy
        # the row pass's flat offsets are summed in float64 and converted once: for an interior pixel (the only
        # ones that read them) every term is an integer below 2**53, so the sum is exact, and the vector loop
        # has one conversion and no 64-bit integer multiply (vpmullq: three micro-ops) per four pixels
        in_wf = np.float64(in_w)
        for g0 in range(ga, gb, group):  # band groups: each pass recomputes the rows' coordinates
            g1 = min(g0 + group, gb)
            sc = r0  # the first row not yet tested for NaN
            for i in range(r0, r1):
                yc = i + 0.5
                xr = m[0] * 0.5 + m[1] * yc + m[2] - 0.5  # centre-based taps
                yr = m[3] * 0.5 + m[4] * yc + m[5] - 0.5
                m0 = m[0]
                m3 = m[3]
                # the flat offsets and the interior's weights of the whole row: one vectorisable loop (the base
                # taps and, for bilinear, 1 - f are stored by _pixel for the few near and mixed pixels that read them)
                if INTERP == 1:
                    for j in range(out_w):
                        xs = xr + m0 * j
                        ys = yr + m3 * j
                        fxs = np.floor(xs)
                        fys = np.floor(ys)
                        off[j] = np.int64(fys * in_wf + fxs)  # exact in float64 (see in_wf)
                        fscr[1, j] = xs - fxs
                        fscr[3, j] = ys - fys
                else:
                    # two loops, each vectorised at its own width: the coordinates in float64 (fractions kept in
                    # fscr rows 0 and 1, which the near and mixed pixels fill later with their own weights), then
                    # the weights in the work precision (float32 vectors are twice as wide): see the module
                    # docstring for what one loop cost
                    fxr = fscr[0]
                    fyr = fscr[1]
                    for j in range(out_w):
                        xs = xr + m0 * j
                        ys = yr + m3 * j
                        fxs = np.floor(xs)
                        fys = np.floor(ys)
                        fxr[j] = xs - fxs
                        fyr[j] = ys - fys
                        off[j] = np.int64((fys - 1.0) * in_wf + (fxs - 1.0))  # exact in float64 (see in_wf)
                    for j in range(out_w):
                        fx = _as_work(fxr[j], src)
                        fy = _as_work(fyr[j], src)
                        # Keys weights at distances 1+f, f, 1-f, 2-f: each distance's branch of the kernel for
                        # f in [0, 1) (0 beyond distance 2), branch-free so the loop vectorises
                        k = PIXEL_WEIGHTS * j  # the pixel's x weights, then its y weights
                        wa[k], wa[k + 1], wa[k + 2], wa[k + 3] = keys4(fx, aw)
                        wa[k + 4], wa[k + 5], wa[k + 6], wa[k + 7] = keys4(fy, aw)
                # the interior run: floor() of an affine coordinate is monotonic along the row, so the pixels with
                # every tap inside are one run [jlo, jhi), and (nodata/constant) the pixels with a tap inside are one
                # run [klo, khi) around it; the others are "far" and take one value. Each bound of each axis cuts a
                # prefix or a suffix off the row (which, by the sign of m0 / m3), so counting the pixels beyond
                # each bound (by bisection) places the runs.
                jlo, jhi, klo, khi = _runs(xr, m0, yr, m3, shift, out_w, np.int64(K), ww, wh, wx, wy)
                if not far_fill:
                    klo = 0
                    khi = out_w
                if jhi == jlo:  # no interior run: every touching pixel is a near one
                    jlo = jhi = khi
                # "near" pixels, [klo, jlo) and [jhi, khi): some tap outside, mapped by the fill mode; their taps'
                # flat offsets (-1 outside) are found once per row and shared by every plane and band
                nnear = khi - klo - (jhi - jlo)
                for jb in range(nnear):
                    j = klo + jb
                    if j >= jlo:
                        j += jhi - jlo
                    _pixel(iscr, fscr, j, xr, m0, yr, m3, shift, bilinear)
                    if INTERP == 2:
                        _cubic_weights(fscr, j, xr, m0, yr, m3, a)
                    for t in range(K):  # mapped in the window's coordinates, stored in the input's (-1 outside)
                        xx = _map_index(bxs[j] + t - wx, ww, mode)
                        yy = _map_index(bys[j] + t - wy, wh, mode)
                        iscr[_I_G + t, j] = xx + wx if xx >= 0 else xx
                        iscr[_I_G + K + t, j] = yy + wy if yy >= 0 else yy
                    for ty in range(K):
                        yy = iscr[_I_G + K + ty, j]
                        for tx in range(K):
                            xx = iscr[_I_G + tx, j]
                            iscr[t0 + ty * K + tx, j] = yy * in_w + xx if (yy >= 0 and xx >= 0) else -1
                for p in range(0 if nm == 1 else g0, 1 if nm == 1 else g1):
                    mk = mask[p if mask.shape[0] > 1 else 0]
                    # status of near pixels: 0 invalid, 2 valid (far pixels: far_st, 0 invalid or 3 constant)
                    if p == g0 or nm == 1 or not all_valid:  # with an all-valid input every plane has the same status
                        border_valid = (klo == 0 and khi == out_w) or far_st != 0
                        for jb in range(nnear):
                            j = klo + jb
                            if j >= jlo:
                                j += jhi - jlo
                            if all_valid and not far_fill and not renorm:  # every tap mapped inside and valid
                                st[j] = 2
                            else:
                                st[j] = _status(mk, all_valid, iscr, fscr, j, K, near, in_w, in_h, mode, renorm)
                            border_valid = border_valid and st[j] != 0
                            if st[j] != 0:
                                # this plane's weights: 0 for taps outside or invalid; outside weight (constant) apart
                                cw = zero
                                for ty in range(K):
                                    wyv = fscr[K + ty, j]
                                    for tx in range(K):
                                        t = ty * K + tx
                                        w = wyv * fscr[tx, j]
                                        o = iscr[t0 + t, j]
                                        if o < 0:
                                            if mode == _CONSTANT:
                                                cw += w
                                            w = zero
                                        elif not (all_valid or mk[o]):
                                            w = zero
                                        fscr[e0 + t, j] = w
                                fscr[e0 + KK, j] = cw
                    row_valid = border_valid
                    # interior: all taps inside; with a mask, AND their mask bytes, fix up the rest later
                    nbad = 0  # interior pixels with valid and invalid taps, listed in bad[:nbad]
                    nzero = np.int64(0)  # interior pixels that end invalid (st 0)
                    if not all_valid and jhi > jlo:
                        # per interior pixel: (every tap valid) + (any tap valid), so 2 all, 0 none, 1 mixed: one byte
                        # read per pixel (the tap code); the mixed ones are listed branch-free as they go
                        ecp = ec[p]
                        for j in range(np.uint64(jlo), np.uint64(jhi)):
                            c = ecp[np.uint64(off[j])]
                            st[j] = c
                            bad[nbad] = j
                            nbad += np.int64(c == 1)
                        # mixed pixels (valid and invalid taps): the weights decide (a tap of weight 0 does not count)
                        for k in range(nbad):
                            j = bad[k]
                            _pixel(iscr, fscr, j, xr, m0, yr, m3, shift, bilinear)
                            if INTERP == 2:
                                _cubic_weights(fscr, j, xr, m0, yr, m3, a)
                            st[j] = _status(mk, all_valid, iscr, fscr, j, K, inner, in_w, in_h, mode, renorm)
                        for j in range(np.uint64(jlo), np.uint64(jhi)):
                            nzero += np.int64(st[j] == 0)
                        if nzero:
                            row_valid = False
                    # the interior pixels from the first valid one to the last: the only ones computed (a collar's
                    # invalid pixels at the row's ends are filled), and the invalid ones among them (holes)
                    vlo, vhi, holes = valid_span(st, jlo, jhi, nzero)
                    # the output mask row
                    if skip_valid_rows and row_valid:
                        row_ok[p, i] = 1
                    else:
                        mrow = dmask[p, i]
                        span_mask(mrow, st, jlo, jhi, vlo, vhi, holes)
                        _fill(mrow, 0, klo, far_st != 0)
                        _fill(mrow, khi, out_w, far_st != 0)
                        for jb in range(nnear):
                            j = klo + jb
                            if j >= jlo:
                                j += jhi - jlo
                            mrow[j] = st[j] != 0
                    b0 = g0 if nm == 1 else p
                    b1 = g1 if nm == 1 else p + 1
                    for b in range(b0, b1):
                        if vhi > vlo:
                            if INTERP == 1:
                                _interior_bilinear(src, b, dst, i, off, t00, t01, t10, t11, fx1, fy1, vlo, vhi, in_w)
                            else:
                                _interior_cubic(src, b, dst, i, off, wa, sums, vlo, vhi, in_w)
                        if nzero == 0 and nbad == 0 and nnear == 0 and klo == 0 and khi == out_w:
                            continue  # nothing else in this row
                        plane = src[b]
                        orow = dst[b, i]
                        span_fill(orow, st, jlo, jhi, vlo, vhi, holes, out_fill)  # the span was computed straight
                        for k in range(nbad):
                            j = bad[k]
                            if st[j] != 0:
                                _generic(plane, orow, mk, all_valid, iscr, fscr, j, K, inner, in_w, in_h, mode,
                                         fill_value, renorm)
                        # far pixels: one value
                        fillw = _as_work(fill_value, plane)
                        if far_st == 0:
                            _fill(orow, 0, klo, out_fill)
                            _fill(orow, khi, out_w, out_fill)
                        else:
                            for j in range(klo):
                                _put(orow, j, fillw)
                            for j in range(khi, out_w):
                                _put(orow, j, fillw)
                        # near pixels: the row's tap table with this plane's weights
                        for jb in range(nnear):
                            j = klo + jb
                            if j >= jlo:
                                j += jhi - jlo
                            if st[j] == 0:
                                orow[j] = out_fill
                            else:
                                acc = fscr[e0 + KK, j] * fillw
                                for t in range(KK):
                                    w = fscr[e0 + t, j]
                                    if w != 0:
                                        acc += w * _as_work(plane[iscr[t0 + t, j]], plane)
                                if renorm:
                                    acc *= fscr[2 * K, j]
                                _put(orow, j, acc)
                if look:  # the group's rows since the last test, still in cache: a NaN among them? (a NaN
                    # fill_value makes the caller redo with a mask, as it must)
                    sc = test_written_rows(dst, g0, g1, sc, i, r1, seen)
                    if sc < 0:
                        return
    return rows


def _jit_rows(code: int, name: str):
    """The row kernel of one interpolation code as its own compiled function (a dispatcher)."""
    rows = _make_rows(code)
    rows.__name__ = rows.__qualname__ = name  # its own cache file, and a readable name in profiles
    return borrowing_jit()(rows)  # no reference counts (kernels/borrowing.py)


# The serial path calls the row kernel straight from Python, with no compiled level in between: each level
# of calls re-optimises and re-emits everything below it (numba links the callees' code into every caller),
# about 1.2 s per dtype for the bilinear kernel. The parallel entries run one parallel region over units (a
# band group by a chunk of output rows: parallel_units), each with its own scratch (allocated outside), and
# call the same compiled row kernel through its address (kernels/indirect.py: linked in, it was compiled again
# inside the parfor's gufunc). Written out, not made
# by a factory: a factory's closure would hold a dispatcher, and numba's cache key hashes closure contents,
# which is not stable from one process to the next (the row kernels' closure holds an int).
_rows_bilinear = _jit_rows(1, "_rows_bilinear")
_rows_cubic = _jit_rows(2, "_rows_cubic")


@nb.njit(cache=True, nogil=True, parallel=True)
def _parallel_bilinear(addr, src, mask, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill_value, out_fill,
                       renorm, a, skip_valid_rows, row_ok, iscr, fscr, tscr, st, ec, group,
                       nrc, seen):  # pragma: no cover - numba
    nunits = iscr.shape[0]
    out_h = dst.shape[1]
    nbands = src.shape[0]
    for c in nb.prange(nunits):  # unit: band group c // nrc over row chunk c % nrc (see parallel_units)
        k = np.int64(c)  # one signature of the row kernel (the index is unsigned in the gufunc)
        gi = k // nrc
        rc = k - gi * nrc
        ga = gi * group
        call_address(_rows_bilinear, addr,
            (src, mask, all_valid, in_h, in_w, win, m, dst, dmask, rc * out_h // nrc, (rc + 1) * out_h // nrc, ga,
             min(ga + group, nbands), mode, fill_value, out_fill, renorm, a, skip_valid_rows, row_ok, iscr[k],
             fscr[k], tscr[k], st[k], ec, group, seen[k:]))


@nb.njit(cache=True, nogil=True, parallel=True)
def _parallel_cubic(addr, src, mask, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill_value, out_fill,
                    renorm, a, skip_valid_rows, row_ok, iscr, fscr, tscr, st, ec, group,
                    nrc, seen):  # pragma: no cover - numba
    nunits = iscr.shape[0]
    out_h = dst.shape[1]
    nbands = src.shape[0]
    for c in nb.prange(nunits):  # unit: band group c // nrc over row chunk c % nrc (see parallel_units)
        k = np.int64(c)  # one signature of the row kernel (the index is unsigned in the gufunc)
        gi = k // nrc
        rc = k - gi * nrc
        ga = gi * group
        call_address(_rows_cubic, addr,
            (src, mask, all_valid, in_h, in_w, win, m, dst, dmask, rc * out_h // nrc, (rc + 1) * out_h // nrc, ga,
             min(ga + group, nbands), mode, fill_value, out_fill, renorm, a, skip_valid_rows, row_ok, iscr[k],
             fscr[k], tscr[k], st[k], ec, group, seen[k:]))


#: interpolation code -> (serial row kernel, parallel entry)
_ENTRIES = {1: (_rows_bilinear, _parallel_bilinear), 2: (_rows_cubic, _parallel_cubic)}


_NO_ROWS = np.zeros((1, 1), dtype=np.uint8)
_NO_CODES = np.zeros((1, 1), dtype=np.uint8)
_DTYPE_SET = frozenset(np.dtype(d) for d in _DTYPES)
_INT_RANGE = {np.dtype(d): (int(np.iinfo(d).min), int(np.iinfo(d).max)) for d in _DTYPES if d[0] in "ui"}
_BOOL = np.dtype(np.bool_)
_U8 = np.dtype(np.uint8)
_I64 = np.dtype(np.int64)
_ALL_VALID_MASK = np.ones((1, 1), dtype=np.bool_)
#: the kernels' ``seen`` when a call does not look for NaN (no slot)
_NOT_LOOKING = np.zeros(0, dtype=np.bool_)
#: read a mask whose valid pixels form one rectangle as the input's bounds (fill "nodata"); tests turn it off to
#: compare against the per-pixel path
_WINDOWS = True


def _band_group(out_w: int, interp: int, itemsize: int = 4, nbands: int = 0, plane: int = 0) -> int:
    """How many bands one pass over the output rows serves (each pass recomputes the rows' coordinates).

    A rotated output row reads a slanted run of input rows in every band; with
    all bands of a wide output in one pass, that footprint outgrows the caches:
    13 x 512² uint16 bilinear ran at a third of the per-band speed of 4 bands
    (best group there 2-4 bands, at 256 wide 8-12, at 120 wide all 13;
    ``python scripts/bench.py --only affine_bilinear``). So bilinear and nearest
    take about 2,048 output columns' worth of bands per pass.

    A bilinear warp of an input too large to stay in cache (more than
    :data:`_BIG_INPUT` bytes) whose planes are small takes at most
    :data:`_PASS_PLANE_BYTES` of input planes per pass, so that a pass's
    planes stay in one core's L2 while its rows read them. ``Affine(rotate=17)``
    against OpenCV per band, the group set by hand in one process: 200 x 256²
    float32 (8 bands a pass by the column rule, 2 MB of planes) took 0.71-0.79x
    OpenCV's time at one thread and 0.76-1.06x at two in passes of 4 bands,
    against 1.14-1.22x and 1.10-1.30x in passes of 8; 50 and 100 x 256²
    0.77-0.81x against 1.16-1.20x (one thread); uint16
    keeps its 8 (1 MB; 0.68x, 0.71x in passes of 4). Smaller inputs keep the
    column rule: in passes of 4 and 2 bands, 12 x 256² and 4 x 512² float32
    ran up to 1.4x slower at two threads.

    Cubic took every band in one pass while its 16 taps were gathered into
    scratch rows (then four bands per pass were 10 % slower than all 13 at
    13 x 512²); with each tap row one vector load (:mod:`geoaug.kernels.taps4`)
    the memory is what is left, and the best group differs with the data's
    width. One thread, ``Affine(rotate=17)``, best of 9, the same process:

    * float32: 13 x 512² 29.1 ms in one pass, 12.9 ms in passes of 3 bands,
      10.7 of 4, 9.7 of 5; 200 x 256² 36.6 ms in passes of 8, 32.6 of 12;
      12 x 256² 1.64 ms in one pass, 2.33 in passes of 6. About 3,072 output
      columns' worth of bands per pass (at 2 threads the same order).
    * uint16 and int16: 13 x 512² 19.4 ms in one pass, 17.7 in passes of 5,
      16.1-18.1 of 4, 13.3-13.6 of 3 (2 threads: 10.1, 12.5, 9.0-9.7,
      7.3-8.1); 12 x 256² and 13 x 120² fastest in one pass (2.37 ms against
      3.31 in passes of 6; 0.52 against 0.88 in passes of 7); 200 x 256²
      50-51 ms in passes of 8, 53 of 6, 69 of 12. The input a band's output row
      reads grows with the square of the width, so about 3 x 512² output
      pixels' worth of a row's width squared: 3 bands at 512, 12 at 256; all
      of them in one pass when that many cover the raster (12 x 256²), else at
      most :data:`_GROUP_MAX_CUBIC_NARROW` (8) per pass (200 x 256²).
    * Each pass computes the rows' weights again (0.57 ms for 512², one thread,
      since the row pass runs in two loops), so a
      raster of up to :data:`_ONE_PASS_BANDS` bands takes one pass: 4 x 512²
      uint16 took 3.1-3.3 ms in one pass and 4.1-4.6 ms in two of 2 (two
      threads: 1.77 ms before these groups, 2.05 ms in two passes).

    Parameters
    ----------
    out_w : int
        Output columns.
    interp : int
        Interpolation code (:data:`INTERPOLATIONS`).
    itemsize : int
        Bytes per value of the raster (cubic, and bilinear's large inputs).
    nbands : int
        Bands of the raster (cubic, and bilinear's large inputs; 0: not known).
    plane : int
        Input pixels per band (bilinear only; 0: not known).
    """
    if interp != 2:
        group = max(1, _GROUP_COLUMNS // max(out_w, 1))
        pb = plane * itemsize
        if interp == 1 and nbands * pb > _BIG_INPUT and 0 < 4 * pb <= _PASS_PLANE_BYTES:
            group = min(group, _PASS_PLANE_BYTES // pb)
        return group
    if 0 < nbands <= _ONE_PASS_BANDS:
        return nbands
    if itemsize <= 2:
        group = max(1, _GROUP_AREA_CUBIC_NARROW // max(out_w * out_w, 1))
        return nbands if 0 < nbands <= group else min(group, _GROUP_MAX_CUBIC_NARROW)
    return max(1, _GROUP_COLUMNS_CUBIC // max(out_w, 1))


#: bands per pass over the rows (see :func:`_band_group`): output columns x bands for bilinear and nearest, and for
#: cubic of 4- and 8-byte data; output columns squared x bands for cubic of 1- and 2-byte data
_GROUP_COLUMNS = 2048
_GROUP_COLUMNS_CUBIC = 3072
_GROUP_AREA_CUBIC_NARROW = 3 * 512 * 512
#: at most this many bands per pass for cubic of 1- and 2-byte data, when one pass cannot take them all
_GROUP_MAX_CUBIC_NARROW = 8
#: cubic warps of up to this many bands take one pass over the rows whatever their width
_ONE_PASS_BANDS = 4
#: bilinear: an input of more than this many bytes takes passes of at most _PASS_PLANE_BYTES of input planes,
#: when at least four planes fit them (see :func:`_band_group`)
_BIG_INPUT = 8 << 20
_PASS_PLANE_BYTES = 1 << 20
#: units of work per thread a parallel warp aims at (see :func:`parallel_units`)
UNITS_PER_THREAD = 4


def parallel_units(nbands: int, out_h: int, group: int, nthreads: int) -> tuple[int, int, int]:
    """``(group, row_chunks, units)`` of a warp: each unit is one band group over one chunk of output rows.

    Band groups come first, and rows are cut into as few chunks as give every
    thread about :data:`UNITS_PER_THREAD` units: a chunk of ``r`` output rows
    reads a slanted footprint of about ``r + out_w * |sin|`` input rows per band,
    so short chunks read the input several times over between them. While the
    shared L3 held it that cost nothing; when other work on the machine took
    the L3, 200 x 256² nearest in 16 chunks of 16 rows (all bands each) ran
    2-3x slower on 2 threads than on 1, and in one unit per band group 1.3x
    faster (``python scripts/bench.py --only affine_nearest --sizes 200x256``).
    One thread: one unit, the whole warp.
    """
    ngroups = -(-nbands // group)
    group = -(-nbands // ngroups)  # groups of even size: 12 bands in 8 + 4 would leave a unit of half the work
    if nthreads <= 1:
        return group, 1, 1
    nrc = max(1, min(out_h, -(-UNITS_PER_THREAD * nthreads // ngroups)))
    return group, nrc, nrc * ngroups


@functools.lru_cache(maxsize=1024)
def _launch(interp: int, dt: np.dtype, nbands: int, in_h: int, in_w: int, out_h: int, out_w: int,
            nthreads: int) -> tuple:
    """What a warp's launch needs that depends only on its sizes, dtype and thread count (numba's, asked per call).

    Returns ``(group, row_chunks, units, per_pass, block, specs)``: the band groups and parallel units
    (:func:`parallel_units`; one unit below :data:`PARALLEL_MIN_WORK`), the nearest kernel's bands per pass and
    block rows (:func:`geoaug.kernels.nearest.bands_per_pass`, :func:`~geoaug.kernels.nearest.block_rows`; 0 for
    the others), and the scratch arrays' ``(shape, dtype)`` pairs (:func:`geoaug.kernels.buffers.kept_scratch`).
    Cached: worked out per call, with the scratch allocated, it was about a tenth of a 13x64² nearest warp's time.
    """
    K = _TAPS[interp]
    work = nbands * out_h * out_w * K * K if interp else (nbands + 4) * out_h * out_w // NEAREST_WORK
    threads_used = nthreads if work >= PARALLEL_MIN_WORK else 1
    group, nrc, nunits = parallel_units(nbands, out_h, _band_group(out_w, interp, dt.itemsize, nbands, in_h * in_w),
                                         threads_used)
    if interp == 0:
        per_pass = nearest.bands_per_pass(nbands, in_h * in_w, out_h * out_w, dt.itemsize)
        # a serial call of several band groups finds each block's taps once for all of them
        block = nearest.block_rows(out_h, out_w, nrc, per_pass, reused=nunits == 1 and nbands > group)
        specs = (((nunits, block, out_w), nearest.offset_dtype(in_h, in_w)), ((nunits, block, out_w), _U8),
                 ((nunits, block, nearest.RUN_FIELDS), _I64))
        return group, nrc, nunits, per_pass, block, specs
    # scratch rows _ROW_PAD elements longer than the output row: at 512 outputs a row of 8-byte words is 4 kB,
    # and rows 4 kB apart land on the same cache sets and alias in the load/store unit (a cubic warp of one
    # 512² band took 1.25x its padded time, and twice that in some processes: docs/benchmarks.md)
    sw = out_w + _ROW_PAD
    work_t = np.dtype(_work_dtype(dt))
    specs = (((nunits, _I_G + 2 * K + K * K, sw), _I64),
             ((nunits, 2 * K + 1 + (1 if interp == 2 else 0) + K * K + 1, sw), work_t))
    if interp == 1:  # the gathered taps: one word per tap row when two taps fit one (kernels/packed.py)
        rows, tdt = gather_rows(dt)
        specs += (((nunits, rows, sw), tdt),)
    else:  # each pixel's eight cubic weights in a row (kernels/taps4.py)
        specs += (((nunits, PIXEL_WEIGHTS * sw), work_t),)
    return group, nrc, nunits, 0, 0, (*specs, ((nunits, out_w), _U8))


@functools.lru_cache(maxsize=256)
def _nearest_fills(fill_value: float, out_fill: float, dt: np.dtype) -> tuple:
    """The nearest kernel's ``fill`` and ``out_fill``: both values as the bits of ``dt``'s width
    (:func:`geoaug.kernels.nearest.nearest_fill_bits`), looked up once per call."""
    bits = nearest.BITS[dt.itemsize]
    work_t = _work_dtype(dt)
    return (bits.type(nearest.nearest_fill_bits(fill_value, dt, work_t)),
            bits.type(nearest.nearest_fill_bits(out_fill, dt, work_t)))


def warp_affine(
    src: np.ndarray,
    mask: np.ndarray | None,
    matrix: np.ndarray,
    out_shape: tuple[int, int],
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float = 0.0,
    out_fill: float = 0.0,
    renormalize: bool = False,
    *,
    out: np.ndarray | None = None,
    out_mask: np.ndarray | None = None,
    return_all_valid: bool = False,
    return_nan: bool = False,
) -> tuple:
    """Warp ``(bands, rows, cols)`` through an output->input affine matrix.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols), or None
        ``planes`` is 1 (shared by all bands) or ``bands``. None means every
        input pixel is valid (one shared output plane), and skips the check.
    matrix : ndarray (3, 3) or (2, 3)
        Output pixel coordinates -> input pixel coordinates, pixel-corner origin.
    out_shape : (rows, cols)
        Output size in pixels.
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling kernel (cubic: Keys, a = -0.75).
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What lies outside the input (see module docstring).
    fill_value : float
        The outside value for ``fill="constant"``.
    out_fill : float
        The value stored under invalid output pixels (the raster's nodata).
    renormalize : bool
        Average over valid taps instead of invalidating the output pixel.
    out : ndarray (bands, out_rows, out_cols) of ``src.dtype``, optional
        C-contiguous buffer the data is written into (and returned); reuse it
        across calls to skip allocating (and page-faulting) a new output. It
        may not share memory with ``src`` or ``mask`` (:func:`geoaug.kernels.buffers.out_buffer`).
    out_mask : ndarray of bool (planes, out_rows, out_cols), optional
        Likewise for the output mask (nor with ``out``).
    return_all_valid : bool
        Return ``(data, mask, all_valid)`` instead of ``(data, mask)``. When
        every output pixel is valid, ``all_valid`` is True and ``mask`` is None:
        no output mask was written, so the caller can skip building one
        (``out_mask``, if given, is then left as it was). Otherwise ``mask`` is
        the full output mask and ``all_valid`` is False.
    return_nan : bool
        For a float ``src`` with ``mask`` None whose NaN pixels were not
        looked for (NaN meaning nodata: a plain float array): append a flag to
        the result, True when an output pixel that read the input came out
        NaN. The kernels test each output row while it is in cache, and stop
        at the first NaN (the data and mask are then unfinished). False means
        no valid output pixel read a NaN pixel, nor did an interior one at
        weight 0, so the result is bit for bit that of a call with the NaN
        pixels masked as invalid, and the input was never scanned
        (:mod:`geoaug.kernels.nans`). True (which a NaN ``fill_value`` or
        ``out_fill`` can also set) asks the caller to warp again with the mask. With a mask
        or another dtype nothing is looked for and the flag is False.

    Returns
    -------
    tuple
        Data ``(bands, out_rows, out_cols)`` of ``src.dtype`` and mask
        ``(planes, out_rows, out_cols)``; see ``return_all_valid`` (then
        ``all_valid`` third) and ``return_nan`` (the flag last).

    Raises
    ------
    ParameterError
        Unknown interpolation or fill mode, arrays of the wrong shape, a
        non-finite matrix, an empty input or output, an ``out_fill`` the
        dtype cannot hold, or unsuitable ``out`` / ``out_mask`` buffers.
    UnsupportedDtypeError
        ``src`` is not one of the dtypes above.
    """
    try:
        interp = INTERPOLATIONS[interpolation]
    except (KeyError, TypeError):
        raise ParameterError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}") from None
    try:
        mode = FILL_MODES[fill]
    except (KeyError, TypeError):
        raise ParameterError(f"fill must be one of {sorted(FILL_MODES)}, got {fill!r}") from None
    src = np.asarray(src)
    if src.ndim != 3 or src.shape[1] == 0 or src.shape[2] == 0 or src.shape[0] == 0:
        raise ParameterError(f"src must be a non-empty (bands, rows, cols) array, got shape {src.shape}")
    dt = src.dtype
    if dt not in _DTYPE_SET:
        raise UnsupportedDtypeError(f"warp_affine handles {', '.join(_DTYPES)}, not {dt}")
    nbands, in_h, in_w = src.shape
    out_h, out_w = int(out_shape[0]), int(out_shape[1])
    if out_h <= 0 or out_w <= 0:
        raise ParameterError(f"out_shape must be positive, got {tuple(out_shape)}")
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape not in ((3, 3), (2, 3)):
        raise ParameterError(f"matrix must be 3x3 or 2x3, got shape {m.shape}")
    # a view of a C-ordered matrix, else a C-ordered copy: the kernels are compiled for C-ordered arrays
    m = np.ascontiguousarray(m[:2].reshape(6))
    m0, m1, m2, m3, m4, m5 = m.tolist()
    # the six numbers finite, and the output's corner pixel centres in input pixels within +-_BIG (plain floats,
    # written out: a numpy product or a comprehension costs more here). x - x is 0.0 for a finite x and NaN for
    # NaN or an infinity, so the sum of the differences is finite exactly when all six are (and cannot overflow)
    xa, xb, ya, yb = 0.5, out_w - 0.5, 0.5, out_h - 0.5
    far = max(abs(m0 * xa + m1 * ya + m2), abs(m0 * xb + m1 * ya + m2), abs(m0 * xa + m1 * yb + m2),
              abs(m0 * xb + m1 * yb + m2), abs(m3 * xa + m4 * ya + m5), abs(m3 * xb + m4 * ya + m5),
              abs(m3 * xa + m4 * yb + m5), abs(m3 * xb + m4 * yb + m5))
    if not (math.isfinite((m0 - m0) + (m1 - m1) + (m2 - m2) + (m3 - m3) + (m4 - m4) + (m5 - m5)) and far < _BIG):
        raise ParameterError(f"matrix must be finite and map the output within +-{_BIG:g} pixels, "
                             f"got {m.reshape(2, 3).tolist()}")
    if mask is None:
        nm, all_valid, mask2 = 1, True, _ALL_VALID_MASK
    else:
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.ndim != 3 or mask.shape[1:] != src.shape[1:] \
                or mask.shape[0] not in (1, nbands):
            raise ParameterError(
                f"mask must be bool (1 or {nbands}, {in_h}, {in_w}), got {mask.dtype} {mask.shape}")
        nm = mask.shape[0]
        mask2 = np.ascontiguousarray(mask).reshape(nm, in_h * in_w)
        all_valid = bool(mask2.all())
    win = None
    if not all_valid and nm == 1 and mode == _NODATA and _WINDOWS:
        # valid pixels in one rectangle (a boundless read, a padded chip): with nodata fill a tap outside it is
        # invalid as one outside the input is, so the kernels take it as the input's bounds and read no mask
        win = valid_window(mask2[0], in_h, in_w)
        if win is not None:
            all_valid, mask2 = True, _ALL_VALID_MASK
    if win is None:
        win = _whole(in_w, in_h)
    if dt.kind in "iu":
        lo, hi = _INT_RANGE[dt]
        if not (math.isfinite(out_fill) and lo <= out_fill <= hi):
            raise ParameterError(f"out_fill {out_fill!r} does not fit {dt}")
    dst = np.empty((nbands, out_h, out_w), dt) if out is None else out_buffer(out, (nbands, out_h, out_w), dt, "out",
                                                                              (src, mask))
    skip = bool(return_all_valid)
    row_ok = np.zeros((nm, out_h), dtype=np.uint8) if skip else _NO_ROWS
    dmask = np.empty((nm, out_h, out_w), _BOOL) if out_mask is None else out_buffer(
        out_mask, (nm, out_h, out_w), _BOOL, "out_mask", (src, mask, dst))
    looking = return_nan and mask is None and dt.kind == "f"
    # what depends only on the sizes, the dtype and the thread count: worked out once (_launch)
    group, nrc, nunits, per_pass, _, specs = _launch(interp, dt, nbands, in_h, in_w, out_h, out_w,
                                                     threads.num_threads())
    scratch = kept_scratch(specs)
    # a slot per unit for "a NaN came out" (the kernels' seen; empty: not looking)
    seen = np.zeros(nunits, dtype=np.bool_) if looking else _NOT_LOOKING
    if interp == 0:  # a gather of whole pixels: its own kernel, compiled per pixel width (kernels/nearest.py)
        bits = nearest.BITS[dt.itemsize]
        src2 = np.ascontiguousarray(src).reshape(nbands, in_h * in_w).view(bits)
        fill_bits, out_bits = _nearest_fills(fill_value, out_fill, dt)
        off, st, runs = scratch
        dst_bits = dst.view(bits)
        tile = nearest.tile_columns(m, out_w, dt.itemsize)

        def one_call() -> tuple:  # the serial call's arguments: the types the address is looked up for
            return (src2, mask2, all_valid, in_h, in_w, win, m, dst_bits, dmask, 0, out_h, 0, nbands, mode, fill_bits,
                    out_bits, skip, row_ok, off[0], st[0], runs[0], group, per_pass, tile, seen)

        with threads.launch_lock:
            if nunits > 1:  # the row kernel through its address (kernels/indirect.py)
                addr = indirect.address(nearest.nearest_rows, (bits, src2.flags.num, mask2.flags.num, m.flags.num,
                                                               dst.flags.num, dmask.flags.num), one_call)
                nearest.nearest_parallel(addr, src2, mask2, all_valid, in_h, in_w, win, m, dst_bits, dmask, mode,
                                         fill_bits, out_bits, skip, row_ok, off, st, runs, group, per_pass, tile, nrc,
                                         seen)
            else:  # the row kernel itself, every row on this thread
                nearest.nearest_rows(*one_call())
        return _finish(dst, dmask, skip, row_ok, seen, return_nan)
    iscr, fscr, tscr, st = scratch
    ec = np.empty((nm, in_h * in_w), dtype=np.uint8) if not all_valid else _NO_CODES
    src2 = np.ascontiguousarray(src).reshape(nbands, in_h * in_w)
    serial, parallel = _ENTRIES[interp]
    # fill_value is the constant fill's only: under another fill a NaN or infinite one (unused) must not reach a
    # valid near pixel as 0 * NaN (the outside weight is 0 there), so the kernels get 0
    fill_v = float(fill_value) if mode == _CONSTANT else 0.0
    out_v, renorm = dt.type(out_fill), bool(renormalize)

    def one_call() -> tuple:  # the serial call's arguments: the types the address is looked up for
        return (src2, mask2, all_valid, in_h, in_w, win, m, dst, dmask, 0, out_h, 0, nbands, mode, fill_v, out_v,
                renorm, CUBIC_A, skip, row_ok, iscr[0], fscr[0], tscr[0], st[0], ec, group, seen)

    with threads.launch_lock:
        if not all_valid:  # serial, called from here: linked into the parallel entries it was compiled again there
            _tap_codes(mask2, ec, _TAPS[interp], in_w)
        if nunits > 1:  # the row kernel through its address (kernels/indirect.py), one unit per thread at a time
            addr = indirect.address(serial, (dt, src2.flags.num, mask2.flags.num, m.flags.num, dst.flags.num,
                                             dmask.flags.num), one_call)
            parallel(addr, src2, mask2, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill_v, out_v, renorm, CUBIC_A,
                     skip, row_ok, iscr, fscr, tscr, st, ec, group, nrc, seen)
        else:  # the row kernel itself, every row and band on this thread
            serial(*one_call())
    return _finish(dst, dmask, skip, row_ok, seen, return_nan)


@functools.lru_cache(maxsize=256)
def _whole(in_w: int, in_h: int) -> np.ndarray:
    """The window of the whole input, ``(0, 0, in_w, in_h)`` as the kernels take it (made once per size: the
    kernels only read it; writeable, as a read-only array would be another type to compile for)."""
    return np.array((0, 0, in_w, in_h), dtype=np.int64)


def _finish(dst: np.ndarray, dmask: np.ndarray, skip: bool, row_ok: np.ndarray, seen: np.ndarray,
            return_nan: bool) -> tuple:
    """``warp_affine``'s result: ``(dst, dmask)``, or with ``skip`` ``(dst, dmask or None, all_valid)``; with
    ``return_nan`` the flag appended (a NaN seen: the rest is unfinished and left as it is)."""
    if return_nan and 1 in seen.tobytes():  # a bytes search: .any() costs more here
        return (dst, dmask, False, True) if skip else (dst, dmask, True)
    if not skip:
        res = dst, dmask
    else:
        flags = row_ok.tobytes()
        if 0 not in flags:  # every row flagged all valid (a bytes search: .all() costs 20 times more)
            res = dst, None, True
        else:
            if 1 in flags:  # rows found all valid were not written (the indexing costs 1.5 µs even when none was)
                _mark_rows(dmask, row_ok, flags)
            res = dst, dmask, False
    return (*res, False) if return_nan else res


def _mark_rows(dmask: np.ndarray, row_ok: np.ndarray, flags: bytes) -> None:
    """Set the mask rows a kernel flagged all valid (and did not write): ``row_ok`` (planes, rows) holds 0 or 1.

    With one plane the flagged rows are usually one run (the valid output of an affine map of a rectangle is
    convex, so the rows wholly inside it are consecutive): a slice, where indexing with the flags took about
    3 µs for 64 rows. Otherwise the flags index the mask (a view as bool, not a copy).
    """
    if dmask.shape[0] == 1:
        a = flags.find(1)
        b = flags.rfind(1) + 1
        if flags.count(1) == b - a:
            dmask[0, a:b] = True
            return
    dmask[row_ok.view(np.bool_)] = True


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
