"""What the command line names, as work items: one patient each, in input order.

Paths are patient files (YAML, JSON; a JSON FHIR Bundle is detected by its
``resourceType``), JSON Lines files (``.jsonl``, one patient a line, read as they are
evaluated), folders (every patient file under them, sorted), FHIR Bulk Data export folders
(NDJSON: one item a patient, streamed), or ``-`` for one patient on standard input. A work
item is small and picklable (a path, the text already read, a JSON Lines file's line as
bytes, or one patient's FHIR resources), so that it can be sent to a worker process; the
worker reads, parses and validates it (``load_item``), so that the parsing is spread over
the workers too and the process enumerating the inputs does almost nothing per patient.
Enumeration is lazy: a cohort of any size is never held in memory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import (
    PatientFileError,
    Problem,
    ReadLimits,
    iter_jsonl_lines,
    iter_patient_files,
    load_patient,
    read_jsonl_line,
)

if TYPE_CHECKING:
    from jdm_cds.interop.fhir.reader import FhirPatient

STDIN = "-"
STDIN_LABEL = "<stdin>"
JSON_LINES = ".jsonl"  # one patient a line, as JSON


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One patient to evaluate: a file to read, or text already read (standard input)."""

    index: int  # position in the input: results are put back in this order
    label: str  # what its errors and results name: the file, or ``<stdin>``
    path: str | None = None
    text: str | None = None
    line: bytes | None = None  # a line of a JSON Lines file, not yet parsed
    failure: tuple[Problem, ...] = ()  # why it could not be read
    resources: tuple[dict[str, Any], ...] | None = None  # one patient of a FHIR Bulk export
    fhir_mapping: str | None = None  # the FHIR mapping file (None: the built-in one)

    def __reduce__(self) -> tuple[type[WorkItem], tuple[Any, ...]]:
        # Pickled with each patient sent to a worker: its fields in order, in one call (a
        # frozen dataclass with slots is otherwise pickled and unpickled through
        # dataclasses.fields(), in Python: four times the cost, in both processes).
        return WorkItem, (self.index, self.label, self.path, self.text, self.line,
                          self.failure, self.resources, self.fhir_mapping)


class Inputs:
    """The patients that the paths name, in the order given (a folder: its files sorted).

    ``total`` is the number of patients when it is known before reading them (it is not
    for JSON Lines, read as they are evaluated).
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]],
                 fhir_mapping: str | os.PathLike[str] | None = None) -> None:
        self._sources: list[list[str] | str | Path | tuple[str]] = []
        self.total: int | None = 0
        self.fhir_mapping = None if fhir_mapping is None else os.fspath(fhir_mapping)
        for path in paths:
            if os.fspath(path) == STDIN:
                self._sources.append(STDIN)
                found = 1
            elif Path(path).suffix.lower() == JSON_LINES:
                self._sources.append(Path(path))  # read as it is evaluated: size unknown
                self.total = None
                continue
            elif _is_bulk_export(path):
                self._sources.append((os.fspath(path),))  # patients counted as they are read
                self.total = None
                continue
            else:
                files = [str(f) for f in iter_patient_files([path])]
                self._sources.append(files)
                found = len(files)
            if self.total is not None:
                self.total += found

    def __iter__(self) -> Iterator[WorkItem]:
        index = 0
        for source in self._sources:
            if source == STDIN:
                yield _stdin_item(index, self.fhir_mapping)
                index += 1
                continue
            if isinstance(source, Path):
                for label, line in iter_jsonl_lines(source):
                    yield (WorkItem(index, label, failure=tuple(line.problems))
                           if isinstance(line, PatientFileError)
                           else WorkItem(index, label, line=line))
                    index += 1
                continue
            if isinstance(source, tuple):
                for item in _bulk_items(source[0], index, self.fhir_mapping):
                    yield item
                    index += 1
                continue
            for found in source:
                yield WorkItem(index, found, path=found, fhir_mapping=self.fhir_mapping)
                index += 1


def _is_bulk_export(path: str | os.PathLike[str]) -> bool:
    """A folder that is a FHIR Bulk Data export (the FHIR modules are imported for folders
    only: a patient file never needs them)."""
    if not os.path.isdir(path):
        return False
    from jdm_cds.interop.fhir.bulk import is_bulk_export

    return is_bulk_export(path)


def _bulk_items(folder: str, index: int, mapping: str | None) -> Iterator[WorkItem]:
    from jdm_cds.interop.fhir.bulk import iter_bulk_patients

    problems: list[Problem] = []
    for label, resources in iter_bulk_patients(folder, problems):
        yield WorkItem(index, label, resources=tuple(resources), fhir_mapping=mapping)
        index += 1
    if problems:  # lines that were not resources, after every patient
        yield WorkItem(index, folder, failure=tuple(problems))


def _stdin_item(index: int, mapping: str | None) -> WorkItem:
    """Standard input as one patient, held to the size limit of a patient file: past it,
    reading stops (the input may never end) and the item is an input error."""
    limit = ReadLimits.from_environment().max_bytes
    stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    data = stream.read(limit + 1)
    if len(data) > limit:
        return WorkItem(index, STDIN_LABEL, failure=(Problem(
            "-", f"input is more than the limit of {limit:,} bytes (--max-file-mb)"),))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            data = "\0not utf-8"  # reported by read_item as not UTF-8 text
    return WorkItem(index, STDIN_LABEL, text=data, fhir_mapping=mapping)


def load_item(item: WorkItem) -> Patient:
    """Read and validate the item's patient; every failure is a ``PatientFileError``."""
    return read_item(item)[0]


def read_item(item: WorkItem) -> tuple[Patient, FhirPatient | None]:
    """The item's patient, and for a FHIR input what else reading it gave (``unmapped``,
    warnings); every failure is a ``PatientFileError``."""
    if item.line is not None:
        return read_jsonl_line(item.label, item.line), None
    if item.failure:
        raise PatientFileError(item.label, list(item.failure))
    if item.resources is not None or (item.path or "").lower().endswith(".json"):
        from jdm_cds.interop.fhir import read_fhir_item

        fhir = read_fhir_item(item.label, item.path, item.resources, item.fhir_mapping)
        if fhir is not None:
            return fhir.patient, fhir
    if item.path is not None:
        return load_patient(item.path), None
    text = item.text or ""
    if text.lstrip().startswith("{") and '"resourceType"' in text:
        from jdm_cds.interop.fhir import read_fhir_text

        fhir = read_fhir_text(item.label, text, item.fhir_mapping)
        if fhir is not None:
            return fhir.patient, fhir
    if text.startswith("\0"):
        raise PatientFileError(item.label, [Problem("-", "input is not UTF-8 text")])
    if not text.strip():
        raise PatientFileError(item.label, [Problem("-", "input is empty")])
    # JSON is a subset of YAML 1.2, but the JSON reader gives JSON's error messages.
    from jdm_cds.model import reading

    fmt = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    data = reading._parse(text, fmt, item.label)
    reading._check_visits(data, item.label, ReadLimits.from_environment())
    return reading.validate_patient(data, item.label), None

