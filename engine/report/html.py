"""The patient page: one self-contained HTML file (no network, no external file).

Header (patient, antibodies, treatments, evaluation date, stale-data warning), the
trajectory figure as inline SVG, the judgements with their working (the same words as the
text report, each in a collapsible block), alerts, recommendations, guidance, and the
citations and assumptions as numbered notes. A print stylesheet lays it out on A4 portrait,
every block open. Every text from the patient file, the rule packs or a plugin is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from jdm_cds.model.assessment import Assessment, Judgement, Source
from jdm_cds.model.patient import Patient
from jdm_cds.report.glossary import Glossary
from jdm_cds.report.judgement_text import (
    STATUS_WORDS,
    Line,
    criteria_lines,
    values_line,
    why_lines,
    would_decide_lines,
)

GROUPS = {"cid": "Clinically inactive disease", "response": "Treatment response",
          "withdrawal": "Withdrawal of treatments", "safety": "Safety",
          "guidance": "Antibody-specific guidance"}

STYLE = """
:root { --met: #1a7f37; --not-met: #b42318; --open: #9a6700; --na: #6e7781; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem;
  border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
.meta { color: #57606a; margin: .1rem 0; }
.stale { background: #ffebe9; border: 1px solid #b42318; padding: .5rem .8rem; margin: .6rem 0;
         font-weight: 600; }
figure { margin: .8rem 0; } figure svg { width: 100%; height: auto; }
details { border: 1px solid #d0d7de; border-radius: 6px; margin: .4rem 0; padding: .3rem .7rem; }
summary { cursor: pointer; }
.status { display: inline-block; min-width: 9.5rem; font-weight: 700; }
.met { color: var(--met); } .not_met { color: var(--not-met); }
.indeterminate { color: var(--open); } .not_applicable { color: var(--na); }
.critical { color: var(--not-met); } .warning { color: var(--open); } .info { color: #0969da; }
dl { margin: .4rem 0; } dt { font-style: italic; float: left; clear: left; width: 7.5rem; }
dd { margin: 0 0 .2rem 7.8rem; }
.footer { color: #57606a; font-size: .9em; }
ol.notes li { margin: .2rem 0; }
.disclaimer { color: #57606a; font-style: italic; margin-top: 1.5rem; }
@media print {
  @page { size: A4 portrait; margin: 12mm; }
  body { max-width: none; margin: 0; font-size: 10pt; }
  details { break-inside: avoid; border: none; padding: 0; }
  summary { list-style: none; } summary::-webkit-details-marker { display: none; }
  figure { break-inside: avoid; } a { color: inherit; text-decoration: none; }
}
"""

# Open every block before printing, so that the paper shows all the working.
SCRIPT = """
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
});
"""


class _Notes:
    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str, str | None], int] = {}

    def refs(self, sources: Sequence[Source], assumptions: Sequence[str]) -> str:
        marks = [self.numbers.setdefault(("source", s.label, s.url), len(self.numbers) + 1)
                 for s in sources]
        marks += [self.numbers.setdefault(("assumption", a, None), len(self.numbers) + 1)
                  for a in assumptions]
        return ", ".join(f'<a href="#note-{n}">{n}</a>' for n in marks)


def _group(rule: str, plugin: str | None) -> str:
    if plugin is not None:
        return "guidance"
    prefix = rule.split(".", 1)[0]
    return prefix if prefix in GROUPS else "other"


def _lines(lines: Sequence[Line]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(line.heading)}</dt><dd>{escape(line.text)}</dd>"
                            for line in lines) + "</dl>"


def _judgement(judgement: Judgement, glossary: Glossary, notes: _Notes) -> str:
    lines = [*why_lines(judgement, glossary), *would_decide_lines(judgement, glossary)]
    shown = values_line(judgement, glossary)
    if shown is not None:
        lines.append(shown)
    lines += criteria_lines(judgement, glossary)
    refs = notes.refs(judgement.citations, [a.text for a in judgement.assumptions])
    status = judgement.status
    return (f'<details class="judgement" id="{escape(judgement.rule)}"'
            f'{" open" if status == "indeterminate" else ""}>'
            f'<summary><span class="status {status}">{STATUS_WORDS[status]}</span> '
            f"{escape(glossary.rule(judgement.rule, judgement.title))}</summary>"
            f"{_lines(lines)}"
            f'<p class="footer">{escape(judgement.rule)} {escape(judgement.version)}'
            f"{' · notes ' + refs if refs else ''}</p></details>")


def _message(word: str, css: str, summary: str, body: Sequence[str | Line], footer: str,
             refs: str) -> str:
    parts = "".join(f"<p>{escape(item)}</p>" if isinstance(item, str)
                    else _lines([item]) for item in body)
    return (f'<details open><summary><span class="status {css}">{escape(word)}</span> '
            f"{escape(summary)}</summary>{parts}"
            f'<p class="footer">{escape(footer)}{" · notes " + refs if refs else ""}</p>'
            f"</details>")


def _header(patient: Patient, assessment: Assessment) -> str:
    visit = assessment.evaluation_visit
    treatments = ", ".join(
        f"{t.drug} from {t.start}" + (f" to {t.stop}" if t.stop else "")
        for t in sorted(patient.treatments, key=lambda t: (t.start, t.drug)))
    rows = [f"<h1>Patient {escape(assessment.patient_id)}</h1>",
            f'<p class="meta">Evaluated at {assessment.evaluated_at}'
            + (f", evaluation visit {visit}" if visit else " (no visit on or before that date)")
            + "</p>",
            '<p class="meta">Antibodies: '
            f'{escape(", ".join(patient.antibodies) or "none recorded")}</p>',
            f'<p class="meta">Treatments: {escape(treatments or "none recorded")}</p>']
    stale = getattr(assessment, "stale_data", None)
    if stale:
        items = stale if isinstance(stale, list | tuple) else [stale]
        for item in items:
            text = item.model_dump_json() if hasattr(item, "model_dump_json") else str(item)
            rows.append(f'<p class="stale">Stale data: {escape(text)}</p>')
    return "\n".join(rows)


def render_page(patient: Patient, assessment: Assessment, glossary: Glossary,
                figure_svg: str | None) -> str:
    """The page as one HTML string; ``figure_svg`` is an ``<svg>`` element (trusted: made
    by matplotlib, which escapes the text it holds)."""
    notes = _Notes()
    blocks: dict[str, list[str]] = {group: [] for group in (*GROUPS, "other")}
    for judgement in assessment.judgements.values():
        blocks[_group(judgement.rule, judgement.plugin)].append(
            _judgement(judgement, glossary, notes))
    for alert in assessment.alerts:
        blocks[_group(alert.rule, alert.plugin)].append(_message(
            alert.indicator.upper(), alert.indicator, alert.summary,
            [alert.detail] if alert.detail else [], f"{alert.rule} {alert.version}",
            notes.refs(alert.sources, [a.text for a in alert.assumptions])))
    for rec in assessment.recommendations:
        blocks[_group(rec.rule, rec.plugin)].append(_message(
            "RECOMMENDATION", "info", rec.summary, [rec.detail, Line("Because", rec.because)],
            f"{rec.rule} {rec.version}",
            notes.refs(rec.sources, [a.text for a in rec.assumptions])))
    for card in assessment.guidance:
        blocks["guidance"].append(_message(
            card.indicator.upper(), card.indicator, card.summary, [card.detail],
            f"{card.id} {card.version or ''} · plugin {card.plugin or '-'}",
            notes.refs(card.sources, [a.text for a in card.assumptions])))
    for error in assessment.errors:
        blocks["guidance"].append(_message(
            "PLUGIN ERROR", "critical", f"plugin {error.plugin} failed in {error.hook}",
            [error.error], "", ""))
    body = [_header(patient, assessment)]
    if figure_svg:
        body.append('<figure id="trajectory">' + figure_svg + "<figcaption>Course on one "
                    "date axis: dashed lines are the rule packs' thresholds; the shaded band "
                    "is the 6-month window; stars mark visits in CID; dotted red lines mark "
                    "adverse events.</figcaption></figure>")
    for group, entries in blocks.items():
        if entries:
            body.append(f"<h2>{escape(GROUPS.get(group, 'Other judgements'))}</h2>")
            body += entries
    if notes.numbers:
        body.append('<h2>Notes</h2><ol class="notes">')
        for (kind, text, url), number in notes.numbers.items():
            label = "ASSUMPTION: " if kind == "assumption" else ""
            link = f' <a href="{escape(url)}">{escape(url)}</a>' if url else ""
            body.append(f'<li id="note-{number}">{label}{escape(text)}{link}</li>')
        body.append("</ol>")
    body.append('<p class="disclaimer">Decision support only: these judgements inform, and '
                "do not replace, the clinician's judgement.</p>")
    title = f"jdm-cds: {assessment.patient_id} at {assessment.evaluated_at}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # Nothing is fetched: no script, style, font or image from elsewhere.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style>"
            f"<script>{SCRIPT}</script></head>\n<body>\n" + "\n".join(body)
            + "\n</body></html>\n")
