"""Per-band dataset statistics as a value object, saved as JSON.

:class:`BandStats` is what :func:`geoaug.stats` computes over the valid pixels
of many files and what ``Normalize`` and ``PCAJitter`` accept (an object or
the path of its JSON file). Computing it needs files; this module does not.
:func:`band_moments` is the one computation both need from pixels: the count,
band means and centred cross-products of the pixels valid in every band.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .kernels.moments import moments
from .raster import is_all_valid_mask

__all__ = ["BandStats", "band_moments", "load_stats"]

FORMAT = "geoaug.band_stats"
VERSION = 1


@dataclass(frozen=True, eq=False)
class BandStats:
    """Statistics of each band over valid pixels.

    Parameters
    ----------
    band_names : tuple of str
    count : ndarray (bands,)
        Valid pixels per band.
    mean, std, min, max : ndarray (bands,)
        In the data's units (std is the population standard deviation).
    percentiles : dict of float -> ndarray (bands,)
        E.g. ``{2.0: ..., 98.0: ...}``.
    covariance : ndarray (bands, bands)
        Band covariance over pixels valid in every band.
    covariance_count : int
        Number of pixels the covariance is based on.
    files : tuple of str
        The files the statistics come from.
    """

    band_names: tuple[str, ...]
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    percentiles: dict[float, np.ndarray] = field(default_factory=dict)
    covariance: np.ndarray | None = None
    covariance_count: int = 0
    files: tuple[str, ...] = ()

    @property
    def bands(self) -> int:
        """Number of bands."""
        return len(self.band_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "band_names": list(self.band_names),
            "count": [int(c) for c in self.count],
            "mean": _floats(self.mean),
            "std": _floats(self.std),
            "min": _floats(self.min),
            "max": _floats(self.max),
            "percentiles": {f"{p:g}": _floats(v) for p, v in sorted(self.percentiles.items())},
            "covariance": None if self.covariance is None else [_floats(r) for r in self.covariance],
            "covariance_count": int(self.covariance_count),
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "stats") -> BandStats:
        """Inverse of :meth:`to_dict`; ``source`` names the file in error messages."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ParameterError(f"{source}: not a geoaug band statistics file (format {FORMAT!r} expected)")
        if int(d.get("version", 0)) > VERSION:
            raise ParameterError(f"{source}: statistics version {d.get('version')} is newer than {VERSION}")
        try:
            cov = d.get("covariance")
            return cls(
                band_names=tuple(d["band_names"]),
                count=np.asarray(d["count"], dtype=np.int64),
                mean=_arr(d["mean"]),
                std=_arr(d["std"]),
                min=_arr(d["min"]),
                max=_arr(d["max"]),
                percentiles={float(k): _arr(v) for k, v in d.get("percentiles", {}).items()},
                covariance=None if cov is None else _arr(cov),
                covariance_count=int(d.get("covariance_count", 0)),
                files=tuple(d.get("files", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterError(f"{source}: malformed statistics: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write as JSON (atomically: temporary file, then rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        os.replace(tmp, path)
        return path


def load_stats(source: BandStats | str | os.PathLike[str]) -> BandStats:
    """A :class:`BandStats`, or the one stored in a JSON file."""
    if isinstance(source, BandStats):
        return source
    p = Path(source)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise ParameterError(f"{p}: statistics file not found") from None
    except (OSError, ValueError) as exc:
        raise ParameterError(f"{p}: cannot read statistics: {exc}") from None
    return BandStats.from_dict(d, source=str(p))


def _floats(a: Any) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def _arr(v: Any) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in np.asarray(v, dtype=object).ravel()],
                    dtype=float).reshape(np.shape(v))


def band_moments(data: np.ndarray, valid: np.ndarray | None = None) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, band means and centred cross-products of the pixels valid in every band.

    ``PCAJitter`` takes its covariance from these, and :func:`geoaug.stats`
    merges them file by file. numpy's ``cov`` on the gathered valid pixels
    makes a gathered copy, a float64 copy and a centred copy before its
    product; here two compiled passes read the data where it is
    (:mod:`geoaug.kernels.moments`: the means, then the centred products chunk
    by chunk), and invalid pixels, NaN included, never reach a sum. A mask that
    is a broadcast of True counts as none, without a scan.

    Parameters
    ----------
    data : ndarray (bands, rows, cols)
        Any real dtype.
    valid : ndarray of bool (rows, cols), optional
        True where the pixel is valid in every band (values under the others,
        NaN included, are never used); None for every pixel.

    Returns
    -------
    count : int
        The number of valid pixels.
    mean : ndarray (bands,) of float64
        Band means over them (NaN when ``count`` is 0).
    m2 : ndarray (bands, bands) of float64
        ``sum_p (x_bp - mean_b) (x_cp - mean_c)``; the covariance with
        ``bias=True`` (as ``numpy.cov``) is ``m2 / count``.
    """
    bands = data.shape[0]
    x = np.asarray(data).reshape(bands, -1)
    v = None
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        # an all-valid raster's mask says so without a scan, and without the copy that flattening it makes
        if not is_all_valid_mask(valid):
            # a full (rows, cols) mask flattens as it is (broadcasting it first cost 2.5 µs a call)
            v = (valid if valid.shape == data.shape[1:] else np.broadcast_to(valid, data.shape[1:])).reshape(-1)
    return moments(x, v)  # compiled passes (kernels/moments.py), the valid pixels counted there
