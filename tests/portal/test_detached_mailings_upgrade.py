"""Migration 0028 detaches the mailings of the articles and events deleted before it: those
whose number names no row, or a row made after the mailing. It finds each job's row through
the table's primary key: comparing `'article:' || article.id` to the job's origin, SQLite read
the whole table for every job (jobs × rows at the upgrade)."""
from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from directory.db import db
from tests.conftest import make_app

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" \
    / "0028_detached_mailings.py"
BEFORE, AT, AFTER = datetime(2026, 3, 1), datetime(2026, 3, 2), datetime(2026, 3, 3)


def migration():
    spec = importlib.util.spec_from_file_location("detached_mailings", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def at_0027(tmp_path, url: str):
    app = make_app(tmp_path / "instance", url)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision="0027")
    return app


def test_the_backfill_finds_each_row_by_its_primary_key(tmp_path):
    """A plan of SQLite's, whatever the test database: the full scan was SQLite's."""
    app = at_0027(tmp_path, f"sqlite:///{tmp_path / 'plan.db'}")
    detached = migration()
    with app.app_context():
        for table, origin in detached.ORIGINS.items():
            plan = [row[-1] for row in db.session.execute(sa.text(
                "EXPLAIN QUERY PLAN " + detached.backfill(table, origin)))]
            assert f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
            assert not [step for step in plan if step.startswith(f"SCAN {table}")], plan
        db.session.remove()
        db.engine.dispose()


def test_upgrade_to_0028_detaches_the_mailings_of_rows_deleted_before_it(tmp_path,
                                                                         own_database):
    app = at_0027(tmp_path, own_database)
    with app.app_context():
        run = db.session.execute
        run(sa.text("INSERT INTO school (id, uai, name, city, login_pattern) "
                    "VALUES (1, '0750001A', 'École du test', 'Paris', '{uai}.{f}.{last}')"))
        run(sa.text("INSERT INTO rubric (id, school_id, name, description, created_at) "
                    "VALUES (1, 1, 'Vie de l''école', '', :at)"), {"at": BEFORE})
        run(sa.text("INSERT INTO agenda (id, rubric_id, created_at) VALUES (1, 1, :at)"),
            {"at": BEFORE})
        for number, made in ((1, BEFORE), (2, AFTER)):
            run(sa.text(
                "INSERT INTO article (id, rubric_id, title, body, status, publish_at, "
                "comments, created_at, updated_at) VALUES (:id, 1, 'Sortie', '', "
                "'published', :made, 'off', :made, :made)"), {"id": number, "made": made})
            run(sa.text(
                "INSERT INTO agenda_event (id, agenda_id, uid, title, place, summary, "
                "starts_at, ends_at, all_day, last_ends_at, status, notify, "
                "ask_confirmation, follow_up, read_receipt, sequence, created_at, "
                "updated_at) VALUES (:id, 1, :uid, 'Sortie', '', '', :made, :made, false, "
                ":made, 'published', true, false, 'off', false, 0, :made, :made)"),
                {"id": number, "uid": f"e{number}", "made": made})
        origins = ["article:1", "article:2", "article:3", "event:1", "event:2", "event:3",
                   "communication:1", "article:x1", "event:"]
        for number, origin in enumerate(origins, start=1):
            run(sa.text(
                "INSERT INTO fanout_job (id, origin, audience, idempotency_key, acknowledge, "
                "total, created_at) VALUES (:id, :origin, '', :key, false, 0, :at)"),
                {"id": number, "origin": origin, "key": f"k{number}", "at": AT})
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=app.extensions["migrate"].directory)
        jobs = db.session.execute(sa.text(
            "SELECT origin, idempotency_key FROM fanout_job ORDER BY id")).all()
        db.session.remove()
        db.engine.dispose()
    # 1: its article, made before it; 2: made after it (the number given again); 3: none.
    assert [tuple(job) for job in jobs] == [
        ("article:1", "k1"), ("deleted:article:2", "deleted:2"),
        ("deleted:article:3", "deleted:3"), ("event:1", "k4"),
        ("deleted:event:2", "deleted:5"), ("deleted:event:3", "deleted:6"),
        ("communication:1", "k7"), ("deleted:article:x1", "deleted:8"),
        ("deleted:event:", "deleted:9")]
