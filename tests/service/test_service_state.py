"""The process state: one evaluator, used on the thread of the process's event loop."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from jdm_cds.model.reading import load_patient
from jdm_cds.service.settings import Settings
from jdm_cds.service.state import State

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "patient-mda5.yaml"


def test_the_evaluator_serves_only_the_thread_that_made_it(tmp_path: Path) -> None:
    state = State.build(Settings.model_validate(
        {"database_url": f"sqlite:///{tmp_path / 'service.sqlite3'}"}))
    try:
        patient = load_patient(EXAMPLE)
        first = state.evaluate(patient, date(2021, 1, 1))
        assert state.evaluate(patient, date(2021, 1, 1)) == first
        failed: list[BaseException] = []

        def elsewhere() -> None:
            try:
                state.evaluate(patient, date(2021, 1, 1))
            except RuntimeError as error:
                failed.append(error)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert len(failed) == 1 and "event loop" in str(failed[0])
    finally:
        state.close()

