"""``jdm-cds rules check``: validate rule packs, every problem with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import DisablePlugin, load_plugins, stdout
from jdm_cds.language.diagnostics import Severity
from jdm_cds.language.rulebase import read_packs


def rules_check(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Rule files; default: the core packs and every installed plugin's packs.")] = None,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Validate rule packs and report every problem with file:line."""
    sources = [(path, None) for path in paths] if paths else load_plugins(disable_plugin).sources()
    packs, diagnostics = read_packs(sources)
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        stdout.print(str(diagnostic), style=style, markup=False, highlight=False, soft_wrap=True)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    rules = sum(len(p.rules) for p in packs)
    stdout.print(f"{len(sources)} file(s), {len(packs)} pack(s), {rules} rule(s): {errors} "
                 f"error(s), {len(diagnostics) - errors} warning(s)", markup=False)
    if errors:
        raise typer.Exit(1)
