"""geoaug: augmentation of multispectral satellite rasters that keeps the georeferencing.

Arrays are ``(bands, rows, cols)`` of any band count and dtypes uint8, uint16,
int16, int32, float32 and float64. See the README and ``docs/`` for the model.
"""

from __future__ import annotations

from .bandstats import BandStats, load_stats
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
from .sampling import sample
from .stats import stats
from .transforms import (
    Affine,
    BandDropout,
    BandGain,
    Brightness,
    CenterCrop,
    ChannelShift,
    CloudShadow,
    Compose,
    Contrast,
    CutMix,
    Gamma,
    GaussianNoise,
    Haze,
    HorizontalFlip,
    Illumination,
    MixUp,
    Mosaic,
    Normalize,
    OneOf,
    PCAJitter,
    PercentileStretch,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rot90,
    SomeOf,
    SpectralIndex,
    ToFloat,
    Transpose,
    VerticalFlip,
    load_pipeline,
    warp,
)

__version__ = "0.1.0"

__all__ = [
    "Affine",
    "BandDropout",
    "BandGain",
    "BandStats",
    "Brightness",
    "CenterCrop",
    "ChannelShift",
    "CloudShadow",
    "Compose",
    "Contrast",
    "CutMix",
    "Gamma",
    "GaussianNoise",
    "GeoAugError",
    "GeoRaster",
    "Haze",
    "HorizontalFlip",
    "Illumination",
    "MixUp",
    "Mosaic",
    "Normalize",
    "OneOf",
    "PCAJitter",
    "ParameterError",
    "PercentileStretch",
    "RandomCrop",
    "RandomResizedCrop",
    "RasterNotFoundError",
    "RasterReadError",
    "RasterWriteError",
    "Resize",
    "Rot90",
    "SomeOf",
    "SpectralIndex",
    "StackMismatchError",
    "ToFloat",
    "Transpose",
    "UnsupportedDtypeError",
    "VerticalFlip",
    "load_pipeline",
    "load_stats",
    "read",
    "read_stack",
    "sample",
    "stats",
    "warp",
    "write",
]
