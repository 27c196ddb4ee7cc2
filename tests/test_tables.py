"""Tables out: ``cohort`` and ``evaluate`` with ``--output NAME.parquet`` hold exactly what the
JSON holds, and load in pandas; errors are rows of the patients table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app

pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "features" / "study_cases"
BAD = Path(__file__).parent / "data" / "bad_patients" / "out_of_range.yaml"


@pytest.fixture(scope="module", params=["cohort", "evaluate"])
def tables(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, list[dict[str, Any]]]:
    """The tables that ``cohort`` and ``evaluate`` write, and the JSON of ``evaluate``."""
    out = tmp_path_factory.mktemp("tables") / "cohort.parquet"
    command = request.param
    written = CliRunner().invoke(app, [command, "--jobs", "1", "--format", "json", "-o",
                                       str(out), str(CASES), str(BAD)])
    assert written.exit_code == 1, written.output
    if command == "cohort":
        assert json.loads(written.stdout)["patients"] == 10  # the summary still printed
        shown = CliRunner().invoke(app, ["evaluate", "--format", "json", str(CASES), str(BAD)])
        return out, json.loads(shown.stdout)
    return out, json.loads(written.stdout)  # the JSON of the same run


def test_judgements_table_holds_what_the_json_holds(
        tables: tuple[Path, list[dict[str, Any]]]) -> None:
    out, entries = tables
    rows = pq.read_table(out).to_pylist()
    expected = [(e["patient_id"], key, j) for e in entries if "patient_id" in e
                for key, j in e["judgements"].items()]
    assert len(rows) == len(expected)
    for row, (patient, key, judgement) in zip(rows, expected, strict=True):
        assert (row["patient_id"], row["judgement"]) == (patient, key)
        assert row["status"] == judgement["status"]
        assert (row["rule"], row["pack"], row["version"]) == (
            judgement["rule"], judgement["pack"], judgement["version"])
        visit = row["visit_date"]
        assert (None if visit is None else visit.isoformat()) == judgement["visit_date"]
        assert json.loads(row["values"]) == judgement["values"]
        assert row["missing"] == judgement["missing"]
        assert row["score"] == judgement["values"].get("score")
        assert row["days_to_cid"] == judgement["values"].get("days_to_cid")
        assert row["plugin"] == judgement["plugin"]


def test_patients_and_alerts_tables(tables: tuple[Path, list[dict[str, Any]]]) -> None:
    out, entries = tables
    patients = pd.read_parquet(out.with_name("cohort.patients.parquet"))
    assert list(patients["index"]) == list(range(11))
    assert list(patients["patient_id"][:10]) == [e["patient_id"] for e in entries[:10]]
    assert patients["error"][:10].isna().all()
    assert patients["file"][10] == str(BAD)
    assert patients["error"][10] == f"{BAD}: visits[1].cmas: must be <= 52 (got 53)"
    assert list(patients["judgements"][:10]) == [len(e["judgements"]) for e in entries[:10]]

    alerts = pd.read_parquet(out.with_name("cohort.alerts.parquet"))
    expected = [(e["patient_id"], a["id"], a["indicator"], a["summary"])
                for e in entries[:10] for a in e["alerts"]]
    assert expected, "the study cases have alerts"
    assert list(zip(alerts["patient_id"], alerts["alert"], alerts["indicator"],
                    alerts["summary"], strict=True)) == expected


def test_evaluate_writes_only_the_tables_unless_a_format_is_given(tmp_path: Path) -> None:
    out = tmp_path / "only.parquet"
    written = CliRunner().invoke(app, ["evaluate", "--jobs", "1", "-o", str(out), str(CASES)])
    assert (written.exit_code, written.stdout, written.stderr) == (0, "", "")
    patients = pq.read_table(out.with_name("only.patients.parquet")).to_pylist()
    assert [row["patient_id"] for row in patients] == [
        f"P{number:02d}" for number in range(1, 11)]

    refused = CliRunner().invoke(app, ["evaluate", "--timeline", "-o", str(out), str(CASES)])
    assert refused.exit_code == 2
    assert "not --timeline" in refused.stderr
