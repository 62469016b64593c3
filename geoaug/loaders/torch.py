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
from ..transforms.mixing import BatchTransform
from ..transforms.serialize import as_pipeline

__all__ = ["SAMPLE_FORMATS", "GeoTiffDataset", "IterableSceneDataset", "MixCollate", "SceneDataset",
           "worker_init_fn"]

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


class MixCollate:
    """A DataLoader ``collate_fn`` that applies a batch transform (MixUp, CutMix, Mosaic) to each batch.

    Samples are collated by ``torch.utils.data.default_collate`` first, then
    the batch transform mixes them:

    * dict samples (:class:`GeoTiffDataset`'s, torchgeo's): ``"image"`` is
      mixed; ``"valid"`` (and geoaug's ``"mask"``, the same validity) follows;
      a label raster (``"label"`` of shape (B, H, W), or torchgeo's ``"mask"``)
      is pasted; class labels (``"label"`` of shape (B,) or (B, K)) become
      mixed float vectors (B, K); torchgeo's ``"transform"`` rows go to
      :class:`~geoaug.transforms.Mosaic`'s record, one per quadrant;
    * tuple samples ``(image, label)``: the label is class ids / vectors or a
      label raster, by its shape, as above.

    The draw of a batch depends only on ``(seed, epoch, the indexes of its
    samples)`` when samples carry an ``"index"`` (GeoTiffDataset's do), so
    batches are the same with 0 or N workers; otherwise each process draws
    from its own stream of ``seed``. Call :meth:`set_epoch` each epoch, as for
    the dataset (the epoch is shared with persistent workers).

    Parameters
    ----------
    transform : BatchTransform
        ``geoaug.MixUp(...)``, ``geoaug.CutMix(...)`` or ``geoaug.Mosaic(...)``.
    num_classes : int, optional
        One-hot length for integer class ids (needed when labels are class ids).
    seed : int
        Seed of the draws.
    record : bool
        Add the record of each batch under ``"mix"`` (dict samples only).

    Examples
    --------
    >>> import geoaug, geoaug.torch, torch
    >>> collate = geoaug.torch.MixCollate(geoaug.CutMix(), num_classes=3)
    >>> batch = collate([{"image": torch.ones(4, 8, 8) * i, "label": torch.tensor(i), "index": i} for i in range(3)])
    >>> batch["image"].shape, batch["label"].shape, bool(torch.allclose(batch["label"].sum(1), torch.ones(3)))
    (torch.Size([3, 4, 8, 8]), torch.Size([3, 3]), True)
    """

    def __init__(self, transform: BatchTransform, num_classes: int | None = None, seed: int = 0,
                 record: bool = False) -> None:
        if not isinstance(transform, BatchTransform):
            raise ParameterError(f"MixCollate needs a batch transform (MixUp, CutMix, Mosaic), got {transform!r}")
        self.transform, self.num_classes, self.seed, self.record = transform, num_classes, int(seed), bool(record)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch`` (shared with DataLoader workers, persistent ones included).

        Parameters
        ----------
        epoch : int
            The epoch number.
        """
        self._epoch.fill_(int(epoch))

    def rng(self, indexes: Sequence[int] | None) -> np.random.Generator:
        """The generator of a batch of samples ``indexes`` in the current epoch (a per-process stream without)."""
        if indexes is None:
            return seeding.stream_for(self, self.seed)
        return seeding.loader_rng(self.seed, int(self._epoch.item()), *(int(i) for i in indexes))

    def __call__(self, samples: Sequence[Any]) -> Any:
        """Collate ``samples`` and mix the batch.

        Parameters
        ----------
        samples : sequence
            What the dataset returned, one entry per sample.

        Returns
        -------
        dict or list
            The collated batch with images, validity and labels mixed.
        """
        from torch.utils.data import default_collate

        seeding.process_key()
        batch = default_collate(list(samples))
        if isinstance(batch, dict):
            return self._mix_dict(batch)
        if isinstance(batch, (list, tuple)) and batch:
            image = batch[0]
            label = batch[1] if len(batch) > 1 else None
            cls, ras = (label, None) if label is not None and label.ndim <= 2 and label.ndim < image.ndim - 1 else (
                None, label)
            res = self.transform(image, labels=cls, masks=ras, rng=self.rng(None), num_classes=self.num_classes)
            out = [res.images]
            if label is not None:
                out.append(res.labels if cls is not None else res.masks)
            return type(batch)([*out, *batch[2:]]) if isinstance(batch, tuple) else [*out, *batch[2:]]
        return self.transform(batch, rng=self.rng(None)).images

    def _mix_dict(self, batch: dict[str, Any]) -> dict[str, Any]:
        if "image" not in batch:
            raise ParameterError(f"MixCollate: samples need an \"image\"; got keys {sorted(map(str, batch))}")
        image = batch["image"]
        valid = batch.get("valid")
        label, mask = batch.get("label"), batch.get("mask")
        raster = None
        cls = None
        if label is not None:
            if label.ndim >= 3:
                raster = "label"
            else:
                cls = label
        if mask is not None and mask.dtype != torch.bool and raster is None:
            raster = "mask"  # torchgeo: "mask" is the target raster
        if valid is None and mask is not None and mask.dtype == torch.bool:
            valid = mask
        idx = batch.get("index")
        indexes = None if idx is None else [int(i) for i in torch.as_tensor(idx).reshape(-1).tolist()]
        ts = batch.get("transform")
        res = self.transform(image, labels=cls, masks=None if raster is None else batch[raster], valid=valid,
                             rng=self.rng(indexes), num_classes=self.num_classes,
                             transforms=None if ts is None else [t for t in ts.to(torch.float64)])
        out = dict(batch)
        out["image"] = res.images
        if res.valid is not None:
            if "valid" in out:
                out["valid"] = res.valid
            if mask is not None and mask.dtype == torch.bool:
                out["mask"] = res.valid
        if cls is not None:
            out["label"] = res.labels
        if raster is not None:
            out[raster] = res.masks
        if self.record:
            out["mix"] = res.params
        return out


from .scenes_torch import IterableSceneDataset, SceneDataset  # noqa: E402  (scenes -> chips, same draw rule)
