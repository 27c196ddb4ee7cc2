"""The FHIR data of a hook call: from ``prefetch``, else from ``fhirServer``, else 412.

Each prefetch template the service declares is looked for in the request's ``prefetch``;
one that is absent (or ``null``: the client could not fetch it) is fetched from the
request's ``fhirServer`` with its ``fhirAuthorization`` bearer token, with a timeout and
without following a redirect to another host. When neither gives it, the service cannot
judge the patient honestly and answers ``412 Precondition Failed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from jdm_cds.service.models import CDSRequest

# The data the rules read, as CDS Hooks prefetch templates (FHIR R4 search syntax).
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "adverseEvents": "AdverseEvent?subject={{context.patientId}}",
}
_MAX_PAGES = 20  # a search with more pages than this is refused rather than read in part


class DataUnavailable(Exception):
    """The data cannot be had (412 Precondition Failed); the message says which."""


class BadData(Exception):
    """The data given are not what the service asked for (400)."""


def patient_id(request: CDSRequest) -> str:
    value = request.context.get("patientId")
    if not isinstance(value, str) or not value:
        raise BadData("context.patientId is required (a FHIR Patient id)")
    return value


def to_fetch(request: CDSRequest) -> list[str]:
    """The prefetch keys the request lacks (to be fetched from its ``fhirServer``)."""
    prefetch = request.prefetch or {}
    return [key for key in PREFETCH if prefetch.get(key) is None]


def gather(request: CDSRequest, timeout: float) -> list[dict[str, Any]]:
    """Every resource of the patient the templates ask for."""
    pid = patient_id(request)
    prefetch = request.prefetch or {}
    resources: list[dict[str, Any]] = []
    missing = to_fetch(request)
    for key in PREFETCH:
        if prefetch.get(key) is not None:
            resources += list(_resources(prefetch[key], key))
    if missing:
        if request.fhirServer is None:
            raise DataUnavailable(
                f"prefetch lacks {', '.join(missing)} and no fhirServer was given to fetch "
                "them from")
        resources += _fetch(request, [PREFETCH[key] for key in missing], pid, timeout)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        raise DataUnavailable("no Patient resource was given or found")
    if any(p.get("id") != pid for p in patients):
        raise BadData("the Patient resource given is not context.patientId")
    return resources


def _resources(data: Any, key: str) -> Iterator[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise BadData(f"prefetch.{key} is not a FHIR resource")
    if data["resourceType"] != "Bundle":
        yield data
        return
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise BadData(f"prefetch.{key}.entry[{index}] has no resource")
        # A searchset may carry an OperationOutcome about the search: not patient data.
        if resource.get("resourceType") != "OperationOutcome":
            yield resource


def _fetch(request: CDSRequest, templates: list[str], pid: str,
           timeout: float) -> list[dict[str, Any]]:
    assert request.fhirServer is not None
    base = request.fhirServer.rstrip("/") + "/"
    host = urlsplit(base).netloc
    headers = {"Accept": "application/fhir+json"}
    if request.fhirAuthorization is not None:
        headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
    found: list[dict[str, Any]] = []
    # Redirects are not followed: a redirect could carry the bearer token to another host.
    with httpx.Client(timeout=timeout, follow_redirects=False, headers=headers) as client:
        for template in templates:
            url: str | None = urljoin(base, template.replace("{{context.patientId}}", pid))
            pages = 0
            while url is not None:
                if urlsplit(url).netloc != host:
                    raise DataUnavailable("the FHIR server pointed to another host; not followed")
                pages += 1
                if pages > _MAX_PAGES:
                    raise DataUnavailable(f"more than {_MAX_PAGES} pages for {template}")
                try:
                    response = client.get(url)
                except httpx.HTTPError as error:
                    raise DataUnavailable(f"the FHIR server could not be read "
                                          f"({type(error).__name__})") from None
                if response.status_code == 404 and template.startswith("Patient/"):
                    raise DataUnavailable("the FHIR server has no such Patient")
                if response.status_code != 200:
                    raise DataUnavailable(f"the FHIR server answered {response.status_code} "
                                          f"for {template.split('?')[0]}")
                try:
                    data = response.json()
                except ValueError:
                    raise DataUnavailable("the FHIR server's answer is not JSON") from None
                found += list(_resources(data, template.split("?")[0]))
                url = _next_page(data)
    return found


def _next_page(bundle: Any) -> str | None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


# The resource kind each prefetch template reads.
KIND_OF_TEMPLATE = {key: template.split("?")[0].split("/")[0]
                    for key, template in PREFETCH.items()}


def prefetch_from_bundle(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A patient's Bundle (e.g. from ``jdm-cds fhir export``) as the prefetch an EHR would
    send: the Patient, and a searchset Bundle for each other template. A resource of a kind
    no template reads is left out, as the EHR would leave it out."""
    resources = list(_resources(bundle, "bundle"))
    prefetch: dict[str, dict[str, Any]] = {}
    for key, kind in KIND_OF_TEMPLATE.items():
        found = [r for r in resources if r.get("resourceType") == kind]
        if kind == "Patient":
            if found:
                prefetch[key] = found[0]
            continue
        search: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                                  "total": len(found)}
        if found:
            search["entry"] = [{"resource": r, "search": {"mode": "match"}} for r in found]
        prefetch[key] = search
    return prefetch
