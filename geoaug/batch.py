"""Batch augmentation of a folder of tiles: plan, run one task per input, write a manifest.

One task per input file: it reads the tile (and its label raster), makes
every copy with its own generator (:func:`geoaug.seeding.rng_for`), writes
each output atomically and returns the manifest lines. Tasks run in-process
or on Dask workers; workers read and write paths themselves, so no pixel
passes through the client. Outputs are byte-identical whatever runs them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import GeoAugError, ParameterError, RasterWriteError
from .seeding import rng_for

__all__ = ["MANIFEST", "Summary", "Task", "augment_folder", "label_name", "output_name", "plan", "run_task"]

MANIFEST = "manifest.jsonl"
_PART = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one input file (paths are absolute strings)."""

    input: str
    rel: str
    outputs: tuple[str, ...]
    label: str | None = None
    label_outputs: tuple[str, ...] = ()


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

    @property
    def mpx_per_s(self) -> float:
        """Output megapixels (rows x cols, all copies) per second."""
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0


def output_name(rel: str, copy: int) -> str:
    """``a/b.tif`` -> ``a/b_aug<copy>.tif``."""
    p = Path(rel)
    return (p.parent / f"{p.stem}_aug{copy}{p.suffix}").as_posix()


def label_name(rel: str, copy: int) -> str:
    """``a/b.tif`` -> ``a/b_aug<copy>_label.tif``: the label raster beside its image."""
    p = Path(rel)
    return (p.parent / f"{p.stem}_aug{copy}_label{p.suffix}").as_posix()


def find_inputs(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files under ``root`` (recursive) matching any of ``patterns``, hidden files excluded, sorted."""
    found: set[Path] = set()
    for pat in patterns:
        found.update(p for p in root.rglob(pat) if p.is_file() and not p.name.startswith("."))
    return sorted(found)


def plan(
    input_dir: Path, output_dir: Path, copies: int, patterns: Sequence[str] = ("*.tif", "*.tiff"),
    labels_dir: Path | None = None,
) -> list[Task]:
    """One :class:`Task` per input file; outputs mirror the input tree."""
    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir).resolve()
    tasks = []
    for f in find_inputs(input_dir, patterns):
        if output_dir == f.parent or output_dir in f.parents:
            continue  # never take our own outputs as inputs
        rel = f.relative_to(input_dir).as_posix()
        # a tile without a label raster of the same relative name is augmented on its own
        lab = Path(labels_dir).resolve() / rel if labels_dir is not None else None
        label = str(lab) if lab is not None and lab.is_file() else None
        tasks.append(Task(
            input=str(f), rel=rel,
            outputs=tuple(str(output_dir / output_name(rel, k)) for k in range(copies)),
            label=label,
            label_outputs=tuple(str(output_dir / label_name(rel, k)) for k in range(copies)) if label else (),
        ))
    return tasks


@functools.lru_cache(maxsize=8)
def _pipeline(pipeline_json: str) -> Any:
    from .transforms.compose import Compose

    return Compose.from_dict(json.loads(pipeline_json))


def _header(path: str) -> tuple[int, int, int, str]:
    """count, height, width, dtype of a raster without reading pixels."""
    import rasterio

    with rasterio.open(path) as src:
        return src.count, src.height, src.width, src.dtypes[0]


def run_task(task: Task, pipeline_json: str, seed: int, overwrite: bool = False) -> list[dict[str, Any]]:
    """Make every copy of one input; return one manifest line per output.

    Runs anywhere (in-process or on a Dask worker): it reads and writes the
    paths in ``task`` itself. Outputs already present are skipped (their
    record is re-derived from the seed, without reading pixels) unless
    ``overwrite``. Errors are reported in the lines, never raised.
    """
    import numpy as np

    from .io import read, write
    from .raster import GeoRaster
    from .transforms.compose import _proxy

    pipe = _pipeline(pipeline_json)
    lines: list[dict[str, Any]] = []
    base = {"input": task.rel}
    todo = []
    for k, out in enumerate(task.outputs):
        lab = task.label_outputs[k] if task.label else None
        done = Path(out).exists() and (lab is None or Path(lab).exists())
        todo.append(overwrite or not done)
    image = label = None
    header: tuple[int, int, int, str] | None = None
    try:
        if any(todo):
            image = read(task.input)
            if task.label:
                label = read(task.label)
                if label.shape[1:] != image.shape[1:]:
                    raise ParameterError(f"{task.label}: label grid {label.shape[1:]} differs from the image's "
                                         f"{image.shape[1:]}")
        for k, out in enumerate(task.outputs):
            line: dict[str, Any] = {**base, "output": out, "copy": k}
            if task.label:
                line["label_output"] = task.label_outputs[k]
            rng = rng_for(seed, task.rel, k)
            if not todo[k]:
                if header is None:
                    header = _header(task.input)
                count, h, w, dt = header
                line["params"] = pipe.sample(rng, _proxy(count, h, w, np.dtype(dt)))
                line["status"] = "skipped"
                _, oh, ow, _ = _header(out)
                line["pixels"] = oh * ow
                lines.append(line)
                continue
            assert isinstance(image, GeoRaster)
            record = pipe.sample(rng, image)
            result = pipe.apply(image, record)
            write(result, out)
            if label is not None:
                write(pipe.apply_label(label, record), task.label_outputs[k])
            line.update(params=record, status="ok", pixels=result.height * result.width)
            lines.append(line)
    except (GeoAugError, OSError, ValueError, MemoryError) as exc:
        msg = str(exc) if isinstance(exc, GeoAugError) else f"{task.input}: {type(exc).__name__}: {exc}"
        done_copies = {ln["copy"] for ln in lines}
        for k, out in enumerate(task.outputs):
            if k not in done_copies:
                lines.append({**base, "output": out, "copy": k, "status": "failed", "error": msg})
    except Exception as exc:  # a bug: report it with its traceback rather than lose the batch
        tb = traceback.format_exc(limit=3)
        msg = f"{task.input}: unexpected {type(exc).__name__}: {exc}\n{tb}"
        done_copies = {ln["copy"] for ln in lines}
        for k, out in enumerate(task.outputs):
            if k not in done_copies:
                lines.append({**base, "output": out, "copy": k, "status": "failed", "error": msg})
    return lines


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


def _clean_partials(output_dir: Path) -> int:
    """Remove temporary ``.*.part`` files an interrupted run left behind."""
    n = 0
    for p in output_dir.rglob("*.part"):
        if _PART.match(p.name):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n


def _relative(line: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    out = dict(line)
    for key in ("output", "label_output"):
        if key in out:
            out[key] = Path(out[key]).relative_to(output_dir).as_posix()
    return out


def _mkdirs(tasks: list[Task]) -> None:
    for t in tasks:
        for o in (*t.outputs, *t.label_outputs):
            Path(o).parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None, numba_threads: int | None = None) -> Iterator[Any]:
    """A client of ``scheduler``, or of a local cluster of ``workers`` processes (closed afterwards).

    Local workers get ``numba_threads`` numba threads each (default: cores / workers).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    threads = numba_threads or max(1, (os.cpu_count() or 1) // max(1, workers or 1))
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=64 KiB in workers; that switches off glibc's
    # adaptive mmap threshold, so every large array is a fresh mmap and page-faults: tasks ran
    # 1.6x slower. Unset it for the clusters we start (see docs/cli.md for existing clusters).
    # The workers' statistical profiler samples every thread's stack every 10 ms; with one
    # worker per core it competed with the tasks (measured: 2 workers were 1.1x one). Off here.
    # NUMBA_NUM_THREADS must be in the environment before the worker imports numba: the nanny's
    # `env` arrives too late (each worker then ran 2 numba threads on 2 cores: 2 workers were
    # 1.1x one), so it goes into the pre-spawn environment.
    settings = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                "distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": str(threads),
                "distributed.worker.profile.enabled": False}
    # the nanny lets this process's environment override that configuration (and writes the
    # pre-spawn values into it), so the variable is set here too while the workers start
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    try:
        with dask.config.set(settings):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1"})
    finally:
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = saved
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


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
) -> Summary:
    """Augment every raster under ``input_dir`` into ``output_dir``.

    Parameters
    ----------
    input_dir, output_dir : path-like
        ``output_dir`` mirrors the input tree: copy ``k`` of ``a/b.tif`` is
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
        File name patterns searched recursively under ``input_dir``.
    labels_dir : path-like, optional
        Label rasters with the same relative names get the same draw (nearest);
        inputs without one are augmented alone.
    fail_fast : bool
        Stop at the first failed input.
    overwrite : bool
        Redo outputs that exist (default: skip them; outputs are written
        atomically, so an existing one is complete).
    on_result : callable, optional
        Called with each finished task and its manifest lines (progress).

    Returns
    -------
    Summary
        ``OUTPUT/manifest.jsonl`` holds one line per output, sorted by input and copy.
    """
    from .transforms.compose import Compose

    start = time.perf_counter()
    if copies < 1:
        raise ParameterError(f"copies must be >= 1, got {copies}")
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise ParameterError(f"{input_dir}: input folder does not exist")
    out_dir = check_output_dir(Path(output_dir)).resolve()
    pipe_dict = pipeline.to_dict() if isinstance(pipeline, Compose) else Compose.from_dict(pipeline).to_dict()
    pipeline_json = json.dumps(pipe_dict, sort_keys=True)
    tasks = plan(input_dir, out_dir, copies, patterns, Path(labels_dir) if labels_dir else None)
    _clean_partials(out_dir)
    _mkdirs(tasks)
    manifest = out_dir / MANIFEST
    summary = Summary(files=len(tasks), output_dir=str(out_dir))
    results: dict[str, list[dict[str, Any]]] = {}

    with open(manifest, "w") as live:
        def record(task: Task, lines: list[dict[str, Any]]) -> bool:
            rel_lines = [_relative(ln, out_dir) for ln in lines]
            results[task.rel] = rel_lines
            for ln in rel_lines:
                live.write(json.dumps(ln, sort_keys=True) + "\n")
            live.flush()
            failed = [ln for ln in lines if ln["status"] == "failed"]
            if failed:
                summary.failures += 1
                summary.failed_files.append((task.rel, failed[0]["error"]))
            summary.outputs += sum(ln["status"] == "ok" for ln in lines)
            summary.skipped += sum(ln["status"] == "skipped" for ln in lines)
            summary.megapixels += sum(ln.get("pixels", 0) for ln in lines if ln["status"] == "ok") / 1e6
            if on_result:
                on_result(task, rel_lines)
            return bool(failed)

        if workers is None and scheduler is None:
            for t in tasks:
                if record(t, run_task(t, pipeline_json, seed, overwrite)) and fail_fast:
                    break
        else:
            from dask.distributed import as_completed

            with _dask_client(workers, scheduler) as client:
                futures = {client.submit(run_task, t, pipeline_json, seed, overwrite, pure=False,
                                         key=f"geoaug-{i}-{time.time_ns()}"): t for i, t in enumerate(tasks)}
                for fut in as_completed(list(futures)):
                    t = futures[fut]
                    try:
                        lines = fut.result()
                    except Exception as exc:  # worker died, lost connection
                        lines = [{"input": t.rel, "output": o, "copy": k, "status": "failed",
                                  "error": f"{t.input}: task failed on the cluster: {exc}"}
                                 for k, o in enumerate(t.outputs)]
                    if record(t, lines) and fail_fast:
                        for f in futures:
                            f.cancel()
                        break
    # the final manifest: sorted, written atomically over the live one
    tmp = manifest.with_name(f".{MANIFEST}.part-final")
    with open(tmp, "w") as fh:
        for rel in sorted(results):
            for ln in sorted(results[rel], key=lambda x: x["copy"]):
                fh.write(json.dumps(ln, sort_keys=True) + "\n")
    os.replace(tmp, manifest)
    summary.seconds = time.perf_counter() - start
    return summary


def summary_dict(s: Summary) -> dict[str, Any]:
    """The summary as plain data (for JSON output)."""
    d = asdict(s)
    d["mpx_per_s"] = s.mpx_per_s
    return d
