"""Messages and the items that place them in folders: stored once, referenced once per
mailbox; removing the last reference removes the message and its attachments."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, exists, select, update

from directory.clock import utcnow
from directory.db import db, dialect_name
from directory.errors import NotFound
from directory.models import Account
from directory.sets import ids_parameter, insert_rows

from .. import headers, indexer, mime
from ..fanout_models import FanoutJob
from ..models import (
    EntryState,
    MailAttachment,
    MailBlob,
    Mailbox,
    MailboxItem,
    MailMessage,
    OutboundEntry,
    SenderCheck,
    search_text_of,
    search_words_of,
)
from .attachments import save_attachments
from .sql import core


@dataclass(frozen=True)
class NewMessage:
    """What `save_messages` stores: see `save_message`."""

    parsed: mime.Parsed
    header_block: bytes
    message_id: str
    author_id: int | None
    automatic: bool = False
    bcc_display: str = ""
    sender: tuple[str, str] | None = None
    address_map: dict[str, str] | None = None
    names: dict[str, str] | None = None           # see headers.shown
    sender_check: SenderCheck | None = None


def save_message(parsed: mime.Parsed, header_block: bytes, *, message_id: str,
                 author_id: int | None, automatic: bool = False, bcc_display: str = "",
                 sender: tuple[str, str] | None = None,
                 address_map: dict[str, str] | None = None) -> int:
    """Insert the message and its attachments; returns its id.

    `sender` (name, address) replaces the message's own From, and `address_map` rewrites
    members' redirect addresses in To/Cc, exactly as in the stored header: the columns shown
    in lists must not reveal what the header hides.
    """
    (stored,) = save_messages([NewMessage(parsed, header_block, message_id, author_id,
                                          automatic, bcc_display, sender, address_map)])
    return stored


def save_messages(messages: Sequence[NewMessage]) -> list[int]:
    """`save_message` for several messages in one INSERT; their ids in the same order. A
    message read with `mime.headers_only` is stored raw, its text and attachments left to the
    indexer (mailgate/indexer.py); its search text meanwhile holds the subject, sender and
    recipients."""
    if not messages:
        return []
    now = utcnow()
    rows = [_message_row(m, now) for m in messages]
    if dialect_name() == "postgresql":
        ids = _insert_messages_pg(rows)
    else:
        table = MailMessage.__table__
        ids = list(core(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                        rows).scalars())
    for stored, message in zip(ids, messages, strict=True):
        if message.parsed.complete and message.parsed.attachments:
            save_attachments(stored, message.parsed.attachments)
    return ids


def _insert_messages_pg(rows: list[dict]) -> list[int]:
    """The rows inserted with psycopg's own executemany: one statement, prepared once per
    connection, the rows sent in a pipeline. SQLAlchemy's multi-row VALUES is a new statement
    text for every batch size, which psycopg parses again each time (about 1 ms a batch of
    100, the largest part of the gateway's commit thread). SQLAlchemy's Python-side default
    of `search_text` and `search_words` do not run here: they are called as those defaults
    do (`search_text` is in the row: `_message_row`)."""
    for row in rows:
        row["search_words"] = search_words_of(row["search_text"])
        check = row["sender_check"]
        row["sender_check"] = None if check is None else check.value
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    sql = (f'INSERT INTO "{MailMessage.__tablename__}" ({columns}) '
           f'VALUES ({", ".join(["%s"] * len(names))}) RETURNING id')
    db.session.flush()
    connection = db.session.connection().connection.driver_connection
    ids = []
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[row[n] for n in names] for row in rows], returning=True)
        while True:
            ids.append(cursor.fetchone()[0])
            if not cursor.nextset():
                break
    return ids


def _message_row(message: NewMessage, now: datetime) -> dict:
    """The message's row; its `search_text` reads an HTML-only message's text
    (mime.searched_text), `search_words` is left to the column's default."""
    parsed = message.parsed
    to_display, cc_display = (", ".join(
        _display(headers.shown(name, address, message.address_map or {}, message.names or {}))
        for name, address in parsed.addresses(field_name)) for field_name in ("to", "cc"))
    senders = parsed.addresses("from")
    from_name, from_address = message.sender or (senders[0] if senders else ("", ""))
    row = {
        "author_id": message.author_id, "from_name": from_name[:200],
        "from_address": from_address[:254], "to_display": to_display,
        "cc_display": cc_display, "bcc_display": message.bcc_display,
        "subject": parsed.subject, "sent_at": parsed.sent_at, "stored_at": now,
        "message_id_header": message.message_id[:250],
        "in_reply_to": parsed.get("in-reply-to").strip()[:250],
        "references": parsed.get("references").strip(), "size": parsed.size,
        "text_body": parsed.text_body, "html_body": parsed.html_body,
        "has_attachments": bool(parsed.attachments), "malformed": parsed.malformed,
        "automatic": message.automatic, "sender_check": message.sender_check,
        "source": message.header_block + parsed.body,
        "indexed_at": now if parsed.complete else None}
    row["search_text"] = search_text_of({**row, "text_body": mime.searched_text(parsed)}
                                        if parsed.html_body else row)
    return row


def _display(pair: tuple[str, str]) -> str:
    name, address = pair
    return f"{name} <{address}>" if name else address


def add_items(message_id: int, size: int, placements: Iterable[tuple[int, int]], *,
              read: bool = False, read_copy: tuple[int, int] | None = None,
              when: datetime | None = None) -> None:
    """Put the message into folders: (account id, folder id) pairs, unread unless `read`, and
    `read_copy` (the author's own copy) read; one INSERT. The caller reserved the quota."""
    insert_items(item_rows(message_id, size, placements, read=read, read_copy=read_copy,
                           when=when))


def item_rows(message_id: int, size: int, placements: Iterable[tuple[int, int]], *,
              read: bool = False, read_copy: tuple[int, int] | None = None,
              when: datetime | None = None) -> list[dict]:
    """The rows `add_items` inserts, for gathering several messages' into one INSERT."""
    when = when or utcnow()
    common = {"message_id": message_id, "size": size, "is_flagged": False,
              "is_answered": False, "received_at": when}
    rows = [{**common, "account_id": account_id, "folder_id": folder_id, "is_read": read}
            for account_id, folder_id in placements]
    if read_copy:
        rows.append({**common, "account_id": read_copy[0], "folder_id": read_copy[1],
                     "is_read": True})
    return rows


def insert_items(rows: Sequence[dict]) -> None:
    insert_rows(MailboxItem.__table__, rows)


def item_of(account: Account, item_id: int) -> tuple[MailboxItem, MailMessage]:
    """One of the account's items and its message, indexed (read on the spot if the indexer
    has not come to it yet: mailgate/indexer.py)."""
    row = db.session.execute(
        select(MailboxItem, MailMessage).join(MailMessage, MailMessage.id == MailboxItem.message_id)
        .where(MailboxItem.id == item_id, MailboxItem.account_id == account.id)).first()
    if row is None:
        raise NotFound.of("message_missing")
    indexer.index_now(row[1])
    return row[0], row[1]


def delete_items(account: Account, item_ids: Iterable[int], *,
                 folder_id: int | None = None) -> int:
    """Remove for good (emptying the Corbeille): frees the quota, then removes the messages and
    attachments nobody references any more. Returns how many items went. `folder_id`: only
    those still in that folder (the Corbeille: one restored meanwhile in another tab stays).

    The DELETE says what went (RETURNING): of two requests deleting the same items at once
    (« Vider la Corbeille » clicked twice), the second waits for the first's row locks, then
    deletes nothing, so frees nothing and counts nothing (counted from the items read before,
    the quota was freed twice and went below zero)."""
    ids = set(item_ids)
    if not ids:
        return 0
    mine = [MailboxItem.id.in_(ids), MailboxItem.account_id == account.id]
    if folder_id is not None:
        mine.append(MailboxItem.folder_id == folder_id)
    rows = db.session.execute(delete(MailboxItem).where(*mine)
                              .returning(MailboxItem.message_id, MailboxItem.size)).all()
    if not rows:
        return 0
    db.session.execute(update(Mailbox).where(Mailbox.account_id == account.id)
                       .values(used_bytes=Mailbox.used_bytes - sum(r.size for r in rows)))
    collect_garbage({r.message_id for r in rows})
    return len(rows)


def collect_garbage(message_ids: Iterable[int]) -> None:
    """Delete those of the messages that no mailbox holds, no pending entry will send and no
    running fan-out still places (mailgate/fanout.py), then the blobs no attachment points at
    any more.

    On PostgreSQL the messages' rows are locked first (FOR NO KEY UPDATE, in id order): two
    holders deleting their last copies at once (each emptying their Corbeille) would each
    see the other's copy, not yet committed, and both keep the message, held by nobody for
    ever. Locked, the second waits for the first to commit, then sees its copy gone. The
    lock does not hold back a delivery: the FOR KEY SHARE that inserting an item or an entry
    takes on its message does not conflict with it."""
    ids = sorted(set(message_ids))
    if not ids:
        return
    dialect = dialect_name()
    if dialect == "postgresql":
        core(_lock_statement(), {"ids": ids})
    gone = set(core(_unreferenced_statement(dialect), {"ids": ids}).scalars())
    if not gone:
        return
    digests = set(db.session.scalars(select(MailAttachment.blob_sha256).where(
        MailAttachment.message_id.in_(gone))))
    db.session.execute(delete(MailAttachment).where(MailAttachment.message_id.in_(gone)))
    db.session.execute(delete(MailMessage).where(MailMessage.id.in_(gone)))
    if digests:
        used = exists().where(MailAttachment.blob_sha256 == MailBlob.sha256)
        db.session.execute(delete(MailBlob).where(MailBlob.sha256.in_(digests), ~used))


@lru_cache(maxsize=1)
def _lock_statement():
    """`collect_garbage`'s lock of the messages' rows (PostgreSQL only)."""
    message = MailMessage.__table__.c
    return (select(message.id).where(ids_parameter(message.id)).order_by(message.id)
            .with_for_update(key_share=True))


@lru_cache(maxsize=4)
def _unreferenced_statement(_dialect: str):
    """`collect_garbage`'s look for messages nothing references, built once per database:
    the outbound worker asks it after every batch."""
    message = MailMessage.__table__.c
    held = exists().where(MailboxItem.message_id == message.id)
    queued = exists().where(OutboundEntry.message_id == message.id,
                            OutboundEntry.state == EntryState.PENDING)
    fanning_out = exists().where(FanoutJob.message_id == message.id,
                                 FanoutJob.finished_at.is_(None))
    return select(message.id).where(ids_parameter(message.id), ~held, ~queued, ~fanning_out)
