"""The FHIR reader's light checks never pass what the full validation refuses.

The reader checks the elements it uses of the common resource kinds itself (``_PLAIN``) and
leaves anything else to the full ``fhir.resources`` R4B validation. Whatever a light check
passes must pass the full validation too (else a malformed resource would be read where
it should have been refused), and the resources the project exports must take the light
path (else it saves nothing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaign import campaign
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.interop.fhir.reader import _PLAIN

ROOT = Path(__file__).parents[1]

TEXTS = st.sampled_from(["x", "prednisone", "Herpes zoster"])
DATES = st.sampled_from(["2020-01-02", "2020-01-31", "2020-01-02T10:00:00Z",
                         "2020-01-02T10:00:00+01:00", "2020-01-02T10:00:00.5-05:00"])
CODES = st.sampled_from(["8640", "a b", "in-progress"])
SYSTEMS = st.sampled_from(["http://loinc.org", "urn:oid:1.2"])
NUMBERS = st.sampled_from([1, 2.5, 0, 3])
# What a resource's element may be changed to: odd or malformed values of every JSON type.
ODD = st.sampled_from(["", " x", "x ", "a  b", "x\ty", "2020-02-30", "2020-13-01", "2020-1-2",
                       "2020", "2020-01", "2020-01-02T25:00:00Z", "2020-01-02T10:00Z",
                       "2020-01-02T10:00:00", "x" * 65, "a_b", "bogus", "day", -1, 0, 2.5,
                       True, False, None, 10**20, 1e300, "1", [], {}, ["x"], {"x": "y"}])
EXTRA = st.sampled_from(["note", "meta", "extension", "text", "partOf", "use", "rateQuantity",
                         "comparator", "count", "userSelected", "valueInteger"])


def _dicts(required: dict[str, st.SearchStrategy[Any]],
           optional: dict[str, st.SearchStrategy[Any]] | None = None
           ) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional or {})


CODING = _dicts({"system": SYSTEMS, "code": CODES}, {"display": TEXTS, "version": TEXTS})
CONCEPT = st.one_of(_dicts({"coding": st.lists(CODING, min_size=1, max_size=2)},
                           {"text": TEXTS}), _dicts({"text": TEXTS}))
CONCEPTS = st.lists(CONCEPT, min_size=1, max_size=2)
REFERENCE = _dicts({"reference": st.just("Patient/1")}, {"display": TEXTS})
PERIOD = _dicts({"start": DATES}, {"end": DATES})
QUANTITY = _dicts({"value": NUMBERS}, {"unit": TEXTS, "system": SYSTEMS, "code": CODES})
REPEAT = _dicts({"frequency": st.sampled_from([1, 2]), "period": NUMBERS},
                {"periodUnit": st.sampled_from(["d", "wk", "h"])})
DOSAGE = _dicts({"timing": _dicts({"repeat": REPEAT})},
                {"text": TEXTS, "doseAndRate": st.lists(_dicts({"doseQuantity": QUANTITY}),
                                                        min_size=1, max_size=2)})


def _resource(kind: str, required: dict[str, st.SearchStrategy[Any]],
              optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    ids = st.sampled_from(["a-1", "EX.1", "P01"])
    return _dicts({"resourceType": st.just(kind), "id": ids, **required}, optional)


# Resources as the reader reads them, each valid; the test then changes some of them.
RESOURCES = st.one_of(
    _resource("MedicationStatement",
              {"subject": REFERENCE, "medicationCodeableConcept": CONCEPT,
               "status": st.sampled_from(["active", "completed"])},
              {"effectivePeriod": PERIOD, "dosage": st.lists(DOSAGE, min_size=1, max_size=2)}),
    _resource("Procedure", {"subject": REFERENCE, "status": st.just("in-progress")},
              {"code": CONCEPT, "performedPeriod": PERIOD}),
    _resource("Condition", {"subject": REFERENCE},
              {"code": CONCEPT, "clinicalStatus": CONCEPT, "verificationStatus": CONCEPT,
               "category": CONCEPTS, "onsetDateTime": DATES, "recordedDate": DATES}),
    _resource("Patient", {},
              {"birthDate": st.just("2010-05-14"), "gender": st.sampled_from(["female", "male"]),
               "identifier": st.lists(_dicts({"system": SYSTEMS, "value": TEXTS}),
                                      min_size=1, max_size=2)}),
    _resource("Observation",
              {"subject": REFERENCE, "code": CONCEPT, "effectiveDateTime": DATES,
               "status": st.sampled_from(["final", "amended"])},
              {"category": CONCEPTS, "valueQuantity": QUANTITY}),
)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every element of a resource (a path of keys and indices), but its resourceType."""
    found = [path] if path and path != ("resourceType",) else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _places(item, (*path, index))
    return found


def _change(resource: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """The resource with one element replaced by an odd value, removed, or given an
    unexpected sibling."""
    changed = json.loads(json.dumps(resource))
    places = _places(changed)
    if not places:
        return {**changed, data.draw(EXTRA): data.draw(ODD)}
    path = data.draw(st.sampled_from(places))
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    how = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        parent[path[-1]] = data.draw(ODD)
    elif how == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(EXTRA)] = data.draw(st.one_of(ODD, TEXTS))
    else:
        parent.append(data.draw(ODD))
    return changed


@pytest.mark.fuzz
@campaign(500, 50_000)
@given(RESOURCES, st.integers(0, 2), st.data())
def test_what_a_light_check_passes_the_full_validation_passes(
        resource: dict[str, Any], changes: int, data: st.DataObject) -> None:
    for _ in range(changes):
        resource = _change(resource, data)
    kind = resource["resourceType"]
    if changes == 0:
        assert _PLAIN[kind](resource), resource  # the valid shapes take the light path
    if _PLAIN[kind](resource):
        get_fhir_model_class(kind).model_validate(resource)


def test_the_exported_resources_take_the_light_path() -> None:
    files = [ROOT / "examples" / "fhir" / "patient-mda5.json",
             *sorted((ROOT / "features" / "fhir_study_cases").glob("*.json"))]
    kinds: set[str] = set()
    for path in files:
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in _PLAIN and "extension" not in resource:
                assert _PLAIN[resource["resourceType"]](resource), (path.name, resource)
                kinds.add(resource["resourceType"])
    assert kinds == set(_PLAIN)  # (a Patient with extensions: the full validation)


@pytest.mark.parametrize(("field", "text"), [("code", "a  b"), ("code", "a\tb"),
                                             ("system", "http://x y")])
def test_a_dose_code_or_system_outside_its_pattern_takes_the_full_validation(
        field: str, text: str) -> None:
    """Found by the campaign: a doseQuantity code with two spaces passed the light check,
    which the full validation refuses (FHIR code: single spaces between non-blanks)."""
    resource = {"resourceType": "MedicationStatement", "id": "a-1", "status": "active",
                "subject": {"reference": "Patient/1"},
                "medicationCodeableConcept": {"text": "x"},
                "dosage": [{"text": "x", "doseAndRate": [
                    {"doseQuantity": {"value": 1, "unit": "mg", field: text}}]}]}
    # Not passed by the light check: the full validation decides (and refuses two spaces).
    assert not _PLAIN["MedicationStatement"](resource)
    if text == "a  b":
        with pytest.raises(ValueError):
            get_fhir_model_class("MedicationStatement").model_validate(resource)
