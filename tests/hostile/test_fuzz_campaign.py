"""The fuzz campaign: patient files, rule packs and plugins, hostile and random.

``make fuzz`` runs each test below as a long campaign (tests/campaign.py: 30,000 patient
files, 6,000 rule packs, 15,000 plugin behaviours in two halves: 51,000 cases); ``make
test`` runs a small share. Every case checks two things:

- **no traceback**: whatever the input, the reader, the rule checks and the evaluation
  either give a result or refuse with a clear error (``PatientFileError``, a diagnostic with
  file:line, a plugin error entry), never any other exception;
- **no silent status change**: what is accepted means what was written. A patient file in
  which one value was replaced by a scalar text ``t`` is either refused, or read exactly as
  the YAML 1.2 core schema (or JSON) says ``t`` is, by an oracle written here from the
  specification (yaml.org/spec/1.2.2, 10.3.2), and then gives the patient the model gives
  for that value: a value the model would refuse is never accepted, and no other value is
  read in its place. The same data written as YAML or as JSON, with its keys and visits in
  any order, reads to the same patient; an unknown field is an error, never a status. A
  rule pack's threshold and version read as written or are refused. A plugin, whatever it
  does, never changes the judgements, alerts or recommendations (compared with the same
  evaluation without it), and each card it returns is kept exactly when it is valid by the
  limits stated in the hook specification (an oracle written here).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from campaign import campaign as shared_campaign
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jdm_cds import hookimpl
from jdm_cds.defaults import evaluator_for
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.rule_types import Compare
from jdm_cds.language.rulebase import read_packs
from jdm_cds.model.assessment import Assessment, GuidanceCard, Source
from jdm_cds.model.patient import Patient, Treatment, Visit
from jdm_cds.model.reading import PatientFileError, load_patient
from jdm_cds.plugins.hookspecs import PROJECT
from jdm_cds.plugins.manager import Plugins, plugin_manager

pytestmark = pytest.mark.fuzz


def campaign(examples: int, fuzz_examples: int) -> settings:
    """tests/campaign.py's settings, without the example database: tens of thousands of
    cases would each write to it."""
    return settings(shared_campaign(examples, fuzz_examples), database=None)

# --- the YAML 1.2 core schema, as its specification states it (the oracle) -----------------

_NULL = re.compile(r"null|Null|NULL|~|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?(\.inf|\.Inf|\.INF)")
_NAN = re.compile(r"\.nan|\.NaN|\.NAN")


def core_schema(text: str) -> Any:
    """What a plain scalar means in the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    if _DECIMAL.fullmatch(text):
        return int(text, 10)
    if _OCTAL.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


class _Quoting(yaml.SafeDumper):
    """Writes every string double-quoted: what the test means as text is text in any YAML."""


_Quoting.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"'))


def as_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Quoting, sort_keys=False, allow_unicode=True)


# --- patients ----------------------------------------------------------------------------

MEASURES = {"ck_u_l": (0, 20000), "cmas": (0, 52), "mmt8": (0, 80),
            "physician_global_vas": (0, 10), "parent_global_vas": (0, 10),
            "extramuscular_vas": (0, 10), "chaq": (0, 3), "das_skin": (0, 9),
            "das_muscle": (0, 11), "das_total": (0, 20), "prednisone_mg_per_kg_day": (0, 2),
            "weight_kg": (1, 80)}
ANTIBODIES = ["anti-MDA5", "anti-NXP2", "anti-TIF1g", "anti-Mi-2", "anti-SAE", "negative"]
START = date(2020, 1, 1)


def _measure(low: float, high: float) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(low, high), st.floats(low, high).map(lambda x: round(x, 2)))


# Built once: a strategy made inside a composite is validated again at every draw.
_VISIT_VALUES = st.fixed_dictionaries({}, optional={
    **{name: _measure(low, high) for name, (low, high) in MEASURES.items()},
    "adverse_events": st.lists(st.sampled_from(
        ["herpes_zoster", "dyspnoea", "abdominal_pain", "skin_ulceration"]), max_size=2,
        unique=True)})
_OPTIONAL = st.fixed_dictionaries({}, optional={
    "treatments": st.sampled_from(["ruxolitinib", "baricitinib", "methotrexate"]).map(
        lambda drug: [{"drug": drug, "start": START.isoformat()}]),
    "sex": st.sampled_from(["female", "male", "other"])})


def _patient(number: int, antibody: str, days: list[int], values: list[dict[str, Any]],
             optional: dict[str, Any]) -> dict[str, Any]:
    visits = [{"date": (START + timedelta(days=day)).isoformat(), **found}
              for day, found in zip(days, values, strict=False)]
    return {"id": f"P-{number}", "antibodies": [antibody], "visits": visits, **optional}


patients = st.builds(
    _patient, st.integers(0, 9_999), st.sampled_from(ANTIBODIES),
    st.lists(st.integers(-60, 400), min_size=1, max_size=4, unique=True),
    st.lists(_VISIT_VALUES, min_size=4, max_size=4), _OPTIONAL)
"""A valid patient as the data of a file."""


# Scalars as a careless or hostile author writes them: YAML 1.1 surprises, numbers in every
# spelling, dates in other formats, words that YAML 1.1 reads as booleans.
HOSTILE = ["0170", "170", "170.0", "1:30", "0x10", "0o17", "0o18", "0b101", "1_000", "+12", "-0",
           "-1", ".5", "5.", "1e3", "1E3", "1e+3", "1e400", "-1e400", ".inf", "-.inf", ".nan",
           "NaN", "yes", "no", "on", "off", "y", "n", "true", "True", "FALSE", "null", "~", "",
           "=", "0.0000001", "9" * 30, "1e-400", "2020-01-30", "2020-1-30", "20200130",
           "2020-W01-1", "2020-02-30", "0001-01-01", "9999-12-01", "anti-MDA5", "MDA5",
           "female", "FEMALE", "negative", "ruxolitinib", "012", "00", "0x", "0o"]
scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.from_regex(r"[-+]?[0-9]{1,6}(\.[0-9]{0,4})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"0[ox][0-9a-fA-F]{1,5}", fullmatch=True),
    st.text(alphabet="0123456789.+-eExo_abcdfnlstruy~", min_size=1, max_size=8),
)


def places(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every place of a scalar in a patient's data."""
    found: list[tuple[Any, ...]] = [("id",), ("antibodies", 0)]
    found += [("sex",)] if "sex" in data else []
    for index, visit in enumerate(data["visits"]):
        found += [("visits", index, key) for key in visit if key != "adverse_events"]
    for index, treatment in enumerate(data.get("treatments", [])):
        found += [("treatments", index, key) for key in treatment]
    return found


def put(data: Any, place: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``data`` with ``value`` at ``place``."""
    copy = json.loads(json.dumps(data))
    target = copy
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    return copy


def model_says(data: Any) -> Patient | None:
    """The patient the model makes of ``data``, or None when it refuses it."""
    try:
        return Patient.model_validate(data)
    except ValidationError:
        return None


def read(folder: Path, text: str, suffix: str) -> Patient | None:
    """The patient the reader makes of a file, None when it refuses it (with a clear
    error: any other exception fails the campaign)."""
    path = folder / f"patient{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        return load_patient(path)
    except PatientFileError as error:
        assert error.lines() and all(str(path) in line for line in error.lines())
        return None


HOLE = "HOLE-7f3a"  # a string that no generated value contains


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each case writes its file: in memory where the system offers it (tens of
    thousands of writes), else pytest's temporary folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="jdm-cds-fuzz-") as name:
            yield Path(name)
    else:
        yield tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def plain() -> Evaluator:
    return evaluator_for(_plugins())


def _plugins(**extra: object) -> Plugins:
    pm = plugin_manager()
    pm.load_setuptools_entrypoints(PROJECT)
    for name, plugin in extra.items():
        pm.register(plugin, name=name)
    return Plugins.of(pm, budget=120.0)  # no call comes near it: no timing in the campaign


def statuses(assessment: Assessment) -> dict[str, str]:
    return {rule: judgement.status for rule, judgement in assessment.judgements.items()}


@campaign(examples=60, fuzz_examples=24_000)
@given(data=patients, choice=st.data(), text=scalars, fmt=st.sampled_from(["yaml", "json"]))
def test_a_replaced_scalar_is_read_as_written_or_refused(
        data: dict[str, Any], choice: st.DataObject, text: str, fmt: str, folder: Path,
        plain: Evaluator) -> None:
    place = choice.draw(st.sampled_from(places(data)))
    holed = put(data, place, HOLE)
    if fmt == "yaml":
        file_text = as_yaml(holed).replace(f'"{HOLE}"', text)
        meant = core_schema(text)
    else:
        as_string = place[-1] in {"id", "sex", "date", "start", "drug"} or place[0] == "antibodies"
        token = json.dumps(text) if as_string else text
        file_text = json.dumps(holed).replace(f'"{HOLE}"', token)
        try:
            meant = json.loads(token)
        except ValueError:
            meant = HOLE  # not JSON: the file must be refused
    got = read(folder, file_text, "." + fmt)
    expected = None if meant == HOLE else model_says(put(data, place, meant))
    if got is None:
        return  # refused, with an error naming the file: never a wrong answer
    assert expected is not None, f"{text!r} at {place} was accepted; the model refuses {meant!r}"
    assert got == expected, f"{text!r} at {place} read as something else than {meant!r}"
    plain.evaluate(got)  # and judged without a traceback


@campaign(examples=20, fuzz_examples=3_000)
@given(data=patients, seed=st.integers(0, 2**32))
def test_yaml_json_and_any_order_read_to_the_same_patient_and_statuses(
        data: dict[str, Any], seed: int, folder: Path, plain: Evaluator) -> None:
    rng = random.Random(seed)
    shuffled = json.loads(json.dumps(data))
    rng.shuffle(shuffled["visits"])
    shuffled = _shuffle_keys(shuffled, rng)

    expected = model_says(data)
    assert expected is not None
    for text, suffix in ((as_yaml(data), ".yaml"), (json.dumps(data), ".json"),
                         (as_yaml(shuffled), ".yml"), (json.dumps(shuffled, indent=1), ".json")):
        assert read(folder, text, suffix) == expected
    assert statuses(plain.evaluate(expected)) == statuses(
        plain.evaluate(Patient.model_validate(shuffled)))


def _shuffle_keys(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffle_keys(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffle_keys(item, rng) for item in value]
    return value


@campaign(examples=20, fuzz_examples=3_000)
@given(data=patients, choice=st.data(),
       name=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
       value=st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()),
       fmt=st.sampled_from([".yaml", ".json"]))
def test_an_unknown_field_is_an_error_never_a_status(
        data: dict[str, Any], choice: st.DataObject, name: str, value: Any, fmt: str,
        folder: Path) -> None:
    where = choice.draw(st.sampled_from(["patient", "visit", "treatment"]))
    target: dict[str, Any] = data
    known = set(Patient.model_fields)
    if where == "visit":
        target, known = data["visits"][0], set(Visit.model_fields)
    elif where == "treatment" and data.get("treatments"):
        target, known = data["treatments"][0], set(Treatment.model_fields)
    assume(name not in known)
    target[name] = value
    text = as_yaml(data) if fmt == ".yaml" else json.dumps(data)
    path = folder / f"unknown{fmt}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PatientFileError) as refused:
        load_patient(path)
    assert any(name in line for line in refused.value.lines())


# --- rule packs --------------------------------------------------------------------------

PACK = """\
pack:
  id: fuzz
  version: {version}
  title: Fuzzed pack
  references:
    src: {{citation: A source.}}
rules:
  - id: fuzz.ck_normal
    title: CK within the limit
    kind: judgement
    scope: visit
    when: {{field: ck_u_l, lte: {threshold}}}
    references: [src]
"""


@campaign(examples=20, fuzz_examples=3_000)
@given(threshold=scalars, version=scalars)
def test_a_packs_threshold_and_version_are_read_as_written_or_refused(
        threshold: str, version: str, folder: Path) -> None:
    path = folder / "pack.yaml"
    path.write_text(PACK.format(threshold=threshold, version=version), encoding="utf-8")
    packs, diagnostics = read_packs([(path, None)])
    assert all(d.mark.file == str(path) and d.mark.line >= 1 for d in diagnostics)
    if not packs:
        return
    [pack] = packs
    assert pack.version == version, f"version {version!r} read as {pack.version!r}"
    [rule] = pack.rules
    assert isinstance(rule.when, Compare)
    meant, value = core_schema(threshold), rule.when.value
    same = (value == meant or (isinstance(value, float) and isinstance(meant, float)
                               and math.isnan(value) and math.isnan(meant)))
    assert same and isinstance(value, bool) == isinstance(meant, bool) and \
        isinstance(value, str) == isinstance(meant, str), (
            f"threshold {threshold!r} read as {value!r}, YAML 1.2 says {meant!r}")


pack_noise = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), scalars,
              st.sampled_from(["ck_u_l", "cmas", "judgement", "alert", "visit", "patient",
                               "met", "lte", "gte", "all", "any", "not", "at_least", "field"])),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["field", "lte", "gte", "eq", "all", "any", "not",
                                         "at_least", "of", "n", "rule", "is", "contains",
                                         "criterion", "id", "title", "kind", "scope", "when",
                                         "references", "alert", "summary", "x"]),
                        children, max_size=4)),
    max_leaves=20)


@campaign(examples=10, fuzz_examples=3_000)
@given(when=pack_noise, rule_extra=st.dictionaries(st.sampled_from(
    ["kind", "scope", "id", "title", "report", "reasons", "assumptions", "alert", "bogus"]),
    pack_noise, max_size=3))
def test_any_rule_text_gives_diagnostics_never_a_traceback(
        when: Any, rule_extra: dict[str, Any], folder: Path) -> None:
    rule = {"id": "fuzz.rule", "title": "A rule", "kind": "judgement", "scope": "visit",
            "when": when, "references": ["src"], **rule_extra}
    pack = {"pack": {"id": "fuzz", "version": "1.0.0", "title": "Fuzzed",
                     "references": {"src": {"citation": "A source."}}}, "rules": [rule]}
    path = folder / "noise.yaml"
    path.write_text(as_yaml(pack), encoding="utf-8")
    packs, diagnostics = read_packs([(path, None)])
    assert packs or diagnostics


# --- plugins -----------------------------------------------------------------------------

INDICATORS = ["info", "warning", "critical"]


def card_is_valid(card: dict[str, Any]) -> bool:
    """The limits of the hook specification, written independently of the models."""
    source = card.get("source")
    allowed = {"id", "indicator", "summary", "detail", "source"}
    return (set(card) <= allowed and isinstance(card.get("id"), str)
            and 1 <= len(card["id"]) <= 200 and card.get("indicator") in INDICATORS
            and isinstance(card.get("summary"), str) and 1 <= len(card["summary"]) <= 140
            and isinstance(card.get("detail"), str) and len(card["detail"]) <= 10_000
            and isinstance(source, dict) and set(source) <= {"label", "url"}
            and isinstance(source.get("label"), str) and 1 <= len(source["label"]) <= 1_000
            and (source.get("url") is None
                 or (isinstance(source["url"], str) and len(source["url"]) <= 2_000)))


def _text(limit: int) -> st.SearchStrategy[Any]:
    """Texts on both sides of a limit, and things that are not text."""
    return st.one_of(st.integers(0, limit + 2).map(lambda n: "x" * n),
                     st.sampled_from([0, None, 1.5, ["x"], {"x": 1}]), st.text(max_size=20))


cards = st.fixed_dictionaries(
    {"id": _text(200), "indicator": st.sampled_from([*INDICATORS, "bogus", 3, None]),
     "summary": _text(140), "detail": _text(10_000),
     "source": st.one_of(st.fixed_dictionaries(
         {"label": _text(1_000)}, optional={"url": st.one_of(st.none(), _text(2_000))}),
         st.sampled_from([None, "a source", 7]))},
    optional={"extra": st.integers()})


class Programmable:
    """A plugin whose behaviour each case sets."""

    def __init__(self) -> None:
        self.behaviour: Callable[[Assessment], Any] = lambda _: []

    @hookimpl
    def jdm_cds_guidance(self, assessment: Assessment) -> Any:
        return self.behaviour(assessment)


def _as_model(card: dict[str, Any]) -> Any:
    source = card.get("source")
    if isinstance(source, dict):
        source = Source.model_construct(**source)
    return GuidanceCard.model_construct(**{**card, "source": source})


MUTATIONS: list[Callable[[Assessment], Any]] = [
    lambda a: a.judgements.clear(),
    lambda a: setattr(a.judgements["cid.printo"], "status", "met"),
    lambda a: a.judgements["cid.printo"].because.update(facts={}),
    lambda a: a.judgements["cid.printo"].missing.append("cmas"),
    lambda a: a.alerts.append(None),
    lambda a: setattr(a, "patient_id", "someone else"),
    lambda a: a.judgements.pop("cid.printo"),
]
ERRORS = [SystemExit(0), SystemExit(1), GeneratorExit(), KeyboardInterrupt(), ValueError("x"),
          RecursionError(), MemoryError(), ZeroDivisionError(), StopIteration()]


@pytest.fixture(scope="module")
def programmable() -> tuple[Programmable, Evaluator]:
    plugin = Programmable()
    return plugin, evaluator_for(_plugins(zz_fuzz=plugin))


# Two halves of one campaign, so that make fuzz can run them on two cores at once.
@pytest.mark.parametrize("behaviours", [("cards", "models"), ("junk", "raise", "mutate")],
                         ids=["returns-cards", "misbehaves"])
@campaign(examples=20, fuzz_examples=7_500)
@given(data=patients, choice=st.integers(0, 2),
       returned=st.lists(cards, max_size=6), error=st.sampled_from(ERRORS),
       mutation=st.sampled_from(MUTATIONS),
       junk=st.sampled_from([None, {}, "cards", 3, (), b"x", {"id": "x"}]))
def test_whatever_a_plugin_does_the_judgements_stand(
        behaviours: tuple[str, ...], data: dict[str, Any], choice: int,
        returned: list[dict[str, Any]], error: BaseException,
        mutation: Callable[[Assessment], Any], junk: Any,
        programmable: tuple[Programmable, Evaluator], plain: Evaluator) -> None:
    how = behaviours[choice % len(behaviours)]
    plugin, evaluator = programmable
    patient = Patient.model_validate(data)

    def behaviour(assessment: Assessment) -> Any:
        if how == "cards":
            return returned
        if how == "models":
            return [_as_model(card) for card in returned]
        if how == "raise":
            raise error
        if how == "mutate":
            mutation(assessment)
            return returned
        return junk

    plugin.behaviour = behaviour
    got = evaluator.evaluate(patient)
    alone = plain.evaluate(patient)

    core = {"guidance", "errors"}
    assert got.model_dump(exclude=core) == alone.model_dump(exclude=core)
    mine = [c for c in got.guidance if c.plugin == "zz_fuzz"]
    problems = [e for e in got.errors if e.plugin == "zz_fuzz"]
    assert [e.plugin for e in got.errors] == [e.plugin for e in problems]  # no one else failed
    assert [c for c in got.guidance if c.plugin != "zz_fuzz"] == list(alone.guidance)
    if how in {"cards", "models"}:
        # model_construct drops a field the model does not have
        sent = returned if how == "cards" else [
            {key: value for key, value in card.items() if key != "extra"} for card in returned]
        valid = [card for card in sent if card_is_valid(card)]
        assert sorted(c.id for c in mine) == sorted(card["id"] for card in valid)
        assert len(problems) == len(returned) - len(valid)
    else:
        assert mine == []
        # pluggy leaves out a None result; an empty tuple is an empty list of cards
        assert len(problems) == (0 if how == "junk" and junk in (None, ()) else 1)
