"""``jdm-cds report``: the patient page, one self-contained HTML file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import build_evaluator, parse_date, report_error, stderr
from jdm_cds.cli.options import DisablePlugin


def report(
    patient_file: Annotated[Path, typer.Argument(metavar="PATIENT",
                                                 help="Patient file (YAML or JSON).")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write the page to FILE (default: standard output).")] = None,
    at: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD "
                                           "(default: the last visit).")] = None,
    png: Annotated[Path | None, typer.Option(
        "--png", metavar="FILE", help="Also write the trajectory figure as PNG.")] = None,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Write the patient page: header, trajectory figure, judgements with their working,
    alerts, recommendations, guidance, citations and assumptions (HTML, works offline)."""
    from jdm_cds.model.reading import PatientFileError, load_patient
    from jdm_cds.report import figure
    from jdm_cds.report.glossary import Glossary
    from jdm_cds.report.html import render_page

    when = parse_date(at)
    evaluator = build_evaluator(disable_plugin)
    try:
        patient = load_patient(patient_file)
    except PatientFileError as problem:
        report_error(problem)
        raise typer.Exit(1) from None
    if when is not None and not patient.visits_until(when):
        stderr.print(f"{patient_file}: -: no visit on or before {when}: nothing to show",
                     style="red", markup=False, highlight=False)
        raise typer.Exit(1)
    glossary = Glossary.of(evaluator.rulebase)
    assessment = evaluator.evaluate(patient, when)
    drawn = figure.trajectory(evaluator, patient, glossary, when)
    page = render_page(patient, assessment, glossary, figure.svg(drawn))
    if png is not None:
        figure.png(drawn, png)
    if output is None:
        sys.stdout.write(page)
    else:
        output.write_text(page, encoding="utf-8")
