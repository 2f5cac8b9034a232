"""CPU time of the gateway's indexer per message (issue 16), in process, before and after.

    .venv/bin/python bench/indexer.py [--db sqlite|postgresql] [--messages 2000] [--size 10240]

A fresh database (a SQLite file in a temporary folder, or PREAU_BENCH_PG_URL — default
postgresql+psycopg://postgres@127.0.0.1/preau_mailbox_bench — whose public schema is made
again), migrations, a small demo region; then `--messages` messages of about `--size` bytes
stored raw for zoe.le-gall as the gateway stores them before its 250 (mime.headers_only +
routing.deliver, indexed_at NULL), of four kinds in turn: smtp-source's (ASCII lines, what
bench/smtp.py sends), French text in UTF-8 quoted-printable (what Thunderbird writes), French
text in 8bit, and a multipart/alternative text + HTML (read by the full parse either way).

Printed, per kind, the median CPU time (`time.process_time`) per message of:
- parse + search key: `mime.parse` and the search key with the fold as it was (kept below)
  ("before"), against the indexer's `_read` and `search_key` of now ("after"), on the same
  messages, alternately;
- the indexer's whole batch (`indexer.index_ids`: read the rows, parse, write, commit) per
  message, batches of BATCH messages of one kind alternately with the old reading and fold
  patched in ("before") and without ("after"). On PostgreSQL the server's CPU is not counted.
"""
from __future__ import annotations

import argparse
import quopri
import statistics
import sys
import tempfile
import time
import unicodedata
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mailbox import fresh_database, make_app  # noqa: E402
from directory import naming  # noqa: E402
from directory.db import db  # noqa: E402
from directory.models import Account  # noqa: E402
from mailgate import identity, indexer, mime, models, routing  # noqa: E402
from mailgate.models import MailMessage, search_key  # noqa: E402

SENDER, STUDENT = "joseph@example.org", "zoe.le-gall"
BATCH = 50
FRENCH = ("Bonjour à tous, la sortie au musée d'Orsay aura lieu jeudi. Les élèves apporteront "
          "leur cahier, un goûter et leur carte d'identité ; ça coûte 5 €. Rendez-vous à 8 h 15 "
          "devant l'école, n'oubliez pas la dictée de français ni l'exposé sur les œuvres.\n")


def old_fold(text: str) -> str:
    """directory/naming.py `fold` before issue 16."""
    if text.isascii():
        return text.lower()
    text = text.translate(naming._SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def old_search_key(*parts: str) -> str:
    return "\n".join(" ".join(old_fold(part).split()) for part in parts)


def old_read(source: bytes) -> mime.Parsed:
    return mime.parse(source)


def message(kind: str, n: int, size: int) -> bytes:
    head = (f"From: {SENDER}\r\nTo: {STUDENT}@ent.test\r\nSubject: Sortie au musée ({n})\r\n"
            f"Date: Thu, 1 Jan 2026 08:00:00 +0100\r\nMessage-ID: <bench-{n}@example.org>\r\n")
    text = (FRENCH * (size // len(FRENCH) + 1))[:size]
    if kind == "smtp-source":
        return (head + "\r\n" + ("X" * 78 + "\r\n") * (size // 80)).encode()
    if kind == "french-qp":
        return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8; "
                "format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                ).encode() + quopri.encodestring(text.replace("\n", "\r\n").encode())
    if kind == "french-8bit":
        return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + text.replace("\n", "\r\n")).encode()
    mail = EmailMessage()
    mail.set_content(text[: size // 2])
    mail.add_alternative(f"<p>{text[: size // 2]}</p>", subtype="html")
    return head.encode() + mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


KINDS = ("smtp-source", "french-qp", "french-8bit", "multipart")


def store_raw(count: int, size: int) -> dict[str, list[int]]:
    """`count` messages stored as the gateway stores them before its 250: ids per kind."""
    pupil = db.session.scalar(select(Account).where(Account.login == STUDENT))
    author = identity.author_for(SENDER)
    decisions = routing.check(author, [pupil.id])
    ids: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        result = routing.deliver(author, mime.headers_only(message(kind, n, size)), decisions,
                                 save_copy=False)
        ids[kind].append(result.message_id)
        if n % 200 == 199:
            db.session.commit()
    db.session.commit()
    return ids


@contextmanager
def before():
    """The indexer as it was: every message through mime.parse, the old fold."""
    quick, fold = mime.parse_plain, models.fold
    mime.parse_plain, models.fold = (lambda _source: None), old_fold
    try:
        yield
    finally:
        mime.parse_plain, models.fold = quick, fold


_new_read = indexer._read


def parse_and_key(ids: list[int]) -> tuple[list[float], list[float]]:
    table = MailMessage.__table__.c
    rows = db.session.execute(select(table.source, table.subject, table.from_name,
                                     table.to_display).where(table.id.in_(ids))).all()
    old, new = [], []
    for _ in range(3):
        for row in rows:
            for read, key, out in ((old_read, old_search_key, old),
                                   (_new_read, search_key, new)):
                start = time.process_time()
                parsed = read(row.source)
                key(row.subject, row.from_name, row.to_display, parsed.text_body)
                out.append(time.process_time() - start)
            assert old_search_key(row.subject, row.from_name, row.to_display,
                                  old_read(row.source).text_body) == \
                search_key(row.subject, row.from_name, row.to_display,
                           _new_read(row.source).text_body)
    return old, new


def index_batches(ids: list[int]) -> tuple[list[float], list[float]]:
    old, new = [], []
    batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
    for n, batch in enumerate(batches):
        out = old if n % 2 == 0 else new
        start = time.process_time()
        if out is old:
            with before():
                done = indexer.index_ids(batch)
        else:
            done = indexer.index_ids(batch)
        out.append((time.process_time() - start) / max(done, 1))
        assert done == len(batch), (done, len(batch))
    return old, new


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.3f} ms" if samples else "—"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10_240)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(fresh_database(args.db, Path(folder)), Path(folder), users=60)
        with app.app_context():
            ids = store_raw(args.messages, args.size)
            print(f"{args.db}, {args.messages} messages of ~{args.size} bytes; CPU per message,"
                  " median, before → after (same run)")
            for kind in KINDS:
                old, new = parse_and_key(ids[kind])
                old_batch, new_batch = index_batches(ids[kind])
                print(f"  {kind:12} parse + search key {ms(old)} → {ms(new)};"
                      f"  index_ids (batches of {BATCH}) {ms(old_batch)} → {ms(new_batch)}")


if __name__ == "__main__":
    main()
