"""``jdm-cds diff``: what a rule change would change, on a real cohort, before it ships.

Each patient is evaluated under both rule sets (the core packs of ``--rules-before`` and
``--rules-after``, default the installed ones, each with the installed plugins but those
disabled for that side) and every judgement whose status, score or category differs is
reported: counts per judgement and transition, and the patients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from jdm_cds.cli.batch import Format, output_file, print_lines, results, text_console
from jdm_cds.cli.common import parse_date
from jdm_cds.cli.options import Jobs, OutputFile, Quiet, Scheduler
from jdm_cds.cohort.work import EngineSpec, Task, evaluator_of
from jdm_cds.evaluate import Evaluator
from jdm_cds.inputs import Inputs

if TYPE_CHECKING:
    from jdm_cds.cohort.compare import Change, Transitions

RulesDir = Annotated[Path | None, typer.Option(
    file_okay=False, exists=True, metavar="DIR",
    help="A folder of core rule packs (*.yaml) used instead of the installed ones.")]
Disabled = Annotated[list[str] | None, typer.Option(
    metavar="NAME", help="Leave out an installed plugin on this side (repeatable).")]
SHOWN = 20  # patients named per transition in the text report


def diff(
    paths: Annotated[list[Path], typer.Argument(
        readable=False,  # an unreadable file is that file's input error (exit 1)
        help="Patient files (YAML or JSON), JSON Lines files, folders, or -.")],
    rules_before: RulesDir = None,
    rules_after: RulesDir = None,
    disable_plugin_before: Disabled = None,
    disable_plugin_after: Disabled = None,
    at: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD "
                                           "(default: each patient's last visit).")] = None,
    output: Annotated[Format, typer.Option(
        "--format", help="text or json: the transitions; jsonl: one line a changed "
        "judgement of a patient.")] = Format.text,
    out: OutputFile = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
) -> None:
    """Evaluate the cohort under two rule sets and report every judgement that changes."""
    specs = (EngineSpec(tuple(disable_plugin_before or ()),
                        None if rules_before is None else str(rules_before)),
             EngineSpec(tuple(disable_plugin_after or ()),
                        None if rules_after is None else str(rules_after)))
    task = Task(mode="diff", engines=specs, at=parse_date(at), explain=False)

    def local() -> list[Evaluator]:
        return [evaluator_of(spec) for spec in specs]

    # Imported here: every other command's start would pay for its classes.
    from jdm_cds.cohort.compare import Transitions

    parquet = out is not None and out.suffix.lower() == ".parquet"
    summary = Transitions()
    invalid = []
    stream = results(Inputs(paths), task, jobs, scheduler, quiet, local)
    if parquet:
        from jdm_cds.cohort.tables import write_changes

        assert out is not None
        stream, out = write_changes(stream, out), None
    with output_file(out) as sink:
        for result in stream:
            if result.error is not None:
                print_lines(result.error)
                invalid.append({"file": result.label, "error": "; ".join(result.error)})
                continue
            assert result.patient_id is not None
            found: list[Change] = result.value
            summary.add(result.patient_id, found)
            if output is Format.jsonl:
                for change in found:
                    sink.write(orjson.dumps({"file": result.label,
                                             "patient_id": result.patient_id,
                                             **change.to_dict()}) + b"\n")
        if output is Format.json:
            sink.write(json.dumps({**summary.to_dict(), "invalid": invalid}, indent=2,
                                  ensure_ascii=False).encode() + b"\n")
        elif output is Format.text:
            _render(summary, text_console(sink))
    if invalid:
        raise typer.Exit(1)


def _render(summary: Transitions, console: object) -> None:
    from rich.console import Console
    from rich.table import Table

    assert isinstance(console, Console)
    if not summary.by_transition:
        console.print(f"No change: all {summary.patients} patients have the same judgements "
                      "under both rule sets.", markup=False)
        return
    table = Table(title=f"{summary.changed} of {summary.patients} patients change",
                  show_lines=True)
    for column in ("judgement", "before", "after", "patients", "who"):
        table.add_column(column, overflow="fold")
    for judgement, before, after, who in summary.rows():
        shown = ", ".join(who[:SHOWN]) + (f" and {len(who) - SHOWN} more"
                                          if len(who) > SHOWN else "")
        table.add_row(judgement, before, after, str(len(who)), shown)
    console.print(table)
    console.print("A transition from a status to the same status is a change of score or "
                  "category.", style="dim", markup=False)
