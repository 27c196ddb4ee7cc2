"""``jdm-cds schema``: the JSON Schema of an input file."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer


class SchemaName(StrEnum):
    patient = "patient"
    rule_pack = "rule-pack"


def schema(name: Annotated[SchemaName, typer.Argument(help="Which schema.")]) -> None:
    """Print the JSON Schema of an input file (a patient file or a rule pack), for
    integrators and editors."""
    from jdm_cds.language.pack_file import rule_pack_json_schema
    from jdm_cds.model.patient import patient_json_schema

    found = patient_json_schema() if name is SchemaName.patient else rule_pack_json_schema()
    print(json.dumps(found, indent=2, ensure_ascii=False))
