"""Hostile and careless rule packs: each is refused with file:line, or read as written.

Every case here was accepted (or crashed, or hung) before the loader was hardened.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jdm_cds.cli import app
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.diagnostics import Diagnostic, Severity
from jdm_cds.language.loader import read_pack
from jdm_cds.language.rule_types import Compare
from jdm_cds.language.rulebase import core_pack_paths, load_rulebase, read_packs
from jdm_cds.model.patient import Patient, Visit

HEADER = """\
pack:
  id: hostile
  version: 1.0.0
  title: A hostile pack
  references:
    printo: {citation: "Lazarevic D et al. Ann Rheum Dis 2013;72:686-93."}
"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(header + body)
    return path


def errors(path: Path) -> list[Diagnostic]:
    _, found = read_packs([(path, None)])
    return [d for d in found if d.severity is Severity.ERROR]


def located(path: Path) -> list[tuple[int, str]]:
    return [(d.mark.line, d.code) for d in errors(path) if d.mark.file == str(path)]


def test_a_duplicate_key_in_a_criterion_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
criteria:
  ck_normal: {title: CK normal, when: {field: ck_u_l, lte: 150}}
  ck_normal: {title: CK normal, when: {field: ck_u_l, lte: 1500}}
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: ck_normal
    references: [printo]
""")

    found = errors(path)

    assert [(d.mark.line, d.code) for d in found] == [(9, "duplicate-key")]
    assert "key 'ck_normal' is given twice in one mapping (first at line 8)" in found[0].message


def test_every_duplicate_key_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, """\
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: {field: ck_u_l, lte: 150}
    when: {field: ck_u_l, lte: 1500}
    references: [printo]
    references: [printo]
""")

    assert located(path) == [(12, "duplicate-key"), (14, "duplicate-key")]


@pytest.mark.parametrize(("name", "why"), [
    ("visit", "is a name the engine uses"),
    ("kind", "is a name the engine uses"),
    ("sid", "is a name the engine uses"),
    ("id", "is a name the engine uses"),
    ("judged", "is a name the engine uses"),
    ("'judge:cid.printo'", "may hold only letters"),
    ("'adverse_events:herpes_zoster'", "may hold only letters"),
    ("jak.started", "may hold only letters"),
    ("'$ex'", "may hold only letters"),
])
def test_a_derived_value_with_a_name_the_engine_uses_is_refused(
        tmp_path: Path, name: str, why: str) -> None:
    path = write(tmp_path, f"""\
derived:
  {name}:
    kind: treatment_started
    title: started
    treatment: jak_inhibitor
rules:
  - id: hostile.started
    title: started
    when: {{field: jak_active, eq: true}}
    references: [printo]
""")

    found = [d for d in errors(path) if d.code == "bad-name"]

    assert [d.mark.line for d in found] == [8]
    assert why in found[0].message


@pytest.mark.parametrize("field", ["ck_u_l", "antibodies", "cmas"])
def test_a_derived_value_named_as_a_patient_field_is_refused(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, f"""\
derived:
  {field}:
    kind: treatment_started
    title: started
    treatment: jak_inhibitor
""")

    assert located(path) == [(8, "duplicate-derived")]


@pytest.mark.parametrize("rule_id", ['hostile."quoted"', "hostile.Upper", "hostile#1",
                                     "hostile:colon", "hostile space"])
def test_a_rule_id_outside_the_plain_characters_is_refused(tmp_path: Path, rule_id: str) -> None:
    quoted = rule_id.replace("'", "''")
    path = write(tmp_path, f"""\
rules:
  - id: '{quoted}'
    title: CK
    scope: visit
    when: {{field: ck_u_l, lte: 150}}
    references: [printo]
""")

    found = errors(path)

    assert [(d.mark.line, d.code) for d in found] == [(8, "bad-name")]


def test_a_patient_value_named_visit_no_longer_reaches_the_engine(tmp_path: Path) -> None:
    # It was read back as a visit index: `visit > 0` came out indeterminate, not_needed.
    path = write(tmp_path, """\
derived:
  visit:
    kind: visit_value
    title: CK at the evaluation visit
    role: evaluation
    field: ck_u_l
rules:
  - id: hostile.visit
    title: visit
    when: {field: visit, gt: 0}
    references: [printo]
""")

    assert (8, "bad-name") in located(path)


def test_yaml_1_1_numbers_in_a_pack_are_read_as_yaml_1_2(tmp_path: Path) -> None:
    path = write(tmp_path, """\
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: {field: ck_u_l, lte: 0150}
    references: [printo]
""", header=HEADER.replace("1.0.0", "1.10"))

    pack, found = read_pack(path)

    assert found == []
    assert pack is not None
    assert pack.version == "1.10"  # as written, not the number 1.1
    when = pack.rules[0].when
    assert isinstance(when, Compare)
    assert when.value == 150  # decimal, not octal 104


@pytest.mark.parametrize("scalar", ["yes", "on", "1:30", "0x", "="])
def test_yaml_1_1_scalars_are_text_and_refused_where_a_number_is_needed(
        tmp_path: Path, scalar: str) -> None:
    path = write(tmp_path, f"""\
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: {{field: ck_u_l, lte: {scalar}}}
    references: [printo]
""")

    found = errors(path)

    assert [(d.mark.line, d.code) for d in found] == [(11, "type")]
    assert f"needs a number (got '{scalar}')" in found[0].message


def test_a_merge_key_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
criteria:
  base: &base {title: CK normal, when: {field: ck_u_l, lte: 150}}
  other:
    <<: *base
    title: other
""")

    assert located(path) == [(10, "yaml-syntax")]


ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9))


def test_an_alias_bomb_is_refused_fast_at_its_line(tmp_path: Path) -> None:
    # 10^10 nodes once expanded; it hung rules check and start-up (> 120 s, > 1.2 GB).
    path = tmp_path / "bomb.yaml"
    path.write_text(HEADER + "x:\n" + "".join(f"  {line}\n" for line in ALIAS_BOMB.splitlines()))
    assert len(path.read_bytes()) < 1500

    started = time.process_time()
    found = errors(path)
    spent = time.process_time() - started

    assert [(d.mark.line, d.code) for d in found] == [(11, "yaml-limit")]
    assert "aliases expand to more than 10,000 nodes" in found[0].message
    assert spent < 5  # a bound against a hang, not a speed target


@pytest.mark.parametrize("style", ["block", "flow"])
def test_five_thousand_nested_nots_are_refused_with_a_line(tmp_path: Path, style: str) -> None:
    depth = 5000
    if style == "flow":
        condition = "{not: " * depth + "{field: ck_u_l, lte: 150}" + "}" * depth
        body = f"rules:\n  - id: hostile.deep\n    title: deep\n    when: {condition}\n"
    else:
        # Block style, as deep as the indentation allows in reasonable size.
        depth = 300
        lines = "".join(f"{'  ' * (i + 3)}not:\n" for i in range(depth))
        body = (f"rules:\n  - id: hostile.deep\n    title: deep\n    when:\n{lines}"
                f"{'  ' * (depth + 3)}{{field: ck_u_l, lte: 150}}\n")
    path = write(tmp_path, body + "    references: [printo]\n")

    found = errors(path)  # no RecursionError

    assert [d.code for d in found] == ["yaml-limit"]
    assert "nesting deeper than 100 levels" in found[0].message
    assert found[0].mark.line >= 10 if style == "block" else found[0].mark.line == 10


def test_a_rule_id_with_a_quote_no_longer_crashes_evaluate(tmp_path: Path) -> None:
    path = write(tmp_path, """\
rules:
  - id: 'hostile."q"'
    title: CK
    scope: visit
    when: {field: ck_u_l, lte: 150}
    references: [printo]
""")
    result = CliRunner().invoke(app, ["rules", "check", "--alone", str(path)])

    assert result.exit_code == 2
    assert f"{path}:8: error: rule id 'hostile.\"q\"' may hold only" in result.stdout


def test_firings_are_decoded_by_key_whatever_a_patient_value_holds(tmp_path: Path) -> None:
    # A text value that looks like a visit index inside the fact must not be read as one.
    path = write(tmp_path, """\
derived:
  jak_started:
    kind: treatment_started
    title: JAK inhibitor started
    treatment: jak_inhibitor
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: {field: ck_u_l, lte: 150}
    references: [printo]
  - id: hostile.started
    title: started
    when: {field: jak_started, eq: false}
    references: [printo]
""")
    evaluator = Evaluator(load_rulebase([(path, None)]))
    day = dt.date(2022, 1, 1)
    patient = Patient(id='"visit":1,', visits=(Visit(date=day, ck_u_l=90.0),
                                               Visit(date=day + dt.timedelta(days=9),
                                                     ck_u_l=900.0)))

    judged = evaluator.evaluate(patient).judgements

    assert judged["hostile.ck"].status == "not_met"
    assert judged["hostile.ck"].visit_date == day + dt.timedelta(days=9)
    assert judged["hostile.started"].status == "met"


def test_the_core_packs_load_with_both_yaml_parsers(tmp_path: Path) -> None:
    from jdm_cds.language import loader
    from jdm_cds.model import yaml12

    for path in core_pack_paths():
        text = path.read_text()
        assert yaml12.load(text, loader._FAST, loader._SLOW) == \
            yaml12.load(text, loader._SLOW, loader._SLOW)


def many_rules(tmp_path: Path, count: int, kind: str = "judgement") -> Path:
    """The plugin pack that broke the core judgements: many visit rules on CK and CMAS."""
    message = "\n    alert: {summary: CK}" if kind == "alert" else ""
    rules = "".join(f"""\
  - id: hostile.r{i}
    title: rule {i}
    kind: {kind}
    scope: visit
    when: {{all: [{{field: ck_u_l, lte: {i}}}, {{field: cmas, gte: {i}}}]}}
    references: [printo]{message}
""" for i in range(count))
    return write(tmp_path, "rules:\n" + rules)


@pytest.mark.parametrize(("count", "kind"), [(62, "judgement"), (260, "judgement"),
                                             (100, "alert")])
def test_more_rules_on_one_fact_than_the_engine_can_match_are_refused(
        tmp_path: Path, count: int, kind: str) -> None:
    # 260 such judgements left cid.printo `indeterminate` with its values recorded; 62
    # ended the run with error 303 and a traceback. Both passed the rule checks.
    path = many_rules(tmp_path, count, kind)

    result = CliRunner().invoke(app, ["rules", "check", str(path)])

    assert result.exit_code == 2
    [line] = [line for line in result.stdout.splitlines() if "[engine-limit]" in line]
    # The 61st visit rule of the run: the file's own 61st (the installed packs follow).
    assert line.startswith(f"{path}:{8 + (7 if kind == 'alert' else 6) * 60}: error: ")
    assert "durable_rules can match at most 64 rules on one visit fact" in line


def _evaluator_without_checks(path: Path) -> Evaluator:
    from jdm_cds.language.compiler import compile_packs

    pack, found = read_pack(path)
    assert pack is not None and found == []
    return Evaluator(compile_packs([pack]))


def test_an_engine_error_fails_that_patient_only(tmp_path: Path) -> None:
    # The same rules, compiled without the checks: error 303 is that patient's failure.
    from jdm_cds.runtime import RuleExecutionError

    path = write(tmp_path, "rules:\n" + "".join(f"""\
  - id: hostile.r{i}
    title: rule {i}
    kind: alert
    scope: visit
    when: {{field: ck_u_l, gte: {i}}}
    alert: {{summary: CK}}
    references: [printo]
""" for i in range(70)))
    evaluator = _evaluator_without_checks(path)
    day = dt.date(2022, 1, 1)

    with pytest.raises(RuleExecutionError, match=r"error code: 303: more rules match one fact"):
        evaluator.evaluate(Patient(id="a", visits=(Visit(date=day, ck_u_l=500.0),)))
    after = evaluator.evaluate(Patient(id="b", visits=(Visit(date=day, cmas=50.0),)))

    assert after.alerts == []


def test_a_judgement_that_fired_no_path_is_an_error_not_indeterminate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jdm_cds.language.compiler import RuleBase
    from jdm_cds.runtime import RuleExecutionError

    path = write(tmp_path, """\
rules:
  - id: hostile.ck
    title: CK
    scope: visit
    when: {field: ck_u_l, lte: 150}
    references: [printo]
""")
    original = RuleBase.durable_ruleset

    def dropping(self: RuleBase) -> Any:  # the engine's firings lose one judgement's status
        definitions, actions = original(self)
        for name, action in actions.items():
            if action is not None and action[0] == "hostile.ck":
                actions[name] = ("hostile.ck", "reason:0", action[2])
        return definitions, actions

    monkeypatch.setattr(RuleBase, "durable_ruleset", dropping)
    evaluator = Evaluator(load_rulebase([(path, None)]))
    patient = Patient(id="a", visits=(Visit(date=dt.date(2022, 1, 1), ck_u_l=90.0),))

    for _ in range(2):  # and the next evaluation is not confused by the failed one
        with pytest.raises(RuleExecutionError, match=r"judgement .hostile\.ck. fired 0 times"):
            evaluator.evaluate(patient)


@pytest.mark.parametrize(("when", "verdict"), [
    ("{field: ck_u_l, lt: 0}", "can never hold"),
    ("{field: cmas, gt: 52}", "can never hold"),
    ("{all: [{field: mmt8, lt: 10}, {not: {field: mmt8, lt: 10}}]}", "can never hold"),
    ("{all: [{field: cmas, lt: 10}, {field: cmas, gt: 20}]}", "can never hold"),
    ("{field: cmas, lte: 52}", "always holds when its values are recorded"),
    ("{any: [{field: chaq, lt: 1}, {field: chaq, gte: 1}]}",
     "always holds when its values are recorded"),
])
def test_a_condition_that_cannot_vary_is_flagged(tmp_path: Path, when: str,
                                                 verdict: str) -> None:
    path = write(tmp_path, f"""\
rules:
  - id: hostile.constant
    title: constant
    scope: visit
    when: {when}
    references: [printo]
""")

    _, found = read_packs([(path, None)])

    [warning] = [d for d in found if d.code == "constant-condition"]
    assert warning.severity is Severity.WARNING
    assert (warning.mark.line, verdict) == (11, verdict) and verdict in warning.message
    assert not [d for d in found if d.severity is Severity.ERROR]


@pytest.mark.parametrize("when", ["{field: cmas, lt: 52}", "{field: ck_u_l, gt: 0}",
                                  "{field: weight_kg, lte: 199}"])
def test_a_condition_that_can_vary_is_not_flagged(tmp_path: Path, when: str) -> None:
    path = write(tmp_path, f"""\
rules:
  - id: hostile.variable
    title: variable
    scope: visit
    when: {when}
    references: [printo]
""")

    _, found = read_packs([(path, None)])

    assert [d for d in found if d.code == "constant-condition"] == []
