"""FastAPI dependencies: the process state and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from jdm_cds.service.auth import AuthError, Caller
from jdm_cds.service.models import CDSRequest, Feedback
from jdm_cds.service.state import State

DEV_CALLER = Caller(iss="development (no authentication)", jti="-", tenant=None)


# Async, so that FastAPI calls them on the event loop rather than hopping to a thread each.
async def state(request: Request) -> State:
    service: State = request.app.state.service
    return service


# The audiences made so far, by what they are made of: clients call the same few URLs again
# and again, and making one (Starlette's URL, parsed and written again) cost as much as a
# tenth of the token check. Bounded: a client sending many Host headers only misses.
_AUDIENCES: dict[tuple[Any, ...], str] = {}
_AUDIENCES_LIMIT = 1_000


def audience(request: Request, service: State) -> str:
    """The URL the client called, as a token's ``aud`` must name it."""
    scope = request.scope
    base = service.settings.public_url
    # Everything Starlette's URL of a request reads from its scope.
    server = scope.get("server")
    key = (base, scope.get("scheme"), None if server is None else tuple(server), scope["path"],
           scope.get("query_string"), next((value for name, value in scope["headers"]
                                            if name == b"host"), None))
    made = _AUDIENCES.get(key)
    if made is None:
        if base is not None:
            made = base.rstrip("/") + request.url.path
        else:
            made = str(request.url.replace(query="", fragment=""))
        if len(_AUDIENCES) >= _AUDIENCES_LIMIT:
            _AUDIENCES.clear()
        _AUDIENCES[key] = made
    return made


async def caller(request: Request, service: Annotated[State, Depends(state)]) -> Caller:
    """The verified caller. On the event loop: a signature check and one INSERT of its
    ``jti`` (a thread hop would cost about as much as the check itself)."""
    return _verified(request, service)


def _verified(request: Request, service: State) -> Caller:
    if service.settings.dev_no_auth:
        return DEV_CALLER
    try:
        return service.verifier.verify(request.headers.get("authorization"),
                                       audience(request, service))
    except AuthError as error:
        raise HTTPException(401, str(error), headers={"WWW-Authenticate": "Bearer"}) from None


ServiceState = Annotated[State, Depends(state)]
Authenticated = Annotated[Caller, Depends(caller)]


Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, model: type[Model]) -> Model:
    """The JSON body as ``model``; read only once the caller is authenticated (so that an
    unauthenticated request learns nothing about what the body should be)."""
    return parse_body(await request.body(), model)


def parse_body(raw: bytes, model: type[Model]) -> Model:
    """A JSON body as ``model``.

    Parsed by pydantic's JSON parser, then validated: the same parser and the same checks as
    ``model_validate_json``, which validates a prefetch's resources (``Any``) slower than it
    parses them."""
    try:
        data = from_json(raw)
    except ValueError as error:
        raise HTTPException(400, f"the request body is not JSON ({error})") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # The location and the rule only: the value sent may be patient data.
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                             for e in error.errors())
        raise HTTPException(400, f"the request does not follow CDS Hooks 2.0: {problems}"
                            ) from None


async def feedback_request(request: Request, _caller: Authenticated) -> Feedback:
    return await read_body(request, Feedback)


FeedbackRequest = Annotated[Feedback, Depends(feedback_request)]


@dataclass(frozen=True)
class HookCall:
    """What a hook call needs: the process state, the verified caller, the request."""

    service: State
    caller: Caller
    body: CDSRequest


async def hook_call(request: Request) -> AsyncIterator[HookCall]:
    """``state``, ``caller`` and the body as one dependency, in that order (the body is
    parsed only once the caller is authenticated), inside the call's turn (``turns.py``),
    which lasts until the endpoint returns. FastAPI solves a dependency's whole tree again
    wherever it appears, for every request: these three as an endpoint's parameters (the body
    depending on the caller, the caller on the state) were seven solves."""
    service = await state(request)
    # Received before the turn: a client slow to send its body holds up no one else.
    raw = await request.body()
    async with service.turns:
        who = _verified(request, service)
        yield HookCall(service, who, parse_body(raw, CDSRequest))


# Ended when the endpoint returns, before the response is sent: a slow reader of the
# answer holds up no one else either.
Hook = Annotated[HookCall, Depends(hook_call, scope="function")]
