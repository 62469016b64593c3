"""Batch augmentation of a folder of tiles: plan, run one task per input, write a manifest.

One task per input file: it reads the tile (and its label raster), makes
every copy with its own generator (:func:`geoaug.seeding.rng_for`), writes
each output atomically and returns the manifest lines. Tasks run in-process
or on Dask workers; workers read and write paths themselves, so no pixel
passes through the client. Outputs are byte-identical whatever runs them.
"""

from .dask import dask_client
from .manifest import MANIFEST, RUN_FILE, RerunMismatchError, fingerprint
from .plan import Task, check_output_dir, find_inputs, label_name, output_name, plan, resolve_inputs
from .run import (
    FULL_ERRNOS,
    DiskFullError,
    Summary,
    augment_folder,
    clean_partials,
    format_rate,
    run_task,
    summary_dict,
)

__all__ = [
    "FULL_ERRNOS",
    "MANIFEST",
    "RUN_FILE",
    "DiskFullError",
    "RerunMismatchError",
    "Summary",
    "Task",
    "augment_folder",
    "check_output_dir",
    "clean_partials",
    "dask_client",
    "find_inputs",
    "fingerprint",
    "format_rate",
    "label_name",
    "output_name",
    "plan",
    "resolve_inputs",
    "run_task",
    "summary_dict",
]
