"""The acceptance report's JSON: outline titles filled with their example values, rules and
pack versions named, every text the HTML formatter inserts raw escaped."""

from __future__ import annotations

import base64
import json
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
