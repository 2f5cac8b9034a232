"""Messagerie benchmark (issue 6): prints figures, asserts nothing.

    .venv/bin/python bench/mailbox.py [--db sqlite|postgresql|both] [--messages 20000]
        [--runs 100]

For each database: a fresh database (a SQLite file in a temporary folder, or the PostgreSQL
database of PREAU_BENCH_PG_URL — default postgresql+psycopg://postgres@127.0.0.1/preau_mailbox_bench —
whose public schema is dropped and made again), migrations, the demo region (600 accounts),
then a student mailbox (zoe.le-gall) filled with `--messages` messages from her classmates and
teachers, written with the message store's own functions (mailgate.store: one stored message
and one mailbox item each, received over the past year, one in ten unread).

Everything is measured through the real application with Flask's test client (in process, no
network: the figures are the application's and the database's, not a web server's):
- the inbox's first page, its last page (page 400 of 20,000) and the list sorted by sender;
- the search of a word in ~1 % of the messages (their subject), of a word in ~20 % (their
  text), of an absent word, and of a word written without its accents that nearly every
  message contains (the worst case: every message matches and is counted);
- moving 20 ticked messages to a folder of her own (and back, alternately), one POST each;
- opening a message.
Each is run `--runs` times; p50 and p95 are printed in milliseconds. The SQL statements one
request issues are counted (SQLAlchemy's before_cursor_execute) with 500 messages and again
with the full mailbox: the same numbers show that a page's cost in queries does not grow with
the mailbox.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from directory.clock import utcnow  # noqa: E402
from directory.db import db  # noqa: E402
from directory.models import Account, GroupMember  # noqa: E402
from mailgate import headers, mailbox, mime, store  # noqa: E402
from mailgate.models import FolderKind, MailboxItem  # noqa: E402
from portal import create_app  # noqa: E402

PASSWORD = "Preau-demo-2026!"
STUDENT = "zoe.le-gall"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WORDS = ("exposé", "devoirs", "sortie", "musée", "conseil", "classe", "rédaction", "contrôle",
         "cantine", "voyage", "théâtre", "chorale", "football", "bibliothèque", "calculatrice",
         "géographie", "dictée", "poème", "atelier", "projet", "réunion", "absence", "cahier")
RARE, COMMON, ABSENT = "girafe", "rendez-vous", "xylophone"
UNACCENTED = "bibliotheque"     # finds "bibliothèque", in nearly every message


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    url = os.environ.get("PREAU_BENCH_PG_URL",
                         "postgresql+psycopg://postgres@127.0.0.1/preau_mailbox_bench")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def make_app(url: str, folder: Path, users: int = 600):
    from flask_migrate import upgrade

    from directory.demo import load_demo

    app = create_app({"INSTANCE_PATH": str(folder / "instance"), "SQLALCHEMY_DATABASE_URI": url,
                      "TESTING": True, "SECRET_KEY": "bench",
                      "PREAU": {"MAIL_DOMAIN": "ent.test", "SMARTHOST": "capture:",
                                "QUOTA_MB": "2000", "MAX_MESSAGE_MB": "20",
                                "QUEUE_LIFETIME": "5d"}})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        load_demo(users=users)
    return app


def correspondents(student: Account) -> list[Account]:
    """The people who write to her: the members of her groups."""
    groups = select(GroupMember.group_id).where(GroupMember.account_id == student.id)
    return list(db.session.scalars(select(Account).join(
        GroupMember, GroupMember.account_id == Account.id).where(
        GroupMember.group_id.in_(groups), Account.id != student.id).distinct()))


def raw_message(rng: random.Random, author: Account, student: Account, n: int, when) -> bytes:
    mail = EmailMessage()
    mail["From"] = formataddr((author.full_name, f"{author.address}@ent.test"))
    mail["To"] = formataddr((student.full_name, f"{student.address}@ent.test"))
    words = rng.sample(WORDS, 3)
    rare = f" {RARE.capitalize()}" if n % 100 == 7 else ""
    mail["Subject"] = f"{words[0].capitalize()} : {words[1]} et {words[2]}{rare} ({n})"
    mail["Date"] = format_datetime(when.replace(tzinfo=UTC))
    mail["Message-ID"] = f"<bench-{n}@ent.test>"
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 160)))
    if n % 5 == 0:
        text += f" {COMMON} demain à 8 h."
    mail.set_content(f"Bonjour {student.first_name},\n\n{text}\n\n{author.full_name}\n")
    return mail.as_bytes()


def fill(app, start: int, stop: int, seed: int = 6) -> None:
    """Messages start..stop-1 into the student's inbox through the store's functions."""
    rng = random.Random(seed + start)
    with app.app_context():
        student = db.session.scalar(select(Account).where(Account.login == STUDENT))
        authors = correspondents(student)
        inbox = store.system_folders([student.id], FolderKind.INBOX)[student.id]
        now = utcnow()
        for n in range(start, stop):
            author = rng.choice(authors)
            when = now - timedelta(minutes=(stop - n) * 26)
            parsed = mime.parse(raw_message(rng, author, student, n, when))
            block, message_id = headers.stored_header(
                parsed, author_from=None, received=None, address_map={}, domain="ent.test")
            stored = store.save_message(parsed, block, message_id=message_id,
                                        author_id=author.id)
            store.reserve([student.id], parsed.size, None)
            store.add_items(stored, parsed.size, [(student.id, inbox)], read=n % 10 != 3,
                            when=when)
            if n % 1000 == 999:
                db.session.commit()
        db.session.commit()
        # Statistics and visibility map as a database in service has them (autovacuum
        # would, later: it also runs after many inserts).
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE" if connection.dialect.name == "sqlite" else "VACUUM ANALYZE")


def logged_in(app):
    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    response = client.post("/connexion", data={"csrf_token": CSRF.search(page)[1],
                                               "login": STUDENT, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *args):
        self.count += 1


def setup_client(app):
    """The logged-in client, a folder of her own, the ids of the inbox's newest items and
    a CSRF token."""
    client = logged_in(app)
    page = client.get("/messagerie/dossiers").get_data(as_text=True)
    client.post("/messagerie/dossiers", data={"csrf_token": CSRF.search(page)[1],
                                              "name": "Archives"})
    with app.app_context():
        student = db.session.scalar(select(Account).where(Account.login == STUDENT))
        folder_ids = {f.kind: f.id for f in mailbox.folders(student)[0]}
        items = list(db.session.scalars(
            select(MailboxItem.id).where(MailboxItem.account_id == student.id)
            .order_by(MailboxItem.id.desc()).limit(20)))
    return client, folder_ids, items, CSRF.search(page)[1]


def requests(client, folder_ids, items, token, deep_page: int):
    """name → a function doing one request (asserting its status)."""
    inbox, own = folder_ids[FolderKind.INBOX], folder_ids[FolderKind.USER]
    state = {"there": False}

    def get(url):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return run

    def move():
        target = inbox if state["there"] else own
        response = client.post("/messagerie/selection", data={
            "csrf_token": token, "action": "deplacer", "destination": str(target),
            "item": [str(i) for i in items], "retour": "/messagerie/"})
        assert response.status_code == 303
        state["there"] = not state["there"]

    return {
        "list: inbox, page 1": get("/messagerie/"),
        "list: inbox, deepest page": get(f"/messagerie/?page={deep_page}"),
        "list: sorted by sender": get("/messagerie/?tri=expediteur&ordre=asc"),
        f"search: '{RARE}' (~1 %)": get(f"/messagerie/recherche?q={RARE}"),
        f"search: '{COMMON}' (~20 %)": get(f"/messagerie/recherche?q={COMMON}"),
        f"search: '{ABSENT}' (none)": get(f"/messagerie/recherche?q={ABSENT}"),
        f"search: '{UNACCENTED}' (~all)": get(f"/messagerie/recherche?q={UNACCENTED}"),
        "move 20 messages (POST)": move,
        "read a message": get(f"/messagerie/message/{items[0]}"),
    }


def counted(counter: QueryCounter, calls) -> dict[str, int]:
    counts = {}
    for name, call in calls.items():
        counter.count = 0
        call()
        counts[name] = counter.count
    return counts


def timings(calls, runs: int) -> dict[str, tuple[float, float]]:
    figures = {}
    for name, call in calls.items():
        call()                                   # warm caches (templates, statements)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        figures[name] = (statistics.median(samples),
                         samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)])
    return figures


def run(kind: str, messages: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = make_app(fresh_database(kind, folder), folder)
        with app.app_context():
            engine = db.engine
        small = min(500, messages)
        fill(app, 0, small)
        calls = requests(*setup_client(app), deep_page=-(-small // 50))
        counter = QueryCounter(engine)
        few = counted(counter, calls)
        started = time.perf_counter()
        fill(app, small, messages)
        print(f"[{kind}] filled {messages} messages in {time.perf_counter() - started:.0f} s")
        calls = requests(*setup_client(app), deep_page=-(-messages // 50))
        many = counted(counter, calls)
        figures = timings(calls, runs)
        print(f"[{kind}] {'request':32} {'p50 ms':>8} {'p95 ms':>8}   SQL queries "
              f"({small} msgs / {messages} msgs)")
        for name, (p50, p95) in figures.items():
            print(f"[{kind}] {name:32} {p50:8.1f} {p95:8.1f}   {few[name]:>3} / {many[name]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=100)
    options = parser.parse_args()
    kinds = ("sqlite", "postgresql") if options.db == "both" else (options.db,)
    for kind in kinds:
        run(kind, options.messages, options.runs)


if __name__ == "__main__":
    main()
