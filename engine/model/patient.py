"""What a patient is: the pydantic models of a patient file.

Validation is deliberately unforgiving. A misspelt field, a number written as
text or an impossible date is an error rather than something quietly dropped
or coerced, because a missing CK or a wrong dose changes what the rules
conclude about the child.
"""

import contextlib
import datetime as dt
import re
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jdm_cds.model.vocabulary import (
    ADVERSE_EVENTS,
    ANTIBODIES,
    DISEASE_COURSES,
    DRUGS,
    FINDING_KINDS,
    INDICATIONS,
    canonical_antibody,
    listing,
)

Sex = Literal["female", "male", "other"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _member_of(vocabulary: frozenset[str], kind: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in vocabulary:
            raise ValueError(f"unknown {kind} {value!r} (allowed: {listing(vocabulary)})")
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


# Dates the engine computes with: rule packs add at most 100 years to a date (checked
# when packs load), so every window of every pack stays within what a date can hold.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)


def _within_range(value: dt.date) -> dt.date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"date {value.isoformat()} is outside the range the engine computes "
                         f"with ({FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()})")
    return value


_IsoDate = Annotated[
    dt.date, BeforeValidator(_iso_date), Field(strict=True), AfterValidator(_within_range)
]

# The antibody names and aliases as they are usually written, for editors that complete
# from the JSON Schema; the reader also accepts them in any case and with other separators
# (see canonical_antibody), which the schema's list cannot spell out.
ANTIBODY_SPELLINGS = (
    *sorted(ANTIBODIES),
    "MDA5", "anti-CADM-140", "CADM-140", "NXP2", "anti-NXP-2", "NXP-2", "anti-MJ", "MJ", "TIF1g",
    "anti-TIF1\N{GREEK SMALL LETTER GAMMA}", "TIF1\N{GREEK SMALL LETTER GAMMA}", "TIF1-gamma",
    "anti-TIF1-gamma", "anti-p155/140", "anti-p155", "Mi-2", "anti-Mi2", "SAE", "anti-SAE1",
    "SRP", "HMGCR", "MSA-negative", "none",
)
_Antibody = Annotated[str, AfterValidator(canonical_antibody),
                      Field(json_schema_extra={"enum": list(ANTIBODY_SPELLINGS)})]
_Drug = Annotated[str, _member_of(DRUGS, "drug"),
                  Field(json_schema_extra={"enum": sorted(DRUGS)})]
_AdverseEvent = Annotated[str, _member_of(ADVERSE_EVENTS, "adverse event"),
                          Field(json_schema_extra={"enum": sorted(ADVERSE_EVENTS)})]


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

    drug: _Drug = Field(description=f"Drug or procedure, one of: {listing(DRUGS)}")
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
        (), description=f"Adverse events noted at this visit, from: {listing(ADVERSE_EVENTS)}"
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


_Indication = Annotated[str, _member_of(INDICATIONS, "indication")]


class Finding(BaseModel):
    """An investigation and what it showed (kept for the record; no rule reads it)."""

    model_config = _STRICT

    date: _IsoDate = Field(description="Date of the investigation (YYYY-MM-DD)")
    kind: Annotated[str, _member_of(FINDING_KINDS, "finding kind")] = Field(
        description=f"What was done, one of: {listing(FINDING_KINDS)}")
    result: str = Field(min_length=1, description="What it showed, in free text")


class Patient(BaseModel):
    """Everything the engine knows about one patient."""

    model_config = _STRICT

    id: str = Field(min_length=1, description="Patient identifier, unique within a data set")
    birth_date: _IsoDate | None = Field(None, description="Date of birth (YYYY-MM-DD)")
    sex: Sex | None = Field(None, description="Sex: female, male or other")
    antibodies: tuple[_Antibody, ...] = Field(
        (),
        description="Myositis-specific antibodies found, or 'negative'; canonical names: "
        f"{listing(ANTIBODIES)} (common aliases such as MDA5 or anti-p155/140 are accepted)",
    )
    disease_course: Annotated[str, _member_of(DISEASE_COURSES, "disease course")] | None = Field(
        None, description="Disease course when the JAK inhibitor was started: "
        f"{listing(DISEASE_COURSES)}; omit if not recorded")
    indications: Annotated[tuple[_Indication, ...], AfterValidator(_distinct)] = Field(
        (), description="Why the JAK inhibitor was given, from: "
        f"{listing(INDICATIONS)}")
    findings: tuple[Finding, ...] = Field(
        (), description="Investigations and what they showed (e.g. a repeat muscle biopsy)")
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

    def visits_until(self, day: dt.date | None) -> tuple[Visit, ...]:
        """Visits on or before day (all of them when day is None), oldest first."""
        return tuple(v for v in self.visits if day is None or v.date <= day)


def patient_json_schema() -> dict[str, Any]:
    return Patient.model_json_schema()
