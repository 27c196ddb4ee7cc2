"""The CDS Hooks 2.0 service: ``jdm_cds.service:app`` for any ASGI server.

``jdm-cds serve`` runs it with uvicorn. Layout: ``app.py`` (application, errors, body
limit), ``settings.py``, ``auth.py`` (client JWTs), ``data.py`` (prefetch or FHIR server),
``patients.py`` (FHIR to the patient model), ``orders.py`` (draft orders), ``cards.py``,
``database.py`` (feedback, issued cards, token ids), ``routers/`` (one per concern).
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    # Built on first use, not on import: its settings ($JDM_CDS_SERVICE_CONFIG) are read
    # then, after `jdm-cds serve` has set them, and importing a submodule builds nothing.
    if name == "app":
        from jdm_cds.service.app import create_app

        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
