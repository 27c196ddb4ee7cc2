"""Several worker processes, each accepting on a listening socket of its own (Linux).

uvicorn's own ``--workers`` shares one listening socket between its workers, and the worker
that wakes first accepts every connection waiting: 50 clients connecting together were
measured to land 49 on one worker and 1 on the other (and 33/17 when they connected 10 ms
apart), so that one worker queued nearly every request while the other idled. Here each
worker listens on its own socket, all bound to the same address with ``SO_REUSEPORT``, and
the kernel gives each new connection to one of them by a hash of the connection's addresses,
spreading connections evenly over the workers whatever their timing. A worker that dies is
started again on the same socket (connections that arrived meanwhile wait in its backlog);
one that cannot start stops the service, as uvicorn does.

Elsewhere (where ``SO_REUSEPORT`` does not balance connections, e.g. macOS), ``serve`` leaves
the workers to uvicorn.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.context import SpawnProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")
_spawn = multiprocessing.get_context("spawn")


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


def _worker(config: uvicorn.Config, sock: socket.socket) -> None:
    """One worker process: a uvicorn server on its own socket."""
    config.configure_logging()
    # Ctrl-C reaches the whole process group: the parent ends the workers.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def run(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` with ``workers`` processes until SIGINT or SIGTERM; the exit status."""
    sockets = listening_sockets(config.host, config.port, workers, config.backlog)
    stop = threading.Event()

    def stopping(signum: int, _frame: FrameType | None) -> None:
        log.info("Received %s, stopping the workers.", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    scheme = "https" if config.is_ssl else "http"
    log.info("Serving on %s://%s:%d with %d workers, each on its own socket (SO_REUSEPORT)",
             scheme, config.host, sockets[0].getsockname()[1], workers)

    def started(sock: socket.socket) -> SpawnProcess:
        process = _spawn.Process(target=_worker, args=(config, sock))
        process.start()
        log.info("Started worker process [%s]", process.pid)
        return process

    processes = [started(sock) for sock in sockets]
    status = 0
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("Worker process [%s] failed to start; stopping.", process.pid)
                    status = STARTUP_FAILURE
                    stop.set()
                    break
                log.warning("Worker process [%s] ended (exit code %s); starting another.",
                            process.pid, process.exitcode)
                processes[index] = started(sockets[index])
    finally:
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
