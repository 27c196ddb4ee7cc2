"""Render assessments for people (text for any terminal width) and for programs (JSON).

The text report is laid out for the console's width (80 columns and up; the terminal's
width, or ``COLUMNS`` when piped): a block per judgement group (CID, response, withdrawal,
safety, guidance), each judgement with its status first, in colour and in words, then its
working in clinical words. Lines are wrapped between words, never inside one. Citations and
assumptions are numbered notes at the end. Text from patient files and rule packs is printed
literally (``literal``): no markup is read in it and control characters are shown escaped.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from jdm_cds.model.assessment import Assessment, Judgement, Source
from jdm_cds.report.glossary import Glossary, default_glossary
from jdm_cds.report.judgement_text import (
    STATUS_WORDS,
    Line,
    criteria_lines,
    values_line,
    why_lines,
    would_decide_lines,
)
from jdm_cds.report.literal import literal
from jdm_cds.report.timeline import Row

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

STATUS_STYLE = {"met": "bold green", "not_met": "bold red", "indeterminate": "bold yellow",
                "not_applicable": "dim"}
INDICATOR_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "bold cyan"}

# Judgement groups in reading order: rule ids start with the group's name; a plugin's
# judgements, alerts and cards are guidance.
GROUPS = {"cid": "Clinically inactive disease", "response": "Treatment response",
          "withdrawal": "Withdrawal of treatments", "safety": "Safety",
          "guidance": "Antibody-specific guidance"}
STATUS_WIDTH = 16  # "NOT APPLICABLE" and two spaces
NARROW = 60  # below this width the status stands on its own line


def to_json(assessments: Sequence[Assessment], many: bool) -> str:
    data: Any = [a.model_dump(mode="json") for a in assessments]
    return json.dumps(data if many else data[0], indent=2, ensure_ascii=False)


def _group(rule: str, plugin: str | None) -> str:
    if plugin is not None:
        return "guidance"
    prefix = rule.split(".", 1)[0]
    return prefix if prefix in GROUPS else "other"


class _Notes:
    """Citations and assumptions, numbered in order of first use."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str], int] = {}

    def mark(self, kind: str, text: str) -> int:
        return self.numbers.setdefault((kind, text), len(self.numbers) + 1)

    def of(self, citations: Sequence[Source], assumptions: Sequence[str]) -> str:
        marks = [self.mark("source", _source(s)) for s in citations]
        marks += [self.mark("assumption", a) for a in assumptions]
        return ("notes " + ", ".join(str(n) for n in marks)) if marks else ""


def _source(source: Source) -> str:
    return f"{source.label} {source.url}" if source.url else source.label


# A piece of a line: its text and its rich style ("": none).
Span = tuple[str, str]

# The characters rich's Text leaves out (bell, backspace, vertical tab, form feed, carriage
# return: rich.control.STRIP_CONTROL_CODES), left out of a plain report too.
_RICH_STRIPS = dict.fromkeys((7, 8, 11, 12, 13))


class PlainText:
    """Where a text report goes when rich would style nothing: a pipe or a file, with no
    setting that asks for colour (``jdm_cds.cli.common.report_output`` decides). The
    report is written as rich writes it there, its text without styles, without importing
    rich: the import of its console costs about 80 million instructions, a sixth of the
    start-up of ``jdm-cds evaluate FILE``."""

    __slots__ = ("file", "width")

    def __init__(self, file: IO[str], width: int) -> None:
        self.file = file
        self.width = width


def wrap(text: str, width: int, hang: int = 0) -> list[str]:
    """``text`` in lines of at most ``width`` columns, the second and later indented by
    ``hang``, as ``textwrap.wrap`` makes them (without breaking at hyphens); ``[""]`` for
    no text. A line that fits is its own wrapping (most of a report's lines): textwrap,
    which splits every text into words, would give the same line back."""
    if len(text) <= width and text.isprintable() and not text.endswith(" "):
        return [text]
    return textwrap.wrap(text, width=width, subsequent_indent=" " * hang,
                         break_on_hyphens=False) or [""]


class _Writer:
    """Lays out blocks of status + wrapped text for one console width.

    The lines are kept and printed together (``flush``): one print of the whole report
    writes the same bytes as a print a line, at a fraction of rich's cost per print.
    """

    def __init__(self, console: Console | PlainText) -> None:
        self.console = console
        self.width = max(console.width, 20)
        narrow = self.width < NARROW
        self.indent = 2 if narrow else STATUS_WIDTH
        self.narrow = narrow
        self.lines: list[tuple[Span, ...]] = []

    def wrap(self, text: str, width: int, hang: int = 0) -> list[str]:
        return wrap(text, max(width, 10), hang)

    def print(self, *spans: Span) -> None:
        self.lines.append(spans)

    def flush(self) -> None:
        flush_lines(self.lines, self.console)
        self.lines = []

    def rule(self, title: str) -> None:
        head = f"── {title} "
        self.print(("", ""))
        self.print((head + "─" * max(self.width - len(head), 2), "bold"))

    def paragraph(self, text: str, style: str = "", indent: int = 0) -> None:
        for line in self.wrap(text, self.width - indent):
            self.print((" " * indent + line, style))

    def entry(self, status: str, status_style: str, title: str,
              lines: Sequence[Line | str], footer: str) -> None:
        """A status word, then the title and lines wrapped in the body column."""
        body = self.width - self.indent
        titled = self.wrap(title, body)
        if self.narrow:
            self.print((status, status_style))
            start = 0
        else:
            self.print((f"{status:<{STATUS_WIDTH}}", status_style), (titled[0], "bold"))
            start = 1
        for line in titled[start:]:
            self.print((" " * self.indent + line, "bold"))
        for item in lines:
            if isinstance(item, Line):
                wrapped = self.wrap(f"{item.heading}: {item.text}", body, hang=2)
                head_len = len(item.heading) + 1
                for index, line in enumerate(wrapped):
                    if index == 0:
                        self.print((" " * self.indent, ""), (line[:head_len], "italic"),
                                   (line[head_len:], ""))
                    else:
                        self.print((" " * self.indent, ""), (line, ""))
            else:
                for line in self.wrap(item, body):
                    self.print((" " * self.indent + line, ""))
        if footer:
            for line in self.wrap(footer, body):
                self.print((" " * self.indent + line, "dim"))


def flush_lines(lines: Sequence[tuple[Span, ...]], console: Console | PlainText) -> None:
    """Print ``lines`` (each its spans) in one piece: through rich, or, for a ``PlainText``,
    the bytes rich would write there (a line with a tab, which rich expands by cell
    position, goes through rich)."""
    if isinstance(console, PlainText):
        texts = ["".join(text for text, _ in line) for line in lines]
        if not any("\t" in text for text in texts):
            if console.width >= 1:  # rich renders nothing at all in no columns (COLUMNS=0)
                console.file.write("\n".join(texts).translate(_RICH_STRIPS) + "\n")
                console.file.flush()
            return
        from rich.console import Console

        console = Console(file=console.file, width=console.width, soft_wrap=False,
                          force_terminal=False)
    from rich.text import Text

    shown = []
    for (first, style), *rest in lines:
        text = Text(first, style=style)
        for piece, piece_style in rest:
            text.append(piece, style=piece_style)
        shown.append(text)
    console.print(Text("\n").join(shown), soft_wrap=True, highlight=False)


def judgement_lines(judgement: Judgement, glossary: Glossary) -> list[Line]:
    """The working of a judgement, every piece of text escaped for a terminal."""
    lines = [*why_lines(judgement, glossary), *would_decide_lines(judgement, glossary)]
    shown = values_line(judgement, glossary)
    if shown is not None:
        lines.append(shown)
    lines += criteria_lines(judgement, glossary)
    return [Line(line.heading, literal(line.text, prose=True)) for line in lines]


def _stale(assessment: Assessment) -> list[str]:
    """The stale-data warnings of an assessment, if the model carries them."""
    stale = getattr(assessment, "stale_data", None)
    if not stale:
        return []
    items = stale if isinstance(stale, list | tuple) else [stale]
    return [_describe(item) for item in items]


def _describe(item: object) -> str:
    if hasattr(item, "model_dump"):
        data = item.model_dump(mode="json")
        text = data.get("message") or data.get("text") or data.get("detail")
        if isinstance(text, str):
            return text
        return "; ".join(f"{k}: {v}" for k, v in data.items() if v is not None)
    return str(item)


def _unmapped_summary(assessment: Assessment) -> list[str]:
    """What a FHIR input held that was not read: one line a kind and reason, with examples
    (the full list is ``unmapped`` in --format json)."""
    if not assessment.unmapped:
        return []
    groups: dict[tuple[str, str], list[str]] = {}
    for u in assessment.unmapped:
        groups.setdefault((u.resource_type, u.reason), []).append(
            u.display or u.code or f"{u.resource_type}/{u.id}")
    lines = [f"Not read from the FHIR input: {len(assessment.unmapped)} resource(s) "
             "(listed under 'unmapped' in --format json)"]
    for (kind, reason), names in sorted(groups.items()):
        shown = ", ".join(dict.fromkeys(names[:3])) + (" ..." if len(names) > 3 else "")
        lines.append(f"  {len(names)} {kind}: {reason} ({shown})")
    return lines


def render_text(assessment: Assessment, console: Console | PlainText,
                glossary: Glossary | None = None) -> None:
    """The text report of one assessment, laid out for ``console.width`` columns."""
    words = glossary or default_glossary()
    out = _Writer(console)
    notes = _Notes()
    visit = assessment.evaluation_visit
    out.print(("Patient ", "bold"), (literal(assessment.patient_id), "bold"))
    out.paragraph(f"Evaluated at {assessment.evaluated_at}"
                  + (f", evaluation visit {visit}" if visit else
                     " (no visit on or before that date)"))
    for warning in _stale(assessment):
        out.paragraph(f"STALE DATA: {literal(warning, prose=True)}", style="bold red")
    for line in _unmapped_summary(assessment):
        out.paragraph(literal(line, prose=True), style="bold yellow")

    blocks: dict[str, list[tuple[str, str, str, list[Line | str], str]]] = {
        group: [] for group in (*GROUPS, "other")}
    for judgement in assessment.judgements.values():
        footer = " · ".join(x for x in (
            f"{literal(judgement.rule)} {literal(judgement.version)}",
            notes.of(judgement.citations, [a.text for a in judgement.assumptions])) if x)
        title = words.rule(judgement.rule, judgement.title)
        blocks[_group(judgement.rule, judgement.plugin)].append((
            STATUS_WORDS[judgement.status], STATUS_STYLE[judgement.status],
            literal(title, prose=True), list(judgement_lines(judgement, words)), footer))
    for alert in assessment.alerts:
        footer = " · ".join(x for x in (
            f"{literal(alert.rule)} {literal(alert.version)}",
            notes.of(alert.sources, [a.text for a in alert.assumptions])) if x)
        blocks[_group(alert.rule, alert.plugin)].append((
            alert.indicator.upper(), INDICATOR_STYLE[alert.indicator],
            literal(alert.summary, prose=True), [literal(alert.detail, prose=True)]
            if alert.detail else [], footer))
    for rec in assessment.recommendations:
        footer = " · ".join(x for x in (
            f"{literal(rec.rule)} {literal(rec.version)}",
            notes.of(rec.sources, [a.text for a in rec.assumptions])) if x)
        blocks[_group(rec.rule, rec.plugin)].append((
            "RECOMMENDATION", "bold cyan", literal(rec.summary, prose=True),
            [literal(rec.detail, prose=True),
             Line("Because", literal(rec.because, prose=True))], footer))
    for card in assessment.guidance:
        footer = " · ".join(x for x in (
            f"{literal(card.id)} {literal(card.version or '')}".rstrip(),
            f"plugin {literal(card.plugin or '-')}",
            notes.of(card.sources, [a.text for a in card.assumptions])) if x)
        blocks["guidance"].append((card.indicator.upper(), INDICATOR_STYLE[card.indicator],
                                   literal(card.summary, prose=True),
                                   [literal(card.detail, prose=True)], footer))
    for error in assessment.errors:
        blocks["guidance"].append(("PLUGIN ERROR", "bold red",
                                   f"plugin {literal(error.plugin)} failed in "
                                   f"{literal(error.hook)}", [literal(error.error, True)], ""))
    for group, entries in blocks.items():
        if not entries:
            continue
        out.rule(GROUPS.get(group, "Other judgements"))
        for status, style, title, lines, footer in entries:
            out.print(("", ""))
            out.entry(status, style, title, lines, footer)
    if notes.numbers:
        out.rule("Notes")
        for (kind, text), number in notes.numbers.items():
            mark = f"[{number}] "
            label = "ASSUMPTION: " if kind == "assumption" else ""
            for line in out.wrap(mark + label + literal(text, prose=True), out.width,
                                 hang=len(mark)):
                out.print((line, ""))
    out.print(("", ""))
    out.paragraph("Decision support only: these judgements inform, and do not replace, the "
                  "clinician's judgement.", style="dim italic")
    out.flush()


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
    "withdrawal.immunosuppressants": "withdraw\nIS",
    "safety.ifn_alpha_above_normal": "IFN-a\nhigh",
    "withdrawal.steroid_taper": "steroid\ntaper",
    "withdrawal.steroid_stop": "steroid\nstop",
}
# Reported values the timeline leaves to ``evaluate --at`` (the dose has its own column).
TIMELINE_HIDDEN = frozenset({DOSE_VALUE, "steroid_dose_source", "score_min", "score_max",
                             "missing_domains", "categories", "immunosuppressants_now"})
SHORT_STATUS = {"met": "met", "not_met": "not met", "indeterminate": "indet.",
                "not_applicable": "n/a"}


def timeline_json(rows: Sequence[Row]) -> str:
    return json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False)


def _show_value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _timeline_cell(row: Row, rule: str) -> Text:
    from rich.text import Text

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
    from rich.table import Table
    from rich.text import Text

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
        table.add_column("prednisone\nmg/kg/day", justify="right", min_width=10)
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
