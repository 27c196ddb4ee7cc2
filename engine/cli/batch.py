"""What the batch commands share (``evaluate``, ``cohort``, ``diff``): the options that say
where to run (``--jobs``, ``--scheduler``), the progress bar, the output file, and the
stream of results in input order with the checks that span files (a patient id seen twice).
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from jdm_cds.cli.common import stderr
from jdm_cds.cli.outcome import Exit
from jdm_cds.cohort.work import Result, StartupFailure, Task
from jdm_cds.inputs import Inputs

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from jdm_cds.evaluate import Evaluator


class Format(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    fhir = "fhir"  # evaluate only: a Bundle of GuidanceResponses (interop/fhir/guidance.py)


PROGRESS_AFTER = 1.0  # seconds: shorter runs show no progress bar


def fail_to_start(failure: StartupFailure) -> Exit:
    for line in failure.lines[:-1]:
        stderr.print(line, style="red", markup=False, highlight=False)
    stderr.print(failure.lines[-1], style="bold red", markup=False, highlight=False)
    return Exit(2)


def print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        stderr.print(line, style="red", markup=False, highlight=False)


def results(inputs: Inputs, task: Task, jobs: int | None, scheduler: str | None, quiet: bool,
            evaluators: Callable[[], list[Evaluator]]) -> Iterator[Result]:
    """Each patient's result, in input order, run where the options say.

    ``evaluators`` builds this process's evaluators, for a run here (exit 2 on failure).
    A second file with a patient id already seen is an input error; the first is kept.
    """
    from jdm_cds.cohort import local

    cores = local.default_jobs()
    try:
        if scheduler is not None:
            from jdm_cds.cohort.cluster import dask_results

            stream = dask_results(inputs, task, scheduler, jobs or cores)
        elif jobs == 1 or (jobs is None and (cores == 1 or (
                inputs.total is not None and inputs.total < local.POOL_FROM))):
            stream = local.in_process(inputs, task, evaluators())
        else:
            from jdm_cds.cohort.parallel import ProcessPool  # multiprocessing: only here

            stream = ProcessPool(task, jobs or cores).map(inputs)
        yield from _with_progress(local.unique_patients(stream), inputs.total, quiet)
    except StartupFailure as failure:
        raise fail_to_start(failure) from None


def _with_progress(stream: Iterator[Result], total: int | None,
                   quiet: bool) -> Iterator[Result]:
    """A progress bar on stderr once the run has taken a second, only on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield from stream
        return
    begin = time.monotonic()
    progress: Progress | None = None
    errors = done = 0
    try:
        for result in stream:
            done += 1
            errors += result.error is not None
            if progress is None and time.monotonic() - begin > PROGRESS_AFTER:
                progress = _progress()
                progress.start()
                bar = progress.add_task("patients", total=total, completed=done - 1,
                                        errors=0)
            if progress is not None:
                progress.update(bar, advance=1, errors=errors)
            yield result
    finally:
        if progress is not None:
            progress.stop()


def _progress() -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Task as Bar
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Bar) -> Text:
            return Text(f"{task.speed or 0:,.0f} patients/s")

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
        TextColumn("{task.fields[errors]} errors"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True, refresh_per_second=4,
    )


def parquet_tables(stream: Iterator[Result], path: Path) -> Iterator[Result]:
    """``stream`` passed on while its rows are written to the Parquet tables at ``path``
    (``jdm_cds.cohort.tables``); exit 2 at once when pyarrow is not installed."""
    from jdm_cds.cohort import tables

    try:
        tables.pyarrow_modules()
    except StartupFailure as failure:
        raise fail_to_start(failure) from None
    return tables.write_parquet(stream, path)


def text_console(sink: IO[bytes]) -> Console:
    """The console for a text report: the terminal's, or one writing to the output file."""
    from rich.console import Console

    from jdm_cds.cli.common import PIPED_WIDTH, stdout_console

    if sink is sys.stdout.buffer:
        return stdout_console()
    return Console(file=text_file(sink), soft_wrap=False, width=PIPED_WIDTH,
                   force_terminal=False)


def text_file(sink: IO[bytes]) -> IO[str]:
    """The output file ``sink`` as text (UTF-8, each write passed on at once)."""
    return io.TextIOWrapper(sink, encoding="utf-8", write_through=True)


def reader_gone() -> Exit:
    """The reader of standard output went away (``| head``): stop quietly, as a filter does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the final flush does not fail again
    return Exit(1)


@contextmanager
def output_file(path: Path | None) -> Iterator[IO[bytes]]:
    """Where the output goes: standard output, or FILE (written in full or not at all is not
    promised: a long run writes as it goes)."""
    if path is None or str(path) == "-":
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    try:
        handle = path.open("wb")
    except OSError as error:
        stderr.print(f"{path}: cannot write: {error.strerror or error}", style="bold red",
                     markup=False, highlight=False)
        raise Exit(2) from None
    with handle:
        yield handle
