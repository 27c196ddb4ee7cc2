"""Every alert, recommendation and guidance card carries its rule, pack version, every
reference and every assumption, in the model, in JSON and in the text report.

Walks every example patient and study case, evaluated at each of its visits, plus a
patient built to raise the alerts the examples do not (anti-SRP with very high CK).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from jdm_cds.defaults import default_evaluator
from jdm_cds.model.assessment import Assessment, GuidanceCard
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import load_patient
from jdm_cds.report.text import render_text, to_json

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted([ROOT / "examples" / "patient-mda5.yaml",
                *(ROOT / "tests" / "data" / "patients").iterdir(),
                *(ROOT / "features" / "study_cases").glob("P*.yaml")])
NECROTISING = Patient.model_validate({
    "id": "srp", "antibodies": ["anti-SRP"],
    "treatments": [{"drug": "baricitinib", "start": "2021-01-01"}],
    "visits": [{"date": "2021-01-01", "ck_u_l": 4000},
               {"date": "2021-03-01", "ck_u_l": 2500, "adverse_events": ["herpes_zoster"]}],
})


def assessments() -> Iterator[Assessment]:
    evaluator = default_evaluator()
    patients = [load_patient(path) for path in FILES] + [NECROTISING]
    for patient in patients:
        for visit in patient.visits:
            yield evaluator.evaluate(patient, visit.date)


@pytest.fixture(scope="module")
def walked() -> list[Assessment]:
    return list(assessments())


def test_the_walk_sees_every_kind_of_output(walked: list[Assessment]) -> None:
    rules = {a.rule for x in walked for a in x.alerts} | {
        r.rule for x in walked for r in x.recommendations}
    assert "anti_srp_hmgcr.very_high_ck" in rules
    assert "safety.zoster_risk" in rules
    assert any(x.guidance for x in walked)


def test_alerts_and_recommendations_carry_their_rule_s_references_and_assumptions(
        walked: list[Assessment]) -> None:
    rulebase = default_evaluator().rulebase
    for assessment in walked:
        for item in [*assessment.alerts, *assessment.recommendations]:
            compiled = rulebase.rules[item.rule]
            pack, rule = compiled.pack, compiled.rule
            assert item.version == pack.version
            assert [s.label for s in item.sources] == [
                pack.references[key].citation for key in rule.references]
            assert [s.url for s in item.sources] == [
                pack.references[key].url for key in rule.references]
            assert item.source == item.sources[0]
            assert [(a.key, a.text) for a in item.assumptions] == [
                (key, pack.assumptions[key].text) for key in rule.assumptions]


def test_the_very_high_ck_alert_shows_its_assumption_and_both_references(
        walked: list[Assessment]) -> None:
    alert = next(a for x in walked for a in x.alerts if a.rule == "anti_srp_hmgcr.very_high_ck")
    assert [a.key for a in alert.assumptions] == ["very_high_ck"]
    assert "1500" in alert.assumptions[0].text
    assert len(alert.sources) == 2
    assert "Rider LG" in alert.sources[1].label


def test_guidance_cards_carry_version_references_and_assumptions(
        walked: list[Assessment]) -> None:
    cards: dict[str, GuidanceCard] = {c.id: c for x in walked for c in x.guidance}
    assert cards
    for card in cards.values():
        assert card.version == "1.0.0"
        assert card.sources and card.source == card.sources[0]
        assert all(s.label and s.url for s in card.sources)
    low = cards["anti_tif1g.low_expected_response"]
    assert [a.key for a in low.assumptions] == ["months_as_days"]
    assert len(cards["anti_tif1g.chronic_skin_course"].sources) == 2


def test_json_and_text_show_every_reference_and_assumption(walked: list[Assessment]) -> None:
    for assessment in walked:
        data = json.loads(to_json([assessment], many=False))
        shown = [*data["alerts"], *data["recommendations"], *data["guidance"]]
        items = [*assessment.alerts, *assessment.recommendations, *assessment.guidance]
        for item, dumped in zip(items, shown, strict=True):
            assert dumped["sources"] == [s.model_dump(mode="json") for s in item.sources]
            assert dumped["source"] == dumped["sources"][0]
            assert dumped["assumptions"] == [a.model_dump() for a in item.assumptions]
        console = Console(record=True, width=100_000, color_system=None)
        render_text(assessment, console)
        text = console.export_text()
        for item in items:
            for source in item.sources:
                assert source.label in text
            for assumption in item.assumptions:
                assert f"ASSUMPTION: {assumption.text}" in text
        for alert in assessment.alerts:
            assert f"{alert.rule} {alert.version}" in text


def test_a_card_whose_source_is_not_the_first_of_its_sources_is_refused() -> None:
    with pytest.raises(ValueError, match="first of 'sources'"):
        GuidanceCard.model_validate({
            "id": "x.y", "indicator": "info", "summary": "s", "detail": "d",
            "source": {"label": "A"}, "sources": [{"label": "B"}, {"label": "A"}]})
    card = GuidanceCard.model_validate({"id": "x.y", "indicator": "info", "summary": "s",
                                        "detail": "d", "sources": [{"label": "B"}]})
    assert card.source.label == "B"


def test_the_response_pack_cites_the_jdm_criteria_not_the_adult_paper() -> None:
    rulebase = default_evaluator().rulebase
    for pack in rulebase.packs:
        for reference in pack.references.values():
            assert "40064" not in (reference.url or "")
            assert "898-910" not in reference.citation
    response = next(p for p in rulebase.packs if p.id == "response")
    rider = response.references["rider_2017"]
    assert "2017;69:911-923" in rider.citation
    assert rider.url == "https://doi.org/10.1002/art.40060"
