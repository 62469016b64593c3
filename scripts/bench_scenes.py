"""Chips from a whole scene: chips/s and peak memory, geoaug's SceneDataset against torchgeo and a plain loop.

Builds (once, in --work) a 4-band uint16 deflate-tiled COG of --side x --side pixels by tiling the
real Landsat 8 L1T bands of fixtures/scenes, and a VRT mosaic twice its width. Then, each in a
fresh process: 256 x 256 chips with a random rotation in [-45, 45] degrees through a torch
DataLoader (0 and 2 spawn workers, batches of 8) from

* ``SceneDataset`` (context-aware: each chip reads the window its rotation needs);
* torchgeo: a ``RasterDataset`` over the same file with a ``RandomGeoSampler`` (256 pixels) and
  kornia's ``RandomRotation(45)`` as its ``transforms`` (what torchgeo's docs suggest), collated
  with ``stack_samples``;
* a plain window loop (read the 256 x 256 window, rotate it with geoaug, corners filled: what a user
  writes by hand),

and the peak RSS of the main process and of the largest worker. Throughput is timed from the first
batch on (worker start-up excluded). Rounds are interleaved (every configuration once per round)
and each round's geoaug/torchgeo ratio is kept, so a busy moment of a shared machine hits both.

torchgeo is optional (``pip install torchgeo`` with the installed torch pinned, e.g.
``pip install torchgeo "torch==$(python -c 'import torch; print(torch.__version__)')"``). The
torchvision wheel on PyPI is a CUDA build whose C++ operators cannot load against a CPU torch; this
script then skips torchvision's fake-tensor registrations of those operators (nms, roi_align...),
which neither RasterDataset, the sampler nor kornia's rotation uses.

    python scripts/bench_scenes.py --side 10980 --chips 64 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import sys as _sys
import time
import types
from pathlib import Path

import numpy as np
import torch

if importlib.util.find_spec("torchvision") is not None:  # see the docstring: a CUDA torchvision on a CPU torch
    try:
        import torchvision  # noqa: F401
    except RuntimeError:
        for _name in [m for m in _sys.modules if m.startswith("torchvision")]:
            del _sys.modules[_name]
        _sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

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


def _rotate_sample(sample: dict) -> dict:
    """torchgeo's ``transforms``: kornia's RandomRotation(+-45 degrees, bilinear, zeros) on the float image."""
    import kornia.augmentation as K

    global _KORNIA_ROT
    if _KORNIA_ROT is None:
        _KORNIA_ROT = K.RandomRotation(degrees=45.0, p=1.0)
    sample["image"] = _KORNIA_ROT(sample["image"].float()[None])[0]
    return sample


_KORNIA_ROT = None


def torchgeo_loader(path: str, n: int, size: int, workers: int, seed: int) -> tuple[object, object]:
    """A DataLoader of torchgeo's RasterDataset + RandomGeoSampler over ``path``, and a warm-up dataset."""
    from torchgeo.datasets import RasterDataset, stack_samples
    from torchgeo.samplers import RandomGeoSampler, Units

    ds = RasterDataset(paths=[path], transforms=_rotate_sample)
    sampler = RandomGeoSampler(ds, size=size, length=n, units=Units.PIXELS,
                               generator=torch.Generator().manual_seed(seed))
    kw = {"num_workers": workers, "batch_size": 8, "sampler": sampler, "collate_fn": stack_samples}
    if workers:
        kw["multiprocessing_context"] = "spawn"
    return torch.utils.data.DataLoader(ds, **kw), (ds, list(RandomGeoSampler(
        ds, size=size, length=2, units=Units.PIXELS, generator=torch.Generator().manual_seed(seed + 1))))


def run_one(kind: str, path: str, workers: int, n: int, size: int) -> dict:
    """One measurement in this (fresh) process."""
    import geoaug
    from geoaug.loaders.scenes_torch import SceneDataset

    kw = {"num_workers": workers, "batch_size": 8}
    if workers:
        kw["multiprocessing_context"] = "spawn"
    if kind == "torchgeo":
        loader, (warm_ds, queries) = torchgeo_loader(path, n, size, workers, 0)
        _ = [warm_ds[q] for q in queries]  # GDAL and kornia warm-up, not timed
    else:
        if kind == "geoaug":
            ds = SceneDataset(path, size, length=n, pipeline=geoaug.Compose([geoaug.Affine(rotate=(-45, 45))]),
                              seed=0)
            warm = SceneDataset(path, size, length=2, pipeline=ds.pipeline, seed=1)
        else:
            ds, warm = PlainWindows(path, n, size, 0), PlainWindows(path, 2, size, 1)
        _ = [warm[i] for i in range(2)]  # numba and GDAL warm-up, not timed
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
    ap.add_argument("--no-torchgeo", action="store_true", help="leave torchgeo out even if installed")
    ap.add_argument("--run", nargs=3, metavar=("KIND", "PATH", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        print(json.dumps(run_one(a.run[0], a.run[1], int(a.run[2]), a.chips, a.size)))
        return
    t0 = time.perf_counter()
    cog, vrt = build(a.work, a.side)
    print(f"scene {cog} ({cog.stat().st_size / 1e6:.0f} MB) ready in {time.perf_counter() - t0:.0f} s", flush=True)
    has_torchgeo = importlib.util.find_spec("torchgeo") is not None and not a.no_torchgeo
    configs = []
    for path in (cog, vrt):
        for workers in (0, 2):
            kinds = ["geoaug", "torchgeo", "plain"] if path == cog else ["geoaug", "torchgeo"]
            configs += [(kind, path, workers) for kind in kinds if kind != "torchgeo" or has_torchgeo]
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
    for i, (kind, path, workers) in enumerate(configs):
        rs = sorted(runs[i], key=lambda r: r["chips_per_s"])
        row = dict(rs[len(rs) // 2])
        row["chips_per_s_all"] = [round(r["chips_per_s"], 2) for r in runs[i]]
        row["peak_rss_main_mb"] = max(r["peak_rss_main_mb"] for r in runs[i])
        row["peak_rss_worker_mb"] = max(r["peak_rss_worker_mb"] for r in runs[i])
        # geoaug against each contender, round by round (the rounds ran interleaved)
        if kind == "geoaug":
            for j, (other, opath, ow) in enumerate(configs):
                if other != "geoaug" and opath == path and ow == workers:
                    per_round = [g["chips_per_s"] / o["chips_per_s"] for g, o in zip(runs[i], runs[j])]
                    row[f"vs_{other}"] = round(float(np.median(per_round)), 3)
                    row[f"vs_{other}_all"] = [round(v, 3) for v in per_round]
        rows.append(row)
        vs = "  ".join(f"{k[3:]} x{row[k]:.2f} {row[k + '_all']}" for k in row if k.startswith("vs_")
                       and not k.endswith("_all"))
        print(f"{kind:8s} {row['path']:22s} workers={workers}  {row['chips_per_s']:6.1f} chips/s "
              f"{row['chips_per_s_all']}  peak RSS main {row['peak_rss_main_mb']:5.0f} MB, worker "
              f"{row['peak_rss_worker_mb']:5.0f} MB  valid {row['valid_fraction']:.3f}  {vs}", flush=True)
    if a.json:
        a.json.write_text(json.dumps({"side": a.side, "chips": a.chips, "size": a.size, "repeat": a.repeat,
                                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
