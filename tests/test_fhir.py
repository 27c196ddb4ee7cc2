"""FHIR R4 in and out: round trips, real data shapes, bad FHIR, mapping, units, output."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

import jdm_cds
from jdm_cds.cli import app
from jdm_cds.cohort.summary import summarise
from jdm_cds.interop.fhir import (
    bundle_from_patient,
    is_bulk_export,
    is_bundle,
    iter_bulk_patients,
    load_fhir_file,
    patient_from_bundle,
    patient_from_resources,
)
from jdm_cds.interop.fhir.guidance import guidance_bundle
from jdm_cds.model.reading import MAX_VISITS_SETTING, PatientFileError, load_patient

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "fhir"
STUDY = ROOT / "features" / "study_cases"
FHIR_STUDY = ROOT / "features" / "fhir_study_cases"
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
SOURCES = [EXAMPLE, *sorted(STUDY.glob("P*.yaml"))]
UCUM = "http://unitsofmeasure.org"


def fixture_of(source: Path) -> Path:
    folder = ROOT / "examples" / "fhir" if source.parent.name == "examples" else FHIR_STUDY
    return folder / f"{source.stem}.json"


def outcome(assessment: jdm_cds.Assessment) -> dict[str, Any]:
    data = assessment.model_dump(mode="json")
    data.pop("unmapped")
    return data


def example_bundle() -> dict[str, Any]:
    return bundle_from_patient(load_patient(EXAMPLE))


def resources_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [copy.deepcopy(e["resource"]) for e in bundle["entry"]]


def one(resources: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    return next(r for r in resources if r["id"].endswith(suffix))


# --- fixtures and round trips ------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_fixture_is_the_current_export_of_its_patient_file(source: Path) -> None:
    # `make fhir-fixtures` regenerates them when a patient file changes.
    fixture = json.loads(fixture_of(source).read_text("utf-8"))
    assert fixture == bundle_from_patient(load_patient(source))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_yaml_to_fhir_to_evaluation_gives_identical_judgements(source: Path) -> None:
    patient = load_patient(source)
    read = load_fhir_file(fixture_of(source))
    assert read.patient == patient
    assert read.unmapped == [] and read.warnings == []
    for visit in patient.visits:  # every visit date, as --at would
        assert outcome(jdm_cds.evaluate(read.patient, visit.date)) == outcome(
            jdm_cds.evaluate(patient, visit.date))


def test_exported_bundles_are_valid_fhir_r4b() -> None:
    for source in SOURCES:
        Bundle.model_validate(json.loads(fixture_of(source).read_text("utf-8")))


def test_cohort_of_the_fhir_fixtures_reproduces_the_study() -> None:
    assert summarise([FHIR_STUDY]).to_dict() == summarise([STUDY]).to_dict()


def test_cli_evaluates_a_bundle_like_its_yaml() -> None:
    runner = CliRunner()
    fhir = runner.invoke(app, ["evaluate", str(FHIR_STUDY / "P01.json"), "--format", "json"])
    yaml = runner.invoke(app, ["evaluate", str(STUDY / "P01.yaml"), "--format", "json"])
    assert fhir.exit_code == 0 and yaml.exit_code == 0
    [from_fhir], [from_yaml] = json.loads(fhir.stdout), json.loads(yaml.stdout)
    assert from_fhir.pop("unmapped") == [] and from_yaml.pop("unmapped") is None
    assert from_fhir == from_yaml


def test_cli_export_writes_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = CliRunner().invoke(app, ["fhir", "export", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text("utf-8")) == example_bundle()
    to_stdout = CliRunner().invoke(app, ["fhir", "export", str(EXAMPLE)])
    assert json.loads(to_stdout.stdout) == example_bundle()


# --- real data shapes --------------------------------------------------------------------

def test_searchset_as_a_server_returns_it() -> None:
    # Absolute fullUrls, entry.search, Type/id references, an OperationOutcome entry, CK in
    # ukat/L, weight in [lb_av], prednisone as a product code in a contained Medication,
    # Encounter and DocumentReference (ignored), a blood pressure (unmapped).
    read = load_fhir_file(DATA / "searchset-mda5.json")
    patient = load_patient(EXAMPLE)
    assert [v.ck_u_l for v in read.patient.visits] == [v.ck_u_l for v in patient.visits]
    assert [v.weight_kg for v in read.patient.visits] == pytest.approx(
        [v.weight_kg for v in patient.visits])
    assert read.patient.treatments == patient.treatments
    assert read.ignored == {"Encounter": 1, "DocumentReference": 1, "OperationOutcome": 1}
    assert [(u.resource_type, u.id, u.code) for u in read.unmapped] == [
        ("Observation", "bp-EX-MDA5", "http://loinc.org|8480-6")]
    # Pounds to kg is not exact in binary floating point: the doses per kg differ in the last
    # digits, the judgements do not.
    statuses = {k: j.status for k, j in jdm_cds.evaluate(read.patient).judgements.items()}
    assert statuses == {k: j.status for k, j in jdm_cds.evaluate(patient).judgements.items()}


def test_bulk_export_folder_is_read_per_patient() -> None:
    folder = DATA / "bulk-export"
    assert is_bulk_export(folder) and not is_bulk_export(STUDY)
    groups = list(iter_bulk_patients(folder))
    assert [label.rsplit("#", 1)[1] for label, _ in groups] == ["Patient/EX-MDA5", "Patient/P01"]
    pickle.loads(pickle.dumps(groups))  # sent to worker processes
    by_id = {}
    for label, resources in groups:
        read = patient_from_resources(resources, label)
        by_id[read.patient.id] = read
        assert read.ignored == {"Encounter": 1, "DocumentReference": 1}
    assert sorted(by_id["EX-MDA5"].patient.treatments, key=repr) == sorted(
        load_patient(EXAMPLE).treatments, key=repr)
    expected = load_patient(STUDY / "P01.yaml").visits
    read_visits = by_id["P01"].patient.visits
    assert [v.model_copy(update={"weight_kg": None}) for v in read_visits] == [
        v.model_copy(update={"weight_kg": None}) for v in expected]
    assert [v.weight_kg for v in read_visits] == pytest.approx([v.weight_kg for v in expected])


def test_cohort_of_a_bulk_export_reproduces_the_study(tmp_path: Path) -> None:
    lines: dict[str, list[str]] = {}
    for source in sorted(STUDY.glob("P*.yaml")):
        for resource in resources_of(bundle_from_patient(load_patient(source))):
            for key in ("subject", "patient"):
                if key in resource:
                    resource[key] = {"reference": f"Patient/{source.stem}"}
            lines.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, rows in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(rows) + "\n", "utf-8")
    assert summarise([tmp_path]).to_dict() == summarise([STUDY]).to_dict()


def test_bad_ndjson_lines_are_named_after_every_patient(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    bundle = example_bundle()
    (folder / "Patient.ndjson").write_text(json.dumps(bundle["entry"][0]["resource"]) + "\n")
    (folder / "Observation.ndjson").write_text("{not json\n")
    seen = []
    with pytest.raises(PatientFileError) as error:
        for label, _ in iter_bulk_patients(folder):
            seen.append(label)
    assert len(seen) == 1
    assert error.value.lines() == [f"{folder}: Observation.ndjson: line 1: json syntax error: "
                                   "Expecting property name enclosed in double quotes"]


def test_bundle_detection() -> None:
    assert is_bundle(example_bundle())
    assert not is_bundle({"resourceType": "Patient"}) and not is_bundle(["Bundle"])


# --- bad FHIR: a clear error naming the resource, or an unmapped entry ----------------------

def read_changed(change: Any) -> Any:
    bundle = example_bundle()
    resources = resources_of(bundle)
    change(resources)
    return patient_from_resources(resources, "in.json")


def problems(change: Any) -> list[str]:
    with pytest.raises(PatientFileError) as error:
        read_changed(change)
    return error.value.lines()


def test_unknown_unit_is_an_error_naming_the_resource() -> None:
    def ck_in_furlongs(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-ck-u-l")["valueQuantity"].update(code="[fur_us]/L")
    assert problems(ck_in_furlongs) == [
        "in.json: Observation/EX-MDA5-2020-01-30-ck-u-l valueQuantity: unknown unit '[fur_us]/L'"]


def test_unit_of_the_wrong_kind_is_an_error() -> None:
    def ck_in_kg(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-ck-u-l")["valueQuantity"].update(code="kg")
    assert "is a mass, not a catalytic concentration" in problems(ck_in_kg)[0]


def test_value_out_of_range_names_the_resource() -> None:
    def cmas_60(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-cmas")["valueQuantity"]["value"] = 60
    assert problems(cmas_60) == ["in.json: Observation/EX-MDA5-2020-01-30-cmas valueQuantity: "
                                 "visits[0].cmas: must be <= 52 (got 60.0)"]


def test_observation_without_status_is_invalid_fhir() -> None:
    def no_status(resources: list[dict[str, Any]]) -> None:
        del one(resources, "2020-01-30-cmas")["status"]
    [line] = problems(no_status)
    assert line.startswith("in.json: Observation/EX-MDA5-2020-01-30-cmas status: invalid FHIR")


def test_observation_without_value_is_unmapped() -> None:
    def no_value(resources: list[dict[str, Any]]) -> None:
        obs = one(resources, "2020-01-30-cmas")
        del obs["valueQuantity"]
        obs["dataAbsentReason"] = {"text": "not done"}
    read = read_changed(no_value)
    assert read.patient.visits[0].cmas is None
    assert [(u.id, u.reason) for u in read.unmapped] == [
        ("EX-MDA5-2020-01-30-cmas", "no value (not done)")]


def test_another_patients_resources_are_refused() -> None:
    def mixed(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-cmas")["subject"] = {"reference": "Patient/someone-else"}
    [line] = problems(mixed)
    assert "Observation/EX-MDA5-2020-01-30-cmas" in line and "Patient/someone-else" in line


def test_two_patient_resources_are_refused() -> None:
    def two(resources: list[dict[str, Any]]) -> None:
        resources.append({"resourceType": "Patient", "id": "other"})
    assert "resources of more than one patient" in problems(two)[0]


def test_unknown_code_is_unmapped_not_dropped() -> None:
    def unknown(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-cmas")["code"] = {
            "coding": [{"system": "http://loinc.org", "code": "0000-0", "display": "Mystery"}]}
    read = read_changed(unknown)
    assert [(u.resource_type, u.code, u.display, u.reason) for u in read.unmapped] == [
        ("Observation", "http://loinc.org|0000-0", "Mystery", "code not in the mapping")]


def test_same_field_twice_on_one_day_takes_the_last_with_a_warning() -> None:
    def twice(resources: list[dict[str, Any]]) -> None:
        later = copy.deepcopy(one(resources, "2020-01-30-ck-u-l"))
        later.update(id="later", effectiveDateTime="2020-01-30T16:00:00Z")
        later["valueQuantity"]["value"] = 500
        resources.append(later)
    read = read_changed(twice)
    assert read.patient.visits[0].ck_u_l == 500
    assert "the last (Observation/later) is used" in read.warnings[0]


def test_cli_reports_bad_fhir_per_file_and_evaluates_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-not-json.json").write_text("{oops")
    bundle = example_bundle()
    ck = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"].endswith("ck-u-l"))
    ck["valueQuantity"]["code"] = "[fur_us]/L"
    (tmp_path / "b-bad-unit.json").write_text(json.dumps(bundle))
    (tmp_path / "c-good.json").write_text(json.dumps(example_bundle()))
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    assert "a-not-json.json: -: json syntax error" in result.stderr
    assert "b-bad-unit.json: Observation/" in result.stderr and "unknown unit" in result.stderr
    # Input errors are entries of the output too ({file, error}): one patient was judged.
    assert [a.get("patient_id") for a in json.loads(result.stdout)] == [None, None, "EX-MDA5"]
    assert "Traceback" not in result.stderr


# --- the assessment as FHIR ----------------------------------------------------------------

def test_format_fhir_is_a_valid_bundle_of_guidance_responses() -> None:
    result = CliRunner().invoke(app, ["evaluate", str(DATA / "searchset-mda5.json"),
                                      "--format", "fhir"])
    assert result.exit_code == 0
    bundle = json.loads(result.stdout)
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assessment = jdm_cds.evaluate(load_fhir_file(DATA / "searchset-mda5.json").patient)
    assert kinds.count("GuidanceResponse") == len(assessment.judgements) + 1
    assert kinds.count("DetectedIssue") == len(assessment.alerts) > 0
    assert "OperationOutcome" in kinds  # the unmapped blood pressure
    responses = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    printo = responses["EX-MDA5-cid.printo"]
    assert printo["moduleUri"].startswith("https://jdm-cds.org/fhir/rules/cid/cid.printo|")
    assert printo["contained"][0]["parameter"][0] == {"name": "status", "valueCode": "met"}


def test_indeterminate_judgement_requires_data() -> None:
    patient = load_patient(EXAMPLE)
    last = patient.visits[-1].model_copy(update={"ck_u_l": None, "cmas": None, "mmt8": None})
    bare = patient.model_copy(update={"visits": (*patient.visits[:-1], last)})
    assessment = jdm_cds.evaluate(bare)
    bundle = guidance_bundle([assessment])
    undecided = [e["resource"] for e in bundle["entry"]
                 if e["resource"].get("status") == "data-required"]
    indeterminate = [j for j in assessment.judgements.values() if j.status == "indeterminate"]
    assert len(undecided) == len(indeterminate) > 0


def test_text_report_summarises_unmapped() -> None:
    result = CliRunner().invoke(app, ["evaluate", str(DATA / "searchset-mda5.json")])
    assert "Not read from the FHIR input: 1 resource(s)" in result.stdout
    assert "Systolic blood pressure" in result.stdout


def test_patient_from_bundle_refuses_other_bundle_types() -> None:
    bundle = example_bundle()
    bundle["type"] = "history"
    with pytest.raises(PatientFileError, match=r"Bundle\.type 'history'"):
        patient_from_bundle(bundle, "h.json")


def test_observation_checked_quickly_is_still_refused_when_malformed() -> None:
    # Observations skip the full R4B validation only when every element read is well-formed.
    def bad_date(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-cmas")["effectiveDateTime"] = "2020-13-45"
    def text_value(resources: list[dict[str, Any]]) -> None:
        one(resources, "2020-01-30-cmas")["valueQuantity"]["value"] = "50"
    assert problems(bad_date)[0].startswith(
        "in.json: Observation/EX-MDA5-2020-01-30-cmas effectiveDateTime: invalid FHIR R4")
    assert "Observation/EX-MDA5-2020-01-30-cmas" in problems(text_value)[0]


def test_bench_reads_bundles_back_as_their_yaml() -> None:
    from jdm_cds.bench import make_cohort
    from jdm_cds.interop.fhir import bench

    lines: list[str] = []
    ratio = bench.run(make_cohort(3, 3, seed=1), jdm_cds.evaluate, lines.append)
    assert ratio > 0 and "Bundle =" in lines[0] and "file -> assessment" in lines[1]


def test_real_shape_fixtures_are_current(tmp_path: Path) -> None:
    # tests/data/fhir/make_real_shapes.py writes them from the example patient file.
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_real_shapes",
                                                  DATA / "make_real_shapes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written
    for path in written:
        assert (tmp_path / path).read_text("utf-8") == (DATA / path).read_text("utf-8"), path


def test_a_bundle_is_held_to_the_visit_limit_of_a_patient_file(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(example_bundle()))
    visits = len(load_patient(EXAMPLE).visits)
    runner = CliRunner()
    try:
        few = runner.invoke(app, ["evaluate", "--max-visits", str(visits - 1), str(path)])
        enough = runner.invoke(app, ["evaluate", "--max-visits", str(visits), str(path)])
    finally:
        os.environ.pop(MAX_VISITS_SETTING, None)
    assert few.exit_code == 1 and enough.exit_code == 0
    assert (f"{visits} visits (dates with an observation or an adverse event), more than the "
            f"limit of {visits - 1} (--max-visits)") in few.stderr
