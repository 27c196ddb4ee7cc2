"""Writes the 'real data shapes' fixtures of tests/data/fhir from the example patient.

Run from the repository root: .venv/bin/python tests/data/fhir/make_real_shapes.py
The fixtures are committed; tests/test_fhir.py reads them (and checks they are current).
They reshape the exported example the way EHRs send data: a searchset Bundle as a FHIR server
returns it (absolute fullUrls, entry.search, relative references, an OperationOutcome), a
product-level medication code in a contained Medication, CK in ukat/L, weight in [lb_av],
ignored kinds (Encounter, DocumentReference), and a Bulk Data export folder (NDJSON, two
patients, Observations split over two files, a shared Medication).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from jdm_cds.interop.fhir.export import bundle_from_patient
from jdm_cds.model.reading import load_patient

HERE = Path(__file__).parent
ROOT = HERE.parent.parent.parent
BASE = "https://fhir.example-hospital.org/r4"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _server_shape(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The example's resources as a server stores them: Type/id references, extras."""
    resources = [copy.deepcopy(e["resource"]) for e in bundle["entry"]]
    pid = resources[0]["id"]
    for resource in resources[1:]:
        for key in ("subject", "patient"):
            if key in resource:
                resource[key] = {"reference": f"Patient/{pid}"}
        if resource["resourceType"] == "Observation" and resource["id"].endswith("ck-u-l"):
            # CK in ukat/L, as European labs send it: 1 ukat/L = 60 U/L.
            value = resource["valueQuantity"]["value"]
            resource["valueQuantity"] = {"value": value / 60, "unit": "µkat/L",
                                         "system": "http://unitsofmeasure.org",
                                         "code": "ukat/L"}
        if resource["resourceType"] == "Observation" and resource["id"].endswith("weight-kg"):
            value = resource["valueQuantity"]["value"]
            resource["valueQuantity"] = {"value": value / 0.45359237, "unit": "lb",
                                         "system": "http://unitsofmeasure.org",
                                         "code": "[lb_av]"}
        if (resource["resourceType"] == "MedicationStatement"
                and resource["medicationCodeableConcept"]["text"] == "prednisone"):
            # A product-level code (a strength and a form) in a contained Medication.
            del resource["medicationCodeableConcept"]
            resource["contained"] = [{"resourceType": "Medication", "id": "med",
                                      "code": {"coding": [{"system": RXNORM, "code": "312617",
                                                           "display": "predniSONE 5 MG Oral "
                                                           "Tablet"}]}}]
            resource["medicationReference"] = {"reference": "#med"}
    resources.append({"resourceType": "Encounter", "id": f"enc-{pid}", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                "code": "AMB"},
                      "subject": {"reference": f"Patient/{pid}"}})
    resources.append({"resourceType": "DocumentReference", "id": f"doc-{pid}", "status": "current",
                      "subject": {"reference": f"Patient/{pid}"},
                      "content": [{"attachment": {"contentType": "text/plain",
                                                  "title": "clinic letter"}}]})
    resources.append({"resourceType": "Observation", "id": f"bp-{pid}", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6",
                                           "display": "Systolic blood pressure"}]},
                      "subject": {"reference": f"Patient/{pid}"},
                      "effectiveDateTime": "2020-07-20",
                      "valueQuantity": {"value": 104, "unit": "mm[Hg]",
                                        "system": "http://unitsofmeasure.org",
                                        "code": "mm[Hg]"}})
    return resources


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                "search": {"mode": "match" if r["resourceType"] != "Patient" else "include"}}
               for r in resources]
    entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational",
         "diagnostics": "search results truncated to 100"}]}, "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "id": "search-1", "type": "searchset",
            "total": len(resources),
            "link": [{"relation": "self", "url": f"{BASE}/Patient?_id=EX-MDA5&_revinclude=*"}],
            "entry": entries}


def bulk(patients: list[list[dict[str, Any]]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.ndjson"):
        old.unlink()
    files: dict[str, list[str]] = {}
    shared = {"resourceType": "Medication", "id": "rux-5",
              "code": {"coding": [{"system": RXNORM, "code": "1193326",
                                   "display": "ruxolitinib"}]}}
    for resources in patients:
        for n, resource in enumerate(resources):
            kind = resource["resourceType"]
            if kind == "MedicationStatement" and resource.get(
                    "medicationCodeableConcept", {}).get("text") == "ruxolitinib":
                resource = copy.deepcopy(resource)
                del resource["medicationCodeableConcept"]
                resource["medicationReference"] = {"reference": "Medication/rux-5"}
            # Observations over two files, as exports split large kinds.
            name = f"{kind}.{n % 2 + 1}" if kind == "Observation" else kind
            files.setdefault(name, []).append(json.dumps(resource, ensure_ascii=False))
    files["Medication"] = [json.dumps(shared)]
    for name, lines in files.items():
        # Interleave patients, as an export does not group them.
        (folder / f"{name}.ndjson").write_text("\n".join(sorted(lines)) + "\n", "utf-8")


def main(out: Path = HERE) -> None:
    example = bundle_from_patient(load_patient(ROOT / "examples" / "patient-mda5.yaml"))
    resources = _server_shape(example)
    (out / "searchset-mda5.json").write_text(
        json.dumps(searchset(resources), indent=2, ensure_ascii=False) + "\n", "utf-8")
    second = [e["resource"] for e in bundle_from_patient(
        load_patient(ROOT / "features" / "study_cases" / "P01.yaml"))["entry"]]
    second = _server_shape({"entry": [{"resource": r} for r in second]})
    bulk([resources, second], out / "bulk-export")


if __name__ == "__main__":
    main()
