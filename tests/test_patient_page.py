"""The patient page and its trajectory figure: thresholds read from the rule packs, the
window, one point per measured visit, gaps for missing values, deterministic SVG, escaped
text, nothing fetched from the network."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

import jdm_cds
from jdm_cds.cli import app
from jdm_cds.defaults import default_evaluator
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rulebase import RULES_DIR, core_pack_paths, load_rulebase
from jdm_cds.model.patient import Patient
from jdm_cds.report import figure
from jdm_cds.report.glossary import Glossary

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "patient-mda5.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def draw_svg(evaluator: Evaluator, patient: Patient) -> str:
    glossary = Glossary.of(evaluator.rulebase)
    return figure.svg(figure.trajectory(evaluator, patient, glossary))


def element(svg: str, gid: str) -> ET.Element:
    root = ET.fromstring(svg)
    found = [e for e in root.iter() if e.get("id") == gid]
    assert len(found) == 1, gid
    return found[0]


def markers(svg: str, gid: str) -> int:
    return sum(1 for e in element(svg, gid).iter() if e.tag == f"{SVG}use")


def test_the_svg_holds_the_thresholds_the_window_and_one_point_per_measured_visit() -> None:
    evaluator = default_evaluator()
    patient = jdm_cds.load_patient(EXAMPLE)
    svg = draw_svg(evaluator, patient)

    lines = figure.thresholds(evaluator.rulebase, Glossary.of(evaluator.rulebase))
    assert {(t.field, t.value) for t in lines} >= {
        ("ck_u_l", 150), ("cmas", 48), ("mmt8", 78), ("physician_global_vas", 0.2),
        ("das_skin", 0), ("steroid_dose", 0.2)}
    for t in lines:
        assert t.label in svg.replace("&lt;", "<").replace("&gt;", ">")
    element(svg, "window")
    element(svg, "cid-visits")
    for field in ("ck_u_l", "cmas", "mmt8", "physician_global_vas", "das_skin"):
        measured = sum(getattr(v, field) is not None for v in patient.visits)
        assert markers(svg, f"points-{field}") == measured, field
    assert markers(svg, "points-steroid_dose") == len(patient.visits)
    assert "<text" in svg and "Date" not in svg  # text as text, no timestamp


def test_the_svg_is_deterministic() -> None:
    evaluator = default_evaluator()
    patient = jdm_cds.load_patient(EXAMPLE)
    assert draw_svg(evaluator, patient) == draw_svg(evaluator, patient)


def test_a_missing_value_is_a_gap_not_a_zero() -> None:
    patient = Patient.model_validate({"id": "gap", "visits": [
        {"date": "2021-01-01", "ck_u_l": 900.0}, {"date": "2021-03-01", "cmas": 40.0},
        {"date": "2021-05-01", "ck_u_l": 120.0}]})
    svg = draw_svg(default_evaluator(), patient)

    assert markers(svg, "points-ck_u_l") == 2
    [path] = [e for e in element(svg, "points-ck_u_l").iter() if e.tag == f"{SVG}path"
              and e.get("d", "").startswith("M")][:1]
    # Two points with a gap between them are two separate pieces, each a lone move.
    assert path.get("d", "").count("L") == 0


def test_a_changed_threshold_moves_its_line(tmp_path: Path) -> None:
    for path in core_pack_paths():
        shutil.copy(path, tmp_path / path.name)
    classes = RULES_DIR / "classes"
    if classes.is_dir():
        shutil.copytree(classes, tmp_path / "classes")
    cid = tmp_path / "cid.yaml"
    cid.write_text(cid.read_text().replace("{field: ck_u_l, lte: 150}",
                                           "{field: ck_u_l, lte: 200}"))
    changed = Evaluator(load_rulebase((p, None) for p in sorted(tmp_path.glob("*.yaml"))))
    core = Evaluator(load_rulebase((p, None) for p in core_pack_paths()))
    patient = jdm_cds.load_patient(EXAMPLE)

    before, after = draw_svg(core, patient), draw_svg(changed, patient)
    assert "CK &lt;= 150 U/L" in before and "CK &lt;= 200 U/L" not in before
    assert "CK &lt;= 200 U/L" in after and "CK &lt;= 150 U/L" not in after
    y = [element(svg, "threshold-ck_u_l-0").find(f".//{SVG}path").get("d")  # type: ignore[union-attr]
         for svg in (before, after)]
    assert y[0] != y[1]


def test_report_writes_one_self_contained_page(tmp_path: Path) -> None:
    page, png = tmp_path / "p.html", tmp_path / "p.png"
    result = CliRunner().invoke(app, ["report", str(EXAMPLE), "-o", str(page), "--png",
                                      str(png)])

    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Nothing is loaded from elsewhere: no linked stylesheet, script or image, no font.
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "@import" not in html and "url(http" not in html
    for heading in ("Clinically inactive disease", "Treatment response",
                    "Withdrawal of treatments", "Safety", "Antibody-specific guidance",
                    "Notes"):
        assert f"<h2>{heading}</h2>" in html
    assert "@page { size: A4 portrait" in html
    assert html.count("<details") >= len(jdm_cds.evaluate(jdm_cds.load_patient(EXAMPLE))
                                         .judgements)


def test_patient_text_is_escaped_in_the_page(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text('id: "<script>alert(1)</script>$x^2$"\n'
                       "visits:\n  - {date: 2020-01-01, cmas: 50}\n")
    page = tmp_path / "p.html"

    result = CliRunner().invoke(app, ["report", str(hostile), "-o", str(page)])

    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;$x^2$" in html


def test_a_bad_patient_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nvisits: []\n")
    result = CliRunner().invoke(app, ["report", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{bad}: visits")


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="headless Chromium not installed (make patient-page-screenshot "
                    "installs it)")
def test_the_page_opens_in_headless_chromium_without_network(tmp_path: Path) -> None:
    from browser import screenshot

    page = tmp_path / "p.html"
    assert CliRunner().invoke(app, ["report", str(EXAMPLE), "-o", str(page)]).exit_code == 0
    shot = screenshot(page, tmp_path / "shot.png", tmp_path / "profile")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
