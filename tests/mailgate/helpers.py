"""Building messages and reading the store in mail gateway tests."""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

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
    the gateway stored raw: what a reader sees once the indexing lag has passed. Whatever
    their time of storage: `indexer.index_left` takes only those stored before now, and a
    test that travelled in time (test_automations) stores messages in the future."""
    deadline = time.monotonic() + seconds
    while True:
        db.session.rollback()
        waiting = db.session.scalars(select(MailMessage.id).where(
            MailMessage.indexed_at.is_(None)).order_by(MailMessage.id).limit(indexer.BATCH)
        ).all()
        if not waiting:
            return
        assert time.monotonic() < deadline, \
            f"messages {waiting[:5]}… still not indexed\n{_open_transactions()}"
        if db.session.get_bind().dialect.name == "postgresql":     # a row held elsewhere:
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))   # said, not waited on
        try:
            indexer.index_ids(waiting)
        except OperationalError:
            pass
        time.sleep(0.02)


def _open_transactions() -> str:
    """PostgreSQL: the other sessions of this database in a transaction, and their query."""
    if db.session.get_bind().dialect.name != "postgresql":
        return ""
    db.session.rollback()
    rows = db.session.execute(text(
        "SELECT pid, state, xact_start, left(query, 200) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND xact_start IS NOT NULL")).all()
    return "\n".join(str(tuple(row)) for row in rows)


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


def run_in_own_loop(coroutine, seconds: float = 60):
    """`asyncio.run(coroutine)` in a thread of its own, its result or its exception: under
    xdist another test of this process may have left an event loop marked running in the
    main thread, where asyncio.run() refuses to start."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as error:     # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if "error" in outcome:
        raise outcome["error"]
    assert "result" in outcome, f"still running after {seconds} s"
    return outcome["result"]
