"""What an operator configures: trusted issuers, the public URL, the feedback database, limits.

Read from a YAML file (``jdm-cds serve --config FILE``, or the ``JDM_CDS_SERVICE_CONFIG``
environment variable for an ASGI server that imports ``jdm_cds.service:app``). Unknown keys
are errors: a misspelt ``issuers`` must not leave the service open or silently closed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_ENV = "JDM_CDS_SERVICE_CONFIG"
# Set only by ``jdm-cds serve --dev-no-auth`` (which also binds to localhost): a worker
# process started by uvicorn learns the mode from its parent through the environment.
DEV_NO_AUTH_ENV = "JDM_CDS_SERVICE_DEV_NO_AUTH"

_Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Issuer(_Strict):
    """A CDS client the service trusts, with where its public keys come from."""

    iss: _Text = Field(description="the JWT 'iss' value, exactly")
    jwks_file: Path | None = Field(None, description="a JSON Web Key Set file of its keys")
    jku: tuple[_Text, ...] = Field(
        (), description="JWK Set URLs a token of this issuer may name in its 'jku' header; "
        "fetched over HTTPS (or loopback HTTP) without redirects, and cached")

    @model_validator(mode="after")
    def _has_keys(self) -> Issuer:
        if self.jwks_file is None and not self.jku:
            raise ValueError(f"issuer {self.iss!r} needs 'jwks_file' or 'jku' (its keys)")
        return self


class Settings(_Strict):
    issuers: tuple[Issuer, ...] = Field(
        (), description="trusted CDS clients; none: every request is refused with 401")
    public_url: _Text | None = Field(
        None, description="the base URL clients call (behind a reverse proxy, the proxy's "
        "URL, e.g. https://cds.example.org); a token's 'aud' must be this base plus the path "
        "called. Default: the URL of the request as the service sees it")
    database_url: _Text = Field(
        "sqlite:///jdm-cds-service.sqlite3",
        description="SQLAlchemy URL of the database of feedback, issued cards and seen token "
        "ids (e.g. postgresql+psycopg://user@host/db); the schema is created at start-up")
    max_body_bytes: int = Field(
        5 * 1024 * 1024, gt=0, description="larger request bodies are refused with 413")
    leeway_seconds: int = Field(
        10, ge=0, le=60, description="clock skew allowed on 'exp' and 'iat'")
    max_token_lifetime_seconds: int = Field(
        300, gt=0, le=3600, description="a token whose 'exp' lies further after its 'iat' is "
        "refused (CDS Hooks 1.0: 'no more than five minutes in the future'); it also bounds "
        "how long a 'jti' is remembered")
    cors_origins: tuple[_Text, ...] = Field(
        (), description="browser origins allowed to call the service (CORS), e.g. "
        "https://sandbox.cds-hooks.org for the public CDS Hooks sandbox")
    fhir_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="timeout of each request to a fhirServer")
    dev_no_auth: bool = Field(
        False, description="never read from the file: only `jdm-cds serve --dev-no-auth`")

    @model_validator(mode="before")
    @classmethod
    def _no_dev_mode_in_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and "dev_no_auth" in data:
            raise ValueError("dev_no_auth cannot be configured in a file; it is only the "
                             "command-line flag `jdm-cds serve --dev-no-auth`")
        return data


class ConfigError(Exception):
    """The configuration file cannot be used; the message says where and why."""


def load_settings(path: Path | None = None) -> Settings:
    """The settings of ``path``, else of ``$JDM_CDS_SERVICE_CONFIG``, else the defaults."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    data: Any = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"{path}: cannot read ({error.strerror})") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from error
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        base = path.parent
        for issuer in data.get("issuers") or []:
            # A key file is found relative to the configuration file that names it.
            if isinstance(issuer, dict) and isinstance(issuer.get("jwks_file"), str):
                issuer["jwks_file"] = str(base / issuer["jwks_file"])
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        where = path or "settings"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                             for e in error.errors())
        raise ConfigError(f"{where}: {problems}") from None
    if os.environ.get(DEV_NO_AUTH_ENV) == "1":
        settings = settings.model_copy(update={"dev_no_auth": True})
    return settings
