"""Which rules the scenarios fire, for the rule-coverage test.

A rule counts as fired when, in some scenario's evaluation, its judgement reached a
decided status (met, not_met or not_applicable) or it raised an alert or recommendation.
An indeterminate judgement does not count: it shows the rule ran, not that a scenario
exercised its criteria.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_bdd.feature import get_features

from jdm_cds.defaults import default_evaluator
from jdm_cds.language.rulebase import read_packs
from jdm_cds.model.assessment import Assessment
from jdm_cds.plugins.manager import Plugins

DECIDED = frozenset({"met", "not_met", "not_applicable"})
FEATURES = Path(__file__).resolve().parents[1]
BUILT_IN_PLUGINS = FEATURES.parent / "plugins"


@dataclass
class RuleCoverage:
    fired: set[str] = field(default_factory=set)
    scenarios: set[tuple[str, int]] = field(default_factory=set)  # (feature file, line)
    # What the running scenario has fired so far, rule id -> pack version (for the report).
    current: dict[str, str] = field(default_factory=dict)

    def record(self, assessment: Assessment) -> None:
        fired = {rule: j.version for rule, j in assessment.judgements.items()
                 if j.status in DECIDED}
        fired |= {alert.rule: alert.version for alert in assessment.alerts}
        fired |= {rec.rule: rec.version for rec in assessment.recommendations}
        self.fired |= set(fired)
        self.current |= fired

    def take_current(self) -> dict[str, str]:
        """The rules the scenario that just ended fired, and start afresh."""
        fired, self.current = self.current, {}
        return fired

    def ran(self, feature_file: str, line: int) -> None:
        self.scenarios.add((str(Path(feature_file).resolve()), line))


COVERAGE = pytest.StashKey[RuleCoverage]()


def all_scenarios() -> dict[tuple[str, int], str]:
    """(feature file, line) -> name of every scenario in features/ (an outline once)."""
    return {(str(Path(feature.filename).resolve()), scenario.line_number): scenario.name
            for feature in get_features([str(FEATURES)])
            for scenario in feature.scenarios.values()}


def rules_to_cover() -> dict[str, str]:
    """Rule id -> pack file, for the core packs and the built-in plugins' packs (a plugin
    installed from elsewhere brings its own scenarios)."""
    rulebase = default_evaluator().rulebase
    return {rule: compiled.pack.file for rule, compiled in rulebase.rules.items()
            if compiled.pack.plugin is None
            or Path(compiled.pack.file).resolve().is_relative_to(BUILT_IN_PLUGINS)}


def rule_ids() -> list[str]:
    """Every rule id in the installed packs, read without compiling (so that a pack being
    edited cannot stop the test run before its own tests report it)."""
    packs, _ = read_packs(Plugins.load().sources())
    return sorted(rule.id for pack in packs for rule in pack.rules)
