"""On PostgreSQL the statements psycopg prepared survive a ROLLBACK (directory/pg_connection.py),
so a search page's statement is planned once per connection, not at every request; a
ROLLBACK still discards what the transaction wrote, and a failed transaction still recovers."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from directory.db import configure_engine
from tests.conftest import missing, session_database_url

pytestmark = pytest.mark.postgres_only
SEARCH = sa.text("SELECT count(*) FROM pg_class WHERE relname >= :name")
PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%relname >=%%'"


def _engine(configured: bool):
    url = session_database_url()
    if not url:
        missing("PREAU_TEST_DATABASE_URL not set (PostgreSQL)")
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    if configured:
        configure_engine(engine)
    return engine


def _prepared_after_reads(engine) -> int:
    for _ in range(8):      # psycopg prepares a statement run 5 times on a connection
        with engine.connect() as connection:    # each ends with a ROLLBACK
            connection.execute(SEARCH, {"name": "pg_"}).scalar_one()
    with engine.connect() as connection:
        return connection.exec_driver_sql(PREPARED).scalar_one()


def test_the_statements_of_read_only_requests_stay_prepared():
    engine = _engine(configured=True)
    try:
        assert _prepared_after_reads(engine) == 1
    finally:
        engine.dispose()


def test_psycopg_alone_forgets_them_at_each_rollback():
    engine = _engine(configured=False)
    try:
        assert _prepared_after_reads(engine) == 0
    finally:
        engine.dispose()


def test_a_rollback_still_discards_what_the_transaction_wrote():
    engine = _engine(configured=True)
    table = f"prepared_probe_{id(engine)}"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE TABLE {table} (n integer)")
        for n in range(8):
            with engine.connect() as connection:
                connection.execute(SEARCH, {"name": "pg_"})
                connection.execute(sa.text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})
                if n % 2:
                    connection.rollback()     # else rolled back when it closes
        with engine.connect() as connection:
            assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one() == 0
            assert connection.exec_driver_sql(PREPARED).scalar_one() == 1
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()


def test_a_failed_transaction_is_rolled_back_and_the_connection_usable_again():
    engine = _engine(configured=True)
    try:
        _prepared_after_reads(engine)
        with engine.connect() as connection:
            with pytest.raises(sa.exc.DBAPIError):
                connection.exec_driver_sql("SELECT 1 / 0")
            connection.rollback()
            assert connection.execute(SEARCH, {"name": "pg_"}).scalar_one() > 0
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 2").scalar_one() == 2
    finally:
        engine.dispose()
