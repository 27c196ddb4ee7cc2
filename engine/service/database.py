"""What the service stores, with SQLAlchemy: issued cards, feedback, and token ids seen.

SQLite by default (a file), any SQLAlchemy URL by configuration; the schema is created at
start-up (``create_all``: three tables, no migrations yet). No patient data is stored: an
issued card keeps only the rule, pack and version that made it, so that feedback on the
card joins to the rule; feedback keeps what the client sent (outcome, suggestions, the
override reason and the clinician's comment).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Engine,
    Integer,
    String,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class Base(DeclarativeBase):
    pass


class IssuedCard(Base):
    """A card the service returned: its stable uuid and a rule behind it (a card that
    shows a pack's judgements has a row for each of them)."""

    __tablename__ = "issued_cards"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    pack: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    first_issued: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackRow(Base):
    """One feedback entry, with the rules of its card copied in (empty: a card not issued
    here)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(String(200), index=True)
    service: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON)
    override_code: Mapped[str | None] = mapped_column(String(200))
    override_system: Mapped[str | None] = mapped_column(String(500))
    override_display: Mapped[str | None] = mapped_column(Text)
    user_comment: Mapped[str | None] = mapped_column(Text)
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rules: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class SeenToken(Base):
    """A token id already used, kept until its token has expired (replays are refused)."""

    __tablename__ = "seen_tokens"

    iss: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(500), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


class CardOrigin(NamedTuple):
    uuid: str
    rule: str
    pack: str
    version: str


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the workers of one service read while one writes; NORMAL sync is durable
    # across a crash of the service (not of the machine), which is enough for these rows.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _Statement:
    """A statement compiled once by SQLAlchemy for the engine's dialect, run on a DBAPI
    cursor: its SQL text and its parameters in the dialect's own style."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._order = compiled.positiontup  # None: a named paramstyle

    def params(self, **values: Any) -> tuple[Any, ...] | dict[str, Any]:
        if self._order is None:
            return values
        return tuple(values[name] for name in self._order)


_SCHEMA_ATTEMPTS = 5


def _create_schema(engine: Engine) -> None:
    """The tables, created unless they exist. The workers of one service start together on
    one database: two of them can both find a table missing and both create it, and the
    second then fails ("already exists"). Trying again finds the tables the other made."""
    for attempt in range(1, _SCHEMA_ATTEMPTS + 1):
        try:
            Base.metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == _SCHEMA_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


class Store:
    """The database of one service process (safe to share between its threads)."""

    # Card uuids this process knows are stored: repeated views of one chart write nothing.
    _KNOWN_LIMIT = 100_000

    def __init__(self, url: str) -> None:
        sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(
            url, connect_args={"timeout": 30} if sqlite else {}, pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_schema(self.engine)
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._next_purge = 0.0
        # The token ids are written on every request: by a thread's own connection (taking
        # one from the pool and returning it, with its reset, cost a third of the INSERT),
        # with the statements SQLAlchemy compiled for this database once, on a DBAPI cursor
        # (SQLAlchemy's execution of a Core statement cost twice the INSERT itself).
        dialect = self.engine.dialect
        self._insert_token = _Statement(insert(SeenToken), dialect)
        self._purge_tokens = _Statement(
            delete(SeenToken).where(SeenToken.expires_at < bindparam("now")), dialect)
        self._integrity_error: type[Exception] = dialect.loaded_dbapi.IntegrityError
        self._database_error: type[Exception] = dialect.loaded_dbapi.Error
        self._token_connections = threading.local()
        self._held: list[PoolProxiedConnection] = []

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for connection in held:
            connection.close()
        self.engine.dispose()

    def _token_connection(self) -> PoolProxiedConnection:
        connection: PoolProxiedConnection | None = getattr(
            self._token_connections, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            self._token_connections.connection = connection
            with self._lock:
                self._held.append(connection)
        return connection

    def _drop(self, connection: PoolProxiedConnection) -> None:
        self._token_connections.connection = None
        with self._lock:
            if connection in self._held:
                self._held.remove(connection)
        connection.invalidate()  # not back to the pool: the next request opens another

    # --- tokens ------------------------------------------------------------------------

    def first_use(self, iss: str, jti: str, expires_at: int) -> bool:
        """Record a token id; False when it was seen before (a replay). Raises the database
        driver's error when the database cannot be written (the next call then uses a new
        connection)."""
        now = time.time()
        connection = self._token_connection()
        try:
            cursor = connection.cursor()
            try:
                if now >= self._next_purge:
                    self._next_purge = now + 60
                    cursor.execute(self._purge_tokens.sql,
                                   self._purge_tokens.params(now=int(now)))
                cursor.execute(self._insert_token.sql, self._insert_token.params(
                    iss=iss, jti=jti, expires_at=expires_at))
            finally:
                cursor.close()
            connection.commit()
        except self._integrity_error:
            connection.rollback()
            return False
        except self._database_error:
            # Whatever broke, the next request takes a new connection from the pool.
            self._drop(connection)
            raise
        return True

    # --- cards -------------------------------------------------------------------------

    def record_cards(self, service: str, cards: Iterable[CardOrigin]) -> None:
        """Remember which rules made each card (once per uuid and rule)."""
        with self._lock:
            new = [card for card in cards if (card.uuid, card.rule) not in self._known]
        if not new:
            return
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            stored = set(session.execute(select(IssuedCard.uuid, IssuedCard.rule).where(
                IssuedCard.uuid.in_({card.uuid for card in new}))).tuples())
            session.rollback()  # ends the read; each write below is its own transaction
            rows = [IssuedCard(uuid=card.uuid, rule=card.rule, service=service, pack=card.pack,
                               version=card.version, first_issued=now)
                    for card in new if (card.uuid, card.rule) not in stored]
            try:
                with session.begin():
                    session.add_all(rows)
            except IntegrityError:
                # Another worker stored some meanwhile (the same rows): one by one.
                for row in rows:
                    try:
                        with session.begin():
                            session.merge(row)
                    except IntegrityError:
                        pass
        with self._lock:
            for card in new:
                self._known[(card.uuid, card.rule)] = None
            while len(self._known) > self._KNOWN_LIMIT:
                self._known.popitem(last=False)

    # --- feedback ----------------------------------------------------------------------

    def add_feedback(self, service: str, rows: list[dict[str, Any]]) -> int:
        """Store feedback entries; returns how many referred to a card not issued here."""
        with Session(self.engine) as session, session.begin():
            origins: dict[str, list[dict[str, str]]] = {}
            for card in session.scalars(select(IssuedCard).where(
                    IssuedCard.uuid.in_({row["card_uuid"] for row in rows}))):
                origins.setdefault(card.uuid, []).append(
                    {"rule": card.rule, "pack": card.pack, "version": card.version})
            now = datetime.now(UTC)
            for row in rows:
                session.add(FeedbackRow(service=service, received_at=now, **row,
                                        rules=origins.get(row["card_uuid"], [])))
        return sum(row["card_uuid"] not in origins for row in rows)

    def feedback(self) -> list[FeedbackRow]:
        with Session(self.engine) as session:
            rows = list(session.scalars(select(FeedbackRow).order_by(FeedbackRow.id)))
            session.expunge_all()
        return rows
