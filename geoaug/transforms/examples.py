"""One configured example of every registered transform.

The single table that the contract test suite (``tests/test_contract.py``),
the gallery (``scripts/make_docs_images.py``) and the docs use. Arguments are
given as keyword dicts so that a test can compare them with the transform's
configuration. A registered transform missing here fails the test suite.
"""

from __future__ import annotations

from typing import Any

from ..sensors import band_wavelengths
from .base import REGISTRY, Transform

__all__ = ["EXAMPLE_ARGS", "example", "examples"]


def _normalize_args(bands: int) -> dict[str, Any]:
    return {"mean": [900.0 + 10 * b for b in range(bands)], "std": [400.0 + 5 * b for b in range(bands)]}


#: transform name -> constructor keyword arguments (a callable of the band count where they depend on it)
EXAMPLE_ARGS: dict[str, Any] = {
    "HorizontalFlip": {"p": 0.7},
    "VerticalFlip": {"p": 1.0},
    "Rot90": {"k": (1, 3), "p": 0.9},
    "Transpose": {"p": 0.6},
    "Affine": {"rotate": (-30, 30), "scale": (0.9, 1.2), "shear_x": (-10, 10), "fill": "mirror"},
    "RandomCrop": {"height": 40, "width": 48},
    "CenterCrop": {"height": 50, "width": 50},
    "RandomResizedCrop": {"height": 50, "width": 60, "scale": (0.3, 0.9), "interpolation": "cubic"},
    "Resize": {"height": 40, "width": 60},
    "Brightness": {"delta": (-0.02, 0.02), "per_band": True, "value_range": (0, 10000)},
    "Contrast": {"factor": (0.6, 1.4)},
    "Gamma": {"gamma": (0.6, 1.6), "value_range": (0, 10000)},
    "BandGain": {"gain": (0.7, 1.3)},
    "ChannelShift": {"shift": (-150, 150), "per_band": True},
    "GaussianNoise": {"std": (0.002, 0.004), "value_range": (0, 10000)},
    "BandDropout": {"max_bands": 2, "fill": "nodata"},
    "PCAJitter": {"std": 0.5, "value_range": (0, 10000)},
    "Normalize": _normalize_args,
    "PercentileStretch": {"low": (1, 10), "high": (90, 99)},
    "ToFloat": {"value_range": (0, 10000)},
    "Compose": lambda bands: {"transforms": [example("VerticalFlip", bands), example("Gamma", bands)], "seed": 3},
    "OneOf": lambda bands: {"transforms": [example("Rot90", bands), example("Brightness", bands)],
                            "weights": [1.0, 2.0]},
    "SomeOf": lambda bands: {"transforms": [example("Transpose", bands), example("BandGain", bands),
                                            example("Contrast", bands)], "n": (1, 2)},
    # issue 17, blur and resolution, dropout, distortions, band misregistration
    "GaussianBlur": {"sigma": (0.8, 2.0)},
    "Sharpen": {"alpha": (0.5, 1.0), "sigma": 1.5},
    "Downscale": {"factor": (3.0, 4.0)},
    "CoarseDropout": {"num_holes": (2, 5), "hole_height": (6, 14), "hole_width": (6, 14)},
    "GridDropout": {"ratio": 0.4, "unit_size": (12, 20)},
    "ElasticTransform": {"alpha": (2.0, 4.0), "sigma": 12.0},
    "GridDistortion": {"num_steps": 5, "distort_limit": 0.3},
    "BandMisregistration": {"max_shift": 1.5, "fill": "edge"},
    # -- sensor-aware transforms (issue 17, item 5) ----------------------------------------------------
    "Haze": lambda bands: {"amount": (0.004, 0.012), "exponent": (1.0, 2.0), "wavelengths": _wavelengths(bands),
                           "value_range": (0, 10000)},
    "CloudShadow": {"coverage": (0.2, 0.4), "size": (12, 40), "brightness": (0.5, 0.8), "shadow": (0.3, 0.5),
                    "shadow_offset": (3, 10), "value_range": (0, 10000)},
    "Illumination": {"strength": (0.1, 0.3), "order": 2},
    "SpectralIndex": lambda bands: {"indices": ["NDVI", "NDWI"],
                                    "bands": {"red": min(4, bands), "nir": min(8, bands), "green": min(3, bands)}},
}


def example_args(name: str, bands: int = 12) -> dict[str, Any]:
    """The example's constructor arguments for an image of ``bands`` bands."""
    args = EXAMPLE_ARGS[name]
    return dict(args(bands) if callable(args) else args)


def example(name: str, bands: int = 12) -> Transform:
    """The example instance of transform ``name`` for an image of ``bands`` bands.

    Parameters
    ----------
    name : str
        A registered transform name.
    bands : int
        Band count of the image it will see (per-band arguments are sized to it).

    Returns
    -------
    Transform
    """
    return REGISTRY[name](**example_args(name, bands))


def examples(bands: int = 12) -> dict[str, Transform]:
    """One example instance of every transform in :data:`EXAMPLE_ARGS`, by name."""
    return {name: example(name, bands) for name in EXAMPLE_ARGS}


#: band names of the gallery's 12-band BigEarthNet patch
_BEN_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B11", "B12", "B8A")


def _wavelengths(bands: int) -> list[float]:
    """Haze's example wavelengths (nm): the BigEarthNet patch's for 12 bands, else spread over 443..2190 nm."""
    if bands == len(_BEN_BANDS):
        return list(band_wavelengths(_BEN_BANDS))
    return [round(443.0 + (2190.0 - 443.0) * i / max(1, bands - 1), 1) for i in range(bands)]
