"""The message store: one row per message, one reference per mailbox, quota counted in SQL.

Attachments are kept **in the database** (table mail_blob, addressed by SHA-256), not as files
under the instance folder, because:
- SPEC §10 runs N gateways, workers and web processes on several machines in front of one
  PostgreSQL: a file under one machine's instance folder is not seen by the others;
- a message, its attachments, its mailbox references and its queue entries are then written in
  one transaction, so "250 only after commit" covers the attachments too, and a crash leaves
  neither orphan files nor references to missing ones;
- removal is a DELETE in the transaction that drops the last reference (see collect_garbage),
  not a file sweep racing with deliveries. Content addressing still stores a file forwarded
  or sent twice once. The cost is database size, which backups and PostgreSQL's TOAST handle.

Every function here works in the caller's transaction and never commits.
Quota: `mailbox.used_bytes` is the sum of the sizes of the account's items, maintained by the
functions below (and only them: other modules must not insert or delete items themselves);
`recount_usage` recomputes it from the items, to check or repair.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    event,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from directory.clock import utcnow
from directory.db import db
from directory.errors import InvalidInput, NotFound
from directory.models import Account

from . import headers, mime
from .cache import FOLDER_TTL, TimedCache
from .fanout_models import FanoutJob
from .models import (
    SYSTEM_FOLDERS,
    EntryState,
    FolderKind,
    MailAttachment,
    MailBlob,
    Mailbox,
    MailboxItem,
    MailFolder,
    MailMessage,
    OutboundEntry,
    SenderCheck,
)

# System folder ids never change while the account lives: remembered for a minute, once the
# transaction that saw (or created) them has committed; keyed by database too, since one
# process may serve two (the tests' live portal beside their gateway).
_folder_ids = TimedCache(FOLDER_TTL)
_PENDING = "preau.folder_ids"


def remember_folders(app) -> None:
    """Turn the memory on for `app` (the gateway's): never for the web app, whose tests roll
    back committed work and would leave ids of folders that no longer exist."""
    app.extensions[_PENDING] = True


def _remembering() -> bool:
    from flask import current_app

    return bool(current_app.extensions.get(_PENDING))


@event.listens_for(Session, "after_commit")
def _remember_folders(session) -> None:
    for key, folder_id in session.info.pop(_PENDING, {}).items():
        _folder_ids.put(key, folder_id)


@event.listens_for(Session, "after_rollback")
def _forget_folders(session) -> None:
    session.info.pop(_PENDING, None)


def insert_ignoring_duplicates(model):
    """INSERT … ON CONFLICT DO NOTHING on both databases."""
    dialect = sqlite if db.session.get_bind().dialect.name == "sqlite" else postgresql
    return dialect.insert(model).on_conflict_do_nothing()


def core(statement, rows: Sequence[dict] | None = None):
    """Run a Core statement on the session's connection, in its transaction, after a flush.
    Skips the ORM's per-statement machinery (about 0.4 ms a statement), which the gateway's
    group commit would otherwise pay several times per batch."""
    db.session.flush()
    connection = db.session.connection()
    return connection.execute(statement) if rows is None else connection.execute(statement, rows)


def write_lock() -> None:
    """On SQLite, take the database's write lock as the transaction's first statement (what
    BEGIN IMMEDIATE does). In WAL mode a transaction that reads and then writes fails at once
    with "database is locked" when another process wrote in between; one that takes the lock
    first waits its turn (busy_timeout). A no-op on PostgreSQL."""
    if db.session.get_bind().dialect.name == "sqlite":
        core(text("UPDATE mailbox SET used_bytes = used_bytes WHERE 0"))


# --- folders -------------------------------------------------------------------------------

def system_folders(account_ids: Iterable[int], kind: FolderKind) -> dict[int, int]:
    """account id → id of its `kind` system folder, created (with the mailbox) when missing."""
    ids = set(account_ids)
    if not ids:
        return {}
    remember = _remembering()
    database = db.session.get_bind().engine.url
    if remember:
        known = {i: _folder_ids.get((database, i, kind)) for i in ids}
        if all(known.values()):
            return known
    folder = MailFolder.__table__.c
    query = select(folder.account_id, folder.id).where(
        folder.account_id.in_(ids), folder.kind == kind.value, folder.name == kind.value)
    found = dict(db.session.execute(query).all())
    missing = ids - found.keys()
    if missing:
        now = utcnow()
        db.session.execute(insert_ignoring_duplicates(Mailbox),
                           [{"account_id": i, "used_bytes": 0} for i in missing])
        db.session.execute(insert_ignoring_duplicates(MailFolder),
                           [{"account_id": i, "kind": kind, "name": kind.value,
                             "created_at": now} for i in missing])
        found.update(db.session.execute(query.where(folder.account_id.in_(missing))).all())
    if remember:
        db.session.info.setdefault(_PENDING, {}).update(
            {(database, account_id, kind): folder_id for account_id, folder_id in found.items()})
    return found


def folders(account: Account) -> list[MailFolder]:
    """The account's folders: system folders in their usual order, then its own by name."""
    rows = db.session.scalars(select(MailFolder).where(MailFolder.account_id == account.id))
    order = {kind: n for n, kind in enumerate(SYSTEM_FOLDERS)}
    return sorted(rows, key=lambda f: (order.get(f.kind, len(order)), f.name.lower()))


def folder_of(account: Account, folder_id: int) -> MailFolder:
    folder = db.session.scalar(select(MailFolder).where(
        MailFolder.id == folder_id, MailFolder.account_id == account.id))
    if folder is None:
        raise NotFound("Ce dossier n'existe pas.")
    return folder


def create_folder(account: Account, name: str) -> MailFolder:
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise InvalidInput("Le nom du dossier doit compter de 1 à 120 caractères.")
    if db.session.scalar(select(MailFolder.id).where(
            MailFolder.account_id == account.id, MailFolder.kind == FolderKind.USER,
            func.lower(MailFolder.name) == name.lower())):
        raise InvalidInput(f"Vous avez déjà un dossier « {name} ».")
    system_folders([account.id], FolderKind.INBOX)
    folder = MailFolder(account_id=account.id, kind=FolderKind.USER, name=name,
                        created_at=utcnow())
    db.session.add(folder)
    db.session.flush()
    return folder


def delete_folder(account: Account, folder_id: int) -> None:
    """An own folder only; its messages go to the Corbeille."""
    folder = folder_of(account, folder_id)
    if folder.kind != FolderKind.USER:
        raise InvalidInput("Les dossiers du système ne peuvent pas être supprimés.")
    trash = system_folders([account.id], FolderKind.TRASH)[account.id]
    db.session.execute(update(MailboxItem).where(MailboxItem.folder_id == folder.id)
                       .values(folder_id=trash))
    db.session.delete(folder)


# --- quota ---------------------------------------------------------------------------------

def reserve(account_ids: Iterable[int], size: int, quota: int | None) -> set[int]:
    """Add `size` to each account's usage when it fits in `quota` (None: no limit); returns the
    accounts it was added to. One conditional UPDATE: concurrent deliveries cannot overshoot."""
    ids = set(account_ids)
    if not ids:
        return set()
    table = Mailbox.__table__.c      # Core columns: no ORM bookkeeping on the hot path
    condition = table.account_id.in_(ids)
    if quota is not None:
        condition = and_(condition, table.used_bytes + size <= quota)
    statement = update(Mailbox.__table__).where(condition).values(
        used_bytes=table.used_bytes + size)
    return set(db.session.scalars(statement.returning(table.account_id)))


def lock_usage(account_ids: Iterable[int]) -> dict[int, int]:
    """account id → bytes used, the rows locked until commit (FOR UPDATE on PostgreSQL, in
    account order so that two writers never wait on each other crosswise; SQLite's writer
    already holds the database lock, see `write_lock`). For deciding quota of several
    messages at once in Python, then `add_usage`."""
    ids = set(account_ids)
    if not ids:
        return {}
    table = Mailbox.__table__.c
    return dict(core(
        select(table.account_id, table.used_bytes).where(table.account_id.in_(ids))
        .order_by(table.account_id).with_for_update()).all())


def add_usage(added: dict[int, int]) -> None:
    """used_bytes += bytes, per account: one statement, executed once per account."""
    rows = [{"who": account_id, "bytes": size} for account_id, size in added.items() if size]
    if rows:
        table = Mailbox.__table__
        core(update(table).where(table.c.account_id == bindparam("who"))
             .values(used_bytes=table.c.used_bytes + bindparam("bytes")), rows)


def usage(account_id: int) -> int:
    return db.session.scalar(select(Mailbox.used_bytes).where(
        Mailbox.account_id == account_id)) or 0


def full_mailboxes(account_ids: Iterable[int], quota: int, incoming: int = 0) -> set[int]:
    """Accounts whose usage leaves no room for `incoming` bytes (at least one)."""
    ids = set(account_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Mailbox.account_id).where(
        Mailbox.account_id.in_(ids), Mailbox.used_bytes + max(incoming, 1) > quota)))


def recount_usage(account_id: int) -> int:
    """Recompute the counter from the items (the SUM the counter must always equal)."""
    total = db.session.scalar(select(func.coalesce(func.sum(MailboxItem.size), 0)).where(
        MailboxItem.account_id == account_id))
    db.session.execute(update(Mailbox).where(Mailbox.account_id == account_id)
                       .values(used_bytes=total))
    return total


# --- messages ------------------------------------------------------------------------------

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
    """`save_message` for several messages in one INSERT; their ids in the same order."""
    if not messages:
        return []
    now = utcnow()
    table = MailMessage.__table__
    ids = list(core(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                    [_message_row(m, now) for m in messages]).scalars())
    for stored, message in zip(ids, messages, strict=True):
        if message.parsed.attachments:
            _save_attachments(stored, message.parsed.attachments)
    return ids


def _message_row(message: NewMessage, now: datetime) -> dict:
    parsed = message.parsed
    to_display, cc_display = (", ".join(
        _display(headers.shown(name, address, message.address_map or {}, message.names or {}))
        for name, address in parsed.addresses(field_name)) for field_name in ("to", "cc"))
    senders = parsed.addresses("from")
    from_name, from_address = message.sender or (senders[0] if senders else ("", ""))
    return {
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
        "source": message.header_block + parsed.body}


def _display(pair: tuple[str, str]) -> str:
    name, address = pair
    return f"{name} <{address}>" if name else address


def _save_attachments(message_id: int, attachments: Sequence[mime.AttachmentData]) -> None:
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
    if rows:
        core(MailboxItem.__table__.insert(), rows)


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
        raise NotFound("Cette pièce jointe n'existe pas.")
    return AttachmentContent(row.filename, row.content_type, row.data)


# --- a mailbox as the messagerie shows it --------------------------------------------------

@dataclass(frozen=True)
class ListedMessage:
    item_id: int
    message_id: int
    subject: str
    from_name: str
    from_address: str
    to_display: str
    sent_at: datetime
    received_at: datetime
    size: int
    is_read: bool
    is_flagged: bool
    is_answered: bool
    has_attachments: bool


@dataclass(frozen=True)
class Page:
    items: list[ListedMessage]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def folder_page(account: Account, folder_id: int, page: int = 1, per_page: int = 50) -> Page:
    """One page of a folder, newest first, and the folder's total: one query (the total is a
    window count over the same rows), whatever the size of the mailbox."""
    page, per_page = max(1, page), max(1, min(per_page, 200))
    rows = db.session.execute(
        select(MailboxItem.id, MailboxItem.message_id, MailMessage.subject,
               MailMessage.from_name, MailMessage.from_address, MailMessage.to_display,
               MailMessage.sent_at, MailboxItem.received_at, MailboxItem.size,
               MailboxItem.is_read, MailboxItem.is_flagged, MailboxItem.is_answered,
               MailMessage.has_attachments, func.count().over().label("total"))
        .join(MailMessage, MailMessage.id == MailboxItem.message_id)
        .where(MailboxItem.folder_id == folder_id, MailboxItem.account_id == account.id)
        .order_by(MailboxItem.received_at.desc(), MailboxItem.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    total = rows[0].total if rows else _count(account, folder_id) if page > 1 else 0
    return Page([ListedMessage(*row[:-1]) for row in rows], total, page, per_page)


def _count(account: Account, folder_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(MailboxItem).where(
        MailboxItem.folder_id == folder_id, MailboxItem.account_id == account.id))


def folder_counts(account: Account) -> dict[int, tuple[int, int]]:
    """folder id → (messages, unread), one grouped query."""
    rows = db.session.execute(
        select(MailboxItem.folder_id, func.count(),
               func.sum(case((MailboxItem.is_read.is_(False), 1), else_=0)))
        .where(MailboxItem.account_id == account.id).group_by(MailboxItem.folder_id))
    return {folder: (count, int(unread or 0)) for folder, count, unread in rows}


def item_of(account: Account, item_id: int) -> tuple[MailboxItem, MailMessage]:
    row = db.session.execute(
        select(MailboxItem, MailMessage).join(MailMessage, MailMessage.id == MailboxItem.message_id)
        .where(MailboxItem.id == item_id, MailboxItem.account_id == account.id)).first()
    if row is None:
        raise NotFound("Ce message n'existe pas.")
    return row[0], row[1]


def mark_read(account: Account, item_ids: Iterable[int], read: bool = True) -> None:
    db.session.execute(update(MailboxItem).where(
        MailboxItem.id.in_(set(item_ids)), MailboxItem.account_id == account.id)
        .values(is_read=read))


def move_items(account: Account, item_ids: Iterable[int], folder_id: int) -> None:
    folder_of(account, folder_id)
    db.session.execute(update(MailboxItem).where(
        MailboxItem.id.in_(set(item_ids)), MailboxItem.account_id == account.id)
        .values(folder_id=folder_id))


def delete_items(account: Account, item_ids: Iterable[int]) -> int:
    """Remove for good (emptying the Corbeille): frees the quota, then removes the messages and
    attachments nobody references any more. Returns how many items went."""
    mine = and_(MailboxItem.id.in_(set(item_ids)), MailboxItem.account_id == account.id)
    rows = db.session.execute(select(MailboxItem.message_id, MailboxItem.size).where(mine)).all()
    if not rows:
        return 0
    db.session.execute(delete(MailboxItem).where(mine))
    db.session.execute(update(Mailbox).where(Mailbox.account_id == account.id)
                       .values(used_bytes=Mailbox.used_bytes - sum(r.size for r in rows)))
    collect_garbage({r.message_id for r in rows})
    return len(rows)


def collect_garbage(message_ids: Iterable[int]) -> None:
    """Delete those of the messages that no mailbox holds, no pending entry will send and no
    running fan-out still places (mailgate/fanout.py), then the blobs no attachment points at
    any more."""
    ids = set(message_ids)
    if not ids:
        return
    held = exists().where(MailboxItem.message_id == MailMessage.id)
    queued = exists().where(OutboundEntry.message_id == MailMessage.id,
                            OutboundEntry.state == EntryState.PENDING)
    fanning_out = exists().where(FanoutJob.message_id == MailMessage.id,
                                 FanoutJob.finished_at.is_(None))
    gone = set(db.session.scalars(select(MailMessage.id).where(
        MailMessage.id.in_(ids), ~held, ~queued, ~fanning_out)))
    if not gone:
        return
    digests = set(db.session.scalars(select(MailAttachment.blob_sha256).where(
        MailAttachment.message_id.in_(gone))))
    db.session.execute(delete(MailAttachment).where(MailAttachment.message_id.in_(gone)))
    db.session.execute(delete(MailMessage).where(MailMessage.id.in_(gone)))
    if digests:
        used = exists().where(MailAttachment.blob_sha256 == MailBlob.sha256)
        db.session.execute(delete(MailBlob).where(MailBlob.sha256.in_(digests), ~used))
