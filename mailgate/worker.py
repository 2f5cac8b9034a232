"""`preau worker`: sends the outbound queue through the smarthost.

Each round claims a batch of up to `BATCH` due entries (committed at once, so other workers
skip them: FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer on SQLite), reads all their
messages in one query and makes each recipient's copy, then hands the batch to
PREAU_SEND_THREADS sending threads (mailgate/senders.py), each on an SMTP connection of its
own kept open across batches; what became of every entry is then written in one
transaction (one UPDATE for all those sent). While the batch is out, a `Heartbeat` thread
renews its lease (a minute) every 20 seconds, however long the relay takes.
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

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from directory.accounts import end_ended_access
from directory.clock import utcnow
from directory.db import db, write_transaction

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
from .models import EntryKind, OutboundEntry
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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass(frozen=True)
class Prepared:
    entry: queue.Claimed
    envelope: Envelope | None       # None: not to be sent, for `outcome`'s reason
    outcome: Outcome = GONE         # its message was deleted before it could be sent


def run_once(worker: str | None = None, *, now: datetime | None = None,
             limit: int = BATCH, stop: threading.Event | None = None) -> int:
    """One round: claim, send, record. Returns how many entries were handled. Once `stop`
    is set, what is not sent yet is given back (`senders.NOT_TRIED`) and the rest recorded."""
    settings = current()
    worker = worker or worker_name()
    claimed = queue.claim(worker, limit=limit, now=now)
    db.session.commit()
    if not claimed:
        return 0
    with Heartbeat(worker, [entry.id for entry in claimed]):
        prepared = _prepare(claimed, settings, now or utcnow())
        db.session.commit()             # end the read: the writes below take the lock first
        outcomes = senders().send([p.envelope for p in prepared if p.envelope is not None],
                                  stop)
        results = iter(outcomes)
        fates = [(p.entry, next(results) if p.envelope is not None else p.outcome)
                 for p in prepared]
        write_transaction(lambda: _record(fates, worker, settings, now))
    return len(claimed)


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
             now: datetime) -> list[Prepared]:
    """Each entry's envelope: its message read once for the whole batch (one query), then
    made out to its recipient (mailgate/personalise.py, what the copies need read for the
    whole batch too) and signed with DKIM when configured:
    identical copies (a mailing's forwards, unless personalised) once for the batch, since
    dkimpy's RSA in Python costs 6 ms a signature, 50 times the rest of a forward's relay
    (bench/relay_cpu.py --dkim).
    An entry already tried that is past its lifetime is not sent (`EXPIRED`); a message that
    cannot be made out fails alone (`UNREADABLE`), the rest of the batch is sent."""
    expired = {entry.id for entry in claimed if entry.attempts > 1 and entry.expires_at <= now}
    sources, unreadable = _sources({entry.message_id for entry in claimed
                                    if entry.message_id and entry.id not in expired})
    jobs = personalise.for_batch(sources, [(entry.message_id, entry.account_id)
                                           for entry in claimed])
    dkim = signer()
    made: dict[tuple[bytes, str | None], bytes] = {}    # `_finished` copies
    prepared = []
    for entry in claimed:
        if entry.id in expired:
            prepared.append(Prepared(entry, None, EXPIRED))
            continue
        if entry.message_id in unreadable:
            prepared.append(Prepared(entry, None, UNREADABLE))
            continue
        if entry.message_id not in sources:
            prepared.append(Prepared(entry, None))
            continue
        forward = entry.kind == EntryKind.FORWARD
        sender = bounces.envelope_sender(entry.id, settings) if forward else ""
        try:    # one message that cannot be made out fails alone, not its whole batch
            data = personalise.forward_bytes(sources[entry.message_id], entry.message_id,
                                              entry.account_id,
                                              entry.address if forward else None, jobs=jobs)
            data = _finished(data, sender_auth.subject_tag(entry.sender_check), dkim, made)
        except SQLAlchemyError:     # the database, not the message: the batch is tried again
            raise
        except Exception:
            log.exception("entry %s could not be made out", entry.id)
            prepared.append(Prepared(entry, None, UNREADABLE))
            continue
        prepared.append(Prepared(entry, Envelope(sender, entry.address, data)))
    return prepared


def _finished(data: bytes, tag: str | None, dkim: dkim_signing.Signer | None,
              made: dict[tuple[bytes, str | None], bytes]) -> bytes:
    """The copy as it leaves: its subject tagged when its sender did not authenticate
    (mailgate/sender_auth.py `subject_tag`), then signed, so that the signature covers the
    subject the recipient reads. The forwards of one message, not personalised, are the same
    bytes: made once (`made`; RSA: 6 ms in Python)."""
    if tag is None and dkim is None:
        return data
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


def _record(fates: list[tuple[queue.Claimed, Outcome]], worker: str, settings: Settings,
            now: datetime | None) -> None:
    """What became of a batch, in the caller's one transaction: one UPDATE for all those
    sent; deferrals, failures and their reports one by one (they are few)."""
    queue.mark_all_sent([entry.id for entry, outcome in fates if outcome.sent], worker, now)
    queue.release([entry.id for entry, outcome in fates if outcome is NOT_TRIED], worker)
    for entry, outcome in fates:
        if outcome.sent or outcome is NOT_TRIED:
            continue
        if outcome is GONE:
            queue.mark_failed(entry.id, worker, outcome.error, now)
        elif outcome is not EXPIRED and not outcome.permanent \
                and queue.defer(entry, worker, outcome.error, now):
            log.info("entry %s deferred: %s", entry.id, outcome.error)
        else:
            failure = _failure(outcome, settings.queue_lifetime)
            if queue.mark_failed(entry.id, worker, failure.log_text, now):
                _report(entry.id, failure)
    store.collect_garbage({entry.message_id for entry, _ in fates if entry.message_id})


def _failure(outcome: Outcome, lifetime: timedelta) -> Failure:
    if outcome.permanent:
        return Failure(FailureKind.REFUSED, outcome.error)
    if not outcome.reached:
        return Failure(FailureKind.UNREACHABLE, lasted=lifetime)
    return Failure(FailureKind.DEFERRED, outcome.error, lasted=lifetime)


def _report(entry_id: int, failure: Failure) -> None:
    entry = db.session.get(OutboundEntry, entry_id)
    if entry is not None:
        bounces.report(entry, failure)


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
