"""The assessment's models are made without validating the engine's own values again
(``built``): what they hold is what validating each part on its own, strictly, gives."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, TypeVar
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from jdm_cds.bench import make_cohort, make_patient
from jdm_cds.defaults import default_evaluator
from jdm_cds.model.assessment import Assessment, Judgement
from tests.campaign import campaign

M = TypeVar("M", bound=BaseModel)
_EVALUATOR = default_evaluator()


def test_each_judgement_is_a_strictly_validated_judgement() -> None:
    evaluator = default_evaluator()
    for patient in make_cohort(40, 4, 11):
        for explain in (True, False):
            assessment = evaluator.evaluate(patient, explain=explain)
            assert assessment.judgements
            for judgement in assessment.judgements.values():
                assert type(judgement) is Judgement
                again = Judgement.model_validate(judgement.model_dump(), strict=True)
                assert again == judgement
            assert Assessment.model_validate(assessment.model_dump()) == assessment


def test_a_changed_assessment_does_not_change_the_next() -> None:
    """What a recommendation rests on is worked out once per rule base; each evaluation still
    hands out models of its own, so a caller that changes one changes no later answer."""
    evaluator = default_evaluator()
    patients = [patient for patient in make_cohort(200, 6, 1)
                if any(r.depends_on for r in evaluator.evaluate(patient).recommendations)]
    assert patients
    first = evaluator.evaluate(patients[0])
    expected = evaluator.evaluate(patients[0]).model_dump()
    for recommendation in first.recommendations:
        for dependency in recommendation.depends_on:
            dependency.rule = "changed"
            dependency.statuses.clear()
    assert evaluator.evaluate(patients[0]).model_dump() == expected


def _mutable_models(value: object, found: dict[int, BaseModel]) -> None:
    """Every model instance reachable from ``value`` that may be changed (not frozen)."""
    if isinstance(value, BaseModel):
        if not value.model_config.get("frozen"):
            found[id(value)] = value
        for name in type(value).model_fields:
            _mutable_models(getattr(value, name), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _mutable_models(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _mutable_models(item, found)


def test_no_changeable_model_is_shared_between_evaluations() -> None:
    """What is worked out once per rule base (assumptions, citations, dependencies) reaches
    each assessment either as new models or as frozen ones: no model a caller may change is
    in two assessments, whatever the patients."""
    evaluator = default_evaluator()
    patients = make_cohort(60, 6, 2)
    seen: dict[int, BaseModel] = {}
    assessments = []  # kept alive: an id is unique only among living objects
    for patient in patients:
        assessment = evaluator.evaluate(patient)
        assessments.append(assessment)
        mine: dict[int, BaseModel] = {}
        _mutable_models(assessment, mine)
        shared = [type(seen[key]).__name__ for key in mine.keys() & seen.keys()]
        assert not shared, f"models shared with an earlier assessment: {sorted(set(shared))}"
        seen.update(mine)
    assert any(a.judgements and any(j.assumptions for j in a.judgements.values())
               for a in assessments)


def _validated(cls: type[M], values: dict[str, Any]) -> M:
    """What ``built`` stands in for: strict validation of the same values."""
    return cls.model_validate(values, strict=True)


def _same(built_one: Any, validated: Any, where: str = "assessment") -> None:
    """The same models, of the same types all the way down, with the same fields set (and in
    the same order), the same keys in the same order and equal values of the same types."""
    assert type(built_one) is type(validated), where
    if isinstance(validated, BaseModel):
        assert built_one.model_fields_set == validated.model_fields_set, where
        assert list(vars(built_one)) == list(vars(validated)), where
        for name in vars(validated):
            _same(getattr(built_one, name), getattr(validated, name), f"{where}.{name}")
    elif isinstance(validated, dict):
        assert list(built_one) == list(validated), where
        for key in validated:
            _same(built_one[key], validated[key], f"{where}[{key!r}]")
    elif isinstance(validated, list | tuple):
        assert len(built_one) == len(validated), where
        for index, (left, right) in enumerate(zip(built_one, validated, strict=True)):
            _same(left, right, f"{where}[{index}]")
    else:
        assert built_one == validated, where


def _containers(value: Any, found: dict[int, Any]) -> None:
    """Every list and dict a model of ``value`` holds in a field (validation makes them new),
    but for frozen models (made once and shared on purpose: sources, built-in cards)."""
    if isinstance(value, BaseModel):
        if value.model_config.get("frozen"):
            return
        for item in vars(value).values():
            if isinstance(item, list | dict):
                found[id(item)] = item
            _containers(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _containers(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _containers(item, found)


@campaign(25, 2_000)
@given(seed=st.integers(0, 2**32 - 1), visits=st.integers(1, 12),
       when=st.sampled_from(("last", "visit", "before", "stale")), explain=st.booleans(),
       orders=st.sampled_from(((), ("tofacitinib", "live_vaccine"))))
@pytest.mark.fuzz
def test_models_built_without_validation_are_those_strict_validation_makes(
        seed: int, visits: int, when: str, explain: bool, orders: tuple[str, ...]) -> None:
    """The judgements, alerts, recommendations and the assessment are made without
    validating the values again (``built``): on generated patients, at any date, each is the
    model strict validation makes of the same values, and holds lists and dicts of its own."""
    rng = random.Random(seed)
    patient = make_patient(rng, seed % 1000, visits)
    at = {"last": None, "visit": rng.choice(patient.visits).date,
          "before": patient.visits[0].date - timedelta(days=1),
          "stale": patient.visits[-1].date + timedelta(days=400)}[when]
    evaluator = _EVALUATOR
    fast = evaluator.evaluate(patient, at, orders, explain=explain)
    with mock.patch("jdm_cds.evaluate.built", _validated):
        validated = evaluator.evaluate(patient, at, orders, explain=explain)
    _same(fast, validated)
    assert fast.model_dump_json() == validated.model_dump_json()
    again = evaluator.evaluate(patient, at, orders, explain=explain)
    mine: dict[int, Any] = {}
    theirs: dict[int, Any] = {}
    _containers(fast, mine)
    _containers(again, theirs)
    assert not mine.keys() & theirs.keys(), "a list or dict shared by two assessments"

