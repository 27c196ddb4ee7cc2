"""The JSON Schemas that `jdm-cds schema` prints validate every shipped file, checked by an
independent validator (jsonschema), and refuse what the loaders refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.language import loader, pack_file
from jdm_cds.language.rulebase import core_pack_paths
from jdm_cds.model import yaml12

ROOT = Path(__file__).parent.parent
PACKS = [*core_pack_paths(), *sorted((ROOT / "plugins").glob("*/*.yaml")),
         *sorted((ROOT / "examples").rglob("rules*.yaml"))]
PATIENTS = [ROOT / "examples" / "patient-mda5.yaml",
            *sorted((ROOT / "features" / "study_cases").glob("*.yaml")),
            *sorted((ROOT / "tests" / "data" / "patients").glob("*.*"))]


def schema(name: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(found)
    return found


def read(path: Path) -> Any:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml12.load(text)


@pytest.mark.parametrize("path", [p for p in PACKS if "guidance" not in p.name],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_rule_pack_is_valid_against_the_schema(path: Path) -> None:
    jsonschema.validate(read(path), schema("rule-pack"))


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.name)
def test_every_example_patient_is_valid_against_the_schema(path: Path) -> None:
    jsonschema.validate(read(path), schema("patient"))


@pytest.mark.parametrize("broken", [
    {"pack": {"id": "x", "version": "1", "title": "t"}, "rules": [{"id": 'x."q"', "title": "t",
                                                                   "when": "c"}]},
    {"pack": {"id": "x", "version": "1", "title": "t"}, "rules": [{"id": "x.a", "title": "t",
                                                                   "when": {"field": "a"}}]},
    {"pack": {"id": "x", "version": "1", "title": "t"}, "rules": [{"id": "x.a", "title": "t",
                                                                   "severity": 1, "when": "c"}]},
    {"pack": {"id": "x", "version": "1", "title": "t"}, "derived": {"a:b": {"kind": "k",
                                                                            "title": "t"}}},
    {"pack": {"id": "x", "title": "t"}},
])
def test_the_rule_pack_schema_refuses_what_the_loader_refuses(broken: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema("rule-pack"))


def test_the_loader_reads_the_keys_and_choices_of_the_schema() -> None:
    found = schema("rule-pack")
    defs = found["$defs"]

    assert set(found["properties"]) == loader.PACK_KEYS
    assert set(defs["Rule"]["properties"]) == loader.RULE_KEYS
    assert set(defs["Header"]["properties"]) == loader.HEADER_KEYS
    assert set(defs["Header"]["required"]) == set(loader.REQUIRED_HEADER_KEYS)
    assert defs["Header"]["properties"]["status"]["enum"] == list(loader.PACK_STATUSES)
    conditions = {"all", "any", "not", "at_least", "of", "rule", "field", "lt", "lte", "gt",
                  "gte", "eq", "neq", "is", "contains"}
    assert conditions == loader.CONDITION_KEYS
    assert pack_file.RULE_ID_PATTERN.strip("^$") == loader.RULE_ID.pattern.strip("^$")


def test_the_patient_schema_lists_the_vocabularies_as_enums() -> None:
    found = schema("patient")
    defs = found["$defs"]

    antibodies = found["properties"]["antibodies"]["items"]["enum"]
    assert {"anti-MDA5", "anti-TIF1\N{GREEK SMALL LETTER GAMMA}", "anti-p155/140",
            "negative"} <= set(antibodies)
    assert "ruxolitinib" in defs["Treatment"]["properties"]["drug"]["enum"]
    assert "herpes_zoster" in defs["Visit"]["properties"]["adverse_events"]["items"]["enum"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "p", "antibodies": ["anti-XYZ"],
                             "visits": [{"date": "2020-01-01"}]}, found)
