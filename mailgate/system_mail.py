"""Mail the portal itself writes (verification links, notices): stored and queued like any
outgoing mail, sent by the worker with a null envelope sender (never bounced back)."""
from __future__ import annotations

from email.message import EmailMessage

from . import headers, mime, queue, store
from .models import EntryKind
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
              author_id: int | None = None) -> None:
    """`send` for many messages (an import's passwords): one INSERT of the messages and one
    of the queue entries, whatever their number."""
    if not messages:
        return
    settings = current()
    stored_messages = []
    for message in messages:
        parsed = mime.parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
        block, message_id = headers.stored_header(parsed, author_from=None, received=None,
                                                  address_map={}, domain=settings.domain)
        stored_messages.append(store.NewMessage(parsed, block, message_id, None, True))
    ids = store.save_messages(stored_messages)
    queue.enqueue([{"kind": EntryKind.SYSTEM, "message_id": stored, "account_id": account_id,
                    "author_id": author_id, "address": message["To"].addresses[0].addr_spec}
                   for stored, message in zip(ids, messages, strict=True)],
                  lifetime=settings.queue_lifetime)
