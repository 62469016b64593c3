"""Error types raised by geoaug.

Every error geoaug raises on purpose derives from :class:`GeoAugError`, and
also from the builtin exception a caller would naturally catch (``OSError``
for files, ``ValueError`` for bad arguments, ``TypeError`` for dtypes).
Messages name the file (where there is one) and the problem.
"""

from __future__ import annotations

__all__ = [
    "GeoAugError",
    "ParameterError",
    "RasterNotFoundError",
    "RasterReadError",
    "RasterWriteError",
    "StackMismatchError",
    "UnsupportedDtypeError",
    "VectorReadError",
    "VectorWriteError",
]


class GeoAugError(Exception):
    """Base class of every error raised by geoaug."""


class RasterReadError(GeoAugError, OSError):
    """A raster could not be read: not a raster, truncated, corrupt, zero bands."""


class RasterNotFoundError(RasterReadError, FileNotFoundError):
    """The raster file does not exist."""


class RasterWriteError(GeoAugError, OSError):
    """A raster could not be written (missing or read-only folder, GDAL failure)."""


class UnsupportedDtypeError(GeoAugError, TypeError):
    """The pixel dtype is not one geoaug handles (complex, bool, int8 ...)."""


class StackMismatchError(GeoAugError, ValueError):
    """Files given to :func:`geoaug.read_stack` do not share a CRS or footprint."""


class ParameterError(GeoAugError, ValueError):
    """A transform or function parameter is out of range or of the wrong type."""


class VectorReadError(GeoAugError, OSError):
    """A vector label file (GeoJSON, GeoPackage) is missing or cannot be read."""


class VectorWriteError(GeoAugError, OSError):
    """Vector labels could not be written (unknown suffix, missing folder, GDAL failure)."""
