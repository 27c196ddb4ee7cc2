"""What a worker does with each patient: read it, judge it, and serialise what the run needs.

The same code runs in this process (``--jobs 1``), in each process of the pool and on each
Dask worker. A worker builds its evaluator once (durable_rules keeps its rulesets in the
process: one engine per process) and keeps it for every patient it is sent. Every failure
of one patient, at any stage, becomes that patient's error result: the others go on.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from jdm_cds.inputs import WorkItem, read_item
from jdm_cds.language.records import Record
from jdm_cds.model.reading import PatientFileError

if TYPE_CHECKING:
    from jdm_cds.evaluate import Evaluator
    from jdm_cds.model.assessment import Assessment, UnmappedResource
    from jdm_cds.model.patient import Patient

Mode = Literal["assess", "timeline", "cohort", "diff"]


class EngineSpec(Record):
    """Which evaluator to build: the installed packs and plugins, but ``disabled``; with
    ``rules``, the core packs are those of that folder instead (``jdm-cds diff``)."""

    disabled: tuple[str, ...] = ()
    rules: str | None = None
    plugin_budget: float | None = 2.0  # seconds a plugin hook call may take (None: no limit)


class Task(Record):
    """What to do with every patient of a run, the same for every worker."""

    mode: Mode
    engines: tuple[EngineSpec, ...] = (EngineSpec(),)
    at: date | None = None
    json: Literal["indent", "line", None] = None  # serialise each entry, and how
    text: bool = False  # return the assessment itself (for the text report)
    tables: bool = False  # return the rows of the Parquet tables (jdm_cds.cohort.tables)
    # "cohort": also return the patient's study summary (jdm_cds.cohort.summary), which
    # judges it again at its baseline and at each visit since its JAK-inhibitor start; a
    # run that prints no summary judges each patient once.
    summary: bool = True
    # Each judgement's per-test working and would_decide (Evaluator.evaluate): what a
    # clinician reads; tables, summaries and rule-change diffs need statuses and values.
    explain: bool = True


class Result:
    """What became of one work item; ``error`` set when it could not be evaluated (a plain
    class with slots: a dataclass would compile its methods at every start)."""

    __slots__ = ("error", "index", "json", "label", "patient_id", "tables", "value", "warnings")

    def __init__(self, index: int, label: str, patient_id: str | None = None,
                 error: list[str] | None = None, json: bytes | None = None, value: Any = None,
                 tables: Any = None, warnings: list[str] | None = None) -> None:
        self.index = index
        self.label = label
        self.patient_id = patient_id
        self.error = error  # one line a problem, each naming the file
        self.json = json  # the entry as JSON, as the output format wants it
        self.value = value  # what the mode returns: assessment, timeline rows, summary, changes
        self.tables = tables  # the rows of the Parquet tables (jdm_cds.cohort.tables.Rows)
        self.warnings = [] if warnings is None else warnings  # e.g. a plugin that failed


class StartupFailure(Exception):
    """The engine could not be built: nothing can be evaluated (exit 2)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__(list(lines))
        self.lines = list(lines)


# --- the engine of this process ---------------------------------------------------------

# An evaluator serves the thread that built it: one per thread (a Dask worker may run
# several threads), which is one per process with the pool and threads_per_worker=1.
_engines = threading.local()


def evaluator_of(spec: EngineSpec) -> Evaluator:
    """This thread's evaluator for ``spec``, built on first use; ``StartupFailure`` when a
    plugin or a rule pack is broken."""
    built: dict[EngineSpec, Evaluator] = _engines.__dict__.setdefault("built", {})
    found = built.get(spec)
    if found is None:
        found = built[spec] = _build(spec)
    return found


def _build(spec: EngineSpec) -> Evaluator:
    from jdm_cds.defaults import default_evaluator
    from jdm_cds.evaluate import Evaluator
    from jdm_cds.language.diagnostics import RuleLoadError
    from jdm_cds.language.rulebase import Source, core_pack_paths, load_rulebase
    from jdm_cds.plugins.manager import PluginLoadError, Plugins

    try:
        if spec.rules is None:
            # One evaluator per process: its runtime serves every thread, one session at
            # a time.
            return default_evaluator(spec.disabled, spec.plugin_budget)
        plugins = Plugins.load(spec.disabled, spec.plugin_budget)
        core = set(core_pack_paths())
        packs = sorted(Path(spec.rules).glob("*.yaml"))
        if not packs:
            raise StartupFailure([f"{spec.rules}: no rule packs (*.yaml) in this folder"])
        sources: list[Source] = [(path, None) for path in packs]
        sources += [source for source in plugins.sources() if source[0] not in core]
        return Evaluator(load_rulebase(sources), plugins.guidance)
    except PluginLoadError as error:
        advice = "nothing was done"
        if error.plugin is not None:
            advice = (f"plugin '{error.plugin}' is broken, nothing was done: fix it, or leave "
                      f"it out with --disable-plugin {error.plugin}")
        raise StartupFailure([str(error), advice]) from None
    except RuleLoadError as error:
        raise StartupFailure([*map(str, error.diagnostics),
                              "rule packs have errors: nothing was evaluated"]) from None


def build_engines(task: Task) -> None:
    """Build the task's evaluators now (a worker, before its first patient)."""
    for spec in task.engines:
        evaluator_of(spec)


def prepare(task: Task) -> list[str]:
    """Build the task's evaluators now; returns the plugins they run (sorted names), which
    a Dask worker reports to the client (a pool's workers have the client's own)."""
    build_engines(task)
    return sorted({name for spec in task.engines for name in plugin_names(spec)})


def plugin_names(spec: EngineSpec) -> list[str]:
    """The plugins installed here that ``spec`` runs: what a worker must have too."""
    from jdm_cds.plugins.manager import PluginLoadError, Plugins

    try:
        return Plugins.load(spec.disabled).names
    except PluginLoadError as error:
        raise StartupFailure([str(error)]) from None


# --- one patient ------------------------------------------------------------------------


def run_chunk(items: Sequence[WorkItem], task: Task) -> list[Result]:
    """Evaluate ``items`` with this process's evaluators (a worker's entry point)."""
    evaluators = [evaluator_of(spec) for spec in task.engines]
    return [run_item(item, task, evaluators) for item in items]


def run_item(item: WorkItem, task: Task, evaluators: Sequence[Evaluator]) -> Result:
    """Evaluate one patient as ``task`` says; never raises for a patient's own failure."""
    result = Result(item.index, item.label)
    try:
        patient, fhir = read_item(item)
    except PatientFileError as error:
        result.error = error.lines()
        return result
    except Exception as error:  # a failure of ours, not of the file: still only this one
        result.error = [f"{item.label}: -: internal error while reading: {_describe(error)}"]
        return result
    result.patient_id = patient.id
    try:
        from jdm_cds.runtime import RuleExecutionError

        try:
            _run_mode(patient, task, evaluators, result,
                      None if fhir is None else fhir.unmapped)
            if fhir is not None:
                result.warnings += [f"warning: {w}" for w in fhir.warnings]
        except RuleExecutionError as failure:
            result.error = [f"{item.label}: -: the rules could not be evaluated: {failure}"]
    except PatientFileError as error:  # raised late, e.g. a date the window cannot hold
        result.error = error.lines()
    except Exception as error:
        result.error = [f"{item.label}: -: internal error while evaluating patient "
                        f"'{patient.id}': {_describe(error)}"]
    if result.error is not None:
        result.json = result.value = result.tables = None
    return result


def _run_mode(patient: Patient, task: Task, evaluators: Sequence[Evaluator],
              result: Result, unmapped: list[UnmappedResource] | None = None) -> None:
    evaluator = evaluators[0]
    if task.mode == "assess":
        assessment = evaluator.evaluate(patient, task.at, explain=task.explain)
        assessment.unmapped = unmapped  # what a FHIR input held that was not read
        _keep_assessment(assessment, task, result)
    elif task.mode == "timeline":
        from jdm_cds.report.timeline import rows

        found = rows(evaluator, patient, task.at)
        if not found and task.at is not None:  # not silent: no visit that early
            result.error = [f"{result.label}: --at: no visit on or before "
                            f"{task.at.isoformat()} (the first is on "
                            f"{patient.visits[0].date.isoformat()}): no timeline to show"]
            return
        result.value = found
        if task.json is not None:
            result.json = _dumps([r.to_dict() for r in found], task.json)
    elif task.mode == "diff":
        from jdm_cds.cohort.compare import changes

        result.value = changes(evaluator.evaluate(patient, task.at, explain=task.explain),
                               evaluators[1].evaluate(patient, task.at, explain=task.explain))
    else:
        last = evaluator.evaluate(patient, task.at, explain=task.explain)
        if task.summary:
            from jdm_cds.cohort.summary import summarise_patient

            result.value = summarise_patient(patient, evaluator, last)
        _keep_assessment(last, task, result, keep_value=False)


def _keep_assessment(assessment: Assessment, task: Task, result: Result,
                     keep_value: bool = True) -> None:
    result.warnings = [f"{assessment.patient_id}: plugin '{error.plugin}' failed in "
                       f"{error.hook}: {error.error}" for error in assessment.errors]
    if task.json is not None:
        result.json = _assessment_json(assessment, task.json)
    if task.text and keep_value:
        result.value = assessment
    if task.tables:
        from jdm_cds.cohort.tables import assessment_rows

        result.tables = assessment_rows(result.label, assessment)


def _assessment_json(assessment: Assessment, how: Literal["indent", "line"]) -> bytes:
    # The model's own JSON writer, straight to text: the same bytes as orjson writes of
    # its model_dump(mode="json") (tests/test_parallel.py), without building that dict.
    return assessment.model_dump_json(indent=2 if how == "indent" else None).encode()


def _dumps(data: Any, how: Literal["indent", "line"]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 if how == "indent" else 0)


def error_entry(result: Result, how: Literal["indent", "line"]) -> bytes:
    """An input error as an entry of the JSON output: ``{"file", "error"}``."""
    prefix = f"{result.label}: "
    problems = [line.removeprefix(prefix) for line in result.error or []]
    return _dumps({"file": result.label, "error": "; ".join(problems)}, how)


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)
    place = f" (at {Path(where[-1].filename).name}:{where[-1].lineno})" if where else ""
    return f"{type(error).__name__}: {error}{place}"
