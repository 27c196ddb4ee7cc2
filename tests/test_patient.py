import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from jdm_cds.model.patient import Patient, Treatment, Visit, patient_json_schema
from jdm_cds.model.reading import (
    PatientFileError,
    Problem,
    iter_patient_files,
    load_patient,
    validate_patient,
)
from jdm_cds.model.vocabulary import ADVERSE_EVENTS, ANTIBODIES, DRUGS

DATA = Path(__file__).parent / "data"
GOOD = DATA / "patients"
BAD = DATA / "bad_patients"


def patient(**fields: Any) -> dict[str, Any]:
    return {"id": "p1", "visits": [{"date": "2023-01-10"}], **fields}


def with_visit(**fields: Any) -> dict[str, Any]:
    return patient(visits=[{"date": "2023-01-10", **fields}])


def problems(data: object) -> list[Problem]:
    with pytest.raises(PatientFileError) as caught:
        validate_patient(data, "p.yaml")
    return caught.value.problems


def only_problem(data: object) -> Problem:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


def load_problem(path: Path) -> Problem:
    with pytest.raises(PatientFileError) as caught:
        load_patient(path)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


# --- valid files -------------------------------------------------------------


def test_full_yaml_patient_loads() -> None:
    p = load_patient(GOOD / "mda5_ruxolitinib.yaml")

    assert p.id == "demo-mda5-001"
    assert p.birth_date == dt.date(2012, 4, 17)
    assert p.sex == "female"
    assert p.antibodies == ("anti-MDA5",)
    assert [t.drug for t in p.treatments] == [
        "methylprednisolone",
        "prednisone",
        "methotrexate",
        "ruxolitinib",
    ]
    assert p.treatments[0].stop == dt.date(2023, 1, 13)
    assert p.treatments[3].dose_mg_per_day == 10
    assert [v.date for v in p.visits] == [
        dt.date(2023, 1, 10),
        dt.date(2023, 6, 1),
        dt.date(2023, 9, 4),
    ]
    first, middle, last = p.visits
    assert first.ck_u_l == 2300
    assert first.aldolase_u_l == 18.4
    assert middle.prednisone_mg_per_kg_day == 0.5
    assert middle.ifn_alpha_fg_ml == 1200
    assert middle.chaq == 1.25
    assert last.prednisone_mg_per_day == 5
    assert last.adverse_events == ("herpes_zoster",)
    assert last.aldolase_u_l is None


def test_json_patient_loads_with_dates_from_strings() -> None:
    p = load_patient(str(GOOD / "nxp2_baricitinib.json"))

    assert p.id == "demo-nxp2-002"
    assert p.birth_date == dt.date(2015, 11, 2)
    assert p.sex == "male"
    assert p.antibodies == ("anti-NXP2",)
    assert p.treatments[1].stop == dt.date(2022, 11, 1)
    assert p.visits[1].date == dt.date(2022, 9, 15)
    assert p.visits[1].adverse_events == ("calcinosis",)


def test_yaml_and_json_give_equal_models(tmp_path: Path) -> None:
    data = patient(birth_date="2012-04-17", treatments=[{"drug": "ivig", "start": "2023-01-10"}])
    (tmp_path / "p.json").write_text(json.dumps(data))
    yaml_text = (
        "id: p1\nbirth_date: 2012-04-17\n"
        "treatments:\n  - {drug: ivig, start: 2023-01-10}\n"
        "visits:\n  - date: 2023-01-10\n"
    )
    (tmp_path / "p.yml").write_text(yaml_text)

    assert load_patient(tmp_path / "p.json") == load_patient(tmp_path / "p.yml")


def test_yaml_merge_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    # YAML 1.2 has no merge keys: a copied visit with one field changed must be written out.
    text = (
        "id: p1\nvisits:\n  - &first {date: 2023-01-10, ck_u_l: 900}\n"
        "  - <<: *first\n    date: 2023-02-10\n"
    )
    (tmp_path / "p.yaml").write_text(text)

    with pytest.raises(PatientFileError) as caught:
        load_patient(tmp_path / "p.yaml")

    assert caught.value.problems[0].message.startswith("yaml syntax error at line 4, column 5: "
                                                       "merge keys (<<) are not part of YAML 1.2")


def test_models_are_frozen() -> None:
    p = validate_patient(patient(), "p.yaml")

    with pytest.raises(ValidationError):
        p.id = "other"  # type: ignore[misc]


# --- antibodies --------------------------------------------------------------

ALIASES = [
    ("MDA5", "anti-MDA5"),
    ("anti-MDA-5", "anti-MDA5"),
    ("anti-CADM-140", "anti-MDA5"),
    ("NXP2", "anti-NXP2"),
    ("anti-NXP-2", "anti-NXP2"),
    ("anti-MJ", "anti-NXP2"),
    ("anti-TIF1γ", "anti-TIF1g"),  # noqa: RUF001 - the Greek letter is the point
    ("anti-TIF1-gamma", "anti-TIF1g"),
    ("TIF1-gamma", "anti-TIF1g"),
    ("TIF1g", "anti-TIF1g"),
    ("anti-p155/140", "anti-TIF1g"),
    ("anti-p155", "anti-TIF1g"),
    ("Mi-2", "anti-Mi-2"),
    ("anti-Mi2", "anti-Mi-2"),
    ("SAE", "anti-SAE"),
    ("anti-SAE1", "anti-SAE"),
    ("SRP", "anti-SRP"),
    ("HMGCR", "anti-HMGCR"),
    ("MSA-negative", "negative"),
    ("none", "negative"),
    ("mda5", "anti-MDA5"),
    ("ANTI-NXP2", "anti-NXP2"),
    ("Anti MDA5", "anti-MDA5"),
    *((name, name) for name in sorted(ANTIBODIES)),
]


@pytest.mark.parametrize(("given", "canonical"), ALIASES)
def test_antibody_alias_is_normalised(given: str, canonical: str) -> None:
    p = validate_patient(patient(antibodies=[given]), "p.yaml")

    assert p.antibodies == (canonical,)


def test_duplicate_antibodies_after_normalisation_are_dropped_keeping_order() -> None:
    p = validate_patient(
        patient(antibodies=["TIF1g", "MDA5", "anti-p155/140", "anti-CADM-140"]), "p.yaml"
    )

    assert p.antibodies == ("anti-TIF1g", "anti-MDA5")


def test_unknown_antibody_lists_canonical_names() -> None:
    problem = only_problem(patient(antibodies=["MDA5", "anti-Jo-1"]))

    assert problem.field == "antibodies[1]"
    assert problem.message.startswith("unknown antibody 'anti-Jo-1' (allowed: ")
    assert all(name in problem.message for name in ANTIBODIES)


def test_negative_with_an_antibody_is_an_error() -> None:
    problem = only_problem(patient(antibodies=["none", "SRP"]))

    assert problem.field == "antibodies"
    assert "'negative' cannot be combined" in problem.message


def test_negative_given_twice_is_just_negative() -> None:
    p = validate_patient(patient(antibodies=["negative", "MSA-negative"]), "p.yaml")

    assert p.antibodies == ("negative",)


# --- treatments --------------------------------------------------------------


def test_unknown_drug_lists_allowed_drugs_sorted() -> None:
    problem = only_problem(patient(treatments=[{"drug": "ruxo", "start": "2023-01-10"}]))

    assert problem == Problem(
        "treatments[0].drug", f"unknown drug 'ruxo' (allowed: {', '.join(sorted(DRUGS))})"
    )


def test_stop_before_start_is_an_error_on_stop() -> None:
    treatment = {"drug": "tacrolimus", "start": "2020-02-01", "stop": "2020-01-01"}

    problem = only_problem(patient(treatments=[treatment]))

    assert problem == Problem("treatments[0].stop", "stop 2020-01-01 is before start 2020-02-01")


def test_stop_on_start_day_is_allowed() -> None:
    t = Treatment(drug="ivig", start=dt.date(2020, 1, 1), stop=dt.date(2020, 1, 1))

    assert not t.active_on(dt.date(2020, 1, 1))


@pytest.mark.parametrize(
    ("day", "active"),
    [
        (dt.date(2020, 1, 31), False),
        (dt.date(2020, 2, 1), True),
        (dt.date(2020, 2, 29), True),
        (dt.date(2020, 3, 1), False),
        (dt.date(2021, 1, 1), False),
    ],
)
def test_active_on_includes_start_day_and_excludes_stop_day(day: dt.date, active: bool) -> None:
    t = Treatment(drug="prednisone", start=dt.date(2020, 2, 1), stop=dt.date(2020, 3, 1))

    assert t.active_on(day) is active


def test_open_ended_treatment_stays_active() -> None:
    t = Treatment(drug="prednisone", start=dt.date(2020, 2, 1))

    assert t.active_on(dt.date(2030, 1, 1))
    assert not t.active_on(dt.date(2020, 1, 31))


def test_negative_dose_is_rejected() -> None:
    treatment = {"drug": "ivig", "start": "2023-01-10", "dose_mg_per_day": -1}

    problem = only_problem(patient(treatments=[treatment]))

    assert problem == Problem("treatments[0].dose_mg_per_day", "must be >= 0 (got -1)")


# --- visit values ------------------------------------------------------------


def test_string_for_a_number_is_rejected_not_coerced() -> None:
    problem = only_problem(with_visit(cmas="50"))

    assert problem == Problem("visits[0].cmas", "expected a number (got the string '50')")


@pytest.mark.parametrize(("value", "shown"), [(True, "true"), ([50], "a list"), ({}, "a mapping")])
def test_non_numbers_are_rejected(value: object, shown: str) -> None:
    problem = only_problem(with_visit(ck_u_l=value))

    assert problem == Problem("visits[0].ck_u_l", f"expected a number (got {shown})")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    problem = only_problem(with_visit(ck_u_l=value))

    assert problem.field == "visits[0].ck_u_l"
    assert problem.message.startswith("expected a finite number")


def test_integer_is_accepted_as_a_float() -> None:
    visit = validate_patient(with_visit(chaq=1), "p.yaml").visits[0]

    assert visit.chaq == 1.0
    assert isinstance(visit.chaq, float)


# field: (lowest allowed, highest allowed); None means unbounded above.
RANGES: dict[str, tuple[float, float | None]] = {
    "ck_u_l": (0, None),
    "aldolase_u_l": (0, None),
    "ldh_u_l": (0, None),
    "ast_u_l": (0, None),
    "alt_u_l": (0, None),
    "cmas": (0, 52),
    "mmt8": (0, 80),
    "physician_global_vas": (0, 10),
    "parent_global_vas": (0, 10),
    "extramuscular_vas": (0, 10),
    "chaq": (0, 3),
    "das_skin": (0, 9),
    "das_muscle": (0, 11),
    "das_total": (0, 20),
    "prednisone_mg_per_kg_day": (0, 30),
    "prednisone_mg_per_day": (0, 2000),
    "ifn_alpha_fg_ml": (0, None),
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, lo) for f, (lo, _) in RANGES.items()]
    + [(f, hi) for f, (_, hi) in RANGES.items() if hi is not None]
    + [("weight_kg", 0.1), ("weight_kg", 200)],
)
def test_values_on_a_bound_are_accepted(field: str, value: float) -> None:
    visit = validate_patient(with_visit(**{field: value}), "p.yaml").visits[0]

    assert getattr(visit, field) == value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [(f, -0.1, "must be >= 0 (got -0.1)") for f in RANGES]
    + [(f, hi + 1, f"must be <= {hi} (got {hi + 1})") for f, (_, hi) in RANGES.items() if hi]
    + [
        ("weight_kg", 0, "must be > 0 (got 0)"),
        ("weight_kg", 200.5, "must be <= 200 (got 200.5)"),
    ],
)
def test_values_past_a_bound_are_rejected(field: str, value: float, message: str) -> None:
    problem = only_problem(with_visit(**{field: value}))

    assert problem == Problem(f"visits[0].{field}", message)


def test_both_prednisone_fields_is_an_error_naming_both() -> None:
    problem = only_problem(with_visit(prednisone_mg_per_kg_day=1, prednisone_mg_per_day=30))

    assert problem.field == "visits[0]"
    assert "prednisone_mg_per_kg_day" in problem.message
    assert "prednisone_mg_per_day" in problem.message


def test_prednisone_per_day_without_weight_is_allowed() -> None:
    visit = validate_patient(with_visit(prednisone_mg_per_day=20), "p.yaml").visits[0]

    assert visit.prednisone_mg_per_day == 20
    assert visit.weight_kg is None


def test_adverse_events_are_deduplicated_keeping_order() -> None:
    events = ["calcinosis", "herpes_zoster", "calcinosis"]

    visit = validate_patient(with_visit(adverse_events=events), "p.yaml").visits[0]

    assert visit.adverse_events == ("calcinosis", "herpes_zoster")


def test_unknown_adverse_event_lists_allowed_events() -> None:
    problem = only_problem(with_visit(adverse_events=["shingles"]))

    assert problem == Problem(
        "visits[0].adverse_events[0]",
        f"unknown adverse event 'shingles' (allowed: {', '.join(sorted(ADVERSE_EVENTS))})",
    )


def test_invalid_sex_lists_allowed_values() -> None:
    problem = only_problem(patient(sex="F"))

    assert problem == Problem(
        "sex", "must be one of 'female', 'male' or 'other' (got the string 'F')"
    )


# --- fields and structure ----------------------------------------------------


def test_unknown_top_level_field_lists_patient_fields() -> None:
    problem = only_problem(patient(antibody=["MDA5"]))

    assert problem == Problem(
        "antibody",
        "unknown field (allowed: antibodies, birth_date, disease_course, findings, id, "
        "indications, sex, treatments, visits)",
    )


def test_unknown_visit_field_lists_visit_fields() -> None:
    problem = only_problem(
        patient(visits=[{"date": "2023-01-10"}, {"date": "2023-02-10", "ckk": 1}])
    )

    assert problem == Problem(
        "visits[1].ckk", f"unknown field (allowed: {', '.join(sorted(Visit.model_fields))})"
    )
    assert "ck_u_l" in problem.message


def test_unknown_treatment_field_lists_treatment_fields() -> None:
    treatment = {"drug": "ivig", "start": "2023-01-10", "dose": 1}

    problem = only_problem(patient(treatments=[treatment]))

    assert problem == Problem(
        "treatments[0].dose", "unknown field (allowed: dose_mg_per_day, drug, start, stop)"
    )


def test_non_text_key_is_reported_at_its_mapping() -> None:
    problem = only_problem(patient(visits=[{"date": "2023-01-10", 7: 1}]))

    assert problem == Problem("visits[0]", "field names must be text (got 7)")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-13-01", "invalid date '2020-13-01' (expected YYYY-MM-DD)"),
        ("2020-02-30", "invalid date '2020-02-30' (expected YYYY-MM-DD)"),
        ("01/02/2020", "invalid date '01/02/2020' (expected YYYY-MM-DD)"),
        ("20200102", "invalid date '20200102' (expected YYYY-MM-DD)"),
        (1577836800, "expected a date written YYYY-MM-DD (got 1577836800)"),
        (
            dt.datetime(2020, 1, 2, 10, 30),
            "expected a date written YYYY-MM-DD (got 2020-01-02T10:30:00)",
        ),
    ],
)
def test_invalid_date_is_rejected(value: object, message: str) -> None:
    problem = only_problem(patient(visits=[{"date": value}]))

    assert problem == Problem("visits[0].date", message)


def test_missing_required_fields_are_named() -> None:
    found = problems({})

    assert found == [
        Problem("id", "required field is missing"),
        Problem("visits", "required field is missing"),
    ]


def test_empty_id_is_rejected() -> None:
    assert only_problem(patient(id="")) == Problem("id", "must not be empty")


def test_no_visits_is_an_error() -> None:
    assert only_problem(patient(visits=[])) == Problem("visits", "at least one visit is required")


def test_duplicate_visit_date_names_the_date() -> None:
    visits = [{"date": "2023-01-10"}, {"date": "2023-02-10"}, {"date": "2023-01-10"}]

    problem = only_problem(patient(visits=visits))

    assert problem.field == "visits"
    assert "2023-01-10" in problem.message


def test_all_problems_are_reported_together() -> None:
    data = patient(sex="x", visits=[{"date": "2023-01-10", "cmas": 53, "ck_u_l": "high"}])

    assert [p.field for p in problems(data)] == ["sex", "visits[0].ck_u_l", "visits[0].cmas"]


@pytest.mark.parametrize("data", [[], "text", None, 3])
def test_top_level_must_be_a_mapping(data: object) -> None:
    problem = only_problem(data)

    assert problem.field == "-"
    assert problem.message.startswith("top level must be a mapping")


# --- helpers -----------------------------------------------------------------


def test_visits_are_stored_sorted_by_date() -> None:
    visits = [{"date": d} for d in ("2023-03-01", "2022-12-31", "2023-01-15")]

    p = validate_patient(patient(visits=visits), "p.yaml")

    assert [v.date.isoformat() for v in p.visits] == ["2022-12-31", "2023-01-15", "2023-03-01"]




def test_active_treatments() -> None:
    treatments = [
        {"drug": "prednisone", "start": "2020-01-01", "stop": "2020-06-01"},
        {"drug": "methotrexate", "start": "2020-01-01"},
        {"drug": "ruxolitinib", "start": "2020-06-01"},
    ]
    p = validate_patient(patient(treatments=treatments), "p.yaml")

    assert [t.drug for t in p.treatments if t.active_on(dt.date(2020, 5, 31))] == [
        "prednisone",
        "methotrexate",
    ]
    assert [t.drug for t in p.treatments if t.active_on(dt.date(2020, 6, 1))] == [
        "methotrexate",
        "ruxolitinib",
    ]


def test_visits_until() -> None:
    visits = [{"date": d} for d in ("2023-03-01", "2023-01-10", "2023-02-10")]
    p = validate_patient(patient(visits=visits), "p.yaml")

    assert [v.date.day for v in p.visits_until(dt.date(2023, 2, 10))] == [10, 10]
    assert [v.date.month for v in p.visits_until(dt.date(2023, 2, 9))] == [1]
    assert p.visits_until(dt.date(2023, 1, 9)) == ()
    assert p.visits_until(None) == p.visits


def test_json_schema_describes_every_field() -> None:
    schema = patient_json_schema()

    assert schema["additionalProperties"] is False
    assert schema["properties"]["visits"]["minItems"] == 1
    for model in (Patient, Visit, Treatment):
        properties = model.model_json_schema()["properties"]
        undescribed = [name for name, prop in properties.items() if not prop.get("description")]
        assert undescribed == [], model.__name__
    cmas = schema["$defs"]["Visit"]["properties"]["cmas"]
    assert ">= 0 and <= 52" in cmas["description"]


# --- loading -----------------------------------------------------------------

# file: (field of the one problem, a fragment of its message)
BAD_FILES = {
    "both_prednisone_fields.yaml": ("visits[0]", "not both"),
    "duplicate_key.yaml": ("-", "line 5, column 5: duplicate key 'ck_u_l'"),
    "duplicate_visit_date.yaml": ("visits", "more than one visit on 2023-01-10"),
    "empty.yaml": ("-", "file is empty"),
    "invalid_date.json": ("treatments[0].start", "invalid date '2020-02-30'"),
    "invalid_date.yaml": ("visits[0].date", "invalid date '2020-13-01' (expected YYYY-MM-DD)"),
    "invalid_sex.yaml": ("sex", "must be one of 'female', 'male' or 'other'"),
    "json_syntax_error.json": ("-", "json syntax error at line 2, column 35: "),
    "missing_id.yaml": ("id", "required field is missing"),
    "negative_value.yaml": ("visits[0].ck_u_l", "must be >= 0 (got -5)"),
    "negative_with_antibody.yaml": ("antibodies", "'negative' cannot be combined"),
    "no_visits.yaml": ("visits", "at least one visit is required"),
    "out_of_range.yaml": ("visits[1].cmas", "must be <= 52 (got 53)"),
    "stop_before_start.yaml": ("treatments[1].stop", "stop 2023-01-01 is before start 2023-02-01"),
    "string_for_number.yaml": ("visits[0].cmas", "expected a number (got the string '50')"),
    "top_level_list.yaml": ("-", "top level must be a mapping of patient fields (got a list)"),
    "unknown_adverse_event.yaml": ("visits[0].adverse_events[0]", "unknown adverse event"),
    "unknown_antibody.yaml": ("antibodies[1]", "unknown antibody 'anti-XYZ' (allowed: "),
    "unknown_drug.yaml": ("treatments[0].drug", "unknown drug 'ruxo' (allowed: "),
    "unknown_field_in_visit.yaml": ("visits[1].ckk", "unknown field (allowed: adverse_events,"),
    "unknown_field_top_level.yaml": ("antibody", "unknown field (allowed: antibodies,"),
    "yaml_syntax_error.yaml": ("-", "yaml syntax error at line 4, column 10: "),
}


def test_every_bad_file_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_FILES)


@pytest.mark.parametrize(("name", "expected"), sorted(BAD_FILES.items()))
def test_bad_file_reports_its_field(name: str, expected: tuple[str, str]) -> None:
    field, fragment = expected
    path = BAD / name

    with pytest.raises(PatientFileError) as caught:
        load_patient(path)

    error = caught.value
    assert error.path == str(path)
    assert [p.field for p in error.problems] == [field]
    assert error.lines()[0].startswith(f"{path}: {field}: ")
    assert fragment in error.lines()[0]


def test_error_lines_and_str() -> None:
    error = PatientFileError("a.yaml", [Problem("id", "missing"), Problem("-", "bad")])

    assert error.lines() == ["a.yaml: id: missing", "a.yaml: -: bad"]
    assert str(error) == "a.yaml: id: missing\na.yaml: -: bad"


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("  \n\n")

    assert load_problem(path) == Problem("-", "file is empty")


def test_missing_file(tmp_path: Path) -> None:
    problem = load_problem(tmp_path / "nope.yaml")

    assert problem == Problem("-", "cannot read file: No such file or directory")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("id: p1\n")

    assert load_problem(path) == Problem(
        "-", "unsupported file type (expected .yaml, .yml or .json)"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"id: \xff\xfe\n")

    assert load_problem(path) == Problem("-", "file is not UTF-8 text")


def test_duplicate_json_key(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"id": "a", "id": "b", "visits": [{"date": "2023-01-10"}]}')

    assert load_problem(path) == Problem("-", "cannot parse json: duplicate key 'id'")


def test_yaml_constructor_failure_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("id: !!int abc\n")

    problem = load_problem(path)

    assert problem == Problem("-", "yaml syntax error at line 1, column 5: 'abc' is not an "
                                   "integer")


def test_iter_patient_files(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    for name in ("b/deep/z.json", "b/a.yml", "b/c.yaml", "b/notes.txt", "single.txt"):
        (tmp_path / name).write_text("")
    missing = tmp_path / "missing.yaml"

    files = iter_patient_files([tmp_path / "single.txt", str(tmp_path / "b"), missing])

    assert files == [
        tmp_path / "single.txt",
        tmp_path / "b" / "a.yml",
        tmp_path / "b" / "c.yaml",
        tmp_path / "b" / "deep" / "z.json",
        missing,
    ]


def test_a_folder_lists_what_rglob_lists_in_the_order_of_paths(tmp_path: Path) -> None:
    # The files under a folder, as Path.rglob and sorted Paths give them: hidden files and
    # folders, suffixes in capitals or without a stem, names that sort differently as text
    # and as paths (a-b/ and a/), a folder named like a file, links to files, to folders
    # (not entered) and to nothing.
    names = ["a/x.yaml", "a-b/x.yaml", "a.yaml", "A.YAML", "..yaml", ".yaml", "b.yaml.",
             "c.json", "d.yml", "e.txt", "z/y/x/w.json", "z/a.yaml", "dir.yaml/in.yaml",
             ".hidden/h.yaml", "b c/\u00e9.yaml"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "to-folder").symlink_to(tmp_path / "a")
    (tmp_path / "to-folder.yaml").symlink_to(tmp_path / "a")
    (tmp_path / "to-file.json").symlink_to(tmp_path / "c.json")
    (tmp_path / "to-nothing.yaml").symlink_to(tmp_path / "nothing")

    expected = sorted(f for f in tmp_path.rglob("*")
                      if f.is_file() and f.suffix.lower() in (".yaml", ".yml", ".json"))

    assert iter_patient_files([tmp_path]) == expected
    assert len(expected) == 13


# --- robustness --------------------------------------------------------------

vocabulary = st.sampled_from(
    ["2023-01-10", "2023-02-30", "MDA5", "none", "negative", "ruxolitinib", "calcinosis", "male"]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | vocabulary,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# Plausible values, so that many generated patients get deep into validation or pass it.
field_values = vocabulary | st.integers(-1, 60) | st.lists(vocabulary, max_size=3) | json_values


def records(model: type[BaseModel]) -> st.SearchStrategy[dict[Any, Any]]:
    real_fields = st.fixed_dictionaries(
        {}, optional={name: field_values for name in model.model_fields}
    )
    return real_fields | st.dictionaries(json_scalars, json_values, max_size=3)


patient_like = st.fixed_dictionaries(
    {},
    optional={
        "id": field_values,
        "birth_date": field_values,
        "sex": field_values,
        "antibodies": field_values,
        "treatments": st.lists(records(Treatment), max_size=3) | json_values,
        "visits": st.lists(records(Visit), max_size=3) | json_values,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(patient_like | records(Patient) | json_values)
def test_validation_only_ever_raises_patient_file_error(data: object) -> None:
    try:
        validate_patient(data, "p.json")
    except PatientFileError as error:
        assert error.problems
        for line in error.lines():
            assert line.startswith("p.json: ")
            assert "\n" not in line
            assert line.split(": ", 2)[2]


# Near-valid patients, so the cross-field checks (dates, doses, antibodies) run too.
# The narrow date range makes clashing visit dates and reversed treatments common.
iso_dates = st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 20)).map(dt.date.isoformat)
measures = st.integers(-1, 60) | st.floats(-1, 250)
plausible_visits = st.fixed_dictionaries(
    {"date": iso_dates},
    optional={
        **{name: measures for name in [*RANGES, "weight_kg"]},
        "adverse_events": st.lists(st.sampled_from(sorted(ADVERSE_EVENTS)), max_size=3),
    },
)
plausible_treatments = st.fixed_dictionaries(
    {"drug": st.sampled_from(sorted(DRUGS)), "start": iso_dates},
    optional={"stop": iso_dates, "dose_mg_per_day": measures},
)
plausible_patients = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=5), "visits": st.lists(plausible_visits, max_size=4)},
    optional={
        "antibodies": st.lists(st.sampled_from([alias for alias, _ in ALIASES]), max_size=3),
        "treatments": st.lists(plausible_treatments, max_size=3),
    },
)


@settings(max_examples=300)
@given(plausible_patients)
def test_accepted_patients_satisfy_the_invariants(data: dict[str, Any]) -> None:
    try:
        p = validate_patient(data, "p.json")
    except PatientFileError as error:
        assert error.problems
        return
    dates = [v.date for v in p.visits]
    assert dates == sorted(set(dates))
    assert set(p.antibodies) <= ANTIBODIES
    assert len(set(p.antibodies)) == len(p.antibodies)
    assert all(t.stop is None or t.stop >= t.start for t in p.treatments)
    assert all(
        v.prednisone_mg_per_day is None or v.prednisone_mg_per_kg_day is None for v in p.visits
    )


@settings(max_examples=200)
@given(st.text(max_size=60), st.sampled_from([".yaml", ".json"]))
def test_loading_arbitrary_text_only_ever_raises_patient_file_error(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "p" + suffix)
        Path(path).write_text(text, encoding="utf-8")
        try:
            load_patient(path)
        except PatientFileError as error:
            assert error.problems
