"""One regression test per pitfall of durable_rules 2.0.28 (see the field notes), each run
against our runtime (engine/runtime.py) and compiler (engine/language/compiler.py)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import durable_rules_engine as core
import pytest
from pydantic import ValidationError

import jdm_cds
from jdm_cds.evaluate import Evaluator
from jdm_cds.facts.builder import Fact
from jdm_cds.language.compiler import RuleBase
from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
from jdm_cds.model.patient import Patient, Visit
from jdm_cds.model.reading import PatientFileError, validate_patient
from jdm_cds.runtime import RuleExecutionError, Runtime, Session, to_json

ROOT = Path(__file__).parent.parent
DAY = dt.date(2022, 5, 1)
INACTIVE = {"ck_u_l": 90.0, "cmas": 50.0, "mmt8": 79.0, "physician_global_vas": 0.1,
            "das_skin": 0.0}

TINY_PACK = """\
pack:
  id: tiny
  version: 0.0.1
  title: One judgement on CK
  references:
    printo: {citation: "Lazarevic D et al. Ann Rheum Dis 2013;72:686-93."}
rules:
  - id: tiny.ck_normal
    title: CK normal
    scope: visit
    when: {field: ck_u_l, lte: LIMIT}
    references: [printo]
"""


def tiny_rulebase(tmp_path: Path, limit: int = 150) -> RuleBase:
    path = tmp_path / f"tiny_{limit}.yaml"
    path.write_text(TINY_PACK.replace("LIMIT", str(limit)))
    return load_rulebase([(path, None)])


def patient(*visits: dict[str, Any]) -> Patient:
    return Patient(id="p", visits=tuple(
        Visit(date=DAY + dt.timedelta(days=30 * i), **values) for i, values in enumerate(visits)))


@pytest.fixture(scope="module")
def cid() -> Evaluator:
    return Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))


@pytest.fixture
def asserted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[Fact]]]:
    """Every batch of facts that sessions assert into the engine, as asserted."""
    batches: list[list[Fact]] = []
    original = Session.assert_facts

    def spy(self: Session, facts: list[Fact], keys: frozenset[str] | None = None) -> None:
        batches.append([{key: value for key, value in fact.items()
                         if keys is None or key in keys} for fact in facts])
        original(self, facts, keys)

    monkeypatch.setattr(Session, "assert_facts", spy)
    yield batches


def judge_ck(runtime: Runtime, ck: float) -> str:
    """Status of tiny.ck_normal for one judged visit fact asserted straight into a session."""
    with runtime.session() as session:
        session.assert_facts([{"kind": "visit", "visit": 0, "ck_u_l": ck,
                               "judge:tiny.ck_normal": True, "judged": True}])
        [(result, _)] = session.outcomes.of("tiny.ck_normal", 0)
    return result


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter: a crash or a hang fails the test, not pytest."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


# 1. Events are consumed by one rule: patient data go in as facts, which every rule sees.


def test_one_fact_is_seen_by_every_rule_it_matches(cid: Evaluator) -> None:
    judgements = cid.evaluate(patient(INACTIVE)).judgements

    assert {key: j.status for key, j in judgements.items()} == {
        "cid.printo": "met", "cid.p_cid": "met", "cid.printo_skin": "met"}


# 2 and 3. An unmatched fact raises; deleting a session whose only fact was unmatched
# kills the process. Run in a subprocess so that a segmentation fault fails this test.


def test_unmatched_facts_neither_raise_nor_crash_when_their_session_is_deleted() -> None:
    done = run_python("""
        from jdm_cds.language.rulebase import RULES_DIR, load_rulebase
        from jdm_cds.runtime import Runtime

        runtime = Runtime(load_rulebase([(RULES_DIR / "cid.yaml", None)]))
        unmatched = [
            {"kind": "visit", "visit": 0},                  # a visit no judgement asks for
            {"kind": "visit", "visit": 1, "ck_u_l": 90.0},
            {"kind": "patient"},
            {"kind": "something else", "x": 1},
        ]
        for round in range(500):
            for fact in unmatched:
                with runtime.session() as session:
                    session.assert_facts([fact])
                    assert not session.outcomes.fired, session.outcomes.fired
        print("done", round + 1)
    """)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done 500"


def test_earlier_visits_that_no_rule_judges_are_handled(cid: Evaluator) -> None:
    visits = [{"ck_u_l": 900.0}, {}, {"cmas": 20.0}, INACTIVE]

    for _ in range(3):
        assert cid.evaluate(patient(*visits)).judgements["cid.printo"].status == "met"


# 4. At most 1,024 live sessions per ruleset: an evaluation empties its session for the next
# one, or deletes it when the evaluation failed.


def test_more_than_1024_evaluations_in_one_process(cid: Evaluator) -> None:
    active = patient({"ck_u_l": 900.0, "cmas": 20.0, "mmt8": 50.0})
    inactive = patient(INACTIVE)

    statuses = [cid.evaluate(p).judgements["cid.printo"].status
                for _ in range(750) for p in (active, inactive)]

    assert statuses == ["not_met", "met"] * 750
    assert cid.runtime._live == {}


def test_a_failure_deletes_a_reused_session(tmp_path: Path) -> None:
    """An evaluation that fails before asserting anything in a reused session still has
    that session's state to delete: otherwise every such failure would keep one."""
    runtime = Runtime(tiny_rulebase(tmp_path))

    for _ in range(1_100):  # each round leaves one session behind if failures keep them
        assert judge_ck(runtime, 100) == "met"
        with pytest.raises(KeyError, match="failure"), runtime.session():
            raise KeyError("failure before any fact")

    assert runtime._live == {}
    assert runtime._idle == []
    assert judge_ck(runtime, 200) == "not_met"


def test_a_session_that_asserted_nothing_is_not_kept() -> None:
    """It has no state in durable_rules: kept, it would later be deleted as if it had one
    (an error), or take an unhandled fact and crash the process when deleted."""
    done = run_python("""
        import tempfile
        from pathlib import Path
        from jdm_cds.runtime import RuleExecutionError, Runtime
        from tests.test_durable_pitfalls import judge_ck, tiny_rulebase

        runtime = Runtime(tiny_rulebase(Path(tempfile.mkdtemp())))
        with runtime.session():
            pass
        assert runtime._idle == [], runtime._idle
        try:
            with runtime.session() as session:  # judged, but no judgement asked for
                session.assert_facts([{"kind": "visit", "visit": 0, "judged": True}])
        except RuleExecutionError as error:
            print("raised:", error)
        try:
            with runtime.session():
                raise KeyError("failure before any fact")
        except KeyError as error:
            print("raised:", error)
        print(judge_ck(runtime, 100))
    """)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "raised: a fact matched no rule (the catch-all rule is missing)",
        "raised: 'failure before any fact'", "met"]


def test_a_session_whose_assertion_failed_is_not_reused(tmp_path: Path) -> None:
    """Even when the caller goes on after the error, the engine may hold part of it: the
    session is deleted, however many times that happens."""
    runtime = Runtime(tiny_rulebase(tmp_path))
    fact = {"kind": "visit", "visit": 0, "ck_u_l": 100.0, "judge:tiny.ck_normal": True,
            "judged": True}

    for _ in range(1_100):
        with runtime.session() as session:
            session.assert_facts([fact])
            with pytest.raises(RuleExecutionError, match="matched no rule"):
                session.assert_facts([{"kind": "visit", "visit": 1, "judged": True}])
        assert runtime._idle == []

    with runtime.session() as session:
        session.assert_facts([{**fact, "ck_u_l": 200.0}])
        assert dict(session.outcomes.fired) == {("tiny.ck_normal", 0): [("not_met", 1)]}


def test_facts_without_an_identity_are_refused_before_the_engine(tmp_path: Path) -> None:
    """A fact the engine would reject leaves state behind in a new session that can be
    neither reused nor deleted: such facts never reach it."""
    runtime = Runtime(tiny_rulebase(tmp_path))
    fact = {"kind": "visit", "visit": 0, "ck_u_l": 100.0, "judge:tiny.ck_normal": True,
            "judged": True}

    for batch in ([fact, fact], [{"visit": 0, "ck_u_l": 1.0}]):
        with runtime.session() as session, pytest.raises(RuleExecutionError, match="kind"):
            session.assert_facts(batch)
    with runtime.session() as session:
        session.assert_facts([fact])
        with pytest.raises(RuleExecutionError, match="same kind and visit"):
            session.assert_facts([{**fact, "ck_u_l": 90.0}])

    assert runtime._live == {}
    assert judge_ck(runtime, 100) == "met"


def test_a_session_takes_no_facts_once_it_has_ended(tmp_path: Path) -> None:
    runtime = Runtime(tiny_rulebase(tmp_path))
    assert judge_ck(runtime, 100) == "met"
    with runtime.session() as ended:
        pass

    with pytest.raises(RuntimeError, match="ended"):
        ended.assert_facts([{"kind": "visit", "visit": 0, "ck_u_l": 100.0}])
    [sid] = runtime._idle
    assert json.loads(core.get_facts(runtime._handle, sid)) == []


def test_a_reused_session_starts_empty(cid: Evaluator) -> None:
    """Evaluations reuse one session, retracting their facts: nothing carries over."""
    active = patient({"ck_u_l": 900.0, "cmas": 20.0, "mmt8": 50.0}, {"cmas": 30.0})
    inactive = patient(INACTIVE)
    fresh = Evaluator(cid.rulebase)
    alone = fresh.evaluate(inactive)

    cid.evaluate(active)
    after_another = cid.evaluate(inactive)

    assert after_another == alone
    [sid] = cid.runtime._idle
    assert json.loads(core.get_facts(cid.runtime._handle, sid)) == []


def test_sessions_are_deleted_when_an_evaluation_fails(tmp_path: Path) -> None:
    runtime = Runtime(tiny_rulebase(tmp_path))
    fact = {"kind": "visit", "visit": 0, "ck_u_l": 100.0, "judge:tiny.ck_normal": True,
            "judged": True}

    for round in range(2_100):  # 1,050 of them with a fact: more than 1,024
        with pytest.raises(KeyError, match="failure inside a session"), \
                runtime.session() as session:
            if round % 2:  # half of them fail before any fact was asserted
                session.assert_facts([fact])
            raise KeyError("failure inside a session")

    assert runtime._live == {}
    assert judge_ck(runtime, 100) == "met"


# 5. An exception inside an action is swallowed by durable_rules and left in the state.


class _FailingRuntime(Runtime):
    """A runtime whose recorder, called from inside every durable action, can be broken."""

    broken = True

    def _record(self, *args: Any) -> None:
        if self.broken:
            raise ValueError("recorder broke")
        super()._record(*args)


def test_an_exception_in_an_action_is_a_reported_error(tmp_path: Path) -> None:
    runtime = _FailingRuntime(tiny_rulebase(tmp_path))

    with pytest.raises(RuleExecutionError, match="recorder broke"):
        judge_ck(runtime, 100)

    assert runtime._live == {}
    runtime.broken = False
    assert judge_ck(runtime, 100) == "met"


def test_an_evaluation_whose_action_fails_raises_rather_than_judging(tmp_path: Path) -> None:
    evaluator = Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))
    evaluator.runtime = _FailingRuntime(evaluator.rulebase)

    with pytest.raises(RuleExecutionError, match="recorder broke"):
        evaluator.evaluate(patient(INACTIVE))


# 6. Identical facts raise: every fact carries its identity.


def test_facts_of_one_session_are_never_identical(cid: Evaluator,
                                                  asserted: list[list[Fact]]) -> None:
    same = {"ck_u_l": 100.0, "cmas": 50.0}

    cid.evaluate(patient(same, same, same, same))

    facts = [fact for batch in asserted for fact in batch]
    assert facts
    assert len({repr(sorted(fact.items())) for fact in facts}) == len(facts)
    visits = [fact["visit"] for fact in facts if fact["kind"] == "visit"]
    assert len(set(visits)) == len(visits)


# 7. Loose typing: "100" matched $lte 150. Models validate types before facts exist.


@pytest.mark.parametrize("value", ["100", "150", True, [100]])
def test_a_ck_that_is_not_a_number_never_reaches_the_engine(value: object) -> None:
    with pytest.raises(ValidationError):
        Visit(date=DAY, ck_u_l=value)
    with pytest.raises(PatientFileError) as caught:
        validate_patient({"id": "p", "visits": [{"date": "2022-05-01", "ck_u_l": value}]},
                         "p.yaml")

    assert [p.field for p in caught.value.problems] == ["visits[0].ck_u_l"]


def test_measures_reach_the_engine_as_numbers(cid: Evaluator,
                                              asserted: list[list[Fact]]) -> None:
    cid.evaluate(patient({"ck_u_l": 100, "cmas": 50, "mmt8": 79.5}))

    [visit] = [f for batch in asserted for f in batch if f["kind"] == "visit"]
    for name in ("ck_u_l", "cmas", "mmt8"):
        assert type(visit[name]) in (int, float), (name, visit[name])


# 8. None is neither present nor absent: a missing value is left out of the fact.


def test_facts_never_carry_none(cid: Evaluator, asserted: list[list[Fact]]) -> None:
    cid.evaluate(patient({"ck_u_l": 100.0}, {"cmas": 50.0, "mmt8": 79.0},
                         {"ck_u_l": 120.0, "cmas": 50.0, "mmt8": 79.0}))

    facts = [fact for batch in asserted for fact in batch]
    assert facts
    for fact in facts:
        assert None not in fact.values(), fact
    [evaluation] = [f for f in facts if f["kind"] == "visit" and f["visit"] == 2]
    assert "physician_global_vas" not in evaluation


def test_a_missing_value_is_unknown_not_silent(cid: Evaluator) -> None:
    # Three met and the physician global absent: only an absent key (not None) lets the
    # rule see "unknown" and still decide.
    values = {k: v for k, v in INACTIVE.items() if k != "physician_global_vas"}

    judgement = cid.evaluate(patient(values)).judgements["cid.printo"]

    assert judgement.status == "met"
    [pg] = [c for c in judgement.because["criteria"]
            if c["criterion"] == "physician_global_inactive"]
    assert pg["value"] is None


# 9. Ruleset names are per Host: two runtimes with the same ruleset name stay apart.


def test_two_runtimes_in_one_process_stay_independent(tmp_path: Path) -> None:
    strict = Runtime(tiny_rulebase(tmp_path, limit=100))
    loose = Runtime(tiny_rulebase(tmp_path, limit=150))

    with strict.session() as first, loose.session() as second:
        assert first.sid == second.sid  # same session id, different hosts
        fact = {"kind": "visit", "visit": 0, "ck_u_l": 120.0, "judge:tiny.ck_normal": True,
                "judged": True}
        first.assert_facts([fact])
        second.assert_facts([fact])
        assert [r for r, _ in first.outcomes.of("tiny.ck_normal", 0)] == ["not_met"]
        assert [r for r, _ in second.outcomes.of("tiny.ck_normal", 0)] == ["met"]

    assert (judge_ck(strict, 120), judge_ck(loose, 120)) == ("not_met", "met")


# 10. Threads: durable_rules' C calls are serialised by the GIL; one Runtime serves every
# thread of the process, its sessions one at a time.


def test_a_runtime_serves_several_threads_one_session_at_a_time(tmp_path: Path) -> None:
    runtime = Runtime(tiny_rulebase(tmp_path))
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def use(index: int) -> None:
        try:
            results[index] = [judge_ck(runtime, ck) for ck in (100, 200) * 25]
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=use, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert all(found == ["met", "not_met"] * 25 for found in results.values())
    assert len(results) == 4
    assert runtime._live == {}
    assert len(runtime._idle) == 1  # one at a time: one session was enough for all


def test_the_public_api_works_from_several_threads() -> None:
    cases = [patient(INACTIVE), patient({"ck_u_l": 900.0, "cmas": 20.0, "mmt8": 50.0}),
             patient({"ck_u_l": 90.0})]
    expected = [jdm_cds.evaluate(p).judgements["cid.printo"].status for p in cases]
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = [jdm_cds.evaluate(p).judgements["cid.printo"].status
                              for _ in range(50) for p in cases]
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert expected == ["met", "not_met", "indeterminate"]
    assert all(statuses == expected * 50 for statuses in results.values())
    assert len(results) == 4


# 11. A number written with an exponent (1e+16, 5e-07) kills the process inside
# durable_rules' parser: every number is sent written out in full. In a subprocess, so
# that a crash fails this test rather than pytest.


@pytest.mark.parametrize("value", [1e16, 1e22, 5e-7, 1e-10, 5e-324, 1.7976931348623157e308,
                                   149.99999999999999, 150.0, 0.0001])
def test_numbers_are_sent_without_exponents(value: float) -> None:
    text = to_json([{"ck_u_l": value, "kind": "visit"}])

    assert re.search(r"[0-9][eE][-+]?[0-9]", text) is None
    assert json.loads(text) == [{"ck_u_l": value, "kind": "visit"}]


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_number_that_is_not_finite_is_an_error_not_a_null(value: float) -> None:
    with pytest.raises(RuleExecutionError, match="not a finite number"):
        to_json([{"kind": "visit", "visit": 0, "ck_u_l": value}])


def test_extreme_values_are_judged_not_fatal() -> None:
    done = run_python("""
        from jdm_cds.evaluate import Evaluator
        from jdm_cds.model.patient import Patient
        from jdm_cds.language.rulebase import RULES_DIR, load_rulebase

        evaluator = Evaluator(load_rulebase([(RULES_DIR / "cid.yaml", None)]))
        for ck in (1e16, 1e22, 1e-10, 5e-7):
            found = evaluator.evaluate(Patient.model_validate({"id": "p", "visits": [
                {"date": "2022-05-01", "ck_u_l": ck, "cmas": 50.0, "mmt8": 79.0,
                 "physician_global_vas": 5.0}]}))  # CK decides: 3 of 4 or 2 of 4
            print(ck, found.judgements["cid.printo"].status)
    """)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "1e+16 not_met", "1e+22 not_met", "1e-10 met", "5e-07 met"]
