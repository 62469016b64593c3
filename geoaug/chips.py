"""The ``geoaug chip`` batch job: whole scenes -> augmented GeoTIFF chips and a manifest.

One task per scene (or per block of windows of a single large scene): it
reads only the windows its chips need, makes every copy with
:func:`geoaug.sampling.chip_rng` ``(seed, scene, index, copy)``, writes each
output atomically (:func:`geoaug.write`) and returns the manifest lines.
Tasks run in-process or on Dask workers; outputs are byte-identical
whatever runs them, and a rerun skips chips already written.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .batch import MANIFEST, Summary, check_output_dir, clean_partials, dask_client
from .batch.run import add_vector_counts
from .errors import GeoAugError, ParameterError
from .raster import GeoRaster
from .sampling import (
    RandomChips,
    Scene,
    _labels_for,
    _pipeline,
    _plan,
    chip_count,
    chip_rng,
    chip_window,
    find_scenes,
    make_chip,
    make_sampler,
)

__all__ = ["ChipTask", "chip_names", "run_chip_task", "run_chips"]

_SAFE = re.compile(r"[^A-Za-z0-9._/-]+")


@dataclass(frozen=True)
class ChipTask:
    """One unit of work: some chips of one scene (everything a worker needs)."""

    scene: Scene
    indexes: tuple[int, ...]
    labels: str | None = None


def scene_folder(scene: Scene) -> str:
    """The output sub-folder of a scene: its name without a raster suffix, safe characters only."""
    name = scene.name
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() in ("tif", "tiff", "vrt", "jp2"):
        name = stem
    return _SAFE.sub("_", name).strip("/") or "scene"


def chip_names(scene: Scene, index: int, copy: int, band_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Relative output names of one chip: ``<scene>/chip<index>_aug<copy>.tif`` and ``..._label.tif``.

    With ``band_names`` (per-band output) ``"bands"`` lists one file per band.
    """
    base = f"{scene_folder(scene)}/chip{index:05d}_aug{copy}"
    out: dict[str, Any] = {"output": f"{base}.tif", "label_output": f"{base}_label.tif"}
    if band_names is not None:
        out["bands"] = [f"{base}_{_SAFE.sub('_', b)}.tif" for b in band_names]
    return out


def run_chip_task(task: ChipTask, config_json: str, output_dir: str, overwrite: bool = False) -> list[dict[str, Any]]:
    """Make the chips of one task; return one manifest line per chip copy.

    Runs anywhere (in-process or on a Dask worker). A chip whose outputs
    exist is skipped (its line re-derived from the seed without warping)
    unless ``overwrite``. Errors are reported in the lines, never raised;
    after a :class:`~geoaug.sampling.NoValidChipError` the scene's remaining
    chips report the same error (no further tries).
    """
    from .io import write

    cfg = json.loads(config_json)
    pipe = _pipeline(cfg["pipeline"]) if cfg["pipeline"] is not None else None
    sampler = make_sampler(cfg["size"], cfg["count"], cfg["stride"], cfg["overlap"], cfg["min_valid"],
                           cfg["balance"], cfg["max_tries"])
    copies, seed, per_band = int(cfg["copies"]), int(cfg["seed"]), bool(cfg["per_band"])
    scene = task.scene
    out_dir = Path(output_dir)
    lines: list[dict[str, Any]] = []
    base = {"scene": scene.name, "source": list(scene.paths)}
    labels = _labels_for(task.labels, scene, cfg.get("label_field")) if task.labels else None
    error: str | None = None
    classes = None
    layer, burn = None, cfg.get("rasterize_vectors")
    if cfg.get("vectors"):
        from .vectors import read_vectors

        try:
            layer = read_vectors(cfg["vectors"])
        except GeoAugError as exc:
            error = str(exc)
    vsuffix = ".gpkg" if str(cfg.get("vectors", "")).lower().endswith(".gpkg") else ".geojson"
    for i in task.indexes:
        for k in range(copies):
            names = chip_names(scene, i, k, scene.band_names if per_band else None)
            line: dict[str, Any] = {**base, "index": i, "copy": k, "output": names["output"]}
            if labels is not None or burn is not None:
                line["label_output"] = names["label_output"]
            if cfg.get("vectors"):
                line["vector_output"] = names["output"][: -len(".tif")] + vsuffix
            if per_band:
                line["band_outputs"] = names["bands"]
            if error is not None:
                lines.append({**line, "status": "failed", "error": error})
                continue
            try:
                if classes is None and isinstance(sampler, RandomChips) and sampler.balance:
                    if labels is None:
                        raise ParameterError(f"{scene.name}: balance needs a label raster (--labels)")
                    classes = labels.classes(scene)
                win = chip_window(scene, sampler, i, seed, classes)
                if win is None:
                    lines.append({**line, "status": "below_min_valid", "window": None})
                    break
                line["window"] = list(win)
                wanted = [names["output"]] if not per_band else list(names["bands"])
                if labels is not None or burn is not None:
                    wanted.append(names["label_output"])
                if layer is not None:
                    wanted.append(line["vector_output"])
                rng = chip_rng(seed, scene.name, i, k)
                if not overwrite and all((out_dir / w).exists() for w in wanted):

                    record = None
                    if pipe is not None:
                        record = pipe.sample(rng, GeoRaster.proxy(scene.count, win[2], win[3], np.dtype(scene.dtype)))
                    plan = _plan(pipe, record, (win[2], win[3]))
                    from .geometry import translation

                    m = translation(win[1], win[0]) @ plan["m_all"]
                    line.update(status="skipped", params=record, matrix=[[float(v) for v in r] for r in m])
                    lines.append(line)
                    continue
                chip = make_chip(scene, win, pipe, rng, labels=labels, index=i, copy=k)
                if per_band:
                    for b, rel in enumerate(names["bands"]):
                        write(chip.image.select([b]), out_dir / rel)
                else:
                    write(chip.image, out_dir / names["output"])
                if chip.label is not None:
                    write(chip.label, out_dir / names["label_output"])
                if layer is not None:
                    line["vectors"] = _chip_vectors(layer, chip.image, out_dir, line, burn)
                line.update(status="ok", params=chip.params, matrix=chip.record()["matrix"],
                            valid=round(float(chip.image.valid_fraction), 6),
                            pixels=chip.image.height * chip.image.width)
                lines.append(line)
            except (GeoAugError, OSError, ValueError, MemoryError) as exc:
                error = str(exc) if isinstance(exc, GeoAugError) else f"{scene.name}: {type(exc).__name__}: {exc}"
                lines.append({**line, "status": "failed", "error": error})
            except Exception as exc:  # a bug: report it with its traceback rather than lose the batch
                error = f"{scene.name}: unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
                lines.append({**line, "status": "failed", "error": error})
    return lines


def _chip_vectors(layer: Any, image: GeoRaster, out_dir: Path, line: dict[str, Any], burn: str | None
                  ) -> dict[str, int]:
    """Clip the vector labels to one chip's footprint, write them beside it (and their label raster)."""
    from .io import write
    from .vectors import clip_to_output, label_raster, write_vectors

    clipped = clip_to_output(layer, image.transform, (image.height, image.width), image.crs)
    write_vectors(clipped, out_dir / line["vector_output"])
    if burn is not None:
        write(label_raster(clipped, image, burn), out_dir / line["label_output"])
    return dict(clipped.counts)


def _tasks(scene: Scene, sampler: Any, labels: Any, single: bool, workers: int | None, distributed: bool,
           block: int | None) -> list[ChipTask]:
    """The tasks of one scene: all its chips, or blocks of them (a single scene on a cluster, or ``block``)."""
    if isinstance(labels, dict):
        lab = labels.get(scene.name)
    else:
        lab = labels
    lab = None if lab is None else os.fspath(lab)
    n = chip_count(scene, sampler)
    size = block
    if size is None:
        size = max(1, -(-n // (4 * (workers or 2)))) if distributed and single else max(n, 1)
    return [ChipTask(scene, tuple(range(s, min(n, s + size))), lab) for s in range(0, n, max(1, size))]


def run_chips(
    scenes: Any,
    output_dir: str | os.PathLike[str],
    pipeline: Any = None,
    size: int | tuple[int, int] = 256,
    count: int | None = None,
    stride: int | None = None,
    overlap: int = 0,
    copies: int = 1,
    seed: int = 0,
    labels: Any = None,
    label_field: str | None = None,
    min_valid: float = 0.0,
    balance: bool = False,
    max_tries: int = 100,
    stack: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    per_band: bool = False,
    same_crs: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    block: int | None = None,
    overwrite: bool = False,
    fail_fast: bool = False,
    nodata: float | None = None,
    on_result: Callable[[ChipTask, list[dict[str, Any]]], None] | None = None,
    vectors: str | os.PathLike[str] | None = None,
    rasterize_vectors: str | None = None,
) -> Summary:
    """Chips of whole scenes into ``output_dir``, with ``manifest.jsonl``.

    Parameters
    ----------
    scenes : path-like, Scene or a sequence of them
        Scene files, folders, band-file folders, VRT mosaics, STAC JSON
        (:func:`geoaug.sampling.find_scenes`).
    output_dir : path-like
        Created if missing (its parent must exist). Copy ``k`` of chip ``i`` of
        scene ``s`` is ``s/chip<i>_aug<k>.tif`` (labels ``..._label.tif``).
    pipeline : Compose, dict or path, optional
        The augmentation.
    size : int or (int, int)
        Chip size in pixels.
    count : int, optional
        Random chips per scene (else a grid of ``stride``/``overlap``).
    stride, overlap : int, optional
        Grid step / overlap.
    copies : int
        Augmented copies per window.
    seed : int
        Base seed (outputs depend only on it, the scene, the chip and the copy).
    labels : path-like or mapping scene name -> path, optional
        Label raster (any CRS/resolution) or GeoJSON, onto each chip's grid.
    label_field : str, optional
        Vector property with the class value.
    min_valid : float
        Least valid fraction of a window.
    balance : bool
        Class-balanced random windows (needs a label raster).
    max_tries : int
        Windows tried per random chip.
    stack, bands : sequence of str, optional
        Band order of band-file folders; STAC common names.
    per_band : bool
        Write one file per band (same draw) instead of one multi-band GeoTIFF.
    same_crs : bool
        Report scenes in another CRS than the first as failed (the others go on).
    workers : int, optional
        A local Dask cluster of this many processes.
    scheduler : str, optional
        Address of a Dask scheduler.
    block : int, optional
        Chips per task (default: a scene per task; a single scene is cut into blocks).
    overwrite : bool
        Redo chips that exist.
    fail_fast : bool
        Stop at the first failed task.
    nodata : float, optional
        Overrides the scene files' nodata (:func:`geoaug.sample`).
    on_result : callable, optional
        Called with each finished task and its manifest lines.
    vectors : path-like, optional
        Vector labels (GeoJSON/GeoPackage, any CRS) clipped to each chip's
        footprint and written beside it in its CRS: ``chip<i>_aug<k>.geojson``
        (``.gpkg`` for a GeoPackage).
    rasterize_vectors : str, optional
        Attribute of ``vectors`` (whole numbers) burnt onto each chip's grid
        as its label raster ``..._label.tif`` (not with ``labels``).

    Returns
    -------
    Summary
        ``files`` = scenes; ``failed_files`` names scenes that could not be
        opened (missing files, STAC items without their assets...) and chips
        that failed; the other scenes' chips are still made.
    """
    start = time.perf_counter()
    if not isinstance(copies, int) or copies < 1:
        raise ParameterError(f"copies must be >= 1, got {copies!r}")
    if rasterize_vectors is not None and (vectors is None or labels is not None):
        raise ParameterError("rasterize_vectors makes the label rasters from vectors: give vectors, and no labels")
    if vectors is not None:
        from .vectors import VECTOR_SUFFIXES, read_vectors

        if Path(vectors).suffix.lower() not in VECTOR_SUFFIXES:
            raise ParameterError(f"{vectors}: vector labels are .geojson, .json or .gpkg files")
        read_vectors(vectors)  # a missing or unreadable file is reported before any chip is cut
    sampler = make_sampler(size, count, stride, overlap, min_valid, balance, max_tries)
    pipe = _pipeline(pipeline)
    pipe_dict = pipe.to_dict() if pipe is not None and hasattr(pipe, "to_dict") else None
    if pipe is not None and pipe_dict is None:
        from .transforms.compose import Compose

        pipe_dict = Compose([pipe]).to_dict()
    out_dir = check_output_dir(Path(output_dir)).resolve()
    errors: list[tuple[str, str]] = []
    found = find_scenes(scenes, stack=stack, bands=bands, errors=errors, same_crs=same_crs, nodata=nodata)
    summary = Summary(files=len(found) + len(errors), output_dir=str(out_dir))
    for where, msg in errors:
        summary.failures += 1
        summary.failed_files.append((where, msg))
    cfg = {"pipeline": pipe_dict, "size": list(size) if isinstance(size, tuple) else size, "count": count,
           "stride": stride, "overlap": overlap, "min_valid": min_valid, "balance": balance,
           "max_tries": max_tries, "copies": copies, "seed": seed, "nodata": nodata, "per_band": per_band,
           "label_field": label_field,
           **({"vectors": str(Path(vectors).resolve()), "rasterize_vectors": rasterize_vectors} if vectors else {})}
    config_json = json.dumps(cfg, sort_keys=True)
    tasks: list[ChipTask] = []
    for s in found:
        try:
            tasks.extend(_tasks(s, sampler, labels, len(found) == 1, workers,
                                workers is not None or scheduler is not None, block))
        except GeoAugError as exc:  # e.g. a chip larger than this scene
            summary.failures += 1
            summary.failed_files.append((s.name, str(exc)))
    clean_partials(out_dir)
    for t in tasks:
        (out_dir / scene_folder(t.scene)).mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    results: list[dict[str, Any]] = [{"scene": w, "status": "failed", "error": m} for w, m in errors]
    failed_scenes: set[str] = set()

    with open(manifest, "w") as live:
        def record(task: ChipTask, lines: list[dict[str, Any]]) -> bool:
            results.extend(lines)
            for ln in lines:
                live.write(json.dumps(ln, sort_keys=True) + "\n")
            live.flush()
            failed = [ln for ln in lines if ln["status"] == "failed"]
            if failed and task.scene.name not in failed_scenes:
                failed_scenes.add(task.scene.name)
                summary.failures += 1
                summary.failed_files.append((task.scene.name, failed[0]["error"]))
            summary.outputs += sum(ln["status"] == "ok" for ln in lines)
            summary.skipped += sum(ln["status"] == "skipped" for ln in lines)
            summary.megapixels += sum(ln.get("pixels", 0) for ln in lines if ln["status"] == "ok") / 1e6
            counts: dict[str, int] = {}
            add_vector_counts(counts, lines)
            for key, n in counts.items():  # the file's own counts once, the per-chip ones summed
                summary.vectors[key] = n if key in ("read", "null", "repaired", "assumed_wgs84") \
                    else summary.vectors.get(key, 0) + n
            if on_result:
                on_result(task, lines)
            return bool(failed)

        if workers is None and scheduler is None:
            for t in tasks:
                if record(t, run_chip_task(t, config_json, str(out_dir), overwrite)) and fail_fast:
                    break
        else:
            from dask.distributed import as_completed

            with dask_client(workers, scheduler) as client:
                futures = {client.submit(run_chip_task, t, config_json, str(out_dir), overwrite, pure=False,
                                         key=f"geoaug-chip-{i}-{time.time_ns()}"): t for i, t in enumerate(tasks)}
                for fut in as_completed(list(futures)):
                    t = futures[fut]
                    try:
                        lines = fut.result()
                    except Exception as exc:  # worker died, lost connection
                        lines = [{"scene": t.scene.name, "index": i, "copy": k, "status": "failed",
                                  "error": f"{t.scene.name}: task failed on the cluster: {exc}"}
                                 for i in t.indexes for k in range(copies)]
                    if record(t, lines) and fail_fast:
                        for f in futures:
                            f.cancel()
                        break
    tmp = manifest.with_name(f".{MANIFEST}.part-final")
    with open(tmp, "w") as fh:
        for ln in sorted(results, key=lambda x: (x["scene"], x.get("index", -1), x.get("copy", -1))):
            fh.write(json.dumps(ln, sort_keys=True) + "\n")
    os.replace(tmp, manifest)
    summary.seconds = time.perf_counter() - start
    return summary
