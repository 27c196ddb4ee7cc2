"""The options several commands share, as typer reads them from a command's signature.

Only the typer commands import this module: what the options do is in ``common.py``,
``batch.py`` and ``limits.py``, which run without typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.model.reading import MAX_FILE_MB_SETTING, MAX_VISITS_SETTING

FhirMappingPath = Annotated[Path | None, typer.Option(
    "--fhir-mapping", metavar="PATH",
    help="Map FHIR codes with this mapping file instead of the built-in one.")]
DisablePlugin = Annotated[list[str] | None, typer.Option(
    "--disable-plugin", metavar="NAME",
    help="Leave out an installed plugin, by the name 'plugins list' shows (repeatable).")]

Jobs = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1, metavar="N",
    help="Worker processes (default: one per core; small inputs run in this process). "
    "--jobs 1 runs everything in this process.")]
Scheduler = Annotated[str | None, typer.Option(
    "--scheduler", metavar="dask|ADDRESS",
    help="Run on Dask: 'dask' starts a local cluster (--jobs workers), tcp://host:8786 uses "
    "a running scheduler. Needs the [dask] extra.")]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar (it is shown only on a terminal, for runs over "
    "a second).")]
OutputFile = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE", help="Write the output to FILE instead of standard "
    "output ('-': standard output).")]

MaxFileMb = Annotated[float | None, typer.Option(
    "--max-file-mb", min=0.001, metavar="MB", envvar=MAX_FILE_MB_SETTING,
    help="Largest patient file read, in MB (default 5); a larger one is an input error.")]
MaxVisits = Annotated[int | None, typer.Option(
    "--max-visits", min=1, metavar="N", envvar=MAX_VISITS_SETTING,
    help="Most visits a patient may have (default 2,000); more is an input error.")]
