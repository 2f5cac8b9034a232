"""Permanent failures of forwards: reported to the author, whether the relay refused at once
or stayed out of reach (the worker) or a bounce came back later to the forward's envelope
sender.

That envelope sender is signed, like BATV or SRS: `bounces+<entry id>-<day>-<hmac>@<domain>`,
the HMAC (keyed by the app's SECRET_KEY) covering the entry id and the day it was sent. Only
the server the forward went to learns it, so nobody else can make an author believe that
their message bounced; an address older than twice the queue lifetime is refused too, since
no honest bounce comes that late. Any other `bounces+…` address is unknown (550 5.1.1).

A bounce counts as soon as it comes, even while its entry is still pending: the relay
usually tries the destination at once, so a « no such user » comes back within seconds,
while the worker is still sending the rest of the batch (its entries become SENT when the
whole batch is recorded). The entry is then marked BOUNCED, which `queue.mark_all_sent` and
the worker's own failure leave alone (both only touch a PENDING entry), so its author is told
once. Answering 451 until the entry is SENT would lose the notice whenever the relay gives
up on it first, or the entry is deferred past its retries; and the signed address proves the
relay was handed the message.

A forward of a population mailing (mailgate/fanout.py) is not reported to its author one
recipient at a time: its recipient is marked not reached in the job's report instead
(`fanout.forward_failed`), which the worker's permanent failures get through `report` too.

Only FORWARD entries are ever reported on; reports and system mail are sent with a null
envelope sender and dropped when they fail, so a bounce is never answered with a bounce.
Bounces that are not failure notices (auto-replies, delay warnings) are accepted and ignored.
A failure is a `Failure` (mailgate/failures.py: a kind and the remote server's own words);
mailgate/reports.py writes the report, where the remote words are quoted as theirs, never
as Préau's. Every address in them is hidden (`masked`): the recipient's redirect address
reads as their universal address, and any other (the redirect address spelled in punycode,
where the recipient's provider forwarded it on, an alias) as « (adresse masquée) »: redirect
addresses are never shown to other members, and a remote server may name any of them.
"""
from __future__ import annotations

import email
import hashlib
import hmac
import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.header import Header, decode_header

from sqlalchemy import update

from directory.clock import utcnow
from directory.db import db
from directory.models import Account
from directory.wording import Reason

from . import fanout, mime, reports
from .failures import Failure, FailureKind
from .models import EntryKind, EntryState, MailMessage, OutboundEntry
from .settings import Settings, current

PREFIX = "bounces+"
_SIGNED = re.compile(r"^bounces\+(\d{1,18})-(\d{1,6})-([0-9a-f]{16})$")
_EPOCH = date(1970, 1, 1)
_CONTEXT = b"preau-bounce-address:"     # this use of SECRET_KEY and no other
MASKED = "(adresse masquée)"
# An address as a remote server writes it in its answer: a quoted or plain local part, @,
# a domain (Unicode or punycode); the brackets, quotes, separators and a sentence's final
# dot around it are kept.
_ADDRESS_IN_TEXT = re.compile(
    r"""(?:"[^"\r\n]*"|[^\s<>"'()\[\],;:@]+)@[^\s<>"'()\[\],;:@]*[^\s<>"'()\[\],;:@.]""")


# --- the signed envelope sender ------------------------------------------------------------

def envelope_sender(entry_id: int, settings: Settings, today: date | None = None) -> str:
    day = ((today or _today()) - _EPOCH).days
    return f"{PREFIX}{entry_id}-{day}-{_signature(settings, entry_id, day)}@{settings.domain}"


def is_bounce_address(address: str, domain: str) -> bool:
    local, _, address_domain = address.strip("<>").rpartition("@")
    return local.lower().startswith(PREFIX) and address_domain.lower() == domain


def entry_id_of(address: str, settings: Settings, today: date | None = None) -> int | None:
    """The entry of a bounce address we signed and that has not expired, else None."""
    local, _, address_domain = address.strip("<>").rpartition("@")
    match = _SIGNED.match(local.lower())
    if match is None or address_domain.lower() != settings.domain:
        return None
    entry_id, day, signature = int(match[1]), int(match[2]), match[3]
    age = ((today or _today()) - _EPOCH).days - day
    if not -1 <= age <= max_age_days(settings):
        return None
    if not hmac.compare_digest(signature, _signature(settings, entry_id, day)):
        return None
    return entry_id


def max_age_days(settings: Settings) -> int:
    """Twice the queue lifetime, in whole days, and never less than two days."""
    return max(2, math.ceil(2 * settings.queue_lifetime / timedelta(days=1)))


def _signature(settings: Settings, entry_id: int, day: int) -> str:
    message = _CONTEXT + f"{entry_id}-{day}@{settings.domain}".encode()
    return hmac.new(settings.secret_key, message, hashlib.sha256).hexdigest()[:16]


def _today() -> date:
    return datetime.now(UTC).date()


def known_entry(entry_id: int) -> bool:
    return db.session.get(OutboundEntry, entry_id) is not None


# --- a bounce coming back ------------------------------------------------------------------

def receive(entry_ids: list[int], raw: bytes) -> int:
    """A message that came to bounce addresses. Returns how many authors were told."""
    failure = failure_of(raw)
    if failure is None:
        return 0
    told = 0
    for entry_id in entry_ids:
        entry = db.session.get(OutboundEntry, entry_id)
        if entry is None or entry.kind != EntryKind.FORWARD:
            continue
        if _mark_bounced(entry.id, failure.log_text):
            told += report(entry, failure)
    return told


_BOUNCEABLE = (EntryState.SENT, EntryState.PENDING)


def _mark_bounced(entry_id: int, error: str) -> bool:
    """The entry sent, or being sent, bounced (BOUNCED). False when it was not in either
    state (already bounced or failed: the caller must not report twice)."""
    result = db.session.execute(
        update(OutboundEntry).where(OutboundEntry.id == entry_id,
                                    OutboundEntry.state.in_(_BOUNCEABLE))
        .values(state=EntryState.BOUNCED, finished_at=utcnow(), lease_until=None,
                last_error=error[:2000]),
        execution_options={"synchronize_session": False})
    return result.rowcount == 1


def failure_of(raw: bytes) -> Failure | None:
    """The failure a notice (RFC 3464) reports, or None when it is not a failure notice."""
    try:
        message = email.message_from_bytes(raw, policy=policy.compat32)
        parts = list(message.walk())
    except RecursionError:
        return None
    for part in parts:
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload() if part.is_multipart() else []
        for block in blocks[1:]:
            action = _field(block, "Action").lower()
            status = _field(block, "Status")
            if action == "failed" or status.startswith("5"):
                diagnostic = " ".join(_field(block, "Diagnostic-Code").split())
                return Failure(FailureKind.BOUNCED, diagnostic.removeprefix("smtp;").strip()
                               or status)
    return None


def _field(block, name: str) -> str:
    """A field of a DSN block as text. Raw 8-bit bytes are set aside by compat32 as a Header:
    read them as UTF-8; then decode encoded words."""
    value = block.get(name) or ""
    if isinstance(value, Header):
        value = b"".join(part for part, _ in decode_header(value)).decode("utf-8", "replace")
    return mime.decode_words(str(value)).strip()


def report(entry: OutboundEntry, failure: Failure) -> int:
    """Tell the author of `entry`'s message that it did not reach its recipient, or, for a
    population mailing's forward, its job's report (`fanout.forward_failed`). Returns how
    many authors were mailed."""
    def reason(_recipient: Account | None, shown: str | None) -> str:
        remote = masked(failure.remote, entry.address, shown)
        return reports.failure_reason(replace(failure, remote=remote))

    return _tell_author(entry, reason)


def report_not_sent(entry: OutboundEntry, code: str) -> int:
    """`report` for a forward the worker did not send because its recipient could no longer
    get it (mailgate/worker.py `_recipient`): suspended, or without a verified redirect
    address, since it was queued. `code` is the routing's reason for the same recipient
    (directory/wording.py: "suspended", "no_redirect"), in the same words."""
    def reason(recipient: Account | None, _shown: str | None) -> str:
        name = recipient.full_name if recipient is not None else "un destinataire"
        return str(Reason(code, {"name": name}))

    return _tell_author(entry, reason)


def _tell_author(entry: OutboundEntry,
                 reason: Callable[[Account | None, str | None], str]) -> int:
    """The report of `report` and `report_not_sent`: `reason` words the failure, given the
    recipient's account and universal address (None when the account is gone)."""
    if entry.kind != EntryKind.FORWARD:
        return 0
    if fanout.forward_failed(entry.message_id, entry.account_id):
        return 0
    if entry.author_id is None:
        return 0
    author = db.session.get(Account, entry.author_id)
    if author is None:
        return 0
    recipient = db.session.get(Account, entry.account_id) if entry.account_id else None
    # The message itself is gone when nobody kept it once sent (a pupil writing without a
    # copy, a read receipt, a sent folder emptied): its author is told all the same, by the
    # date it left. It is not kept for its bounces: most mail is forwarded, and a report
    # needs no more than this.
    message = db.session.get(MailMessage, entry.message_id) if entry.message_id else None
    settings = current()
    shown = settings.universal(recipient.address) if recipient is not None else None
    who = f"{recipient.full_name} <{shown}>" if recipient is not None else "un destinataire"
    return int(reports.undeliverable(
        author, message.subject if message is not None else None,
        message.sent_at if message is not None else entry.created_at,
        [(who, reason(recipient, shown))],
        in_reply_to=message.message_id_header if message is not None else "",
        others_received=False))


def masked(remote: str, address: str, shown: str | None) -> str:
    """`remote` with every address-shaped token hidden: `address` (the recipient's redirect
    address, in any case or spelling of its domain) becomes `shown`, their universal address,
    and any other address, or `address` when there is no `shown`, « (adresse masquée) »."""
    mine = _spelled(address) if address else None

    def hidden(token: re.Match) -> str:
        return shown if shown and _spelled(token[0]) == mine else MASKED

    return _ADDRESS_IN_TEXT.sub(hidden, remote)


def _spelled(address: str) -> str:
    """An address in one spelling: lower case, its domain in Unicode (from punycode) and
    without a final dot."""
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".")
    try:
        domain = domain.encode("ascii").decode("idna")
    except UnicodeError:
        pass
    return f"{local}@{domain}".lower()
