"""No recommendation contradicts a judgement of the same evaluation.

Each recommendation names the judgements it rests on (``depends_on``, read off its
condition) and the states it was written for; it must be shown only in those. Beyond what
it declares, what it says is checked against the judgements independently: a card that
says "without clinically inactive disease" is never shown to a patient in CID now or in
CID within the 6-month window, a "consider withdrawing / tapering / stopping" card only
where that withdrawal judgement is met. Walked over the examples and study cases (at
every visit) and over generated patients.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from campaign import campaign
from hypothesis import given
from test_properties import evaluation_days, patients

from jdm_cds.defaults import default_evaluator
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import load_patient

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted([ROOT / "examples" / "patient-mda5.yaml",
                *(ROOT / "tests" / "data" / "patients").iterdir(),
                *(ROOT / "features" / "study_cases").glob("P*.yaml")])

# What a recommendation's words claim -> the judgement states that would contradict it.
CLAIMS: list[tuple[str, str, set[str]]] = [
    ("without clinically inactive disease", "cid.printo_skin", {"met"}),
    ("without clinically inactive disease", "cid.within_6_months", {"met"}),
    ("clinically inactive disease now", "cid.printo_skin", {"not_met", "indeterminate"}),
    ("consider withdrawing plasma exchange", "withdrawal.plasma_exchange",
     {"not_met", "indeterminate", "not_applicable"}),
    ("consider withdrawing immunoadsorption", "withdrawal.immunoadsorption",
     {"not_met", "indeterminate", "not_applicable"}),
    ("consider tapering prednisone", "withdrawal.steroid_taper",
     {"not_met", "indeterminate", "not_applicable"}),
    ("consider stopping prednisone", "withdrawal.steroid_stop",
     {"not_met", "indeterminate", "not_applicable"}),
    ("consider withdrawing other immunosuppressants", "withdrawal.immunosuppressants",
     {"not_met", "indeterminate", "not_applicable"}),
]


def contradictions(assessment: Assessment) -> list[str]:
    found = []
    judgements = assessment.judgements
    for rec in assessment.recommendations:
        assert rec.depends_on, f"{rec.rule} names no judgement it rests on"
        for dependency in rec.depends_on:
            status = judgements[dependency.rule].status
            if status not in dependency.statuses:
                found.append(f"{rec.rule} was written for {dependency.rule} "
                             f"{dependency.statuses}, but it is {status}")
        for words, rule, against in CLAIMS:
            if words in rec.summary.casefold() and rule in judgements \
                    and judgements[rule].status in against:
                found.append(f"{rec.rule} says '{words}' while {rule} is "
                             f"{judgements[rule].status}")
    return found


def every_visit(patient: Patient) -> list[Assessment]:
    evaluator = default_evaluator()
    return [evaluator.evaluate(patient, visit.date) for visit in patient.visits]


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_examples_and_study_cases(path: Path) -> None:
    for assessment in every_visit(load_patient(path)):
        assert contradictions(assessment) == []


def test_an_anti_tif1g_patient_in_cid_after_the_window_is_told_so() -> None:
    """P09 (anti-TIF1g) reaches CID at day 270: not 'without CID ... review', but later."""
    p09 = load_patient(ROOT / "features" / "study_cases" / "P09.yaml")
    last = default_evaluator().evaluate(p09)
    ids = {rec.rule for rec in last.recommendations}
    assert "anti_tif1g.no_cid_by_6_months" not in ids
    assert "anti_tif1g.cid_after_6_months" in ids
    rec = next(r for r in last.recommendations if r.rule == "anti_tif1g.cid_after_6_months")
    assert {d.rule: d.statuses for d in rec.depends_on} == {
        "cid.within_6_months": ["not_met", "not_applicable"], "cid.printo_skin": ["met"]}
    assert "cid.printo_skin is met" in rec.because


def test_recommendations_are_checked_on_a_contradiction() -> None:
    """The check itself can fail: a recommendation stamped on the wrong state is caught."""
    p09 = load_patient(ROOT / "features" / "study_cases" / "P09.yaml")
    last = default_evaluator().evaluate(p09)
    rec = next(r for r in last.recommendations if r.rule == "anti_tif1g.cid_after_6_months")
    wrong = rec.model_copy(update={"summary": "Anti-TIF1g without clinically inactive disease"})
    assert contradictions(last.model_copy(update={"recommendations": [wrong]}))


@pytest.mark.fuzz
@campaign(150, 3000)
@given(patient=patients(), at=evaluation_days)
def test_generated_patients(patient: Patient, at: dt.date | None) -> None:
    assert contradictions(default_evaluator().evaluate(patient, at)) == []
