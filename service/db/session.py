"""Engines and transactions for SQLite and PostgreSQL.

`Database.read()` and `Database.write()` each yield a Session inside one
transaction, committed at the end of the block; `read_connection()` and
`write_connection()` yield a bare Core Connection the same way, for the hot
paths that skip the ORM (service.store). On SQLite the database is in WAL mode (readers never
wait for the writer) and writes begin with
`BEGIN IMMEDIATE`, so that a write transaction holds the write lock from its
first statement: two claims can never read the same state and both act on
it. Within one server process, writes also take a lock, so that threads
queue fairly instead of spinning in SQLite's busy handler. On PostgreSQL
(psycopg 3) writes lock the rows they decide on (`SELECT ... FOR UPDATE`), or
are single statements that check what they depend on as they write, on
connections in autocommit mode (`autocommit_engine`, used by
service.store.postgres).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SUPPORTED = ("sqlite", "postgresql")


def unavailable(error: OperationalError) -> str:
    """The sentence of a 503 for a database that did not do what was asked, with the
    driver's first line of why ("database or disk is full", "connection refused")."""
    reason = str(error.orig or error).strip().splitlines()[0]
    return f"the database is unavailable: {reason}"


class DatabaseURLError(ValueError):
    """A database URL that cannot be used; the message says why."""


def check_url(url: str) -> str:
    """Return the backend name ("sqlite" or "postgresql") of a URL, or raise DatabaseURLError."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseURLError(f"database URL {url!r} is not a valid URL: {error}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise DatabaseURLError(
            f"database URL {url!r}: backend {backend!r} is not supported; "
            "use sqlite:///FILE or postgresql+psycopg://..."
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise DatabaseURLError(
            f"database URL {url!r}: SQLite needs a file (sqlite:///path/to/caviar.db)"
        )
    return backend


def _normalized(url: str) -> str:
    """PostgreSQL URLs always use psycopg 3, whatever driver they name."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=32, pool_timeout=60)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The server's database: one URL, a read and a write transaction factory."""

    def __init__(self, url: str) -> None:
        self.backend = check_url(url)
        self.url = _normalized(url)
        if self.backend == "sqlite":
            self.engine = _sqlite_engine(self.url, immediate=False)
            self.write_engine = _sqlite_engine(self.url, immediate=True)
            self._relaxed_engine = self.write_engine
            self.autocommit_engine: Engine | None = None
            self._write_lock: threading.Lock | None = threading.Lock()
        else:
            pool = {"pool_size": 10, "max_overflow": 30, "pool_timeout": 60,
                    "pool_recycle": 1800}
            self.engine = create_engine(self.url, **pool)
            self.write_engine = self.engine
            # Its own pool rather than a SET LOCAL in each transaction: one statement less.
            # Small: only reports and heartbeats use it, one at a time on the event loop.
            self._relaxed_engine = create_engine(
                self.url, connect_args={"options": "-c synchronous_commit=off"},
                **{**pool, "pool_size": 2, "max_overflow": 8})
            # Connections in autocommit mode for one-statement writes, used through the
            # driver (service.store.postgres): nothing to reset when one is given back.
            self.autocommit_engine = create_engine(
                self.url, connect_args={"options": "-c synchronous_commit=off"},
                isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                **{**pool, "pool_size": 2, "max_overflow": 8})
            self._write_lock = None
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL, where row locks (FOR UPDATE, SKIP LOCKED) exist."""
        return self.backend == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction."""
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with self._write_lock or nullcontext(), self._writer() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self, durable: bool = True) -> Iterator[Connection]:
        """A write transaction on a bare Connection (Core only, no ORM Session): the hot path.

        `durable=False` (per-epoch reports and heartbeats) lets PostgreSQL acknowledge
        the commit before its WAL reaches the disk (`synchronous_commit = off` on the
        connections these transactions use). The database stays consistent; a crash of
        the database machine can lose the last fraction of a second of such commits,
        never a claim, a result or anything committed before a durable commit, since
        WAL is flushed in order. SQLite in WAL mode with synchronous=NORMAL already
        behaves so.
        """
        engine = self.write_engine if durable else self._relaxed_engine
        with self._write_lock or nullcontext(), engine.begin() as connection:
            yield connection

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only transaction on a bare Connection (Core only, no ORM Session)."""
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        engines = {self.engine, self.write_engine, self._relaxed_engine, self.autocommit_engine}
        for engine in engines:
            if engine is not None:
                engine.dispose()

