"""Brouillons: a composition kept in the author's Drafts folder, to finish later — and the
state the compose page keeps while the picker is used without JavaScript.

A draft is a stored message like any other (so it counts in a student's quota), with two
fields of its own that only the draft carries and that are never sent: `X-Preau-Chip`, one
per recipient chip (`to:g:5`: a group stays a group), and `X-Preau-Options` (read receipt,
copy, the message answered). Saving again replaces the previous version.

`save` writes through the store's functions (`save_message`, `reserve`, `add_items`,
`delete_items`) but builds its own header block, since the routing's stored header keeps
only standard fields; it could move to `mailgate.store` as `save_draft`.
"""
from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import select

from directory.db import db
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from mailgate import mime, store
from mailgate.models import FolderKind, MailAttachment, MailboxItem
from mailgate.settings import current

from . import compose, mailbox, recipients
from .compose import Composition

CHIP_FIELD = "x-preau-chip"
OPTIONS_FIELD = "x-preau-options"


def drafts_folder_id(author: Account) -> int:
    return store.system_folders([author.id], FolderKind.DRAFTS)[author.id]


def draft_item(author: Account, item_id: int) -> MailboxItem:
    item, _message = store.item_of(author, item_id)
    if item.folder_id != drafts_folder_id(author):
        raise NotFound("Ce brouillon n'existe pas.")
    return item


def save(author: Account, comp: Composition) -> int:
    """Store the composition as a draft (replacing `comp.draft_item`); returns its item id."""
    compose.check_text(comp)
    files = compose.files_of(author, comp)
    message = compose.build(author, comp, files, draft=True)
    parsed = mime.parse(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    block = b"".join(f.raw for f in parsed.fields if f.key != "bcc") + b"\r\n"
    if comp.draft_item is not None:
        store.delete_items(author, [draft_item(author, comp.draft_item).id])
    folder = drafts_folder_id(author)
    limit = current().quota_bytes if mailbox.has_inbox(author) else None
    if not store.reserve([author.id], parsed.size, limit):
        raise InvalidInput(gettext("Votre espace de stockage est plein : le brouillon n'est "
                                   "pas enregistré. Supprimez des messages et videz la "
                                   "Corbeille."))
    bcc = ", ".join(f"{n} <{a}>" if n else a for n, a in parsed.addresses("bcc"))
    message_id = store.save_message(parsed, block, message_id=parsed.message_id,
                                    author_id=author.id, bcc_display=bcc)
    store.add_items(message_id, parsed.size, [(author.id, folder)], read=True)
    return db.session.scalar(select(MailboxItem.id).where(
        MailboxItem.message_id == message_id, MailboxItem.account_id == author.id))


def load(author: Account, item_id: int) -> Composition:
    """The composition a draft holds. Chips whose group is gone or no longer visible, and an
    answered message that was deleted since, are left out."""
    item = draft_item(author, item_id)
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
    reply_item = int(reply) if reply.isdigit() and len(reply) < 11 else None
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
