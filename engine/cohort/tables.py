"""Tables out: the assessments of a run as three Parquet tables (needs the ``[parquet]`` extra).

``evaluate`` and ``cohort`` with ``--output NAME.parquet`` write, beside each other:

- ``NAME.parquet``, the judgements: one row a patient and judgement;
- ``NAME.patients.parquet``, one row an input, in input order, errors included as rows;
- ``NAME.alerts.parquet``, one row an alert.

Columns (dates are dates; a value not given is null):

judgements: ``file``, ``patient_id``, ``evaluated_at``, ``judgement`` (its key, e.g.
``cid.printo``), ``status``, ``rule``, ``pack``, ``version``, ``visit_date``, ``score``,
``category``, ``days_to_cid`` (the values most rules report, where this one reports them),
``values`` (every value the rule reports, as JSON text), ``missing`` (list of fields),
``plugin``.
patients: ``index`` (position in the input), ``file``, ``patient_id``, ``evaluated_at``,
``evaluation_visit``, ``judgements``, ``alerts`` (how many), ``error`` (null when evaluated).
alerts: ``file``, ``patient_id``, ``evaluated_at``, ``alert``, ``indicator``, ``summary``,
``rule``, ``version``, ``visit_date``, ``plugin``.

Rows are built by the workers and written in batches: memory does not grow with the cohort.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from jdm_cds.cohort.work import Result
    from jdm_cds.model.assessment import Assessment

Row = dict[str, Any]
BATCH = 5_000  # rows held before they are written


@dataclass(frozen=True, slots=True)
class Rows:
    """One assessment's rows of each table."""

    judgements: list[Row]
    patient: Row
    alerts: list[Row]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def assessment_rows(label: str, assessment: Assessment) -> Rows:
    base = {"file": label, "patient_id": assessment.patient_id,
            "evaluated_at": assessment.evaluated_at}
    judgements = []
    for key, judgement in assessment.judgements.items():
        values = judgement.values
        days = values.get("days_to_cid")
        category = values.get("category")
        judgements.append({
            **base, "judgement": key, "status": judgement.status, "rule": judgement.rule,
            "pack": judgement.pack, "version": judgement.version,
            "visit_date": judgement.visit_date, "score": _number(values.get("score")),
            "category": None if category is None else str(category),
            "days_to_cid": days if isinstance(days, int) and not isinstance(days, bool)
            else None,
            "values": orjson.dumps(values, default=str).decode(),
            "missing": list(judgement.missing), "plugin": judgement.plugin,
        })
    alerts = [{**base, "alert": alert.id, "indicator": alert.indicator,
               "summary": alert.summary, "rule": alert.rule, "version": alert.version,
               "visit_date": alert.visit_date, "plugin": alert.plugin}
              for alert in assessment.alerts]
    patient = {**base, "evaluation_visit": assessment.evaluation_visit,
               "judgements": len(judgements), "alerts": len(alerts), "error": None}
    return Rows(judgements, patient, alerts)


def table_paths(path: Path) -> dict[str, Path]:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return {"judgements": path, "patients": path.with_name(f"{stem}.patients.parquet"),
            "alerts": path.with_name(f"{stem}.alerts.parquet")}


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    text, day = pa.string(), pa.date32()
    head = [("file", text), ("patient_id", text), ("evaluated_at", day)]
    return {
        "judgements": pa.schema([*head, ("judgement", text), ("status", text), ("rule", text),
                                 ("pack", text), ("version", text), ("visit_date", day),
                                 ("score", pa.float64()), ("category", text),
                                 ("days_to_cid", pa.int64()), ("values", text),
                                 ("missing", pa.list_(text)), ("plugin", text)]),
        "patients": pa.schema([("index", pa.int64()), *head, ("evaluation_visit", day),
                               ("judgements", pa.int64()), ("alerts", pa.int64()),
                               ("error", text)]),
        "alerts": pa.schema([*head, ("alert", text), ("indicator", text), ("summary", text),
                             ("rule", text), ("version", text), ("visit_date", day),
                             ("plugin", text)]),
    }


def pyarrow_modules() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        from jdm_cds.cohort.work import StartupFailure

        raise StartupFailure(["--output FILE.parquet needs pyarrow: pip install "
                              "'jdm-cds[parquet]'"]) from None
    return pa, pq


def write_changes(results: Iterable[Result], path: Path) -> Iterator[Result]:
    """``jdm-cds diff``: one row a changed judgement of a patient (file, patient_id,
    judgement, before, after, and score, score_min, score_max, category before and after);
    yields each result on."""
    from jdm_cds.cohort.compare import COMPARED

    pa, pq = pyarrow_modules()
    text = pa.string()
    values = [(f"{name}_{side}", text if name == "category" else pa.float64())
              for side in ("before", "after") for name in COMPARED]
    schema = pa.schema([("file", text), ("patient_id", text), ("judgement", text),
                        ("before", text), ("after", text), *values])
    rows: list[Row] = []
    with pq.ParquetWriter(path, schema) as writer:
        for result in results:
            for change in result.value if result.error is None else []:
                row = {"file": result.label, "patient_id": result.patient_id,
                       **change.to_dict()}
                rows.append({key: (None if value is None else str(value))
                             if key.startswith("category") else
                             _number(value) if key in dict(values) else value
                             for key, value in row.items()})
            if len(rows) >= BATCH:
                writer.write_table(pa.Table.from_pylist(rows, schema))
                rows = []
            yield result
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema))


def write_parquet(results: Iterable[Result], path: Path) -> Iterator[Result]:
    """Write every result's rows to the three tables at ``path``; yields each result on."""
    pa, pq = pyarrow_modules()
    schemas = _schemas()
    paths = table_paths(path)
    writers = {name: pq.ParquetWriter(paths[name], schemas[name]) for name in schemas}
    pending: dict[str, list[Row]] = {name: [] for name in schemas}

    def flush(name: str) -> None:
        if pending[name]:
            writers[name].write_table(pa.Table.from_pylist(pending[name], schemas[name]))
            pending[name] = []

    try:
        for result in results:
            if result.error is not None or result.tables is None:
                pending["patients"].append({
                    "index": result.index, "file": result.label,
                    "patient_id": result.patient_id, "evaluated_at": None,
                    "evaluation_visit": None, "judgements": 0, "alerts": 0,
                    "error": "\n".join(result.error or ["not evaluated"])})
            else:
                rows: Rows = result.tables
                pending["judgements"] += rows.judgements
                pending["patients"].append({"index": result.index, **rows.patient})
                pending["alerts"] += rows.alerts
            for name in schemas:
                if len(pending[name]) >= BATCH:
                    flush(name)
            yield result
        for name in schemas:
            flush(name)
    finally:
        for writer in writers.values():
            writer.close()
