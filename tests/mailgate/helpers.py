"""Building messages and reading the store in mail gateway tests."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy import func, select

from directory.db import db
from directory.models import Account
from mailgate import indexer
from mailgate.models import FolderKind, MailboxItem, MailFolder, MailMessage


def mail(sender: str, to: str | list[str], subject: str = "Bonjour", body: str = "Un mot.",
         **extra: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    for name, value in extra.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def raw(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def indexed(seconds: float = 10) -> None:
    """Wait until the indexer (the gateway's thread, or this call) has read every message
    the gateway stored raw: what a reader sees once the indexing lag has passed."""
    deadline = time.monotonic() + seconds
    while True:
        db.session.rollback()
        indexer.index_left(timedelta(0))
        waiting = db.session.scalar(select(func.count()).select_from(MailMessage).where(
            MailMessage.indexed_at.is_(None)))
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} messages still not indexed"
        time.sleep(0.02)


def folder_messages(person: Account, kind: FolderKind) -> list[MailMessage]:
    indexed()
    return list(db.session.scalars(
        select(MailMessage).join(MailboxItem, MailboxItem.message_id == MailMessage.id)
        .join(MailFolder, MailFolder.id == MailboxItem.folder_id)
        .where(MailboxItem.account_id == person.id, MailFolder.kind == kind)
        .order_by(MailboxItem.id)))


def inbox(person: Account) -> list[MailMessage]:
    return folder_messages(person, FolderKind.INBOX)


def stored_with_id(message_id: str) -> MailMessage | None:
    indexed()
    return db.session.scalar(select(MailMessage).where(
        MailMessage.message_id_header == message_id))


def count(model, *conditions) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))
