"""Every failure is per patient: an exception at any stage of one patient's path (reading,
facts, engine, explanation, plugins, rendering) costs that patient only; the others are
evaluated and printed, in text, JSON and JSON Lines, and the run exits 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import jdm_cds.cohort.work
import jdm_cds.report.text
from jdm_cds.cli import app
from jdm_cds.evaluate import Evaluator, _Builder
from jdm_cds.facts.builder import FactBuilder
from jdm_cds.runtime import Session

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
VICTIM = "VICTIM-1"


class Injected(Exception):
    pass


def _raise_for_victim(original: Callable[..., Any], is_victim: Callable[..., bool]
                      ) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if is_victim(*args, **kwargs):
            raise Injected("injected failure")
        return original(*args, **kwargs)
    return wrapper


def _victim_tl(_self: Any, tl: Any, *rest: Any) -> bool:
    return bool(tl.patient.id == VICTIM)


def _victim_session(_self: Any, facts: list[dict[str, Any]], *_: Any) -> bool:
    # The victim's visits are the only ones with a CK of 151 U/L.
    return any(fact.get("ck_u_l") == 151 for fact in facts)


def _victim_builder(self: Any, *rest: Any) -> bool:
    return bool(self.tl.patient.id == VICTIM)


def _victim_assessment(assessment: Any, *rest: Any) -> bool:
    return bool(assessment.patient_id == VICTIM)


def _victim_item(item: Any) -> bool:
    return Path(item.label).name == "b-victim.yaml"


STAGES: dict[str, tuple[Any, str, Callable[..., bool]]] = {
    "loading": (jdm_cds.cohort.work, "read_item", _victim_item),
    "facts": (FactBuilder, "visits", _victim_tl),
    "engine": (Session, "assert_facts", _victim_session),
    "explanation": (_Builder, "judgement", _victim_builder),
    "rendering": (jdm_cds.report.text, "render_text", _victim_assessment),
    "serialising": (jdm_cds.cohort.work, "_assessment_json", _victim_assessment),
}


@pytest.fixture
def batch(tmp_path: Path) -> list[Path]:
    text = EXAMPLE.read_text()
    victim = text.replace("EX-MDA5", VICTIM).replace("ck_u_l: 95", "ck_u_l: 151")
    assert victim.count("151") >= 1
    files = [tmp_path / "a-first.yaml", tmp_path / "b-victim.yaml", tmp_path / "c-last.yaml"]
    files[0].write_text(text.replace("EX-MDA5", "FIRST"))
    files[1].write_text(victim)
    files[2].write_text(text.replace("EX-MDA5", "LAST"))
    return files


def _guidance_raising_for_victim(evaluator: Evaluator) -> None:
    original = evaluator.guidance
    assert original is not None

    def guidance(patient: Any, assessment: Any) -> Any:
        if patient.id == VICTIM:
            raise Injected("injected failure")
        return original(patient, assessment)
    evaluator.guidance = guidance


@pytest.mark.parametrize("output", ["text", "json", "jsonl"])
@pytest.mark.parametrize("stage", ["loading", "facts", "engine", "explanation", "plugins",
                                   "rendering"])
def test_one_patient_failing_at_any_stage_costs_only_that_patient(
        stage: str, output: str, batch: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    if stage == "plugins":
        from jdm_cds.defaults import default_evaluator

        evaluator = Evaluator(default_evaluator().rulebase, default_evaluator().guidance)
        _guidance_raising_for_victim(evaluator)
        monkeypatch.setattr(jdm_cds.defaults, "default_evaluator",
                            lambda *_, **__: evaluator)
    else:
        owner, name, is_victim = STAGES[stage]
        if stage == "rendering" and output != "text":
            owner, name, is_victim = STAGES["serialising"]
        monkeypatch.setattr(owner, name, _raise_for_victim(getattr(owner, name), is_victim))

    result = CliRunner().invoke(app, ["evaluate", "--jobs", "1", "--format", output,
                                      *map(str, batch)])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert str(batch[1]) in line and "injected failure" in line
    if output == "text":
        assert "Patient FIRST" in result.stdout and "Patient LAST" in result.stdout
        assert VICTIM not in result.stdout
        return
    entries = (json.loads(result.stdout) if output == "json"
               else [json.loads(line) for line in result.stdout.splitlines()])
    assert [entry.get("patient_id") for entry in entries] == ["FIRST", None, "LAST"]
    assert entries[1]["file"] == str(batch[1])
    assert "injected failure" in entries[1]["error"]


@pytest.mark.parametrize("command", [["evaluate", "--format", "json"],
                                     ["evaluate", "--format", "json", "--timeline"],
                                     ["cohort", "--format", "json"]])
def test_one_bad_date_does_not_lose_the_batch(command: list[str], tmp_path: Path) -> None:
    """A JAK inhibitor started on 9999-12-01 once raised OverflowError in the window
    arithmetic and the valid patient's output was lost too."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: FAR-FUTURE\n"
                   "treatments: [{drug: ruxolitinib, start: 9999-12-01}]\n"
                   "visits:\n"
                   "  - {date: 2020-01-30, ck_u_l: 95}\n"
                   "  - {date: 9999-12-20, ck_u_l: 95, cmas: 50}\n")

    result = CliRunner().invoke(app, [*command, str(bad), str(EXAMPLE)])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"{bad}: ")
    data = json.loads(result.stdout)
    if command[0] == "cohort":
        assert data["patients"] == 1
        assert [entry["file"] for entry in data["invalid"]] == [str(bad)]
    else:
        assert data[0]["file"] == str(bad)
        assert {entry.get("patient_id") for entry in data[1:]} == {"EX-MDA5"}
