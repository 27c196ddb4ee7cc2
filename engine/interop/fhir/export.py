"""A patient file as FHIR R4: the Bundle that reads back into the same ``Patient``.

``bundle_from_patient`` writes a ``collection`` Bundle: the Patient; one Observation per
measured value of a visit (coded as the mapping's first code for the field, with its UCUM
unit); one Observation per antibody (positive), or the antibody panel (negative) for
``negative``; a MedicationStatement per drug course, a Procedure per plasma exchange or
immunoadsorption course; a Condition per adverse event, dated on its visit. Ids and fullUrls
are derived from the patient id, so the same file always gives the same Bundle.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from jdm_cds.interop.fhir.extensions import patient_extensions
from jdm_cds.interop.fhir.mapping import CodeEntry, Mapping, default_mapping
from jdm_cds.interop.fhir.reader import UCUM
from jdm_cds.model.patient import Patient, Treatment, Visit

PROCEDURES = frozenset({"plasma_exchange", "immunoadsorption"})
_NAMESPACE = uuid.UUID("8d7f3c0e-5b1a-4d3e-9a57-6a0c2f1d9b11")
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _fhir_id(text: str) -> str:
    # FHIR ids are [A-Za-z0-9-.]{1,64}: anything else becomes '-'.
    return re.sub(r"[^A-Za-z0-9.\-]", "-", text)[:64] or "patient"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class _Writer:
    def __init__(self, patient: Patient, mapping: Mapping) -> None:
        self.patient = patient
        self.mapping = mapping
        self.pid = _fhir_id(patient.id)
        self.entries: list[dict[str, Any]] = []
        self.patient_url = self._url("Patient", self.pid)

    def _url(self, kind: str, rid: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.patient.id}/{kind}/{rid}')}"

    def add(self, resource: dict[str, Any]) -> None:
        url = self._url(resource["resourceType"], resource["id"])
        self.entries.append({"fullUrl": url, "resource": resource})

    def coding(self, entry: CodeEntry) -> dict[str, Any]:
        coding = {"system": self.mapping.url(entry.system), "code": entry.code}
        if entry.display:
            coding["display"] = entry.display
        return coding

    def concept(self, section: str, name: str, text: str) -> dict[str, Any]:
        entry = self.mapping.preferred(section, name)
        concept: dict[str, Any] = {"text": text}
        if entry is not None:
            concept["coding"] = [self.coding(entry)]
        else:
            system = "treatments" if section == "treatment" else "adverse-events"
            concept["coding"] = [{"system": self.mapping.url(system), "code": name}]
        return concept

    def subject(self) -> dict[str, str]:
        # Relative (Type/id), as servers and CDS Hooks prefetch send them: the resources
        # then read the same with or without their Bundle's fullUrls.
        return {"reference": f"Patient/{self.pid}"}


def bundle_from_patient(patient: Patient, mapping: Mapping | None = None) -> dict[str, Any]:
    """The patient as a FHIR R4 collection Bundle (a JSON-ready dict)."""
    w = _Writer(patient, mapping or default_mapping())
    resource: dict[str, Any] = {"resourceType": "Patient", "id": w.pid,
                                "identifier": [{"system": "https://jdm-cds.org/fhir/patient-id",
                                                "value": patient.id}]}
    if patient.birth_date is not None:
        resource["birthDate"] = patient.birth_date.isoformat()
    if patient.sex is not None:
        resource["gender"] = patient.sex
    if extensions := patient_extensions(patient):
        resource["extension"] = extensions
    w.add(resource)
    _antibodies(w)
    for n, course in enumerate(patient.treatments, 1):
        _treatment(w, n, course)
    for visit in patient.visits:
        _visit(w, visit)
    return {"resourceType": "Bundle", "id": f"{w.pid}-bundle", "type": "collection",
            "entry": w.entries}


def _result(w: _Writer, positive: bool) -> dict[str, Any]:
    entry = w.mapping.file.results.positive if positive else w.mapping.file.results.negative
    return {"coding": [w.coding(entry.codes[0])], "text": "Positive" if positive else "Negative"}


def _antibodies(w: _Writer) -> None:
    for antibody in w.patient.antibodies:
        entry = w.mapping.preferred("antibody", antibody)
        assert entry is not None, f"the mapping has no code for {antibody}"
        w.add({"resourceType": "Observation", "id": f"{w.pid}-ab-{_fhir_id(antibody)}",
               "status": "final",
               "category": [{"coding": [{"system": _OBSERVATION_CATEGORY,
                                         "code": "laboratory"}]}],
               "code": {"coding": [w.coding(entry)], "text": antibody},
               "subject": w.subject(),
               "effectiveDateTime": w.patient.visits[0].date.isoformat(),
               "valueCodeableConcept": _result(w, antibody != "negative")})


def _treatment(w: _Writer, n: int, course: Treatment) -> None:
    rid = f"{w.pid}-tx-{n}"
    concept = w.concept("treatment", course.drug, course.drug.replace("_", " "))
    if course.drug in PROCEDURES:
        procedure: dict[str, Any] = {"resourceType": "Procedure", "id": rid,
                                     "status": "in-progress" if course.stop is None
                                     else "completed",
                                     "code": concept, "subject": w.subject()}
        period = {"start": course.start.isoformat()}
        if course.stop is not None:
            period["end"] = course.stop.isoformat()
        procedure["performedPeriod"] = period
        w.add(procedure)
        return
    statement: dict[str, Any] = {"resourceType": "MedicationStatement", "id": rid,
                                 "status": "active" if course.stop is None else "completed",
                                 "medicationCodeableConcept": concept, "subject": w.subject()}
    period = {"start": course.start.isoformat()}
    if course.stop is not None:
        period["end"] = course.stop.isoformat()
    statement["effectivePeriod"] = period
    if course.dose_mg_per_day is not None:
        statement["dosage"] = [{
            "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": _number(course.dose_mg_per_day),
                                              "unit": "mg", "system": UCUM, "code": "mg"}}]}]
    w.add(statement)


_DOSE_FIELDS = {"prednisone_mg_per_kg_day": "mg/(kg.d)", "prednisone_mg_per_day": "mg/d"}


def _visit(w: _Writer, visit: Visit) -> None:
    day = visit.date.isoformat()
    for name in Visit.model_fields:
        value = getattr(visit, name)
        if name in ("date", "adverse_events") or value is None:
            continue
        if name in _DOSE_FIELDS:
            field, unit = "prednisone_dose", _DOSE_FIELDS[name]
        else:
            field, declared = name, w.mapping.file.observations[name].unit
            assert isinstance(declared, str), "validated: one unit per field"
            unit = declared
        entry = w.mapping.preferred("observation", field)
        assert entry is not None, f"the mapping has no code for {field}"
        quantity: dict[str, Any] = {"value": _number(value), "system": UCUM, "code": unit}
        if not unit.startswith("{"):
            quantity["unit"] = unit
        w.add({"resourceType": "Observation", "id": f"{w.pid}-{day}-{name.replace('_', '-')}",
               "status": "final", "code": {"coding": [w.coding(entry)]},
               "subject": w.subject(), "effectiveDateTime": day, "valueQuantity": quantity})
    for event in visit.adverse_events:
        w.add({"resourceType": "Condition", "id": f"{w.pid}-{day}-{event.replace('_', '-')}",
               "clinicalStatus": {"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                   "code": "active"}]},
               "category": [{"coding": [{
                   "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                   "code": "problem-list-item"}]}],
               "code": w.concept("adverse_event", event, event.replace("_", " ")),
               "subject": w.subject(), "onsetDateTime": day})
