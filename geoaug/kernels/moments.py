"""Band means and centred cross-products over the pixels valid in every band, in two compiled passes.

:func:`geoaug.bandstats.band_moments` runs this. numpy's route (float64 chunks, a shift, a BLAS
product per chunk) paid more in conversions, passes and calls than in arithmetic: 92 µs for a
13 x 64² uint16 image, 4.9 ms at 13 x 512², 150 µs for one float32 band of 512², most of
PCAJitter's time (now 24 µs, 1.45 ms and 21 µs, one thread). Here:

1. the sum of each band's valid values (float64 accumulators) gives the exact means;
2. per chunk of pixels, each band's deviations from its mean (0 under invalid pixels) go into a
   float64 scratch row, and every pair of bands adds the dot product of its two rows (the two-pass
   algorithm: no cancellation). The pairs go in tiles of 4 x 4 (:func:`_tile`): each step loads 8
   values for 16 multiply-adds, so the loop runs at the core's multiply-add rate, where one product at
   a time waited on 2 loads for each (figures: docs/benchmarks.md, "PCAJitter's covariance in tiles of
   band pairs"). The last 1 to 3 bands take rows of 1 x 4 (:func:`_tile_row`), 2 or 3 bands alone each
   pair. A chunk is :data:`CHUNK` pixels, fewer where the scratch rows would pass
   :data:`SCRATCH_BYTES` (many bands), so that they stay in a core's cache. One band sums its squared
   deviations straight from the values: 1 x 512² float32 took 21 µs instead of 39 (59 -> 42 µs with a
   mask).

The second pass goes in groups of :data:`GROUP_CHUNKS` chunks: each group sums its pixels' products on its own,
and the groups' sums are added in order (:func:`_add_groups`). The groups are the parallel units, taken as
threads come free, each in its thread's scratch rows; the grouping depends on the sizes alone, so one thread and
two give the same bits. A raster of one group (16,384 pixels at 13 bands: a 13 x 120² chip) is summed in one
pass as before, bit for bit; a larger one's sums moved in their last bits when the groups came (they are
associated by group now, not chunk after chunk).

A mask's valid pixels are counted by the first band's pass 1 (instead of numpy's count and test for
all-valid: two more passes over the mask), and a mask with none invalid takes the loops without one.

The loops vectorise: ``fastmath`` allows reassociating the sums (and contracting a multiply-add),
nothing else. Values under invalid pixels, NaN included, never reach a sum.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..errors import ParameterError
from . import indirect, threads
from .borrowing import borrowing_jit
from .buffers import kept_scratch
from .cache import spare
from .diskcache import lock_disk_cache
from .indirect import call_address

__all__ = ["CHUNK", "GROUP_CHUNKS", "band_sums", "moments"]

#: pixels per chunk of the second pass at most: 13 bands (16 scratch rows) x 2,048 float64 = 256 kB
CHUNK = 2048
#: bands per side of the second pass's tiles of band pairs
_TILE = 4
#: the second pass's scratch rows take at most about this many bytes (a core's L2 holds them): fewer pixels per
#: chunk for many bands
SCRATCH_BYTES = 512 << 10
#: chunks per group of the second pass: each group sums its pixels' products on its own, the groups are added in
#: order, and they are the parallel units. A raster of one group (16,384 pixels at 13 bands) is summed as before
GROUP_CHUNKS = 8
_SUMS = {"reassoc", "contract"}


@borrowing_jit(fastmath=_SUMS, inline="always")
def _tile(buf, b, c, k, acc):  # pragma: no cover - numba
    # the 16 dot products of rows b..b+3 with rows c..c+3 over the chunk's first k columns, added to acc: each
    # step loads 8 values for 16 multiply-adds (16 vector accumulators: inspect_asm shows 8 loads and 16 FMAs
    # per step), where one product at a time loaded 2 for 1 and waited on its loads
    a0 = buf[b]
    a1 = buf[b + 1]
    a2 = buf[b + 2]
    a3 = buf[b + 3]
    c0 = buf[c]
    c1 = buf[c + 1]
    c2 = buf[c + 2]
    c3 = buf[c + 3]
    q00 = q01 = q02 = q03 = q10 = q11 = q12 = q13 = 0.0
    q20 = q21 = q22 = q23 = q30 = q31 = q32 = q33 = 0.0
    for p in range(k):
        x0 = a0[p]
        x1 = a1[p]
        x2 = a2[p]
        x3 = a3[p]
        y0 = c0[p]
        y1 = c1[p]
        y2 = c2[p]
        y3 = c3[p]
        q00 += x0 * y0
        q01 += x0 * y1
        q02 += x0 * y2
        q03 += x0 * y3
        q10 += x1 * y0
        q11 += x1 * y1
        q12 += x1 * y2
        q13 += x1 * y3
        q20 += x2 * y0
        q21 += x2 * y1
        q22 += x2 * y2
        q23 += x2 * y3
        q30 += x3 * y0
        q31 += x3 * y1
        q32 += x3 * y2
        q33 += x3 * y3
    acc[b, c] += q00
    acc[b, c + 1] += q01
    acc[b, c + 2] += q02
    acc[b, c + 3] += q03
    acc[b + 1, c] += q10
    acc[b + 1, c + 1] += q11
    acc[b + 1, c + 2] += q12
    acc[b + 1, c + 3] += q13
    acc[b + 2, c] += q20
    acc[b + 2, c + 1] += q21
    acc[b + 2, c + 2] += q22
    acc[b + 2, c + 3] += q23
    acc[b + 3, c] += q30
    acc[b + 3, c + 1] += q31
    acc[b + 3, c + 2] += q32
    acc[b + 3, c + 3] += q33


@borrowing_jit(fastmath=_SUMS, inline="always")
def _tile_row(buf, b, c, k, acc):  # pragma: no cover - numba
    # the 4 dot products of row b with rows c..c+3 over the chunk's first k columns, added to acc
    a0 = buf[b]
    c0 = buf[c]
    c1 = buf[c + 1]
    c2 = buf[c + 2]
    c3 = buf[c + 3]
    q0 = q1 = q2 = q3 = 0.0
    for p in range(k):
        x0 = a0[p]
        q0 += x0 * c0[p]
        q1 += x0 * c1[p]
        q2 += x0 * c2[p]
        q3 += x0 * c3[p]
    acc[b, c] += q0
    acc[b, c + 1] += q1
    acc[b, c + 2] += q2
    acc[b, c + 3] += q3


@borrowing_jit(fastmath=_SUMS)
def _products(buf, nbands, k, acc):  # pragma: no cover - numba
    # one chunk's centred cross-products, the first k columns of the scratch rows, added to acc (on and below
    # the diagonal, and the tiles' own products above it). float64 rows whatever the data's dtype: compiled
    # once for every dtype's _cross
    if nbands < _TILE:  # 2 or 3 bands: each pair's dot product (a tile would make 16 of them)
        for b in range(nbands):
            rb = buf[b]
            for c in range(b + 1):
                rc = buf[c]
                q = 0.0
                for p in range(k):
                    q += rb[p] * rc[p]
                acc[b, c] += q
        return
    full = nbands - nbands % _TILE
    for b in range(0, full, _TILE):  # tiles of 4 x 4 band pairs on and below the diagonal
        for c in range(0, b + _TILE, _TILE):
            _tile(buf, b, c, k, acc)
    for b in range(full, nbands):  # the last 1 to 3 bands: one band against 4 at a time (the rows past nbands
        for c in range(0, b + 1, _TILE):  # are 0: a 4 x 4 tile there computed up to 12 zeros)
            _tile_row(buf, b, c, k, acc)


@borrowing_jit(fastmath=_SUMS)
def _means(x, v, masked, mean):  # pragma: no cover - numba
    # pass 1: each band's mean (the first band's masked pass counts the valid pixels). Unsigned indexes
    # throughout: with signed ones numba's negative-index handling kept the conversion loop scalar (88 µs for
    # 1 x 512², 13 µs unsigned). Returns the number of valid pixels; with none, mean is not written.
    nbands, npx = x.shape
    if npx == 0:
        return 0
    unpx = np.uint64(npx)
    n = npx
    for b in range(nbands):
        xb = x[b]
        s = 0.0
        if masked and b == 0:
            n = 0
            for p in range(unpx):
                ok = v[p]
                s += np.float64(xb[p]) if ok else 0.0
                n += np.int64(ok)
            if n == 0:
                return 0
            if n == npx:  # every pixel valid: the loops without a mask, whose sums None gets bit for bit
                masked = False
                s = 0.0
                for p in range(unpx):
                    s += np.float64(xb[p])
        elif masked:
            for p in range(unpx):
                s += np.float64(xb[p]) if v[p] else 0.0
        else:
            for p in range(unpx):
                s += np.float64(xb[p])
        mean[b] = s / n
    return n


@borrowing_jit(fastmath=_SUMS)
def _squares(x, v, masked, mean):  # pragma: no cover - numba
    # one band: the squared deviations summed straight from the values, no scratch row
    xb = x[0]
    mb = mean[0]
    q = 0.0
    if masked:
        for p in range(np.uint64(x.shape[1])):
            d = np.float64(xb[p]) - mb
            q += d * d if v[p] else 0.0
    else:
        for p in range(np.uint64(x.shape[1])):
            d = np.float64(xb[p]) - mb
            q += d * d
    return q


@borrowing_jit(fastmath=_SUMS)
def _cross(x, v, masked, buf, acc, mean, g0, g1, span):  # pragma: no cover - numba
    # pass 2, groups [g0, g1) of span pixels: each group's centred cross-products, chunk by chunk (buf's width), into
    # acc[g] (set to 0 first; on and below the diagonal, and the tiles' own products above it)
    nbands, npx = x.shape
    chunk = buf.shape[1]
    rows = buf.shape[0]  # nbands rounded up to whole tiles; the rows past nbands stay 0
    for b in range(nbands, rows):
        for p in range(chunk):
            buf[b, p] = 0.0
    for g in range(g0, g1):
        ag = acc[g]
        for b in range(rows):
            for c in range(rows):
                ag[b, c] = 0.0
        p0 = g * span
        p1 = min(p0 + span, npx)
        for q0 in range(p0, p1, chunk):
            k = np.uint64(min(chunk, p1 - q0))
            u0 = np.uint64(q0)
            for b in range(nbands):
                xb = x[b]
                rb = buf[b]
                mb = mean[b]
                if masked:
                    for p in range(k):
                        rb[p] = np.float64(xb[u0 + p]) - mb if v[u0 + p] else 0.0
                else:
                    for p in range(k):
                        rb[p] = np.float64(xb[u0 + p]) - mb
            _products(buf, nbands, k, ag)


@nb.njit(cache=True, nogil=True, parallel=True)
def _cross_par(addr, ngroups, span, x, v, masked, buf, acc, mean):  # pragma: no cover - numba
    # group g into acc[g], taken as threads come free, in its thread's scratch rows (numba.get_thread_id: below this
    # region's thread count; the scratch is the launching thread's own, kept_scratch). _cross through its address
    # (kernels/indirect.py): linked in, it would be compiled again here
    for g in nb.prange(ngroups):
        k = np.int64(g)  # the index is unsigned in the gufunc
        call_address(_cross, addr, (x, v, masked, buf[np.int64(nb.get_thread_id())], acc, mean, k, k + 1, span))


@borrowing_jit()
def _add_groups(acc, ngroups, m2):  # pragma: no cover - numba
    # m2 (symmetric) from the groups' sums on and below the diagonal, added group after group: the same bits
    # whatever the thread count (and, for one group, its sums as they are)
    nbands = m2.shape[0]
    for b in range(nbands):
        for c in range(b + 1):
            q = acc[0, b, c]
            for g in range(1, ngroups):
                q += acc[g, b, c]
            m2[b, c] = q
            m2[c, b] = q


_NO_MASK = np.ones(1, dtype=np.bool_)


def moments(x: np.ndarray, valid: np.ndarray | None) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, mean, m2)`` of the bands of ``x`` over the pixels where ``valid`` (all when None).

    Parameters
    ----------
    x : ndarray (bands, pixels)
        Any real dtype; made C-contiguous if it is not.
    valid : ndarray of bool (pixels,) or None
        True where the pixel is valid in every band. Counted in the kernel; with every pixel valid the
        result is that of ``None``, bit for bit.

    Returns
    -------
    n : int
        The number of valid pixels.
    mean : ndarray (bands,) of float64
        NaN when ``n`` is 0.
    m2 : ndarray (bands, bands) of float64
        ``sum_p (x_bp - mean_b) (x_cp - mean_c)`` over the valid pixels (0 when ``n`` is 0).
    """
    x = np.ascontiguousarray(x)
    masked = valid is not None
    v = np.ascontiguousarray(valid, dtype=np.bool_) if masked else _NO_MASK
    bands = x.shape[0]
    # the scratch rows of the second pass (one band sums its squares without them)
    rows = -(-bands // _TILE) * _TILE if bands >= _TILE else bands  # whole tiles of band pairs
    chunk = min(CHUNK, max(256, SCRATCH_BYTES // (8 * rows)), x.shape[1]) if bands > 1 else 1
    mean = np.empty(bands, dtype=np.float64)
    m2 = np.empty((bands, bands), dtype=np.float64)
    n = int(_means(x, v, masked, mean))
    if n == 0:
        mean[:] = np.nan
        m2[:] = 0.0
        return n, mean, m2
    npx = x.shape[1]
    masked = masked and n < npx  # every pixel valid: the loops without a mask (as _means took)
    if bands == 1:
        m2[0, 0] = _squares(x, v, masked, mean)
        return n, mean, m2
    # pass 2 in groups of GROUP_CHUNKS chunks, each summed on its own and the groups added in order: the parallel
    # units, and the same bits at any thread count (one group: the sums of one pass over the pixels, as before)
    span = GROUP_CHUNKS * chunk
    ngroups = -(-npx // span)
    nthreads = threads.num_threads() if ngroups > 1 else 1
    # a thread's scratch rows (its chunk's deviations) and a group's sums: each group's sums a cache line apart
    # from the next group's (two threads add to them, tile by tile)
    buf, acc = kept_scratch((((nthreads, rows, chunk), np.dtype(np.float64)),
                             ((ngroups, rows + spare(8 * rows), rows), np.dtype(np.float64))))
    if nthreads > 1:
        addr = indirect.address(_cross, (x.dtype, x.flags.num, v.flags.num),
                                lambda: (x, v, masked, buf[0], acc, mean, 0, 0, span))
        with threads.launch_lock:
            _cross_par(addr, ngroups, span, x, v, masked, buf, acc, mean)
    else:  # every group on this thread, in one call of the same compiled _cross (the same bits per group); no
        _cross(x, v, masked, buf[0], acc, mean, 0, ngroups, span)  # parallel region, no launch lock
    _add_groups(acc, ngroups, m2)
    return n, mean, m2


@borrowing_jit(fastmath=_SUMS)
def _band_sums(x, v, per_band, masked, n, s):  # pragma: no cover - numba
    # each band's count and float64 sum of its valid values: one pass, a select under the mask (the loops
    # vectorise; a value under an invalid pixel, NaN included, adds 0). Unsigned indexes: see _means
    nbands, npx = x.shape
    unpx = np.uint64(npx)
    for b in range(nbands):
        xb = x[b]
        acc = 0.0
        if masked:
            vb = v[b] if per_band else v[0]
            cnt = np.int64(0)
            for p in range(unpx):
                m = vb[p]
                acc += np.float64(xb[p]) if m else 0.0
                cnt += np.int64(m)
            n[b] = cnt
        else:
            for p in range(unpx):
                acc += np.float64(xb[p])
            n[b] = npx
        s[b] = acc


def band_sums(x: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each band's number of valid pixels and the float64 sum of its valid values, in one compiled pass.

    Integer bands sum exactly while the sum of their absolute values stays below 2**53 (the sums are
    reassociated, so every partial sum must fit): always for 8- and 16-bit bands of fewer than 2**37
    pixels, for int32 bands only below about 2**22 pixels at full range. The sum, and a mean made from it,
    are then numpy's float64 sum and mean bit for bit. Float bands are summed in float64 in another order
    than numpy's pairwise sum: the sums differ by about 1e-16 of the sum of the absolute values (more of
    the sum itself where values cancel).

    Parameters
    ----------
    x : ndarray (bands, pixels)
        Any real dtype; made C-contiguous if it is not.
    valid : ndarray of bool (1 or bands, pixels) or None
        True where a pixel is valid: one plane for every band, or one per band; None: all valid.

    Returns
    -------
    n : ndarray (bands,) of int64
    sums : ndarray (bands,) of float64
        0 for a band without a valid pixel.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 2:
        raise ParameterError(f"band_sums: x must be (bands, pixels), got shape {x.shape}")
    bands = x.shape[0]
    masked = valid is not None
    # bool, not a uint8 view: numba reads a bool byte as its truth (a mask of 0/255 bytes viewed as bool counts 1s)
    v = np.ascontiguousarray(valid, dtype=np.bool_) if masked else _NO_MASK[None]
    if masked and (v.ndim != 2 or v.shape[1] != x.shape[1] or v.shape[0] not in (1, bands)):
        raise ParameterError(f"band_sums: valid must be (1 or {bands}, {x.shape[1]}), got shape {v.shape}")
    per_band = masked and v.shape[0] > 1
    n = np.empty(bands, dtype=np.int64)
    sums = np.empty(bands, dtype=np.float64)
    _band_sums(x, v, per_band, masked, n, sums)
    return n, sums


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
