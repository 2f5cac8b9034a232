"""`preau worker`: sends the outbound queue through the smarthost.

Each round claims a batch of up to `BATCH` due entries (committed at once, so other workers
skip them: FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer on SQLite), reads all their
messages in one query and makes each recipient's copy, then hands the batch to
PREAU_SEND_THREADS sending threads (mailgate/senders.py), each on an SMTP connection of its
own kept open across batches; what became of every entry is then written: first the
entries sent (one UPDATE for all), in a short transaction of their own when others failed,
then the failures and their reports (a batch all sent: one transaction). While the batch is made out and sent, a `Heartbeat` thread renews its lease
(a minute) every 20 seconds, however long the relay takes; it stops before the recording.
A member's forward or report goes to their verified redirect address as it is when it is
sent, which the claim reads (`_recipient`): not to the one it was queued with, and not at
all once the member is suspended or has no verified address any more. A round makes at
most `PREPARED_BYTES` of copies (a personalised mailing's copies are each the whole
message): the entries past it are given back for the next round.
What kill -9 costs: a worker killed mid-batch has recorded nothing of that batch, so once its
lease has passed (a minute) another round sends the batch's entries again, those already
delivered included: at most one batch of duplicates per killed worker, never a loss. SIGTERM
or a first Ctrl-C cost none: they set `run_forever`'s `stop`, so the batch out is finished and
recorded before the worker leaves (portal/processes.py), and no step of the round runs after
it, the claim of a new batch above all.
Forwards use a signed envelope sender, `bounces+<entry id>-<day>-<hmac>@<domain>`
(mailgate/bounces.py); reports and system mail use the null sender `<>`, so nobody bounces
them back. The copy of a message whose sender did not authenticate (PREAU_SENDER_AUTH=mark)
has its subject tagged (mailgate/sender_auth.py `subject_tag`) before it is signed
(`_finished`).
Each round also routes one batch of a background fan-out (mailgate/fanout.py), so a mailing
to 100,000 people advances between sends and never holds the queue up, and first runs the
automated communications that are due (mailgate/automations/scheduler.py), whose fan-outs
the next batches route. And it indexes what the gateways left unindexed (mailgate/indexer.py:
a gateway stopped or killed before its indexer thread came to it). Once a minute it suspends
the accounts whose access has ended and removes the memberships that have
(`directory.accounts.end_ended_access`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from directory.account_admin import forget_stale_uploads
from directory.accounts import end_ended_access
from directory.clock import utcnow
from directory.db import db, is_deadlock, is_lock_conflict, write_transaction
from directory.sets import any_of

from . import (
    bounces,
    dkim_signing,
    fanout,
    headers,
    indexer,
    personalise,
    queue,
    sender_auth,
    store,
)
from .automations import scheduler
from .failures import Failure, FailureKind
from .models import EntryKind, MailMessage, OutboundEntry
from .senders import NOT_TRIED, Envelope, Senders
from .settings import Settings, current
from .smarthost import Outcome, Relay

log = logging.getLogger("preau.worker")
PURGE_EVERY = 600
BATCH = 200
GONE = Outcome(False, True, "message supprimé avant l'envoi")
UNREADABLE = Outcome(False, True, "message impossible à reconstituer pour l'envoi")
# Past its lifetime when claimed again after an attempt that recorded nothing (a round that
# failed before sending, a worker killed while preparing): failed and reported, as `defer`
# does past the lifetime, instead of being claimed every minute for ever.
EXPIRED = Outcome(False, False, "durée de vie dépassée avant l'envoi", reached=False)
# A forward or report whose recipient was suspended, or lost their verified redirect address,
# after it was queued: not sent (the gateway would refuse the same mail at RCPT, and the
# address it was queued with may no longer be theirs). The author of a forward is told in
# the routing's own words (directory/wording.py): `_NOT_SENT` gives the reason's code.
RECIPIENT_SUSPENDED = Outcome(False, True, "compte du destinataire suspendu avant l'envoi")
NO_REDIRECT = Outcome(False, True,
                      "plus d'adresse de redirection vérifiée du destinataire avant l'envoi")
_NOT_SENT = {RECIPIENT_SUSPENDED: "suspended", NO_REDIRECT: "no_redirect"}
# The bytes of distinct copies a batch makes before it is sent (at least one copy): a
# personalised mailing's copies are each the whole message, attachments included (a 10 MB
# file: 13.7 MB a copy, 200 copies 2.7 GB). The entries past it are given back at once
# (`queue.release`: due again, their attempt not counted) for the next round.
PREPARED_BYTES = 64 * 1024 * 1024
# `claimed_by` holds 64 characters: a longer host name (a Kubernetes pod's) is cut and ends
# with a hash of the whole, so that two pods of one deployment keep distinct names.
_HOST_CHARS = 40


def worker_name() -> str:
    host = socket.gethostname()
    if len(host) > _HOST_CHARS:
        digest = hashlib.sha256(host.encode()).hexdigest()[:8]
        host = f"{host[:_HOST_CHARS - 9]}~{digest}"
    # pid: at most 7 digits (pid_max 4194304), so at most 40 + 1 + 7 + 1 + 5 = 54
    return f"{host}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass(frozen=True)
class Prepared:
    entry: queue.Claimed
    envelope: Envelope | None       # None: not to be sent, for `outcome`'s reason
    outcome: Outcome = GONE         # its message was deleted before it could be sent


def run_once(worker: str | None = None, *, now: datetime | None = None,
             limit: int = BATCH, stop: threading.Event | None = None) -> int:
    """One round: claim, send, record. Returns how many entries were handled. Once `stop`
    is set, what is not sent yet is given back (`senders.NOT_TRIED`) and the rest recorded.
    The entries past the batch's `PREPARED_BYTES` are given back before sending.
    The lease stops being renewed once the batch is sent: recording it runs alone on its
    rows. The entries sent are marked first, in a short transaction of their own when
    others failed or are deferred: whatever then fails while those are recorded (a report
    that cannot be made), the entries sent are not sent again. A batch all sent (the usual
    one) is recorded in one transaction."""
    settings = current()
    worker = worker or worker_name()
    claimed = queue.claim(worker, limit=limit, now=now)
    db.session.commit()
    if not claimed:
        return 0
    with Heartbeat(worker, [entry.id for entry in claimed]):
        prepared, left = _prepare(claimed, settings, now or utcnow())
        db.session.commit()             # end the read: the writes below take the lock first
        if left:
            write_transaction(lambda: queue.release(left, worker))
        outcomes = senders().send([p.envelope for p in prepared if p.envelope is not None],
                                  stop)
    results = iter(outcomes)
    fates = [(p.entry, next(results) if p.envelope is not None else p.outcome)
             for p in prepared]
    moved = {p.entry.id: p.envelope.recipient for p in prepared
             if p.envelope is not None and p.envelope.recipient != p.entry.address}
    if all(outcome.sent or outcome is NOT_TRIED for _, outcome in fates):
        _retried(lambda: _record_sent(fates, moved, worker, now, collect=True))
    else:
        _retried(lambda: _record_sent(fates, moved, worker, now))
        write_transaction(lambda: _record(fates, worker, settings, now))
    return len(claimed) - len(left)


SENT_RECORD_TRIES = 3


def _retried(work: Callable[[], None], tries: int = SENT_RECORD_TRIES) -> None:
    """`write_transaction(work)`, run again when SQLite's lock was busy past its timeout or
    PostgreSQL broke a deadlock with it: what it records was sent, and is sent again unless
    recorded."""
    for attempt in range(1, tries + 1):
        try:
            write_transaction(work)
            return
        except SQLAlchemyError as error:
            if attempt == tries or not (is_lock_conflict(error) or is_deadlock(error)):
                raise
            log.warning("recording the batch sent: %s; trying again", error)
            time.sleep(0.1 * attempt)


class Heartbeat:
    """Renews the lease of a batch every `every` seconds from a thread of its own, for as
    long as the batch is being sent, however long one relay takes to answer."""

    def __init__(self, worker: str, entry_ids: list[int],
                 every: float = queue.HEARTBEAT.total_seconds()):
        from flask import current_app

        self.app = current_app._get_current_object()
        self.worker, self.entry_ids, self.every = worker, entry_ids, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="preau-lease", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        with self.app.app_context():
            while not self.stopped.wait(self.every):
                try:
                    write_transaction(lambda: queue.renew(self.worker, self.entry_ids))
                except Exception:
                    log.exception("lease renewal failed")


def signer() -> dkim_signing.Signer | None:
    """The DKIM signer of this app, read once; a bad key raises InvalidInput (in French)."""
    from flask import current_app

    extensions = current_app.extensions
    if "mailgate.dkim" not in extensions:
        extensions["mailgate.dkim"] = dkim_signing.from_settings(current())
    return extensions["mailgate.dkim"]


def senders() -> Senders:
    """The sending threads of this app, started once, their connections kept open (made
    anew if the app's settings were replaced)."""
    from flask import current_app

    extensions, settings = current_app.extensions, current()
    made_for, pool = extensions.get("mailgate.senders", (None, None))
    if made_for is not settings:
        if pool is not None:
            pool.close()
        pool = Senders(settings.send_threads, lambda: Relay(
            settings.smarthost, settings.instance_path, settings.hostname))
        extensions["mailgate.senders"] = (settings, pool)
    return pool


def _prepare(claimed: list[queue.Claimed], settings: Settings,
             now: datetime) -> tuple[list[Prepared], list[int]]:
    """Each entry's envelope: its message read once for the whole batch (one query), then
    made out to its recipient (mailgate/personalise.py, what the copies need read for the
    whole batch too) and signed with DKIM when configured:
    identical copies (a mailing's forwards, unless personalised) once for the batch, since
    dkimpy's RSA in Python costs 6 ms a signature, 50 times the rest of a forward's relay
    (bench/relay_cpu.py --dkim).
    An entry already tried that is past its lifetime is not sent (`EXPIRED`); a member's
    forward or report goes to their verified redirect address as it is now (`_recipient`),
    or not at all once they have none or are suspended; a message that cannot be made out
    fails alone (`UNREADABLE`), the rest of the batch is sent.
    Once the distinct messages to read hold `PREPARED_BYTES` (`_within_budget`, by their
    stored sizes, before any is read), or the distinct copies made do (a personalised
    mailing's), the entries left are not made out: returned second, for the caller to give
    back."""
    claimed, beyond = _within_budget(claimed)
    expired = {entry.id for entry in claimed if entry.attempts > 1 and entry.expires_at <= now}
    recipients = {entry.id: _recipient(entry) for entry in claimed}
    sources, unreadable = _sources({entry.message_id for entry in claimed
                                    if entry.message_id and entry.id not in expired
                                    and isinstance(recipients[entry.id], str)})
    jobs = personalise.for_batch(sources, [(entry.message_id, entry.account_id)
                                           for entry in claimed])
    dkim = signer()
    made: dict[tuple[bytes, str | None], bytes] = {}    # `_finished` copies
    prepared: list[Prepared] = []
    left: list[int] = beyond
    kept: set[int] = set()          # id() of the copies made so far, each counted once
    size = 0
    for entry in claimed:
        if size >= PREPARED_BYTES:
            left.append(entry.id)
            continue
        if entry.id in expired:
            prepared.append(Prepared(entry, None, EXPIRED))
            continue
        address = recipients[entry.id]
        if not isinstance(address, str):
            prepared.append(Prepared(entry, None, address))
            continue
        if entry.message_id in unreadable:
            prepared.append(Prepared(entry, None, UNREADABLE))
            continue
        if entry.message_id not in sources:
            prepared.append(Prepared(entry, None))
            continue
        forward = entry.kind == EntryKind.FORWARD
        sender = bounces.envelope_sender(entry.id, settings) if forward else ""
        source = sources[entry.message_id]
        try:    # one message that cannot be made out fails alone, not its whole batch
            data = personalise.forward_bytes(source, entry.message_id, entry.account_id,
                                              address if forward else None, jobs=jobs)
            data = _finished(data, sender_auth.subject_tag(entry.sender_check), dkim, made,
                             shared=data is source)
        except SQLAlchemyError:     # the database, not the message: the batch is tried again
            raise
        except Exception:
            log.exception("entry %s could not be made out", entry.id)
            prepared.append(Prepared(entry, None, UNREADABLE))
            continue
        if id(data) not in kept:
            kept.add(id(data))
            size += len(data)
        prepared.append(Prepared(entry, Envelope(sender, address, data)))
    return prepared, left


def _within_budget(claimed: list[queue.Claimed]) -> tuple[list[queue.Claimed], list[int]]:
    """The entries whose messages fit in PREPARED_BYTES together, each message counted once
    by its stored size (one query; at least one message), and the ids of the others: a
    backlog of large distinct messages is read a budget at a time, not whole at every round
    to be mostly given back."""
    wanted = {entry.message_id for entry in claimed if entry.message_id}
    if not wanted:
        return claimed, []
    sizes = dict(db.session.execute(select(MailMessage.id, MailMessage.size)
                                    .where(any_of(MailMessage.id, wanted))).tuples().all())
    taken: set[int] = set()
    within, beyond, total = [], [], 0
    for entry in claimed:
        message = entry.message_id
        if message is None or message in taken:
            within.append(entry)
        elif taken and total >= PREPARED_BYTES:
            beyond.append(entry.id)
        else:
            taken.add(message)
            total += sizes.get(message, 0)
            within.append(entry)
    return within, beyond


def _recipient(entry: queue.Claimed) -> str | Outcome:
    """Where `entry` goes: a member's forward or report (it has an account) to their verified
    redirect address as the claim read it, not as it was when queued; `RECIPIENT_SUSPENDED`
    or `NO_REDIRECT` when it is not to be sent any more. System mail (to an address being
    verified, a password) goes where it was queued to."""
    if entry.account_id is None or entry.kind not in (EntryKind.FORWARD, EntryKind.REPORT):
        return entry.address
    if entry.suspended:
        return RECIPIENT_SUSPENDED
    return entry.redirect or NO_REDIRECT


def _finished(data: bytes, tag: str | None, dkim: dkim_signing.Signer | None,
              made: dict[tuple[bytes, str | None], bytes], *, shared: bool = True) -> bytes:
    """The copy as it leaves: its subject tagged when its sender did not authenticate
    (mailgate/sender_auth.py `subject_tag`), then signed, so that the signature covers the
    subject the recipient reads. The forwards of one message, not personalised, are the same
    bytes: made once (`made`; RSA: 6 ms in Python). A personalised copy (`shared` False) is
    one recipient's alone: made, and not kept in `made` beside its source."""
    if tag is None and dkim is None:
        return data
    if not shared:
        tagged = headers.tagged_subject(data, tag) if tag else data
        return dkim.sign(tagged) if dkim is not None else tagged
    if (data, tag) not in made:
        tagged = headers.tagged_subject(data, tag) if tag else data
        made[data, tag] = dkim.sign(tagged) if dkim is not None else tagged
    return made[data, tag]


def _sources(message_ids: set[int]) -> tuple[dict[int, bytes], set[int]]:
    """The batch's messages as `store.messages_bytes` reads them, in one query, and the ids
    of those that could not be rebuilt: when one cannot, each is read again alone, so that
    it fails alone instead of its whole batch at every round."""
    try:
        return store.messages_bytes(message_ids), set()
    except SQLAlchemyError:     # the database, not a message: the batch is tried again
        raise
    except Exception:
        log.exception("a message of the batch could not be read whole: each read alone")
    sources, unreadable = {}, set()
    for message_id in sorted(message_ids):
        try:
            sources.update(store.messages_bytes([message_id]))
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("message %s could not be read whole for sending", message_id)
            unreadable.add(message_id)
    return sources, unreadable


def _record_sent(fates: list[tuple[queue.Claimed, Outcome]], moved: dict[int, str],
                 worker: str, now: datetime | None, *, collect: bool = False) -> None:
    """The first part of what became of a batch, in a short transaction of its own: the
    address each entry went to when it is no longer the one queued (`moved`), one UPDATE
    for all those sent, and those not tried given back. `collect`: nothing else is to be
    recorded (no failure, no deferral), so the messages no longer needed go too."""
    queue.readdress(moved, worker)
    queue.mark_all_sent([entry.id for entry, outcome in fates if outcome.sent], worker, now)
    queue.release([entry.id for entry, outcome in fates if outcome is NOT_TRIED], worker)
    if collect:
        store.collect_garbage({entry.message_id for entry, _ in fates if entry.message_id})


def _record(fates: list[tuple[queue.Claimed, Outcome]], worker: str, settings: Settings,
            now: datetime | None) -> None:
    """The rest, once `_record_sent` is committed, in the caller's one transaction:
    deferrals, failures and their reports one by one (they are few). A report that cannot
    be made is logged and lost alone (a savepoint): its entry stays failed, the others'
    reports are made."""
    for entry, outcome in fates:
        if outcome.sent or outcome is NOT_TRIED:
            continue
        if outcome is GONE:
            queue.mark_failed(entry.id, worker, outcome.error, now)
        elif outcome in _NOT_SENT:
            if queue.mark_failed(entry.id, worker, outcome.error, now):
                _report(entry.id, lambda row, code=_NOT_SENT[outcome]:
                        bounces.report_not_sent(row, code))
        elif outcome is not EXPIRED and not outcome.permanent \
                and queue.defer(entry, worker, outcome.error, now):
            log.info("entry %s deferred: %s", entry.id, outcome.error)
        else:
            failure = _failure(outcome, settings.queue_lifetime)
            if queue.mark_failed(entry.id, worker, failure.log_text, now):
                _report(entry.id, lambda row, failure=failure: bounces.report(row, failure))
    store.collect_garbage({entry.message_id for entry, _ in fates if entry.message_id})


def _failure(outcome: Outcome, lifetime: timedelta) -> Failure:
    if outcome.permanent:
        return Failure(FailureKind.REFUSED, outcome.error)
    if not outcome.reached:
        return Failure(FailureKind.UNREACHABLE, lasted=lifetime)
    return Failure(FailureKind.DEFERRED, outcome.error, lasted=lifetime)


def _report(entry_id: int, tell: Callable[[OutboundEntry], int]) -> None:
    """`tell` the author of the failed entry, in a savepoint: a report that fails (its
    making raised) is logged and undone alone."""
    entry = db.session.get(OutboundEntry, entry_id)
    if entry is None:
        return
    try:
        with db.session.begin_nested():
            tell(entry)
    except Exception:
        log.exception("the report on entry %s could not be made", entry_id)


def drain(worker: str | None = None, *, now: datetime | None = None,
          stop: threading.Event | None = None) -> int:
    """Rounds until nothing is due, or `stop` is set (for `preau worker --drain` and
    tests): from then on no step runs, as in `run_forever`. Then entries finished long ago
    are purged, as `run_forever` does from time to time: a drain run from a timer must not
    let the queue grow for ever."""
    steps = (lambda: end_ended_access(now), lambda: scheduler.run_due(now), fanout.run_batch,
             indexer.index_left, lambda: run_once(worker, now=now, stop=stop))
    total = 0
    while handled := sum(step() for step in steps if not (stop and stop.is_set())):
        total += handled
    if not (stop and stop.is_set()):
        _purge(now)
    return total


# Seconds between two looks for messages a gateway left unindexed, while none are found.
# They are LEFT_AFTER (30 s) old before a look takes them; looking at every round cost the
# database 0.9 ms a time, 27 µs per message forwarded during a burst.
LOOK_FOR_LEFT_EVERY = 5.0


# Seconds between two looks for accounts and memberships whose access has ended: an end
# falls at a day's start, so it takes effect within a minute of it.
LOOK_FOR_ENDED_ACCESS_EVERY = 60.0


def _purge(now: datetime | None = None) -> int:
    while queue.purge_finished(now) == queue.PURGE_BATCH:
        db.session.commit()
    forget_stale_uploads(now)       # account files kept too long: they may hold passwords
    db.session.commit()
    return 0


def _step(name: str, work: Callable[[], int], stop: threading.Event) -> int:
    """What `work` handled; 0 when it failed (logged, its transaction rolled back), or when
    `stop` was set, during an earlier step for instance: then it does not run. A worker told
    to stop must claim no new batch, since `preau serve` kills it once the batch it has out
    had time to finish; killed mid-batch, it would have the batch sent twice."""
    if stop.is_set():
        return 0
    try:
        return work()
    except Exception:
        log.exception("outbound worker: %s failed", name)
        db.session.rollback()
        return 0


def run_forever(stop: threading.Event, *, idle: float = 1.0) -> None:
    worker = worker_name()
    last_purge = utcnow()
    next_look = next_access_look = 0.0
    while not stop.is_set():
        # Each step on its own: one that fails (a message it cannot read, a communication
        # it cannot make) must not hold up the others, forwarding above all.
        handled = _step("scheduled communications", scheduler.run_due, stop) \
            + _step("fan-out", fanout.run_batch, stop)
        if time.monotonic() >= next_access_look:
            next_access_look = time.monotonic() + LOOK_FOR_ENDED_ACCESS_EVERY
            handled += _step("ends of access", end_ended_access, stop)
        if time.monotonic() >= next_look:
            next_look = time.monotonic() + LOOK_FOR_LEFT_EVERY
            left = _step("indexing", indexer.index_left, stop)
            next_look = 0.0 if left else next_look
            handled += left
        handled += _step("outbound queue", lambda: run_once(worker, stop=stop), stop)
        if (utcnow() - last_purge).total_seconds() > PURGE_EVERY:
            last_purge = utcnow()
            _step("purge", _purge, stop)
        if not handled:
            stop.wait(idle)
