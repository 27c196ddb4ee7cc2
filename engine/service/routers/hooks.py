"""``POST /cds-services/{id}``: patient-view and order-sign.

The path of a call: authenticate (dependency) -> the patient's FHIR data (prefetch or
fhirServer, ``data.py``) -> the patient model (``patients.py``) -> ``Evaluator.evaluate``
(the rule packs decide everything) -> cards (``cards.py``) -> the response model. All of it
on the event loop's thread but waiting on a FHIR server (``state.py`` says why).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from starlette.concurrency import run_in_threadpool

from jdm_cds.language.compiler import CompiledRule
from jdm_cds.language.rule_types import Contains
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import PatientFileError
from jdm_cds.service.cards import IssuedCard
from jdm_cds.service.data import BadData, DataUnavailable, gather, patient_id, to_fetch
from jdm_cds.service.dependencies import Hook
from jdm_cds.service.models import Action, CDSRequest, CDSResponse, Suggestion
from jdm_cds.service.orders import DraftOrder, read_orders
from jdm_cds.service.patients import drug_of, read_patient
from jdm_cds.service.routers.discovery import ORDER_SIGN, PATIENT_VIEW, SERVICES
from jdm_cds.service.state import State

log = logging.getLogger("jdm_cds.service")
router = APIRouter()

ORDER_PACK = "order_sign"


@router.post("/cds-services/{service_id}")
async def call(service_id: str, hook: Hook) -> Response:
    started = time.perf_counter()
    service, body = hook.service, hook.body
    described = SERVICES.get(service_id)
    if described is None:
        raise HTTPException(404, f"no service {service_id!r} (GET /cds-services lists them)")
    if body.hook != described.hook:
        raise HTTPException(400, f"service {service_id} answers hook {described.hook!r}, "
                            f"not {body.hook!r}")
    try:
        if to_fetch(body):
            # Waiting on a FHIR server: on the I/O threads, not on the event loop, and
            # without the turn, so that the other calls go on meanwhile.
            async with service.turns.away():
                resources = await run_in_threadpool(
                    gather, body, service.settings.fhir_timeout_seconds)
        else:
            resources = gather(body, service.settings.fhir_timeout_seconds)
    except DataUnavailable as error:
        raise HTTPException(412, str(error)) from None
    except BadData as error:
        raise HTTPException(400, f"the patient's data cannot be read: {error}") from None
    content, count = _answer(service, service_id, body, resources)
    log.info("%s %s: %d card(s) in %.1f ms (caller %s)", service_id, body.hookInstance,
             count, 1000 * (time.perf_counter() - started), hook.caller.iss)
    return Response(content, media_type="application/json")


def _answer(service: State, service_id: str, body: CDSRequest,
            resources: list[dict[str, Any]]) -> tuple[bytes, int]:
    """The response's JSON and its number of cards."""
    try:
        patient, unmapped = read_patient(resources, f"Patient/{patient_id(body)}")
    except PatientFileError as error:
        raise HTTPException(400, f"the patient's data cannot be read: {error}") from None
    if unmapped:
        # Kinds only at INFO: the resources themselves are patient data.
        kinds = Counter(item.resource_type for item in unmapped)
        log.info("%s %s: %d resource(s) not mapped (%s)", service_id, body.hookInstance,
                 len(unmapped), ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        log.debug("unmapped: %s", unmapped)
    today = datetime.now(UTC).date()
    if service_id == PATIENT_VIEW:
        assessment = service.evaluate(patient, today)
        issued = service.cards.patient_view(service_id, assessment)
    else:
        issued = _order_sign(service, body, patient, today)
    response = CDSResponse(cards=[item.card for item in issued])
    service.store.record_cards(service_id, [o for item in issued for o in item.origins])
    return response.to_bytes(), len(issued)


def _order_sign(service: State, body: CDSRequest, patient: Patient,
                today: date) -> list[IssuedCard]:
    orders, unread = read_orders(body.context.get("draftOrders"), drug_of)
    if unread:
        log.info("%s %s: %d draft order(s) not read", ORDER_SIGN, body.hookInstance,
                 len(unread))
        log.debug("draft orders not read: %s", unread)
    items = [item for order in orders for item in order.items]
    assessment = service.evaluate(patient, today, draft_orders=items)
    issued = []
    for alert in assessment.alerts:
        compiled = service.rulebase.rules.get(alert.rule)
        if compiled is None or not (compiled.pack.id == ORDER_PACK or _tests_orders(compiled)):
            continue
        issued.append(service.cards.alert(ORDER_SIGN, assessment, alert,
                                          _cancel(compiled, orders)))
    return issued


def _ordered_items(compiled: CompiledRule) -> set[str]:
    return {leaf.item for leaf in compiled.leaves
            if isinstance(leaf, Contains) and leaf.field == "draft_orders"}


def _tests_orders(compiled: CompiledRule) -> bool:
    """A plugin's alert on draft orders belongs on order-sign too."""
    return bool(_ordered_items(compiled))


def _cancel(compiled: CompiledRule, orders: list[DraftOrder]) -> list[Suggestion]:
    """A suggestion to cancel each draft order the rule's ``contains`` tests matched."""
    tested = _ordered_items(compiled)
    return [Suggestion(label=f"Cancel the draft order: {order.label}"[:139],
                       actions=[Action(type="delete", description=f"Remove the draft order "
                                       f"{order.reference} ({order.label})",
                                       resourceId=[order.reference])])
            for order in orders if tested.intersection(order.items)]
