"""What a rule change changes: one patient's assessments under two rule sets, compared.

A judgement changes when its status, its score or its category differs; a judgement that
one rule set has and the other has not changes from or to ``absent``. ``Transitions``
counts the changes of a whole cohort per judgement and transition, with the patients.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jdm_cds.model.assessment import Assessment, Judgement

ABSENT = "absent"
COMPARED = ("score", "score_min", "score_max", "category")  # reported beside the status


@dataclass(frozen=True, slots=True)
class Change:
    """One judgement of one patient that differs between the two rule sets."""

    judgement: str
    before: str  # status, or "absent"
    after: str
    values_before: dict[str, Any]  # score and category, where the rule reports them
    values_after: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"judgement": self.judgement, "before": self.before, "after": self.after,
                **{f"{name}_before": self.values_before.get(name) for name in COMPARED},
                **{f"{name}_after": self.values_after.get(name) for name in COMPARED}}


def _values(judgement: Judgement | None) -> dict[str, Any]:
    if judgement is None:
        return {}
    return {name: judgement.values[name] for name in COMPARED if name in judgement.values}


def changes(before: Assessment, after: Assessment) -> list[Change]:
    """Every judgement whose status, score or category differs, in the order of ``before``
    (then the judgements only ``after`` has)."""
    found = []
    for key in dict.fromkeys([*before.judgements, *after.judgements]):
        old, new = before.judgements.get(key), after.judgements.get(key)
        old_status = ABSENT if old is None else old.status
        new_status = ABSENT if new is None else new.status
        if old_status != new_status or _values(old) != _values(new):
            found.append(Change(key, old_status, new_status, _values(old), _values(new)))
    return found


@dataclass
class Transitions:
    """The changes of a cohort: how many patients per judgement and transition, and who."""

    patients: int = 0
    changed: int = 0  # patients with at least one change
    by_transition: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def add(self, patient_id: str, found: list[Change]) -> None:
        self.patients += 1
        self.changed += bool(found)
        for change in found:
            key = (change.judgement, change.before, change.after)
            self.by_transition.setdefault(key, []).append(patient_id)

    def rows(self) -> Iterator[tuple[str, str, str, list[str]]]:
        for (judgement, before, after), who in sorted(self.by_transition.items()):
            yield judgement, before, after, who

    def to_dict(self) -> dict[str, Any]:
        return {"patients": self.patients, "changed_patients": self.changed,
                "transitions": [{"judgement": j, "before": b, "after": a, "count": len(who),
                                 "patients": who} for j, b, a, who in self.rows()]}
