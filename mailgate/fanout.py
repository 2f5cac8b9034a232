"""One message to thousands, in the background: the population mailing's engine (SPEC §6),
and the one agenda notices and automated communications use as it is.

- `submit` (in the web request, the caller's transaction): stores the message once
  (`routing.store_once`, with the author's copy), writes the job and one pending row per
  recipient with a single INSERT … SELECT from the caller's query of account ids — never a
  loop over accounts. A second submit of the same form (same author, same idempotency key)
  returns the first job and writes nothing.
- `run_batch` (the worker's loop, mailgate/worker.py): claims up to `BATCH` pending
  recipients of the oldest running job (FOR UPDATE SKIP LOCKED on PostgreSQL, so several
  workers share a job; SQLite has one writer and runs one worker), routes them through
  the one routing path — `routing.check(..., population=True)`, which lifts only the limit
  of 50 recipients while the rights engine judges each one, then `routing.deliver(...,
  message_id=…)` which places the stored message — and records each outcome, all in one
  transaction. A worker killed in the middle loses that transaction whole: its recipients
  are still pending and the next batch takes them, so nobody gets the message twice and
  nobody is forgotten. The batch that finds nothing left marks the job finished. A batch
  whose stored message is unreadable is refused whole (UNROUTABLE); otherwise a batch that
  cannot be routed is undone alone (a savepoint) and routed again in halves, down to one,
  so that only the recipients whose own routing fails are refused (`_route_alone`). Either
  way the worker goes on: one broken job never holds up the mailings, notices and
  communications after it. A database error or an OSError refuses nobody: the round is
  tried again.
- A forward that fails for good afterwards (refused by the relay, bounced, never left:
  mailgate/bounces.py `report`) makes its recipient refused (FORWARD_FAILED) in the job's
  report, instead of one « Non remis » mail to the author per recipient (`forward_failed`).
- Progress is the count of rows per state (`progress`; the polled bar counts the pending
  alone, `advance`); the report lists them; `preview`
  (mailgate/fanout_preview.py) judges the whole population the same way in SQL beforehand.
- Read acknowledgements: a job may ask its recipients to confirm; each one's message carries
  a signed link of their own (mailgate/personalise.py), and the caller's page may offer a
  button (`acknowledge_origin`). A reminder is a new job whose confirmations count for the
  job it reminds of.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Group as AddressGroup
from email.message import EmailMessage
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from directory.clock import utcnow
from directory.db import db, dialect_name, write_lock
from directory.models import Account
from directory.sets import update_rows

from . import mime, personalise, routing, store
from .fanout_models import REACHED, AckChannel, FanoutJob, FanoutRecipient, RecipientState
from .headers import author_from, date_now, new_message_id, one_line
from .models import MailMessage
from .personalise import read_token
from .settings import current

BATCH = 1000
BATCH_POSTGRESQL = 5000
log = logging.getLogger("preau.fanout")
# Refusals the engine records itself, beside routing's (routing.Refusal):
AUTHOR_GONE = "author_gone"     # recipients left when the author's account went
UNROUTABLE = "unroutable"       # the message unreadable, or their own routing failed
FORWARD_FAILED = "forward_failed"   # forwarded, then the forward failed for good
CANCELLED = "cancelled"         # still pending when their sending was stopped (`cancel_pending`)


def message(author: Account, *, subject: str, text: str, audience: str) -> EmailMessage:
    """A message to a population: To names the population as an empty group
    ("Parents d'élèves de 4A:;"), never its thousands of addresses; its name on one line, as
    every name Préau writes into a header (a line break there would end the field and start
    one of the name's choosing). Quoted-printable keeps
    `[[preau:lien]]` whole in the stored bytes, where the worker finds it."""
    settings = current()
    mail = EmailMessage()
    mail["From"] = author_from(author.full_name, settings.universal(author.address))
    mail["To"] = AddressGroup(display_name=one_line(audience))
    mail["Subject"] = one_line(subject)
    mail["Date"] = date_now()
    mail["Message-ID"] = new_message_id(settings.domain)
    mail.set_content(text, cte="quoted-printable")
    return mail


def submit(author: Account, mail: EmailMessage | bytes, recipients: sa.Select, *, origin: str,
           idempotency_key: str, audience: str = "", acknowledge: bool = False,
           link_template: str | None = None, reminder_of: int | None = None,
           include_author: bool = False, forward_invitation: str | None = None,
           save_copy: bool = True) -> FanoutJob:
    """A new job for the accounts `recipients` selects (the author apart, unless
    `include_author`: a trial sent to oneself), or the job this form already made.
    `link_template`: where `[[preau:lien]]` is, each recipient reads it with "{token}"
    replaced by their signed token. `forward_invitation`: an iCalendar invitation that
    forwarded copies carry, addressed to each recipient (mailgate/personalise.py).
    `save_copy`: keep the author's copy. The caller commits."""
    existing = job_for_key(author, idempotency_key)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            job = FanoutJob(author_id=author.id, origin=origin, audience=audience,
                            idempotency_key=idempotency_key, acknowledge=acknowledge,
                            link_template=link_template, reminder_of=reminder_of,
                            forward_invitation=forward_invitation)
            db.session.add(job)
            db.session.flush()
    except IntegrityError:
        return job_for_key(author, idempotency_key)
    job.message_id = routing.store_once(author, routing.as_parsed(mail), save_copy=save_copy)
    chosen = recipients.subquery()
    rows = select(literal(job.id), chosen.c[0], literal(RecipientState.PENDING.value))
    if not include_author:
        rows = rows.where(chosen.c[0] != author.id)
    rows = rows.distinct()
    result = store.core(insert(FanoutRecipient.__table__).from_select(
        ["job_id", "account_id", "state"], rows).execution_options(preserve_rowcount=True))
    job.total = result.rowcount
    if not job.total:
        job.finished_at = utcnow()
    return job


def job_for_key(author: Account, idempotency_key: str) -> FanoutJob | None:
    return db.session.scalar(select(FanoutJob).where(
        FanoutJob.author_id == author.id, FanoutJob.idempotency_key == idempotency_key))


def remind(job: FanoutJob, author: Account, mail: EmailMessage, *,
           idempotency_key: str) -> FanoutJob:
    """Send `mail` again to the recipients of `job` who were reached and have not confirmed."""
    waiting = select(FanoutRecipient.account_id).where(
        FanoutRecipient.job_id == job.ack_job_id, FanoutRecipient.acknowledged_at.is_(None),
        _reached())
    return submit(author, mail, waiting, origin=job.origin, idempotency_key=idempotency_key,
                  audience=job.audience, acknowledge=True, link_template=job.link_template,
                  reminder_of=job.ack_job_id, forward_invitation=job.forward_invitation)


# --- the worker's side ------------------------------------------------------------------------

def batch_size() -> int:
    """PREAU_FANOUT_BATCH recipients per batch: one transaction each. By default 5,000 on
    PostgreSQL (fewer round trips; other writers are not held up) and 1,000 on SQLite, whose
    single writer lock the gateway waits for while a batch runs."""
    from flask import current_app

    configured = current_app.config["PREAU"].get("FANOUT_BATCH")
    if configured:
        return max(1, int(configured))
    return BATCH if dialect_name() == "sqlite" else BATCH_POSTGRESQL


def run_batch(limit: int | None = None) -> int:
    """Route one batch of the oldest running job and commit. Returns how many recipients
    were routed (0: nothing to do)."""
    limit = limit or batch_size()
    running = db.session.scalars(_running_statement()).all()
    db.session.commit()     # SQLite: the write lock is taken below, before any read
    for job_id in running:
        write_lock()
        ids = _claim(job_id, limit)
        if ids:
            _route_alone(db.session.get(FanoutJob, job_id), ids)
            db.session.commit()
            return len(ids)
        _finish_if_done(job_id)
        db.session.commit()
    return 0


@lru_cache(maxsize=1)
def _running_statement():
    """The running jobs, oldest first: built once (the worker asks at every round)."""
    return select(FanoutJob.id).where(FanoutJob.finished_at.is_(None)).order_by(
        FanoutJob.id).limit(20)


def _claim(job_id: int, limit: int) -> list[int]:
    return list(db.session.scalars(
        select(FanoutRecipient.account_id)
        .where(FanoutRecipient.job_id == job_id, FanoutRecipient.state == RecipientState.PENDING)
        .order_by(FanoutRecipient.account_id).limit(limit).with_for_update(skip_locked=True)))


def _route_alone(job: FanoutJob, ids: list[int]) -> None:
    """Route a batch so that what fails stays alone, instead of failing the round again and
    again and holding up every job behind this one (the oldest running is always taken
    first). A message that cannot be prepared (its stored copy unreadable) can reach none of
    its recipients: the batch is refused (UNROUTABLE). Otherwise the recipients are routed in
    a savepoint, and when that fails, in halves, each in its own, down to one: only the
    recipients whose own routing fails are refused, the batch's others are routed as usual
    (as mailgate/worker.py `_sources` reads each message alone). A database error or an
    OSError (a connection, a shared store: nothing about this job) fails the round, which
    is tried again whole; nobody is refused for it."""
    try:
        prepared = _prepared(job)
    except (SQLAlchemyError, OSError):
        raise
    except Exception:
        log.exception("fan-out job %s: its message cannot be prepared, a batch of %s "
                      "recipients refused", job.id, len(ids))
        _record(job.id, {(RecipientState.REFUSED, UNROUTABLE): ids})
        return
    if prepared is None:
        _record(job.id, {(RecipientState.REFUSED, AUTHOR_GONE): ids})
        return
    _record(job.id, _routed_in_groups(job, prepared, ids))


def _prepared(job: FanoutJob) -> tuple[Account, MailMessage, mime.Parsed] | None:
    """The job's author, stored message and its parsed text, read once per batch; None when
    the author or the message is gone."""
    author = db.session.get(Account, job.author_id) if job.author_id else None
    stored = db.session.get(MailMessage, job.message_id) if job.message_id else None
    if author is None or stored is None:
        return None
    return author, stored, mime.parse(store.message_bytes(stored))


def _routed_in_groups(job: FanoutJob, prepared: tuple[Account, MailMessage, mime.Parsed],
                      ids: list[int]) -> dict[tuple[RecipientState, str | None], list[int]]:
    """Every recipient's outcome: `ids` routed together in a savepoint; a group that fails is
    undone and its two halves routed the same way, and a recipient that fails alone is
    refused (UNROUTABLE). One bad recipient among 5,000 costs about 2 × 13 groups."""
    fates: dict[tuple[RecipientState, str | None], list[int]] = defaultdict(list)
    groups = [ids]
    while groups:
        group = groups.pop()
        try:
            with db.session.begin_nested():
                routed = _route(prepared, group)
        except (SQLAlchemyError, OSError):
            raise
        except Exception:
            if len(group) == 1:
                log.exception("fan-out job %s: recipient %s could not be routed, refused",
                              job.id, group[0])
                fates[(RecipientState.REFUSED, UNROUTABLE)] += group
                continue
            if group is ids:
                log.exception("fan-out job %s: a batch of %s recipients could not be routed "
                              "together, routed in halves", job.id, len(ids))
            half = len(group) // 2
            groups += [group[half:], group[:half]]
            continue
        for fate, routed_ids in routed.items():
            fates[fate] += routed_ids
    return fates


def _route(prepared: tuple[Account, MailMessage, mime.Parsed], ids: list[int]
           ) -> dict[tuple[RecipientState, str | None], list[int]]:
    """The one routing path for these recipients (its statements do not grow with their
    number): each one's outcome."""
    author, stored, parsed = prepared
    decisions = routing.check(author, ids, population=True, incoming_size=parsed.size)
    result = routing.deliver(author, parsed, decisions, message_id=stored.id, save_copy=False,
                             warn=False)
    fates: dict[tuple[RecipientState, str | None], list[int]] = defaultdict(list)
    for recipient in result.recipients:
        fates[(RecipientState(recipient.outcome.value),
               recipient.refusal.value if recipient.refusal else None)].append(recipient.given)
    return fates


def _record(job_id: int, fates: dict[tuple[RecipientState, str | None], list[int]]) -> None:
    """Every recipient's outcome in one UPDATE (directory/sets.py)."""
    rows = [{"account_id": account_id, "state": state.value, "refusal": refusal}
            for (state, refusal), ids in fates.items() for account_id in ids]
    update_rows(FanoutRecipient.__table__, rows, keys=("account_id",),
                where={"job_id": job_id}, also={"routed_at": utcnow()})


def forward_failed(message_id: int | None, account_id: int | None) -> bool:
    """A forward of `message_id` to `account_id` failed for good. When the message is a
    job's, the recipient was not reached after all: their row says so (REFUSED,
    FORWARD_FAILED), where the job's report lists the people not reached and no reminder
    goes to them, and True tells the caller to mail no report: a mailing to 2,000 parents
    with 3 % dead addresses made 60 « Non remis » mails in the author's inbox. False: the
    message is no job's."""
    if message_id is None:
        return False
    job = personalise.jobs_of([message_id]).get(message_id)
    if job is None:
        return False
    if account_id is not None:
        store.core(update(FanoutRecipient.__table__)
                   .where(FanoutRecipient.job_id == job.id,
                          FanoutRecipient.account_id == account_id,
                          FanoutRecipient.state == RecipientState.FORWARDED)
                   .values(state=RecipientState.REFUSED, refusal=FORWARD_FAILED))
    return True


def cancel_pending(origin: str) -> int:
    """Stop the sendings under way about `origin` (an automated communication deactivated):
    their recipients still pending are refused (CANCELLED) and the jobs finished. Returns
    how many were. A batch being routed meanwhile is not undone: on PostgreSQL this waits
    for the rows it locked and then leaves those it routed; SQLite has one writer."""
    running = select(FanoutJob.id).where(FanoutJob.origin == origin,
                                         FanoutJob.finished_at.is_(None))
    job_ids = list(db.session.scalars(running))
    if not job_ids:
        return 0
    cancelled = store.core(
        update(FanoutRecipient.__table__)
        .where(FanoutRecipient.job_id.in_(job_ids),
               FanoutRecipient.state == RecipientState.PENDING)
        .values(state=RecipientState.REFUSED, refusal=CANCELLED, routed_at=utcnow())
        .execution_options(preserve_rowcount=True)).rowcount
    for job_id in job_ids:
        _finish_if_done(job_id)
    return cancelled


def _finish_if_done(job_id: int) -> None:
    pending = exists().where(FanoutRecipient.job_id == job_id,
                             FanoutRecipient.state == RecipientState.PENDING)
    store.core(update(FanoutJob.__table__)
               .where(FanoutJob.id == job_id, FanoutJob.finished_at.is_(None), ~pending)
               .values(finished_at=utcnow()))


# --- progress, report, acknowledgements --------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    total: int
    counts: dict[tuple[str, str | None], int]   # (state, refusal) → recipients
    finished: bool

    @property
    def routed(self) -> int:
        return self.total - self.count(RecipientState.PENDING)

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.routed * 100 // self.total

    def count(self, state: RecipientState, refusal: str | None = None) -> int:
        return sum(n for (s, r), n in self.counts.items()
                   if s == state and (refusal is None or r == refusal))


def progress(job: FanoutJob) -> Progress:
    return progress_of([job])[job.id]


def progress_of(jobs: Iterable[FanoutJob]) -> dict[int, Progress]:
    """`progress` of each of `jobs` (job id → Progress), in one statement grouped by job: a
    page listing several jobs (an event's notices) asks no statement per job."""
    jobs = list(jobs)
    counts: dict[int, dict[tuple[str, str | None], int]] = {job.id: {} for job in jobs}
    if jobs:
        rows = db.session.execute(
            select(FanoutRecipient.job_id, FanoutRecipient.state, FanoutRecipient.refusal,
                   func.count())
            .where(FanoutRecipient.job_id.in_(list(counts)))
            .group_by(FanoutRecipient.job_id, FanoutRecipient.state,
                      FanoutRecipient.refusal)).all()
        for job_id, state, refusal, n in rows:
            counts[job_id][(str(state), refusal)] = n
    return {job.id: Progress(job.total, counts[job.id], job.finished_at is not None)
            for job in jobs}


def advance(job: FanoutJob) -> Progress:
    """The progress bar's figures, which the page polls every second while the job runs:
    the recipients still pending only, counted on ix_fanout_recipient_state (job_id, state),
    and `finished_at`. Its `routed`, `percent` and `finished` are `progress`'s; its counts
    hold the pending alone (the report reads `progress`, every state and refusal, which
    reads each recipient's row)."""
    pending = db.session.scalar(select(func.count()).select_from(FanoutRecipient).where(
        FanoutRecipient.job_id == job.id, FanoutRecipient.state == RecipientState.PENDING))
    return Progress(job.total, {(RecipientState.PENDING.value, None): pending},
                    job.finished_at is not None)


def recipients_query(job: FanoutJob, *, state: RecipientState | None = None,
                     acknowledged: bool | None = None) -> sa.Select:
    """The job's recipients with their names, by name: the report's rows."""
    query = (select(Account.id, Account.first_name, Account.last_name, Account.profile,
                    Account.address, FanoutRecipient.state, FanoutRecipient.refusal,
                    FanoutRecipient.acknowledged_at, FanoutRecipient.acknowledged_by)
             .join(Account, Account.id == FanoutRecipient.account_id)
             .where(FanoutRecipient.job_id == job.id)
             .order_by(Account.search_name, Account.id))
    if state is not None:
        query = query.where(FanoutRecipient.state == state)
    if acknowledged is not None:
        query = query.where(FanoutRecipient.acknowledged_at.isnot(None) if acknowledged
                            else FanoutRecipient.acknowledged_at.is_(None))
    return query


def confirmed_query(job: FanoutJob) -> sa.Select:
    """Who confirmed reading what `job` sent, by name: a reminder's confirmations are
    recorded on the first sending's rows (`ack_job_id`), as `acknowledged_count` counts."""
    return recipients_query(db.session.get(FanoutJob, job.ack_job_id), acknowledged=True)


def acknowledged_count(job: FanoutJob) -> int:
    return db.session.scalar(select(func.count()).select_from(FanoutRecipient).where(
        FanoutRecipient.job_id == job.ack_job_id, FanoutRecipient.acknowledged_at.isnot(None)))


def _reached() -> sa.ColumnElement[bool]:
    """The recipients the message reached: only they are asked to confirm their reading (a
    refused one never got it, a pending one not yet)."""
    return FanoutRecipient.state.in_(REACHED)


def acknowledge(job_id: int, account_id: int, channel: AckChannel) -> bool:
    """Record that `account_id` read what job `job_id` sent; False if the job asked no
    confirmation or did not reach them, or if the account is gone or suspended — the mailed
    link never expires, and a suspended parent confirms nothing, as a suspended login would
    not (the agenda's one-click answer refuses them the same way). Confirming twice keeps the
    first time."""
    job = db.session.get(FanoutJob, job_id)
    if job is None or not job.acknowledge:
        return False
    account = db.session.get(Account, account_id)
    if account is None or account.suspended:
        return False
    row = db.session.get(FanoutRecipient, (job.ack_job_id, account_id))
    if row is None or row.state not in REACHED:
        return False
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by = utcnow(), channel
    return True


def acknowledge_by_token(token: str) -> FanoutJob | None:
    """The signed link of a message: the job it confirms, or None for a bad token."""
    found = read_token(token)
    if found is None or not acknowledge(*found, AckChannel.LINK):
        return None
    return db.session.get(FanoutJob, found[0])


def awaiting_acknowledgement(origin: str, account_id: int) -> list[int]:
    """Jobs about `origin` that reached `account_id`, asked them to confirm, and still wait
    for it."""
    return list(db.session.scalars(
        select(FanoutJob.id).join(FanoutRecipient, FanoutRecipient.job_id == FanoutJob.id)
        .where(FanoutJob.origin == origin, FanoutJob.acknowledge.is_(True),
               FanoutJob.reminder_of.is_(None), FanoutRecipient.account_id == account_id,
               FanoutRecipient.acknowledged_at.is_(None), _reached())))


def acknowledge_origin(origin: str, account_id: int) -> int:
    """The page's button: confirm every job about `origin` waiting for `account_id`."""
    jobs = awaiting_acknowledgement(origin, account_id)
    for job_id in jobs:
        acknowledge(job_id, account_id, AckChannel.PAGE)
    return len(jobs)


def jobs_of(origin: str, limit: int | None = None) -> list[FanoutJob]:
    """The jobs about `origin`, newest first: the newest `limit` of them (the statement's
    LIMIT: a page shows a few of an event's many notices without reading them all)."""
    return list(db.session.scalars(select(FanoutJob).where(FanoutJob.origin == origin)
                                   .order_by(FanoutJob.id.desc()).limit(limit)))

