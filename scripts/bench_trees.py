"""Run time of single transforms, two source trees side by side: fresh processes alternating, best of many calls.

``scripts/bench.py`` compares geoaug with other tools inside one process. To see what a change did to
geoaug's own run time, this script runs the same calls from two checkouts (``git worktree add ../old
<rev>``), one fresh process per tree and round, old and new alternating so both see the same machine state,
and prints each case's best time per tree and new / old::

    python scripts/bench_trees.py --old ../old --new . --rounds 2
    python scripts/bench_trees.py --old ../old --new . --only affine_nearest affine_nearest_collar
    python scripts/bench_trees.py --old ../old --new . --only hflip vflip crop

Each process times every case one thread wide (``numba.set_num_threads(1)``; ``--threads N``: N threads):
the transform on a ``GeoRaster`` of random uint16 values (on the plain array for the ``*_array`` cases; with a
nodata collar, a tenth of each side, for ``*_collar``; valid inside a square turned by 10 degrees, as a
scene's footprint, for ``*_footprint``), a
``numpy.random.Generator`` made once, a warm-up call, then the best of ``--repeats`` calls, each right after
an untimed call of the same function (the timing protocol of bench.py). ``band_moments`` is timed on its own
(the PCA covariance). A ``*_draws`` case times 64 calls in a row, each a new draw from the generator, and
reports their mean (best of the repeats): where the work depends on the draw (a crop's size and position,
its cached plan), the best single call would report the cheapest draw. Both trees run under this interpreter
and with the malloc thresholds bench.py's timing process uses (``MALLOC_STEADY``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import MALLOC_STEADY

#: (case, bands, side)
CASES = (("hflip", 13, 64), ("normalize", 13, 64), ("gaussian_blur", 13, 64), ("grid_distortion", 13, 64),
         ("resize", 13, 64), ("random_resized_crop", 13, 64), ("affine_nearest", 13, 64),
         ("affine_bilinear", 13, 64), ("affine_cubic", 13, 64), ("affine_bilinear", 13, 120),
         ("affine_nearest", 1, 512), ("affine_bilinear", 1, 512), ("affine_cubic", 1, 512),
         ("affine_bilinear_collar", 1, 512), ("affine_bilinear", 13, 512), ("resize", 1, 512),
         ("pca_jitter", 13, 64), ("pca_jitter", 1, 512), ("band_moments", 13, 512), ("pipeline", 13, 64),
         ("pipeline", 1, 512), ("affine_nearest", 13, 120), ("affine_nearest", 12, 256), ("affine_nearest", 4, 512),
         ("affine_nearest", 13, 512), ("affine_nearest", 200, 256), ("affine_nearest_collar", 1, 512),
         ("affine_nearest_collar", 4, 512), ("affine_nearest_collar", 13, 512), ("affine_nearest_collar", 13, 120),
         ("affine_bilinear_collar", 4, 512), ("affine_bilinear_collar", 13, 512), ("affine_bilinear_collar", 13, 120),
         ("affine_cubic_collar", 1, 512), ("affine_cubic_collar", 13, 120),
         ("vflip", 13, 64), ("vflip", 13, 120), ("vflip", 1, 512), ("vflip", 12, 256), ("vflip", 200, 256),
         ("hflip", 1, 512), ("crop", 13, 120), ("crop", 200, 256), ("affine_random", 13, 64),
         ("affine_random", 1, 512), ("rot90", 13, 64), ("rot90", 1, 512), ("hflip_array", 13, 1),
         ("hflip_array", 13, 64), ("hflip_array", 13, 120), ("hflip_array", 1, 512), ("hflip_array", 4, 512),
         ("vflip_array", 12, 256), ("rot90_array", 13, 64), ("rot90_array", 1, 512), ("crop_array", 13, 120),
         ("coarse_dropout_f32array", 13, 64), ("coarse_dropout_f32array", 1, 512),
         ("grid_dropout_f32array", 13, 64), ("grid_dropout_f32array", 1, 512),
         ("resize_f32array", 13, 64), ("resize_f32array", 13, 512), ("resize_f32array", 1, 512),
         ("resize_f32array", 200, 256), ("random_resized_crop_f32array", 13, 64),
         ("random_resized_crop_f32array", 13, 512), ("random_resized_crop_f32array", 1, 512),
         ("random_resized_crop_draws", 13, 64), ("random_resized_crop_draws", 13, 120),
         ("random_resized_crop_draws", 13, 512), ("random_resized_crop_draws", 1, 512),
         ("random_resized_crop_sizes_draws", 13, 64), ("random_resized_crop_sizes_draws", 13, 120),
         ("random_resized_crop_sizes_draws", 1, 512), ("resize_up", 13, 64), ("resize_up", 13, 120),
         ("resize_up", 1, 512), ("resize_up_f32array", 13, 64), ("resize_up3", 13, 64),
         ("resize_up3_f32array", 13, 64), ("resize_collar", 13, 64), ("resize_collar", 13, 512),
         ("resize_collar", 1, 512), ("resize_up_collar", 13, 64), ("resize", 12, 256), ("resize", 13, 512),
         ("resize", 4, 512), ("resize", 200, 256), ("random_resized_crop", 13, 512),
         ("random_resized_crop", 200, 256),
         ("affine_nearest_f32array", 13, 64), ("affine_nearest_f32array", 1, 512),
         ("affine_nearest_f32array", 13, 512), ("affine_nearest_f32array", 200, 256),
         ("affine_nearest_f32array", 12, 256), ("affine_bilinear_f32array", 13, 64),
         ("affine_bilinear_f32array", 1, 512), ("affine_bilinear_f32array", 13, 512),
         ("affine_cubic_f32array", 13, 64), ("affine_cubic_f32array", 1, 512),
         ("vflip", 4, 512), ("vflip", 13, 512), ("vflip_array", 13, 64), ("vflip_array", 1, 512),
         ("vflip_f32array", 13, 512), ("crop", 1, 512), ("crop", 13, 512), ("crop_array", 1, 512),
         ("hflip", 12, 256), ("hflip", 4, 512), ("rot90", 12, 256), ("rot90", 4, 512),
         ("rot90_f32array", 13, 120), ("rot90_f32array", 4, 512), ("rot90", 200, 256),
         ("gaussian_blur", 13, 512), ("gaussian_blur", 1, 512), ("gaussian_blur_collar", 13, 120),
         ("gaussian_blur_f32array", 13, 120), ("gaussian_blur_f32array", 1, 512),
         ("contrast", 13, 64), ("contrast", 13, 512), ("contrast", 1, 512), ("contrast_collar", 13, 512),
         ("contrast_f32array", 13, 120), ("channel_shift", 13, 64), ("channel_shift", 13, 512),
         ("channel_shift_collar", 13, 512), ("affine_cubic_collar", 13, 512), ("affine_nearest_collar", 13, 64),
         ("affine_bilinear_collar", 13, 64), ("affine_nearest_footprint", 1, 512),
         ("affine_nearest_footprint", 13, 512), ("affine_bilinear_footprint", 1, 512),
         ("affine_bilinear_footprint", 13, 512), ("affine_cubic", 13, 120), ("affine_cubic", 12, 256),
         ("affine_cubic", 4, 512), ("affine_cubic", 13, 512), ("affine_cubic", 200, 256),
         ("affine_cubic_f32array", 13, 120), ("affine_cubic_f32array", 12, 256), ("affine_cubic_f32array", 4, 512),
         ("affine_cubic_f32array", 13, 512), ("affine_cubic_f32array", 200, 256),
         ("rot90", 26, 512), ("rot90", 13, 512), ("rot90_f32array", 200, 256), ("rot90_f32array", 13, 512),
         ("band_moments", 2, 512), ("band_moments", 4, 512), ("band_moments", 13, 64), ("band_moments", 200, 256),
         ("pca_jitter", 13, 512), ("pca_jitter", 200, 256), ("pipeline", 13, 512), ("pipeline", 200, 256),
         ("grid_dropout", 13, 64), ("grid_dropout", 13, 512), ("grid_dropout", 200, 256), ("coarse_dropout", 13, 512),
         ("coarse_dropout", 200, 256), ("grid_dropout_f32array", 13, 512), ("grid_dropout_f32array", 200, 256),
         ("coarse_dropout_f32array", 13, 512), ("grid_dropout_collar", 13, 512), ("grid_dropout_nodata", 13, 512),
         ("grid_dropout_nodata", 200, 256), ("grid_distortion", 1, 512), ("grid_distortion", 13, 512),
         ("grid_distortion_cubic", 1, 512), ("grid_distortion_cubic", 13, 512), ("elastic", 1, 512),
         ("elastic", 13, 512), ("elastic_cubic", 13, 512), ("affine_bilinear", 200, 256),
         ("affine_bilinear_f32array", 200, 256), ("affine_bilinear_f32array", 50, 256),
         ("affine_bilinear_f32array", 12, 256), ("affine_bilinear_f32array", 4, 512),
         ("affine_nearest_r88", 13, 512), ("affine_nearest_r88", 12, 256), ("affine_nearest_r88", 1, 512),
         ("affine_nearest_r88_f32array", 13, 512), ("affine_nearest_r88_f32array", 12, 256),
         ("affine_nearest_r45", 13, 512), ("affine_nearest_r45_f32array", 12, 256), ("affine_nearest_r3", 13, 512),
         ("affine_nearest_r3_f32array", 12, 256), ("affine_nearest_r80", 13, 512), ("affine_nearest_r84", 13, 512),
         ("affine_nearest_r84_f32array", 13, 512), ("affine_nearest_r80_f32array", 12, 256),
         ("gaussian_blur", 13, 120), ("gaussian_blur", 12, 256), ("gaussian_blur", 4, 512),
         ("gaussian_blur", 200, 256), ("gaussian_blur_f32array", 13, 64), ("gaussian_blur_f32array", 13, 512),
         ("gaussian_blur_collar", 1, 512), ("sharpen", 13, 64), ("sharpen", 13, 120), ("sharpen", 1, 512),
         ("gaussian_blur_f32array", 12, 256), ("downscale", 13, 64), ("downscale_collar", 13, 64),
         ("downscale_collar", 13, 120), ("downscale_collar", 12, 256), ("downscale_collar", 13, 512),
         ("downscale_collar", 4, 512))

CHILD = r"""
import json, sys, time
tree, repeats = sys.argv[1], int(sys.argv[2])
cases = json.loads(sys.argv[3])
nthreads = int(sys.argv[4])
sys.path.insert(0, tree)
import numba
import numpy as np
import geoaug
assert geoaug.__file__.startswith(tree), geoaug.__file__
from geoaug.bandstats import band_moments
numba.set_num_threads(nthreads)
R = (0, 10000)
DRAWS = 64

def transform(op, b, s):
    return {"hflip": lambda: geoaug.HorizontalFlip(p=1.0),
            "vflip": lambda: geoaug.VerticalFlip(p=1.0),
            "rot90": lambda: geoaug.Rot90(k=1, p=1.0),
            "crop": lambda: geoaug.CenterCrop(s - s // 4, s - s // 4),
            "normalize": lambda: geoaug.Normalize(mean=[1000.0] * b, std=[500.0] * b),
            "gaussian_blur": lambda: geoaug.GaussianBlur(sigma=(1.0, 1.0)),
            "gaussian_blur_collar": lambda: geoaug.GaussianBlur(sigma=(1.0, 1.0)),
            "sharpen": lambda: geoaug.Sharpen(alpha=0.5, sigma=1.0),
            "downscale": lambda: geoaug.Downscale(factor=2.0),
            "downscale_collar": lambda: geoaug.Downscale(factor=2.0),
            "contrast": lambda: geoaug.Contrast((0.8, 1.2)),
            "contrast_collar": lambda: geoaug.Contrast((0.8, 1.2)),
            "channel_shift": lambda: geoaug.ChannelShift((-100.0, 100.0)),
            "channel_shift_collar": lambda: geoaug.ChannelShift((-100.0, 100.0)),
            "grid_distortion": lambda: geoaug.GridDistortion(),
            "grid_distortion_cubic": lambda: geoaug.GridDistortion(interpolation="cubic"),
            "elastic": lambda: geoaug.ElasticTransform(),
            "elastic_cubic": lambda: geoaug.ElasticTransform(interpolation="cubic"),
            "resize": lambda: geoaug.Resize(round(0.75 * s), round(0.75 * s)),
            # enlarging with the default fill="nodata": the outermost half-pixel ring is invalid
            "resize_up": lambda: geoaug.Resize(round(1.5 * s), round(1.5 * s)),
            # 3x: output columns on pixel centres (float data keeps the general pass there, integers do not)
            "resize_up3": lambda: geoaug.Resize(3 * s, 3 * s),
            "resize_collar": lambda: geoaug.Resize(round(0.75 * s), round(0.75 * s)),
            "resize_up_collar": lambda: geoaug.Resize(round(1.5 * s), round(1.5 * s)),
            "random_resized_crop": lambda: geoaug.RandomResizedCrop(s, s, scale=(0.5, 0.5), ratio=(1.0, 1.0)),
            # the default area shares and ratios: a new crop size (and plan) most calls, as training draws them
            "random_resized_crop_sizes": lambda: geoaug.RandomResizedCrop(s, s),
            "affine_nearest": lambda: geoaug.Affine(rotate=17.0, interpolation="nearest"),
            "affine_nearest_collar": lambda: geoaug.Affine(rotate=17.0, interpolation="nearest"),
            # other angles: near a quarter turn an output row reads an input column
            "affine_nearest_r88": lambda: geoaug.Affine(rotate=88.0, interpolation="nearest"),
            "affine_nearest_r45": lambda: geoaug.Affine(rotate=45.0, interpolation="nearest"),
            "affine_nearest_r3": lambda: geoaug.Affine(rotate=3.0, interpolation="nearest"),
            "affine_nearest_r80": lambda: geoaug.Affine(rotate=80.0, interpolation="nearest"),
            "affine_nearest_r84": lambda: geoaug.Affine(rotate=84.0, interpolation="nearest"),
            "affine_bilinear": lambda: geoaug.Affine(rotate=17.0),
            "affine_random": lambda: geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),  # a new draw each call
            "affine_bilinear_collar": lambda: geoaug.Affine(rotate=17.0),
            "affine_cubic": lambda: geoaug.Affine(rotate=17.0, interpolation="cubic"),
            "affine_cubic_collar": lambda: geoaug.Affine(rotate=17.0, interpolation="cubic"),
            "affine_nearest_footprint": lambda: geoaug.Affine(rotate=17.0, interpolation="nearest"),
            "affine_bilinear_footprint": lambda: geoaug.Affine(rotate=17.0),
            "pca_jitter": lambda: geoaug.PCAJitter(std=0.1, value_range=R),
            "coarse_dropout": lambda: geoaug.CoarseDropout(num_holes=4, hole_height=s // 8, hole_width=s // 8, fill=0),
            "grid_dropout": lambda: geoaug.GridDropout(ratio=0.5, unit_size=max(2, s // 8), fill=0),
            "grid_dropout_collar": lambda: geoaug.GridDropout(ratio=0.5, unit_size=max(2, s // 8), fill=0),
            "grid_dropout_nodata": lambda: geoaug.GridDropout(ratio=0.5, unit_size=max(2, s // 8)),
            "pipeline": lambda: geoaug.Compose([geoaug.HorizontalFlip(), geoaug.Rot90(),
                                                geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
                                                geoaug.Brightness((-0.01, 0.01), value_range=R),
                                                geoaug.PCAJitter(std=0.1, value_range=R)])}[op]()

out = {}
for op, b, s in cases:
    a = np.random.default_rng(0).integers(0, 10000, (b, s, s)).astype(np.uint16)
    if op.endswith("_f32array"):  # a plain float32 array (its mask found from its NaNs, lazily)
        a = a.astype(np.float32)
    if op == "band_moments":
        call = lambda: band_moments(a)
    else:
        mask = None
        if op.endswith("_collar"):
            mask = np.ones((s, s), bool)
            c = max(1, round(0.1 * s))
            mask[:c] = mask[-c:] = False
            mask[:, :c] = mask[:, -c:] = False
        if op.endswith("_footprint"):  # a scene's footprint: the central 80 % square turned by 10 degrees
            yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
            cs, sn = np.cos(np.radians(10)), np.sin(np.radians(10))
            mask = (np.abs(cs * xx + sn * yy) < 0.4 * s) & (np.abs(-sn * xx + cs * yy) < 0.4 * s)
        # "_array" ("_f32array": float32): the plain array goes in (and comes out), as training code passes it
        r = a if op.endswith("array") else geoaug.GeoRaster.from_array(a, mask=mask)
        t = transform(op.removesuffix("_draws").removesuffix("_f32array").removesuffix("_array"), b, s)
        g = np.random.default_rng(0)
        call = lambda: t(r, rng=g)
        if op.endswith("_draws"):  # the mean of DRAWS calls, each a new draw (best-of would find the cheapest)
            call = lambda: [t(r, rng=g) for _ in range(DRAWS)]
    call()
    best = float("inf")
    for _ in range(repeats):
        call()
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    out[f"{op} {b}x{s}"] = best / (DRAWS if op.endswith("_draws") else 1)
print(json.dumps(out))
"""


def run_in_tree(code: str, tree: Path, args: list[str], what: str, env: dict | None = None) -> dict:
    """Run ``code`` (a ``python -c`` program that imports geoaug from ``tree``) in a fresh process; the JSON
    of its last line. A failure names the tree and ``what`` failed. Shared with ``bits_trees.py``."""
    r = subprocess.run([sys.executable, "-c", code, str(tree), *args], env=env, capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        raise SystemExit(f"{tree}: {what} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def add_tree_args(ap: argparse.ArgumentParser) -> None:
    """``--old`` and ``--new``: the two checkouts a comparison runs."""
    ap.add_argument("--old", type=Path, required=True, help="the tree before the change (a checkout)")
    ap.add_argument("--new", type=Path, required=True, help="the tree after it")


def checked_trees(ap: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Path]:
    """``{"old": path, "new": path}``, resolved; a tree without the geoaug package is refused by name."""
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for name, tree in trees.items():
        if not (tree / "geoaug" / "__init__.py").is_file():
            ap.error(f"--{name} {tree}: no geoaug package there")
    return trees


def run(tree: Path, repeats: int, cases: tuple = CASES, nthreads: int = 1) -> dict[str, float]:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(nthreads), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "GLIBC_TUNABLES": MALLOC_STEADY}
    return run_in_tree(CHILD, tree, [str(repeats), json.dumps(cases), str(nthreads)], "the timing process", env)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tree_args(ap)
    ap.add_argument("--rounds", type=int, default=2, help="fresh processes per tree (default 2)")
    ap.add_argument("--repeats", type=int, default=41, help="timed calls per case and process (>= 21)")
    ap.add_argument("--only", nargs="+", metavar="OP", help="only these cases (their op, e.g. affine_nearest)")
    ap.add_argument("--threads", type=int, default=1, help="numba threads in the timing processes (default 1)")
    args = ap.parse_args(argv)
    if args.repeats < 21:
        ap.error("--repeats must be >= 21")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    cases = CASES
    if args.only:
        known = {op for op, _, _ in CASES}
        unknown = sorted(set(args.only) - known)
        if unknown:
            ap.error(f"--only: no case {', '.join(unknown)} (cases: {', '.join(sorted(known))})")
        cases = tuple(c for c in CASES if c[0] in args.only)
    trees = checked_trees(ap, args)
    best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            for case, t in run(tree, args.repeats, cases, args.threads).items():
                best[name][case] = min(best[name].get(case, float("inf")), t)
    print(f"{'case':34s} {'old':>10s} {'new':>10s} {'new / old':>10s}")
    for case in best["old"]:
        o, n = best["old"][case], best["new"][case]
        print(f"{case:34s} {o * 1e6:8.1f} µs {n * 1e6:8.1f} µs {n / o:10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
