"""Writing a message: what the compose form holds, the message it becomes, and sending it
through the one routing path (`mailgate.routing`), callable without a request.

Sending asks `routing.check` once (read-only), so that a recipient one may not write to, an
unknown one or more than 50 people is a clear form error and nothing is sent at all; then
`routing.deliver` stores and delivers on that judgement, and its per-recipient result is what
the author sees — the same result the SMTP path turns into reply codes. Replies, reply-all and forwards start
from a message the author holds (`store.item_of`: anyone else's is NotFound).

A form is sent once: its sending key (`Composition.key`, drawn when the page was shown)
becomes the Message-ID of what it sends, and a send runs under the author's lock
(`mailbox.lock_writing`), so the same form sent twice (a double click) finds its message
sent (`AlreadySent`), and a draft sent twice finds it gone (NotFound). Saved as a draft, the
same form is kept once: the draft's Message-ID comes from the key too (another one), and
`mailbox.save_draft`, under the same lock, replaces the draft of that Message-ID.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses

from flask_babel import gettext, ngettext
from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from directory.db import db
from directory.errors import InvalidInput, NotFound
from directory.models import Account
from mailgate import compose as mail_compose
from mailgate import mailbox, mime, routing, store
from mailgate.models import MailAttachment, MailBlob, MailboxItem, MailMessage
from mailgate.settings import MB, current

from ..i18n import said
from . import display, recipients
from .recipients import Chip

SUBJECT_MAX = 250
BODY_MAX = 200_000
MAX_UPLOADS = 20
BLOCKING = (routing.Refusal.NOT_ALLOWED, routing.Refusal.SUSPENDED, routing.Refusal.UNKNOWN,
            routing.Refusal.NOT_LOCAL, routing.Refusal.TOO_MANY, routing.Refusal.TOO_LARGE)
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Composition:
    chips: list[Chip] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    receipt: bool = False
    copy: bool = True
    reply_item: int | None = None       # the item answered (its author may be written to)
    source_item: int | None = None      # the draft or forwarded message whose files are kept
    kept: list[int] = field(default_factory=list)   # attachment ids of the source message
    uploads: list[Upload] = field(default_factory=list)
    draft_item: int | None = None       # the draft this composition replaces
    key: str | None = None              # the form's sending key (see the module's docstring)


class AlreadySent(Exception):
    """The form of this sending key was sent already: nothing is sent again. `item_id`: the
    author's own copy of the message it sent (None: they kept none)."""

    def __init__(self, item_id: int | None):
        super().__init__(item_id)
        self.item_id = item_id


def attachment_limit() -> int:
    """Files are sent in base64 (4 bytes for 3): what fits in the message size limit."""
    return current().max_message_bytes * 3 // 4 // MB * MB


def check_text(comp: Composition) -> None:
    if len(comp.subject) > SUBJECT_MAX:
        raise InvalidInput(gettext("L'objet dépasse %(max)d caractères.", max=SUBJECT_MAX))
    if len(comp.body) > BODY_MAX:
        raise InvalidInput(gettext("Le texte dépasse %(max)d caractères.", max=BODY_MAX))
    if len(comp.uploads) + len(comp.kept) > MAX_UPLOADS:
        raise InvalidInput(ngettext("%(num)d pièce jointe au plus.",
                                    "%(num)d pièces jointes au plus.", MAX_UPLOADS))


def upload(filename: str, content_type: str, data: bytes) -> Upload:
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", (filename or "").rsplit("/", 1)[-1]
                  .rsplit("\\", 1)[-1]).strip()[:255] or "piece-jointe"
    kind = (content_type or "").split(";")[0].strip().lower()
    return Upload(name, kind if _MIME_TYPE.match(kind) else "application/octet-stream", data)


# Attachments kept from a draft or a forwarded message -----------------------------------

def source_attachments(account: Account, item_id: int) -> list[MailAttachment]:
    item, _message = store.item_of(account, item_id)
    return list(db.session.scalars(select(MailAttachment).where(
        MailAttachment.message_id == item.message_id).order_by(MailAttachment.position)))


def kept_uploads(account: Account, comp: Composition) -> list[Upload]:
    if not comp.kept:
        return []
    if comp.source_item is None:
        raise NotFound("Cette pièce jointe n'existe pas.")
    item, _message = store.item_of(account, comp.source_item)
    rows = db.session.execute(
        select(MailAttachment.id, MailAttachment.filename, MailAttachment.content_type,
               MailBlob.data).join(MailBlob, MailBlob.sha256 == MailAttachment.blob_sha256)
        .where(MailAttachment.message_id == item.message_id,
               MailAttachment.id.in_(comp.kept))
        .order_by(MailAttachment.position)).all()
    if len(rows) != len(set(comp.kept)):
        raise NotFound("Cette pièce jointe n'existe pas.")
    return [upload(r.filename, r.content_type, r.data) for r in rows]


# The message --------------------------------------------------------------------------

def _accounts(ids: list[int]) -> list[Account]:
    found = {a.id: a for a in db.session.scalars(
        select(Account).where(Account.id.in_(ids)).options(lazyload(Account.role_overrides)))}
    return [found[i] for i in ids if i in found]


def build(author: Account, comp: Composition, files: list[Upload], *,
          draft: bool = False) -> EmailMessage:
    """The message as the routing takes it (`mailgate.compose` writes it). A draft also
    records its chips and options, for itself."""
    placed = recipients.recipients_by_field(comp.chips)
    replied = _replied_message(author, comp)
    message = mail_compose.compose(
        author, to=_accounts(placed["to"]), cc=_accounts(placed["cc"]),
        bcc=_accounts(placed["bcc"]), subject=comp.subject, text=comp.body or "",
        attachments=[(f.filename, f.content_type, f.data) for f in files],
        in_reply_to=replied.message_id_header if replied else "",
        references=replied.references if replied else "", read_receipt=comp.receipt)
    if comp.key:
        message.replace_header("Message-ID", _message_id(author, comp.key, draft=draft))
    if draft:
        for chip in comp.chips:
            message["X-Preau-Chip"] = chip.full_token
        message[mailbox.DRAFT_FIELD] = (
            f"receipt={int(comp.receipt)}; copy={int(comp.copy)}; reply={comp.reply_item or ''}")
    return message


def _message_id(author: Account, key: str, *, draft: bool = False) -> str:
    """The Message-ID of what the form of `key` sends, or of the draft it saves: another
    one, or `check_not_sent` would take the draft for the message sent."""
    text = f"{author.id}\n{key}" + ("\ndraft" if draft else "")
    digest = hashlib.sha256(text.encode()).hexdigest()[:48]
    return f"<{digest}@{current().domain}>"


def check_not_sent(author: Account, comp: Composition) -> None:
    """AlreadySent when the author has sent the form of `comp.key` already."""
    if not comp.key:
        return
    message_id = db.session.scalar(select(MailMessage.id).where(
        MailMessage.author_id == author.id,
        MailMessage.message_id_header == _message_id(author, comp.key)).limit(1))
    if message_id is not None:
        raise AlreadySent(db.session.scalar(select(MailboxItem.id).where(
            MailboxItem.message_id == message_id, MailboxItem.account_id == author.id)
            .order_by(MailboxItem.id).limit(1)))


def _replied_message(author: Account, comp: Composition) -> MailMessage | None:
    if comp.reply_item is None:
        return None
    return store.item_of(author, comp.reply_item)[1]


def files_of(author: Account, comp: Composition) -> list[Upload]:
    files = kept_uploads(author, comp) + comp.uploads
    total = sum(len(f.data) for f in files)
    limit = attachment_limit()
    if total > limit:
        raise InvalidInput(gettext("Les pièces jointes font %(total)s : %(limit)s au plus "
                                   "par message.", total=display.size_text(total),
                                   limit=display.size_text(limit)))
    return files


# Sending ------------------------------------------------------------------------------

@dataclass
class Sent:
    result: routing.RoutingResult
    notices: list[str]


def send(author: Account, comp: Composition) -> Sent:
    """Check everything, then route. Raises InvalidInput (nothing sent) for what the author
    must fix, AlreadySent or NotFound (its draft gone) for a form sent already; otherwise
    returns the routing's per-recipient result."""
    mailbox.lock_writing(author)
    check_not_sent(author, comp)
    check_text(comp)
    if not comp.chips:
        raise InvalidInput(gettext("Ajoutez au moins un destinataire."))
    recipients.check_count(comp.chips)
    files = files_of(author, comp)
    parsed = routing.as_parsed(build(author, comp, files))
    replied = _replied_message(author, comp)
    targets = [i for ids in recipients.recipients_by_field(comp.chips).values() for i in ids]
    decisions = routing.check(author, targets, replying_to=replied.id if replied else None,
                              incoming_size=parsed.size)
    blocking = [d.result for d in decisions if d.result.refusal in BLOCKING]
    if blocking:
        raise _not_sent(blocking)
    student = mailbox.has_inbox(author)
    draft_gone = _drop_sent_draft(author, comp, decisions)
    result = routing.deliver(author, parsed, decisions, save_copy=comp.copy or not student,
                             copy_to_self=comp.copy and not student)
    if draft_gone and result.message_id is None:
        # The mailboxes `check` found open filled up meanwhile (another transaction, on
        # PostgreSQL): nothing is sent, and the rollback gives the draft back.
        raise _not_sent(result.refused)
    notices = [said(notice) for notice in result.notices]
    if comp.copy and not student and not author.verified_redirect:
        notices.append(gettext("Vous n'avez pas d'adresse de redirection vérifiée : la copie "
                               "n'a pas pu vous être envoyée."))
    if result.message_id is not None and comp.reply_item is not None:
        db.session.execute(update(MailboxItem).where(
            MailboxItem.id == comp.reply_item, MailboxItem.account_id == author.id)
            .values(is_answered=True))
    return Sent(result, notices)


def _not_sent(refused: list[routing.RecipientResult]) -> InvalidInput:
    reasons = dict.fromkeys(said(r.why) for r in refused)
    return InvalidInput(gettext("Le message n'est pas envoyé : %(reasons)s.",
                                reasons=" ; ".join(reasons)))


def _drop_sent_draft(author: Account, comp: Composition,
                     decisions: list[routing.Decision]) -> bool:
    """Delete the draft being sent before its message is delivered, when someone will receive
    it: the copy in Messages envoyés takes its place, and the quota must not count both (a
    nearly full mailbox refused the copy while the draft went). Its files were read already.
    Whether it went; NotFound when it had gone already (sent by the same form a moment
    before: the author's lock makes the second send wait for the first)."""
    if comp.draft_item is None or not any(d.result.accepted for d in decisions):
        return False
    if not store.delete_items(author, [comp.draft_item]):
        raise NotFound.of("draft_missing")
    return True


# Replies and forwards -----------------------------------------------------------------

def _plain_text(message: MailMessage) -> str:
    """The message's text, for quoting: an HTML-only message's with its tags dropped
    (mime.body_text), for a text/plain body and a textarea (which escapes)."""
    return mime.body_text(message.text_body, message.html_body)


def _prefixed(prefix: str, subject: str) -> str:
    if re.match(rf"^\s*{re.escape(prefix)}\s*:", subject, re.IGNORECASE):
        return subject
    return gettext("%(prefix)s : %(subject)s", prefix=prefix, subject=subject).strip()


def _sender_line(message: MailMessage) -> str:
    """The author as the reader knows them: their account's name and universal address."""
    author = db.session.get(Account, message.author_id) if message.author_id else None
    if author is not None:
        return f"{author.full_name} <{author.universal_address}>"
    return f"{message.from_name} <{message.from_address}>".replace(" <>", "").strip()


def reply(author: Account, item_id: int, *, everyone: bool = False) -> Composition:
    _item, message = store.item_of(author, item_id)
    ids = [message.author_id] if message.author_id and message.author_id != author.id else []
    if everyone:
        ids += [i for i in _local_accounts(message.to_display, message.cc_display)
                if i != author.id and i not in ids]
    quoted = "\n".join(f"> {line}" for line in _plain_text(message).splitlines())
    wrote = gettext("Le %(date)s, %(sender)s a écrit :", date=display.full_date(message.sent_at),
                    sender=_sender_line(message))
    body = f"\n\n{wrote}\n{quoted}\n"
    # Whoever has left (suspended, another school) since is left out, as in a saved draft:
    # the routing checks each recipient again when the reply is sent.
    chips = recipients.resolve(author, [("to", recipients.PERSON, ids[0])] if ids else [],
                               drop_missing=True)
    if len(ids) > 1:
        chips += recipients.resolve(author, [("cc", recipients.PERSON, i) for i in ids[1:]],
                                    drop_missing=True)
    return Composition(chips=chips, subject=_prefixed(gettext("Re"), message.subject), body=body,
                       reply_item=item_id, copy=mailbox.has_inbox(author))


def forward(author: Account, item_id: int) -> Composition:
    _item, message = store.item_of(author, item_id)
    lines = ["", "", gettext("-------- Message transféré --------"),
             gettext("De : %(sender)s", sender=_sender_line(message)),
             gettext("Date : %(date)s", date=display.full_date(message.sent_at)),
             gettext("À : %(to)s", to=message.to_display)]
    if message.cc_display:
        lines.append(gettext("Copie : %(cc)s", cc=message.cc_display))
    lines += [gettext("Objet : %(subject)s", subject=message.subject), "", _plain_text(message)]
    kept = [a.id for a in source_attachments(author, item_id)]
    # "TR" (transféré) is the French "Fwd".
    return Composition(subject=_prefixed(gettext("TR"), message.subject), body="\n".join(lines),
                       source_item=item_id, kept=kept, copy=mailbox.has_inbox(author))


def _local_accounts(*displays: str) -> list[int]:
    """Accounts named by the universal addresses of To/Cc texts, in their order."""
    domain = current().domain
    locals_ = []
    for _name, address in getaddresses(list(displays)):
        local, _, host = address.lower().rpartition("@")
        if host == domain and local and local not in locals_:
            locals_.append(local)
    if not locals_:
        return []
    found = dict(db.session.execute(select(Account.address, Account.id)
                                    .where(Account.address.in_(locals_))).all())
    return [found[local] for local in locals_ if local in found]
