"""jdm-cds: rule-based clinical decision support for juvenile dermatomyositis.

Python API::

    import jdm_cds
    patient = jdm_cds.load_patient("patient.yaml")
    assessment = jdm_cds.evaluate(patient, at=None)

Plugins mark their hook implementations with ``jdm_cds.hookimpl`` (docs/plugins.md).
"""

from __future__ import annotations

import gc
from datetime import date

# Importing the package builds tens of thousands of objects that live as long as the process
# (pydantic's validators and models, the rule types) and next to no garbage: the cyclic
# collector, run every few hundred allocations, would walk them again and again (about a
# tenth of the start-up of a command). It is paused while they are built, and what they are
# is then frozen (gc.freeze: kept out of every later collection, as the service does after
# its start-up); re-enabled without it, the next collection would walk them all at once.
_collecting = gc.isenabled()
gc.disable()
try:
    # Importing a submodule sets it as an attribute of this package: jdm_cds.evaluate (the
    # module) is loaded here, before the function below takes the name for good.
    from jdm_cds.evaluate import Evaluator
    from jdm_cds.model.assessment import Assessment
    from jdm_cds.model.patient import Patient
    from jdm_cds.model.reading import PatientFileError, load_patient
    from jdm_cds.plugins.hookspecs import hookimpl
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

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
