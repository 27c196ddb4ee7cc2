"""Draft orders (order-sign ``context.draftOrders``) as the rules see them.

Each draft order becomes the items of the patient fact's ``draft_orders`` list (a drug or
procedure, or ``live_vaccine``), which the order-sign rule packs test with ``contains``.
This module only reads codes: it decides nothing. An order it cannot read is reported
(logged, and listed to the caller), never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from jdm_cds.facts.builder import order_items
from jdm_cds.language.treatment_classes import core_treatment_classes

# Resource kinds whose code names what is ordered, and the element that holds it.
_CODE_ELEMENT = {
    "MedicationRequest": "medicationCodeableConcept",
    "ServiceRequest": "code",
    "Immunization": "vaccineCode",
    "Procedure": "code",
}

# (system, code, text) -> the drug or procedure of the patient file, or None.
DrugReader = Callable[[str | None, str | None, str | None], str | None]


@dataclass(frozen=True)
class DraftOrder:
    reference: str  # e.g. MedicationRequest/123, for suggestions that cancel it
    label: str  # what the order names, for the card
    items: tuple[str, ...]  # the draft_orders items it gives (classes included)


def _live_vaccine_codes() -> frozenset[tuple[str, str]]:
    text = resources.files("jdm_cds.service").joinpath("order_codes.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    systems: dict[str, str] = data["systems"]
    return frozenset((systems.get(e["system"], e["system"]), str(e["code"]))
                     for e in data["live_vaccine"])


LIVE_VACCINES = _live_vaccine_codes()


def read_orders(bundle: Any, drug_of: DrugReader) -> tuple[list[DraftOrder], list[str]]:
    """The draft orders of ``context.draftOrders`` and, apart, those that cannot be read."""
    orders: list[DraftOrder] = []
    unread: list[str] = []
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            unread.append("an entry without a resource")
            continue
        kind = str(resource.get("resourceType"))
        reference = f"{kind}/{resource.get('id', '?')}"
        concept = resource.get(_CODE_ELEMENT.get(kind, ""))
        if not isinstance(concept, dict):
            unread.append(f"{reference}: no code to read")
            continue
        codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
        text = concept.get("text") if isinstance(concept.get("text"), str) else None
        label = text or next((str(c["display"]) for c in codings if c.get("display")),
                             reference)
        found: list[str] = []
        for coding in codings:
            system, code = coding.get("system"), coding.get("code")
            if (system, code) in LIVE_VACCINES:
                found.append("live_vaccine")
            drug = drug_of(system, code, coding.get("display"))
            if drug is not None:
                found.append(drug)
        if not found:
            drug = drug_of(None, None, text)
            if drug is not None:
                found.append(drug)
        if found:
            orders.append(DraftOrder(reference, label,
                                     order_items(found, core_treatment_classes())))
        else:
            unread.append(f"{reference}: code not known to the mapping")
    return orders, unread
