"""Which tests of a judgement mattered on one fact, whatever order the compiler chose.

Each test of a rule has an outcome on a fact: true, false or unknown (``reader``). A set
of tests, held at their outcomes, *decides* the judgement when every decision path that
agrees with them proves the same status: the paths cover every combination of outcomes
(tests being independent, except that the comparisons of one field share its presence),
so the status no longer depends on what the other tests say. A test is *needed* when it
belongs to some minimal deciding set, and ``not_needed`` otherwise. Every test of a
minimal set is needed alike, so "at least 3 of 4" met by four normal values shows all four
as met, and which test the expansion happened to fix first changes nothing.

The decision itself is the engine's: the path that fired. The outcomes read here must
select that very path (``Relevance.explain`` says which path they select, and the caller
checks): Python only explains, and a disagreement is an error, never a second opinion.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jdm_cds.language.compiler import OUTCOMES, CompiledRule, Outcome, leaf_key, list_key
from jdm_cds.language.rule_types import Compare, Contains, Is, Leaf, Status

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
    "eq": operator.eq, "neq": operator.ne,
}
# Past this many distinct outcome vectors of one rule the cache starts again (a rule has
# at most 3^tests of them; a cohort meets few).
_CACHE_SIZE = 4096


# A test as data: the fact key it reads, how it tests it, the comparison, the value compared.
_Test = tuple[str, str, Callable[[Any, Any], bool] | None, Any]
_CONTAINS, _IS, _COMPARES = "contains", "is", "compares"


def _test(leaf: Leaf) -> _Test:
    if isinstance(leaf, Contains):
        return list_key(leaf.field, leaf.item), _CONTAINS, None, None
    if isinstance(leaf, Is):
        return leaf.field, _IS, None, leaf.status
    return leaf.field, _COMPARES, _COMPARE[leaf.op], leaf.value


def read_outcomes(tests: tuple[_Test, ...], fact: Mapping[str, Any]) -> tuple[Outcome, ...]:
    """Each test's outcome on ``fact``, as the compiled paths test it, in one loop
    (explaining reads every judgement's tests in every evaluation)."""
    read: list[Outcome] = []
    get = fact.get
    for key, how, compare, wanted in tests:
        value = get(key)
        if how is _CONTAINS:
            read.append("T" if value else "F")
        elif how is _IS:
            read.append("T" if value == wanted else
                        "U" if value is None or value == "indeterminate" else "F")
        elif value is None:
            read.append("U")
        else:
            assert compare is not None  # a comparison's test carries its operator
            read.append("T" if compare(value, wanted) else "F")
    return tuple(read)


def reader(leaf: Leaf) -> Callable[[Mapping[str, Any]], Outcome]:
    """Reads one test's outcome on a fact, as the compiled paths test it."""
    tests = (_test(leaf),)
    return lambda fact: read_outcomes(tests, fact)[0]


class Relevance:
    """The decision paths of one judgement, as bit masks over its tests (in ``leaves`` order)."""

    def __init__(self, compiled: CompiledRule) -> None:
        self.leaves = compiled.leaves
        self._tests = tuple(_test(leaf) for leaf in self.leaves)
        keys = [leaf_key(leaf) for leaf in self.leaves]
        # For each status path: its index, its status, and the tests it admits as true, as
        # false and as unknown (a test the path does not fix admits every outcome).
        self._paths: list[tuple[int, Status, int, int, int]] = []
        for index, (result, path) in enumerate(compiled.paths):
            if result.startswith("reason:"):
                continue
            steps = dict(path)
            # A step that fixes a comparison as unknown (or as known) fixes its field's
            # presence, and with it the other comparisons of that field, which the path then
            # need not name: (ck_u_l = 0 unknown) leaves (ck_u_l = 1.5) unknown too.
            present = {leaf.field: "U" not in steps[key]
                       for leaf, key in zip(self.leaves, keys, strict=True)
                       if isinstance(leaf, Compare) and key in steps
                       and ("U" not in steps[key] or steps[key] == ("U",))}
            allowed = [tuple(o for o in steps.get(key, OUTCOMES)
                             if not isinstance(leaf, Compare) or leaf.field not in present
                             or (o != "U") == present[leaf.field])
                       for leaf, key in zip(self.leaves, keys, strict=True)]
            true, false, unknown = (sum(1 << i for i, outcomes in enumerate(allowed)
                                        if o in outcomes) for o in OUTCOMES)
            self._paths.append((index, result, true, false, unknown))  # type: ignore[arg-type]
        self._cache: dict[tuple[Outcome, ...], tuple[int | None, int]] = {}

    def outcomes(self, fact: Mapping[str, Any]) -> tuple[Outcome, ...]:
        return read_outcomes(self._tests, fact)

    def explain(self, outcomes: tuple[Outcome, ...]) -> tuple[int | None, int]:
        """The path these outcomes select (None: no single one), and the needed tests' mask."""
        found = self._cache.get(outcomes)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            found = self._cache[outcomes] = self._explain(outcomes)
        return found

    def _explain(self, outcomes: tuple[Outcome, ...]) -> tuple[int | None, int]:
        full = (1 << len(outcomes)) - 1
        true, false, unknown = outcome_masks(enumerate(outcomes))
        # The tests on which each path agrees with these outcomes.
        agree = [(index, status, (if_true & true) | (if_false & false) | (if_unknown & unknown))
                 for index, status, if_true, if_false, if_unknown in self._paths]
        selected = [(index, status) for index, status, mask in agree if mask == full]
        if len(selected) != 1:
            return None, 0
        index, status = selected[0]
        # A set of tests decides when it disagrees with every path of another status: when
        # it hits each rival, the tests on which such a path disagrees. The smallest rivals
        # first: a larger one is then mostly hit already.
        rivals = sorted({full & ~mask for _, other, mask in agree if other != status},
                        key=int.bit_count)
        return index, minimal_sets_union(rivals)


def outcome_masks(outcomes: Iterable[tuple[int, Outcome]]) -> tuple[int, int, int]:
    """The tests (index, outcome) true, false and unknown, each as a bit mask."""
    true = false = unknown = 0
    for index, got in outcomes:
        if got == "T":
            true |= 1 << index
        elif got == "F":
            false |= 1 << index
        else:
            unknown |= 1 << index
    return true, false, unknown


def minimal_sets_union(rivals: list[int]) -> int:
    """The tests of every minimal set that hits each rival (bit masks): grown one rival at a
    time, a set that misses it taking each of its tests in turn, then only the minimal ones
    kept (Berge's way), rather than trying every subset of the tests in order of size."""
    minimal = [0]
    for rival in rivals:
        missed = [tests for tests in minimal if not tests & rival]
        if not missed:
            continue  # every set hits it already
        # A set that hits it stays minimal (none grown from a set that misses it can be
        # smaller); one that misses it takes each of its tests, and is kept when it holds
        # no set kept before it.
        minimal = [tests for tests in minimal if tests & rival]
        bits = [1 << bit for bit in range(rival.bit_length()) if rival >> bit & 1]
        for tests in sorted({tests | bit for tests in missed for bit in bits},
                            key=int.bit_count):
            for kept in minimal:
                if kept & tests == kept:
                    break
            else:
                minimal.append(tests)
    needed = 0
    for tests in minimal:
        needed |= tests
    return needed
