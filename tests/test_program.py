"""The ``jdm-cds`` program: ``evaluate FILE...`` without typer gives what typer gives (the
same output, errors and exit code, the same values passed to the run), and every other
command line goes to typer."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from jdm_cds.cli import app, evaluate_run, program

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/patient-mda5.yaml"

# Runs the command line given after MODE and MARKER in a process of its own, through the
# program (MODE program) or typer's application (MODE typer), and writes to MARKER whether
# typer was imported. MODE may end in -crash, -interrupt or -pipe: the run then raises an
# unexpected error, is interrupted or finds its reader gone, after reading its options.
_RUNNER = """
import atexit, errno, sys
mode, marker, *args = sys.argv[1:]
sys.argv = ["jdm-cds", *args]
atexit.register(lambda: open(marker, "w").write(str("typer" in sys.modules)))
if "-" in mode:
    from jdm_cds.cli import evaluate_run
    def failing(*given, **options):
        raise {"crash": ValueError("unexpected"), "interrupt": KeyboardInterrupt(),
               "pipe": BrokenPipeError(errno.EPIPE, "Broken pipe")}[mode.split("-")[1]]
    evaluate_run.run = failing
if mode.startswith("program"):
    from jdm_cds.cli.program import main
    sys.exit(main())
from jdm_cds.cli import app
app()
"""


def _run(mode: str, args: list[str], tmp_path: Path,
         env: dict[str, str] | None = None) -> tuple[int, str, str, bool]:
    """Exit code, standard output, standard error, and whether typer was imported."""
    marker = tmp_path / f"{mode}.marker"
    done = subprocess.run([sys.executable, "-c", _RUNNER, mode, str(marker), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr, marker.read_text() == "True"


# Every kind of input the fast path takes: files of each format, folders, files that
# cannot be read or are invalid, several at once; each as typer reads it.
_FAST = [
    [EXAMPLE],
    ["examples/fhir/patient-mda5.json"],
    ["features/study_cases/P01.yaml", "features/study_cases/P02.yaml"],
    ["tests/data/patients"],
    ["tests/data/bad_patients/empty.yaml"],
    ["tests/data/bad_patients", EXAMPLE],
    ["no-such-file.yaml"],
    [EXAMPLE, EXAMPLE],  # one patient twice
    ["examples"],  # a folder with no patient file of its own at the top
]


@pytest.mark.parametrize("files", _FAST, ids=" ".join)
def test_evaluate_files_without_typer_as_with_it(files: list[str], tmp_path: Path) -> None:
    *fast, typer_loaded = _run("program", ["evaluate", *files], tmp_path)
    *slow, _ = _run("typer", ["evaluate", *files], tmp_path)

    assert fast == slow
    assert not typer_loaded  # the fast path was taken


@pytest.mark.parametrize("ending", ["interrupt", "pipe"])
def test_an_interrupted_run_ends_as_typer_ends_it(ending: str, tmp_path: Path) -> None:
    fast = _run(f"program-{ending}", ["evaluate", EXAMPLE], tmp_path)
    slow = _run(f"typer-{ending}", ["evaluate", EXAMPLE], tmp_path)

    assert fast[:3] == slow[:3]
    assert fast[0] == {"interrupt": 130, "pipe": 1}[ending]


def test_an_unexpected_error_is_shown_as_typer_shows_it(tmp_path: Path) -> None:
    code, out, err, _ = _run("program-crash", ["evaluate", EXAMPLE], tmp_path)
    typer_code, typer_out, typer_err, _ = _run("typer-crash", ["evaluate", EXAMPLE], tmp_path)

    assert (code, out) == (typer_code, typer_out) == (1, "")
    # The traceback's frames differ (the program's own against click's); its end does not.
    assert err.splitlines()[-1] == typer_err.splitlines()[-1] == "ValueError: unexpected"


def test_the_run_gets_the_values_typer_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    signature = inspect.signature(evaluate_run.run)

    def recorded(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))

    monkeypatch.setattr(evaluate_run, "run", recorded)
    monkeypatch.setattr(program, "end", lambda code: code)  # this process goes on
    files = [EXAMPLE, "a folder", "x.json", "évaluation.yaml", "./b//c.yaml"]
    assert CliRunner().invoke(app, ["evaluate", *files]).exit_code == 0
    monkeypatch.setattr(sys, "argv", ["jdm-cds", "evaluate", *files])
    assert program.main() == 0

    assert len(calls) == 2 and calls[0] == calls[1]
    assert calls[1]["files"] == [Path(file) for file in files]


# The program's own end: what the usual exit would do is done (a thread that is not a daemon
# finishes, the atexit functions run, standard output is written), without the teardown
# unless a plugin of another package was loaded (ARGV[1] "others").
_ENDING = """
import atexit, os, sys, threading, time
from jdm_cds.cli.program import main
from jdm_cds.plugins import manager

exit_now = os._exit
def ending(code):
    os.write(2, b"ended without the teardown\\n")
    exit_now(code)
os._exit = ending
if sys.argv[1] == "others":
    manager._OTHERS.add("another")
atexit.register(lambda: print("atexit function ran"))
def late():
    time.sleep(0.3)
    sys.stderr.write("thread finished\\n")
threading.Thread(target=late).start()
sys.argv = ["jdm-cds", "evaluate", sys.argv[2]]
sys.exit(main())
"""


@pytest.mark.parametrize("plugins", ["own", "others"])
@pytest.mark.parametrize(("file", "code"), [(EXAMPLE, 0), ("no-such-file.yaml", 1)])
def test_the_program_ends_as_the_usual_exit_would(plugins: str, file: str, code: int) -> None:
    done = subprocess.run([sys.executable, "-c", _ENDING, plugins, file], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == code
    assert done.stdout.endswith("atexit function ran\n")
    assert (code == 0) == done.stdout.startswith("Patient ")  # the report, then the function
    assert "thread finished\n" in done.stderr
    assert ("ended without the teardown" in done.stderr) == (plugins == "own")


@pytest.mark.parametrize("argv", [
    ["evaluate"],
    ["evaluate", "-"],
    ["evaluate", "--", EXAMPLE],
    ["evaluate", ""],
    ["evaluate", "--format", "json", EXAMPLE],
    ["evaluate", EXAMPLE, "--at", "2021-01-01"],
    ["evaluate", EXAMPLE, "-q"],
    ["evaluate", "-h"],
    ["--plugin-timeout", "0", "evaluate", EXAMPLE],
    ["cohort", EXAMPLE],
    ["evalute", EXAMPLE],
    ["Evaluate", EXAMPLE],
    ["--version"],
    [],
])
def test_any_other_command_line_goes_to_typer(argv: list[str]) -> None:
    assert program.evaluate_files(argv) is None


@pytest.mark.parametrize("setting", [*program.OPTION_SETTINGS, "_JDM_CDS_COMPLETE"])
def test_a_setting_typer_reads_sends_the_command_line_to_typer(
        setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert program.evaluate_files(["evaluate", EXAMPLE]) == [EXAMPLE]
    monkeypatch.setenv(setting, "")
    assert program.evaluate_files(["evaluate", EXAMPLE]) is None


def test_the_settings_left_to_typer_are_those_it_reads() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["evaluate"]
    read = {param.envvar for param in [*group.params, *command.params] if param.envvar}
    assert read == set(program.OPTION_SETTINGS)


def test_the_built_in_plugins_packs_are_read_in_this_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Part of jdm-cds: no thread switch for each (a plugin of another package is called on
    # a worker thread within its budget: tests/test_plugins.py).
    from jdm_cds.plugins import budget
    from jdm_cds.plugins.manager import BUILT_IN_PACKAGE, Plugins

    def no_worker(*args: Any) -> None:
        raise AssertionError("a built-in plugin's packs were read on a worker thread")

    monkeypatch.setattr(budget.HookRunner, "run", no_worker)
    plugins = Plugins.load()
    assert plugins.names and all(  # the test can fail: there are built-in plugins
        type(plugins.pm.get_plugin(name)).__module__.startswith(BUILT_IN_PACKAGE.rstrip("."))
        for name in plugins.names)
    assert all(plugins.packs[name] for name in plugins.names)
