"""Pictures of augmentations: an input and N augmented copies as one PNG grid.

Used by ``geoaug preview`` and ``scripts/make_docs_images.py``. Needs
matplotlib (``pip install "geoaug[docs]"``); it is imported only here.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ParameterError
from .raster import GeoRaster, band_indexes
from .seeding import rng_for
from .transforms.base import Transform
from .transforms.compose import flatten

__all__ = ["NODATA_COLOUR", "composite", "describe", "parse_bands", "preview_grid", "stretch_limits"]

#: RGB of nodata pixels in previews (magenta: rare in satellite imagery)
NODATA_COLOUR = (1.0, 0.0, 1.0)


def parse_bands(spec: str | Sequence[int | str] | None, raster: GeoRaster) -> list[int]:
    """Three (or one) 0-based band indexes from "4,3,2" (1-based), band names, or None (defaults).

    Defaults: bands 1 for one band; 3,2,1 otherwise (true colour for Sentinel-2 stacked as
    B02,B03,B04... is "4,3,2"; pass it explicitly).
    """
    if spec is None:
        return [0] if raster.count < 3 else [2, 1, 0]
    out = [i - 1 for i in band_indexes(spec, raster.band_names, "--bands")]
    if len(out) not in (1, 3):
        raise ParameterError(f"give 1 or 3 bands, got {len(out)}")
    return out


def stretch_limits(raster: GeoRaster, bands: Sequence[int], low: float = 2, high: float = 98
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per displayed band, the ``low``/``high`` percentiles of its valid pixels."""
    lo, hi = np.zeros(len(bands)), np.ones(len(bands))
    for k, b in enumerate(bands):
        v = raster.valid_values(b)
        if v.size:
            lo[k], hi[k] = np.percentile(v.astype(np.float64), [low, high])
            if hi[k] <= lo[k]:
                hi[k] = lo[k] + 1
    return lo, hi


def composite(raster: GeoRaster, bands: Sequence[int], limits: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """An RGB float image (H, W, 3) in 0..1.

    Pixels invalid in every shown band get :data:`NODATA_COLOUR`; a pixel
    invalid in only some of them (a dropped band) has those channels at 0.
    """
    lo, hi = limits
    planes = [np.clip((raster.data[b].astype(np.float64) - lo[k]) / (hi[k] - lo[k]), 0, 1)
              for k, b in enumerate(bands)]
    valid = [raster.band_mask[b] for b in bands]
    planes = [np.where(v, p, 0.0) for p, v in zip(planes, valid)]  # a band missing here: its channel dark
    rgb = np.stack(planes * 3 if len(planes) == 1 else planes, axis=-1)
    rgb[~np.any(valid, axis=0)] = NODATA_COLOUR
    return np.nan_to_num(rgb)


def _numbers(v: Any) -> list[float] | None:
    """The numbers of a (nested) list of numbers, flattened; None if anything else is inside."""
    out: list[float] = []
    for x in v:
        if isinstance(x, list):
            sub = _numbers(x)
            if sub is None:
                return None
            out += sub
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out.append(x)
        else:
            return None
    return out


def _short(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list):
        flat = _numbers(v)
        if flat is not None and len(flat) > 3:  # long or nested numeric lists (fields, holes, shifts): the range
            return f"[{min(flat):.3g}..{max(flat):.3g}]"
        return "[" + ",".join(_short(x) for x in v) + "]"
    return str(v)


def describe(transform: Transform, record: dict[str, Any], width: int = 34) -> str:
    """A short, human title of what a record drew: applied steps and their non-trivial values."""
    parts = []
    for t, p in flatten(transform, record):
        vals = {k: v for k, v in p.items() if k not in ("applied", "seed")}
        if type(t).__name__ == "Affine":
            neutral = {"rotate": 0, "translate_x": 0, "translate_y": 0, "scale": 1, "shear_x": 0, "shear_y": 0}
            vals = {k: v for k, v in vals.items() if not math.isclose(v, neutral.get(k, math.nan), abs_tol=1e-9)}
        text = type(t).__name__
        if vals:
            text += " " + " ".join(f"{k}={_short(v)}" for k, v in vals.items())
        parts.append(textwrap.fill(text, width=width, subsequent_indent="  "))
    return "\n".join(parts) if parts else "(nothing applied)"


def preview_grid(
    raster: GeoRaster,
    transform: Transform,
    n: int = 8,
    bands: str | Sequence[int | str] | None = None,
    seed: int = 0,
    path: str | os.PathLike[str] | None = None,
    columns: int | None = None,
    panel_size: float = 2.6,
    title: str | None = None,
    dpi: int = 80,
    name: str = "preview",
) -> Any:
    """The input and ``n`` augmented copies as one figure (saved as PNG when ``path`` is given).

    Parameters
    ----------
    raster : GeoRaster
        The input.
    transform : Transform or Compose
        What to draw copies of.
    n : int
        Number of augmented copies; copy ``k`` draws from
        ``geoaug.seeding.rng_for(seed, name, k)``, the batch job's rule, so it
        is what ``geoaug augment --seed seed`` writes as copy ``k`` of ``name``.
    bands : str or sequence, optional
        "4,3,2" (1-based) or band names: a false-colour composite of three
        bands, or one band in grey.
    seed : int
        Base seed of the copies.
    path : path-like, optional
        Where to write the PNG.
    columns : int, optional
        Panels per row (default: up to 5).
    panel_size : float
        Inches per panel.
    title : str, optional
        A title over the grid.
    dpi : int
        Resolution of the PNG.
    name : str
        The input's name for the seeding rule: its path relative to the folder
        a batch job would be given (``geoaug preview`` passes the file name).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The 2-98 % stretch of each shown band is computed on the input's valid
    pixels and shared by every panel, so brightness changes stay visible
    (outputs of another dtype, e.g. ``Normalize``, get their own stretch);
    nodata is drawn in magenta. Each panel is titled with what was drawn.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if n < 0:
        raise ParameterError(f"n must be >= 0, got {n}")
    idx = parse_bands(bands, raster)
    limits = stretch_limits(raster, idx)
    panels = [("input", raster)]
    for k in range(n):
        res = transform(raster, rng_for(seed, name, k), return_params=True)
        panels.append((describe(transform, res.params), res.image))
    cols = columns or min(len(panels), 5)
    rows = math.ceil(len(panels) / cols)
    lines = max(label.count("\n") + 1 for label, _ in panels)
    fig = Figure(figsize=(cols * panel_size, rows * (panel_size + 0.12 * lines + 0.15) + 0.3))
    FigureCanvasAgg(fig)
    for k, (label, r) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        # outputs in other units (Normalize, ToFloat...) get their own stretch
        lim = limits if r.dtype == raster.dtype else stretch_limits(r, idx)
        ax.imshow(composite(r, idx, lim), interpolation="nearest")
        ax.set_title(label, fontsize=6.5)
        ax.set_xticks([])
        ax.set_yticks([])
    names = ",".join(raster.band_names[i] for i in idx)
    fig.suptitle(title or f"bands {names}; 2-98 % stretch of the input; nodata in magenta", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
