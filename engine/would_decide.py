"""What would decide an open judgement: the smallest sets of missing values that would settle
it, and for each the ranges of those values that give each status.

Computed from the compiled rule, never written per rule. A rule's decision paths say, for
every combination of its tests' outcomes (true, false, unknown), which status it proves. On
one fact, the tests of the recorded values have their outcomes; the tests of a missing value
(or of a judgement status that is itself indeterminate) are unknown. For each missing value,
the thresholds its tests compare it with cut its range (the patient file's range, for a
measure) into intervals on which every one of its tests has one outcome. A *completion*
gives some missing values one interval each; it settles the judgement when the path its
outcomes select proves ``met``, ``not_met`` or ``not_applicable``. A completion is reported
when no part of it settles the judgement alone, and the sets of values such completions
fill are the smallest sets that would decide it. Each interval is said as a test
(``cmas >= 48``) and with its bounds, so that a program can check it.

An open time window is said apart: the day it closes and, in words, what a visit on or
before that day would need.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from jdm_cds.language.compiler import OUTCOMES, CompiledRule, Outcome, RuleBase, leaf_key
from jdm_cds.language.relevance import outcome_masks, reader
from jdm_cds.language.rule_types import (
    STATUSES,
    All,
    Any_,
    AtLeast,
    Compare,
    Condition,
    Contains,
    CriterionRef,
    Is,
    Leaf,
    Not,
    RuleRef,
)
from jdm_cds.model.assessment import Bound, Completion, WindowClose, WouldDecide
from jdm_cds.model.patient import Visit

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
    "eq": operator.eq, "neq": operator.ne,
}
_SYMBOL = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "!="}
# The search stops past this many completions tried for one judgement (a rule with many
# missing values); the answer then says it is incomplete.
MAX_TRIED = 20_000
_CACHE_SIZE = 4096
SETTLED = ("met", "not_met", "not_applicable")


def outcome(leaf: Leaf, fact: Mapping[str, Any]) -> Outcome:
    """One test's outcome on a fact, read as the compiled paths test it."""
    return reader(leaf)(fact)


def _measure_range(field: str) -> tuple[float | None, float | None]:
    """The inclusive range the patient file allows for a visit measure, if it is one."""
    info = Visit.model_fields.get(field)
    low = high = None
    if info is not None:
        for item in info.metadata:
            for name in ("ge", "gt"):
                if getattr(item, name, None) is not None:
                    low = float(getattr(item, name))
            if getattr(item, "le", None) is not None:
                high = float(item.le)
    return low, high


@dataclass(frozen=True)
class _Interval:
    """One piece of a missing value's range, with the outcome of each of its tests there."""

    bound: Bound
    outcomes: tuple[Outcome, ...]  # one per test of the field, in the field's test order
    sample: Any  # a value inside the interval


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _numeric_intervals(field: str, leaves: list[Compare]) -> list[_Interval]:
    thresholds = sorted({float(leaf.value) for leaf in leaves})
    low, high = _measure_range(field)
    points = set(thresholds)
    points.update((a + b) / 2 for a, b in itertools.pairwise(thresholds))
    points.update((thresholds[0] - 1, thresholds[-1] + 1))
    points.update(p for p in (low, high) if p is not None)
    ordered = sorted(p for p in points if (low is None or p >= low)
                     and (high is None or p <= high))
    if not ordered:
        return []
    vectors: list[tuple[Outcome, ...]] = [
        tuple("T" if _COMPARE[leaf.op](p, leaf.value) else "F" for leaf in leaves)
        for p in ordered]
    runs: list[tuple[int, int]] = []
    for index, vector in enumerate(vectors):
        if runs and vectors[runs[-1][0]] == vector:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    marks = set(thresholds)
    intervals = []
    for first, last in runs:
        lo: float | None
        hi: float | None
        if first == 0:
            lo, lo_in = low, True
        elif ordered[first] in marks:
            lo, lo_in = ordered[first], True
        else:
            lo, lo_in = ordered[first - 1], False
        if last == len(ordered) - 1:
            hi, hi_in = high, True
        elif ordered[last] in marks:
            hi, hi_in = ordered[last], True
        else:
            hi, hi_in = ordered[last + 1], False
        sample = ordered[first] if ordered[first] in marks or first == last else \
            ordered[(first + last) // 2]
        intervals.append(_Interval(_bound(field, lo, lo_in, hi, hi_in), vectors[first],
                                   sample))
    return intervals


def _bound(field: str, lo: float | None, lo_in: bool, hi: float | None, hi_in: bool) -> Bound:
    if lo is not None and hi is not None and lo == hi:
        text = f"{field} = {_number(lo)}"
    elif lo is not None and hi is not None:
        text = (f"{_number(lo)} {'<=' if lo_in else '<'} {field} "
                f"{'<=' if hi_in else '<'} {_number(hi)}")
    elif lo is not None:
        text = f"{field} {'>=' if lo_in else '>'} {_number(lo)}"
    elif hi is not None:
        text = f"{field} {'<=' if hi_in else '<'} {_number(hi)}"
    else:
        text = f"{field}: any value"
    return Bound(field=field, text=text, low=lo, low_inclusive=lo_in, high=hi,
                 high_inclusive=hi_in)


def _measure_bounds_text(bound: Bound) -> Bound:
    """A bound whose range reaches the field's allowed limit reads as a one-sided test:
    ``cmas >= 48`` rather than ``48 <= cmas <= 52`` (the bounds themselves stay)."""
    text = _bound(bound.field, *_sides(one_sided(bound))).text
    return bound if bound.values is not None else bound.model_copy(update={"text": text})


def _sides(bound: Bound) -> tuple[float | None, bool, float | None, bool]:
    return bound.low, bound.low_inclusive, bound.high, bound.high_inclusive


def one_sided(bound: Bound) -> Bound:
    """``bound`` without the side that is the measure's own limit (a single value stays)."""
    if bound.values is not None or (bound.low is not None and bound.low == bound.high):
        return bound
    low, high = _measure_range(bound.field)
    lo = None if bound.low == low and bound.low_inclusive else bound.low
    hi = None if bound.high == high and bound.high_inclusive else bound.high
    if lo is None and hi is None:
        return bound
    return bound.model_copy(update={"low": lo, "high": hi})


def _choice_intervals(field: str, leaves: list[Leaf]) -> list[_Interval]:
    """A field that is not a number: yes/no, a text, or a judgement status."""
    if all(isinstance(leaf, Is) for leaf in leaves):
        candidates: list[Any] = [s for s in STATUSES if s != "indeterminate"]
    elif all(isinstance(leaf, Compare) and isinstance(leaf.value, bool) for leaf in leaves):
        candidates = [True, False]
    else:
        named = [leaf.value for leaf in leaves if isinstance(leaf, Compare)]
        candidates = [*dict.fromkeys(named), "(another value)"]
    grouped: dict[tuple[Outcome, ...], list[Any]] = {}
    for value in candidates:
        vector = tuple(outcome(leaf, {field: value}) for leaf in leaves)
        grouped.setdefault(vector, []).append(value)
    intervals = []
    for vector, values in grouped.items():
        shown = " or ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
        text = f"{field} is {shown}" if isinstance(leaves[0], Is) else f"{field} = {shown}"
        intervals.append(_Interval(Bound(field=field, text=text, values=tuple(values)), vector,
                                   values[0]))
    return intervals


class _Rule:
    """One judgement's paths as bit masks, and the pieces of each of its fields' ranges."""

    def __init__(self, compiled: CompiledRule) -> None:
        self.compiled = compiled
        self.leaves = compiled.leaves
        self.keys = [leaf_key(leaf) for leaf in self.leaves]
        # Each status path, with the tests it admits as true, as false and as unknown.
        self.paths: list[tuple[str, tuple[int, int, int]]] = []
        for result, path in compiled.paths:
            if result.startswith("reason:"):
                continue
            steps = dict(path)
            true, false, unknown = (sum(1 << i for i, key in enumerate(self.keys)
                                        if o in steps.get(key, OUTCOMES)) for o in OUTCOMES)
            self.paths.append((result, (true, false, unknown)))
        self.by_field: dict[str, list[int]] = {}
        for index, leaf in enumerate(self.leaves):
            if not isinstance(leaf, Contains):
                self.by_field.setdefault(leaf.field, []).append(index)
        self.intervals: dict[str, list[_Interval]] = {}
        for field, indexes in self.by_field.items():
            leaves = [self.leaves[i] for i in indexes]
            numeric = all(isinstance(leaf, Compare) and isinstance(leaf.value, int | float)
                          and not isinstance(leaf.value, bool) for leaf in leaves)
            self.intervals[field] = (_numeric_intervals(field, leaves)  # type: ignore[arg-type]
                                     if numeric else _choice_intervals(field, leaves))
        # A piece of a field's range as masks: the field's tests, and those of them true,
        # false and unknown there (a completion sets its pieces into the start's masks).
        self.field_masks = {field: sum(1 << i for i in indexes)
                            for field, indexes in self.by_field.items()}
        self.piece_masks = {field: [outcome_masks(zip(self.by_field[field], piece.outcomes,
                                                      strict=True))
                                    for piece in pieces]
                            for field, pieces in self.intervals.items()}
        self.full = (1 << len(self.leaves)) - 1
        self._cache: dict[tuple[Outcome, ...], tuple[list[Completion], bool]] = {}
        # The bound of each run of pieces of a field, as a completion shows it (frozen).
        self._bounds: dict[tuple[str, tuple[int, ...]], Bound] = {}

    def status(self, having: tuple[int, int, int]) -> str | None:
        """The status of the path that the tests true, false and unknown (masks) select."""
        true, false, unknown = having
        for result, (if_true, if_false, if_unknown) in self.paths:
            if (if_true & true) | (if_false & false) | (if_unknown & unknown) == self.full:
                return result
        return None

    def open_fields(self, outcomes: tuple[Outcome, ...]) -> list[str]:
        return [field for field, indexes in self.by_field.items()
                if any(outcomes[i] == "U" for i in indexes) and self.intervals[field]]

    def completions(self, outcomes: tuple[Outcome, ...]) -> tuple[list[Completion], bool]:
        found = self._cache.get(outcomes)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            found = self._cache[outcomes] = self._search(outcomes)
        return found

    def _search(self, start: tuple[Outcome, ...]) -> tuple[list[Completion], bool]:
        fields = self.open_fields(start)
        begun = outcome_masks(enumerate(start))
        settled: dict[str, set[frozenset[tuple[str, int]]]] = {s: set() for s in SETTLED}
        found: list[Completion] = []
        tried = 0
        for size in range(1, len(fields) + 1):
            for chosen in itertools.combinations(fields, size):
                combos = itertools.product(*(range(len(self.intervals[f])) for f in chosen))
                by_status: dict[str, list[tuple[int, ...]]] = {s: [] for s in SETTLED}
                for combo in combos:
                    tried += 1
                    if tried > MAX_TRIED:
                        return found, False
                    true, false, unknown = begun
                    for field, piece in zip(chosen, combo, strict=True):
                        other = ~self.field_masks[field]
                        if_true, if_false, if_unknown = self.piece_masks[field][piece]
                        true = true & other | if_true
                        false = false & other | if_false
                        unknown = unknown & other | if_unknown
                    status = self.status((true, false, unknown))
                    if status not in settled:
                        continue
                    items = frozenset(zip(chosen, combo, strict=True))
                    settled[status].add(items)
                    # Reported only when no part of it settles the same way alone.
                    if not any(frozenset(part) in settled[status]
                               for k in range(1, size)
                               for part in itertools.combinations(sorted(items), k)):
                        by_status[status].append(combo)
                if any(by_status.values()):
                    found.append(self._completion(chosen, by_status))
        return found, True

    def _completion(self, chosen: tuple[str, ...],
                    by_status: dict[str, list[tuple[int, ...]]]) -> Completion:
        def alternatives(combos: list[tuple[int, ...]]) -> tuple[tuple[Bound, ...], ...]:
            return tuple(tuple(self._bound(field, pieces)
                               for field, pieces in zip(chosen, box, strict=True))
                         for box in _boxes(combos, len(chosen)))

        return Completion(fields=chosen, met=alternatives(by_status["met"]),
                          not_met=alternatives(by_status["not_met"]),
                          not_applicable=alternatives(by_status["not_applicable"]))

    def _bound(self, field: str, pieces: tuple[int, ...]) -> Bound:
        """The bound of adjacent pieces as a completion shows it, made once per rule base."""
        bound = self._bounds.get((field, pieces))
        if bound is None:
            bound = self._bounds[field, pieces] = _measure_bounds_text(self._merge(field,
                                                                                 pieces))
        return bound

    def _merge(self, field: str, pieces: tuple[int, ...]) -> Bound:
        """The bound covering adjacent pieces of one field's range."""
        parts = [self.intervals[field][p].bound for p in pieces]
        if len(parts) == 1:
            return parts[0]
        if parts[0].values is not None:
            values = [v for part in parts for v in part.values or []]
            shown = " or ".join(str(v).lower() if isinstance(v, bool) else str(v)
                                for v in values)
            verb = "is" if " is " in parts[0].text else "="
            return Bound(field=field, text=f"{field} {verb} {shown}", values=tuple(values))
        return _bound(field, parts[0].low, parts[0].low_inclusive, parts[-1].high,
                      parts[-1].high_inclusive)


def _boxes(combos: list[tuple[int, ...]], width: int) -> list[tuple[tuple[int, ...], ...]]:
    """Combinations of piece indexes merged into boxes: runs of adjacent pieces of one field
    whose other fields agree (numeric pieces are in order, so a run is one range)."""
    boxes: list[tuple[tuple[int, ...], ...]] = [tuple((i,) for i in c) for c in sorted(combos)]
    for axis in range(width):
        merged: dict[tuple[tuple[int, ...], ...], list[tuple[int, ...]]] = {}
        for box in boxes:
            rest = box[:axis] + box[axis + 1:]
            merged.setdefault(rest, []).append(box[axis])
        boxes = []
        for rest, runs in merged.items():
            pieces = sorted({p for run in runs for p in run})
            for run in _adjacent_runs(pieces):
                boxes.append((*rest[:axis], run, *rest[axis:]))
    return boxes


def _adjacent_runs(pieces: list[int]) -> list[tuple[int, ...]]:
    runs: list[list[int]] = []
    for piece in pieces:
        if runs and runs[-1][-1] == piece - 1:
            runs[-1].append(piece)
        else:
            runs.append([piece])
    return [tuple(run) for run in runs]


class WouldDecideExplainer:
    """Adds ``would_decide`` to the indeterminate judgements of an evaluation."""

    def __init__(self, rulebase: RuleBase) -> None:
        self.rulebase = rulebase
        self._rules = {rule_id: _Rule(compiled) for rule_id, compiled in rulebase.rules.items()
                       if compiled.rule.kind == "judgement"}
        self._derived = {d.name: d for pack in rulebase.packs for d in pack.derived}
        # What a visit would need for the window of each rule that waits on one, after its
        # closing day (see _needs).
        self._counted: dict[str, str] = {}

    def explain(self, rule_id: str, start: tuple[Outcome, ...], fact: Mapping[str, Any],
                at: date, start_of: Callable[[str], date | None]) -> WouldDecide:
        """What would decide the open judgement of ``rule_id``, whose tests have the outcomes
        ``start`` on ``fact`` (in the order of the rule's tests)."""
        rule = self._rules[rule_id]
        sets, complete = rule.completions(start)
        return WouldDecide(sets=sets, window=self._window(rule, fact, at, start_of),
                           complete=complete)

    def _window(self, rule: _Rule, fact: Mapping[str, Any], at: date,
                start_of: Callable[[str], date | None]) -> WindowClose | None:
        """The window a rule waits on (a ``window_open`` value it tests, true now)."""
        for name in rule.compiled.fields:
            derived = self._derived.get(name)
            if derived is None or derived.kind != "window_open" or fact.get(name) is not True:
                continue
            begun = start_of(str(derived.params["treatment"]))
            if begun is None:
                continue
            closes = begun + timedelta(days=int(derived.params["days"]))
            return WindowClose(closes=closes, needs=self._needs(rule, closes))
        return None

    def _needs(self, rule: _Rule, closes: date) -> str:
        """What a visit before the window closes would need: the judgement the window
        counts, with the status it counts, said in the words of its rule (worked out once
        per rule)."""
        counted = self._counted.get(rule.compiled.rule.id)
        if counted is None:
            counted = self._counted[rule.compiled.rule.id] = self._counted_text(rule)
        return f"a visit on or before {closes.isoformat()}{counted}"

    def _counted_text(self, rule: _Rule) -> str:
        for name in rule.compiled.fields:
            derived = self._derived.get(name)
            if derived is None or derived.kind != "window_count" \
                    or "rule" not in derived.params or derived.params.get("final"):
                continue
            counted = self.rulebase.rules.get(str(derived.params["rule"]))
            if counted is None:
                continue
            status = str(derived.params.get("status", "met")).replace("_", " ")
            return (f" at which {counted.rule.id} ({counted.rule.label or counted.rule.title}) "
                    f"is {status}: {describe(counted.rule.when, counted, self.rulebase)}")
        return ""


def describe(cond: Condition, compiled: CompiledRule, rulebase: RuleBase) -> str:
    """A condition in words, its named criteria by their labels, a rule it refers to by its
    label and its own condition."""
    pack = compiled.pack
    if isinstance(cond, CriterionRef):
        criterion = pack.criteria.get(cond.name)
        return cond.name if criterion is None else criterion.label or criterion.title
    if isinstance(cond, RuleRef):
        other = rulebase.rules.get(cond.rule)
        if other is None:
            return cond.rule
        return (f"{other.rule.label or other.rule.title}: "
                f"{describe(other.rule.when, other, rulebase)}")
    if isinstance(cond, Compare):
        value = str(cond.value).lower() if isinstance(cond.value, bool) else cond.value
        return f"{cond.field} {_SYMBOL[cond.op]} {value}"
    if isinstance(cond, Is):
        return f"{cond.field} is {cond.status}"
    if isinstance(cond, Contains):
        return f"{cond.field} contains {cond.item}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.child, compiled, rulebase)})"
    parts = [describe(child, compiled, rulebase) for child in cond.children]
    if isinstance(cond, AtLeast):
        return f"at least {cond.n} of [{'; '.join(parts)}]"
    joiner = "; and " if isinstance(cond, All) else "; or "
    assert isinstance(cond, All | Any_)
    return joiner.join(parts)

