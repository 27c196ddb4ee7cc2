"""jdm-cds: rule-based clinical decision support for juvenile dermatomyositis.

Python API::

    import jdm_cds
    patient = jdm_cds.load_patient("patient.yaml")
    assessment = jdm_cds.evaluate(patient, at=None)

Plugins mark their hook implementations with ``jdm_cds.hookimpl`` (docs/plugins.md).
"""

from __future__ import annotations

import threading
from datetime import date

# Importing a submodule sets it as an attribute of this package: jdm_cds.evaluate (the module)
# is loaded here, before the function below takes the name for good.
from jdm_cds.evaluate import Evaluator
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import PatientFileError, load_patient
from jdm_cds.plugins.hookspecs import hookimpl

__all__ = [
    "Assessment", "Evaluator", "Patient", "PatientFileError", "evaluate", "hookimpl",
    "load_patient",
]


_per_thread = threading.local()


def evaluate(patient: Patient, at: date | None = None) -> Assessment:
    """Judge ``patient`` on the last visit on or before ``at`` (default: the last visit)."""
    from jdm_cds.defaults import default_evaluator

    evaluator: Evaluator | None = getattr(_per_thread, "evaluator", None)
    if evaluator is None:
        # A Runtime serves only the thread that built it: each thread gets its own, over
        # the one compiled rule base.
        shared = default_evaluator()
        evaluator = _per_thread.evaluator = Evaluator(shared.rulebase, shared.guidance)
    return evaluator.evaluate(patient, at)
