"""Scenarios for tests/test_process_models.py, each run in a fresh interpreter.

Every scenario first runs geoaug's kernels in the parent process (what a user
does when looking at one sample before training), then runs the same
pipeline in child processes or threads, and prints one JSON line: the
checksums of the outputs, which the test compares with a serial run.

Usage: ``python tests/process_models.py SCENARIO [ARGS...]``
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np

import geoaug

ROOT = Path(__file__).resolve().parents[1]
TILE = ROOT / "fixtures" / "tiles" / "bigearthnet_s2_12band_uint16.tif"

#: geometric (warp + strided copy) and spectral (store, noise) kernels: every parallel kernel runs
PIPE = geoaug.Compose([
    geoaug.HorizontalFlip(), geoaug.Rot90(), geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
    geoaug.Brightness((-0.05, 0.05)), geoaug.GaussianNoise(0.01),
])


def image() -> np.ndarray:
    """The test image: a real 12-band uint16 tile as a plain array."""
    return geoaug.read(TILE).data


def digest(a: np.ndarray) -> str:
    """Short content hash of an array."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def job(seed: int) -> str:
    """One augmentation with a fixed seed: what every worker does."""
    return digest(PIPE(image(), rng=seed))


def serial(n: int) -> list[str]:
    """The reference: the jobs one after another in this process."""
    return [job(i) for i in range(n)]


class _Dataset:
    """A minimal torch map-style dataset running the pipeline (imports torch lazily)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> str:
        return job(i)


def main(argv: list[str]) -> None:
    """Run one scenario after geoaug has run in this (parent) process."""
    scenario, n = argv[0], 8
    job(99)  # geoaug's kernels run in the parent first
    out: dict[str, object] = {"layer": geoaug.kernels.threads.threading_layer()}
    if scenario == "pool":
        with mp.get_context(argv[1]).Pool(2) as pool:
            out["hashes"] = pool.map(job, range(n))
    elif scenario == "futures-processes":
        with cf.ProcessPoolExecutor(2, mp_context=mp.get_context(argv[1])) as ex:
            out["hashes"] = list(ex.map(job, range(n)))
    elif scenario == "threads":
        with cf.ThreadPoolExecutor(4) as ex:
            out["hashes"] = list(ex.map(job, range(n)))
    elif scenario == "dataloader":
        import torch

        ctx, workers, persistent = argv[1], int(argv[2]), argv[3] == "persistent"
        loader = torch.utils.data.DataLoader(_Dataset(), batch_size=None, num_workers=workers,
                                             multiprocessing_context=ctx, persistent_workers=persistent)
        epochs = [list(loader) for _ in range(2 if persistent else 1)]
        assert all(e == epochs[0] for e in epochs)
        out["hashes"] = epochs[0]
    elif scenario == "dask":
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster, Client(cluster) as client:
            out["hashes"] = client.gather(client.map(job, range(n)))
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    out["serial"] = serial(n)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
