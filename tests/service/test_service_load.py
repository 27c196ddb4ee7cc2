"""``make load``'s measurement: the open loop counts waiting from each request's due time,
and the whole load test runs against the real server (briefly)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from conftest import PYTHON

from jdm_cds.service.load import Connection, Phase, Target, Tokens, _open_client

EXAMPLE = Path(__file__).parents[2] / "examples" / "patient-mda5.yaml"
ANSWER = b'{"cards":[{"summary":"s"}]}'
DELAY = 0.25  # the slow server's time per request
INTERVAL = 0.1  # the client's schedule: one request due every INTERVAL


class _NoTokens(Tokens):
    def __init__(self) -> None:
        self.ready, self.signed_during_run = [], 0

    def next(self) -> str:
        return "t"


def test_the_open_loop_counts_queueing_from_the_due_time() -> None:
    """A server slower than the schedule: each answer is late by more than the last, and
    the latencies say so (measured from the send, they would all be about DELAY)."""

    async def main() -> Phase:
        async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                await asyncio.sleep(DELAY)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(ANSWER), ANSWER))

        server = await asyncio.start_server(slow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        phase = Phase("open", 1)
        target = Target("127.0.0.1", port, b"{}", _NoTokens())
        start = time.perf_counter() + 0.05
        await _open_client(target, phase, start, INTERVAL, start + 5 * INTERVAL)
        server.close()
        return phase

    phase = asyncio.run(main())
    assert not phase.errors
    assert len(phase.latencies) == 5
    for k, latency in enumerate(phase.latencies):
        # The k-th answer cannot come before (k + 1) * DELAY; it was due at k * INTERVAL.
        assert latency >= (k + 1) * DELAY - k * INTERVAL - 0.005, (k, phase.latencies)
    assert phase.late_sends == 4


def test_connection_reads_an_answer_by_its_length() -> None:
    async def main() -> tuple[int, bytes]:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n"
                         b"Connection: close\r\n\r\nnope!")

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        connection = Connection("127.0.0.1", server.sockets[0].getsockname()[1])
        result = await connection.post(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n", b"{}")
        assert connection.writer is None  # closed, as the server asked
        server.close()
        return result

    assert asyncio.run(main()) == (401, b"nope!")


def test_make_load_runs_both_phases_without_errors(tmp_path: Path) -> None:
    # Its own temporary folder, to see that the run leaves nothing behind in it.
    done = subprocess.run(
        [str(PYTHON), "-m", "jdm_cds.service.load", "--clients", "4", "--seconds", "1",
         "--warm-up", "1", "--interval-ms", "200", "--example", str(EXAMPLE)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== closed loop (saturation) ==" in done.stdout
    assert "== open loop (steady arrivals) ==" in done.stdout
    assert "offered 20.0 requests/s" in done.stdout
    assert "errors 0" in done.stdout
    assert list(tmp_path.iterdir()) == []  # keys, configuration, database and log removed
