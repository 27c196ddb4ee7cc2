"""The CDS Hooks 2.0 service: ``jdm_cds.service:app`` for any ASGI server.

``jdm-cds serve`` runs it with uvicorn. Layout: ``app.py`` (application, errors, body
limit), ``settings.py``, ``auth.py`` (client JWTs), ``data.py`` (prefetch or FHIR server),
``patients.py`` (FHIR to the patient model), ``orders.py`` (draft orders), ``cards.py``,
``database.py`` (feedback, issued cards, token ids), ``routers/`` (one per concern).
"""

from jdm_cds.service.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
