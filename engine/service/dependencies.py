"""FastAPI dependencies: the process state and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError

from jdm_cds.service.auth import AuthError, Caller
from jdm_cds.service.models import CDSRequest, Feedback
from jdm_cds.service.state import State

DEV_CALLER = Caller(iss="development (no authentication)", jti="-", tenant=None)


# Async, so that FastAPI calls them on the event loop rather than hopping to a thread each.
async def state(request: Request) -> State:
    service: State = request.app.state.service
    return service


def audience(request: Request, service: State) -> str:
    """The URL the client called, as a token's ``aud`` must name it."""
    base = service.settings.public_url
    if base is not None:
        return base.rstrip("/") + request.url.path
    return str(request.url.replace(query="", fragment=""))


async def caller(request: Request, service: Annotated[State, Depends(state)]) -> Caller:
    """The verified caller. On the event loop: a signature check and one INSERT of its
    ``jti`` (a thread hop would cost about as much as the check itself)."""
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
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        # The location and the rule only: the value sent may be patient data.
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                             for e in error.errors())
        raise HTTPException(400, f"the request does not follow CDS Hooks 2.0: {problems}"
                            ) from None


async def hook_request(request: Request, _caller: Authenticated) -> CDSRequest:
    return await read_body(request, CDSRequest)


async def feedback_request(request: Request, _caller: Authenticated) -> Feedback:
    return await read_body(request, Feedback)


HookRequest = Annotated[CDSRequest, Depends(hook_request)]
FeedbackRequest = Annotated[Feedback, Depends(feedback_request)]
