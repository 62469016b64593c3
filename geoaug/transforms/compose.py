"""Pipelines: :class:`Compose`, :class:`OneOf`, :class:`SomeOf`.

A pipeline is itself a transform: it samples a *record* (plain data: one
params dict per step, the choices of ``OneOf``/``SomeOf``), then applies it.
Applying flattens nested pipelines into one list of steps and fuses runs of
consecutive geometric steps into one matrix, so a flip + rotation + crop is
one resampling, not three.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import seeding
from ..errors import ParameterError
from ..raster import GeoRaster
from .base import GeometricTransform, RasterLike, Transform
from .functional import label_fill, warp
from .serialize import FORMAT_VERSION, compose_from_dict

__all__ = ["FORMAT_VERSION", "Compose", "OneOf", "SomeOf", "flatten"]

#: largest ``n`` SomeOf takes (it applies at most as many transforms as it holds)
MAX_CHOICES = 1000


def _next_proxy(t: Transform, params: dict[str, Any], r: GeoRaster) -> GeoRaster:
    if params.get("applied", True) and isinstance(t, GeometricTransform):
        shape = (r.height, r.width)
        h, w = t.output_shape(params, shape)
        return r if (h, w) == shape else GeoRaster.proxy(r.count, h, w, r.dtype)  # a proxy holds no pixels
    if params.get("applied", True) and hasattr(t, "proxy_after"):
        return t.proxy_after(r)  # a transform that changes the band count or dtype (SpectralIndex)
    if isinstance(t, _Container):
        for sub, sp in flatten(t, params):
            r = _next_proxy(sub, sp, r)
    return r


def _check_transforms(name: str, transforms: Any) -> list[Transform]:
    if not isinstance(transforms, Sequence) or isinstance(transforms, (str, bytes)):
        raise ParameterError(f"{name}: transforms must be a list of transforms, got {transforms!r}")
    out = list(transforms)
    for i, t in enumerate(out):
        if not isinstance(t, Transform):
            raise ParameterError(f"{name}: transforms[{i}] is not a transform: {t!r}")
    return out


class _Container(Transform):
    """Base of pipelines: a list of transforms."""

    abstract = True
    transforms: list[Transform]

    def apply_params(self, raster: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return run(flatten(self, params), raster, label=False)

    def apply_label_params(self, label: GeoRaster, params: dict[str, Any]) -> GeoRaster:
        return run(flatten(self, params), label, label=True)

    def record_matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        """The total matrix of a record: its applied geometric steps composed (``M1 @ M2 @ ...``)."""
        m = np.eye(3)
        shape = (int(shape[0]), int(shape[1]))
        for t, p in flatten(self, params):
            mi, shape = t.record_matrix(p, shape)
            m = m @ mi
        return m, shape

    def replay(self, raster: RasterLike, record: dict[str, Any]) -> Any:
        """Apply a record from an earlier call (byte-identical; any raster of the same grid)."""
        return self.apply(raster, record)

    def replay_label(self, label: RasterLike, record: dict[str, Any]) -> Any:
        """Apply a record's geometry to a label raster (nearest, no spectral steps)."""
        return self.apply_label(label, record)


class Compose(_Container):
    """Apply transforms in order; each keeps its own ``p``.

    Parameters
    ----------
    transforms : list of Transform
    seed : int, optional
        Seed of the pipeline's own generator (``numpy.random.SeedSequence(seed)``),
        used by ``pipe(raster)`` when no ``rng`` is passed: successive calls
        take successive draws. Pass ``rng=`` (a Generator or an int) for
        independent, order-free reproducibility (workers, DataLoaders).
    p : float
        Probability of applying the whole pipeline.

    Examples
    --------
    >>> import numpy as np, geoaug
    >>> pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Brightness(0.1)], seed=0)
    >>> res = pipe(np.ones((4, 8, 8), "uint16"), return_params=True)
    >>> res.image.dtype, res.image.shape, [s["applied"] for s in res.params["steps"]]
    (dtype('uint16'), (4, 8, 8), [True, True])
    """

    def __init__(self, transforms: Sequence[Transform], seed: int | None = None, p: float = 1.0) -> None:
        super().__init__(p)
        self.transforms = _check_transforms("Compose", transforms)
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0):
            raise ParameterError(f"Compose: seed must be a non-negative int, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def default_rng(self) -> np.random.Generator:
        """The generator used when no ``rng`` is passed: one per process (:func:`geoaug.seeding.default_generator`).

        In the main process it is ``SeedSequence(seed)``; a DataLoader worker
        or another forked or spawned process gets its own stream, keyed on the
        worker's torch seed or the process id, so no two processes replay the
        same draws. Successive calls in one process take successive draws.
        """
        return seeding.stream_for(self, self.seed)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        r = GeoRaster.proxy(raster.count, raster.height, raster.width, raster.dtype)
        steps = []
        for t in self.transforms:
            params = t.sample(rng, r)
            steps.append(params)
            r = _next_proxy(t, params, r)
        return {"steps": steps}

    def __call__(
        self,
        image: Any = None,
        rng: np.random.Generator | int | None = None,
        *,
        labels: Any = None,
        mask: Any = None,
        return_params: bool = False,
        return_record: bool = False,
        layout: str | None = None,
        batch_draw: str = "per_sample",
        **targets: Any,
    ) -> Any:
        """Sample and apply; without ``rng`` the pipeline's per-process generator (:meth:`default_rng`) is used.

        Parameters
        ----------
        image : GeoRaster, ndarray, CPU tensor or dict sample
            As for :meth:`Transform.__call__ <geoaug.transforms.base.Transform.__call__>`:
            ``(bands, H, W)``, ``(B, bands, H, W)`` batches, ``layout="hwc"``
            arrays, torchgeo-style dicts.
        rng : Generator or int, optional
            The randomness; None for the pipeline's own generator.
        labels, mask : raster-like, optional
            A target raster (same draw, nearest); ``mask=`` returns a dict.
        return_params, return_record : bool
            Also return the record (the two names are synonyms).
        layout : {"chw", "hwc"}, optional
            Axis order of arrays and tensors (``(H, W, C)`` is refused without it).
        batch_draw : {"per_sample", "shared"}
            For batches: one draw per sample (default) or one for the batch.
        **targets
            ``bboxes``, ``bbox_format``, ``bbox_labels``, ``bbox_polygons``,
            ``min_area``, ``min_visibility``, ``keypoints``, ``keypoint_format``,
            ``keypoint_labels``, ``keypoint_origin``, ``remove_invisible``,
            ``oriented_bboxes``, ``vectors``: targets moved by the same draw,
            as for :meth:`Transform.__call__ <geoaug.transforms.base.Transform.__call__>`
            (see docs/vectors.md).

        Returns
        -------
        object
            The image, or a :class:`~geoaug.transforms.Result` (``image``,
            ``labels``, ``params`` = the record, ``bboxes``, ``keypoints``,
            ``vectors``...) when ``labels`` or a target is given or
            ``return_params``/``return_record`` is True; dicts for ``mask=`` and
            dict samples.
        """
        gen = self.default_rng() if rng is None else rng
        return super().__call__(image, gen, labels=labels, mask=mask, return_params=return_params or return_record,
                                layout=layout, batch_draw=batch_draw, **targets)

    def to_dict(self) -> dict[str, Any]:
        """The pipeline as plain data (see docs/pipelines.md); ``Compose.from_dict`` reverses it."""
        return {"version": FORMAT_VERSION, **_plain(self.get_config())}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "pipeline") -> Compose:
        """Build a pipeline from :meth:`to_dict` output (or a loaded YAML/JSON file).

        ``source`` names the file in error messages.
        """
        return compose_from_dict(d, source)


class OneOf(_Container):
    """Apply exactly one of ``transforms``, chosen with probabilities proportional to ``weights``.

    Parameters
    ----------
    transforms : list of Transform
    weights : list of float, optional
        Non-negative, not all zero; default equal. The chosen transform's own
        ``p`` still applies.
    p : float
    """

    def __init__(self, transforms: Sequence[Transform], weights: Sequence[float] | None = None,
                 p: float = 1.0) -> None:
        super().__init__(p)
        self.transforms = _check_transforms("OneOf", transforms)
        if not self.transforms:
            raise ParameterError("OneOf: needs at least one transform")
        if weights is None:
            w = np.ones(len(self.transforms))
        else:
            try:
                w = np.asarray(weights, dtype=float)
            except (TypeError, ValueError):
                raise ParameterError(f"OneOf: weights must be numbers, got {weights!r}") from None
            if w.shape != (len(self.transforms),) or (w < 0).any() or w.sum() <= 0 or not np.isfinite(w).all():
                raise ParameterError(f"OneOf: need {len(self.transforms)} non-negative weights, not all 0; "
                                     f"got {weights!r}")
        self.weights = None if weights is None else [float(x) for x in w]
        self._prob = w / w.sum()

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        i = int(rng.choice(len(self.transforms), p=self._prob))
        return {"choice": i, "params": self.transforms[i].sample(rng, raster)}


class SomeOf(_Container):
    """Apply ``n`` of ``transforms`` drawn without replacement, in their listed order.

    Parameters
    ----------
    transforms : list of Transform
    n : int or (int, int)
        How many: fixed, or drawn uniformly from the inclusive range.
    p : float
    """

    def __init__(self, transforms: Sequence[Transform], n: int | tuple[int, int] = (1, 2), p: float = 1.0) -> None:
        super().__init__(p)
        self.transforms = _check_transforms("SomeOf", transforms)
        if isinstance(n, numbers.Integral) and not isinstance(n, bool):
            lo = hi = int(n)
        elif isinstance(n, (list, tuple)) and len(n) == 2 and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in n):
            lo, hi = int(n[0]), int(n[1])
        else:
            raise ParameterError(f"SomeOf: n must be an int or an (int, int) range, got {n!r}")
        if lo < 0 or lo > hi or hi > MAX_CHOICES:
            raise ParameterError(f"SomeOf: n range {n!r} must satisfy 0 <= low <= high <= {MAX_CHOICES}")
        self.n = n if isinstance(n, int) else [lo, hi]
        self._n = (lo, hi)

    def sample_params(self, rng: np.random.Generator, raster: GeoRaster) -> dict[str, Any]:
        k = min(int(rng.integers(self._n[0], self._n[1] + 1)), len(self.transforms))
        chosen = sorted(int(i) for i in rng.choice(len(self.transforms), size=k, replace=False))
        r = GeoRaster.proxy(raster.count, raster.height, raster.width, raster.dtype)
        steps = []
        for i in chosen:
            params = self.transforms[i].sample(rng, r)
            steps.append(params)
            r = _next_proxy(self.transforms[i], params, r)
        return {"chosen": chosen, "steps": steps}


def flatten(t: Transform, params: dict[str, Any]) -> list[tuple[Transform, dict[str, Any]]]:
    """The applied leaf steps of a (possibly nested) pipeline record, in order."""
    if not params.get("applied", True):
        return []
    if isinstance(t, Compose):
        if len(params["steps"]) != len(t.transforms):
            raise ParameterError(f"record has {len(params['steps'])} steps for {len(t.transforms)} transforms")
        return [leaf for sub, sp in zip(t.transforms, params["steps"]) for leaf in flatten(sub, sp)]
    if isinstance(t, OneOf):
        return flatten(t.transforms[int(params["choice"])], params["params"])
    if isinstance(t, SomeOf):
        subs = [t.transforms[int(i)] for i in params["chosen"]]
        return [leaf for sub, sp in zip(subs, params["steps"]) for leaf in flatten(sub, sp)]
    return [(t, params)]


def fusable(group: list[tuple[GeometricTransform, dict]], t: GeometricTransform) -> bool:
    if t.exact:
        return True
    key = (t.interpolation, t.fill, t.fill_value, getattr(t, "antialias", False))
    for g, _ in group:
        if not g.exact and (g.interpolation, g.fill, g.fill_value, getattr(g, "antialias", False)) != key:
            return False
    return True


def run(steps: list[tuple[Transform, dict[str, Any]]], raster: GeoRaster, label: bool) -> GeoRaster:
    """Apply leaf steps in order, fusing consecutive compatible geometric steps into one warp."""
    group: list[tuple[GeometricTransform, dict]] = []

    def flush(r: GeoRaster) -> GeoRaster:
        if not group:
            return r
        m, shape = np.eye(3), (r.height, r.width)
        for t, p in group:
            mi, shape = t.matrix(p, shape)
            m = m @ mi
        lead = next((t for t, _ in group if not t.exact), group[0][0])
        if label:
            out = warp(r, m, shape, "nearest", label_fill(lead.fill))
        else:
            out = warp(r, m, shape, lead.interpolation, lead.fill, lead.fill_value,
                       antialias=getattr(lead, "antialias", False))
        group.clear()
        return out

    owned = False  # True once ``raster`` is an intermediate made here (safe to modify in place)
    for t, p in steps:
        if isinstance(t, GeometricTransform):
            if group and not fusable(group, t):
                raster, owned = flush(raster), True
            group.append((t, p))
            continue
        if group:
            raster, owned = flush(raster), True
        if label:
            raster = t.apply_label_params(raster, p)
        elif owned:
            raster = t.apply_inplace(raster, p)
        else:
            raster, owned = t.apply_params(raster, p), True
    return flush(raster)


def to_entry(t: Transform) -> dict[str, Any]:
    """``{"Name": {config}}``: one pipeline entry as plain data."""
    return {type(t).__name__: _plain(t.get_config())}


def _plain(v: Any) -> Any:
    """A configuration value as plain data (JSON/YAML): transforms as entries, statistics as dicts."""
    if isinstance(v, Transform):
        return to_entry(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if hasattr(v, "to_dict") and not isinstance(v, Transform):
        return _plain(v.to_dict())
    return v


__all__ += ["run", "to_entry"]
