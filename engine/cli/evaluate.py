"""``jdm-cds evaluate``: judge patients, one report each (or one row a visit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import (
    DisablePlugin,
    Format,
    build_evaluator,
    parse_date,
    report_error,
    stderr,
    stdout,
)
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.reading import PatientFileError, iter_patient_files, load_patient
from jdm_cds.report.text import render_text, render_timeline, timeline_json, to_json
from jdm_cds.report.timeline import Row
from jdm_cds.report.timeline import rows as timeline_rows
from jdm_cds.runtime import RuleExecutionError


def evaluate(
    files: Annotated[list[Path], typer.Argument(help="Patient files (YAML or JSON) or folders.")],
    at: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD "
                                           "(default: the last visit).")] = None,
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    disable_plugin: DisablePlugin = None,
    timeline: Annotated[bool, typer.Option(
        "--timeline", help="One row a visit (up to --at): the patient judged at that visit's "
        "date, as --at <date> would.")] = False,
) -> None:
    """Judge each patient at the last visit on or before --at."""
    when = parse_date(at)
    evaluator = build_evaluator(disable_plugin)
    assessments: list[Assessment] = []
    rows: list[Row] = []
    failed = False
    paths = iter_patient_files(files)
    for path in paths:
        try:
            patient = load_patient(path)
            if timeline:
                rows += timeline_rows(evaluator, patient, when)
                continue
            assessments.append(evaluator.evaluate(patient, when))
        except PatientFileError as problem:
            failed = True
            report_error(problem)
        except RuleExecutionError as failure:
            # The engine failed on this patient: report it and give no judgement for it.
            failed = True
            stderr.print(f"{path}: -: the rules could not be evaluated: {failure}", style="red",
                         markup=False, highlight=False)
    if timeline:
        if output is Format.json:
            print(timeline_json(rows))
        elif rows:
            render_timeline(rows, stdout)
    elif output is Format.json:
        if assessments:
            print(to_json(assessments, many=len(paths) > 1))
    else:
        for assessment in assessments:
            render_text(assessment, stdout)
            for error in assessment.errors:
                stderr.print(f"{assessment.patient_id}: plugin '{error.plugin}' failed in "
                             f"{error.hook}: {error.error}", style="red", markup=False)
    if failed:
        raise typer.Exit(1)
