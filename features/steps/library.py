"""The step library: every sentence a scenario may use, with an example of each.

Each step is registered through ``step()``, which records its pattern and example in
``LIBRARY``. That list is what a writer sees when a sentence matches no step, and what
``features/README.md`` documents (a test keeps the two in step).
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from pytest_bdd import given, parsers, then, when
from typer.testing import CliRunner

from features.steps.coverage import COVERAGE, RuleCoverage
from features.steps.tables import (
    PatientDraft,
    cell_value,
    field_names,
    patient_field,
    resolve_date,
    rows,
    split_list,
    visit_pairs,
)
from jdm_cds.cli import app
from jdm_cds.cohort.summary import summarise
from jdm_cds.defaults import default_evaluator, evaluator_for
from jdm_cds.evaluate import Evaluator
from jdm_cds.language.treatment_classes import core_treatment_classes
from jdm_cds.model.assessment import Alert, Assessment, GuidanceCard, Judgement, Recommendation
from jdm_cds.model.patient import Patient
from jdm_cds.model.reading import PatientFileError, load_patient, validate_patient
from jdm_cds.plugins.hookspecs import hookimpl
from jdm_cds.plugins.manager import Plugins

ROOT = Path(__file__).resolve().parents[2]
STUDY_CASES = ROOT / "features" / "study_cases"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StepDoc:
    keyword: str  # Given, When or Then
    pattern: str
    example: str
    summary: str


LIBRARY: list[StepDoc] = []
_DECORATORS = {"Given": given, "When": when, "Then": then}


def step(keyword: str, pattern: str, example: str, summary: str) -> Callable[[F], F]:
    """Register a step with the regular expression ``pattern`` (matched in full)."""

    def register(func: F) -> F:
        LIBRARY.append(StepDoc(keyword, pattern, example, summary))
        # stacklevel=2: pytest-bdd puts the step fixture in the module that calls us.
        _DECORATORS[keyword](parsers.re(pattern), stacklevel=2)(func)
        return func

    return register


# Pieces of patterns shared by several steps.
RULE = r'"?(?P<rule>[A-Za-z][\w-]*(?:\.[\w-]+)+)"?'
STATUS = r"(?P<status>met|not met|not_met|indeterminate|not applicable|not_applicable)"
TEXT = r'"(?P<text>[^"]+)"'
INDICATOR = r"(?:(?P<indicator>info|warning|critical) )?"
COUNT = r"(?P<count>no|\d+)"


# --- the scenario's state -------------------------------------------------------------


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Case:
    """What one scenario has set up and what its last action produced."""

    coverage: RuleCoverage
    tmp_path: Path
    draft: PatientDraft = field(default_factory=PatientDraft)
    file: Path | None = None
    disabled_plugins: set[str] = field(default_factory=set)
    needed_plugins: set[str] = field(default_factory=set)
    extra_plugins: dict[str, object] = field(default_factory=dict)
    assessment: Assessment | None = None
    rejected: PatientFileError | None = None
    command: CommandResult | None = None
    cohort: dict[str, Any] | None = None
    rules_after: Path | None = None  # core packs with a change, for "jdm-cds diff"
    diff: dict[str, Any] | None = None

    def patient(self) -> Patient:
        if self.file is not None:
            return load_patient(self.file)
        return validate_patient(self.draft.to_data(), "the scenario's patient")

    def day_zero(self) -> date:
        if self.file is not None:
            start = core_treatment_classes().first_start(load_patient(self.file).treatments)
            return start if start is not None else self.draft.anchor()
        return self.draft.anchor()

    def patient_file(self) -> Path:
        """The patient as a file, for the command line (written from the tables if need be)."""
        if self.file is not None:
            return self.file
        path = self.tmp_path / f"{self.draft.id}.yaml"
        path.write_text(yaml.safe_dump(self.draft.to_data(), sort_keys=False), encoding="utf-8")
        return path

    def result(self) -> Assessment:
        if self.rejected is not None:
            pytest.fail("the patient was rejected, so there is nothing to check:\n"
                        + "\n".join(self.rejected.lines()), pytrace=False)
        if self.assessment is None:
            pytest.fail('no evaluation yet: add "When the patient is evaluated" before the '
                        "Then steps", pytrace=False)
        return self.assessment

    def judgement(self, rule: str) -> Judgement:
        judgements = self.result().judgements
        if rule not in judgements:
            pytest.fail(f"there is no judgement '{rule}'; the judgements are: "
                        f"{', '.join(sorted(judgements))}", pytrace=False)
        return judgements[rule]


@pytest.fixture
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    return Case(coverage=request.config.stash[COVERAGE], tmp_path=tmp_path)


# --- Given: the patient ----------------------------------------------------------------


@step("Given", r'a patient(?: "(?P<name>[^"]+)")?', 'a patient "P-CID-1"',
      "Starts a new patient (the name is optional and appears in messages).")
def _new_patient(case: Case, name: str | None) -> None:
    case.draft = PatientDraft(id=name or "scenario-patient")
    case.file = None


@step("Given", r"the patient:", "the patient:\n  | id         | P07        |\n"
      "  | antibodies | anti-TIF1g |\n  | sex        | female     |",
      "Patient details as a two-column table: id, sex, birth date, antibodies.")
def _patient_table(case: Case, datatable: Sequence[Sequence[str]]) -> None:
    for name, value in ((patient_field(k), v.strip()) for k, v in datatable):
        if name == "id":
            case.draft.id = value
        elif name == "antibodies":
            case.draft.antibodies = split_list(value)
        elif name == "birth_date":
            case.draft.details[name] = resolve_date(value, case.draft.anchor())
        else:
            case.draft.details[name] = value


@step("Given", r"the patient has antibod(?:y|ies) (?P<names>.+)",
      "the patient has antibodies anti-NXP2 and anti-MDA5",
      "Myositis-specific antibodies, or 'negative'; several with commas or 'and'.")
def _antibodies(case: Case, names: str) -> None:
    case.draft.antibodies = split_list(names)


@step("Given", r"day 0 is (?P<day>\d{4}-\d{2}-\d{2})", "day 0 is 2021-03-15",
      "Fixes the calendar date of day 0 (otherwise: the JAK inhibitor's start if given as a "
      "date, else 2020-01-01).")
def _day_zero(case: Case, day: str) -> None:
    case.draft.day_zero = date.fromisoformat(day)


@step("Given", r"the treatments:",
      "the treatments:\n  | drug        | start  | stop    | dose (mg/day) |\n"
      "  | ruxolitinib | day 0  |         | 10            |\n"
      "  | prednisone  | day -200 |       |               |",
      "Treatment courses: drug, start, stop (empty while ongoing), dose (mg/day).")
def _treatments(case: Case, datatable: Sequence[Sequence[str]]) -> None:
    case.draft.treatments += rows(datatable)


@step("Given", r"the patient (?:is treated with|takes) (?P<drug>[\w -]+?) from (?P<start>.+?)"
      r"(?: until (?P<stop>.+))?",
      "the patient is treated with plasma exchange from day -90 until day 120",
      "One treatment course in a sentence ('until' is optional).")
def _treatment(case: Case, drug: str, start: str, stop: str | None) -> None:
    row = {"drug": drug, "start": start}
    if stop is not None:
        row["stop"] = stop
    case.draft.treatments.append(row)


@step("Given", r"the visits:",
      "the visits:\n  | date   | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |\n"
      "  | day 90 | 120      | 50   | 79   | 0.1              | 0        |",
      "Visits, one row each: a date column plus any visit fields (names or aliases); an "
      "empty cell or '-' means not recorded.")
def _visits(case: Case, datatable: Sequence[Sequence[str]]) -> None:
    case.draft.visits += rows(datatable)


@step("Given", r"a visit on (?P<day>.+?) with (?P<values>.+)",
      "a visit on day 90 with CK 120, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0",
      "One visit in a sentence: 'name value' pairs separated by commas.")
def _visit(case: Case, day: str, values: str) -> None:
    case.draft.visits.append({"date": day, **visit_pairs(values)})


@step("Given", r"the study case (?P<name>P\d\d)", "the study case P03",
      "One of the study's ten reconstructed cases, from features/study_cases/.")
def _study_case(case: Case, name: str) -> None:
    case.file = STUDY_CASES / f"{name}.yaml"


@step("Given", r'the patient file "(?P<path>[^"]+)"',
      'the patient file "examples/patient-mda5.yaml"',
      "A patient file, by its path from the project folder.")
def _patient_file(case: Case, path: str) -> None:
    case.file = ROOT / path


@step("Given", r'a patient file "(?P<name>[^"]+)" containing:',
      'a patient file "typo.yaml" containing:\n  """\n  id: T1\n  visits:\n'
      '    - {date: 2020-01-01, ckk: 100}\n  """',
      "A patient file written out in the scenario (a doc string), e.g. to show how a "
      "mistake is reported.")
def _patient_file_text(case: Case, name: str, docstring: str) -> None:
    case.file = case.tmp_path / name
    case.file.write_text(docstring, encoding="utf-8")


@step("Given", r'the plugin "(?P<name>[^"]+)" is disabled', 'the plugin "anti_tif1g" is disabled',
      "Evaluates without that plugin, like --disable-plugin NAME.")
def _disable_plugin(case: Case, name: str) -> None:
    case.disabled_plugins.add(name)


class _FailingPlugin:
    """A plugin whose guidance hook raises, to show that it cannot stop an evaluation."""

    @hookimpl
    def jdm_cds_guidance(self) -> None:
        raise RuntimeError("this plugin fails on purpose")


@step("Given", r'the installed plugin "(?P<name>[^"]+)" is used',
      'the installed plugin "example_ifn" is used',
      "Scenarios use the built-in plugins only, so that another installed plugin cannot "
      "change what they check; this lets one in.")
def _use_plugin(case: Case, name: str) -> None:
    case.needed_plugins.add(name)


def third_party_plugins() -> set[str]:
    """Installed plugins (entry-point names) that are not among the built-in ones."""
    return {ep.name for ep in entry_points(group="jdm_cds")
            if not ep.value.startswith("jdm_cds_plugins")}


@step("Given", r'an installed plugin "(?P<name>[^"]+)" whose guidance fails',
      'an installed plugin "broken" whose guidance fails',
      "Adds a plugin that raises an error whenever it is asked for guidance.")
def _failing_plugin(case: Case, name: str) -> None:
    case.extra_plugins[name] = _FailingPlugin()


def _evaluator(case: Case) -> Evaluator:
    # The built-in plugins, those the scenario asks for, and none other.
    disabled = case.disabled_plugins | (third_party_plugins() - case.needed_plugins)
    if not case.extra_plugins:
        return default_evaluator(disabled)
    plugins = Plugins.load(disabled)
    for name, plugin in case.extra_plugins.items():
        plugins.pm.register(plugin, name=name)
    return evaluator_for(Plugins.of(plugins.pm))


# --- When ---------------------------------------------------------------------------------


def _evaluate(case: Case, at: str | None) -> None:
    case.assessment, case.rejected = None, None
    try:
        patient = case.patient()
    except PatientFileError as error:
        case.rejected = error
        return
    on = None if at is None else _calendar_day(case, at)
    case.assessment = _evaluator(case).evaluate(patient, on)
    case.coverage.record(case.assessment)


def _calendar_day(case: Case, text: str) -> date:
    try:
        return date.fromisoformat(resolve_date(text, case.day_zero()))
    except ValueError:
        pytest.fail(f"'{text}' is not a date: write YYYY-MM-DD, 'day 90', 'day 90 after JAK "
                    "inhibitor start' or '14 days before JAK inhibitor start'", pytrace=False)


@step("When", r"the patient is evaluated", "the patient is evaluated",
      "Judges the patient at the last visit.")
def _evaluated(case: Case) -> None:
    _evaluate(case, None)


@step("When", r"the patient is evaluated (?:on|at) (?P<day>.+)",
      "the patient is evaluated on day 183",
      "Judges the patient at the last visit on or before that date (like --at).")
def _evaluated_at(case: Case, day: str) -> None:
    _evaluate(case, day)


@step("When", r'the command "(?P<command>jdm-cds [^"]+)" is run',
      'the command "jdm-cds evaluate {patient file} --format json" is run',
      "Runs the command line; {patient file} stands for the scenario's patient as a file.")
def _command(case: Case, command: str) -> None:
    words = [case.patient_file().as_posix() if word == "{patient_file}" else word
             for word in shlex.split(command.replace("{patient file}", "{patient_file}"))]
    with contextlib.chdir(ROOT):  # paths in the command are read from the project folder
        result = CliRunner().invoke(app, words[1:])
    case.command = CommandResult(result.exit_code, result.stdout, result.stderr)


@step("When", r'the cohort "(?P<paths>[^"]+)" is summarised',
      'the cohort "features/study_cases" is summarised',
      "Summarises patient files or folders like 'jdm-cds cohort' (paths from the project "
      "folder, separated by commas).")
def _cohort(case: Case, paths: str) -> None:
    case.cohort = summarise([ROOT / p for p in split_list(paths)]).to_dict()


@step("Given", r'the core rule packs with "(?P<old>[^"]+)" changed to "(?P<new>[^"]+)" in '
      r'"(?P<pack>[\w.-]+)"',
      'the core rule packs with "das_skin, eq: 0" changed to "das_skin, lte: 1" in "cid.yaml"',
      "A copy of the installed core packs with one text of one pack replaced (it must occur "
      "exactly once): the rule change to try with 'jdm-cds diff'.")
def _changed_packs(case: Case, old: str, new: str, pack: str) -> None:
    from jdm_cds.language.rulebase import core_pack_paths

    folder = case.tmp_path / "rules-after"
    folder.mkdir(exist_ok=True)
    for path in core_pack_paths():
        text = path.read_text(encoding="utf-8")
        if path.name == pack:
            expect(text.count(old) == 1, f'"{old}" occurs {text.count(old)} times in {pack}, '
                   "not once")
            text = text.replace(old, new)
        (folder / path.name).write_text(text, encoding="utf-8")
    expect((folder / pack).exists(), f"no core pack {pack}")
    case.rules_after = folder


@step("When", r'the cohort "(?P<paths>[^"]+)" is compared under (?P<which>the changed|the '
      r"same) rule packs",
      'the cohort "features/study_cases" is compared under the changed rule packs',
      "Evaluates patient files or folders under the installed core packs and under the "
      "changed ones (or the same ones again), like 'jdm-cds diff'.")
def _compared(case: Case, paths: str, which: str) -> None:
    from jdm_cds.language.rulebase import RULES_DIR

    after = case.rules_after if which == "the changed" else RULES_DIR
    if after is None:
        pytest.fail('no changed packs yet: add "Given the core rule packs with ... changed '
                    'to ..."', pytrace=False)
    result = CliRunner().invoke(app, ["diff", "--jobs", "1", "--format", "json",
                                      "--rules-after", str(after),
                                      *(str(ROOT / p) for p in split_list(paths))])
    expect(result.exit_code == 0, f"jdm-cds diff failed:\n{result.output}")
    case.diff = json.loads(result.stdout)


def _diff(case: Case) -> dict[str, Any]:
    if case.diff is None:
        pytest.fail('no comparison yet: add "When the cohort "..." is compared under the '
                    'changed rule packs"', pytrace=False)
    return case.diff


@step("Then", r"the rule change shows:",
      "the rule change shows:\n  | judgement       | before  | after | patients |\n"
      "  | cid.printo_skin | not_met | met   | RC-1     |",
      "Every judgement that changes, with its transition and the patients (ids separated by "
      "commas): the table is the whole list.")
def _rule_change_shows(case: Case, datatable: Sequence[Sequence[str]]) -> None:
    found = {(t["judgement"], t["before"], t["after"]): t["patients"]
             for t in _diff(case)["transitions"]}
    wanted = {(row["judgement"].strip(), row["before"].strip(), row["after"].strip()):
              split_list(row["patients"]) for row in rows(datatable)}
    expect(found == wanted, f"the rule change shows {found}, expected {wanted}")


@step("Then", r"the rule change changes nothing",
      "the rule change changes nothing",
      "No judgement of any patient differs between the two rule sets.")
def _rule_change_nothing(case: Case) -> None:
    data = _diff(case)
    expect(data["transitions"] == [], f"it changes: {data['transitions']}")


# --- Then: judgements ------------------------------------------------------------------


def expect(holds: bool, message: str) -> None:
    """Fail with a message for the scenario's writer, without a Python traceback."""
    if not holds:
        pytest.fail(message, pytrace=False)


def _status(text: str) -> str:
    return text.replace(" ", "_")


@step("Then", rf"{RULE} is {STATUS}", "cid.printo is met",
      "The judgement's status: met, not met, indeterminate or not applicable.")
def _is(case: Case, rule: str, status: str) -> None:
    judgement = case.judgement(rule)
    expect(judgement.status == _status(status),
           f"expected {rule} to be {_status(status)}: {_explain(judgement)}")


@step("Then", rf"{RULE} is indeterminate because {TEXT}",
      'cid.within_6_months is indeterminate because "still open"',
      "Indeterminate, and the text is part of one of its reasons or missing fields.")
def _indeterminate_because(case: Case, rule: str, text: str) -> None:
    judgement = case.judgement(rule)
    said = [*judgement.reasons, *judgement.missing]
    expect(judgement.status == "indeterminate"
           and any(text.casefold() in item.casefold() for item in said),
           f'expected {rule} to be indeterminate because "{text}": {_explain(judgement)}')


@step("Then", rf"{RULE} is missing (?P<names>.+)", "cid.printo is missing CK (U/L) and MMT8",
      "The judgement lists these fields (names or aliases) as missing data.")
def _missing(case: Case, rule: str, names: str) -> None:
    judgement = case.judgement(rule)
    absent = [name for name in field_names(names) if name not in judgement.missing]
    expect(not absent, f"not listed as missing: {', '.join(absent)}\n{_explain(judgement)}")


@step("Then", rf"{RULE} has (?P<name>[a-z_]+) (?P<about>about )?(?P<value>.+)",
      "response.acr_eular_2016 has score 47.5",
      "A value the judgement reports (score, category, days to CID, ...); 'unknown' when "
      "absent; 'about 0.29' compares to the decimals written.")
def _has_value(case: Case, rule: str, name: str, about: str | None, value: str) -> None:
    judgement = case.judgement(rule)
    if name not in judgement.values:
        pytest.fail(f"{rule} reports no '{name}'; it reports: "
                    f"{', '.join(judgement.values) or 'nothing'}", pytrace=False)
    actual = judgement.values[name]
    if about:
        actual = _rounded_like(actual, value)
    expect(_same(actual, value),
           f"expected {rule} to have {name} {about or ''}{value}: {_explain(judgement)}")


@step("Then", rf"{RULE} states the assumption {TEXT}",
      'cid.printo_skin states the assumption "skin DAS = 0"',
      "One of the judgement's labelled assumptions contains the text.")
def _assumption(case: Case, rule: str, text: str) -> None:
    judgement = case.judgement(rule)
    texts = [a.text for a in judgement.assumptions]
    expect(any(text.casefold() in t.casefold() for t in texts), f"assumptions: {texts}")


@step("Then", rf"{RULE} cites {TEXT}", 'cid.p_cid cites "Almeida"',
      "One of the judgement's citations contains the text.")
def _cites(case: Case, rule: str, text: str) -> None:
    labels = [c.label for c in case.judgement(rule).citations]
    expect(any(text.casefold() in label.casefold() for label in labels), f"citations: {labels}")


@step("Then", r"the evaluation visit is (?P<day>.+)", "the evaluation visit is day 90",
      "Which visit was judged (the last one on or before the evaluation date).")
def _evaluation_visit(case: Case, day: str) -> None:
    expected = resolve_date(day, case.day_zero())
    actual = case.result().evaluation_visit
    expect(actual is not None and actual.isoformat() == expected,
           f"the evaluation visit is {actual}, not {expected}")


# --- Then: alerts, recommendations, guidance -------------------------------------------


def _mentions(text: str, *fields: str | None) -> bool:
    return any(f is not None and text.casefold() in f.casefold() for f in fields)


def _alerts(case: Case, text: str | None, indicator: str | None) -> list[Alert]:
    return [a for a in case.result().alerts
            if (text is None or a.rule == text or _mentions(text, a.summary, a.detail))
            and (indicator is None or a.indicator == indicator)]


def _recommendations(case: Case, text: str | None) -> list[Recommendation]:
    return [r for r in case.result().recommendations
            if text is None or r.rule == text or _mentions(text, r.summary, r.detail)]


def _guidance(case: Case, text: str | None, indicator: str | None,
              plugin: str | None) -> list[GuidanceCard]:
    return [g for g in case.result().guidance
            if (text is None or g.id == text or _mentions(text, g.summary, g.detail))
            and (indicator is None or g.indicator == indicator)
            and (plugin is None or g.plugin == plugin)]


def _count(text: str) -> int:
    return 0 if text == "no" else int(text)


@step("Then", rf"there is an? {INDICATOR}alert {TEXT}(?: for the visit on (?P<day>.+))?",
      'there is a warning alert "herpes zoster"',
      "An alert whose rule id, summary or detail contains the text (optionally: its level, "
      "and the visit that raised it).")
def _alert(case: Case, indicator: str | None, text: str, day: str | None) -> None:
    found = _alerts(case, text, indicator)
    if day is not None:
        wanted = resolve_date(day, case.day_zero())
        found = [a for a in found
                 if a.visit_date is not None and a.visit_date.isoformat() == wanted]
    expect(bool(found), f'no alert "{text}"; ' + _listing("alerts", case.result().alerts))


@step("Then", rf"there (?:is|are) {COUNT} {INDICATOR}alerts?(?: {TEXT})?",
      'there are 2 alerts "skin abscess"',
      "How many alerts (with that text or level, if given); 'no' for none.")
def _alert_count(case: Case, count: str, indicator: str | None, text: str | None) -> None:
    found = _alerts(case, text, indicator)
    expect(len(found) == _count(count),
           f"expected {count} such alert(s), found {len(found)}; " + _listing("alerts", found))


@step("Then", rf"there is a recommendation {TEXT}",
      'there is a recommendation "plasma exchange"',
      "A recommendation whose rule id, summary or detail contains the text.")
def _recommendation(case: Case, text: str) -> None:
    expect(bool(_recommendations(case, text)), f'no recommendation "{text}"; '
           + _listing("recommendations", case.result().recommendations))


@step("Then", rf"there (?:is|are) {COUNT} recommendations?(?: {TEXT})?",
      'there is no recommendation "steroid"',
      "How many recommendations (with that text, if given); 'no' for none.")
def _recommendation_count(case: Case, count: str, text: str | None) -> None:
    found = _recommendations(case, text)
    expect(len(found) == _count(count), f"expected {count} such recommendation(s), found "
           f"{len(found)}; " + _listing("recommendations", found))


@step("Then", rf'there is {INDICATOR}guidance {TEXT}(?: from "(?P<plugin>[^"]+)")?',
      'there is warning guidance "lung" from "anti_mda5"',
      "A plugin's guidance card whose id, summary or detail contains the text (optionally: "
      "its level and plugin).")
def _guidance_card(case: Case, indicator: str | None, text: str, plugin: str | None) -> None:
    expect(bool(_guidance(case, text, indicator, plugin)),
           f'no guidance "{text}"; ' + _listing("guidance", case.result().guidance))


@step("Then", rf'there is no guidance(?: {TEXT})?(?: from "(?P<plugin>[^"]+)")?',
      'there is no guidance from "anti_tif1g"',
      "No guidance card (with that text or from that plugin, if given).")
def _no_guidance(case: Case, text: str | None, plugin: str | None) -> None:
    found = _guidance(case, text, None, plugin)
    expect(not found, "expected no such guidance; " + _listing("guidance", found))


@step("Then", r'a plugin error names "(?P<plugin>[^"]+)"', 'a plugin error names "broken"',
      "The evaluation went on, and an error entry names the failing plugin.")
def _plugin_error(case: Case, plugin: str) -> None:
    errors = case.result().errors
    expect(any(e.plugin == plugin for e in errors), f"plugin errors: {errors}")


# --- Then: bad input, the command line, the cohort ---------------------------------------


@step("Then", rf"the patient is rejected with {TEXT}",
      'the patient is rejected with "visits[0].ckk: unknown field"',
      "The patient could not be used, and one error line contains the text.")
def _rejected(case: Case, text: str) -> None:
    if case.rejected is None:
        pytest.fail("the patient was accepted", pytrace=False)
    lines = case.rejected.lines()
    expect(any(text in line for line in lines), "errors:\n" + "\n".join(lines))


def _ran(case: Case) -> CommandResult:
    if case.command is None:
        pytest.fail('no command yet: add "When the command "jdm-cds ..." is run"', pytrace=False)
    printed = case.command.stdout + case.command.stderr
    expect("Traceback" not in printed, f"the command printed a traceback:\n{printed}")
    return case.command


@step("Then", r"the command (?:exits with|returns) (?P<code>\d+)", "the command exits with 1",
      "The exit code: 0 all input valid, 1 some input invalid, 2 usage or rule-pack error. "
      "Every command step also checks that no traceback was printed.")
def _exit_code(case: Case, code: str) -> None:
    result = _ran(case)
    expect(result.exit_code == int(code), f"the command exited with {result.exit_code}\n"
           f"output:\n{result.stdout}\nerror output:\n{result.stderr}")


@step("Then", rf"the (?P<stream>output|error output) (?P<verb>says|does not say) {TEXT}",
      'the error output says "visits[0].ck_u_l: must be >= 0"',
      "What the command printed, or did not (output: standard output; error output: "
      "standard error).")
def _says(case: Case, stream: str, verb: str, text: str) -> None:
    result = _ran(case)
    printed = result.stdout if stream == "output" else result.stderr
    expect((text in printed) == (verb == "says"), f'the {stream} {verb} "{text}"? No; it is:'
           f"\n{printed}")


@step("Then", r"the cohort summary shows:",
      "the cohort summary shows:\n  | measure                                | value  |\n"
      "  | patients                               | 10     |\n"
      "  | cid_within_6_months.by_antibody.anti-MDA5 | [2, 2] |",
      "Values of the cohort summary (as in 'jdm-cds cohort --format json'), by dotted path.")
def _cohort_shows(case: Case, datatable: Sequence[Sequence[str]]) -> None:
    if case.cohort is None:
        pytest.fail('no cohort yet: add "When the cohort "..." is summarised"', pytrace=False)
    for row in rows(datatable):
        path, expected = row["measure"].strip(), row["value"].strip()
        value: Any = case.cohort
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                pytest.fail(f"the cohort summary has no '{path}'", pytrace=False)
            value = value[part]
        expect(_same(value, expected), f"{path}: {value!r}, expected {expected}")


# --- helpers for messages --------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _rounded_like(actual: Any, written: str) -> Any:
    """``actual`` rounded to as many decimals as ``written`` has (for 'about')."""
    number, target = _number(actual), _number(written)
    places = None if target is None else target.as_tuple().exponent
    if number is None or not isinstance(places, int):
        return actual
    return number.quantize(Decimal(1).scaleb(places))


def _same(actual: Any, expected: str) -> bool:
    """Compare a reported value with what the scenario wrote: numbers exactly (0.1 is 0.1),
    lists and mappings as JSON, text without case, 'unknown' for an absent value."""
    if expected.casefold() == "unknown":
        return actual is None
    if isinstance(actual, list | dict):
        try:
            parsed = json.loads(expected)
        except json.JSONDecodeError:
            return False
        return bool(_same_json(actual, parsed))
    number = _number(cell_value(expected))
    if number is not None and _number(actual) is not None:
        return _number(actual) == number
    return str(actual).casefold() == expected.casefold()


def _same_json(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            _same_json(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            _same_json(actual[k], expected[k]) for k in actual)
    return _same(actual, json.dumps(expected) if not isinstance(expected, str) else expected)


def _explain(judgement: Judgement) -> str:
    lines = [f"{judgement.rule} is {judgement.status}"]
    if judgement.values:
        lines.append(f"values: {judgement.values}")
    if judgement.missing:
        lines.append(f"missing: {', '.join(judgement.missing)}")
    lines += [f"reason: {reason}" for reason in judgement.reasons]
    lines += [f"{c['criterion'] or c['test']}: {c['status']} (value {c['value']})"
              for c in judgement.because.get("criteria", [])]
    return "\n".join(lines)


def _listing(what: str, items: Sequence[Alert | Recommendation | GuidanceCard]) -> str:
    if not items:
        return f"there are no {what}"
    shown = [f"- {getattr(i, 'indicator', '')} [{getattr(i, 'rule', getattr(i, 'id', ''))}] "
             f"{i.summary}" for i in items]
    return f"the {what} are:\n" + "\n".join(shown)


def unmatched_step_message(keyword: str, text: str, where: str) -> str:
    """What a writer sees when a sentence matches no step: the closest steps, then all."""
    import difflib

    examples = {f"{doc.keyword} {doc.example.splitlines()[0]}": doc for doc in LIBRARY}
    close = difflib.get_close_matches(f"{keyword} {text}", examples, n=3, cutoff=0.4)
    lines = [f'No step matches "{keyword} {text}" ({where}).']
    if close:
        lines.append("Did you mean one of these?")
        for sentence in close:
            lines += [f"    {sentence}", f"        ({examples[sentence].summary})"]
    lines.append("The steps you can use (features/README.md explains each):")
    for doc in LIBRARY:
        lines.append(f"    {doc.keyword} {doc.example.splitlines()[0]}")
    return "\n".join(lines)

