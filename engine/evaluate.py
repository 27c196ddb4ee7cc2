"""Evaluate one patient: facts in, judgements with their reasons out.

The path of a patient: ``patient`` (validated model) -> ``facts`` (visit and patient
facts with derived values) -> ``runtime`` (durable_rules session) -> this module
(assessment) -> ``report`` (text or JSON).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, get_args

from jdm_cds.facts.builder import Fact, FactBuilder, Timeline, timeline
from jdm_cds.language.compiler import (
    LEAF_STATUS,
    CompiledRule,
    Outcome,
    RuleBase,
    judge_key,
    leaf_key,
    list_key,
)
from jdm_cds.language.dependencies import (
    describe,
    evaluation_status_fields,
    requirements,
)
from jdm_cds.language.relevance import Relevance
from jdm_cds.language.rule_types import STATUSES, Contains, Is, Scope, Status
from jdm_cds.model.assessment import (
    Alert,
    Assessment,
    Assumption,
    Dependency,
    GuidanceCard,
    Judgement,
    PluginError,
    Recommendation,
    Source,
    StaleData,
    built,
)
from jdm_cds.model.patient import Patient
from jdm_cds.runtime import Outcomes, RuleExecutionError, Runtime
from jdm_cds.would_decide import WouldDecideExplainer

# Guidance providers get the patient and the assessment so far, and return cards and
# errors (plugins are isolated: one failing plugin does not stop the evaluation).
Guidance = Callable[[Patient, Assessment], tuple[list[GuidanceCard], list[PluginError]]]

# The alert that marks data too old to describe the patient now (rules/safety.yaml).
STALE_DATA_RULE = "safety.stale_data"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def decision(outcomes: Outcomes, rule_id: str, visit: int | None) -> tuple[Status, int | None]:
    """The status a rule's paths proved on one fact, and the path that proved it.

    A judged fact fires exactly one path of each judgement; an alert or recommendation
    fires one path when it holds and none otherwise. No path: not judged here.
    """
    if (rule_id, visit) in outcomes.conflicts:
        raise RuleExecutionError(f"rule '{rule_id}' was proved more than once on one fact")
    proved = outcomes.decided.get((rule_id, visit))
    if proved is None:
        return "indeterminate", None
    result, path = proved
    return result, path  # type: ignore[return-value]


class Evaluator:
    """Evaluates patients against one compiled rule base (threads may share one: its
    durable_rules runtime runs one session at a time)."""

    def __init__(self, rulebase: RuleBase, guidance: Guidance | None = None) -> None:
        self.rulebase = rulebase
        self.runtime = Runtime(rulebase)
        self.guidance = guidance
        # Packs may declare the same value (the validators check the declarations agree):
        # compute it once.
        derived = list({d.name: d for pack in rulebase.packs for d in pack.derived}.values())
        visit_judgements = rulebase.judgements("visit")
        self._judge_keys = {rule: judge_key(rule) for rule in visit_judgements}
        self._facts = FactBuilder(derived, visit_judgements,
                                  bool(rulebase.judgements("patient")))
        self._would_decide = WouldDecideExplainer(rulebase)
        status_fields = evaluation_status_fields(rulebase.packs)
        self._explained = {rule_id: _Explained.of(c, status_fields)
                           for rule_id, c in rulebase.rules.items()}
        self._patient_rules = any(c.rule.scope == "patient" for c in rulebase.rules.values())
        # A visit that no judgement needs is asserted only if a per-visit alert could match
        # it (it holds a key such a rule needs): each asserted fact costs at least one firing.
        self._watch = rulebase.visit_watch()
        self._engine_keys = {scope: frozenset(rulebase.engine_keys(scope))
                             for scope in get_args(Scope)}

    def _watched(self, fact: Fact) -> bool:
        return self._watch is None or not self._watch.isdisjoint(fact)

    def visit_facts(self, patient: Patient, at: date | None = None) -> list[Fact]:
        """The facts of each visit on or before ``at``, with their derived values."""
        return self._facts.visits(timeline(patient, at), {})

    def evaluate(self, patient: Patient, at: date | None = None,
                 draft_orders: Iterable[str] = (), *, explain: bool = True) -> Assessment:
        """Judge ``patient`` at ``at``; ``draft_orders`` (drugs, procedures or vaccine
        classes of orders being signed, ``ORDER_ITEMS``) are what order-sign rules test.

        ``explain=False`` leaves out the working a reader needs and a table does not: each
        decided judgement's tests (``because.criteria``) and ``would_decide``. Statuses,
        values, the facts used, ``missing`` and ``reasons`` are the same either way.
        """
        tl = timeline(patient, at)
        details: dict[str, Any] = {}
        visits = self._facts.visits(tl, details)
        with self.runtime.session() as session:
            session.assert_facts([fact for fact in visits
                                  if fact.get("judged") or self._watched(fact)],
                                 self._engine_keys["visit"])
            # Only the pairs asked for: a judgement not asked for at a visit has no status.
            statuses = {(rule, fact["visit"]): decision(session.outcomes, rule, fact["visit"])[0]
                        for fact in visits if fact.get("judged")
                        for rule, key in self._judge_keys.items() if key in fact}
            patient_facts = self._facts.patient(tl, visits, statuses, details, draft_orders)
            if self._patient_rules:
                session.assert_facts([patient_facts], self._engine_keys["patient"])
            outcomes = session.outcomes
        assessment = _Builder(tl, visits, patient_facts, outcomes, details, self._explained,
                              self._would_decide if explain else None
                              ).build(self.rulebase.rules.values())
        if self.guidance is not None:
            cards, errors = self.guidance(patient, assessment)
            # Built here and shown to plugins only as a read-only copy, if at all: set in
            # place rather than copied.
            assessment.guidance, assessment.errors = cards, errors
        return assessment


@dataclass(frozen=True)
class _Test:
    """One test of a rule, as its explanation shows it."""

    field: str
    key: str  # the test as written, e.g. ``ck_u_l <= 150``
    criterion: str | None  # the named criterion it belongs to
    fact_key: str  # the fact key it reads (an item's own key for ``contains``)
    contains: bool
    status_test: bool


@dataclass(frozen=True)
class _Explained:
    """What a rule's explanation needs that does not change between evaluations."""

    tests: tuple[_Test, ...]
    relevance: Relevance  # which tests mattered on a fact
    named: tuple[str, ...]  # fields the rule tests, then the values it reports
    assumptions: list[Assumption]
    citations: list[Source]
    # The judgements a recommendation was written for, in words (None: none), and each with
    # the statuses it was written for, in order (made into new models for each evaluation:
    # models handed out are the caller's to change).
    because: str | None
    dependencies: tuple[tuple[str, tuple[Status, ...]], ...]
    # An alert's or recommendation's summary and detail split at their ``{name}``
    # placeholders (text, name, text, ..., text): filled without a pattern search.
    summary: tuple[str, ...]
    detail: tuple[str, ...]
    # What a judgement reads and shows that is the same in every evaluation: whether it
    # judges the evaluation visit (else the patient), the fields it tests, the values it
    # reports, and its entries that come from the rule and its pack alone.
    per_visit: bool
    fields: tuple[str, ...]
    report: tuple[str, ...]
    constant: Mapping[str, Any]
    # The working of each set of test outcomes met (see ``working``), and that of a rule not
    # judged (every test not_needed).
    _working: dict[tuple[Outcome, ...], _Working] = field(default_factory=dict, compare=False)

    def working(self, outcomes: tuple[Outcome, ...]) -> _Working:
        """What the explanation shows for these test outcomes, worked out once for each
        (a cohort meets few: the rows differ only in the values read from the fact)."""
        found = self._working.get(outcomes)
        if found is None:
            if len(self._working) >= _WORKING_CACHE:
                self._working.clear()
            selected, needed = self.relevance.explain(outcomes)
            found = self._working[outcomes] = _Working.of(self.tests, outcomes, selected,
                                                          needed)
        return found

    @property
    def unjudged(self) -> _Working:
        return _Working.of(self.tests, (), None, 0)

    @classmethod
    def of(cls, compiled: CompiledRule, status_fields: Mapping[str, str]) -> _Explained:
        pack, rule = compiled.pack, compiled.rule
        if rule.kind != "judgement" and not rule.references:  # the pack checks refuse it
            raise RuleExecutionError(f"rule '{rule.id}' cites no reference: an alert or "
                                     "recommendation shows at least one")
        required = requirements(rule, pack, status_fields)
        message = rule.message
        return cls(
            per_visit=rule.scope == "visit", fields=compiled.fields, report=rule.report,
            constant={"rule": rule.id, "version": pack.version, "pack": pack.id,
                      "title": rule.title, "plugin": pack.plugin},
            summary=() if message is None else tuple(_PLACEHOLDER.split(message.summary)),
            detail=() if message is None else tuple(_PLACEHOLDER.split(message.detail)),
            because=describe(required) or None,
            dependencies=tuple((name, tuple(sorted(allowed, key=STATUSES.index)))
                               for name, allowed in required.items()),
            tests=tuple(_Test(leaf.field, leaf_key(leaf),
                              compiled.leaf_criteria.get(leaf_key(leaf)),
                              list_key(leaf.field, leaf.item) if isinstance(leaf, Contains)
                              else leaf.field, isinstance(leaf, Contains), isinstance(leaf, Is))
                        for leaf in compiled.leaves),
            relevance=Relevance(compiled),
            named=tuple(dict.fromkeys((*compiled.fields, *rule.report))),
            assumptions=[Assumption(key=key, text=pack.assumptions[key].text)
                         for key in rule.assumptions],
            citations=[Source(label=pack.references[key].citation,
                              url=pack.references[key].url) for key in rule.references],
        )


_WORKING_CACHE = 4096  # sets of outcomes per rule kept (a rule has at most 3^tests of them)


@dataclass(frozen=True)
class _Working:
    """A judgement's tests as its explanation shows them for one set of test outcomes."""

    selected: int | None  # the path the outcomes select (None: no single one)
    # Each test's row but for the value read from the fact: (test as written, criterion,
    # fact key, whether it is a ``contains`` test, the status shown).
    rows: tuple[tuple[str, str | None, str, bool, str], ...]
    # The tests that mattered and are unknown: (field, fact key, whether it tests a status);
    # each goes to ``missing`` when its value is absent, else (a status) to the reasons.
    unknown: tuple[tuple[str, str, bool], ...]

    @classmethod
    def of(cls, tests: tuple[_Test, ...], outcomes: tuple[Outcome, ...], selected: int | None,
           needed: int) -> _Working:
        shown = [LEAF_STATUS[outcomes[index]] if needed >> index & 1 else "not_needed"
                 for index in range(len(tests))]
        return cls(selected=selected,
                   rows=tuple((test.key, test.criterion, test.fact_key, test.contains, status)
                              for test, status in zip(tests, shown, strict=True)),
                   unknown=tuple((test.field, test.fact_key, test.status_test)
                                 for index, test in enumerate(tests)
                                 if needed >> index & 1 and outcomes[index] == "U"))


class _Builder:
    """Reads what fired in a session back into judgements, alerts and recommendations."""

    def __init__(self, tl: Timeline, visits: list[Fact], patient: Fact, outcomes: Outcomes,
                 details: dict[str, Any], explained: dict[str, _Explained],
                 would_decide: WouldDecideExplainer | None) -> None:
        self.tl, self.visits, self.patient = tl, visits, patient
        self.outcomes, self.details, self.explained = outcomes, details, explained
        # With the working (explain): what would decide each open judgement.
        self.would_decide = would_decide
        self.explain = would_decide is not None

    def build(self, rules: Iterable[CompiledRule]) -> Assessment:
        judgements: dict[str, Judgement] = {}
        alerts: list[Alert] = []
        recommendations: list[Recommendation] = []
        for compiled in rules:
            kind = compiled.rule.kind
            if kind == "judgement":
                judgements[compiled.rule.id] = self.judgement(compiled)
            elif compiled.rule.id in self.outcomes.facts:  # it fired on some fact
                for visit, fact in self.firings(compiled):
                    if kind == "alert":
                        alerts.append(self.alert(compiled, visit, fact))
                    else:
                        recommendations.append(self.recommendation(compiled, fact))
        evaluation = self.tl.evaluation
        visit_date = None if evaluation is None else self.tl.visits[evaluation].date
        stale = next((self.stale(alert, visit_date) for alert in alerts
                      if alert.rule == STALE_DATA_RULE and visit_date is not None), None)
        if stale is not None:
            recommendations = [_aged(rec, stale) for rec in recommendations]
        # Every value is made here with its exact type: not validated again (``built``).
        return built(Assessment, {
            "patient_id": self.tl.patient.id,
            "evaluated_at": self.tl.at,
            "evaluation_visit": visit_date,
            "stale_data": stale,
            "judgements": judgements,
            "alerts": sorted(alerts, key=_alert_order),
            "recommendations": recommendations,
        })

    def stale(self, alert: Alert, visit_date: date) -> StaleData:
        """The stale-data warning the rule raised, with the gap in days."""
        days = (self.tl.at - visit_date).days
        return StaleData(days=days, evaluation_visit=visit_date, evaluated_at=self.tl.at,
                         message=f"{alert.summary}. {alert.detail}", rule=alert.rule,
                         version=alert.version, assumptions=alert.assumptions)

    def firings(self, compiled: CompiledRule) -> list[tuple[int | None, Fact]]:
        fired = self.outcomes.visits_of(compiled.rule.id)
        return [(visit, self.patient if visit is None else self.visits[visit])
                for visit in fired if decision(self.outcomes, compiled.rule.id, visit)[0] == "met"]

    def judgement(self, compiled: CompiledRule) -> Judgement:
        """The judgement of one rule."""
        rule_id = compiled.rule.id
        explained = self.explained[rule_id]
        if explained.per_visit:  # the evaluation visit's fact, if there is a visit
            visit = self.tl.evaluation
            fact = {} if visit is None else self.visits[visit]
        else:
            visit, fact = None, self.patient
        status, path = decision(self.outcomes, rule_id, visit)
        undecided = status == "indeterminate"
        because: dict[str, Any] = {
            "facts": {name: fact[name] for name in explained.fields if name in fact}}
        missing: list[str] = []
        open_statuses: list[str] = []
        outcomes: tuple[Outcome, ...] = ()  # each test's, read for the criteria when judged
        if self.explain or undecided:  # a decided judgement's tests only when asked
            criteria, outcomes = self.criteria(compiled, explained, fact, path, missing,
                                               open_statuses, self.explain)
            if self.explain:
                because["criteria"] = criteria
        if path is None:  # not judged: there was no visit to judge
            missing = [test.field for test in explained.tests]
        details = self.details
        if details:
            for name in explained.named:
                if name in details:
                    because[name] = details[name]
        reasons: list[str] = []
        if undecided:
            if not self.visits:
                reasons.append(f"no visit on or before {self.tl.at.isoformat()}")
            reasons += open_statuses
            fired = {result for result, _ in self.outcomes.of(rule_id, visit)}
            reasons += [text for index, (_, text) in enumerate(compiled.reasons)
                        if f"reason:{index}" in fired]
            reasons += [f"{name} unknown: {details[name]['unknown_because']}"
                        for name in explained.named
                        if name not in fact and "unknown_because" in details.get(name, {})]
        judgement = {
            **explained.constant, "status": status, "because": because, "reasons": reasons,
            # A decided judgement was not left open by what it did not need.
            "missing": list(dict.fromkeys(missing)) if undecided else [],
            "assumptions": list(explained.assumptions),
            "citations": list(explained.citations),
            "visit_date": None if visit is None else self.tl.visits[visit].date,
            "values": {name: fact.get(name) for name in explained.report}}
        if undecided and self.would_decide is not None:
            judgement["would_decide"] = self.would_decide.explain(
                rule_id, outcomes or explained.relevance.outcomes(fact), fact, self.tl.at,
                self.tl.start_of)
        return built(Judgement, judgement)

    @staticmethod
    def criteria(compiled: CompiledRule, explained: _Explained, fact: Fact, path: int | None,
                 missing: list[str], open_statuses: list[str], rows: bool
                 ) -> tuple[list[dict[str, Any]], tuple[Outcome, ...]]:
        """Each test with its outcome where it mattered (it belongs to a minimal set of
        outcomes that decides the status), else as not_needed (see language.relevance);
        the unknown ones that mattered go to ``missing`` or ``open_statuses``. Not judged
        (``path`` None): every test is not_needed. Also the tests' outcomes read (none when
        not judged). The rows only when asked (``rows``)."""
        outcomes: tuple[Outcome, ...] = ()
        if path is None:
            working = explained.unjudged
        else:
            outcomes = explained.relevance.outcomes(fact)
            working = explained.working(outcomes)
            if working.selected != path:
                raise RuleExecutionError(
                    f"rule '{compiled.rule.id}': the engine proved path {path}, but the "
                    f"facts select path {working.selected}: the compiled rule and its "
                    "explanation disagree")
        get = fact.get
        for name, key, status_test in working.unknown:
            value = get(key)
            if value is None:
                missing.append(name)
            elif status_test:
                open_statuses.append(f"{name} is indeterminate")
        if not rows:
            return [], outcomes
        # A ``contains`` test shows whether the item is listed: lists are closed, an item
        # not listed is absent.
        return [{"test": test, "criterion": criterion,
                 "value": bool(get(key)) if contains else get(key), "status": status}
                for test, criterion, key, contains, status in working.rows], outcomes

    def alert(self, compiled: CompiledRule, visit: int | None, fact: Fact) -> Alert:
        rule, message = compiled.rule, compiled.rule.message
        assert message is not None
        explained = self.explained[rule.id]
        sources = list(explained.citations)
        return built(Alert, {
            "id": rule.id, "indicator": message.indicator,
            "summary": _fill(explained.summary, fact), "detail": _fill(explained.detail, fact),
            "source": sources[0], "sources": sources,
            "assumptions": list(explained.assumptions), "rule": rule.id,
            "version": compiled.pack.version,
            "visit_date": None if visit is None else self.tl.visits[visit].date,
            "plugin": compiled.pack.plugin,
        })

    def recommendation(self, compiled: CompiledRule, fact: Fact) -> Recommendation:
        rule, message = compiled.rule, compiled.rule.message
        assert message is not None
        explained = self.explained[rule.id]
        sources = list(explained.citations)
        return built(Recommendation, {
            "id": rule.id, "summary": _fill(explained.summary, fact),
            "detail": _fill(explained.detail, fact),
            "because": explained.because or rule.title,
            "depends_on": [built(Dependency, {"rule": name, "statuses": list(statuses)})
                           for name, statuses in explained.dependencies],
            "source": sources[0], "sources": sources, "rule": rule.id,
            "version": compiled.pack.version, "assumptions": list(explained.assumptions),
            "plugin": compiled.pack.plugin,
        })


def _aged(rec: Recommendation, stale: StaleData) -> Recommendation:
    """A recommendation made on old data says how old they are."""
    return rec.model_copy(update={
        "summary": f"{rec.summary} (data {stale.days} days old)",
        "detail": f"{rec.detail} The data are {stale.days} days old: the evaluation visit "
                  f"of {stale.evaluation_visit} is {stale.days} days before the evaluation "
                  f"date {stale.evaluated_at}; check that they still hold before acting.",
    })


def _fill(parts: tuple[str, ...], fact: Fact) -> str:
    """A message split at its placeholders (``_PLACEHOLDER.split``: text, name, text, ...)
    with each ``{name}`` replaced by the fact's value; only plain names, never attribute
    access."""
    if len(parts) == 1:
        return parts[0]
    filled = list(parts)
    for index in range(1, len(parts), 2):
        filled[index] = _show(fact.get(parts[index]))
    return "".join(filled)


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, list):
        return ", ".join(_show(item) for item in value) or "none"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")  # 0.151515 mg/kg/day reads as 0.15
    return str(value)


_SEVERITY = {"critical": 0, "warning": 1, "info": 2}


def _alert_order(alert: Alert) -> tuple[int, date, str]:
    return _SEVERITY[alert.indicator], alert.visit_date or date.min, alert.id
