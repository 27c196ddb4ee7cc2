"""Turn what a scenario writer types (data tables, readable dates) into a patient mapping.

The mapping is validated by the engine itself (``jdm_cds.model.reading.validate_patient``), so a
scenario's patient is checked exactly like a patient file: a wrong field or value is
rejected with the same message a clinician would see from ``jdm-cds evaluate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.patient import Treatment, Visit

# Day 0 of a scenario when neither "day 0 is ..." nor an ISO start of a JAK inhibitor says
# otherwise. Any fixed date would do: relative dates only need one anchor.
DEFAULT_DAY_ZERO = date(2020, 1, 1)


def _key(header: str) -> str:
    """Headers compare without case, extra spaces, or the Greek alpha spelt out."""
    text = header.strip().casefold().replace("\N{GREEK SMALL LETTER ALPHA}", "alpha")
    return re.sub(r"\s+", " ", text)


# Readable column headers (and names in one-line visits) -> patient-file field names.
# Every field name is also accepted as itself.
VISIT_ALIASES: dict[str, str] = {
    "weight": "weight_kg",
    "weight (kg)": "weight_kg",
    "ck": "ck_u_l",
    "ck (u/l)": "ck_u_l",
    "creatine kinase": "ck_u_l",
    "aldolase": "aldolase_u_l",
    "aldolase (u/l)": "aldolase_u_l",
    "ldh": "ldh_u_l",
    "ldh (u/l)": "ldh_u_l",
    "ast": "ast_u_l",
    "ast (u/l)": "ast_u_l",
    "alt": "alt_u_l",
    "alt (u/l)": "alt_u_l",
    "mmt-8": "mmt8",
    "physician global": "physician_global_vas",
    "physician global (cm)": "physician_global_vas",
    "physician global vas": "physician_global_vas",
    "parent global": "parent_global_vas",
    "parent global (cm)": "parent_global_vas",
    "parent global vas": "parent_global_vas",
    "extramuscular": "extramuscular_vas",
    "extramuscular (cm)": "extramuscular_vas",
    "extramuscular activity": "extramuscular_vas",
    "skin das": "das_skin",
    "das skin": "das_skin",
    "muscle das": "das_muscle",
    "das muscle": "das_muscle",
    "total das": "das_total",
    "das total": "das_total",
    "prednisone (mg/kg/day)": "prednisone_mg_per_kg_day",
    "prednisone mg/kg/day": "prednisone_mg_per_kg_day",
    "steroid (mg/kg/day)": "prednisone_mg_per_kg_day",
    "prednisone (mg/day)": "prednisone_mg_per_day",
    "prednisone mg/day": "prednisone_mg_per_day",
    "steroid (mg/day)": "prednisone_mg_per_day",
    "ifn-alpha": "ifn_alpha_fg_ml",
    "ifn-alpha (fg/ml)": "ifn_alpha_fg_ml",
    "interferon alpha": "ifn_alpha_fg_ml",
    "adverse events": "adverse_events",
    "adverse event": "adverse_events",
}
TREATMENT_ALIASES: dict[str, str] = {
    "dose (mg/day)": "dose_mg_per_day",
    "dose mg/day": "dose_mg_per_day",
    "dose": "dose_mg_per_day",
    "from": "start",
    "until": "stop",
}
PATIENT_ALIASES: dict[str, str] = {
    "patient": "id",
    "birth date": "birth_date",
    "date of birth": "birth_date",
    "antibody": "antibodies",
}

_DAY = re.compile(
    r"day (?P<n>[+-]?\d+)(?: after (?:the )?JAK[- ]inhibitor start)?", re.IGNORECASE)
_DAYS_FROM = re.compile(
    r"(?P<n>\d+) days? (?P<way>before|after) (?:the )?JAK[- ]inhibitor start", re.IGNORECASE)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMPTY = {"", "-"}


def visit_field(header: str) -> str:
    """The patient-file field a visit column names; unknown headers pass through unchanged,
    so that the engine's own validation names them as unknown fields."""
    key = _key(header)
    if key in Visit.model_fields:
        return key
    return VISIT_ALIASES.get(key, header.strip())


def treatment_field(header: str) -> str:
    key = _key(header)
    if key in Treatment.model_fields:
        return key
    return TREATMENT_ALIASES.get(key, header.strip())


def patient_field(header: str) -> str:
    key = _key(header)
    return PATIENT_ALIASES.get(key, key.replace(" ", "_"))


def field_names(names: str) -> list[str]:
    """'CK (U/L), CMAS and skin DAS' -> ['ck_u_l', 'cmas', 'das_skin']."""
    return [visit_field(name) for name in split_list(names)]


def split_list(text: str) -> list[str]:
    """'a, b and c' -> ['a', 'b', 'c']."""
    parts = re.split(r",|\band\b", text)
    return [part.strip().strip('"') for part in parts if part.strip()]


def is_relative_date(text: str) -> bool:
    return bool(_DAY.fullmatch(text.strip()) or _DAYS_FROM.fullmatch(text.strip()))


def resolve_date(text: str, day_zero: date) -> str:
    """An ISO date as is; 'day 90', 'day 90 after JAK inhibitor start', '14 days before JAK
    inhibitor start' counted from day_zero. Anything else is returned unchanged for the
    engine to reject as an invalid date."""
    text = text.strip()
    if match := _DAY.fullmatch(text):
        return (day_zero + timedelta(days=int(match["n"]))).isoformat()
    if match := _DAYS_FROM.fullmatch(text):
        days = int(match["n"]) * (-1 if match["way"].casefold() == "before" else 1)
        return (day_zero + timedelta(days=days)).isoformat()
    return text


def cell_value(text: str) -> Any:
    """A number if the cell is one, else the text (which validation then rejects by field)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def event_names(text: str) -> list[str]:
    """'herpes zoster, skin abscess' -> ['herpes_zoster', 'skin_abscess']."""
    return [re.sub(r"[\s-]+", "_", item.casefold()) for item in split_list(text)]


def drug_name(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip().casefold())


def rows(table: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """A data table with a header row -> one mapping per row."""
    if len(table) < 2:
        raise ValueError("a data table needs a header row and at least one row of values")
    header, *body = table
    return [dict(zip(header, row, strict=True)) for row in body]


@dataclass
class PatientDraft:
    """The patient a scenario describes, kept as written until it is evaluated."""

    id: str = "scenario-patient"
    details: dict[str, Any] = field(default_factory=dict)
    antibodies: list[str] = field(default_factory=list)
    treatments: list[dict[str, str]] = field(default_factory=list)
    visits: list[dict[str, str]] = field(default_factory=list)
    day_zero: date | None = None

    def anchor(self) -> date:
        """Day 0: as declared, else the earliest ISO start of a JAK inhibitor, else a fixed day."""
        if self.day_zero is not None:
            return self.day_zero
        starts = [date.fromisoformat(start) for start in self._jak_starts()
                  if _ISO.fullmatch(start)]
        return min(starts, default=DEFAULT_DAY_ZERO)

    def _jak_starts(self) -> Iterable[str]:
        """The start cells of the JAK-inhibitor rows, whatever the columns are called."""
        for row in self.treatments:
            cells = {treatment_field(header): text.strip() for header, text in row.items()}
            classes = core_treatment_classes()
            if drug_name(cells.get("drug", "")) in classes.drugs(classes.baseline):
                yield cells.get("start", "")

    def to_data(self) -> dict[str, Any]:
        """The patient as a patient file would hold it."""
        day_zero = self.anchor()
        data: dict[str, Any] = {"id": self.id, **self.details}
        if self.antibodies:
            data["antibodies"] = list(self.antibodies)
        data["treatments"] = [_treatment(row, day_zero) for row in self.treatments]
        data["visits"] = [_visit(row, day_zero) for row in self.visits]
        return data


def _treatment(row: Mapping[str, str], day_zero: date) -> dict[str, Any]:
    treatment: dict[str, Any] = {}
    for header, text in row.items():
        name = treatment_field(header)
        if text.strip() in _EMPTY:
            continue
        if name == "drug":
            treatment[name] = drug_name(text)
        elif name in {"start", "stop"}:
            treatment[name] = resolve_date(text, day_zero)
        else:
            treatment[name] = cell_value(text)
    return treatment


def _visit(row: Mapping[str, str], day_zero: date) -> dict[str, Any]:
    visit: dict[str, Any] = {}
    for header, text in row.items():
        name = visit_field(header)
        if text.strip() in _EMPTY:
            continue
        if name == "date":
            visit[name] = resolve_date(text, day_zero)
        elif name == "adverse_events":
            visit[name] = event_names(text)
        else:
            visit[name] = cell_value(text)
    return visit


def visit_pairs(text: str) -> dict[str, str]:
    """'CK 120, CMAS 50, adverse events herpes zoster' -> {'CK': '120', 'CMAS': '50',
    'adverse events': 'herpes zoster'}: the longest known name at the start of each part is
    the field, the rest its value."""
    names = sorted({*VISIT_ALIASES, *Visit.model_fields}, key=len, reverse=True)
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name = next((n for n in names if _key(part).startswith(n + " ")), None)
        if name is None:
            name, _, value = part.rpartition(" ")
        else:
            value = part[len(name):].strip()
        pairs[name] = value
    return pairs
