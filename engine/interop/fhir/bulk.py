"""FHIR Bulk Data ``$export`` folders: NDJSON files, one resource a line, grouped by patient.

An export has one or more files a resource kind (``Patient.ndjson``, ``Observation.ndjson``,
``Observation_2.ndjson``, ...), each in any order. Grouping by patient needs every file read
first, so the resources are spooled into an SQLite file in a temporary folder, indexed by
patient, and read back one patient at a time: memory holds one patient, whatever the number
of patients. Resources that belong to no patient (``Medication``, ``Practitioner``) are kept
by reference and added to each patient that references them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jdm_cds.model.reading import PatientFileError, Problem

SUFFIX = ".ndjson"


def is_bulk_export(folder: str | os.PathLike[str]) -> bool:
    """A folder holding at least one ``.ndjson`` file (a Bulk Data export)."""
    path = Path(folder)
    return path.is_dir() and any(f.suffix.lower() == SUFFIX and f.is_file()
                                 for f in path.iterdir())  # a stat only for .ndjson names


def _patient_of(resource: dict[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource.get('id')}"
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            parts = ref["reference"].rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == "Patient":
                return f"Patient/{parts[-1]}"
            return str(ref["reference"])
    return None


def _references(value: object, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.add("/".join(ref.rstrip("/").split("/")[-2:]))
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


Group = tuple[str, list[dict[str, Any]]]


def iter_bulk_patients(folder: str | os.PathLike[str],
                       problems: list[Problem] | None = None) -> Iterator[Group]:
    """(label, that patient's resources) for each patient of the export, sorted by patient.

    Lines that are not JSON resources are appended to ``problems``, naming the file and the
    line; without that list they are raised together as one ``PatientFileError``, after
    every patient has been given.
    """
    root = Path(folder)
    raise_problems = problems is None
    problems = [] if problems is None else problems
    with tempfile.TemporaryDirectory(prefix="jdm-cds-bulk-") as spool:
        db = sqlite3.connect(os.path.join(spool, "resources.sqlite"))
        try:
            db.execute("CREATE TABLE own (patient TEXT, seq INTEGER, body TEXT)")
            db.execute("CREATE TABLE shared (ref TEXT PRIMARY KEY, body TEXT)")
            seq = 0
            for file in sorted(f for f in root.iterdir() if f.suffix.lower() == SUFFIX):
                rows: list[tuple[str, int, str]] = []
                with file.open(encoding="utf-8-sig", errors="replace") as lines:
                    for number, line in enumerate(lines, 1):
                        if not line.strip():
                            continue
                        try:
                            resource = json.loads(line)
                        except json.JSONDecodeError as exc:
                            problems.append(Problem(f"{file.name}: line {number}",
                                                    f"json syntax error: {exc.msg}"))
                            continue
                        if not isinstance(resource, dict) or "resourceType" not in resource:
                            problems.append(Problem(f"{file.name}: line {number}",
                                                    "not a FHIR resource"))
                            continue
                        patient = _patient_of(resource)
                        seq += 1
                        if patient is None:
                            db.execute("INSERT OR REPLACE INTO shared VALUES (?, ?)",
                                       (f"{resource['resourceType']}/{resource.get('id')}",
                                        line))
                            continue
                        rows.append((patient, seq, line))
                        if len(rows) >= 10_000:
                            db.executemany("INSERT INTO own VALUES (?, ?, ?)", rows)
                            rows.clear()
                db.executemany("INSERT INTO own VALUES (?, ?, ?)", rows)
            db.execute("CREATE INDEX by_patient ON own (patient, seq)")
            db.commit()
            current: str | None = None
            group: list[dict[str, Any]] = []
            for patient, body in db.execute("SELECT patient, body FROM own ORDER BY patient, seq"):
                if patient != current and current is not None:
                    yield _label(root, current), _with_shared(db, group)
                    group = []
                current = patient
                group.append(json.loads(body))
            if current is not None:
                yield _label(root, current), _with_shared(db, group)
        finally:
            db.close()
    if problems and raise_problems:
        raise PatientFileError(str(root), problems)


def _label(root: Path, patient: str) -> str:
    return f"{root}#{patient}"


def _with_shared(db: sqlite3.Connection, group: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted: set[str] = set()
    for resource in group:
        if resource.get("resourceType") != "Patient":
            _references(resource, wanted)
    for ref in sorted(wanted):
        if ref.startswith("Patient/"):
            continue
        row = db.execute("SELECT body FROM shared WHERE ref = ?", (ref,)).fetchone()
        if row is not None:
            group.append(json.loads(row[0]))
    return group
