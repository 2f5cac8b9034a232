"""The scheduler, one step of each round of the worker (mailgate/worker.py).

`run_due` claims the communications whose next run has come — FOR UPDATE SKIP LOCKED on
PostgreSQL, so that two workers take different ones; on SQLite the write lock is taken
first, as an immediate transaction, so the second worker waits and then finds nothing due.
For each one it writes, in the same transaction: the occurrence (unique per communication
and planned time: a second writer would fail instead of sending twice), the background
fan-out of its message to the audience's one SELECT (mailgate/fanout.py, which routes each
recipient through the rights engine), and the next run, the first one after *now*: the
occurrences missed while every worker was down are run once, not one by one. A
communication whose author is suspended or deleted is not due (`author_sends`): every
recipient would be refused, at every occurrence; it waits for a manager to take it over by
editing it (communications.update), or for its author to be reinstated. A recurring one lets
its occurrences go meanwhile (`passed_over`): back, it does not catch up on the weeks it
missed with stale reminders.

An occurrence of a recurring communication that finds nobody in its window keeps its run
(which still guards the occurrence) but stores no message: a daily rule would otherwise put
a copy in its author's outbox every day. A one-time communication that cannot be sent (an
error while its message is made) goes back to its author (`_failed`), never dropped. So does
one whose statements the database refuses as written (`fails_again`); the database's
passing trouble (a lost connection, a deadlock, a full disk, a cancelled query) fails the
whole round instead, tried again with every communication kept.

Every time is `directory.clock.utcnow()`, so tests move the clock instead of waiting.
"""
from __future__ import annotations

import enum
import logging
import uuid
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import aliased

from directory.audience import recipients
from directory.clock import utcnow
from directory.db import db, is_deadlock, is_lock_conflict, write_lock
from directory.models import Account

from .. import fanout
from ..fanout_models import FanoutJob
from ..mailbox import has_inbox
from .models import Communication, CommunicationRun, Kind, Repeat
from .outgoing import mail_of
from .schedule import next_occurrence

log = logging.getLogger("preau.scheduler")

CLAIM = 20
#: a second « Envoyer un essai à moi-même » within this time is the same click
TRIAL_GAP = timedelta(seconds=10)


def author_sends() -> sa.ColumnElement[bool]:
    """SQL over Communication: its author may still write (the account exists and is not
    suspended: a suspended sender may write to nobody, directory/rights.py). Its own alias
    of the account, so that a query joining the author as well correlates only the
    communication."""
    author = aliased(Account)
    return exists().where(author.id == Communication.author_id, author.suspended.is_(False))


def _at(now, author) -> sa.Select:
    return (select(Communication)
            .where(Communication.next_run_at.isnot(None), Communication.next_run_at <= now,
                   Communication.active.is_(True), Communication.draft.is_(False), author)
            .order_by(Communication.next_run_at, Communication.id))


def due(now: datetime):
    return _at(now, author_sends())


def passed_over(now: datetime):
    """Recurring communications whose occurrence came while their author could not send:
    the occurrence is let go (`_let_go`), so that what happened meanwhile does not trigger
    them once the author is back — as a takeover starts them afresh (communications.update).
    A one-time message waits (its author back, or taken over, it is sent)."""
    return _at(now, and_(~author_sends(), Communication.repeat != Repeat.ONCE))


@lru_cache(maxsize=1)
def _any_due():
    """Whether anything is due or passed over (`v_now`), built once: the worker asks at every
    round."""
    now = bindparam("v_now", type_=Communication.next_run_at.type)
    return select(exists(_at(now, or_(author_sends(), Communication.repeat != Repeat.ONCE))))


def run_due(now: datetime | None = None) -> int:
    """Run what is due and commit. Returns how many communications ran."""
    now = now or utcnow()
    if not db.session.scalar(_any_due(), {"v_now": now}):
        db.session.commit()         # nothing due: no write lock taken, every idle second
        return 0
    db.session.commit()
    write_lock()
    claimed = list(db.session.scalars(due(now).limit(CLAIM).with_for_update(skip_locked=True)))
    ran = 0
    for communication in claimed:   # each on its own: one that fails holds up no other
        try:
            with db.session.begin_nested():
                run(communication, now)
            ran += 1
        except IntegrityError:      # this occurrence has run already (a one-time
            communication.next_run_at = next_occurrence(communication, now)  # reactivated)
        except DBAPIError as error:
            if connection_lost(error):  # the session cannot go on: the round is tried again
                raise                   # (the worker's step rolls back)
            if fails_again(error):
                # the database refused this communication's statements (its savepoint is
                # undone): run again, it would fail again, first of every round
                log.exception("communication %s could not run", communication.id)
                _failed(communication, now)
            else:   # a passing trouble (a full disk, a cancelled query, a deadlock): the
                    # others of this round go on, and this one is tried again a little later,
                    # behind them — were it to recur, it would hold up nobody
                log.warning("communication %s tried again in %s: %s", communication.id,
                            TRIED_AGAIN_AFTER, error.orig)
                communication.next_run_at = now + TRIED_AGAIN_AFTER
        except SQLAlchemyError:     # the session's trouble, not the communication's
            raise
        except Exception:
            log.exception("communication %s could not run", communication.id)
            _failed(communication, now)
    for communication in db.session.scalars(
            passed_over(now).limit(CLAIM).with_for_update(skip_locked=True)):
        _let_go(communication, now)
    db.session.commit()
    return ran


#: SQLSTATE classes of a server's passing trouble: 08 the connection, 40 a rollback (deadlock,
#: serialization failure), 53 its resources (disk full, out of memory, too many
#: connections), 55 an object's state (a lock not available under lock_timeout), 57 an
#: operator's intervention (pg_cancel_backend, a shutdown)
PASSING = frozenset({"08", "40", "53", "55", "57"})
#: SQLSTATE class 54: a limit of the server the statement is past (too many arguments, a
#: statement too complex) — as it is again at the next round
PAST_A_LIMIT = "54"
#: SQLite's primary result codes for a statement it cannot run as written: SQLITE_ERROR (its
#: SQL: no such table or column, too many SQL variables), SQLITE_TOOBIG, SQLITE_MISMATCH,
#: SQLITE_RANGE
SQLITE_REFUSED = frozenset({1, 18, 20, 25})
#: the drivers' words for a statement with too many bind parameters: SQLite's, and libpq's
#: (psycopg, which checks the 65,535 before sending, with no SQLSTATE)
TOO_MANY_PARAMETERS = ("too many sql variables", "number of parameters must be between")


#: After the database's passing trouble, a communication is tried again this much later (its
#: occurrence, never run, is then that time: `run` reads it from next_run_at).
TRIED_AGAIN_AFTER = timedelta(minutes=5)
#: SQLSTATEs of a server ending the connection (57P01 an administrator's shutdown, 57P02 a
#: crash, 57P03 not accepting connections yet)
ENDED_CONNECTION = frozenset({"57P01", "57P02", "57P03"})


def connection_lost(error: DBAPIError) -> bool:
    """The session's connection is gone, SQLite's database is held by another writer, or
    SQLite undid the whole transaction (a full disk: its savepoint is gone): no other
    communication can run in this round."""
    state = getattr(error.orig, "sqlstate", None) or ""
    return error.connection_invalidated or state[:2] == "08" or state in ENDED_CONNECTION \
        or is_lock_conflict(error) or "no such savepoint" in str(error.orig)


def fails_again(error: DBAPIError) -> bool:
    """Whether the database refused the communication's own statements, so that the same run
    would fail the same way at the next round: a ProgrammingError, a DataError, a feature
    not supported (an IntegrityError is the occurrence already run: `run_due`), a server's
    limit (SQLSTATE class 54), SQLite refusing its SQL, too many bind parameters. Anything
    else is the database's passing trouble — a deadlock or a lock, a serialization failure,
    a full disk, a cancelled query (`PASSING`), or what is not known to recur: the
    communication is kept, tried again later (`run_due`; a lost connection, told apart first
    by `connection_lost`, fails the round)."""
    if error.connection_invalidated or is_deadlock(error) or is_lock_conflict(error):
        return False
    state = getattr(error.orig, "sqlstate", None) or ""
    if state[:2] in PASSING:
        return False
    if isinstance(error, (ProgrammingError, DataError, NotSupportedError)) \
            or state[:2] == PAST_A_LIMIT:
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in SQLITE_REFUSED:
        return True
    said = str(error.orig).lower()
    return any(words in said for words in TOO_MANY_PARAMETERS)


def _let_go(communication: Communication, now: datetime) -> None:
    """An occurrence its author could not send (suspended): nothing sent, and its window
    starts again now."""
    communication.next_run_at = next_occurrence(communication, now)
    communication.window_start = now


def _failed(communication: Communication, now: datetime) -> None:
    """After an occurrence that raised: a recurring communication moves on to its next one;
    a one-time one, which has none, goes back where its author sees it — a message to the
    drafts marked failed (`active` False, which a message otherwise never is), an automated
    one deactivated, to be reactivated."""
    if communication.repeat != Repeat.ONCE:
        communication.next_run_at = next_occurrence(communication, now)
        return
    communication.draft = communication.kind == Kind.MESSAGE
    communication.active = False
    communication.next_run_at = None


def run(communication: Communication, now: datetime) -> CommunicationRun:
    """One occurrence: its fan-out, and the next one planned."""
    occurrence = communication.next_run_at or now
    window_start = communication.window_start
    communication.next_run_at = next_occurrence(communication, now)
    communication.window_start = now
    chosen = recipients(communication.chosen, now, communication.rule, window_start)
    return _send(communication, occurrence, chosen, now, trial=False)


class TrialTo(enum.StrEnum):
    """Where « Envoyer un essai à moi-même » reaches its author."""
    INBOX = "inbox"             # her Préau messagerie
    REDIRECT = "redirect"       # her verified redirect address
    NOWHERE = "nowhere"         # neither: routing refuses it (NO_REDIRECT), and nobody is told


def trial_destination(author: Account) -> TrialTo:
    """Where a trial would reach `author`, as routing decides it (mailgate/routing.py):
    someone without a messagerie gets it at her verified redirect address, or not at all."""
    if has_inbox(author):
        return TrialTo.INBOX
    return TrialTo.REDIRECT if author.verified_redirect else TrialTo.NOWHERE


def send_trial(communication: Communication, author: Account,
               now: datetime | None = None) -> CommunicationRun:
    """"Envoyer un essai à moi-même": the message, with the author's own merge fields, to
    the author alone, now — or the trial of the same author that left less than TRIAL_GAP
    ago (a double click), the communication's row locked meanwhile so that two requests take
    turns. The caller commits."""
    now = now or utcnow()
    write_lock()                    # SQLite; PostgreSQL locks the row
    db.session.execute(select(Communication.id).where(Communication.id == communication.id)
                       .with_for_update())
    recent = db.session.scalar(
        select(CommunicationRun)
        .join(FanoutJob, FanoutJob.id == CommunicationRun.job_id)
        .where(CommunicationRun.communication_id == communication.id,
               CommunicationRun.trial.is_(True), CommunicationRun.ran_at > now - TRIAL_GAP,
               FanoutJob.author_id == author.id)
        .order_by(CommunicationRun.ran_at.desc()).limit(1))
    if recent is not None:
        return recent
    return _send(communication, now, select(Account.id).where(Account.id == author.id), now,
                 trial=True, author=author)


def _send(communication: Communication, occurrence: datetime, chosen, now: datetime, *,
          trial: bool, author: Account | None = None) -> CommunicationRun:
    done = CommunicationRun(communication_id=communication.id, occurrence=occurrence,
                            ran_at=now, trial=trial)
    db.session.add(done)
    db.session.flush()
    author = author or (db.session.get(Account, communication.author_id)
                        if communication.author_id else None)
    if author is None:
        return done                 # nobody to write as: the occurrence is recorded, empty
    if not trial and communication.repeat != Repeat.ONCE:
        ids = chosen.subquery()
        if not db.session.scalar(select(exists().where(ids.c[0] != author.id))):
            return done             # nobody in the window: nothing stored, nothing listed
    # The occurrence is sent once by the unique run above, in this transaction; the job's key
    # must only never meet an older job of the author's: on SQLite the ids of runs (and of
    # communications) deleted with their group are given again.
    job = fanout.submit(author, mail_of(communication, author), chosen,
                        origin=communication.origin,
                        idempotency_key=f"{'trial' if trial else 'run'}-{uuid.uuid4().hex}",
                        audience=communication.audience_label, include_author=trial)
    done.job_id = job.id
    return done
