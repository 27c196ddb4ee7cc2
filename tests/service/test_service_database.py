"""The service's database when several workers start on it at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect

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
        store._token_connection().dbapi_connection.close()  # type: ignore[union-attr]
        with pytest.raises(store.engine.dialect.loaded_dbapi.Error):
            store.first_use("https://ehr.test", "c", 2**31 - 1)
        assert store.first_use("https://ehr.test", "c", 2**31 - 1)
        assert not store.first_use("https://ehr.test", "b", 2**31 - 1)
    finally:
        store.close()


def test_token_statements_follow_the_paramstyle_of_the_database() -> None:
    """The token id statements are compiled by SQLAlchemy for the database's dialect: the
    parameters go in the order (qmark) or by the names (pyformat) that its driver takes."""
    from sqlalchemy import insert
    from sqlalchemy.dialects import postgresql, sqlite

    from jdm_cds.service.database import SeenToken, _Statement

    qmark = _Statement(insert(SeenToken), sqlite.dialect())
    assert qmark.sql == "INSERT INTO seen_tokens (iss, jti, expires_at) VALUES (?, ?, ?)"
    assert qmark.params(jti="j", expires_at=3, iss="i") == ("i", "j", 3)
    named = _Statement(insert(SeenToken), postgresql.psycopg.dialect())
    assert "%(iss)s" in named.sql and "%(expires_at)s" in named.sql
    assert named.params(jti="j", expires_at=3, iss="i") == {"iss": "i", "jti": "j",
                                                            "expires_at": 3}


def test_expired_token_ids_are_purged_and_live_ones_kept(tmp_path: Path) -> None:
    from sqlalchemy import select

    from jdm_cds.service.database import SeenToken

    store = Store(f"sqlite:///{tmp_path / 'service.sqlite3'}")
    try:
        assert store.first_use("https://ehr.test", "old", 1)  # expired long ago
        assert store.first_use("https://ehr.test", "live", 2**31 - 1)
        store._next_purge = 0.0  # the next call purges
        assert store.first_use("https://ehr.test", "new", 2**31 - 1)
        with store.engine.connect() as connection:
            left = set(connection.scalars(select(SeenToken.jti)))
        assert left == {"live", "new"}
        assert not store.first_use("https://ehr.test", "live", 2**31 - 1)
    finally:
        store.close()
