"""``jdm-cds cohort``: evaluate many patients and summarise them as the study did.

The patients are evaluated on every core (``--jobs``) or on Dask (``--scheduler``), in
input order. ``--format text|json`` prints the summary; ``--format jsonl`` one line a
patient (its assessment at the last visit without the per-test working unless
``--explain``, or its input error), each patient judged once since no summary is counted;
``--output FILE.parquet`` writes the tables (``jdm_cds.cohort.tables``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.batch import (
    Format,
    output_file,
    parquet_tables,
    print_lines,
    results,
    text_console,
)
from jdm_cds.cli.common import build_evaluator, load_fhir_mapping, settings
from jdm_cds.cli.limits import apply_limits
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
from jdm_cds.cohort.work import EngineSpec, Task, error_entry
from jdm_cds.evaluate import Evaluator
from jdm_cds.inputs import Inputs


def cohort(
    paths: Annotated[list[Path], typer.Argument(
        readable=False,  # an unreadable file is that file's input error (exit 1)
        help="Patient files (YAML or JSON), FHIR Bundles (JSON), JSON Lines files, folders, "
        "FHIR Bulk Data export folders (NDJSON), or - for standard input.")],
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    disable_plugin: DisablePlugin = None,
    fhir_mapping: FhirMappingPath = None,
    out: OutputFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Put each judgement's working (its tests, what would decide it) "
        "in the --format jsonl lines, as evaluate does; without it a line holds statuses, "
        "values, the facts used, what is missing and why (cheaper, for tables).")] = False,
    max_file_mb: MaxFileMb = None,
    max_visits: MaxVisits = None,
) -> None:
    """Evaluate every patient and summarise the cohort as the study reported its results."""
    apply_limits(max_file_mb, max_visits)
    from jdm_cds.cohort.summary import Cohort, InvalidFile, render_cohort

    if output is Format.fhir:
        raise typer.BadParameter("--format fhir is for evaluate; cohort writes text, json or "
                                 "jsonl")
    load_fhir_mapping(fhir_mapping)  # a broken mapping stops the run before it starts
    disabled = tuple(disable_plugin or ())
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if parquet and output is Format.jsonl:
        raise typer.BadParameter("--output FILE.parquet writes tables: use --format text or "
                                 "json for the summary")
    engine = EngineSpec(disabled, plugin_budget=settings.plugin_budget)
    task = Task(mode="cohort", engines=(engine,),
                json="line" if output is Format.jsonl and not parquet else None,
                tables=parquet, summary=output is not Format.jsonl, explain=explain)

    def local() -> list[Evaluator]:
        return [build_evaluator(list(disabled))]

    summary = Cohort()
    stream = results(Inputs(paths, fhir_mapping), task, jobs, scheduler, quiet, local)
    if parquet:  # the tables, and the summary (text or json) on standard output
        assert out is not None
        stream, out = parquet_tables(stream, out), None
    with output_file(out) as sink:
        for result in stream:
            if result.error is not None:
                print_lines(result.error)
                summary.invalid.append(InvalidFile(result.label, result.error))
            elif output is not Format.jsonl:  # a summary is kept only to be printed
                summary.patients.append(result.value)
            if output is Format.jsonl:
                entry = result.json if result.error is None else error_entry(result, "line")
                assert entry is not None
                sink.write(entry + b"\n")
        if output is Format.json:
            sink.write(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False)
                       .encode() + b"\n")
        elif output is Format.text:
            render_cohort(summary, text_console(sink))
    if summary.invalid:
        raise typer.Exit(1)
