"""Plugins: found through the ``jdm_cds`` entry points, loaded once, called one at a time.

Start-up is strict and evaluation is forgiving. A plugin that cannot be imported, that
implements an unknown hook or whose rule pack is invalid stops start-up with an error
naming it, because silently running without its clinical rules would be worse. Once
running, a plugin whose guidance hook raises or returns invalid cards costs only its own
guidance: the error is reported with the assessment and every other plugin still runs.
"""

from __future__ import annotations

import importlib.metadata
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import pluggy
from pydantic import ValidationError

from jdm_cds.language.rulebase import Source, core_pack_paths
from jdm_cds.model.assessment import Assessment, GuidanceCard, PluginError
from jdm_cds.model.patient import Patient
from jdm_cds.plugins import hookspecs
from jdm_cds.plugins.hookspecs import PROJECT

RULE_PACKS = "jdm_cds_rule_packs"
GUIDANCE = "jdm_cds_guidance"
_SEVERITY = {"critical": 0, "warning": 1, "info": 2}


class PluginLoadError(Exception):
    """A plugin could not be loaded; nothing is evaluated without it."""

    def __init__(self, plugin: str | None, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


@dataclass(frozen=True)
class PluginInfo:
    """What ``jdm-cds plugins list`` shows of one plugin."""

    name: str
    package: str | None  # distribution name; None for a plugin registered in code
    version: str | None
    packs: tuple[Path, ...]
    hooks: tuple[str, ...]


def _packages_by_plugin() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for ep in importlib.metadata.entry_points(group=PROJECT):
        found.setdefault(ep.name, set()).add("?" if ep.dist is None else ep.dist.name)
    return found


def plugin_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows the jdm-cds hook specifications."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class Plugins:
    """The plugins of one run, with their rule packs and guidance hooks resolved once."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.names = sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)
        self.packs = {name: self._packs_of(name) for name in self.names}
        impls = pm.hook.jdm_cds_guidance.get_hookimpls()
        guided = {impl.plugin_name for impl in impls}
        self._guidance = [(name, self._caller(GUIDANCE, name))
                          for name in self.names if name in guided]
        # Copying the assessment costs as much as judging the patient: only for those who read it.
        self._shows_assessment = any("assessment" in (*impl.argnames, *impl.kwargnames)
                                     for impl in impls)

    @classmethod
    def load(cls, disabled: Iterable[str] = ()) -> Plugins:
        """Load every installed plugin except those ``disabled`` (entry-point names)."""
        packages = _packages_by_plugin()
        installed = sorted(packages)
        blocked = set(disabled)
        for name in installed:
            # pluggy would load the first and silently skip the others.
            if len(packages[name]) > 1 and name not in blocked:
                raise PluginLoadError(name, f"plugin '{name}' is installed by several packages "
                                      f"({', '.join(sorted(packages[name]))}): uninstall all "
                                      "but one")
        unknown = sorted(blocked - set(installed))
        if unknown:
            raise PluginLoadError(None, f"cannot disable {', '.join(unknown)}: no plugin "
                                  f"of that name is installed (installed: "
                                  f"{', '.join(installed) or 'none'})")
        pm = plugin_manager()
        for name in blocked:
            pm.set_blocked(name)
        for name in installed:
            if name in blocked:
                continue
            try:
                pm.load_setuptools_entrypoints(PROJECT, name=name)
            except Exception as error:
                raise PluginLoadError(name, f"plugin '{name}' could not be loaded: "
                                      f"{_describe(error)}") from error
        return cls.of(pm)

    @classmethod
    def of(cls, pm: pluggy.PluginManager) -> Plugins:
        """The plugins registered on ``pm``, checked for hooks that do not exist."""
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as error:
            name = pm.get_name(error.plugin)
            raise PluginLoadError(name, f"plugin '{name}': {error}") from error
        return cls(pm)

    def _caller(self, hook: str, name: str) -> pluggy.HookCaller:
        """The hook of one plugin alone: each plugin is called on its own, so that a
        failure costs only its own part."""
        others = [plugin for other, plugin in self.pm.list_name_plugin()
                  if other != name and plugin is not None]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def _packs_of(self, name: str) -> tuple[Path, ...]:
        try:
            results = self._caller(RULE_PACKS, name)()
        except Exception as error:
            raise PluginLoadError(name, f"plugin '{name}' failed in {RULE_PACKS}: "
                                  f"{_describe(error)}") from error
        paths: list[Path] = []
        for returned in results:
            if isinstance(returned, str | PathLike) or not isinstance(returned, Sequence) or \
                    not all(isinstance(item, str | PathLike) for item in returned):
                raise PluginLoadError(name, f"plugin '{name}': {RULE_PACKS} must return a list "
                                      f"of paths (got {returned!r})")
            paths += [Path(item) for item in returned]
        return tuple(paths)

    def sources(self) -> list[Source]:
        """The core packs, then each plugin's packs tagged with the plugin's name."""
        core: list[Source] = [(path, None) for path in core_pack_paths()]
        return core + [(path, name) for name in self.names for path in self.packs[name]]

    def info(self) -> list[PluginInfo]:
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        listed = []
        for name in self.names:
            plugin = self.pm.get_plugin(name)
            dist = dists.get(id(plugin))
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            listed.append(PluginInfo(
                name=name, package=None if dist is None else dist.project_name,
                version=None if dist is None else dist.version, packs=self.packs[name],
                hooks=tuple(hooks)))
        return listed

    def guidance(self, patient: Patient,
                 assessment: Assessment) -> tuple[list[GuidanceCard], list[PluginError]]:
        """Every plugin's cards for this patient; a failing plugin becomes an error entry."""
        if not self._guidance:
            return [], []
        view = assessment.model_copy(deep=True) if self._shows_assessment else assessment
        cards: list[GuidanceCard] = []
        errors: list[PluginError] = []
        for name, caller in self._guidance:
            try:
                results = caller(patient=patient, assessment=view)
            except Exception as error:
                errors.append(PluginError(plugin=name, hook=GUIDANCE, error=_describe(error)))
                continue
            for returned in results:
                found, problems = _cards(name, returned)
                cards += found
                errors += [PluginError(plugin=name, hook=GUIDANCE, error=p) for p in problems]
        cards.sort(key=lambda card: _SEVERITY[card.indicator])
        return cards, errors


def _cards(plugin: str, returned: object) -> tuple[list[GuidanceCard], list[str]]:
    if isinstance(returned, str | Mapping | GuidanceCard) or not isinstance(returned, Sequence):
        return [], [f"returned {type(returned).__name__}, not a list of guidance cards"]
    cards, problems = [], []
    for number, item in enumerate(returned, start=1):
        if isinstance(item, GuidanceCard):
            # Already validated when it was built: only the plugin's name is stamped on.
            cards.append(item if item.plugin == plugin
                         else item.model_copy(update={"plugin": plugin}))
            continue
        data = item
        if not isinstance(data, Mapping):
            problems.append(f"card {number} is a {type(item).__name__}, not a guidance card")
            continue
        name = f"'{data['id']}'" if isinstance(data.get("id"), str) else str(number)
        try:
            cards.append(GuidanceCard.model_validate({**data, "plugin": plugin}))
        except ValidationError as error:
            reasons = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
                                for e in error.errors())
            problems.append(f"invalid guidance card {name}: {reasons}")
    return cards, problems


def _describe(error: BaseException) -> str:
    """The error and where in the plugin it was raised, for the plugin's author."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<")]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
