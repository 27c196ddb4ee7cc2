"""FHIR files on disk: a Bundle as JSON, detected by its ``resourceType``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jdm_cds.interop.fhir.mapping import Mapping, load_mapping
from jdm_cds.interop.fhir.reader import (
    FhirPatient,
    is_fhir,
    patient_from_bundle,
    patient_from_resources,
)
from jdm_cds.model.reading import PatientFileError, Problem


def fhir_json(path: str | os.PathLike[str]) -> object | None:
    """The parsed JSON of ``path`` when it is a FHIR resource, else None (not FHIR, or not
    readable: the patient-file reader then reports why)."""
    if Path(path).suffix.lower() != ".json":
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if is_fhir(data) else None


def load_fhir_file(path: str | os.PathLike[str], mapping: Mapping | None = None,
                   data: object | None = None) -> FhirPatient:
    """Read one patient's Bundle from a JSON file; every failure is a PatientFileError."""
    name = os.fspath(path)
    if data is None:
        data = fhir_json(name)
        if data is None:
            raise PatientFileError(name, [Problem("-", "not a FHIR JSON resource")])
    return patient_from_bundle(data, name, mapping)  # type: ignore[arg-type]


@cache
def mapping_at(path: str | None) -> Mapping | None:
    """The mapping file at ``path``, read once a process (None: the built-in mapping)."""
    return None if path is None else load_mapping(path)


def read_fhir_item(label: str, path: str | None, resources: Sequence[dict[str, Any]] | None,
                   mapping: str | None) -> FhirPatient | None:
    """One work item of a run (engine/inputs.py): a Bulk export group, or a JSON file that
    holds a FHIR resource; None when the file is not FHIR (a patient file)."""
    if resources is not None:
        return patient_from_resources(resources, label, mapping_at(mapping))
    assert path is not None
    data = fhir_json(path)
    if data is None:
        return None
    return load_fhir_file(path, mapping_at(mapping), data)


def read_fhir_text(label: str, text: str, mapping: str | None) -> FhirPatient | None:
    """A FHIR Bundle given as text (standard input); None when it is not FHIR JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not is_fhir(data):
        return None
    return patient_from_bundle(data, label, mapping_at(mapping))
