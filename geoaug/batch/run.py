"""Running a batch job: one task per input (in-process or on Dask), atomic writes, the summary."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GeoAugError, ParameterError, RasterWriteError
from ..seeding import rng_for
from .dask import dask_client
from .manifest import (
    MANIFEST,
    RUN_FILE,
    check_rerun,
    fingerprint,
    relative_line,
    remove_stale,
    write_json_atomic,
)
from .plan import (
    AUTO,
    Task,
    check_output_dir,
    make_folders,
    plan,
    resolve_inputs,
)

__all__ = [
    "FULL_ERRNOS",
    "DiskFullError",
    "Summary",
    "augment_folder",
    "clean_partials",
    "format_rate",
    "run_task",
    "summary_dict",
]


_PART = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")


#: the write failures that stop a run: no space, file too large (RLIMIT_FSIZE), quota exceeded
FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class DiskFullError(RasterWriteError):
    """A write failed because the disk, the file-size limit or the quota is full; ``errno`` says which."""


@dataclass
class Summary:
    """What a batch run did."""

    files: int = 0
    outputs: int = 0
    skipped: int = 0
    failures: int = 0
    failed_files: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0
    output_dir: str = ""
    #: why the run stopped early (a full disk), or "" when every input was tried
    stopped: str = ""
    #: outputs of earlier runs removed by ``overwrite`` because this run does not make them
    removed: int = 0
    #: (input, note) for inputs written differently from their source, e.g. a lossy codec replaced
    notes: list[tuple[str, str]] = field(default_factory=list)
    #: vector labels: features ``read``, ``null`` (no geometry, dropped), ``repaired``, ``assumed_wgs84``
    #: (files), and over every output ``kept``, ``clipped`` and ``outside`` (dropped from that output)
    vectors: dict[str, int] = field(default_factory=dict)

    def add_vectors(self, lines: list[dict[str, Any]]) -> None:
        """Count the vector labels of one input's manifest lines (per file once, per output summed)."""
        add_vector_counts(self.vectors, lines)

    @property
    def mpx_per_s(self) -> float:
        """Output megapixels (rows x cols, all copies) per second."""
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0

    @property
    def rate(self) -> str:
        """Output pixels per second with a unit that suits the size: ``px/s``, ``kpx/s`` or ``Mpx/s``."""
        return format_rate(self.megapixels * 1e6, self.seconds)


#: vector counts that describe the file (counted once per input), the others describe each output
_PER_FILE = ("read", "null", "repaired", "assumed_wgs84")


def add_vector_counts(total: dict[str, int], lines: list[dict[str, Any]]) -> None:
    """Add the ``"vectors"`` counts of one input's (or scene's) manifest lines to ``total``."""
    counted = [ln["vectors"] for ln in lines if ln.get("vectors") and ln.get("status") == "ok"]
    if not counted:
        return
    for key in _PER_FILE:
        if counted[0].get(key):
            total[key] = total.get(key, 0) + int(counted[0][key])
    for c in counted:
        for key in ("kept", "clipped", "outside"):
            total[key] = total.get(key, 0) + int(c.get(key, 0))


def format_rate(pixels: float, seconds: float) -> str:
    """``pixels / seconds`` with three significant digits and a unit: px/s, kpx/s, Mpx/s or Gpx/s.

    Examples
    --------
    >>> format_rate(2_500_000, 2.0), format_rate(46_000, 1.0), format_rate(12, 4.0), format_rate(0, 0)
    ('1.25 Mpx/s', '46 kpx/s', '3 px/s', '0 px/s')
    """
    rate = pixels / seconds if seconds > 0 else 0.0
    for unit, scale in (("Gpx/s", 1e9), ("Mpx/s", 1e6), ("kpx/s", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.3g} {unit}"
    return f"{rate:.3g} px/s"


@functools.lru_cache(maxsize=8)
def _pipeline(pipeline_json: str) -> Any:
    from ..transforms.serialize import as_pipeline

    return as_pipeline(pipeline_json)


def _header(task: Task) -> tuple[int, int, int, str]:
    """count, height, width, dtype of a task's input (a raster or a band stack) without reading pixels."""
    from ..io import read_header, stack_header

    if task.bands:
        return stack_header(task.bands)
    h = read_header(task.input)
    return h["count"], h["height"], h["width"], h["dtype"]


def _output_size(path: str) -> int:
    from ..io import read_header

    h = read_header(path)
    return int(h["height"] * h["width"])


def _errno_in_chain(exc: BaseException) -> int | None:
    """The errno of the first OSError in ``exc``'s cause/context chain that has one."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and isinstance(e.errno, int) and e.errno in FULL_ERRNOS:
            return e.errno
        text = str(e)
        for code in FULL_ERRNOS:
            if os.strerror(code) in text:
                return code
        e = e.__cause__ or e.__context__
    return None


def _probe_errno(folder: Path, nbytes: int) -> int | None:
    """Ask the OS why a write of ``nbytes`` into ``folder`` fails: write that much (at most 64 MiB)
    into a temporary file and return the errno, or None if it works."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY and nbytes > soft:
        return errno.EFBIG
    probe = folder / f".geoaug-probe-{os.getpid()}-{time.time_ns()}.part"
    todo, chunk = min(nbytes, 64 * 1024**2), b"\0" * 1024**2
    try:
        with open(probe, "wb") as fh:
            while todo > 0:
                todo -= fh.write(chunk[: min(todo, len(chunk))])
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return exc.errno
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _write(raster: Any, path: str) -> None:
    """:func:`geoaug.io.write`, with the OS cause of a failure in the message.

    GDAL reports a full disk as "Write failed"; the cause is looked up in the
    exception chain, then asked of the OS by a probe write of the same size in
    the same folder. A full disk, file-size limit or quota raises
    :class:`DiskFullError`.
    """
    from ..io import write

    try:
        write(raster, path)
    except RasterWriteError as exc:
        code = _errno_in_chain(exc)
        if code is None:
            code = _probe_errno(Path(path).parent, int(raster.data.nbytes))
        if code is None:
            raise
        msg = str(exc) if os.strerror(code) in str(exc) else f"{exc} ({os.strerror(code)})"
        err = DiskFullError(msg) if code in FULL_ERRNOS else RasterWriteError(msg)
        err.errno, err.strerror = code, os.strerror(code)
        raise err from exc


def _write_vectors(layer: Any, result: Any, task: Task, k: int) -> dict[str, int]:
    """Clip the input's vector labels to output ``k`` and write them (and their label raster); their counts."""
    from ..vectors import clip_to_output, label_raster, write_vectors

    clipped = clip_to_output(layer, result.transform, (result.height, result.width), result.crs)
    write_vectors(clipped, task.vector_outputs[k])
    if task.rasterize_vectors is not None:
        _write(label_raster(clipped, result, task.rasterize_vectors), task.label_outputs[k])
    return dict(clipped.counts)


def run_task(task: Task, pipeline_json: str, seed: int, overwrite: bool = False,
             nodata: float | None = None) -> list[dict[str, Any]]:
    """Make every copy of one input; return one manifest line per output.

    Runs anywhere (in-process or on a Dask worker): it reads and writes the
    paths in ``task`` itself. Outputs already present are skipped (their
    record is re-derived from the seed, without reading pixels) unless
    ``overwrite``. ``nodata`` overrides the input's nodata (not the label's).
    Errors are reported in the lines, never raised; a full disk marks the
    failed lines with ``"stop"`` (the errno name).
    """
    import numpy as np

    from ..io import lossless_note, read, read_stack
    from ..raster import GeoRaster

    pipe = _pipeline(pipeline_json)
    lines: list[dict[str, Any]] = []
    base = {"input": task.rel}
    todo = []
    for k in range(len(task.outputs)):
        done = all(Path(o).exists() for o in task.copy_outputs(k))
        todo.append(overwrite or not done)
    image = label = layer = None
    header: tuple[int, int, int, str] | None = None
    stop = None
    try:
        if task.error:
            raise ParameterError(task.error)
        if any(todo):
            image = read_stack(task.bands, nodata=nodata) if task.bands else read(task.input, nodata=nodata)
            if task.label:
                label = read(task.label)
                if label.shape[1:] != image.shape[1:]:
                    raise ParameterError(f"{task.label}: label grid {label.shape[1:]} differs from the image's "
                                         f"{image.shape[1:]}")
            if task.vector:
                from ..vectors import read_vectors

                layer = read_vectors(task.vector)
        for k, out in enumerate(task.outputs):
            line: dict[str, Any] = {**base, "output": out, "copy": k}
            if task.label_outputs:
                line["label_output"] = task.label_outputs[k]
            if task.band_outputs:
                line["band_outputs"] = list(task.band_outputs[k])
            if task.vector:
                line["vector_output"] = task.vector_outputs[k]
            rng = rng_for(seed, task.rel, k)
            if not todo[k]:
                if header is None:
                    header = _header(task)
                count, h, w, dt = header
                line["params"] = pipe.sample(rng, GeoRaster.proxy(count, h, w, np.dtype(dt)))
                line["status"] = "skipped"
                line["pixels"] = _output_size(out)
                lines.append(line)
                continue
            assert isinstance(image, GeoRaster)
            record = pipe.sample(rng, image)
            result = pipe.apply(image, record)
            if task.band_outputs:  # one file per band, all from the one draw
                for b, band_out in enumerate(task.band_outputs[k]):
                    _write(result.select([b]), band_out)
            else:
                _write(result, out)
            if label is not None:
                _write(pipe.apply_label(label, record), task.label_outputs[k])
            if layer is not None:
                line["vectors"] = _write_vectors(layer, result, task, k)
            line.update(params=record, status="ok", pixels=result.height * result.width)
            note = lossless_note(image)
            if note:
                line["note"] = note
            lines.append(line)
    except (GeoAugError, OSError, ValueError, MemoryError) as exc:
        _reraise_interrupt(exc)
        msg = str(exc) if isinstance(exc, GeoAugError) else f"{task.input}: {type(exc).__name__}: {exc}"
        if isinstance(exc, DiskFullError) and exc.errno is not None:
            stop = errno.errorcode.get(exc.errno, str(exc.errno))
        _fail_rest(lines, task, base, msg, stop)
    except Exception as exc:  # a bug: report it with its traceback rather than lose the batch
        _reraise_interrupt(exc)
        tb = traceback.format_exc(limit=3)
        _fail_rest(lines, task, base, f"{task.input}: unexpected {type(exc).__name__}: {exc}\n{tb}", None)
    return lines


def _reraise_interrupt(exc: BaseException) -> None:
    """Raise KeyboardInterrupt if ``exc`` wraps one (Ctrl-C inside a numba kernel surfaces as a
    SystemError whose context is the KeyboardInterrupt; GDAL may turn it into a write error)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        seen.add(id(e))
        e = e.__cause__ or e.__context__


def _fail_rest(lines: list[dict[str, Any]], task: Task, base: dict[str, Any], msg: str, stop: str | None) -> None:
    done_copies = {ln["copy"] for ln in lines}
    for k, out in enumerate(task.outputs):
        if k not in done_copies:
            line = {**base, "output": out, "copy": k, "status": "failed", "error": msg}
            if stop:
                line["stop"] = stop
            lines.append(line)


def clean_partials(output_dir: Path) -> int:
    """Remove temporary ``.*.part`` files an interrupted run left behind."""
    n = 0
    for p in output_dir.rglob("*.part"):
        if _PART.match(p.name):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n


def augment_folder(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    pipeline: Any,
    copies: int = 1,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    patterns: Sequence[str] = ("*.tif", "*.tiff"),
    labels_dir: str | os.PathLike[str] | None = None,
    fail_fast: bool = False,
    overwrite: bool = False,
    on_result: Callable[[Task, list[dict[str, Any]]], None] | None = None,
    nodata: float | None = None,
    stack: str | Sequence[str] | None = AUTO,
    per_band: bool = False,
    vectors_dir: str | os.PathLike[str] | None = None,
    rasterize_vectors: str | None = None,
) -> Summary:
    """Augment every raster under ``input_dir`` into ``output_dir``.

    Parameters
    ----------
    input_dir : path-like or str
        A folder (searched recursively), one file, or a glob such as
        ``tiles/**/*_L2A.tif`` (:func:`resolve_inputs`).
    output_dir : path-like
        Mirrors the input tree: copy ``k`` of ``a/b.tif`` is
        ``a/b_aug<k>.tif`` (labels: ``a/b_aug<k>_label.tif``).
    pipeline : Compose or dict
        The policy (its own seed is not used: each output has
        ``rng_for(seed, relative_path, k)``).
    copies : int
        Augmented copies per input.
    seed : int
        Base seed of every output's generator.
    workers : int, optional
        Start a local Dask cluster of this many worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``).
    patterns : sequence of str
        File name patterns searched recursively under a folder ``input_dir``.
    labels_dir : path-like, optional
        Label rasters with the same relative names get the same draw (nearest);
        inputs without one are augmented alone.
    fail_fast : bool
        Stop at the first failed input.
    overwrite : bool
        Redo every output, and remove outputs an earlier run listed that this
        run does not make. Default: resume, i.e. skip outputs that exist
        (written atomically, so complete) when the folder was made by a run
        with the same :func:`fingerprint`; a folder made by another run is
        refused with :class:`RerunMismatchError`.
    on_result : callable, optional
        Called with each finished task and its manifest lines (progress).
    nodata : float, optional
        Nodata override for the inputs (pixels equal to it are invalid).
    stack : "auto", sequence of str or None
        ``"auto"`` (default): the band files of one scene (``<prefix>_B02.tif``
        ..., Landsat ``*_SR_B4.TIF``, a SAFE ``IMG_DATA`` tree with
        ``--pattern '*.jp2'``) are one input, stacked onto the finest band's
        grid, drawn once and written as one multi-band GeoTIFF with band names.
        A band order (``["B04", "B03", "B02"]``) stacks those bands of every
        scene and leaves other files out; ``None`` takes every file on its own.
    per_band : bool
        Write a stack's copy as one GeoTIFF per band (``<band file>_aug<k>.tif``),
        all from the same draw.
    vectors_dir : path-like, optional
        Vector labels (GeoJSON/GeoPackage) with the same relative names
        (``a/b.geojson`` for ``a/b.tif``): clipped to each output's footprint
        and written beside it in its CRS as ``a/b_aug<k>.geojson`` (or ``.gpkg``).
    rasterize_vectors : str, optional
        Attribute of the vector labels (whole numbers) burnt onto each
        output's grid as its label raster ``a/b_aug<k>_label.tif`` (not with
        ``labels_dir``).

    Returns
    -------
    Summary
        ``OUTPUT/manifest.jsonl`` holds one line per output, sorted by input
        and copy. An input that fails leaves no output: copies written before
        the failure are removed and every copy is reported failed. A full
        disk (ENOSPC, EFBIG, EDQUOT) stops the run after the first failure
        (``Summary.stopped``); a rerun resumes.
    """
    from ..transforms.compose import Compose

    start = time.perf_counter()
    if copies < 1:
        raise ParameterError(f"copies must be >= 1, got {copies}")
    resolve_inputs(input_dir, patterns)  # a clear error for a missing input before the output folder is made
    out_dir = check_output_dir(Path(output_dir)).resolve()
    pipe_dict = pipeline.to_dict() if isinstance(pipeline, Compose) else Compose.from_dict(pipeline).to_dict()
    pipeline_json = json.dumps(pipe_dict, sort_keys=True)
    tasks = plan(Path(input_dir), out_dir, copies, patterns, Path(labels_dir) if labels_dir else None,
                 stack=stack, per_band=per_band, vectors_dir=Path(vectors_dir) if vectors_dir else None,
                 rasterize_vectors=rasterize_vectors)
    fp = fingerprint(pipeline_json, seed, copies, tasks, nodata)
    _, old_lines = check_rerun(out_dir, tasks, fp, overwrite)
    summary = Summary(files=len(tasks), output_dir=str(out_dir))
    if overwrite:
        summary.removed = remove_stale(out_dir, old_lines, tasks)
    try:
        write_json_atomic(out_dir / RUN_FILE, fp)
    except OSError as exc:
        raise RasterWriteError(f"{out_dir / RUN_FILE}: cannot write the run record: {exc.strerror}") from exc
    clean_partials(out_dir)
    make_folders(tasks)
    manifest = out_dir / MANIFEST
    results: dict[str, list[dict[str, Any]]] = {}

    with open(manifest, "w") as live:
        def record(task: Task, lines: list[dict[str, Any]]) -> bool:
            """Count and log one task; True if the run should stop (fail-fast, full disk)."""
            failed = [ln for ln in lines if ln["status"] == "failed"]
            if failed:  # all or nothing: a failed input leaves no output
                for o in task.all_outputs():
                    with contextlib.suppress(OSError):
                        os.unlink(o)
                first = failed[0]
                lines = [{k: v for k, v in {**ln, "status": "failed", "error": first["error"],
                                             "stop": first.get("stop")}.items()
                          if k not in ("params", "pixels") and v is not None} for ln in lines]
            rel_lines = [relative_line({**ln, "fingerprint": fp["fingerprint"]}, out_dir) for ln in lines]
            results[task.rel] = rel_lines
            try:
                for ln in rel_lines:
                    live.write(json.dumps(ln, sort_keys=True) + "\n")
                live.flush()
            except OSError as exc:  # the manifest itself hit a full disk: stop (a rerun resumes)
                summary.stopped = f"{manifest}: cannot write the manifest: {exc.strerror}"
            if failed:
                summary.failures += 1
                summary.failed_files.append((task.rel, failed[0]["error"]))
                if failed[0].get("stop"):
                    summary.stopped = failed[0]["error"]
            summary.outputs += sum(ln["status"] == "ok" for ln in lines)
            note = next((ln["note"] for ln in lines if ln.get("note")), None)
            if note:
                summary.notes.append((task.rel, note))
            summary.skipped += sum(ln["status"] == "skipped" for ln in lines)
            summary.megapixels += sum(ln.get("pixels", 0) for ln in lines if ln["status"] == "ok") / 1e6
            summary.add_vectors(lines)
            if on_result:
                on_result(task, rel_lines)
            return bool(summary.stopped) or (bool(failed) and fail_fast)

        if workers is None and scheduler is None:
            for t in tasks:
                if record(t, run_task(t, pipeline_json, seed, overwrite, nodata)):
                    break
        else:
            from dask.distributed import as_completed

            with dask_client(workers, scheduler) as client:
                futures = {client.submit(run_task, t, pipeline_json, seed, overwrite, nodata, pure=False,
                                         key=f"geoaug-{i}-{time.time_ns()}"): t for i, t in enumerate(tasks)}
                try:
                    for fut in as_completed(list(futures)):
                        t = futures[fut]
                        try:
                            lines = fut.result()
                        except Exception as exc:  # worker died, lost connection
                            lines = [{"input": t.rel, "output": o, "copy": k, "status": "failed",
                                      "error": f"{t.input}: task failed on the cluster: {exc}"}
                                     for k, o in enumerate(t.outputs)]
                        if record(t, lines):
                            break
                finally:  # stop, fail-fast or Ctrl-C: nothing more starts
                    client.cancel(list(futures))
    # the final manifest: sorted, written atomically over the live one
    tmp = manifest.with_name(f".{MANIFEST}.part-final")
    try:
        with open(tmp, "w") as fh:
            for rel in sorted(results):
                for ln in sorted(results[rel], key=lambda x: x["copy"]):
                    fh.write(json.dumps(ln, sort_keys=True) + "\n")
        os.replace(tmp, manifest)
    except OSError as exc:  # the live manifest (unsorted, maybe partial) stays; a rerun resumes
        with contextlib.suppress(OSError):
            tmp.unlink()
        summary.stopped = summary.stopped or f"{manifest}: cannot write the manifest: {exc.strerror}"
    summary.seconds = time.perf_counter() - start
    return summary


def summary_dict(s: Summary) -> dict[str, Any]:
    """The summary as plain data (for JSON output)."""
    d = asdict(s)
    d["mpx_per_s"] = s.mpx_per_s
    return d
