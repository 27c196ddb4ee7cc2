"""Build the evaluator of a run: core rule packs plus those of installed plugins."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.cache import cached_rulebase
from jdm_cds.language.compiler import RuleBase
from jdm_cds.plugins.budget import DEFAULT_BUDGET
from jdm_cds.plugins.manager import Plugins


def default_evaluator(disabled: Iterable[str] = (),
                      plugin_budget: float | None = DEFAULT_BUDGET) -> Evaluator:
    """The evaluator with the core packs and every installed plugin but ``disabled``, each
    plugin hook call within ``plugin_budget`` seconds (``None``: no limit).

    Built once per process, set of disabled plugins and budget, and shared by every thread.
    Raises ``PluginLoadError`` when a plugin cannot be loaded and ``RuleLoadError`` when a
    pack, core or plugin, is invalid.
    """
    return _evaluator(frozenset(disabled), plugin_budget)


@functools.cache
def _evaluator(disabled: frozenset[str], plugin_budget: float | None) -> Evaluator:
    return evaluator_for(Plugins.load(disabled, plugin_budget))


def evaluator_for(plugins: Plugins) -> Evaluator:
    """An evaluator over the core packs and the packs and guidance of ``plugins`` (the
    rule base compiled once per set of packs and version: jdm_cds.language.cache)."""
    return Evaluator(cached_rulebase(plugins.sources()), plugins.guidance)


def default_rulebase(disabled: Iterable[str] = (),
                     plugin_budget: float | None = DEFAULT_BUDGET) -> RuleBase:
    """The rule base ``default_evaluator`` judges with, without the engine it would build
    (what reads the rules, such as a report's glossary, needs no engine); raises as
    ``default_evaluator`` does."""
    return cached_rulebase(Plugins.load(disabled, plugin_budget).sources())
