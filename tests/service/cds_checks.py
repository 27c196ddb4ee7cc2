"""Every response of the service tests is checked against the CDS Hooks models."""

from __future__ import annotations

from typing import Any

import httpx

from jdm_cds.service.models import CDSResponse, Discovery, ErrorBody


def no_nulls(value: Any, where: str = "$") -> None:
    """The spec forbids null and empty values anywhere in a response."""
    assert value is not None, f"null at {where}"
    assert value != "", f"empty string at {where}"
    if isinstance(value, dict):
        assert value, f"empty object at {where}"
        for key, item in value.items():
            no_nulls(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_nulls(item, f"{where}[{index}]")


def cards(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    CDSResponse.model_validate(body)
    no_nulls({k: v for k, v in body.items() if k != "cards"} or {"cards": "-"})
    for card in body["cards"]:
        no_nulls(card)
    found: list[dict[str, Any]] = body["cards"]
    return found


def discovery(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    Discovery.model_validate(body)
    no_nulls(body)
    return body


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = ErrorBody.model_validate(response.json())
    return body.message
