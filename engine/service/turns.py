"""Turns: one hook call's CPU part at a time, in arrival order, with the event loop's poll
between two.

A worker's event loop runs every callback that is ready, then polls its sockets. Hook calls
read at one poll therefore ran back to back, all of them before any request that arrived
meanwhile was even read; a request that just missed a poll waited for that whole batch, then
took its place in the next one in the order the kernel reported the sockets, which is not the
order the requests arrived. Under 50 busy clients a few connections kept missing the poll and
waited for two batches: the 99th percentile of latency was about twice the median.

With turns, a call that finds another's turn running, or calls waiting, queues; the next one
starts in the loop's next iteration, after a poll has read (and queued) what arrived
meanwhile. Calls are served in the order they were read, about one call's time after they
arrived, and each waits for the calls before it only.

A call takes its turn once its body has arrived, before the body is parsed: a parsed
prefetch is thousands of objects, and 25 of them parked for their turn made the cyclic
garbage collector's passes longer (about 10% more CPU a request).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType


class Turns:
    """``async with turns:`` around a call's CPU part; ``async with turns.away():`` inside
    it around a wait for I/O (a FHIR server), so that the other calls go on meanwhile.

    First come, first served, and handed over through the event loop, so that a poll runs
    between two turns. Made and used on one event loop."""

    def __init__(self) -> None:
        self._busy = False
        self._holder: asyncio.Task[object] | None = None
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self._busy:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    # Given the turn, then cancelled before it could start: pass it on.
                    self._release()
                raise
        self._busy = True
        self._holder = asyncio.current_task()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        # Not the holder when cancelled while waiting to come back from ``away``.
        if self._holder is asyncio.current_task():
            self._release()

    @asynccontextmanager
    async def away(self) -> AsyncIterator[None]:
        """Give the turn up while waiting, then wait for it again, behind the calls that
        came meanwhile."""
        if self._holder is asyncio.current_task():
            self._release()
        try:
            yield
        finally:
            await self.__aenter__()

    def _release(self) -> None:
        self._holder = None
        if not self._next():
            # Nobody waits yet: stay busy until the loop's next iteration, so that a call
            # that starts in this one still waits for the poll.
            asyncio.get_running_loop().call_soon(self._free)

    def _next(self) -> bool:
        """Give the turn to the first call still waiting (its task resumes in the loop's
        next iteration, after a poll); False when none waits."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return True
        return False

    def _free(self) -> None:
        if not self._next():
            self._busy = False
