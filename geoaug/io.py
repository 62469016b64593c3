"""GeoTIFF in and out: :func:`read`, :func:`write` (atomic) and :func:`read_stack`.

This is the only module that talks to rasterio/GDAL for files. Every GDAL or
rasterio failure is turned into a :class:`~geoaug.errors.GeoAugError` subclass
whose message names the file and the problem.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.warp
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from . import georef
from .errors import (
    GeoAugError,
    ParameterError,
    RasterNotFoundError,
    RasterReadError,
    RasterWriteError,
    StackMismatchError,
    UnsupportedDtypeError,
)
from .raster import GeoRaster, band_indexes, check_dtype, fits_dtype, saturate, valid_from_values

__all__ = ["MAX_READ_BYTES", "find_rasters", "lossless_note", "read", "read_header", "read_stack", "stack_grid",
           "stack_header", "to_grid", "write"]

#: Largest uncompressed size :func:`read` will allocate in one call (bytes).
#: A corrupt header can claim absurd sizes; bigger reads must use ``window=``.
MAX_READ_BYTES = 8 * 1024**3

# GDAL's block cache: a whole raster is read or written once, so a large cache only adds memory
_CACHE_MB = 64

# GTiff creation options carried from a source file to its outputs.
_PROFILE_KEYS = ("compress", "predictor", "tiled", "blockxsize", "blockysize", "interleave", "zlevel")


#: sidecar files GDAL reads beside a raster (masks, PAM metadata: nodata, scales, GCPs...)
_SIDECARS = (".msk", ".aux.xml", ".MSK", ".AUX.XML")


@contextlib.contextmanager
def _gdal_quiet(path: str | None = None) -> Iterator[None]:
    """rasterio environment for reads: no directory scans (unless ``path`` has sidecars), no georef warnings."""
    readdir = "EMPTY_DIR"
    if path is not None and any(os.path.exists(path + ext) for ext in _SIDECARS):
        readdir = "FALSE"  # GDAL finds .msk / .aux.xml sidecars through the folder listing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        # GDAL_NUM_THREADS stays 1: GDAL's decoder thread pool does not survive a fork (a forked
        # DataLoader worker's first multi-block read then waits forever)
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN=readdir, CPL_LOG="/dev/null", GDAL_CACHEMAX=_CACHE_MB):
            yield



def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_input_path(path: str) -> None:
    if not os.path.exists(path):
        raise RasterNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise RasterReadError(f"{path}: is a folder, not a raster file")


def read(
    path: str | os.PathLike[str],
    bands: Sequence[int | str] | int | str | None = None,
    window: Window | tuple[tuple[int, int], tuple[int, int]] | None = None,
    nodata: float | None = None,
) -> GeoRaster:
    """Read a raster file into a :class:`~geoaug.GeoRaster`.

    Parameters
    ----------
    path : str or path-like
        A GeoTIFF (or any single-file raster GDAL reads). Opened read-only.
    bands : int, str or sequence of them, optional
        1-based band indexes (rasterio's convention) or band descriptions.
        Default: all bands.
    window : rasterio.windows.Window or ((row_start, row_stop), (col_start, col_stop)), optional
        A pixel window; the returned transform is that of the window.
    nodata : float, optional
        Override the file's nodata: pixels equal to it (and NaN in float
        files) become invalid. Use it for files whose zero collar has no
        nodata tag.

    Returns
    -------
    GeoRaster
        Validity comes from, in order: ``nodata=`` when given; otherwise
        GDAL's masks (the nodata tag, NaN nodata, internal or sidecar
        per-dataset masks, alpha bands). NaN is always invalid.

    Raises
    ------
    RasterNotFoundError
        The file does not exist.
    RasterReadError
        Not a raster, truncated or corrupt, zero bands, out-of-range window.
    UnsupportedDtypeError
        Complex or other pixel dtypes geoaug does not handle.
    """
    path = os.fspath(path)
    _check_input_path(path)
    try:
        if window is not None:  # windows of one file come in series (chips): keep it open, and its blocks cached
            with _gdal_quiet(path):
                return _read_open(_open_for_windows(path), path, bands, window, nodata)
        with _gdal_quiet(path), rasterio.open(path, "r") as src:
            return _read_open(src, path, bands, window, nodata)
    except GeoAugError:
        raise
    except MemoryError:
        raise RasterReadError(f"{path}: not enough memory to read it; use window=") from None
    except Exception as exc:  # rasterio/GDAL errors of every kind
        raise RasterReadError(f"{path}: cannot read raster: {_short(exc)}") from None


class _OpenFiles(threading.local):
    """Datasets kept open for windowed reads, per thread (a rasterio dataset is not thread-safe)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.files: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()


_open_files = _OpenFiles()

#: files kept open per thread for windowed reads (GDAL's block cache, 64 MB, is shared by all of them)
KEEP_OPEN = 8


def _open_for_windows(path: str) -> Any:
    """``path`` opened for reading, kept open for the next window (reopened when the file changed).

    Handles belong to the process and thread that opened them: a forked
    child (a DataLoader or pool worker) opens its own and leaves its copy of
    the parent's alone.
    """
    of = _open_files
    if of.pid != os.getpid():
        of.files, of.pid = OrderedDict(), os.getpid()  # the parent's handles: not ours to use or close
    st = os.stat(path)
    sig = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = of.files.get(path)
    if hit is not None and hit[0] == sig and not hit[1].closed:
        of.files.move_to_end(path)
        return hit[1]
    if hit is not None:
        hit[1].close()
    src = rasterio.open(path, "r")
    of.files[path] = (sig, src)
    while len(of.files) > KEEP_OPEN:
        _, (_, old) = of.files.popitem(last=False)
        old.close()
    return src


def close_files() -> None:
    """Close the files this thread keeps open for windowed reads."""
    while _open_files.files:
        _, (_, src) = _open_files.files.popitem()
        src.close()


def find_rasters(root: str | os.PathLike[str], patterns: Sequence[str] = ("*.tif", "*.tiff")) -> list[Path]:
    """The files under ``root`` (recursive) whose name matches a pattern, case-insensitively, sorted.

    The one folder walker of geoaug (the batch job, the commands, the loaders).
    Hidden files (``.name``) are left out; ``root`` itself is returned when it
    is a file. Matching ignores case, so ``*.tif`` finds Landsat's ``*.TIF``.

    Parameters
    ----------
    root : path-like
        A folder or a file.
    patterns : sequence of str
        ``fnmatch`` patterns of file names (``*_B04.tif``), or of paths
        relative to ``root`` when they contain ``/``.

    Returns
    -------
    list of pathlib.Path
    """
    import fnmatch

    root = Path(root)
    if root.is_file():
        return [root]
    pats = [p.lower() for p in patterns]
    found = []
    for p in root.rglob("*"):
        if p.name.startswith(".") or not p.is_file():
            continue
        name, rel = p.name.lower(), p.relative_to(root).as_posix().lower()
        if any(fnmatch.fnmatchcase(rel if "/" in pat else name, pat) for pat in pats):
            found.append(p)
    return sorted(found)


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a raster file holds, without reading pixels.

    Parameters
    ----------
    path : str or path-like
        A raster file.

    Returns
    -------
    dict
        ``height``, ``width``, ``count``, ``dtype`` (of band 1), ``transform``,
        ``crs``, ``bounds``, ``descriptions``, ``nodata``.

    Raises
    ------
    RasterNotFoundError, RasterReadError
        A missing file, a folder, zero bands, or anything GDAL cannot open.
    """
    path = os.fspath(path)
    _check_input_path(path)
    try:
        with _gdal_quiet(path), rasterio.open(path) as src:
            if src.count == 0:
                raise RasterReadError(f"{path}: raster has zero bands")
            with warnings.catch_warnings():  # rasterio's bounds use affine's `*` (a pending deprecation)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                bounds = tuple(src.bounds)
            return {"height": src.height, "width": src.width, "count": src.count, "dtype": src.dtypes[0],
                    "transform": src.transform, "crs": src.crs, "bounds": bounds,
                    "descriptions": tuple(src.descriptions), "nodata": src.nodata}
    except GeoAugError:
        raise
    except Exception as exc:
        raise RasterReadError(f"{path}: cannot read raster: {_short(exc)}") from None


def _band_indexes(src: Any, path: str, bands: Sequence[int | str] | int | str | None) -> list[int]:
    if bands is None:
        return list(range(1, src.count + 1))
    names = [d or f"band_{i}" for i, d in enumerate(src.descriptions, start=1)]
    try:
        return band_indexes([bands] if isinstance(bands, str) else bands, names, path)
    except ParameterError as exc:
        raise RasterReadError(str(exc)) from None


def _to_window(src: Any, path: str, window: Any) -> Window | None:
    if window is None:
        return None
    win = window if isinstance(window, Window) else Window.from_slices(*window)
    inside = win.col_off >= 0 and win.row_off >= 0
    inside = inside and win.col_off + win.width <= src.width and win.row_off + win.height <= src.height
    if not inside:
        raise RasterReadError(f"{path}: window {win} lies outside the raster ({src.height} x {src.width})")
    if win.width <= 0 or win.height <= 0:
        raise RasterReadError(f"{path}: window {win} is empty")
    return win


def _source_profile(src: Any, indexes: list[int] | None = None) -> dict[str, Any]:
    prof = src.profile
    out = {k: prof[k] for k in _PROFILE_KEYS if k in prof and prof[k] is not None}
    ims = src.tags(ns="IMAGE_STRUCTURE")
    if "PREDICTOR" in ims:
        out["predictor"] = int(ims["PREDICTOR"])
    if isinstance(out.get("compress"), str):
        out["compress"] = out["compress"].lower()
    if any(v != 1.0 for v in src.scales) or any(v != 0.0 for v in src.offsets):
        idx = indexes or list(range(1, src.count + 1))
        out["scales"] = [src.scales[i - 1] for i in idx]  # written back per band
        out["offsets"] = [src.offsets[i - 1] for i in idx]
    if out.get("compress") and _is_lossy(out["compress"], ims):
        out["lossy"] = True  # not a creation option: write() replaces the codec unless asked to keep it
    return out


#: codecs that change pixel values (JPEG, WEBP unless lossless, JPEG XL unless lossless, LERC with an error)
def _is_lossy(compress: str, ims: dict[str, str]) -> bool:
    c = compress.lower()
    if c == "jpeg":
        return True
    if c == "webp":
        return ims.get("WEBP_LOSSLESS", "").upper() not in ("YES", "TRUE", "ON")
    if c == "jxl":
        return ims.get("JXL_LOSSLESS", "YES").upper() in ("NO", "FALSE", "OFF")
    if c.startswith("lerc"):
        return float(ims.get("MAX_Z_ERROR", ims.get("LERC_MAX_Z_ERROR", "0")) or 0) > 0
    return False


def lossless_note(raster: GeoRaster) -> str | None:
    """Why :func:`write` will not keep the source's codec (a lossy one), or None.

    Parameters
    ----------
    raster : GeoRaster
        A raster read from a file.

    Returns
    -------
    str or None
        e.g. ``"jpeg (lossy) replaced by deflate"``.
    """
    if raster.profile.get("lossy"):
        return f"{raster.profile.get('compress')} (lossy) replaced by deflate"
    return None


def _read_open(src: Any, path: str, bands: Any, window: Any, nodata: float | None) -> GeoRaster:
    if src.count == 0:
        subs = list(getattr(src, "subdatasets", []) or [])
        hint = f" (it holds subdatasets, e.g. {subs[0]}; read one of those)" if subs else ""
        raise RasterReadError(f"{path}: raster has zero bands{hint}")
    alpha = [i for i in range(1, src.count + 1) if src.colorinterp[i - 1] == ColorInterp.alpha]
    if bands is None and alpha and len(alpha) < src.count:
        indexes = [i for i in range(1, src.count + 1) if i not in alpha]  # alpha is the mask, not data
    else:
        indexes = _band_indexes(src, path, bands)
    dtypes = {src.dtypes[i - 1] for i in indexes}
    if len(dtypes) > 1:
        raise UnsupportedDtypeError(f"{path}: bands have different dtypes {sorted(dtypes)}; read them separately")
    dtype = check_dtype(dtypes.pop(), where=path)
    win = _to_window(src, path, window)
    h, w = (src.height, src.width) if win is None else (int(win.height), int(win.width))
    nbytes = len(indexes) * h * w * dtype.itemsize
    if nbytes > MAX_READ_BYTES:
        raise RasterReadError(
            f"{path}: {len(indexes)} x {h} x {w} {dtype.name} is {nbytes / 1e9:.1f} GB, more than "
            f"geoaug reads at once; read a window"
        )
    data = src.read(indexes, window=win)
    if nodata is not None:
        nd: float | None = float(nodata)
        mask = valid_from_values(data, nd)
    else:
        nds = [src.nodatavals[i - 1] for i in indexes]
        nd = next((float(v) for v in nds if v is not None), None)
        mask = _read_validity(src, indexes, win, data)
    transform = src.transform if win is None else src.window_transform(win)
    names = tuple(src.descriptions[i - 1] or f"band_{i}" for i in indexes)
    gcps, crs, rpcs = _ground_model(src, path, win)
    return GeoRaster(
        data=data,
        mask=mask,
        transform=transform,
        crs=crs,
        nodata=nd,
        band_names=names,
        tags=src.tags(),
        band_tags=tuple(src.tags(i) for i in indexes),
        profile=_source_profile(src, indexes),
        gcps=gcps,
        rpcs=rpcs,
        colorinterp=tuple(src.colorinterp[i - 1].name for i in indexes),
        mask_kind=None if nodata is not None else _mask_kind(src, indexes),
    )


def _ground_model(src: Any, path: str, win: Window | None) -> tuple[tuple[Any, ...], Any, Any]:
    """GCPs (on the window's grid), the CRS to keep, RPCs (for the window): never a CRS with a pixel transform."""
    shift = np.eye(3)
    if win is not None:
        shift[0, 2], shift[1, 2] = win.col_off, win.row_off
    gcps, gcp_crs = src.gcps
    has_transform = not src.transform.is_identity
    if gcps and not has_transform:
        return georef.move_gcps(tuple(gcps), shift), gcp_crs, None
    rpcs = src.rpcs
    if rpcs is not None and not has_transform:
        return (), None, georef.move_rpcs(rpcs, shift)
    return (), src.crs, rpcs


def _mask_kind(src: Any, indexes: list[int]) -> str | None:
    """How the file stores validity: "alpha", "dataset" (internal/.msk mask), "nodata", or None (all valid)."""
    flags = [src.mask_flag_enums[i - 1] for i in indexes]
    if any(MaskFlags.alpha in f for f in flags):
        return "alpha"
    if any(MaskFlags.per_dataset in f for f in flags):
        return "dataset"
    if any(MaskFlags.nodata in f for f in flags):
        return "nodata"
    return None


def _not_nodata(band: np.ndarray, nodata: float) -> np.ndarray:
    """GDAL's nodata test on pixels already read (floats: equal within GDAL's 2-ULP tolerance)."""
    if math.isnan(nodata):
        return ~np.isnan(band)
    if band.dtype.kind == "f":
        nd = band.dtype.type(nodata)
        eps = np.finfo(band.dtype).eps
        with np.errstate(over="ignore", invalid="ignore"):
            close = (band == nd) | (np.abs(band - nd) < eps * np.abs(band + nd) * 2)
        return ~close
    return band != band.dtype.type(nodata) if fits_dtype(nodata, band.dtype) else np.ones(band.shape, bool)


def _read_validity(src: Any, indexes: list[int], win: Window | None, data: np.ndarray) -> np.ndarray:
    """GDAL's masks (and NaN) as one (rows, cols) mask when the bands agree, else per band.

    Nodata masks are computed from the pixels already read (GDAL would read and
    decode every band again); per-dataset and alpha masks are read from the file.
    """
    first = None
    per_band = None
    dataset_mask = None
    for k, i in enumerate(indexes):
        flags = src.mask_flag_enums[i - 1]
        if MaskFlags.all_valid in flags:
            v = np.ones(data.shape[1:], dtype=bool)
        elif MaskFlags.nodata in flags and MaskFlags.per_dataset not in flags:
            v = _not_nodata(data[k], src.nodatavals[i - 1])
        elif MaskFlags.per_dataset in flags and MaskFlags.alpha not in flags:
            if dataset_mask is None:
                dataset_mask = src.read_masks(i, window=win) > 0
            v = dataset_mask.copy()
        else:
            v = src.read_masks(i, window=win) > 0
        if data.dtype.kind == "f":
            v &= ~np.isnan(data[k])
        if first is None:
            first = v
        elif per_band is None and not np.array_equal(v, first):
            per_band = np.empty(data.shape, dtype=bool)
            per_band[:k] = first
        if per_band is not None:
            per_band[k] = v
    assert first is not None
    return per_band if per_band is not None else first


# ---------------------------------------------------------------------------- write


class _FilledRows:
    """The pixels as written (nodata filled in), produced a strip of rows at a time to bound memory."""

    def __init__(self, raster: GeoRaster) -> None:
        self.raster = raster
        self.shape = raster.shape

    def rows(self, start: int, stop: int) -> np.ndarray:
        return self.raster.filled_rows(start, stop)


def _write_pixels(dst: Any, data: _FilledRows) -> None:
    """Write every band in strips of whole blocks (all bands at once: right for pixel interleave)."""
    bands, height, width = data.shape
    block = max(int(dst.block_shapes[0][0]), 1)
    row_bytes = bands * width * np.dtype(dst.dtypes[0]).itemsize
    step = block * max(1, (32 * 1024**2) // (row_bytes * block))  # strips of whole blocks, about 32 MB
    for start in range(0, height, step):
        stop = min(start + step, height)
        dst.write(data.rows(start, stop), indexes=list(range(1, bands + 1)),
                  window=Window(0, start, data.shape[2], stop - start))


def _write_profile(raster: GeoRaster, nodata: float | None, overrides: dict[str, Any],
                   keep_lossy: bool = False) -> dict[str, Any]:
    ground_model = bool(raster.gcps) or raster.rpcs is not None
    prof: dict[str, Any] = {
        "driver": "GTiff",
        "dtype": raster.dtype.name,
        "count": raster.count + (raster.mask_kind == "alpha"),
        "height": raster.height,
        "width": raster.width,
        "nodata": nodata,
        "BIGTIFF": "IF_SAFER",
    }
    if not ground_model:  # GCPs and RPCs are written instead: never a CRS with a pixel-space transform
        prof.update(crs=raster.crs, transform=raster.transform)
    src = dict(raster.profile)
    src.pop("scales", None)
    src.pop("offsets", None)
    if src.pop("lossy", False) and not keep_lossy:
        src["compress"] = "deflate"
        src["predictor"] = 3 if raster.dtype.kind == "f" else 2
    if src.get("compress") == "jpeg" and (raster.dtype != np.uint8 or raster.count not in (1, 3)):
        src["compress"] = "deflate"  # JPEG holds 1 or 3 bands of uint8 only
    if raster.mask_kind == "alpha" and nodata is None and raster.mask.ndim == 2:
        src["alpha"] = "YES"  # TIFF ExtraSamples: the last band is an alpha band
        if raster.count == 3 and raster.dtype == np.uint8:
            src["photometric"] = "RGB"
    if src.get("tiled"):
        if src.get("blockxsize", 16) % 16 or src.get("blockysize", 16) % 16:
            src.pop("blockxsize", None)
            src.pop("blockysize", None)
    else:
        src.pop("blockxsize", None)  # strips span the whole width
        if "blockysize" in src:
            src["blockysize"] = min(int(src["blockysize"]), raster.height)
    if src.get("predictor") and not src.get("compress"):
        src.pop("predictor")
    if src.get("predictor") == 3 and raster.dtype.kind != "f":
        src["predictor"] = 2
    if src.get("predictor") == 2 and raster.dtype.kind == "f":
        src["predictor"] = 3
    prof.update(src)
    prof.update(overrides)
    return prof


def write(raster: GeoRaster, path: str | os.PathLike[str], *, keep_lossy: bool = False, **profile: Any) -> Path:
    """Write a raster as a GeoTIFF, atomically.

    The file is written to a temporary name in the destination folder and
    renamed over ``path`` only when complete, so a failure or an interrupted
    process never leaves a half-written ``path`` and an existing ``path``
    stays as it was until the rename.

    Parameters
    ----------
    raster : GeoRaster
        What to write. CRS, transform, nodata, dtype, band names (as band
        descriptions), dataset and per-band tags are kept, and the source's
        compression, predictor and tiling (``raster.profile``).
    path : str or path-like
        Destination. Its folder must exist.
    keep_lossy : bool
        Keep a lossy source codec (JPEG, lossy WEBP/JPEG XL, LERC with an
        error). By default it is replaced by DEFLATE (:func:`lossless_note`
        says so), so a write never changes values it did not mean to.
    **profile
        rasterio creation options that override the above (``compress="zstd"``...).

    Returns
    -------
    pathlib.Path
        The written path.

    Notes
    -----
    Invalid pixels are written as ``nodata``. A valid pixel equal to
    ``nodata`` is moved to :func:`~geoaug.raster.nodata_safe_value` (nodata + 1
    for integers, the next float up for floats) so it is never read back as
    nodata. Without a nodata value, invalid pixels are stored as NaN nodata
    for floats, as an internal GDAL mask for integers with one mask for all
    bands, and as the dtype's max (unsigned) / min (signed) nodata when bands
    have different masks.
    """
    path = Path(os.fspath(path))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise RasterWriteError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise RasterWriteError(f"{path}: {folder} is not a folder")
    if path.is_dir():
        raise RasterWriteError(f"{path}: is a folder")
    nodata = raster.write_nodata()
    alpha = raster.mask_kind == "alpha" and raster.mask.ndim == 2 and nodata is None
    if raster.mask_kind == "alpha" and not alpha:
        raster = raster.replace(mask_kind=None)  # a per-band mask cannot be one alpha band
    to_write = _FilledRows(raster.replace(nodata=nodata))
    internal_mask = nodata is None and not raster.mask.all() and not alpha
    prof = _write_profile(raster, nodata, profile, keep_lossy)
    tmp = folder / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
    try:
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.close(fd)
        except OSError as exc:
            raise RasterWriteError(f"{path}: cannot write in folder {folder}: {exc.strerror}") from None
        env = {"GDAL_TIFF_INTERNAL_MASK": "YES", "GDAL_CACHEMAX": _CACHE_MB}
        with warnings.catch_warnings(), rasterio.Env(**env):
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(tmp, "w", **prof) as dst:
                _write_pixels(dst, to_write)
                for i, name in enumerate(raster.band_names, start=1):
                    if name != f"band_{i}":
                        dst.set_band_description(i, name)
                if raster.tags:
                    dst.update_tags(**raster.tags)
                for i, bt in enumerate(raster.band_tags, start=1):
                    if bt:
                        dst.update_tags(i, **bt)
                if internal_mask:
                    dst.write_mask(np.where(raster.pixel_mask, 255, 0).astype("uint8"))
                if alpha:
                    top = np.iinfo(raster.dtype).max if raster.dtype.kind in "iu" else 1
                    a = np.where(raster.pixel_mask, top, 0).astype(raster.dtype)
                    dst.write(a, raster.count + 1)
                _write_georef_extras(dst, raster, alpha)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except GeoAugError:
        _remove_quietly(tmp)
        raise
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        code = _os_cause(exc, folder, raster.data.nbytes + raster.mask.size)
        if code is None:
            raise RasterWriteError(f"{path}: cannot write raster: {_short(exc)}") from exc
        err = RasterWriteError(f"{path}: cannot write raster: {os.strerror(code)} ({_short(exc)})")
        err.errno = code  # the message keeps its "path: problem" form (no strerror/filename: str() would drop it)
        raise err from exc
    return path


def _write_georef_extras(dst: Any, raster: GeoRaster, alpha: bool) -> None:
    """GCPs, RPCs and colour interpretation (alpha last when the mask is an alpha band)."""
    scales, offsets = raster.profile.get("scales"), raster.profile.get("offsets")
    if scales and len(scales) == raster.count:
        dst.scales = [*scales, 1.0] if alpha else scales
        dst.offsets = [*offsets, 0.0] if alpha else offsets
    if raster.gcps:
        dst.gcps = (list(raster.gcps), raster.crs)
    if raster.rpcs is not None:
        dst.rpcs = raster.rpcs
    ci = list(raster.colorinterp) if raster.colorinterp else []
    if alpha:
        ci = (ci or ["undefined"] * raster.count) + ["alpha"]
    if ci:
        with contextlib.suppress(Exception):  # GDAL refuses some combinations (e.g. YCbCr names); keep pixels
            dst.colorinterp = [ColorInterp[c] for c in ci]


def _os_cause(exc: BaseException, folder: Path, nbytes: int) -> int | None:
    """The OS reason of a failed write: an errno in the exception chain, else a full disk or a file-size limit.

    GDAL reports "Write failed" and libtiff prints the reason to stderr only, so the disk's free space
    and the process's file-size limit are checked against the bytes the raster needs.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and isinstance(e.errno, int) and e.errno > 0:
            return e.errno
        e = e.__cause__ or e.__context__
    try:
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < nbytes:
            return errno.ENOSPC
    except (OSError, AttributeError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY and soft < nbytes:
            return errno.EFBIG
    except (ImportError, OSError, ValueError):
        pass
    return None


def _remove_quietly(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()


# ---------------------------------------------------------------------------- stacks


def _band_labels(paths: Sequence[str]) -> list[str]:
    """Band names: the band tokens of band files (``B02``, ``SR_B4``: :mod:`geoaug.bandfiles`), else the
    file stems with their common prefix/suffix removed."""
    from .bandfiles import BAND_RE, band_label

    stems = [Path(p).stem for p in paths]
    if all(BAND_RE.match(s) for s in stems) and len({band_label(p) for p in paths}) == len(paths):
        return [band_label(p) for p in paths]
    if len(stems) < 2:
        return stems
    pre = os.path.commonprefix(stems)
    suf = os.path.commonprefix([s[::-1] for s in stems])[::-1]
    # cut at separators so "B02"/"B03" keep their "B0"
    pre = pre[: max(pre.rfind("_"), pre.rfind("-"), pre.rfind("."), -1) + 1]
    cut = [i for i, ch in enumerate(suf) if ch in "_-."]
    suf = suf[cut[0]:] if cut else ""
    out = [s[len(pre): len(s) - len(suf)] or s for s in stems]
    return out if len(set(out)) == len(out) else stems


def read_stack(
    paths: Sequence[str | os.PathLike[str]],
    resolution: float | tuple[float, float] | None = None,
    resampling: str = "bilinear",
    nodata: float | None = None,
) -> GeoRaster:
    """Stack one-file-per-band rasters of one scene onto one grid.

    Parameters
    ----------
    paths : sequence of path-like
        Band files in band order (Sentinel-2 ``B02.tif, B03.tif ...``,
        Landsat ``SR_B1.tif ...``). Multi-band files contribute all bands.
    resolution : float or (float, float), optional
        Target pixel size in CRS units. Default: the finest file's grid
        (its transform and shape are used unchanged).
    resampling : str
        A :class:`rasterio.enums.Resampling` name for bands that need
        resampling ("bilinear", "nearest", "cubic", "average", ...).
    nodata : float, optional
        Overrides every file's nodata value (as :func:`read` does).

    Returns
    -------
    GeoRaster
        Band names are the band tokens of band files (``B02``, ``B8A``,
        ``SR_B4``: :mod:`geoaug.bandfiles`, as :func:`geoaug.sample` names
        them), else the file names without their common prefix and suffix.
        Nodata areas of every file are respected.

    Raises
    ------
    StackMismatchError
        Files do not share a CRS or a footprint (within half the coarsest pixel).
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ParameterError("read_stack: no files given")
    try:
        method = Resampling[resampling]
    except KeyError:
        raise ParameterError(f"read_stack: unknown resampling {resampling!r}") from None
    _, (dst_transform, height, width) = stack_grid(paths, resolution=resolution)  # checked before any pixel
    rasters = [read(p, nodata=nodata) for p in paths]
    first = rasters[0]
    dtype = np.result_type(*[r.dtype for r in rasters])
    check_dtype(dtype, where=paths[0])
    nds = [r.nodata for r in rasters if r.nodata is not None]
    nodata = nds[0] if nds else None
    bands, masks, names, btags = [], [], [], []
    labels = _band_labels(paths)
    for p, r, label in zip(paths, rasters, labels):
        for b in range(r.count):
            data, valid = to_grid(p, r, b, dst_transform, height, width, method)
            bands.append(data.astype(dtype, copy=False))
            masks.append(valid)
            names.append(label if r.count == 1 else f"{label}_{r.band_names[b]}")
            btags.append(r.band_tags[b])
    mask = np.stack(masks)
    return GeoRaster(
        data=np.stack(bands),
        mask=mask,
        transform=dst_transform,
        crs=first.crs,
        nodata=nodata,
        band_names=tuple(names),
        tags=first.tags,
        band_tags=tuple(btags),
        profile=first.profile,
    ).collapse_mask()


def _stack_grid(grids: Sequence[tuple[Any, int, int]], bounds: tuple[float, float, float, float],
                resolution: float | tuple[float, float] | None) -> tuple[Any, int, int]:
    """The stack's grid: the finest file's (transform, height, width), or ``bounds`` at ``resolution``."""
    if resolution is None:
        return min(grids, key=lambda g: abs(g[0].a * g[0].e))
    xres, yres = (resolution, resolution) if np.isscalar(resolution) else resolution
    left, bottom, right, top = bounds
    width = max(1, round((right - left) / xres))
    height = max(1, round((top - bottom) / yres))
    return rasterio.transform.from_origin(left, top, xres, yres), height, width


def stack_grid(paths: Sequence[str], headers: Sequence[dict[str, Any]] | None = None,
               resolution: float | tuple[float, float] | None = None
               ) -> tuple[list[dict[str, Any]], tuple[Any, int, int]]:
    """Check that band files make one stack, and give the stack's grid, from their headers only.

    Parameters
    ----------
    paths : sequence of str
        Band files in band order.
    headers : sequence of dict, optional
        Their :func:`read_header` results, when the caller has them already.
    resolution : float or (float, float), optional
        Target pixel size; default the finest file's grid.

    Returns
    -------
    headers : list of dict
    grid : (affine.Affine, int, int)
        The stack's transform, height and width.

    Raises
    ------
    StackMismatchError
        A file in another CRS, or with another footprint (beyond half the coarsest pixel).
    """
    hs = list(headers) if headers is not None else [read_header(p) for p in paths]
    first = hs[0]
    for p, h in zip(paths, hs):
        if (h["crs"] is None) != (first["crs"] is None) or (h["crs"] is not None and h["crs"] != first["crs"]):
            raise StackMismatchError(f"{p}: CRS {h['crs']} differs from {first['crs']} of {paths[0]}")
    coarsest = max(max(abs(h["transform"].a), abs(h["transform"].e)) for h in hs)
    for p, h in zip(paths, hs):
        if max(abs(a - b) for a, b in zip(h["bounds"], first["bounds"])) > coarsest / 2:
            raise StackMismatchError(f"{p}: footprint {tuple(round(v, 3) for v in h['bounds'])} differs from "
                                     f"{tuple(round(v, 3) for v in first['bounds'])} of {paths[0]}")
    return hs, _stack_grid([(h["transform"], h["height"], h["width"]) for h in hs], first["bounds"], resolution)


def stack_header(paths: Sequence[str | os.PathLike[str]]) -> tuple[int, int, int, str]:
    """``(count, height, width, dtype)`` that :func:`read_stack` returns for ``paths``, without reading pixels."""
    hs, (_, height, width) = stack_grid([os.fspath(p) for p in paths])
    dtype = np.result_type(*[np.dtype(h["dtype"]) for h in hs])
    return sum(h["count"] for h in hs), height, width, dtype.name


def to_grid(
    path: str, r: GeoRaster, b: int, dst_transform: Any, height: int, width: int, method: Resampling
) -> tuple[np.ndarray, np.ndarray]:
    """One band of ``r`` on the target grid, with its validity."""
    valid_src = r.band_mask[b]
    if r.transform.almost_equals(dst_transform) and (r.height, r.width) == (height, width):
        return r.data[b], valid_src.copy()
    src = r.data[b]
    work = np.float64 if src.dtype == np.float64 else np.float32
    src_f = np.where(valid_src, src, np.nan).astype(work)
    dst = np.full((height, width), np.nan, dtype=work)
    try:
        rasterio.warp.reproject(
            src_f, dst, src_transform=r.transform, src_crs=r.crs, dst_transform=dst_transform,
            dst_crs=r.crs, resampling=method, src_nodata=np.nan, dst_nodata=np.nan,
        )
    except Exception as exc:
        raise RasterReadError(f"{path}: cannot resample onto the stack grid: {_short(exc)}") from None
    valid = ~np.isnan(dst)
    out = np.zeros((height, width), dtype=src.dtype)
    out[valid] = saturate(dst[valid], src.dtype) if src.dtype.kind in "iu" else dst[valid]
    if r.nodata is not None and not math.isnan(r.nodata):
        out[~valid] = src.dtype.type(r.nodata) if fits_dtype(r.nodata, src.dtype) else 0
    elif src.dtype.kind == "f":
        out[~valid] = np.nan
    return out, valid
