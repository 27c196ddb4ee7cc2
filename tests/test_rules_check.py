"""`jdm-cds rules check`: every problem of broken rule files, each with file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from jdm_cds.cli import app
from jdm_cds.language.rulebase import core_pack_paths

BAD = Path(__file__).parent / "data" / "bad_rules"
DIAGNOSTIC = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+): error: (?P<message>.*) \[(?P<code>[a-z-]+)\]$")

# file -> every (line, code, fragment of the message) it must report, and nothing else.
EXPECTED: dict[str, list[tuple[int, str, str]]] = {
    "unknown_field.yaml": [(11, "unknown-field", "unknown field 'severity' in rule")],
    "duplicate_id.yaml": [(13, "duplicate-id", "rule id 'bad.same' is already defined at")],
    "bad_operator.yaml": [(13, "bad-operator", "unknown operator 'le' on 'ck_u_l'")],
    "bad_numbers.yaml": [
        (11, "type", "'lte' on 'ck_u_l' needs a finite number"),
        (16, "type", "'eq' on 'ck_u_l' needs a finite number"),
        (21, "type", "(got 18446744073709551615)"),
    ],
    "cycle_rules.yaml": [(22, "cycle", "bad.chicken -> bad.egg -> bad.chicken")],
    "cycle_criteria.yaml": [(15, "cycle", "muscle -> bad_cycle_criteria/strength -> ")],
    "unknown_criterion.yaml": [(23, "unknown-reference", "unknown criterion 'mmt8_normal'")],
    "unknown_fact_field.yaml": [(14, "unknown-field", "'ck' is not a visit field")],
    "missing_citation.yaml": [(6, "missing-citation", "rule 'bad.uncited' cites no reference")],
    "missing_version.yaml": [(2, "missing-field", "'pack' needs 'version'")],
    "yaml_syntax.yaml": [(8, "yaml-syntax", "YAML syntax error")],
    "empty.yaml": [(1, "empty", "rule file is empty")],
    "three_problems.yaml": [
        (13, "unknown-field", "unknown field 'note' in rule 'bad.first'"),
        (14, "missing-citation", "rule 'bad.second' cites no reference"),
        (21, "bad-operator", "unknown operator 'atleast' on 'mmt8'"),
    ],
}
ACROSS = ["duplicate_id_across_a.yaml", "duplicate_id_across_b.yaml"]


def check(*paths: Path) -> Result:
    return CliRunner().invoke(app, ["rules", "check", *map(str, paths)])


def diagnostics(output: str) -> list[tuple[str, int, str, str]]:
    found = []
    for line in output.splitlines():
        match = DIAGNOSTIC.match(line)
        if match:
            found.append((match["file"], int(match["line"]), match["code"], match["message"]))
    return found


def test_every_bad_file_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted([*EXPECTED, *ACROSS])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_problem_is_reported_at_its_line(name: str) -> None:
    path = BAD / name

    result = check(path)

    assert result.exit_code == 2, result.output
    found = diagnostics(result.stdout)
    assert [(f, line, code) for f, line, code, _ in found] == [
        (str(path), line, code) for line, code, _ in EXPECTED[name]]
    for (_, _, _, message), (_, _, fragment) in zip(found, EXPECTED[name], strict=True):
        assert fragment in message
    assert f": {len(EXPECTED[name])} error(s)" in result.stdout
    assert result.stderr == ""


def test_all_problems_of_a_file_are_reported_together() -> None:
    result = check(BAD / "three_problems.yaml")

    assert len(diagnostics(result.stdout)) == 3


def test_duplicate_id_across_two_files() -> None:
    first, second = (BAD / name for name in ACROSS)

    alone = [check(path) for path in (first, second)]
    together = check(first, second)

    assert [r.exit_code for r in alone] == [0, 0]
    assert together.exit_code == 2
    [(file, line, code, message)] = diagnostics(together.stdout)
    assert (file, line, code) == (str(second), 13, "duplicate-id")
    assert f"already defined at {first}:8" in message


def test_broken_and_clean_files_in_one_run() -> None:
    result = check(*core_pack_paths(), BAD / "missing_citation.yaml", BAD / "bad_operator.yaml")

    assert result.exit_code == 2
    assert {Path(file).name for file, *_ in diagnostics(result.stdout)} == {
        "missing_citation.yaml", "bad_operator.yaml"}


def test_core_packs_check_clean() -> None:
    result = check()

    assert result.exit_code == 0, result.output
    assert diagnostics(result.stdout) == []
    assert ": 0 error(s), 0 warning(s)" in result.stdout


def test_core_packs_check_clean_when_named() -> None:
    result = check(*core_pack_paths())

    assert result.exit_code == 0, result.output
    assert f"{len(core_pack_paths())} file(s)" in result.stdout


def test_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    result = check(path)

    assert result.exit_code == 2
    assert diagnostics(result.stdout) == [
        (str(path), 1, "unreadable", "cannot read rule file: No such file or directory")]
    assert result.exception is None or isinstance(result.exception, SystemExit)


PLUGIN_PACKS = sorted((Path(__file__).parent.parent / "plugins").glob("*/rules.yaml"))


@pytest.mark.parametrize("path", [*core_pack_paths(), *PLUGIN_PACKS], ids=lambda p: p.parent.name
                         + "/" + p.name)
def test_each_shipped_pack_checks_clean_by_itself(path: Path) -> None:
    # Checked with the installed packs it depends on: 'score' and 'jak_active' are
    # declared by other packs.
    result = check(path)

    assert result.exit_code == 0, result.output
    assert ": 0 error(s), 0 warning(s)" in result.stdout


def test_every_shipped_pack_checks_clean_together() -> None:
    result = check(*core_pack_paths(), *PLUGIN_PACKS)

    assert result.exit_code == 0, result.output
    assert ": 0 error(s), 0 warning(s)" in result.stdout


def test_alone_checks_a_pack_without_the_packs_it_depends_on() -> None:
    result = CliRunner().invoke(app, ["rules", "check", "--alone",
                                      str(core_pack_paths()[0].parent / "withdrawal.yaml")])

    assert result.exit_code == 2
    assert "'score' is not a patient field" in result.stdout


def test_the_packs_are_listed_with_their_versions() -> None:
    result = check()

    for name in ("cid", "cid_window", "response", "safety", "withdrawal"):
        assert re.search(rf"^pack {name} \d+\.\d+\.\d+ \(core\): ", result.stdout, re.M)
    assert re.search(r"^pack anti_mda5 \S+ \(plugin anti_mda5\): ", result.stdout, re.M)


def test_an_edited_copy_replaces_the_installed_pack(tmp_path: Path) -> None:
    copy = tmp_path / "cid.yaml"
    copy.write_text((core_pack_paths()[0].parent / "cid.yaml").read_text()
                    .replace("lte: 150}", "lte: 1.5e2}"))

    result = check(copy)

    assert result.exit_code == 0, result.output  # no duplicate ids with the installed cid


def test_a_missing_core_pack_stops_check_and_evaluate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jdm_cds import defaults
    from jdm_cds.language import rulebase

    for path in core_pack_paths():
        if path.stem != "withdrawal":
            (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(rulebase, "RULES_DIR", tmp_path)
    defaults._evaluator.cache_clear()
    example = Path(__file__).parent.parent / "examples" / "patient-mda5.yaml"
    try:
        checked = check()
        evaluated = CliRunner().invoke(app, ["evaluate", str(example)])
    finally:
        defaults._evaluator.cache_clear()

    for result in (checked, evaluated):
        assert result.exit_code == 2
        assert "core rule pack 'withdrawal' is missing" in result.output
