"""`jdm-cds diff`: the effect of a rule change on a cohort, as text, JSON, JSON Lines and
Parquet; identical rule sets change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.language.rulebase import core_pack_paths

ROOT = Path(__file__).resolve().parent.parent
COHORT = [ROOT / "features" / "study_cases", ROOT / "features" / "rule_change"]


@pytest.fixture(scope="module")
def after(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("after")
    for path in core_pack_paths():
        text = path.read_text()
        if path.name == "cid.yaml":
            assert text.count("das_skin, eq: 0") == 1
            text = text.replace("das_skin, eq: 0", "das_skin, lte: 1")
        (folder / path.name).write_text(text)
    return folder


def diff(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["diff", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_identical_rule_sets_change_nothing() -> None:
    code, out, _ = diff("--rules-before", ROOT / "rules", "--rules-after", ROOT / "rules",
                        *COHORT)
    assert code == 0
    assert out.startswith("No change: all 11 patients")


def test_the_change_as_json_and_json_lines_on_one_or_two_processes(after: Path) -> None:
    code, out, _ = diff("--rules-after", after, "--format", "json", "--jobs", "1", *COHORT)
    assert code == 0
    data = json.loads(out)
    assert (data["patients"], data["changed_patients"]) == (11, 1)
    assert [(t["judgement"], t["before"], t["after"], t["patients"])
            for t in data["transitions"]] == [
        ("cid.printo_skin", "not_met", "met", ["RC-1"]),
        ("cid.within_6_months", "indeterminate", "met", ["RC-1"])]

    one = diff("--rules-after", after, "--format", "jsonl", "--jobs", "1", *COHORT)
    two = diff("--rules-after", after, "--format", "jsonl", "--jobs", "2", *COHORT)
    assert one == two
    lines = [json.loads(line) for line in one[1].splitlines()]
    assert [(line["patient_id"], line["judgement"]) for line in lines] == [
        ("RC-1", "cid.printo_skin"), ("RC-1", "cid.within_6_months")]


def test_the_change_as_parquet(after: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "changes.parquet"
    code, _, _ = diff("--rules-after", after, "-o", out, "--format", "json", *COHORT)
    assert code == 0
    rows = pq.read_table(out).to_pylist()
    assert [(r["patient_id"], r["judgement"], r["before"], r["after"]) for r in rows] == [
        ("RC-1", "cid.printo_skin", "not_met", "met"),
        ("RC-1", "cid.within_6_months", "indeterminate", "met")]


def test_a_broken_rules_folder_is_a_start_up_error(tmp_path: Path) -> None:
    code, _, err = diff("--rules-after", tmp_path, *COHORT)
    assert code == 2
    assert "no rule packs (*.yaml) in this folder" in err
