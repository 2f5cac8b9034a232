"""Two imports into one school at the same time, on a database whose commits both see: the
second one's batch was planned before the first one took the login it planned, so its write
breaks the unique login; the batch is planned and written again, and both people get an
account, each with a login of their own."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from directory.account_file import read_account_file
from directory.account_import import apply_import
from directory.accounts import school_by_uai
from directory.db import db
from directory.models import Account, AccountSchool

from .account_files import excel_fr, utf8_bom_moodle


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    """A database of its own (the name steps the rollback fixture aside)."""
    from tests.conftest import fresh_database

    return fresh_database(tmp_path_factory, "imports")


@pytest.fixture(scope="module")
def live_app(live_database, tmp_path_factory):
    from tests.conftest import live_demo_app

    return live_demo_app(tmp_path_factory, live_database, "imports", users=50)


def one_pupil(last: str, first: str):
    return read_account_file(excel_fr([[last, first, "Élève", "", "", ""]]))


def test_a_login_taken_meanwhile_is_planned_again(live_app):
    app = live_app
    first_import = threading.current_thread()
    interrupted = []

    def other_import() -> None:
        with app.app_context():
            try:
                assert apply_import(school_by_uai("0310024H"),
                                    one_pupil("Blondel", "Vincent")) == (1, 0)
            finally:
                db.session.remove()

    def before_first_write(_conn, _cursor, statement, *_args) -> None:
        """The other import runs, whole, between this one's plan and its first write."""
        if threading.current_thread() is first_import and not interrupted \
                and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            interrupted.append(statement)
            other = threading.Thread(target=other_import)
            other.start()
            other.join(60)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", before_first_write)
        try:
            assert apply_import(school_by_uai("0310024H"), one_pupil("Blondel", "Victor")) \
                == (1, 0)
        finally:
            event.remove(engine, "before_cursor_execute", before_first_write)
        assert interrupted
        school = school_by_uai("0310024H")
        accounts = db.session.execute(
            select(Account.first_name, Account.login)
            .join(AccountSchool, AccountSchool.account_id == Account.id)
            .where(AccountSchool.school_id == school.id, Account.last_name == "Blondel")
            .order_by(Account.login)).all()
        assert accounts == [("Vincent", "0310024h.v.blondel"),
                            ("Victor", "0310024h.v.blondel2")]


@pytest.mark.postgres_only
def test_a_batch_aborted_to_break_a_deadlock_is_written_again(live_app):
    """Another transaction holds a row the batch updates and waits for a row the batch has
    inserted (the same login): PostgreSQL aborts the batch to break the deadlock, and the
    batch is planned and written again once the other has ended — nothing lost, no error."""
    app = live_app
    school = "0310024H"
    with app.app_context():
        apply_import(school_by_uai(school), read_account_file(
            utf8_bom_moodle([["Lebrun", "Marc", "teacher", "", "", "DL-1", ""]])))
        marc = db.session.scalar(select(Account.id).where(Account.external_id == "DL-1"))
        db.session.remove()
    batch = read_account_file(utf8_bom_moodle([
        ["Lebrun-Roy", "Marc", "teacher", "", "", "DL-1", ""],      # an update of Marc
        ["Sorel", "Inès", "student", "", "", "DL-2", ""]]))          # a new account
    batch_thread = threading.current_thread()
    holding, other_ended, updates, other_errors = threading.Event(), threading.Event(), [], []

    def other_transaction() -> None:
        """Holds Marc's row, then inserts Inès's login: it waits for the batch, which waits
        for it. Its deadlock check comes late, so the batch is the one aborted."""
        try:
            with app.app_context(), db.engine.connect() as connection:
                connection.exec_driver_sql("SET deadlock_timeout = '10s'")
                connection.exec_driver_sql(
                    "UPDATE account SET first_name = first_name WHERE id = %(id)s", {"id": marc})
                holding.set()
                connection.exec_driver_sql(
                    "INSERT INTO account (login, first_name, last_name, search_name, "
                    "search_first, profile, address, password_hash, must_change_password, "
                    "suspended, is_admin, is_school_admin, redirect_verified, created_at) "
                    "VALUES ('0310024h.i.sorel', 'Autre', 'Sorel', 'sorel autre', 'autre', "
                    "'student', 'autre.sorel.dl', 'x', false, false, false, false, false, "
                    "CURRENT_TIMESTAMP)")
                connection.rollback()
        except Exception as error:      # reported to the test below
            other_errors.append(error)
        finally:
            holding.set()
            other_ended.set()

    def before_update(_conn, cursor, statement, *_args) -> None:
        if threading.current_thread() is batch_thread and \
                statement.lstrip().startswith("UPDATE account "):
            updates.append(statement)
            if len(updates) == 1:       # the batch's first attempt, Inès inserted already
                cursor.execute("SET LOCAL deadlock_timeout = '100ms'")
                threading.Thread(target=other_transaction).start()
                assert holding.wait(10)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before_update)
        try:
            assert apply_import(school_by_uai(school), batch) == (1, 1)
        finally:
            event.remove(db.engine, "before_cursor_execute", before_update)
        assert other_ended.wait(10) and other_errors == []
        assert len(updates) == 2            # aborted once, written again
        rows = db.session.execute(select(Account.last_name, Account.login)
                                  .where(Account.external_id.in_(["DL-1", "DL-2"]))
                                  .order_by(Account.external_id)).all()
        assert [tuple(row) for row in rows] == [("Lebrun-Roy", "0310024h.m.lebrun"),
                                                ("Sorel", "0310024h.i.sorel")]
