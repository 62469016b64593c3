"""Pipelines as data: ``Compose.from_dict`` and :func:`load_pipeline` (YAML or JSON).

A pipeline file is data, not code: YAML goes through ``yaml.safe_load`` and
transform names are looked up only in geoaug's own registry; nothing is
imported from a dotted path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import GeoAugError, ParameterError
from .base import REGISTRY, Transform

__all__ = ["compose_from_dict", "load_pipeline", "transform_from_entry"]


def transform_from_entry(entry: Any, source: str, where: str) -> Transform:
    """Build one transform from ``{"Name": {config}}`` (or a bare ``"Name"``)."""
    if isinstance(entry, str):
        name, config = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, config = next(iter(entry.items()))
        config = {} if config is None else config
    else:
        raise ParameterError(f"{source}: {where}: expected {{TransformName: {{parameters}}}}, got {entry!r}")
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ParameterError(f"{source}: {where}: unknown transform {name!r} (known: {known})")
    if not isinstance(config, dict):
        raise ParameterError(f"{source}: {where}.{name}: parameters must be a mapping, got {config!r}")
    cls = REGISTRY[name]
    kwargs = dict(config)
    if "transforms" in kwargs:
        subs = kwargs["transforms"]
        if not isinstance(subs, list):
            raise ParameterError(f"{source}: {where}.{name}.transforms must be a list")
        kwargs["transforms"] = [transform_from_entry(e, source, f"{where}.{name}.transforms[{i}]")
                                for i, e in enumerate(subs)]
    try:
        return cls(**kwargs)
    except GeoAugError as exc:
        raise ParameterError(f"{source}: {where}.{name}: {exc}") from None
    except TypeError as exc:
        raise ParameterError(f"{source}: {where}.{name}: {exc}") from None


def compose_from_dict(d: Any, source: str = "pipeline") -> Any:
    """A :class:`~geoaug.transforms.compose.Compose` from its dict form."""
    from .compose import FORMAT_VERSION, Compose

    if isinstance(d, list):
        d = {"transforms": d}
    if not isinstance(d, dict):
        raise ParameterError(f"{source}: a pipeline is a mapping with 'transforms', got {type(d).__name__}")
    version = d.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ParameterError(f"{source}: version: unsupported pipeline format version {version!r} "
                             f"(this geoaug reads 1..{FORMAT_VERSION})")
    unknown = set(d) - {"version", "transforms", "seed", "p"}
    if unknown:
        raise ParameterError(f"{source}: unknown key(s) {sorted(unknown)} (allowed: version, transforms, seed, p)")
    if "transforms" not in d:
        raise ParameterError(f"{source}: transforms: missing")
    t = transform_from_entry({"Compose": {k: v for k, v in d.items() if k != "version"}}, source, "pipeline")
    assert isinstance(t, Compose)
    return t


def load_pipeline(path: str | os.PathLike[str]) -> Any:
    """Load a pipeline from a YAML (``.yaml``/``.yml``) or JSON file.

    Raises
    ------
    ParameterError
        Missing or unparsable file, unknown transform, bad parameter; the
        message names the file and the key.
    """
    import yaml

    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ParameterError(f"{p}: pipeline file not found") from None
    except OSError as exc:
        raise ParameterError(f"{p}: cannot read pipeline: {exc.strerror}") from None
    try:
        d = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParameterError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {first}") from None
    return compose_from_dict(d, source=str(p))
