"""Command line: ``jdm-cds evaluate | cohort | schema | rules check | plugins list``.

Exit codes: 0 every input valid; 1 some input invalid (each reported on stderr, one line
a problem, naming file and field, while the valid ones are still evaluated); 2 usage, or
the engine cannot start (a rule pack or a plugin is broken: nothing is evaluated).
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
from rich.table import Table

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.diagnostics import RuleLoadError, Severity
from jdm_cds.language.rulebase import read_packs
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import patient_json_schema
from jdm_cds.model.reading import PatientFileError, iter_patient_files, load_patient
from jdm_cds.plugins.manager import PluginLoadError, Plugins
from jdm_cds.report.text import render_text, render_timeline, timeline_json, to_json
from jdm_cds.report.timeline import Row
from jdm_cds.report.timeline import rows as timeline_rows
from jdm_cds.runtime import RuleExecutionError

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Clinical decision support for juvenile dermatomyositis treated with JAK inhibitors. "
    "It supports, and does not replace, the clinician's judgement.",
)
rules_app = typer.Typer(no_args_is_help=True, help="Work with rule packs.")
app.add_typer(rules_app, name="rules")
plugins_app = typer.Typer(no_args_is_help=True, help="Installed plugins.")
app.add_typer(plugins_app, name="plugins")

stdout = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140)
stderr = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


class SchemaName(StrEnum):
    patient = "patient"


DisablePlugin = Annotated[list[str] | None, typer.Option(
    "--disable-plugin", metavar="NAME",
    help="Leave out an installed plugin, by the name 'plugins list' shows (repeatable).")]


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


def _plugin_failed(error: PluginLoadError) -> typer.Exit:
    stderr.print(str(error), style="red", markup=False, highlight=False)
    advice = "nothing was done"
    if error.plugin is not None:
        advice = (f"plugin '{error.plugin}' is broken, nothing was done: fix it, or leave it "
                  f"out with --disable-plugin {error.plugin}")
    stderr.print(advice, style="bold red", markup=False, highlight=False)
    return typer.Exit(2)


def _plugins(disabled: list[str] | None) -> Plugins:
    try:
        return Plugins.load(disabled or ())
    except PluginLoadError as error:
        raise _plugin_failed(error) from None


def _evaluator(disabled: list[str] | None = None) -> Evaluator:
    from jdm_cds.defaults import default_evaluator

    try:
        return default_evaluator(disabled or ())
    except PluginLoadError as error:
        raise _plugin_failed(error) from None
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
    disable_plugin: DisablePlugin = None,
    timeline: Annotated[bool, typer.Option(
        "--timeline", help="One row a visit (up to --at): the patient judged at that visit's "
        "date, as --at <date> would.")] = False,
) -> None:
    """Judge each patient at the last visit on or before --at."""
    when = _parse_date(at)
    evaluator = _evaluator(disable_plugin)
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
            _report_error(problem)
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


@app.command()
def cohort(
    paths: Annotated[list[Path], typer.Argument(help="Patient files (YAML or JSON) or folders.")],
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Evaluate every patient and summarise the cohort as the study reported its results."""
    from jdm_cds.cohort.summary import render_cohort, summarise

    summary = summarise(paths, _evaluator(disable_plugin))
    for invalid in summary.invalid:
        for line in invalid.errors:
            stderr.print(line, style="red", markup=False, highlight=False)
    if output is Format.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_cohort(summary, stdout)
    if summary.invalid:
        raise typer.Exit(1)


@app.command()
def schema(name: Annotated[SchemaName, typer.Argument(help="Which schema.")]) -> None:
    """Print the JSON Schema of an input file, for integrators."""
    print(json.dumps(patient_json_schema(), indent=2))


@rules_app.command("check")
def rules_check(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Rule files; default: the core packs and every installed plugin's packs.")] = None,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Validate rule packs and report every problem with file:line."""
    sources = [(path, None) for path in paths] if paths else _plugins(disable_plugin).sources()
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


@plugins_app.command("list")
def plugins_list(disable_plugin: DisablePlugin = None) -> None:
    """Show each installed plugin: its package and version, rule packs and hooks."""
    plugins = _plugins(disable_plugin)
    table = Table(show_lines=True, expand=False)
    for column in ("plugin", "package", "version", "rule packs", "hooks"):
        table.add_column(column, overflow="fold")
    for info in plugins.info():
        table.add_row(info.name, info.package or "-", info.version or "-",
                      "\n".join(str(path) for path in info.packs) or "-",
                      "\n".join(info.hooks) or "-")
    stdout.print(table)
    if disable_plugin:
        stdout.print(f"disabled: {', '.join(sorted(set(disable_plugin)))}", markup=False)
