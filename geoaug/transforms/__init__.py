"""Transforms: sample parameters from a Generator, then apply them deterministically."""

from .base import REGISTRY, GeometricTransform, Result, Transform
from .compose import Compose, OneOf, SomeOf
from .distort import BandMisregistration, ElasticTransform, GridDistortion
from .dropout import CoarseDropout, GridDropout
from .filters import Downscale, GaussianBlur, Sharpen
from .functional import warp
from .geometric import (
    Affine,
    CenterCrop,
    HorizontalFlip,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rot90,
    Transpose,
    VerticalFlip,
)
from .mixing import BatchTransform, CutMix, MixResult, MixUp, Mosaic, batch_transform_from_dict
from .sensor import CloudShadow, Haze, Illumination, SpectralIndex
from .serialize import load_pipeline
from .spectral import (
    BandDropout,
    BandGain,
    Brightness,
    ChannelShift,
    Contrast,
    Gamma,
    GaussianNoise,
    Normalize,
    PCAJitter,
    PercentileStretch,
    SpectralTransform,
    ToFloat,
)

__all__ = [
    "REGISTRY",
    "Affine",
    "BandDropout",
    "BandGain",
    "BatchTransform",
    "Brightness",
    "CenterCrop",
    "ChannelShift",
    "CloudShadow",
    "Compose",
    "Contrast",
    "CutMix",
    "Gamma",
    "GaussianNoise",
    "GeometricTransform",
    "Haze",
    "HorizontalFlip",
    "Illumination",
    "MixResult",
    "MixUp",
    "Mosaic",
    "Normalize",
    "OneOf",
    "PCAJitter",
    "PercentileStretch",
    "RandomCrop",
    "RandomResizedCrop",
    "Resize",
    "Result",
    "Rot90",
    "SomeOf",
    "SpectralIndex",
    "SpectralTransform",
    "ToFloat",
    "Transform",
    "Transpose",
    "VerticalFlip",
    "batch_transform_from_dict",
    "load_pipeline",
    "warp",
]

# issue 17: blur and resolution, dropout, distortions, band misregistration
__all__ += [
    "BandMisregistration",
    "CoarseDropout",
    "Downscale",
    "ElasticTransform",
    "GaussianBlur",
    "GridDistortion",
    "GridDropout",
    "Sharpen",
]
