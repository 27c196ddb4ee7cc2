"""Run a task over many patients on a pool of processes (in this process: ``local.py``;
on Dask: ``cluster.py``).

Every runner yields one ``Result`` per work item, in input order, and holds only a
bounded window of items and results at a time (a cohort of any size streams through).

The process pool is ours rather than ``concurrent.futures``: when a worker dies (killed
by a signal, out of memory) a ``ProcessPoolExecutor`` fails every pending future and
cannot say which patients the dead worker held. Here each worker has its own pipe and
the patients sent to it are known, so a dead worker costs exactly those (reported as
errors) and a new worker takes its place. Workers start with ``forkserver`` (or
``spawn``), never ``fork``: durable_rules keeps its rulesets in the C globals of the
process, and each worker builds its own engine once, before its first patient.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from jdm_cds.cohort.local import Chunk, chunks, own_labels
from jdm_cds.cohort.work import (
    Result,
    StartupFailure,
    Task,
    build_engines,
    run_chunk,
)
from jdm_cds.inputs import WorkItem

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext
    from multiprocessing.process import BaseProcess


CHUNK = 16  # patients sent to a worker at a time
AHEAD = 2  # chunks in flight per worker, so that none waits for its next chunk


# --- the process pool ---------------------------------------------------------------------


# What a worker imports before its first patient, imported once by the process server
# that forks the workers (``forkserver``), so that each worker starts with them loaded
# rather than importing them again: the package (its models, the evaluator's modules) and
# what builds the engine. No engine is built there: each worker builds its own
# (``build_engines``), after the fork.
_WORKER_MODULES = ("jdm_cds.cohort.parallel", "jdm_cds.defaults")
# A worker also runs the parent's main module again, as multiprocessing does (the
# ``jdm-cds`` script imports its program): preloaded when the parent has it.
_MAIN_MODULES = ("jdm_cds.cli.program",)


def worker_modules() -> list[str]:
    """The modules the process server imports before it forks any worker."""
    return [*_WORKER_MODULES, *(name for name in _MAIN_MODULES if name in sys.modules)]


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(worker_modules())  # before the server starts
        return context
    return multiprocessing.get_context("spawn")


ChunkRunner = Callable[[Sequence[WorkItem], Task], list[Result]]


def _worker(conn: Connection, task: Task, run: ChunkRunner) -> None:
    """A worker process: build the engine, then evaluate each chunk it is sent."""
    # Ctrl-C goes to the whole process group: the parent stops the run and its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        build_engines(task)
    except StartupFailure as failure:
        conn.send(("failed", failure.lines))
        return
    conn.send(("ready", None))
    while (message := conn.recv()) is not None:
        number, items = message
        conn.send((number, run(items, task)))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    held: deque[int] = field(default_factory=deque)  # chunk numbers sent, not answered


def _signal_name(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class ProcessPool:
    """``jobs`` worker processes, each with its own engine, fed chunks of patients."""

    def __init__(self, task: Task, jobs: int, chunk: int = CHUNK,
                 run: ChunkRunner = run_chunk) -> None:
        self.task, self.jobs, self.chunk, self.run = task, max(1, jobs), max(1, chunk), run
        self._context = _context()
        self._workers: list[_Worker] = []
        self._again: deque[int] = deque()  # chunks a dead worker held but had not started

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(theirs, self.task, self.run),
                                        daemon=True,
                                        name="jdm-cds worker")
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []

    def map(self, items: Iterable[WorkItem]) -> Iterator[Result]:
        """One result per item, in input order."""
        for _ in range(self.jobs):
            self._start()
        try:
            yield from self._run(chunks(items, self.chunk))
        finally:
            self.close()

    def _run(self, source: Iterator[Chunk]) -> Iterator[Result]:
        sent: dict[int, Chunk] = {}  # chunk number -> its items, until answered
        done: dict[int, list[Result]] = {}
        next_out = next_in = 0
        exhausted = False
        window = self.jobs * AHEAD
        while True:
            # Output first: what it frees of the window is fed below, before any wait (fed
            # before the output, a full window could be emptied with nothing left in flight,
            # and the wait below would never end).
            while next_out in done:
                yield from done.pop(next_out)
                next_out += 1
            # Feed ready workers, never more than the window ahead of the output.
            for worker in self._workers:
                while worker.ready and len(worker.held) < AHEAD:
                    if self._again:
                        number = self._again.popleft()
                    elif exhausted or next_in - next_out >= window:
                        break
                    elif (chunk := next(source, None)) is None:
                        exhausted = True
                        break
                    else:
                        number, next_in = next_in, next_in + 1
                        sent[number] = chunk
                    worker.held.append(number)
                    try:
                        worker.conn.send((number, sent[number]))
                    except OSError:  # it died meanwhile: _wait sees its sentinel (_lost)
                        break
            if exhausted and next_out == next_in:
                return
            self._wait(sent, done)

    def _wait(self, sent: dict[int, Chunk], done: dict[int, list[Result]]) -> None:
        by_handle: dict[Any, _Worker] = {}
        for worker in self._workers:
            by_handle[worker.conn] = worker
            by_handle[worker.process.sentinel] = worker
        for handle in wait(list(by_handle)):
            worker = by_handle[handle]
            if worker not in self._workers:
                continue  # already replaced in this round
            if handle is worker.conn:
                try:
                    self._receive(worker, sent, done)
                    continue
                except (EOFError, OSError):
                    pass  # the worker died: its sentinel tells how
            self._lost(worker, sent, done)

    def _receive(self, worker: _Worker, sent: dict[int, Chunk],
                 done: dict[int, list[Result]]) -> None:
        while worker.conn.poll():
            tag, payload = worker.conn.recv()
            if tag == "failed":
                raise StartupFailure(payload)
            if tag == "ready":
                worker.ready = True
                continue
            worker.held.remove(tag)
            done[tag] = own_labels(sent.pop(tag), payload)

    def _lost(self, worker: _Worker, sent: dict[int, Chunk],
              done: dict[int, list[Result]]) -> None:
        """A worker died: what it had answered is kept, what it held becomes errors."""
        with contextlib.suppress(EOFError, OSError):
            self._receive(worker, sent, done)
        worker.process.join()
        how = _signal_name(worker.process.exitcode)
        if not worker.ready:
            raise StartupFailure([f"a worker process could not start ({how})"])
        if worker.held:
            # A worker takes its chunks one at a time: it died on the first; the others
            # go to another worker.
            number = worker.held.popleft()
            done[number] = [
                Result(item.index, item.label,
                       error=[f"{item.label}: -: not evaluated: the worker process evaluating "
                              f"it was {how}"])
                for item in sent.pop(number)]
            self._again.extend(worker.held)
            worker.held.clear()
        worker.conn.close()
        self._workers.remove(worker)
        self._start()

