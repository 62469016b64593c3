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
    VectorReadError,
    VectorWriteError,
)
from .io import read, read_stack, write
from .raster import GeoRaster
from .sampling import sample
from .stats import stats
from .transforms import (
    Affine,
    BandDropout,
    BandGain,
    BandMisregistration,
    Brightness,
    CenterCrop,
    ChannelShift,
    CoarseDropout,
    Compose,
    Contrast,
    Downscale,
    ElasticTransform,
    Gamma,
    GaussianBlur,
    GaussianNoise,
    GridDistortion,
    GridDropout,
    HorizontalFlip,
    Normalize,
    OneOf,
    PCAJitter,
    PercentileStretch,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rot90,
    Sharpen,
    SomeOf,
    ToFloat,
    Transpose,
    VerticalFlip,
    load_pipeline,
    warp,
)
from .vectors import VectorLayer, read_vectors, write_vectors

__version__ = "0.1.0"

__all__ = [
    "Affine",
    "BandDropout",
    "BandGain",
    "BandStats",
    "Brightness",
    "CenterCrop",
    "ChannelShift",
    "Compose",
    "Contrast",
    "Gamma",
    "GaussianNoise",
    "GeoAugError",
    "GeoRaster",
    "HorizontalFlip",
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
    "StackMismatchError",
    "ToFloat",
    "Transpose",
    "UnsupportedDtypeError",
    "VectorLayer",
    "VectorReadError",
    "VectorWriteError",
    "VerticalFlip",
    "load_pipeline",
    "load_stats",
    "read",
    "read_stack",
    "read_vectors",
    "sample",
    "stats",
    "warp",
    "write",
    "write_vectors",
]

__all__ += [  # issue 17: blur and resolution, dropout, distortions, band misregistration
    "BandMisregistration",
    "CoarseDropout",
    "Downscale",
    "ElasticTransform",
    "GaussianBlur",
    "GridDistortion",
    "GridDropout",
    "Sharpen",
]
