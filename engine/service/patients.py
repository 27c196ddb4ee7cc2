"""FHIR resources to the patient model, through the FHIR reader (``jdm_cds.interop.fhir``).

The only module of the service that knows how FHIR maps onto the patient file.
"""

from __future__ import annotations

import importlib
from typing import Any

from jdm_cds.model.patient import Patient
from jdm_cds.model.vocabulary import DRUGS

TREATMENTS_SYSTEM = "https://jdm-cds.org/fhir/CodeSystem/treatments"


class ReaderMissing(Exception):
    """The FHIR reader is not installed in this build."""


def _reader() -> Any:
    try:
        return importlib.import_module("jdm_cds.interop.fhir.reader")
    except ImportError as error:
        raise ReaderMissing("the FHIR reader (jdm_cds.interop.fhir) is not available") from error


def read_patient(resources: list[dict[str, Any]], label: str) -> tuple[Patient, list[str]]:
    """The patient of ``resources`` and a description of each resource left unmapped."""
    result = _reader().patient_from_resources(resources, label)
    return result.patient, [str(item) for item in result.unmapped]


def drug_of(system: str | None, code: str | None, text: str | None) -> str | None:
    """The drug or procedure a code (or, without one, a name) stands for."""
    if system == TREATMENTS_SYSTEM and code in DRUGS:
        return code
    return None
