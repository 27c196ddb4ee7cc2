"""The one-pass check of alias-free files says what the whole check says, on any graph."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.model.yaml12 import MAX_ALIAS_NODES, MAX_DEPTH, _check_graph, check_bounds

FIXED = [
    "a: 1\nb: [1, 2, {c: 3}]\n",
    "a: &x [1, 2]\nb: *x\nc: *x\n",
    "a: &x [&y [1], *y]\nb: [*x, *x]\n",
    "&x [*x]\n",
    "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1),
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "a: &x " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\nb: [*x]\n",
    "a: &x [" + ", ".join(["1"] * 400) + "]\nb: [" + ", ".join(["*x"] * 400) + "]\n",
]


def outcome(check: Callable[[yaml.Node], None], text: str) -> str | None:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    assert node is not None
    try:
        check(node)
    except yaml.YAMLError as error:
        return f"{error}"
    return None


@pytest.mark.parametrize("text", FIXED)
def test_the_same_outcome_as_the_whole_check(text: str) -> None:
    assert outcome(check_bounds, text) == outcome(_check_graph, text)


def test_the_examples_cover_each_outcome() -> None:
    found = {outcome(check_bounds, text) for text in FIXED}
    assert None in found
    assert any(o and "deeper" in o for o in found)
    assert any(o and "own anchor" in o for o in found)
    assert any(o and f"{MAX_ALIAS_NODES:,}" in o for o in found)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Nested flow sequences, some anchored and some aliases to anchors already seen."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        choice = draw(st.integers(0, 3 if depth < MAX_DEPTH + 2 else 0))
        if choice == 0:
            if anchors and draw(st.booleans()):
                return "*" + draw(st.sampled_from(anchors))
            return "1"
        items = [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        text = "[" + ", ".join(items) + "]"
        if draw(st.booleans()):
            name = f"a{len(anchors)}"
            anchors.append(name)
            return f"&{name} {text}"
        return text

    return node(1)


@given(documents())
def test_generated_graphs_agree(text: str) -> None:
    assert outcome(check_bounds, text) == outcome(_check_graph, text)
