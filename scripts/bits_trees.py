"""Do two source trees give the same bits? Warps, Normalize, PCAJitter, band moments, resizes, blurs, Downscale, hashed
per tree.

``scripts/bench_trees.py`` compares two checkouts' run times; this compares their outputs. A change that
should not move a single bit (a kernel restructured, a call path shortened) is checked by hashing the
outputs of the same random calls in one fresh process per tree::

    git worktree add ../old <rev>
    python scripts/bits_trees.py --old ../old --new .

Each family is hashed on its own, so a difference says where it is:

* ``warp``: ``geoaug.kernels.warp.warp_affine`` on random rasters (uint8, uint16, int16, int32, float32,
  float64; 1-3 bands; no mask, one mask plane, one per band) through random rotations, scales and shifts,
  nearest, bilinear and cubic, five fill modes, with and without ``renormalize``: data and mask;
* ``spectral``: ``PCAJitter`` and ``Normalize`` on random GeoRasters with and without a mask, and
  ``geoaug.bandstats.band_moments`` of the same data (``--trials`` / 5 rasters: uint16, int16, float32 in turn);
* ``resize``: ``geoaug.kernels.resize.resize_separable`` on random rasters (uint16, int16, float32, uint8,
  float64; 1, 3 or 13 bands) through random crops (inside, at and beyond the edges, whole and fractional
  offsets) resampled up or down, each with a random filter per axis and fill mode, without a mask and with
  one (shared or per band), in each pass order (chosen, rows, columns, lanes): data and mask
  (``--trials`` / 5 rasters, six crops each);
* ``blur``: ``geoaug.kernels.blur.convolve_separable`` on random rasters (uint16, int16, float32, uint8, float64;
  1 to 13 bands, up to 300 pixels a side: large enough for the parallel entry at numba's thread count), each fill
  mode, without a mask and with one (shared or per band), blurred and sharpened, into a new array and in place
  (``--trials`` / 5 rasters);
* ``filters``: ``Downscale`` on random GeoRasters (uint8, uint16, int16, int32, float32, float64; 1 to 13 bands;
  no mask, one shared by the bands, one per band; NaN under the mask for floats) with random factors from 1.2
  to 4, nearest, bilinear and cubic (``--trials`` / 5 rasters).

``--only spectral`` (or ``warp``, ``resize``, ``blur``, ``filters``) hashes one family.

Prints one line per family, ``same`` or ``DIFFERENT``; exit status 1 when any differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_trees import add_tree_args, checked_trees, run_in_tree

CHILD = r"""
import hashlib, json, sys
tree, trials, families = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
sys.path.insert(0, tree)
import numpy as np
import geoaug
assert geoaug.__file__.startswith(tree), geoaug.__file__
from geoaug.bandstats import band_moments
from geoaug.kernels.warp import warp_affine

def warps():
    h = hashlib.sha256()
    rng = np.random.default_rng(3)
    for trial in range(trials):
        dt = ["uint16", "int16", "float32", "uint8", "float64", "int32"][trial % 6]
        b, hh, ww = (int(v) for v in rng.integers((1, 3, 3), (4, 40, 40)))
        x = (rng.random((b, hh, ww)) * 1000).astype(dt)
        ang, s = rng.uniform(-3.2, 3.2), rng.uniform(0.5, 2.0)
        m = np.array([[np.cos(ang) * s, -np.sin(ang) * s, rng.uniform(-10, ww + 10)],
                      [np.sin(ang) * s, np.cos(ang) * s, rng.uniform(-10, hh + 10)], [0.0, 0.0, 1.0]])
        mask = None if trial % 3 == 0 else rng.random((b if trial % 2 else 1, hh, ww)) < 0.8
        for interp in ("nearest", "bilinear", "cubic"):
            for fill in ("nodata", "constant", "edge", "reflect", "wrap"):
                oh, ow = (int(v) for v in rng.integers(1, 50, 2))
                for renorm in (False, True):
                    d, dm = warp_affine(x, mask, m, (oh, ow), interpolation=interp, fill=fill, fill_value=7.0,
                                        out_fill=3.0, renormalize=renorm)
                    h.update(np.ascontiguousarray(d).tobytes())
                    h.update(np.ascontiguousarray(dm).tobytes())
    return h.hexdigest()

def spectral():
    h = hashlib.sha256()
    rng = np.random.default_rng(9)
    for trial in range(max(1, trials // 5)):
        dt = ["uint16", "int16", "float32"][trial % 3]
        b, hh, ww = int(rng.integers(1, 6)), int(rng.integers(20, 300)), int(rng.integers(20, 300))
        x = (rng.random((b, hh, ww)) * 5000).astype(dt)
        mask = rng.random((hh, ww)) < 0.9 if trial % 2 else None
        r = geoaug.GeoRaster.from_array(x, mask=mask)
        for t in (geoaug.PCAJitter(std=0.1, value_range=(0, 10000)), geoaug.Normalize(mean=100.0, std=30.0)):
            o = t(r, rng=np.random.default_rng(trial))
            h.update(o.data.tobytes())
            h.update(np.ascontiguousarray(o.mask).tobytes())
        n, mean, m2 = band_moments(x, mask)
        h.update(np.int64(n).tobytes())
        h.update(mean.tobytes())
        h.update(m2.tobytes())
    return h.hexdigest()

def resizes():
    from geoaug.kernels import resize
    from geoaug.kernels.borders import FILL_MODES
    h = hashlib.sha256()
    rng = np.random.default_rng(123)
    kinds = [resize.LINEAR, resize.CUBIC, resize.AREA, resize.NEAREST]
    modes = list(FILL_MODES.values())
    for trial in range(max(1, trials // 5)):
        dt = ["uint16", "int16", "float32", "uint8", "float64"][trial % 5]
        b = int(rng.choice([1, 3, 13]))
        hh, ww = int(rng.integers(8, 90)), int(rng.integers(8, 90))
        x = rng.integers(0, 3000, (b, hh, ww)).astype(dt)
        ch, cw = int(rng.integers(2, hh + 1)), int(rng.integers(2, ww + 1))
        oh, ow = int(rng.integers(2, 80)), int(rng.integers(2, 80))
        for crop in range(6):
            r0, c0 = float(rng.integers(-2, hh - ch + 3)), float(rng.integers(-2, ww - cw + 3))
            if crop == 5:
                r0, c0 = r0 + 0.37, c0 + 0.61
            ky = kinds[int(rng.integers(0, 4))]
            kx = ky if rng.random() < 0.7 else kinds[int(rng.integers(0, 4))]
            mode = modes[int(rng.integers(0, len(modes)))]
            for masked in (False, True):
                mask = rng.random((1 if rng.random() < 0.5 else b, hh, ww)) > 0.1 if masked else None
                for order in (None, "rows", "columns", "lanes"):
                    resize._ORDER = order
                    d, m = resize.resize_separable(x, mask, (ch / oh, cw / ow), (r0, c0), (oh, ow), kind=(ky, kx),
                                                   mode=mode, fill_value=7.0, out_fill=0.0)
                    h.update(d.tobytes())
                    h.update(np.ascontiguousarray(m).tobytes())
                    h.update(str(m.shape).encode())
    resize._ORDER = None
    return h.hexdigest()

def blurs():
    from geoaug.kernels import blur
    h = hashlib.sha256()
    rng = np.random.default_rng(77)
    for trial in range(max(1, trials // 5)):
        dt = ["uint16", "int16", "float32", "uint8", "float64"][trial % 5]
        b = int(rng.choice([1, 2, 4, 13]))
        hh, ww = int(rng.integers(3, 300)), int(rng.integers(3, 300))
        x = (rng.random((b, hh, ww)) * 250).astype(dt)
        taps = blur.gaussian_taps(float(rng.uniform(0.4, 2.5)))
        for mode in ("nodata", "edge", "reflect", "mirror", "wrap"):
            mask = None if trial % 3 == 0 else rng.random((b if trial % 2 else 1, hh, ww)) < 0.9
            for amount in (None, 0.7):
                h.update(blur.convolve_separable(x, mask, taps, mode, amount=amount).tobytes())
                y = x.copy()
                blur.convolve_separable(y, mask, taps, mode, amount=amount, out=y)
                h.update(y.tobytes())
    return h.hexdigest()

def filters():
    h = hashlib.sha256()
    rng = np.random.default_rng(78)
    for trial in range(max(1, trials // 5)):
        dt = np.dtype(["uint8", "uint16", "int16", "int32", "float32", "float64"][trial % 6])
        b, hh, ww = int(rng.integers(1, 14)), int(rng.integers(3, 70)), int(rng.integers(3, 70))
        top = 250 if dt == np.uint8 else 10000
        x = (rng.random((b, hh, ww)) * top).astype(dt)
        kind = trial % 3  # 0: no mask, 1: one plane for all bands, 2: one per band
        mask = None if kind == 0 else rng.random((1 if kind == 1 else b, hh, ww)) > rng.random() * 0.6
        if mask is not None and dt.kind == "f":
            x[np.broadcast_to(~mask, x.shape)] = np.nan  # never read: the mask says so
        r = geoaug.GeoRaster.from_array(x, mask=None if mask is None else (mask[0] if kind == 1 else mask))
        t = geoaug.Downscale(factor=float(rng.uniform(1.2, 4.0)),
                             interpolation=["nearest", "bilinear", "cubic"][trial // 3 % 3])  # every mask kind
        out = t(r, rng=1)
        h.update(out.data.tobytes())
        h.update(np.ascontiguousarray(out.mask).tobytes())
    return h.hexdigest()

print(json.dumps({f: {"warp": warps, "spectral": spectral, "resize": resizes, "blur": blurs,
                      "filters": filters}[f]()
                  for f in families}))
"""


FAMILIES = ("warp", "spectral", "resize", "blur", "filters")


def run(tree: Path, trials: int, families: tuple[str, ...] = FAMILIES) -> dict[str, str]:
    """The hashes of one tree, from a fresh process that imports geoaug from ``tree``."""
    return run_in_tree(CHILD, tree, [str(trials), ",".join(families)], "the child")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tree_args(ap)
    ap.add_argument("--trials", type=int, default=300,
                    help="random warps; a fifth as many spectral rasters and resized rasters")
    ap.add_argument("--only", choices=FAMILIES, nargs="+", help="only these families")
    args = ap.parse_args(argv)
    families = tuple(args.only or FAMILIES)
    trees = checked_trees(ap, args)
    old, new = run(trees["old"], args.trials, families), run(trees["new"], args.trials, families)
    differ = False
    for family in old:
        same = old[family] == new[family]
        differ = differ or not same
        print(f"{family:10s} {'same' if same else 'DIFFERENT'}  old {old[family][:16]}  new {new[family][:16]}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
