"""Global options and the smaller promises of the command line: strict dates, help, version,
a timeline that says why it is empty, exit codes as the README states them."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from jdm_cds.cli import app
from jdm_cds.language.rulebase import core_pack_paths, read_packs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr
    return result


ARABIC_INDIC_DATE = "\u0662\u0660\u0662\u0660-\u0660\u0661-\u0660\u0661"


@pytest.mark.parametrize("at", ["20200101", "2020-W01-1", "2020-001", "2020-1-1", "2020-01-01T00",
                                " 2020-01-01", "2020-02-30", ARABIC_INDIC_DATE])
def test_at_is_strictly_yyyy_mm_dd(at: str) -> None:
    result = run("evaluate", "--at", at, EXAMPLE)

    assert result.exit_code == 2
    assert "is not a date (expected YYYY-MM-DD)" in result.output + result.stderr
    assert result.stdout.count("cid.printo") == 0


def test_a_yyyy_mm_dd_date_is_taken() -> None:
    result = run("evaluate", "--at", "2020-04-30", "--format", "json", EXAMPLE)

    assert result.exit_code == 0
    [assessment] = json.loads(result.stdout)
    assert assessment["evaluation_visit"] == "2020-04-28"


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_timeline_before_the_first_visit_says_so(output: str) -> None:
    result = run("evaluate", "--timeline", "--at", "2019-12-31", "--format", output, EXAMPLE)

    assert result.exit_code == 1
    assert "no visit on or before 2019-12-31 (the first is on 2020-01-30)" in result.stderr


@pytest.mark.parametrize("args", [["-h"], ["evaluate", "-h"], ["cohort", "-h"],
                                  ["rules", "-h"], ["rules", "check", "-h"],
                                  ["plugins", "list", "-h"], ["schema", "-h"]])
def test_dash_h_is_help_everywhere(args: list[str]) -> None:
    result = run(*args)

    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_version_names_the_package_and_every_rule_pack() -> None:
    result = run("--version")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"jdm-cds {importlib.metadata.version('jdm-cds')}"
    packs, _ = read_packs([(path, None) for path in core_pack_paths()])
    for pack in packs:
        assert f"rule pack {pack.id} {pack.version} (core)" in lines
    assert "rule pack anti_mda5 1.0.0 (plugin anti_mda5)" in lines


def test_shell_completion_is_offered() -> None:
    result = run("-h")

    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


# --- exit codes: as the README's table says ------------------------------------------------


def readme_exit_codes() -> dict[str, str]:
    """The README's table of exit codes: ``code -> when``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("| exit code |"):]
    rows = re.findall(r"^\| `(\d)` \| (.+?) \|$", section.split("\n\n")[0], re.MULTILINE)
    return dict(rows)


def test_the_readme_states_each_exit_code() -> None:
    assert set(readme_exit_codes()) == {"0", "1", "2"}


def test_exit_codes_are_those_the_readme_states(tmp_path: Path) -> None:
    codes = readme_exit_codes()
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: X\nvisits: [{date: 2020-01-01, cmas: 99}]\n", encoding="utf-8")
    broken_pack = tmp_path / "broken.yaml"
    broken_pack.write_text("pack: {id: broken}\nrules: []\n", encoding="utf-8")

    assert "valid" in codes["0"]
    assert run("evaluate", EXAMPLE).exit_code == 0
    assert run("rules", "check").exit_code == 0

    assert "invalid" in codes["1"]
    mixed = run("evaluate", "--format", "json", bad, EXAMPLE)
    assert mixed.exit_code == 1
    assert [entry.get("patient_id") for entry in json.loads(mixed.stdout)] == [None, "EX-MDA5"]
    assert "usage" in codes["2"]
    assert "rules check" in codes["2"]
    assert run("rules", "check", broken_pack).exit_code == 2
    assert run("evaluate", "--format", "xml", EXAMPLE).exit_code == 2
    assert run("--plugin-timeout", "-1", "evaluate", EXAMPLE).exit_code == 2


# --- the program builds only the command it runs (jdm_cds.cli.commands.CommandLine) ----------

@pytest.mark.parametrize(("argv", "named"), [
    (["evaluate", "x.yaml"], "evaluate"),
    (["--plugin-timeout", "0", "cohort", "d"], "cohort"),
    (["--plugin-timeout=5", "rules", "check"], "rules"),
    (["--plugin-timeout"], None),
    (["--plugin-timeout", "evaluate"], None),  # the value, not a command
    (["--version", "evaluate"], None),
    (["-h"], None),
    (["--", "evaluate"], None),
    ([], None),
])
def test_the_command_named_on_the_command_line(argv: list[str], named: str | None) -> None:
    from jdm_cds.cli.commands import named_command

    assert named_command(argv) == named


def test_the_global_options_with_a_value_are_those_the_command_line_skips() -> None:
    import typer.main

    from jdm_cds.cli.commands import _GLOBAL_VALUES

    group = typer.main.get_command(app)
    taking = {opt for param in group.params if getattr(param, "is_flag", True) is False
              for opt in param.opts}
    assert taking == set(_GLOBAL_VALUES)


def _every_command() -> list[list[str]]:
    names = [info.name or info.callback.__name__.replace("_", "-")
             for info in app.registered_commands if info.callback is not None]
    found = [[name] for name in names]
    for group in app.registered_groups:
        assert group.name is not None and group.typer_instance is not None
        found.append([group.name])
        found += [[group.name, info.name or info.callback.__name__.replace("_", "-")]
                  for info in group.typer_instance.registered_commands
                  if info.callback is not None]
    return found


@pytest.mark.parametrize("words", _every_command(), ids=" ".join)
def test_a_command_built_alone_reads_as_in_the_whole_application(words: list[str]) -> None:
    from jdm_cds.cli.commands import CommandLine

    assert isinstance(app, CommandLine)
    alone = app.only(words[0])
    assert len(alone.registered_commands) + len(alone.registered_groups) == 1
    for args in ([*words, "-h"], [*words, "--no-such-option"]):
        whole = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
        built = CliRunner().invoke(alone, args, env={"COLUMNS": "100"})
        assert (built.exit_code, built.output) == (whole.exit_code, whole.output)
    assert whole.exit_code == 2  # the unknown option is refused: the test can fail


def test_anything_but_a_command_gets_the_whole_application() -> None:
    assert app.only(None) is app
    assert app.only("no-such-command") is app
