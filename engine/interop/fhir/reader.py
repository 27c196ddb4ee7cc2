"""FHIR R4 resources in, a validated ``Patient`` out, with what could not be read.

One patient's resources (a Bundle's entries, a CDS Hooks prefetch, a Bulk Data group) go
through ``patient_from_resources``. Each resource of a kind the mapping reads is validated
by its ``fhir.resources`` R4B model; its codes are looked up in the mapping (codes first,
then names); quantities are converted by UCUM unit; observations are grouped into visits by
their effective date. Every problem is collected and raised together as one
``PatientFileError`` naming the resource (``Observation/abc valueQuantity: ...``); every
resource or code the mapping does not know is listed in ``unmapped``, never dropped.

Documented rules:
- a visit is a date: every observation, adverse event and dated dose of one day is one visit;
- several values of one field on one day: the last (by effective time, then input order) is
  used, with a warning;
- a date is the calendar date as written in the resource (``2020-01-30T23:30:00+01:00`` is
  2020-01-30): no time zone conversion;
- an adverse event dated on a day without observations makes a visit of its own, with a
  warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from jdm_cds.interop.fhir import units
from jdm_cds.interop.fhir.extensions import read_extensions
from jdm_cds.interop.fhir.mapping import Mapping, default_mapping
from jdm_cds.model.assessment import UnmappedResource
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import PatientFileError, Problem, ReadLimits, validation_problems

UCUM = "http://unitsofmeasure.org"
BUNDLE_TYPES = frozenset({"collection", "searchset", "transaction", "document", "batch"})
MEDICATION_KINDS = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
READ_KINDS = frozenset({"Patient", "Observation", "Condition", "AdverseEvent", "Procedure",
                        "Medication", *MEDICATION_KINDS})
_SKIPPED_STATUS = {"entered-in-error", "cancelled", "not-done", "stopped-in-error", "refuted",
                   "revoked"}


@dataclass
class FhirPatient:
    """What reading one patient's FHIR resources gives."""

    label: str
    patient: Patient
    unmapped: list[UnmappedResource] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # resource kind -> count
    recognised: int = 0  # resources known to the mapping with no patient field (JDM diagnosis)
    warnings: list[str] = field(default_factory=list)


def is_bundle(data: object) -> bool:
    """Whether parsed JSON is a FHIR Bundle (detected by its ``resourceType``)."""
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


def is_fhir(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def patient_from_bundle(bundle: MappingType[str, Any], label: str,
                        mapping: Mapping | None = None) -> FhirPatient:
    """Read a Bundle (collection, searchset, transaction, document or batch) of one patient."""
    if not is_bundle(bundle):
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else None
        raise _error(label, f"expected a FHIR Bundle (got {kind or 'no resourceType'})")
    kind = bundle.get("type")
    if kind not in BUNDLE_TYPES:
        raise _error(label, f"Bundle.type {kind!r} cannot be read (allowed: "
                     f"{', '.join(sorted(BUNDLE_TYPES))})")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise _error(label, "Bundle.entry must be a list")
    pairs: list[tuple[str | None, object]] = []
    problems: list[Problem] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(Problem(f"Bundle.entry[{i}]", "must be an object"))
            continue
        resource = entry.get("resource")
        if resource is None:
            # A transaction DELETE has no resource: nothing about the patient to read.
            continue
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            pairs.append((None, {"resourceType": "OperationOutcome"}))
            continue
        full_url = entry.get("fullUrl")
        pairs.append((full_url if isinstance(full_url, str) else None, resource))
    if problems:
        raise PatientFileError(label, problems)
    return _Reader(label, mapping or default_mapping()).read(pairs)


def patient_from_resources(resources: Iterable[object], label: str,
                           mapping: Mapping | None = None) -> FhirPatient:
    """Read one patient's resources (dicts as parsed from JSON)."""
    return _Reader(label, mapping or default_mapping()).read([(None, r) for r in resources])


# A number of FHIR JSON (a tuple, not ``int | float``, which would be made at every test).
_NUMBERS = (int, float)


def _error(label: str, message: str) -> PatientFileError:
    return PatientFileError(label, [Problem("-", message)])


def _ref_name(resource: MappingType[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def _day(value: object) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None  # a year or a month alone is no visit date
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _codings(concept: object) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding", []) if isinstance(c, dict)]


def _first_code(concept: object) -> tuple[str | None, str | None]:
    """(system|code, display) of a CodeableConcept, for the unmapped list."""
    codings = _codings(concept)
    text = concept.get("text") if isinstance(concept, dict) else None
    if codings:
        c = codings[0]
        code = f"{c.get('system', '')}|{c.get('code', '')}" if c.get("code") else None
        return code, c.get("display") or text
    return None, text


class _Reader:
    def __init__(self, label: str, mapping: Mapping) -> None:
        self.label = label
        self.mapping = mapping
        self.problems: list[Problem] = []
        self.unmapped: list[UnmappedResource] = []
        self.ignored: Counter[str] = Counter()
        self.recognised = 0
        self.warnings: list[str] = []
        # date -> field -> (sort key, value, provenance)
        self.visits: dict[dt.date, dict[str, tuple[tuple[str, int], Any, str]]] = {}
        self.visit_events: dict[dt.date, dict[str, str]] = {}
        self.treatments: list[tuple[dict[str, Any], str]] = []
        self.antibodies: dict[str, str] = {}
        self.order = 0
        self.patient_id = ""
        self.patient_refs: set[str] = set()

    # -- the whole read -------------------------------------------------------------------
    def read(self, pairs: list[tuple[str | None, object]]) -> FhirPatient:
        resources: list[dict[str, Any]] = []
        self.by_ref: dict[str, dict[str, Any]] = {}
        for i, (full_url, resource) in enumerate(pairs):
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                self.problems.append(Problem(f"resource {i + 1}", "not a FHIR resource (an object "
                                             "with a resourceType)"))
                continue
            resources.append(resource)
            if isinstance(resource.get("id"), str):
                self.by_ref[_ref_name(resource)] = resource
            if full_url:
                self.by_ref[full_url] = resource
        patient_res = self._patient(resources)
        ignored = self.mapping.ignored_kinds
        for resource in resources:
            kind = resource["resourceType"]
            if kind in ("Patient", "Medication"):
                continue
            if kind in ignored:
                self.ignored[kind] += 1
                continue
            if kind not in READ_KINDS:
                code, display = _first_code(resource.get("code"))
                self._unmapped(resource, "resource kind not read by the mapping", code, display)
                continue
            if not self._belongs(resource) or not self._valid(resource):
                continue
            self.order += 1
            try:
                _HANDLERS.get(kind, _Reader._medication)(self, resource)
            except units.UnitError as exc:
                self.problems.append(Problem(f"{_ref_name(resource)} valueQuantity", str(exc)))
        if self.problems:
            raise PatientFileError(self.label, self.problems)
        return self._patient_model(patient_res)

    def _patient(self, resources: list[dict[str, Any]]) -> dict[str, Any] | None:
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        ids = list(dict.fromkeys(str(p.get("id")) for p in patients))
        if len(ids) > 1:
            self.problems.append(Problem("-", "resources of more than one patient: "
                                         + ", ".join(f"Patient/{i}" for i in ids)))
            return None
        if patients:
            self._valid(patients[0])
            self.patient_id = ids[0]
            self.patient_refs = {f"Patient/{ids[0]}"}
            for key, resource in self.by_ref.items():
                if resource is patients[0]:
                    self.patient_refs.add(key)
            return patients[0]
        # No Patient resource (a CDS Hooks prefetch may leave it out): the references decide.
        referenced = {self._subject(r) for r in resources} - {None}
        names = sorted(str(r) for r in referenced)
        if len(names) > 1:
            self.problems.append(Problem("-", "resources of more than one patient: "
                                         + ", ".join(names)))
        self.patient_id = names[0].rsplit("/", 1)[-1] if names else ""
        self.patient_refs = set(names)
        if not names:
            self.problems.append(Problem("-", "no Patient resource and no resource names its "
                                         "patient"))
        return None

    @staticmethod
    def _subject(resource: MappingType[str, Any]) -> str | None:
        for key in ("subject", "patient"):
            ref = resource.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                return _normalise_ref(ref["reference"])
        return None

    def _belongs(self, resource: dict[str, Any]) -> bool:
        ref = self._subject(resource)
        if ref is None or ref in self.patient_refs:
            return True
        self.problems.append(Problem(_ref_name(resource), f"belongs to {ref}, not to "
                                     f"Patient/{self.patient_id}: resources of another patient "
                                     "are mixed in"))
        return False

    def _valid(self, resource: dict[str, Any]) -> bool:
        plain = _PLAIN.get(resource["resourceType"])
        if plain is not None and plain(resource):
            return True
        try:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        except ValidationError as exc:
            for error in exc.errors(include_url=False)[:5]:
                where = ".".join(str(p) for p in error["loc"] if p != "__root__") or "-"
                self.problems.append(Problem(f"{_ref_name(resource)} {where}",
                                             f"invalid FHIR R4: {error['msg']}"))
            return False
        except Exception as exc:  # fhir.resources raises assorted errors on odd input
            self.problems.append(Problem(_ref_name(resource), f"invalid FHIR R4: {exc}"))
            return False
        return True

    def _unmapped(self, resource: MappingType[str, Any], reason: str,
                  code: str | None = None, display: str | None = None) -> None:
        self.unmapped.append(UnmappedResource(
            resource_type=str(resource.get("resourceType")), id=resource.get("id"),
            code=code, display=display, reason=reason))

    def _lookup(self, concept: object, sections: tuple[str, ...]) -> tuple[str, str] | None:
        codings = _codings(concept)
        for coding in codings:
            target = self.mapping.by_code(coding.get("system"), coding.get("code"))
            if target is not None and target[0] in sections:
                return target
        names = [c.get("display") for c in codings]
        if isinstance(concept, dict):
            names.insert(0, concept.get("text"))
        for name in names:
            for section in sections:
                found = self.mapping.by_text(section, name)
                if found is not None:
                    return section, found
        if "treatment" in sections:
            # A product's name holds its ingredient's ('methotrexate 2.5 MG Oral Tablet'):
            # read when it names exactly one treatment of the mapping.
            for name in names:
                within = self.mapping.by_words("treatment", name)
                if len(within) == 1:
                    return "treatment", within.pop()
        return None

    # -- one kind each ----------------------------------------------------------------------
    def _observation(self, obs: dict[str, Any]) -> None:
        # The code as the unmapped list shows it is worked out only for the observations
        # that need it (most are read).
        concept = obs.get("code")
        target = self._lookup(concept, ("observation", "antibody"))
        if target is None:
            self._unmapped(obs, "code not in the mapping", *_first_code(concept))
            return
        status = obs.get("status")
        if status not in self.mapping.file.observation_statuses:
            self._unmapped(obs, f"status {status!r} carries no usable value",
                           *_first_code(concept))
            return
        effective = (obs.get("effectiveDateTime") or obs.get("effectiveInstant")
                     or (obs.get("effectivePeriod") or {}).get("start"))
        day = _day(effective)
        when = str(effective or "")
        if day is None:
            self.problems.append(Problem(f"{_ref_name(obs)} effective[x]",
                                         "no effective date (YYYY-MM-DD): cannot place it in a "
                                         "visit"))
            return
        section, name = target
        if section == "antibody":
            self._antibody(obs, name, *_first_code(concept))
            return
        quantity = obs.get("valueQuantity")
        if not isinstance(quantity, dict) or "value" not in quantity:
            code, display = _first_code(concept)
            reason = "no value"
            absent = obs.get("dataAbsentReason")
            if absent:
                reason += f" ({_first_code(absent)[1] or _first_code(absent)[0]})"
            elif obs.get("valueString") or obs.get("valueCodeableConcept"):
                reason = "value is not a quantity"
            self._unmapped(obs, reason, code, display)
            return
        if quantity.get("comparator"):
            self._unmapped(obs, f"value is a bound ({quantity['comparator']}"
                           f"{quantity['value']}), not a measurement", *_first_code(concept))
            return
        unit = self._unit(obs, quantity)
        entry = self.mapping.file.observations[name]
        if name == "prednisone_dose":
            kind = units.kind_of(unit) if unit else None
            goes = {units.kind_of(u): (u, f) for u, f in entry.fields.items()}
            if kind not in goes:
                raise units.UnitError(f"unit {unit!r} is not a prednisone dose (expected "
                                      f"{' or '.join(entry.fields)})")
            wanted, name = goes[kind]
        else:
            assert isinstance(entry.unit, str)
            wanted = entry.unit
        value = quantity["value"]
        if isinstance(value, bool) or not isinstance(value, _NUMBERS):
            # FHIR JSON writes a decimal as a number; "50" is not one (never coerced).
            self.problems.append(Problem(f"{_ref_name(obs)} valueQuantity.value",
                                         f"expected a number (got {value!r})"))
            return
        if unit is None:
            if units.kind_of(wanted) != "score":
                raise units.UnitError(f"no unit for {name} (expected {wanted})")
            unit = wanted
        converted = units.convert(float(value), unit, wanted)
        self._put(day, name, converted, f"{_ref_name(obs)} valueQuantity", (when, self.order))

    def _unit(self, obs: dict[str, Any], quantity: dict[str, Any]) -> str | None:
        system, code, text = quantity.get("system"), quantity.get("code"), quantity.get("unit")
        if code is not None and system not in (None, UCUM):
            raise units.UnitError(f"unit system {system!r} is not UCUM ({UCUM})")
        unit = code or text
        if unit is not None and not units.known(unit):
            raise units.UnitError(f"unknown unit {unit!r}")
        return unit if isinstance(unit, str) else None

    def _put(self, day: dt.date, name: str, value: Any, where: str, key: tuple[str, int]) -> None:
        fields = self.visits.get(day)
        if fields is None:
            fields = self.visits[day] = {}
        old = fields.get(name)
        if old is not None:
            first, second = sorted([old, (key, value, where)], key=lambda item: item[0])
            self.warnings.append(
                f"{self.label}: {first[2].split()[0]} and {second[2].split()[0]} both give "
                f"{name} on {day}: the last ({second[2].split()[0]}) is used")
            fields[name] = second
        else:
            fields[name] = (key, value, where)

    def _antibody(self, obs: dict[str, Any], name: str, code: str | None,
                  display: str | None) -> None:
        result = self._result(obs)
        if result is None:
            self.problems.append(Problem(f"{_ref_name(obs)} value[x]",
                                         f"cannot tell whether the {name} result is positive "
                                         "or negative"))
            return
        if name == "negative":
            # The panel: a negative panel means no myositis-specific antibody.
            if result == "negative":
                self.antibodies.setdefault("negative", _ref_name(obs))
            else:
                self._unmapped(obs, "a positive panel does not name its antibody", code, display)
            return
        if result == "positive":
            self.antibodies[name] = _ref_name(obs)

    def _result(self, obs: dict[str, Any]) -> str | None:
        concept = obs.get("valueCodeableConcept")
        if isinstance(obs.get("valueString"), str):
            concept = {"text": obs["valueString"]}
        if isinstance(obs.get("valueBoolean"), bool):
            return "positive" if obs["valueBoolean"] else "negative"
        found = self._lookup(concept, ("result",)) if concept else None
        if found is None:
            for interpretation in obs.get("interpretation", []):
                found = self._lookup(interpretation, ("result",))
                if found is not None:
                    break
        return found[1] if found else None

    def _medication_concept(self, resource: dict[str, Any]) -> object:
        if "medicationCodeableConcept" in resource:
            return resource["medicationCodeableConcept"]
        ref = (resource.get("medicationReference") or {}).get("reference")
        if not isinstance(ref, str):
            return None
        if ref.startswith("#"):
            for contained in resource.get("contained", []):
                if isinstance(contained, dict) and contained.get("id") == ref[1:]:
                    return contained.get("code")
            return None
        medication = self.by_ref.get(ref) or self.by_ref.get(_normalise_ref(ref))
        if medication is not None:
            self._valid(medication)
            return medication.get("code")
        return None

    def _medication(self, resource: dict[str, Any]) -> None:
        concept = self._medication_concept(resource)
        code, display = _first_code(concept)
        if resource.get("status") in _SKIPPED_STATUS:
            self._unmapped(resource, f"status {resource.get('status')!r}", code, display)
            return
        target = self._lookup(concept, ("treatment",))
        if target is None:
            reason = ("medication not in the mapping" if concept is not None
                      else "medication reference cannot be resolved")
            self._unmapped(resource, reason, code, display)
            return
        kind = resource["resourceType"]
        start: object = None
        stop: object = None
        dosages: list[Any] = []
        if kind == "MedicationStatement":
            period = resource.get("effectivePeriod") or {}
            start = period.get("start") or resource.get("effectiveDateTime")
            stop = period.get("end")
            dosages = resource.get("dosage", [])
        elif kind == "MedicationRequest":
            dosages = resource.get("dosageInstruction", [])
            bounds: dict[str, Any] = {}
            for dosage in dosages:
                repeat = (dosage.get("timing") or {}).get("repeat") or {}
                bounds = repeat.get("boundsPeriod") or {}
                if bounds:
                    break
            period = bounds or ((resource.get("dispenseRequest") or {}).get("validityPeriod") or {})
            start, stop = period.get("start") or resource.get("authoredOn"), period.get("end")
        else:  # MedicationAdministration: one administration, or a period of them
            period = resource.get("effectivePeriod") or {}
            start = period.get("start") or resource.get("effectiveDateTime")
            stop = period.get("end")
            if resource.get("dosage"):
                dosages = [{"doseAndRate": [{"doseQuantity": resource["dosage"].get("dose")}]}]
        self._treatment(resource, target[1], start, stop, dosages)

    def _procedure(self, procedure: dict[str, Any]) -> None:
        code, display = _first_code(procedure.get("code"))
        if procedure.get("status") in _SKIPPED_STATUS:
            self._unmapped(procedure, f"status {procedure.get('status')!r}", code, display)
            return
        target = self._lookup(procedure.get("code"), ("treatment",))
        if target is None:
            self._unmapped(procedure, "code not in the mapping", code, display)
            return
        period = procedure.get("performedPeriod") or {}
        start = period.get("start") or procedure.get("performedDateTime")
        self._treatment(procedure, target[1], start, period.get("end"), [])

    def _treatment(self, resource: dict[str, Any], drug: str, start: object, stop: object,
                   dosages: list[Any]) -> None:
        where = _ref_name(resource)
        first = _day(start)
        if first is None:
            self.problems.append(Problem(f"{where} effective[x]",
                                         "no start date (YYYY-MM-DD) for the treatment"))
            return
        course: dict[str, Any] = {"drug": drug, "start": first}
        if stop is not None:
            last = _day(stop)
            if last is None:
                self.problems.append(Problem(f"{where} period.end", f"invalid date {stop!r}"))
                return
            course["stop"] = last
        dose = self._daily_dose(resource, dosages)
        if dose is not None:
            course["dose_mg_per_day"] = dose
        self.treatments.append((course, where))

    def _daily_dose(self, resource: dict[str, Any], dosages: list[Any]) -> float | None:
        for dosage in dosages:
            if not isinstance(dosage, dict):
                continue
            for rate in dosage.get("doseAndRate", []):
                quantity = (rate or {}).get("doseQuantity")
                if not isinstance(quantity, dict) or "value" not in quantity:
                    continue
                unit = quantity.get("code") or quantity.get("unit")
                if unit in ("mg/d", "g/d", "ug/d"):
                    return units.convert(float(quantity["value"]), unit, "mg/d")
                repeat = (dosage.get("timing") or {}).get("repeat") or {}
                per_day = _per_day(repeat)
                if per_day is None or not isinstance(unit, str):
                    self.warnings.append(f"{self.label}: {_ref_name(resource)}: dose without a "
                                         "daily timing or unit: dose not read")
                    return None
                return units.dose_mg(float(quantity["value"]), unit) * per_day
        return None

    def _condition(self, condition: dict[str, Any]) -> None:
        verification = _first_code(condition.get("verificationStatus"))[0] or ""
        if verification.rsplit("|", 1)[-1] in _SKIPPED_STATUS:
            code, display = _first_code(condition.get("code"))
            self._unmapped(condition, f"verification status {verification}", code, display)
            return
        period = condition.get("onsetPeriod") or {}
        self._event(condition, condition.get("code"),
                    condition.get("onsetDateTime") or period.get("start")
                    or condition.get("recordedDate"))

    def _adverse_event(self, event: dict[str, Any]) -> None:
        if event.get("actuality") == "potential":
            code, display = _first_code(event.get("event"))
            self._unmapped(event, "a potential adverse event, not one that happened", code,
                           display)
            return
        self._event(event, event.get("event"),
                    event.get("date") or event.get("detected") or event.get("recordedDate"))

    def _event(self, resource: dict[str, Any], concept: object, when: object) -> None:
        code, display = _first_code(concept)
        target = self._lookup(concept, ("adverse_event", "recognised"))
        if target is not None and target[0] == "recognised":
            self.recognised += 1
            return
        if target is None:
            self._unmapped(resource, "code not in the mapping", code, display)
            return
        day = _day(when)
        if day is None:
            self.problems.append(Problem(f"{_ref_name(resource)} onset[x]",
                                         "no date (YYYY-MM-DD) for the adverse event"))
            return
        self.visit_events.setdefault(day, {}).setdefault(target[1], _ref_name(resource))

    # -- the patient model ------------------------------------------------------------------
    def _patient_model(self, patient: dict[str, Any] | None) -> FhirPatient:
        data: dict[str, Any] = {"id": self.patient_id}
        if patient is not None:
            if _day(patient.get("birthDate")):
                data["birth_date"] = _day(patient.get("birthDate"))
            if patient.get("gender") in ("female", "male", "other"):
                data["sex"] = patient["gender"]
            data.update(read_extensions(patient))
        data["antibodies"] = list(self.antibodies)
        data["treatments"] = [course for course, _ in self.treatments]
        days = sorted(set(self.visits) | set(self.visit_events))
        # The limit a YAML or JSON file is held to: each date with an observation or an
        # adverse event is a visit, and a bundle within the size limit could hold thousands.
        limit = ReadLimits.from_environment().max_visits
        if len(days) > limit:
            raise PatientFileError(self.label, [Problem(
                "visits", f"{len(days):,} visits (dates with an observation or an adverse "
                f"event), more than the limit of {limit:,} (--max-visits)")])
        provenance: dict[tuple[Any, ...], str] = {}
        visits = []
        for i, day in enumerate(days):
            visit: dict[str, Any] = {"date": day}
            for name, (_, value, where) in sorted(self.visits.get(day, {}).items()):
                visit[name] = value
                provenance[("visits", i, name)] = where
            events = self.visit_events.get(day, {})
            if events:
                visit["adverse_events"] = list(events)
                for j, where in enumerate(events.values()):
                    provenance[("visits", i, "adverse_events", j)] = where
                if day not in self.visits:
                    self.warnings.append(f"{self.label}: {', '.join(events.values())}: no "
                                         f"observation on {day}: a visit with only the adverse "
                                         "event was added")
            visits.append(visit)
        data["visits"] = visits
        for j, (_, where) in enumerate(self.treatments):
            provenance[("treatments", j)] = where
        try:
            model = Patient.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error, problem in zip(exc.errors(include_url=False), validation_problems(exc),
                                      strict=True):
                loc = tuple(error["loc"])
                source = next((provenance[loc[:n]] for n in range(len(loc), 0, -1)
                               if loc[:n] in provenance), "Patient")
                problems.append(Problem(source, f"{problem.field}: {problem.message}"))
            raise PatientFileError(self.label, problems) from None
        return FhirPatient(self.label, model, self.unmapped, dict(self.ignored), self.recognised,
                           self.warnings)


# The reader's method for each kind it reads (any other: a medication kind).
_HANDLERS: dict[str, Callable[[_Reader, dict[str, Any]], None]] = {
    "Observation": _Reader._observation, "Procedure": _Reader._procedure,
    "Condition": _Reader._condition, "AdverseEvent": _Reader._adverse_event}


# An Observation is most of a record, and its full R4B validation (fhir.resources' Python
# validators) costs five times reading the same values from YAML. The elements the reader
# uses are checked here instead; anything else about them, or any doubt, goes to the full
# validation, which then names the problem. Elements the reader does not use are not
# validated for Observations.
_OBSERVATION_STATUS = frozenset({"registered", "preliminary", "final", "amended", "corrected",
                                 "cancelled", "entered-in-error", "unknown"})
_OBSERVATION_KEYS = frozenset({
    "resourceType", "id", "meta", "text", "identifier", "status", "category", "code",
    "subject", "encounter", "effectiveDateTime", "effectiveInstant", "effectivePeriod",
    "issued", "performer", "valueQuantity", "valueCodeableConcept", "valueString",
    "valueBoolean", "dataAbsentReason", "interpretation", "note", "method", "specimen",
    "referenceRange"})
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_FHIR_URI = re.compile(r"\S+")
_FHIR_DATETIME = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?")


# The code systems and UCUM units that nearly every resource names, as the patterns of
# their FHIR types accept them (checked once here, not in every resource: a set look-up
# costs a fifth of a pattern's match).
_COMMON_SYSTEMS = frozenset(filter(_FHIR_URI.fullmatch, (
    UCUM, "http://loinc.org", "http://snomed.info/sct",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-category",
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "https://jdm-cds.org/fhir/CodeSystem/measures",
    "https://jdm-cds.org/fhir/CodeSystem/treatments",
    "https://jdm-cds.org/fhir/CodeSystem/adverse-events")))
_COMMON_UNITS = frozenset(filter(_FHIR_CODE.fullmatch, units.codes()))
_RARE_KEYS = frozenset({"meta", "text", "identifier", "performer", "note", "method",
                        "specimen", "referenceRange", "encounter", "effectivePeriod", "issued"})
_CODING_KEYS = frozenset({"system", "code", "display", "version"})
_QUANTITY_KEYS = frozenset({"value", "unit", "system", "code"})


def _plain_concept(concept: object) -> bool:
    # The hottest check of a read (every code of every resource): one loop, no calls but
    # the patterns'. A code or a system that matches its pattern is plain text already.
    if type(concept) is not dict or not concept:
        return False
    for key, item in concept.items():
        if key == "coding":
            if type(item) is not list or not item:
                return False
            for coding in item:
                if type(coding) is not dict or not coding or not coding.keys() <= _CODING_KEYS:
                    return False
                for name, text in coding.items():
                    if not _plain_coded(name, text, _NO_CODES):
                        return False
        elif key != "text" or not _plain_text(item):
            return False
    return True


_NO_CODES: frozenset[str] = frozenset()


def _plain_coded(name: str, text: object, common_codes: frozenset[str]) -> bool:
    """An element of a Coding or a Quantity: a code and a system have the patterns of their
    FHIR types (and then are plain text), ``common_codes`` and the common systems being known
    to match; anything else is plain text."""
    if type(text) is not str:
        return False
    if name == "code":
        return text in common_codes or _FHIR_CODE.fullmatch(text) is not None
    if name == "system":
        return text in _COMMON_SYSTEMS or _FHIR_URI.fullmatch(text) is not None
    return bool(text) and text == text.strip()


def _plain_observation(obs: dict[str, Any]) -> bool:
    """Whether the elements the reader uses are all well-formed (else: full validation)."""
    keys = obs.keys()
    if (not keys <= _OBSERVATION_KEYS or not keys.isdisjoint(_RARE_KEYS)
            # (no intersection, which would copy the keys into a set)
            or ("valueQuantity" in keys) + ("valueCodeableConcept" in keys)
            + ("valueString" in keys) + ("valueBoolean" in keys) > 1):
        return False  # unknown or less common elements: left to the full validation
    if not (_plain_id(obs) and _one_of(obs.get("status"), _OBSERVATION_STATUS)
            and _plain_concept(obs.get("code"))
            and _plain_list(obs, "category", _plain_concept)
            and _plain_list(obs, "interpretation", _plain_concept)
            and ("dataAbsentReason" not in obs or _plain_concept(obs["dataAbsentReason"]))
            and ("subject" not in obs or _plain_reference(obs["subject"]))
            # An instant needs a time and a zone: left to the full validation.
            and "effectiveInstant" not in obs and _plain_date_time(obs.get("effectiveDateTime"))):
        return False
    if "valueQuantity" in obs:
        return _plain_quantity(obs["valueQuantity"]) and "value" in obs["valueQuantity"]
    if "valueCodeableConcept" in obs:
        return _plain_concept(obs["valueCodeableConcept"])
    if "valueString" in obs:
        return _plain_text(obs["valueString"])
    if "valueBoolean" in obs:
        return type(obs["valueBoolean"]) is bool
    return True


# The other kinds the reader reads are checked the same way: the elements the reader uses,
# in the shapes FHIR allows and EHRs send (full dates, codes without stray spaces, periods
# and dose timings as the reader reads them); any other element or shape, or any doubt, goes
# to the full validation. (Full R4B validation of one MedicationStatement costs as much as
# reading ten Observations.) tests/test_fhir_plain.py checks that whatever passes here passes
# the full validation too.
_MEDICATION_STATEMENT_STATUS = frozenset({"active", "completed", "entered-in-error", "intended",
                                          "stopped", "on-hold", "unknown", "not-taken"})
_PROCEDURE_STATUS = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped",
                               "completed", "entered-in-error", "unknown"})
_GENDERS = frozenset({"male", "female", "other", "unknown"})
_UNITS_OF_TIME = frozenset({"s", "min", "h", "d", "wk", "mo", "a"})
_FHIR_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


def _one_of(value: object, choices: frozenset[str]) -> bool:
    return type(value) is str and value in choices


def _plain_text(value: object) -> bool:
    return type(value) is str and value != "" and value == value.strip()


def _plain_date_time(value: object) -> bool:
    """A full date, with or without a time, that is a day of the calendar."""
    if type(value) is not str or not _FHIR_DATETIME.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


_REFERENCE_KEYS = frozenset({"reference", "display"})


def _plain_reference(value: object) -> bool:
    if type(value) is not dict or "reference" not in value or not value.keys() <= _REFERENCE_KEYS:
        return False
    return all(map(_plain_text, value.values()))


def _plain_period(value: object) -> bool:
    return (type(value) is dict and bool(value) and value.keys() <= {"start", "end"}
            and all(map(_plain_date_time, value.values())))


def _plain_choice(resource: dict[str, Any], prefix: str) -> bool:
    """At most one ``prefix[x]``, a full date(-time) or a period."""
    found = [key for key in resource if key.startswith(prefix)]
    if not found:
        return True
    if len(found) > 1:
        return False
    if found[0] == prefix + "DateTime":
        return _plain_date_time(resource[found[0]])
    return found[0] == prefix + "Period" and _plain_period(resource[found[0]])


def _plain_number(value: object) -> bool:
    return type(value) in (int, float)


def _plain_quantity(value: object) -> bool:
    if type(value) is not dict or not value or not value.keys() <= _QUANTITY_KEYS:
        return False
    for key, item in value.items():
        if not (_plain_number(item) if key == "value" else _plain_coded(key, item, _COMMON_UNITS)):
            return False
    return True


def _plain_timing(timing: object) -> bool:
    if type(timing) is not dict or timing.keys() != {"repeat"}:
        return False
    repeat = timing["repeat"]
    if type(repeat) is not dict or not repeat or not repeat.keys() <= {
            "frequency", "period", "periodUnit"}:
        return False
    frequency = repeat.get("frequency", 1)
    period = repeat.get("period", 0)
    return (type(frequency) is int and frequency >= 1 and _plain_number(period)
            and period >= 0 and _one_of(repeat.get("periodUnit", "d"), _UNITS_OF_TIME))


def _plain_dosage(dosage: object) -> bool:
    if type(dosage) is not dict or not dosage or not dosage.keys() <= {"text", "timing",
                                                                        "doseAndRate"}:
        return False
    if "text" in dosage and not _plain_text(dosage["text"]):
        return False
    if "timing" in dosage and not _plain_timing(dosage["timing"]):
        return False
    rates = dosage.get("doseAndRate", [{"doseQuantity": {"value": 0}}])
    return type(rates) is list and bool(rates) and all(
        type(rate) is dict and rate.keys() == {"doseQuantity"}
        and _plain_quantity(rate["doseQuantity"]) for rate in rates)


def _plain_list(resource: dict[str, Any], key: str, check: Callable[[object], bool]) -> bool:
    """``key`` absent, or a list of one or more items that each pass ``check``."""
    if key not in resource:
        return True
    items = resource[key]
    return type(items) is list and bool(items) and all(map(check, items))


def _plain_id(resource: dict[str, Any]) -> bool:
    return "id" not in resource or (type(resource["id"]) is str
                                    and _FHIR_ID.fullmatch(resource["id"]) is not None)


_MEDICATION_STATEMENT_KEYS = frozenset({
    "resourceType", "id", "status", "medicationCodeableConcept", "subject", "effectivePeriod",
    "effectiveDateTime", "dosage"})


def _plain_medication_statement(resource: dict[str, Any]) -> bool:
    return (resource.keys() <= _MEDICATION_STATEMENT_KEYS and _plain_id(resource)
            and _one_of(resource.get("status"), _MEDICATION_STATEMENT_STATUS)
            and _plain_concept(resource.get("medicationCodeableConcept"))
            and _plain_reference(resource.get("subject"))
            and _plain_choice(resource, "effective")
            and _plain_list(resource, "dosage", _plain_dosage))


_PROCEDURE_KEYS = frozenset({"resourceType", "id", "status", "code", "subject",
                             "performedPeriod", "performedDateTime"})


def _plain_procedure(resource: dict[str, Any]) -> bool:
    return (resource.keys() <= _PROCEDURE_KEYS and _plain_id(resource)
            and _one_of(resource.get("status"), _PROCEDURE_STATUS)
            and ("code" not in resource or _plain_concept(resource["code"]))
            and _plain_reference(resource.get("subject"))
            and _plain_choice(resource, "performed"))


_CONDITION_KEYS = frozenset({"resourceType", "id", "clinicalStatus", "verificationStatus",
                             "category", "code", "subject", "onsetDateTime", "onsetPeriod",
                             "recordedDate"})


def _plain_condition(resource: dict[str, Any]) -> bool:
    return (resource.keys() <= _CONDITION_KEYS and _plain_id(resource)
            and all(_plain_concept(resource[key]) for key in
                    ("clinicalStatus", "verificationStatus", "code") if key in resource)
            and _plain_list(resource, "category", _plain_concept)
            and _plain_reference(resource.get("subject"))
            and _plain_choice(resource, "onset")
            and ("recordedDate" not in resource or _plain_date_time(resource["recordedDate"])))


def _plain_identifier(value: object) -> bool:
    return (type(value) is dict and bool(value) and value.keys() <= {"system", "value"}
            and all(map(_plain_text, value.values()))
            and ("system" not in value or _FHIR_URI.fullmatch(value["system"]) is not None))


_PATIENT_KEYS = frozenset({"resourceType", "id", "identifier", "birthDate", "gender"})


def _plain_patient(resource: dict[str, Any]) -> bool:
    birth = resource.get("birthDate", "2000-01-01")
    return (resource.keys() <= _PATIENT_KEYS and _plain_id(resource)
            and type(birth) is str and _FHIR_DATE.fullmatch(birth) is not None
            and _plain_date_time(birth)
            and _one_of(resource.get("gender", "other"), _GENDERS)
            and _plain_list(resource, "identifier", _plain_identifier))


# Resource kind -> its check of the elements the reader uses (else: full validation).
_PLAIN: dict[str, Callable[[dict[str, Any]], bool]] = {
    "Observation": _plain_observation, "MedicationStatement": _plain_medication_statement,
    "Procedure": _plain_procedure, "Condition": _plain_condition, "Patient": _plain_patient}


_PERIODS = {"d": 1.0, "h": 1 / 24, "wk": 7.0, "min": 1 / 1440}


def _per_day(repeat: MappingType[str, Any]) -> float | None:
    frequency, period, unit = repeat.get("frequency", 1), repeat.get("period"), repeat.get(
        "periodUnit")
    if period is None or unit not in _PERIODS or not period:
        return None
    return float(frequency) / (float(period) * _PERIODS[unit])


def _normalise_ref(reference: str) -> str:
    """``Patient/1`` for ``Patient/1``, ``https://x/fhir/Patient/1/_history/2``; fullUrls as is."""
    if reference.count("/") == 1 and reference[-1] != "/":
        return reference  # already Type/id (what the rest would make of it, sooner)
    if reference.startswith(("urn:", "#")):
        return reference
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference
