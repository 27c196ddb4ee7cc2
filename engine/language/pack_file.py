"""The rule-pack file as pydantic models: the structure the loader reads, and its JSON Schema.

These models are the one statement of what a pack file may hold: the loader takes its
allowed keys, required keys and choices from them (and reports each problem at its
``file:line``), and ``jdm-cds schema rule-pack`` prints their JSON Schema, so that editors
validate and complete pack files against exactly what the loader accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from jdm_cds.language.compiler import RESERVED_KEYS
from jdm_cds.language.rule_types import COMPARISONS, STATUSES, Indicator, Kind, Scope

# These models describe the file (the loader takes its keys from their fields, `jdm-cds
# schema rule-pack` their JSON Schema); nothing is validated with them at start-up, so
# their validators are built only if and when first used.
_CLOSED = ConfigDict(extra="forbid", defer_build=True)

PackStatus = Literal["draft", "active", "retired"]
RULE_ID_PATTERN = r"^[a-z0-9_.-]+$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A threshold is a finite number of at most 2**53 in size (the engine compares doubles).
Threshold = Annotated[float, Field(allow_inf_nan=False, ge=-(2**53), le=2**53)]
Names = list[str] | str  # a list of names, or one name


class AllOf(BaseModel):
    model_config = _CLOSED
    all: list[Condition] = Field(min_length=1, description="Every condition holds (Kleene and)")


class AnyOf(BaseModel):
    model_config = _CLOSED
    any: list[Condition] = Field(min_length=1, description="Some condition holds (Kleene or)")


class NotOf(BaseModel):
    model_config = _CLOSED
    not_: Condition = Field(alias="not", description="The condition does not hold")


class AtLeast(BaseModel):
    model_config = _CLOSED
    at_least: int = Field(ge=1, description="How many of the conditions must hold")
    of: list[Condition] = Field(min_length=1)


class RuleReference(BaseModel):
    model_config = _CLOSED
    rule: str = Field(description="A judgement of the same scope: it is met")


def _comparison(op: str, value: Any, description: str) -> type[BaseModel]:
    return create_model(  # type: ignore[no-any-return, call-overload]
        f"Field_{op}", __config__=_CLOSED,
        field=(str, Field(description="A patient field or a derived value")),
        **{op: (value, Field(description=description))})


_NUMBER_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
FIELD_TESTS: tuple[type[BaseModel], ...] = (
    *(_comparison(op, Threshold, f"field {sign} this number")
      for op, sign in _NUMBER_OPS.items()),
    *(_comparison(op, bool | Threshold | str, f"field {'=' if op == 'eq' else '!='} this "
                  "value") for op in ("eq", "neq")),
    _comparison("is", Literal[STATUSES], "a status field holds this status"),
    _comparison("contains", str, "a list field (antibodies, adverse events) holds this item"),
)
assert {m.__name__.removeprefix("Field_") for m in FIELD_TESTS} == {*COMPARISONS, "is",
                                                                     "contains"}

CONDITION_MODELS: tuple[type[BaseModel], ...] = (AllOf, AnyOf, NotOf, AtLeast, RuleReference,
                                                 *FIELD_TESTS)
Condition = Union[str, *CONDITION_MODELS]  # type: ignore[valid-type]
for _model in (AllOf, AnyOf, NotOf, AtLeast):
    _model.model_rebuild()


class Reference(BaseModel):
    model_config = _CLOSED
    citation: str = Field(description="The published source, as it is cited")
    url: str | None = Field(None, description="Where to read it (a DOI link)")


class Header(BaseModel):
    model_config = _CLOSED
    id: str = Field(description="Pack id, unique across every loaded pack")
    version: str | float = Field(description="Reported with every judgement; kept as written")
    title: str
    status: PackStatus = "active"
    references: dict[str, Reference] = Field({}, description="Sources the rules cite")
    assumptions: dict[str, str] = Field({}, description="Labelled ASSUMPTIONs rules may name")


class Derived(BaseModel):
    """A value Python computes before the engine sees the facts; the other keys are the
    parameters of its kind."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    kind: str = Field(description="A registered kind (see the README)")
    scope: Scope = "patient"
    title: str
    label: str | None = Field(None, description="Short name in the text report")
    unit: str | None = Field(None, description="Unit shown with the value in the text report")


class Criterion(BaseModel):
    model_config = _CLOSED
    title: str
    label: str | None = Field(None, description="Short name in the text report")
    when: Condition


class Message(BaseModel):
    model_config = _CLOSED
    summary: str
    detail: str = ""
    indicator: Indicator = "info"


class Reason(BaseModel):
    model_config = _CLOSED
    when: Condition
    text: str


class Rule(BaseModel):
    model_config = _CLOSED
    id: str = Field(pattern=RULE_ID_PATTERN, description="Unique across packs; the output key")
    title: str
    label: str | None = Field(None, description="Short name in the text report")
    kind: Kind = "judgement"
    scope: Scope = "patient"
    when: Condition
    applies_if: Condition | None = Field(None, description="Proved false: not_applicable")
    undecided_if: Condition | None = Field(
        None, description="While it holds, not_met is held open as indeterminate")
    references: Names = Field([], description="Keys of the pack's references")
    assumptions: Names = Field([], description="Keys of the pack's assumptions")
    report: Names = Field([], description="Fact values copied into the judgement's values")
    alert: Message | None = None
    recommendation: Message | None = None
    reasons: list[Reason] = Field([], description="Said when the judgement is indeterminate")


_RESERVED: list[Any] = sorted(RESERVED_KEYS)


class PackFile(BaseModel):
    """A rule pack file."""

    model_config = _CLOSED
    pack: Header
    derived: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Derived] = Field(
        {}, description="Values computed before the engine sees the facts, by name",
        json_schema_extra={"additionalProperties": False,
                           "propertyNames": {"not": {"enum": _RESERVED}}})
    criteria: dict[str, Criterion] = {}
    rules: list[Rule] = []


def keys(model: type[BaseModel]) -> set[str]:
    """The keys a mapping of this model may hold, as written in YAML."""
    return {info.alias or name for name, info in model.model_fields.items()}


def required(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items()
                 if info.is_required())


def choices(model: type[BaseModel], name: str) -> tuple[str, ...]:
    annotation = model.model_fields[name].annotation
    return tuple(getattr(annotation, "__args__", ()))


def rule_pack_json_schema() -> dict[str, Any]:
    schema = PackFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jdm-cds rule pack"
    return schema
