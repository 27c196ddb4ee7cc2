"""The command line: the typer application and its commands, one module each.

``jdm-cds evaluate | cohort | diff | schema | rules check | plugins list``; exit codes in
``common.py``. Global options (before the command): ``--version``, ``--plugin-timeout``,
``-h``/``--help`` (everywhere), and typer's shell completion.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from typer.main import get_command_name

from jdm_cds.cli import (
    cohort,
    diff,
    evaluate,
    feedback,
    fhir,
    plugins,
    report,
    rules,
    schema,
    serve,
)
from jdm_cds.cli.common import parse_budget, settings, stdout
from jdm_cds.cli.outcome import BadParameter, Exit
from jdm_cds.plugins.budget import DEFAULT_BUDGET


class CommandLine(typer.Typer):
    """The application. Run as the program (``app()``, as the ``jdm-cds`` script does), it
    builds the parser of the one command its arguments name, not of every command: typer
    reads every option of every command from the functions' signatures, which costs more
    than a short command's own work. The command's options, help and errors are the same
    either way (the global options and callback are kept); without a command, with a global
    option other than ``--plugin-timeout``, with a name that is no command, or when a shell
    asks for completions, the whole application runs, which lists what there is.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or any(name.startswith("_") and name.endswith("_COMPLETE")
                                 for name in os.environ):
            return super().__call__(*args, **kwargs)
        return typer.Typer.__call__(self.only(named_command(sys.argv[1:])))

    def crashed(self, error: Exception) -> None:
        """``error``, an exception none of the command's code expected, marked as typer
        marks one (``typer.main.Typer.__call__``), so that it is shown the same way."""
        from typer.main import _typer_developer_exception_attr_name, except_hook
        from typer.models import DeveloperExceptionConfig

        sys.excepthook = except_hook
        setattr(error, _typer_developer_exception_attr_name, DeveloperExceptionConfig(
            pretty_exceptions_enable=self.pretty_exceptions_enable,
            pretty_exceptions_show_locals=self.pretty_exceptions_show_locals,
            pretty_exceptions_short=self.pretty_exceptions_short))

    def only(self, name: str | None) -> typer.Typer:
        """This application with only the command or group ``name`` (itself when no such)."""
        commands = [info for info in self.registered_commands
                    if info.callback is not None
                    and (info.name or get_command_name(info.callback.__name__)) == name]
        groups = [info for info in self.registered_groups if info.name == name]
        if name is None or not (commands or groups):
            return self
        one = copy.copy(self)
        one.registered_commands, one.registered_groups = commands, groups
        return one


# The global options that take a value: the command name comes after it.
_GLOBAL_VALUES = ("--plugin-timeout",)


def named_command(argv: Sequence[str]) -> str | None:
    """The command the arguments name, past the global options that take a value (None:
    none, or another option first: help, --version, ...)."""
    tokens = iter(argv)
    for token in tokens:
        if token in _GLOBAL_VALUES:
            next(tokens, None)
        elif not token.startswith(tuple(f"{option}=" for option in _GLOBAL_VALUES)):
            return None if token.startswith("-") else token
    return None


app = CommandLine(
    no_args_is_help=True,
    # Inherited by every command and group: -h is help everywhere.
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Clinical decision support for juvenile dermatomyositis treated with JAK inhibitors. "
    "It supports, and does not replace, the clinician's judgement.",
)


def _show_version(value: bool) -> None:
    if not value:
        return
    from jdm_cds.language.rulebase import core_pack_paths, read_packs
    from jdm_cds.plugins.manager import PluginLoadError, Plugins

    stdout.print(f"jdm-cds {importlib.metadata.version('jdm-cds')}", markup=False)
    try:
        sources = Plugins.load(budget=settings.plugin_budget).sources()
        problem = None
    except PluginLoadError as error:
        sources = [(path, None) for path in core_pack_paths()]
        problem = f"plugins not loaded: {error}"
    packs, _ = read_packs(sources)
    read = {pack.file for pack in packs}
    for pack in packs:
        origin = "core" if pack.plugin is None else f"plugin {pack.plugin}"
        stdout.print(f"rule pack {pack.id} {pack.version} ({origin})", markup=False)
    for path, _plugin in sources:
        if str(path) not in read:
            stdout.print(f"rule pack {path}: has errors (see 'jdm-cds rules check')",
                         markup=False)
    if problem:
        stdout.print(problem, markup=False)
    raise typer.Exit()


@app.callback()
def main(
    plugin_timeout: Annotated[float, typer.Option(
        "--plugin-timeout", metavar="SECONDS", envvar="JDM_CDS_PLUGIN_TIMEOUT",
        help="Time a plugin hook call may take; a call over it is reported as timed out "
        "and its result discarded. 0: no limit (hooks run in the calling thread).")
    ] = DEFAULT_BUDGET,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_show_version,
        help="Show the version of jdm-cds and of every rule pack, and exit.")] = False,
) -> None:
    settings.plugin_budget = parse_budget(plugin_timeout)


app.command()(evaluate.evaluate)
app.command()(cohort.cohort)
app.command()(diff.diff)
app.command()(schema.schema)
app.command()(report.report)

rules_app = typer.Typer(no_args_is_help=True, help="Work with rule packs.")
rules_app.command("check")(rules.rules_check)
app.add_typer(rules_app, name="rules")

plugins_app = typer.Typer(no_args_is_help=True, help="Installed plugins.")
plugins_app.command("list")(plugins.plugins_list)
app.add_typer(plugins_app, name="plugins")
app.add_typer(fhir.fhir_app, name="fhir")

app.command()(serve.serve)
feedback_app = typer.Typer(no_args_is_help=True, help="Clinicians' feedback on CDS Hooks cards.")
feedback_app.command("report")(feedback.feedback_report)
app.add_typer(feedback_app, name="feedback")


def _typer_outcomes(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` raising typer's ``Exit`` and ``BadParameter`` for the code's own
    (``outcome.py``), inside typer's context, so that typer reports them as it always has."""
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Exit as done:
            raise typer.Exit(done.code) from None
        except BadParameter as error:
            raise typer.BadParameter(error.message, param_hint=error.param_hint) from None

    return run


def _translate(application: typer.Typer) -> None:
    """Every command and callback of ``application`` and its groups, in place."""
    if application.registered_callback is not None:
        info = application.registered_callback
        info.callback = _typer_outcomes(info.callback)  # type: ignore[arg-type]
    for command in application.registered_commands:
        command.callback = _typer_outcomes(command.callback)  # type: ignore[arg-type]
    for group in application.registered_groups:
        assert group.typer_instance is not None
        _translate(group.typer_instance)


_translate(app)
