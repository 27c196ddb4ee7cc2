"""What the commands share: consoles, options, and how a failure to start is reported.

Exit codes: 0 every input valid; 1 some input invalid (each reported on stderr, one line
a problem, naming file and field, while the valid ones are still evaluated); 2 usage, or
the engine cannot start (a rule pack or a plugin is broken: nothing is evaluated).
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from jdm_cds.cli.outcome import BadParameter, Exit
from jdm_cds.collector import lasting
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.diagnostics import RuleLoadError
from jdm_cds.model.reading import PatientFileError
from jdm_cds.plugins.budget import DEFAULT_BUDGET
from jdm_cds.plugins.manager import PluginLoadError, Plugins
from jdm_cds.report.text import PlainText

if TYPE_CHECKING:
    from rich.console import Console

    from jdm_cds.interop.fhir.mapping import Mapping

PIPED_WIDTH = 140  # columns of a text report piped or written to a file, without COLUMNS


class _LazyConsole:
    """A rich ``Console`` made on first use: a command that prints nothing through it
    (``evaluate`` writing to a pipe or a file) does not import rich. Its options are worked
    out then too, from standard output and the environment as they are when it prints."""

    def __init__(self, options: Callable[[], dict[str, Any]]) -> None:
        self._options = options
        self._console: Console | None = None

    def made(self) -> Console:
        """The console itself (made now, if not yet): for what checks its type."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options())
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)


def _stdout_options() -> dict[str, Any]:
    # The terminal's width; piped, the width COLUMNS gives (rich reads it), else 140.
    sized = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return {"soft_wrap": False, "width": None if sized else PIPED_WIDTH}


stdout = cast("Console", _LazyConsole(_stdout_options))
stderr = cast("Console", _LazyConsole(lambda: {"stderr": True, "soft_wrap": True}))


def stdout_console() -> Console:
    """Standard output's console itself (``stdout`` stands in for it until first used)."""
    return cast(_LazyConsole, stdout).made()

# Settings under which rich styles output that is not a terminal (rich.console.Console's
# is_terminal): with any of them set, the report goes through rich.
_STYLING_SETTINGS = ("FORCE_COLOR", "TTY_COMPATIBLE")


def report_output(file: IO[str] | None = None) -> Console | PlainText:
    """Where the text report goes: ``file`` (an output file, never styled), else standard
    output (``stdout``). A ``PlainText`` (the same bytes, without rich) wherever rich would
    style nothing: not a terminal, no setting that asks for styles, not in Jupyter (which
    rich renders in its own way), not on Windows (whose consoles rich measures otherwise)."""
    import builtins

    plain = sys.platform != "win32" and not hasattr(builtins, "get_ipython")
    if file is not None:
        if plain:
            return PlainText(file, PIPED_WIDTH)
        from rich.console import Console

        return Console(file=file, soft_wrap=False, width=PIPED_WIDTH, force_terminal=False)
    if plain and not sys.stdout.isatty() and not any(
            name in os.environ for name in _STYLING_SETTINGS):
        columns = os.environ.get("COLUMNS", "")
        return PlainText(sys.stdout, int(columns) if columns.isdigit() else PIPED_WIDTH)
    return stdout_console()


class Format(StrEnum):
    text = "text"
    json = "json"


def load_fhir_mapping(path: Path | None) -> Mapping | None:
    """The mapping a run uses (None: the built-in one); a broken file stops the run (exit 2)."""
    if path is None:
        return None
    from jdm_cds.interop.fhir.mapping import MappingError, load_mapping

    try:
        return load_mapping(path)
    except MappingError as error:
        for diagnostic in error.diagnostics:
            stderr.print(str(diagnostic), style="red", markup=False, highlight=False)
        stderr.print("the FHIR mapping has errors: nothing was evaluated", style="bold red")
        raise Exit(2) from None


class Settings:
    """What the global options (before the command) set for the whole run (a plain class:
    a dataclass would compile its methods at every start)."""

    def __init__(self) -> None:
        self.plugin_budget: float | None = DEFAULT_BUDGET  # seconds a hook call may take


settings = Settings()

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str | None) -> date | None:
    """A date written YYYY-MM-DD, nothing else (``date.fromisoformat`` would also take
    ``20200101`` and ``2020-W01-1``)."""
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"'{value}' is not a date (expected YYYY-MM-DD)") from None


def parse_budget(value: float) -> float | None:
    """``--plugin-timeout``: seconds, more than 0; 0 means no limit."""
    if not math.isfinite(value) or value < 0:
        raise BadParameter(f"'{value:g}' is not a number of seconds (0 for no limit)",
                                 param_hint="'--plugin-timeout'")
    return None if value == 0 else value


def report_error(error: Exception) -> None:
    lines = error.lines() if isinstance(error, PatientFileError) else [str(error)]
    for line in lines:
        stderr.print(line, style="red", markup=False, highlight=False)


def plugin_failed(error: PluginLoadError) -> Exit:
    stderr.print(str(error), style="red", markup=False, highlight=False)
    advice = "nothing was done"
    if error.plugin is not None:
        advice = (f"plugin '{error.plugin}' is broken, nothing was done: fix it, or leave it "
                  f"out with --disable-plugin {error.plugin}")
    stderr.print(advice, style="bold red", markup=False, highlight=False)
    return Exit(2)


def load_plugins(disabled: list[str] | None) -> Plugins:
    try:
        return Plugins.load(disabled or (), settings.plugin_budget)
    except PluginLoadError as error:
        raise plugin_failed(error) from None


def build_evaluator(disabled: list[str] | None = None) -> Evaluator:
    from jdm_cds.defaults import default_evaluator

    try:
        with lasting():  # the engine lives as long as the command
            return default_evaluator(disabled or (), settings.plugin_budget)
    except PluginLoadError as error:
        raise plugin_failed(error) from None
    except RuleLoadError as error:
        for diagnostic in error.diagnostics:
            stderr.print(str(diagnostic), style="red", markup=False, highlight=False)
        stderr.print("rule packs have errors: nothing was evaluated", style="bold red")
        raise Exit(2) from None
