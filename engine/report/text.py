"""Render assessments for people (rich tables) and for programs (JSON)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jdm_cds.model.assessment import Assessment, Assumption, Judgement, Source
from jdm_cds.report.timeline import Row

STATUS_STYLE = {"met": "bold green", "not_met": "bold red", "indeterminate": "bold yellow",
                "not_applicable": "dim"}
INDICATOR_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def to_json(assessments: Sequence[Assessment], many: bool) -> str:
    data: Any = [a.model_dump(mode="json") for a in assessments]
    return json.dumps(data if many else data[0], indent=2, ensure_ascii=False)


def _criteria(judgement: Judgement, status: str) -> str:
    tests = judgement.because.get("criteria", [])
    sizes = Counter(c["criterion"] for c in tests)
    # A criterion made of several tests can hold in one and fail in another: name the test.
    names = [c["test"] if not c["criterion"] else c["criterion"] if sizes[c["criterion"]] == 1
             else f"{c['criterion']}: {c['test']}" for c in tests if c["status"] == status]
    return ", ".join(dict.fromkeys(names)) or "-"


def _number(value: Any) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _values(judgement: Judgement) -> str:
    return "; ".join(f"{k}={_number(v)}" for k, v in judgement.values.items() if v is not None)


def _grounds(sources: Sequence[Source], assumptions: Sequence[Assumption],
             console: Console) -> None:
    """Every reference and assumption behind an alert, recommendation or card."""
    for source in sources:
        url = f" {source.url}" if source.url else ""
        console.print(f"  source: {source.label}{url}", style="dim", markup=False)
    for assumption in assumptions:
        console.print(f"  ASSUMPTION: {assumption.text}", style="dim", markup=False)


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
    # Assumptions are long and shared between rules: each is printed once, under the table,
    # and the rows that rest on it point to its number.
    footnotes: dict[str, int] = {}
    for key, judgement in assessment.judgements.items():
        status = Text(judgement.status, style=STATUS_STYLE[judgement.status])
        if judgement.values and _values(judgement):
            status.append(f"\n{_values(judgement)}", style="")
        open_items = [*judgement.missing, *judgement.reasons]
        cited = "; ".join(c.label.split(".")[0] for c in judgement.citations)
        notes = [f"{judgement.rule} v{judgement.version}", cited]
        marks = [footnotes.setdefault(a.text, len(footnotes) + 1) for a in judgement.assumptions]
        if marks:
            notes.append("ASSUMPTION " + ", ".join(f"[{n}]" for n in marks))
        table.add_row(key, status, _criteria(judgement, "met"), _criteria(judgement, "not_met"),
                      "\n".join(open_items) or "-", "\n".join(notes))
    console.print(table)
    for text, number in footnotes.items():
        console.print(f"[{number}] ASSUMPTION: {text}", style="dim", markup=False)
    for alert in assessment.alerts:
        when = f" ({alert.visit_date})" if alert.visit_date else ""
        console.print(Text.assemble((f"ALERT {alert.indicator}{when}: ",
                                     INDICATOR_STYLE[alert.indicator]), alert.summary))
        if alert.detail:
            console.print(f"  {alert.detail}  [{alert.rule} v{alert.version}]", style="dim",
                          markup=False)
        _grounds(alert.sources, alert.assumptions, console)
    for rec in assessment.recommendations:
        console.print(Text.assemble(("RECOMMENDATION: ", "bold cyan"), rec.summary))
        console.print(f"  {rec.detail}  [because {rec.because}; {rec.rule} v{rec.version}]",
                      style="dim", markup=False)
        _grounds(rec.sources, rec.assumptions, console)
    for card in assessment.guidance:
        console.print(Text.assemble((f"GUIDANCE {card.indicator} [{card.plugin}]: ",
                                     INDICATOR_STYLE[card.indicator]), card.summary))
        version = f"  [{card.id} v{card.version}]" if card.version else f"  [{card.id}]"
        console.print(f"  {card.detail}{version}", style="dim", markup=False)
        _grounds(card.sources, card.assumptions, console)
    for error in assessment.errors:
        # Not markup: "[name]" would be read as a style tag and vanish.
        console.print(f"PLUGIN ERROR [{error.plugin}] in {error.hook}: {error.error}",
                      style="bold red", markup=False)
    console.print("Decision support only: these judgements inform, and do not replace, the "
                  "clinician's judgement.", style="dim italic")


# --- timeline: one row a visit ----------------------------------------------------------

# Reported values with a column of their own rather than a place under their rule's status.
DOSE_VALUE = "steroid_dose_now"
# Short column titles; a rule without one is headed by its id. The legend maps them back.
TIMELINE_TITLES = {
    "cid.printo": "CID\nPRINTO",
    "cid.p_cid": "CID\nP-CID",
    "cid.printo_skin": "CID\nstudy",
    "cid.within_6_months": "CID by\nday 183",
    "response.acr_eular_2016": "response\n(TIS)",
    "withdrawal.plasma_exchange": "withdraw\nPLEX",
    "withdrawal.immunoadsorption": "withdraw\nIA",
    "withdrawal.steroid_taper": "steroid\ntaper",
    "withdrawal.steroid_stop": "steroid\nstop",
}
# Reported values the timeline leaves to ``evaluate --at`` (the dose has its own column).
TIMELINE_HIDDEN = frozenset({DOSE_VALUE, "steroid_dose_source", "score_min", "score_max",
                             "missing_domains", "categories"})
SHORT_STATUS = {"met": "met", "not_met": "not met", "indeterminate": "indet.",
                "not_applicable": "n/a"}


def timeline_json(rows: Sequence[Row]) -> str:
    return json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False)


def _show_value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _timeline_cell(row: Row, rule: str) -> Text:
    status = row.statuses.get(rule)
    if status is None:
        return Text("-", style="dim")
    cell = Text(SHORT_STATUS[status], style=STATUS_STYLE[status])
    reported = dict(row.reported.get(rule, {}))
    # A score with domains missing is shown as its bounds.
    low, high = reported.get("score_min"), reported.get("score_max")
    if reported.get("score") is None and low is not None and high is not None:
        reported["score"] = f"{_show_value(low)}-{_show_value(high)}"
    shown = [_show_value(v) if k in ("score", "category") else f"day {v}"
             if k == "days_to_cid" else f"{k} {_show_value(v)}"
             for k, v in reported.items()
             if v is not None and k not in TIMELINE_HIDDEN]
    if shown:
        cell.append("\n" + " ".join(shown), style="")
    return cell


def render_timeline(rows: Sequence[Row], console: Console) -> None:
    """A table a patient, a row a visit, each row as ``evaluate --at <visit date>``."""
    for patient_id in dict.fromkeys(r.patient_id for r in rows):
        mine = [r for r in rows if r.patient_id == patient_id]
        rules = list(dict.fromkeys(rule for r in mine for rule in r.statuses))
        # The dose stands just before the withdrawal judgements it informs.
        split = next((i for i, rule in enumerate(rules) if rule.startswith("withdrawal.")),
                     len(rules))
        console.print(Text.assemble(("Patient ", "bold"), (patient_id, "bold"),
                                    ": judged at each visit, as evaluate --at <visit date>"))
        table = Table(show_lines=True, expand=False)
        table.add_column("visit", no_wrap=True)
        table.add_column("day on\nJAK", justify="right")
        for rule in rules[:split]:
            table.add_column(TIMELINE_TITLES.get(rule, rule), overflow="fold")
        table.add_column("prednisone\nmg/kg/day", justify="right")
        for rule in rules[split:]:
            table.add_column(TIMELINE_TITLES.get(rule, rule), overflow="fold")
        for r in mine:
            dose = r.values.get(DOSE_VALUE)
            table.add_row(
                r.date.isoformat(), "-" if r.days_on_jak is None else str(r.days_on_jak),
                *(_timeline_cell(r, rule) for rule in rules[:split]),
                "unknown" if dose is None else _show_value(dose),
                *(_timeline_cell(r, rule) for rule in rules[split:]),
            )
        console.print(table)
        legend = [f"{TIMELINE_TITLES[rule].replace(chr(10), ' ')} = {rule}"
                  for rule in rules if rule in TIMELINE_TITLES]
        console.print("; ".join(legend), style="dim", markup=False)
    console.print("indet. = indeterminate (data missing, or a window still open: see evaluate "
                  "--at <date> for why); n/a = not applicable. Decision support only: these "
                  "judgements inform, and do not replace, the clinician's judgement.",
                  style="dim italic", markup=False)
