"""Treatment classes: which drugs form each class that rules name, as YAML data.

A rule or derived value names a treatment by drug (``treatment: prednisone``) or by
class (``treatment: jak_inhibitor``). The classes, and the class whose first start is
the study's baseline (day 0 of the window, the baseline visit), live in the core file
``jdm_cds.rules/classes/treatments.yaml``, never in Python. Reading it never executes
code; it is read in the project's one YAML dialect (``model/yaml12``: YAML 1.2 core schema,
duplicate keys refused, aliases and nesting bounded), as rule packs and patient files are;
every problem is reported with ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from jdm_cds.language.diagnostics import Diagnostic, RuleLoadError, Severity
from jdm_cds.language.records import Record
from jdm_cds.language.rule_types import Mark
from jdm_cds.model import yaml12
from jdm_cds.model.patient import Treatment
from jdm_cds.model.vocabulary import DRUGS, listing

CLASSES_FILE = Path(str(resources.files("jdm_cds.rules"))) / "classes" / "treatments.yaml"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class TreatmentClass(Record):
    name: str
    title: str
    drugs: frozenset[str]
    assumption: str | None
    mark: Mark


class TreatmentClasses(Record):
    """The classes, by name, and the treatment (class or drug) that sets the baseline."""

    classes: dict[str, TreatmentClass]
    baseline: str
    file: str

    def drugs(self, treatment: str) -> frozenset[str]:
        """The drugs a treatment name stands for: a class's members, or the drug itself."""
        found = self.classes.get(treatment)
        return found.drugs if found is not None else frozenset({treatment})

    def first_start(self, treatments: Iterable[Treatment], treatment: str | None = None
                    ) -> date | None:
        """The first start of ``treatment`` (default: the baseline's), or None if never given."""
        drugs = self.drugs(treatment or self.baseline)
        return min((t.start for t in treatments if t.drug in drugs), default=None)

    def names(self) -> frozenset[str]:
        """Every name a rule may give as a treatment: the drugs and the classes."""
        return frozenset((*DRUGS, *self.classes))


class _Lines(yaml12.Constructor12):
    """The project's YAML dialect (as for rule packs and patient files), each mapping
    remembering the line of each of its keys under ``__lines__``."""

    def construct_map(self, node: Node) -> Any:
        assert isinstance(node, MappingNode)
        mapping = self.construct_mapping(node, deep=True)  # duplicate keys refused there
        mapping["__lines__"] = {self.construct_object(key, deep=True): key.start_mark.line + 1
                                for key, _ in node.value}
        return mapping


_Lines.add_constructor("tag:yaml.org,2002:map", _Lines.construct_map)  # type: ignore[type-var]
_FAST: type = type("_LinesFast", (_Lines, yaml12.Loader12), {})
_SLOW: type = type("_LinesSlow", (_Lines, yaml12.PyLoader12), {})


def read_treatment_classes(path: str | Path) -> tuple[TreatmentClasses | None, list[Diagnostic]]:
    """Parse and check one classes file; the classes (None when unusable) and every problem."""
    file = str(path)
    problems: list[Diagnostic] = []

    def error(line: int, message: str) -> None:
        problems.append(Diagnostic(Severity.ERROR, "bad-class", message, Mark(file, line)))

    try:
        raw = yaml12.load(Path(path).read_text(encoding="utf-8"), _FAST, _SLOW)
    except OSError as failure:
        error(1, f"cannot read the treatment classes: {failure.strerror}")
        return None, problems
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        error(mark.line + 1 if mark is not None else 1,
              f"YAML error: {getattr(failure, 'problem', failure)}")
        return None, problems
    if not isinstance(raw, dict):
        error(1, "the treatment classes file must be a mapping with 'classes' and 'baseline'")
        return None, problems
    lines: dict[str, int] = raw.pop("__lines__")
    for key in raw:
        if key not in ("classes", "baseline"):
            error(lines[key], f"unknown key '{key}' (allowed: baseline, classes)")
    classes: dict[str, TreatmentClass] = {}
    section = raw.get("classes")
    if not isinstance(section, dict):
        error(lines.get("classes", 1), "'classes' must map each class name to its drugs")
        section = {"__lines__": {}}
    class_lines: dict[str, int] = section.pop("__lines__")
    for name, body in section.items():
        line = class_lines[name]
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            error(line, f"class name {name!r} must be lower-case letters, digits and '_'")
            continue
        if name in DRUGS:
            error(line, f"class '{name}' has the name of a drug")
            continue
        if not isinstance(body, dict):
            error(line, f"class '{name}' must be a mapping with 'title' and 'drugs'")
            continue
        body.pop("__lines__")
        unknown = set(body) - {"title", "drugs", "assumption"}
        title, drugs, assumption = body.get("title"), body.get("drugs"), body.get("assumption")
        if unknown:
            error(line, f"class '{name}': unknown key(s) {listing(map(str, unknown))} "
                  "(allowed: assumption, drugs, title)")
        if not isinstance(title, str) or (assumption is not None
                                          and not isinstance(assumption, str)):
            error(line, f"class '{name}' needs a 'title' (text); 'assumption' is text")
            continue
        if not isinstance(drugs, list) or not drugs or not all(isinstance(d, str) for d in drugs):
            error(line, f"class '{name}' needs 'drugs', a non-empty list of drug names")
            continue
        strange = [d for d in drugs if d not in DRUGS]
        if strange:
            error(line, f"class '{name}': {listing(strange)} not a drug of the patient file "
                  f"(drugs: {listing(DRUGS)})")
            continue
        classes[name] = TreatmentClass(name, title, frozenset(drugs), assumption, Mark(file, line))
    baseline = raw.get("baseline")
    treatment = baseline.get("treatment") if isinstance(baseline, dict) else None
    if treatment not in (*classes, *DRUGS):
        error(lines.get("baseline", 1), "'baseline' needs 'treatment': a class or drug name "
              f"(got {treatment!r})")
    if problems:
        return None, problems
    return TreatmentClasses(classes, str(treatment), file), problems


@cache
def core_treatment_classes() -> TreatmentClasses:
    """The shipped classes; raises ``RuleLoadError`` (with ``file:line``) if they are broken."""
    classes, problems = read_treatment_classes(CLASSES_FILE)
    if classes is None:
        raise RuleLoadError(problems)
    return classes
