"""The search key of messages stored before migration 0005: an existing database is upgraded
(as `preau init` does) and its messages are found like new ones. Run against a database of
its own (a SQLite file, or a schema of its own in the PostgreSQL test database)."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import upgrade

from directory.db import db
from tests.conftest import make_app

OLD_MESSAGE = {"from_name": "Claire Bernard", "from_address": "claire.bernard@ent.test",
               "to_display": "Zoé Le Gall <zoe.le-gall@ent.test>", "cc_display": "",
               "bcc_display": "", "subject": "Sortie au MUSÉE", "message_id_header": "<a@b>",
               "in_reply_to": "", "references": "", "size": 10,
               "text_body": "Rendez-vous à 8 h\r\ndevant  l'Œuvre.", "has_attachments": False,
               "malformed": False, "automatic": False, "source": b"", "sent_at": "2026-01-05",
               "stored_at": "2026-01-05"}


def test_upgrade_from_0004_fills_the_search_key_of_stored_messages(tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0004_mailgate")
        message = sa.table("mail_message", *(sa.column(name) for name in OLD_MESSAGE))
        db.session.execute(message.insert().values(**OLD_MESSAGE))
        db.session.commit()
        upgrade(directory=migrations, revision="0021")  # 0022 erases a message no one holds
        key, words = db.session.execute(sa.text(
            "SELECT search_text, search_words FROM mail_message")).one()
        db.session.remove()
        db.engine.dispose()
    assert key == ("sortie au musee\nclaire bernard\nzoe le gall <zoe.le-gall@ent.test>\n"
                   "rendez-vous a 8 h devant l'oeuvre.")
    assert words == ("sortie au musee claire bernard zoe le gall <zoe.le-gall@ent.test> "
                     "rendez-vous a 8 h devant l'oeuvre.")
