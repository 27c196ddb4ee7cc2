"""Card text: what would settle an indeterminate judgement is shown when it is given."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from jdm_cds.service.cards import _would_decide


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
