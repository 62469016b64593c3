"""PyTorch: :class:`GeoTiffDataset`, GeoTIFFs of any band count as augmented float32 tensors.

Each sample's draw depends only on ``(seed, epoch, index)``, so a
``DataLoader`` gives the same batches with 0 or N workers, in any order; call
:meth:`GeoTiffDataset.set_epoch` at the start of each epoch for new draws. The
epoch lives in a shared-memory tensor, so it reaches persistent workers
(``persistent_workers=True``) under fork, spawn and forkserver alike.
Transforms themselves take CPU tensors and give tensors back (see
:meth:`geoaug.transforms.base.Transform.__call__`).
torch is an optional dependency (``pip install "geoaug[torch]"``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import seeding
from ..errors import ParameterError
from ..io import find_rasters, read
from ..transforms.base import Transform
from ..transforms.serialize import as_pipeline

__all__ = ["SAMPLE_FORMATS", "GeoTiffDataset", "IterableSceneDataset", "SceneDataset", "worker_init_fn"]

#: what :class:`GeoTiffDataset` samples look like: geoaug's keys, or torchgeo's ("mask" = the target)
SAMPLE_FORMATS = ("geoaug", "torchgeo")


def worker_init_fn(worker_id: int) -> None:
    """Prepare a DataLoader worker for geoaug: single-threaded kernels, the worker's own default draws.

    geoaug does this by itself at the first transform call (or
    :class:`GeoTiffDataset` sample) in a worker; pass this as
    ``DataLoader(..., worker_init_fn=geoaug.torch.worker_init_fn)`` to have it
    done up front, or call it from your own ``worker_init_fn``.

    Parameters
    ----------
    worker_id : int
        The worker's index (given by the DataLoader; unused).
    """
    seeding.process_key()


class GeoTiffDataset(Dataset):
    """Augmented GeoTIFF samples as tensors.

    Parameters
    ----------
    paths_or_folder : path-like or sequence of path-like
        A folder (searched recursively for ``*.tif``/``*.tiff``) or a list of files.
    pipeline : Transform, Compose, dict or path, optional
        The augmentation (a pipeline file is loaded with
        :func:`geoaug.load_pipeline`); None for no augmentation.
    labels : folder, sequence of paths, or sequence of numbers, optional
        Label rasters (a folder with the same relative names as a folder
        input, or one path per sample), which get the same draw with
        nearest; or one class label per sample.
    seed : int
        Base seed; sample ``i`` of epoch ``e`` uses
        ``SeedSequence(seed, spawn_key=(e, i))``.
    nodata : float, optional
        Nodata override for files whose collar has no tag.
    label_fill : int
        Value of label pixels outside the augmented label raster's valid
        area (an ``ignore_index`` for the loss).
    sample_format : {"geoaug", "torchgeo"}
        The keys of a sample (below).

    Returns (``__getitem__``)
    -------------------------
    dict
        ``"image"``: float32 tensor (bands, H, W), invalid pixels 0;
        ``"valid"``: bool tensor (H, W), True where every band is valid;
        ``"index"``: int. With ``sample_format="geoaug"`` (default) also
        ``"mask"``: the same as ``"valid"``, and ``"label"``: int64 tensor
        (H, W) for label rasters, or a 0-d tensor for class labels (absent
        without labels). With ``sample_format="torchgeo"``: ``"mask"``: the
        label raster, int64 (H, W) (the target, as in torchgeo), class labels
        under ``"label"``; ``"crs"``: the CRS as a string (WKT, or
        ``"EPSG:n"``), ``""`` without one; ``"transform"``: float64 tensor
        (6,), the augmented geotransform's ``a, b, c, d, e, f``;
        ``"bounds"``: float64 tensor (4,) ``minx, maxx, miny, maxy``
        (torchgeo's order) from that transform and the output shape.
    """

    def __init__(
        self,
        paths_or_folder: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        pipeline: Transform | dict | str | os.PathLike[str] | None = None,
        labels: str | os.PathLike[str] | Sequence[Any] | None = None,
        seed: int = 0,
        nodata: float | None = None,
        label_fill: int = -1,
        sample_format: str = "geoaug",
    ) -> None:
        folder = None
        if isinstance(paths_or_folder, (str, os.PathLike)) and Path(paths_or_folder).is_dir():
            folder = Path(paths_or_folder)
            self.paths = [str(p) for p in find_rasters(folder)]
        else:
            self.paths = [os.fspath(p) for p in paths_or_folder]  # type: ignore[union-attr]
        if not self.paths:
            raise ParameterError(f"{paths_or_folder}: no GeoTIFFs found")
        self.pipeline = None if pipeline is None else as_pipeline(pipeline)
        self.label_paths: list[str] | None = None
        self.class_labels: np.ndarray | None = None
        if isinstance(labels, (str, os.PathLike)):
            if folder is None:
                raise ParameterError("a labels folder needs a folder of images (matched by relative name)")
            self.label_paths = [str(Path(labels) / Path(p).relative_to(folder)) for p in self.paths]
        elif labels is not None:
            labels = list(labels)
            if len(labels) != len(self.paths):
                raise ParameterError(f"{len(labels)} labels for {len(self.paths)} images")
            if all(isinstance(v, (int, float, np.integer, np.floating)) for v in labels):
                self.class_labels = np.asarray(labels)
            else:
                self.label_paths = [os.fspath(v) for v in labels]
        if sample_format not in SAMPLE_FORMATS:
            raise ParameterError(f"sample_format must be \"geoaug\" or \"torchgeo\", got {sample_format!r}")
        self.sample_format = sample_format
        self.seed, self.nodata, self.label_fill = int(seed), nodata, int(label_fill)
        # shared memory: a forked worker sees writes, a spawned one receives the same memory when the
        # dataset is pickled to it, so set_epoch reaches persistent workers
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        """The epoch whose draws samples use (shared with DataLoader workers)."""
        return int(self._epoch.item())

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch.fill_(int(value))

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch``: call it before iterating each epoch (before ``iter(loader)``).

        The value is written into shared memory, so workers that persist
        between epochs (``persistent_workers=True``) see it too. Call it
        before the loop starts an epoch: a DataLoader prefetches its first
        batches when iteration starts.

        Parameters
        ----------
        epoch : int
            The epoch number.
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index`` in the current epoch."""
        return seeding.loader_rng(self.seed, self.epoch, index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        seeding.process_key()  # first sample in a DataLoader worker: single-threaded kernels there
        image = read(self.paths[index], nodata=self.nodata)
        label = read(self.label_paths[index]) if self.label_paths is not None else None
        if self.pipeline is not None:
            res = self.pipeline(image, self.rng(index), labels=label, return_params=True)
            image, label = res.image, res.labels
        data = image.filled_with(0, np.float32)
        valid = torch.from_numpy(np.ascontiguousarray(image.pixel_mask))
        sample: dict[str, Any] = {"image": torch.from_numpy(data), "valid": valid}
        torchgeo = self.sample_format == "torchgeo"
        if not torchgeo:
            sample["mask"] = valid
        sample["index"] = int(index)
        if label is not None:
            lab = np.where(label.pixel_mask, label.data[0].astype(np.int64), self.label_fill)
            sample["mask" if torchgeo else "label"] = torch.from_numpy(lab)
        elif self.class_labels is not None:
            sample["label"] = torch.as_tensor(self.class_labels[index])
        if torchgeo:
            t = image.transform
            left, bottom, right, top = image.bounds
            crs = image.crs
            sample["crs"] = "" if crs is None else crs.to_string()
            sample["transform"] = torch.tensor(tuple(t)[:6], dtype=torch.float64)
            sample["bounds"] = torch.tensor((left, right, bottom, top), dtype=torch.float64)
        return sample


from .scenes_torch import IterableSceneDataset, SceneDataset  # noqa: E402  (scenes -> chips, same draw rule)
