"""CPU of the gateway's group commit per message: `routing.deliver_many` on batches of 100
(BENCH_BATCH=N: of N) messages of 10 KB (read as the gateway reads them, `mime.headers_only`)
from a classmate to a student, with the committer's write lock and commit, timed with
`time.thread_time` (this thread's CPU: Python, SQLAlchemy, psycopg; not the database server's).

    .venv/bin/pytest -n0 -s tests/mailgate/bench_deliver_many.py      # SQLite
    PREAU_TEST_DATABASE_URL=postgresql+psycopg://… .venv/bin/pytest -n0 -s tests/…  # PG

Not collected by the suite (the name does not start with test_). Prints the median of the
batches, in ms per message.
"""
from __future__ import annotations

import os
import statistics
import time

from directory.db import db, write_lock
from directory.enums import Profile
from directory.models import Account
from mailgate import mime
from mailgate.compose import compose
from mailgate.routing import Delivery, check, deliver_many

from .conftest import new_account

# BENCH_BATCH=10: about the gateway's batches under 20 sessions and two processes
BATCH, SIZE, ROUNDS = int(os.environ.get("BENCH_BATCH", 100)), 10 * 1024, 9


def test_cpu_per_message_of_deliver_many():
    author_id = new_account(Profile.STUDENT, group_of="zoe.le-gall").id
    db.session.commit()
    timings = []
    for n in range(ROUNDS):
        author = db.session.get(Account, author_id)
        pupil = new_account(Profile.STUDENT, group_of="zoe.le-gall")
        db.session.commit()
        raws = [compose(author, to=[pupil], cc=[author], subject=f"Bench {n}.{i}",
                        text="x" * SIZE).as_bytes() for i in range(BATCH)]
        jobs = []
        for raw in raws:
            parsed = mime.headers_only(raw)
            jobs.append(Delivery(author, parsed, check(author, [pupil.id],
                                                       incoming_size=parsed.size)))
        db.session.commit()
        started = time.thread_time()
        write_lock()
        results = deliver_many(jobs)
        db.session.commit()
        timings.append((time.thread_time() - started) / BATCH * 1000)
        db.session.close()
        assert all(r.accepted for r in results)
    print(f"\ndeliver_many CPU per message ({db.engine.dialect.name}): median "
          f"{statistics.median(timings):.3f} ms, all {[round(t, 3) for t in timings]}")
