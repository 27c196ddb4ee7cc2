"""Render assessments for people (rich tables) and for programs (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.assessment import Assessment, Judgement

STATUS_STYLE = {"met": "bold green", "not_met": "bold red", "indeterminate": "bold yellow",
                "not_applicable": "dim"}
INDICATOR_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def to_json(assessments: Sequence[Assessment], many: bool) -> str:
    data: Any = [a.model_dump(mode="json") for a in assessments]
    return json.dumps(data if many else data[0], indent=2, ensure_ascii=False)


def _criteria(judgement: Judgement, status: str) -> str:
    names = [c["criterion"] or c["test"] for c in judgement.because.get("criteria", [])
             if c["status"] == status]
    return ", ".join(dict.fromkeys(names)) or "-"


def _values(judgement: Judgement) -> str:
    shown = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in judgement.values.items() if v is not None]
    return "; ".join(shown)


def render_text(assessment: Assessment, console: Console) -> None:
    visit = assessment.evaluation_visit
    console.print(Text.assemble(
        ("Patient ", "bold"), (assessment.patient_id, "bold"),
        f"  evaluated at {assessment.evaluated_at}",
        f" (evaluation visit {visit})" if visit else " (no visit on or before that date)",
    ))
    table = Table(show_lines=True, expand=False)
    for column in ("judgement", "status", "met", "failed", "missing / why open", "rule, citation"):
        table.add_column(column, overflow="fold")
    for key, judgement in assessment.judgements.items():
        status = Text(judgement.status, style=STATUS_STYLE[judgement.status])
        if judgement.values and _values(judgement):
            status.append(f"\n{_values(judgement)}", style="")
        open_items = [*judgement.missing, *judgement.reasons]
        cited = "; ".join(c.label.split(".")[0] for c in judgement.citations)
        notes = [f"{judgement.rule} v{judgement.version}", cited]
        notes += [f"ASSUMPTION: {a.text}" for a in judgement.assumptions]
        table.add_row(key, status, _criteria(judgement, "met"), _criteria(judgement, "not_met"),
                      "\n".join(open_items) or "-", "\n".join(notes))
    console.print(table)
    for alert in assessment.alerts:
        when = f" ({alert.visit_date})" if alert.visit_date else ""
        console.print(Text.assemble((f"ALERT {alert.indicator}{when}: ",
                                     INDICATOR_STYLE[alert.indicator]), alert.summary))
        if alert.detail:
            console.print(f"  {alert.detail}", style="dim")
    for rec in assessment.recommendations:
        console.print(Text.assemble(("RECOMMENDATION: ", "bold cyan"), rec.summary))
        console.print(f"  {rec.detail}  [because {rec.because}; {rec.rule} v{rec.version}]",
                      style="dim")
        for assumption in rec.assumptions:
            console.print(f"  ASSUMPTION: {assumption.text}", style="dim")
    for card in assessment.guidance:
        console.print(Text.assemble((f"GUIDANCE {card.indicator} [{card.plugin}]: ",
                                     INDICATOR_STYLE[card.indicator]), card.summary))
        console.print(f"  {card.detail} (source: {card.source.label})", style="dim")
    for error in assessment.errors:
        console.print(f"PLUGIN ERROR [{error.plugin}] in {error.hook}: {error.error}",
                      style="bold red")
    console.print("Decision support only: these judgements inform, and do not replace, the "
                  "clinician's judgement.", style="dim italic")
