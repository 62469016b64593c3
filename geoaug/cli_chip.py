"""``geoaug chip``: training chips straight from whole scenes (a click command).

Register it into the ``geoaug`` group with ``main.add_command(chip)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import GeoAugError

__all__ = ["chip"]


def _names(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


@click.command("chip")
@click.argument("scenes", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=1), help="Chip size in pixels.")
@click.option("--count", type=click.IntRange(min=1), help="Random chips per scene.")
@click.option("--stride", type=click.IntRange(min=1), help="Grid chips: step in pixels.")
@click.option("--overlap", default=0, show_default=True, type=click.IntRange(min=0),
              help="Grid chips: overlap in pixels (when --stride is not given).")
@click.option("--pipeline", "pipeline_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Pipeline YAML/JSON (default: no augmentation).")
@click.option("--copies", default=1, show_default=True, type=click.IntRange(min=1), help="Draws per window.")
@click.option("--seed", default=0, show_default=True, type=int, help="Base seed.")
@click.option("--labels", type=click.Path(exists=True, path_type=Path),
              help="Label raster (any CRS/resolution) or GeoJSON, brought onto each chip's grid.")
@click.option("--label-field", help="GeoJSON property holding the class value (default: 1).")
@click.option("--vectors", "vectors", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Vector labels (GeoJSON/GeoPackage, any CRS) clipped to each chip's footprint and written "
                   "beside it in its CRS (chip<i>_aug<k>.geojson or .gpkg).")
@click.option("--rasterize-vectors", "rasterize_vectors", default=None, metavar="ATTR",
              help="Burn --vectors onto each chip's grid as its label raster (*_label.tif): the class value of a "
                   "pixel is the attribute ATTR (whole numbers) of the feature over its centre, 0 elsewhere.")
@click.option("--min-valid", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Least valid fraction of a window.")
@click.option("--max-tries", default=100, show_default=True, type=click.IntRange(min=1),
              help="Random windows tried per chip before the scene is reported.")
@click.option("--balance", is_flag=True, help="Class-balanced random windows (needs --labels).")
@click.option("--stack", help="Band order of band-file folders, e.g. B04,B03,B02,B08.")
@click.option("--bands", help="STAC common names in band order, e.g. red,green,blue,nir.")
@click.option("--per-band", is_flag=True, help="One file per band (same draw) instead of one multi-band GeoTIFF.")
@click.option("--same-crs", is_flag=True, help="Report scenes in another CRS than the first as failed.")
@click.option("--workers", type=click.IntRange(min=1), help="Local Dask worker processes.")
@click.option("--scheduler", help="Address of a Dask scheduler (tcp://HOST:8786).")
@click.option("--block", type=click.IntRange(min=1), help="Chips per task (default: a scene per task).")
@click.option("--overwrite", is_flag=True, help="Redo chips that exist (default: resume).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed scene.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--nodata", type=float, default=None, metavar="VALUE",
              help="Nodata override for the scenes: pixels equal to VALUE are invalid "
                   "(for files without a nodata tag, e.g. an untagged collar).")
def chip(scenes: tuple[Path, ...], out: Path, size: int, count: int | None, stride: int | None, overlap: int,
         pipeline_path: Path | None, copies: int, seed: int, labels: Path | None, label_field: str | None,
         vectors: Path | None, rasterize_vectors: str | None,
         min_valid: float, max_tries: int, balance: bool, stack: str | None, bands: str | None, per_band: bool,
         same_crs: bool, workers: int | None, scheduler: str | None, block: int | None, overwrite: bool,
         fail_fast: bool, as_json: bool, nodata: float | None) -> None:
    """Sample, augment and write chips from whole SCENES into OUT.

    SCENES are scene files (GeoTIFF, COG, VRT, JPEG 2000), folders (band files
    of one scene are stacked into one input), or local STAC JSON. Only windows
    are read. OUT/manifest.jsonl records each chip's scene, window, matrix and
    draw; a rerun resumes; outputs are the same for any number of workers.

    \b
    Example:
      geoaug chip scene.tif out --size 256 --count 100 --pipeline docs/examples/generic.yaml \\
          --copies 2 --seed 0 --min-valid 0.8 --workers 2
    """
    from .batch import summary_dict
    from .chips import run_chips

    if count is not None and (stride is not None or overlap):
        raise click.UsageError("give --count (random chips) or --stride/--overlap (grid chips), not both")
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    pipeline = None
    try:
        if pipeline_path is not None:
            from .transforms.serialize import as_pipeline

            pipeline = as_pipeline(pipeline_path)
        summary = run_chips(
            [str(s) for s in scenes], out, pipeline, size=size, count=count, stride=stride, overlap=overlap,
            copies=copies, seed=seed, labels=labels, label_field=label_field, min_valid=min_valid,
            balance=balance, max_tries=max_tries, stack=_names(stack), bands=_names(bands), per_band=per_band,
            same_crs=same_crs, workers=workers, scheduler=scheduler, block=block, overwrite=overwrite,
            fail_fast=fail_fast, nodata=nodata, vectors=vectors, rasterize_vectors=rasterize_vectors,
        )
    except GeoAugError as exc:
        click.echo(f"ERROR {exc}", err=True)
        sys.exit(2)
    for where, msg in summary.failed_files:
        click.echo(f"FAILED {where}: {msg.splitlines()[0]}", err=True)
    if as_json:
        click.echo(json.dumps(summary_dict(summary), sort_keys=True))
    else:
        click.echo(f"{summary.outputs} chips written, {summary.skipped} skipped, {summary.failures} failed "
                   f"({summary.files} scenes) in {summary.seconds:.1f} s -> {summary.output_dir}")
        if summary.vectors:
            from .cli import vector_counts_line

            click.echo(vector_counts_line(summary.vectors))
    if summary.failures:
        sys.exit(1)
