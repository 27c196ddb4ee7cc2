"""The one-pass check of alias-free files says what the whole check says, on any graph; and
a plain tree read in one pass is what the whole path (the bounds, then the constructor)
reads, on any document."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jdm_cds.model import yaml12
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


# --- a plain tree in one pass -------------------------------------------------------------

SCALAR_TEXTS = ["0170", "1:30", "yes", "~", "null", "", "true", "tRue", "0o17", "0x1F", "1e3",
                ".5", ".inf", ".NaN", "2020-01-30", "'0170'", '"yes"', "abc", "'<<'", "<<",
                "1", "01"]
TAGS = ["", "", "", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!seq ", "!!map ",
        "!thing "]


@st.composite
def tagged_documents(draw: st.DrawFn) -> str:
    """Flow mappings and sequences of the dialect's scalars, with tags (right, wrong and
    unknown), anchors and aliases, repeated, merge and collection keys."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        tag = draw(st.sampled_from(TAGS))
        choice = draw(st.integers(0, 3 if depth < 4 else 1))
        if choice == 1 and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if choice <= 1:
            text = tag + draw(st.sampled_from(SCALAR_TEXTS))
        elif choice == 2:
            text = tag + "[" + ", ".join(node(depth + 1)
                                         for _ in range(draw(st.integers(0, 3)))) + "]"
        else:
            pairs = []
            for _ in range(draw(st.integers(0, 3))):
                key = (draw(st.sampled_from(["a", "b", "1", "<<", "'<<'", "!!int 1", "true"]))
                       if draw(st.integers(0, 5)) else "? " + node(depth + 1))
                pairs.append(f"{key}: {node(depth + 1)}")
            text = tag + "{" + ", ".join(pairs) + "}"
        if draw(st.integers(0, 4)) == 0:
            anchors.append(f"x{len(anchors)}")
            return f"&{anchors[-1]} {text}"
        return text

    return node(1)


def read(text: str, loader: type) -> tuple[str, str]:
    try:
        return "ok", repr(yaml12.load(text, loader, loader))
    except yaml.YAMLError as error:
        return type(error).__name__, str(error)


# The dialect's loaders, as a subclass (the rule loader's) has them: the whole path.
WHOLE = [type("Whole", (loader,), {}) for loader in (yaml12.Loader12, yaml12.PyLoader12)]


@pytest.mark.parametrize("text", [*FIXED, "a: 1\na: 2\n", "<<: {a: 1}\n", "? [a]\n: 1\n",
                                  "a: !!int x\n", "a: !thing x\n", "1: a\n1.0: b\n",
                                  "true: a\nTrue: b\n", "!!seq 12\n", "[" * 101 + "]" * 101,
                                  "{a: " * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1),
                                  "{a: " * MAX_DEPTH + "1" + "}" * MAX_DEPTH,
                                  "{a: " * (MAX_DEPTH - 1) + "!!int 1" + "}" * (MAX_DEPTH - 1),
                                  "a: '*'\nb: [1, 1]\n", "[.nan, .nan, .inf, -.inf, 0x10]\n"])
def test_a_plain_tree_reads_as_the_whole_path_reads_it(text: str) -> None:
    for plain, whole in zip((yaml12.Loader12, yaml12.PyLoader12), WHOLE, strict=True):
        assert read(text, plain) == read(text, whole)


@settings(max_examples=400, deadline=None)
@given(tagged_documents())
def test_generated_documents_read_as_the_whole_path_reads_them(text: str) -> None:
    for plain, whole in zip((yaml12.Loader12, yaml12.PyLoader12), WHOLE, strict=True):
        assert read(text, plain) == read(text, whole)


def test_most_files_are_plain_trees() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in [root / "examples" / "patient-mda5.yaml",
                 *sorted((root / "features" / "study_cases").glob("*.yaml"))]:
        node = yaml.compose(path.read_text(), Loader=yaml12.Loader12)
        assert yaml12.plain_tree(node) == yaml12.load(path.read_text(), *WHOLE[:1] * 2)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789+-.eEoxabfFtTrRuUlLnNsS~_: ")
               | st.characters(), max_size=8)
       | st.sampled_from(SCALAR_TEXTS), st.booleans(), st.booleans(),
       st.sampled_from([yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode]))
def test_the_dialects_resolver_tags_as_pyyamls_own_does(
        value: str, plain: bool, quoted: bool, kind: type[yaml.Node]) -> None:
    # Resolver12.resolve leaves out what the dialect does not have: resolvers for any
    # first character and path resolvers; otherwise it is BaseResolver's.
    resolver = yaml12.Resolver12()
    assert None not in resolver.yaml_implicit_resolvers
    assert not resolver.yaml_path_resolvers
    assert resolver.resolve(kind, value, (plain, quoted)) == \
        yaml.resolver.BaseResolver.resolve(resolver, kind, value, (plain, quoted))


SAME_TEXTS = ["a: 12\nb: !!float 12\nc: !!str 12\nd: '12'\ne: !!int '12'\nf: 0o12\ng: 1.50\n",
              "x: !!float 12\ny: 12\nz: true\nw: !!str true\nv: ~\nu: !!null ''\nt: !!bool 12\n",
              "12: a\n!!float 12: b\n'12': c\n"]


def test_scalars_read_again_read_as_the_whole_path_reads_them() -> None:
    # A plain scalar's tag and a core-tagged scalar's value are remembered by their text:
    # read again, or under another tag, the same text reads as the whole path reads it.
    for _ in range(2):
        for text in SAME_TEXTS:
            for plain, whole in zip((yaml12.Loader12, yaml12.PyLoader12), WHOLE, strict=True):
                assert read(text, plain) == read(text, whole)


def test_what_is_remembered_of_scalars_is_bounded() -> None:
    numbers = range(yaml12._MEMO_SIZE + 100)
    text = "[" + ", ".join(f"{n}.5, {n}" for n in numbers) + "]\n"

    assert yaml12.load(text) == [value for n in numbers for value in (n + 0.5, n)]
    assert len(yaml12._PLAIN_TAGS) <= yaml12._MEMO_SIZE
    assert len(yaml12._VALUES) <= yaml12._MEMO_SIZE


def test_a_resolver_with_patterns_of_its_own_is_not_answered_from_memory() -> None:
    class Extra(yaml12.Resolver12):
        pass

    Extra.add_implicit_resolver("!x", re.compile("^x$"), ["x"])  # type: ignore[no-untyped-call]
    assert yaml12.Resolver12().resolve(yaml.ScalarNode, "x", (True, False)) == yaml12._STR
    assert Extra().resolve(yaml.ScalarNode, "x", (True, False)) == "!x"
