"""Batch augmentation of a folder of tiles: plan, run one task per input, write a manifest.

One task per input file: it reads the tile (and its label raster), makes
every copy with its own generator (:func:`geoaug.seeding.rng_for`), writes
each output atomically and returns the manifest lines. Tasks run in-process
or on Dask workers; workers read and write paths themselves, so no pixel
passes through the client. Outputs are byte-identical whatever runs them.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import hashlib
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

__all__ = ["MANIFEST", "RUN_FILE", "DiskFullError", "RerunMismatchError", "Summary", "Task", "augment_folder",
           "fingerprint", "format_rate", "label_name", "output_name", "plan", "resolve_inputs", "run_task"]

MANIFEST = "manifest.jsonl"
#: written before any output: what the run in this folder is (its fingerprint and what went into it)
RUN_FILE = ".geoaug-run.json"
_PART = re.compile(r"^\..+\.[0-9a-f]{12}\.part$")
#: the write failures that stop a run: no space, file too large (RLIMIT_FSIZE), quota exceeded
FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class RerunMismatchError(GeoAugError, ValueError):
    """The output folder holds outputs of another run (other pipeline, seed, copies, nodata or inputs)."""


class DiskFullError(RasterWriteError):
    """A write failed because the disk, the file-size limit or the quota is full; ``errno`` says which."""


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
    #: why the run stopped early (a full disk), or "" when every input was tried
    stopped: str = ""
    #: outputs of earlier runs removed by ``overwrite`` because this run does not make them
    removed: int = 0
    #: (input, note) for inputs written differently from their source, e.g. a lossy codec replaced
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mpx_per_s(self) -> float:
        """Output megapixels (rows x cols, all copies) per second."""
        return self.megapixels / self.seconds if self.seconds > 0 else 0.0

    @property
    def rate(self) -> str:
        """Output pixels per second with a unit that suits the size: ``px/s``, ``kpx/s`` or ``Mpx/s``."""
        return format_rate(self.megapixels * 1e6, self.seconds)


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


def find_inputs(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files under ``root`` (recursive) matching any of ``patterns``, hidden files excluded, sorted."""
    found: set[Path] = set()
    for pat in patterns:
        found.update(p for p in root.rglob(pat) if p.is_file() and not p.name.startswith("."))
    return sorted(found)


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
    labels_dir: Path | None = None,
) -> list[Task]:
    """One :class:`Task` per input file; outputs mirror the input tree.

    ``input_dir`` may also be one file or a glob (:func:`resolve_inputs`).
    """
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
        tasks.append(Task(
            input=str(f), rel=rel,
            outputs=tuple(str(output_dir / output_name(rel, k)) for k in range(copies)),
            label=label,
            label_outputs=tuple(str(output_dir / label_name(rel, k)) for k in range(copies)) if label else (),
        ))
    return tasks


@functools.lru_cache(maxsize=8)
def _pipeline(pipeline_json: str) -> Any:
    from .transforms.serialize import as_pipeline

    return as_pipeline(pipeline_json)


def _header(path: str) -> tuple[int, int, int, str]:
    """count, height, width, dtype of a raster without reading pixels."""
    from .io import read_header

    h = read_header(path)
    return h["count"], h["height"], h["width"], h["dtype"]


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
    from .io import write

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

    from .io import lossless_note, read
    from .raster import GeoRaster

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
    stop = None
    try:
        if any(todo):
            image = read(task.input, nodata=nodata)
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
                line["params"] = pipe.sample(rng, GeoRaster.proxy(count, h, w, np.dtype(dt)))
                line["status"] = "skipped"
                _, oh, ow, _ = _header(out)
                line["pixels"] = oh * ow
                lines.append(line)
                continue
            assert isinstance(image, GeoRaster)
            record = pipe.sample(rng, image)
            result = pipe.apply(image, record)
            _write(result, out)
            if label is not None:
                _write(pipe.apply_label(label, record), task.label_outputs[k])
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


def clean_partials(output_dir: Path) -> int:
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
def dask_client(workers: int | None, scheduler: str | None, numba_threads: int | None = None) -> Iterator[Any]:
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
    import signal

    try:  # workers inherit an ignored SIGINT: Ctrl-C stops the client, which stops them (no tracebacks)
        saved_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        saved_int = None
    try:
        with dask.config.set(settings):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1"})
    finally:
        if saved_int is not None:
            signal.signal(signal.SIGINT, saved_int)
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


def _stat(path: str | None) -> list[Any] | None:
    if path is None:
        return None
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def fingerprint(pipeline_json: str, seed: int, copies: int, tasks: Sequence[Task],
                nodata: float | None = None) -> dict[str, Any]:
    """What a run is made of, and its SHA-256: the pipeline, seed, copies, nodata override and inputs.

    Inputs are their relative paths, sizes and modification times, and those
    of their label rasters. Two runs with the same fingerprint make the same
    outputs; the batch refuses to mix runs with different ones in one folder.
    """
    inputs = [[t.rel, _stat(t.input), _stat(t.label)] for t in tasks]
    parts = {
        "pipeline": hashlib.sha256(pipeline_json.encode()).hexdigest(),
        "seed": int(seed), "copies": int(copies), "nodata": nodata,
        "inputs": hashlib.sha256(json.dumps(inputs).encode()).hexdigest(), "files": len(tasks),
    }
    parts["fingerprint"] = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return parts


def _previous(out_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The run file and the manifest lines an earlier run left in ``out_dir``."""
    run = None
    with contextlib.suppress(OSError, ValueError):
        run = json.loads((out_dir / RUN_FILE).read_text())
    lines = []
    with contextlib.suppress(OSError):
        for text in (out_dir / MANIFEST).read_text().splitlines():
            with contextlib.suppress(ValueError):
                ln = json.loads(text)
                if isinstance(ln, dict):
                    lines.append(ln)
    return run if isinstance(run, dict) else None, lines


def _differences(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "no record of the run that made them"
    diffs = []
    for key, what in (("pipeline", "another pipeline"), ("inputs", "other inputs")):
        if old.get(key) != new[key]:
            diffs.append(what + (" (or inputs changed since)" if key == "inputs" else ""))
    for key in ("seed", "copies", "nodata"):
        if old.get(key) != new[key]:
            diffs.append(f"{key} {old.get(key)!r}, not {new[key]!r}")
    return ", ".join(diffs) or "another run"


def _check_rerun(out_dir: Path, tasks: list[Task], fp: dict[str, Any], overwrite: bool
                 ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Refuse to resume into a folder made by a run with another fingerprint (unless ``overwrite``)."""
    run, lines = _previous(out_dir)
    if overwrite:
        return run, lines
    ours = {fp["fingerprint"]}
    theirs = ({run["fingerprint"]} if run and "fingerprint" in run else set()) | {
        ln.get("fingerprint") for ln in lines}
    listed = [out_dir / ln[k] for ln in lines for k in ("output", "label_output") if isinstance(ln.get(k), str)]
    existing = any(Path(o).exists() for t in tasks for o in (*t.outputs, *t.label_outputs)) or any(
        p.exists() for p in listed)
    if theirs - ours and existing:
        raise RerunMismatchError(
            f"{out_dir}: holds outputs of another run ({_differences(run, fp)}); resuming would mix their draws "
            f"with this run's and the manifest would no longer describe the files. Use --overwrite "
            f"(overwrite=True) to redo every output, or another output folder")
    if existing and run is None and not lines:
        raise RerunMismatchError(
            f"{out_dir}: holds outputs but no record of the run that made them ({RUN_FILE}, {MANIFEST}); "
            f"use --overwrite (overwrite=True) to redo every output, or another output folder")
    return run, lines


def _remove_stale(out_dir: Path, lines: list[dict[str, Any]], tasks: list[Task]) -> int:
    """Remove outputs an earlier run's manifest lists that this run does not make."""
    keep = {o for t in tasks for o in (*t.outputs, *t.label_outputs)}
    n = 0
    for ln in lines:
        for key in ("output", "label_output"):
            rel = ln.get(key)
            if not isinstance(rel, str) or ln.get("status") == "failed":
                continue
            p = (out_dir / rel).resolve()
            if out_dir in p.parents and str(p) not in keep and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
                    n += 1
    return n


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    tmp.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n")
    os.replace(tmp, path)


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

    Returns
    -------
    Summary
        ``OUTPUT/manifest.jsonl`` holds one line per output, sorted by input
        and copy. An input that fails leaves no output: copies written before
        the failure are removed and every copy is reported failed. A full
        disk (ENOSPC, EFBIG, EDQUOT) stops the run after the first failure
        (``Summary.stopped``); a rerun resumes.
    """
    from .transforms.compose import Compose

    start = time.perf_counter()
    if copies < 1:
        raise ParameterError(f"copies must be >= 1, got {copies}")
    resolve_inputs(input_dir, patterns)  # a clear error for a missing input before the output folder is made
    out_dir = check_output_dir(Path(output_dir)).resolve()
    pipe_dict = pipeline.to_dict() if isinstance(pipeline, Compose) else Compose.from_dict(pipeline).to_dict()
    pipeline_json = json.dumps(pipe_dict, sort_keys=True)
    tasks = plan(Path(input_dir), out_dir, copies, patterns, Path(labels_dir) if labels_dir else None)
    fp = fingerprint(pipeline_json, seed, copies, tasks, nodata)
    _, old_lines = _check_rerun(out_dir, tasks, fp, overwrite)
    summary = Summary(files=len(tasks), output_dir=str(out_dir))
    if overwrite:
        summary.removed = _remove_stale(out_dir, old_lines, tasks)
    try:
        _write_json_atomic(out_dir / RUN_FILE, fp)
    except OSError as exc:
        raise RasterWriteError(f"{out_dir / RUN_FILE}: cannot write the run record: {exc.strerror}") from exc
    clean_partials(out_dir)
    _mkdirs(tasks)
    manifest = out_dir / MANIFEST
    results: dict[str, list[dict[str, Any]]] = {}

    with open(manifest, "w") as live:
        def record(task: Task, lines: list[dict[str, Any]]) -> bool:
            """Count and log one task; True if the run should stop (fail-fast, full disk)."""
            failed = [ln for ln in lines if ln["status"] == "failed"]
            if failed:  # all or nothing: a failed input leaves no output
                for o in (*task.outputs, *task.label_outputs):
                    with contextlib.suppress(OSError):
                        os.unlink(o)
                first = failed[0]
                lines = [{k: v for k, v in {**ln, "status": "failed", "error": first["error"],
                                             "stop": first.get("stop")}.items()
                          if k not in ("params", "pixels") and v is not None} for ln in lines]
            rel_lines = [_relative({**ln, "fingerprint": fp["fingerprint"]}, out_dir) for ln in lines]
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
