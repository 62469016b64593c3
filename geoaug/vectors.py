"""Vector labels in map coordinates: read, reproject, clip to each output, write, rasterise.

An augmented output's geotransform is ``T @ M`` (:mod:`geoaug.geometry`):
every output pixel sits where its content lies on the ground. So a label in
map coordinates (a GeoJSON field boundary, a GeoPackage of building
footprints) stays exactly true through any flip, rotation or zoom. It does
not move; it is *clipped* to the output's footprint (the polygon of the four
corners of the output grid through ``T @ M``: a rotated polygon for a rotated
output), and its output-pixel coordinates, when asked for, are ``~(T @ M)``
applied to it.

Files are read and written with pyogrio: vectorised reads and writes
through its bundled GDAL (GeoJSON, GeoPackage and every other OGR format),
geometries as WKB arrays and attributes as numpy columns, no per-feature
Python objects (fiona builds a dict per feature, which is slower for the
same work). shapely 2 clips, repairs and transforms the geometries in
vectorised calls. Both are imported inside the functions, so ``import
geoaug`` stays fast.

Rules for bad input (each counted in :attr:`VectorLayer.counts` and then in
a :class:`~geoaug.transforms.Result` or the batch summary):

* a file without a CRS is read as WGS 84 longitude/latitude (RFC 7946, the
  GeoJSON rule). GDAL applies it to GeoJSON itself (a GeoJSON without a
  ``crs`` member *is* WGS 84); other files without one (a GeoPackage with an
  undefined spatial reference) are counted: ``counts["assumed_wgs84"] = 1``;
* invalid geometries (self-intersecting rings...) are repaired with
  ``shapely.make_valid`` (``"repaired"``); features without a geometry are
  dropped (``"null"``);
* an empty file gives an empty layer (its outputs hold no feature);
* features outside an output are dropped from that output (``"outside"``),
  features cut by its edge are clipped (``"clipped"``).

Plain arrays have no geotransform: there a layer without CRS holds *pixel*
coordinates of the input, and the result holds pixel coordinates of the
output (``inverse(M)`` applied), through the same code (``T`` is the identity).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from .errors import ParameterError, VectorReadError, VectorWriteError

__all__ = [
    "VECTOR_SUFFIXES",
    "VectorLayer",
    "clip_to_output",
    "find_vectors",
    "footprint",
    "label_raster",
    "rasterize",
    "read_vectors",
    "reproject",
    "write_vectors",
]

#: file suffixes read as vector labels (any OGR format works through read_vectors; these are found by name)
VECTOR_SUFFIXES = (".geojson", ".gpkg", ".json")
_DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
_WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class VectorLayer:
    """Features: shapely geometries, one attribute column per field, a CRS.

    Parameters
    ----------
    geometries : ndarray of shapely geometries (N,)
    attributes : dict of str to ndarray (N,)
        One column per field, in file order.
    crs : rasterio.crs.CRS or None
        None: the coordinates are pixel coordinates (pixel-corner origin) of
        the raster they go with.
    counts : dict of str to int
        What reading and clipping did: ``read``, ``null``, ``repaired``,
        ``assumed_wgs84``, ``outside``, ``clipped``, ``kept``.
    path : str or None
        The file read, for messages.

    Examples
    --------
    >>> import shapely
    >>> layer = VectorLayer.from_geometries([shapely.box(0, 0, 2, 2)], {"class": [3]})
    >>> len(layer), layer.attributes["class"].tolist(), layer.crs is None
    (1, [3], True)
    """

    geometries: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    crs: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    path: str | None = None
    #: this layer in other CRSs, made once by :func:`reproject` (every chip of a scene reuses them)
    _in_crs: dict[str, VectorLayer] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_geometries(cls, geometries: Any, attributes: Mapping[str, Any] | None = None, crs: Any = None
                        ) -> VectorLayer:
        """A layer from shapely geometries (or GeoJSON-like dicts) and attribute columns.

        Parameters
        ----------
        geometries : sequence of shapely geometries or GeoJSON geometry dicts
            The features' shapes.
        attributes : mapping of str to sequence, optional
            One value per geometry for each field.
        crs : str, rasterio CRS or None
            None for pixel coordinates.

        Returns
        -------
        VectorLayer
        """
        import shapely
        import shapely.geometry

        geoms = np.empty(len(geometries), dtype=object)
        for i, g in enumerate(geometries):
            geoms[i] = shapely.geometry.shape(g) if isinstance(g, Mapping) else g
        if not all(isinstance(g, shapely.Geometry) for g in geoms):
            raise ParameterError("geometries must be shapely geometries or GeoJSON geometry dicts")
        attrs = {}
        for k, v in (attributes or {}).items():
            col = np.asarray(list(v))
            if col.shape != (len(geoms),):
                raise ParameterError(f"attribute {k!r} has {col.size} values for {len(geoms)} geometries")
            attrs[str(k)] = col
        return cls(geoms, attrs, _as_crs(crs) if crs is not None else None, {"read": len(geoms)})

    def __len__(self) -> int:
        return len(self.geometries)

    def subset(self, index: np.ndarray, geometries: np.ndarray | None = None, **counts: int) -> VectorLayer:
        """The features at ``index`` (with new ``geometries`` if given), counts updated."""
        geoms = self.geometries[index] if geometries is None else geometries
        attrs = {k: v[index] for k, v in self.attributes.items()}
        return VectorLayer(geoms, attrs, self.crs, {**self.counts, **counts}, self.path)

    def to_pixels(self, transform: Affine) -> VectorLayer:
        """The geometries in pixel coordinates of the grid of ``transform``: ``~transform`` applied.

        Parameters
        ----------
        transform : affine.Affine
            A raster's geotransform, e.g. ``res.image.transform`` (= ``T @ M``).

        Returns
        -------
        VectorLayer
            Same features and attributes, ``crs`` None (pixel coordinates,
            the form boxes, keypoints and rasterising use).
        """
        return VectorLayer(_affine_apply(self.geometries, ~transform), dict(self.attributes), None,
                           dict(self.counts), self.path)

    def to_geojson(self) -> dict[str, Any]:
        """The layer as a GeoJSON FeatureCollection dict (coordinates as they are)."""
        import shapely

        feats = []
        for i, g in enumerate(self.geometries):
            props = {k: _plain(v[i]) for k, v in self.attributes.items()}
            feats.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(g)})
        return {"type": "FeatureCollection", "features": feats}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _as_crs(crs: Any) -> Any:
    from rasterio.crs import CRS

    if isinstance(crs, CRS):
        return crs
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # rasterio raises CRSError for text it cannot parse
        raise ParameterError(f"not a CRS: {crs!r} ({exc})") from None


def _affine_apply(geoms: np.ndarray, a: Affine) -> np.ndarray:
    import shapely

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([a.a * x + a.b * y + a.c, a.d * x + a.e * y + a.f])

    return shapely.transform(geoms, fn)


def read_vectors(path: str | os.PathLike[str], layer: str | int | None = None) -> VectorLayer:
    """Read a GeoJSON, GeoPackage (or any OGR) file of polygons, lines and points.

    Parameters
    ----------
    path : path-like
        The file.
    layer : str or int, optional
        The layer of a multi-layer file (GeoPackage); default the first.

    Returns
    -------
    VectorLayer
        Its features, attributes and CRS (WGS 84 when the file has none, per
        RFC 7946); invalid geometries repaired, features without geometry
        dropped, both counted in ``counts``.

    Raises
    ------
    VectorReadError
        The file is missing or not a readable vector file.
    """
    import pyogrio.raw
    import shapely

    p = os.fspath(path)
    if not Path(p).is_file():
        raise VectorReadError(f"{p}: vector file does not exist")
    try:
        meta, _, wkb, columns = pyogrio.raw.read(p, layer=layer)
    except Exception as exc:  # pyogrio's DataSourceError/DataLayerError and GDAL errors
        raise VectorReadError(f"{p}: cannot read vector features: {str(exc).splitlines()[0]}") from None
    counts = {"read": len(wkb)}
    crs_text = meta.get("crs")
    if not crs_text:
        crs_text = _WGS84
        counts["assumed_wgs84"] = 1
    geoms = shapely.from_wkb(wkb) if len(wkb) else np.empty(0, dtype=object)
    attrs = {str(name): np.asarray(col) for name, col in zip(meta["fields"], columns)}
    null = shapely.is_missing(geoms) | shapely.is_empty(geoms) if len(geoms) else np.zeros(0, bool)
    keep = np.flatnonzero(~null)
    if null.any():
        counts["null"] = int(null.sum())
    geoms = geoms[keep]
    attrs = {k: v[keep] for k, v in attrs.items()}
    invalid = ~shapely.is_valid(geoms) if len(geoms) else np.zeros(0, bool)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = [_repair(g) for g in geoms[invalid]]
        counts["repaired"] = int(invalid.sum())
    return VectorLayer(geoms, attrs, _as_crs(crs_text), counts, p)


def _repair(g: Any) -> Any:
    """``make_valid``, keeping only parts of the input's dimension (a bow-tie polygon stays polygons)."""
    import shapely

    fixed = shapely.make_valid(g)
    return _same_dimension(fixed, shapely.get_dimensions(g))


def _same_dimension(g: Any, dim: int) -> Any:
    import shapely

    if shapely.get_type_id(g) != 7:  # not a GeometryCollection
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_dimensions(p) == dim and not p.is_empty]
    if not parts:
        return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def reproject(layer: VectorLayer, crs: Any) -> VectorLayer:
    """The layer in another CRS (every vertex transformed, no densification).

    Parameters
    ----------
    layer : VectorLayer
        Must have a CRS.
    crs : str or rasterio CRS
        The target CRS (a raster's ``crs``).

    Returns
    -------
    VectorLayer
        Made once per layer and CRS: later calls return the same object.
    """
    import shapely
    from rasterio.warp import transform as warp_transform

    dst = _as_crs(crs)
    if layer.crs is None:
        raise ParameterError(f"{layer.path or 'vector layer'}: has no CRS (pixel coordinates): cannot reproject")
    key = dst.to_string()
    if key in layer._in_crs:
        return layer._in_crs[key]
    if layer.crs == dst or len(layer) == 0:
        return layer._in_crs.setdefault(key, VectorLayer(layer.geometries, layer.attributes, dst, layer.counts,
                                                          layer.path))

    def fn(xy: np.ndarray) -> np.ndarray:
        xs, ys = warp_transform(layer.crs, dst, xy[:, 0].tolist(), xy[:, 1].tolist())
        return np.column_stack([xs, ys])

    geoms = shapely.transform(layer.geometries, fn)
    bad = ~np.isfinite(shapely.bounds(geoms)).all(axis=1)
    if bad.any():
        raise ParameterError(f"{layer.path or 'vector layer'}: feature {int(np.flatnonzero(bad)[0])} cannot be "
                             f"expressed in {dst} (outside its area of use)")
    return layer._in_crs.setdefault(key, VectorLayer(geoms, dict(layer.attributes), dst, dict(layer.counts),
                                                      layer.path))


def footprint(transform: Affine, shape: tuple[int, int]) -> Any:
    """The ground polygon of a grid: its four corners through ``transform``.

    Parameters
    ----------
    transform : affine.Affine
        The grid's geotransform (an output's ``T @ M``).
    shape : (rows, cols)
        The grid's size.

    Returns
    -------
    shapely.Polygon
        A rotated polygon for a rotated grid.

    Examples
    --------
    >>> from affine import Affine
    >>> footprint(Affine(10, 0, 100, 0, -10, 500), (2, 3)).bounds
    (100.0, 480.0, 130.0, 500.0)
    """
    import shapely

    h, w = shape
    corners = [transform @ c for c in ((0, 0), (w, 0), (w, h), (0, h))]
    return shapely.Polygon(corners)


def clip_to_output(layer: VectorLayer, transform: Affine, shape: tuple[int, int], crs: Any,
                   input_transform: Affine | None = None) -> VectorLayer:
    """The features of ``layer`` on an output grid: reprojected, clipped to its footprint.

    Parameters
    ----------
    layer : VectorLayer
        Map coordinates (any CRS), or pixel coordinates of the *input* grid
        (``crs`` None).
    transform : affine.Affine
        The output's geotransform ``T @ M``.
    shape : (rows, cols)
        The output's size.
    crs : rasterio CRS or None
        The output's CRS; None for plain arrays.
    input_transform : affine.Affine, optional
        The input's geotransform ``T``, which places a layer in pixel
        coordinates (default: the identity, as for plain arrays).

    Returns
    -------
    VectorLayer
        In ``crs`` (map coordinates) when the output has one, else in output
        pixel coordinates. Features outside are dropped, features cut by the
        edge clipped (counted: ``outside``, ``clipped``, ``kept``); polygons
        stay polygons, lines lines, points points.
    """
    import shapely

    if layer.crs is None:  # pixel coordinates of the input: to its "map" coordinates
        t_in = input_transform if input_transform is not None else Affine.identity()
        work = VectorLayer(_affine_apply(layer.geometries, t_in), layer.attributes, crs, layer.counts, layer.path)
    else:
        if crs is None:
            raise ParameterError(f"{layer.path or 'vector layer'} is in {layer.crs}, but the raster has no CRS: "
                                 f"read the raster from a georeferenced file, or give pixel coordinates (crs=None)")
        work = reproject(layer, crs)
    frame = footprint(transform, shape)
    shapely.prepare(frame)
    geoms = work.geometries
    inside = shapely.covered_by(geoms, frame) if len(geoms) else np.zeros(0, bool)
    touching = shapely.intersects(geoms, frame) if len(geoms) else np.zeros(0, bool)
    cut = np.flatnonzero(touching & ~inside)
    out = geoms.copy()
    for i in cut:
        dim = shapely.get_dimensions(geoms[i])
        out[i] = _same_dimension(shapely.intersection(geoms[i], frame), dim)
    keep = touching & ~shapely.is_empty(out) if len(out) else np.zeros(0, bool)
    kept = np.flatnonzero(keep)
    prev = work.counts
    counts = {"outside": prev.get("outside", 0) + int((~keep).sum()),
              "clipped": prev.get("clipped", 0) + int(keep[cut].sum()), "kept": int(keep.sum())}
    res = work.subset(kept, out[kept], **counts)
    if crs is None:
        return res.to_pixels(transform)
    return res


def find_vectors(folder: str | os.PathLike[str], rel: str) -> Path | None:
    """The vector file of a raster's relative name: ``folder/a/b.geojson`` (or ``.gpkg``, ``.json``) for ``a/b.tif``.

    Parameters
    ----------
    folder : path-like
        The ``--vectors`` folder.
    rel : str
        The raster's path relative to its input folder.

    Returns
    -------
    Path or None
        None when there is none.

    Raises
    ------
    ParameterError
        Several files of that name (``b.geojson`` and ``b.gpkg``).
    """
    stem = Path(folder) / Path(rel).with_suffix("")
    found = [stem.with_name(stem.name + s) for s in VECTOR_SUFFIXES if stem.with_name(stem.name + s).is_file()]
    if len(found) > 1:
        raise ParameterError(f"{', '.join(map(str, found))}: several vector files for {rel}: keep one")
    return found[0] if found else None


def write_vectors(layer: VectorLayer, path: str | os.PathLike[str]) -> Path:
    """Write a layer atomically (temporary file in the folder, then ``os.replace``).

    Parameters
    ----------
    layer : VectorLayer
        Map coordinates in its CRS (or pixel coordinates, written without CRS).
    path : path-like
        ``.geojson``/``.json`` (GeoJSON) or ``.gpkg`` (GeoPackage).

    Returns
    -------
    Path

    Raises
    ------
    VectorWriteError
        Unknown suffix, missing folder, or a GDAL failure.
    """
    import pyogrio.raw
    import shapely

    p = Path(path)
    driver = _DRIVERS.get(p.suffix.lower())
    if driver is None:
        raise VectorWriteError(f"{p}: vector outputs are .geojson or .gpkg, not {p.suffix or 'no suffix'}")
    if not p.parent.is_dir():
        raise VectorWriteError(f"{p}: folder {p.parent} does not exist")
    types = sorted({t for t in shapely.get_type_id(layer.geometries).tolist()}) if len(layer) else []
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}
    gtype = names.get(types[0], "Unknown") if len(types) == 1 else "Unknown"
    fields = list(layer.attributes)
    data = [_writable(layer.attributes[k]) for k in fields]
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.part")
    crs = layer.crs.to_wkt() if layer.crs is not None else None
    try:
        with warnings.catch_warnings():
            # the temporary name ends in .part (GDAL would like .gpkg); a layer without CRS holds pixel coordinates
            warnings.filterwarnings("ignore", message="The filename extension should be", category=RuntimeWarning)
            warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
            pyogrio.raw.write(str(tmp), shapely.to_wkb(layer.geometries) if len(layer) else np.empty(0, dtype=object),
                              data, fields, layer=_layer_name(p), driver=driver, geometry_type=gtype, crs=crs,
                              **({"SPATIAL_INDEX": "NO"} if driver == "GPKG" else {}))
        os.replace(tmp, p)
    except Exception as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise VectorWriteError(f"{p}: cannot write vector features: {str(exc).splitlines()[0]}") from exc
    return p


def _layer_name(p: Path) -> str:
    """The layer name of an output (GeoPackage layer names take letters, digits and underscores)."""
    import re

    return re.sub(r"[^A-Za-z0-9_]", "_", p.stem) or "features"


def _writable(col: np.ndarray) -> np.ndarray:
    if col.dtype.kind in "biuf" or col.dtype.kind == "M":
        return col
    return np.asarray([None if v is None else str(v) for v in col], dtype=object)


def rasterize(layer: VectorLayer, transform: Affine, shape: tuple[int, int], attribute: str | None = None, *,
              classes: Mapping[Any, int] | None = None, fill: int = 0, dtype: str = "uint8",
              all_touched: bool = False) -> np.ndarray:
    """Burn features onto a grid: the class value of each pixel (attribute -> value), ``fill`` elsewhere.

    Parameters
    ----------
    layer : VectorLayer
        In the grid's coordinates: map coordinates of the grid's CRS (see
        :func:`clip_to_output`), or pixel coordinates with ``transform`` the identity.
    transform : affine.Affine
        The grid's geotransform.
    shape : (rows, cols)
        The grid's size.
    attribute : str, optional
        The field holding the class value (numbers); default: every feature burns 1.
    classes : mapping, optional
        Attribute value -> class value, for text attributes (``{"forest": 1, "water": 2}``).
    fill : int
        Value of pixels no feature covers.
    dtype : str
        The label dtype (``"uint8"``, ``"int32"``...).
    all_touched : bool
        Burn every pixel a feature touches (default: pixels whose centre it covers).

    Returns
    -------
    ndarray (rows, cols)
        Later features burn over earlier ones.

    Raises
    ------
    ParameterError
        An unknown attribute (the message lists the fields), text values
        without ``classes``, values that do not fit ``dtype``.
    """
    from rasterio.features import rasterize as burn

    h, w = shape
    dt = np.dtype(dtype)
    if attribute is None:
        values = np.ones(len(layer), dtype=np.int64)
    else:
        if attribute not in layer.attributes:
            have = ", ".join(layer.attributes) or "none"
            raise ParameterError(f"{layer.path or 'vector layer'}: no attribute {attribute!r} (fields: {have})")
        col = layer.attributes[attribute]
        if classes is not None:
            missing = sorted({str(v) for v in col.tolist() if v not in classes})
            if missing:
                raise ParameterError(f"attribute {attribute!r}: values {missing} are not in classes")
            values = np.array([classes[v] for v in col.tolist()], dtype=np.int64)
        elif col.dtype.kind in "iub" or (col.dtype.kind == "f" and np.all(np.isfinite(col))
                                          and np.all(col == np.round(col))):
            values = col.astype(np.int64)
        else:
            raise ParameterError(f"attribute {attribute!r} holds {col.dtype} values, not whole numbers: give "
                                 f"classes={{value: class, ...}}")
    if dt.kind not in "iu":
        raise ParameterError(f"dtype must be an integer dtype, got {dtype!r}")
    info = np.iinfo(dt)
    allv = np.append(values, fill)
    if allv.size and (allv.min() < info.min or allv.max() > info.max):
        raise ParameterError(f"class values {int(allv.min())}..{int(allv.max())} do not fit {dt.name}")
    if len(layer) == 0:
        return np.full((h, w), fill, dtype=dt)
    burn_dt = dt if dt.name in ("uint8", "uint16", "int16", "uint32", "int32") else np.dtype("int32")
    out = burn(zip(layer.geometries, values.tolist()), out_shape=(h, w), transform=transform, fill=fill,
               dtype=burn_dt, all_touched=all_touched)
    return out.astype(dt, copy=False)


def label_raster(layer: VectorLayer, raster: Any, attribute: str | None = None, *,
                 classes: Mapping[Any, int] | None = None) -> Any:
    """A label raster on ``raster``'s grid from vector labels (attribute -> class value).

    Parameters
    ----------
    layer : VectorLayer
        Clipped to ``raster`` (:func:`clip_to_output`): in its CRS, or in its
        pixel coordinates when it has none.
    raster : GeoRaster
        The grid (an augmented output).
    attribute : str, optional
        The field with whole-number class values (default: 1 for every feature).
    classes : mapping, optional
        Attribute value -> class value, for text attributes.

    Returns
    -------
    GeoRaster
        One uint8 band (int32 when a class value exceeds 254), 0 where no
        feature lies, valid where ``raster`` has a valid pixel in any band;
        nodata 255 (uint8) or -2147483648 (int32).
    """
    from .raster import GeoRaster

    # clip_to_output gives pixel coordinates for a raster without CRS: burn them on the identity grid
    transform = raster.transform if raster.crs is not None else Affine.identity()
    data = rasterize(layer, transform, (raster.height, raster.width), attribute, classes=classes, dtype="int32")
    if data.size == 0 or (data.min() >= 0 and data.max() <= 254):
        data, nodata = data.astype(np.uint8), 255.0
    else:
        nodata = float(np.iinfo(np.int32).min)
        if (data == nodata).any():
            raise ParameterError(f"class value {int(nodata)} is the int32 nodata of label rasters")
    mask = raster.mask if raster.mask.ndim == 2 else raster.mask.any(axis=0)
    return GeoRaster(data[None], mask, transform=raster.transform, crs=raster.crs, nodata=nodata,
                     band_names=(attribute or "label",))
