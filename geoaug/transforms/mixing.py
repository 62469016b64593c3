"""Batch transforms: :class:`MixUp`, :class:`CutMix` and :class:`Mosaic` mix the samples of a batch.

They are not per-image transforms (each output sample is made from several
inputs), so they live beside the per-image registry: they take a whole batch
``(B, bands, H, W)`` (or ``(B, H, W, C)`` with ``layout="hwc"``), and

* class labels ``(B, K)`` (one-hot or soft, float) are mixed by the weight or
  area each sample contributes; integer class ids ``(B,)`` are one-hot encoded
  first (``num_classes`` needed);
* masks (label rasters) ``(B, H, W)`` or ``(B, k, H, W)`` are pasted: CutMix and
  Mosaic copy the label pixels with the image pixels; MixUp keeps the mask of
  the sample whose weight is larger (a class raster cannot be blended);
* the validity mask (``valid``, True = valid, ``(B, H, W)`` or
  ``(B, bands, H, W)``) is followed: a blended pixel is valid only where both
  inputs are valid, a pasted pixel takes its source's validity, and invalid
  pixels keep sample ``i``'s own value (never used as data);
* any dtype: integers are rounded and saturated, floats stay floats.

As everywhere, randomness is drawn first (:meth:`BatchTransform.sample`, a
plain JSON-serialisable record) and applied deterministically
(:meth:`BatchTransform.apply`). From training code use
``geoaug.torch.MixCollate`` (a DataLoader ``collate_fn``) or
``geoaug.keras.ImageDataGenerator(batch_transform=...)``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine

from ..errors import ParameterError
from ..raster import saturate
from .base import LAYOUTS, _is_tensor, _to_numpy, _to_tensor, as_range

__all__ = ["BATCH_REGISTRY", "BatchTransform", "CutMix", "MixResult", "MixUp", "Mosaic", "batch_transform_from_dict"]

#: name -> batch transform class (serialisation: :func:`batch_transform_from_dict`)
BATCH_REGISTRY: dict[str, type[BatchTransform]] = {}


@dataclass(frozen=True)
class MixResult:
    """What a batch transform returns: the batch parts of the kinds given (arrays or tensors), and the record."""

    images: Any
    labels: Any = None
    masks: Any = None
    valid: Any = None
    params: dict[str, Any] | None = None


def _beta(name: str, alpha: Any) -> float:
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not (0 < alpha <= 1e6):
        raise ParameterError(f"{name}.alpha must be a number > 0, got {alpha!r}")
    return float(alpha)


class BatchTransform:
    """Base of the batch transforms: draw a record for a batch, then apply it.

    Subclasses implement :meth:`sample_one` (the draw of output sample ``i``)
    and :meth:`sources` / :meth:`compose` (how output sample ``i`` is made).
    ``p`` is the probability that a sample is mixed (otherwise it passes unchanged).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        BATCH_REGISTRY[cls.__name__] = cls

    def __init__(self, p: float = 1.0) -> None:
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
            raise ParameterError(f"{type(self).__name__}: p must be a number in [0, 1], got {p!r}")
        self.p = float(p)

    # -- to override -------------------------------------------------------------------
    def sample_one(self, rng: np.random.Generator, i: int, n: int, shape: tuple[int, int]) -> dict[str, Any]:
        """Draw how output sample ``i`` of a batch of ``n`` samples of ``shape`` (rows, cols) is made."""
        raise NotImplementedError

    def pieces(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, tuple, tuple]]:
        """Pasted pieces of output sample ``i``: ``(source, (r0, r1, c0, c1) in the output, (row, col) in the source)``.

        Blending transforms (MixUp) return none and override :meth:`blend`.
        """
        return []

    def weights(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, float]]:
        """``(source, weight)`` pairs for the class labels of output sample ``i`` (weights sum to 1)."""
        h, w = shape
        return [(src, (r1 - r0) * (c1 - c0) / (h * w)) for src, (r0, r1, c0, c1), _ in self.pieces(i, params, shape)]

    # -- configuration -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, by name."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in list(sig.parameters)[1:]}

    def to_dict(self) -> dict[str, Any]:
        """``{"Name": {config}}``: plain data; :func:`batch_transform_from_dict` reverses it."""
        return {type(self).__name__: {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_config().items()}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- public API -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, batch_size: int, shape: tuple[int, int]) -> dict[str, Any]:
        """Draw the record of one batch: ``{"samples": [{"applied": bool, ...} per sample]}``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The randomness.
        batch_size : int
            Samples in the batch.
        shape : (int, int)
            ``(rows, cols)`` of every sample.

        Returns
        -------
        dict
            JSON-serialisable.
        """
        n = int(batch_size)
        if n < 1:
            raise ParameterError(f"{type(self).__name__}: an empty batch")
        shape = (int(shape[0]), int(shape[1]))
        out = []
        for i in range(n):
            if rng.random() < self.p:
                out.append({"applied": True, **self.sample_one(rng, i, n, shape)})
            else:
                out.append({"applied": False})
        return {"samples": out}

    def apply(self, images: Any, params: dict[str, Any], labels: Any = None, masks: Any = None, valid: Any = None,
              *, layout: str = "chw", num_classes: int | None = None, transforms: Any = None) -> MixResult:
        """Apply a record from :meth:`sample` (deterministic; see :meth:`__call__` for the arguments)."""
        if layout not in LAYOUTS:
            raise ParameterError(f"layout must be \"chw\" or \"hwc\", got {layout!r}")
        x = _to_numpy(images)
        if x.ndim != 4:
            raise ParameterError(f"{type(self).__name__}: images must be a batch (B, bands, H, W), got shape {x.shape}")
        xc = x.transpose(0, 3, 1, 2) if layout == "hwc" else x
        n, _, h, w = xc.shape
        recs = params.get("samples") if isinstance(params, dict) else None
        if not isinstance(recs, list) or len(recs) != n:
            got = len(recs) if isinstance(recs, list) else recs
            raise ParameterError(f"{type(self).__name__}: the record has {got} samples for a batch of {n}")
        vc = None if valid is None else self._valid(valid, xc.shape, layout)
        y = None if labels is None else self._labels(labels, n, num_classes)
        mc = None if masks is None else self._masks(masks, n, (h, w), layout)
        ts = None if transforms is None else self._transforms(transforms, n)
        out = np.array(xc, copy=True)
        vout = None if vc is None else np.array(vc, copy=True)
        mout = None if mc is None else np.array(mc, copy=True)
        yout = None if y is None else np.array(y, dtype=np.result_type(y.dtype, np.float32), copy=True)
        recorded = []
        for i, rec in enumerate(recs):
            rec = dict(rec)
            if rec.get("applied", True):
                self._check(rec, n)
                self.compose_one(i, rec, xc, vc, mc, out, vout, mout)
                if yout is not None:
                    yout[i] = sum(wt * y[src] for src, wt in self.weights(i, rec, (h, w)))
                if ts is not None:
                    self.record_transforms(i, rec, ts, (h, w))
            recorded.append(rec)
        if layout == "hwc":
            out = out.transpose(0, 2, 3, 1)
            if vout is not None and vout.ndim == 4:
                vout = vout.transpose(0, 2, 3, 1)
            if mout is not None and np.ndim(masks) == 4:
                mout = mout.transpose(0, 2, 3, 1)
        return MixResult(_like(images, out), None if yout is None else _like(labels, yout),
                         None if mout is None else _like(masks, mout), None if vout is None else _like(valid, vout),
                         {"samples": recorded})

    def __call__(self, images: Any, labels: Any = None, masks: Any = None, valid: Any = None,
                 rng: np.random.Generator | int | None = None, *, layout: str = "chw", num_classes: int | None = None,
                 transforms: Any = None) -> MixResult:
        """Sample a record for the batch and apply it.

        Parameters
        ----------
        images : ndarray or CPU torch tensor
            ``(B, bands, H, W)``, or ``(B, H, W, C)`` with ``layout="hwc"``; any band count and dtype.
        labels : array-like, optional
            Class labels: ``(B, K)`` one-hot or soft (float), or ``(B,)``
            integer ids with ``num_classes``, or ``(B,)`` floats (a binary
            target). Returned as floats ``(B, K)`` (``(B,)`` for ``(B,)`` floats).
        masks : array-like, optional
            Label rasters ``(B, H, W)`` or ``(B, k, H, W)`` (``(B, H, W, k)``
            with ``layout="hwc"``), pasted with the pixels.
        valid : array-like of bool, optional
            Validity ``(B, H, W)`` or per band like ``images``; all valid when not given.
        rng : Generator or int, optional
            The randomness (an int seeds a new generator).
        layout : {"chw", "hwc"}
            Axis order of ``images`` (and of 4-D ``masks``/``valid``).
        num_classes : int, optional
            For integer class ids: the one-hot length.
        transforms : sequence of affine.Affine (or 6 coefficients), optional
            Each sample's geotransform: :class:`Mosaic` records each quadrant's
            in the returned record.

        Returns
        -------
        MixResult
            ``images``, ``labels``, ``masks``, ``valid`` (of the kinds given;
            None where not given) and ``params``, the record.
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        x = _to_numpy(images)
        if x.ndim != 4:
            raise ParameterError(f"{type(self).__name__}: images must be a batch (B, bands, H, W), got shape {x.shape}")
        h, w = (x.shape[1], x.shape[2]) if layout == "hwc" else (x.shape[2], x.shape[3])
        params = self.sample(gen, x.shape[0], (h, w))
        return self.apply(images, params, labels, masks, valid, layout=layout, num_classes=num_classes,
                          transforms=transforms)

    # -- shared machinery ----------------------------------------------------------------------
    def _check(self, rec: dict[str, Any], n: int) -> None:
        for src in self.all_sources(rec):
            if not isinstance(src, numbers.Integral) or not 0 <= src < n:
                raise ParameterError(f"{type(self).__name__}: the record names sample {src!r} of a batch of {n}")

    def all_sources(self, rec: dict[str, Any]) -> list[int]:
        """Samples an output sample's record draws from."""
        return [rec["partner"]]

    def compose_one(self, i: int, rec: dict[str, Any], x: np.ndarray, v: np.ndarray | None, m: np.ndarray | None,
                    out: np.ndarray, vout: np.ndarray | None, mout: np.ndarray | None) -> None:
        """Make output sample ``i`` (default: paste the :meth:`pieces`)."""
        for src, (r0, r1, c0, c1), (sr, sc) in self.pieces(i, rec, x.shape[2:]):
            rows, cols = slice(r0, r1), slice(c0, c1)
            srows, scols = slice(sr, sr + r1 - r0), slice(sc, sc + c1 - c0)
            out[i, :, rows, cols] = x[src, :, srows, scols]
            if vout is not None:
                vout[i, ..., rows, cols] = v[src, ..., srows, scols]
            if mout is not None:
                mout[i, ..., rows, cols] = m[src, ..., srows, scols]

    def record_transforms(self, i: int, rec: dict[str, Any], ts: list[Affine], shape: tuple[int, int]) -> None:
        """Add what the record should say about geotransforms (Mosaic: one per quadrant)."""

    @staticmethod
    def _valid(valid: Any, shape: tuple[int, ...], layout: str) -> np.ndarray:
        v = _to_numpy(valid).astype(bool, copy=False)
        if v.ndim == 4 and layout == "hwc":
            v = v.transpose(0, 3, 1, 2)
        if v.shape != (shape[0], *shape[2:]) and v.shape != shape:
            raise ParameterError(f"valid must be (B, H, W) or like the images {shape}, got shape {v.shape}")
        return v

    @staticmethod
    def _labels(labels: Any, n: int, num_classes: int | None) -> np.ndarray:
        y = _to_numpy(labels)
        if y.shape[:1] != (n,) or y.ndim not in (1, 2):
            raise ParameterError(f"labels must be (B, K) class vectors or (B,) class ids for {n} samples, got shape "
                                 f"{y.shape} (label rasters go to masks=)")
        if y.ndim == 1 and y.dtype.kind in "iub":
            if num_classes is None:
                raise ParameterError("integer class ids are mixed as one-hot vectors: give num_classes")
            if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
                raise ParameterError(f"num_classes must be an int >= 1, got {num_classes!r}")
            if y.size and (y.min() < 0 or y.max() >= num_classes):
                raise ParameterError(f"class ids must lie in [0, {num_classes - 1}], got {y.min()}..{y.max()}")
            return np.eye(int(num_classes), dtype=np.float32)[y.astype(np.int64)]
        if y.dtype.kind not in "f":
            y = y.astype(np.float32)
        return y

    @staticmethod
    def _masks(masks: Any, n: int, hw: tuple[int, int], layout: str) -> np.ndarray:
        m = _to_numpy(masks)
        if m.ndim == 4 and layout == "hwc":
            m = m.transpose(0, 3, 1, 2)
        if m.shape[0] != n or m.ndim not in (3, 4) or m.shape[-2:] != hw:
            raise ParameterError(f"masks must be (B, H, W) or (B, k, H, W) label rasters of {n} samples of {hw}, "
                                 f"got shape {np.shape(masks)}")
        return m

    @staticmethod
    def _transforms(ts: Any, n: int) -> list[Affine]:
        out = []
        for t in ts:
            if isinstance(t, Affine):
                out.append(t)
                continue
            vals = np.asarray(_to_numpy(t), dtype=float).ravel()
            if vals.size not in (6, 9):
                raise ParameterError(f"a geotransform must be an affine.Affine or its 6 coefficients, got {t!r}")
            out.append(Affine(*vals[:6]))
        if len(out) != n:
            raise ParameterError(f"{len(out)} geotransforms for a batch of {n}")
        return out


def _like(original: Any, data: np.ndarray) -> Any:
    if _is_tensor(original):
        return _to_tensor(np.ascontiguousarray(data))
    return data


def _cast_into(dst: np.ndarray, values: np.ndarray) -> None:
    """Store float ``values`` into ``dst``: integers rounded (half to even) and saturated; floats clipped finite."""
    dst[...] = saturate(values, dst.dtype)


def _other(rng: np.random.Generator, i: int, n: int) -> int:
    """A sample of the batch other than ``i`` (``i`` itself in a batch of one)."""
    return i if n < 2 else (i + 1 + int(rng.integers(0, n - 1))) % n


def _work(dtype: np.dtype) -> type:
    return np.float64 if dtype in (np.dtype("float64"), np.dtype("int32"), np.dtype("int64")) else np.float32


class MixUp(BatchTransform):
    """MixUp (Zhang et al. 2018): each sample blended with another sample of the batch.

    Output sample ``i`` is ``lam * x_i + (1 - lam) * x_j`` with ``j`` drawn
    from the batch and ``lam ~ Beta(alpha, alpha)`` (folded to ``lam >= 0.5``
    with ``keep_dominant``, so the sample stays mostly itself); class labels
    are mixed with the same weights. A blended pixel is valid only where both
    are valid. Masks are not blended: sample ``i`` keeps the mask of the
    sample with the larger weight (its own with ``keep_dominant``).

    Parameters
    ----------
    alpha : float
        Beta distribution parameter, > 0 (0.2 to 0.4 is usual; 1 = uniform).
    keep_dominant : bool
        Draw ``lam`` in [0.5, 1] (``max(lam, 1 - lam)``).
    p : float
        Probability that a sample is mixed.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.zeros((2, 4, 4), "uint16"), np.full((2, 4, 4), 1000, "uint16")])
    >>> res = MixUp(alpha=0.4)(x, labels=np.array([0, 1]), num_classes=2, rng=0)
    >>> lam = res.params["samples"][0]["lam"]
    >>> bool(abs(float(res.images[0, 0, 0, 0]) - (1 - lam) * 1000) <= 0.5)
    True
    >>> np.allclose(res.labels[0], [lam, 1 - lam])
    True
    """

    def __init__(self, alpha: float = 0.4, keep_dominant: bool = True, p: float = 1.0) -> None:
        super().__init__(p)
        self.alpha = _beta("MixUp", alpha)
        self.keep_dominant = bool(keep_dominant)

    def sample_one(self, rng: np.random.Generator, i: int, n: int, shape: tuple[int, int]) -> dict[str, Any]:
        lam = float(rng.beta(self.alpha, self.alpha))
        if self.keep_dominant:
            lam = max(lam, 1.0 - lam)
        return {"partner": _other(rng, i, n), "lam": lam}

    def weights(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, float]]:
        lam = float(params["lam"])
        return [(i, lam), (int(params["partner"]), 1.0 - lam)]

    def compose_one(self, i: int, rec: dict[str, Any], x: np.ndarray, v: np.ndarray | None, m: np.ndarray | None,
                    out: np.ndarray, vout: np.ndarray | None, mout: np.ndarray | None) -> None:
        j, lam = int(rec["partner"]), float(rec["lam"])
        if not 0.0 <= lam <= 1.0 or math.isnan(lam):
            raise ParameterError(f"MixUp: lam must lie in [0, 1], got {lam!r}")
        wt = _work(x.dtype)
        a, b = x[i].astype(wt), x[j].astype(wt)
        mixed = a * wt(lam) + b * wt(1.0 - lam)
        # a convex combination never leaves its pair, but rounding in the work dtype can land an ulp outside it
        # (float32: 115 * lam + 115 * (1 - lam) = 115.00001 for lam = 0.8168)
        np.clip(mixed, np.minimum(a, b), np.maximum(a, b), out=mixed)
        if v is None:
            _cast_into(out[i], mixed)
        else:
            both = v[i] & v[j]
            vout[i] = both
            cast = np.empty_like(out[i])
            _cast_into(cast, mixed)
            both3 = np.broadcast_to(both, out[i].shape) if both.ndim == 2 else both
            out[i] = np.where(both3, cast, x[i])  # invalid pixels keep sample i's own value
        if mout is not None and lam < 0.5:
            mout[i] = m[j]


class CutMix(BatchTransform):
    """CutMix (Yun et al. 2019): a box of another sample pasted into each sample.

    The box's share of the area is ``1 - lam`` with ``lam ~ Beta(alpha,
    alpha)``; its aspect ratio follows the image's and its centre is uniform,
    clipped at the borders (so the pasted area can be smaller). Pixels,
    validity and mask pixels inside the box come from the partner, from the
    same position; class labels are mixed by the areas actually pasted.

    Parameters
    ----------
    alpha : float
        Beta distribution parameter, > 0 (CutMix uses 1).
    p : float
        Probability that a sample is mixed.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.zeros((3, 8, 8), "float32"), np.ones((3, 8, 8), "float32")])
    >>> res = CutMix()(x, labels=np.eye(2, dtype="float32"), rng=1)
    >>> r0, r1, c0, c1 = res.params["samples"][0]["box"]
    >>> float(res.images[0].mean()) == (r1 - r0) * (c1 - c0) / 64 * res.params["samples"][0]["partner"]
    True
    """

    def __init__(self, alpha: float = 1.0, p: float = 1.0) -> None:
        super().__init__(p)
        self.alpha = _beta("CutMix", alpha)

    def sample_one(self, rng: np.random.Generator, i: int, n: int, shape: tuple[int, int]) -> dict[str, Any]:
        h, w = shape
        lam = float(rng.beta(self.alpha, self.alpha))
        cut = math.sqrt(1.0 - lam)
        ch, cw = int(h * cut), int(w * cut)
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        r0, r1 = max(cy - ch // 2, 0), min(cy + (ch - ch // 2), h)
        c0, c1 = max(cx - cw // 2, 0), min(cx + (cw - cw // 2), w)
        return {"partner": _other(rng, i, n), "box": [r0, r1, c0, c1]}

    def pieces(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, tuple, tuple]]:
        h, w = shape
        r0, r1, c0, c1 = (int(v) for v in params["box"])
        if not (0 <= r0 <= r1 <= h and 0 <= c0 <= c1 <= w):
            raise ParameterError(f"CutMix: box {params['box']} outside an image of {h} x {w}")
        return [(int(params["partner"]), (r0, r1, c0, c1), (r0, c0))]

    def weights(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, float]]:
        (src, (r0, r1, c0, c1), _), = self.pieces(i, params, shape)
        share = (r1 - r0) * (c1 - c0) / (shape[0] * shape[1])
        return [(i, 1.0 - share), (src, share)]


def _split(size: int, share: float) -> int:
    """Where a side of ``size`` pixels is cut at ``share``: at least one pixel on each side when there are two."""
    return size if size < 2 else min(max(round(size * share), 1), size - 1)


class Mosaic(BatchTransform):
    """Mosaic (YOLOv4): four chips of the batch tiled into one, split at a drawn centre.

    Output sample ``i`` is cut into four quadrants at a point drawn within
    ``center`` (shares of the height and width); the top-left quadrant is
    sample ``i``'s own top-left corner, the others come from three samples
    drawn from the batch, each a window of the same size at a drawn position
    in its source (no resampling: pixels keep their ground sampling
    distance). Validity and masks are pasted with the pixels; class labels are
    mixed by quadrant area.

    Geotransforms: every quadrant keeps its source's georeferencing. With
    ``transforms=`` given to the call, the record lists for each quadrant its
    output window, its source and its geotransform (``transform``: the
    coefficients ``a, b, c, d, e, f`` that map the *output* sample's pixel
    coordinates inside that quadrant to map coordinates: the source's
    transform shifted by the window's offset). The top-left quadrant's is the
    sample's own transform, so a sample's ``"transform"``/``"bounds"`` stay
    true for that quadrant.

    Parameters
    ----------
    center : (float, float)
        Range of the split point, as a share of the height and width, within (0, 1).
    p : float
        Probability that a sample is mixed.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(4, dtype="uint8")[:, None, None, None] * np.ones((4, 1, 8, 8), "uint8")
    >>> res = Mosaic()(x, rng=0)
    >>> quads = res.params["samples"][0]["quadrants"]
    >>> sorted(set(res.images[0].ravel().tolist())) == sorted({q["source"] for q in quads})
    True
    """

    def __init__(self, center: tuple[float, float] = (0.25, 0.75), p: float = 1.0) -> None:
        super().__init__(p)
        lo, hi = as_range("Mosaic.center", tuple(center) if isinstance(center, list) else center, low=0.0, high=1.0)
        if not 0 < lo <= hi < 1:
            raise ParameterError(f"Mosaic.center must lie strictly within (0, 1), got {center!r}")
        self.center = (lo, hi)

    def sample_one(self, rng: np.random.Generator, i: int, n: int, shape: tuple[int, int]) -> dict[str, Any]:
        h, w = shape
        lo, hi = self.center
        cy, cx = _split(h, float(rng.uniform(lo, hi))), _split(w, float(rng.uniform(lo, hi)))
        sources = [i, *(int(s) for s in rng.integers(0, n, 3))]
        quads = []
        windows = [(0, cy, 0, cx), (0, cy, cx, w), (cy, h, 0, cx), (cy, h, cx, w)]
        for k, (src, (r0, r1, c0, c1)) in enumerate(zip(sources, windows)):
            if k == 0:  # the sample's own corner: its own geotransform stays true for that quadrant
                oy = ox = 0
            else:
                oy = int(rng.integers(0, h - (r1 - r0) + 1))
                ox = int(rng.integers(0, w - (c1 - c0) + 1))
            quads.append({"source": src, "window": [r0, r1, c0, c1], "offset": [oy, ox]})
        return {"quadrants": quads}

    def all_sources(self, rec: dict[str, Any]) -> list[int]:
        return [q["source"] for q in rec["quadrants"]]

    def pieces(self, i: int, params: dict[str, Any], shape: tuple[int, int]) -> list[tuple[int, tuple, tuple]]:
        h, w = shape
        out = []
        for q in params["quadrants"]:
            r0, r1, c0, c1 = (int(v) for v in q["window"])
            oy, ox = (int(v) for v in q["offset"])
            if not (0 <= r0 <= r1 <= h and 0 <= c0 <= c1 <= w and 0 <= oy <= h - (r1 - r0)
                    and 0 <= ox <= w - (c1 - c0)):
                raise ParameterError(f"Mosaic: quadrant {q} does not fit an image of {h} x {w}")
            out.append((int(q["source"]), (r0, r1, c0, c1), (oy, ox)))
        return out

    def record_transforms(self, i: int, rec: dict[str, Any], ts: list[Affine], shape: tuple[int, int]) -> None:
        quads = []
        for q in rec["quadrants"]:
            r0, _, c0, _ = (int(v) for v in q["window"])
            oy, ox = (int(v) for v in q["offset"])
            t = ts[int(q["source"])] @ Affine.translation(ox - c0, oy - r0)
            quads.append({**q, "transform": [float(v) for v in tuple(t)[:6]]})
        rec["quadrants"] = quads


def batch_transform_from_dict(d: dict[str, Any]) -> BatchTransform:
    """Rebuild a batch transform from :meth:`BatchTransform.to_dict` output.

    Parameters
    ----------
    d : dict
        ``{"MixUp": {"alpha": 0.4, ...}}``.

    Returns
    -------
    BatchTransform
    """
    if not isinstance(d, dict) or len(d) != 1:
        raise ParameterError(f"a batch transform entry is {{name: parameters}}, got {d!r}")
    (name, config), = d.items()
    if name not in BATCH_REGISTRY:
        raise ParameterError(f"unknown batch transform {name!r} (known: {', '.join(sorted(BATCH_REGISTRY))})")
    if not isinstance(config, dict):
        raise ParameterError(f"{name}: parameters must be a mapping, got {config!r}")
    cls = BATCH_REGISTRY[name]
    known = list(inspect.signature(cls.__init__).parameters)[1:]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ParameterError(f"{name}: unknown parameter {unknown[0]!r} (parameters: {', '.join(known)})")
    return cls(**config)


