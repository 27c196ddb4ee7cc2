"""The FHIR mapping file (validated like a rule pack) and the UCUM conversions."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.interop.fhir import bundle_from_patient, patient_from_bundle, units
from jdm_cds.interop.fhir.mapping import DEFAULT_NAME, MappingError, build, default_mapping
from jdm_cds.model.reading import load_patient

ROOT = Path(__file__).parent.parent
DEFAULT = ROOT / "engine" / "interop" / "fhir" / DEFAULT_NAME
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT.read_text("utf-8"))
    return data


def test_every_code_has_a_source_and_the_unverified_are_listed() -> None:
    mapping = default_mapping()
    sections = [*default_data()["observations"].values(), *default_data()["antibodies"].values(),
                *default_data()["treatments"].values(), *default_data()["adverse_events"].values()]
    codes = [c for s in sections for c in (*s.get("codes", []), *s.get("products", []))]
    assert codes and all(c["source"].strip() for c in codes)
    unverified = {(c["system"], str(c["code"])) for c in codes if c.get("verified") is False}
    warned = {w.message.split(" ")[0] for w in mapping.warnings}
    assert {f"{system}|{code}" for system, code in unverified} <= warned
    # The JAK inhibitors' RxNorm codes were not confirmed against RxNav: they must say so.
    assert {("rxnorm", "1193326"), ("rxnorm", "2047232"), ("rxnorm", "1357536"),
            ("rxnorm", "2196092")} <= unverified


def test_all_problems_of_a_broken_mapping_are_reported_together() -> None:
    data = default_data()
    data["observations"]["ckk_u_l"] = {"unit": "U/L", "codes": []}  # unknown field
    data["observations"]["cmas"]["unit"] = "furlong"  # unknown unit
    data["treatments"]["aspirin"] = {"text": ["aspirin"]}  # not a drug of the patient file
    data["treatments"]["methotrexate"]["codes"].append(  # already prednisone's code
        {"system": "rxnorm", "code": "8640", "source": "test"})
    data["antibodies"]["anti-MDA5"]["codes"][0].pop("source")  # a code without its source
    with pytest.raises(MappingError) as error:
        build(data, "site.yaml")
    assert [d.where for d in error.value.diagnostics] == ["antibodies.anti-MDA5.codes[0].source"]
    # pydantic's shape errors come first, alone: fix the shape, then the meaning is checked.
    data["antibodies"]["anti-MDA5"]["codes"][0]["source"] = "loinc.org"
    with pytest.raises(MappingError) as error:
        build(data, "site.yaml")
    messages = [f"{d.where}: {d.message}" for d in error.value.diagnostics]
    assert any(m.startswith("observations.ckk_u_l: unknown observation") for m in messages)
    assert any(m.startswith("observations.cmas.unit: unknown UCUM unit 'furlong'")
               for m in messages)
    assert any(m.startswith("treatments.aspirin: unknown treatment") for m in messages)
    assert any("rxnorm|8640 is already mapped to treatment prednisone" in m for m in messages)
    assert all(str(d).startswith("site.yaml: ") for d in error.value.diagnostics)


def test_a_site_mapping_adds_a_local_code(tmp_path: Path) -> None:
    data = default_data()
    data["observations"]["ck_u_l"]["codes"].append(
        {"system": "https://lab.example/codes", "code": "CK-SER", "source": "our lab's catalogue"})
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(data), "utf-8")
    bundle = bundle_from_patient(load_patient(EXAMPLE))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["id"].endswith("ck-u-l"):
            resource["code"] = {"coding": [{"system": "https://lab.example/codes",
                                            "code": "CK-SER"}]}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle), "utf-8")
    builtin = CliRunner().invoke(app, ["evaluate", str(path), "--format", "json"])
    local = CliRunner().invoke(app, ["evaluate", str(path), "--format", "json",
                                     "--fhir-mapping", str(site)])
    assert [u["code"] for u in json.loads(builtin.stdout)[0]["unmapped"]] == [
        "https://lab.example/codes|CK-SER"] * 3
    assert json.loads(local.stdout)[0]["unmapped"] == []


def test_a_broken_mapping_stops_the_run(tmp_path: Path) -> None:
    site = tmp_path / "broken.yaml"
    site.write_text("version: 2\n", "utf-8")
    result = CliRunner().invoke(app, ["evaluate", str(EXAMPLE), "--fhir-mapping", str(site)])
    assert result.exit_code == 2
    assert "the FHIR mapping has errors: nothing was evaluated" in result.stderr


def test_check_mapping_lists_the_codes_not_verified() -> None:
    result = CliRunner().invoke(app, ["fhir", "check-mapping"])
    assert result.exit_code == 0
    assert "rxnorm|1193326 (ruxolitinib) is not verified" in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith(
        f"{len(default_mapping().warnings)} not verified)")


def test_product_codes_and_names_map_to_one_ingredient() -> None:
    mapping = default_mapping()
    rxnorm = mapping.url("rxnorm")
    assert mapping.by_code(rxnorm, "312617") == ("treatment", "prednisone")
    assert mapping.by_words("treatment", "methotrexate 2.5 MG Oral Tablet") == {"methotrexate"}
    assert mapping.by_words("treatment", "methylprednisolone 500 MG Injection") == {
        "methylprednisolone"}  # not prednisone: whole words only
    assert len(mapping.by_words("treatment", "prednisone and methotrexate pack")) == 2


# --- units ---------------------------------------------------------------------------------

KINDS = {
    "catalytic concentration": ["U/L", "[IU]/L", "U/mL", "ukat/L", "nkat/L", "mU/mL"],
    "mass": ["kg", "g", "[lb_av]"],
    "length": ["cm", "mm"],
    "mass concentration": ["fg/mL", "pg/mL", "ng/L", "pg/L"],
}


def test_known_conversions() -> None:
    assert units.convert(1.5, "ukat/L", "U/L") == 90
    assert units.convert(0.5, "ukat/L", "U/L") == 30
    assert units.convert(2, "pg/mL", "fg/mL") == 2000
    assert units.convert(5, "mm", "cm") == 0.5
    assert units.convert(100, "[lb_av]", "kg") == pytest.approx(45.359237)
    with pytest.raises(units.UnitError, match="unknown unit 'mg/dL'"):
        units.convert(1, "mg/dL", "U/L")
    with pytest.raises(units.UnitError, match="is a mass, not a catalytic concentration"):
        units.convert(1, "kg", "U/L")


@campaign(200, 20_000)
@given(st.sampled_from([(kind, a, b) for kind, names in KINDS.items()
                        for a in names for b in names]),
       st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False))
@pytest.mark.fuzz
def test_conversion_is_exact_and_reversible(case: tuple[str, str, str], value: Decimal) -> None:
    _, source, target = case
    there = units.convert(float(value), source, target)
    back = units.convert(there, target, source)
    assert back == pytest.approx(float(value), rel=1e-12, abs=1e-12)
    assert units.kind_of(source) == units.kind_of(target)


def test_no_unit_on_a_score_is_points_but_none_on_ck_is_refused() -> None:
    bundle = bundle_from_patient(load_patient(EXAMPLE))
    changed = copy.deepcopy(bundle)
    for entry in changed["entry"]:
        quantity = entry["resource"].get("valueQuantity")
        if quantity is not None:
            quantity.pop("code", None)
            quantity.pop("unit", None)
    with pytest.raises(Exception, match="no unit for"):
        patient_from_bundle(changed, "x.json")
