"""Every rule of the core packs and built-in plugins is fired by at least one scenario.

Runs after the scenarios (see ``pytest_collection_modifyitems`` in conftest.py) and reads
what they fired. It only judges a run in which every scenario ran: `pytest -m printo`
deselects it, and a run of part of the scenarios skips it.
"""

from pathlib import Path

import pytest

from features.steps.coverage import COVERAGE, all_scenarios, rules_to_cover


def test_every_rule_is_fired_by_a_scenario(request: pytest.FixtureRequest) -> None:
    coverage = request.config.stash[COVERAGE]
    written = all_scenarios()
    not_run = sorted(name for key, name in written.items() if key not in coverage.scenarios)
    if not_run:
        pytest.skip(f"rule coverage is checked on a run of every scenario; {len(not_run)} of "
                    f"{len(written)} did not run")
    root = Path(__file__).resolve().parents[1]
    unfired = sorted(f"{rule} ({Path(pack).resolve().relative_to(root)})"
                     for rule, pack in rules_to_cover().items() if rule not in coverage.fired)
    assert not unfired, ("rules fired by no scenario (no decided status, alert or "
                         "recommendation):\n  " + "\n  ".join(unfired))
