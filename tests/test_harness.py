"""The test harness itself: what a test replaces must not reach another app's threads."""
from __future__ import annotations

import threading

from directory.db import db
from tests.conftest import make_app


def test_another_apps_thread_keeps_its_own_database(app, tmp_path):
    """The mail gateway's tests run one gateway for the whole session, with its committer and
    indexer threads in an app of their own: a test that runs meanwhile in its rolled-back
    transaction must not lend them its connection. Two threads on one connection interleave
    their savepoints (seen as "no such savepoint" at a later test's login), and a thread whose
    session changed between its first statement and its commit leaves its own transaction
    open on its database (seen as "database is locked" at the end of a run)."""
    other = make_app(tmp_path / "instance", f"sqlite:///{tmp_path / 'other.db'}")
    seen: dict[str, str | None] = {}

    def in_other_app():
        with other.app_context():
            seen["database"] = db.session.connection().engine.url.database
            db.session.close()

    thread = threading.Thread(target=in_other_app)
    thread.start()
    thread.join()
    assert seen["database"] == str(tmp_path / "other.db")
    with app.app_context():
        assert db.session.connection().engine is db.engine
