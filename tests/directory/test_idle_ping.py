"""A pooled PostgreSQL connection that died while idle (the server restarted, an
administrator ended it) is replaced before use: `ping_when_idle` pings connections that sat
unused, and only those (no round trip before every request)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from directory.db import ping_when_idle
from tests.conftest import missing, session_database_url

pytestmark = pytest.mark.postgres_only


def _pooled_engine(idle_seconds: float):
    url = session_database_url()
    if not url:
        missing("PREAU_TEST_DATABASE_URL not set (PostgreSQL)")
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds)
    return engine, sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _end_the_pooled_connection(engine, admin) -> int:
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with admin.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    return pid


def test_an_idle_connection_ended_meanwhile_is_replaced_before_use():
    engine, admin = _pooled_engine(idle_seconds=0.0)
    try:
        ended = _end_the_pooled_connection(engine, admin)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != ended
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_in_use_is_not_pinged():
    """The other side of the saving: within `idle_seconds` the pool hands the connection back
    unchecked, so a connection ended in between fails the statement (as it would without any
    ping) — the ping above is what replaced it."""
    engine, admin = _pooled_engine(idle_seconds=3600.0)
    try:
        _end_the_pooled_connection(engine, admin)
        with engine.connect() as connection:
            try:
                connection.exec_driver_sql("SELECT 1")
            except sa.exc.DBAPIError as error:
                assert error.connection_invalidated
            else:
                raise AssertionError("the ended connection answered")
    finally:
        engine.dispose()
        admin.dispose()
