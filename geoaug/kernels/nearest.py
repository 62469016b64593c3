"""The nearest-neighbour warp: a gather of whole pixels, compiled once per pixel *width*, not per dtype.

Nearest moves values without arithmetic, so the kernel sees every raster as
unsigned integers of its itemsize (uint8, uint16, uint32, uint64 views): uint16
and int16 share one compiled kernel, float32 and int32 another. Values are
copied bit for bit (a NaN keeps its payload, -0.0 its sign). The two values the
kernel writes that do not come from the input, the constant fill and the
nodata fill, are converted to the raster's dtype in Python first (the same
rounding and saturation as every other store: :func:`nearest_fill_bits`), then
passed as bits.

Conventions are those of :func:`geoaug.kernels.warp.warp_affine`: the output
pixel ``(i, j)`` takes the input pixel that contains the point
``matrix @ (j + 0.5, i + 0.5, 1)``; ``fill`` decides what lies outside; an
invalid input pixel (mask False) gives an invalid output pixel.

Each output row is three runs: the pixels left of the input, the interior run,
the pixels right of it. ``floor`` of an affine coordinate is monotonic along a
row, so the run bounds are found by bisection on the row's line itself
(:func:`geoaug.kernels.runs.row_runs` with one tap); only the interior's tap offsets are
computed and stored (uint32 while a band has fewer than 2**32 pixels). Their coordinates are those
``row_runs`` placed at or past the window's first pixel, so at least 0, and the conversion's truncation is
their floor: the vector loop rounds nothing (one thread, two runs of ``scripts/bench_trees.py``: 0.95-0.96
of the time at 1x512², 0.96-0.98 at 4x512², 0.95 at 200x256² uint16). With
``nodata``/``constant`` the outer runs take one value; with the other modes
their taps are mapped inside (:func:`geoaug.kernels.borders.map_index`) and the
whole row is one gather.

Coordinates, offsets and validity are computed once per row and shared by
every band of a band group, four bands per pass over a row, so one offset read
serves four gathers; rows go in blocks of about :data:`BLOCK_PIXELS` output
pixels where their stored offsets also serve the later band groups of a serial
call, else of about :data:`ONCE_PIXELS`, which stay in cache until read (a
parallel unit is one group: see :func:`geoaug.kernels.warp.parallel_units` and
:func:`block_rows`). A steep warp (nearly a quarter turn: :func:`tile_columns`) goes over a block in strips of
rows, each pass of bands in tiles of columns, so that the input lines a tile reads stay in cache.
Measured against the previous kernel (offsets, x and y
stored as int64 for the whole row, recomputed for every band group, one band
per pass, the whole interior gathered and then selected under a mask), one
thread, uint16, two runs of ``python scripts/bench_trees.py`` (see
docs/benchmarks.md): 0.66-0.69 of its time at 13x512², 0.76-0.78 at 4x512²,
0.84 at 12x256², 0.88-0.91 at 13x120², 0.90-0.94 at 1x512²; with a 10 %
collar 0.48-0.49 at 13x512². Slower: 200x256² (1.27-1.31, bimodal by process
in both kernels; one band per pass then, four since: :func:`bands_per_pass`) and 1x512² with a collar
(1.10-1.12).
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np

from .borders import CONSTANT, NODATA, map_index
from .borrowing import borrowing_jit
from .diskcache import lock_disk_cache
from .indirect import call_address
from .nans import test_written_rows
from .runs import fill_run, row_runs, span_fill, span_mask, valid_span

__all__ = ["BITS", "BLOCK_PIXELS", "ONCE_PIXELS", "PASS_BYTES", "RUN_FIELDS", "STEEP_SPAN_BYTES", "STRIP_ROWS",
           "TILE_COLUMNS", "bands_per_pass", "block_rows", "nearest_fill_bits", "nearest_parallel", "nearest_rows",
           "offset_dtype", "tile_columns"]

#: itemsize -> the unsigned dtype the kernel sees a raster as
BITS = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32), 8: np.dtype(np.uint64)}


@functools.lru_cache(maxsize=1024)
def nearest_fill_bits(value: float, dtype: np.dtype, work: type) -> int:
    """``value`` as stored in ``dtype`` (the warp's store rule), returned as the bits of that dtype.

    Integers are rounded half to even and saturated, from the work precision
    ``work`` (float32 or float64) the other interpolations store from; floats are
    cast. The result is the unsigned integer with the same bytes. Cached: a warp call asks for two.
    """
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.array(value, dtype=np.float64).astype(work)
        if dt.kind in "iu":
            info = np.iinfo(dt)
            v = np.clip(np.rint(v), info.min, info.max)
        stored = np.array(v).astype(dt)
    return int(stored.reshape(1).view(BITS[dt.itemsize])[0])


#: output pixels (rows x columns) of a block: its tap offsets (1 MB as uint32) are found once and serve every
#: band group of a serial call. In a scratch experiment at 13x512² uint16 (one thread, best of 31) blocks of
#: 32 rows took 1.06 of the whole plane's time
BLOCK_PIXELS = 1 << 18
#: output pixels of a block whose taps serve one band group only (:func:`block_rows`): 32 kB of uint32 offsets
ONCE_PIXELS = 1 << 13
#: numbers :func:`nearest_rows` keeps per row of a block: interior start and end, invalid taps (written, not
#: read back), the outer-pixels flag, the valid span's start and end, its holes (with a mask per band, those of
#: the band being gathered); one slot spare
RUN_FIELDS = 8
#: output columns of a tile, and output rows of a strip, of a steep warp's gather (see :func:`tile_columns`)
TILE_COLUMNS = 128
STRIP_ROWS = 32
#: a warp whose output rows each stay within fewer input bytes of columns than this (nearly a quarter turn) gathers
#: in tiles (see :func:`tile_columns`)
STEEP_SPAN_BYTES = 128
#: input and output bytes above which a warp whose output plane exceeds one block passes over a row one band at a
#: time (see :func:`bands_per_pass`)
PASS_BYTES = 16 << 20


def block_rows(out_h: int, out_w: int, row_chunks: int, per_pass: int, reused: bool = True) -> int:
    """Rows of a block of :func:`nearest_rows` (its tap offsets are stored for the block).

    With several bands per pass (``per_pass > 1``) and taps that serve more than one band group
    (``reused``: a serial call of several groups) a block holds all of a unit's rows (``out_h`` cut into
    ``row_chunks``) up to about :data:`BLOCK_PIXELS` output pixels, so each group finds them stored. A unit
    of one band group (every parallel unit, and a serial call of one group) reads its taps once: its blocks
    are about :data:`ONCE_PIXELS` output pixels, which stay in cache between the taps' store and their
    reads. Whole-plane blocks of one group took, against blocks of 16 rows of 512 (one thread / two threads,
    interleaved in one process): 1x512² uint16 1.04-1.07 / 1.12-1.19, float32 1.03 / 1.05-1.07, 2x512²
    uint16 1.07 / 1.07, 4x512² float32 1.07 / 1.05, 1x1024² uint16 1.06 / 1.09; one row at a time was no
    faster than 16. With one band per pass (large rasters, :func:`bands_per_pass`) one row at a time,
    recomputed by each group, as the kernel did before it stored taps (at 200x256² stored whole-plane taps
    were no faster).
    """
    if per_pass == 1:
        return 1
    cap = BLOCK_PIXELS if reused else ONCE_PIXELS
    return max(1, min(-(-out_h // row_chunks), cap // max(out_w, 1)))


def bands_per_pass(nbands: int, in_pixels: int, out_pixels: int, itemsize: int) -> int:
    """Bands one pass over an output row gathers (:func:`nearest_rows`' ``per_pass``): 4 when an output plane
    fits one block of stored tap offsets (:data:`BLOCK_PIXELS`, so a serial call finds them once for every
    band group) or the input and output fit about half the L3 of the machine this was tuned on
    (:data:`PASS_BYTES`), else 1.

    Four bands per offset read took 0.80-0.82 of the time of one at 13x512², 0.82-0.84 at 4x512², 0.87-0.93 at
    12x256², 0.89 at 13x120² uint16 (one thread, fresh processes, two runs). Past :data:`PASS_BYTES` with a
    plane in one block, where this rule gave one band per pass before, four took (``scripts/bench_trees.py``,
    two runs per thread count, five rounds at two; docs/benchmarks.md) at one thread 0.58-0.63 of the time at
    200x256² uint16, 0.60-0.65 at 200x256² float32 and 0.80-0.81 at 13x512² float32; at two threads 0.69-0.71,
    0.84-0.90 and 0.99-1.03. Larger planes (13x720², 13x1024²) keep one band per pass: their blocks' offsets
    are found again by each band group, and four per pass took 1.1-1.2 of the time there (one run each).
    """
    return 4 if out_pixels <= BLOCK_PIXELS or nbands * (in_pixels + out_pixels) * itemsize <= PASS_BYTES else 1


def tile_columns(m: np.ndarray, out_w: int, itemsize: int) -> int:
    """Output columns per tile of the gather (:func:`nearest_rows`' ``tile``): :data:`TILE_COLUMNS` for a steep
    warp, 0 (whole rows) otherwise.

    ``m`` is the output -> input matrix (its first row moves along input columns, its second along input rows).
    Near a quarter turn an output row is nearly an input column: it reads one pixel of each of ``out_w`` input
    rows, all within a few cache lines of columns, and the next output row reads the pixels beside them. Input
    rows a power of two bytes apart map those lines to a few of the L2's sets, and a pass of four bands over
    512 rows (2,048 lines) no longer fits them: before the next row came back to its lines they were gone. A
    13x512² uint16 rotation by 88 degrees took 2.9x OpenCV's time per band, at 17 and 45 degrees 0.56-0.83x.
    A warp whose rows stay within :data:`STEEP_SPAN_BYTES` of input columns and cross more than a tile's width
    of input rows gathers in tiles of :data:`TILE_COLUMNS` output columns over strips of :data:`STRIP_ROWS`
    rows: a tile's lines fit, and each is read by the strip's next rows. In a scratch kernel (the gather alone,
    one thread, interleaved in one process), tiles took 0.26-0.62 of the time of whole rows from 87 to 90
    degrees at 13x512² and 4x512² uint16, 13x512² and 12x256² float32, 0.57-0.83 at 85, 0.91-1.05 at 83, and
    1.0-1.45 from 45 to 80 degrees, where whole rows stay. Through ``Affine(rotate=88)``, 13x512² uint16 took
    0.50 of its time (docs/benchmarks.md).
    """
    if out_w <= TILE_COLUMNS:  # a row crosses at most out_w input rows: no tile (and no look at m, per call)
        return 0
    cols = abs(m.item(0)) * out_w * itemsize
    rows = abs(m.item(3)) * out_w
    return TILE_COLUMNS if cols < STEEP_SPAN_BYTES and rows > TILE_COLUMNS else 0


def offset_dtype(in_h: int, in_w: int) -> np.dtype:
    """The tap offsets' type: uint32 while an input band has fewer than 2**32 pixels, else int64."""
    return np.dtype(np.uint32) if in_h * in_w < 1 << 32 else np.dtype(np.int64)


@borrowing_jit()
def nearest_rows(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, r0, r1, ga, gb, mode, fill, out_fill,
                 skip_valid_rows, row_ok, o, s, runs, group, per_pass, tile, seen):  # pragma: no cover - numba
    """Output rows ``[r0, r1)`` of bands ``[ga, gb)``, ``group`` bands per sweep of the rows and up to
    ``per_pass`` (1 or 4) bands per pass over a row, with one unit's scratch:
    ``o`` (rows of a block, out_w) tap offsets, ``s`` (same shape, uint8) tap validity, ``runs`` (rows of a
    block, :data:`RUN_FIELDS`) int64.

    ``seen`` (bool, 1-D): empty, or one slot this call sets when an output row it wrote holds a NaN (float bits,
    tested every :data:`~geoaug.kernels.nans.SCAN_VALUES` values of a band: :mod:`geoaug.kernels.nans`), stopping
    there (the caller then warps again with the NaN pixels masked).

    The serial path calls it from Python once for all rows (no compiled level in between: each level re-optimises
    and re-emits its callees). ``src`` is ``(bands, in_h * in_w)`` and ``dst`` ``(bands, out_h, out_w)``, both
    unsigned views of the raster's bytes (:data:`BITS`); ``mask`` ``(planes, in_h * in_w)``; ``dmask``
    ``(planes, out_h, out_w)``; ``win`` (int64 ``x0, y0, x1, y1``) the pixels that count as inside: the whole
    input, or with ``fill="nodata"`` the valid rectangle of a mask (:mod:`geoaug.kernels.window`, the input then
    passed as all valid); ``fill``/``out_fill`` are bits (:func:`nearest_fill_bits`); ``m`` the six
    numbers of the output -> input matrix; ``row_ok`` (planes, out_h) flags the rows found all valid when
    ``skip_valid_rows``. ``o`` is uint32 when an input band has fewer than 2**32 pixels, else int64.

    Each band group sweeps the rows in blocks of ``o.shape[0]``: first each row's runs, tap offsets (and, for
    a shared mask, tap validity; the first group writes the output mask rows) (:func:`_block_taps`), then
    the group's bands, up to ``per_pass`` per pass over a row so that each offset read serves that many
    gathers (:func:`bands_per_pass`). When one block holds all the rows, its taps are found once for every
    group (see :func:`block_rows`). With ``tile`` > 0 (a steep warp, :func:`tile_columns`) and a shared mask
    the block's rows go in strips of :data:`STRIP_ROWS`, each pass of bands over a strip in tiles of ``tile``
    columns, then the strip's rows are finished; with 0, row by row (strips of one row, one tile). A mask per
    band goes row by row, one band per pass. The output bits are the same.
    """
    nm = dmask.shape[0]
    far_fill = mode == NODATA or mode == CONSTANT
    far_valid = mode == CONSTANT
    far = fill if far_valid else out_fill
    rows = o.shape[0]
    out_w = dst.shape[2]
    shared = nm == 1
    step = 4 if per_pass >= 4 and shared else 1  # bands per pass over a row
    strip = STRIP_ROWS if tile > 0 and shared else 1  # a steep warp's strips and tiles (else a row, whole)
    width = tile if tile > 0 and shared else out_w
    look = seen.shape[0] > 0
    once = r1 - r0 <= rows  # one block holds every row: its offsets serve every band group
    for g0 in range(ga, gb, group):
        g1 = min(g0 + group, gb)
        for i0 in range(r0, r1, rows):
            i1 = min(i0 + rows, r1)
            sc = i0  # the first row not yet tested for NaN
            if g0 == ga or not once:
                _block_taps(mask, all_valid, in_h, in_w, win, m, dmask, row_ok, i0, i1, mode, far_fill, far_valid,
                            skip_valid_rows, shared and ga == 0 and g0 == ga, o, s, runs)
            # strips of rows (one unless steep), a pass of bands at a time over a strip, each pass in tiles of
            # columns (one unless steep), then the pass's rows finished
            for t0 in range(i0, i1, strip):
                t1 = min(t0 + strip, i1)
                for b in range(g0, g1, step):
                    b1 = min(b + step, g1)
                    if not shared:  # one row, one band: its taps' validity and mask row first, its span in runs
                        r = t0 - i0
                        lo = runs[r, 0]
                        hi = runs[r, 1]
                        nzero = np.int64(0) if all_valid else _tap_validity(mask[b], o[r], s[r], lo, hi)
                        vlo, vhi, holes = valid_span(s[r], lo, hi, nzero)
                        _mask_row(dmask, row_ok, b, t0, s[r], lo, hi, vlo, vhi, holes, nzero, runs[r, 3] != 0,
                                  far_valid, skip_valid_rows)
                        runs[r, 4] = vlo
                        runs[r, 5] = vhi
                        runs[r, 6] = holes
                    for jt in range(0, out_w, width):
                        for i in range(t0, t1):
                            r = i - i0
                            # the taps from the first valid one to the last: the only ones gathered
                            jlo = max(runs[r, 4], jt)
                            jhi = max(min(runs[r, 5], jt + width), jlo)  # not before jlo: the range is unsigned
                            orow = o[r]
                            if b1 - b == 4:  # four bands per offset read
                                s0 = src[b]
                                s1 = src[b + 1]
                                s2 = src[b + 2]
                                s3 = src[b + 3]
                                d0 = dst[b, i]
                                d1 = dst[b + 1, i]
                                d2 = dst[b + 2, i]
                                d3 = dst[b + 3, i]
                                for j in range(np.uint64(jlo), np.uint64(jhi)):
                                    k = np.uint64(orow[j])
                                    d0[j] = s0[k]
                                    d1[j] = s1[k]
                                    d2[j] = s2[k]
                                    d3[j] = s3[k]
                            else:  # the bands left, one at a time
                                for q in range(b, b1):
                                    s0 = src[q]
                                    d0 = dst[q, i]
                                    for j in range(np.uint64(jlo), np.uint64(jhi)):
                                        d0[j] = s0[np.uint64(orow[j])]
                    for i in range(t0, t1):
                        r = i - i0
                        for q in range(b, b1):
                            _finish_row(dst[q, i], s[r], runs[r, 0], runs[r, 1], runs[r, 4], runs[r, 5], runs[r, 6],
                                        runs[r, 3] != 0, far, out_fill)
                if look:  # the group's rows since the last test, still in cache: a NaN among them? (whole rows, one
                    # range per band: a test per row and band cost 25 % of a 13x64² warp; the fill values are tested
                    # too, which a NaN fill_value makes the caller redo with a mask, as it must)
                    sc = test_written_rows(dst, g0, g1, sc, t1 - 1, i1, seen)
                    if sc < 0:
                        return


@nb.njit(cache=True, nogil=True, inline="always")
def _block_taps(mask, all_valid, in_h, in_w, win, m, dmask, row_ok, i0, i1, mode, far_fill, far_valid,
                skip_valid_rows, write_mask, o, s, runs):  # pragma: no cover - numba
    """Rows ``[i0, i1)``: each row's runs (``runs[r]``: interior start and end, invalid taps, outer pixels,
    :func:`geoaug.kernels.runs.valid_span`), tap offsets (``o[r]``) and, for a shared mask, tap validity
    (``s[r]``); the shared output mask rows too when ``write_mask``. The runs are those of the window ``win``;
    the offsets index the whole input (``in_w`` a row)."""
    out_w = o.shape[1]
    m0 = m[0]
    m3 = m[3]
    shared = dmask.shape[0] == 1
    zero = np.int64(0)  # row_runs' shift and K, typed: the copy the warp's row kernel compiles
    one = np.int64(1)
    for i in range(i0, i1):
        r = i - i0
        yc = i + 0.5
        xr = m0 * 0.5 + m[1] * yc + m[2]
        yr = m3 * 0.5 + m[4] * yc + m[5]
        lo, hi, _, _ = row_runs(xr, m0, yr, m3, zero, out_w, one, win[2] - win[0], win[3] - win[1], win[0], win[1])
        orow = o[r]
        # every tap inside: one vectorisable loop. Its coordinates are row_runs' own expressions, whose floors it
        # found inside the window, so at least 0: the conversion's truncation is their floor (no rounding step)
        for j in range(lo, hi):
            orow[np.uint64(j)] = np.int64(yr + m3 * j) * in_w + np.int64(xr + m0 * j)
        if not far_fill:  # edge/reflect/mirror/wrap: the outside taps map inside, the whole row is one gather
            # (against the whole input: warp_affine passes a mask's window with nodata fill only)
            for j in range(lo):
                orow[j] = (map_index(np.int64(np.floor(yr + m3 * j)), in_h, mode) * in_w
                           + map_index(np.int64(np.floor(xr + m0 * j)), in_w, mode))
            for j in range(hi, out_w):
                orow[j] = (map_index(np.int64(np.floor(yr + m3 * j)), in_h, mode) * in_w
                           + map_index(np.int64(np.floor(xr + m0 * j)), in_w, mode))
            lo = 0
            hi = out_w
        outer = lo > 0 or hi < out_w
        nzero = _tap_validity(mask[0], orow, s[r], lo, hi) if shared and not all_valid else np.int64(0)
        vlo, vhi, holes = valid_span(s[r], lo, hi, nzero)
        if write_mask:
            _mask_row(dmask, row_ok, 0, i, s[r], lo, hi, vlo, vhi, holes, nzero, outer, far_valid, skip_valid_rows)
        runs[r, 0] = lo
        runs[r, 1] = hi
        runs[r, 2] = nzero
        runs[r, 3] = outer
        runs[r, 4] = vlo
        runs[r, 5] = vhi
        runs[r, 6] = holes


@nb.njit(cache=True, nogil=True, inline="always")
def _tap_validity(mk, orow, srow, lo, hi):  # pragma: no cover - numba
    """The validity of the taps ``[lo, hi)`` of a row (offsets ``orow``) in the mask plane ``mk``, into
    ``srow``; returns how many are invalid."""
    nzero = np.int64(0)
    for j in range(np.uint64(lo), np.uint64(hi)):
        v = mk[np.uint64(orow[j])]
        srow[j] = v
        nzero += np.int64(not v)
    return nzero


@nb.njit(cache=True, nogil=True, inline="always")
def _mask_row(dmask, row_ok, p, i, srow, lo, hi, vlo, vhi, holes, nzero, outer, far_valid,
              skip_valid_rows):  # pragma: no cover - numba
    """Output mask row ``i`` of plane ``p``, or its flag in ``row_ok`` when it is all valid and the caller skips
    those (``skip_valid_rows``). ``[vlo, vhi)`` and ``holes`` are :func:`geoaug.kernels.runs.valid_span`'s."""
    if skip_valid_rows and nzero == 0 and (far_valid or not outer):
        row_ok[p, i] = 1  # the caller fills the rows found all valid, or skips the mask
        return
    mrow = dmask[p, i]
    fill_run(mrow, 0, lo, far_valid)
    span_mask(mrow, srow, lo, hi, vlo, vhi, holes)
    fill_run(mrow, hi, mrow.shape[0], far_valid)


@nb.njit(cache=True, nogil=True, inline="always")
def _finish_row(drow, srow, lo, hi, vlo, vhi, holes, outer, far, out_fill):  # pragma: no cover - numba
    """An output row after the gather of ``[vlo, vhi)``: ``out_fill`` where the tap was invalid, ``far``
    outside the input."""
    span_fill(drow, srow, lo, hi, vlo, vhi, holes, out_fill)
    if outer:
        fill_run(drow, 0, lo, far)
        fill_run(drow, hi, drow.shape[0], far)


@nb.njit(cache=True, nogil=True, parallel=True)
def nearest_parallel(addr, src, mask, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill, out_fill,
                     skip_valid_rows, row_ok, off, st, runs, group, per_pass, tile, nrc, seen):  # pragma: no cover
    """:func:`nearest_rows` in one parallel region: unit ``u`` is band group ``u // nrc`` over row chunk
    ``u % nrc`` (of ``nrc``), with scratch ``u`` (see :func:`geoaug.kernels.warp.parallel_units`) and slot
    ``u`` of ``seen`` (empty: not looking for NaN)."""
    nunits = off.shape[0]
    out_h = dst.shape[1]
    nbands = src.shape[0]
    for c in nb.prange(nunits):
        k = np.int64(c)  # one signature of nearest_rows (the index is unsigned in the gufunc)
        gi = k // nrc
        rc = k - gi * nrc
        ga = gi * group
        call_address(nearest_rows, addr, (src, mask, all_valid, in_h, in_w, win, m, dst, dmask, rc * out_h // nrc,
                                          (rc + 1) * out_h // nrc, ga, min(ga + group, nbands), mode, fill, out_fill,
                                          skip_valid_rows, row_ok, off[k], st[k], runs[k], group, per_pass,
                                          tile, seen[k:]))


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
