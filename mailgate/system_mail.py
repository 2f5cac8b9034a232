"""Mail the portal itself writes (verification links, notices): stored and queued like any
outgoing mail, sent by the worker with a null envelope sender (never bounced back)."""
from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from directory.db import db

from . import headers, mime, queue, store
from .models import EntryKind, OutboundEntry
from .settings import current


def build(*, to: str, subject: str, body: str, domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Préau <ne-pas-repondre@{domain}>"
    message["To"] = to
    message["Subject"] = headers.one_line(subject)
    message["Date"] = headers.date_now()
    message["Message-ID"] = headers.new_message_id(domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def send(message: EmailMessage, *, account_id: int | None = None,
         author_id: int | None = None) -> None:
    """Queue `message` to its To address, in the caller's transaction (the caller commits).
    `account_id`: the account it is mailed for (its entry is then the account's, found by
    the account's index, and forgotten with the account, as a forward to its address).
    `author_id`: the member who had it mailed, to an address of their choosing (a
    verification link, portal/preferences.py), written as the entry's author; None for mail
    that anyone may cause (a password reset link, portal/password_reset.py). That tells the
    two apart in the queue. System mail is never reported on when it fails
    (bounces.report): its author is told nothing."""
    send_many([message], account_id=account_id, author_id=author_id)


def send_many(messages: list[EmailMessage], *, account_id: int | None = None,
              author_id: int | None = None,
              account_ids: list[int | None] | None = None) -> None:
    """`send` for many messages (an import's passwords): one INSERT of the messages and one
    of the queue entries, whatever their number. `account_ids`: each message's account, in
    order, where they are mailed for several (`account_id` is then unused)."""
    if not messages:
        return
    if account_ids is None:
        account_ids = [account_id] * len(messages)
    settings = current()
    stored_messages = []
    for message in messages:
        parsed = mime.parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
        block, message_id = headers.stored_header(parsed, author_from=None, received=None,
                                                  address_map={}, domain=settings.domain)
        stored_messages.append(store.NewMessage(parsed, block, message_id, None, True))
    ids = store.save_messages(stored_messages)
    queue.enqueue([{"kind": EntryKind.SYSTEM, "message_id": stored, "account_id": owner,
                    "author_id": author_id, "address": message["To"].addresses[0].addr_spec}
                   for stored, message, owner in zip(ids, messages, account_ids, strict=True)],
                  lifetime=settings.queue_lifetime)


#: A link is mailed to one address of an account at most once in this time, whoever asks (a
#: password reset link, a redirect address's verification link): the one already in that
#: mailbox stands meanwhile (portal/password_reset.py, portal/preferences.py).
MAIL_AGAIN_AFTER = timedelta(minutes=20)


def mailed_since(account_id: int, since: datetime, *,
                 asked_by_member: bool) -> list[tuple[datetime, str]]:
    """(when, address) of the system mail queued for the account since `since`, as its
    entries say (kept 30 days): with `asked_by_member`, the mail its member had sent to an
    address of their choosing (`send(author_id=…)`, the member as author: verification
    links); else the mail anyone may cause (no author: password reset links)."""
    entry = OutboundEntry
    author = entry.author_id == account_id if asked_by_member else entry.author_id.is_(None)
    return [tuple(row) for row in db.session.execute(
        select(entry.created_at, entry.address)
        .where(entry.account_id == account_id, entry.kind == EntryKind.SYSTEM, author,
               entry.created_at > since))]
