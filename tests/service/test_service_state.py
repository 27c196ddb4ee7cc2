"""The process state: one evaluator, built at start-up, shared by whatever thread calls."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from jdm_cds.evaluate import Evaluator
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.reading import load_patient
from jdm_cds.service.settings import Settings
from jdm_cds.service.state import State

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "patient-mda5.yaml"


def test_one_evaluator_is_built_at_start_up_and_judges_alike_on_any_thread(
        tmp_path: Path) -> None:
    state = State.build(Settings.model_validate(
        {"database_url": f"sqlite:///{tmp_path / 'service.sqlite3'}"}))
    try:
        assert isinstance(state.evaluator, Evaluator)
        patient, at = load_patient(EXAMPLE), date(2021, 1, 1)
        here = state.evaluate(patient, at)
        there: list[Assessment] = []
        thread = threading.Thread(target=lambda: there.append(state.evaluate(patient, at)))
        thread.start()
        thread.join()
        assert there == [here]
        assert here == Evaluator(state.rulebase, state.guidance).evaluate(patient, at)
    finally:
        state.close()
