"""The project's own Patient extensions: what FHIR has no element for and the study records.

The disease course (new onset or refractory), the indications for the JAK inhibitor, and the
findings of investigations (a repeat muscle biopsy, ...) are facts about the patient, not
measurements at a visit: they travel as extensions of the Patient resource, under
``https://jdm-cds.org/fhir/StructureDefinition/``, with the patient file's own codes.
"""

from __future__ import annotations

from typing import Any

from jdm_cds.model.patient import Patient

BASE = "https://jdm-cds.org/fhir/StructureDefinition/"
DISEASE_COURSE = BASE + "disease-course"  # valueCode: new_onset | refractory
INDICATION = BASE + "indication"  # valueCode, one extension an indication
FINDING = BASE + "finding"  # extensions date (valueDate), kind (valueCode), result (valueString)


def patient_extensions(patient: Patient) -> list[dict[str, Any]]:
    """The extensions that carry the patient's disease course, indications and findings."""
    extensions: list[dict[str, Any]] = []
    if patient.disease_course is not None:
        extensions.append({"url": DISEASE_COURSE, "valueCode": patient.disease_course})
    extensions += [{"url": INDICATION, "valueCode": name} for name in patient.indications]
    extensions += [{"url": FINDING, "extension": [
        {"url": "date", "valueDate": finding.date.isoformat()},
        {"url": "kind", "valueCode": finding.kind},
        {"url": "result", "valueString": finding.result}]} for finding in patient.findings]
    return extensions


def read_extensions(resource: dict[str, Any]) -> dict[str, Any]:
    """The patient-file fields the Patient resource's extensions give (validated later, with
    the rest of the patient)."""
    fields: dict[str, Any] = {}
    extensions = resource.get("extension")
    if not isinstance(extensions, list):
        return fields
    for extension in extensions:
        if not isinstance(extension, dict):
            continue
        url = extension.get("url")
        if url == DISEASE_COURSE:
            fields["disease_course"] = extension.get("valueCode")
        elif url == INDICATION:
            fields.setdefault("indications", []).append(extension.get("valueCode"))
        elif url == FINDING:
            parts = {part.get("url"): part for part in extension.get("extension", [])
                     if isinstance(part, dict)}
            fields.setdefault("findings", []).append({
                "date": parts.get("date", {}).get("valueDate"),
                "kind": parts.get("kind", {}).get("valueCode"),
                "result": parts.get("result", {}).get("valueString")})
    return fields
