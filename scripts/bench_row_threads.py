#!/usr/bin/env python3
"""Flips at 2 threads against 1, with the row maps' serial bound (``ROW_SERIAL_FACTOR``) as it is and at 1.

Row maps (hflip, vflip, rot180, crops) run on one thread below ``ROW_SERIAL_FACTOR`` x ``SERIAL_BELOW``
bytes (``geoaug/kernels/flip.py``); before, from ``SERIAL_BELOW`` (factor 1). Each fresh process
(``--processes``) times ``geoaug.HorizontalFlip`` and ``geoaug.VerticalFlip`` on a GeoRaster three ways,
interleaved (warm-up first, each timed call right after an untimed one of the same setting, best of
``--repeats``, with bench.py's malloc thresholds): at 1 thread, at 2 threads now, and at 2 threads with
the factor at 1. It prints the two 2-thread / 1-thread ratios. Processes differ on this shared machine
(in some, a second thread costs a 512 kB flip more than it saves), so the spread over processes is the
answer, not one process.

Usage::

    python scripts/bench_row_threads.py --processes 6
    python scripts/bench_row_threads.py --processes 3 1x512:uint16 1x512:float32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ["1x512:uint16", "3x256x512:uint16", "1x512:float32", "2x512:uint16", "13x120:float32"]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=CASES,
                    help="BANDSxSIDE:DTYPE or BANDSxROWSxCOLS:DTYPE (default: 512 kB to 1 MB cases)")
    ap.add_argument("--processes", type=int, default=4, help="fresh processes, one after another")
    ap.add_argument("--repeats", type=int, default=41, help="timed calls of each (best of; >= 21)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.repeats < 21:
        ap.error("--repeats must be >= 21")
    return a


def _shape(case: str) -> tuple[tuple[int, int, int], str]:
    dims, dtype = case.split(":")
    n = [int(x) for x in dims.split("x")]
    return ((n[0], n[1], n[1]) if len(n) == 2 else (n[0], n[1], n[2])), dtype


def child(cases: list[str], repeats: int) -> list[dict]:
    """This process's ratios: one dict per case and flip."""
    import numba
    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import timeit

    import geoaug
    from geoaug.kernels import flip

    if numba.config.NUMBA_NUM_THREADS < 2:
        raise SystemExit("needs 2 numba threads (NUMBA_NUM_THREADS >= 2)")
    now = flip.ROW_SERIAL_FACTOR
    out = []
    for case in cases:
        shape, dtype = _shape(case)
        a = (np.random.default_rng(0).random(shape) * 1000).astype(dtype)
        r = geoaug.GeoRaster.from_array(a)
        for t in (geoaug.HorizontalFlip(p=1), geoaug.VerticalFlip(p=1)):
            params = t.sample(np.random.default_rng(0), r)

            def call(n: int, factor: int, t=t, params=params, r=r):
                def run():
                    flip.ROW_SERIAL_FACTOR = factor
                    numba.set_num_threads(n)
                    return t.apply(r, params)
                return run

            fns = {"1t": call(1, now), "2t now": call(2, now), "2t factor 1": call(2, 1)}
            want = fns["1t"]().data.tobytes()
            if any(f().data.tobytes() != want for f in fns.values()):
                raise SystemExit(f"{case} {type(t).__name__}: the settings gave different bits")
            best, _ = timeit(fns, repeats)
            flip.ROW_SERIAL_FACTOR = now
            out.append({"case": case, "op": type(t).__name__, "kB": a.nbytes // 1024, "us_1t": best["1t"] * 1e3,
                        "now": best["2t now"] / best["1t"], "factor 1": best["2t factor 1"] / best["1t"]})
    return out


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    if a.child:
        print(json.dumps(child(a.cases, a.repeats)))
        return 0
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import MALLOC_STEADY  # bench.py's malloc regime: no fresh mmap (page faults) per output

    env = {**os.environ, "GLIBC_TUNABLES": MALLOC_STEADY}
    print("process  case               op              kB   1 thread   2t/1t now   2t/1t factor 1")
    for p in range(a.processes):
        res = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(a.repeats), *a.cases],
                             capture_output=True, text=True, check=True, env=env)
        for row in json.loads(res.stdout.strip().splitlines()[-1]):
            print(f"{p:7d}  {row['case']:18s} {row['op']:14s} {row['kB']:5d} {row['us_1t']:8.1f} µs"
                  f"   {row['now']:9.2f}   {row['factor 1']:14.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
