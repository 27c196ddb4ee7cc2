"""Withdrawal of plasma exchange, immunoadsorption and steroids, and their recommendations.

"CID now" is cid.printo_skin at the evaluation visit while a JAK inhibitor is active.
"""

from __future__ import annotations

from typing import Any

import pytest
from longitudinal import ACTIVE, CID, JAK, UNCLEAR, assess, day, judge, patient, visit

PLEX = {"drug": "plasma_exchange", "start": day(-90).isoformat()}
IA = {"drug": "immunoadsorption", "start": day(-60).isoformat()}
PREDNISONE = {"drug": "prednisone", "start": day(-200).isoformat()}
STOPPED_JAK = {**JAK, "stop": day(100).isoformat()}
STOPPED_PLEX = {**PLEX, "stop": day(30).isoformat()}

# Measures for the response: baseline, and follow-ups that score a known TIS.
TIS_BASE = {"physician_global_vas": 10.0, "parent_global_vas": 10.0, "mmt8": 40.0,
            "chaq": 3.0, "ck_u_l": 1000.0, "extramuscular_vas": 10.0, "das_skin": 5.0}
MODERATE = {**TIS_BASE, "mmt8": 70.0, "extramuscular_vas": 8.0}  # 32.5 + 12.5 = 45
MAJOR = {**TIS_BASE, "physician_global_vas": 5.0, "mmt8": 70.0, "parent_global_vas": 5.0,
         "extramuscular_vas": 8.0}  # 20 + 32.5 + 10 + 12.5 = 75
MINIMAL = {**TIS_BASE, "physician_global_vas": 5.0, "mmt8": 45.0}  # 20 + 10 = 30
NONE = dict(TIS_BASE)  # 0

PROCEDURES = [("withdrawal.plasma_exchange", PLEX, STOPPED_PLEX, "plasma exchange",
               "withdrawal.plasma_exchange_recommendation"),
              ("withdrawal.immunoadsorption", IA, {**IA, "stop": day(30).isoformat()},
               "immunoadsorption", "withdrawal.immunoadsorption_recommendation")]


def recommendation_ids(p: Any) -> set[str]:
    return {r.id for r in assess(p).recommendations}


# --- plasma exchange and immunoadsorption ---------------------------------------------


@pytest.mark.parametrize(("now", "treatments", "status"), [
    (CID, "jak+procedure", "met"),
    (ACTIVE, "jak+procedure", "not_met"),
    (UNCLEAR, "jak+procedure", "indeterminate"),
    (CID, "stopped-jak+procedure", "not_met"),
    (CID, "jak", "not_applicable"),
    (CID, "jak+stopped-procedure", "not_applicable"),
], ids=["cid-now", "no-cid", "cid-unclear", "jak-stopped", "never-given", "stopped-before"])
@pytest.mark.parametrize(("rule", "procedure", "stopped", "name", "recommendation"), PROCEDURES,
                         ids=["plasma-exchange", "immunoadsorption"])
def test_procedure_withdrawal(now: dict[str, Any], treatments: str, status: str, rule: str,
                              procedure: dict[str, str], stopped: dict[str, str], name: str,
                              recommendation: str) -> None:
    given = {"jak+procedure": [JAK, procedure], "stopped-jak+procedure": [STOPPED_JAK, procedure],
             "jak": [JAK], "jak+stopped-procedure": [JAK, stopped]}[treatments]
    p = patient(visit(0, **ACTIVE), visit(150, **now), treatments=given)
    found = judge(p, rule)
    assert found.status == status
    assert (recommendation in recommendation_ids(p)) == (status == "met")
    if status == "indeterminate":
        assert "cid_now is indeterminate" in found.reasons


@pytest.mark.parametrize(("rule", "procedure", "stopped", "name", "recommendation"), PROCEDURES,
                         ids=["plasma-exchange", "immunoadsorption"])
def test_procedure_recommendation_says_what_since_when_and_why(
        rule: str, procedure: dict[str, str], stopped: dict[str, str], name: str,
        recommendation: str) -> None:
    p = patient(visit(0, **ACTIVE), visit(150, **CID), treatments=[JAK, procedure])
    found = next(r for r in assess(p).recommendations if r.id == recommendation)
    assert name in found.summary
    assert procedure["start"] in found.summary
    assert "inactive disease" in found.detail
    assert JAK["start"] in found.detail
    assert found.because == f"{rule} is met"
    assert found.assumptions


# --- steroid taper ----------------------------------------------------------------------

# (id, follow-up visit, status, reason that must be given)
TAPER: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("cid-now", {**NONE, **CID, "prednisone_mg_per_kg_day": 0.5}, "met", None),
    ("moderate-response", {**MODERATE, "prednisone_mg_per_kg_day": 0.5}, "met", None),
    ("major-response", {**MAJOR, "prednisone_mg_per_kg_day": 0.5}, "met", None),
    ("minimal-response", {**MINIMAL, "prednisone_mg_per_kg_day": 0.5}, "not_met", None),
    ("no-response", {**NONE, "prednisone_mg_per_kg_day": 0.5}, "not_met", None),
    # CHAQ missing: the score is 0 to 10, below 45 whatever CHAQ would be.
    ("response-bounded-below", {**NONE, "chaq": None, "prednisone_mg_per_kg_day": 0.5},
     "not_met", None),
    # CHAQ missing from a moderate follow-up: at least 45 whatever CHAQ would be.
    ("moderate-by-bounds", {**MODERATE, "chaq": None, "prednisone_mg_per_kg_day": 0.5},
     "met", None),
    # Strength missing from a minimal follow-up: 20 to 52.5, either side of 45.
    ("response-open", {**MINIMAL, "mmt8": None, "prednisone_mg_per_kg_day": 0.5},
     "indeterminate", "not measured at both visits"),
    ("dose-zero", {**MAJOR, "prednisone_mg_per_kg_day": 0.0}, "not_applicable", None),
    ("dose-zero-in-mg-per-day", {**MAJOR, "prednisone_mg_per_day": 0.0, "weight_kg": 30.0},
     "not_applicable", None),
    ("dose-missing", dict(MAJOR), "indeterminate", "no dose recorded"),
    # 10 mg/day is above 0 whatever the weight: on prednisone, and the response decides.
    ("mg-per-day-without-weight", {**MAJOR, "prednisone_mg_per_day": 10.0}, "met", None),
    ("mg-per-day-without-weight-minimal", {**MINIMAL, "prednisone_mg_per_day": 10.0},
     "not_met", None),
]


def _follow_up(fields: dict[str, Any]) -> dict[str, Any]:
    return visit(120, **{k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(("follow_up", "status", "reason"), [case[1:] for case in TAPER],
                         ids=[case[0] for case in TAPER])
def test_steroid_taper(follow_up: dict[str, Any], status: str, reason: str | None) -> None:
    p = patient(visit(0, **TIS_BASE), _follow_up(follow_up), treatments=[JAK, PREDNISONE])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.status == status
    if reason is not None:
        assert any(reason in text for text in found.reasons), found.reasons
    taper_recommended = "withdrawal.steroid_taper_recommendation" in recommendation_ids(p)
    assert taper_recommended == (status == "met")


@pytest.mark.parametrize("follow_up", [MAJOR, {**CID, "prednisone_mg_per_kg_day": 0.3}],
                         ids=["improved", "in-cid-on-0.3"])
def test_taper_without_jak_inhibitor_is_not_met(follow_up: dict[str, Any]) -> None:
    """No JAK inhibitor: no CID on it and no response to have; no data could change that."""
    p = patient(visit(0, **TIS_BASE), visit(120, **{"prednisone_mg_per_kg_day": 0.5,
                                                     **follow_up}),
                treatments=[PREDNISONE])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.status == "not_met"
    assert found.reasons == [] and found.missing == []
    assert assess(p).judgements["response.acr_eular_2016"].status == "not_applicable"


def test_taper_before_the_jak_inhibitor_start_is_not_met() -> None:
    p = patient(visit(-100, **TIS_BASE), visit(-10, **MAJOR, prednisone_mg_per_kg_day=0.5),
                treatments=[JAK, PREDNISONE])
    assert judge(p, "withdrawal.steroid_taper").status == "not_met"


def test_taper_reports_the_response() -> None:
    p = patient(visit(0, **TIS_BASE), visit(120, **MODERATE, prednisone_mg_per_kg_day=0.5),
                treatments=[JAK, PREDNISONE])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.values == {"steroid_dose_now": 0.5, "steroid_dose_source":
                            f"the visit of {day(120)} (prednisone_mg_per_kg_day)",
                            "category": "moderate", "score": 45, "score_min": 45,
                            "score_max": 45}


def test_without_a_prednisone_course_or_dose_the_steroid_questions_do_not_arise() -> None:
    p = patient(visit(0, **TIS_BASE), visit(120, **MAJOR), treatments=[JAK])
    for rule in ("withdrawal.steroid_taper", "withdrawal.steroid_stop"):
        found = judge(p, rule)
        assert found.status == "not_applicable"
        assert found.values["steroid_dose_now"] == 0
        assert "no prednisone course in the treatments and no dose recorded at any visit" in (
            found.values["steroid_dose_source"])


def test_a_visit_without_a_dose_is_unknown_when_doses_are_recorded_only_at_visits() -> None:
    # No prednisone course listed, 0.3 mg/kg/day at the previous visit, none at the last: the
    # treatments are not the record of prednisone here, so the dose now is not 0 but unknown.
    p = patient(visit(0, **TIS_BASE, prednisone_mg_per_kg_day=1.0),
                visit(60, **MAJOR, prednisone_mg_per_kg_day=0.3), visit(120, **MAJOR),
                treatments=[JAK])
    for rule in ("withdrawal.steroid_taper", "withdrawal.steroid_stop"):
        found = judge(p, rule)
        assert found.status == "indeterminate", rule
        assert found.values["steroid_dose_now"] is None
        assert "no prednisone course is listed" in found.values["steroid_dose_source"]


@pytest.mark.parametrize(("fields", "dose", "source"), [
    ({"weight_kg": 25.0}, 0.2, "course from"),
    ({"weight_kg": 25.0, "prednisone_mg_per_kg_day": 1.0}, 1.0, "prednisone_mg_per_kg_day"),
    ({"weight_kg": 25.0, "prednisone_mg_per_day": 10.0}, 0.4, "prednisone_mg_per_day"),
], ids=["from-the-course", "visit-per-kg-first", "visit-per-day-first"])
def test_a_dose_on_the_prednisone_course_fills_visits_without_one(
        fields: dict[str, float], dose: float, source: str) -> None:
    course = {**PREDNISONE, "dose_mg_per_day": 5.0}
    p = patient(visit(0, **TIS_BASE), visit(120, **MAJOR, **fields), treatments=[JAK, course])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.values["steroid_dose_now"] == pytest.approx(dose)
    assert source in found.values["steroid_dose_source"]
    assert found.status == "met"


def test_a_course_dose_without_a_weight_is_unknown_and_says_why() -> None:
    course = {**PREDNISONE, "dose_mg_per_day": 5.0}
    p = patient(visit(0, **TIS_BASE), visit(120, **MINIMAL), treatments=[JAK, course])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.status == "not_met"  # 5 mg/day is above 0 whatever the weight
    assert found.values["steroid_dose_now"] is None
    assert "5 mg/day" in found.values["steroid_dose_source"]
    assert "no weight" in found.values["steroid_dose_source"]


def test_a_course_dose_applies_only_inside_the_course() -> None:
    course = {**PREDNISONE, "dose_mg_per_day": 5.0, "stop": day(100).isoformat()}
    p = patient(visit(0, **TIS_BASE), visit(120, **MAJOR, weight_kg=25.0),
                treatments=[JAK, course])
    assert judge(p, "withdrawal.steroid_taper").values["steroid_dose_now"] == 0
    assert judge(p, "withdrawal.steroid_taper", at=day(0)).values["steroid_dose_now"] is None


def test_a_dose_on_another_drug_is_kept_and_used_by_nothing() -> None:
    p = patient(visit(0, **TIS_BASE), visit(120, **MAJOR, weight_kg=25.0),
                treatments=[JAK, {"drug": "methotrexate", "start": day(-100).isoformat(),
                                  "dose_mg_per_day": 15.0}])
    assert p.treatments[1].dose_mg_per_day == 15.0
    assert judge(p, "withdrawal.steroid_taper").values["steroid_dose_now"] == 0


def test_taper_recommendation_gives_dose_start_and_response() -> None:
    p = patient(visit(0, **TIS_BASE),
                _follow_up({**MODERATE, "prednisone_mg_per_day": 16.0, "weight_kg": 32.0}),
                treatments=[JAK, PREDNISONE])
    found = next(r for r in assess(p).recommendations
                 if r.id == "withdrawal.steroid_taper_recommendation")
    assert "0.5 mg/kg/day" in found.summary
    assert PREDNISONE["start"] in found.summary
    assert "moderate" in found.detail


@pytest.mark.parametrize(("fields", "dose"), [
    ({"prednisone_mg_per_day": 16.0, "weight_kg": 32.0}, 0.5),
    ({"prednisone_mg_per_day": 5.0, "weight_kg": 40.0}, 0.125),
    ({"prednisone_mg_per_day": 7.5, "weight_kg": 25.0}, 0.3),
    ({"prednisone_mg_per_kg_day": 0.35}, 0.35),
], ids=["16mg-32kg", "5mg-40kg", "7.5mg-25kg", "given-per-kg"])
def test_dose_in_mg_per_kg_day(fields: dict[str, float], dose: float) -> None:
    p = patient(visit(0, **TIS_BASE), visit(120, **fields), treatments=[JAK, PREDNISONE])
    found = judge(p, "withdrawal.steroid_taper")
    assert found.values["steroid_dose_now"] == pytest.approx(dose)


def test_weight_of_another_visit_is_not_used() -> None:
    p = patient(visit(0, **TIS_BASE, weight_kg=30.0),
                visit(120, **MAJOR, prednisone_mg_per_day=10.0), treatments=[JAK, PREDNISONE])
    for rule in ("withdrawal.steroid_taper", "withdrawal.steroid_stop"):
        found = judge(p, rule)
        assert found.values["steroid_dose_now"] is None
        assert "no weight" in found.values["steroid_dose_source"]
    assert judge(p, "withdrawal.steroid_taper").status == "met"  # on it, and a major response
    assert judge(p, "withdrawal.steroid_stop").status == "not_met"  # no CID now


def test_a_dose_too_large_to_compute_is_unknown() -> None:
    """mg/day over a weight next to zero is beyond any number: unknown, never infinite."""
    p = patient(visit(0, **TIS_BASE),
                visit(120, **MAJOR, prednisone_mg_per_day=10.0, weight_kg=5e-324),
                treatments=[JAK, PREDNISONE])
    for rule in ("withdrawal.steroid_taper", "withdrawal.steroid_stop"):
        found = judge(p, rule)
        assert found.status == "indeterminate"
        assert found.values["steroid_dose_now"] is None


# --- steroid stop -----------------------------------------------------------------------

LOW = {"prednisone_mg_per_kg_day": 0.2}
STOP: list[tuple[str, list[dict[str, Any]], str]] = [
    ("sustained-cid-low-dose", [visit(0, **ACTIVE), visit(90, **CID), visit(150, **CID, **LOW)],
     "met"),
    ("dose-above-0.2", [visit(0, **ACTIVE), visit(90, **CID),
                        visit(150, **CID, prednisone_mg_per_kg_day=0.21)], "not_met"),
    ("cid-now-only", [visit(0, **ACTIVE), visit(90, **ACTIVE), visit(150, **CID, **LOW)],
     "not_met"),
    ("cid-before-only", [visit(0, **ACTIVE), visit(90, **CID), visit(150, **ACTIVE, **LOW)],
     "not_met"),
    ("no-earlier-visit", [visit(150, **CID, **LOW)], "not_met"),
    ("earlier-cid-unclear", [visit(0, **ACTIVE), visit(90, **UNCLEAR), visit(150, **CID, **LOW)],
     "indeterminate"),
    ("cid-now-unclear", [visit(0, **ACTIVE), visit(90, **CID), visit(150, **UNCLEAR, **LOW)],
     "indeterminate"),
    ("dose-zero", [visit(0, **ACTIVE), visit(90, **CID),
                   visit(150, **CID, prednisone_mg_per_kg_day=0.0)], "not_applicable"),
    ("dose-unknown", [visit(0, **ACTIVE), visit(90, **CID), visit(150, **CID)], "indeterminate"),
    ("high-dose-and-unclear", [visit(0, **ACTIVE), visit(90, **UNCLEAR),
                               visit(150, **UNCLEAR, prednisone_mg_per_kg_day=1.0)], "not_met"),
]


@pytest.mark.parametrize(("visits", "status"), [case[1:] for case in STOP],
                         ids=[case[0] for case in STOP])
def test_steroid_stop(visits: list[dict[str, Any]], status: str) -> None:
    p = patient(*visits, treatments=[JAK, PREDNISONE])
    assert judge(p, "withdrawal.steroid_stop").status == status
    stop_recommended = "withdrawal.steroid_stop_recommendation" in recommendation_ids(p)
    assert stop_recommended == (status == "met")


def test_steroid_stop_needs_an_active_jak_inhibitor() -> None:
    p = patient(visit(0, **ACTIVE), visit(90, **CID), visit(150, **CID, **LOW),
                treatments=[STOPPED_JAK, PREDNISONE])
    assert judge(p, "withdrawal.steroid_stop").status == "not_met"


def test_withdrawal_thresholds_are_labelled_assumptions() -> None:
    p = patient(visit(0, **ACTIVE), visit(150, **CID, **LOW), treatments=[JAK, PLEX])
    found = assess(p).judgements
    assert "procedure_withdrawal_on_cid" in {a.key for a in
                                             found["withdrawal.plasma_exchange"].assumptions}
    assert "taper_on_cid_or_moderate" in {a.key for a in
                                          found["withdrawal.steroid_taper"].assumptions}
    stop = found["withdrawal.steroid_stop"]
    assert "stop_on_sustained_cid" in {a.key for a in stop.assumptions}
    assert any("0.2 mg/kg/day" in a.text for a in stop.assumptions)
