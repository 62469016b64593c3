"""geoaug: augmentation of multispectral satellite rasters that keeps the georeferencing.

Arrays are ``(bands, rows, cols)`` of any band count and dtypes uint8, uint16,
int16, int32, float32 and float64. See the README and ``docs/`` for the model.
"""

from __future__ import annotations

from .errors import (
    GeoAugError,
    ParameterError,
    RasterNotFoundError,
    RasterReadError,
    RasterWriteError,
    StackMismatchError,
    UnsupportedDtypeError,
)
from .io import read, read_stack, write
from .raster import GeoRaster
from .transforms import (
    Affine,
    CenterCrop,
    HorizontalFlip,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rot90,
    Transpose,
    VerticalFlip,
    warp,
)

__version__ = "0.1.0"

__all__ = [
    "Affine",
    "CenterCrop",
    "GeoAugError",
    "GeoRaster",
    "HorizontalFlip",
    "ParameterError",
    "RandomCrop",
    "RandomResizedCrop",
    "RasterNotFoundError",
    "RasterReadError",
    "RasterWriteError",
    "Resize",
    "Rot90",
    "StackMismatchError",
    "Transpose",
    "UnsupportedDtypeError",
    "VerticalFlip",
    "read",
    "read_stack",
    "warp",
    "write",
]
