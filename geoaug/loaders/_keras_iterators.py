"""The iterators behind :mod:`geoaug.keras` (package-private; import them from ``geoaug.keras``).

Keras' legacy iterators, argument for argument, for any band count: arrays
(``NumpyArrayIterator``), class folders (``DirectoryIterator``) and pandas
data frames (``DataFrameIterator``). An iterator is created as a subclass of
``keras.utils.PyDataset`` whenever Keras can be imported at that moment (not
when geoaug is imported), so ``model.fit(iterator)`` works whatever the
import order, with the ``workers`` / ``use_multiprocessing`` /
``max_queue_size`` given to ``flow*``. Each sample's draw depends only on
(seed, epoch, sample index): the same batches from threads, processes or
none.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import geometry
from ..errors import ParameterError
from ..io import read, write
from ..raster import GeoRaster
from ..seeding import loader_rng
from ..transforms.functional import warp

if TYPE_CHECKING:
    from .keras import ImageDataGenerator

__all__ = ["DataFrameIterator", "DirectoryIterator", "Iterator", "NumpyArrayIterator", "ParameterTypeError"]

#: file extensions the folder and data-frame iterators read (Keras' list; GDAL reads them all)
WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
#: ``color_mode`` values: Keras' three, and None / "any" for all bands of the file
COLOR_MODES = ("rgb", "rgba", "grayscale", "any", None)
_RESIZE = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "cubic", "cubic": "cubic"}
_PIL_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "gif")
_GEOTIFF_FORMATS = ("tif", "tiff")


class ParameterTypeError(ParameterError, TypeError):
    """An argument or a data-frame column holds values of the wrong type (Keras raises TypeError there)."""


# ---------------------------------------------------------------------------------- Keras on demand
_LOCK = threading.Lock()
_WITH_PYDATASET: dict[type, type] = {}
_IMPORT_FAILED = False


def _pydataset_base() -> type | None:
    """``keras.utils.PyDataset`` if Keras imports now; None (with one warning if it is installed but fails).

    A failed import is not retried (it costs seconds); once the user has
    imported Keras (with a backend), ``sys.modules`` has it.
    """
    global _IMPORT_FAILED
    keras = sys.modules.get("keras")
    if keras is None:
        if _IMPORT_FAILED or importlib.util.find_spec("keras") is None:
            return None
        try:
            import keras
        except Exception as exc:  # no backend: Keras 3 defaults to tensorflow
            if not _IMPORT_FAILED:
                _IMPORT_FAILED = True
                warnings.warn(
                    f"geoaug.keras: Keras is installed but `import keras` failed ({type(exc).__name__}: {exc}). "
                    "Keras 3 needs a backend: set KERAS_BACKEND=torch (with torch installed), or install "
                    "tensorflow or jax. Until then the iterators yield numpy batches but are not "
                    "keras.utils.PyDataset instances, so model.fit() will not accept them.",
                    RuntimeWarning, stacklevel=4)
            return None
    utils = getattr(keras, "utils", None)
    return getattr(utils, "PyDataset", None)


def _with_pydataset(cls: type) -> type:
    """``cls`` itself, or its subclass that is also a ``keras.utils.PyDataset`` when Keras imports."""
    base = _pydataset_base()
    if base is None or issubclass(cls, base):
        return cls
    with _LOCK:
        if cls not in _WITH_PYDATASET:
            _WITH_PYDATASET[cls] = type(cls.__name__, (cls, base), {
                "__module__": cls.__module__, "__qualname__": cls.__qualname__, "_geoaug_base": cls,
                "__doc__": cls.__doc__})
        return _WITH_PYDATASET[cls]


def _rebuild(cls: type, state: dict[str, Any]) -> Iterator:
    """Unpickle an iterator (a PyDataset again if Keras imports in this process)."""
    obj = object.__new__(_with_pydataset(cls))
    obj.__dict__.update(state)
    obj._lock = threading.Lock()
    return obj


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _unique(values: Any) -> np.ndarray:
    """``np.unique`` that also works on object arrays of strings."""
    return np.asarray(sorted(set(np.asarray(values).ravel().tolist())), dtype=object)


# ---------------------------------------------------------------------------------- base iterator
class Iterator:
    """Keras' ``Iterator``: batches by index, ``next()``, ``reset()``, ``on_epoch_end()``.

    Each sample's random draw comes from ``numpy.random.SeedSequence(seed)``
    spawned by (epoch, sample index), never from numpy's global state: a
    batch is the same whether it is made in the main process, in threads or
    in worker processes. ``on_epoch_end`` (called by ``model.fit``) moves to
    the next epoch: a new order when shuffling, new draws.
    """

    white_list_formats = WHITE_LIST_FORMATS

    def __new__(cls, *args: Any, **kwargs: Any) -> Iterator:
        """Create the iterator as a ``keras.utils.PyDataset`` when Keras can be imported now."""
        return object.__new__(_with_pydataset(cls))

    def _init_iterator(self, n: int, batch_size: int, shuffle: bool, seed: int | None, workers: int,
                       use_multiprocessing: bool, max_queue_size: int) -> None:
        self.n = int(n)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        workers = _check_int("workers", workers, 0)
        max_queue_size = _check_int("max_queue_size", max_queue_size, 1)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ParameterError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0
        self.batch_index = 0
        self.total_batches_seen = 0
        self._lock = threading.Lock()
        for base in type(self).__mro__[1:]:
            if base.__name__ == "PyDataset" and "workers" in base.__dict__:
                base.__init__(self, workers=workers, use_multiprocessing=bool(use_multiprocessing),
                              max_queue_size=max_queue_size)
                break
        self._workers, self._use_multiprocessing, self._max_queue_size = (workers, bool(use_multiprocessing),
                                                                           max_queue_size)

    # PyDataset's settings (the same attribute names, so they work with and without Keras)
    @property
    def workers(self) -> int:
        """Workers Keras uses to make batches (``model.fit``); 1 = in the training loop's thread."""
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = _check_int("workers", value, 0)

    @property
    def use_multiprocessing(self) -> bool:
        """Whether Keras' workers are processes (True) or threads (False)."""
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        """Batches Keras' workers may prepare ahead."""
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = _check_int("max_queue_size", value, 1)

    @property
    def samples(self) -> int:
        """Number of samples (the same as ``n``)."""
        return self.n

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the geoaug class (worker processes started by spawn rebuild the PyDataset)."""
        state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
        return _rebuild, (getattr(type(self), "_geoaug_base", type(self)), state)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        return (self.n + self.batch_size - 1) // self.batch_size

    def _index_array(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        ss = np.random.SeedSequence(self.seed, spawn_key=(self.epoch,))
        return np.random.default_rng(ss).permutation(self.n)

    def _rng(self, index: int, stream: int = 0) -> np.random.Generator:
        return loader_rng(self.seed, self.epoch, index, stream)

    def __getitem__(self, idx: int) -> Any:
        """Batch ``idx`` of the current epoch (ValueError past the end, as in Keras)."""
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise ParameterTypeError(f"batch index must be an integer, got {idx!r}")
        if idx >= len(self) or idx < 0:
            raise ParameterError(f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}")
        self.total_batches_seen += 1
        index_array = self._index_array()[self.batch_size * idx: self.batch_size * (idx + 1)]
        batch = self._get_batches_of_transformed_samples(index_array)
        g = getattr(self, "image_data_generator", None)
        if g is None or getattr(g, "batch_transform", None) is None:
            return batch
        # the batch transform's draw: stream 1 of the batch's number (samples use stream 0 of theirs)
        return g.mix_batch(batch, loader_rng(self.seed, self.epoch, int(idx), 1), self._class_count())

    def _class_count(self) -> int | None:
        """The one-hot length for integer class labels of this iterator's batches (None: labels are not ids)."""
        if getattr(self, "class_mode", None) == "sparse":
            return len(self.class_indices)
        y = getattr(self, "y", None)
        if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size:
            return int(y.max()) + 1  # as keras.utils.to_categorical
        return None

    def on_epoch_end(self) -> None:
        """Move to the next epoch: a new order (if shuffling) and new draws."""
        self.epoch += 1

    def set_epoch(self, epoch: int) -> None:
        """Jump to an epoch (draws depend only on seed, epoch and sample)."""
        self.epoch = _check_int("epoch", epoch, 0)

    def reset(self) -> None:
        """Restart ``next()`` at the first batch of the current epoch."""
        self.batch_index = 0

    def __iter__(self) -> Iterator:
        """The iterator itself: ``next()`` loops over epochs forever, as Keras' does."""
        return self

    def __next__(self) -> Any:
        """The next batch; after the last batch of an epoch, the first of the next epoch."""
        with self._lock:
            if self.batch_index >= len(self):
                self.batch_index = 0
                self.on_epoch_end()
            idx = self.batch_index
            self.batch_index += 1
        return self[idx]

    def next(self) -> Any:
        """The next batch (Keras 2's ``next()``)."""
        return self.__next__()

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ save_to_dir
    def _set_save(self, save_to_dir: Any, save_prefix: str, save_format: str, channels: int | None) -> None:
        self.save_to_dir = None if save_to_dir is None else str(save_to_dir)
        self.save_prefix, self.save_format = str(save_prefix), str(save_format)
        if save_to_dir is None:
            return
        if not Path(save_to_dir).is_dir():
            raise ParameterError(f"save_to_dir {save_to_dir}: not an existing directory")
        fmt = self.save_format.lower()
        if fmt not in _PIL_FORMATS + _GEOTIFF_FORMATS:
            raise ParameterError(f"save_format must be one of {list(_PIL_FORMATS + _GEOTIFF_FORMATS)}, "
                                 f"got {save_format!r}")
        if fmt in _PIL_FORMATS:
            _check_picture(fmt, channels)

    def _save(self, batch_x: np.ndarray, index_array: np.ndarray, rasters: Sequence[GeoRaster] | None) -> None:
        """Write each augmented sample of a batch to ``save_to_dir`` (atomically)."""
        fmt = self.save_format.lower()
        for i, j in enumerate(index_array):
            tag = int(self._rng(int(j), stream=1).integers(10**7))
            path = Path(self.save_to_dir) / f"{self.save_prefix}_{int(j)}_{tag}.{self.save_format}"
            x = batch_x[i] if self.data_format == "channels_first" else np.moveaxis(batch_x[i], -1, 0)
            if fmt in _GEOTIFF_FORMATS:
                src = rasters[i] if rasters is not None else None
                r = GeoRaster.from_array(np.ascontiguousarray(x))
                if src is not None:
                    r = r.replace(transform=src.transform, crs=src.crs)
                write(r, path)
            else:
                _check_picture(fmt, x.shape[0])
                _save_picture(x, path, fmt)


def _check_picture(fmt: str, channels: int | None) -> None:
    allowed = (1, 3) if fmt in ("jpg", "jpeg", "ppm") else (1, 3, 4)
    if channels is not None and channels not in allowed:
        raise ParameterError(f"save_format={fmt!r} holds {' or '.join(map(str, allowed))} channels, the images have "
                             f"{channels}: use save_format='tif' (any band count, GeoTIFF)")


def _save_picture(chw: np.ndarray, path: Path, fmt: str) -> None:
    """Keras' ``array_to_img(scale=True)`` then PIL: min..max stretched to 0..255."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is in the test extra
        raise ParameterError(f"save_format={fmt!r} needs pillow; use save_format='tif' or install pillow") from exc
    x = np.moveaxis(np.asarray(chw, dtype=np.float64), 0, -1)
    x = x - np.min(x)
    top = np.max(x)
    if top != 0:
        x = x / top
    x = (x * 255).astype(np.uint8)
    img = Image.fromarray(x[..., 0], "L") if x.shape[-1] == 1 else Image.fromarray(x, "RGBA" if x.shape[-1] == 4
                                                                                     else "RGB")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    img.save(tmp, format="JPEG" if fmt in ("jpg", "jpeg") else fmt.upper())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------- arrays
class NumpyArrayIterator(Iterator):
    """Batches of augmented images from arrays (what :meth:`ImageDataGenerator.flow` returns).

    ``x`` is an array of rank 4 (any channel count), or a tuple/list
    ``(images, other)`` where ``other`` is an array or a list of arrays of
    the same length, given to the model as extra inputs. Batches are
    ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, as in Keras.
    """

    def __init__(self, x: Any, y: Any, image_data_generator: ImageDataGenerator | None, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: int | None = None,
                 data_format: str | None = None, save_to_dir: str | os.PathLike[str] | None = None,
                 save_prefix: str = "", save_format: str = "png", subset: str | None = None,
                 ignore_class_split: bool = False, dtype: str | None = None, *, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        g = image_data_generator
        self.image_data_generator = g
        self.data_format = _data_format(data_format, g)
        self.dtype = _dtype(dtype, g)
        if isinstance(x, (tuple, list)):
            x_misc = [np.asarray(x[1])] if not isinstance(x[1], list) else [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ParameterError("All of the arrays in `x` should have the same length. Found a pair with: "
                                         f"len(x[0]) = {len(x)}, len(x[?]) = {len(xx)}")
        else:
            x_misc = []
        x = np.asarray(x)
        if y is not None and len(x) != len(y):
            raise ParameterError("`x` (images tensor) and `y` (labels) should have the same length. Found: "
                                 f"x.shape = {x.shape}, y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ParameterError("`x` (images tensor) and `sample_weight` should have the same length. Found: "
                                 f"x.shape = {x.shape}, sample_weight.shape = {np.asarray(sample_weight).shape}")
        y = None if y is None else np.asarray(y)
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ParameterError(f"Invalid subset name: {subset!r}; expected 'training' or 'validation'.")
            k = int(len(x) * _validation_split(g))
            if y is not None and not ignore_class_split and not np.array_equal(_unique(y[:k]), _unique(y[k:])):
                raise ParameterError("Training and validation subsets have different number of classes after the "
                                     "split (validation_split takes the first samples). If your arrays are sorted "
                                     "by the label, you might want to shuffle them, or pass "
                                     "ignore_class_split=True.")
            sl = slice(None, k) if subset == "validation" else slice(k, None)
            x, x_misc = x[sl], [np.asarray(xx[sl]) for xx in x_misc]
            y = None if y is None else y[sl]
            sample_weight = None if sample_weight is None else sample_weight[sl]
        if x.ndim != 4:
            raise ParameterError(f"Input data in `NumpyArrayIterator` should have rank 4. You passed an array with "
                                 f"shape {x.shape}")
        if x.dtype.kind not in "biuf":
            raise ParameterTypeError(f"Input data in `NumpyArrayIterator` must be numeric, got dtype {x.dtype}")
        self.x, self.x_misc, self.y, self.sample_weight = x, x_misc, y, sample_weight
        self.subset = subset
        self._set_save(save_to_dir, save_prefix, save_format, x.shape[3 if self.data_format == "channels_last" else 1])
        self._init_iterator(len(x), batch_size, shuffle, seed, workers, use_multiprocessing, max_queue_size)

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        g = self.image_data_generator
        batch_x = np.zeros((len(index_array), *self.x.shape[1:]), dtype=self.dtype)
        for i, j in enumerate(index_array):
            x = self.x[j].astype(self.dtype)
            if g is not None:
                x = g.standardize(g.random_transform(x, self._rng(int(j))))
            batch_x[i] = x
        if self.save_to_dir:
            self._save(batch_x, index_array, None)
        miscs = [xx[index_array] for xx in self.x_misc]
        output: tuple[Any, ...] = (batch_x if not miscs else [batch_x, *miscs],)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output


def _data_format(data_format: str | None, g: ImageDataGenerator | None) -> str:
    if data_format is None:
        data_format = g.data_format if g is not None else "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ParameterError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def _dtype(dtype: Any, g: ImageDataGenerator | None) -> str:
    if dtype is None:
        return g.dtype if g is not None else "float32"
    try:
        return np.dtype(dtype).name
    except TypeError as exc:
        raise ParameterTypeError(f"dtype {dtype!r} is not a numpy dtype") from exc


def _validation_split(g: ImageDataGenerator | None) -> float:
    if g is None:
        raise ParameterError("subset= needs an image_data_generator (its validation_split)")
    return g._validation_split


# ---------------------------------------------------------------------------------- files
def _to_color_mode(r: GeoRaster, color_mode: str | None, path: str) -> GeoRaster:
    """PIL's meaning of ``color_mode`` for files with 1, 3 or 4 bands; None / "any" keeps every band."""
    if color_mode in (None, "any"):
        return r
    b = r.count
    ok = {"grayscale": (1, 3, 4), "rgb": (1, 3, 4), "rgba": (1, 3, 4)}[color_mode]
    if b not in ok:
        raise ParameterError(f"{path}: color_mode={color_mode!r} needs a file with 1, 3 or 4 bands "
                             f"(grayscale, RGB, RGBA); it has {b}. Use color_mode=None for all bands.")
    mask = r.band_mask
    if color_mode == "grayscale":
        if b == 1:
            return r
        # PIL's "L": ITU-R 601-2 luma of the first three bands (a fourth, alpha, is ignored)
        luma = r.data[0] * (299 / 1000) + r.data[1] * (587 / 1000) + r.data[2] * (114 / 1000)
        if r.dtype.kind in "iu":
            info = np.iinfo(r.dtype)
            luma = np.clip(np.rint(luma), info.min, info.max)
        return r.replace(data=luma[None].astype(r.dtype), mask=mask[:3].all(axis=0), band_names=("L",),
                         band_tags=())
    rgb = r.data[:3] if b >= 3 else np.repeat(r.data, 3, axis=0)
    rgb_mask = mask[:3] if b >= 3 else np.repeat(mask, 3, axis=0)
    names = ("R", "G", "B")
    if color_mode == "rgb":
        return r.replace(data=np.ascontiguousarray(rgb), mask=rgb_mask, band_names=names, band_tags=())
    if b == 4:
        return r
    # an image without alpha gets an opaque one (255, PIL's value) where its pixels are valid
    alpha = np.where(rgb_mask.all(axis=0), 255, 0).astype(r.dtype)[None]
    return r.replace(data=np.concatenate([rgb, alpha]), mask=np.concatenate([rgb_mask, np.ones_like(mask[:1])]),
                     band_names=(*names, "A"), band_tags=())


class BatchFromFilesMixin:
    """Reading, resizing, augmenting and labelling files (Keras' mixin of the same name)."""

    def set_processing_attrs(self, image_data_generator: ImageDataGenerator | None, target_size: Sequence[int],
                             color_mode: str | None, data_format: str | None,
                             save_to_dir: str | os.PathLike[str] | None, save_prefix: str, save_format: str,
                             subset: str | None, interpolation: str, keep_aspect_ratio: bool) -> None:
        """Check and store the reading and augmentation settings.

        Parameters
        ----------
        image_data_generator : ImageDataGenerator or None
            Augmentation and normalisation (None: images as read).
        target_size : (int, int)
            ``(rows, cols)`` of every image.
        color_mode : {None, "any", "rgb", "rgba", "grayscale"}
            None / "any": all bands of the file; the others as in Keras (files of 1, 3 or 4 bands).
        data_format : {"channels_last", "channels_first"} or None
            None: the generator's.
        save_to_dir, save_prefix, save_format : optional
            Where and how to save the augmented samples (``tif`` for any band count).
        subset : {"training", "validation"} or None
            Part of the ``validation_split``.
        interpolation : {"nearest", "bilinear", "bicubic"}
            Resampling to ``target_size``.
        keep_aspect_ratio : bool
            Crop the centre to the target aspect ratio before resizing.
        """
        self.image_data_generator = image_data_generator
        if (len(target_size) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                              and v > 0 for v in target_size)):
            raise ParameterError(f"target_size must be two positive integers (rows, cols), got {target_size!r}")
        self.target_size = (int(target_size[0]), int(target_size[1]))
        self.keep_aspect_ratio = bool(keep_aspect_ratio)
        if color_mode not in COLOR_MODES:
            raise ParameterError(f"Invalid color mode: {color_mode!r}; expected 'rgb', 'rgba', 'grayscale', or "
                                 "None / 'any' (all bands of the file)")
        self.color_mode = color_mode
        self.data_format = _data_format(data_format, image_data_generator)
        channels = {"rgba": 4, "rgb": 3, "grayscale": 1}.get(color_mode)  # type: ignore[arg-type]
        self.image_shape = ((*self.target_size, channels) if self.data_format == "channels_last"
                            else (channels, *self.target_size))
        if interpolation not in _RESIZE:
            raise ParameterError(f"interpolation must be one of {sorted(_RESIZE)}, got {interpolation!r}")
        self.interpolation = interpolation
        self._set_save(save_to_dir, save_prefix, save_format, channels)
        if subset is not None:
            split = _validation_split(image_data_generator)
            if subset == "validation":
                self.split: tuple[float, float] | None = (0, split)
            elif subset == "training":
                self.split = (split, 1)
            else:
                raise ParameterError(f"Invalid subset name: {subset!r}; expected 'training' or 'validation'")
        else:
            self.split = None
        self.subset = subset

    @property
    def generator(self) -> ImageDataGenerator | None:
        """The :class:`ImageDataGenerator` (same as ``image_data_generator``)."""
        return self.image_data_generator

    def load(self, i: int) -> GeoRaster:
        """Sample ``i`` read, converted to ``color_mode`` and resized to ``target_size`` (mask kept)."""
        path = self.filepaths[i]
        r = _to_color_mode(read(path, nodata=self.nodata), self.color_mode, path)
        h, w = self.target_size
        if (r.height, r.width) != (h, w):
            box = None
            if self.keep_aspect_ratio:  # Keras' centre crop to the target aspect ratio
                ch = min(r.height, (r.width * h) // w)
                cw = min(r.width, (r.height * w) // h)
                box = ((r.height - ch) // 2, (r.width - cw) // 2, ch, cw)
            m, shape = geometry.resize((r.height, r.width), h, w, box)
            r = warp(r, m, shape, _RESIZE[self.interpolation])
        return r

    def _get_batches_of_transformed_samples(self, index_array: np.ndarray) -> Any:
        g = self.image_data_generator
        work = "float64" if np.dtype(self.dtype) == np.float64 else "float32"
        images, rasters = [], []
        for j in index_array:
            r = self.load(int(j))
            r = r.replace(data=r.data.astype(work))
            fill = 0.0
            if g is not None:
                shape = (r.height, r.width, r.count) if self.data_format == "channels_last" else r.shape
                r = g.apply_to_raster(r, g.get_random_transform(shape, self._rng(int(j))))
                fill = g.cval
            chw = r.filled_with(fill, self.dtype)
            x = chw if self.data_format == "channels_first" else np.moveaxis(chw, 0, -1)
            if g is not None:
                x = g.standardize(x)
            if images and x.shape != images[0].shape:
                first = self.filepaths[int(index_array[0])]
                raise ParameterError(f"{self.filepaths[int(j)]} gives an image of shape {x.shape}, "
                                     f"{first} one of shape {images[0].shape}: files of one batch need the same "
                                     "band count (pick a color_mode, or keep such files apart)")
            images.append(x)
            rasters.append(r)
        batch_x = np.stack(images).astype(self.dtype, copy=False)
        if self.save_to_dir:
            self._save(batch_x, index_array, rasters)
        classes = self.classes
        if self.class_mode == "input":
            batch_y: Any = batch_x.copy()
        elif self.class_mode in ("binary", "sparse"):
            batch_y = np.asarray([classes[j] for j in index_array], dtype=self.dtype)
        elif self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i, classes[j]] = 1.0
        elif self.class_mode == "multi_output":
            batch_y = [output[index_array] for output in self.labels]
        elif self.class_mode == "raw":
            batch_y = self.labels[index_array]
        else:
            return batch_x
        if self.sample_weight is None:
            return batch_x, batch_y
        return batch_x, batch_y, self.sample_weight[index_array]


def _iter_valid_files(directory: str, white_list_formats: Sequence[str], follow_links: bool) -> Any:
    """``(root, filename)`` of the readable files under ``directory``, in Keras' order."""
    suffixes = tuple("." + f for f in white_list_formats)
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda t: t[0]):
        for fname in sorted(files):
            if fname.lower().endswith(suffixes):
                yield root, fname


class DirectoryIterator(BatchFromFilesMixin, Iterator):
    """Batches from ``directory/<class>/...`` (what :meth:`ImageDataGenerator.flow_from_directory` returns).

    Files (GeoTIFFs, and the PNG/JPEG/BMP/PPM Keras reads) are read with
    :func:`geoaug.read`: any band count and dtype, nodata masks respected
    (``nodata=`` for untagged collars); invalid pixels become ``cval``.
    """

    allowed_class_modes = ("categorical", "binary", "sparse", "input", None)

    def __init__(self, directory: str | os.PathLike[str], image_data_generator: ImageDataGenerator | None,
                 target_size: tuple[int, int] = (256, 256), color_mode: str | None = None,
                 classes: Sequence[str] | None = None, class_mode: str | None = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: int | None = None, data_format: str | None = None,
                 save_to_dir: str | os.PathLike[str] | None = None, save_prefix: str = "",
                 save_format: str = "png", follow_links: bool = False, subset: str | None = None,
                 interpolation: str = "nearest", keep_aspect_ratio: bool = False, dtype: str | None = None, *,
                 nodata: float | None = None, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        self.dtype = _dtype(dtype, image_data_generator)
        self.set_processing_attrs(image_data_generator, target_size, color_mode, data_format, save_to_dir,
                                  save_prefix, save_format, subset, interpolation, keep_aspect_ratio)
        root = os.fspath(directory)
        if not os.path.isdir(root):
            raise ParameterError(f"{root}: directory does not exist")
        if class_mode not in self.allowed_class_modes:
            raise ParameterError(f"Invalid class_mode: {class_mode!r}; expected one of: {self.allowed_class_modes}")
        self.directory, self.class_mode, self.nodata = root, class_mode, nodata
        if isinstance(classes, str):
            raise ParameterTypeError(f"classes must be a list of sub-folder names, got the string {classes!r}")
        if not classes:
            classes = [d for d in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, d))]
        missing = [c for c in classes if not os.path.isdir(os.path.join(root, c))]
        if missing:
            raise ParameterError(f"{root}: no sub-folder for the classes {missing}")
        self.class_names = list(classes)
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        self.filenames: list[str] = []
        labels: list[int] = []
        for c in classes:
            files = list(_iter_valid_files(os.path.join(root, c), self.white_list_formats, follow_links))
            if self.split:
                files = files[int(self.split[0] * len(files)):int(self.split[1] * len(files))]
            for dirpath, fname in files:
                self.filenames.append(os.path.join(c, os.path.relpath(os.path.join(dirpath, fname),
                                                                      os.path.join(root, c))))
                labels.append(self.class_indices[c])
        self.classes = np.asarray(labels, dtype="int32")
        self._filepaths = [os.path.join(root, f) for f in self.filenames]
        print(f"Found {len(self.filenames)} images belonging to {self.num_classes} classes.")
        self._init_iterator(len(self.filenames), batch_size, shuffle, seed, workers, use_multiprocessing,
                            max_queue_size)

    @property
    def filepaths(self) -> list[str]:
        """Paths of the image files (``directory`` joined with ``filenames``)."""
        return self._filepaths

    @property
    def labels(self) -> np.ndarray:
        """Class index of every sample (the same as ``classes``)."""
        return self.classes

    @property
    def sample_weight(self) -> None:
        """No sample weights from folders."""
        return None


class DataFrameIterator(BatchFromFilesMixin, Iterator):
    """Batches from a pandas data frame of file names and labels (:meth:`ImageDataGenerator.flow_from_dataframe`).

    Keras' checks and class modes ("binary", "categorical" incl. lists of
    labels per row, "input", "multi_output", "raw", "sparse", None), files
    read with :func:`geoaug.read` (any band count).
    """

    allowed_class_modes = ("binary", "categorical", "input", "multi_output", "raw", "sparse", None)

    def __init__(self, dataframe: Any, directory: str | os.PathLike[str] | None = None,
                 image_data_generator: ImageDataGenerator | None = None, x_col: str = "filename",
                 y_col: str | list[str] = "class", weight_col: str | None = None,
                 target_size: tuple[int, int] = (256, 256), color_mode: str | None = None,
                 classes: Sequence[str] | None = None, class_mode: str | None = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: int | None = None,
                 data_format: str | None = None, save_to_dir: str | os.PathLike[str] | None = None,
                 save_prefix: str = "", save_format: str = "png", subset: str | None = None,
                 interpolation: str = "nearest", keep_aspect_ratio: bool = False, dtype: str | None = None,
                 validate_filenames: bool = True, *, nodata: float | None = None, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.dtype = _dtype(dtype, image_data_generator)
        self.set_processing_attrs(image_data_generator, target_size, color_mode, data_format, save_to_dir,
                                  save_prefix, save_format, subset, interpolation, keep_aspect_ratio)
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the keras extra
            raise ParameterError("flow_from_dataframe needs pandas (pip install 'geoaug[keras]')") from exc
        if not isinstance(dataframe, pd.DataFrame):
            raise ParameterTypeError(f"dataframe must be a pandas.DataFrame, got {type(dataframe).__name__}")
        df = dataframe.copy()
        self.directory = "" if directory is None else os.fspath(directory)
        self.class_mode, self.nodata = class_mode, nodata
        self._check_params(df, x_col, y_col, weight_col, classes)
        if validate_filenames:
            df = self._filter_valid_filepaths(df, x_col)
        if class_mode not in ("input", "multi_output", "raw", None):
            df, classes = self._filter_classes(df, y_col, classes)
            self.class_indices = dict(zip(classes, range(len(classes))))
        else:
            self.class_indices = {}
        if self.split:
            n = len(df)
            df = df.iloc[int(self.split[0] * n):int(self.split[1] * n), :]
        self.classes: Any = None
        if class_mode not in ("input", "multi_output", "raw", None):
            self.classes = self.get_classes(df, y_col)
        self.filenames: list[str] = df[x_col].tolist()
        self._sample_weight = df[weight_col].values if weight_col else None
        self._targets: Any = None
        if class_mode == "multi_output":
            self._targets = [np.array(df[col].tolist()) for col in y_col]
        if class_mode == "raw":
            self._targets = df[y_col].values
        checked = "validated" if validate_filenames else "non-validated"
        found = f"Found {len(self.filenames)} {checked} image filenames"
        print(found + ("." if class_mode in ("input", "multi_output", "raw", None)
                       else f" belonging to {len(self.class_indices)} classes."))
        self._filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        self._init_iterator(len(self.filenames), batch_size, shuffle, seed, workers, use_multiprocessing,
                            max_queue_size)

    def _check_params(self, df: Any, x_col: str, y_col: Any, weight_col: str | None, classes: Any) -> None:
        mode = self.class_mode
        if mode not in self.allowed_class_modes:
            raise ParameterError(f"Invalid class_mode: {mode!r}; expected one of: {self.allowed_class_modes}")
        if mode == "multi_output" and not isinstance(y_col, list):
            raise ParameterTypeError(f'If class_mode="multi_output", y_col must be a list. Received '
                                     f"{type(y_col).__name__}.")
        needed = [x_col] + ([] if mode in ("input", None) else (y_col if isinstance(y_col, list) else [y_col]))
        needed += [weight_col] if weight_col else []
        absent = [c for c in needed if c not in df.columns]
        if absent:
            raise ParameterError(f"the data frame has no column {absent} (columns: {list(df.columns)})")
        if not all(df[x_col].apply(lambda v: isinstance(v, str))):
            raise ParameterTypeError(f"All values in column x_col={x_col} must be strings.")
        if mode in ("binary", "sparse") and not all(df[y_col].apply(lambda v: isinstance(v, str))):
            raise ParameterTypeError(f'If class_mode="{mode}", y_col="{y_col}" column values must be strings.')
        if mode == "binary":
            if classes:
                if len(set(classes)) != 2:
                    raise ParameterError(f'If class_mode="binary" there must be 2 classes. {len(set(classes))} '
                                         "class/es were given.")
            elif df[y_col].nunique() != 2:
                raise ParameterError(f'If class_mode="binary" there must be 2 classes. Found '
                                     f"{df[y_col].nunique()} classes.")
        if mode == "categorical" and not all(df[y_col].apply(lambda v: isinstance(v, (str, list, tuple)))):
            raise ParameterTypeError(f'If class_mode="categorical", y_col="{y_col}" column values must be type '
                                     "string, list or tuple.")
        if classes and mode in ("input", "multi_output", "raw", None):
            warnings.warn(f'`classes` will be ignored given the class_mode="{mode}"', stacklevel=4)
        if weight_col and not issubclass(df[weight_col].dtype.type, np.number):
            raise ParameterTypeError(f"Column weight_col={weight_col} must be numeric.")

    def get_classes(self, df: Any, y_col: str) -> list[Any]:
        """Class index (or list of indices, for rows with several labels) of every row."""
        return [[self.class_indices[v] for v in lab] if isinstance(lab, (list, tuple)) else self.class_indices[lab]
                for lab in df[y_col]]

    @staticmethod
    def _filter_classes(df: Any, y_col: str, classes: Any) -> tuple[Any, list[Any]]:
        df = df.copy()

        def keep(labels: Any, known: list[Any]) -> Any:
            if isinstance(labels, (list, tuple)):
                return [c for c in labels if c in known] or None
            if isinstance(labels, str):
                return labels if labels in known else None
            raise ParameterTypeError(f"Expect string, list or tuple but found {type(labels)} in {y_col} column")

        if classes:
            classes = list(collections.OrderedDict.fromkeys(classes).keys())
            df[y_col] = df[y_col].apply(lambda v: keep(v, classes))
        else:
            found: set[Any] = set()
            for v in df[y_col]:
                if isinstance(v, (list, tuple)):
                    found.update(v)
                else:
                    found.add(v)
            classes = sorted(found)
        return df.dropna(subset=[y_col]), classes

    def _filter_valid_filepaths(self, df: Any, x_col: str) -> Any:
        suffixes = tuple("." + f for f in self.white_list_formats)
        paths = df[x_col].map(lambda f: os.path.join(self.directory, f))
        ok = paths.apply(lambda p: p.lower().endswith(suffixes) and os.path.isfile(p))
        bad = int((~ok).sum())
        if bad:
            warnings.warn(f'Found {bad} invalid image filename(s) in x_col="{x_col}". These filename(s) will be '
                          "ignored.", stacklevel=4)
        return df[ok]

    @property
    def filepaths(self) -> list[str]:
        """Paths of the image files (``directory`` joined with ``filenames``)."""
        return self._filepaths

    @property
    def labels(self) -> Any:
        """Targets: ``classes``, or the raw / multi-output columns."""
        return self._targets if self.class_mode in ("multi_output", "raw") else self.classes

    @property
    def sample_weight(self) -> np.ndarray | None:
        """Values of ``weight_col``, if given."""
        return self._sample_weight
