"""One patient file: pydantic models, loading, and readable validation errors.

Validation is deliberately unforgiving. A misspelt field, a number written as
text or an impossible date is an error rather than something quietly dropped
or coerced, because a missing CK or a wrong dose changes what the rules
conclude about the child.
"""

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

ANTIBODIES = frozenset(
    {
        "anti-MDA5",
        "anti-NXP2",
        "anti-TIF1g",
        "anti-Mi-2",
        "anti-SAE",
        "anti-SRP",
        "anti-HMGCR",
        "negative",
    }
)

# Keys are names after _antibody_key() has removed case, separators and the "anti" prefix.
_ANTIBODY_ALIASES = {
    "mda5": "anti-MDA5",
    "cadm140": "anti-MDA5",
    "nxp2": "anti-NXP2",
    "mj": "anti-NXP2",
    "tif1g": "anti-TIF1g",
    "tif1\N{GREEK SMALL LETTER GAMMA}": "anti-TIF1g",
    "tif1gamma": "anti-TIF1g",
    "p155/140": "anti-TIF1g",
    "p155": "anti-TIF1g",
    "mi2": "anti-Mi-2",
    "sae": "anti-SAE",
    "sae1": "anti-SAE",
    "srp": "anti-SRP",
    "hmgcr": "anti-HMGCR",
    "negative": "negative",
    "msanegative": "negative",
    "none": "negative",
}

JAK_INHIBITORS = frozenset({"ruxolitinib", "baricitinib", "tofacitinib", "upadacitinib"})

DRUGS = JAK_INHIBITORS | {
    "plasma_exchange",
    "immunoadsorption",
    "methotrexate",
    "mycophenolate",
    "ivig",
    "cyclophosphamide",
    "ciclosporin",
    "tacrolimus",
    "rituximab",
    "hydroxychloroquine",
    "prednisone",
    "methylprednisolone",
}

ADVERSE_EVENTS = frozenset(
    {
        "herpes_zoster",
        "varicella",
        "skin_abscess",
        "other_infection",
        "cytopenia",
        "abdominal_pain",
        "gastrointestinal_bleeding",
        "skin_ulceration",
        "oral_ulcers",
        "dyspnoea",
        "calcinosis",
        "lipodystrophy",
    }
)

Sex = Literal["female", "male", "other"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def _antibody_key(name: str) -> str:
    # Labs differ in case, hyphens, spaces and the "anti-" prefix, never in the target.
    return re.sub(r"[\s_-]", "", name.casefold()).removeprefix("anti")


def _canonical_antibody(name: str) -> str:
    canonical = _ANTIBODY_ALIASES.get(_antibody_key(name))
    if canonical is None:
        raise ValueError(f"unknown antibody {name!r} (allowed: {_listing(ANTIBODIES)})")
    return canonical


def _member_of(vocabulary: frozenset[str], kind: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in vocabulary:
            raise ValueError(f"unknown {kind} {value!r} (allowed: {_listing(vocabulary)})")
        return value

    return AfterValidator(check)


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _iso_date(value: object) -> object:
    # JSON has no date type, so a YYYY-MM-DD string stands in for one. Anything
    # else, including an impossible date like 2020-13-01, is left for the strict
    # date check to reject, which also refuses timestamps given as numbers.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value)
    return value


_IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), Field(strict=True)]
_Antibody = Annotated[str, AfterValidator(_canonical_antibody)]
_Drug = Annotated[str, _member_of(DRUGS, "drug")]
_AdverseEvent = Annotated[str, _member_of(ADVERSE_EVENTS, "adverse event")]


def _measure(
    description: str,
    *,
    ge: float | None = 0,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """An optional number (None = not recorded); its range is written into the description."""
    bounds = [
        f"{op} {limit:g}" for op, limit in ((">=", ge), (">", gt), ("<=", le)) if limit is not None
    ]
    return Field(
        None,
        strict=True,
        allow_inf_nan=False,
        ge=ge,
        gt=gt,
        le=le,
        description=f"{description}; {' and '.join(bounds)}; omit if not recorded",
    )


class Treatment(BaseModel):
    """One course of a drug or procedure."""

    model_config = _STRICT

    drug: _Drug = Field(description=f"Drug or procedure, one of: {_listing(DRUGS)}")
    start: _IsoDate = Field(description="First day of treatment (YYYY-MM-DD)")
    stop: _IsoDate | None = Field(
        None,
        description="Day treatment stopped, no longer given from this day (YYYY-MM-DD); "
        "omit while ongoing",
    )
    dose_mg_per_day: float | None = _measure("Dose in mg/day")

    @field_validator("stop")
    @classmethod
    def _stop_not_before_start(cls, stop: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start")  # absent when start itself was invalid
        if stop is not None and start is not None and stop < start:
            raise ValueError(f"stop {stop.isoformat()} is before start {start.isoformat()}")
        return stop

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.stop is None or self.stop > day)

    @property
    def is_jak_inhibitor(self) -> bool:
        return self.drug in JAK_INHIBITORS


class Visit(BaseModel):
    """One clinic visit; every measurement is optional because few visits record them all."""

    model_config = _STRICT

    date: _IsoDate = Field(description="Visit date (YYYY-MM-DD)")
    weight_kg: float | None = _measure("Body weight in kg", ge=None, gt=0, le=200)
    ck_u_l: float | None = _measure("Creatine kinase in U/L")
    aldolase_u_l: float | None = _measure("Aldolase in U/L")
    ldh_u_l: float | None = _measure("Lactate dehydrogenase in U/L")
    ast_u_l: float | None = _measure("Aspartate aminotransferase in U/L")
    alt_u_l: float | None = _measure("Alanine aminotransferase in U/L")
    cmas: float | None = _measure(
        "Childhood Myositis Assessment Scale, points (higher is stronger)", le=52
    )
    mmt8: float | None = _measure(
        "Manual Muscle Testing of 8 groups, points (higher is stronger)", le=80
    )
    physician_global_vas: float | None = _measure(
        "Physician global disease activity, visual analogue scale in cm", le=10
    )
    parent_global_vas: float | None = _measure(
        "Parent global assessment of well-being, visual analogue scale in cm", le=10
    )
    extramuscular_vas: float | None = _measure(
        "Extramuscular disease activity, visual analogue scale in cm", le=10
    )
    chaq: float | None = _measure(
        "Childhood Health Assessment Questionnaire disability index", le=3
    )
    das_skin: float | None = _measure("Disease Activity Score, skin part, points", le=9)
    das_muscle: float | None = _measure("Disease Activity Score, muscle part, points", le=11)
    das_total: float | None = _measure("Disease Activity Score, total, points", le=20)
    prednisone_mg_per_kg_day: float | None = _measure(
        "Prednisone dose in mg/kg/day (give this or prednisone_mg_per_day, not both)", le=30
    )
    prednisone_mg_per_day: float | None = _measure(
        "Prednisone dose in mg/day (give this or prednisone_mg_per_kg_day, not both)", le=2000
    )
    ifn_alpha_fg_ml: float | None = _measure("Serum interferon-alpha in fg/mL")
    adverse_events: Annotated[tuple[_AdverseEvent, ...], AfterValidator(_distinct)] = Field(
        (), description=f"Adverse events noted at this visit, from: {_listing(ADVERSE_EVENTS)}"
    )

    @model_validator(mode="after")
    def _one_prednisone_unit(self) -> "Visit":
        # Two doses in different units could disagree, and neither could be trusted.
        if self.prednisone_mg_per_kg_day is not None and self.prednisone_mg_per_day is not None:
            raise ValueError(
                "give prednisone_mg_per_kg_day or prednisone_mg_per_day, not both "
                f"(got {self.prednisone_mg_per_kg_day:g} mg/kg/day and "
                f"{self.prednisone_mg_per_day:g} mg/day)"
            )
        return self


class Patient(BaseModel):
    """Everything the engine knows about one patient."""

    model_config = _STRICT

    id: str = Field(min_length=1, description="Patient identifier, unique within a data set")
    birth_date: _IsoDate | None = Field(None, description="Date of birth (YYYY-MM-DD)")
    sex: Sex | None = Field(None, description="Sex: female, male or other")
    antibodies: tuple[_Antibody, ...] = Field(
        (),
        description="Myositis-specific antibodies found, or 'negative'; canonical names: "
        f"{_listing(ANTIBODIES)} (common aliases such as MDA5 or anti-p155/140 are accepted)",
    )
    treatments: tuple[Treatment, ...] = Field((), description="Treatment courses, in any order")
    visits: tuple[Visit, ...] = Field(
        description="Clinic visits, at least one, at most one per date, in any order "
        "(stored sorted by date)",
        json_schema_extra={"minItems": 1},
    )

    @field_validator("antibodies")
    @classmethod
    def _consistent_antibodies(cls, antibodies: tuple[str, ...]) -> tuple[str, ...]:
        distinct = _distinct(antibodies)  # two aliases may name the same antibody
        if "negative" in distinct and len(distinct) > 1:
            raise ValueError(
                f"'negative' cannot be combined with an antibody (got {', '.join(distinct)})"
            )
        return distinct

    @field_validator("visits")
    @classmethod
    def _one_visit_per_date(cls, visits: tuple[Visit, ...]) -> tuple[Visit, ...]:
        # Checked here rather than with min_length so the message can say what is missing.
        if not visits:
            raise ValueError("at least one visit is required")
        ordered = tuple(sorted(visits, key=lambda visit: visit.date))
        for earlier, later in pairwise(ordered):
            if earlier.date == later.date:
                raise ValueError(
                    f"more than one visit on {later.date.isoformat()} (merge them into one)"
                )
        return ordered

    @property
    def jak_start(self) -> dt.date | None:
        """First day of any JAK-inhibitor treatment, or None if never given one."""
        return min((t.start for t in self.treatments if t.is_jak_inhibitor), default=None)

    def visits_until(self, day: dt.date | None) -> tuple[Visit, ...]:
        """Visits on or before day (all of them when day is None), oldest first."""
        return tuple(v for v in self.visits if day is None or v.date <= day)


def patient_json_schema() -> dict[str, Any]:
    return Patient.model_json_schema()


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "visits[2].ck_u_l", or "-" for the file as a whole
    message: str


class PatientFileError(Exception):
    """A patient file that cannot be used, with every problem found in it."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        super().__init__(path, problems)
        self.path = path
        self.problems = problems

    def lines(self) -> list[str]:
        return [f"{self.path}: {p.field}: {p.message}" for p in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _file_error(path: str, message: str) -> PatientFileError:
    return PatientFileError(path, [Problem("-", message)])


_NESTED_MODELS: dict[str, type[BaseModel]] = {"visits": Visit, "treatments": Treatment}
_COMPARISONS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}
_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "finite_number": "a finite number",
    "string_type": "text",
    "tuple_type": "a list",
    "list_type": "a list",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
    "dict_type": "a mapping of fields",
}
_DATE_ERRORS = {
    "date_type",
    "date_parsing",
    "date_from_datetime_parsing",
    "date_from_datetime_inexact",
}
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: object) -> str:
    """The offending input, phrased for someone who wrote it in YAML or JSON."""
    if isinstance(value, str):
        return f"the string {_clip(repr(value))}"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dt.date):
        return value.isoformat()
    return _clip(repr(value))


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # Quote unknown keys that would otherwise blur the path or break the line.
            name = part if _FIELD_NAME.fullmatch(part) else repr(part)
            path += f".{name}" if path else name
    return path or "-"


def _allowed_fields(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = Patient
    for part in loc[:-1]:
        if isinstance(part, str):
            model = _NESTED_MODELS[part]
    return _listing(model.model_fields)


def _message(error: ErrorDetails) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field (allowed: {_allowed_fields(error['loc'])})"
    if kind == "invalid_key":
        return f"field names must be text (got {_show(value)})"
    if kind in _COMPARISONS:
        op, bound = _COMPARISONS[kind]
        return f"must be {op} {ctx[bound]:g} (got {_show(value)})"
    if kind in _DATE_ERRORS and isinstance(value, str):
        return f"invalid date {_clip(repr(value))} (expected YYYY-MM-DD)"
    if kind in _DATE_ERRORS:
        return f"expected a date written YYYY-MM-DD (got {_show(value)})"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]} (got {_show(value)})"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']} (got {_show(value)})"
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"  # the only length limits in the schema are minimums of 1
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"]


def validation_problems(error: ValidationError) -> list[Problem]:
    """One readable Problem per error pydantic found while validating a Patient."""
    problems = []
    for details in error.errors(include_url=False):
        loc = details["loc"]
        if details["type"] == "invalid_key":
            loc = loc[:-1]  # the last element is the offending key, not a place
        problems.append(Problem(_field_path(loc), _message(details)))
    return problems


def validate_patient(data: object, path: str) -> Patient:
    """Validate already-parsed data; path only labels the errors."""
    if not isinstance(data, dict):
        raise _file_error(
            path, f"top level must be a mapping of patient fields (got {_show(data)})"
        )
    try:
        return Patient.model_validate(data)
    except ValidationError as exc:
        raise PatientFileError(path, validation_problems(exc)) from None


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _PatientYamlLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and keeps impossible dates as text.

    Plain PyYAML keeps the last of two equal keys without a word, and fails on
    an unquoted 2020-13-01 with a bare ValueError that names neither line nor
    field; as text, the date is reported against its field by validation.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            # Keys from a merge (<<) may legitimately be overridden; unhashable keys
            # are reported by the base class.
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_PatientYamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _PatientYamlLoader.construct_yaml_timestamp
)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        mapping[key] = value
    return mapping


_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def _parse(text: str, fmt: str, path: str) -> object:
    try:
        if fmt == "yaml":
            return yaml.load(text, Loader=_PatientYamlLoader)  # a SafeLoader subclass
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _file_error(path, f"yaml syntax error{where}: {exc.problem or exc.context}") from None
    except json.JSONDecodeError as exc:
        raise _file_error(
            path, f"json syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except Exception as exc:
        # Both parsers raise assorted other errors on odd input (`!!int x`, deep nesting).
        detail = _clip(" ".join(str(exc).split()), 200)  # one line per problem, always
        raise _file_error(path, f"cannot parse {fmt}: {detail}") from None


def load_patient(path: str | os.PathLike[str]) -> Patient:
    """Read, parse and validate one patient file; every failure is a PatientFileError."""
    name = os.fspath(path)
    fmt = _FORMATS.get(Path(name).suffix.lower())
    if fmt is None and not Path(name).exists():
        raise _file_error(name, "cannot read file: No such file or directory")
    if fmt is None:
        raise _file_error(name, "unsupported file type (expected .yaml, .yml or .json)")
    try:
        text = Path(name).read_text(encoding="utf-8-sig")  # -sig: editors on Windows add a BOM
    except OSError as exc:
        raise _file_error(name, f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _file_error(name, "file is not UTF-8 text") from None
    if not text.strip():
        raise _file_error(name, "file is empty")
    return validate_patient(_parse(text, fmt, name), name)


def iter_patient_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Each path as given, or for a folder the patient files anywhere under it, sorted.

    A path that does not exist is kept, so that load_patient reports it.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = (f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in _FORMATS)
            files.extend(sorted(found))
        else:
            files.append(path)
    return files
