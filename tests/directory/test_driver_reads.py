"""Statements run on the driver's own cursor (directory/driver_reads.py) read what SQLAlchemy
reads, with the same conversions, are seen by the engine's listeners, and fail as SQLAlchemy's
errors do."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import bindparam, event, select

from directory.db import db
from directory.driver_reads import DriverRead, KeptStatement
from directory.enums import GroupKind, Profile
from directory.models import Account, Group, GroupMember
from directory.search import class_names, school_names
from directory.sets import among
from tests.conftest import missing, session_database_url


def _statement():
    """Every kind of value a search statement binds or reads: a typed name (bound at each
    run), a list of ids as one parameter, constant lists (an IN of enums, of ints), a limit,
    an enum, a boolean, a date and JSON lists."""
    joined = (select(GroupMember.joined_at).where(GroupMember.account_id == Account.id)
              .order_by(GroupMember.joined_at).limit(1).scalar_subquery())
    return (select(Account.id, Account.login, Account.profile, Account.suspended.label("off"),
                   joined.label("joined"), school_names().label("schools"),
                   class_names().label("classes"))
            .where(Account.search_name >= bindparam("name_from", type_=sa.String),
                   among(Account.id, "ids"),
                   Account.profile.in_([Profile.STUDENT, Profile.TEACHER]),
                   Account.id.in_(select(GroupMember.account_id).join(Group).where(
                       Group.kind.in_([GroupKind.CLASS, GroupKind.GROUP]))))
            .order_by(Account.id).limit(50))


def test_rows_are_those_sqlalchemy_reads(ctx):
    statement = _statement()
    connection = db.session.connection()
    all_ids = db.session.scalars(select(Account.id)).all()
    params = {"name_from": "b", "ids": all_ids}
    expected = [tuple(row) for row in connection.execute(statement, params)]
    read = DriverRead.compiled(statement, connection.dialect)
    found = read.rows(connection, params)
    assert expected and [tuple(row) for row in found] == expected
    first = found[0]
    assert isinstance(first.profile, Profile) and isinstance(first.off, bool)
    assert isinstance(first.schools, list) and first.joined is not None
    assert read.rows(connection, {"name_from": "zzz", "ids": all_ids}) == []
    assert read.scalars(connection, {"name_from": "b", "ids": all_ids[:3]}) == \
        [row[0] for row in expected if row[0] in all_ids[:3]]


def test_a_constant_list_of_ids_is_bound_as_its_type_binds_it(ctx):
    connection = db.session.connection()
    some = db.session.scalars(select(Account.id).order_by(Account.id).limit(40)).all()
    statement = _statement().params(ids=some)       # the list is now part of the statement
    expected = [tuple(row) for row in connection.execute(statement, {"name_from": "a"})]
    found = DriverRead.compiled(statement, connection.dialect).rows(connection,
                                                                    {"name_from": "a"})
    assert expected and [tuple(row) for row in found] == expected


def test_a_read_taken_from_sqlalchemys_run_reads_the_same_with_other_values(ctx):
    connection = db.session.connection()
    all_ids = db.session.scalars(select(Account.id)).all()
    statement = _statement()
    result = connection.execute(statement, {"name_from": "b", "ids": all_ids})
    result.all()
    read = DriverRead.of_execution(result, statement)
    if connection.dialect.name == "sqlite":     # parameters by position: left to SQLAlchemy
        assert read is None
        return
    for params in ({"name_from": "b", "ids": all_ids}, {"name_from": "m", "ids": all_ids[:60]}):
        expected = [tuple(row) for row in connection.execute(statement, params)]
        assert expected and [tuple(row) for row in read.rows(connection, params)] == expected


def test_a_kept_statement_runs_first_through_sqlalchemy_then_on_the_cursor(ctx):
    """KeptStatement: the same rows at every run, with other values; from the second run
    on PostgreSQL, without SQLAlchemy's execution (no ORM or Core execution event)."""
    connection = db.session.connection()
    all_ids = db.session.scalars(select(Account.id)).all()
    statement = _statement()
    kept = KeptStatement(statement)
    executions = []

    def record(*_args):
        executions.append(1)

    runs = ({"name_from": "b", "ids": all_ids}, {"name_from": "m", "ids": all_ids[:60]},
            {"name_from": "c", "ids": all_ids})
    event.listen(db.engine, "before_execute", record)
    try:
        for params in runs:
            expected = [tuple(row) for row in connection.execute(statement, params)]
            executions.clear()
            assert expected and [tuple(row) for row in kept.rows(connection, params)] == expected
            through_sqlalchemy = len(executions)
    finally:
        event.remove(db.engine, "before_execute", record)
    assert through_sqlalchemy == (1 if connection.dialect.name == "sqlite" else 0)


def test_the_engine_listeners_see_each_statement(ctx):
    connection = db.session.connection()
    read = DriverRead.compiled(
        select(Account.id).where(Account.id == bindparam("id", type_=sa.Integer)),
        connection.dialect)
    seen = []

    def record(_connection, _cursor, statement, parameters, *_):
        seen.append((statement, parameters))

    for moment in ("before_cursor_execute", "after_cursor_execute"):
        event.listen(db.engine, moment, record)
    try:
        read.scalars(connection, {"id": 1})
    finally:
        for moment in ("before_cursor_execute", "after_cursor_execute"):
            event.remove(db.engine, moment, record)
    assert [statement for statement, _ in seen] == [read.sql, read.sql]


def test_a_driver_error_is_sqlalchemys_and_names_the_statement(ctx):
    connection = db.session.connection()
    missing_table = sa.table("no_such_table", sa.column("id"))
    read = DriverRead.compiled(select(missing_table.c.id), connection.dialect)
    with db.session.begin_nested():
        with pytest.raises(sa.exc.DBAPIError) as raised:
            read.rows(connection, {})
    assert "no_such_table" in str(raised.value) and not raised.value.connection_invalidated


def test_a_list_bound_at_each_run_is_refused(ctx):
    statement = select(Account.id).where(Account.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="among"):
        DriverRead.compiled(statement, db.session.connection().dialect)


@pytest.mark.postgres_only
def test_a_connection_found_dead_is_invalidated():
    url = session_database_url()
    if not url:
        missing("PREAU_TEST_DATABASE_URL not set (PostgreSQL)")
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    read = DriverRead.compiled(select(sa.literal(1).label("one")), engine.dialect)
    try:
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            with pytest.raises(sa.exc.DBAPIError) as raised:
                read.rows(connection, {})
            assert raised.value.connection_invalidated and connection.invalidated
        with engine.connect() as connection:       # the pool opened a new one
            assert read.scalars(connection, {}) == [1]
    finally:
        engine.dispose()
        admin.dispose()
