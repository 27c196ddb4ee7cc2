"""pytest set-up of the Gherkin scenarios: the step library, tags as markers, rule coverage.

The steps live in ``features/steps/library.py`` (documented in ``features/README.md``);
importing them here makes them available to every feature file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_bdd.parser import Feature, Scenario, Step

from features.steps import report_tables
from features.steps.coverage import COVERAGE, RuleCoverage, rule_ids
from features.steps.fhir import *  # noqa: F403  (FHIR input steps)
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
    # A clinician's own tags are allowed: every tag of a feature file in reach is registered,
    # so --strict-markers refuses only a misspelt -m, never a feature file.
    known = {*AREA_TAGS, *ids}
    for tag in sorted(feature_tags(config) - known):
        config.addinivalue_line("markers", f"{tag}: a tag of a feature file")
    config.stash[COVERAGE] = RuleCoverage()


_TAG = re.compile(r"(?<!\S)@(\S+)")


def feature_tags(config: pytest.Config) -> set[str]:
    """The tags written in the feature files under features/ and under the paths given."""
    roots = [Path(__file__).parent, *(Path(str(arg).split("::")[0]) for arg in config.args)]
    files: set[Path] = set()
    for root in roots:
        if root.suffix == ".feature" and root.is_file():
            files.add(root.resolve())
        elif root.is_dir():
            files.update(p.resolve() for p in root.rglob("*.feature"))
    tags: set[str] = set()
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lstrip().startswith("@"):
                tags.update(_TAG.findall(line))
    return tags


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
