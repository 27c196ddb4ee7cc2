"""The assessment is validated once as a whole (its judgements built as data): what it holds
is what validating each part on its own, strictly, gives."""

from __future__ import annotations

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
