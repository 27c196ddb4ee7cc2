"""A patient's course, visit by visit: the patient judged at each visit's date.

Each row is the assessment that ``evaluate --at <visit date>`` gives, reduced to what a
clinician follows over time: the CID judgements, the response (TIS score and category),
the prednisone dose in mg/kg/day and the withdrawal statuses.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.records import Record
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient

# Packs whose judgements make the columns, in this order.
PACKS = ("cid", "cid_window", "response", "withdrawal")


class Row(Record):
    """One visit: every judgement's status and the values those judgements report."""

    patient_id: str
    date: date
    days_on_jak: int | None  # days since the first JAK-inhibitor start (negative: before)
    statuses: dict[str, str]  # rule id -> status
    reported: dict[str, dict[str, Any]]  # rule id -> the values it reports (score, dose, ...)

    @property
    def values(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for values in self.reported.values():
            merged.update(values)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "date": self.date.isoformat(),
                "days_on_jak": self.days_on_jak, "statuses": self.statuses,
                "values": self.values}


def assess_each_visit(evaluator: Evaluator, patient: Patient,
                      until: date | None = None) -> list[Assessment]:
    """The patient evaluated at the date of each visit on or before ``until``."""
    return [evaluator.evaluate(patient, visit.date) for visit in patient.visits_until(until)]


def row(patient: Patient, assessment: Assessment) -> Row:
    judged = [j for j in assessment.judgements.values() if j.pack in PACKS]
    judged.sort(key=lambda j: PACKS.index(j.pack))
    start = core_treatment_classes().first_start(patient.treatments)
    return Row(
        patient_id=assessment.patient_id, date=assessment.evaluated_at,
        days_on_jak=None if start is None else (assessment.evaluated_at - start).days,
        statuses={j.rule: j.status for j in judged},
        reported={j.rule: j.values for j in judged if j.values},
    )


def rows(evaluator: Evaluator, patient: Patient, until: date | None = None) -> list[Row]:
    return [row(patient, a) for a in assess_each_visit(evaluator, patient, until)]
