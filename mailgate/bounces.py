"""Permanent failures of forwards: reported to the author in French, whether the smarthost
refused at once (the worker) or a bounce came back later to `bounces+<entry id>@<domain>`.

Only FORWARD entries are ever reported on; reports and system mail are sent with a null
envelope sender and dropped when they fail, so a bounce is never answered with a bounce.
Bounces that are not failure notices (auto-replies, delay warnings) are accepted and ignored.
The failure text is shown with the recipient's redirect address replaced by their universal
address: redirect addresses are never shown to other members.
"""
from __future__ import annotations

import email
import re
from email import policy

from directory.db import db
from directory.models import Account

from . import queue, reports
from .models import EntryKind, EntryState, MailMessage, OutboundEntry
from .settings import current

_LOCAL = re.compile(r"^bounces\+(\d{1,18})$")


def envelope_sender(entry_id: int, domain: str) -> str:
    return f"bounces+{entry_id}@{domain}"


def entry_id_of(address: str, domain: str) -> int | None:
    local, _, address_domain = address.strip("<>").rpartition("@")
    match = _LOCAL.match(local.lower())
    if match is None or address_domain.lower() != domain:
        return None
    return int(match[1])


def known_entry(entry_id: int) -> bool:
    return db.session.get(OutboundEntry, entry_id) is not None


def receive(entry_ids: list[int], raw: bytes) -> int:
    """A message that came to bounce addresses. Returns how many authors were told."""
    failure = failure_text(raw)
    if failure is None:
        return 0
    told = 0
    for entry_id in entry_ids:
        entry = db.session.get(OutboundEntry, entry_id)
        if entry is None or entry.kind != EntryKind.FORWARD or entry.state != EntryState.SENT:
            continue
        if queue.mark_failed(entry.id, None, failure):
            told += report(entry, failure)
    return told


def failure_text(raw: bytes) -> str | None:
    """The reason of a failure notice (RFC 3464), or None when it is not one."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload() if part.is_multipart() else []
        for block in blocks[1:]:
            action = (block.get("Action") or "").strip().lower()
            status = (block.get("Status") or "").strip()
            if action == "failed" or status.startswith("5"):
                diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
                return f"{status} {diagnostic}".strip() or "échec définitif de la remise"
    return None


def report(entry: OutboundEntry, failure: str) -> int:
    """Tell the author of `entry`'s message that it did not reach its recipient."""
    if entry.kind != EntryKind.FORWARD or entry.author_id is None:
        return 0
    author = db.session.get(Account, entry.author_id)
    recipient = db.session.get(Account, entry.account_id) if entry.account_id else None
    message = db.session.get(MailMessage, entry.message_id) if entry.message_id else None
    if author is None or message is None:
        return 0
    settings = current()
    if recipient is not None:
        who = f"{recipient.full_name} <{settings.universal(recipient.address)}>"
        failure = re.sub(re.escape(entry.address), settings.universal(recipient.address),
                         failure, flags=re.IGNORECASE)
    else:
        who = "un destinataire"
        failure = re.sub(re.escape(entry.address), "(adresse masquée)", failure,
                         flags=re.IGNORECASE)
    reason = f"le serveur de destination a refusé le message ({failure})"
    return int(reports.undeliverable(author, message.subject, message.sent_at, [(who, reason)],
                                     in_reply_to=message.message_id_header,
                                     others_received=False))

