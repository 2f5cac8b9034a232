"""A worker told to stop (SIGTERM from `preau serve`, which kills it after its grace) sends
no further message of the batch it has out: what is not sent yet is given back to the
queue untouched, due at once for the next worker, its attempt not counted; what was sent is
recorded as sent. Before, the batch went on to its end however slow the relay, and a worker
killed meanwhile had the whole batch sent again after its lease. Through the real worker,
a loopback relay and the database."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

from sqlalchemy import delete, select

from directory.clock import utcnow
from directory.db import db
from mailgate import worker
from mailgate.models import EntryState, OutboundEntry
from mailgate.settings import current

from .test_processes import _queue_forwards
from .test_sending import Relaying


class StoppingRelay(Relaying):
    """Sets `stop` as soon as it has the first message (the operator's SIGTERM, arriving
    while the batch is out)."""

    def __init__(self, stop: threading.Event):
        super().__init__(delay=0.05)
        self.stop = stop

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.stop.set()
        return answer


def test_a_worker_told_to_stop_gives_back_what_it_has_not_sent(mail_app):
    stop = threading.Event()
    with StoppingRelay(stop) as relay:
        mail_app.extensions["mailgate.settings"] = replace(current(), smarthost=relay.url,
                                                           send_threads=1)
        try:
            addresses = _queue_forwards(6, f"arret{os.getpid()}-{time.time_ns()}-")
            before = utcnow()
            assert worker.run_once("stopping-worker", stop=stop) >= 6
        finally:
            mail_app.extensions.pop("mailgate.settings")
    db.session.rollback()
    entries = db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.address.in_(addresses))).all()
    received = relay.recipients()
    assert len(received) == 1           # one thread: the message it had when told to stop
    given_back = [e for e in entries if e.address not in received]
    assert len(given_back) >= 5
    assert all(e.state == EntryState.SENT for e in entries if e.address in received)
    for entry in given_back:
        assert entry.state == EntryState.PENDING
        assert entry.claimed_by is None and entry.lease_until is None
        assert entry.attempts == 0 and entry.next_attempt_at <= before
        assert entry.last_error is None
    # Given back, they are due: not for the next tests' workers and relays.
    db.session.execute(delete(OutboundEntry).where(OutboundEntry.address.in_(addresses)))
    db.session.commit()
