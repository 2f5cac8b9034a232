"""Counting the SQL statements a request issues (SQLAlchemy's before_cursor_execute), for the
tests that hold every page to a bounded number of queries."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from directory.db import db

# The savepoints of the tests' own transaction (tests/conftest.py), which production has not.
FIXTURE_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def counting(app, *, with_values: bool = False):
    """Collects the text of every statement run on the app's engine inside the block; with
    `with_values`, (text, its parameter values) pairs."""
    statements: list = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if statement.startswith(FIXTURE_STATEMENTS):
            return
        if with_values:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            statements.append((statement, list(values or ())))
        else:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def queries_of(app, client, url: str) -> int:
    """Statements of one GET of `url`, asked twice: the first warms what a page remembers
    (last access, caches), the second is counted."""
    assert client.get(url).status_code == 200, url
    with counting(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)
