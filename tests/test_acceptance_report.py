"""The acceptance report: its JSON (outline titles filled with their example values, rules
and pack versions named, every text the HTML formatter inserts raw escaped), and the HTML
page that the formatter makes of it, as headless Chromium shows it."""

from __future__ import annotations

import base64
import html.parser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from features.steps import report_tables


def test_titles_filled_escaped_and_rules_named(tmp_path: Path) -> None:
    folder = tmp_path / "cucumber"
    folder.mkdir()
    report = folder / "acceptance.json"
    report.write_text(json.dumps([{
        "uri": "x.feature", "name": "<script>alert(1)</script> & co", "description": "",
        "tags": [{"name": "<b>tag</b>"}],
        "elements": [{"id": "test_x[1]", "name": "Stop on <= 0.2 mg/kg/day (<why>)",
                      "description": "", "tags": [],
                      "steps": [{"line": 3, "name": "the visits:"}]}]}]))
    config = SimpleNamespace(stash=pytest.Stash())
    kept = report_tables.Kept({3: "| ck | <img src=x> |"}, report_tables.filled_title(
        "Stop on <= 0.2 mg/kg/day (<why>)", {"why": "CID not sustained"}),
        {"withdrawal.steroid_stop": "1.0.0"})
    config.stash[report_tables.STEP_TEXTS] = {("x.feature", "test_x[1]"): kept}

    report_tables.attach(config, str(report))  # type: ignore[arg-type]

    [feature] = json.loads(report.read_text())
    [element] = feature["elements"]
    assert feature["name"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    assert feature["tags"][0]["name"] == "&lt;b&gt;tag&lt;/b&gt;"
    assert element["name"] == "Stop on &lt;= 0.2 mg/kg/day (CID not sustained)"
    assert "()" not in element["name"] and "<why>" not in element["name"]
    assert "withdrawal.steroid_stop 1.0.0" in element["description"]
    table = base64.b64decode(element["steps"][0]["embeddings"][0]["data"]).decode()
    assert table == "| ck | &lt;img src=x&gt; |"
    coverage = json.loads((tmp_path / "rule-coverage.json").read_text())
    assert coverage == {"withdrawal.steroid_stop": {"version": "1.0.0", "scenarios": 1}}


# --- the HTML report as a browser shows it -------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
REPORT_TOOL = ROOT / "tools" / "acceptance-report"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGE_TITLE = "jdm-cds acceptance scenarios"  # generate.js's pageTitle

# Each piece of markup, if the report inserted it as HTML, would change the page's title.
FEATURE = 'Hostile <script>document.title = "feature script ran"</script> ' \
    "<img src=x onerror=\"document.title='feature img ran'\">"
SCENARIO = 'Titled <script>document.title = "scenario script ran"</script> ' \
    "<img src=x onerror=\"document.title='scenario img ran'\">"
OUTLINE_VALUE = "<img src=y onerror=\"document.title='outline img ran'\"> & co"
HOSTILE_FEATURE = f"""\
Feature: {FEATURE}
  A description <script>document.title = "description script ran"</script>

  Scenario: {SCENARIO}
    Given a patient "BAD"
    And a visit on 2020-01-10 with CK (U/L) -5
    When the patient is evaluated
    Then the patient is rejected with "visits[0].ck_u_l: must be >= 0 (got -5)"

  Scenario Outline: Outline (<why>)
    Given a patient "BAD"
    And a visit on 2020-01-10 with CK (U/L) <value>
    When the patient is evaluated
    Then the patient is rejected with "visits[0].ck_u_l: must be >= 0 (got <value>)"

    Examples:
      | why | value |
      | {OUTLINE_VALUE} | -5 |
"""


class _Page(html.parser.HTMLParser):
    """What a reader of the page sees (its text) and the active markup it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.handlers: list[str] = []  # on* attributes, as tag.attribute=value
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"{tag}.{name}={value}" for name, value in attrs
                          if name.startswith("on")]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def _report_tool() -> Path:
    """generate.js with its formatter installed (npm ci, as make acceptance-report does)."""
    if shutil.which("node") is None or CHROMIUM is None:
        pytest.skip("node and headless Chromium are needed (Debian packages nodejs, chromium)")
    if not (REPORT_TOOL / "node_modules" / ".package-lock.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to install the report formatter (Debian package npm)")
        subprocess.run([npm, "ci", "--prefix", str(REPORT_TOOL), "--no-audit", "--no-fund",
                        "--loglevel=error"], check=True, capture_output=True, timeout=300)
    return REPORT_TOOL / "generate.js"


def _shown(page: Path, profile: Path) -> str:
    """The page's DOM once headless Chromium has loaded it and run its scripts."""
    assert CHROMIUM is not None
    from browser import FLAGS

    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         "--dump-dom", page.resolve().as_uri()],
        check=True, capture_output=True, text=True, timeout=120).stdout


def test_markup_in_feature_and_scenario_titles_is_shown_never_run(tmp_path: Path) -> None:
    """A feature file with <script> and <img onerror> in its titles, run by pytest-bdd as
    `make acceptance-report` runs the features, rendered by the HTML formatter and opened
    in headless Chromium: no script of the titles runs, and each title reads as written."""
    generate = _report_tool()
    (tmp_path / "hostile.feature").write_text(HOSTILE_FEATURE, encoding="utf-8")
    (tmp_path / "test_hostile.py").write_text(
        'from pytest_bdd import scenarios\n\nscenarios("hostile.feature")\n', encoding="utf-8")
    (tmp_path / "conftest.py").write_text("from features.conftest import *  # noqa: F403\n",
                                          encoding="utf-8")
    cucumber = tmp_path / "reports" / "cucumber"
    cucumber.mkdir(parents=True)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tmp_path / "test_hostile.py"),
         f"--cucumberjson={cucumber / 'acceptance.json'}"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    site = tmp_path / "reports" / "acceptance"
    subprocess.run(["node", str(generate), str(cucumber), str(site)], check=True,
                   capture_output=True, timeout=120)
    [feature_page] = (site / "features").glob("*.html")

    for page, titles in ((site / "index.html", [FEATURE]),
                         (feature_page, [FEATURE, SCENARIO, f"Outline ({OUTLINE_VALUE})"])):
        dom = _shown(page, tmp_path / "profile")
        seen = _Page()
        seen.feed(dom)
        text = " ".join(" ".join(seen.text).split())
        # The page's own scripts ran (its tables are built by them): the browser ran scripts.
        assert "dataTables_wrapper" in dom, page.name
        assert f"<title>{PAGE_TITLE}</title>" in dom, dom[:500]  # no title script ran
        assert not [h for h in seen.handlers if " ran" in h], seen.handlers  # page's own only
        assert not [s for s in seen.scripts if " ran" in s]
        for title in titles:
            assert title in text, (title, page.name)  # as written, not as markup
