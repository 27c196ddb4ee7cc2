"""``GET /cds-services``: the services this server offers, with their prefetch templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from jdm_cds.service.data import PREFETCH
from jdm_cds.service.dependencies import Authenticated
from jdm_cds.service.models import Discovery, Service

router = APIRouter()

PATIENT_VIEW = "jdm-cds-patient-view"
ORDER_SIGN = "jdm-cds-order-sign"

SERVICES = {
    PATIENT_VIEW: Service(
        hook="patient-view", id=PATIENT_VIEW,
        title="Juvenile dermatomyositis on JAK inhibitors: status and safety",
        description="Judges clinically inactive disease (PRINTO and variants), treatment "
        "response (2016 ACR/EULAR total improvement score) and withdrawal eligibility, and "
        "shows safety alerts, withdrawal and taper recommendations and antibody guidance, "
        "each with its rule, version, deciding values, assumptions and sources.",
        prefetch=dict(PREFETCH)),
    ORDER_SIGN: Service(
        hook="order-sign", id=ORDER_SIGN,
        title="Juvenile dermatomyositis on JAK inhibitors: order checks",
        description="Warns when an order being signed meets a rule of the order-sign pack: "
        "a JAK inhibitor while herpes zoster is active or recent, a live vaccine on a JAK "
        "inhibitor, plasma exchange or immunoadsorption re-ordered for a patient eligible to "
        "withdraw it.",
        prefetch=dict(PREFETCH)),
}


@router.get("/cds-services")
def discover(_caller: Authenticated) -> dict[str, Any]:
    return Discovery(services=list(SERVICES.values())).to_json()
