"""``jdm-cds serve --workers N``: each worker accepts on its own socket (SO_REUSEPORT), so
that connections are spread over the workers; a worker that dies is replaced."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import JDM_CDS, free_port

from jdm_cds.service.load import _connections, _workers
from jdm_cds.service.workers import balanced, listening_sockets

pytestmark = pytest.mark.skipif(not balanced(), reason="SO_REUSEPORT balancing is Linux's")
CONNECTIONS = 40


def _ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(base + "/cds-services", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _held(workers: list[int], port: int, expected: int) -> dict[int, int]:
    """The connections each worker holds, once all ``expected`` are accepted."""
    deadline = time.monotonic() + 10
    held = _connections(workers, port)
    while sum(held.values()) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        held = _connections(workers, port)
    return held


def test_listening_sockets_share_one_port() -> None:
    sockets = listening_sockets("127.0.0.1", 0, 3, 16)
    try:
        assert len({sock.getsockname() for sock in sockets}) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_connections_opened_together_are_spread_over_the_workers(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    replaced: list[int] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("JDM_CDS_SERVICE")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(JDM_CDS), "serve", "--port", str(port), "--workers", "2", "--dev-no-auth"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env={**env, "HOME": str(tmp_path)})
    try:
        base = f"http://127.0.0.1:{port}"
        _ready(base, process, log)
        workers = _workers(process.pid)
        assert len(workers) == 2
        # Opened all at once, as the load test's clients are: uvicorn's shared socket gave
        # nearly all of them to one worker.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
        held = _held(workers, port, CONNECTIONS)
        for client in clients:
            client.close()
        assert sum(held.values()) == CONNECTIONS, held
        assert min(held.values()) >= CONNECTIONS // 5, held

        # Kept alive and busy, they end evenly spread: the worker holding more closes one
        # at a time after its answer, and its client connects again.
        kept = [httpx.Client(base_url=base, timeout=30) for _ in range(CONNECTIONS)]
        even = [CONNECTIONS // 2] * 2
        try:
            closed = 0
            for round_ in range(20):
                answers = [c.get("/cds-services") for c in kept]
                assert all(answer.status_code == 200 for answer in answers)
                closed += sum(a.headers.get("connection") == "close" for a in answers)
                held = _connections(workers, port)
                if round_ == 0 and not closed:
                    # Nothing closed: the kernel's hash split them evenly by itself.
                    assert sorted(held.values()) == even, held
                if sorted(held.values()) == even:
                    break
            assert sorted(held.values()) == even, held
        finally:
            for c in kept:
                c.close()

        # A worker that dies is replaced, on the same socket: every request is answered.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 90
        while len(replaced := _workers(process.pid)) < 2 or workers[0] in replaced:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # Requests that reach its socket while it starts wait in the socket's backlog.
        with httpx.Client(timeout=90) as client:
            for _ in range(20):
                # A new connection each time: each lands on either socket.
                assert client.get(base + "/cds-services",
                                  headers={"Connection": "close"}).status_code == 200
        assert "ended (exit code -9); starting another" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=60)
    # SIGTERM to the service ends every worker with it.
    assert replaced and not any(Path(f"/proc/{pid}").exists() for pid in replaced)


def test_a_port_in_use_is_refused_even_by_another_reuseport_group(tmp_path: Path) -> None:
    """Another service listening with SO_REUSEPORT on the port: joining its group would split
    its connections with this one, so ``serve`` refuses the port, with a message."""
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    port = other.getsockname()[1]
    try:
        with pytest.raises(OSError):
            listening_sockets("127.0.0.1", port, 2, 16)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JDM_CDS_SERVICE")}
        done = subprocess.run(
            [str(JDM_CDS), "serve", "--port", str(port), "--workers", "2", "--dev-no-auth"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**env, "HOME": str(tmp_path)})
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    finally:
        other.close()


def test_sighup_replaces_the_workers_while_requests_are_answered(tmp_path: Path) -> None:
    """SIGHUP: each worker replaced by one that reads the settings again, the old one stopped
    only once the new one serves, every request answered meanwhile; a replacement that cannot
    start leaves the serving workers in place. SIGTTIN (uvicorn: one worker more) is refused
    with a warning, where its default action would suspend the service."""
    port = free_port()
    log = tmp_path / "server.log"
    config = tmp_path / "service.yaml"
    config.write_text("max_body_bytes: 2000000\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JDM_CDS_SERVICE")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(JDM_CDS), "serve", "--port", str(port), "--workers", "2", "--dev-no-auth",
             "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env={**env, "HOME": str(tmp_path)})
    answers: list[int | str] = []
    asking = threading.Event()

    def ask() -> None:
        with httpx.Client(timeout=90) as client:
            while asking.is_set():
                # A new connection each time: each lands on either socket.
                try:
                    answers.append(client.get(base + "/cds-services",
                                              headers={"Connection": "close"}).status_code)
                except httpx.HTTPError as error:  # counted, not lost with the thread
                    answers.append(repr(error))

    try:
        base = f"http://127.0.0.1:{port}"
        _ready(base, process, log)
        first = _workers(process.pid)
        assert len(first) == 2
        asking.set()
        asker = threading.Thread(target=ask)
        asker.start()
        try:
            os.kill(process.pid, signal.SIGHUP)
            deadline = time.monotonic() + 180
            while "Every worker replaced." not in log.read_text():
                assert time.monotonic() < deadline and process.poll() is None, log.read_text()
                time.sleep(0.2)
        finally:
            asking.clear()
            asker.join()
        second = _workers(process.pid)
        assert len(second) == 2 and not set(first) & set(second), (first, second)
        assert answers and set(answers) == {200}, answers

        os.kill(process.pid, signal.SIGTTIN)
        config.write_text("max_body_bytes: [not a number\n")  # the next worker cannot start
        os.kill(process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 180
        while "did not start serving" not in log.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert set(_workers(process.pid)) == set(second)
        assert httpx.get(base + "/cds-services", timeout=30).status_code == 200
        assert "Received SIGTTIN: the number of workers is set at start-up" in log.read_text()
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)
