"""A judgement in words: its criteria, why it is open, what it rests on.

Shared by the text report and the patient page, so that both say the same thing. Every
string that comes from a patient file or a rule pack is returned as written; the caller
escapes it for its medium (``literal`` for a terminal, HTML escaping for a page).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jdm_cds.language.records import Record
from jdm_cds.model.assessment import Bound, Judgement
from jdm_cds.report.glossary import PATIENT_FIELDS, Glossary, number

STATUS_WORDS = {"met": "MET", "not_met": "NOT MET", "indeterminate": "INDETERMINATE",
                "not_applicable": "NOT APPLICABLE"}
CRITERIA_HEADINGS = (("met", "Met"), ("not_met", "Not met"), ("indeterminate", "Unknown"),
                     ("not_needed", "Not needed"))


class Line(Record):
    """One statement of the working: a heading ("Met") and what it says."""

    heading: str
    text: str


def _test_words(test: str, glossary: Glossary) -> str:
    """``ck_u_l <= 150`` as ``CK <= 150 U/L``; ``cid_now is met`` as ``CID now is met``."""
    name, _, rest = test.partition(" ")
    term = glossary.term(name)
    op, _, operand = rest.partition(" ")
    if op == "contains":
        return f"{term.label} include {operand}"
    if op == "=" and operand in ("true", "false"):
        return f"{term.label}: {'yes' if operand == 'true' else 'no'}"
    unit = f"\u00a0{term.unit}" if term.unit and operand.replace(".", "", 1).isdigit() else ""
    return f"{term.label} {op} {operand}{unit}"


def _shown(value: Any) -> bool:
    """A value worth showing next to its test: a measure, not a yes/no or a status that
    the test's outcome already says."""
    return value is not None and not isinstance(value, bool) and value not in STATUS_WORDS


def criteria_lines(judgement: Judgement, glossary: Glossary) -> list[Line]:
    """The criteria grouped by outcome, each with the values it read."""
    entries = _entries(judgement, glossary)
    if judgement.status == "not_applicable":
        entries["not_met"] = []  # said as the reason (``why_lines``)
    return [Line(heading, "; ".join(entries[status]))
            for status, heading in CRITERIA_HEADINGS if entries[status]]


def _entries(judgement: Judgement, glossary: Glossary) -> dict[str, list[str]]:
    """Each criterion (or test) in words, by its outcome."""
    entries: dict[str, list[str]] = {status: [] for status, _ in CRITERIA_HEADINGS}
    tests: list[dict[str, Any]] = judgement.because.get("criteria", [])
    by_criterion: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        key = test["criterion"] or f"test:{test['test']}"
        by_criterion.setdefault(key, []).append(test)
    for key, group in by_criterion.items():
        statuses = {t["status"] for t in group}
        values = {t["test"].partition(" ")[0]: t["value"] for t in group if _shown(t["value"])}
        if key.startswith("test:") or len(statuses) > 1:
            # No criterion, or a criterion that holds in one test and fails in another:
            # each test is said on its own.
            prefix = "" if key.startswith("test:") else \
                f"{glossary.criterion(judgement.pack, key)}: "
            for t in group:
                name = t["test"].partition(" ")[0]
                shown = f" ({glossary.term(name).show(t['value'])})" if _shown(t["value"]) \
                    else ""
                entries[t["status"]].append(f"{prefix}{_test_words(t['test'], glossary)}"
                                            f"{shown}")
            continue
        label = glossary.criterion(judgement.pack, key)
        pairs = _distinct(glossary, values.items())
        if len(pairs) == 1:
            label += f" ({pairs[0][1]})"
        elif pairs:
            label += " (" + ", ".join(f"{name} {shown}" for name, shown in pairs) + ")"
        entries[statuses.pop()].append(label)
    return entries


def _distinct(glossary: Glossary, values: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(label, shown value) pairs, without a value said twice: a bound that equals the
    value it bounds ("Total Improvement Score, at least" 95 after the score 95) and empty
    lists are left out."""
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for name, value in values:
        if isinstance(value, list | tuple):
            if not value:
                continue
            value = ", ".join(str(v) for v in value)
        term = glossary.term(name)
        shown = term.show(value)
        key = (term.label.split(",")[0], shown)
        if key not in seen:
            seen.add(key)
            pairs.append((term.label, shown))
    return pairs


def values_line(judgement: Judgement, glossary: Glossary) -> Line | None:
    shown = [f"{label}: {value}" for label, value in _distinct(
        glossary, ((name, value) for name, value in judgement.values.items()
                   if value is not None))]
    return Line("Values", "; ".join(shown)) if shown else None


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def why_lines(judgement: Judgement, glossary: Glossary) -> list[Line]:
    """Why an open judgement is open, or why it does not apply, in sentences."""
    if judgement.status == "not_applicable":
        failed = _entries(judgement, glossary)["not_met"]
        if not failed:
            return [Line("Why", "Not applicable: its condition of application does not hold.")]
        return [Line("Why", f"Not applicable, because this does not hold: "
                     f"{'; '.join(failed)}.")]
    if judgement.status != "indeterminate":
        return []
    said: list[str] = []
    recorded = [glossary.term(f).label for f in judgement.missing if f in PATIENT_FIELDS]
    derived = [glossary.term(f).label for f in judgement.missing if f not in PATIENT_FIELDS]
    where = f"at the visit of {judgement.visit_date}" if judgement.visit_date else \
        "at the evaluation visit"
    if recorded:
        said.append(f"Not recorded {where}: {', '.join(recorded)}.")
    if derived:
        said.append(f"Not yet known: {', '.join(derived)}.")
    said += [_sentence(reason) for reason in judgement.reasons]
    return [Line("Why open", " ".join(said) or "The measured values do not decide it.")]


_STATUS_SAID = {"met": "met", "not_met": "not met", "not_applicable": "not applicable",
                "indeterminate": "indeterminate"}


def bound_words(bound: Bound, glossary: Glossary) -> str:
    """A range of one missing value in clinical words: ``CMAS >= 48``, ``CK > 150 U/L``."""
    term = glossary.term(bound.field)
    if bound.values is not None:
        shown = " or ".join(_STATUS_SAID.get(v, v) if isinstance(v, str) else
                            term.show(v) for v in bound.values)
        return f"{term.label}: {shown}"
    unit = f"\u00a0{term.unit}" if term.unit else ""

    def num(value: float) -> str:
        return f"{number(value)}{unit}"

    if bound.low is not None and bound.low == bound.high:
        return f"{term.label} = {num(bound.low)}"
    if bound.low is not None and bound.high is not None:
        return (f"{term.label} {'>=' if bound.low_inclusive else '>'} {num(bound.low)} and "
                f"{'<=' if bound.high_inclusive else '<'} {num(bound.high)}")
    if bound.low is not None:
        return f"{term.label} {'>=' if bound.low_inclusive else '>'} {num(bound.low)}"
    if bound.high is not None:
        return f"{term.label} {'<=' if bound.high_inclusive else '<'} {num(bound.high)}"
    return f"{term.label}: any value"


def would_decide_lines(judgement: Judgement, glossary: Glossary) -> list[Line]:
    """What would settle an open judgement: each smallest set of missing values with the
    ranges that give each status, and the open window's closing day."""
    wd = judgement.would_decide
    if wd is None:
        return []
    said: list[str] = []
    for completion in wd.sets:
        for status in ("met", "not_met", "not_applicable"):
            for alternative in getattr(completion, status):
                ranges = " and ".join(_trimmed(bound, glossary) for bound in alternative)
                said.append(f"{ranges} \u2192 {_STATUS_SAID[status]}")
    lines = [Line("Would decide", "; ".join(said))] if said else []
    if wd.window is not None:
        lines.append(Line("Window", f"closes on {wd.window.closes}; it would take "
                          f"{wd.window.needs}"))
    if not wd.complete:
        lines.append(Line("Would decide", "(more combinations than shown)"))
    return lines


def _trimmed(bound: Bound, glossary: Glossary) -> str:
    """A bound without the side that is the measure's own limit (``CMAS >= 48``, not
    ``CMAS >= 48 and <= 52``)."""
    from jdm_cds.would_decide import one_sided

    return bound_words(one_sided(bound), glossary)
