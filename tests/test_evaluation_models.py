"""The assessment is validated once as a whole (its judgements built as data): what it holds
is what validating each part on its own, strictly, gives."""

from __future__ import annotations

from pydantic import BaseModel

from jdm_cds.bench import make_cohort
from jdm_cds.defaults import default_evaluator
from jdm_cds.model.assessment import Assessment, Judgement


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
