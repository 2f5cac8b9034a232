"""The one routing path (SPEC §4): every message — web form, SMTP, population mailing — goes
through `check` (who may receive it: read-only) and `deliver` (store it once, put it in the
inboxes, queue the forwards, tell the author what failed). `route` is the two in a row.

    route(author, recipients, message, *, replying_to=None, population=False,
          save_copy=True, copy_to_self=False) -> RoutingResult

- `author`: the writing Account.
- `recipients`: account ids (int) and/or e-mail addresses (str), To, Cc and Bcc together,
  groups already expanded into their members; duplicates count once.
- `message`: an `email.message.EmailMessage` (see mailgate/compose.py), raw bytes, or a
  `mime.Parsed`. Its From is replaced by the author's universal address; a Bcc header is
  removed from the shared copy and kept, for the author's eyes only, in `bcc_display`.
- `replying_to`: id of the MailMessage the author received and is answering; its author may
  then be written to even without the right (SPEC §2). Ignored if the author did not receive
  it. Independently of it, anyone who has received a message from X may write back to X
  (the rights engine's rule: directory/rights.py).
- `population`: lifts the limit of 50 recipients (population mailing only: mailgate/fanout.py
  routes its recipients in batches through `check` and `deliver`, the message stored once by
  `store_once`).
- `save_copy`: keep the author's copy (students: Messages envoyés; others: Boîte d'envoi).
- `copy_to_self`: "M'envoyer une copie" of non-students: also forward to their redirect.

The result (never an exception for a recipient's problem) has one `RecipientResult` per
distinct recipient, in the order given: `outcome` DELIVERED (internal inbox), FORWARDED
(queued to their redirect address) or REFUSED with a `refusal` code and its `why` naming the
person (a `directory.wording.Reason`: `reason` is its French wording, for SMTP replies and
report mails; web pages word it in the reader's language). Nothing is committed: the caller
commits (the SMTP gateway answers 250 only after that). Refused recipients of kind
NO_REDIRECT or MAILBOX_FULL also earn the author a warning message naming them
(mailgate/reports.py). Redirect addresses never appear in a
result, a reason, a stored header or a forwarded header.
"""
from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from functools import lru_cache

from sqlalchemy import Select, bindparam, exists, func, or_, select
from sqlalchemy.orm import lazyload

from directory.db import db, dialect_name
from directory.enums import Role
from directory.errors import InvalidInput
from directory.models import Account, MailCorrespondent
from directory.rights import writable
from directory.roles import role_condition
from directory.sets import ids_parameter, insert_rows
from directory.wording import Reason

from . import headers, mime, queue, reports, store
from .models import (
    EntryKind,
    FolderKind,
    MailboxItem,
    MailMessage,
    OutboundEntry,
    SenderCheck,
)
from .settings import MB, current

# SPEC §4: the most people one message may name (a group counting for its members), except a
# population mailing. Checked by `over_limit` only, on every path.
MAX_RECIPIENTS = 50


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    FORWARDED = "forwarded"
    REFUSED = "refused"


class Refusal(enum.StrEnum):
    NOT_LOCAL = "not_local"         # another domain: we are no open relay
    UNKNOWN = "unknown"             # no such address here
    SUSPENDED = "suspended"
    NOT_ALLOWED = "not_allowed"     # the rights engine says no (SPEC §2)
    NO_REDIRECT = "no_redirect"     # not a student and no verified redirect address
    MAILBOX_FULL = "mailbox_full"
    TOO_MANY = "too_many"           # more than 50 recipients from a person
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class RecipientResult:
    given: int | str                # as the caller named them
    address: str                    # universal address (or the address given, if not ours)
    name: str                       # full name, or the address when unknown
    account_id: int | None
    outcome: Outcome
    refusal: Refusal | None = None
    why: Reason | None = None       # the refusal's reason, for the author (directory/wording.py)

    @property
    def accepted(self) -> bool:
        return self.outcome != Outcome.REFUSED

    @property
    def reason(self) -> str | None:
        """The reason in French (SMTP replies, report mails)."""
        return str(self.why) if self.why else None


@dataclass
class RoutingResult:
    recipients: list[RecipientResult]
    message_id: int | None = None           # the stored MailMessage, if anything was stored
    copy_folder: FolderKind | None = None   # where the author's copy went
    notices: list[Reason] = field(default_factory=list)    # for the author

    @property
    def accepted(self) -> list[RecipientResult]:
        return [r for r in self.recipients if r.accepted]

    @property
    def refused(self) -> list[RecipientResult]:
        return [r for r in self.recipients if not r.accepted]


@dataclass(frozen=True)
class Decision:
    """A recipient as `check` judged it; `deliver` acts on it."""

    result: RecipientResult
    internal: bool = False
    redirect: str | None = field(default=None, repr=False)


def route(author: Account, recipients: Iterable[int | str],
          message: EmailMessage | bytes | mime.Parsed, *, replying_to: int | None = None,
          population: bool = False, save_copy: bool = True,
          copy_to_self: bool = False) -> RoutingResult:
    parsed = as_parsed(message)
    decisions = check(author, recipients, replying_to=replying_to, population=population,
                      incoming_size=parsed.size)
    return deliver(author, parsed, decisions, save_copy=save_copy, copy_to_self=copy_to_self)


def as_parsed(message: EmailMessage | bytes | mime.Parsed) -> mime.Parsed:
    if isinstance(message, mime.Parsed):
        return message
    if isinstance(message, EmailMessage):
        message = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return mime.parse(message)


# --- check ---------------------------------------------------------------------------------

def check(author: Account, recipients: Iterable[int | str], *, replying_to: int | None = None,
          population: bool = False, incoming_size: int = 0) -> list[Decision]:
    """Judge every recipient; reads only. Quota is only peeked at here (`deliver` reserves)."""
    settings = current()
    given = _distinct(recipients, settings.domain)
    if not given:
        raise InvalidInput.of("no_recipient")
    if incoming_size > settings.max_message_bytes:
        reason = Reason("too_large", {"mb": settings.max_message_bytes // MB})
        return [_refused(g, a or f"compte n° {g}", a or f"compte n° {g}", None,
                         Refusal.TOO_LARGE, reason) for g, a in given]
    accounts = _accounts(given, settings.domain)
    too_many = None if population else over_limit(
        {accounts[g].id if g in accounts else g for g, _ in given})
    if too_many:
        return [_refused(g, a or f"compte n° {g}", a or f"compte n° {g}", None,
                         Refusal.TOO_MANY, too_many) for g, a in given]
    verdicts = writable(author, [a.id for a in accounts.values()],
                        replying_to=_reply_author(author, replying_to))
    internal = {a.id for a in accounts.values() if a.internal}
    full = store.full_mailboxes(internal & {i for i, v in verdicts.items() if v.allowed},
                                settings.quota_bytes, incoming_size)
    return _once_per_account([_decide(g, a, accounts.get(g), verdicts, internal, full,
                                      settings) for g, a in given])


def over_limit(recipients: Collection[int | str]) -> Reason | None:
    """The limit of recipients, for distinct recipients (account ids, or addresses that are
    no account): why they are too many, or None. The one check of the web form, the SMTP
    gateway and `check`."""
    if len(recipients) <= MAX_RECIPIENTS:
        return None
    return Reason("too_many", {"max": MAX_RECIPIENTS, "total": len(recipients)})


def group_over_limit(members: int) -> Reason | None:
    """A group of `members` people one may write to is more than a message holds: why it
    cannot be added whole (the recipient picker says so instead of offering it), or None."""
    if members <= MAX_RECIPIENTS:
        return None
    return Reason("group_too_big", {"max": MAX_RECIPIENTS})


def _once_per_account(decisions: Sequence[Decision]) -> list[Decision]:
    """One person named twice (by id and by address, or in To and Bcc) counts once."""
    seen: set[int] = set()
    kept = []
    for decision in decisions:
        account_id = decision.result.account_id
        if account_id is not None:
            if account_id in seen:
                continue
            seen.add(account_id)
        kept.append(decision)
    return kept


def _distinct(recipients: Iterable[int | str], domain: str) -> list[tuple[int | str, str]]:
    """(key, address) pairs, duplicates removed: key is the id for ids, the lower-cased
    address for addresses (an address's account is looked up by its local part)."""
    seen: dict[int | str, str] = {}
    for recipient in recipients:
        if isinstance(recipient, int):
            seen.setdefault(recipient, "")
        else:
            address = recipient.strip().strip("<>").strip().lower()
            if address:
                seen.setdefault(address, address)
    return list(seen.items())


@dataclass(frozen=True, slots=True)
class Member:
    """What routing reads of a recipient's account: one row of one query, the role of
    internal mail included (directory.roles.role_condition), no ORM object to build."""

    id: int
    address: str
    first_name: str
    last_name: str
    suspended: bool
    redirect_address: str | None
    redirect_verified: bool
    internal: bool

    full_name = Account.full_name
    verified_redirect = Account.verified_redirect


@lru_cache(maxsize=4)
def _accounts_statement(_dialect: str) -> Select:
    """`_accounts`' query, built once per database (it runs for every message)."""
    return (select(Account.id, Account.address, Account.first_name, Account.last_name,
                   Account.suspended, Account.redirect_address, Account.redirect_verified,
                   role_condition(Role.INTERNAL_MAIL).label("internal"))
            .where(or_(ids_parameter(Account.id),
                       Account.address.in_(bindparam("addresses", expanding=True)))))


def _accounts(given: Sequence[tuple[int | str, str]], domain: str) -> dict[int | str, Member]:
    ids = {g for g, _ in given if isinstance(g, int)}
    locals_ = {a.rpartition("@")[0]: a for g, a in given
               if isinstance(g, str) and a.rpartition("@")[2] == domain}
    if not ids and not locals_:
        return {}
    rows = store.core(_accounts_statement(dialect_name()),
                      {"ids": sorted(ids), "addresses": sorted(locals_)})
    found: dict[int | str, Member] = {}
    for row in rows:
        member = Member(*row)
        if member.id in ids:
            found[member.id] = member
        if member.address in locals_:
            found[locals_[member.address]] = member
    return found


def _reply_author(author: Account, message_id: int | None) -> int | None:
    """The author of `message_id`, if `author` did receive that message."""
    if message_id is None:
        return None
    received = or_(
        exists().where(MailboxItem.message_id == MailMessage.id,
                       MailboxItem.account_id == author.id),
        exists().where(OutboundEntry.message_id == MailMessage.id,
                       OutboundEntry.account_id == author.id))
    return db.session.scalar(select(MailMessage.author_id).where(
        MailMessage.id == message_id, received))


def _refused(given, address, name, account_id, refusal: Refusal, reason: Reason) -> Decision:
    return Decision(RecipientResult(given, address, name, account_id, Outcome.REFUSED,
                                    refusal, reason))


def _decide(given, address: str, account: Member | None, verdicts, internal: set[int],
            full: set[int], settings) -> Decision:
    if address and not settings.is_local(address):
        return _refused(given, address, address, None, Refusal.NOT_LOCAL,
                        not_local_reason(address, settings.domain))
    if account is None:
        shown = address or f"compte n° {given}"
        return _refused(given, shown, shown, None, Refusal.UNKNOWN,
                        Reason("unknown", {"address": address}) if address
                        else Reason("unknown_account", {"number": given}))
    universal = settings.universal(account.address)
    name = account.full_name
    verdict = verdicts[account.id]
    if account.suspended:
        return _refused(given, universal, name, account.id, Refusal.SUSPENDED,
                        Reason("suspended", {"name": name}))
    if not verdict.allowed:
        return _refused(given, universal, name, account.id, Refusal.NOT_ALLOWED,
                        verdict.why)
    if account.id in internal:
        if account.id in full:
            return _refused(given, universal, name, account.id, Refusal.MAILBOX_FULL,
                            Reason("mailbox_full", {"name": name}))
        return Decision(RecipientResult(given, universal, name, account.id, Outcome.DELIVERED),
                        internal=True)
    if not account.verified_redirect:
        return _refused(given, universal, name, account.id, Refusal.NO_REDIRECT,
                        Reason("no_redirect", {"name": name}))
    return Decision(RecipientResult(given, universal, name, account.id, Outcome.FORWARDED),
                    redirect=account.verified_redirect)


def not_local_reason(address: str, domain: str) -> Reason:
    return Reason("not_local", {"address": address, "domain": domain})


# --- deliver -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delivery:
    """One message for `deliver_many`: the arguments of `deliver`."""

    author: Account
    parsed: mime.Parsed
    decisions: Sequence[Decision]
    received: str | None = None
    save_copy: bool = True
    copy_to_self: bool = False
    message_id: int | None = None   # already stored (`store_once`): placed, not stored again
    warn: bool = True               # warning message to the author for NO_REDIRECT/MAILBOX_FULL
                                    # (through SMTP, only when others accepted it: `_warns`)
    # SMTP: what mailgate/sender_auth.py found (our Authentication-Results, the verdict).
    authentication: str | None = None
    sender_check: SenderCheck | None = None


def deliver(author: Account, parsed: mime.Parsed, decisions: Sequence[Decision], *,
            received: str | None = None, save_copy: bool = True,
            copy_to_self: bool = False, message_id: int | None = None,
            warn: bool = True) -> RoutingResult:
    """Store the message once and act on every accepted decision, in the caller's
    transaction. `received`: the value of our Received field (SMTP). `message_id`: the
    message was stored by `store_once` (a population mailing routes it in batches, storing
    it once for all); `warn=False`: the caller reports failures itself (its job report)."""
    (result,) = deliver_many([Delivery(author, parsed, decisions, received, save_copy,
                                       copy_to_self, message_id, warn)], lock_first=True)
    return result


def store_once(author: Account, parsed: mime.Parsed, *, save_copy: bool = True) -> int:
    """Store a message whose recipients are routed later, in batches, by
    `deliver(..., message_id=…)` (mailgate/fanout.py); with `save_copy`, the author's copy
    goes where `deliver` would put it. Returns the message's id."""
    settings = current()
    (address_map,) = _redirect_maps([parsed], settings)
    names = _member_names([parsed], [address_map], settings)
    (message_id,) = store.save_messages([_new_message(Delivery(author, parsed, ()),
                                                      address_map, names, settings)])
    if save_copy:
        kind = _copy_kind(author)
        folder = _copy_folders({author}).get((author.id, kind))
        usage = store.lock_usage({author.id})
        quota = settings.quota_bytes if kind == FolderKind.SENT else None
        if folder and _fits(usage, author.id, parsed.size, quota):
            store.add_usage({author.id: parsed.size})
            store.insert_items(store.item_rows(message_id, parsed.size, [],
                                               read_copy=(author.id, folder)))
    return message_id


def deliver_many(deliveries: Sequence[Delivery], *, lock_first: bool = False
                 ) -> list[RoutingResult]:
    """`deliver` for several messages in one transaction and a fixed number of statements,
    whatever their number (the SMTP gateway's group commit). Quota is decided as if they were
    delivered one after the other, on the usage read at the start; the mailbox rows are locked
    only at the end (`store.settle_usage`), where a mailbox another transaction filled
    meanwhile raises `store.QuotaRace`: the caller rolls back and delivers again (the
    gateway's committer runs each message of the batch alone). `lock_first` (`deliver`: one
    message, in a caller's transaction that could not start over) locks the rows at the start
    instead, so that no race can happen."""
    settings = current()
    deliveries = [replace(d, decisions=_once_per_account(d.decisions)) for d in deliveries]
    inboxes = store.system_folders({d.result.account_id for job in deliveries
                                    for d in job.decisions if d.result.accepted and d.internal},
                                   FolderKind.INBOX)
    copies = _copy_folders({job.author for job in deliveries if job.save_copy})
    read = store.lock_usage if lock_first else store.read_usage
    usage = read(set(inboxes) | {author_id for author_id, _ in copies})
    used_before = dict(usage)
    results = [_place(job, inboxes, copies, usage, settings) for job in deliveries]
    stored = [(job, outcome) for job, outcome in zip(deliveries, results, strict=True)
              if outcome.accepted]
    fresh = [(job, outcome) for job, outcome in stored if job.message_id is None]
    address_maps = _redirect_maps([job.parsed for job, _ in fresh], settings)
    names = _member_names([job.parsed for job, _ in fresh], address_maps, settings)
    messages = [_new_message(job, address_map, names, settings)
                for (job, _), address_map in zip(fresh, address_maps, strict=True)]
    ids = iter(store.save_messages(messages))
    items, entries, correspondents = [], [], set()
    for job, outcome in stored:
        outcome.message_id = job.message_id or next(ids)
        items += _items(job, outcome, inboxes, copies)
        entries += _forwards(job, outcome)
        # A message whose sender the gateway could not vouch for (delivered marked
        # « Expéditeur non vérifié ») gives no right to write back to whom it claims to be
        # from: anyone could otherwise buy that right with a forged envelope.
        if job.sender_check != SenderCheck.UNVERIFIED:
            correspondents |= {(r.account_id, job.author.id) for r in outcome.accepted
                               if r.account_id not in (None, job.author.id)}
    store.insert_items(items)
    queue.enqueue(entries, lifetime=settings.queue_lifetime)
    insert_rows(MailCorrespondent.__table__,
                [{"account_id": a, "author_id": b} for a, b in correspondents],
                ignore_duplicates=True)
    limits = {i: settings.quota_bytes for i in inboxes} | {
        author_id: settings.quota_bytes for author_id, kind in copies if kind == FolderKind.SENT}
    store.settle_usage(used_before, {i: usage[i] - used_before[i] for i in usage}, limits)
    return [_warn(job.author, job.parsed, outcome) if _warns(job, outcome) else outcome
            for job, outcome in zip(deliveries, results, strict=True)]


def _warns(job: Delivery, outcome: RoutingResult) -> bool:
    """Whether the author gets a report of the recipients refused at delivery. Through SMTP
    (`received`), a message no one accepted is answered 4xx/5xx at DATA, which tells the
    client already (and a 4xx is retried): only refusals hidden by a 250 are reported."""
    return job.warn and (bool(outcome.accepted) or job.received is None)


def _copy_folders(authors: set[Account]) -> dict[tuple[int, FolderKind], int]:
    """(author id, kind) → folder of the author's copy: students' Messages envoyés, others'
    Boîte d'envoi."""
    found = {}
    for kind in (FolderKind.SENT, FolderKind.OUTBOX):
        ids = {a.id for a in authors if _copy_kind(a) == kind}
        found.update({(i, kind): folder for i, folder in store.system_folders(ids, kind).items()})
    return found


def _copy_kind(author: Account) -> FolderKind:
    return FolderKind.SENT if author.has_role(Role.INTERNAL_MAIL) else FolderKind.OUTBOX


def _place(job: Delivery, inboxes: dict[int, int], copies: dict, usage: dict[int, int],
           settings) -> RoutingResult:
    """The message's fate per recipient, and its author's copy, reserving quota in `usage`."""
    size = job.parsed.size
    outcome = RoutingResult([_after_quota(d, _fits(usage, d.result.account_id, size,
                                                    settings.quota_bytes))
                             if d.result.accepted and d.internal else d.result
                             for d in job.decisions])
    if not outcome.accepted or not job.save_copy:
        return outcome
    kind = _copy_kind(job.author)
    quota = settings.quota_bytes if kind == FolderKind.SENT else None
    if (job.author.id, kind) in copies and _fits(usage, job.author.id, size, quota):
        outcome.copy_folder = kind
    else:
        outcome.notices.append(Reason("copy_not_saved", {"folder": kind.reason}))
    return outcome


def _fits(usage: dict[int, int], account_id: int, size: int, quota: int | None) -> bool:
    """Reserve `size` bytes of the account's mailbox in `usage` if they fit."""
    used = usage.get(account_id)
    if used is None or (quota is not None and used + size > quota):
        return False
    usage[account_id] = used + size
    return True


def _after_quota(decision: Decision, fitted: bool) -> RecipientResult:
    result = decision.result
    if not fitted:
        return replace(result, outcome=Outcome.REFUSED, refusal=Refusal.MAILBOX_FULL,
                       why=Reason("mailbox_full", {"name": result.name}))
    return result


def _new_message(job: Delivery, address_map: dict[str, str], names: dict[str, str],
                 settings) -> store.NewMessage:
    author, parsed = job.author, job.parsed
    universal = settings.universal(author.address)
    block, message_id = headers.stored_header(
        parsed, author_from=headers.author_from(author.full_name, universal),
        received=job.received, address_map=address_map, domain=settings.domain, names=names,
        authentication=job.authentication)
    bcc = ", ".join(f"{n} <{address_map.get(a.lower(), a)}>" if n
                    else address_map.get(a.lower(), a) for n, a in parsed.addresses("bcc"))
    return store.NewMessage(parsed, block, message_id, author.id, bcc_display=bcc,
                            sender=(author.full_name, universal), address_map=address_map,
                            names=names, sender_check=job.sender_check)


def _items(job: Delivery, outcome: RoutingResult, inboxes: dict[int, int],
           copies: dict) -> list[dict]:
    delivered = [r.account_id for r in outcome.recipients if r.outcome == Outcome.DELIVERED]
    copy = outcome.copy_folder
    return store.item_rows(outcome.message_id, job.parsed.size,
                           [(i, inboxes[i]) for i in delivered],
                           read_copy=(job.author.id, copies[(job.author.id, copy)])
                           if copy else None)


def _forwards(job: Delivery, outcome: RoutingResult) -> list[dict]:
    author = job.author
    redirects = {d.result.account_id: d.redirect for d in job.decisions}
    targets = [(r.account_id, redirects[r.account_id]) for r in outcome.recipients
               if r.outcome == Outcome.FORWARDED]
    if job.copy_to_self and author.verified_redirect \
            and not author.has_role(Role.INTERNAL_MAIL):
        targets.append((author.id, author.verified_redirect))
    return [{"kind": EntryKind.FORWARD, "message_id": outcome.message_id,
             "account_id": account_id, "author_id": author.id, "address": address}
            for account_id, address in targets]


def _redirect_maps(messages: Sequence[mime.Parsed], settings) -> list[dict[str, str]]:
    """Per message, members' redirect addresses among its To/Cc → their universal address.
    Addresses of our own domain are never redirect addresses: most messages ask nothing."""
    candidates = [{a for a in headers.outside_addresses(m) if not settings.is_local(a)}
                  for m in messages]
    wanted = set().union(*candidates)
    if not wanted:
        return [{} for _ in messages]
    rows = db.session.execute(select(func.lower(Account.redirect_address), Account.address)
                              .where(func.lower(Account.redirect_address).in_(wanted)))
    found = {redirect: settings.universal(local) for redirect, local in rows}
    return [{a: found[a] for a in mine if a in found} for mine in candidates]


def _member_names(messages: Sequence[mime.Parsed], address_maps: Sequence[dict[str, str]],
                  settings) -> dict[str, str]:
    """Universal address → name of the members whose display name in some To/Cc hides an
    address (headers.shown replaces it): one query, and none for most messages."""
    wanted = set().union(*(headers.masked_addresses(m, address_map)
                           for m, address_map in zip(messages, address_maps, strict=True)))
    local_parts = [a.rpartition("@")[0] for a in wanted if settings.is_local(a)]
    if not local_parts:
        return {}
    members = db.session.scalars(
        select(Account).options(lazyload(Account.schools), lazyload(Account.role_overrides))
        .where(Account.address.in_(local_parts)))
    return {settings.universal(member.address): member.full_name for member in members}


def _warn(author: Account, parsed: mime.Parsed, outcome: RoutingResult) -> RoutingResult:
    failures = [(f"{r.name} <{r.address}>", r.reason) for r in outcome.refused
                if r.refusal in (Refusal.NO_REDIRECT, Refusal.MAILBOX_FULL)]
    if failures:
        reports.undeliverable(author, parsed.subject, parsed.sent_at, failures,
                              in_reply_to=parsed.message_id,
                              others_received=bool(outcome.accepted))
    return outcome
