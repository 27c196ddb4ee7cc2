"""Run a task on Dask: a ``LocalCluster`` (``--scheduler dask``) or a running scheduler
(``--scheduler tcp://host:8786``). Needs the ``[dask]`` extra.

The same chunks of work items go to the workers as in the process pool, and come back in
input order, a bounded number in flight. Each worker process builds its engine once and
keeps it (``jdm_cds.cohort.work``); before any patient is sent, every worker is asked which
plugins it runs, and a worker that lacks one the client has (or has one the client does
not) stops the run: its judgements would differ. File paths are read by the workers, so
on a remote cluster they must be on storage every worker sees.
"""

from __future__ import annotations

import logging
import pickle
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from jdm_cds.cohort.local import chunks, own_labels
from jdm_cds.cohort.work import Result, StartupFailure, Task, plugin_names, prepare, run_chunk
from jdm_cds.inputs import WorkItem

# Patients a Dask task. Each task costs the scheduler, the worker and the client a few
# milliseconds of their own (messages, state, a transfer of its result), so tasks of a
# quarter of a second or more (Dask's advice: not much under 100 ms); a task's results
# (about 24 KB a patient as JSON) are held until their turn in the output.
CHUNK = 256
AHEAD = 3  # tasks in flight per worker: one running, two queued (a round trip through
# the scheduler is slower than through the pool's pipe)


def run_packed(chunk: bytes, task: Task) -> bytes:
    """On a worker: a pickled chunk of work items evaluated, its results pickled.

    One bytes object each way, which Dask sends as one frame; a list of results it may
    serialise item by item, which cost its processes about half as much again a patient."""
    results = run_chunk(pickle.loads(chunk), task)
    return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)


def _worker_ready(task: Task) -> tuple[str, list[str]]:
    """On a worker: build the engines now; the plugins they run, or why they cannot."""
    try:
        return "ready", prepare(task)
    except StartupFailure as failure:
        return "failed", failure.lines


def check_workers(client: Any, task: Task, expected: list[str]) -> int:
    """Every worker's engine built, with the same plugins as ``expected``; returns how
    many workers there are. Raises ``StartupFailure`` naming each worker that differs."""
    answers: dict[str, tuple[str, list[str]]] = client.run(_worker_ready, task)
    if not answers:
        raise StartupFailure(["the Dask cluster has no workers"])
    problems = []
    for address, (state, found) in sorted(answers.items()):
        if state == "failed":
            problems += [f"Dask worker {address}: {line}" for line in found]
            continue
        lacking = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        if lacking:
            problems.append(f"Dask worker {address} lacks plugin(s) {', '.join(lacking)} that "
                            "this client has: install them on every worker, or leave them "
                            "out with --disable-plugin")
        if extra:
            problems.append(f"Dask worker {address} has plugin(s) {', '.join(extra)} that this "
                            "client does not: its judgements would differ")
    if problems:
        raise StartupFailure([*problems, "the Dask workers differ from this client: nothing "
                              "was evaluated"])
    return len(answers)


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes, one thread each, on 127.0.0.1 only.

    No dashboard; the scheduler's HTTP endpoints (health, metrics), which it starts even
    without one and by default on the fixed port 8787, listen on a free loopback port, so
    that two clusters on one machine neither collide nor warn.
    """
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=logging.ERROR)  # type: ignore[no-untyped-call]


def dask_results(items: Iterable[WorkItem], task: Task, scheduler: str,
                 workers: int) -> Iterator[Result]:
    """Each item's result, in input order, evaluated on Dask."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise StartupFailure(["--scheduler needs Dask: pip install 'jdm-cds[dask]'"]) from None
    expected = sorted({name for spec in task.engines for name in plugin_names(spec)})
    cluster = None
    try:
        if scheduler == "dask":
            cluster = local_cluster(workers)
            client = Client(cluster)  # type: ignore[no-untyped-call]
        else:
            client = Client(scheduler, timeout=10)  # type: ignore[no-untyped-call]
    except OSError as error:
        raise StartupFailure([f"cannot reach the Dask scheduler {scheduler}: {error}"]) from None
    try:
        count = check_workers(client, task, expected)
        yield from _ordered(client, items, task, count * AHEAD)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def _ordered(client: Any, items: Iterable[WorkItem], task: Task,
             window: int) -> Iterator[Result]:
    from dask.distributed import KilledWorker

    pending: deque[tuple[list[WorkItem], Any]] = deque()
    source = chunks(items, CHUNK)
    while True:
        while len(pending) < window and (chunk := next(source, None)) is not None:
            packed = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
            pending.append((chunk, client.submit(run_packed, packed, task, pure=False)))
        if not pending:
            return
        chunk, future = pending.popleft()
        try:
            yield from own_labels(chunk, pickle.loads(future.result()))
        except KilledWorker as error:
            yield from (Result(item.index, item.label,
                               error=[f"{item.label}: -: not evaluated: the Dask workers "
                                      f"evaluating it died ({error})"]) for item in chunk)
        finally:
            future.release()
