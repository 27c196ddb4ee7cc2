"""Load test of the CDS Hooks service (``make load``): patient-view with prefetch.

Starts ``jdm-cds serve --workers W`` on 127.0.0.1 with a key made for the run, then ``C``
concurrent clients send signed patient-view requests (the prefetch of
``examples/patient-mda5.yaml``, each request with its own token, signed before the run so
that signing does not compete with the server) for ``S`` seconds. Prints errors, p50/p99
latency, requests/s, and the workers' resident memory at the start and the end of the run.

    python -m jdm_cds.service.load [--clients 50] [--seconds 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER = "https://load.test"
PATH = "/cds-services/jdm-cds-patient-view"


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


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _workers(parent: int) -> list[int]:
    """The server's processes: the parent and its children (uvicorn's workers)."""
    found = [parent]
    for task in Path("/proc").iterdir():
        if task.name.isdigit():
            try:
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                found.append(int(task.name))
    return found


def _memory(parent: int) -> dict[int, int]:
    return {pid: _rss_kib(pid) for pid in _workers(parent)}


class Tokens:
    def __init__(self, key: ec.EllipticCurvePrivateKey, aud: str) -> None:
        self.key, self.aud = key, aud

    def sign(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": ISSUER, "aud": self.aud, "iat": now, "exp": now + 290,
                           "jti": str(uuid.uuid4())}, self.key, algorithm="ES384",
                          headers={"kid": "load", "typ": "JWT"})

    def batch(self, count: int) -> Iterator[str]:
        for _ in range(count):
            yield self.sign()


async def _client(client: httpx.AsyncClient, url: str, body: bytes, tokens: Iterator[str],
                  spare: Tokens, deadline: float, latencies: list[float],
                  errors: list[str]) -> None:
    while time.monotonic() < deadline:
        token = next(tokens, None) or spare.sign()
        started = time.perf_counter()
        try:
            response = await client.post(url, content=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or not response.json().get("cards"):
                errors.append(f"{response.status_code}: {response.text[:200]}")
            else:
                latencies.append(elapsed)
        except httpx.HTTPError as error:
            errors.append(type(error).__name__)


async def _run(url: str, body: bytes, tokens: Iterator[str], spare: Tokens, clients: int,
               seconds: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(_client(client, url, body, tokens, spare, deadline, latencies,
                                       errors) for _ in range(clients)))
        return latencies, errors, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--example", type=Path, default=Path("examples/patient-mda5.yaml"))
    args = parser.parse_args(argv)

    pid, prefetch = prefetch_of(args.example)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    key = ec.generate_private_key(ec.SECP384R1())
    folder = Path(tempfile.mkdtemp(prefix="jdm-cds-load-"))
    jwk = {**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "load", "alg": "ES384"}
    (folder / "keys.json").write_text(json.dumps({"keys": [jwk]}))
    (folder / "service.yaml").write_text(yaml.safe_dump({
        "issuers": [{"iss": ISSUER, "jwks_file": "keys.json"}],
        "database_url": f"sqlite:///{folder / 'service.sqlite3'}"}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    jdm_cds = Path(sys.executable).parent / "jdm-cds"
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [str(jdm_cds), "serve", "--port", str(port), "--workers", str(args.workers),
         "--config", str(folder / "service.yaml"), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        tokens = Tokens(key, base + PATH)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/cds-services", timeout=2).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print(f"the server did not start; log: {folder / 'server.log'}")
                return 2
            time.sleep(0.2)
        body = json.dumps({"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                           "context": {"userId": "Practitioner/load", "patientId": pid},
                           "prefetch": prefetch}).encode()
        # Warm-up: every worker builds its evaluator and database connection.
        warm = list(tokens.batch(args.clients * 4))
        asyncio.run(_run(base + PATH, body, iter(warm), tokens, args.clients, 5.0))
        memory_start = _memory(server.pid)
        load_before = os.getloadavg()
        ready = list(tokens.batch(int(args.seconds * 600)))
        latencies, errors, elapsed = asyncio.run(
            _run(base + PATH, body, iter(ready), tokens, args.clients, args.seconds))
        memory_end = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    latencies.sort()
    count = len(latencies)
    result = {
        "clients": args.clients, "seconds": round(elapsed, 1), "workers": args.workers,
        "requests": count + len(errors), "errors": len(errors),
        "requests_per_s": round((count + len(errors)) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * latencies[min(count - 1, int(0.99 * count))], 1)
        if latencies else None,
        "max_ms": round(1000 * latencies[-1], 1) if latencies else None,
        "rss_mib_start": {str(k): round(v / 1024, 1) for k, v in memory_start.items()},
        "rss_mib_end": {str(k): round(v / 1024, 1) for k, v in memory_end.items()},
        "cpus": os.cpu_count(), "load_average_before": load_before,
    }
    print(json.dumps(result, indent=2))
    if errors:
        print("first errors:", *sorted(set(errors))[:5], sep="\n  ")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
