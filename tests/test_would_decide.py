"""``would_decide``: what would settle an open judgement, checked against the engine.

Every completion it proposes (a value in each stated range for each value of the set) is
put back into the patient, or into the fact the rule reads for a derived value, and
evaluated by the engine: it must give the stated status.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st

import jdm_cds
from jdm_cds.bench import make_patient
from jdm_cds.defaults import default_evaluator
from jdm_cds.evaluate import Evaluator, decision
from jdm_cds.facts.builder import timeline
from jdm_cds.model.assessment import Bound, Judgement
from jdm_cds.model.patient import Patient, Visit

ROOT = Path(__file__).parent.parent
PATIENTS = [ROOT / "examples" / "patient-mda5.yaml",
            *sorted((ROOT / "features" / "study_cases").glob("P*.yaml"))]


def sample(bound: Bound) -> Any:
    """A value inside the bound."""
    if bound.values is not None:
        return bound.values[0]
    low, high = bound.low, bound.high
    if low is not None and bound.low_inclusive:
        return low
    if high is not None and bound.high_inclusive:
        return high
    if low is not None and high is not None:
        return (low + high) / 2
    if low is not None:
        return low + 1
    assert high is not None
    return high - 1


def engine_status(evaluator: Evaluator, patient: Patient, at: dt.date, rule: str,
                  overrides: dict[str, Any]) -> str:
    """The status the engine proves for ``rule`` once ``overrides`` replace values of the
    fact it reads (a derived value cannot be written into a patient file)."""
    tl = timeline(patient, at)
    visits = evaluator._facts.visits(tl, {})
    compiled = evaluator.rulebase.rules[rule]
    with evaluator.runtime.session() as session:
        if compiled.rule.scope == "visit":
            assert tl.evaluation is not None
            fact = {**visits[tl.evaluation], **overrides}
            session.assert_facts([fact], evaluator._engine_keys["visit"])
            return decision(session.outcomes, rule, fact["visit"])[0]
        session.assert_facts([f for f in visits if f.get("judged") or evaluator._watched(f)],
                             evaluator._engine_keys["visit"])
        statuses = {(r, f["visit"]): decision(session.outcomes, r, f["visit"])[0]
                    for f in visits if f.get("judged")
                    for r, key in evaluator._judge_keys.items() if key in f}
        fact = {**evaluator._facts.patient(tl, visits, statuses, {}), **overrides}
        session.assert_facts([fact], evaluator._engine_keys["patient"])
        return decision(session.outcomes, rule, None)[0]


def with_values(patient: Patient, at: dt.date, values: dict[str, Any]) -> Patient:
    """The patient with ``values`` recorded at its evaluation visit."""
    visits = list(patient.visits)
    index = max(i for i, v in enumerate(visits) if v.date <= at)
    data = visits[index].model_dump()
    data.update(values)
    if "prednisone_mg_per_kg_day" in values:
        data.pop("prednisone_mg_per_day", None)
    visits[index] = Visit.model_validate(data)
    return patient.model_copy(update={"visits": tuple(visits)})


def check(evaluator: Evaluator, patient: Patient, at: dt.date, judgement: Judgement) -> int:
    """Every proposed completion of one open judgement gives its stated status; returns how
    many were checked."""
    assert judgement.would_decide is not None, judgement.rule
    checked = 0
    for completion in judgement.would_decide.sets:
        for status in ("met", "not_met", "not_applicable"):
            for alternative in getattr(completion, status):
                values = {b.field: sample(b) for b in alternative}
                if all(field in Visit.model_fields for field in values):
                    done = evaluator.evaluate(with_values(patient, at, values), at)
                    got = done.judgements[judgement.rule].status
                else:
                    got = engine_status(evaluator, patient, at, judgement.rule, values)
                assert got == status, (judgement.rule, values, status, got)
                checked += 1
    return checked


def test_a_single_missing_measure_gives_its_threshold() -> None:
    patient = Patient.model_validate({"id": "one", "visits": [
        {"date": "2021-01-01", "ck_u_l": 120.0, "cmas": 49.0, "physician_global_vas": 0.5}]})
    judgement = default_evaluator().evaluate(patient).judgements["cid.printo"]

    assert judgement.status == "indeterminate"
    assert judgement.would_decide is not None
    [completion] = judgement.would_decide.sets
    assert completion.fields == ("mmt8",)
    [[met]], [[not_met]] = completion.met, completion.not_met
    assert (met.text, met.low, met.low_inclusive) == ("mmt8 >= 78", 78, True)
    assert (not_met.text, not_met.high, not_met.high_inclusive) == ("mmt8 < 78", 78, False)


def test_any_one_of_three_measures_would_make_it_met() -> None:
    patient = Patient.model_validate({"id": "three", "visits": [
        {"date": "2021-01-01", "physician_global_vas": 0.1}]})
    judgement = default_evaluator().evaluate(patient).judgements["cid.p_cid"]

    assert judgement.would_decide is not None
    sets = judgement.would_decide.sets
    # Two of CK, CMAS, MMT8 within their thresholds make it met; two outside, not met.
    assert sorted(tuple(c.fields) for c in sets) == [
        ("ck_u_l", "cmas"), ("ck_u_l", "mmt8"), ("cmas", "mmt8")]
    for completion in sets:
        assert len(completion.met) == 1 and len(completion.not_met) == 1


def test_an_open_window_says_when_it_closes_and_what_a_visit_would_need() -> None:
    patient = jdm_cds.load_patient(PATIENTS[0])
    judgement = default_evaluator().evaluate(patient, dt.date(2020, 4, 30)).judgements[
        "cid.within_6_months"]

    assert judgement.would_decide is not None and judgement.would_decide.window is not None
    assert judgement.would_decide.window.closes == dt.date(2020, 8, 2)  # start + 183 days
    assert "cid.printo_skin" in judgement.would_decide.window.needs
    assert "Skin DAS = 0" in judgement.would_decide.window.needs


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
def test_every_open_judgement_at_every_visit_says_what_would_decide_it(path: Path) -> None:
    evaluator = default_evaluator()
    patient = jdm_cds.load_patient(path)
    for visit in patient.visits:
        assessment = evaluator.evaluate(patient, visit.date)
        for judgement in assessment.judgements.values():
            if judgement.status != "indeterminate":
                assert judgement.would_decide is None
                continue
            found = judgement.would_decide
            assert found is not None, (visit.date, judgement.rule)
            assert found.sets or found.window is not None, (visit.date, judgement.rule)
            check(evaluator, patient, visit.date, judgement)


@pytest.mark.fuzz
@campaign(1_000, 20_000)
@given(seed=st.integers(0, 2**32 - 1), visits=st.integers(1, 6))
def test_each_proposed_completion_gives_the_stated_status(seed: int, visits: int) -> None:
    evaluator = default_evaluator()
    patient = make_patient(random.Random(seed), seed, visits)
    for visit in patient.visits[-2:]:
        assessment = evaluator.evaluate(patient, visit.date)
        for judgement in assessment.judgements.values():
            if judgement.status == "indeterminate":
                check(evaluator, patient, visit.date, judgement)
