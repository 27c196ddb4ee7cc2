"""Runs features/ifn_alpha.feature against the installed engine and this installed plugin."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, scenarios, then, when

import jdm_cds
from jdm_cds.model.assessment import Assessment

scenarios("../features/ifn_alpha.feature")


@given(parsers.parse("a patient on {drug} from {start}"), target_fixture="patient")
def patient(drug: str, start: str) -> dict[str, Any]:
    return {"id": "example", "antibodies": ["negative"],
            "treatments": [{"drug": drug, "start": start}], "visits": []}


@given(parsers.parse("a visit on {day} with IFN-alpha {value:g} fg/mL"))
def visit_with_ifn(patient: dict[str, Any], day: str, value: float) -> None:
    patient["visits"].append({"date": day, "ifn_alpha_fg_ml": value})


@given(parsers.parse("a visit on {day} with no IFN-alpha"))
def visit_without_ifn(patient: dict[str, Any], day: str) -> None:
    patient["visits"].append({"date": day})


@when("the patient is evaluated", target_fixture="assessment")
def evaluated(patient: dict[str, Any]) -> Assessment:
    return jdm_cds.evaluate(jdm_cds.Patient.model_validate(patient))


@then(parsers.parse('the alert "{rule}" says "{text}"'))
def alert_says(assessment: Assessment, rule: str, text: str) -> None:
    assert [a.summary for a in assessment.alerts if a.rule == rule and text in a.summary]


@then(parsers.parse('there is no alert "{rule}"'))
def no_alert(assessment: Assessment, rule: str) -> None:
    assert rule not in {a.rule for a in assessment.alerts}


@then(parsers.parse('the guidance "{card}" is given by "{plugin}"'))
def guidance_given(assessment: Assessment, card: str, plugin: str) -> None:
    assert (card, plugin) in {(g.id, g.plugin) for g in assessment.guidance}
