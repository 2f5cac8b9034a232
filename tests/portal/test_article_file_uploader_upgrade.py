"""Migration 0034 lets the images and files of articles outlive their uploader's account
(article_file.uploader_id nullable, ON DELETE SET NULL, under the same constraint name), on
the files stored before it too. Its downgrade deletes the files whose uploader is gone and
restores NOT NULL and ON DELETE CASCADE."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from directory.db import db
from tests.conftest import make_app

AT = datetime(2026, 3, 1)
FOREIGN_KEY = "fk_article_file_uploader_id_account"
#: file id → (article id, uploader id): Jean (1) leaves, Anne (2) stays
FILES = {1: (1, 1), 2: (None, 1), 3: (1, 2)}


def _uploader_column(connection) -> tuple[dict, bool, set[str]]:
    """The uploader's foreign key, whether the column takes NULL, and the table's indexes."""
    inspector = sa.inspect(connection)
    keys = [key for key in inspector.get_foreign_keys("article_file")
            if key["constrained_columns"] == ["uploader_id"]]
    nullable = {column["name"]: column["nullable"]
                for column in inspector.get_columns("article_file")}["uploader_id"]
    indexes = {index["name"] for index in inspector.get_indexes("article_file")}
    return keys[0] if len(keys) == 1 else {"found": keys}, nullable, indexes


def _fill(run) -> None:
    run(sa.text("INSERT INTO school (id, uai, name, city, login_pattern) "
                "VALUES (1, '0750001A', 'École du test', 'Paris', '{uai}.{f}.{last}')"))
    run(sa.text("INSERT INTO rubric (id, school_id, name, description, created_at) "
                "VALUES (1, 1, 'Vie de l''école', '', :at)"), {"at": AT})
    for n, login in ((1, "jean.martin"), (2, "anne.petit")):
        run(sa.text(
            "INSERT INTO account (id, login, first_name, last_name, search_name, "
            "search_first, profile, address, password_hash, must_change_password, "
            "suspended, is_admin, is_school_admin, redirect_verified, created_at) "
            "VALUES (:id, :login, 'Jean', 'Martin', 'martin jean', 'jean', 'teacher', "
            ":login, 'x', false, false, false, false, false, :at)"),
            {"id": n, "login": login, "at": AT})
    run(sa.text(
        "INSERT INTO article (id, rubric_id, author_id, title, body, status, publish_at, "
        "comments, created_at, updated_at) VALUES (1, 1, 1, 'Sortie au musée', "
        "'<p><img src=\"/rubriques/fichiers/1\"></p>', 'published', :at, 'off', :at, :at)"),
        {"at": AT})
    for file_id, (article_id, uploader_id) in FILES.items():
        run(sa.text(
            "INSERT INTO article_file (id, article_id, uploader_id, filename, content_type, "
            "size, data, created_at) VALUES (:id, :article, :uploader, :name, 'image/png', "
            "4, :data, :at)"),
            {"id": file_id, "article": article_id, "uploader": uploader_id,
             "name": f"photo-{file_id}.png", "data": b"\x89PNG", "at": AT})


def test_upgrade_to_0034_keeps_the_files_of_a_deleted_uploader(tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0033")
        run = db.session.execute
        _fill(run)
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=migrations)
        upgraded = _uploader_column(db.session.connection())
        db.session.commit()
        run(sa.text("DELETE FROM account WHERE id = 1"))
        after_deletion = run(sa.text(
            "SELECT id, article_id, uploader_id FROM article_file ORDER BY id")).all()
        db.session.commit()

        downgrade(directory=migrations, revision="0033")
        downgraded = _uploader_column(db.session.connection())
        after_downgrade = run(sa.text(
            "SELECT id, article_id, uploader_id FROM article_file ORDER BY id")).all()
        db.session.commit()
        run(sa.text("DELETE FROM account WHERE id = 2"))
        cascaded = run(sa.text("SELECT count(*) FROM article_file")).scalar_one()
        db.session.commit()
        upgrade(directory=migrations)
        db.session.remove()
        db.engine.dispose()

    indexes = {"ix_article_file_article_id", "ix_article_file_uploader_id"}
    key, nullable, kept_indexes = upgraded
    assert (key["name"], key["referred_table"], key["options"].get("ondelete")) == (
        FOREIGN_KEY, "account", "SET NULL")
    assert nullable and indexes <= kept_indexes
    assert [tuple(row) for row in after_deletion] == [(1, 1, None), (2, None, None),
                                                      (3, 1, 2)]
    key, nullable, kept_indexes = downgraded
    assert (key["name"], key["options"].get("ondelete")) == (FOREIGN_KEY, "CASCADE")
    assert not nullable and indexes <= kept_indexes
    assert [tuple(row) for row in after_downgrade] == [(3, 1, 2)]
    assert cascaded == 0
