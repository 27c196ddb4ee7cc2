"""``jdm-cds evaluate``, the run: judge patients, one report each (or one row a visit).

Its options are read by typer (``evaluate.py``) or, for ``jdm-cds evaluate FILE...``, by
``program.py``; this module imports no typer.

Output streams: each patient is written as soon as it is judged (in input order), so a
run of any size holds only a few patients at a time. ``--format json`` is always one JSON
array, ``--format jsonl`` one JSON value a line; each entry is an assessment (a timeline
row with ``--timeline``) or an input error ``{"file", "error"}``. ``--output FILE.parquet``
writes the tables of ``jdm_cds.cohort.tables`` (standard output then gets ``--format``
only when it is given).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson

from jdm_cds.cli.batch import (
    Format,
    output_file,
    parquet_tables,
    reader_gone,
    results,
    text_console,
    text_file,
)
from jdm_cds.cli.common import (
    build_evaluator,
    load_fhir_mapping,
    parse_date,
    report_output,
    settings,
    stderr,
)
from jdm_cds.cli.limits import apply_limits
from jdm_cds.cli.outcome import BadParameter, Exit
from jdm_cds.cohort.work import EngineSpec, Result, Task, error_entry
from jdm_cds.evaluate import Evaluator
from jdm_cds.inputs import Inputs

if TYPE_CHECKING:
    from collections.abc import Callable

    from jdm_cds.model.assessment import Assessment
    from jdm_cds.report.glossary import Glossary


def run(files: list[Path], at: str | None = None, output: Format | None = None,
        disable_plugin: list[str] | None = None, fhir_mapping: Path | None = None,
        timeline: bool = False, out: Path | None = None, jobs: int | None = None,
        scheduler: str | None = None, quiet: bool = False, max_file_mb: float | None = None,
        max_visits: int | None = None) -> None:
    """``jdm-cds evaluate`` with these options (their defaults: none given); raises
    ``Exit`` (exit code) and ``BadParameter`` (a usage error, before anything is done)."""
    apply_limits(max_file_mb, max_visits)
    when = parse_date(at)
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if timeline and parquet:
        raise BadParameter("--output FILE.parquet writes the assessment at the "
                                 "evaluation visit, not --timeline: leave one out")
    if output is None and not parquet:
        output = Format.text
    if timeline and output is Format.fhir:
        raise BadParameter("--timeline writes text, json or jsonl, not fhir")
    load_fhir_mapping(fhir_mapping)  # a broken mapping stops the run before it starts
    disabled = tuple(disable_plugin or ())
    engine = EngineSpec(disabled, plugin_budget=settings.plugin_budget)
    json = None if output is None else {Format.json: "indent", Format.jsonl: "line"}.get(output)
    task = Task(mode="timeline" if timeline else "assess", engines=(engine,),
                at=when, json=None if timeline else json,  # type: ignore[arg-type]
                text=output in (Format.text, Format.fhir) or timeline, tables=parquet)

    built: list[Evaluator] = []

    def local() -> list[Evaluator]:
        built[:] = [build_evaluator(list(disabled))]
        return built

    def glossary() -> Glossary:
        """The words of the rule base that judged: this process's evaluator's, or (when
        workers judged) the same packs read here, without an engine of its own."""
        from jdm_cds.report.glossary import Glossary, default_glossary

        if built:
            return Glossary.of(built[0].rulebase)
        return default_glossary(disabled, settings.plugin_budget)

    inputs = Inputs(files, fhir_mapping)
    stream = results(inputs, task, jobs, scheduler, quiet, local)
    if parquet:  # the tables; standard output gets --format, when given
        assert out is not None
        stream, out = parquet_tables(stream, out), None
    failed = False
    with output_file(out) as sink:
        writer = None if output is None else _Writer(output, sink, timeline, glossary)
        for result in stream:
            for line in result.error or result.warnings:
                stderr.print(line, style="red", markup=False, highlight=False)
            failed |= result.error is not None  # a failed plugin is reported, not fatal
            if writer is None:
                continue
            try:
                writer.write(result)
            except BrokenPipeError:
                raise reader_gone() from None
            except Exception as error:  # a report that cannot be rendered costs only itself
                failed = True
                stderr.print(f"{result.label}: -: the report could not be written: "
                             f"{type(error).__name__}: {error}", style="red", markup=False,
                             highlight=False)
        if writer is not None:
            writer.close()
    if failed:
        raise Exit(1)


class _Writer:
    """Writes each result as it comes, in the chosen format."""

    def __init__(self, fmt: Format, sink: IO[bytes], timeline: bool,
                 glossary: Callable[[], Glossary]) -> None:
        self.fmt, self.sink, self.timeline = fmt, sink, timeline
        self.glossary = glossary
        self.words: Glossary | None = None  # the text report's, made for its first patient
        self.count = 0
        self.assessments: list[Assessment] = []  # --format fhir: one Bundle at the end
        self.console: Any = None  # Console or PlainText, made for the first text report

    def write(self, result: Result) -> None:
        if self.fmt is Format.fhir:
            if result.error is None:
                self.assessments.append(result.value)
            return
        if self.fmt is Format.text:
            if result.error is None:
                self._text(result)
            return
        how: Literal["indent", "line"] = "indent" if self.fmt is Format.json else "line"
        if result.error is not None:
            entries = [error_entry(result, how)]
        elif self.timeline:
            option = orjson.OPT_INDENT_2 if how == "indent" else 0
            entries = [orjson.dumps(row.to_dict(), option=option) for row in result.value]
        else:
            assert result.json is not None
            entries = [result.json]
        for entry in entries:
            if self.fmt is Format.json:
                # The array opens with its first entry: a run refused at start-up
                # (exit 2) writes nothing.
                self.sink.write(b"[\n" if self.count == 0 else b",\n")
                self.sink.write(entry)
            else:
                self.sink.write(entry + b"\n")
            self.count += 1
        self.sink.flush()

    def _text(self, result: Result) -> None:
        from jdm_cds.report.text import PlainText, render_text, render_timeline

        if self.timeline:
            if result.value:
                if self.console is None:
                    self.console = text_console(self.sink)
                assert not isinstance(self.console, PlainText)
                render_timeline(result.value, self.console)
        else:
            if self.words is None:
                self.words = self.glossary()
            if self.console is None:
                self.console = report_output(
                    None if self.sink is sys.stdout.buffer else text_file(self.sink))
            render_text(result.value, self.console, self.words)

    def close(self) -> None:
        if self.fmt is Format.fhir and self.assessments:
            from jdm_cds.interop.fhir.guidance import guidance_bundle

            self.sink.write(orjson.dumps(guidance_bundle(self.assessments),
                                         option=orjson.OPT_INDENT_2) + b"\n")
        if self.fmt is Format.json:
            self.sink.write(b"\n]\n" if self.count else b"[]\n")
        self.sink.flush()
