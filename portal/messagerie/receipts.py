"""Read receipts (accusé de réception).

The author asks for one with the standard `Disposition-Notification-To` field (kept in the
stored header, so an outside mail client's request is honoured as well). The reader is asked
each time they open the message until they answer, yes or no; the answer is kept on their
copy (`MailboxItem.receipt_answered`) and the question is never asked again. On yes, an
"Accusé de réception" naming the reader goes to the author through the routing like any
reply (`replying_to`: the reader may always answer the author).
"""
from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr

from flask_babel import gettext
from sqlalchemy import update

from directory.clock import utcnow
from directory.db import db
from directory.errors import InvalidInput
from directory.models import Account
from mailgate import headers, mime, routing, store
from mailgate.models import MailboxItem, MailMessage
from mailgate.settings import current

from . import display


def requested(message: MailMessage) -> bool:
    if message.author_id is None or message.automatic:
        return False
    fields, _body = mime.split(message.source)
    return any(f.key == "disposition-notification-to" for f in fields)


def should_ask(reader: Account, item: MailboxItem, message: MailMessage) -> bool:
    return (not item.receipt_answered and message.author_id != reader.id
            and requested(message))


def build(reader: Account, message: MailMessage) -> EmailMessage:
    """The receipt, written in the reader's language (as mail clients write theirs)."""
    settings = current()
    title = message.subject or gettext("(sans objet)")
    receipt = EmailMessage()
    receipt["From"] = formataddr((reader.full_name, settings.universal(reader.address)),
                                 charset="utf-8")
    receipt["To"] = formataddr((message.from_name, message.from_address), charset="utf-8")
    receipt["Subject"] = headers.one_line(
        gettext("Accusé de réception : %(subject)s", subject=title))
    receipt["Date"] = headers.date_now()
    receipt["Message-ID"] = headers.new_message_id(settings.domain)
    receipt["In-Reply-To"] = receipt["References"] = headers.one_line(
        message.message_id_header)
    receipt["Auto-Submitted"] = "auto-replied"
    receipt.set_content(gettext(
        "Votre message « %(subject)s » du %(sent)s a été lu par %(name)s (%(address)s) le "
        "%(read)s.", subject=title, sent=display.full_date(message.sent_at),
        name=reader.full_name, address=settings.universal(reader.address),
        read=display.full_date(utcnow())) + "\n", charset="utf-8")
    return receipt


def answer(reader: Account, item_id: int, send: bool) -> routing.RoutingResult | None:
    """Record the reader's answer and, on yes, send the receipt (the result of its routing).
    The answer is recorded by a conditional UPDATE before anything is sent: of two answers
    to the same question, even at the same time, only the first does anything."""
    item, message = store.item_of(reader, item_id)
    if not requested(message) or message.author_id == reader.id:
        raise InvalidInput(gettext("Ce message ne demande pas d'accusé de réception."))
    first = db.session.execute(update(MailboxItem).where(
        MailboxItem.id == item.id, MailboxItem.account_id == reader.id,
        MailboxItem.receipt_answered.is_(False)).values(receipt_answered=True)).rowcount
    if not first:
        raise InvalidInput(gettext("Vous avez déjà répondu à cette demande d'accusé de "
                                   "réception."))
    if not send:
        return None
    return routing.route(reader, [message.author_id], build(reader, message),
                         replying_to=message.id, save_copy=False)
