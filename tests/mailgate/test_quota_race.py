"""Two gateways (two committers: two threads, two connections) filling one mailbox at once.
A batch decides quota on usage read without locks (`routing.deliver_many`,
`store.read_usage`); whatever the other writer added meanwhile must be caught at the batch's
end (`store.settle_usage` → `store.QuotaRace`, the batch run again message by message), so
the mailbox never holds more than its quota."""
from __future__ import annotations

import asyncio
import threading

from directory.db import db
from directory.enums import Profile
from mailgate import mime, store
from mailgate.committer import Committer
from mailgate.compose import compose
from mailgate.models import FolderKind
from mailgate.routing import Delivery, Outcome, Refusal, check, deliver_many
from mailgate.settings import current

from .conftest import new_account
from .helpers import inbox


def test_two_writers_filling_one_mailbox_at_once_never_overshoot_its_quota(mail_app,
                                                                          monkeypatch):
    author, pupil = (new_account(Profile.STUDENT, group_of="zoe.le-gall") for _ in range(2))
    parsed = [mime.headers_only(compose(author, to=[pupil], subject=f"Message {n}",
                                        text="x" * 2000).as_bytes()) for n in range(4)]
    store.system_folders([pupil.id], FolderKind.INBOX)
    size = max(p.size for p in parsed)
    quota = current().quota_bytes
    reserved = quota - 3 * size - size // 2                         # room for three
    store.reserve([pupil.id], reserved, None)
    db.session.commit()
    jobs = [Delivery(author, p, check(author, [pupil.id], incoming_size=p.size),
                     save_copy=False) for p in parsed]
    assert all(job.decisions[0].result.accepted for job in jobs)
    assert author.full_name and author.address     # loaded here: the threads only read them

    # Both batches read the usage before either writes (on PostgreSQL; SQLite's writers take
    # the database lock before reading, so there the second waits for the first's commit and
    # the barrier gives up).
    both_read = threading.Barrier(2, timeout=3)
    first_read = threading.local()
    read_usage = store.read_usage

    def read_then_wait(account_ids):
        found = read_usage(account_ids)
        if not getattr(first_read, "done", False):
            first_read.done = True
            try:
                both_read.wait()
            except threading.BrokenBarrierError:
                pass
        return found

    monkeypatch.setattr(store, "read_usage", read_then_wait)
    gateways = [Committer(mail_app), Committer(mail_app)]

    async def deliver_all():      # each gateway's batch: two messages
        return await asyncio.gather(gateways[0].run(deliver_many, jobs[:2]),
                                    gateways[1].run(deliver_many, jobs[2:]))

    batches = []
    # In a thread of its own: under xdist another test of this process may have left an event
    # loop marked running in the main thread, where asyncio.run() then refuses to start.
    client = threading.Thread(target=lambda: batches.extend(asyncio.run(deliver_all())))
    try:
        client.start()
        client.join(60)
        results = [r for batch in batches for r in batch]
    finally:
        for gateway in gateways:
            gateway.stop()
    db.session.rollback()
    outcomes = [r.recipients[0].outcome for r in results]
    assert outcomes.count(Outcome.DELIVERED) == 3
    assert [r.recipients[0].refusal for r in results
            if r.recipients[0].outcome != Outcome.DELIVERED] == [Refusal.MAILBOX_FULL]
    assert store.usage(pupil.id) == reserved + sum(
        p.size for p, outcome in zip(parsed, outcomes, strict=True)
        if outcome == Outcome.DELIVERED) <= quota
    assert len(inbox(pupil)) == 3
