"""Load test of the CDS Hooks service (``make load``): patient-view with prefetch.

Starts ``jdm-cds serve --workers W`` on 127.0.0.1 with a key made for the run; every request
is a patient-view of ``examples/patient-mda5.yaml`` with its full prefetch and its own token,
ES384 or RS384 (``--alg``; signed before each phase, so that signing does not compete with
the server). After a warm-up, two phases of ``S`` seconds each, with ``C`` concurrent clients
(one keep-alive connection each):

1. **closed loop**: each client sends its next request as soon as its answer arrives. This
   is the service saturated: requests/s is its capacity on this machine, and latency is
   mostly queueing (with every client always waiting, latency is about clients x CPU time
   per request / cores, whatever the service does with the time).
2. **open loop**: each client sends one request every ``I`` ms on a fixed schedule (clients
   staggered evenly), an offered rate of ``C / I``. Latency is counted from the time each
   request was *due*, so an answer that keeps a client waiting past its next send time
   counts against the service (no coordinated omission).

For each phase: requests, errors (any status but 200, a body without cards), p50, p99 and
maximum latency, offered and achieved requests/s, the server's CPU time per request, the
share of the machine the load generator itself used, the workers' resident memory at the
start and end, and how many connections each worker holds. The clients are a minimal
asyncio HTTP/1.1 client (pre-built requests, Content-Length framing, uvloop when installed)
so that they take as little of the machine as possible from the server they share it with.

    python -m jdm_cds.service.load [--clients 50] [--seconds 30] [--workers 2]
                                   [--interval-ms 500] [--phases closed open] [--warm-up 5]
                                   [--alg ES384|RS384]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://load.test"
PATH = "/cds-services/jdm-cds-patient-view"
TARGET_P99_MS = 100.0
_TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prefetch_of(example: Path) -> tuple[str, dict[str, Any]]:
    """The patient id and prefetch of a patient file, through the FHIR export."""
    from jdm_cds.interop.fhir import bundle_from_patient
    from jdm_cds.model.reading import load_patient
    from jdm_cds.service.data import prefetch_from_bundle

    prefetch = prefetch_from_bundle(bundle_from_patient(load_patient(example)))
    return str(prefetch["patient"]["id"]), prefetch


# --- the server's processes ------------------------------------------------------------


def _workers(parent: int) -> list[int]:
    """The processes serving requests: uvicorn's worker processes (spawned children of the
    server's process, not its resource tracker), or the server's process with one worker."""
    found = []
    for task in Path("/proc").iterdir():
        if task.name.isdigit():
            try:
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
                command = (task / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == parent and b"spawn_main" in command:
                found.append(int(task.name))
    return sorted(found) or [parent]


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` (and their threads) so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _connections(pids: list[int], port: int) -> dict[int, int]:
    """How many established connections to ``port`` each of ``pids`` holds (the kernel
    gives each new connection to whichever worker accepts it first)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    held = {}
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            links = []
        held[pid] = sum(link[8:-1] in inodes for link in links if link.startswith("socket:["))
    return held


# --- requests ----------------------------------------------------------------------------


class Tokens:
    """Tokens signed ahead of a phase; one more is signed on the spot if they run out (and
    counted, since signing then competes with the server)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, aud: str) -> None:
        self.key, self.aud = key, aud
        self.alg = "ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384"
        self.ready: list[str] = []
        self.signed_during_run = 0

    def sign(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": ISSUER, "aud": self.aud, "iat": now, "exp": now + 290,
                           "jti": str(uuid.uuid4())}, self.key, algorithm=self.alg,
                          headers={"kid": "load", "typ": "JWT"})

    def prepare(self, count: int) -> None:
        self.ready = [self.sign() for _ in range(count)]
        self.signed_during_run = 0

    def next(self) -> str:
        if self.ready:
            return self.ready.pop()
        self.signed_during_run += 1
        return self.sign()


class Connection:
    """One keep-alive HTTP/1.1 connection: a request written whole, the answer read by
    its Content-Length (uvicorn always sends one for these responses)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(head + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        close = False
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        answer = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    different: int = 0  # answers with cards that are not byte-for-byte the first answer
    late_sends: int = 0  # open loop: requests sent after their due time (a client waiting)
    seconds: float = 0.0
    offered_per_s: float | None = None
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    rss_start: dict[int, float] = field(default_factory=dict)
    rss_end: dict[int, float] = field(default_factory=dict)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    connections: dict[int, int] = field(default_factory=dict)  # per worker, mid-phase
    tokens_signed_during_run: int = 0

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies) + len(self.errors)
        return {
            "phase": self.name, "clients": self.clients, "seconds": round(self.seconds, 1),
            "requests": done, "errors": len(self.errors),
            "answers_differing_from_the_first": self.different,
            "offered_requests_per_s": self.offered_per_s,
            "achieved_requests_per_s": round(done / self.seconds, 1) if self.seconds else 0,
            "p50_ms": self.quantile(0.50), "p99_ms": self.quantile(0.99),
            "max_ms": self.quantile(1.0),
            "late_sends": self.late_sends if self.offered_per_s is not None else None,
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_s / done, 2)
            if done else None,
            "load_generator_cpu_share_of_machine": round(
                self.client_cpu_s / (self.seconds * (os.cpu_count() or 1)), 3)
            if self.seconds else None,
            "tokens_signed_during_run": self.tokens_signed_during_run,
            "worker_rss_mib_start": {str(k): v for k, v in self.rss_start.items()},
            "worker_rss_mib_end": {str(k): v for k, v in self.rss_end.items()},
            "load_average_before": [round(x, 2) for x in self.load_before],
            "connections_per_worker": {str(k): v for k, v in self.connections.items()},
        }


class Target:
    """The server under load: where to send, what to send, what a right answer is."""

    def __init__(self, host: str, port: int, body: bytes, tokens: Tokens) -> None:
        self.host, self.port, self.body, self.tokens = host, port, body, tokens
        self.reference: bytes | None = None
        self._head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      "Authorization: Bearer ").encode()

    async def call(self, connection: Connection, phase: Phase, due: float) -> None:
        """One request; its latency counted from ``due``."""
        head = self._head + self.tokens.next().encode() + b"\r\n\r\n"
        try:
            status, answer = await connection.post(head, self.body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            connection.close()
            phase.errors.append(type(error).__name__)
            return
        elapsed = time.perf_counter() - due
        if status != 200 or not answer.startswith(b'{"cards":[{'):
            phase.errors.append(f"{status}: {answer[:200]!r}")
            return
        if self.reference is None:
            self.reference = answer
        elif answer != self.reference:
            phase.different += 1
        phase.latencies.append(elapsed)


async def _closed_client(target: Target, phase: Phase, deadline: float) -> None:
    connection = Connection(target.host, target.port)
    while time.perf_counter() < deadline:
        await target.call(connection, phase, time.perf_counter())
    connection.close()


async def _open_client(target: Target, phase: Phase, start: float, interval: float,
                       deadline: float) -> None:
    connection = Connection(target.host, target.port)
    sent = 0
    # Each due time from the start, not by adding the interval again and again: the sums'
    # rounding would let one request more (or fewer) into the run.
    while (due := start + sent * interval) < deadline:
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.001:
            phase.late_sends += 1
        await target.call(connection, phase, due)
        sent += 1
    connection.close()


def _run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def run_phase(target: Target, server: int, name: str, clients: int, seconds: float,
              interval: float | None, rate_hint: float = 300.0) -> Phase:
    """One phase: closed loop (``interval`` None; about ``rate_hint`` requests/s expected,
    for the tokens to sign) or open loop (one request per client every ``interval`` s)."""
    phase = Phase(name, clients)
    if interval is not None:
        phase.offered_per_s = round(clients / interval, 1)
    workers = _workers(server)
    # Three times the expected count: on a shared machine a phase can run much faster than
    # the warm-up that gave its rate, and a token signed during the run competes with the server.
    target.tokens.prepare(int(seconds * (phase.offered_per_s or rate_hint) * 3) + 200)
    phase.rss_start = {pid: _rss_mib(pid) for pid in workers}
    phase.load_before = os.getloadavg()

    async def main() -> None:
        start = time.perf_counter() + 0.1
        deadline = start + seconds
        if interval is None:
            await asyncio.sleep(0.1)
            runs = [_closed_client(target, phase, deadline) for _ in range(clients)]
        else:
            runs = [_open_client(target, phase, start + i * interval / clients, interval,
                                 deadline) for i in range(clients)]
        cpu = time.process_time(), _cpu_seconds(workers)

        async def count() -> None:
            await asyncio.sleep(seconds / 2)
            phase.connections = _connections(workers, target.port)

        await asyncio.gather(*runs, count())
        phase.seconds = time.perf_counter() - start
        phase.client_cpu_s = time.process_time() - cpu[0]
        phase.server_cpu_s = _cpu_seconds(workers) - cpu[1]

    _run(main)
    phase.rss_end = {pid: _rss_mib(pid) for pid in workers}
    phase.tokens_signed_during_run = target.tokens.signed_during_run
    return phase


def _report(phase: Phase, workers: int) -> list[str]:
    s = phase.summary()
    cores = os.cpu_count() or 1
    lines = [f"== {phase.name} ==",
             f"  requests {s['requests']} in {s['seconds']} s, errors {s['errors']}"]
    if phase.offered_per_s is None:
        lines.append(f"  {phase.clients} clients, each sending again as soon as answered: "
                     f"achieved {s['achieved_requests_per_s']} requests/s (the capacity)")
    else:
        lines.append(f"  {phase.clients} clients, each one request every "
                     f"{1000 * phase.clients / phase.offered_per_s:.0f} ms: offered "
                     f"{phase.offered_per_s} requests/s, achieved "
                     f"{s['achieved_requests_per_s']} requests/s, sent late "
                     f"{phase.late_sends}")
    lines.append(f"  latency p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms"
                 + ("" if phase.offered_per_s is None else " (from each request's due time)"))
    if s["p99_ms"] is not None:
        met = "met" if s["p99_ms"] < TARGET_P99_MS else "NOT met"
        lines.append(f"  target p99 < {TARGET_P99_MS:.0f} ms: {met}")
    cpu = s["server_cpu_ms_per_request"]
    if cpu:
        lines.append(f"  server CPU {cpu} ms per request ({workers} workers); at most "
                     f"{1000 * cores / cpu:.0f} requests/s on {cores} cores")
        if phase.offered_per_s is None:
            lines.append(f"  closed-loop floor: {phase.clients} clients x {cpu} ms / {cores} "
                         f"cores = {phase.clients * cpu / cores:.0f} ms of queueing per request")
    lines.append(f"  load generator: {100 * s['load_generator_cpu_share_of_machine']:.1f}% of "
                 f"the machine; tokens signed during the run: {s['tokens_signed_during_run']}")
    for pid in phase.rss_start:
        lines.append(f"  worker {pid} memory: {phase.rss_start[pid]} -> "
                     f"{phase.rss_end.get(pid, 0.0)} MiB, "
                     f"{phase.connections.get(pid, 0)} connections mid-phase")
    lines.append("  load average before: " + ", ".join(f"{x:.2f}" for x in phase.load_before))
    if phase.errors:
        lines.append("  first errors: " + "; ".join(sorted(set(phase.errors))[:5]))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="of each phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval-ms", type=float, default=500.0,
                        help="open loop: each client sends one request this often")
    parser.add_argument("--phases", nargs="+", choices=["closed", "open"],
                        default=["closed", "open"])
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds, closed loop")
    parser.add_argument("--alg", choices=["ES384", "RS384"], default="ES384",
                        help="the tokens' signature (verifying RS384 costs the server less)")
    parser.add_argument("--example", type=Path, default=Path("examples/patient-mda5.yaml"))
    args = parser.parse_args(argv)

    pid, prefetch = prefetch_of(args.example)
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if args.alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
        public = ECAlgorithm.to_jwk(key.public_key())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(key.public_key())
    folder = Path(tempfile.mkdtemp(prefix="jdm-cds-load-"))
    jwk = {**json.loads(public), "kid": "load", "alg": args.alg}
    (folder / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "service.yaml").write_text(yaml.safe_dump({
        "issuers": [{"iss": ISSUER, "jwks_file": "keys.json"}],
        "database_url": f"sqlite:///{folder / 'service.sqlite3'}"}))
    host, port = "127.0.0.1", _free_port()
    base = f"http://{host}:{port}"
    jdm_cds = Path(sys.executable).parent / "jdm-cds"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(jdm_cds), "serve", "--port", str(port), "--workers", str(args.workers),
         "--config", str(folder / "service.yaml"), "--log-level", "warning",
         "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT)
    phases: list[Phase] = []
    # The folder (keys, configuration, database, server log) goes when the run ends, unless
    # the server failed: its log is then what to read.
    keep = False
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/cds-services", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print(f"the server did not start; log: {folder / 'server.log'}")
                keep = True
                return 2
            time.sleep(0.2)
        body = json.dumps({"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                           "context": {"userId": "Practitioner/load", "patientId": pid},
                           "prefetch": prefetch}).encode()
        target = Target(host, port, body, Tokens(key, base + PATH))
        # Warm-up: every worker builds its evaluators and database connections.
        warm = run_phase(target, server.pid, "warm-up", args.clients, args.warm_up, None)
        if warm.errors:
            print("warm-up failed:", *sorted(set(warm.errors))[:5],
                  f"server log: {folder / 'server.log'}", sep="\n  ")
            keep = True
            return 1
        for name in args.phases:
            interval = args.interval_ms / 1000 if name == "open" else None
            title = ("closed loop (saturation)" if interval is None
                     else "open loop (steady arrivals)")
            phases.append(run_phase(target, server.pid, title, args.clients, args.seconds,
                                    interval, rate_hint=float(warm.summary()[
                                        "achieved_requests_per_s"])))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"patient-view of {args.example} with prefetch ({len(body) // 1024} KiB), "
          f"{args.alg} tokens, "
          f"{args.workers} workers, {os.cpu_count()} cores, uvicorn on {host}")
    for phase in phases:
        print("\n".join(_report(phase, args.workers)))
    print(json.dumps([phase.summary() for phase in phases], indent=2))
    return 1 if any(phase.errors for phase in phases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
