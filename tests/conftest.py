"""Puts tests/ on the import path (pytest inserts the folder of a conftest.py), so that the
helpers here (campaign.py, longitudinal.py, ...) import from tests in sub-folders too, also
when a sub-folder is run alone (``pytest tests/hostile``)."""

import os
import shutil
import tempfile

import pytest
from hypothesis import settings

# No test is timed (speed is measured by `make bench`): Hypothesis's default deadline of
# 200 ms a case would fail a property test on a loaded machine, not on a wrong answer.
settings.register_profile("jdm-cds", deadline=None)
settings.load_profile("jdm-cds")

_CACHE = "JDM_CDS_CACHE_DIR"
_created = pytest.StashKey[str]()  # the folder this run made


def pytest_configure(config: pytest.Config) -> None:
    """The compiled rule base is cached in a folder of this run (inherited by the commands
    the tests start), not in the user's cache."""
    if _CACHE not in os.environ:
        os.environ[_CACHE] = tempfile.mkdtemp(prefix="jdm-cds-test-cache-")
        config.stash[_created] = os.environ[_CACHE]


def pytest_unconfigure(config: pytest.Config) -> None:
    created = config.stash.get(_created, None)
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        del os.environ[_CACHE]


@pytest.fixture(autouse=True)
def _as_a_new_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's commands print as a new process piped to a file would.

    The program makes its standard output and error consoles once, on first use, with the
    width and colours of that moment: made by an earlier test in the same process (another
    COLUMNS, a pretend terminal), they would be kept for every later one. And a text report
    piped to a file follows COLUMNS, which pytest-xdist's workers set to 80 (a shell does not
    export it): the tests read reports at the width of a pipe, 140 columns, unless a test
    sets COLUMNS itself."""
    from jdm_cds.cli import common

    for console in (common.stdout, common.stderr):
        monkeypatch.setattr(console, "_console", None)
    monkeypatch.delenv("COLUMNS", raising=False)
