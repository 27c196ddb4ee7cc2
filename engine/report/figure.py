"""The trajectory figure: a patient's course on one date axis, against the rule packs'
thresholds.

Panels share the date axis: CK (log scale), CMAS and MMT8, physician global and skin DAS,
prednisone in mg/kg/day, and a strip of treatments (JAK inhibitor, plasma exchange,
immunoadsorption, other immunosuppressants) with adverse events. Each threshold line is read
from the compiled rule packs (the tests the CID rule counted in the 6-month window makes,
and every other visit test on the plotted values), never written here: a changed threshold
moves its line. The window is shaded from the baseline treatment's first start for as many
days as the pack's window says; visits in CID (that rule met) are marked. A value not
recorded is a gap, never a zero.

The SVG is deterministic (no date, fixed ids through ``svg.hashsalt``, text kept as text in
a fixed font), so tests can compare it. Elements carry ids for tests and readers:
``threshold-<field>-<n>``, ``points-<field>``, ``window``, ``cid-visits``, ``treatment-<name>``,
``event-<n>``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rule_types import Compare
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.patient import Patient
from jdm_cds.report.glossary import Glossary, number
from jdm_cds.report.timeline import assess_each_visit

# (panel title, [(field, colour, marker)], log scale)
PANELS: tuple[tuple[str, tuple[tuple[str, str, str], ...], bool], ...] = (
    ("CK (U/L, log scale)", (("ck_u_l", "#b2182b", "o"),), True),
    ("CMAS (0-52) and MMT8 (0-80)", (("cmas", "#2166ac", "o"), ("mmt8", "#4d9221", "s")),
     False),
    ("Physician global (cm) and skin DAS", (("physician_global_vas", "#762a83", "o"),
                                            ("das_skin", "#e08214", "s")), False),
    ("Prednisone (mg/kg/day)", (("steroid_dose", "#525252", "o"),), False),
)
# The treatment strip: a row per class of the shipped treatment classes or procedure.
STRIP = (("JAK inhibitor", "jak_inhibitor", "#1b7837"),
         ("plasma exchange", "plasma_exchange", "#8c510a"),
         ("immunoadsorption", "immunoadsorption", "#01665e"),
         ("other immunosuppressants", "immunosuppressant", "#5e3c99"))


@dataclass(frozen=True)
class Threshold:
    field: str
    value: float
    label: str


def thresholds(rulebase: RuleBase, glossary: Glossary) -> list[Threshold]:
    """Every visit-value threshold of the judgement rules, by the field it is drawn on.

    A test on a value taken from a visit (``visit_value`` of a visit-scope value, such as the
    prednisone dose now) is drawn on that visit value's panel.
    """
    source = {d.name: str(d.params["field"]) for pack in rulebase.packs for d in pack.derived
              if d.kind == "visit_value" and "field" in d.params}
    plotted = {field for _, fields, _ in PANELS for field, _, _ in fields}
    found: dict[tuple[str, float], Threshold] = {}
    for compiled in rulebase.rules.values():
        if compiled.rule.kind != "judgement":
            continue
        for leaf in compiled.leaves:
            if not isinstance(leaf, Compare) or isinstance(leaf.value, bool) \
                    or not isinstance(leaf.value, int | float):
                continue
            field = source.get(leaf.field, leaf.field)
            if field not in plotted:
                continue
            # Said from the test itself, so that the label moves with the threshold.
            term = glossary.term(field)
            unit = f" {term.unit}" if term.unit else ""
            label = f"{term.label} {_symbol(leaf.op)} {number(leaf.value)}{unit}"
            found.setdefault((field, float(leaf.value)), Threshold(field, float(leaf.value),
                                                                   label))
    return sorted(found.values(), key=lambda t: (t.field, t.value))


def _symbol(op: str) -> str:
    return {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "!="}[op]


@dataclass(frozen=True)
class Course:
    """What the figure shows of one patient, as of one date."""

    dates: list[date]
    values: dict[str, list[float | None]]  # field -> one value (or None) per visit
    in_cid: list[date]  # visits at which the counted CID rule is met
    window: tuple[date, date] | None  # first and last day of the window
    treatments: dict[str, list[tuple[date, date]]]  # strip row -> spans
    events: list[tuple[date, str]]  # adverse events by visit


def course(evaluator: Evaluator, patient: Patient, at: date | None = None) -> Course:
    rulebase = evaluator.rulebase
    facts = evaluator.visit_facts(patient, at)
    visits = [v for v in patient.visits if at is None or v.date <= at]
    end = at or visits[-1].date
    fields = [field for _, group, _ in PANELS for field, _, _ in group]
    values = {field: [_number(fact.get(field)) for fact in facts] for field in fields}
    window_rule, days = _window(rulebase)
    in_cid: list[date] = []
    if window_rule is not None:
        for visit, assessment in zip(visits, assess_each_visit(evaluator, patient, at),
                                     strict=True):
            judged = assessment.judgements.get(window_rule)
            if judged is not None and judged.status == "met":
                in_cid.append(visit.date)
    classes = core_treatment_classes()
    start = classes.first_start(patient.treatments)
    window = None if start is None or days is None else (start, start + timedelta(days))
    treatments: dict[str, list[tuple[date, date]]] = {}
    for label, name, _ in STRIP:
        drugs = classes.drugs(name)
        treatments[label] = [(t.start, min(t.stop or end, end)) for t in patient.treatments
                             if t.drug in drugs and t.start <= end]
    events = [(v.date, e.replace("_", " ")) for v in visits for e in v.adverse_events]
    return Course([v.date for v in visits], values, in_cid, window, treatments, events)


def _literal(text: str) -> str:
    """Text for a legend, which reads ``$...$`` as mathematics: dollars stay dollars."""
    return text.replace("$", r"\$")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _window(rulebase: RuleBase) -> tuple[str | None, int | None]:
    """The judgement a window counts (CID as in the study) and the window's length."""
    for pack in rulebase.packs:
        for derived in pack.derived:
            if derived.kind == "window_count" and "rule" in derived.params:
                return str(derived.params["rule"]), int(derived.params["days"])
    return None, None


def draw(course: Course, lines: Sequence[Threshold], title: str,
         labels: dict[str, str]) -> Any:
    """The matplotlib figure (not through pyplot: no global state, safe in threads)."""
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"svg.hashsalt": "jdm-cds", "svg.fonttype": "none",
                                "font.family": "DejaVu Sans", "font.size": 8})
    figure = Figure(figsize=(7.2, 9.0), layout="constrained")
    ratios = [1] * len(PANELS) + [0.8]
    axes = figure.subplots(len(PANELS) + 1, 1, sharex=True,
                           gridspec_kw={"height_ratios": ratios})
    figure.suptitle(title, fontsize=10, parse_math=False)
    first = min([*course.dates, *(s for spans in course.treatments.values()
                                  for s, _ in spans)])
    last = max(course.dates)
    if course.window is not None:
        first, last = min(first, course.window[0]), max(last, course.window[1])
    pad = timedelta(days=max(7, (last - first).days // 30))
    for axis in axes:
        axis.set_xlim(first - pad, last + pad)
        axis.grid(axis="y", color="#dddddd", linewidth=0.5)
        if course.window is not None:
            axis.axvspan(course.window[0], course.window[1], color="#fee08b", alpha=0.35,
                         linewidth=0, gid="window" if axis is axes[0] else None)
    for axis, (name, group, log) in zip(axes, PANELS, strict=False):
        axis.set_title(name, loc="left", fontsize=8)
        for field, colour, marker in group:
            series = [math.nan if v is None else v for v in course.values[field]]
            axis.plot(course.dates, series, color=colour, marker=marker, markersize=4,
                      linewidth=1.2, label=_literal(labels.get(field, field)),
                      gid=f"points-{field}")
            for n, threshold in enumerate(t for t in lines if t.field == field):
                axis.axhline(threshold.value, color=colour, linestyle="--", linewidth=0.8,
                             gid=f"threshold-{field}-{n}")
                axis.annotate(threshold.label, xy=(1, threshold.value),
                              xycoords=("axes fraction", "data"), xytext=(-2, 2),
                              textcoords="offset points", ha="right", va="bottom",
                              fontsize=6.5, color=colour, parse_math=False)
        if log:
            axis.set_yscale("log")
        if len(group) > 1:
            axis.legend(loc="upper left", fontsize=6.5, frameon=False)
    if course.in_cid:
        top = axes[1]
        top.plot(course.in_cid, [52] * len(course.in_cid), linestyle="none", marker="*",
                 markersize=9, color="#1a9850", gid="cid-visits", label="visit in CID")
        top.legend(loc="upper left", fontsize=6.5, frameon=False)
    strip = axes[-1]
    strip.set_title("Treatments and adverse events", loc="left", fontsize=8)
    for row, (label, _, colour) in enumerate(STRIP):
        spans = course.treatments[label]
        strip.broken_barh([(s, max(e - s, timedelta(days=1))) for s, e in spans],
                          (row - 0.35, 0.7),
                          color=colour, gid=f"treatment-{label.replace(' ', '-')}")
    strip.set_yticks(range(len(STRIP)), [label for label, _, _ in STRIP])
    strip.set_ylim(-0.8, len(STRIP) - 0.2)
    strip.invert_yaxis()
    for n, (day, event) in enumerate(course.events):
        for axis in axes:
            axis.axvline(day, color="#d73027", linestyle=":", linewidth=0.9,
                         gid=f"event-{n}" if axis is strip else None)
        strip.annotate(event, xy=(day, len(STRIP) - 0.3), fontsize=6.5, color="#d73027",
                       rotation=90, va="bottom", ha="right")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    strip.xaxis.set_major_locator(locator)
    strip.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return figure


def svg(figure: Any) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": "jdm-cds"})
    text = out.getvalue()
    # The XML prologue and DOCTYPE are for a file; inline in HTML the <svg> element stands
    # alone.
    return text[text.index("<svg"):]


def png(figure: Any, path: Path) -> None:
    figure.savefig(path, format="png", dpi=150, metadata={"Software": "jdm-cds"})


def trajectory(evaluator: Evaluator, patient: Patient, glossary: Glossary,
               at: date | None = None) -> Any:
    labels = {field: glossary.term(field).label for _, group, _ in PANELS
              for field, _, _ in group}
    return draw(course(evaluator, patient, at), thresholds(evaluator.rulebase, glossary),
                f"{patient.id}: course to {at or patient.visits[-1].date}", labels)


def point_count(values: Iterable[float | None]) -> int:
    return sum(v is not None for v in values)
