"""The separable resize's pass orders against each other: kernel time per forced order, one thread.

``python scripts/bench_resize_orders.py [--bands 1 13] [--size 512] [--out 384] [--dtype uint16]``

For each band count and filter (bilinear, cubic), calls ``geoaug.kernels.resize.resize_separable`` on a
random raster with ``_ORDER`` forced to rows first, columns first (one row at a time) and lanes (eight rows
at once) in turn, three rounds of 100 calls each, and prints the best time per order in µs and the order
the plan picks by itself. Fill ``reflect``; an all-valid raster; the output buffer preallocated.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bands", type=int, nargs="+", default=[1, 13])
    ap.add_argument("--size", type=int, default=512, help="input side in pixels")
    ap.add_argument("--out", type=int, default=384, help="output side in pixels")
    ap.add_argument("--dtype", default="uint16")
    args = ap.parse_args(argv)

    import numba
    import numpy as np

    from geoaug.kernels import resize
    from geoaug.kernels.borders import FILL_MODES

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _run(args, np, resize, FILL_MODES)
    finally:
        numba.set_num_threads(before)
        resize._ORDER = None
    return 0


def _run(args, np, resize, FILL_MODES) -> None:
    dt = np.dtype(args.dtype)
    s = args.size / args.out
    names = {resize.ROWS: "rows", resize.COLUMNS: "columns", resize.LANES: "lanes"}
    print(f"{'case':<24}{'rows':>10}{'columns':>10}{'lanes':>10}  picked")
    for bands in args.bands:
        src = (np.random.default_rng(0).random((bands, args.size, args.size)) * 3000).astype(dt)
        dst = np.empty((bands, args.out, args.out), dt)
        for kind, label in ((resize.LINEAR, "bilinear"), (resize.CUBIC, "cubic")):
            def call(src=src, dst=dst, kind=kind):
                resize.resize_separable(src, None, (s, s), (0.0, 0.0), (args.out, args.out), out=dst,
                                        kind=(kind, kind), mode=FILL_MODES["reflect"])
            best: dict[str, float] = {}
            for _ in range(3):
                for order in ("rows", "columns", "lanes"):
                    resize._ORDER = order
                    call()
                    for _ in range(100):
                        t0 = time.perf_counter()
                        call()
                        best[order] = min(best.get(order, 1.0), time.perf_counter() - t0)
            resize._ORDER = None
            picked = resize._plan(bands, args.size, args.size, args.out, args.out, s, s, 0.0, 0.0, kind, kind,
                                  FILL_MODES["reflect"], dt, 0, 1, None)[0][21]
            case = f"{bands}x{args.size}² {label}"
            print(f"{case:<24}" + "".join(f"{best[o] * 1e6:>10.1f}" for o in ("rows", "columns", "lanes"))
                  + f"  {names[picked]}")


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba starts its threads
    raise SystemExit(main())
