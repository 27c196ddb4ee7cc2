"""The ASGI application: routers, the body-size limit, JSON errors, start-up checks.

``jdm_cds.service:app`` is built without reading anything; its lifespan reads the settings
(``$JDM_CDS_SERVICE_CONFIG``), opens the database and compiles the rule packs, so that any
ASGI server (uvicorn with several workers, hypercorn, ...) can import it.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jdm_cds.service.auth import HOW_TO_CONFIGURE
from jdm_cds.service.models import ErrorBody
from jdm_cds.service.routers import discovery, feedback, hooks, try_page
from jdm_cds.service.settings import Settings, load_settings
from jdm_cds.service.state import State

log = logging.getLogger("jdm_cds.service")

DEV_MODE_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!!  DEVELOPMENT MODE: requests are NOT authenticated (--dev-no-auth).\n"
    "!!  Anyone who can reach this port can read decision support about patients.\n"
    "!!  Bound to localhost only. Never use this mode with real patient data.\n"
    + "!" * 78)


def error(status: int, code: str, message: str,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=code, message=message).to_json(), status_code=status,
                        headers=headers)


_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found",
          405: "method_not_allowed", 412: "precondition_failed", 413: "payload_too_large",
          415: "unsupported_media_type", 500: "internal_error"}


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, before the app reads it all.

    A declared Content-Length over the limit is refused at once; a body sent in chunks is
    counted as it arrives.
    """

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = dict(scope["headers"]).get(b"content-length")

        def too_large() -> JSONResponse:
            return error(413, "payload_too_large",
                         f"the request body is larger than {limit} bytes")

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large()(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await too_large()(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None) -> FastAPI:
    holder: dict[str, State] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = settings if settings is not None else load_settings()
        state = State.build(chosen)
        holder["state"] = state
        app.state.service = state
        # What start-up built (the compiled rule base, the models, the modules) lives as long
        # as the process: kept out of the collector's full passes, each of which would
        # otherwise walk it all again and stall every request of the worker (50 to 130 ms).
        gc.freeze()
        if chosen.dev_no_auth:
            log.warning(DEV_MODE_BANNER)
        elif not chosen.issuers:
            log.warning(HOW_TO_CONFIGURE)
        else:
            log.info("trusted issuers: %s", ", ".join(i.iss for i in chosen.issuers))
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="jdm-cds CDS Hooks service", version="2.0.1", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(discovery.router)
    app.include_router(hooks.router)
    app.include_router(feedback.router)
    app.include_router(try_page.router)

    def limit() -> int:
        state = holder.get("state")
        return (state.settings if state else Settings.model_validate({})).max_body_bytes

    app.add_middleware(BodyLimit, limit=limit)
    cors = (settings or load_settings()).cors_origins
    if cors:
        # Browsers (the CDS Hooks sandbox) call the service from another origin.
        app.add_middleware(CORSMiddleware, allow_origins=list(cors),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) and exc.detail else code
        return error(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The location and the rule only: the value sent may be patient data.
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                             for e in exc.errors())
        return error(400, "bad_request", f"the request does not follow CDS Hooks 2.0: "
                     f"{problems}")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        log.debug("internal error", exc_info=exc)
        return error(500, "internal_error", "the service failed; nothing was decided")

    return app
