"""Account import benchmark (issue 14): prints figures, asserts nothing.

    .venv/bin/python bench/import.py                         # SQLite (a file in /tmp)
    PREAU_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1/preau_accounts_bench \
        .venv/bin/python bench/import.py                     # and PostgreSQL

Each database is built fresh (migrations + `preau demo --users BENCH_REGION_USERS`, 20,000 by
default, so the lookups run against a region, not an empty table). Then, through the same
functions as `preau import-users` (directory.account_import, batches of 500, one transaction
each, generated passwords hashed in a process pool and mailed through the outbound queue):

1. 2,000 rows with an email each: every account gets a generated password, hashed and mailed;
2. preview of 10,000 rows (no email: pupils, whose sheets are printed later);
3. apply of those 10,000 rows;
4. re-import of the same 10,000 rows: time, and the number of INSERT/UPDATE/DELETE statements;
Each line gives the wall time, the CPU seconds of this process and its hashing pool (what the
work costs, whatever else the shared machine runs) and the load average when it ended.
5. the peer, in the same run: the per-row path the portal had before (directory.accounts.
   create_account: one address query and a full-cost argon2 hash per account), on 100 rows,
   extrapolated to 2,000.
Targets: (1) ≤ 60 s, (2) ≤ 10 s, (4) ≤ 10 s and no write.
"""
from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.account_file import read_account_file  # noqa: E402
from directory.account_import import apply_import, plan_import  # noqa: E402
from directory.accounts import create_account, school_by_uai  # noqa: E402
from directory.db import db  # noqa: E402
from directory.enums import Profile  # noqa: E402
from portal import create_app  # noqa: E402

REGION_USERS = int(os.environ.get("BENCH_REGION_USERS", "20000"))
UAI = "0310024H"
CLASSES = [f"{level}{letter}" for level in "6543" for letter in "ABCDEFGH"]


def build(url: str, folder: Path):
    from flask_migrate import upgrade

    from directory.demo import load_demo
    from portal.admin import imports  # noqa: F401  (the mail step of each batch)

    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    app = create_app({"INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": url,
                      "SECRET_KEY": "bench", "SERVER_NAME": "ent.test",
                      "PREAU": {"MAIL_DOMAIN": "ent.test", "SMARTHOST": "capture:"}})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_demo(users=REGION_USERS)
    return app


def csv_file(rows: int, *, emails: bool, seed: int) -> bytes:
    from faker import Faker

    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    lines = ["Identifiant externe;Nom;Prénom;Profil;Classe;Courriel;Groupe1"]
    for n in range(rows):
        first, last = fake.first_name(), fake.last_name()
        email = f"bench{seed}.{n}@example.org" if emails else ""
        lines.append(f"B{seed}-{n};{last};{first};Élève;{rng.choice(CLASSES)};{email};"
                     f"{rng.choice(['Latin', 'Chorale', 'Théâtre', ''])}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace")


def writes(app):
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", record)


def cpu_seconds() -> float:
    """CPU used by this process and its finished children (the hashing pool): what the
    work costs whatever else the machine runs (the database server's CPU is not in it)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, action):
    started, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"  {label:52s} {elapsed:7.1f} s wall {used:7.1f} s CPU   "
          f"{result if result is not None else ''}  (load {os.getloadavg()[0]:.1f})",
          flush=True)
    return elapsed


def run(name: str, url: str, folder: Path) -> None:
    print(f"{name}: region of {REGION_USERS} accounts being built…", flush=True)
    started = time.perf_counter()
    app = build(url, folder)
    print(f"  (built in {time.perf_counter() - started:.0f} s)")
    with app.app_context(), app.test_request_context():
        from portal.admin.imports import mail_generated_passwords

        school = school_by_uai(UAI)
        two_k = read_account_file(csv_file(2000, emails=True, seed=1))
        timed("2,000 rows with generated passwords (hashed, mailed)",
              lambda: apply_import(school, two_k, create_classes=True,
                                   before_commit=mail_generated_passwords))
        ten_k_bytes = csv_file(10_000, emails=False, seed=2)
        timed("preview of 10,000 rows (read + plan)",
              lambda: _counts(plan_import(school, ten_k_bytes, create_classes=True)))
        db.session.rollback()
        ten_k = read_account_file(ten_k_bytes)
        timed("apply of those 10,000 rows", lambda: apply_import(school, ten_k,
                                                                  create_classes=True))
        statements, stop = writes(app)
        timed("re-import of the same 10,000 rows",
              lambda: (apply_import(school, read_account_file(ten_k_bytes),
                                    create_classes=True), f"{len(statements)} writes"))
        stop()
        peer_rows = read_account_file(csv_file(100, emails=True, seed=3)).rows

        def per_row():
            for row in peer_rows:
                create_account(login=f"peer.{row.external_id}", first_name=row.first_name,
                               last_name=row.last_name, profile=Profile.STUDENT,
                               password="Provisoire-2026!", schools=[school],
                               must_change_password=True)
                db.session.flush()
            db.session.commit()

        elapsed = timed("peer: per-row create_account, 100 rows", per_row)
        print(f"  {'peer extrapolated to 2,000 rows':52s} {elapsed * 20:7.1f} s wall")


def _counts(plan) -> str:
    return ", ".join(f"{fate.value} {n}" for fate, n in plan.counts.items())


def main() -> None:
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", Path(tmp))
    pg = os.environ.get("PREAU_BENCH_PG_URL")
    if pg:
        with tempfile.TemporaryDirectory() as tmp:
            run("PostgreSQL", pg, Path(tmp))


if __name__ == "__main__":
    main()
