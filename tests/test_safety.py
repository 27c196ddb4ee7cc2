"""Safety alerts: zoster risk on a JAK inhibitor, adverse events per visit, the IFN-alpha note."""

from __future__ import annotations

from typing import Any

import pytest
from longitudinal import ACTIVE, CID, JAK, START, assess, day, patient, visit

ZOSTER_RISK = "safety.zoster_risk"
ZOSTER = "safety.herpes_zoster_event"
ABSCESS = "safety.skin_abscess_event"
IFN = "safety.ifn_alpha_note"


def alerts(p: Any, at: Any = None) -> list[tuple[str, str | None]]:
    return [(a.id, None if a.visit_date is None else a.visit_date.isoformat())
            for a in assess(p, at).alerts]


@pytest.mark.parametrize(("treatments", "at", "warned"), [
    ([JAK], None, True),
    ([{**JAK, "drug": "baricitinib"}], None, True),
    ([{**JAK, "stop": day(60).isoformat()}], None, False),
    ([JAK], day(-1), False),
    ([{"drug": "methotrexate", "start": START.isoformat()}], None, False),
    ([], None, False),
], ids=["ruxolitinib", "baricitinib", "stopped", "not-yet-started", "no-jak", "no-treatment"])
def test_zoster_risk_warning_on_an_active_jak_inhibitor(treatments: list[dict[str, str]],
                                                       at: Any, warned: bool) -> None:
    p = patient(visit(-10, **ACTIVE), visit(90, **ACTIVE), treatments=treatments)
    risk = [a for a in assess(p, at).alerts if a.id == ZOSTER_RISK]
    assert bool(risk) == warned
    if warned:
        assert risk[0].indicator == "warning"
        assert "3 of 10" in risk[0].summary
        assert "vaccin" in risk[0].detail
        assert "Le Voyer" in risk[0].source.label


@pytest.mark.parametrize(("events", "expected"), [
    ({30: ["herpes_zoster"]}, [(ZOSTER, day(30))]),
    ({30: ["skin_abscess"]}, [(ABSCESS, day(30))]),
    ({30: ["herpes_zoster", "skin_abscess"]}, [(ABSCESS, day(30)), (ZOSTER, day(30))]),
    ({30: ["herpes_zoster"], 90: ["herpes_zoster"]}, [(ZOSTER, day(30)), (ZOSTER, day(90))]),
    ({30: ["varicella", "cytopenia"]}, []),
    ({}, []),
], ids=["zoster", "abscess", "both-at-one-visit", "zoster-twice", "other-events", "none"])
def test_adverse_event_alert_for_each_visit(events: dict[int, list[str]],
                                            expected: list[tuple[str, Any]]) -> None:
    visits = [visit(n, **ACTIVE, adverse_events=events.get(n, [])) for n in (0, 30, 90)]
    found = sorted((i, d) for i, d in alerts(patient(*visits)) if i in (ZOSTER, ABSCESS))
    assert found == sorted((i, d.isoformat()) for i, d in expected)


def test_adverse_event_alert_names_the_visit() -> None:
    p = patient(visit(0, **ACTIVE), visit(30, **ACTIVE, adverse_events=["herpes_zoster"]))
    alert = next(a for a in assess(p).alerts if a.id == ZOSTER)
    assert day(30).isoformat() in alert.summary
    assert alert.indicator == "warning"


def test_adverse_events_after_the_evaluation_date_are_not_alerted() -> None:
    p = patient(visit(0, **ACTIVE), visit(90, **ACTIVE, adverse_events=["skin_abscess"]))
    assert ABSCESS not in {i for i, _ in alerts(p, day(60))}
    assert ABSCESS in {i for i, _ in alerts(p, day(90))}


def test_adverse_event_alert_also_without_jak_inhibitor() -> None:
    p = patient(visit(0, **ACTIVE, adverse_events=["herpes_zoster"]), treatments=[])
    assert (ZOSTER, day(0).isoformat()) in alerts(p)


@pytest.mark.parametrize(("baseline", "now", "now_day", "noted"), [
    (850.0, 4.0, 120, True),
    (850.0, 900.0, 120, True),
    (None, 4.0, 120, False),
    (850.0, None, 120, False),
    (850.0, 4.0, 0, False),
], ids=["fell", "rose", "no-baseline-value", "no-value-now", "only-baseline"])
def test_ifn_alpha_note(baseline: float | None, now: float | None, now_day: int,
                        noted: bool) -> None:
    first = visit(0, **CID, **({} if baseline is None else {"ifn_alpha_fg_ml": baseline}))
    visits = [first] if now_day == 0 else [
        first, visit(now_day, **CID, **({} if now is None else {"ifn_alpha_fg_ml": now}))]
    notes = [a for a in assess(patient(*visits)).alerts if a.id == IFN]
    assert bool(notes) == noted
    if noted:
        assert notes[0].indicator == "info"
        assert f"{baseline:g} fg/mL at baseline" in notes[0].summary
        assert "responders and non-responders alike" in notes[0].detail
