"""FHIR resources to the patient model, through the FHIR reader (``jdm_cds.interop.fhir``).

The only module of the service that knows how FHIR codes map onto the patient file.
"""

from __future__ import annotations

import functools

from jdm_cds.interop.fhir import Mapping, patient_from_resources
from jdm_cds.interop.fhir.mapping import default_mapping
from jdm_cds.model.assessment import UnmappedResource
from jdm_cds.model.patient import Patient


@functools.cache
def _mapping() -> Mapping:
    return default_mapping()


def read_mapping() -> None:
    """Read the mapping now (at start-up): the first request would otherwise wait for it (a
    third of a second)."""
    _mapping()


def read_patient(resources: list[dict[str, object]], label: str
                 ) -> tuple[Patient, list[UnmappedResource]]:
    """The patient of ``resources`` and the resources the mapping could not read."""
    result = patient_from_resources(resources, label, _mapping())
    return result.patient, list(result.unmapped)


def drug_of(system: str | None, code: str | None, text: str | None) -> str | None:
    """The drug or procedure a code (or else a name) stands for, by the FHIR mapping."""
    mapping = _mapping()
    target = mapping.by_code(system, code)
    if target is not None and target[0] == "treatment":
        return target[1]
    return mapping.by_text("treatment", text)
