"""Deliberately broken plugins, registered on a plugin manager directly by the tests.

Each shows one way a plugin can fail and what the engine must do about it: a broken rule
pack stops start-up naming the plugin and file:line; a guidance hook that raises or
returns bad cards costs only that plugin's guidance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jdm_cds import Assessment, hookimpl

PACKS = Path(__file__).parent / "data" / "plugins"


class Raising:
    """A guidance hook that raises for every patient."""

    @hookimpl
    def jdm_cds_guidance(self, patient: Any) -> list[dict[str, Any]]:
        raise RuntimeError(f"guidance service unavailable for {patient.id}")


class BrokenPacks:
    """Rule packs with one problem of each kind the validators look for."""

    @hookimpl
    def jdm_cds_rule_packs(self) -> list[Path]:
        return [PACKS / "no_version.yaml", PACKS / "broken_rules.yaml"]


class BadCards:
    """Returns one valid card and three invalid ones."""

    @hookimpl
    def jdm_cds_guidance(self) -> list[Any]:
        good = {"id": "bad_cards.fine", "indicator": "info", "summary": "A valid card",
                "detail": "Shown although its neighbours are invalid.",
                "source": {"label": "Test source"}}
        return [
            good,
            {**good, "id": "bad_cards.long", "summary": "x" * 141},
            {**good, "id": "bad_cards.loud", "indicator": "urgent"},
            "not a card",
        ]


class NotAList:
    @hookimpl
    def jdm_cds_guidance(self) -> dict[str, Any]:
        return {"id": "not_a_list.card"}


class Mutating:
    """Tries to change the judgements it is shown."""

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment) -> list[Any]:
        assessment.judgements.clear()
        assessment.alerts.clear()
        return []


class Misspelt:
    """Implements a hook that does not exist."""

    @hookimpl
    def jdm_cds_guidence(self) -> list[Any]:
        return []


class PacksRaise:
    @hookimpl
    def jdm_cds_rule_packs(self) -> list[Path]:
        raise OSError("pack folder missing")


class PacksNotPaths:
    @hookimpl
    def jdm_cds_rule_packs(self) -> str:
        return "rules.yaml"
