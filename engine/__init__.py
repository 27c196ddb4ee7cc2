"""jdm-cds: rule-based clinical decision support for juvenile dermatomyositis.

Python API::

    import engine
    patient = engine.load_patient("patient.yaml")
    assessment = engine.evaluate(patient, at=None)

Plugins mark their hook implementations with ``engine.hookimpl`` (docs/plugins.md).
"""

from __future__ import annotations

import threading
from datetime import date

from engine.assessment import Assessment

# Importing a submodule sets it as an attribute of this package: engine.evaluate (the module)
# is loaded here, before the function below takes the name for good.
from engine.evaluate import Evaluator
from engine.hookspecs import hookimpl
from engine.patient import Patient, PatientFileError, load_patient

__all__ = [
    "Assessment", "Evaluator", "Patient", "PatientFileError", "evaluate", "hookimpl",
    "load_patient",
]


_per_thread = threading.local()


def evaluate(patient: Patient, at: date | None = None) -> Assessment:
    """Judge ``patient`` on the last visit on or before ``at`` (default: the last visit)."""
    from engine.setup import default_evaluator

    evaluator: Evaluator | None = getattr(_per_thread, "evaluator", None)
    if evaluator is None:
        # A Runtime serves only the thread that built it: each thread gets its own, over
        # the one compiled rule base.
        shared = default_evaluator()
        evaluator = _per_thread.evaluator = Evaluator(shared.rulebase, shared.guidance)
    return evaluator.evaluate(patient, at)
