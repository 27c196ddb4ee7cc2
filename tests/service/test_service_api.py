"""Discovery, 412, 413, JSON errors, and feedback stored and reported, on the real server."""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
from cds_checks import discovery, error
from conftest import JDM_CDS, Server

VIEW = "/cds-services/jdm-cds-patient-view"


def _request(**extra: object) -> dict[str, object]:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": "p1"}, **extra}


def test_discovery_lists_both_services_with_prefetch_templates(server: Server) -> None:
    services = {s["id"]: s for s in discovery(server.get("/cds-services"))["services"]}
    assert services["jdm-cds-patient-view"]["hook"] == "patient-view"
    assert services["jdm-cds-order-sign"]["hook"] == "order-sign"
    for service in services.values():
        assert service["description"] and service["title"]
        templates = service["prefetch"]
        assert templates["patient"] == "Patient/{{context.patientId}}"
        kinds = {t.split("?")[0].split("/")[0] for t in templates.values()}
        assert kinds == {"Patient", "Observation", "MedicationStatement", "MedicationRequest",
                         "Procedure", "Condition", "AdverseEvent"}
        assert all("{{context.patientId}}" in t for t in templates.values())


def test_without_prefetch_or_fhir_server_the_answer_is_412(server: Server) -> None:
    message = error(server.post(VIEW, _request()), 412)
    assert "no fhirServer" in message
    partial = _request(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}})
    assert "observations" in error(server.post(VIEW, partial), 412)


def test_a_body_over_the_limit_gets_413(server: Server) -> None:
    big = _request(prefetch={"patient": {"resourceType": "Patient", "id": "p1",
                                         "text": {"div": "x" * (6 * 1024 * 1024)}}})
    error(server.post(VIEW, big), 413)


def test_errors_are_json(server: Server) -> None:
    error(server.post("/cds-services/nope", _request()), 404)
    error(server.get("/nowhere"), 404)
    error(server.post(VIEW, {"hook": "patient-view"}), 400)
    wrong_hook = _request()
    wrong_hook["hook"] = "order-sign"
    error(server.post(VIEW, wrong_hook), 400)
    for content in (b"{not json", b"[]", b'"patient-view"', b""):
        error(httpx.post(server.url(VIEW), content=content, timeout=30,
                         headers={**server.headers(VIEW), "content-type": "application/json"}),
              400)


def test_feedback_is_stored_and_reported(server: Server) -> None:
    card = str(uuid.uuid4())
    body = {"feedback": [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-30T05:00:00Z",
         "overrideReason": {"reason": {"code": "disagree", "display": "Disagree",
                                       "system": "https://jdm-cds.org/fhir/CodeSystem/x"},
                            "userComment": "seen at clinic"}},
        {"card": card, "outcome": "accepted", "outcomeTimestamp": "2026-11-30T05:01:00Z",
         "acceptedSuggestions": [{"id": str(uuid.uuid4())}]},
    ]}
    response = server.post(f"{VIEW}/feedback", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2, "unknownCards": 2}
    bad = {"feedback": [{"card": card, "outcome": "overridden",
                         "outcomeTimestamp": "2026-11-30T05:00:00Z",
                         "acceptedSuggestions": [{"id": "x"}]}]}
    error(server.post(f"{VIEW}/feedback", bad), 400)
    report = subprocess.run([str(JDM_CDS), "feedback", "report", "--database", server.database,
                             "--format", "json"], capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)
    unknown = next(r for r in rows if r["rule"].startswith("(card not issued"))
    assert unknown["accepted"] >= 1 and unknown["overridden"] >= 1
    assert ["Disagree", 1] in unknown["override_reasons"] or any(
        reason == "Disagree" for reason, _ in unknown["override_reasons"])


def test_browsers_of_configured_origins_may_call(server: Server) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(server.url(VIEW), timeout=30, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})

    allowed = preflight("https://sandbox.test")
    assert allowed.headers["access-control-allow-origin"] == "https://sandbox.test"
    assert "access-control-allow-origin" not in preflight("https://evil.test").headers
