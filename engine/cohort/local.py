"""Run a task over patients in this process, and what every runner shares (the default
number of jobs, chunks of work items, one result per patient id).

Kept apart from the process pool (``parallel.py``) so that a run in this process, as
``jdm-cds evaluate`` on a few files is by default, does not import ``multiprocessing``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from jdm_cds.cohort.work import Result, Task, run_item
from jdm_cds.inputs import WorkItem

if TYPE_CHECKING:
    from jdm_cds.evaluate import Evaluator

# Below this many patients a pool costs more (starting its workers, each building an
# engine) than it saves: the default runs them here.
POOL_FROM = 32

Chunk = list[WorkItem]


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def chunks(items: Iterable[WorkItem], size: int) -> Iterator[Chunk]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def in_process(items: Iterable[WorkItem], task: Task,
               evaluators: Sequence[Evaluator]) -> Iterator[Result]:
    """Every item evaluated here, one after the other (``--jobs 1``)."""
    for item in items:
        yield run_item(item, task, evaluators)


def unique_patients(stream: Iterable[Result]) -> Iterator[Result]:
    """The results, where a patient id already seen in an earlier file makes that later
    file an input error (the first is kept): two copies of a patient are not two patients."""
    seen: dict[str, str] = {}
    for result in stream:
        if result.patient_id is not None and result.error is None:
            first = seen.setdefault(result.patient_id, result.label)
            if first != result.label:
                result.error = [f"{result.label}: id: patient '{result.patient_id}' was already "
                                f"read from {first}: this file is left out"]
                result.json = result.value = result.tables = None
        yield result


def own_labels(items: Sequence[WorkItem], results: list[Result]) -> list[Result]:
    """``results`` with the labels of this process's ``items`` (the same text): the label a
    result brought back is a copy, and the first of each patient is kept to the end of
    the run (``unique_patients``), where the items' own may already be held (the list
    of a folder's files)."""
    for item, result in zip(items, results, strict=True):
        result.label = item.label
    return results
