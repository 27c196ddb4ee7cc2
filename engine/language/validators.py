"""Checks of parsed rule packs, each a small class; all problems are reported together.

A validator looks at every loaded pack at once (duplicate ids and references cross
packs), returns diagnostics and never raises. ``check_packs`` runs them all.
"""

from __future__ import annotations

import itertools
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from jdm_cds.facts.builder import BASE_FIELDS, KINDS, VISIT_ROLES, FieldType
from jdm_cds.language.compiler import (
    ConditionTooLarge,
    Outcome,
    Resolver,
    leaf_key,
)
from jdm_cds.language.diagnostics import Diagnostic, Severity
from jdm_cds.language.rule_types import (
    STATUSES,
    All,
    Any_,
    AtLeast,
    Compare,
    Condition,
    Contains,
    CriterionRef,
    Derived,
    Is,
    Leaf,
    Mark,
    Not,
    Rule,
    RulePack,
    RuleRef,
    Scope,
)
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.patient import Visit
from jdm_cds.model.vocabulary import ADVERSE_EVENTS, ANTIBODIES, VACCINE_CLASSES

MAX_DAYS = 36_525
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def walk(cond: Condition) -> Iterator[Condition]:
    yield cond
    if isinstance(cond, Not):
        yield from walk(cond.child)
    elif isinstance(cond, All | Any_ | AtLeast):
        for child in cond.children:
            yield from walk(child)


def rule_conditions(rule: Rule) -> Iterator[Condition]:
    yield from walk(rule.when)
    for condition in (rule.applies_if, rule.undecided_if):
        if condition is not None:
            yield from walk(condition)
    for condition, _ in rule.reasons:
        yield from walk(condition)


@dataclass
class Schema:
    """Fields each scope's facts can hold: the patient file's fields plus derived values."""

    fields: dict[Scope, dict[str, FieldType]]
    visit_judgements: set[str]

    @classmethod
    def of(cls, packs: list[RulePack]) -> Schema:
        fields: dict[Scope, dict[str, FieldType]] = {
            scope: dict(names) for scope, names in BASE_FIELDS.items()
        }
        for pack in packs:
            for item in pack.derived:
                kind = KINDS.get(item.kind)
                if kind is not None:
                    fields[kind.scope][item.name] = kind.output
        judgements = {r.id for p in packs for r in p.rules
                      if r.scope == "visit" and r.kind == "judgement"}
        return cls(fields, judgements)


class Validator(ABC):
    """One check. Subclasses set ``code``, ``severity`` and ``description``."""

    code: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    description: ClassVar[str]

    @abstractmethod
    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        """Every problem this check finds in ``packs``."""

    def found(self, mark: Mark, message: str) -> Diagnostic:
        return Diagnostic(self.severity, self.code, message, mark)


class DuplicateIds(Validator):
    code = "duplicate-id"
    description = "Rule ids and pack ids are unique across every loaded pack."

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        out = []
        seen_packs: dict[str, RulePack] = {}
        seen_rules: dict[str, Rule] = {}
        for pack in packs:
            if pack.id in seen_packs:
                out.append(self.found(Mark(pack.file, 1), f"pack id '{pack.id}' is also used by "
                                      f"{seen_packs[pack.id].file}"))
            seen_packs.setdefault(pack.id, pack)
            for rule in pack.rules:
                # Within one file the loader reports it, broken rules included.
                if rule.id in seen_rules and seen_rules[rule.id].mark.file != rule.mark.file:
                    out.append(self.found(rule.mark, f"rule id '{rule.id}' is already defined at "
                                          f"{seen_rules[rule.id].mark}"))
                seen_rules.setdefault(rule.id, rule)
        return out


class References(Validator):
    code = "unknown-reference"
    description = ("Criteria, rules, citations and assumptions that a rule names exist, and a "
                   "rule reference stays within one scope and points to a judgement.")

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        rules = {rule.id: rule for pack in packs for rule in pack.rules}
        out = []
        for pack in packs:
            conditions: list[tuple[Condition, Rule | None]] = [
                (c, None) for crit in pack.criteria.values() for c in walk(crit.when)]
            for rule in pack.rules:
                conditions += [(c, rule) for c in rule_conditions(rule)]
                out += [self.found(rule.mark, f"rule '{rule.id}' cites '{key}', which is not in "
                                   f"the pack's references") for key in rule.references
                        if key not in pack.references]
                out += [self.found(rule.mark, f"rule '{rule.id}' names assumption '{key}', which "
                                   f"is not in the pack's assumptions") for key in rule.assumptions
                        if key not in pack.assumptions]
            for cond, owner in conditions:
                if isinstance(cond, CriterionRef) and cond.name not in pack.criteria:
                    out.append(self.found(cond.mark, f"unknown criterion '{cond.name}' (defined: "
                                          f"{', '.join(sorted(pack.criteria)) or 'none'})"))
                if isinstance(cond, RuleRef):
                    target = rules.get(cond.rule)
                    if target is None:
                        out.append(self.found(cond.mark, f"unknown rule '{cond.rule}'"))
                    elif target.kind != "judgement":
                        out.append(self.found(cond.mark, f"rule '{cond.rule}' is an "
                                              f"{target.kind}, not a judgement"))
                    elif owner is not None and target.scope != owner.scope:
                        out.append(self.found(cond.mark, f"rule '{cond.rule}' is judged per "
                                              f"{target.scope}; '{owner.id}' per {owner.scope}: "
                                              "declare a derived value of kind visit_status"))
        return out


class Cycles(Validator):
    code = "cycle"
    description = "Rules and criteria do not refer to themselves, directly or in a loop."

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        edges: dict[str, list[tuple[str, Mark]]] = {}
        for pack in packs:
            for name, crit in pack.criteria.items():
                edges[f"{pack.id}/{name}"] = _refs(crit.when, pack.id)
            for rule in pack.rules:
                edges[rule.id] = [ref for c in (rule.when, rule.applies_if, rule.undecided_if)
                                  if c is not None
                                  for ref in _refs(c, pack.id)]
        out: list[Diagnostic] = []
        state: dict[str, str] = {}

        def visit(node: str, path: list[str]) -> None:
            state[node] = "open"
            for target, mark in edges.get(node, []):
                if state.get(target) == "open":
                    loop = " -> ".join([*path[path.index(target):], target])
                    out.append(self.found(mark, f"reference cycle: {loop}"))
                elif target not in state:
                    visit(target, [*path, target])
            state[node] = "done"

        for node in edges:
            if node not in state:
                visit(node, [node])
        return out


def _refs(cond: Condition, pack_id: str) -> list[tuple[str, Mark]]:
    refs = []
    for c in walk(cond):
        if isinstance(c, CriterionRef):
            refs.append((f"{pack_id}/{c.name}", c.mark))
        elif isinstance(c, RuleRef):
            refs.append((c.rule, c.mark))
    return refs


class Fields(Validator):
    code = "unknown-field"
    description = ("Every field a condition tests exists in its scope's facts (else the rule "
                   "could never fire) and suits the operator.")

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        out = []
        for pack in packs:
            used = {c.name for rule in pack.rules for c in rule_conditions(rule)
                    if isinstance(c, CriterionRef)}
            for name, criterion in pack.criteria.items():
                if name not in used:
                    out += [d for c in walk(criterion.when)
                            if (d := self._check_anywhere(c, schema)) is not None]
            for rule in pack.rules:
                scope = rule.scope
                conds = list(rule_conditions(rule))
                conds += [c for ref in conds if isinstance(ref, CriterionRef)
                          and ref.name in pack.criteria
                          for c in walk(pack.criteria[ref.name].when)]
                out += [d for c in conds if (d := self._check(c, scope, schema)) is not None]
                if rule.message is not None:
                    text = rule.message.summary + rule.message.detail
                    for name in PLACEHOLDER.findall(text):
                        if name not in schema.fields[scope]:
                            out.append(self.found(rule.mark, f"placeholder '{{{name}}}' of rule "
                                                  f"'{rule.id}' is not a {scope} field"))
        return list(dict.fromkeys(out))

    def _check_anywhere(self, cond: Condition, schema: Schema) -> Diagnostic | None:
        """An unused criterion has no scope yet: it must suit one of them."""
        found = [self._check(cond, scope, schema) for scope in ("visit", "patient")]
        return None if None in found else found[0]

    def _check(self, cond: Condition, scope: Scope, schema: Schema) -> Diagnostic | None:
        if not isinstance(cond, Compare | Is | Contains):
            return None
        fields = schema.fields[scope]
        kind = fields.get(cond.field)
        if kind is None:
            return self.found(cond.mark, f"'{cond.field}' is not a {scope} field, so this "
                              f"condition could never hold (fields: {', '.join(sorted(fields))})")
        wanted: dict[type, tuple[FieldType, ...]] = {
            Is: ("status",), Contains: ("list",), Compare: ("number", "bool", "text", "status"),
        }
        if kind not in wanted[type(cond)]:
            return self.found(cond.mark, f"'{cond.field}' is a {kind} field: it cannot be "
                              f"tested with this operator")
        if isinstance(cond, Compare) and cond.op in ("lt", "lte", "gt", "gte") \
                and kind != "number":
            return self.found(cond.mark, f"'{cond.field}' is a {kind} field: '{cond.op}' needs "
                              "a number field")
        # durable_rules compares loosely (1 equals true), so types are checked here instead.
        if isinstance(cond, Compare) and _value_type(cond.value) != kind:
            return self.found(cond.mark, f"'{cond.field}' is a {kind} field: it cannot equal "
                              f"{cond.value!r}")
        return None


def _value_type(value: float | bool | str) -> FieldType:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "text"


class DerivedValues(Validator):
    code = "bad-derived"
    description = "Derived values use a known kind with the parameters that kind takes."

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        out = []
        for pack in packs:
            for item in pack.derived:
                kind = KINDS.get(item.kind)
                if kind is None:
                    out.append(self.found(item.mark, f"unknown kind '{item.kind}' of derived "
                                          f"value '{item.name}' (kinds: {', '.join(KINDS)})"))
                    continue
                if item.scope != kind.scope:
                    out.append(self.found(item.mark, f"derived value '{item.name}': kind "
                                          f"'{item.kind}' is computed per {kind.scope}"))
                for param in item.params:
                    if param not in kind.params:
                        out.append(self.found(item.mark, f"derived value '{item.name}': unknown "
                                              f"parameter '{param}' (allowed: "
                                              f"{', '.join(kind.params)})"))
                for param, what in kind.params.items():
                    if param not in item.params:
                        if param not in kind.optional:
                            out.append(self.found(item.mark, f"derived value '{item.name}' needs"
                                                  f" '{param}'"))
                        continue
                    problem = _param_problem(what, item.params[param], schema)
                    if problem:
                        out.append(self.found(item.mark, f"derived value '{item.name}': "
                                              f"'{param}' {problem}"))
        return out


def _param_problem(what: str, value: Any, schema: Schema) -> str | None:
    # Every check below is computed; a list or mapping (domains, bands) names nothing.
    name = value if isinstance(value, str) else None
    treatments = core_treatment_classes().names()
    checks: dict[str, tuple[bool, str]] = {
        "field": (name in schema.fields["visit"] or name in schema.fields["patient"],
                  "is not a known field"),
        "visit_field": (name in schema.fields["visit"], "is not a visit field"),
        "visit_rule": (name in schema.visit_judgements, "is not a visit-scope judgement"),
        "treatment": (name in treatments, "must be a drug or a treatment class: "
                      f"{', '.join(sorted(treatments))}"),
        "role": (name in VISIT_ROLES, f"must be one of {', '.join(VISIT_ROLES)}"),
        "event": (name in ADVERSE_EVENTS, f"must be one of {', '.join(sorted(ADVERSE_EVENTS))}"),
        # At most 100 years: patient dates end in 2999 and a window must stay a date.
        "days": (isinstance(value, int) and not isinstance(value, bool)
                 and 0 <= value <= MAX_DAYS, f"must be a whole number of days from 0 to "
                 f"{MAX_DAYS:,}"),
        "status": (name in STATUSES, f"must be one of {', '.join(STATUSES)}"),
        "domains": (_domains_ok(value, schema), "must be a list of {name, measures, edges, "
                    "points} with ascending edges, one more point value than edges and known "
                    "visit fields"),
        "bands": (isinstance(value, list) and all(isinstance(b, dict) and set(b) == {"from",
                  "label"} for b in value), "must be a list of {from, label}"),
    }
    ok, message = checks[what]
    return None if ok else message


def _domains_ok(value: Any, schema: Schema) -> bool:
    if not isinstance(value, list) or not value:
        return False
    for domain in value:
        if not isinstance(domain, dict) or not {"name", "measures", "edges", "points"} <= set(
                domain) or len(domain["points"]) != len(domain["edges"]) + 1 \
                or list(domain["edges"]) != sorted(domain["edges"]):
            return False
        for measure in domain["measures"]:
            if not isinstance(measure, dict) or measure.get("field") not in schema.fields["visit"]:
                return False
            if not measure.get("relative") and "range" not in measure:
                return False
            if domain.get("choose") == "most_abnormal" and "upper_normal" not in measure:
                return False
    return True


class Citations(Validator):
    code = "missing-citation"
    description = "Every rule cites at least one published source (clinical honesty)."

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        return [self.found(rule.mark, f"rule '{rule.id}' cites no reference")
                for pack in packs for rule in pack.rules if not rule.references]


class ListItems(Validator):
    code = "unknown-item"
    description = ("An item a 'contains' condition looks for is one the patient file can hold "
                   "(a misspelt antibody or adverse event could never be found).")

    VOCABULARY: ClassVar[dict[str, frozenset[str]]] = {
        "antibodies": ANTIBODIES, "adverse_events": ADVERSE_EVENTS}

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        # Draft orders (order-sign) hold drugs, treatment classes and vaccine classes.
        vocabulary = {**self.VOCABULARY,
                      "draft_orders": core_treatment_classes().names() | VACCINE_CLASSES}
        conditions = [c for pack in packs for crit in pack.criteria.values()
                      for c in walk(crit.when)]
        conditions += [c for pack in packs for rule in pack.rules for c in rule_conditions(rule)]
        return [self.found(c.mark, f"'{c.field}' never holds '{c.item}', so this condition "
                           f"could never hold (items: {', '.join(sorted(known))})")
                for c in conditions if isinstance(c, Contains)
                and (known := vocabulary.get(c.field)) is not None and c.item not in known]


class DerivedNames(Validator):
    code = "duplicate-derived"
    description = ("A derived value does not take the name of a patient-file field, and packs "
                   "that declare the same name declare the same computation: every pack's "
                   "values share one fact, so one would silently overwrite the other.")

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        out = []
        seen: dict[str, Derived] = {}
        for pack in packs:
            for item in pack.derived:
                # Either scope: a name that reads as a patient-file field misleads the reader.
                scope = next((scope for scope, names in BASE_FIELDS.items()
                              if item.name in names), None)
                if scope is not None:
                    out.append(self.found(item.mark, f"derived value '{item.name}' has the name "
                                          f"of a {scope} field of the patient file"))
                first = seen.setdefault(item.name, item)
                if (first.kind, first.scope, first.params) != (item.kind, item.scope,
                                                               item.params):
                    out.append(self.found(item.mark, f"derived value '{item.name}' is declared "
                                          f"differently at {first.mark}: choose another name"))
        return out


class PluginRuleIds(Validator):
    code = "plugin-prefix"
    severity = Severity.WARNING
    description = ("A plugin's rule ids start with the plugin's name and a dot, so that the "
                   "rules of different plugins cannot collide.")

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        return [self.found(rule.mark, f"rule '{rule.id}' should start with '{pack.plugin}.', "
                           "the plugin's name")
                for pack in packs if pack.plugin is not None for rule in pack.rules
                if not rule.id.startswith(f"{pack.plugin}.")]


class ResolvedValidator(Validator):
    """A check that needs references resolved (criteria and rules inlined): it is run only
    when they resolve, on the resolver that will compile the packs."""

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        return self.check(packs, Resolver(packs))

    @abstractmethod
    def check(self, packs: list[RulePack], resolver: Resolver) -> list[Diagnostic]:
        """Every problem this check finds in ``packs``, which ``resolver`` reads."""


class Size(ResolvedValidator):
    code = "too-large"
    description = "A condition expands into a network small enough to evaluate quickly."

    def check(self, packs: list[RulePack], resolver: Resolver) -> list[Diagnostic]:
        out = []
        for pack in packs:
            for rule in pack.rules:
                try:
                    resolver.compile(rule, pack)  # kept: compiling the packs reuses it
                except ConditionTooLarge as error:
                    out.append(self.found(rule.mark, f"rule '{rule.id}' {error}: simplify it or "
                                          "split it into separate judgements"))
        return out


# durable_rules 2.0.28 follows the alpha nodes one fact matches on a stack of 64 entries
# (src/rules/events.c, MAX_STACK_SIZE): measured, 64 rules of one scope that all match one
# fact work and 65 fail with error 303. Each rule of a scope can put at most one entry on
# it for one fact (its paths are mutually exclusive), plus the catch-all rule: the packs
# together may hold this many rules of each scope, a margin below the measured bound.
MAX_RULES_PER_SCOPE = 60


class EngineLimits(Validator):
    code = "engine-limit"
    description = ("The rules judged on one fact (every rule of a scope, across every pack) "
                   "stay within what durable_rules can match on one fact.")

    def validate(self, packs: list[RulePack], schema: Schema) -> list[Diagnostic]:
        out = []
        for scope in ("visit", "patient"):
            rules = [rule for pack in packs for rule in pack.rules if rule.scope == scope]
            if len(rules) > MAX_RULES_PER_SCOPE:
                out.append(self.found(rules[MAX_RULES_PER_SCOPE].mark, (
                    f"{len(rules)} {scope}-scope rules in the loaded packs: durable_rules "
                    f"can match at most 64 rules on one {scope} fact (error 303 past it), and "
                    f"this engine allows {MAX_RULES_PER_SCOPE}; this rule is the "
                    f"{MAX_RULES_PER_SCOPE + 1}st: merge rules or leave a pack out")))
        return out


class Satisfiable(ResolvedValidator):
    code = "constant-condition"
    severity = Severity.WARNING
    description = ("A condition can both hold and fail for some patient, given the ranges "
                   "of the patient-file fields (CMAS 0-52, CK >= 0, ...): one that can never "
                   "hold, or always holds when its values are recorded, is likely a mistake.")

    # Combinations of outcomes tried per condition; a larger condition is not checked.
    MAX_CASES = 4096

    def check(self, packs: list[RulePack], resolver: Resolver) -> list[Diagnostic]:
        out = []
        for pack in packs:
            named: list[tuple[str, Condition, Mark]] = [
                (f"criterion '{name}'", crit.when, crit.mark)
                for name, crit in pack.criteria.items()]
            for rule in pack.rules:
                named += [(f"'when' of rule '{rule.id}'", rule.when, rule.mark)]
                if rule.applies_if is not None:
                    named.append((f"'applies_if' of rule '{rule.id}'", rule.applies_if,
                                  rule.mark))
            for what, cond, mark in named:
                outcomes = self._outcomes(resolver, cond, pack)
                if outcomes is None:
                    continue
                if "T" not in outcomes:
                    out.append(self.found(cond.mark if hasattr(cond, "mark") else mark,
                                          f"{what} can never hold, given the ranges of its "
                                          "fields"))
                elif "F" not in outcomes:
                    out.append(self.found(cond.mark if hasattr(cond, "mark") else mark,
                                          f"{what} always holds when its values are "
                                          "recorded, given the ranges of its fields"))
        return out

    def _outcomes(self, resolver: Resolver, cond: Condition, pack: RulePack
                  ) -> set[Outcome] | None:
        leaves = list(dict.fromkeys(leaf for leaf, _ in resolver.leaves(cond, pack)))
        fields: dict[str, list[Compare]] = {}
        others: list[Leaf] = []
        for leaf in leaves:
            if isinstance(leaf, Compare) and _is_number(leaf.value):
                fields.setdefault(leaf.field, []).append(leaf)
            else:
                others.append(leaf)
        # Each numeric field: absent, or one value per region between its thresholds.
        choices: list[list[dict[str, Outcome]]] = []
        for field, tests in fields.items():
            low, high = FIELD_RANGES.get(field, (-math.inf, math.inf))
            values = {low, high} - {-math.inf, math.inf}
            for test in tests:
                t = float(test.value)
                values |= {t, t - 0.5, t + 0.5, t - 1e-9, t + 1e-9}
            if low == -math.inf:
                values.add(min(values, default=0.0) - 1)
            if high == math.inf:
                values.add(max(values, default=0.0) + 1)
            cases: list[dict[str, Outcome]] = [{leaf_key(test): "U" for test in tests}]
            cases += [{leaf_key(test): _compare(test, v) for test in tests}
                      for v in sorted(values) if low <= v <= high]
            choices.append(cases)
        for leaf in others:
            possible: tuple[Outcome, ...] = ("T", "F") if isinstance(leaf, Contains) \
                else ("T", "F", "U")
            choices.append([{leaf_key(leaf): o} for o in possible])
        if math.prod(len(c) for c in choices) > self.MAX_CASES:
            return None
        found: set[Outcome] = set()
        for combination in itertools.product(*choices):
            fixed: dict[str, Outcome] = {}
            for part in combination:
                fixed.update(part)
            found |= resolver.possible(cond, pack, fixed)
        return found


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(test: Compare, value: float) -> Outcome:
    limit = float(test.value)
    holds = {"lt": value < limit, "lte": value <= limit, "gt": value > limit,
             "gte": value >= limit, "eq": value == limit, "neq": value != limit}[test.op]
    return "T" if holds else "F"


def _field_ranges() -> dict[str, tuple[float, float]]:
    """The range of each numeric visit field, from the patient model's own bounds."""
    ranges = {}
    for name, info in Visit.model_fields.items():
        low, high = -math.inf, math.inf
        for item in info.metadata:
            bound: Any = getattr(item, "ge", None)
            if bound is None:
                bound = getattr(item, "gt", None)
            if bound is not None:
                low = float(bound)
            bound = getattr(item, "le", None)
            if bound is not None:
                high = float(bound)
        ranges[name] = (low, high)
    return ranges


FIELD_RANGES = _field_ranges()


VALIDATORS: tuple[Validator, ...] = (
    DuplicateIds(), References(), Cycles(), Fields(), DerivedValues(), Citations(),
    ListItems(), DerivedNames(), PluginRuleIds(), EngineLimits(),
)
# Run when references resolve (they inline criteria and rules), like Size.
RESOLVED: tuple[ResolvedValidator, ...] = (Size(), Satisfiable())


def check_packs(packs: list[RulePack], resolver: Resolver | None = None) -> list[Diagnostic]:
    """Every problem of every validator; ``Size`` runs only when references resolve, on
    ``resolver`` when given (it must read exactly ``packs``: it keeps what ``Size``
    compiled, for ``compile_packs``)."""
    schema = Schema.of(packs)
    found = [d for validator in VALIDATORS for d in validator.validate(packs, schema)]
    if not any(d.code in ("unknown-reference", "cycle") for d in found):
        resolver = Resolver(packs) if resolver is None else resolver
        found += [d for validator in RESOLVED for d in validator.check(packs, resolver)]
    return sorted(found, key=lambda d: (d.mark.file, d.mark.line, d.code))
