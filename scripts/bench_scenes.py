"""Chips from a whole scene: chips/s and peak memory, geoaug's SceneDataset against a plain window loop.

Builds (once, in --work) a 4-band uint16 deflate-tiled COG of --side x --side pixels by tiling the
real Landsat 8 L1T bands of fixtures/scenes, and a VRT mosaic twice its width. Then, each in a
fresh process: 256 x 256 chips with a random rotation through a torch DataLoader (0 and 2 workers)
from

* ``SceneDataset`` (context-aware: each chip reads the window its rotation needs), and
* a plain window loop (read the 256 x 256 window, rotate it, corners filled: what a user writes by hand),

and the peak RSS of the main process and of the largest worker. Throughput is timed from the first
batch on (worker start-up excluded). torchgeo is not compared: its
install pulls a different torch build (with CUDA wheels), which this project keeps pinned.

    python scripts/bench_scenes.py --side 10980 --chips 64 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "scenes" / "landsat8_l1t_LC80200392015216"


def build(work: Path, side: int) -> tuple[Path, Path]:
    """The COG (tiled 512, deflate, predictor 2) and a 2-tile VRT mosaic of it."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    work.mkdir(parents=True, exist_ok=True)
    cog = work / f"scene_{side}.tif"
    vrt = work / f"mosaic_{side}.vrt"
    if not cog.exists():
        bands = []
        for b in (2, 3, 4, 5):
            with rasterio.open(REAL / f"l8_B{b}_30m.tif") as src:
                bands.append(src.read(1))
                t, crs = src.transform, src.crs
        tile = np.stack(bands)
        _, th, tw = tile.shape
        prof = {"driver": "GTiff", "dtype": "uint16", "count": 4, "height": side, "width": side, "crs": crs,
                "transform": Affine(30, 0, t.c, 0, -30, t.f), "tiled": True, "blockxsize": 512,
                "blockysize": 512, "compress": "deflate", "predictor": 2, "BIGTIFF": "IF_SAFER"}
        tmp = cog.with_suffix(".part.tif")
        with rasterio.open(tmp, "w", **prof) as dst:
            for r0 in range(0, side, 512):
                h = min(512, side - r0)
                rows = np.arange(r0, r0 + h) % th
                strip = tile[:, rows][:, :, np.arange(side) % tw]
                dst.write(strip, window=Window(0, r0, side, h))
        os.replace(tmp, cog)
    if not vrt.exists():
        import rasterio

        with rasterio.open(cog) as src:
            t, crs = src.transform, src.crs
        bands = "".join(
            f'<VRTRasterBand dataType="UInt16" band="{b}">' + "".join(
                f'<SimpleSource><SourceFilename relativeToVRT="1">{cog.name}</SourceFilename>'
                f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{side}" ySize="{side}"/>'
                f'<DstRect xOff="{k * side}" yOff="0" xSize="{side}" ySize="{side}"/></SimpleSource>'
                for k in (0, 1)) + "</VRTRasterBand>" for b in (1, 2, 3, 4))
        gt = ", ".join(repr(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
        vrt.write_text(f'<VRTDataset rasterXSize="{2 * side}" rasterYSize="{side}"><SRS>{crs.to_wkt()}</SRS>'
                       f"<GeoTransform>{gt}</GeoTransform>{bands}</VRTDataset>")
    return cog, vrt


class PlainWindows(torch.utils.data.Dataset):
    """Read a random window, rotate it (corners filled): the hand-written loop."""

    def __init__(self, path: str, n: int, size: int, seed: int) -> None:
        import rasterio

        import geoaug

        with rasterio.open(path) as src:
            self.h, self.w = src.height, src.width
        self.path, self.n, self.size, self.seed = path, n, size, seed
        self.pipe = geoaug.Compose([geoaug.Affine(rotate=(-45, 45))])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        import geoaug

        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0, i)))
        s = self.size
        r, c = int(rng.integers(self.h - s + 1)), int(rng.integers(self.w - s + 1))
        chip = self.pipe(geoaug.read(self.path, window=((r, r + s), (c, c + s))), rng=rng)
        return torch.from_numpy(np.where(chip.band_mask, chip.data, 0).astype(np.float32))


def run_one(kind: str, path: str, workers: int, n: int, size: int) -> dict:
    """One measurement in this (fresh) process."""
    import geoaug
    from geoaug.loaders.scenes_torch import SceneDataset

    if kind == "geoaug":
        ds = SceneDataset(path, size, length=n, pipeline=geoaug.Compose([geoaug.Affine(rotate=(-45, 45))]), seed=0)
        warm = SceneDataset(path, size, length=2, pipeline=ds.pipeline, seed=1)
    else:
        ds, warm = PlainWindows(path, n, size, 0), PlainWindows(path, 2, size, 1)
    _ = [warm[i] for i in range(2)]  # numba and GDAL warm-up, not timed
    kw = {"num_workers": workers, "batch_size": 8}
    if workers:
        kw["multiprocessing_context"] = "spawn"
    loader = torch.utils.data.DataLoader(ds, **kw)
    # the clock starts at the first batch: worker start-up (imports, numba cache loads) is not counted
    t0 = None
    chips = 0
    valid = []
    for batch in loader:
        x = batch["image"] if isinstance(batch, dict) else batch
        if t0 is None:
            t0 = time.perf_counter()
        else:
            chips += x.shape[0]
        valid.append(float((x != 0).all(dim=1).float().mean()))
    dt = time.perf_counter() - t0
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"kind": kind, "path": Path(path).name, "workers": workers, "chips": chips, "seconds": dt,
            "chips_per_s": chips / dt, "peak_rss_main_mb": self_mb, "peak_rss_worker_mb": child_mb if workers else 0,
            "valid_fraction": float(np.mean(valid))}


def main() -> None:
    """Build the scene, run every configuration in a fresh process, print (and save) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=10980)
    ap.add_argument("--chips", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--work", type=Path, default=Path("/tmp/geoaug-bench-scenes"))
    ap.add_argument("--repeat", type=int, default=1, help="rounds (configurations interleaved); the median is kept")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--run", nargs=3, metavar=("KIND", "PATH", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        print(json.dumps(run_one(a.run[0], a.run[1], int(a.run[2]), a.chips, a.size)))
        return
    t0 = time.perf_counter()
    cog, vrt = build(a.work, a.side)
    print(f"scene {cog} ({cog.stat().st_size / 1e6:.0f} MB) ready in {time.perf_counter() - t0:.0f} s", flush=True)
    configs = [("geoaug", cog, 0), ("plain", cog, 0), ("geoaug", cog, 2), ("plain", cog, 2),
               ("geoaug", vrt, 0), ("geoaug", vrt, 2)]
    runs: dict[int, list[dict]] = {i: [] for i in range(len(configs))}
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for _ in range(a.repeat):  # interleaved, so a busy moment of a shared machine hits every configuration
        for i, (kind, path, workers) in enumerate(configs):
            out = subprocess.run([sys.executable, __file__, "--chips", str(a.chips), "--size", str(a.size),
                                  "--run", kind, str(path), str(workers)], capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(out.stderr)
            runs[i].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for i, (kind, _, workers) in enumerate(configs):
        rs = sorted(runs[i], key=lambda r: r["chips_per_s"])
        row = dict(rs[len(rs) // 2])
        row["chips_per_s_all"] = [round(r["chips_per_s"], 2) for r in runs[i]]
        row["peak_rss_main_mb"] = max(r["peak_rss_main_mb"] for r in runs[i])
        row["peak_rss_worker_mb"] = max(r["peak_rss_worker_mb"] for r in runs[i])
        rows.append(row)
        print(f"{kind:7s} {row['path']:22s} workers={workers}  {row['chips_per_s']:6.1f} chips/s (median of "
              f"{row['chips_per_s_all']})  peak RSS main {row['peak_rss_main_mb']:5.0f} MB, worker "
              f"{row['peak_rss_worker_mb']:5.0f} MB  valid {row['valid_fraction']:.3f}", flush=True)
    if a.json:
        a.json.write_text(json.dumps({"side": a.side, "chips": a.chips, "size": a.size, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
