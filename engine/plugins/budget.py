"""Plugin calls within a time budget, on worker threads.

A plugin's hook must not be able to hang an evaluation. Each batch of hook calls (every
plugin's guidance for one patient) is handed to a worker thread, which makes the calls one
after the other; the caller waits for each call at most the budget. A call over budget is
reported as timed out, its result, when it comes, is discarded, and the calls after it go
to a fresh worker.

Python cannot stop a thread: the worker of a call that timed out runs on until the call
returns (for ever, if it never does). So that a plugin stuck in every call does not cost
a thread and the full budget for each patient, a plugin with a call still running over
budget is not called again until that call returns: its later patients get an error entry
saying so. The workers are daemon threads, so a stuck one does not keep the process alive.

Hand-over costs one thread switch per batch, not per call (tens of microseconds). A budget
of ``None`` makes the calls in the caller's thread, without a time limit.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from jdm_cds.language.records import Record

T = TypeVar("T")

DEFAULT_BUDGET = 2.0  # seconds a hook call may take
_IDLE_WORKERS = 8  # workers kept for later batches; more are started when threads evaluate at once
_MESSAGE_LENGTH = 2_000  # an error message longer than this is cut


class Done(Record, Generic[T]):
    value: T


class Failed(Record):
    error: str  # the exception and where it was raised, for the plugin's author


class TimedOut(Record):
    error: str


Outcome = Done[T] | Failed | TimedOut
Call = tuple[str, Callable[[], T]]  # (plugin name, the call)


class _Batch(Generic[T]):
    """One hand-over of calls to a worker (a plain class: a dataclass would compile its
    methods at every start)."""

    __slots__ = ("abandoned", "budget", "calls", "finished", "lock", "results", "started")

    def __init__(self, calls: Sequence[Call[T]], budget: float) -> None:
        self.calls = calls
        self.budget = budget
        self.results: list[Outcome[T]] = []
        self.started = time.monotonic()  # when the current call began
        self.abandoned = False  # the caller stopped waiting: the rest is not for this worker
        self.finished = threading.Event()
        self.lock = threading.Lock()


class HookRunner:
    """Makes plugin calls, each within ``budget`` seconds (``None``: no limit)."""

    def __init__(self, budget: float | None = DEFAULT_BUDGET) -> None:
        if budget is not None and not budget > 0:
            raise ValueError(f"a time budget must be more than 0 seconds (got {budget})")
        self.budget = budget
        self._idle: list[_Worker] = []
        self._stuck: set[str] = set()  # plugins with a call still running over budget
        self._lock = threading.Lock()

    def run(self, calls: Sequence[Call[T]]) -> list[Outcome[T]]:
        """Each call's outcome, in the order of ``calls``."""
        if self.budget is None:
            return [call_once(call) for _, call in calls]
        outcomes: dict[int, Outcome[T]] = {}
        pending = list(enumerate(calls))
        while pending:
            with self._lock:
                stuck = set(self._stuck)
            for index, (name, _) in pending:
                if name in stuck:
                    outcomes[index] = TimedOut(
                        f"not called: its call for an earlier patient is still running, "
                        f"over its time budget of {self.budget:g} s")
            pending = [(index, call) for index, call in pending if index not in outcomes]
            if not pending:
                break
            batch: _Batch[T] = _Batch([call for _, call in pending], self.budget)
            self._take_worker().submit(batch)
            results, over = self._wait(batch)
            outcomes.update(zip([index for index, _ in pending], results, strict=False))
            if over is None:
                break
            outcomes[pending[over][0]] = TimedOut(
                f"timed out after {self.budget:g} s; its result is discarded")
            pending = pending[over + 1:]
        return [outcomes[index] for index in range(len(calls))]

    def _wait(self, batch: _Batch[T]) -> tuple[list[Outcome[T]], int | None]:
        """The batch's results, and the index of the call over budget (None: all done)."""
        while True:
            with batch.lock:
                done, started = len(batch.results), batch.started
            if done == len(batch.calls):
                return list(batch.results), None
            if batch.finished.wait(max(0.0, started + batch.budget - time.monotonic())):
                continue
            with batch.lock:
                if len(batch.results) == done and batch.started == started:
                    batch.abandoned = True
                    with self._lock:
                        self._stuck.add(batch.calls[done][0])
                    return list(batch.results), done

    def _take_worker(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker(self)

    def _release(self, worker: _Worker) -> bool:
        """Take back a worker whose batch completed; False: it should end."""
        with self._lock:
            if len(self._idle) < _IDLE_WORKERS:
                self._idle.append(worker)
                return True
            return False

    def _unstuck(self, name: str) -> None:
        with self._lock:
            self._stuck.discard(name)


class _Worker:
    """A daemon thread that makes the calls of one batch at a time."""

    def __init__(self, runner: HookRunner) -> None:
        self._runner = runner
        self._batches: queue.SimpleQueue[_Batch[Any]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="jdm-cds plugin call", daemon=True).start()

    def submit(self, batch: _Batch[Any]) -> None:
        self._batches.put(batch)

    def _serve(self) -> None:
        while True:
            batch = self._batches.get()
            for name, call in batch.calls:
                with batch.lock:
                    if batch.abandoned:
                        break
                    batch.started = time.monotonic()
                outcome = call_once(call)
                with batch.lock:
                    if batch.abandoned:  # this call ran over budget: nobody waits for it now
                        self._runner._unstuck(name)
                        return
                    batch.results.append(outcome)
            batch.finished.set()
            if not self._runner._release(self):
                return


def call_once(call: Callable[[], T]) -> Outcome[T]:
    """The call's result, or its failure: whatever a plugin raises is the plugin's failure.

    ``SystemExit`` and ``GeneratorExit`` too; on a worker thread also ``KeyboardInterrupt``,
    which only the main thread receives from the terminal, so a plugin raised it itself.
    """
    try:
        return Done(call())
    except (Exception, SystemExit, GeneratorExit, KeyboardInterrupt) as error:
        return failure(error)


def failure(error: Exception | SystemExit | GeneratorExit | KeyboardInterrupt) -> Failed:
    """What a plugin raised, as its failure; ``KeyboardInterrupt`` is raised again on the
    main thread (the terminal's), where it did not come from the plugin."""
    if isinstance(error, KeyboardInterrupt) and \
            threading.current_thread() is threading.main_thread():
        raise error
    return Failed(describe(error))


def describe(error: BaseException) -> str:
    """The error and where in the plugin it was raised, for the plugin's author."""
    try:
        text = str(error)
    except Exception:  # an exception whose message fails is still reported
        text = "(its message could not be shown)"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<")]
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    described = f"{type(error).__name__}: {text}{where}"
    if len(described) > _MESSAGE_LENGTH:
        described = described[:_MESSAGE_LENGTH] + f"... ({len(described)} characters)"
    return described
