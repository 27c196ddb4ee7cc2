"""`jdm-cds evaluate` and `jdm-cds schema`: output shape, --at, bad inputs, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import jdm_cds.defaults
from jdm_cds.cli import app
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.runtime import RuleExecutionError

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"  # visits 2020-01-30, 2020-04-28, 2020-07-20
BAD = Path(__file__).parent / "data" / "bad_patients"
CID = ("cid.printo", "cid.p_cid", "cid.printo_skin")
JUDGEMENT_KEYS = {"status", "rule", "version", "because", "missing"}

# The bad inputs of the issue: file -> the field its one error names ("-": the whole file).
BAD_INPUTS = {
    "wrong type": ("string_for_number.yaml", "visits[0].cmas"),
    "out of range": ("out_of_range.yaml", "visits[1].cmas"),
    "unknown field": ("unknown_field_in_visit.yaml", "visits[1].ckk"),
    "invalid date": ("invalid_date.yaml", "visits[0].date"),
    "no visits": ("no_visits.yaml", "visits"),
    "YAML syntax error": ("yaml_syntax_error.yaml", "-"),
    "empty file": ("empty.yaml", "-"),
}

SECOND = """\
id: CLI-2
antibodies: [anti-NXP2]
treatments:
  - {drug: baricitinib, start: 2021-01-01}
visits:
  - {date: 2021-01-01, ck_u_l: 900, cmas: 30, mmt8: 60, physician_global_vas: 5}
  - {date: 2021-04-01, ck_u_l: 120, cmas: 49, physician_global_vas: 0.5}
"""


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def second(tmp_path: Path) -> Path:
    path = tmp_path / "second.yaml"
    path.write_text(SECOND)
    return path


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def entry(text: str, key: str) -> str:
    """The text report's entry for one rule: its lines joined by spaces, as one string.

    Entries are separated by blank lines; each ends with a line naming its rule and version.
    """
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines()]
        if any(line.startswith(f"{key} ") for line in lines):
            return " ".join(lines)
    raise AssertionError(f"no entry for {key}")


# --- JSON ---------------------------------------------------------------------------


def test_json_for_one_file_is_an_array_of_one_assessment() -> None:
    result = run("evaluate", "--format", "json", EXAMPLE)

    assert result.exit_code == 0, result.stderr
    [data] = as_json(result)
    assert isinstance(data, dict)
    assert {"patient_id", "evaluated_at", "judgements", "alerts", "recommendations",
            "guidance"} <= set(data)
    assert data["patient_id"] == "EX-MDA5"
    assert data["evaluated_at"] == "2020-07-20"
    assert isinstance(data["alerts"], list)
    assert isinstance(data["recommendations"], list)
    assert isinstance(data["guidance"], list)
    for key, judgement in data["judgements"].items():
        assert set(judgement) >= JUDGEMENT_KEYS
        assert judgement["rule"] == key
        assert judgement["status"] in ("met", "not_met", "indeterminate", "not_applicable")
        assert isinstance(judgement["missing"], list)
        assert isinstance(judgement["because"], dict)
    printo = data["judgements"]["cid.printo"]
    assert (printo["status"], printo["version"]) == ("met", "1.0.0")
    assert printo["because"]["facts"] == {"ck_u_l": 95, "cmas": 50, "mmt8": 79,
                                          "physician_global_vas": 0.1}


def test_json_for_several_files_is_an_array_in_order(second: Path) -> None:
    result = run("evaluate", "--format", "json", second, EXAMPLE)

    assert result.exit_code == 0, result.stderr
    data = as_json(result)
    assert isinstance(data, list)
    assert [d["patient_id"] for d in data] == ["CLI-2", "EX-MDA5"]
    # CK, CMAS and the physician global measured: two met, one failed, MMT8 missing.
    assert data[0]["judgements"]["cid.printo"]["status"] == "indeterminate"
    assert data[0]["judgements"]["cid.printo"]["missing"] == ["mmt8"]


def test_json_is_an_array_for_several_files_even_if_one_is_valid() -> None:
    result = run("evaluate", "--format", "json", EXAMPLE, BAD / "empty.yaml")

    assert result.exit_code == 1
    data = as_json(result)
    assert data[0]["patient_id"] == "EX-MDA5"
    assert data[1] == {"file": str(BAD / "empty.yaml"), "error": "-: file is empty"}


def test_json_is_an_array_even_when_every_input_is_invalid() -> None:
    result = run("evaluate", "--format", "json", BAD / "empty.yaml")

    assert result.exit_code == 1
    assert as_json(result) == [{"file": str(BAD / "empty.yaml"), "error": "-: file is empty"}]


def test_jsonl_is_one_entry_a_line_in_input_order(second: Path) -> None:
    result = run("evaluate", "--format", "jsonl", second, BAD / "empty.yaml", EXAMPLE)

    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("patient_id", line.get("file")) for line in lines] == [
        "CLI-2", str(BAD / "empty.yaml"), "EX-MDA5"]
    assert lines[2] == as_json(run("evaluate", "--format", "json", EXAMPLE))[0]


def test_output_file_and_standard_input(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["evaluate", "-", "--format", "json", "-o", str(out)],
                                input=EXAMPLE.read_text())

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    [data] = json.loads(out.read_text())
    assert data == as_json(run("evaluate", "--format", "json", EXAMPLE))[0]


def test_a_patient_id_seen_in_an_earlier_file_is_an_input_error(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(EXAMPLE.read_text())

    result = run("evaluate", "--format", "json", EXAMPLE, copy)

    assert result.exit_code == 1
    data = as_json(result)
    assert data[0]["patient_id"] == "EX-MDA5"
    assert data[1]["file"] == str(copy)
    assert f"patient 'EX-MDA5' was already read from {EXAMPLE}" in data[1]["error"]
    assert result.stderr.startswith(f"{copy}: id: ")


# --- --at ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "visit", "printo"),
    [
        ("2020-07-20", "2020-07-20", "met"),
        ("2020-07-19", "2020-04-28", "not_met"),
        ("2020-04-28", "2020-04-28", "not_met"),
        ("2020-04-27", "2020-01-30", "not_met"),
        ("2031-01-01", "2020-07-20", "met"),
    ],
)
def test_at_picks_the_last_visit_on_or_before_the_date(at: str, visit: str,
                                                        printo: str) -> None:
    result = run("evaluate", "--format", "json", "--at", at, EXAMPLE)

    assert result.exit_code == 0, result.stderr
    [data] = as_json(result)
    assert data["evaluated_at"] == at
    assert data["evaluation_visit"] == visit
    judgement = data["judgements"]["cid.printo"]
    assert (judgement["status"], judgement["visit_date"]) == (printo, visit)


def test_a_date_before_the_first_visit_is_indeterminate_and_says_why() -> None:
    result = run("evaluate", "--format", "json", "--at", "2020-01-29", EXAMPLE)

    assert result.exit_code == 0, result.stderr
    [data] = as_json(result)
    assert data["evaluation_visit"] is None
    for key in CID:
        judgement = data["judgements"][key]
        assert judgement["status"] == "indeterminate"
        assert "no visit on or before 2020-01-29" in judgement["reasons"]


def test_text_says_there_is_no_visit() -> None:
    result = run("evaluate", "--at", "2019-06-01", EXAMPLE)

    assert result.exit_code == 0, result.stderr
    assert "(no visit on or before that date)" in result.stdout.splitlines()[1]
    for key in CID:
        found = entry(result.stdout, key)
        assert found.startswith("INDETERMINATE ")
        assert "Why open: " in found
        assert "No visit on or before 2019-06-01." in found


# --- text ---------------------------------------------------------------------------


def test_text_output_gives_status_working_rule_citation_and_assumption() -> None:
    result = run("evaluate", EXAMPLE)

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Patient EX-MDA5" in out
    assert "evaluation visit 2020-07-20" in out
    notes = {line.split("] ")[0] + "]": line for line in out.splitlines()
             if line.startswith("[")}
    for key in CID:
        found = entry(out, key)
        assert found.startswith("MET ")
        assert " Met: " in found and "Not met:" not in found and "Why open" not in found
        assert f"{key} 1.0.0 · notes " in found
    numbers = entry(out, "cid.printo").split(" · notes ")[1].split(", ")
    assert notes[f"[{numbers[0]}]"].startswith("[1] Lazarevic D")
    skin = entry(out, "cid.printo_skin").split(" · notes ")[1].split(", ")
    assert any("ASSUMPTION: The study judged CID" in notes[f"[{n}]"] for n in skin)
    assert not any("ASSUMPTION" in notes[f"[{n}]"] for n in numbers)
    assert "Decision support only" in out


def test_text_lists_the_missing_field(second: Path) -> None:
    result = run("evaluate", second)

    assert result.exit_code == 0, result.stderr
    found = entry(result.stdout, "cid.printo")
    assert found.startswith("INDETERMINATE ")
    assert "Not recorded at the visit of 2021-04-01: MMT8." in found


# --- bad inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("output", ["json", "text"])
def test_a_bad_file_is_one_line_naming_file_and_field(case: str, output: str,
                                                      second: Path) -> None:
    name, field = BAD_INPUTS[case]
    bad = BAD / name

    result = run("evaluate", "--format", output, EXAMPLE, bad, second)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{bad}: {field}: ")
    if output == "json":
        data = as_json(result)
        assert [d.get("patient_id") for d in data] == ["EX-MDA5", None, "CLI-2"]
        assert data[1]["file"] == str(bad)
        assert data[1]["error"].startswith(f"{field}: ")
    else:
        assert "Patient EX-MDA5" in result.stdout
        assert "Patient CLI-2" in result.stdout


def test_every_bad_file_at_once_each_reported_and_the_good_one_evaluated() -> None:
    bad = sorted(BAD.iterdir())

    result = run("evaluate", "--format", "json", *bad, EXAMPLE)

    assert result.exit_code == 1
    reported = {line.split(": ")[0] for line in result.stderr.splitlines()}
    assert reported == {str(path) for path in bad}
    data = as_json(result)
    assert [d["file"] for d in data[:-1]] == [str(path) for path in bad]
    assert data[-1]["patient_id"] == "EX-MDA5"


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    result = run("evaluate", missing, EXAMPLE)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{missing}: -: cannot read file")
    assert "Patient EX-MDA5" in result.stdout


class _FailsFor(Evaluator):
    """An evaluator whose engine fails on one patient."""

    def evaluate(self, patient: Patient, at: Any = None, draft_orders: Any = (), *,
                 explain: bool = True) -> Assessment:
        if patient.id == "CLI-2":
            raise RuleExecutionError("exception caught boom")
        return super().evaluate(patient, at, draft_orders, explain=explain)


def test_an_engine_error_is_one_line_and_the_others_still_evaluated(
        second: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = _FailsFor(load_rulebase([(RULES_DIR / "cid.yaml", None)]))
    monkeypatch.setattr(jdm_cds.defaults, "default_evaluator", lambda *_, **__: failing)

    result = run("evaluate", "--format", "json", second, EXAMPLE)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{second}: ")
    assert "exception caught boom" in line
    data = as_json(result)
    assert data[0]["file"] == str(second)
    assert "exception caught boom" in data[0]["error"]
    assert data[1]["patient_id"] == "EX-MDA5"


# --- usage errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--at", "2020-13-01", str(EXAMPLE)],
        ["evaluate", "--at", "yesterday", str(EXAMPLE)],
        ["evaluate", "--frobnicate", str(EXAMPLE)],
        ["evaluate", "--format", "xml", str(EXAMPLE)],
        ["evaluate"],
        ["schema", "rules"],
        ["no-such-command"],
    ],
    ids=["impossible-date", "not-a-date", "unknown-option", "unknown-format", "no-files",
         "unknown-schema", "unknown-command"],
)
def test_usage_error_exits_2(args: list[str]) -> None:
    result = run(*args)

    assert result.exit_code == 2
    assert result.stdout == ""


def test_bad_at_is_named_in_the_error() -> None:
    result = run("evaluate", "--at", "2020-13-01", EXAMPLE)

    assert "'2020-13-01' is not a date (expected YYYY-MM-DD)" in result.stderr


# --- schema -------------------------------------------------------------------------


def test_schema_patient_is_a_json_schema() -> None:
    result = run("schema", "patient")

    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"id", "visits"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    visit = schema["$defs"]["Visit"]
    assert visit["additionalProperties"] is False
    assert {"ck_u_l", "cmas", "mmt8", "physician_global_vas", "das_skin"} <= set(
        visit["properties"])


# --- the installed command ----------------------------------------------------------


def test_installed_command_exit_codes_and_no_traceback(second: Path) -> None:
    """The console script end to end: stderr is only the one-line errors."""
    command = Path(sys.executable).parent / "jdm-cds"
    bad = BAD / "out_of_range.yaml"

    done = subprocess.run([command, "evaluate", "--format", "json", bad, second],
                          capture_output=True, text=True, check=False)
    usage = subprocess.run([command, "evaluate", "--at", "soon", second],
                           capture_output=True, text=True, check=False)

    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{bad}: visits[1].cmas: must be <= 52 (got 53)"]
    assert [d.get("patient_id") for d in json.loads(done.stdout)] == [None, "CLI-2"]
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
