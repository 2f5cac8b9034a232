"""Migration 0033 writes the search key again for the messages stored before it that have
someone in Cc, by batches in primary key order, so that the search finds them by that name;
the others keep theirs. Its downgrade leaves the keys."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from directory.db import db
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


def test_upgrade_to_0033_makes_the_cc_searched_in_messages_stored_before(tmp_path,
                                                                         own_database):
    app = make_app(tmp_path / "instance", own_database)
    rows = [{**MESSAGE, "id": n, "cc_display": _cc(n), "message_id_header": f"<{n}@ent.test>"}
            for n in range(1, 2502)]
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0032")
        message = sa.table("mail_message", *(sa.column(name) for name in
                                             [*rows[0], "search_text", "search_words"]))
        db.session.execute(message.insert(), [
            {**row, "search_text": _old_key(row), "search_words": search_words_of(_old_key(row))}
            for row in rows])
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=migrations)
        keys = db.session.execute(sa.text(
            "SELECT id, search_text, search_words FROM mail_message ORDER BY id")).all()
        db.session.commit()
        downgrade(directory=migrations, revision="0032")
        kept = db.session.execute(sa.text(
            "SELECT search_text FROM mail_message ORDER BY id")).scalars().all()
        db.session.commit()
        upgrade(directory=migrations)
        db.session.remove()
        db.engine.dispose()
    assert [tuple(key) for key in keys] == [
        (row["id"], search_text_of(row), search_words_of(search_text_of(row))) for row in rows]
    with_cc = [key.search_text for key in keys if _cc(key.id)]
    assert len(with_cc) == 650
    assert all("lea dupre <lea.dupre@ent.test>" in key for key in with_cc)
    assert [key.search_text for key in keys if not _cc(key.id)] == \
        [_old_key(row) for row in rows if not row["cc_display"]]
    assert kept == [key.search_text for key in keys]
