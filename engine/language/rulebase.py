"""Find, validate and compile the rule packs of one run.

The reader and the checks of pack files are imported when packs are read: a process that
finds its compiled rule base in the cache (``cache.py``) never needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from jdm_cds.language.compiler import Resolver, RuleBase, compile_packs
from jdm_cds.language.diagnostics import Diagnostic, RuleLoadError, Severity
from jdm_cds.language.rule_types import Mark, RulePack

# A pack to load, and the plugin that contributes it (None for the core packs).
Source = tuple[Path, str | None]


# The core packs are package data of jdm_cds.rules (the rules/ folder of the repository):
# read through importlib.resources, so that an installed wheel finds them wherever it is.
RULES_DIR = Path(str(resources.files("jdm_cds.rules")))

# The packs every installation must have (file names in jdm_cds.rules, without .yaml).
# Without one of them the engine would judge without those rules and say nothing: it
# refuses to start instead. Another pack added to rules/ is loaded too.
CORE_PACKS = ("cid", "cid_window", "response", "safety", "withdrawal")


def core_pack_paths() -> list[Path]:
    """The core packs: every ``*.yaml`` in ``jdm_cds.rules``.

    Raises ``RuleLoadError`` naming each expected pack that is missing.
    """
    missing = [name for name in CORE_PACKS if not (RULES_DIR / f"{name}.yaml").is_file()]
    if missing:
        raise RuleLoadError([
            Diagnostic(Severity.ERROR, "missing-core-pack", f"core rule pack '{name}' is "
                       "missing from this installation: nothing can be judged safely without "
                       "it (reinstall jdm-cds)", Mark(str(RULES_DIR / f"{name}.yaml"), 1))
            for name in missing])
    return sorted(RULES_DIR.glob("*.yaml"))


def _parse(sources: Iterable[Source]) -> tuple[list[tuple[RulePack, bool]], list[Diagnostic]]:
    """Each pack, whether it parsed free of errors, and the problems of every file."""
    from jdm_cds.language.loader import read_pack

    parsed: list[tuple[RulePack, bool]] = []
    diagnostics: list[Diagnostic] = []
    for path, plugin in sources:
        pack, found = read_pack(path)
        diagnostics += found
        if pack is not None:
            clean = not any(d.severity is Severity.ERROR for d in found)
            parsed.append((pack.replace(plugin=plugin), clean))
    return parsed, diagnostics


def read_packs(sources: Iterable[Source], context: Iterable[Source] = ()
               ) -> tuple[list[RulePack], list[Diagnostic]]:
    """Parse every pack and validate them together; returns the packs free of errors.

    Packs with structural errors are still cross-checked (so that one run reports every
    problem), but never returned for compiling. ``context``: packs the ``sources`` may
    depend on (the installed ones), validated with them but not returned; a context pack
    is left out when a source is the same file or has the same pack id (it replaces it).
    """
    packs, diagnostics, _ = _read_packs(sources, context)
    return packs, diagnostics


def _read_packs(sources: Iterable[Source], context: Iterable[Source] = ()
                ) -> tuple[list[RulePack], list[Diagnostic], Resolver]:
    """``read_packs``, and the resolver the checks used, with the rules they compiled."""
    from jdm_cds.language.validators import check_packs

    sources = list(sources)
    given = {path.resolve(): plugin for path, plugin in sources}
    context = list(context)
    # A file given that is an installed plugin's pack is checked as that plugin's.
    sources = [(path, plugin or _plugin_of(path, context)) for path, plugin in sources]
    parsed, diagnostics = _parse(sources)
    ids = {pack.id for pack, _ in parsed}
    around, found = _parse((path, plugin) for path, plugin in context
                           if path.resolve() not in given)
    replaced = {pack.file for pack, _ in around if pack.id in ids}
    around = [(pack, clean) for pack, clean in around if pack.file not in replaced]
    diagnostics += [d for d in found if d.mark.file not in replaced]
    checked = [pack for pack, _ in parsed + around]
    resolver = Resolver(checked)  # what the checks compile, compile_packs reuses
    diagnostics += check_packs(checked, resolver)
    # Name the plugin on every problem in its files, so that the user knows which to fix
    # or disable.
    owners = {str(path): plugin for path, plugin in [*sources, *context] if plugin is not None}
    diagnostics = [d.replace(message=f"{d.message} (plugin '{owners[d.mark.file]}')")
                   if d.mark.file in owners else d for d in diagnostics]
    diagnostics.sort(key=lambda d: (d.mark.file, d.mark.line, d.code))
    return [pack for pack, clean in parsed if clean], diagnostics, resolver


def _plugin_of(path: Path, installed: list[Source]) -> str | None:
    return next((plugin for other, plugin in installed
                 if plugin is not None and other.resolve() == path.resolve()), None)


def load_rulebase(sources: Iterable[Source]) -> RuleBase:
    """Compile the packs, or raise ``RuleLoadError`` listing every error."""
    packs, diagnostics, resolver = _read_packs(sources)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise RuleLoadError(errors)
    return compile_packs(packs, resolver)
