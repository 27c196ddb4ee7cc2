"""Reading patient files: YAML and JSON parsing, and readable validation errors.

Every failure is a ``PatientFileError`` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from jdm_cds.model import yaml12
from jdm_cds.model.patient import Finding, Patient, Treatment, Visit
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


_NESTED_MODELS: dict[str, type[BaseModel]] = {"visits": Visit, "treatments": Treatment,
                                            "findings": Finding}
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


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise ValueError(f"duplicate key {key!r}")
        mapping[key] = value
    return mapping


# A JSON string, to count the colons outside strings: one per object member.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _members(data: object) -> int:
    """Object members in parsed JSON (a mapping's keys, at every depth); -1 when a number
    may have been read as orjson reads an integer beyond 64 bits (as a float)."""
    count = 0
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and abs(item) >= 2.0**63:
            return -1
    return count


def _all_members_read(text: str, data: object) -> bool:
    """Whether orjson's ``data`` holds every object member of ``text`` (no duplicate key
    dropped) and every integer as the standard library reads it.

    Quick when the text has no ``\\u`` escape (which could write a colon without one) and
    ``data`` written again by orjson has no ``e+``: orjson reads an integer beyond 64 bits
    as a float of at least 2**63, which it writes with an exponent (``1e+19``). Then that
    text has one colon per member read plus the colons inside its strings, and the text
    one per member plus the same colons inside its strings (and those of any member
    dropped): equal counts mean nothing was dropped. Otherwise the members are counted
    and the strings taken out of the text.
    """
    if "\\u" not in text:
        try:
            written = orjson.dumps(data)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes
            pass
        else:
            if b"e+" not in written:
                return written.count(b":") == text.count(":")
    return _members(data) == _JSON_STRING.sub("", text).count(":")


def parse_json(text: str) -> object:
    """JSON text as the standard library reads it, duplicate keys refused; via orjson.

    orjson is several times faster but keeps the last of two equal keys: when it read
    fewer members than the text has (``_all_members_read``), or when it refuses what the
    standard library accepts (NaN, integers beyond 64 bits), the standard parser reads
    the text again and gives its own result or error.
    """
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    else:
        if _all_members_read(text, data):
            return data
    return json.loads(text, object_pairs_hook=_reject_duplicate_keys)


# The settings of the limits, read by every process (worker processes inherit them).
MAX_FILE_MB_SETTING = "JDM_CDS_MAX_FILE_MB"
MAX_VISITS_SETTING = "JDM_CDS_MAX_VISITS"


@dataclass(frozen=True)
class ReadLimits:
    """What one patient file may hold; past a limit the file is an input error."""

    max_bytes: int = 5_000_000
    max_visits: int = 2_000

    @classmethod
    def of(cls, max_file_mb: float | None = None, max_visits: int | None = None) -> ReadLimits:
        """Limits from settings (megabytes of 1,000,000 bytes); None keeps the default."""
        default = cls()
        return cls(default.max_bytes if max_file_mb is None else int(max_file_mb * 1_000_000),
                   default.max_visits if max_visits is None else max_visits)

    @classmethod
    def from_environment(cls) -> ReadLimits:
        """The limits set in ``JDM_CDS_MAX_FILE_MB`` and ``JDM_CDS_MAX_VISITS`` (else the
        defaults: 5 MB, 2,000 visits)."""
        size, visits = os.environ.get(MAX_FILE_MB_SETTING), os.environ.get(MAX_VISITS_SETTING)
        try:
            return cls.of(None if size is None else float(size),
                          None if visits is None else int(visits))
        except ValueError:
            raise ValueError(f"{MAX_FILE_MB_SETTING}={size!r} or {MAX_VISITS_SETTING}="
                             f"{visits!r} is not a number") from None


_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def _parse(text: str, fmt: str, path: str) -> object:
    try:
        if fmt == "yaml":
            return yaml12.load(text)  # YAML 1.2 core schema, bounded, no tags beyond it
        return parse_json(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _file_error(path, f"yaml syntax error{where}: {exc.problem or exc.context}") from None
    except json.JSONDecodeError as exc:
        raise _file_error(
            path, f"json syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except MemoryError:
        raise _file_error(path, "not enough memory to read this file") from None
    except Exception as exc:
        # Both parsers raise assorted other errors on odd input (`!!int x`, deep nesting).
        detail = _clip(" ".join(str(exc).split()), 200)  # one line per problem, always
        raise _file_error(path, f"cannot parse {fmt}: {detail}") from None


def _too_large(path: str, size: int, limits: ReadLimits) -> PatientFileError:
    return _file_error(path, f"file is {size:,} bytes, more than the limit of "
                       f"{limits.max_bytes:,} (--max-file-mb)")


def _read_bytes(name: str, limits: ReadLimits) -> bytes:
    """The file's bytes, if it is a regular file within the size limit.

    Opened without blocking, so that a FIFO is refused instead of waiting for a writer;
    a device (``/dev/zero``) or a folder is refused before anything is read.
    """
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _file_error(name, f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _file_error(name, "not a regular file (folders, FIFOs, devices and "
                                  "sockets are not read)")
            if info.st_size > limits.max_bytes:
                raise _too_large(name, info.st_size, limits)
            data = file.read(limits.max_bytes + 1)  # it may have grown since
        except OSError as exc:
            raise _file_error(name, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise _too_large(name, len(data), limits)
    return data


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")  # -sig: editors on Windows add a BOM
    except UnicodeDecodeError:
        raise _file_error(path, "file is not UTF-8 text") from None


def _check_visits(data: object, path: str, limits: ReadLimits) -> None:
    visits = data.get("visits") if isinstance(data, dict) else None
    if isinstance(visits, list) and len(visits) > limits.max_visits:
        raise PatientFileError(path, [Problem("visits", f"{len(visits):,} visits, more than "
                                              f"the limit of {limits.max_visits:,} "
                                              "(--max-visits)")])


def load_patient(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> Patient:
    """Read, parse and validate one patient file; every failure is a PatientFileError.

    ``limits``: default, the limits of the settings (``ReadLimits.from_environment``).
    """
    limits = limits or ReadLimits.from_environment()
    name = os.fspath(path)
    fmt = _FORMATS.get(Path(name).suffix.lower())
    if fmt is None and not Path(name).exists():
        raise _file_error(name, "cannot read file: No such file or directory")
    if fmt is None:
        raise _file_error(name, "unsupported file type (expected .yaml, .yml or .json)")
    text = _decode(_read_bytes(name, limits), name)
    if not text.strip():
        raise _file_error(name, "file is empty")
    data = _parse(text, fmt, name)
    _check_visits(data, name, limits)
    return validate_patient(data, name)


def iter_jsonl(path: str | os.PathLike[str], limits: ReadLimits | None = None
               ) -> Iterator[tuple[str, Patient | PatientFileError]]:
    """The patients of a JSON Lines file, one JSON object a line, as they are read.

    Yields ``(label, patient or error)`` with the label ``file:line``: a line that fails
    costs that patient only, and its error names the line (``iter_jsonl_lines``, then
    ``read_jsonl_line``).
    """
    limits = limits or ReadLimits.from_environment()
    for label, line in iter_jsonl_lines(path, limits):
        if isinstance(line, PatientFileError):
            yield label, line
            continue
        try:
            yield label, read_jsonl_line(label, line, limits)
        except PatientFileError as error:
            yield label, error


def iter_jsonl_lines(path: str | os.PathLike[str], limits: ReadLimits | None = None
                     ) -> Iterator[tuple[str, bytes | PatientFileError]]:
    """The lines of a JSON Lines file, not yet parsed, labelled ``file:line``.

    Blank lines are skipped; a first line's byte order mark is left out. The file as a
    whole must be a regular file, and each line is held to the size limit of a patient
    file (past it, that line is an error). Parsing is left to ``read_jsonl_line``, so that
    the process reading the file can hand each line to another to parse.
    """
    limits = limits or ReadLimits.from_environment()
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        yield name, _file_error(name, f"cannot read file: {exc.strerror or exc}")
        return
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            yield name, _file_error(name, "not a regular file (folders, FIFOs, devices and "
                                    "sockets are not read)")
            return
        number = 0
        try:
            for line in _lines(file, limits.max_bytes):
                number += 1
                label = f"{name}:{number}"
                if line is None:
                    yield label, _file_error(label, f"line is more than the limit of "
                                             f"{limits.max_bytes:,} bytes (--max-file-mb)")
                elif line.strip():
                    yield label, (line[3:] if number == 1 and line.startswith(b"\xef\xbb\xbf")
                                  else line)
        except OSError as exc:  # a disk failing mid-file: the rest of the file is lost
            label = f"{name}:{number + 1}"
            yield label, _file_error(label, f"cannot read file: {exc.strerror or exc}")


def read_jsonl_line(label: str, line: bytes, limits: ReadLimits | None = None) -> Patient:
    """One line of a JSON Lines file (``iter_jsonl_lines``) parsed and validated as a
    patient file is; every failure is a ``PatientFileError`` naming ``label``."""
    data = _parse(_decode(line, label), "json", label)
    _check_visits(data, label, limits or ReadLimits.from_environment())
    return validate_patient(data, label)


def _lines(file: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """Each line of ``file``; ``None`` for a line longer than ``limit`` (then skipped)."""
    while True:
        line = file.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the long line
                line = file.readline(limit + 1)
            yield None
            continue
        yield line


def iter_patient_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Each path as given, or for a folder the patient files anywhere under it, sorted.

    A path that does not exist is kept, so that load_patient reports it.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(path.joinpath(*parts) for parts in sorted(_patient_files_under(path)))
        else:
            files.append(path)
    return files


def _patient_files_under(folder: Path) -> list[tuple[str, ...]]:
    """The patient files under ``folder`` as their path parts below it, in any order: what
    ``folder.rglob("*")`` gives that is a file (or a link to one) with a patient file's
    suffix; folders reached through a link are not entered, unreadable ones are skipped.
    One ``scandir`` a folder, without a ``Path`` or a ``stat`` a file (a cohort folder can
    hold a million files); sorted, the parts give the order of the ``Path`` objects."""
    found: list[tuple[str, ...]] = []
    folders: list[tuple[str, tuple[str, ...]]] = [(os.fspath(folder), ())]
    while folders:
        where, parts = folders.pop()
        try:
            with os.scandir(where) as listing:
                entries = list(listing)
        except PermissionError:
            continue
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                folders.append((entry.path, (*parts, entry.name)))
            elif _suffix(entry.name).lower() in _FORMATS and entry.is_file():
                found.append((*parts, entry.name))
    return found


def _suffix(name: str) -> str:
    """A file name's suffix as ``Path.suffix`` has it (none for ``.yaml`` or ``a.``)."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""
