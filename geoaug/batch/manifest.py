"""The batch manifest and the run record: fingerprints that keep a rerun from mixing two configurations."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import GeoAugError
from .plan import (
    Task,
)

__all__ = ["MANIFEST", "RUN_FILE", "RerunMismatchError", "fingerprint"]


MANIFEST = "manifest.jsonl"


#: written before any output: what the run in this folder is (its fingerprint and what went into it)
RUN_FILE = ".geoaug-run.json"


class RerunMismatchError(GeoAugError, ValueError):
    """The output folder holds outputs of another run (other pipeline, seed, copies, nodata or inputs)."""


def relative_line(line: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    out = dict(line)
    for key in ("output", "label_output", "vector_output"):
        if key in out:
            out[key] = Path(out[key]).relative_to(output_dir).as_posix()
    if "band_outputs" in out:
        out["band_outputs"] = [Path(o).relative_to(output_dir).as_posix() for o in out["band_outputs"]]
    return out


def _listed(line: dict[str, Any]) -> list[str]:
    """The output files a manifest line names (relative to the output folder)."""
    files = [line[k] for k in ("output", "label_output", "vector_output") if isinstance(line.get(k), str)]
    bands = line.get("band_outputs")
    if isinstance(bands, list):
        files.extend(b for b in bands if isinstance(b, str))
    return files


def _stat(path: str | None) -> list[Any] | None:
    if path is None:
        return None
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def fingerprint(pipeline_json: str, seed: int, copies: int, tasks: Sequence[Task],
                nodata: float | None = None) -> dict[str, Any]:
    """What a run is made of, and its SHA-256: the pipeline, seed, copies, nodata override and inputs.

    Inputs are their relative paths, sizes and modification times, and those
    of their label rasters and vector labels (with the rasterised attribute).
    Two runs with the same fingerprint make the same outputs; the batch
    refuses to mix runs with different ones in one folder.
    """
    inputs = [[t.rel, _stat(t.input), _stat(t.label)] if not t.bands else
              [t.rel, [[os.path.basename(b), _stat(b)] for b in t.bands], _stat(t.label), bool(t.band_outputs)]
              for t in tasks]
    inputs = [[*i, _stat(t.vector), t.rasterize_vectors] if t.vector else i for i, t in zip(inputs, tasks)]
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


def check_rerun(out_dir: Path, tasks: list[Task], fp: dict[str, Any], overwrite: bool
                 ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Refuse to resume into a folder made by a run with another fingerprint (unless ``overwrite``)."""
    run, lines = _previous(out_dir)
    if overwrite:
        return run, lines
    ours = {fp["fingerprint"]}
    theirs = ({run["fingerprint"]} if run and "fingerprint" in run else set()) | {
        ln.get("fingerprint") for ln in lines}
    listed = [out_dir / f for ln in lines for f in _listed(ln)]
    existing = any(Path(o).exists() for t in tasks for o in t.all_outputs()) or any(
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


def remove_stale(out_dir: Path, lines: list[dict[str, Any]], tasks: list[Task]) -> int:
    """Remove outputs an earlier run's manifest lists that this run does not make."""
    keep = {o for t in tasks for o in t.all_outputs()}
    n = 0
    for ln in lines:
        if ln.get("status") == "failed":
            continue
        for rel in _listed(ln):
            p = (out_dir / rel).resolve()
            if out_dir in p.parents and str(p) not in keep and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
                    n += 1
    return n


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    tmp.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n")
    os.replace(tmp, path)
