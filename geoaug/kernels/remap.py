"""The remap kernel: resampling through a coarse displacement field, any band count, nodata-aware.

Conventions
-----------
* The field is ``(2, gh, gw)`` (``dx``, ``dy`` in input pixels), ``gh, gw >=
  2``: node ``(a, b)`` sits at output pixel-corner coordinate ``(x, y) = (b *
  out_w / (gw - 1), a * out_h / (gh - 1))``, so the nodes span the output from
  corner to corner. The field is upsampled bilinearly at every output pixel
  centre, so ``|displacement| <= max |node|``: its rows are interpolated to
  every output column once per call (``(2, gh, out_w)``), and each output row
  blends two of them inside the kernel (never stored at full resolution).
* Output pixel ``(i, j)`` reads the input at ``(j + 0.5 + dx, i + 0.5 + dy)``
  (pixel-corner origin, the warp's convention): nearest copies the pixel
  containing that point; bilinear and cubic (Keys, ``a = -0.75``, OpenCV's)
  interpolate between pixel centres, exactly as :mod:`geoaug.kernels.warp`.
* Fill modes, validity and dtypes are the warp's: taps outside the input
  follow the fill mode (:mod:`geoaug.kernels.borders`); an output pixel is
  valid only if every tap of non-zero weight is valid (``constant`` taps are
  valid); invalid output pixels get ``out_fill``. Work dtype float32 (float64
  for int32 and float64 data), integers rounded half to even and saturated.
* Per output row, the source coordinates, base taps and weights are computed
  once into scratch rows and shared by every band (one vectorised loop: with a
  gather of the coarse field per pixel it ran one pixel at a time); pixels
  whose taps are all inside (and valid) are computed branch-free from clamped
  offsets, the few others (border, mixed validity) fixed up afterwards through
  the generic tap rule. Bilinear gathers each band's taps into scratch rows
  first (the warp's gather) and weighs them in a loop that vectorises; integer
  rows are rounded and saturated in a vectorised pass after the gathers
  (:func:`_keep`). Cubic reads each of its four tap rows as one vector and
  weighs it in registers, in the order of the scalar loop it replaced, so the
  same bits (:func:`geoaug.kernels.taps4.cubic4_rows`; the weights are copied
  side by side after the row pass): a 13 x 512² cubic GridDistortion takes
  0.61-0.63 of its time before (docs/benchmarks.md). Scratch rows are padded
  (``_ROW_PAD``, as the warp's): rows 4 kB apart alias in the load/store unit.
  Scratch is allocated outside the kernel; one parallel region per call, over
  chunks of output rows, only above :data:`PARALLEL_MIN_WORK`.
* Compilation: the serial path calls the row kernel straight from Python; the
  parallel entry calls it through its address (:mod:`geoaug.kernels.indirect`),
  so neither compiles the row kernel a second time.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from ..errors import ParameterError, UnsupportedDtypeError
from . import indirect, threads
from .borders import CONSTANT, FILL_MODES, map_index
from .borrowing import borrowing_jit
from .buffers import out_buffer
from .cubic import CUBIC_A, keys4
from .diskcache import lock_disk_cache
from .indirect import call_address
from .nans import test_written_rows
from .taps4 import PIXEL_WEIGHTS, cubic4_rows
from .warp import _ROW_PAD, INTERPOLATIONS, _as_work, _bl_gather, _bl_taps, _put, gather_rows

__all__ = ["PARALLEL_MIN_WORK", "remap_field"]

#: below this many (bands x output pixels x taps) a remap runs on one thread (as the warp's: at 2 threads a
#: 1x128² GridDistortion, work 65,536, took 0.66 of its 1-thread time)
PARALLEL_MIN_WORK = 1 << 15
_DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")
_TAPS = (1, 2, 4)
# int scratch rows: 0 clamped flat offset, 1 base x, 2 base y, 3 fix-up list, 4 inside flag
_OFF, _BX, _BY, _BAD, _IN, _NI = 0, 1, 2, 3, 4, 5


@nb.njit(cache=True, nogil=True, inline="always")
def _taps_valid(mk, bx, by, K):  # pragma: no cover - numba
    """True when the K x K taps from ``(by, bx)`` (all inside) are all valid."""
    for ty in range(K):
        row = mk[by + ty]
        for tx in range(K):
            if not row[bx + tx]:
                return False
    return True


@nb.njit(cache=True, nogil=True, inline="always")
def _tap(iscr, j, t, n, mode, y):  # pragma: no cover - numba
    """Input index of tap ``t`` of pixel ``j`` along x (``y`` False) or y; -1 outside (nodata/constant)."""
    k = iscr[_BY if y else _BX, j] + t
    return k if iscr[_IN, j] else map_index(k, n, mode)


@borrowing_jit()
def _status(mk, all_valid, iscr, fscr, j, K, mode, in_w, in_h):  # pragma: no cover - numba
    """True when every tap of non-zero weight of pixel ``j`` is valid (mapped taps, fill mode)."""
    for ty in range(K):
        yy = _tap(iscr, j, ty, in_h, mode, True)
        wy = fscr[K + ty, j]
        for tx in range(K):
            xx = _tap(iscr, j, tx, in_w, mode, False)
            if wy * fscr[tx, j] == 0.0:
                continue
            if yy < 0 or xx < 0:
                if mode != CONSTANT:
                    return False
            elif not (all_valid or mk[yy, xx]):
                return False
    return True


@borrowing_jit()
def _generic(plane, orow, iscr, fscr, j, K, mode, fill_value, in_w, in_h):  # pragma: no cover - numba
    """One band of one valid pixel through the mapped taps (fill mode), summed in the work precision."""
    acc = _as_work(0.0, plane)
    for ty in range(K):
        yy = _tap(iscr, j, ty, in_h, mode, True)
        wy = fscr[K + ty, j]
        for tx in range(K):
            w = wy * fscr[tx, j]
            if w == 0.0:
                continue
            xx = _tap(iscr, j, tx, in_w, mode, False)
            if yy < 0 or xx < 0:
                if mode == CONSTANT:
                    acc += w * _as_work(fill_value, plane)
            else:
                acc += w * _as_work(plane[yy, xx], plane)
    _put(orow, j, acc)


def _keep(orow, tmp, j, v):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


@overload(_keep)
def _keep_ov(orow, tmp, j, v):  # pragma: no cover - numba typing
    """Pixel ``j``'s value: straight into a float row of the work dtype; into ``tmp`` for an integer row, which
    :func:`_store_kept` then rounds and saturates in one vectorised pass (per pixel, beside the gathers, the
    rounding ran scalar)."""
    if isinstance(orow.dtype, types.Integer):
        def kept(orow, tmp, j, v):
            tmp[j] = v
        return kept

    def direct(orow, tmp, j, v):
        orow[j] = v
    return direct


def _store_kept(orow, tmp, n):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


@overload(_store_kept)
def _store_kept_ov(orow, tmp, n):  # pragma: no cover - numba typing
    """``orow[:n]`` from the values :func:`_keep` left in ``tmp``, rounded and saturated (integer rows only)."""
    if isinstance(orow.dtype, types.Integer):
        def store(orow, tmp, n):
            for j in range(n):
                _put(orow, j, tmp[j])
        return store
    return lambda orow, tmp, n: None


def _make_rows(INTERP: int):
    """The row kernel of one interpolation code (0 nearest, 1 bilinear, 2 cubic): ``INTERP`` is a closure
    constant, so numba prunes the other two before typing and a dtype's first call compiles only the code it runs
    (one kernel of all three compiled for 1.7-2.6 s per dtype)."""

    def rows(src, mask, all_valid, cf, dst, dmask, r0, r1, mode, fill_value, out_fill, a, iscr, fscr, tscr,
             st, seen):  # pragma: no cover - numba
        # seen (bool, 1-D): empty, or one slot set when the rows written hold a NaN (tested every SCAN_VALUES values
        # of a band, as the warp's row kernels: kernels/nans.py), stopping there
        look = seen.shape[0] > 0
        sc = r0  # the first row not yet tested for NaN
        nbands, in_h, in_w = src.shape
        nm = dmask.shape[0]
        out_h = dst.shape[1]
        out_w = dst.shape[2]
        gh = cf.shape[1]
        K = 1 if INTERP == 0 else (2 if INTERP == 1 else 4)
        lead = 1 if INTERP == 2 else 0  # base tap below floor(): cubic starts one pixel to the left
        half = 0.0 if INTERP == 0 else 0.5
        small = in_w < K or in_h < K  # no tap window fits: every pixel through the generic rule
        off = iscr[_OFF]
        bxs = iscr[_BX]
        bys = iscr[_BY]
        bad = iscr[_BAD]
        ins = iscr[_IN]
        fdx = cf[0]
        fdy = cf[1]
        tmp = fscr[fscr.shape[0] - 1]  # the last row: an integer row's values before rounding (_keep)
        # bilinear: each band's four taps per pixel gathered into tscr's rows first (one word per tap row where two
        # pixels fit one: kernels/packed.py), then weighed in a loop over those contiguous rows, which vectorises;
        # the warp's gather (kernels/warp.py). The planes as (bands, pixels) for it
        flat_src = src.reshape(nbands, in_h * in_w)
        t00, t01, t10, t11 = tscr[0], tscr[min(1, tscr.shape[0] - 1)], tscr[min(2, tscr.shape[0] - 1)], tscr[-1]
        wa = tscr[0]  # cubic: each pixel's eight weights side by side (x, then y), as the warp's
        for i in range(r0, r1):
            t = (i + 0.5) * (gh - 1) / out_h
            ra = min(int(t), gh - 2)
            rf = t - ra
            rg = 1.0 - rf
            dx0 = fdx[ra]
            dx1 = fdx[ra + 1]
            dy0 = fdy[ra]
            dy1 = fdy[ra + 1]
            for j in range(out_w):
                dx = rg * dx0[j] + rf * dx1[j]
                dy = rg * dy0[j] + rf * dy1[j]
                xs = j + 0.5 + dx - half
                ys = i + 0.5 + dy - half
                fxs = np.floor(xs)
                fys = np.floor(ys)
                fx = xs - fxs
                fy = ys - fys
                bx = np.int64(fxs) - lead
                by = np.int64(fys) - lead
                bxs[j] = bx
                bys[j] = by
                inside = bx >= 0 and bx + K <= in_w and by >= 0 and by + K <= in_h and not small
                ins[j] = inside
                cx = min(max(bx, 0), in_w - K)
                cy = min(max(by, 0), in_h - K)
                off[j] = max(cy, 0) * in_w + max(cx, 0)
                if INTERP == 0:
                    fscr[0, j] = 1.0
                    fscr[1, j] = 1.0
                elif INTERP == 1:
                    fscr[0, j] = 1.0 - fx
                    fscr[1, j] = fx
                    fscr[2, j] = 1.0 - fy
                    fscr[3, j] = fy
                else:
                    fscr[0, j], fscr[1, j], fscr[2, j], fscr[3, j] = keys4(fx, a)
                    fscr[4, j], fscr[5, j], fscr[6, j], fscr[7, j] = keys4(fy, a)
            if INTERP == 2:  # the weights side by side for cubic4_rows, in a loop of their own: stored there from
                # the loop above (float64 to float32 and eight apart) they made a 1 x 512² cubic remap 1.7x slower
                for j in range(out_w):
                    k8 = PIXEL_WEIGHTS * j
                    for k in range(PIXEL_WEIGHTS):
                        wa[k8 + k] = fscr[k, j]
            for p in range(nm):
                mk = mask[p if mask.shape[0] > 1 else 0]
                nbad = 0
                for j in range(out_w):
                    if ins[j] and (all_valid or _taps_valid(mk, bxs[j], bys[j], K)):
                        st[j] = 2
                    else:
                        st[j] = 1 if _status(mk, all_valid, iscr, fscr, j, K, mode, in_w, in_h) else 0
                        bad[nbad] = j
                        nbad += 1
                mrow = dmask[p, i]
                for j in range(out_w):
                    mrow[j] = st[j] != 0
                b0 = 0 if nm == 1 else p
                b1 = nbands if nm == 1 else p + 1
                for bb in range(b0, b1):
                    plane = src[bb]
                    flat = plane.reshape(in_h * in_w)
                    orow = dst[bb, i]
                    uw = np.uint64(in_w)
                    # branch-free over the whole row from clamped offsets; the fix-up list overwrites the rest
                    if small:
                        pass
                    elif INTERP == 0:
                        for j in range(out_w):
                            orow[j] = flat[np.uint64(off[j])]
                    elif INTERP == 1:
                        fx0 = fscr[0]
                        fx1 = fscr[1]
                        fy0 = fscr[2]
                        fy1 = fscr[3]
                        _bl_gather(flat_src, bb, off, t00, t01, t10, t11, 0, out_w, in_w)
                        for j in range(out_w):
                            p00, p01, p10, p11 = _bl_taps(t00, t01, t10, t11, j, plane)
                            _keep(orow, tmp, j, fy0[j] * (fx0[j] * p00 + fx1[j] * p01)
                                  + fy1[j] * (fx0[j] * p10 + fx1[j] * p11))
                        _store_kept(orow, tmp, out_w)
                    else:  # each tap row one vector load, weighed in registers in the loop's order (kernels/taps4.py)
                        for j in range(out_w):
                            _keep(orow, tmp, j, cubic4_rows(flat_src, bb, np.uint64(off[j]), uw, wa, np.uint64(j)))
                        _store_kept(orow, tmp, out_w)
                    for k in range(nbad):
                        j = bad[k]
                        if st[j] == 0:
                            orow[j] = out_fill
                        else:
                            _generic(plane, orow, iscr, fscr, j, K, mode, fill_value, in_w, in_h)
            if look:
                sc = test_written_rows(dst, 0, nbands, sc, i, r1, seen)
                if sc < 0:
                    return

    return rows


def _jit_rows(code: int, name: str):
    """The row kernel of one interpolation code as its own compiled function (its own cache file)."""
    rows = _make_rows(code)
    rows.__name__ = rows.__qualname__ = name
    return borrowing_jit()(rows)


_rows_nearest = _jit_rows(0, "_rows_nearest")
_rows_bilinear = _jit_rows(1, "_rows_bilinear")
_rows_cubic = _jit_rows(2, "_rows_cubic")


# Each row kernel through its address (kernels/indirect.py): linked in, it would be compiled again here. One entry
# per interpolation, written out: call_address types its call with the kernel it names (and so compiles it), and
# a factory's closure would hold a dispatcher, which numba's cache key cannot hash stably
@nb.njit(cache=True, nogil=True, parallel=True)
def _remap_par_nearest(addr, src, mask, all_valid, cf, dst, dmask, mode, fill_value, out_fill, a, iscr,
                       fscr, tscr, st, seen):  # pragma: no cover - numba
    nchunks = iscr.shape[0]
    out_h = dst.shape[1]
    for c in nb.prange(nchunks):
        k = np.int64(c)  # one signature of the row kernel (the index is unsigned in the gufunc)
        call_address(_rows_nearest, addr, (src, mask, all_valid, cf, dst, dmask, k * out_h // nchunks,
                                           (k + 1) * out_h // nchunks, mode, fill_value, out_fill, a, iscr[k], fscr[k],
                                           tscr[k], st[k], seen[k:]))


@nb.njit(cache=True, nogil=True, parallel=True)
def _remap_par_bilinear(addr, src, mask, all_valid, cf, dst, dmask, mode, fill_value, out_fill, a, iscr,
                        fscr, tscr, st, seen):  # pragma: no cover - numba
    nchunks = iscr.shape[0]
    out_h = dst.shape[1]
    for c in nb.prange(nchunks):
        k = np.int64(c)  # one signature of the row kernel (the index is unsigned in the gufunc)
        call_address(_rows_bilinear, addr, (src, mask, all_valid, cf, dst, dmask, k * out_h // nchunks,
                                            (k + 1) * out_h // nchunks, mode, fill_value, out_fill, a, iscr[k], fscr[k],
                                            tscr[k], st[k], seen[k:]))


@nb.njit(cache=True, nogil=True, parallel=True)
def _remap_par_cubic(addr, src, mask, all_valid, cf, dst, dmask, mode, fill_value, out_fill, a, iscr,
                     fscr, tscr, st, seen):  # pragma: no cover - numba
    nchunks = iscr.shape[0]
    out_h = dst.shape[1]
    for c in nb.prange(nchunks):
        k = np.int64(c)  # one signature of the row kernel (the index is unsigned in the gufunc)
        call_address(_rows_cubic, addr, (src, mask, all_valid, cf, dst, dmask, k * out_h // nchunks,
                                         (k + 1) * out_h // nchunks, mode, fill_value, out_fill, a, iscr[k], fscr[k],
                                         tscr[k], st[k], seen[k:]))


#: interpolation code -> (row kernel, its parallel entry)
_ENTRIES = {0: (_rows_nearest, _remap_par_nearest), 1: (_rows_bilinear, _remap_par_bilinear),
            2: (_rows_cubic, _remap_par_cubic)}


_ALL_VALID = np.ones((1, 1, 1), dtype=np.bool_)
#: the kernels' ``seen`` when a call does not look for NaN (no slot)
_NOT_LOOKING = np.zeros(0, dtype=np.bool_)


def remap_field(
    src: np.ndarray,
    mask: np.ndarray | None,
    field: np.ndarray,
    interpolation: str = "bilinear",
    fill: str = "nodata",
    fill_value: float = 0.0,
    out_fill: float = 0.0,
    *,
    out: np.ndarray | None = None,
    return_nan: bool = False,
) -> tuple:
    """Resample ``(bands, rows, cols)`` through a coarse displacement field (output shape = input shape).

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols), or None
        ``planes`` is 1 (shared) or ``bands``; None means every pixel valid.
    field : ndarray (2, gh, gw)
        ``dx`` and ``dy`` in input pixels at the nodes (see the module
        docstring), ``gh, gw >= 2``, finite.
    interpolation : {"nearest", "bilinear", "cubic"}
        Resampling of the data.
    fill : {"nodata", "constant", "edge", "reflect", "mirror", "wrap"}
        What lies outside the input.
    fill_value : float
        The outside value for ``fill="constant"``.
    out_fill : float
        Stored under invalid output pixels.
    out : ndarray, optional
        Destination of ``src``'s shape and dtype (C-contiguous), sharing no
        memory with ``src``, ``mask`` or ``field``.
    return_nan : bool
        As :func:`geoaug.kernels.warp.warp_affine`'s: for a float ``src`` with
        ``mask`` None, append a flag, True when an output row came out with a
        NaN (the kernels stop there; the result is then unfinished). False
        means the result is bit for bit that of a call with the NaN pixels
        masked, and the input was never scanned.

    Returns
    -------
    tuple
        The data and the mask ``(planes, rows, cols)`` (1 plane when ``mask`` is None); with ``return_nan``
        the flag third.
    """
    try:
        interp = INTERPOLATIONS[interpolation]
        mode = FILL_MODES[fill]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown interpolation {interpolation!r} or fill {fill!r}") from None
    src = np.ascontiguousarray(src)
    if src.ndim != 3 or 0 in src.shape:
        raise ParameterError(f"src must be a non-empty (bands, rows, cols) array, got shape {src.shape}")
    dt = src.dtype
    if dt.name not in _DTYPES:
        raise UnsupportedDtypeError(f"remap_field handles {', '.join(_DTYPES)}, not {dt}")
    nbands, h, w = src.shape
    field = np.ascontiguousarray(field, dtype=np.float64)
    if field.ndim != 3 or field.shape[0] != 2 or field.shape[1] < 2 or field.shape[2] < 2:
        raise ParameterError(f"field must be (2, gh, gw) with gh, gw >= 2, got shape {field.shape}")
    if not np.isfinite(field).all() or np.abs(field).max() > 1e9:
        raise ParameterError("field must hold finite displacements (at most 1e9 pixels)")
    if mask is None:
        nm, all_valid, mask3 = 1, True, _ALL_VALID
    else:
        mask3 = np.ascontiguousarray(mask)
        if mask3.dtype != np.bool_ or mask3.ndim != 3 or mask3.shape[1:] != (h, w) or mask3.shape[0] not in (
                1, nbands):
            raise ParameterError(f"mask must be bool (1 or {nbands}, {h}, {w}), got {mask3.dtype} {mask3.shape}")
        nm = mask3.shape[0]
        all_valid = bool(mask3.all())
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not (np.isfinite(out_fill) and info.min <= out_fill <= info.max):
            raise ParameterError(f"out_fill {out_fill!r} does not fit {dt}")
    out = out_buffer(out, src.shape, dt, "out", (src, mask, field))
    dmask = np.empty((nm, h, w), dtype=np.bool_)
    gw = field.shape[2]
    tcol = (np.arange(w) + 0.5) * (gw - 1) / w
    colb = np.minimum(tcol.astype(np.int64), gw - 2)
    colf = tcol - colb
    # the field's rows interpolated to every output column once per call, (2, gh, w): the row kernel then only
    # blends two of these rows per output row, from contiguous loads (a gather per pixel kept its loop scalar).
    # The same operations in the same order as in the kernel before, so the same bits. Its rows, and the scratch
    # rows below, are _ROW_PAD elements longer than the output row (not read): at 512 columns, rows of int64 or
    # float64 would be exactly 4 kB apart, and such rows alias in the load/store unit (kernels/warp.py)
    sw = w + _ROW_PAD
    cf = np.empty((2, field.shape[1], sw))
    cf[:, :, :w] = (1.0 - colf) * field[:, :, colb] + colf * field[:, :, colb + 1]
    K = _TAPS[interp]
    work_dt = np.float64 if dt in (np.float64, np.int32) else np.float32
    work = nbands * h * w * K * K
    nthreads = threads.num_threads() if work >= PARALLEL_MIN_WORK else 1
    nchunks = min(h, 8 * nthreads) if nthreads > 1 else 1
    iscr = np.empty((nchunks, _NI, sw), dtype=np.int64)
    fscr = np.empty((nchunks, 2 * K + 1, sw), dtype=work_dt)  # the weights, then _keep's row
    st = np.empty((nchunks, w), dtype=np.uint8)
    # the bilinear gather's rows (warp.gather_rows); for cubic one row of each pixel's eight weights in the work
    # dtype; a row of one item for nearest, which does not read it
    if interp == 2:
        tscr = np.empty((nchunks, 1, PIXEL_WEIGHTS * sw), dtype=work_dt)
    else:
        trows, tdt = gather_rows(dt)
        tscr = np.empty((nchunks, trows, sw if interp == 1 else 1), dtype=tdt)
    fill_value, out_fill = float(fill_value), dt.type(out_fill)
    looking = return_nan and mask is None and dt.kind == "f"
    seen = np.zeros(nchunks, dtype=np.bool_) if looking else _NOT_LOOKING

    def one_call() -> tuple:  # the serial call's arguments: the types the address is looked up for
        return (src, mask3, all_valid, cf, out, dmask, 0, h, mode, fill_value, out_fill, CUBIC_A,
                iscr[0], fscr[0], tscr[0], st[0], seen)

    rows, parallel = _ENTRIES[interp]
    with threads.launch_lock:
        if nchunks > 1:
            addr = indirect.address(rows, (dt, src.flags.num, mask3.flags.num, cf.flags.num, out.flags.num),
                                    one_call)
            parallel(addr, src, mask3, all_valid, cf, out, dmask, mode, fill_value, out_fill, CUBIC_A,
                     iscr, fscr, tscr, st, seen)
        else:  # the row kernel itself, straight from Python (no compiled level in between to compile it again)
            rows(*one_call())
    if not return_nan:
        return out, dmask
    return out, dmask, 1 in seen.tobytes()  # (a bytes search: .any() costs more here)


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
