"""On PostgreSQL, a page marked `@reads_only` runs its SELECTs outside any transaction (no
BEGIN, no ROLLBACK: two round trips fewer), and its first write or locking read opens an
ordinary transaction, which is rolled back or committed as usual; any other page that only
read ends its transaction with COMMIT, keeping the statements psycopg prepared
(portal/reads_only.py).
Run on a database of its own: the test harness's session, bound to one connection inside a
transaction, steps aside for a `live_database`."""
from __future__ import annotations

import contextlib

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, select, update
from sqlalchemy.exc import DBAPIError

from directory.db import db
from directory.models import Account
from portal.reads_only import reads_only
from tests.conftest import fresh_database, login, make_app, migrate_and_load_demo

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
def live_database(tmp_path_factory) -> str:
    url = fresh_database(tmp_path_factory, "readsonly")
    migrate_and_load_demo(make_app(tmp_path_factory.mktemp("readsonly-setup"), url), users=200)
    return url


@pytest.fixture
def app(live_database, tmp_path):
    app = make_app(tmp_path / "instance", live_database)

    @app.get("/essai/ecrire")
    @reads_only
    def writes():
        person = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        db.session.execute(update(Account).where(Account.id == person.id)
                           .values(first_name="Effacé"))
        db.session.rollback()
        return "ok"

    @app.get("/essai/ecrire-sans-marque")
    def writes_unmarked():
        person = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        db.session.execute(update(Account).where(Account.id == person.id)
                           .values(first_name="Effacé"))
        return "ok"             # never committed: the request's end rolls it back

    @app.get("/essai/echec-rattrape")
    def fails_and_recovers():
        person = db.session.scalar(select(Account).where(Account.login == "zoe.le-gall"))
        person.login = None     # NOT NULL: the flush fails, the session's transaction with it
        with contextlib.suppress(DBAPIError):
            db.session.flush()
        return "ok"             # the request's end rolls it back

    @app.get("/essai/verrouiller")
    @reads_only
    def locks():
        db.session.scalar(select(Account.id).where(Account.login == "zoe.le-gall")
                          .with_for_update())
        return "ok"

    return app


@pytest.fixture
def statuses(app):
    """(statement's first word, transaction status after it) of every statement run."""
    seen = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "after_cursor_execute")
    def _seen(connection, _cursor, statement, *_):
        status = connection.connection.dbapi_connection.info.transaction_status
        seen.append((statement.split()[0], status))

    yield seen
    event.remove(engine, "after_cursor_execute", _seen)


def _signed_in(app):
    client = app.test_client()
    assert login(client, "claire.bernard").status_code == 302
    client.get("/annuaire/?nom=ma")      # the last access is refreshed here, not below
    return client


def test_a_directory_search_runs_outside_any_transaction(app, statuses):
    client = _signed_in(app)
    statuses.clear()
    for path in ("/annuaire/?nom=ma", "/messagerie/destinataires?nom=ma"):
        response = client.get(path)
        assert response.status_code == 200
    assert len(statuses) >= 4
    assert {status for _, status in statuses} == {TransactionStatus.IDLE}


def test_a_page_without_the_mark_keeps_its_transaction(app, statuses):
    client = _signed_in(app)
    statuses.clear()
    assert client.get("/carnet/").status_code == 200
    assert statuses and all(status == TransactionStatus.INTRANS for _, status in statuses)


def test_a_write_opens_a_transaction_that_is_rolled_back_as_usual(app, statuses):
    client = _signed_in(app)
    statuses.clear()
    assert client.get("/essai/ecrire").status_code == 200
    assert [word for word, status in statuses if status == TransactionStatus.INTRANS] \
        == ["UPDATE"]
    with app.app_context():
        assert db.session.scalar(select(Account.first_name)
                                 .where(Account.login == "zoe.le-gall")) != "Effacé"


def test_a_locking_read_runs_inside_a_transaction(app, statuses):
    client = _signed_in(app)
    statuses.clear()
    assert client.get("/essai/verrouiller").status_code == 200
    assert statuses[-1] == ("SELECT", TransactionStatus.INTRANS)


def test_the_search_statement_stays_prepared_from_one_request_to_the_next(app):
    """psycopg prepares a statement run five times on a connection and forgets them all at
    each ROLLBACK: outside a transaction there is none, so the search is planned once."""
    client = _signed_in(app)
    for _ in range(8):
        assert client.get("/annuaire/?nom=ma").status_code == 200
    with app.app_context():
        with db.engine.connect() as connection:     # the pool's one connection, reused
            prepared = connection.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("search_name" in statement for statement in prepared), prepared


def _prepared(app) -> list[str]:
    with app.app_context():
        with db.engine.connect() as connection:     # the pool's one connection, reused
            return connection.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements").scalars().all()


def test_a_page_without_the_mark_that_only_read_keeps_its_statements_prepared(app):
    """Its transaction ends with COMMIT, not ROLLBACK (which makes psycopg forget them): the
    signed-in account's read, run at every request, is prepared once."""
    client = _signed_in(app)
    for _ in range(8):
        assert client.get("/carnet/").status_code == 200
    assert any("ended_session" in statement for statement in _prepared(app))


def test_a_page_without_the_mark_that_wrote_without_committing_is_rolled_back(app):
    client = _signed_in(app)
    for _ in range(8):
        assert client.get("/essai/ecrire-sans-marque").status_code == 200
    assert not any("ended_session" in statement for statement in _prepared(app))
    with app.app_context():     # (its end's ROLLBACK forgets them: looked at before)
        assert db.session.scalar(select(Account.first_name)
                                 .where(Account.login == "zoe.le-gall")) != "Effacé"


def test_a_page_whose_transaction_failed_still_answers_and_the_next_request_works(app):
    client = _signed_in(app)
    assert client.get("/essai/echec-rattrape").status_code == 200
    assert client.get("/carnet/").status_code == 200
