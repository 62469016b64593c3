"""Scenes to chips: windows of whole scenes, read lazily, augmented with their real surroundings.

A *scene* is one raster file (GeoTIFF, COG, VRT mosaic, JPEG 2000), the band
files of one scene stacked onto one grid (BigEarthNet patches, Landsat C2
``*_SR_B*.TIF``, Sentinel-2 SAFE ``.jp2`` at 10/20/60 m), or a local STAC item.
A *chip* is a window of a scene plus a draw. Only windows are ever read: memory
is bounded by the chips in flight, not by the scene.

Context-aware geometry (ARCHITECTURE rule 8): the draw's geometric steps up
to the first non-geometric step compose into one output->input matrix ``M``
on the chip's pixel grid. The chip's matrix on the scene grid is
``A = translate(col, row) @ M``; the source window is the bounding box of
``A`` applied to the corners of the output rectangle, widened by the
kernel's support (nearest 0, bilinear 1, cubic 2), clipped to the scene.
That window is read and warped with ``translate(col - c0, row - r0) @ M``
(``(r0, c0)`` its origin), so every output pixel whose source lies in the
scene's footprint gets the scene's own pixels; fill appears only beyond the
footprint or where the scene has nodata. The output transform is
``scene.transform @ Affine(translate(col, row) @ M_all)``, computed once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.enums import Resampling

from . import bandfiles, geometry
from .bandfiles import band_label, scene_folder, stack_groups
from .errors import GeoAugError, ParameterError, RasterNotFoundError, RasterReadError, StackMismatchError
from .io import read, read_header, stack_grid, to_grid
from .raster import GeoRaster
from .seeding import chip_rng, window_rng
from .transforms.base import GeometricTransform, Transform
from .transforms.compose import flatten, run
from .vectors import VECTOR_SUFFIXES

__all__ = [
    "RASTER_PATTERNS",
    "Chip",
    "GridChips",
    "LabelSource",
    "NoValidChipError",
    "RandomChips",
    "Scene",
    "SceneWarning",
    "chip_rng",
    "find_scenes",
    "make_chip",
    "sample",
    "source_window",
]

#: file name patterns of single-file scenes (matched case-insensitively)
RASTER_PATTERNS = ("*.tif", "*.tiff", "*.vrt", "*.jp2")
_RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".jp2"}
#: kernel support (pixels either side of the sample point) per interpolation
SUPPORT = {"nearest": 0, "bilinear": 1, "cubic": 2}
#: STAC common names in spectral order (default band order of a STAC item)
COMMON_NAMES = ("coastal", "blue", "green", "red", "yellow", "pan", "rededge", "rededge071", "rededge075",
                "rededge078", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12")


class NoValidChipError(GeoAugError, ValueError):
    """No window of a scene reached the minimum valid fraction within the allowed tries."""


class SceneWarning(UserWarning):
    """A scene was skipped (``on_error="skip"``): the message names the file and the problem."""


# ---------------------------------------------------------------------------- scenes


@dataclass(frozen=True, eq=False)
class Scene:
    """One scene read through windows: a raster file, or band files stacked onto the finest grid.

    Build one with :meth:`from_file`, :meth:`from_bands` or :meth:`from_stac`;
    :func:`find_scenes` recognises them in folders. Only the headers are read
    here; :meth:`read` reads a window.

    Parameters
    ----------
    paths : tuple of str
        The file, or the band files in band order.
    name : str
        Stable name (seeds, output names, manifest).
    height, width, count : int
        Grid size and band count.
    dtype : str
        Pixel dtype.
    transform : affine.Affine
        The scene grid (for stacks: the finest band file's grid).
    crs : rasterio.crs.CRS or None
        Coordinate reference system.
    band_names : tuple of str
        One name per band.
    resampling : str
        How coarser band files reach the grid (``read_stack``'s ``resampling``).
    """

    paths: tuple[str, ...]
    name: str
    height: int
    width: int
    count: int
    dtype: str
    transform: Affine
    crs: Any
    band_names: tuple[str, ...]
    resampling: str = "bilinear"
    _headers: tuple[Any, ...] = field(default=(), repr=False)
    #: a nodata value that overrides the files' (untagged collars), as ``geoaug.read(nodata=)``
    nodata: float | None = None

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str | None = None) -> Scene:
        """A single-file scene (GeoTIFF, COG, VRT, JPEG 2000): its header only.

        Parameters
        ----------
        path : path-like
            The raster file.
        name : str, optional
            Stable name; default the file name.

        Returns
        -------
        Scene
        """
        p = os.fspath(path)
        h = read_header(p)
        names = tuple(d or f"band_{i}" for i, d in enumerate(h["descriptions"], start=1))
        return cls((p,), name or Path(p).name, h["height"], h["width"], h["count"], h["dtype"], h["transform"],
                   h["crs"], names, _headers=(h,))

    @classmethod
    def from_bands(cls, paths: Sequence[str | os.PathLike[str]], name: str | None = None,
                   band_names: Sequence[str] | None = None, resampling: str = "bilinear") -> Scene:
        """Band files of one scene stacked onto the finest file's grid (like :func:`geoaug.read_stack`).

        Parameters
        ----------
        paths : sequence of path-like
            Band files in band order (single-band each).
        name : str, optional
            Stable name; default the common folder's name.
        band_names : sequence of str, optional
            One per file; default from the file names (``B02``, ``SR_B4``...).
        resampling : str
            :class:`rasterio.enums.Resampling` name for coarser bands.

        Returns
        -------
        Scene

        Raises
        ------
        StackMismatchError
            Files in different CRSs, footprints or dtypes, or multi-band files.
        """
        ps = [os.fspath(p) for p in paths]
        if not ps:
            raise ParameterError("Scene.from_bands: no band files given")
        if resampling not in Resampling.__members__:
            raise ParameterError(f"Scene.from_bands: unknown resampling {resampling!r}")
        hs, (transform, height, width) = stack_grid(ps)
        first = hs[0]
        for p, h in zip(ps, hs):
            if h["count"] != 1:
                raise StackMismatchError(f"{p}: a band file must hold one band, it holds {h['count']}")
            if h["dtype"] != first["dtype"]:
                raise StackMismatchError(f"{p}: dtype {h['dtype']} differs from {first['dtype']} of {ps[0]}")
        if band_names is None:
            band_names = [band_label(p) for p in ps]
        if len(band_names) != len(ps):
            raise ParameterError(f"Scene.from_bands: {len(band_names)} band names for {len(ps)} files")
        default_name = os.path.commonpath([os.path.abspath(p) for p in ps])
        return cls(tuple(ps), name or Path(default_name).name, height, width, len(ps), first["dtype"],
                   transform, first["crs"], tuple(band_names), resampling, tuple(hs))

    @classmethod
    def from_stac(cls, item: Any, bands: Sequence[str] | None = None, name: str | None = None) -> Scene:
        """A local STAC item's raster assets stacked by their common names (10/20/60 m onto one grid).

        Parameters
        ----------
        item : pystac.Item or path-like
            The item (or its JSON file). Asset hrefs must be local files.
        bands : sequence of str, optional
            Common names (``"blue"``, ``"nir"``...) or asset keys, in band
            order; default every asset with a common name, in spectral order.
        name : str, optional
            Stable name; default the item id.

        Returns
        -------
        Scene

        Raises
        ------
        RasterNotFoundError
            An asset file is missing (the message names the item and the asset).
        ParameterError
            A requested band has no asset.
        """
        import pystac

        if not isinstance(item, pystac.Item):
            item = pystac.Item.from_file(os.fspath(item))
        where = item.get_self_href() or item.id
        by_name: dict[str, tuple[str, str]] = {}
        for key, asset in item.assets.items():
            common = _common_name(asset)
            if common is None:
                continue
            by_name.setdefault(common.lower(), (key, asset.get_absolute_href() or asset.href))
        keys = {k.lower(): (k, a.get_absolute_href() or a.href) for k, a in item.assets.items()}
        if bands is None:
            order = [c for c in COMMON_NAMES if c in by_name] + sorted(c for c in by_name if c not in COMMON_NAMES)
            chosen = [(c, by_name[c]) for c in order]
        else:
            chosen = []
            for b in bands:
                hit = by_name.get(b.lower()) or keys.get(b.lower())
                if hit is None:
                    raise ParameterError(f"{where}: no asset with common name or key {b!r} "
                                         f"(common names: {', '.join(sorted(by_name)) or 'none'})")
                chosen.append((b, hit))
        if not chosen:
            raise ParameterError(f"{where}: no raster asset with an eo:bands common name")
        paths = []
        for b, (key, href) in chosen:
            href = href[7:] if href.startswith("file://") else href
            if not os.path.exists(href):
                raise RasterNotFoundError(f"{where}: asset {key!r} ({b}): file {href} is missing")
            paths.append(href)
        return cls.from_bands(paths, name=name or item.id, band_names=[b for b, _ in chosen])

    # -- reading ---------------------------------------------------------------------------
    @property
    def is_stack(self) -> bool:
        """True for band files stacked onto one grid."""
        return len(self.paths) > 1

    def read(self, window: tuple[int, int, int, int]) -> GeoRaster:
        """Read ``window = (row, col, height, width)`` (inside the scene) as a GeoRaster.

        Parameters
        ----------
        window : (int, int, int, int)
            Row and column of the top-left pixel, height and width.

        Returns
        -------
        GeoRaster
            Its transform is the window's: ``scene.transform @ translate(col, row)``.
        """
        row, col, h, w = (int(v) for v in window)
        if row < 0 or col < 0 or h <= 0 or w <= 0 or row + h > self.height or col + w > self.width:
            raise ParameterError(f"{self.name}: window {window} lies outside the scene "
                                 f"({self.height} x {self.width})")
        if len(self.paths) == 1:
            r = read(self.paths[0], window=((row, row + h), (col, col + w)), nodata=self.nodata)
            return r.replace(band_names=self.band_names) if r.count == len(self.band_names) else r
        return self._read_stack(row, col, h, w)

    def _read_stack(self, row: int, col: int, h: int, w: int) -> GeoRaster:
        dst_t = self.transform @ Affine.translation(col, row)
        method = Resampling[self.resampling]
        bands, masks = [], []
        nodata = None
        for p, hd in zip(self.paths, self._headers):
            t = hd["transform"]
            if t.almost_equals(self.transform) and (hd["height"], hd["width"]) == (self.height, self.width):
                r = read(p, window=((row, row + h), (col, col + w)), nodata=self.nodata)
                data, valid = r.data[0], r.band_mask[0]
            else:
                # the band file's pixels under the window, with a margin for the resampling kernel
                inv = ~t
                xs, ys = zip(*[inv @ (dst_t @ (x, y)) for x in (0, w) for y in (0, h)])
                c0 = max(0, math.floor(min(xs)) - 3)
                r0 = max(0, math.floor(min(ys)) - 3)
                c1 = min(hd["width"], math.ceil(max(xs)) + 3)
                r1 = min(hd["height"], math.ceil(max(ys)) + 3)
                r = read(p, window=((r0, r1), (c0, c1)), nodata=self.nodata)
                data, valid = to_grid(p, r, 0, dst_t, h, w, method)
            if nodata is None and r.nodata is not None:
                nodata = r.nodata
            bands.append(data.astype(self.dtype, copy=False))
            masks.append(valid)
        return GeoRaster(data=np.stack(bands), mask=np.stack(masks), transform=dst_t, crs=self.crs, nodata=nodata,
                         band_names=self.band_names).collapse_mask()

    def __repr__(self) -> str:
        kind = f"{len(self.paths)} band files" if len(self.paths) > 1 else self.paths[0]
        return f"Scene({self.name!r}, {self.count} x {self.height} x {self.width} {self.dtype}, {kind})"


def _common_name(asset: Any) -> str | None:
    for key in ("eo:bands", "bands"):
        bands = asset.extra_fields.get(key)
        if bands and len(bands) == 1:
            name = bands[0].get("common_name") or bands[0].get("eo:common_name")
            if name:
                return str(name)
    return None


# ---------------------------------------------------------------------------- finding scenes


def _is_raster(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _RASTER_SUFFIXES


def find_scenes(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Scene | Sequence[Scene],
    stack: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    errors: list[tuple[str, str]] | None = None,
    same_crs: bool = False,
    nodata: float | None = None,
) -> list[Scene]:
    """Every scene in ``source``: a file, a list, a folder, a VRT mosaic or a local STAC item/collection.

    Parameters
    ----------
    source : path-like, Scene, or a sequence of them
        A raster file (``.tif``/``.tiff``/``.vrt``/``.jp2``, any case); a STAC
        item, collection or catalog JSON; a folder (searched recursively).
        In a folder, band files of one scene are recognised by their names,
        case-insensitively: ``<prefix>_B01 ... _B12, _B8A`` (BigEarthNet,
        Sentinel-2 SAFE ``_B02_10m.jp2``: each band at its finest resolution),
        ``<prefix>_SR_B1 ...`` (Landsat C2); files with the same prefix are one
        scene, in spectral order. Other rasters are scenes on their own.
    stack : sequence of str, optional
        Explicit band order (``["B04", "B03", "B02", "B08"]``): every group of
        band files must have these bands, stacked in this order.
    bands : sequence of str, optional
        Common names or asset keys for STAC items (default all, spectral order).
    errors : list, optional
        When given, a scene that cannot be opened (missing or unreadable file,
        STAC item with a missing asset, band files in different CRSs) is
        appended as ``(path, message)`` and the others are still returned;
        otherwise the first such error is raised.
    same_crs : bool
        Refuse (``StackMismatchError`` naming the file) scenes whose CRS differs
        from the first scene's. By default every scene keeps its own CRS: chips
        never mix scenes, and each chip's transform points at its own pixels.
    nodata : float, optional
        Overrides the files' nodata in every scene found (``geoaug.read(nodata=)``).

    Returns
    -------
    list of Scene
        Sorted by name.

    Raises
    ------
    RasterNotFoundError
        A path does not exist.
    ParameterError
        Nothing found, or a stack misses a band.
    """
    if isinstance(source, Scene):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        items: list[Any] = [source]
    else:
        items = list(source)
    scenes: list[Scene] = []
    loose: list[Path] = []

    def guard(where: Any, make: Any) -> None:
        _collect(scenes, errors, where, make)

    for it in items:
        if isinstance(it, Scene):
            scenes.append(it)
            continue
        p = Path(os.fspath(it))
        if not p.exists():
            guard(p, lambda p=p: _missing(p))
        elif p.is_dir():
            guard(p, lambda p=p: _scenes_in_folder(p, stack, bands, errors))
        elif p.suffix.lower() == ".json":
            guard(p, lambda p=p: _stac_scenes(p, bands, errors))
        else:
            loose.append(p)
    if loose:
        groups, rest = stack_groups(loose, stack) if stack is not None or len(loose) > 1 else ([], loose)
        for g in groups:
            guard(g[0], lambda g=g: Scene.from_bands([str(f) for f in g]))
        for f in rest:
            guard(f, lambda f=f: Scene.from_file(str(f)))
    if not scenes and not errors:
        raise ParameterError(f"{source}: no scenes found (rasters {', '.join(RASTER_PATTERNS)}, band-file folders, "
                             f"STAC JSON)")
    if same_crs and scenes:
        first = scenes[0]
        kept = [first]
        for sc in scenes[1:]:
            if sc.crs == first.crs:
                kept.append(sc)
                continue
            where = sc.paths[0] if len(sc.paths) == 1 else sc.name
            msg = f"{where}: CRS {sc.crs} differs from {first.crs} of the first scene {first.name} (same_crs)"
            if errors is None:
                raise StackMismatchError(msg)
            errors.append((where, msg))
        scenes = kept
    if nodata is not None:
        scenes = [dataclasses.replace(s, nodata=float(nodata)) for s in scenes]
    return scenes


def _missing(p: Path) -> list[Scene]:
    raise RasterNotFoundError(f"{p}: no such file or folder")


def _scenes_in_folder(root: Path, stack: Sequence[str] | None, bands: Sequence[str] | None,
                      errors: list[tuple[str, str]] | None = None) -> list[Scene]:
    by_dir: dict[Path, list[Path]] = {}
    stac: list[Path] = []
    for f in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in f.relative_to(root).parts):
            continue
        if _is_raster(f):
            by_dir.setdefault(f.parent, []).append(f)
        elif f.is_file() and f.suffix.lower() == ".json" and _looks_like_stac(f):
            stac.append(f)
    scenes = []
    # a Sentinel-2 SAFE product keeps one scene's bands under GRANULE/*/IMG_DATA[/R10m|R20m|R60m]
    merged: dict[Path, list[Path]] = {}
    for d, files in by_dir.items():
        merged.setdefault(scene_folder(d), []).extend(files)
    for _, files in sorted(merged.items()):
        groups, rest = stack_groups(files, stack)
        for g in groups:
            rel = g[0].parent.relative_to(root).as_posix()
            prefix = bandfiles.parse(g[0].stem).prefix  # type: ignore[union-attr]
            name = "/".join(x for x in (rel if rel != "." else "", prefix) if x) or root.name
            _collect(scenes, errors, g[0].parent, lambda g=g, name=name: Scene.from_bands([str(f) for f in g],
                                                                                        name=name))
        if stack is None:
            for f in rest:
                _collect(scenes, errors, f, lambda f=f: Scene.from_file(str(f), name=f.relative_to(root).as_posix()))
    for f in stac:
        _collect(scenes, errors, f, lambda f=f: _stac_scenes(f, bands, errors))
    return sorted(scenes, key=lambda s: s.name)


def _collect(scenes: list[Scene], errors: list[tuple[str, str]] | None, where: Any, make: Any) -> None:
    """Add what ``make()`` returns; with an ``errors`` list, record a GeoAugError there instead of raising."""
    try:
        got = make()
    except GeoAugError as exc:
        if errors is None:
            raise
        errors.append((str(where), str(exc)))
        return
    scenes.extend(got if isinstance(got, list) else [got])


def _looks_like_stac(path: Path) -> bool:
    try:
        with open(path) as fh:
            d = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and "stac_version" in d and d.get("type") == "Feature"


def _stac_scenes(path: Path, bands: Sequence[str] | None, errors: list[tuple[str, str]] | None = None) -> list[Scene]:
    try:
        import pystac
    except ImportError:
        raise ParameterError(f"{path}: reading STAC needs pystac (pip install 'geoaug[stac]')") from None
    try:
        obj = pystac.read_file(str(path))
    except Exception as exc:
        raise RasterReadError(f"{path}: not a STAC item, collection or catalog: {exc}") from None
    if isinstance(obj, pystac.Item):
        return [Scene.from_stac(obj, bands)]
    scenes: list[Scene] = []
    for it in obj.get_items(recursive=True):
        _collect(scenes, errors, it.get_self_href() or it.id, lambda it=it: Scene.from_stac(it, bands))
    return scenes


# ---------------------------------------------------------------------------- windows


def _size(name: str, size: Any) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if not (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ParameterError(f"{name}: size must be a positive int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def _check_fits(scene: Scene, h: int, w: int) -> None:
    if h > scene.height or w > scene.width:
        raise ParameterError(f"{scene.paths[0] if len(scene.paths) == 1 else scene.name}: chip {h} x {w} is larger "
                             f"than the scene ({scene.height} x {scene.width})")


@dataclass(frozen=True)
class RandomChips:
    """Random windows: ``count`` per scene, each at least ``min_valid`` valid.

    Parameters
    ----------
    size : int or (int, int)
        Chip height and width in pixels.
    count : int
        Chips per scene.
    min_valid : float
        Least fraction of valid pixels in the window (0..1).
    max_tries : int
        Windows tried per chip before :class:`NoValidChipError`.
    balance : bool
        With a label raster: pick a class uniformly among the classes present,
        then a window centred on one of its pixels (class balancing).
    """

    size: int | tuple[int, int]
    count: int
    min_valid: float = 0.0
    max_tries: int = 100
    balance: bool = False

    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        _size("RandomChips", self.size)
        if not isinstance(self.count, (int, np.integer)) or isinstance(self.count, bool) or self.count < 1:
            raise ParameterError(f"RandomChips: count must be a positive int, got {self.count!r}")
        _check_fraction(self.min_valid)
        if not isinstance(self.max_tries, int) or self.max_tries < 1:
            raise ParameterError(f"RandomChips: max_tries must be a positive int, got {self.max_tries!r}")

    def __len__(self) -> int:
        return int(self.count)

    def draw(self, scene: Scene, index: int, rng: np.random.Generator,
             classes: dict[int, np.ndarray] | None = None) -> tuple[int, int, int, int]:
        """The window of try ``rng`` draws for chip ``index`` (row, col, height, width)."""
        h, w = _size("RandomChips", self.size)
        _check_fits(scene, h, w)
        if self.balance and classes:
            keys = sorted(classes)
            pts = classes[keys[int(rng.integers(len(keys)))]]
            x, y = pts[int(rng.integers(len(pts)))]
            col = int(np.clip(round(x - w / 2), 0, scene.width - w))
            row = int(np.clip(round(y - h / 2), 0, scene.height - h))
            return row, col, h, w
        return int(rng.integers(scene.height - h + 1)), int(rng.integers(scene.width - w + 1)), h, w


@dataclass(frozen=True)
class GridChips:
    """Regular windows over the whole scene, the last row and column flush with its edge.

    Parameters
    ----------
    size : int or (int, int)
        Chip height and width in pixels.
    stride : int, optional
        Step between windows (default ``size - overlap``).
    overlap : int
        Pixels shared by neighbouring windows (when ``stride`` is not given).
    min_valid : float
        Windows less valid than this are skipped.
    """

    size: int | tuple[int, int]
    stride: int | None = None
    overlap: int = 0
    min_valid: float = 0.0

    kind: ClassVar[str] = "grid"

    def __post_init__(self) -> None:
        _size("GridChips", self.size)
        _check_fraction(self.min_valid)
        s = self.step
        if s < 1:
            raise ParameterError(f"GridChips: stride must be >= 1 (size {self.size}, overlap {self.overlap}), "
                                 f"got {s}")

    @property
    def step(self) -> int:
        """The stride in pixels."""
        h, w = _size("GridChips", self.size)
        return int(self.stride) if self.stride is not None else min(h, w) - int(self.overlap)

    def windows(self, scene: Scene) -> list[tuple[int, int, int, int]]:
        """Every window of the grid over ``scene``, row by row."""
        h, w = _size("GridChips", self.size)
        _check_fits(scene, h, w)

        def starts(n: int, k: int) -> list[int]:
            out = list(range(0, n - k + 1, self.step))
            if out[-1] != n - k:
                out.append(n - k)
            return out

        return [(r, c, h, w) for r in starts(scene.height, h) for c in starts(scene.width, w)]


def _check_fraction(v: Any) -> None:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
        raise ParameterError(f"min_valid must be a number in [0, 1], got {v!r}")


# ---------------------------------------------------------------------------- labels


class LabelSource:
    """Labels brought onto each chip's grid: a raster (any CRS/resolution, nearest) or vectors (rasterised).

    Parameters
    ----------
    path : path-like
        A label raster, or vector labels: GeoJSON (``.geojson``/``.json``) or
        GeoPackage (``.gpkg``), read with :func:`geoaug.vectors.read_vectors`
        (any CRS; none means WGS 84), rasterised onto each chip's grid.
    field : str, optional
        Vector property holding the class value (default: 1 for every shape).
    fill : int
        Vector background value.
    """

    def __init__(self, path: str | os.PathLike[str], field: str | None = None, fill: int = 0) -> None:
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise RasterNotFoundError(f"{self.path}: no such label file")
        self.field, self.fill = field, int(fill)
        self.is_vector = Path(self.path).suffix.lower() in VECTOR_SUFFIXES
        self._header = None if self.is_vector else read_header(self.path)

    def same_grid(self, scene: Scene) -> bool:
        """True when the label raster has the scene's grid (then the draw is replayed on it exactly)."""
        h = self._header
        return (h is not None and h["crs"] == scene.crs and h["transform"].almost_equals(scene.transform)
                and (h["height"], h["width"]) == (scene.height, scene.width))

    @cached_property
    def _layer(self) -> Any:
        from .vectors import read_vectors

        return read_vectors(self.path)

    def on_grid(self, transform: Affine, shape: tuple[int, int], crs: Any) -> GeoRaster:
        """The labels on a chip's grid (``transform``, ``shape``, ``crs``).

        Parameters
        ----------
        transform : affine.Affine
            The chip's geotransform (rotated and sheared ones included).
        shape : (int, int)
            The chip's rows and columns.
        crs : rasterio.crs.CRS
            The chip's CRS.

        Returns
        -------
        GeoRaster
            One band; invalid where the label raster has no data.
        """
        h, w = shape
        if self.is_vector:
            from .vectors import rasterize, reproject

            layer = reproject(self._layer, crs) if crs is not None else self._layer  # made once per CRS
            values = layer.attributes.get(self.field) if self.field is not None else None  # unknown: rasterize says
            big = values is not None and len(values) and (np.min(values) < 0 or np.max(values) > 65535)
            arr = rasterize(layer, transform, (h, w), self.field, fill=self.fill, dtype="int32" if big else "uint16")
            return GeoRaster(data=arr[None], mask=np.ones((h, w), bool), transform=transform, crs=crs)
        hd = self._header
        assert hd is not None
        # the label pixels under the chip's footprint (with a margin), then nearest onto its grid
        xs, ys = zip(*[transform @ (x, y) for x in (0, w) for y in (0, h)])
        if hd["crs"] is not None and crs is not None and hd["crs"] != crs:
            xs, ys = rasterio.warp.transform(crs, hd["crs"], list(xs), list(ys))
        inv = ~hd["transform"]
        cs, rs = zip(*[inv @ (x, y) for x, y in zip(xs, ys)])
        c0, r0 = max(0, math.floor(min(cs)) - 2), max(0, math.floor(min(rs)) - 2)
        c1, r1 = min(hd["width"], math.ceil(max(cs)) + 2), min(hd["height"], math.ceil(max(rs)) + 2)
        dtype = np.dtype(hd["dtype"])
        if c1 <= c0 or r1 <= r0:
            return GeoRaster(data=np.zeros((1, h, w), dtype), mask=np.zeros((h, w), bool), transform=transform,
                             crs=crs, nodata=hd["nodata"])
        src = read(self.path, bands=1, window=((r0, r1), (c0, c1)))
        src_vals = np.where(src.band_mask[0], src.data[0], 0)
        valid_src = src.band_mask[0].astype(np.uint8)
        dst = np.zeros((h, w), dtype)
        valid = np.zeros((h, w), np.uint8)
        kw = {"src_transform": src.transform, "src_crs": hd["crs"] or crs, "dst_transform": transform,
              "dst_crs": crs or hd["crs"], "resampling": Resampling.nearest}
        try:
            rasterio.warp.reproject(src_vals, dst, **kw)
            rasterio.warp.reproject(valid_src, valid, src_nodata=255, dst_nodata=0, **kw)
        except Exception as exc:
            raise RasterReadError(f"{self.path}: cannot bring labels onto the chip grid: {exc}") from None
        return GeoRaster(data=dst[None], mask=valid.astype(bool), transform=transform, crs=crs, nodata=hd["nodata"])

    def classes(self, scene: Scene, max_side: int = 512) -> dict[int, np.ndarray]:
        """Scene pixel positions ``(x, y)`` of each class, from a decimated read of the label raster."""
        if self.is_vector:
            raise ParameterError(f"{self.path}: class balancing needs a label raster")
        hd = self._header
        assert hd is not None
        f = max(1, math.ceil(max(hd["height"], hd["width"]) / max_side))
        oh, ow = max(1, hd["height"] // f), max(1, hd["width"] // f)
        with rasterio.open(self.path) as src:
            arr = src.read(1, out_shape=(oh, ow), resampling=Resampling.nearest)
            valid = src.read_masks(1, out_shape=(oh, ow), resampling=Resampling.nearest) > 0
            t = src.transform @ Affine.scale(src.width / ow, src.height / oh)
        out: dict[int, np.ndarray] = {}
        for c in np.unique(arr[valid]):
            rows, cols = np.nonzero((arr == c) & valid)
            xs, ys = t @ (cols + 0.5, rows + 0.5)
            if hd["crs"] is not None and scene.crs is not None and hd["crs"] != scene.crs:
                xs, ys = (np.asarray(v) for v in rasterio.warp.transform(hd["crs"], scene.crs, xs, ys))
            px, py = ~scene.transform @ (np.asarray(xs), np.asarray(ys))
            inside = (px >= 0) & (px < scene.width) & (py >= 0) & (py < scene.height)
            if inside.any():
                out[int(c)] = np.stack([px[inside], py[inside]], axis=1)
        return out


# ---------------------------------------------------------------------------- chips


@dataclass(frozen=True)
class Chip:
    """One chip: the augmented image, its labels, and where it came from.

    Attributes
    ----------
    image : GeoRaster
        On the chip's grid: ``transform = scene.transform @ Affine(matrix)``.
    label : GeoRaster or None
        The labels on the same grid.
    scene : str
        The scene's name.
    window : (int, int, int, int)
        Row, column, height and width of the window on the scene grid.
    matrix : ndarray (3, 3)
        Chip pixel -> scene pixel: ``translate(col, row) @ M``.
    params : dict or None
        The pipeline record (replayable).
    index : int
        Chip number within its scene.
    copy : int
        Augmented copy number.
    """

    image: GeoRaster
    label: GeoRaster | None
    scene: str
    window: tuple[int, int, int, int]
    matrix: np.ndarray
    params: dict[str, Any] | None
    index: int = 0
    copy: int = 0

    def record(self) -> dict[str, Any]:
        """The chip as plain data (a manifest line)."""
        return {"scene": self.scene, "window": list(self.window), "index": self.index, "copy": self.copy,
                "matrix": [[float(v) for v in row] for row in self.matrix], "params": self.params}


class _Window(GeometricTransform):
    """The integer shift from the chip's grid to the source window's grid (exact: fuses with any warp)."""

    abstract = True
    exact = True

    def __init__(self, shift: tuple[int, int], shape: tuple[int, int], fill: str) -> None:
        super().__init__(1.0)
        self.shift, self.shape, self.fill = shift, shape, fill

    def matrix(self, params: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        return geometry.translation(self.shift[0], self.shift[1]), self.shape


def _plan(pipeline: Transform | None, record: dict[str, Any] | None, shape: tuple[int, int]) -> dict[str, Any]:
    """Leaf steps, the index of the first geometric one, the context matrix, the full matrix, the output shape."""
    steps = flatten(pipeline, record) if pipeline is not None and record is not None else []
    first = next((i for i, (t, _) in enumerate(steps) if isinstance(t, GeometricTransform)), len(steps))
    m_ctx, m_all = np.eye(3), np.eye(3)
    cur = ctx_shape = shape
    support, fills, in_ctx = 0, set(), True
    for t, p in steps[first:]:
        if not isinstance(t, GeometricTransform):
            in_ctx = False
            continue
        mi, cur = t.matrix(p, cur)
        m_all = m_all @ mi
        if in_ctx:
            m_ctx, ctx_shape = m_ctx @ mi, cur
            if not t.exact:
                support = max(support, SUPPORT[t.interpolation])
            fills.add(t.fill)
    return {"steps": steps, "first": first, "m_ctx": m_ctx, "m_all": m_all, "out_shape": cur,
            "ctx_shape": ctx_shape, "support": support, "fills": fills}


def source_window(scene_shape: tuple[int, int], window: tuple[int, int, int, int], matrix: np.ndarray,
                  out_shape: tuple[int, int], support: int = 1, fills: Iterable[str] = ()) -> tuple[int, int, int, int]:
    """The scene window a draw reads: bbox of ``translate(col, row) @ matrix`` over the output, widened, clipped.

    Parameters
    ----------
    scene_shape : (int, int)
        Scene rows and columns.
    window : (int, int, int, int)
        The chip's window (row, col, height, width).
    matrix : ndarray (3, 3)
        Output pixel -> chip pixel (the draw's composed geometric matrix).
    out_shape : (int, int)
        Output rows and columns.
    support : int
        Kernel support: nearest 0, bilinear 1, cubic 2.
    fills : iterable of str
        Fill modes of the steps: ``reflect``/``mirror`` widen the window to the
        mirrored pixels they fetch.

    Returns
    -------
    (int, int, int, int)
        Row, column, height, width of the source window, inside the scene.
    """
    H, W = scene_shape
    row, col = window[0], window[1]
    a = geometry.translation(col, row) @ np.asarray(matrix, float)
    oh, ow = out_shape
    pts = a @ np.array([[0, ow, 0, ow], [0, 0, oh, oh], [1, 1, 1, 1]], float)
    xmin, xmax, ymin, ymax = pts[0].min(), pts[0].max(), pts[1].min(), pts[1].max()
    if set(fills) & {"reflect", "mirror"}:
        xmin, xmax = min(xmin, W - (xmax - W)), max(xmax, -xmin)
        ymin, ymax = min(ymin, H - (ymax - H)), max(ymax, -ymin)
    eps = 1e-6
    c0 = max(0, min(W - 1, math.floor(xmin + eps) - support))
    r0 = max(0, min(H - 1, math.floor(ymin + eps) - support))
    c1 = min(W, max(c0 + 1, math.ceil(xmax - eps) + support))
    r1 = min(H, max(r0 + 1, math.ceil(ymax - eps) + support))
    return r0, c0, r1 - r0, c1 - c0


def make_chip(
    scene: Scene,
    window: tuple[int, int, int, int],
    pipeline: Transform | None = None,
    rng: np.random.Generator | None = None,
    record: dict[str, Any] | None = None,
    labels: LabelSource | str | os.PathLike[str] | None = None,
    index: int = 0,
    copy: int = 0,
) -> Chip:
    """Read and augment one chip with its real surroundings (context-aware geometry).

    Parameters
    ----------
    scene : Scene
        The scene.
    window : (int, int, int, int)
        The chip's window (row, col, height, width) on the scene grid.
    pipeline : Transform, optional
        The augmentation; sampled on a proxy of the chip's size (``rng``) unless
        ``record`` is given.
    rng : numpy.random.Generator, optional
        Generator of the draw.
    record : dict, optional
        A record from an earlier draw (replay).
    labels : LabelSource or path-like, optional
        Labels brought onto the chip's grid.
    index, copy : int
        Stored on the chip.

    Returns
    -------
    Chip
    """
    row, col, h, w = (int(v) for v in window)
    if pipeline is not None and record is None:
        if rng is None:
            raise ParameterError("make_chip: a pipeline needs rng= or record=")
        if not isinstance(pipeline, Transform):
            raise ParameterError(f"make_chip: pipeline must be a Transform, got {type(pipeline).__name__}")
        record = pipeline.sample(rng, GeoRaster.proxy(scene.count, h, w, np.dtype(scene.dtype)))
    plan = _plan(pipeline, record, (h, w))
    if "wrap" in plan["fills"]:
        raise ParameterError(f"{scene.name}: fill='wrap' has no meaning on a scene chip (it would wrap around "
                             f"the scene); use reflect, mirror, edge or nodata")
    src = source_window((scene.height, scene.width), (row, col, h, w), plan["m_ctx"], plan["ctx_shape"],
                        plan["support"], plan["fills"])
    raster = scene.read(src)
    shift = (col - src[1], row - src[0])
    steps = plan["steps"]
    first = plan["first"]
    fill = next((t.fill for t, _ in steps[first:] if isinstance(t, GeometricTransform) and not t.exact), "nodata")
    win_step = (_Window(shift, (h, w), fill), {"applied": True})
    image = run([*steps[:first], win_step, *steps[first:]], raster, label=False)
    a_all = geometry.translation(col, row) @ plan["m_all"]
    exact = geometry.output_transform(scene.transform, a_all)
    if not image.gcps and image.rpcs is None:
        image = image.replace(transform=exact)
    label = None
    if labels is not None:
        src_labels = labels if isinstance(labels, LabelSource) else LabelSource(labels)
        if src_labels.same_grid(scene):
            lab = read(src_labels.path, bands=1, window=((src[0], src[0] + src[2]), (src[1], src[1] + src[3])))
            label = run([win_step, *steps[first:]], lab, label=True).replace(transform=exact)
        else:
            label = src_labels.on_grid(exact, (image.height, image.width), scene.crs)
    return Chip(image, label, scene.name, (row, col, h, w), a_all, record, index, copy)




def _valid_fraction(scene: Scene, window: tuple[int, int, int, int]) -> float:
    return scene.read(window).valid_fraction


def chip_window(scene: Scene, sampler: RandomChips | GridChips, index: int, seed: int,
                classes: dict[int, np.ndarray] | None = None) -> tuple[int, int, int, int] | None:
    """Window of chip ``index``: random ones are retried up to ``max_tries``; grid ones below ``min_valid`` -> None.

    Raises
    ------
    NoValidChipError
        A random chip found no window above ``min_valid`` in ``max_tries`` tries.
    """
    if isinstance(sampler, GridChips):
        win = sampler.windows(scene)[index]
        if sampler.min_valid > 0 and _valid_fraction(scene, win) < sampler.min_valid:
            return None
        return win
    rng = window_rng(seed, scene.name, index)
    best = 0.0
    for _ in range(sampler.max_tries):
        win = sampler.draw(scene, index, rng, classes)
        if sampler.min_valid <= 0:
            return win
        frac = _valid_fraction(scene, win)
        if frac >= sampler.min_valid:
            return win
        best = max(best, frac)
    where = scene.paths[0] if len(scene.paths) == 1 else scene.name
    raise NoValidChipError(f"{where}: no {sampler.size}-pixel window with at least {sampler.min_valid:.0%} valid "
                           f"pixels in {sampler.max_tries} tries (best {best:.0%})")


def _pipeline(pipeline: Any) -> Transform | None:
    from .transforms.serialize import as_pipeline

    return None if pipeline is None else as_pipeline(pipeline)


def sample(
    scenes: Any,
    size: int | tuple[int, int] = 256,
    count: int | None = None,
    stride: int | None = None,
    *,
    overlap: int = 0,
    pipeline: Any = None,
    copies: int = 1,
    seed: int = 0,
    labels: Any = None,
    label_field: str | None = None,
    min_valid: float = 0.0,
    balance: bool = False,
    max_tries: int = 100,
    stack: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    same_crs: bool = False,
    on_error: str = "raise",
    nodata: float | None = None,
) -> Iterator[Chip]:
    """Chips from whole scenes: random (``count``) or on a grid (``stride``/``overlap``), read window by window.

    Parameters
    ----------
    scenes : path-like, Scene, or a sequence of them
        A scene file, a list, a folder, a VRT mosaic, band-file folders, a
        local STAC item/collection JSON (see :func:`find_scenes`).
    size : int or (int, int)
        Chip size in pixels.
    count : int, optional
        Random chips per scene (exclusive with ``stride``/``overlap``).
    stride : int, optional
        Grid step (default ``size - overlap`` when ``count`` is not given).
    overlap : int
        Grid overlap in pixels.
    pipeline : Transform, dict or path, optional
        The augmentation: its geometric steps read the scene around the chip.
    copies : int
        Augmented copies per window.
    seed : int
        Base seed: chip ``i`` copy ``k`` of scene ``s`` draws from
        :func:`chip_rng` ``(seed, s, i, k)``; whatever the order or workers.
    labels : path-like, LabelSource, or a mapping scene name -> path, optional
        One label raster/vector for every scene, or one per scene.
    label_field : str, optional
        Vector property with the class value.
    min_valid : float
        Least valid fraction of a window.
    balance : bool
        Random chips centred on a class drawn uniformly from the label raster.
    max_tries : int
        Windows tried per random chip before :class:`NoValidChipError`.
    stack, bands : sequence of str, optional
        Band order of band-file folders; common names of STAC items.
    same_crs : bool
        Refuse scenes in another CRS than the first (see :func:`find_scenes`).
    on_error : {"raise", "skip"}
        ``skip``: a failing scene is reported as a :class:`SceneWarning`
        naming the file, and the other scenes go on.
    nodata : float, optional
        Overrides the scene files' nodata (pixels equal to it are invalid), as
        ``geoaug.read(nodata=)``: for collars without a nodata tag.

    Yields
    ------
    Chip
        Scene by scene, chip by chip, copy by copy.

    Examples
    --------
    >>> import geoaug
    >>> chips = list(geoaug.sample("fixtures/tiles/landsat8_sr_7band_uint16_collar.tif", 64, count=2,
    ...                            pipeline=geoaug.Compose([geoaug.Affine(rotate=(-30, 30))]), seed=0))
    >>> [c.image.shape for c in chips]
    [(7, 64, 64), (7, 64, 64)]
    """
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not isinstance(copies, int) or copies < 1:
        raise ParameterError(f"copies must be a positive int, got {copies!r}")
    sampler = make_sampler(size, count, stride, overlap, min_valid, balance, max_tries)
    pipe = _pipeline(pipeline)
    errors: list[tuple[str, str]] | None = [] if on_error == "skip" else None
    found = find_scenes(scenes, stack=stack, bands=bands, errors=errors, same_crs=same_crs, nodata=nodata)
    for _, msg in errors or ():
        warnings.warn(msg, SceneWarning, stacklevel=2)
    for scene in found:
        try:
            lab = _labels_for(labels, scene, label_field)
            yield from scene_chips(scene, sampler, pipe, seed, lab, copies)
        except GeoAugError as exc:
            if on_error == "raise":
                raise
            warnings.warn(str(exc), SceneWarning, stacklevel=2)


def make_sampler(size: Any, count: int | None = None, stride: int | None = None, overlap: int = 0,
                 min_valid: float = 0.0, balance: bool = False, max_tries: int = 100) -> RandomChips | GridChips:
    """:class:`RandomChips` when ``count`` is given, else :class:`GridChips`."""
    if count is not None:
        if stride is not None or overlap:
            raise ParameterError("give count (random chips) or stride/overlap (grid chips), not both")
        return RandomChips(size, count, min_valid, max_tries, balance)
    if balance:
        raise ParameterError("balance needs random chips (count=)")
    return GridChips(size, stride, overlap, min_valid)


def _labels_for(labels: Any, scene: Scene, label_field: str | None) -> LabelSource | None:
    if labels is None:
        return None
    if isinstance(labels, LabelSource):
        return labels
    if isinstance(labels, dict):
        p = labels.get(scene.name)
        return None if p is None else LabelSource(p, label_field)
    return LabelSource(labels, label_field)


def chip_count(scene: Scene, sampler: RandomChips | GridChips) -> int:
    """How many windows ``sampler`` takes from ``scene``."""
    return len(sampler) if isinstance(sampler, RandomChips) else len(sampler.windows(scene))


def scene_chips(scene: Scene, sampler: RandomChips | GridChips, pipeline: Transform | None, seed: int,
                labels: LabelSource | None = None, copies: int = 1,
                indexes: Iterable[int] | None = None) -> Iterator[Chip]:
    """The chips of one scene (all windows, or ``indexes``), each in ``copies`` draws."""
    classes = None
    if isinstance(sampler, RandomChips) and sampler.balance:
        if labels is None:
            raise ParameterError(f"{scene.name}: balance=True needs a label raster")
        classes = labels.classes(scene)
    for i in range(chip_count(scene, sampler)) if indexes is None else indexes:
        win = chip_window(scene, sampler, i, seed, classes)
        if win is None:
            continue
        for k in range(copies):
            rng = chip_rng(seed, scene.name, i, k)
            yield make_chip(scene, win, pipeline, rng, labels=labels, index=i, copy=k)


__all__ += ["chip_count", "chip_window", "make_sampler", "scene_chips", "window_rng"]


class ChipSet:
    """Chips of scenes by index, for loaders: draw ``i`` of epoch ``e`` from ``SeedSequence(seed, spawn_key=(e, i))``.

    The torch-free core of :class:`geoaug.loaders.scenes_torch.SceneDataset` and of the Keras
    ``flow_from_scenes`` iterator. Random mode (``length``): each index draws a scene (in
    proportion to its area), a window (retried up to ``max_tries`` for ``min_valid``) and a
    pipeline draw; grid mode: index ``i`` is the ``i``-th window of a ``stride`` grid over every scene.

    Parameters
    ----------
    scenes : path-like, Scene, or a sequence of them
        As :func:`find_scenes`.
    size : int or (int, int)
        Chip size in pixels.
    length : int, optional
        Random chips per epoch; without it, a grid.
    stride : int, optional
        Grid step (default ``size``).
    pipeline : Transform, dict or path, optional
        The augmentation.
    labels : path-like, LabelSource or mapping scene name -> path, optional
        Labels on each chip's grid.
    seed : int
        Base seed.
    min_valid : float
        Least valid fraction of a random window.
    max_tries : int
        Windows tried per random chip.
    stack, bands : sequence of str, optional
        Band order of band-file folders; STAC common names.
    """

    def __init__(self, scenes: Any, size: int | tuple[int, int] = 256, length: int | None = None,
                 stride: int | None = None, pipeline: Any = None, labels: Any = None, seed: int = 0,
                 min_valid: float = 0.0, max_tries: int = 100, stack: Sequence[str] | None = None,
                 bands: Sequence[str] | None = None) -> None:
        self.scenes: list[Scene] = find_scenes(scenes, stack=stack, bands=bands)
        self._grid: list[tuple[int, tuple[int, int, int, int]]] = []
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 1:
                raise ParameterError(f"length must be a positive int, got {length!r}")
            self.sampler: RandomChips | GridChips = RandomChips(size, length, min_valid, max_tries)
            for s in self.scenes:
                _check_fits(s, *_size("RandomChips", size))
            areas = np.array([s.height * s.width for s in self.scenes], float)
            self._weights = areas / areas.sum()
            self._length = int(length)
        else:
            self.sampler = GridChips(size, stride, 0, min_valid)
            self._grid = [(k, w) for k, s in enumerate(self.scenes) for w in self.sampler.windows(s)]
            self._length = len(self._grid)
        self.pipeline = _pipeline(pipeline)
        self.labels = [_labels_for(labels, s, None) for s in self.scenes]
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the draws of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._length

    def rng(self, index: int) -> np.random.Generator:
        """The generator of chip ``index`` in the current epoch."""
        from .seeding import loader_rng

        return loader_rng(self.seed, self.epoch, index)

    def chip(self, index: int, rng: np.random.Generator | None = None) -> Chip:
        """Chip ``index`` of the current epoch (``rng`` defaults to :meth:`rng`)."""
        if not 0 <= index < self._length:
            raise IndexError(f"index {index} out of range for {self._length} chips")
        rng = self.rng(index) if rng is None else rng
        if isinstance(self.sampler, RandomChips):
            k = int(rng.choice(len(self.scenes), p=self._weights))
            scene = self.scenes[k]
            for _ in range(self.sampler.max_tries):
                win = self.sampler.draw(scene, index, rng)
                if self.sampler.min_valid <= 0 or _valid_fraction(scene, win) >= self.sampler.min_valid:
                    break
            else:
                raise NoValidChipError(f"{scene.name}: no window with at least {self.sampler.min_valid:.0%} valid "
                                       f"pixels in {self.sampler.max_tries} tries (sample {index})")
        else:
            k, win = self._grid[index]
            scene = self.scenes[k]
        return make_chip(scene, win, self.pipeline, rng, labels=self.labels[k], index=index)


__all__ += ["ChipSet"]
