"""Complete pytest-bdd's cucumber JSON for the HTML acceptance report, and make it safe.

pytest-bdd writes step names only, so "Given the visits:" would reach the HTML report
without its visits. After a scenario runs, its rendered steps (outline placeholders filled
in) are kept, with its title filled with the example's values and the rules it fired (and
their pack versions); when the session ends, they are added to the JSON: the tables as text
attachments, which the HTML formatter shows under each step, the rules in the scenario's
description, and a summary of rule coverage next to the JSON (``rule-coverage.json``).

The HTML formatter inserts names, descriptions, tags and attachments unescaped: every such
text is HTML-escaped here, so that a ``<script>`` in a title is shown, never run.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.parser import Scenario

# (feature file as in the JSON's "uri", test name as in its element "id") -> what to add
StepTexts = dict[tuple[str, str], "Kept"]
STEP_TEXTS = pytest.StashKey[StepTexts]()


class Kept:
    """What one scenario adds to its JSON element."""

    def __init__(self, texts: dict[int, str], title: str, fired: dict[str, str]) -> None:
        self.texts, self.title, self.fired = texts, title, fired


def filled_title(title: str, example: dict[str, str]) -> str:
    """An outline's title with each ``<name>`` of its example replaced by the value (only
    the example's own names: ``<= 0.2`` in a title stays as written)."""
    for name, value in example.items():
        title = title.replace(f"<{name}>", str(value))
    return title


def table_text(rows: Sequence[Sequence[object]]) -> str:
    """A data table as the feature file shows it, columns aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                     + " |" for row in cells)


def keep(config: pytest.Config, uri: str, test_name: str, scenario: Scenario,
         example: dict[str, str], fired: dict[str, str]) -> None:
    texts: dict[int, str] = {}
    for step in scenario.steps:
        if step.datatable is not None:
            texts[step.line_number] = table_text(step.datatable.raw())
        elif step.docstring is not None:
            texts[step.line_number] = step.docstring
    config.stash.setdefault(STEP_TEXTS, {})[(uri, test_name)] = Kept(
        texts, filled_title(scenario.name, example), fired)


def attach(config: pytest.Config, path: str) -> None:
    """Complete and escape the cucumber JSON at ``path``; write the rule coverage by it."""
    kept = config.stash.get(STEP_TEXTS, {})
    report = Path(path)
    if not report.exists():
        return
    features = json.loads(report.read_text(encoding="utf-8"))
    coverage: dict[str, dict[str, object]] = {}
    for feature in features:
        for element in feature["elements"]:
            found = kept.get((feature["uri"], element["id"]))
            if found is not None:
                element["name"] = found.title
                rules = ", ".join(f"{rule} {version}" for rule, version in
                                  sorted(found.fired.items()))
                if rules:
                    element["description"] = (element.get("description") or "") + \
                        f"\nRules exercised (pack version): {rules}"
                for rule, version in found.fired.items():
                    entry = coverage.setdefault(rule, {"version": version, "scenarios": 0})
                    entry["scenarios"] = int(str(entry["scenarios"])) + 1
                for step in element["steps"]:
                    if step["line"] in found.texts:
                        text = html.escape(found.texts[step["line"]])
                        data = base64.b64encode(text.encode()).decode()
                        step["embeddings"] = [{"mime_type": "text/plain", "data": data}]
        _escape(feature)
    report.write_text(json.dumps(features, indent=2, ensure_ascii=False), encoding="utf-8")
    (report.parent.parent / "rule-coverage.json").write_text(
        json.dumps(dict(sorted(coverage.items())), indent=2), encoding="utf-8")


def _escape(feature: dict[str, Any]) -> None:
    """HTML-escape what the formatter inserts raw: names, descriptions, tags (step names
    it escapes itself)."""
    for item in (feature, *feature["elements"]):
        for key in ("name", "description"):
            if isinstance(item.get(key), str):
                item[key] = html.escape(item[key])
        for tag in item.get("tags", []):
            tag["name"] = html.escape(tag["name"])
    for element in feature["elements"]:
        for step in element["steps"]:
            # The formatter escapes < and > of a step name, not &: keep it readable.
            step["name"] = re.sub(r"&(?!lt;|gt;)", "&amp;", step["name"])
