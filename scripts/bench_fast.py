"""Ratios for the fast paths: geoaug against OpenCV per band, numpy and albumentations, and cold start.

Every figure is a ratio ``geoaug / contender`` (< 1: geoaug faster) of best-of-N times with the
contenders interleaved in one process (warm-up first), so machine load cancels out as far as it can.
OpenCV gets preallocated outputs (``dst=``) and the same thread count as numba. Columns ``X/cv`` time the
whole transform call on a GeoRaster (allocating its output); ``X kernel/cv`` the kernel writing into a
preallocated ``out=`` like OpenCV. ``fixed us`` = whole call minus the kernel with ``out=`` (call path and
output allocation).

Usage::

    python scripts/bench_fast.py                 # ratio tables, 1 and 2 threads, two runs each
    python scripts/bench_fast.py --repeat 31     # more repetitions
    python scripts/bench_fast.py --cold          # import time, first call with an empty / warm numba cache
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("13x64^2 u16", 13, 64, "uint16"),
    ("13x120^2 u16", 13, 120, "uint16"),
    ("13x512^2 u16", 13, 512, "uint16"),
    ("4x512^2 u16", 4, 512, "uint16"),
    ("1x512^2 u16", 1, 512, "uint16"),
    ("200x256^2 f32", 200, 256, "float32"),
]
README_PIPE = """
import numpy as np, geoaug
pipe = geoaug.Compose([
    geoaug.HorizontalFlip(), geoaug.Rot90(),
    geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
    geoaug.Brightness((-0.01, 0.01), value_range=(0, 10000)),
    geoaug.PCAJitter(std=0.1, value_range=(0, 10000)),
])
"""


def best(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best time of each function, the functions interleaved round by round (after one warm-up call each)."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def _albumentations():
    try:
        import albumentations as A
    except ImportError:
        return None
    return A.Compose([
        A.HorizontalFlip(), A.RandomRotate90(),
        A.Affine(rotate=(-20, 20), scale=(0.9, 1.1), p=1.0),
        A.RandomBrightnessContrast(brightness_limit=0.01, contrast_limit=0.0, p=1.0),
    ])


def table(repeat: int) -> list[tuple[str, dict[str, float]]]:
    ns: dict = {}
    exec(README_PIPE, ns)
    pipe = ns["pipe"]
    alb = _albumentations()
    rows = []
    for label, nb_, n, dt in CASES:
        rows.append((label, _case(nb_, n, dt, repeat, pipe, alb)))
    return rows


def _case(nb_: int, n: int, dt: str, repeat: int, pipe: object, alb: object) -> dict[str, float]:
    """The ratios of one case (band count, size, dtype)."""
    import cv2

    import geoaug
    from geoaug import geometry
    from geoaug.kernels import flip as kflip

    rng = np.random.default_rng(0)
    a = (rng.random((nb_, n, n)) * 10000).astype(dt)
    r = geoaug.GeoRaster.from_array(a)
    dst = np.empty_like(a)
    hflip = geoaug.HorizontalFlip(p=1)
    rot = geoaug.Rot90(k=1, p=1)
    up = (n * 3 // 2, n * 3 // 2)
    down = (n // 2, n // 2)
    dst_up = np.empty((nb_, *up), dt)
    dst_down = np.empty((nb_, *down), dt)
    resize_up = geoaug.Resize(*up)
    resize_down = geoaug.Resize(*down)
    rrc = geoaug.RandomResizedCrop(n, n, scale=(0.3, 0.6))
    rrc_params = rrc.sample(np.random.default_rng(1), r)
    y0, x0, ch, cw = (rrc_params[k] for k in ("row", "col", "crop_height", "crop_width"))
    mean = np.linspace(900, 1100, nb_)
    std = np.linspace(200, 300, nb_)
    norm = geoaug.Normalize(list(mean), list(std))
    g = np.random.default_rng(0)
    m, shape = geometry.hflip((n, n))
    plan = geometry.strided_plan(m, (n, n), shape)
    mr, shape_r = geometry.rot90((n, n), 1)
    plan_r = geometry.strided_plan(mr, (n, n), shape_r)
    mu, _ = geometry.resize((n, n), *up)
    from geoaug.kernels.resize import resize_separable

    def cv_flip():
        for b in range(nb_):
            cv2.flip(a[b], 1, dst=dst[b])

    def cv_rot():
        for b in range(nb_):
            cv2.rotate(a[b], cv2.ROTATE_90_COUNTERCLOCKWISE, dst=dst[b])

    def cv_up():
        for b in range(nb_):
            cv2.resize(a[b], up[::-1], dst=dst_up[b], interpolation=cv2.INTER_LINEAR)

    def cv_down():
        for b in range(nb_):
            cv2.resize(a[b], down[::-1], dst=dst_down[b], interpolation=cv2.INTER_AREA)

    def cv_rrc():
        for b in range(nb_):
            cv2.resize(a[b, y0:y0 + ch, x0:x0 + cw], (n, n), dst=dst[b], interpolation=cv2.INTER_AREA
                       if ch > n or cw > n else cv2.INTER_LINEAR)

    def np_norm():
        return (a.astype(np.float32) - mean.astype(np.float32)[:, None, None]) / std.astype(np.float32)[:, None, None]

    fns = {
        "hflip": lambda: hflip(r, g), "hflip_kernel": lambda: kflip.index_copy(a, None, plan, shape, out=dst),
        "hflip_array": lambda: hflip(a, g), "cv_flip": cv_flip, "copy": lambda: np.copyto(dst, a),
        "rot90": lambda: rot(r, g), "cv_rot": cv_rot,
        "rot90_kernel": lambda: kflip.index_copy(a, None, plan_r, shape_r, out=dst),
        "resize_kernel": lambda: resize_separable(a, None, (mu[1, 1], mu[0, 0]), (0.0, 0.0), up, mode=2, out=dst_up),
        "resize_up": lambda: resize_up(r, g), "cv_up": cv_up,
        "resize_down": lambda: resize_down(r, g), "cv_down": cv_down,
        "rrc": lambda: rrc.apply(r, rrc_params), "cv_rrc": cv_rrc,
        "normalize": lambda: norm(r, g), "np_norm": np_norm,
    }
    if dt == "uint16":
        fns["pipe"] = lambda: pipe(r, rng=g)
        if alb is not None:
            hwc = np.ascontiguousarray(a.transpose(1, 2, 0))
            fns["alb"] = lambda: alb(image=hwc)
    t = best(fns, repeat)
    ratios = {
        "hflip/cv": t["hflip"] / t["cv_flip"],
        "hflip/copy": t["hflip"] / t["copy"],
        "hflip kernel/copy": t["hflip_kernel"] / t["copy"],
        "hflip kernel/cv": t["hflip_kernel"] / t["cv_flip"],
        "rot90/cv": t["rot90"] / t["cv_rot"],
        "rot90/copy": t["rot90"] / t["copy"],
        "rot90 kernel/cv": t["rot90_kernel"] / t["cv_rot"],
        "resize x1.5/cv": t["resize_up"] / t["cv_up"],
        "resize kernel x1.5/cv": t["resize_kernel"] / t["cv_up"],
        "resize /2/cv area": t["resize_down"] / t["cv_down"],
        "rrc/cv": t["rrc"] / t["cv_rrc"],
        "normalize/np": t["normalize"] / t["np_norm"],
        "fixed us raster": (t["hflip"] - t["hflip_kernel"]) * 1e6,
        "fixed us array": (t["hflip_array"] - t["hflip_kernel"]) * 1e6,
    }
    if "alb" in t:
        ratios["pipe/alb"] = t["pipe"] / t["alb"]
    return ratios


def print_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    cols = list(rows[0][1])
    print(f"\n{title}")
    print("| case | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, r in rows:
        print(f"| {label} | " + " | ".join(f"{r[c]:.2f}" if c in r else "-" for c in cols) + " |")


def cold(threads: int) -> None:
    code = (
        "import time, sys; t0 = time.perf_counter(); import geoaug; t1 = time.perf_counter()\n"
        + README_PIPE
        + "image = geoaug.read('fixtures/tiles/sentinel2_l2a_12band_int16.tif')\n"
        "t2 = time.perf_counter(); pipe(image, rng=np.random.default_rng(0)); t3 = time.perf_counter()\n"
        "print(f'{t1 - t0:.3f} {t3 - t2:.3f}')\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "NUMBA_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        for label in ("empty cache", "warm cache", "warm cache"):
            out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split()
            print(f"{threads} threads, {label}: import geoaug {float(out[0]):.2f} s, README pipeline first call "
                  f"{float(out[1]):.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--cold", action="store_true", help="measure import and first-call (compile) time instead")
    ap.add_argument("--threads", default="1,2", help="thread counts to run, e.g. 1,2")
    args = ap.parse_args()
    counts = [int(v) for v in args.threads.split(",")]
    if args.cold:
        for n in counts:
            cold(n)
        return
    import cv2
    import numba

    for n in counts:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        cv2.setNumThreads(n)
        for run in (1, 2):
            print_table(f"{n} thread(s), run {run} (ratio = geoaug / contender; fixed cost in us)",
                        table(args.repeat))


if __name__ == "__main__":
    main()
