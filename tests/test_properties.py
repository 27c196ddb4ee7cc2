"""Properties of the whole pipeline on random valid patients (hypothesis).

The evaluation never raises and gives only the four statuses, it is deterministic, and a
patient's judgements do not depend on who else the same evaluator has seen: evaluated
alone (a fresh evaluator) or in the middle of a thousand others, they are the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from campaign import campaign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from longitudinal import START, evaluator

from jdm_cds.bench import make_cohort
from jdm_cds.defaults import default_evaluator
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rule_types import STATUSES
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.model.vocabulary import ADVERSE_EVENTS, DRUGS

# Field -> (lowest, highest, tenths): values drawn on a grid of 0.1 (or 1) within range.
MEASURES: dict[str, tuple[int, int, bool]] = {
    "weight_kg": (5, 90, True), "ck_u_l": (20, 20000, False),
    "aldolase_u_l": (1, 60, True), "ldh_u_l": (100, 3000, False),
    "ast_u_l": (5, 800, False), "alt_u_l": (5, 800, False), "cmas": (0, 52, False),
    "mmt8": (0, 80, False), "physician_global_vas": (0, 10, True),
    "parent_global_vas": (0, 10, True), "extramuscular_vas": (0, 10, True),
    "chaq": (0, 3, True), "das_skin": (0, 9, False), "das_muscle": (0, 11, False),
    "das_total": (0, 20, False), "ifn_alpha_fg_ml": (0, 5000, False),
}
# Edge values the rules test, so that random visits often sit on a threshold.
EDGES: dict[str, list[float]] = {
    "ck_u_l": [150.0, 151.0], "cmas": [48.0, 47.0], "mmt8": [78.0, 77.0],
    "physician_global_vas": [0.2, 0.3], "das_skin": [0.0],
}


def _value(name: str) -> st.SearchStrategy[float]:
    low, high, tenths = MEASURES[name]
    grid = st.integers(low * 10, high * 10).map(lambda n: n / 10) if tenths else \
        st.integers(low, high).map(float)
    if name == "weight_kg":
        grid = grid.filter(lambda w: w > 0)
    return st.one_of(grid, st.sampled_from(EDGES[name])) if name in EDGES else grid


@st.composite
def visits(draw: st.DrawFn, day: int) -> dict[str, Any]:
    chosen = draw(st.sets(st.sampled_from(sorted(MEASURES))))
    fields: dict[str, Any] = {name: draw(_value(name)) for name in sorted(chosen)}
    dose = draw(st.sampled_from(["none", "per_kg", "per_day"]))
    if dose == "per_kg":
        fields["prednisone_mg_per_kg_day"] = draw(st.sampled_from([0.0, 0.1, 0.2, 0.25, 1.0,
                                                                   2.0]))
    elif dose == "per_day":
        fields["prednisone_mg_per_day"] = draw(st.sampled_from([0.0, 2.5, 5.0, 10.0, 40.0]))
    fields["adverse_events"] = sorted(draw(st.sets(st.sampled_from(sorted(ADVERSE_EVENTS)),
                                                   max_size=2)))
    return {"date": (START + dt.timedelta(days=day)).isoformat(), **fields}


@st.composite
def treatments(draw: st.DrawFn) -> dict[str, Any]:
    drug = draw(st.sampled_from(["ruxolitinib", "baricitinib", "plasma_exchange",
                                 "immunoadsorption", "prednisone", *sorted(DRUGS)]))
    start = draw(st.integers(-300, 300))
    course: dict[str, Any] = {"drug": drug,
                              "start": (START + dt.timedelta(days=start)).isoformat()}
    if draw(st.booleans()):
        course["stop"] = (START + dt.timedelta(days=start + draw(st.integers(0, 400)))
                          ).isoformat()
    return course


@st.composite
def patients(draw: st.DrawFn) -> Patient:
    days = draw(st.lists(st.sampled_from([-60, -1, 0, 1, 30, 90, 182, 183, 184, 250, 400]),
                         min_size=1, max_size=6, unique=True))
    return Patient.model_validate({
        "id": "random",
        "antibodies": draw(st.sampled_from([[], ["anti-MDA5"], ["anti-NXP2"], ["anti-TIF1g"],
                                            ["negative"]])),
        "treatments": draw(st.lists(treatments(), max_size=4)),
        "visits": [draw(visits(day)) for day in days],
    })


evaluation_days = st.one_of(st.none(), st.integers(-100, 500).map(
    lambda n: START + dt.timedelta(days=n)))


def judged(assessment: Assessment) -> dict[str, Any]:
    return assessment.model_dump(mode="json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients(), at=evaluation_days)
def test_never_raises_and_gives_the_four_statuses(patient: Patient, at: dt.date | None) -> None:
    assessment = evaluator().evaluate(patient, at)
    assert set(assessment.judgements) >= {"cid.within_6_months", "response.acr_eular_2016",
                                          "withdrawal.steroid_stop"}
    for judgement in assessment.judgements.values():
        assert judgement.status in STATUSES
        if judgement.status != "indeterminate":
            assert judgement.reasons == []
    score = assessment.judgements["response.acr_eular_2016"].values["score"]
    assert score is None or 0 <= score <= 100


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients(), at=evaluation_days)
def test_deterministic(patient: Patient, at: dt.date | None) -> None:
    first = judged(evaluator().evaluate(patient, at))
    assert judged(evaluator().evaluate(patient, at)) == first
    assert judged(evaluator().evaluate(patient.model_copy(deep=True), at)) == first


@pytest.fixture(scope="module")
def crowd() -> list[Patient]:
    return make_cohort(1000, 4, seed=7)


@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(patient=patients())
def test_same_alone_or_among_a_thousand_others(patient: Patient, crowd: list[Patient]) -> None:
    alone = judged(Evaluator(evaluator().rulebase).evaluate(patient))
    shared = evaluator()
    for other in crowd[:500]:
        shared.evaluate(other)
    among = judged(shared.evaluate(patient))
    for other in crowd[500:]:
        shared.evaluate(other)
    assert among == alone
    assert judged(shared.evaluate(patient)) == alone


def without_working(assessment: Assessment) -> dict[str, Any]:
    """The assessment as explain=False promises it: without the tests of each judgement
    (``because.criteria``) and without ``would_decide``; everything else as it is."""
    data = judged(assessment)
    for judgement in data["judgements"].values():
        judgement["because"].pop("criteria", None)
        judgement["would_decide"] = None
    return data


@pytest.mark.fuzz
@campaign(examples=150, fuzz_examples=5_000)
@given(patient=patients(), at=evaluation_days)
def test_explain_false_leaves_out_only_the_working(patient: Patient,
                                                   at: dt.date | None) -> None:
    """Statuses, values, facts, missing, reasons, alerts, recommendations and guidance
    are those of the full evaluation; only the per-test working is left out."""
    full = evaluator().evaluate(patient, at)
    lean = evaluator().evaluate(patient, at, explain=False)
    assert judged(lean) == without_working(full)
    assert all("criteria" not in j.because and j.would_decide is None
               for j in lean.judgements.values())


def test_explain_false_on_a_generated_cohort() -> None:
    """The same on the bench's cohort, at the last visit and midway, with every pack and
    the antibody plugins' guidance."""
    everything = default_evaluator()
    for patient in make_cohort(300, 6, seed=11):
        for at in (None, patient.visits[2].date):
            full = everything.evaluate(patient, at)
            assert judged(everything.evaluate(patient, at, explain=False)) == \
                without_working(full)
