"""``jdm-cds plugins list``: installed plugins, their packs and hooks."""

from __future__ import annotations

from rich.table import Table

from jdm_cds.cli.common import DisablePlugin, load_plugins, stdout


def plugins_list(disable_plugin: DisablePlugin = None) -> None:
    """Show each installed plugin: its package and version, rule packs and hooks."""
    plugins = load_plugins(disable_plugin)
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
