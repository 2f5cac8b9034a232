"""Read receipts (accusé de réception).

The author asks for one with the standard `Disposition-Notification-To` field (kept in the
stored header, so an outside mail client's request is honoured as well). The reader is asked
once: when they open the message for the first time (it was unread) — and never again once a
receipt went out. On yes, an "Accusé de réception" naming the reader goes to the author
through the routing like any reply (`replying_to`: the reader may always answer the author).
"""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from sqlalchemy import exists, select

from directory.clock import utcnow
from directory.db import db
from directory.errors import InvalidInput
from directory.models import Account
from mailgate import mime, routing, store
from mailgate.models import MailMessage
from mailgate.settings import current

from . import display

SUBJECT_PREFIX = "Accusé de réception"


def requested(message: MailMessage) -> bool:
    if message.author_id is None or message.automatic:
        return False
    fields, _body = mime.split(message.source)
    return any(f.key == "disposition-notification-to" for f in fields)


def already_sent(reader: Account, message: MailMessage) -> bool:
    return bool(db.session.scalar(select(exists().where(
        MailMessage.author_id == reader.id,
        MailMessage.in_reply_to == message.message_id_header,
        MailMessage.subject.startswith(SUBJECT_PREFIX)))))


def should_ask(reader: Account, message: MailMessage, *, was_unread: bool) -> bool:
    return (was_unread and message.author_id != reader.id and requested(message)
            and not already_sent(reader, message))


def build(reader: Account, message: MailMessage) -> EmailMessage:
    settings = current()
    title = message.subject or "(sans objet)"
    receipt = EmailMessage()
    receipt["From"] = formataddr((reader.full_name, settings.universal(reader.address)),
                                 charset="utf-8")
    receipt["To"] = formataddr((message.from_name, message.from_address), charset="utf-8")
    receipt["Subject"] = f"{SUBJECT_PREFIX} : {title}"
    receipt["Date"] = formatdate(localtime=True)
    receipt["Message-ID"] = make_msgid(domain=settings.domain)
    receipt["In-Reply-To"] = message.message_id_header
    receipt["References"] = message.message_id_header
    receipt["Auto-Submitted"] = "auto-replied"
    receipt.set_content(
        f"Votre message « {title} » du {display.full_date(message.sent_at)} a été lu par "
        f"{reader.full_name} ({settings.universal(reader.address)}) le "
        f"{display.full_date(utcnow())}.\n", charset="utf-8")
    return receipt


def send(reader: Account, item_id: int) -> routing.RoutingResult:
    """Send the receipt the author of the reader's message asked for (once)."""
    _item, message = store.item_of(reader, item_id)
    if not requested(message) or message.author_id == reader.id:
        raise InvalidInput("Ce message ne demande pas d'accusé de réception.")
    if already_sent(reader, message):
        raise InvalidInput("L'accusé de réception de ce message a déjà été envoyé.")
    return routing.route(reader, [message.author_id], build(reader, message),
                         replying_to=message.id, save_copy=False)
