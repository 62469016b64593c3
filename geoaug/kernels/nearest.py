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

Each output row is three runs, found by counting (``floor`` of an affine
coordinate is monotonic along a row): the pixels left of the input, the
interior run, the pixels right of it. With ``nodata``/``constant`` the outer
runs take one value; with the other modes their taps are mapped inside
(:func:`geoaug.kernels.borders.map_index`) and the whole row is one gather.
Coordinates and validity are computed once per row and shared by every band.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np

from .borders import CONSTANT, NODATA, map_index
from .borrowing import borrowing_jit
from .indirect import call_address
from .runs import fill_run, row_runs

__all__ = ["BITS", "nearest_fill_bits", "nearest_parallel", "nearest_rows"]

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


@borrowing_jit()
def nearest_rows(src, mask, all_valid, in_h, in_w, m, dst, dmask, r0, r1, ga, gb, mode, fill, out_fill,
                 skip_valid_rows, row_ok, o, bx, by, s, group):  # pragma: no cover - numba
    """Output rows ``[r0, r1)`` of bands ``[ga, gb)``, ``group`` bands per pass, with one unit's scratch rows
    ``o``, ``bx``, ``by``, ``s``.

    The serial path calls it from Python for every row (no compiled level in between: each level re-optimises
    and re-emits its callees). ``src`` is ``(bands, in_h * in_w)`` and ``dst`` ``(bands, out_h, out_w)``, both
    unsigned views of the raster's bytes (:data:`BITS`); ``mask`` ``(planes, in_h * in_w)``; ``dmask``
    ``(planes, out_h, out_w)``; ``fill``/``out_fill`` are bits (:func:`nearest_fill_bits`); ``m`` the six
    numbers of the output -> input matrix; ``row_ok`` (planes, out_h) flags the rows found all valid when
    ``skip_valid_rows``.
    """
    nm = dmask.shape[0]
    out_w = dst.shape[2]
    far_fill = mode == NODATA or mode == CONSTANT
    far_valid = mode == CONSTANT
    far = fill if far_valid else out_fill
    m0 = m[0]
    m3 = m[3]
    for g0 in range(ga, gb, group):
        g1 = min(g0 + group, gb)
        for i in range(r0, r1):
            yc = i + 0.5
            xr = m0 * 0.5 + m[1] * yc + m[2]
            yr = m3 * 0.5 + m[4] * yc + m[5]
            for j in range(out_w):  # the input pixel containing each output centre: one vectorisable loop
                x = np.int64(np.floor(xr + m0 * j))
                y = np.int64(np.floor(yr + m3 * j))
                bx[j] = x
                by[j] = y
                o[j] = y * in_w + x
            jlo, jhi, _, _ = row_runs(bx, by, out_w, 1, in_w, in_h, m0 >= 0.0, m3 >= 0.0)
            if far_fill:
                lo = jlo
                hi = jhi
            else:  # edge/reflect/mirror/wrap: the outside taps map inside, the whole row is one gather
                for j in range(jlo):
                    o[j] = map_index(by[j], in_h, mode) * in_w + map_index(bx[j], in_w, mode)
                for j in range(jhi, out_w):
                    o[j] = map_index(by[j], in_h, mode) * in_w + map_index(bx[j], in_w, mode)
                lo = 0
                hi = out_w
            outer = lo > 0 or hi < out_w
            for p in range(0 if nm == 1 else g0, 1 if nm == 1 else g1):
                nzero = 0
                if not all_valid:
                    mk = mask[p]
                    for j in range(np.uint64(lo), np.uint64(hi)):
                        v = mk[np.uint64(o[j])]
                        s[j] = v
                        nzero += np.int64(not v)
                if skip_valid_rows and nzero == 0 and (far_valid or not outer):
                    row_ok[p, i] = 1  # the caller fills the rows found all valid, or skips the mask
                else:
                    mrow = dmask[p, i]
                    if nzero:
                        for j in range(np.uint64(lo), np.uint64(hi)):
                            mrow[j] = s[j] != 0
                    else:
                        fill_run(mrow, lo, hi, True)
                    fill_run(mrow, 0, lo, far_valid)
                    fill_run(mrow, hi, out_w, far_valid)
                for b in range(g0 if nm == 1 else p, g1 if nm == 1 else p + 1):
                    for j in range(np.uint64(lo), np.uint64(hi)):
                        dst[b, i, j] = src[b, np.uint64(o[j])]
                    if nzero:  # invalid input pixels: out_fill (branch-free)
                        for j in range(np.uint64(lo), np.uint64(hi)):
                            dst[b, i, j] = out_fill if s[j] == 0 else dst[b, i, j]
                    if outer:
                        for j in range(np.uint64(0), np.uint64(lo)):
                            dst[b, i, j] = far
                        for j in range(np.uint64(hi), np.uint64(out_w)):
                            dst[b, i, j] = far


@nb.njit(cache=True, nogil=True, parallel=True)
def nearest_parallel(addr, src, mask, all_valid, in_h, in_w, m, dst, dmask, mode, fill, out_fill,
                     skip_valid_rows, row_ok, off, bxs, bys, st, group, nrc):  # pragma: no cover - numba
    """:func:`nearest_rows` in one parallel region: unit ``u`` is band group ``u // nrc`` over row chunk
    ``u % nrc`` (of ``nrc``), with scratch row ``u`` (see :func:`geoaug.kernels.warp.parallel_units`)."""
    nunits = off.shape[0]
    out_h = dst.shape[1]
    nbands = src.shape[0]
    for c in nb.prange(nunits):
        k = np.int64(c)  # one signature of nearest_rows (the index is unsigned in the gufunc)
        gi = k // nrc
        rc = k - gi * nrc
        ga = gi * group
        call_address(nearest_rows, addr, (src, mask, all_valid, in_h, in_w, m, dst, dmask, rc * out_h // nrc,
                                          (rc + 1) * out_h // nrc, ga, min(ga + group, nbands), mode, fill, out_fill,
                                          skip_valid_rows, row_ok, off[k], bxs[k], bys[k], st[k], group))
