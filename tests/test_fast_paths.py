"""Each fast path of an evaluation gives what the general way it replaces gives."""

import re
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.defaults import default_evaluator
from jdm_cds.evaluate import _PLACEHOLDER, _fill, _show
from jdm_cds.facts.improvement import Change, points
from jdm_cds.language.compiler import OUTCOMES, leaf_key
from jdm_cds.language.relevance import minimal_sets_union, outcome_masks
from jdm_cds.would_decide import _Rule
from tests.campaign import campaign

_NAMES = ("ck_u_l", "dose", "x", "_a1")
_VALUES = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=5), st.lists(st.integers(), max_size=3))
# Messages with placeholders, braces that are not placeholders, and plain text.
_PIECES = st.one_of(st.text(alphabet="ab {}.:_", max_size=6),
                    st.sampled_from([f"{{{name}}}" for name in (*_NAMES, "unknown")]),
                    st.sampled_from(["{", "}", "{x.y}", "{1a}", "{{x}}", "{ x}"]))


@pytest.mark.fuzz
@campaign(500, 20_000)
@given(pieces=st.lists(_PIECES, max_size=8),
       fact=st.dictionaries(st.sampled_from(_NAMES), _VALUES))
def test_a_message_split_once_fills_as_a_pattern_substitution(pieces: list[str],
                                                              fact: dict[str, Any]) -> None:
    text = "".join(pieces)
    expected = _PLACEHOLDER.sub(lambda m: _show(fact.get(m.group(1))), text)

    assert _fill(tuple(_PLACEHOLDER.split(text)), fact) == expected


def test_a_placeholder_is_a_plain_name_only() -> None:
    fact = {"x": 1.5, "y": [1, 2]}
    assert _fill(tuple(_PLACEHOLDER.split("{x} and {y}, {x.y} {z}")), fact) == \
        "1.5 and 1, 2, {x.y} unknown"
    assert re.fullmatch(_PLACEHOLDER, "{x}")


_EDGES = st.lists(st.floats(-50, 150, allow_nan=False), min_size=1, max_size=5).map(sorted)
# Values near band edges and ties, as well as any finite ones.
_MEASURED = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 5.0, 10.0, 0.1, 0.3, 1e-300, 150.0]),
                      st.floats(-1e6, 1e6, allow_nan=False))


@pytest.mark.fuzz
@campaign(1_000, 50_000)
@given(start=_MEASURED, end=_MEASURED, low=_MEASURED, span=_MEASURED, edges=_EDGES)
def test_points_count_the_edges_that_change_exceeds(start: float, end: float, low: float,
                                                    span: float, edges: list[float]) -> None:
    high = low + abs(span) + 1.0
    change = Change(start, end, high, low)
    values = [float(band) for band in range(len(edges) + 1)]
    band = 0
    for edge in edges:
        if not change.exceeds(edge):
            break
        band += 1

    assert points(change, edges, values) == values[band]


def _union_of_minimal_sets_by_size(rivals: list[int], count: int) -> int:
    """Every subset of the tests in order of size, kept when it hits each rival and holds no
    smaller kept one: the minimal hitting sets, by their definition."""
    minimal: list[int] = []
    for size in range(count + 1):
        for chosen in combinations(range(count), size):
            tests = sum(1 << i for i in chosen)
            if not any(found & tests == found for found in minimal) \
                    and all(tests & rival for rival in rivals):
                minimal.append(tests)
    needed = 0
    for tests in minimal:
        needed |= tests
    return needed


@pytest.mark.fuzz
@campaign(500, 20_000)
@given(count=st.integers(1, 9), data=st.data())
def test_the_needed_tests_are_those_of_the_minimal_deciding_sets(count: int,
                                                                 data: st.DataObject) -> None:
    rivals = data.draw(st.lists(st.integers(1, (1 << count) - 1), max_size=6))

    assert minimal_sets_union(rivals) == _union_of_minimal_sets_by_size(rivals, count)


_JUDGEMENTS = [_Rule(compiled) for compiled in default_evaluator().rulebase.rules.values()
               if compiled.rule.kind == "judgement"]


@pytest.mark.fuzz
@campaign(300, 20_000)
@given(data=st.data())
def test_a_completion_set_as_masks_selects_the_path_its_outcomes_select(
        data: st.DataObject) -> None:
    rule = data.draw(st.sampled_from(_JUDGEMENTS))
    outcomes = data.draw(st.lists(st.sampled_from(OUTCOMES), min_size=len(rule.leaves),
                                  max_size=len(rule.leaves)))
    having = outcome_masks(enumerate(outcomes))
    # Some fields set to one piece of their range each, into the masks and into the list.
    for field in data.draw(st.lists(st.sampled_from(sorted(rule.intervals)), unique=True)):
        if not rule.intervals[field]:
            continue
        piece = data.draw(st.integers(0, len(rule.intervals[field]) - 1))
        for index, got in zip(rule.by_field[field], rule.intervals[field][piece].outcomes,
                              strict=True):
            outcomes[index] = got
        other = ~rule.field_masks[field]
        having = tuple(mask & other | set_ for mask, set_  # type: ignore[assignment]
                       in zip(having, rule.piece_masks[field][piece], strict=True))
    keys = [leaf_key(leaf) for leaf in rule.leaves]
    # The first status path whose every step admits the outcome of its test.
    expected = next((result for result, path in rule.compiled.paths
                     if not result.startswith("reason:")
                     and all(outcomes[keys.index(key)] in allowed for key, allowed in path)),
                    None)

    assert having == outcome_masks(enumerate(outcomes))
    assert rule.status(having) == expected
