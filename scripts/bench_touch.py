#!/usr/bin/env python3
"""A kernel's read ahead into cache (``TOUCH_BYTES``), on and off, in one process.

``--op resize``: ``geoaug.Resize`` to 0.75 of the side, whose kernel reads each block's input rows ahead
(``geoaug/kernels/resize.py``); ``--op rot90`` / ``--op transpose``: ``geoaug.Rot90(k=1, p=1)`` /
``geoaug.Transpose(p=1)``, whose copy reads each plane's source rows and output ahead
(``geoaug/kernels/flip.py``). On a GeoRaster, the read forced on (``TOUCH_BYTES = 0``) and off
(``TOUCH_BYTES`` above any input) in turn, each timed call right after an untimed one of the same setting;
best of ``--repeats``. Both settings must give the same bits (checked first). The copies read ahead only
where a plane fits :data:`geoaug.kernels.flip.TOUCH_PLANE_BYTES` and there are two bands per thread: other
cases time the same code twice.

Usage::

    python scripts/bench_touch.py --threads 1 12x256:uint16 200x256:uint16 13x512:float32
    python scripts/bench_touch.py --op rot90 --threads 2 200x256:uint16 26x512:float32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", help="BANDSxSIDE:DTYPE, e.g. 200x256:uint16")
    ap.add_argument("--op", choices=("resize", "rot90", "transpose"), default="resize")
    ap.add_argument("--threads", type=int, default=1, help="numba threads (at most NUMBA_NUM_THREADS)")
    ap.add_argument("--repeats", type=int, default=41)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import numba
    import numpy as np
    from affine import Affine

    import geoaug
    from geoaug.kernels import flip, resize

    numba.set_num_threads(args.threads)
    rs = np.random.default_rng(0)
    settings = {"off": 1 << 62, "on": 0}
    module = resize if args.op == "resize" else flip
    kept = module.TOUCH_BYTES

    def setting(bound: int) -> None:
        module.TOUCH_BYTES = bound
        flip._LAUNCHES.clear()  # the copies' launches hold what the bound decided

    try:
        for spec in args.cases:
            shape, dtype = spec.split(":")
            bands, side = map(int, shape.split("x"))
            dt = np.dtype(dtype)
            size = (bands, side, side)
            values = rs.integers(0, 10000, size) if dt.kind != "f" else rs.random(size) * 1e4
            r = geoaug.GeoRaster.from_array(values.astype(dt), transform=Affine(10, 0, 0, 0, -10, 0))
            if args.op == "resize":
                t = geoaug.Resize(round(0.75 * side), round(0.75 * side))
            else:
                t = geoaug.Rot90(k=1, p=1) if args.op == "rot90" else geoaug.Transpose(p=1)
            outs = {}
            for name, bound in settings.items():
                setting(bound)
                outs[name] = t(r).data
            if not np.array_equal(outs["on"], outs["off"]):
                print(f"{spec}: the read ahead changed the output", file=sys.stderr)
                return 1
            best = dict.fromkeys(settings, float("inf"))
            for _ in range(args.repeats):
                for name, bound in settings.items():
                    setting(bound)
                    t(r)
                    t0 = time.perf_counter()
                    t(r)
                    best[name] = min(best[name], time.perf_counter() - t0)
            print(f"{args.op} {args.threads} thread(s) {spec:18s} off {best['off'] * 1e3:8.3f} ms  "
                  f"on {best['on'] * 1e3:8.3f} ms  on / off {best['on'] / best['off']:.2f}  "
                  f"({r.data.nbytes / 2**20:.1f} MB)", flush=True)
    finally:
        setting(kept)
    return 0


if __name__ == "__main__":
    if "GLIBC_TUNABLES" not in os.environ:  # the timing regime of scripts/bench.py: glibc's steady heap
        from bench import MALLOC_STEADY

        os.environ["GLIBC_TUNABLES"] = MALLOC_STEADY
        os.environ["NUMBA_NUM_THREADS"] = str(parse().threads)  # numba's pool, before it is imported
        os.execv(sys.executable, [sys.executable, *sys.argv])
    sys.exit(main())
