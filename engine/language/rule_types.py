"""Typed model of a rule pack: what the YAML means once it has been parsed.

The loader (``rule_loader``) builds these objects from YAML and the compiler
(``compiler``) turns them into durable_rules rulesets. Nothing here runs code
from a rule file: conditions are plain data trees.
"""

from __future__ import annotations

from dataclasses import field as _field
from typing import Any, Literal

from jdm_cds.language.records import Record

Status = Literal["met", "not_met", "indeterminate", "not_applicable"]
STATUSES: tuple[Status, ...] = ("met", "not_met", "indeterminate", "not_applicable")

Scope = Literal["visit", "patient"]
Kind = Literal["judgement", "alert", "recommendation"]
Indicator = Literal["info", "warning", "critical"]

# Comparison operators a rule may use, with the operator that is true exactly
# when the comparison is false *and the field is present* (absent fields match
# neither in durable_rules, which is what makes missing data indeterminate).
COMPARISONS: dict[str, tuple[str, str]] = {
    "lt": ("$lt", "$gte"),
    "lte": ("$lte", "$gt"),
    "gt": ("$gt", "$lte"),
    "gte": ("$gte", "$lt"),
    "eq": ("$eq", "$neq"),
    "neq": ("$neq", "$eq"),
}


class Mark(Record):
    """Where something was written: file and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# --- conditions -------------------------------------------------------------


class Compare(Record):
    """``field <op> value``; unknown when the field is absent."""

    field: str
    op: str
    value: float | bool | str
    mark: Mark = _field(compare=False)


class Is(Record):
    """``field`` holds a judgement status; only ``indeterminate`` or absence is unknown."""

    field: str
    status: Status
    mark: Mark = _field(compare=False)


class Contains(Record):
    """A list field (adverse events, antibodies) contains ``item``; a list is never unknown."""

    field: str
    item: str
    mark: Mark = _field(compare=False)


class All(Record):
    children: tuple[Condition, ...]
    mark: Mark = _field(compare=False)


class Any_(Record):
    children: tuple[Condition, ...]
    mark: Mark = _field(compare=False)


class Not(Record):
    child: Condition
    mark: Mark = _field(compare=False)


class AtLeast(Record):
    n: int
    children: tuple[Condition, ...]
    mark: Mark = _field(compare=False)


class CriterionRef(Record):
    """A named criterion of the same pack."""

    name: str
    mark: Mark = _field(compare=False)


class RuleRef(Record):
    """Another judgement of the same scope: its ``when`` is inlined at compile time."""

    rule: str
    mark: Mark = _field(compare=False)


Leaf = Compare | Is | Contains
Condition = Compare | Is | Contains | All | Any_ | Not | AtLeast | CriterionRef | RuleRef


# --- packs --------------------------------------------------------------------


class Reference(Record):
    key: str
    citation: str
    url: str | None = None


class Assumption(Record):
    key: str
    text: str


class Criterion(Record):
    name: str
    title: str
    when: Condition
    mark: Mark
    label: str | None = None  # a short title for reports, where the title is long


class Derived(Record):
    """A value Python computes before facts reach the engine (see ``derive``)."""

    name: str
    scope: Scope
    kind: str
    params: dict[str, Any]
    title: str
    mark: Mark
    label: str | None = None  # a short title for reports, where the title is long
    unit: str | None = None  # the unit its values are shown in


class Message(Record):
    """Text of an alert or recommendation; ``{name}`` placeholders take fact values."""

    summary: str
    detail: str
    indicator: Indicator = "info"


class Rule(Record):
    id: str
    title: str
    kind: Kind
    scope: Scope
    when: Condition
    applies_if: Condition | None
    references: tuple[str, ...]
    assumptions: tuple[str, ...]
    report: tuple[str, ...]
    message: Message | None
    reasons: tuple[tuple[Condition, str], ...]
    mark: Mark
    # While this holds (or may hold), a ``when`` that is false gives ``indeterminate``, not
    # ``not_met``: the evidence could still come (an open window, an unjudged visit).
    undecided_if: Condition | None = None
    label: str | None = None  # a short title for reports, where the title is long


class RulePack(Record):
    id: str
    version: str
    title: str
    status: str
    file: str
    references: dict[str, Reference]
    assumptions: dict[str, Assumption]
    criteria: dict[str, Criterion]
    derived: tuple[Derived, ...]
    rules: tuple[Rule, ...]
    plugin: str | None = None
