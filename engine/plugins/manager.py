"""Plugins: found through the ``jdm_cds`` entry points, loaded once, called one at a time.

Start-up is strict and evaluation is forgiving. A plugin that cannot be imported, that
implements an unknown hook or whose rule pack is invalid stops start-up with an error
naming it, because silently running without its clinical rules would be worse. Once
running, a plugin costs at most its own guidance: each plugin is called on its own, shown a
read-only view of the assessment (``readonly.py``), within a time budget (``budget.py``);
whatever it raises (``SystemExit`` included), a call over budget, and every card that is
not valid (each text bounded) become error entries naming it, and every other plugin
still runs on the same view. The judgements are never changed by a plugin.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from jdm_cds.language.records import Record
from jdm_cds.language.rulebase import Source, core_pack_paths
from jdm_cds.model.assessment import Assessment, GuidanceCard, PluginError
from jdm_cds.model.patient import Patient
from jdm_cds.plugins import hookspecs
from jdm_cds.plugins.budget import (
    DEFAULT_BUDGET,
    Done,
    Failed,
    HookRunner,
    Outcome,
    call_once,
    describe,
    failure,
)
from jdm_cds.plugins.hookspecs import PROJECT
from jdm_cds.plugins.readonly import read_only

RULE_PACKS = "jdm_cds_rule_packs"
GUIDANCE = "jdm_cds_guidance"
_SEVERITY = {"critical": 0, "warning": 1, "info": 2}
MAX_CARDS = 100  # cards one plugin may give one patient
BUILT_IN_PACKAGE = "jdm_cds_plugins."


# The plugins loaded in this process that are not jdm-cds's own (``others_loaded``).
_OTHERS: set[str] = set()


def others_loaded() -> bool:
    """Whether this process has loaded a plugin that is not one of jdm-cds's built-in ones:
    code of another package that ran here (``jdm_cds.cli.program`` ends a process without
    the interpreter's teardown only when none has)."""
    return bool(_OTHERS)


class PluginLoadError(Exception):
    """A plugin could not be loaded; nothing is evaluated without it."""

    def __init__(self, plugin: str | None, message: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class PluginInfo(Record):
    """What ``jdm-cds plugins list`` shows of one plugin."""

    name: str
    package: str | None  # distribution name; None for a plugin registered in code
    version: str | None
    packs: tuple[Path, ...]
    hooks: tuple[str, ...]


def _entry_points() -> dict[str, list[importlib.metadata.EntryPoint]]:
    """The group's entry points by plugin name, from one scan of the installed
    distributions (each distribution once, the first on the path)."""
    found: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for ep in importlib.metadata.entry_points(group=PROJECT):
        found.setdefault(ep.name, []).append(ep)
    return found


def _package(ep: importlib.metadata.EntryPoint) -> str:
    return "?" if ep.dist is None else ep.dist.name


def plugin_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows the jdm-cds hook specifications."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class Plugins:
    """The plugins of one run, with their rule packs and guidance hooks resolved once."""

    def __init__(self, pm: pluggy.PluginManager, budget: float | None = DEFAULT_BUDGET,
                 entry_points: Mapping[str, importlib.metadata.EntryPoint] | None = None
                 ) -> None:
        self.pm = pm
        self._entry_points = dict(entry_points or {})
        self.runner = HookRunner(budget)
        self.names = sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)
        # The built-in antibody plugins are part of jdm-cds (their packs are files beside
        # them, their guidance looks up static cards): called in this thread, saving a
        # thread switch per call. Every other plugin is called on a worker thread within
        # the budget.
        self._built_in = {name for name in self.names
                          if _module_of(pm.get_plugin(name)).startswith(BUILT_IN_PACKAGE)}
        _OTHERS.update(name for name in self.names if name not in self._built_in)
        self.packs = {name: self._packs_of(name) for name in self.names}
        impls = pm.hook.jdm_cds_guidance.get_hookimpls()
        guided = {impl.plugin_name for impl in impls}
        self._guidance = [(name, self._caller(GUIDANCE, name))
                          for name in self.names if name in guided]
        # A built-in plugin's hook functions, called directly (pluggy's call of a subset
        # of plugins filters every implementation again at each call: two thirds of the
        # cost of guidance); None where pluggy must call them (a wrapper).
        self._direct = {name: _plain_impls(caller) for name, caller in self._guidance
                        if name in self._built_in}
        self._others = [(name, caller) for name, caller in self._guidance
                        if name not in self._built_in]
        # A read-only view costs half as much as judging the patient: only for those who read it.
        self._shows_assessment = any("assessment" in (*impl.argnames, *impl.kwargnames)
                                     for impl in impls)

    @classmethod
    def load(cls, disabled: Iterable[str] = (), budget: float | None = DEFAULT_BUDGET
             ) -> Plugins:
        """Load every installed plugin except those ``disabled`` (entry-point names); each
        hook call may take ``budget`` seconds (``None``: no limit)."""
        found = _entry_points()
        installed = sorted(found)
        blocked = set(disabled)
        for name in installed:
            # pluggy would load the first and silently skip the others.
            if len(found[name]) > 1 and name not in blocked:
                packages = sorted({_package(ep) for ep in found[name]})
                raise PluginLoadError(name, f"plugin '{name}' is installed by several packages "
                                      f"({', '.join(packages)}): uninstall all but one")
        unknown = sorted(blocked - set(installed))
        if unknown:
            raise PluginLoadError(None, f"cannot disable {', '.join(unknown)}: no plugin "
                                  f"of that name is installed (installed: "
                                  f"{', '.join(installed) or 'none'})")
        pm = plugin_manager()
        for name in blocked:
            pm.set_blocked(name)
        # Each plugin loaded from the scan above, as pluggy's load_setuptools_entrypoints
        # would (which scans every installed distribution again for each plugin named).
        for name in installed:
            if name in blocked:
                continue
            [ep] = found[name]
            try:
                pm.register(ep.load(), name=name)
            except (Exception, SystemExit, GeneratorExit) as error:
                raise PluginLoadError(name, f"plugin '{name}' could not be loaded: "
                                      f"{describe(error)}") from error
        return cls.of(pm, budget, {name: ep for name, [ep, *_] in found.items()})

    @classmethod
    def of(cls, pm: pluggy.PluginManager, budget: float | None = DEFAULT_BUDGET,
           entry_points: Mapping[str, importlib.metadata.EntryPoint] | None = None) -> Plugins:
        """The plugins registered on ``pm``, checked for hooks that do not exist;
        ``entry_points``: those they were loaded from, by name (their packages are listed)."""
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as error:
            name = pm.get_name(error.plugin)
            raise PluginLoadError(name, f"plugin '{name}': {error}") from error
        return cls(pm, budget, entry_points)

    def _caller(self, hook: str, name: str) -> pluggy.HookCaller:
        """The hook of one plugin alone: each plugin is called on its own, so that a
        failure costs only its own part."""
        others = [plugin for other, plugin in self.pm.list_name_plugin()
                  if other != name and plugin is not None]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def _packs_of(self, name: str) -> tuple[Path, ...]:
        caller = self._caller(RULE_PACKS, name)

        def call() -> tuple[Path, ...] | str:
            return _paths(name, caller())

        [outcome] = [call_once(call)] if name in self._built_in else self.runner.run(
            [(name, call)])
        if isinstance(outcome, Done):
            paths: tuple[Path, ...] | str = outcome.value
            if isinstance(paths, str):
                raise PluginLoadError(name, paths)
            return paths
        verb = "failed in" if isinstance(outcome, Failed) else "did not return in time from"
        raise PluginLoadError(name, f"plugin '{name}' {verb} {RULE_PACKS}: {outcome.error}")

    def sources(self) -> list[Source]:
        """The core packs, then each plugin's packs tagged with the plugin's name."""
        core: list[Source] = [(path, None) for path in core_pack_paths()]
        return core + [(path, name) for name in self.names for path in self.packs[name]]

    def info(self) -> list[PluginInfo]:
        # The package of a plugin loaded from an entry point (here, or by pluggy's loader);
        # none for one registered in code.
        dists: dict[str | None, tuple[str, str]] = {
            self.pm.get_name(plugin): (dist.project_name, dist.version)
            for plugin, dist in self.pm.list_plugin_distinfo()}
        dists.update((name, (ep.dist.name, ep.dist.version))
                     for name, ep in self._entry_points.items() if ep.dist is not None)
        listed = []
        for name in self.names:
            plugin = self.pm.get_plugin(name)
            package, version = dists.get(name, (None, None))
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            listed.append(PluginInfo(name=name, package=package, version=version,
                                     packs=self.packs[name], hooks=tuple(hooks)))
        return listed

    def guidance(self, patient: Patient,
                 assessment: Assessment) -> tuple[list[GuidanceCard], list[PluginError]]:
        """Every plugin's cards for this patient; a failing plugin becomes an error entry."""
        if not self._guidance:
            return [], []
        # One view for all: being read-only, no plugin can change what the next one sees.
        # The patient is a frozen model of tuples already.
        view = read_only(assessment) if self._shows_assessment else assessment
        kwargs = {"patient": patient, "assessment": view}
        outcomes: dict[str, Outcome[tuple[list[GuidanceCard], list[str]]]] = {}
        if self._others:  # on a worker thread, within the budget
            outcomes = dict(zip([name for name, _ in self._others], self.runner.run(
                [(name, _guidance_call(name, caller, kwargs)) for name, caller in self._others]),
                strict=True))
        cards: list[GuidanceCard] = []
        errors: list[PluginError] = []
        for name, caller in self._guidance:
            if name in self._built_in:  # called in this thread, as call_once calls
                try:
                    found, problems = _checked(name, _results(caller, self._direct[name],
                                                              kwargs), built_in=True)
                except (Exception, SystemExit, GeneratorExit, KeyboardInterrupt) as error:
                    errors.append(PluginError(plugin=name, hook=GUIDANCE,
                                              error=failure(error).error))
                    continue
            else:
                outcome = outcomes[name]
                if not isinstance(outcome, Done):
                    errors.append(PluginError(plugin=name, hook=GUIDANCE, error=outcome.error))
                    continue
                found, problems = outcome.value
            cards += found
            errors += [PluginError(plugin=name, hook=GUIDANCE, error=p) for p in problems]
        # Every card was validated: its indicator is one of the three.
        cards.sort(key=lambda card: _SEVERITY[card.indicator])
        return cards, errors


def _plain_impls(caller: pluggy.HookCaller) -> list[pluggy.HookImpl] | None:
    """The hook's implementations in the order pluggy calls them (the last registered
    first), when each is a plain function of positional arguments; None otherwise (a
    wrapper, or an argument with a default, which pluggy passes by keyword)."""
    impls = caller.get_hookimpls()
    if any(impl.hookwrapper or impl.wrapper or impl.kwargnames for impl in impls):
        return None
    return impls[::-1]


def _results(caller: pluggy.HookCaller, impls: list[pluggy.HookImpl] | None,
             kwargs: Mapping[str, Any]) -> list[Any]:
    """What the hook returned: pluggy's call, or the same from the plain implementations
    ``impls`` called as pluggy calls them (each result that is not None, in call order)."""
    if impls is None:
        called: list[Any] = caller(**kwargs)
        return called
    results = []
    for impl in impls:
        result = impl.function(*map(kwargs.__getitem__, impl.argnames))
        if result is not None:
            results.append(result)
    return results


def _checked(name: str, results: list[Any], built_in: bool
             ) -> tuple[list[GuidanceCard], list[str]]:
    """The cards of what one plugin's hook returned, and what is wrong with the rest (the
    checks may run the plugin's code too: a mapping's methods, a string's)."""
    cards: list[GuidanceCard] = []
    problems: list[str] = []
    for returned in results:
        found, wrong = _built_in_cards(name, returned) if built_in else _cards(name, returned)
        cards += found
        problems += wrong
    if len(cards) > MAX_CARDS:
        problems.append(f"returned {len(cards)} cards; only the first {MAX_CARDS} are kept")
        cards = cards[:MAX_CARDS]
    return cards, problems


def _guidance_call(name: str, caller: pluggy.HookCaller, kwargs: Mapping[str, Any]
                   ) -> Callable[[], tuple[list[GuidanceCard], list[str]]]:
    """The call a worker makes for one plugin: the hook, then the checks of what it
    returned."""
    return lambda: _checked(name, caller(**kwargs), built_in=False)


def _module_of(plugin: object) -> str:
    """The module a plugin (a module, or an object) is defined in."""
    if isinstance(plugin, ModuleType):
        return plugin.__name__ + "."
    return f"{type(plugin).__module__}."


def _paths(name: str, results: list[Any]) -> tuple[Path, ...] | str:
    """The pack paths a plugin returned, or what is wrong with them."""
    paths: list[Path] = []
    for returned in results:
        if isinstance(returned, str | PathLike) or not isinstance(returned, Sequence) or \
                not all(isinstance(item, str | PathLike) for item in returned):
            shown = repr(returned)
            shown = shown if len(shown) <= 200 else shown[:200] + "..."
            return f"plugin '{name}': {RULE_PACKS} must return a list of paths (got {shown})"
        paths += [Path(item) for item in returned]
    return tuple(paths)


def _cards(plugin: str, returned: object) -> tuple[list[GuidanceCard], list[str]]:
    if isinstance(returned, str | Mapping | BaseModel) or not isinstance(returned, Sequence):
        return [], [f"returned {type(returned).__name__}, not a list of guidance cards"]
    cards, problems = [], []
    for number, item in enumerate(returned, start=1):
        if number > MAX_CARDS + 1:
            break  # enough to say there were too many; the rest is not looked at
        # A card built by the plugin is checked again: model_construct skips validation.
        data = _plain(item)
        if not isinstance(data, Mapping):
            problems.append(f"card {number} is a {type(item).__name__}, not a guidance card")
            continue
        card_id = data.get("id")
        name = f"'{card_id[:200]}'" if isinstance(card_id, str) else str(number)
        try:
            cards.append(GuidanceCard.model_validate({**data, "plugin": plugin}))
        except ValidationError as error:
            reasons = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
                                for e in error.errors(include_input=False))
            problems.append(f"invalid guidance card {name}: {reasons}")
    return cards, problems


def _built_in_cards(plugin: str, returned: object) -> tuple[list[GuidanceCard], list[str]]:
    """A built-in plugin's cards: validated when it read its YAML at start-up (it builds
    every card with the model's constructor) and immutable since, so each needs only its
    plugin's name; anything else it returned is checked as a third party's would be."""
    if not isinstance(returned, list):
        return _cards(plugin, returned)
    cards: list[GuidanceCard] = []
    for card in returned:
        if type(card) is not GuidanceCard:
            return _cards(plugin, returned)
        cards.append(card if card.plugin == plugin else card.model_copy(update={"plugin": plugin}))
    return cards, []


def _plain(item: object) -> object:
    """A card as plain data: a model's fields as a dict, its nested models likewise."""
    if isinstance(item, BaseModel):
        return {key: _plain(value) for key, value in vars(item).items()}
    if isinstance(item, list | tuple):
        return [_plain(value) for value in item]
    return item
