"""FHIR R4 in and out (through ``fhir.resources``' R4B models). Only this package knows FHIR.

- ``patient_from_resources(resources, label, mapping=None)``: one patient's resources (dicts)
  -> ``FhirPatient`` (the validated ``Patient``, ``unmapped``, counts, warnings);
- ``patient_from_bundle(bundle, label, mapping=None)``: the same from a Bundle dict;
- ``load_fhir_file(path)``, ``fhir_json(path)``: a Bundle JSON file;
- ``is_bulk_export(folder)``, ``iter_bulk_patients(folder)``: Bulk Data NDJSON exports,
  streamed one patient at a time as (label, resources), which pickle;
- ``bundle_from_patient(patient)``: a patient as a collection Bundle;
- ``load_mapping(path=None)``: the code mapping (default: package data ``mapping.yaml``).

Each name is imported from its module when first used: importing this package (as
``jdm_cds.interop.fhir.bulk`` does, to see whether a folder is a Bulk export) loads
neither ``fhir.resources`` nor the mapping, which a run on patient files never needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdm_cds.interop.fhir.bulk import is_bulk_export, iter_bulk_patients
    from jdm_cds.interop.fhir.export import bundle_from_patient
    from jdm_cds.interop.fhir.files import (
        fhir_json,
        load_fhir_file,
        read_fhir_item,
        read_fhir_text,
    )
    from jdm_cds.interop.fhir.mapping import Mapping, MappingError, load_mapping
    from jdm_cds.interop.fhir.reader import (
        FhirPatient,
        is_bundle,
        patient_from_bundle,
        patient_from_resources,
    )

_MODULES = {
    "is_bulk_export": "bulk", "iter_bulk_patients": "bulk", "bundle_from_patient": "export",
    "fhir_json": "files", "load_fhir_file": "files", "read_fhir_item": "files",
    "read_fhir_text": "files", "Mapping": "mapping", "MappingError": "mapping",
    "load_mapping": "mapping", "FhirPatient": "reader", "is_bundle": "reader",
    "patient_from_bundle": "reader", "patient_from_resources": "reader",
}

__all__ = [
    "FhirPatient", "Mapping", "MappingError", "bundle_from_patient", "fhir_json", "is_bulk_export",
    "is_bundle", "iter_bulk_patients", "load_fhir_file", "load_mapping", "patient_from_bundle",
    "patient_from_resources", "read_fhir_item", "read_fhir_text",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
