"""Migration 0022 erases the messages nothing holds, which account deletions left before
`mailgate.mailbox.delete_accounts` erased them too: a database of its own is upgraded to 0021,
given such messages, then upgraded as `preau init` does."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask_migrate import upgrade

from directory.accounts import create_account
from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from directory.models import School
from mailgate import mailbox
from mailgate.models import (
    EntryKind,
    MailAttachment,
    MailBlob,
    MailboxItem,
    MailMessage,
    OutboundEntry,
)
from tests.conftest import make_app


def draft(author, subject: str, attachment: bytes | None = None) -> int:
    """A draft of `author` (its message id), with a PDF attachment when given one."""
    mail = EmailMessage()
    mail["From"] = f"{author.address}@ent.test"
    mail["Subject"] = subject
    mail.set_content("Texte du brouillon.")
    if attachment is not None:
        mail.add_attachment(attachment, maintype="application", subtype="pdf",
                            filename="piece.pdf")
    return db.session.get(MailboxItem, mailbox.save_draft(author, mail)).message_id


def attachments_of(message_id: int) -> set[str]:
    return set(db.session.scalars(sa.select(MailAttachment.blob_sha256)
                                  .where(MailAttachment.message_id == message_id)))


def test_upgrade_to_0022_erases_the_messages_nothing_holds(tmp_path, own_database):
    app = make_app(tmp_path / "instance", own_database)
    with app.app_context():
        migrations = app.extensions["migrate"].directory
        upgrade(directory=migrations, revision="0021")     # 0022 changes no table
        school = School(uai="0750001A", name="École du test", city="Paris")
        db.session.add(school)
        author = create_account(login="eleve.test", first_name="Élève", last_name="Test",
                                profile=Profile.STUDENT, password="Preau-demo-2026!",
                                schools=[school])
        db.session.flush()
        held = draft(author, "Gardé", b"%PDF-1.4 commun")
        shared_blob = draft(author, "Sans boite, pièce commune", b"%PDF-1.4 commun")
        own_blob = draft(author, "Sans boite, pièce à lui", b"%PDF-1.4 rien qu'a lui")
        queued = draft(author, "Sans boite, encore à envoyer")
        db.session.execute(sa.delete(MailboxItem).where(
            MailboxItem.message_id.in_([shared_blob, own_blob, queued])))
        db.session.add(OutboundEntry(kind=EntryKind.FORWARD, message_id=queued,
                                     address="parent@example.org",
                                     expires_at=utcnow() + timedelta(days=5)))
        kept_blob, lost_blob = attachments_of(held), attachments_of(own_blob)
        assert kept_blob == attachments_of(shared_blob) and lost_blob and lost_blob != kept_blob
        db.session.commit()     # no read after it: its snapshot would hide the upgrade

        upgrade(directory=migrations)
        messages = set(db.session.scalars(sa.select(MailMessage.id)))
        blobs = set(db.session.scalars(sa.select(MailBlob.sha256)))
        attachments = set(db.session.scalars(sa.select(MailAttachment.message_id)))
        db.session.remove()
        db.engine.dispose()
    assert messages == {held, queued}
    assert attachments == {held}
    assert blobs == kept_blob
