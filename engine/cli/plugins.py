"""``jdm-cds plugins list``: installed plugins, their packs and hooks."""

from __future__ import annotations

import typer

from jdm_cds.cli.common import load_plugins, stderr, stdout
from jdm_cds.cli.options import DisablePlugin
from jdm_cds.language.diagnostics import RuleLoadError
from jdm_cds.language.rulebase import core_pack_paths, read_packs


def plugins_list(disable_plugin: DisablePlugin = None) -> None:
    """Show each installed plugin: its package and version, rule packs and hooks."""
    from rich.table import Table

    plugins = load_plugins(disable_plugin)
    try:
        core, _ = read_packs((path, None) for path in core_pack_paths())
    except RuleLoadError as error:  # a core pack is missing: the installation is broken
        for diagnostic in error.diagnostics:
            stderr.print(str(diagnostic), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    stdout.print("core packs: " + ", ".join(f"{pack.id} {pack.version}" for pack in core),
                 markup=False, highlight=False)
    table = Table(show_lines=True, expand=False)
    for column in ("plugin", "package", "version", "rule packs", "hooks"):
        table.add_column(column, overflow="fold")
    for info in plugins.info():
        table.add_row(info.name, info.package or "-", info.version or "-",
                      "\n".join(str(path) for path in info.packs) or "-",
                      "\n".join(info.hooks) or "-")
    stdout.print(table)
    if disable_plugin:
        stdout.print(f"disabled: {', '.join(sorted(set(disable_plugin)))}", markup=False)
