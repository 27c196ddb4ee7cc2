"""Run compiled rules in durable_rules: one session per evaluation.

Each pitfall of durable_rules 2.0.28 is handled here, in one place:
- a catch-all rule (compiler) so no fact is unhandled: an unhandled message raises, and
  deleting its session crashes the process;
- the session is deleted in ``finally``: a ruleset holds at most 1,024 live sessions;
- an exception inside an action is swallowed by durable_rules and left in the session
  state; it is read back after every assertion and raised as ``RuleExecutionError``;
- facts are built from validated models with absent values dropped (``None`` matches
  neither ``$ex`` nor ``$nex``), and every fact carries an identity (``kind`` plus
  ``visit``) because identical facts raise.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from durable import engine as durable_engine

from engine.compiler import RULESET, RuleBase


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

    def record(self, rule_id: str, result: str, path: int, visit: int | None) -> None:
        self.fired[(rule_id, visit)].append((result, path))

    def of(self, rule_id: str, visit: int | None) -> list[tuple[str, int]]:
        return self.fired.get((rule_id, visit), [])


class Runtime:
    """A durable_rules host loaded with one rule base. Not shared between threads."""

    def __init__(self, rulebase: RuleBase) -> None:
        self.rulebase = rulebase
        self._host = durable_engine.Host()
        self._live: dict[str, Outcomes] = {}
        self._ids = itertools.count()
        self._owner = threading.get_ident()
        self._host.set_rulesets(rulebase.durable_rulesets(self._record))

    def _record(self, sid: str, rule_id: str, result: str, path: int, visit: int | None
                ) -> None:
        self._live[sid].record(rule_id, result, path, visit)

    @contextmanager
    def session(self) -> Iterator[Session]:
        if threading.get_ident() != self._owner:
            raise RuntimeError("a Runtime is used by the thread that created it only")
        sid = str(next(self._ids))
        outcomes = Outcomes()
        self._live[sid] = outcomes
        session = Session(self._host, sid, outcomes)
        try:
            yield session
        finally:
            del self._live[sid]
            if session.stored:
                self._host.delete_state(RULESET, sid)


@dataclass
class Session:
    _host: Any
    sid: str
    outcomes: Outcomes
    # durable_rules has state for a session only once it has handled a fact: deleting a
    # session with none raises (and one whose only fact went unhandled crashes).
    stored: bool = False

    def assert_facts(self, facts: list[dict[str, Any]]) -> None:
        """Assert facts; every rule they satisfy runs before this returns."""
        if not facts:
            return
        state = self._host.assert_facts(RULESET, [{**fact, "sid": self.sid} for fact in facts])
        self.stored = True
        if isinstance(state, dict) and "exception" in state:
            raise RuleExecutionError(_first_line(str(state["exception"])))


def _first_line(text: str) -> str:
    return text.split(", traceback")[0]
