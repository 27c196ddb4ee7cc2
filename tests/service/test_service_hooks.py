"""patient-view and order-sign on the real server, with the prefetch an EHR would send
(``examples/patient-mda5.yaml`` through the FHIR export): the cards are what the CLI says."""

from __future__ import annotations

import base64
import html
import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml
from cds_checks import cards, error
from conftest import JDM_CDS, Keys, Server, start, stop

from jdm_cds.interop.fhir.export import bundle_from_patient
from jdm_cds.model.patient import Patient, Treatment
from jdm_cds.model.reading import load_patient
from jdm_cds.service.cards import SUMMARY_LIMIT
from jdm_cds.service.data import KIND_OF_TEMPLATE, prefetch_from_bundle

EXAMPLE = Path(__file__).parents[2] / "examples" / "patient-mda5.yaml"
VIEW = "/cds-services/jdm-cds-patient-view"
SIGN = "/cds-services/jdm-cds-order-sign"
TREATMENTS = "https://jdm-cds.org/fhir/CodeSystem/treatments"
CVX = "http://hl7.org/fhir/sid/cvx"


def _prefetch(patient: Patient) -> tuple[str, dict[str, Any]]:
    prefetch = prefetch_from_bundle(bundle_from_patient(patient))
    return str(prefetch["patient"]["id"]), prefetch


def _view(pid: str, prefetch: dict[str, Any]) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": pid}, "prefetch": prefetch}


def _order(kind: str, oid: str, system: str, code: str, display: str) -> dict[str, Any]:
    element = {"MedicationRequest": "medicationCodeableConcept", "ServiceRequest": "code",
               "Immunization": "vaccineCode"}[kind]
    return {"resource": {"resourceType": kind, "id": oid, "status": "draft",
                         element: {"coding": [{"system": system, "code": code,
                                               "display": display}]}}}


def _sign(pid: str, prefetch: dict[str, Any], *orders: dict[str, Any]) -> dict[str, Any]:
    return {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), "prefetch": prefetch,
            "context": {"userId": "Practitioner/1", "patientId": pid,
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": list(orders)}}}


def _cli(today: str, path: Path = EXAMPLE) -> dict[str, Any]:
    done = subprocess.run([str(JDM_CDS), "evaluate", str(path), "--at", today, "--format",
                           "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    found: dict[str, Any] = data[0] if isinstance(data, list) else data
    return found


def _fit(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 1].rstrip() + "…"


@pytest.fixture(scope="module")
def example() -> tuple[str, dict[str, Any]]:
    return _prefetch(load_patient(EXAMPLE))


def test_patient_view_cards_are_the_cli_assessment(server: Server,
                                                   example: tuple[str, dict[str, Any]]) -> None:
    pid, prefetch = example
    today = datetime.now(UTC).date().isoformat()
    shown = cards(server.post(VIEW, _view(pid, prefetch)))
    expected = _cli(today)
    summaries = [card["summary"] for card in shown]
    for item in expected["alerts"] + expected["recommendations"] + expected["guidance"]:
        assert _fit(item["summary"]) in summaries, item["summary"]
    details = "\n".join(card["detail"] for card in shown)
    for rule, judgement in expected["judgements"].items():
        if judgement["status"] == "not_applicable":
            continue
        words = judgement["status"].replace("_", " ")
        assert f"{words} (rule `{rule}`, pack `{judgement['pack']}` {judgement['version']}" \
            in details, rule
    alerts = [c for c in shown if c["indicator"] != "info"]
    assert shown[:len(alerts)] == alerts  # warnings first
    for card in shown:
        assert card["source"]["topic"]["code"]
        assert "pack `" in card["detail"] or "Rule `" in card["detail"]
        assert "**Sources**" in card["detail"]
    # The same chart viewed again gives the same cards, with the same uuids.
    again = cards(server.post(VIEW, _view(pid, prefetch)))
    assert [c["uuid"] for c in again] == [c["uuid"] for c in shown]


def test_what_would_decide_an_open_judgement_is_on_its_card(server: Server,
                                                            tmp_path: Path) -> None:
    """A real evaluation's ``would_decide`` reaches the cards: the example without the last
    visit's CMAS and MMT8 leaves CID open; each open judgement's block in the card detail
    names, for every smallest set of missing values the evaluation gives, the values and
    the ranges that would settle it (as the CLI's JSON gives them)."""
    patient = load_patient(EXAMPLE)
    last = patient.visits[-1].model_copy(update={"cmas": None, "mmt8": None})
    gaps = patient.model_copy(update={"visits": (*patient.visits[:-1], last)})
    source = tmp_path / "gaps.yaml"
    source.write_text(yaml.safe_dump(gaps.model_dump(mode="json", exclude_none=True)))
    pid, prefetch = _prefetch(load_patient(source))
    today = datetime.now(UTC).date().isoformat()
    details = "\n".join(card["detail"] for card in cards(server.post(VIEW, _view(pid, prefetch))))
    judgements = _cli(today, source)["judgements"]
    open_ = {rule: j["would_decide"] for rule, j in judgements.items()
             if j["status"] == "indeterminate" and j.get("would_decide")}
    assert any(would["sets"] for would in open_.values())  # the example does leave CID open
    for rule, would in open_.items():
        start = details.index(f"indeterminate (rule `{rule}`")
        end = details.find("\n\n", start)
        block = details[start:] if end < 0 else details[start:end]
        lines = [line for line in block.splitlines() if line.startswith("- would decide: ")]
        for completion in would["sets"]:
            line = next(line for line in lines
                        if line.startswith(f"- would decide: {', '.join(completion['fields'])}:"))
            for status in ("met", "not_met", "not_applicable"):
                for alternative in completion[status]:
                    for bound in alternative:
                        assert bound["text"] in line, (rule, bound["text"], line)
        if would.get("window"):
            assert f"- window closes {would['window']['closes']}" in block, rule


def test_feedback_on_a_card_reaches_the_report_by_rule(
        server: Server, example: tuple[str, dict[str, Any]]) -> None:
    pid, prefetch = example
    shown = cards(server.post(VIEW, _view(pid, prefetch)))
    warning = next(c for c in shown if c["indicator"] == "warning")
    reason = warning["overrideReasons"][0]
    response = server.post(f"{VIEW}/feedback", {"feedback": [{
        "card": warning["uuid"], "outcome": "overridden",
        "overrideReason": {"reason": reason}, "outcomeTimestamp": "2026-11-30T05:00:00Z"}]})
    assert response.json() == {"stored": 1, "unknownCards": 0}
    report = subprocess.run([str(JDM_CDS), "feedback", "report", "--database", server.database,
                             "--format", "json"], capture_output=True, text=True, timeout=60)
    rows = {row["rule"]: row for row in json.loads(report.stdout)}
    row = rows[warning["source"]["topic"]["code"]]
    assert row["overridden"] >= 1
    assert [reason["display"], 1] in row["override_reasons"] or any(
        r == reason["display"] for r, _ in row["override_reasons"])
    text = subprocess.run([str(JDM_CDS), "feedback", "report", "--database", server.database],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "250"})
    assert warning["source"]["topic"]["code"] in text.stdout


def test_order_sign_warns_with_suggestions(server: Server,
                                           example: tuple[str, dict[str, Any]]) -> None:
    pid, prefetch = example
    body = _sign(pid, prefetch,
                 _order("MedicationRequest", "rx1", TREATMENTS, "ruxolitinib", "ruxolitinib"),
                 _order("Immunization", "vx1", CVX, "03", "MMR"),
                 _order("ServiceRequest", "px1", TREATMENTS, "plasma_exchange",
                        "plasma exchange"))
    shown = cards(server.post(SIGN, body))
    by_rule = {card["source"]["topic"]["code"]: card for card in shown}
    assert set(by_rule) == {"order_sign.jak_with_zoster", "order_sign.live_vaccine_on_jak",
                            "order_sign.plasma_exchange_reorder"}
    targets = {rule: [a["resourceId"] for s in card["suggestions"] for a in s["actions"]]
               for rule, card in by_rule.items()}
    assert targets == {"order_sign.jak_with_zoster": [["MedicationRequest/rx1"]],
                       # either order may go: the vaccine, or the JAK inhibitor it meets
                       "order_sign.live_vaccine_on_jak": [["MedicationRequest/rx1"],
                                                          ["Immunization/vx1"]],
                       "order_sign.plasma_exchange_reorder": [["ServiceRequest/px1"]]}
    for card in shown:
        assert card["selectionBehavior"] == "at-most-one"
        assert card["indicator"] == "warning"
    # A harmless order: no card.
    quiet = _sign(pid, prefetch, _order("MedicationRequest", "rx2", TREATMENTS,
                                        "methotrexate", "methotrexate"))
    assert cards(server.post(SIGN, quiet)) == []


def test_immunoadsorption_reorder(server: Server) -> None:
    patient = load_patient(EXAMPLE)
    patient = patient.model_copy(update={"treatments": (
        *patient.treatments, Treatment(drug="immunoadsorption", start=next(
            t.start for t in patient.treatments if t.drug == "ruxolitinib")))})
    pid, prefetch = _prefetch(Patient.model_validate(patient.model_dump()))
    shown = cards(server.post(SIGN, _sign(pid, prefetch, _order(
        "ServiceRequest", "ia1", TREATMENTS, "immunoadsorption", "immunoadsorption"))))
    assert [c["source"]["topic"]["code"] for c in shown] == [
        "order_sign.immunoadsorption_reorder"]


def test_a_patient_that_is_not_the_context_patient_is_refused(
        server: Server, example: tuple[str, dict[str, Any]]) -> None:
    _, prefetch = example
    error(server.post(VIEW, _view("someone-else", prefetch)), 400)


def test_the_try_page_shows_the_cards_in_chromium(tmp_path: Path, keys: Keys) -> None:
    """The shipped page, in headless Chromium, calls patient-view with the example Bundle
    (given in the URL fragment) and shows every card."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None, "Debian package chromium is needed for this test"
    dev = start(tmp_path, keys, None, extra=("--dev-no-auth",))
    try:
        bundle = bundle_from_patient(load_patient(EXAMPLE))
        fragment = base64.b64encode(json.dumps(bundle).encode()).decode()
        page = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000",
             "--dump-dom", f"{dev.url('/try')}#bundle={fragment}"],
            capture_output=True, text=True, timeout=180)
        direct = cards(httpx.post(dev.url(VIEW), timeout=30, json=_view(
            *_prefetch(load_patient(EXAMPLE)))))
    finally:
        stop(dev)
    dom = page.stdout
    assert f"{len(direct)} card(s)" in dom, dom[-2000:]
    for card in direct:
        assert html.escape(card["summary"], quote=False) in dom, card["summary"]


class _Fhir(http.server.BaseHTTPRequestHandler):
    """A FHIR server on 127.0.0.1 holding one patient's prefetch; it needs the token."""

    prefetch: ClassVar[dict[str, Any]] = {}
    redirect = False

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer fhir-token":
            self.send_response(401)
            self.end_headers()
            return
        if self.redirect:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/elsewhere")
            self.end_headers()
            return
        path = self.path.split("/fhir/", 1)[1]
        kind = path.split("?")[0].split("/")[0]
        found = next(v for k, v in self.prefetch.items() if KIND_OF_TEMPLATE[k] == kind)
        body = json.dumps(found).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_data_are_fetched_from_the_fhir_server_with_its_token(
        server: Server, example: tuple[str, dict[str, Any]]) -> None:
    pid, prefetch = example
    _Fhir.prefetch = prefetch
    fhir = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fhir)
    thread = threading.Thread(target=fhir.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{fhir.server_address[1]}/fhir"
        auth = {"access_token": "fhir-token", "token_type": "Bearer", "expires_in": 300,
                "scope": "patient/*.read", "subject": "jdm-cds"}
        partial = {"patient": prefetch["patient"]}  # the rest is fetched
        fetched = cards(server.post(VIEW, {**_view(pid, partial), "fhirServer": base,
                                           "fhirAuthorization": auth}))
        direct = cards(server.post(VIEW, _view(pid, prefetch)))
        assert [c["uuid"] for c in fetched] == [c["uuid"] for c in direct]
        error(server.post(VIEW, {**_view(pid, partial), "fhirServer": base,
                                 "fhirAuthorization": {**auth, "access_token": "wrong"}}), 412)
        _Fhir.redirect = True
        message = error(server.post(VIEW, {**_view(pid, partial), "fhirServer": base,
                                           "fhirAuthorization": auth}), 412)
        assert "302" in message
    finally:
        _Fhir.redirect = False
        fhir.shutdown()
    assert pid not in server.log_text()  # no patient data in the INFO log
