#!/usr/bin/env python3
"""Where 2 threads pay, and what an in-place store costs: the two measurements behind the kernels' thresholds.

1. **Thresholds.** Each kernel runs on one thread below a size (``PARALLEL_MIN_WORK`` of the warp
   and the remap, ``SERIAL_BELOW`` of the copies, resize, stores and blur). For transforms around
   those sizes, one process interleaves (warm-up first, each timed call right after an untimed
   one, best of ``--repeats``) the call at 1 thread and at 2 threads, with the thresholds as the
   kernels have them (*now*) and with the values they had before (*old*: warp and remap 1<<21,
   copies 2 MB, resize and stores 1<<18 values, blur 1<<18). It prints each time and the
   2-thread / 1-thread ratio.
2. **In place.** ``store_affine`` and ``store_bands`` with the output in the input's memory, as pipelines run their
   spectral steps on their own intermediates: the compiled entry given the one array for both
   (what ``store_affine`` runs now), the entry given two arguments that are the same memory (what
   it ran before: LLVM's overlap guard fails and the scalar loop runs), and into a new array.
3. **Indirect.** The parallel warp, blur and copy entries call their row (chunk, unit) kernel through its address
   (``geoaug/kernels/indirect.py``) instead of linking it in (which compiled it again). At 2
   threads, the entry as it is and a copy of the linked entry it replaced (compiled here, outside
   the cache), given the same arguments; and the Python side's address lookup (a hit).

Usage::

    python scripts/bench_threads.py                    # all three
    python scripts/bench_threads.py --only inplace --repeats 61
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import make_array, timeit

#: (module, attribute, value before the thresholds were lowered)
OLD = [("warp", "PARALLEL_MIN_WORK", 1 << 21), ("remap", "PARALLEL_MIN_WORK", 1 << 21),
       ("flip", "SERIAL_BELOW", 1 << 21), ("resize", "SERIAL_BELOW", 1 << 18),
       ("store", "SERIAL_BELOW", 1 << 18), ("blur", "SERIAL_BELOW", 1 << 18)]
CASES = [(13, 64), (1, 128), (1, 256), (13, 120), (4, 256), (1, 512)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["thresholds", "inplace", "indirect"], default=None)
    p.add_argument("--repeats", type=int, default=41, help="timed calls of each (best of; >= 21)")
    a = p.parse_args(argv)
    if a.repeats < 21:
        p.error("--repeats must be >= 21")
    return a


def thresholds(repeats: int) -> None:
    import numba

    import geoaug
    from geoaug import kernels

    mods = {name: getattr(kernels, name) for name, _, _ in OLD}
    now = {(n, attr): getattr(mods[n], attr) for n, attr, _ in OLD}
    if numba.config.NUMBA_NUM_THREADS < 2:
        raise SystemExit("needs 2 numba threads (NUMBA_NUM_THREADS >= 2)")

    def setting(which: str, n: int) -> None:
        for name, attr, old in OLD:
            setattr(mods[name], attr, old if which == "old" else now[(name, attr)])
        numba.set_num_threads(n)

    print("op                         case          now 1t    now 2t   2t/1t    old 2t   old 2t/1t")
    for bands, side in CASES:
        a = make_array(bands, side, "uint16")
        r = geoaug.GeoRaster.from_array(a)
        ops = {"Affine bilinear": geoaug.Affine(rotate=17, p=1), "Affine nearest": geoaug.Affine(
            rotate=17, interpolation="nearest", p=1), "HorizontalFlip": geoaug.HorizontalFlip(p=1),
            "Rot90": geoaug.Rot90(k=1, p=1), "Resize 0.75": geoaug.Resize(round(0.75 * side), round(0.75 * side)),
            "Normalize": geoaug.Normalize([1000.0] * bands, [300.0] * bands),
            "GaussianBlur": geoaug.GaussianBlur(sigma=1.0, p=1), "GridDistortion": geoaug.GridDistortion(p=1)}
        for name, t in ops.items():
            n1, n2, o2 = _one_op(t, r, setting, repeats)
            setting("now", numba.config.NUMBA_NUM_THREADS)
            print(f"{name:26s} {bands}x{side}²{'':<6} {n1 * 1e3:7.1f} µs {n2 * 1e3:7.1f} µs  {n2 / n1:5.2f} "
                  f"{o2 * 1e3:7.1f} µs  {o2 / n1:5.2f}")


def _one_op(t, r, setting, repeats: int) -> tuple[float, float, float]:
    """Best ms of ``t`` on ``r``: now at 1 thread, now at 2, old thresholds at 2 (one draw, interleaved)."""
    import numpy as np

    params = t.sample(np.random.default_rng(0), r)

    def call(which: str, n: int):
        def f():
            setting(which, n)
            return t.apply(r, params)
        return f

    best, _ = timeit({k: call(*k) for k in (("now", 1), ("now", 2), ("old", 2))}, repeats)
    return best[("now", 1)], best[("now", 2)], best[("old", 2)]


def inplace(repeats: int) -> None:
    import numba

    numba.set_num_threads(1)
    print("1 thread                                 one array (now)   same memory, two args (before)   new array")
    for fn, what in ((_stores, "store_affine"), (_stores_new, "store_bands")):
        for bands, side in ((1, 512), (13, 120), (13, 512)):
            best = fn(bands, side, repeats)
            print(f"{what:12s} {bands}x{side}² uint16, all valid {best['one'] * 1e3:9.1f} µs "
                  f"{best['two'] * 1e3:12.1f} µs ({best['two'] / best['one']:.1f}x) {best['new'] * 1e3:9.1f} µs")


def _stores_new(bands: int, side: int, repeats: int) -> dict[str, float]:
    """The same for ``store_bands`` (values computed elsewhere, the per-pixel store of non-linear steps)."""
    import numpy as np

    from geoaug.kernels import store

    x = make_array(bands, side, "uint16").reshape(-1)
    new = x.astype(np.float32) * 0.9 + 11
    y, z, o = x.copy(), x.copy(), np.empty_like(x)
    v, nd = np.ones(1, bool), np.uint16(0)
    per = np.array([side, side], np.int64)
    lo, hi = np.float32(0), np.float32(65535)
    rows = bands * side
    fns = {"one": lambda: store._store_ser_ip(0, rows, per, 0, new, v, y, lo, hi, True, True, False, False, nd, nd),
           "two": lambda: store._store_ser(0, rows, per, 0, new, z, v, z, lo, hi, True, True, False, False, nd, nd),
           "new": lambda: store._store_ser(0, rows, per, 0, new, x, v, o, lo, hi, True, True, False, False, nd, nd)}
    return timeit(fns, repeats)[0]


def _stores(bands: int, side: int, repeats: int) -> dict[str, float]:
    """Best ms of the all-valid store: in place through the one-array entry, through two arguments, and into a new
    array."""
    import numpy as np

    from geoaug.kernels import store

    x = make_array(bands, side, "uint16").reshape(-1)
    y, z, o = x.copy(), x.copy(), np.empty_like(x)
    a = np.zeros(bands, np.float32)
    s = np.ones(bands, np.float32)
    c = np.full(bands, 15.9, np.float32)
    lo, hi = np.float32(0), np.float32(65535)
    plane = side * side
    v, nd = np.ones(1, bool), np.uint16(0)  # no mask planes, no nodata: the all-valid store
    fns = {"one": lambda: store._masked_ser_ip(0, bands, 1, plane, 0, a, s, c, False, v, y, lo, hi, True, False, False,
                                               nd, nd),
           "two": lambda: store._masked_ser(0, bands, 1, plane, 0, z, a, s, c, False, v, z, lo, hi, True, False, False,
                                            nd, nd),
           "new": lambda: store._masked_ser(0, bands, 1, plane, 0, x, a, s, c, False, v, o, lo, hi, True, False, False,
                                            nd, nd)}
    return timeit(fns, repeats)[0]


def _linked_entries() -> dict[str, object]:
    """The parallel warp entries as they were before kernels/indirect.py: the row kernel linked in."""
    import numba as nb
    import numpy as np

    from geoaug.kernels import blur as blur_mod
    from geoaug.kernels import flip, nearest, warp

    rows_bilinear, tap_codes, nearest_rows = warp._rows_bilinear, warp._tap_codes, nearest.nearest_rows

    @nb.njit(nogil=True, parallel=True)
    def bilinear(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill_value, out_fill, renorm, a,
                 skip_valid_rows, row_ok, iscr, fscr, tscr, st, ec, group, nrc, seen):  # pragma: no cover - numba
        nunits = iscr.shape[0]
        out_h = dst.shape[1]
        nbands = src.shape[0]
        if not all_valid:
            tap_codes(mask, ec, 2, in_w)
        for c in nb.prange(nunits):
            k = np.int64(c)
            gi = k // nrc
            rc = k - gi * nrc
            ga = gi * group
            rows_bilinear(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, rc * out_h // nrc,
                          (rc + 1) * out_h // nrc, ga, min(ga + group, nbands), mode, fill_value, out_fill, renorm,
                          a, skip_valid_rows, row_ok, iscr[k], fscr[k], tscr[k], st[k], ec, group, seen[k:])

    @nb.njit(nogil=True, parallel=True)
    def nearest_par(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, mode, fill, out_fill, skip_valid_rows,
                    row_ok, off, st, runs, group, per_pass, tile, nrc, seen):  # pragma: no cover - numba
        nunits = off.shape[0]
        out_h = dst.shape[1]
        nbands = src.shape[0]
        for c in nb.prange(nunits):
            k = np.int64(c)
            gi = k // nrc
            rc = k - gi * nrc
            ga = gi * group
            nearest_rows(src, mask, all_valid, in_h, in_w, win, m, dst, dmask, rc * out_h // nrc,
                         (rc + 1) * out_h // nrc, ga, min(ga + group, nbands), mode, fill, out_fill, skip_valid_rows,
                         row_ok, off[k], st[k], runs[k], group, per_pass, tile, seen[k:])

    chunk = blur_mod._chunk

    @nb.njit(nogil=True, parallel=True)
    def blur(nchunks, src, mask, all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp,
             acc):  # pragma: no cover - numba
        for c in nb.prange(nchunks):
            chunk(c, nchunks, src, mask, all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp, acc)

    unit = flip._unit

    @nb.njit(nogil=True, parallel=True)
    def copy(p, s, d, ms, md):  # pragma: no cover - numba
        for k in nb.prange(p[0]):
            unit(k, p, s, d, ms, md)

    return {"bilinear": bilinear, "nearest": nearest_par, "blur": blur, "copy": copy}


def _entry_args(interp: str, bands: int, side: int) -> tuple[object, tuple]:
    """The parallel warp entry of ``interp`` and the arguments warp_affine gives it (caught on their way in) for a
    ``bands x side²`` uint16 raster rotated by 17 degrees."""
    from geoaug import geometry
    from geoaug.kernels import nearest, warp

    seen: list[tuple] = []
    if interp == "nearest":
        entry = nearest.nearest_parallel
    else:
        serial, entry = warp._ENTRIES[1]

    def spy(*a: object) -> object:
        seen.append(a)
        return entry(*a)

    before = warp.PARALLEL_MIN_WORK
    try:
        warp.PARALLEL_MIN_WORK = 0
        if interp == "nearest":
            nearest.nearest_parallel = spy
        else:
            warp._ENTRIES[1] = (serial, spy)
        warp.warp_affine(make_array(bands, side, "uint16"), None, geometry.affine_matrix((side, side), rotate=17.0),
                         (side, side), interp, fill="constant")
    finally:
        warp.PARALLEL_MIN_WORK = before
        if interp == "nearest":
            nearest.nearest_parallel = entry
        else:
            warp._ENTRIES[1] = (serial, entry)
    return entry, seen[0]


def indirect(repeats: int) -> None:
    import numba
    import numpy as np

    from geoaug.kernels import indirect as ind
    from geoaug.kernels import warp

    if numba.config.NUMBA_NUM_THREADS < 2:
        raise SystemExit("needs 2 numba threads (NUMBA_NUM_THREADS >= 2)")
    numba.set_num_threads(2)
    linked = _linked_entries()
    print("2 threads, uint16, all valid   through the address (now)   linked in (before)   now / before")
    for interp in ("nearest", "bilinear"):
        for bands, side in ((13, 64), (1, 256), (1, 512), (13, 512)):
            entry, a = _entry_args(interp, bands, side)
            before = linked[interp]
            best = timeit({"now": lambda e=entry, a=a: e(*a), "before": lambda b=before, a=a: b(*a[1:])}, repeats)[0]
            print(f"{interp:8s} {bands:3d}x{side}² {best['now'] * 1e3:22.1f} µs {best['before'] * 1e3:17.1f} µs "
                  f"{best['now'] / best['before']:12.3f}")
    from geoaug.kernels import blur

    for bands, side in ((13, 64), (4, 256), (13, 512)):  # bands in chunks: one band runs on one thread
        seen: list[tuple] = []
        entry = blur._conv_par

        def spy(*a: object, entry=entry, seen=seen) -> object:
            seen.append(a)
            return entry(*a)

        blur._conv_par, before = spy, blur.SERIAL_BELOW
        try:
            blur.SERIAL_BELOW = 0
            blur.convolve_separable(make_array(bands, side, "uint16"), None, blur.gaussian_taps(1.0), "reflect")
        finally:
            blur._conv_par, blur.SERIAL_BELOW = entry, before
        a, old = seen[0], linked["blur"]
        best = timeit({"now": lambda e=entry, a=a: e(*a), "before": lambda b=old, a=a: b(*a[1:])}, repeats)[0]
        print(f"blur     {bands:3d}x{side}² {best['now'] * 1e3:22.1f} µs {best['before'] * 1e3:17.1f} µs "
              f"{best['now'] / best['before']:12.3f}")
    from geoaug.kernels import flip

    for op, bands, side in (("rot90", 4, 512), ("rot90", 13, 512), ("rot90", 200, 256), ("vflip", 13, 512),
                            ("hflip", 4, 512)):  # the copies at 2 threads: every unit in the parallel entry
        a = make_array(bands, side, "uint16")
        plan = {"rot90": (0, 0, 1, side - 1, -1, 0), "vflip": (side - 1, -1, 0, 0, 0, 1),
                "hflip": (0, 1, 0, side - 1, 0, -1)}[op]
        _, kind, params = flip._launch(a.shape, a.itemsize, plan, side, side, 0, 2)
        sv, dv, none = a.ravel().view(kind), np.empty_like(a).ravel().view(kind), flip._NO_MASK
        addr = flip.copy_address(params, sv, dv, none, none)
        best = timeit({"now": lambda a=(addr, params, sv, dv, none, none): flip._copy_par(*a),
                       "before": lambda a=(params, sv, dv, none, none): linked["copy"](*a)}, repeats)[0]
        print(f"{op:8s} {bands:3d}x{side}² {best['now'] * 1e3:22.1f} µs {best['before'] * 1e3:17.1f} µs "
              f"{best['now'] / best['before']:12.3f}")
    src = np.zeros((13, 64 * 64), np.uint16)
    key = (src.dtype, src.flags.num, src.flags.num, src.flags.num, src.flags.num, src.flags.num)
    ind._ADDRESSES[(warp._rows_bilinear, key)] = 1
    try:
        best = timeit({"hit": lambda: ind.address(warp._rows_bilinear, (src.dtype, src.flags.num, src.flags.num,
                                                                        src.flags.num, src.flags.num,
                                                                        src.flags.num), tuple)}, repeats)[0]
    finally:
        del ind._ADDRESSES[(warp._rows_bilinear, key)]
    print(f"address lookup (a hit, key of 5 arrays' flags): {best['hit'] * 1e3:.2f} µs")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only in (None, "thresholds"):
        thresholds(args.repeats)
    if args.only in (None, "inplace"):
        inplace(args.repeats)
    if args.only in (None, "indirect"):
        indirect(args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
