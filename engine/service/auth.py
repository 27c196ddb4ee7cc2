"""Who may call the service: CDS Hooks client JWTs, checked strictly.

Every request carries ``Authorization: Bearer <JWT>``. The token must be signed with an
asymmetric key (ES384 or RS384; ``none`` and HMAC are refused before any key is looked up),
have ``typ`` JWT and a ``kid``, come from an issuer on the configured allowlist, with its key
from that issuer's JWKS file or from a JWK Set URL (``jku``) on that issuer's allowlist;
``aud`` must be the URL called, ``exp`` and ``iat`` are checked with a small leeway, the
lifetime is bounded, and each ``jti`` is accepted once (the database remembers it until the
token has expired, so that every worker of the service refuses a replay).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK, PyJWKSet
from jwt.utils import base64url_decode, base64url_encode

from jdm_cds.service.database import Store
from jdm_cds.service.settings import Issuer, Settings

ALGORITHMS = ("ES384", "RS384")
_REQUIRED = ["iss", "aud", "exp", "iat", "jti"]
_JKU_TTL = 600.0  # seconds a fetched key set is trusted before it is fetched again
_JKU_RETRY = 30.0  # an unknown kid refetches a key set at most this often

HOW_TO_CONFIGURE = (
    "no trusted issuer is configured: every request is refused. Start the service with "
    "--config FILE, where FILE lists the CDS clients to trust, e.g.\n"
    "  issuers:\n"
    "    - iss: https://ehr.example.org\n"
    "      jwks_file: ehr-keys.json                      # its public keys (JWK Set)\n"
    "      jku: [https://ehr.example.org/.well-known/jwks.json]   # or allowed key URLs\n"
    "(README: 'CDS Hooks service'). For local development only: jdm-cds serve --dev-no-auth")


class _JWS(jwt.PyJWS):
    """PyJWS, reading a segment in the usual form without its loop over each character in
    Python (a third of a token check with RS384). A segment that is the canonical base64url
    encoding of what it decodes to has no padding, only base64url characters and a length
    PyJWS accepts: PyJWS reads it to those same bytes, which are returned at once. Any other
    segment is read by PyJWS itself, which accepts it or says why not;
    ``tests/service/test_service_token_reading.py`` checks both against PyJWS."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        try:
            decoded = base64url_decode(segment)
        except binascii.Error:
            pass
        else:
            if base64url_encode(decoded) == segment:
                return decoded
        return jwt.PyJWS._decode_base64url_segment(segment, name)


class _JWT(jwt.PyJWT):
    """PyJWT (the claims, the signature, the algorithms) over ``_JWS``."""

    def __init__(self) -> None:
        super().__init__()
        self._jws = _JWS(options=self._get_sig_options())


_DECODER = _JWT()


class AuthError(Exception):
    """The request is not authenticated; the message says why (it is safe to return)."""


@dataclass(frozen=True)
class Caller:
    iss: str
    jti: str
    tenant: str | None


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _KeySets:
    """Key sets by URL, fetched without redirects and cached."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._sets: dict[str, tuple[float, PyJWKSet]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, refresh: bool = False) -> PyJWKSet:
        now = time.monotonic()
        with self._lock:
            cached = self._sets.get(url)
        if cached is not None and now - cached[0] < (_JKU_RETRY if refresh else _JKU_TTL):
            return cached[1]
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http"
                                            and loopback(parts.hostname or "")):
            raise AuthError(f"key set URL {url} is neither https nor loopback http")
        try:
            response = httpx.get(url, timeout=self._timeout, follow_redirects=False)
            response.raise_for_status()
            keys = PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as error:
            if cached is not None:
                return cached[1]  # the set fetched before stays valid until it can be replaced
            raise AuthError(f"cannot fetch the key set {url} ({type(error).__name__})") from None
        with self._lock:
            self._sets[url] = (now, keys)
        return keys


class Verifier:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.issuers = {issuer.iss: issuer for issuer in settings.issuers}
        self._files = {issuer.iss: _read_jwks(issuer) for issuer in settings.issuers
                       if issuer.jwks_file is not None}
        self._remote = _KeySets(timeout=5.0)

    def verify(self, authorization: str | None, audience: str) -> Caller:
        """The caller of a request whose ``Authorization`` header is given, or AuthError."""
        if not self.issuers:
            raise AuthError("no trusted issuer is configured (see the service's log for how "
                            "to configure one)")
        if authorization is None:
            raise AuthError("missing 'Authorization: Bearer <JWT>' header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("the Authorization header must be 'Bearer <JWT>'")
        token = token.strip()
        header, unverified = _unverified(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AuthError(f"algorithm {alg!r} is not accepted (only {', '.join(ALGORITHMS)})")
        if header.get("typ") != "JWT":
            raise AuthError("the token's header must have typ 'JWT'")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError("the token's issuer is not trusted")
        key = self._key(issuer, header)
        family = EllipticCurvePublicKey if alg.startswith("ES") else RSAPublicKey
        if not isinstance(key.key, family):
            raise AuthError(f"key {header.get('kid')!r} is not a key for {alg}")
        leeway = self.settings.leeway_seconds
        try:
            claims: dict[str, Any] = _DECODER.decode(
                token, key=key.key, algorithms=[alg], audience=audience, issuer=issuer.iss,
                leeway=leeway, options={"require": _REQUIRED})
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(f"the token's aud is not the URL called ({audience})") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"the token is not valid ({error})") from None
        now = time.time()
        iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
        if not isinstance(iat, int | float) or iat > now + leeway:
            raise AuthError("the token's iat lies in the future")
        if exp - iat > self.settings.max_token_lifetime_seconds:
            raise AuthError(f"the token lives longer than "
                            f"{self.settings.max_token_lifetime_seconds} s (exp - iat)")
        if not isinstance(jti, str) or not jti:
            raise AuthError("the token's jti must be a non-empty string")
        if not self.store.first_use(issuer.iss, jti, int(exp) + leeway + 1):
            raise AuthError("the token was used before (jti replayed)")
        tenant = claims.get("tenant")
        return Caller(issuer.iss, jti, tenant if isinstance(tenant, str) else None)

    def _key(self, issuer: Issuer, header: dict[str, Any]) -> PyJWK:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token's header has no kid")
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            raise AuthError("the token's jku is not on the issuer's allowlist")
        found = None
        if jku is None and issuer.iss in self._files:
            found = _find(self._files[issuer.iss], kid)
        for url in [jku] if jku is not None else ([] if found else list(issuer.jku)):
            found = _find(self._remote.get(url), kid)
            if found is None:  # a key may have been added since the set was fetched
                found = _find(self._remote.get(url, refresh=True), kid)
            if found is not None:
                break
        if found is None:
            raise AuthError(f"no key {kid!r} is known for the token's issuer")
        return found


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, read only to choose the issuer and key.

    Nothing read here is trusted: ``_DECODER.decode`` then parses the whole token again and
    checks its signature and claims. Reading the two segments directly spares PyJWT's two
    unverified parses (each validates every character of the token in Python).
    """
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three segments")
        header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                          for part in parts[:2])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuthError("the bearer token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthError("the bearer token is not a JWT")
    return header, claims


def _read_jwks(issuer: Issuer) -> PyJWKSet:
    assert issuer.jwks_file is not None
    try:
        return PyJWKSet.from_dict(json.loads(issuer.jwks_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, jwt.PyJWKSetError) as error:
        raise ValueError(f"issuer {issuer.iss!r}: cannot read the JWK Set "
                         f"{issuer.jwks_file} ({error})") from error


def _find(keys: PyJWKSet, kid: str) -> PyJWK | None:
    return next((key for key in keys.keys if key.key_id == kid), None)
