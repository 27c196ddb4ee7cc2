"""The CDS Hooks models refuse what the spec forbids."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jdm_cds.service.models import Card, CDSRequest, CDSResponse, Feedback

SOURCE = {"label": "jdm-cds"}


def card(**extra: Any) -> dict[str, Any]:
    return {"summary": "s", "indicator": "info", "source": SOURCE, **extra}


@pytest.mark.parametrize("bad", [
    card(summary="x" * 140),
    card(summary=""),
    card(indicator="hard-stop"),
    card(source={}),
    card(source={"label": ""}),
    card(detail=""),
    card(links=[]),
    card(suggestions=[{"label": "Cancel", "actions": [{"type": "delete", "description": "x"}]}]),
    card(suggestions=[{"label": "Cancel", "actions": [{"type": "delete"}]}],
         selectionBehavior="any"),
    card(overrideReasons=[{"code": "x"}]),
    card(selectionBehavior="all"),
    card(extra="field"),
])
def test_cards_refuse_what_the_spec_forbids(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Card.model_validate(bad)


def test_a_valid_card_dumps_without_nulls() -> None:
    made = Card.model_validate(card(summary="x" * 139, suggestions=[
        {"label": "Cancel", "actions": [{"type": "delete", "description": "d"}]}],
        selectionBehavior="at-most-one"))
    dumped = CDSResponse(cards=[made]).to_json()
    assert "null" not in str(dumped) and "None" not in str(dumped)
    assert CDSResponse(cards=[]).to_json() == {"cards": []}


def test_requests_and_feedback_follow_the_spec() -> None:
    with pytest.raises(ValidationError):  # fhirAuthorization needs fhirServer
        CDSRequest.model_validate({
            "hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {}, "fhirAuthorization": {"access_token": "t", "token_type": "Bearer",
                                                 "expires_in": 300, "scope": "s",
                                                 "subject": "x"}})
    with pytest.raises(ValidationError):
        CDSRequest.model_validate({"hook": "patient-view", "hookInstance": "not-a-uuid",
                                   "context": {}})
    with pytest.raises(ValidationError):
        Feedback.model_validate({"feedback": [{"card": "c", "outcome": "accepted",
                                               "outcomeTimestamp": "2026-01-01T00:00:00Z",
                                               "overrideReason": {"userComment": "x"}}]})
    with pytest.raises(ValidationError):
        Feedback.model_validate({"feedback": []})
