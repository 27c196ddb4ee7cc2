"""Reading patient files: YAML and JSON parsing, and readable validation errors.

Every failure is a ``PatientFileError`` naming the file, the field and what is allowed.
"""

import datetime as dt
import json
import os
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from jdm_cds.model.patient import Patient, Treatment, Visit
from jdm_cds.model.vocabulary import listing


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
    return listing(model.model_fields)


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
