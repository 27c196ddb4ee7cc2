"""pytest set-up of the Gherkin scenarios: the step library, tags as markers, rule coverage.

The steps live in ``features/steps/library.py`` (documented in ``features/README.md``);
importing them here makes them available to every feature file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd.parser import Feature, Scenario, Step

from features.steps import report_tables
from features.steps.coverage import COVERAGE, RuleCoverage, rule_ids
from features.steps.library import *  # noqa: F403  (step definitions are fixtures)
from features.steps.library import unmatched_step_message
from features.steps.tags import AREA_TAGS
from jdm_cds.language.rulebase import core_pack_paths, read_packs
from jdm_cds.plugins.manager import PluginLoadError

RULE_COVERAGE_TEST = "test_every_rule_is_fired_by_a_scenario"


def pytest_configure(config: pytest.Config) -> None:
    for tag, meaning in AREA_TAGS.items():
        config.addinivalue_line("markers", f"{tag}: {meaning}")
    try:
        ids = rule_ids()
    except PluginLoadError:
        core = read_packs((path, None) for path in core_pack_paths())[0]
        ids = sorted(rule.id for pack in core for rule in pack.rules)
    for rule in ids:
        config.addinivalue_line("markers", f"{rule}: scenarios that exercise rule {rule}")
    config.stash[COVERAGE] = RuleCoverage()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The rule-coverage test reads what every scenario fired, so it runs last."""
    last = [item for item in items if item.name == RULE_COVERAGE_TEST]
    items[:] = [item for item in items if item.name != RULE_COVERAGE_TEST] + last


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Feature,
                              scenario: Scenario) -> None:
    coverage = request.config.stash[COVERAGE]
    coverage.ran(feature.filename, scenario.line_number)
    fired = coverage.take_current()
    if request.config.option.cucumber_json_path:
        example = request.node.callspec.params.get("_pytest_bdd_example", {}) \
            if hasattr(request.node, "callspec") else {}
        report_tables.keep(request.config, feature.rel_filename, request.node.name, scenario,
                           example, fired)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest-bdd has written its cucumber JSON (for `make acceptance-report`)."""
    if session.config.option.cucumber_json_path:
        report_tables.attach(session.config, session.config.option.cucumber_json_path)


def pytest_bdd_step_func_lookup_error(request: pytest.FixtureRequest, feature: Feature,
                                      scenario: Scenario, step: Step,
                                      exception: Exception) -> None:
    where = f"{Path(feature.filename).name}, line {step.line_number}"
    pytest.fail(unmatched_step_message(step.keyword, step.name, where), pytrace=False)
