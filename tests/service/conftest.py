"""The CDS Hooks service under test: the real server (``jdm-cds serve``, uvicorn) on
127.0.0.1 and a free port, called with httpx and with JWTs signed by keys made here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://ehr.test"
PYTHON = Path(sys.executable)
JDM_CDS = PYTHON.parent / "jdm-cds"


@dataclass
class Keys:
    ec: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    rsa: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    stranger: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        return {"keys": [{**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES384"},
                         {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS384"}]}

    def token(self, aud: str, *, alg: str = "ES384", kid: str = "ec-1", key: Any = None,
              iss: str = ISSUER, lifetime: int = 60, issued: float | None = None,
              jti: str | None = None, headers: dict[str, Any] | None = None,
              drop: tuple[str, ...] = ()) -> str:
        now = int(time.time() if issued is None else issued)
        claims = {"iss": iss, "aud": aud, "iat": now, "exp": now + lifetime,
                  "jti": jti or str(uuid.uuid4())}
        for name in drop:
            claims.pop(name)
        if key is None:
            key = self.rsa if alg.startswith("RS") else self.ec
        return jwt.encode(claims, key, algorithm=alg,
                          headers={"kid": kid, "typ": "JWT", **(headers or {})})


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    keys: Keys
    database: str

    def url(self, path: str) -> str:
        return self.base + path

    def headers(self, path: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.token(self.url(path), **kwargs)}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url(path), headers=self.headers(path, **kwargs), timeout=30)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url(path), json=body, headers=self.headers(path, **kwargs),
                          timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(folder: Path, keys: Keys, settings: dict[str, Any] | None,
          extra: tuple[str, ...] = ()) -> Server:
    """``jdm-cds serve`` with ``settings`` (None: no --config), ready to answer."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database = f"sqlite:///{folder / 'service.sqlite3'}"
    args = [str(JDM_CDS), "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JDM_CDS_SERVICE")}
    if settings is not None:
        (folder / "keys.json").write_text(json.dumps(keys.jwks()))
        config = folder / "service.yaml"
        config.write_text(yaml.safe_dump({"database_url": database, **settings}))
        args += ["--config", str(config)]
    else:
        env["HOME"] = str(folder)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=folder,
                                   env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {log.read_text()}")
        try:
            httpx.get(base + "/cds-services", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"the server did not start: {log.read_text()}") from None
            time.sleep(0.1)
    return Server(base, process, log, keys, database)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


TRUSTING = {"issuers": [{"iss": ISSUER, "jwks_file": "keys.json"}],
            "cors_origins": ["https://sandbox.test"]}


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("service"), keys, TRUSTING)
    yield running
    stop(running)
