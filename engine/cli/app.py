"""The command line: the typer application and its commands, one module each.

``jdm-cds evaluate | cohort | diff | schema | rules check | plugins list``; exit codes in
``common.py``. Global options (before the command): ``--version``, ``--plugin-timeout``,
``-h``/``--help`` (everywhere), and typer's shell completion.
"""

from __future__ import annotations

import importlib.metadata
from typing import Annotated

import typer

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
from jdm_cds.plugins.budget import DEFAULT_BUDGET

app = typer.Typer(
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
