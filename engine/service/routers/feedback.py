"""``POST /cds-services/{id}/feedback``: what clinicians did with the cards, stored."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException

from jdm_cds.service.dependencies import Authenticated, FeedbackRequest, ServiceState
from jdm_cds.service.routers.discovery import SERVICES

log = logging.getLogger("jdm_cds.service")
router = APIRouter()


@router.post("/cds-services/{service_id}/feedback")
def feedback(service_id: str, body: FeedbackRequest, caller: Authenticated,
             service: ServiceState) -> dict[str, Any]:
    if service_id not in SERVICES:
        raise HTTPException(404, f"no service {service_id!r} (GET /cds-services lists them)")
    rows = []
    for entry in body.feedback:
        reason = entry.overrideReason.reason if entry.overrideReason else None
        rows.append({
            "card_uuid": entry.card, "outcome": entry.outcome,
            "accepted_suggestions": [s.id for s in entry.acceptedSuggestions or []],
            "override_code": reason.code if reason else None,
            "override_system": reason.system if reason else None,
            "override_display": reason.display if reason else None,
            "user_comment": entry.overrideReason.userComment if entry.overrideReason else None,
            "outcome_timestamp": entry.outcomeTimestamp,
        })
    unknown = service.store.add_feedback(service_id, rows)
    log.info("%s feedback: %d entr%s stored (%d on cards not issued here; caller %s)",
             service_id, len(rows), "y" if len(rows) == 1 else "ies", unknown, caller.iss)
    return {"stored": len(rows), "unknownCards": unknown}
