"""``jdm-cds schema``: the JSON Schema of an input file."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from jdm_cds.model.patient import patient_json_schema


class SchemaName(StrEnum):
    patient = "patient"


def schema(name: Annotated[SchemaName, typer.Argument(help="Which schema.")]) -> None:
    """Print the JSON Schema of an input file, for integrators."""
    print(json.dumps(patient_json_schema(), indent=2))
