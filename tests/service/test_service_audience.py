"""A token's ``aud`` is compared with the URL called, as Starlette makes it from the request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from jdm_cds.service import dependencies
from jdm_cds.service.dependencies import audience


def _request(host: bytes | None = b"cds.test:8000", path: str = "/cds-services/x",
             scheme: str = "http", server: Any = ("127.0.0.1", 8000),
             query: bytes = b"") -> Request:
    headers = [(b"content-type", b"application/json")]
    if host is not None:
        headers.append((b"host", host))
    return Request({"type": "http", "method": "POST", "scheme": scheme, "server": server,
                    "path": path, "root_path": "", "query_string": query,
                    "headers": headers})


def _service(public_url: str | None) -> Any:
    return SimpleNamespace(settings=SimpleNamespace(public_url=public_url))


def _starlette(request: Request, public_url: str | None) -> str:
    if public_url is not None:
        return public_url.rstrip("/") + request.url.path
    return str(request.url.replace(query="", fragment=""))


SCOPES = [
    {}, {"host": None}, {"host": b"cds.test"}, {"host": b"[::1]:8443", "scheme": "https"},
    {"host": b"cds.test:443", "scheme": "https"}, {"host": b"bad host:x"},
    {"host": None, "server": ("::1", 80)}, {"host": None, "server": ["10.0.0.1", 8080]},
    {"host": None, "server": None}, {"path": "/cds-services/a?b#c\\d"},
    {"path": "//cds-services"}, {"path": "/cds-services/x", "query": b"a=1"},
    {"path": "/cds-services/é"},
]


@pytest.mark.parametrize("public_url", [None, "https://cds.example.org/", "https://p.test/base"])
@pytest.mark.parametrize("scope", SCOPES)
def test_the_audience_is_the_url_starlette_makes(scope: dict[str, Any],
                                                 public_url: str | None) -> None:
    expected = _starlette(_request(**scope), public_url)
    assert audience(_request(**scope), _service(public_url)) == expected
    # again, once it is remembered
    assert audience(_request(**scope), _service(public_url)) == expected


def test_remembered_audiences_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dependencies, "_AUDIENCES", {})
    for n in range(dependencies._AUDIENCES_LIMIT + 10):
        host = f"h{n}.test".encode()
        assert audience(_request(host=host), _service(None)) == f"http://h{n}.test/cds-services/x"
    assert len(dependencies._AUDIENCES) <= dependencies._AUDIENCES_LIMIT
