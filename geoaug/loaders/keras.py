"""A multispectral ``ImageDataGenerator`` for Keras users: same arguments, any band count, GeoTIFFs.

Keras' legacy ``ImageDataGenerator`` reads images with PIL and adjusts
brightness with PIL, so it cannot open a 6-band GeoTIFF and fails on 13-band
arrays ("Unsupported channel number"). This one keeps Keras' arguments (the
same names, order, defaults and meanings), its random-parameter dictionaries
and its errors (as :class:`~geoaug.errors.ParameterError`, a ``ValueError``),
and does the work with geoaug's band-agnostic kernels.

Batches are numpy arrays. An iterator is a ``keras.utils.PyDataset`` whenever
Keras can be imported when the iterator is created (geoaug itself never
imports Keras), so it goes straight into ``model.fit``; ``workers``,
``use_multiprocessing`` and ``max_queue_size`` are given to ``flow*``.
Keras 3 needs a backend: ``KERAS_BACKEND=torch`` with the CPU torch wheel,
or tensorflow / jax installed.

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
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import geometry
from ..errors import ParameterError
from ..raster import GeoRaster
from ..transforms.functional import warp
from ..transforms.mixing import BatchTransform
from ._keras_iterators import (
    DataFrameIterator,
    DirectoryIterator,
    Iterator,
    NumpyArrayIterator,
    ParameterTypeError,
)

__all__ = ["DataFrameIterator", "DirectoryIterator", "ImageDataGenerator", "Iterator", "NumpyArrayIterator",
           "ParameterTypeError"]

_FILL = {"constant": "constant", "nearest": "edge", "reflect": "reflect", "wrap": "wrap"}
_ORDER = {0: "nearest", 1: "bilinear", 3: "cubic"}
_DEPRECATED_DATAFRAME_KWARGS = ("has_ext", "sort", "drop_duplicates")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_shift_range(name: str, value: Any) -> Any:
    """Keras' shift ranges: a float (fraction or pixels), an int (pixels) or a 1-D list of allowed values."""
    if _is_number(value):
        return value
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1 and len(value) > 0 and all(
            _is_number(v) for v in np.asarray(value).tolist()):
        return value
    raise ParameterError(f"{name} should be a float, an int or a 1-D list of numbers, got {value!r}")


def _shift_choice(rng: np.random.Generator, spec: Any) -> float:
    """Keras' width/height_shift_range draw.

    A float ``r`` draws from uniform(-r, r); an int ``n`` draws one of
    ``range(n)`` and a random sign (``2`` gives -1, 0 or +1); a list draws one
    of its values and a random sign.
    """
    if isinstance(spec, (int, np.integer)):
        return float(rng.choice(int(spec)) * rng.choice([-1, 1]))
    if isinstance(spec, (list, tuple, np.ndarray)):
        return float(rng.choice(np.asarray(spec)) * rng.choice([-1, 1]))
    return float(rng.uniform(-spec, spec))


class ImageDataGenerator:
    """Keras' ``ImageDataGenerator`` for any number of bands and GeoTIFF folders.

    Parameters
    ----------
    featurewise_center, samplewise_center, featurewise_std_normalization, samplewise_std_normalization : bool
        As in Keras (feature-wise statistics come from :meth:`fit`; a std
        normalisation switches its centring on, with Keras' warning).
    zca_whitening : bool
        As in Keras (the whitening matrix is ``(rows * cols * bands)`` squared:
        small images only).
    zca_epsilon : float
        Epsilon for ZCA whitening.
    rotation_range : float
        Degrees; a rotation is drawn from ``(-rotation_range, rotation_range)``.
    width_shift_range, height_shift_range : float, int or list
        Fractions of the width/height when < 1, pixels otherwise; an int ``n``
        draws from ``range(n)`` with a random sign, a list from its values
        with a random sign, as in Keras.
    brightness_range : (float, float), optional
        Brightness factor range (a tuple or list of two floats); works on any
        band count (Keras' PIL-based one accepts 1, 3 or 4 channels only).
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
        Value for ``fill_mode="constant"``, and for nodata pixels of files.
    horizontal_flip, vertical_flip : bool
        Random flips.
    rescale : float, optional
        Multiplies the data after ``preprocessing_function``.
    preprocessing_function : callable, optional
        Applied to each image first in :meth:`standardize`, like Keras.
    data_format : {"channels_last", "channels_first"}, optional
        None means "channels_last" (geoaug does not read Keras' configuration).
    validation_split : float
        Share of the data set aside for ``subset="validation"`` (the first
        samples, per class for directories, as in Keras); strictly between 0 and 1, or 0.
    interpolation_order : {0, 1, 3}
        0 nearest, 1 bilinear (Keras' default), 3 cubic convolution (Keras
        would use scipy's cubic spline).
    dtype : str, optional
        Batch dtype; None means float32 (Keras' default floatx).
    batch_transform : geoaug.MixUp, geoaug.CutMix or geoaug.Mosaic, optional
        Mixes every batch the iterators make (after the per-image
        augmentation and standardisation): images are mixed, class labels
        become mixed float vectors ``(B, K)`` (integer ids and
        ``class_mode="sparse"`` are one-hot encoded first; one-hot and
        ``"binary"`` targets are mixed as they are), ``class_mode="input"``
        targets are the mixed images. Its draw depends only on the seed, the
        epoch and the batch number.
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
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
        dtype: str | None = None,
        *,
        batch_transform: BatchTransform | None = None,
    ) -> None:
        if batch_transform is not None and not isinstance(batch_transform, BatchTransform):
            raise ParameterError(f"batch_transform must be geoaug.MixUp, CutMix or Mosaic (a BatchTransform), "
                                 f"got {batch_transform!r}")
        self.batch_transform = batch_transform
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        for name, value in (("rotation_range", rotation_range), ("shear_range", shear_range),
                            ("channel_shift_range", channel_shift_range), ("cval", cval),
                            ("zca_epsilon", zca_epsilon)):
            if not _is_number(value):
                raise ParameterError(f"{name} should be a number, got {value!r}")
        self.rotation_range = rotation_range
        self.width_shift_range = _check_shift_range("width_shift_range", width_shift_range)
        self.height_shift_range = _check_shift_range("height_shift_range", height_shift_range)
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in _FILL:
            raise ParameterError(f"fill_mode must be one of {sorted(_FILL)}, got {fill_mode!r}")
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        if rescale is not None and not _is_number(rescale):
            raise ParameterError(f"rescale should be a number or None, got {rescale!r}")
        self.rescale = rescale
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise ParameterTypeError(f"preprocessing_function must be callable, got {preprocessing_function!r}")
        self.preprocessing_function = preprocessing_function
        try:
            self.dtype = np.dtype("float32" if dtype is None else dtype).name
        except TypeError as exc:
            raise ParameterTypeError(f"dtype {dtype!r} is not a numpy dtype") from exc
        if interpolation_order not in _ORDER:
            raise ParameterError(f"interpolation_order must be 0, 1 or 3, got {interpolation_order!r}")
        self.interpolation_order = interpolation_order
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ParameterError('`data_format` should be `"channels_last"` (channel after row and column) or '
                                 f'`"channels_first"` (channel before row and column). Received: {data_format!r}')
        self.data_format = data_format
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if not _is_number(validation_split) or (validation_split and not 0 < validation_split < 1):
            raise ParameterError(f"`validation_split` must be strictly between 0 and 1. Received: "
                                 f"{validation_split!r}")
        self._validation_split = validation_split
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.zca_whitening_matrix: np.ndarray | None = None
        if _is_number(zoom_range):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (isinstance(zoom_range, (list, tuple, np.ndarray)) and len(zoom_range) == 2
              and all(_is_number(v) for v in np.asarray(zoom_range).tolist())):
            self.zoom_range = [float(zoom_range[0]), float(zoom_range[1])]
        else:
            raise ParameterError(f"`zoom_range` should be a float or a tuple or list of two floats. "
                                 f"Received: {zoom_range!r}")
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
                              "`featurewise_center`.", stacklevel=2)
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn("This ImageDataGenerator specifies `zca_whitening` which overrides setting of "
                              "`featurewise_std_normalization`.", stacklevel=2)
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
                          "setting of `featurewise_center`.", stacklevel=2)
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
                          "setting of `samplewise_center`.", stacklevel=2)
        if brightness_range is not None and not (
                isinstance(brightness_range, (tuple, list, np.ndarray)) and np.ndim(brightness_range) == 1
                and len(brightness_range) == 2 and all(_is_number(v) for v in np.asarray(brightness_range).tolist())):
            raise ParameterError(f"`brightness_range` should be a tuple or list of two floats. "
                                 f"Received: {brightness_range!r}")
        self.brightness_range = brightness_range

    # ------------------------------------------------------------------ parameters
    def get_random_transform(self, img_shape: Sequence[int], seed: int | np.random.Generator | None = None
                             ) -> dict[str, Any]:
        """Random transformation parameters (Keras' keys and meanings) for an image of ``img_shape``.

        Parameters
        ----------
        img_shape : tuple of int
            Shape of one image, in this generator's ``data_format``.
        seed : int or numpy.random.Generator, optional
            geoaug never touches numpy's global random state.

        Returns
        -------
        dict
            ``theta``, ``tx``, ``ty``, ``shear``, ``zx``, ``zy``, ``flip_horizontal``,
            ``flip_vertical``, ``channel_shift_intensity``, ``brightness``.
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
        flip_h = bool(rng.random() < 0.5) and bool(self.horizontal_flip)
        flip_v = bool(rng.random() < 0.5) and bool(self.vertical_flip)
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
        out = r.filled_with(self.cval, self.dtype)
        return self._from_chw(out)

    def random_transform(self, x: np.ndarray, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """A randomly transformed copy of one image."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras' normalisation, in place, of one image or a batch.

        Order: preprocessing_function, rescale, sample-wise centring and
        normalisation, feature-wise centring and normalisation, ZCA whitening.
        """
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
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it hasn't been fit on "
                              "any training data. Fit it first by calling `.fit(numpy_data)`.", stacklevel=2)
            else:
                x -= self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, but it hasn't "
                              "been fit on any training data. Fit it first by calling `.fit(numpy_data)`.",
                              stacklevel=2)
            else:
                x /= self.std + 1e-6
        if self.zca_whitening:
            if self.zca_whitening_matrix is None:
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.", stacklevel=2)
            else:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                x = np.reshape(flat @ self.zca_whitening_matrix, x.shape)
        return x

    def fit(self, x: np.ndarray, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Feature-wise statistics (mean, std, ZCA matrix) over sample data, any channel count.

        Parameters
        ----------
        x : ndarray
            Rank 4, ``(N, rows, cols, channels)`` (or channels first).
        augment : bool
            Fit on randomly augmented copies.
        rounds : int
            Augmentation passes when ``augment``.
        seed : int, optional
            Seed of the augmentation draws.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ParameterError(f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}")
        if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
            raise ParameterError(f"rounds must be an integer >= 1, got {rounds!r}")
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = np.random.default_rng(seed)
            x = np.stack([self.random_transform(img, rng) for _ in range(rounds) for img in x]).astype(self.dtype)
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, self.row_axis, self.col_axis)).reshape(shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            n = len(x)
            flat = np.reshape(x, (n, -1))
            u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = (u * s_inv).dot(u.T)

    def mix_batch(self, batch: Any, rng: np.random.Generator, num_classes: int | None = None) -> Any:
        """Apply :attr:`batch_transform` to a batch ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.

        Parameters
        ----------
        batch : ndarray or tuple
            What an iterator made.
        rng : numpy.random.Generator
            The batch's randomness.
        num_classes : int, optional
            One-hot length when ``y`` holds class ids.

        Returns
        -------
        ndarray or tuple
            The same structure; ``y`` as float class vectors ``(B, K)``.
        """
        bt = self.batch_transform
        if bt is None:
            return batch
        x, rest = (batch[0], list(batch[1:])) if isinstance(batch, tuple) else (batch, [])
        if isinstance(x, list):
            raise ParameterError("batch_transform cannot mix batches with extra inputs (x given as (images, other))")
        layout = "hwc" if self.data_format == "channels_last" else "chw"
        y = rest[0] if rest else None
        if isinstance(y, list):
            raise ParameterError("batch_transform cannot mix class_mode=\"multi_output\" targets")
        target_is_x = isinstance(y, np.ndarray) and y.shape == np.shape(x)
        labels = None if y is None or target_is_x else np.asarray(y)
        if labels is not None and num_classes is not None and labels.ndim == 1:
            labels = labels.astype(np.int64)
        res = bt(x, labels=labels, rng=rng, layout=layout, num_classes=num_classes)
        if not rest:
            return res.images
        rest[0] = res.images.copy() if target_is_x else res.labels.astype(self.dtype, copy=False)
        return (res.images, *rest)

    # ------------------------------------------------------------------ iterators
    def flow(self, x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = True, sample_weight: Any = None,
             seed: int | None = None, save_to_dir: str | os.PathLike[str] | None = None, save_prefix: str = "",
             save_format: str = "png", ignore_class_split: bool = False, subset: str | None = None, *,
             workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> NumpyArrayIterator:
        """Batches of augmented images from arrays, as Keras' ``flow``.

        Parameters
        ----------
        x : ndarray or tuple
            Images of rank 4 (any channel count), or ``(images, other)`` where
            ``other`` is an array or a list of arrays given as extra inputs.
        y : array-like, optional
            Labels.
        batch_size : int
            Samples per batch.
        shuffle : bool
            Shuffle the order every epoch.
        sample_weight : array-like, optional
            Per-sample weights (batches are then ``(x, y, w)``).
        seed : int, optional
            Seed of the order and of every draw.
        save_to_dir, save_prefix, save_format : optional
            Save the augmented samples as ``{prefix}_{index}_{hash}.{format}``;
            ``png``/``jpeg``/``bmp`` for 1, 3 (or 4) channels, ``tif`` for any.
        ignore_class_split : bool
            Skip the check that both subsets hold every class of ``y``.
        subset : {"training", "validation"}, optional
            Part of ``validation_split``.
        workers, use_multiprocessing, max_queue_size
            Given to ``keras.utils.PyDataset`` (``model.fit`` makes batches in
            that many threads, or processes).

        Returns
        -------
        NumpyArrayIterator
        """
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format,
                                  ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype,
                                  workers=workers, use_multiprocessing=use_multiprocessing,
                                  max_queue_size=max_queue_size)

    def flow_from_directory(self, directory: str | os.PathLike[str], target_size: tuple[int, int] = (256, 256),
                            color_mode: str | None = None, classes: Sequence[str] | None = None,
                            class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
                            seed: int | None = None, save_to_dir: str | os.PathLike[str] | None = None,
                            save_prefix: str = "", save_format: str = "png", follow_links: bool = False,
                            subset: str | None = None, interpolation: str = "nearest",
                            keep_aspect_ratio: bool = False, *, nodata: float | None = None, workers: int = 1,
                            use_multiprocessing: bool = False, max_queue_size: int = 10) -> DirectoryIterator:
        """Batches from class sub-folders of images of any band count (the EuroSAT layout), as Keras'.

        Parameters
        ----------
        directory : path
            One sub-folder per class; files ``.tif``, ``.tiff``, ``.png``,
            ``.jpg``, ``.jpeg``, ``.bmp``, ``.ppm``, read with :func:`geoaug.read`.
        target_size : (int, int)
            ``(rows, cols)``; files are resized with ``interpolation``.
        color_mode : {None, "any", "rgb", "rgba", "grayscale"}
            None (default) / "any": every band of the file. "rgb", "rgba",
            "grayscale": Keras' (PIL's) meaning, for files of 1, 3 or 4 bands.
        classes : list of str, optional
            Sub-folders to use, in class-index order (default: all, sorted).
        class_mode : {"categorical", "binary", "sparse", "input", None}
            Label format.
        batch_size, shuffle, seed
            As in :meth:`flow`.
        save_to_dir, save_prefix, save_format : optional
            As in :meth:`flow`; ``tif`` keeps the augmented geotransform.
        follow_links : bool
            Follow symbolic links to sub-folders.
        subset : {"training", "validation"}, optional
            Part of ``validation_split`` (per class).
        interpolation : {"nearest", "bilinear", "bicubic"}
            Resampling to ``target_size``.
        keep_aspect_ratio : bool
            Crop the centre to the target aspect ratio before resizing.
        nodata : float, optional
            Nodata value for files without a nodata tag (pixels become ``cval``).
        workers, use_multiprocessing, max_queue_size
            As in :meth:`flow`.

        Returns
        -------
        DirectoryIterator
        """
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 data_format=self.data_format, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, follow_links=follow_links, subset=subset,
                                 interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio,
                                 dtype=self.dtype, nodata=nodata, workers=workers,
                                 use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)

    def flow_from_scenes(self, scenes: Any, size: int | tuple[int, int] = 256, **kwargs: Any) -> Any:
        """Batches of chips read window by window from whole scenes (see :func:`geoaug.scenes_keras.flow_from_scenes`).

        Parameters
        ----------
        scenes : path-like, Scene, or a sequence of them
            Scene files, folders, VRT mosaics, band-file folders or STAC JSON.
        size : int or (int, int)
            Chip size in pixels.
        **kwargs
            ``length``, ``stride``, ``pipeline``, ``labels``, ``batch_size``, ``shuffle``, ``seed``,
            ``min_valid``, ``max_tries``, ``stack``, ``bands``, ``label_fill``.

        Returns
        -------
        SceneIterator
        """
        from .scenes_keras import flow_from_scenes

        return flow_from_scenes(self, scenes, size, **kwargs)

    def flow_from_dataframe(self, dataframe: Any, directory: str | os.PathLike[str] | None = None,
                            x_col: str = "filename", y_col: str | list[str] = "class",
                            weight_col: str | None = None, target_size: tuple[int, int] = (256, 256),
                            color_mode: str | None = None, classes: Sequence[str] | None = None,
                            class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
                            seed: int | None = None, save_to_dir: str | os.PathLike[str] | None = None,
                            save_prefix: str = "", save_format: str = "png", subset: str | None = None,
                            interpolation: str = "nearest", validate_filenames: bool = True, *,
                            keep_aspect_ratio: bool = False, nodata: float | None = None, workers: int = 1,
                            use_multiprocessing: bool = False, max_queue_size: int = 10,
                            **kwargs: Any) -> DataFrameIterator:
        """Batches from a pandas data frame of file names and labels, as Keras' (needs pandas).

        Parameters
        ----------
        dataframe : pandas.DataFrame
            One row per image.
        directory : path, optional
            Folder the file names are relative to (None: as written).
        x_col : str
            Column of file names (strings).
        y_col : str or list of str
            Label column (a list for ``class_mode="multi_output"`` or ``"raw"``).
        weight_col : str, optional
            Numeric column of sample weights.
        target_size, color_mode, classes, batch_size, shuffle, seed, save_to_dir, save_prefix, save_format
            As in :meth:`flow_from_directory`.
        class_mode : {"categorical", "binary", "sparse", "input", "multi_output", "raw", None}
            Label format; Keras' deprecated ``"other"`` means ``"raw"``.
        subset : {"training", "validation"}, optional
            Part of ``validation_split`` (the first rows are validation).
        interpolation : {"nearest", "bilinear", "bicubic"}
            Resampling to ``target_size``.
        validate_filenames : bool
            Drop rows whose file does not exist or is not an image (with a warning).
        keep_aspect_ratio, nodata, workers, use_multiprocessing, max_queue_size
            As in :meth:`flow_from_directory`.
        **kwargs
            Keras' deprecated ``has_ext``, ``sort``, ``drop_duplicates``
            (a DeprecationWarning each); anything else is an error.

        Returns
        -------
        DataFrameIterator
        """
        unknown = sorted(set(kwargs) - set(_DEPRECATED_DATAFRAME_KWARGS))
        if unknown:
            raise ParameterTypeError(f"flow_from_dataframe() got unexpected keyword arguments {unknown}")
        for name in kwargs:
            warnings.warn(f"{name} is deprecated (and ignored), as in Keras: batches follow the order of the data "
                          "frame and file names must match the files exactly.", DeprecationWarning, stacklevel=2)
        if class_mode == "other":
            warnings.warn('`class_mode="other"` is deprecated, please use `class_mode="raw"`.', DeprecationWarning,
                          stacklevel=2)
            class_mode = "raw"
        return DataFrameIterator(dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
                                 target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 data_format=self.data_format, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, subset=subset, interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype,
                                 validate_filenames=validate_filenames, nodata=nodata, workers=workers,
                                 use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)

    # ------------------------------------------------------------------ layout helpers
    def _to_chw(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3:
            raise ParameterError(f"expected one image of rank 3, got shape {x.shape}")
        return np.moveaxis(x, -1, 0) if self.data_format == "channels_last" else x

    def _from_chw(self, x: np.ndarray) -> np.ndarray:
        return np.moveaxis(x, 0, -1) if self.data_format == "channels_last" else x
