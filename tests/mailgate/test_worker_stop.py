"""A worker told to stop (SIGTERM, a first Ctrl-C) while a step of its round runs claims no new
batch, under `preau worker --drain` too: `preau serve` kills it once the batch it already has
out had time to finish, and a batch claimed after the signal would then be sent again once
its lease passed, what the relay had accepted included."""
from __future__ import annotations

import os
import signal
import threading

import pytest
from sqlalchemy import select

from directory.db import db
from mailgate import fanout, routing, worker
from mailgate.automations import scheduler
from mailgate.models import EntryState, OutboundEntry
from portal.processes import stop_after_the_batch_on_signals

from .conftest import account
from .helpers import mail

JOSEPH_REDIRECT = "joseph@example.org"


def copies(sink, message) -> int:
    """How many copies of `message` the smarthost received for Joseph."""
    marker = message["Message-ID"].encode()
    return sum(marker in delivery.data for delivery in sink.to(JOSEPH_REDIRECT))


def entries_of(message_id: int) -> list[tuple[EntryState, str | None, int]]:
    db.session.rollback()
    return list(db.session.execute(select(
        OutboundEntry.state, OutboundEntry.claimed_by, OutboundEntry.attempts).where(
        OutboundEntry.message_id == message_id)).tuples())


@pytest.mark.parametrize("step", [(scheduler, "run_due"), (fanout, "run_batch")],
                         ids=["scheduled communications", "fan-out"])
@pytest.mark.parametrize("rounds", [
    lambda stop: worker.run_forever(stop, idle=0), lambda stop: worker.drain(stop=stop)],
    ids=["preau worker", "preau worker --drain"])
def test_a_signal_during_a_step_of_the_round_leaves_the_queue_unclaimed(sink, monkeypatch,
                                                                         step, rounds):
    sent = mail("x@example.org", "joseph.fabre@ent.test", "Après le signal")
    message_id = routing.route(account("claire.bernard"), [account("joseph.fabre").id],
                               sent).message_id
    db.session.commit()
    assert entries_of(message_id) == [(EntryState.PENDING, None, 0)]
    module, name = step
    real = getattr(module, name)

    def then_sigterm(*args, **kwargs):
        done = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return done

    monkeypatch.setattr(module, name, then_sigterm)
    stop = threading.Event()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop_after_the_batch_on_signals(stop)
    watchdog = threading.Timer(30, stop.set)    # the signal lost: the test ends all the same
    watchdog.start()
    try:
        rounds(stop)
    finally:
        watchdog.cancel()
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert entries_of(message_id) == [(EntryState.PENDING, None, 0)]
    assert copies(sink, sent) == 0
    monkeypatch.undo()
    worker.drain()      # the next worker sends it, once
    assert [state for state, *_ in entries_of(message_id)] == [EntryState.SENT]
    assert copies(sink, sent) == 1
