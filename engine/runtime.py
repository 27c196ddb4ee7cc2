"""Run compiled rules in durable_rules: each evaluation in a session emptied afterwards.

The runtime drives the C core of durable_rules (``durable_rules_engine``) directly: it
asserts facts, then takes the rules that fired one by one and records them. The Python
host of durable_rules would build a closure, and encode and decode the session state,
for every fired rule: a third of an evaluation's time, for features we do not use.

Each pitfall of durable_rules 2.0.28 is handled here, in one place:
- a catch-all rule (compiler) so no fact is unhandled: an unhandled message raises, and
  deleting its session crashes the process;
- a ruleset holds at most 1,024 live sessions, and creating one costs about as much as
  the rest of the engine's work for an evaluation (its state has frames for every rule):
  a session whose evaluation ended cleanly has its facts retracted and is reused by the
  next evaluation; a session whose evaluation failed is deleted in ``finally``;
- durable_rules' Python host swallows an exception raised in an action; here the actions
  are ours and run in our loop, so a failure is raised as ``RuleExecutionError`` (after
  the action is abandoned, so that the session can be deleted);
- facts are built from validated models with absent values dropped (``None`` matches
  neither ``$ex`` nor ``$nex``), and every fact carries an identity (``kind`` plus
  ``visit``) because identical facts raise;
- a number written with an exponent kills the process, so none is sent (``to_json``).
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any

import durable_rules_engine as core
import orjson

from jdm_cds.language.compiler import RULESET, RuleBase, judge_key
from jdm_cds.language.rule_types import STATUSES

# Results of the core's assert calls, as durable/engine.py (Ruleset._handle_result) reads
# them: 1 not handled, 2 already observed, 3 nothing to act on (state 0); else the state.
_NOT_HANDLED, _OBSERVED, _NO_STATE = 1, 2, 3


def to_json(value: Any) -> str:
    """JSON text for durable_rules, every number written out in full: durable_rules
    2.0.28 cannot read a number with an exponent (1e+16, 5e-07), and the process dies."""
    # orjson: every evaluation encodes its facts twice (assert, retract), and the standard
    # library's encoder took a twentieth of an evaluation doing it.
    text = orjson.dumps(value)
    # orjson writes an exponent with its sign (1e+16, 5e-7), and only for values from 1e16
    # up or below 1e-6; a key or text holding "e+" or "e-" only costs the slower encoding.
    if b"e+" in text or b"e-" in text:
        text = orjson.dumps(_in_full(value))
    if b":null" in text:  # how orjson writes infinity and NaN; facts hold no None
        raise RuleExecutionError("a value that is not a finite number would reach the engine")
    return text.decode()


def _in_full(value: Any) -> Any:
    """``value`` with each float that JSON would write with an exponent spelt out."""
    if isinstance(value, float):
        digits = format(Decimal(repr(value)), "f")  # the shortest repr, exactly
        return orjson.Fragment(digits if "." in digits else f"{digits}.0")
    if isinstance(value, dict):
        return {key: _in_full(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_in_full(item) for item in value]
    return value


class _Scope:
    """``with runtime.session() as session``: one thread's session at a time, emptied for
    reuse when the block ends cleanly, deleted otherwise (a class, not a generator: this
    runs once per evaluation)."""

    __slots__ = ("_runtime", "_session")

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def __enter__(self) -> Session:
        runtime = self._runtime
        runtime._one_at_a_time.acquire()
        try:
            self._session = runtime._open()
        except BaseException:
            runtime._one_at_a_time.release()
            raise
        return self._session

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self._runtime._close(self._session, clean=kind is None)
        finally:
            self._runtime._one_at_a_time.release()


class RuleExecutionError(Exception):
    """A rule action failed inside the engine; the evaluation cannot be trusted."""


@dataclass
class Outcomes:
    """What fired in one session: ``(rule id, visit) -> [(result, path index)]``.

    ``visit`` is the visit index for visit facts and ``None`` for the patient fact; a
    result is a status, or ``reason:N`` for a rule's N-th reason.
    """

    fired: dict[tuple[str, int | None], list[tuple[str, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    facts: dict[str, list[int | None]] = field(default_factory=lambda: defaultdict(list))
    # The status each rule proved on each fact, and the path that proved it (reasons aside).
    decided: dict[tuple[str, int | None], tuple[str, int]] = field(default_factory=dict)
    # Facts on which a rule proved more than one status: a compiler error, never hidden.
    conflicts: set[tuple[str, int | None]] = field(default_factory=set)

    def record(self, rule_id: str, result: str, path: int, visit: int | None) -> None:
        key = (rule_id, visit)
        fired = self.fired[key]
        if not fired:
            self.facts[rule_id].append(visit)
        fired.append((result, path))
        if not result.startswith("reason:"):
            if key in self.decided:
                self.conflicts.add(key)
            self.decided[key] = (result, path)

    def of(self, rule_id: str, visit: int | None) -> list[tuple[str, int]]:
        return self.fired.get((rule_id, visit), [])

    def visits_of(self, rule_id: str) -> list[int | None]:
        """The facts (visit index, or None for the patient) on which the rule fired."""
        return self.facts.get(rule_id, [])


class Runtime:
    """One compiled rule base loaded into durable_rules, shared by the threads of a process.

    Its sessions are opened one at a time (a thread waits for the session of another to
    end): the GIL serialises durable_rules' C calls anyway, and one engine per process keeps
    memory flat however many threads come and go.
    """

    def __init__(self, rulebase: RuleBase) -> None:
        self.rulebase = rulebase
        definitions, actions = rulebase.durable_ruleset()
        # Each durable rule: what it records, and whether its facts are visit facts (whose
        # index the fact's reserved key "visit" holds; the patient fact has none).
        # A judgement's status is one of the four (what validating each judgement checked):
        # the compiler's results, checked once here rather than in every evaluation.
        wrong = sorted({str(action[1]) for action in actions.values() if action is not None
                        and action[1] not in STATUSES and not action[1].startswith("reason:")})
        if wrong:
            raise RuleExecutionError(f"the compiled rules give results that are not statuses: "
                                     f"{wrong}")
        self._actions = {name: None if action is None else
                         (action, rulebase.rules[action[0]].rule.scope == "visit")
                         for name, action in actions.items()}
        try:
            self._handle = core.create_ruleset(RULESET, to_json(definitions))
        except core.error as error:
            # The engine's own limits on a ruleset (rules sharing a test, tests under one
            # node); the rule checks bound what one fact may match, not every such limit.
            raise RuleExecutionError(f"durable_rules refused the rule base: {error} (too "
                                     "many rules share one test: split the pack)") from error
        # What each judged fact must fire (compiler: exactly one path per judgement): the
        # patient fact every patient judgement, a visit fact each judgement it is asked.
        self._patient_judgements = tuple(rulebase.judgements("patient"))
        self._visit_judgements = tuple((judge_key(rule), rule)
                                       for rule in rulebase.judgements("visit"))
        self._live: dict[str, Outcomes] = {}
        self._idle: list[str] = []  # sessions emptied by their last evaluation
        self._ids = itertools.count()
        self._one_at_a_time = threading.RLock()  # reentrant: one thread may nest sessions

    def _record(self, sid: str, rule_id: str, result: str, path: int, visit: int | None
                ) -> None:
        self._live[sid].record(rule_id, result, path, visit)

    def _run_actions(self, session: Session, state: int) -> None:
        """Record every rule the last assertion fired, in the order the engine gives them."""
        started = core.start_action_for_state(self._handle, state)
        message = started[1] if started else None
        visits = session.visit_of_text
        while message:
            # The core writes {"<rule name>":{"m":<fact>}}; rule names hold no quote (rule
            # ids are plain characters, the loader checks). Only a visit fact is decoded,
            # for its index, read from its key and not from the text: decoded once per
            # text, since every rule that fires on one fact repeats the same fact text.
            end = message.index('"', 2)
            name = message[2:end]
            recorded = self._actions[name]
            if recorded is not None:
                action, per_visit = recorded
                try:
                    visit = None
                    if per_visit:
                        text = message[end:]
                        visit = visits.get(text)
                        if visit is None:
                            visit = visits[text] = orjson.loads(message)[name]["m"]["visit"]
                    self._record(session.sid, *action, visit)
                except Exception as error:
                    core.abandon_action(self._handle, state)
                    raise RuleExecutionError(f"rule {name} failed: {error}") from error
            message = core.complete_and_start_action(self._handle, state)

    def replay(self, batches: Sequence[list[dict[str, Any]]]) -> None:
        """The engine alone, the floor an evaluation's cost is measured against (make
        bench): the facts of each call, asserted again call by call into this rule base (a
        session of its own), every firing taken and none recorded, then retracted."""
        with self._one_at_a_time:
            sent: list[dict[str, Any]] = []
            for facts in batches:
                batch = [{**fact, "sid": "floor"} for fact in facts]
                sent += batch
                result = core.assert_facts(self._handle, to_json(batch))
                state = 0 if result[0] == _NO_STATE else result[1]
                started = core.start_action_for_state(self._handle, state)
                message = started[1] if started else None
                while message:
                    message = core.complete_and_start_action(self._handle, state)
            if sent:
                core.retract_facts(self._handle, to_json(sent))

    def session(self) -> _Scope:
        """A new session, for a ``with`` block: emptied (or deleted) when the block ends."""
        return _Scope(self)

    def _open(self) -> Session:
        # A reused session has state in durable_rules (emptied, but there to delete).
        reused = bool(self._idle)
        sid = self._idle.pop() if reused else str(next(self._ids))
        outcomes = self._live[sid] = Outcomes()
        return Session(self, sid, outcomes, stored=reused)

    def _close(self, session: Session, clean: bool) -> None:
        """End a session: kept for reuse when its block ended cleanly (``clean``) and its
        facts were retracted, else deleted from durable_rules if it has state there."""
        reusable = False
        try:
            reusable = clean and not session.failed and self._empty(session)
        finally:
            session.closed = True
            del self._live[session.sid]
            if reusable:
                self._idle.append(session.sid)
            elif session.stored:
                core.delete_state(self._handle, session.sid)

    def _empty(self, session: Session) -> bool:
        """Retract what the session asserted; True when that left its state as new."""
        if not session.asserted:
            return session.stored  # a session with no state yet is simply not kept
        # The texts sent on assertion, joined into one array: nothing is encoded again.
        texts = session.asserted
        result = core.retract_facts(self._handle, texts[0] if len(texts) == 1 else
                                    "[" + ",".join(text[1:-1] for text in texts) + "]")
        # Rules match single facts, so a retraction fires nothing; if it ever did, the
        # state is not trusted again.
        return result[0] == 0 and not core.start_action_for_state(self._handle, result[1])


@dataclass
class Session:
    runtime: Runtime
    sid: str
    outcomes: Outcomes
    # durable_rules has state for a session once it has handled a fact (a reused session
    # has it from before): deleting a session with none raises (and one whose only fact
    # went unhandled crashes), and a session with state is counted until deleted.
    stored: bool = False
    # The JSON text of each assertion (arrays of facts with the session id), to retract
    # them when the session ends.
    asserted: list[str] = field(default_factory=list)
    # The visit index of each visit fact, by the text the engine gives it back in.
    visit_of_text: dict[str, int] = field(default_factory=dict)
    # (kind, visit) of every fact asserted: durable_rules raises on a fact seen before.
    identities: set[tuple[Any, Any]] = field(default_factory=set)
    # An assertion failed part-way (the engine may hold some of it): never reused.
    failed: bool = False
    closed: bool = False  # the session has ended: its id may be another evaluation's now

    def assert_facts(self, facts: list[dict[str, Any]], keys: frozenset[str] | None = None
                     ) -> None:
        """Assert facts; every rule they satisfy is recorded before this returns. With
        ``keys``, only those keys of each fact are sent (the rest stays out of the engine:
        durable_rules encodes the whole fact into every firing it reports); they must hold
        ``kind``, ``visit``, and every key a firing is checked by (``judge:<rule>``)."""
        if self.closed:
            raise RuntimeError("facts asserted into a session that has ended")
        if not facts:
            return
        # Checked before the engine sees them: a fact it rejects still leaves state behind
        # in a new session, which can then be neither reused nor deleted.
        identities = {(fact.get("kind"), fact.get("visit")) for fact in facts}
        if (len(identities) < len(facts) or not identities.isdisjoint(self.identities)
                or any(not isinstance(kind, str) for kind, _ in identities)):
            raise RuleExecutionError("each fact needs a kind, and no two facts of a session "
                                     "the same kind and visit")
        self.identities |= identities
        runtime = self.runtime
        sid = self.sid
        if keys is None:
            sent_facts = [{**fact, "sid": sid} for fact in facts]
        else:  # one copy of each fact: its keys sent, then the session's id
            sent_facts = [{key: value for key, value in fact.items() if key in keys}
                          for fact in facts]
            for fact in sent_facts:
                fact["sid"] = sid
        sent = to_json(sent_facts)
        try:
            result = core.assert_facts(runtime._handle, sent)
            if result[0] == _NOT_HANDLED:
                raise RuleExecutionError(
                    "a fact matched no rule (the catch-all rule is missing)")
            if result[0] == _OBSERVED:
                raise RuleExecutionError("a fact identical to one already asserted")
            self.stored = True
            self.asserted.append(sent)
            runtime._run_actions(self, 0 if result[0] == _NO_STATE else result[1])
            self._check_firings(facts)
        except core.error as error:
            self.failed = True
            raise RuleExecutionError(_engine_error(error)) from error
        except BaseException:
            self.failed = True
            raise

    def _check_firings(self, facts: list[dict[str, Any]]) -> None:
        """Each judged fact fired exactly one path of each judgement asked of it.

        A fact on which no path fired (or several did) has no status: the engine dropped
        or repeated a match. The evaluation fails rather than report a status it did not
        prove.
        """
        runtime, outcomes = self.runtime, self.outcomes
        # Outcomes.record keeps each (rule, fact) proved once in ``decided`` and one proved
        # again in ``conflicts``: exactly once is in the first and not in the second.
        decided, conflicts = outcomes.decided, outcomes.conflicts
        for fact in facts:
            if fact["kind"] == "patient":
                visit, asked = None, runtime._patient_judgements
            else:
                visit = fact.get("visit")
                asked = tuple(rule for key, rule in runtime._visit_judgements if key in fact)
            for rule in asked:
                if (rule, visit) not in decided or (rule, visit) in conflicts:
                    fired = [result for result, _ in outcomes.of(rule, visit)
                             if not result.startswith("reason:")]
                    where = "the patient" if visit is None else f"visit {visit}"
                    raise RuleExecutionError(
                        f"internal error: judgement '{rule}' fired {len(fired)} times on "
                        f"{where}, where its rules fire exactly once: no status is given")


# durable_rules 2.0.28 error codes met on assertion (src/rules/rules.h).
_ENGINE_ERRORS = {
    303: "more rules match one fact than durable_rules can follow (its stack holds 64)",
}


def _engine_error(error: Exception) -> str:
    text = str(error)
    code = text.rsplit(" ", 1)[-1]
    known = _ENGINE_ERRORS.get(int(code)) if code.isdigit() else None
    return f"durable_rules failed: {text}" + (f": {known}" if known else "")
