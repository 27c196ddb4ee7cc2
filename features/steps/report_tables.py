"""Put each step's data table and doc string into pytest-bdd's cucumber JSON.

pytest-bdd writes step names only, so "Given the visits:" would reach the HTML report
without its visits. After a scenario runs, its rendered steps (outline placeholders filled
in) are kept; when the session ends, they are added to the JSON as text attachments, which
the HTML formatter shows under each step.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from pytest_bdd.parser import Scenario

# (feature file as in the JSON's "uri", test name as in its element "id") -> step line -> text
StepTexts = dict[tuple[str, str], dict[int, str]]
STEP_TEXTS = pytest.StashKey[StepTexts]()


def table_text(rows: Sequence[Sequence[object]]) -> str:
    """A data table as the feature file shows it, columns aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                     + " |" for row in cells)


def keep(config: pytest.Config, uri: str, test_name: str, scenario: Scenario) -> None:
    texts: dict[int, str] = {}
    for step in scenario.steps:
        if step.datatable is not None:
            texts[step.line_number] = table_text(step.datatable.raw())
        elif step.docstring is not None:
            texts[step.line_number] = step.docstring
    if texts:
        config.stash.setdefault(STEP_TEXTS, {})[(uri, test_name)] = texts


def attach(config: pytest.Config, path: str) -> None:
    """Add the kept texts to the cucumber JSON at ``path`` as text/plain embeddings."""
    kept = config.stash.get(STEP_TEXTS, {})
    report = Path(path)
    if not kept or not report.exists():
        return
    features = json.loads(report.read_text(encoding="utf-8"))
    for feature in features:
        for element in feature["elements"]:
            texts = kept.get((feature["uri"], element["id"]), {})
            for step in element["steps"]:
                if step["line"] in texts:
                    data = base64.b64encode(texts[step["line"]].encode()).decode()
                    step["embeddings"] = [{"mime_type": "text/plain", "data": data}]
    report.write_text(json.dumps(features, indent=2, ensure_ascii=False), encoding="utf-8")
