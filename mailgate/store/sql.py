"""SQL helpers of the store: Core statements in the session's transaction (SQLite's write lock
is `directory.db.write_lock`, the portable INSERT … ON CONFLICT DO NOTHING
`directory.db.insert_ignoring_duplicates`)."""
from __future__ import annotations

from collections.abc import Sequence

from directory.db import db


def core(statement, rows: Sequence[dict] | dict | None = None):
    """Run a Core statement on the session's connection, in its transaction, after a flush
    (`rows`: its parameters, or a list of them for executemany).
    Skips the ORM's per-statement machinery (about 0.4 ms a statement), which the gateway's
    group commit would otherwise pay several times per batch."""
    db.session.flush()
    connection = db.session.connection()
    return connection.execute(statement) if rows is None else connection.execute(statement, rows)
