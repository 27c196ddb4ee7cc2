"""One YAML dialect for patient files and rule packs: the YAML 1.2 core schema, bounded.

PyYAML implements YAML 1.1, where a scalar's type can surprise whoever wrote it:
``0170`` is octal (120), ``1:30`` is sexagesimal (90), ``no`` and ``off`` are false,
``=`` and ``<<`` have meanings of their own. Here every plain scalar is read as the YAML
1.2 core schema reads it, the choice of YAML 1.2 itself:

- integers are decimal (``0170`` is 170), ``0o17`` octal, ``0x1F`` hexadecimal;
- floats are ``1.5``, ``-2e3``, ``.inf``, ``.nan``; ``1:30`` and ``1_000`` are text;
- booleans are ``true`` and ``false`` (any of three cases) only: ``yes``, ``no``, ``on``,
  ``off``, ``y``, ``n`` are text;
- ``null``, ``~`` or nothing is null; ``=`` is text; a merge key (``<<``) is refused with
  its line (YAML 1.2 has none); dates are text (the patient model reads ``YYYY-MM-DD``);
- only the core tags (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!seq``, ``!!map``) may be written; any other tag is refused.

A field given a scalar of the wrong type is then refused by the model that reads it,
naming the field (``sex: no`` is the text "no", not one of female, male, other).

Mappings refuse duplicate keys. Anchors and aliases are bounded: a document whose aliases
expand to more than ``MAX_ALIAS_NODES`` nodes, or that nests deeper than ``MAX_DEPTH``
levels, is refused with the line where the limit was passed (a kilobyte of nested aliases
would otherwise expand to gigabytes). libyaml's C parser is used where PyYAML has it
(several times faster) with these same resolvers and constructors; without it, the pure
Python parser gives the same results.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import yaml
from yaml.composer import Composer
from yaml.constructor import BaseConstructor, ConstructorError
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

# Real rule packs nest conditions about 15 levels deep, patient files 5.
MAX_DEPTH = 100
# Nodes that aliases add when expanded (each use of an anchor counts its whole subtree).
MAX_ALIAS_NODES = 10_000

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

# The YAML 1.2 core schema's tag resolution (yaml.org/spec/1.2.2, section 10.3.2).
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_NULL = re.compile(r"~|null|Null|NULL|")


class YamlLimitError(MarkedYAMLError):
    """A document past a bound of the dialect (nesting depth, alias expansion)."""


class Resolver12(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema, and no others."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        """``BaseResolver.resolve`` for this dialect, which has implicit resolvers by first
        character only (no path resolvers, none for any character): a plain scalar takes
        the tag of the first of its first character's patterns that matches, else text;
        any other scalar is text. The parser asks once a node, and files are mostly
        scalars, the same keys and numbers again and again: a plain scalar's tag is
        remembered by its text."""
        if kind is not ScalarNode:
            return _MAP if kind is MappingNode else _SEQ
        if not implicit[0]:
            return _STR
        resolvers = self.yaml_implicit_resolvers
        if resolvers is not _CORE_RESOLVERS:  # a subclass with resolvers of its own
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = _STR
            for candidate, pattern in resolvers.get(value[:1], ()):
                if pattern.match(value):
                    tag = str(candidate)
                    break
            if len(value) <= _MEMO_TEXT:
                _remember(_PLAIN_TAGS, value, tag)
        return tag


for _tag, _pattern, _first in (
    (_BOOL, _CORE_BOOL, "tTfF"),
    (_INT, _CORE_INT, "-+0123456789"),
    (_FLOAT, _CORE_FLOAT, "-+0123456789."),
    (_NULL, _CORE_NULL, ["~", "n", "N", ""]),
):
    # Anchored: PyYAML matches with re.match, which would accept a prefix.
    Resolver12.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern.pattern})$"),
                                     list(_first))
_CORE_RESOLVERS = Resolver12.yaml_implicit_resolvers

# What a scalar's text reads as, remembered: patient files repeat the same keys and
# numbers, each of which costs one or two regular expressions to read. Both are pure
# functions of the text (and tag); short texts only, and emptied when full.
_MEMO_SIZE = 1 << 15
_MEMO_TEXT = 40  # characters
_PLAIN_TAGS: dict[str, str] = {}  # a plain scalar's text -> its implicit tag
_VALUES: dict[tuple[str, str], Any] = {}  # (core tag, text) -> its value, when it matches


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value


def _core_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # a leading zero is decimal: 0170 is 170


def _core_float(text: str) -> float:
    lowered = text.lower()
    if lowered.lstrip("+-") == ".inf":
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


_Kind = TypeVar("_Kind", bound=Node)


_NAMES: dict[type[Node], str] = {ScalarNode: "a scalar", SequenceNode: "a sequence",
                                  MappingNode: "a mapping"}


def _expect(node: Node, kind: type[_Kind]) -> _Kind:
    """``node`` as a node of ``kind``; a tag written on a node of another kind (``!!seq
    12``) is refused, with its line."""
    if not isinstance(node, kind):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise ConstructorError(None, None, f"expected {_NAMES[kind]}, found "
                               f"{_NAMES.get(type(node), 'a node')} (tagged {tag})",
                               node.start_mark)
    return node


class Constructor12(BaseConstructor):
    """Builds Python values for the core tags; refuses duplicate keys and other tags."""

    def construct_scalar_as(self, node: Node, convert: Callable[[str], Any],
                            pattern: re.Pattern[str], what: str) -> Any:
        text = self.construct_scalar(_expect(node, ScalarNode))
        if not pattern.fullmatch(text):
            raise ConstructorError(None, None, f"{text!r} is not {what}", node.start_mark)
        return convert(text)

    def construct_int(self, node: Node) -> int:
        return int(self.construct_scalar_as(node, _core_int, _CORE_INT, "an integer"))

    def construct_float(self, node: Node) -> float:
        return float(self.construct_scalar_as(node, _core_float, _CORE_FLOAT, "a number"))

    def construct_bool(self, node: Node) -> bool:
        return bool(self.construct_scalar_as(
            node, lambda text: text.lower() == "true", _CORE_BOOL, "true or false"))

    def construct_null(self, node: Node) -> None:
        self.construct_scalar_as(node, lambda text: None, _CORE_NULL, "null")

    def construct_str(self, node: Node) -> str:
        return self.construct_scalar(_expect(node, ScalarNode))

    def construct_seq(self, node: Node) -> Any:
        sequence = _expect(node, SequenceNode)
        items: list[Any] = []
        yield items
        items.extend(self.construct_sequence(sequence))

    def construct_map(self, node: Node) -> Any:
        members = _expect(node, MappingNode)
        mapping: dict[Hashable, Any] = {}
        yield mapping
        mapping.update(self.construct_mapping(members))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping, found {node.id}",
                                   node.start_mark)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == "<<" \
                    and not key_node.style:  # plain: None in PyYAML, "" in libyaml
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "merge keys (<<) are not part of YAML 1.2: write the "
                                       "fields out", key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found a key that is not text or a number",
                                       key_node.start_mark)
            if key in mapping:
                self.duplicate_key(key, key_node, node)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def duplicate_key(self, key: Hashable, key_node: Node, node: MappingNode) -> None:
        """A key given twice in one mapping: refused (plain YAML keeps the last one)."""
        raise ConstructorError("while constructing a mapping", node.start_mark,
                               f"duplicate key {key!r}", key_node.start_mark)

    def construct_other(self, node: Node) -> Any:
        raise ConstructorError(None, None, f"tag {node.tag!r} is not allowed (only the YAML "
                               "core tags: str, int, float, bool, null, seq, map)",
                               node.start_mark)


for _core_tag, _method in (
    (_STR, Constructor12.construct_str), (_INT, Constructor12.construct_int),
    (_FLOAT, Constructor12.construct_float), (_BOOL, Constructor12.construct_bool),
    (_NULL, Constructor12.construct_null), (_SEQ, Constructor12.construct_seq),
    (_MAP, Constructor12.construct_map), (None, Constructor12.construct_other),
):
    Constructor12.add_constructor(_core_tag, _method)  # type: ignore[type-var]


class _DepthComposer(Composer):
    """The pure-Python composer recurses once per level: bounded before Python's stack."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                parser: Any = self  # a Parser too, in the loader
                raise YamlLimitError(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                     parser.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def check_bounds(root: Node) -> None:
    """Refuse a node graph with aliases that expand too far, cyclic, or nested too deep.

    Linear in the number of distinct nodes for the alias bound (an anchor's subtree is
    measured once, however many aliases use it); the depth is then checked on the
    expansion, which that bound keeps small. Both raise at the first node, in document
    order, past the limit, as the pure-Python composer does.
    """
    if not _tree_within_depth(root):
        _check_graph(root)


def _check_graph(root: Node) -> None:
    """``check_bounds`` on any graph: alias expansion, cycles, then depth."""
    size: dict[int, int] = {}  # expanded size of each finished node
    distinct = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] - distinct > MAX_ALIAS_NODES:
                raise YamlLimitError(None, None, "aliases expand to more than "
                                     f"{MAX_ALIAS_NODES:,} nodes", node.start_mark)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise YamlLimitError(None, None, "an alias refers to its own anchor",
                                 node.start_mark)
        open_nodes.add(key)
        distinct += 1
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in size)
    levels: list[tuple[Node, int]] = [(root, 1)]
    while levels:
        node, level = levels.pop()
        if level > MAX_DEPTH:
            raise YamlLimitError(None, None, f"nesting deeper than {MAX_DEPTH} levels",
                                 node.start_mark)
        levels.extend((child, level + 1) for child in reversed(_children(node)))


def _tree_within_depth(root: Node) -> bool:
    """True when no node is reached twice (no alias: nothing expands beyond the file, and
    no cycle) and none is nested too deep: the graph is within every bound. False at the
    first node reached twice or too deep: the whole check then says what is wrong, as it
    would have. Most files have no alias, and one pass settles them."""
    seen: set[int] = set()
    levels: list[tuple[Node, int]] = [(root, 1)]
    while levels:
        node, level = levels.pop()
        if id(node) in seen or level > MAX_DEPTH:
            return False
        seen.add(id(node))
        levels.extend((child, level + 1) for child in reversed(_children(node)))
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Bounded:
    """Loads one document: compose, check the bounds, then construct."""

    may_alias = True  # whether the text may hold an alias (a ``*``; set by each loader)

    def get_single_data(self) -> Any:
        loader: Any = self  # a parser, composer and constructor, in the loaders below
        node = loader.get_single_node()
        if node is None:
            return None
        if type(self) in _PLAIN_LOADERS:  # not a subclass that constructs more
            value = plain_tree(node, shared=self.may_alias)
            if value is not NOT_PLAIN:
                return value
        check_bounds(node)
        return loader.construct_document(node)


def _may_alias(stream: str | bytes) -> bool:
    """False when the text has no ``*``: no alias can be written without one, so that no
    node of its document is reached twice."""
    if isinstance(stream, str):
        return "*" in stream
    return not isinstance(stream, bytes) or b"*" in stream


NOT_PLAIN = object()  # plain_tree's answer for a document it leaves to the whole path
_UNSEEN = object()


class _NotPlain(Exception):
    pass


_CONVERT: dict[str, tuple[re.Pattern[str], Callable[[str], Any]]] = {
    _INT: (_CORE_INT, _core_int),
    _FLOAT: (_CORE_FLOAT, _core_float),
    _BOOL: (_CORE_BOOL, lambda text: text.lower() == "true"),
    _NULL: (_CORE_NULL, lambda text: None),
}


def _scalar_value(tag: str, text: str) -> Any:
    """A core-tagged scalar's value (not text); ``_NotPlain`` when it does not match its
    tag (``!!int x``) or the tag is not a core scalar tag."""
    value = _VALUES.get((tag, text), _UNSEEN)
    if value is _UNSEEN:
        pattern, convert = _CONVERT.get(tag) or (None, None)
        if pattern is None or convert is None or not pattern.fullmatch(text):
            raise _NotPlain
        value = convert(text)
        if len(text) <= _MEMO_TEXT and value == value:  # not NaN: each is its own object
            _remember(_VALUES, (tag, text), value)
    return value


def plain_tree(root: Node, shared: bool = True) -> Any:
    """The document's value in one pass, when it is what almost every file is: a tree (no
    node reached twice, so no alias), within ``MAX_DEPTH``, of core-tagged nodes whose
    scalars match their tags, with text or number keys, none repeated and none a merge key.
    Then it is what ``check_bounds`` and ``Constructor12`` give; else ``NOT_PLAIN``, and
    they read it (and say what is wrong, with its line). ``shared=False``: the caller
    knows that no node is reached twice (``_may_alias``), and the nodes are not counted."""
    seen: set[int] | None = set() if shared else None

    def build(node: Node, level: int) -> Any:
        if level > MAX_DEPTH:
            raise _NotPlain
        if seen is not None:
            if id(node) in seen:
                raise _NotPlain
            seen.add(id(node))
        kind, tag = type(node), node.tag
        if kind is ScalarNode:
            return node.value if tag == _STR else _scalar_value(tag, node.value)
        level += 1
        if kind is SequenceNode and tag == _SEQ:
            return [build(child, level) for child in node.value]
        if kind is not MappingNode or tag != _MAP:
            raise _NotPlain
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or (key_node.value == "<<"
                                                    and not key_node.style):
                raise _NotPlain
            if key_node.tag == _STR and seen is None and level <= MAX_DEPTH:
                key = key_node.value  # build's answer, without a call: most keys are text
            else:
                key = build(key_node, level)
            if key in mapping:
                raise _NotPlain
            mapping[key] = build(value_node, level)
        return mapping

    try:
        return build(root, 1)
    except _NotPlain:
        return NOT_PLAIN


class PyLoader12(_Bounded, Reader, Scanner, Parser, _DepthComposer, Constructor12, Resolver12):
    """The dialect on PyYAML's pure-Python parser."""

    def __init__(self, stream: str | bytes) -> None:
        Reader.__init__(self, stream)
        self.may_alias = _may_alias(stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        Constructor12.__init__(self)
        Resolver12.__init__(self)


try:
    from yaml._yaml import CParser

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    HAVE_LIBYAML = False

if HAVE_LIBYAML:

    class CLoader12(_Bounded, CParser, Constructor12, Resolver12):
        """The dialect on libyaml's parser (libyaml limits nesting to 1,000 by itself)."""

        def __init__(self, stream: str | bytes) -> None:
            CParser.__init__(self, stream)
            self.may_alias = _may_alias(stream)
            Constructor12.__init__(self)
            Resolver12.__init__(self)

    Loader12: type = CLoader12
else:  # pragma: no cover - PyYAML built without libyaml
    Loader12 = PyLoader12

# The loaders of the dialect as it is (the rule loader's subclasses add line marks).
_PLAIN_LOADERS = frozenset({PyLoader12, Loader12})


# Syntax errors are reported as PyYAML's own parser words them (its messages name the
# line where the problem is, libyaml's often where it was found): the text is read again
# by the pure-Python parser, for files up to this size (it reads about 100 KB/s).
REPARSE_LIMIT = 256_000
_SYNTAX_ERRORS = (yaml.scanner.ScannerError, yaml.parser.ParserError,
                  yaml.composer.ComposerError, yaml.reader.ReaderError)


def _load_with(loader: type, text: str | bytes) -> Any:
    instance = loader(text)
    try:
        return instance.get_single_data()
    finally:
        instance.dispose()


def load(text: str | bytes, fast: type | None = None, fallback: type | None = None) -> Any:
    """One YAML document in the dialect; raises ``yaml.YAMLError`` (marked where possible).

    ``fast`` and ``fallback``: subclasses of ``Loader12`` and ``PyLoader12`` with the same
    additions (the rule loader's line marks).
    """
    fast, fallback = fast or Loader12, fallback or PyLoader12
    try:
        return _load_with(fast, text)
    except _SYNTAX_ERRORS:
        if fast is not fallback and len(text) <= REPARSE_LIMIT:
            _load_with(fallback, text)  # raises with PyYAML's wording, as it always should
        raise
