"""jdm-cds: rule-based clinical decision support for juvenile dermatomyositis.

Python API::

    import jdm_cds
    patient = jdm_cds.load_patient("patient.yaml")
    assessment = jdm_cds.evaluate(patient, at=None)

Plugins mark their hook implementations with ``jdm_cds.hookimpl`` (docs/plugins.md).
"""

from __future__ import annotations

from datetime import date

from jdm_cds.collector import lasting

with lasting():
    # Importing a submodule sets it as an attribute of this package: jdm_cds.evaluate (the
    # module) is loaded here, before the function below takes the name for good.
    from jdm_cds.evaluate import Evaluator
    from jdm_cds.model.assessment import Assessment
    from jdm_cds.model.patient import Patient
    from jdm_cds.model.reading import PatientFileError, load_patient
    from jdm_cds.plugins.hookspecs import hookimpl

__all__ = [
    "Assessment", "Evaluator", "Patient", "PatientFileError", "evaluate", "hookimpl",
    "load_patient",
]


def evaluate(patient: Patient, at: date | None = None) -> Assessment:
    """Judge ``patient`` on the last visit on or before ``at`` (default: the last visit).

    Safe from any thread: every thread shares the process's one evaluator (one engine,
    whose sessions run one at a time), so memory does not grow with the number of threads.
    """
    from jdm_cds.defaults import default_evaluator

    return default_evaluator().evaluate(patient, at)
