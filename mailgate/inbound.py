"""The aiosmtpd handler: a thin adapter from SMTP commands to the routing path.

MAIL FROM identifies the author (mailgate/identity.py), whose claim is checked at DATA
(mailgate/sender_auth.py: SPF, DKIM, DMARC); each RCPT TO is judged at once by
`routing.check` so the client gets a reply per recipient (naming no member to a client not yet
shown to speak for the author: `Inbound._proven`); DATA stores the message through
`routing.deliver_many`, run by the committer thread (this process's, or the shared writer's:
mailgate/shared_writer.py) for all the messages waiting together, and
250 is sent only once that commit has returned. Only the header is read before that: the
message is stored as received, and its parts are read after the commit (mailgate/indexer.py).
Database reads run in a thread pool: the event loop never waits on the database.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from directory.db import db
from directory.wording import Reason

from . import bounces, headers, identity, local_handlers, mime, replies, reports, routing
from .cache import IDENTITY_TTL, InFlight, TimedCache
from .models import SenderCheck
from .sender_auth import Action, Check, SenderAuthenticator, trusted_peer
from .settings import MB, Settings
from .shared_writer import SharedWriter
from .writer import OwnWriter

log = logging.getLogger("preau.mailgate")
# RCPT commands one transaction may send (Postfix's smtpd_recipient_limit): past it, 452. The
# 50-recipient limit counts distinct accounts, so without it repeats would grow the session
# without bound, before any sender check.
MAX_RCPT_COMMANDS = 1000
# Why a local handler did not act on a message whose sender could not be authenticated.
NOT_VERIFIED = ("expéditeur non vérifié (ni SPF ni une signature DKIM de son domaine) : "
                "répondez depuis le lien du message")
# A header block past mime.MAX_HEADER_BYTES or MAX_HEADER_LINES, refused before anything
# reads it (the sender check's DKIM parser among them).
HEADER_TOO_LARGE = (f"552 5.3.4 L'en-tête du message est trop volumineux : "
                    f"{mime.MAX_HEADER_BYTES // MB} Mo et {mime.MAX_HEADER_LINES} lignes au plus")


class Reads:
    """A thread pool whose threads each keep an app context; every call ends its transaction."""

    def __init__(self, app, threads: int = 8):
        self.app = app
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="preau-read",
                                           initializer=self._enter)

    def _enter(self) -> None:
        self.app.app_context().push()

    def _call(self, function, args):
        try:
            return function(*args)
        finally:
            db.session.close()

    async def run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._call, function, args)

    def stop(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class Transaction:
    """What one mail transaction (MAIL … DATA) has learnt so far."""

    author: object = None
    declared_size: int = 0
    decisions: list = field(default_factory=list)
    bounce_ids: list = field(default_factory=list)
    handled: list = field(default_factory=list)     # (LocalHandler, object) pairs
    handled_tags: set = field(default_factory=set)  # their (prefix, tag): each handled once
    too_many: Reason | None = None     # the recipient limit was passed: why (kept till DATA)
    commands: int = 0                  # RCPT commands so far, accepted or not
    # Whether the client showed it speaks for the author (`Inbound._proven`); None: not
    # asked yet.
    proven: bool | None = None

    def recipients(self) -> int:
        """How many distinct recipients were accepted: a repeat adds none."""
        return len(self.decisions) + len(self.bounce_ids) + len(self.handled)


class Inbound:
    def __init__(self, settings: Settings, reads: Reads, writer: OwnWriter | SharedWriter,
                 senders: SenderAuthenticator | None = None):
        self.settings = settings
        self.reads = reads
        self.writer = writer        # runs the jobs that write, committed (mailgate/writer.py)
        self.senders = senders      # None: PREAU_SENDER_AUTH=off
        self.authors = TimedCache(IDENTITY_TTL)      # see mailgate/cache.py
        self.accepted = TimedCache(IDENTITY_TTL)
        self.asking = InFlight()

    def __dir__(self):
        return hooks(type(self))

    @staticmethod
    async def handle_EHLO(server, session, envelope, hostname, responses):
        session.host_name = hostname
        lines = [line for line in responses if not line.startswith("250-AUTH")]
        lines.insert(len(lines) - 1, "250-PIPELINING")
        return lines

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        transaction = envelope.preau = Transaction()
        transaction.declared_size = _declared_size(mail_options)
        if address.strip("<> "):
            author = await self._author(address)
            if author is None:
                return self._reply(envelope, replies.NOT_A_MEMBER.format(sender=address))
            if author.suspended:    # not named: the client may be anyone (SPEC §4)
                return self._reply(envelope, replies.AUTHOR_SUSPENDED)
            transaction.author = author
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return self._reply(envelope, replies.SENDER_OK)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        transaction: Transaction = envelope.preau
        transaction.commands += 1
        if transaction.commands > MAX_RCPT_COMMANDS:
            return self._reply(envelope, replies.TOO_MANY_COMMANDS.format(
                limit=MAX_RCPT_COMMANDS))
        before = transaction.recipients()
        reply = await self._judge(session, envelope, address)
        if reply is None:
            if transaction.recipients() > before:       # a repeat is not listed again
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(rcpt_options)
            reply = replies.RECIPIENT_OK
        return self._reply(envelope, reply)

    async def _judge(self, session, envelope, address: str) -> str | None:
        """None when accepted, else the refusal."""
        transaction: Transaction = envelope.preau
        if bounces.is_bounce_address(address, self.settings.domain):
            bounce_id = bounces.entry_id_of(address, self.settings)
            if bounce_id is not None and bounce_id in transaction.bounce_ids:
                return None
            if bounce_id is None or not await self.reads.run(bounces.known_entry, bounce_id):
                return replies.refusal(routing.Refusal.UNKNOWN,
                                       Reason("unknown", {"address": address}))
            transaction.bounce_ids.append(bounce_id)
            return None
        if not self.settings.is_local(address):
            return replies.refusal(routing.Refusal.NOT_LOCAL, routing.not_local_reason(
                address, self.settings.domain))
        if transaction.author is None:
            return replies.NULL_SENDER_ONLY_BOUNCES
        special = local_handlers.find(self.reads.app, address, self.settings.domain)
        if special is not None:
            handler, tag = special
            if (handler.prefix, tag) in transaction.handled_tags:
                return None
            target = await self.reads.run(handler.accepts, tag)
            if target is None:
                return replies.refusal(routing.Refusal.UNKNOWN,
                                       Reason("unknown", {"address": address}))
            transaction.handled.append((handler, target))
            transaction.handled_tags.add((handler.prefix, tag))
            return None
        key = (transaction.author.id, address.lower())
        decision = self.accepted.get(key)
        if decision is None:
            (decision,) = await self.asking.get(
                ("check", *key, transaction.declared_size),
                lambda: self.reads.run(self._check, transaction.author, address,
                                       transaction.declared_size))
        refused = decision.result
        if not refused.accepted:
            proven = refused.refusal not in replies.NAMING \
                or await self._proven(session, envelope)
            return replies.recipient_refusal(refused.refusal, refused.why, address,
                                             proven=proven)
        # All or nothing: once past the limit, no later RCPT (a repeat) brings it back under.
        transaction.too_many = transaction.too_many or routing.over_limit(
            {d.result.account_id for d in transaction.decisions} | {decision.result.account_id})
        if transaction.too_many:
            return replies.recipient_refusal(routing.Refusal.TOO_MANY, transaction.too_many,
                                             address, proven=True)
        self.accepted.put(key, decision)
        # The same account named twice is one recipient, delivered once.
        if any(d.result.account_id == decision.result.account_id
               for d in transaction.decisions):
            return None
        transaction.decisions.append(decision)
        return None

    async def _proven(self, session, envelope) -> bool:
        """Whether this transaction's client has shown it speaks for the author before DATA:
        a trusted network, or SPF passes for the envelope sender (asked once per transaction,
        and only when a refusal would say more than the address typed; DKIM needs the
        message, checked at DATA). Until then an outsider who merely claims a member's
        redirect address learns no member's name or state at RCPT (`replies.NAMING`).
        Under PREAU_SENDER_AUTH=off nothing but a trusted network shows it."""
        transaction: Transaction = envelope.preau
        if transaction.proven is None:
            transaction.proven = trusted_peer(session.peer, self.settings) or (
                self.senders is not None and await self.senders.spf_passes(
                    session.peer, session.host_name or "", envelope.mail_from))
        return transaction.proven

    async def _author(self, address: str):
        key = address.strip("<> ").lower()
        author = self.authors.get(key)
        if author is None:
            author = await self.asking.get(("author", key), lambda: self.reads.run(
                identity.author_for, address))
            if author is not None and not author.suspended:
                self.authors.put(key, author)
        return author

    @staticmethod
    def _check(author, address: str, size: int):
        return routing.check(author, [address], incoming_size=size)

    async def handle_DATA(self, server, session, envelope):
        transaction: Transaction = envelope.preau
        if transaction.too_many:
            return self._reply(envelope, replies.refusal(routing.Refusal.TOO_MANY,
                                                         transaction.too_many))
        raw = envelope.original_content
        if mime.header_too_large(raw):
            return self._reply(envelope, HEADER_TOO_LARGE)
        if transaction.bounce_ids:
            await self.writer.run(bounces.receive, transaction.bounce_ids, raw)
            if not transaction.decisions:
                return self._reply(envelope, replies.BOUNCE_ACCEPTED)
        check = None
        if transaction.author is not None and self.senders is not None:
            check = await self.senders.check(session.peer, session.host_name or "",
                                             envelope.mail_from, raw)
            refusal = self._unauthenticated(check, envelope.mail_from)
            if refusal:
                return self._reply(envelope, refusal)
            transaction.proven = check.verdict in (SenderCheck.TRUSTED, SenderCheck.PASS)
        try:
            parsed = mime.headers_only(raw)     # the parts are read by mailgate/indexer.py
        except mime.UnreadableMessage:
            return self._reply(envelope, replies.UNREADABLE_MESSAGE)
        if (count := headers.passes(parsed)) >= headers.MAX_PASSES:
            return self._reply(envelope, replies.LOOP.format(passes=count))
        if headers.may_name_too_many(parsed):     # read off the event loop: it can take a second
            if (count := await asyncio.to_thread(headers.named, parsed)) > headers.MAX_NAMED:
                return self._reply(envelope, replies.TOO_MANY_NAMED.format(
                    count=count, limit=headers.MAX_NAMED))
        reason = None
        if transaction.handled:
            reason = await self._hand_over(transaction, raw, check)
            if not transaction.decisions:
                return self._reply(envelope, replies.HANDLER_REFUSED.format(
                    reason=headers.one_line(reason)) if reason else replies.HANDLED)
        result = await self.writer.run_many(routing.deliver_many, routing.Delivery(
            transaction.author, parsed, transaction.decisions, received=self._received(session),
            authentication=check.header(self.settings.hostname) if check else None,
            sender_check=check.verdict if check else None))
        if result.accepted:
            if reason:      # the others got it: the 250 cannot tell the author, a report does
                await self._report_not_taken(transaction, parsed, reason)
            return self._reply(envelope, f"{replies.STORED} ({result.message_id})")
        first = result.refused[0]
        proven = first.refusal not in replies.NAMING or await self._proven(session, envelope)
        return self._reply(envelope, replies.recipient_refusal(
            first.refusal, first.why, str(first.given), proven=proven, at_data=True))

    async def _report_not_taken(self, transaction: Transaction, parsed, reason: str) -> None:
        """The report of a refused local part, once the message is committed: its failure
        is logged, never answered 451 (the client would send the message again, and every
        recipient would get it twice)."""
        try:
            await self.writer.run(reports.not_taken, transaction.author,
                                  parsed.get("subject"), reason)
        except Exception:
            log.exception("report to the author of a message already delivered (%s) failed",
                          reason)

    def _unauthenticated(self, check: Check, sender: str) -> str | None:
        action = check.action(self.settings.sender_auth)
        if action == Action.RETRY:
            return replies.SENDER_CHECK_UNAVAILABLE
        if action == Action.REFUSE:
            return replies.SENDER_NOT_AUTHENTICATED.format(
                domain=sender.strip("<> ").rpartition("@")[2], summary=check.summary)
        return None

    async def _hand_over(self, transaction: Transaction, raw: bytes,
                         check: Check | None) -> str | None:
        """Give the message to each local handler it was sent to; the first refusal's
        reason. A sender the check could not authenticate (delivered all the same under
        PREAU_SENDER_AUTH=mark, shown as such to its readers) acts on nothing: an answer
        to an agenda counts as the member's without anyone seeing the doubt."""
        if check is not None and check.verdict == SenderCheck.UNVERIFIED:
            return NOT_VERIFIED
        refusals = [await self.writer.run(handler.receive, transaction.author, target, raw)
                    for handler, target in transaction.handled]
        return next((reason for reason in refusals if reason), None)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session failed", exc_info=error)
        return replies.TEMPORARY

    def _received(self, session) -> str:
        """Our trace field, without the client's name or address: the sending machine of a
        member could tell others where their private mailbox lives."""
        protocol = "ESMTPS" if session.ssl else "ESMTP"
        return (f"by {self.settings.hostname} (Preau) with {protocol} id {uuid.uuid4().hex[:16]}"
                f"; {headers.date_now()}")

    @staticmethod
    def _reply(envelope, reply: str) -> str:
        return replies.for_client(reply, envelope.smtp_utf8)


@functools.cache
def hooks(cls: type) -> list[str]:
    """What `dir()` lists of the session (PreauSMTP) and of its handler (Inbound): the
    methods aiosmtpd looks for. Its constructor looks them up with dir() and
    inspect.getmembers(), which would otherwise read every attribute of both (about 0.3 ms
    of CPU). The gateway calls it once, for its template session (`PreauSMTP.fresh`); tests
    and bench/smtp_session.py make sessions with it."""
    return [name for name in dir(cls) if name.startswith(("smtp_", "auth_", "handle_"))]


# aiosmtpd's constructor also reads handle_EHLO's signature (to tell its old form from the
# new): worked out once here, on a plain function (a static method), whose signature is read
# as it is, where a bound method's would be made again without its first parameter.
Inbound.handle_EHLO.__signature__ = inspect.signature(Inbound.handle_EHLO)


def _declared_size(mail_options: list[str]) -> int:
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdecimal():
            return int(value)
    return 0


def too_large_reply(settings: Settings) -> str:
    return replies.TOO_LARGE.format(mb=settings.max_message_bytes // MB)
