"""Several worker processes, each accepting on a listening socket of its own (Linux).

uvicorn's own ``--workers`` shares one listening socket between its workers, and the worker
that wakes first accepts every connection waiting: 50 clients connecting together were
measured to land 49 on one worker and 1 on the other (and 33/17 when they connected 10 ms
apart), so that one worker queued nearly every request while the other idled. Here each
worker listens on its own socket, all bound to the same address with ``SO_REUSEPORT``, and
the kernel gives each new connection to one of them by a hash of the connection's addresses,
spreading connections over the workers whatever their timing: evenly on average, and a worker
holding more than its share closes connections one at a time until the count is even
(``balance.py``). A worker that dies is
started again on the same socket (connections that arrived meanwhile wait in its backlog);
one that cannot start stops the service, as uvicorn does.

``SIGHUP`` replaces the workers one at a time, each by a new worker on the same socket that
reads the settings and rule packs again: once the replacement is serving, the old worker stops
accepting (``SIGUSR1``), answers for a second what it has accepted, and is then asked to stop
(it finishes what it is answering; a kept-alive connection left idle is closed, as at any
stop). A replacement that fails to start, or is not serving within a minute, is stopped and
the old workers keep serving, as uvicorn's own supervisor does. ``SIGTTIN`` and ``SIGTTOU``
(one worker more or fewer, in uvicorn) are refused with a warning: a worker removed would take
with it the connections waiting on its socket, so the number of workers is set when the
service starts.

Elsewhere (where ``SO_REUSEPORT`` does not balance connections, e.g. macOS), ``serve`` leaves
the workers to uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import MutableSequence
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from jdm_cds.service.balance import Rebalance, Share

log = logging.getLogger("uvicorn.error")
_spawn = multiprocessing.get_context("spawn")
# How long a replacement worker (SIGHUP) may take to serve: it compiles the rule packs.
READY_SECONDS = 60.0
# How long a worker being replaced goes on answering after it stops accepting, before it is
# asked to stop: a connection it accepted just before has its request read meanwhile (the
# stop closes a connection that has not sent one).
DRAIN_SECONDS = 1.0


def balanced() -> bool:
    """Whether this system spreads connections over sockets sharing a port."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` in one ``SO_REUSEPORT`` group (port 0: the
    port the first is given); OSError when the port is in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:
        # A port in use is refused, even by another service's SO_REUSEPORT group: joining
        # it would split that service's connections with this one. A socket without
        # SO_REUSEPORT cannot bind a port that any other socket holds.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _Server(uvicorn.Server):
    """A uvicorn server that says when it serves (its lifespan done, its socket accepting),
    and keeps its share of the connections (``balance.py``)."""

    def __init__(self, config: uvicorn.Config, ready: Event, counts: MutableSequence[int],
                 index: int) -> None:
        super().__init__(config)
        self.ready = ready
        self.share = Share(counts, index, self.server_state.connections)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Every connection's protocol takes the app from the configuration when it is made.
        self.config.loaded_app = Rebalance(self.config.loaded_app, self.share)
        await super().startup(sockets)
        if self.started:
            # SIGUSR1, from the parent before it replaces this worker: stop accepting, so
            # that the connections waiting on the socket go to the replacement.
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.stop_accepting)
            self.ready.set()

    def stop_accepting(self) -> None:
        """Close this process's listening servers (the parent's socket stays open)."""
        self.share.retire()
        for server in self.servers:
            server.close()


def _worker(config: uvicorn.Config, sock: socket.socket, ready: Event,
            counts: MutableSequence[int], index: int) -> None:
    """One worker process: a uvicorn server on its own socket, ``counts[index]`` its number
    of connections."""
    config.configure_logging()
    # The parent decides what SIGHUP means, and a terminal that closes sends it to the whole
    # process group: a worker would end with it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Ctrl-C reaches the whole process group: the parent ends the workers.
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config, ready, counts, index).run(sockets=[sock])


@dataclass
class _Worker:
    """A worker process, its socket, and the event it sets once it serves (held here for the
    process's life: the event's semaphore must outlive the process's start); ``index``, its
    socket's place, is its slot in ``counts``."""

    ready: Event
    sock: socket.socket
    counts: MutableSequence[int]
    index: int
    process: SpawnProcess = field(init=False)

    def start(self, config: uvicorn.Config) -> int | None:
        self.process = _spawn.Process(target=_worker, args=(
            config, self.sock, self.ready, self.counts, self.index))
        self.process.start()
        return self.process.pid


def run(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` with ``workers`` processes until SIGINT or SIGTERM; the exit status."""
    sockets = listening_sockets(config.host, config.port, workers, config.backlog)
    # Each worker's number of connections, shared by the workers (balance.py).
    counts = _spawn.RawArray("i", workers)
    stop, restart = threading.Event(), threading.Event()

    def stopping(signum: int, _frame: FrameType | None) -> None:
        log.info("Received %s, stopping the workers.", signal.Signals(signum).name)
        stop.set()

    def restarting(_signum: int, _frame: FrameType | None) -> None:
        log.info("Received SIGHUP, replacing the workers one at a time.")
        restart.set()

    def refusing(signum: int, _frame: FrameType | None) -> None:
        log.warning("Received %s: the number of workers is set at start-up (--workers); a "
                    "worker removed would drop the connections waiting on its socket.",
                    signal.Signals(signum).name)

    handlers = {signal.SIGINT: stopping, signal.SIGTERM: stopping, signal.SIGHUP: restarting,
                signal.SIGTTIN: refusing, signal.SIGTTOU: refusing}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    scheme = "https" if config.is_ssl else "http"
    log.info("Serving on %s://%s:%d with %d workers, each on its own socket (SO_REUSEPORT)",
             scheme, config.host, sockets[0].getsockname()[1], workers)

    def started(index: int) -> _Worker:
        worker = _Worker(_spawn.Event(), sockets[index], counts, index)
        log.info("Started worker process [%s]", worker.start(config))
        return worker

    def replace_all() -> None:
        """Each worker replaced by a new one on its socket, once the new one serves."""
        for index, old in enumerate(running):
            new = started(index)
            deadline = time.monotonic() + READY_SECONDS
            while not (new.ready.wait(0.2) or stop.is_set() or not new.process.is_alive()
                       or time.monotonic() > deadline):
                pass
            if not new.ready.is_set():
                new.process.kill()
                new.process.join()
                if not stop.is_set():
                    log.error("Worker process [%s] did not start serving (exit code %s); the "
                              "workers that were serving go on, and no other is replaced.",
                              new.process.pid, new.process.exitcode)
                return
            with contextlib.suppress(ProcessLookupError):  # unless it ended meanwhile
                os.kill(old.process.pid, signal.SIGUSR1)  # type: ignore[arg-type]
            time.sleep(DRAIN_SECONDS)
            old.process.terminate()
            old.process.join(timeout=30)
            if old.process.is_alive():
                old.process.kill()
                old.process.join()
            running[index] = new
        log.info("Every worker replaced.")

    running = [started(index) for index in range(workers)]
    status = 0
    try:
        while not stop.wait(0.5):
            if restart.is_set():
                restart.clear()
                replace_all()
            for index, worker in enumerate(running):
                process = worker.process
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("Worker process [%s] failed to start; stopping.", process.pid)
                    status = STARTUP_FAILURE
                    stop.set()
                    break
                log.warning("Worker process [%s] ended (exit code %s); starting another.",
                            process.pid, process.exitcode)
                counts[index] = 0  # its connections went with it
                running[index] = started(index)
    finally:
        processes = [worker.process for worker in running]
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
