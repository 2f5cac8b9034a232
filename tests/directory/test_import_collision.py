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

from .account_files import excel_fr


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
