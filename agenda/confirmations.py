"""Answers to an event that asks for confirmation: accepted / refused with a comment (SPEC §7).

A member answers from the event page, from the signed link of their notice, or from their
own mail client (an iTIP METHOD:REPLY, agenda/itip.py); the organiser may write an answer on
someone's behalf (a parent who phoned). The last answer counts, while the event stays at the
dates it was given for: once they move, it is to be given again (`standing`). Who may answer
is who reads the agenda (agenda/access.py). The organiser's table lists every reader with
their answer, page by page, in SQL: a population of thousands costs one bounded query per
page.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, not_, select, true
from sqlalchemy.orm import aliased

from directory.clock import utcnow
from directory.db import db, insert_ignoring_duplicates
from directory.models import Account

from . import access
from .errors import AgendaError, Problem
from .models import Answer, AnswerChannel, AnswerKind, Event, EventStatus

COMMENT_MAX = 1000
PAGE_SIZE = 100


@dataclass(frozen=True)
class Row:
    account: Account
    #: the answer that counts
    answer: Answer | None
    #: or the one given before the event's dates changed, to give again
    former: Answer | None = None


def answer(event: Event, account: Account, kind: AnswerKind, comment: str = "", *,
           channel: AnswerChannel, recorded_by: Account | None = None,
           given_at: datetime | None = None) -> Answer:
    """Record `account`'s answer (replacing the previous one); the caller commits.
    `given_at` (naive UTC, now by default): when it was given, for an answer written before
    it reached us (a mail client's DTSTAMP, agenda/itip.py).

    The row is made with INSERT … ON CONFLICT DO NOTHING, then written: the same answer sent
    twice at once (a double click, the link and a mail client) waits for the first and
    replaces it, where a plain INSERT found the key taken (a 500 on PostgreSQL)."""
    problem = closed(event)
    if problem is not None:
        raise AgendaError(problem)
    if not is_invited(event, account.id):
        raise AgendaError(Problem.NOT_INVITED)
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise AgendaError(Problem.TEXT_TOO_LONG, field="comment", max=COMMENT_MAX)
    at = given_at or utcnow()
    db.session.execute(insert_ignoring_duplicates(Answer).values(
        event_id=event.id, account_id=account.id, answer=kind, channel=channel,
        comment=comment, answered_at=at))
    row = db.session.get(Answer, (event.id, account.id), populate_existing=True)
    row.answer, row.comment, row.channel = kind, comment, channel
    row.recorded_by_id = recorded_by.id if recorded_by else None
    row.answered_at = at
    return row


def closed(event: Event) -> Problem | None:
    """Why `event` takes no answer, or None: cancelled, or asking for none (a draft, or
    confirmation not asked, or no longer)."""
    if event.status == EventStatus.CANCELLED:
        return Problem.EVENT_CANCELLED
    if not event.ask_confirmation or event.status != EventStatus.PUBLISHED:
        return Problem.NOT_ASKED
    return None


def is_invited(event: Event, account_id: int) -> bool:
    readers = access.readers(event.agenda).subquery()
    return db.session.scalar(select(func.count()).select_from(readers)
                             .where(readers.c.account_id == account_id)) > 0


def answer_of(event: Event, account: Account) -> Answer | None:
    """`account`'s stored answer, for the event's present dates or the former ones."""
    return db.session.get(Answer, (event.id, account.id))


def row_of(event: Event, account: Account) -> Row:
    """`account`'s line of the table: their answer that counts, or the one to give again."""
    found = db.session.execute(select(Answer, standing(event)).where(
        Answer.event_id == event.id, Answer.account_id == account.id)).first()
    if found is None:
        return Row(account, None)
    answer, counts_still = found
    return Row(account, answer, None) if counts_still else Row(account, None, answer)


def standing(event: Event, answers=Answer) -> ColumnElement[bool]:
    """The condition an answer to `event` meets while it counts: given after the event's
    dates last changed (`Event.dates_changed_at`, agenda/events.py). One given before is for
    the former date, « à reconfirmer »: neither present nor absent, reminded, shown as given
    for the former date. Every count, table and reminder of answers reads it from here."""
    if event.dates_changed_at is None:
        return true()
    return answers.answered_at > event.dates_changed_at


def _rows_query(event: Event, *columns) -> Select:
    """The people the table lists — the agenda's readers but the event's author — each with
    their answer that counts (`standing`); `columns` instead of (Account, Answer) for the
    counts, which must cover the same people."""
    readers = access.readers(event.agenda).subquery()
    return (select(*(columns or (Account, Answer))).select_from(Account)
            .join(readers, readers.c.account_id == Account.id)
            .outerjoin(Answer, and_(Answer.event_id == event.id,
                                    Answer.account_id == Account.id, standing(event)))
            .where(Account.id != event.author_id))


def table(event: Event, page: int = 1) -> tuple[list[Row], int]:
    """One page of (reader, answer, answer for the former dates) and the number of readers,
    by name."""
    total = db.session.scalar(select(func.count()).select_from(_rows_query(event).subquery()))
    former = aliased(Answer)
    rows = db.session.execute(
        _rows_query(event, Account, Answer, former)
        .outerjoin(former, and_(former.event_id == event.id, former.account_id == Account.id,
                                not_(standing(event, former))))
        .order_by(Account.search_name, Account.id).limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)).all()
    return [Row(a, r, f) for a, r, f in rows], total


def export_query(event: Event) -> Select:
    """The table's people and their answer that counts, as plain columns, unordered: the CSV
    export reads it a chunk at a time in name order (`search_name`, `id`: a statement per
    chunk, however many readers, and no OFFSET)."""
    return _rows_query(event, Account.search_name, Account.id, Account.last_name,
                       Account.first_name, Account.profile, Answer.answer, Answer.comment,
                       Answer.answered_at)


def all_rows(event: Event) -> Iterator[Row]:
    """Every row, streamed in pages (the CSV export)."""
    page = 1
    while True:
        rows, _ = table(event, page)
        yield from rows
        if len(rows) < PAGE_SIZE:
            return
        page += 1


def counts(event: Event) -> dict[AnswerKind | None, int]:
    """How many of the table's people accepted, refused, and (key None) have not answered
    or are to answer again for new dates: the author's own answer and those of people who no
    longer read the agenda are left out."""
    found = dict(db.session.execute(
        _rows_query(event, Answer.answer, func.count()).group_by(Answer.answer)).all())
    return {AnswerKind.ACCEPTED: found.get(AnswerKind.ACCEPTED, 0),
            AnswerKind.REFUSED: found.get(AnswerKind.REFUSED, 0), None: found.get(None, 0)}


def silent(event: Event) -> Select:
    """Ids of the readers who have not answered, or answered for the event's former dates
    (the reminder's recipients)."""
    readers = access.readers(event.agenda).subquery()
    answered = select(Answer.account_id).where(Answer.event_id == event.id, standing(event))
    query = select(readers.c[0]).where(readers.c[0].not_in(answered))
    return query if event.author_id is None else query.where(readers.c[0] != event.author_id)
