"""Migration 0033 writes the search key again for the messages stored before it that have
someone in Cc, by batches in primary key order, each committed as it goes, so that the search
finds them by that name; the others keep theirs. The key is the one of its revision, whatever
the model says later. Its downgrade leaves the keys."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from directory import naming
from directory.db import db
from mailgate import models
from mailgate.models import search_key, search_text_of, search_words_of
from tests.conftest import make_app

MESSAGE = {"from_name": "Claire Bernard", "from_address": "claire.bernard@ent.test",
           "to_display": "Zoé Le Gall <zoe.le-gall@ent.test>", "bcc_display": "",
           "subject": "Sortie au musée", "in_reply_to": "", "references": "", "size": 10,
           "text_body": "Rendez-vous à 8 h.", "has_attachments": False, "malformed": False,
           "automatic": False, "source": b"", "sent_at": "2026-01-05",
           "stored_at": "2026-01-05", "indexed_at": "2026-01-05"}
CC = "Léa Dupré <lea.dupre@ent.test>"


def _old_key(row: dict) -> str:
    """The key as the code before 0033 wrote it: no Cc."""
    return search_key(*(row[name] for name in ("subject", "from_name", "to_display",
                                               "text_body")))


def _cc(n: int) -> str:
    """Every other message has someone in Cc, except for a stretch longer than the
    migration's batch (1,000): batches go past one without any, and end on a short one."""
    return CC if n % 2 == 0 and not 1000 < n <= 2200 else ""


def _stored_at_0032(app, cc=_cc) -> list[dict]:
    """Messages 1 to 2,501 stored at revision 0032, with their keys as the code wrote them;
    `cc(n)`: the Cc of message n."""
    rows = [{**MESSAGE, "id": n, "cc_display": cc(n), "message_id_header": f"<{n}@ent.test>"}
            for n in range(1, 2502)]
    upgrade(directory=app.extensions["migrate"].directory, revision="0032")
    message = sa.table("mail_message", *(sa.column(name) for name in
                                         [*rows[0], "search_text", "search_words"]))
    db.session.execute(message.insert(), [
        {**row, "search_text": _old_key(row), "search_words": search_words_of(_old_key(row))}
        for row in rows])
    db.session.commit()     # no read after it: its snapshot would hide the upgrade
    return rows


def _keys() -> list[tuple]:
    keys = db.session.execute(sa.text(
        "SELECT id, search_text, search_words FROM mail_message ORDER BY id")).all()
    db.session.commit()
    return [tuple(key) for key in keys]


def _revision() -> str:
    revision = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    db.session.commit()
    return revision


def test_upgrade_to_0033_makes_the_cc_searched_in_messages_stored_before(tmp_path,
                                                                         own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        rows = _stored_at_0032(app)
        upgrade(directory=migrations)
        keys = _keys()
        downgrade(directory=migrations, revision="0032")
        kept = db.session.execute(sa.text(
            "SELECT search_text FROM mail_message ORDER BY id")).scalars().all()
        db.session.commit()
        upgrade(directory=migrations)
        db.session.remove()
        db.engine.dispose()
    assert keys == [
        (row["id"], search_text_of(row), search_words_of(search_text_of(row))) for row in rows]
    with_cc = [key for n, key, _ in keys if _cc(n)]
    assert len(with_cc) == 650
    assert all("lea dupre <lea.dupre@ent.test>" in key for key in with_cc)
    assert [key for n, key, _ in keys if not _cc(n)] == \
        [_old_key(row) for row in rows if not row["cc_display"]]
    assert kept == [key for _, key, _ in keys]


def test_0033_writes_the_key_of_its_revision_whatever_the_model_says_later(
        tmp_path, own_database, monkeypatch):
    """The model's key may change later (another column, another folding): 0033 still
    writes the key as it was when it was written, the later change being a later
    migration's to apply."""
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        rows = _stored_at_0032(app)
        monkeypatch.setattr(models, "SEARCHED_COLUMNS", ("subject", "cc_display"))
        monkeypatch.setattr(models, "search_key", lambda *parts: " | ".join(parts))
        monkeypatch.setattr(models, "search_words_of", lambda text: text.upper())
        upgrade(directory=app.extensions["migrate"].directory)
        monkeypatch.undo()
        keys = _keys()
        db.session.remove()
        db.engine.dispose()
    frozen = ("sortie au musee\nclaire bernard\nzoe le gall <zoe.le-gall@ent.test>\n"
              "lea dupre <lea.dupre@ent.test>\nrendez-vous a 8 h.")
    assert keys[1] == (2, frozen, " ".join(dict.fromkeys(frozen.split())))
    assert {key for n, key, _ in keys if _cc(n)} == {frozen}
    assert keys[0] == (1, _old_key(rows[0]), search_words_of(_old_key(rows[0])))


def test_an_upgrade_to_0033_stopped_midway_keeps_its_batches_and_ends_when_run_again(
        tmp_path, own_database, monkeypatch, caplog):
    """Each batch is committed as it goes (millions of messages are not rewritten in one
    transaction): an upgrade stopped in its second batch leaves the database at 0032 with
    the first batch's keys written, and the next upgrade writes the others."""
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        rows = _stored_at_0032(app, cc=lambda n: CC)
        db.session.execute(sa.text("UPDATE mail_message SET subject = 'Panne' WHERE id = 1500"))
        db.session.commit()
        folded = naming.fold

        def failing(text: str) -> str:
            if text == "Panne":
                raise ValueError("stopped")
            return folded(text)

        monkeypatch.setattr(naming, "fold", failing)
        with pytest.raises(ValueError, match="stopped"):
            upgrade(directory=migrations)
        monkeypatch.undo()
        db.session.rollback()
        stopped_at, halfway = _revision(), _keys()
        upgrade(directory=migrations, revision="0033")
        ended_at, keys = _revision(), _keys()
        db.session.remove()
        db.engine.dispose()
    assert stopped_at == "0032"
    assert [key for _, key, _ in halfway] == \
        [search_text_of(row) for row in rows[:1000]] + [_old_key(row) for row in rows[1000:]]
    assert ended_at == "0033"
    rows[1499]["subject"] = "Panne"
    assert [key for _, key, _ in keys] == [search_text_of(row) for row in rows]
    assert "0033: 2501 messages with a Cc read, 1501 keys written" in caplog.messages
