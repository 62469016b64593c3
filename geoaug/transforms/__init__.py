"""Transforms: sample parameters from a Generator, then apply them deterministically."""

from .base import REGISTRY, GeometricTransform, Result, Transform
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
    "Brightness",
    "CenterCrop",
    "ChannelShift",
    "Contrast",
    "Gamma",
    "GaussianNoise",
    "GeometricTransform",
    "HorizontalFlip",
    "Normalize",
    "PCAJitter",
    "PercentileStretch",
    "RandomCrop",
    "RandomResizedCrop",
    "Resize",
    "Result",
    "Rot90",
    "SpectralTransform",
    "ToFloat",
    "Transform",
    "Transpose",
    "VerticalFlip",
    "warp",
]
