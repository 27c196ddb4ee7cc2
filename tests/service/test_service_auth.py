"""Every request needs a valid client JWT; each bad token gets 401 and nothing happens."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cds_checks import discovery, error
from conftest import ISSUER, Keys, Server, start, stop
from cryptography.hazmat.primitives.asymmetric import ec

PATH = "/cds-services"
VIEW = "/cds-services/jdm-cds-patient-view"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(aud: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 60, "jti": "x-none"}
    return f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{_b64(claims)}."


def _call(server: Server, token: str | None, path: str = PATH) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.get(server.url(path), headers=headers, timeout=30)


def test_es384_and_rs384_tokens_are_accepted(server: Server) -> None:
    services = discovery(server.get(PATH))
    assert {s["id"] for s in services["services"]} == {"jdm-cds-patient-view",
                                                        "jdm-cds-order-sign"}
    discovery(server.get(PATH, alg="RS384", kid="rsa-1"))


def test_aud_as_a_list_holding_the_url_is_accepted(server: Server, keys: Keys) -> None:
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": ["https://other.test", server.url(PATH)],
                        "iat": now, "exp": now + 60, "jti": "list-aud"}, keys.ec,
                       algorithm="ES384", headers={"kid": "ec-1", "typ": "JWT"})
    discovery(_call(server, token))


def _bad_tokens(server: Server, keys: Keys) -> dict[str, str | None]:
    aud = server.url(PATH)
    replayed = keys.token(aud)
    discovery(_call(server, replayed))  # first use is fine
    return {
        "unsigned (no header)": None,
        "alg none": _unsigned(aud),
        "HS256": jwt.encode({"iss": ISSUER, "aud": aud, "iat": int(time.time()),
                             "exp": int(time.time()) + 60, "jti": "hs"},
                            "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256",
                            headers={"kid": "ec-1", "typ": "JWT"}),
        "wrongly signed": keys.token(aud, key=keys.stranger),
        "expired": keys.token(aud, issued=time.time() - 400, lifetime=60),
        "replayed": replayed,
        "wrong aud": keys.token("https://elsewhere.test/cds-services"),
        "aud of another path": keys.token(server.url(VIEW)),
        "untrusted iss": keys.token(aud, iss="https://stranger.test"),
        "unknown kid": keys.token(aud, kid="nope"),
        "ES256": keys.token(aud, alg="ES256", key=ec.generate_private_key(ec.SECP256R1())),
        "RS384 header on the EC key id": keys.token(aud, alg="RS384", kid="ec-1"),
        "iat in the future": keys.token(aud, issued=time.time() + 600),
        "lives too long": keys.token(aud, lifetime=3600),
        "no jti": keys.token(aud, drop=("jti",)),
        "no exp": keys.token(aud, drop=("exp",)),
        "typ not JWT": keys.token(aud, headers={"typ": "at+jwt"}),
        "jku not allowed": keys.token(aud, headers={"jku": "https://evil.test/jwks.json"}),
        "not a JWT": "hello",
    }


def test_every_bad_token_gets_401_in_json(server: Server, keys: Keys) -> None:
    for name, token in _bad_tokens(server, keys).items():
        response = _call(server, token)
        assert response.status_code == 401, (name, response.text)
        message = error(response, 401)
        assert response.headers.get("www-authenticate") == "Bearer", name
        assert message, name


def test_bad_tokens_on_a_service_change_nothing(server: Server, keys: Keys) -> None:
    """A refused call is refused before the body is read: even a body that would be a 400
    gets 401, and no card is recorded."""
    tokens = _bad_tokens(server, keys)
    del tokens["aud of another path"]  # that path is this one
    tokens["aud of discovery"] = keys.token(server.url(PATH))
    for token in tokens.values():
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        response = httpx.post(server.url(VIEW), json={"nonsense": True}, headers=headers,
                              timeout=30)
        error(response, 401)


def test_without_configuration_every_request_gets_401_and_the_log_says_how(
        tmp_path: Path, keys: Keys) -> None:
    bare = start(tmp_path, keys, None)
    try:
        message = error(_call(bare, keys.token(bare.url(PATH))), 401)
        assert "no trusted issuer" in message
        error(httpx.post(bare.url(VIEW), json={}, timeout=30), 401)
    finally:
        stop(bare)
    log = bare.log_text()
    assert "no trusted issuer is configured" in log and "--config" in log
    assert "jwks_file" in log


def test_dev_mode_is_loud_and_only_on_localhost(tmp_path: Path, keys: Keys) -> None:
    import subprocess

    from conftest import JDM_CDS

    refused = subprocess.run([str(JDM_CDS), "serve", "--dev-no-auth", "--host", "0.0.0.0"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "localhost only" in refused.stderr
    dev = start(tmp_path, keys, None, extra=("--dev-no-auth",))
    try:
        discovery(httpx.get(dev.url(PATH), timeout=30))
    finally:
        stop(dev)
    assert "DEVELOPMENT MODE" in dev.log_text()


@pytest.mark.parametrize("content", ["issuers: [{iss: x}]", "dev_no_auth: true", "issuerz: []"])
def test_a_bad_configuration_stops_start_up(tmp_path: Path, content: str) -> None:
    import subprocess

    from conftest import JDM_CDS

    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = subprocess.run([str(JDM_CDS), "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert str(config) in result.stderr
