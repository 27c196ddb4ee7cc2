"""``jdm-cds rules check``: validate rule packs, every problem with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jdm_cds.cli.common import load_plugins, stderr, stdout
from jdm_cds.cli.options import DisablePlugin
from jdm_cds.language.diagnostics import Diagnostic, RuleLoadError, Severity
from jdm_cds.language.rule_types import RulePack
from jdm_cds.language.rulebase import RULES_DIR, Source, read_packs


def rules_check(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Rule files; default: the core packs and every installed plugin's packs.")] = None,
    alone: Annotated[bool, typer.Option(
        "--alone", help="Check the files given by themselves, without the installed packs "
        "they may depend on.")] = False,
    disable_plugin: DisablePlugin = None,
) -> None:
    """Validate rule packs and report every problem with file:line (exit 2 on errors).

    Files given are checked together with the installed packs they may depend on (the core
    packs and the enabled plugins' packs); a given file replaces the installed pack with
    the same pack id, so that an edited copy of a pack can be checked before it ships.
    """
    if alone and not paths:
        raise typer.BadParameter("--alone needs rule files to check")
    try:
        installed = [] if alone else load_plugins(disable_plugin).sources()
    except RuleLoadError as error:  # a core pack is missing
        _print_diagnostics(error.diagnostics)
        stderr.print("the installed rule packs are incomplete", style="bold red")
        raise typer.Exit(2) from None
    sources: list[Source] = [(path, None) for path in paths] if paths else installed
    packs, diagnostics = read_packs(sources, context=installed if paths else ())
    _print_diagnostics(diagnostics)
    _print_packs(packs)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    rules = sum(len(p.rules) for p in packs)
    stdout.print(f"{len(sources)} file(s), {len(packs)} pack(s), {rules} rule(s): {errors} "
                 f"error(s), {len(diagnostics) - errors} warning(s)", markup=False)
    if errors:
        raise typer.Exit(2)


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        stdout.print(str(diagnostic), style=style, markup=False, highlight=False, soft_wrap=True)


def _print_packs(packs: list[RulePack]) -> None:
    for pack in packs:
        core = Path(pack.file).resolve().parent == RULES_DIR.resolve()
        origin = f"plugin {pack.plugin}" if pack.plugin else "core" if core else "file"
        stdout.print(f"pack {pack.id} {pack.version} ({origin}): {pack.file}", markup=False,
                     highlight=False, soft_wrap=True)
