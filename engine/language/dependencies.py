"""Which judgements a recommendation or alert depends on, and in which of their states.

A recommendation is written for a state of the judgements it names: "consider withdrawing
plasma exchange" for ``withdrawal.plasma_exchange`` met, "no CID by 6 months" for
``cid.within_6_months`` not met. The condition says so: ``{rule: X}`` holds only where X is
met, ``not: {rule: X}`` only where X is not met or not applicable, and ``{field: F, is: S}``
on a ``visit_status`` value of the evaluation visit only where that visit judgement has
status S. This module reads those requirements off the condition (nothing is declared
twice), so that each recommendation names what it rests on and a test can check that no
shown recommendation contradicts a judgement of the same evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jdm_cds.language.rule_types import (
    STATUSES,
    All,
    Any_,
    Condition,
    CriterionRef,
    Is,
    Not,
    Rule,
    RulePack,
    RuleRef,
    Status,
)

# Judgement id -> the statuses it may have for the condition to hold.
Requirements = dict[str, frozenset[Status]]


def evaluation_status_fields(packs: Iterable[RulePack]) -> dict[str, str]:
    """Derived fields holding a visit judgement's status at the evaluation visit: the
    status the assessment reports for that judgement."""
    return {d.name: str(d.params["rule"]) for pack in packs for d in pack.derived
            if d.kind == "visit_status" and d.params.get("visit") == "evaluation"}


def requirements(rule: Rule, pack: RulePack, status_fields: Mapping[str, str]) -> Requirements:
    """What ``rule``'s condition requires of other judgements when it holds."""
    return _required(rule.when, pack, True, status_fields) or {}


def _required(cond: Condition, pack: RulePack, positive: bool,
              fields: Mapping[str, str]) -> Requirements | None:
    if isinstance(cond, RuleRef):
        return {cond.rule: frozenset({"met"} if positive else {"not_met", "not_applicable"})}
    if isinstance(cond, Is):
        if cond.field not in fields:
            return None
        # An Is test is unknown (so the condition does not hold) on "indeterminate" unless
        # it asks for it; false only on a known, other status.
        allowed = {cond.status} if positive else set(STATUSES) - {cond.status, "indeterminate"}
        return {fields[cond.field]: frozenset(allowed)}
    if isinstance(cond, CriterionRef):
        return _required(pack.criteria[cond.name].when, pack, positive, fields)
    if isinstance(cond, Not):
        return _required(cond.child, pack, not positive, fields)
    if isinstance(cond, All | Any_):
        children = [_required(child, pack, positive, fields) for child in cond.children]
        every = isinstance(cond, All) == positive  # every child must hold
        return _merge_all(children) if every else _merge_any(children)
    return None  # comparisons, list tests and counts name no judgement


def _merge_all(children: list[Requirements | None]) -> Requirements | None:
    merged: dict[str, frozenset[Status]] = {}
    for child in children:
        for rule, allowed in (child or {}).items():
            merged[rule] = merged[rule] & allowed if rule in merged else allowed
    return merged or None


def _merge_any(children: list[Requirements | None]) -> Requirements | None:
    if not children or any(child is None for child in children):
        return None  # a branch that names no judgement leaves every judgement free
    shared = set.intersection(*(set(child) for child in children if child is not None))
    return {rule: frozenset().union(*(child[rule] for child in children if child is not None))
            for rule in shared} or None


def describe(required: Requirements) -> str:
    """``withdrawal.plasma_exchange is met; cid.within_6_months is not_met or ...``"""
    return "; ".join(f"{rule} is {' or '.join(s for s in STATUSES if s in allowed)}"
                     for rule, allowed in required.items())
