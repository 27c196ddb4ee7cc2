"""``jdm-cds evaluate``: its arguments, options and help, as typer reads them; the run
(what the options do) is ``evaluate_run.py``, which ``program.py`` also calls without typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli import evaluate_run
from jdm_cds.cli.batch import Format
from jdm_cds.cli.options import (
    DisablePlugin,
    FhirMappingPath,
    Jobs,
    MaxFileMb,
    MaxVisits,
    OutputFile,
    Quiet,
    Scheduler,
)


def evaluate(
    files: Annotated[list[Path], typer.Argument(
        readable=False,  # an unreadable file is that file's input error (exit 1)
        help="Patient files (YAML or JSON), FHIR Bundles (JSON), JSON Lines files, folders, "
        "FHIR Bulk Data export folders (NDJSON), or - for standard input.")],
    at: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD "
                                           "(default: the last visit).")] = None,
    output: Annotated[Format | None, typer.Option(
        "--format", help="Output format (fhir: a FHIR Bundle of GuidanceResponses). "
        "Default: text, or nothing with -o FILE.parquet.", show_default=False)] = None,
    disable_plugin: DisablePlugin = None,
    fhir_mapping: FhirMappingPath = None,
    timeline: Annotated[bool, typer.Option(
        "--timeline", help="One row a visit (up to --at): the patient judged at that visit's "
        "date, as --at <date> would.")] = False,
    out: OutputFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    max_file_mb: MaxFileMb = None,
    max_visits: MaxVisits = None,
) -> None:
    """Judge each patient at the last visit on or before --at."""
    evaluate_run.run(files, at, output, disable_plugin, fhir_mapping, timeline, out, jobs,
                     scheduler, quiet, max_file_mb, max_visits)
