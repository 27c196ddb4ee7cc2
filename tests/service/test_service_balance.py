"""A worker holding more than its share of the connections closes one at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jdm_cds.service import balance
from jdm_cds.service.balance import Rebalance, Share


def _share(held: int, others: int) -> tuple[Share, set[int]]:
    connections = set(range(held))
    return Share([0, others], 0, connections), connections


def test_a_worker_over_its_share_closes_one_connection_then_waits_for_it() -> None:
    share, held = _share(held=4, others=1)  # share: ceil(5 / 2) = 3
    assert share.over()
    assert share.counts == [4, 1]
    assert not share.over()  # the chosen connection is still open
    held.discard(3)  # it closed: 3 against 1 is still over ceil(4 / 2), so the next goes
    assert share.over()


def test_a_worker_within_its_share_closes_nothing() -> None:
    share, _ = _share(held=3, others=2)  # ceil(5 / 2) = 3
    assert not share.over()
    share, _ = _share(held=2, others=2)
    assert not share.over()


def test_the_next_is_chosen_a_moment_after_the_answer_when_the_count_did_not_drop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(balance.time, "monotonic", lambda: now[0])
    share, _ = _share(held=4, others=1)
    assert share.over()
    now[0] += 10
    assert not share.over()  # its answer is not sent yet: wait, however long it takes
    share.answered()
    assert not share.over()  # the replacement landed here again: the count is the same
    now[0] += balance.CLOSE_WAIT_SECONDS
    assert share.over()


def test_a_retired_worker_neither_closes_nor_writes_its_slot() -> None:
    share, _ = _share(held=5, others=0)
    share.retire()
    assert not share.over()
    assert share.counts == [0, 0]


def _call(share: Share, headers: list[tuple[bytes, bytes]], kind: str = "http"
          ) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(Rebalance(app, share)({"type": kind}, receive, send))
    return sent


def test_the_chosen_answer_says_connection_close_once() -> None:
    share, _ = _share(held=4, others=1)
    sent = _call(share, [(b"content-type", b"application/json"), (b"Connection", b"keep-alive")])
    assert sent[0]["headers"] == [(b"content-type", b"application/json"),
                                  (b"connection", b"close")]
    assert sent[1] == {"type": "http.response.body", "body": b"{}"}
    assert share.closing is not None and share.closing[1] < float("inf")  # answered


def test_answers_within_the_share_are_left_as_they_are() -> None:
    share, _ = _share(held=2, others=2)
    headers = [(b"content-type", b"application/json")]
    assert _call(share, headers)[0]["headers"] == headers
    share, _ = _share(held=4, others=1)
    assert _call(share, headers, kind="lifespan")[0]["headers"] == headers
    assert share.closing is None
