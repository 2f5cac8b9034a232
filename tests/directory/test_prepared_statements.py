"""Read-only transactions end with COMMIT on PostgreSQL (`keep_prepared_statements`), so the
statements psycopg prepared survive from one request to the next; anything that wrote is
still rolled back."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from directory.db import configure_engine
from tests.conftest import missing, session_database_url

pytestmark = pytest.mark.postgres_only
SEARCH = sa.text("SELECT count(*) FROM pg_class WHERE relname >= :name")
PREPARED = "SELECT count(*) FROM pg_prepared_statements"


def _engine(configured: bool):
    url = session_database_url()
    if not url:
        missing("PREAU_TEST_DATABASE_URL not set (PostgreSQL)")
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    if configured:
        configure_engine(engine)
    return engine


def _prepared_after_reads(engine) -> int:
    for _ in range(8):      # psycopg prepares a statement run more than 5 times
        with engine.connect() as connection:    # each leaves with a ROLLBACK
            connection.execute(SEARCH, {"name": "pg_"}).scalar_one()
    with engine.connect() as connection:
        return connection.exec_driver_sql(PREPARED).scalar_one()


def test_statements_of_read_only_transactions_stay_prepared():
    engine = _engine(configured=True)
    try:
        assert _prepared_after_reads(engine) >= 1
    finally:
        engine.dispose()


def test_without_it_psycopg_forgets_them_at_each_rollback():
    engine = _engine(configured=False)
    try:
        assert _prepared_after_reads(engine) == 0
    finally:
        engine.dispose()


def test_a_transaction_that_wrote_is_still_rolled_back():
    engine = _engine(configured=True)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS prepared_probe (n integer)")
            connection.exec_driver_sql("DELETE FROM prepared_probe")
        with engine.connect() as connection:
            connection.execute(SEARCH, {"name": "pg_"})
            connection.exec_driver_sql("INSERT INTO prepared_probe VALUES (1)")
            connection.rollback()
        with engine.connect() as connection:
            connection.execute(SEARCH, {"name": "pg_"})
            connection.execute(sa.text("INSERT INTO prepared_probe VALUES (:n)"), {"n": 2})
            connection.execute(SEARCH, {"name": "pg_"})
        with engine.connect() as connection:
            assert connection.exec_driver_sql(
                "SELECT count(*) FROM prepared_probe").scalar_one() == 0
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS prepared_probe")
        engine.dispose()


def test_a_failed_read_is_rolled_back_and_the_connection_usable():
    engine = _engine(configured=True)
    try:
        with engine.connect() as connection:
            with pytest.raises(sa.exc.DBAPIError):
                connection.exec_driver_sql("SELECT 1 / 0")
            connection.rollback()
            assert connection.exec_driver_sql("SELECT 2").scalar_one() == 2
    finally:
        engine.dispose()
