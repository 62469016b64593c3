"""Pipelines as data: ``Compose.from_dict`` and :func:`load_pipeline` (YAML or JSON).

A pipeline file is data, not code: YAML goes through ``yaml.safe_load`` and
transform names are looked up only in geoaug's own registry; nothing is
imported from a dotted path.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import reprlib
from pathlib import Path
from typing import Any

from ..errors import GeoAugError, ParameterError
from .base import REGISTRY, Transform

__all__ = ["FORMAT_VERSION", "MAX_DEPTH", "as_pipeline", "compose_from_dict", "load_pipeline", "parameter_names",
           "transform_from_entry"]


#: deepest nesting of pipelines (Compose/OneOf/SomeOf inside each other) a file may have
MAX_DEPTH = 32


def _suggest(word: str, valid: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or nothing."""
    close = difflib.get_close_matches(str(word), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parameter_names(cls: type[Transform]) -> list[str]:
    """The keyword parameters a transform's constructor takes, in signature order."""
    sig = inspect.signature(cls.__init__)
    return [n for n, p in sig.parameters.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_parameters(cls: type[Transform], config: dict[Any, Any], source: str, where: str) -> None:
    valid = parameter_names(cls)
    for key in config:
        if key not in valid:
            raise ParameterError(f"{source}: {where}: unexpected keyword argument {key!r}{_suggest(key, valid)}; "
                                 f"{cls.__name__} takes: {', '.join(valid)}")


def transform_from_entry(entry: Any, source: str, where: str, depth: int = 0) -> Transform:
    """Build one transform from ``{"Name": {config}}`` (or a bare ``"Name"``).

    Parameters
    ----------
    entry : dict or str
        One pipeline entry.
    source : str
        The file (or other origin) named in error messages.
    where : str
        The entry's position (``pipeline.Compose.transforms[2]``), for error messages.
    depth : int
        How deep the entry is nested in pipelines; deeper than :data:`MAX_DEPTH` is refused.

    Returns
    -------
    Transform
        The transform.

    Raises
    ------
    ParameterError
        Unknown transform or parameter (with the valid ones and the closest
        match), a bad value, or nesting deeper than :data:`MAX_DEPTH`.
    """
    if depth > MAX_DEPTH:
        raise ParameterError(f"{source}: {where}: pipelines nested more than {MAX_DEPTH} deep")
    if isinstance(entry, str):
        name, config = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, config = next(iter(entry.items()))
        config = {} if config is None else config
    else:
        raise ParameterError(f"{source}: {where}: expected {{TransformName: {{parameters}}}}, got {_short(entry)}")
    if not isinstance(name, str) or name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ParameterError(f"{source}: {where}: unknown transform {_short(name)}{_suggest(name, REGISTRY)} "
                             f"(known: {known})")
    if not isinstance(config, dict):
        raise ParameterError(f"{source}: {where}.{name}: parameters must be a mapping, got {_short(config)}")
    cls = REGISTRY[name]
    _check_parameters(cls, config, source, f"{where}.{name}")
    kwargs = dict(config)
    if "transforms" in kwargs:
        subs = kwargs["transforms"]
        if not isinstance(subs, list):
            raise ParameterError(f"{source}: {where}.{name}.transforms must be a list")
        kwargs["transforms"] = [transform_from_entry(e, source, f"{where}.{name}.transforms[{i}]", depth + 1)
                                for i, e in enumerate(subs)]
    try:
        return cls(**kwargs)
    except GeoAugError as exc:
        raise ParameterError(f"{source}: {where}.{name}: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ParameterError(f"{source}: {where}.{name}: {type(exc).__name__}: {exc}") from None


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def _short(value: Any) -> str:
    return _REPR.repr(value)


#: a pipeline's data may hold at most this many values, nested at most this deep (containers)
MAX_VALUES = 100_000
MAX_DATA_DEPTH = 4 * MAX_DEPTH


def _check_shape(d: Any, source: str) -> None:
    """Refuse data too large or too deeply nested to be a pipeline (before anything recurses on it).

    Counts every visit, so YAML aliases that repeat a structure count each time.
    """
    stack, seen = [(d, 0)], 0
    while stack:
        v, level = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ParameterError(f"{source}: more than {MAX_VALUES} values: not a pipeline")
        if isinstance(v, dict):
            items: Any = v.values()
        elif isinstance(v, (list, tuple, set, frozenset)):
            items = v
        else:
            continue
        if level >= MAX_DATA_DEPTH:
            raise ParameterError(f"{source}: data nested more than {MAX_DATA_DEPTH} deep "
                                 f"(pipelines nest at most {MAX_DEPTH} deep)")
        stack.extend((x, level + 1) for x in items)


#: version of the pipeline dict/YAML format written by ``Compose.to_dict`` (read: 1..FORMAT_VERSION)
FORMAT_VERSION = 1


def compose_from_dict(d: Any, source: str = "pipeline") -> Any:
    """A :class:`~geoaug.transforms.compose.Compose` from its dict form (found through the registry)."""
    Compose = REGISTRY["Compose"]
    _check_shape(d, source)
    if isinstance(d, list):
        d = {"transforms": d}
    if not isinstance(d, dict):
        raise ParameterError(f"{source}: a pipeline is a mapping with 'transforms', got {type(d).__name__}")
    version = d.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ParameterError(f"{source}: version: unsupported pipeline format version {version!r} "
                             f"(this geoaug reads 1..{FORMAT_VERSION})")
    allowed = ["version", "transforms", "seed", "p"]
    for key in d:
        if key not in allowed:
            raise ParameterError(f"{source}: unknown key {_short(key)}{_suggest(key, allowed)} "
                                 f"(allowed: {', '.join(allowed)})")
    if "transforms" not in d:
        raise ParameterError(f"{source}: transforms: missing")
    t = transform_from_entry({"Compose": {k: v for k, v in d.items() if k != "version"}}, source, "pipeline")
    assert isinstance(t, Compose)
    return t


def as_pipeline(obj: Any, source: str = "pipeline") -> Any:
    """Any way of naming a pipeline as a transform: the one entry point of every loader and command.

    Parameters
    ----------
    obj : Transform, dict, list, JSON string, or path-like
        A transform (returned as is), a ``Compose.to_dict`` dict or a list of
        entries, a JSON text (as the batch job passes to its workers), or a
        YAML/JSON pipeline file.
    source : str
        What to call ``obj`` in error messages (a dict's origin).

    Returns
    -------
    Transform

    Raises
    ------
    ParameterError
        Anything that is not a pipeline, with the file or source and the key.
    """
    if isinstance(obj, Transform):
        return obj
    if isinstance(obj, (dict, list)):
        return compose_from_dict(obj, source)
    if isinstance(obj, str) and obj.lstrip().startswith(("{", "[")):
        try:
            return compose_from_dict(json.loads(obj), source)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{source}: not a JSON pipeline: {exc.msg}") from None
    if isinstance(obj, (str, os.PathLike)):
        return load_pipeline(obj)
    raise ParameterError(f"{source}: a pipeline is a transform, a dict, or a YAML/JSON file; "
                         f"got {type(obj).__name__}")


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
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"{p}: pipeline file not found") from None
    except IsADirectoryError:
        raise ParameterError(f"{p}: is a folder, not a pipeline file") from None
    except OSError as exc:
        raise ParameterError(f"{p}: cannot read pipeline: {exc.strerror}") from None
    kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{p}: not a {kind} text file (byte {exc.start} is not UTF-8)") from None
    if "\x00" in text:
        raise ParameterError(f"{p}: not a {kind} text file (it contains NUL bytes)")
    try:
        d = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except RecursionError:
        raise ParameterError(f"{p}: not valid {kind}: nested too deeply "
                             f"(pipelines nest at most {MAX_DEPTH} deep)") from None
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParameterError(f"{p}: not valid {kind}: {first}") from None
    return compose_from_dict(d, source=str(p))
