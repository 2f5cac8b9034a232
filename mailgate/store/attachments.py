"""Attachments, stored in the database by content (see the package's docstring for why)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select

from directory.db import db
from directory.errors import NotFound
from directory.models import Account

from .. import mime
from ..models import MailAttachment, MailBlob, MailboxItem, MailMessage
from .sql import insert_ignoring_duplicates


def save_attachments(message_id: int, attachments: Sequence[mime.AttachmentData]) -> None:
    blobs = {}
    rows = []
    for item in attachments:
        digest = hashlib.sha256(item.data).hexdigest()
        blobs[digest] = {"sha256": digest, "size": len(item.data), "data": item.data}
        rows.append({"message_id": message_id, "position": item.position,
                     "filename": item.filename, "content_type": item.content_type,
                     "content_id": item.content_id, "inline": item.inline,
                     "size": len(item.data), "blob_sha256": digest})
    db.session.execute(insert_ignoring_duplicates(MailBlob), list(blobs.values()))
    db.session.execute(MailAttachment.__table__.insert(), rows)


def message_bytes(message: MailMessage) -> bytes:
    """The whole message as RFC 5322 bytes, attachments included (for forwarding, .eml)."""
    if not message.has_attachments:
        return message.source
    rows = db.session.execute(
        select(MailAttachment.position, MailAttachment.content_type, MailBlob.data)
        .join(MailBlob, MailBlob.sha256 == MailAttachment.blob_sha256)
        .where(MailAttachment.message_id == message.id))
    return mime.rebuild(message.source, {r.position: (r.content_type, r.data) for r in rows})


@dataclass(frozen=True)
class AttachmentContent:
    filename: str
    content_type: str
    data: bytes


def attachment_for(account: Account, attachment_id: int) -> AttachmentContent:
    """An attachment of a message the account holds (or wrote); anyone else's: NotFound."""
    holds = exists().where(MailboxItem.message_id == MailAttachment.message_id,
                           MailboxItem.account_id == account.id)
    wrote = exists().where(MailMessage.id == MailAttachment.message_id,
                           MailMessage.author_id == account.id)
    row = db.session.execute(
        select(MailAttachment.filename, MailAttachment.content_type, MailBlob.data)
        .join(MailBlob, MailBlob.sha256 == MailAttachment.blob_sha256)
        .where(MailAttachment.id == attachment_id, holds | wrote)).first()
    if row is None:
        raise NotFound.of("attachment_missing")
    return AttachmentContent(row.filename, row.content_type, row.data)


