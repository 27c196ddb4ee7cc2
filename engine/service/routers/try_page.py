"""``GET /try``: a small page that calls patient-view with a pasted FHIR Bundle.

A static page (no patient data in it; what is pasted stays in the browser and goes only
to this service). It sends no token unless one is pasted, so it works with a service run
with ``--dev-no-auth`` (development only) or with a token made by hand.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()
PAGE = resources.files("jdm_cds.service").joinpath("try.html").read_text(encoding="utf-8")


@router.get("/try", response_class=HTMLResponse)
def try_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy":
                                       "default-src 'self'; script-src 'unsafe-inline'; "
                                       "style-src 'unsafe-inline'"})
