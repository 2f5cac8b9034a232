"""What the home page shows of the Messagerie: the unread count and the latest messages of
the account's main folder (students' Boîte de réception, others' Boîte d'envoi). Three small
queries whatever the size of the mailbox: the folder, its unread count through the index
(account_id, folder_id, is_read), and the newest rows through (folder_id, received_at, id)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from directory.db import db
from directory.models import Account
from mailgate.mailbox import has_inbox, home_kind
from mailgate.models import FolderKind, MailboxItem, MailFolder

from .listing import list_columns, with_message

LATEST = 5


@dataclass(frozen=True)
class Overview:
    kind: FolderKind          # INBOX for students, OUTBOX for the others
    unread: int
    latest: list              # rows of mailbox.list_columns(), newest first

    @property
    def inbox(self) -> bool:
        return self.kind == FolderKind.INBOX


def overview(account: Account, count: int = LATEST) -> Overview:
    kind = home_kind(account)
    folder_id = db.session.scalar(select(MailFolder.id).where(
        MailFolder.account_id == account.id, MailFolder.kind == kind))
    if folder_id is None:      # created on the first visit to the Messagerie
        return Overview(kind, 0, [])
    unread = db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.account_id == account.id, MailboxItem.folder_id == folder_id,
        MailboxItem.is_read.is_(False))) if has_inbox(account) else 0
    newest = [MailboxItem.received_at.desc(), MailboxItem.id.desc()]
    latest = db.session.execute(
        with_message(select(*list_columns()))
        .where(MailboxItem.folder_id == folder_id, MailboxItem.account_id == account.id)
        .order_by(*newest).limit(count)).all()
    return Overview(kind, unread, latest)
