"""The CDS Hooks 2.0.1 messages as pydantic models, with the spec's invariants.

Every response the service sends is built from these models and so validated: a summary
of 140 characters or more, an unknown indicator, suggestions without ``selectionBehavior``,
an action without ``description``, an override reason without ``display``, and any null or
empty value (the spec forbids them: optional fields are left out) are errors. Responses
are dumped with ``exclude_none``, so an absent optional field never appears as ``null``.
Requests are read leniently where the spec lets clients extend them (unknown fields are
kept, ``prefetch`` entries may be ``null`` when the client could not fetch them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]
_Text = Annotated[str, Field(min_length=1)]
Item = TypeVar("Item")
# The spec forbids empty values: an optional list or object is left out, never empty.
_Items = Annotated[list[Item], Field(min_length=1)]
_Object = Annotated[dict[str, Item], Field(min_length=1)]


class _Response(BaseModel):
    """A part of a response: no unknown fields, no empty values (absent ones are None).

    Emptiness is refused by each field's type (``_Text``, ``_Items``, ``_Object``: checked
    by pydantic's compiled validators); ``tests/service/test_service_models.py`` checks that
    every text, list and object field of a response has such a bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    def to_bytes(self) -> bytes:
        """``to_json`` as JSON text, written by orjson: the same text as pydantic's own
        writer (``tests/service/test_service_models.py`` compares them on generated texts),
        which escapes the long Markdown texts of cards one character at a time (0.71 against
        0.56 million instructions for the 37 kB answer of the example patient)."""
        return orjson.dumps(self.to_json())


class Coding(_Response):
    code: _Text
    system: _Text | None = None
    display: _Text | None = None


class OverrideReason(Coding):
    """cds-resp-4: an override reason is shown to the clinician, so it needs ``display``."""

    display: _Text


class Source(_Response):
    label: _Text
    url: _Text | None = None
    icon: _Text | None = None
    topic: Coding | None = None


class Action(_Response):
    """cds-resp-5: every action has a ``description``."""

    type: Literal["create", "update", "delete"]
    description: _Text
    resource: _Object[Any] | None = None
    resourceId: _Items[_Text] | None = None


class Suggestion(_Response):
    label: _Text
    uuid: UUID | None = None
    isRecommended: bool | None = None
    actions: _Items[Action] | None = None


class Link(_Response):
    label: _Text
    url: _Text
    type: Literal["absolute", "smart"]
    appContext: _Text | None = None


class Card(_Response):
    uuid: UUID | None = None
    summary: Annotated[str, Field(min_length=1, max_length=139)] = Field(
        description="shown to the clinician; less than 140 characters")
    detail: _Text | None = None
    indicator: Indicator
    source: Source
    suggestions: _Items[Suggestion] | None = None
    selectionBehavior: SelectionBehavior | None = None
    overrideReasons: _Items[OverrideReason] | None = None
    links: _Items[Link] | None = None

    @model_validator(mode="after")
    def _selection_with_suggestions(self) -> Card:
        # cds-resp-6: the client must know whether several suggestions may be accepted.
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs 'selectionBehavior'")
        return self


class CDSResponse(_Response):
    cards: list[Card]  # may be empty: {"cards": []} is how a service says "nothing"
    systemActions: _Items[Action] | None = None


class Service(_Response):
    hook: _Text
    id: _Text
    title: _Text | None = None
    description: _Text
    prefetch: _Object[_Text] | None = None
    usageRequirements: _Text | None = None


class Discovery(_Response):
    services: _Items[Service]


class ErrorBody(_Response):
    """Every error the service returns, whatever its status: JSON, never a page."""

    error: _Text = Field(description="a short code, e.g. unauthorized, payload_too_large")
    message: _Text = Field(description="what went wrong and, where it helps, what to do")


# --- requests ----------------------------------------------------------------------------


class _Request(BaseModel):
    # Clients may send extensions; unknown fields are kept, never an error.
    model_config = ConfigDict(extra="allow", frozen=True)


class FhirAuthorization(_Request):
    access_token: _Text
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: _Text
    subject: _Text
    patient: _Text | None = None


class CDSRequest(_Request):
    hook: _Text
    hookInstance: UUID
    fhirServer: _Text | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    # An entry is null when the client could not fetch it: the service fetches it itself.
    prefetch: dict[str, dict[str, Any] | None] | None = None

    @model_validator(mode="after")
    def _server_with_authorization(self) -> CDSRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("'fhirServer' is required when 'fhirAuthorization' is sent")
        return self


class SuggestionId(_Request):
    id: _Text


class OverrideReasonGiven(_Request):
    reason: Coding | None = None
    userComment: _Text | None = None


class FeedbackEntry(_Request):
    card: _Text = Field(description="the uuid of the card the feedback is about")
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[SuggestionId] | None = None
    overrideReason: OverrideReasonGiven | None = None
    outcomeTimestamp: datetime

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackEntry:
        if self.outcome == "overridden" and self.acceptedSuggestions:
            raise ValueError("an overridden card has no accepted suggestions")
        if self.outcome == "accepted" and self.overrideReason is not None:
            raise ValueError("an accepted card has no override reason")
        return self


class Feedback(_Request):
    feedback: list[FeedbackEntry] = Field(min_length=1)
