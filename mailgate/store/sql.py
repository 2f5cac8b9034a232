"""SQL helpers of the store: portable INSERT … ON CONFLICT DO NOTHING, Core statements in the
session's transaction (SQLite's write lock is `directory.db.write_lock`)."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects import postgresql, sqlite

from directory.db import db, dialect_name


def insert_ignoring_duplicates(model):
    """INSERT … ON CONFLICT DO NOTHING on both databases."""
    dialect = sqlite if dialect_name() == "sqlite" else postgresql
    return dialect.insert(model).on_conflict_do_nothing()


def core(statement, rows: Sequence[dict] | dict | None = None):
    """Run a Core statement on the session's connection, in its transaction, after a flush
    (`rows`: its parameters, or a list of them for executemany).
    Skips the ORM's per-statement machinery (about 0.4 ms a statement), which the gateway's
    group commit would otherwise pay several times per batch."""
    db.session.flush()
    connection = db.session.connection()
    return connection.execute(statement) if rows is None else connection.execute(statement, rows)
