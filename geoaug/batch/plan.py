"""Planning a batch job: which inputs, which output names, one :class:`Task` per input."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError, RasterWriteError

__all__ = ["AUTO", "Task", "check_output_dir", "find_inputs", "label_name", "output_name", "plan", "resolve_inputs",
           "vector_name"]


#: ``stack=`` of :func:`plan`: band files of one scene are one input (recognised by their names)
AUTO = "auto"


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one input (paths are absolute strings).

    An input is one raster file, or the band files of one scene (``bands``,
    in band order; ``input`` is then their folder): those are stacked onto one
    grid (:func:`geoaug.read_stack`), get one draw, and are written as one
    multi-band output per copy, or as one output per band with the same draw
    (``band_outputs[k]``, then ``outputs[k]`` is the first of them).
    ``error``: the input is known to be unusable at planning time (a stack
    missing a band): it is reported failed and the run goes on.
    """

    input: str
    rel: str
    outputs: tuple[str, ...]
    label: str | None = None
    label_outputs: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()
    band_outputs: tuple[tuple[str, ...], ...] = ()
    error: str | None = None
    #: the input's vector labels (GeoJSON/GeoPackage of the same relative name) and their outputs
    vector: str | None = None
    vector_outputs: tuple[str, ...] = ()
    #: attribute burnt into ``label_outputs`` from the vector labels (``--rasterize-vectors``)
    rasterize_vectors: str | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The files read for this input."""
        return self.bands or (self.input,)

    def copy_outputs(self, k: int) -> tuple[str, ...]:
        """Every file copy ``k`` writes (image or its bands, and the label)."""
        images = self.band_outputs[k] if self.band_outputs else (self.outputs[k],)
        return (*images, *((self.label_outputs[k],) if self.label_outputs else ()),
                *((self.vector_outputs[k],) if self.vector_outputs else ()))

    def all_outputs(self) -> tuple[str, ...]:
        """Every file this input's copies write."""
        return tuple(o for k in range(len(self.outputs)) for o in self.copy_outputs(k))


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
    labels_dir: Path | None = None, stack: str | Sequence[str] | None = AUTO, per_band: bool = False,
    vectors_dir: Path | None = None, rasterize_vectors: str | None = None,
) -> list[Task]:
    """One :class:`Task` per input; outputs mirror the input tree.

    ``input_dir`` may also be one file or a glob (:func:`resolve_inputs`).
    ``stack``: ``"auto"`` makes the band files of one scene one input
    (:mod:`geoaug.bandfiles`: same prefix in one folder, or a SAFE
    ``IMG_DATA`` tree), a band order (``["B04", "B03", "B02"]``) stacks just
    those bands of every scene (other files are left out), ``None`` takes
    every file on its own. A stack ``a/S2A_x_B02.tif ...`` is named
    ``a/S2A_x``: its copy ``k`` is ``a/S2A_x_aug<k>.tif`` (per band:
    ``a/S2A_x_B02_aug<k>.tif ...``) and its label raster is
    ``LABELS/a/S2A_x.tif``.
    ``vectors_dir`` holds vector labels of the same relative names
    (``a/b.geojson`` or ``a/b.gpkg`` for ``a/b.tif``, ``a/S2A_x.geojson`` for
    a stack; :func:`geoaug.vectors.find_vectors`); ``rasterize_vectors`` names
    the attribute burnt into each output's label raster (then ``labels_dir``
    must be None).
    """
    from ..bandfiles import scene_folder, stack_groups, stack_name
    from ..vectors import find_vectors

    if rasterize_vectors is not None and (labels_dir is not None or vectors_dir is None):
        raise ParameterError("rasterize_vectors makes the label rasters from vectors_dir: give vectors_dir, "
                             "and no labels_dir")

    input_dir, files = resolve_inputs(input_dir, patterns)
    output_dir = Path(output_dir).resolve()
    labels_root = Path(labels_dir).resolve() if labels_dir is not None else None
    files = [f for f in files if not (output_dir == f.parent or output_dir in f.parents)]  # never our outputs
    singles: list[Path] = []
    stacks: list[tuple[str, list[Path]]] = []
    failed: list[Task] = []
    if stack is None:
        singles = files
    else:
        order = None if isinstance(stack, str) and stack == AUTO else [str(b) for b in stack]
        folders: dict[Path, list[Path]] = {}
        for f in files:
            folders.setdefault(scene_folder(f.parent), []).append(f)
        for folder, group_files in folders.items():
            base = folder.relative_to(input_dir) if input_dir in folder.parents else None
            try:
                groups, rest = stack_groups(group_files, order)
            except ParameterError as exc:  # a scene missing a band of the order: that input fails, others go on
                rel = (base or Path(folder.name)).as_posix()
                failed.append(Task(input=str(folder), rel=rel, error=str(exc),
                                   outputs=tuple(str(output_dir / f"{rel}_aug{k}.tif") for k in range(copies))))
                continue
            if order is None:
                singles.extend(rest)
            for g in groups:
                stacks.append(((base / stack_name(g)).as_posix() if base else stack_name(g), g))

    def label_for(rel: str) -> str | None:
        # an input without a label raster of the same relative name is augmented on its own
        if labels_root is None:
            return None
        for cand in (labels_root / rel, labels_root / f"{rel}.tif", labels_root / f"{rel}.tiff"):
            if cand.is_file():
                return str(cand)
        return None

    def vectors_for(rel: str, stacked: bool) -> dict[str, Any]:
        vfile = find_vectors(vectors_dir, rel + (".tif" if stacked else "")) if vectors_dir is not None else None
        if vfile is None:
            return {}
        suffix = ".geojson" if vfile.suffix.lower() == ".json" else vfile.suffix.lower()
        names = [f"{rel}_aug{k}{suffix}" if stacked else vector_name(rel, k, vfile.suffix) for k in range(copies)]
        return {"vector": str(vfile.resolve()), "vector_outputs": tuple(str(output_dir / n) for n in names),
                "rasterize_vectors": rasterize_vectors}

    tasks = failed
    for f in singles:
        rel = f.relative_to(input_dir).as_posix()
        label = label_for(rel)
        vec = vectors_for(rel, False)
        tasks.append(Task(
            input=str(f), rel=rel,
            outputs=tuple(str(output_dir / output_name(rel, k)) for k in range(copies)),
            label=label,
            label_outputs=tuple(str(output_dir / label_name(rel, k)) for k in range(copies))
            if label or vec.get("rasterize_vectors") is not None else (),
            **vec,
        ))
    for rel, g in stacks:
        label = label_for(rel)
        vec = vectors_for(rel, True)
        band_outputs: tuple[tuple[str, ...], ...] = ()
        if per_band:
            folder = (output_dir / rel).parent
            band_outputs = tuple(tuple(str(folder / f"{b.stem}_aug{k}.tif") for b in g) for k in range(copies))
        tasks.append(Task(
            input=str(scene_folder(g[0].parent)), rel=rel,
            outputs=tuple(bo[0] for bo in band_outputs) if per_band else tuple(
                str(output_dir / f"{rel}_aug{k}.tif") for k in range(copies)),
            label=label,
            label_outputs=tuple(str(output_dir / f"{rel}_aug{k}_label.tif") for k in range(copies))
            if label or vec.get("rasterize_vectors") is not None else (),
            bands=tuple(str(b) for b in g), band_outputs=band_outputs, **vec,
        ))
    return sorted(tasks, key=lambda t: t.rel)


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
        for o in t.all_outputs():
            Path(o).parent.mkdir(parents=True, exist_ok=True)
