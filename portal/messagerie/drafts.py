"""Brouillons: a composition kept in the author's Drafts folder, to finish later — and the
state the compose page keeps while the picker is used without JavaScript.

A draft is a stored message like any other (so it counts in a student's quota), with two
fields of its own that only the draft carries and that are never sent: `X-Preau-Chip`, one
per recipient chip (`to:g:5`: a group stays a group), and `X-Preau-Options` (read receipt,
copy, the message answered). Saving again replaces the previous version, and so does the
same form saved twice at once (a double click): its draft is found by its Message-ID, drawn
from the form's key (`compose.build`, `mailbox.save_draft`).

`save` builds the message and keeps it through `mailgate.mailbox.save_draft`.
"""
from __future__ import annotations

from sqlalchemy import select

from directory.db import db
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from directory.search import id_from
from mailgate import mailbox, mime, store
from mailgate.models import MailAttachment

from . import compose, recipients
from .compose import Composition

CHIP_FIELD = "x-preau-chip"
OPTIONS_FIELD = mailbox.DRAFT_FIELD.lower()     # also what marks a draft


def save(author: Account, comp: Composition) -> int:
    """Store the composition as a draft (replacing `comp.draft_item`); returns its item id."""
    compose.check_text(comp)
    files = compose.files_of(author, comp)
    message = compose.build(author, comp, files, draft=True)
    return mailbox.save_draft(author, message, replacing=comp.draft_item)


def load(author: Account, item_id: int) -> Composition:
    """The composition a draft holds. Chips whose group is gone or no longer visible, and an
    answered message that was deleted since, are left out."""
    item = mailbox.draft_item(author, item_id)
    message = store.item_of(author, item.id)[1]
    fields, _body = mime.split(message.source)
    entries = []
    for f in fields:
        if f.key == CHIP_FIELD:
            try:
                entries.append(recipients.parse_full(f.value.strip()))
            except InvalidInput:
                continue
    options = _options(next((f.value for f in fields if f.key == OPTIONS_FIELD), ""))
    reply = options.get("reply", "")
    reply_item = id_from(reply)
    if reply_item is not None and _missing(author, reply_item):
        reply_item = None
    kept = list(db.session.scalars(select(MailAttachment.id).where(
        MailAttachment.message_id == message.id).order_by(MailAttachment.position)))
    return Composition(
        chips=recipients.resolve(author, entries, drop_missing=True), subject=message.subject,
        body=message.text_body.replace("\r\n", "\n").rstrip("\n"),
        receipt=options.get("receipt") == "1", copy=options.get("copy", "1") == "1",
        reply_item=reply_item, source_item=item.id, kept=kept, draft_item=item.id)


def _options(value: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in value.split(";"))
    return {key: setting for key, _, setting in pairs if key}


def _missing(author: Account, item_id: int) -> bool:
    try:
        store.item_of(author, item_id)
    except NotFound:
        return True
    return False
