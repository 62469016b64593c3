"""A multispectral ``ImageDataGenerator`` for Keras users: same arguments, any band count, GeoTIFFs.

Keras' legacy ``ImageDataGenerator`` reads images with PIL and adjusts
brightness with PIL, so it cannot open a 6-band GeoTIFF and fails on 13-band
arrays ("Unsupported channel number"). This one keeps Keras' argument names,
meanings and random-parameter dictionaries, and does the work with geoaug's
band-agnostic kernels. Batches are plain numpy arrays; when Keras is
imported, the iterators are also ``keras.utils.PyDataset`` s, so they go
straight into ``model.fit`` with any backend.

Conventions follow Keras: arrays are ``(N, rows, cols, channels)``
(``channels_last``, the default) or ``(N, channels, rows, cols)``;
``apply_transform`` reproduces Keras' ``apply_affine_transform`` matrix
(rotation @ shift @ shear @ zoom about the image centre, including its use of
the row count for the first centre offset), then channel shift, flips and
brightness, in Keras' order.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import geometry
from .errors import ParameterError
from .io import read
from .raster import GeoRaster
from .transforms.functional import warp

__all__ = ["DirectoryIterator", "ImageDataGenerator", "NumpyArrayIterator"]

_FILL = {"constant": "constant", "nearest": "edge", "reflect": "reflect", "wrap": "wrap"}
_ORDER = {0: "nearest", 1: "bilinear", 3: "cubic"}


def _shift_choice(rng: np.random.Generator, rng_spec: Any) -> float:
    """Keras' width/height_shift_range draw: float -> uniform(-r, r); int or list -> choice x sign."""
    if isinstance(rng_spec, (int, np.integer)) and not isinstance(rng_spec, bool):
        values = np.arange(-int(rng_spec), int(rng_spec) + 1)
        return float(rng.choice(values))
    if isinstance(rng_spec, (list, tuple, np.ndarray)):
        return float(rng.choice(np.asarray(rng_spec)) * rng.choice([-1, 1]))
    return float(rng.uniform(-rng_spec, rng_spec))


class ImageDataGenerator:
    """Keras' ``ImageDataGenerator`` for any number of bands and GeoTIFF folders.

    Parameters
    ----------
    featurewise_center, samplewise_center, featurewise_std_normalization, samplewise_std_normalization : bool
        As in Keras (feature-wise statistics come from :meth:`fit`).
    rotation_range : float
        Degrees; a rotation is drawn from ``(-rotation_range, rotation_range)``.
    width_shift_range, height_shift_range : float, int or list
        Fractions of the width/height when < 1, pixels otherwise; ints and
        lists draw from the allowed values, as in Keras.
    brightness_range : (float, float), optional
        Brightness factor range; works on any band count (Keras' PIL-based
        one accepts 1, 3 or 4 channels only).
    shear_range : float
        Degrees.
    zoom_range : float or (float, float)
        ``z`` means ``(1 - z, 1 + z)``; > 1 zooms *out*, as in Keras.
    channel_shift_range : float
        Shift drawn from ``(-r, r)`` and added to every band, clipped to the image's range.
    fill_mode : {"nearest", "constant", "reflect", "wrap"}
        As in Keras (``wrap`` repeats the image; scipy's ``wrap`` differs at
        the seam by one pixel).
    cval : float
        Value for ``fill_mode="constant"``, and for nodata pixels of GeoTIFFs.
    horizontal_flip, vertical_flip : bool
    rescale : float, optional
    preprocessing_function : callable, optional
        Applied to each image first in :meth:`standardize`, like Keras.
    data_format : {"channels_last", "channels_first"}, optional
    validation_split : float
        Share of the data set aside for ``subset="validation"`` (the first
        samples, per class for directories, as in Keras).
    interpolation_order : {0, 1, 3}
        0 nearest, 1 bilinear (Keras' default), 3 cubic convolution (Keras
        would use scipy's cubic spline).
    dtype : str
        Batch dtype (default float32).
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        rotation_range: float = 0,
        width_shift_range: float | int | Sequence[float] = 0.0,
        height_shift_range: float | int | Sequence[float] = 0.0,
        brightness_range: Sequence[float] | None = None,
        shear_range: float = 0.0,
        zoom_range: float | Sequence[float] = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], np.ndarray] | None = None,
        data_format: str | None = None,
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: str = "float32",
    ) -> None:
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in _FILL:
            raise ParameterError(f"fill_mode must be one of {sorted(_FILL)}, got {fill_mode!r}")
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        if interpolation_order not in _ORDER:
            raise ParameterError(f"interpolation_order must be 0, 1 or 3, got {interpolation_order!r}")
        self.interpolation_order = interpolation_order
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ParameterError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if not 0 <= validation_split < 1:
            raise ParameterError(f"validation_split must be in [0, 1), got {validation_split!r}")
        self._validation_split = validation_split
        if isinstance(zoom_range, numbers.Real):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2:
            self.zoom_range = [float(zoom_range[0]), float(zoom_range[1])]
        else:
            raise ParameterError(f"zoom_range should be a float or a pair of floats, got {zoom_range!r}")
        if brightness_range is not None and len(brightness_range) != 2:
            raise ParameterError(f"brightness_range should be a pair of floats, got {brightness_range!r}")
        self.brightness_range = brightness_range
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    # ------------------------------------------------------------------ parameters
    def get_random_transform(self, img_shape: Sequence[int], seed: int | np.random.Generator | None = None
                             ) -> dict[str, Any]:
        """Random transformation parameters (Keras' keys and meanings) for an image of ``img_shape``.

        ``seed`` may be an int or a ``numpy.random.Generator``; geoaug never
        touches numpy's global random state.
        """
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        row_axis, col_axis = self.row_axis - 1, self.col_axis - 1
        theta = float(rng.uniform(-self.rotation_range, self.rotation_range)) if self.rotation_range else 0.0
        tx = ty = 0.0
        if self.height_shift_range:
            tx = _shift_choice(rng, self.height_shift_range)
            if np.max(self.height_shift_range) < 1:
                tx *= img_shape[row_axis]
        if self.width_shift_range:
            ty = _shift_choice(rng, self.width_shift_range)
            if np.max(self.width_shift_range) < 1:
                ty *= img_shape[col_axis]
        shear = float(rng.uniform(-self.shear_range, self.shear_range)) if self.shear_range else 0.0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx = zy = 1.0
        else:
            zx, zy = (float(v) for v in rng.uniform(self.zoom_range[0], self.zoom_range[1], 2))
        flip_h = bool(rng.random() < 0.5) and self.horizontal_flip
        flip_v = bool(rng.random() < 0.5) and self.vertical_flip
        shift = None
        if self.channel_shift_range != 0:
            shift = float(rng.uniform(-self.channel_shift_range, self.channel_shift_range))
        brightness = None
        if self.brightness_range is not None:
            brightness = float(rng.uniform(self.brightness_range[0], self.brightness_range[1]))
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_h, "flip_vertical": flip_v, "channel_shift_intensity": shift,
                "brightness": brightness}

    # ------------------------------------------------------------------ application
    def keras_matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        """geoaug's output->input pixel matrix (pixel-corner) equal to Keras' affine for ``params``."""
        h, w = shape
        m = np.eye(3)
        theta = math.radians(params.get("theta", 0) or 0)
        if theta:
            m = m @ np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0],
                              [0, 0, 1]])
        tx, ty = params.get("tx", 0) or 0, params.get("ty", 0) or 0
        if tx or ty:
            m = m @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])
        shear = math.radians(params.get("shear", 0) or 0)
        if shear:
            m = m @ np.array([[1, -math.sin(shear), 0], [0, math.cos(shear), 0], [0, 0, 1]])
        zx, zy = params.get("zx", 1), params.get("zy", 1)
        if zx != 1 or zy != 1:
            m = m @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1.0]])
        # Keras centres with (rows / 2 - 0.5, cols / 2 - 0.5) on its (x, y) = (col, row) axes
        ox, oy = h / 2 - 0.5, w / 2 - 0.5
        m = geometry.translation(ox, oy) @ m @ geometry.translation(-ox, -oy)
        # centre-origin index coordinates -> geoaug's pixel-corner coordinates
        return geometry.translation(0.5, 0.5) @ m @ geometry.translation(-0.5, -0.5)

    def transform_matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
        """The whole geometry of ``params`` (affine, then flips) as one output->input pixel matrix."""
        m = self.keras_matrix(params, shape)
        if params.get("flip_horizontal"):
            m = m @ geometry.hflip(shape)[0]
        if params.get("flip_vertical"):
            m = m @ geometry.vflip(shape)[0]
        return m

    def apply_to_raster(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Apply Keras-style parameters to a :class:`~geoaug.GeoRaster` (mask and geotransform follow)."""
        shape = (raster.height, raster.width)
        m = self.transform_matrix(params, shape)
        if not np.allclose(m, np.eye(3)):
            raster = warp(raster, m, shape, _ORDER[self.interpolation_order], _FILL[self.fill_mode], self.cval)
        # channel shift and brightness work on float data over the valid pixels
        data = raster.data.astype(np.float64)
        valid = raster.band_mask
        shift = params.get("channel_shift_intensity")
        if shift is not None and valid.any():
            lo, hi = data[valid].min(), data[valid].max()
            data = np.clip(data + shift, lo, hi)
        b = params.get("brightness")
        if b is not None and valid.any():
            lo, hi = data[valid].min(), data[valid].max()
            if lo < 0 or hi > 255:  # Keras scales such images to 0..255 and back
                data = lo + np.clip((data - lo) * b, 0, hi - lo)
            else:
                data = np.clip(data * b, 0, 255)
        if shift is None and b is None:
            return raster
        return raster.replace(data=np.where(valid, data, raster.data).astype(np.float64))

    def apply_transform(self, x: np.ndarray, transform_parameters: dict[str, Any]) -> np.ndarray:
        """Apply parameters from :meth:`get_random_transform` to one image (rows, cols, channels)."""
        chw = self._to_chw(np.asarray(x))
        r = self.apply_to_raster(GeoRaster.from_array(chw.astype(np.float64, copy=False)), transform_parameters)
        out = np.where(r.band_mask, r.data, self.cval).astype(self.dtype)
        return self._from_chw(out)

    def random_transform(self, x: np.ndarray, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """A randomly transformed copy of one image."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras' normalisation, in place: preprocessing_function, rescale, sample- then feature-wise."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is None:
                warnings.warn("featurewise_center is set but fit() was not called", stacklevel=2)
            else:
                x -= self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                warnings.warn("featurewise_std_normalization is set but fit() was not called", stacklevel=2)
            else:
                x /= self.std + 1e-6
        return x

    def fit(self, x: np.ndarray, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Feature-wise mean and std over a sample array ``(N, rows, cols, channels)`` (any channel count)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ParameterError(f"fit() expects rank 4 (N, rows, cols, channels), got shape {x.shape}")
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = np.random.default_rng(seed)
            x = np.stack([self.random_transform(img, rng) for _ in range(rounds) for img in x])
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)

    # ------------------------------------------------------------------ iterators
    def flow(self, x: np.ndarray, y: Any = None, batch_size: int = 32, shuffle: bool = True,
             seed: int | None = None, subset: str | None = None) -> NumpyArrayIterator:
        """Batches of augmented arrays from ``x`` (N, rows, cols, channels) and optional labels ``y``."""
        return _keras_aware(NumpyArrayIterator)(x, y, self, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                                subset=subset)

    def flow_from_directory(self, directory: str | os.PathLike[str], target_size: tuple[int, int] = (256, 256),
                            classes: Sequence[str] | None = None, class_mode: str | None = "categorical",
                            batch_size: int = 32, shuffle: bool = True, seed: int | None = None,
                            subset: str | None = None, nodata: float | None = None,
                            interpolation: str = "nearest") -> DirectoryIterator:
        """Batches from class sub-folders of GeoTIFFs of any band count (the EuroSAT layout).

        Files are read with :func:`geoaug.read` (nodata masks respected,
        ``nodata=`` for untagged collars), resized to ``target_size`` with
        ``interpolation``, augmented with their mask, and invalid pixels are
        set to ``cval``. ``class_mode``: "categorical", "binary", "sparse",
        "input" or None.
        """
        return _keras_aware(DirectoryIterator)(directory, self, target_size=target_size, classes=classes,
                                               class_mode=class_mode, batch_size=batch_size, shuffle=shuffle,
                                               seed=seed, subset=subset, nodata=nodata,
                                               interpolation=interpolation)

    # ------------------------------------------------------------------ layout helpers
    def _to_chw(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3:
            raise ParameterError(f"expected one image of rank 3, got shape {x.shape}")
        return np.moveaxis(x, -1, 0) if self.data_format == "channels_last" else x

    def _from_chw(self, x: np.ndarray) -> np.ndarray:
        return np.moveaxis(x, 0, -1) if self.data_format == "channels_last" else x


def _keras_aware(cls: type) -> type:
    """``cls`` mixed with ``keras.utils.PyDataset`` when Keras has been imported (never imports it)."""
    keras = sys.modules.get("keras")
    base = getattr(getattr(keras, "utils", None), "PyDataset", None) if keras is not None else None
    if base is None:
        return cls
    return type(cls.__name__, (cls, base), {"__module__": __name__})


class _Iterator:
    """Batches by index; each sample's draw comes from (seed, epoch, sample index) only."""

    def __init__(self, n: int, generator: ImageDataGenerator, batch_size: int, shuffle: bool,
                 seed: int | None) -> None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.generator, self.batch_size, self.shuffle = n, generator, int(batch_size), shuffle
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.epoch = 0
        self._next = 0
        for base in type(self).__mro__:
            if base.__name__ == "PyDataset" and base is not _Iterator:
                base.__init__(self)  # type: ignore[misc]
                break

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self.epoch,))).permutation(self.n)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self.epoch, int(index))))

    def __getitem__(self, idx: int) -> Any:
        if idx >= len(self) or idx < 0:
            raise IndexError(f"batch {idx} out of range (0..{len(self) - 1})")
        indexes = self._order()[idx * self.batch_size:(idx + 1) * self.batch_size]
        return self._batch(indexes)

    def _batch(self, indexes: np.ndarray) -> Any:
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Advance to the next epoch: new order (if shuffling) and new draws."""
        self.epoch += 1

    def set_epoch(self, epoch: int) -> None:
        """Jump to an epoch (draws depend only on seed, epoch and sample)."""
        self.epoch = int(epoch)

    def __iter__(self) -> _Iterator:
        return self

    def __next__(self) -> Any:
        if self._next >= len(self):
            self._next = 0
            self.on_epoch_end()
        batch = self[self._next]
        self._next += 1
        return batch


class NumpyArrayIterator(_Iterator):
    """Batches of augmented images from an array (what :meth:`ImageDataGenerator.flow` returns)."""

    def __init__(self, x: np.ndarray, y: Any, generator: ImageDataGenerator, batch_size: int = 32,
                 shuffle: bool = True, seed: int | None = None, subset: str | None = None) -> None:
        x = np.asarray(x)
        if x.ndim != 4:
            raise ParameterError(f"flow() expects an array of rank 4, got shape {x.shape}")
        if y is not None and len(y) != len(x):
            raise ParameterError(f"x and y have different lengths: {len(x)} and {len(y)}")
        split = generator._validation_split
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ParameterError(f"subset must be 'training' or 'validation', got {subset!r}")
            k = int(len(x) * split)
            sl = slice(None, k) if subset == "validation" else slice(k, None)
            x = x[sl]
            y = None if y is None else np.asarray(y)[sl]
        self.x = x
        self.y = None if y is None else np.asarray(y)
        super().__init__(len(x), generator, batch_size, shuffle, seed)

    def _batch(self, indexes: np.ndarray) -> Any:
        g = self.generator
        out = np.zeros((len(indexes), *self.x.shape[1:]), dtype=g.dtype)
        for j, i in enumerate(indexes):
            img = g.random_transform(self.x[i].astype(g.dtype), self._rng(i))
            out[j] = g.standardize(img)
        return out if self.y is None else (out, self.y[indexes])


class DirectoryIterator(_Iterator):
    """Batches from ``directory/<class>/*.tif`` (what :meth:`ImageDataGenerator.flow_from_directory` returns)."""

    def __init__(self, directory: str | os.PathLike[str], generator: ImageDataGenerator,
                 target_size: tuple[int, int] = (256, 256), classes: Sequence[str] | None = None,
                 class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
                 seed: int | None = None, subset: str | None = None, nodata: float | None = None,
                 interpolation: str = "nearest") -> None:
        root = Path(directory)
        if not root.is_dir():
            raise ParameterError(f"{root}: directory does not exist")
        if class_mode not in ("categorical", "binary", "sparse", "input", None):
            raise ParameterError(f"class_mode must be categorical, binary, sparse, input or None, got {class_mode!r}")
        if subset not in (None, "training", "validation"):
            raise ParameterError(f"subset must be 'training' or 'validation', got {subset!r}")
        self.class_names = list(classes) if classes else sorted(p.name for p in root.iterdir() if p.is_dir())
        self.class_indices = {c: i for i, c in enumerate(self.class_names)}
        self.filenames: list[str] = []
        labels: list[int] = []
        split = generator._validation_split
        for c in self.class_names:
            files = sorted(p for p in (root / c).rglob("*") if p.suffix.lower() in (".tif", ".tiff"))
            k = int(len(files) * split)
            if subset == "validation":
                files = files[:k]
            elif subset == "training":
                files = files[k:]
            self.filenames += [str(f.relative_to(root)) for f in files]
            labels += [self.class_indices[c]] * len(files)
        self.directory, self.target_size, self.class_mode = root, tuple(target_size), class_mode
        self.classes = np.asarray(labels, dtype=np.int64)
        self.nodata, self.interpolation = nodata, interpolation
        super().__init__(len(self.filenames), generator, batch_size, shuffle, seed)
        print(f"Found {self.n} images belonging to {len(self.class_names)} classes.")

    def load(self, i: int) -> GeoRaster:
        """Sample ``i`` read and resized to ``target_size`` (mask kept)."""
        r = read(self.directory / self.filenames[i], nodata=self.nodata)
        h, w = self.target_size
        if (r.height, r.width) != (h, w):
            m, shape = geometry.resize((r.height, r.width), h, w)
            r = warp(r, m, shape, self.interpolation)
        return r

    def _batch(self, indexes: np.ndarray) -> Any:
        g = self.generator
        images = []
        for i in indexes:
            r = g.apply_to_raster(self.load(int(i)), g.get_random_transform(
                self._shape_for(g), self._rng(int(i))))
            chw = np.where(r.band_mask, r.data, g.cval).astype(g.dtype)
            images.append(g.standardize(g._from_chw(chw)))
        x = np.stack(images)
        labels = self.classes[indexes]
        if self.class_mode == "categorical":
            y = np.zeros((len(indexes), len(self.class_names)), dtype=g.dtype)
            y[np.arange(len(indexes)), labels] = 1
        elif self.class_mode == "binary":
            y = labels.astype(g.dtype)
        elif self.class_mode == "sparse":
            y = labels
        elif self.class_mode == "input":
            y = x.copy()
        else:
            return x
        return x, y

    def _shape_for(self, g: ImageDataGenerator) -> tuple[int, int, int]:
        h, w = self.target_size
        return (h, w, 0) if g.data_format == "channels_last" else (0, h, w)
