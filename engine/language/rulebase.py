"""Find, validate and compile the rule packs of one run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from importlib import resources
from pathlib import Path

from jdm_cds.language.compiler import RuleBase, compile_packs
from jdm_cds.language.diagnostics import Diagnostic, RuleLoadError, Severity
from jdm_cds.language.loader import read_pack
from jdm_cds.language.rule_types import RulePack
from jdm_cds.language.validators import check_packs

# A pack to load, and the plugin that contributes it (None for the core packs).
Source = tuple[Path, str | None]


# The core packs are package data of jdm_cds.rules (the rules/ folder of the repository):
# read through importlib.resources, so that an installed wheel finds them wherever it is.
RULES_DIR = Path(str(resources.files("jdm_cds.rules")))


def core_pack_paths() -> list[Path]:
    """The core packs: every ``*.yaml`` in ``jdm_cds.rules``."""
    return sorted(RULES_DIR.glob("*.yaml"))


def read_packs(sources: Iterable[Source]) -> tuple[list[RulePack], list[Diagnostic]]:
    """Parse every pack and validate them together; returns the packs free of errors.

    Packs with structural errors are still cross-checked (so that one run reports every
    problem), but never returned for compiling.
    """
    parsed: list[tuple[RulePack, bool]] = []
    diagnostics: list[Diagnostic] = []
    owners: dict[str, str] = {}
    for path, plugin in sources:
        pack, found = read_pack(path)
        if plugin is not None:
            owners[str(path)] = plugin
        diagnostics += found
        if pack is not None:
            clean = not any(d.severity is Severity.ERROR for d in found)
            parsed.append((replace(pack, plugin=plugin), clean))
    diagnostics += check_packs([pack for pack, _ in parsed])
    # Name the plugin on every problem in its files, so that the user knows which to fix
    # or disable.
    diagnostics = [replace(d, message=f"{d.message} (plugin '{owners[d.mark.file]}')")
                   if d.mark.file in owners else d for d in diagnostics]
    diagnostics.sort(key=lambda d: (d.mark.file, d.mark.line, d.code))
    return [pack for pack, clean in parsed if clean], diagnostics


def load_rulebase(sources: Iterable[Source]) -> RuleBase:
    """Compile the packs, or raise ``RuleLoadError`` listing every error."""
    packs, diagnostics = read_packs(sources)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise RuleLoadError(errors)
    return compile_packs(packs)
