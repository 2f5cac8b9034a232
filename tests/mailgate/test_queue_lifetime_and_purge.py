"""The queue's end of life: the last hours of an entry's lifetime are tried (the series of
delays no longer gives up up to four hours early), and `preau worker --drain` purges entries
finished long ago as the long-running worker does, in short transactions. Through the real
queue, worker and a loopback relay."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, select, update

from directory.clock import utcnow
from directory.db import db
from directory.enums import Profile
from mailgate import queue, routing, worker
from mailgate.models import EntryState, MailMessage, OutboundEntry

from .conftest import account, new_account
from .helpers import mail
from .test_outbound import entries_of


def forward_to_claire(subject: str) -> tuple[int, int]:
    """A message a pupil writes to her teacher (forwarded), keeping no copy of it: (the
    message's id, the pupil's)."""
    pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
    stored_id = routing.route(pupil, [account("claire.bernard").id],
                              mail("x@example.org", "claire.bernard@ent.test", subject),
                              save_copy=False).message_id
    db.session.commit()
    return stored_id, pupil.id


def entries_by(author_ids: list[int]) -> list[OutboundEntry]:
    """Found by their author: a message nobody kept is collected once sent, and its entry's
    message_id emptied."""
    db.session.rollback()
    return list(db.session.scalars(select(OutboundEntry).where(
        OutboundEntry.author_id.in_(author_ids))))


def test_the_last_hours_of_an_entrys_lifetime_are_tried_before_it_fails(sink):
    stored_id, _pupil = forward_to_claire("Encore trois heures")
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


def test_a_drain_purges_entries_finished_long_ago_in_short_transactions(sink, monkeypatch):
    """Run from a timer, `preau worker --drain` forgets old entries as the long-running
    worker does, a batch at a time (PURGE_BATCH, made 2 here): a queue that grew for months
    is not purged in one transaction."""
    stored, pupils = zip(*(forward_to_claire(f"Parti il y a longtemps {n}") for n in range(5)),
                         strict=True)
    worker.drain()
    assert {e.state for e in entries_by(pupils)} == {EntryState.SENT}
    assert all(db.session.get(MailMessage, i) is None for i in stored)  # nobody kept them
    monkeypatch.setattr(queue, "PURGE_BATCH", 2)
    deletes = []

    def seen(_conn, _cursor, statement, *_):
        if statement.startswith("DELETE FROM outbound_entry"):
            deletes.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        worker.drain(now=utcnow() + queue.KEEP_FINISHED + timedelta(days=1))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    db.session.rollback()
    assert entries_by(pupils) == []
    assert len(deletes) >= 3            # 2 + 2 + 1 at least: each its own transaction
