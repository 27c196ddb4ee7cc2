"""jdm-cds: rule-based clinical decision support for juvenile dermatomyositis.

Python API::

    import engine
    patient = engine.load_patient("patient.yaml")
    assessment = engine.evaluate(patient, at=None)
"""

from __future__ import annotations

from datetime import date

from engine.assessment import Assessment
from engine.patient import Patient, PatientFileError, load_patient

__all__ = ["Assessment", "Patient", "PatientFileError", "evaluate", "load_patient"]


def evaluate(patient: Patient, at: date | None = None) -> Assessment:
    """Judge ``patient`` on the last visit on or before ``at`` (default: the last visit)."""
    from engine.setup import default_evaluator

    return default_evaluator().evaluate(patient, at)
