"""The ``geoaug`` command line (click).

Subcommands
-----------
``geoaug preview INPUT --pipeline FILE -n 8 --bands 4,3,2 --seed 0 -o grid.png``
    The input and N augmented copies as one PNG.
``geoaug info PATH...``
    One line per raster: bands, dtype, size, CRS, share of nodata.
``geoaug augment INPUT OUTPUT --pipeline FILE --copies N --seed S``
    The batch job: augment a folder of tiles into a training set.
``geoaug stats FOLDER -o stats.json``
    Per-band dataset statistics over valid pixels (for Normalize and PCAJitter).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from .errors import GeoAugError

# -- options shared by several commands, defined once (the style of rasterio's rio/options.py) --------------------
nodata_opt = click.option("--nodata", type=float, default=None, metavar="VALUE",
                          help="Nodata override for the inputs: pixels equal to VALUE are invalid "
                               "(for files without a nodata tag, e.g. an untagged collar).")
pipeline_opt = click.option("--pipeline", "pipeline_path", required=True, type=click.Path(path_type=Path),
                            help="Pipeline file (YAML or JSON), see docs/pipelines.md.")
seed_opt = click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
                        help="Seed of the draws.")
patterns_opt = click.option("--pattern", "patterns", multiple=True, default=("*.tif", "*.tiff"), show_default=True,
                            help="File name pattern inside folders, searched recursively (repeatable).")
quiet_opt = click.option("--quiet", "-q", is_flag=True, help="No progress output.")
rasterize_vectors_opt = click.option(
    "--rasterize-vectors", "rasterize_vectors", default=None, metavar="ATTR",
    help="Burn the vector labels onto each output's grid as its label raster (*_label.tif): the class value of "
         "a pixel is the attribute ATTR (whole numbers) of the feature over its centre, 0 elsewhere.")


def vector_counts_line(counts: dict[str, int]) -> str:
    """One line saying what happened to the vector labels (nothing is dropped without a count)."""
    parts = [f"{counts.get('read', 0)} features read"]
    for key, what in (("null", "without geometry dropped"), ("repaired", "invalid repaired"),
                      ("assumed_wgs84", "file(s) without CRS read as WGS 84")):
        if counts.get(key):
            parts.append(f"{counts[key]} {what}")
    parts.append(f"in the outputs: {counts.get('kept', 0)} kept ({counts.get('clipped', 0)} clipped at the edge), "
                 f"{counts.get('outside', 0)} outside an output")
    return "vectors: " + ", ".join(parts)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="geoaug")
def main() -> None:
    """geoaug: augment multispectral satellite rasters, georeferencing kept.

    \b
    Example:
      geoaug info fixtures/tiles
    """


def expand_paths(paths: tuple[Path, ...], patterns: tuple[str, ...] = ("*.tif", "*.tiff")) -> list[Path]:
    """Files of PATH arguments: folders searched recursively, files as given, globs expanded.

    A path that is neither, or a glob matching nothing, is kept as it is, so
    reading it reports the problem with its name.
    """
    import glob

    from .io import find_rasters

    files: list[Path] = []
    for p in paths:
        if p.exists():
            files.extend(find_rasters(p, patterns))
        elif glob.has_magic(str(p)):
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True) if Path(m).is_file())
            files.extend(matches or [p])
        else:
            files.append(p)
    return files


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@nodata_opt
def info(paths: tuple[Path, ...], nodata: float | None) -> None:
    """Print one summary line per raster (folders are searched recursively).

    \b
    Example:
      geoaug info fixtures/tiles/landsat8_sr_7band_uint16_collar.tif
    """
    from .io import read

    failed = 0
    for f in expand_paths(paths):
        try:
            r = read(f, nodata=nodata)
        except GeoAugError as exc:
            click.echo(f"ERROR {exc}", err=True)
            failed += 1
            continue
        crs = r.crs.to_string() if r.crs is not None else "none"
        nd = "none" if r.nodata is None else f"{r.nodata:g}"
        click.echo(
            f"{f}: {r.count} bands {r.dtype.name} {r.height}x{r.width} crs={crs} "
            f"nodata={nd} invalid={1 - r.valid_fraction:.1%}"
        )
    if failed:
        sys.exit(1)


@main.command("stats")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="JSON file to write.")
@patterns_opt
@click.option("--percentiles", default="1,2,50,98,99", show_default=True, help="Comma-separated percentiles.")
@nodata_opt
def stats_cmd(paths: tuple[Path, ...], output: Path, patterns: tuple[str, ...], percentiles: str,
              nodata: float | None) -> None:
    """Per-band statistics over the valid pixels of rasters (folders searched recursively).

    Writes count, mean, std, min, max, percentiles and the band covariance as
    JSON; Normalize(stats=...) and PCAJitter(stats=...) read that file.

    \b
    Example:
      geoaug stats fixtures/tiles/landsat8_sr_7band_uint16_collar.tif -o stats.json
    """
    from .stats import stats

    files = expand_paths(paths, patterns)
    if not files:
        raise click.UsageError(f"no files matching {', '.join(patterns)} under {', '.join(map(str, paths))}")
    try:
        qs = [float(q) for q in percentiles.split(",") if q.strip()]
    except ValueError:
        raise click.UsageError(f"--percentiles: not a comma-separated list of numbers: {percentiles!r}") from None
    bad = [q for q in qs if not 0 <= q <= 100]
    if bad:
        raise click.UsageError(f"--percentiles: {bad[0]:g} is outside 0..100")
    if not output.parent.is_dir():
        raise click.UsageError(f"{output}: folder {output.parent} does not exist")
    try:
        st = stats(files, percentiles=qs, nodata=nodata)
        failed: list[tuple[Path, str]] = []
    except GeoAugError:
        # find the bad files (unreadable, or another band count than the first good file), then redo the rest
        files, failed = _check_stats_inputs(files, nodata)
        if not files:
            for f, err in failed:
                click.echo(f"FAILED {f}: {err}", err=True)
            click.echo("ERROR no readable file: nothing written", err=True)
            sys.exit(1)
        try:
            st = stats(files, percentiles=qs, nodata=nodata)
        except GeoAugError as exc:
            click.echo(f"ERROR {exc}", err=True)
            sys.exit(1)
    try:
        st.save(output)
    except (GeoAugError, OSError) as exc:
        click.echo(f"ERROR {output}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} files, {st.bands} bands -> {output}")
    for i, name in enumerate(st.band_names):
        click.echo(f"  {name}: mean {st.mean[i]:.6g} std {st.std[i]:.6g} min {st.min[i]:.6g} max {st.max[i]:.6g}")
    for f, err in failed:
        click.echo(f"FAILED {f}: {err}", err=True)
    if failed:
        click.echo(f"{len(failed)} file(s) skipped; statistics are of the other {len(files)}", err=True)
        sys.exit(1)


def _check_stats_inputs(files: list[Path], nodata: float | None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split files into readable ones sharing the first readable file's band count, and failures."""
    from .io import read

    good: list[Path] = []
    failed: list[tuple[Path, str]] = []
    bands = None
    for f in files:
        try:
            r = read(f, nodata=nodata)
        except GeoAugError as exc:
            failed.append((f, str(exc).splitlines()[0]))
            continue
        if bands is None:
            bands = r.count
        if r.count != bands:
            failed.append((f, f"{r.count} bands, but {good[0]} has {bands}"))
            continue
        good.append(f)
    return good, failed


@main.command()
@click.argument("input_dir", metavar="INPUT")
@click.argument("output_dir", metavar="OUTPUT", type=click.Path(path_type=Path))
@pipeline_opt
@click.option("--copies", default=1, show_default=True, type=click.IntRange(min=1),
              help="Augmented copies per input.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed; each output's generator derives from (seed, relative path, copy).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local Dask cluster with this many worker processes.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Send the work to an existing Dask scheduler, e.g. tcp://127.0.0.1:8786.")
@patterns_opt
@click.option("--labels", "labels_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of label rasters with the same relative names (same draw, nearest).")
@click.option("--vectors", "vectors_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of vector labels (GeoJSON/GeoPackage) with the same relative names (a/b.geojson for "
                   "a/b.tif): clipped to each output's footprint, written beside it in its CRS.")
@rasterize_vectors_opt
@nodata_opt
@click.option("--stack", "stack", default="auto", show_default=True, metavar="auto|none|B04,B03,...",
              help="Band files of one scene (<prefix>_B02.tif ..., *_SR_B4.TIF, a SAFE IMG_DATA tree) are one "
                   "input: stacked onto one grid, drawn once, written as one multi-band GeoTIFF. A comma-"
                   "separated band order stacks just those bands; 'none' takes every file on its own.")
@click.option("--per-band", is_flag=True,
              help="Write a stack's copies as one GeoTIFF per band (same draw), named after the band files.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first input that fails.")
@click.option("--resume/--overwrite", "resume", default=True, show_default=True,
              help="--resume: skip outputs a run with the same pipeline, seed, copies and inputs already made "
                   "(a folder made by another run is refused). --overwrite: redo every output.")
@quiet_opt
def augment(input_dir: str, output_dir: Path, pipeline_path: Path, copies: int, seed: int, workers: int | None,
            scheduler: str | None, patterns: tuple[str, ...], labels_dir: Path | None, vectors_dir: Path | None,
            rasterize_vectors: str | None, nodata: float | None, stack: str, per_band: bool, fail_fast: bool,
            resume: bool, quiet: bool) -> None:
    """Augment the rasters of INPUT into OUTPUT (the tree is mirrored).

    INPUT is a folder (searched recursively), one file, or a quoted glob
    ("tiles/**/*_L2A.tif"). Copy k of INPUT/a/b.tif is OUTPUT/a/b_aug<k>.tif;
    label rasters (--labels) go beside it as b_aug<k>_label.tif, vector labels
    (--vectors) as b_aug<k>.geojson (or .gpkg), clipped to the output's
    footprint; --rasterize-vectors ATTR burns them into b_aug<k>_label.tif.
    The band files of one scene (a/S2A_x_B02.tif, a/S2A_x_B03.tif ...) are
    one input named a/S2A_x: one draw, written as a/S2A_x_aug<k>.tif (see
    --stack).
    OUTPUT/manifest.jsonl has one line per output with the record of what was
    drawn (replayable with Compose.replay). Outputs are written atomically; a
    rerun resumes, and refuses a folder made by another pipeline, seed,
    copies or inputs unless --overwrite. A failed input leaves no output and
    the others are done; a full disk stops the run. Exit code: 0 all done,
    1 some inputs failed or the disk is full, 2 bad usage, unusable output
    folder or a folder of another run, 130 interrupted.

    \b
    Example:
      geoaug augment fixtures/tiles out/train --pipeline docs/examples/generic.yaml \\
          --copies 4 --seed 0 --labels fixtures/labels --workers 2
    """
    from .batch import augment_folder, check_output_dir, plan, resolve_inputs
    from .transforms.serialize import as_pipeline

    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    try:
        resolve_inputs(input_dir, patterns)
    except GeoAugError as exc:
        raise click.UsageError(f"INPUT {exc}") from None
    if labels_dir is not None and not labels_dir.is_dir():
        raise click.UsageError(f"{labels_dir}: labels folder does not exist")
    if vectors_dir is not None and not vectors_dir.is_dir():
        raise click.UsageError(f"{vectors_dir}: vectors folder does not exist")
    if rasterize_vectors is not None and (vectors_dir is None or labels_dir is not None):
        raise click.UsageError("--rasterize-vectors writes the label rasters from --vectors: give --vectors, "
                               "and not --labels")
    try:
        pipe = as_pipeline(pipeline_path)
    except GeoAugError as exc:
        raise click.UsageError(str(exc)) from None
    if workers is not None or scheduler is not None:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise click.UsageError("--workers/--scheduler need Dask: pip install 'geoaug[dask]'") from None
    try:
        check_output_dir(output_dir)
    except GeoAugError as exc:
        raise click.UsageError(str(exc)) from None
    stack_arg = _stack_option(stack)
    if per_band and stack_arg is None:
        raise click.UsageError("--per-band writes the bands of a stack: it needs --stack auto or a band order")
    try:
        total = len(plan(Path(input_dir), output_dir, copies, patterns, labels_dir, stack=stack_arg,
                         per_band=per_band, vectors_dir=vectors_dir, rasterize_vectors=rasterize_vectors))
    except GeoAugError as exc:
        raise click.UsageError(str(exc)) from None
    if not quiet:
        announce_compile()
    progress = _Progress(total, quiet)
    try:
        with _quiet_interrupt(progress):
            summary = augment_folder(input_dir, output_dir, pipe, copies=copies, seed=seed, workers=workers,
                                     scheduler=scheduler, patterns=patterns, labels_dir=labels_dir, nodata=nodata,
                                     fail_fast=fail_fast, overwrite=not resume, on_result=progress.update,
                                     stack=stack_arg, per_band=per_band, vectors_dir=vectors_dir,
                                     rasterize_vectors=rasterize_vectors)
    except GeoAugError as exc:
        progress.close()
        raise click.UsageError(str(exc)) from None
    progress.close()
    click.echo(f"output: {summary.output_dir}")
    removed = f", {summary.removed} outputs of the earlier run removed" if summary.removed else ""
    click.echo(f"files: {summary.files}, outputs: {summary.outputs} written, {summary.skipped} already done, "
               f"failures: {summary.failures}{removed}, {summary.seconds:.1f} s, {summary.rate}")
    if summary.vectors:
        click.echo(vector_counts_line(summary.vectors))
    for rel, note in summary.notes:
        click.echo(f"  note {rel}: {note}")
    for rel, err in summary.failed_files:
        click.echo(f"FAILED {rel}: {err.splitlines()[0]}", err=True)
    if summary.stopped:
        click.echo(f"STOPPED at the first write that failed ({summary.stopped.splitlines()[0]}): "
                   f"{summary.outputs + summary.skipped} outputs are done; free space (or raise the limit) "
                   f"and rerun the same command to resume", err=True)
    sys.exit(1 if summary.failures or summary.stopped else 0)


def _stack_option(text: str) -> str | list[str] | None:
    """``--stack``: "auto", "none" (None) or a comma-separated band order."""
    low = text.strip().lower()
    if low in ("auto", "none"):
        return "auto" if low == "auto" else None
    bands = [b.strip() for b in text.split(",") if b.strip()]
    if not bands:
        raise click.BadParameter(f"{text!r}: give auto, none or band names like B04,B03,B02", param_hint="--stack")
    return bands


@contextlib.contextmanager
def _quiet_interrupt(progress: _Progress) -> Iterator[None]:
    """Ctrl-C ends the command with one line on stderr and exit code 130.

    Dask workers that geoaug starts ignore SIGINT (their nanny stops them,
    see :func:`geoaug.batch.dask_client`) and log nothing once they are closing
    (:class:`geoaug.batch.worker_logs.QuietClose`); this process's Dask logging
    is silenced on the way out, so an interrupt prints no tracebacks.
    """
    try:
        yield
    except KeyboardInterrupt:
        import logging

        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        progress.close()
        click.echo(f"interrupted: {progress.done} of {progress.total} inputs finished; "
                   f"rerun the same command to resume", err=True)
        sys.exit(130)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@pipeline_opt
@click.option("-n", "copies", default=8, show_default=True, type=click.IntRange(min=0),
              help="Number of augmented copies.")
@click.option("--bands", default=None, help="Three bands (1-based indexes or names) for false colour, "
              "or one for grey, e.g. 4,3,2. Default: 3,2,1 (1 for one-band rasters).")
@seed_opt
@nodata_opt
@click.option("-o", "--output", default="preview.png", show_default=True, type=click.Path(path_type=Path),
              help="PNG file to write.")
@click.option("--name", default=None, metavar="REL",
              help="The input's path relative to the folder given to `geoaug augment` (default: its file name); "
                   "copy k then shows exactly what augment writes as copy k with the same --seed.")
def preview(input_path: Path, pipeline_path: Path, copies: int, bands: str | None, seed: int,
            nodata: float | None, output: Path, name: str | None) -> None:
    """Draw the input and N augmented copies as one PNG grid.

    Bands are shown as a false-colour composite with a 2-98 % stretch of the
    input's valid pixels, shared by every panel; nodata is magenta; each panel
    is titled with what was drawn. Needs matplotlib (pip install "geoaug[docs]").

    \b
    Example:
      geoaug preview fixtures/tiles/bigearthnet_s2_12band_uint16.tif \\
          --pipeline docs/examples/sentinel2_13band.yaml -n 8 --bands 4,3,2 -o grid.png
    """
    from .io import read
    from .transforms.serialize import as_pipeline

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise click.UsageError('preview needs matplotlib: pip install "geoaug[docs]"') from None
    from .preview import preview_grid

    try:
        pipe = as_pipeline(pipeline_path)
        raster = read(input_path, nodata=nodata)
    except GeoAugError as exc:
        raise click.UsageError(str(exc)) from None
    if not output.parent.is_dir():
        raise click.UsageError(f"{output}: folder {output.parent} does not exist")
    announce_compile()
    try:
        preview_grid(raster, pipe, n=copies, bands=bands, seed=seed, path=output,
                     name=name or input_path.name)
    except GeoAugError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {output} ({copies} copies of {input_path})")


#: kernel modules whose numba cache decides whether a first call compiles
_KERNEL_MODULES = ("flip", "noise", "resize", "store", "warp")


def kernel_cache_cold() -> bool:
    """True when numba's on-disk cache lacks geoaug's kernels, so the first calls will compile them.

    Cheap: looks for each kernel module's cache index files (``<module>.*.nbi``)
    in the folder numba caches it in (``__pycache__`` beside the module, or
    under ``NUMBA_CACHE_DIR``); compiles nothing.
    """
    import importlib

    for name in _KERNEL_MODULES:
        try:
            mod = importlib.import_module(f"geoaug.kernels.{name}")
        except ImportError:
            continue
        for obj in vars(mod).values():
            cache = getattr(obj, "_cache", None)
            folder = getattr(cache, "_cache_path", None)
            if folder is None:
                continue
            if not any(Path(folder).glob(f"{name}.*.nbi")):
                return True
            break
    return False


def announce_compile() -> None:
    """Say once, on stderr, that kernels are being compiled when numba's cache for them is empty."""
    if kernel_cache_cold():
        # the demo's seven tiles, five dtypes: 43-54 s on 2 cores (kernels compile per dtype)
        click.echo("geoaug: compiling the numba kernels on first use (about 10 s for each data type among "
                   "the inputs; cached for later runs)", err=True)


class _Progress:
    """tqdm bar on a terminal, one plain line per file otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", file=sys.stderr)

    def update(self, task: object, lines: list[dict]) -> None:
        self.done += 1
        if self.quiet:
            return
        status = "failed" if any(ln["status"] == "failed" for ln in lines) else "ok"
        if self.bar is not None:
            self.bar.update(1)
            if status == "failed":
                self.bar.write(f"failed: {lines[0]['input']}")
        else:
            click.echo(f"[{self.done}/{self.total}] {lines[0]['input'] if lines else task}: {status}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _register_chip() -> None:
    from .cli_chip import chip

    main.add_command(chip)


_register_chip()

if __name__ == "__main__":  # pragma: no cover
    main()
