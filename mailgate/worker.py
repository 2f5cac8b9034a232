"""`preau worker`: sends the outbound queue through the smarthost.

Each round claims a batch of due entries (committed at once, so other workers skip them), then
sends them one by one, committing each entry's fate right after its SMTP transaction: a worker
killed mid-batch re-sends at most the message it was sending, once its lease has passed (a
minute: while the batch is being sent a `Heartbeat` thread keeps renewing it).
Forwards use a signed envelope sender, `bounces+<entry id>-<day>-<hmac>@<domain>`
(mailgate/bounces.py); reports and system mail use the null sender `<>`, so nobody bounces
them back.
Each round also routes one batch of a background fan-out (mailgate/fanout.py), so a mailing
to 100,000 people advances between sends and never holds the queue up, and first runs the
automated communications that are due (mailgate/automations/scheduler.py), whose fan-outs
the next batches route. And it indexes what the gateways left unindexed (mailgate/indexer.py:
a gateway stopped or killed before its indexer thread came to it).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from directory.clock import utcnow
from directory.db import db, write_transaction

from . import bounces, dkim_signing, fanout, indexer, personalise, queue, store
from .automations import scheduler
from .failures import Failure, FailureKind
from .models import EntryKind, MailMessage, OutboundEntry
from .settings import current
from .smarthost import Outcome, Relay

log = logging.getLogger("preau.worker")
PURGE_EVERY = 600


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def run_once(worker: str | None = None, *, now: datetime | None = None,
             limit: int = 50) -> int:
    """One round: claim, send, record. Returns how many entries were handled."""
    settings = current()
    worker = worker or worker_name()
    claimed = queue.claim(worker, limit=limit, now=now)
    db.session.commit()
    if not claimed:
        return 0
    relay = Relay(settings.smarthost, settings.instance_path, settings.hostname, signer())
    try:
        with Heartbeat(worker, [entry.id for entry in claimed]):
            for entry in claimed:
                _handle(entry, worker, relay, settings, now)
    finally:
        relay.close()
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


def _handle(entry: queue.Claimed, worker: str, relay: Relay, settings, now) -> None:
    message = db.session.get(MailMessage, entry.message_id) if entry.message_id else None
    if message is None:
        db.session.commit()
        queue.mark_failed(entry.id, worker, "message supprimé avant l'envoi", now)
        db.session.commit()
        return
    sender = bounces.envelope_sender(entry.id, settings) \
        if entry.kind == EntryKind.FORWARD else ""
    data = personalise.forward_bytes(store.message_bytes(message), message.id, entry.account_id,
                                      entry.address if entry.kind == EntryKind.FORWARD else None)
    message_id = message.id
    db.session.commit()                 # end the read: the writes below take the lock first
    outcome = relay.send(sender, entry.address, data)
    if outcome.sent:
        queue.mark_sent(entry.id, worker, now)
        store.collect_garbage([message_id])
    elif not outcome.permanent and queue.defer(entry, worker, outcome.error, now):
        log.info("entry %s deferred: %s", entry.id, outcome.error)
    else:
        failure = _failure(outcome, settings.queue_lifetime)
        if queue.mark_failed(entry.id, worker, failure.log_text, now):
            _report(entry.id, failure)
        store.collect_garbage([message_id])
    db.session.commit()


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


def drain(worker: str | None = None, *, now: datetime | None = None) -> int:
    """Rounds until nothing is due (for `preau worker --drain` and tests)."""
    total = 0
    while handled := (scheduler.run_due(now) + fanout.run_batch() + indexer.index_left()
                      + run_once(worker, now=now)):
        total += handled
    return total


def run_forever(stop: threading.Event, *, idle: float = 1.0) -> None:
    worker = worker_name()
    last_purge = utcnow()
    while not stop.is_set():
        try:
            handled = (scheduler.run_due() + fanout.run_batch() + indexer.index_left()
                       + run_once(worker))
            if (utcnow() - last_purge).total_seconds() > PURGE_EVERY:
                queue.purge_finished()
                db.session.commit()
                last_purge = utcnow()
        except Exception:
            log.exception("outbound worker round failed")
            db.session.rollback()
            handled = 0
        if not handled:
            stop.wait(idle)
