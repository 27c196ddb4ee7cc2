"""cid.within_6_months: CID (cid.printo_skin) at a visit from the JAK-inhibitor start to day
183, both inclusive, among the visits on or before the evaluation date."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from longitudinal import ACTIVE, CID, UNCLEAR, day, judge, patient, visit

RULE = "cid.within_6_months"
NO_VISIT = "no visit between"
STILL_OPEN = "still open"
UNCLEAR_VISIT = "indeterminate (data missing) at a visit"

# (visits as (day, state), evaluation day or None for the last visit,
#  expected status, days to CID, reasons that must be given)
CASES: list[tuple[str, list[tuple[int, dict[str, Any]]], int | None, str, int | None,
                  list[str]]] = [
    ("cid-at-day-90", [(0, ACTIVE), (90, CID)], None, "met", 90, []),
    ("cid-at-day-0", [(0, CID), (90, ACTIVE)], None, "met", 0, []),
    ("first-cid-visit-counts", [(0, ACTIVE), (60, CID), (120, CID)], None, "met", 60, []),
    ("day-183-in", [(0, ACTIVE), (183, CID)], None, "met", 183, []),
    ("day-184-out", [(0, ACTIVE), (184, CID)], None, "not_met", None, []),
    ("cid-met-while-window-open", [(0, ACTIVE), (30, CID)], 40, "met", 30, []),
    ("never-in-cid", [(0, ACTIVE), (90, ACTIVE), (180, ACTIVE), (250, CID)], None, "not_met",
     None, []),
    ("cid-before-start-only", [(-30, CID), (90, ACTIVE), (200, ACTIVE)], None, "not_met",
     None, []),
    ("window-still-open", [(0, ACTIVE), (90, ACTIVE)], 182, "indeterminate", None,
     [STILL_OPEN]),
    ("window-closes-on-day-183", [(0, ACTIVE), (90, ACTIVE)], 183, "not_met", None, []),
    ("no-visit-in-window", [(-10, ACTIVE), (200, ACTIVE)], None, "indeterminate", None,
     [NO_VISIT]),
    ("no-visit-yet-and-open", [(-10, ACTIVE)], 20, "indeterminate", None,
     [NO_VISIT, STILL_OPEN]),
    ("unclear-visit-in-window", [(0, ACTIVE), (90, UNCLEAR), (200, ACTIVE)], None,
     "indeterminate", None, [UNCLEAR_VISIT]),
    # Met, but the unjudged day-0 visit may have been the first in CID: the day is unknown.
    ("unclear-visit-but-cid-elsewhere", [(0, UNCLEAR), (90, CID)], None, "met", None, []),
    ("unclear-visit-after-the-first-cid", [(0, ACTIVE), (60, CID), (90, UNCLEAR)], None, "met",
     60, []),
    ("unclear-visit-outside-window", [(0, ACTIVE), (90, ACTIVE), (190, UNCLEAR)], None,
     "not_met", None, []),
    ("later-cid-visit-not-yet-seen", [(0, ACTIVE), (90, ACTIVE), (150, CID)], 120,
     "indeterminate", None, [STILL_OPEN]),
]


@pytest.mark.parametrize(("visits", "at", "status", "days", "reasons"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_window(visits: list[tuple[int, dict[str, Any]]], at: int | None, status: str,
                days: int | None, reasons: list[str]) -> None:
    p = patient(*(visit(n, **state) for n, state in visits))
    found = judge(p, RULE, None if at is None else day(at))
    assert found.status == status
    assert found.values == {"days_to_cid": days}
    for text in reasons:
        assert any(text in reason for reason in found.reasons), found.reasons
    if status != "indeterminate":
        assert found.reasons == []


def test_window_starts_at_the_first_jak_inhibitor_start() -> None:
    # Baricitinib after ruxolitinib: the window still runs from the first start.
    treatments = [{"drug": "ruxolitinib", "start": day(0).isoformat(),
                   "stop": day(100).isoformat()},
                  {"drug": "baricitinib", "start": day(100).isoformat()}]
    p = patient(visit(0, **ACTIVE), visit(150, **CID), treatments=treatments)
    found = judge(p, RULE)
    assert (found.status, found.values["days_to_cid"]) == ("met", 150)
    late = patient(visit(0, **ACTIVE), visit(150, **ACTIVE), visit(250, **CID),
                   treatments=treatments)
    assert judge(late, RULE).status == "not_met"


@pytest.mark.parametrize("treatments", [
    [], [{"drug": "prednisone", "start": "2020-06-01"}],
], ids=["no-treatment", "steroid-only"])
def test_without_jak_inhibitor_not_applicable(treatments: list[dict[str, str]]) -> None:
    p = patient(visit(0, **CID), visit(90, **CID), treatments=treatments)
    assert judge(p, RULE).status == "not_applicable"


def test_evaluated_before_the_start_not_applicable() -> None:
    p = patient(visit(-30, **ACTIVE), visit(90, **CID))
    assert judge(p, RULE, day(-1)).status == "not_applicable"


def test_evaluation_date_limits_the_visits() -> None:
    p = patient(visit(0, **ACTIVE), visit(90, **ACTIVE), visit(150, **CID))
    assert judge(p, RULE, day(149)).status == "indeterminate"
    assert judge(p, RULE, day(150)).status == "met"
    assert judge(p, RULE, dt.date(2030, 1, 1)).status == "met"


def test_cites_the_study_and_labels_the_window_assumption() -> None:
    found = judge(patient(visit(0, **ACTIVE), visit(90, **CID)), RULE)
    assert any("Le Voyer" in c.label for c in found.citations)
    assert "six_months_183_days" in {a.key for a in found.assumptions}
