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

__all__ = [
    "REGISTRY",
    "Affine",
    "CenterCrop",
    "GeometricTransform",
    "HorizontalFlip",
    "RandomCrop",
    "RandomResizedCrop",
    "Resize",
    "Result",
    "Rot90",
    "Transform",
    "Transpose",
    "VerticalFlip",
    "warp",
]
