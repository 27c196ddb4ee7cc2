"""The service's database when several workers start on it at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from jdm_cds.service.database import Store

WORKERS = 6
ROUNDS = 8


def _start_together(url: str) -> tuple[list[Store], list[BaseException]]:
    """``WORKERS`` stores opened at the same moment on ``url``, and what failed."""
    start = threading.Barrier(WORKERS)
    stores: list[Store] = []
    failures: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            stores.append(Store(url))
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stores, failures


def test_workers_starting_together_on_a_new_database_all_start(tmp_path: Path) -> None:
    """Each worker creates the schema if it is missing; two that find it missing at the same
    moment both create it, and neither may fail for it (a failed worker stops the service)."""
    for round_ in range(ROUNDS):
        stores, failures = _start_together(f"sqlite:///{tmp_path / f'db-{round_}.sqlite3'}")
        assert not failures, failures
        assert len(stores) == WORKERS
        assert {"issued_cards", "feedback", "seen_tokens"} <= set(
            inspect(stores[0].engine).get_table_names())
        assert stores[0].first_use("https://ehr.test", "jti-1", 2**31 - 1)
        assert not stores[-1].first_use("https://ehr.test", "jti-1", 2**31 - 1)
        for store in stores:
            store.close()


def test_a_token_id_is_refused_the_second_time_on_any_thread_and_after_a_broken_connection(
        tmp_path: Path) -> None:
    """Each thread writes token ids through a connection of its own, kept between requests;
    a replay is refused whichever thread (or worker) saw the id first, and a connection that
    broke is replaced by the next request."""
    store = Store(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    try:
        assert store.first_use("https://ehr.test", "a", 2**31 - 1)
        seen: list[bool] = []
        thread = threading.Thread(target=lambda: seen.append(
            store.first_use("https://ehr.test", "a", 2**31 - 1)))
        thread.start()
        thread.join()
        assert seen == [False]
        assert store.first_use("https://ehr.test", "b", 2**31 - 1)
        # The database drops this thread's connection (as a restarted server would).
        store._token_connection().connection.dbapi_connection.close()  # type: ignore[union-attr]
        with pytest.raises(DBAPIError):
            store.first_use("https://ehr.test", "c", 2**31 - 1)
        assert store.first_use("https://ehr.test", "c", 2**31 - 1)
        assert not store.first_use("https://ehr.test", "b", 2**31 - 1)
    finally:
        store.close()
