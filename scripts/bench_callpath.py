#!/usr/bin/env python3
"""The Python cost of one transform call: geoaug on small chips against the kernel and ``np.copy``.

A training loop calls a transform on small chips, so what a call costs besides the kernel
matters. Every case is timed one call at a time with :func:`time.perf_counter`, the cases
interleaved round after round in one process (so a noisy neighbour slows every case alike; the
order is shuffled every round, so no case always runs right after a big one), after a warm-up;
the figure is the best (minimum) of ``--repeats`` rounds (>= 2001). numba runs on one thread.
``np.copy`` of the same array is the floor.

Cases (13x64x64 uint16 unless named otherwise):

* ``hflip``, ``vflip``, ``rot90`` (``Rot90(k=1)``), ``affine`` (``Affine(rotate=17)``),
  ``resize`` (``Resize(48, 48)``), ``normalize`` (``Normalize(mean, std)``), each ``p=1``,
  called without ``rng`` on a plain ndarray (``/array``) and on a GeoRaster with a
  north-up geotransform and a CRS (``/raster``);
* ``hflip+rng/array``: the same flip given a ``numpy.random.Generator``;
* ``pipeline``: the README's pipeline ("In 15 lines": flip, rot90, affine, brightness,
  PCA jitter), ``rng`` given, on both kinds;
* ``affine_nearest``, ``affine_cubic``: ``Affine(rotate=17)`` with those interpolations, both kinds;
  ``affine_4x4``: ``Affine(rotate=17)`` of a 13x4x4 chip, whose kernel is next to nothing (a warp
  call's own cost); ``rrc``: ``RandomResizedCrop(64, 64, scale=(0.5, 0.5), ratio=(1, 1))``, ``rng`` given;
* ``p0`` (a ``HorizontalFlip(p=0)`` call, the fixed cost) and ``hflip_1x1`` (a 13x1x1 flip);
* ``kernel.index_copy``: the flip's copy kernel alone; ``kernel.warp_affine``: the bilinear warp
  function ``affine`` calls (``geoaug.kernels.warp.warp_affine``); ``np.copy``: the floor.

``--cold MB``: before every timed call, copy a buffer of that many megabytes (untimed), as the kernel of a
large raster sweeps the caches between a training loop's calls: the same Python then runs with its code and
data out of the core's caches (what that costs: docs/benchmarks.md, "The cost of one call").

Usage::

    python scripts/bench_callpath.py                  # 2001 rounds, prints a table
    python scripts/bench_callpath.py --repeats 5001 --json out.json
    python scripts/bench_callpath.py --cold 4         # each call right after a 4 MB copy
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if __name__ == "__main__":  # run as a script: one numba thread from the start (never set on import: a test
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # process's numba must keep the thread count it launched)

MIN_REPEATS = 2001


def cases() -> dict[str, Callable[[], object]]:
    """Name -> a zero-argument callable doing one call of the case."""
    import numpy as np
    from affine import Affine as GeoAffine

    import geoaug
    from geoaug import geometry
    from geoaug.kernels.flip import index_copy
    from geoaug.kernels.warp import warp_affine

    rs = np.random.default_rng(0)
    a = rs.integers(0, 10000, (13, 64, 64), dtype=np.uint16)
    tiny = rs.integers(0, 10000, (13, 1, 1), dtype=np.uint16)
    crs = None
    try:
        from rasterio.crs import CRS

        crs = CRS.from_epsg(32633)
    except ImportError:  # pragma: no cover - rasterio is a core dependency
        pass
    r = geoaug.GeoRaster.from_array(a, transform=GeoAffine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0), crs=crs)
    mean, std = [1000.0 + 10 * i for i in range(13)], [500.0 + i for i in range(13)]
    single = {
        "hflip": geoaug.HorizontalFlip(p=1),
        "vflip": geoaug.VerticalFlip(p=1),
        "rot90": geoaug.Rot90(k=1, p=1),
        "affine": geoaug.Affine(rotate=17),
        "resize": geoaug.Resize(48, 48),
        "normalize": geoaug.Normalize(mean, std),
    }
    pipe = geoaug.Compose([
        geoaug.HorizontalFlip(), geoaug.Rot90(),
        geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
        geoaug.Brightness((-0.01, 0.01), value_range=(0, 10000)),
        geoaug.PCAJitter(std=0.1, value_range=(0, 10000)),
    ])
    gen = np.random.default_rng(0)
    out: dict[str, Callable[[], object]] = {"np.copy": lambda: np.copy(a)}
    plan = geometry.strided_plan(geometry.hflip((64, 64))[0], (64, 64), (64, 64))
    out["kernel.index_copy"] = lambda: index_copy(a, None, plan, (64, 64))
    for name, t in single.items():
        out[f"{name}/array"] = lambda t=t: t(a)
        out[f"{name}/raster"] = lambda t=t: t(r)
    out["hflip+rng/array"] = lambda: single["hflip"](a, rng=gen)
    out["pipeline/array"] = lambda: pipe(a, rng=gen)
    out["pipeline/raster"] = lambda: pipe(r, rng=gen)
    for interp in ("nearest", "cubic"):
        t = geoaug.Affine(rotate=17, interpolation=interp)
        out[f"affine_{interp}/array"] = lambda t=t: t(a)
        out[f"affine_{interp}/raster"] = lambda t=t: t(r)
    # a warp whose kernel is next to nothing: the call's own cost
    small = rs.integers(0, 10000, (13, 4, 4), dtype=np.uint16)
    rsmall = geoaug.GeoRaster.from_array(small, transform=GeoAffine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0),
                                         crs=crs)
    out["affine_4x4/array"] = lambda: single["affine"](small)
    out["affine_4x4/raster"] = lambda: single["affine"](rsmall)
    rrc = geoaug.RandomResizedCrop(64, 64, scale=(0.5, 0.5), ratio=(1.0, 1.0))
    out["rrc/array"] = lambda: rrc(a, rng=gen)
    out["rrc/raster"] = lambda: rrc(r, rng=gen)
    m17 = geometry.affine_matrix((64, 64), rotate=17)
    out["kernel.warp_affine"] = lambda: warp_affine(a, None, m17, (64, 64), "bilinear", return_all_valid=True)
    p0 = geoaug.HorizontalFlip(p=0)
    out["p0/array"] = lambda: p0(a)
    out["p0/raster"] = lambda: p0(r)
    out["hflip_1x1/array"] = lambda: single["hflip"](tiny)
    return out


def measure(funcs: dict[str, Callable[[], object]], repeats: int, warmup: int = 50,
            sweep: Callable[[], object] | None = None) -> dict[str, float]:
    """Best time in seconds of one call of each function over ``repeats`` interleaved rounds; ``sweep``, when
    given, is called (untimed) before every timed call."""
    for f in funcs.values():
        for _ in range(warmup):
            f()
    best = dict.fromkeys(funcs, float("inf"))
    items = list(funcs.items())
    order = random.Random(0)
    clock = time.perf_counter
    for _ in range(repeats):
        order.shuffle(items)  # no case always follows the same one (a big case leaves the caches cold)
        for name, f in items:
            if sweep is not None:
                sweep()
            t0 = clock()
            f()
            dt = clock() - t0
            if dt < best[name]:
                best[name] = dt
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=MIN_REPEATS, help=f"rounds (>= {MIN_REPEATS})")
    ap.add_argument("--only", default="", help="comma-separated case names (np.copy is always run)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--cold", type=float, default=0.0, metavar="MB",
                    help="copy a buffer of this many MB before every timed call (caches swept; default 0: off)")
    args = ap.parse_args(argv)
    if args.repeats < MIN_REPEATS:
        ap.error(f"--repeats must be >= {MIN_REPEATS}")
    import numba

    funcs = cases()
    if args.only:
        keep = {s.strip() for s in args.only.split(",") if s.strip()} | {"np.copy"}
        unknown = keep - set(funcs)
        if unknown:
            ap.error(f"unknown cases {sorted(unknown)}; known: {sorted(funcs)}")
        funcs = {k: v for k, v in funcs.items() if k in keep}
    sweep = None
    if args.cold > 0:
        import numpy as np

        src = np.ones(int(args.cold * (1 << 20)), dtype=np.uint8)
        dst = np.empty_like(src)

        def sweep() -> None:
            np.copyto(dst, src)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        best = measure(funcs, args.repeats, sweep=sweep)
    finally:
        numba.set_num_threads(threads)
    floor = best["np.copy"]
    cold = f", each call after a {args.cold:g} MB copy" if args.cold > 0 else ""
    print(f"best of {args.repeats} interleaved calls, 1 thread{cold}; np.copy(13x64x64 uint16) = {floor * 1e6:.2f} us")
    print(f"{'case':<22}{'us':>9}{'x np.copy':>11}")
    for name, t in best.items():
        print(f"{name:<22}{t * 1e6:>9.2f}{t / floor:>11.2f}")
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "cold_mb": args.cold, "seconds": best}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
