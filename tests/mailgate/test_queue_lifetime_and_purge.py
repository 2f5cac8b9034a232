"""The queue's end of life: the last hours of an entry's lifetime are tried (the series of
delays no longer gives up up to four hours early), and `preau worker --drain` purges entries
finished long ago as the long-running worker does, with the messages only they still held
(a forward's message is kept while a bounce may come for it). Through the real queue,
worker and a loopback relay."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import queue, routing, worker
from mailgate.models import EntryState, MailMessage, OutboundEntry

from .conftest import account, new_account
from .helpers import mail
from .test_outbound import entries_of


def forward_to_claire(subject: str) -> int:
    """A message a pupil writes to her teacher (forwarded), keeping no copy of it: once sent,
    only its forward's entry holds it."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    stored_id = routing.route(pupil, [account("claire.bernard").id],
                              mail("x@example.org", "claire.bernard@ent.test", subject),
                              save_copy=False).message_id
    db.session.commit()
    return stored_id


def test_the_last_hours_of_an_entrys_lifetime_are_tried_before_it_fails(sink):
    stored_id = forward_to_claire("Encore trois heures")
    now = utcnow()
    (entry,) = entries_of(stored_id)
    db.session.execute(update(OutboundEntry).where(OutboundEntry.id == entry.id)
                       .values(expires_at=now + timedelta(hours=3), attempts=9))
    db.session.commit()
    (claimed,) = [c for c in queue.claim("w", limit=10_000, now=now)
                  if c.message_id == stored_id]
    # The tenth delay of the series would be four hours: past the end, but three are left.
    assert queue.retry_delay(claimed.attempts) == queue.LONGEST_WAIT
    assert queue.defer(claimed, "w", "451 plus tard", now=now)
    db.session.commit()
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.PENDING
    assert entry.next_attempt_at == claimed.expires_at - queue.FIRST_RETRY
    # Tried then, and deferred again: nothing fits any more, the caller fails it.
    (again,) = [c for c in queue.claim("w", limit=10_000, now=entry.next_attempt_at)
                if c.message_id == stored_id]
    assert not queue.defer(again, "w", "451 toujours", now=entry.next_attempt_at)


def test_a_drain_purges_entries_finished_long_ago_and_the_messages_they_alone_held(sink):
    stored_id = forward_to_claire("Parti il y a longtemps")
    worker.drain()
    (entry,) = entries_of(stored_id)
    assert entry.state == EntryState.SENT
    assert [d for d in sink.received if b"Parti il y a longtemps" in d.data]
    # Kept for the bounces that may still come for it.
    assert db.session.get(MailMessage, stored_id) is not None

    worker.drain(now=utcnow() + queue.KEEP_FINISHED + timedelta(days=1))
    db.session.expire_all()
    assert entries_of(stored_id) == []
    assert db.session.get(MailMessage, stored_id) is None
