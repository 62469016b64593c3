"""Transform base classes: sample, then apply.

A transform draws its parameters from a :class:`numpy.random.Generator`
into a small plain dict (:meth:`Transform.sample`), then applies them
deterministically (:meth:`Transform.apply`). The object holds no per-call
state, so one instance is safe in Dask tasks and DataLoader workers, and a
call is replayed from its params.

Call forms
----------
>>> import numpy as np
>>> from geoaug.transforms import HorizontalFlip
>>> flip = HorizontalFlip(p=1.0)
>>> a = np.arange(6, dtype="uint16").reshape(1, 2, 3)
>>> flip(a, rng=np.random.default_rng(0))          # plain array in, array out
array([[[2, 1, 0],
        [5, 4, 3]]], dtype=uint16)
>>> res = flip(a, rng=np.random.default_rng(0), labels=a[0], return_params=True)
>>> res.params, res.labels.tolist()                # label rasters get the same draw
({'applied': True}, [[2, 1, 0], [5, 4, 3]])
>>> flip(image=a, mask=a[0], rng=0)["mask"].tolist()   # keyword style: mask = the target raster
[[2, 1, 0], [5, 4, 3]]
>>> flip(np.zeros((4, 1, 2, 3), "uint8"), rng=0).shape  # a (B, bands, H, W) batch: one draw per sample
(4, 1, 2, 3)
>>> flip(np.zeros((32, 32, 3), "uint8"), rng=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geoaug.errors.ParameterError: array of shape (32, 32, 3) looks like (H, W, C) with 3 channels; ...
>>> flip(np.zeros((32, 32, 3), "uint8"), rng=0, layout="hwc").shape
(32, 32, 3)

CPU torch tensors give tensors back; dict samples (``{"image", "mask",
"transform", "bounds", ...}``, torchgeo style) give dicts back with their
geotransform and bounds moved by the same matrix.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from affine import Affine

from .. import geometry, seeding
from ..errors import ParameterError
from ..kernels import index_copy
from ..raster import _SUPPORTED, GeoRaster
from .functional import copy, label_fill, warp, warp_array

__all__ = ["BATCH_DRAWS", "LAYOUTS", "MAX_MAGNITUDE", "REGISTRY", "GeometricTransform", "Result", "Transform",
           "as_range", "check_layout", "draw", "draws", "looks_hwc"]

#: name -> transform class, filled by subclassing (used by serialisation and the test suite)
REGISTRY: dict[str, type[Transform]] = {}

RasterLike = GeoRaster | np.ndarray

#: largest magnitude a transform parameter may have (angles, shifts, factors...): far beyond any
#: meaningful value, small enough that differences and products of parameters stay finite
MAX_MAGNITUDE = 1e12


@dataclass(frozen=True)
class Result:
    """What a transform call returns when labels, params or targets are asked for.

    ``bboxes``, ``keypoints``, ``oriented_bboxes`` (pixel coordinates of the
    output, :mod:`geoaug.targets`) and ``vectors`` (a
    :class:`~geoaug.vectors.VectorLayer` clipped to the output's footprint,
    :mod:`geoaug.vectors`) are set when they were given; ``bbox_labels`` /
    ``keypoint_labels`` hold the label fields of the kept ones;
    ``target_counts`` says per kind how many came in, were kept, dropped
    (and clipped, repaired) so nothing is lost silently.
    """

    image: Any
    labels: Any = None
    params: dict[str, Any] | None = None
    bboxes: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    oriented_bboxes: np.ndarray | None = None
    vectors: Any = None
    bbox_labels: dict[str, list[Any]] | None = None
    keypoint_labels: dict[str, list[Any]] | None = None
    target_counts: dict[str, dict[str, int]] | None = None


def as_range(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> tuple[float, float]:
    """Validate a parameter that is a number (fixed) or a ``(low, high)`` tuple (uniform draw).

    Both ends must be finite (NaN and infinities are refused), lie within
    ``[low, high]`` when those are given, and have a magnitude of at most
    :data:`MAX_MAGNITUDE`, so a draw between them (``low + (high - low) * u``)
    and what is computed from it stay finite.
    """
    try:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            lo = hi = float(value)
        elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
        ):
            lo, hi = float(value[0]), float(value[1])
        else:
            raise ParameterError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    except OverflowError:  # an int too large for a float
        raise ParameterError(f"{name} must be finite, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(f"{name} must be finite (no NaN or infinity), got {value!r}")
    if lo > hi:
        raise ParameterError(f"{name}: low {lo} > high {hi}")
    if (low is not None and lo < low) or (high is not None and hi > high):
        bounds = f">= {low}" if high is None else f"<= {high}" if low is None else f"within [{low}, {high}]"
        raise ParameterError(f"{name} must lie {bounds}, got {value!r}")
    if max(abs(lo), abs(hi)) > MAX_MAGNITUDE:
        raise ParameterError(f"{name} must lie within [-{MAX_MAGNITUDE:g}, {MAX_MAGNITUDE:g}], got {value!r}")
    return lo, hi


def draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform draw from ``bounds``; a fixed value when low == high (still consumes one draw)."""
    return _at(bounds, float(rng.random()))


def draws(rng: np.random.Generator, bounds: Collection[tuple[float, float]]) -> list[float]:
    """:func:`draw` from each of ``bounds`` in turn, the uniforms taken in one ``rng.random(n)`` call.

    The same numbers as ``[draw(rng, b) for b in bounds]`` (``rng.random(n)`` gives what ``n`` calls of
    ``rng.random()`` give, for every numpy bit generator), in a fifth of the time for six.
    """
    return [_at(b, u) for b, u in zip(bounds, rng.random(len(bounds)).tolist())]


def _at(bounds: tuple[float, float], u: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * u


class Transform:
    """Base of every transform.

    Subclasses implement :meth:`sample_params` (draw, given that the
    transform applies) and :meth:`apply_params` (the deterministic
    operation). ``p`` is the probability of applying.
    """

    #: base classes set this in their own body to stay out of the registry
    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False) and not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(self, p: float = 1.0) -> None:
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
            raise ParameterError(f"{type(self).__name__}: p must be a number in [0, 1], got {p!r}")
        self.p = float(p)

    # -- to override ---------------------------------------------------------------
    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        """Draw the parameters of one application (JSON-serialisable values)."""
        return {}

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Apply drawn parameters to an image raster."""
        raise NotImplementedError

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Apply drawn parameters to a label raster (default: unchanged)."""
        return label

    def record_matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        """The total output->input pixel matrix of a draw and its output ``(rows, cols)``.

        The identity for transforms that move no pixel (spectral ones) and for
        draws that did not apply; pipelines compose their steps' matrices
        (one matrix rules geometry: the pixels, the geotransform and the
        targets all follow it).

        Parameters
        ----------
        params : dict
            A draw of this transform (:meth:`sample`).
        shape : (rows, cols)
            The input's size.

        Returns
        -------
        matrix : ndarray (3, 3)
        shape : (rows, cols)
        """
        return np.eye(3), (int(shape[0]), int(shape[1]))

    def apply_inplace(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        """Like :meth:`apply_params`, but free to overwrite ``raster.data`` (default: no different).

        Pipelines call it on intermediates they made themselves; spectral
        transforms override it to work in place.
        """
        return self.apply_params(raster, params)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, every parameter named (defaults filled in).

        Taken from the call itself (the signature of the class's ``__init__``),
        so a configuration is written once, in the constructor, and
        ``type(t)(**t.get_config())`` rebuilds an equal transform. Used by
        ``repr`` and serialisation.
        """
        args = self.__dict__.get("_init_args")
        return dict(args) if args is not None else {"p": self.p}

    # -- public API ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, raster: RasterLike) -> dict[str, Any]:
        """Draw one application's parameters: ``{"applied": bool, ...}``."""
        return self._sample(rng, _as_raster(raster))

    def _sample(self, rng: np.random.Generator, raster: GeoRaster | None) -> dict[str, Any]:
        # sample() of a raster already wrapped; None for a draw that never reads the raster (RASTERLESS_DRAWS)
        applied = bool(rng.random() < self.p)
        if not applied:
            return {"applied": False}
        return {"applied": True, **self.sample_params(rng, raster)}

    def apply(self, raster: RasterLike, params: dict[str, Any], *, layout: str | None = None) -> Any:
        """Apply parameters from :meth:`sample` (replay). Arrays in, arrays out; tensors in, tensors out."""
        r = _as_raster(raster, layout)
        out = self.apply_params(r, params) if params.get("applied", True) else r
        return _like_input(raster, out, layout)

    def apply_label(self, label: RasterLike, params: dict[str, Any], *, layout: str | None = None) -> Any:
        """Apply parameters to a label raster (nearest, no value changes)."""
        r, back = _as_target(label, layout)
        out = self.apply_label_params(r, params) if params.get("applied", True) else r
        return back(out)

    def __call__(
        self,
        image: Any = None,
        rng: np.random.Generator | int | None = None,
        *,
        labels: Any = None,
        mask: Any = None,
        return_params: bool = False,
        layout: str | None = None,
        batch_draw: str = "per_sample",
        bboxes: Any = None,
        bbox_format: str = "pascal_voc",
        bbox_labels: Mapping[str, Any] | None = None,
        bbox_polygons: Any = None,
        min_area: float = 0.0,
        min_visibility: float = 0.0,
        keypoints: Any = None,
        keypoint_format: str = "xy",
        keypoint_labels: Mapping[str, Any] | None = None,
        keypoint_origin: str = "corner",
        remove_invisible: bool = True,
        oriented_bboxes: Any = None,
        vectors: Any = None,
    ) -> Any:
        """Sample and apply.

        Parameters
        ----------
        image : GeoRaster, ndarray, CPU torch tensor or dict sample
            ``(bands, H, W)`` or ``(H, W)``; ``(B, bands, H, W)`` for a batch;
            ``(H, W, C)`` / ``(B, H, W, C)`` with ``layout="hwc"``; or a dict
            sample with an ``"image"`` key (torchgeo style: ``"mask"`` is the
            target, ``"transform"``/``"bounds"`` move with the draw).
        rng : Generator or int, optional
            The randomness (an int seeds a new generator). Without it the
            draw comes from this process's running generator, seeded once
            from OS entropy (:func:`geoaug.seeding.unseeded_generator`): not
            reproducible.
        labels, mask : raster-like, optional
            A target raster (class labels...) given the same draw with nearest.
            ``mask=`` is the keyword style (``pipe(image=x, mask=m)``) and
            returns a dict.
        return_params : bool
            Also return the drawn parameters.
        layout : {"chw", "hwc"}, optional
            Axis order of 3-D (4-D for batches) arrays and tensors; by default
            ``"chw"``, and an array that looks ``(H, W, C)`` is refused
            (see :func:`check_layout`).
        batch_draw : {"per_sample", "shared"}
            For ``(B, ...)`` batches: one draw per sample, or one draw for all.
        bboxes : array-like (N, >= 4), optional
            Axis-aligned boxes in ``bbox_format`` (pixel coordinates,
            pixel-corner origin), moved by the same draw: ``res.bboxes``.
        bbox_format : {"pascal_voc", "coco", "yolo", "albumentations"}
            As albumentations names them.
        bbox_labels : dict of str to sequence, optional
            Label fields, one value per box, filtered like the boxes: ``res.bbox_labels``.
        bbox_polygons : sequence of (K, 2) arrays, optional
            One outline per box: a moved box is the box of its moved outline.
        min_area, min_visibility : float
            Drop boxes (and oriented boxes) whose clipped area in pixels, or
            whose share left inside the output, is below these.
        keypoints : array-like (N, >= len(keypoint_format)), optional
            Points moved by the same draw: ``res.keypoints``.
        keypoint_format : {"xy", "yx", "xya", "xys", "xyas", "xysa"}
            Angles in degrees.
        keypoint_labels : dict of str to sequence, optional
            Label fields of the keypoints: ``res.keypoint_labels``.
        keypoint_origin : {"corner", "center"}
            ``"center"`` for albumentations/OpenCV pixel-centre coordinates.
        remove_invisible : bool
            Drop keypoints that leave the output.
        oriented_bboxes : array-like (N, >= 8), optional
            Four corners each, moved exactly: ``res.oriented_bboxes``.
        vectors : VectorLayer or path, optional
            Vector labels in map coordinates (any CRS), clipped to the output's
            footprint: ``res.vectors`` (in the raster's CRS; for rasters
            without CRS, pixel coordinates in and out).

        Returns
        -------
        object
            The image, of the input's kind; a :class:`Result` (``image``,
            ``labels``, ``params``, and the targets given) when ``labels`` or
            a target is given or ``return_params`` is True; a dict
            ``{"image", "mask"[, "params"]}`` when ``mask`` is given; a dict
            like the input for dict samples (a :class:`Result` holding it with
            ``return_params``).
        """
        seeding.process_key()  # first call in a DataLoader worker: single-threaded kernels there
        if isinstance(rng, np.random.Generator):
            gen = rng
        else:  # no rng: one running stream per process seeded from OS entropy (not a new one per call)
            gen = seeding.unseeded_generator() if rng is None else np.random.default_rng(rng)
        targets = None
        if (bboxes is not None or keypoints is not None or oriented_bboxes is not None or vectors is not None
                or bbox_labels is not None or bbox_polygons is not None or keypoint_labels is not None):
            targets = _Targets(bboxes, bbox_format, bbox_labels, bbox_polygons, min_area, min_visibility, keypoints,
                               keypoint_format, keypoint_labels, keypoint_origin, remove_invisible, oriented_bboxes,
                               vectors)  # built only when targets are given: a plain call pays nothing for them
        return _call(self, gen, image, labels, mask, return_params, layout, batch_draw, targets)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GeometricTransform(Transform):
    """A transform that is a pixel matrix plus an output shape.

    Subclasses implement :meth:`matrix`; applying warps the image with the
    transform's interpolation and label rasters with nearest, and updates the
    geotransform by the rule in :mod:`geoaug.geometry`.
    """

    abstract = True
    #: True for exact index maps (flips, quarter turns, transposes, integer crops): fusing them
    #: with any other geometric transform leaves that transform's interpolation in charge
    exact: ClassVar[bool] = False
    interpolation: str = "nearest"
    fill: str = "nodata"
    fill_value: float | None = None

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        """Output->input matrix and output ``(rows, cols)`` for an input of ``shape``."""
        raise NotImplementedError

    def output_shape(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[int, int]:
        """The output ``(rows, cols)`` of a draw for an input of ``shape`` (:meth:`matrix`'s second item).

        Pipelines ask for it to draw the next step on the right shape; a transform whose output
        keeps the input's shape answers without building its matrix.
        """
        return self.matrix(params, shape)[1]

    def record_matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        if not params.get("applied", True):
            return np.eye(3), (int(shape[0]), int(shape[1]))
        return self.matrix(params, shape)

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        shape = raster.data.shape[1:]
        if (cc := self._cached_copy(params, shape)) is not None:  # the plan warp would find, without finding it
            return copy(raster, cc[0], cc[2], cc[1])
        m, out = self.matrix(params, shape)
        return warp(raster, m, out, self.interpolation, self.fill, self.fill_value)

    def copy_plan(
        self, params: dict[str, Any], shape: tuple[int, int]
    ) -> tuple[tuple[int, int, int, int, int, int], tuple[int, int]] | None:
        """The strided-copy plan of a draw and its output ``(rows, cols)``, or None when it is not an exact copy.

        The plan is :func:`geoaug.geometry.strided_plan` of :meth:`record_matrix`:
        output pixel ``(i, j)`` is input pixel ``(r0 + ri*i + rj*j, c0 + ci*i + cj*j)``.
        Transforms whose matrix depends on the shape alone answer from a cache.

        Parameters
        ----------
        params : dict
            A draw of this transform (:meth:`sample`).
        shape : (rows, cols)
            The input's size.
        """
        cc = self._cached_copy(params, shape)
        if cc is not None:
            return cc[0], cc[1]
        m, out = self.record_matrix(params, shape)
        plan = geometry.strided_plan(m, (int(shape[0]), int(shape[1])), out)
        return None if plan is None else (plan, out)

    def _cached_copy(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[Any, tuple[int, int], Any] | None:
        # (plan, output shape, read-only matrix) of a draw that is an exact copy, from a per-shape cache; None where
        # there is none (here: always; the flips, transposes and quarter turns override it)
        return None

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        m, shape = self.matrix(params, (label.height, label.width))
        return warp(label, m, shape, "nearest", label_fill(self.fill))


# ------------------------------------------------------------------ inputs in, outputs of the same kind
LAYOUTS = ("chw", "hwc")
BATCH_DRAWS = ("per_sample", "shared")
#: target dtypes the kernels lack, warped as a wider/narrower supported dtype and cast back
_TARGET_CASTS = {np.dtype("int64"): np.dtype("int32"), np.dtype("bool"): np.dtype("uint8"),
                 np.dtype("int8"): np.dtype("int16")}


def looks_hwc(shape: tuple[int, ...]) -> bool:
    """True when a 3-D shape ``(a, b, c)`` looks like ``(H, W, C)`` rather than ``(bands, H, W)``.

    That is when the last axis is strictly the smallest, ``c < a`` and
    ``c < b``, and either it is at most 4 while the first axis is over 4
    (RGB, RGBA, one- or two-channel images), or it is at most 16 while both
    other axes are at least 16 (a multispectral chip, up to 16 bands).
    ``(bands, H, W)`` arrays that match (an image narrower than its band
    count and height, e.g. 20 bands of 64 x 16) need ``layout="chw"``.

    Parameters
    ----------
    shape : tuple of int
        A 3-D shape.

    Examples
    --------
    >>> [looks_hwc(s) for s in [(64, 64, 3), (256, 256, 13), (8, 8, 4), (13, 64, 64), (3, 2, 3), (1, 5, 5)]]
    [True, True, True, False, False, False]
    """
    a, b, c = shape
    return c < a and c < b and (c <= 4 < a or c <= 16 <= min(a, b))


def check_layout(shape: tuple[int, ...], layout: str | None = None) -> str:
    """The layout of a 3-D array: ``layout`` when given, else ``"chw"`` unless it looks HWC (refused).

    Parameters
    ----------
    shape : tuple of int
        The array's shape (one sample).
    layout : {"chw", "hwc"} or None
        What the caller says; None lets :func:`looks_hwc` guard the default.

    Returns
    -------
    str
        ``"chw"`` or ``"hwc"``.

    Raises
    ------
    ParameterError
        An unknown layout, or a shape that looks ``(H, W, C)`` without a layout.
    """
    if layout is None:
        if len(shape) == 3 and looks_hwc(shape):
            raise ParameterError(
                f"array of shape {tuple(shape)} looks like (H, W, C) with {shape[2]} channels; geoaug reads "
                f"(bands, H, W). Pass layout=\"hwc\" to augment it as (H, W, C) (returned as (H, W, C)), or "
                f"layout=\"chw\" if it really is {shape[0]} bands of {shape[1]} x {shape[2]} pixels")
        return "chw"
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be \"chw\" or \"hwc\", got {layout!r}")
    return layout


def _is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")  # never imported here: a tensor exists only if torch is loaded
    return torch is not None and isinstance(x, torch.Tensor)


def _to_numpy(x: Any) -> np.ndarray:
    """A numpy view of an ndarray or a CPU tensor (no copy); other array-likes through ``np.asarray``."""
    if isinstance(x, np.ndarray):
        return x
    if _is_tensor(x):
        if x.device.type != "cpu":
            raise ParameterError(f"tensor on device {x.device}: geoaug augments CPU tensors (move it with .cpu())")
        try:
            return x.detach().numpy()
        except TypeError as e:  # bfloat16 and other dtypes numpy lacks
            from ..errors import UnsupportedDtypeError

            raise UnsupportedDtypeError(f"tensor dtype {x.dtype} is not supported: {e}") from None
    if isinstance(x, Mapping):
        raise ParameterError("a dict sample is augmented by calling the transform on it, pipe(sample), "
                             f"not by sample/apply; got keys {sorted(map(str, x))}")
    arr = np.asarray(x)
    if arr.dtype == object or arr.ndim == 0:
        raise ParameterError(f"expected a raster (GeoRaster, ndarray or tensor (bands, H, W)), "
                             f"got {type(x).__name__} of shape {arr.shape}")
    return arr


def _recording_init(init: Any) -> Any:
    """Wrap a transform's ``__init__`` to record its bound arguments (the outermost call's only)."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: Transform, *args: Any, **kwargs: Any) -> None:
        if "_init_args" not in self.__dict__:
            try:
                bound = sig.bind(self, *args, **kwargs)
            except TypeError:
                init(self, *args, **kwargs)  # let the real signature raise its own error
                raise
            bound.apply_defaults()
            values = dict(list(bound.arguments.items())[1:])
            for name, param in list(sig.parameters.items())[1:]:
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    values.update(values.pop(name, {}))
            self.__dict__["_init_args"] = values
        init(self, *args, **kwargs)

    return wrapped


def _as_raster(x: RasterLike, layout: str | None = None) -> GeoRaster:
    if isinstance(x, GeoRaster):
        return x
    arr = x if type(x) is np.ndarray else _to_numpy(x)
    if arr.ndim == 3:
        if check_layout(arr.shape, layout) == "hwc":
            arr = arr.transpose(2, 0, 1)
    elif arr.ndim == 4:
        raise ParameterError(f"a batch of shape {arr.shape}: call the transform on it (one draw per sample, "
                             "or batch_draw=\"shared\"); sample/apply take one sample (bands, H, W)")
    return GeoRaster.from_array(arr, lazy_mask=True)  # float: NaN found only by the operations that need it


def _like_input(original: RasterLike, out: GeoRaster, layout: str | None = None, dtype: Any = None) -> Any:
    if isinstance(original, GeoRaster):
        return out
    data = out.data
    if dtype is not None and data.dtype != dtype:
        data = data.astype(dtype)
    ndim = original.ndim if hasattr(original, "ndim") else np.ndim(original)
    if ndim == 2:
        data = data[0]
    elif layout == "hwc":
        data = data.transpose(1, 2, 0)
    if type(original) is np.ndarray or not _is_tensor(original):
        return data
    return _to_tensor(data)


def _to_tensor(data: np.ndarray) -> Any:
    if min(data.strides, default=0) < 0 or not data.flags.writeable:
        data = np.ascontiguousarray(data) if data.flags.writeable else data.copy()
    return sys.modules["torch"].from_numpy(data)


def _target_array(label: Any) -> tuple[np.ndarray, np.dtype | None]:
    """A target as an array of a dtype the kernels take, and the dtype to cast back to (or None)."""
    arr = _to_numpy(label)
    cast = _TARGET_CASTS.get(arr.dtype)
    if cast is None:
        return arr, None
    info = np.iinfo(np.int32)
    if arr.dtype == np.int64 and arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ParameterError("int64 target values beyond the int32 range cannot be warped")
    return arr.astype(cast), arr.dtype


def _as_target(label: Any, layout: str | None = None) -> tuple[GeoRaster, Any]:
    """A target raster and the function that gives the warped one back in the target's own kind and dtype."""
    if isinstance(label, GeoRaster):
        return label, lambda out: out
    arr, dtype = _target_array(label)
    return _as_raster(arr, layout), lambda out: _like_input(label, out, layout, dtype)


@dataclass(frozen=True)
class _Targets:
    """The pixel-space and vector targets of one call (:mod:`geoaug.targets`, :mod:`geoaug.vectors`)."""

    bboxes: Any = None
    bbox_format: str = "pascal_voc"
    bbox_labels: Any = None
    bbox_polygons: Any = None
    min_area: float = 0.0
    min_visibility: float = 0.0
    keypoints: Any = None
    keypoint_format: str = "xy"
    keypoint_labels: Any = None
    keypoint_origin: str = "corner"
    remove_invisible: bool = True
    oriented_bboxes: Any = None
    vectors: Any = None

    def move(self, t: Transform, params: dict[str, Any], r: GeoRaster, o: GeoRaster) -> dict[str, Any]:
        """The moved targets of one draw from input ``r`` to output ``o``, as :class:`Result` fields."""
        from .. import targets as tg

        m, shape = t.record_matrix(params, (r.height, r.width))
        in_shape = (r.height, r.width)
        res: dict[str, Any] = {}
        counts: dict[str, dict[str, int]] = {}
        if self.bboxes is not None:
            boxes, kept = tg.move_bboxes(self.bboxes, m, in_shape, shape, bbox_format=self.bbox_format,
                                         min_area=self.min_area, min_visibility=self.min_visibility,
                                         polygons=self.bbox_polygons)
            n = len(tg.as_table("bboxes", self.bboxes, 4))
            fields = tg.check_label_fields("bbox_labels", self.bbox_labels, n)
            res["bboxes"] = boxes
            res["bbox_labels"] = {k: [v[i] for i in kept] for k, v in fields.items()}
            counts["bboxes"] = {"in": n, "kept": len(kept), "dropped": n - len(kept)}
        elif self.bbox_labels is not None or self.bbox_polygons is not None:
            raise ParameterError("bbox_labels/bbox_polygons given without bboxes")
        if self.keypoints is not None:
            pts, kept = tg.move_keypoints(self.keypoints, m, shape, keypoint_format=self.keypoint_format,
                                          keypoint_origin=self.keypoint_origin,
                                          remove_invisible=self.remove_invisible)
            n = len(tg.as_table("keypoints", self.keypoints, len(self.keypoint_format)))
            fields = tg.check_label_fields("keypoint_labels", self.keypoint_labels, n)
            res["keypoints"] = pts
            res["keypoint_labels"] = {k: [v[i] for i in kept] for k, v in fields.items()}
            counts["keypoints"] = {"in": n, "kept": len(kept), "dropped": n - len(kept)}
        elif self.keypoint_labels is not None:
            raise ParameterError("keypoint_labels given without keypoints")
        if self.oriented_bboxes is not None:
            ob, kept = tg.move_oriented_bboxes(self.oriented_bboxes, m, shape, min_area=self.min_area,
                                               min_visibility=self.min_visibility)
            n = len(tg.as_table("oriented_bboxes", self.oriented_bboxes, 8))
            res["oriented_bboxes"] = ob
            counts["oriented_bboxes"] = {"in": n, "kept": len(kept), "dropped": n - len(kept)}
        if self.vectors is not None:
            from .. import vectors as vec

            layer = self.vectors
            if isinstance(layer, (str, bytes)) or hasattr(layer, "__fspath__"):
                layer = vec.read_vectors(layer)
            if not isinstance(layer, vec.VectorLayer):
                raise ParameterError(f"vectors must be a VectorLayer or a path to a vector file, "
                                     f"got {type(layer).__name__}")
            out = vec.clip_to_output(layer, o.transform, (o.height, o.width), o.crs, input_transform=r.transform)
            res["vectors"] = out
            counts["vectors"] = {"in": len(layer), **out.counts}
        res["target_counts"] = counts
        return res


#: ``sample_params`` functions that never read their raster argument: a plain array's draw needs no wrapping
RASTERLESS_DRAWS: set[Any] = {Transform.sample_params}
#: ``apply_params`` functions that are ``functional.warp`` of the draw's ``matrix`` with the transform's
#: ``interpolation``, ``fill`` and ``fill_value``, and its ``antialias`` where the value is True (an output size
#: check before it is the draw's own): a plain array's apply is ``functional.warp_array``, without wrapping
WARP_APPLIES: dict[Any, bool] = {GeometricTransform.apply_params: False}


def _copy_array(t: Transform, gen: np.random.Generator, image: np.ndarray,
                layout: str | None) -> tuple[np.ndarray, dict[str, Any]] | None:
    """A geometric transform of a plain ``(bands, H, W)`` or ``(H, W)`` array, without a GeoRaster.

    What wrapping, :meth:`Transform.sample`, :meth:`GeometricTransform.apply_params`
    and unwrapping give (the same draw from ``gen``, the same bytes: NaN moved
    with the values by a copy, NaN pixels nodata to a resampling), for a
    transform whose apply is a plain warp (:data:`WARP_APPLIES`): the output
    georeferencing would be thrown away. A draw that never reads the raster
    (:data:`RASTERLESS_DRAWS`) is made without one; others on the raster the
    general path would make. An exact transform's draws (flips, transposes,
    quarter turns, centre crops) are strided copies; other draws go through
    :func:`geoaug.transforms.functional.warp_array`, and a float array whose
    NaN pixel was read takes the general apply of the same draw. ``None`` when
    that does not hold (nothing drawn then; empty arrays too, whose errors the
    general path raises): the caller takes the general path.
    """
    cls = type(t)
    if (not isinstance(t, GeometricTransform) or cls.sample is not Transform.sample
            or cls.apply is not Transform.apply or (anti := WARP_APPLIES.get(cls.apply_params)) is None
            or cls.record_matrix is not GeometricTransform.record_matrix
            or image.dtype not in _SUPPORTED or not image.size):
        return None
    if image.ndim == 3:
        if check_layout(image.shape, layout) != "chw":
            return None
        arr = image
    elif image.ndim == 2:
        arr = image[None]
    else:
        return None
    r = None if cls.sample_params in RASTERLESS_DRAWS else GeoRaster.from_array(arr, lazy_mask=True)
    params = t._sample(gen, r)
    if not params["applied"]:
        return image, params
    shape = (arr.shape[1], arr.shape[2])
    cp = t.copy_plan(params, shape) if cls.exact else None
    if cp is not None:
        data, _ = index_copy(arr, None, cp[0], cp[1])
    else:  # what apply_params does: warp's paths (an exact copy among them), without the raster
        m, out_shape = t.matrix(params, shape)
        data = warp_array(arr, m, out_shape, t.interpolation, t.fill, t.fill_value, anti and t.antialias)
        if data is None:  # a NaN pixel was read: the general apply of this draw, its mask found
            r = GeoRaster.from_array(arr, lazy_mask=True) if r is None else r
            return _like_input(image, t.apply_params(r, params)), params
    return (data[0] if image.ndim == 2 else data), params


def _call(t: Transform, gen: np.random.Generator, image: Any, labels: Any, mask: Any, return_params: bool,
          layout: str | None, batch_draw: str, targets: _Targets | None = None) -> Any:
    if image is None:
        raise ParameterError(f"{type(t).__name__}: no image given; call it as t(image) or t(image=..., mask=...)")
    if labels is not None and mask is not None:
        raise ParameterError("labels= and mask= both name the target raster: give one of them")
    if batch_draw not in BATCH_DRAWS:
        raise ParameterError(f"batch_draw must be \"per_sample\" or \"shared\", got {batch_draw!r}")
    if layout is not None and layout not in LAYOUTS:
        raise ParameterError(f"layout must be \"chw\" or \"hwc\", got {layout!r}")
    moving = targets is not None  # Transform.__call__ builds a _Targets only when a target is given
    if moving and (isinstance(image, Mapping) or getattr(image, "ndim", None) == 4):
        raise ParameterError("bboxes/keypoints/oriented_bboxes/vectors go with one image (bands, H, W) or a "
                             "GeoRaster, not a batch or a dict sample: call the pipeline once per sample")
    if isinstance(image, Mapping):
        if labels is not None or mask is not None:
            raise ParameterError("a dict sample carries its own target under \"mask\": don't pass labels=/mask=")
        return _call_dict(t, gen, image, return_params, layout)
    target = labels if labels is not None else mask
    if getattr(image, "ndim", None) == 4:
        out, tout, params = _call_batch(t, gen, image, target, layout, batch_draw)
    elif (target is None and not moving and type(image) is np.ndarray
          and (fast := _copy_array(t, gen, image, layout)) is not None):
        (out, params), tout = fast, None
    else:
        r = _as_raster(image, layout)  # wrapped once: sample and apply get the raster itself
        params = t.sample(gen, r)
        if type(t).apply is Transform.apply:  # what apply does, without wrapping and unwrapping r again
            o = t.apply_params(r, params) if params.get("applied", True) else r
        else:
            o = t.apply(r, params)
        out = _like_input(image, o, layout)
        tout = t.apply_label(target, params, layout=layout) if target is not None else None
    moved = targets.move(t, params, r, o) if moving else {}
    if mask is not None:
        res = {"image": out, "mask": tout, **moved}
        if return_params:
            res["params"] = params
        return res
    if labels is None and not return_params and not moving:
        return out
    return Result(out, tout, params if return_params else None, **moved)


def _call_batch(t: Transform, gen: np.random.Generator, image: Any, target: Any, layout: str | None,
                batch_draw: str) -> tuple[Any, Any, Any]:
    """``(B, bands, H, W)`` (or ``(B, H, W, C)``): one draw per sample or one shared draw."""
    arr = _to_numpy(image)
    hwc = check_layout(arr.shape[1:], layout) == "hwc"
    if hwc:
        arr = arr.transpose(0, 3, 1, 2)
    tarr, tdtype = (None, None) if target is None else _target_array(target)
    if tarr is not None:
        if tarr.shape[0] != arr.shape[0] or tarr.ndim not in (3, 4):
            raise ParameterError(f"batch targets must be (B, H, W) or (B, k, H, W) for {arr.shape[0]} samples, "
                                 f"got shape {tarr.shape}")
        if tarr.ndim == 4 and hwc:
            tarr = tarr.transpose(0, 3, 1, 2)
    outs, touts, plist = [], [], []
    params: dict[str, Any] = {}
    for i in range(arr.shape[0]):
        r = GeoRaster.from_array(arr[i], lazy_mask=True)
        if i == 0 or batch_draw == "per_sample":
            params = t.sample(gen, r)
        plist.append(params)
        outs.append(t.apply(r, params).data)
        if tarr is not None:
            touts.append(t.apply_label(GeoRaster.from_array(tarr[i]), params).data)
    try:
        data = np.stack(outs)
        tdata = np.stack(touts) if tarr is not None else None
    except ValueError:
        shapes = sorted({o.shape for o in outs})
        raise ParameterError(f"the samples of the batch came out with different shapes {shapes}: give the "
                             "pipeline a fixed output size, or use batch_draw=\"shared\"") from None
    if hwc:
        data = data.transpose(0, 2, 3, 1)
    if tdata is not None:
        if tdtype is not None:
            tdata = tdata.astype(tdtype)
        tdata = tdata[:, 0] if tarr.ndim == 3 else (tdata.transpose(0, 2, 3, 1) if hwc else tdata)
    if _is_tensor(image):
        data = _to_tensor(data)
    if tdata is not None and _is_tensor(target):
        tdata = _to_tensor(tdata)
    return data, tdata, (plist if batch_draw == "per_sample" else plist[0])


# -- dict samples (torchgeo style) -------------------------------------------------------
def _call_dict(t: Transform, gen: np.random.Generator, sample: Mapping, return_params: bool,
               layout: str | None) -> Any:
    if "image" not in sample:
        raise ParameterError(f"a dict sample needs an \"image\" key; got keys {sorted(map(str, sample))}")
    image = sample["image"]
    if getattr(image, "ndim", None) == 4:
        raise ParameterError("a dict sample holds one image (bands, H, W); augment samples before collating "
                             "them, or call the transform on the (B, bands, H, W) batch itself")
    r = _as_raster(image, layout)
    transform = _sample_transform(sample, r.height, r.width)
    if transform is not None:
        r = r.replace(transform=transform)
    params = t.sample(gen, r)
    o = t.apply(r, params)
    out = dict(sample)
    out["image"] = _like_input(image, o, layout)
    if sample.get("mask") is not None:
        out["mask"] = t.apply_label(sample["mask"], params, layout=layout)
    if transform is not None:
        if sample.get("transform") is not None:
            out["transform"] = _transform_like(sample["transform"], o.transform)
        if sample.get("bounds") is not None:
            out["bounds"] = _bounds_like(sample["bounds"], o.bounds)
    return Result(out, None, params) if return_params else out


def _sample_transform(sample: Mapping, height: int, width: int) -> Affine | None:
    """The sample's geotransform: its ``"transform"``, else north-up from its ``"bounds"``, else None."""
    v = sample.get("transform")
    if v is not None:
        if isinstance(v, Affine):
            return v
        vals = np.asarray(v.detach().cpu().numpy() if _is_tensor(v) else v, dtype=float).ravel()
        if vals.size == 9 and np.allclose(vals[6:], (0, 0, 1)):
            vals = vals[:6]
        if vals.size != 6:
            raise ParameterError(f"sample \"transform\" must be an affine.Affine or its 6 (or 9) coefficients "
                                 f"a, b, c, d, e, f; got {v!r}")
        return Affine(*vals)
    b = sample.get("bounds")
    if b is None:
        return None
    left, bottom, right, top = _read_bounds(b)
    return Affine((right - left) / width, 0.0, left, 0.0, -(top - bottom) / height, top)


def _read_bounds(b: Any) -> tuple[float, float, float, float]:
    if all(hasattr(b, k) for k in ("minx", "maxx", "miny", "maxy")):
        return float(b.minx), float(b.miny), float(b.maxx), float(b.maxy)
    if all(hasattr(b, k) for k in ("left", "bottom", "right", "top")):
        return float(b.left), float(b.bottom), float(b.right), float(b.top)
    raise ParameterError(f"sample \"bounds\" must have named fields (torchgeo's minx, maxx, miny, maxy or "
                         f"rasterio's left, bottom, right, top): the order of a plain {type(b).__name__} is "
                         f"ambiguous; got {b!r}")


def _bounds_like(b: Any, new: tuple[float, float, float, float]) -> Any:
    left, bottom, right, top = new
    if hasattr(b, "minx"):
        fields = {"minx": left, "maxx": right, "miny": bottom, "maxy": top}
    else:
        fields = {"left": left, "bottom": bottom, "right": right, "top": top}
    if dataclasses.is_dataclass(b):
        return dataclasses.replace(b, **fields)
    if hasattr(b, "_replace"):
        return b._replace(**fields)
    return type(b)(**fields)


def _transform_like(v: Any, new: Affine) -> Any:
    if isinstance(v, Affine):
        return new
    vals = list(new)[: np.size(v.detach().cpu().numpy() if _is_tensor(v) else v)]
    if _is_tensor(v):
        return sys.modules["torch"].tensor(vals, dtype=v.dtype).reshape(v.shape)
    if isinstance(v, np.ndarray):
        return np.array(vals, dtype=v.dtype).reshape(v.shape)
    return type(v)(vals)
