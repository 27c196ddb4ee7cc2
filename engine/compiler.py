"""Compile validated rule packs into durable_rules rulesets.

Three-valued logic is compiled, not interpreted: for every condition the compiler
builds two sets of alternatives (disjunctive normal form), one that proves it true and
one that proves it false, each alternative a conjunction of durable_rules tests on one
fact. A field that is absent matches neither ``$lte`` nor ``$gt``, so missing data
proves nothing; a judgement whose ``met`` and ``not_met`` rules both stay silent is
``indeterminate``. Every leaf test also gets three small rules (true / false /
unknown) so that each judgement can say which criteria held and which data were missing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engine.rule_types import (
    COMPARISONS,
    STATUSES,
    All,
    Any_,
    AtLeast,
    Compare,
    Condition,
    Contains,
    Criterion,
    CriterionRef,
    Is,
    Leaf,
    Not,
    Rule,
    RulePack,
    RuleRef,
    Scope,
)

RULESET = "jdm_cds"
# Beyond this many alternatives a condition is too large to compile into the network
# without slowing every evaluation; the validator reports it instead.
MAX_ALTERNATIVES = 512

Atom = dict[str, Any]
Term = tuple[Atom, ...]
DNF = list[Term]
# (rule or leaf key, outcome, visit index or None) -> called from inside durable actions
Recorder = Callable[[str, str, str, "int | None"], None]

_SYMBOLS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "!="}


class ConditionTooLarge(Exception):
    pass


def list_key(field: str, item: str) -> str:
    """Fact key that stands for ``item`` being in the list field ``field``."""
    return f"{field}:{item}"


def leaf_text(leaf: Leaf) -> str:
    if isinstance(leaf, Compare):
        value = str(leaf.value).lower() if isinstance(leaf.value, bool) else leaf.value
        return f"{leaf.field} {_SYMBOLS[leaf.op]} {value}"
    if isinstance(leaf, Is):
        return f"{leaf.field} is {leaf.status}"
    return f"{leaf.field} contains {leaf.item}"


def leaf_key(leaf: Leaf) -> str:
    return leaf_text(leaf)


def scoped_leaf_key(scope: Scope, key: str) -> str:
    """The same test can stand in both scopes; its recorded outcomes must not mix."""
    return f"leaf:{scope}:{key}"


def _leaf_dnf(leaf: Leaf) -> tuple[DNF, DNF, DNF]:
    """Alternatives proving the leaf true, false, and unknown."""
    if isinstance(leaf, Compare):
        yes, no = COMPARISONS[leaf.op]
        absent: DNF = [({"$nex": {leaf.field: 1}},)]
        return [({yes: {leaf.field: leaf.value}},)], [({no: {leaf.field: leaf.value}},)], absent
    if isinstance(leaf, Is):
        definite = [s for s in STATUSES if s != "indeterminate"]
        others = [s for s in definite if s != leaf.status]
        unknown: DNF = [({"$nex": {leaf.field: 1}},)]
        if leaf.status != "indeterminate":
            unknown.append(({leaf.field: "indeterminate"},))
        return [({leaf.field: leaf.status},)], [({leaf.field: s},) for s in others], unknown
    key = list_key(leaf.field, leaf.item)
    # Lists are closed: an antibody or adverse event not listed is absent, never unknown.
    return [({key: True},)], [({"$nex": {key: 1}},)], []


def _and(parts: Iterable[DNF]) -> DNF:
    terms: DNF = [()]
    for part in parts:
        terms = [left + right for left in terms for right in part]
        if len(terms) > MAX_ALTERNATIVES:
            raise ConditionTooLarge
    return terms


def _or(parts: Iterable[DNF]) -> DNF:
    terms = [term for part in parts for term in part]
    if len(terms) > MAX_ALTERNATIVES:
        raise ConditionTooLarge
    return terms


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its pack, its leaf tests (for explanations) and its fields."""

    rule: Rule
    pack: RulePack
    leaves: tuple[Leaf, ...]
    leaf_criteria: dict[str, str]  # leaf key -> name of the criterion it came from

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(leaf.field for leaf in self.leaves))


class Expander:
    """Resolves criterion and rule references of one rule base into plain conditions."""

    def __init__(self, packs: Iterable[RulePack]) -> None:
        self.criteria: dict[tuple[str, str], Criterion] = {}
        self.rules: dict[str, tuple[Rule, RulePack]] = {}
        for pack in packs:
            for name, criterion in pack.criteria.items():
                self.criteria[(pack.id, name)] = criterion
            for rule in pack.rules:
                self.rules[rule.id] = (rule, pack)

    def dnf(self, cond: Condition, pack: RulePack) -> tuple[DNF, DNF]:
        """(alternatives proving ``cond`` true, alternatives proving it false)."""
        if isinstance(cond, Compare | Is | Contains):
            true, false, _ = _leaf_dnf(cond)
            return true, false
        if isinstance(cond, CriterionRef):
            return self.dnf(self.criteria[(pack.id, cond.name)].when, pack)
        if isinstance(cond, RuleRef):
            rule, owner = self.rules[cond.rule]
            return self.dnf(rule.when, owner)
        if isinstance(cond, Not):
            true, false = self.dnf(cond.child, pack)
            return false, true
        children = [self.dnf(child, pack) for child in cond.children]
        if isinstance(cond, All):
            return _and(c[0] for c in children), _or(c[1] for c in children)
        if isinstance(cond, Any_):
            return _or(c[0] for c in children), _and(c[1] for c in children)
        assert isinstance(cond, AtLeast)
        k, n = len(children), cond.n
        true = _or(_and(children[i][0] for i in subset)
                   for subset in itertools.combinations(range(k), n))
        false = _or(_and(children[i][1] for i in subset)
                    for subset in itertools.combinations(range(k), k - n + 1))
        return true, false

    def leaves(self, cond: Condition, pack: RulePack, criterion: str | None,
               out: dict[str, tuple[Leaf, str | None]]) -> None:
        """Collect the leaf tests of ``cond`` in reading order, with their criterion name."""
        if isinstance(cond, Compare | Is | Contains):
            out.setdefault(leaf_key(cond), (cond, criterion))
        elif isinstance(cond, CriterionRef):
            self.leaves(self.criteria[(pack.id, cond.name)].when, pack, cond.name, out)
        elif isinstance(cond, RuleRef):
            rule, owner = self.rules[cond.rule]
            self.leaves(rule.when, owner, criterion, out)
        elif isinstance(cond, Not):
            self.leaves(cond.child, pack, criterion, out)
        else:
            for child in cond.children:
                self.leaves(child, pack, criterion, out)


@dataclass
class RuleBase:
    """Compiled rule packs: durable_rules definitions plus what is needed to explain them."""

    packs: tuple[RulePack, ...]
    rules: dict[str, CompiledRule]
    _definitions: list[tuple[str, Scope, DNF, tuple[str, str]]]
    _leaves: dict[str, tuple[Leaf, Scope]]

    def durable_rulesets(self, record: Recorder) -> dict[str, dict[str, Any]]:
        """A fresh ruleset dict for ``Host.set_rulesets`` (which consumes the dict it gets)."""
        rules: dict[str, Any] = {}
        for name, scope, terms, (key, outcome) in self._definitions:
            for index, term in enumerate(terms):
                rules[f"{name}#{index}"] = {
                    "all": [{"m": _match(scope, term)}],
                    "run": _action(record, key, outcome),
                }
        for key, (leaf, scope) in self._leaves.items():
            for outcome, terms in zip(("met", "not_met", "unknown"), _leaf_dnf(leaf), strict=True):
                for index, term in enumerate(terms):
                    rules[f"{key}#{outcome}#{index}"] = {
                        "all": [{"m": _match(scope, ({"explain": True}, *term))}],
                        "run": _action(record, key, outcome),
                    }
        # durable_rules raises on a fact no rule matches, and crashes the process when such
        # a session is deleted; this rule matches every fact.
        rules["catch_all"] = {"all": [{"m": {"$ex": {"kind": 1}}}], "run": _ignore}
        return {RULESET: rules}


def _match(scope: Scope, term: Term) -> Atom:
    return {"$and": [{"kind": scope}, *term]}


def _action(record: Recorder, key: str, outcome: str) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        fact = c.m
        record(fact["sid"], key, outcome, fact["visit"] if fact["kind"] == "visit" else None)

    return run


def _ignore(c: Any) -> None:
    """Matches every fact so that none is left unhandled."""


def compile_packs(packs: Iterable[RulePack]) -> RuleBase:
    """Compile packs that the validators have passed (references resolved, no cycles)."""
    packs = tuple(packs)
    expander = Expander(packs)
    compiled: dict[str, CompiledRule] = {}
    definitions: list[tuple[str, Scope, DNF, tuple[str, str]]] = []
    leaves: dict[str, tuple[Leaf, Scope]] = {}
    for pack in packs:
        for rule in pack.rules:
            found: dict[str, tuple[Leaf, str | None]] = {}
            expander.leaves(rule.when, pack, None, found)
            if rule.applies_if is not None:
                expander.leaves(rule.applies_if, pack, None, found)
            for key, (leaf, _) in found.items():
                leaves.setdefault(scoped_leaf_key(rule.scope, key), (leaf, rule.scope))
            compiled[rule.id] = CompiledRule(
                rule, pack, tuple(leaf for leaf, _ in found.values()),
                {key: name for key, (_, name) in found.items() if name},
            )
            definitions.extend(_rule_definitions(expander, rule, pack))
    return RuleBase(packs, compiled, definitions, leaves)


def _rule_definitions(expander: Expander, rule: Rule, pack: RulePack
                      ) -> list[tuple[str, Scope, DNF, tuple[str, str]]]:
    when_true, when_false = expander.dnf(rule.when, pack)
    applies_true: DNF = [()]
    out: list[tuple[str, Scope, DNF, tuple[str, str]]] = []
    if rule.applies_if is not None:
        applies_true, applies_false = expander.dnf(rule.applies_if, pack)
        out.append((f"{rule.id}:na", rule.scope, applies_false, (rule.id, "not_applicable")))
    out.append((f"{rule.id}:met", rule.scope, _and([applies_true, when_true]), (rule.id, "met")))
    if rule.kind == "judgement":
        out.append((f"{rule.id}:not_met", rule.scope, _and([applies_true, when_false]),
                    (rule.id, "not_met")))
    for index, (condition, _) in enumerate(rule.reasons):
        true, _ = expander.dnf(condition, pack)
        out.append((f"{rule.id}:reason{index}", rule.scope, true, (rule.id, f"reason:{index}")))
    return out
