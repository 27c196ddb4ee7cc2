"""Card text: what would settle an indeterminate judgement is shown when it is given."""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.service.cards import _NAMESPACE, _would_decide, card_uuid


def test_would_decide_is_shown_as_ranges_and_window() -> None:
    bound = SimpleNamespace(text="cmas >= 48")
    low = SimpleNamespace(text="cmas < 48")
    would = SimpleNamespace(
        sets=[SimpleNamespace(fields=["cmas"], met=[[bound]], not_met=[[low]],
                              not_applicable=[])],
        window=SimpleNamespace(closes=date(2020, 8, 1), needs="a visit in CID"))
    assert _would_decide(would) == [
        "- would decide: cmas: met if cmas >= 48; not met if cmas < 48",
        "- window closes 2020-08-01: a visit in CID"]


@pytest.mark.fuzz
@campaign(200, 20_000)
@given(st.text())
def test_card_uuids_are_the_name_based_uuids_of_rfc_4122(name: str) -> None:
    """Written from the SHA-1 digest directly, a card's uuid is uuid5's, character for
    character (feedback already stored names cards by it)."""
    assert card_uuid(name) == str(uuid.uuid5(_NAMESPACE, name))
