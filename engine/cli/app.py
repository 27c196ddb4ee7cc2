"""The command line: the typer application and its commands, one module each.

``jdm-cds evaluate | cohort | diff | schema | rules check | plugins list``; exit codes in
``common.py``.
"""

from __future__ import annotations

import typer

from jdm_cds.cli import cohort, diff, evaluate, plugins, rules, schema

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Clinical decision support for juvenile dermatomyositis treated with JAK inhibitors. "
    "It supports, and does not replace, the clinician's judgement.",
)
app.command()(evaluate.evaluate)
app.command()(cohort.cohort)
app.command()(diff.diff)
app.command()(schema.schema)

rules_app = typer.Typer(no_args_is_help=True, help="Work with rule packs.")
rules_app.command("check")(rules.rules_check)
app.add_typer(rules_app, name="rules")

plugins_app = typer.Typer(no_args_is_help=True, help="Installed plugins.")
plugins_app.command("list")(plugins.plugins_list)
app.add_typer(plugins_app, name="plugins")
