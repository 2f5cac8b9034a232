"""Migration 0032 hashes the rubric feeds' tokens in place (SQL on PostgreSQL, Python by
batches on SQLite): the feed addresses already in feed readers keep working, and no token is
left in the database. Its downgrade forgets the addresses (a digest gives no token back)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from agenda.feeds import digest
from directory.db import db
from tests.conftest import make_app

TOKENS = ["qc35-CJ9Qk_m3Jy25lEra9Z98n6waRwB1JKEO8av7zk", "A" * 43, "-_" * 21 + "z"]
AT = datetime(2026, 3, 1)


def test_upgrade_to_0032_keeps_the_feed_addresses_and_no_token(tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0031")
        run = db.session.execute
        run(sa.text("INSERT INTO school (id, uai, name, city, login_pattern) "
                    "VALUES (1, '0750001A', 'École du test', 'Paris', '{uai}.{f}.{last}')"))
        run(sa.text("INSERT INTO rubric (id, school_id, name, description, created_at) "
                    "VALUES (1, 1, 'Vie de l''école', '', :at)"), {"at": AT})
        run(sa.text(
            "INSERT INTO article (id, rubric_id, title, body, status, publish_at, comments, "
            "created_at, updated_at) VALUES (1, 1, 'Menu de la cantine', '<p>x</p>', "
            "'published', :at, 'off', :at, :at)"), {"at": AT})
        for n, token in enumerate(TOKENS, start=1):
            run(sa.text(
                "INSERT INTO account (id, login, first_name, last_name, search_name, "
                "search_first, profile, address, password_hash, must_change_password, "
                "suspended, is_admin, is_school_admin, redirect_verified, created_at) "
                "VALUES (:id, :login, 'Jean', 'Martin', 'martin jean', 'jean', 'staff', "
                ":login, 'x', false, false, true, false, false, :at)"),
                {"id": n, "login": f"jean.martin{n}", "at": AT})
            run(sa.text("INSERT INTO feed_token (id, token, account_id, rubric_id, created_at) "
                        "VALUES (:id, :token, :id, 1, :at)"),
                {"id": n, "token": token, "at": AT})
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=migrations)
        stored = run(sa.text("SELECT token_sha256 FROM feed_token ORDER BY id")).scalars().all()
        rows = [tuple(row) for row in run(sa.text("SELECT * FROM feed_token"))]
        db.session.commit()
        anonymous = app.test_client()
        feeds = [anonymous.get(f"/rubriques/1/flux/{token}.atom") for token in TOKENS]
        db.session.remove()     # the requests ran in this app context: end what they read

        downgrade(directory=migrations, revision="0031")
        after = run(sa.text("SELECT count(*) FROM feed_token")).scalar_one()
        columns = {c["name"] for c in sa.inspect(db.session.connection()).get_columns(
            "feed_token")}
        db.session.commit()
        upgrade(directory=migrations)
        db.session.remove()
        db.engine.dispose()
    assert stored == [digest(token) for token in TOKENS]
    assert not set(TOKENS) & {value for row in rows for value in row}
    assert [feed.status_code for feed in feeds] == [200, 200, 200]
    assert all("Menu de la cantine" in feed.get_data(as_text=True) for feed in feeds)
    assert after == 0 and "token" in columns and "token_sha256" not in columns
