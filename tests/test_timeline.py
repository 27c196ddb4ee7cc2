"""`jdm-cds evaluate FILE --timeline`: one row a visit, each as `--at <visit date>` gives it;
and the bad inputs of the longitudinal issue, which must stop with clear errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from longitudinal import ACTIVE, CID, JAK, assess, day, evaluator, patient, visit
from typer.testing import CliRunner, Result

from jdm_cds.cli import app
from jdm_cds.defaults import default_evaluator
from jdm_cds.model.reading import load_patient
from jdm_cds.report.timeline import PACKS, rows

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
BAD = Path(__file__).parent / "data" / "bad_patients"
EXAMPLE_DATES = ["2020-01-30", "2020-04-28", "2020-07-20"]


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def timeline_json(*args: str | Path) -> list[dict[str, Any]]:
    result = run("evaluate", *args, "--timeline", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def test_one_row_per_visit() -> None:
    data = timeline_json(EXAMPLE)
    assert [row["date"] for row in data] == EXAMPLE_DATES
    assert [row["days_on_jak"] for row in data] == [-2, 87, 170]
    assert {row["patient_id"] for row in data} == {"EX-MDA5"}


@pytest.mark.parametrize("date", EXAMPLE_DATES)
def test_columns_agree_with_at_on_that_date(date: str) -> None:
    row = next(r for r in timeline_json(EXAMPLE) if r["date"] == date)
    result = run("evaluate", EXAMPLE, "--at", date, "--format", "json")
    judgements = json.loads(result.stdout)[0]["judgements"]
    shown = {rule: j["status"] for rule, j in judgements.items() if j["pack"] in PACKS}
    assert row["statuses"] == shown
    reported = {name: value for j in judgements.values() if j["pack"] in PACKS
                for name, value in j["values"].items()}
    assert row["values"] == reported


EVERY_EXAMPLE = [EXAMPLE, *sorted((ROOT / "features" / "study_cases").glob("*.yaml"))]


@pytest.mark.parametrize("path", EVERY_EXAMPLE, ids=lambda path: path.stem)
def test_every_example_row_agrees_with_its_date(path: Path) -> None:
    """The example patient and the ten study cases: each row of ``--timeline`` is the
    evaluation at that visit's date (as ``--at`` gives it, plugins included)."""
    found = timeline_json(path)
    patient = load_patient(path)
    evaluator = default_evaluator()

    assert [row["date"] for row in found] == [v.date.isoformat() for v in patient.visits]
    for row in found:
        judgements = evaluator.evaluate(patient, dt.date.fromisoformat(row["date"])).judgements
        assert row["statuses"] == {rule: j.status for rule, j in judgements.items()
                                   if j.pack in PACKS}
        assert row["values"] == json.loads(json.dumps(
            {name: value for j in judgements.values() if j.pack in PACKS
             for name, value in j.values.items()}, default=str))


def test_example_course_reads_as_expected() -> None:
    first, second, third = timeline_json(EXAMPLE)
    assert first["statuses"]["response.acr_eular_2016"] == "not_applicable"
    assert second["values"]["category"] == "major"
    assert second["values"]["steroid_dose_now"] == pytest.approx(16 / 32.5)
    assert second["statuses"]["cid.within_6_months"] == "indeterminate"
    assert third["statuses"]["cid.within_6_months"] == "met"
    assert third["values"]["days_to_cid"] == 170
    assert third["statuses"]["withdrawal.plasma_exchange"] == "met"


def test_at_limits_the_rows() -> None:
    data = timeline_json(EXAMPLE, "--at", "2020-05-01")
    assert [row["date"] for row in data] == EXAMPLE_DATES[:2]


def test_text_table() -> None:
    result = run("evaluate", EXAMPLE, "--timeline")
    assert result.exit_code == 0
    for date in EXAMPLE_DATES:
        assert date in result.stdout
    for text in ("prednisone", "mg/kg/day", "0.492", "80 major", "day 170",
                 "cid.within_6_months", "withdrawal.steroid_stop", "indet."):
        assert text in result.stdout


def test_several_files_and_a_bad_one(tmp_path: Path) -> None:
    bad = BAD / "stop_before_start.yaml"
    result = run("evaluate", EXAMPLE, bad, "--timeline", "--format", "json")
    assert result.exit_code == 1
    *rows, error = json.loads(result.stdout)
    assert [row["date"] for row in rows] == EXAMPLE_DATES
    assert error["file"] == str(bad)
    assert error["error"].startswith("treatments[1].stop: ")
    assert f"{bad}: treatments[1].stop:" in result.stderr


@pytest.mark.parametrize(("name", "field", "words"), [
    ("stop_before_start.yaml", "treatments[1].stop", "before start"),
    ("unknown_drug.yaml", "treatments[0].drug", "unknown drug"),
], ids=["stop-before-start", "unknown-drug"])
@pytest.mark.parametrize("timeline", [False, True], ids=["evaluate", "timeline"])
def test_bad_input_is_a_clear_error(name: str, field: str, words: str, timeline: bool) -> None:
    path = BAD / name
    result = run("evaluate", path, *(["--timeline"] if timeline else []))
    assert result.exit_code == 1
    assert result.stdout.strip() == ""
    line = next(line for line in result.stderr.splitlines() if field in line)
    assert line.startswith(f"{path}: {field}:")
    assert words in line


def test_rows_match_each_evaluation() -> None:
    p = patient(visit(-5, **ACTIVE), visit(60, **ACTIVE), visit(120, **CID),
                visit(200, **CID, adverse_events=["herpes_zoster"]))
    found = rows(evaluator(), p)
    assert [r.date for r in found] == [day(-5), day(60), day(120), day(200)]
    for row in found:
        expected = assess(p, row.date).judgements
        assert row.statuses == {rule: j.status for rule, j in expected.items()
                                if j.pack in PACKS}
    assert [r.statuses["cid.within_6_months"] for r in found] == [
        "not_applicable", "indeterminate", "met", "met"]


def test_patient_without_jak_inhibitor() -> None:
    p = patient(visit(0, **ACTIVE), visit(30, **CID), treatments=[])
    found = rows(evaluator(), p)
    assert [r.days_on_jak for r in found] == [None, None]
    assert {r.statuses["response.acr_eular_2016"] for r in found} == {"not_applicable"}


def test_evaluation_before_the_first_visit_gives_no_rows() -> None:
    p = patient(visit(10, **ACTIVE), treatments=[JAK])
    assert rows(evaluator(), p, until=day(5)) == []
