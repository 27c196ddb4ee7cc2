"""Plugins that misbehave on purpose, one way each: what a careless or hostile plugin does.

Registered on a plugin manager directly by ``test_plugins_hostile.py``. Each is trusted
code that goes wrong by accident (the deliberate bypasses, ``object.__setattr__`` or
``os._exit``, are out of scope: plugins are trusted code).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from jdm_cds import Assessment, hookimpl
from jdm_cds.model.assessment import GuidanceCard, Source


def card(card_id: str, **changes: Any) -> dict[str, Any]:
    return {"id": card_id, "indicator": "info", "summary": f"Card {card_id}",
            "detail": "A test card.", "source": {"label": "Test source"}, **changes}


class Sleeping:
    """A guidance hook that blocks until the test sets ``release`` (for ever, in effect)."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    @hookimpl
    def jdm_cds_guidance(self) -> list[dict[str, Any]]:
        self.calls += 1
        self.release.wait()
        return [card("sleeping.late")]


class Exiting:
    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        raise SystemExit(0)


class Raises:
    """Raises whatever it was given: GeneratorExit, KeyboardInterrupt, a BaseException."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        raise self.error


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


class Bogus:
    """A card built with model_construct, which skips validation, next to a valid one."""

    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [GuidanceCard.model_construct(id="bogus.card", indicator="bogus", summary="x",
                                             detail="y", source=Source(label="z")),
                GuidanceCard(**card("bogus.fine"))]


class BogusSource:
    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [GuidanceCard.model_construct(
            id="bogus_source.card", indicator="info", summary="x", detail="y",
            source=Source.model_construct(label=12, url=None))]


class SetsStatus:
    """Sets a judgement's status on the assessment it is shown."""

    def __init__(self) -> None:
        self.seen: str | None = None

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment) -> list[Any]:
        self.seen = assessment.judgements["cid.printo"].status
        assessment.judgements["cid.printo"].status = "met"  # type: ignore[misc]
        return [card("sets_status.card")]


class ChangesContainers:
    """Changes the dicts and lists of what it is shown."""

    def __init__(self, change: str) -> None:
        self.change = change

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment) -> list[Any]:
        judgement = assessment.judgements["cid.printo"]
        if self.change == "judgements":
            assessment.judgements.clear()
        elif self.change == "alerts":
            assessment.alerts.append(assessment.alerts[0] if assessment.alerts else None)
        elif self.change == "because":
            judgement.because["facts"]["ck_u_l"] = 1.0
        elif self.change == "criteria":
            judgement.because["criteria"][0]["status"] = "met"
        elif self.change == "missing":
            judgement.missing.append("cmas")
        return []


class Reader:
    """Records what it is shown of cid.printo: the plugin after a mutating one."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment) -> list[Any]:
        judgement = assessment.judgements["cid.printo"]
        self.seen.append((judgement.status, len(assessment.judgements)))
        return [card("reader.card")]


class Oversized:
    """Cards with one text field over its limit each, and one valid card."""

    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [
            card("oversized.detail", detail="x" * 10_000_001),
            card("oversized.summary", summary="x" * 141),
            card("o" * 201),
            card("oversized.label", source={"label": "x" * 1_001}),
            card("oversized.url", source={"label": "ok", "url": "x" * 2_001}),
            card("oversized.empty", summary=""),
            card("oversized.fine", detail="x" * 10_000),
        ]


class Flood:
    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [card(f"flood.{n}") for n in range(10_000)]


class SlowMapping(Mapping[str, Any]):
    """A card whose reading blocks: the checks of what a plugin returns are timed too."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def __getitem__(self, key: str) -> Any:
        self.release.wait()
        return card("slow_mapping.card")[key]

    def __iter__(self) -> Iterator[str]:
        self.release.wait()
        return iter(card("slow_mapping.card"))

    def __len__(self) -> int:
        return 5


class SlowCards:
    def __init__(self) -> None:
        self.release = threading.Event()

    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [SlowMapping(self.release)]


class HugeMessage:
    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        raise ValueError("x" * 1_000_000)


class Good:
    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        return [card("good.card", indicator="critical")]


class PacksExit:
    @hookimpl
    def jdm_cds_rule_packs(self) -> list[Any]:
        raise SystemExit(3)


class PacksSleep:
    def __init__(self) -> None:
        self.release = threading.Event()

    @hookimpl
    def jdm_cds_rule_packs(self) -> list[Any]:
        self.release.wait()
        return []
