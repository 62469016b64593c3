"""PyTorch: chips of whole scenes, read window by window in the DataLoader's workers.

:class:`SceneDataset` (map-style) and :class:`IterableSceneDataset` never read
a whole scene: each sample reads the window its draw needs (with the scene's
real surroundings for rotated/scaled chips, see :mod:`geoaug.sampling`).
Sample ``i`` of epoch ``e`` draws from ``SeedSequence(seed, spawn_key=(e, i))``,
like :class:`geoaug.torch.GeoTiffDataset`: the same samples with 0 or N
workers, in any order. torch is an optional dependency.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from ..sampling import Chip, ChipSet, Scene

__all__ = ["IterableSceneDataset", "SceneDataset"]


class SceneDataset(Dataset):
    """Augmented chips of whole scenes as tensors (map-style).

    Parameters
    ----------
    scenes : path-like, Scene, or a sequence of them
        Scene files, folders, band-file folders, VRT mosaics, STAC JSON
        (:func:`geoaug.sampling.find_scenes`).
    size : int or (int, int)
        Chip size in pixels.
    length : int, optional
        Random chips per epoch (scenes drawn in proportion to their area).
        Without it, a grid of ``stride`` over every scene (``length`` = its windows).
    stride : int, optional
        Grid step (default ``size``) when ``length`` is not given.
    pipeline : Transform, dict or path, optional
        The augmentation.
    labels : path-like, LabelSource or mapping scene name -> path, optional
        Labels brought onto each chip's grid.
    seed : int
        Base seed.
    min_valid : float
        Least valid fraction of a random window (retried up to ``max_tries``).
    max_tries : int
        Windows tried per sample before :class:`~geoaug.sampling.NoValidChipError`.
    stack, bands : sequence of str, optional
        Band order of band-file folders; common names of STAC items.
    label_fill : int
        Label value where labels are invalid (an ``ignore_index``).

    Returns (``__getitem__``)
    -------------------------
    dict
        ``"image"`` float32 (bands, H, W), invalid pixels 0; ``"mask"`` bool
        (H, W); ``"label"`` int64 (H, W) with labels; ``"transform"`` float64 (6,)
        (the chip's geotransform a, b, c, d, e, f); ``"window"`` int64 (4,);
        ``"scene"`` str; ``"index"`` int.
    """

    def __init__(
        self,
        scenes: Any,
        size: int | tuple[int, int] = 256,
        length: int | None = None,
        stride: int | None = None,
        pipeline: Any = None,
        labels: Any = None,
        seed: int = 0,
        min_valid: float = 0.0,
        max_tries: int = 100,
        stack: Sequence[str] | None = None,
        bands: Sequence[str] | None = None,
        label_fill: int = -1,
    ) -> None:
        self.chips = ChipSet(scenes, size, length, stride, pipeline, labels, seed, min_valid, max_tries, stack,
                             bands)
        self.scenes: list[Scene] = self.chips.scenes
        self.pipeline = self.chips.pipeline
        self.label_fill = int(label_fill)

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return self.chips.epoch

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch`` (call it before iterating each epoch)."""
        self.chips.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.chips)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index`` in the current epoch."""
        return self.chips.rng(index)

    def chip(self, index: int) -> Chip:
        """Sample ``index`` of the current epoch as a :class:`~geoaug.sampling.Chip` (GeoRasters)."""
        return self.chips.chip(index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return to_sample(self.chip(int(index)), self.label_fill)


class IterableSceneDataset(IterableDataset):
    """The chips of :class:`SceneDataset`, streamed: each DataLoader worker takes every n-th sample.

    Parameters
    ----------
    *args, **kwargs
        As :class:`SceneDataset`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dataset = SceneDataset(*args, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch``."""
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, len(self.dataset), step):
            yield self.dataset[i]


def to_sample(chip: Chip, label_fill: int = -1) -> dict[str, Any]:
    """A chip as a dict of tensors (see :class:`SceneDataset`)."""
    image = chip.image
    data = image.filled_with(0, np.float32)
    out: dict[str, Any] = {
        "image": torch.from_numpy(data),
        "mask": torch.from_numpy(np.ascontiguousarray(image.pixel_mask)),
        "transform": torch.tensor(tuple(image.transform)[:6], dtype=torch.float64),
        "window": torch.tensor(chip.window, dtype=torch.int64),
        "scene": chip.scene,
        "index": int(chip.index),
    }
    if chip.label is not None:
        lab = np.where(chip.label.pixel_mask, chip.label.data[0].astype(np.int64), label_fill)
        out["label"] = torch.from_numpy(lab)
    return out


__all__ += ["to_sample"]
