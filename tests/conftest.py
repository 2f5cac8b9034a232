"""Fixtures: one database per test session (SQLite, or PostgreSQL when PREAU_TEST_DATABASE_URL
is set), built by the real migrations and filled with the demo region; every test runs inside
an outer transaction that is rolled back, so tests see the demo and never each other.

Under pytest-xdist (`-n N`) each worker is a session of its own: its tmp_path_factory (SQLite
files, instance paths) is its own folder, and on PostgreSQL it works in databases of its own,
`<test database>_gw0`, `<test database>_gw0_mailgate`, … created at its start and dropped at
its end (see `session_database_url`)."""
from __future__ import annotations

import os
import re
import uuid
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import orm

from directory.db import db
from portal import create_app

REQUIRE_ALL = os.environ.get("PREAU_REQUIRE_ALL") == "1"
DEMO_PASSWORD = "Preau-demo-2026!"


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def page_text(response) -> str:
    """What a person reads on the page: tags dropped, entities decoded, spaces collapsed."""
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    return " ".join(" ".join(parser.parts).split())


def missing(reason: str):
    """Skip, or fail when CI demands that everything runs (PREAU_REQUIRE_ALL=1)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (PREAU_REQUIRE_ALL=1 forbids skipping)")
    pytest.skip(reason)


def is_postgres() -> bool:
    return bool(os.environ.get("PREAU_TEST_DATABASE_URL", "").startswith("postgresql"))


def xdist_worker() -> str | None:
    """`gw0`, `gw1`, … in a pytest-xdist worker; None in a serial run (and in the controller)."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def pytest_collection_modifyitems(config, items):
    """postgres_only tests are deselected (not skipped) on SQLite: a skip fails CI."""
    if is_postgres():
        return
    kept = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


_workeroutput: dict | None = None


def pytest_configure(config):
    global _workeroutput
    _workeroutput = getattr(config, "workeroutput", None)


def pytest_deselected(items):
    """Under xdist, collection (so deselection: `-m`, postgres_only) happens in each worker and
    the controller's summary would not count it: each worker hands its deselected ids back."""
    if _workeroutput is not None:
        _workeroutput.setdefault("deselected", []).extend(item.nodeid for item in items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In the controller: every worker collected (and deselected) the same items, so the first
    worker's deselected ids are the run's; they go to the terminal's summary."""
    config = node.config
    if getattr(config, "_preau_deselected_counted", False):
        return
    deselected = getattr(node, "workeroutput", {}).get("deselected")
    if deselected is not None:
        config._preau_deselected_counted = True
        config.hook.pytest_deselected(items=[SimpleNamespace(nodeid=i) for i in deselected])


_created_databases: list[str] = []


def session_database_url() -> str | None:
    """PREAU_TEST_DATABASE_URL in a serial run; in xdist worker `gwN`, that URL with the
    database `<name>_gwN`, so that workers never share a PostgreSQL database."""
    base = os.environ.get("PREAU_TEST_DATABASE_URL")
    if not base or not xdist_worker():
        return base
    url = sa.engine.make_url(base)
    return url.set(database=f"{url.database}_{xdist_worker()}").render_as_string(
        hide_password=False)


def create_database(url: str) -> None:
    """(Re)create the PostgreSQL database of `url` (an empty one), through the server's
    `postgres` database; it is dropped at the end of the session (pytest_sessionfinish)."""
    url = sa.engine.make_url(url)
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    engine.dispose()
    _created_databases.append(url.render_as_string(hide_password=False))


def pytest_sessionfinish(session):
    """Drop the databases this process created (FORCE: the session's engines are still
    connected). A run that is killed leaves them: .ci/run drops `<its database>_*` on exit."""
    for created in reversed(_created_databases):
        url = sa.engine.make_url(created)
        engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        engine.dispose()
    _created_databases.clear()


def fresh_database(tmp_path_factory, suffix: str) -> str:
    """A database of its own, for a test whose commits other threads or processes must see
    (a live portal, a gateway): the test database's name + `_<suffix>` on PostgreSQL (dropped
    and created again), a new SQLite file otherwise."""
    base = session_database_url()
    if not base:
        return f"sqlite:///{tmp_path_factory.mktemp(suffix) / f'{suffix}.db'}"
    url = sa.engine.make_url(base)
    fresh = url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
    create_database(fresh)
    return fresh


def reset_database(url: str) -> None:
    """An empty database at `url`: a fresh public schema on PostgreSQL."""
    if not url.startswith("postgresql"):
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def make_app(instance_path, url: str):
    return create_app({"INSTANCE_PATH": str(instance_path), "SQLALCHEMY_DATABASE_URI": url,
                       "TESTING": True, "SECRET_KEY": "test-secret",
                       "PREAU": {"MAIL_DOMAIN": "ent.test", "SMARTHOST": "capture:",
                                 "SMTP_LISTEN": "127.0.0.1:0", "QUOTA_MB": "45",
                                 "MAX_MESSAGE_MB": "20", "QUEUE_LIFETIME": "5d",
                                 "WEB_LISTEN": "127.0.0.1:0"}})


@pytest.fixture
def own_database(tmp_path):
    """An empty database of this test's own, to upgrade step by step (the rollback fixture
    steps aside): a SQLite file, or a schema of its own in the PostgreSQL test database."""
    base = session_database_url()
    if not base:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"upgrade_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield sa.engine.make_url(base).update_query_dict(
        {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


def live_demo_app(tmp_path_factory, url: str, name: str, users: int = 600):
    """An app on a database whose commits other threads see (`fresh_database`), migrated and
    loaded with a demo region of `users` accounts."""
    app = make_app(tmp_path_factory.mktemp(f"{name}-instance"), url)
    migrate_and_load_demo(app, users=users)
    return app


def migrate_and_load_demo(app, users: int = 600) -> None:
    from flask_migrate import upgrade

    from directory.demo import load_demo

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_demo(users=users)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = session_database_url()
    if url and xdist_worker():
        create_database(url)
    elif url:
        reset_database(url)
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("instance"), database_url)
    migrate_and_load_demo(app)
    return app


class _TestSession(orm.Session):
    """Flask-SQLAlchemy's session picks the engine itself; here it must use our connection."""

    def __init__(self, db, **kwargs):
        super().__init__(**kwargs)
        self._db = db

    def get_bind(self, *args, **kwargs):
        return self.bind


class _SessionOfApp:
    """`db.session` during a test: the test's scoped session in the test's app, the usual one
    in any other. The mail gateway's tests keep one gateway for the whole session, its
    committer and indexer threads in an app of their own; lent the test's connection, they
    interleaved their savepoints with the test's ("no such savepoint" at a later test's login),
    and a thread whose session changed between its first statement and its commit left its
    transaction open on its own database ("database is locked" at the end of a run)."""

    def __init__(self, app, in_test: orm.scoped_session, usual: orm.scoped_session):
        self._app, self._in_test, self._usual = app, in_test, usual

    def _current(self) -> orm.scoped_session:
        return self._in_test if current_app._get_current_object() is self._app else self._usual

    def __call__(self, **kwargs):
        return self._current()(**kwargs)

    def __getattr__(self, name: str):
        return getattr(self._current(), name)


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Each test sees the demo region and leaves nothing behind: every commit is a SAVEPOINT
    inside one outer transaction that is rolled back at the end."""
    if {"live_database", "own_database"} & set(request.fixturenames):
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
    # No app context stays pushed during the test: each request must get its own, as in
    # production, or `g` (and Flask-Login's cached user) would leak from one request to the next.
    outer = connection.begin()
    original = db.session
    db.session = _SessionOfApp(app, db._make_scoped_session({
        "class_": _TestSession, "bind": connection,
        "join_transaction_mode": "create_savepoint"}), original)
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def ctx(app):
    """An app context for calling business functions directly (not for HTTP requests)."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'type="hidden" name="csrf_token" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return next(group for group in match.groups() if group)


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """Post a form the way a browser does: read the page, take its CSRF token, submit."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data}, **kwargs)


def login(client, login_name: str, password: str = DEMO_PASSWORD):
    return post_form(client, "/connexion", {"login": login_name, "password": password})


@pytest.fixture
def logged_in(client):
    """`logged_in("zoe.le-gall")` → a test client with that demo account's session."""

    def _as(login_name: str, password: str = DEMO_PASSWORD):
        response = login(client, login_name, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _as


@pytest.fixture
def student(logged_in):
    return logged_in("zoe.le-gall")


@pytest.fixture
def teacher(logged_in):
    return logged_in("claire.bernard")


@pytest.fixture
def parent(logged_in):
    return logged_in("joseph.fabre")


@pytest.fixture
def staff(logged_in):
    return logged_in("paul.durand")


@pytest.fixture
def admin(logged_in):
    return logged_in("admin")


@pytest.fixture
def school_admin(app, logged_in):
    """Paul, made administrator of his school's accounts, logged in."""
    from directory.models import Account

    with app.app_context():
        paul = db.session.scalar(sa.select(Account).where(Account.login == "paul.durand"))
        paul.is_school_admin = True
        db.session.commit()
    return logged_in("paul.durand")
