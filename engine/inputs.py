"""What the command line names, as work items: one patient each, in input order.

Paths are patient files (YAML, JSON), JSON Lines files (``.jsonl``, one patient a line,
read as they are evaluated), folders (every patient file under them, sorted), or ``-`` for
one patient on standard input. A work item is small and picklable (a path, or
the text already read), so that it can be sent to a worker process; the worker reads and
validates it (``load_item``), so that the parsing is spread over the workers too.
Enumeration is lazy: a cohort of any size is never held in memory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import (
    PatientFileError,
    Problem,
    iter_jsonl,
    iter_patient_files,
    load_patient,
)

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
    patient: Patient | None = None  # already read (a line of a JSON Lines file)
    failure: tuple[Problem, ...] = ()  # why it could not be read


class Inputs:
    """The patients that the paths name, in the order given (a folder: its files sorted).

    ``total`` is the number of patients when it is known before reading them (it is not
    for JSON Lines, read as they are evaluated).
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        self._sources: list[list[str] | str | Path] = []
        self.total: int | None = 0
        for path in paths:
            if os.fspath(path) == STDIN:
                self._sources.append(STDIN)
                found = 1
            elif Path(path).suffix.lower() == JSON_LINES:
                self._sources.append(Path(path))  # read as it is evaluated: size unknown
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
                yield WorkItem(index, STDIN_LABEL, text=_read_stdin())
                index += 1
                continue
            if isinstance(source, Path):
                for label, read in iter_jsonl(source):
                    yield (WorkItem(index, label, failure=tuple(read.problems))
                           if isinstance(read, PatientFileError)
                           else WorkItem(index, label, patient=read))
                    index += 1
                continue
            for found in source:
                yield WorkItem(index, found, path=found)
                index += 1


def _read_stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return "\0not utf-8"  # reported by load_item as not UTF-8 text
    return data


def load_item(item: WorkItem) -> Patient:
    """Read and validate the item's patient; every failure is a ``PatientFileError``."""
    if item.patient is not None:
        return item.patient
    if item.failure:
        raise PatientFileError(item.label, list(item.failure))
    if item.path is not None:
        return load_patient(item.path)
    text = item.text or ""
    if text.startswith("\0"):
        raise PatientFileError(item.label, [Problem("-", "input is not UTF-8 text")])
    if not text.strip():
        raise PatientFileError(item.label, [Problem("-", "input is empty")])
    # JSON is a subset of YAML 1.2, but the JSON reader gives JSON's error messages.
    from jdm_cds.model import reading

    fmt = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    return reading.validate_patient(reading._parse(text, fmt, item.label), item.label)

