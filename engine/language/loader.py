"""Read rule-pack YAML into the typed model, keeping line numbers for every problem.

Rule packs are read in the project's YAML dialect (``model/yaml12``: the YAML 1.2 core
schema, safe, with bounded aliases and nesting, libyaml where present): loading a rule
file never executes code, and a duplicate key is an error at its line. Structural
problems (unknown keys, wrong types, bad operators) are collected, not raised one at a
time; cross-reference checks live in ``validators``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jdm_cds.language import pack_file
from jdm_cds.language.compiler import RESERVED_KEYS
from jdm_cds.language.diagnostics import Diagnostic, Severity
from jdm_cds.language.rule_types import (
    COMPARISONS,
    STATUSES,
    All,
    Any_,
    Assumption,
    AtLeast,
    Compare,
    Condition,
    Contains,
    Criterion,
    CriterionRef,
    Derived,
    Indicator,
    Is,
    Kind,
    Mark,
    Message,
    Not,
    Reference,
    Rule,
    RulePack,
    RuleRef,
    Scope,
)
from jdm_cds.model import yaml12

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_T = TypeVar("_T")
# Integers beyond this are not all exact as doubles, which is how the engine compares.
_LARGEST_INTEGER = 2**53


class _MarkedDict(dict[str, Any]):
    line: int
    key_lines: dict[str, int]
    raw: dict[str, str]  # each scalar value as written (a version 1.10 stays "1.10")


class _MarkedList(list[Any]):
    line: int
    item_lines: list[int]


class _Marking(yaml12.Constructor12):
    """The YAML dialect, remembering the line of every mapping, key and list item, and
    collecting every duplicate key (all of them are reported, not just the first)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]  # the loader's own __init__
        # (key, line, line of its first occurrence)
        self.duplicates: list[tuple[str, int, int]] = []

    def get_single_data(self) -> Any:
        return super().get_single_data(), self.duplicates

    def construct_map(self, node: Node) -> Any:
        assert isinstance(node, MappingNode)
        # Keys are text in a rule pack; another key is refused by name where it is read.
        mapping = _MarkedDict(cast(dict[str, Any], self.construct_mapping(node, deep=True)))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key, _ in node.value:
            mapping.key_lines.setdefault(str(key.value), key.start_mark.line + 1)
        mapping.raw = {str(key.value): value.value for key, value in node.value
                       if isinstance(value, ScalarNode)}
        return mapping

    def construct_seq(self, node: Node) -> Any:
        assert isinstance(node, SequenceNode)
        items = _MarkedList(self.construct_sequence(node, deep=True))
        items.line = node.start_mark.line + 1
        items.item_lines = [child.start_mark.line + 1 for child in node.value]
        return items

    def duplicate_key(self, key: Hashable, key_node: Node, node: MappingNode) -> None:
        first = next(k for k, _ in node.value if k.value == key_node.value)
        self.duplicates.append((str(key), key_node.start_mark.line + 1,
                                first.start_mark.line + 1))


_Marking.add_constructor(_MAP, _Marking.construct_map)  # type: ignore[type-var]
_Marking.add_constructor(_SEQ, _Marking.construct_seq)  # type: ignore[type-var]
_FAST: type = type("_MarkingFast", (_Marking, yaml12.Loader12), {})
_SLOW: type = type("_MarkingSlow", (_Marking, yaml12.PyLoader12), {})


def _load_marked(text: str) -> tuple[Any, list[tuple[str, int, int]]]:
    """The document, and every duplicate key found in it."""
    data, duplicates = yaml12.load(text, _FAST, _SLOW)
    return data, duplicates


# What each mapping may hold, what it must, and the choices: from the models of the pack
# file (``pack_file``), which are also its JSON Schema. The reader reports each problem at
# its line.
RULE_ID = re.compile(pack_file.RULE_ID_PATTERN)
NAME = re.compile(pack_file.NAME_PATTERN)
PACK_KEYS = pack_file.keys(pack_file.PackFile)
HEADER_KEYS = pack_file.keys(pack_file.Header)
REQUIRED_HEADER_KEYS = pack_file.required(pack_file.Header)
PACK_STATUSES = pack_file.choices(pack_file.Header, "status")
RULE_KEYS = pack_file.keys(pack_file.Rule)
MESSAGE_KEYS = pack_file.keys(pack_file.Message)
DERIVED_KEYS = pack_file.keys(pack_file.Derived)
REFERENCE_KEYS = pack_file.keys(pack_file.Reference)
CRITERION_KEYS = pack_file.keys(pack_file.Criterion)
REASON_KEYS = pack_file.keys(pack_file.Reason)
CONDITION_KEYS = set().union(*(pack_file.keys(model) for model in pack_file.CONDITION_MODELS))


class _Reader:
    """Walks one file's YAML, building model objects and collecting diagnostics."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def error(self, line: int, code: str, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(Severity.ERROR, code, message, Mark(self.file, line))
        )

    def mark(self, line: int) -> Mark:
        return Mark(self.file, line)

    # -- helpers -------------------------------------------------------------

    def mapping(self, value: Any, line: int, what: str) -> _MarkedDict | None:
        if isinstance(value, _MarkedDict):
            return value
        self.error(line, "type", f"{what} must be a mapping (got {_describe(value)})")
        return None

    def keys(self, data: _MarkedDict, allowed: set[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(
                    data.key_lines.get(str(key), data.line),
                    "unknown-field",
                    f"unknown field '{key}' in {what} (allowed: {', '.join(sorted(allowed))})",
                )

    def text(self, data: _MarkedDict, key: str, what: str, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(data.line, "missing-field", f"{what} needs '{key}'")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return data.raw.get(key, str(value))  # as written: version 1.10 is not 1.1
        self.error(data.key_lines.get(key, data.line), "type",
                   f"'{key}' of {what} must be text (got {_describe(value)})")
        return None

    def text_list(self, data: _MarkedDict, key: str, what: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(data.key_lines.get(key, data.line), "type",
                       f"'{key}' of {what} must be a list of names")
            return ()
        return tuple(value)

    def choice(self, data: _MarkedDict, key: str, allowed: tuple[str, ...], default: str,
               what: str) -> str:
        value = data.get(key, default)
        if value not in allowed:
            self.error(data.key_lines.get(key, data.line), "bad-value",
                       f"'{key}' of {what} must be one of {', '.join(allowed)} (got {value!r})")
            return default
        return str(value)

    # -- conditions ------------------------------------------------------------

    def condition(self, value: Any, line: int, what: str) -> Condition | None:
        mark = self.mark(line)
        if isinstance(value, str):
            return CriterionRef(value, mark)
        data = self.mapping(value, line, f"condition in {what}")
        if data is None:
            return None
        if "field" in data:
            return self.leaf(data, what)
        self.keys(data, CONDITION_KEYS, f"condition in {what}")
        mark = self.mark(data.line)
        if "all" in data or "any" in data:
            key = "all" if "all" in data else "any"
            children = self.conditions(data, key, what)
            if children is None:
                return None
            return All(children, mark) if key == "all" else Any_(children, mark)
        if "at_least" in data:
            n = data["at_least"]
            children = self.conditions(data, "of", what)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                self.error(data.line, "bad-value", f"'at_least' in {what} must be a whole "
                           f"number >= 1 (got {n!r})")
                return None
            if children is None:
                return None
            if n > len(children):
                self.error(data.line, "bad-value", f"'at_least: {n}' in {what} has only "
                           f"{len(children)} criteria: it could never be met")
                return None
            return AtLeast(n, children, mark)
        if "not" in data:
            child = self.condition(data["not"], data.key_lines.get("not", data.line), what)
            return Not(child, mark) if child is not None else None
        if "rule" in data:
            rule = data["rule"]
            if not isinstance(rule, str):
                self.error(data.line, "type", f"'rule' in {what} must be a rule id")
                return None
            return RuleRef(rule, mark)
        self.error(data.line, "bad-operator",
                   f"condition in {what} needs one of: all, any, not, at_least/of, rule, field")
        return None

    def conditions(self, data: _MarkedDict, key: str, what: str) -> tuple[Condition, ...] | None:
        items = data.get(key)
        if not isinstance(items, _MarkedList) or not items:
            self.error(data.key_lines.get(key, data.line), "type",
                       f"'{key}' in {what} must be a non-empty list of conditions")
            return None
        parsed = [self.condition(item, line, what)
                  for item, line in zip(items, items.item_lines, strict=True)]
        if any(p is None for p in parsed):
            return None
        return tuple(p for p in parsed if p is not None)

    def leaf(self, data: _MarkedDict, what: str) -> Condition | None:
        field = data["field"]
        ops = [k for k in data if k != "field"]
        mark = self.mark(data.line)
        if not isinstance(field, str):
            self.error(data.line, "type", f"'field' in {what} must be a field name")
            return None
        if len(ops) != 1:
            self.error(data.line, "bad-operator",
                       f"comparison on '{field}' in {what} needs exactly one operator of "
                       f"{', '.join(sorted((*COMPARISONS, 'is', 'contains')))}")
            return None
        op, value = ops[0], data[ops[0]]
        if op == "is":
            if value not in STATUSES:
                self.error(data.line, "bad-value", f"'is' on '{field}' must be one of "
                           f"{', '.join(STATUSES)} (got {value!r})")
                return None
            return Is(field, value, mark)
        if op == "contains":
            if not isinstance(value, str):
                self.error(data.line, "type", f"'contains' on '{field}' takes a name")
                return None
            return Contains(field, value, mark)
        if op not in COMPARISONS:
            self.error(data.key_lines.get(op, data.line), "bad-operator",
                       f"unknown operator '{op}' on '{field}' in "
                       f"{what} (allowed: {', '.join(sorted((*COMPARISONS, 'is', 'contains')))})")
            return None
        if op in ("lt", "lte", "gt", "gte") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            self.error(data.line, "type", f"'{op}' on '{field}' needs a number (got {value!r})")
            return None
        if not isinstance(value, bool | int | float | str):
            self.error(data.line, "type", f"'{op}' on '{field}' needs a number, true/false "
                       f"or a name (got {_describe(value)})")
            return None
        if (isinstance(value, float) and not math.isfinite(value)) or (
                isinstance(value, int) and abs(value) > _LARGEST_INTEGER):
            # The engine compares numbers as doubles: a larger integer would be rounded,
            # and infinity or NaN cannot be sent to it at all.
            self.error(data.line, "type", f"'{op}' on '{field}' needs a finite number of at "
                       f"most {_LARGEST_INTEGER:,} in size (got {value!r})")
            return None
        return Compare(field, op, value, mark)

    # -- sections --------------------------------------------------------------

    def pack(self, raw: Any) -> RulePack | None:
        data = self.mapping(raw, 1, "a rule pack")
        if data is None:
            return None
        self.keys(data, PACK_KEYS, "the rule pack")
        header = self.mapping(data.get("pack"), data.key_lines.get("pack", 1), "'pack'")
        if header is None:
            return None
        self.keys(header, HEADER_KEYS, "'pack'")
        values = {key: self.text(header, key, "'pack'") for key in REQUIRED_HEADER_KEYS}
        status = self.choice(header, "status", PACK_STATUSES, "active", "'pack'")
        references = self.section(header, "references", self.reference)
        assumptions = self.section(header, "assumptions", self.assumption)
        criteria = self.section(data, "criteria", self.criterion)
        derived = self.section(data, "derived", self.derived)
        rules = self.rules(data)
        if not all(values.values()):
            return None
        return RulePack(
            id=str(values["id"]), version=str(values["version"]), title=str(values["title"]),
            status=status, file=self.file, references=references, assumptions=assumptions,
            criteria=criteria, derived=tuple(derived.values()), rules=rules,
        )

    def section(self, data: _MarkedDict, key: str,
                   build: Callable[[str, Any, int], _T | None]) -> dict[str, _T]:
        section = data.get(key)
        if section is None:
            return {}
        mapping = self.mapping(section, data.key_lines.get(key, data.line), f"'{key}'")
        if mapping is None:
            return {}
        built = {name: build(str(name), value, mapping.key_lines.get(str(name), mapping.line))
                 for name, value in mapping.items()}
        return {name: item for name, item in built.items() if item is not None}

    def reference(self, key: str, value: Any, line: int) -> Reference | None:
        data = self.mapping(value, line, f"reference '{key}'")
        if data is None:
            return None
        self.keys(data, REFERENCE_KEYS, f"reference '{key}'")
        citation = self.text(data, "citation", f"reference '{key}'")
        url = self.text(data, "url", f"reference '{key}'", required=False)
        return Reference(key, citation, url) if citation else None

    def assumption(self, key: str, value: Any, line: int) -> Assumption | None:
        if not isinstance(value, str):
            self.error(line, "type", f"assumption '{key}' must be text")
            return None
        return Assumption(key, value)

    def criterion(self, name: str, value: Any, line: int) -> Criterion | None:
        data = self.mapping(value, line, f"criterion '{name}'")
        if data is None:
            return None
        self.keys(data, CRITERION_KEYS, f"criterion '{name}'")
        title = self.text(data, "title", f"criterion '{name}'")
        label = self.text(data, "label", f"criterion '{name}'", required=False)
        when = self.condition(data.get("when"), data.key_lines.get("when", data.line),
                              f"criterion '{name}'")
        if title is None or when is None:
            return None
        return Criterion(name, title, when, self.mark(line), label)

    def derived(self, name: str, value: Any, line: int) -> Derived | None:
        data = self.mapping(value, line, f"derived value '{name}'")
        if data is None:
            return None
        if not NAME.fullmatch(name) or name in RESERVED_KEYS:
            why = (f"is a name the engine uses ({', '.join(sorted(RESERVED_KEYS))})"
                   if name in RESERVED_KEYS else "may hold only letters, digits and '_', "
                   "and not start with a digit")
            self.error(line, "bad-name", f"derived value '{name}' {why}")
            return None
        kind = self.text(data, "kind", f"derived value '{name}'")
        title = self.text(data, "title", f"derived value '{name}'")
        label = self.text(data, "label", f"derived value '{name}'", required=False)
        unit = self.text(data, "unit", f"derived value '{name}'", required=False)
        scope = self.choice(data, "scope", get_args(Scope), "patient", f"derived value '{name}'")
        params = {k: _plain(v) for k, v in data.items() if k not in DERIVED_KEYS}
        if kind is None or title is None:
            return None
        return Derived(name, scope, kind, params, title, self.mark(line),  # type: ignore[arg-type]
                       label, unit)

    def rules(self, data: _MarkedDict) -> tuple[Rule, ...]:
        if "rules" not in data:
            return ()  # a pack of derived values or criteria for others
        items = data["rules"]
        if not isinstance(items, _MarkedList):
            self.error(data.key_lines.get("rules", data.line), "type", "'rules' must be a list")
            return ()
        seen: dict[str, int] = {}
        for item, line in zip(items, items.item_lines, strict=True):
            rule_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(rule_id, str):
                if rule_id in seen:
                    self.error(line, "duplicate-id", f"rule id '{rule_id}' is already defined at "
                               f"{self.mark(seen[rule_id])}")
                seen.setdefault(rule_id, line)
        built = [self.rule(item, line) for item, line in zip(items, items.item_lines, strict=True)]
        return tuple(rule for rule in built if rule is not None)

    def rule(self, value: Any, line: int) -> Rule | None:
        data = self.mapping(value, line, "a rule")
        if data is None:
            return None
        rule_id = self.text(data, "id", "a rule") or f"<rule at line {line}>"
        if "id" in data and not RULE_ID.fullmatch(rule_id):
            self.error(data.key_lines.get("id", line), "bad-name",
                       f"rule id {rule_id!r} may hold only a-z, 0-9, '_', '.' and '-'")
            return None
        what = f"rule '{rule_id}'"
        self.keys(data, RULE_KEYS, what)
        title = self.text(data, "title", what)
        label = self.text(data, "label", what, required=False)
        kind = self.choice(data, "kind", get_args(Kind), "judgement", what)
        scope = self.choice(data, "scope", get_args(Scope), "patient", what)
        when = self.condition(data.get("when"), data.key_lines.get("when", data.line), what)
        applies_if = None
        if "applies_if" in data:
            applies_if = self.condition(data["applies_if"], data.key_lines["applies_if"], what)
        undecided_if = None
        if "undecided_if" in data:
            undecided_if = self.condition(data["undecided_if"], data.key_lines["undecided_if"],
                                          what)
        message = self.message(data, kind, what)
        reasons = self.reasons(data, what)
        if title is None or when is None or "id" not in data:
            return None
        return Rule(
            id=rule_id, title=title, kind=kind, scope=scope, when=when,  # type: ignore[arg-type]
            applies_if=applies_if, references=self.text_list(data, "references", what),
            assumptions=self.text_list(data, "assumptions", what),
            report=self.text_list(data, "report", what), message=message, reasons=reasons,
            mark=self.mark(data.line), undecided_if=undecided_if,
            label=label,
        )

    def message(self, data: _MarkedDict, kind: str, what: str) -> Message | None:
        other = "recommendation" if kind == "alert" else "alert"
        if other in data:
            self.error(data.key_lines[other], "unknown-field",
                       f"'{other}' does not belong in {what} of kind '{kind}'")
        if kind == "judgement":
            return None
        block = self.mapping(data.get(kind), data.key_lines.get(kind, data.line),
                             f"'{kind}' of {what}")
        if block is None:
            return None
        self.keys(block, MESSAGE_KEYS, f"'{kind}' of {what}")
        summary = self.text(block, "summary", f"'{kind}' of {what}")
        detail = self.text(block, "detail", f"'{kind}' of {what}", required=False) or ""
        indicator = self.choice(block, "indicator", get_args(Indicator), "info",
                                f"'{kind}' of {what}")
        if summary is None:
            return None
        return Message(summary, detail, indicator)  # type: ignore[arg-type]

    def reasons(self, data: _MarkedDict, what: str) -> tuple[tuple[Condition, str], ...]:
        items = data.get("reasons", [])
        if not isinstance(items, _MarkedList):
            if items:
                self.error(data.key_lines["reasons"], "type", f"'reasons' of {what} must be a list")
            return ()
        reasons = []
        for item, line in zip(items, items.item_lines, strict=True):
            block = self.mapping(item, line, f"a reason of {what}")
            if block is None:
                continue
            self.keys(block, REASON_KEYS, f"a reason of {what}")
            text = self.text(block, "text", f"a reason of {what}")
            when = self.condition(block.get("when"), block.key_lines.get("when", line), what)
            if text is not None and when is not None:
                reasons.append((when, text))
        return tuple(reasons)


def _plain(value: Any) -> Any:
    """A parsed value without the line marks of its lists and mappings: what the compiled
    rule base keeps (and the cache stores) is plain data, which this module need not read."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def read_pack(path: str | Path) -> tuple[RulePack | None, list[Diagnostic]]:
    """Parse one rule file; returns the pack (None when unusable) and every problem found."""
    file = str(path)
    reader = _Reader(file)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        reader.error(1, "unreadable", f"cannot read rule file: {error.strerror}")
        return None, reader.diagnostics
    try:
        raw, duplicates = _load_marked(text)
    except yaml12.YamlLimitError as error:
        mark = error.problem_mark
        reader.error(mark.line + 1 if mark else 1, "yaml-limit", f"{error.problem}: refused")
        return None, reader.diagnostics
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reader.error(line, "yaml-syntax", f"YAML syntax error: {getattr(error, 'problem', error)}")
        return None, reader.diagnostics
    for key, line, first in duplicates:
        reader.error(line, "duplicate-key", f"key '{key}' is given twice in one mapping "
                     f"(first at line {first}): which one was meant is unknown")
    if raw is None:
        reader.error(1, "empty", "rule file is empty")
        return None, reader.diagnostics
    return reader.pack(raw), reader.diagnostics
