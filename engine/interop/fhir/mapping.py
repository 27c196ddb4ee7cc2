"""The FHIR mapping: which codes and names mean which patient field, as data.

``mapping.yaml`` (package data) is the default; ``load_mapping(path)`` reads another. The
file is validated as a whole, like ``rules check``: every problem is collected and reported
together (``MappingError``); warnings (codes not verified against a primary source) do not
stop it being used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jdm_cds.interop.fhir import units
from jdm_cds.model.patient import Visit
from jdm_cds.model.vocabulary import ADVERSE_EVENTS, ANTIBODIES, DRUGS, listing

_STRICT = ConfigDict(extra="forbid", frozen=True)
DEFAULT_NAME = "mapping.yaml"


class CodeEntry(BaseModel):
    model_config = _STRICT
    system: str
    code: str = Field(min_length=1)
    display: str = ""
    source: str = Field(min_length=1)
    verified: bool = True


class Named(BaseModel):
    model_config = _STRICT
    codes: tuple[CodeEntry, ...] = ()
    products: tuple[CodeEntry, ...] = ()
    text: tuple[str, ...] = ()


class ObservationEntry(Named):
    unit: str | tuple[str, ...]
    fields: dict[str, str] = Field(default_factory=dict)


class Results(BaseModel):
    model_config = _STRICT
    positive: Named
    negative: Named


class Recognised(BaseModel):
    model_config = _STRICT
    conditions: tuple[CodeEntry, ...] = ()


class MappingFile(BaseModel):
    model_config = _STRICT
    version: Literal[1]
    systems: dict[str, str]
    ignored_resources: tuple[str, ...] = ()
    observation_statuses: tuple[str, ...]
    noise_words: tuple[str, ...] = ()
    observations: dict[str, ObservationEntry]
    antibodies: dict[str, Named]
    results: Results
    treatments: dict[str, Named]
    adverse_events: dict[str, Named]
    recognised: Recognised = Recognised()


@dataclass(frozen=True)
class Diagnostic:
    severity: Literal["error", "warning"]
    where: str  # e.g. "observations.ck_u_l.codes[0]"
    message: str
    path: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.severity}: {self.message}"


class MappingError(Exception):
    def __init__(self, path: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(path, diagnostics)
        self.path = path
        self.diagnostics = diagnostics

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


# What a code or name means: (section, target), e.g. ("observation", "ck_u_l"),
# ("antibody", "anti-MDA5"), ("treatment", "prednisone"), ("adverse_event", "herpes_zoster"),
# ("result", "positive"), ("recognised", "condition").
Target = tuple[str, str]


@dataclass
class Mapping:
    """The validated mapping with its look-up tables."""

    source: str
    file: MappingFile
    systems: dict[str, str]
    codes: dict[tuple[str, str], Target] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # section -> key -> target
    warnings: list[Diagnostic] = field(default_factory=list)
    # section -> (the name's words, target): names found inside a longer text (a product name)
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    def url(self, system: str) -> str:
        return self.systems.get(system, system)

    def by_code(self, system: str | None, code: str | None) -> Target | None:
        if system is None or code is None:
            return None
        return self.codes.get((system, code))

    def by_text(self, section: str, text: str | None) -> str | None:
        if not text:
            return None
        return self.texts.get(section, {}).get(self.text_key(text))

    def by_words(self, section: str, text: str | None) -> set[str]:
        """The targets whose names appear, as whole words, in ``text`` (e.g. 'tofacitinib' in
        'Xeljanz (tofacitinib) 5 mg tablet'); several targets mean an ambiguous text."""
        if not text:
            return set()
        words = tuple(_WORD.findall(text.casefold()))
        found = set()
        for phrase, target in self.phrases.get(section, []):
            n = len(phrase)
            if any(words[i:i + n] == phrase for i in range(len(words) - n + 1)):
                found.add(target)
        return found

    def text_key(self, text: str) -> str:
        words = re.split(r"[\s_\-,;:()\[\]/]+", text.casefold())
        kept = [w for w in words if w and w not in self._noise]
        return "".join(kept)

    @cached_property
    def ignored_kinds(self) -> frozenset[str]:
        """The resource kinds the mapping ignores (a set: the reader asks it of every
        resource)."""
        return frozenset(self.file.ignored_resources)

    @cached_property
    def _noise(self) -> frozenset[str]:
        return frozenset(w.casefold() for w in self.file.noise_words)

    def preferred(self, section: str, target: str) -> CodeEntry | None:
        """The first code listed for a target: the one the exporter writes."""
        entry: Named | None = None
        if section == "observation":
            entry = self.file.observations.get(target)
        elif section == "antibody":
            entry = self.file.antibodies.get(target)
        elif section == "treatment":
            entry = self.file.treatments.get(target)
        elif section == "adverse_event":
            entry = self.file.adverse_events.get(target)
        return entry.codes[0] if entry is not None and entry.codes else None


_WORD = re.compile(r"[^\W_]+")
_SECTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "observations": ("observation", frozenset(Visit.model_fields) | {"prednisone_dose"}),
    "antibodies": ("antibody", ANTIBODIES),
    "treatments": ("treatment", DRUGS),
    "adverse_events": ("adverse_event", ADVERSE_EVENTS),
}
_NOT_MEASURES = {"date", "adverse_events", "prednisone_mg_per_kg_day", "prednisone_mg_per_day"}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "-"


def _check_codes(mapping: Mapping, where: str, entries: tuple[CodeEntry, ...], target: Target,
                 problems: list[Diagnostic]) -> None:
    for i, entry in enumerate(entries):
        here = f"{where}[{i}]"
        if entry.system not in mapping.systems and "://" not in entry.system:
            problems.append(Diagnostic("error", here, f"unknown system {entry.system!r} "
                                       f"(an alias from 'systems': {listing(mapping.systems)}, "
                                       "or a URL)"))
            continue
        key = (mapping.url(entry.system), entry.code)
        if key in mapping.codes and mapping.codes[key] != target:
            other = mapping.codes[key]
            problems.append(Diagnostic("error", here, f"code {entry.system}|{entry.code} is "
                                       f"already mapped to {other[0]} {other[1]}"))
            continue
        mapping.codes[key] = target
        if not entry.verified:
            mapping.warnings.append(Diagnostic(
                "warning", here, f"{entry.system}|{entry.code} ({entry.display or target[1]}) is "
                f"not verified against a primary source: {entry.source}", mapping.source))


def _check_texts(mapping: Mapping, where: str, section: str, names: tuple[str, ...],
                 target: str, problems: list[Diagnostic]) -> None:
    table = mapping.texts.setdefault(section, {})
    for i, name in enumerate(names):
        key = mapping.text_key(name)
        if not key:
            problems.append(Diagnostic("error", f"{where}[{i}]",
                                       f"name {name!r} is empty once noise words are removed"))
        elif table.get(key, target) != target:
            problems.append(Diagnostic("error", f"{where}[{i}]", f"name {name!r} already names "
                                       f"{table[key]}"))
        else:
            table[key] = target
            mapping.phrases.setdefault(section, []).append(
                (tuple(_WORD.findall(name.casefold())), target))


def _check_units(where: str, name: str, entry: ObservationEntry,
                 problems: list[Diagnostic]) -> None:
    wanted = (entry.unit,) if isinstance(entry.unit, str) else entry.unit
    for unit in wanted:
        if not units.known(unit):
            problems.append(Diagnostic("error", f"{where}.unit", f"unknown UCUM unit {unit!r}"))
    if name == "prednisone_dose":
        for unit in wanted:
            target = entry.fields.get(unit)
            if target not in Visit.model_fields:
                problems.append(Diagnostic("error", f"{where}.fields",
                                           f"unit {unit!r} needs a visit field to go to"))
    elif entry.fields or not isinstance(entry.unit, str):
        problems.append(Diagnostic("error", where, "one unit per field; 'fields' is for "
                                   "prednisone_dose only"))


def build(data: object, source: str) -> Mapping:
    """Validate parsed mapping data; every problem is collected into one MappingError."""
    try:
        parsed = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise MappingError(source, [
            Diagnostic("error", _where(e["loc"]), e["msg"], source)
            for e in exc.errors(include_url=False)]) from None
    mapping = Mapping(source, parsed, dict(parsed.systems))
    problems: list[Diagnostic] = []
    for alias, url in parsed.systems.items():
        if "://" not in url and not url.startswith("urn:"):
            problems.append(Diagnostic("error", f"systems.{alias}", f"{url!r} is not a URI"))
    for attribute, (section, allowed) in _SECTIONS.items():
        entries: dict[str, Any] = getattr(parsed, attribute)
        for name, entry in entries.items():
            where = f"{attribute}.{name}"
            if name not in allowed or (section == "observation" and name in _NOT_MEASURES):
                allowed_names = allowed - _NOT_MEASURES if section == "observation" else allowed
                problems.append(Diagnostic("error", where, f"unknown {section} {name!r} "
                                           f"(allowed: {listing(allowed_names)})"))
                continue
            _check_codes(mapping, f"{where}.codes", entry.codes, (section, name), problems)
            _check_codes(mapping, f"{where}.products", entry.products, (section, name), problems)
            _check_texts(mapping, f"{where}.text", section, entry.text, name, problems)
            if section == "observation":
                _check_units(where, name, entry, problems)
    for result in ("positive", "negative"):
        entry = getattr(parsed.results, result)
        where = f"results.{result}"
        _check_codes(mapping, f"{where}.codes", entry.codes, ("result", result), problems)
        _check_texts(mapping, f"{where}.text", "result", entry.text, result, problems)
    # The project's own CodeSystems name treatments and adverse events by their file names.
    for alias, section, names in (("treatments", "treatment", DRUGS),
                                  ("adverse-events", "adverse_event", ADVERSE_EVENTS)):
        if alias in mapping.systems:
            for name in names:
                mapping.codes.setdefault((mapping.systems[alias], name), (section, name))
    _check_codes(mapping, "recognised.conditions", parsed.recognised.conditions,
                 ("recognised", "condition"), problems)
    for name in ("Patient", "Observation", "Condition", "AdverseEvent", "Procedure",
                 "MedicationStatement", "MedicationRequest", "MedicationAdministration",
                 "Medication", "Bundle"):
        if name in parsed.ignored_resources:
            problems.append(Diagnostic("error", "ignored_resources",
                                       f"{name} is read by the mapping and cannot be ignored"))
    if problems:
        raise MappingError(source, [Diagnostic(p.severity, p.where, p.message, source)
                                    for p in problems])
    return mapping


def load_mapping(path: str | Path | None = None) -> Mapping:
    """The mapping in ``path``, or the default one shipped with the package."""
    if path is None:
        return default_mapping()
    name = str(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(name, [Diagnostic("error", "-", f"cannot read file: {exc}",
                                             name)]) from None
    return _parse(text, name)


def _parse(text: str, name: str) -> Mapping:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "-"
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise MappingError(name, [Diagnostic("error", where, f"yaml syntax error: {detail}",
                                             name)]) from None
    return build(data, name)


@cache
def default_mapping() -> Mapping:
    text = resources.files("jdm_cds.interop.fhir").joinpath(DEFAULT_NAME).read_text("utf-8")
    return _parse(text, f"jdm_cds.interop.fhir/{DEFAULT_NAME}")
