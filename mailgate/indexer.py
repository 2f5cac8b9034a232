"""The deferred half of delivery: reading the parts of the messages the SMTP gateway stored raw.

The gateway answers 250 once the raw message, its mailbox references and its queue entries
are committed (mailgate/mime.py `headers_only`): the message shows in the mailbox at once,
with its subject, sender and date read from its header. Its parts are read here, right after:
text and HTML bodies, attachments detached into the store, the malformed flag, and the
search text with the body in it (until then the search finds the message by its subject,
sender and recipients only). As Dovecot does, indexing is out of the path that must commit
before 250, and in batches.

Who runs it: a thread of each gateway process (`Indexer`), given the ids of the messages of
every group commit of its process and, on PostgreSQL, gathering them for GATHER seconds, so
the lag is about that plus one batch's time whatever the worker is doing, and two gateways
never parse the same message; `preau worker` also calls `index_left` at every round, for
messages a gateway left when it was stopped or killed (waiting for more than LEFT_AFTER).
Opening a message not yet indexed indexes it on the spot (`index_now`, store.item_of).

Messages are parsed outside the write lock (on SQLite the gateway's committer waits for it),
then written in one UPDATE … WHERE indexed_at IS NULL: if someone else indexed one of them
meanwhile (a reader's `index_now`), the batch is dropped and the thread reads the others again.
"""
from __future__ import annotations

import contextvars
import logging
import queue as stdqueue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value

from directory.clock import utcnow
from directory.db import db, dialect_name, is_lock_conflict, write_lock
from directory.sets import ids_parameter

from . import mime
from .models import SEARCHED_COLUMNS, MailMessage, search_text_of, search_words_of
from .store.attachments import save_attachments
from .store.sql import core
from .turns import no_turns

log = logging.getLogger("preau.mailgate")
BATCH = 200
# Set in the indexer's thread: its writes can be derived again from the stored message, so
# on SQLite its commits skip the fsync (mailgate/writer.py `durable_sqlite`).
DERIVED_WRITES = contextvars.ContextVar("preau_derived_writes", default=False)
LEFT_AFTER = timedelta(seconds=30)     # older and not indexed: its gateway's thread is gone
# Seconds the thread waits on PostgreSQL, after a message arrives, for more to index with it.
# A batch costs about 0.7 ms besides its messages (two statements, a commit): under a burst,
# group commits bring 4 messages at a time, and indexing them 4 by 4 cost 1.06 ms a message
# (the server's CPU included), 40 by 40 0.75 ms. The search finds a message this much later.
# Not on SQLite, where it did not pay (measured with two gateway processes, before turns).
GATHER = 0.1


def index_left(older_than: timedelta = LEFT_AFTER, limit: int = BATCH) -> int:
    """Index one batch of the messages waiting for longer than `older_than` — left by a
    gateway stopped before its indexer thread came to them — and commit; how many."""
    table = MailMessage.__table__.c
    query = select(table.id).where(table.indexed_at.is_(None),
                                   table.stored_at <= utcnow() - older_than)
    query = query.order_by(table.id).limit(limit)
    if dialect_name() == "postgresql":
        query = query.with_for_update(skip_locked=True)     # two workers take different ones
    return index_ids(list(core(query).scalars()))


def index_ids(ids: Sequence[int], turn: Callable[[], AbstractContextManager] = no_turns) -> int:
    """Index these messages (those not indexed yet) and commit; how many were indexed. The
    parsing is done before the write lock is taken (on SQLite the gateway's committer needs
    it), the writing in a few statements whatever their number, in `turn()` (the gateway's
    turns at SQLite's lock, mailgate/turns.py)."""
    try:
        read = _parsed(ids)
        if dialect_name() == "sqlite":
            db.session.commit()     # end the read: the writes below take the write lock
        with turn():
            write_lock()
            done = _write(read)
            db.session.commit()
    except Conflict:
        db.session.rollback()
        return 0
    except Exception:
        db.session.rollback()
        raise
    return done


def index_now(message: MailMessage) -> None:
    """Index one message a reader is opening, in the caller's transaction (the reading page
    commits it, or not: it is indexed again next time, or by the indexer). If SQLite will
    not let this reader write now, the message is read from its source for this page only."""
    if message.indexed_at is not None:
        return
    found = _parsed([message.id])
    try:
        _write(found)       # one message: a Conflict has written nothing
    except Conflict:
        pass
    except OperationalError as error:
        if not is_lock_conflict(error) or not found:
            raise
        (_, values, _), = found
        for column, key in (("text_body", "v_text"), ("html_body", "v_html"),
                            ("malformed", "v_malformed")):
            set_committed_value(message, column, values[key])
        return
    db.session.refresh(message)


class Conflict(Exception):
    """Someone else indexed some of the messages first: the caller drops its work."""


def _parsed(ids: Sequence[int]) -> list[tuple[int, dict, list[mime.AttachmentData]]]:
    """(id, new column values, attachments) of those of the messages not indexed yet."""
    if not ids:
        return []
    rows = core(_unindexed_statement(dialect_name()), {"ids": sorted(ids)}).all()
    found = []
    for row in rows:
        parsed = _read(row.source)
        searched = search_text_of({**row._mapping, "text_body": mime.searched_text(parsed)})
        found.append((row.id, {
            "row_id": row.id, "v_text": parsed.text_body, "v_html": parsed.html_body,
            "v_attached": bool(parsed.attachments), "v_malformed": parsed.malformed,
            "v_source": _stored_source(row.source, parsed),
            "v_search": searched, "v_words": search_words_of(searched)},
            parsed.attachments))
    return found


def _write(found: list[tuple[int, dict, list[mime.AttachmentData]]]) -> int:
    """Store what `_parsed` read, for the messages still not indexed: one UPDATE for all."""
    if not found:
        return 0
    now = utcnow()
    claimed = 0
    # The source is written again only when attachments were detached from it: PostgreSQL
    # would otherwise store (TOAST) its unchanged bytes a second time.
    for detached in (False, True):
        rows = [values for _, values, attachments in found if bool(attachments) == detached]
        if not rows:
            continue
        if not detached:
            rows = [{k: v for k, v in row.items() if k != "v_source"} for row in rows]
        claimed += core(_write_statement(detached),
                        [{**row, "v_now": now} for row in rows]).rowcount
    if claimed != len(found):
        raise Conflict()
    for message_id, _, attachments in found:
        if attachments:
            save_attachments(message_id, attachments)
    return len(found)


@lru_cache(maxsize=4)
def _unindexed_statement(_dialect: str) -> Select:
    """`_parsed`'s query, built once per database (the indexer runs it for every batch)."""
    table = MailMessage.__table__.c
    searched = [table[name] for name in SEARCHED_COLUMNS if name != "text_body"]
    return select(table.id, table.source, *searched).where(ids_parameter(table.id),
                                                           table.indexed_at.is_(None))


@lru_cache(maxsize=2)
def _write_statement(detached: bool) -> Update:
    """`_write`'s UPDATE (with the source, or without), built once."""
    table = MailMessage.__table__
    columns = {"text_body": bindparam("v_text"), "html_body": bindparam("v_html"),
               "has_attachments": bindparam("v_attached"),
               "malformed": bindparam("v_malformed"), "search_text": bindparam("v_search"),
               "search_words": bindparam("v_words"), "indexed_at": bindparam("v_now")}
    if detached:
        columns["source"] = bindparam("v_source")
    return update(table).where(table.c.id == bindparam("row_id"),
                               table.c.indexed_at.is_(None)).values(columns)


def _read(source: bytes) -> mime.Parsed:
    """The message's parts: most mail is one text part, read without the email package."""
    quick = mime.parse_plain(source)
    if quick is not None:
        return quick
    try:
        return mime.parse(source)
    except Exception:   # unreadable, or what the email package still fails on: one message
        log.exception("message read as received")         # must not stop its batch
        # Nested too deep for the parser though the gateway's count let it through
        # (mime.headers_only): shown as received, said malformed.
        fields, body = mime.split(source)
        return mime.Parsed(fields=fields, body=body, size=len(source),
                           text_body=mime.clean(body.decode("utf-8", errors="replace")),
                           malformed=True)


def _stored_source(source: bytes, parsed: mime.Parsed) -> bytes:
    """The header block as stored, and the body with its attachments detached."""
    if not parsed.attachments:
        return source
    block = b"".join(f.raw for f in parsed.fields)
    if parsed.top_marker is not None:
        block += parsed.top_marker.raw
    return block + b"\r\n" + parsed.body


class Indexer:
    """A thread indexing the messages its process has just stored (`add` after each commit):
    the lag is the time of one batch (and GATHER on PostgreSQL), whatever the worker is doing;
    on SQLite it writes in its turn with the committer's (`turn`, mailgate/turns.py)."""

    def __init__(self, app, *, turn: Callable[[], AbstractContextManager] = no_turns):
        self.app = app
        self.turn = turn
        self.waiting: stdqueue.SimpleQueue = stdqueue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="preau-indexer", daemon=True)
        self.thread.start()

    def add(self, message_ids: Iterable[int]) -> None:
        for message_id in message_ids:
            self.waiting.put(message_id)

    def stop(self) -> None:
        self.waiting.put(_STOP)
        self.thread.join(timeout=30)

    def _run(self) -> None:
        DERIVED_WRITES.set(True)
        with self.app.app_context():
            gather = GATHER if dialect_name() == "postgresql" else 0.0
            while True:
                ids = [self.waiting.get()]
                gathered_by = time.monotonic() + gather
                while len(ids) < BATCH and ids[-1] is not _STOP:
                    try:
                        ids.append(self.waiting.get(
                            timeout=max(gathered_by - time.monotonic(), 0)))
                    except stdqueue.Empty:
                        break
                stopping = _STOP in ids
                self._index([i for i in ids if i is not _STOP])
                if stopping:
                    return

    def _index(self, ids: list[int]) -> None:
        try:
            if not index_ids(ids, self.turn):
                index_ids(ids, self.turn)   # a reader indexed one of them: the others, again
        except Exception:
            log.exception("indexing failed (the worker will index them: index_left)")
        finally:
            db.session.close()


_STOP = object()
