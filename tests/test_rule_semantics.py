"""What the rule language says beyond plain conditions: ``undecided_if`` and treatment
classes as YAML data."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from longitudinal import ACTIVE, CID, JAK, day, judge, patient, visit

from jdm_cds.evaluate import Evaluator
from jdm_cds.facts.builder import timeline
from jdm_cds.language.compiler import rule_status
from jdm_cds.language.diagnostics import RuleLoadError
from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
from jdm_cds.language.treatment_classes import (
    CLASSES_FILE,
    core_treatment_classes,
    read_treatment_classes,
)
from jdm_cds.model.patient import Treatment
from jdm_cds.model.vocabulary import DRUGS

ROOT = Path(__file__).resolve().parent.parent

# --- undecided_if --------------------------------------------------------------------

OUTCOMES = ("T", "F", "U")


@pytest.mark.parametrize(("applies", "when", "undecided"),
                         list(itertools.product((*OUTCOMES, None), OUTCOMES, (*OUTCOMES, None))))
def test_rule_status_table(applies: str | None, when: str, undecided: str | None) -> None:
    """Each decided combination, written out rather than computed."""
    got = rule_status(None if applies is None else {applies}, {when},  # type: ignore[arg-type]
                      None if undecided is None else {undecided})  # type: ignore[arg-type]
    if applies == "F":
        expected = "not_applicable"
    elif applies == "U" or when == "U":
        expected = "indeterminate"
    elif when == "T":
        expected = "met"  # what is met stays met, whatever is still undecided
    else:
        expected = "not_met" if undecided in ("F", None) else "indeterminate"
    assert got == {expected}


PACK = """\
pack: {id: undecided, version: 1.0.0, title: Undecided, references: {r: {citation: A source}}}
criteria:
  seen: {title: CK seen high, when: {field: ck_u_l, gt: 1000}}
  pending: {title: the CMAS is still being scored, when: {field: cmas, lt: 5}}
rules:
  - id: t.high_ck
    title: High CK
    scope: visit
    when: seen
    undecided_if: pending
    references: [r]
  - id: t.refers
    title: Refers to the undecided judgement
    scope: visit
    when: {not: {rule: t.high_ck}}
    references: [r]
"""


def _pack(tmp_path: Path) -> Path:
    path = tmp_path / "undecided.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


@pytest.mark.parametrize(("values", "status", "refers", "reasons"), [
    ({"ck_u_l": 2000, "cmas": 1}, "met", "not_met", []),
    ({"ck_u_l": 100, "cmas": 10}, "not_met", "met", []),
    ({"ck_u_l": 100, "cmas": 1}, "indeterminate", "indeterminate",
     ["the CMAS is still being scored"]),
    ({"ck_u_l": 100}, "indeterminate", "indeterminate", []),
])
def test_undecided_if_holds_back_not_met_only(tmp_path: Path, values: dict[str, float],
                                              status: str, refers: str,
                                              reasons: list[str]) -> None:
    evaluator = Evaluator(load_rulebase([(_pack(tmp_path), None)]))
    found = evaluator.evaluate(patient(visit(0, **values))).judgements

    assert found["t.high_ck"].status == status
    # A rule reference is unknown exactly where the judgement it names is indeterminate.
    assert found["t.refers"].status == refers
    # The reasons are the titles of the undecided_if criteria that hold: nothing restates them.
    assert found["t.high_ck"].reasons == reasons
    if "cmas" not in values:
        assert found["t.high_ck"].missing == ["cmas"]


def test_window_finality_is_stated_in_the_window_rule() -> None:
    pack = yaml.safe_load((RULES_DIR / "cid_window.yaml").read_text(encoding="utf-8"))
    rule = next(r for r in pack["rules"] if r["id"] == "cid.within_6_months")

    assert rule["undecided_if"] == {
        "any": ["window_not_closed", "no_window_visit", "unclear_window_visit"]}
    assert "reasons" not in rule
    source = (ROOT / "engine" / "facts" / "builder.py").read_text(encoding="utf-8")
    assert "final" not in source


@pytest.mark.parametrize(("visits", "at", "status"), [
    ([(0, ACTIVE), (90, ACTIVE)], 182, "indeterminate"),
    ([(0, ACTIVE), (90, ACTIVE)], 183, "not_met"),
    ([(0, ACTIVE), (30, CID)], 40, "met"),
])
def test_window_opens_and_closes(visits: list[tuple[int, dict[str, float]]], at: int,
                                 status: str) -> None:
    p = patient(*(visit(n, **values) for n, values in visits))
    assert judge(p, "cid.within_6_months", day(at)).status == status


# --- treatment classes ------------------------------------------------------------------


def test_shipped_classes() -> None:
    classes = core_treatment_classes()

    assert classes.baseline == "jak_inhibitor"
    assert classes.drugs("jak_inhibitor") == {"ruxolitinib", "baricitinib", "tofacitinib",
                                              "upadacitinib"}
    assert classes.drugs("steroid") == {"prednisone", "methylprednisolone"}
    assert classes.drugs("methotrexate") == {"methotrexate"}
    for treatment_class in classes.classes.values():
        assert treatment_class.drugs <= DRUGS
    assert classes.names() == DRUGS | set(classes.classes)


def test_classes_file_is_package_data() -> None:
    assert CLASSES_FILE.is_file()
    assert CLASSES_FILE.parent.parent == RULES_DIR


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("classes:\n  jak_inhibitor: {title: J, drugs: [ruxolitinib]}\n"
     "  jak_inhibitor: {title: K, drugs: [baricitinib]}\nbaseline: {treatment: jak_inhibitor}\n",
     3, "duplicate key 'jak_inhibitor'"),
    ("classes:\n  jak_inhibitor: {title: J, drugs: [aspirin]}\n"
     "baseline: {treatment: jak_inhibitor}\n", 2, "aspirin not a drug of the patient file"),
    ("classes:\n  prednisone: {title: P, drugs: [prednisone]}\nbaseline: {treatment: x}\n",
     2, "has the name of a drug"),
    ("classes:\n  steroid: {title: S, drugs: [prednisone]}\nbaseline: {treatment: jak}\n",
     3, "'baseline' needs 'treatment'"),
    ("classes:\n  steroid: {title: S, drugs: [prednisone], note: x}\n"
     "baseline: {treatment: steroid}\n", 2, "unknown key(s) note"),
])
def test_broken_classes_are_refused_with_file_and_line(tmp_path: Path, text: str, line: int,
                                                       fragment: str) -> None:
    path = tmp_path / "treatments.yaml"
    path.write_text(text, encoding="utf-8")

    classes, problems = read_treatment_classes(path)

    assert classes is None
    assert any(p.mark.line == line and fragment in p.message and p.mark.file == str(path)
               for p in problems), [str(p) for p in problems]


def test_classes_are_read_in_the_yaml_dialect_of_rule_packs(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML's SafeLoader) read the class name `on` as true and the title `1:30`
    # as the number 90, and refused both; YAML 1.2 core reads them as text.
    path = tmp_path / "treatments.yaml"
    path.write_text("classes:\n  on: {title: 1:30, drugs: [prednisone], assumption: no}\n"
                    "  off: {title: 0150, drugs: [baricitinib]}\n"
                    "baseline: {treatment: on}\n", encoding="utf-8")

    classes, problems = read_treatment_classes(path)

    assert [(p.mark.line, p.message) for p in problems] == [
        (3, "class 'off' needs a 'title' (text); 'assumption' is text")]  # 150, a number
    path.write_text(path.read_text().replace("0150", "'0150'"), encoding="utf-8")
    classes, problems = read_treatment_classes(path)
    assert problems == [] and classes is not None
    assert classes.baseline == "on"
    assert (classes.classes["on"].title, classes.classes["on"].assumption) == ("1:30", "no")
    assert classes.classes["off"].title == "0150"


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("base: &b {title: J, drugs: [ruxolitinib]}\nclasses:\n  j:\n    <<: *b\n"
     "baseline: {treatment: j}\n", 4, "merge keys (<<) are not part of YAML 1.2"),
    ("x: &a [p,p,p,p,p,p,p,p,p,p]\n" + "".join(
        f"x{i}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9)),
     4, "aliases expand to more than 10,000 nodes"),
    ("classes: " + "[" * 200 + "]" * 200 + "\n", 1, "nesting deeper than 100 levels"),
    ("classes: !!python/object:os.system {}\n", 1, "tag 'tag:yaml.org,2002:python/object"),
])
def test_classes_are_bounded_as_rule_packs_are(tmp_path: Path, text: str, line: int,
                                              fragment: str) -> None:
    path = tmp_path / "treatments.yaml"
    path.write_text(text, encoding="utf-8")

    classes, problems = read_treatment_classes(path)

    assert classes is None
    [problem] = problems
    assert problem.mark.line == line and fragment in problem.message, str(problem)


def test_first_start_is_the_earliest_start_of_the_class() -> None:
    treatments = [Treatment(drug="prednisone", start=dt.date(2020, 1, 1)),
                  Treatment(drug="baricitinib", start=dt.date(2021, 6, 1)),
                  Treatment(drug="ruxolitinib", start=dt.date(2021, 3, 1),
                            stop=dt.date(2021, 5, 1))]
    classes = core_treatment_classes()

    assert classes.first_start(treatments) == dt.date(2021, 3, 1)
    assert classes.first_start(treatments, "steroid") == dt.date(2020, 1, 1)
    assert classes.first_start(treatments[:1]) is None


@pytest.mark.parametrize("drug", sorted(DRUGS))
def test_the_baseline_class_sets_the_baseline_visit(drug: str) -> None:
    p = patient(visit(-10, **ACTIVE), visit(30, **ACTIVE),
                treatments=[{**JAK, "drug": drug}])
    tl = timeline(p)
    on_baseline = drug in core_treatment_classes().drugs("jak_inhibitor")

    assert (tl.role("baseline") == 0) is on_baseline
    assert (tl.baseline_start is not None) is on_baseline


def test_no_drug_class_is_a_python_constant() -> None:
    found = subprocess.run(["grep", "-rn", "-e", "JAK_INHIBITORS", "-e", "TREATMENT_CLASSES",
                            "-e", "jak_start(", "engine"], cwd=ROOT, capture_output=True,
                           text=True, check=False)
    assert found.stdout == ""


# --- not_needed does not depend on the order the compiler chose ---------------------------

PRINTO_VALUES = {"ck_u_l": (100.0, 900.0), "cmas": (50.0, 30.0), "mmt8": (79.0, 60.0),
                 "physician_global_vas": (0.1, 5.0)}


@pytest.mark.parametrize("levels", list(itertools.product(range(3), repeat=4)))
def test_printo_and_printo_skin_agree_on_each_printo_test(levels: tuple[int, ...]) -> None:
    """With the skin inactive, cid.printo_skin is decided exactly as cid.printo: each PRINTO
    test is shown the same way in both (0: normal, 1: abnormal, 2: not measured)."""
    values = {name: pair[level] for (name, pair), level in
              zip(PRINTO_VALUES.items(), levels, strict=True) if level < 2}
    found = assess_visit({**values, "das_skin": 0.0})
    printo = {c["test"]: c["status"] for c in found["cid.printo"].because["criteria"]}
    skin = {c["test"]: c["status"] for c in found["cid.printo_skin"].because["criteria"]}

    assert found["cid.printo"].status == found["cid.printo_skin"].status
    assert {test: skin[test] for test in printo} == printo


def assess_visit(values: dict[str, float]) -> dict[str, Any]:
    return dict(evaluator_of_cid().evaluate(patient(visit(0, **values))).judgements)


@functools.cache
def evaluator_of_cid() -> Evaluator:
    return Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))


def test_a_judgement_with_too_many_tests_is_refused(tmp_path: Path) -> None:
    tests = [{"field": "ck_u_l", "gt": n} for n in range(13)]
    pack = {"pack": {"id": "big", "version": "1.0.0", "title": "Big",
                     "references": {"r": {"citation": "A source"}}},
            "rules": [{"id": "big.rule", "title": "Big", "scope": "visit",
                       "when": {"all": tests}, "references": ["r"]}]}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(pack), encoding="utf-8")

    with pytest.raises(RuleLoadError) as refused:
        load_rulebase([(path, None)])

    [problem] = refused.value.diagnostics
    assert problem.code == "too-large"
    assert "13 distinct tests, more than the 12" in problem.message
