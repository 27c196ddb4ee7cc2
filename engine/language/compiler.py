"""Compile validated rule packs into durable_rules rulesets.

Three-valued logic is compiled, not interpreted. For each rule the compiler splits the
space of its tests' outcomes (true / false / unknown for every test) into *paths*, by
Shannon expansion: it fixes one test's outcome at a time, in reading order, until the
rule's status no longer depends on the tests left. Each path becomes one durable_rules
rule whose condition is the conjunction of those outcomes on one fact. Paths are
mutually exclusive and cover every fact, so a judgement fires exactly once per fact it
judges, and the path that fired says which tests decided it. An absent field matches
neither ``$lte`` nor ``$gt`` but ``$nex``: missing data is *unknown*, never *false*.

Each fired rule is an action the runtime takes from the engine, one at a time, and these
dominate the cost of an evaluation: one firing per judgement is the design.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

from jdm_cds.language.records import Record
from jdm_cds.language.rule_types import (
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
    Status,
)

RULESET = "jdm_cds"
# Fact keys the engine and the runtime use: no derived value may take one of these names
# (durable_rules keys a fact by "sid" and "id"; the runtime by "kind" and "visit").
RESERVED_KEYS = frozenset({"kind", "visit", "judged", "sid", "id"})
# A rule whose expansion needs more paths than this would slow every evaluation; the
# validator reports it so that the author splits it into named rules.
MAX_PATHS = 400
# Which tests mattered to a judgement is found among the subsets of its distinct tests
# (language.relevance): past this many, explaining one new combination of outcomes would
# take seconds.
MAX_JUDGEMENT_TESTS = 12

Outcome = Literal["T", "F", "U"]
OUTCOMES: tuple[Outcome, ...] = ("T", "F", "U")
Atom = dict[str, Any]
# A path: (leaf key, the outcomes it admits) in the order fixed. A step admits several
# outcomes where the rule's status does not depend on which of them the test has.
Path = tuple[tuple[str, tuple[Outcome, ...]], ...]
# What a fired durable rule stands for: (rule id, result, path index).
Action = tuple[str, str, int]

_SYMBOLS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "!="}
LEAF_STATUS: dict[Outcome, Status] = {"T": "met", "F": "not_met", "U": "indeterminate"}


class ConditionTooLarge(Exception):
    """A rule too large to evaluate or explain quickly; the message says which limit."""


def list_key(field: str, item: str) -> str:
    """Fact key that stands for ``item`` being in the list field ``field``."""
    return f"{field}:{item}"


def judge_key(rule_id: str) -> str:
    """Fact key that asks for a visit judgement on that visit fact."""
    return f"judge:{rule_id}"


def leaf_key(leaf: Leaf) -> str:
    """The test as written, e.g. ``ck_u_l <= 150``; also its identity within a rule."""
    if isinstance(leaf, Compare):
        value = str(leaf.value).lower() if isinstance(leaf.value, bool) else leaf.value
        return f"{leaf.field} {_SYMBOLS[leaf.op]} {value}"
    if isinstance(leaf, Is):
        return f"{leaf.field} is {leaf.status}"
    return f"{leaf.field} contains {leaf.item}"


def _step_atom(leaf: Leaf, outcomes: tuple[Outcome, ...]) -> Atom:
    """The durable_rules test that holds exactly when ``leaf`` has one of ``outcomes``."""
    if len(outcomes) == 1:
        return _atom(leaf, outcomes[0])
    return {"$or": [_atom(leaf, outcome) for outcome in outcomes]}


def _atom(leaf: Leaf, outcome: Outcome) -> Atom:
    """The durable_rules test that holds exactly when ``leaf`` has ``outcome``."""
    if isinstance(leaf, Compare):
        yes, no = COMPARISONS[leaf.op]
        if outcome == "U":
            return {"$nex": {leaf.field: 1}}
        return {yes if outcome == "T" else no: {leaf.field: leaf.value}}
    if isinstance(leaf, Is):
        if outcome == "T":
            return {leaf.field: leaf.status}
        if outcome == "U":
            unknown: list[Atom] = [{"$nex": {leaf.field: 1}}]
            if leaf.status != "indeterminate":
                unknown.append({leaf.field: "indeterminate"})
            return unknown[0] if len(unknown) == 1 else {"$or": unknown}
        others = [s for s in STATUSES if s not in ("indeterminate", leaf.status)]
        return {"$or": [{leaf.field: s} for s in others]}
    key = list_key(leaf.field, leaf.item)
    return {key: True} if outcome == "T" else {"$nex": {key: 1}}


# --- three-valued evaluation with some outcomes still open ---------------------------

_NOT: dict[Outcome, Outcome] = {"T": "F", "F": "T", "U": "U"}
_OPEN: frozenset[Outcome] = frozenset(OUTCOMES)  # a test not yet fixed
_CLOSED: frozenset[Outcome] = frozenset(("T", "F"))  # ... on a list: never unknown


def _and(a: Outcome, b: Outcome) -> Outcome:
    return "F" if "F" in (a, b) else "T" if a == b == "T" else "U"


def _or(a: Outcome, b: Outcome) -> Outcome:
    return "T" if "T" in (a, b) else "F" if a == b == "F" else "U"


class Resolver:
    """Resolves criterion and rule references, and evaluates conditions on partial outcomes.

    ``possible`` is a function of the condition and of the outcomes fixed for its own
    tests only (those of the criteria and rules it names included): a resolver remembers
    each answer by exactly that, so that the expansion, which asks the same question of a
    named criterion or rule under every path that differs only in other tests, answers it
    once. The packs a resolver reads do not change while it lives.
    """

    def __init__(self, packs: Iterable[RulePack]) -> None:
        self.packs = tuple(packs)
        self.criteria: dict[tuple[str, str], Criterion] = {}
        self.rules: dict[str, tuple[Rule, RulePack]] = {}
        for pack in self.packs:
            for name, criterion in pack.criteria.items():
                self.criteria[(pack.id, name)] = criterion
            for rule in pack.rules:
                self.rules[rule.id] = (rule, pack)
        # By (id of the condition, pack id): the condition itself, kept so that its id
        # cannot be reused by another object, and the keys of the tests it depends on.
        self._tests: dict[tuple[int, str], tuple[Condition, tuple[str, ...]]] = {}
        self._possible: dict[tuple[int, str, tuple[Outcome | None, ...]],
                             frozenset[Outcome]] = {}
        self._compiled: dict[str, CompiledRule] = {}

    def compile(self, rule: Rule, pack: RulePack) -> CompiledRule:
        """``rule`` compiled, once per resolver (the validators compile every rule to check
        its size; compiling the packs then takes what they made)."""
        found = self._compiled.get(rule.id)
        if found is None or found.rule is not rule or found.pack is not pack:
            found = self._compiled[rule.id] = compile_rule(self, rule, pack)
        return found

    def reads(self, packs: Iterable[RulePack]) -> bool:
        """Whether this resolver was made from exactly these pack objects, in this order."""
        packs = tuple(packs)
        return len(packs) == len(self.packs) and all(
            mine is theirs for mine, theirs in zip(self.packs, packs, strict=True))

    def leaves(self, cond: Condition, pack: RulePack, criterion: str | None = None
               ) -> Iterator[tuple[Leaf, str | None]]:
        """The tests of ``cond`` in reading order, each with the criterion it belongs to."""
        if isinstance(cond, Compare | Is | Contains):
            yield cond, criterion
        elif isinstance(cond, CriterionRef):
            yield from self.leaves(self.criteria[(pack.id, cond.name)].when, pack, cond.name)
        elif isinstance(cond, RuleRef):
            rule, owner = self.rules[cond.rule]
            for part in rule_conditions(rule):
                yield from self.leaves(part, owner, criterion)
        elif isinstance(cond, Not):
            yield from self.leaves(cond.child, pack, criterion)
        else:
            for child in cond.children:
                yield from self.leaves(child, pack, criterion)

    def possible(self, cond: Condition, pack: RulePack, fixed: dict[str, Outcome]
                 ) -> frozenset[Outcome]:
        """Outcomes ``cond`` can still take, given the tests already fixed."""
        if isinstance(cond, Compare | Is | Contains):
            key = leaf_key(cond)
            if key in fixed:
                return frozenset((fixed[key],))
            return _CLOSED if isinstance(cond, Contains) else _OPEN
        where = (id(cond), pack.id)
        known = self._tests.get(where)
        if known is None:
            keys = tuple(dict.fromkeys(leaf_key(leaf) for leaf, _ in self.leaves(cond, pack)))
            known = self._tests[where] = (cond, keys)
        memo = (*where, tuple(fixed.get(key) for key in known[1]))
        found = self._possible.get(memo)
        if found is None:
            found = self._possible[memo] = frozenset(self._combined(cond, pack, fixed))
        return found

    def _combined(self, cond: Condition, pack: RulePack, fixed: dict[str, Outcome]
                  ) -> AbstractSet[Outcome]:
        """``possible`` for a condition that is not a single test."""
        assert not isinstance(cond, Compare | Is | Contains)
        if isinstance(cond, CriterionRef):
            return self.possible(self.criteria[(pack.id, cond.name)].when, pack, fixed)
        if isinstance(cond, RuleRef):
            # True where the other judgement is met, false where it is not met or does not
            # apply, unknown where it is indeterminate.
            return {STATUS_OUTCOME[s] for s in self.statuses(*self.rules[cond.rule], fixed)}
        if isinstance(cond, Not):
            return {_NOT[o] for o in self.possible(cond.child, pack, fixed)}
        children = [self.possible(child, pack, fixed) for child in cond.children]
        if isinstance(cond, All | Any_):
            combine = _and if isinstance(cond, All) else _or
            result = set(children[0])
            for child in children[1:]:
                result = {combine(a, b) for a in result for b in child}
            return result
        assert isinstance(cond, AtLeast)
        return _at_least(cond.n, children)

    def statuses(self, rule: Rule, pack: RulePack, fixed: dict[str, Outcome]) -> set[Status]:
        """Statuses the judgement ``rule`` can still take, given the tests already fixed."""
        def possible(cond: Condition | None) -> frozenset[Outcome] | None:
            return None if cond is None else self.possible(cond, pack, fixed)

        return rule_status(possible(rule.applies_if), self.possible(rule.when, pack, fixed),
                           possible(rule.undecided_if))


def rule_conditions(rule: Rule) -> tuple[Condition, ...]:
    """The conditions that decide a rule's status, in reading order."""
    return tuple(c for c in (rule.applies_if, rule.when, rule.undecided_if) if c is not None)


# The outcome of ``{rule: id}`` for each status of that judgement.
STATUS_OUTCOME: dict[Status, Outcome] = {
    "met": "T", "not_met": "F", "not_applicable": "F", "indeterminate": "U"}


def _at_least(n: int, children: list[frozenset[Outcome]]) -> set[Outcome]:
    counts = {(0, 0)}  # reachable (number true, number false)
    for child in children:
        counts = {(t + (o == "T"), f + (o == "F")) for t, f in counts for o in child}
    needed_false = len(children) - n + 1
    return {"T" if t >= n else "F" if f >= needed_false else "U" for t, f in counts}


def rule_status(applies: AbstractSet[Outcome] | None, when: AbstractSet[Outcome],
                undecided: AbstractSet[Outcome] | None) -> set[Status]:
    """The statuses a rule can take from the outcomes its three conditions can take.

    ``applies_if`` false: not_applicable; unknown: indeterminate. Where it applies, ``when``
    true is met and unknown indeterminate; ``when`` false is not_met only where
    ``undecided_if`` is false (absent: false), and indeterminate while it holds or may hold.
    """
    statuses: set[Status] = set()
    for a in applies or {"T"}:
        if a == "F":
            statuses.add("not_applicable")
        elif a == "U":
            statuses.add("indeterminate")
        else:
            for w in when:
                if w != "F":
                    statuses.add(LEAF_STATUS[w])
                else:
                    statuses |= {"not_met" if u == "F" else "indeterminate"
                                 for u in undecided or {"F"}}
    return statuses


def undecided_reasons(rule: Rule, resolver: Resolver, pack: RulePack
                      ) -> tuple[tuple[Condition, str], ...]:
    """The reasons a rule gives from its own ``undecided_if``, so that they cannot disagree.

    Each member of a top-level ``any`` (or the whole condition) is one reason, said in the
    title of the criterion it names (a test as written, or the rule it names, otherwise).
    """
    if rule.undecided_if is None:
        return ()
    cond = rule.undecided_if
    members = cond.children if isinstance(cond, Any_) else (cond,)
    return tuple((member, _describe(member, resolver, pack)) for member in members)


def _describe(cond: Condition, resolver: Resolver, pack: RulePack) -> str:
    if isinstance(cond, CriterionRef):
        return resolver.criteria[(pack.id, cond.name)].title
    if isinstance(cond, RuleRef):
        return f"{cond.rule} is met"
    if isinstance(cond, Compare | Is | Contains):
        return leaf_key(cond)
    return " and ".join(leaf_key(leaf) for leaf, _ in resolver.leaves(cond, pack))


class CompiledRule(Record):
    """A rule, its pack, its tests, and the paths that decide its status."""

    rule: Rule
    pack: RulePack
    leaves: tuple[Leaf, ...]
    leaf_criteria: dict[str, str]  # leaf key -> name of the criterion it came from
    paths: tuple[tuple[str, Path], ...]  # (status or reason:N, path), by index
    fields: tuple[str, ...]
    tests: dict[str, Leaf]  # every test the paths use, by leaf key
    # Said when the judgement is indeterminate and the condition holds (paths "reason:N"):
    # the rule's own ``reasons``, then those of its ``undecided_if``.
    reasons: tuple[tuple[Condition, str], ...]


def _expand(leaves: list[Leaf], decide: Callable[[dict[str, Outcome]], set[str]]
            ) -> list[tuple[str, Path]]:
    """Shannon expansion: the paths, each with the one result it proves."""
    def walk(index: int, fixed: dict[str, Outcome], presence: dict[str, bool]
             ) -> list[tuple[str, Path]]:
        results = decide(fixed)
        if len(results) == 1:
            return [(next(iter(results)), ())]
        leaf = leaves[index]
        key = leaf_key(leaf)
        if key in fixed:
            return walk(index + 1, fixed, presence)
        branches: dict[tuple[tuple[str, Path], ...], list[Outcome]] = {}
        for outcome in OUTCOMES:
            if isinstance(leaf, Contains) and outcome == "U":
                continue  # lists are closed: an item not listed is absent
            known = presence
            if isinstance(leaf, Compare):
                # Tests of one field share its presence: the other paths are impossible.
                present = outcome != "U"
                if presence.get(leaf.field, present) != present:
                    continue
                known = {**presence, leaf.field: present}
            below = tuple(walk(index + 1, {**fixed, key: outcome}, known))
            branches.setdefault(below, []).append(outcome)
        if len(branches) == 1:
            return list(next(iter(branches)))  # this test does not matter here
        paths = [(result, ((key, tuple(outcomes)), *path))
                 for below, outcomes in branches.items() for result, path in below]
        if len(paths) > MAX_PATHS:
            raise ConditionTooLarge(f"needs more than {MAX_PATHS} paths")
        return paths

    return walk(0, {}, {})


def compile_rule(resolver: Resolver, rule: Rule, pack: RulePack) -> CompiledRule:
    found: dict[str, tuple[Leaf, str | None]] = {}
    for cond in rule_conditions(rule):
        for leaf, criterion in resolver.leaves(cond, pack):
            found.setdefault(leaf_key(leaf), (leaf, criterion))
    leaves = [leaf for leaf, _ in found.values()]
    if rule.kind == "judgement" and len(leaves) > MAX_JUDGEMENT_TESTS:
        raise ConditionTooLarge(f"has {len(leaves)} distinct tests, more than the "
                                f"{MAX_JUDGEMENT_TESTS} a judgement's explanation can weigh")

    def decide(fixed: dict[str, Outcome]) -> set[str]:
        statuses: set[str] = set(resolver.statuses(rule, pack, fixed))
        if rule.kind != "judgement":
            # Alerts and recommendations only need the paths that prove them.
            return statuses if "met" in statuses else {"silent"}
        return statuses

    # The order of the tests changes how many paths the expansion needs (a test that
    # decides alone is best first); of two cheap orders, keep the smaller network.
    paths = min((_expand(order, decide) for order in (leaves, leaves[::-1])), key=len)
    paths = [p for p in paths if p[0] != "silent"]
    tests = {leaf_key(leaf): leaf for leaf in leaves}
    reasons = (*rule.reasons, *undecided_reasons(rule, resolver, pack))
    for index, (condition, _) in enumerate(reasons):
        reason_leaves = [leaf for leaf, _ in resolver.leaves(condition, pack)]
        tests.update((leaf_key(leaf), leaf) for leaf in reason_leaves)

        def proves(fixed: dict[str, Outcome], condition: Condition = condition) -> set[str]:
            return set(resolver.possible(condition, pack, fixed))

        paths += [(f"reason:{index}", path)
                  for outcome, path in _expand(reason_leaves, proves) if outcome == "T"]
    return CompiledRule(
        rule=rule, pack=pack, leaves=tuple(leaves),
        leaf_criteria={key: name for key, (_, name) in found.items() if name},
        paths=tuple(paths), fields=tuple(dict.fromkeys(leaf.field for leaf in leaves)),
        tests=tests, reasons=reasons,
    )


@dataclass
class RuleBase:
    """Compiled rule packs: durable_rules definitions plus what is needed to explain them."""

    packs: tuple[RulePack, ...]
    rules: dict[str, CompiledRule]

    def judgements(self, scope: Scope) -> list[str]:
        return [rule_id for rule_id, c in self.rules.items()
                if c.rule.scope == scope and c.rule.kind == "judgement"]

    def engine_keys(self, scope: Scope) -> frozenset[str]:
        """The fact keys some rule of ``scope`` tests, plus the keys the runtime uses.

        The rest of a fact (values only derived values or reports read) stays out of the
        engine: durable_rules encodes the whole fact into every firing it reports.
        """
        keys = {"kind", "visit", "judged"}  # of RESERVED_KEYS, those facts carry
        for rule_id, compiled in self.rules.items():
            if compiled.rule.scope == scope:
                keys.update(list_key(leaf.field, leaf.item) if isinstance(leaf, Contains)
                            else leaf.field for leaf in compiled.tests.values())
                if scope == "visit" and compiled.rule.kind == "judgement":
                    keys.add(judge_key(rule_id))
        return frozenset(keys)

    def visit_watch(self) -> frozenset[str] | None:
        """Fact keys without which no per-visit alert or recommendation can fire.

        An unjudged visit fact lacking all of them cannot match any rule, so it need not
        be asserted (each asserted fact costs at least one firing). ``None``: some path needs no
        present key, so every visit must be asserted.
        """
        keys: set[str] = set()
        for compiled in self.rules.values():
            if compiled.rule.scope != "visit" or compiled.rule.kind == "judgement":
                continue
            for _, path in compiled.paths:
                present = [_present_key(compiled.tests[key], outcomes)
                           for key, outcomes in path]
                found = [key for key in present if key is not None]
                if not found:
                    return None
                keys.update(found)
        return frozenset(keys)

    def durable_ruleset(self) -> tuple[dict[str, Any], dict[str, Action | None]]:
        """The ruleset definition for durable_rules, and what each of its rules records.

        Rule names are ``<rule id>#<path index>``; the catch-all records nothing.
        """
        definitions: dict[str, Any] = {}
        actions: dict[str, Action | None] = {}
        for rule_id, compiled in self.rules.items():
            scope = compiled.rule.scope
            for index, (result, path) in enumerate(compiled.paths):
                test: list[Atom] = [{"kind": scope}]
                if scope == "visit" and compiled.rule.kind == "judgement":
                    test.append({judge_key(rule_id): True})
                test += [_step_atom(compiled.tests[key], outcomes) for key, outcomes in path]
                definitions[f"{rule_id}#{index}"] = {"all": [{"m": {"$and": test}}]}
                actions[f"{rule_id}#{index}"] = (rule_id, result, index)
        # durable_rules raises on a fact no rule matches, and crashes the process when such
        # a session is deleted. Judged facts always match their judgements' paths; every
        # other fact (a visit only alerts look at) is taken by this rule.
        # (A condition made of ``$nex`` alone hangs durable_rules 2.0.28: ``$ex`` goes first.)
        definitions["unjudged"] = {
            "all": [{"m": {"$and": [{"$ex": {"kind": 1}}, {"$nex": {"judged": 1}}]}}]}
        actions["unjudged"] = None
        return definitions, actions


def _present_key(leaf: Leaf, outcomes: tuple[Outcome, ...]) -> str | None:
    """The fact key a path step needs present, if every outcome it admits needs one."""
    if isinstance(leaf, Contains):
        return list_key(leaf.field, leaf.item) if outcomes == ("T",) else None
    if isinstance(leaf, Compare):
        return leaf.field if "U" not in outcomes else None
    return None  # a status test's "unknown" includes the value "indeterminate"


def compile_packs(packs: Iterable[RulePack], resolver: Resolver | None = None) -> RuleBase:
    """Compile packs that the validators have passed (references resolved, no cycles);
    with the ``resolver`` that validated them (made from exactly these packs; any other
    is not used), each rule is compiled once."""
    packs = tuple(packs)
    if resolver is None or not resolver.reads(packs):
        resolver = Resolver(packs)
    compiled = {rule.id: resolver.compile(rule, pack)
                for pack in packs for rule in pack.rules}
    return RuleBase(packs, compiled)
