"""Command line: ``jdm-cds evaluate | schema | rules check``.

Exit codes: 0 every input valid; 1 some input invalid (each reported on stderr, one line
a problem, naming file and field, while the valid ones are still evaluated); 2 usage.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.assessment import Assessment
from engine.diagnostics import RuleLoadError, Severity
from engine.evaluate import Evaluator
from engine.patient import PatientFileError, iter_patient_files, load_patient, patient_json_schema
from engine.report import render_text, to_json
from engine.rulebase import core_pack_paths, read_packs

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Clinical decision support for juvenile dermatomyositis treated with JAK inhibitors. "
    "It supports, and does not replace, the clinician's judgement.",
)
rules_app = typer.Typer(no_args_is_help=True, help="Work with rule packs.")
app.add_typer(rules_app, name="rules")

stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140)
stderr = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


class SchemaName(StrEnum):
    patient = "patient"


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date (expected YYYY-MM-DD)") from None


def _report_error(error: Exception) -> None:
    lines = error.lines() if isinstance(error, PatientFileError) else [str(error)]
    for line in lines:
        stderr.print(line, style="red", markup=False, highlight=False)


def _evaluator() -> Evaluator:
    from engine.setup import default_evaluator

    try:
        return default_evaluator()
    except RuleLoadError as error:
        for diagnostic in error.diagnostics:
            stderr.print(str(diagnostic), style="red", markup=False, highlight=False)
        stderr.print("rule packs have errors: nothing was evaluated", style="bold red")
        raise typer.Exit(2) from None


@app.command()
def evaluate(
    files: Annotated[list[Path], typer.Argument(help="Patient files (YAML or JSON) or folders.")],
    at: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD "
                                           "(default: the last visit).")] = None,
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
) -> None:
    """Judge each patient at the last visit on or before --at."""
    when = _parse_date(at)
    evaluator = _evaluator()
    assessments: list[Assessment] = []
    failed = False
    paths = iter_patient_files(files)
    for path in paths:
        try:
            assessments.append(evaluator.evaluate(load_patient(path), when))
        except PatientFileError as problem:
            failed = True
            _report_error(problem)
    if output is Format.json:
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


@app.command()
def schema(name: Annotated[SchemaName, typer.Argument(help="Which schema.")]) -> None:
    """Print the JSON Schema of an input file, for integrators."""
    print(json.dumps(patient_json_schema(), indent=2))


@rules_app.command("check")
def rules_check(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Rule files; default: the core packs.")] = None,
) -> None:
    """Validate rule packs and report every problem with file:line."""
    sources = [(path, None) for path in (paths or core_pack_paths())]
    packs, diagnostics = read_packs(sources)
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        stdout.print(str(diagnostic), style=style, markup=False, highlight=False, soft_wrap=True)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    rules = sum(len(p.rules) for p in packs)
    stdout.print(f"{len(sources)} file(s), {len(packs)} pack(s), {rules} rule(s): {errors} "
                 f"error(s), {len(diagnostics) - errors} warning(s)", markup=False)
    if errors:
        raise typer.Exit(1)
