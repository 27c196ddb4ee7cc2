"""Kept-alive connections spread evenly over the workers (Linux, ``workers.py``).

The kernel gives each new connection to one of the workers' sockets by a hash of its
addresses: even on average, but not for a given set of clients. 50 connections made together
were measured to land 28 on one worker and 22 on the other, and a kept-alive connection stays
where it landed. With every client waiting on an answer, the worker holding more connections
has more requests queued, and each of them waits longer (28 against 22: by Little's law,
about a quarter). In ``make load``'s runs the even split did not change the p99 measurably
(it was made by a few connections on either worker waiting a round more): what it evens out
is the load, and each client's average wait.

So each worker writes how many connections it holds into a slot of memory shared by the
workers, at each request. A worker holding more than its share (the total divided by the
number of workers, rounded up) answers one request with ``Connection: close``; the client
connects again, as every HTTP/1.1 client does after such an answer, and the kernel gives the
new connection to any worker. One connection at a time: the next is chosen once that one
has closed (or its answer was sent a moment ago). Nothing is refused and no request is
lost: the connection closes after its answer, which HTTP/1.1 allows a server to do after
any answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import MutableSequence, Sized

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLOSE = (b"connection", b"close")
CLOSE_WAIT_SECONDS = 0.05


class Share:
    """One worker's slot among the connection counts of all the workers."""

    def __init__(self, counts: MutableSequence[int], index: int, held: Sized) -> None:
        self.counts, self.index, self.held = counts, index, held
        # While a connection chosen to close may still be open: the count it was chosen at,
        # and until when to wait for the count to drop (set once its answer is sent).
        self.closing: tuple[int, float] | None = None
        self.retired = False  # stopped accepting (replaced): its connections go anyway

    def over(self) -> bool:
        """Publish this worker's count; whether it holds more than its share now (then the
        connection of the request being answered is the one to close)."""
        mine = len(self.held)
        if self.retired:
            return False
        self.counts[self.index] = mine
        if self.closing is not None:
            count, until = self.closing
            if mine >= count and time.monotonic() < until:
                return False
            # The count dropped (or the wait is over). Another client leaving drops it too,
            # so that a worker over by one may close two: a reconnection more, nothing lost.
            self.closing = None
        if mine > -(-sum(self.counts) // len(self.counts)):
            self.closing = (mine, math.inf)
            return True
        return False

    def answered(self) -> None:
        """The answer that closes the chosen connection is sent: the server notices the
        connection gone at once, but its replacement may reach this worker too, so that the
        count need not drop; after a short wait the next can be chosen all the same."""
        if self.closing is not None:
            self.closing = (self.closing[0], time.monotonic() + CLOSE_WAIT_SECONDS)

    def retire(self) -> None:
        """This worker no longer accepts: its slot is left to its replacement."""
        self.retired = True


class Rebalance:
    """ASGI middleware: an HTTP answer of a worker over its share closes its connection."""

    def __init__(self, app: ASGIApp, share: Share) -> None:
        self.app, self.share = app, share

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.share.over():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", ())
                           if name.lower() != b"connection"]
                message = {**message, "headers": [*headers, _CLOSE]}
            await send(message)

        # The server closes the connection after an answer that says so, and after an
        # answer that fails.
        try:
            await self.app(scope, receive, closing)
        finally:
            self.share.answered()
