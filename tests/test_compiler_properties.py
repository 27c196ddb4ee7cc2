"""The whole rule compiler against an independent three-valued evaluator.

Each example writes a random rule pack (condition trees of ``all``, ``any``, ``at_least``,
``not``, named criteria, ``rule:`` references, ``is:`` tests, every comparison operator,
``contains``, derived values, ``applies_if`` and ``undecided_if``), loads it as a user's
pack is loaded, and evaluates random patients with missing values through durable_rules.
The oracle below reads the same YAML trees and the same patients with Kleene logic written
here, not with the compiler's resolver, and checks for every judgement, alert and
recommendation:

- the status (and that alerts and recommendations fire exactly where they are met);
- which tests are ``not_needed``: a set of tests held at their outcomes decides when every
  combination of the other tests' outcomes gives the same status (the comparisons of one
  field share its presence; ``contains`` is never unknown); a test is needed when it is in
  a minimal deciding set. Needed tests show their outcome, the others ``not_needed``;
- ``missing`` (the absent fields of needed unknown tests) and the reasons said from
  ``undecided_if``.

Many rules share one compiled rule base and many patients share one rule base, so the suite
runs thousands of cases quickly; ``make fuzz`` runs a long campaign.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from campaign import FUZZ, campaign
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rulebase import load_rulebase
from jdm_cds.model.assessment import Assessment
from jdm_cds.model.patient import Patient
from jdm_cds.runtime import RuleExecutionError

Tri = bool | None  # Kleene: True, False, None (unknown)
Cond = Any  # a condition as YAML data: a criterion name or a mapping

NUMBERS = ("ck_u_l", "cmas", "mmt8", "physician_global_vas", "das_skin")
VISIT_NUMBERS = (*NUMBERS, "dose")  # dose: a visit-scope derived value (dose_per_kg)
EVENTS = ("herpes_zoster", "cytopenia", "oral_ulcers")
ANTIBODIES = ("anti-MDA5", "anti-NXP2")
OPERATORS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "!="}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b, "eq": lambda a, b: a == b, "neq": lambda a, b: a != b}
THRESHOLDS = (0, 1, 1.5, 2, 3)
STATUSES = ("met", "not_met", "indeterminate", "not_applicable")
MAX_TESTS = 6  # distinct tests of one rule, its references inlined
START = dt.date(2022, 1, 1)


# --- the oracle: Kleene logic over the YAML trees ---------------------------------------------


def k_not(a: Tri) -> Tri:
    return None if a is None else not a


def k_all(values: list[Tri]) -> Tri:
    return False if False in values else None if None in values else True


def k_any(values: list[Tri]) -> Tri:
    return True if True in values else None if None in values else False


def k_at_least(n: int, values: list[Tri]) -> Tri:
    if values.count(True) >= n:
        return True
    return False if values.count(False) > len(values) - n else None


def status_of(applies: Tri, when: Tri, undecided: Tri) -> str:
    if applies is False:
        return "not_applicable"
    if applies is None or when is None:
        return "indeterminate"
    if when:
        return "met"
    return "not_met" if undecided is False else "indeterminate"


@dataclass
class World:
    """A generated pack: criteria and rules as YAML data, and their scopes."""

    criteria: dict[str, tuple[str, Cond]] = field(default_factory=dict)  # name -> title, when
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def leaves(self, cond: Cond) -> Iterator[dict[str, Any]]:
        """The tests of a condition, criteria and rule references inlined."""
        if isinstance(cond, str):
            yield from self.leaves(self.criteria[cond][1])
        elif "field" in cond:
            yield cond
        elif "rule" in cond:
            for part in self.parts(self.rules[cond["rule"]]):
                yield from self.leaves(part)
        elif "not" in cond:
            yield from self.leaves(cond["not"])
        else:
            for child in cond.get("all") or cond.get("any") or cond["of"]:
                yield from self.leaves(child)

    @staticmethod
    def parts(rule: dict[str, Any]) -> list[Cond]:
        return [rule[key] for key in ("applies_if", "when", "undecided_if") if key in rule]

    def tests(self, rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {key(leaf): leaf for part in self.parts(rule) for leaf in self.leaves(part)}

    def value(self, cond: Cond, leaf: Callable[[dict[str, Any]], Tri]) -> Tri:
        if isinstance(cond, str):
            return self.value(self.criteria[cond][1], leaf)
        if "field" in cond:
            return leaf(cond)
        if "rule" in cond:
            status = self.status(self.rules[cond["rule"]], leaf)
            return None if status == "indeterminate" else status == "met"
        if "not" in cond:
            return k_not(self.value(cond["not"], leaf))
        if "all" in cond:
            return k_all([self.value(c, leaf) for c in cond["all"]])
        if "any" in cond:
            return k_any([self.value(c, leaf) for c in cond["any"]])
        return k_at_least(cond["at_least"], [self.value(c, leaf) for c in cond["of"]])

    def status(self, rule: dict[str, Any], leaf: Callable[[dict[str, Any]], Tri]) -> str:
        applies = self.value(rule["applies_if"], leaf) if "applies_if" in rule else True
        undecided = self.value(rule["undecided_if"], leaf) if "undecided_if" in rule else False
        return status_of(applies, self.value(rule["when"], leaf), undecided)


def key(leaf: dict[str, Any]) -> str:
    """A test as the judgement's ``because.criteria`` names it."""
    if "is" in leaf:
        return f"{leaf['field']} is {leaf['is']}"
    if "contains" in leaf:
        return f"{leaf['field']} contains {leaf['contains']}"
    [(op, value)] = [(k, v) for k, v in leaf.items() if k != "field"]
    shown = str(value).lower() if isinstance(value, bool) else value
    return f"{leaf['field']} {OPERATORS[op]} {shown}"


def outcome(leaf: dict[str, Any], fact: dict[str, Any]) -> Tri:
    """A test's outcome on the oracle's own fact (lists as sets, absent values absent)."""
    if "contains" in leaf:
        return leaf["contains"] in fact.get(leaf["field"], ())
    value = fact.get(leaf["field"])
    if value is None:
        return None
    if "is" in leaf:
        if value == leaf["is"]:
            return True
        return None if value == "indeterminate" else False
    [(op, wanted)] = [(k, v) for k, v in leaf.items() if k != "field"]
    return COMPARE[op](value, wanted)


class Relevance:
    """Which tests are needed, by brute force over every combination of test outcomes."""

    def __init__(self, world: World, rule: dict[str, Any]) -> None:
        self.tests = world.tests(rule)
        self.keys = list(self.tests)
        fields = [leaf["field"] if not ("is" in leaf or "contains" in leaf) else None
                  for leaf in self.tests.values()]
        choices = [(True, False) if "contains" in leaf else (True, False, None)
                   for leaf in self.tests.values()]
        self.table: dict[tuple[Tri, ...], str] = {}
        for combo in itertools.product(*choices):
            # Comparisons of one field are all unknown (absent) or all known (present).
            presence: dict[str, bool] = {}
            if any(presence.setdefault(f, v is not None) != (v is not None)
                   for f, v in zip(fields, combo, strict=True) if f is not None):
                continue
            outcomes = dict(zip(self.keys, combo, strict=True))
            self.table[combo] = world.status(rule, lambda leaf, o=outcomes: o[key(leaf)])
        self._groups: dict[tuple[int, ...], dict[tuple[Tri, ...], set[str]]] = {}

    def decides(self, chosen: tuple[int, ...], vector: tuple[Tri, ...]) -> bool:
        groups = self._groups.get(chosen)
        if groups is None:
            groups = self._groups[chosen] = {}
            for combo, status in self.table.items():
                groups.setdefault(tuple(combo[i] for i in chosen), set()).add(status)
        return len(groups[tuple(vector[i] for i in chosen)]) == 1

    def needed(self, vector: tuple[Tri, ...]) -> set[str]:
        minimal: list[set[int]] = []
        for size in range(len(vector) + 1):
            for chosen in itertools.combinations(range(len(vector)), size):
                if any(found <= set(chosen) for found in minimal):
                    continue
                if self.decides(chosen, vector):
                    minimal.append(set(chosen))
        return {self.keys[i] for found in minimal for i in found}


# --- generation -------------------------------------------------------------------------------


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.world = World()
        self.judgements: dict[str, list[str]] = {"visit": [], "patient": []}
        self.derived: dict[str, dict[str, Any]] = {
            "dose": {"kind": "dose_per_kg", "scope": "visit", "title": "Dose",
                     "per_kg": "prednisone_mg_per_kg_day", "per_day": "prednisone_mg_per_day",
                     "weight": "weight_kg"},
            "ev_ck": {"kind": "visit_value", "visit": "evaluation", "field": "ck_u_l",
                      "title": "CK now"},
            "ev_cmas": {"kind": "visit_value", "visit": "evaluation", "field": "cmas",
                        "title": "CMAS now"},
            "has_previous": {"kind": "visit_exists", "visit": "previous", "title": "Seen before"},
            "ev_zoster": {"kind": "visit_event", "visit": "evaluation", "event": "herpes_zoster",
                          "title": "Zoster now"},
        }
        self.status_fields: list[str] = []

    def leaf(self, scope: str) -> dict[str, Any]:
        rng = self.rng
        if scope == "visit":
            if rng.random() < 0.15:
                return {"field": "adverse_events", "contains": rng.choice(EVENTS)}
            return {"field": rng.choice(VISIT_NUMBERS),
                    rng.choice(list(OPERATORS)): rng.choice(THRESHOLDS)}
        roll = rng.random()
        if roll < 0.35 and self.status_fields:
            return {"field": rng.choice(self.status_fields), "is": rng.choice(STATUSES)}
        if roll < 0.5:
            return {"field": "antibodies", "contains": rng.choice(ANTIBODIES)}
        if roll < 0.65:
            return {"field": rng.choice(("has_previous", "ev_zoster")),
                    rng.choice(("eq", "neq")): rng.choice((True, False))}
        return {"field": rng.choice(("ev_ck", "ev_cmas")),
                rng.choice(list(OPERATORS)): rng.choice(THRESHOLDS)}

    def condition(self, scope: str, depth: int, refs: bool = True) -> Cond:
        rng = self.rng
        roll = rng.random()
        criteria = [n for n in self.world.criteria if n.startswith(scope[0])]
        if depth == 0 or roll < 0.3:
            return self.leaf(scope)
        if roll < 0.4 and criteria:
            return rng.choice(criteria)
        if roll < 0.5 and refs and self.judgements[scope]:
            return {"rule": rng.choice(self.judgements[scope])}
        shape = rng.choice(("all", "any", "not", "at_least"))
        if shape == "not":
            return {"not": self.condition(scope, depth - 1, refs)}
        children = [self.condition(scope, depth - 1, refs) for _ in range(rng.randint(1, 3))]
        if shape == "at_least":
            return {"at_least": rng.randint(1, len(children)), "of": children}
        return {shape: children}

    def criterion(self, scope: str) -> None:
        name = f"{scope[0]}_crit_{len(self.world.criteria)}"
        when = self.condition(scope, 1, refs=False)
        self.world.criteria[name] = (f"title of {name}", when)

    def rule(self, scope: str, kind: str) -> None:
        rules = self.world.rules
        for _ in range(20):
            number = len(rules)
            rule: dict[str, Any] = {"id": f"{scope[0]}.{kind}_{number}", "title": "Generated",
                                    "kind": kind, "scope": scope, "references": ["r"],
                                    "when": self.condition(scope, 3)}
            if self.rng.random() < 0.35:
                rule["applies_if"] = self.condition(scope, 1)
            if kind == "judgement" and self.rng.random() < 0.35:
                named = [n for n in self.world.criteria if n.startswith(scope[0])]
                members = [self.rng.choice(named) if named and self.rng.random() < 0.6
                           else self.leaf(scope) for _ in range(self.rng.randint(1, 2))]
                rule["undecided_if"] = members[0] if len(members) == 1 else {"any": members}
            if kind != "judgement":
                rule[kind] = {"summary": "Generated"}
            if len(self.world.tests(rule)) <= MAX_TESTS:
                rules[rule["id"]] = rule
                if kind == "judgement":
                    self.judgements[scope].append(rule["id"])
                    if scope == "visit" and len(self.status_fields) < 3:
                        name = f"st_{len(self.status_fields)}"
                        self.derived[name] = {"kind": "visit_status", "visit": "evaluation",
                                              "rule": rule["id"], "title": "Status now"}
                        self.status_fields.append(name)
                return

    def pack(self) -> dict[str, Any]:
        for _ in range(3):
            self.criterion("visit")
        for _ in range(6):
            self.rule("visit", "judgement")
        for _ in range(2):
            self.rule("visit", "alert")
        for _ in range(3):
            self.criterion("patient")
        for _ in range(6):
            self.rule("patient", "judgement")
        self.rule("patient", "alert")
        self.rule("patient", "recommendation")
        return {
            "pack": {"id": "generated", "version": "1.0.0", "title": "Generated",
                     "references": {"r": {"citation": "Generated for the property test"}}},
            "derived": self.derived,
            "criteria": {name: {"title": title, "when": when}
                         for name, (title, when) in self.world.criteria.items()},
            "rules": list(self.world.rules.values()),
        }

    def visit(self, day: int) -> dict[str, Any]:
        rng = self.rng

        def maybe(choices: tuple[float, ...]) -> float | None:
            return rng.choice(choices) if rng.random() < 0.7 else None

        values: dict[str, Any] = {name: maybe((0, 1, 2, 3)) for name in NUMBERS}
        # A dose is given per kg or per day, never both (the patient file refuses both).
        per_kg = rng.random() < 0.5
        values |= {"prednisone_mg_per_kg_day": maybe((0, 1, 2, 3)) if per_kg else None,
                   "prednisone_mg_per_day": None if per_kg else maybe((0, 2, 4, 6)),
                   "weight_kg": maybe((1, 2))}
        events = [e for e in EVENTS if rng.random() < 0.3]
        return {"date": (START + dt.timedelta(days=day)).isoformat(),
                **{k: v for k, v in values.items() if v is not None}, "adverse_events": events}

    def patient(self, index: int) -> dict[str, Any]:
        visits = [self.visit(30 * n) for n in range(self.rng.randint(1, 3))]
        antibodies = [a for a in ANTIBODIES if self.rng.random() < 0.4]
        return {"id": f"p{index}", "antibodies": antibodies, "visits": visits}


# --- what the oracle expects ------------------------------------------------------------------


def visit_fact(visit: dict[str, Any]) -> dict[str, Any]:
    fact = dict(visit)
    if "prednisone_mg_per_kg_day" in visit:
        fact["dose"] = visit["prednisone_mg_per_kg_day"]
    elif "prednisone_mg_per_day" in visit and "weight_kg" in visit:
        fact["dose"] = visit["prednisone_mg_per_day"] / visit["weight_kg"]
    return fact


def patient_fact(world: World, derived: dict[str, dict[str, Any]], data: dict[str, Any],
                 evaluation: dict[str, Any]) -> dict[str, Any]:
    fact: dict[str, Any] = {"antibodies": data["antibodies"],
                            "has_previous": len(data["visits"]) > 1,
                            "ev_zoster": "herpes_zoster" in evaluation["adverse_events"]}
    for name, field_name in (("ev_ck", "ck_u_l"), ("ev_cmas", "cmas")):
        if field_name in evaluation:
            fact[name] = evaluation[field_name]
    for name, spec in derived.items():
        if spec["kind"] == "visit_status":
            fact[name] = world.status(world.rules[spec["rule"]],
                                      lambda leaf: outcome(leaf, evaluation))
    return fact


def check_judgement(world: World, relevance: Relevance, rule: dict[str, Any],
                    fact: dict[str, Any], found: Any) -> None:
    where = f"{rule['id']} on {fact}\nrule: {rule}"
    def leaf_on_fact(leaf: dict[str, Any]) -> Tri:
        return outcome(leaf, fact)

    status = world.status(rule, leaf_on_fact)
    assert found.status == status, where
    vector = tuple(outcome(relevance.tests[k], fact) for k in relevance.keys)
    needed = relevance.needed(vector)
    shown = {c["test"]: c["status"] for c in found.because["criteria"]}
    assert set(shown) == set(relevance.keys), where
    named = {True: "met", False: "not_met", None: "indeterminate"}
    for test_key, got in zip(relevance.keys, vector, strict=True):
        expected = named[got] if test_key in needed else "not_needed"
        assert shown[test_key] == expected, f"{test_key}: {where}"
    missing = {relevance.tests[k]["field"] for k, got in zip(relevance.keys, vector, strict=True)
               if k in needed and got is None and relevance.tests[k]["field"] not in fact}
    assert set(found.missing) == (missing if status == "indeterminate" else set()), where
    if "undecided_if" in rule:
        cond = rule["undecided_if"]
        members = cond["any"] if isinstance(cond, dict) and "any" in cond else [cond]
        texts = {world.criteria[m][0] if isinstance(m, str) else key(m):
                 world.value(m, leaf_on_fact) for m in members}
        said = {text for text in found.reasons if text in texts}
        expected_texts = {t for t, holds in texts.items() if holds} if status == "indeterminate" \
            else set()
        assert said == expected_texts, where


def check_world(rng: random.Random, patients: int) -> int:
    """Generate one pack and ``patients`` patients; returns the number of cases checked."""
    generator = Generator(rng)
    pack = generator.pack()
    world = generator.world
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.yaml"
        path.write_text(yaml.safe_dump(pack, sort_keys=False), encoding="utf-8")
        evaluator = Evaluator(load_rulebase([(path, None)]))
    relevance = {rid: Relevance(world, rule) for rid, rule in world.rules.items()
                 if rule["kind"] == "judgement"}
    cases = 0
    for index in range(patients):
        data = generator.patient(index)
        try:
            assessment: Assessment = evaluator.evaluate(Patient.model_validate(data))
        except RuleExecutionError as error:
            # A fact that matches too many alpha nodes at once exceeds durable_rules' fixed
            # stack (error 303): a refusal for this patient, never an answer to check.
            assert "error code: 303" in str(error)
            continue
        facts = [visit_fact(v) for v in data["visits"]]
        evaluation = facts[-1]
        patient = patient_fact(world, generator.derived, data, evaluation)
        alerts = {(a.rule, a.visit_date) for a in assessment.alerts}
        recommended = {r.rule for r in assessment.recommendations}
        for rid, rule in world.rules.items():
            scope_facts = facts if rule["scope"] == "visit" else [patient]
            if rule["kind"] == "judgement":
                fact = evaluation if rule["scope"] == "visit" else patient
                check_judgement(world, relevance[rid], rule, fact, assessment.judgements[rid])
            else:
                met = [i for i, fact in enumerate(scope_facts)
                       if world.status(rule, lambda leaf, f=fact: outcome(leaf, f)) == "met"]
                if rule["kind"] == "recommendation":
                    assert (rid in recommended) == bool(met), f"{rid}: {rule}"
                else:
                    dates = {None} if rule["scope"] == "patient" else {
                        dt.date.fromisoformat(data["visits"][i]["date"]) for i in met}
                    assert {d for r, d in alerts if r == rid} == (dates if met else set()), \
                        f"{rid}: {rule}"
            cases += 1
    return cases


# The same seeds in every ``make test`` (a seed shrinks to nothing simpler, so no shrinking);
# new ones in every campaign.
@settings(campaign(examples=20, fuzz_examples=3000), phases=(Phase.explicit, Phase.generate),
          derandomize=not FUZZ)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@pytest.mark.fuzz
def test_compiled_rules_agree_with_the_kleene_oracle(seed: int) -> None:
    # A failure names its seed: check_world(random.Random(seed), 20) replays it.
    # 16 rules and 20 patients: 320 cases, less those of a patient the engine refused
    # (error 303). The fixed seeds of make test keep at least 280 each: 5,600 in all.
    cases = check_world(random.Random(seed), patients=20)
    assert cases >= (0 if FUZZ else 280)
