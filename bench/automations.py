"""The scheduler's rule "never logged in 15 days after creation" over a whole region.

    .venv/bin/python bench/automations.py [--rounds 3]

Needs the PostgreSQL database PREAU_BENCH_PG_URL (default
postgresql+psycopg://postgres@127.0.0.1/preau_automations_bench) filled beforehand with
`preau init && preau demo --users 500000`; `preau init` is run again here to bring it to the
current schema. The first run spreads the accounts' creation over the last 90 days and marks
two thirds of them as having logged in (the demo creates everyone now, never logged in);
later runs find that done.

Each round: a region-wide communication (no school, no group: everyone) with the rule
"never logged in 15 days after creation" is due, and the worker's `scheduler.run_due()`
claims it, selects the people and queues them — one fan-out job, one pending row per person
(INSERT … SELECT). Measured for a daily window (the usual run) and for a 30-day window (the
first run after a long stop). Printed: the time, the people queued and the SQL statements
issued. In the same run, two peers on the same data:
- the floor: a job row and the same INSERT … SELECT into fanout_recipient typed by hand in
  psycopg (rolled back), without Préau around it;
- the loop we avoid: every account's (id, created_at, last_access_at) read into Python and
  filtered there.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)     # not bench/, whose directory.py would hide the package
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/preau_automations_bench"


def environment() -> dict[str, str]:
    return {**os.environ,
            "PREAU_DATABASE_URL": os.environ.get("PREAU_BENCH_PG_URL", DEFAULT_URL),
            "PREAU_INSTANCE_PATH": os.environ.get("PREAU_BENCH_INSTANCE",
                                                  "/tmp/preau-automations-bench"),
            "PREAU_SECRET_KEY": "bench", "PREAU_MAIL_DOMAIN": "ent.test",
            "PREAU_SMARTHOST": "capture:"}


def spread_the_region(db) -> None:
    """Creation dates over 90 days, two accounts in three seen since (once)."""
    from sqlalchemy import text

    spread = db.session.execute(text(
        "SELECT count(DISTINCT date_trunc('day', created_at)) FROM account")).scalar()
    if spread > 1:
        return
    print("spreading creation dates over 90 days (once)…", flush=True)
    db.session.execute(text(
        "UPDATE account SET created_at = now() AT TIME ZONE 'UTC' "
        "- (id % 90) * interval '1 day' - (id % 1440) * interval '1 minute', "
        "last_access_at = CASE WHEN id % 3 = 0 THEN NULL "
        "ELSE now() AT TIME ZONE 'UTC' - (id % 10) * interval '1 day' END"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE account"))


class Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count, self.engine = 0, engine
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *args):
        self.count += 1

    def stop(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._one)


def one_run(db, author, window: timedelta) -> tuple[float, int, int, Statements]:
    from sqlalchemy import select

    from directory.audience import Audience, TriggerKind
    from directory.clock import utcnow
    from mailgate.automations import communications, scheduler
    from mailgate.automations.communications import Draft
    from mailgate.automations.models import Communication, CommunicationRun, Kind, Repeat
    from mailgate.fanout_models import FanoutJob

    now = utcnow()
    made = communications.create(author, Draft(
        name="Jamais connectés (banc)", subject="Votre compte vous attend",
        body="Bonjour {prénom}", audience=Audience(), audience_label="Région",
        kind=Kind.REMINDER, repeat=Repeat.DAILY, trigger=TriggerKind.NEVER_LOGGED_IN,
        days="15"))
    made.window_start, made.next_run_at = now - window, now - timedelta(seconds=1)
    db.session.commit()
    counter = Statements(db.engine)
    started = time.perf_counter()
    ran = scheduler.run_due(now)
    elapsed = time.perf_counter() - started
    job_id = db.session.scalar(select(CommunicationRun.job_id).where(
        CommunicationRun.communication_id == made.id))
    queued = db.session.scalar(select(FanoutJob.total).where(FanoutJob.id == job_id))
    counter.stop()
    assert ran == 1
    db.session.execute(Communication.__table__.delete().where(Communication.id == made.id))
    db.session.execute(FanoutJob.__table__.delete().where(FanoutJob.id == job_id))
    db.session.commit()
    return elapsed, queued, ran, counter


def floor(url: str, window: timedelta) -> tuple[float, int]:
    """The same work by hand in psycopg, rolled back: a job row, then the people inserted
    into fanout_recipient (its indexes and foreign keys included) by one INSERT … SELECT."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        started = time.perf_counter()
        job_id = connection.execute(
            "INSERT INTO fanout_job (origin, audience, idempotency_key, acknowledge, total, "
            "created_at) VALUES ('bench', '', %s, false, 0, now()) RETURNING id",
            (f"floor-{time.time()}",)).fetchone()[0]
        cursor = connection.execute(
            "INSERT INTO fanout_recipient (job_id, account_id, state) "
            "SELECT DISTINCT %s, id, 'pending' FROM account "
            "WHERE last_access_at IS NULL AND suspended = false "
            "AND created_at > (now() AT TIME ZONE 'UTC') - %s - interval '15 days' "
            "AND created_at <= (now() AT TIME ZONE 'UTC') - interval '15 days'",
            (job_id, window))
        elapsed = time.perf_counter() - started
        connection.rollback()
        return elapsed, cursor.rowcount


def python_loop(db, window: timedelta) -> tuple[float, int]:
    from sqlalchemy import select

    from directory.clock import utcnow
    from directory.models import Account

    now = utcnow()
    started = time.perf_counter()
    found = [row.id for row in db.session.execute(
        select(Account.id, Account.created_at, Account.last_access_at, Account.suspended))
        if row.last_access_at is None and not row.suspended
        and now - window < row.created_at + timedelta(days=15) <= now]
    return time.perf_counter() - started, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = environment()
    os.environ.update(env)
    subprocess.run([str(ROOT / ".venv/bin/preau"), "init"], env=env, check=True,
                   capture_output=True)
    from sqlalchemy import func, select

    from directory.db import db
    from directory.models import Account
    from portal import create_app

    app = create_app()
    with app.app_context():
        spread_the_region(db)
        accounts = db.session.scalar(select(func.count()).select_from(Account))
        author = db.session.scalar(select(Account).where(Account.login == "admin"))
        print(f"{accounts:,} accounts on PostgreSQL; rule: never logged in 15 days after "
              "creation, whole region".replace(",", " "))
        for label, window in (("daily run (1-day window)", timedelta(days=1)),
                              ("after a 30-day stop", timedelta(days=30))):
            for n in range(1, args.rounds + 1):
                elapsed, queued, _, counter = one_run(db, author, window)
                hand, hand_rows = floor(env["PREAU_DATABASE_URL"], window)
                loop, loop_rows = python_loop(db, window)
                print(f"{label}, round {n}: scheduler.run_due {elapsed * 1000:7.0f} ms, "
                      f"{queued:6d} queued, {counter.count} SQL statements | "
                      f"by hand {hand * 1000:6.0f} ms ({hand_rows} rows) | "
                      f"Python loop {loop * 1000:6.0f} ms ({loop_rows})",
                      flush=True)


if __name__ == "__main__":
    main()
