"""Pages that only read, run outside any transaction on PostgreSQL until they write.

A directory search is two SELECTs (the signed-in account, then the page). In a transaction
that is four round trips to the server: BEGIN, the two statements, ROLLBACK. Each waits for the
server to be scheduled; under load, sending and waiting were 19–31 % of a search worker's
samples (py-spy). PostgreSQL's default isolation (READ COMMITTED) gives every statement a
snapshot of its own anyway, so plain SELECTs outside a transaction read exactly what they
would read inside one.
A second, smaller gain: psycopg prepares a statement a connection has run five times, but
forgets all it prepared at every ROLLBACK, and a request that only read ended with one. With no
transaction there is no ROLLBACK, so the search statement stays prepared: parsed once. It is
still planned at each request (about 0.6 ms on 473,764 accounts): PostgreSQL keeps choosing a
plan for the given prefix (pg_prepared_statements: 0 generic plans, 65 custom), and rightly, as
the generic plan is 3× faster for a rare prefix but 4–10× slower for a common one ("a").

A view marked `@reads_only` therefore gets, on PostgreSQL, a connection in autocommit mode.
The first statement that is not a plain SELECT (a write, SELECT … FOR UPDATE, an advisory
lock) turns autocommit off before it runs: from there on the request is in an ordinary
transaction, committed or rolled back as any other. Elsewhere (SQLite, or the test harness's
session bound to one connection) nothing changes. Statements sent through the driver itself
(psycopg's executemany in mailgate/store/messages.py) are not seen here: a view that uses them
is not one to mark.

Every other page runs in a transaction, and most of them only read. On PostgreSQL such a
transaction ends with COMMIT rather than ROLLBACK (`_commit_what_only_read`): the two are the
same for a transaction of plain SELECTs, but a ROLLBACK would make psycopg forget the
statements it prepared, the signed-in account's read among them, and plan them again at the
next request. A transaction that ran anything else (a write, a locking read), a request that
failed, or one that is not a GET or HEAD, ends as before. This rests on two facts, to keep
true: a SELECT that `_plain_select` accepts changes nothing a COMMIT would keep (the functions
that do, such as pg_notify or set_config, and SELECT … INTO, are refused by name); and what
is run on the driver's own cursor without SQLAlchemy's cursor events (the executemany of
mailgate/store/messages.py) is never alone in its transaction (a message saved has its
mailbox rows written through SQLAlchemy) and is reached from POST requests only.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import psycopg
from flask import current_app, request
from flask_sqlalchemy.session import Session as FlaskSession
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError

from directory.db import db

READS_ONLY = "preau_reads_only"
WROTE = "preau_wrote"       # in a connection's info: its transaction ran more than SELECTs
CONNECTION = "preau_connection"     # in a session's info: its transaction's connection
READING_METHODS = frozenset({"GET", "HEAD"})
_LOCKS_OR_WRITES = re.compile(
    r"\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b"
    r"|\b(?:pg_advisory|nextval|setval|pg_notify|set_config|lo_)\w*\s*\(|\bINTO\b",
    re.IGNORECASE)


def reads_only(view: Callable) -> Callable:
    """Mark a view whose GET requests only read (see the module's docstring)."""
    view.preau_reads_only = True
    return view


def install(app) -> None:
    """Before any other hook reads the database (the signed-in account is read by the
    first one that asks for `current_user`)."""
    app.before_request(_outside_transactions)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        event.listen(engine, "begin", _transaction_began)
        event.listen(engine, "before_cursor_execute", _transaction_before_writing)
        if not event.contains(FlaskSession, "after_begin", _session_connected):    # once
            event.listen(FlaskSession, "after_begin", _session_connected)
        app.teardown_request(_commit_what_only_read)    # before the session's own teardown


def _outside_transactions() -> None:
    if request.method != "GET" or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "preau_reads_only", False):
        return
    bind = db.session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" \
            and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT",
                                                 READS_ONLY: True})


def _transaction_began(connection) -> None:
    connection.info[WROTE] = False


def _transaction_before_writing(connection, _cursor, statement, _parameters, _context,
                                _executemany) -> None:
    if _plain_select(statement):
        return
    connection.info[WROTE] = True
    if connection.get_execution_options().get(READS_ONLY):
        raw = connection.connection.dbapi_connection
        if raw.autocommit:
            raw.autocommit = False


def _session_connected(session, _transaction, connection) -> None:
    session.info[CONNECTION] = connection


def _commit_what_only_read(error: BaseException | None) -> None:
    """End with COMMIT a request's transaction that ran only plain SELECTs (see the module's
    docstring), on the driver: the session's own end then finds no transaction to roll back
    (psycopg sends nothing then). The response is made: whatever goes wrong here (a
    connection lost, a transaction the request left failed) is left to the session's end,
    which rolls back or drops the connection as it always did."""
    session = db.session()
    connection = session.info.pop(CONNECTION, None)     # none: no SQL in this transaction
    if error is not None or request.method not in READING_METHODS or connection is None \
            or not session.in_transaction():
        return
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return
    try:
        if connection.closed or connection.invalidated or connection.info.get(WROTE, True):
            return
        raw = connection.connection.dbapi_connection
        if raw is not None and raw.info.transaction_status == TransactionStatus.INTRANS:
            raw.commit()
    except (SQLAlchemyError, psycopg.Error):
        return


@lru_cache(maxsize=1024)
def _plain_select(statement: str) -> bool:
    """Whether the statement only reads, without locking (kept per statement: SQLAlchemy
    hands the same few texts again and again)."""
    return statement.lstrip()[:6].upper() == "SELECT" \
        and _LOCKS_OR_WRITES.search(statement) is None
