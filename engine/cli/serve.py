"""``jdm-cds serve``: the CDS Hooks service, run by uvicorn."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from jdm_cds.cli.common import stderr


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (behind a reverse proxy: "
                                      "keep 127.0.0.1).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    config: Annotated[Path | None, typer.Option(
        help="Settings file (YAML): trusted issuers, public URL, database, limits. "
        "Without one, every request is refused with 401.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    dev_no_auth: Annotated[bool, typer.Option(
        "--dev-no-auth", help="DEVELOPMENT ONLY: accept requests without a token. Binds to "
        "localhost only.")] = False,
    log_level: Annotated[str, typer.Option(help="debug shows unmapped resources (patient "
                                           "data); info never does.")] = "info",
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="uvicorn's line per request (method, path, "
        "status; never a body).")] = True,
) -> None:
    """Serve the CDS Hooks services (patient-view, order-sign) and their feedback."""
    import uvicorn

    from jdm_cds.service.auth import loopback
    from jdm_cds.service.settings import CONFIG_ENV, DEV_NO_AUTH_ENV, ConfigError, load_settings
    from jdm_cds.service.workers import balanced
    from jdm_cds.service.workers import run as run_workers

    if dev_no_auth and not loopback(host):
        stderr.print(f"--dev-no-auth binds to localhost only, not {host}", style="bold red")
        raise typer.Exit(2)
    try:
        load_settings(config)  # refuse a broken file before any worker starts
    except ConfigError as error:
        stderr.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    os.environ[DEV_NO_AUTH_ENV] = "1" if dev_no_auth else "0"
    options: dict[str, Any] = dict(
        host=host, port=port, log_level=log_level, log_config=_log_config(log_level.upper()),
        access_log=access_log, server_header=False,
        # EHRs keep connections open between calls; uvicorn's default (5 s) closes them
        # under a client that is about to reuse one.
        timeout_keep_alive=30)
    if workers > 1 and balanced():
        # A listening socket per worker: uvicorn's shared one lets one worker take nearly
        # every connection (jdm_cds.service.workers).
        try:
            status = run_workers(uvicorn.Config("jdm_cds.service:app", **options), workers)
        except OSError as error:
            stderr.print(f"cannot listen on {host}:{port}: {error.strerror or error}",
                         style="red", markup=False, highlight=False)
            raise typer.Exit(1) from None
        if status:
            raise typer.Exit(status)
        return
    uvicorn.run("jdm_cds.service:app", workers=workers, **options)


def _log_config(level: str) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["jdm_cds"] = {"handlers": ["default"], "level": level,
                                    "propagate": False}
    # httpx logs every URL it fetches at INFO, and a FHIR search URL holds the patient id.
    for name in ("httpx", "httpcore"):
        config["loggers"][name] = {"handlers": ["default"], "level": "WARNING",
                                   "propagate": False}
    return config
