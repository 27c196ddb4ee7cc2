"""Turn a validated patient into the facts the engine matches, with declared derived values.

A fact holds only values that are present (durable_rules treats ``None`` as neither
present nor absent). Lists become one boolean key per item, so that ``contains`` is a
plain equality test in the engine. Python computes only what a rule pack declares in
its ``derived`` section, through the kinds registered here; it never decides a criterion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from jdm_cds.facts.improvement import improvement_score
from jdm_cds.language.compiler import judge_key, list_key
from jdm_cds.language.rule_types import Derived, Scope
from jdm_cds.language.treatment_classes import TreatmentClasses, core_treatment_classes
from jdm_cds.model.patient import Patient, Treatment, Visit

FieldType = Literal["number", "bool", "status", "list", "text"]
VisitRole = Literal["evaluation", "previous", "baseline"]
VISIT_ROLES: tuple[VisitRole, ...] = ("evaluation", "previous", "baseline")

Fact = dict[str, Any]
# Status of each visit judgement: (rule id, visit index) -> status.
Statuses = Mapping[tuple[str, int], str]


def _visit_field_types() -> dict[str, FieldType]:
    types: dict[str, FieldType] = {}
    for name in Visit.model_fields:
        if name == "adverse_events":
            types[name] = "list"
        elif name == "date":
            types[name] = "text"
        else:
            types[name] = "number"
    return types


# Fields every fact of a scope has before any derived value is added.
BASE_FIELDS: dict[Scope, dict[str, FieldType]] = {
    "visit": _visit_field_types(),
    # draft_orders: what orders being signed hold (CDS Hooks order-sign), each drug with
    # its treatment classes (an order of ruxolitinib is also one of jak_inhibitor); empty
    # outside order-sign.
    "patient": {"antibodies": "list", "sex": "text", "evaluation_date": "text",
                "draft_orders": "list"},
}


class Timeline:
    """A patient seen from one evaluation date: which visit plays which role.

    Made for every evaluation: a plain class with slots (a frozen dataclass paid for its
    six caches' default factories and for setting each field through ``object.__setattr__``).
    Its fields are not changed once made; the caches fill as derived values ask.
    """

    __slots__ = ("_doses", "_scores", "_starts", "_treatments", "_unknown", "_windows", "at",
                 "baseline_start", "classes", "evaluation", "patient", "roles", "visits")

    def __init__(self, patient: Patient, at: date, visits: tuple[Visit, ...],
                 classes: TreatmentClasses) -> None:
        self.patient = patient
        self.at = at
        self.visits = visits  # on or before ``at``, by date
        self.classes = classes  # what a treatment name stands for, and the baseline's
        # Treatments, start dates and windows, computed once: many derived values ask.
        self._treatments: dict[str, list[Treatment]] = {}
        self._starts: dict[str, date | None] = {}
        self._windows: dict[tuple[str, int], list[tuple[int, int]]] = {}
        # The improvement score and its bounds, by the id of the pack's domain list.
        self._scores: dict[int, DetailedValue] = {}
        # Each visit's dose and where it came from, by visit index and the fields it reads:
        # three derived kinds (the dose, its source, whether any was given) read the same.
        self._doses: dict[tuple[Any, ...], tuple[Any, str]] = {}
        # Why a visit-scope derived value is unknown at a visit: (visit index, name) -> why.
        self._unknown: dict[tuple[int, str], str] = {}
        # The first start of the baseline treatment (day 0 of the study's window).
        start = self.baseline_start = self.start_of(classes.baseline)
        count = len(visits)
        baseline = None
        if start is not None:
            for index, visit in enumerate(visits):
                if visit.date <= start:
                    baseline = index
        self.evaluation = count - 1 if count else None
        # The visit index of each role, if there is one.
        self.roles: dict[VisitRole, int | None] = {
            "evaluation": self.evaluation, "previous": count - 2 if count >= 2 else None,
            "baseline": baseline}

    def role(self, role: VisitRole) -> int | None:
        return self.roles[role]

    def treatments(self, spec: str) -> list[Treatment]:
        found = self._treatments.get(spec)
        if found is None:
            drugs = self.classes.drugs(spec)
            found = self._treatments[spec] = [t for t in self.patient.treatments
                                              if t.drug in drugs]
        return found

    def start_of(self, spec: str) -> date | None:
        if spec not in self._starts:
            starts = [t.start for t in self.treatments(spec) if t.start <= self.at]
            self._starts[spec] = min(starts) if starts else None
        return self._starts[spec]


def timeline(patient: Patient, at: date | None = None,
             classes: TreatmentClasses | None = None) -> Timeline:
    """The patient seen from ``at``; ``classes`` default to the shipped treatment classes."""
    visits = patient.visits if at is None else tuple(v for v in patient.visits if v.date <= at)
    when = at if at is not None else patient.visits[-1].date
    return Timeline(patient, when, visits, classes or core_treatment_classes())


# --- derived value kinds ------------------------------------------------------------

# A visit-scope kind sees the timeline, the visit index and that visit's fact so far.
VisitCompute = Callable[[Timeline, int, Fact, Mapping[str, Any]], Any]
# A patient-scope kind sees the timeline, every visit fact, each visit judgement's
# status (rule id, visit index) and the patient fact so far.
PatientCompute = Callable[
    [Timeline, list[Fact], Statuses, Fact, Mapping[str, Any]], Any
]


@dataclass(frozen=True)
class DerivedKind:
    name: str
    scope: Scope
    output: FieldType
    params: dict[str, str]  # parameter -> what it must be: field, rule, treatment, role, ...
    optional: tuple[str, ...]
    compute: VisitCompute | PatientCompute
    summary: str
    # For kinds that read visit judgements: the visits whose ``rule`` must be judged.
    reads: Callable[[Timeline, Mapping[str, Any]], list[int]] | None = None


@dataclass(frozen=True)
class DetailedValue:
    """A derived value together with the working a clinician needs to check it.

    When the value is unknown (None), ``details["unknown_because"]`` says why, and every
    judgement that tests or reports the value gives that among its reasons.
    """

    value: Any
    details: dict[str, Any]


def _dose(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> tuple[Any, str]:
    """(dose per kg or a DetailedValue saying why it is unknown, where it came from),
    computed once a visit: it depends only on the fields it names, their values at this
    visit, the treatment and the timeline."""
    per_kg, per_day, weight = p["per_kg"], p["per_day"], p["weight"]
    key = (i, p.get("treatment"), per_kg, per_day, weight, fact.get(per_kg), fact.get(per_day),
           fact.get(weight))
    found = tl._doses.get(key)
    if found is None:
        found = tl._doses[key] = _dose_of(tl, i, fact, p)
    return found


def _dose_of(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> tuple[Any, str]:
    """(dose per kg or a DetailedValue saying why it is unknown, where it came from).

    The visit's own dose first (per kg, else per day / the visit's weight). A visit that
    records none takes, when ``treatment`` is given, the ``dose_mg_per_day`` of that
    treatment's course active on the visit date; with no such course active the dose is 0
    when the treatments list courses of it (they are then the record of what was given) or no
    visit records a dose of it; otherwise (doses at visits, no course listed) it is unknown.
    """
    day = tl.visits[i].date
    if p["per_kg"] in fact:
        return fact[p["per_kg"]], f"the visit of {day} ({p['per_kg']})"
    per_day, source = fact.get(p["per_day"]), f"the visit of {day} ({p['per_day']})"
    if per_day is None and "treatment" in p:
        courses = [t for t in tl.treatments(p["treatment"]) if t.active_on(day)]
        if not courses:
            if tl.treatments(p["treatment"]):
                return 0.0, f"no {p['treatment']} course active on {day} (treatments)"
            if not any(getattr(visit, p[unit], None) is not None
                       for visit in tl.visits for unit in ("per_kg", "per_day")):
                return 0.0, (f"no {p['treatment']} course in the treatments and no dose "
                             "recorded at any visit")
            # Doses recorded at visits, no course listed: the treatments are not the record
            # of this drug, and a visit without a dose says nothing of it.
            why = (f"no dose recorded at the visit of {day}, and no {p['treatment']} course "
                   "is listed in the treatments (other visits record doses)")
            return DetailedValue(None, {"unknown_because": why}), why
        given = [t for t in courses if t.dose_mg_per_day is not None]
        if len(given) != 1 or len(courses) != 1:
            starts = ", ".join(str(t.start) for t in courses)
            why = (f"{p['treatment']} course(s) from {starts} active on {day}: "
                   + ("no dose recorded at the visit or on the course" if not given else
                      "more than one course is active and the visit records no dose"))
            return DetailedValue(None, {"unknown_because": why}), why
        per_day = given[0].dose_mg_per_day
        source = (f"the {p['treatment']} course from {given[0].start} "
                  f"(dose_mg_per_day {per_day:g}, the visit records no dose)")
    if per_day is None:
        return None, "no dose recorded"
    if per_day == 0 and "treatment" in p:  # 0 mg/day is 0 mg/kg/day whatever the weight
        return 0.0, source
    if p["weight"] not in fact:
        why = f"{per_day:g} mg/day from {source}, but no weight is recorded at the visit"
        return DetailedValue(None, {"unknown_because": why}), why
    dose = per_day / fact[p["weight"]]
    if math.isfinite(dose):
        return dose, f"{source} / weight {fact[p['weight']]:g} kg"
    why = f"{per_day:g} / {fact[p['weight']]:g} is too large to compute"
    return DetailedValue(None, {"unknown_because": why}), why


def _dose_per_kg(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> Any:
    return _dose(tl, i, fact, p)[0]


def _dose_source(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> Any:
    return _dose(tl, i, fact, p)[1]


def _dose_given(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> Any:
    """1 when the dose is above 0, 0 when it is 0 (a number, as visit_value gives numbers):
    a dose in mg/day above 0 says so whatever the weight."""
    dose, source = _dose(tl, i, fact, p)
    if isinstance(dose, DetailedValue):
        # Unknown for want of a weight, or too large to compute: mg/day above 0 still says it.
        per_day = fact.get(p["per_day"])
        if per_day is None and "treatment" in p:
            courses = [t for t in tl.treatments(p["treatment"])
                       if t.active_on(tl.visits[i].date) and t.dose_mg_per_day is not None]
            per_day = courses[0].dose_mg_per_day if len(courses) == 1 else None
        return 1 if per_day is not None and per_day > 0 and "mg/day" in source else dose
    return None if dose is None else int(dose > 0)


def _days_since_start(tl: Timeline, i: int, fact: Fact, p: Mapping[str, Any]) -> Any:
    start = tl.start_of(p["treatment"])
    return None if start is None else (tl.visits[i].date - start).days


def _treatment_active(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                      p: Mapping[str, Any]) -> Any:
    return any(t.active_on(tl.at) for t in tl.treatments(p["treatment"]))


def _treatment_started(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                       p: Mapping[str, Any]) -> Any:
    return tl.start_of(p["treatment"]) is not None


def _treatment_start_date(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                          p: Mapping[str, Any]) -> Any:
    start = tl.start_of(p["treatment"])
    return None if start is None else start.isoformat()


def _active_treatments(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                       p: Mapping[str, Any]) -> Any:
    courses = sorted((t for t in tl.treatments(p["treatment"]) if t.active_on(tl.at)),
                     key=lambda t: (t.start, t.drug))
    named = {t.drug: f"{t.drug} from {t.start}" for t in reversed(courses)}  # first start
    return [named[drug] for drug in dict.fromkeys(t.drug for t in courses)]


def _visit_value(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                 p: Mapping[str, Any]) -> Any:
    index = tl.role(p["visit"])
    if index is None:
        return None
    value = facts[index].get(p["field"])
    why = tl._unknown.get((index, p["field"]))
    if value is None and why is not None:  # a derived value that said why it is unknown
        return DetailedValue(None, {"unknown_because": why})
    return value


def _visit_status(tl: Timeline, facts: list[Fact], statuses: Statuses,
                  fact: Fact, p: Mapping[str, Any]) -> Any:
    index = tl.role(p["visit"])
    return None if index is None else statuses[(p["rule"], index)]


def _days_since_visit(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                      p: Mapping[str, Any]) -> Any:
    index = tl.role(p["visit"])
    return None if index is None else (tl.at - tl.visits[index].date).days


def _visit_exists(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                  p: Mapping[str, Any]) -> Any:
    return tl.role(p["visit"]) is not None


def _visit_event(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                 p: Mapping[str, Any]) -> Any:
    index = tl.role(p["visit"])
    return None if index is None else p["event"] in tl.visits[index].adverse_events


def _window(tl: Timeline, p: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(visit index, day) of the visits inside the window, both ends inclusive."""
    key = (p["treatment"], int(p["days"]))
    if key not in tl._windows:
        start = tl.start_of(p["treatment"])
        days = [] if start is None else [(i, (v.date - start).days)
                                         for i, v in enumerate(tl.visits)]
        tl._windows[key] = [(i, day) for i, day in days if 0 <= day <= key[1]]
    return tl._windows[key]


def _window_visits(tl: Timeline, p: Mapping[str, Any]) -> list[int]:
    return [i for i, _ in _window(tl, p)]


def _role_visit(tl: Timeline, p: Mapping[str, Any]) -> list[int]:
    index = tl.role(p["visit"])
    return [] if index is None else [index]


def _window_count(tl: Timeline, facts: list[Fact], statuses: Statuses,
                  fact: Fact, p: Mapping[str, Any]) -> Any:
    window = [i for i, _ in _window(tl, p)]
    if "status" not in p:
        return len(window)
    found = [statuses[(p["rule"], i)] for i in window] if "rule" in p else []
    return found.count(p["status"])


def _window_open(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                 p: Mapping[str, Any]) -> Any:
    start = tl.start_of(p["treatment"])
    return None if start is None else tl.at < start + timedelta(days=int(p["days"]))


def _visit_recorded(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                    p: Mapping[str, Any]) -> Any:
    index = tl.role(p["visit"])
    return None if index is None else p["field"] in facts[index]


def _window_first_day(tl: Timeline, facts: list[Fact], statuses: Statuses,
                      fact: Fact, p: Mapping[str, Any]) -> Any:
    for i, day in _window(tl, p):
        status = statuses[(p["rule"], i)]
        if status == p["status"]:
            return day
        if status == "indeterminate":
            # An earlier visit that could not be judged may have been the first.
            return DetailedValue(None, {"unknown_because": f"the visit of day {day} could not "
                                        f"be judged ({p['rule']} is indeterminate there)"})
    return None


def _scored(tl: Timeline, facts: list[Fact], p: Mapping[str, Any]) -> DetailedValue:
    """The score with its working, computed once per evaluation and domain list: the
    score, its bounds and its missing domains are four derived values."""
    key = id(p["domains"])  # one list for equal ones (FactBuilder), alive as long as it
    if key not in tl._scores:
        tl._scores[key] = _score_of(tl, facts, p)
    return tl._scores[key]


def _score_of(tl: Timeline, facts: list[Fact], p: Mapping[str, Any]) -> DetailedValue:
    baseline, follow_up = tl.role("baseline"), tl.evaluation
    if tl.baseline_start is None:
        return DetailedValue(None, {"unknown_because": "no JAK-inhibitor start on or before "
                                    "the evaluation date"})
    if baseline is None:
        return DetailedValue(None, {"unknown_because": "no baseline visit (a visit on or "
                                    "before the JAK-inhibitor start)"})
    if follow_up is None or follow_up == baseline:
        return DetailedValue(None, {"unknown_because": "no visit after the JAK-inhibitor "
                                    "start (the evaluation visit is the baseline visit)"})
    score, details = improvement_score(facts[baseline], facts[follow_up], p)
    if score is None:
        dates = f"{tl.visits[baseline].date} and {tl.visits[follow_up].date}"
        details["unknown_because"] = (
            f"not measured at both visits ({dates}): {', '.join(details['missing_domains'])}; "
            f"the published score needs all six; the measured domains give "
            f"{details['score_min']:g}, the missing ones could add up to "
            f"{details['score_max'] - details['score_min']:g} (bounds "
            f"{details['score_min']:g} to {details['score_max']:g})")
    return DetailedValue(score, details)


def _improvement(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                 p: Mapping[str, Any]) -> Any:
    return _scored(tl, facts, p)


def _improvement_min(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                     p: Mapping[str, Any]) -> Any:
    return _scored(tl, facts, p).details.get("score_min")


def _improvement_max(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                     p: Mapping[str, Any]) -> Any:
    return _scored(tl, facts, p).details.get("score_max")


def _improvement_missing(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                         p: Mapping[str, Any]) -> Any:
    scored = _scored(tl, facts, p)
    if "score_min" not in scored.details:  # no score at all: nothing to list
        return None
    return list(scored.details.get("missing_domains", []))


def _label(value: Any, bands: list[dict[str, Any]]) -> Any:
    label = None
    for band in bands:
        if value >= band["from"]:
            label = band["label"]
    return label


def _band(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
          p: Mapping[str, Any]) -> Any:
    value = fact.get(p["of"])
    return None if value is None else _label(value, p["bands"])


def _bands_between(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                   p: Mapping[str, Any]) -> Any:
    low, high = fact.get(p["low"]), fact.get(p["high"])
    if low is None or high is None:
        return None
    labels = [band["label"] for band in p["bands"]]
    lowest, highest = _label(low, p["bands"]), _label(high, p["bands"])
    if lowest is None or highest is None:
        return None
    return labels[labels.index(lowest):labels.index(highest) + 1]


def _band_between(tl: Timeline, facts: list[Fact], statuses: Statuses, fact: Fact,
                  p: Mapping[str, Any]) -> Any:
    labels = _bands_between(tl, facts, statuses, fact, p)
    if labels is None or len(labels) == 1:
        return None if labels is None else labels[0]
    return DetailedValue(None, {"unknown_because": f"{fact[p['low']]:g} to "
                                f"{fact[p['high']]:g} spans {', '.join(labels)}"})


KINDS: dict[str, DerivedKind] = {
    kind.name: kind
    for kind in (
        DerivedKind("dose_per_kg", "visit", "number",
                    {"per_kg": "field", "per_day": "field", "weight": "field",
                     "treatment": "treatment"}, ("treatment",), _dose_per_kg,
                    "a dose per kg: the per-kg field if given, else per-day / weight; with "
                    "'treatment', a visit without a dose takes the dose_mg_per_day of that "
                    "treatment's course active on its date (0 with no course active)"),
        DerivedKind("dose_given", "visit", "number",
                    {"per_kg": "field", "per_day": "field", "weight": "field",
                     "treatment": "treatment"}, ("treatment",), _dose_given,
                    "1 when the dose_per_kg with the same parameters is above 0, 0 when it is "
                    "0 (a dose in mg/day above 0 is above 0 whatever the weight)"),
        DerivedKind("dose_source", "visit", "text",
                    {"per_kg": "field", "per_day": "field", "weight": "field",
                     "treatment": "treatment"}, ("treatment",), _dose_source,
                    "where the dose_per_kg with the same parameters came from, in words"),
        DerivedKind("days_since_start", "visit", "number", {"treatment": "treatment"}, (),
                    _days_since_start, "days from the first start of a treatment to the visit"),
        DerivedKind("treatment_active", "patient", "bool", {"treatment": "treatment"}, (),
                    _treatment_active, "the treatment is active on the evaluation date"),
        DerivedKind("active_treatments", "patient", "list", {"treatment": "treatment"}, (),
                    _active_treatments, "each drug of a treatment (class) active on the "
                    "evaluation date, with its start: 'methotrexate from 2020-01-01'"),
        DerivedKind("treatment_started", "patient", "bool", {"treatment": "treatment"}, (),
                    _treatment_started, "the treatment started on or before the evaluation date"),
        DerivedKind("treatment_start_date", "patient", "text", {"treatment": "treatment"}, (),
                    _treatment_start_date, "the first start date of a treatment"),
        DerivedKind("visit_value", "patient", "number", {"visit": "role", "field": "visit_field"},
                    (), _visit_value, "a visit field at the evaluation, previous or baseline "
                    "visit"),
        DerivedKind("visit_status", "patient", "status", {"visit": "role", "rule": "visit_rule"},
                    (), _visit_status, "a visit judgement's status at a visit of that role",
                    reads=_role_visit),
        DerivedKind("days_since_visit", "patient", "number", {"visit": "role"}, (),
                    _days_since_visit, "days from the visit of that role to the evaluation "
                    "date"),
        DerivedKind("visit_exists", "patient", "bool", {"visit": "role"}, (), _visit_exists,
                    "there is a visit of that role"),
        DerivedKind("visit_recorded", "patient", "bool",
                    {"visit": "role", "field": "visit_field"}, (), _visit_recorded,
                    "the visit of that role has a value for the field (false: not recorded)"),
        DerivedKind("visit_event", "patient", "bool", {"visit": "role", "event": "event"}, (),
                    _visit_event, "an adverse event is listed at the visit of that role"),
        DerivedKind("window_count", "patient", "number",
                    {"treatment": "treatment", "days": "days", "rule": "visit_rule",
                     "status": "status"}, ("rule", "status"), _window_count,
                    "visits in [start, start + days] (with that judgement status, if given)",
                    reads=_window_visits),
        DerivedKind("window_open", "patient", "bool", {"treatment": "treatment", "days": "days"},
                    (), _window_open, "the evaluation date is before start + days"),
        DerivedKind("window_first_day", "patient", "number",
                    {"treatment": "treatment", "days": "days", "rule": "visit_rule",
                     "status": "status"}, (), _window_first_day,
                    "day (from start) of the first window visit with that judgement status",
                    reads=_window_visits),
        DerivedKind("improvement_score", "patient", "number", {"domains": "domains"}, (),
                    _improvement, "the ACR/EULAR total improvement score, baseline to evaluation"),
        DerivedKind("improvement_score_min", "patient", "number", {"domains": "domains"}, (),
                    _improvement_min, "the least the total improvement score can be: the "
                    "points of the domains measured at both visits"),
        DerivedKind("improvement_score_max", "patient", "number", {"domains": "domains"}, (),
                    _improvement_max, "the most the total improvement score can be: the "
                    "measured points plus the top band of each missing domain"),
        DerivedKind("improvement_missing", "patient", "list", {"domains": "domains"}, (),
                    _improvement_missing, "the score's domains not measured at both visits"),
        DerivedKind("band", "patient", "text", {"of": "field", "bands": "bands"}, (), _band,
                    "the label of the highest band whose 'from' the value reaches"),
        DerivedKind("band_between", "patient", "text",
                    {"low": "field", "high": "field", "bands": "bands"}, (), _band_between,
                    "the band holding both bounds; unknown when they fall in different bands"),
        DerivedKind("bands_between", "patient", "list",
                    {"low": "field", "high": "field", "bands": "bands"}, (), _bands_between,
                    "the labels of every band from the low bound's to the high bound's"),
    )
}


def order_items(orders: Iterable[str], classes: TreatmentClasses) -> tuple[str, ...]:
    """The items of draft orders: each order's own name and the classes it belongs to."""
    items = dict.fromkeys(orders)
    for name, members in classes.classes.items():
        if not members.drugs.isdisjoint(items):
            items[name] = None
    return tuple(items)


# --- fact building -------------------------------------------------------------------


def _present(values: Mapping[str, Any], types: Mapping[str, FieldType]) -> Fact:
    """The values that are there, lists as one key per item, dates as ISO text."""
    fact = {name: value for name, value in values.items() if value is not None}
    for name, kind in types.items():
        if name not in fact:
            continue
        if kind == "list":
            for item in fact.pop(name):
                fact[list_key(name, str(item))] = True
        elif kind == "text" and isinstance(fact[name], date):
            fact[name] = fact[name].isoformat()
    return fact


# Fields that need more than copying (the others are numbers).
_SPECIAL = {scope: {name: kind for name, kind in fields.items() if kind in ("list", "text")}
            for scope, fields in BASE_FIELDS.items()}


class FactBuilder:
    """Builds the facts of one rule base's derived values; made once per rule base."""

    def __init__(self, derived: list[Derived], visit_judgements: list[str],
                 patient_judged: bool) -> None:
        # Equal parameter values become one object: a value computed once per evaluation
        # for several derived values (the score and its bounds name one domain list) is
        # cached by its parameter's identity, and a rule base held as plain data (the
        # compiled cache) has a copy of the list for each derived value that names it.
        shared: dict[str, Any] = {}

        def interned(params: Mapping[str, Any]) -> dict[str, Any]:
            return {key: shared.setdefault(repr(value), value)
                    if isinstance(value, list | dict) else value
                    for key, value in params.items()}

        def steps(scope: Scope) -> list[tuple[str, Any, Mapping[str, Any]]]:
            return [(d.name, KINDS[d.kind].compute, interned(d.params)) for d in derived
                    if d.scope == scope]

        self._visit: list[tuple[str, VisitCompute, Mapping[str, Any]]] = steps("visit")
        self._patient: list[tuple[str, PatientCompute, Mapping[str, Any]]] = steps("patient")
        self._readers = [(reads, d.params, judge_key(d.params["rule"])) for d in derived
                         if (reads := KINDS[d.kind].reads) is not None and "rule" in d.params]
        # The fact key that asks for each visit judgement.
        self._judge_keys = {rule: judge_key(rule) for rule in visit_judgements}
        self._patient_judged = patient_judged

    def visits(self, tl: Timeline, details: dict[str, Any]) -> list[Fact]:
        """One fact per visit on or before the evaluation date.

        A visit fact asks for a judgement (``judge:<rule id>``) when the report or a
        patient-scope derived value needs it: every visit judgement at the evaluation
        visit, and the judgements that ``visit_status`` and ``window_*`` values read, at
        the visits they read. ``judged`` marks a fact that asks for any.
        """
        facts = []
        evaluation = tl.evaluation
        for index, visit in enumerate(tl.visits):
            # The validated model's own attributes: model_dump would copy every visit again.
            fact = _present(vars(visit), _SPECIAL["visit"])
            for name, compute, params in self._visit:
                value = compute(tl, index, fact, params)
                if value is None:  # _store, inlined for plain values: this runs for each
                    continue       # derived value of every visit
                if isinstance(value, _STORED):
                    if isinstance(value, DetailedValue) and "unknown_because" in value.details:
                        tl._unknown[(index, name)] = value.details["unknown_because"]
                    _store(fact, name, value, details if index == evaluation else None)
                else:
                    fact[name] = value
            fact["kind"] = "visit"
            fact["visit"] = index
            facts.append(fact)
        needs: list[tuple[int, str]] = []
        if evaluation is not None:
            needs += [(evaluation, key) for key in self._judge_keys.values()]
        for reads, params, key in self._readers:
            needs += [(index, key) for index in reads(tl, params)]
        for index, key in needs:
            facts[index][key] = True
            facts[index]["judged"] = True
        return facts

    def patient(self, tl: Timeline, facts: list[Fact], statuses: Statuses,
                details: dict[str, Any], draft_orders: Iterable[str] = ()) -> Fact:
        """The patient fact; ``judged`` when some patient-scope judgement will take it."""
        fact = _present({"antibodies": tl.patient.antibodies, "sex": tl.patient.sex,
                         "evaluation_date": tl.at,
                         "draft_orders": order_items(draft_orders, tl.classes)},
                        _SPECIAL["patient"])
        for name, compute, params in self._patient:
            value = compute(tl, facts, statuses, fact, params)
            if value is None:  # _store, inlined: this runs for every derived value
                continue
            if isinstance(value, _STORED):
                _store(fact, name, value, details)
            else:
                fact[name] = value
        fact["kind"] = "patient"
        if self._patient_judged:
            fact["judged"] = True
        return fact


# The values ``_store`` takes (a tuple made once: ``DetailedValue | list`` in the loops made a
# union object for every derived value).
_STORED = (DetailedValue, list)


def _store(fact: Fact, name: str, value: Any, details: dict[str, Any] | None) -> None:
    if isinstance(value, DetailedValue):
        if details is not None:
            details[name] = value.details
        value = value.value
    if value is not None:
        fact[name] = value
        if isinstance(value, list):  # ``contains`` tests one key per item, as for a visit
            fact.update((list_key(name, str(item)), True) for item in value)
