"""Attachments, stored in the database by content (see the package's docstring for why)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import exists, select

from directory.db import db, dialect_name, insert_ignoring_duplicates
from directory.errors import NotFound
from directory.models import Account
from directory.sets import ids_parameter

from .. import mime
from ..models import MailAttachment, MailBlob, MailboxItem, MailMessage
from .sql import core


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
    return _whole(message.id, message.source, message.has_attachments)


def messages_bytes(message_ids: Iterable[int]) -> dict[int, bytes]:
    """`message_bytes` of each of these messages (those that still exist), read in one
    query of plain rows: the outbound worker's batch."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    rows = core(_sources_statement(dialect_name()), {"ids": ids})
    return {row.id: _whole(row.id, row.source, row.has_attachments) for row in rows}


@lru_cache(maxsize=4)
def _sources_statement(_dialect: str):
    """`messages_bytes`' query, built once per database (every round of the worker)."""
    message = MailMessage.__table__.c
    return select(message.id, message.source, message.has_attachments).where(
        ids_parameter(message.id))


def _whole(message_id: int, source: bytes, has_attachments: bool) -> bytes:
    if not has_attachments:
        return source
    rows = db.session.execute(
        select(MailAttachment.position, MailAttachment.content_type, MailBlob.data)
        .join(MailBlob, MailBlob.sha256 == MailAttachment.blob_sha256)
        .where(MailAttachment.message_id == message_id))
    return mime.rebuild(source, {r.position: (r.content_type, r.data) for r in rows})


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


