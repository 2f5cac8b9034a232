"""The one SQLAlchemy handle shared by every package (directory is the lowest layer), and how
writers take turns on SQLite.

SQLite has one writer at a time. In WAL mode a transaction that has read and then wants to
write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) when another connection
committed in between: waiting cannot help, since its snapshot is stale. So a transaction
that will write takes the write lock as its first statement (`write_lock`, what BEGIN
IMMEDIATE does) and then waits its turn for up to the busy timeout; the portal runs a request
that still hits the error once more from the start, as a writer from its first statement
(`writing_from_the_start`, portal/retry.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Enum, MetaData, column, event, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase

T = TypeVar("T")
SQLITE_BUSY, SQLITE_LOCKED = 5, 6
PG_DEADLOCK = "40P01"
PING_AFTER_IDLE = 5.0   # seconds: a connection unused that long is pinged before use
_IMMEDIATE: ContextVar[bool] = ContextVar("preau_sqlite_immediate", default=False)
_ACCOUNT = table("account", column("id"))     # directory.models.Account imports this module

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def text_enum(cls, name: str, *, length: int) -> Enum:
    """A Python enum stored as its values in a VARCHAR(length), never a native ENUM type: the
    same schema on SQLite and PostgreSQL, and a new member needs no ALTER TYPE."""
    return Enum(cls, name=name, native_enum=False, length=length,
                values_callable=lambda e: [m.value for m in e])


def configure_engine(engine) -> None:
    """Connections idle for a while checked before use (`ping_when_idle`). SQLite only:
    foreign keys on, WAL so readers never wait for the writer, a busy timeout instead of
    'database is locked', and transactions begun by SQLAlchemy rather than by the sqlite3
    module (which otherwise breaks SAVEPOINTs)."""
    ping_when_idle(engine)
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _IMMEDIATE.get() else "BEGIN")


def ping_when_idle(engine, idle_seconds: float = PING_AFTER_IDLE) -> None:
    """A connection back from the pool is pinged (one round trip) only if it sat unused for
    `idle_seconds`: a database restarted meanwhile is then noticed before the request uses
    it, as `pool_pre_ping` would, without a round trip before every request of a busy
    process (a search page runs two statements; a ping was one more). A dead one is
    replaced (DisconnectionError makes the pool open a new connection)."""

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection, record):
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record):
        record.info["last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("last_used", 0.0) < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(str(error)) from error
        if not alive:
            raise DisconnectionError("the connection did not answer its ping")


@contextmanager
def writing_from_the_start() -> Iterator[None]:
    """Within the block, every SQLite transaction takes the write lock when it begins (BEGIN
    IMMEDIATE): it waits for the other writers first and can then never be refused."""
    token = _IMMEDIATE.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(token)


def dialect_name() -> str:
    """The session's database, "postgresql" or "sqlite" (also the key of statements built
    once per database)."""
    return db.session.get_bind().dialect.name


def insert_ignoring_duplicates(model):
    """INSERT … ON CONFLICT DO NOTHING into `model`'s table, in the session's database's
    dialect: a row whose key a unique constraint already holds is skipped instead of failing
    the whole statement. That key may have been written a moment ago by another request (a
    form sent twice by a double click): PostgreSQL waits for that transaction, and skips the
    row if it commits. The statement's rowcount (kept, `preserve_rowcount`) is the number of
    rows really written; RETURNING gives them. An INSERT … SELECT needs a WHERE (`WHERE
    true` will do): SQLite's parser would otherwise read ON CONFLICT as a join's ON."""
    dialect = sqlite if dialect_name() == "sqlite" else postgresql
    return dialect.insert(model).on_conflict_do_nothing().execution_options(
        preserve_rowcount=True)


def write_lock() -> None:
    """On SQLite, make the current transaction the writer now (a no-op on PostgreSQL). Call it
    before the transaction's first read, or after committing what was read."""
    if dialect_name() == "sqlite":
        db.session.flush()
        db.session.connection().exec_driver_sql("UPDATE account SET id = id WHERE 0")


def lock_account(account_id: int) -> None:
    """Until the transaction ends, hold back the other callers that lock this account's row:
    work that counts or changes what is the account's alone (its pending uploads, its
    signatures) then runs one caller after the other. On SQLite the writer's lock does it
    (`write_lock`, so call this before the transaction's first read). On PostgreSQL the row
    is locked FOR NO KEY UPDATE, not FOR UPDATE: the FOR KEY SHARE that every INSERT of a
    row pointing at the account takes (a message delivered to her, a forward queued for
    her) does not wait for it, so a teacher's upload being written holds back no mail."""
    write_lock()
    db.session.execute(select(_ACCOUNT.c.id).where(_ACCOUNT.c.id == account_id)
                       .with_for_update(key_share=True))


def write_transaction(work: Callable[[], T]) -> T:
    """Run `work()` and commit, in a transaction that holds the write lock from its first
    statement on SQLite: what has been read so far is committed first (the caller has written
    nothing yet). On error the transaction is rolled back and the error raised."""
    db.session.commit()
    try:
        write_lock()
        result = work()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def has_lz4(connection) -> bool:
    """Whether the database is a PostgreSQL built with lz4 (it lists it among its TOAST
    compressions): the migrations that compress columns with it, and their test, ask."""
    return connection.dialect.name == "postgresql" and bool(connection.scalar(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'")))


def is_deadlock(error: BaseException) -> bool:
    """PostgreSQL aborted the transaction (or the savepoint) to break a deadlock (SQLSTATE
    40P01): nothing of it was kept, and the same work run again waits its turn instead."""
    return isinstance(error, OperationalError) and \
        getattr(error.orig, "sqlstate", None) == PG_DEADLOCK


def is_lock_conflict(error: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked", in any of their forms."""
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return "database is locked" in str(error.orig)
