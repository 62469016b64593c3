"""Planning a batch job: which inputs, which output names, one :class:`Task` per input."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError, RasterWriteError

__all__ = ["Task", "check_output_dir", "find_inputs", "label_name", "output_name", "plan", "resolve_inputs",
           "vector_name"]


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one input file (paths are absolute strings)."""

    input: str
    rel: str
    outputs: tuple[str, ...]
    label: str | None = None
    label_outputs: tuple[str, ...] = ()
    #: the input's vector labels (GeoJSON/GeoPackage of the same relative name) and their outputs
    vector: str | None = None
    vector_outputs: tuple[str, ...] = ()
    #: attribute burnt into ``label_outputs`` from the vector labels (``--rasterize-vectors``)
    rasterize_vectors: str | None = None


def _tif_suffix(p: Path) -> str:
    """Outputs are GeoTIFFs: a .tif/.tiff input keeps its spelling, anything else (.vrt, .jp2, .img) gets .tif."""
    return p.suffix if p.suffix.lower() in (".tif", ".tiff") else ".tif"


def output_name(rel: str, copy: int) -> str:
    """``a/b.tif`` -> ``a/b_aug<copy>.tif`` (``a/b.vrt`` -> ``a/b_aug<copy>.tif``: the format written)."""
    p = Path(rel)
    return (p.parent / f"{p.stem}_aug{copy}{_tif_suffix(p)}").as_posix()


def label_name(rel: str, copy: int) -> str:
    """``a/b.tif`` -> ``a/b_aug<copy>_label.tif``: the label raster beside its image."""
    p = Path(rel)
    return (p.parent / f"{p.stem}_aug{copy}_label{_tif_suffix(p)}").as_posix()


def vector_name(rel: str, copy: int, suffix: str) -> str:
    """``a/b.tif`` -> ``a/b_aug<copy>.geojson`` (or ``.gpkg``): the vector labels beside their image."""
    p = Path(rel)
    suffix = ".geojson" if suffix.lower() == ".json" else suffix.lower()
    return (p.parent / f"{p.stem}_aug{copy}{suffix}").as_posix()


def find_inputs(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files under ``root`` matching any of ``patterns`` (:func:`geoaug.io.find_rasters`)."""
    from ..io import find_rasters

    return find_rasters(root, patterns)


def resolve_inputs(spec: str | os.PathLike[str], patterns: Sequence[str] = ("*.tif", "*.tiff")
                   ) -> tuple[Path, list[Path]]:
    """The root and the files of an INPUT: a folder (searched recursively), a file, or a glob.

    Relative names (which make output names and seeds) are relative to the
    root: the folder itself, a file's folder, or the folder part of a glob
    before its first wildcard (``tiles/**/*_B04.tif`` has root ``tiles``).

    Raises
    ------
    ParameterError
        Nothing exists at ``spec`` or nothing matches the glob.
    """
    text = os.fspath(spec)
    p = Path(text)
    if p.is_dir():
        return p.resolve(), find_inputs(p.resolve(), patterns)
    if p.is_file():
        return p.parent.resolve(), [p.resolve()]
    if glob.has_magic(text):
        parts = p.parts
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        root = Path(*parts[:fixed]) if fixed else Path(".")
        files = sorted({Path(f).resolve() for f in glob.glob(text, recursive=True)
                        if Path(f).is_file() and not Path(f).name.startswith(".")})
        if not files:
            raise ParameterError(f"{text}: no file matches this pattern")
        return root.resolve(), files
    raise ParameterError(f"{text}: no such file or folder")


def plan(
    input_dir: Path, output_dir: Path, copies: int, patterns: Sequence[str] = ("*.tif", "*.tiff"),
    labels_dir: Path | None = None, vectors_dir: Path | None = None, rasterize_vectors: str | None = None,
) -> list[Task]:
    """One :class:`Task` per input file; outputs mirror the input tree.

    ``input_dir`` may also be one file or a glob (:func:`resolve_inputs`).
    ``vectors_dir`` holds vector labels of the same relative names
    (``a/b.geojson`` or ``a/b.gpkg`` for ``a/b.tif``,
    :func:`geoaug.vectors.find_vectors`); ``rasterize_vectors`` names the
    attribute burnt into each output's label raster (then ``labels_dir`` must
    be None).
    """
    from ..vectors import find_vectors

    if rasterize_vectors is not None and (labels_dir is not None or vectors_dir is None):
        raise ParameterError("rasterize_vectors makes the label rasters from vectors_dir: give vectors_dir, "
                             "and no labels_dir")
    input_dir, files = resolve_inputs(input_dir, patterns)
    output_dir = Path(output_dir).resolve()
    tasks = []
    for f in files:
        if output_dir == f.parent or output_dir in f.parents:
            continue  # never take our own outputs as inputs
        rel = f.relative_to(input_dir).as_posix()
        # a tile without a label raster of the same relative name is augmented on its own
        lab = Path(labels_dir).resolve() / rel if labels_dir is not None else None
        label = str(lab) if lab is not None and lab.is_file() else None
        vfile = find_vectors(vectors_dir, rel) if vectors_dir is not None else None
        burn = rasterize_vectors if vfile is not None else None
        tasks.append(Task(
            input=str(f), rel=rel,
            outputs=tuple(str(output_dir / output_name(rel, k)) for k in range(copies)),
            label=label,
            label_outputs=tuple(str(output_dir / label_name(rel, k)) for k in range(copies))
            if label or burn is not None else (),
            vector=str(vfile.resolve()) if vfile is not None else None,
            vector_outputs=tuple(str(output_dir / vector_name(rel, k, vfile.suffix)) for k in range(copies))
            if vfile is not None else (),
            rasterize_vectors=burn,
        ))
    return tasks


def check_output_dir(output_dir: Path) -> Path:
    """Create ``output_dir`` (its parent must exist) and check it is writable; raise RasterWriteError."""
    output_dir = Path(output_dir)
    if not output_dir.exists():
        if not output_dir.parent.is_dir():
            raise RasterWriteError(f"{output_dir}: output folder does not exist, nor does its parent "
                                   f"{output_dir.parent}")
        try:
            output_dir.mkdir()
        except OSError as exc:
            raise RasterWriteError(f"{output_dir}: cannot create output folder: {exc.strerror}") from None
    if not output_dir.is_dir():
        raise RasterWriteError(f"{output_dir}: is not a folder")
    probe = output_dir / f".geoaug-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RasterWriteError(f"{output_dir}: output folder is not writable: {exc.strerror}") from None
    return output_dir


def make_folders(tasks: list[Task]) -> None:
    for t in tasks:
        for o in (*t.outputs, *t.label_outputs, *t.vector_outputs):
            Path(o).parent.mkdir(parents=True, exist_ok=True)
