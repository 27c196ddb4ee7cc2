"""Hostile and careless plugins: each costs only its own guidance, never the judgements,
another plugin's input, the other patients of a batch, or the run.

Each case of "plugins are not isolated" was reproduced on the engine before this: a hook
that sleeps for ever hung the evaluation; ``raise SystemExit(0)`` ended the run with exit 0
and no output; a card built with ``model_construct(indicator="bogus")`` crashed the card sort
and lost the batch; a plugin setting ``status = "met"`` changed what the next plugin saw; a
10 MB ``detail`` was accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hostile_plugins import (
    Bogus,
    BogusSource,
    ChangesContainers,
    Exiting,
    Flood,
    Good,
    HugeMessage,
    Oversized,
    PacksExit,
    PacksSleep,
    Raises,
    Reader,
    SetsStatus,
    Sleeping,
    SlowCards,
    Unprintable,
)
from typer.testing import CliRunner, Result

import jdm_cds.defaults
from jdm_cds.cli import app
from jdm_cds.defaults import evaluator_for
from jdm_cds.evaluate import Evaluator
from jdm_cds.model.assessment import Assessment, PluginError
from jdm_cds.model.patient import Patient
from jdm_cds.plugins.budget import HookRunner, TimedOut
from jdm_cds.plugins.hookspecs import PROJECT
from jdm_cds.plugins.manager import PluginLoadError, Plugins, plugin_manager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
BUDGET = 1.0  # seconds, for the tests of hanging hooks: short, so that they are quick
ROOMY = 120.0  # seconds, for every other test: no call comes near it, however busy the machine


def plugins(budget: float | None = ROOMY, **extra: object) -> Plugins:
    pm = plugin_manager()
    pm.load_setuptools_entrypoints(PROJECT)
    for name, plugin in extra.items():
        pm.register(plugin, name=name)
    return Plugins.of(pm, budget)


def evaluator(budget: float | None = ROOMY, **extra: object) -> Evaluator:
    return evaluator_for(plugins(budget, **extra))


def patient(number: int = 1, cmas: float = 30) -> Patient:
    return Patient.model_validate({
        "id": f"P{number}", "antibodies": ["anti-MDA5"],
        "treatments": [{"drug": "ruxolitinib", "start": "2023-01-01"}],
        "visits": [{"date": "2022-12-20", "ck_u_l": 900, "cmas": 30},
                   {"date": "2023-03-01", "ck_u_l": 400, "cmas": cmas,
                    "adverse_events": ["dyspnoea"]}]})


def core(assessment: Assessment) -> dict[str, Any]:
    """Everything but the guidance and the plugin errors: what the rules decided."""
    return assessment.model_dump(exclude={"guidance", "errors"})


@pytest.fixture(scope="module")
def reference() -> Assessment:
    return evaluator().evaluate(patient())


def errors_of(assessment: Assessment, name: str) -> list[str]:
    return [e.error for e in assessment.errors if e.plugin == name]


def card_ids(assessment: Assessment, name: str) -> list[str]:
    return [c.id for c in assessment.guidance if c.plugin == name]


def run(evaluator: Evaluator, monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> Result:
    monkeypatch.setattr(jdm_cds.defaults, "default_evaluator", lambda *_, **__: evaluator)
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr
    return result


# --- a hook that never returns -------------------------------------------------------------


@pytest.fixture
def sleeping() -> Iterator[Sleeping]:
    plugin = Sleeping()
    yield plugin
    plugin.release.set()


def test_a_hook_that_sleeps_for_ever_times_out_and_the_evaluation_completes(
        sleeping: Sleeping, reference: Assessment) -> None:
    judged = evaluator(BUDGET, sleeping=sleeping, good=Good())

    first = judged.evaluate(patient())
    second = judged.evaluate(patient(2))  # not called: the budget is spent once, not again

    [error] = errors_of(first, "sleeping")
    assert error == f"timed out after {BUDGET:g} s; its result is discarded"
    [error] = errors_of(second, "sleeping")
    assert "not called: its call for an earlier patient is still running" in error
    assert sleeping.calls == 1
    assert core(first) == core(reference)
    assert card_ids(first, "good") == card_ids(second, "good") == ["good.card"]
    assert {"anti_mda5"} <= {c.plugin for c in first.guidance}


def test_a_stuck_plugin_is_called_again_once_its_call_returns(sleeping: Sleeping) -> None:
    judged = evaluator(BUDGET, sleeping=sleeping)
    assert errors_of(judged.evaluate(patient()), "sleeping")[0].startswith("timed out")

    sleeping.release.set()  # the late call returns: its card is discarded
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        later = judged.evaluate(patient(2))
        if not errors_of(later, "sleeping"):
            break
        time.sleep(0.05)

    assert errors_of(later, "sleeping") == []
    assert card_ids(later, "sleeping") == ["sleeping.late"]
    assert sleeping.calls == 2


def test_reading_what_a_hook_returned_is_timed_too() -> None:
    slow = SlowCards()
    try:
        assessment = evaluator(BUDGET, slow=slow, good=Good()).evaluate(patient())
    finally:
        slow.release.set()

    assert errors_of(assessment, "slow")[0].startswith("timed out")
    assert card_ids(assessment, "good") == ["good.card"]


def test_a_hanging_plugin_in_a_batch_on_the_command_line(
        sleeping: Sleeping, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(EXAMPLE.read_text(encoding="utf-8").replace("EX-MDA5", "EX-2"),
                      encoding="utf-8")

    result = run(evaluator(BUDGET, sleeping=sleeping), monkeypatch, "evaluate", "--format",
                 "json", EXAMPLE, second)

    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert [a["patient_id"] for a in found] == ["EX-MDA5", "EX-2"]
    assert [e["plugin"] for a in found for e in a["errors"]] == ["sleeping", "sleeping"]


def test_the_budget_is_a_global_option(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[object] = []
    built = evaluator()

    def default_evaluator(disabled: object = (), plugin_budget: object = "unset") -> Evaluator:
        if plugin_budget != "unset":  # the report's glossary asks for the rules only
            chosen.append(plugin_budget)
        return built

    monkeypatch.setattr(jdm_cds.defaults, "default_evaluator", default_evaluator)
    for args, budget in ((["--plugin-timeout", "0.5"], 0.5), (["--plugin-timeout", "0"], None),
                         ([], 2.0)):
        result = CliRunner().invoke(app, [*args, "evaluate", str(EXAMPLE)])
        assert result.exit_code == 0, result.output
        assert chosen.pop() == budget


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_a_bad_budget_is_a_usage_error(value: str) -> None:
    result = CliRunner().invoke(app, ["--plugin-timeout", value, "evaluate", str(EXAMPLE)])

    assert result.exit_code == 2
    assert "plugin-timeout" in result.output + result.stderr


def test_without_a_budget_hooks_run_in_the_calling_thread() -> None:
    threads: list[threading.Thread] = []
    runner = HookRunner(None)

    [outcome] = runner.run([("here", lambda: threads.append(threading.current_thread()))])

    assert threads == [threading.current_thread()]
    assert not isinstance(outcome, TimedOut)


# --- whatever a plugin raises ----------------------------------------------------------


@pytest.mark.parametrize(("error", "says"), [
    (SystemExit(0), "SystemExit: 0"),
    (GeneratorExit(), "GeneratorExit"),
    (KeyboardInterrupt(), "KeyboardInterrupt"),
    (MemoryError(), "MemoryError"),
    (RecursionError("deep"), "RecursionError: deep"),
    (Unprintable(), "Unprintable: (its message could not be shown)"),
])
def test_whatever_a_plugin_raises_is_its_failure(error: BaseException, says: str,
                                                 reference: Assessment) -> None:
    assessment = evaluator(raises=Raises(error), good=Good()).evaluate(patient())

    [problem] = errors_of(assessment, "raises")
    assert problem.startswith(says)
    assert "hostile_plugins.py:" in problem
    assert core(assessment) == core(reference)
    assert card_ids(assessment, "good") == ["good.card"]


def test_system_exit_in_a_plugin_does_not_end_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(evaluator(exiting=Exiting()), monkeypatch, "evaluate", EXAMPLE)

    assert result.exit_code == 0
    assert "cid.printo" in result.stdout
    assert "plugin 'exiting' failed in jdm_cds_guidance: SystemExit: 0" in result.stderr


def test_a_huge_error_message_is_cut() -> None:
    assessment = evaluator(huge=HugeMessage()).evaluate(patient())

    [problem] = errors_of(assessment, "huge")
    assert problem.startswith("ValueError: xxx")
    assert len(problem) < 2_100


# --- read-only views --------------------------------------------------------------------


def test_setting_a_status_raises_in_the_plugin_and_the_next_plugin_sees_the_original(
        reference: Assessment) -> None:
    setter, reader = SetsStatus(), Reader()
    # Plugins are called in the order of their names: "a_setter" before "b_reader".
    assessment = evaluator(a_setter=setter, b_reader=reader).evaluate(patient())

    original = reference.judgements["cid.printo"].status
    assert original != "met"
    assert setter.seen == original
    [problem] = errors_of(assessment, "a_setter")
    assert "frozen" in problem
    assert card_ids(assessment, "a_setter") == []
    assert reader.seen == [(original, len(reference.judgements))]
    assert core(assessment) == core(reference)


@pytest.mark.parametrize("change", ["judgements", "alerts", "because", "criteria", "missing"])
def test_changing_what_a_plugin_is_shown_raises_and_changes_nothing(
        change: str, reference: Assessment) -> None:
    reader = Reader()
    assessment = evaluator(a_changer=ChangesContainers(change), b_reader=reader).evaluate(
        patient())

    [problem] = errors_of(assessment, "a_changer")
    assert "read-only" in problem
    assert reader.seen == [(reference.judgements["cid.printo"].status,
                            len(reference.judgements))]
    assert core(assessment) == core(reference)


def test_the_view_is_the_assessment_to_read() -> None:
    seen: list[Assessment] = []

    class Keeps:
        from jdm_cds import hookimpl

        @hookimpl
        def jdm_cds_guidance(self, assessment: Assessment) -> list[Any]:
            seen.append(assessment)
            return []

    assessment = evaluator(keeps=Keeps()).evaluate(patient())

    [view] = seen
    assert isinstance(view, Assessment)
    assert view.model_dump() == {**assessment.model_dump(), "guidance": [], "errors": []}
    assert json.loads(view.model_dump_json())["patient_id"] == "P1"


# --- cards are checked on return ----------------------------------------------------------


def test_a_card_built_without_validation_is_refused_and_the_batch_is_kept(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judged = evaluator(bogus=Bogus(), bogus_source=BogusSource(), good=Good())
    assessment = judged.evaluate(patient())

    [problem] = errors_of(assessment, "bogus")
    assert "invalid guidance card 'bogus.card': indicator" in problem
    assert card_ids(assessment, "bogus") == ["bogus.fine"]
    [problem] = errors_of(assessment, "bogus_source")
    assert "source.label" in problem
    assert assessment.guidance[0].indicator == "critical"  # sorted, most severe first

    second = tmp_path / "second.yaml"
    second.write_text(EXAMPLE.read_text(encoding="utf-8").replace("EX-MDA5", "EX-2"),
                      encoding="utf-8")
    for output in ("text", "json"):
        result = run(judged, monkeypatch, "evaluate", "--format", output, EXAMPLE, second)
        assert result.exit_code == 0
        assert "EX-MDA5" in result.stdout and "EX-2" in result.stdout


def test_every_text_of_a_card_is_bounded() -> None:
    assessment = evaluator(oversized=Oversized()).evaluate(patient())

    problems = errors_of(assessment, "oversized")
    assert len(problems) == 6
    for field, limit in (("detail", "at most 10000"), ("summary", "at most 140"),
                         ("id", "at most 200"), ("source", "label must have 1 to 1,000"),
                         ("source", "url must have at most 2,000"), ("summary", "at least 1")):
        assert any(f": {field}: " in p and limit in p for p in problems), (field, problems)
    assert all(len(p) < 2_100 for p in problems)  # the oversized value is not repeated
    [fine] = [c for c in assessment.guidance if c.plugin == "oversized"]
    assert fine.id == "oversized.fine" and len(fine.detail) == 10_000


def test_a_flood_of_cards_is_cut() -> None:
    assessment = evaluator(flood=Flood()).evaluate(patient())

    assert len(card_ids(assessment, "flood")) == 100
    [problem] = errors_of(assessment, "flood")
    assert "only the first 100 are kept" in problem


def test_a_plugins_failure_is_never_in_the_judgements(reference: Assessment) -> None:
    everyone = evaluator(exiting=Exiting(), bogus=Bogus(), oversized=Oversized(),
                         setter=SetsStatus(), flood=Flood(), huge=HugeMessage(),
                         raises=Raises(GeneratorExit()))
    plain = evaluator()
    for number, cmas in enumerate((30, 50, 10), start=1):
        alone = plain.evaluate(patient(number, cmas))
        assessment = everyone.evaluate(patient(number, cmas))
        assert core(assessment) == core(alone)
        assert {e.plugin for e in assessment.errors} == {
            "exiting", "bogus", "oversized", "setter", "flood", "huge", "raises"}
        assert all(isinstance(e, PluginError) for e in assessment.errors)
    assert core(plain.evaluate(patient())) == core(reference)


# --- at start-up ------------------------------------------------------------------------------


def test_system_exit_in_the_rule_packs_hook_stops_start_up_naming_the_plugin() -> None:
    with pytest.raises(PluginLoadError) as raised:
        plugins(packs_exit=PacksExit())

    assert raised.value.plugin == "packs_exit"
    assert "failed in jdm_cds_rule_packs: SystemExit: 3" in str(raised.value)


def test_a_rule_packs_hook_that_hangs_stops_start_up() -> None:
    hanging = PacksSleep()
    try:
        with pytest.raises(PluginLoadError) as raised:
            plugins(BUDGET, packs_sleep=hanging)
    finally:
        hanging.release.set()

    assert raised.value.plugin == "packs_sleep"
    assert "did not return in time from jdm_cds_rule_packs: timed out" in str(raised.value)


# --- threads -------------------------------------------------------------------------------


def test_plugins_called_from_many_threads_at_once_each_get_their_own_answer() -> None:
    judged = evaluator(good=Good(), exiting=Exiting())
    found: dict[int, list[str]] = {}

    def work(number: int) -> None:
        found[number] = [judged.evaluate(patient(number)).patient_id for _ in range(5)]

    workers = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert found == {n: [f"P{n}"] * 5 for n in range(8)}
    assert date.today()  # the evaluations above ran to the end in every thread
