"""The raster model: :class:`GeoRaster`, pixels plus everything that says where they are.

Conventions
-----------
* ``data`` is ``(bands, rows, cols)``, the layout rasterio reads.
* ``mask`` is boolean, ``True`` = valid. It is ``(rows, cols)`` when every band
  shares one validity (the usual case: a collar, NaN areas) or
  ``(bands, rows, cols)`` when bands differ (a band dropped by ``BandDropout``,
  a file whose bands have different nodata areas). The mask, not the nodata
  value, is the truth about validity; ``nodata`` only says which number to
  write into invalid pixels on disk.
* ``transform`` is an :class:`affine.Affine` in the GDAL/rasterio convention:
  it maps pixel coordinates ``(col, row)`` whose origin ``(0, 0)`` is the
  *outer corner* of the top-left pixel to CRS coordinates ``(x, y)``. Pixel
  centres sit at ``(col + 0.5, row + 0.5)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from affine import Affine

from . import geometry, georef
from .errors import ParameterError, UnsupportedDtypeError

__all__ = ["SUPPORTED_DTYPES", "GeoRaster", "all_valid_mask", "check_dtype", "is_all_valid_mask", "nodata_safe_value"]

#: Pixel dtypes every geoaug operation accepts.
SUPPORTED_DTYPES: tuple[np.dtype, ...] = tuple(
    np.dtype(t) for t in ("uint8", "uint16", "int16", "int32", "float32", "float64")
)


_IDENTITY = geometry.IDENTITY_TRANSFORM  # shared: the geotransform of every wrapped plain array
#: the supported dtypes as a set: ``dtype in _SUPPORTED`` is a hash lookup (``dtype.str`` builds a string);
#: a dtype equal to a supported one but missing here (metadata...) goes through :func:`check_dtype`
_SUPPORTED = frozenset(SUPPORTED_DTYPES)


@functools.lru_cache(maxsize=256)
def all_valid_mask(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only mask of ``shape`` that is True everywhere, stored as one broadcast value.

    Rasters with no invalid pixel carry it: operations recognise it without
    scanning (:func:`is_all_valid_mask`) and skip mask work entirely.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` or ``(bands, rows, cols)``.

    Returns
    -------
    ndarray of bool
        Every stride 0; cached per shape.

    Examples
    --------
    >>> m = all_valid_mask((3, 4))
    >>> m.shape, bool(m.all()), m.strides, is_all_valid_mask(m)
    ((3, 4), True, (0, 0), True)
    """
    return np.broadcast_to(np.True_, tuple(int(v) for v in shape))


def is_all_valid_mask(mask: np.ndarray) -> bool:
    """True when ``mask`` is a broadcast of True (see :func:`all_valid_mask`); O(1), never scans.

    A full ``np.ones`` mask returns False: it is all valid, but finding out costs a scan.

    Parameters
    ----------
    mask : ndarray of bool
        A raster's mask.

    Returns
    -------
    bool
    """
    return mask.size > 0 and not any(mask.strides) and bool(mask.flat[0])


def check_dtype(dtype: Any, where: str = "array") -> np.dtype:
    """Return ``np.dtype(dtype)`` or raise :class:`UnsupportedDtypeError`.

    Parameters
    ----------
    dtype : dtype-like
        The dtype to check.
    where : str
        What the dtype belongs to (a file name, "array"); used in the message.
    """
    dt = np.dtype(dtype)
    if dt not in SUPPORTED_DTYPES:
        names = ", ".join(d.name for d in SUPPORTED_DTYPES)
        raise UnsupportedDtypeError(
            f"{where}: pixel dtype {dt.name} is not supported (supported: {names})"
        )
    return dt


def nodata_safe_value(nodata: float, dtype: np.dtype) -> float:
    """The value a *valid* pixel equal to ``nodata`` is moved to on write.

    For integers: ``nodata + 1``, or ``nodata - 1`` when ``nodata`` is the
    dtype's maximum. For floats: 8 representable values of the dtype above
    ``nodata`` (below it near the largest finite value; the smallest normal
    number for a nodata of 0). GDAL compares floats with nodata within a
    couple of ULPs, so a single step would still read back as nodata.

    Examples
    --------
    >>> nodata_safe_value(0, np.dtype("uint16"))
    1
    >>> nodata_safe_value(255, np.dtype("uint8"))
    254
    """
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        nd = int(nodata)
        return nd + 1 if nd < info.max else nd - 1
    # GDAL treats floats within 2 ULP-ish of nodata as nodata; step 8 ULPs away
    v = dt.type(nodata)
    if v == 0:
        return float(np.finfo(dt).tiny)
    target = dt.type(np.inf)
    up = v
    for _ in range(8):
        up = np.nextafter(up, target)
    if not np.isfinite(up):
        up = v
        for _ in range(8):
            up = np.nextafter(up, dt.type(-np.inf))
    return float(up)


@functools.lru_cache(maxsize=64)
def _proxy_data(count: int, height: int, width: int, dtype: np.dtype) -> np.ndarray:
    # cached: a read-only broadcast of one zero (no memory), shared like all_valid_mask
    if np.dtype(dtype) not in _SUPPORTED:
        check_dtype(dtype)
    return np.broadcast_to(np.zeros(1, dtype=dtype), (count, height, width))


@functools.lru_cache(maxsize=64)
def _default_names(count: int) -> tuple[str, ...]:
    # cached: every plain array wrapped for a call needs them (a tuple, so sharing is safe)
    return tuple(f"band_{i}" for i in range(1, count + 1))


@dataclass(frozen=True, eq=False)
class GeoRaster:
    """Pixels ``(bands, rows, cols)`` with their validity mask and georeferencing.

    A frozen value object: operations return new rasters. Build one from a
    file with :func:`geoaug.read` or from a plain array with
    :meth:`GeoRaster.from_array`.

    Parameters
    ----------
    data : ndarray, shape (bands, rows, cols)
        Pixel values; dtype one of :data:`SUPPORTED_DTYPES`.
    mask : ndarray of bool, shape (rows, cols) or (bands, rows, cols)
        ``True`` where a pixel is valid.
    transform : affine.Affine
        Pixel-corner to CRS coordinates (GDAL/rasterio convention).
    crs : rasterio.crs.CRS or None
        Coordinate reference system, ``None`` for plain arrays.
    nodata : float or None
        The value written into invalid pixels on disk (may be NaN).
    band_names : tuple of str
        One name per band (``band_1`` ... when the source has none).
    tags : dict
        Dataset-level metadata tags (GDAL default domain).
    band_tags : tuple of dict
        Per-band metadata tags.
    profile : dict
        GTiff creation options of the source (compress, predictor, tiled,
        blockxsize, blockysize, interleave), reused by :func:`geoaug.write`; also
        ``scales``/``offsets`` (per band, when the source has them) and
        ``lossy`` (the source codec changes values: :func:`geoaug.io.lossless_note`).
    gcps : tuple of rasterio.control.GroundControlPoint
        Ground control points (pixel ``col``/``row`` on this raster's grid, map
        ``x``/``y``/``z`` in ``crs``) of a raster georeferenced by GCPs; then
        ``transform`` is a pixel-space transform that is never written. Moved
        with every draw (:mod:`geoaug.georef`).
    rpcs : rasterio.rpc.RPC or None
        Rational polynomial coefficients of a satellite-geometry raster, kept
        exact through axis-aligned draws (:mod:`geoaug.georef`).
    colorinterp : tuple of str
        Colour interpretation of each data band as GDAL names it (``"red"``,
        ``"gray"``, ``"undefined"``...); empty when unknown.
    mask_kind : {"nodata", "dataset", "alpha"} or None
        How the source stored validity, so that :func:`geoaug.write` stores it
        the same way: a nodata value, a dataset mask (internal or ``.msk``), or an
        alpha band (read as the mask, never as data). None: choose on write.

    Examples
    --------
    >>> import numpy as np
    >>> r = GeoRaster.from_array(np.zeros((4, 8, 8), dtype="uint16"))
    >>> r.count, r.height, r.width, r.dtype.name
    (4, 8, 8, 'uint16')
    >>> r.mask.all()
    np.True_
    """

    data: np.ndarray
    mask: np.ndarray
    transform: Affine = field(default_factory=Affine.identity)
    crs: Any = None
    nodata: float | None = None
    band_names: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    band_tags: tuple[dict[str, str], ...] = ()
    profile: dict[str, Any] = field(default_factory=dict)
    gcps: tuple[Any, ...] = ()
    rpcs: Any = None
    colorinterp: tuple[str, ...] = ()
    mask_kind: str | None = None

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, np.ndarray) or data.ndim != 3:
            shape = getattr(data, "shape", None)
            raise ParameterError(f"GeoRaster data must be an ndarray (bands, rows, cols), got shape {shape}")
        count = data.shape[0]
        if count == 0:
            raise ParameterError("GeoRaster data has zero bands")
        if data.dtype not in _SUPPORTED:
            check_dtype(data.dtype)
        mask = self.mask
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_:
                mask = mask.astype(bool)
            object.__setattr__(self, "mask", mask)
        if mask.shape != data.shape[1:] and mask.shape != data.shape:
            raise ParameterError(
                f"GeoRaster mask shape {mask.shape} matches neither (rows, cols) {data.shape[1:]} "
                f"nor (bands, rows, cols) {data.shape}"
            )
        if not isinstance(self.transform, Affine):
            object.__setattr__(self, "transform", Affine(*tuple(self.transform)[:6]))
        names = self.band_names
        if not names:
            object.__setattr__(self, "band_names", _default_names(count))
        elif not (type(names) is tuple and len(names) == count and all(type(n) is str for n in names)):
            names = tuple(names)
            if len(names) != count:
                raise ParameterError(f"{len(names)} band names for {count} bands")
            object.__setattr__(self, "band_names", tuple(str(n) for n in names))
        btags = self.band_tags
        if not btags:
            object.__setattr__(self, "band_tags", tuple({} for _ in range(count)))
        else:  # copied, as tags and profile below: replace() must not share dicts with the raster it copies
            btags = tuple(dict(t) for t in btags)
            if len(btags) != count:
                raise ParameterError(f"{len(btags)} band tag dicts for {count} bands")
            object.__setattr__(self, "band_tags", btags)
        object.__setattr__(self, "tags", dict(self.tags))
        object.__setattr__(self, "profile", dict(self.profile))
        if self.nodata is not None and type(self.nodata) is not float:
            object.__setattr__(self, "nodata", float(self.nodata))
        object.__setattr__(self, "gcps", tuple(self.gcps))
        if self.colorinterp and len(self.colorinterp) != data.shape[0]:
            object.__setattr__(self, "colorinterp", ())
        if self.mask_kind not in (None, "nodata", "dataset", "alpha"):
            raise ParameterError(f"mask_kind must be 'nodata', 'dataset', 'alpha' or None, got {self.mask_kind!r}")

    def warped(self, data: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> GeoRaster:
        """A raster of new pixels on the output grid of ``matrix``, its georeferencing moved along.

        The geotransform follows :func:`geoaug.geometry.output_transform`; GCPs
        and RPCs follow :mod:`geoaug.georef` (which refuses a rotation of an RPC
        raster).

        Parameters
        ----------
        data, mask : ndarray
            The output pixels and validity.
        matrix : ndarray (3, 3)
            Output pixel -> input pixel of the draw that made them.
        """
        transform = geometry.output_transform(self.transform, matrix)
        if not self.gcps and self.rpcs is None:
            return self.evolve(data, mask, transform)
        changes: dict[str, Any] = {"transform": transform}
        if self.gcps:
            changes["gcps"] = georef.move_gcps(self.gcps, matrix)
        if self.rpcs is not None:
            changes["rpcs"] = georef.move_rpcs(self.rpcs, matrix)
        return self.replace(data=data, mask=mask, **changes)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        *,
        mask: np.ndarray | None = None,
        transform: Affine | None = None,
        crs: Any = None,
        nodata: float | None = None,
        band_names: tuple[str, ...] | list[str] | None = None,
        tags: dict[str, str] | None = None,
        lazy_mask: bool = False,
    ) -> GeoRaster:
        """Wrap a plain array: identity transform and no CRS unless given.

        Parameters
        ----------
        data : ndarray, shape (bands, rows, cols) or (rows, cols)
            A 2-D array becomes one band.
        mask : ndarray of bool, optional
            ``True`` = valid. By default a pixel is invalid where it is NaN or
            equals ``nodata`` (per band), valid elsewhere; when no pixel is
            invalid the mask is :func:`all_valid_mask` (no memory, and
            operations skip mask work). Integer data without ``nodata`` is
            not scanned at all.
        transform, crs, nodata, band_names, tags
            As for :class:`GeoRaster`.
        lazy_mask : bool
            For float data with no ``nodata`` and no ``mask`` (validity is where
            the values are not NaN): find the mask on first use of ``.mask``
            instead of now. Operations that move values without changing which
            are NaN (exact flips, quarter turns, transposes and crops; the
            linear spectral transforms such as Normalize) then never scan, and
            their output is lazy too (:attr:`lazy_mask`). Other dtypes, or a
            ``nodata``, ignore it. Do not change the array while the raster is
            in use. Transforms called on plain arrays wrap them this way.
        """
        arr = data if type(data) is np.ndarray else np.asarray(data)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ParameterError(f"expected an array (bands, rows, cols) or (rows, cols), got shape {arr.shape}")
        if arr.dtype not in _SUPPORTED:
            check_dtype(arr.dtype)
        count = arr.shape[0]
        if mask is None and transform is None and crs is None and not band_names and not tags and count:
            # the common case, a bare array: everything is known valid, skip the general validation
            new = object.__new__(cls)
            fields = new.__dict__
            fields["data"] = arr
            if not (lazy_mask and nodata is None and arr.dtype.kind == "f"):
                fields["mask"] = _valid_or_all(arr, nodata)  # else found on first use (__getattr__)
            fields["transform"] = _IDENTITY
            fields["crs"] = None
            fields["nodata"] = None if nodata is None else float(nodata)
            fields["band_names"] = _default_names(count)
            fields["tags"] = {}
            fields["profile"] = {}  # band_tags: made on first read (_OnFirstRead)
            return new
        if mask is None:
            mask = _valid_or_all(arr, nodata)
        return cls(
            data=arr,
            mask=mask,
            transform=transform if transform is not None else Affine.identity(),
            crs=crs,
            nodata=nodata,
            band_names=tuple(band_names or ()),
            tags=dict(tags or {}),
        )

    @property
    def lazy_mask(self) -> bool:
        """True while the mask is defined by the values (NaN = invalid) and not yet computed.

        See ``lazy_mask`` of :meth:`from_array`. Reading :attr:`mask` computes it
        (one scan) and makes this False.
        """
        return "mask" not in self.__dict__

    def evolve_values(self, data: np.ndarray, transform: Affine | None = None) -> GeoRaster:
        """Like :meth:`evolve` for an operation that kept every value's NaN-ness, on a :attr:`lazy_mask` raster.

        The result's mask is again found from its values on first use. A raster
        whose mask is known, or float ``data`` that does not hold, gets its mask
        now (from ``data``).

        Parameters
        ----------
        data : ndarray (bands, rows, cols)
            New pixels, float, NaN exactly where the pixels they came from were NaN.
        transform : affine.Affine, optional
            New georeferencing (default: this raster's).
        """
        if not self.lazy_mask or data.dtype.kind != "f" or self.nodata is not None:
            return self.evolve(data, _valid_or_all(data, self.nodata), transform)
        return self._copy_with(data, None, transform)

    def evolve(self, data: np.ndarray, mask: np.ndarray, transform: Affine | None = None) -> GeoRaster:
        """A raster with new pixels (and transform) and this one's metadata, without re-validating it.

        For operations that produced ``data`` and ``mask`` themselves: the
        shapes must agree (``data`` 3-D of a supported dtype, ``mask`` boolean
        ``(rows, cols)`` or ``(bands, rows, cols)``); only that is checked.
        Band names and tags carry over (copied), as with :meth:`replace`.

        Parameters
        ----------
        data : ndarray (bands, rows, cols)
            New pixels; the band count must be this raster's.
        mask : ndarray of bool
            Their validity.
        transform : affine.Affine, optional
            New georeferencing (default: this raster's).

        Returns
        -------
        GeoRaster
        """
        if (data.ndim != 3 or data.shape[0] != self.data.shape[0] or mask.dtype.kind != "b"
                or (mask.shape != data.shape[1:] and mask.shape != data.shape)):
            return self.replace(data=data, mask=mask, transform=self.transform if transform is None else transform)
        return self._copy_with(data, mask, transform)

    def _copy_with(self, data: np.ndarray, mask: np.ndarray | None, transform: Affine | None) -> GeoRaster:
        # this raster's fields with new pixels, mask (None: found from the values on first read) and transform;
        # the dicts copied, nothing validated (evolve and evolve_values check what they need)
        new = object.__new__(GeoRaster)
        fields = new.__dict__
        fields.update(self.__dict__)
        fields["data"] = data
        if mask is None:
            fields.pop("mask", None)
        else:
            fields["mask"] = mask
        if transform is not None:
            fields["transform"] = transform
        fields["tags"] = dict(self.tags)
        fields["profile"] = dict(self.profile)
        btags = fields.get("band_tags")
        if btags is not None:  # else never read: the new raster makes its own empty ones on first read
            fields["band_tags"] = tuple(map(dict, btags))
        return new

    @classmethod
    def proxy(cls, count: int, height: int, width: int, dtype: Any) -> GeoRaster:
        """A zero-memory raster of a shape and dtype, for drawing parameters without pixels.

        Pipelines sample on proxies (a draw depends only on the shape and
        dtype, never on pixel values), so a batch job can re-derive a record
        without reading the file.

        Parameters
        ----------
        count, height, width : int
            Bands, rows, columns.
        dtype : dtype-like
            The pixel dtype.

        Returns
        -------
        GeoRaster
        """
        count, height, width = int(count), int(height), int(width)
        data = _proxy_data(count, height, width, np.dtype(dtype))
        if cls is not GeoRaster or not count:
            return cls(data=data, mask=all_valid_mask((height, width)))
        # what the constructor makes of these two fields, without its checks (pipelines draw on a proxy per step)
        new = object.__new__(cls)
        new.__dict__.update(
            data=data, mask=all_valid_mask((height, width)), transform=_IDENTITY, crs=None, nodata=None,
            band_names=_default_names(count), tags={}, profile={}, gcps=(),  # band_tags: on first read
        )
        return new

    def replace(self, **changes: Any) -> GeoRaster:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ properties
    @property
    def count(self) -> int:
        """Number of bands."""
        return self.data.shape[0]

    @property
    def height(self) -> int:
        """Number of rows."""
        return self.data.shape[1]

    @property
    def width(self) -> int:
        """Number of columns."""
        return self.data.shape[2]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(bands, rows, cols)``."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype."""
        return self.data.dtype

    @property
    def band_mask(self) -> np.ndarray:
        """The mask broadcast to ``(bands, rows, cols)`` (a read-only view)."""
        return np.broadcast_to(self.mask, self.data.shape)

    @property
    def pixel_mask(self) -> np.ndarray:
        """``(rows, cols)``: True where the pixel is valid in every band.

        A mask of one plane (2-D, or 3-D with one plane) is returned itself, as a view, not a copy: read it,
        don't write it."""
        m = self.mask
        if m.ndim == 2:
            return m
        return m[0] if m.shape[0] == 1 else m.all(axis=0)

    @property
    def valid_fraction(self) -> float:
        """Share of valid values, 0..1."""
        return float(self.mask.mean()) if self.mask.size else 0.0

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units (lengths of the transform's columns)."""
        t = self.transform
        return (math.hypot(t.a, t.d), math.hypot(t.b, t.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` of the four corners in CRS units."""
        t = self.transform
        xs, ys = zip(*(t @ c for c in ((0, 0), (self.width, 0), (0, self.height), (self.width, self.height))))
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def invalid_value(self) -> float:
        """What invalid pixels hold in memory: ``nodata`` (a NaN nodata only in float rasters), else 0.

        Every kernel and transform fills the pixels it invalidates with it.
        """
        nd = self.nodata
        return 0.0 if nd is None or (math.isnan(nd) and self.dtype.kind != "f") else nd

    def write_nodata(self) -> float | None:
        """The nodata value a file of this raster gets (the write rule).

        Its own ``nodata`` when set or when every pixel is valid; otherwise
        none when the mask is stored as the source stored it (an alpha band, a
        dataset mask) or as an internal mask (integers, one mask for all
        bands); NaN for floats; the dtype's maximum (unsigned) or minimum
        (signed) for integers with per-band masks.

        Returns
        -------
        float or None
        """
        if self.nodata is not None or is_all_valid_mask(self.mask) or self.mask.all():
            return self.nodata
        if self.mask_kind in ("alpha", "dataset") and self.mask.ndim == 2:
            return None
        if self.dtype.kind == "f":
            return math.nan
        if self.mask.ndim == 2:
            return None
        info = np.iinfo(self.dtype)
        return float(info.max if self.dtype.kind == "u" else info.min)

    def valid_values(self, band: int) -> np.ndarray:
        """The values of band ``band`` (0-based) at its valid pixels, as a 1-D array.

        Parameters
        ----------
        band : int
            0-based band index.

        Returns
        -------
        ndarray
        """
        m = self.mask if self.mask.ndim == 2 else self.mask[band]
        return self.data[band][m]

    def filled_with(self, value: float, dtype: Any = None) -> np.ndarray:
        """The pixels with ``value`` under every invalid one (``(bands, rows, cols)``, a new array).

        For models that take plain arrays: the mask goes its own way (a tensor,
        a loss weight) and invalid pixels hold a harmless constant.

        Parameters
        ----------
        value : float
            What invalid pixels become.
        dtype : dtype-like, optional
            The result's dtype (default: the raster's).

        Returns
        -------
        ndarray
        """
        out = np.where(self.band_mask, self.data, value)
        return out.astype(self.dtype if dtype is None else dtype, copy=False)

    # ------------------------------------------------------------------ conversions
    def filled(self) -> np.ndarray:
        """Pixels ready to be written: invalid pixels hold ``nodata``.

        Valid pixels equal to ``nodata`` are moved to
        :func:`nodata_safe_value`, so that reading the file back never turns
        a valid pixel into nodata. With ``nodata=None`` the data is returned
        unchanged (the mask must then be stored another way).
        """
        return self.filled_rows(0, self.height)

    def filled_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of :meth:`filled` (all bands), so large rasters can be written in strips."""
        band = self.data[:, start:stop]
        nd = self.nodata
        if nd is None:
            return band
        valid = np.broadcast_to(self.mask[..., start:stop, :], band.shape)
        out = band.copy()
        if not math.isnan(nd):
            clash = valid & (out == out.dtype.type(nd))
            if clash.any():
                out[clash] = nodata_safe_value(nd, out.dtype)
        out[~valid] = out.dtype.type(nd)
        return out

    def select(self, indexes: Sequence[int]) -> GeoRaster:
        """The bands ``indexes`` (0-based, in that order) as a raster of their own.

        Their names, tags, colour interpretation, masks and scales/offsets go
        with them; georeferencing and nodata are shared.

        Examples
        --------
        >>> import numpy as np
        >>> r = GeoRaster.from_array(np.zeros((3, 4, 4), "uint8"), band_names=["B02", "B03", "B04"])
        >>> r.select([2, 0]).band_names
        ('B04', 'B02')
        """
        idx = [int(i) for i in indexes]
        for i in idx:
            if not -self.count <= i < self.count:
                raise ParameterError(f"band index {i} out of range for {self.count} bands")
        profile = dict(self.profile)
        for key in ("scales", "offsets"):
            if profile.get(key) and len(profile[key]) == self.count:
                profile[key] = [profile[key][i] for i in idx]
        return self.replace(
            data=self.data[idx], mask=self.mask[idx] if self.mask.ndim == 3 else self.mask,
            band_names=tuple(self.band_names[i] for i in idx), band_tags=tuple(self.band_tags[i] for i in idx),
            colorinterp=tuple(self.colorinterp[i] for i in idx) if self.colorinterp else (), profile=profile,
        ).collapse_mask()

    def collapse_mask(self) -> GeoRaster:
        """Return a raster whose per-band mask is ``(rows, cols)`` when all bands agree."""
        if self.mask.ndim == 3:
            mask = collapse_mask(self.mask)
            if mask.ndim == 2:
                return self.replace(mask=mask)
        return self

    def __repr__(self) -> str:
        crs = self.crs.to_string() if self.crs is not None else None
        return (
            f"GeoRaster(bands={self.count}, rows={self.height}, cols={self.width}, "
            f"dtype={self.dtype.name}, crs={crs}, nodata={self.nodata}, "
            f"valid={self.valid_fraction:.3f})"
        )


def band_indexes(spec: Any, names: Sequence[str], where: str = "bands") -> list[int]:
    """1-based band indexes from a band spec: ``"4,3,2"``, band names, ints, or a mix.

    The one band-spec parser (``geoaug.read(bands=...)``, ``geoaug preview --bands``).

    Parameters
    ----------
    spec : str, int or sequence of int/str
        Comma-separated text, one band, or a sequence; numbers are 1-based
        (rasterio's convention), text that is not a number is a band name.
    names : sequence of str
        The raster's band names (its band count is their number).
    where : str
        What to name in errors (a file path).

    Returns
    -------
    list of int

    Raises
    ------
    ParameterError
        An unknown name or an index out of range.
    """
    items = [s.strip() for s in spec.split(",") if s.strip()] if isinstance(spec, str) else (
        [spec] if isinstance(spec, (int, np.integer)) else list(spec))
    out = []
    for it in items:
        if isinstance(it, str) and it in names:
            out.append(list(names).index(it) + 1)
            continue
        try:
            i = int(it)
        except (TypeError, ValueError):
            raise ParameterError(f"{where}: no band named {it!r} (bands: {', '.join(names)})") from None
        if not 1 <= i <= len(names):
            raise ParameterError(f"{where}: band {i} out of range 1..{len(names)}")
        out.append(i)
    return out


class _OnFirstRead:
    """A GeoRaster field an instance may not hold yet: made from its other fields on first read and stored
    in the instance, which then answers every later read itself.

    Two fields use it: ``mask`` of ``from_array(..., lazy_mask=True)`` (found from the values), and
    ``band_tags`` of a wrapped plain array and the rasters made from it (one empty dict per band: making
    and copying them cost about 1 µs per step of a 13-band call, for dicts nobody read). A non-data
    descriptor, like ``functools.cached_property``: unlike a ``__getattr__`` it costs nothing to the failed
    attribute probes (``getattr(x, "ndim", None)``) that the call path makes on rasters.

    Parameters
    ----------
    name : str
        The field.
    make : callable
        ``make(fields)`` -> the value, from the instance's ``__dict__``.
    on_class : object
        What reading the attribute on the class gives (the field's dataclass default, if it has one).
    """

    def __init__(self, name: str, make: Any, on_class: Any) -> None:
        self.name, self.make, self.on_class = name, make, on_class

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self if self.on_class is None else self.on_class
        fields = obj.__dict__
        value = self.make(fields)
        fields[self.name] = value
        return value


# set after the dataclass is made: mask stays a required field, band_tags keeps its default ()
GeoRaster.mask = _OnFirstRead(  # type: ignore[assignment]
    "mask", lambda f: _valid_or_all(f["data"], f.get("nodata")), None)
GeoRaster.band_tags = _OnFirstRead(  # type: ignore[assignment]
    "band_tags", lambda f: tuple([{} for _ in range(f["data"].shape[0])]), ())


def collapse_mask(valid: np.ndarray) -> np.ndarray:
    """A ``(bands, rows, cols)`` mask as ``(rows, cols)`` when every band agrees, else unchanged."""
    if valid.ndim == 3 and (valid == valid[:1]).all():
        return valid[0].copy()
    return valid


def _valid_or_all(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """:func:`valid_from_values`, or :func:`all_valid_mask` when nothing is invalid.

    Integers without a nodata value are not scanned at all.
    """
    if nodata is None and data.dtype.kind != "f":
        return all_valid_mask(data.shape[1:])  # integers without nodata: nothing to scan (the common case)
    has_nd = nodata is not None and not math.isnan(nodata) and fits_dtype(nodata, data.dtype)
    if data.dtype.kind == "f" and not has_nd and data.size and not np.isnan(data.min()):
        return all_valid_mask(data.shape[1:])  # min propagates NaN: one vectorised pass, no temporary array
    if data.dtype.kind == "f":
        invalid = np.isnan(data)
        if has_nd:
            invalid |= data == data.dtype.type(nodata)
    elif has_nd:
        invalid = data == data.dtype.type(nodata)
    else:
        return all_valid_mask(data.shape[1:])
    if not invalid.any():
        return all_valid_mask(data.shape[1:])
    return collapse_mask(~invalid)


def valid_from_values(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Validity from pixel values: NaN and ``nodata`` are invalid.

    Returns a ``(rows, cols)`` mask when all bands agree, else ``(bands, rows, cols)``.
    """
    valid = np.ones(data.shape, dtype=bool)
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    if nodata is not None and not math.isnan(nodata) and fits_dtype(nodata, data.dtype):
        valid &= data != data.dtype.type(nodata)
    return collapse_mask(valid)


def saturate(values: Any, dtype: Any) -> np.ndarray:
    """``values`` in ``dtype``, the way every geoaug output is stored: integers rounded half to even and
    saturated to the dtype's range, floats clipped to its finite range (NaN stays NaN).

    >>> saturate(np.array([-3.5, 2.5, 70000.0]), np.dtype("uint16")).tolist()
    [0, 2, 65535]
    """
    dt = np.dtype(dtype)
    v = np.asarray(values)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.clip(np.rint(v), info.min, info.max).astype(dt)
    if dt.kind == "f":
        big = np.finfo(dt).max
        return np.clip(v, -big, big).astype(dt)
    return v.astype(dt)


def fits_dtype(value: float, dtype: np.dtype) -> bool:
    """True when ``value`` is exactly representable in ``dtype`` (any number fits a float dtype)."""
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return float(value).is_integer() and info.min <= value <= info.max
    return True
