"""Steps for FHIR input: a patient's record as an EHR sends it, read by jdm-cds.

A scenario gives the record as a Bundle file or as a table of resources (one row a resource:
its kind, its code, its date, its value). ``When the FHIR record is evaluated`` reads it as
``jdm-cds evaluate`` would and judges the patient; the Then steps check what was read, what
was set aside, and every judgement step of the library works on the result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from features.steps.library import ROOT, Case, _evaluate, _same, expect, step
from features.steps.tables import rows, split_list, visit_field
from jdm_cds.interop.fhir import FhirPatient, patient_from_bundle, patient_from_resources
from jdm_cds.interop.fhir.mapping import default_mapping
from jdm_cds.model.reading import PatientFileError

UCUM = "http://unitsofmeasure.org"
# Code systems by the names a clinician reads on a lab report.
SYSTEMS = {"loinc": "loinc", "rxnorm": "rxnorm", "snomed": "snomed", "snomed ct": "snomed",
           "cpt": "cpt", "icd-10": "icd10", "icd-10-cm": "icd10cm", "jdm-cds": "measures",
           "local": "https://hospital.example/codes"}
RESULTS = {"positive": ("10828004", "Positive"), "negative": ("260385009", "Negative")}


@dataclass
class FhirRecord:
    """The FHIR record a scenario describes, and what reading it gave."""

    patient_id: str = "fhir-patient"
    resources: list[dict[str, Any]] = field(default_factory=list)
    bundle: dict[str, Any] | None = None
    read: FhirPatient | None = None
    error: PatientFileError | None = None


@pytest.fixture
def fhir() -> FhirRecord:
    return FhirRecord()


def _concept(code: str, display: str) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code.strip():
        system, _, value = code.strip().rpartition(" ")
        alias = SYSTEMS.get(system.casefold(), system)
        concept["coding"] = [{"system": default_mapping().url(alias), "code": value}]
        if display.strip():
            concept["coding"][0]["display"] = display.strip()
    if display.strip():
        concept["text"] = display.strip()
    return concept


def _resource(record: FhirRecord, n: int, row: dict[str, str]) -> dict[str, Any]:
    kind = row["resource"].strip()
    cell = {k.strip().casefold(): v.strip() for k, v in row.items()}
    code, display = cell.get("code", ""), cell.get("display", "")
    when, until, value, unit = (cell.get(k, "") for k in ("date", "until", "value", "unit"))
    resource: dict[str, Any] = {"resourceType": kind, "id": cell.get("id") or f"r{n}"}
    subject = {"reference": f"Patient/{cell.get('patient') or record.patient_id}"}
    if kind == "Observation":
        resource |= {"status": cell.get("status") or "final", "code": _concept(code, display),
                     "subject": subject, "effectiveDateTime": when}
        if value.casefold() in RESULTS:
            snomed, text = RESULTS[value.casefold()]
            resource["valueCodeableConcept"] = {"coding": [{
                "system": "http://snomed.info/sct", "code": snomed}], "text": text}
        elif value:
            resource["valueQuantity"] = {"value": json.loads(value), "system": UCUM,
                                         "code": unit or "{score}"}
        if cell.get("status") == "-":
            del resource["status"]
    elif kind in ("MedicationStatement", "MedicationAdministration"):
        period = {"start": when} | ({"end": until} if until else {})
        resource |= {"status": cell.get("status") or ("completed" if until else "active")
                     if kind == "MedicationStatement" else "completed",
                     "medicationCodeableConcept": _concept(code, display), "subject": subject,
                     "effectivePeriod": period}
    elif kind == "MedicationRequest":
        period = {"start": when} | ({"end": until} if until else {})
        resource |= {"status": "active", "intent": "order",
                     "medicationCodeableConcept": _concept(code, display), "subject": subject,
                     "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": period}}}]}
    elif kind == "Procedure":
        period = {"start": when} | ({"end": until} if until else {})
        resource |= {"status": "completed" if until else "in-progress",
                     "code": _concept(code, display), "subject": subject,
                     "performedPeriod": period}
    elif kind == "Condition":
        resource |= {"code": _concept(code, display), "subject": subject, "onsetDateTime": when}
    elif kind == "AdverseEvent":
        resource |= {"actuality": "actual", "event": _concept(code, display),
                     "subject": subject, "date": when}
    elif kind == "Encounter":
        resource |= {"status": "finished", "subject": subject, "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
    elif kind == "DocumentReference":
        resource |= {"status": "current", "subject": subject,
                     "content": [{"attachment": {"title": display or "document"}}]}
    else:
        pytest.fail(f"resource kind '{kind}' is not one the steps can write: Observation, "
                    "MedicationStatement, MedicationRequest, MedicationAdministration, "
                    "Procedure, Condition, AdverseEvent, Encounter, DocumentReference",
                    pytrace=False)
    return resource


# --- Given ------------------------------------------------------------------------------


@step("Given", r'the FHIR bundle "(?P<path>[^"]+)"',
      'the FHIR bundle "features/fhir_study_cases/P01.json"',
      "A FHIR Bundle (JSON) as an EHR or `jdm-cds fhir export` writes it, by its path from "
      "the project folder.")
def _bundle(fhir: FhirRecord, path: str) -> None:
    fhir.bundle = json.loads((ROOT / path).read_text(encoding="utf-8"))


@step("Given", r'a FHIR record of patient "(?P<name>[^"]+)"(?: born (?P<born>\S+))?',
      'a FHIR record of patient "F-1" born 2010-05-14',
      "Starts a FHIR record: a Patient resource (birth date optional).")
def _record(fhir: FhirRecord, name: str, born: str | None) -> None:
    fhir.patient_id = name
    patient: dict[str, Any] = {"resourceType": "Patient", "id": name}
    if born:
        patient["birthDate"] = born
    fhir.resources = [patient]


@step("Given", r"the FHIR resources:",
      "the FHIR resources:\n"
      "  | resource            | code           | display     | date       | value | unit   |\n"
      "  | MedicationStatement | RxNorm 1193326 | ruxolitinib | 2020-02-01 |       |        |\n"
      "  | Observation         | LOINC 2157-6   | CK          | 2020-07-20 | 1.5   | ukat/L |",
      "Resources of the record, one row each: resource (kind), code ('LOINC 2157-6', "
      "'RxNorm 8640', 'SNOMED 4740000', 'CPT 36514', 'jdm-cds cmas'), display, date, and "
      "as needed until, value (a number, or positive / negative), unit (UCUM), status, id, "
      "patient.")
def _resources(fhir: FhirRecord, datatable: Sequence[Sequence[str]]) -> None:
    start = len(fhir.resources)
    fhir.resources += [_resource(fhir, start + n, row) for n, row in enumerate(rows(datatable))]


# --- When -------------------------------------------------------------------------------


@step("When", r"the FHIR record is evaluated", "the FHIR record is evaluated",
      "Reads the record as `jdm-cds evaluate` does and judges the patient at the last visit "
      "(a record that cannot be read is rejected, naming the resource).")
def _evaluated(case: Case, fhir: FhirRecord) -> None:
    try:
        if fhir.bundle is not None:
            fhir.read = patient_from_bundle(fhir.bundle, "the FHIR bundle")
        else:
            fhir.read = patient_from_resources(fhir.resources, "the FHIR record")
    except PatientFileError as error:
        fhir.error = error
        return
    case.file = case.tmp_path / "from-fhir.yaml"
    data = fhir.read.patient.model_dump(mode="json", exclude_defaults=True)
    case.file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    _evaluate(case, None)


# --- Then -------------------------------------------------------------------------------


def _read(fhir: FhirRecord) -> FhirPatient:
    if fhir.error is not None:
        pytest.fail("the FHIR record was rejected:\n" + "\n".join(fhir.error.lines()),
                    pytrace=False)
    if fhir.read is None:
        pytest.fail('add "When the FHIR record is evaluated" before this step', pytrace=False)
    return fhir.read


@step("Then", r'the FHIR record is rejected naming "(?P<resource>[^"]+)"'
      r'(?: because "(?P<text>[^"]+)")?',
      'the FHIR record is rejected naming "Observation/r2" because "unknown unit"',
      "The record could not be read: the error names that resource (and says that text).")
def _rejected(fhir: FhirRecord, resource: str, text: str | None) -> None:
    expect(fhir.error is not None, "the FHIR record was read without an error")
    assert fhir.error is not None
    lines = fhir.error.lines()
    expect(any(resource in line and (text is None or text in line) for line in lines),
           f'no error names "{resource}"' + (f' with "{text}"' if text else "")
           + ":\n" + "\n".join(lines))


@step("Then", r'the FHIR resource "(?P<resource>[^"]+)" is listed as not read'
      r'(?: because "(?P<text>[^"]+)")?',
      'the FHIR resource "Observation/r3" is listed as not read because "code not in the '
      'mapping"',
      "A resource the mapping does not know is reported in the output (`unmapped`), not dropped.")
def _not_read(fhir: FhirRecord, resource: str, text: str | None) -> None:
    listed = {f"{u.resource_type}/{u.id}": u.reason for u in _read(fhir).unmapped}
    expect(resource in listed and (text is None or text in listed[resource]),
           f'"{resource}" is not listed as not read' + (f' because "{text}"' if text else "")
           + f"; the list is: {listed or 'empty'}")


@step("Then", r"no FHIR resource is listed as not read", "no FHIR resource is listed as not read",
      "Every resource of the record was read or knowingly set aside.")
def _all_read(fhir: FhirRecord) -> None:
    unmapped = _read(fhir).unmapped
    expect(not unmapped, f"listed as not read: {[(u.resource_type, u.id) for u in unmapped]}")


@step("Then", r"the FHIR record set aside (?P<counts>.+)",
      "the FHIR record set aside 1 Encounter and 1 DocumentReference",
      "Resources of kinds no rule needs are counted and set aside, not reported as unmapped.")
def _set_aside(fhir: FhirRecord, counts: str) -> None:
    wanted = {kind: int(n) for n, kind in (part.split() for part in split_list(counts))}
    expect(_read(fhir).ignored == wanted, f"set aside: {_read(fhir).ignored}")


@step("Then", r"the FHIR record gives the visits:",
      "the FHIR record gives the visits:\n  | date       | CK (U/L) | CMAS |\n"
      "  | 2020-07-20 | 90       | 50   |",
      "The visits read from the record: one row a visit date, the columns to check "
      "(names or aliases as in 'Given the visits:').")
def _visits(fhir: FhirRecord, datatable: Sequence[Sequence[str]]) -> None:
    visits = {v.date.isoformat(): v for v in _read(fhir).patient.visits}
    for row in rows(datatable):
        cells = {visit_field(k): v.strip() for k, v in row.items()}
        day = cells.pop("date")
        expect(day in visits, f"no visit on {day}; the visits are on {', '.join(visits)}")
        for name, expected in cells.items():
            value = getattr(visits[day], name, None)
            if name == "adverse_events":
                value = ", ".join(e.replace("_", " ") for e in value)
            expect(_same(value if value is not None else None, expected or "unknown"),
                   f"{name} on {day}: {value}, expected {expected}")


@step("Then", r"the FHIR record gives the treatment (?P<drug>[\w ]+?) from (?P<start>\S+)"
      r"(?: until (?P<stop>\S+))?",
      "the FHIR record gives the treatment ruxolitinib from 2020-02-01",
      "A treatment course read from the record (MedicationStatement, MedicationRequest, "
      "MedicationAdministration or Procedure).")
def _treatment(fhir: FhirRecord, drug: str, start: str, stop: str | None) -> None:
    courses = [(t.drug, t.start.isoformat(), t.stop.isoformat() if t.stop else None)
               for t in _read(fhir).patient.treatments]
    wanted = (drug.strip().replace(" ", "_"), start, stop)
    expect(wanted in courses, f"no course {wanted}; the courses are {courses}")


@step("Then", r"the FHIR record gives antibod(?:y|ies) (?P<names>.+)",
      "the FHIR record gives antibody anti-MDA5",
      "The antibodies read from the record (positive results only).")
def _antibodies(fhir: FhirRecord, names: str) -> None:
    expect(list(_read(fhir).patient.antibodies) == split_list(names),
           f"the antibodies read are {list(_read(fhir).patient.antibodies)}")


@step("Then", r'the FHIR record warns "(?P<text>[^"]+)"',
      'the FHIR record warns "the last (Observation/r3) is used"',
      "A warning given while reading (e.g. two values of one measure on one day).")
def _warns(fhir: FhirRecord, text: str) -> None:
    warnings = _read(fhir).warnings
    expect(any(text in w for w in warnings), f"the warnings are: {warnings or 'none'}")


