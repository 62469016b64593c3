"""Keras: batches of chips from whole scenes (``flow_from_scenes`` for :class:`geoaug.keras.ImageDataGenerator`).

``flow_from_scenes(generator, scenes, ...)`` returns an iterator of batches
(a ``keras.utils.PyDataset`` when Keras is imported) whose samples are chips
read window by window (:class:`geoaug.sampling.ChipSet`): a geoaug
``pipeline`` gives them context-aware geometry; the generator's own random
transform and standardisation then apply as in ``flow_from_directory``.
Sample ``i`` of epoch ``e`` draws from ``SeedSequence(seed, spawn_key=(e, i))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..sampling import ChipSet
from ..transforms.functional import warp
from ._keras_iterators import Iterator
from .keras import ImageDataGenerator

__all__ = ["SceneIterator", "flow_from_scenes"]


class SceneIterator(Iterator):
    """Batches of chips of whole scenes (what :func:`flow_from_scenes` returns).

    A ``keras.utils.PyDataset`` when Keras can be imported (``workers``,
    ``use_multiprocessing``, ``max_queue_size`` as for ``flow_from_directory``).
    """

    def __init__(self, chips: ChipSet, generator: ImageDataGenerator, batch_size: int = 32, shuffle: bool = True,
                 seed: int | None = None, label_fill: int = -1, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.chips = chips
        self.generator = generator
        self.label_fill = int(label_fill)
        self._init_iterator(len(chips), batch_size, shuffle, seed, workers, use_multiprocessing, max_queue_size)
        self.chips.seed = self.seed

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        g = self.generator
        self.chips.set_epoch(self.epoch)
        images, labels = [], []
        for i in index_array:
            rng = self._rng(int(i))
            chip = self.chips.chip(int(i), rng)
            r = chip.image
            shape = (r.height, r.width, r.count) if g.data_format == "channels_last" else r.shape
            params = g.get_random_transform(shape, rng)
            r = g.apply_to_raster(r, params)
            chw = r.filled_with(g.cval, g.dtype)
            images.append(g.standardize(g._from_chw(chw)))
            if chip.label is not None:
                m = g.transform_matrix(params, (chip.label.height, chip.label.width))
                lab = warp(chip.label, m, (chip.label.height, chip.label.width), "nearest", "nodata")
                labels.append(np.where(lab.pixel_mask, lab.data[0].astype(np.int64), self.label_fill))
        x = np.stack(images)
        if labels:
            return x, np.stack(labels)
        return x


def flow_from_scenes(
    generator: ImageDataGenerator,
    scenes: Any,
    size: int | tuple[int, int] = 256,
    length: int | None = None,
    stride: int | None = None,
    pipeline: Any = None,
    labels: Any = None,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = None,
    min_valid: float = 0.0,
    max_tries: int = 100,
    stack: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    label_fill: int = -1,
    workers: int = 1,
    use_multiprocessing: bool = False,
    max_queue_size: int = 10,
) -> SceneIterator:
    """Batches of chips from whole scenes, read window by window.

    Parameters
    ----------
    generator : ImageDataGenerator
        geoaug's Keras generator (its random transform and standardisation apply to each chip).
    scenes : path-like, Scene, or a sequence of them
        As :func:`geoaug.sampling.find_scenes`.
    size : int or (int, int)
        Chip size in pixels.
    length : int, optional
        Random chips per epoch (else a ``stride`` grid over every scene).
    stride : int, optional
        Grid step.
    pipeline : Transform, dict or path, optional
        A geoaug pipeline applied with the scene's context before the generator's transform.
    labels : path-like or mapping scene name -> path, optional
        Label rasters/vectors: batches are ``(x, y)`` with ``y`` int64 label chips.
    batch_size : int
        Chips per batch.
    shuffle : bool
        Shuffle the chip order each epoch.
    seed : int, optional
        Base seed.
    min_valid : float
        Least valid fraction of a random window.
    max_tries : int
        Windows tried per random chip.
    stack, bands : sequence of str, optional
        Band order of band-file folders; STAC common names.
    label_fill : int
        Label value where labels are invalid.
    workers, use_multiprocessing, max_queue_size
        ``keras.utils.PyDataset`` settings, as for ``flow_from_directory``.

    Returns
    -------
    SceneIterator
        ``x`` is ``(N, rows, cols, bands)`` (``channels_last``) or ``(N, bands, rows, cols)``.
    """
    if not isinstance(generator, ImageDataGenerator):
        raise ParameterError(f"flow_from_scenes: generator must be a geoaug.keras.ImageDataGenerator, "
                             f"got {type(generator).__name__}")
    chips = ChipSet(scenes, size, length, stride, pipeline, labels, 0 if seed is None else seed, min_valid,
                    max_tries, stack, bands)
    return SceneIterator(chips, generator, batch_size, shuffle, seed, label_fill, workers, use_multiprocessing,
                         max_queue_size)
