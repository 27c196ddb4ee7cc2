"""The CDS Hooks models refuse what the spec forbids."""

from __future__ import annotations

from typing import Any

import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from jdm_cds.service import models
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



# A smallest valid instance of each part of a response.
MINIMAL: dict[str, dict[str, Any]] = {
    "Coding": {"code": "c"}, "OverrideReason": {"code": "c", "display": "d"},
    "Source": {"label": "l"}, "Action": {"type": "delete", "description": "d"},
    "Suggestion": {"label": "l"}, "Link": {"label": "l", "url": "u", "type": "absolute"},
    "Card": card(), "CDSResponse": {"cards": []},
    "Service": {"hook": "h", "id": "i", "description": "d"},
    "Discovery": {"services": [{"hook": "h", "id": "i", "description": "d"}]},
    "ErrorBody": {"error": "e", "message": "m"},
}


def _response_models() -> list[type[BaseModel]]:
    found, todo = [], list(models._Response.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo += model.__subclasses__()
    return found


@pytest.mark.parametrize("model", _response_models(), ids=lambda m: m.__name__)
def test_no_field_of_a_response_may_be_empty(model: type[BaseModel]) -> None:
    """The spec forbids empty values: every field refuses "", [] and {} (the cards of a
    response excepted: no cards is how a service says nothing)."""
    minimal = MINIMAL[model.__name__]
    model.model_validate(minimal)
    for name in model.model_fields:
        for empty in ("", [], {}):
            if (model, name, empty) == (CDSResponse, "cards", []):
                continue
            with pytest.raises(ValidationError):
                model.model_validate({**minimal, name: empty})


_TEXT = st.text(min_size=1, max_size=60)


def _cards() -> st.SearchStrategy[dict[str, Any]]:
    action = st.fixed_dictionaries(
        {"type": st.sampled_from(["create", "update", "delete"]), "description": _TEXT},
        optional={"resourceId": st.lists(_TEXT, min_size=1, max_size=3)})
    suggestion = st.fixed_dictionaries(
        {"label": _TEXT},
        optional={"uuid": st.uuids().map(str), "isRecommended": st.booleans(),
                  "actions": st.lists(action, min_size=1, max_size=2)})
    coding = st.fixed_dictionaries({"code": _TEXT},
                                   optional={"system": _TEXT, "display": _TEXT})
    return st.fixed_dictionaries(
        {"summary": st.text(min_size=1, max_size=139),
         "indicator": st.sampled_from(["info", "warning", "critical"]),
         "source": st.fixed_dictionaries({"label": _TEXT},
                                         optional={"url": _TEXT, "topic": coding})},
        optional={"uuid": st.uuids().map(str), "detail": st.text(min_size=1, max_size=400),
                  "suggestions": st.lists(suggestion, min_size=1, max_size=2),
                  "links": st.lists(st.fixed_dictionaries(
                      {"label": _TEXT, "url": _TEXT,
                       "type": st.sampled_from(["absolute", "smart"])}), min_size=1,
                      max_size=2)},
    ).map(lambda card: {**card, "selectionBehavior": "any"} if "suggestions" in card
          else card)


@pytest.mark.fuzz
@campaign(200, 20_000)
@given(st.lists(_cards(), max_size=4))
def test_a_response_is_written_as_pydantic_writes_it(cards: list[dict[str, Any]]) -> None:
    """orjson writes a response's JSON text, byte for byte as pydantic's writer would
    (every character of every text, escapes included)."""
    response = CDSResponse.model_validate({"cards": cards})
    assert response.to_bytes() == response.__pydantic_serializer__.to_json(
        response, exclude_none=True, by_alias=True)


def test_every_character_is_written_as_pydantic_writes_it() -> None:
    text = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    response = CDSResponse.model_validate({"cards": [card(detail=text)]})
    assert response.to_bytes() == response.__pydantic_serializer__.to_json(
        response, exclude_none=True, by_alias=True)
